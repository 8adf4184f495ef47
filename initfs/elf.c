/* The bootstrap ELF: its entry point, its length, and whether it can run (spec section 6). */
#include <stdio.h>

#include "initfs.h"

#define PT_LOAD 1u
#define PF_X 1u
#define SHT_NOBITS 8u

struct elf_rd {
	const uint8_t *p;
	size_t n;
	int class64, big;
};

static uint64_t rd(const struct elf_rd *e, uint64_t off, unsigned width)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < width; i++) {
		unsigned b = e->big ? i : width - 1 - i;
		v = (v << 8) | e->p[off + b];
	}
	return v;
}

/* A field of the natural word size (4 or 8 bytes). */
static uint64_t rdw(const struct elf_rd *e, uint64_t off)
{
	return rd(e, off, e->class64 ? 8 : 4);
}

static int elf_open(struct rx_ctx *ctx, const uint8_t *p, size_t n, struct elf_rd *e)
{
	if (n < 52 || memcmp(p, "\x7f" "ELF", 4) != 0)
		return rx_fail(ctx, EINVAL, "not an ELF file (no \\x7fELF magic)");
	if (p[4] != 1 && p[4] != 2)
		return rx_fail(ctx, EINVAL, "ELF class %u is neither 32- nor 64-bit", p[4]);
	if (p[5] != 1 && p[5] != 2)
		return rx_fail(ctx, EINVAL, "ELF data encoding %u is neither little- nor big-endian", p[5]);
	e->p = p;
	e->n = n;
	e->class64 = p[4] == 2;
	e->big = p[5] == 2;
	if (e->class64 && n < 64)
		return rx_fail(ctx, EINVAL, "ELF header truncated");
	return 0;
}

struct tables {
	uint64_t phoff, shoff;
	unsigned phentsize, phnum, shentsize, shnum;
};

static void elf_tables(const struct elf_rd *e, struct tables *t)
{
	if (e->class64) {
		t->phoff = rd(e, 0x20, 8);
		t->shoff = rd(e, 0x28, 8);
		t->phentsize = (unsigned)rd(e, 0x36, 2);
		t->phnum = (unsigned)rd(e, 0x38, 2);
		t->shentsize = (unsigned)rd(e, 0x3A, 2);
		t->shnum = (unsigned)rd(e, 0x3C, 2);
	} else {
		t->phoff = rd(e, 0x1C, 4);
		t->shoff = rd(e, 0x20, 4);
		t->phentsize = (unsigned)rd(e, 0x2A, 2);
		t->phnum = (unsigned)rd(e, 0x2C, 2);
		t->shentsize = (unsigned)rd(e, 0x2E, 2);
		t->shnum = (unsigned)rd(e, 0x30, 2);
	}
}

/* Is [off, off+len) inside the file? (No overflow: all values are < 2^64 and checked stepwise.) */
static int inside(const struct elf_rd *e, uint64_t off, uint64_t len)
{
	return off <= e->n && len <= e->n - off;
}

int ifs_elf_parse(struct rx_ctx *ctx, const uint8_t *p, size_t n, struct ifs_elf *out)
{
	struct elf_rd e;
	int r = elf_open(ctx, p, n, &e);
	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	out->class64 = e.class64;
	out->big = e.big;
	out->machine = (uint16_t)rd(&e, 0x12, 2);
	out->entry = rdw(&e, 0x18);
	struct tables t;
	elf_tables(&e, &t);
	unsigned want_ph = e.class64 ? 56 : 32, want_sh = e.class64 ? 64 : 40;
	uint64_t end = e.class64 ? 64 : 52;
	if (t.phnum) {
		if (t.phentsize < want_ph)
			return rx_fail(ctx, EINVAL, "ELF program header entries of %u bytes (want %u)",
				       t.phentsize, want_ph);
		uint64_t sz = (uint64_t)t.phnum * t.phentsize;
		if (!inside(&e, t.phoff, sz))
			return rx_fail(ctx, EINVAL, "ELF program headers lie past the end (%zu bytes)", n);
		end = RX_MAX(end, t.phoff + sz);
		for (unsigned i = 0; i < t.phnum; i++) {
			uint64_t ph = t.phoff + (uint64_t)i * t.phentsize;
			if (rd(&e, ph, 4) != PT_LOAD)
				continue;
			uint64_t off = e.class64 ? rd(&e, ph + 8, 8) : rd(&e, ph + 4, 4);
			uint64_t fsz = e.class64 ? rd(&e, ph + 32, 8) : rd(&e, ph + 16, 4);
			if (!inside(&e, off, fsz))
				return rx_fail(ctx, EINVAL, "ELF segment %u lies past the end (%zu bytes)", i, n);
			end = RX_MAX(end, off + fsz);
		}
	}
	if (t.shnum) {
		if (t.shentsize < want_sh)
			return rx_fail(ctx, EINVAL, "ELF section header entries of %u bytes (want %u)",
				       t.shentsize, want_sh);
		uint64_t sz = (uint64_t)t.shnum * t.shentsize;
		if (!inside(&e, t.shoff, sz))
			return rx_fail(ctx, EINVAL, "ELF section headers lie past the end (%zu bytes)", n);
		end = RX_MAX(end, t.shoff + sz);
		for (unsigned i = 0; i < t.shnum; i++) {
			uint64_t sh = t.shoff + (uint64_t)i * t.shentsize;
			if (rd(&e, sh + 4, 4) == SHT_NOBITS)
				continue;
			uint64_t off = e.class64 ? rd(&e, sh + 24, 8) : rd(&e, sh + 16, 4);
			uint64_t sz2 = e.class64 ? rd(&e, sh + 32, 8) : rd(&e, sh + 20, 4);
			if (!inside(&e, off, sz2))
				return rx_fail(ctx, EINVAL, "ELF section %u lies past the end (%zu bytes)", i, n);
			end = RX_MAX(end, off + sz2);
		}
	}
	out->len = end;
	return 0;
}

int ifs_entry_of(struct rx_ctx *ctx, const uint8_t *p, size_t n, uint64_t *entry)
{
	struct elf_rd e;
	int r = elf_open(ctx, p, n, &e);
	if (r == 0)
		*entry = rdw(&e, 0x18);
	return r;
}

void ifs_elf_boot_check(const uint8_t *p, size_t n, void (*cb)(void *arg, const char *msg), void *arg)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct ifs_elf info;
	char msg[256];
	if (ifs_elf_parse(&ctx, p, n, &info)) {
		cb(arg, ctx.msg);
		return;
	}
	struct elf_rd e;
	elf_open(&ctx, p, n, &e);
	struct tables t;
	elf_tables(&e, &t);
	if (info.entry == 0)
		cb(arg, "e_entry is 0");
	int bad_base = 0, bad_bss = 0, entry_ok = 0;
	for (unsigned i = 0; i < t.phnum; i++) {
		uint64_t ph = t.phoff + (uint64_t)i * t.phentsize;
		if (rd(&e, ph, 4) != PT_LOAD)
			continue;
		uint64_t off = e.class64 ? rd(&e, ph + 8, 8) : rd(&e, ph + 4, 4);
		uint64_t va = e.class64 ? rd(&e, ph + 16, 8) : rd(&e, ph + 8, 4);
		uint64_t fsz = e.class64 ? rd(&e, ph + 32, 8) : rd(&e, ph + 16, 4);
		uint64_t msz = e.class64 ? rd(&e, ph + 40, 8) : rd(&e, ph + 20, 4);
		uint32_t flags = (uint32_t)(e.class64 ? rd(&e, ph + 4, 4) : rd(&e, ph + 24, 4));
		/* The archive is mapped at 0x1000 and the ELF sits at 4096 in it: file offset + 0x2000. */
		if (va - off != 2u * IFS_VADDR_BASE && !bad_base++) {
			snprintf(msg, sizeof(msg), "a PT_LOAD segment has p_vaddr 0x%llx at p_offset 0x%llx "
				 "(not linked for the initfs: want p_vaddr = p_offset + 0x2000)",
				 (unsigned long long)va, (unsigned long long)off);
			cb(arg, msg);
		}
		if (fsz != msz && !bad_bss++)
			cb(arg, "a PT_LOAD segment has p_memsz != p_filesz (nothing maps its .bss)");
		if ((flags & PF_X) && info.entry >= va && info.entry - va < msz)
			entry_ok = 1;
	}
	if (!entry_ok && info.entry) {
		snprintf(msg, sizeof(msg), "e_entry 0x%llx is not inside an executable PT_LOAD segment",
			 (unsigned long long)info.entry);
		cb(arg, msg);
	}
}
