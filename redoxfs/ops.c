/* Path-level operations shared by every front-end (CLI verbs, shell, FUSE). */
#include <stdlib.h>
#include <unistd.h>

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

/* Drop one name of a node; the node goes when its last name does. */
static int unlink_node(struct rfs_tx *tx, struct rfs_node *dir, const char *name, struct rfs_node *n)
{
	int r = rfs_dir_remove(tx, dir, name, strlen(name));
	return r ? r : rfs_op_drop_link(tx, n);
}

int rfs_op_unlink_at(struct rfs_tx *tx, struct rfs_node *dir, const char *name, int want_dir)
{
	struct rfs_node n;
	uint32_t id;
	int r = rfs_dir_lookup(tx->fs, dir, name, strlen(name), &id);
	if (r == 0)
		r = rfs_node_get(tx->fs, id, &n);
	if (r)
		return r;
	if (want_dir && !rfs_is_dir(&n))
		return rx_fail(tx->fs->ctx, ENOTDIR, "not a directory");
	if (!want_dir && rfs_is_dir(&n))
		return rx_fail(tx->fs->ctx, EISDIR, "is a directory");
	if (want_dir && n.size != 0)
		return rx_fail(tx->fs->ctx, ENOTEMPTY, "directory not empty");
	return unlink_node(tx, dir, name, &n);
}

static int remove_tree(struct rfs_tx *tx, struct rfs_node *dir, const char *name, struct rfs_node *n,
		       unsigned depth)
{
	if (rfs_is_dir(n)) {
		if (depth > 4096)
			return rx_fail(tx->fs->ctx, ELOOP, "directories nest too deeply (a loop?)");
		struct rfs_dirent *ents;
		size_t count;
		int r = rfs_dir_list(tx->fs, n, &ents, &count);
		for (size_t i = 0; i < count && r == 0; i++) {
			struct rfs_node child;
			r = rfs_node_get(tx->fs, ents[i].id, &child);
			if (r == 0)
				r = remove_tree(tx, n, ents[i].name, &child, depth + 1);
			if (r == 0)	/* n changed on disk: reload it */
				r = rfs_node_get(tx->fs, n->id, n);
		}
		free(ents);
		if (r)
			return r;
	}
	return unlink_node(tx, dir, name, n);
}

int rfs_op_remove(struct rfs_tx *tx, const char *path, int recursive, int dir_ok)
{
	struct rfs *fs = tx->fs;
	struct rfs_node dir, n;
	char *name;
	uint32_t id;
	int r = rfs_lookup_parent(fs, path, &dir, &name);
	if (r)
		return r;
	r = rfs_dir_lookup(fs, &dir, name, strlen(name), &id);
	if (r == 0)
		r = rfs_node_get(fs, id, &n);
	if (r == 0 && rfs_is_dir(&n)) {
		if (n.id == RFS_ROOT_ID)
			r = rx_fail(fs->ctx, EBUSY, "cannot remove the root directory");
		else if (recursive)
			r = remove_tree(tx, &dir, name, &n, 0);
		else if (!dir_ok)
			r = rx_fail(fs->ctx, EISDIR, "is a directory (use -r)");
		else if (n.size != 0)
			r = rx_fail(fs->ctx, ENOTEMPTY, "directory not empty");
		else
			r = unlink_node(tx, &dir, name, &n);
	} else if (r == 0) {
		r = unlink_node(tx, &dir, name, &n);
	}
	free(name);
	return r;
}

int rfs_op_write_fd(struct rfs_tx *tx, struct rfs_node *n, int fd, uint64_t *total)
{
	const size_t rec = (size_t)RFS_BLOCK << RFS_RECORD_LEVEL;
	const size_t cap = 16 * rec;	/* 2 MiB at a time: whole records to compress in parallel */
	if (!tx->iobuf)
		tx->iobuf = rx_xmalloc(cap);	/* kept for the transaction's next file */
	uint8_t *buf = tx->iobuf;
	uint64_t off = 0;
	int r = 0, eof = 0;
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
	if (r == 0)
		r = rfs_node_get(fs, id, &src);
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
	r = rfs_node_get(fs, did, &dst);
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
	if (r == 0)
		r = rfs_lookup(fs, from, 0, &src);
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
