/*
 * A sparse bitmap, one bit per filesystem block: chunks of 32768 bits that
 * are all clear or all set cost one pointer, so maps of huge, mostly empty
 * (or mostly free) filesystems stay small and whole runs are skipped at once.
 */
#ifndef RX_BMAP_H
#define RX_BMAP_H

#include <stdint.h>

struct bmap_chunk;

struct bmap {
	uint64_t nbits;
	uint64_t nchunks;
	uint64_t count;			/* bits set */
	struct bmap_chunk **chunk;	/* NULL = all clear; BMAP_FULL = all set */
};

void bmap_init(struct bmap *m, uint64_t nbits);
void bmap_free(struct bmap *m);
void bmap_copy(struct bmap *dst, const struct bmap *src);
int bmap_get(const struct bmap *m, uint64_t i);
/* Set or clear bits [start, start + n) (clipped to the map). */
void bmap_set_range(struct bmap *m, uint64_t start, uint64_t n);
void bmap_clear_range(struct bmap *m, uint64_t start, uint64_t n);
static inline void bmap_set(struct bmap *m, uint64_t i) { bmap_set_range(m, i, 1); }
static inline void bmap_clear(struct bmap *m, uint64_t i) { bmap_clear_range(m, i, 1); }
/* The first set (clear) bit at or after from; nbits when there is none. */
uint64_t bmap_next_set(const struct bmap *m, uint64_t from);
uint64_t bmap_next_clear(const struct bmap *m, uint64_t from);
/* Bits set in [start, end). */
uint64_t bmap_count_range(const struct bmap *m, uint64_t start, uint64_t end);
/* Set every bit src has set (the maps are the same size). */
void bmap_or(struct bmap *dst, const struct bmap *src);
/* Maximal runs of set bits. */
uint64_t bmap_runs(const struct bmap *m);

#endif
