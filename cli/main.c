#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>

#include "cli.h"
#include "config.h"
#include "progress.h"

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} verbs[] = {
	{ "info", cmd_info, "describe an image: container, partitions, RedoxFS header, boot files" },
	{ "ls", cmd_ls, "list a directory inside an image" },
	{ "stat", cmd_stat, "show everything stored about a file" },
	{ "cat", cmd_cat, "write a file's contents to standard output" },
	{ "get", cmd_get, "copy a file or directory out of an image" },
	{ "extract", cmd_extract, "extract a whole tree with modes, owners and times" },
	{ "check", cmd_check, "verify every checksum and structure of a RedoxFS" },
	{ "manifest", cmd_manifest, "print a manifest of every path with its SHA-256" },
	{ "diff", cmd_diff, "compare two images, manifests or directories path by path" },
	{ "create", cmd_create, "make a whole bootable disk: GPT, EFI system partition, RedoxFS" },
	{ "mkfs", cmd_mkfs, "create a RedoxFS, empty or filled from a host directory" },
	{ "cp", cmd_cp, "copy between the host and images, between images, or inside one" },
	{ "put", cmd_put, "copy host files and directories into an image" },
	{ "mkdir", cmd_mkdir, "create directories inside an image" },
	{ "rm", cmd_rm, "remove files and directories inside an image" },
	{ "mv", cmd_mv, "rename or move inside an image" },
	{ "ln", cmd_ln, "make symbolic or hard links inside an image" },
	{ "chmod", cmd_chmod, "change permission bits inside an image" },
	{ "chown", cmd_chown, "change owner and group inside an image" },
	{ "touch", cmd_touch, "set times, creating empty files" },
	{ "truncate", cmd_truncate, "shrink or extend files inside an image" },
	{ "write", cmd_write, "replace a file inside an image with standard input" },
	{ "edit", cmd_edit, "edit a file inside an image with $EDITOR" },
	{ "inject", cmd_inject, "put build outputs into an image (staging tree or SRC:/dest pairs)" },
	{ "sync", cmd_sync, "make a directory in the image match a host directory" },
	{ "initfs", cmd_initfs, "read, extract, repack and edit initfs archives (also inside images)" },
	{ "overlay", cmd_overlay, "create a qcow2 overlay on a base image (the base stays untouched)" },
	{ "convert", cmd_convert, "convert between raw and qcow2 (sparse; flattens backing chains)" },
	{ "shell", cmd_shell, "an interactive shell (or a batch script) on one image, one commit" },
	{ "uuid", cmd_uuid, "show or change the RedoxFS UUID" },
	{ "rebase", cmd_rebase, "point a qcow2 overlay at another backing file, keeping its content" },
	{ "commit", cmd_commit, "write a qcow2 overlay's changes into its backing file" },
	{ "bootloader", cmd_bootloader, "show, extract or install the loader in the EFI system partition" },
#ifdef HAVE_FUSE
	{ "mount", cmd_mount, "mount an image read-write with FUSE" },
	{ "umount", cmd_umount, "unmount and wait for the final commit" },
#endif
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: rximg VERB [OPTIONS] ARGS...\n"
		   "       rximg VERB --help\n\n"
		   "Work with Redox OS disk images without mounting them.\n"
		   "Images are named IMAGE[:pN][:/path], e.g. disk.img:/boot/kernel or disk.img:p3:/etc.\n\n"
		   "Verbs:\n");
	for (size_t i = 0; i < RX_ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-11s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nOptions:\n  -h, --help     show this help\n  -V, --version  show the version\n"
		   "\nSee rximg(1) and rximg-VERB(1).\n");
}

/* rximg __complete verbs | options VERB | path WORD: for the shell completions. */
static int complete(int argc, char **argv)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(verbs); i++) {
		if (argc == 2 && !strcmp(argv[1], "verbs"))
			printf("%s\t%s\n", verbs[i].name, verbs[i].summary);
		else if (argc == 3 && !strcmp(argv[1], "options") && !strcmp(argv[2], verbs[i].name))
			return complete_options(verbs[i].run, verbs[i].name);
	}
	if (argc == 3 && !strcmp(argv[1], "path"))
		return complete_path(argv[2]);
	return EXIT_OK;
}

verb_fn find_verb(const char *name)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(verbs); i++)
		if (strcmp(name, verbs[i].name) == 0)
			return verbs[i].run;
	return NULL;
}

int run_verb(int argc, char **argv)
{
	verb_fn run = find_verb(argv[0]);
	if (!run) {
		fprintf(stderr, "rximg: unknown verb '%s' (see rximg --help)\n", argv[0]);
		return EXIT_USAGE;
	}
	/* A fresh getopt scan each time (the shell runs many verbs in one process). */
#if HAVE_DECL_OPTRESET
	optreset = 1;
	optind = 1;
#else
	optind = 0;
#endif
	opterr = 0;	/* bad options are reported by the verb, on one line */
	return run(argc, argv);
}

int main(int argc, char **argv)
{
	rx_tune_allocator();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help") || !strcmp(verb, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(verb, "-V") || !strcmp(verb, "--version")) {
		printf("rximg %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(verb, "__complete"))
		return complete(argc - 1, argv + 1);
	return run_verb(argc - 1, argv + 1);
}

void report(struct rx_ctx *ctx, const char *image, const char *path)
{
	progress_pause();
	fputs("rximg: ", stderr);
	if (image)
		fprintf(stderr, "%s: ", image);
	if (path)
		fprintf(stderr, "%s: ", path);
	fprintf(stderr, "%s\n", ctx->msg[0] ? ctx->msg : strerror(ctx->err ? ctx->err : EIO));
}

void warnx_(const char *fmt, ...)
{
	va_list ap;
	progress_pause();
	fputs("rximg: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int bad_option(const char *verb, char **argv)
{
	if (optopt)
		return usage_error(verb, "option '-%c' is unknown or needs a value", optopt);
	return usage_error(verb, "unknown option '%s' (or it needs a value)", argv[optind - 1]);
}

int usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	/* One line, like every other error: scripts can rely on the shape. */
	fprintf(stderr, "rximg: %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'rximg %s --help')\n", verb);
	return EXIT_USAGE;
}
