/*
 * rximg cp: copy between the host and images, between two images, or inside
 * one, any side at any depth (IMAGE:/boot/initfs:/etc/init.rc). Everything
 * written into the destination image lands in one commit, or nothing does.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* One side of a copy: a host path, or a path in a filesystem the resolver opened. */
struct end {
	const char *arg;
	struct vfs *v;		/* NULL: the host */
	const char *path;	/* inside v, or the host path */
	const char *label;	/* messages: the image level, or NULL for the host */
};

struct cp {
	int recursive, archive, no_clobber, force;
	mode_t umask;
	struct place dst;	/* the destination image, when it is one */
	struct rx_ctx hctx;	/* host-side failures */
	struct rx_ctx *err;	/* where the failure being reported was recorded */
	const char *err_label;
	char *err_path;
};

static int fail_at(struct cp *c, struct rx_ctx *ctx, const char *label, const char *path)
{
	c->err = ctx;
	c->err_label = label;
	free(c->err_path);
	c->err_path = path ? rx_xstrdup(path) : NULL;
	return -1;
}

/* A name from an image that would escape a host directory is never written. */
static int bad_name(const char *name)
{
	return !*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/');
}

static const char *base_name(const char *path)
{
	const char *end = path + strlen(path);
	while (end > path + 1 && end[-1] == '/')
		end--;
	const char *b = end;
	while (b > path && b[-1] != '/')
		b--;
	return b;
}

static char *base_dup(const char *path)
{
	const char *b = base_name(path);
	size_t len = strlen(b);
	while (len > 1 && b[len - 1] == '/')
		len--;
	char *s = strndup(b, len);
	if (!s)
		abort();
	return s;
}

/* ---- reading the source ---- */

static int end_stat(struct cp *c, const struct end *e, const char *path, int follow, struct vfs_attr *a)
{
	if (e->v)
		return vfs_stat(e->v, path, follow, a);
	struct stat st;
	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
		return rx_fail(&c->hctx, errno, "%s", strerror(errno));
	memset(a, 0, sizeof(*a));
	a->ino = (uint64_t)st.st_ino;
	a->mode = (uint16_t)((S_ISDIR(st.st_mode) ? VFS_DIR : S_ISLNK(st.st_mode) ? VFS_LINK :
			      S_ISREG(st.st_mode) ? VFS_FILE : 0) | (st.st_mode & 07777));
	a->uid = st.st_uid;
	a->gid = st.st_gid;
	a->nlink = (uint32_t)st.st_nlink;
	a->size = (uint64_t)st.st_size;
	struct timespec m = rx_stat_mtime(&st), at = rx_stat_atime(&st);
	a->mtime = (struct vfs_time){ (uint64_t)m.tv_sec, (uint32_t)m.tv_nsec };
	a->atime = (struct vfs_time){ (uint64_t)at.tv_sec, (uint32_t)at.tv_nsec };
	a->ctime = a->mtime;
	if (!(a->mode & VFS_TYPE))
		return rx_fail(&c->hctx, EINVAL, "not a regular file, directory or symbolic link");
	return 0;
}

static struct rx_ctx *end_ctx(struct cp *c, const struct end *e)
{
	return e->v ? e->v->ctx : &c->hctx;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_names(struct cp *c, const struct end *e, const char *path, struct name_list *ns)
{
	memset(ns, 0, sizeof(*ns));
	if (e->v)
		return vfs_readdir(e->v, path, 1, name_list_add, ns);
	DIR *d = opendir(path);
	if (!d)
		return rx_fail(&c->hctx, errno, "%s", strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			name_list_add(ns, de->d_name, strlen(de->d_name), NULL);
	closedir(d);
	qsort(ns->v, ns->n, sizeof(*ns->v), cmp_str);
	return 0;
}

static int read_link(struct cp *c, const struct end *e, const char *path, char **target)
{
	if (e->v)
		return vfs_readlink(e->v, path, target);
	size_t cap = 256;
	for (;;) {
		char *buf = rx_xmalloc(cap);
		ssize_t n = readlink(path, buf, cap);
		if (n < 0) {
			free(buf);
			return rx_fail(&c->hctx, errno, "%s", strerror(errno));
		}
		if ((size_t)n < cap) {
			buf[n] = 0;
			*target = buf;
			return 0;
		}
		free(buf);
		cap *= 2;
	}
}

struct fd_at {
	int fd;
	struct rx_ctx *ctx;
};

static int put_at(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	struct fd_at *o = arg;
	while (len) {
		ssize_t n = pwrite(o->fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(o->ctx, errno, "write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The source file's bytes in a descriptor to read from the start: the host file, or an unlinked copy. */
static int source_fd(struct cp *c, const struct end *src, const char *path, const struct vfs_attr *a)
{
	if (!src->v) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rx_fail(&c->hctx, errno, "%s", strerror(errno));
		return fd;
	}
	const char *dir = getenv("TMPDIR");
	char *name = rx_xasprintf("%s/rximg-cp-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(name);
	if (fd < 0) {
		rx_fail(src->v->ctx, errno, "%s: %s", name, strerror(errno));
		free(name);
		return -1;
	}
	unlink(name);
	free(name);
	struct fd_at o = { fd, src->v->ctx };
	int r = vfs_read(src->v, path, put_at, &o);
	if (r == 0 && ftruncate(fd, (off_t)a->size) != 0)
		r = rx_fail(src->v->ctx, errno, "%s", strerror(errno));
	if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
		r = rx_fail(src->v->ctx, errno, "%s", strerror(errno));
	if (r) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- writing the destination ---- */

static uint16_t new_mode(const struct cp *c, const struct vfs_attr *a)
{
	return (uint16_t)(a->mode & (c->archive ? 07777 : 0777 & ~c->umask));
}

/* What -a keeps: the permission bits, the owner and the times, as far as the destination holds them. */
static int keep_attrs(struct cp *c, const struct end *src, const struct end *dst, const char *path,
		      const struct vfs_attr *a)
{
	/* Only what the source really stores is carried over (an initfs has no owners or times). */
	unsigned src_has = src->v ? src->v->has : ~0u;
	if (!dst->v) {
		struct timespec ts[2] = { { (time_t)a->atime.sec, (long)a->atime.nsec },
					  { (time_t)a->mtime.sec, (long)a->mtime.nsec } };
		if (c->archive && (src_has & VFS_HAS_OWNER) && geteuid() == 0 && lchown(path, a->uid, a->gid) != 0)
			return rx_fail(&c->hctx, errno, "cannot set owner: %s", strerror(errno));
		if (!vfs_is_link(a) && chmod(path, new_mode(c, a)) != 0)
			return rx_fail(&c->hctx, errno, "cannot set mode: %s", strerror(errno));
		if (c->archive && (src_has & VFS_HAS_TIMES) && utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
			return rx_fail(&c->hctx, errno, "cannot set times: %s", strerror(errno));
		return 0;
	}
	unsigned what = 0;
	if (!vfs_is_link(a) && (dst->v->has & VFS_HAS_PERMS))
		what |= VFS_SET_MODE;
	if (c->archive && (dst->v->has & src_has & VFS_HAS_OWNER))
		what |= VFS_SET_UID | VFS_SET_GID;
	if (c->archive && (dst->v->has & src_has & VFS_HAS_TIMES))
		what |= VFS_SET_ATIME | VFS_SET_MTIME;
	struct vfs_attr to = *a;
	to.mode = new_mode(c, a);
	return what ? vfs_setattr(dst->v, path, what, &to, 1) : 0;
}

/*
 * Make room for a new entry at path. 1: a directory is already there (merge
 * into it); 2: skip it (-n); 0: free. Never writes through or removes a
 * directory that is in the way of a file.
 */
static int make_room(struct cp *c, const struct end *dst, const char *path, int want_dir)
{
	struct vfs_attr a;
	int r = end_stat(c, dst, path, 0, &a);
	if (r == -ENOENT) {
		rx_clear(end_ctx(c, dst));
		return 0;
	}
	if (r)
		return r;
	if (want_dir && vfs_is_dir(&a))
		return 1;
	if (c->no_clobber)
		return 2;
	if (vfs_is_dir(&a))
		return rx_fail(end_ctx(c, dst), EISDIR, "a directory is in the way");
	if (want_dir)
		return rx_fail(end_ctx(c, dst), EEXIST, "exists and is not a directory");
	/* A file is replaced in place; anything else (a symlink) goes first, as with cp -f. */
	if (vfs_is_file(&a))
		return 0;
	if (!c->force)
		return rx_fail(end_ctx(c, dst), EEXIST, "a symbolic link is in the way (use -f to replace it)");
	if (dst->v)
		return vfs_remove(dst->v, path, 0, 0);
	if (unlink(path) != 0)
		return rx_fail(&c->hctx, errno, "cannot replace: %s", strerror(errno));
	return 0;
}

static int copy_file(struct cp *c, const struct end *src, const char *sp, const struct end *dst,
		     const char *dp, const struct vfs_attr *a)
{
	int room = make_room(c, dst, dp, 0);
	if (room < 0)
		return fail_at(c, end_ctx(c, dst), dst->label, dp);
	if (room == 2)
		return 0;
	if (!dst->v) {
		/* Onto the host: never through a symlink that appeared in the way. */
		int out = open(dp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, new_mode(c, a) | 0200);
		if (out < 0) {
			rx_fail(&c->hctx, errno, "%s", strerror(errno));
			return fail_at(c, &c->hctx, NULL, dp);
		}
		struct fd_at o = { out, src->v->ctx };
		int r = vfs_read(src->v, sp, put_at, &o);
		if (r == 0 && ftruncate(out, (off_t)a->size) != 0)
			r = rx_fail(src->v->ctx, errno, "%s: %s", dp, strerror(errno));
		if (close(out) != 0 && r == 0)
			r = rx_fail(src->v->ctx, errno, "%s: %s", dp, strerror(errno));
		if (r)
			return fail_at(c, src->v->ctx, src->label, sp);
		if (keep_attrs(c, src, dst, dp, a))
			return fail_at(c, &c->hctx, NULL, dp);
		return 0;
	}
	int fd = source_fd(c, src, sp, a);
	if (fd < 0)
		return fail_at(c, end_ctx(c, src), src->label, sp);
	int r = vfs_write_fd(dst->v, dp, fd, new_mode(c, a));
	close(fd);
	if (r == 0)
		r = keep_attrs(c, src, dst, dp, a);
	return r ? fail_at(c, dst->v->ctx, dst->label, dp) : 0;
}

static int copy_link(struct cp *c, const struct end *src, const char *sp, const struct end *dst,
		     const char *dp, const struct vfs_attr *a)
{
	char *target;
	if (read_link(c, src, sp, &target))
		return fail_at(c, end_ctx(c, src), src->label, sp);
	int room = make_room(c, dst, dp, 0);
	int r = room < 0 ? room : 0;
	if (r == 0 && room != 2) {
		if (dst->v)
			r = vfs_symlink(dst->v, target, dp);
		else if (symlink(target, dp) != 0)
			r = rx_fail(&c->hctx, errno, "%s", strerror(errno));
		if (r == 0)
			r = keep_attrs(c, src, dst, dp, a);
	}
	free(target);
	return r ? fail_at(c, end_ctx(c, dst), dst->label, dp) : 0;
}

static int copy_node(struct cp *c, const struct end *src, const char *sp, const struct end *dst,
		     const char *dp, int follow, unsigned depth);

static int copy_dir(struct cp *c, const struct end *src, const char *sp, const struct end *dst,
		    const char *dp, const struct vfs_attr *a, unsigned depth)
{
	if (!c->recursive) {
		rx_fail(end_ctx(c, src), EISDIR, "is a directory (use -r)");
		return fail_at(c, end_ctx(c, src), src->label, sp);
	}
	if (depth > 4096) {
		rx_fail(end_ctx(c, src), ELOOP, "directories nest too deeply (a loop?)");
		return fail_at(c, end_ctx(c, src), src->label, sp);
	}
	int room = make_room(c, dst, dp, 1);
	int r = room < 0 ? room : 0;
	if (r == 0 && room == 0) {
		if (dst->v)
			r = vfs_mkdir(dst->v, dp, 0700, 0);
		else if (mkdir(dp, 0700) != 0)
			r = rx_fail(&c->hctx, errno, "%s", strerror(errno));
	}
	if (r)
		return fail_at(c, end_ctx(c, dst), dst->label, dp);
	if (room == 2)
		return 0;
	struct name_list ns;
	if (list_names(c, src, sp, &ns))
		return fail_at(c, end_ctx(c, src), src->label, sp);
	for (size_t i = 0; i < ns.n && r == 0; i++) {
		if (bad_name(ns.v[i])) {
			rx_fail(end_ctx(c, src), EINVAL, "an entry named '%s' cannot be copied", ns.v[i]);
			r = fail_at(c, end_ctx(c, src), src->label, sp);
			break;
		}
		char *s2 = rx_path_join(sp, ns.v[i], strlen(ns.v[i]));
		char *d2 = rx_path_join(dp, ns.v[i], strlen(ns.v[i]));
		r = copy_node(c, src, s2, dst, d2, 0, depth + 1);
		free(s2);
		free(d2);
	}
	name_list_free(&ns);
	/* The directory's own mode (and with -a its times) last: writing inside it changed them. */
	if (r == 0 && room == 0 && keep_attrs(c, src, dst, dp, a))
		r = fail_at(c, end_ctx(c, dst), dst->label, dp);
	return r;
}

static int copy_node(struct cp *c, const struct end *src, const char *sp, const struct end *dst,
		     const char *dp, int follow, unsigned depth)
{
	struct vfs_attr a;
	if (end_stat(c, src, sp, follow, &a))
		return fail_at(c, end_ctx(c, src), src->label, sp);
	if (vfs_is_dir(&a))
		return copy_dir(c, src, sp, dst, dp, &a, depth);
	if (vfs_is_link(&a))
		return copy_link(c, src, sp, dst, dp, &a);
	return copy_file(c, src, sp, dst, dp, &a);
}

/* ---- naming the two sides ---- */

/* Does arg name something inside an image (IMAGE:..., or an archive file's members)? */
static int is_image_arg(const char *arg)
{
	if (!strchr(arg, ':'))
		return 0;
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_pathspec s;
	if (rx_pathspec_parse(&ctx, arg, &s) != 0)
		return 0;
	int yes = s.nseg > 0 || s.partno > 0;
	rx_pathspec_free(&s);
	return yes;
}

static const char cp_help[] =
	"Usage: rximg cp [OPTIONS] SRC... DST\n"
	"Copy files and directories between the host and images, between two images, or\n"
	"inside one. Each side is a host path or an image path at any depth, e.g.\n"
	"  rximg cp denovo.img:/usr/lib/ld.so.1 pure-rust.img:/usr/lib/\n"
	"  rximg cp disk.img:/boot/initfs:/etc/init.rc ./init.rc\n"
	"When DST is a directory, each SRC goes inside it under its own name. Everything\n"
	"written into the destination image lands in one commit, or nothing does.\n\n"
	"  -r, -R, --recursive  copy directories and everything in them\n"
	"  -a, --archive        keep modes, owners and times, copy symlinks as links (implies -r)\n"
	"  -n, --no-clobber     leave existing files alone\n"
	"  -f, --force          replace a symlink or other non-file in the way\n"
	"  -h, --help           show this help\n";

int cmd_cp(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, 0, 'r' }, { "archive", no_argument, 0, 'a' },
		{ "no-clobber", no_argument, 0, 'n' }, { "force", no_argument, 0, 'f' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	struct cp c = { 0 };
	int ch;
	while ((ch = getopt_long(argc, argv, "rRanfh", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': case 'R': c.recursive = 1; break;
		case 'a': c.archive = c.recursive = 1; break;
		case 'n': c.no_clobber = 1; c.force = 0; break;
		case 'f': c.force = 1; c.no_clobber = 0; break;
		case 'h': fputs(cp_help, stdout); return EXIT_OK;
		default: return bad_option("cp", argv);
		}
	}
	int nsrc = argc - optind - 1;
	if (nsrc < 1)
		return usage_error("cp", "expected SRC... DST");
	c.umask = umask(022);
	umask(c.umask);
	const char *dst_arg = argv[argc - 1];
	struct end dst = { dst_arg, NULL, dst_arg, NULL };
	int dst_image = is_image_arg(dst_arg), any_image = dst_image;
	for (int i = 0; i < nsrc; i++)
		any_image |= is_image_arg(argv[optind + i]);
	if (!any_image)
		return usage_error("cp", "neither side is inside an image (IMAGE:/path); use cp(1)");
	if (dst_image) {
		if (place_open(dst_arg, 1, &c.dst))
			return EXIT_FAIL;
		dst.v = c.dst.v;
		dst.path = c.dst.path;
		dst.label = c.dst.label;
	}
	struct vfs_attr da;
	/* Only a missing DST means "copy to that name": a read error must not change where things go. */
	int lr = end_stat(&c, &dst, dst.path, 1, &da);
	int dst_is_dir = lr == 0 && vfs_is_dir(&da);
	int status = EXIT_OK;
	if (lr && lr != -ENOENT && lr != -ENOTDIR && !rfs_is_damage(lr)) {
		report(end_ctx(&c, &dst), dst.label, dst.path);
		status = EXIT_FAIL;
	}
	rx_clear(end_ctx(&c, &dst));
	if (status == EXIT_OK && nsrc > 1 && !dst_is_dir) {
		fprintf(stderr, "rximg: %s: not a directory (copying several sources needs one)\n", dst_arg);
		status = EXIT_FAIL;
	}
	for (int i = 0; i < nsrc && status == EXIT_OK; i++) {
		const char *arg = argv[optind + i];
		struct place sp;
		struct end src = { arg, NULL, arg, NULL };
		int opened = 0;
		if (is_image_arg(arg)) {
			struct rx_ctx pctx = { { 0 }, 0 };
			struct rx_pathspec s;
			int same = dst_image && rx_pathspec_parse(&pctx, arg, &s) == 0;
			if (same) {
				/* The destination's own image: read it through the same, locked, session. */
				same = rx_res_same(c.dst.res, &s);
				if (same) {
					src.v = c.dst.v;
					src.path = rx_xstrdup(s.seg[s.nseg - 1]);
					src.label = c.dst.label;
				} else {
					struct stat a, b;
					if (stat(s.image, &a) == 0 && stat(c.dst.res->spec.image, &b) == 0 &&
					    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
						if (s.nseg == 1 && s.partno == c.dst.res->spec.partno &&
						    c.dst.res->lv[0].kind == RX_LV_REDOXFS) {
							src.v = &c.dst.res->lv[0].vfs;
							src.path = rx_xstrdup(s.seg[0]);
							src.label = c.dst.res->lv[0].label;
							same = 1;
						} else {
							fprintf(stderr, "rximg: %s: the destination's own image; copy "
								"from there through a host file\n", arg);
							status = EXIT_FAIL;
						}
					}
				}
				rx_pathspec_free(&s);
			}
			if (status != EXIT_OK)
				break;
			if (!same) {
				if (place_open(arg, 0, &sp)) {
					status = EXIT_FAIL;
					break;
				}
				opened = 1;
				src.v = sp.v;
				src.path = rx_xstrdup(sp.path);
				src.label = sp.label;
			}
		}
		const char *sp_path = src.path;
		char *name = base_dup(sp_path);
		char *to = dst_is_dir ? (dst.v ? rx_path_join(dst.path, name, strlen(name))
					     : rx_xasprintf("%s/%s", dst.path, name))
				      : rx_xstrdup(dst.path);
		if (dst_is_dir && bad_name(name)) {
			fprintf(stderr, "rximg: %s: name the file or directory to copy\n", arg);
			status = EXIT_FAIL;
		} else if (copy_node(&c, &src, sp_path, &dst, to, !c.archive || !c.recursive, 0)) {
			report(c.err, c.err_label, c.err_path);
			status = EXIT_FAIL;
		}
		free(name);
		free(to);
		if (src.v)
			free((char *)src.path);
		if (opened)
			place_close(&sp);
	}
	free(c.err_path);
	if (dst_image) {
		if (status == EXIT_OK)
			return place_commit(&c.dst);
		place_close(&c.dst);
	}
	return status;
}
