/* The EFI system partition, its loader applications, and the x86 BIOS stage. */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>

#include "boot.h"

#define SECTOR 512u

static const struct rx_efi_arch arches[] = {
	{ 0xAA64, "aarch64", "BOOTAA64.EFI" },
	{ 0x8664, "x86_64", "BOOTX64.EFI" },
	{ 0x014C, "i386", "BOOTIA32.EFI" },
	{ 0x5064, "riscv64", "BOOTRISCV64.EFI" },
};

const struct rx_efi_arch *rx_efi_arch_by_machine(uint16_t machine)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(arches); i++)
		if (arches[i].machine == machine)
			return &arches[i];
	return NULL;
}

const struct rx_efi_arch *rx_efi_arch_by_name(const char *name)
{
	/* The names Redox targets and Debian use for the same machines. */
	static const struct {
		const char *alias, *name;
	} aliases[] = { { "arm64", "aarch64" }, { "amd64", "x86_64" }, { "x64", "x86_64" },
			{ "i686", "i386" },   { "i586", "i386" },   { "x86", "i386" },
			{ "ia32", "i386" },   { "riscv64gc", "riscv64" } };
	for (size_t i = 0; i < RX_ARRAY_SIZE(aliases); i++)
		if (!strcasecmp(name, aliases[i].alias))
			name = aliases[i].name;
	for (size_t i = 0; i < RX_ARRAY_SIZE(arches); i++)
		if (!strcasecmp(arches[i].name, name))
			return &arches[i];
	return NULL;
}

const struct rx_efi_arch *rx_efi_arch_by_file(const char *file)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(arches); i++)
		if (!strcasecmp(arches[i].file, file))
			return &arches[i];
	return NULL;
}

const char *rx_efi_arch_names(void)
{
	return "aarch64, x86_64, i386, riscv64";
}

const char *rx_boot_paths_dir(int paths)
{
	return paths == RX_BOOT_PATHS_USR ? "/usr/lib/boot" : "/boot";
}

int rx_pe_parse(struct rx_ctx *ctx, const uint8_t *buf, size_t len, uint64_t file_size, struct rx_pe *out)
{
	memset(out, 0, sizeof(*out));
	if (len > file_size)
		len = (size_t)file_size;
	if (len < 64 || buf[0] != 'M' || buf[1] != 'Z')
		return rx_fail(ctx, EINVAL, "not a PE file (no \"MZ\" header)");
	uint32_t pe = get_le32(buf + 0x3c);
	/* COFF header (20 bytes) and the optional header up to its Subsystem field (70 bytes). */
	if (pe < 64 || (uint64_t)pe + 24 + 70 > len)
		return rx_fail(ctx, EINVAL, "not a PE file (e_lfanew %u is outside the headers)", pe);
	if (memcmp(buf + pe, "PE\0\0", 4) != 0)
		return rx_fail(ctx, EINVAL, "not a PE file (no \"PE\" signature at byte %u)", pe);
	out->machine = get_le16(buf + pe + 4);
	uint16_t opt_size = get_le16(buf + pe + 20), magic = get_le16(buf + pe + 24);
	if (magic != 0x10b && magic != 0x20b)
		return rx_fail(ctx, EINVAL, "not a PE image (optional header magic 0x%x)", magic);
	if (opt_size < 70)
		return rx_fail(ctx, EINVAL, "not a PE image (optional header of %u bytes)", opt_size);
	out->pe32plus = magic == 0x20b;
	out->subsystem = get_le16(buf + pe + 24 + 68);
	out->arch = rx_efi_arch_by_machine(out->machine);
	return 0;
}

/* ---- one pass over a loader file ---- */

#define PE_HEAD 4096u	/* the headers are looked for in the first 4 KiB */

static const char *const usr_marker = "usr/lib/boot/kernel";
static const char *const boot_marker = "bootkernelinitfs";

/* Does needle occur in hay (memmem is not in C11)? */
static int contains(const uint8_t *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; m <= n && i <= n - m; i++) {
		const uint8_t *p = memchr(hay + i, needle[0], n - m + 1 - i);
		if (!p)
			return 0;
		i = (size_t)(p - hay);
		if (!memcmp(p, needle, m))
			return 1;
	}
	return 0;
}

int rx_efi_examine(struct rx_ctx *ctx, fat_source_fn src, void *arg, uint64_t max_size,
		   struct rx_efi_facts *out)
{
	enum { CHUNK = 64 << 10, KEEP = 32 };	/* KEEP: longer than every marker */
	memset(out, 0, sizeof(*out));
	uint8_t *buf = rx_xmalloc(KEEP + CHUNK), head[PE_HEAD];
	size_t head_len = 0, kept = 0;
	int usr = 0, boot = 0, r = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		free(buf);
		return rx_fail(ctx, ENOMEM, "SHA-256 unavailable");
	}
	for (;;) {
		ssize_t n = src(arg, buf + kept, CHUNK);
		if (n < 0) {
			r = (int)n;
			break;
		}
		if (n == 0)
			break;
		out->size += (uint64_t)n;
		if (out->size > max_size) {
			r = rx_fail(ctx, EFBIG, "larger than %llu bytes: not a loader", (unsigned long long)max_size);
			break;
		}
		EVP_DigestUpdate(md, buf + kept, (size_t)n);
		if (head_len < PE_HEAD) {
			size_t take = RX_MIN((size_t)n, PE_HEAD - head_len);
			memcpy(head + head_len, buf + kept, take);
			head_len += take;
		}
		/* The markers are searched across chunk borders: the last bytes are kept in front. */
		size_t have = kept + (size_t)n;
		out->live |= contains(buf, have, RX_LIVE_MARKER);
		usr |= contains(buf, have, usr_marker);
		boot |= contains(buf, have, boot_marker);
		kept = RX_MIN(have, (size_t)KEEP);
		memmove(buf, buf + have - kept, kept);
	}
	unsigned int dlen = 0;
	if (!r)
		EVP_DigestFinal_ex(md, out->sha256, &dlen);
	EVP_MD_CTX_free(md);
	free(buf);
	if (r)
		return r;
	struct rx_ctx pe_ctx = { { 0 }, 0 };
	out->pe_ok = rx_pe_parse(&pe_ctx, head, head_len, out->size, &out->pe) == 0;
	if (!out->pe_ok)
		snprintf(out->pe_problem, sizeof(out->pe_problem), "%.200s", pe_ctx.msg);
	out->boot_paths = usr ? RX_BOOT_PATHS_USR : boot ? RX_BOOT_PATHS_BOOT : RX_BOOT_PATHS_UNKNOWN;
	return 0;
}

/* ---- the EFI system partition ---- */

int rx_part_is_esp(const struct rx_part *p)
{
	return !strcasecmp(p->type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b") || !strcasecmp(p->type, "0xef");
}

int rx_esp_missing(struct rx_ctx *ctx, const struct rx_parttable *t)
{
	if (!t->type[0] && t->gpt_primary_problem[0])
		return rx_fail(ctx, ENOENT, "no usable partition table: primary GPT: %s; backup GPT: %s",
			       t->gpt_primary_problem, t->gpt_backup_problem);
	return rx_fail(ctx, ENOENT, "no EFI system partition%s",
		       t->type[0] ? "" : " (no partition table: not a whole disk)");
}

int rx_esp_open(struct rx_ctx *ctx, struct rx_dev *container, const struct rx_parttable *t, int writable,
		struct rx_esp *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < t->count && !out->part; i++)
		if (rx_part_is_esp(&t->parts[i]))
			out->part = &t->parts[i];
	if (!out->part)
		return rx_esp_missing(ctx, t);
	const struct rx_part *p = out->part;
	int r = rx_fat_part_open(ctx, container, p, writable, out);
	if (r)
		rx_prefix(ctx, "EFI system partition p%d", p->partno);
	return r;
}

int rx_fat_part_open(struct rx_ctx *ctx, struct rx_dev *container, const struct rx_part *p, int writable,
		     struct rx_esp *out)
{
	memset(out, 0, sizeof(*out));
	out->part = p;
	char *name = rx_xasprintf("%s:p%d", container->name, p->partno);
	int r = rx_dev_open_slice(container, p->start, p->size, name, &out->dev);
	free(name);
	if (!r)
		r = fat_open(ctx, out->dev, writable, &out->fat);
	if (r)
		rx_esp_close(out);
	return r;
}

void rx_esp_close(struct rx_esp *e)
{
	fat_close(e->fat);
	rx_dev_close(e->dev);
	e->fat = NULL;
	e->dev = NULL;
}

struct fat_reader {
	struct fat_fs *fs;
	const struct fat_node *node;
	uint64_t off;
};

static ssize_t fat_reader_read(void *arg, void *buf, size_t len)
{
	struct fat_reader *fr = arg;
	ssize_t n = fat_read(fr->fs, fr->node, buf, len, fr->off);
	if (n > 0)
		fr->off += (uint64_t)n;
	return n;
}

struct loader_list {
	struct fat_node *nodes;
	size_t n;
};

static int collect_loader(void *arg, const struct fat_node *node)
{
	struct loader_list *l = arg;
	size_t len = strlen(node->name);
	if (fat_is_dir(node) || len < 8 || strncasecmp(node->name, "BOOT", 4) ||
	    strcasecmp(node->name + len - 4, ".EFI"))
		return 0;
	l->nodes = rx_xrealloc(l->nodes, (l->n + 1) * sizeof(*l->nodes));
	l->nodes[l->n++] = *node;
	return 0;
}

int rx_esp_loaders(struct rx_esp *e, struct rx_efi_app **apps, size_t *n)
{
	struct rx_ctx *ctx = e->dev->ctx;
	struct fat_node dir;
	struct loader_list l = { NULL, 0 };
	*apps = NULL;
	*n = 0;
	int r = fat_lookup(e->fat, "/EFI/BOOT", &dir);
	if (r == -ENOENT) {
		rx_clear(ctx);
		return 0;
	}
	if (!r && !fat_is_dir(&dir))
		r = rx_fail(ctx, ENOTDIR, "/EFI/BOOT is not a directory");
	if (!r)
		r = fat_readdir(e->fat, &dir, collect_loader, &l);
	struct rx_efi_app *a = rx_xcalloc(l.n ? l.n : 1, sizeof(*a));
	for (size_t i = 0; !r && i < l.n; i++) {
		snprintf(a[i].path, sizeof(a[i].path), "/EFI/BOOT/%s", l.nodes[i].name);
		a[i].named = rx_efi_arch_by_file(l.nodes[i].name);
		struct fat_reader fr = { e->fat, &l.nodes[i], 0 };
		if ((r = rx_efi_examine(ctx, fat_reader_read, &fr, UINT32_MAX, &a[i].f)) != 0)
			rx_prefix(ctx, "%s", a[i].path);
	}
	free(l.nodes);
	if (r) {
		free(a);
		return r;
	}
	*apps = a;
	*n = l.n;
	return 0;
}

/* Clusters a folder needs that does not exist yet (0 if it does), or -errno. */
static int folder_cost(struct fat_fs *fs, const char *path)
{
	struct fat_node n;
	int r = fat_lookup(fs, path, &n);
	if (r == -ENOENT)
		return 1;
	if (r)
		return r;
	return fat_is_dir(&n) ? 0 : -ENOTDIR;
}

int rx_esp_install(struct rx_esp *e, const char *name, uint64_t size, fat_source_fn src, void *arg)
{
	struct rx_ctx *ctx = e->dev->ctx;
	struct fat_fs *fs = e->fat;
	struct fat_info fi;
	fat_info(fs, &fi);
	char path[64];
	snprintf(path, sizeof(path), "/EFI/BOOT/%s", name);
	if (size > 0xFFFFFFFFu)
		return rx_fail(ctx, EFBIG, "a FAT file holds at most 4 GiB - 1 bytes");
	int efi = folder_cost(fs, "/EFI"), boot = efi ? 1 : folder_cost(fs, "/EFI/BOOT");
	if (efi < 0 || boot < 0) {
		if (efi == -ENOTDIR || boot == -ENOTDIR)
			return rx_fail(ctx, ENOTDIR, "%s is a file, not a folder", efi ? "/EFI" : "/EFI/BOOT");
		return efi < 0 ? efi : boot;
	}
	struct fat_node old;
	int r = efi || boot ? -ENOENT : fat_lookup(fs, path, &old);
	int exists = r == 0;
	if (r && r != -ENOENT)
		return r;
	rx_clear(ctx);
	if (exists && fat_is_dir(&old))
		return rx_fail(ctx, EISDIR, "%s is a folder", path);
	/*
	 * The new chain is written while the old one still stands; a new entry
	 * may need one more cluster of folder.
	 */
	uint64_t need = (size + fi.cluster_size - 1) / fi.cluster_size + (uint64_t)efi + (uint64_t)boot +
			(exists ? 0 : 1);
	if (need > fi.free_clusters)
		return rx_fail(ctx, ENOSPC, "the EFI system partition has %llu bytes free; %s of %llu bytes needs "
			       "%llu (the old file is freed only once the new one is in place)",
			       (unsigned long long)fi.free_clusters * fi.cluster_size, path, (unsigned long long)size,
			       (unsigned long long)need * fi.cluster_size);
	if (efi && (r = fat_mkdir(fs, "/EFI")) != 0)
		return r;
	if ((efi || boot) && (r = fat_mkdir(fs, "/EFI/BOOT")) != 0)
		return r;
	return fat_write_file(fs, path, src, arg);
}

/* ---- the partition table as writers need it ---- */

int rx_part_validate(struct rx_ctx *ctx, const struct rx_parttable *t, int both_copies)
{
	if (both_copies && t->gpt_primary_problem[0])
		return rx_fail(ctx, RX_ECORRUPT, "the primary GPT is damaged (%s); repair the partition table first",
			       t->gpt_primary_problem);
	if (both_copies && t->gpt_backup_problem[0])
		return rx_fail(ctx, RX_ECORRUPT, "the backup GPT is damaged (%s); repair the partition table first",
			       t->gpt_backup_problem);
	for (int i = 0; i < t->count; i++) {
		const struct rx_part *a = &t->parts[i];
		if (!strcmp(t->type, "gpt") && a->start < 34 * SECTOR)
			return rx_fail(ctx, RX_ECORRUPT, "partition p%d starts inside the primary GPT", a->partno);
		for (int j = i + 1; j < t->count; j++) {
			const struct rx_part *b = &t->parts[j];
			if (a->size && b->size && a->start < b->start + b->size && b->start < a->start + a->size)
				return rx_fail(ctx, RX_ECORRUPT, "partitions p%d and p%d overlap", a->partno, b->partno);
		}
	}
	return 0;
}

/* ---- the x86 BIOS stage ---- */

int rx_bios_present(struct rx_dev *container)
{
	uint8_t s0[SECTOR], s34[SECTOR];
	if (container->size < RX_BIOS_STAGE2 + SECTOR)
		return 0;
	int r = rx_dev_read(container, s0, SECTOR, 0);
	if (!r)
		r = rx_dev_read(container, s34, SECTOR, RX_BIOS_STAGE2);
	if (r)
		return r;
	return !rx_is_zero(s0, RX_MBR_TABLE) && !rx_is_zero(s34, SECTOR);
}

int rx_bios_read(struct rx_dev *container, uint8_t *buf)
{
	memset(buf, 0, RX_BIOS_SIZE);
	size_t len = (size_t)RX_MIN((uint64_t)RX_BIOS_SIZE, container->size);
	int r = rx_dev_read(container, buf, len, 0);
	if (r)
		return r;
	memset(buf + RX_MBR_TABLE, 0, 510 - RX_MBR_TABLE);
	memset(buf + SECTOR, 0, RX_BIOS_STAGE2 - SECTOR);
	return 0;
}

int rx_bios_install(struct rx_ctx *ctx, struct rx_dev *container, const struct rx_parttable *t,
		    const uint8_t *file, size_t len)
{
	if (len <= RX_BIOS_STAGE2 || file[510] != 0x55 || file[511] != 0xaa)
		return rx_fail(ctx, EINVAL, "not a BIOS stage (a boot sector ending in 55 AA followed by stage 2 "
			       "at byte %u)", RX_BIOS_STAGE2);
	if (!rx_is_zero(file + RX_MBR_TABLE, 510 - RX_MBR_TABLE))
		return rx_fail(ctx, EINVAL, "not a BIOS stage for a GPT disk: it has data in the MBR partition "
			       "records (bytes 446-509)");
	if (!rx_is_zero(file + SECTOR, RX_BIOS_STAGE2 - SECTOR))
		return rx_fail(ctx, EINVAL, "not a BIOS stage for a GPT disk: it has data at bytes 512-17407, "
			       "where the primary GPT lives");
	if (strcmp(t->type, "gpt"))
		return rx_fail(ctx, EINVAL, "the BIOS stage goes on a GPT disk with a BIOS boot partition; "
			       "this disk has %s", t->type[0] ? "an MBR partition table" : "no partition table");
	const struct rx_part *bp = NULL;
	for (int i = 0; i < t->count; i++)
		if (t->parts[i].start == RX_BIOS_STAGE2)
			bp = &t->parts[i];
	if (!bp || strcasecmp(bp->type, "21686148-6449-6e6f-744e-656564454649"))
		return rx_fail(ctx, EINVAL, "no BIOS boot partition at LBA 34 (where stage 1 loads stage 2 from)");
	if (len - RX_BIOS_STAGE2 > bp->size)
		return rx_fail(ctx, ENOSPC, "the BIOS stage needs %llu bytes from LBA 34 but the BIOS boot partition "
			       "p%d holds %llu", (unsigned long long)(len - RX_BIOS_STAGE2), bp->partno,
			       (unsigned long long)bp->size);
	/* Stage 2 onwards first (nothing reads that partition otherwise), then the 446 bytes of stage 1. */
	int r = rx_dev_write(container, file + RX_BIOS_STAGE2, len - RX_BIOS_STAGE2, RX_BIOS_STAGE2);
	if (!r)
		r = rx_dev_flush(container);
	if (!r)
		r = rx_dev_write(container, file, RX_MBR_TABLE, 0);
	if (!r)
		r = rx_dev_flush(container);
	return r;
}
