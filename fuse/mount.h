/* The FUSE front-end: a RedoxFS served through libfuse3's low-level API. */
#ifndef RX_MOUNT_H
#define RX_MOUNT_H

#include "image.h"

struct mount_opts {
	int read_only;
	int foreground;
	int allow_other;
	int default_permissions;
	int no_writeback_cache;	/* send every write to the server at once */
	unsigned commit_ms;	/* group commits at most this long */
	const char *pid_file;
	int ready_fd;		/* write "OK\n" or the error here once mounted; -1: none */
	const char *password;	/* for an encrypted filesystem, asked before going to the background */
};

/*
 * Mount the filesystem of img on mountpoint and serve it until unmounted or
 * signalled; every change is committed before this returns. Returns 0, or
 * -errno with the reason in img->ctx (also written to ready_fd if not yet ready).
 */
int rx_mount_serve(struct rx_image *img, const char *mountpoint, const struct mount_opts *o);

#endif
