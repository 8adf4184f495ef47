/*
 * Writing an initfs archive the way the reference archiver lays it out
 * (spec sections 4 and 4.1): header page, bootstrap at 4096, then every
 * allocation in depth-first order, an entry's content before its name,
 * inode numbers given in post-order. A first pass plans every offset (so the
 * size is known, and refused, before anything is written); the second writes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initfs.h"
#include "lock.h"

enum opkind { OP_BOOT, OP_TABLE, OP_DIR, OP_DATA, OP_LINK, OP_NAME };

struct op {
	uint32_t off, len;
	enum opkind kind;
	struct ifs_node *node;		/* DIR, DATA, LINK */
	const struct ifs_dirent *ent;	/* NAME */
	char *link;			/* LINK: the converted target */
};

struct plan {
	struct rx_ctx *ctx;
	const struct ifs_write_opts *o;
	uint32_t align, recsize;
	uint64_t cur, end;
	struct op *ops;
	size_t nops, cap;
	struct ifs_node **byino;
	uint32_t count, next_ino, ito;
	char *path;		/* directory being laid out, "a/b" (no leading '/') */
	size_t plen, pcap;
};

uint64_t ifs_needed(enum ifs_layout l, uint64_t size)
{
	return l >= IFS_V4 ? (size + IFS_PAGE - 1) / IFS_PAGE * IFS_PAGE : size;
}

static int alloc(struct plan *p, uint64_t len, enum opkind kind, uint32_t *off)
{
	uint64_t o = p->cur;
	if (len > IFS_MAX_BYTES || o + len > IFS_MAX_BYTES)
		return rx_fail(p->ctx, EFBIG, "the archive would reach 4 GiB (offsets are 32-bit)");
	*off = (uint32_t)o;
	if (len) {
		p->end = o + len;
		p->cur = (o + len + p->align - 1) / p->align * p->align;
	}
	if (p->nops == p->cap)
		p->ops = rx_xrealloc(p->ops, (p->cap = p->cap ? p->cap * 2 : 256) * sizeof(*p->ops));
	p->ops[p->nops++] = (struct op){ (uint32_t)o, (uint32_t)len, kind, NULL, NULL, NULL };
	return 0;
}

static struct op *last_op(struct plan *p)
{
	return &p->ops[p->nops - 1];
}

static void set_ino(struct plan *p, struct ifs_node *n)
{
	n->w_ino = p->next_ino++;
	p->byino[n->w_ino] = n;
}

struct frame {
	struct ifs_node *dir;
	size_t i, plen;
};

static void path_push(struct plan *p, const char *name, size_t len)
{
	if (p->plen + len + 2 > p->pcap)
		p->path = rx_xrealloc(p->path, p->pcap = (p->plen + len + 2) * 2);
	if (p->plen)
		p->path[p->plen++] = '/';
	memcpy(p->path + p->plen, name, len);
	p->plen += len;
	p->path[p->plen] = 0;
}

/* Content of a file or link entry, then its inode number, then its name. */
static int plan_leaf(struct plan *p, struct ifs_dirent *e)
{
	struct ifs_node *c = e->node;
	enum ifs_layout l = p->o->layout;
	int r;
	if (c->type == IFS_LINK) {
		char *t;
		size_t tlen;
		r = ifs_link_target(p->ctx, c, p->path, ifs_layout_link_form(l), &t, &tlen);
		if (r) {
			rx_prefix(p->ctx, "/%s%s%s (layout %s)", p->path, p->plen ? "/" : "", e->name,
				  ifs_layout_name(l));
			return r;
		}
		r = alloc(p, tlen, OP_LINK, &c->w_off);
		if (r) {
			free(t);
			return r;
		}
		last_op(p)->link = t;
		last_op(p)->node = c;
	} else {
		if (c->size >= IFS_MAX_BYTES)
			return rx_fail(p->ctx, EFBIG, "/%s%s%s: a file must be smaller than 4 GiB", p->path,
				       p->plen ? "/" : "", e->name);
		r = alloc(p, c->size, OP_DATA, &c->w_off);
		if (r)
			return r;
		last_op(p)->node = c;
	}
	set_ino(p, c);
	r = alloc(p, e->len, OP_NAME, &e->w_name);
	if (r == 0)
		last_op(p)->ent = e;
	return r;
}

static int plan_tree(struct plan *p, struct ifs_node *root)
{
	enum ifs_layout l = p->o->layout;
	int table_last = l == IFS_V6, r;
	uint64_t tlen = (uint64_t)p->count * p->recsize;
	if (!table_last && (r = alloc(p, tlen, OP_TABLE, &p->ito)) != 0)
		return r;
	if ((r = alloc(p, (uint64_t)root->n * 8, OP_DIR, &root->w_off)) != 0)
		return r;
	last_op(p)->node = root;
	p->next_ino = table_last ? 0 : 1;
	if (!table_last) {
		root->w_ino = 0;
		p->byino[0] = root;
	}
	size_t depth = 0, cap = 64;
	struct frame *st = rx_xmalloc(cap * sizeof(*st));
	st[depth++] = (struct frame){ root, 0, 0 };
	while (depth && r == 0) {
		struct frame *f = &st[depth - 1];
		if (f->i == f->dir->n) {
			/* A directory is complete: now its number, then its name in the parent. */
			depth--;
			if (!depth)
				break;
			struct frame *pf = &st[depth - 1];
			struct ifs_dirent *e = &pf->dir->ents[pf->i];
			p->plen = pf->plen;
			p->path[p->plen] = 0;
			set_ino(p, e->node);
			r = alloc(p, e->len, OP_NAME, &e->w_name);
			if (r == 0)
				last_op(p)->ent = e;
			pf->i++;
			continue;
		}
		struct ifs_dirent *e = &f->dir->ents[f->i];
		struct ifs_node *c = e->node;
		if (c->type == IFS_DIR) {
			r = alloc(p, (uint64_t)c->n * 8, OP_DIR, &c->w_off);
			if (r)
				break;
			last_op(p)->node = c;
			path_push(p, e->name, e->len);
			if (depth == cap)
				st = rx_xrealloc(st, (cap *= 2) * sizeof(*st));
			st[depth++] = (struct frame){ c, 0, p->plen };
			continue;
		}
		r = plan_leaf(p, e);
		f->i++;
	}
	free(st);
	if (r)
		return r;
	if (table_last) {
		set_ino(p, root);
		if ((r = alloc(p, tlen, OP_TABLE, &p->ito)) != 0)
			return r;
	}
	return 0;
}

/* ---- output: a window of adjacent small writes becomes one pwrite ---- */

#define WCAP (1u << 20)

struct wout {
	struct rx_ctx *ctx;
	int fd;
	uint8_t *buf;
	uint64_t start;
	size_t len;
};

static int pwrite_all(struct wout *w, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(w->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return rx_fail(w->ctx, n < 0 ? errno : EIO, "write: %s", strerror(n < 0 ? errno : EIO));
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int wflush(struct wout *w)
{
	int r = w->len ? pwrite_all(w, w->buf, w->len, w->start) : 0;
	w->len = 0;
	return r;
}

/* Room for [off, off+len) in the window (len <= WCAP); the gap before it is zeroed. */
static int wreserve(struct wout *w, uint64_t off, size_t len, uint8_t **at)
{
	if (!w->len || off < w->start + w->len || off + len - w->start > WCAP) {
		int r = wflush(w);
		if (r)
			return r;
		w->start = off;
	}
	size_t from = (size_t)(off - w->start);
	memset(w->buf + w->len, 0, from - w->len);
	w->len = from + len;
	*at = w->buf + from;
	return 0;
}

static int wput(struct wout *w, uint64_t off, const void *data, size_t len)
{
	if (len > WCAP / 4) {
		int r = wflush(w);
		return r ? r : pwrite_all(w, data, len, off);
	}
	uint8_t *at;
	int r = wreserve(w, off, len, &at);
	if (r == 0)
		memcpy(at, data, len);
	return r;
}

static int read_exact(struct rx_ctx *ctx, int fd, uint8_t *buf, size_t len, uint64_t off,
		      const char *path)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(ctx, errno, "%s: %s", path, strerror(errno));
		if (n == 0)
			return rx_fail(ctx, EAGAIN, "%s: the file shrank while being archived", path);
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* A host file's contents: small ones through the window, big ones copied in the kernel. */
static int write_host(struct wout *w, const struct ifs_node *n, uint64_t off)
{
	int fd = open(n->host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return rx_fail(w->ctx, errno, "%s: %s", n->host, strerror(errno));
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) != 0)
		r = rx_fail(w->ctx, errno, "%s: %s", n->host, strerror(errno));
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != n->size)
		r = rx_fail(w->ctx, EAGAIN, "%s: the file changed while being archived", n->host);
	if (r == 0 && n->size <= WCAP / 4) {
		uint8_t *at;
		r = wreserve(w, off, (size_t)n->size, &at);
		if (r == 0)
			r = read_exact(w->ctx, fd, at, (size_t)n->size, 0, n->host);
	} else if (r == 0) {
		r = wflush(w);
		uint64_t in = 0, out = off, left = n->size;
		int64_t c = r == 0 ? rx_copy_range(fd, in, w->fd, out, left) : -1;
		if (c > 0) {
			in += (uint64_t)c;
			out += (uint64_t)c;
			left -= (uint64_t)c;
		}
		if (left) {	/* a failure or a file that shrank: the loop below says which */
			uint8_t *buf = rx_xmalloc(WCAP);
			while (r == 0 && left) {
				size_t chunk = (size_t)RX_MIN(left, (uint64_t)WCAP);
				r = read_exact(w->ctx, fd, buf, chunk, (uint64_t)in, n->host);
				if (r == 0)
					r = pwrite_all(w, buf, chunk, (uint64_t)out);
				in += chunk;
				out += chunk;
				left -= chunk;
			}
			free(buf);
		}
	}
	rx_close_file(fd);	/* it may be the image being written */
	return r;
}

/* Type, mode, owner and offset; the length is filled in by write_ops. */
static void encode_inode(const struct plan *p, const struct ifs_node *n, uint8_t *rec)
{
	if (p->recsize == 12) {
		uint32_t t = n->type == IFS_DIR ? 2 : n->type == IFS_LINK ? 3 : (n->mode & 0100) ? 1 : 0;
		put_le32(rec, t);
	} else {
		uint32_t t = n->type == IFS_DIR ? 1 : n->type == IFS_LINK ? 2 : 0;
		put_le32(rec, (t << 28) | (n->mode & 07777));
		put_le32(rec + 12, n->uid);
		put_le32(rec + 16, n->gid);
	}
	put_le32(rec + 8, n->w_off);
}

static int write_ops(struct plan *p, struct wout *w, uint8_t *table)
{
	int r = 0;
	uint8_t *dir = NULL;
	size_t dircap = 0;
	for (size_t i = 0; i < p->nops && r == 0; i++) {
		struct op *op = &p->ops[i];
		switch (op->kind) {
		case OP_BOOT:
			r = wput(w, op->off, p->o->boot, op->len);
			break;
		case OP_TABLE:
			break;	/* written last, when every length is known */
		case OP_DIR: {
			const struct ifs_node *d = op->node;
			if (op->len > dircap)
				dir = rx_xrealloc(dir, dircap = op->len);
			for (size_t k = 0; k < d->n; k++) {
				put_le16(dir + 8 * k, (uint16_t)d->ents[k].node->w_ino);
				put_le16(dir + 8 * k + 2, (uint16_t)d->ents[k].len);
				put_le32(dir + 8 * k + 4, d->ents[k].w_name);
			}
			put_le32(table + (uint64_t)d->w_ino * p->recsize + 4, op->len);
			r = op->len ? wput(w, op->off, dir, op->len) : 0;
			break;
		}
		case OP_DATA:
			put_le32(table + (uint64_t)op->node->w_ino * p->recsize + 4, op->len);
			if (!op->len)
				break;
			r = op->node->host ? write_host(w, op->node, op->off)
					   : wput(w, op->off, op->node->data, op->len);
			break;
		case OP_LINK:
			put_le32(table + (uint64_t)op->node->w_ino * p->recsize + 4, op->len);
			r = wput(w, op->off, op->link, op->len);
			break;
		case OP_NAME:
			r = wput(w, op->off, op->ent->name, op->len);
			break;
		}
	}
	free(dir);
	return r;
}

static void header(const struct plan *p, const struct ifs_node *root, uint8_t *h, size_t *hlen)
{
	enum ifs_layout l = p->o->layout;
	memset(h, 0, 64);
	memcpy(h, "RedoxFtw", 8);
	put_le32(h + 8, p->ito);
	put_le16(h + 0x18, (uint16_t)p->count);
	if (l == IFS_V6) {
		put_le64(h + 0x0C, p->end);
		put_le16(h + 0x14, IFS_PAGE);
		put_le16(h + 0x16, (uint16_t)root->w_ino);
		put_le64(h + 0x1A, p->o->entry);
		*hlen = 34;
		return;
	}
	put_le64(h + 0x0C, p->o->time_sec);
	put_le32(h + 0x14, p->o->time_nsec);
	*hlen = 26;
	if (l >= IFS_V3) {
		put_le64(h + 0x1A, p->o->entry);
		put_le64(h + 0x22, p->end);
		*hlen = 42;
	}
	if (l >= IFS_V4) {
		put_le16(h + 0x2A, IFS_PAGE);
		*hlen = 44;
	}
}

int ifs_write(struct rx_ctx *ctx, struct ifs_node *root, const struct ifs_write_opts *o, int fd,
	      uint64_t *size)
{
	enum ifs_layout l = o->layout;
	if (!ifs_layout_writable(l))
		return rx_fail(ctx, EINVAL, "layout %s cannot be written (rximg writes v1, v3, v4, v5b, v6)",
			       ifs_layout_name(l));
	if (o->boot && l == IFS_V1)
		return rx_fail(ctx, EINVAL, "layout v1 has no room for a bootstrap");
	if (!o->boot && l == IFS_V6)
		return rx_fail(ctx, EINVAL, "layout v6 requires a bootstrap");
	uint64_t count = ifs_tree_count(root);
	if (count > IFS_MAX_INODES)
		return rx_fail(ctx, EFBIG, "%llu files, directories and links: an initfs holds at most %u "
			       "(the root included)", (unsigned long long)count, IFS_MAX_INODES);
	struct plan p = { .ctx = ctx, .o = o, .count = (uint32_t)count };
	p.align = l >= IFS_V4 ? IFS_PAGE : 1;
	p.recsize = l >= IFS_V5B ? 12 : 20;
	p.cur = l == IFS_V1 ? 26 : IFS_PAGE;
	p.end = p.cur;
	p.byino = rx_xcalloc((size_t)count, sizeof(*p.byino));
	p.path = rx_xmalloc(p.pcap = 256);
	p.path[0] = 0;
	int r = 0;
	if (o->boot) {
		uint32_t off;
		r = alloc(&p, o->boot_len, OP_BOOT, &off);
	}
	if (r == 0)
		r = plan_tree(&p, root);
	uint64_t needed = ifs_needed(l, p.end);
	if (r == 0 && o->max_size && needed > o->max_size)
		r = rx_fail(ctx, EFBIG, "the archive needs %llu bytes, %llu bytes more than the maximum size "
			    "of %llu bytes (rximg initfs verbs take --max-size to raise it)", (unsigned long long)needed,
			    (unsigned long long)(needed - o->max_size), (unsigned long long)o->max_size);
	uint8_t *table = NULL;
	struct wout w = { ctx, fd, NULL, 0, 0 };
	if (r == 0) {
		/* Empty items never point past the end of the file (spec section 9). */
		for (uint32_t i = 0; i < p.count; i++) {
			struct ifs_node *n = p.byino[i];
			uint64_t len = n->type == IFS_DIR ? n->n : n->size;
			if (len == 0 && n->w_off > p.end)
				n->w_off = p.ito;
		}
		table = rx_xcalloc((size_t)count, p.recsize);
		for (uint32_t i = 0; i < p.count; i++)
			encode_inode(&p, p.byino[i], table + (size_t)i * p.recsize);
		w.buf = rx_xmalloc(WCAP);
		r = write_ops(&p, &w, table);
	}
	if (r == 0)
		r = wput(&w, p.ito, table, (size_t)count * p.recsize);
	if (r == 0)
		r = wflush(&w);
	if (r == 0) {
		uint8_t h[64];
		size_t hlen;
		header(&p, root, h, &hlen);
		r = pwrite_all(&w, h, hlen, 0);
	}
	if (r == 0 && ftruncate(fd, (off_t)p.end) != 0)
		r = rx_fail(ctx, errno, "cannot set the archive's size: %s", strerror(errno));
	if (r == 0 && size)
		*size = p.end;
	for (size_t i = 0; i < p.nops; i++)
		free(p.ops[i].link);
	free(p.ops);
	free(p.byino);
	free(p.path);
	free(table);
	free(w.buf);
	return r;
}
