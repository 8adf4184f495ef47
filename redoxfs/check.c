#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "idmap.h"
#include "prefetch.h"
#include "seahash.h"

struct node_info {
	struct rfs_ptr ptr;	/* where the tree says the node is */
	uint32_t refs;		/* directory entries naming it */
	uint8_t reached, released;
};

struct checker {
	struct rfs *fs;
	struct rfs_check *c;
	struct bmap used;	/* one bit per block reachable from the header */
	struct idmap nodes;	/* id -> struct node_info */
	struct rfs_ptr *stale;	/* pointers beyond end of file, settled last */
	size_t nstale, stale_cap;
};

static void problem(struct checker *k, int sev, const char *where, const char *fmt, ...)
	RX_PRINTF(4, 5);

static void problem(struct checker *k, int sev, const char *where, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev == CHECK_ERROR)
		k->c->errors++;
	else
		k->c->warnings++;
	if (k->c->problem)
		k->c->problem(k->c->arg, sev, where, msg);
}

/* The failure recorded by the read layer, as a problem. */
static void read_problem(struct checker *k, const char *where)
{
	problem(k, CHECK_ERROR, where, "%s", k->fs->ctx->msg);
	rx_clear(k->fs->ctx);
}

/* Mark a verified block range as in use; a second use is corruption. */
static int mark_used(struct checker *k, struct rfs_ptr ptr, const char *where)
{
	/* Only a pointer that is valid in itself may claim blocks. */
	if (rfs_ptr_check(k->fs, ptr, 0) != 0) {
		read_problem(k, where);
		return -1;
	}
	uint64_t idx = rfs_ptr_index(ptr), n = 1ULL << rfs_ptr_level(ptr);
	if (k->c->blocks_done)
		k->c->blocks_done(k->c->arg, n);
	uint64_t end = RX_MIN(idx + n, k->fs->nblocks), dup = bmap_next_set(&k->used, idx);
	if (dup > end)
		dup = end;
	bmap_set_range(&k->used, idx, dup - idx);
	k->c->used_blocks += dup - idx;
	if (dup < end) {
		problem(k, CHECK_ERROR, where, "block %llu is used more than once", (unsigned long long)dup);
		return -1;
	}
	return 0;
}

static void check_ring(struct checker *k)
{
	struct rfs *fs = k->fs;
	uint8_t *ring = rx_xmalloc((size_t)RFS_HEADER_RING * RFS_BLOCK);
	if (rx_dev_read(fs->dev, ring, (size_t)RFS_HEADER_RING * RFS_BLOCK, fs->start) != 0) {
		read_problem(k, "header ring");
		free(ring);
		return;
	}
	uint64_t gens[RFS_HEADER_RING];
	int valid[RFS_HEADER_RING] = { 0 };
	for (unsigned i = 0; i < RFS_HEADER_RING; i++) {
		struct rfs_header h;
		char where[32];
		snprintf(where, sizeof(where), "header slot %u", i);
		if (rfs_header_decode(ring + (size_t)i * RFS_BLOCK, &h) != 0)
			continue;
		valid[i] = 1;
		gens[i] = h.generation;
		if (h.generation % RFS_HEADER_RING != i)
			problem(k, CHECK_ERROR, where, "holds generation %llu, which belongs in slot %llu",
				(unsigned long long)h.generation,
				(unsigned long long)(h.generation % RFS_HEADER_RING));
		if (memcmp(h.uuid, fs->hdr.uuid, 16) != 0)
			problem(k, CHECK_WARNING, where, "valid header of another filesystem (stale uuid)");
		for (unsigned j = 0; j < i; j++)
			if (valid[j] && gens[j] == h.generation)
				problem(k, CHECK_ERROR, where, "generation %llu also in slot %u",
					(unsigned long long)h.generation, j);
	}
	free(ring);
	if (fs->hdr.size % RFS_BLOCK)
		problem(k, CHECK_WARNING, "header", "size %llu is not a multiple of 4096",
			(unsigned long long)fs->hdr.size);
	if (rfs_ptr_is_null(fs->hdr.tree))
		problem(k, CHECK_ERROR, "header", "node tree pointer is null");
	if (rfs_ptr_is_null(fs->hdr.alloc))
		problem(k, CHECK_ERROR, "header", "allocation log pointer is null");
}

/* Walk the node tree: every TreeList and node block, with the full-flag rules. */
static int walk_tree(struct checker *k, struct rfs_ptr ptr, int level, uint32_t prefix)
{
	char where[64];
	uint8_t buf[RFS_BLOCK];
	snprintf(where, sizeof(where), "node tree level %d (ids from %u)", level, prefix);
	if (rfs_read_ptr(k->fs, ptr, 1, buf) != 0) {
		read_problem(k, where);
		return 0;
	}
	if (mark_used(k, ptr, where))
		return 0;
	if (level > 0) {
		/* Every child list is read next: ask for them in address order. */
		struct rfs_prefetch p;
		rfs_prefetch_init(&p, k->fs);
		for (unsigned i = 0; i < RFS_TREE_ENTRIES; i++)
			rfs_prefetch_add(&p, rfs_ptr_decode(buf + 16 * i));
		rfs_prefetch_issue(&p);
		rfs_prefetch_free(&p);
	}
	int full = 1, any = 0;
	for (unsigned i = 0; i < 256; i++) {
		int flag = (buf[4064 + (i / 128) * 16 + (i % 128) / 8] >> (i % 8)) & 1;
		if (i >= RFS_TREE_ENTRIES) {
			if (flag)
				problem(k, CHECK_ERROR, where, "full flag set for the unused entry %u", i);
			continue;
		}
		struct rfs_ptr child = rfs_ptr_decode(buf + 16 * i);
		uint32_t id = prefix | (uint32_t)i << (8 * level);
		int child_full = 0;
		if (!rfs_ptr_is_null(child)) {
			any = 1;
			if (level == 0) {
				child_full = 1;
				if (id == 0) {	/* reported, never followed: the node map has no slot for it */
					problem(k, CHECK_ERROR, where, "the reserved node id 0 is used");
				} else {
					struct node_info *ni = rx_xcalloc(1, sizeof(*ni));
					ni->ptr = child;
					*idmap_slot(&k->nodes, id, 1) = ni;
				}
			} else {
				child_full = walk_tree(k, child, level - 1, id);
			}
		} else if (level == 0 && id == 0) {
			child_full = 1;	/* id 0 is reserved: flagged full, never used */
		}
		if (flag != child_full)
			problem(k, level == 0 ? CHECK_ERROR : CHECK_WARNING, where,
				"entry %u is flagged %s but is %s", i, flag ? "full" : "not full",
				child_full ? "full" : "not full");
		full &= child_full;
	}
	if (!any && level < 3)
		problem(k, CHECK_WARNING, where, "empty node tree list kept allocated");
	return full;
}

struct data_ctx {
	struct checker *k;
	const char *path;
	const struct rfs_node *node;
	uint64_t counted;	/* blocks charged to the node that we found */
	uint8_t *rec;
};

static int data_block(void *arg, struct rfs_ptr ptr, int kind)
{
	struct data_ctx *d = arg;
	struct checker *k = d->k;
	d->counted += 1ULL << rfs_ptr_level(ptr);
	if (kind == RFS_BLK_STALE_INDEX || kind == RFS_BLK_STALE_RECORD) {
		if (k->nstale == k->stale_cap)
			k->stale = rx_xrealloc(k->stale, (k->stale_cap = k->stale_cap * 2 + 16) *
							 sizeof(*k->stale));
		k->stale[k->nstale++] = ptr;
		return 0;
	}
	if (mark_used(k, ptr, d->path))
		return 0;
	if (kind != RFS_BLK_RECORD)
		return 0;
	d->k->c->records++;
	if (rfs_ptr_decomp(ptr))
		d->k->c->compressed++;
	/* Loading verifies the checksum and that compressed records decode. */
	if (rfs_record_load(d->k->fs, d->node, ptr, d->rec) != 0)
		read_problem(d->k, d->path);
	return 0;
}

static int dir_block(void *arg, struct rfs_ptr ptr, int kind)
{
	struct data_ctx *d = arg;
	d->counted++;
	mark_used(d->k, ptr, d->path);
	return 0;
}

static void check_node_fields(struct checker *k, const char *path, const struct rfs_node *n)
{
	if (!rx_is_zero(n->raw + 74, 54))
		problem(k, CHECK_WARNING, path, "node padding bytes are not zero");
	if (n->flags & ~RFS_FLAG_INLINE)
		problem(k, CHECK_WARNING, path, "unknown node flags 0x%x", n->flags);
	if (n->ctime_nsec >= 1000000000u || n->mtime_nsec >= 1000000000u ||
	    n->atime_nsec >= 1000000000u)
		problem(k, CHECK_ERROR, path, "a timestamp has 1e9 or more nanoseconds");
	unsigned want = rfs_is_file(n) ? RFS_RECORD_LEVEL : 0;
	if (n->record_level != want)
		problem(k, CHECK_WARNING, path, "record level %u (expected %u)", n->record_level, want);
	if (rfs_is_inline(n) && n->size < RFS_INLINE_MAX &&
	    !rx_is_zero(n->raw + RFS_INLINE_OFF + n->size, (size_t)(RFS_INLINE_MAX - n->size)))
		problem(k, CHECK_WARNING, path, "stale inline bytes beyond the file size");
}

static void check_file(struct checker *k, const char *path, const struct rfs_node *n)
{
	struct data_ctx d = { k, path, n, 1, NULL };
	if (rfs_is_inline(n))
		return;
	d.rec = rx_xmalloc((size_t)rfs_record_size(n));
	if (rfs_file_blocks_reading(k->fs, n, data_block, &d) != 0)
		read_problem(k, path);
	free(d.rec);
	k->c->data_bytes += n->size;
	if (d.counted > n->blocks)
		problem(k, CHECK_WARNING, path, "node charges %llu blocks but owns %llu",
			(unsigned long long)n->blocks, (unsigned long long)d.counted);
}

static int name_cmp(const void *a, const void *b)
{
	const struct rfs_dirent *x = a, *y = b;
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	return c ? c : (int)x->len - (int)y->len;
}

static int valid_utf8(const char *s, size_t len);

static void check_dir(struct checker *k, const char *path, const struct rfs_node *n,
		      struct rfs_dirent **ents_out, size_t *count_out)
{
	struct data_ctx d = { k, path, n, 1, NULL };
	*ents_out = NULL;
	*count_out = 0;
	for (unsigned s = 2; s < 248; s++)
		if (!rfs_ptr_is_null(rfs_node_level_ptr(n, s))) {
			problem(k, CHECK_ERROR, path, "directory has a data pointer in slot %u", s);
			break;
		}
	if (rfs_dir_blocks(k->fs, n, dir_block, &d) != 0) {
		read_problem(k, path);
		return;
	}
	if (n->size != (d.counted - 1) * RFS_BLOCK)
		problem(k, CHECK_ERROR, path, "directory size %llu but it has %llu blocks",
			(unsigned long long)n->size, (unsigned long long)(d.counted - 1));
	if (n->blocks != d.counted)
		problem(k, CHECK_WARNING, path, "node charges %llu blocks but owns %llu",
			(unsigned long long)n->blocks, (unsigned long long)d.counted);
	struct rfs_dirent *ents;
	size_t count;
	if (rfs_dir_list(k->fs, n, &ents, &count) != 0) {
		read_problem(k, path);
		return;
	}
	/* Every name must be found again through the hashed lookup. */
	for (size_t i = 0; i < count; i++) {
		uint32_t id;
		if (!valid_utf8(ents[i].name, ents[i].len))
			problem(k, CHECK_WARNING, path, "entry '%s' is not valid UTF-8", ents[i].name);
		if (memchr(ents[i].name, ':', ents[i].len))
			problem(k, CHECK_WARNING, path, "entry '%s' contains ':'", ents[i].name);
		if (rfs_dir_lookup(k->fs, n, ents[i].name, ents[i].len, &id) != 0 || id != ents[i].id) {
			rx_clear(k->fs->ctx);
			problem(k, CHECK_ERROR, path, "entry '%s' cannot be found by its hash "
				"(h-tree order broken)", ents[i].name);
		}
	}
	if (count > 1)
		qsort(ents, count, sizeof(*ents), name_cmp);
	for (size_t i = 1; i < count; i++)
		if (name_cmp(&ents[i - 1], &ents[i]) == 0)
			problem(k, CHECK_ERROR, path, "the name '%s' appears twice", ents[i].name);
	*ents_out = ents;
	*count_out = count;
}

static int valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
			 : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
		if (n == 0 || i + n > len)
			return 0;
		for (size_t j = 1; j < n; j++)
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
		i += n;
	}
	return 1;
}

struct pending {
	char *path;
	uint32_t id;
};

/*
 * Read-ahead for the breadth-first walk. The queue holds whole directory
 * levels in listing (hash) order, which is no order on disk; so, a window
 * at a time ahead of the walk, the node blocks of the next queued entries
 * are hinted in address order, then those nodes are read (in address order,
 * as they arrive) and what their contents start with is hinted too. Each
 * window is bounded (entries and bytes); the next one is started while the
 * walk is still in the middle of the last, to keep the disk busy.
 */
#define AHEAD_ENTRIES 2048u

struct ahead {
	size_t nodes_to;	/* q[..nodes_to) have had their node blocks hinted */
	size_t contents_to;	/* q[..contents_to) have had their contents hinted */
	size_t next_at;		/* when the walk reaches this entry, hint the next window */
	size_t window;		/* entries in the next contents window: fewer when they hold much */
	struct by_addr { uint64_t addr; size_t at; } *order;
	uint64_t *cost;		/* blocks hinted for q[from + i] */
};

static int by_addr_cmp(const void *a, const void *b)
{
	const struct by_addr *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct node_info *queued_info(struct checker *k, const struct pending *e)
{
	void **slot = idmap_slot(&k->nodes, e->id, 0);
	return slot ? *slot : NULL;
}

/* Hint the contents of q[order[..m)] (node blocks read in address order); cost[] gets each one's blocks. */
static void hint_contents(struct checker *k, struct rfs_prefetch *p, const struct pending *q,
			  const struct by_addr *order, size_t m, size_t from, uint64_t *cost)
{
	for (size_t i = 0; i < m; i++) {
		struct rfs_node node;
		uint64_t before = p->blocks;
		if (rfs_node_get(k->fs, q[order[i].at].id, &node) == 0)
			rfs_prefetch_add_contents(p, &node);
		if (cost)
			cost[order[i].at - from] = p->blocks - before;
	}
}

static void read_ahead(struct checker *k, struct ahead *a, const struct pending *q, size_t head, size_t n)
{
	const uint64_t budget = RFS_PREFETCH_BYTES / RFS_BLOCK;
	if (head < a->next_at)
		return;
	struct rfs_prefetch p;
	struct rx_ctx saved = *k->fs->ctx;
	rfs_prefetch_init(&p, k->fs);
	/* Node blocks: two windows ahead, so the contents step below finds them on their way. */
	size_t from = RX_MAX(a->nodes_to, head), to = RX_MIN(n, head + 2 * AHEAD_ENTRIES);
	for (size_t i = from; i < to; i++) {
		struct node_info *ni = queued_info(k, &q[i]);
		if (ni && !ni->reached)
			rfs_prefetch_add(&p, ni->ptr);
	}
	rfs_prefetch_issue(&p);
	a->nodes_to = RX_MAX(a->nodes_to, to);
	/* Contents of the next window, read in address order, at most budget blocks of them. */
	from = RX_MAX(a->contents_to, head);
	to = RX_MIN(n, from + a->window);
	size_t m = 0;
	for (size_t i = from; i < to; i++) {
		struct node_info *ni = queued_info(k, &q[i]);
		a->cost[i - from] = 0;
		if (ni && !ni->reached)
			a->order[m++] = (struct by_addr){ ni->ptr.addr, i };
	}
	qsort(a->order, m, sizeof(*a->order), by_addr_cmp);
	hint_contents(k, &p, q, a->order, m, from, a->cost);
	size_t end = from;
	uint64_t sum = 0;
	while (end < to && (end == from || sum + a->cost[end - from] <= budget))
		sum += a->cost[end++ - from];
	if (end < to) {
		/* Too much at once: hint only the first entries (their nodes are cached now). */
		p.n = 0;
		p.blocks = 0;
		size_t keep = 0;
		for (size_t i = 0; i < m; i++)
			if (a->order[i].at < end)
				a->order[keep++] = a->order[i];
		hint_contents(k, &p, q, a->order, keep, from, NULL);
		a->window = RX_MAX((size_t)64, end - from);
	} else {
		a->window = RX_MIN((size_t)AHEAD_ENTRIES, 2 * a->window);
	}
	rfs_prefetch_issue(&p);
	rfs_prefetch_free(&p);
	a->contents_to = end;
	a->next_at = end > head ? head + (end - head + 1) / 2 : head + 1;
	*k->fs->ctx = saved;	/* what went wrong is found again, and reported, by the walk */
}

/* Breadth-first from the root so that every node is checked once, with a path. */
static void walk_dirs(struct checker *k)
{
	size_t head = 0, n = 0, cap = 64;
	struct pending *q = rx_xmalloc(cap * sizeof(*q));
	struct ahead ahead = { .window = 256, .order = rx_xmalloc(AHEAD_ENTRIES * sizeof(*ahead.order)),
			       .cost = rx_xmalloc(AHEAD_ENTRIES * sizeof(*ahead.cost)) };
	q[n++] = (struct pending){ rx_xstrdup("/"), RFS_ROOT_ID };
	while (head < n) {
		read_ahead(k, &ahead, q, head, n);
		struct pending cur = q[head++];
		void **slot = idmap_slot(&k->nodes, cur.id, 0);
		struct node_info *ni = slot ? *slot : NULL;
		struct rfs_node node;
		if (!ni) {
			problem(k, CHECK_ERROR, cur.path, "names node %u, which is not in the node tree",
				cur.id);
			free(cur.path);
			continue;
		}
		ni->refs += cur.id != RFS_ROOT_ID || head > 1;
		if (ni->reached) {
			if (rfs_node_get(k->fs, cur.id, &node) == 0 && rfs_is_dir(&node))
				problem(k, CHECK_ERROR, cur.path, "directory node %u is reached a second time "
					"(a directory loop or hard-linked directory)", cur.id);
			rx_clear(k->fs->ctx);
			free(cur.path);
			continue;
		}
		ni->reached = 1;
		if (rfs_node_get(k->fs, cur.id, &node) != 0) {
			read_problem(k, cur.path);
			free(cur.path);
			continue;
		}
		if (mark_used(k, ni->ptr, cur.path) == 0)
			k->c->nodes++;
		check_node_fields(k, cur.path, &node);
		if (cur.id == RFS_ROOT_ID && !rfs_is_dir(&node))
			problem(k, CHECK_ERROR, "/", "the root node is not a directory");
		if (rfs_is_dir(&node)) {
			struct rfs_dirent *ents;
			size_t count;
			k->c->dirs++;
			check_dir(k, cur.path, &node, &ents, &count);
			for (size_t i = 0; i < count; i++) {
				if (n == cap)
					q = rx_xrealloc(q, (cap *= 2) * sizeof(*q));
				q[n++] = (struct pending){ rx_path_join(cur.path, ents[i].name, ents[i].len),
							   ents[i].id };
			}
			free(ents);
		} else {
			if (rfs_is_symlink(&node))
				k->c->symlinks++;
			else
				k->c->files++;
			check_file(k, cur.path, &node);
		}
		free(cur.path);
	}
	free(ahead.order);
	free(ahead.cost);
	free(q);
}

static void walk_release(struct checker *k)
{
	struct rfs_ptr ptr = k->fs->hdr.release;
	uint8_t buf[RFS_BLOCK];
	uint64_t n = 0;
	while (!rfs_ptr_is_null(ptr)) {
		if (++n > k->fs->nblocks) {
			problem(k, CHECK_ERROR, "release list", "the chain loops");
			return;
		}
		if (rfs_read_ptr(k->fs, ptr, 1, buf) != 0) {
			read_problem(k, "release list");
			return;
		}
		if (mark_used(k, ptr, "release list"))
			return;
		for (unsigned i = 0; i < 1020; i++) {
			uint32_t id = get_le32(buf + 16 + 4 * i);
			if (!id)
				continue;
			void **slot = idmap_slot(&k->nodes, id, 0);
			if (!slot) {
				problem(k, CHECK_ERROR, "release list", "names node %u, which does not exist", id);
				continue;
			}
			((struct node_info *)*slot)->released = 1;
		}
		ptr = rfs_ptr_decode(buf);
	}
}

/* Nodes only the release list holds: checked and accounted like reachable ones. */
static void check_unreached(struct checker *k)
{
	IDMAP_FOREACH(&k->nodes, i) {
		struct node_info *ni = k->nodes.vals[i];
		uint32_t id = k->nodes.keys[i];
		char where[48];
		struct rfs_node node;
		snprintf(where, sizeof(where), "node %u", id);
		if (ni->reached) {
			if (rfs_node_get(k->fs, id, &node) == 0 && id != RFS_ROOT_ID && node.links != ni->refs)
				problem(k, CHECK_ERROR, where, "link count %u but %u directory entries name it",
					node.links, ni->refs);
			rx_clear(k->fs->ctx);
			continue;
		}
		if (!ni->released) {
			problem(k, CHECK_ERROR, where, "orphan: in the node tree but in no directory");
			continue;
		}
		if (rfs_node_get(k->fs, id, &node) != 0) {
			read_problem(k, where);
			continue;
		}
		if (node.links != 0)
			problem(k, CHECK_ERROR, where, "pending release but has %u links", node.links);
		if (mark_used(k, ni->ptr, where) == 0)
			k->c->nodes++;
		if (!rfs_is_dir(&node))
			check_file(k, where, &node);
	}
}

static int log_block(void *arg, struct rfs_ptr ptr, int kind)
{
	struct checker *k = arg;
	mark_used(k, ptr, "allocation log");
	return 0;
}

/* The first block at or after b that is neither free nor used (nb: none); runs are skipped whole. */
static uint64_t next_leak(const struct bmap *free_map, const struct bmap *used, uint64_t b, uint64_t nb)
{
	while (b < nb) {
		b = bmap_next_clear(free_map, b);
		uint64_t c = bmap_next_clear(used, b);
		if (c == b)
			break;
		b = c;
	}
	return b < nb ? b : nb;
}

static void check_alloc(struct checker *k)
{
	struct bmap free_map;
	uint64_t nb = k->fs->nblocks;
	if (rfs_alloc_replay(k->fs, &free_map, log_block, k) != 0) {
		read_problem(k, "allocation log");
		return;
	}
	/*
	 * Pointers the reference leaves beyond end of file still hold their
	 * blocks (it never freed them): count those as owned, not leaked.
	 */
	uint64_t stale_blocks = 0;
	for (size_t i = 0; i < k->nstale; i++) {
		if (rfs_ptr_check(k->fs, k->stale[i], 0) != 0) {
			read_problem(k, "stale pointer beyond end of file");
			continue;
		}
		uint64_t idx = rfs_ptr_index(k->stale[i]), n = 1ULL << rfs_ptr_level(k->stale[i]);
		for (uint64_t b = idx; b < idx + n && b < nb; b++) {
			if (bmap_get(&free_map, b) || bmap_get(&k->used, b))
				continue;
			bmap_set(&k->used, b);
			stale_blocks++;
		}
	}
	k->c->stale_blocks = stale_blocks;
	if (stale_blocks)
		problem(k, CHECK_WARNING, "allocation log", "%llu block%s held only by stale pointers "
			"beyond end of file (left by the reference driver's truncate)",
			(unsigned long long)stale_blocks, stale_blocks == 1 ? " is" : "s are");
	/* Walked by runs of the two maps: the cost follows the data, not the filesystem's size. */
	k->c->free_blocks = free_map.count;
	uint64_t free_data = free_map.count, used_data = k->used.count, both_data = 0;
	for (uint64_t b = bmap_next_set(&free_map, 0); b < RFS_FIRST_DATA_BLOCK && b < nb;
	     b = bmap_next_set(&free_map, b + 1)) {
		problem(k, CHECK_ERROR, "allocation log", "block %llu of the header ring area is marked free",
			(unsigned long long)b);
		free_data--;
	}
	for (uint64_t b = 0; b < RFS_FIRST_DATA_BLOCK && b < nb; b++)
		used_data -= (uint64_t)bmap_get(&k->used, b);
	for (uint64_t b = bmap_next_set(&k->used, 0); b < nb;) {
		uint64_t e = bmap_next_clear(&k->used, b);
		for (uint64_t f = bmap_next_set(&free_map, b); f < e; f = bmap_next_set(&free_map, f + 1)) {
			problem(k, CHECK_ERROR, "allocation log", "block %llu is in use but marked free",
				(unsigned long long)f);
			both_data += f >= RFS_FIRST_DATA_BLOCK;
		}
		b = bmap_next_set(&k->used, e);
	}
	uint64_t data = nb > RFS_FIRST_DATA_BLOCK ? nb - RFS_FIRST_DATA_BLOCK : 0;
	uint64_t leaked = data - free_data - used_data + both_data;
	k->c->leaked_blocks = leaked;
	if (leaked)
		problem(k, CHECK_WARNING, "allocation log", "%llu allocated block%s not reachable "
			"(leaked; the first is %llu)", (unsigned long long)leaked, leaked == 1 ? " is" : "s are",
			(unsigned long long)next_leak(&free_map, &k->used, RFS_FIRST_DATA_BLOCK, nb));
	bmap_free(&free_map);
}

int rfs_check(struct rfs *fs, struct rfs_check *c)
{
	struct checker k = { .fs = fs, .c = c };
	if (fs->hdr.encrypted && !fs->crypt)
		return rx_fail(fs->ctx, RX_ENOKEY, "the filesystem is encrypted; checking it needs a "
			       "password (not supported yet)");
	bmap_init(&k.used, fs->nblocks);
	idmap_init(&k.nodes);
	check_ring(&k);
	if (!rfs_ptr_is_null(fs->hdr.tree))
		walk_tree(&k, fs->hdr.tree, 3, 0);
	if (!idmap_slot(&k.nodes, RFS_ROOT_ID, 0))
		problem(&k, CHECK_ERROR, "/", "the root node (id 1) is missing");
	else
		walk_dirs(&k);
	walk_release(&k);
	check_unreached(&k);
	check_alloc(&k);
	IDMAP_FOREACH(&k.nodes, i)
		free(k.nodes.vals[i]);
	idmap_free(&k.nodes);
	bmap_free(&k.used);
	free(k.stale);
	return 0;
}
