/* Copying host files and trees into an image (put -r, mkfs --from). */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static struct rfs_time clamp(const struct import_opts *o, struct timespec ts)
{
	struct rfs_time t = { ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec };
	if (o->have_epoch && t.sec >= o->epoch) {
		t.sec = o->epoch;
		t.nsec = 0;
	}
	return t;
}

static void set_times(struct rfs_node *n, const struct import_opts *o, const struct stat *st)
{
	struct rfs_time m = clamp(o, st->st_mtim), a = clamp(o, st->st_atim);
	n->mtime = m.sec;
	n->mtime_nsec = m.nsec;
	n->atime = a.sec;
	n->atime_nsec = a.nsec;
}

static int names_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Existing node of that name in dir, if any (0 found, 1 absent, <0 error). */
static int existing(struct rfs_tx *tx, struct rfs_node *dir, const char *name, struct rfs_node *n)
{
	uint32_t id;
	int r = rfs_dir_lookup(tx->fs, dir, name, strlen(name), &id);
	if (r == -ENOENT) {
		rx_clear(tx->fs->ctx);
		return 1;
	}
	return r ? r : rfs_node_get(tx->fs, id, n);
}

int import_contents(struct rfs_tx *tx, struct rfs_node *dir, int fd, const char *host_path,
		    struct import_opts *o)
{
	struct dirent **ents;
	int count = scandirat(fd, ".", &ents, NULL, names_cmp), r = 0;
	if (count < 0)
		return rx_fail(tx->fs->ctx, errno, "%s: %s", host_path, strerror(errno));
	for (int i = 0; i < count; i++) {
		const char *cn = ents[i]->d_name;
		if (r == 0 && strcmp(cn, ".") && strcmp(cn, "..")) {
			char *cpath = rx_path_join(host_path, cn, strlen(cn));
			r = import_tree(tx, dir, cn, fd, cn, cpath, o);
			free(cpath);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int import_tree(struct rfs_tx *tx, struct rfs_node *dir, const char *name, int host_dirfd,
		const char *host_name, const char *host_path, struct import_opts *o)
{
	struct rx_ctx *ctx = tx->fs->ctx;
	struct stat st;
	struct rfs_node n;
	struct rfs_owner own;
	const struct rfs_owner *ownp = o->owner;
	if (fstatat(host_dirfd, host_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
	if (!ownp && o->keep_owner) {
		own.uid = st.st_uid;
		own.gid = st.st_gid;
		ownp = &own;
	}
	const char *why = rfs_name_problem(name, strlen(name));
	if (why || strchr(name, ':'))
		return rx_fail(ctx, EINVAL, "%s: cannot be stored in RedoxFS: %s", host_path,
			       why ? why : "name contains ':'");
	struct rfs_time created = o->have_epoch ? (struct rfs_time){ o->epoch, 0 } : clamp(o, st.st_ctim);
	int have = existing(tx, dir, name, &n);
	if (have < 0)
		return have;
	uint16_t perm = (uint16_t)(st.st_mode & 07777);
	int r = 0;

	if (S_ISDIR(st.st_mode)) {
		if (have == 0 && !rfs_is_dir(&n))
			return rx_fail(ctx, EEXIST, "%s: exists in the image and is not a directory", host_path);
		if (have == 1 && (r = rfs_op_create(tx, dir, name, RFS_MODE_DIR | perm, ownp, created, &n)))
			return r;
		int fd = openat(host_dirfd, host_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		r = import_contents(tx, &n, fd, host_path, o);
		close(fd);
		if (r)
			return r;
		r = rfs_node_get(tx->fs, n.id, &n);	/* children changed it */
	} else if (S_ISREG(st.st_mode)) {
		if (have == 0 && !rfs_is_file(&n))
			return rx_fail(ctx, EEXIST, "%s: exists in the image and is not a file", host_path);
		if (st.st_nlink > 1 && !o->warned_links) {
			warnx_("%s: hard links become separate files (RedoxFS images made this way have none)",
			       host_path);
			o->warned_links = 1;
		}
		int fd = openat(host_dirfd, host_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		if (have == 1)
			r = rfs_op_create(tx, dir, name, RFS_MODE_FILE | perm, ownp, created, &n);
		if (r == 0)
			r = rfs_op_write_fd(tx, &n, fd, NULL);
		if (r && ctx->msg[0] != '/')
			rx_prefix(ctx, "%s", host_path);
		close(fd);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4097];
		ssize_t len = readlinkat(host_dirfd, host_name, target, sizeof(target) - 1);
		if (len < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		if (have == 0) {
			if (!rfs_is_symlink(&n))
				return rx_fail(ctx, EEXIST, "%s: exists in the image and is not a symlink", host_path);
			r = rfs_file_truncate(tx, &n, 0);
		} else {
			r = rfs_op_create(tx, dir, name, RFS_MODE_SYMLINK | 0777, ownp, created, &n);
		}
		if (r == 0)
			r = rfs_file_write(tx, &n, 0, target, (size_t)len);
		perm = 0777;
	} else {
		warnx_("%s: skipped (RedoxFS stores only files, directories and symlinks)", host_path);
		return 0;
	}
	if (r)
		return r;
	n.mode = (uint16_t)((n.mode & RFS_MODE_TYPE) | perm);
	if (ownp) {
		n.uid = ownp->uid;
		n.gid = ownp->gid;
	}
	set_times(&n, o, &st);
	return rfs_node_put(tx, &n);
}
