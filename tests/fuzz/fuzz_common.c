/* Shared by the libFuzzer targets: the sparse input form and the RedoxFS walk. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fuzz.h"

struct sparse_dev {
	struct rx_dev dev;
	const uint8_t *data;
	size_t n;
};

static int sparse_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct sparse_dev *s = (struct sparse_dev *)dev;
	if (off > dev->size || len > dev->size - off)
		return rx_fail(dev->ctx, EIO, "unexpected end of file at byte %llu", (unsigned long long)dev->size);
	memset(buf, 0, len);
	/* Records in input order, later ones over earlier ones, as fuzz_sparse lays them. */
	for (size_t i = 4; i + 6 <= s->n;) {
		uint64_t roff = get_le32(s->data + i);
		size_t rlen = RX_MIN((size_t)get_le16(s->data + i + 4), s->n - i - 6);
		const uint8_t *rec = s->data + i + 6;
		i += 6 + rlen;
		uint64_t lo = RX_MAX(roff, off), hi = RX_MIN(roff + rlen, off + len);
		if (lo < hi)
			memcpy((uint8_t *)buf + (lo - off), rec + (lo - roff), (size_t)(hi - lo));
	}
	return 0;
}

static int sparse_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	(void)buf; (void)len; (void)off;
	return rx_fail(dev->ctx, EROFS, "read-only");
}

static int sparse_flush(struct rx_dev *dev)
{
	(void)dev;
	return 0;
}

static void sparse_close(struct rx_dev *dev)
{
	(void)dev;
}

static const struct rx_dev_ops sparse_ops = { sparse_pread, sparse_pwrite, sparse_flush, sparse_close, NULL };

struct rx_dev *fuzz_sparse_dev(struct rx_ctx *ctx, const uint8_t *data, size_t n)
{
	struct sparse_dev *s = rx_xcalloc(1, sizeof(*s));
	uint64_t vsize = n >= 4 ? get_le32(data) : 0;
	s->dev.ops = &sparse_ops;
	s->dev.ctx = ctx;
	s->dev.name = rx_xstrdup("fuzz.img");
	s->dev.size = RX_MIN(vsize, (uint64_t)FUZZ_MAX_IMAGE);
	s->dev.fd = -1;
	s->dev.kind = "memory";
	s->data = data;
	s->n = n;
	return &s->dev;
}

struct cow_write {
	uint64_t off;
	size_t len;
	uint8_t *data;
};

struct cow_dev {
	struct rx_dev dev;
	struct rx_dev *base;
	uint64_t room;
	struct cow_write *w;
	size_t n, cap;
};

static int cow_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct cow_dev *c = (struct cow_dev *)dev;
	if (off > dev->size || len > dev->size - off)
		return rx_fail(dev->ctx, EIO, "unexpected end of file at byte %llu", (unsigned long long)dev->size);
	memset(buf, 0, len);
	if (off < c->base->size) {
		int r = rx_dev_read(c->base, buf, (size_t)RX_MIN((uint64_t)len, c->base->size - off), off);
		if (r)
			return r;
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct cow_write *w = &c->w[i];
		uint64_t lo = RX_MAX(w->off, off), hi = RX_MIN(w->off + w->len, off + len);
		if (lo < hi)
			memcpy((uint8_t *)buf + (lo - off), w->data + (lo - w->off), (size_t)(hi - lo));
	}
	return 0;
}

static int cow_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct cow_dev *c = (struct cow_dev *)dev;
	if (off > c->room || len > c->room - off || c->n >= 100000)
		return rx_fail(dev->ctx, ENOSPC, "write at byte %llu: %s", (unsigned long long)off, strerror(ENOSPC));
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->w = rx_xrealloc(c->w, c->cap * sizeof(*c->w));
	}
	c->w[c->n].off = off;
	c->w[c->n].len = len;
	c->w[c->n].data = rx_xmalloc(len ? len : 1);
	memcpy(c->w[c->n].data, buf, len);
	c->n++;
	return 0;
}

static void cow_close(struct rx_dev *dev)
{
	struct cow_dev *c = (struct cow_dev *)dev;
	for (size_t i = 0; i < c->n; i++)
		free(c->w[i].data);
	free(c->w);
	rx_dev_close(c->base);
}

static const struct rx_dev_ops cow_ops = { cow_pread, cow_pwrite, sparse_flush, cow_close, NULL };

struct rx_dev *fuzz_cow_dev(struct rx_dev *base, uint64_t room)
{
	struct cow_dev *c = rx_xcalloc(1, sizeof(*c));
	c->dev.ops = &cow_ops;
	c->dev.ctx = base->ctx;
	c->dev.name = rx_xstrdup(base->name);
	c->dev.size = base->size;
	c->dev.writable = 1;
	c->dev.fd = -1;
	c->dev.kind = base->kind;
	c->base = base;
	c->room = RX_MAX(room, base->size);
	return &c->dev;
}

static void no_problem(void *arg, int severity, const char *where, const char *what)
{
	(void)arg; (void)severity; (void)where; (void)what;
}

static int count_data(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	uint64_t *sum = arg;
	(void)off;
	for (size_t i = 0; i < len; i += 512)
		*sum += buf[i];	/* touch what was read, as a copy would */
	return 0;
}

struct walk {
	struct rfs *fs;
	unsigned budget;	/* nodes left to visit */
	uint64_t sum;
};

static void walk_dir(struct walk *w, const struct rfs_node *dir, const char *path, int depth)
{
	struct rfs_dirent *ents = NULL;
	size_t count = 0;
	if (depth > 32 || rfs_dir_list(w->fs, dir, &ents, &count) != 0)
		return;
	rfs_dirents_sort(w->fs, ents, count);
	for (size_t i = 0; i < count && w->budget > 0; i++, w->budget--) {
		struct rfs_node node;
		if (rfs_node_of_entry(w->fs, ents[i].id, &node) != 0)
			continue;
		char *sub = rx_path_join(path, ents[i].name, ents[i].len);
		if (rfs_is_dir(&node)) {
			walk_dir(w, &node, sub, depth + 1);
		} else if (rfs_is_symlink(&node)) {
			char *target = NULL;
			struct rfs_node res;
			if (rfs_readlink(w->fs, &node, &target) == 0)
				free(target);
			rfs_lookup(w->fs, sub, 1, &res);
		} else if (rfs_is_file(&node)) {
			rfs_read_stream(w->fs, &node, count_data, &w->sum);
			uint8_t head[64];
			rfs_read(w->fs, &node, node.size > 32 ? node.size - 32 : 0, head, sizeof(head));
		}
		free(sub);
	}
	free(ents);
}

void fuzz_rfs_exercise(struct rfs *fs)
{
	struct rfs_check c = { 0 };
	c.problem = no_problem;
	rfs_check(fs, &c);
	uint64_t nfree;
	rfs_free_blocks(fs, &nfree);
	struct walk w = { fs, 4096, 0 };
	struct rfs_node root;
	if (rfs_node_get(fs, RFS_ROOT_ID, &root) == 0 && rfs_is_dir(&root))
		walk_dir(&w, &root, "/", 0);
}
