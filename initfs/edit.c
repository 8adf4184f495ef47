/* Changing a tree in place: what the editing subverbs do, with the reference's rules. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "initfs.h"

static const char *kind(enum ifs_type t)
{
	return t == IFS_DIR ? "directory" : t == IFS_LINK ? "symbolic link" : "file";
}

/* "/", "//", "/./": every component empty or "." */
int ifs_is_root_path(const char *p)
{
	for (const char *c = p; *c; c++)
		if (*c != '/' && !(*c == '.' && (c == p || c[-1] == '/') && (c[1] == '/' || !c[1])))
			return 0;
	return 1;
}

int ifs_lookup_nofollow(struct rx_ctx *ctx, struct ifs_node *root, const char *path,
			struct ifs_node **n)
{
	if (ifs_is_root_path(path)) {
		*n = root;
		return 0;
	}
	struct ifs_node *dir;
	char *name;
	int r = ifs_walk_parent(ctx, root, path, &dir, &name);
	if (r)
		return r;
	long i = ifs_dir_find(dir, name, strlen(name));
	free(name);
	if (i < 0)
		return rx_fail(ctx, ENOENT, "no such file or directory");
	*n = dir->ents[i].node;
	return 0;
}

/* mkdir -p: missing directories get 0755, the last one mode. */
static int mkdir_p(struct rx_ctx *ctx, struct ifs_node *root, const char *path, uint16_t mode,
		   struct ifs_node **out)
{
	struct ifs_node *cur = root;
	const char *p = path;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		if (len == 1 && s[0] == '.')
			continue;
		long i = ifs_dir_find(cur, s, len);
		if (i >= 0) {
			cur = cur->ents[i].node;
			if (cur->type != IFS_DIR)
				return rx_fail(ctx, ENOTDIR, "%.*s: %s", (int)len, s, cur->type == IFS_LINK ?
					       "is a symbolic link (not followed)" : "not a directory");
			continue;
		}
		const char *q = p;
		while (*q == '/')
			q++;
		struct ifs_node *n = ifs_node_new(IFS_DIR, *q ? 0755 : mode);
		int r = ifs_dir_add(ctx, cur, s, len, n);
		if (r) {
			ifs_tree_free(n);
			return r;
		}
		cur = n;
	}
	if (out)
		*out = cur;
	return 0;
}

/* Move everything of src (a host tree) into dst, replacing what is there by name. */
static int merge_into(struct rx_ctx *ctx, struct ifs_node *dst, struct ifs_node *src, unsigned depth)
{
	if (depth > 4096u)
		return rx_fail(ctx, ELOOP, "directories nest too deep");
	dst->mode = src->mode;
	for (size_t i = 0; i < src->n; i++) {
		struct ifs_dirent *e = &src->ents[i];
		long k = ifs_dir_find(dst, e->name, e->len);
		if (k < 0) {
			int r = ifs_dir_add(ctx, dst, e->name, e->len, e->node);
			if (r)
				return r;
			e->node = NULL;
			continue;
		}
		struct ifs_node *d = dst->ents[k].node;
		if (d->type == IFS_DIR && e->node->type == IFS_DIR) {
			int r = merge_into(ctx, d, e->node, depth + 1);
			if (r) {
				rx_prefix(ctx, "%s", e->name);
				return r;
			}
			continue;
		}
		if (d->type == IFS_DIR || e->node->type == IFS_DIR)
			return rx_fail(ctx, EEXIST, "%s: a %s is in the way of a %s", e->name, kind(d->type),
				       kind(e->node->type));
		dst->ents[k].node = e->node;
		e->node = NULL;
		ifs_tree_free(d);
	}
	return 0;
}

int ifs_put(struct rx_ctx *ctx, struct ifs_node *root, const char *src, const char *dest,
	    const struct ifs_put_opts *po)
{
	struct stat st;
	if (stat(src, &st) != 0)
		return rx_fail(ctx, errno, "%s: %s", src, strerror(errno));
	if (S_ISDIR(st.st_mode) && !po->recursive)
		return rx_fail(ctx, EISDIR, "%s: is a directory (use -r)", src);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return rx_fail(ctx, EINVAL, "%s: not a regular file or directory", src);
	/* A symlink named as SRC is followed on the host, as cp does. */
	char *real = realpath(src, NULL);
	if (!real)
		return rx_fail(ctx, errno, "%s: %s", src, strerror(errno));
	const char *base = strrchr(real, '/');
	base = base ? base + 1 : real;
	size_t dl = strlen(dest);
	int slash = dl > 1 && dest[dl - 1] == '/';
	int r = 0;
	struct ifs_node *dir = NULL, *dn = NULL, *node = NULL;
	char *name = NULL;
	if (po->parents) {
		char *p = rx_xstrdup(dest);
		char *last = strrchr(p, '/');
		if (!slash && last)
			*last = 0;
		r = mkdir_p(ctx, root, p, 0755, NULL);
		free(p);
	}
	if (r == 0 && ifs_lookup_nofollow(ctx, root, dest, &dn) == 0 && dn->type == IFS_DIR) {
		dir = dn;	/* an existing directory receives SRC under its own name */
		name = rx_xstrdup(base);
	} else if (r == 0 && slash) {
		r = rx_fail(ctx, ENOTDIR, "not an existing directory (use -P to create it)");
	} else if (r == 0) {
		rx_clear(ctx);
		r = ifs_walk_parent(ctx, root, dest, &dir, &name);
	}
	long i = r == 0 ? ifs_dir_find(dir, name, strlen(name)) : -1;
	const struct ifs_node *like = i >= 0 ? dir->ents[i].node : NULL;
	if (r == 0 && (r = ifs_import(ctx, AT_FDCWD, real, real, like, &node)) == 0) {
		if (po->have_mode && node->type == IFS_FILE)
			node->mode = po->mode;
		if (i < 0) {
			r = ifs_dir_add(ctx, dir, name, strlen(name), node);
			if (r == 0)
				node = NULL;
		} else {
			struct ifs_node *old = dir->ents[i].node;
			if (old->type == IFS_FILE && node->type == IFS_FILE) {
				/* A replaced file keeps its mode unless told otherwise. */
				if (!po->have_mode)
					node->mode = old->mode;
				node->uid = old->uid;
				node->gid = old->gid;
				dir->ents[i].node = node;
				node = NULL;
				ifs_tree_free(old);
			} else if (old->type == IFS_DIR && node->type == IFS_DIR) {
				r = merge_into(ctx, old, node, 0);
			} else {
				r = rx_fail(ctx, EEXIST, "exists and is a %s (remove it first)", kind(old->type));
			}
		}
	}
	ifs_tree_free(node);
	free(name);
	free(real);
	return r;
}

int ifs_set_file(struct rx_ctx *ctx, struct ifs_node *root, const char *path, const void *buf,
		 uint64_t len, int have_mode, uint16_t mode)
{
	if (len >= IFS_MAX_BYTES)
		return rx_fail(ctx, EFBIG, "a file must be smaller than 4 GiB");
	struct ifs_node *n;
	int r = ifs_resolve(ctx, root, path, 1, &n);
	if (r == 0) {
		if (n->type != IFS_FILE)
			return rx_fail(ctx, EISDIR, "is a directory");
		ifs_node_set_data(n, buf, len);
		if (have_mode)
			n->mode = mode & 07777;
		return 0;
	}
	if (r != -ENOENT)
		return r;
	rx_clear(ctx);
	struct ifs_node *dir;
	char *name;
	if ((r = ifs_walk_parent(ctx, root, path, &dir, &name)) != 0)
		return r;
	if (ifs_dir_find(dir, name, strlen(name)) >= 0) {
		free(name);
		return rx_fail(ctx, ENOENT, "a symbolic link to nothing");
	}
	n = ifs_node_new(IFS_FILE, have_mode ? mode & 07777 : 0644);
	ifs_node_set_data(n, buf, len);
	r = ifs_dir_add(ctx, dir, name, strlen(name), n);
	if (r)
		ifs_tree_free(n);
	free(name);
	return r;
}

int ifs_mkdir(struct rx_ctx *ctx, struct ifs_node *root, const char *path, uint16_t mode, int parents)
{
	if (parents)
		return mkdir_p(ctx, root, path, mode, NULL);
	struct ifs_node *dir;
	char *name = NULL;
	int r = ifs_walk_parent(ctx, root, path, &dir, &name);
	if (r == 0) {
		struct ifs_node *n = ifs_node_new(IFS_DIR, mode);
		r = ifs_dir_add(ctx, dir, name, strlen(name), n);
		if (r)
			ifs_tree_free(n);
	}
	free(name);
	return r;
}

int ifs_remove(struct rx_ctx *ctx, struct ifs_node *root, const char *path, int recursive, int force)
{
	if (ifs_is_root_path(path))
		return rx_fail(ctx, EINVAL, "the root cannot be removed");
	struct ifs_node *dir;
	char *name = NULL;
	long k = -1;
	int r = ifs_walk_parent(ctx, root, path, &dir, &name);
	if (r == 0 && (k = ifs_dir_find(dir, name, strlen(name))) < 0)
		r = rx_fail(ctx, ENOENT, "no such file or directory");
	if (r == -ENOENT && force) {
		rx_clear(ctx);
		r = 0;
		k = -1;
	}
	if (r == 0 && k >= 0 && dir->ents[k].node->type == IFS_DIR && !recursive)
		r = rx_fail(ctx, EISDIR, "is a directory (use -r)");
	if (r == 0 && k >= 0)
		ifs_dir_remove(dir, (size_t)k);
	free(name);
	return r;
}

int ifs_symlink(struct rx_ctx *ctx, struct ifs_node *root, const char *target, const char *link,
		int force)
{
	if (!*target)
		return rx_fail(ctx, EINVAL, "the target is empty");
	struct ifs_node *dir;
	char *name = NULL;
	long k;
	int r = ifs_walk_parent(ctx, root, link, &dir, &name);
	if (r == 0 && (k = ifs_dir_find(dir, name, strlen(name))) >= 0) {
		if (!force)
			r = rx_fail(ctx, EEXIST, "already exists (use -f to replace it)");
		else if (dir->ents[k].node->type == IFS_DIR)
			r = rx_fail(ctx, EISDIR, "is a directory");
		else
			ifs_dir_remove(dir, (size_t)k);
	}
	if (r == 0) {
		struct ifs_node *n = ifs_node_new(IFS_LINK, 0777);
		/* An absolute target names a path inside the archive: it is root-relative. */
		const char *t = target;
		if (*t == '/') {
			while (*t == '/')
				t++;
			n->form = IFS_LINK_ROOT;
		}
		ifs_node_set_data(n, t, strlen(t));
		r = ifs_dir_add(ctx, dir, name, strlen(name), n);
		if (r)
			ifs_tree_free(n);
	}
	free(name);
	return r;
}

void ifs_chmod(struct ifs_node *n, uint16_t mode, int recursive)
{
	size_t depth = 0, cap = 64;
	struct ifs_node **stack = rx_xmalloc(cap * sizeof(*stack));
	stack[depth++] = n;
	while (depth) {
		struct ifs_node *x = stack[--depth];
		if (x->type != IFS_LINK)	/* a link's own mode means nothing */
			x->mode = mode & 07777;
		for (size_t i = 0; recursive && i < x->n; i++) {
			if (depth == cap)
				stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
			stack[depth++] = x->ents[i].node;
		}
	}
	free(stack);
}
