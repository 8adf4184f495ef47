/* Writing file data: records, compression, inline data, truncation, deletion (spec 8, 9). */
#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "wr.h"

static const struct {
	unsigned slots, base, depth;
} ranges[5] = { { 128, 0, 0 }, { 64, 128, 1 }, { 32, 192, 2 }, { 16, 224, 3 }, { 8, 240, 4 } };

static unsigned for_bytes(uint64_t n)
{
	unsigned l = 0;
	while (((uint64_t)RFS_BLOCK << l) < n)
		l++;
	return l;
}

int rfs_node_new(struct rfs_tx *tx, uint16_t mode, uint32_t uid, uint32_t gid, struct rfs_time t,
		 struct rfs_node *out)
{
	uint32_t id;
	int r = rfs_tree_alloc_id(tx, &id);
	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->mode = mode;
	out->uid = uid;
	out->gid = gid;
	out->links = 0;
	out->blocks = 1;
	out->ctime = out->mtime = out->atime = t.sec;
	out->ctime_nsec = out->mtime_nsec = out->atime_nsec = t.nsec;
	out->record_level = (mode & RFS_MODE_TYPE) == RFS_MODE_FILE ? RFS_RECORD_LEVEL : 0;
	out->flags = (mode & RFS_MODE_TYPE) == RFS_MODE_DIR ? 0 : RFS_FLAG_INLINE;
	return rfs_node_put(tx, out);
}

/*
 * The slot of record r: inside the node, or in a BlockList made writable on
 * the way. With create unset, a missing BlockList means a hole (*slot = NULL).
 */
static int record_slot(struct rfs_tx *tx, struct rfs_node *n, uint64_t r, int create, uint8_t **slot)
{
	*slot = NULL;
	for (unsigned k = 0; k < 5; k++) {
		unsigned depth = ranges[k].depth;
		uint64_t span = (uint64_t)ranges[k].slots << (8 * depth);
		if (r >= span) {
			r -= span;
			continue;
		}
		uint8_t *s = n->raw + RFS_INLINE_OFF + 16 * (ranges[k].base + (unsigned)(r >> (8 * depth)));
		for (unsigned d = depth; d > 0; d--) {
			int was_null = rfs_ptr_is_null(rfs_ptr_decode(s));
			if (was_null && !create)
				return 0;
			uint8_t *b = rfs_tx_mut(tx, s, BT_BLOCKLIST);
			if (!b)
				return -tx->fs->ctx->err;
			if (was_null)
				n->blocks++;
			s = b + 16 * ((r >> (8 * (d - 1))) & 0xFF);
		}
		*slot = s;
		return 0;
	}
	return rx_fail(tx->fs->ctx, EFBIG, "file too large");
}

struct scratch {
	uint8_t *rec;	/* one logical record */
	uint8_t *out;	/* a stored (possibly compressed) record */
};

static void scratch_init(struct scratch *s)
{
	s->rec = rx_xmalloc((size_t)RFS_BLOCK << RFS_RECORD_LEVEL);
	s->out = rx_xmalloc((size_t)RFS_BLOCK << RFS_RECORD_LEVEL);
}

static void scratch_free(struct scratch *s)
{
	free(s->rec);
	free(s->out);
}

/*
 * LZ4-compress a logical record of level D when that saves at least one level
 * (spec 9.4). Returns the bytes to store (data itself or out) and their levels.
 * Pure: safe to run on several threads at once.
 */
static const uint8_t *compress_record(const uint8_t *data, unsigned D, uint8_t *out,
				      unsigned *level, unsigned *decomp)
{
	size_t logical = (size_t)RFS_BLOCK << D;
	*level = D;
	*decomp = 0;
	if (D == 0)
		return data;
	/*
	 * Random data (compiled code, compressed files) never shrinks: when three
	 * 4 KiB samples (start, middle, end) do not compress at all, skip the
	 * whole-record attempt. Storing uncompressed is always valid.
	 */
	if (D >= 3) {
		char tmp[LZ4_COMPRESSBOUND(RFS_BLOCK)];
		int hopeless = 1;
		for (int k = 0; k < 3 && hopeless; k++) {
			const uint8_t *at = data + (logical - RFS_BLOCK) / 2 * (size_t)k;
			int c = LZ4_compress_default((const char *)at, tmp, RFS_BLOCK, (int)sizeof(tmp));
			hopeless = c <= 0 || c >= (int)(RFS_BLOCK - RFS_BLOCK / 64);
		}
		if (hopeless)
			return data;
	}
	/* Capacity capped at the largest useful payload: hopeless data gives up early. */
	int cap = (int)RX_MIN((size_t)LZ4_compressBound((int)logical), (size_t)65534);
	int clen = LZ4_compress_default((const char *)data, (char *)out + 2, (int)logical, cap);
	if (clen <= 0 || clen + 2 > 65536 || for_bytes((uint64_t)clen + 2) >= D)
		return data;
	*level = for_bytes((uint64_t)clen + 2);
	*decomp = D;
	put_le16(out, (uint16_t)clen);
	memset(out + 2 + clen, 0, ((size_t)RFS_BLOCK << *level) - 2 - (size_t)clen);
	return out;
}

/* Write stored bytes as the record the slot names, freeing what it held. */
static int place_record(struct rfs_tx *tx, struct rfs_node *n, uint8_t *slot, const uint8_t *src,
			unsigned level, unsigned decomp)
{
	struct rfs_ptr p, old = rfs_ptr_decode(slot);
	int r = rfs_tx_write_record(tx, src, level, decomp, &p);
	if (r)
		return r;
	if (!rfs_ptr_is_null(old)) {
		rfs_tx_free(tx, rfs_ptr_index(old), rfs_ptr_level(old));
		n->blocks -= 1ULL << rfs_ptr_level(old);
	}
	n->blocks += 1ULL << level;
	rfs_ptr_encode(slot, p);
	return 0;
}

static int store_record(struct rfs_tx *tx, struct rfs_node *n, uint8_t *slot, const uint8_t *data,
			unsigned D, struct scratch *s)
{
	unsigned level, decomp;
	const uint8_t *src = compress_record(data, D, s->out, &level, &decomp);
	return place_record(tx, n, slot, src, level, decomp);
}

/* Whole new records of one write, compressed ahead on every core. */
struct precomp {
	const uint8_t *in;
	unsigned D;
	uint8_t *out;
	const uint8_t *src;
	unsigned level, decomp;
};

struct pc_batch {
	struct precomp *jobs;
	size_t count, next;
	pthread_mutex_t lock;
};

static void *pc_worker(void *arg)
{
	struct pc_batch *b = arg;
	for (;;) {
		pthread_mutex_lock(&b->lock);
		size_t i = b->next++;
		pthread_mutex_unlock(&b->lock);
		if (i >= b->count)
			return NULL;
		struct precomp *j = &b->jobs[i];
		j->src = compress_record(j->in, j->D, j->out, &j->level, &j->decomp);
	}
}

static unsigned cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

/*
 * For a write spanning several whole records that hold no data yet (a new
 * file, appends), compress them in parallel. Returns the jobs indexed by
 * record - first (NULL entries: do it the ordinary way), or NULL.
 */
static struct precomp **precompress(struct rfs_tx *tx, struct rfs_node *n, uint64_t off,
				    const uint8_t *data, size_t len, uint64_t *first)
{
	uint64_t rs = rfs_record_size(n), nrec = n->size / rs + (n->size % rs != 0);
	unsigned threads = cores();
	if (threads < 2 || off % rs || len < 2 * rs || rs < (uint64_t)RFS_BLOCK << 1)
		return NULL;
	size_t whole = (size_t)(len / rs);
	/* map[whole] keeps the job array itself, for precompress_free. */
	struct precomp **map = rx_xcalloc(whole + 1, sizeof(*map));
	struct pc_batch b = { rx_xcalloc(whole, sizeof(*b.jobs)), 0, 0, PTHREAD_MUTEX_INITIALIZER };
	for (size_t i = 0; i < whole; i++) {
		uint64_t r = off / rs + i;
		struct rfs_ptr p = { 0, 0 };
		if (r < nrec && (rfs_record_ptr(tx->fs, n, r, &p) != 0 || !rfs_ptr_is_null(p))) {
			rx_clear(tx->fs->ctx);
			continue;	/* existing data: compared and merged by the ordinary path */
		}
		struct precomp *j = &b.jobs[b.count++];
		j->in = data + i * rs;
		j->D = n->record_level;
		j->out = rx_xmalloc((size_t)rs);
		map[i] = j;
	}
	if (b.count < 2) {
		for (size_t i = 0; i < b.count; i++)
			free(b.jobs[i].out);
		free(b.jobs);
		free(map);
		return NULL;
	}
	map[whole] = b.jobs;
	pthread_t th[8];
	unsigned started = 0;
	for (unsigned t = 1; t < threads && t < b.count; t++)
		if (pthread_create(&th[started], NULL, pc_worker, &b) == 0)
			started++;
	pc_worker(&b);
	for (unsigned t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	*first = off / rs;
	return map;
}

static void precompress_free(struct precomp **map, size_t whole)
{
	if (!map)
		return;
	for (size_t i = 0; i < whole; i++)
		if (map[i])
			free(map[i]->out);
	free(map[whole]);
	free(map);
}

static int write_records(struct rfs_tx *tx, struct rfs_node *n, uint64_t off, const uint8_t *data,
			 size_t len, struct scratch *s)
{
	uint64_t rs = rfs_record_size(n);
	uint64_t nrec = n->size / rs + (n->size % rs != 0), first = 0;
	size_t whole = (size_t)(len / rs);
	struct precomp **pre = precompress(tx, n, off, data, len, &first);
	int ret = 0;
	while (len > 0) {
		uint64_t r = off / rs, j = off % rs;
		size_t cnt = (size_t)RX_MIN((uint64_t)len, rs - j);
		uint8_t *slot;
		ret = record_slot(tx, n, r, 1, &slot);
		if (ret)
			break;
		struct precomp *pc = pre && r >= first && r - first < whole ? pre[r - first] : NULL;
		if (pc) {
			ret = place_record(tx, n, slot, pc->src, pc->level, pc->decomp);
			if (ret)
				break;
			off += cnt;
			data += cnt;
			len -= cnt;
			if (off > n->size)
				n->size = off;
			nrec = n->size / rs + (n->size % rs != 0);
			continue;
		}
		struct rfs_ptr old = rfs_ptr_decode(slot);
		/* Pointers at or past the end of file are stale (reference truncate): ignore their data. */
		int have = r < nrec && !rfs_ptr_is_null(old);
		unsigned need = for_bytes(j + cnt);
		unsigned old_level = have ? (rfs_ptr_decomp(old) ? rfs_ptr_decomp(old) : rfs_ptr_level(old)) : 0;
		unsigned D = RX_MAX(need, old_level);
		size_t logical = (size_t)RFS_BLOCK << D;
		if (have) {
			ret = rfs_record_load(tx->fs, n, old, s->rec);
			int known = ret == 0;
			if (rfs_is_damage(ret) && cnt == rs) {
				/* Overwritten whole: the damaged bytes are not needed, not even to compare. */
				rx_clear(tx->fs->ctx);
				ret = 0;
			}
			if (ret)
				break;
			if (known && memcmp(s->rec + j, data, cnt) == 0) {
				off += cnt;
				data += cnt;
				len -= cnt;
				if (off > n->size)	/* zeros written past the end still extend it */
					n->size = off;
				nrec = n->size / rs + (n->size % rs != 0);
				continue;	/* same bytes: nothing to write */
			}
			/* Whatever lies past the old end of file reads as zeros (never stale bytes). */
			uint64_t eof = n->size - r * rs;
			if (eof < rs)
				memset(s->rec + eof, 0, (size_t)(rs - eof));
		} else {
			memset(s->rec, 0, logical);
		}
		memcpy(s->rec + j, data, cnt);
		ret = store_record(tx, n, slot, s->rec, D, s);
		if (ret)
			break;
		off += cnt;
		data += cnt;
		len -= cnt;
		if (off > n->size)
			n->size = off;
		nrec = n->size / rs + (n->size % rs != 0);
	}
	precompress_free(pre, whole);
	return ret;
}

static void clear_level_area(struct rfs_node *n)
{
	memset(n->raw + RFS_INLINE_OFF, 0, RFS_INLINE_MAX);
}

int rfs_file_write(struct rfs_tx *tx, struct rfs_node *n, uint64_t off, const void *buf, size_t len)
{
	if (rfs_is_dir(n))
		return rx_fail(tx->fs->ctx, EISDIR, "is a directory");
	if (len == 0)
		return 0;
	if (off + len < off || off + len > rfs_max_file_size(n))
		return rx_fail(tx->fs->ctx, EFBIG, "file too large");
	if (rfs_is_inline(n)) {
		if (off + len < RFS_INLINE_MAX) {
			uint8_t *area = n->raw + RFS_INLINE_OFF;
			if (off > n->size)
				memset(area + n->size, 0, (size_t)(off - n->size));
			memcpy(area + off, buf, len);
			n->size = RX_MAX(n->size, off + len);
			return 0;
		}
		/* Convert to records, one way (spec 8.6). */
		size_t keep = (size_t)RX_MIN(n->size, (uint64_t)RFS_INLINE_MAX);
		uint8_t *copy = rx_xmalloc(keep + 1);
		memcpy(copy, n->raw + RFS_INLINE_OFF, keep);
		uint64_t size = n->size;
		n->flags &= ~RFS_FLAG_INLINE;
		clear_level_area(n);
		n->size = 0;
		struct scratch s;
		scratch_init(&s);
		int r = keep ? write_records(tx, n, 0, copy, keep, &s) : 0;
		free(copy);
		n->size = RX_MAX(n->size, size);
		if (r == 0)
			r = write_records(tx, n, off, buf, len, &s);
		scratch_free(&s);
		return r;
	}
	struct scratch s;
	scratch_init(&s);
	int r = write_records(tx, n, off, buf, len, &s);
	scratch_free(&s);
	return r;
}

/* Free a whole subtree of record pointers (depth BlockList levels above the records). */
static int free_tree(struct rfs_tx *tx, struct rfs_node *n, struct rfs_ptr p, unsigned depth)
{
	if (rfs_ptr_is_null(p))
		return 0;
	if (depth > 0) {
		uint8_t b[RFS_BLOCK];
		int r = rfs_read_ptr(tx->fs, p, 1, b);
		if (r)
			return r;
		for (unsigned i = 0; i < RFS_BLOCKLIST_ENTRIES; i++)
			if ((r = free_tree(tx, n, rfs_ptr_decode(b + 16 * i), depth - 1)) != 0)
				return r;
	}
	rfs_tx_free(tx, rfs_ptr_index(p), depth ? 0 : rfs_ptr_level(p));
	n->blocks -= depth ? 1 : 1ULL << rfs_ptr_level(p);
	return 0;
}

/* Drop every record >= first under slot (covering records base.. at depth). */
static int cut_tree(struct rfs_tx *tx, struct rfs_node *n, uint8_t *slot, unsigned depth,
		    uint64_t base, uint64_t first)
{
	struct rfs_ptr p = rfs_ptr_decode(slot);
	uint64_t span = 1ULL << (8 * depth);
	if (rfs_ptr_is_null(p) || base + span <= first)
		return 0;
	if (base >= first) {
		int r = free_tree(tx, n, p, depth);
		if (r == 0)
			memset(slot, 0, 16);
		return r;
	}
	uint8_t *b = rfs_tx_mut(tx, slot, BT_BLOCKLIST);
	if (!b)
		return -tx->fs->ctx->err;
	uint64_t step = span >> 8;
	int any = 0;
	for (unsigned i = 0; i < RFS_BLOCKLIST_ENTRIES; i++) {
		int r = cut_tree(tx, n, b + 16 * i, depth - 1, base + i * step, first);
		if (r)
			return r;
		any |= !rfs_ptr_is_null(rfs_ptr_decode(b + 16 * i));
	}
	if (!any) {	/* an all-null BlockList is freed (spec 8.4) */
		rfs_tx_free(tx, rfs_ptr_index(rfs_ptr_decode(slot)), 0);
		memset(slot, 0, 16);
		n->blocks--;
	}
	return 0;
}

static int cut_records(struct rfs_tx *tx, struct rfs_node *n, uint64_t first)
{
	uint64_t base = 0;
	for (unsigned k = 0; k < 5; k++) {
		uint64_t step = 1ULL << (8 * ranges[k].depth);
		for (unsigned i = 0; i < ranges[k].slots; i++, base += step) {
			uint8_t *slot = n->raw + RFS_INLINE_OFF + 16 * (ranges[k].base + i);
			int r = cut_tree(tx, n, slot, ranges[k].depth, base, first);
			if (r)
				return r;
		}
	}
	return 0;
}

/* Zero the bytes of record r from byte j on (rewriting it only if they are not zero). */
static int zero_record_tail(struct rfs_tx *tx, struct rfs_node *n, uint64_t r, uint64_t j)
{
	uint8_t *slot;
	int ret = record_slot(tx, n, r, 0, &slot);
	if (ret || !slot || rfs_ptr_is_null(rfs_ptr_decode(slot)))
		return ret;
	struct rfs_ptr p = rfs_ptr_decode(slot);
	struct scratch s;
	scratch_init(&s);
	uint64_t rs = rfs_record_size(n);
	ret = rfs_record_load(tx->fs, n, p, s.rec);
	if (ret == 0 && !rx_is_zero(s.rec + j, (size_t)(rs - j))) {
		memset(s.rec + j, 0, (size_t)(rs - j));
		unsigned D = rfs_ptr_decomp(p) ? rfs_ptr_decomp(p) : rfs_ptr_level(p);
		ret = store_record(tx, n, slot, s.rec, D, &s);
	}
	scratch_free(&s);
	return ret;
}

int rfs_file_truncate(struct rfs_tx *tx, struct rfs_node *n, uint64_t size)
{
	if (rfs_is_dir(n))
		return rx_fail(tx->fs->ctx, EISDIR, "is a directory");
	if (size == n->size)
		return 0;	/* nothing moves; what lies past the end is already zeros or stale-free */
	if (size > rfs_max_file_size(n))
		return rx_fail(tx->fs->ctx, EFBIG, "%llu bytes is beyond the largest possible file "
			       "(%llu)", (unsigned long long)size, (unsigned long long)rfs_max_file_size(n));
	if (rfs_is_inline(n)) {
		/* Unlike the reference, never leave old bytes to reappear (spec 9.7). */
		uint64_t lo = RX_MIN(size, n->size), hi = RX_MIN(RX_MAX(size, n->size), (uint64_t)RFS_INLINE_MAX);
		if (lo < hi)
			memset(n->raw + RFS_INLINE_OFF + lo, 0, (size_t)(hi - lo));
		n->size = size;
		return 0;
	}
	uint64_t rs = rfs_record_size(n);
	uint64_t keep = size / rs + (size % rs != 0);
	int r = cut_records(tx, n, keep);
	uint64_t edge = RX_MIN(size, n->size);
	if (r == 0 && edge % rs)
		r = zero_record_tail(tx, n, edge / rs, edge % rs);
	if (r == 0)
		n->size = size;
	return r;
}

int rfs_node_destroy(struct rfs_tx *tx, struct rfs_node *n)
{
	if (rfs_is_dir(n) && n->size != 0)
		return rx_fail(tx->fs->ctx, ENOTEMPTY, "directory not empty");
	if (!rfs_is_inline(n) && !rfs_is_dir(n)) {
		int r = cut_records(tx, n, 0);
		if (r)
			return r;
	}
	return rfs_node_remove(tx, n->id);
}
