/* rximg ls, rximg stat */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "idmap.h"

struct ls_opts {
	int longfmt, recursive, unsorted, json, directory;
	struct json j;
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

static void print_long(const char *name, size_t len, const struct vfs_attr *a, const char *target)
{
	char mode[11], when[64];
	mode_string(a->mode, mode);
	format_time(a->mtime.sec, a->mtime.nsec, 0, when, sizeof(when));
	printf("%s %3u %5u %5u %10llu %s ", mode, a->nlink, a->uid, a->gid, (unsigned long long)a->size, when);
	fwrite(name, 1, len, stdout);
	if (target)
		printf(" -> %s", target);
	putchar('\n');
}

/* One entry as JSON: the common attributes, then what the filesystem alone stores. */
static void json_entry(struct json *j, struct vfs *v, struct rfs *fs, const char *path, const char *name,
		       const struct vfs_attr *a, const char *target, const struct rfs_node *n,
		       const struct node_facts *f)
{
	char buf[8];
	json_obj(j, NULL);
	json_str(j, "path", path);
	if (name)
		json_str(j, "name", name);
	json_str(j, "type", node_type_name(a->mode));
	snprintf(buf, sizeof(buf), "%04o", a->mode & 07777);
	json_str(j, "mode", buf);
	json_u64(j, "uid", a->uid);
	json_u64(j, "gid", a->gid);
	json_u64(j, "size", a->size);
	json_u64(j, "nlink", a->nlink);
	if (fs) {
		json_u64(j, "node", n->id);
		json_u64_str(j, "blocks", n->blocks);	/* as stored: nothing bounds it */
	}
	if (v->has & VFS_HAS_TIMES) {
		json_time(j, "mtime", a->mtime.sec, a->mtime.nsec);
		json_time(j, "ctime", a->ctime.sec, a->ctime.nsec);
		json_time(j, "atime", a->atime.sec, a->atime.nsec);
	}
	if (target)
		json_str(j, "target", target);
	if (fs && rfs_is_dir(n)) {
		json_str(j, "storage", f->htree_depth < 0 ? "empty" : f->htree_depth == 0 ? "list" : "htree");
		if (f->htree_depth > 0)
			json_u64(j, "htree_depth", (uint64_t)f->htree_depth);
	} else if (fs) {
		json_str(j, "storage", rfs_is_inline(n) ? "inline" : "records");
		if (!rfs_is_inline(n)) {
			json_u64(j, "records", f->records);
			json_u64(j, "compressed_records", f->compressed);
		}
	}
	json_end_obj(j);
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
		if (o->json) {
			char *nm = strndup(name, len);
			if (!nm)
				abort();
			json_entry(&o->j, v, o->fs, path, nm, a, t, &n, &f);
			free(nm);
		} else if (o->longfmt) {
			print_long(name, len, a, t);
		} else {
			fwrite(name, 1, len, stdout);
			putchar('\n');
		}
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
	char *nm = strndup(name, len);
	if (!nm)
		abort();
	if (o->json) {
		json_obj(&o->j, NULL);
		json_str(&o->j, "path", path);
		json_str(&o->j, "name", nm);
		json_str(&o->j, "error", ctx->msg);
		json_end_obj(&o->j);
	} else {
		if (o->longfmt)
			printf("?????????? %3s %5s %5s %10s %16s ", "?", "?", "?", "?", "?");
		puts(nm);
	}
	free(nm);
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
	if (o.json) {
		json_init(&o.j, stdout);
		json_arr(&o.j, NULL);
	}
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
	if (o.json) {
		json_end_arr(&o.j);
		json_done(&o.j);
	}
	return status;
}

static void stat_text(struct vfs *v, const char *path, const struct vfs_attr *a, const char *target,
		      struct rfs *fs, const struct rfs_node *n, const struct node_facts *f)
{
	char mode[11], t[3][80];
	mode_string(a->mode, mode);
	format_time(a->atime.sec, a->atime.nsec, 1, t[0], sizeof(t[0]));
	format_time(a->mtime.sec, a->mtime.nsec, 1, t[1], sizeof(t[1]));
	format_time(a->ctime.sec, a->ctime.nsec, 1, t[2], sizeof(t[2]));
	printf("  Path: %s", path);
	if (target)
		printf(" -> %s", target);
	printf("\n  Type: %s\n  Mode: %04o (%s)  Uid: %u  Gid: %u\n", node_type_name(a->mode),
	       a->mode & 07777, mode, a->uid, a->gid);
	if (!fs) {
		printf("  Size: %llu  Links: %u\n  Storage: in %s\n", (unsigned long long)a->size, a->nlink, v->kind);
		if (v->has & VFS_HAS_TIMES)
			printf("Access: %s\nModify: %s\nCreate: %s\n", t[0], t[1], t[2]);
		return;
	}
	printf("  Size: %llu  Blocks: %llu (4 KiB, incl. the node)  Links: %u\n",
	       (unsigned long long)n->size, (unsigned long long)n->blocks, n->links);
	printf("  Node: %u  Node block: %llu\n", n->id, (unsigned long long)n->block);
	if (rfs_is_dir(n)) {
		if (f->htree_depth < 0)
			printf("  Storage: empty directory\n");
		else if (f->htree_depth == 0)
			printf("  Storage: one directory list\n");
		else
			printf("  Storage: hashed directory, %d index level%s\n", f->htree_depth,
			       f->htree_depth > 1 ? "s" : "");
	} else if (rfs_is_inline(n)) {
		printf("  Storage: inline in the node\n");
	} else {
		printf("  Storage: %llu record%s of up to %llu bytes, %llu compressed, %llu blocks stored\n",
		       (unsigned long long)f->records, f->records == 1 ? "" : "s",
		       (unsigned long long)rfs_record_size(n), (unsigned long long)f->compressed,
		       (unsigned long long)f->stored_blocks);
	}
	printf("Access: %s\nModify: %s\nCreate: %s\n", t[0], t[1], t[2]);
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
	struct json j;
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
	if (json) {
		json_init(&j, stdout);
		json_arr(&j, NULL);
	}
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
			const char *t = f.target ? f.target : target;
			if (json)
				json_entry(&j, p.v, fs, p.path, NULL, &a, t, &n, &f);
			else
				stat_text(p.v, p.path, &a, t, fs, &n, &f);
		}
		node_facts_free(&f);
		free(target);
		place_close(&p);
	}
	if (json) {
		json_end_arr(&j);
		json_done(&j);
	}
	return status;
}
