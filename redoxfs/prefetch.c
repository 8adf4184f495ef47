/* Read-ahead hints in address order (see prefetch.h). */
#include <stdlib.h>

#include "prefetch.h"

/*
 * Runs closer than this are hinted as one: reading a gap of up to 128 KiB
 * costs less than another request (and a seek on a spinning disk).
 */
#define MERGE_GAP_BLOCKS 32u

void rfs_prefetch_init(struct rfs_prefetch *p, struct rfs *fs)
{
	memset(p, 0, sizeof(*p));
	p->fs = fs;
}

void rfs_prefetch_free(struct rfs_prefetch *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void rfs_prefetch_add(struct rfs_prefetch *p, struct rfs_ptr ptr)
{
	if (rfs_ptr_is_marker(ptr) || rfs_ptr_is_null(ptr) || rfs_ptr_level(ptr) > RFS_RECORD_LEVEL)
		return;
	uint64_t index = rfs_ptr_index(ptr), count = 1ULL << rfs_ptr_level(ptr);
	/* Checked quietly: a bad pointer is the read's to report, not the hint's. */
	if (index < RFS_FIRST_DATA_BLOCK || index >= p->fs->nblocks || count > p->fs->nblocks - index)
		return;
	if (p->n == p->cap)
		p->v = rx_xrealloc(p->v, (p->cap = p->cap ? 2 * p->cap : 64) * sizeof(*p->v));
	p->v[p->n++] = (struct rfs_prefetch_run){ index, count };
	p->blocks += count;
}

void rfs_prefetch_add_node(struct rfs_prefetch *p, uint32_t id)
{
	struct rfs_ptr ptr;
	struct rx_ctx saved = *p->fs->ctx;
	if (rfs_node_ptr(p->fs, id, &ptr) == 0)
		rfs_prefetch_add(p, ptr);
	else
		*p->fs->ctx = saved;	/* the walker's own lookup reports it */
}

void rfs_prefetch_add_contents(struct rfs_prefetch *p, const struct rfs_node *n)
{
	if (rfs_is_dir(n)) {
		if (rfs_ptr_is_marker(rfs_node_level_ptr(n, 0)))
			rfs_prefetch_add(p, rfs_node_level_ptr(n, 1));
		return;
	}
	if (rfs_is_inline(n))
		return;
	uint64_t recsize = rfs_record_size(n);
	uint64_t nrec = n->size / recsize + (n->size % recsize != 0);
	for (unsigned s = 0; s < 128 && s < nrec; s++)
		rfs_prefetch_add(p, rfs_node_level_ptr(n, s));
	/* Index blocks: their records are hinted as the walk reads each of them. */
	for (unsigned s = 128; nrec > 128 && s < 248; s++)
		rfs_prefetch_add(p, rfs_node_level_ptr(n, s));
}

static int run_cmp(const void *a, const void *b)
{
	const struct rfs_prefetch_run *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

void rfs_prefetch_issue(struct rfs_prefetch *p)
{
	/* One block about to be read anyway gains nothing from a hint. */
	if (p->n > 1 || (p->n == 1 && p->v[0].count > 1)) {
		qsort(p->v, p->n, sizeof(*p->v), run_cmp);
		uint64_t start = p->v[0].index, end = start + p->v[0].count;
		for (size_t i = 1; i <= p->n; i++) {
			if (i < p->n && p->v[i].index <= end + MERGE_GAP_BLOCKS) {
				end = RX_MAX(end, p->v[i].index + p->v[i].count);
				continue;
			}
			rx_dev_advise(p->fs->dev, p->fs->start + start * RFS_BLOCK, (end - start) * RFS_BLOCK);
			if (i < p->n) {
				start = p->v[i].index;
				end = start + p->v[i].count;
			}
		}
	}
	p->n = 0;
	p->blocks = 0;
}

struct by_addr {
	struct rfs_ptr ptr;
	uint32_t id;
};

static int by_addr_cmp(const void *a, const void *b)
{
	const struct by_addr *x = a, *y = b;
	return x->ptr.addr < y->ptr.addr ? -1 : x->ptr.addr > y->ptr.addr;
}

void rfs_prefetch_entries(struct rfs *fs, const struct rfs_dirent *ents, size_t count, int what)
{
	const uint64_t max_blocks = RFS_PREFETCH_BYTES / RFS_BLOCK;
	struct rfs_prefetch p;
	struct rx_ctx saved = *fs->ctx;
	count = (size_t)RX_MIN((uint64_t)count, max_blocks);	/* a node is one block */
	if (count < 2)
		return;
	rfs_prefetch_init(&p, fs);
	struct by_addr *v = rx_xmalloc(count * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		if (rfs_node_ptr(fs, ents[i].id, &v[n].ptr) != 0 || rfs_ptr_is_null(v[n].ptr))
			continue;
		v[n].id = ents[i].id;
		rfs_prefetch_add(&p, v[n++].ptr);
	}
	rfs_prefetch_issue(&p);
	if (what & RFS_PREFETCH_CONTENTS) {
		/* The nodes are on their way: read them as the disk delivers them, in address order. */
		qsort(v, n, sizeof(*v), by_addr_cmp);
		for (size_t i = 0; i < n && p.blocks < max_blocks; i++) {
			struct rfs_node node;
			if (rfs_node_get(fs, v[i].id, &node) == 0)
				rfs_prefetch_add_contents(&p, &node);
		}
		rfs_prefetch_issue(&p);
	}
	free(v);
	rfs_prefetch_free(&p);
	*fs->ctx = saved;	/* failures here are the walker's to find and report */
}
