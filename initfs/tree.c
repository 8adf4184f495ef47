/* initfs layouts, the in-memory tree, paths inside it and symlink target forms. */
#include <stdlib.h>

#include "initfs.h"

static const struct {
	const char *name, *desc;
	int writable, modes, boot;
	enum ifs_link_form links;
} layouts[IFS_NLAYOUTS] = {
	[IFS_V1] = { "v1", "26-byte header, 20-byte inodes, byte-packed, no bootstrap, no symlinks (2021)",
		     1, 1, 0, IFS_LINK_NONE },
	[IFS_V2A] = { "v2a", "26-byte header in a 4 KiB page, bootstrap at 4096 but no bootstrap_entry "
		      "(transitional, 2024-03-10)", 0, 1, 1, IFS_LINK_NONE },
	[IFS_V2B] = { "v2b", "34-byte header with bootstrap_entry, byte-packed (transitional, 2024-03-11)",
		      0, 1, 1, IFS_LINK_NONE },
	[IFS_V3] = { "v3", "42-byte header with initfs_size, 20-byte inodes, byte-packed, symlinks relative "
		     "to the archive root (2024-03 .. 2025-12; without symlinks also v2c)", 1, 1, 1, IFS_LINK_ROOT },
	[IFS_V4] = { "v4", "44-byte header with page_size, 20-byte inodes, page-aligned, symlinks relative "
		     "to the archive root (2025-12 .. 2026-02)", 1, 1, 1, IFS_LINK_ROOT },
	[IFS_V5A] = { "v5a", "44-byte header, 12-byte inodes without owner (transitional, 2026-02-17)",
		      0, 1, 1, IFS_LINK_ROOT },
	[IFS_V5B] = { "v5b", "44-byte header, 12-byte typed inodes, page-aligned, symlinks relative to "
		      "their directory (2026-02 .. 2026-04)", 1, 0, 1, IFS_LINK_PARENT },
	[IFS_V6A] = { "v6a", "44-byte header, 12-byte typed inodes, inode table at the end "
		      "(transitional, 2026-04-25)", 0, 0, 1, IFS_LINK_PARENT },
	[IFS_V6] = { "v6", "34-byte header with root_inode, 12-byte typed inodes, inode table at the end, "
		     "root inode last, bootstrap required (2026-04 ..)", 1, 0, 1, IFS_LINK_PARENT },
};

const char *ifs_layout_name(enum ifs_layout l)
{
	return l > IFS_LAYOUT_NONE && l < IFS_NLAYOUTS ? layouts[l].name : "unknown";
}

const char *ifs_layout_desc(enum ifs_layout l)
{
	return l > IFS_LAYOUT_NONE && l < IFS_NLAYOUTS ? layouts[l].desc : "unknown layout";
}

int ifs_layout_parse(const char *s, enum ifs_layout *l)
{
	char low[8];
	size_t n = 0;
	if (*s == 'v' || *s == 'V')
		s++;
	for (; s[n] && n + 1 < sizeof(low); n++)
		low[n] = (char)(s[n] >= 'A' && s[n] <= 'Z' ? s[n] + 32 : s[n]);
	if (s[n])
		return -1;
	low[n] = 0;
	if (!strcmp(low, "2c")) {
		*l = IFS_V3;
		return 0;
	}
	for (int i = IFS_V1; i < IFS_NLAYOUTS; i++) {
		if (!strcmp(low, layouts[i].name + 1)) {
			*l = (enum ifs_layout)i;
			return 0;
		}
	}
	return -1;
}

int ifs_layout_writable(enum ifs_layout l)
{
	return l > IFS_LAYOUT_NONE && l < IFS_NLAYOUTS && layouts[l].writable;
}

int ifs_layout_has_modes(enum ifs_layout l)
{
	return l > IFS_LAYOUT_NONE && l < IFS_NLAYOUTS && layouts[l].modes;
}

enum ifs_link_form ifs_layout_link_form(enum ifs_layout l)
{
	return l > IFS_LAYOUT_NONE && l < IFS_NLAYOUTS ? layouts[l].links : IFS_LINK_NONE;
}

int ifs_layout_has_bootstrap(enum ifs_layout l)
{
	return l > IFS_LAYOUT_NONE && l < IFS_NLAYOUTS && layouts[l].boot;
}

/* ---- nodes ---- */

struct ifs_node *ifs_node_new(enum ifs_type type, uint16_t mode)
{
	struct ifs_node *n = rx_xcalloc(1, sizeof(*n));
	n->type = type;
	n->mode = mode & 07777;
	n->ino = IFS_NO_INO;
	n->form = type == IFS_LINK ? IFS_LINK_PARENT : IFS_LINK_NONE;
	return n;
}

/* Iterative: a hostile archive may nest 65535 directories deep. */
void ifs_tree_free(struct ifs_node *root)
{
	if (!root)
		return;
	size_t n = 0, cap = 64;
	struct ifs_node **stack = rx_xmalloc(cap * sizeof(*stack));
	stack[n++] = root;
	while (n) {
		struct ifs_node *x = stack[--n];
		for (size_t i = 0; i < x->n; i++) {
			free(x->ents[i].name);
			if (!x->ents[i].node)
				continue;	/* moved elsewhere */
			if (n == cap)
				stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
			stack[n++] = x->ents[i].node;
		}
		free(x->ents);
		free(x->owned);
		free(x->host);
		free(x);
	}
	free(stack);
}

const char *ifs_name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "empty name";
	if (len > 65535)
		return "name longer than 65535 bytes";
	if (memchr(name, '/', len))
		return "name contains '/'";
	if (memchr(name, 0, len))
		return "name contains a NUL byte";
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return "'.' and '..' are not allowed as names";
	return NULL;
}

void ifs_dir_append(struct ifs_node *dir, const char *name, size_t len, struct ifs_node *child)
{
	if (dir->n == dir->cap)
		dir->ents = rx_xrealloc(dir->ents, (dir->cap = dir->cap ? dir->cap * 2 : 8) * sizeof(*dir->ents));
	struct ifs_dirent *e = &dir->ents[dir->n++];
	e->name = rx_xmalloc(len + 1);
	memcpy(e->name, name, len);
	e->name[len] = 0;
	e->len = len;
	e->node = child;
	e->w_name = 0;
}

long ifs_dir_find(const struct ifs_node *dir, const char *name, size_t len)
{
	for (size_t i = 0; i < dir->n; i++)
		if (dir->ents[i].len == len && !memcmp(dir->ents[i].name, name, len))
			return (long)i;
	return -1;
}

int ifs_dir_add(struct rx_ctx *ctx, struct ifs_node *dir, const char *name, size_t len,
		struct ifs_node *child)
{
	const char *why = ifs_name_problem(name, len);
	if (why)
		return rx_fail(ctx, EINVAL, "%s", why);
	if (dir->type != IFS_DIR)
		return rx_fail(ctx, ENOTDIR, "not a directory");
	if (ifs_dir_find(dir, name, len) >= 0)
		return rx_fail(ctx, EEXIST, "%.*s: already exists", (int)RX_MIN(len, 256), name);
	if (dir->n >= IFS_MAX_INODES)
		return rx_fail(ctx, EFBIG, "a directory holds at most %u entries", IFS_MAX_INODES);
	ifs_dir_append(dir, name, len, child);
	return 0;
}

void ifs_dir_remove(struct ifs_node *dir, size_t i)
{
	free(dir->ents[i].name);
	ifs_tree_free(dir->ents[i].node);
	memmove(&dir->ents[i], &dir->ents[i + 1], (dir->n - i - 1) * sizeof(*dir->ents));
	dir->n--;
}

uint64_t ifs_tree_count(const struct ifs_node *root)
{
	size_t n = 0, cap = 64;
	uint64_t count = 0;
	const struct ifs_node **stack = rx_xmalloc(cap * sizeof(*stack));
	stack[n++] = root;
	while (n) {
		const struct ifs_node *x = stack[--n];
		count++;
		for (size_t i = 0; i < x->n; i++) {
			if (n == cap)
				stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
			stack[n++] = x->ents[i].node;
		}
	}
	free(stack);
	return count;
}

void ifs_node_set_data(struct ifs_node *n, const void *buf, uint64_t len)
{
	free(n->owned);
	free(n->host);
	n->host = NULL;
	n->owned = rx_xmalloc((size_t)len);
	if (len)
		memcpy(n->owned, buf, (size_t)len);
	n->data = n->owned;
	n->size = len;
}

/* ---- paths ---- */

/* Next component of *p (skipping empty ones and "."); 0 at the end. */
static size_t next_comp(const char **p, const char *end, const char **c)
{
	for (;;) {
		while (*p < end && **p == '/')
			(*p)++;
		if (*p >= end)
			return 0;
		const char *s = *p;
		while (*p < end && **p != '/')
			(*p)++;
		size_t len = (size_t)(*p - s);
		if (len == 1 && s[0] == '.')
			continue;
		*c = s;
		return len;
	}
}

#define IFS_MAX_HOPS 40

int ifs_resolve(struct rx_ctx *ctx, struct ifs_node *root, const char *path, int follow,
		struct ifs_node **out)
{
	/* The path still to walk is rebuilt whenever a link is expanded. */
	char *rem = rx_xstrdup(path);
	size_t depth = 0, cap = 16;
	struct ifs_node **stack = rx_xmalloc(cap * sizeof(*stack));
	stack[0] = root;
	int hops = 0, r = 0;
	const char *p = rem, *end = rem + strlen(rem), *c;
	size_t len;
	while ((len = next_comp(&p, end, &c)) != 0) {
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (depth)
				depth--;
			continue;
		}
		struct ifs_node *cur = stack[depth];
		if (cur->type != IFS_DIR) {
			r = rx_fail(ctx, ENOTDIR, "not a directory");
			break;
		}
		long i = ifs_dir_find(cur, c, len);
		if (i < 0) {
			r = rx_fail(ctx, ENOENT, "no such file or directory");
			break;
		}
		struct ifs_node *child = cur->ents[i].node;
		const char *q = p, *dummy;
		int last = next_comp(&q, end, &dummy) == 0;
		if (child->type == IFS_LINK && (!last || follow)) {
			if (++hops > IFS_MAX_HOPS) {
				r = rx_fail(ctx, ELOOP, "too many levels of symbolic links");
				break;
			}
			if (child->size > 4096) {	/* PATH_MAX: also keeps the "%.*s" below in int range */
				r = rx_fail(ctx, ENAMETOOLONG, "symbolic link target of %llu bytes",
					    (unsigned long long)child->size);
				break;
			}
			if (child->size && memchr(child->data, 0, (size_t)child->size)) {
				r = rx_fail(ctx, EINVAL, "symbolic link target contains a NUL byte");
				break;
			}
			/* Root-relative targets and absolute ones start again from the root. */
			if (child->form == IFS_LINK_ROOT || (child->size && child->data[0] == '/'))
				depth = 0;
			char *next = rx_xasprintf("%.*s/%s", (int)child->size,
						  child->size ? (const char *)child->data : "", p);
			free(rem);
			rem = next;
			p = rem;
			end = rem + strlen(rem);
			continue;
		}
		if (depth + 1 == cap)
			stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
		stack[++depth] = child;
	}
	if (r == 0)
		*out = stack[depth];
	free(stack);
	free(rem);
	return r;
}

int ifs_walk_parent(struct rx_ctx *ctx, struct ifs_node *root, const char *path,
		    struct ifs_node **dir, char **name)
{
	const char *p = path, *end = path + strlen(path), *c;
	struct ifs_node *cur = root;
	size_t len = next_comp(&p, end, &c);
	if (len == 0)
		return rx_fail(ctx, EINVAL, "the root directory cannot be named here");
	for (;;) {
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return rx_fail(ctx, EINVAL, "'..' is not allowed in paths inside an archive");
		const char *q = p, *c2;
		size_t len2 = next_comp(&q, end, &c2);
		if (len2 == 0) {
			if (cur->type != IFS_DIR)
				return rx_fail(ctx, ENOTDIR, "not a directory");
			*dir = cur;
			*name = strndup(c, len);
			if (!*name)
				abort();
			return 0;
		}
		if (cur->type != IFS_DIR)
			return rx_fail(ctx, ENOTDIR, "not a directory");
		long i = ifs_dir_find(cur, c, len);
		if (i < 0)
			return rx_fail(ctx, ENOENT, "%.*s: no such directory", (int)len, c);
		cur = cur->ents[i].node;
		if (cur->type == IFS_LINK)
			return rx_fail(ctx, ENOTDIR, "%.*s: is a symbolic link (not followed when changing "
				       "an archive)", (int)len, c);
		if (cur->type != IFS_DIR)
			return rx_fail(ctx, ENOTDIR, "%.*s: not a directory", (int)len, c);
		p = q;
		c = c2;
		len = len2;
	}
}

/* ---- symlink target forms ---- */

struct comps {
	const char **s;
	size_t *l;
	size_t n, cap;
};

/* Split on '/', dropping empty and "." components (the reference's Path normalisation). */
static void split(struct comps *v, const char *p, size_t len)
{
	const char *end = p + len, *c;
	size_t l;
	while ((l = next_comp(&p, end, &c)) != 0) {
		if (v->n == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 16;
			v->s = rx_xrealloc(v->s, v->cap * sizeof(*v->s));
			v->l = rx_xrealloc(v->l, v->cap * sizeof(*v->l));
		}
		v->s[v->n] = c;
		v->l[v->n++] = l;
	}
}

static char *join(const char *const *s, const size_t *l, size_t n, size_t ups, size_t *len)
{
	size_t total = ups * 3;
	for (size_t i = 0; i < n; i++)
		total += l[i] + 1;
	char *out = rx_xmalloc(total + 1), *o = out;
	for (size_t i = 0; i < ups; i++) {
		memcpy(o, "../", 3);
		o += 3;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(o, s[i], l[i]);
		o += l[i];
		*o++ = '/';
	}
	if (o > out)
		o--;	/* the last '/' */
	*o = 0;
	*len = (size_t)(o - out);
	return out;
}

int ifs_link_target(struct rx_ctx *ctx, const struct ifs_node *link, const char *dirpath,
		    enum ifs_link_form want, char **out, size_t *len)
{
	const char *t = (const char *)link->data;
	size_t tlen = (size_t)link->size;
	if (want == IFS_LINK_NONE)
		return rx_fail(ctx, EINVAL, "symbolic links cannot be stored in this layout");
	if (want == link->form) {
		*out = rx_xmalloc(tlen + 1);
		memcpy(*out, t, tlen);
		(*out)[tlen] = 0;
		*len = tlen;
		return 0;
	}
	struct comps dir = { 0 }, tgt = { 0 };
	split(&dir, dirpath, strlen(dirpath));
	if (want == IFS_LINK_ROOT) {
		/* The reference joins the target to the link's directory, then drops "." and "//". */
		if (tlen && t[0] == '/') {
			free(dir.s);
			free(dir.l);
			return rx_fail(ctx, EINVAL, "absolute symlink target '%.*s' cannot be stored "
				       "relative to the archive root", (int)RX_MIN(tlen, 512), t);
		}
		split(&dir, t, tlen);
		*out = join(dir.s, dir.l, dir.n, 0, len);
	} else {
		/* Root-relative to directory-relative: drop the common leading directories. */
		split(&tgt, t, tlen);
		size_t k = 0;
		while (k < dir.n && k < tgt.n && dir.l[k] == tgt.l[k] &&
		       !memcmp(dir.s[k], tgt.s[k], dir.l[k]) && !(tgt.l[k] == 2 && !memcmp(tgt.s[k], "..", 2)))
			k++;
		*out = join(tgt.s + k, tgt.l + k, tgt.n - k, dir.n - k, len);
		if (*len == 0) {	/* a link to its own directory */
			free(*out);
			*out = rx_xstrdup(".");
			*len = 1;
		}
	}
	free(dir.s);
	free(dir.l);
	free(tgt.s);
	free(tgt.l);
	return 0;
}
