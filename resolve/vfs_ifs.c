/*
 * An initfs archive behind the vfs: the archive's tree in memory. Edits change
 * the tree; the resolver lays the archive out again when it commits. Paths
 * follow symlinks on the way as POSIX does (either stored form), the last one
 * only when asked. What the format cannot hold (owners, times, hard links,
 * links in the oldest layouts) is refused by name.
 */
#include <stdlib.h>
#include <unistd.h>

#include "resolve.h"

struct ifs_vfs {
	struct ifs_node *root;
	enum ifs_layout layout;
};

static struct ifs_node *root_of(struct vfs *v)
{
	return ((struct ifs_vfs *)v->priv)->root;
}

static uint16_t type_bits(const struct ifs_node *n)
{
	return n->type == IFS_DIR ? VFS_DIR : n->type == IFS_LINK ? VFS_LINK : VFS_FILE;
}

static void attr_of(const struct ifs_node *n, struct vfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = (uint64_t)(uintptr_t)n;	/* unique while the tree lives; archives have no hard links */
	a->mode = (uint16_t)(type_bits(n) | (n->type == IFS_LINK ? 0777 : (n->mode & 07777)));
	a->uid = n->uid;
	a->gid = n->gid;
	a->nlink = 1;
	if (n->type == IFS_DIR) {
		a->nlink = 2;
		for (size_t i = 0; i < n->n; i++)
			a->nlink += n->ents[i].node->type == IFS_DIR;
	}
	a->size = n->type == IFS_DIR ? 0 : n->size;
}

/* The last component of path: [*base, *end) (trailing slashes left out). */
static void last_part(const char *path, const char **base, const char **end)
{
	const char *e = path + strlen(path);
	while (e > path && e[-1] == '/')
		e--;
	const char *b = e;
	while (b > path && b[-1] != '/')
		b--;
	*base = b;
	*end = e;
}

/* dir/name of path: the directory resolved (links followed), name malloc'd. */
static int parent_of(struct vfs *v, const char *path, struct ifs_node **dir, char **name)
{
	const char *base, *end;
	last_part(path, &base, &end);
	if (base == end)
		return rx_fail(v->ctx, EINVAL, "the root has no name");
	size_t len = (size_t)(end - base);
	if (len == 1 && base[0] == '.')
		return rx_fail(v->ctx, EINVAL, "'.' cannot be changed");
	if (len == 2 && base[0] == '.' && base[1] == '.')
		return rx_fail(v->ctx, EINVAL, "'..' cannot be changed");
	char *parent = base > path ? strndup(path, (size_t)(base - path)) : rx_xstrdup("/");
	if (!parent)
		abort();
	int r = ifs_resolve(v->ctx, root_of(v), parent, 1, dir);
	free(parent);
	if (r == 0 && (*dir)->type != IFS_DIR)
		r = rx_fail(v->ctx, ENOTDIR, "not a directory");
	if (r == 0) {
		*name = strndup(base, len);
		if (!*name)
			abort();
	}
	return r;
}

/* The entry path names: its directory (links on the way followed) and its index there. */
static int entry_of(struct vfs *v, const char *path, struct ifs_node **dir, long *k)
{
	char *name;
	int r = parent_of(v, path, dir, &name);
	if (r)
		return r;
	*k = ifs_dir_find(*dir, name, strlen(name));
	free(name);
	return *k < 0 ? rx_fail(v->ctx, ENOENT, "no such file or directory") : 0;
}

/* The node named by path, without following a last symlink. */
static int lookup(struct vfs *v, const char *path, int follow, struct ifs_node **n)
{
	if (follow || ifs_is_root_path(path))
		return ifs_resolve(v->ctx, root_of(v), path, 1, n);
	struct ifs_node *dir;
	long k;
	int r = entry_of(v, path, &dir, &k);
	if (r == 0)
		*n = dir->ents[k].node;
	return r;
}

static int i_stat(struct vfs *v, const char *path, int follow, struct vfs_attr *out)
{
	struct ifs_node *n;
	int r = lookup(v, path, follow, &n);
	if (r == 0)
		attr_of(n, out);
	return r;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct ifs_dirent *x = *(const struct ifs_dirent *const *)a, *y = *(const struct ifs_dirent *const *)b;
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int i_readdir(struct vfs *v, const char *path, int sorted, vfs_dirent_cb cb, void *arg)
{
	struct ifs_node *d;
	int r = ifs_resolve(v->ctx, root_of(v), path, 1, &d);
	if (r == 0 && d->type != IFS_DIR)
		r = rx_fail(v->ctx, ENOTDIR, "not a directory");
	if (r)
		return r;
	const struct ifs_dirent **order = rx_xcalloc(d->n ? d->n : 1, sizeof(*order));
	for (size_t i = 0; i < d->n; i++)
		order[i] = &d->ents[i];
	if (sorted)
		qsort(order, d->n, sizeof(*order), cmp_ent);
	for (size_t i = 0; i < d->n && r == 0; i++) {
		struct vfs_attr a;
		attr_of(order[i]->node, &a);
		r = cb(arg, order[i]->name, order[i]->len, &a);
	}
	free(order);
	return r;
}

static int i_read(struct vfs *v, const char *path, vfs_data_cb cb, void *arg)
{
	struct ifs_node *n;
	int r = ifs_resolve(v->ctx, root_of(v), path, 1, &n);
	if (r == 0 && n->type == IFS_DIR)
		r = rx_fail(v->ctx, EISDIR, "is a directory");
	for (uint64_t off = 0; r == 0 && off < n->size;) {
		size_t len = (size_t)RX_MIN(n->size - off, (uint64_t)1 << 20);
		r = cb(arg, off, n->data + off, len);
		off += len;
	}
	return r;
}

static int i_readlink(struct vfs *v, const char *path, char **target)
{
	struct ifs_node *n;
	int r = lookup(v, path, 0, &n);
	if (r == 0 && n->type != IFS_LINK)
		r = rx_fail(v->ctx, EINVAL, "not a symbolic link");
	if (r)
		return r;
	/* As a host would read it: relative to the link's own directory. */
	const char *end, *last;
	last_part(path, &end, &last);
	const char *dp = path;
	while (*dp == '/')
		dp++;
	char *dirpath = dp < end ? strndup(dp, (size_t)(end - dp)) : rx_xstrdup("");
	if (!dirpath)
		abort();
	size_t len = strlen(dirpath);
	while (len && dirpath[len - 1] == '/')
		dirpath[--len] = 0;
	size_t tlen;
	r = ifs_link_target(v->ctx, n, dirpath, IFS_LINK_PARENT, target, &tlen);
	free(dirpath);
	return r;
}

static int i_write_fd(struct vfs *v, const char *path, int fd, uint16_t mode_if_new)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = rx_xmalloc(cap);
	int r = 0;
	for (;;) {
		if (len == cap) {
			if (cap >= IFS_MAX_BYTES) {
				r = rx_fail(v->ctx, EFBIG, "a file in an initfs must be smaller than 4 GiB");
				break;
			}
			buf = rx_xrealloc(buf, cap *= 2);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = rx_fail(v->ctx, errno, "read: %s", strerror(errno));
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	struct ifs_node *old;
	int exists = r == 0 && ifs_resolve(v->ctx, root_of(v), path, 1, &old) == 0;
	rx_clear(v->ctx);
	if (r == 0)
		r = ifs_set_file(v->ctx, root_of(v), path, buf, len, !exists, mode_if_new);
	free(buf);
	return r;
}

static int i_mkdir(struct vfs *v, const char *path, uint16_t mode, int parents)
{
	return ifs_mkdir(v->ctx, root_of(v), path, mode, parents);
}

static int i_remove(struct vfs *v, const char *path, int recursive, int dir_ok)
{
	struct ifs_node *dir;
	long k;
	int r = entry_of(v, path, &dir, &k);
	if (r)
		return r;
	struct ifs_node *n = dir->ents[k].node;
	if (n->type == IFS_DIR && !recursive && !dir_ok)
		return rx_fail(v->ctx, EISDIR, "is a directory");
	if (n->type == IFS_DIR && !recursive && n->n)
		return rx_fail(v->ctx, ENOTEMPTY, "directory not empty");
	ifs_dir_remove(dir, (size_t)k);
	return 0;
}

/* Is a inside the tree of d (or d itself)? An explicit stack: archives nest deeply. */
static int within(const struct ifs_node *d, const struct ifs_node *a)
{
	size_t n = 0, cap = 64;
	const struct ifs_node **stack = rx_xmalloc(cap * sizeof(*stack));
	int found = 0;
	stack[n++] = d;
	while (n && !found) {
		const struct ifs_node *x = stack[--n];
		found = x == a;
		for (size_t i = 0; x->type == IFS_DIR && i < x->n; i++) {
			if (n == cap)
				stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
			stack[n++] = x->ents[i].node;
		}
	}
	free(stack);
	return found;
}

static int i_rename(struct vfs *v, const char *from, const char *to, unsigned flags)
{
	struct ifs_node *d1, *d2;
	char *n1 = NULL, *n2 = NULL;
	int r = parent_of(v, from, &d1, &n1);
	if (r == 0)
		r = parent_of(v, to, &d2, &n2);
	long k1 = -1, k2 = -1;
	if (r == 0 && (k1 = ifs_dir_find(d1, n1, strlen(n1))) < 0)
		r = rx_fail(v->ctx, ENOENT, "%s: no such file or directory", from);
	if (r == 0)
		k2 = ifs_dir_find(d2, n2, strlen(n2));
	struct ifs_node *src = r == 0 ? d1->ents[k1].node : NULL;
	struct ifs_node *dst = r == 0 && k2 >= 0 ? d2->ents[k2].node : NULL;
	if (r == 0 && src == dst) {
		free(n1);
		free(n2);
		return 0;	/* the same entry (or another name of it): nothing to do */
	}
	if (r == 0 && (flags & VFS_EXCHANGE)) {
		if (!dst)
			r = rx_fail(v->ctx, ENOENT, "%s: no such file or directory", to);
		else if ((src->type == IFS_DIR && within(src, d2)) || (dst->type == IFS_DIR && within(dst, d1)))
			r = rx_fail(v->ctx, EINVAL, "a directory cannot be moved inside itself");
		if (r == 0) {
			d1->ents[k1].node = dst;
			d2->ents[k2].node = src;
		}
		free(n1);
		free(n2);
		return r;
	}
	if (r == 0 && src->type == IFS_DIR && within(src, d2))
		r = rx_fail(v->ctx, EINVAL, "a directory cannot be moved inside itself");
	if (r == 0 && dst && (flags & VFS_NOREPLACE))
		r = rx_fail(v->ctx, EEXIST, "%s: already exists", to);
	if (r == 0 && dst && dst->type == IFS_DIR && src->type != IFS_DIR)
		r = rx_fail(v->ctx, EISDIR, "%s: is a directory", to);
	if (r == 0 && dst && dst->type != IFS_DIR && src->type == IFS_DIR)
		r = rx_fail(v->ctx, ENOTDIR, "%s: not a directory", to);
	if (r == 0 && dst && dst->type == IFS_DIR && dst->n)
		r = rx_fail(v->ctx, ENOTEMPTY, "%s: directory not empty", to);
	if (r == 0 && !dst && ifs_name_problem(n2, strlen(n2)))
		r = rx_fail(v->ctx, EINVAL, "%s: %s", to, ifs_name_problem(n2, strlen(n2)));
	if (r == 0) {
		/* Take src's entry out without freeing src (it moves), then find the target again. */
		d1->ents[k1].node = NULL;
		ifs_dir_remove(d1, (size_t)k1);
		k2 = ifs_dir_find(d2, n2, strlen(n2));
		if (k2 >= 0) {
			/* The replaced entry keeps its place in the stored order. */
			d2->ents[k2].node = src;
			ifs_tree_free(dst);
		} else {
			ifs_dir_append(d2, n2, strlen(n2), src);
		}
	}
	free(n1);
	free(n2);
	return r;
}

static int i_symlink(struct vfs *v, const char *target, const char *path)
{
	return ifs_symlink(v->ctx, root_of(v), target, path, 0);
}

static int i_setattr(struct vfs *v, const char *path, unsigned what, const struct vfs_attr *a, int nofollow)
{
	struct ifs_node *n;
	int r = lookup(v, path, !nofollow, &n);
	if (r == 0 && (what & VFS_SET_MODE))
		ifs_chmod(n, a->mode, 0);
	return r;
}

static int i_truncate(struct vfs *v, const char *path, uint64_t size)
{
	struct ifs_node *n;
	int r = ifs_resolve(v->ctx, root_of(v), path, 1, &n);
	if (r == 0 && n->type != IFS_FILE)
		r = rx_fail(v->ctx, EINVAL, "not a regular file");
	if (r == 0 && size >= IFS_MAX_BYTES)
		r = rx_fail(v->ctx, EFBIG, "a file in an initfs must be smaller than 4 GiB");
	if (r || size == n->size)
		return r;
	uint8_t *buf = rx_xcalloc(1, size ? (size_t)size : 1);
	memcpy(buf, n->data, (size_t)RX_MIN(size, n->size));
	ifs_node_set_data(n, buf, size);
	free(buf);
	return 0;
}

static const struct vfs_ops ifs_vfs_ops = {
	.stat = i_stat, .readdir = i_readdir, .read = i_read, .readlink = i_readlink,
	.write_fd = i_write_fd, .mkdir = i_mkdir, .remove = i_remove, .rename = i_rename,
	.symlink = i_symlink, .setattr = i_setattr, .truncate = i_truncate,
};

void vfs_ifs_init(struct vfs *v, struct rx_ctx *ctx, struct ifs_node *root, enum ifs_layout layout,
		  int writable)
{
	struct ifs_vfs *p = rx_xcalloc(1, sizeof(*p));
	p->root = root;
	p->layout = layout;
	memset(v, 0, sizeof(*v));
	v->ops = &ifs_vfs_ops;
	v->ctx = ctx;
	v->kind = "an initfs archive";
	v->has = (ifs_layout_link_form(layout) != IFS_LINK_NONE ? VFS_HAS_LINKS : 0) |
		 (ifs_layout_has_modes(layout) ? VFS_HAS_MODES : 0) | VFS_HAS_PERMS;
	v->writable = writable;
	v->priv = p;
}
