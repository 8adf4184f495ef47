/* IMAGE[:pN|:redoxfs][:/path]: finding where the image name ends. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "qcow2.h"
#include "resolve.h"

int target_parse(struct rx_ctx *ctx, const char *arg, struct target *t)
{
	struct rx_pathspec s;
	memset(t, 0, sizeof(*t));
	int r = rx_pathspec_parse(ctx, arg, &s);
	if (r)
		return r;
	if (s.partno == RX_PART_ESP) {
		r = rx_fail(ctx, ENOTSUP, "%s: the EFI system partition; this verb works on RedoxFS (ls, stat, cat, "
			    "cp, get, put, sync, rm, mkdir, mv and truncate reach the ESP)", arg);
		rx_pathspec_free(&s);
		return r;
	}
	if (s.nseg > 1) {
		r = rx_fail(ctx, ENOTSUP, "%s: a path inside an archive; this verb works on the filesystem "
			    "itself (ls, stat, cat, cp, put, sync, write, edit, rm, mkdir, mv, ln, chmod, touch and "
			    "truncate reach inside archives)", arg);
		rx_pathspec_free(&s);
		return r;
	}
	t->image = s.image;
	t->partno = s.partno;
	t->path = s.nseg ? s.seg[0] : NULL;
	s.image = NULL;
	if (s.nseg)
		s.seg[0] = NULL;
	rx_pathspec_free(&s);
	return 0;
}

void target_free(struct target *t)
{
	free(t->image);
	free(t->path);
	t->image = t->path = NULL;
}

int open_target(const char *arg, struct opened *o)
{
	static struct rx_ctx ctx;
	memset(o, 0, sizeof(*o));
	if (target_parse(&ctx, arg, &o->t) != 0) {
		report(&ctx, NULL, NULL);
		return -1;
	}
	int r = rx_image_open(&ctx, o->t.image, o->t.partno, RX_DEV_RDONLY, &o->img);
	if (r == 0) {
		warn_if_written(o->img->container, o->t.image);
		warn_probed_backing(o->img->container);
	}
	if (r == 0)
		r = rx_image_redoxfs(o->img, &o->fs);
	if (r == 0)
		r = unlock_fs(o->fs, o->t.image);
	if (r) {
		report_image(&ctx, &o->t);
		close_target(o);
		return -1;
	}
	return 0;
}

void report_image(struct rx_ctx *ctx, const struct target *t)
{
	char *name = t->partno > 0 ? rx_xasprintf("%s:p%d", t->image, t->partno) : rx_xstrdup(t->image);
	report(ctx, name, NULL);
	free(name);
}

void warn_if_written(const struct rx_dev *container, const char *image)
{
	/* The image, or else the first file of its backing chain someone writes. */
	for (const struct rx_dev *d = container; d; d = rx_qcow2_backing(d)) {
		struct rx_lock_user u;
		int fd = rx_dev_lock_fd(d);
		char who[128];
		if (fd < 0 || !rx_lock_user(fd, &u) || !u.writing || u.byte < 0 || u.pid == (long)getpid())
			continue;	/* nobody, or this very process (a shell session reading its own image) */
		rx_lock_user_name(&u, who, sizeof(who));
		if (d == container)
			warnx_("%s: %s has this image open for writing; what rximg reads may be inconsistent", image, who);
		else
			warnx_("%s: %s has its backing file %s open for writing; what rximg reads may be inconsistent",
			       image, who, d->name);
		return;
	}
}

void close_target(struct opened *o)
{
	rx_image_close(o->img);
	target_free(&o->t);
	o->img = NULL;
	o->fs = NULL;
}
