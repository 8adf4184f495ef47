/*
 * The shell's command parser: a line split into words as sh would, and each
 * word made absolute against current directories inside and outside archives.
 * Besides memory errors, a result that breaks the form the verbs rely on
 * (every level "/" or "/a/b", no "." or ".." or empty component) aborts.
 * Input: one line, cut at the first NUL.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz.h"

static void check_absolute(const char *abs)
{
	const char *p = abs;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (len == 0 || p[0] != '/')
			abort();
		if (len > 1) {	/* "/a/b": components neither empty, nor "." nor "..", no trailing "/" */
			for (const char *c = p + 1; c < p + len;) {
				const char *e = memchr(c, '/', (size_t)(p + len - c));
				size_t l = e ? (size_t)(e - c) : (size_t)(p + len - c);
				if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
					abort();
				c += l + 1;
			}
		}
		if (!colon)
			break;
		p = colon + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const char *const cwds[] = { "/", "/boot", "/boot/initfs:/", "/boot/initfs:/etc",
					    "/a:/b:/c/d" };
	char *line = rx_xmalloc(n + 1);
	memcpy(line, data, n);
	line[n] = 0;
	int argc;
	char **argv = shell_split_words(line, &argc);
	if (argv) {
		for (int i = 0; i < argc; i++) {
			for (size_t c = 0; c < RX_ARRAY_SIZE(cwds); c++) {
				char *abs = shell_absolute(cwds[c], argv[i]);
				check_absolute(abs);
				/* Absolute paths are fixed points: made absolute again they do not change. */
				char *again = shell_absolute("/", abs);
				if (strcmp(again, abs) != 0)
					abort();
				free(again);
				free(abs);
			}
		}
		shell_free_words(argv, argc);
	} else if (argc != -1 && argc != 0) {	/* NULL: an unclosed quote, or no words */
		abort();
	}
	free(line);
	return 0;
}
