#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* The bar drawn last on the terminal line, if any: messages erase it first. */
static struct progress *on_line;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rx_human_size(uint64_t bytes, char *out, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	/* 1023.96 KiB would print as "1024.0 KiB": say 1.0 MiB instead. */
	if (u && u < 6 && v >= 1023.95) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void progress_init_units(struct progress *p, const char *label, uint64_t total, unsigned unit,
			 int quiet)
{
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->drawn = 0;
	p->label = label;
	p->total = total;
	p->done = 0;
	p->last_ns = 0;
	p->unit = unit;
}

void progress_init(struct progress *p, const char *label, uint64_t total, int quiet)
{
	progress_init_units(p, label, total, 1, quiet);
}

static void draw(struct progress *p, int finished)
{
	const int width = 30;
	unsigned pct = p->total ? (unsigned)((double)p->done * 100 / (double)p->total) : 100;
	if (!finished && pct > 99)
		pct = 99;	/* 100% means done, not "the last write is under way" */
	int fill = (int)(pct * width / 100);
	char done[32], total[32];
	rx_human_size(p->done * p->unit, done, sizeof(done));
	rx_human_size(p->total * p->unit, total, sizeof(total));
	/* \033[K clears what a longer previous line left behind. */
	fprintf(stderr, "\r%s [%.*s%*s] %3u%% %s / %s\033[K", p->label, fill,
		"##############################", width - fill, "", pct, done, total);
	fflush(stderr);
	p->drawn = 1;
	on_line = p;
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
	draw(p, 0);
}

void progress_done(struct progress *p)
{
	if (!p->enabled)
		return;
	p->done = p->total;
	draw(p, 1);
	fputc('\n', stderr);
	p->enabled = 0;
	on_line = NULL;
}

void progress_stop(struct progress *p)
{
	if (p->enabled && p->drawn && on_line == p)
		fputs("\r\033[K", stderr);
	p->enabled = 0;
	if (on_line == p)
		on_line = NULL;
}

void progress_pause(void)
{
	if (!on_line)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	on_line->drawn = 0;
	on_line->last_ns = 0;	/* redrawn at its next step */
	on_line = NULL;
}
