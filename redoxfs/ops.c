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
	if (r)
		free(*name);
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

/* Drop one name of a node; the node goes when its last name does. */
static int unlink_node(struct rfs_tx *tx, struct rfs_node *dir, const char *name, struct rfs_node *n)
{
	int r = rfs_dir_remove(tx, dir, name, strlen(name));
	if (r)
		return r;
	if (n->links > 1) {
		n->links--;
		return rfs_node_put(tx, n);
	}
	return rfs_node_destroy(tx, n);
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
	size_t cap = (size_t)RFS_BLOCK << RFS_RECORD_LEVEL;
	uint8_t *buf = rx_xmalloc(cap);
	uint64_t off = 0;
	int r = 0;
	for (;;) {
		size_t have = 0;
		while (have < cap) {
			ssize_t got = read(fd, buf + have, cap - have);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				r = rx_fail(tx->fs->ctx, errno, "read: %s", strerror(errno));
				break;
			}
			if (got == 0)
				break;
			have += (size_t)got;
		}
		if (r || have == 0)
			break;
		/* A whole zero record over a hole stays a hole: sparse sources stay sparse. */
		struct rfs_ptr cur = { 0, 0 };
		int hole = have == cap && !rfs_is_inline(n) && rx_is_zero(buf, have);
		if (hole && off < n->size)
			r = rfs_record_ptr(tx->fs, n, off / cap, &cur);
		if (r == 0 && (!hole || !rfs_ptr_is_null(cur)))
			r = rfs_file_write(tx, n, off, buf, have);
		if (r)
			break;
		off += have;
		if (have < cap)
			break;
	}
	free(buf);
	if (r == 0)
		r = rfs_file_truncate(tx, n, off);
	if (r == 0 && total)
		*total = off;
	return r;
}
