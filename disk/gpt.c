/* The GPT writer (see gpt.h); spec: shared disk-image.md §2.1, §2.2. */
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "fat_int.h"
#include "gpt.h"

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
