#include "dev.h"
#include "qcow2.h"
#include "lock.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw_dev {
	struct rx_dev dev;
};

struct slice_dev {
	struct rx_dev dev;
	struct rx_dev *parent;
	uint64_t off;
};

static int raw_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pread(dev->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return rx_fail(dev->ctx, errno, "read at byte %llu: %s",
				       (unsigned long long)off, strerror(errno));
		}
		if (n == 0)
			return rx_fail(dev->ctx, EIO, "unexpected end of file at byte %llu", (unsigned long long)off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Crash testing: RXIMG_CRASH_AFTER=k makes the k-th write to any image land
 * only half (a torn write) and then ends the process at once, as kill -9 or a
 * power cut would. Read once; never set outside tests.
 */
static void crash_point(int fd, const void *buf, size_t len, uint64_t off)
{
	static long left = -1;
	if (left == -1) {
		const char *e = getenv("RXIMG_CRASH_AFTER");
		left = e ? atol(e) : 0;
	}
	if (left <= 0 || --left > 0)
		return;
	if (pwrite(fd, buf, len / 2, (off_t)off) < 0)
		_exit(98);
	_exit(99);
}

static int raw_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	crash_point(dev->fd, buf, len, off);
	while (len > 0) {
		ssize_t n = pwrite(dev->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return rx_fail(dev->ctx, errno, "write at byte %llu: %s",
				       (unsigned long long)off, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int raw_flush(struct rx_dev *dev)
{
	if (!dev->no_sync && rx_sync_fd(dev->fd) < 0)
		return rx_fail(dev->ctx, errno, "fsync: %s", strerror(errno));
	return 0;
}

static void raw_close(struct rx_dev *dev)
{
	rx_lock_release(dev->fd);	/* a locked file forgets its locks with its descriptor */
	rx_close_file(dev->fd);
}

static void raw_advise(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	rx_advise_willneed(dev->fd, off, len);
}

static const struct rx_dev_ops raw_ops = { raw_pread, raw_pwrite, raw_flush, raw_close, raw_advise };

static int raw_open(struct rx_ctx *ctx, const char *path, int mode, struct rx_dev **out, struct stat *stp)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO named by a (hostile) backing file name must not hang the open. */
	int fd = open(path, ((mode & RX_DEV_RDWR) ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return rx_fail(ctx, errno, "%s", strerror(errno));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (fstat(fd, &st) < 0) {
		int e = errno;
		rx_close_file(fd);
		return rx_fail(ctx, e, "%s", strerror(e));
	}
	uint64_t size;
	const char *kind;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		kind = "file";
	} else if (rx_is_disk(&st)) {
		kind = "block device";
		if (rx_disk_size(fd, &size) < 0) {
			int e = errno;
			rx_close_file(fd);
			return rx_fail(ctx, e, "cannot get device size: %s", strerror(e));
		}
	} else {
		rx_close_file(fd);
		return rx_fail(ctx, EINVAL, "not a regular file or block device");
	}
	struct raw_dev *r = rx_xcalloc(1, sizeof(*r));
	r->dev.ops = &raw_ops;
	r->dev.ctx = ctx;
	r->dev.name = rx_xstrdup(path);
	r->dev.size = size;
	r->dev.writable = (mode & RX_DEV_RDWR) != 0;
	r->dev.fd = fd;
	r->dev.kind = kind;
	*stp = st;
	*out = &r->dev;
	return rx_fault_wrap(ctx, out);
}

int rx_dev_open_chain(struct rx_ctx *ctx, const char *path, int mode, const char *fmt,
		      const struct rx_chain *chain, struct rx_dev **out)
{
	struct rx_dev *raw = NULL;
	struct stat st = { 0 };
	int depth = chain ? chain->depth + 1 : 0;
	if (depth > 16)
		return rx_fail(ctx, ELOOP, "backing chain deeper than 16 files");
	int r = raw_open(ctx, path, mode, &raw, &st);
	if (r)
		return r;
	for (const struct rx_chain *c = chain; c; c = c->up)
		if (c->dev == st.st_dev && c->ino == st.st_ino) {
			rx_dev_close(raw);
			return rx_fail(ctx, ELOOP, "backing chain loop: %s is already in the chain", path);
		}
	uint8_t magic[4];
	/* A failed read must not make a qcow2 image look raw. */
	if (raw->size >= 4 && (r = raw->ops->pread(raw, magic, 4, 0)) != 0) {
		rx_dev_close(raw);
		return r;
	}
	int is_qcow2 = raw->size >= 4 && get_be32(magic) == QCOW2_MAGIC;
	if (fmt && !strcmp(fmt, "qcow2") && !is_qcow2) {
		rx_dev_close(raw);
		return rx_fail(ctx, EINVAL, "not a qcow2 image (no qcow2 magic)");
	}
	/* A backing file declared raw is raw, whatever its first bytes say (as in QEMU). */
	if (!is_qcow2 || (fmt && !strcmp(fmt, "raw"))) {
		rx_clear(ctx);
		*out = raw;
		return 0;
	}
	struct rx_chain link = { st.st_dev, st.st_ino, depth, chain };
	return rx_qcow2_open(raw, mode, &link, out);
}

int rx_dev_open_file(struct rx_ctx *ctx, const char *path, int mode, struct rx_dev **out)
{
	return rx_dev_open_chain(ctx, path, mode, NULL, NULL, out);
}

int rx_dev_check_format(const struct rx_dev *dev, const char *fmt)
{
	int qcow = rx_qcow2_is(dev);
	if (!fmt || !strcmp(fmt, qcow ? "qcow2" : "raw"))
		return 0;
	if (qcow)
		return rx_fail(dev->ctx, EINVAL, "is a qcow2 image, not %s as the format option says", fmt);
	return rx_fail(dev->ctx, EINVAL, "is a raw image (no qcow2 magic), not %s as the format option says", fmt);
}

int rx_dev_lock_fd(const struct rx_dev *dev)
{
	const struct rx_dev *f = rx_qcow2_file(dev);
	return dev->fd >= 0 ? dev->fd : f ? f->fd : -1;
}

int rx_dev_lock(struct rx_ctx *ctx, struct rx_dev *dev, int mode)
{
	int fd = rx_dev_lock_fd(dev);
	int r = fd < 0 ? 0 : (mode & RX_DEV_RDWR) ? rx_lock_image(ctx, fd) : rx_lock_image_shared(ctx, fd);
	/* QEMU keeps others from writing a backing file as long as it reads through it; so does rximg. */
	for (const struct rx_dev *b = rx_qcow2_backing(dev); r == 0 && b; b = rx_qcow2_backing(b))
		if ((fd = rx_dev_lock_fd(b)) >= 0 && (r = rx_lock_image_shared(ctx, fd)) != 0)
			rx_prefix(ctx, "backing file %s", b->name);
	return r;
}

static int slice_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct slice_dev *s = (struct slice_dev *)dev;
	return rx_dev_read(s->parent, buf, len, s->off + off);
}

static int slice_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct slice_dev *s = (struct slice_dev *)dev;
	return rx_dev_write(s->parent, buf, len, s->off + off);
}

static int slice_flush(struct rx_dev *dev)
{
	return rx_dev_flush(((struct slice_dev *)dev)->parent);
}

static void slice_close(struct rx_dev *dev)
{
	(void)dev;
}

static void slice_advise(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	struct slice_dev *s = (struct slice_dev *)dev;
	rx_dev_advise(s->parent, s->off + off, len);
}

static const struct rx_dev_ops slice_ops = { slice_pread, slice_pwrite, slice_flush, slice_close,
					     slice_advise };

int rx_dev_open_slice(struct rx_dev *parent, uint64_t off, uint64_t len, const char *name,
		      struct rx_dev **out)
{
	if (off > parent->size || len > parent->size - off)
		return rx_fail(parent->ctx, EINVAL,
			       "range %llu+%llu lies beyond the end of the image (%llu bytes)", (unsigned long long)off, (unsigned long long)len,
			       (unsigned long long)parent->size);
	struct slice_dev *s = rx_xcalloc(1, sizeof(*s));
	s->dev.ops = &slice_ops;
	s->dev.ctx = parent->ctx;
	s->dev.name = rx_xstrdup(name);
	s->dev.size = len;
	s->dev.writable = parent->writable;
	s->dev.fd = -1;
	s->dev.kind = "partition";
	s->parent = parent;
	s->off = off;
	*out = &s->dev;
	return 0;
}

static int check_range(struct rx_dev *dev, size_t len, uint64_t off)
{
	if (off > dev->size || len > dev->size - off)
		return rx_fail(dev->ctx, EIO,
			       "truncated: needs bytes %llu..%llu but has only %llu", (unsigned long long)off,
			       (unsigned long long)(off + len), (unsigned long long)dev->size);
	return 0;
}

int rx_dev_read(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	int r = check_range(dev, len, off);
	return r ? r : dev->ops->pread(dev, buf, len, off);
}

int rx_dev_write(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	if (!dev->writable)
		return rx_fail(dev->ctx, EROFS, "opened read-only");
	int r = check_range(dev, len, off);
	return r ? r : dev->ops->pwrite(dev, buf, len, off);
}

int rx_dev_flush(struct rx_dev *dev)
{
	return dev->writable ? dev->ops->flush(dev) : 0;
}

void rx_dev_advise(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	if (!dev->ops->advise || off >= dev->size)
		return;
	dev->ops->advise(dev, off, RX_MIN(len, dev->size - off));
}

void rx_dev_close(struct rx_dev *dev)
{
	if (!dev)
		return;
	dev->ops->close(dev);
	free(dev->name);
	free(dev);
}
