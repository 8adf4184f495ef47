/*
 * Writing a GPT: the protective MBR record, the primary header and entry
 * array at LBA 1-33, the backup entry array and header at the end of the disk
 * (512-byte sectors, 128 entries of 128 bytes, as every Redox image has).
 * Reading stays in part.c.
 */
#ifndef RX_GPT_H
#define RX_GPT_H

#include <stdint.h>

#include "dev.h"

#define RX_GPT_SECTOR 512u
#define RX_GPT_ENTRIES 128u
#define RX_GPT_ENTRY_SIZE 128u
/* LBA 0, header, 32 sectors of entries: the first usable LBA, and what the backup takes at the end. */
#define RX_GPT_RESERVED_SECTORS 34u

/* GUIDs here are in on-disk order (the first three fields little-endian). */
struct rx_gpt_part {
	uint8_t type[16];
	uint8_t guid[16];
	uint64_t first_lba, last_lba;	/* inclusive */
	uint64_t attrs;
	char name[128];			/* UTF-8, at most 36 UTF-16 units */
};

/* Well-known partition types, in on-disk order. */
extern const uint8_t rx_gpt_type_bios_boot[16];
extern const uint8_t rx_gpt_type_efi_system[16];
extern const uint8_t rx_gpt_type_linux_data[16];

/* A UUID in text order (RFC 4122 bytes, as printed) to on-disk GUID order, or back: the same swap. */
void rx_guid_swap(const uint8_t in[16], uint8_t out[16]);
/* "c12a7328-f81f-..." (hyphens optional) to on-disk order; nonzero when s is not a GUID. */
int rx_guid_parse(const char *s, uint8_t out[16]);

/*
 * The disk layout the Redox installer writes on a disk of disk_bytes: BIOS
 * boot partition at LBA 34-2047, the EFI system partition at 1 MiB of
 * esp_bytes (whole MiB), RedoxFS from the end of the ESP to the last whole MiB
 * before the backup GPT. Fills parts[0..2] (types, ranges and names; GUIDs
 * are left zero). -ENOSPC with a message when the disk is too small to give
 * RedoxFS min_fs_bytes.
 */
int rx_gpt_redox_layout(struct rx_ctx *ctx, uint64_t disk_bytes, uint64_t esp_bytes, uint64_t min_fs_bytes,
			struct rx_gpt_part parts[3]);

/*
 * Write the whole table on dev (its size decides where the backup goes):
 * parts[0..n-1] become entries 1..n, the rest are zero. In LBA 0 only the
 * partition records and the signature (bytes 446-511) are written; the boot
 * code before them is kept. Ranges must lie in the usable area and not
 * overlap; names must fit. Nothing is written when a check fails.
 */
int rx_gpt_write(struct rx_ctx *ctx, struct rx_dev *dev, const uint8_t disk_guid[16],
		 const struct rx_gpt_part *parts, unsigned n);

/*
 * New GUIDs for a disk's GPT: the disk GUID and the unique GUID of every
 * partition entry in use; types, ranges, attributes, names and every other
 * header field are kept. Prepared in memory first (nothing written), then
 * written to both copies in an order that leaves the old or the new table
 * readable after a crash at any instant (see gpt.c).
 */
struct rx_gpt_regen {
	uint64_t last_lba;			/* the backup header's sector */
	uint64_t primary_entries, backup_entries;	/* where each copy's entry array goes */
	uint32_t count, entry_size;		/* of the entry array */
	uint8_t *entries;			/* the new array, count * entry_size bytes */
	uint8_t primary[RX_GPT_SECTOR], backup[RX_GPT_SECTOR];	/* the new headers */
	uint8_t disk_guid[16];			/* the new disk GUID, on-disk order */
};

/*
 * Read the table of the whole disk dev from its sound copy (the primary, or
 * the backup when the primary is damaged; so a run interrupted by a crash can
 * be repeated) and fill g with new GUIDs from fresh() (on-disk order; a GUID
 * it gives twice, or zero, is asked for again). Refuses, writing nothing, a
 * disk without a valid GPT, or one whose table does not end at the disk's
 * last sector (a resized disk) or leaves no room for both entry arrays.
 */
int rx_gpt_regen_prepare(struct rx_ctx *ctx, struct rx_dev *dev, void (*fresh)(uint8_t guid[16], void *arg),
			 void *arg, struct rx_gpt_regen *g);
/* Write what rx_gpt_regen_prepare() made: the backup copy, a flush, the primary copy, a flush. */
int rx_gpt_regen_write(struct rx_ctx *ctx, struct rx_dev *dev, const struct rx_gpt_regen *g);
void rx_gpt_regen_free(struct rx_gpt_regen *g);

#endif
