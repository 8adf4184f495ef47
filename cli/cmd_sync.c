/* rximg inject, rximg sync: the everyday ways to bring a build into an image. */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "outfile.h"
#include "progress.h"
#include "qcow2.h"

/* rximg.conf in the current directory: "key = value" lines, '#' comments. */
static char *conf_get(const char *key)
{
	FILE *f = fopen("rximg.conf", "r");
	char line[4096], *val = NULL;
	if (!f)
		return NULL;
	while (!val && fgets(line, sizeof(line), f)) {
		char *p = line, *eq;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || !(eq = strchr(p, '=')))
			continue;
		char *k_end = eq;
		while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
			k_end--;
		if ((size_t)(k_end - p) != strlen(key) || strncmp(p, key, strlen(key)))
			continue;
		char *v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t n = strcspn(v, "\r\n");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		val = strndup(v, n);
	}
	fclose(f);
	return val;
}

static int is_image_file(const char *p)
{
	struct stat st;
	return !strstr(p, ":/") && stat(p, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static const char inject_help[] =
	"Usage: rximg inject [OPTIONS] [IMAGE] PATH... | SRC:/dest...\n"
	"Bring files from a build into an image in one atomic commit. Each PATH is a path\n"
	"inside the image whose source is the same path under --from DIR (a staging tree laid\n"
	"out like the image); SRC:/dest pairs name the source explicitly.\n"
	"IMAGE may come from -i, the first argument, $RXIMG_IMAGE, or 'image = ...' in an\n"
	"rximg.conf in the current directory ('from = ...' there sets --from).\n\n"
	"  -i, --image IMAGE   the image to change\n"
	"      --from DIR      staging tree for PATH arguments (also $RXIMG_FROM)\n"
	"  -p, --preserve      take mode, owner and times from the source\n"
	"  -r, --recursive     copy directories too\n"
	"  -m, --mode MODE     set this mode (octal)\n"
	"      --owner U:G     set this owner\n"
	"  -P, --parents       create missing parent directories\n"
	"      --overlay NEW   leave IMAGE untouched: create the qcow2 overlay NEW on it\n"
	"                      and write the change there (NEW must not exist)\n"
	"  -h, --help          show this help\n";

/*
 * inject --overlay: a new overlay on the image, written as NEW.partial and
 * renamed once the commit has landed. Returns the image spec to open in it.
 */
static char *overlay_start(const char *image, const char *overlay, struct rx_outfile *of)
{
	static struct rx_ctx ctx;
	struct target t;
	struct stat st;
	if (target_parse(&ctx, image, &t) != 0) {
		report(&ctx, NULL, NULL);
		return NULL;
	}
	if (lstat(overlay, &st) == 0) {
		fprintf(stderr, "rximg: %s: already exists\n", overlay);
		target_free(&t);
		return NULL;
	}
	char *spec = NULL;
	rx_outfile_init(of, overlay);
	if (rx_qcow2_make_overlay(&ctx, t.image, of->partial, overlay, 0, 16) != 0) {
		report(&ctx, overlay, NULL);
		rx_outfile_free(of);
	} else {
		spec = t.partno > 0 ? rx_xasprintf("%s:p%d", of->partial, t.partno) : rx_xstrdup(of->partial);
	}
	target_free(&t);
	return spec;
}

int cmd_inject(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, 0, 'i' }, { "from", required_argument, 0, 'F' },
		{ "preserve", no_argument, 0, 'p' },    { "recursive", no_argument, 0, 'r' },
		{ "mode", required_argument, 0, 'm' },  { "owner", required_argument, 0, 'o' },
		{ "parents", no_argument, 0, 'P' },     { "help", no_argument, 0, 'h' },
		{ "overlay", required_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	struct put_opts po = { 0 };
	struct rfs_owner owner;
	const char *image = NULL, *from = NULL, *overlay = NULL;
	struct rx_outfile ov = { 0 };
	char *ov_spec = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "i:prm:Ph", opts, NULL)) != -1) {
		switch (c) {
		case 'i': image = optarg; break;
		case 'F': from = optarg; break;
		case 'p': po.preserve = 1; break;
		case 'r': po.recursive = 1; break;
		case 'm':
			if (parse_mode(optarg, &po.mode))
				return usage_error("inject", "bad mode '%s'", optarg);
			po.have_mode = 1;
			break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("inject", "bad owner '%s'", optarg);
			po.owner = &owner;
			break;
		case 'P': po.parents = 1; break;
		case 'V': overlay = optarg; break;
		case 'h': fputs(inject_help, stdout); return EXIT_OK;
		default: return bad_option("inject", argv);
		}
	}
	char *conf_image = NULL, *conf_from = NULL;
	if (!image)
		image = getenv("RXIMG_IMAGE");
	if (!image)
		image = conf_image = conf_get("image");
	/* A first operand is the image only when nothing else names one: /paths exist on hosts too. */
	if (!image && optind < argc && is_image_file(argv[optind]))
		image = argv[optind++];
	if (!from)
		from = getenv("RXIMG_FROM");
	if (!from)
		from = conf_from = conf_get("from");
	int status;
	if (!image) {
		status = usage_error("inject", "no image: give IMAGE, -i, $RXIMG_IMAGE or rximg.conf");
		goto out;
	}
	if (optind >= argc) {
		status = usage_error("inject", "nothing to inject");
		goto out;
	}
	if (overlay && !(image = ov_spec = overlay_start(image, overlay, &ov))) {
		status = EXIT_FAIL;
		goto out;
	}
	struct wsession w;
	if (wsession_open(image, &w)) {
		status = EXIT_FAIL;
		goto out;
	}
	status = EXIT_OK;
	for (int i = optind; i < argc && status == EXIT_OK; i++) {
		char *src, *dest;
		const char *sep = strstr(argv[i], ":/");
		if (sep) {
			src = strndup(argv[i], (size_t)(sep - argv[i]));
			dest = rx_xstrdup(sep + 1);
		} else if (argv[i][0] == '/') {
			if (!from) {
				rfs_tx_abort(w.tx);
				close_target(&w.o);
				status = usage_error("inject", "%s: no --from DIR to take it from", argv[i]);
				goto out;
			}
			src = rx_xasprintf("%s%s", from, argv[i]);
			dest = rx_xstrdup(argv[i]);
		} else {
			rfs_tx_abort(w.tx);
			close_target(&w.o);
			status = usage_error("inject", "'%s' is neither /path nor SRC:/dest", argv[i]);
			goto out;
		}
		int r = 0;
		if (po.parents) {
			char *parent, *name;
			r = rfs_split_path(w.o.fs, dest, &parent, &name);
			if (r == 0) {
				r = rfs_op_mkdir(w.tx, parent, 0755, 1, po.owner, now_time());
				free(parent);
				free(name);
			}
		}
		if (r == 0)
			r = put_one(&w, src, dest, &po);
		if (r)
			status = wsession_fail(&w, dest);
		free(src);
		free(dest);
	}
	if (status == EXIT_OK)
		status = wsession_commit(&w);
out:
	if (ov.partial) {
		static struct rx_ctx ctx;
		if (rx_outfile_finish(&ctx, &ov, -1, status == EXIT_OK ? 0 : -EIO) != 0 && status == EXIT_OK) {
			report(&ctx, NULL, NULL);
			status = EXIT_FAIL;
		}
	}
	free(ov_spec);
	free(conf_image);
	free(conf_from);
	return status;
}

/*
 * ---- sync into a place only the vfs reaches: an initfs archive, the ESP ----
 * Neither stores times that could be compared (an archive has none; FAT's
 * cannot be set here), so a file of the same size is compared by contents.
 */
struct vsync {
	struct vfs *v;
	int delete;
	struct progress *bar;
	uint64_t changed;
};

/* Are the host file's bytes (fd at offset 0) what a vfs file streams? */
struct same_bytes {
	int fd;
	int differ;
	struct rx_ctx *ctx;
};

static int compare_put(void *arg, const uint8_t *buf, size_t len)
{
	struct same_bytes *s = arg;
	uint8_t tmp[65536];
	while (len && !s->differ) {
		ssize_t n = read(s->fd, tmp, RX_MIN(len, sizeof(tmp)));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(s->ctx, errno, "%s", strerror(errno));
		if (n == 0 || memcmp(tmp, buf, (size_t)n)) {
			s->differ = 1;	/* the rest is read and ignored: readers stop only on errors */
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int same_contents(struct vsync *y, const char *path, int fd, int *same)
{
	struct same_bytes s = { fd, 0, y->v->ctx };
	int r = vfs_read_seq(y->v, path, compare_put, &s);
	if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
		r = rx_fail(y->v->ctx, errno, "%s", strerror(errno));
	*same = r == 0 && !s.differ;
	return r;
}

static int vsync_dir(struct vsync *y, int dirfd, const char *host_path, const char *vpath, unsigned depth);

/*
 * The permission bits of the source, where the format keeps them and they
 * differ. known: the entry's attributes from before the sync touched it (NULL
 * for an entry it made, which is looked up: the format may keep fewer bits).
 */
static int vsync_mode(struct vsync *y, const char *vpath, const struct stat *st, const struct vfs_attr *known)
{
	struct vfs_attr a;
	if (!(y->v->has & VFS_HAS_PERMS))
		return 0;
	int r = 0;
	if (known)
		a = *known;
	else
		r = vfs_stat(y->v, vpath, 0, &a);
	if (r || (a.mode & 07777) == (st->st_mode & 07777))
		return r;
	a.mode = (uint16_t)(st->st_mode & 07777);
	return vfs_setattr(y->v, vpath, VFS_SET_MODE, &a, 1);
}

static int vsync_entry(struct vsync *y, int dirfd, const char *name, const char *host_path, const char *vpath,
		       unsigned depth)
{
	struct rx_ctx *ctx = y->v->ctx;
	struct stat st;
	struct vfs_attr a;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
	uint16_t type = S_ISDIR(st.st_mode) ? VFS_DIR : S_ISLNK(st.st_mode) ? VFS_LINK : S_ISREG(st.st_mode) ? VFS_FILE : 0;
	if (!type || (type == VFS_LINK && !(y->v->has & VFS_HAS_LINKS))) {
		warnx_("%s: skipped (%s stores no %s)", host_path, y->v->kind,
		       type == VFS_LINK ? "symbolic links" : "special files");
		return 0;
	}
	int r = vfs_stat(y->v, vpath, 0, &a);
	int have = r == 0;
	if (r == -ENOENT) {
		rx_clear(ctx);
		r = 0;
	}
	if (r)
		return r;
	if (have && (a.mode & VFS_TYPE) != type) {
		/* A path that changed type is replaced. */
		if ((r = vfs_remove(y->v, vpath, 1, 1)) != 0)
			return r;
		have = 0;
	}
	if (!have)
		y->changed++;
	if (type == VFS_DIR) {
		if (!have && (r = vfs_mkdir(y->v, vpath, (uint16_t)(st.st_mode & 07777), 0)) != 0)
			return r;
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		r = vsync_dir(y, fd, host_path, vpath, depth + 1);
		close(fd);
	} else if (type == VFS_FILE) {
		int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		int same = 0;
		if (have && a.size == (uint64_t)st.st_size)
			r = same_contents(y, vpath, fd, &same);
		if (r == 0 && !same) {
			r = vfs_write_fd(y->v, vpath, fd, (uint16_t)(st.st_mode & 07777));
			y->changed += have;
		}
		close(fd);
		if (r == 0)
			progress_add(y->bar, (uint64_t)st.st_size);
	} else {
		char target[4097];
		ssize_t len = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (len < 0)
			return rx_fail(ctx, errno, "%s: %s", host_path, strerror(errno));
		target[len] = 0;
		char *cur = NULL;
		int same = have && vfs_readlink(y->v, vpath, &cur) == 0 && !strcmp(cur, target);
		free(cur);
		rx_clear(ctx);
		if (!same && have) {
			y->changed++;
			r = vfs_remove(y->v, vpath, 0, 0);
		}
		if (r == 0 && !same)
			r = vfs_symlink(y->v, target, vpath);
		return r;
	}
	return r ? r : vsync_mode(y, vpath, &st, have ? &a : NULL);
}

static int vsync_dir(struct vsync *y, int dirfd, const char *host_path, const char *vpath, unsigned depth)
{
	char *arena, **names;
	if (depth > 4096)
		return rx_fail(y->v->ctx, ELOOP, "%s: directories nest too deeply", host_path);
	ssize_t count = import_host_names(dirfd, &arena, &names);
	if (count < 0)
		return rx_fail(y->v->ctx, errno, "%s: %s", host_path, strerror(errno));
	int r = 0;
	if (y->delete) {
		struct name_list have;
		memset(&have, 0, sizeof(have));
		r = vfs_readdir(y->v, vpath, 1, name_list_add, &have);
		for (size_t i = 0; i < have.n && r == 0; i++) {
			if (bsearch(&have.v[i], names, (size_t)count, sizeof(*names), import_names_cmp))
				continue;
			char *p = rx_path_join(vpath, have.v[i], strlen(have.v[i]));
			r = vfs_remove(y->v, p, 1, 1);
			free(p);
			y->changed++;
		}
		name_list_free(&have);
	}
	for (ssize_t i = 0; i < count && r == 0; i++) {
		char *hp = rx_path_join(host_path, names[i], strlen(names[i]));
		char *vp = rx_path_join(vpath, names[i], strlen(names[i]));
		r = vsync_entry(y, dirfd, names[i], hp, vp, depth);
		free(hp);
		free(vp);
	}
	free(names);
	free(arena);
	return r;
}

/* Does the destination name an archive or the ESP (only the vfs reaches them)? */
static int sync_needs_vfs(const char *arg)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_pathspec s;
	if (names_member(arg))
		return 1;
	if (rx_pathspec_parse(&ctx, arg, &s) != 0)
		return 0;
	int yes = s.nseg == 0 && s.partno == RX_PART_AUTO && rx_is_initfs_file(s.image);
	rx_pathspec_free(&s);
	return yes;
}

static int sync_vfs(const char *dir, int fd, const char *arg, struct vsync *y, int verbose, int quiet)
{
	struct place p;
	struct progress bar;
	struct vfs_attr a;
	if (place_open(arg, 1, &p)) {
		close(fd);
		return EXIT_FAIL;
	}
	y->v = p.v;
	y->bar = &bar;
	import_bar_init(&bar, "sync", &dir, 1, quiet);
	int r = vfs_mkdir(p.v, p.path, 0755, 1);
	if (r == 0)
		r = vfs_stat(p.v, p.path, 1, &a);
	if (r == 0 && !vfs_is_dir(&a))
		r = rx_fail(p.v->ctx, ENOTDIR, "not a directory");
	if (r == 0)
		r = vsync_dir(y, fd, dir, p.path, 0);
	close(fd);
	if (r) {
		progress_stop(&bar);
		place_report(&p, p.path);
		place_close(&p);
		return EXIT_FAIL;
	}
	if (verbose) {
		progress_pause();
		fprintf(stderr, "rximg: %s: %llu entr%s changed\n", p.label, (unsigned long long)y->changed,
			y->changed == 1 ? "y" : "ies");
	}
	int status = place_commit(&p);
	if (status == EXIT_OK)
		progress_done(&bar);
	else
		progress_stop(&bar);
	return status;
}

static const char sync_help[] =
	"Usage: rximg sync [OPTIONS] DIR IMAGE[:/dest]\n"
	"Make /dest in the image (default /) match the host directory DIR: new and changed\n"
	"files, directories and symlinks are written (changed = other size or mtime), modes,\n"
	"owners and times updated; nothing else is touched. One atomic commit.\n"
	"/dest may be inside an initfs archive (disk.img:/boot/initfs:/etc) or on the ESP\n"
	"(disk.img:esp:/EFI): there files of the same size are compared by contents.\n\n"
	"  -c, --checksum   compare contents instead of size and mtime (only changed\n"
	"                   records are rewritten)\n"
	"      --delete     remove what DIR no longer has\n"
	"      --owner U:G  owner of everything (default: the source's)\n"
	"  -v, --verbose    say how many entries changed\n"
	"  -q, --quiet      no progress bar\n"
	"  -h, --help       show this help\n";

int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "checksum", no_argument, 0, 'c' }, { "delete", no_argument, 0, 'D' },
		{ "owner", required_argument, 0, 'o' }, { "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },     { "quiet", no_argument, 0, 'q' },
		{ 0, 0, 0, 0 },
	};
	struct import_opts io = { .keep_owner = 1, .sync = 1 };
	struct rfs_owner owner;
	int c, verbose = 0, quiet = 0;
	while ((c = getopt_long(argc, argv, "cvqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': io.checksum = 1; break;
		case 'D': io.delete = 1; break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("sync", "bad owner '%s'", optarg);
			io.owner = &owner;
			break;
		case 'v': verbose = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(sync_help, stdout); return EXIT_OK;
		default: return bad_option("sync", argv);
		}
	}
	if (argc - optind != 2)
		return usage_error("sync", "expected DIR IMAGE[:/dest]");
	const char *dir = argv[optind];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "rximg: %s: %s\n", dir, strerror(errno));
		return EXIT_FAIL;
	}
	if (sync_needs_vfs(argv[optind + 1])) {
		if (io.owner) {
			close(fd);
			return usage_error("sync", "--owner is not available inside an archive or the ESP");
		}
		struct vsync y = { .delete = io.delete };
		return sync_vfs(dir, fd, argv[optind + 1], &y, verbose, quiet);
	}
	struct wsession w;
	if (wsession_open(argv[optind + 1], &w)) {
		close(fd);
		return EXIT_FAIL;
	}
	io.have_epoch = reproducible_epoch(&io.epoch);
	const char *dest = w.o.t.path ? w.o.t.path : "/";
	struct rfs_node dn;
	int r = rfs_op_mkdir(w.tx, dest, 0755, 1, io.owner, now_time());
	if (r == 0)
		r = rfs_lookup(w.o.fs, dest, 1, &dn);
	if (r == 0 && !rfs_is_dir(&dn))
		r = rx_fail(w.o.fs->ctx, ENOTDIR, "not a directory");
	io.ipath = dest;
	struct progress bar;
	import_bar_begin(&bar, w.tx, "sync", (const char *const *)(argv + optind), 1, quiet);
	if (r == 0)
		r = import_contents(w.tx, &dn, fd, dir, &io);
	close(fd);
	if (r) {
		progress_stop(&bar);
		return wsession_fail(&w, dest);
	}
	if (verbose) {
		progress_pause();
		fprintf(stderr, "rximg: %s: %llu entr%s changed\n", w.o.t.image,
			(unsigned long long)io.changed, io.changed == 1 ? "y" : "ies");
	}
	return wsession_commit_progress(&w, &bar);
}
