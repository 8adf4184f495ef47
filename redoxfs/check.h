/* Read-only verification of a RedoxFS (the checks of spec section 15 a reader can make). */
#ifndef RX_CHECK_H
#define RX_CHECK_H

#include "rfs.h"
#include "wr.h"

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

/*
 * Repair (like e2fsck -y): entries whose node cannot be read are dropped,
 * unreadable records become holes (read as zeros), directories are rebuilt
 * from what can be read, nodes no directory names are reconnected under
 * /lost+found, link counts are fixed, and the allocation log is rebuilt from
 * the blocks in use. Everything lands as one transaction.
 */
struct rfs_repair {
	/* Called for every change, in order, once the commit has succeeded. */
	void (*repaired)(void *arg, const char *where, const char *what);
	void *arg;
	struct rfs_time now;	/* times of a /lost+found made by the repair */
	uint64_t changes;
	/* Set when repair cannot make progress (nothing was written): why. */
	int gave_up;
	char reason[512];
};

/* 0 when repaired or nothing needed repair; -errno on an operational failure. */
int rfs_repair(struct rfs *fs, struct rfs_repair *rep);

#endif
