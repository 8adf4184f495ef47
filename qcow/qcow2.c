/*
 * qcow2 block device. Facts from QEMU's docs/interop/qcow2.txt as summarised
 * in the project's qcow2 notes; all numbers on disk are big-endian.
 *
 * Reading: L1 -> L2 -> host cluster, compressed clusters (raw deflate), zero
 * clusters, extended L2 entries (subclusters), and the backing file for
 * anything unallocated.
 *
 * Writing (top file only): every guest cluster that is not already ours
 * (refcount 1, COPIED) gets a fresh, whole host cluster at the end of the
 * file, merged with the old contents. Metadata changes wait in memory and
 * flush() writes them in the order that keeps every pointer behind what it
 * points to: refcount blocks (and the data) -> refcount table (or a moved
 * table and then the header) -> L2 tables -> L1 -> only then the refcount
 * decrements of what was replaced, with an fsync between the steps. A crash
 * at any write therefore leaves, at worst, leaked clusters. Metadata is
 * always written in whole 512-byte sectors so that a torn write never splits
 * an 8-byte entry.
 */
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "qcow2.h"

#define OFF_MASK 0x00fffffffffffe00ULL	/* host offset bits 9..55 of L1/L2 entries */
#define COPIED (1ULL << 63)
#define COMPRESSED (1ULL << 62)
#define ZERO_FLAG 1ULL
#define SECTOR 512u

#define INCOMPAT_DIRTY (1ULL << 0)
#define INCOMPAT_CORRUPT (1ULL << 1)
#define INCOMPAT_DATA_FILE (1ULL << 2)
#define INCOMPAT_COMPRESSION (1ULL << 3)
#define INCOMPAT_EXTL2 (1ULL << 4)
#define INCOMPAT_KNOWN 0x1fULL

#define MAX_L1_BYTES (32u << 20)	/* QEMU's limits, also our memory bound */
#define MAX_RT_BYTES (8u << 20)
#define MAX_DEPTH 16
#define CACHE_BUDGET (64u << 20)	/* cached L2 tables and refcount blocks */
#define MAX_RUN 1024			/* clusters allocated by one step */

struct l2tab {
	uint64_t off;		/* host offset */
	int dirty;
	uint64_t e[];		/* cs / 8 words (ext L2: entry, bitmap pairs) */
};

struct rblk {
	uint64_t off;
	int dirty;
	uint8_t b[];
};

struct qcow2 {
	struct rx_dev dev;
	pthread_mutex_t mu;	/* caches and tables are shared: one request at a time */
	struct rx_dev *file;
	struct rx_dev *backing;
	struct rx_chain self;	/* this file (dev, ino, depth), to refuse loops when the backing is reopened */
	struct rx_qcow2_info info;
	unsigned cb;
	uint64_t cs;
	uint64_t l2_n;		/* guest clusters per L2 table */
	uint64_t l1_n;		/* L1 entries needed for the virtual size */
	uint64_t l1_off;
	uint8_t *l1;		/* the L1 table, whole sectors */
	size_t l1_len;
	uint8_t *l1_dirty;	/* per sector */
	struct l2tab **l2c;	/* by L1 index */
	size_t l2_loaded;
	uint8_t hdr[SECTOR];	/* first sector of the file, rewritten in place */

	uint8_t *zbuf;		/* last decompressed cluster */
	uint64_t zkey;
	int zvalid;
	uint8_t *zin;

	/* writing */
	int wr_ready;
	unsigned rorder;
	uint64_t epb;		/* refcounts per block */
	uint64_t rt_off, rt_clusters, rt_n;
	uint8_t *rt;
	uint8_t *rt_dirty;	/* per sector */
	int rt_moved;
	struct rblk **rb;	/* by refcount table index */
	size_t rb_loaded;
	uint64_t next_free;	/* cluster index */
	uint64_t *frees;	/* clusters losing a reference once the new links are durable */
	size_t nfrees, capfrees;
	int unsynced;		/* writes since the last fsync */
	int meta_dirty;
	uint8_t *tmp;		/* one cluster, for merges */
};

static const struct rx_dev_ops qcow2_ops;
static int resolve_backing(struct qcow2 *q);
static int has_protocol(const char *name);

static struct qcow2 *Q(struct rx_dev *d)
{
	return (struct qcow2 *)d;
}

static int bad(struct qcow2 *q, const char *fmt, uint64_t a, uint64_t b)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, (unsigned long long)a, (unsigned long long)b);
	return rx_fail(q->dev.ctx, EIO, "corrupt qcow2: %s", msg);
}

/* ---- host file access ---- */

/* Read from the host file; bytes past its end read as zeros. */
static int fread_at(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
	uint64_t fs = q->file->size;
	size_t have = off >= fs ? 0 : (size_t)RX_MIN((uint64_t)len, fs - off);
	if (have < len)
		memset((uint8_t *)buf + have, 0, len - have);
	return have ? q->file->ops->pread(q->file, buf, have, off) : 0;
}

/* Write to the host file, growing it (through the raw device, where the crash hook lives). */
static int fwrite_at(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	int r = q->file->ops->pwrite(q->file, buf, len, off);
	if (r == 0) {
		if (off + len > q->file->size)
			q->file->size = off + len;
		q->unsynced = 1;
	}
	return r;
}

static int fsync_file(struct qcow2 *q)
{
	if (!q->unsynced || q->dev.no_sync)
		return 0;
	int r = q->file->ops->flush(q->file);
	if (r == 0)
		q->unsynced = 0;
	return r;
}

/* ---- L1 / L2 ---- */

static uint64_t l1_get(struct qcow2 *q, uint64_t i)
{
	return get_be64(q->l1 + 8 * i);
}

/* Check that a metadata cluster (L2 table, refcount block) lies inside the file. */
static int check_meta_off(struct qcow2 *q, uint64_t off, const char *what)
{
	if (off & (q->cs - 1))
		return rx_fail(q->dev.ctx, EIO, "corrupt qcow2: %s at byte %llu is not cluster aligned", what,
			       (unsigned long long)off);
	if (off < q->cs)
		return rx_fail(q->dev.ctx, EIO, "corrupt qcow2: %s overlaps the header", what);
	if (off >= q->file->size)
		return rx_fail(q->dev.ctx, EIO, "corrupt qcow2: %s at byte %llu lies past the end of the file (%llu bytes)",
			       what, (unsigned long long)off, (unsigned long long)q->file->size);
	return 0;
}

static void drop_clean_caches(struct qcow2 *q)
{
	for (uint64_t i = 0; q->l2c && i < q->l1_n; i++)
		if (q->l2c[i] && !q->l2c[i]->dirty) {
			free(q->l2c[i]);
			q->l2c[i] = NULL;
			q->l2_loaded--;
		}
	for (uint64_t i = 0; q->rb && i < q->rt_n; i++)
		if (q->rb[i] && !q->rb[i]->dirty) {
			free(q->rb[i]);
			q->rb[i] = NULL;
			q->rb_loaded--;
		}
}

/* The L2 table of L1 slot i, or *out = NULL when the slot is empty. */
static int l2_load(struct qcow2 *q, uint64_t i, struct l2tab **out)
{
	*out = q->l2c[i];
	if (*out)
		return 0;
	uint64_t e = l1_get(q, i), off = e & OFF_MASK;
	if (!off)
		return 0;
	int r = check_meta_off(q, off, "L2 table");
	if (r)
		return r;
	if (q->l2_loaded * q->cs >= CACHE_BUDGET && !q->meta_dirty)
		drop_clean_caches(q);
	struct l2tab *t = rx_xmalloc(sizeof(*t) + q->cs);
	uint8_t *raw = (uint8_t *)t->e;
	r = fread_at(q, raw, q->cs, off);
	if (r) {
		free(t);
		return r;
	}
	for (uint64_t k = 0; k < q->cs / 8; k++)
		t->e[k] = get_be64(raw + 8 * k);
	t->off = off;
	t->dirty = 0;
	q->l2c[i] = t;
	q->l2_loaded++;
	*out = t;
	return 0;
}

/* L2 entry (and subcluster bitmap) of guest cluster gc. */
static int l2_entry(struct qcow2 *q, uint64_t gc, uint64_t *e, uint64_t *bm)
{
	uint64_t i = gc / q->l2_n, k = gc % q->l2_n;
	struct l2tab *t;
	*e = *bm = 0;
	if (i >= q->l1_n)
		return bad(q, "guest cluster %llu lies beyond the L1 table (%llu entries)", gc, q->l1_n);
	int r = l2_load(q, i, &t);
	if (r || !t)
		return r;
	if (q->info.extended_l2) {
		*e = t->e[2 * k];
		*bm = t->e[2 * k + 1];
	} else {
		*e = t->e[k];
	}
	return 0;
}

/* ---- compressed clusters ---- */

static int decompress(struct qcow2 *q, uint64_t e)
{
	if (q->zvalid && q->zkey == e)
		return 0;
	if (q->info.compression != 0)
		return rx_fail(q->dev.ctx, ENOTSUP, "zstd-compressed clusters are not supported");
	unsigned x = 62 - (q->cb - 8);
	uint64_t off = e & ((1ULL << x) - 1);
	uint64_t nsec = (e & ~(COPIED | COMPRESSED)) >> x;
	uint64_t end = (off & ~(uint64_t)(SECTOR - 1)) + (nsec + 1) * SECTOR;
	uint64_t clen = end - off;
	if (off < q->cs || off >= q->file->size)
		return bad(q, "compressed cluster at byte %llu lies outside the file (%llu bytes)", off, q->file->size);
	if (clen > 2 * q->cs + SECTOR)
		return bad(q, "compressed cluster at byte %llu claims %llu bytes", off, clen);
	clen = RX_MIN(clen, q->file->size - off);
	if (!q->zin) {
		q->zin = rx_xmalloc(2 * q->cs + SECTOR);
		q->zbuf = rx_xmalloc(q->cs);
	}
	q->zvalid = 0;
	int r = fread_at(q, q->zin, (size_t)clen, off);
	if (r)
		return r;
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -12) != Z_OK)
		return rx_fail(q->dev.ctx, ENOMEM, "cannot start zlib");
	zs.next_in = q->zin;
	zs.avail_in = (uInt)clen;
	zs.next_out = q->zbuf;
	zs.avail_out = (uInt)q->cs;
	int zr = inflate(&zs, Z_FINISH);
	uint64_t got = q->cs - zs.avail_out;
	inflateEnd(&zs);
	if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR && zr != Z_OK) || got != q->cs)
		return bad(q, "compressed cluster at byte %llu does not inflate to a cluster (%llu bytes)", off, got);
	q->zkey = e;
	q->zvalid = 1;
	return 0;
}

/* Host clusters holding compressed cluster e, as [first, last]. */
static void compressed_span(struct qcow2 *q, uint64_t e, uint64_t *first, uint64_t *last)
{
	unsigned x = 62 - (q->cb - 8);
	uint64_t off = e & ((1ULL << x) - 1);
	uint64_t nsec = (e & ~(COPIED | COMPRESSED)) >> x;
	uint64_t end = (off & ~(uint64_t)(SECTOR - 1)) + (nsec + 1) * SECTOR;
	*first = off >> q->cb;
	*last = (end - 1) >> q->cb;
}

/* ---- reading ---- */

static int backing_read(struct qcow2 *q, uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t bs = q->backing ? q->backing->size : 0;
	size_t have = off >= bs ? 0 : (size_t)RX_MIN((uint64_t)len, bs - off);
	if (have < len)
		memset(buf + have, 0, len - have);
	return have ? rx_dev_read(q->backing, buf, have, off) : 0;
}

enum { K_BACKING, K_ZERO, K_DATA, K_COMPRESSED };

/*
 * What guest bytes [gc*cs + co, +n) are: backing, zeros, data at *host, or
 * compressed. With subclusters, n is shortened to a run of one kind.
 */
static int classify(struct qcow2 *q, uint64_t gc, uint64_t co, uint64_t *n, uint64_t *host, uint64_t *ce)
{
	uint64_t e, bm;
	int r = l2_entry(q, gc, &e, &bm);
	if (r)
		return r;
	*ce = e;
	if (e & COMPRESSED)
		return K_COMPRESSED;
	uint64_t off = e & OFF_MASK;
	if (e & 0x3f000000000001feULL)	/* bits 1..8 and 56..61 are reserved */
		return bad(q, "L2 entry %#llx of guest cluster %llu has reserved bits set", e, gc);
	if (off && (off & (q->cs - 1)))
		return bad(q, "data cluster at byte %llu (guest cluster %llu) is not cluster aligned", off, gc);
	if (off && off >= q->file->size)
		return bad(q, "data cluster at byte %llu (guest cluster %llu) lies past the end of the file", off, gc);
	if (!q->info.extended_l2) {
		if (e & ZERO_FLAG)
			return K_ZERO;
		if (!off)
			return K_BACKING;
		*host = off + co;
		return K_DATA;
	}
	if (e & ZERO_FLAG)
		return bad(q, "L2 entry %#llx of guest cluster %llu has reserved bits set", e, gc);
	uint64_t sc = q->cs / 32, i = co / sc;
	uint32_t alloc = (uint32_t)bm, zero = (uint32_t)(bm >> 32);
	if (alloc & zero)
		return bad(q, "subcluster bitmap %#llx of guest cluster %llu is both allocated and zero", bm, gc);
	if (alloc && !off)
		return bad(q, "guest cluster %llu has allocated subclusters but no host cluster", gc, 0);
	int kind = (alloc >> i) & 1 ? K_DATA : (zero >> i) & 1 ? K_ZERO : K_BACKING;
	uint64_t end = co + *n, j = i + 1;
	while (j < 32 && j * sc < end) {
		int kj = (alloc >> j) & 1 ? K_DATA : (zero >> j) & 1 ? K_ZERO : K_BACKING;
		if (kj != kind)
			break;
		j++;
	}
	*n = RX_MIN(end, j * sc) - co;
	*host = off + co;
	return kind;
}

static int q_pread_locked(struct rx_dev *dev, void *vbuf, size_t len, uint64_t off)
{
	struct qcow2 *q = Q(dev);
	uint8_t *buf = vbuf;
	/* A pending run of one kind, so contiguous clusters become one read. */
	int rk = -1;
	uint64_t rhost = 0, rlen = 0, rguest = 0;
	uint8_t *rbuf = NULL;
	int r = 0;
	while (len > 0 || rk >= 0) {
		int kind = -1;
		uint64_t n = 0, host = 0, ce = 0;
		if (len > 0) {
			uint64_t gc = off >> q->cb, co = off & (q->cs - 1);
			n = RX_MIN((uint64_t)len, q->cs - co);
			kind = classify(q, gc, co, &n, &host, &ce);
			if (kind < 0)
				return kind;
			if (kind == K_COMPRESSED) {
				if ((r = decompress(q, ce)) != 0)
					return r;
			}
		}
		/* Extend the pending run, or issue it. */
		if (rk >= 0 && kind == rk && kind != K_COMPRESSED &&
		    (kind != K_DATA || host == rhost + rlen)) {
			rlen += n;
		} else {
			if (rk == K_DATA)
				r = fread_at(q, rbuf, (size_t)rlen, rhost);
			else if (rk == K_BACKING)
				r = backing_read(q, rbuf, (size_t)rlen, rguest);
			else if (rk == K_ZERO)
				memset(rbuf, 0, (size_t)rlen);
			if (r)
				return r;
			rk = -1;
			if (kind == K_COMPRESSED) {
				memcpy(buf, q->zbuf + (off & (q->cs - 1)), (size_t)n);
			} else if (kind >= 0) {
				rk = kind;
				rhost = host;
				rlen = n;
				rguest = off;
				rbuf = buf;
			}
		}
		buf += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

static int extent_locked(struct rx_dev *dev, uint64_t off, uint64_t *len, int *zero)
{
	struct qcow2 *q = Q(dev);
	uint64_t done = 0, want = *len;
	int z = -1;
	while (done < want) {
		uint64_t gc = (off + done) >> q->cb, co = (off + done) & (q->cs - 1);
		uint64_t n = RX_MIN(want - done, q->cs - co), host, ce;
		int kind = classify(q, gc, co, &n, &host, &ce);
		if (kind < 0)
			return kind;
		int kz;
		if (kind == K_ZERO) {
			kz = 1;
		} else if (kind == K_BACKING) {
			uint64_t bs = q->backing ? q->backing->size : 0, g = off + done;
			if (g >= bs) {
				kz = 1;
			} else if (rx_qcow2_is(q->backing)) {
				n = RX_MIN(n, bs - g);
				int r = rx_qcow2_extent(q->backing, g, &n, &kz);
				if (r)
					return r;
			} else {
				n = RX_MIN(n, bs - g);
				kz = 0;
			}
		} else {
			kz = 0;
		}
		if (z >= 0 && kz != z)
			break;
		z = kz;
		done += n;
	}
	*len = done;
	*zero = z > 0;
	return 0;
}

/* ---- reference counts ---- */

static uint64_t rc_read(const uint8_t *b, unsigned order, uint64_t i)
{
	switch (order) {
	case 3: return b[i];
	case 4: return (uint64_t)b[2 * i] << 8 | b[2 * i + 1];
	case 5: return get_be32(b + 4 * i);
	case 6: return get_be64(b + 8 * i);
	default: {
		unsigned bits = 1u << order;
		uint64_t bit = i * bits;
		return (uint64_t)(b[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	}
	}
}

static void rc_write(uint8_t *b, unsigned order, uint64_t i, uint64_t v)
{
	switch (order) {
	case 3: b[i] = (uint8_t)v; break;
	case 4: b[2 * i] = (uint8_t)(v >> 8); b[2 * i + 1] = (uint8_t)v; break;
	case 5: put_be32(b + 4 * i, (uint32_t)v); break;
	case 6: put_be64(b + 8 * i, v); break;
	default: {
		unsigned bits = 1u << order;
		uint64_t bit = i * bits;
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
		b[bit / 8] = (uint8_t)((b[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
	}
	}
}

static uint64_t rt_get(struct qcow2 *q, uint64_t bi)
{
	return get_be64(q->rt + 8 * bi) & ~(uint64_t)(SECTOR - 1);
}

static void rt_set(struct qcow2 *q, uint64_t bi, uint64_t off)
{
	put_be64(q->rt + 8 * bi, off);
	q->rt_dirty[8 * bi / SECTOR] = 1;
	q->meta_dirty = 1;
}

/* The refcount block for table index bi, or NULL when there is none. */
static int rb_load(struct qcow2 *q, uint64_t bi, struct rblk **out)
{
	*out = q->rb[bi];
	if (*out)
		return 0;
	uint64_t off = rt_get(q, bi);
	if (!off)
		return 0;
	int r = check_meta_off(q, off, "refcount block");
	if (r)
		return r;
	struct rblk *b = rx_xmalloc(sizeof(*b) + q->cs);
	if ((r = fread_at(q, b->b, q->cs, off)) != 0) {
		free(b);
		return r;
	}
	b->off = off;
	b->dirty = 0;
	q->rb[bi] = b;
	q->rb_loaded++;
	*out = b;
	return 0;
}

static int rc_get(struct qcow2 *q, uint64_t c, uint64_t *v)
{
	uint64_t bi = c / q->epb;
	struct rblk *b;
	*v = 0;
	if (bi >= q->rt_n)
		return 0;
	int r = rb_load(q, bi, &b);
	if (r == 0 && b)
		*v = rc_read(b->b, q->rorder, c % q->epb);
	return r;
}

static int rc_add(struct qcow2 *q, uint64_t c, int delta)
{
	uint64_t bi = c / q->epb, v;
	struct rblk *b = NULL;
	int r = bi < q->rt_n ? rb_load(q, bi, &b) : 0;
	if (r)
		return r;
	if (!b)
		return bad(q, "cluster %llu has no refcount block", c, 0);
	v = rc_read(b->b, q->rorder, c % q->epb);
	uint64_t max = q->rorder == 6 ? UINT64_MAX : (1ULL << (1u << q->rorder)) - 1;
	if ((delta < 0 && v == 0) || (delta > 0 && v == max))
		return bad(q, "refcount of cluster %llu would leave its range (now %llu)", c, v);
	rc_write(b->b, q->rorder, c % q->epb, delta > 0 ? v + 1 : v - 1);
	b->dirty = 1;
	q->meta_dirty = 1;
	return 0;
}

static int grow_table(struct qcow2 *q, uint64_t need, int depth);

/*
 * Append-only allocation of n contiguous clusters with refcount 1. Refcount
 * blocks for ranges that have none are placed first, right before the run,
 * each inside the range it describes or counted by one placed before it.
 */
static int alloc_run(struct qcow2 *q, uint64_t n, uint64_t *first, int depth)
{
	const uint64_t limit = (OFF_MASK >> q->cb) + 1;
	for (int tries = 0; tries < 64; tries++) {
		uint64_t s = q->next_free, k = 0;
		for (;;) {
			uint64_t R = 0;
			for (uint64_t bi = s / q->epb; bi <= (s + k + n - 1) / q->epb; bi++)
				if (bi >= q->rt_n || (!rt_get(q, bi) && !q->rb[bi]))
					R++;
			if (R <= k)
				break;
			k = R;
		}
		if (s + k + n > limit)
			return rx_fail(q->dev.ctx, EFBIG, "qcow2 image would grow past its largest offset");
		uint64_t last_bi = (s + k + n - 1) / q->epb;
		if (last_bi >= q->rt_n) {
			int r = grow_table(q, last_bi + 1, depth);
			if (r)
				return r;
			continue;	/* the table took clusters: start again */
		}
		/* New blocks, in order of their ranges, at s, s+1, ... */
		uint64_t at = s;
		for (uint64_t bi = s / q->epb; bi <= last_bi; bi++) {
			if (rt_get(q, bi) || q->rb[bi])
				continue;
			struct rblk *b = rx_xcalloc(1, sizeof(*b) + q->cs);
			b->off = at << q->cb;
			b->dirty = 1;
			q->rb[bi] = b;
			q->rb_loaded++;
			rt_set(q, bi, b->off);
			at++;
		}
		for (uint64_t c = s; c < at; c++) {
			int r = rc_add(q, c, 1);
			if (r)
				return r;
		}
		/* The run must be free; a stray count past the end (never ours) moves it on. */
		uint64_t busy = UINT64_MAX;
		for (uint64_t c = at; c < at + n && busy == UINT64_MAX; c++) {
			uint64_t v;
			int r = rc_get(q, c, &v);
			if (r)
				return r;
			if (v)
				busy = c;
		}
		if (busy != UINT64_MAX) {
			q->next_free = busy + 1;
			continue;
		}
		for (uint64_t c = at; c < at + n; c++) {
			int r = rc_add(q, c, 1);
			if (r)
				return r;
		}
		q->next_free = at + n;
		*first = at;
		return 0;
	}
	return rx_fail(q->dev.ctx, EIO, "cannot find free clusters in the qcow2 image");
}

/* Move the refcount table to a bigger place at the end of the file. */
static int grow_table(struct qcow2 *q, uint64_t need, int depth)
{
	if (depth > 4)
		return rx_fail(q->dev.ctx, EIO, "qcow2 refcount table keeps growing");
	uint64_t entries = RX_MAX(need + need / 2 + 8, 2 * q->rt_n);
	uint64_t per = q->cs / 8, clusters = (entries + per - 1) / per;
	if (clusters * q->cs > MAX_RT_BYTES)
		return rx_fail(q->dev.ctx, EFBIG, "qcow2 refcount table would exceed %u MiB", MAX_RT_BYTES >> 20);
	uint64_t old_off = q->rt_off, old_clusters = q->rt_clusters, n = clusters * per;
	q->rt = rx_xrealloc(q->rt, clusters * q->cs);
	memset(q->rt + q->rt_n * 8, 0, (n - q->rt_n) * 8);
	q->rb = rx_xrealloc(q->rb, n * sizeof(*q->rb));
	memset(q->rb + q->rt_n, 0, (n - q->rt_n) * sizeof(*q->rb));
	free(q->rt_dirty);
	q->rt_dirty = rx_xcalloc(clusters * q->cs / SECTOR, 1);
	q->rt_n = n;
	uint64_t first;
	int r = alloc_run(q, clusters, &first, depth + 1);
	if (r)
		return r;
	/* The old table loses its reference once the header points at the new one. */
	for (uint64_t c = 0; c < old_clusters; c++) {
		if (q->nfrees == q->capfrees)
			q->frees = rx_xrealloc(q->frees, (q->capfrees = q->capfrees * 2 + 16) * sizeof(*q->frees));
		q->frees[q->nfrees++] = (old_off >> q->cb) + c;
	}
	q->rt_off = first << q->cb;
	q->rt_clusters = clusters;
	memset(q->rt_dirty, 1, clusters * q->cs / SECTOR);
	q->rt_moved = 1;
	q->meta_dirty = 1;
	return 0;
}

static void add_free(struct qcow2 *q, uint64_t c)
{
	if (q->nfrees == q->capfrees)
		q->frees = rx_xrealloc(q->frees, (q->capfrees = q->capfrees * 2 + 16) * sizeof(*q->frees));
	q->frees[q->nfrees++] = c;
	q->meta_dirty = 1;
}

/* Queue the clusters an L2 entry points to (a data cluster, or a compressed span) for freeing. */
static void free_entry_clusters(struct qcow2 *q, uint64_t e)
{
	if (e & COMPRESSED) {
		uint64_t a, b;
		compressed_span(q, e, &a, &b);
		for (uint64_t c = a; c <= b; c++)
			add_free(q, c);
	} else if (e & OFF_MASK) {
		add_free(q, (e & OFF_MASK) >> q->cb);
	}
}

/* ---- flush: the safe order ---- */

static int write_header_sector(struct qcow2 *q)
{
	int r = fwrite_at(q, q->hdr, SECTOR, 0);
	return r ? r : fsync_file(q);
}

static int write_dirty_rblocks(struct qcow2 *q)
{
	for (uint64_t i = 0; i < q->rt_n; i++) {
		struct rblk *b = q->rb[i];
		if (!b || !b->dirty)
			continue;
		int r = fwrite_at(q, b->b, q->cs, b->off);
		if (r)
			return r;
		b->dirty = 0;
	}
	return fsync_file(q);
}

static int q_flush_meta(struct qcow2 *q)
{
	int r;
	if (!q->wr_ready)
		return 0;
	/* 1. Refcount increments (and new refcount blocks), with all data written so far. */
	if ((r = write_dirty_rblocks(q)) != 0)
		return r;
	/* 2. The refcount table: entries for new blocks, or a moved table and then the header. */
	if (q->rt_moved) {
		/* Not referenced until the header names it: one write will do. */
		if ((r = fwrite_at(q, q->rt, q->rt_clusters * q->cs, q->rt_off)) != 0)
			return r;
		memset(q->rt_dirty, 0, q->rt_clusters * q->cs / SECTOR);
	}
	for (uint64_t s = 0; s < q->rt_clusters * q->cs / SECTOR; s++) {
		if (!q->rt_dirty[s])
			continue;
		if ((r = fwrite_at(q, q->rt + s * SECTOR, SECTOR, q->rt_off + s * SECTOR)) != 0)
			return r;
		q->rt_dirty[s] = 0;
	}
	if ((r = fsync_file(q)) != 0)
		return r;
	if (q->rt_moved) {
		put_be64(q->hdr + 48, q->rt_off);
		put_be32(q->hdr + 56, (uint32_t)q->rt_clusters);
		if ((r = write_header_sector(q)) != 0)
			return r;
		q->rt_moved = 0;
	}
	/* 3. L2 tables (new ones before the L1 entries that will point at them). */
	uint8_t *raw = q->tmp;
	for (uint64_t i = 0; i < q->l1_n; i++) {
		struct l2tab *t = q->l2c[i];
		if (!t || !t->dirty)
			continue;
		for (uint64_t k = 0; k < q->cs / 8; k++)
			put_be64(raw + 8 * k, t->e[k]);
		if ((r = fwrite_at(q, raw, q->cs, t->off)) != 0)
			return r;
		t->dirty = 0;
	}
	if ((r = fsync_file(q)) != 0)
		return r;
	/* 4. L1 entries. */
	for (size_t s = 0; s < q->l1_len / SECTOR; s++) {
		if (!q->l1_dirty[s])
			continue;
		if ((r = fwrite_at(q, q->l1 + s * SECTOR, SECTOR, q->l1_off + s * SECTOR)) != 0)
			return r;
		q->l1_dirty[s] = 0;
	}
	if ((r = fsync_file(q)) != 0)
		return r;
	/* 5. Only now may what was replaced lose its references. */
	if (q->nfrees) {
		for (size_t i = 0; i < q->nfrees; i++) {
			uint64_t v;
			/* A count already at 0 (a damaged image) stays there rather than fail the flush. */
			if ((r = rc_get(q, q->frees[i], &v)) != 0 || (v && (r = rc_add(q, q->frees[i], -1)) != 0))
				return r;
		}
		q->nfrees = 0;
		if ((r = write_dirty_rblocks(q)) != 0)
			return r;
	}
	q->meta_dirty = 0;
	return 0;
}

static int q_flush_locked(struct rx_dev *dev)
{
	struct qcow2 *q = Q(dev);
	int r = q_flush_meta(q);
	return r ? r : fsync_file(q);
}

/* ---- writing ---- */

/* First write: check that we may, load the refcount table, clear autoclear bits. */
static int prepare_write(struct qcow2 *q)
{
	if (q->wr_ready)
		return 0;
	const struct rx_qcow2_info *in = &q->info;
	if (in->incompatible & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_EXTL2 | ~INCOMPAT_KNOWN | INCOMPAT_DATA_FILE))
		return rx_fail(q->dev.ctx, EROFS, "qcow2 image cannot be written (incompatible features %#llx)",
			       (unsigned long long)in->incompatible);
	if (in->nb_snapshots)
		return rx_fail(q->dev.ctx, EROFS, "qcow2 image has internal snapshots; rximg does not write those");
	uint64_t rt_bytes = q->rt_clusters * q->cs;
	q->rt = rx_xmalloc(rt_bytes);
	q->rt_n = rt_bytes / 8;
	q->rt_dirty = rx_xcalloc(rt_bytes / SECTOR, 1);
	q->rb = rx_xcalloc(q->rt_n, sizeof(*q->rb));
	int r = fread_at(q, q->rt, rt_bytes, q->rt_off);
	if (r)
		return r;
	for (uint64_t i = 0; i < q->rt_n; i++) {
		uint64_t off = rt_get(q, i);
		if (off && (r = check_meta_off(q, off, "refcount block")) != 0)
			return r;
	}
	q->next_free = (q->file->size + q->cs - 1) >> q->cb;
	q->tmp = rx_xmalloc(q->cs);
	if (in->version >= 3 && in->autoclear) {
		/* Bitmaps and whatever else autoclear covers become stale once we write. */
		memset(q->hdr + 88, 0, 8);
		if ((r = write_header_sector(q)) != 0)
			return r;
		q->info.autoclear = 0;
	}
	q->wr_ready = 1;
	return 0;
}

/* Old contents of guest cluster gc (entry e), for a partial write into a new cluster. */
static int background(struct qcow2 *q, uint64_t gc, uint64_t e, uint8_t *out)
{
	if (e & COMPRESSED) {
		int r = decompress(q, e);
		if (r == 0)
			memcpy(out, q->zbuf, q->cs);
		return r;
	}
	if (e & ZERO_FLAG) {
		memset(out, 0, q->cs);
		return 0;
	}
	if (e & OFF_MASK)
		return fread_at(q, out, q->cs, e & OFF_MASK);
	return backing_read(q, out, q->cs, gc << q->cb);
}

/*
 * Before writing in place where the image's own tables point: refuse a
 * cluster that overlaps the header, the L1 table or the refcount table (a
 * damaged or hostile image would otherwise have us overwrite its metadata).
 */
static int meta_overlap(struct qcow2 *q, uint64_t off, uint64_t len, const char *what)
{
	uint64_t l1_end = q->l1_off + q->l1_n * 8, rt_end = q->rt_off + q->rt_clusters * q->cs;
	if (off < q->cs || (q->l1_n && off < l1_end && q->l1_off < off + len) ||
	    (off < rt_end && q->rt_off < off + len))
		return rx_fail(q->dev.ctx, EIO, "corrupt qcow2: %s at byte %llu overlaps the header, L1 or "
			       "refcount table; not writing", what, (unsigned long long)off);
	return 0;
}

/* The L2 table of slot i, made (empty, in memory) when the slot is empty. */
static int l2_for_write(struct qcow2 *q, uint64_t i, struct l2tab **out)
{
	uint64_t e = l1_get(q, i);
	if ((e & OFF_MASK) && !(e & COPIED))
		return rx_fail(q->dev.ctx, EROFS, "qcow2 L2 table %llu is shared (internal snapshot); not writing",
			       (unsigned long long)i);
	int r = l2_load(q, i, out);
	if (r == 0 && *out && !(*out)->dirty)
		r = meta_overlap(q, (*out)->off, q->cs, "L2 table");
	if (r || *out)
		return r;
	uint64_t c;
	if ((r = alloc_run(q, 1, &c, 0)) != 0)
		return r;
	struct l2tab *t = rx_xcalloc(1, sizeof(*t) + q->cs);
	t->off = c << q->cb;
	t->dirty = 1;
	q->l2c[i] = t;
	q->l2_loaded++;
	put_be64(q->l1 + 8 * i, t->off | COPIED);
	q->l1_dirty[8 * i / SECTOR] = 1;
	q->meta_dirty = 1;
	*out = t;
	return 0;
}

static int in_place(uint64_t e)
{
	return (e & COPIED) && !(e & (COMPRESSED | ZERO_FLAG)) && (e & OFF_MASK);
}

static int q_pwrite_locked(struct rx_dev *dev, const void *vbuf, size_t len, uint64_t off)
{
	struct qcow2 *q = Q(dev);
	const uint8_t *buf = vbuf;
	int r = prepare_write(q);
	if (r)
		return r;
	while (len > 0) {
		if ((q->l2_loaded + q->rb_loaded) * q->cs > CACHE_BUDGET) {
			/* Too much metadata held: make it durable, then forget the clean part. */
			if ((r = q_flush_meta(q)) != 0)
				return r;
			drop_clean_caches(q);
		}
		uint64_t gc = off >> q->cb, co = off & (q->cs - 1), i = gc / q->l2_n;
		struct l2tab *t = NULL;
		if ((r = l2_for_write(q, i, &t)) != 0)
			return r;
		uint64_t k0 = gc % q->l2_n, e = t->e[k0];
		/* A run of clusters of the same treatment inside this L2 table. */
		uint64_t span = co + len, nmax = RX_MIN((span + q->cs - 1) >> q->cb, q->l2_n - k0);
		nmax = RX_MIN(nmax, (uint64_t)MAX_RUN);
		uint64_t n = 1;
		if (in_place(e)) {
			uint64_t host = e & OFF_MASK;
			while (n < nmax && in_place(t->e[k0 + n]) && (t->e[k0 + n] & OFF_MASK) == host + (n << q->cb))
				n++;
			size_t bytes = (size_t)RX_MIN((uint64_t)len, (n << q->cb) - co);
			if (host >= q->file->size)
				return bad(q, "data cluster at byte %llu lies past the end of the file", host, 0);
			if ((r = meta_overlap(q, host, n << q->cb, "data cluster")) != 0)
				return r;
			if ((r = fwrite_at(q, buf, bytes, host + co)) != 0)
				return r;
			buf += bytes;
			off += bytes;
			len -= bytes;
			continue;
		}
		while (n < nmax && !in_place(t->e[k0 + n]))
			n++;
		size_t bytes = (size_t)RX_MIN((uint64_t)len, (n << q->cb) - co);
		uint64_t c0;
		if ((r = alloc_run(q, n, &c0, 0)) != 0)
			return r;
		uint64_t h0 = c0 << q->cb, end = co + bytes;	/* end: byte in the run */
		/* Partial first and last clusters are merged with the old contents. */
		uint64_t full_from = 0, full_to = n;
		if (co) {
			if ((r = background(q, gc, t->e[k0], q->tmp)) != 0)
				return r;
			size_t m = (size_t)RX_MIN(q->cs - co, (uint64_t)bytes);
			memcpy(q->tmp + co, buf, m);
			if ((r = fwrite_at(q, q->tmp, q->cs, h0)) != 0)
				return r;
			full_from = 1;
		}
		if ((end & (q->cs - 1)) && (n > 1 || !co)) {
			uint64_t last = n - 1, lo = last << q->cb;
			if ((r = background(q, gc + last, t->e[k0 + last], q->tmp)) != 0)
				return r;
			memcpy(q->tmp, buf + (lo - co), (size_t)(end - lo));
			if ((r = fwrite_at(q, q->tmp, q->cs, h0 + lo)) != 0)
				return r;
			full_to = last;
		}
		if (full_to > full_from) {
			uint64_t lo = full_from << q->cb;
			if ((r = fwrite_at(q, buf + (lo - co), (size_t)((full_to - full_from) << q->cb), h0 + lo)) != 0)
				return r;
		}
		for (uint64_t j = 0; j < n; j++) {
			free_entry_clusters(q, t->e[k0 + j]);
			t->e[k0 + j] = (h0 + (j << q->cb)) | COPIED;
		}
		t->dirty = 1;
		q->meta_dirty = 1;
		buf += bytes;
		off += bytes;
		len -= bytes;
	}
	return 0;
}

/* ---- the vtable: each request under the device's lock ---- */

static int q_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	pthread_mutex_lock(&Q(dev)->mu);
	int r = q_pread_locked(dev, buf, len, off);
	pthread_mutex_unlock(&Q(dev)->mu);
	return r;
}

static int q_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	pthread_mutex_lock(&Q(dev)->mu);
	int r = q_pwrite_locked(dev, buf, len, off);
	pthread_mutex_unlock(&Q(dev)->mu);
	return r;
}

static int q_flush(struct rx_dev *dev)
{
	pthread_mutex_lock(&Q(dev)->mu);
	int r = q_flush_locked(dev);
	pthread_mutex_unlock(&Q(dev)->mu);
	return r;
}

/*
 * A read-ahead hint, mapped as a read is: allocated clusters become hints on
 * the host file (neighbours merged into one), what falls through to the
 * backing file a hint on it; zero and compressed clusters are left out. The
 * L2 tables are loaded as a read would load them. A hint records nothing:
 * a damaged map just ends it, and the read that follows reports the damage.
 */
static void q_advise(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	struct qcow2 *q = Q(dev);
	struct rx_ctx saved = *dev->ctx;
	uint64_t host_off = 0, host_len = 0, back_off = 0, back_len = 0;
	pthread_mutex_lock(&q->mu);
	while (len > 0) {
		uint64_t gc = off >> q->cb, co = off & (q->cs - 1);
		uint64_t n = RX_MIN(len, q->cs - co), host = 0, ce;
		int kind = classify(q, gc, co, &n, &host, &ce);
		if (kind < 0) {
			*dev->ctx = saved;
			break;
		}
		if (kind == K_DATA && host_len && host == host_off + host_len) {
			host_len += n;
		} else if (kind == K_DATA) {
			if (host_len)
				rx_dev_advise(q->file, host_off, host_len);
			host_off = host;
			host_len = n;
		} else if (kind == K_BACKING && q->backing && back_len && off == back_off + back_len) {
			back_len += n;
		} else if (kind == K_BACKING && q->backing) {
			if (back_len)
				rx_dev_advise(q->backing, back_off, back_len);
			back_off = off;
			back_len = n;
		}
		off += n;
		len -= n;
	}
	if (host_len)
		rx_dev_advise(q->file, host_off, host_len);
	if (back_len)
		rx_dev_advise(q->backing, back_off, back_len);
	pthread_mutex_unlock(&q->mu);
}

int rx_qcow2_extent(struct rx_dev *dev, uint64_t off, uint64_t *len, int *zero)
{
	pthread_mutex_lock(&Q(dev)->mu);
	int r = extent_locked(dev, off, len, zero);
	pthread_mutex_unlock(&Q(dev)->mu);
	return r;
}

int rx_qcow2_held(struct rx_dev *dev, uint64_t off, uint64_t *len, int *held)
{
	struct qcow2 *q = Q(dev);
	uint64_t done = 0, want = *len;
	int h = -1, r = 0;
	pthread_mutex_lock(&q->mu);
	while (done < want) {
		uint64_t gc = (off + done) >> q->cb, co = (off + done) & (q->cs - 1);
		uint64_t n = RX_MIN(want - done, q->cs - co), host, ce;
		int kind = classify(q, gc, co, &n, &host, &ce);
		if (kind < 0) {
			r = kind;
			break;
		}
		int kh = kind != K_BACKING;
		if (h >= 0 && kh != h)
			break;
		h = kh;
		done += n;
	}
	pthread_mutex_unlock(&q->mu);
	*len = done;
	*held = h > 0;
	return r;
}

/* ---- emptying (after a commit) ---- */

static int make_empty_locked(struct qcow2 *q)
{
	int r = prepare_write(q);
	if (r == 0)
		r = q_flush_meta(q);	/* nothing pending: every cached table is clean */
	for (uint64_t i = 0; r == 0 && i < q->l1_n; i++) {
		uint64_t e = l1_get(q, i), l2off = e & OFF_MASK;
		struct l2tab *t = NULL;
		if (!e)
			continue;
		if (l2off && !(e & COPIED))
			return rx_fail(q->dev.ctx, EROFS, "qcow2 L2 table %llu is shared (internal snapshot); not emptying",
				       (unsigned long long)i);
		if (l2off && (r = l2_load(q, i, &t)) != 0)
			return r;
		for (uint64_t k = 0; t && k < q->l2_n; k++) {
			free_entry_clusters(q, t->e[k]);
		}
		if (t) {
			add_free(q, l2off >> q->cb);
			free(t);
			q->l2c[i] = NULL;
			q->l2_loaded--;
		}
		/* Each L1 sector that reaches the disk hands its range back to the backing file whole. */
		put_be64(q->l1 + 8 * i, 0);
		q->l1_dirty[8 * i / SECTOR] = 1;
		q->meta_dirty = 1;
	}
	if (r == 0)
		r = q_flush_locked(&q->dev);
	if (r || q->dev.no_sync || strcmp(q->file->kind, "file"))
		return r;
	/* Give the free clusters at the end of the file back to the host. */
	uint64_t end = (q->file->size + q->cs - 1) >> q->cb, v = 0;
	while (end > 1 && (r = rc_get(q, end - 1, &v)) == 0 && v == 0)
		end--;
	if (r == 0 && (end << q->cb) < q->file->size) {
		if (ftruncate(q->file->fd, (off_t)(end << q->cb)) != 0)
			return rx_fail(q->dev.ctx, errno, "truncate: %s", strerror(errno));
		q->file->size = end << q->cb;
		q->next_free = RX_MIN(q->next_free, end);
	}
	return r;
}

int rx_qcow2_make_empty(struct rx_dev *dev)
{
	if (!dev->writable)
		return rx_fail(dev->ctx, EROFS, "opened read-only");
	pthread_mutex_lock(&Q(dev)->mu);
	int r = make_empty_locked(Q(dev));
	pthread_mutex_unlock(&Q(dev)->mu);
	return r;
}

/* ---- changing the backing file name ---- */

#define EXT_BACKING_FORMAT 0xE2792ACAu
#define EXT_FEATURE_NAMES 0x6803F857u

static size_t put_ext(uint8_t *p, uint32_t type, const void *data, uint32_t len);

static uint64_t pad8(uint64_t n)
{
	return (n + 7) / 8 * 8;
}

/*
 * The new header cluster h (from the current one, c0) naming name and fmt, or
 * no backing file. Only sector 0 can be written in one piece, so a layout is
 * accepted only if every byte it changes beyond sector 0 lies where the
 * current header keeps nothing (past its extensions, outside its backing
 * name [bf_lo, bf_hi)): such bytes are written first, and sector 0 switches
 * from the old header to the new one in one write. The name itself always
 * goes where the old header keeps nothing (right after the extensions, or
 * after the old name), so that it too can be written first, even in sector 0. The extensions are kept in order, the backing format
 * first, as qemu-img writes them; the feature name table (names only, for
 * messages) is dropped when keeping it would move bytes the current header
 * still uses.
 */
static int layout_header(struct qcow2 *q, const uint8_t *c0, uint8_t *h, uint32_t hlen, uint64_t ext_end,
			 uint64_t bf_lo, uint64_t bf_hi, const char *name, const char *fmt, int keep_names,
			 uint64_t *lo, uint64_t *hi)
{
	uint64_t cs = q->cs, w = hlen;
	size_t blen = name ? strlen(name) : 0;
	memcpy(h, c0, cs);
	if (name)
		w += put_ext(h + w, EXT_BACKING_FORMAT, fmt, (uint32_t)strlen(fmt));
	for (uint64_t e = hlen;;) {
		uint32_t type = get_be32(c0 + e), elen = get_be32(c0 + e + 4);
		if (type == 0)
			break;
		uint64_t step = 8 + pad8(elen);
		if (type != EXT_BACKING_FORMAT && (keep_names || type != EXT_FEATURE_NAMES)) {
			if (w + step + 8 > cs)
				return -1;
			memcpy(h + w, c0 + e, step);
			w += step;
		}
		e += step;
	}
	if (w + 8 > cs)
		return -1;
	memset(h + w, 0, 8);
	w += 8;
	uint64_t at = 0;
	if (name) {
		at = pad8(RX_MAX(w, ext_end));
		if (at < bf_hi && bf_lo < at + blen)
			at = pad8(RX_MAX(at, bf_hi));
		if (at + blen > cs)
			return -1;
		memcpy(h + at, name, blen);
	}
	put_be64(h + 8, at);
	put_be32(h + 16, (uint32_t)blen);
	*lo = cs;
	*hi = 0;
	for (uint64_t i = SECTOR; i < cs; i++) {
		if (h[i] == c0[i])
			continue;
		if (i < ext_end || (i >= bf_lo && i < bf_hi))
			return -1;
		*lo = RX_MIN(*lo, i);
		*hi = i + 1;
	}
	return 0;
}

static int set_backing_locked(struct qcow2 *q, const char *name, const char *fmt)
{
	struct rx_ctx *ctx = q->dev.ctx;
	uint64_t cs = q->cs;
	int r = q_flush_locked(&q->dev);
	if (r)
		return r;
	uint8_t *c0 = rx_xmalloc(cs), *h = rx_xmalloc(cs);
	if ((r = fread_at(q, c0, cs, 0)) != 0)
		goto out;
	/* The extensions as they are now (checked when the image was opened; checked again). */
	uint32_t hlen = q->info.version == 3 ? get_be32(c0 + 100) : 72;
	uint64_t p = hlen;
	for (int count = 0;; count++) {
		if (p + 8 > cs || count > 1024) {
			r = rx_fail(ctx, EIO, "corrupt qcow2: header extensions run past the first cluster");
			goto out;
		}
		uint32_t type = get_be32(c0 + p), elen = get_be32(c0 + p + 4);
		p += 8;
		if (type == 0)
			break;
		if (elen > cs - p) {
			r = rx_fail(ctx, EIO, "corrupt qcow2: header extension %#x is too long", type);
			goto out;
		}
		p += pad8(elen);
	}
	uint64_t ext_end = p, bf_lo = get_be64(c0 + 8), bf_hi = bf_lo + get_be32(c0 + 16);
	if (!bf_lo || bf_lo >= cs || bf_hi > cs)
		bf_lo = bf_hi = 0;
	uint64_t lo = 0, hi = 0;
	if (layout_header(q, c0, h, hlen, ext_end, bf_lo, bf_hi, name, fmt, 1, &lo, &hi) != 0 &&
	    layout_header(q, c0, h, hlen, ext_end, bf_lo, bf_hi, name, fmt, 0, &lo, &hi) != 0) {
		r = rx_fail(ctx, ENOSPC, "no room in the header cluster for the backing file name '%s'", name);
		goto out;
	}
	/*
	 * First the new name and whatever changes past sector 0, all where the old
	 * header keeps nothing (c0 becomes that mix), durable before sector 0
	 * points at them.
	 */
	uint64_t at = get_be64(h + 8), blen = get_be32(h + 16);
	if (blen) {
		memcpy(c0 + at, h + at, (size_t)blen);
		lo = RX_MIN(lo, at);
		hi = RX_MAX(hi, at + blen);
	}
	if (hi > lo) {
		memcpy(c0 + SECTOR, h + SECTOR, (size_t)(cs - SECTOR));
		uint64_t a = lo / SECTOR * SECTOR, b = (hi + SECTOR - 1) / SECTOR * SECTOR;
		if ((r = fwrite_at(q, c0 + a, (size_t)(b - a), a)) != 0 || (r = fsync_file(q)) != 0)
			goto out;
	}
	memcpy(q->hdr, h, SECTOR);
	if ((r = write_header_sector(q)) != 0)
		goto out;
	free(q->info.backing_name);
	free(q->info.backing_path);
	q->info.backing_name = name ? rx_xstrdup(name) : NULL;
	q->info.backing_path = NULL;
	snprintf(q->info.backing_format, sizeof(q->info.backing_format), "%s", name ? fmt : "");
	q->info.backing_format_probed = 0;
	if (name)
		r = resolve_backing(q);
out:
	free(c0);
	free(h);
	return r;
}

int rx_qcow2_set_backing(struct rx_dev *dev, const char *name, const char *fmt)
{
	if (!dev->writable)
		return rx_fail(dev->ctx, EROFS, "opened read-only");
	if (name && (!name[0] || strlen(name) > 1023))
		return rx_fail(dev->ctx, EINVAL, "a backing file name has 1 to 1023 bytes");
	if (name && (!fmt || (strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))))
		return rx_fail(dev->ctx, EINVAL, "backing format must be raw or qcow2");
	if (name && has_protocol(name))
		return rx_fail(dev->ctx, ENOTSUP, "backing file '%s': protocols and json: names are not supported", name);
	pthread_mutex_lock(&Q(dev)->mu);
	int r = set_backing_locked(Q(dev), name, fmt);
	pthread_mutex_unlock(&Q(dev)->mu);
	return r;
}

/* ---- open / close ---- */

static void q_close(struct rx_dev *dev)
{
	struct qcow2 *q = Q(dev);
	for (uint64_t i = 0; q->l2c && i < q->l1_n; i++)
		free(q->l2c[i]);
	for (uint64_t i = 0; q->rb && i < q->rt_n; i++)
		free(q->rb[i]);
	free(q->l2c);
	free(q->rb);
	free(q->l1);
	free(q->l1_dirty);
	free(q->rt);
	free(q->rt_dirty);
	free(q->frees);
	free(q->zbuf);
	free(q->zin);
	free(q->tmp);
	free(q->info.backing_name);
	free(q->info.backing_path);
	rx_dev_close(q->backing);
	rx_dev_close(q->file);
	pthread_mutex_destroy(&q->mu);
}

static const struct rx_dev_ops qcow2_ops = { q_pread, q_pwrite, q_flush, q_close, q_advise };

int rx_qcow2_is(const struct rx_dev *dev)
{
	return dev && dev->ops == &qcow2_ops;
}

const struct rx_qcow2_info *rx_qcow2_info(const struct rx_dev *dev)
{
	return rx_qcow2_is(dev) ? &((const struct qcow2 *)dev)->info : NULL;
}

struct rx_dev *rx_qcow2_backing(const struct rx_dev *dev)
{
	return rx_qcow2_is(dev) ? ((const struct qcow2 *)dev)->backing : NULL;
}

struct rx_dev *rx_qcow2_file(const struct rx_dev *dev)
{
	return rx_qcow2_is(dev) ? ((const struct qcow2 *)dev)->file : NULL;
}

/* QEMU reads "proto:..." and "json:{...}" as protocols; we open plain files only. */
static int has_protocol(const char *name)
{
	const char *colon = strchr(name, ':'), *slash = strchr(name, '/');
	return colon && (!slash || colon < slash);
}

static int parse_header(struct qcow2 *q, const uint8_t *c0, size_t c0len)
{
	struct rx_ctx *ctx = q->dev.ctx;
	struct rx_qcow2_info *in = &q->info;
	uint32_t version = get_be32(c0 + 4);
	if (version != 2 && version != 3)
		return rx_fail(ctx, ENOTSUP, "qcow2 version %u is not supported (2 and 3 are)", version);
	in->version = (int)version;
	uint64_t bf_off = get_be64(c0 + 8);
	uint32_t bf_size = get_be32(c0 + 16);
	uint32_t cb = get_be32(c0 + 20);
	in->size = get_be64(c0 + 24);
	uint32_t crypt = get_be32(c0 + 32);
	uint32_t l1_size = get_be32(c0 + 36);
	q->l1_off = get_be64(c0 + 40);
	q->rt_off = get_be64(c0 + 48);
	q->rt_clusters = get_be32(c0 + 56);
	in->nb_snapshots = get_be32(c0 + 60);
	uint32_t hlen = 72, rorder = 4;
	if (version == 3) {
		in->incompatible = get_be64(c0 + 72);
		in->compatible = get_be64(c0 + 80);
		in->autoclear = get_be64(c0 + 88);
		rorder = get_be32(c0 + 96);
		hlen = get_be32(c0 + 100);
		if (hlen < 104 || hlen % 8)
			return rx_fail(ctx, EIO, "corrupt qcow2: header length %u", hlen);
		if (hlen > 104)
			in->compression = c0[104];
	}
	if (cb < 9 || cb > 21)
		return rx_fail(ctx, EIO, "corrupt qcow2: cluster_bits %u out of range (9..21)", cb);
	q->cb = cb;
	q->cs = 1ULL << cb;
	if (hlen > q->cs || c0len < q->cs)
		return rx_fail(ctx, EIO, "corrupt qcow2: header does not fit in the first cluster");
	if (crypt)
		return rx_fail(ctx, ENOTSUP, "encrypted qcow2 images are not supported");
	uint64_t unknown = in->incompatible & ~INCOMPAT_KNOWN;
	if (unknown)
		return rx_fail(ctx, ENOTSUP, "qcow2 image uses unknown incompatible features (%#llx)",
			       (unsigned long long)unknown);
	if (in->incompatible & INCOMPAT_DATA_FILE)
		return rx_fail(ctx, ENOTSUP, "qcow2 images with an external data file are not supported");
	if (in->compression > 1 || (in->compression && !(in->incompatible & INCOMPAT_COMPRESSION)))
		return rx_fail(ctx, EIO, "corrupt qcow2: compression type %d", in->compression);
	in->extended_l2 = !!(in->incompatible & INCOMPAT_EXTL2);
	if (in->extended_l2 && cb < 14)
		return rx_fail(ctx, EIO, "corrupt qcow2: extended L2 entries need clusters of 16 KiB or more");
	if (rorder > 6 || (version == 2 && rorder != 4))
		return rx_fail(ctx, EIO, "corrupt qcow2: refcount order %u", rorder);
	q->rorder = rorder;
	in->refcount_bits = 1u << rorder;
	in->cluster_bits = cb;
	q->epb = q->cs * 8 / in->refcount_bits;

	/* Address translation tables. */
	q->l2_n = q->cs / (in->extended_l2 ? 16 : 8);
	if (in->size > (1ULL << 62))
		return rx_fail(ctx, EIO, "corrupt qcow2: virtual size %llu", (unsigned long long)in->size);
	uint64_t per_l1 = q->l2_n << cb;
	q->l1_n = (in->size + per_l1 - 1) / per_l1;
	if (l1_size < q->l1_n)
		return rx_fail(ctx, EIO, "corrupt qcow2: L1 table has %u entries but the disk needs %llu", l1_size,
			       (unsigned long long)q->l1_n);
	if (q->l1_n * 8 > MAX_L1_BYTES)
		return rx_fail(ctx, EFBIG, "qcow2 L1 table too large (%llu entries)", (unsigned long long)q->l1_n);
	uint64_t fs = q->file->size;
	if (q->l1_n) {
		if (q->l1_off & (q->cs - 1))
			return rx_fail(ctx, EIO, "corrupt qcow2: L1 table at byte %llu is not cluster aligned",
				       (unsigned long long)q->l1_off);
		if (q->l1_off < q->cs)
			return rx_fail(ctx, EIO, "corrupt qcow2: L1 table overlaps the header");
		if (q->l1_off > fs || q->l1_n * 8 > fs - q->l1_off)
			return rx_fail(ctx, EIO, "corrupt qcow2: L1 table (bytes %llu..%llu) lies past the end of the file (%llu bytes)",
				       (unsigned long long)q->l1_off, (unsigned long long)(q->l1_off + q->l1_n * 8),
				       (unsigned long long)fs);
	}
	if (q->rt_off & (q->cs - 1))
		return rx_fail(ctx, EIO, "corrupt qcow2: refcount table at byte %llu is not cluster aligned",
			       (unsigned long long)q->rt_off);
	if (q->rt_off < q->cs)
		return rx_fail(ctx, EIO, "corrupt qcow2: refcount table at byte %llu overlaps the header",
			       (unsigned long long)q->rt_off);
	if (q->rt_clusters == 0 || q->rt_clusters * q->cs > MAX_RT_BYTES)
		return rx_fail(ctx, EIO, "corrupt qcow2: refcount table of %llu clusters",
			       (unsigned long long)q->rt_clusters);
	if (q->rt_off >= fs)
		return rx_fail(ctx, EIO, "corrupt qcow2: refcount table at byte %llu lies past the end of the file",
			       (unsigned long long)q->rt_off);
	if (q->l1_n && q->rt_off < q->l1_off + q->l1_n * 8 && q->l1_off < q->rt_off + q->rt_clusters * q->cs)
		return rx_fail(ctx, EIO, "corrupt qcow2: refcount table overlaps the L1 table");

	/* Header extensions: only the backing format matters here. */
	uint64_t p = hlen;
	for (int count = 0;; count++) {
		if (p + 8 > q->cs || count > 1024)
			return rx_fail(ctx, EIO, "corrupt qcow2: header extensions run past the first cluster");
		uint32_t type = get_be32(c0 + p), elen = get_be32(c0 + p + 4);
		if (type == 0)
			break;
		if (elen > q->cs - p - 8)
			return rx_fail(ctx, EIO, "corrupt qcow2: header extension %#x is too long", type);
		if (type == 0xE2792ACA) {
			if (elen == 0 || elen >= sizeof(in->backing_format))
				return rx_fail(ctx, EIO, "corrupt qcow2: backing format name of %u bytes", elen);
			memcpy(in->backing_format, c0 + p + 8, elen);
			in->backing_format[elen] = 0;
		} else if (type == 0x44415441) {
			return rx_fail(ctx, ENOTSUP, "qcow2 images with an external data file are not supported");
		}
		p += 8 + ((uint64_t)elen + 7) / 8 * 8;
	}

	if (bf_off) {
		if (bf_size == 0 || bf_size > 1023 || bf_off >= q->cs || bf_size > q->cs - bf_off)
			return rx_fail(ctx, EIO, "corrupt qcow2: backing file name (%u bytes at %llu) outside the header cluster",
				       bf_size, (unsigned long long)bf_off);
		if (memchr(c0 + bf_off, 0, bf_size))
			return rx_fail(ctx, EIO, "corrupt qcow2: backing file name contains a NUL byte");
		in->backing_name = rx_xmalloc(bf_size + 1);
		memcpy(in->backing_name, c0 + bf_off, bf_size);
		in->backing_name[bf_size] = 0;
	}
	return 0;
}

char *rx_qcow2_backing_path(const char *image, const char *name, int absolute)
{
	if (name[0] == '/')
		return rx_xstrdup(name);
	char *copy = rx_xstrdup(image), *real = NULL, *out;
	const char *dir = dirname(copy);
	if (absolute && (real = realpath(dir, NULL)) != NULL)
		dir = real;
	out = strcmp(dir, ".") ? rx_path_join(dir, name, strlen(name)) : rx_xstrdup(name);
	free(real);
	free(copy);
	return out;
}

static int resolve_backing(struct qcow2 *q)
{
	struct rx_qcow2_info *in = &q->info;
	const char *name = in->backing_name;
	if (has_protocol(name))
		return rx_fail(q->dev.ctx, ENOTSUP, "backing file '%s': protocols and json: names are not supported", name);
	in->backing_path = rx_qcow2_backing_path(q->file->name, name, 0);
	const char *fmt = in->backing_format;
	if (fmt[0] && strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))
		return rx_fail(q->dev.ctx, ENOTSUP, "backing file '%s' has format '%s' (only raw and qcow2 are supported)",
			       name, fmt);
	return 0;
}

/*
 * A backing file that is not there: say where it was looked for, since a
 * relative name is resolved against the overlay's folder, not the current one.
 */
static int missing_backing(struct qcow2 *q)
{
	const char *name = q->info.backing_name;
	if (name[0] == '/')
		return rx_fail(q->dev.ctx, ENOENT, "backing file %s does not exist", name);
	char *abs = rx_qcow2_backing_path(q->file->name, name, 1);
	int r = rx_fail(q->dev.ctx, ENOENT, "backing file %s (named \"%s\" in the header, relative to the overlay's "
			"folder) does not exist", abs, name);
	free(abs);
	return r;
}

static int open_backing(struct qcow2 *q, int mode, const struct rx_chain *chain, struct rx_dev **out)
{
	struct rx_ctx *ctx = q->dev.ctx;
	struct rx_qcow2_info *in = &q->info;
	struct stat st;
	const char *fmt = in->backing_format[0] ? in->backing_format : NULL;
	if (stat(in->backing_path, &st) != 0 && errno == ENOENT)
		return missing_backing(q);
	int r = rx_dev_open_chain(ctx, in->backing_path, mode, fmt, chain, out);
	if (r) {
		rx_prefix(ctx, "backing file %s", in->backing_path);
		return r;
	}
	if (!fmt) {
		snprintf(in->backing_format, sizeof(in->backing_format), "%s", rx_qcow2_is(*out) ? "qcow2" : "raw");
		in->backing_format_probed = 1;
	}
	return 0;
}

int rx_qcow2_open_backing(struct rx_dev *dev, int mode, struct rx_dev **out)
{
	struct qcow2 *q = Q(dev);
	if (!q->info.backing_name)
		return rx_fail(dev->ctx, ENOENT, "has no backing file");
	return open_backing(q, mode, &q->self, out);
}

int rx_qcow2_open(struct rx_dev *file, int mode, const struct rx_chain *chain, struct rx_dev **out)
{
	struct qcow2 *q = rx_xcalloc(1, sizeof(*q));
	struct rx_ctx *ctx = file->ctx;
	pthread_mutex_init(&q->mu, NULL);
	q->dev.ops = &qcow2_ops;
	q->dev.ctx = ctx;
	q->dev.name = rx_xstrdup(file->name);
	q->dev.writable = (mode & RX_DEV_RDWR) != 0;
	q->dev.fd = -1;		/* guest bytes are not the file's: partition probing stages them */
	q->dev.kind = file->kind;
	q->file = file;
	q->info.file_size = file->size;

	/* The whole header cluster (cluster_bits is checked before it is used). */
	uint8_t first[SECTOR];
	int r = fread_at(q, first, SECTOR, 0);
	uint32_t cb = get_be32(first + 20);
	size_t c0len = cb >= 9 && cb <= 21 ? (size_t)1 << cb : SECTOR;
	uint8_t *c0 = rx_xcalloc(1, c0len);
	if (r == 0)
		r = fread_at(q, c0, c0len, 0);
	if (r == 0 && (file->size < 104 || get_be32(c0) != QCOW2_MAGIC))
		r = rx_fail(ctx, EIO, "not a qcow2 image (too short or bad magic)");
	if (r == 0)
		r = parse_header(q, c0, c0len);
	if (r == 0)
		memcpy(q->hdr, c0, SECTOR);
	free(c0);
	if (r == 0 && q->dev.writable && (q->info.incompatible & INCOMPAT_DIRTY))
		r = rx_fail(ctx, EROFS, "qcow2 image is marked dirty (lazy refcounts); open it with QEMU once, or run 'qemu-img check -r all', before writing");
	if (r == 0 && q->dev.writable && (q->info.incompatible & INCOMPAT_CORRUPT))
		r = rx_fail(ctx, EROFS, "qcow2 image is marked corrupt; repair it with 'qemu-img check -r all' before writing");
	if (r == 0 && q->dev.writable && q->info.extended_l2)
		r = rx_fail(ctx, EROFS, "writing qcow2 images with extended L2 entries is not supported");
	if (r == 0 && q->dev.writable && q->info.nb_snapshots)
		r = rx_fail(ctx, EROFS, "qcow2 image has internal snapshots; rximg does not write those");
	if (r == 0) {
		q->l1_len = (size_t)((q->l1_n * 8 + SECTOR - 1) / SECTOR * SECTOR);
		q->l1 = rx_xcalloc(1, q->l1_len ? q->l1_len : 1);
		q->l1_dirty = rx_xcalloc(q->l1_len / SECTOR + 1, 1);
		q->l2c = rx_xcalloc(q->l1_n ? q->l1_n : 1, sizeof(*q->l2c));
		if (q->l1_n)
			r = fread_at(q, q->l1, q->l1_len, q->l1_off);
	}
	if (chain)
		q->self = (struct rx_chain){ chain->dev, chain->ino, chain->depth, NULL };
	if (r == 0 && q->info.backing_name)
		r = resolve_backing(q);
	if (r == 0 && q->info.backing_name && !(mode & RX_DEV_NO_BACKING))
		r = open_backing(q, RX_DEV_RDONLY, chain, &q->backing);
	if (r) {
		q_close(&q->dev);
		free(q->dev.name);
		free(q);
		return r;
	}
	q->dev.size = q->info.size;
	*out = &q->dev;
	return 0;
}

/* ---- creating ---- */

static size_t put_ext(uint8_t *p, uint32_t type, const void *data, uint32_t len)
{
	put_be32(p, type);
	put_be32(p + 4, len);
	memcpy(p + 8, data, len);
	return 8 + ((size_t)len + 7) / 8 * 8;
}

int rx_qcow2_create_fd(struct rx_ctx *ctx, int fd, const struct rx_qcow2_create_opts *o)
{
	unsigned cb = o->cluster_bits ? o->cluster_bits : 16;
	if (cb < 9 || cb > 21)
		return rx_fail(ctx, EINVAL, "cluster size must be a power of two from 512 bytes to 2 MiB");
	uint64_t cs = 1ULL << cb, per_l1 = (cs / 8) << cb;
	uint64_t l1_n = (o->size + per_l1 - 1) / per_l1;
	uint64_t l1_clusters = RX_MAX((l1_n * 8 + cs - 1) / cs, 1);
	if (l1_n * 8 > MAX_L1_BYTES || o->size > (1ULL << 62))
		return rx_fail(ctx, EFBIG, "virtual size too large for %llu-byte clusters", (unsigned long long)cs);
	uint64_t nclusters = 3 + l1_clusters, epb = cs * 8 / 16;
	if (nclusters > epb)
		return rx_fail(ctx, EFBIG, "virtual size too large for %llu-byte clusters", (unsigned long long)cs);
	size_t total = (size_t)(nclusters * cs);
	uint8_t *img = rx_xcalloc(1, total), *h = img;
	put_be32(h, QCOW2_MAGIC);
	put_be32(h + 4, 3);
	put_be32(h + 20, cb);
	put_be64(h + 24, o->size);
	put_be32(h + 36, (uint32_t)l1_n);
	put_be64(h + 40, 3 * cs);
	put_be64(h + 48, cs);
	put_be32(h + 56, 1);
	put_be32(h + 96, 4);
	put_be32(h + 100, 112);
	size_t p = 112;
	if (o->backing)
		p += put_ext(h + p, 0xE2792ACA, o->backing_format, (uint32_t)strlen(o->backing_format));
	/* The feature name table, as qemu-img writes it: lets tools name the bits. */
	static const struct { uint8_t type, bit; const char *name; } feat[] = {
		{ 0, 0, "dirty bit" }, { 0, 1, "corrupt bit" }, { 0, 2, "external data file" },
		{ 0, 3, "compression type" }, { 0, 4, "extended L2 entries" }, { 1, 0, "lazy refcounts" },
		{ 2, 0, "bitmaps" }, { 2, 1, "raw external data" },
	};
	size_t blen = o->backing ? strlen(o->backing) : 0;
	if (p + 8 + 48 * RX_ARRAY_SIZE(feat) + 8 + blen <= cs) {
		uint8_t table[48 * RX_ARRAY_SIZE(feat)];
		memset(table, 0, sizeof(table));
		for (size_t i = 0; i < RX_ARRAY_SIZE(feat); i++) {
			table[48 * i] = feat[i].type;
			table[48 * i + 1] = feat[i].bit;
			memcpy(table + 48 * i + 2, feat[i].name, strlen(feat[i].name));
		}
		p += put_ext(h + p, 0x6803F857, table, sizeof(table));
	}
	p += 8;		/* end of extensions */
	if (o->backing) {
		if (blen == 0 || blen > 1023 || p + blen > cs) {
			free(img);
			return rx_fail(ctx, EINVAL, "backing file name too long for the header cluster");
		}
		put_be64(h + 8, p);
		put_be32(h + 16, (uint32_t)blen);
		memcpy(h + p, o->backing, blen);
	}
	put_be64(img + cs, 2 * cs);			/* refcount table -> block */
	for (uint64_t c = 0; c < nclusters; c++)	/* 16-bit counts of 1 */
		img[2 * cs + 2 * c + 1] = 1;
	int r = 0;
	for (size_t done = 0; done < total && r == 0;) {
		ssize_t n = pwrite(fd, img + done, total - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = rx_fail(ctx, n < 0 ? errno : EIO, "write: %s", strerror(n < 0 ? errno : EIO));
		else
			done += (size_t)n;
	}
	free(img);
	return r;
}

/* The next component of an absolute path: its start and length, or 0 at the end. */
static size_t component(const char **p, const char **start)
{
	while (**p == '/')
		(*p)++;
	*start = *p;
	while (**p && **p != '/')
		(*p)++;
	return (size_t)(*p - *start);
}

/* target relative to the folder dir (both absolute and canonical). */
static char *relative_to(const char *target, const char *dir)
{
	const char *t = target, *d = dir, *ts, *ds, *rest = target;
	size_t tl, dl;
	/* Skip the components both share. */
	for (;;) {
		const char *tsave = t;
		tl = component(&t, &ts);
		dl = component(&d, &ds);
		if (!tl || !dl || tl != dl || memcmp(ts, ds, tl)) {
			rest = tsave;
			break;
		}
	}
	size_t ups = 0;
	for (; dl; dl = component(&d, &ds))
		ups++;
	while (*rest == '/')
		rest++;
	char *out = rx_xmalloc(3 * ups + strlen(rest) + 1), *o = out;
	for (size_t k = 0; k < ups; k++, o += 3)
		memcpy(o, "../", 3);
	strcpy(o, rest);
	return out;
}

/* Write the overlay file path on base (opened from open_path), storing the name stored. */
static int write_overlay(struct rx_ctx *ctx, const char *open_path, const char *fmt, const char *stored,
			 const char *path, unsigned cluster_bits)
{
	struct rx_dev *b = NULL;
	int r = rx_dev_open_file(ctx, open_path, RX_DEV_RDONLY, &b);
	if (r == 0)
		r = rx_dev_check_format(b, fmt);
	if (r) {
		rx_dev_close(b);
		rx_prefix(ctx, "%s", open_path);
		return r;
	}
	struct rx_qcow2_create_opts o = { b->size, cluster_bits, stored, rx_qcow2_is(b) ? "qcow2" : "raw" };
	rx_dev_close(b);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return rx_fail(ctx, errno, "%s: %s", path, strerror(errno));
	r = rx_qcow2_create_fd(ctx, fd, &o);
	if (r == 0 && rx_sync_fd(fd) != 0)
		r = rx_fail(ctx, errno, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	if (r)
		unlink(path);
	return r;
}

int rx_qcow2_make_overlay(struct rx_ctx *ctx, const char *base, const char *path, const char *final_path,
			  int relative, unsigned cluster_bits)
{
	char *abs_base = realpath(base, NULL), *stored = NULL;
	if (!abs_base)
		return rx_fail(ctx, errno, "%s: %s", base, strerror(errno));
	if (relative) {
		char *copy = rx_xstrdup(final_path);
		char *dir = realpath(dirname(copy), NULL);
		free(copy);
		if (!dir) {
			free(abs_base);
			return rx_fail(ctx, errno, "%s: %s", final_path, strerror(errno));
		}
		stored = relative_to(abs_base, dir);
		free(dir);
	} else {
		stored = rx_xstrdup(abs_base);
	}
	free(abs_base);
	int r = write_overlay(ctx, base, NULL, stored, path, cluster_bits);
	free(stored);
	return r;
}

int rx_qcow2_make_overlay_named(struct rx_ctx *ctx, const char *name, const char *fmt, const char *path,
				const char *final_path, unsigned cluster_bits)
{
	if (!name[0] || strlen(name) > 1023)
		return rx_fail(ctx, EINVAL, "a backing file name has 1 to 1023 bytes");
	if (has_protocol(name))
		return rx_fail(ctx, ENOTSUP, "backing file '%s': protocols and json: names are not supported", name);
	char *open_path = rx_qcow2_backing_path(final_path, name, 0);
	int r = write_overlay(ctx, open_path, fmt, name, path, cluster_bits);
	free(open_path);
	return r;
}
