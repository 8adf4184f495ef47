/* Writing directories: DirList append and split, h-tree growth, removal (spec 10.6, 10.7). */
#include <stdlib.h>

#include "wr.h"

#define EMPTY_MAX 0xFFFFFFFFu
#define MAX_DEPTH 8

struct dent {
	uint32_t id, hash;
	uint8_t len;
	char name[RFS_NAME_MAX];
};

struct split {
	int happened;
	uint32_t max;
	struct rfs_ptr ptr;
};

static unsigned dl_count(const uint8_t *b) { return get_le16(b + RFS_DIRLIST_BYTES); }
static unsigned dl_used(const uint8_t *b) { return get_le16(b + RFS_DIRLIST_BYTES + 2); }

static void dl_set(uint8_t *b, unsigned count, unsigned used)
{
	put_le16(b + RFS_DIRLIST_BYTES, (uint16_t)count);
	put_le16(b + RFS_DIRLIST_BYTES + 2, (uint16_t)used);
}

static void dl_append(uint8_t *b, uint32_t id, const char *name, size_t len)
{
	unsigned used = dl_used(b);
	put_le32(b + used, id);
	b[used + 4] = (uint8_t)len;
	memcpy(b + used + 5, name, len);
	dl_set(b, dl_count(b) + 1, used + 5 + (unsigned)len);
}

/* Entries of a (validated) list; returns the count. */
static size_t dl_parse(const uint8_t *b, struct dent *out)
{
	unsigned n = dl_count(b), used = dl_used(b), pos = 0;
	size_t k = 0;
	for (unsigned i = 0; i < n && pos + 5 <= used; i++) {
		unsigned len = b[pos + 4];
		if (pos + 5 + len > used)
			break;
		out[k].id = get_le32(b + pos);
		out[k].len = (uint8_t)len;
		memcpy(out[k].name, b + pos + 5, len);
		out[k].hash = rfs_name_hash(out[k].name, len);
		k++;
		pos += 5 + len;
	}
	return k;
}

static uint32_t dl_max(const uint8_t *b)
{
	struct dent *e = rx_xmalloc(RFS_DIRLIST_BYTES / 5 * sizeof(*e));
	size_t n = dl_parse(b, e);
	uint32_t m = 0;
	for (size_t i = 0; i < n; i++)
		m = RX_MAX(m, e[i].hash);
	free(e);
	return m;
}

static void dl_fill(uint8_t *b, const struct dent *e, size_t n)
{
	memset(b, 0, RFS_BLOCK);
	for (size_t i = 0; i < n; i++)
		dl_append(b, e[i].id, e[i].name, e[i].len);
}

static int ix_empty(const uint8_t *b, unsigned k)
{
	return get_le32(b + 20 * k) == EMPTY_MAX && rfs_ptr_is_null(rfs_ptr_decode(b + 20 * k + 4));
}

static unsigned ix_count(const uint8_t *b)
{
	unsigned k = 0;
	while (k < RFS_HTREE_ENTRIES && !ix_empty(b, k))
		k++;
	return k;
}

static void ix_clear(uint8_t *b)
{
	memset(b, 0, RFS_BLOCK);
	for (unsigned k = 0; k < RFS_HTREE_ENTRIES; k++)
		put_le32(b + 20 * k, EMPTY_MAX);
}

/* Stable insertion sort of n 20-byte index entries by max_hash. */
static void sort_entries(uint8_t *e, size_t n)
{
	uint8_t tmp[20];
	for (size_t i = 1; i < n; i++) {
		memcpy(tmp, e + 20 * i, 20);
		size_t j = i;
		while (j > 0 && get_le32(e + 20 * (j - 1)) > get_le32(tmp)) {
			memcpy(e + 20 * j, e + 20 * (j - 1), 20);
			j--;
		}
		memcpy(e + 20 * j, tmp, 20);
	}
}

/* Non-empty entries first, sorted by max_hash (stable); empties go last. */
static void ix_sort(uint8_t *b)
{
	unsigned n = 0;
	/* Compact: move every non-empty entry to the front, keeping order. */
	for (unsigned k = 0; k < RFS_HTREE_ENTRIES; k++) {
		if (ix_empty(b, k))
			continue;
		if (k != n)
			memcpy(b + 20 * n, b + 20 * k, 20);
		n++;
	}
	for (unsigned k = n; k < RFS_HTREE_ENTRIES; k++) {
		memset(b + 20 * k, 0, 20);
		put_le32(b + 20 * k, EMPTY_MAX);
	}
	sort_entries(b, n);
}

static uint32_t ix_max(const uint8_t *b)
{
	unsigned n = ix_count(b);
	uint32_t m = 0;
	for (unsigned k = 0; k < n; k++)
		m = RX_MAX(m, get_le32(b + 20 * k));
	return m;
}

/* A fresh zeroed block of the given type; its pointer goes to *slot. */
static uint8_t *new_block(struct rfs_tx *tx, struct rfs_node *dir, uint8_t slot[16], enum rfs_btype t)
{
	memset(slot, 0, 16);
	uint8_t *b = rfs_tx_mut(tx, slot, t);
	if (b) {
		dir->size += RFS_BLOCK;
		dir->blocks += 1;
	}
	return b;
}

static void drop_block(struct rfs_tx *tx, struct rfs_node *dir, uint8_t *slot)
{
	rfs_tx_free(tx, rfs_ptr_index(rfs_ptr_decode(slot)), 0);
	memset(slot, 0, 16);
	dir->size -= RFS_BLOCK;
	dir->blocks -= 1;
}

/* Split point of n hash-sorted items: near the middle, never inside a run of equal hashes. */
static size_t split_point(const uint32_t *hash, size_t n)
{
	size_t half = n / 2, f = half, l = half;
	while (f > 0 && hash[f - 1] == hash[half])
		f--;
	while (l < n && hash[l] == hash[half])
		l++;
	size_t at = half - f < l - half ? f : l;
	return at == 0 ? 1 : at;
}

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int ins_list(struct rfs_tx *tx, struct rfs_node *dir, uint8_t *slot, const char *name,
		    size_t len, uint32_t id, uint32_t *max_out, struct split *sp)
{
	uint8_t *b = rfs_tx_mut(tx, slot, BT_DIRLIST);
	if (!b)
		return -tx->fs->ctx->err;
	if (dl_used(b) + 5 + len <= RFS_DIRLIST_BYTES) {
		dl_append(b, id, name, len);
		*max_out = dl_max(b);
		return 0;
	}
	/* Full: sort by hash (qsort is not stable; a merge of equal hashes keeps entry order). */
	struct dent *e = rx_xmalloc((RFS_DIRLIST_BYTES / 5 + 1) * sizeof(*e));
	size_t n = dl_parse(b, e);
	e[n].id = id;
	e[n].len = (uint8_t)len;
	memcpy(e[n].name, name, len);
	e[n].hash = rfs_name_hash(name, len);
	n++;
	for (size_t i = 1; i < n; i++) {	/* stable insertion sort: lists are small */
		struct dent t = e[i];
		size_t j = i;
		while (j > 0 && dent_cmp(&e[j - 1], &t) > 0) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = t;
	}
	uint32_t *hashes = rx_xmalloc(n * sizeof(*hashes));
	for (size_t i = 0; i < n; i++)
		hashes[i] = e[i].hash;
	size_t at = split_point(hashes, n);
	free(hashes);
	size_t lo_bytes = 0, hi_bytes = 0;
	for (size_t i = 0; i < n; i++)
		*(i < at ? &lo_bytes : &hi_bytes) += 5u + e[i].len;
	if (at >= n || lo_bytes > RFS_DIRLIST_BYTES || hi_bytes > RFS_DIRLIST_BYTES) {
		free(e);
		return rx_fail(tx->fs->ctx, ENOSPC, "cannot split a directory list (too many names "
			       "share one hash)");
	}
	uint8_t sib_slot[16];
	uint8_t *nb = new_block(tx, dir, sib_slot, BT_DIRLIST);
	if (!nb) {
		free(e);
		return -tx->fs->ctx->err;
	}
	dl_fill(b, e, at);
	dl_fill(nb, e + at, n - at);
	*max_out = e[at - 1].hash;
	sp->happened = 1;
	sp->max = e[n - 1].hash;
	sp->ptr = rfs_ptr_decode(sib_slot);
	free(e);
	return 0;
}

/* Add (max, ptr) to an index block, splitting it when full. */
static int ix_add(struct rfs_tx *tx, struct rfs_node *dir, uint8_t *b, uint32_t max,
		  struct rfs_ptr ptr, uint32_t *max_out, struct split *sp)
{
	unsigned n = ix_count(b);
	if (n < RFS_HTREE_ENTRIES) {
		put_le32(b + 20 * n, max);
		rfs_ptr_encode(b + 20 * n + 4, ptr);
		ix_sort(b);
		*max_out = ix_max(b);
		return 0;
	}
	uint8_t *all = rx_xmalloc(20 * (RFS_HTREE_ENTRIES + 1));
	memcpy(all, b, 20 * RFS_HTREE_ENTRIES);
	put_le32(all + 20 * RFS_HTREE_ENTRIES, max);
	rfs_ptr_encode(all + 20 * RFS_HTREE_ENTRIES + 4, ptr);
	size_t total = RFS_HTREE_ENTRIES + 1;
	sort_entries(all, total);
	uint32_t hashes[RFS_HTREE_ENTRIES + 1];
	for (size_t i = 0; i < total; i++)
		hashes[i] = get_le32(all + 20 * i);
	size_t at = split_point(hashes, total);
	if (at >= total) {
		free(all);
		return rx_fail(tx->fs->ctx, ENOSPC, "cannot split a directory index (too many names "
			       "share one hash)");
	}
	uint8_t sib_slot[16];
	uint8_t *nb = new_block(tx, dir, sib_slot, BT_HTREE);
	if (!nb) {
		free(all);
		return -tx->fs->ctx->err;
	}
	ix_clear(b);
	ix_clear(nb);
	memcpy(b, all, 20 * at);
	memcpy(nb, all + 20 * at, 20 * (total - at));
	*max_out = hashes[at - 1];
	sp->happened = 1;
	sp->max = hashes[total - 1];
	sp->ptr = rfs_ptr_decode(sib_slot);
	free(all);
	return 0;
}

static int ins_index(struct rfs_tx *tx, struct rfs_node *dir, uint8_t *slot, unsigned levels,
		     const char *name, size_t len, uint32_t id, uint32_t h, uint32_t *max_out,
		     struct split *sp)
{
	uint8_t *b = rfs_tx_mut(tx, slot, BT_HTREE);
	if (!b)
		return -tx->fs->ctx->err;
	unsigned n = ix_count(b), k = 0;
	if (n == 0)
		return rx_fail(tx->fs->ctx, RX_ECORRUPT, "empty directory index block");
	while (k < n && get_le32(b + 20 * k) < h)
		k++;
	if (k == n)
		k = n - 1;
	struct split child = { 0 };
	uint32_t cmax;
	int r = levels == 1 ? ins_list(tx, dir, b + 20 * k + 4, name, len, id, &cmax, &child)
			    : ins_index(tx, dir, b + 20 * k + 4, levels - 1, name, len, id, h, &cmax, &child);
	if (r)
		return r;
	put_le32(b + 20 * k, cmax);
	if (child.happened)
		return ix_add(tx, dir, b, child.max, child.ptr, max_out, sp);
	ix_sort(b);
	*max_out = ix_max(b);
	return 0;
}

static const struct rfs_ptr marker_base = { 0xFFFFFFFFFFFFFFF0ULL, UINT64_MAX };

int rfs_dir_insert(struct rfs_tx *tx, struct rfs_node *dir, const char *name, size_t len, uint32_t id)
{
	struct rx_ctx *ctx = tx->fs->ctx;
	const char *why = rfs_name_problem(name, len);
	uint32_t existing;
	if (why)
		return rx_fail(ctx, len > RFS_NAME_MAX ? ENAMETOOLONG : EINVAL, "%s", why);
	if (memchr(name, ':', len))
		return rx_fail(ctx, EINVAL, "name contains ':', which RedoxFS does not allow");
	if (!rfs_is_dir(dir))
		return rx_fail(ctx, ENOTDIR, "not a directory");
	int r = rfs_dir_lookup(tx->fs, dir, name, len, &existing);
	if (r == 0)
		return rx_fail(ctx, EEXIST, "already exists");
	if (r != -ENOENT)
		return r;
	rx_clear(ctx);

	uint8_t *mslot = dir->raw + RFS_INLINE_OFF, *rslot = mslot + 16;
	struct rfs_ptr m = rfs_ptr_decode(mslot);
	if (rfs_ptr_is_null(m)) {
		if (!new_block(tx, dir, rslot, BT_DIRLIST))
			return -ctx->err;
		rfs_ptr_encode(mslot, marker_base);
		m = marker_base;
	}
	unsigned depth = (unsigned)(m.addr & 0xF);
	uint32_t max;
	struct split sp = { 0 };
	r = depth == 0 ? ins_list(tx, dir, rslot, name, len, id, &max, &sp)
		       : ins_index(tx, dir, rslot, depth, name, len, id, rfs_name_hash(name, len), &max, &sp);
	if (r)
		return r;
	if (sp.happened) {
		/* The root split: a new root above both halves, one level deeper. */
		if (depth + 1 > MAX_DEPTH)
			return rx_fail(ctx, ENOSPC, "directory index too deep");
		uint8_t new_slot[16];
		uint8_t *nb = new_block(tx, dir, new_slot, BT_HTREE);
		if (!nb)
			return -ctx->err;
		ix_clear(nb);
		put_le32(nb, max);
		memcpy(nb + 4, rslot, 16);
		put_le32(nb + 20, sp.max);
		rfs_ptr_encode(nb + 24, sp.ptr);
		ix_sort(nb);
		memcpy(rslot, new_slot, 16);
		struct rfs_ptr nm = { marker_base.addr | (depth + 1), UINT64_MAX };
		rfs_ptr_encode(mslot, nm);
	}
	return rfs_node_put(tx, dir);
}

/* Where a name lives: the slot index chosen at each index level. */
static int find_path(struct rfs *fs, struct rfs_ptr ptr, unsigned levels, const char *name,
		     size_t len, uint32_t h, unsigned *path, int *found)
{
	uint8_t b[RFS_BLOCK];
	int r = rfs_read_ptr(fs, ptr, 1, b);
	if (r)
		return r;
	if (levels == 0) {
		struct dent *e = rx_xmalloc(RFS_DIRLIST_BYTES / 5 * sizeof(*e));
		size_t n = dl_parse(b, e);
		for (size_t i = 0; i < n && !*found; i++)
			if (e[i].len == len && memcmp(e[i].name, name, len) == 0)
				*found = 1;
		free(e);
		return 0;
	}
	unsigned n = ix_count(b);
	int taking = 0;
	for (unsigned k = 0; k < n && !*found; k++) {
		uint32_t max = get_le32(b + 20 * k);
		if (!taking && max < h)
			continue;
		path[0] = k;
		r = find_path(fs, rfs_ptr_decode(b + 20 * k + 4), levels - 1, name, len, h, path + 1, found);
		if (r || max != h)
			break;
		taking = 1;
	}
	return r;
}

/* Remove name from the list at slot; *gone when the list emptied and was freed. */
static int rem_list(struct rfs_tx *tx, struct rfs_node *dir, uint8_t *slot, const char *name,
		    size_t len, int *gone, uint32_t *max_out)
{
	uint8_t *b = rfs_tx_mut(tx, slot, BT_DIRLIST);
	if (!b)
		return -tx->fs->ctx->err;
	unsigned n = dl_count(b), used = dl_used(b), pos = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned elen = 5u + b[pos + 4];
		if (b[pos + 4] == len && memcmp(b + pos + 5, name, len) == 0) {
			memmove(b + pos, b + pos + elen, used - pos - elen);
			memset(b + used - elen, 0, elen);	/* no stale names left behind */
			dl_set(b, n - 1, used - elen);
			break;
		}
		pos += elen;
	}
	*gone = dl_count(b) == 0;
	if (*gone)
		drop_block(tx, dir, slot);
	else
		*max_out = dl_max(b);
	return 0;
}

static int rem_index(struct rfs_tx *tx, struct rfs_node *dir, uint8_t *slot, unsigned levels,
		     const unsigned *path, const char *name, size_t len, int *gone, uint32_t *max_out)
{
	uint8_t *b = rfs_tx_mut(tx, slot, BT_HTREE);
	if (!b)
		return -tx->fs->ctx->err;
	unsigned k = path[0];
	int child_gone = 0;
	uint32_t cmax = 0;
	int r = levels == 1 ? rem_list(tx, dir, b + 20 * k + 4, name, len, &child_gone, &cmax)
			    : rem_index(tx, dir, b + 20 * k + 4, levels - 1, path + 1, name, len,
					&child_gone, &cmax);
	if (r)
		return r;
	if (child_gone) {
		memset(b + 20 * k, 0, 20);
		put_le32(b + 20 * k, EMPTY_MAX);
	} else {
		put_le32(b + 20 * k, cmax);
	}
	ix_sort(b);
	*gone = ix_count(b) == 0;
	if (*gone)
		drop_block(tx, dir, slot);
	else
		*max_out = ix_max(b);
	return 0;
}

int rfs_dir_remove(struct rfs_tx *tx, struct rfs_node *dir, const char *name, size_t len)
{
	struct rx_ctx *ctx = tx->fs->ctx;
	uint8_t *mslot = dir->raw + RFS_INLINE_OFF, *rslot = mslot + 16;
	struct rfs_ptr m = rfs_ptr_decode(mslot);
	if (!rfs_is_dir(dir))
		return rx_fail(ctx, ENOTDIR, "not a directory");
	if (!rfs_ptr_is_marker(m))
		return rx_fail(ctx, ENOENT, "no such file or directory");
	unsigned depth = (unsigned)(m.addr & 0xF), path[MAX_DEPTH + 1];
	int found = 0, gone = 0;
	if (depth > MAX_DEPTH)
		return rx_fail(ctx, RX_ECORRUPT, "directory index too deep");
	int r = find_path(tx->fs, rfs_ptr_decode(rslot), depth, name, len, rfs_name_hash(name, len),
			  path, &found);
	if (r)
		return r;
	if (!found)
		return rx_fail(ctx, ENOENT, "no such file or directory");
	uint32_t max;
	r = depth == 0 ? rem_list(tx, dir, rslot, name, len, &gone, &max)
		       : rem_index(tx, dir, rslot, depth, path, name, len, &gone, &max);
	if (r)
		return r;
	if (gone)
		memset(mslot, 0, 16);	/* the directory is empty again */
	return rfs_node_put(tx, dir);
}
