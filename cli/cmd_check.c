/* rximg check */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#include "boot.h"
#include "check.h"
#include "cli.h"
#include "progress.h"
#include "table.h"

/* fsck-style exit codes, documented in rximg-check(1). */
enum { CHECK_CLEAN = 0, CHECK_CORRECTED = 1, CHECK_FOUND = 4, CHECK_OPERROR = 8, CHECK_USAGE = 16 };

/* A problem found, a repair made: one record each, as they come. */
enum { P_SEVERITY, P_WHERE, P_PROBLEM, P_REPAIR, P_IMAGE };
static const struct tfield problem_fields[] = {
	[P_SEVERITY] = { "severity", TK_STR, 0 },
	[P_WHERE] = { "where", TK_STR, 0 },
	[P_PROBLEM] = { "problem", TK_STR, 0 },
	[P_REPAIR] = { "repair", TK_STR, 0 },
	[P_IMAGE] = { NULL, TK_STR, 0 },
};
static const struct tcol problem_cols[] = {
	{ P_IMAGE, "%s: ", 0 }, { P_SEVERITY, "%s: ", 0 }, { P_REPAIR, "repaired: ", 0 },
	{ P_WHERE, "%s: ", 0 }, { P_PROBLEM, "%s\n", 0 }, { P_REPAIR, "%s\n", 0 },
};
static const struct tlayout problem_layout = LAYOUT(problem_cols);

/* The image checked, whether it was repaired, and the counts. */
enum {
	S_IMAGE, S_NOT_REPAIRED, S_REPAIRED, S_ERRORS, S_WARNINGS, S_NODES, S_DIRS, S_FILES, S_SYMLINKS,
	S_RECORDS, S_COMPRESSED, S_USED, S_FREE, S_LEAKED, S_STALE, S_EXIT, S_VERDICT,
};
static const struct tfield summary_fields[] = {
	[S_IMAGE] = { "image", TK_STR, 0 },
	[S_NOT_REPAIRED] = { "not_repaired", TK_STR, 0 },
	[S_REPAIRED] = { "repaired", TK_COUNT, 0 },
	[S_ERRORS] = { "errors", TK_COUNT, 0 },
	[S_WARNINGS] = { "warnings", TK_COUNT, 0 },
	[S_NODES] = { "nodes", TK_COUNT, 0 },
	[S_DIRS] = { "directories", TK_COUNT, 0 },
	[S_FILES] = { "files", TK_COUNT, 0 },
	[S_SYMLINKS] = { "symlinks", TK_COUNT, 0 },
	[S_RECORDS] = { "records", TK_COUNT, 0 },
	[S_COMPRESSED] = { "compressed_records", TK_COUNT, 0 },
	[S_USED] = { "used_blocks", TK_COUNT, 0 },
	[S_FREE] = { "free_blocks", TK_COUNT, 0 },
	[S_LEAKED] = { "leaked_blocks", TK_COUNT, 0 },
	[S_STALE] = { "stale_blocks", TK_COUNT, 0 },
	[S_EXIT] = { "exit_status", TK_COUNT, 0 },
	[S_VERDICT] = { NULL, TK_STR, 0 },
};
static const struct tcol not_repaired_cols[] = {
	{ S_IMAGE, "%s: not repaired: ", 0 }, { S_NOT_REPAIRED, "%s; the image was left unchanged\n", 0 },
};
static const struct tcol summary_cols[] = {
	{ S_IMAGE, "%s: ", 0 }, { S_NODES, "%s nodes", 0 }, { S_DIRS, " (%s directories", 0 },
	{ S_FILES, ", %s files", 0 }, { S_SYMLINKS, ", %s symlinks)", 0 }, { S_RECORDS, ", %s records", 0 },
	{ S_COMPRESSED, " (%s compressed)", 0 }, { S_USED, ", %s blocks used", 0 }, { S_FREE, ", %s free", 0 },
	{ S_LEAKED, ", %s leaked\n", 0 },
	{ S_IMAGE, "%s: ", 0 }, { S_VERDICT, "%s: ", 0 }, { S_ERRORS, "%s error%p", 0 },
	{ S_WARNINGS, ", %s warning%p\n", 0 },
};
static const struct tlayout not_repaired_layout = LAYOUT(not_repaired_cols);
static const struct tlayout summary_layout = LAYOUT(summary_cols);

struct report_ctx {
	int quiet;
	struct out out;
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
	if (sev != CHECK_ERROR && rc->quiet && !rc->out.json)
		return;
	struct record r;
	RECORD_INIT(&r, problem_fields);
	rec_str(&r, P_IMAGE, rc->image);
	rec_str(&r, P_SEVERITY, sev == CHECK_ERROR ? "error" : "warning");
	rec_str(&r, P_WHERE, where);
	rec_str(&r, P_PROBLEM, what);
	out_record(&rc->out, NULL, &r, &problem_layout);
}

static void print_repair(void *arg, const char *where, const char *what)
{
	struct report_ctx *rc = arg;
	struct record r;
	RECORD_INIT(&r, problem_fields);
	rec_str(&r, P_IMAGE, rc->image);
	rec_str(&r, P_WHERE, where);
	rec_str(&r, P_REPAIR, what);
	out_record(&rc->out, NULL, &r, &problem_layout);
}

/* The JSON document's start: {"image": ... */
static void begin_report(struct report_ctx *rc)
{
	struct record r;
	RECORD_INIT(&r, summary_fields);
	rec_str(&r, S_IMAGE, rc->image);
	out_obj(&rc->out, NULL);
	out_fields(&rc->out, &r, NULL);
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
	begin_report(rc);
	out_arr(&rc->out, "repairs");
	r = rfs_repair(op->fs, rep);
	out_end_arr(&rc->out);
	if (r) {
		out_end_obj(&rc->out);
		out_done(&rc->out);
		report(op->fs->ctx, op->t.image, NULL);
		close_target(op);
		return CHECK_OPERROR;
	}
	if (rep->gave_up) {
		struct record nr;
		RECORD_INIT(&nr, summary_fields);
		rec_str(&nr, S_IMAGE, op->t.image);
		rec_text_only(&nr, S_IMAGE);	/* already at the top */
		rec_str(&nr, S_NOT_REPAIRED, rep->reason);
		out_fields(&rc->out, &nr, &not_repaired_layout);
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
	int json = 0;
	int c, repair = 0;
	while ((c = getopt_long(argc, argv, "qynh", opts, NULL)) != -1) {
		switch (c) {
		case 'q': rc.quiet = 1; break;
		case 'y': repair = 1; break;
		case 'n': repair = 0; break;
		case 'j': json = 1; break;
		case 'h': fputs(check_help, stdout); return CHECK_CLEAN;
		default: bad_option("check", argv); return CHECK_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage_error("check", "expected IMAGE");
		return CHECK_USAGE;
	}
	struct opened op;
	out_init(&rc.out, stdout, json);
	if (repair) {
		int s = run_repair(argv[optind], &op, &rc, &rep);
		if (s >= 0)
			return s;
	} else {
		if (open_target(argv[optind], &op))
			return CHECK_OPERROR;
		rc.image = op.t.image;
		begin_report(&rc);
	}
	struct rfs_check chk = { .problem = print_problem, .arg = &rc, .blocks_done = bar_step };
	uint64_t free_blocks;
	int bar = !rc.quiet && isatty(STDERR_FILENO) && rfs_free_blocks(op.fs, &free_blocks) == 0;
	rx_clear(op.fs->ctx);	/* an unreadable log is the check's to report */
	progress_init_units(&rc.bar, "check", bar ? op.fs->nblocks - free_blocks : 0, RFS_BLOCK, !bar);
	out_arr(&rc.out, "problems");
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
	out_end_arr(&rc.out);
	struct record sr;
	RECORD_INIT(&sr, summary_fields);
	rec_str(&sr, S_IMAGE, op.t.image);
	rec_text_only(&sr, S_IMAGE);	/* already at the top */
	if (repair)
		rec_u64(&sr, S_REPAIRED, rep.changes);
	rec_u64(&sr, S_ERRORS, chk.errors);
	rec_u64(&sr, S_WARNINGS, chk.warnings);
	rec_u64(&sr, S_NODES, chk.nodes);
	rec_u64(&sr, S_DIRS, chk.dirs);
	rec_u64(&sr, S_FILES, chk.files);
	rec_u64(&sr, S_SYMLINKS, chk.symlinks);
	rec_u64(&sr, S_RECORDS, chk.records);
	rec_u64(&sr, S_COMPRESSED, chk.compressed);
	rec_u64(&sr, S_USED, chk.used_blocks);
	rec_u64(&sr, S_FREE, chk.free_blocks);
	rec_u64(&sr, S_LEAKED, chk.leaked_blocks);
	rec_u64(&sr, S_STALE, chk.stale_blocks);
	rec_u64(&sr, S_EXIT, (uint64_t)status);
	rec_str(&sr, S_VERDICT, chk.errors ? "PROBLEMS FOUND" : rep.changes ? "REPAIRED, now clean" : "clean");
	out_fields(&rc.out, &sr, !rc.quiet || chk.errors ? &summary_layout : NULL);
	out_end_obj(&rc.out);
	out_done(&rc.out);
	close_target(&op);
	return status;
}
