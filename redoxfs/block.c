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

/* A small direct-mapped cache of verified metadata blocks. */
#define CACHE_SLOTS 4096u

struct cache_slot {
	uint64_t index;		/* 0 = empty */
	uint64_t hash;
	uint8_t data[RFS_BLOCK];
};

struct rfs_cache {
	struct cache_slot slot[CACHE_SLOTS];
};

static struct cache_slot *cache_slot(struct rfs *fs, uint64_t index)
{
	return &fs->cache->slot[(index * 0x9E3779B97F4A7C15ULL) >> 52 & (CACHE_SLOTS - 1)];
}

int rfs_probe(struct rx_ctx *ctx, struct rx_dev *dev, uint64_t *start)
{
	const size_t chunk_blocks = 256;
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
	uint64_t ring_bytes = (uint64_t)RFS_HEADER_RING * RFS_BLOCK;
	uint64_t avail = start < dev->size ? dev->size - start : 0;
	uint8_t *ring = rx_xmalloc(ring_bytes);
	struct rfs_header best, h;
	int have = 0, r;

	/* A ring cut short by the end of the image still yields its valid slots. */
	r = rx_dev_read(dev, ring, (size_t)RX_MIN(ring_bytes, avail / RFS_BLOCK * RFS_BLOCK), start);
	if (r) {
		free(ring);
		return r;
	}
	for (uint64_t i = 0; i < RX_MIN((uint64_t)RFS_HEADER_RING, avail / RFS_BLOCK); i++) {
		if (rfs_header_decode(ring + i * RFS_BLOCK, &h) != 0)
			continue;
		if (!have || h.generation > best.generation) {
			best = h;
			have = 1;
		}
	}
	free(ring);
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
	fs->cache = rx_xcalloc(1, sizeof(*fs->cache));
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
	free(fs->cache);
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
		struct cache_slot *s = cache_slot(fs, rfs_ptr_index(ptr));
		if (s->index == rfs_ptr_index(ptr) && s->hash == ptr.hash) {
			*out = rfs_ptr_decode(s->data + off);
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
		struct cache_slot *s = cache_slot(fs, index);
		if (s->index == index && s->hash == ptr.hash) {
			memcpy(buf, s->data, RFS_BLOCK);
			pthread_mutex_unlock(&fs->lock);
			return 0;
		}
		pthread_mutex_unlock(&fs->lock);
	}
	r = rx_dev_read(fs->dev, buf, len, fs->start + index * RFS_BLOCK);
	if (r)
		return r;
	/* The tweak is the fs-relative block index; checksums cover the plaintext. */
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
	if (level == 0 && meta) {
		pthread_mutex_lock(&fs->lock);
		struct cache_slot *s = cache_slot(fs, index);
		s->index = index;
		s->hash = ptr.hash;
		memcpy(s->data, buf, RFS_BLOCK);
		pthread_mutex_unlock(&fs->lock);
	}
	return 0;
}
