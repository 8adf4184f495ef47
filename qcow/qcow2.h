/*
 * qcow2 (versions 2 and 3) as an rx_dev: the guest disk is read through the
 * L1/L2 tables and the backing chain, and written copy-on-write into the top
 * file only, with exact reference counts and an ordering that lets a crash
 * leak clusters at worst. rx_dev_open_file() returns one of these when the
 * file starts with the qcow2 magic, so nothing above the seam changes.
 */
#ifndef RX_QCOW2_H
#define RX_QCOW2_H

#include <stdint.h>
#include <sys/types.h>

#include "dev.h"

#define QCOW2_MAGIC 0x514649fbu	/* "QFI\xfb" */

struct rx_qcow2_info {
	int version;			/* 2 or 3 */
	unsigned cluster_bits;
	unsigned refcount_bits;
	uint64_t size;			/* virtual disk size */
	uint64_t file_size;		/* host file size when opened */
	uint64_t incompatible, compatible, autoclear;
	int extended_l2;		/* incompatible bit 4: 32 subclusters per cluster */
	int compression;		/* 0 zlib (deflate), 1 zstd */
	uint32_t nb_snapshots;
	char *backing_name;		/* as stored in the image, NULL when none */
	char *backing_path;		/* resolved against the image's folder */
	char backing_format[16];	/* "raw" or "qcow2" */
	int backing_format_probed;	/* no format extension: found by looking */
};

/* Files already in a backing chain (loops are refused). */
struct rx_chain {
	dev_t dev;
	ino_t ino;
	int depth;
	const struct rx_chain *up;
};

/*
 * Open path as fmt ("raw", "qcow2", or NULL to probe the magic); chain lists
 * the overlays above it. Backing files are always opened read-only.
 */
int rx_dev_open_chain(struct rx_ctx *ctx, const char *path, int mode, const char *fmt,
		      const struct rx_chain *chain, struct rx_dev **out);

/* Wrap an open host file (taking ownership of it, also on failure). */
int rx_qcow2_open(struct rx_dev *file, int mode, const struct rx_chain *chain, struct rx_dev **out);

int rx_qcow2_is(const struct rx_dev *dev);
/* NULL unless dev is a qcow2 device. */
const struct rx_qcow2_info *rx_qcow2_info(const struct rx_dev *dev);
struct rx_dev *rx_qcow2_backing(const struct rx_dev *dev);
struct rx_dev *rx_qcow2_file(const struct rx_dev *dev);

/*
 * Classify [off, off+*len) of the guest disk: on return *len is shortened to
 * a run that is all data (*zero = 0) or all known zeros (*zero = 1), looking
 * through the backing chain. Used to keep conversions sparse.
 */
int rx_qcow2_extent(struct rx_dev *dev, uint64_t off, uint64_t *len, int *zero);

/*
 * Is [off, off+*len) held by this file itself (data, zero or compressed
 * clusters: *held = 1) or left to the backing chain (*held = 0)? *len is
 * shortened to a run of one kind.
 */
int rx_qcow2_held(struct rx_dev *dev, uint64_t off, uint64_t *len, int *held);

/*
 * Where QEMU finds the backing file name of the image at path image: name
 * itself when absolute, else name in image's folder (made absolute with
 * absolute set, for messages). Allocated.
 */
char *rx_qcow2_backing_path(const char *image, const char *name, int absolute);

/*
 * Open the backing file dev names, as a device of its own (with mode, e.g.
 * RX_DEV_RDWR to commit into it), with its recorded format or the probed one.
 * A missing file is named with its resolved path.
 */
int rx_qcow2_open_backing(struct rx_dev *dev, int mode, struct rx_dev **out);

/*
 * Point the header at another backing file: name as stored (relative names
 * are relative to the image's folder) with fmt "raw" or "qcow2", or name NULL
 * for none. Pending writes are flushed first; the new name is written where
 * the old header keeps nothing and then the first sector switches over in one
 * write, so a crash leaves the old or the new header. The device keeps
 * reading through the backing file it was opened with.
 */
int rx_qcow2_set_backing(struct rx_dev *dev, const char *name, const char *fmt);

/*
 * Drop everything the image holds, so that it reads as its backing file
 * (after a commit): the L1 entries are cleared and made durable before the
 * clusters are freed, so a crash leaks clusters at worst; free clusters at
 * the end of the file are then truncated away.
 */
int rx_qcow2_make_empty(struct rx_dev *dev);

struct rx_qcow2_create_opts {
	uint64_t size;			/* virtual size */
	unsigned cluster_bits;		/* 0: 16 (64 KiB) */
	const char *backing;		/* name to store, or NULL */
	const char *backing_format;	/* "raw" or "qcow2" (required with backing) */
};

/*
 * Write a new, empty qcow2 v3 image into the open, empty file fd, laid out as
 * qemu-img create does: header, refcount table, one refcount block, L1 table.
 */
int rx_qcow2_create_fd(struct rx_ctx *ctx, int fd, const struct rx_qcow2_create_opts *o);

/*
 * Write a new overlay on base (raw or qcow2, opened to check its chain) into
 * the new file path. The backing name is stored absolute, or with relative
 * set, relative to the folder of final_path (the name path will be renamed
 * to). Its size and format are base's.
 */
int rx_qcow2_make_overlay(struct rx_ctx *ctx, const char *base, const char *path, const char *final_path,
			  int relative, unsigned cluster_bits);

/*
 * The same as qemu-img create -b NAME -F FMT: NAME is stored as given and, when
 * relative, found relative to the folder of final_path; the base must be of
 * format fmt (NULL: any).
 */
int rx_qcow2_make_overlay_named(struct rx_ctx *ctx, const char *name, const char *fmt, const char *path,
				const char *final_path, unsigned cluster_bits);

#endif
