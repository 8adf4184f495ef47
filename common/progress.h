/* A progress bar on stderr when it is a terminal; silent in scripts. */
#ifndef RX_PROGRESS_H
#define RX_PROGRESS_H

#include <stdint.h>

struct progress {
	int enabled;
	const char *label;
	uint64_t total, done;
	uint64_t last_ns;
};

void progress_init(struct progress *p, const char *label, uint64_t total, int quiet);
void progress_add(struct progress *p, uint64_t n);
void progress_done(struct progress *p);
/* Before printing a message: end the bar's line (it is redrawn below on the next update). */
void progress_break(struct progress *p);

#endif
