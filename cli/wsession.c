/* Opening an image for writing: one invocation, one transaction, one commit. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

struct rfs_time now_time(void)
{
	struct rfs_time t;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		t.sec = strtoull(sde, NULL, 10);
		t.nsec = 0;
		return t;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	t.sec = (uint64_t)ts.tv_sec;
	t.nsec = (uint32_t)ts.tv_nsec;
	return t;
}

int reproducible_epoch(uint64_t *epoch)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (!sde || !*sde)
		return 0;
	*epoch = strtoull(sde, NULL, 10);
	return 1;
}

int parse_owner(const char *s, struct rfs_owner *o)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long u = strtoul(s, &end, 10), g;
	if (end == s || u > UINT32_MAX)
		return -1;
	if (*end == 0) {
		o->uid = o->gid = (uint32_t)u;
		return 0;
	}
	if (*end != ':' && *end != '.')
		return -1;
	const char *gs = end + 1;
	g = strtoul(gs, &end, 10);
	if (end == gs || *end || g > UINT32_MAX)
		return -1;
	o->uid = (uint32_t)u;
	o->gid = (uint32_t)g;
	return 0;
}

int parse_mode(const char *s, uint16_t *mode)
{
	char *end;
	if (*s < '0' || *s > '7')
		return -1;
	unsigned long m = strtoul(s, &end, 8);
	if (end == s || *end || m > 07777)
		return -1;
	*mode = (uint16_t)m;
	return 0;
}

int parse_size(const char *s, uint64_t *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;	/* strtoull would take "+5" or "-5" */
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (end == s || errno == ERANGE)
		return -1;
	int shift = 0;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -1;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -1;
	if (shift && n > (UINT64_MAX >> shift))
		return -1;
	*v = (uint64_t)n << shift;
	return 0;
}

/* A damaged entry a write took out unread (rm, or put/write/mv replacing it). */
void tell_dropped(void *image, const char *path, const char *why)
{
	fprintf(stderr, "rximg: warning: %s: %s: damaged (%s): removed without reading it; the blocks "
		"it held are left for 'rximg check --repair'\n", (const char *)image, path, why);
}

int wsession_open(const char *arg, struct wsession *w)
{
	static struct rx_ctx ctx;
	memset(w, 0, sizeof(*w));
	if (target_parse(&ctx, arg, &w->o.t) != 0) {
		report(&ctx, NULL, NULL);
		return -1;
	}
	int r = rx_image_open(&ctx, w->o.t.image, w->o.t.partno, RX_DEV_RDWR, &w->o.img);
	if (r == 0)
		warn_probed_backing(w->o.img->container);
	if (r == 0)
		r = rx_image_redoxfs(w->o.img, &w->o.fs);
	if (r == 0)
		r = unlock_fs(w->o.fs, w->o.t.image);
	if (r == 0) {
		w->o.fs->dropped = tell_dropped;
		w->o.fs->dropped_arg = w->o.t.image;
		r = rfs_tx_begin(w->o.fs, &w->tx);
	}
	if (r) {
		report_image(&ctx, &w->o.t);
		close_target(&w->o);
		return -1;
	}
	return 0;
}

/* Does arg name the same image as the session? Prints a usage error if not. */
int wsession_same(struct wsession *w, const char *verb, const struct target *t)
{
	struct stat a, b;
	if (stat(t->image, &a) == 0 && stat(w->o.t.image, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && t->partno == w->o.t.partno)
		return 1;
	usage_error(verb, "all paths must be in the same image (%s)", w->o.t.image);
	return 0;
}

int wsession_commit(struct wsession *w)
{
	int r = rfs_tx_commit(w->tx);
	w->tx = NULL;
	if (r)
		report(w->o.fs->ctx, w->o.t.image, NULL);
	close_target(&w->o);
	return r ? EXIT_FAIL : EXIT_OK;
}

int wsession_fail(struct wsession *w, const char *path)
{
	report(w->o.fs->ctx, w->o.t.image, path);
	rfs_tx_abort(w->tx);
	w->tx = NULL;
	close_target(&w->o);
	return EXIT_FAIL;
}

/* Parse every argument as IMAGE:/path of the session's image; NULL-terminated list of paths. */
static char **session_paths(struct wsession *w, const char *verb, int argc, char **argv)
{
	char **paths = rx_xcalloc((size_t)argc + 1, sizeof(*paths));
	static struct rx_ctx pctx;
	for (int i = 0; i < argc; i++) {
		struct target t;
		if (target_parse(&pctx, argv[i], &t)) {
			report(&pctx, NULL, NULL);
			goto bad;
		}
		if (!wsession_same(w, verb, &t) || !t.path) {
			if (!t.path)
				usage_error(verb, "name a path inside the image: %s", argv[i]);
			target_free(&t);
			goto bad;
		}
		paths[i] = t.path;
		t.path = NULL;
		target_free(&t);
	}
	return paths;
bad:
	for (int i = 0; i < argc; i++)
		free(paths[i]);
	free(paths);
	return NULL;
}

static void free_paths(char **paths)
{
	for (char **p = paths; p && *p; p++)
		free(*p);
	free(paths);
}

/* Open the image named by first, check every argument names it; EXIT_OK or a status. */
int wsession_begin(const char *verb, int argc, char **argv, struct wsession *w, char ***paths)
{
	if (argc < 1)
		return usage_error(verb, "expected IMAGE:/path");
	if (wsession_open(argv[0], w))
		return EXIT_FAIL;
	*paths = session_paths(w, verb, argc, argv);
	if (!*paths) {
		rfs_tx_abort(w->tx);
		close_target(&w->o);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int wsession_finish(struct wsession *w, char **paths, int r, const char *path)
{
	int s = r ? wsession_fail(w, path) : wsession_commit(w);
	free_paths(paths);
	return s;
}

int wsession_commit_progress(struct wsession *w, struct progress *bar)
{
	int status = wsession_commit(w);
	if (status == EXIT_OK)
		progress_done(bar);
	else
		progress_stop(bar);
	return status;
}
