/* The calls every front-end makes: checks shared by all formats, then the format's own code. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vfs.h"

static int unsupported(struct vfs *v, const char *what)
{
	return rx_fail(v->ctx, ENOTSUP, "%s: not possible in %s", what, v->kind);
}

static int check_write(struct vfs *v, const void *op, const char *what)
{
	if (!v->writable)
		return rx_fail(v->ctx, EROFS, "opened read-only");
	if (!op)
		return unsupported(v, what);
	v->dirty = 1;
	return 0;
}

int vfs_stat(struct vfs *v, const char *path, int follow, struct vfs_attr *out)
{
	return v->ops->stat(v, path, follow, out);
}

int vfs_readdir(struct vfs *v, const char *path, int sorted, vfs_dirent_cb cb, void *arg)
{
	return v->ops->readdir(v, path, sorted, cb, arg);
}

int vfs_read(struct vfs *v, const char *path, vfs_data_cb cb, void *arg)
{
	return v->ops->read(v, path, cb, arg);
}

static const uint8_t zeros[65536];

int vfs_seq_end(struct vfs_seq *s, uint64_t upto)
{
	while (s->pos < upto) {
		size_t n = (size_t)RX_MIN(upto - s->pos, (uint64_t)sizeof(zeros));
		int r = s->put(s->arg, zeros, n);
		if (r)
			return r;
		s->pos += n;
	}
	return 0;
}

int vfs_seq_data(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	struct vfs_seq *s = arg;
	int r = vfs_seq_end(s, off);
	if (r == 0)
		r = s->put(s->arg, buf, len);
	s->pos = off + len;
	return r;
}

int vfs_read_seq(struct vfs *v, const char *path, int (*put)(void *, const uint8_t *, size_t), void *arg)
{
	struct vfs_attr a;
	int r = vfs_stat(v, path, 1, &a);
	if (r == 0 && vfs_is_dir(&a))
		r = rx_fail(v->ctx, EISDIR, "is a directory");
	struct vfs_seq s = { 0, put, arg };
	if (r == 0)
		r = vfs_read(v, path, vfs_seq_data, &s);
	return r ? r : vfs_seq_end(&s, a.size);
}

int vfs_readlink(struct vfs *v, const char *path, char **target)
{
	if (!v->ops->readlink)
		return rx_fail(v->ctx, EINVAL, "not a symbolic link");
	return v->ops->readlink(v, path, target);
}

const char *vfs_name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "an empty name";
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return len == 1 ? "the name '.'" : "the name '..'";
	if (memchr(name, '/', len))
		return "a name with '/' in it";
	if (memchr(name, 0, len))
		return "a name with a NUL byte in it";
	return NULL;
}

int vfs_write_fd(struct vfs *v, const char *path, int fd, uint16_t mode_if_new)
{
	int r = check_write(v, v->ops->write_fd, "writing a file");
	return r ? r : v->ops->write_fd(v, path, fd, mode_if_new);
}

int vfs_write_buf(struct vfs *v, const char *path, const void *buf, size_t len, uint16_t mode_if_new)
{
	const char *dir = getenv("TMPDIR");
	char *name = rx_xasprintf("%s/rximg-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(name);
	if (fd < 0) {
		int r = rx_fail(v->ctx, errno, "%s: %s", name, strerror(errno));
		free(name);
		return r;
	}
	unlink(name);
	int r = 0;
	for (size_t done = 0; done < len && r == 0;) {
		ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = rx_fail(v->ctx, errno, "%s: %s", name, strerror(errno));
		else
			done += (size_t)n;
	}
	if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
		r = rx_fail(v->ctx, errno, "%s: %s", name, strerror(errno));
	if (r == 0)
		r = vfs_write_fd(v, path, fd, mode_if_new);
	close(fd);
	free(name);
	return r;
}

int vfs_mkdir(struct vfs *v, const char *path, uint16_t mode, int parents)
{
	int r = check_write(v, v->ops->mkdir, "making a directory");
	return r ? r : v->ops->mkdir(v, path, mode, parents);
}

int vfs_remove(struct vfs *v, const char *path, int recursive, int dir_ok)
{
	int r = check_write(v, v->ops->remove, "removing");
	return r ? r : v->ops->remove(v, path, recursive, dir_ok);
}

int vfs_rename(struct vfs *v, const char *from, const char *to, unsigned flags)
{
	int r = check_write(v, v->ops->rename, "renaming");
	return r ? r : v->ops->rename(v, from, to, flags);
}

int vfs_symlink(struct vfs *v, const char *target, const char *path)
{
	int r = check_write(v, (v->has & VFS_HAS_LINKS) ? v->ops->symlink : NULL, "a symbolic link");
	return r ? r : v->ops->symlink(v, target, path);
}

int vfs_link(struct vfs *v, const char *existing, const char *path)
{
	int r = check_write(v, (v->has & VFS_HAS_HARDLINKS) ? v->ops->link : NULL, "a hard link");
	return r ? r : v->ops->link(v, existing, path);
}

int vfs_setattr(struct vfs *v, const char *path, unsigned what, const struct vfs_attr *a, int nofollow)
{
	if ((what & (VFS_SET_UID | VFS_SET_GID)) && !(v->has & VFS_HAS_OWNER))
		return unsupported(v, "an owner");
	if ((what & (VFS_SET_ATIME | VFS_SET_MTIME)) && !(v->has & VFS_HAS_TIMES))
		return unsupported(v, "a file time");
	int r = check_write(v, v->ops->setattr, "changing attributes");
	return r ? r : v->ops->setattr(v, path, what, a, nofollow);
}

int vfs_truncate(struct vfs *v, const char *path, uint64_t size)
{
	int r = check_write(v, v->ops->truncate, "truncating");
	return r ? r : v->ops->truncate(v, path, size);
}
