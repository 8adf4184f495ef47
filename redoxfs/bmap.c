/* The sparse block bitmap (see bmap.h). */
#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "rx.h"

#define CHUNK_BITS 32768u
#define CHUNK_BYTES (CHUNK_BITS / 8)

struct bmap_chunk {
	uint32_t ones;
	uint64_t w[CHUNK_BITS / 64];
};

/* A sentinel no allocation can return: a chunk whose bits are all set. */
static struct bmap_chunk full_chunk;
#define BMAP_FULL (&full_chunk)

static uint64_t chunk_len(const struct bmap *m, uint64_t c)
{
	uint64_t base = c * CHUNK_BITS;
	return m->nbits - base < CHUNK_BITS ? m->nbits - base : CHUNK_BITS;
}

void bmap_init(struct bmap *m, uint64_t nbits)
{
	m->nbits = nbits;
	m->nchunks = (nbits + CHUNK_BITS - 1) / CHUNK_BITS;
	m->count = 0;
	m->chunk = rx_xcalloc((size_t)(m->nchunks ? m->nchunks : 1), sizeof(*m->chunk));
}

void bmap_free(struct bmap *m)
{
	if (!m->chunk)
		return;
	for (uint64_t c = 0; c < m->nchunks; c++)
		if (m->chunk[c] != BMAP_FULL)
			free(m->chunk[c]);
	free(m->chunk);
	m->chunk = NULL;
}

void bmap_copy(struct bmap *dst, const struct bmap *src)
{
	bmap_init(dst, src->nbits);
	dst->count = src->count;
	for (uint64_t c = 0; c < src->nchunks; c++) {
		struct bmap_chunk *s = src->chunk[c];
		if (!s || s == BMAP_FULL) {
			dst->chunk[c] = s;
			continue;
		}
		dst->chunk[c] = rx_xmalloc(sizeof(*s));
		memcpy(dst->chunk[c], s, sizeof(*s));
	}
}

int bmap_get(const struct bmap *m, uint64_t i)
{
	if (i >= m->nbits)
		return 0;
	const struct bmap_chunk *ch = m->chunk[i / CHUNK_BITS];
	if (!ch || ch == BMAP_FULL)
		return ch == BMAP_FULL;
	uint64_t o = i % CHUNK_BITS;
	return (int)(ch->w[o / 64] >> (o % 64) & 1);
}

/* A chunk with real bits, made from a uniform one when needed. */
static struct bmap_chunk *materialize(struct bmap *m, uint64_t c)
{
	struct bmap_chunk *ch = m->chunk[c];
	if (ch && ch != BMAP_FULL)
		return ch;
	struct bmap_chunk *n = rx_xcalloc(1, sizeof(*n));
	if (ch == BMAP_FULL) {
		uint64_t len = chunk_len(m, c);
		for (uint64_t k = 0; k < len / 64; k++)
			n->w[k] = ~(uint64_t)0;
		if (len % 64)
			n->w[len / 64] = ((uint64_t)1 << (len % 64)) - 1;
		n->ones = (uint32_t)len;
	}
	m->chunk[c] = n;
	return n;
}

/* Back to a uniform chunk when it has become one. */
static void normalize(struct bmap *m, uint64_t c)
{
	struct bmap_chunk *ch = m->chunk[c];
	if (!ch || ch == BMAP_FULL)
		return;
	if (ch->ones == 0) {
		free(ch);
		m->chunk[c] = NULL;
	} else if (ch->ones == chunk_len(m, c)) {
		free(ch);
		m->chunk[c] = BMAP_FULL;
	}
}

/* Set (v = 1) or clear bits [lo, hi) of one chunk (offsets within it). */
static void chunk_update(struct bmap *m, uint64_t c, uint64_t lo, uint64_t hi, int v)
{
	struct bmap_chunk *ch = m->chunk[c];
	if ((ch == BMAP_FULL && v) || (!ch && !v))
		return;
	uint64_t len = chunk_len(m, c);
	if (lo == 0 && hi == len) {
		uint64_t before = ch == BMAP_FULL ? len : ch ? ch->ones : 0;
		if (ch != BMAP_FULL)
			free(ch);
		m->chunk[c] = v ? BMAP_FULL : NULL;
		m->count = m->count - before + (v ? len : 0);
		return;
	}
	ch = materialize(m, c);
	for (uint64_t i = lo; i < hi;) {
		uint64_t k = i / 64, b = i % 64, span = 64 - b < hi - i ? 64 - b : hi - i;
		uint64_t mask = (span == 64 ? ~(uint64_t)0 : (((uint64_t)1 << span) - 1)) << b;
		uint64_t changed = v ? mask & ~ch->w[k] : mask & ch->w[k];
		unsigned n = (unsigned)__builtin_popcountll(changed);
		if (v) {
			ch->w[k] |= mask;
			ch->ones += n;
			m->count += n;
		} else {
			ch->w[k] &= ~mask;
			ch->ones -= n;
			m->count -= n;
		}
		i += span;
	}
	normalize(m, c);
}

static void update(struct bmap *m, uint64_t start, uint64_t n, int v)
{
	if (start >= m->nbits)
		return;
	uint64_t end = n > m->nbits - start ? m->nbits : start + n;
	while (start < end) {
		uint64_t c = start / CHUNK_BITS, base = c * CHUNK_BITS;
		uint64_t hi = end - base < chunk_len(m, c) ? end - base : chunk_len(m, c);
		chunk_update(m, c, start - base, hi, v);
		start = base + hi;
	}
}

void bmap_set_range(struct bmap *m, uint64_t start, uint64_t n) { update(m, start, n, 1); }
void bmap_clear_range(struct bmap *m, uint64_t start, uint64_t n) { update(m, start, n, 0); }

/* The first bit equal to v at or after from. */
static uint64_t next_with(const struct bmap *m, uint64_t from, int v)
{
	while (from < m->nbits) {
		uint64_t c = from / CHUNK_BITS, base = c * CHUNK_BITS, len = chunk_len(m, c);
		const struct bmap_chunk *ch = m->chunk[c];
		if (ch == BMAP_FULL || !ch) {
			if ((ch == BMAP_FULL) == v)
				return from;
			from = base + len;
			continue;
		}
		for (uint64_t o = from - base; o < len;) {
			uint64_t w = v ? ch->w[o / 64] : ~ch->w[o / 64];
			w &= ~(uint64_t)0 << (o % 64);
			if (w) {
				uint64_t at = o / 64 * 64 + (uint64_t)__builtin_ctzll(w);
				return at < len ? base + at : m->nbits;
			}
			o = (o / 64 + 1) * 64;
		}
		from = base + len;
	}
	return m->nbits;
}

uint64_t bmap_next_set(const struct bmap *m, uint64_t from) { return next_with(m, from, 1); }
uint64_t bmap_next_clear(const struct bmap *m, uint64_t from) { return next_with(m, from, 0); }

uint64_t bmap_runs(const struct bmap *m)
{
	uint64_t runs = 0;
	for (uint64_t b = bmap_next_set(m, 0); b < m->nbits; b = bmap_next_set(m, bmap_next_clear(m, b)))
		runs++;
	return runs;
}

uint64_t bmap_count_range(const struct bmap *m, uint64_t start, uint64_t end)
{
	uint64_t n = 0;
	if (end > m->nbits)
		end = m->nbits;
	while (start < end) {
		uint64_t c = start / CHUNK_BITS, base = c * CHUNK_BITS;
		uint64_t hi = end - base < chunk_len(m, c) ? end - base : chunk_len(m, c);
		const struct bmap_chunk *ch = m->chunk[c];
		if (ch == BMAP_FULL)
			n += hi - (start - base);
		else if (ch && start == base && hi == chunk_len(m, c))
			n += ch->ones;
		else if (ch)
			for (uint64_t o = start - base; o < hi; o++)
				n += ch->w[o / 64] >> (o % 64) & 1;
		start = base + hi;
	}
	return n;
}

void bmap_or(struct bmap *dst, const struct bmap *src)
{
	for (uint64_t b = bmap_next_set(src, 0); b < src->nbits;) {
		uint64_t e = bmap_next_clear(src, b);
		bmap_set_range(dst, b, e - b);
		b = bmap_next_set(src, e);
	}
}
