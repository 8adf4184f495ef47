/* Copying host files and trees into an image (put -r, mkfs --from). */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

/* nftw has no argument for its callback: the sum being made by host_bytes. */
static uint64_t host_sum;

static int add_host_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	if (S_ISREG(st->st_mode))
		host_sum += (uint64_t)st->st_size;
	return 0;
}

/* Bytes of the regular files at or below a host path (a symlink named is followed, as put does). */
static uint64_t host_bytes(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (!S_ISDIR(st.st_mode))
		return 0;
	host_sum = 0;
	nftw(path, add_host_file, 32, FTW_PHYS);
	return host_sum;
}

static void bar_step(void *arg, uint64_t bytes)
{
	progress_add(arg, bytes);
}

void import_bar_init(struct progress *bar, const char *verb, const char *const *srcs, int nsrc, int quiet)
{
	progress_init(bar, verb, 0, quiet);
	for (int i = 0; bar->enabled && i < nsrc; i++)
		bar->total += host_bytes(srcs[i]);
}

void import_bar_begin(struct progress *bar, struct rfs_tx *tx, const char *verb, const char *const *srcs,
		      int nsrc, int quiet)
{
	import_bar_init(bar, verb, srcs, nsrc, quiet);
	if (!bar->enabled)
		return;
	tx->copied = bar_step;
	tx->copied_arg = bar;
}

static struct rfs_time clamp(const struct import_opts *o, struct timespec ts)
{
	struct rfs_time t = { ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec };
	if (o->have_epoch && t.sec >= o->epoch) {
		t.sec = o->epoch;
		t.nsec = 0;
	}
	return t;
}

/* atime follows mtime: reading the source moves its atime, which must not make a change. */
static void set_times(struct rfs_node *n, const struct import_opts *o, const struct stat *st)
{
	struct rfs_time m = clamp(o, rx_stat_mtime(st));
	n->mtime = n->atime = m.sec;
	n->mtime_nsec = n->atime_nsec = m.nsec;
}

int import_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

ssize_t import_host_names(int dirfd, char **arena, char ***names)
{
	/* A descriptor of our own: reading through dirfd would move its offset. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	size_t used = 0, cap = 4096, n = 0;
	char *a = rx_xmalloc(cap);
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name) + 1;
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			while (used + len > cap)
				a = rx_xrealloc(a, cap *= 2);
			memcpy(a + used, e->d_name, len);
			used += len;
			n++;
		}
		errno = 0;
	}
	int err = errno;
	closedir(d);
	if (err) {
		free(a);
		errno = err;
		return -1;
	}
	char **v = rx_xmalloc((n ? n : 1) * sizeof(*v));
	for (size_t i = 0, off = 0; i < n; i++, off += strlen(a + off) + 1)
		v[i] = a + off;
	qsort(v, n, sizeof(*v), import_names_cmp);
	*arena = a;
	*names = v;
	return (ssize_t)n;
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

/* sync --delete: remove entries of dir that the host listing (sorted) does not have. */
static int delete_missing(struct rfs_tx *tx, struct rfs_node *dir, const char *ipath,
			  char **names, size_t count, struct import_opts *o)
{
	struct rfs_dirent *have;
	size_t n;
	int r = rfs_dir_list(tx->fs, dir, &have, &n);
	for (size_t i = 0; i < n && r == 0; i++) {
		char *key = have[i].name;
		if (bsearch(&key, names, count, sizeof(*names), import_names_cmp))
			continue;
		char *path = rx_path_join(ipath, have[i].name, have[i].len);
		r = rfs_op_remove(tx, path, 1, 1);
		free(path);
		o->changed++;
		if (r == 0)
			r = rfs_node_get(tx->fs, dir->id, dir);
	}
	free(have);
	return r;
}

int import_contents(struct rfs_tx *tx, struct rfs_node *dir, int fd, const char *host_path,
		    struct import_opts *o)
{
	char *arena, **names;
	ssize_t count = import_host_names(fd, &arena, &names);
	int r = 0;
	if (count < 0)
		return rx_fail(tx->fs->ctx, errno, "%s: %s", host_path, strerror(errno));
	if (o->delete && o->ipath)
		r = delete_missing(tx, dir, o->ipath, names, (size_t)count, o);
	uint64_t seen = tx->checkpoints;
	for (ssize_t i = 0; i < count && r == 0; i++) {
		const char *cn = names[i];
		char *cpath = rx_path_join(host_path, cn, strlen(cn));
		const char *saved = o->ipath;
		char *ipath = saved ? rx_path_join(saved, cn, strlen(cn)) : NULL;
		o->ipath = ipath;
		r = import_tree(tx, dir, cn, fd, cn, cpath, o);
		o->ipath = saved;
		free(ipath);
		free(cpath);
		/* Each entry is complete here: the transaction may write its metadata out. */
		if (r == 0)
			r = rfs_tx_checkpoint(tx);
		/* A checkpoint (here or deeper down) sealed pointers our copy of dir lacks: re-read it. */
		if (r == 0 && tx->checkpoints != seen) {
			r = rfs_node_get(tx->fs, dir->id, dir);
			seen = tx->checkpoints;
		}
	}
	free(names);
	free(arena);
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
	struct rfs_time created = o->have_epoch ? (struct rfs_time){ o->epoch, 0 } : clamp(o, rx_stat_ctime(&st));
	int have = existing(tx, dir, name, &n);
	if (have < 0)
		return have;
	if (have == 0 && o->sync && o->ipath &&
	    ((n.mode & RFS_MODE_TYPE) != (S_ISDIR(st.st_mode) ? RFS_MODE_DIR : S_ISLNK(st.st_mode) ?
					 RFS_MODE_SYMLINK : RFS_MODE_FILE))) {
		/* sync: a path that changed type is replaced. */
		int r = rfs_op_remove(tx, o->ipath, 1, 1);
		if (r == 0)
			r = rfs_node_get(tx->fs, dir->id, dir);
		if (r)
			return r;
		have = 1;
	}
	if (have == 1)
		o->changed++;
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
		struct rfs_time m = clamp(o, rx_stat_mtime(&st));
		int same = have == 0 && o->sync && !o->checksum && n.size == (uint64_t)st.st_size &&
			   n.mtime == m.sec && n.mtime_nsec == m.nsec;
		if (have == 1)
			r = rfs_op_create(tx, dir, name, RFS_MODE_FILE | perm, ownp, created, &n);
		if (r == 0 && !same) {
			r = rfs_op_write_fd(tx, &n, fd, NULL);
			o->changed += have == 0;
		} else if (r == 0 && tx->copied) {
			tx->copied(tx->copied_arg, (uint64_t)st.st_size);	/* done: it is up to date */
		}
		if (r && ctx->msg[0] != '/')
			rx_prefix(ctx, "%s", host_path);
		rx_close_file(fd);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4097];
		ssize_t len = readlinkat(host_dirfd, host_name, target, sizeof(target) - 1);
		if (len < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		target[len] = 0;
		if (have == 0) {
			char *cur = NULL;
			if (!rfs_is_symlink(&n))
				return rx_fail(ctx, EEXIST, "%s: exists in the image and is not a symlink", host_path);
			r = rfs_readlink(tx->fs, &n, &cur);
			int same = r == 0 && strcmp(cur, target) == 0;
			free(cur);
			if (r == 0 && same)
				len = 0;	/* unchanged target: keep it */
			else if (r == 0) {
				o->changed++;
				r = rfs_file_truncate(tx, &n, 0);
			}
		} else {
			r = rfs_op_create(tx, dir, name, RFS_MODE_SYMLINK | 0777, ownp, created, &n);
		}
		if (r == 0 && len)
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
