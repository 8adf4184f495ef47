/* RedoxFS behind the vfs: reads through the rfs read path, writes into the open transaction. */
#include <stdlib.h>

#include "ops.h"
#include "resolve.h"
#include "tx.h"

struct rfs_vfs {
	struct rfs *fs;
	struct rfs_tx *tx;
};

static struct rfs *fs_of(struct vfs *v)
{
	return ((struct rfs_vfs *)v->priv)->fs;
}

static struct rfs_tx *tx_of(struct vfs *v)
{
	return ((struct rfs_vfs *)v->priv)->tx;
}

static void attr_of(const struct rfs_node *n, struct vfs_attr *a)
{
	a->ino = n->id;
	a->mode = n->mode;
	a->uid = n->uid;
	a->gid = n->gid;
	a->nlink = n->links;
	a->size = n->size;
	a->atime = (struct vfs_time){ n->atime, n->atime_nsec };
	a->mtime = (struct vfs_time){ n->mtime, n->mtime_nsec };
	a->ctime = (struct vfs_time){ n->ctime, n->ctime_nsec };
}

static struct rfs_time now_of(struct vfs *v)
{
	struct vfs_time t = v->now();
	return (struct rfs_time){ t.sec, t.nsec };
}

static int r_stat(struct vfs *v, const char *path, int follow, struct vfs_attr *out)
{
	struct rfs_node n;
	int r = rfs_lookup(fs_of(v), path, follow, &n);
	if (r == 0)
		attr_of(&n, out);
	return r;
}

static int r_readdir(struct vfs *v, const char *path, int sorted, vfs_dirent_cb cb, void *arg)
{
	struct rfs *fs = fs_of(v);
	struct rfs_node d;
	struct rfs_dirent *ents = NULL;
	size_t count = 0;
	int r = rfs_lookup(fs, path, 1, &d);
	if (r == 0 && !rfs_is_dir(&d))
		r = rx_fail(fs->ctx, ENOTDIR, "not a directory");
	if (r == 0)
		r = rfs_dir_list(fs, &d, &ents, &count);
	if (r == 0 && sorted)
		r = rfs_dirents_sort(fs, ents, count);
	if (r == 0)
		rfs_prefetch_entries(fs, ents, count,
				     RFS_PREFETCH_NODES | (v->reads_contents ? RFS_PREFETCH_CONTENTS : 0));
	for (size_t i = 0; i < count && r == 0; i++) {
		struct rfs_node n;
		struct vfs_attr a;
		if (rfs_node_of_entry(fs, ents[i].id, &n) == 0) {
			attr_of(&n, &a);
			r = cb(arg, ents[i].name, ents[i].len, &a);
		} else {
			r = cb(arg, ents[i].name, ents[i].len, NULL);
		}
	}
	free(ents);
	return r;
}

static int r_read(struct vfs *v, const char *path, vfs_data_cb cb, void *arg)
{
	struct rfs *fs = fs_of(v);
	struct rfs_node n;
	int r = rfs_lookup(fs, path, 1, &n);
	if (r == 0 && rfs_is_dir(&n))
		r = rx_fail(fs->ctx, EISDIR, "is a directory");
	return r ? r : rfs_read_stream(fs, &n, cb, arg);
}

static int r_readlink(struct vfs *v, const char *path, char **target)
{
	struct rfs *fs = fs_of(v);
	struct rfs_node n;
	int r = rfs_lookup(fs, path, 0, &n);
	if (r == 0 && !rfs_is_symlink(&n))
		r = rx_fail(fs->ctx, EINVAL, "not a symbolic link");
	return r ? r : rfs_readlink(fs, &n, target);
}

/* Replace (or create) the file at path; a damaged old file is dropped unread, never read. */
static int r_write_fd(struct vfs *v, const char *path, int fd, uint16_t mode_if_new)
{
	struct rfs *fs = fs_of(v);
	struct rfs_tx *tx = tx_of(v);
	struct rfs_node n, dir;
	char *name = NULL;
	int r = rfs_lookup(fs, path, 1, &n);
	if (r == 0 && !rfs_is_file(&n))
		r = rx_fail(fs->ctx, rfs_is_dir(&n) ? EISDIR : EINVAL, "not a regular file");
	if (r == 0)
		r = rfs_op_write_fd(tx, &n, fd, NULL);
	if (r == -ENOENT || rfs_is_damage(r)) {
		int damaged = r != -ENOENT;
		if (!damaged)
			rx_clear(fs->ctx);
		r = rfs_lookup_parent(fs, path, &dir, &name);
		if (r == 0 && damaged)
			r = rfs_op_drop_damaged(tx, &dir, name, path);
		if (r == 0)
			r = rfs_op_create(tx, &dir, name, (uint16_t)(RFS_MODE_FILE | (mode_if_new & 07777)), NULL,
					  now_of(v), &n);
		if (r == 0)
			r = rfs_op_write_fd(tx, &n, fd, NULL);
		free(name);
	}
	if (r == 0) {
		struct rfs_time t = now_of(v);
		n.mtime = t.sec;
		n.mtime_nsec = t.nsec;
		r = rfs_node_put(tx, &n);
	}
	return r;
}

static int r_mkdir(struct vfs *v, const char *path, uint16_t mode, int parents)
{
	return rfs_op_mkdir(tx_of(v), path, mode & 07777, parents, NULL, now_of(v));
}

static int r_remove(struct vfs *v, const char *path, int recursive, int dir_ok)
{
	return rfs_op_remove(tx_of(v), path, recursive, dir_ok);
}

static int r_rename(struct vfs *v, const char *from, const char *to, unsigned flags)
{
	return rfs_op_rename(tx_of(v), from, to, flags);
}

static int r_symlink(struct vfs *v, const char *target, const char *path)
{
	return rfs_op_symlink(tx_of(v), target, path, NULL, now_of(v));
}

static int r_link(struct vfs *v, const char *existing, const char *path)
{
	return rfs_op_link(tx_of(v), existing, path);
}

static int r_setattr(struct vfs *v, const char *path, unsigned what, const struct vfs_attr *a, int nofollow)
{
	struct rfs_node n;
	int r = rfs_lookup(fs_of(v), path, !nofollow, &n);
	if (r)
		return r;
	if (what & VFS_SET_MODE)
		n.mode = (uint16_t)((n.mode & RFS_MODE_TYPE) | (a->mode & 07777));
	if (what & VFS_SET_UID)
		n.uid = a->uid;
	if (what & VFS_SET_GID)
		n.gid = a->gid;
	if (what & VFS_SET_ATIME) {
		n.atime = a->atime.sec;
		n.atime_nsec = a->atime.nsec;
	}
	if (what & VFS_SET_MTIME) {
		n.mtime = a->mtime.sec;
		n.mtime_nsec = a->mtime.nsec;
	}
	return rfs_node_put(tx_of(v), &n);
}

static int r_truncate(struct vfs *v, const char *path, uint64_t size)
{
	struct rfs *fs = fs_of(v);
	struct rfs_node n;
	int r = rfs_lookup(fs, path, 1, &n);
	if (r == 0 && !rfs_is_file(&n))
		r = rx_fail(fs->ctx, EINVAL, "not a regular file");
	if (r || n.size == size)
		return r;
	r = rfs_file_truncate(tx_of(v), &n, size);
	if (r == 0) {
		struct rfs_time t = now_of(v);
		n.mtime = t.sec;
		n.mtime_nsec = t.nsec;
		r = rfs_node_put(tx_of(v), &n);
	}
	return r;
}

static const struct vfs_ops rfs_vfs_ops = {
	.stat = r_stat, .readdir = r_readdir, .read = r_read, .readlink = r_readlink,
	.write_fd = r_write_fd, .mkdir = r_mkdir, .remove = r_remove, .rename = r_rename,
	.symlink = r_symlink, .link = r_link, .setattr = r_setattr, .truncate = r_truncate,
};

void vfs_rfs_init(struct vfs *v, struct rfs *fs, struct rfs_tx *tx, struct vfs_time (*now)(void))
{
	struct rfs_vfs *p = rx_xcalloc(1, sizeof(*p));
	p->fs = fs;
	p->tx = tx;
	memset(v, 0, sizeof(*v));
	v->ops = &rfs_vfs_ops;
	v->ctx = fs->ctx;
	v->kind = "RedoxFS";
	v->has = VFS_HAS_OWNER | VFS_HAS_TIMES | VFS_HAS_LINKS | VFS_HAS_HARDLINKS | VFS_HAS_MODES | VFS_HAS_PERMS;
	v->writable = tx != NULL;
	v->now = now;
	v->priv = p;
}
