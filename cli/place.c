/* Front-end side of the resolver: opening IMAGE[:pN][:/path][:/member] for a verb, printing its failures. */
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"

static struct vfs_time cli_now(void)
{
	struct rfs_time t = now_time();
	return (struct vfs_time){ t.sec, t.nsec };
}

static int cli_unlock(void *arg, struct rfs *fs, const char *image)
{
	(void)arg;
	return unlock_fs(fs, image);
}

static void cli_warn(void *arg, const char *label, const char *msg)
{
	(void)arg;
	warnx_("%s: %s", label, msg);
}

void place_opts(struct rx_res_opts *o, int write)
{
	memset(o, 0, sizeof(*o));
	o->write = write;
	o->unlock = cli_unlock;
	o->dropped = tell_dropped;
	o->warn = cli_warn;
	o->now = cli_now;
}

static struct rx_res *session;
static struct rx_ctx *session_ctx;

void place_session(struct rx_res *s, struct rx_ctx *ctx)
{
	session = s;
	session_ctx = ctx;
}

/* Does arg name the session's image and partition? */
static int in_session(const char *arg)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_pathspec s;
	if (!session || rx_pathspec_parse(&ctx, arg, &s) != 0)
		return 0;
	struct stat a, b;
	int yes = stat(s.image, &a) == 0 && stat(session->spec.image, &b) == 0 && a.st_dev == b.st_dev &&
		  a.st_ino == b.st_ino && (s.partno == session->spec.partno || s.partno == RX_PART_AUTO);
	rx_pathspec_free(&s);
	return yes;
}

int place_open_with(const char *arg, const struct rx_res_opts *opts, struct place *p)
{
	memset(p, 0, sizeof(*p));
	p->arg = arg;
	p->c = &p->ctx;
	struct rx_res_opts o = *opts;
	if (o.dropped == tell_dropped && !o.dropped_arg)
		o.dropped_arg = (void *)arg;
	int inside = in_session(arg);
	if (inside)
		p->c = session_ctx;
	if ((inside ? rx_res_open_in(session, arg, &o, &p->res) : rx_res_open(p->c, arg, &o, &p->res)) != 0) {
		report(p->c, NULL, NULL);
		if (inside)
			rx_clear(p->c);	/* the session's: the next command starts clean */
		return -1;
	}
	struct rx_image *img = inside ? NULL : rx_res_image(p->res);
	if (img) {
		if (!opts->write)
			warn_if_written(img->container, img->path);
		warn_probed_backing(img->container);
	}
	p->v = rx_res_vfs(p->res);
	p->path = p->res->path;
	p->label = p->res->label;
	return 0;
}

int place_open(const char *arg, int write, struct place *p)
{
	struct rx_res_opts o;
	place_opts(&o, write);
	return place_open_with(arg, &o, p);
}

void place_report(struct place *p, const char *path)
{
	report(p->c, p->label, path);
	rx_clear(p->c);
}

void place_close(struct place *p)
{
	rx_res_close(p->res);
	p->res = NULL;
	p->v = NULL;
}

int place_commit(struct place *p)
{
	int r = rx_res_commit(p->res);
	if (r) {
		report(p->c, NULL, NULL);
		rx_clear(p->c);
	}
	place_close(p);
	return r ? EXIT_FAIL : EXIT_OK;
}

static void free_paths(char **paths)
{
	for (char **q = paths; q && *q; q++)
		free(*q);
	free(paths);
}

int place_begin(const char *verb, int argc, char **argv, struct place *p, char ***paths)
{
	if (argc < 1)
		return usage_error(verb, "expected IMAGE:/path");
	if (place_open(argv[0], 1, p))
		return EXIT_FAIL;
	*paths = rx_xcalloc((size_t)argc + 1, sizeof(**paths));
	for (int i = 0; i < argc; i++) {
		struct rx_pathspec s;
		struct rx_ctx pctx = { { 0 }, 0 };
		if (rx_pathspec_parse(&pctx, argv[i], &s)) {
			report(&pctx, NULL, NULL);
			goto bad;
		}
		int same = rx_res_same(p->res, &s);
		if (!same || !s.nseg) {
			if (!same)
				usage_error(verb, "all paths must be in the same filesystem (%s)", p->label);
			else
				usage_error(verb, "name a path inside the image: %s", argv[i]);
			rx_pathspec_free(&s);
			goto bad;
		}
		(*paths)[i] = s.seg[s.nseg - 1];
		s.seg[s.nseg - 1] = NULL;
		rx_pathspec_free(&s);
	}
	return EXIT_OK;
bad:
	free_paths(*paths);
	*paths = NULL;
	place_close(p);
	return EXIT_USAGE;
}

int place_finish(struct place *p, char **paths, int r, const char *path)
{
	int s;
	if (r) {
		place_report(p, path);
		place_close(p);
		s = EXIT_FAIL;
	} else {
		s = place_commit(p);
	}
	free_paths(paths);
	return s;
}

int name_list_add(void *arg, const char *name, size_t len, const struct vfs_attr *a)
{
	struct name_list *l = arg;
	(void)a;
	l->v = rx_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n] = strndup(name, len);
	if (!l->v[l->n])
		abort();
	l->n++;
	return 0;
}

void name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* :pN names a partition that holds no RedoxFS (the resolver opens a FAT one as FAT). */
static int partition_without_redoxfs(const struct rx_pathspec *s)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_image *img;
	struct rfs *fs;
	if (s->partno <= 0 || rx_image_open(&ctx, s->image, s->partno, RX_DEV_RDONLY, &img) != 0)
		return 0;
	int none = rx_image_redoxfs(img, &fs) == -ENOENT && img->fsdev;
	rx_image_close(img);
	return none;
}

int names_member(const char *arg)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_pathspec s;
	if (rx_pathspec_parse(&ctx, arg, &s) != 0)
		return 0;
	int yes = s.nseg > 1 || s.partno == RX_PART_ESP ||
		  (s.nseg == 1 && s.partno == RX_PART_AUTO && rx_is_initfs_file(s.image)) ||
		  partition_without_redoxfs(&s);
	rx_pathspec_free(&s);
	return yes;
}
