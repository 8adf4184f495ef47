/* Directories: DirList blocks, hashed (h-tree) index blocks, lookup. */
#include <stdlib.h>

#include "prefetch.h"
#include "rfs.h"
#include "seahash.h"

#define HTREE_EMPTY 0xFFFFFFFFu
#define HTREE_MAX_DEPTH 8u	/* 204^8 lists: far beyond any real directory */

uint32_t rfs_name_hash(const char *name, size_t len)
{
	uint32_t h = (uint32_t)seahash(name, len);
	return h == HTREE_EMPTY ? HTREE_EMPTY - 1 : h;
}

const char *rfs_name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "empty name";
	if (len > RFS_NAME_MAX)
		return "name longer than 252 bytes";
	if (memchr(name, '/', len))
		return "name contains '/'";
	if (memchr(name, 0, len))
		return "name contains a NUL byte";
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return "name is '.' or '..'";
	return NULL;
}

struct dir_walk {
	struct rfs *fs;
	const struct rfs_node *dir;
	uint64_t budget;
	rfs_dir_cb cb;
	rfs_block_cb blk_cb;
	void *arg;
};

static int dirlist_parse(struct dir_walk *w, const uint8_t *b)
{
	unsigned count = get_le16(b + RFS_DIRLIST_BYTES), used = get_le16(b + RFS_DIRLIST_BYTES + 2);
	unsigned pos = 0;

	if (used > RFS_DIRLIST_BYTES)
		return rx_fail(w->fs->ctx, RX_ECORRUPT, "directory list claims %u bytes of entries (max %u)",
			       used, RFS_DIRLIST_BYTES);
	for (unsigned i = 0; i < count; i++) {
		if (pos + 5 > used)
			return rx_fail(w->fs->ctx, RX_ECORRUPT, "directory list entry %u runs past its %u bytes",
				       i, used);
		uint32_t id = get_le32(b + pos);
		unsigned len = b[pos + 4];
		if (pos + 5 + len > used)
			return rx_fail(w->fs->ctx, RX_ECORRUPT, "directory list entry %u runs past its %u bytes",
				       i, used);
		const char *name = (const char *)b + pos + 5;
		const char *why = rfs_name_problem(name, len);
		if (why)
			return rx_fail(w->fs->ctx, RX_ECORRUPT, "directory entry %u (node %u): %s", i, id, why);
		if (w->cb) {
			int r = w->cb(w->arg, id, name, len);
			if (r)
				return r;
		}
		pos += 5 + len;
	}
	if (pos != used)
		return rx_fail(w->fs->ctx, RX_ECORRUPT, "directory list has %u entries in %u bytes but claims %u",
			       count, pos, used);
	return 0;
}

static int walk_index(struct dir_walk *w, struct rfs_ptr ptr, unsigned levels)
{
	if (w->budget-- == 0)
		return rx_fail(w->fs->ctx, ELOOP, "directory references more blocks than the filesystem has");
	if (rfs_ptr_is_null(ptr))
		return rx_fail(w->fs->ctx, RX_ECORRUPT, "directory index points to a null block");
	uint8_t *buf = rx_xmalloc(RFS_BLOCK);
	int r = rfs_read_ptr(w->fs, ptr, 1, buf);
	if (r == 0 && w->blk_cb)
		r = w->blk_cb(w->arg, ptr, 0);
	if (r == 0 && levels == 0) {
		r = dirlist_parse(w, buf);
	} else if (r == 0) {
		/* The walk reads every child: ask for them all at once, in address order. */
		struct rfs_prefetch p;
		rfs_prefetch_init(&p, w->fs);
		for (unsigned k = 0; k < RFS_HTREE_ENTRIES; k++)
			rfs_prefetch_add(&p, rfs_ptr_decode(buf + 20 * k + 4));
		rfs_prefetch_issue(&p);
		rfs_prefetch_free(&p);
		for (unsigned k = 0; r == 0 && k < RFS_HTREE_ENTRIES; k++) {
			const uint8_t *e = buf + 20 * k;
			struct rfs_ptr child = rfs_ptr_decode(e + 4);
			if (get_le32(e) == HTREE_EMPTY && rfs_ptr_is_null(child))
				break;
			r = walk_index(w, child, levels - 1);
		}
	}
	free(buf);
	return r;
}

/* Depth of a directory's h-tree, or -1 when it is empty. */
static int dir_depth(struct rfs *fs, const struct rfs_node *dir, struct rfs_ptr *root)
{
	struct rfs_ptr m = rfs_node_level_ptr(dir, 0);
	*root = rfs_node_level_ptr(dir, 1);
	if (!rfs_is_dir(dir))
		return rx_fail(fs->ctx, ENOTDIR, "not a directory");
	if (rfs_ptr_is_null(m))
		return -1;
	if (!rfs_ptr_is_marker(m))
		return rx_fail(fs->ctx, RX_ECORRUPT, "directory node %u has no h-tree marker", dir->id);
	unsigned depth = (unsigned)(m.addr & 0xF);
	if (depth > HTREE_MAX_DEPTH)
		return rx_fail(fs->ctx, RX_ECORRUPT, "directory node %u has an h-tree %u levels deep",
			       dir->id, depth);
	return (int)depth;
}

static int dir_walk(struct dir_walk *w)
{
	struct rfs_ptr root;
	int depth = dir_depth(w->fs, w->dir, &root);
	if (depth == -1)
		return 0;
	if (depth < -1)
		return depth;
	w->budget = w->fs->nblocks;
	return walk_index(w, root, (unsigned)depth);
}

int rfs_dir_iterate(struct rfs *fs, const struct rfs_node *dir, rfs_dir_cb cb, void *arg)
{
	struct dir_walk w = { .fs = fs, .dir = dir, .cb = cb, .arg = arg };
	return dir_walk(&w);
}

int rfs_dir_blocks(struct rfs *fs, const struct rfs_node *dir, rfs_block_cb cb, void *arg)
{
	struct dir_walk w = { .fs = fs, .dir = dir, .blk_cb = cb, .arg = arg };
	return dir_walk(&w);
}

struct lookup {
	const char *name;
	size_t len;
	uint32_t hash;
	uint32_t id;
	int found;
	uint64_t budget;
};

static int lookup_cb(void *arg, uint32_t id, const char *name, size_t len)
{
	struct lookup *l = arg;
	if (len == l->len && memcmp(name, l->name, len) == 0) {
		l->id = id;
		l->found = 1;
		return 1;	/* stop */
	}
	return 0;
}

/* Hash-guided descent: only the children whose range can hold the hash. */
static int lookup_index(struct rfs *fs, struct lookup *l, struct rfs_ptr ptr, unsigned levels)
{
	if (l->budget-- == 0)
		return rx_fail(fs->ctx, ELOOP, "directory references more blocks than the filesystem has");
	uint8_t *buf = rx_xmalloc(RFS_BLOCK);
	int r = rfs_read_ptr(fs, ptr, 1, buf);
	if (r == 0 && levels == 0) {
		struct dir_walk w = { .fs = fs, .cb = lookup_cb, .arg = l };
		r = dirlist_parse(&w, buf);
		if (r == 1)
			r = 0;
	} else if (r == 0) {
		int taking = 0;
		for (unsigned k = 0; r == 0 && !l->found && k < RFS_HTREE_ENTRIES; k++) {
			const uint8_t *e = buf + 20 * k;
			uint32_t max = get_le32(e);
			struct rfs_ptr child = rfs_ptr_decode(e + 4);
			if (max == HTREE_EMPTY && rfs_ptr_is_null(child))
				break;
			if (!taking && max < l->hash)
				continue;
			if (rfs_ptr_is_null(child)) {
				r = rx_fail(fs->ctx, RX_ECORRUPT, "directory index points to a null block");
				break;
			}
			r = lookup_index(fs, l, child, levels - 1);
			/* Equal hashes may straddle siblings: go on while max == hash. */
			if (max != l->hash)
				break;
			taking = 1;
		}
	}
	free(buf);
	return r;
}

int rfs_dir_lookup(struct rfs *fs, const struct rfs_node *dir, const char *name, size_t len,
		   uint32_t *id)
{
	struct rfs_ptr root;
	int depth = dir_depth(fs, dir, &root);
	if (depth < -1)
		return depth;
	if (depth >= 0) {
		if (rfs_ptr_is_null(root))
			return rx_fail(fs->ctx, RX_ECORRUPT, "directory node %u has a null h-tree root", dir->id);
		struct lookup l = { name, len, rfs_name_hash(name, len), 0, 0, fs->nblocks };
		int r = lookup_index(fs, &l, root, (unsigned)depth);
		if (r)
			return r;
		if (l.found) {
			*id = l.id;
			return 0;
		}
	}
	return rx_fail(fs->ctx, ENOENT, "no such file or directory");
}

struct list_acc {
	struct rfs_dirent *ents;	/* name holds an offset into names until the end */
	size_t count, cap;
	char *names;
	size_t used, room;
};

static int list_cb(void *arg, uint32_t id, const char *name, size_t len)
{
	struct list_acc *a = arg;
	if (a->count == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->ents = rx_xrealloc(a->ents, a->cap * sizeof(*a->ents));
	}
	if (a->room - a->used < len + 1) {
		a->room = RX_MAX(a->room * 2, (size_t)1024);
		a->names = rx_xrealloc(a->names, a->room);
	}
	struct rfs_dirent *e = &a->ents[a->count++];
	e->id = id;
	e->len = (uint8_t)len;
	e->name = NULL;
	memcpy(a->names + a->used, name, len);
	a->names[a->used + len] = 0;
	a->used += len + 1;
	return 0;
}

int rfs_dir_list(struct rfs *fs, const struct rfs_node *dir, struct rfs_dirent **out, size_t *count)
{
	struct list_acc a = { 0 };
	int r = rfs_dir_iterate(fs, dir, list_cb, &a);
	*out = NULL;
	*count = 0;
	if (r == 0) {
		/* One allocation: the entries, then their names in the same order. */
		struct rfs_dirent *ents = rx_xmalloc(a.count * sizeof(*ents) + a.used + 1);
		char *names = (char *)(ents + a.count);
		if (a.used)
			memcpy(names, a.names, a.used);
		for (size_t i = 0, off = 0; i < a.count; i++) {
			ents[i] = a.ents[i];
			ents[i].name = names + off;
			off += ents[i].len + 1u;
		}
		*out = ents;
		*count = a.count;
	}
	free(a.ents);
	free(a.names);
	return r;
}

static int dirent_cmp(const void *a, const void *b)
{
	const struct rfs_dirent *x = a, *y = b;
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	return c ? c : (int)x->len - (int)y->len;
}

int rfs_dirents_sort(struct rfs *fs, struct rfs_dirent *ents, size_t count)
{
	if (count > 1)
		qsort(ents, count, sizeof(*ents), dirent_cmp);
	for (size_t i = 1; i < count; i++)
		if (dirent_cmp(&ents[i - 1], &ents[i]) == 0)
			return rx_fail(fs->ctx, RX_ECORRUPT, "the name '%s' appears twice in the directory",
				       ents[i].name);
	return 0;
}
