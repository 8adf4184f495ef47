/* rximg mv, ln, chmod, chown, touch, truncate, write, edit: small changes, one commit each. */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const char mv_help[] =
	"Usage: rximg mv [OPTIONS] IMAGE:/from IMAGE:/to\n"
	"       rximg mv [OPTIONS] IMAGE:/from... IMAGE:/dir/\n"
	"Rename or move inside an image; an existing target is replaced atomically.\n\n"
	"  -n, --no-clobber  do not replace an existing target (fail instead)\n"
	"      --exchange    swap the two paths\n"
	"  -h, --help        show this help\n";

int cmd_mv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-clobber", no_argument, 0, 'n' }, { "exchange", no_argument, 0, 'x' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	unsigned flags = 0;
	int c;
	while ((c = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': flags |= VFS_NOREPLACE; break;
		case 'x': flags |= VFS_EXCHANGE; break;
		case 'h': fputs(mv_help, stdout); return EXIT_OK;
		default: return bad_option("mv", argv);
		}
	}
	if (argc - optind < 2)
		return usage_error("mv", "expected IMAGE:/from IMAGE:/to");
	struct place w;
	char **paths;
	int s = place_begin("mv", argc - optind, argv + optind, &w, &paths);
	if (s)
		return s;
	int n = argc - optind, r = 0;
	const char *dest = paths[n - 1];
	struct vfs_attr da;
	/*
	 * Only a missing dest (or a damaged one, which the rename replaces unread)
	 * means "move to dest": a read error must not change where things go.
	 */
	int lr = (flags & VFS_EXCHANGE) ? -ENOENT : vfs_stat(w.v, dest, 1, &da);
	if (lr && lr != -ENOENT && lr != -ENOTDIR && !rfs_is_damage(lr))
		return place_finish(&w, paths, lr, dest);
	int into = lr == 0 && vfs_is_dir(&da);
	rx_clear(w.v->ctx);
	if (n > 2 && !into) {
		rx_fail(w.v->ctx, ENOTDIR, "moving several paths needs a directory to move them into");
		return place_finish(&w, paths, -1, dest);
	}
	for (int i = 0; i < n - 1 && r == 0; i++) {
		char *to;
		if (into) {
			const char *base = strrchr(paths[i], '/');
			base = base ? base + 1 : paths[i];
			to = rx_path_join(dest, base, strlen(base));
		} else {
			to = rx_xstrdup(dest);
		}
		r = vfs_rename(w.v, paths[i], to, flags);
		if (r) {
			char *both = rx_xasprintf("%s -> %s", paths[i], to);
			s = place_finish(&w, paths, r, both);
			free(both);
			free(to);
			return s;
		}
		free(to);
	}
	return place_finish(&w, paths, 0, NULL);
}

static const char ln_help[] =
	"Usage: rximg ln -s TARGET IMAGE:/link\n"
	"       rximg ln IMAGE:/existing IMAGE:/newname\n"
	"Make a symbolic link (TARGET is stored as given) or a hard link inside an image.\n\n"
	"  -s, --symbolic    make a symbolic link\n"
	"  -f, --force       replace an existing link name\n"
	"      --owner U:G   owner of a new symlink (default: the parent directory's)\n"
	"  -h, --help        show this help\n";

int cmd_ln(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "symbolic", no_argument, 0, 's' }, { "force", no_argument, 0, 'f' },
		{ "owner", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, symbolic = 0, force = 0;
	struct rfs_owner owner, *ownp = NULL;
	while ((c = getopt_long(argc, argv, "sfh", opts, NULL)) != -1) {
		switch (c) {
		case 's': symbolic = 1; break;
		case 'f': force = 1; break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("ln", "bad owner '%s'", optarg);
			ownp = &owner;
			break;
		case 'h': fputs(ln_help, stdout); return EXIT_OK;
		default: return bad_option("ln", argv);
		}
	}
	if (argc - optind != 2)
		return usage_error("ln", "expected TARGET IMAGE:/link");
	struct place w;
	char **paths;
	/* For -s the target is free text: only the link names the image. */
	int s = symbolic ? place_begin("ln", 1, argv + optind + 1, &w, &paths)
			 : place_begin("ln", 2, argv + optind, &w, &paths);
	if (s)
		return s;
	const char *link = symbolic ? paths[0] : paths[1];
	int r = 0;
	if (force) {
		r = vfs_remove(w.v, link, 0, 0);
		if (r == -ENOENT) {
			rx_clear(w.v->ctx);
			r = 0;
		}
	}
	if (r == 0)
		r = symbolic ? vfs_symlink(w.v, argv[optind], link) : vfs_link(w.v, paths[0], link);
	if (r == 0 && ownp) {
		struct vfs_attr a = { .uid = ownp->uid, .gid = ownp->gid };
		r = vfs_setattr(w.v, link, VFS_SET_UID | VFS_SET_GID, &a, 1);
	}
	return place_finish(&w, paths, r, link);
}

/* ---- attribute changes: chmod, chown, touch ---- */

struct attr_change {
	unsigned what;		/* VFS_SET_* */
	int recursive;
	struct vfs_attr to;
};

static int apply_attr(struct vfs *v, const char *path, int nofollow, const struct attr_change *a, unsigned depth)
{
	struct vfs_attr st;
	int r = vfs_stat(v, path, !nofollow, &st);
	/* As chmod -R does: links met on the way are left alone (their mode means nothing). */
	if (r == 0 && !(nofollow && vfs_is_link(&st) && (a->what & VFS_SET_MODE)))
		r = vfs_setattr(v, path, a->what, &a->to, nofollow);
	if (r || !a->recursive || !vfs_is_dir(&st))
		return r;
	if (depth > 4096)
		return rx_fail(v->ctx, ELOOP, "directories nest too deeply (a loop?)");
	struct name_list ns = { 0 };
	r = vfs_readdir(v, path, 0, name_list_add, &ns);
	for (size_t i = 0; i < ns.n && r == 0; i++) {
		char *child = rx_path_join(path, ns.v[i], strlen(ns.v[i]));
		r = apply_attr(v, child, 1, a, depth + 1);
		free(child);
	}
	name_list_free(&ns);
	return r;
}

/* create_missing: 1 creates empty files, -1 skips missing ones (touch -c), 0 fails. */
static int change_attrs(const char *verb, int argc, char **argv, struct attr_change *a, int create_missing)
{
	struct place w;
	char **paths;
	int s = place_begin(verb, argc, argv, &w, &paths);
	if (s)
		return s;
	for (int i = 0; paths[i]; i++) {
		struct vfs_attr st;
		int r = vfs_stat(w.v, paths[i], 1, &st), created = 0;
		if (r == -ENOENT && create_missing < 0) {
			rx_clear(w.v->ctx);
			continue;
		}
		if (r == -ENOENT && create_missing > 0) {
			rx_clear(w.v->ctx);
			r = vfs_write_buf(w.v, paths[i], "", 0, 0644);
			created = 1;
		}
		/* A new empty file where the format keeps no times is all touch can do. */
		if (r == 0 && !(created && !(w.v->has & VFS_HAS_TIMES)))
			r = apply_attr(w.v, paths[i], 0, a, 0);
		if (r)
			return place_finish(&w, paths, r, paths[i]);
	}
	return place_finish(&w, paths, 0, NULL);
}

static const char chmod_help[] =
	"Usage: rximg chmod [OPTIONS] MODE IMAGE:/path...\n"
	"Set permission bits (octal, e.g. 0755 or 4755) inside an image.\n\n"
	"  -R, --recursive  also everything below a directory\n"
	"  -h, --help       show this help\n";

int cmd_chmod(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, 0, 'R' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct attr_change a = { .what = VFS_SET_MODE };
	int c;
	while ((c = getopt_long(argc, argv, "Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'R': a.recursive = 1; break;
		case 'h': fputs(chmod_help, stdout); return EXIT_OK;
		default: return bad_option("chmod", argv);
		}
	}
	if (argc - optind < 2)
		return usage_error("chmod", "expected MODE IMAGE:/path");
	if (parse_mode(argv[optind], &a.to.mode))
		return usage_error("chmod", "bad mode '%s' (want octal, e.g. 0755)", argv[optind]);
	return change_attrs("chmod", argc - optind - 1, argv + optind + 1, &a, 0);
}

static const char chown_help[] =
	"Usage: rximg chown [OPTIONS] UID[:GID]|:GID IMAGE:/path...\n"
	"Set the numeric owner and/or group inside an image (UID alone keeps the group).\n\n"
	"  -R, --recursive  also everything below a directory\n"
	"  -h, --help       show this help\n";

int cmd_chown(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, 0, 'R' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct attr_change a = { 0 };
	struct rfs_owner owner;
	int keep_gid = 0, keep_uid = 0;
	int c;
	while ((c = getopt_long(argc, argv, "Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'R': a.recursive = 1; break;
		case 'h': fputs(chown_help, stdout); return EXIT_OK;
		default: return bad_option("chown", argv);
		}
	}
	if (argc - optind < 2)
		return usage_error("chown", "expected UID[:GID] IMAGE:/path");
	const char *spec = argv[optind];
	/* As chown(1): "U" keeps the group, ":G" keeps the owner. */
	if (spec[0] == ':') {
		keep_uid = 1;
		if (parse_owner(spec + 1, &owner))
			return usage_error("chown", "bad group '%s'", spec);
	} else if (parse_owner(spec, &owner)) {
		return usage_error("chown", "bad owner '%s' (want numeric UID[:GID])", spec);
	} else {
		keep_gid = !strchr(spec, ':') && !strchr(spec, '.');
	}
	a.to.uid = owner.uid;
	a.to.gid = owner.gid;
	a.what = (keep_uid ? 0u : VFS_SET_UID) | (keep_gid ? 0u : VFS_SET_GID);
	return change_attrs("chown", argc - optind - 1, argv + optind + 1, &a, 0);
}

/* @SECONDS[.NANOSECONDS] */
static int parse_time(const char *s, struct rfs_time *t)
{
	char *end;
	if (*s == '@')
		s++;
	t->sec = strtoull(s, &end, 10);
	t->nsec = 0;
	if (end == s)
		return -1;
	if (*end == '.') {
		const char *f = end + 1;
		unsigned digits = 0;
		for (; *f >= '0' && *f <= '9' && digits < 9; f++, digits++)
			t->nsec = t->nsec * 10 + (uint32_t)(*f - '0');
		for (; digits < 9; digits++)
			t->nsec *= 10;
		end = (char *)f;
	}
	return *end ? -1 : 0;
}

static const char touch_help[] =
	"Usage: rximg touch [OPTIONS] IMAGE:/path...\n"
	"Set access and modification times inside an image; create empty files that are missing.\n\n"
	"  -d, --date @SEC[.NSEC]  use this time instead of now (seconds since the epoch)\n"
	"  -a                      change only the access time\n"
	"  -m                      change only the modification time\n"
	"  -c, --no-create         do not create missing files\n"
	"  -h, --help              show this help\n";

int cmd_touch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "date", required_argument, 0, 'd' }, { "no-create", no_argument, 0, 'c' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	struct attr_change a = { 0 };
	struct rfs_time t = now_time();
	int c, only_a = 0, only_m = 0, create = 1;
	while ((c = getopt_long(argc, argv, "d:amch", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_time(optarg, &t))
				return usage_error("touch", "bad time '%s' (want @SECONDS[.NANOSECONDS])", optarg);
			break;
		case 'a': only_a = 1; break;
		case 'm': only_m = 1; break;
		case 'c': create = 0; break;
		case 'h': fputs(touch_help, stdout); return EXIT_OK;
		default: return bad_option("touch", argv);
		}
	}
	if (optind >= argc)
		return usage_error("touch", "expected IMAGE:/path");
	a.what = (!only_m || only_a ? VFS_SET_ATIME : 0u) | (!only_a || only_m ? VFS_SET_MTIME : 0u);
	a.to.atime = a.to.mtime = (struct vfs_time){ t.sec, t.nsec };
	return change_attrs("touch", argc - optind, argv + optind, &a, create ? 1 : -1);
}

static const char truncate_help[] =
	"Usage: rximg truncate -s SIZE IMAGE:/file...\n"
	"Shrink or extend files inside an image (extended parts read as zeros).\n\n"
	"  -s, --size SIZE  the new size (suffixes K, M, G: powers of 1024)\n"
	"  -h, --help       show this help\n";

int cmd_truncate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, 0, 's' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	uint64_t size = 0;
	int c, have = 0;
	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size))
				return usage_error("truncate", "bad size '%s'", optarg);
			have = 1;
			break;
		case 'h': fputs(truncate_help, stdout); return EXIT_OK;
		default: return bad_option("truncate", argv);
		}
	}
	if (!have || optind >= argc)
		return usage_error("truncate", "expected -s SIZE IMAGE:/file");
	struct place w;
	char **paths;
	int s = place_begin("truncate", argc - optind, argv + optind, &w, &paths);
	if (s)
		return s;
	for (int i = 0; paths[i]; i++) {
		int r = vfs_truncate(w.v, paths[i], size);
		if (r)
			return place_finish(&w, paths, r, paths[i]);
	}
	return place_finish(&w, paths, 0, NULL);
}

/* Replace (or create) the file at path with what fd holds; then the mode and owner asked for. */
static int write_from_fd(struct vfs *v, const char *path, int fd, const struct rfs_owner *own,
			 int have_mode, uint16_t mode)
{
	int r = vfs_write_fd(v, path, fd, have_mode ? mode : 0644);
	struct vfs_attr a = { .mode = mode };
	if (r == 0 && have_mode)
		r = vfs_setattr(v, path, VFS_SET_MODE, &a, 0);
	if (r == 0 && own) {
		a.uid = own->uid;
		a.gid = own->gid;
		r = vfs_setattr(v, path, VFS_SET_UID | VFS_SET_GID, &a, 0);
	}
	return r;
}

static const char write_help[] =
	"Usage: rximg write [OPTIONS] IMAGE:/path < DATA\n"
	"Replace (or create) a file inside an image with standard input, in one commit.\n\n"
	"  -m, --mode MODE   mode of a new file (octal, default 0644) or the new mode\n"
	"      --owner U:G   owner (default: kept, or the parent directory's for a new file)\n"
	"  -h, --help        show this help\n";

int cmd_write(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, 0, 'm' }, { "owner", required_argument, 0, 'o' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	int c, have_mode = 0;
	uint16_t mode = 0644;
	struct rfs_owner owner, *ownp = NULL;
	while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_mode(optarg, &mode))
				return usage_error("write", "bad mode '%s'", optarg);
			have_mode = 1;
			break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("write", "bad owner '%s'", optarg);
			ownp = &owner;
			break;
		case 'h': fputs(write_help, stdout); return EXIT_OK;
		default: return bad_option("write", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("write", "expected IMAGE:/path");
	struct place w;
	char **paths;
	int s = place_begin("write", 1, argv + optind, &w, &paths);
	if (s)
		return s;
	int r = write_from_fd(w.v, paths[0], STDIN_FILENO, ownp, have_mode, mode);
	return place_finish(&w, paths, r, paths[0]);
}

int edit_tempfile(struct rx_ctx *ctx, const char *name, char **path)
{
	const char *base = strrchr(name, '/');
	base = base && base[1] ? base + 1 : *name && *name != '/' ? name : "file";
	const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	*path = rx_xasprintf("%s/rximg-edit-XXXXXX-%s", tmpdir, base);
	int fd = mkstemps(*path, (int)strlen(base) + 1);
	if (fd < 0) {
		rx_fail(ctx, errno, "%s: %s", *path, strerror(errno));
		free(*path);
		*path = NULL;
	}
	return fd;
}

int run_editor(struct rx_ctx *ctx, const char *path)
{
	const char *ed = getenv("VISUAL");
	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	/* Through sh, so that EDITOR may hold options ("code --wait"). */
	char *cmd = rx_xasprintf("%s \"$1\"", ed);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
		_exit(127);
	}
	int st = 0, r = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		r = rx_fail(ctx, ECANCELED, "the editor failed; nothing was changed (your copy is in %s)", path);
	free(cmd);
	return r;
}

struct fd_out {
	int fd;
	struct rx_ctx *ctx;
};

static int fd_out_put(void *arg, const uint8_t *buf, size_t len)
{
	struct fd_out *o = arg;
	while (len) {
		ssize_t n = write(o->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(o->ctx, errno, "write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char edit_help[] =
	"Usage: rximg edit IMAGE:/path\n"
	"Open a copy of a file in $VISUAL or $EDITOR (default vi) and write it back into the\n"
	"image if it changed. The image stays locked while the editor runs.\n\n"
	"  -h, --help  show this help\n";

int cmd_edit(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(edit_help, stdout);
			return EXIT_OK;
		}
		return bad_option("edit", argv);
	}
	if (argc - optind != 1)
		return usage_error("edit", "expected IMAGE:/path");
	struct place w;
	char **paths;
	int s = place_begin("edit", 1, argv + optind, &w, &paths);
	if (s)
		return s;
	struct vfs *v = w.v;
	struct vfs_attr st;
	struct fd_out out = { -1, v->ctx };
	char *tmp;
	int fd = edit_tempfile(v->ctx, paths[0], &tmp);
	int r = fd < 0 ? fd : 0;
	int existed = 0;
	if (r == 0) {
		r = vfs_stat(v, paths[0], 1, &st);
		if (r == 0 && !vfs_is_file(&st))
			r = rx_fail(v->ctx, EINVAL, "not a regular file");
		if (r == 0) {
			existed = 1;
			out.fd = fd;
			r = vfs_read_seq(v, paths[0], fd_out_put, &out);
		} else if (r == -ENOENT) {
			rx_clear(v->ctx);
			r = 0;
		}
	}
	struct stat before, after;
	if (r == 0 && fstat(fd, &before) != 0)
		r = rx_fail(v->ctx, errno, "%s", strerror(errno));
	if (r == 0)
		r = run_editor(v->ctx, tmp);
	int changed = 0;
	if (r == 0 && stat(tmp, &after) == 0)
		changed = (!existed && after.st_size > 0) || after.st_size != before.st_size ||
			  rx_stat_mtime(&after).tv_sec != rx_stat_mtime(&before).tv_sec ||
			  rx_stat_mtime(&after).tv_nsec != rx_stat_mtime(&before).tv_nsec;
	if (r == 0 && changed) {
		int in = open(tmp, O_RDONLY | O_CLOEXEC);
		r = in < 0 ? rx_fail(v->ctx, errno, "%s: %s", tmp, strerror(errno))
			   : write_from_fd(v, paths[0], in, NULL, 0, 0);
		if (in >= 0)
			close(in);
	}
	if (fd >= 0) {
		close(fd);
		if (r != -ECANCELED)
			unlink(tmp);
	}
	free(tmp);
	if (r == 0 && !changed)
		fprintf(stderr, "rximg: %s: %s: unchanged\n", w.label, paths[0]);
	return place_finish(&w, paths, r, paths[0]);
}
