/*
 * The file allocation table, held in memory as the bytes of the active copy.
 * Changes are made in memory, sector by sector marked dirty, and land only at
 * fat_commit (every copy, first copy first). Allocation takes clusters that
 * are free in memory; the write paths never free and allocate within one
 * uncommitted change, so those clusters are free on disk too.
 */
#include "fat_int.h"

#include <stdlib.h>

static uint64_t copy_off(const struct fat_fs *fs, uint32_t copy)
{
	return ((uint64_t)fs->b.reserved + (uint64_t)copy * fs->b.fat_sectors) * fs->b.bps;
}

uint32_t fat_get(const struct fat_fs *fs, uint32_t c)
{
	switch (fs->b.type) {
	case 12: {
		uint16_t v = get_le16(fs->fat + c + c / 2);
		return c & 1 ? v >> 4 : v & 0xFFFu;
	}
	case 16:
		return get_le16(fs->fat + 2 * (size_t)c);
	default:
		return get_le32(fs->fat + 4 * (size_t)c) & 0x0FFFFFFFu;
	}
}

static void mark(struct fat_fs *fs, size_t off, size_t len)
{
	for (size_t s = off / fs->b.bps; s <= (off + len - 1) / fs->b.bps; s++)
		fs->dirty[s] = 1;
}

void fat_set(struct fat_fs *fs, uint32_t c, uint32_t v)
{
	switch (fs->b.type) {
	case 12: {
		size_t off = c + c / 2;
		uint16_t old = get_le16(fs->fat + off);
		put_le16(fs->fat + off, c & 1 ? (uint16_t)((old & 0x000F) | (v << 4))
					      : (uint16_t)((old & 0xF000) | (v & 0xFFF)));
		mark(fs, off, 2);
		break;
	}
	case 16:
		put_le16(fs->fat + 2 * (size_t)c, (uint16_t)v);
		mark(fs, 2 * (size_t)c, 2);
		break;
	default: {
		uint8_t *p = fs->fat + 4 * (size_t)c;
		/* The top four bits are reserved: kept as they are. */
		put_le32(p, (get_le32(p) & 0xF0000000u) | (v & 0x0FFFFFFFu));
		mark(fs, 4 * (size_t)c, 4);
	}
	}
}

uint32_t fat_eoc(const struct fat_fs *fs)
{
	return fs->b.type == 12 ? 0xFFF : fs->b.type == 16 ? 0xFFFF : 0x0FFFFFFF;
}

static uint32_t eoc_min(const struct fat_fs *fs)
{
	return fat_eoc(fs) - 7;
}

static void count_free(struct fat_fs *fs)
{
	fs->nfree = 0;
	for (uint32_t c = 2; c - 2 < fs->b.clusters; c++)
		fs->nfree += fat_get(fs, c) == 0;
}

int fat_load(struct fat_fs *fs)
{
	fs->fat_bytes = (size_t)fs->b.fat_sectors * fs->b.bps;
	fs->fat = rx_xmalloc(fs->fat_bytes);
	fs->dirty = rx_xcalloc(1, fs->b.fat_sectors);
	int r = rx_dev_read(fs->dev, fs->fat, fs->fat_bytes, copy_off(fs, fs->b.active_fat));
	if (r)
		return r;
	if (fs->b.mirrored && fs->b.nfats == 2) {
		uint8_t *buf = rx_xmalloc(65536);
		for (size_t off = 0; off < fs->fat_bytes && !r && !fs->fats_differ; off += 65536) {
			size_t n = RX_MIN(fs->fat_bytes - off, (size_t)65536);
			r = rx_dev_read(fs->dev, buf, n, copy_off(fs, 1) + off);
			if (!r && memcmp(buf, fs->fat + off, n))
				fs->fats_differ = 1;
		}
		free(buf);
		if (r)
			return r;
	}
	count_free(fs);
	fs->hint = 2;
	return 0;
}

int fat_next(struct fat_fs *fs, uint32_t c, uint32_t *next)
{
	uint32_t v = fat_get(fs, c);
	if (v >= eoc_min(fs)) {
		*next = 0;
		return 0;
	}
	if (v == 0)
		return rx_fail(fs->ctx, EIO, "cluster chain runs into a free cluster (after cluster %u)", c);
	if (v == eoc_min(fs) - 1)
		return rx_fail(fs->ctx, EIO, "cluster chain runs into a bad cluster (after cluster %u)", c);
	if (!fat_cluster_valid(fs, v))
		return rx_fail(fs->ctx, EIO, "cluster %u links to cluster %u, outside the volume (2..%u)", c, v,
			       fs->b.clusters + 1);
	*next = v;
	return 0;
}

int fat_chain_len(struct fat_fs *fs, uint32_t first, uint32_t *len)
{
	if (!fat_cluster_valid(fs, first))
		return rx_fail(fs->ctx, EIO, "first cluster %u is outside the volume (2..%u)", first, fs->b.clusters + 1);
	uint32_t n = 0;
	for (uint32_t c = first; c;) {
		if (++n > fs->b.clusters)
			return rx_fail(fs->ctx, ELOOP, "cluster chain from %u loops (longer than the volume)", first);
		int r = fat_next(fs, c, &c);
		if (r)
			return r;
	}
	*len = n;
	return 0;
}

int fat_alloc(struct fat_fs *fs, uint32_t prev, uint32_t *out)
{
	uint32_t n = fs->b.clusters, start = fat_cluster_valid(fs, fs->hint) ? fs->hint : 2;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t c = 2 + (start - 2 + i) % n;
		if (fat_get(fs, c) == 0) {
			fat_set(fs, c, fat_eoc(fs));
			if (prev)
				fat_set(fs, prev, c);
			fs->nfree--;
			fs->hint = c + 1;
			*out = c;
			return 0;
		}
	}
	return rx_fail(fs->ctx, ENOSPC, "no free cluster left on the FAT volume");
}

int fat_free_chain(struct fat_fs *fs, uint32_t first)
{
	if (first == 0)
		return 0;
	uint32_t len;
	int r = fat_chain_len(fs, first, &len);
	if (r)
		return r;
	/* The length bound catches long loops; a bitmap catches any revisit. */
	uint8_t *seen = rx_xcalloc(1, fs->b.clusters / 8 + 1);
	for (uint32_t c = first; c && !r;) {
		uint32_t i = c - 2;
		if (seen[i / 8] & (1u << (i % 8)))
			r = rx_fail(fs->ctx, ELOOP, "cluster chain from %u loops at cluster %u", first, c);
		seen[i / 8] |= (uint8_t)(1u << (i % 8));
		if (!r)
			r = fat_next(fs, c, &c);
	}
	free(seen);
	if (r)
		return r;
	for (uint32_t c = first, next; c; c = next) {
		fat_next(fs, c, &next);
		fat_set(fs, c, 0);
		fs->nfree++;
	}
	return 0;
}

int fat_commit(struct fat_fs *fs)
{
	int r = 0;
	for (uint32_t copy = 0; copy < fs->b.nfats && !r; copy++) {
		if (!fs->b.mirrored && copy != fs->b.active_fat)
			continue;
		for (uint32_t s = 0; s < fs->b.fat_sectors && !r;) {
			if (!fs->dirty[s]) {
				s++;
				continue;
			}
			uint32_t e = s;
			while (e < fs->b.fat_sectors && fs->dirty[e])
				e++;
			r = rx_dev_write(fs->dev, fs->fat + (size_t)s * fs->b.bps, (size_t)(e - s) * fs->b.bps,
					 copy_off(fs, copy) + (uint64_t)s * fs->b.bps);
			s = e;
		}
	}
	if (!r)
		r = rx_dev_flush(fs->dev);
	if (!r)
		memset(fs->dirty, 0, fs->b.fat_sectors);
	fs->cur_first = 0;	/* chains may have changed under the read cursor */
	return r;
}

void fat_rollback(struct fat_fs *fs)
{
	struct rx_ctx saved = *fs->ctx;	/* keep the caller's error, not a re-read's */
	int any = 0;
	for (uint32_t s = 0; s < fs->b.fat_sectors; s++) {
		if (!fs->dirty[s])
			continue;
		any = 1;
		/* A failed re-read leaves the volume unusable for writing, which the caller is about to report. */
		if (rx_dev_read(fs->dev, fs->fat + (size_t)s * fs->b.bps, fs->b.bps,
				copy_off(fs, fs->b.active_fat) + (uint64_t)s * fs->b.bps))
			fs->writable = 0;
		fs->dirty[s] = 0;
	}
	if (any)
		count_free(fs);
	fs->cur_first = 0;
	*fs->ctx = saved;
}
