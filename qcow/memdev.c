/* A device over a caller's buffer (see memdev.h). */
#include <stdlib.h>

#include "memdev.h"

struct mem_dev {
	struct rx_dev dev;
	uint8_t *buf;
	uint64_t cap;
};

/* Layers above call the ops directly (qcow2 does), so the ranges are checked here too. */
static int mem_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	if (off > dev->size || len > dev->size - off)
		return rx_fail(dev->ctx, EIO, "unexpected end of file at byte %llu", (unsigned long long)dev->size);
	memcpy(buf, ((struct mem_dev *)dev)->buf + off, len);
	return 0;
}

static int mem_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct mem_dev *m = (struct mem_dev *)dev;
	if (off > m->cap || len > m->cap - off)
		return rx_fail(dev->ctx, ENOSPC, "write at byte %llu: %s", (unsigned long long)off, strerror(ENOSPC));
	memcpy(m->buf + off, buf, len);
	return 0;
}

static int mem_flush(struct rx_dev *dev)
{
	(void)dev;
	return 0;
}

static void mem_close(struct rx_dev *dev)
{
	(void)dev;
}

static const struct rx_dev_ops mem_ops = { mem_pread, mem_pwrite, mem_flush, mem_close, NULL };

int rx_dev_open_mem(struct rx_ctx *ctx, void *buf, uint64_t len, uint64_t cap, int mode,
		    const char *name, struct rx_dev **out)
{
	if (cap < len)
		cap = len;
	if (cap > SIZE_MAX)
		return rx_fail(ctx, EFBIG, "%llu bytes do not fit in memory", (unsigned long long)len);
	struct mem_dev *m = rx_xcalloc(1, sizeof(*m));
	m->dev.ops = &mem_ops;
	m->dev.ctx = ctx;
	m->dev.name = rx_xstrdup(name);
	m->dev.size = len;
	m->dev.writable = (mode & RX_DEV_RDWR) != 0;
	m->dev.fd = -1;
	m->dev.kind = "memory";
	m->buf = buf;
	m->cap = cap;
	*out = &m->dev;
	return 0;
}
