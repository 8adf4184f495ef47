/* rximg check */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#include "boot.h"
#include "check.h"
#include "cli.h"
#include "progress.h"

/* fsck-style exit codes, documented in rximg-check(1). */
enum { CHECK_CLEAN = 0, CHECK_CORRECTED = 1, CHECK_FOUND = 4, CHECK_OPERROR = 8, CHECK_USAGE = 16 };

struct report_ctx {
	int json, quiet;
	struct json *j;
	const char *image;
	struct progress bar;
};

static void bar_step(void *arg, uint64_t blocks)
{
	progress_add(&((struct report_ctx *)arg)->bar, blocks);
}

static void print_problem(void *arg, int sev, const char *where, const char *what)
{
	struct report_ctx *rc = arg;
	progress_pause();
	if (rc->json) {
		json_obj(rc->j, NULL);
		json_str(rc->j, "severity", sev == CHECK_ERROR ? "error" : "warning");
		json_str(rc->j, "where", where);
		json_str(rc->j, "problem", what);
		json_end_obj(rc->j);
	} else if (sev == CHECK_ERROR || !rc->quiet) {
		printf("%s: %s: %s: %s\n", rc->image, sev == CHECK_ERROR ? "error" : "warning", where, what);
	}
}

static void print_repair(void *arg, const char *where, const char *what)
{
	struct report_ctx *rc = arg;
	if (rc->json) {
		json_obj(rc->j, NULL);
		json_str(rc->j, "where", where);
		json_str(rc->j, "repair", what);
		json_end_obj(rc->j);
	} else {
		printf("%s: repaired: %s: %s\n", rc->image, where, what);
	}
}

static const char check_help[] =
	"Usage: rximg check [OPTIONS] IMAGE\n"
	"Verify a RedoxFS: the header ring, every block checksum, the node tree, every\n"
	"node, record and directory, hashed-directory order, link counts, the release\n"
	"list and the allocation log (leaked and doubly used blocks); warns when the\n"
	"header at block 0, the only one the Redox loaders probe, is not valid.\n\n"
	"  -n, --no-repair  only report, never change the image (the default)\n"
	"  -y, --repair     repair what can be repaired, as one transaction: drop entries\n"
	"                   whose node cannot be read, zero-fill unreadable records,\n"
	"                   rebuild damaged directories, reconnect unnamed nodes under\n"
	"                   /lost+found, fix link counts, rebuild the allocation log;\n"
	"                   every change is reported, then the result is checked\n"
	"  -q, --quiet      print errors and repairs only, no warnings or summary\n"
	"      --json       print the result as a JSON object\n"
	"  -h, --help       show this help\n\n"
	"Exit status: 0 clean (warnings allowed), 1 errors were repaired and the image\n"
	"is now clean, 4 errors found (and left), 8 the image could not be checked or\n"
	"repaired, 16 usage error.\n";

/* Open for writing (locked against other users), unlock, repair; a status or -1 to go on. */
static int run_repair(const char *arg, struct opened *op, struct report_ctx *rc, struct rfs_repair *rep)
{
	static struct rx_ctx ctx;
	memset(op, 0, sizeof(*op));
	if (target_parse(&ctx, arg, &op->t) != 0) {
		report(&ctx, NULL, NULL);
		return CHECK_USAGE;
	}
	int r = rx_image_open(&ctx, op->t.image, op->t.partno, RX_DEV_RDWR, &op->img);
	if (r == 0)
		warn_probed_backing(op->img->container);
	if (r == 0)
		r = rx_image_redoxfs(op->img, &op->fs);
	if (r == 0)
		r = unlock_fs(op->fs, op->t.image);
	if (r) {
		report(&ctx, op->t.image, NULL);
		close_target(op);
		return CHECK_OPERROR;
	}
	rc->image = op->t.image;
	rep->repaired = print_repair;
	rep->arg = rc;
	rep->now = now_time();
	if (rc->json) {
		json_init(rc->j, stdout);
		json_obj(rc->j, NULL);
		json_str(rc->j, "image", op->t.image);
		json_arr(rc->j, "repairs");
	}
	r = rfs_repair(op->fs, rep);
	if (rc->json)
		json_end_arr(rc->j);
	if (r) {
		if (rc->json) {
			json_end_obj(rc->j);
			json_done(rc->j);
		}
		report(op->fs->ctx, op->t.image, NULL);
		close_target(op);
		return CHECK_OPERROR;
	}
	if (rep->gave_up) {
		if (rc->json)
			json_str(rc->j, "not_repaired", rep->reason);
		else
			printf("%s: not repaired: %s; the image was left unchanged\n", op->t.image,
			       rep->reason);
	}
	return -1;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, 0, 'q' }, { "json", no_argument, 0, 'j' },
		{ "repair", no_argument, 0, 'y' }, { "no-repair", no_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' },  { 0, 0, 0, 0 },
	};
	struct report_ctx rc = { 0 };
	struct rfs_repair rep = { 0 };
	struct json j;
	int c, repair = 0;
	while ((c = getopt_long(argc, argv, "qynh", opts, NULL)) != -1) {
		switch (c) {
		case 'q': rc.quiet = 1; break;
		case 'y': repair = 1; break;
		case 'n': repair = 0; break;
		case 'j': rc.json = 1; break;
		case 'h': fputs(check_help, stdout); return CHECK_CLEAN;
		default: bad_option("check", argv); return CHECK_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage_error("check", "expected IMAGE");
		return CHECK_USAGE;
	}
	struct opened op;
	rc.j = &j;
	if (repair) {
		int s = run_repair(argv[optind], &op, &rc, &rep);
		if (s >= 0)
			return s;
	} else {
		if (open_target(argv[optind], &op))
			return CHECK_OPERROR;
		rc.image = op.t.image;
		if (rc.json) {
			json_init(&j, stdout);
			json_obj(&j, NULL);
			json_str(&j, "image", op.t.image);
		}
	}
	struct rfs_check chk = { .problem = print_problem, .arg = &rc, .blocks_done = bar_step };
	uint64_t free_blocks;
	int bar = !rc.quiet && isatty(STDERR_FILENO) && rfs_free_blocks(op.fs, &free_blocks) == 0;
	rx_clear(op.fs->ctx);	/* an unreadable log is the check's to report */
	progress_init_units(&rc.bar, "check", bar ? op.fs->nblocks - free_blocks : 0, RFS_BLOCK, !bar);
	if (rc.json)
		json_arr(&j, "problems");
	int r = rfs_check(op.fs, &chk);
	char block0[512];
	/* Sound in itself, yet invisible to the loaders, which probe block 0 of the partition only. */
	if (r == 0 && rx_boot_block0_problem(op.img, block0, sizeof(block0))) {
		print_problem(&rc, CHECK_WARNING, "header slot 0", block0);
		chk.warnings++;
	}
	if (r == 0)
		progress_done(&rc.bar);
	else
		progress_stop(&rc.bar);
	if (r) {
		report(op.fs->ctx, op.t.image, NULL);
		close_target(&op);
		return CHECK_OPERROR;
	}
	int status = chk.errors ? CHECK_FOUND : rep.changes ? CHECK_CORRECTED : CHECK_CLEAN;
	if (rc.json) {
		json_end_arr(&j);
		if (repair)
			json_u64(&j, "repaired", rep.changes);
		json_u64(&j, "errors", chk.errors);
		json_u64(&j, "warnings", chk.warnings);
		json_u64(&j, "nodes", chk.nodes);
		json_u64(&j, "directories", chk.dirs);
		json_u64(&j, "files", chk.files);
		json_u64(&j, "symlinks", chk.symlinks);
		json_u64(&j, "records", chk.records);
		json_u64(&j, "compressed_records", chk.compressed);
		json_u64(&j, "used_blocks", chk.used_blocks);
		json_u64(&j, "free_blocks", chk.free_blocks);
		json_u64(&j, "leaked_blocks", chk.leaked_blocks);
		json_u64(&j, "stale_blocks", chk.stale_blocks);
		json_u64(&j, "exit_status", (uint64_t)status);
		json_end_obj(&j);
		json_done(&j);
	} else if (!rc.quiet || chk.errors) {
		printf("%s: %llu nodes (%llu directories, %llu files, %llu symlinks), %llu records "
		       "(%llu compressed), %llu blocks used, %llu free, %llu leaked\n",
		       op.t.image, (unsigned long long)chk.nodes, (unsigned long long)chk.dirs,
		       (unsigned long long)chk.files, (unsigned long long)chk.symlinks,
		       (unsigned long long)chk.records, (unsigned long long)chk.compressed,
		       (unsigned long long)chk.used_blocks, (unsigned long long)chk.free_blocks,
		       (unsigned long long)chk.leaked_blocks);
		printf("%s: %s: %llu error%s, %llu warning%s\n", op.t.image,
		       chk.errors ? "PROBLEMS FOUND" : rep.changes ? "REPAIRED, now clean" : "clean",
		       (unsigned long long)chk.errors,
		       chk.errors == 1 ? "" : "s", (unsigned long long)chk.warnings,
		       chk.warnings == 1 ? "" : "s");
	}
	close_target(&op);
	return status;
}
