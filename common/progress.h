/* A progress bar on stderr when it is a terminal; silent in scripts. */
#ifndef RX_PROGRESS_H
#define RX_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress {
	int enabled;
	int drawn;		/* a partial bar is on the line */
	const char *label;	/* the verb's name */
	uint64_t total, done;	/* in items of unit bytes */
	uint64_t last_ns;
	unsigned unit;		/* bytes per counted item, for the sizes shown */
};

/* A bar of total bytes; enabled only when stderr is a terminal and not quiet. */
void progress_init(struct progress *p, const char *label, uint64_t total, int quiet);
/* The same, counting items of unit bytes each (e.g. 4096-byte blocks). */
void progress_init_units(struct progress *p, const char *label, uint64_t total, unsigned unit,
			 int quiet);
void progress_add(struct progress *p, uint64_t n);
/* The work is finished: 100% and the end of the line. */
void progress_done(struct progress *p);
/* The work stopped on an error: the bar is erased, the error takes its line. */
void progress_stop(struct progress *p);
/* Erase the bar on the line (if any) before printing a message; it comes back at its next step. */
void progress_pause(void);

/* bytes as "512 B", "1.0 KiB", "100.0 MiB": binary units, one decimal. */
void rx_human_size(uint64_t bytes, char *out, size_t cap);

#endif
