/* Path resolution inside the image, following symlinks within its root. */
#include <stdlib.h>

#include "rfs.h"

#define MAX_SYMLINKS 40

int rfs_lookup(struct rfs *fs, const char *path, int follow, struct rfs_node *out)
{
	size_t cap = 16, depth = 1;
	uint32_t *stack = rx_xmalloc(cap * sizeof(*stack));
	char *rem = rx_xstrdup(path), *p = rem;
	int hops = 0, r = 0;

	stack[0] = RFS_ROOT_ID;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *next = p + len;
		while (*next == '/')
			next++;
		int last = *next == 0;
		if (len == 1 && p[0] == '.') {
			p = next;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (depth > 1)
				depth--;
			p = next;
			continue;
		}
		if (len > RFS_NAME_MAX) {
			r = rx_fail(fs->ctx, ENAMETOOLONG, "file name too long");
			break;
		}
		r = rfs_node_get(fs, stack[depth - 1], out);
		if (r)
			break;
		if (!rfs_is_dir(out)) {
			r = rx_fail(fs->ctx, ENOTDIR, "not a directory");
			break;
		}
		uint32_t id;
		r = rfs_dir_lookup(fs, out, p, len, &id);
		if (r)
			break;
		r = rfs_node_of_entry(fs, id, out);
		if (r)
			break;
		if (rfs_is_symlink(out) && (!last || follow)) {
			char *target;
			if (++hops > MAX_SYMLINKS) {
				r = rx_fail(fs->ctx, ELOOP, "too many levels of symbolic links");
				break;
			}
			r = rfs_readlink(fs, out, &target);
			if (r)
				break;
			char *joined = rx_xasprintf("%s/%s", target, next);
			if (target[0] == '/')
				depth = 1;
			free(target);
			free(rem);
			rem = p = joined;
			continue;
		}
		if (depth == cap)
			stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
		stack[depth++] = id;
		p = next;
	}
	if (r == 0)
		r = rfs_node_get(fs, stack[depth - 1], out);
	free(stack);
	free(rem);
	return r;
}
