#include <stdlib.h>

#include "seahash.h"
#include "tx.h"

#define ALLOC_ENTRIES 255u

/*
 * A block this transaction will write at commit: metadata (sealed then) or a
 * data record (its checksum is known at once). len = 4096 << level.
 */
struct rfs_dirty {
	uint64_t index;
	enum rfs_btype type;
	int sealed;
	uint64_t hash;
	size_t len;
	uint8_t buf[];
};

static struct rfs_dirty *dirty_new(size_t len)
{
	struct rfs_dirty *d = rx_xmalloc(sizeof(*d) + len);
	d->len = len;
	d->sealed = 0;
	return d;
}

/* ---- the dirty-block table ---- */

static size_t dirty_probe(const struct rfs_tx *tx, uint64_t index)
{
	size_t i = (size_t)((index * 0x9E3779B97F4A7C15ULL) >> 20) & (tx->dirty_cap - 1);
	while (tx->dirty[i] && tx->dirty[i]->index != index)
		i = (i + 1) & (tx->dirty_cap - 1);
	return i;
}

static struct rfs_dirty *dirty_get(const struct rfs_tx *tx, uint64_t index)
{
	return tx->dirty[dirty_probe(tx, index)];
}

static void dirty_put(struct rfs_tx *tx, struct rfs_dirty *d)
{
	if ((tx->ndirty + 1) * 2 > tx->dirty_cap) {
		struct rfs_dirty **old = tx->dirty;
		size_t cap = tx->dirty_cap;
		tx->dirty_cap *= 2;
		tx->dirty = rx_xcalloc(tx->dirty_cap, sizeof(*tx->dirty));
		for (size_t i = 0; i < cap; i++)
			if (old[i])
				tx->dirty[dirty_probe(tx, old[i]->index)] = old[i];
		free(old);
	}
	tx->dirty[dirty_probe(tx, d->index)] = d;
	tx->ndirty++;
	tx->nmeta += d->type != BT_RECORD;
}

/* Remove with backward-shift deletion so probing stays correct. */
static void dirty_del(struct rfs_tx *tx, uint64_t index)
{
	size_t i = dirty_probe(tx, index), mask = tx->dirty_cap - 1;
	if (!tx->dirty[i])
		return;
	if (tx->dirty[i]->type == BT_RECORD)
		tx->buffered -= tx->dirty[i]->len;
	else
		tx->nmeta--;
	free(tx->dirty[i]);
	tx->dirty[i] = NULL;
	tx->ndirty--;
	for (size_t j = (i + 1) & mask; tx->dirty[j]; j = (j + 1) & mask) {
		struct rfs_dirty *d = tx->dirty[j];
		tx->dirty[j] = NULL;
		tx->dirty[dirty_probe(tx, d->index)] = d;
	}
}

const uint8_t *rfs_tx_dirty_buf(struct rfs_tx *tx, uint64_t index, size_t *len)
{
	struct rfs_dirty *d = dirty_get(tx, index);
	if (d)
		*len = d->len;
	return d ? d->buf : NULL;
}

/* ---- begin / abort ---- */

/* What a transaction may hold in memory by default: data records, then metadata blocks. */
#define TX_RECORD_BUDGET ((size_t)32 << 20)
#define TX_META_BUDGET ((size_t)4096)

static int tx_start(struct rfs *fs, struct bmap *free_map, struct rfs_tx **out)
{
	struct rfs_tx *tx = rx_xcalloc(1, sizeof(*tx));
	tx->free_map = *free_map;
	tx->fs = fs;
	tx->saved = fs->hdr;
	bmap_init(&tx->tx_alloc, fs->nblocks);
	bmap_init(&tx->deferred, fs->nblocks);
	tx->cursor = RFS_FIRST_DATA_BLOCK;
	tx->dirty_cap = 256;
	const char *lim = getenv("RXIMG_TX_BUFFER");	/* tests: 0 = write records at once */
	tx->buffer_limit = lim ? strtoull(lim, NULL, 10) : TX_RECORD_BUDGET;
	lim = getenv("RXIMG_TX_META_BLOCKS");	/* tests: small batches, many checkpoints */
	tx->meta_limit = lim ? strtoull(lim, NULL, 10) : TX_META_BUDGET;
	tx->dirty = rx_xcalloc(tx->dirty_cap, sizeof(*tx->dirty));
	fs->tx = tx;
	*out = tx;
	return 0;
}

static int tx_can_begin(struct rfs *fs)
{
	if (fs->tx)
		return rx_fail(fs->ctx, EBUSY, "a transaction is already open");
	if (!fs->dev->writable)
		return rx_fail(fs->ctx, EROFS, "the image is open read-only");
	if (fs->hdr.encrypted && !fs->crypt)
		return rx_fail(fs->ctx, RX_ENOKEY, "the filesystem is encrypted: a password is needed");
	return 0;
}

int rfs_tx_begin(struct rfs *fs, struct rfs_tx **out)
{
	struct bmap free_map;
	int r = tx_can_begin(fs);
	if (r == 0)
		r = rfs_alloc_replay(fs, &free_map, NULL, NULL);
	return r ? r : tx_start(fs, &free_map, out);
}

/* Every data block outside used (which may be NULL: nothing used). */
static void free_outside(struct bmap *m, uint64_t nblocks, const struct bmap *used)
{
	bmap_init(m, nblocks);
	bmap_set_range(m, RFS_FIRST_DATA_BLOCK, nblocks);
	if (!used)
		return;
	for (uint64_t b = bmap_next_set(used, 0); b < nblocks; ) {
		uint64_t e = bmap_next_clear(used, b);
		bmap_clear_range(m, b, e - b);
		b = bmap_next_set(used, e);
	}
}

int rfs_tx_begin_rebuild(struct rfs *fs, const struct bmap *in_use, struct rfs_tx **out)
{
	int r = tx_can_begin(fs);
	if (r)
		return r;
	struct bmap free_map;
	free_outside(&free_map, fs->nblocks, in_use);
	r = tx_start(fs, &free_map, out);
	(*out)->rebuild = 1;
	return r;
}

static void tx_free_all(struct rfs_tx *tx)
{
	for (size_t i = 0; i < tx->dirty_cap; i++)
		free(tx->dirty[i]);
	free(tx->dirty);
	bmap_free(&tx->deferred);
	free(tx->iobuf);
	bmap_free(&tx->free_map);
	bmap_free(&tx->tx_alloc);
	tx->fs->tx = NULL;
	free(tx);
}

void rfs_tx_set_buffer(struct rfs_tx *tx, size_t bytes)
{
	if (!getenv("RXIMG_TX_BUFFER"))
		tx->buffer_limit = bytes;
}

void rfs_tx_abort(struct rfs_tx *tx)
{
	if (!tx)
		return;
	tx->fs->hdr = tx->saved;
	tx_free_all(tx);
}

/* ---- allocation ---- */

uint64_t rfs_tx_free_blocks(const struct rfs_tx *tx)
{
	return tx->free_map.count;
}

int rfs_tx_alloc(struct rfs_tx *tx, unsigned level, uint64_t *index)
{
	uint64_t n = 1ULL << level, nb = tx->fs->nblocks;
	/* Lowest aligned free run first, as the reference's buddy allocator places blocks. */
	for (uint64_t i = tx->cursor; i < nb;) {
		uint64_t at = (bmap_next_set(&tx->free_map, i) + n - 1) & ~(n - 1);
		if (at >= nb || n > nb - at)
			break;
		uint64_t end = bmap_next_clear(&tx->free_map, at);
		if (end - at < n) {
			i = end;	/* past a used block: progress */
			continue;
		}
		bmap_clear_range(&tx->free_map, at, n);
		bmap_set_range(&tx->tx_alloc, at, n);
		if (level == 0)
			tx->cursor = at + 1;
		*index = at;
		return 0;
	}
	return rx_fail(tx->fs->ctx, ENOSPC, "no space left in the filesystem (%llu blocks free, "
		       "none of them %llu contiguous)", (unsigned long long)rfs_tx_free_blocks(tx),
		       (unsigned long long)n);
}

void rfs_tx_free(struct rfs_tx *tx, uint64_t index, unsigned level)
{
	uint64_t n = 1ULL << level;
	if (index + n > tx->fs->nblocks || index < RFS_FIRST_DATA_BLOCK)
		return;	/* never free what cannot have been allocated */
	if (bmap_get(&tx->tx_alloc, index)) {
		/* Made by this transaction: nothing committed refers to it; reuse at once. */
		bmap_clear_range(&tx->tx_alloc, index, n);
		bmap_set_range(&tx->free_map, index, n);
		for (uint64_t k = 0; k < n; k++)
			dirty_del(tx, index + k);
		if (index < tx->cursor)
			tx->cursor = index;
		return;
	}
	bmap_set_range(&tx->deferred, index, n);
}

/* ---- copy-on-write ---- */

uint8_t *rfs_tx_mut(struct rfs_tx *tx, uint8_t *slot, enum rfs_btype type)
{
	struct rfs_ptr old = rfs_ptr_decode(slot);
	struct rfs_dirty *d;
	if (!rfs_ptr_is_null(old) && (d = dirty_get(tx, rfs_ptr_index(old))) != NULL)
		return d->buf;
	d = dirty_new(RFS_BLOCK);
	if (rfs_ptr_is_null(old)) {
		memset(d->buf, 0, RFS_BLOCK);
	} else if (rfs_read_ptr(tx->fs, old, 1, d->buf) != 0) {
		free(d);
		return NULL;
	}
	uint64_t index;
	if (rfs_tx_alloc(tx, 0, &index) != 0) {
		free(d);
		return NULL;
	}
	if (!rfs_ptr_is_null(old))
		rfs_tx_free(tx, rfs_ptr_index(old), 0);
	d->index = index;
	d->type = type;
	d->sealed = 0;
	dirty_put(tx, d);
	struct rfs_ptr p = { index << 8, 0 };	/* the hash is sealed at commit */
	rfs_ptr_encode(slot, p);
	return d->buf;
}

/* Data blocks go out encrypted on an encrypted filesystem (never the header ring). */
static int dev_write(struct rfs_tx *tx, const void *buf, size_t len, uint64_t index)
{
	struct rfs *fs = tx->fs;
	if (!fs->crypt || index < RFS_HEADER_RING)
		return rx_dev_write(fs->dev, buf, len, fs->start + index * RFS_BLOCK);
	uint8_t *ct = rx_xmalloc(len);
	int r = rfs_crypt_xts(fs->crypt, 1, index, buf, ct, len);
	if (r)
		r = rx_fail(fs->ctx, EIO, "cannot encrypt block %llu", (unsigned long long)index);
	else
		r = rx_dev_write(fs->dev, ct, len, fs->start + index * RFS_BLOCK);
	free(ct);
	return r;
}

/* Write every buffered record now and forget it (the budget is spent). */
static int flush_records(struct rfs_tx *tx)
{
	if (tx->buffered == 0) {
		tx->buffer_limit = 0;
		return 0;	/* nothing held: no need to walk the table */
	}
	for (size_t i = 0; i < tx->dirty_cap; i++) {
		struct rfs_dirty *d = tx->dirty[i];
		if (!d || d->type != BT_RECORD)
			continue;
		int r = dev_write(tx, d->buf, d->len, d->index);
		if (r)
			return r;
	}
	for (size_t i = 0; i < tx->dirty_cap;) {
		struct rfs_dirty *d = tx->dirty[i];
		if (d && d->type == BT_RECORD)
			dirty_del(tx, d->index);	/* shifts entries: look at slot i again */
		else
			i++;
	}
	tx->buffered = 0;
	tx->buffer_limit = 0;
	return 0;
}

int rfs_tx_write_record(struct rfs_tx *tx, const uint8_t *buf, unsigned level, unsigned decomp,
			struct rfs_ptr *out)
{
	uint64_t index;
	int r = rfs_tx_alloc(tx, level, &index);
	if (r)
		return r;
	size_t len = (size_t)RFS_BLOCK << level;
	out->addr = index << 8 | (uint64_t)decomp << 4 | level;
	out->hash = seahash(buf, len);
	tx->records_written++;
	/*
	 * Small transactions keep their data in memory until commit, so a failure
	 * (full disk, unreadable source) leaves the image file untouched. Past the
	 * budget, records go straight to blocks that are free in the committed
	 * state: still safe, just not byte-for-byte untouched on failure.
	 */
	if (tx->buffered + len > tx->buffer_limit) {
		r = flush_records(tx);
		return r ? r : dev_write(tx, buf, len, index);
	}
	struct rfs_dirty *d = dirty_new(len);
	memcpy(d->buf, buf, len);
	d->index = index;
	d->type = BT_RECORD;
	d->sealed = 1;
	d->hash = out->hash;
	dirty_put(tx, d);
	tx->buffered += len;
	return 0;
}

/* ---- commit ---- */

/* Seal a pointer slot: if it names a dirty block, seal that first and store its hash. */
static void seal_slot(struct rfs_tx *tx, uint8_t *slot);

static void seal_block(struct rfs_tx *tx, struct rfs_dirty *d)
{
	if (d->sealed)
		return;
	uint8_t *b = d->buf;
	switch (d->type) {
	case BT_TREE0: case BT_TREE1: case BT_TREE2: case BT_TREE3:
		for (unsigned i = 0; i < RFS_TREE_ENTRIES; i++)
			seal_slot(tx, b + 16 * i);
		break;
	case BT_BLOCKLIST:
		for (unsigned i = 0; i < RFS_BLOCKLIST_ENTRIES; i++)
			seal_slot(tx, b + 16 * i);
		break;
	case BT_NODE:
		if (!(get_le32(b + 70) & RFS_FLAG_INLINE))
			for (unsigned i = 0; i < 248; i++)
				seal_slot(tx, b + RFS_INLINE_OFF + 16 * i);
		break;
	case BT_HTREE:
		for (unsigned k = 0; k < RFS_HTREE_ENTRIES; k++)
			seal_slot(tx, b + 20 * k + 4);
		break;
	case BT_ALLOC: case BT_RELEASE:
		seal_slot(tx, b);
		break;
	case BT_DIRLIST:
	case BT_RECORD:
		break;
	}
	d->hash = seahash(b, d->len);
	d->sealed = 1;
}

static void seal_slot(struct rfs_tx *tx, uint8_t *slot)
{
	struct rfs_ptr p = rfs_ptr_decode(slot);
	if (rfs_ptr_is_null(p) || rfs_ptr_is_marker(p))
		return;
	struct rfs_dirty *d = dirty_get(tx, rfs_ptr_index(p));
	if (!d)
		return;
	seal_block(tx, d);
	p.hash = d->hash;
	rfs_ptr_encode(slot, p);
}

static void seal_header_ptr(struct rfs_tx *tx, struct rfs_ptr *p)
{
	uint8_t slot[16];
	rfs_ptr_encode(slot, *p);
	seal_slot(tx, slot);
	*p = rfs_ptr_decode(slot);
}


/*
 * Rebuild the allocation log at every commit (a squash, spec 11.6): the free
 * space after this commit as extents, the blocks freed by this transaction (the
 * old log among them) merged in. The log's own blocks are taken from space free
 * in the committed state and simply not listed, which replay reads as allocated.
 */
static int write_log(struct rfs_tx *tx)
{
	struct rfs *fs = tx->fs;
	uint64_t nb = fs->nblocks;
	struct bmap after;

	if (tx->rebuild) {
		/* Free after the commit = every data block the new state does not use. */
		free_outside(&after, nb, tx->live);
	} else {
		/* The old chain is replaced wholesale: free its blocks at commit. */
		struct rfs_ptr p = fs->hdr.alloc;
		uint8_t buf[RFS_BLOCK];
		for (uint64_t guard = 0; !rfs_ptr_is_null(p) && guard < nb; guard++) {
			if (rfs_read_ptr(fs, p, 1, buf) != 0)
				return -fs->ctx->err;
			rfs_tx_free(tx, rfs_ptr_index(p), 0);
			p = rfs_ptr_decode(buf);
		}
		/* Free after the commit = free now + freed by this transaction. */
		bmap_copy(&after, &tx->free_map);
		bmap_or(&after, &tx->deferred);
	}

	/* Each block taken for the log leaves the free runs one more, one fewer or as many. */
	size_t k = 0, cap = 4;
	uint64_t *blocks = rx_xmalloc(cap * sizeof(*blocks)), runs = bmap_runs(&after);
	int r = 0;
	do {
		if (k == cap)
			blocks = rx_xrealloc(blocks, (cap *= 2) * sizeof(*blocks));
		r = rfs_tx_alloc(tx, 0, &blocks[k]);
		if (r)
			break;
		uint64_t b = blocks[k];
		bmap_clear(&tx->tx_alloc, b);	/* the log's blocks are not listed at all */
		int left = b > 0 && bmap_get(&after, b - 1), right = bmap_get(&after, b + 1);
		if (bmap_get(&after, b))
			runs = runs + (left && right) - (!left && !right);
		bmap_clear(&after, b);
		k++;
	} while (runs > k * ALLOC_ENTRIES);
	if (r) {
		bmap_free(&after);
		free(blocks);
		return r;
	}

	/* Fill in allocation order; each block points back to the previous one. */
	uint64_t b = bmap_next_set(&after, 0), prev = 0;
	for (size_t i = 0; i < k; i++) {
		struct rfs_dirty *d = dirty_new(RFS_BLOCK);
		memset(d->buf, 0, RFS_BLOCK);
		d->index = blocks[i];
		d->type = BT_ALLOC;
		if (prev)
			rfs_ptr_encode(d->buf, (struct rfs_ptr){ prev << 8, 0 });
		for (unsigned s = 0; s < ALLOC_ENTRIES && b < nb; s++) {
			uint64_t end = bmap_next_clear(&after, b);
			put_le64(d->buf + 16 + 16 * s, b);
			put_le64(d->buf + 24 + 16 * s, end - b);
			b = bmap_next_set(&after, end);
		}
		dirty_put(tx, d);
		prev = blocks[i];
	}
	fs->hdr.alloc = (struct rfs_ptr){ prev << 8, 0 };

	/* What the commit frees is free for whoever comes next. */
	bmap_free(&tx->free_map);
	tx->free_map = after;
	bmap_free(&tx->deferred);
	bmap_init(&tx->deferred, nb);
	free(blocks);
	return 0;
}

static int cmp_dirty(const void *a, const void *b)
{
	uint64_t x = (*(struct rfs_dirty *const *)a)->index, y = (*(struct rfs_dirty *const *)b)->index;
	return x < y ? -1 : x > y;
}

/* Write dirty blocks in address order, coalescing neighbours on disk into one write. */
static int write_sorted(struct rfs_tx *tx, struct rfs_dirty **list, size_t n)
{
	int r = 0;
	qsort(list, n, sizeof(*list), cmp_dirty);
	const size_t run_max = 4u << 20;
	uint8_t *run = rx_xmalloc(run_max);
	for (size_t i = 0; i < n && r == 0;) {
		size_t j = i, used = 0;
		uint64_t next = list[i]->index;
		while (j < n && list[j]->index == next && used + list[j]->len <= run_max) {
			memcpy(run + used, list[j]->buf, list[j]->len);
			used += list[j]->len;
			next += list[j]->len / RFS_BLOCK;
			j++;
		}
		if (j == i) {	/* larger than a run on its own */
			r = dev_write(tx, list[i]->buf, list[i]->len, list[i]->index);
			i++;
			continue;
		}
		r = dev_write(tx, run, used, list[i]->index);
		i = j;
	}
	free(run);
	return r;
}

int rfs_tx_checkpoint(struct rfs_tx *tx)
{
	if (tx->nmeta < tx->meta_limit)
		return 0;
	int r = flush_records(tx);
	if (r)
		return r;
	/* Seal from the roots: what they reach gets its final hash, in its parent too. */
	seal_header_ptr(tx, &tx->fs->hdr.tree);
	seal_header_ptr(tx, &tx->fs->hdr.release);
	struct rfs_dirty **list = rx_xmalloc((tx->ndirty + 1) * sizeof(*list));
	size_t n = 0;
	for (size_t i = 0; i < tx->dirty_cap; i++)
		if (tx->dirty[i] && tx->dirty[i]->sealed)
			list[n++] = tx->dirty[i];
	r = write_sorted(tx, list, n);
	for (size_t i = 0; i < n && r == 0; i++)
		dirty_del(tx, list[i]->index);	/* on disk now; a later change copies it anew */
	free(list);
	if (r == 0)
		tx->checkpoints++;
	return r;
}

static int same_ptr(struct rfs_ptr a, struct rfs_ptr b)
{
	return a.addr == b.addr && a.hash == b.hash;
}

/* Field by field: the struct's padding holds nothing defined to compare. */
static int same_header(const struct rfs_header *a, const struct rfs_header *b)
{
	return a->version == b->version && !memcmp(a->uuid, b->uuid, sizeof(a->uuid)) && a->size == b->size &&
	       a->generation == b->generation && same_ptr(a->tree, b->tree) && same_ptr(a->alloc, b->alloc) &&
	       same_ptr(a->release, b->release) && a->hash == b->hash && a->encrypted == b->encrypted &&
	       !memcmp(a->raw, b->raw, sizeof(a->raw));
}

int rfs_tx_commit(struct rfs_tx *tx)
{
	struct rfs *fs = tx->fs;
	int r = 0;

	if (!tx->rebuild && tx->ndirty == 0 && tx->deferred.count == 0 && tx->records_written == 0 &&
	    same_header(&fs->hdr, &tx->saved)) {
		tx_free_all(tx);	/* nothing changed: no new generation */
		return 0;
	}
	r = write_log(tx);
	if (r)
		goto fail;
	seal_header_ptr(tx, &fs->hdr.tree);
	seal_header_ptr(tx, &fs->hdr.alloc);
	seal_header_ptr(tx, &fs->hdr.release);

	/* Every dirty block, in address order (unreachable leftovers still get a hash). */
	struct rfs_dirty **list = rx_xmalloc((tx->ndirty + 1) * sizeof(*list));
	size_t n = 0;
	for (size_t i = 0; i < tx->dirty_cap; i++)
		if (tx->dirty[i]) {
			seal_block(tx, tx->dirty[i]);
			list[n++] = tx->dirty[i];
		}
	r = write_sorted(tx, list, n);
	free(list);
	if (r == 0)
		r = rx_dev_flush(fs->dev);	/* data before the header that names it */
	if (r)
		goto fail;

	uint8_t h[RFS_BLOCK];
	memcpy(h, fs->hdr.raw, RFS_BLOCK);
	uint64_t gen = fs->hdr.generation + 1;
	put_le64(h + 32, fs->hdr.size);
	put_le64(h + 40, gen);
	rfs_ptr_encode(h + 48, fs->hdr.tree);
	rfs_ptr_encode(h + 64, fs->hdr.alloc);
	rfs_ptr_encode(h + 3152, fs->hdr.release);
	uint64_t hash = rfs_header_checksum(h);
	put_le64(h + 4088, hash);
	r = rfs_encrypted_hash(fs->crypt, hash, gen, h + 4072);
	if (r)
		goto fail;
	r = dev_write(tx, h, RFS_BLOCK, gen % RFS_HEADER_RING);
	if (r == 0)
		r = rx_dev_flush(fs->dev);
	if (r)
		goto fail;
	rfs_header_decode(h, &fs->hdr);
	tx_free_all(tx);
	return 0;
fail:
	rfs_tx_abort(tx);
	return r;
}

void rfs_tx_set_uuid(struct rfs_tx *tx, const uint8_t uuid[16])
{
	memcpy(tx->fs->hdr.uuid, uuid, 16);
	memcpy(tx->fs->hdr.raw + 16, uuid, 16);	/* the commit writes the header from raw */
}

int rfs_ring_clear_foreign(struct rfs *fs)
{
	static const uint8_t zero[RFS_BLOCK];
	uint8_t b[RFS_BLOCK];
	struct rfs_header h;
	int r = 0, cleared = 0;
	for (uint64_t i = 0; i < RFS_HEADER_RING && r == 0; i++) {
		uint64_t off = fs->start + i * RFS_BLOCK;
		r = rx_dev_read(fs->dev, b, RFS_BLOCK, off);
		if (r || rfs_header_decode(b, &h) != 0 || memcmp(h.uuid, fs->hdr.uuid, 16) == 0)
			continue;
		if (i == 0 && (!h.encrypted || fs->crypt)) {
			/*
			 * The bootloader probes the first block only: slot 0 must stay a valid
			 * header, so it is stamped with the current UUID instead. It is an older
			 * generation and never wins over the newest.
			 */
			memcpy(b + 16, fs->hdr.uuid, 16);
			r = rfs_header_seal(b, fs->crypt);
			if (r == 0)
				r = rx_dev_write(fs->dev, b, RFS_BLOCK, off);
		} else if (i != 0) {
			r = rx_dev_write(fs->dev, zero, RFS_BLOCK, off);
		}
		cleared = 1;
	}
	if (r == 0 && cleared)
		r = rx_dev_flush(fs->dev);
	return r;
}
