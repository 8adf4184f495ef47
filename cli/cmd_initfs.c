/*
 * rximg initfs: look into, extract, repack and edit Redox initfs archives,
 * as host files or as files inside a RedoxFS image (IMAGE[:pN]:/path).
 * Paths inside an archive follow one more ':' (ARCHIVE:/etc/init.rc).
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "initfs.h"
#include "outfile.h"
#include "seahash.h"
#include "table.h"

static struct rx_ctx ictx;	/* messages of the initfs library */

#define MAX_DEPTH 1024u		/* directory nesting rximg follows when printing or extracting */
#define EXIT_UNBOOTABLE 3	/* info --check: read fine, but something keeps it from booting */

/* ---- naming an archive: FILE[:/member] or IMAGE[:pN]:/path[:/member], through the resolver ---- */

struct arc {
	const char *arg;
	char *spec;		/* the archive alone: arg without the member */
	char *member;		/* a path inside the archive, or NULL */
	const char *label;	/* what messages name */
	char *label_own;	/* label, kept past the place (which a commit closes) */
	struct place p;		/* the archive, opened as the innermost level */
	int opened;
	const struct ifs_archive *a;	/* its header and tree (p's level owns them) */
	struct ifs_node *root;	/* the tree edits change */
	int loaded;
	int undecodable;	/* found, but not a valid archive */
	char *host;		/* repack -o: a new host file */
};

static int host_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static int empty_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
}

static int arc_fail(const char *label, const char *fmt, ...) RX_PRINTF(2, 3);
static int arc_fail(const char *label, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "rximg: %s: ", label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/*
 * Split arg into the archive and a member. A host file that starts with
 * "RedoxFtw" is an archive; any other host file is a disk image, and the
 * archive is a file inside it (IMAGE[:pN]:/path). A further ':/path' is the
 * member (archives nest: the last path is the member, the rest the archive).
 * output: the archive need not exist yet (repack -o).
 */
static int arc_parse(const char *arg, int member_ok, int output, struct arc *x)
{
	memset(x, 0, sizeof(*x));
	x->arg = x->label = arg;
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_pathspec s;
	if (output && host_file(arg) && !empty_file(arg)) {
		if (!rx_is_initfs_file(arg))
			return arc_fail(arg, "exists and is not an initfs archive (remove it first, or name a "
					"file inside a disk image as IMAGE:/path)");
		x->spec = rx_xstrdup(arg);	/* an archive to replace */
		return 0;
	}
	if (output && (host_file(arg) || !strchr(arg, ':') || rx_pathspec_parse(&ctx, arg, &s) != 0)) {
		x->host = rx_xstrdup(arg);	/* a new host file */
		return 0;
	}
	if (!output && rx_pathspec_parse(&ctx, arg, &s) != 0) {
		report(&ctx, NULL, NULL);
		return -1;
	}
	int in_image = !(s.partno == RX_PART_AUTO && rx_is_initfs_file(s.image));
	if (in_image && s.nseg == 0) {
		rx_pathspec_free(&s);
		if (!rx_is_initfs_file(arg) && host_file(arg))
			return arc_fail(arg, "not an initfs archive (no RedoxFtw magic); an archive inside a "
					"disk image is named IMAGE:/path");
		return arc_fail(arg, "name the archive file inside the image: IMAGE[:pN]:/path (e.g. "
				"disk.img:/boot/initfs)");
	}
	if (s.nseg > in_image) {
		const char *last = s.seg[s.nseg - 1];
		x->member = rx_xstrdup(last);
		x->spec = strndup(arg, strlen(arg) - strlen(last) - 1);
		if (!x->spec)
			abort();
	} else {
		x->spec = rx_xstrdup(arg);
	}
	rx_pathspec_free(&s);
	x->label = x->spec;
	if (x->member && !member_ok)
		return arc_fail(arg, "a path inside the archive (:%s) is not expected here", x->member);
	return 0;
}

static void arc_close(struct arc *x)
{
	if (x->opened)
		place_close(&x->p);
	x->opened = 0;
	free(x->spec);
	free(x->member);
	free(x->host);
	free(x->label_own);
	x->spec = x->member = x->host = x->label_own = NULL;
	x->label = x->arg;
}

/*
 * Open the archive through the resolver (locked, as one pending change, when
 * writing). missing_ok: it may not exist yet; then x->loaded is 0 and the
 * tree is empty.
 */
static int arc_open(struct arc *x, enum ifs_layout force, int write, int missing_ok, uint64_t max)
{
	struct rx_res_opts o;
	place_opts(&o, write);
	o.enter_last = 1;
	o.archive_missing_ok = missing_ok;
	o.layout = force;
	o.max_size = max;
	if (place_open_with(x->spec, &o, &x->p) != 0) {
		/* Found but not decodable: repack may still replace it. */
		x->undecodable = missing_ok && x->p.ctx.err != ENOENT && strstr(x->p.ctx.msg, "magic") == NULL;
		return -1;
	}
	x->opened = 1;
	struct rx_level *lv = rx_res_inner(x->p.res);
	x->loaded = lv->loaded;
	x->a = lv->loaded ? &lv->a : NULL;
	x->root = lv->root;
	x->label = x->label_own = rx_xstrdup(lv->label);
	return 0;
}

static int arc_read(struct arc *x, enum ifs_layout force)
{
	return arc_open(x, force, 0, 0, 0);
}

/* A whole new archive written with o (repack): into its place in the image, or as a host file. */
static int arc_commit(struct arc *x, struct ifs_node *root, const struct ifs_write_opts *o)
{
	if (x->host) {
		struct rx_outfile of;
		rx_outfile_init(&of, x->host);
		int fd = rx_outfile_create(&ictx, &of, O_WRONLY, 0666);
		int r = fd < 0 ? fd : 0;
		if (r == 0 && (r = ifs_write(&ictx, root, o, fd, NULL)) != 0)
			rx_prefix(&ictx, "%s", x->label);
		if ((r = rx_outfile_finish(&ictx, &of, fd, r)) != 0)
			report(&ictx, NULL, NULL);
		return r;
	}
	if (rx_res_set_archive(x->p.res, root, o) != 0 || place_commit(&x->p) != EXIT_OK) {
		if (x->p.res)
			place_report(&x->p, NULL);
		x->opened = x->p.res != NULL;
		return -1;
	}
	x->opened = 0;
	return 0;
}

/* ---- small shared pieces ---- */

static int parse_layout(const char *verb, const char *s, enum ifs_layout *l)
{
	if (ifs_layout_parse(s, l) == 0)
		return 0;
	usage_error(verb, "unknown layout '%s' (v1, v2a, v2b, v3, v4, v5a, v5b, v6a, v6)", s);
	return -1;
}

static int parse_max(const char *verb, const char *s, uint64_t *v)
{
	if (parse_size(s, v) == 0 && *v > 0)
		return 0;
	usage_error(verb, "bad size '%s' (bytes; K, M, G suffixes are powers of 1024)", s);
	return -1;
}

static const char *type_name(enum ifs_type t)
{
	return t == IFS_DIR ? "dir" : t == IFS_LINK ? "symlink" : "file";
}

static uint16_t rfs_mode_of(const struct ifs_node *n)
{
	uint16_t t = n->type == IFS_DIR ? RFS_MODE_DIR : n->type == IFS_LINK ? RFS_MODE_SYMLINK : RFS_MODE_FILE;
	return (uint16_t)(t | (n->mode & 07777));
}

static uint64_t shown_size(const struct ifs_node *n)
{
	return n->type == IFS_DIR ? n->n : n->size;	/* directories: entries, as redox-initfs-dump */
}

static int write_fd_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The member of an archive (default "/"), symlinks followed as asked. */
static int find_member(struct arc *x, int follow, struct ifs_node **n)
{
	const char *path = x->member ? x->member : "/";
	if (ifs_resolve(&ictx, x->a->root, path, follow, n) != 0) {
		report(&ictx, x->label, path);
		return -1;
	}
	return 0;
}

/* "/a/b" -> "a/b": the form paths take when converting link targets. */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return path;
}

static char *child_path(const char *dir, const char *name)
{
	return dir[0] ? rx_xasprintf("%s/%s", dir, name) : rx_xstrdup(name);
}

/* ---- info ---- */

static const char info_help[] =
	"Usage: rximg initfs info [OPTIONS] ARCHIVE\n"
	"Describe an initfs: layout variant, header fields, bootstrap, contents, room left\n"
	"below the maximum size, and what would stop it from booting.\n\n"
	"      --check         exit with status 3 when something keeps it from booting\n"
	"      --json          print a JSON object\n"
	"      --layout V      read it as layout V instead of detecting the layout\n"
	"      --max-size SIZE the limit to measure the free room against (default 64M)\n"
	"  -h, --help          show this help\n";

static const char *link_form_name(enum ifs_layout l)
{
	switch (ifs_layout_link_form(l)) {
	case IFS_LINK_ROOT: return "relative to the archive root";
	case IFS_LINK_PARENT: return "relative to the link's directory";
	default: return "not supported";
	}
}

/* What initfs info shows: the header, the bootstrap, the contents, the room left, the boot check. */
enum {
	I_ARCHIVE, I_LAYOUT, I_DESCRIPTION, I_DETECTED, I_WRITABLE, I_FILE_SIZE, I_INITFS_SIZE, I_ITO,
	I_COUNT, I_ROOT, I_PAGE_SIZE, I_TIME, I_ENTRY, I_BOOTSTRAP, I_FILES, I_DIRS, I_LINKS, I_DATA,
	I_LINK_FORM, I_MAX, I_NEEDED, I_FREE, I_WARNINGS, I_BOOTABLE, I_BOOT_PROBLEMS, I_INODE_SIZE,
	/* prose only the text shows */
	I_AS_TOLD, I_HEADER_SIZE, I_NO_BOOTSTRAP, I_ROOM, I_OVER, I_FAILS, I_PASSES,
};
static const struct tfield info_fields[] = {
	[I_ARCHIVE] = { "archive", TK_STR, 0 },
	[I_LAYOUT] = { "layout", TK_STR, 0 },
	[I_DESCRIPTION] = { "description", TK_STR, 0 },
	[I_DETECTED] = { "detected", TK_BOOL, 0 },
	[I_WRITABLE] = { "writable", TK_BOOL, 0 },
	[I_FILE_SIZE] = { "file_size", TK_COUNT, 0 },
	[I_INITFS_SIZE] = { "initfs_size", TK_COUNT, 0 },
	[I_ITO] = { "inode_table_offset", TK_COUNT, 0 },
	[I_COUNT] = { "inode_count", TK_COUNT, 0 },
	[I_ROOT] = { "root_inode", TK_COUNT, 0 },
	[I_PAGE_SIZE] = { "page_size", TK_COUNT, TF_NULL },
	[I_TIME] = { "creation_time", TK_TIME, TF_NULL },
	[I_ENTRY] = { "bootstrap_entry", TK_HEX, TF_NULL },
	[I_BOOTSTRAP] = { "bootstrap", TK_RECORD, TF_NULL },
	[I_FILES] = { "files", TK_COUNT, 0 },
	[I_DIRS] = { "directories", TK_COUNT, 0 },
	[I_LINKS] = { "symlinks", TK_COUNT, 0 },
	[I_DATA] = { "data_bytes", TK_U64, 0 },
	[I_LINK_FORM] = { "symlink_targets", TK_STR, 0 },
	[I_MAX] = { "max_size", TK_U64, 0 },	/* the user's */
	[I_NEEDED] = { "needed", TK_COUNT, 0 },
	[I_FREE] = { "free", TK_I64, 0 },
	[I_WARNINGS] = { "warnings", TK_LIST, 0 },
	[I_BOOTABLE] = { "bootable", TK_BOOL, 0 },
	[I_BOOT_PROBLEMS] = { "boot_problems", TK_LIST, 0 },
	[I_INODE_SIZE] = { "inode_size", TK_COUNT, 0 },
	[I_AS_TOLD] = { NULL, TK_BOOL, 0 },
	[I_HEADER_SIZE] = { NULL, TK_COUNT, 0 },
	[I_NO_BOOTSTRAP] = { NULL, TK_STR, 0 },
	[I_ROOM] = { NULL, TK_U64, 0 },
	[I_OVER] = { NULL, TK_U64, 0 },
	[I_FAILS] = { NULL, TK_COUNT, 0 },
	[I_PASSES] = { NULL, TK_STR, 0 },
};
static const struct tcol info_cols[] = {
	{ I_ARCHIVE, "archive          %s\n", 0 },
	{ I_LAYOUT, "layout           %s", 0 }, { I_AS_TOLD, " (as told)", TC_NONZERO },
	{ I_DESCRIPTION, ": %s\n", 0 },
	{ I_FILE_SIZE, "size             %s bytes", 0 }, { I_HEADER_SIZE, " (initfs_size %s)", 0 },
	{ TEXT_LIT, "\n", 0 },
	{ I_ITO, "inode table      offset 0x%x", 0 }, { I_COUNT, ", %s inodes", 0 },
	{ I_INODE_SIZE, " of %s bytes", 0 }, { I_ROOT, ", root inode %s\n", 0 },
	{ I_PAGE_SIZE, "page size        %s\n", 0 },
	{ I_TIME, "creation time    %s (%T)\n", 0 },
	{ I_BOOTSTRAP, NULL, 0 }, { I_NO_BOOTSTRAP, "bootstrap        %s\n", 0 },
	{ I_ENTRY, "bootstrap_entry  %s\n", 0 },
	{ I_FILES, "contents         %s files", 0 }, { I_DATA, " (%s bytes)", 0 },
	{ I_LINKS, ", %s symlinks", 0 }, { I_DIRS, ", %s directories (root included)\n", 0 },
	{ I_LINK_FORM, "symlink targets  %s\n", 0 },
	{ I_ROOM, "free             %s bytes below", 0 }, { I_OVER, "free             none: %s bytes over", 0 },
	{ I_MAX, " the maximum size of %s\n", 0 },
	{ I_WARNINGS, "warning          %s\n", 0 },
	{ I_FAILS, "boot check       fails: %s of the warnings keep it from booting\n", 0 },
	{ I_PASSES, "boot check       passes: %s\n", 0 },
};
static const struct tlayout info_layout = LAYOUT(info_cols);

enum { B_OFFSET, B_LENGTH, B_REGION, B_ELF, B_ELF_LENGTH, B_CLASS, B_ORDER, B_MACHINE, B_E_ENTRY, B_WHAT };
static const struct tfield boot_fields[] = {
	[B_OFFSET] = { "offset", TK_COUNT, 0 },
	[B_LENGTH] = { "length", TK_COUNT, 0 },
	[B_REGION] = { "region", TK_COUNT, 0 },
	[B_ELF] = { "elf", TK_BOOL, 0 },
	[B_ELF_LENGTH] = { "elf_length", TK_COUNT, 0 },
	[B_CLASS] = { "class", TK_COUNT, 0 },
	[B_ORDER] = { "byte_order", TK_STR, 0 },
	[B_MACHINE] = { "machine", TK_COUNT, 0 },
	[B_E_ENTRY] = { "e_entry", TK_HEX, 0 },
	[B_WHAT] = { NULL, TK_STR, 0 },	/* what it is when its ELF headers are not read */
};
static const struct tcol boot_cols[] = {
	{ B_LENGTH, "bootstrap        %s bytes", 0 }, { B_OFFSET, " at 0x%x", 0 },
	{ B_CLASS, " (ELF%s", 0 }, { B_ORDER, " %s-endian", 0 }, { B_MACHINE, ", machine %s", 0 },
	{ B_E_ENTRY, ", e_entry %s)", 0 }, { B_WHAT, " (%s)", 0 }, { TEXT_LIT, "\n", 0 },
};
static const struct tlayout boot_layout = LAYOUT(boot_cols);

static int info_one(struct arc *x, int json, uint64_t max)
{
	const struct ifs_archive *a = x->a;
	struct ifs_elf elf;
	struct rx_ctx ectx = { { 0 }, 0 };
	int have_elf = a->boot_elf && ifs_elf_parse(&ectx, ifs_bootstrap(a), a->boot_len, &elf) == 0;
	uint64_t needed = ifs_needed(a->layout, a->size);
	if (!max)
		max = RX_MAX(IFS_DEFAULT_MAX_SIZE, needed);
	struct record r, boot;
	RECORD_INIT(&r, info_fields);
	rec_str(&r, I_ARCHIVE, x->label);
	rec_str(&r, I_LAYOUT, ifs_layout_name(a->layout));
	rec_u64(&r, I_AS_TOLD, a->forced);
	rec_str(&r, I_DESCRIPTION, ifs_layout_desc(a->layout));
	rec_u64(&r, I_DETECTED, !a->forced);
	rec_u64(&r, I_WRITABLE, ifs_layout_writable(a->layout));
	rec_u64(&r, I_FILE_SIZE, a->len);
	rec_u64(&r, I_INITFS_SIZE, a->size);
	if (a->has_size)
		rec_u64(&r, I_HEADER_SIZE, a->size);
	rec_u64(&r, I_ITO, a->ito);
	rec_u64(&r, I_COUNT, a->count);
	rec_u64(&r, I_INODE_SIZE, a->layout >= IFS_V5A ? 12u : 20u);
	rec_u64(&r, I_ROOT, a->root_ino);
	if (a->has_page_size)
		rec_u64(&r, I_PAGE_SIZE, a->page_size);
	if (a->has_time)
		rec_time(&r, I_TIME, a->time_sec, a->time_nsec);
	if (a->has_entry)
		rec_u64(&r, I_ENTRY, a->entry);
	if (a->boot_len) {
		RECORD_INIT(&boot, boot_fields);
		rec_u64(&boot, B_OFFSET, IFS_PAGE);
		rec_u64(&boot, B_LENGTH, a->boot_len);
		rec_u64(&boot, B_REGION, a->data_start - IFS_PAGE);
		rec_u64(&boot, B_ELF, a->boot_elf);
		if (have_elf) {
			rec_u64(&boot, B_ELF_LENGTH, elf.len);
			rec_u64(&boot, B_CLASS, elf.class64 ? 64 : 32);
			rec_str(&boot, B_ORDER, elf.big ? "big" : "little");
			rec_u64(&boot, B_MACHINE, elf.machine);
			rec_u64(&boot, B_E_ENTRY, elf.entry);
		} else {
			rec_str(&boot, B_WHAT, a->boot_elf ? "ELF with unreadable headers" : "not an ELF");
		}
		rec_record(&r, I_BOOTSTRAP, &boot, &boot_layout);
	} else if (ifs_layout_has_bootstrap(a->layout)) {
		rec_str(&r, I_NO_BOOTSTRAP, "none");
	}
	rec_u64(&r, I_FILES, a->nfiles);
	rec_u64(&r, I_DIRS, a->ndirs);
	rec_u64(&r, I_LINKS, a->nlinks);
	rec_u64(&r, I_DATA, a->data_bytes);
	rec_str(&r, I_LINK_FORM, link_form_name(a->layout));
	rec_u64(&r, I_MAX, max);
	rec_u64(&r, I_NEEDED, needed);
	rec_i64(&r, I_FREE, (int64_t)max - (int64_t)needed);
	rec_u64(&r, needed <= max ? I_ROOM : I_OVER, needed <= max ? max - needed : needed - max);
	rec_list(&r, I_WARNINGS, (const char *const *)a->warnings, a->nwarnings);
	rec_u64(&r, I_BOOTABLE, a->nblocking == 0);
	const char **problems = rx_xcalloc(a->nwarnings + 1, sizeof(*problems));
	size_t nproblems = 0;
	for (size_t i = 0; i < a->nwarnings; i++)
		if (a->blocking[i])
			problems[nproblems++] = a->warnings[i];
	rec_list(&r, I_BOOT_PROBLEMS, problems, nproblems);
	if (a->nblocking)
		rec_u64(&r, I_FAILS, a->nblocking);
	else
		rec_str(&r, I_PASSES, "nothing found that keeps it from booting");
	struct out o;
	out_init(&o, stdout, json);
	out_record(&o, NULL, &r, &info_layout);
	out_done(&o);
	free(problems);
	return 0;
}

static int initfs_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' }, { "layout", required_argument, 0, 'L' },
		{ "max-size", required_argument, 0, 'M' }, { "check", no_argument, 0, 'C' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, json = 0, check = 0;
	enum ifs_layout force = IFS_LAYOUT_NONE;
	uint64_t max = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'C': check = 1; break;
		case 'L': if (parse_layout("initfs info", optarg, &force)) return EXIT_USAGE; break;
		case 'M': if (parse_max("initfs info", optarg, &max)) return EXIT_USAGE; break;
		case 'h': fputs(info_help, stdout); return EXIT_OK;
		default: return usage_error("initfs info", "bad option");
		}
	}
	if (argc - optind != 1)
		return usage_error("initfs info", "expected ARCHIVE");
	struct arc x;
	int r = arc_parse(argv[optind], 0, 0, &x);
	if (r == 0)
		r = arc_read(&x, force);
	if (r == 0)
		r = info_one(&x, json, max);
	int unbootable = r == 0 && x.a->nblocking;
	arc_close(&x);
	return r ? EXIT_FAIL : check && unbootable ? EXIT_UNBOOTABLE : EXIT_OK;
}

/* ---- ls ---- */

struct lsopt {
	int longfmt, recursive, unsorted, json, directory;
	struct out out;
};

static int cmp_dirent(const void *a, const void *b)
{
	const struct ifs_dirent *x = *(const struct ifs_dirent *const *)a;
	const struct ifs_dirent *y = *(const struct ifs_dirent *const *)b;
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static const struct ifs_dirent **listing(const struct ifs_node *d, int unsorted)
{
	const struct ifs_dirent **v = rx_xmalloc((d->n + 1) * sizeof(*v));
	for (size_t i = 0; i < d->n; i++)
		v[i] = &d->ents[i];
	if (!unsorted)
		qsort(v, d->n, sizeof(*v), cmp_dirent);
	return v;
}

/* An entry of initfs ls. */
enum { E_PATH, E_NAME, E_TYPE, E_MODE, E_UID, E_GID, E_SIZE, E_INODE, E_TARGET };
static const struct tfield entry_fields[] = {
	[E_PATH] = { "path", TK_STR, 0 },
	[E_NAME] = { "name", TK_STR, 0 },
	[E_TYPE] = { "type", TK_STR, 0 },
	[E_MODE] = { "mode", TK_MODE, 0 },
	[E_UID] = { "uid", TK_COUNT, 0 },
	[E_GID] = { "gid", TK_COUNT, 0 },
	[E_SIZE] = { "size", TK_COUNT, 0 },	/* directories: entries, as redox-initfs-dump */
	[E_INODE] = { "inode", TK_COUNT, 0 },
	[E_TARGET] = { "target", TK_STR, 0 },
};
static const struct tcol entry_short_cols[] = { { E_NAME, "%s\n", 0 } };
static const struct tcol entry_long_cols[] = {
	{ E_MODE, "%M ", 0 }, { E_UID, "%5s ", 0 }, { E_GID, "%5s ", 0 }, { E_SIZE, "%10s ", 0 },
	{ E_INODE, "%5s ", 0 }, { E_NAME, "%s", 0 }, { E_TARGET, " -> %s", 0 }, { TEXT_LIT, "\n", 0 },
};
static const struct tlayout entry_short = LAYOUT(entry_short_cols), entry_long = LAYOUT(entry_long_cols);

static void ls_entry(struct lsopt *o, const char *path, const char *name, size_t len,
		     const struct ifs_node *n)
{
	struct record r;
	RECORD_INIT(&r, entry_fields);
	rec_str(&r, E_PATH, path);
	rec_strn(&r, E_NAME, name, len);
	rec_str(&r, E_TYPE, type_name(n->type));
	rec_u64(&r, E_MODE, rfs_mode_of(n));
	rec_u64(&r, E_UID, n->uid);
	rec_u64(&r, E_GID, n->gid);
	rec_u64(&r, E_SIZE, shown_size(n));
	rec_u64(&r, E_INODE, n->ino);
	if (n->ino == IFS_NO_INO)
		rec_text_only(&r, E_INODE);	/* not in the archive yet: -l shows the placeholder */
	if (n->type == IFS_LINK)
		rec_strn(&r, E_TARGET, n->size ? (const char *)n->data : "", (size_t)n->size);
	out_record(&o->out, NULL, &r, o->longfmt ? &entry_long : &entry_short);
}

static int ls_dir(struct lsopt *o, const char *path, const struct ifs_node *d, unsigned depth,
		  const char *label)
{
	if (depth > MAX_DEPTH) {
		fprintf(stderr, "rximg: %s: %s: directories nest more than %u deep\n", label, path, MAX_DEPTH);
		return -1;
	}
	const struct ifs_dirent **v = listing(d, o->unsorted);
	if (o->recursive && !o->json)
		printf("%s%s:\n", depth ? "\n" : "", path);
	for (size_t i = 0; i < d->n; i++) {
		char *cp = rx_path_join(path, v[i]->name, v[i]->len);
		ls_entry(o, cp, v[i]->name, v[i]->len, v[i]->node);
		free(cp);
	}
	int r = 0;
	for (size_t i = 0; o->recursive && i < d->n && r == 0; i++) {
		if (v[i]->node->type != IFS_DIR)
			continue;
		char *cp = rx_path_join(path, v[i]->name, v[i]->len);
		r = ls_dir(o, cp, v[i]->node, depth + 1, label);
		free(cp);
	}
	free(v);
	return r;
}

static const char ls_help[] =
	"Usage: rximg initfs ls [OPTIONS] ARCHIVE[:/dir]...\n"
	"List directories inside an initfs (sorted by name). ARCHIVE is a host file or\n"
	"IMAGE[:pN]:/path of an archive inside a RedoxFS image, e.g. disk.img:/boot/initfs:/etc.\n\n"
	"  -l, --long       mode, owner, group, size (entries for directories), inode, name\n"
	"  -R, --recursive  list subdirectories recursively\n"
	"  -d, --directory  list a directory itself, not its contents\n"
	"  -U, --unsorted   keep the order stored in the archive\n"
	"      --json       print a JSON array of entries (with full paths)\n"
	"      --layout V   read the archive as layout V instead of detecting it\n"
	"  -h, --help       show this help\n";

static int initfs_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "long", no_argument, 0, 'l' },      { "recursive", no_argument, 0, 'R' },
		{ "directory", no_argument, 0, 'd' }, { "unsorted", no_argument, 0, 'U' },
		{ "json", no_argument, 0, 'j' },      { "layout", required_argument, 0, 'L' },
		{ "help", no_argument, 0, 'h' },      { 0, 0, 0, 0 },
	};
	struct lsopt o = { 0 };
	enum ifs_layout force = IFS_LAYOUT_NONE;
	int c, status = EXIT_OK;
	while ((c = getopt_long(argc, argv, "lRdUh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.longfmt = 1; break;
		case 'R': o.recursive = 1; break;
		case 'd': o.directory = 1; break;
		case 'U': o.unsorted = 1; break;
		case 'j': o.json = 1; break;
		case 'L': if (parse_layout("initfs ls", optarg, &force)) return EXIT_USAGE; break;
		case 'h': fputs(ls_help, stdout); return EXIT_OK;
		default: return usage_error("initfs ls", "bad option");
		}
	}
	if (optind >= argc)
		return usage_error("initfs ls", "expected ARCHIVE[:/dir]");
	out_init(&o.out, stdout, o.json);
	out_arr(&o.out, NULL);
	for (int i = optind; i < argc; i++) {
		struct arc x;
		struct ifs_node *n;
		if (arc_parse(argv[i], 1, 0, &x) || arc_read(&x, force) || find_member(&x, !o.directory, &n)) {
			arc_close(&x);
			status = EXIT_FAIL;
			continue;
		}
		const char *path = x.member ? x.member : "/";
		if (o.directory || n->type != IFS_DIR) {
			const char *base = strrchr(path, '/');
			base = base && base[1] ? base + 1 : path;
			ls_entry(&o, path, base, strlen(base), n);
		} else {
			if (!o.json && !o.recursive && argc - optind > 1)
				printf("%s%s:\n", i > optind ? "\n" : "", argv[i]);
			if (ls_dir(&o, path, n, 0, x.label))
				status = EXIT_FAIL;
		}
		arc_close(&x);
	}
	out_end_arr(&o.out);
	out_done(&o.out);
	return status;
}

/* ---- cat ---- */

static const char cat_help[] =
	"Usage: rximg initfs cat ARCHIVE:/file...\n"
	"Write files from an initfs to standard output (symlinks are followed),\n"
	"e.g. rximg initfs cat disk.img:/boot/initfs:/etc/init.rc.\n\n"
	"      --layout V  read the archive as layout V instead of detecting it\n"
	"  -h, --help      show this help\n";

static int initfs_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layout", required_argument, 0, 'L' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	enum ifs_layout force = IFS_LAYOUT_NONE;
	int c, status = EXIT_OK;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'L': if (parse_layout("initfs cat", optarg, &force)) return EXIT_USAGE; break;
		case 'h': fputs(cat_help, stdout); return EXIT_OK;
		default: return usage_error("initfs cat", "bad option");
		}
	}
	if (optind >= argc)
		return usage_error("initfs cat", "expected ARCHIVE:/file");
	for (int i = optind; i < argc; i++) {
		struct arc x;
		struct ifs_node *n;
		int r = arc_parse(argv[i], 1, 0, &x);
		if (r == 0 && !x.member)
			r = arc_fail(argv[i], "name a file inside the archive: ARCHIVE:/path");
		if (r == 0)
			r = arc_read(&x, force);
		if (r == 0)
			r = find_member(&x, 1, &n);
		if (r == 0 && n->type != IFS_FILE)
			r = arc_fail(x.label, "%s: is a directory", x.member);
		if (r == 0 && n->size && write_fd_all(STDOUT_FILENO, n->data, (size_t)n->size))
			r = arc_fail("standard output", "%s", strerror(errno));
		if (r)
			status = EXIT_FAIL;
		arc_close(&x);
	}
	return status;
}

/* ---- extraction onto the host ---- */

struct xt {
	const char *label;
	int force;
	int set_time;
	struct timespec times[2];
	FILE *modes;	/* or NULL: "mode" lines of the extraction record (see meta_write) */
};

static int xt_fail(struct xt *x, const char *apath, const char *what)
{
	fprintf(stderr, "rximg: %s: /%s: %s\n", x->label, apath, what);
	return -1;
}

static int xt_failerr(struct xt *x, const char *apath, const char *what)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(errno));
	return xt_fail(x, apath, buf);
}

/* Make room for name in dirfd; never follows or writes through what is there. 1: an existing dir. */
static int xt_clear(struct xt *x, int dirfd, const char *name, int want_dir, const char *apath)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : xt_failerr(x, apath, "cannot inspect");
	if (want_dir && S_ISDIR(st.st_mode))
		return 1;
	if (!x->force)
		return xt_fail(x, apath, "already exists on the host (use --force to replace it)");
	if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0)
		return xt_failerr(x, apath, "cannot replace");
	return 0;
}

static int xt_node(struct xt *x, const struct ifs_node *n, int dirfd, const char *name,
		   const char *dirpath, const char *apath, unsigned depth);

static int xt_children(struct xt *x, const struct ifs_node *d, int fd, const char *apath, unsigned depth)
{
	int r = 0;
	for (size_t i = 0; i < d->n && r == 0; i++) {
		char *cp = child_path(apath, d->ents[i].name);
		r = xt_node(x, d->ents[i].node, fd, d->ents[i].name, apath, cp, depth + 1);
		free(cp);
	}
	return r;
}

/* A mode the host did not take as stored (or DIR's own): recorded for repack. */
static void xt_note_mode(struct xt *x, int fd, const struct ifs_node *n, const char *apath)
{
	struct stat st;
	if (x->modes && fstat(fd, &st) == 0 && (st.st_mode & 07777) != (n->mode & 07777)) {
		fputs("mode\t/", x->modes);
		fput_escaped(x->modes, apath, strlen(apath));
		fprintf(x->modes, "\t%04o\t%04o\n", n->mode & 07777, (unsigned)(st.st_mode & 07777));
	}
}

static int xt_meta(struct xt *x, int fd, const struct ifs_node *n, const char *apath)
{
	if (fchmod(fd, n->mode & 07777) != 0)
		return xt_failerr(x, apath, "cannot set the mode");
	if (x->set_time && futimens(fd, x->times) != 0)
		return xt_failerr(x, apath, "cannot set the times");
	xt_note_mode(x, fd, n, apath);
	return 0;
}

static int xt_node(struct xt *x, const struct ifs_node *n, int dirfd, const char *name,
		   const char *dirpath, const char *apath, unsigned depth)
{
	if (depth > MAX_DEPTH)
		return xt_fail(x, apath, "directories nest too deep");
	if (n->type == IFS_DIR) {
		int r = xt_clear(x, dirfd, name, 1, apath);
		if (r < 0)
			return r;
		/* Owner-only while filling; the stored mode is applied last. */
		if (r == 0 && mkdirat(dirfd, name, 0700) != 0)
			return xt_failerr(x, apath, "cannot create the directory");
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return xt_failerr(x, apath, "cannot open the directory");
		r = xt_children(x, n, fd, apath, depth);
		if (r == 0)
			r = xt_meta(x, fd, n, apath);
		close(fd);
		return r;
	}
	if (n->type == IFS_LINK) {
		char *t;
		size_t len = 0;
		if (ifs_link_target(&ictx, n, dirpath, IFS_LINK_PARENT, &t, &len) != 0)
			return xt_fail(x, apath, ictx.msg);
		int r = 0;
		if (len == 0 || memchr(t, 0, len))
			r = xt_fail(x, apath, "the symlink target is empty or holds a NUL byte");
		if (r == 0)
			r = xt_clear(x, dirfd, name, 0, apath);
		/* The link is created as a link; nothing is ever written through it. */
		if (r == 0 && symlinkat(t, dirfd, name) != 0)
			r = xt_failerr(x, apath, "cannot create the symlink");
		if (r == 0 && x->set_time && utimensat(dirfd, name, x->times, AT_SYMLINK_NOFOLLOW) != 0)
			r = xt_failerr(x, apath, "cannot set the times");
		free(t);
		return r < 0 ? r : 0;
	}
	int r = xt_clear(x, dirfd, name, 0, apath);
	if (r < 0)
		return r;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return xt_failerr(x, apath, "cannot create");
	if (n->size && write_fd_all(fd, n->data, (size_t)n->size))
		r = xt_failerr(x, apath, "write");
	if (r == 0)
		r = xt_meta(x, fd, n, apath);
	close(fd);
	return r;
}

static void xt_init(struct xt *x, const struct arc *a, int force)
{
	memset(x, 0, sizeof(*x));
	x->label = a->label;
	x->force = force;
	uint64_t epoch;
	/* Every file gets the archive's creation time (what the bootstrap serves as mtime). */
	if (a->a->has_time) {
		x->set_time = 1;
		x->times[0].tv_sec = x->times[1].tv_sec =
			a->a->time_sec > (uint64_t)INT64_MAX ? (time_t)INT64_MAX : (time_t)a->a->time_sec;
		x->times[0].tv_nsec = x->times[1].tv_nsec = a->a->time_nsec < 1000000000u ? a->a->time_nsec : 0;
	} else if (reproducible_epoch(&epoch)) {
		x->set_time = 1;
		x->times[0].tv_sec = x->times[1].tv_sec = (time_t)RX_MIN(epoch, (uint64_t)INT64_MAX);
	}
}

/* Write bytes to path through path.partial and a rename. */
static int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct rx_outfile of;
	rx_outfile_init(&of, path);
	int fd = rx_outfile_create(&ictx, &of, O_WRONLY, mode);
	int r = fd < 0 ? fd : 0;
	if (r == 0 && write_fd_all(fd, buf, len))
		r = rx_fail(&ictx, errno, "%s: %s", of.partial, strerror(errno));
	if ((r = rx_outfile_finish(&ictx, &of, fd, r)) != 0)
		report(&ictx, NULL, NULL);
	return r;
}

/* The path of the directory holding member (for converting link targets), "" for the root. */
static char *member_dir(const char *member)
{
	const char *p = rel(member ? member : "/");
	const char *slash = strrchr(p, '/');
	return slash ? strndup(p, (size_t)(slash - p)) : rx_xstrdup("");
}

/* ---- the extraction record: what repack needs to rebuild the archive byte for byte ---- */

#define META_MAGIC "rximg-initfs-meta\t1"
#define META_SUFFIX ".initfs-meta"
#define BOOT_SUFFIX ".bootstrap"

/*
 * DIR's sibling DIR+suffix: where extract writes the bootstrap and the record
 * and where repack finds them, in DIR's parent and so never inside the tree.
 * DIR written as ".", "..", "a/.", or a symlink is first resolved to its real
 * path. NULL when DIR is "/" (or cannot be resolved): there is no beside.
 */
static char *beside(const char *dir, const char *suffix)
{
	size_t l = strlen(dir), b;
	while (l > 1 && dir[l - 1] == '/')
		l--;
	for (b = l; b && dir[b - 1] != '/'; b--)
		;
	const char *last = dir + b;
	size_t blen = l - b;
	char *trimmed = strndup(dir, l);
	if (!trimmed)
		abort();
	struct stat st;
	int plain = blen && !(blen == 1 && last[0] == '.') && !(blen == 2 && !memcmp(last, "..", 2)) &&
		    !(lstat(trimmed, &st) == 0 && S_ISLNK(st.st_mode));
	char *out = NULL;
	if (plain) {
		out = rx_xasprintf("%s%s", trimmed, suffix);
	} else {
		char *real = realpath(trimmed, NULL);
		if (real && strcmp(real, "/"))
			out = rx_xasprintf("%s%s", real, suffix);
		free(real);
	}
	free(trimmed);
	return out;
}

static void meta_path_line(FILE *f, const char *key, const char *path)
{
	fprintf(f, "%s\t/", key);
	fput_escaped(f, path, strlen(path));
}

/* Every entry in stored order (pre-order), with what a host tree cannot hold. */
static int meta_walk(FILE *f, const struct ifs_node *d, const char *apath, unsigned depth)
{
	if (depth > MAX_DEPTH)
		return -1;
	for (size_t i = 0; i < d->n; i++) {
		const struct ifs_node *c = d->ents[i].node;
		char *cp = child_path(apath, d->ents[i].name);
		meta_path_line(f, "entry", cp);
		fputc('\n', f);
		if (c->uid || c->gid) {
			meta_path_line(f, "owner", cp);
			fprintf(f, "\t%u\t%u\n", c->uid, c->gid);
		}
		if (c->type == IFS_LINK && c->form == IFS_LINK_ROOT) {
			/* A stored target that the host link would not give back is kept as stored. */
			char *host = NULL, *back = NULL;
			size_t hlen = 0, blen = 0;
			struct ifs_node tmp = { 0 };
			int ok = ifs_link_target(&ictx, c, apath, IFS_LINK_PARENT, &host, &hlen) == 0;
			if (ok) {
				tmp.type = IFS_LINK;
				tmp.data = (const uint8_t *)host;
				tmp.size = hlen;
				tmp.form = IFS_LINK_PARENT;
				ok = ifs_link_target(&ictx, &tmp, apath, IFS_LINK_ROOT, &back, &blen) == 0;
			}
			if (ok && (blen != c->size || memcmp(back, c->data, blen))) {
				meta_path_line(f, "link", cp);
				fputc('\t', f);
				fput_escaped(f, (const char *)c->data, (size_t)c->size);
				fputc('\t', f);
				fput_escaped(f, host, hlen);
				fputc('\n', f);
			}
			free(host);
			free(back);
		}
		int r = c->type == IFS_DIR ? meta_walk(f, c, cp, depth + 1) : 0;
		free(cp);
		if (r)
			return r;
	}
	return 0;
}

/*
 * The record written beside an extracted tree: layout, creation time, the
 * bootstrap file (relative to the record's folder, "-" when not extracted,
 * "none") with its bootstrap_entry and checksum, every entry in stored order,
 * and the owners, modes and link targets the host tree does not hold.
 */
static int meta_write(const struct arc *x, const char *path, const char *boot_ref, const char *modes,
		      size_t modes_len)
{
	const struct ifs_archive *a = x->a;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return arc_fail(path, "%s", strerror(errno));
	fprintf(f, "%s\n# rximg initfs extract of %s: what 'rximg initfs repack' needs to write it again "
		"byte for byte (see rximg-initfs(1))\n", META_MAGIC, x->label);
	fprintf(f, "layout\t%s\n", ifs_layout_name(a->layout));
	if (a->has_time)
		fprintf(f, "time\t%llu.%09u\n", (unsigned long long)a->time_sec, a->time_nsec);
	if (!a->boot_len) {
		fputs("bootstrap\tnone\n", f);
	} else {
		fputs("bootstrap\t", f);
		fput_escaped(f, boot_ref, strlen(boot_ref));
		fprintf(f, "\t0x%llx\t%016llx\n", (unsigned long long)(a->has_entry ? a->entry : IFS_NO_ENTRY),
			(unsigned long long)seahash(ifs_bootstrap(a), a->boot_len));
	}
	if (a->root->uid || a->root->gid)
		fprintf(f, "owner\t/\t%u\t%u\n", a->root->uid, a->root->gid);
	int r = meta_walk(f, a->root, "", 0);
	fwrite(modes, 1, modes_len, f);
	if (fclose(f) != 0 || r) {
		free(buf);
		return arc_fail(path, "cannot build the record%s", r ? ": directories nest too deep" : "");
	}
	r = write_file_atomic(path, buf, len, 0644);
	free(buf);
	return r;
}

static const char extract_help[] =
	"Usage: rximg initfs extract [OPTIONS] ARCHIVE[:/dir] DIR\n"
	"Extract an initfs into DIR (created if missing; nothing is written outside it):\n"
	"files with their modes, directories, and symlinks with targets converted to\n"
	"ordinary relative host links. Every file gets the archive's creation time.\n"
	"Beside DIR (never inside it) go the bootstrap ELF, DIR.bootstrap, and the record\n"
	"DIR.initfs-meta (layout, creation time, entry order) with which 'rximg initfs\n"
	"repack DIR' writes the same archive again byte for byte.\n\n"
	"  -B, --bootstrap-out FILE  write the bootstrap here ('-': do not write it)\n"
	"      --meta-out FILE       write the record here ('-': do not write it)\n"
	"  -f, --force               replace existing non-directories in DIR\n"
	"      --layout V            read the archive as layout V instead of detecting it\n"
	"  -h, --help                show this help\n";

static int extract_to(struct arc *x, const struct ifs_node *n, const char *dest, int force, FILE *modes)
{
	struct xt xt;
	xt_init(&xt, x, force);
	xt.modes = modes;
	int created = mkdir(dest, 0700) == 0;
	if (!created && errno != EEXIST)
		return arc_fail(dest, "cannot create: %s", strerror(errno));
	int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return arc_fail(dest, "%s", strerror(errno));
	char *apath = rx_xstrdup(rel(x->member ? x->member : "/"));
	char *dirpath = member_dir(x->member);
	int r;
	if (n->type == IFS_DIR) {
		r = xt_children(&xt, n, fd, apath, 0);
		/* The archive's root takes DIR's place only when DIR was made here. */
		if (r == 0 && created)
			r = xt_meta(&xt, fd, n, apath);
		else if (r == 0)
			xt_note_mode(&xt, fd, n, apath);
	} else {
		const char *base = strrchr(apath, '/');
		base = base ? base + 1 : apath;
		r = xt_node(&xt, n, fd, base, dirpath, apath, 0);
	}
	free(apath);
	free(dirpath);
	close(fd);
	return r;
}

/* Where a file beside DIR goes: the option's value ("-": nowhere, NULL), else DIR+suffix. */
static int side_path(const char *opt, const char *dest, const char *suffix, const char *what,
		     const char *flag, char **out)
{
	*out = NULL;
	if (opt)
		return strcmp(opt, "-") ? (*out = rx_xstrdup(opt), 0) : 0;
	*out = beside(dest, suffix);
	if (!*out)
		return arc_fail(dest, "there is no place beside this folder for %s: name a file with %s "
				"('-' for none)", what, flag);
	return 0;
}

static int initfs_extract(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap-out", required_argument, 0, 'B' }, { "meta-out", required_argument, 0, 'O' },
		{ "force", no_argument, 0, 'f' },               { "layout", required_argument, 0, 'L' },
		{ "help", no_argument, 0, 'h' },                { 0, 0, 0, 0 },
	};
	enum ifs_layout force_layout = IFS_LAYOUT_NONE;
	const char *boot_out = NULL, *meta_out = NULL;
	int c, force = 0;
	while ((c = getopt_long(argc, argv, "B:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'B': boot_out = optarg; break;
		case 'O': meta_out = optarg; break;
		case 'f': force = 1; break;
		case 'L': if (parse_layout("initfs extract", optarg, &force_layout)) return EXIT_USAGE; break;
		case 'h': fputs(extract_help, stdout); return EXIT_OK;
		default: return usage_error("initfs extract", "bad option");
		}
	}
	if (argc - optind != 2)
		return usage_error("initfs extract", "expected ARCHIVE[:/dir] DIR");
	const char *dest = argv[optind + 1];
	struct arc x;
	struct ifs_node *n;
	char *boot_path = NULL, *meta_path = NULL, *modes = NULL;
	size_t modes_len = 0;
	FILE *mf = NULL;
	int r = arc_parse(argv[optind], 1, 0, &x);
	if (r == 0)
		r = arc_read(&x, force_layout);
	if (r == 0)
		r = find_member(&x, 1, &n);
	/* The bootstrap and the record describe the whole archive, not one of its folders. */
	int whole = r == 0 && (!x.member || !rel(x.member)[0]);
	if (r == 0 && x.a->boot_len && (boot_out || whole))
		r = side_path(boot_out, dest, BOOT_SUFFIX, "the bootstrap", "-B", &boot_path);
	if (r == 0 && whole)
		r = side_path(meta_out, dest, META_SUFFIX, "the record", "--meta-out", &meta_path);
	else if (r == 0 && meta_out && strcmp(meta_out, "-"))
		warnx_("%s: the record describes a whole archive; %s not written", x.label, meta_out);
	if (r == 0 && meta_path && !(mf = open_memstream(&modes, &modes_len)))
		r = arc_fail(meta_path, "%s", strerror(errno));
	if (r == 0)
		r = extract_to(&x, n, dest, force, mf);
	if (mf && fclose(mf) != 0 && r == 0)
		r = arc_fail(meta_path, "%s", strerror(errno));
	if (r == 0 && boot_path)
		r = write_file_atomic(boot_path, ifs_bootstrap(x.a), x.a->boot_len, 0755);
	else if (r == 0 && boot_out && strcmp(boot_out, "-") && !x.a->boot_len)
		warnx_("%s: the archive has no bootstrap; %s not written", x.label, boot_out);
	if (r == 0 && meta_path) {
		/* The record names the bootstrap relative to its own folder when they sit together. */
		char *ref = NULL;
		if (!boot_path)
			ref = rx_xstrdup("-");
		else if (!boot_out && !meta_out)
			ref = rx_xstrdup(strrchr(boot_path, '/') ? strrchr(boot_path, '/') + 1 : boot_path);
		else if (!(ref = realpath(boot_path, NULL)))
			r = arc_fail(boot_path, "%s", strerror(errno));
		if (r == 0)
			r = meta_write(&x, meta_path, ref, modes ? modes : "", modes_len);
		free(ref);
	}
	free(modes);
	free(boot_path);
	free(meta_path);
	arc_close(&x);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* ---- get ---- */

static const char get_help[] =
	"Usage: rximg initfs get [OPTIONS] ARCHIVE:/path [DEST]\n"
	"Copy one file or directory out of an initfs (symlinks are followed). DEST defaults\n"
	"to the name in the current directory; an existing directory receives the copy\n"
	"inside it; '-' writes a file to standard output. Existing files are replaced.\n\n"
	"      --layout V  read the archive as layout V instead of detecting it\n"
	"  -h, --help      show this help\n";

static int initfs_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layout", required_argument, 0, 'L' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	enum ifs_layout force = IFS_LAYOUT_NONE;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'L': if (parse_layout("initfs get", optarg, &force)) return EXIT_USAGE; break;
		case 'h': fputs(get_help, stdout); return EXIT_OK;
		default: return usage_error("initfs get", "bad option");
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage_error("initfs get", "expected ARCHIVE:/path [DEST]");
	struct arc x;
	struct ifs_node *n;
	int r = arc_parse(argv[optind], 1, 0, &x);
	if (r == 0 && !x.member)
		r = arc_fail(argv[optind], "name a path inside the archive: ARCHIVE:/path");
	if (r == 0)
		r = arc_read(&x, force);
	if (r == 0)
		r = find_member(&x, 1, &n);
	if (r) {
		arc_close(&x);
		return EXIT_FAIL;
	}
	const char *base = strrchr(x.member, '/');
	base = base && base[1] ? base + 1 : "initfs-root";
	const char *dest = argc - optind == 2 ? argv[optind + 1] : base;
	struct stat st;
	if (!strcmp(dest, "-")) {
		if (n->type != IFS_FILE)
			r = arc_fail(x.label, "%s: is a directory", x.member);
		else if (n->size && write_fd_all(STDOUT_FILENO, n->data, (size_t)n->size))
			r = arc_fail("standard output", "%s", strerror(errno));
	} else {
		char *target = stat(dest, &st) == 0 && S_ISDIR(st.st_mode) ? rx_path_join(dest, base, strlen(base))
									  : rx_xstrdup(dest);
		if (n->type == IFS_FILE) {
			r = write_file_atomic(target, n->data, (size_t)n->size, n->mode & 07777);
			if (r == 0 && chmod(target, n->mode & 07777) != 0)
				r = arc_fail(target, "%s", strerror(errno));
		} else {
			/* A directory: its tree, under the name it has in the archive or DEST. */
			r = extract_to(&x, n, target, 1, NULL);
		}
		free(target);
	}
	arc_close(&x);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* ---- writing: options shared by repack and the edits ---- */

static int parse_time_arg(const char *s, uint64_t *sec, uint32_t *nsec)
{
	char *end;
	if (*s == '@')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	*sec = strtoull(s, &end, 10);
	*nsec = 0;
	if (*end == '.') {
		const char *f = end + 1;
		unsigned digits = 0;
		for (; *f >= '0' && *f <= '9' && digits < 9; f++, digits++)
			*nsec = *nsec * 10 + (uint32_t)(*f - '0');
		if (digits == 0)
			return -1;
		for (; digits < 9; digits++)
			*nsec *= 10;
		end = (char *)f;
	}
	return *end ? -1 : 0;
}

/* Creation time: SOURCE_DATE_EPOCH, else now. */
static void default_time(struct ifs_write_opts *o)
{
	struct rfs_time t = now_time();
	o->time_sec = t.sec;
	o->time_nsec = t.nsec;
}

/* The largest of the reference's default and what the archive already needs. */
static uint64_t default_max(const struct arc *old)
{
	uint64_t need = old && old->loaded ? ifs_needed(old->a->layout, old->a->size) : 0;
	return RX_MAX(IFS_DEFAULT_MAX_SIZE, need);
}

static void elf_warn_cli(void *arg, const char *msg)
{
	warnx_("%s: %s", (const char *)arg, msg);
}

static void warn_no_bootstrap(const struct ifs_write_opts *o, const char *label)
{
	if (!o->boot && o->layout >= IFS_V3)
		warnx_("%s: no bootstrap: bootstrap_entry is 0xffffffffffffffff and the archive will not "
		       "boot on its own", label);
}

/* ---- reading the extraction record ---- */

enum meta_boot { MB_NONE = 1, MB_NOT_EXTRACTED, MB_FILE };

/* A fact of one entry that the host tree does not hold: owner, stored mode, stored link target. */
struct meta_fix {
	char kind;		/* 'o', 'm', 'l' */
	const char *path;
	uint32_t a, b;		/* owner: uid, gid; mode: stored, host */
	const char *stored, *host;	/* link targets */
};

struct meta {
	int loaded;
	char *path;
	char *text;		/* the file, split into fields in place */
	enum ifs_layout layout;
	int has_time;
	uint64_t time_sec;
	uint32_t time_nsec;
	enum meta_boot boot;
	char *boot_file;
	uint64_t entry, hash;
	struct ifs_node *order;	/* directories only: the stored order of every entry */
	struct meta_fix *fixes;
	size_t nfixes;
};

static void meta_free(struct meta *m)
{
	ifs_tree_free(m->order);
	free(m->fixes);
	free(m->boot_file);
	free(m->text);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

static int parse_octal_mode(const char *s, uint32_t *v)
{
	uint16_t m;
	if (parse_mode(s, &m))
		return -1;
	*v = m;
	return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (*end || errno || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* One "entry" line: the entries come in pre-order, so the parent is on the stack. */
struct ostack {
	struct ifs_node **node;
	const char **path;
	size_t n, cap;
};

static const char *meta_order_add(struct ostack *st, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (path[0] != '/' || !slash[1])
		return "not a path inside the archive";
	size_t plen = (size_t)(slash - path);
	while (st->n > 1 && (strlen(st->path[st->n - 1]) != plen || memcmp(st->path[st->n - 1], path, plen)))
		st->n--;
	if (strlen(st->path[st->n - 1]) != plen || memcmp(st->path[st->n - 1], path, plen))
		return "listed before its folder";
	const char *name = slash + 1;
	const char *why = ifs_name_problem(name, strlen(name));
	if (why)
		return why;
	if (st->n > MAX_DEPTH)
		return "folders nest too deep";
	struct ifs_node *c = ifs_node_new(IFS_DIR, 0755);
	ifs_dir_append(st->node[st->n - 1], name, strlen(name), c);
	if (st->n == st->cap) {
		st->cap *= 2;
		st->node = rx_xrealloc(st->node, st->cap * sizeof(*st->node));
		st->path = rx_xrealloc(st->path, st->cap * sizeof(*st->path));
	}
	st->node[st->n] = c;
	st->path[st->n++] = path;
	return NULL;
}

static int slurp(const char *path, uint8_t **buf, size_t *len);

/* One line, split into at most 5 unescaped fields; NULL or a reason. */
static const char *meta_line(struct meta *m, struct ostack *st, char **f, int nf)
{
	const char *k = f[0];
	if (!strcmp(k, "layout") && nf == 2)
		return ifs_layout_parse(f[1], &m->layout) ? "unknown layout" : NULL;
	if (!strcmp(k, "time") && nf == 2) {
		m->has_time = 1;
		return parse_time_arg(f[1], &m->time_sec, &m->time_nsec) ? "bad time" : NULL;
	}
	if (!strcmp(k, "bootstrap") && nf == 2 && !strcmp(f[1], "none")) {
		m->boot = MB_NONE;
		return NULL;
	}
	if (!strcmp(k, "bootstrap") && nf == 2 && !strcmp(f[1], "-")) {
		m->boot = MB_NOT_EXTRACTED;
		return NULL;
	}
	if (!strcmp(k, "bootstrap") && nf == 4 && f[1][0]) {
		char *end1, *end2;
		m->entry = strtoull(f[2], &end1, 16);
		m->hash = strtoull(f[3], &end2, 16);
		if (*end1 || *end2 || end1 == f[2] || end2 == f[3])
			return "bad bootstrap_entry or checksum";
		m->boot = MB_FILE;
		/* A relative name is relative to the record's folder. */
		const char *slash = strrchr(m->path, '/');
		free(m->boot_file);
		m->boot_file = f[1][0] == '/' || !slash ? rx_xstrdup(f[1])
			: rx_xasprintf("%.*s/%s", (int)(slash - m->path), m->path, f[1]);
		return NULL;
	}
	if (!strcmp(k, "entry") && nf == 2)
		return meta_order_add(st, f[1]);
	struct meta_fix x = { 0 };
	if (nf == 4)
		x.path = f[1];
	if (!strcmp(k, "owner") && nf == 4) {
		x.kind = 'o';
		if (parse_u32(f[2], &x.a) || parse_u32(f[3], &x.b))
			return "bad owner";
	} else if (!strcmp(k, "mode") && nf == 4) {
		x.kind = 'm';
		if (parse_octal_mode(f[2], &x.a) || parse_octal_mode(f[3], &x.b))
			return "bad mode";
	} else if (!strcmp(k, "link") && nf == 4) {
		x.kind = 'l';
		x.stored = f[2];
		x.host = f[3];
	} else {
		return "not understood (written by a newer rximg?)";
	}
	if (x.path[0] != '/')
		return "not a path inside the archive";
	m->fixes = rx_xrealloc(m->fixes, (m->nfixes + 1) * sizeof(*m->fixes));
	m->fixes[m->nfixes++] = x;
	return NULL;
}

/*
 * The record of DIR: the file named by --meta (it must exist), else
 * DIR.initfs-meta beside DIR when there is one. m->loaded says if one was read.
 */
static int meta_load(const char *named, const char *dir, struct meta *m)
{
	memset(m, 0, sizeof(*m));
	struct stat st;
	m->path = named ? rx_xstrdup(named) : beside(dir, META_SUFFIX);
	if (!m->path || (!named && stat(m->path, &st) != 0))
		return 0;
	uint8_t *buf;
	size_t len;
	if (slurp(m->path, &buf, &len))
		return -1;
	m->text = rx_xrealloc(buf, len + 1);
	m->text[len] = 0;
	m->order = ifs_node_new(IFS_DIR, 0755);
	struct ostack os = { rx_xmalloc(64 * sizeof(*os.node)), rx_xmalloc(64 * sizeof(*os.path)), 1, 64 };
	os.node[0] = m->order;
	os.path[0] = "";
	const char *why = NULL;
	unsigned lineno = 0, have_layout = 0;
	char *line = m->text;
	while (line && !why) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, META_MAGIC))
				why = "not a record written by 'rximg initfs extract'";
		} else if (line[0] && line[0] != '#') {
			char *f[5];
			int nf = 0;
			for (char *p = line; p && !why;) {
				if (nf == 5) {
					why = "too many fields";
					break;
				}
				f[nf++] = p;
				if ((p = strchr(p, '\t')) != NULL)
					*p++ = 0;
			}
			for (int i = 0; i < nf && !why; i++)
				if (!unescape_field(f[i]))
					why = "bad escape";
			if (!why)
				why = meta_line(m, &os, f, nf);
			have_layout |= !why && !strcmp(f[0], "layout");
		}
		line = next;
	}
	free(os.node);
	free(os.path);
	if (!why && (!have_layout || !m->boot)) {
		lineno = 0;
		why = "the layout or the bootstrap line is missing";
	}
	if (why) {
		if (lineno)
			arc_fail(m->path, "line %u: %s", lineno, why);
		else
			arc_fail(m->path, "%s", why);
		return -1;
	}
	m->loaded = 1;
	return 0;
}

/* Owners, modes and link targets as stored, where the host tree still has what extract made. */
static int meta_apply(const struct meta *m, struct ifs_node *root, enum ifs_layout layout)
{
	for (size_t i = 0; i < m->nfixes; i++) {
		const struct meta_fix *x = &m->fixes[i];
		struct ifs_node *n;
		if (ifs_lookup_nofollow(&ictx, root, x->path, &n) != 0) {
			rx_clear(&ictx);
			continue;	/* gone from the tree since */
		}
		if (x->kind == 'o') {
			n->uid = x->a;
			n->gid = x->b;
		} else if (x->kind == 'm' && n->type != IFS_LINK && (n->mode & 07777) == x->b) {
			n->mode = (uint16_t)x->a;
		} else if (x->kind == 'l' && n->type == IFS_LINK && ifs_layout_link_form(layout) == IFS_LINK_ROOT &&
			   n->size == strlen(x->host) && !memcmp(n->data, x->host, (size_t)n->size)) {
			ifs_node_set_data(n, x->stored, strlen(x->stored));
			n->form = IFS_LINK_ROOT;
		}
	}
	return 0;
}

/* ---- repack ---- */

static const char repack_help[] =
	"Usage: rximg initfs repack [OPTIONS] DIR -o ARCHIVE\n"
	"Build an initfs from the host directory DIR. ARCHIVE is a host file (written to\n"
	"ARCHIVE.partial, then renamed) or IMAGE[:pN]:/path inside a RedoxFS (one commit).\n"
	"A tree made by 'rximg initfs extract' comes with a record beside it,\n"
	"DIR.initfs-meta: its layout, creation time, entry order and bootstrap\n"
	"(DIR.bootstrap) are the defaults, so an unchanged tree gives the same bytes.\n"
	"Otherwise, when ARCHIVE already exists, its layout, entry order and bootstrap are.\n"
	"Entries are in that order (or --like's), new names sorted; symlinks are stored in\n"
	"the layout's form; modes are kept, owners are 0. An archive without a bootstrap\n"
	"does not boot and is written only with --no-bootstrap.\n\n"
	"  -o, --output ARCHIVE   the archive to write\n"
	"  -b, --bootstrap ELF    the bootstrap program to put at offset 4096\n"
	"      --no-bootstrap     no bootstrap (the archive will not boot)\n"
	"      --layout V         write layout V: v1, v3 (= v2c), v4, v5b or v6 (default: the\n"
	"                         layout of --like, the record, the archive replaced, else v4)\n"
	"      --like ARCHIVE     take the layout and the entry order from ARCHIVE\n"
	"      --meta FILE        read the record from FILE instead of DIR.initfs-meta\n"
	"      --no-meta          ignore the record\n"
	"      --time SEC[.NSEC]  creation time (default: the record's, else\n"
	"                         SOURCE_DATE_EPOCH, else now)\n"
	"      --max-size SIZE    refuse an archive larger than SIZE (default 64M, or the size\n"
	"                         of the archive replaced if larger)\n"
	"  -h, --help             show this help\n";

/* Read a whole host file (a bootstrap ELF, a record). */
static int slurp(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			rx_close_file(fd);
		return arc_fail(path, "%s", strerror(e));
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size >= IFS_MAX_BYTES) {
		rx_close_file(fd);
		return arc_fail(path, "%s", S_ISREG(st.st_mode) ? "too large" : "not a regular file");
	}
	*len = (size_t)st.st_size;
	*buf = rx_xmalloc(*len);
	for (size_t off = 0; off < *len;) {
		ssize_t n = pread(fd, *buf + off, *len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rx_close_file(fd);
			free(*buf);
			*buf = NULL;
			return arc_fail(path, "read: %s", n < 0 ? strerror(errno) : "file shrank");
		}
		off += (size_t)n;
	}
	rx_close_file(fd);
	return 0;
}

/* A bootstrap ELF from a host file: its e_entry is bootstrap_entry; warn if not linked for the initfs. */
static int load_bootstrap(const char *path, uint8_t **boot, struct ifs_write_opts *o)
{
	size_t len = 0;
	int r = slurp(path, boot, &len);
	if (r == 0 && ifs_entry_of(&ictx, *boot, len, &o->entry) != 0)
		r = arc_fail(path, "%s", ictx.msg);
	if (r == 0) {
		o->boot = *boot;
		o->boot_len = len;
		ifs_elf_boot_check(*boot, len, elf_warn_cli, (void *)path);
	}
	return r;
}

static int initfs_repack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' },  { "bootstrap", required_argument, 0, 'b' },
		{ "no-bootstrap", no_argument, 0, 'N' },  { "layout", required_argument, 0, 'L' },
		{ "like", required_argument, 0, 'K' },    { "time", required_argument, 0, 'T' },
		{ "meta", required_argument, 0, 'E' },    { "no-meta", no_argument, 0, 'n' },
		{ "max-size", required_argument, 0, 'M' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *out = NULL, *boot_path = NULL, *like_arg = NULL, *meta_arg = NULL;
	int c, no_boot = 0, have_time = 0, no_meta = 0;
	enum ifs_layout layout = IFS_LAYOUT_NONE;
	struct ifs_write_opts o = { 0 };
	while ((c = getopt_long(argc, argv, "o:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'b': boot_path = optarg; break;
		case 'N': no_boot = 1; break;
		case 'L': if (parse_layout("initfs repack", optarg, &layout)) return EXIT_USAGE; break;
		case 'K': like_arg = optarg; break;
		case 'E': meta_arg = optarg; break;
		case 'n': no_meta = 1; break;
		case 'T':
			if (parse_time_arg(optarg, &o.time_sec, &o.time_nsec))
				return usage_error("initfs repack", "bad time '%s' (want SEC[.NSEC])", optarg);
			have_time = 1;
			break;
		case 'M': if (parse_max("initfs repack", optarg, &o.max_size)) return EXIT_USAGE; break;
		case 'h': fputs(repack_help, stdout); return EXIT_OK;
		default: return usage_error("initfs repack", "bad option");
		}
	}
	if (argc - optind != 1 || !out)
		return usage_error("initfs repack", "expected DIR -o ARCHIVE");
	if (boot_path && no_boot)
		return usage_error("initfs repack", "--bootstrap and --no-bootstrap exclude each other");
	if (meta_arg && no_meta)
		return usage_error("initfs repack", "--meta and --no-meta exclude each other");
	if (layout && !ifs_layout_writable(layout))
		return usage_error("initfs repack", "layout %s is read-only (rximg writes v1, v3, v4, v5b, v6)",
				   ifs_layout_name(layout));
	const char *dir = argv[optind];
	struct arc x, like = { 0 };
	struct meta m = { 0 };
	uint8_t *boot = NULL;
	struct ifs_node *root = NULL;
	int r = arc_parse(out, 0, 1, &x);
	if (r == 0 && !x.host) {
		/* The archive being replaced supplies the defaults; a broken one supplies none. */
		r = arc_open(&x, IFS_LAYOUT_NONE, 1, 1, 0);
		if (r && x.undecodable) {
			warnx_("%s: not reusing its layout, order or bootstrap", x.label);
			r = 0;
		}
	}
	if (r == 0 && !no_meta)
		r = meta_load(meta_arg, dir, &m);
	if (r == 0 && like_arg && (arc_parse(like_arg, 0, 0, &like) || arc_read(&like, IFS_LAYOUT_NONE)))
		r = -1;
	/* Defaults, strongest first: --like, the tree's record, the archive being replaced. */
	const char *from = like_arg ? like.label : m.loaded ? m.path : x.loaded ? x.label : NULL;
	const struct ifs_node *order = like_arg ? like.a->root : m.loaded ? m.order : x.loaded ? x.a->root : NULL;
	if (r == 0) {
		o.layout = layout ? layout : like_arg ? like.a->layout : m.loaded ? m.layout
			 : x.loaded ? x.a->layout : IFS_V4;
		if (!ifs_layout_writable(o.layout))
			r = arc_fail(from, "layout %s is read-only; name the layout to write with --layout",
				     ifs_layout_name(o.layout));
	}
	int boot_chosen = boot_path || no_boot;	/* said on the command line, or by the record */
	if (r == 0 && boot_path) {
		r = load_bootstrap(boot_path, &boot, &o);
	} else if (r == 0 && !no_boot && m.loaded && m.boot == MB_FILE) {
		/* The bootstrap extract wrote beside the tree; the entry stored with it if it is unchanged. */
		if (m.layout != o.layout)
			r = arc_fail(m.boot_file, "this bootstrap reads layout %s, not %s: give --bootstrap or "
				     "--no-bootstrap", ifs_layout_name(m.layout), ifs_layout_name(o.layout));
		if (r == 0 && (r = load_bootstrap(m.boot_file, &boot, &o)) != 0)
			fprintf(stderr, "rximg: %s: names that bootstrap; give --bootstrap or --no-bootstrap\n",
				m.path);
		if (r == 0 && seahash(o.boot, o.boot_len) == m.hash)
			o.entry = m.entry;
		boot_chosen = 1;
	} else if (r == 0 && !no_boot && m.loaded && m.boot == MB_NONE) {
		if (x.loaded && x.a->boot_len)
			r = arc_fail(x.label, "has a bootstrap, the archive %s was extracted from had none: give "
				     "--bootstrap or --no-bootstrap", dir);
		boot_chosen = 1;
	} else if (r == 0 && !no_boot && x.loaded && x.a->boot_len) {
		/* Keep the replaced archive's bootstrap: it only reads its own layout (spec 6.4). */
		if (x.a->layout != o.layout)
			r = arc_fail(x.label, "its bootstrap reads layout %s, not %s: give --bootstrap or "
				     "--no-bootstrap", ifs_layout_name(x.a->layout), ifs_layout_name(o.layout));
		o.boot = ifs_bootstrap(x.a);
		o.boot_len = x.a->boot_len;
		o.entry = x.a->has_entry ? x.a->entry : IFS_NO_ENTRY;
		boot_chosen = 1;
	}
	if (!o.boot)
		o.entry = IFS_NO_ENTRY;
	/* The recorded time is the archive's own; SOURCE_DATE_EPOCH only stands in for "now". */
	if (!have_time && m.loaded && m.has_time) {
		o.time_sec = m.time_sec;
		o.time_nsec = m.time_nsec;
	} else if (!have_time) {
		default_time(&o);
	}
	if (!o.max_size)
		o.max_size = default_max(&x);
	if (r == 0 && ifs_import_dir(&ictx, dir, order, &root) != 0) {
		report(&ictx, NULL, NULL);
		r = -1;
	}
	if (r == 0 && m.loaded)
		r = meta_apply(&m, root, o.layout);
	if (r == 0 && !o.boot && !boot_chosen && ifs_layout_has_bootstrap(o.layout))
		r = arc_fail(x.label, "no bootstrap: the archive would not boot. Give --bootstrap ELF, or "
			     "--no-bootstrap to write it without one");
	if (r == 0)
		r = arc_commit(&x, root, &o);
	if (r == 0)
		warn_no_bootstrap(&o, x.label);
	ifs_tree_free(root);
	free(boot);
	meta_free(&m);
	arc_close(&like);
	arc_close(&x);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* ---- in-place edits: read, change the tree, write the same layout and bootstrap ---- */

struct editopt {
	enum ifs_layout force;
	uint64_t max;
};

/* Long options every edit takes; 'L' and 'M' in the switch. */
#define EDIT_OPTS { "layout", required_argument, 0, 'L' }, { "max-size", required_argument, 0, 'M' }, \
		  { "help", no_argument, 0, 'h' }

static int edit_opt(const char *verb, int c, struct editopt *e)
{
	if (c == 'L')
		return parse_layout(verb, optarg, &e->force) ? EXIT_USAGE : -1;
	if (c == 'M')
		return parse_max(verb, optarg, &e->max) ? EXIT_USAGE : -1;
	return usage_error(verb, "bad option");
}

/* member: the argument is ARCHIVE:/path of a file inside, required. */
static int edit_begin(const char *arg, const struct editopt *e, struct arc *x, int member)
{
	if (arc_parse(arg, member, 0, x))
		return -1;
	if (member && !x->member)
		return arc_fail(arg, "name a file inside the archive: ARCHIVE:/path");
	if (arc_open(x, e->force, 1, 0, e->max))
		return -1;
	if (!ifs_layout_writable(x->a->layout))
		return arc_fail(x->label, "layout %s is read-only; convert the archive with 'rximg initfs "
				"extract' and 'rximg initfs repack --layout'", ifs_layout_name(x->a->layout));
	return 0;
}

/* Same layout, same bootstrap bytes and entry, a fresh creation time: what the resolver writes back. */
static int edit_end(struct arc *x, const struct editopt *e, int r)
{
	(void)e;
	if (r == 0) {
		rx_res_touch(x->p.res);
		x->opened = 0;
		r = place_commit(&x->p) == EXIT_OK ? 0 : -1;
	}
	arc_close(x);
	return r ? EXIT_FAIL : EXIT_OK;
}

static const char put_help[] =
	"Usage: rximg initfs put [OPTIONS] ARCHIVE SRC:/dest...\n"
	"Copy host files (and with -r, directories) into an initfs, rewriting it in the same\n"
	"layout with the same bootstrap. ARCHIVE is a host file or IMAGE[:pN]:/path inside a\n"
	"RedoxFS image (then the whole change is one commit). When /dest is a directory,\n"
	"SRC goes inside it under its own name. A replaced file keeps its mode.\n\n"
	"  -r, --recursive   copy directories and everything in them (merged into existing ones)\n"
	"  -P, --parents     create missing parent directories of /dest\n"
	"  -m, --mode MODE   set this mode (octal) on the files put\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE (default 64M, or the\n"
	"                    archive's size if larger)\n"
	"  -h, --help        show this help\n";

static int initfs_put(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, 0, 'r' }, { "parents", no_argument, 0, 'P' },
		{ "mode", required_argument, 0, 'm' }, EDIT_OPTS, { 0, 0, 0, 0 },
	};
	struct editopt e = { 0 };
	struct ifs_put_opts po = { 0 };
	int c, s;
	while ((c = getopt_long(argc, argv, "rPm:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': po.recursive = 1; break;
		case 'P': po.parents = 1; break;
		case 'm':
			if (parse_mode(optarg, &po.mode))
				return usage_error("initfs put", "bad mode '%s'", optarg);
			po.have_mode = 1;
			break;
		case 'h': fputs(put_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs put", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind < 2)
		return usage_error("initfs put", "expected ARCHIVE SRC:/dest...");
	for (int i = optind + 1; i < argc; i++)
		if (!strstr(argv[i], ":/"))
			return usage_error("initfs put", "'%s' is not SRC:/dest", argv[i]);
	struct arc x;
	int r = edit_begin(argv[optind], &e, &x, 0);
	for (int i = optind + 1; i < argc && r == 0; i++) {
		const char *sep = strstr(argv[i], ":/");
		char *src = strndup(argv[i], (size_t)(sep - argv[i]));
		if (!src)
			abort();
		if (ifs_put(&ictx, x.a->root, src, sep + 1, &po) != 0) {
			report(&ictx, x.label, sep + 1);
			r = -1;
		}
		free(src);
	}
	return edit_end(&x, &e, r);
}

/* Standard input, whole (an initfs file is smaller than 4 GiB). */
static int read_stdin(uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16;
	*buf = rx_xmalloc(cap);
	*len = 0;
	for (;;) {
		if (*len == cap) {
			if (cap >= IFS_MAX_BYTES) {
				free(*buf);
				*buf = NULL;
				return arc_fail("standard input", "4 GiB or more: an initfs file must be smaller");
			}
			*buf = rx_xrealloc(*buf, cap *= 2);
		}
		ssize_t n = read(STDIN_FILENO, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(*buf);
			*buf = NULL;
			return arc_fail("standard input", "%s", strerror(errno));
		}
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

static const char write_help[] =
	"Usage: rximg initfs write [OPTIONS] ARCHIVE:/path < DATA\n"
	"Replace (or create) a file inside an initfs with standard input, rewriting the\n"
	"archive in its layout with the same bootstrap, e.g.\n"
	"  echo 'echo hello' | rximg initfs write disk.img:/boot/initfs:/etc/init.rc\n"
	"A symbolic link is followed to its file; a replaced file keeps its mode.\n\n"
	"  -m, --mode MODE   mode of the file (octal; default: kept, 0644 for a new file)\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE\n"
	"  -h, --help        show this help\n";

static int initfs_write(int argc, char **argv)
{
	static const struct option opts[] = { { "mode", required_argument, 0, 'm' }, EDIT_OPTS, { 0, 0, 0, 0 } };
	struct editopt e = { 0 };
	uint16_t mode = 0644;
	int c, s, have_mode = 0;
	while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_mode(optarg, &mode))
				return usage_error("initfs write", "bad mode '%s'", optarg);
			have_mode = 1;
			break;
		case 'h': fputs(write_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs write", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind != 1)
		return usage_error("initfs write", "expected ARCHIVE:/path");
	/* All of the input first: it may come from a reader of the same archive. */
	uint8_t *data;
	size_t len;
	if (read_stdin(&data, &len))
		return EXIT_FAIL;
	struct arc x;
	int r = edit_begin(argv[optind], &e, &x, 1);
	if (r == 0 && ifs_set_file(&ictx, x.a->root, x.member, data, len, have_mode, mode) != 0) {
		report(&ictx, x.label, x.member);
		r = -1;
	}
	r = edit_end(&x, &e, r);
	free(data);
	return r;
}

static const char iedit_help[] =
	"Usage: rximg initfs edit [OPTIONS] ARCHIVE:/path\n"
	"Open a private copy of a file inside an initfs in $VISUAL or $EDITOR (default vi)\n"
	"and, if it changed, write it back, rewriting the archive in its layout with the\n"
	"same bootstrap. The archive stays locked while the editor runs. A missing file is\n"
	"created (mode 0644) if the copy is saved non-empty; a symbolic link is followed.\n\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE\n"
	"  -h, --help        show this help\n";

static int initfs_edit(int argc, char **argv)
{
	static const struct option opts[] = { EDIT_OPTS, { 0, 0, 0, 0 } };
	struct editopt e = { 0 };
	int c, s;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(iedit_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs edit", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind != 1)
		return usage_error("initfs edit", "expected ARCHIVE:/path");
	struct arc x;
	struct ifs_node *n = NULL;
	char *tmp = NULL;
	uint8_t *now = NULL;
	size_t now_len = 0;
	int fd = -1, changed = 0, edited = 0, editor_failed = 0;
	int r = edit_begin(argv[optind], &e, &x, 1);
	if (r == 0 && ifs_resolve(&ictx, x.a->root, x.member, 1, &n) != 0) {
		if (ictx.err != ENOENT) {
			report(&ictx, x.label, x.member);
			r = -1;
		}
		rx_clear(&ictx);
		n = NULL;	/* a new file */
	}
	if (r == 0 && n && n->type != IFS_FILE)
		r = arc_fail(x.label, "%s: is a directory", x.member);
	if (r == 0 && (fd = edit_tempfile(&ictx, x.member, &tmp)) < 0) {
		report(&ictx, NULL, NULL);
		r = -1;
	}
	if (r == 0 && n && n->size && write_fd_all(fd, n->data, (size_t)n->size))
		r = arc_fail(tmp, "%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	if (r == 0 && run_editor(&ictx, tmp) != 0) {
		report(&ictx, x.label, x.member);	/* it names the copy, which stays */
		editor_failed = 1;
		r = -1;
	} else if (r == 0) {
		edited = 1;
	}
	if (r == 0)
		r = slurp(tmp, &now, &now_len);
	if (r == 0)
		changed = n ? now_len != n->size || (now_len && memcmp(now, n->data, now_len)) : now_len > 0;
	if (r == 0 && changed && ifs_set_file(&ictx, x.a->root, x.member, now, now_len, 0, 0) != 0) {
		report(&ictx, x.label, x.member);
		r = -1;
	}
	free(now);
	int status;
	if (r == 0 && !changed) {
		fprintf(stderr, "rximg: %s: %s: unchanged\n", x.label, x.member);
		arc_close(&x);
		status = EXIT_OK;
	} else {
		status = edit_end(&x, &e, r);
	}
	/* An edit that could not be written back is not lost: the copy stays. */
	if (tmp && edited && status != EXIT_OK)
		fprintf(stderr, "rximg: %s: nothing was changed; your copy is in %s\n", x.arg, tmp);
	else if (tmp && !editor_failed)
		unlink(tmp);
	free(tmp);
	return status;
}

static const char rm_help[] =
	"Usage: rximg initfs rm [OPTIONS] ARCHIVE /path...\n"
	"Remove files, symlinks and (with -r) directories from an initfs.\n\n"
	"  -r, --recursive   remove directories and everything in them\n"
	"  -f, --force       a path that does not exist is not an error\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE\n"
	"  -h, --help        show this help\n";

static int initfs_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, 0, 'r' }, { "force", no_argument, 0, 'f' }, EDIT_OPTS, { 0, 0, 0, 0 },
	};
	struct editopt e = { 0 };
	int c, s, recursive = 0, force = 0;
	while ((c = getopt_long(argc, argv, "rfh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': recursive = 1; break;
		case 'f': force = 1; break;
		case 'h': fputs(rm_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs rm", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind < 2)
		return usage_error("initfs rm", "expected ARCHIVE /path...");
	struct arc x;
	int r = edit_begin(argv[optind], &e, &x, 0);
	for (int i = optind + 1; i < argc && r == 0; i++) {
		if (ifs_remove(&ictx, x.a->root, argv[i], recursive, force) != 0) {
			report(&ictx, x.label, argv[i]);
			r = -1;
		}
	}
	return edit_end(&x, &e, r);
}

static const char mkdir_help[] =
	"Usage: rximg initfs mkdir [OPTIONS] ARCHIVE /path...\n"
	"Create directories inside an initfs.\n\n"
	"  -p, --parents     create missing parents too; an existing directory is fine\n"
	"  -m, --mode MODE   mode of the new directory (octal, default 0755)\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE\n"
	"  -h, --help        show this help\n";

static int initfs_mkdir(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parents", no_argument, 0, 'p' }, { "mode", required_argument, 0, 'm' }, EDIT_OPTS, { 0, 0, 0, 0 },
	};
	struct editopt e = { 0 };
	uint16_t mode = 0755;
	int c, s, parents = 0;
	while ((c = getopt_long(argc, argv, "pm:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': parents = 1; break;
		case 'm':
			if (parse_mode(optarg, &mode))
				return usage_error("initfs mkdir", "bad mode '%s'", optarg);
			break;
		case 'h': fputs(mkdir_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs mkdir", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind < 2)
		return usage_error("initfs mkdir", "expected ARCHIVE /path...");
	struct arc x;
	int r = edit_begin(argv[optind], &e, &x, 0);
	for (int i = optind + 1; i < argc && r == 0; i++) {
		if (ifs_mkdir(&ictx, x.a->root, argv[i], mode, parents) != 0) {
			report(&ictx, x.label, argv[i]);
			r = -1;
		}
	}
	return edit_end(&x, &e, r);
}

static const char ln_help[] =
	"Usage: rximg initfs ln [OPTIONS] ARCHIVE TARGET /link\n"
	"Make a symbolic link inside an initfs. A relative TARGET is relative to the link's\n"
	"directory (as on the host); an absolute one is a path inside the archive. It is\n"
	"stored in the form the archive's layout uses.\n\n"
	"  -s, --symbolic    accepted for familiarity (initfs links are always symbolic)\n"
	"  -f, --force       replace an existing file or link of that name\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE\n"
	"  -h, --help        show this help\n";

static int initfs_ln(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "symbolic", no_argument, 0, 's' }, { "force", no_argument, 0, 'f' }, EDIT_OPTS, { 0, 0, 0, 0 },
	};
	struct editopt e = { 0 };
	int c, s, force = 0;
	while ((c = getopt_long(argc, argv, "sfh", opts, NULL)) != -1) {
		switch (c) {
		case 's': break;
		case 'f': force = 1; break;
		case 'h': fputs(ln_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs ln", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind != 3)
		return usage_error("initfs ln", "expected ARCHIVE TARGET /link");
	const char *target = argv[optind + 1], *link = argv[optind + 2];
	if (!*target)
		return usage_error("initfs ln", "the target is empty");
	struct arc x;
	int r = edit_begin(argv[optind], &e, &x, 0);
	if (r == 0 && ifs_layout_link_form(x.a->layout) == IFS_LINK_NONE)
		r = arc_fail(x.label, "layout %s has no symbolic links", ifs_layout_name(x.a->layout));
	if (r == 0 && ifs_symlink(&ictx, x.a->root, target, link, force) != 0) {
		report(&ictx, x.label, link);
		r = -1;
	}
	return edit_end(&x, &e, r);
}

static const char chmod_help[] =
	"Usage: rximg initfs chmod [OPTIONS] ARCHIVE MODE /path...\n"
	"Set permission bits (octal) inside an initfs. Layouts v5b and v6 store only\n"
	"whether a file is executable (owner execute bit); their other modes are fixed.\n\n"
	"  -R, --recursive   also everything below a directory\n"
	"      --layout V    read the archive as layout V instead of detecting it\n"
	"      --max-size SIZE  refuse a result larger than SIZE\n"
	"  -h, --help        show this help\n";

static int initfs_chmod(int argc, char **argv)
{
	static const struct option opts[] = { { "recursive", no_argument, 0, 'R' }, EDIT_OPTS, { 0, 0, 0, 0 } };
	struct editopt e = { 0 };
	int c, s, recursive = 0;
	while ((c = getopt_long(argc, argv, "Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'R': recursive = 1; break;
		case 'h': fputs(chmod_help, stdout); return EXIT_OK;
		default: if ((s = edit_opt("initfs chmod", c, &e)) >= 0) return s;
		}
	}
	if (argc - optind < 3)
		return usage_error("initfs chmod", "expected ARCHIVE MODE /path...");
	uint16_t mode;
	if (parse_mode(argv[optind + 1], &mode))
		return usage_error("initfs chmod", "bad mode '%s' (want octal, e.g. 0755)", argv[optind + 1]);
	struct arc x;
	int r = edit_begin(argv[optind], &e, &x, 0);
	if (r == 0 && !ifs_layout_has_modes(x.a->layout))
		warnx_("%s: layout %s keeps only the owner execute bit of files", x.label,
		       ifs_layout_name(x.a->layout));
	for (int i = optind + 2; i < argc && r == 0; i++) {
		struct ifs_node *n;
		if (ifs_lookup_nofollow(&ictx, x.a->root, argv[i], &n) != 0) {
			report(&ictx, x.label, argv[i]);
			r = -1;
		} else {
			ifs_chmod(n, mode, recursive);
		}
	}
	return edit_end(&x, &e, r);
}

/* ---- the verb ---- */

static const struct sub {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} subs[] = {
	{ "info", initfs_info, "layout, header, bootstrap, contents, room left, boot problems" },
	{ "ls", initfs_ls, "list directories" },
	{ "cat", initfs_cat, "write files to standard output" },
	{ "get", initfs_get, "copy a file or directory out" },
	{ "extract", initfs_extract, "extract the tree, and the bootstrap to a file of its own" },
	{ "repack", initfs_repack, "build an archive from a host directory" },
	{ "put", initfs_put, "copy host files into an archive" },
	{ "write", initfs_write, "replace a file with standard input" },
	{ "edit", initfs_edit, "edit a file with $EDITOR" },
	{ "rm", initfs_rm, "remove entries" },
	{ "mkdir", initfs_mkdir, "create directories" },
	{ "ln", initfs_ln, "make a symbolic link" },
	{ "chmod", initfs_chmod, "change permission bits" },
};

static void initfs_usage(FILE *f)
{
	fputs("Usage: rximg initfs SUBVERB [OPTIONS] ARGS...\n"
	      "       rximg initfs SUBVERB --help\n\n"
	      "Read, extract, repack and edit Redox initfs archives (\"RedoxFtw\", every layout\n"
	      "from v1 to v6). ARCHIVE is a host file or IMAGE[:pN]:/path of one inside a RedoxFS\n"
	      "image; ARCHIVE:/path names a file inside the archive, e.g.\n"
	      "  rximg initfs cat disk.img:/boot/initfs:/etc/init.rc\n"
	      "Edits rewrite the archive in its own layout with the same bootstrap.\n\n"
	      "Subverbs:\n", f);
	for (size_t i = 0; i < RX_ARRAY_SIZE(subs); i++)
		fprintf(f, "  %-8s %s\n", subs[i].name, subs[i].summary);
	fputs("\nOptions (rximg initfs SUBVERB --help tells which take which):\n"
	      "  -l, --long               ls: long format\n"
	      "  -R, --recursive          ls, chmod: descend into directories\n"
	      "  -d, --directory          ls: the directory itself\n"
	      "  -U, --unsorted           ls: archive order\n"
	      "      --json               info, ls: JSON output\n"
	      "      --check              info: exit with status 3 when it will not boot\n"
	      "  -B, --bootstrap-out FILE extract: where the bootstrap goes\n"
	      "      --meta-out FILE      extract: where the record for repack goes\n"
	      "  -f, --force              extract: replace files; rm: missing is fine; ln: replace\n"
	      "  -o, --output ARCHIVE     repack: the archive to write\n"
	      "  -b, --bootstrap ELF      repack: the bootstrap program\n"
	      "      --no-bootstrap       repack: no bootstrap\n"
	      "      --like ARCHIVE       repack: layout and entry order of another archive\n"
	      "      --time SEC[.NSEC]    repack: creation time\n"
	      "      --meta FILE          repack: the record extract wrote (default DIR.initfs-meta)\n"
	      "      --no-meta            repack: ignore the record\n"
	      "  -r, --recursive          put, rm: directories too\n"
	      "  -P, --parents            put: create missing parents\n"
	      "  -p, --parents            mkdir: create missing parents\n"
	      "  -m, --mode MODE          put, mkdir, write: mode of what is created or written\n"
	      "  -s, --symbolic           ln: accepted, links are always symbolic\n"
	      "      --layout V           the layout to read as (repack: to write)\n"
	      "      --max-size SIZE      the largest archive to write (info: to measure against)\n"
	      "  -h, --help               show this help\n"
	      "\nSee rximg-initfs(1).\n", f);
}

int cmd_initfs(int argc, char **argv)
{
	if (argc < 2) {
		initfs_usage(stderr);
		return EXIT_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		initfs_usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < RX_ARRAY_SIZE(subs); i++) {
		if (!strcmp(sub, subs[i].name)) {
			optind = 1;
			return subs[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "rximg initfs: unknown subverb '%s' (see rximg initfs --help)\n", sub);
	return EXIT_USAGE;
}
