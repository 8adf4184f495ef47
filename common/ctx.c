#include "rx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int rx_fail(struct rx_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	ctx->err = err;
	va_start(ap, fmt);
	vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	return -err;
}

void rx_prefix(struct rx_ctx *ctx, const char *fmt, ...)
{
	char joined[2 * sizeof(ctx->msg)];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(joined, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = RX_MIN(n, (int)sizeof(ctx->msg) - 1);
	if (ctx->msg[0])
		snprintf(joined + n, sizeof(joined) - (size_t)n, ": %s", ctx->msg);
	size_t len = RX_MIN(strlen(joined), sizeof(ctx->msg) - 1);
	memcpy(ctx->msg, joined, len);
	ctx->msg[len] = 0;
}

void rx_clear(struct rx_ctx *ctx)
{
	ctx->msg[0] = 0;
	ctx->err = 0;
}

static void *oom(void)
{
	fputs("rximg: out of memory\n", stderr);
	abort();
}

void *rx_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : oom();
}

void *rx_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	return p ? p : oom();
}

void *rx_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	return p ? p : oom();
}

char *rx_xstrdup(const char *s)
{
	char *p = strdup(s);
	return p ? p : oom();
}

char *rx_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	return n < 0 ? oom() : p;
}

char *rx_path_join(const char *dir, const char *name, size_t len)
{
	size_t dl = strlen(dir);
	int slash = dl > 0 && dir[dl - 1] == '/';
	char *p = rx_xmalloc(dl + len + 2);
	memcpy(p, dir, dl);
	if (!slash)
		p[dl++] = '/';
	memcpy(p + dl, name, len);
	p[dl + len] = 0;
	return p;
}
