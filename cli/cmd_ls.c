/* rximg ls, rximg stat */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "idmap.h"
#include "table.h"

struct ls_opts {
	int longfmt, recursive, unsorted, json, directory;
	struct out out;
	struct idmap visited;	/* RedoxFS directories listed: a second visit means a loop */
	struct place *p;
	struct rfs *fs;		/* the RedoxFS the paths are in, for what only it stores; or NULL */
	int status;
};

/* What RedoxFS stores besides the common attributes, for path (not followed). */
static int rfs_extras(struct ls_opts *o, const char *path, struct rfs_node *n, struct node_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->htree_depth = -1;
	int r = rfs_lookup(o->fs, path, 0, n);
	return r ? r : node_facts(o->fs, n, f);
}

/*
 * What ls and stat show of a node: the attributes every filesystem has, then
 * what RedoxFS alone stores. The text of a few fields (storage, where) is
 * prose only the text shows.
 */
enum {
	N_PATH, N_NAME, N_TYPE, N_MODE, N_UID, N_GID, N_SIZE, N_NLINK, N_NODE, N_BLOCKS, N_MTIME, N_CTIME,
	N_ATIME, N_TARGET, N_STORAGE, N_HTREE_DEPTH, N_RECORDS, N_COMPRESSED, N_ERROR, N_NODE_BLOCK,
	N_RECORD_SIZE, N_STORED_BLOCKS, N_STORAGE_WORDS, N_IN,
};
static const struct tfield node_fields[] = {
	[N_PATH] = { "path", TK_STR, 0 },
	[N_NAME] = { "name", TK_STR, 0 },
	[N_TYPE] = { "type", TK_STR, 0 },
	[N_MODE] = { "mode", TK_MODE, 0 },
	[N_UID] = { "uid", TK_COUNT, 0 },
	[N_GID] = { "gid", TK_COUNT, 0 },
	[N_SIZE] = { "size", TK_COUNT, 0 },
	[N_NLINK] = { "nlink", TK_COUNT, 0 },
	[N_NODE] = { "node", TK_COUNT, 0 },
	[N_BLOCKS] = { "blocks", TK_U64, 0 },	/* as stored: nothing bounds it */
	[N_MTIME] = { "mtime", TK_TIME, 0 },
	[N_CTIME] = { "ctime", TK_TIME, 0 },
	[N_ATIME] = { "atime", TK_TIME, 0 },
	[N_TARGET] = { "target", TK_STR, 0 },
	[N_STORAGE] = { "storage", TK_STR, 0 },
	[N_HTREE_DEPTH] = { "htree_depth", TK_COUNT, 0 },
	[N_RECORDS] = { "records", TK_COUNT, 0 },
	[N_COMPRESSED] = { "compressed_records", TK_COUNT, 0 },
	[N_ERROR] = { "error", TK_STR, 0 },
	[N_NODE_BLOCK] = { "node_block", TK_COUNT, 0 },
	[N_RECORD_SIZE] = { "record_size", TK_COUNT, 0 },
	[N_STORED_BLOCKS] = { "stored_blocks", TK_COUNT, 0 },
	[N_STORAGE_WORDS] = { NULL, TK_STR, 0 },
	[N_IN] = { NULL, TK_STR, 0 },
};

static const struct tcol ls_short_cols[] = { { N_NAME, "%s\n", 0 } };
static const struct tcol ls_long_cols[] = {
	{ N_MODE, "%M ", 0 }, { N_NLINK, "%3s ", 0 }, { N_UID, "%5s ", 0 }, { N_GID, "%5s ", 0 },
	{ N_SIZE, "%10s ", 0 }, { N_MTIME, "%t ", 0 }, { N_NAME, "%s", 0 }, { N_TARGET, " -> %s", 0 },
	{ TEXT_LIT, "\n", 0 },
};
/* An entry that could not be read: its name, '?' for the rest. */
static const struct tcol ls_damaged_long_cols[] = {
	{ N_NAME, "??????????   ?     ?     ?          ?                ? %s\n", 0 },
};
static const struct tcol stat_cols[] = {
	{ N_PATH, "  Path: %s", 0 }, { N_TARGET, " -> %s", 0 }, { N_TYPE, "\n  Type: %s\n", 0 },
	{ N_MODE, "  Mode: %s (%M)", 0 }, { N_UID, "  Uid: %s", 0 }, { N_GID, "  Gid: %s\n", 0 },
	{ N_SIZE, "  Size: %s", 0 }, { N_BLOCKS, "  Blocks: %s (4 KiB, incl. the node)", 0 },
	{ N_NLINK, "  Links: %s\n", 0 }, { N_IN, "  Storage: in %s\n", 0 },
	{ N_NODE, "  Node: %s", 0 }, { N_NODE_BLOCK, "  Node block: %s\n", 0 },
	{ N_STORAGE_WORDS, "  Storage: %s", 0 }, { N_HTREE_DEPTH, ", %s index level%p", 0 },
	{ N_RECORDS, "  Storage: %s record%p", 0 }, { N_RECORD_SIZE, " of up to %s bytes", 0 },
	{ N_COMPRESSED, ", %s compressed", 0 }, { N_STORED_BLOCKS, ", %s blocks stored", 0 },
	{ N_STORAGE, "\n", 0 },
	{ N_ATIME, "Access: %T\n", 0 }, { N_MTIME, "Modify: %T\n", 0 }, { N_CTIME, "Create: %T\n", 0 },
};
static const struct tlayout ls_short = LAYOUT(ls_short_cols), ls_long = LAYOUT(ls_long_cols),
			   ls_damaged_long = LAYOUT(ls_damaged_long_cols), stat_layout = LAYOUT(stat_cols);

/* A node's record: the common attributes, then (fs not NULL) what RedoxFS stores of n. */
static void node_record(struct record *r, struct vfs *v, const char *path, const char *name, size_t len,
			const struct vfs_attr *a, const char *target, struct rfs *fs, const struct rfs_node *n,
			const struct node_facts *f)
{
	RECORD_INIT(r, node_fields);
	rec_str(r, N_PATH, path);
	if (name)
		rec_strn(r, N_NAME, name, len);
	rec_str(r, N_TYPE, node_type_name(a->mode));
	rec_u64(r, N_MODE, a->mode);
	rec_u64(r, N_UID, a->uid);
	rec_u64(r, N_GID, a->gid);
	rec_u64(r, N_SIZE, a->size);
	rec_u64(r, N_NLINK, a->nlink);
	if (v->has & VFS_HAS_TIMES) {
		rec_time(r, N_MTIME, a->mtime.sec, a->mtime.nsec);
		rec_time(r, N_CTIME, a->ctime.sec, a->ctime.nsec);
		rec_time(r, N_ATIME, a->atime.sec, a->atime.nsec);
	}
	rec_str(r, N_TARGET, target);
	if (!fs) {
		rec_str(r, N_IN, v->kind);
		return;
	}
	rec_u64(r, N_NODE, n->id);
	rec_u64(r, N_BLOCKS, n->blocks);
	rec_u64(r, N_NODE_BLOCK, n->block);
	if (rfs_is_dir(n)) {
		rec_str(r, N_STORAGE, f->htree_depth < 0 ? "empty" : f->htree_depth == 0 ? "list" : "htree");
		rec_str(r, N_STORAGE_WORDS, f->htree_depth < 0 ? "empty directory"
					    : f->htree_depth == 0 ? "one directory list" : "hashed directory");
		if (f->htree_depth > 0)
			rec_u64(r, N_HTREE_DEPTH, (uint64_t)f->htree_depth);
	} else if (rfs_is_inline(n)) {
		rec_str(r, N_STORAGE, "inline");
		rec_str(r, N_STORAGE_WORDS, "inline in the node");
	} else {
		rec_str(r, N_STORAGE, "records");
		rec_u64(r, N_RECORDS, f->records);
		rec_u64(r, N_RECORD_SIZE, rfs_record_size(n));
		rec_u64(r, N_COMPRESSED, f->compressed);
		rec_u64(r, N_STORED_BLOCKS, f->stored_blocks);
	}
}

static int show_entry(struct ls_opts *o, const char *path, const char *name, size_t len,
		      const struct vfs_attr *a)
{
	struct vfs *v = o->p->v;
	struct rfs_node n;
	struct node_facts f = { .htree_depth = -1 };
	char *target = NULL;
	int r = 0;
	if (o->json && o->fs)
		r = rfs_extras(o, path, &n, &f);
	if (r == 0 && (o->json || o->longfmt) && vfs_is_link(a))
		r = f.target ? 0 : vfs_readlink(v, path, &target);
	const char *t = f.target ? f.target : target;
	if (r == 0) {
		struct record rec;
		node_record(&rec, v, path, name, len, a, t, o->json ? o->fs : NULL, &n, &f);
		if (o->longfmt && !(v->has & VFS_HAS_TIMES)) {
			/* Not stored, so not in the JSON; ls -l shows what the filesystem answers. */
			rec_time(&rec, N_MTIME, a->mtime.sec, a->mtime.nsec);
			rec_text_only(&rec, N_MTIME);
		}
		out_record(&o->out, NULL, &rec, o->longfmt ? &ls_long : &ls_short);
	}
	node_facts_free(&f);
	free(target);
	return r;
}

/*
 * An entry whose node (or what -l needs of it) cannot be read: its name is
 * still listed ("?" for what is unknown; in JSON an "error" in place of the
 * attributes) and the problem is reported on stderr.
 */
static void show_damaged(struct ls_opts *o, const char *path, const char *name, size_t len)
{
	struct rx_ctx *ctx = o->p->v->ctx;
	struct record rec;
	RECORD_INIT(&rec, node_fields);
	rec_str(&rec, N_PATH, path);
	rec_strn(&rec, N_NAME, name, len);
	rec_str(&rec, N_ERROR, ctx->msg);
	out_record(&o->out, NULL, &rec, o->longfmt ? &ls_damaged_long : &ls_short);
	fflush(stdout);	/* the listing and the report stay in order on a terminal */
	place_report(o->p, path);
	rx_clear(ctx);
	o->status = -1;
}

struct listing {
	struct ls_opts *o;
	const char *dir;
	char **subdirs;		/* -R: directories to descend into, after the listing */
	uint64_t *ids;
	size_t nsub;
};

static int list_one(void *arg, const char *name, size_t len, const struct vfs_attr *a)
{
	struct listing *l = arg;
	char *child = rx_path_join(l->dir, name, len);
	if (!a || show_entry(l->o, child, name, len, a) != 0) {
		show_damaged(l->o, child, name, len);
		free(child);
		return 0;
	}
	if (l->o->recursive && vfs_is_dir(a)) {
		l->subdirs = rx_xrealloc(l->subdirs, (l->nsub + 1) * sizeof(*l->subdirs));
		l->ids = rx_xrealloc(l->ids, (l->nsub + 1) * sizeof(*l->ids));
		l->subdirs[l->nsub] = child;
		l->ids[l->nsub++] = a->ino;
		return 0;
	}
	free(child);
	return 0;
}

/*
 * List dir; with -R, descend. A damaged entry or directory is reported and the
 * listing goes on; the result is then nonzero.
 */
static int list_dir(struct ls_opts *o, const char *path, int depth)
{
	struct vfs *v = o->p->v;
	if (o->recursive && !o->json)
		printf("%s%s:\n", depth ? "\n" : "", path);
	struct listing l = { o, path, NULL, NULL, 0 };
	int r = vfs_readdir(v, path, !o->unsorted, list_one, &l);
	if (r) {
		fflush(stdout);
		place_report(o->p, path);
		rx_clear(v->ctx);
		o->status = -1;
	}
	for (size_t i = 0; i < l.nsub; i++) {
		if (o->fs) {
			void **seen = idmap_slot(&o->visited, (uint32_t)l.ids[i], 1);
			if (*seen) {
				rx_fail(v->ctx, ELOOP, "directory node %u is reached a second time "
					"(a directory loop or hard-linked directory)", (unsigned)l.ids[i]);
				place_report(o->p, l.subdirs[i]);
				rx_clear(v->ctx);
				o->status = -1;
				free(l.subdirs[i]);
				continue;
			}
			*seen = (void *)1;
		}
		if (depth > 4096) {
			rx_fail(v->ctx, ELOOP, "directories nest too deeply");
			place_report(o->p, l.subdirs[i]);
			o->status = -1;
		} else {
			list_dir(o, l.subdirs[i], depth + 1);
		}
		free(l.subdirs[i]);
	}
	free(l.subdirs);
	free(l.ids);
	return o->status;
}

/* The RedoxFS behind a place, when the path is in one (not inside an archive). */
static struct rfs *place_rfs(struct place *p)
{
	struct rx_level *lv = rx_res_inner(p->res);
	return lv->kind == RX_LV_REDOXFS ? lv->fs : NULL;
}

static const char ls_help[] =
	"Usage: rximg ls [OPTIONS] IMAGE[:/dir]...\n"
	"List directory contents inside an image (sorted by name).\n\n"
	"  -l, --long       long format: mode, links, owner, group, size, mtime\n"
	"  -R, --recursive  list subdirectories recursively\n"
	"  -d, --directory  list a directory itself, not its contents\n"
	"  -U, --unsorted   keep the order stored on disk\n"
	"      --json       print a JSON array of entries (with full paths)\n"
	"  -h, --help       show this help\n\n"
	"A damaged entry is listed by name ('?' for the rest; in JSON an \"error\"),\n"
	"reported on stderr, and the exit status is 1.\n";

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "long", no_argument, 0, 'l' },       { "recursive", no_argument, 0, 'R' },
		{ "directory", no_argument, 0, 'd' },  { "unsorted", no_argument, 0, 'U' },
		{ "json", no_argument, 0, 'j' },       { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct ls_opts o = { 0 };
	int c, status = EXIT_OK, shown = 0, after_listing = 0;
	while ((c = getopt_long(argc, argv, "lRdUh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.longfmt = 1; break;
		case 'R': o.recursive = 1; break;
		case 'd': o.directory = 1; break;
		case 'U': o.unsorted = 1; break;
		case 'j': o.json = 1; break;
		case 'h': fputs(ls_help, stdout); return EXIT_OK;
		default: return bad_option("ls", argv);
		}
	}
	if (optind >= argc)
		return usage_error("ls", "missing IMAGE[:/dir]");
	out_init(&o.out, stdout, o.json);
	out_arr(&o.out, NULL);
	for (int i = optind; i < argc; i++) {
		struct place p;
		struct vfs_attr a;
		if (place_open(argv[i], 0, &p)) {
			status = EXIT_FAIL;
			continue;
		}
		o.p = &p;
		o.fs = place_rfs(&p);
		o.status = 0;
		const char *path = p.path;
		if (vfs_stat(p.v, path, 0, &a) == 0) {
			if (vfs_is_dir(&a) && !o.directory) {
				/* Several operands: each listing under its name, as ls(1) does (-R names its own). */
				if (argc - optind > 1 && !o.json && shown)
					putchar('\n');
				if (argc - optind > 1 && !o.json && !o.recursive)
					printf("%s:\n", argv[i]);
				shown = after_listing = 1;
				idmap_init(&o.visited);
				if (o.fs)
					*idmap_slot(&o.visited, (uint32_t)a.ino, 1) = (void *)1;
				list_dir(&o, path, 0);
				idmap_free(&o.visited);
			} else {
				if (after_listing && !o.json)
					putchar('\n');
				shown = 1;
				after_listing = 0;
				const char *base = strrchr(path, '/');
				base = base && base[1] ? base + 1 : path;
				if (show_entry(&o, path, base, strlen(base), &a)) {
					place_report(&p, path);
					o.status = -1;
				}
			}
			if (o.status)
				status = EXIT_FAIL;
		} else {
			place_report(&p, path);
			status = EXIT_FAIL;
		}
		place_close(&p);
	}
	out_end_arr(&o.out);
	out_done(&o.out);
	return status;
}

static const char stat_help[] =
	"Usage: rximg stat [OPTIONS] IMAGE:/path...\n"
	"Show a node as stored: type, mode, owner, size, times with nanoseconds, node id,\n"
	"links, and whether data is inline or in (compressed) records.\n\n"
	"  -L, --dereference  follow a symlink named last\n"
	"      --json         print a JSON array of objects\n"
	"  -h, --help         show this help\n";

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dereference", no_argument, 0, 'L' }, { "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' },        { 0, 0, 0, 0 },
	};
	int c, follow = 0, json = 0, status = EXIT_OK;
	struct out out;
	while ((c = getopt_long(argc, argv, "Lh", opts, NULL)) != -1) {
		switch (c) {
		case 'L': follow = 1; break;
		case 'j': json = 1; break;
		case 'h': fputs(stat_help, stdout); return EXIT_OK;
		default: return bad_option("stat", argv);
		}
	}
	if (optind >= argc)
		return usage_error("stat", "missing IMAGE:/path");
	out_init(&out, stdout, json);
	out_arr(&out, NULL);
	for (int i = optind; i < argc; i++) {
		struct place p;
		struct vfs_attr a;
		struct rfs_node n;
		struct node_facts f = { .htree_depth = -1 };
		char *target = NULL;
		if (place_open(argv[i], 0, &p)) {
			status = EXIT_FAIL;
			continue;
		}
		struct rfs *fs = place_rfs(&p);
		int r = vfs_stat(p.v, p.path, follow, &a);
		if (r == 0 && fs)
			r = rfs_lookup(fs, p.path, follow, &n) || node_facts(fs, &n, &f) ? -1 : 0;
		if (r == 0 && vfs_is_link(&a) && !f.target)
			r = vfs_readlink(p.v, p.path, &target);
		if (r) {
			place_report(&p, p.path);
			status = EXIT_FAIL;
		} else {
			struct record rec;
			node_record(&rec, p.v, p.path, NULL, 0, &a, f.target ? f.target : target, fs, &n, &f);
			out_record(&out, NULL, &rec, &stat_layout);
		}
		node_facts_free(&f);
		free(target);
		place_close(&p);
	}
	out_end_arr(&out);
	out_done(&out);
	return status;
}
