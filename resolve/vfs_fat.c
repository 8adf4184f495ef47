/*
 * The EFI system partition (FAT) behind the vfs. FAT has no transactions: each
 * change lands when it is made, in the crash-safe order disk/fat/fat.h
 * describes (a kill leaves every file old or new; at worst lost clusters for
 * fsck.fat). What FAT cannot hold (owners, permission bits, links) is refused
 * by name.
 */
#include <stdlib.h>
#include <unistd.h>

#include "fat.h"
#include "resolve.h"

static struct fat_fs *fs_of(struct vfs *v)
{
	return v->priv;
}

static void attr_of(const struct fat_node *n, struct vfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = n->is_root ? 1 : ((uint64_t)n->dir_cluster << 32 | n->slot) + 2;
	a->mode = (uint16_t)(fat_is_dir(n) ? VFS_DIR | 0755 : VFS_FILE | ((n->attr & FAT_ATTR_RDONLY) ? 0444 : 0644));
	a->nlink = 1;
	a->size = fat_is_dir(n) ? 0 : n->size;
	a->mtime.sec = n->mtime > 0 ? (uint64_t)n->mtime : 0;
	a->ctime.sec = n->ctime > 0 ? (uint64_t)n->ctime : 0;
	a->atime.sec = n->atime > 0 ? (uint64_t)n->atime : 0;
}

static int f_stat(struct vfs *v, const char *path, int follow, struct vfs_attr *out)
{
	struct fat_node n;
	(void)follow;	/* FAT has no symbolic links */
	int r = fat_lookup(fs_of(v), path, &n);
	if (r == 0)
		attr_of(&n, out);
	return r;
}

struct fat_ent {
	char *name;
	struct vfs_attr a;
};

struct fat_list {
	struct fat_ent *v;
	size_t n;
};

static int gather(void *arg, const struct fat_node *node)
{
	struct fat_list *l = arg;
	l->v = rx_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].name = rx_xstrdup(node->name);
	attr_of(node, &l->v[l->n].a);
	l->n++;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct fat_ent *)a)->name, ((const struct fat_ent *)b)->name);
}

static int f_readdir(struct vfs *v, const char *path, int sorted, vfs_dirent_cb cb, void *arg)
{
	struct fat_node d;
	struct fat_list l = { NULL, 0 };
	int r = fat_lookup(fs_of(v), path, &d);
	if (r == 0 && !fat_is_dir(&d))
		r = rx_fail(v->ctx, ENOTDIR, "not a directory");
	if (r == 0)
		r = fat_readdir(fs_of(v), &d, gather, &l);
	if (r == 0 && sorted)
		qsort(l.v, l.n, sizeof(*l.v), cmp_ent);
	for (size_t i = 0; i < l.n; i++) {
		if (r == 0)
			r = cb(arg, l.v[i].name, strlen(l.v[i].name), &l.v[i].a);
		free(l.v[i].name);
	}
	free(l.v);
	return r;
}

static int f_read(struct vfs *v, const char *path, vfs_data_cb cb, void *arg)
{
	struct fat_node n;
	int r = fat_lookup(fs_of(v), path, &n);
	if (r == 0 && fat_is_dir(&n))
		r = rx_fail(v->ctx, EISDIR, "is a directory");
	if (r)
		return r;
	size_t cap = 1 << 20;
	uint8_t *buf = rx_xmalloc(cap);
	for (uint64_t off = 0; r == 0 && off < n.size;) {
		ssize_t got = fat_read(fs_of(v), &n, buf, (size_t)RX_MIN((uint64_t)cap, n.size - off), off);
		if (got <= 0) {
			r = got < 0 ? (int)got : rx_fail(v->ctx, EIO, "the file ends early");
			break;
		}
		r = cb(arg, off, buf, (size_t)got);
		off += (uint64_t)got;
	}
	free(buf);
	return r;
}

struct fd_source {
	int fd;
};

static ssize_t from_fd(void *arg, void *buf, size_t len)
{
	struct fd_source *s = arg;
	for (;;) {
		ssize_t n = read(s->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

static int f_write_fd(struct vfs *v, const char *path, int fd, uint16_t mode_if_new)
{
	struct fd_source s = { fd };
	(void)mode_if_new;
	struct vfs_time t = v->now();
	fat_set_time(fs_of(v), (int64_t)t.sec);
	return fat_write_file(fs_of(v), path, from_fd, &s);
}

static int f_mkdir(struct vfs *v, const char *path, uint16_t mode, int parents)
{
	(void)mode;
	struct vfs_time t = v->now();
	fat_set_time(fs_of(v), (int64_t)t.sec);
	if (!parents)
		return fat_mkdir(fs_of(v), path);
	/* Each missing component in turn. */
	char *p = rx_xstrdup(path);
	int r = 0;
	for (char *c = p + 1;; c++) {
		if (*c != '/' && *c != 0)
			continue;
		char save = *c;
		*c = 0;
		struct fat_node n;
		if (*p && fat_lookup(fs_of(v), p, &n) != 0) {
			rx_clear(v->ctx);
			r = fat_mkdir(fs_of(v), p);
		} else if (*p && !fat_is_dir(&n)) {
			r = rx_fail(v->ctx, ENOTDIR, "%s: not a directory", p);
		}
		*c = save;
		if (r || !save)
			break;
	}
	free(p);
	return r;
}

static int f_remove(struct vfs *v, const char *path, int recursive, int dir_ok)
{
	struct fat_node n;
	int r = fat_lookup(fs_of(v), path, &n);
	if (r)
		return r;
	if (n.is_root)
		return rx_fail(v->ctx, EINVAL, "the root cannot be removed");
	if (fat_is_dir(&n) && recursive) {
		struct fat_list l = { NULL, 0 };
		r = fat_readdir(fs_of(v), &n, gather, &l);
		for (size_t i = 0; i < l.n; i++) {
			if (r == 0) {
				char *child = rx_path_join(path, l.v[i].name, strlen(l.v[i].name));
				r = f_remove(v, child, 1, 1);
				free(child);
			}
			free(l.v[i].name);
		}
		free(l.v);
		if (r)
			return r;
	} else if (fat_is_dir(&n) && !dir_ok) {
		return rx_fail(v->ctx, EISDIR, "is a directory");
	}
	return fat_unlink(fs_of(v), path);
}

static int f_rename(struct vfs *v, const char *from, const char *to, unsigned flags)
{
	struct fat_node n;
	if (flags & VFS_EXCHANGE)
		return rx_fail(v->ctx, ENOTSUP, "exchanging two names: not possible in FAT");
	if (fat_lookup(fs_of(v), to, &n) == 0) {
		if (flags & VFS_NOREPLACE)
			return rx_fail(v->ctx, EEXIST, "%s: already exists", to);
		/* FAT renames only to a free name: the old target goes first (not atomic). */
		int r = fat_is_dir(&n) ? rx_fail(v->ctx, EISDIR, "%s: is a directory", to) : fat_unlink(fs_of(v), to);
		if (r)
			return r;
	}
	rx_clear(v->ctx);
	return fat_rename(fs_of(v), from, to);
}

struct trunc_source {
	struct vfs *v;
	struct fat_node n;
	uint64_t off, size;
};

static ssize_t from_file(void *arg, void *buf, size_t len)
{
	struct trunc_source *s = arg;
	if (s->off >= s->size)
		return 0;
	len = (size_t)RX_MIN((uint64_t)len, s->size - s->off);
	ssize_t got = 0;
	if (s->off < s->n.size)
		got = fat_read(fs_of(s->v), &s->n, buf, (size_t)RX_MIN((uint64_t)len, s->n.size - s->off), s->off);
	if (got < 0)
		return got;
	memset((uint8_t *)buf + got, 0, len - (size_t)got);
	s->off += len;
	return (ssize_t)len;
}

static int f_truncate(struct vfs *v, const char *path, uint64_t size)
{
	struct trunc_source s;
	memset(&s, 0, sizeof(s));
	s.v = v;
	s.size = size;
	int r = fat_lookup(fs_of(v), path, &s.n);
	if (r == 0 && fat_is_dir(&s.n))
		r = rx_fail(v->ctx, EINVAL, "not a regular file");
	if (r == 0 && size > UINT32_MAX)
		r = rx_fail(v->ctx, EFBIG, "a FAT file is smaller than 4 GiB");
	if (r || size == s.n.size)
		return r;
	/* The new contents are written in full to new clusters, then swapped in (crash-safe). */
	return fat_write_file(fs_of(v), path, from_file, &s);
}

static const struct vfs_ops fat_vfs_ops = {
	.stat = f_stat, .readdir = f_readdir, .read = f_read,
	.write_fd = f_write_fd, .mkdir = f_mkdir, .remove = f_remove, .rename = f_rename,
	.truncate = f_truncate,
};

void vfs_fat_init(struct vfs *v, struct rx_ctx *ctx, struct fat_fs *fs, int writable, struct vfs_time (*now)(void))
{
	memset(v, 0, sizeof(*v));
	v->ops = &fat_vfs_ops;
	v->ctx = ctx;
	v->kind = "FAT";
	v->has = VFS_HAS_MTIME;	/* read; setting FAT times is not supported */
	v->writable = writable;
	v->now = now;
	v->priv = fs;
}
