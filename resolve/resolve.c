/* Taking IMAGE[:pN][:/path][:/member...] apart and opening the chain of levels it names. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "outfile.h"
#include "resolve.h"
#include "tx.h"

static const char ifs_magic[8] = { 'R', 'e', 'd', 'o', 'x', 'F', 't', 'w' };

static int host_image(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

void rx_pathspec_free(struct rx_pathspec *s)
{
	for (int i = 0; i < s->nseg; i++)
		free(s->seg[i]);
	free(s->seg);
	free(s->image);
	memset(s, 0, sizeof(*s));
}

static void add_seg(struct rx_pathspec *s, const char *p, size_t len)
{
	s->seg = rx_xrealloc(s->seg, (size_t)(s->nseg + 1) * sizeof(*s->seg));
	s->seg[s->nseg] = strndup(p, len);
	if (!s->seg[s->nseg])
		abort();
	s->nseg++;
}

/* What follows the image name: [pN:|redoxfs:][/path[:/path...]] */
static int parse_rest(struct rx_ctx *ctx, const char *arg, const char *rest, struct rx_pathspec *s)
{
	if (rest[0] == 'p' && rest[1] >= '0' && rest[1] <= '9') {
		char *end;
		long n = strtol(rest + 1, &end, 10);
		if ((*end == 0 || *end == ':') && n > 0 && n < 1000) {
			s->partno = (int)n;
			rest = *end ? end + 1 : end;
		}
	} else if (!strncmp(rest, "redoxfs", 7) && (rest[7] == 0 || rest[7] == ':')) {
		rest += rest[7] ? 8 : 7;
	} else if (!strncmp(rest, "esp", 3) && (rest[3] == 0 || rest[3] == ':')) {
		s->partno = RX_PART_ESP;
		rest += rest[3] ? 4 : 3;
	}
	if (*rest == 0)
		return 0;
	/* Names inside RedoxFS, initfs and FAT never hold ':', so every ':' starts a level. */
	for (;;) {
		const char *sep = strchr(rest, ':');
		size_t len = sep ? (size_t)(sep - rest) : strlen(rest);
		if (len == 0 && (!sep || sep[1] == 0) && s->nseg > 0) {
			add_seg(s, "/", 1);	/* "ARCHIVE:" is the archive's root */
			return 0;
		}
		if (rest[0] != '/' && s->nseg > 0) {
			/* "/dir/a:b": a name with ':', which no filesystem here allows. */
			const char *prev = s->seg[s->nseg - 1], *base = strrchr(prev, '/');
			base = base ? base + 1 : prev;
			return rx_fail(ctx, EINVAL, "%s: the name '%s:%.*s' contains ':', which RedoxFS, initfs and "
				       "FAT names never do (a path inside an archive starts with '/': expected "
				       "IMAGE[:pN][:/path][:/member])", arg, base,
				       (int)RX_MIN(len, 64), rest);
		}
		if (rest[0] != '/')
			return rx_fail(ctx, EINVAL, "%s: expected IMAGE[:pN][:/path][:/member], got '%.*s' "
				       "where a path starting with '/' belongs", arg, (int)RX_MIN(len, 64), rest);
		add_seg(s, rest, len);
		if (s->nseg > RX_RES_MAX_LEVELS)
			return rx_fail(ctx, EINVAL, "%s: more than %d levels of nesting", arg, RX_RES_MAX_LEVELS);
		if (!sep)
			return 0;
		rest = sep + 1;
	}
}

int rx_pathspec_parse(struct rx_ctx *ctx, const char *arg, struct rx_pathspec *s)
{
	memset(s, 0, sizeof(*s));
	s->partno = RX_PART_AUTO;
	if (host_image(arg)) {
		s->image = rx_xstrdup(arg);
		return 0;
	}
	/* The image name is the shortest prefix before a ':' that names an existing file. */
	for (const char *c = strchr(arg, ':'); c; c = strchr(c + 1, ':')) {
		char *prefix = strndup(arg, (size_t)(c - arg));
		if (!prefix)
			abort();
		if (host_image(prefix)) {
			s->image = prefix;
			int r = parse_rest(ctx, arg, c + 1, s);
			if (r)
				rx_pathspec_free(s);
			return r;
		}
		free(prefix);
	}
	const char *c = strchr(arg, ':');
	char *name = c ? strndup(arg, (size_t)(c - arg)) : rx_xstrdup(arg);
	if (!name)
		abort();
	struct stat st;
	int r = stat(name, &st) == 0 ? rx_fail(ctx, EINVAL, "%s: not a regular file or block device", name)
				      : rx_fail(ctx, errno, "%s: %s", name, strerror(errno));
	free(name);
	return r;
}

static struct vfs_time clock_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct vfs_time){ (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec };
}

/* ---- levels ---- */

static struct rx_level *new_level(struct rx_res *res, enum rx_level_kind kind, char *label)
{
	struct rx_level *lv = &res->lv[res->nlv++];
	memset(lv, 0, sizeof(*lv));
	lv->kind = kind;
	lv->label = label;
	lv->host_fd = -1;
	return lv;
}

/* Partition partno of lv's disk as FAT; else a message naming the partition and what it is. */
static int open_fat_partition(struct rx_res *res, struct rx_level *lv, int partno)
{
	struct rx_ctx *ctx = res->ctx;
	const struct rx_parttable *t = &lv->img->table;
	const struct rx_part *p = NULL;
	for (int i = 0; i < t->count && !p; i++)
		if (t->parts[i].partno == partno)
			p = &t->parts[i];
	if (!p)
		return -ENOENT;	/* the RedoxFS lookup's message stands */
	char fsname[32] = "";
	int holds = rx_part_fs_name(lv->img->container, p, fsname, sizeof(fsname));
	rx_clear(ctx);
	int r = rx_fat_part_open(ctx, lv->img->container, p, res->opts.write, &lv->esp);
	if (r == 0) {
		lv->kind = RX_LV_FAT;
		vfs_fat_init(&lv->vfs, ctx, lv->esp.fat, res->opts.write, res->opts.now);
		return 0;
	}
	/* A partition meant to hold FAT: its own problem is the news. */
	if (rx_part_is_esp(p) || (holds && !strcmp(fsname, "vfat"))) {
		rx_prefix(ctx, "FAT");
		return r;
	}
	rx_clear(ctx);
	const char *type = rx_part_type_name(p->type);
	/* The label names the partition already ("disk.img:p2"): say what it is. */
	return rx_fail(ctx, ENOENT, "no RedoxFS header and no FAT file system (%s%s%s%s%s%s)",
		       type ? "a" : "partition type ", type ? (strchr("AEIOU", type[0]) ? "n " : " ") : "",
		       type ? type : p->type, type ? " partition" : "", holds ? ", holding " : "",
		       holds ? fsname : "");
}

static int open_redoxfs(struct rx_res *res, const struct rx_pathspec *s)
{
	struct rx_ctx *ctx = res->ctx;
	char *label = s->partno > 0 ? rx_xasprintf("%s:p%d", s->image, s->partno) : rx_xstrdup(s->image);
	struct rx_level *lv = new_level(res, RX_LV_REDOXFS, label);
	int r = rx_image_open(ctx, s->image, s->partno, res->opts.write ? RX_DEV_RDWR : RX_DEV_RDONLY, &lv->img);
	if (r == 0)
		r = rx_image_redoxfs(lv->img, &lv->fs);
	if (r == 0 && res->opts.unlock)
		r = res->opts.unlock(res->opts.unlock_arg, lv->fs, s->image);
	if (r == 0 && res->opts.write) {
		lv->fs->dropped = res->opts.dropped;
		lv->fs->dropped_arg = res->opts.dropped_arg;
		r = rfs_tx_begin(lv->fs, &lv->tx);
	}
	if (r == 0)
		vfs_rfs_init(&lv->vfs, lv->fs, lv->tx, res->opts.now);
	/* A partition named by number that holds no RedoxFS may hold FAT (an ESP, a data partition). */
	if (r == -ENOENT && s->partno > 0 && lv->img && lv->img->fsdev && !lv->fs)
		r = open_fat_partition(res, lv, s->partno);
	return r;
}

/* The EFI system partition: the disk opened (and locked when writing), its FAT. */
static int open_esp(struct rx_res *res, const struct rx_pathspec *s)
{
	struct rx_ctx *ctx = res->ctx;
	struct rx_level *lv = new_level(res, RX_LV_FAT, rx_xasprintf("%s:esp", s->image));
	int r = rx_image_open(ctx, s->image, RX_PART_AUTO, res->opts.write ? RX_DEV_RDWR : RX_DEV_RDONLY, &lv->img);
	if (r == 0)
		r = rx_esp_open(ctx, lv->img->container, &lv->img->table, res->opts.write, &lv->esp);
	if (r == 0)
		vfs_fat_init(&lv->vfs, ctx, lv->esp.fat, res->opts.write, res->opts.now);
	return r;
}

static int decode(struct rx_res *res, struct rx_level *lv)
{
	int r = ifs_load(res->ctx, lv->buf, lv->len, res->opts.layout, &lv->a);
	if (r)
		return r;
	lv->loaded = 1;
	lv->exists = 1;
	lv->root = lv->a.root;
	vfs_ifs_init(&lv->vfs, res->ctx, lv->root, lv->a.layout, res->opts.write);
	lv->vfs.now = res->opts.now;
	return 0;
}

/* An archive that is a host file: read whole (and held, locked, when writing). */
static int open_host_archive(struct rx_res *res, const char *path)
{
	struct rx_ctx *ctx = res->ctx;
	struct rx_level *lv = new_level(res, RX_LV_INITFS, rx_xstrdup(path));
	lv->host = rx_xstrdup(path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rx_fail(ctx, errno, "%s", strerror(errno));
	struct stat held, now;
	int r = 0;
	if (res->opts.write) {
		lv->host_fd = fd;
		/* Two writers of one archive would lose one edit; so would QEMU's. */
		r = rx_lock_image(ctx, fd);
		/* Locked, but maybe an inode another rximg has just renamed a new archive over. */
		if (r == 0 && (fstat(fd, &held) != 0 || stat(path, &now) != 0 || held.st_ino != now.st_ino ||
			       held.st_dev != now.st_dev))
			r = rx_fail(ctx, EAGAIN, "replaced by another program while being opened; try again");
		if (r == 0 && !S_ISREG(held.st_mode))
			r = rx_fail(ctx, EINVAL, "only an archive in a regular file can be rewritten "
				    "(write it to a file and copy it to the device)");
		if (r == 0) {
			lv->host_mode = held.st_mode & 07777;
			lv->host_uid = held.st_uid;
			lv->host_gid = held.st_gid;
		}
	} else if (fstat(fd, &held) != 0) {
		r = rx_fail(ctx, errno, "%s", strerror(errno));
	}
	off_t end = 0;
	if (r == 0) {
		end = S_ISBLK(held.st_mode) ? lseek(fd, 0, SEEK_END) : held.st_size;
		if (end < 0)
			r = rx_fail(ctx, errno, "%s", strerror(errno));
		else if ((uint64_t)end > IFS_MAX_BYTES)
			r = rx_fail(ctx, EFBIG, "4 GiB or more: an initfs must be smaller than 4 GiB");
	}
	if (r == 0) {
		lv->len = (uint64_t)end;
		lv->buf = rx_xmalloc(lv->len ? (size_t)lv->len : 1);
		for (uint64_t off = 0; off < lv->len && r == 0;) {
			ssize_t n = pread(fd, lv->buf + off, (size_t)(lv->len - off), (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				r = rx_fail(ctx, n < 0 ? errno : EIO, "read: %s",
					    n < 0 ? strerror(errno) : "unexpected end of file");
			else
				off += (uint64_t)n;
		}
	}
	if (!res->opts.write)
		rx_close_file(fd);
	return r ? r : decode(res, lv);
}

struct grow {
	uint8_t *buf;
	uint64_t len;
};

static int grow_put(void *arg, const uint8_t *p, size_t n)
{
	struct grow *g = arg;
	memcpy(g->buf + g->len, p, n);
	g->len += n;
	return 0;
}

/*
 * Enter the file at path of the innermost level as an archive. missing_ok: a
 * missing or empty file gives an empty new tree (enter_last for a new archive).
 */
static int enter_archive(struct rx_res *res, const char *path, int missing_ok)
{
	struct rx_ctx *ctx = res->ctx;
	struct rx_level *parent = rx_res_inner(res);
	struct vfs_attr a;
	int r = vfs_stat(&parent->vfs, path, 1, &a);
	char *label = rx_xasprintf("%s:%s", parent->label, path);
	if (res->nlv == RX_RES_MAX_LEVELS) {
		free(label);
		return rx_fail(ctx, EINVAL, "more than %d levels of nesting", RX_RES_MAX_LEVELS);
	}
	if (r == -ENOENT && missing_ok) {
		rx_clear(ctx);
		struct rx_level *lv = new_level(res, RX_LV_INITFS, label);
		lv->in_parent = rx_xstrdup(path);
		lv->root = ifs_node_new(IFS_DIR, 0755);
		vfs_ifs_init(&lv->vfs, ctx, lv->root, IFS_LAYOUT_NONE, res->opts.write);
		return 0;
	}
	if (r) {
		rx_prefix(ctx, "%s", label);
		free(label);
		return r;
	}
	if (!vfs_is_file(&a)) {
		r = rx_fail(ctx, ENOTDIR, "%s: %s, not a container (a further ':/path' goes inside an "
			    "initfs archive)", label, vfs_is_dir(&a) ? "is a directory" : "is not a regular file");
		free(label);
		return r;
	}
	if (a.size > IFS_MAX_BYTES) {
		r = rx_fail(ctx, EFBIG, "%s: 4 GiB or more: not an initfs archive", label);
		free(label);
		return r;
	}
	struct grow g = { rx_xmalloc(a.size ? (size_t)a.size : 1), 0 };
	r = vfs_read_seq(&parent->vfs, path, grow_put, &g);
	if (r == 0 && g.len != a.size)
		r = rx_fail(ctx, EIO, "the file changed size while being read");
	if (r == 0 && g.len == 0 && missing_ok) {
		free(g.buf);
		struct rx_level *lv = new_level(res, RX_LV_INITFS, label);
		lv->in_parent = rx_xstrdup(path);
		lv->root = ifs_node_new(IFS_DIR, 0755);
		vfs_ifs_init(&lv->vfs, ctx, lv->root, IFS_LAYOUT_NONE, res->opts.write);
		return 0;
	}
	if (r == 0 && (g.len < 8 || memcmp(g.buf, ifs_magic, 8)))
		r = rx_fail(ctx, ENOTDIR, "is a regular file, not a container (not an initfs archive: no "
			    "RedoxFtw magic)");
	if (r) {
		rx_prefix(ctx, "%s", label);
		free(label);
		free(g.buf);
		return r;
	}
	struct rx_level *lv = new_level(res, RX_LV_INITFS, label);
	lv->in_parent = rx_xstrdup(path);
	lv->buf = g.buf;
	lv->len = g.len;
	r = decode(res, lv);
	if (r)
		rx_prefix(ctx, "%s", label);
	return r;
}

int rx_res_enter(struct rx_res *res, const char *path)
{
	int n = res->nlv;
	int r = enter_archive(res, path, 0);
	while (r && res->nlv > n)
		rx_res_leave(res);
	res->label = rx_res_inner(res)->label;
	return r;
}

struct head {
	uint8_t buf[8];
	size_t len;
};

static int head_put(void *arg, uint64_t off, const uint8_t *buf, size_t len)
{
	struct head *h = arg;
	if (off != h->len)
		return 1;	/* a hole in the first bytes: zeros, not the magic */
	size_t n = RX_MIN(len, sizeof(h->buf) - h->len);
	memcpy(h->buf + h->len, buf, n);
	h->len += n;
	return h->len == sizeof(h->buf);	/* 1: enough read */
}

int rx_vfs_is_archive(struct vfs *v, const char *path)
{
	struct vfs_attr a;
	struct head h = { { 0 }, 0 };
	if (vfs_stat(v, path, 1, &a) != 0 || !vfs_is_file(&a) || a.size < 8 || a.size > IFS_MAX_BYTES) {
		rx_clear(v->ctx);
		return 0;
	}
	int r = vfs_read(v, path, head_put, &h);
	if (r < 0)
		rx_clear(v->ctx);	/* unreadable: the walk that reads it whole says so */
	return h.len == 8 && !memcmp(h.buf, ifs_magic, 8);
}

int rx_is_initfs_file(const char *path)
{
	char m[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, m, sizeof(m), 0);
	rx_close_file(fd);
	return n == 8 && !memcmp(m, ifs_magic, 8);
}

static int enter_levels(struct rx_res *res, const struct rx_res_opts *opts, int r);

/* A res with arg parsed, no level open yet. */
static int res_new(struct rx_ctx *ctx, const char *arg, const struct rx_res_opts *opts, struct rx_res **out)
{
	struct rx_res *res = rx_xcalloc(1, sizeof(*res));
	res->ctx = ctx;
	res->opts = *opts;
	if (!res->opts.now)
		res->opts.now = clock_now;
	int r = rx_pathspec_parse(ctx, arg, &res->spec);
	if (r) {
		free(res);
		return r;
	}
	*out = res;
	return 0;
}

int rx_res_open_in(struct rx_res *parent, const char *arg, const struct rx_res_opts *opts, struct rx_res **out)
{
	struct rx_res *res;
	int r = res_new(parent->ctx, arg, opts, &res);
	*out = NULL;
	if (r)
		return r;
	struct rx_level *lv = new_level(res, parent->lv[0].kind, NULL);
	struct rx_level *own = &parent->lv[0];
	*lv = *own;
	lv->label = rx_xstrdup(own->label);
	lv->owner = own;
	return enter_levels(res, opts, 0) == 0 ? (*out = res, 0) : -1;
}

int rx_res_open(struct rx_ctx *ctx, const char *arg, const struct rx_res_opts *opts, struct rx_res **out)
{
	struct rx_res *res;
	int r = res_new(ctx, arg, opts, &res);
	*out = NULL;
	if (r)
		return r;
	const struct rx_pathspec *s = &res->spec;
	if (s->partno == RX_PART_AUTO && rx_is_initfs_file(s->image))
		r = open_host_archive(res, s->image);
	else if (s->partno == RX_PART_ESP)
		r = open_esp(res, s);
	else
		r = open_redoxfs(res, s);
	if (r)
		rx_prefix(ctx, "%s", res->nlv ? res->lv[0].label : s->image);
	if (enter_levels(res, opts, r) != 0)
		return -1;
	*out = res;
	return 0;
}

/* Past the outermost level: every path but the last names an archive to go into. */
static int enter_levels(struct rx_res *res, const struct rx_res_opts *opts, int r)
{
	const struct rx_pathspec *s = &res->spec;
	for (int i = 0; r == 0 && i + 1 < s->nseg; i++)
		r = enter_archive(res, s->seg[i], 0);
	res->path = s->nseg ? s->seg[s->nseg - 1] : "/";
	/* enter_last: unless the last path already is an archive's root ("initfs.img", "A:/b:/"). */
	if (r == 0 && opts->enter_last && !(rx_res_inner(res)->kind == RX_LV_INITFS && ifs_is_root_path(res->path))) {
		r = enter_archive(res, res->path, opts->archive_missing_ok);
		res->path = "/";
	}
	if (r) {
		rx_res_close(res);
		return r;
	}
	res->label = rx_res_inner(res)->label;
	return 0;
}

struct rx_image *rx_res_image(struct rx_res *r)
{
	return r->lv[0].img;
}

int rx_res_same(struct rx_res *res, const struct rx_pathspec *s)
{
	struct stat a, b;
	if (stat(s->image, &a) != 0 || stat(res->spec.image, &b) != 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino || s->partno != res->spec.partno || s->nseg != res->spec.nseg)
		return 0;
	for (int i = 0; i + 1 < s->nseg; i++)
		if (strcmp(s->seg[i], res->spec.seg[i]))
			return 0;
	return 1;
}

/* ---- writing back ---- */

/* The archive of lv laid out again (same layout, bootstrap and entry) into a new unlinked temporary file. */
static int layout_archive(struct rx_res *res, struct rx_level *lv, int fd)
{
	if (lv->have_out) {
		int r = ifs_write(res->ctx, lv->out_root, &lv->out_opts, fd, NULL);
		if (r)
			rx_prefix(res->ctx, "%s", lv->label);
		return r;
	}
	struct ifs_write_opts o = { 0 };
	o.layout = lv->loaded ? lv->a.layout : IFS_V6;
	if (!ifs_layout_writable(o.layout))
		return rx_fail(res->ctx, EROFS, "%s: layout %s is read-only; convert the archive with 'rximg "
			       "initfs extract' and 'rximg initfs repack --layout'", lv->label,
			       ifs_layout_name(o.layout));
	if (lv->loaded) {
		o.boot = ifs_bootstrap(&lv->a);
		o.boot_len = lv->a.boot_len;
		o.entry = lv->a.has_entry ? lv->a.entry : IFS_NO_ENTRY;
		uint64_t elf_entry;
		struct rx_ctx ectx = { { 0 }, 0 };
		if (o.boot && lv->a.boot_elf && lv->a.has_entry && res->opts.warn &&
		    ifs_entry_of(&ectx, o.boot, o.boot_len, &elf_entry) == 0 && elf_entry != o.entry) {
			char msg[200];
			snprintf(msg, sizeof(msg), "bootstrap_entry 0x%llx differs from the bootstrap's e_entry "
				 "0x%llx; keeping bootstrap_entry", (unsigned long long)o.entry,
				 (unsigned long long)elf_entry);
			res->opts.warn(res->opts.warn_arg, lv->label, msg);
		}
	} else {
		o.entry = IFS_NO_ENTRY;
	}
	struct vfs_time t = res->opts.now();
	o.time_sec = t.sec;
	o.time_nsec = t.nsec;
	uint64_t need = lv->loaded ? ifs_needed(lv->a.layout, lv->a.size) : 0;
	o.max_size = res->opts.max_size ? res->opts.max_size : RX_MAX(IFS_DEFAULT_MAX_SIZE, need);
	int r = ifs_write(res->ctx, lv->root, &o, fd, NULL);
	if (r)
		rx_prefix(res->ctx, "%s", lv->label);
	return r;
}

static int temp_file(struct rx_ctx *ctx)
{
	const char *dir = getenv("TMPDIR");
	char *name = rx_xasprintf("%s/rximg-initfs-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(name);
	if (fd < 0)
		rx_fail(ctx, errno, "%s: %s", name, strerror(errno));
	else
		unlink(name);
	free(name);
	return fd < 0 ? -1 : fd;
}

/* A host archive: NAME.partial, renamed over NAME, keeping its mode and (for root) owner. */
static int commit_host(struct rx_res *res, struct rx_level *lv)
{
	struct rx_ctx *ctx = res->ctx;
	struct rx_outfile of;
	rx_outfile_init(&of, lv->host);
	int fd = rx_outfile_create(ctx, &of, O_WRONLY, 0666);
	int r = fd < 0 ? fd : 0;
	if (r == 0 && fchmod(fd, lv->host_mode) != 0)
		r = rx_fail(ctx, errno, "%s: %s", of.partial, strerror(errno));
	if (r == 0 && geteuid() == 0 && (lv->host_uid || lv->host_gid) &&
	    fchown(fd, lv->host_uid, lv->host_gid) == 0)
		fchmod(fd, lv->host_mode);
	if (r == 0)
		r = layout_archive(res, lv, fd);
	return rx_outfile_finish(ctx, &of, fd, r);
}

int rx_res_set_archive(struct rx_res *res, struct ifs_node *root, const struct ifs_write_opts *o)
{
	struct rx_level *lv = rx_res_inner(res);
	if (lv->kind != RX_LV_INITFS || !res->opts.write)
		return rx_fail(res->ctx, EINVAL, "%s: not an archive opened for writing", lv->label);
	lv->out_root = root;
	lv->out_opts = *o;
	lv->have_out = 1;
	lv->vfs.dirty = 1;
	return 0;
}

int rx_res_commit(struct rx_res *res)
{
	struct rx_ctx *ctx = res->ctx;
	int r = 0;
	for (int i = res->nlv - 1; i >= 0 && r == 0; i--) {
		struct rx_level *lv = &res->lv[i];
		if (lv->owner) {
			/* Pending in the session that owns it. */
			lv->owner->vfs.dirty |= lv->vfs.dirty;
			continue;
		}
		if (!lv->vfs.dirty)
			continue;
		if (lv->kind == RX_LV_FAT) {
			/* Each change landed as it was made (no transaction in FAT). */
		} else if (lv->kind == RX_LV_REDOXFS) {
			r = rfs_tx_commit(lv->tx);
			lv->tx = NULL;
			if (r)
				rx_prefix(ctx, "%s", lv->label);
		} else if (lv->host) {
			r = commit_host(res, lv);
		} else {
			int fd = temp_file(ctx);
			r = fd < 0 ? -EIO : layout_archive(res, lv, fd);
			if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
				r = rx_fail(ctx, errno, "%s", strerror(errno));
			/* Into the level before: it becomes dirty and is written next. */
			if (r == 0 && (r = vfs_write_fd(&res->lv[i - 1].vfs, lv->in_parent, fd, 0644)) != 0)
				rx_prefix(ctx, "%s", lv->label);
			if (fd >= 0)
				close(fd);
		}
		if (r == 0)
			lv->vfs.dirty = 0;
	}
	if (r == 0)
		res->committed = 1;
	return r;
}

static void level_free(struct rx_level *lv)
{
	if (lv->owner) {
		/* Whatever went into the borrowed level stays pending there. */
		lv->owner->vfs.dirty |= lv->vfs.dirty;
		free(lv->label);
		return;
	}
	if (lv->tx)
		rfs_tx_abort(lv->tx);
	if (lv->kind == RX_LV_FAT) {
		rx_esp_close(&lv->esp);
		lv->vfs.priv = NULL;	/* the FAT, just closed */
	}
	if (lv->loaded)
		ifs_archive_free(&lv->a);
	else
		ifs_tree_free(lv->root);
	free(lv->buf);
	if (lv->host_fd >= 0) {
		rx_lock_release(lv->host_fd);
		close(lv->host_fd);
	}
	rx_image_close(lv->img);
	free(lv->vfs.priv);
	free(lv->host);
	free(lv->in_parent);
	free(lv->label);
}

void rx_res_leave(struct rx_res *res)
{
	if (res->nlv > 1)
		level_free(&res->lv[--res->nlv]);
	res->label = rx_res_inner(res)->label;
}

void rx_res_close(struct rx_res *res)
{
	if (!res)
		return;
	for (int i = res->nlv - 1; i >= 0; i--)
		level_free(&res->lv[i]);
	rx_pathspec_free(&res->spec);
	free(res);
}
