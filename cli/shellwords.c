/*
 * The shell's words and paths (cli/shell.c), apart so that the fuzz target
 * reaches them: a line split the way sh would, and a typed path made
 * absolute against the current directory, through archive levels.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* Split a line the way sh would (quotes, backslashes, # comments); NULL on an unclosed quote. */
char **shell_split_words(const char *line, int *argc)
{
	char **v = NULL;
	int n = 0;
	const char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			break;
		size_t cap = strlen(p) + 1, len = 0;
		char *w = rx_xmalloc(cap);
		char q = 0;
		for (; *p; p++) {
			if (q) {
				if (*p == q)
					q = 0;
				else if (*p == '\\' && q == '"' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
					w[len++] = *++p;
				else
					w[len++] = *p;
			} else if (*p == '\'' || *p == '"') {
				q = *p;
			} else if (*p == '\\' && p[1]) {
				w[len++] = *++p;
			} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
				break;
			} else {
				w[len++] = *p;
			}
		}
		w[len] = 0;
		v = rx_xrealloc(v, (size_t)(n + 2) * sizeof(*v));
		v[n++] = w;
		v[n] = NULL;
		if (q) {
			for (int i = 0; i < n; i++)
				free(v[i]);
			free(v);
			*argc = -1;
			return NULL;
		}
	}
	*argc = n;
	return v;
}

void shell_free_words(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Apply one path (relative or absolute) to the levels in *lv, each a
 * normalized "/a/b". ".." at the root of an archive leaves it for the
 * directory that holds the archive, as the levels are entered the other way.
 */
static void walk_levels(char ***lv, size_t *n, const char *path, size_t len)
{
	if (len && path[0] == '/') {
		free((*lv)[*n - 1]);
		(*lv)[*n - 1] = rx_xstrdup("");
	}
	const char *s = path, *end = path + len;
	while (s < end) {
		while (s < end && *s == '/')
			s++;
		const char *e = s;
		while (e < end && *e != '/')
			e++;
		size_t l = (size_t)(e - s);
		char *cur = (*lv)[*n - 1];
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (!cur[0] && *n > 1) {
				free(cur);
				(*n)--;
				cur = (*lv)[*n - 1];
			}
			char *slash = strrchr(cur, '/');
			if (slash)
				*slash = 0;
		} else if (l && !(l == 1 && s[0] == '.')) {
			char *grown = rx_xasprintf("%s/%.*s", cur, (int)l, s);
			free(cur);
			(*lv)[*n - 1] = grown;
		}
		s = e;
	}
}

/*
 * A path typed in the shell -> the absolute multi-level path the verbs take
 * ("/boot/initfs:/etc/init.rc"). A relative path starts in the innermost level
 * of the cwd; an absolute one at the image's root. Each ":/member" opens a level.
 */
char *shell_absolute(const char *cwd, const char *arg)
{
	char **lv = NULL;
	size_t n = 0;
	const char *p = cwd;
	for (;;) {	/* the cwd's levels: "/boot/initfs:/etc" -> "/boot/initfs", "/etc" */
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		lv = rx_xrealloc(lv, (n + 1) * sizeof(*lv));
		lv[n] = rx_xstrdup("");
		n++;
		walk_levels(&lv, &n, p, len);
		if (!colon)
			break;
		p = colon + 1;
	}
	if (arg[0] == '/') {
		for (size_t i = 1; i < n; i++)
			free(lv[i]);
		n = 1;
	}
	for (p = arg;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		walk_levels(&lv, &n, p, len);
		if (!colon)
			break;
		p = colon + 1;
		lv = rx_xrealloc(lv, (n + 1) * sizeof(*lv));
		lv[n++] = rx_xstrdup("");
	}
	size_t cap = 1;
	for (size_t i = 0; i < n; i++)
		cap += strlen(lv[i]) + 2;
	char *out = rx_xmalloc(cap), *o = out;
	for (size_t i = 0; i < n; i++) {
		o += sprintf(o, "%s%s", i ? ":" : "", lv[i][0] ? lv[i] : "/");
		free(lv[i]);
	}
	free(lv);
	return out;
}
