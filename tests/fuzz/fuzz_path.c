/*
 * The target syntax IMAGE[:pN|:redoxfs][:/path] from untrusted strings. The
 * names "img" and "dir/disk.img" exist as files, so that parsing reaches what
 * follows the image name. Input: the argument, NUL-free (cut at the first NUL).
 *
 * The parser is called through parse_target() below, the one line to change
 * when the path syntax moves (cli/spec.c today).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* What the rest of cli/spec.c (opening images, never reached here) needs from the CLI. */
void report(struct rx_ctx *ctx, const char *image, const char *path) { (void)ctx; (void)image; (void)path; }
void warnx_(const char *fmt, ...) { (void)fmt; }
void warn_probed_backing(const struct rx_dev *dev) { (void)dev; }
int unlock_fs(struct rfs *fs, const char *image) { (void)fs; (void)image; return -ENOTSUP; }

static int parse_target(struct rx_ctx *ctx, const char *arg)
{
	struct target t;
	int r = target_parse(ctx, arg, &t);
	if (r == 0)
		target_free(&t);
	return r;
}

static char tmpdir[] = "/tmp/rximg-fuzz-path.XXXXXX";

static void remove_tmpdir(void)
{
	if (chdir(tmpdir) == 0) {
		unlink("img");
		unlink("dir/disk.img");
		rmdir("dir");
		if (chdir("/") == 0)
			rmdir(tmpdir);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0 || mkdir("dir", 0755) != 0)
		abort();
	atexit(remove_tmpdir);
	FILE *f = fopen("img", "w"), *g = fopen("dir/disk.img", "w");
	if (!f || !g)
		abort();
	fclose(f);
	fclose(g);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct rx_ctx ctx = { 0 };
	char *arg = rx_xmalloc(n + 1);
	memcpy(arg, data, n);
	arg[n] = 0;
	parse_target(&ctx, arg);
	free(arg);
	return 0;
}
