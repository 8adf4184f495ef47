/* Block pointers, the header ring and checked block reads. */
#include <stdlib.h>

#include "rfs.h"
#include "seahash.h"
#include "tx.h"

const uint8_t rfs_signature[8] = { 'R', 'e', 'd', 'o', 'x', 'F', 'S', 0 };

struct rfs_ptr rfs_ptr_decode(const uint8_t *p)
{
	struct rfs_ptr ptr = { get_le64(p), get_le64(p + 8) };
	return ptr;
}

void rfs_ptr_encode(uint8_t *p, struct rfs_ptr ptr)
{
	put_le64(p, ptr.addr);
	put_le64(p + 8, ptr.hash);
}

uint64_t rfs_header_checksum(const uint8_t *block)
{
	return seahash(block, 4072);
}

int rfs_header_decode(const uint8_t *b, struct rfs_header *h)
{
	if (memcmp(b, rfs_signature, 8) != 0)
		return -EINVAL;
	if (get_le64(b + 8) != RFS_VERSION)
		return -EPROTO;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION	/* fuzzing: mutations must get past the hashes */
	if (get_le64(b + 4088) != rfs_header_checksum(b))
		return -EBADMSG;
#endif
	h->version = RFS_VERSION;
	memcpy(h->uuid, b + 16, 16);
	h->size = get_le64(b + 32);
	h->generation = get_le64(b + 40);
	h->tree = rfs_ptr_decode(b + 48);
	h->alloc = rfs_ptr_decode(b + 64);
	h->release = rfs_ptr_decode(b + 3152);
	h->hash = get_le64(b + 4088);
	/* Unencrypted: encrypted_hash is the plain hash followed by 8 zero bytes. */
	uint8_t h16[16] = { 0 };
	put_le64(h16, h->hash);
	h->encrypted = memcmp(b + 4072, h16, 16) != 0;
	memcpy(h->raw, b, RFS_BLOCK);
	return 0;
}

/*
 * A small direct-mapped cache of verified metadata blocks. It is zeroed
 * memory the system maps in as it is first touched, and a page fault is dear
 * on a small VM (half the mount's time in a first walk of a tree): the tags
 * are kept apart from the data, so that a lookup touches only the small tag
 * array, each block sits on a page of its own, and a cache that fills asks
 * for huge pages (CACHE_HUGE_AFTER).
 */
#define CACHE_SLOTS 4096u

struct cache_tag {
	uint64_t index;		/* 0 = empty */
	uint64_t hash;
};

/*
 * Once this many blocks were cached, the command is one that reads many (a
 * walk, a mount): the cache moves to memory backed by huge pages, which take
 * one fault per 2 MiB. Before that, a command maps only the 4 KiB pages it
 * touches: a short one does not zero 2 MiB for each block, and one that uses
 * the cache sparsely does not hold all 16 MiB (by the move, a quarter is in
 * use already). It moves rather than asks in place: the blocks cached so far
 * are spread over every 2 MiB stretch, and a stretch with small pages keeps them.
 */
#define CACHE_HUGE_AFTER 1024u

struct rfs_cache {
	struct cache_tag tag[CACHE_SLOTS];
	uint8_t (*data)[RFS_BLOCK];	/* CACHE_SLOTS blocks, aligned for huge pages inside data_mem */
	void *data_mem;
	unsigned puts;
};

static void cache_data_new(struct rfs_cache *c, int huge)
{
	/* Room to align: the slack is address space, never touched. */
	c->data_mem = rx_xcalloc((size_t)CACHE_SLOTS * RFS_BLOCK + RX_HUGE_PAGE_BYTES, 1);
	uintptr_t a = ((uintptr_t)c->data_mem + RX_HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(RX_HUGE_PAGE_BYTES - 1);
	c->data = (uint8_t (*)[RFS_BLOCK])a;
	if (huge)
		rx_advise_huge_pages(c->data, (size_t)CACHE_SLOTS * RFS_BLOCK);
}

static struct rfs_cache *cache_new(void)
{
	struct rfs_cache *c = rx_xcalloc(1, sizeof(*c));
	cache_data_new(c, 0);
	return c;
}

/* Move the cached blocks to memory backed by huge pages; call with fs->lock held. */
static void cache_go_huge(struct rfs_cache *c)
{
	void *old_mem = c->data_mem;
	uint8_t (*old)[RFS_BLOCK] = c->data;
	cache_data_new(c, 1);
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		if (c->tag[i].index)
			memcpy(c->data[i], old[i], RFS_BLOCK);
	free(old_mem);
}

static void cache_free(struct rfs_cache *c)
{
	if (c)
		free(c->data_mem);
	free(c);
}

static unsigned cache_slot(uint64_t index)
{
	return (unsigned)((index * 0x9E3779B97F4A7C15ULL) >> 52 & (CACHE_SLOTS - 1));
}

/* The cached copy of the block ptr names, or NULL; call with fs->lock held. */
static const uint8_t *cache_find(struct rfs *fs, struct rfs_ptr ptr)
{
	unsigned i = cache_slot(rfs_ptr_index(ptr));
	const struct cache_tag *t = &fs->cache->tag[i];
	return t->index == rfs_ptr_index(ptr) && t->hash == ptr.hash ? fs->cache->data[i] : NULL;
}

/* The ring and the probe are read a few blocks at a time: a 1 MiB buffer would
 * be a fresh mapping each time, and faulting its 256 pages in costs more than
 * the reads on a small VM (every command opens a filesystem). */
#define RING_CHUNK_BLOCKS 16u

int rfs_probe(struct rx_ctx *ctx, struct rx_dev *dev, uint64_t *start)
{
	const size_t chunk_blocks = RING_CHUNK_BLOCKS;
	uint8_t *buf = rx_xmalloc(chunk_blocks * RFS_BLOCK);
	uint64_t total = RX_MIN(dev->size / RFS_BLOCK, (uint64_t)RFS_SCAN_BLOCKS);
	int ret = rx_fail(ctx, ENOENT, "no RedoxFS header in the first %llu blocks", (unsigned long long)total);

	for (uint64_t blk = 0; blk < total; blk += chunk_blocks) {
		size_t n = (size_t)RX_MIN((uint64_t)chunk_blocks, total - blk);
		int r = rx_dev_read(dev, buf, n * RFS_BLOCK, blk * RFS_BLOCK);
		if (r) {
			ret = r;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			struct rfs_header h;
			if (rfs_header_decode(buf + i * RFS_BLOCK, &h) != 0)
				continue;
			uint64_t slot = h.generation % RFS_HEADER_RING;
			if (blk + i < slot)
				continue;	/* would put the ring before block 0 */
			*start = (blk + i - slot) * RFS_BLOCK;
			free(buf);
			rx_clear(ctx);
			return 0;
		}
	}
	free(buf);
	return ret;
}

int rfs_open(struct rx_ctx *ctx, struct rx_dev *dev, uint64_t start, struct rfs **out)
{
	uint64_t avail = start < dev->size ? dev->size - start : 0;
	uint64_t ring_blocks = RX_MIN((uint64_t)RFS_HEADER_RING, avail / RFS_BLOCK);
	uint8_t *buf = rx_xmalloc(RING_CHUNK_BLOCKS * RFS_BLOCK);
	struct rfs_header best, h;
	int have = 0, r = 0;

	/* A ring cut short by the end of the image still yields its valid slots. */
	for (uint64_t blk = 0; blk < ring_blocks && r == 0; blk += RING_CHUNK_BLOCKS) {
		size_t n = (size_t)RX_MIN((uint64_t)RING_CHUNK_BLOCKS, ring_blocks - blk);
		r = rx_dev_read(dev, buf, n * RFS_BLOCK, start + blk * RFS_BLOCK);
		for (size_t i = 0; i < n && r == 0; i++) {
			if (rfs_header_decode(buf + i * RFS_BLOCK, &h) != 0)
				continue;
			if (!have || h.generation > best.generation) {
				best = h;
				have = 1;
			}
		}
	}
	free(buf);
	if (r)
		return r;
	if (!have)
		return rx_fail(ctx, ENOENT, "no valid RedoxFS header at byte %llu",
			       (unsigned long long)start);
	if (best.size / RFS_BLOCK < RFS_MIN_BLOCKS)
		return rx_fail(ctx, RX_ECORRUPT, "header generation %llu claims a %llu-byte filesystem, "
			       "below the minimum of %u blocks",
			       (unsigned long long)best.generation, (unsigned long long)best.size,
			       RFS_MIN_BLOCKS);
	if (best.size > avail)
		return rx_fail(ctx, RX_ECORRUPT, "truncated: the filesystem needs %llu bytes from byte %llu "
			       "but %s has only %llu", (unsigned long long)best.size,
			       (unsigned long long)start, dev->name, (unsigned long long)avail);

	struct rfs *fs = rx_xcalloc(1, sizeof(*fs));
	fs->dev = dev;
	fs->ctx = ctx;
	fs->start = start;
	fs->hdr = best;
	fs->nblocks = best.size / RFS_BLOCK;
	fs->cache = cache_new();
	pthread_mutex_init(&fs->lock, NULL);
	*out = fs;
	if (best.encrypted) {
		/* Keep fs open so info can still describe it; reads will refuse. */
		return 0;
	}
	return 0;
}

void rfs_close(struct rfs *fs)
{
	if (!fs)
		return;
	pthread_mutex_destroy(&fs->lock);
	rfs_crypt_free(fs->crypt);
	cache_free(fs->cache);
	free(fs);
}

int rfs_ptr_check(struct rfs *fs, struct rfs_ptr ptr, int meta)
{
	uint64_t index = rfs_ptr_index(ptr);
	unsigned level = rfs_ptr_level(ptr), decomp = rfs_ptr_decomp(ptr);

	if (rfs_ptr_is_marker(ptr))
		return rx_fail(fs->ctx, RX_ECORRUPT, "unexpected directory marker pointer");
	if (meta && (level != 0 || decomp != 0))
		return rx_fail(fs->ctx, RX_ECORRUPT,
			       "metadata pointer to block %llu has level %u, decompressed level %u "
			       "(must be 0)", (unsigned long long)index, level, decomp);
	if (level > RFS_RECORD_LEVEL || decomp > RFS_RECORD_LEVEL)
		return rx_fail(fs->ctx, RX_ECORRUPT, "pointer to block %llu has bad level %u/%u",
			       (unsigned long long)index, level, decomp);
	uint64_t count = 1ULL << level;
	if (index < RFS_FIRST_DATA_BLOCK || index >= fs->nblocks || count > fs->nblocks - index)
		return rx_fail(fs->ctx, RX_ECORRUPT,
			       "pointer to block %llu (level %u) is outside the data area %u..%llu",
			       (unsigned long long)index, level, RFS_FIRST_DATA_BLOCK,
			       (unsigned long long)fs->nblocks);
	if (index & (count - 1))
		return rx_fail(fs->ctx, RX_ECORRUPT, "level-%u block %llu is not aligned", level,
			       (unsigned long long)index);
	return 0;
}

int rfs_read_ptr_at(struct rfs *fs, struct rfs_ptr ptr, size_t off, struct rfs_ptr *out)
{
	if (off > RFS_BLOCK - 16)
		return rx_fail(fs->ctx, EINVAL, "pointer offset %zu is outside a block", off);
	if (!fs->tx && rfs_ptr_check(fs, ptr, 1) == 0) {
		/* The cache holds only verified blocks; the open transaction's own are elsewhere. */
		int hit = 0;
		pthread_mutex_lock(&fs->lock);
		const uint8_t *b = cache_find(fs, ptr);
		if (b) {
			*out = rfs_ptr_decode(b + off);
			hit = 1;
		}
		pthread_mutex_unlock(&fs->lock);
		if (hit)
			return 0;
	}
	uint8_t buf[RFS_BLOCK];
	int r = rfs_read_ptr(fs, ptr, 1, buf);
	if (r == 0)
		*out = rfs_ptr_decode(buf + off);
	return r;
}

/*
 * Decrypt a block just read (the tweak is the fs-relative block index:
 * checksums cover the plaintext) and check it against its pointer's hash.
 */
static int block_verify(struct rfs *fs, struct rfs_ptr ptr, uint8_t *buf)
{
	uint64_t index = rfs_ptr_index(ptr);
	size_t len = (size_t)(RFS_BLOCK << rfs_ptr_level(ptr));
	if (fs->crypt && rfs_crypt_xts(fs->crypt, 0, index, buf, buf, len) != 0)
		return rx_fail(fs->ctx, EIO, "cannot decrypt block %llu", (unsigned long long)index);
	uint64_t h = seahash(buf, len);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	h = ptr.hash;
#endif
	if (h != ptr.hash)
		return rx_fail(fs->ctx, EBADMSG,
			       "checksum mismatch in block %llu (stored %016llx, computed %016llx)",
			       (unsigned long long)index, (unsigned long long)ptr.hash,
			       (unsigned long long)h);
	return 0;
}

/* Keep a verified metadata block (level 0). */
static void cache_put(struct rfs *fs, struct rfs_ptr ptr, const uint8_t *buf)
{
	unsigned i = cache_slot(rfs_ptr_index(ptr));
	pthread_mutex_lock(&fs->lock);
	if (++fs->cache->puts == CACHE_HUGE_AFTER)
		cache_go_huge(fs->cache);
	fs->cache->tag[i].index = rfs_ptr_index(ptr);
	fs->cache->tag[i].hash = ptr.hash;
	memcpy(fs->cache->data[i], buf, RFS_BLOCK);
	pthread_mutex_unlock(&fs->lock);
}

static int cached(struct rfs *fs, struct rfs_ptr ptr)
{
	pthread_mutex_lock(&fs->lock);
	int hit = cache_find(fs, ptr) != NULL;
	pthread_mutex_unlock(&fs->lock);
	return hit;
}

static int ptr_index_cmp(const void *a, const void *b)
{
	uint64_t x = rfs_ptr_index(*(const struct rfs_ptr *)a), y = rfs_ptr_index(*(const struct rfs_ptr *)b);
	return x < y ? -1 : x > y;
}

/* rfs_cache_entries reads runs of at most this many blocks, skipping gaps of up to CACHE_FILL_GAP - 1. */
#define CACHE_FILL_BLOCKS 16u
#define CACHE_FILL_GAP 4u

int rfs_read_ptr(struct rfs *fs, struct rfs_ptr ptr, int meta, void *buf)
{
	uint64_t index = rfs_ptr_index(ptr);
	unsigned level = rfs_ptr_level(ptr);
	int r = rfs_ptr_check(fs, ptr, meta);
	if (r)
		return r;
	if (fs->hdr.encrypted && !fs->crypt)
		return rx_fail(fs->ctx, RX_ENOKEY, "the filesystem is encrypted: a password is needed");

	size_t len = (size_t)(RFS_BLOCK << level);
	if (fs->tx) {
		/* Blocks the open transaction holds in memory: not on disk yet. */
		size_t have;
		const uint8_t *d = rfs_tx_dirty_buf(fs->tx, index, &have);
		if (d && have == len) {
			memcpy(buf, d, len);
			return 0;
		}
		if (d)
			return rx_fail(fs->ctx, EIO, "block %llu is held with another size",
				       (unsigned long long)index);
	}
	if (level == 0) {
		pthread_mutex_lock(&fs->lock);
		const uint8_t *b = cache_find(fs, ptr);
		if (b) {
			memcpy(buf, b, RFS_BLOCK);
			pthread_mutex_unlock(&fs->lock);
			return 0;
		}
		pthread_mutex_unlock(&fs->lock);
	}
	r = rx_dev_read(fs->dev, buf, len, fs->start + index * RFS_BLOCK);
	if (r)
		return r;
	r = block_verify(fs, ptr, buf);
	if (r == 0 && level == 0 && meta)
		cache_put(fs, ptr, buf);
	return r;
}

void rfs_cache_entries(struct rfs *fs, const struct rfs_dirent *ents, size_t count)
{
	struct rfs_ptr *want = rx_xmalloc(RX_MAX(count, (size_t)1) * sizeof(*want));
	uint8_t *buf = rx_xmalloc(CACHE_FILL_BLOCKS * RFS_BLOCK);
	struct rx_ctx saved = *fs->ctx;
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		struct rfs_ptr ptr;
		if (rfs_node_ptr(fs, ents[i].id, &ptr) != 0 || rfs_ptr_is_null(ptr) ||
		    rfs_ptr_level(ptr) != 0 || rfs_ptr_check(fs, ptr, 1) != 0 || cached(fs, ptr))
			continue;
		size_t have;
		if (fs->tx && rfs_tx_dirty_buf(fs->tx, rfs_ptr_index(ptr), &have))
			continue;	/* held in memory by the transaction */
		want[n++] = ptr;
	}
	qsort(want, n, sizeof(*want), ptr_index_cmp);
	for (size_t i = 0; i < n;) {
		/* A run: blocks no further apart than a read of what lies between costs. */
		uint64_t first = rfs_ptr_index(want[i]);
		size_t j = i + 1;
		while (j < n && rfs_ptr_index(want[j]) - first < CACHE_FILL_BLOCKS &&
		       rfs_ptr_index(want[j]) - rfs_ptr_index(want[j - 1]) <= CACHE_FILL_GAP)
			j++;
		uint64_t blocks = rfs_ptr_index(want[j - 1]) - first + 1;
		if (rx_dev_read(fs->dev, buf, (size_t)blocks * RFS_BLOCK, fs->start + first * RFS_BLOCK) == 0) {
			for (size_t k = i; k < j; k++) {
				uint8_t *b = buf + (rfs_ptr_index(want[k]) - first) * RFS_BLOCK;
				if (block_verify(fs, want[k], b) == 0)
					cache_put(fs, want[k], b);
			}
		}
		i = j;
	}
	free(buf);
	free(want);
	*fs->ctx = saved;	/* what failed here fails again, and is reported, when read */
}
