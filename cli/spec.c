/* IMAGE[:pN|:redoxfs][:/path]: finding where the image name ends. */
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"

static int is_image(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

/* Parse what follows the image name: [pN:|redoxfs:][/path] */
static int parse_rest(struct rx_ctx *ctx, const char *arg, const char *rest, struct target *t)
{
	if (rest[0] == 'p' && rest[1] >= '0' && rest[1] <= '9') {
		char *end;
		long n = strtol(rest + 1, &end, 10);
		if ((*end == 0 || *end == ':') && n > 0 && n < 1000) {
			t->partno = (int)n;
			rest = *end ? end + 1 : end;
		}
	} else if (!strncmp(rest, "redoxfs", 7) && (rest[7] == 0 || rest[7] == ':')) {
		rest += rest[7] ? 8 : 7;
	}
	if (*rest == 0)
		return 0;
	if (*rest != '/')
		return rx_fail(ctx, EINVAL, "%s: expected IMAGE[:pN][:/path], got '%s' after the image name",
			       arg, rest);
	t->path = rx_xstrdup(rest);
	return 0;
}

int target_parse(struct rx_ctx *ctx, const char *arg, struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->partno = RX_PART_AUTO;
	if (is_image(arg)) {
		t->image = rx_xstrdup(arg);
		return 0;
	}
	/* The image name is the shortest prefix before a ':' that names an existing file. */
	for (const char *c = strchr(arg, ':'); c; c = strchr(c + 1, ':')) {
		char *prefix = strndup(arg, (size_t)(c - arg));
		if (!prefix)
			abort();
		if (is_image(prefix)) {
			t->image = prefix;
			int r = parse_rest(ctx, arg, c + 1, t);
			if (r)
				target_free(t);
			return r;
		}
		free(prefix);
	}
	const char *c = strchr(arg, ':');
	char *name = c ? strndup(arg, (size_t)(c - arg)) : rx_xstrdup(arg);
	struct stat st;
	int r = stat(name, &st) == 0 ? rx_fail(ctx, EINVAL, "%s: not a regular file or block device", name)
				      : rx_fail(ctx, errno, "%s: %s", name, strerror(errno));
	free(name);
	return r;
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
	struct rx_lock_user u;
	int fd = rx_dev_lock_fd(container);
	char who[128];
	if (fd < 0 || !rx_lock_user(fd, &u) || !u.writing || u.byte < 0)
		return;
	rx_lock_user_name(&u, who, sizeof(who));
	warnx_("%s: %s has this image open for writing; what rximg reads may be inconsistent", image, who);
}

void close_target(struct opened *o)
{
	rx_image_close(o->img);
	target_free(&o->t);
	o->img = NULL;
	o->fs = NULL;
}

int lookup_target(struct opened *o, int follow, struct rfs_node *node)
{
	const char *path = o->t.path ? o->t.path : "/";
	int r = rfs_lookup(o->fs, path, follow, node);
	if (r)
		report(o->fs->ctx, o->t.image, path);
	return r;
}
