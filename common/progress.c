#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void progress_init(struct progress *p, const char *label, uint64_t total, int quiet)
{
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->label = label;
	p->total = total;
	p->done = 0;
	p->last_ns = 0;
}

static void draw(struct progress *p)
{
	const int width = 30;
	unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 100;
	int fill = (int)(pct * width / 100);
	fprintf(stderr, "\r%s [%.*s%*s] %3u%% %llu MiB", p->label, fill,
		"##############################", width - fill, "", pct,
		(unsigned long long)(p->done >> 20));
	fflush(stderr);
}

void progress_add(struct progress *p, uint64_t n)
{
	p->done += n;
	if (p->done > p->total)
		p->done = p->total;
	if (!p->enabled)
		return;
	uint64_t t = now_ns();
	if (t - p->last_ns < 100000000u)	/* redraw at most ten times a second */
		return;
	p->last_ns = t;
	draw(p);
}

void progress_done(struct progress *p)
{
	if (!p->enabled)
		return;
	p->done = p->total;
	draw(p);
	fputc('\n', stderr);
}

void progress_break(struct progress *p)
{
	if (p->enabled && p->last_ns) {
		fputc('\n', stderr);
		p->last_ns = 0;
	}
}
