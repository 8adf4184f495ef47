/* The allocation log: replay into a free-block map. */
#include <stdlib.h>

#include "rfs.h"

#define ALLOC_ENTRIES 255u

static inline int bit_get(const uint8_t *m, uint64_t i) { return (m[i >> 3] >> (i & 7)) & 1; }
static inline void bit_set(uint8_t *m, uint64_t i) { m[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static inline void bit_clear(uint8_t *m, uint64_t i) { m[i >> 3] &= (uint8_t)~(1u << (i & 7)); }

int rfs_alloc_replay(struct rfs *fs, uint8_t **free_map, rfs_block_cb cb, void *arg)
{
	size_t n = 0, cap = 16;
	struct rfs_ptr *chain = rx_xmalloc(cap * sizeof(*chain));
	uint8_t buf[RFS_BLOCK];
	uint8_t *map = rx_xcalloc((size_t)(fs->nblocks / 8 + 1), 1);
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
			for (uint64_t b = index; b < index + mag; b++) {
				if (count < 0 && !bit_get(map, b)) {
					r = rx_fail(fs->ctx, RX_ECORRUPT, "allocation log: block %llu is allocated "
						    "while not free", (unsigned long long)b);
					goto out;
				}
				if (count > 0 && bit_get(map, b)) {
					r = rx_fail(fs->ctx, RX_ECORRUPT, "allocation log: block %llu is freed twice",
						    (unsigned long long)b);
					goto out;
				}
				if (count < 0)
					bit_clear(map, b);
				else
					bit_set(map, b);
			}
		}
	}
out:
	free(chain);
	if (r || !free_map)
		free(map);
	else
		*free_map = map;
	return r;
}

int rfs_free_blocks(struct rfs *fs, uint64_t *free_blocks)
{
	uint8_t *map;
	int r = rfs_alloc_replay(fs, &map, NULL, NULL);
	if (r)
		return r;
	uint64_t count = 0;
	for (uint64_t i = 0; i < fs->nblocks / 8 + 1; i++)
		count += (uint64_t)__builtin_popcount(map[i]);
	free(map);
	*free_blocks = count;
	return 0;
}
