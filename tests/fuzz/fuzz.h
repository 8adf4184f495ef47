/*
 * Shared by the libFuzzer targets (tests/fuzz/README.md).
 *
 * Disk images are mostly zeros, which mutations would waste their time on, so
 * most targets read their input as a sparse image: a 32-bit little-endian
 * device size, then records of { le32 byte offset, le16 length, bytes }.
 * Whatever no record covers reads as zeros; records past the size are cut.
 * tests/fuzz/seeds.sh writes seeds in this form (tools/sparse.py).
 */
#ifndef RX_FUZZ_H
#define RX_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "rfs.h"

#define FUZZ_MAX_IMAGE (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The image the input describes as a read-only device reading the records where they lie in data (which must outlive it). */
struct rx_dev *fuzz_sparse_dev(struct rx_ctx *ctx, const uint8_t *data, size_t n);
/*
 * A writable device over base (taken over): writes are kept in memory as a
 * list and read back over base, so that a write pass costs what it writes,
 * not a copy of the image. Writes may reach up to room bytes (a growing qcow2).
 */
struct rx_dev *fuzz_cow_dev(struct rx_dev *base, uint64_t room);

/*
 * What extract and check do with a filesystem: the full check, then every
 * directory listed, every file read, every symlink read and resolved (bounded:
 * loops in a hostile tree must not make the walk endless).
 */
void fuzz_rfs_exercise(struct rfs *fs);

#endif
