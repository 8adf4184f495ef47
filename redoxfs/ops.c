/* Path-level operations shared by every front-end (CLI verbs, shell, FUSE). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "idmap.h"
#include "ops.h"

int rfs_split_path(struct rfs *fs, const char *path, char **parent, char **name)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	const char *slash = NULL;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			slash = path + i;
	if (!slash || len <= 1)
		return rx_fail(fs->ctx, EINVAL, "needs an absolute path below /");
	*parent = slash == path ? rx_xstrdup("/") : strndup(path, (size_t)(slash - path));
	*name = strndup(slash + 1, len - (size_t)(slash + 1 - path));
	if (!*parent || !*name)
		abort();
	if (!strcmp(*name, ".") || !strcmp(*name, "..")) {
		free(*parent);
		free(*name);
		return rx_fail(fs->ctx, EINVAL, "the last component cannot be '.' or '..'");
	}
	return 0;
}

int rfs_lookup_parent(struct rfs *fs, const char *path, struct rfs_node *dir, char **name)
{
	char *parent;
	int r = rfs_split_path(fs, path, &parent, name);
	if (r)
		return r;
	r = rfs_lookup(fs, parent, 1, dir);
	if (r == 0 && !rfs_is_dir(dir))
		r = rx_fail(fs->ctx, ENOTDIR, "%s is not a directory", parent);
	free(parent);
	if (r) {
		free(*name);
		*name = NULL;
	}
	return r;
}

int rfs_op_create(struct rfs_tx *tx, struct rfs_node *dir, const char *name, uint16_t mode,
		  const struct rfs_owner *own, struct rfs_time t, struct rfs_node *out)
{
	int r = rfs_node_new(tx, mode, own ? own->uid : dir->uid, own ? own->gid : dir->gid, t, out);
	if (r)
		return r;
	out->links = 1;
	r = rfs_dir_insert(tx, dir, name, strlen(name), out->id);
	if (r) {
		rfs_node_remove(tx, out->id);
		return r;
	}
	return rfs_node_put(tx, out);
}

int rfs_op_mkdir(struct rfs_tx *tx, const char *path, uint16_t perm, int parents,
		 const struct rfs_owner *own, struct rfs_time t)
{
	struct rfs *fs = tx->fs;
	struct rfs_node dir, n;
	char *name;
	if (parents) {
		/* Walk down, creating what is missing. */
		char *p = rx_xstrdup(path), *s = p;
		int r = rfs_node_get(fs, RFS_ROOT_ID, &dir);
		while (r == 0) {
			while (*s == '/')
				s++;
			if (!*s)
				break;
			char *e = strchr(s, '/');
			if (e)
				*e = 0;
			uint32_t id;
			r = rfs_dir_lookup(fs, &dir, s, strlen(s), &id);
			if (r == -ENOENT) {
				rx_clear(fs->ctx);
				r = rfs_op_create(tx, &dir, s, (uint16_t)(RFS_MODE_DIR | (perm & RFS_MODE_PERM)),
						  own, t, &n);
			} else if (r == 0) {
				r = rfs_node_get(fs, id, &n);
				if (r == 0 && rfs_is_symlink(&n)) {
					char *sofar = strndup(p, (size_t)(s - p) + strlen(s));
					r = rfs_lookup(fs, sofar, 1, &n);
					free(sofar);
				}
				if (r == 0 && !rfs_is_dir(&n))
					r = rx_fail(fs->ctx, ENOTDIR, "%s is not a directory", s);
			}
			dir = n;
			if (!e)
				break;
			*e = '/';
			s = e + 1;
		}
		free(p);
		return r;
	}
	int r = rfs_lookup_parent(fs, path, &dir, &name);
	if (r)
		return r;
	r = rfs_op_create(tx, &dir, name, (uint16_t)(RFS_MODE_DIR | (perm & RFS_MODE_PERM)), own, t, &n);
	free(name);
	return r;
}

int rfs_op_drop_link(struct rfs_tx *tx, struct rfs_node *n)
{
	if (n->links > 1) {
		n->links--;
		return rfs_node_put(tx, n);
	}
	if (tx->fs->is_open && tx->fs->is_open(tx->fs->is_open_arg, n->id)) {
		/* Still open somewhere: keep it, nameless, on the release list (spec 11.8). */
		n->links = 0;
		int r = rfs_node_put(tx, n);
		return r ? r : rfs_release_add(tx, n->id);
	}
	return rfs_node_destroy(tx, n);
}

static int block_seen(void *arg, struct rfs_ptr ptr, int kind);

/*
 * Damaged entries. A name whose node cannot be read (or whose directory
 * listing cannot) can still be removed or replaced: the name goes, and nothing
 * the node points to is read or freed; check --repair reclaims those blocks,
 * which show as leaked. The node leaves the tree once no name refers to it.
 * Each operation collects the ids it dropped (id -> DROPPED) and settles them
 * at its end with one walk of the directories.
 */
#define DROPPED ((void *)1)
#define STILL_NAMED ((void *)2)

/* The name is already gone: remember the node, tell the front-end why (the message on the ctx). */
static void note_dropped(struct rfs *fs, uint32_t id, const char *path, struct idmap *dropped)
{
	void **slot = idmap_slot(dropped, id, 1);	/* NULL for the reserved id 0: nothing to remember */
	if (slot)
		*slot = DROPPED;
	if (fs->dropped)
		fs->dropped(fs->dropped_arg, path, fs->ctx->msg);
	rx_clear(fs->ctx);
}

/* Take dir/name out without reading its node; the ctx holds what is wrong with it. */
static int drop_name(struct rfs_tx *tx, struct rfs_node *dir, const char *name, uint32_t id,
		     const char *path, struct idmap *dropped)
{
	struct rfs *fs = tx->fs;
	char why[sizeof(fs->ctx->msg)];
	int err = fs->ctx->err;
	snprintf(why, sizeof(why), "%s", fs->ctx->msg);
	rx_clear(fs->ctx);
	int r = rfs_dir_remove(tx, dir, name, strlen(name));
	if (r)
		return r;
	rx_fail(fs->ctx, err, "%s", why);
	note_dropped(fs, id, path, dropped);
	return 0;
}

/*
 * Which dropped ids does some directory still name (another hard link)? One
 * walk of every directory that can be read. What damage hides (a directory
 * that cannot be read) is not searched: a name in there is as lost as the
 * directory, and check --repair deals with both.
 */
static int find_names(struct rfs *fs, struct idmap *dropped)
{
	struct idmap seen;
	size_t head = 0, n = 0, cap = 64;
	uint32_t *queue = rx_xmalloc(cap * sizeof(*queue));
	int r = 0;
	idmap_init(&seen);
	*idmap_slot(&seen, RFS_ROOT_ID, 1) = DROPPED;
	queue[n++] = RFS_ROOT_ID;
	while (r == 0 && head < n) {
		struct rfs_node dir;
		struct rfs_dirent *ents = NULL;
		size_t count = 0;
		r = rfs_node_get(fs, queue[head++], &dir);
		if (r == 0)
			r = rfs_dir_list(fs, &dir, &ents, &count);
		for (size_t i = 0; r == 0 && i < count; i++) {
			void **d = idmap_slot(dropped, ents[i].id, 0);
			struct rfs_node child;
			if (d) {
				*d = STILL_NAMED;
				continue;
			}
			r = rfs_node_of_entry(fs, ents[i].id, &child);
			if (r == 0 && rfs_is_dir(&child) && !*idmap_slot(&seen, child.id, 1)) {
				*idmap_slot(&seen, child.id, 1) = DROPPED;
				if (n == cap)
					queue = rx_xrealloc(queue, (cap *= 2) * sizeof(*queue));
				queue[n++] = child.id;
			}
			if (rfs_is_damage(r)) {
				rx_clear(fs->ctx);
				r = 0;
			}
		}
		free(ents);
		if (rfs_is_damage(r)) {
			rx_clear(fs->ctx);
			r = 0;
		}
	}
	free(queue);
	idmap_free(&seen);
	return r;
}

/* The end of an operation that dropped names: nodes named nowhere leave the tree, unread. */
static int settle_dropped(struct rfs_tx *tx, struct idmap *dropped)
{
	struct rfs *fs = tx->fs;
	int r = dropped->count ? find_names(fs, dropped) : 0;
	if (r || !dropped->count)
		return r;
	IDMAP_FOREACH(dropped, i) {
		struct rfs_node n;
		if (dropped->vals[i] != DROPPED)
			continue;
		r = rfs_node_get(fs, dropped->keys[i], &n);
		rx_clear(fs->ctx);
		if (r == -ENOENT) {
			r = 0;	/* a name of a node that never existed */
			continue;
		}
		r = rfs_node_detach(tx, dropped->keys[i]);
		if (rfs_is_damage(r)) {
			rx_clear(fs->ctx);	/* the tree path itself is damaged: repair's business */
			r = 0;
		}
		if (r)
			break;
	}
	return r;
}

/* Drop one name of a node; the node goes when its last name does. */
static int unlink_node(struct rfs_tx *tx, struct rfs_node *dir, const char *name, struct rfs_node *n,
		       const char *path, struct idmap *dropped)
{
	int r = rfs_dir_remove(tx, dir, name, strlen(name));
	if (r)
		return r;
	r = rfs_op_drop_link(tx, n);
	if (rfs_is_damage(r)) {
		/* What the node holds is damaged (not its name): it goes unread, like a damaged node. */
		note_dropped(tx->fs, n->id, path, dropped);
		r = 0;
	}
	return r;
}

int rfs_op_unlink_at(struct rfs_tx *tx, struct rfs_node *dir, const char *name, int want_dir)
{
	struct rfs_node n;
	struct idmap dropped;
	uint32_t id;
	int r = rfs_dir_lookup(tx->fs, dir, name, strlen(name), &id);
	if (r)
		return r;	/* damage in dir itself is not this name's */
	r = rfs_node_of_entry(tx->fs, id, &n);
	if (r && !rfs_is_damage(r))
		return r;
	if (r == 0 && want_dir && !rfs_is_dir(&n))
		return rx_fail(tx->fs->ctx, ENOTDIR, "not a directory");
	if (r == 0 && !want_dir && rfs_is_dir(&n))
		return rx_fail(tx->fs->ctx, EISDIR, "is a directory");
	if (r == 0 && want_dir && n.size != 0)
		return rx_fail(tx->fs->ctx, ENOTEMPTY, "directory not empty");
	idmap_init(&dropped);
	r = r ? drop_name(tx, dir, name, id, name, &dropped) : unlink_node(tx, dir, name, &n, name, &dropped);
	if (r == 0)
		r = settle_dropped(tx, &dropped);
	idmap_free(&dropped);
	return r;
}

int rfs_op_drop_damaged(struct rfs_tx *tx, struct rfs_node *dir, const char *name, const char *path)
{
	struct rfs *fs = tx->fs;
	struct rfs_node n;
	struct idmap dropped;
	uint32_t id;
	char why[sizeof(fs->ctx->msg)];
	int err = fs->ctx->err;
	snprintf(why, sizeof(why), "%s", fs->ctx->msg);
	int r = rfs_dir_lookup(fs, dir, name, strlen(name), &id);
	if (r)
		return r;
	r = rfs_node_of_entry(fs, id, &n);
	if (r == 0 && !rfs_is_dir(&n))
		r = rfs_file_blocks(fs, &n, block_seen, NULL);
	if (r == 0)	/* the damage lies elsewhere (behind a symlink?): not this name's */
		return rx_fail(fs->ctx, err ? err : EIO, "%s", why);
	if (!rfs_is_damage(r))
		return r;
	idmap_init(&dropped);
	r = drop_name(tx, dir, name, id, path, &dropped);
	if (r == 0)
		r = settle_dropped(tx, &dropped);
	idmap_free(&dropped);
	return r;
}

static int remove_tree(struct rfs_tx *tx, struct rfs_node *dir, const char *name, struct rfs_node *n,
		       unsigned depth, const char *path, struct idmap *dropped)
{
	if (rfs_is_dir(n)) {
		if (depth > 4096)
			return rx_fail(tx->fs->ctx, ELOOP, "directories nest too deeply (a loop?)");
		struct rfs_dirent *ents;
		size_t count;
		int r = rfs_dir_list(tx->fs, n, &ents, &count);
		if (rfs_is_damage(r)) {
			/* Not descending into damage: the directory goes unread, what it held is orphaned. */
			rx_prefix(tx->fs->ctx, "the directory cannot be listed, so what it holds is left "
				  "without a name");
			return drop_name(tx, dir, name, n->id, path, dropped);
		}
		for (size_t i = 0; i < count && r == 0; i++) {
			struct rfs_node child;
			char *cpath = rx_path_join(path, ents[i].name, ents[i].len);
			r = rfs_node_of_entry(tx->fs, ents[i].id, &child);
			if (r == 0)
				r = remove_tree(tx, n, ents[i].name, &child, depth + 1, cpath, dropped);
			else if (rfs_is_damage(r))
				r = drop_name(tx, n, ents[i].name, ents[i].id, cpath, dropped);
			if (r == 0)	/* n changed on disk: reload it */
				r = rfs_node_get(tx->fs, n->id, n);
			free(cpath);
		}
		free(ents);
		if (r)
			return r;
	}
	return unlink_node(tx, dir, name, n, path, dropped);
}

int rfs_op_remove(struct rfs_tx *tx, const char *path, int recursive, int dir_ok)
{
	struct rfs *fs = tx->fs;
	struct rfs_node dir, n;
	struct idmap dropped;
	char *name;
	uint32_t id;
	int r = rfs_lookup_parent(fs, path, &dir, &name);
	if (r)
		return r;
	idmap_init(&dropped);
	r = rfs_dir_lookup(fs, &dir, name, strlen(name), &id);
	int named = r == 0;	/* damage in the parent itself is not this name's */
	if (named)
		r = rfs_node_of_entry(fs, id, &n);
	if (rfs_is_damage(r) && named) {
		r = drop_name(tx, &dir, name, id, path, &dropped);
	} else if (r == 0 && rfs_is_dir(&n)) {
		if (n.id == RFS_ROOT_ID)
			r = rx_fail(fs->ctx, EBUSY, "cannot remove the root directory");
		else if (recursive)
			r = remove_tree(tx, &dir, name, &n, 0, path, &dropped);
		else if (!dir_ok)
			r = rx_fail(fs->ctx, EISDIR, "is a directory (use -r)");
		else if (n.size != 0)
			r = rx_fail(fs->ctx, ENOTEMPTY, "directory not empty");
		else
			r = unlink_node(tx, &dir, name, &n, path, &dropped);
	} else if (r == 0) {
		r = unlink_node(tx, &dir, name, &n, path, &dropped);
	}
	if (r == 0)
		r = settle_dropped(tx, &dropped);
	idmap_free(&dropped);
	free(name);
	return r;
}

/* A no-op visit: rfs_file_blocks then only proves that every index block reads. */
static int block_seen(void *arg, struct rfs_ptr ptr, int kind)
{
	(void)arg;
	(void)ptr;
	(void)kind;
	return 0;
}

/*
 * The new content ends inside record last: writing it merges with the old
 * record's bytes past the end, which are cut off afterwards. A damaged old
 * record cannot be merged (nor is it needed): cut it first, unread.
 */
static int cut_damaged_tail(struct rfs_tx *tx, struct rfs_node *n, uint64_t last)
{
	uint64_t rs = rfs_record_size(n);
	struct rfs_ptr p;
	if (rfs_is_inline(n) || last * rs >= n->size)
		return 0;
	int r = rfs_record_ptr(tx->fs, n, last, &p);
	if (r || rfs_ptr_is_null(p))
		return r;
	uint8_t *buf = rx_xmalloc((size_t)rs);
	r = rfs_record_load(tx->fs, n, p, buf);
	free(buf);
	if (!rfs_is_damage(r))
		return r;
	rx_clear(tx->fs->ctx);
	return rfs_file_truncate(tx, n, last * rs);
}

int rfs_op_write_fd(struct rfs_tx *tx, struct rfs_node *n, int fd, uint64_t *total)
{
	const size_t rec = (size_t)RFS_BLOCK << RFS_RECORD_LEVEL;
	const size_t cap = 16 * rec;	/* 2 MiB at a time: whole records to compress in parallel */
	/* Index blocks are rewritten in place: a damaged one fails here, before any change. */
	int r = rfs_file_blocks(tx->fs, n, block_seen, NULL);
	if (r)
		return r;
	if (!tx->iobuf)
		tx->iobuf = rx_xmalloc(cap);	/* kept for the transaction's next file */
	uint8_t *buf = tx->iobuf;
	uint64_t off = 0;
	int eof = 0;
	while (r == 0 && !eof) {
		size_t have = 0;
		while (have < cap) {
			ssize_t got = read(fd, buf + have, cap - have);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				r = rx_fail(tx->fs->ctx, errno, "read: %s", strerror(errno));
				break;
			}
			if (got == 0) {
				eof = 1;
				break;
			}
			have += (size_t)got;
		}
		/*
		 * Write the buffer as runs, leaving out whole zero records that fall on
		 * holes: a sparse source stays sparse.
		 */
		size_t run = 0;	/* start of the bytes not yet written */
		for (size_t pos = 0; r == 0 && pos < have; pos += rec) {
			if (have - pos < rec || !rx_is_zero(buf + pos, rec))
				continue;
			/* Past the current end, or over a hole (inline data is not a hole). */
			struct rfs_ptr cur = { 0, 0 };
			if (off + pos < n->size && rfs_is_inline(n))
				continue;
			if (off + pos < n->size)
				r = rfs_record_ptr(tx->fs, n, (off + pos) / rec, &cur);
			if (r || !rfs_ptr_is_null(cur))
				continue;
			if (pos > run)
				r = rfs_file_write(tx, n, off + run, buf + run, pos - run);
			run = pos + rec;
		}
		if (r == 0 && eof && (off + have) % rec)
			r = cut_damaged_tail(tx, n, (off + have) / rec);
		if (r == 0 && have > run)
			r = rfs_file_write(tx, n, off + run, buf + run, have - run);
		if (r == 0 && tx->copied)
			tx->copied(tx->copied_arg, have);
		off += have;
	}
	if (r == 0)
		r = rfs_file_truncate(tx, n, off);
	if (r == 0 && total)
		*total = off;
	return r;
}

/* Moving a name whose node cannot be read is refused: its type, needed to move it safely, is unknown. */
static const char damaged_move[] = "cannot move a damaged entry (remove it, or put a new file in its place)";

/* Is node id the directory at path or one of its ancestors? (A rename must not move a dir into itself.) */
static int path_passes(struct rfs *fs, const char *path, uint32_t id, int *passes)
{
	char *p = rx_xstrdup(path);
	struct rfs_node n;
	int r = 0;
	*passes = 0;
	for (char *s = p;; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			r = rfs_lookup(fs, *p ? p : "/", 1, &n);
			*s = c;
			if (r)
				break;
			if (n.id == id) {
				*passes = 1;
				break;
			}
			if (!c)
				break;
		}
	}
	free(p);
	return r;
}

int rfs_op_rename_at(struct rfs_tx *tx, struct rfs_node *d1, const char *n1, struct rfs_node *d2,
		     const char *n2, unsigned flags)
{
	struct rfs *fs = tx->fs;
	struct rfs_node src, dst;
	uint32_t id, did;
	/* One directory as both ends: share one in-memory copy so no change is lost. */
	struct rfs_node *dst_dir = d1->id == d2->id ? d1 : d2;
	int r = rfs_dir_lookup(fs, d1, n1, strlen(n1), &id);
	if (r)
		return r;
	r = rfs_node_of_entry(fs, id, &src);
	if (rfs_is_damage(r))
		rx_prefix(fs->ctx, "%s", damaged_move);
	if (r)
		return r;
	if (src.id == RFS_ROOT_ID)
		return rx_fail(fs->ctx, EBUSY, "cannot move the root directory");
	r = rfs_dir_lookup(fs, dst_dir, n2, strlen(n2), &did);
	if (r == -ENOENT) {
		rx_clear(fs->ctx);
		if (flags & RFS_RENAME_EXCHANGE)
			return rx_fail(fs->ctx, ENOENT, "%s: no such file or directory", n2);
		r = rfs_dir_insert(tx, dst_dir, n2, strlen(n2), src.id);
		return r ? r : rfs_dir_remove(tx, d1, n1, strlen(n1));
	}
	if (r)
		return r;
	if (did == src.id && !(flags & RFS_RENAME_EXCHANGE))
		return 0;	/* the same node: nothing to do */
	if (flags & RFS_RENAME_NOREPLACE)
		return rx_fail(fs->ctx, EEXIST, "%s already exists", n2);
	r = rfs_node_of_entry(fs, did, &dst);
	if (rfs_is_damage(r) && !(flags & RFS_RENAME_EXCHANGE)) {
		/* A damaged target is replaced like any other, but never read. */
		struct idmap dropped;
		idmap_init(&dropped);
		r = drop_name(tx, dst_dir, n2, did, n2, &dropped);
		if (r == 0)
			r = rfs_dir_insert(tx, dst_dir, n2, strlen(n2), src.id);
		if (r == 0)
			r = rfs_dir_remove(tx, d1, n1, strlen(n1));
		if (r == 0)
			r = settle_dropped(tx, &dropped);
		idmap_free(&dropped);
		return r;
	}
	if (r)
		return r;
	if (flags & RFS_RENAME_EXCHANGE) {
		/* Swap the ids the two names point at. */
		r = rfs_dir_remove(tx, d1, n1, strlen(n1));
		if (r == 0)
			r = rfs_dir_insert(tx, d1, n1, strlen(n1), dst.id);
		if (r == 0)
			r = rfs_dir_remove(tx, dst_dir, n2, strlen(n2));
		if (r == 0)
			r = rfs_dir_insert(tx, dst_dir, n2, strlen(n2), src.id);
		return r;
	}
	if (rfs_is_dir(&dst) && !rfs_is_dir(&src))
		return rx_fail(fs->ctx, EISDIR, "%s is a directory", n2);
	if (!rfs_is_dir(&dst) && rfs_is_dir(&src))
		return rx_fail(fs->ctx, ENOTDIR, "%s is not a directory", n2);
	if (rfs_is_dir(&dst) && dst.size != 0)
		return rx_fail(fs->ctx, ENOTEMPTY, "%s is not empty", n2);
	/* Point the existing name at the source, then drop the old node and the old name. */
	r = rfs_dir_remove(tx, dst_dir, n2, strlen(n2));
	if (r == 0)
		r = rfs_dir_insert(tx, dst_dir, n2, strlen(n2), src.id);
	if (r == 0)
		r = rfs_dir_remove(tx, d1, n1, strlen(n1));
	if (r == 0)
		r = rfs_op_drop_link(tx, &dst);
	return r;
}

int rfs_op_rename(struct rfs_tx *tx, const char *from, const char *to, unsigned flags)
{
	struct rfs *fs = tx->fs;
	struct rfs_node d1, d2, src;
	char *n1 = NULL, *n2 = NULL;
	int r = rfs_lookup_parent(fs, from, &d1, &n1);
	if (r == 0)
		r = rfs_lookup_parent(fs, to, &d2, &n2);
	if (r == 0) {
		r = rfs_lookup(fs, from, 0, &src);
		if (rfs_is_damage(r))
			rx_prefix(fs->ctx, "%s", damaged_move);
	}
	if (r == 0 && rfs_is_dir(&src)) {
		/* Without parent pointers, only paths can show a move into itself. */
		char *parent, *name;
		int passes = 0;
		r = rfs_split_path(fs, to, &parent, &name);
		if (r == 0) {
			r = path_passes(fs, parent, src.id, &passes);
			free(parent);
			free(name);
		}
		if (r == 0 && passes)
			r = rx_fail(fs->ctx, EINVAL, "cannot move a directory into itself");
	}
	if (r == 0)
		r = rfs_op_rename_at(tx, &d1, n1, &d2, n2, flags);
	free(n1);
	free(n2);
	return r;
}

int rfs_op_link(struct rfs_tx *tx, const char *existing, const char *path)
{
	struct rfs *fs = tx->fs;
	struct rfs_node n, dir;
	char *name;
	int r = rfs_lookup(fs, existing, 0, &n);
	if (r)
		return r;
	if (rfs_is_dir(&n))
		return rx_fail(fs->ctx, EPERM, "hard links to directories are not allowed");
	r = rfs_lookup_parent(fs, path, &dir, &name);
	if (r)
		return r;
	r = rfs_dir_insert(tx, &dir, name, strlen(name), n.id);
	free(name);
	if (r)
		return r;
	n.links++;
	return rfs_node_put(tx, &n);
}

int rfs_op_symlink(struct rfs_tx *tx, const char *target, const char *path,
		   const struct rfs_owner *own, struct rfs_time t)
{
	struct rfs *fs = tx->fs;
	struct rfs_node dir, n;
	char *name;
	size_t len = strlen(target);
	if (len == 0 || len > RFS_BLOCK)
		return rx_fail(fs->ctx, ENAMETOOLONG, "a symlink target must be 1 to 4096 bytes");
	int r = rfs_lookup_parent(fs, path, &dir, &name);
	if (r)
		return r;
	r = rfs_op_create(tx, &dir, name, RFS_MODE_SYMLINK | 0777, own, t, &n);
	free(name);
	if (r == 0)
		r = rfs_file_write(tx, &n, 0, target, len);
	if (r == 0)
		r = rfs_node_put(tx, &n);
	return r;
}
