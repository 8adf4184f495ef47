/* The GPT writer (see gpt.h); spec: shared disk-image.md §2.1, §2.2. */
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "fat_int.h"
#include "gpt.h"
#include "part.h"

#define SECTOR RX_GPT_SECTOR
#define MIB (UINT64_C(1) << 20)

/* 21686148-6449-6e6f-744e-656564454649 */
const uint8_t rx_gpt_type_bios_boot[16] = { 0x48, 0x61, 0x68, 0x21, 0x49, 0x64, 0x6f, 0x6e,
					    0x74, 0x4e, 0x65, 0x65, 0x64, 0x45, 0x46, 0x49 };
/* c12a7328-f81f-11d2-ba4b-00a0c93ec93b */
const uint8_t rx_gpt_type_efi_system[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					     0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };
/* 0fc63daf-8483-4772-8e79-3d69d8477de4: what the installer gives RedoxFS (it has no type of its own yet) */
const uint8_t rx_gpt_type_linux_data[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
					     0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };

void rx_guid_swap(const uint8_t in[16], uint8_t out[16])
{
	uint8_t t[16];
	memcpy(t, in, 16);
	out[0] = t[3], out[1] = t[2], out[2] = t[1], out[3] = t[0];
	out[4] = t[5], out[5] = t[4];
	out[6] = t[7], out[7] = t[6];
	memcpy(out + 8, t + 8, 8);
}

int rx_guid_parse(const char *s, uint8_t out[16])
{
	uint8_t text[16];
	int n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '-')
			continue;
		int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
			: *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
		if (v < 0 || n >= 32)
			return 1;
		if (n % 2 == 0)
			text[n / 2] = (uint8_t)(v << 4);
		else
			text[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n != 32)
		return 1;
	rx_guid_swap(text, out);
	return 0;
}

static void set_part(struct rx_gpt_part *p, const uint8_t type[16], uint64_t first, uint64_t last, const char *name)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->type, type, 16);
	p->first_lba = first;
	p->last_lba = last;
	snprintf(p->name, sizeof(p->name), "%s", name);
}

int rx_gpt_redox_layout(struct rx_ctx *ctx, uint64_t disk_bytes, uint64_t esp_bytes, uint64_t min_fs_bytes,
			struct rx_gpt_part parts[3])
{
	if (esp_bytes == 0 || esp_bytes % MIB)
		return rx_fail(ctx, EINVAL, "the EFI system partition must be a whole number of MiB");
	uint64_t fs_first = (MIB + esp_bytes) / SECTOR;
	/* The installer reserves the backup GPT, then ends RedoxFS on the last whole MiB before it. */
	uint64_t reserve = RX_GPT_RESERVED_SECTORS * SECTOR;
	uint64_t fs_end = disk_bytes > reserve ? (disk_bytes - reserve) / MIB * (MIB / SECTOR) : 0;
	if (fs_end <= fs_first || (fs_end - fs_first) * SECTOR < min_fs_bytes) {
		uint64_t need = MIB + esp_bytes + (min_fs_bytes + MIB - 1) / MIB * MIB + MIB;
		return rx_fail(ctx, ENOSPC, "too small: this layout needs at least %llu MiB (%llu bytes)",
			       (unsigned long long)(need / MIB), (unsigned long long)need);
	}
	set_part(&parts[0], rx_gpt_type_bios_boot, RX_GPT_RESERVED_SECTORS, MIB / SECTOR - 1, "BIOS");
	set_part(&parts[1], rx_gpt_type_efi_system, MIB / SECTOR, fs_first - 1, "EFI");
	set_part(&parts[2], rx_gpt_type_linux_data, fs_first, fs_end - 1, "REDOX");
	return 0;
}

static void encode_entry(uint8_t *e, const struct rx_gpt_part *p, const uint16_t *name, int units)
{
	memcpy(e, p->type, 16);
	memcpy(e + 16, p->guid, 16);
	put_le64(e + 32, p->first_lba);
	put_le64(e + 40, p->last_lba);
	put_le64(e + 48, p->attrs);
	for (int i = 0; i < units; i++)
		put_le16(e + 56 + 2 * i, name[i]);
}

static void encode_header(uint8_t *h, uint64_t my_lba, uint64_t alt_lba, uint64_t last_usable,
			  const uint8_t disk_guid[16], uint64_t entries_lba, uint32_t entries_crc)
{
	memset(h, 0, SECTOR);
	memcpy(h, "EFI PART", 8);
	put_le32(h + 8, 0x00010000);
	put_le32(h + 12, 92);
	put_le64(h + 24, my_lba);
	put_le64(h + 32, alt_lba);
	put_le64(h + 40, RX_GPT_RESERVED_SECTORS);
	put_le64(h + 48, last_usable);
	memcpy(h + 56, disk_guid, 16);
	put_le64(h + 72, entries_lba);
	put_le32(h + 80, RX_GPT_ENTRIES);
	put_le32(h + 84, RX_GPT_ENTRY_SIZE);
	put_le32(h + 88, entries_crc);
	put_le32(h + 16, (uint32_t)crc32(0, h, 92));
}

int rx_gpt_write(struct rx_ctx *ctx, struct rx_dev *dev, const uint8_t disk_guid[16],
		 const struct rx_gpt_part *parts, unsigned n)
{
	uint64_t sectors = dev->size / SECTOR;
	if (sectors < 2 * RX_GPT_RESERVED_SECTORS + 1)
		return rx_fail(ctx, ENOSPC, "too small for a GPT");
	if (n > RX_GPT_ENTRIES)
		return rx_fail(ctx, EINVAL, "a GPT holds at most %u partitions", RX_GPT_ENTRIES);
	uint64_t last_usable = sectors - RX_GPT_RESERVED_SECTORS;
	size_t alen = RX_GPT_ENTRIES * RX_GPT_ENTRY_SIZE;
	uint8_t *entries = rx_xcalloc(1, alen);
	int r = 0;
	for (unsigned i = 0; i < n && r == 0; i++) {
		const struct rx_gpt_part *p = &parts[i];
		uint16_t name[36];
		int units = p->name[0] ? fat_utf8_to_utf16(p->name, strlen(p->name), name, 36) : 0;
		if (p->first_lba < RX_GPT_RESERVED_SECTORS || p->last_lba > last_usable || p->last_lba < p->first_lba)
			r = rx_fail(ctx, EINVAL, "partition %u (sectors %llu-%llu) is outside the usable sectors "
				    "%u-%llu", i + 1, (unsigned long long)p->first_lba, (unsigned long long)p->last_lba,
				    RX_GPT_RESERVED_SECTORS, (unsigned long long)last_usable);
		else if (units < 0)
			r = rx_fail(ctx, EINVAL, "partition %u: the name '%s' is not UTF-8 of at most 36 "
				    "UTF-16 units", i + 1, p->name);
		else if (rx_is_zero(p->type, 16))
			r = rx_fail(ctx, EINVAL, "partition %u has no type", i + 1);
		for (unsigned j = 0; j < i && r == 0; j++)
			if (p->first_lba <= parts[j].last_lba && parts[j].first_lba <= p->last_lba)
				r = rx_fail(ctx, EINVAL, "partitions %u and %u overlap", j + 1, i + 1);
		if (r == 0)
			encode_entry(entries + (size_t)i * RX_GPT_ENTRY_SIZE, p, name, units);
	}
	uint8_t mbr[SECTOR], hdr[SECTOR];
	if (r == 0)
		r = rx_dev_read(dev, mbr, SECTOR, 0);
	if (r == 0) {
		uint32_t crc = (uint32_t)crc32(0, entries, (uInt)alen);
		uint64_t backup_entries = last_usable + 1;
		/* Protective MBR (spec §2.1): one 0xEE record over the whole disk, as the installer writes it. */
		static const uint8_t record[8] = { 0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff };
		memset(mbr + 446, 0, 64);
		memcpy(mbr + 446, record, 8);
		put_le32(mbr + 446 + 8, 1);
		put_le32(mbr + 446 + 12, (uint32_t)RX_MIN(sectors - 1, UINT64_C(0xffffffff)));
		mbr[510] = 0x55;
		mbr[511] = 0xaa;
		r = rx_dev_write(dev, entries, alen, 2 * SECTOR);
		if (r == 0) {
			encode_header(hdr, 1, sectors - 1, last_usable, disk_guid, 2, crc);
			r = rx_dev_write(dev, hdr, SECTOR, SECTOR);
		}
		if (r == 0)
			r = rx_dev_write(dev, entries, alen, backup_entries * SECTOR);
		if (r == 0) {
			encode_header(hdr, sectors - 1, 1, last_usable, disk_guid, backup_entries, crc);
			r = rx_dev_write(dev, hdr, SECTOR, (sectors - 1) * SECTOR);
		}
		if (r == 0)
			r = rx_dev_write(dev, mbr, SECTOR, 0);
	}
	free(entries);
	return r;
}

/* ---- new GUIDs for an existing table ---- */

/* Is guid zero, the disk GUID or an entry's GUID before entry `upto`? */
static int guid_taken(const struct rx_gpt_regen *g, const uint8_t guid[16], uint32_t upto)
{
	if (rx_is_zero(guid, 16) || !memcmp(guid, g->disk_guid, 16))
		return 1;
	for (uint32_t i = 0; i < upto; i++) {
		const uint8_t *e = g->entries + (size_t)i * g->entry_size;
		if (!rx_is_zero(e, 16) && !memcmp(e + 16, guid, 16))
			return 1;
	}
	return 0;
}

static void fresh_guid(const struct rx_gpt_regen *g, uint8_t out[16], uint32_t upto,
		       void (*fresh)(uint8_t guid[16], void *arg), void *arg)
{
	uint8_t guid[16];
	do
		fresh(guid, arg);
	while (guid_taken(g, guid, upto));
	memcpy(out, guid, 16);
}

/* A header from the sound copy src, placed at my_lba with its entries at entries_lba. */
static void place_header(uint8_t *h, const uint8_t *src, uint64_t my_lba, uint64_t alt_lba, uint64_t entries_lba,
			 const struct rx_gpt_regen *g, uint32_t entries_crc)
{
	uint32_t hsize = get_le32(src + 12);	/* 92..512: rx_gpt_read_copy checked it */
	memcpy(h, src, SECTOR);
	put_le64(h + 24, my_lba);
	put_le64(h + 32, alt_lba);
	memcpy(h + 56, g->disk_guid, 16);
	put_le64(h + 72, entries_lba);
	put_le32(h + 88, entries_crc);
	put_le32(h + 16, 0);
	put_le32(h + 16, (uint32_t)crc32(0, h, hsize));
}

int rx_gpt_regen_prepare(struct rx_ctx *ctx, struct rx_dev *dev, void (*fresh)(uint8_t guid[16], void *arg),
			 void *arg, struct rx_gpt_regen *g)
{
	memset(g, 0, sizeof(*g));
	uint64_t sectors = dev->size / SECTOR;
	if (sectors < 3)
		return rx_fail(ctx, EINVAL, "no GPT (the image is too small to hold one); nothing written");
	uint64_t last = sectors - 1;
	uint8_t ph[SECTOR], bh[SECTOR], *pe = NULL, *be = NULL;
	char pwhy[160], bwhy[160];
	int p = rx_gpt_read_copy(dev, 1, last, ph, &pe, pwhy, sizeof(pwhy));
	if (p < 0)
		return p;
	int b = rx_gpt_read_copy(dev, last, last, bh, &be, bwhy, sizeof(bwhy));
	if (b < 0) {
		free(pe);
		return b;
	}
	int r = 0;
	const uint8_t *src = p ? ph : bh, *se = p ? pe : be;
	if (!p && !b)
		r = rx_fail(ctx, EINVAL, "no valid GPT (primary: %s; backup at the last sector: %s); nothing written",
			    pwhy, bwhy);
	uint64_t first_usable = 0, last_usable = 0, esectors = 0;
	if (r == 0) {
		g->count = get_le32(src + 80);
		g->entry_size = get_le32(src + 84);
		first_usable = get_le64(src + 40);
		last_usable = get_le64(src + 48);
		esectors = ((uint64_t)g->count * g->entry_size + SECTOR - 1) / SECTOR;
		g->last_lba = last;
		g->primary_entries = p ? get_le64(ph + 72) : 2;
		/* A stale or damaged backup is rewritten where the standard layout puts it. */
		g->backup_entries = b ? get_le64(bh + 72) : last - esectors;
		if (p && get_le64(ph + 32) != last)
			r = rx_fail(ctx, EINVAL, "the primary GPT places its backup at LBA %llu, not at the disk's last "
				    "sector (%llu): the disk was resized; move the backup first (sgdisk -e); nothing "
				    "written", (unsigned long long)get_le64(ph + 32), (unsigned long long)last);
		else if (g->primary_entries < 2 || g->primary_entries + esectors > first_usable)
			r = rx_fail(ctx, RX_ECORRUPT, "the primary GPT entry array (LBA %llu, %llu sectors) would "
				    "overlap the usable sectors from %llu; nothing written",
				    (unsigned long long)g->primary_entries, (unsigned long long)esectors,
				    (unsigned long long)first_usable);
		else if (g->backup_entries <= last_usable || g->backup_entries + esectors > last)
			r = rx_fail(ctx, RX_ECORRUPT, "the backup GPT entry array (LBA %llu, %llu sectors) would "
				    "overlap the usable sectors up to %llu or the backup header; nothing written",
				    (unsigned long long)g->backup_entries, (unsigned long long)esectors,
				    (unsigned long long)last_usable);
	}
	if (r == 0) {
		size_t len = (size_t)g->count * g->entry_size;
		g->entries = rx_xmalloc(len);
		memcpy(g->entries, se, len);
		fresh_guid(g, g->disk_guid, 0, fresh, arg);	/* still zero: only zero is refused */
		for (uint32_t i = 0; i < g->count; i++) {
			uint8_t *e = g->entries + (size_t)i * g->entry_size;
			if (!rx_is_zero(e, 16))
				fresh_guid(g, e + 16, i, fresh, arg);
		}
		uint32_t crc = (uint32_t)crc32(0, g->entries, (uInt)len);
		place_header(g->primary, src, 1, last, g->primary_entries, g, crc);
		place_header(g->backup, src, last, 1, g->backup_entries, g, crc);
	}
	free(pe);
	free(be);
	return r;
}

/*
 * Why this order is crash-safe. Every reader of a GPT (rximg's part.c, the
 * firmware and the Redox loaders, libblkid, sgdisk) trusts the primary copy
 * when its header CRC and its entry array CRC both check, and falls back to
 * the backup only when they do not.
 *  1. The backup (entries, then header) is written and flushed while the
 *     primary is untouched: until the primary changes, a crash leaves the
 *     old primary sound, so the old table is read, whatever state the
 *     backup is in.
 *  2. The primary entries go first: while none that changed has landed, the
 *     old primary still checks and is read; once one has, the old header's
 *     entry CRC no longer checks, and readers take the backup, which step 1
 *     made new and durable.
 *  3. The primary header is one sector; once it lands the primary is new
 *     and sound. A torn header fails its CRC, and the backup is read: new.
 * So the table read is always the old one or the new one, never a mix. A
 * crash may leave one copy stale or damaged (sgdisk -v reports it); running
 * the command again rewrites both from the sound copy.
 */
int rx_gpt_regen_write(struct rx_ctx *ctx, struct rx_dev *dev, const struct rx_gpt_regen *g)
{
	(void)ctx;
	size_t len = (size_t)g->count * g->entry_size;
	int r = rx_dev_write(dev, g->entries, len, g->backup_entries * SECTOR);
	if (r == 0)
		r = rx_dev_write(dev, g->backup, SECTOR, g->last_lba * SECTOR);
	if (r == 0)
		r = rx_dev_flush(dev);
	if (r == 0)
		r = rx_dev_write(dev, g->entries, len, g->primary_entries * SECTOR);
	if (r == 0)
		r = rx_dev_write(dev, g->primary, SECTOR, SECTOR);
	if (r == 0)
		r = rx_dev_flush(dev);
	return r;
}

void rx_gpt_regen_free(struct rx_gpt_regen *g)
{
	free(g->entries);
	g->entries = NULL;
}
