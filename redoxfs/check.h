/* Read-only verification of a RedoxFS (the checks of spec section 15 a reader can make). */
#ifndef RX_CHECK_H
#define RX_CHECK_H

#include "rfs.h"

enum { CHECK_ERROR, CHECK_WARNING };

struct rfs_check {
	/* Called for every problem; where is a path, "node N" or a structure name. */
	void (*problem)(void *arg, int severity, const char *where, const char *what);
	void *arg;
	/* Optional: called as blocks are verified, with their count (progress). */
	void (*blocks_done)(void *arg, uint64_t blocks);
	uint64_t errors, warnings;
	uint64_t nodes, dirs, files, symlinks, records, compressed, used_blocks, free_blocks,
		leaked_blocks, stale_blocks, data_bytes;
};

/* Returns 0 when the walk finished (problems are counted), -errno if it could not start. */
int rfs_check(struct rfs *fs, struct rfs_check *c);

#endif
