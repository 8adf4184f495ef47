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

/* The image the input describes (calloc'd, *size bytes, at least 1 byte allocated). */
uint8_t *fuzz_sparse(const uint8_t *data, size_t n, uint64_t *size);
/*
 * The same image as a read-only device that reads the records where they lie
 * in data (which must outlive it): no big buffer to fill or fault in.
 */
struct rx_dev *fuzz_sparse_dev(struct rx_ctx *ctx, const uint8_t *data, size_t n);

/*
 * What extract and check do with a filesystem: the full check, then every
 * directory listed, every file read, every symlink read and resolved (bounded:
 * loops in a hostile tree must not make the walk endless).
 */
void fuzz_rfs_exercise(struct rfs *fs);

#endif
