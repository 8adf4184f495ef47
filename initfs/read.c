/*
 * Reading an initfs archive: detect the layout variant (spec section 10),
 * validate everything reachable, and build the tree. Every offset, length and
 * count read from the archive is checked before it is used.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "initfs.h"

enum rec_style { REC20, REC12A, REC12B };

/* One way of reading the archive: header layout, record style, root. */
struct cand {
	enum ifs_layout layout;
	enum rec_style style;
	uint32_t root;
	int strict_owner;	/* uid/gid must be 0 (the reference never writes anything else) */
	int report;		/* its failure is the one to tell the user */
};

struct rec {
	enum ifs_type type;
	uint16_t mode;
	uint32_t len, off, uid, gid, high;
};

enum rkind { RK_HEADER, RK_TABLE, RK_DIR, RK_DATA, RK_NAME };

struct range {
	uint64_t start, end;
	uint32_t ino;
	enum rkind kind;
};

struct ld {
	struct rx_ctx *ctx;
	const uint8_t *buf;
	uint64_t size;		/* bytes that belong to the archive (<= file length) */
	uint32_t ito, count, recsize;
	enum rec_style style;
	enum ifs_layout layout;
	int strict_owner;
	uint8_t *seen;
	struct range *ranges;
	size_t nr, rcap;
	uint32_t owners, high_bits, unaligned;
};

static void add_range(struct ld *ld, uint64_t start, uint64_t len, enum rkind kind, uint32_t ino)
{
	if (len == 0)
		return;
	if (ld->nr == ld->rcap)
		ld->ranges = rx_xrealloc(ld->ranges, (ld->rcap = ld->rcap ? ld->rcap * 2 : 256) *
					 sizeof(*ld->ranges));
	ld->ranges[ld->nr++] = (struct range){ start, start + len, ino, kind };
	if (kind != RK_HEADER && (start % IFS_PAGE) && ld->layout >= IFS_V4)
		ld->unaligned++;
}

static int rec_get(struct ld *ld, uint32_t ino, struct rec *r)
{
	const uint8_t *p = ld->buf + ld->ito + (uint64_t)ino * ld->recsize;
	memset(r, 0, sizeof(*r));
	r->len = get_le32(p + 4);
	r->off = get_le32(p + 8);
	if (ld->style == REC12B) {
		switch (get_le32(p)) {
		case 0: r->type = IFS_FILE; r->mode = 0444; break;
		case 1: r->type = IFS_FILE; r->mode = 0555; break;
		case 2: r->type = IFS_DIR; r->mode = 0555; break;
		case 3: r->type = IFS_LINK; r->mode = 0777; break;
		default:
			return rx_fail(ld->ctx, EINVAL, "inode %u: unknown type %u", ino, get_le32(p));
		}
		return 0;
	}
	uint32_t tm = get_le32(p);
	r->mode = tm & 07777;
	r->high = tm & 0x0FFFF000u;
	switch (tm >> 28) {
	case 0: r->type = IFS_FILE; break;
	case 1: r->type = IFS_DIR; break;
	case 2: r->type = IFS_LINK; break;
	default: break;
	}
	/* Type 2 is a symlink from v3 on; before, and for 3..15, the type is unknown. */
	if (!r->type || (r->type == IFS_LINK && ifs_layout_link_form(ld->layout) == IFS_LINK_NONE))
		return rx_fail(ld->ctx, EINVAL, "inode %u: unknown type %u", ino, tm >> 28);
	if (ld->style == REC20) {
		r->uid = get_le32(p + 12);
		r->gid = get_le32(p + 16);
		if (r->uid || r->gid) {
			if (ld->strict_owner)
				return rx_fail(ld->ctx, EINVAL, "inode %u: owner %u:%u", ino, r->uid, r->gid);
			ld->owners++;
		}
	}
	if (r->high)
		ld->high_bits++;
	return 0;
}

/* A non-empty [off, off+len) must lie inside the archive; empty items may point anywhere. */
static int in_bounds(struct ld *ld, uint64_t off, uint64_t len)
{
	return len == 0 || (off <= ld->size && len <= ld->size - off);
}

struct frame {
	struct ifs_node *dir;
	uint32_t off, len;
	char *path;
};

static int cmp_ents(const void *a, const void *b)
{
	const struct ifs_dirent *x = *(const struct ifs_dirent *const *)a;
	const struct ifs_dirent *y = *(const struct ifs_dirent *const *)b;
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int check_dups(struct ld *ld, const struct ifs_node *dir, const char *path)
{
	if (dir->n < 2)
		return 0;
	const struct ifs_dirent **v = rx_xmalloc(dir->n * sizeof(*v));
	for (size_t i = 0; i < dir->n; i++)
		v[i] = &dir->ents[i];
	qsort(v, dir->n, sizeof(*v), cmp_ents);
	int r = 0;
	for (size_t i = 1; i < dir->n && r == 0; i++)
		if (cmp_ents(&v[i - 1], &v[i]) == 0)
			r = rx_fail(ld->ctx, EINVAL, "%s: the name '%s' appears twice", path, v[i]->name);
	free(v);
	return r;
}

/* One directory's entry table: check every entry, create the children, queue subdirectories. */
static int load_dir(struct ld *ld, struct frame *f, struct frame **stack, size_t *depth, size_t *cap)
{
	uint32_t n = f->len / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = ld->buf + f->off + (uint64_t)i * 8;
		uint32_t ino = get_le16(e), nlen = get_le16(e + 2), noff = get_le32(e + 4);
		if (ino >= ld->count)
			return rx_fail(ld->ctx, EINVAL, "%s: entry %u names inode %u of %u", f->path, i, ino,
				       ld->count);
		if (nlen == 0 || !in_bounds(ld, noff, nlen))
			return rx_fail(ld->ctx, EINVAL, "%s: entry %u: name of %u bytes at offset %u is %s",
				       f->path, i, nlen, noff, nlen ? "past the end of the archive" : "empty");
		const char *name = (const char *)ld->buf + noff;
		const char *why = ifs_name_problem(name, nlen);
		if (why)
			return rx_fail(ld->ctx, EINVAL, "%s: entry %u: %s", f->path, i, why);
		if (ld->seen[ino])
			return rx_fail(ld->ctx, ELOOP, "%s%s%.*s: inode %u is reached a second time "
				       "(a directory loop or a hard link)", f->path, f->path[1] ? "/" : "",
				       (int)nlen, name, ino);
		ld->seen[ino] = 1;
		struct rec r;
		int rr = rec_get(ld, ino, &r);
		if (rr)
			return rr;
		if (r.type == IFS_DIR && r.len % 8)
			return rx_fail(ld->ctx, EINVAL, "inode %u: directory of %u bytes (not a multiple of 8)",
				       ino, r.len);
		if (!in_bounds(ld, r.off, r.len))
			return rx_fail(ld->ctx, EINVAL, "inode %u: %u bytes at offset %u lie past the end of "
				       "the archive (%llu bytes)", ino, r.len, r.off,
				       (unsigned long long)ld->size);
		add_range(ld, noff, nlen, RK_NAME, ino);
		add_range(ld, r.off, r.len, r.type == IFS_DIR ? RK_DIR : RK_DATA, ino);
		struct ifs_node *c = ifs_node_new(r.type, r.mode);
		c->ino = ino;
		c->uid = r.uid;
		c->gid = r.gid;
		ifs_dir_append(f->dir, name, nlen, c);
		if (r.type == IFS_DIR) {
			if (*depth == *cap)
				*stack = rx_xrealloc(*stack, (*cap *= 2) * sizeof(**stack));
			char *p = rx_xasprintf("%s%s%.*s", f->path, f->path[1] ? "/" : "", (int)nlen, name);
			(*stack)[(*depth)++] = (struct frame){ c, r.off, r.len, p };
		} else {
			c->data = r.len ? ld->buf + r.off : NULL;
			c->size = r.len;
			if (r.type == IFS_LINK)
				c->form = ifs_layout_link_form(ld->layout);
		}
	}
	return check_dups(ld, f->dir, f->path);
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

static void range_name(const struct range *r, char *out, size_t cap)
{
	switch (r->kind) {
	case RK_HEADER: snprintf(out, cap, "the header"); break;
	case RK_TABLE: snprintf(out, cap, "the inode table"); break;
	case RK_DIR: snprintf(out, cap, "the entry table of inode %u", r->ino); break;
	case RK_DATA: snprintf(out, cap, "the data of inode %u", r->ino); break;
	case RK_NAME: snprintf(out, cap, "a name of inode %u", r->ino); break;
	}
}

static int check_overlaps(struct ld *ld)
{
	qsort(ld->ranges, ld->nr, sizeof(*ld->ranges), cmp_range);
	for (size_t i = 1; i < ld->nr; i++) {
		const struct range *a = &ld->ranges[i - 1], *b = &ld->ranges[i];
		if (b->start < a->end) {
			char x[64], y[64];
			range_name(a, x, sizeof(x));
			range_name(b, y, sizeof(y));
			return rx_fail(ld->ctx, EINVAL, "%s [0x%llx, 0x%llx) overlaps %s [0x%llx, 0x%llx)", x,
				       (unsigned long long)a->start, (unsigned long long)a->end, y,
				       (unsigned long long)b->start, (unsigned long long)b->end);
		}
	}
	return 0;
}

static unsigned header_size(enum ifs_layout l, int root_field)
{
	switch (l) {
	case IFS_V1: case IFS_V2A: return 26;
	case IFS_V2B: case IFS_V6: return 34;
	case IFS_V3: return 42;
	case IFS_V6A: return root_field ? 46 : 44;
	default: return 44;
	}
}

static void vwarn(struct ifs_archive *a, int blocks, const char *fmt, va_list ap)
{
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	a->warnings = rx_xrealloc(a->warnings, (a->nwarnings + 1) * sizeof(*a->warnings));
	a->blocking = rx_xrealloc(a->blocking, (a->nwarnings + 1) * sizeof(*a->blocking));
	a->blocking[a->nwarnings] = (unsigned char)blocks;
	a->warnings[a->nwarnings++] = s;
	a->nblocking += blocks != 0;
}

/* Something worth knowing that does not stop the archive from booting. */
static void warn(struct ifs_archive *a, const char *fmt, ...) RX_PRINTF(2, 3);
static void warn(struct ifs_archive *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(a, 0, fmt, ap);
	va_end(ap);
}

/* Something that keeps the archive from booting. */
static void blocker(struct ifs_archive *a, const char *fmt, ...) RX_PRINTF(2, 3);
static void blocker(struct ifs_archive *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(a, 1, fmt, ap);
	va_end(ap);
}

static void elf_warn(void *arg, const char *msg)
{
	blocker(arg, "bootstrap: %s", msg);
}

/* Header fields as the layout defines them. */
static void read_header(const uint8_t *b, uint64_t len, const struct cand *c, struct ifs_archive *a)
{
	enum ifs_layout l = c->layout;
	a->layout = l;
	a->ito = get_le32(b + 8);
	a->count = get_le16(b + 0x18);
	a->root_ino = c->root;
	a->has_time = l != IFS_V6;
	if (a->has_time) {
		a->time_sec = get_le64(b + 0x0C);
		a->time_nsec = get_le32(b + 0x14);
	}
	a->has_entry = l >= IFS_V2B;
	if (a->has_entry)
		a->entry = get_le64(b + 0x1A);
	a->has_size = l >= IFS_V3;
	a->size = l == IFS_V6 ? get_le64(b + 0x0C) : a->has_size ? get_le64(b + 0x22) : len;
	a->has_page_size = l >= IFS_V4;
	if (a->has_page_size)
		a->page_size = get_le16(b + (l == IFS_V6 ? 0x14 : 0x2A));
	a->has_root_field = l == IFS_V6 || (l == IFS_V6A && c->root != 0);
}

/* Validate and build the tree for one candidate; 0 or -errno with the reason in ctx. */
static int try_cand(struct rx_ctx *ctx, const uint8_t *b, uint64_t len, const struct cand *c,
		    struct ifs_archive *a)
{
	memset(a, 0, sizeof(*a));
	a->buf = b;
	a->len = len;
	read_header(b, len, c, a);
	if (a->size > len)
		return rx_fail(ctx, EINVAL, "truncated: the header says initfs_size is %llu bytes, the file "
			       "has %llu", (unsigned long long)a->size, (unsigned long long)len);
	unsigned hsize = header_size(c->layout, a->has_root_field);
	if (a->size < hsize)
		return rx_fail(ctx, EINVAL, "initfs_size %llu is smaller than the %u-byte header",
			       (unsigned long long)a->size, hsize);
	if (a->count == 0)
		return rx_fail(ctx, EINVAL, "inode_count is 0 (there must be a root directory)");
	if (a->root_ino >= a->count)
		return rx_fail(ctx, EINVAL, "root inode %u is not below inode_count %u", a->root_ino, a->count);
	struct ld ld = { .ctx = ctx, .buf = b, .size = a->size, .ito = a->ito, .count = a->count,
			 .style = c->style, .layout = c->layout, .strict_owner = c->strict_owner };
	ld.recsize = c->style == REC20 ? 20 : 12;
	uint64_t tlen = (uint64_t)a->count * ld.recsize;
	if (!in_bounds(&ld, a->ito, tlen))
		return rx_fail(ctx, EINVAL, "the inode table (%u inodes at offset %u) lies past the end of "
			       "the archive (%llu bytes)", a->count, a->ito, (unsigned long long)a->size);
	struct rec r;
	int rr = rec_get(&ld, a->root_ino, &r);
	if (rr)
		return rr;
	if (r.type != IFS_DIR)
		return rx_fail(ctx, EINVAL, "the root (inode %u) is not a directory", a->root_ino);
	if (r.len % 8)
		return rx_fail(ctx, EINVAL, "inode %u: directory of %u bytes (not a multiple of 8)",
			       a->root_ino, r.len);
	if (!in_bounds(&ld, r.off, r.len))
		return rx_fail(ctx, EINVAL, "inode %u: %u bytes at offset %u lie past the end of the archive "
			       "(%llu bytes)", a->root_ino, r.len, r.off, (unsigned long long)a->size);
	ld.seen = rx_xcalloc(a->count, 1);
	ld.seen[a->root_ino] = 1;
	add_range(&ld, 0, hsize, RK_HEADER, 0);
	add_range(&ld, a->ito, tlen, RK_TABLE, 0);
	add_range(&ld, r.off, r.len, RK_DIR, a->root_ino);
	a->root = ifs_node_new(IFS_DIR, r.mode);
	a->root->ino = a->root_ino;
	a->root->uid = r.uid;
	a->root->gid = r.gid;
	size_t depth = 0, cap = 64;
	struct frame *stack = rx_xmalloc(cap * sizeof(*stack));
	stack[depth++] = (struct frame){ a->root, r.off, r.len, rx_xstrdup("/") };
	rr = 0;
	while (depth && rr == 0) {
		struct frame f = stack[--depth];
		rr = load_dir(&ld, &f, &stack, &depth, &cap);
		free(f.path);
	}
	while (depth)
		free(stack[--depth].path);
	free(stack);
	for (uint32_t i = 0; rr == 0 && i < a->count; i++)
		if (!ld.seen[i])
			rr = rx_fail(ctx, EINVAL, "inode %u is not reachable from the root", i);
	if (rr == 0)
		rr = check_overlaps(&ld);
	if (rr == 0) {
		/* Everything after the header page that is not the bootstrap is an allocation. */
		uint64_t bound = UINT64_MAX, last = 0;
		for (size_t i = 0; i < ld.nr; i++) {
			if (ld.ranges[i].kind != RK_HEADER)
				bound = RX_MIN(bound, ld.ranges[i].start);
			last = RX_MAX(last, ld.ranges[i].end);
		}
		a->data_start = (uint32_t)RX_MIN(bound, a->size);
		if (c->layout != IFS_V1 && a->data_start > IFS_PAGE) {
			const uint8_t *boot = b + IFS_PAGE;
			uint32_t region = a->data_start - IFS_PAGE;
			a->boot_elf = region >= 4 && !memcmp(boot, "\x7f" "ELF", 4);
			struct ifs_elf elf;
			struct rx_ctx ectx = { { 0 }, 0 };
			if (a->boot_elf && ifs_elf_parse(&ectx, boot, region, &elf) == 0)
				a->elf_len = elf.len;
			if (c->layout <= IFS_V3) {
				a->boot_len = region;	/* byte-packed: the region is exact */
			} else {
				/* Page-aligned: the ELF ends in the region's last page; keep every non-zero byte. */
				uint32_t nz = region;
				while (nz && boot[nz - 1] == 0)
					nz--;
				a->boot_len = (uint32_t)RX_MAX((uint64_t)nz, a->elf_len);
			}
		}
		if (c->layout == IFS_V5B && a->ito + tlen == last && a->count > 1)
			a->layout = IFS_V6A;	/* 7e4e3864: the table already moved to the end */
		if (ld.owners)
			warn(a, "%u inodes have a non-zero owner (the reference archiver writes 0:0)", ld.owners);
		if (ld.high_bits)
			warn(a, "%u inodes have bits 12-27 of type_and_mode set (unused)", ld.high_bits);
		if (ld.unaligned)
			warn(a, "%u allocations are not page-aligned (written by another tool?)", ld.unaligned);
	}
	free(ld.seen);
	free(ld.ranges);
	if (rr) {
		ifs_tree_free(a->root);
		a->root = NULL;
	}
	return rr;
}

static void count_nodes(struct ifs_archive *a)
{
	size_t n = 0, cap = 64;
	const struct ifs_node **stack = rx_xmalloc(cap * sizeof(*stack));
	stack[n++] = a->root;
	while (n) {
		const struct ifs_node *x = stack[--n];
		if (x->type == IFS_DIR)
			a->ndirs++;
		else if (x->type == IFS_LINK)
			a->nlinks++;
		else {
			a->nfiles++;
			a->data_bytes += x->size;
		}
		for (size_t i = 0; i < x->n; i++) {
			if (n == cap)
				stack = rx_xrealloc(stack, (cap *= 2) * sizeof(*stack));
			stack[n++] = x->ents[i].node;
		}
	}
	free(stack);
}

/* The warnings a user should see before booting this archive. */
static void boot_warnings(struct ifs_archive *a)
{
	if (a->len > a->size)
		warn(a, "%llu bytes follow initfs_size (padding; the bootstrap ignores them)",
		     (unsigned long long)(a->len - a->size));
	if (a->has_page_size && a->page_size != IFS_PAGE)
		blocker(a, "page_size is %u, the bootstrap requires 4096", a->page_size);
	if (a->boot_len && !a->boot_elf)
		blocker(a, "the %u bytes between the header page and the first allocation are not an ELF",
		     a->boot_len);
	if (a->boot_elf && !a->elf_len)
		blocker(a, "bootstrap: its ELF headers do not fit in the bootstrap region");
	if (a->boot_elf)
		ifs_elf_boot_check(ifs_bootstrap(a), a->boot_len, elf_warn, a);
	if (!a->has_entry) {
		if (a->layout == IFS_V2A)
			blocker(a, "the header has no bootstrap_entry (bytes 0x1a.. are 0): kernels since "
			     "2024-03-11 refuse it");
	} else if (a->entry == 0) {
		blocker(a, "bootstrap_entry is 0: the kernel refuses to start it");
	} else if (a->entry == IFS_NO_ENTRY) {
		blocker(a, "bootstrap_entry is 0xffffffffffffffff (archived without a bootstrap): will not boot");
	} else {
		uint64_t lo = 2u * IFS_VADDR_BASE, hi = lo + a->boot_len;
		if (a->entry < lo || a->entry >= hi)
			blocker(a, "bootstrap_entry 0x%llx is outside the bootstrap (addresses 0x%llx..0x%llx): "
			     "will not boot", (unsigned long long)a->entry, (unsigned long long)lo,
			     (unsigned long long)hi);
		struct ifs_elf elf;
		struct rx_ctx ectx = { { 0 }, 0 };
		if (a->boot_elf && ifs_elf_parse(&ectx, ifs_bootstrap(a), a->boot_len, &elf) == 0 &&
		    elf.entry != a->entry)
			warn(a, "bootstrap_entry 0x%llx differs from the ELF's e_entry 0x%llx",
			     (unsigned long long)a->entry, (unsigned long long)elf.entry);
	}
	if (a->layout == IFS_V1)
		blocker(a, "layout v1 carries no bootstrap: kernels since March 2024 cannot start it");
	if (a->layout == IFS_V6 && !a->boot_len)
		blocker(a, "layout v6 requires a bootstrap, this archive has none");
	struct ifs_node *init;
	struct rx_ctx ctx = { { 0 }, 0 };
	if (ifs_resolve(&ctx, a->root, "/bin/init", 1, &init) != 0)
		blocker(a, "there is no /bin/init: the bootstrap has nothing to run");
	else if (init->type != IFS_FILE)
		blocker(a, "/bin/init is not a regular file");
	if (!ifs_layout_writable(a->layout))
		warn(a, "layout %s was in use for a day or two: rximg reads it but does not write it",
		     ifs_layout_name(a->layout));
}

static int add_cand(struct cand *v, int n, enum ifs_layout l, enum rec_style s, uint32_t root,
		    int strict, int report)
{
	v[n] = (struct cand){ l, s, root, strict, report };
	return n + 1;
}

int ifs_load(struct rx_ctx *ctx, const uint8_t *b, uint64_t len, enum ifs_layout force,
	     struct ifs_archive *a)
{
	memset(a, 0, sizeof(*a));
	if (len < 26 || memcmp(b, "RedoxFtw", 8) != 0)
		return rx_fail(ctx, EINVAL, "not an initfs archive (no RedoxFtw magic)");
	if (len > IFS_MAX_BYTES)
		return rx_fail(ctx, EFBIG, "%llu bytes: an initfs must be smaller than 4 GiB",
			       (unsigned long long)len);
	uint32_t ito = get_le32(b + 8), cnt = get_le16(b + 0x18);
	struct cand v[12];
	int n = 0;
	if (force) {
		enum rec_style s = force <= IFS_V4 ? REC20 : force == IFS_V5A ? REC12A : REC12B;
		uint32_t root = 0;
		if (force == IFS_V6 && len >= 34)
			root = get_le16(b + 0x16);
		else if (force == IFS_V6A && len >= 46)
			root = get_le16(b + 0x2C);
		if (force >= IFS_V2B && len < header_size(force, 0))
			return rx_fail(ctx, EINVAL, "%llu bytes are too short for a layout %s header",
				       (unsigned long long)len, ifs_layout_name(force));
		n = add_cand(v, n, force, s, root, 0, 1);
	} else {
		if (len >= 34 && get_le16(b + 0x14) == IFS_PAGE && get_le16(b + 0x16) < cnt) {
			uint64_t s = get_le64(b + 0x0C);
			/* A truncated file (s > len) still gets the candidate: its error says so. */
			if (s >= 34 && s <= IFS_MAX_BYTES)
				n = add_cand(v, n, IFS_V6, REC12B, get_le16(b + 0x16), 0, 1);
		}
		if (len >= 44 && get_le16(b + 0x2A) == IFS_PAGE) {
			n = add_cand(v, n, IFS_V4, REC20, 0, 1, 0);
			if (len >= 46 && cnt > 1 && get_le16(b + 0x2C) == cnt - 1)
				n = add_cand(v, n, IFS_V6A, REC12B, cnt - 1, 0, 0);
			n = add_cand(v, n, IFS_V5B, REC12B, 0, 0, 0);
			n = add_cand(v, n, IFS_V5A, REC12A, 0, 0, 0);
			n = add_cand(v, n, IFS_V4, REC20, 0, 0, 1);
		}
		/* A 42- or 43-byte file ends inside the page_size field: absent counts as 0. */
		if (len >= 42 && (len < 44 || get_le16(b + 0x2A) == 0) && ito >= IFS_PAGE) {
			enum ifs_layout l = get_le64(b + 0x22) ? IFS_V3 : get_le64(b + 0x1A) ? IFS_V2B : IFS_V2A;
			n = add_cand(v, n, l, REC20, 0, 0, 1);
		}
		if (ito == 26)
			n = add_cand(v, n, IFS_V1, REC20, 0, 0, 1);
		if (n == 0)
			return rx_fail(ctx, EINVAL, "RedoxFtw archive of unknown layout (no known header: "
				       "inode_table_offset %u, inode_count %u)", ito, cnt);
	}
	struct rx_ctx first = { { 0 }, 0 };
	int r = -EINVAL;
	for (int i = 0; i < n; i++) {
		r = try_cand(ctx, b, len, &v[i], a);
		if (r == 0) {
			a->forced = force != IFS_LAYOUT_NONE;
			rx_clear(ctx);
			count_nodes(a);
			boot_warnings(a);
			return 0;
		}
		if (v[i].report && !first.msg[0])
			first = *ctx;
	}
	if (!first.msg[0])
		first = *ctx;
	*ctx = first;
	if (force)
		rx_prefix(ctx, "not a valid layout %s archive", ifs_layout_name(force));
	else
		rx_prefix(ctx, "invalid initfs archive");
	return -(ctx->err ? ctx->err : EINVAL);
}

const uint8_t *ifs_bootstrap(const struct ifs_archive *a)
{
	return a->boot_len ? a->buf + IFS_PAGE : NULL;
}

void ifs_archive_free(struct ifs_archive *a)
{
	ifs_tree_free(a->root);
	for (size_t i = 0; i < a->nwarnings; i++)
		free(a->warnings[i]);
	free(a->warnings);
	free(a->blocking);
	memset(a, 0, sizeof(*a));
}
