/* The allocation log: replay into a free-block map. */
#include <stdlib.h>

#include "rfs.h"

#define ALLOC_ENTRIES 255u

/* Extents are applied whole: time and memory follow the log, not the filesystem's size. */
int rfs_alloc_replay(struct rfs *fs, struct bmap *free_map, rfs_block_cb cb, void *arg)
{
	size_t n = 0, cap = 16;
	struct rfs_ptr *chain = rx_xmalloc(cap * sizeof(*chain));
	uint8_t buf[RFS_BLOCK];
	struct bmap map;
	bmap_init(&map, fs->nblocks);
	struct rfs_ptr ptr = fs->hdr.alloc;
	int r = 0;

	/* The header names the newest list; collect the chain, then replay oldest first. */
	while (!rfs_ptr_is_null(ptr)) {
		if (n >= fs->nblocks) {
			r = rx_fail(fs->ctx, ELOOP, "allocation log: the chain of lists loops");
			goto out;
		}
		r = rfs_read_ptr(fs, ptr, 1, buf);
		if (r) {
			rx_prefix(fs->ctx, "allocation log list %zu", n);
			goto out;
		}
		if (cb && (r = cb(arg, ptr, 0)) != 0)
			goto out;
		if (n == cap)
			chain = rx_xrealloc(chain, (cap *= 2) * sizeof(*chain));
		chain[n++] = ptr;
		ptr = rfs_ptr_decode(buf);
	}
	while (n-- > 0) {
		r = rfs_read_ptr(fs, chain[n], 1, buf);
		if (r)
			goto out;
		for (unsigned k = 0; k < ALLOC_ENTRIES; k++) {
			const uint8_t *e = buf + 16 + 16 * k;
			uint64_t index = get_le64(e);
			int64_t count = (int64_t)get_le64(e + 8);
			if (count == 0)
				continue;
			uint64_t mag = count < 0 ? (uint64_t)0 - (uint64_t)count : (uint64_t)count;
			if (index >= fs->nblocks || mag > fs->nblocks - index) {
				r = rx_fail(fs->ctx, RX_ECORRUPT, "allocation log: entry (%llu, %lld) lies outside "
					    "the %llu-block filesystem", (unsigned long long)index,
					    (long long)count, (unsigned long long)fs->nblocks);
				goto out;
			}
			uint64_t b = count < 0 ? bmap_next_clear(&map, index) : bmap_next_set(&map, index);
			if (b < index + mag) {
				r = rx_fail(fs->ctx, RX_ECORRUPT, count < 0 ? "allocation log: block %llu is "
					    "allocated while not free" : "allocation log: block %llu is freed twice",
					    (unsigned long long)b);
				goto out;
			}
			if (count < 0)
				bmap_clear_range(&map, index, mag);
			else
				bmap_set_range(&map, index, mag);
		}
	}
out:
	free(chain);
	if (r || !free_map)
		bmap_free(&map);
	if (free_map)
		*free_map = r ? (struct bmap){ 0 } : map;
	return r;
}

int rfs_free_blocks(struct rfs *fs, uint64_t *free_blocks)
{
	struct bmap map;
	int r = rfs_alloc_replay(fs, &map, NULL, NULL);
	if (r)
		return r;
	*free_blocks = map.count;
	bmap_free(&map);
	return 0;
}
