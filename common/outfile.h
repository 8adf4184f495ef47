/*
 * A whole file written under NAME.partial and renamed over NAME when complete:
 * NAME is never seen half-written, not even after kill -9.
 *
 * Only a file that replaces an existing one is flushed to disk before the
 * rename (and its folder after): a power loss must not cost the old file. A new
 * file is left to the kernel's writeback, as cp, tar and qemu-img leave theirs;
 * there was nothing to lose.
 */
#ifndef RX_OUTFILE_H
#define RX_OUTFILE_H

#include <sys/types.h>

#include "rx.h"

struct rx_outfile {
	char *path;	/* the final name: where a symlink given as NAME points */
	char *partial;
	int replaces;	/* NAME exists: flush before the rename */
};

/* Name the partial file and remove one left by an interrupted run. */
void rx_outfile_init(struct rx_outfile *of, const char *name);
/* Create the partial file (O_EXCL, not following links); returns its descriptor or -errno. */
int rx_outfile_create(struct rx_ctx *ctx, struct rx_outfile *of, int flags, mode_t mode);
/*
 * Complete it: flush fd when replacing (fd may be -1 when the caller flushed
 * the file itself), close fd, rename over the final name.
 */
int rx_outfile_commit(struct rx_ctx *ctx, struct rx_outfile *of, int fd);
/* Give up: close fd (if >= 0) and remove the partial file. */
void rx_outfile_abort(struct rx_outfile *of, int fd);
void rx_outfile_free(struct rx_outfile *of);
/* The usual ending: commit if r is 0, else abort; then free. Returns the outcome. */
int rx_outfile_finish(struct rx_ctx *ctx, struct rx_outfile *of, int fd, int r);

#endif
