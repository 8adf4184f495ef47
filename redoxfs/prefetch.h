/*
 * Read-ahead for readers that visit everything (check, extract, manifest,
 * ls -R): the blocks they will need next are gathered, sorted by address,
 * merged into runs and handed to the device as hints, so that a cold image is
 * read in large ascending requests, many in flight, instead of one 4 KiB
 * block at a time in tree order. Hints only: nothing is read here that a
 * later read trusts; every read still verifies its checksum. Each batch is
 * bounded by its caller, so memory (and the page cache a batch needs) is too.
 */
#ifndef RX_PREFETCH_H
#define RX_PREFETCH_H

#include "rfs.h"

/* What one batch may ask for: enough to keep the disk busy, little enough to stay cached. */
#define RFS_PREFETCH_BYTES (32u << 20)

struct rfs_prefetch_run {
	uint64_t index, count;	/* fs blocks */
};

struct rfs_prefetch {
	struct rfs *fs;
	struct rfs_prefetch_run *v;
	size_t n, cap;
	uint64_t blocks;	/* gathered since the last issue */
};

void rfs_prefetch_init(struct rfs_prefetch *p, struct rfs *fs);
void rfs_prefetch_free(struct rfs_prefetch *p);
/* Gather the blocks ptr names; null and out-of-range pointers are left out (the read reports them). */
void rfs_prefetch_add(struct rfs_prefetch *p, struct rfs_ptr ptr);
/* Gather the node block of node id (found through the node tree; nothing when it is not there). */
void rfs_prefetch_add_node(struct rfs_prefetch *p, uint32_t id);
/*
 * Gather what reading a node's contents starts with: a file's direct records
 * below its size and its first index blocks, a directory's h-tree root.
 */
void rfs_prefetch_add_contents(struct rfs_prefetch *p, const struct rfs_node *n);
/* Hand the gathered blocks to the device in address order, as merged runs; start afresh. */
void rfs_prefetch_issue(struct rfs_prefetch *p);

#endif
