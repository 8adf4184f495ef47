/*
 * Repair of a RedoxFS (rximg check --repair), in passes:
 *
 *   0. read only: every block the committed state may still reference (all
 *      it reaches through any pointer that is in range, what the old log has
 *      allocated, the log itself). The transaction allocates outside that
 *      set only, so until the new header lands the old state is intact.
 *   1. the node tree: unreadable lists and bad node pointers are cut off,
 *      full flags recomputed; nodes that do not decode are removed.
 *   2. the release list.
 *   3. breadth first from the root: entries naming nodes that are gone,
 *      invalid or duplicate names, directory loops are dropped; damaged
 *      directories are rebuilt from what can be read; unreadable records
 *      become holes.
 *   4. nodes no directory names go to /lost+found (then back to 3).
 *   5. link counts.
 *   6. the allocation log is written from the blocks the new state uses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "idmap.h"
#include "tx.h"

#define MAX_HTREE_LEVELS 15u
#define EMPTY_MAX 0xFFFFFFFFu

struct rnode {
	uint8_t reached, released, removed, has_parent;
	uint32_t refs;
	char *why;	/* removed: why the node could not be kept */
};

struct note {
	char *where, *what;
};

struct pending {
	char *path;
	uint32_t id;
};

struct lost_range {
	uint32_t first, last;
};

struct repairer {
	struct rfs *fs;
	struct rfs_tx *tx;
	struct rfs_repair *rep;
	uint64_t nb;
	struct bmap in_use;	/* pass 0: what the committed state may reference */
	struct bmap reach0;	/* pass 0: what it reaches (not beyond end of file) */
	struct bmap chain0;	/* pass 0: the old allocation log's own blocks */
	struct bmap seen;	/* pass 0: blocks already descended into */
	struct bmap used;	/* blocks claimed by what the repair keeps */
	struct bmap old_free_map;
	struct bmap *old_free;	/* the old log replayed; NULL when it does not replay */
	char *log_problem;
	struct idmap nodes;	/* id -> struct rnode */
	struct lost_range *lost;
	size_t nlost;
	struct pending *q;
	size_t qhead, qn, qcap;
	struct note *notes;
	size_t nnotes, notes_cap;
	int ring_bad;
	uint32_t lost_found;
	char *lf_path;
	uint8_t *rec;
	int err;		/* an operational failure: stop */
};


static void note(struct repairer *k, const char *where, const char *fmt, ...) RX_PRINTF(3, 4);

static void note(struct repairer *k, const char *where, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (k->nnotes == k->notes_cap)
		k->notes = rx_xrealloc(k->notes, (k->notes_cap = k->notes_cap * 2 + 16) * sizeof(*k->notes));
	k->notes[k->nnotes].where = rx_xstrdup(where);
	k->notes[k->nnotes++].what = rx_xstrdup(what);
}

/* The failure the read layer recorded, in a few words, then forgotten. */
static void take_reason(struct repairer *k, char *out, size_t cap)
{
	if (k->fs->ctx->err == EBADMSG)
		snprintf(out, cap, "hash mismatch");
	else
		snprintf(out, cap, "%s", k->fs->ctx->msg[0] ? k->fs->ctx->msg : "unreadable");
	rx_clear(k->fs->ctx);
}

static void give_up(struct repairer *k, const char *fmt, ...) RX_PRINTF(2, 3);

static void give_up(struct repairer *k, const char *fmt, ...)
{
	va_list ap;
	if (k->rep->gave_up)
		return;
	va_start(ap, fmt);
	vsnprintf(k->rep->reason, sizeof(k->rep->reason), fmt, ap);
	va_end(ap);
	k->rep->gave_up = 1;
}

static struct rnode *rnode_get(struct repairer *k, uint32_t id, int create)
{
	void **slot = idmap_slot(&k->nodes, id, create);
	if (slot && !*slot)
		*slot = rx_xcalloc(1, sizeof(struct rnode));
	return slot ? *slot : NULL;
}

/* The blocks of a pointer that is valid in itself, into map; 0 if it is not. */
static int mark(struct repairer *k, struct bmap *map, struct rfs_ptr p)
{
	if (rfs_ptr_is_null(p) || rfs_ptr_check(k->fs, p, 0) != 0) {
		rx_clear(k->fs->ctx);
		return 0;
	}
	bmap_set_range(map, rfs_ptr_index(p), 1ULL << rfs_ptr_level(p));
	return 1;
}

/* Claim a pointer's blocks for what the repair keeps; 0 if one is claimed already. */
static int claim(struct repairer *k, struct rfs_ptr p)
{
	uint64_t i = rfs_ptr_index(p), n = 1ULL << rfs_ptr_level(p);
	if (bmap_next_set(&k->used, i) < i + n)
		return 0;
	bmap_set_range(&k->used, i, n);
	return 1;
}

/* ---- pass 0: what the committed state references ---- */

/* Mark p and report whether it is a metadata block seen for the first time. */
static int first_visit(struct repairer *k, struct rfs_ptr p, int reached)
{
	if (!mark(k, &k->in_use, p))
		return 0;
	if (reached)
		mark(k, &k->reach0, p);
	if (bmap_get(&k->seen, rfs_ptr_index(p)))
		return 0;
	bmap_set(&k->seen, rfs_ptr_index(p));
	return 1;
}

static void old_data(struct repairer *k, struct rfs_ptr p, unsigned depth, uint64_t first, uint64_t nrec)
{
	uint8_t b[RFS_BLOCK];
	int reached = first < nrec;
	if (depth == 0) {
		if (mark(k, &k->in_use, p) && reached)
			mark(k, &k->reach0, p);
		return;
	}
	if (!first_visit(k, p, reached) || rfs_read_ptr(k->fs, p, 1, b) != 0) {
		rx_clear(k->fs->ctx);
		return;
	}
	uint64_t step = 1ULL << (8 * (depth - 1));
	for (unsigned i = 0; i < RFS_BLOCKLIST_ENTRIES; i++) {
		struct rfs_ptr c = rfs_ptr_decode(b + 16 * i);
		if (!rfs_ptr_is_null(c))
			old_data(k, c, depth - 1, first + i * step, nrec);
	}
}

static int is_index(const uint8_t *b)
{
	return rx_is_zero(b + 20 * RFS_HTREE_ENTRIES, RFS_BLOCK - 20 * RFS_HTREE_ENTRIES);
}

static int ix_empty(const uint8_t *b, unsigned i)
{
	return get_le32(b + 20 * i) == EMPTY_MAX && rfs_ptr_is_null(rfs_ptr_decode(b + 20 * i + 4));
}

static void old_dir(struct repairer *k, struct rfs_ptr p, unsigned levels)
{
	uint8_t b[RFS_BLOCK];
	if (!first_visit(k, p, 1) || rfs_read_ptr(k->fs, p, 1, b) != 0) {
		rx_clear(k->fs->ctx);
		return;
	}
	if (levels == 0 || !is_index(b))
		return;
	for (unsigned i = 0; i < RFS_HTREE_ENTRIES && !ix_empty(b, i); i++)
		old_dir(k, rfs_ptr_decode(b + 20 * i + 4), levels - 1);
}

static unsigned slot_depth(unsigned s)
{
	return s < 128 ? 0 : s < 192 ? 1 : s < 224 ? 2 : s < 240 ? 3 : 4;
}

static uint64_t slot_first(unsigned s)
{
	static const uint64_t base[5] = { 0, 128, 192, 224, 240 };
	static const uint64_t first[5] = { 0, 128, 128 + 64 * 256ULL, 128 + 64 * 256ULL + 32 * 65536ULL,
					   128 + 64 * 256ULL + 32 * 65536ULL + 16 * 16777216ULL };
	unsigned d = slot_depth(s);
	return first[d] + (s - base[d]) * (1ULL << (8 * d));
}

static void old_node(struct repairer *k, struct rfs_ptr p)
{
	uint8_t b[RFS_BLOCK];
	if (!first_visit(k, p, 1) || rfs_read_ptr(k->fs, p, 1, b) != 0) {
		rx_clear(k->fs->ctx);
		return;
	}
	uint16_t type = get_le16(b) & RFS_MODE_TYPE;
	uint64_t size = get_le64(b + 14);
	uint32_t level = get_le32(b + 66);
	if (get_le32(b + 70) & RFS_FLAG_INLINE)
		return;
	struct rfs_ptr m = rfs_ptr_decode(b + RFS_INLINE_OFF);
	for (unsigned s = 0; s < 248; s++) {
		struct rfs_ptr c = rfs_ptr_decode(b + RFS_INLINE_OFF + 16 * s);
		if (rfs_ptr_is_null(c) || rfs_ptr_is_marker(c))
			continue;
		if (type == RFS_MODE_DIR && s == 1 && rfs_ptr_is_marker(m))
			old_dir(k, c, (unsigned)(m.addr & 0xF));
		else if (type != RFS_MODE_DIR && level <= RFS_RECORD_LEVEL)
			old_data(k, c, slot_depth(s), slot_first(s),
				 size / (RFS_BLOCK << level) + (size % (RFS_BLOCK << level) != 0));
		else
			mark(k, &k->in_use, c);
	}
}

static void old_tree(struct repairer *k, struct rfs_ptr p, int level)
{
	uint8_t b[RFS_BLOCK];
	if (!first_visit(k, p, 1) || rfs_read_ptr(k->fs, p, 1, b) != 0) {
		rx_clear(k->fs->ctx);
		return;
	}
	for (unsigned i = 0; i < RFS_TREE_ENTRIES; i++) {
		struct rfs_ptr c = rfs_ptr_decode(b + 16 * i);
		if (rfs_ptr_is_null(c))
			continue;
		if (level == 0)
			old_node(k, c);
		else
			old_tree(k, c, level - 1);
	}
}

/* A chain of lists linked through their first pointer (allocation log, release list). */
static void old_chain(struct repairer *k, struct rfs_ptr p, struct bmap *also)
{
	uint8_t b[RFS_BLOCK];
	while (!rfs_ptr_is_null(p) && first_visit(k, p, 1)) {
		if (also)
			mark(k, also, p);
		if (rfs_read_ptr(k->fs, p, 1, b) != 0) {
			rx_clear(k->fs->ctx);
			return;
		}
		p = rfs_ptr_decode(b);
	}
}

static void pass_old(struct repairer *k)
{
	struct rfs *fs = k->fs;
	old_tree(k, fs->hdr.tree, 3);
	old_chain(k, fs->hdr.release, NULL);
	old_chain(k, fs->hdr.alloc, &k->chain0);
	if (rfs_alloc_replay(fs, &k->old_free_map, NULL, NULL) != 0) {
		char why[1100];
		take_reason(k, why, sizeof(why));
		k->log_problem = rx_xstrdup(why);
		k->old_free = NULL;
	} else {
		/* Whatever the old log holds allocated may be referenced: by runs, not block by block. */
		k->old_free = &k->old_free_map;
		for (uint64_t b = bmap_next_clear(k->old_free, RFS_FIRST_DATA_BLOCK); b < k->nb;) {
			uint64_t e = bmap_next_set(k->old_free, b);
			bmap_set_range(&k->in_use, b, e - b);
			b = bmap_next_clear(k->old_free, e);
		}
	}
}

/* ---- pass 1: the node tree ---- */

static const enum rfs_btype tree_type[4] = { BT_TREE0, BT_TREE1, BT_TREE2, BT_TREE3 };

static void lose_range(struct repairer *k, uint32_t prefix, int level)
{
	uint32_t span = level >= 3 ? UINT32_MAX : (1u << (8 * (level + 1))) - 1;
	k->lost = rx_xrealloc(k->lost, (k->nlost + 1) * sizeof(*k->lost));
	k->lost[k->nlost].first = prefix;
	k->lost[k->nlost++].last = prefix + span;
}

/*
 * Fix the list the slot names (slot lies in a copy of the parent). Children
 * first; the list is copied on write only when it must change. Returns
 * whether it is full; the slot is nulled when the list is lost or emptied.
 */
static int fix_tree(struct repairer *k, uint8_t *slot, int level, uint32_t prefix)
{
	struct rfs *fs = k->fs;
	struct rfs_ptr p = rfs_ptr_decode(slot);
	uint8_t orig[RFS_BLOCK], b[RFS_BLOCK];
	char why[1100], where[96];
	snprintf(where, sizeof(where), "node tree level %d (ids from %u)", level, prefix);
	int bad = rfs_read_ptr(fs, p, 1, orig);
	if (bad)
		take_reason(k, why, sizeof(why));
	else if (!claim(k, p))
		bad = 1, snprintf(why, sizeof(why), "block %llu is used twice",
				  (unsigned long long)rfs_ptr_index(p));
	if (bad) {
		if (level == 3) {
			give_up(k, "the node tree cannot be read (%s)", why);
			return 0;
		}
		note(k, where, "list dropped (%s): its nodes are lost", why);
		lose_range(k, prefix, level);
		memset(slot, 0, 16);
		return 0;
	}
	memcpy(b, orig, RFS_BLOCK);
	int full = 1, any = 0, must = 0;
	for (unsigned i = 0; i < RFS_TREE_ENTRIES && !k->rep->gave_up && !k->err; i++) {
		uint32_t id = prefix | (uint32_t)i << (8 * level);
		uint8_t *cs = b + 16 * i;
		struct rfs_ptr c = rfs_ptr_decode(cs);
		int child_full = 0;
		if (level == 0 && id == 0) {
			if (!rfs_ptr_is_null(c)) {
				note(k, where, "the reserved node id 0 was in use: cleared");
				memset(cs, 0, 16);
			}
			child_full = 1;
		} else if (level == 0 && !rfs_ptr_is_null(c)) {
			const char *bad_why = NULL;
			if (rfs_ptr_check(fs, c, 1) != 0) {
				take_reason(k, why, sizeof(why));
				bad_why = why;
			} else if (!claim(k, c)) {
				snprintf(why, sizeof(why), "block %llu is used twice",
					 (unsigned long long)rfs_ptr_index(c));
				bad_why = why;
			}
			struct rnode *rn = rnode_get(k, id, 1);
			if (bad_why) {
				rn->removed = 1;
				rn->why = rx_xstrdup(bad_why);
				memset(cs, 0, 16);
			} else {
				child_full = 1;
			}
		} else if (level > 0 && !rfs_ptr_is_null(c)) {
			child_full = fix_tree(k, cs, level - 1, id);
		}
		any |= !rfs_ptr_is_null(rfs_ptr_decode(cs));
		if (rfs_tree_flag_get(b, i) != child_full) {
			must |= level == 0;	/* a wrong leaf flag is an error; above, cosmetic */
			rfs_tree_flag_set(b, i, child_full);
		}
		full &= child_full;
	}
	for (unsigned i = RFS_TREE_ENTRIES; i < 256; i++)
		if (rfs_tree_flag_get(b, i)) {
			must = 1;
			rfs_tree_flag_set(b, i, 0);
		}
	if (k->rep->gave_up || k->err)
		return 0;
	must |= memcmp(b, orig, 16 * RFS_TREE_ENTRIES) != 0;
	if (!must)
		return full;
	if (!any && level < 3) {
		memset(slot, 0, 16);	/* emptied by the repair: not kept */
		return 0;
	}
	uint8_t *m = rfs_tx_mut(k->tx, slot, tree_type[level]);
	if (!m) {
		k->err = -fs->ctx->err;
		return 0;
	}
	memcpy(m, b, RFS_BLOCK);
	return full;
}

static void pass_tree(struct repairer *k)
{
	struct rfs *fs = k->fs;
	uint8_t slot[16];
	rfs_ptr_encode(slot, fs->hdr.tree);
	if (rfs_ptr_is_null(fs->hdr.tree)) {
		give_up(k, "the header names no node tree");
		return;
	}
	fix_tree(k, slot, 3, 0);
	fs->hdr.tree = rfs_ptr_decode(slot);
	if (k->rep->gave_up || k->err)
		return;
	/* Every node must decode; those that do not are taken out of the tree. */
	IDMAP_FOREACH(&k->nodes, i) {
		struct rnode *rn = k->nodes.vals[i];
		uint32_t id = k->nodes.keys[i];
		struct rfs_node n;
		char why[1100];
		if (rn->removed)
			continue;
		if (rfs_node_get(fs, id, &n) == 0)
			continue;
		take_reason(k, why, sizeof(why));
		if (id == RFS_ROOT_ID) {
			give_up(k, "the root directory node cannot be read (%s)", why);
			return;
		}
		rn->removed = 1;
		rn->why = rx_xstrdup(why);
		if (rfs_node_remove(k->tx, id) != 0) {
			k->err = -fs->ctx->err;
			return;
		}
	}
	struct rnode *root = rnode_get(k, RFS_ROOT_ID, 0);
	struct rfs_node n;
	if (!root || root->removed) {
		give_up(k, "the root directory node cannot be read (%s)",
			root && root->why ? root->why : "it is not in the node tree");
		return;
	}
	if (rfs_node_get(fs, RFS_ROOT_ID, &n) != 0 || !rfs_is_dir(&n)) {
		rx_clear(fs->ctx);
		give_up(k, "the root node is not a directory");
	}
}

/* ---- pass 2: the release list ---- */

static void pass_release(struct repairer *k)
{
	struct rfs *fs = k->fs;
	uint32_t *ids;
	size_t n;
	char why[1100];
	struct rfs_ptr p = fs->hdr.release;
	uint8_t b[RFS_BLOCK];
	int bad = 0;
	for (uint64_t guard = 0; !rfs_ptr_is_null(p) && !bad; guard++) {
		if (guard > k->nb)
			bad = 1, snprintf(why, sizeof(why), "the chain loops");
		else if (rfs_read_ptr(fs, p, 1, b) != 0)
			bad = 1, take_reason(k, why, sizeof(why));
		else if (!claim(k, p))
			bad = 1, snprintf(why, sizeof(why), "block %llu is used twice",
					  (unsigned long long)rfs_ptr_index(p));
		else
			p = rfs_ptr_decode(b);
	}
	if (bad) {
		note(k, "release list", "dropped (%s)", why);
		fs->hdr.release = (struct rfs_ptr){ 0, 0 };
		return;
	}
	if (rfs_release_ids(fs, &ids, &n) != 0) {
		k->err = -fs->ctx->err;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct rnode *rn = rnode_get(k, ids[i], 0);
		if (rn && !rn->removed) {
			rn->released = 1;
			continue;
		}
		note(k, "release list", "node %u removed from it (%s)", ids[i],
		     rn && rn->why ? rn->why : "no such node");
		if (rfs_release_remove(k->tx, ids[i]) != 0) {
			k->err = -fs->ctx->err;
			break;
		}
	}
	free(ids);
}

/* ---- directories ---- */

struct sentry {
	uint32_t id, pos;
	uint8_t len, dup;
	char name[RFS_NAME_MAX + 1];
};

struct salvage {
	struct repairer *k;
	const char *path;
	int claim;		/* claim blocks and report dropped names (else a quiet listing) */
	uint64_t budget, blocks;
	struct sentry *e;
	size_t n, cap;
	char why[1100];		/* the first damage found */
	int damaged;
};

static void damage(struct salvage *s, const char *fmt, ...) RX_PRINTF(2, 3);

static void damage(struct salvage *s, const char *fmt, ...)
{
	va_list ap;
	if (s->damaged++)
		return;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

/* A name as text for a report: bytes that would confuse a reader escaped. */
static void show_name(const char *name, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7F || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
}

static void parse_list(struct salvage *s, const uint8_t *b)
{
	unsigned count = get_le16(b + RFS_DIRLIST_BYTES), used = get_le16(b + RFS_DIRLIST_BYTES + 2);
	unsigned pos = 0;
	if (used > RFS_DIRLIST_BYTES) {
		damage(s, "a directory list claims %u bytes of entries", used);
		used = RFS_DIRLIST_BYTES;
	}
	for (unsigned i = 0; i < count; i++) {
		if (pos + 5 > used || pos + 5u + b[pos + 4] > used) {
			damage(s, "a directory list claims %u entries but holds fewer", count);
			break;
		}
		uint32_t id = get_le32(b + pos);
		unsigned len = b[pos + 4];
		const char *name = (const char *)b + pos + 5;
		const char *why = rfs_name_problem(name, len);
		pos += 5 + len;
		if (why) {
			damage(s, "an entry has a bad name");
			if (s->claim) {
				char shown[1100];
				show_name(name, len, shown, sizeof(shown));
				note(s->k, s->path, "entry '%s' dropped (%s)", shown, why);
			}
			continue;
		}
		if (s->n == s->cap)
			s->e = rx_xrealloc(s->e, (s->cap = s->cap * 2 + 32) * sizeof(*s->e));
		struct sentry *e = &s->e[s->n];
		e->id = id;
		e->dup = 0;
		e->pos = (uint32_t)s->n++;
		e->len = (uint8_t)len;
		memcpy(e->name, name, len);
		e->name[len] = 0;
	}
	if (pos != used)
		damage(s, "a directory list's length does not match its entries");
}

static void salvage_walk(struct salvage *s, struct rfs_ptr p, unsigned levels)
{
	struct repairer *k = s->k;
	uint8_t *b;
	char why[1100];
	if (s->budget-- == 0) {
		damage(s, "the directory references more blocks than the filesystem has");
		return;
	}
	if (rfs_ptr_is_null(p)) {
		damage(s, "the h-tree names a null block");
		return;
	}
	if (rfs_ptr_check(k->fs, p, 1) != 0) {
		take_reason(k, why, sizeof(why));
		damage(s, "%s", why);
		return;
	}
	if (s->claim && !claim(k, p)) {
		damage(s, "block %llu is used twice", (unsigned long long)rfs_ptr_index(p));
		return;
	}
	b = rx_xmalloc(RFS_BLOCK);
	if (rfs_read_ptr(k->fs, p, 1, b) != 0) {
		take_reason(k, why, sizeof(why));
		damage(s, "block %llu: %s", (unsigned long long)rfs_ptr_index(p), why);
		free(b);
		return;
	}
	s->blocks++;
	if (levels > 0 && is_index(b)) {
		unsigned i = 0;
		for (; i < RFS_HTREE_ENTRIES && !ix_empty(b, i); i++)
			salvage_walk(s, rfs_ptr_decode(b + 20 * i + 4), levels - 1);
		for (; i < RFS_HTREE_ENTRIES; i++)
			if (!ix_empty(b, i)) {
				damage(s, "an h-tree index block has gaps");
				break;
			}
	} else {
		if (levels > 0)
			damage(s, "the h-tree is shallower than its marker says");
		parse_list(s, b);
	}
	free(b);
}

static void salvage_dir(struct salvage *s, const struct rfs_node *dir)
{
	struct rfs_ptr m = rfs_node_level_ptr(dir, 0), root = rfs_node_level_ptr(dir, 1);
	s->budget = s->k->nb;
	for (unsigned i = 2; i < 248; i++)
		if (!rfs_ptr_is_null(rfs_node_level_ptr(dir, i))) {
			damage(s, "a data pointer in slot %u", i);
			break;
		}
	if (rfs_ptr_is_null(m)) {
		if (!rfs_ptr_is_null(root))
			damage(s, "an h-tree root without a marker");
	} else if (!rfs_ptr_is_marker(m)) {
		damage(s, "no h-tree marker");
	} else {
		unsigned depth = (unsigned)(m.addr & 0xF);
		if (depth > 8)
			damage(s, "an h-tree %u levels deep", depth);
		salvage_walk(s, root, RX_MIN(depth, MAX_HTREE_LEVELS));
	}
	if (dir->size != s->blocks * RFS_BLOCK)
		damage(s, "size %llu for %llu blocks", (unsigned long long)dir->size,
		       (unsigned long long)s->blocks);
}

static int by_name(const void *a, const void *b)
{
	const struct sentry *x = a, *y = b;
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	if (c == 0)
		c = (int)x->len - (int)y->len;
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int by_pos(const void *a, const void *b)
{
	const struct sentry *x = a, *y = b;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int symlink_readable(struct repairer *k, const struct rfs_node *n, char *why, size_t cap);

/* Why an entry cannot be kept, or NULL. The node is read (and a symlink's target). */
static const char *entry_problem(struct repairer *k, const struct sentry *e, char *buf, size_t cap)
{
	struct rfs_node n;
	struct rnode *rn = rnode_get(k, e->id, 0);
	if (rn && rn->removed) {
		const char *why = rn->why ? rn->why : "removed";
		if (strncmp(why, "node ", 5) == 0)
			snprintf(buf, cap, "%s", why);
		else
			snprintf(buf, cap, "node %u: %s", e->id, why);
		return buf;
	}
	if (!rn) {
		for (size_t i = 0; i < k->nlost; i++)
			if (e->id >= k->lost[i].first && e->id <= k->lost[i].last) {
				snprintf(buf, cap, "node %u: its node tree list is unreadable", e->id);
				return buf;
			}
	}
	if (rfs_node_get(k->fs, e->id, &n) != 0) {
		char why[1100];
		take_reason(k, why, sizeof(why));
		snprintf(buf, cap, "%s", why);
		return buf;
	}
	if (e->id == RFS_ROOT_ID) {
		snprintf(buf, cap, "it names the root directory");
		return buf;
	}
	if (!rn)
		rn = rnode_get(k, e->id, 1);
	if (rfs_is_dir(&n) && rn->reached) {
		snprintf(buf, cap, "directory node %u is already linked elsewhere: a loop or a "
			 "hard-linked directory", e->id);
		return buf;
	}
	if (rfs_is_symlink(&n) && !rfs_is_inline(&n) && !rn->reached) {
		char why[1100];
		if (!symlink_readable(k, &n, why, sizeof(why))) {
			rn->removed = 1;
			rn->why = rx_xasprintf("symlink target unreadable: %s", why);
			if (rfs_node_remove(k->tx, e->id) != 0)
				k->err = -k->fs->ctx->err;
			snprintf(buf, cap, "node %u: %s", e->id, rn->why);
			return buf;
		}
	}
	return NULL;
}

static void enqueue(struct repairer *k, char *path, uint32_t id)
{
	if (k->qn == k->qcap)
		k->q = rx_xrealloc(k->q, (k->qcap = k->qcap * 2 + 64) * sizeof(*k->q));
	k->q[k->qn++] = (struct pending){ path, id };
}

/*
 * Make the directory hold exactly the entries given (in that order). A name
 * the write path refuses (':', which only the check tolerates) is stored with
 * '_' instead, so that its node stays linked.
 */
static int rebuild_dir(struct repairer *k, struct rfs_node *dir, const struct sentry *e, size_t n,
		       const char *path)
{
	memset(dir->raw + RFS_INLINE_OFF, 0, RFS_INLINE_MAX);
	dir->size = 0;
	dir->blocks = 1;
	int r = rfs_node_put(k->tx, dir);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!memchr(e[i].name, ':', e[i].len)) {
			r = rfs_dir_insert(k->tx, dir, e[i].name, e[i].len, e[i].id);
			continue;
		}
		char name[RFS_NAME_MAX + 1], shown[1100];
		r = -EEXIST;
		for (int attempt = 0; attempt < 100 && r == -EEXIST; attempt++) {
			size_t len = e[i].len;
			memcpy(name, e[i].name, len);
			for (size_t j = 0; j < len; j++)
				if (name[j] == ':')
					name[j] = '_';
			if (attempt)
				len = RX_MIN(len, RFS_NAME_MAX - 4) +
				      (size_t)snprintf(name + RX_MIN(len, RFS_NAME_MAX - 4), 5, "~%d", attempt);
			rx_clear(k->fs->ctx);
			r = rfs_dir_insert(k->tx, dir, name, len, e[i].id);
			if (r == 0) {
				show_name(e[i].name, e[i].len, shown, sizeof(shown));
				note(k, path, "entry '%s' renamed to '%.*s' (':' is not allowed in a name)",
				     shown, (int)len, name);
			}
		}
	}
	return r;
}

static void process_dir(struct repairer *k, const char *path, struct rfs_node *dir)
{
	struct salvage s = { .k = k, .path = path, .claim = 1 };
	salvage_dir(&s, dir);
	size_t dropped = 0;
	/* Duplicate names: the first stored wins. */
	if (s.n > 1) {
		qsort(s.e, s.n, sizeof(*s.e), by_name);
		for (size_t i = 1; i < s.n; i++)
			if (s.e[i].len == s.e[i - 1].len && memcmp(s.e[i].name, s.e[i - 1].name, s.e[i].len) == 0)
				s.e[i].dup = 1;	/* dropped below */
		qsort(s.e, s.n, sizeof(*s.e), by_pos);
	}
	size_t kept = 0;
	for (size_t i = 0; i < s.n && !k->err; i++) {
		char buf[1200];
		const char *why = !s.e[i].dup ? entry_problem(k, &s.e[i], buf, sizeof(buf))
					      : "the name is stored twice; the first one is kept";
		char *child = rx_path_join(path, s.e[i].name, s.e[i].len);
		if (why) {
			note(k, child, "entry dropped (%s)", why);
			free(child);
			dropped++;
			continue;
		}
		struct rnode *rn = rnode_get(k, s.e[i].id, 0);
		rn->refs++;
		if (!rn->reached) {
			rn->reached = 1;
			enqueue(k, child, s.e[i].id);
		} else {
			free(child);
		}
		s.e[kept++] = s.e[i];
	}
	/* Intact so far: every name must also be found through its hash. */
	for (size_t i = 0; i < kept && !s.damaged && !dropped; i++) {
		uint32_t id;
		if (rfs_dir_lookup(k->fs, dir, s.e[i].name, s.e[i].len, &id) != 0 || id != s.e[i].id)
			damage(&s, "the name '%s' cannot be found through its hash", s.e[i].name);
		rx_clear(k->fs->ctx);
	}
	if ((s.damaged || dropped) && !k->err) {
		if (s.damaged)
			note(k, path, "directory rebuilt from the %zu readable entr%s (%s)", kept,
			     kept == 1 ? "y" : "ies", s.why);
		if (rebuild_dir(k, dir, s.e, kept, path) != 0)
			k->err = -k->fs->ctx->err;
	}
	free(s.e);
}

/* ---- files ---- */

struct ffix {
	struct repairer *k;
	struct rfs_node *n;
	const char *path;
	uint64_t nrec, counted;
	int changed;
};

static void fix_slot(struct ffix *f, uint8_t *slot, unsigned depth, uint64_t first)
{
	struct repairer *k = f->k;
	struct rfs_ptr p = rfs_ptr_decode(slot);
	uint8_t *b = NULL;
	char why[1100];
	int bad = 0, stale = first >= f->nrec;
	uint64_t span = 1ULL << (8 * depth);
	if (rfs_ptr_is_null(p) || k->err)
		return;
	if (rfs_ptr_check(k->fs, p, depth > 0) != 0) {
		bad = 1;
		take_reason(k, why, sizeof(why));
	} else if (!stale && !claim(k, p)) {
		bad = 1;
		snprintf(why, sizeof(why), "block %llu is also used elsewhere",
			 (unsigned long long)rfs_ptr_index(p));
	} else if (depth == 0 && !stale) {
		if (rfs_record_load(k->fs, f->n, p, k->rec) != 0) {
			bad = 1;
			take_reason(k, why, sizeof(why));
		}
	} else if (depth > 0) {
		b = rx_xmalloc(RFS_BLOCK);
		if (rfs_read_ptr(k->fs, p, 1, b) != 0) {
			bad = 1;
			take_reason(k, why, sizeof(why));
		}
	}
	if (bad) {
		memset(slot, 0, 16);
		f->changed = 1;
		uint64_t last = RX_MIN(first + span, f->nrec) - 1;
		if (stale)
			note(k, f->path, "pointer beyond the end of file removed (%s)", why);
		else if (last == first)
			note(k, f->path, "record %llu zero-filled (%s)", (unsigned long long)first, why);
		else
			note(k, f->path, "records %llu..%llu zero-filled (indirect block: %s)",
			     (unsigned long long)first, (unsigned long long)last, why);
		free(b);
		return;
	}
	f->counted += 1ULL << rfs_ptr_level(p);
	if (depth == 0)
		return;
	uint8_t *copy = rx_xmalloc(RFS_BLOCK);
	memcpy(copy, b, RFS_BLOCK);
	for (unsigned i = 0; i < RFS_BLOCKLIST_ENTRIES; i++)
		fix_slot(f, copy + 16 * i, depth - 1, first + i * (span >> 8));
	if (memcmp(copy, b, RFS_BLOCK) != 0 && !k->err) {
		if (rx_is_zero(copy, RFS_BLOCK)) {
			memset(slot, 0, 16);	/* nothing left below it */
			f->counted--;
		} else {
			uint8_t *m = rfs_tx_mut(k->tx, slot, BT_BLOCKLIST);
			if (m)
				memcpy(m, copy, RFS_BLOCK);
			else
				k->err = -k->fs->ctx->err;
		}
	}
	free(copy);
	free(b);
}

static void process_file(struct repairer *k, const char *path, struct rfs_node *n)
{
	if (rfs_is_inline(n))
		return;
	struct ffix f = { k, n, path, 0, 0, 0 };
	uint64_t recsize = rfs_record_size(n);
	f.nrec = n->size / recsize + (n->size % recsize != 0);
	for (unsigned s = 0; s < 248 && !k->err; s++)
		fix_slot(&f, n->raw + RFS_INLINE_OFF + 16 * s, slot_depth(s), slot_first(s));
	if (f.changed && !k->err) {
		n->blocks = 1 + f.counted;
		if (rfs_node_put(k->tx, n) != 0)
			k->err = -k->fs->ctx->err;
	}
}

struct symlink_ctx {
	struct repairer *k;
	const struct rfs_node *n;
};

static int symlink_cb(void *arg, uint64_t r, struct rfs_ptr p)
{
	struct symlink_ctx *c = arg;
	(void)r;
	return rfs_record_load(c->k->fs, c->n, p, c->k->rec);
}

static int symlink_readable(struct repairer *k, const struct rfs_node *n, char *why, size_t cap)
{
	struct symlink_ctx c = { k, n };
	if (rfs_record_walk(k->fs, n, symlink_cb, &c) == 0)
		return 1;
	take_reason(k, why, cap);
	return 0;
}

/* ---- pass 3: breadth first from the root ---- */

static void fix_times(struct repairer *k, const char *path, struct rfs_node *n)
{
	uint32_t *t[3] = { &n->ctime_nsec, &n->mtime_nsec, &n->atime_nsec };
	int changed = 0;
	for (int i = 0; i < 3; i++)
		if (*t[i] >= 1000000000u) {
			*t[i] = 0;
			changed = 1;
		}
	if (changed) {
		note(k, path, "timestamp nanoseconds of 1e9 or more set to 0");
		if (rfs_node_put(k->tx, n) != 0)
			k->err = -k->fs->ctx->err;
	}
}

static void walk_queue(struct repairer *k)
{
	while (k->qhead < k->qn && !k->err) {
		struct pending cur = k->q[k->qhead++];
		struct rfs_node n;
		if (rfs_node_get(k->fs, cur.id, &n) != 0) {
			k->err = -k->fs->ctx->err;	/* validated before: cannot happen */
			free(cur.path);
			break;
		}
		fix_times(k, cur.path, &n);
		if (rfs_is_dir(&n))
			process_dir(k, cur.path, &n);
		else
			process_file(k, cur.path, &n);
		free(cur.path);
	}
}

/* ---- pass 4: orphans ---- */

static int list_cb_mark(struct repairer *k, const struct rfs_node *dir)
{
	struct salvage s = { .k = k, .path = "", .claim = 0 };
	salvage_dir(&s, dir);
	for (size_t i = 0; i < s.n; i++) {
		struct rnode *rn = rnode_get(k, s.e[i].id, 0);
		if (rn && s.e[i].id != dir->id)
			rn->has_parent = 1;
	}
	free(s.e);
	return 0;
}

static int lost_found_dir(struct repairer *k, uint32_t *out)
{
	struct rfs *fs = k->fs;
	struct rfs_node root, lf;
	if (k->lost_found) {
		*out = k->lost_found;
		return 0;
	}
	char name[32];
	for (int attempt = 0; attempt < 10; attempt++) {
		uint32_t id;
		snprintf(name, sizeof(name), attempt ? "lost+found.%d" : "lost+found", attempt);
		int r = rfs_node_get(fs, RFS_ROOT_ID, &root);
		if (r)
			return r;
		r = rfs_dir_lookup(fs, &root, name, strlen(name), &id);
		rx_clear(fs->ctx);
		if (r == 0) {
			struct rnode *rn = rnode_get(k, id, 0);
			if (!rn || rn->removed || !rn->reached || rfs_node_get(fs, id, &lf) != 0 ||
			    !rfs_is_dir(&lf)) {
				rx_clear(fs->ctx);
				continue;	/* taken by something else: try the next name */
			}
		} else {
			r = rfs_node_new(k->tx, RFS_MODE_DIR | 0700, 0, 0, k->rep->now, &lf);
			if (r == 0)
				r = rfs_dir_insert(k->tx, &root, name, strlen(name), lf.id);
			if (r == 0 && (r = rfs_node_get(fs, lf.id, &lf)) == 0) {
				lf.links = 1;
				r = rfs_node_put(k->tx, &lf);
			}
			if (r)
				return r;
			struct rnode *rn = rnode_get(k, lf.id, 1);
			rn->reached = 1;
			rn->refs = 1;
			note(k, "/", "directory '%s' created for nodes no directory names", name);
		}
		k->lf_path = rx_path_join("/", name, strlen(name));
		*out = k->lost_found = lf.id;
		return 0;
	}
	return rx_fail(fs->ctx, EEXIST, "no name for a lost+found directory is free");
}

static int reconnect(struct repairer *k, uint32_t id)
{
	struct rfs *fs = k->fs;
	uint32_t lf_id = 0;
	struct rfs_node lf;
	int r = lost_found_dir(k, &lf_id);
	if (r)
		return r;
	char name[48];
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(name, sizeof(name), attempt ? "#%u.%d" : "#%u", id, attempt);
		r = rfs_node_get(fs, lf_id, &lf);
		if (r)
			return r;
		r = rfs_dir_insert(k->tx, &lf, name, strlen(name), id);
		if (r != -EEXIST)
			break;
		rx_clear(fs->ctx);
	}
	if (r)
		return r;
	struct rnode *rn = rnode_get(k, id, 0);
	rn->reached = 1;
	rn->refs++;
	char *path = rx_path_join(k->lf_path, name, strlen(name));
	note(k, path, "node %u, named by no directory, reconnected here", id);
	enqueue(k, path, id);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void pass_orphans(struct repairer *k)
{
	for (;;) {
		walk_queue(k);
		if (k->err)
			return;
		size_t orphans = 0;
		IDMAP_FOREACH(&k->nodes, i) {
			struct rnode *rn = k->nodes.vals[i];
			rn->has_parent = 0;
			orphans += !rn->reached && !rn->released && !rn->removed;
		}
		if (!orphans)
			return;
		/* Orphans named by another orphan directory come back with it. */
		IDMAP_FOREACH(&k->nodes, i) {
			struct rnode *rn = k->nodes.vals[i];
			struct rfs_node n;
			if (rn->reached || rn->released || rn->removed)
				continue;
			if (rfs_node_get(k->fs, k->nodes.keys[i], &n) == 0 && rfs_is_dir(&n))
				list_cb_mark(k, &n);
			rx_clear(k->fs->ctx);
		}
		uint32_t lowest = 0;
		size_t top = 0;
		IDMAP_FOREACH(&k->nodes, i) {
			struct rnode *rn = k->nodes.vals[i];
			uint32_t id = k->nodes.keys[i];
			if (rn->reached || rn->released || rn->removed)
				continue;
			if (!lowest || id < lowest)
				lowest = id;
			if (rn->has_parent)
				continue;
			top++;
		}
		/* Collect first: reconnecting changes the map's values, not its keys. */
		uint32_t *ids = rx_xmalloc((top ? top : 1) * sizeof(*ids));
		size_t n = 0;
		IDMAP_FOREACH(&k->nodes, i) {
			struct rnode *rn = k->nodes.vals[i];
			if (!rn->reached && !rn->released && !rn->removed && !rn->has_parent)
				ids[n++] = k->nodes.keys[i];
		}
		if (n == 0)
			ids[n++] = lowest;	/* only loops of orphans are left: break one */
		qsort(ids, n, sizeof(*ids), cmp_u32);
		for (size_t i = 0; i < n && !k->err; i++)
			if (reconnect(k, ids[i]) != 0)
				k->err = -k->fs->ctx->err;
		free(ids);
		if (k->err)
			return;
	}
}

/* ---- pass 5: link counts, released nodes ---- */

static void pass_links(struct repairer *k)
{
	IDMAP_FOREACH(&k->nodes, i) {
		struct rnode *rn = k->nodes.vals[i];
		uint32_t id = k->nodes.keys[i];
		struct rfs_node n;
		if (rn->removed || id == RFS_ROOT_ID || k->err)
			continue;
		if (!rn->reached && !rn->released)
			continue;
		if (rfs_node_get(k->fs, id, &n) != 0) {
			k->err = -k->fs->ctx->err;
			return;
		}
		char where[32];
		snprintf(where, sizeof(where), "node %u", id);
		if (!rn->reached && !rfs_is_dir(&n)) {
			/* Only the release list holds it: its data is checked, it has no links. */
			process_file(k, where, &n);
			if (k->err || rfs_node_get(k->fs, id, &n) != 0)
				return;
		}
		uint32_t want = rn->reached ? rn->refs : 0;
		if (n.links == want)
			continue;
		note(k, where, "link count %u set to %u", n.links, want);
		n.links = want;
		if (rfs_node_put(k->tx, &n) != 0)
			k->err = -k->fs->ctx->err;
	}
	/* Reached nodes still on the release list would be freed by the next mount. */
	IDMAP_FOREACH(&k->nodes, i) {
		struct rnode *rn = k->nodes.vals[i];
		if (!rn->reached || !rn->released || k->err)
			continue;
		char where[32];
		snprintf(where, sizeof(where), "node %u", (unsigned)k->nodes.keys[i]);
		note(k, where, "taken off the release list (a directory names it)");
		if (rfs_release_remove(k->tx, k->nodes.keys[i]) != 0)
			k->err = -k->fs->ctx->err;
	}
}

/* ---- pass 6: the blocks the new state uses ---- */

struct live_ctx {
	struct repairer *k;
	struct bmap *live;
};

static int live_block(void *arg, struct rfs_ptr p, int kind)
{
	struct live_ctx *l = arg;
	struct repairer *k = l->k;
	if (kind == RFS_BLK_STALE_INDEX || kind == RFS_BLK_STALE_RECORD) {
		/* Held beyond end of file: stays allocated only if the old log had it so. */
		if (rfs_ptr_check(k->fs, p, 0) != 0) {
			rx_clear(k->fs->ctx);
			return 0;
		}
		for (uint64_t b = rfs_ptr_index(p); b < rfs_ptr_index(p) + (1ULL << rfs_ptr_level(p)); b++)
			if (!k->old_free || !bmap_get(k->old_free, b))
				bmap_set(l->live, b);
		return 0;
	}
	mark(k, l->live, p);
	return 0;
}

static int live_tree(struct live_ctx *l, struct rfs_ptr p, int level, uint32_t prefix)
{
	struct rfs *fs = l->k->fs;
	uint8_t b[RFS_BLOCK];
	int r = rfs_read_ptr(fs, p, 1, b);
	if (r)
		return r;
	mark(l->k, l->live, p);
	for (unsigned i = 0; i < RFS_TREE_ENTRIES && r == 0; i++) {
		struct rfs_ptr c = rfs_ptr_decode(b + 16 * i);
		uint32_t id = prefix | (uint32_t)i << (8 * level);
		if (rfs_ptr_is_null(c))
			continue;
		if (level > 0) {
			r = live_tree(l, c, level - 1, id);
			continue;
		}
		struct rfs_node n;
		mark(l->k, l->live, c);
		r = rfs_node_get(fs, id, &n);
		if (r == 0)
			r = rfs_is_dir(&n) ? rfs_dir_blocks(fs, &n, live_block, l)
					   : rfs_file_blocks(fs, &n, live_block, l);
	}
	return r;
}

static int compute_live(struct repairer *k, struct bmap *live)
{
	struct live_ctx l = { k, live };
	struct rfs *fs = k->fs;
	int r = live_tree(&l, fs->hdr.tree, 3, 0);
	struct rfs_ptr p = fs->hdr.release;
	uint8_t b[RFS_BLOCK];
	for (uint64_t guard = 0; r == 0 && !rfs_ptr_is_null(p) && guard <= k->nb; guard++) {
		mark(k, live, p);
		r = rfs_read_ptr(fs, p, 1, b);
		p = rfs_ptr_decode(b);
	}
	return r;
}

/* Ring slots holding a generation that belongs elsewhere (after the commit). */
static int ring_misplaced(struct repairer *k, int clear)
{
	struct rfs *fs = k->fs;
	uint8_t *ring = rx_xmalloc((size_t)RFS_HEADER_RING * RFS_BLOCK);
	int found = 0, r = rx_dev_read(fs->dev, ring, (size_t)RFS_HEADER_RING * RFS_BLOCK, fs->start);
	for (unsigned i = 0; i < RFS_HEADER_RING && r == 0; i++) {
		struct rfs_header h;
		if (rfs_header_decode(ring + (size_t)i * RFS_BLOCK, &h) != 0 ||
		    h.generation % RFS_HEADER_RING == i)
			continue;
		found++;
		if (!clear) {
			char where[32];
			snprintf(where, sizeof(where), "header slot %u", i);
			note(k, where, "generation %llu does not belong there: slot cleared",
			     (unsigned long long)h.generation);
			continue;
		}
		memset(ring + (size_t)i * RFS_BLOCK, 0, RFS_BLOCK);
		r = rx_dev_write(fs->dev, ring + (size_t)i * RFS_BLOCK, RFS_BLOCK,
				 fs->start + (uint64_t)i * RFS_BLOCK);
	}
	if (r == 0 && clear && found)
		r = rx_dev_flush(fs->dev);
	free(ring);
	return r ? r : found;
}

static void log_report(struct repairer *k, const struct bmap *live)
{
	if (!k->old_free) {
		note(k, "allocation log", "rebuilt (%s)", k->log_problem);
		return;
	}
	/* Counted by runs: leaked = allocated in the old log yet held by nothing. */
	uint64_t leaked = 0, wrong = 0;
	struct bmap held;
	bmap_copy(&held, &k->reach0);
	bmap_or(&held, &k->chain0);
	bmap_or(&held, live);
	for (uint64_t b = bmap_next_clear(&held, RFS_FIRST_DATA_BLOCK); b < k->nb;) {
		uint64_t e = bmap_next_set(&held, b);
		leaked += e - b - bmap_count_range(k->old_free, b, e);
		b = bmap_next_clear(&held, e);
	}
	for (uint64_t b = bmap_next_set(&k->reach0, RFS_FIRST_DATA_BLOCK); b < k->nb;) {
		uint64_t e = bmap_next_clear(&k->reach0, b);
		wrong += bmap_count_range(k->old_free, b, e);
		b = bmap_next_set(&k->reach0, e);
	}
	bmap_free(&held);
	if (wrong)
		note(k, "allocation log", "rebuilt (%llu block%s in use %s marked free; %llu leaked "
		     "block%s reclaimed)", (unsigned long long)wrong, wrong == 1 ? "" : "s",
		     wrong == 1 ? "was" : "were", (unsigned long long)leaked, leaked == 1 ? "" : "s");
	else if (leaked || rfs_ptr_is_null(k->fs->hdr.alloc))
		note(k, "allocation log", "rebuilt (%llu leaked block%s reclaimed)",
		     (unsigned long long)leaked, leaked == 1 ? "" : "s");
}

static void repairer_free(struct repairer *k)
{
	IDMAP_FOREACH(&k->nodes, i) {
		struct rnode *rn = k->nodes.vals[i];
		free(rn->why);
		free(rn);
	}
	idmap_free(&k->nodes);
	for (size_t i = k->qhead; i < k->qn; i++)
		free(k->q[i].path);
	free(k->q);
	for (size_t i = 0; i < k->nnotes; i++) {
		free(k->notes[i].where);
		free(k->notes[i].what);
	}
	free(k->notes);
	free(k->lost);
	bmap_free(&k->in_use);
	bmap_free(&k->reach0);
	bmap_free(&k->chain0);
	bmap_free(&k->seen);
	bmap_free(&k->used);
	bmap_free(&k->old_free_map);
	free(k->log_problem);
	free(k->lf_path);
	free(k->rec);
}

int rfs_repair(struct rfs *fs, struct rfs_repair *rep)
{
	struct repairer k = { .fs = fs, .rep = rep, .nb = fs->nblocks };
	int r;
	rep->changes = 0;
	rep->gave_up = 0;
	rep->reason[0] = 0;
	if (!fs->dev->writable)
		return rx_fail(fs->ctx, EROFS, "the image is open read-only");
	if (fs->hdr.encrypted && !fs->crypt)
		return rx_fail(fs->ctx, EACCES, "the filesystem is encrypted: a password is needed");
	bmap_init(&k.in_use, fs->nblocks);
	bmap_init(&k.reach0, fs->nblocks);
	bmap_init(&k.chain0, fs->nblocks);
	bmap_init(&k.seen, fs->nblocks);
	bmap_init(&k.used, fs->nblocks);
	k.rec = rx_xmalloc((size_t)RFS_BLOCK << RFS_RECORD_LEVEL);
	idmap_init(&k.nodes);

	pass_old(&k);
	r = rfs_tx_begin_rebuild(fs, &k.in_use, &k.tx);
	if (r) {
		repairer_free(&k);
		return r;
	}
	k.ring_bad = ring_misplaced(&k, 0) > 0;
	pass_tree(&k);
	if (!rep->gave_up && !k.err)
		pass_release(&k);
	if (!rep->gave_up && !k.err) {
		struct rnode *root = rnode_get(&k, RFS_ROOT_ID, 0);
		root->reached = 1;
		enqueue(&k, rx_xstrdup("/"), RFS_ROOT_ID);
		pass_orphans(&k);
	}
	if (!rep->gave_up && !k.err)
		pass_links(&k);
	struct bmap live = { 0 };
	if (!rep->gave_up && !k.err) {
		bmap_init(&live, fs->nblocks);
		/* Any other change rewrites the log too; it is reported only when it was wrong. */
		if (compute_live(&k, &live) != 0) {
			rx_prefix(fs->ctx, "after repair");
			k.err = -fs->ctx->err;
		} else {
			log_report(&k, &live);
		}
	}
	if (rep->gave_up || k.err || k.nnotes == 0) {
		rfs_tx_abort(k.tx);
		bmap_free(&live);
		r = k.err;
		repairer_free(&k);
		return r;
	}
	k.tx->live = &live;
	r = rfs_tx_commit(k.tx);
	bmap_free(&live);
	if (r == 0 && k.ring_bad) {
		int c = ring_misplaced(&k, 1);
		r = c < 0 ? c : 0;
	}
	if (r == 0) {
		rep->changes = k.nnotes;
		for (size_t i = 0; i < k.nnotes && rep->repaired; i++)
			rep->repaired(rep->arg, k.notes[i].where, k.notes[i].what);
	}
	repairer_free(&k);
	return r;
}
