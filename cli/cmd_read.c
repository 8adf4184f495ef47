/* rximg cat, get, extract: everything that copies data out. */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "idmap.h"
#include "progress.h"


struct fd_sink {
	int fd;
	struct rx_ctx *ctx;
};

static int put_fd(void *arg, const uint8_t *buf, size_t len)
{
	struct fd_sink *s = arg;
	while (len) {
		ssize_t n = write(s->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(s->ctx, errno, "write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char cat_help[] =
	"Usage: rximg cat IMAGE:/file...\n"
	"Write files from an image to standard output (symlinks inside the image are followed).\n\n"
	"  -h, --help  show this help\n";

int cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int c, status = EXIT_OK;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(cat_help, stdout);
			return EXIT_OK;
		}
		return bad_option("cat", argv);
	}
	if (optind >= argc)
		return usage_error("cat", "missing IMAGE:/file");
	for (int i = optind; i < argc; i++) {
		struct place p;
		if (place_open(argv[i], 0, &p)) {
			status = EXIT_FAIL;
			continue;
		}
		struct fd_sink sink = { STDOUT_FILENO, p.v->ctx };
		if (vfs_read_seq(p.v, p.path, put_fd, &sink)) {
			place_report(&p, p.path);
			status = EXIT_FAIL;
		}
		place_close(&p);
	}
	return status;
}

/* ---- extraction onto the host ---- */

struct extract {
	struct vfs *v;
	struct rx_ctx *ctx;
	const char *label;
	size_t damaged;		/* paths the image could not give whole (reported, skipped) */
	int same_owner, force;
	int named;		/* the failure message already names its path */
	struct idmap dirs;	/* directories already extracted: loops */
	struct idmap links;	/* node -> host path of its first name */
	struct progress prog;
};

static struct timespec ts_of(struct vfs_time t)
{
	struct timespec ts;
	ts.tv_sec = t.sec > (uint64_t)INT64_MAX ? (time_t)INT64_MAX : (time_t)t.sec;
	ts.tv_nsec = t.nsec < 1000000000u ? (long)t.nsec : 999999999L;
	return ts;
}

/*
 * Owner, then mode (chown clears set-id bits), then times: what the format
 * stores (an initfs keeps no owners or times, FAT only a modification time).
 */
static int apply_meta(struct extract *x, int fd, int dirfd, const char *name, const struct vfs_attr *a)
{
	unsigned has = x->v->has;
	int r = 0;
	if (x->same_owner && (has & VFS_HAS_OWNER)) {
		r = fd >= 0 ? fchown(fd, a->uid, a->gid) : fchownat(dirfd, name, a->uid, a->gid, AT_SYMLINK_NOFOLLOW);
		if (r)
			return rx_fail(x->ctx, errno, "cannot set owner %u:%u: %s", a->uid, a->gid, strerror(errno));
	}
	if (fd >= 0 && fchmod(fd, a->mode & 07777) != 0)
		return rx_fail(x->ctx, errno, "cannot set mode: %s", strerror(errno));
	if (!(has & (VFS_HAS_TIMES | VFS_HAS_MTIME)))
		return 0;
	struct timespec times[2] = { ts_of(a->atime), ts_of(a->mtime) };
	if (!(has & VFS_HAS_TIMES))
		times[0].tv_nsec = UTIME_OMIT;
	r = fd >= 0 ? futimens(fd, times) : utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW);
	if (r)
		return rx_fail(x->ctx, errno, "cannot set times: %s", strerror(errno));
	return 0;
}

struct file_sink {
	struct extract *x;
	int fd;
	uint64_t written;
	int host_failed;	/* the failure is the host's (stop), not the image's (skip) */
};

static int put_at(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	struct file_sink *s = arg;
	while (len) {
		ssize_t n = pwrite(s->fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->host_failed = 1;
			return rx_fail(s->x->ctx, errno, "write: %s", strerror(errno));
		}
		progress_add(&s->x->prog, (uint64_t)n);
		s->written += (uint64_t)n;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Make room for name in dirfd: never follow or write through what is there. */
static int clear_name(struct extract *x, int dirfd, const char *name, int want_dir)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : rx_fail(x->ctx, errno, "%s", strerror(errno));
	if (want_dir && S_ISDIR(st.st_mode))
		return 1;	/* merge into the existing directory */
	if (!x->force)
		return rx_fail(x->ctx, EEXIST, "already exists on the host (use --force to replace)");
	if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0)
		return rx_fail(x->ctx, errno, "cannot replace: %s", strerror(errno));
	return 0;
}

static int extract_node(struct extract *x, const struct vfs_attr *a, int dirfd, const char *name,
			const char *ipath, const char *hpath);

/*
 * The image cannot give ipath whole (the ctx says why): report it and go on
 * with the rest; the exit status tells at the end. Host failures still stop.
 */
static void skip_damaged(struct extract *x, const char *ipath)
{
	report(x->ctx, x->label, ipath);
	rx_clear(x->ctx);
	x->damaged++;
}

/* A directory's entries, gathered before any is extracted; the damaged ones reported and left out. */
struct child {
	char *name;
	struct vfs_attr a;
};

struct children {
	struct extract *x;
	const char *ipath;
	struct child *v;
	size_t n;
};

static int add_child(void *arg, const char *name, size_t len, const struct vfs_attr *a)
{
	struct children *c = arg;
	const char *bad = vfs_name_problem(name, len);
	if (!a || bad) {
		/* The name goes into the message only as far as it is safe to print. */
		char *path = rx_path_join(c->ipath, bad ? "?" : name, bad ? 1 : len);
		if (bad)
			rx_fail(c->x->ctx, EINVAL, "an entry with %s (never written to the host)", bad);
		skip_damaged(c->x, bad ? c->ipath : path);
		free(path);
		return 0;
	}
	c->v = rx_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n].name = strndup(name, len);
	if (!c->v[c->n].name)
		abort();
	c->v[c->n++].a = *a;
	return 0;
}

static int extract_children(struct extract *x, int fd, const char *ipath, const char *hpath)
{
	struct children c = { x, ipath, NULL, 0 };
	int r = vfs_readdir(x->v, ipath, 1, add_child, &c);
	if (r)
		skip_damaged(x, ipath);
	for (size_t i = 0; i < c.n; i++) {
		if (r == 0 && !x->named) {
			char *cipath = rx_path_join(ipath, c.v[i].name, strlen(c.v[i].name));
			char *chpath = rx_path_join(hpath, c.v[i].name, strlen(c.v[i].name));
			r = extract_node(x, &c.v[i].a, fd, c.v[i].name, cipath, chpath);
			free(cipath);
			free(chpath);
		}
		free(c.v[i].name);
	}
	free(c.v);
	return x->named ? -1 : 0;
}

static int extract_dir(struct extract *x, const struct vfs_attr *a, int dirfd, const char *name,
		       const char *ipath, const char *hpath)
{
	void **seen = idmap_slot(&x->dirs, a->ino, 1);
	if (seen && *seen) {
		rx_fail(x->ctx, ELOOP, "directory node %llu is reached a second time "
			"(a directory loop or hard-linked directory)", (unsigned long long)a->ino);
		skip_damaged(x, ipath);
		return 0;
	}
	if (seen)
		*seen = (void *)1;
	int r = clear_name(x, dirfd, name, 1);
	if (r < 0)
		return r;
	/* Owner-only access while filling; the stored mode is applied last. */
	if (r == 0 && mkdirat(dirfd, name, 0700) != 0)
		return rx_fail(x->ctx, errno, "cannot create directory: %s", strerror(errno));
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return rx_fail(x->ctx, errno, "cannot open directory: %s", strerror(errno));
	r = extract_children(x, fd, ipath, hpath);
	if (r == 0)
		r = apply_meta(x, fd, -1, NULL, a);
	close(fd);
	return r;
}

static int extract_file(struct extract *x, const struct vfs_attr *a, int dirfd, const char *name,
			const char *ipath, const char *hpath)
{
	void **first = NULL;
	if (a->nlink > 1 && (x->v->has & VFS_HAS_HARDLINKS)) {
		first = idmap_slot(&x->links, a->ino, 1);
		if (first && *first) {
			/* Another name of a node already written: a hard link, as tar does. */
			int r = clear_name(x, dirfd, name, 0);
			if (r < 0)
				return r;
			if (linkat(AT_FDCWD, *first, dirfd, name, 0) != 0)
				return rx_fail(x->ctx, errno, "cannot link to %s: %s", (char *)*first,
					       strerror(errno));
			return 0;
		}
		if (first)
			*first = rx_xstrdup(hpath);
	}
	int r = clear_name(x, dirfd, name, 0);
	if (r < 0)
		return r;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return rx_fail(x->ctx, errno, "cannot create: %s", strerror(errno));
	struct file_sink sink = { .x = x, .fd = fd };
	r = vfs_read(x->v, ipath, put_at, &sink);
	if (r && !sink.host_failed) {
		/* Never leave a file that looks whole but is not; another name of it is tried afresh. */
		close(fd);
		unlinkat(dirfd, name, 0);
		if (first) {
			free(*first);
			*first = NULL;
		}
		skip_damaged(x, ipath);
		return 0;
	}
	if (r == 0 && a->size > sink.written)
		progress_add(&x->prog, a->size - sink.written);	/* the holes */
	if (r == 0 && ftruncate(fd, (off_t)RX_MIN(a->size, (uint64_t)INT64_MAX)) != 0)
		r = rx_fail(x->ctx, errno, "cannot set size %llu: %s", (unsigned long long)a->size,
			    strerror(errno));
	if (r == 0)
		r = apply_meta(x, fd, -1, NULL, a);
	close(fd);
	return r;
}

static int extract_symlink(struct extract *x, const struct vfs_attr *a, int dirfd, const char *name,
			   const char *ipath)
{
	char *target = NULL;
	int r = vfs_readlink(x->v, ipath, &target);
	if (r) {
		skip_damaged(x, ipath);
		return 0;
	}
	r = clear_name(x, dirfd, name, 0);
	/* The link is created as stored; nothing is ever written through it. */
	if (r == 0 && symlinkat(target, dirfd, name) != 0)
		r = rx_fail(x->ctx, errno, "cannot create symlink: %s", strerror(errno));
	if (r == 0)
		r = apply_meta(x, -1, dirfd, name, a);
	free(target);
	return r < 0 ? r : 0;
}

static int extract_node(struct extract *x, const struct vfs_attr *a, int dirfd, const char *name,
			const char *ipath, const char *hpath)
{
	int r;
	switch (a->mode & VFS_TYPE) {
	case VFS_DIR: r = extract_dir(x, a, dirfd, name, ipath, hpath); break;
	case VFS_FILE: r = extract_file(x, a, dirfd, name, ipath, hpath); break;
	case VFS_LINK: r = extract_symlink(x, a, dirfd, name, ipath); break;
	default:
		warnx_("%s: skipping a socket node", ipath);
		return 0;
	}
	if (r && !x->named) {
		rx_prefix(x->ctx, "%s", ipath);
		x->named = 1;
	}
	return r;
}

static void extract_init(struct extract *x, struct place *p, int same_owner, int force, int quiet,
			 const char *verb, const struct vfs_attr *top)
{
	memset(x, 0, sizeof(*x));
	x->v = p->v;
	x->v->reads_contents = 1;	/* each directory's files are read right after it is listed */
	x->ctx = p->v->ctx;
	x->label = p->label;
	x->same_owner = same_owner;
	x->force = force;
	idmap_init(&x->dirs);
	idmap_init(&x->links);
	int tty = !quiet && isatty(STDERR_FILENO);
	progress_init(&x->prog, verb, tty ? tree_file_bytes(p->v, p->path, top) : 0, !tty);
}

static void extract_fini(struct extract *x, int ok)
{
	for (size_t i = 0; i < x->links.cap; i++)
		free(x->links.vals[i]);
	idmap_free(&x->links);
	idmap_free(&x->dirs);
	if (ok)
		progress_done(&x->prog);
	else
		progress_stop(&x->prog);
}

static char *host_abs(const char *path)
{
	if (path[0] == '/')
		return rx_xstrdup(path);
	char *cwd = getcwd(NULL, 0);
	char *p = rx_xasprintf("%s/%s", cwd ? cwd : ".", path);
	free(cwd);
	return p;
}

static const char extract_help[] =
	"Usage: rximg extract [OPTIONS] IMAGE[:pN|:esp][:/dir][:/member...] DESTDIR\n"
	"Extract a tree (files, directories, symlinks, modes, times; holes stay holes)\n"
	"from a RedoxFS, an initfs archive (disk.img:/boot/initfs:/etc, initfs.img:/) or FAT\n"
	"(disk.img:esp:/EFI); what the format does not store (owners, times) is not restored.\n"
	"DESTDIR is created if missing; nothing is ever written outside it.\n"
	"A damaged path is reported and skipped (exit status 1); the rest is extracted.\n\n"
	"      --same-owner     restore uid/gid (the default when run as root)\n"
	"      --no-same-owner  do not restore uid/gid\n"
	"  -f, --force          replace existing non-directories in DESTDIR\n"
	"  -q, --quiet          no progress bar\n"
	"  -h, --help           show this help\n";

int cmd_extract(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "same-owner", no_argument, 0, 'o' }, { "no-same-owner", no_argument, 0, 'O' },
		{ "force", no_argument, 0, 'f' },      { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	int c, same_owner = geteuid() == 0, force = 0, quiet = 0;
	while ((c = getopt_long(argc, argv, "fqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': same_owner = 1; break;
		case 'O': same_owner = 0; break;
		case 'f': force = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(extract_help, stdout); return EXIT_OK;
		default: return bad_option("extract", argv);
		}
	}
	if (argc - optind != 2)
		return usage_error("extract", "expected IMAGE[:/dir] DESTDIR");
	const char *dest = argv[optind + 1];
	struct place p;
	struct vfs_attr top;
	if (place_open(argv[optind], 0, &p))
		return EXIT_FAIL;
	if (vfs_stat(p.v, p.path, 1, &top)) {
		place_report(&p, p.path);
		place_close(&p);
		return EXIT_FAIL;
	}
	const char *base = strrchr(p.path, '/');
	base = base ? base + 1 : p.path;
	if (!vfs_is_dir(&top) && vfs_name_problem(base, strlen(base))) {
		/* "/x/.." can name a file only through a symlink: the name to write it as is unclear. */
		place_close(&p);
		return usage_error("extract", "name the file by its own name, not '%s'", base);
	}
	struct extract x;
	char *hdest = host_abs(dest);
	int r, created = mkdir(dest, 0700) == 0;
	int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!created && errno != EEXIST) {
		fprintf(stderr, "rximg: %s: cannot create: %s\n", dest, strerror(errno));
		free(hdest);
		place_close(&p);
		return EXIT_FAIL;
	}
	if (fd < 0) {
		fprintf(stderr, "rximg: %s: %s\n", dest, strerror(errno));
		free(hdest);
		place_close(&p);
		return EXIT_FAIL;
	}
	extract_init(&x, &p, same_owner, force, quiet, "extract", &top);
	if (vfs_is_dir(&top)) {
		void **seen = idmap_slot(&x.dirs, top.ino, 1);
		if (seen)
			*seen = (void *)1;
		r = extract_children(&x, fd, p.path, hdest);
		/* The tree's own root takes DESTDIR's place only when we made DESTDIR. */
		if (r == 0 && created)
			r = apply_meta(&x, fd, -1, NULL, &top);
	} else {
		char *hpath = rx_path_join(hdest, base, strlen(base));
		r = extract_node(&x, &top, fd, base, p.path, hpath);
		free(hpath);
	}
	extract_fini(&x, r == 0);
	if (r)
		report(x.ctx, p.label, NULL);
	close(fd);
	free(hdest);
	place_close(&p);
	return r || x.damaged ? EXIT_FAIL : EXIT_OK;
}

static const char get_help[] =
	"Usage: rximg get [OPTIONS] IMAGE:/path [DEST]\n"
	"Copy one file or directory out of an image (symlinks inside the image are followed).\n"
	"DEST defaults to the name in the current directory; an existing directory receives\n"
	"the copy inside it; '-' writes a file to standard output. Existing files are replaced.\n\n"
	"      --same-owner     restore uid/gid (the default when run as root)\n"
	"      --no-same-owner  do not restore uid/gid\n"
	"  -q, --quiet          no progress bar\n"
	"  -h, --help           show this help\n";

int cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "same-owner", no_argument, 0, 'o' }, { "no-same-owner", no_argument, 0, 'O' },
		{ "quiet", no_argument, 0, 'q' },      { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, same_owner = geteuid() == 0, quiet = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': same_owner = 1; break;
		case 'O': same_owner = 0; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(get_help, stdout); return EXIT_OK;
		default: return bad_option("get", argv);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage_error("get", "expected IMAGE:/path [DEST]");
	if (names_member(argv[optind])) {
		/* Inside an archive: what cat and cp do there (an archive stores no owners or times). */
		const char *dest = argc - optind == 2 ? argv[optind + 1] : ".";
		char *v[] = { "cat", argv[optind], NULL }, *w[] = { "cp", "-r", argv[optind], (char *)dest, NULL };
		(void)same_owner;
		(void)quiet;
		return !strcmp(dest, "-") ? run_verb(2, v) : run_verb(4, w);
	}
	struct place p;
	struct vfs_attr a;
	if (place_open(argv[optind], 0, &p))
		return EXIT_FAIL;
	if (!p.res->spec.nseg) {
		place_close(&p);
		return usage_error("get", "name a path inside the image: IMAGE:/path");
	}
	if (vfs_stat(p.v, p.path, 1, &a)) {
		place_report(&p, p.path);
		place_close(&p);
		return EXIT_FAIL;
	}
	const char *ipath = p.path;
	const char *base = strrchr(ipath, '/');
	base = base && base[1] ? base + 1 : "root";
	if (vfs_name_problem(base, strlen(base)))
		base = "root";
	const char *dest = argc - optind == 2 ? argv[optind + 1] : base;
	int r;
	if (!strcmp(dest, "-")) {
		struct fd_sink sink = { STDOUT_FILENO, p.v->ctx };
		r = vfs_read_seq(p.v, ipath, put_fd, &sink);
		if (r)
			place_report(&p, ipath);
		place_close(&p);
		return r ? EXIT_FAIL : EXIT_OK;
	}
	/* DEST names the copy, or an existing directory to put it in. */
	struct stat st;
	char *target = stat(dest, &st) == 0 && S_ISDIR(st.st_mode) ? rx_path_join(dest, base, strlen(base))
								   : rx_xstrdup(dest);
	char *habs = host_abs(target);
	char *slash = strrchr(habs, '/');
	char *parent = strndup(habs, (size_t)(slash - habs) + (slash == habs));
	int dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "rximg: %s: %s\n", parent, strerror(errno));
		r = -1;
	} else {
		struct extract x;
		extract_init(&x, &p, same_owner, 1, quiet, "get", &a);
		r = extract_node(&x, &a, dirfd, slash + 1, ipath, habs);
		extract_fini(&x, r == 0);
		if (r)
			report(x.ctx, p.label, NULL);
		else if (x.damaged)
			r = -1;
		close(dirfd);
	}
	free(parent);
	free(habs);
	free(target);
	place_close(&p);
	return r ? EXIT_FAIL : EXIT_OK;
}
