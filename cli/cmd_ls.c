/* rximg ls, rximg stat */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "idmap.h"

struct ls_opts {
	int longfmt, recursive, unsorted, json, directory;
	struct json j;
	struct idmap visited;	/* directories listed: a second visit means a loop */
};

static void print_long(struct rfs *fs, const char *name, size_t len, const struct rfs_node *n,
		       const struct node_facts *f)
{
	char mode[11], when[64];
	mode_string(n->mode, mode);
	format_time(n->mtime, n->mtime_nsec, 0, when, sizeof(when));
	printf("%s %3u %5u %5u %10llu %s ", mode, n->links, n->uid, n->gid,
	       (unsigned long long)n->size, when);
	fwrite(name, 1, len, stdout);
	if (f->target)
		printf(" -> %s", f->target);
	putchar('\n');
	(void)fs;
}

static int show_entry(struct ls_opts *o, struct rfs *fs, const char *path, const char *name,
		      size_t len, const struct rfs_node *n)
{
	struct node_facts f = { .htree_depth = -1 };
	int r = 0;
	if (o->json || o->longfmt) {
		r = node_facts(fs, n, &f);
		if (r)
			return r;
	}
	if (o->json)
		json_node(&o->j, fs, path, name, n, &f);
	else if (o->longfmt)
		print_long(fs, name, len, n, &f);
	else {
		fwrite(name, 1, len, stdout);
		putchar('\n');
	}
	node_facts_free(&f);
	return 0;
}

/*
 * An entry whose node (or what -l needs of it) cannot be read: its name is
 * still listed ("?" for what is unknown; in JSON an "error" in place of the
 * attributes) and the problem is reported on stderr.
 */
static void show_damaged(struct ls_opts *o, struct opened *op, const char *path, const char *name)
{
	struct rx_ctx *ctx = op->fs->ctx;
	if (o->json) {
		json_obj(&o->j, NULL);
		json_str(&o->j, "path", path);
		json_str(&o->j, "name", name);
		json_str(&o->j, "error", ctx->msg);
		json_end_obj(&o->j);
	} else {
		if (o->longfmt)
			printf("?????????? %3s %5s %5s %10s %16s ", "?", "?", "?", "?", "?");
		puts(name);
	}
	fflush(stdout);	/* the listing and the report stay in order on a terminal */
	report(ctx, op->t.image, path);
	rx_clear(ctx);
}

/*
 * List dir; with -R, descend. visited guards against directory loops. A
 * damaged entry or directory is reported and the listing goes on; the result
 * is then nonzero.
 */
static int list_dir(struct ls_opts *o, struct opened *op, const char *path,
		    const struct rfs_node *dir, int depth)
{
	struct rfs *fs = op->fs;
	struct rfs_dirent *ents = NULL;
	size_t count;
	int r = rfs_dir_list(fs, dir, &ents, &count), status = 0;
	if (r == 0 && !o->unsorted)
		r = rfs_dirents_sort(fs, ents, count);
	if (r) {
		report(fs->ctx, op->t.image, path);
		rx_clear(fs->ctx);
		free(ents);
		return r;
	}
	if (o->recursive && !o->json)
		printf("%s%s:\n", depth ? "\n" : "", path);
	for (size_t i = 0; i < count; i++) {
		struct rfs_node n;
		char *child = rx_path_join(path, ents[i].name, ents[i].len);
		r = rfs_node_of_entry(fs, ents[i].id, &n);
		if (r == 0)
			r = show_entry(o, fs, child, ents[i].name, ents[i].len, &n);
		if (r) {
			show_damaged(o, op, child, ents[i].name);
			status = r;
		}
		free(child);
	}
	for (size_t i = 0; o->recursive && i < count; i++) {
		struct rfs_node n;
		if (rfs_node_of_entry(fs, ents[i].id, &n) != 0 || !rfs_is_dir(&n)) {
			rx_clear(fs->ctx);	/* reported above */
			continue;
		}
		char *child = rx_path_join(path, ents[i].name, ents[i].len);
		void **seen = idmap_slot(&o->visited, n.id, 1);
		if (*seen) {
			r = rx_fail(fs->ctx, ELOOP, "directory node %u is reached a second time "
				    "(a directory loop or hard-linked directory)", n.id);
			report(fs->ctx, op->t.image, child);
			rx_clear(fs->ctx);
		} else {
			*seen = (void *)1;
			r = list_dir(o, op, child, &n, depth + 1);
		}
		if (r)
			status = r;
		free(child);
	}
	free(ents);
	return status;
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
		struct opened op;
		struct rfs_node n;
		if (open_target(argv[i], &op)) {
			status = EXIT_FAIL;
			continue;
		}
		const char *path = op.t.path ? op.t.path : "/";
		if (lookup_target(&op, 0, &n) == 0) {
			int r;
			if (rfs_is_dir(&n) && !o.directory) {
				/* Several operands: each listing under its name, as ls(1) does (-R names its own). */
				if (argc - optind > 1 && !o.json && shown)
					putchar('\n');
				if (argc - optind > 1 && !o.json && !o.recursive)
					printf("%s:\n", argv[i]);
				shown = after_listing = 1;
				idmap_init(&o.visited);
				*idmap_slot(&o.visited, n.id, 1) = (void *)1;
				r = list_dir(&o, &op, path, &n, 0);
				idmap_free(&o.visited);
			} else {
				if (after_listing && !o.json)
					putchar('\n');
				shown = 1;
				after_listing = 0;
				const char *base = strrchr(path, '/');
				base = base && base[1] ? base + 1 : path;
				r = show_entry(&o, op.fs, path, base, strlen(base), &n);
				if (r)
					report(op.fs->ctx, op.t.image, path);
			}
			if (r)
				status = EXIT_FAIL;
		} else {
			status = EXIT_FAIL;
		}
		close_target(&op);
	}
	if (o.json) {
		json_end_arr(&o.j);
		json_done(&o.j);
	}
	return status;
}

static void stat_text(struct rfs *fs, const char *path, const struct rfs_node *n,
		      const struct node_facts *f)
{
	char mode[11], t[3][80];
	mode_string(n->mode, mode);
	format_time(n->atime, n->atime_nsec, 1, t[0], sizeof(t[0]));
	format_time(n->mtime, n->mtime_nsec, 1, t[1], sizeof(t[1]));
	format_time(n->ctime, n->ctime_nsec, 1, t[2], sizeof(t[2]));
	printf("  Path: %s", path);
	if (f->target)
		printf(" -> %s", f->target);
	printf("\n  Type: %s\n  Mode: %04o (%s)  Uid: %u  Gid: %u\n", node_type_name(n->mode),
	       n->mode & RFS_MODE_PERM, mode, n->uid, n->gid);
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
	(void)fs;
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
		struct opened op;
		struct rfs_node n;
		struct node_facts f;
		if (open_target(argv[i], &op)) {
			status = EXIT_FAIL;
			continue;
		}
		const char *path = op.t.path ? op.t.path : "/";
		if (lookup_target(&op, follow, &n) != 0) {
			status = EXIT_FAIL;
		} else if (node_facts(op.fs, &n, &f) != 0) {
			report(op.fs->ctx, op.t.image, path);
			status = EXIT_FAIL;
		} else {
			if (json)
				json_node(&j, op.fs, path, NULL, &n, &f);
			else
				stat_text(op.fs, path, &n, &f);
			node_facts_free(&f);
		}
		close_target(&op);
	}
	if (json) {
		json_end_arr(&j);
		json_done(&j);
	}
	return status;
}
