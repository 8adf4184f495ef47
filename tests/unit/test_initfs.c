/*
 * initfs writer and reader against the specification's worked example (spec
 * section 12): the same tree must come out byte for byte as the reference
 * archiver's V4 and V6 output, and every layout variant must be detected.
 */
#include <stdlib.h>
#include <unistd.h>

#include "initfs.h"
#include "tap.h"

#define V4_SIZE 69635u
#define V6_SIZE 69704u
#define ELF_LEN 17416u
#define TIME_SEC 0x6b018278u
#define TIME_NSEC 0x3693ce4cu

/* A stand-in for the 17 416-byte aarch64 test ELF: same headers, entry 0x3000. */
static uint8_t *make_elf(void)
{
	uint8_t *e = calloc(1, ELF_LEN);
	memcpy(e, "\x7f" "ELF\x02\x01\x01", 7);
	put_le16(e + 0x10, 2);		/* ET_EXEC */
	put_le16(e + 0x12, 183);	/* EM_AARCH64 */
	put_le32(e + 0x14, 1);
	put_le64(e + 0x18, 0x3000);	/* e_entry */
	put_le64(e + 0x20, 64);		/* e_phoff */
	put_le64(e + 0x28, 0x4248);	/* e_shoff */
	put_le16(e + 0x34, 64);
	put_le16(e + 0x36, 56);
	put_le16(e + 0x38, 1);
	put_le16(e + 0x3A, 64);
	put_le16(e + 0x3C, 7);
	uint8_t *ph = e + 64;		/* PT_LOAD R+X, file 0x1000 -> VA 0x3000 */
	put_le32(ph, 1);
	put_le32(ph + 4, 5);
	put_le64(ph + 8, 0x1000);
	put_le64(ph + 16, 0x3000);
	put_le64(ph + 24, 0x3000);
	put_le64(ph + 32, 0x1000);
	put_le64(ph + 40, 0x1000);
	for (unsigned i = 0x1000; i < 0x2000; i++)
		e[i] = (uint8_t)(i * 7 + 1);	/* "code" */
	put_le32(e + 0x4248 + 64 + 4, 1);	/* a PROGBITS section header */
	return e;
}

static struct ifs_node *file(const char *data, uint16_t mode)
{
	struct ifs_node *n = ifs_node_new(IFS_FILE, mode);
	ifs_node_set_data(n, data, strlen(data));
	return n;
}

/* etc/init.rc, bin/sh -> init, bin/init, in that read_dir order. */
static struct ifs_node *example_tree(void)
{
	struct ifs_node *root = ifs_node_new(IFS_DIR, 0755);
	struct ifs_node *etc = ifs_node_new(IFS_DIR, 0755), *bin = ifs_node_new(IFS_DIR, 0755);
	ifs_dir_append(etc, "init.rc", 7, file("echo hi\n", 0644));
	struct ifs_node *sh = ifs_node_new(IFS_LINK, 0777);
	ifs_node_set_data(sh, "init", 4);
	sh->form = IFS_LINK_PARENT;
	ifs_dir_append(bin, "sh", 2, sh);
	ifs_dir_append(bin, "init", 4, file("#!init\n", 0755));
	ifs_dir_append(root, "etc", 3, etc);
	ifs_dir_append(root, "bin", 3, bin);
	return root;
}

static void dirent(uint8_t *p, uint16_t ino, uint16_t len, uint32_t off)
{
	put_le16(p, ino);
	put_le16(p + 2, len);
	put_le32(p + 4, off);
}

static void r20(uint8_t *p, uint32_t tm, uint32_t len, uint32_t off)
{
	put_le32(p, tm);
	put_le32(p + 4, len);
	put_le32(p + 8, off);
}

static uint8_t *expected_v4(const uint8_t *elf)
{
	uint8_t *x = calloc(1, V4_SIZE);
	memcpy(x, "RedoxFtw", 8);
	put_le32(x + 8, 0x6000);
	put_le64(x + 0x0C, TIME_SEC);
	put_le32(x + 0x14, TIME_NSEC);
	put_le16(x + 0x18, 6);
	put_le64(x + 0x1A, 0x3000);
	put_le64(x + 0x22, 0x11003);
	put_le16(x + 0x2A, 4096);
	memcpy(x + 0x1000, elf, ELF_LEN);
	uint8_t *t = x + 0x6000;
	r20(t + 0, 0x100001ed, 16, 0x7000);
	r20(t + 20, 0x000001a4, 8, 0x9000);
	r20(t + 40, 0x100001ed, 8, 0x8000);
	r20(t + 60, 0x200001ff, 8, 0xd000);
	r20(t + 80, 0x000001ed, 7, 0xf000);
	r20(t + 100, 0x100001ed, 16, 0xc000);
	dirent(x + 0x7000, 2, 3, 0xb000);
	dirent(x + 0x7008, 5, 3, 0x11000);
	dirent(x + 0x8000, 1, 7, 0xa000);
	memcpy(x + 0x9000, "echo hi\n", 8);
	memcpy(x + 0xa000, "init.rc", 7);
	memcpy(x + 0xb000, "etc", 3);
	dirent(x + 0xc000, 3, 2, 0xe000);
	dirent(x + 0xc008, 4, 4, 0x10000);
	memcpy(x + 0xd000, "bin/init", 8);
	memcpy(x + 0xe000, "sh", 2);
	memcpy(x + 0xf000, "#!init\n", 7);
	memcpy(x + 0x10000, "init", 4);
	memcpy(x + 0x11000, "bin", 3);
	return x;
}

static uint8_t *expected_v6(const uint8_t *elf)
{
	uint8_t *x = calloc(1, V6_SIZE);
	memcpy(x, "RedoxFtw", 8);
	put_le32(x + 8, 0x11000);
	put_le64(x + 0x0C, 0x11048);
	put_le16(x + 0x14, 4096);
	put_le16(x + 0x16, 5);
	put_le16(x + 0x18, 6);
	put_le64(x + 0x1A, 0x3000);
	memcpy(x + 0x1000, elf, ELF_LEN);
	dirent(x + 0x6000, 1, 3, 0xa000);
	dirent(x + 0x6008, 4, 3, 0x10000);
	dirent(x + 0x7000, 0, 7, 0x9000);
	memcpy(x + 0x8000, "echo hi\n", 8);
	memcpy(x + 0x9000, "init.rc", 7);
	memcpy(x + 0xa000, "etc", 3);
	dirent(x + 0xb000, 2, 2, 0xd000);
	dirent(x + 0xb008, 3, 4, 0xf000);
	memcpy(x + 0xc000, "init", 4);
	memcpy(x + 0xd000, "sh", 2);
	memcpy(x + 0xe000, "#!init\n", 7);
	memcpy(x + 0xf000, "init", 4);
	memcpy(x + 0x10000, "bin", 3);
	uint8_t *t = x + 0x11000;
	const uint32_t rec[6][3] = { { 0, 8, 0x8000 }, { 2, 8, 0x7000 }, { 3, 4, 0xc000 },
				     { 1, 7, 0xe000 }, { 2, 16, 0xb000 }, { 2, 16, 0x6000 } };
	for (int i = 0; i < 6; i++)
		r20(t + 12 * i, rec[i][0], rec[i][1], rec[i][2]);
	return x;
}

/* Write root with o into a temporary file and read it back whole. */
static uint8_t *write_mem(struct ifs_node *root, const struct ifs_write_opts *o, uint64_t *len,
			  struct rx_ctx *ctx)
{
	char path[] = "/tmp/test_initfs.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	uint8_t *buf = NULL;
	if (ifs_write(ctx, root, o, fd, len) == 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		buf = calloc(1, (size_t)end + 1);
		if (end != (off_t)*len || pread(fd, buf, (size_t)end, 0) != end) {
			free(buf);
			buf = NULL;
		}
	}
	close(fd);
	return buf;
}

static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* Tree equality: names, order, types, modes (when both carry modes), contents. */
static int same_tree(const struct ifs_node *a, const struct ifs_node *b, int modes)
{
	if (a->type != b->type || a->n != b->n || (modes && a->mode != b->mode))
		return 0;
	if (a->type != IFS_DIR && (a->size != b->size || (a->size && memcmp(a->data, b->data, a->size))))
		return a->type == IFS_LINK;	/* link targets differ by form; checked elsewhere */
	for (size_t i = 0; i < a->n; i++)
		if (a->ents[i].len != b->ents[i].len || strcmp(a->ents[i].name, b->ents[i].name) ||
		    !same_tree(a->ents[i].node, b->ents[i].node, modes))
			return 0;
	return 1;
}

static void check_example(void)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	uint8_t *elf = make_elf(), *want4 = expected_v4(elf), *want6 = expected_v6(elf);
	struct ifs_node *tree = example_tree();
	struct ifs_write_opts o = { .layout = IFS_V4, .boot = elf, .boot_len = ELF_LEN, .entry = 0,
				    .time_sec = TIME_SEC, .time_nsec = TIME_NSEC, .max_size = 64u << 20 };
	ok(ifs_entry_of(&ctx, elf, ELF_LEN, &o.entry) == 0 && o.entry == 0x3000,
	   "bootstrap_entry is e_entry (0x%llx)", (unsigned long long)o.entry);
	uint64_t len = 0;
	uint8_t *got = write_mem(tree, &o, &len, &ctx);
	ok(got && len == V4_SIZE, "V4: the example is %u bytes (got %llu) %s", V4_SIZE,
	   (unsigned long long)len, ctx.msg);
	long d = got && len == V4_SIZE ? first_diff(got, want4, V4_SIZE) : 0;
	ok(d < 0, "V4: byte-identical to the reference archiver's output (first difference at %ld)", d);

	struct ifs_archive a;
	int r = got ? ifs_load(&ctx, got, len, IFS_LAYOUT_NONE, &a) : -1;
	ok(r == 0 && a.layout == IFS_V4, "V4: read back and detected as v4 %s", ctx.msg);
	if (r == 0) {
		ok(a.boot_len == ELF_LEN && a.elf_len == ELF_LEN && !memcmp(ifs_bootstrap(&a), elf, ELF_LEN),
		   "V4: the bootstrap is recovered exactly (%u bytes)", a.boot_len);
		ok(a.count == 6 && a.root_ino == 0 && a.entry == 0x3000 && a.time_sec == TIME_SEC &&
		   a.time_nsec == TIME_NSEC && a.size == V4_SIZE, "V4: header fields");
		ok(same_tree(a.root, tree, 1), "V4: the tree, order and modes read back");
		struct ifs_node *sh;
		ok(ifs_resolve(&ctx, a.root, "/bin/sh", 0, &sh) == 0 && sh->form == IFS_LINK_ROOT &&
		   sh->size == 8 && !memcmp(sh->data, "bin/init", 8), "V4: bin/sh is stored root-relative");
		char *t = NULL;
		size_t tl = 0;
		ok(ifs_link_target(&ctx, sh, "bin", IFS_LINK_PARENT, &t, &tl) == 0 && tl == 4 &&
		   !memcmp(t, "init", 4), "V4: bin/sh converts back to 'init'");
		free(t);
		struct ifs_node *init;
		ok(ifs_resolve(&ctx, a.root, "/bin/sh", 1, &init) == 0 && init->size == 7,
		   "V4: /bin/sh resolves to /bin/init");
		ok(a.nwarnings == 0, "V4: no warnings for a bootable archive (%zu: %s)", a.nwarnings,
		   a.nwarnings ? a.warnings[0] : "");

		/* Re-writing what was read gives the same bytes (the edit path, nothing changed). */
		uint64_t len2 = 0;
		uint8_t *again = write_mem(a.root, &o, &len2, &ctx);
		ok(again && len2 == len && !memcmp(again, got, len), "V4: read + write is the identity");
		free(again);

		/* The same tree in V6: directory-relative links, table at the end, root last. */
		o.layout = IFS_V6;
		uint8_t *v6 = write_mem(a.root, &o, &len2, &ctx);
		ok(v6 && len2 == V6_SIZE, "V6: the example is %u bytes (got %llu) %s", V6_SIZE,
		   (unsigned long long)len2, ctx.msg);
		d = v6 && len2 == V6_SIZE ? first_diff(v6, want6, V6_SIZE) : 0;
		ok(d < 0, "V6: byte-identical to the reference archiver's output (first difference at %ld)", d);
		struct ifs_archive b;
		r = v6 ? ifs_load(&ctx, v6, len2, IFS_LAYOUT_NONE, &b) : -1;
		ok(r == 0 && b.layout == IFS_V6 && b.root_ino == 5 && b.boot_len == ELF_LEN,
		   "V6: read back and detected as v6 %s", ctx.msg);
		if (r == 0) {
			ok(same_tree(b.root, tree, 0), "V6: the tree and order read back");
			ifs_archive_free(&b);
		}
		free(v6);
		o.layout = IFS_V4;
		ifs_archive_free(&a);
	}
	ifs_tree_free(tree);
	free(got);
	free(want4);
	free(want6);
	free(elf);
}

/* Rewrite a V4 image's inode table as 12-byte R12a records (the V5a layout). */
static void to_v5a(uint8_t *b)
{
	uint32_t ito = get_le32(b + 8), cnt = get_le16(b + 0x18);
	for (uint32_t i = 0; i < cnt; i++)
		memmove(b + ito + 12 * i, b + ito + 20 * i, 12);
	memset(b + ito + 12 * cnt, 0, 8 * cnt);
}

/* Rewrite a V6 header as the transitional V6a one: H4 plus root_inode at 0x2C. */
static void to_v6a(uint8_t *b)
{
	uint64_t size = get_le64(b + 0x0C);
	uint16_t root = get_le16(b + 0x16);
	memset(b + 0x0C, 0, 12);
	put_le64(b + 0x0C, 1700000000);
	put_le64(b + 0x22, size);
	put_le16(b + 0x2A, 4096);
	put_le16(b + 0x2C, root);
}

/* Every variant is told apart (spec section 10). */
static void check_detection(void)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	uint8_t *elf = make_elf();
	struct ifs_node *tree = example_tree(), *flat = ifs_node_new(IFS_DIR, 0755);
	ifs_dir_append(flat, "init", 4, file("#!init\n", 0755));
	ifs_dir_append(flat, "etc", 3, ifs_node_new(IFS_DIR, 0755));
	struct {
		enum ifs_layout write;
		int boot, links;
		void (*patch)(uint8_t *);
		enum ifs_layout want;
	} cases[] = {
		{ IFS_V1, 0, 0, NULL, IFS_V1 },	  { IFS_V3, 1, 1, NULL, IFS_V3 },
		{ IFS_V3, 0, 1, NULL, IFS_V3 },	  { IFS_V4, 1, 1, NULL, IFS_V4 },
		{ IFS_V4, 0, 1, NULL, IFS_V4 },	  { IFS_V5B, 1, 1, NULL, IFS_V5B },
		{ IFS_V5B, 0, 1, NULL, IFS_V5B }, { IFS_V6, 1, 1, NULL, IFS_V6 },
		{ IFS_V4, 1, 1, to_v5a, IFS_V5A }, { IFS_V6, 1, 1, to_v6a, IFS_V6A },
	};
	for (size_t i = 0; i < RX_ARRAY_SIZE(cases); i++) {
		struct ifs_write_opts o = { .layout = cases[i].write, .entry = IFS_NO_ENTRY, .time_sec = 1700000000 };
		if (cases[i].boot) {
			o.boot = elf;
			o.boot_len = ELF_LEN;
			o.entry = 0x3000;
		}
		uint64_t len = 0;
		uint8_t *b = write_mem(cases[i].links ? tree : flat, &o, &len, &ctx);
		if (b && cases[i].patch)
			cases[i].patch(b);
		struct ifs_archive a;
		int r = b ? ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a) : -1;
		ok(r == 0 && a.layout == cases[i].want, "written as %s%s, detected as %s %s",
		   ifs_layout_name(cases[i].write), cases[i].patch ? " and patched" : cases[i].boot ? " with a bootstrap" : "",
		   r == 0 ? ifs_layout_name(a.layout) : "nothing", ctx.msg);
		if (r == 0) {
			ok(same_tree(a.root, cases[i].links ? tree : flat, 0) &&
			   a.boot_len == (cases[i].boot ? ELF_LEN : 0),
			   "%s: contents and bootstrap read back", ifs_layout_name(cases[i].want));
			ifs_archive_free(&a);
		}
		free(b);
	}
	/* The transitional V2a/V2b headers are V3 without initfs_size (and bootstrap_entry). */
	for (int boot = 0; boot < 2; boot++) {
		struct ifs_write_opts o = { .layout = IFS_V3, .entry = IFS_NO_ENTRY };
		if (boot) {
			o.boot = elf;
			o.boot_len = ELF_LEN;
		}
		uint64_t len = 0;
		uint8_t *b = write_mem(flat, &o, &len, &ctx);
		struct ifs_archive a;
		if (b)
			memset(b + 0x22, 0, 8);
		int r = b ? ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a) : -1;
		ok(r == 0 && a.layout == IFS_V2B && a.boot_len == (boot ? ELF_LEN : 0),
		   "v3 without initfs_size is v2b%s %s", boot ? " (bootstrap found)" : "", ctx.msg);
		if (r == 0)
			ifs_archive_free(&a);
		if (b)
			memset(b + 0x1A, 0, 8);
		r = b ? ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a) : -1;
		ok(r == 0 && a.layout == IFS_V2A && a.boot_len == (boot ? ELF_LEN : 0),
		   "and without bootstrap_entry it is v2a %s", ctx.msg);
		if (r == 0)
			ifs_archive_free(&a);
		/* A link (type 2) in a layout that has none is an unknown type. */
		if (b) {
			put_le32(b + get_le32(b + 8) + 20 * 1, 0x200001ff);
			r = ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a);
			ok(r != 0 && strstr(ctx.msg, "unknown type 2"), "v2a has no symlinks: %s", ctx.msg);
		}
		free(b);
	}
	/* An empty tree reads the same in R20 and R12a: R20 (v4) wins (spec section 10). */
	struct ifs_node *empty = ifs_node_new(IFS_DIR, 0755);
	struct ifs_write_opts o = { .layout = IFS_V4, .entry = IFS_NO_ENTRY };
	uint64_t len = 0;
	uint8_t *b = write_mem(empty, &o, &len, &ctx);
	struct ifs_archive a;
	int r = b ? ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a) : -1;
	ok(r == 0 && a.layout == IFS_V4, "an empty v4 archive is v4 and readable (%s)", ctx.msg);
	if (r == 0) {
		ok(a.root->n == 0 && get_le32(b + 0x1000 + 8) <= len,
		   "the empty root does not point past the end of the file");
		ifs_archive_free(&a);
	}
	/* The reference points the empty root past the end of the file (spec section 4): readable. */
	if (b) {
		put_le32(b + 0x1000 + 8, 0x2000);
		r = ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a);
		ok(r == 0 && a.root->n == 0, "an empty root at offset 0x2000 of a %llu-byte file is accepted %s",
		   (unsigned long long)len, ctx.msg);
		if (r == 0)
			ifs_archive_free(&a);
	}
	/* Forcing the wrong layout fails cleanly. */
	r = b ? ifs_load(&ctx, b, len, IFS_V6, &a) : 0;
	ok(r != 0 && strstr(ctx.msg, "v6"), "forcing v6 on a v4 archive fails: %s", ctx.msg);
	free(b);
	ifs_tree_free(empty);
	ifs_tree_free(tree);
	ifs_tree_free(flat);
	free(elf);
}

/* Every header test reads only bytes the file has: each length from the magic to past the
 * largest header, in a buffer of exactly that size (a sanitized build sees any over-read). */
static void check_short_headers(void)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	int clean = 1;
	for (int fill = 0; fill < 3; fill++) {
		for (uint64_t len = 8; len <= 48; len++) {
			uint8_t *b = malloc(len);
			if (!b)
				abort();
			/* ff everywhere, zeros everywhere, or page_size 4096 where each layout keeps it */
			memset(b, fill == 0 ? 0xff : 0, len);
			memcpy(b, "RedoxFtw", 8);
			if (fill == 2) {
				if (len >= 12)
					put_le32(b + 8, 0x1000);
				if (len >= 0x16)
					put_le16(b + 0x14, IFS_PAGE);
				if (len >= 0x2C)
					put_le16(b + 0x2A, IFS_PAGE);
			}
			struct ifs_archive a;
			if (ifs_load(&ctx, b, len, IFS_LAYOUT_NONE, &a) == 0) {
				clean = 0;
				ifs_archive_free(&a);
			} else if (!ctx.msg[0]) {
				clean = 0;
			}
			free(b);
		}
	}
	ok(clean, "8- to 48-byte archives are refused with a message, reading no byte past their end");
}

/* The size limit is checked before anything is written, and names the shortfall. */
static void check_max_size(void)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct ifs_node *tree = example_tree();
	struct ifs_write_opts o = { .layout = IFS_V4, .entry = IFS_NO_ENTRY, .max_size = 40960 };
	uint64_t len = 0;
	uint8_t *b = write_mem(tree, &o, &len, &ctx);
	ok(!b && strstr(ctx.msg, "needs 53248 bytes, 12288 bytes more than the maximum size of 40960"),
	   "max-size: %s", ctx.msg);
	free(b);
	o.max_size = 53248 - 4095;	/* the effective limit is max-size rounded down to a page */
	b = write_mem(tree, &o, &len, &ctx);
	ok(!b, "max-size is compared with the page-rounded end");
	free(b);
	o.max_size = 53248;
	b = write_mem(tree, &o, &len, &ctx);
	ok(b && len == 49155, "max-size equal to the page-rounded size is enough (%llu bytes)",
	   (unsigned long long)len);
	free(b);
	ifs_tree_free(tree);
}

int main(void)
{
	check_example();
	check_detection();
	check_max_size();
	check_short_headers();
	return tap_done();
}
