/* A minimal TAP producer for the C unit tests. */
#ifndef RX_TAP_H
#define RX_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                                  \
	do {                                                                           \
		int ok_ = (cond);                                                      \
		tap_n++;                                                               \
		if (!ok_)                                                              \
			tap_failed++;                                                  \
		printf("%sok %d - ", ok_ ? "" : "not ", tap_n);                       \
		printf(__VA_ARGS__);                                                   \
		putchar('\n');                                                         \
		if (!ok_)                                                              \
			printf("#   failed at %s:%d\n", __FILE__, __LINE__);           \
	} while (0)

/* A test this host cannot run, with the reason. */
#define tap_skip(...)                                                                  \
	do {                                                                           \
		tap_n++;                                                               \
		printf("ok %d # SKIP ", tap_n);                                        \
		printf(__VA_ARGS__);                                                   \
		putchar('\n');                                                         \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
