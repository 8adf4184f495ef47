/*
 * The one block-device seam: every container (raw file, block device,
 * partition slice, qcow2 image) is read and written at byte offsets through
 * this small vtable, so the layers above never care what holds the bytes.
 */
#ifndef RX_DEV_H
#define RX_DEV_H

#include <stdint.h>
#include <stddef.h>

#include "rx.h"

struct rx_dev;

struct rx_dev_ops {
	int (*pread)(struct rx_dev *dev, void *buf, size_t len, uint64_t off);
	int (*pwrite)(struct rx_dev *dev, const void *buf, size_t len, uint64_t off);
	int (*flush)(struct rx_dev *dev);
	void (*close)(struct rx_dev *dev);
	/* Optional (NULL: no hints): [off, off+len) will be read soon; start reading it. */
	void (*advise)(struct rx_dev *dev, uint64_t off, uint64_t len);
};

struct rx_dev {
	const struct rx_dev_ops *ops;
	struct rx_ctx *ctx;	/* where failures are described */
	char *name;		/* shown in messages: file name, "disk.img:p3" */
	uint64_t size;		/* bytes */
	int writable;
	int fd;			/* backing descriptor when there is one, else -1 */
	const char *kind;	/* "file", "block device", "partition" ... */
	int no_sync;		/* a new file nobody reads yet: flushes need not wait for the disk */
};

enum { RX_DEV_RDONLY = 0, RX_DEV_RDWR = 1 };
/*
 * Added to a mode: a qcow2 image's backing file is named but not opened, so
 * the header can be read and rewritten even when the backing file is gone;
 * what the image does not hold reads as zeros.
 */
enum { RX_DEV_NO_BACKING = 2 };

/* A raw file or block device, or a qcow2 image (found by its magic) with its backing chain. */
int rx_dev_open_file(struct rx_ctx *ctx, const char *path, int mode, struct rx_dev **out);
/* fmt ("raw" or "qcow2", NULL: any) is what dev really is, or a message saying what it is. */
int rx_dev_check_format(const struct rx_dev *dev, const char *fmt);
/* The host file to lock for writing: the file itself, or the top file of a qcow2; -1 if none. */
int rx_dev_lock_fd(const struct rx_dev *dev);
/*
 * Lock dev's files against other users for as long as dev is open (closing
 * it lets go): with mode RX_DEV_RDWR, the host file it writes as a writer
 * (rx_lock_image), else as a reader (rx_lock_image_shared); every file of its
 * backing chain as a reader, so that neither QEMU nor rximg writes it
 * meanwhile. The first refusal is the error, naming the backing file if it
 * is one.
 */
int rx_dev_lock(struct rx_ctx *ctx, struct rx_dev *dev, int mode);
/* A window [off, off+len) of parent; parent must outlive the slice. */
int rx_dev_open_slice(struct rx_dev *parent, uint64_t off, uint64_t len, const char *name,
		      struct rx_dev **out);

/*
 * Tests: when RXIMG_FAULT is set, put the fault-injection device (faultdev.c)
 * around a host file just opened; otherwise leave *dev as it is. On a bad
 * RXIMG_FAULT, *dev is closed and the error recorded.
 */
int rx_fault_wrap(struct rx_ctx *ctx, struct rx_dev **dev);

/* Whole-range reads: a short read (past the end) is an error naming the range. */
int rx_dev_read(struct rx_dev *dev, void *buf, size_t len, uint64_t off);
int rx_dev_write(struct rx_dev *dev, const void *buf, size_t len, uint64_t off);
int rx_dev_flush(struct rx_dev *dev);
void rx_dev_close(struct rx_dev *dev);
/*
 * A read-ahead hint: [off, off+len) will be read soon. Passed down to the host
 * file (through a qcow2 image's cluster map); never fails, never records a
 * message, reads nothing it has to trust.
 */
void rx_dev_advise(struct rx_dev *dev, uint64_t off, uint64_t len);

#endif
