/* Partition tables (GPT, MBR) and locating RedoxFS on a disk. */
#ifndef RX_PART_H
#define RX_PART_H

#include <stdint.h>

#include "dev.h"

struct rx_part {
	int partno;		/* 1-based, as in "p3" */
	uint64_t start, size;	/* bytes */
	char type[64];		/* type GUID or MBR type */
	char name[128];
	char uuid[64];
};

struct rx_parttable {
	char type[16];		/* "gpt", "dos", or "" when there is none */
	char id[64];		/* disk GUID / MBR id */
	int count;
	struct rx_part *parts;
	/* GPT: what is wrong with each copy, "" when it is sound (the table was read from a sound one). */
	char gpt_primary_problem[192], gpt_backup_problem[192];
};

int rx_part_probe(struct rx_dev *dev, struct rx_parttable *out);
/*
 * One GPT copy: the header at lba (a 512-byte sector into hdr) and its entry
 * array (malloc'd into *entries when valid), checked as libblkid checks it:
 * signature, header CRC, its own LBA, the usable range inside a disk whose
 * last sector is last_lba, and the entries' CRC. 1 valid, 0 not (why says
 * what is wrong), <0 a read error.
 */
int rx_gpt_read_copy(struct rx_dev *dev, uint64_t lba, uint64_t last_lba, uint8_t *hdr, uint8_t **entries,
		     char *why, size_t cap);
void rx_part_free(struct rx_parttable *t);
/*
 * The filesystem libblkid recognises inside partition p of dev ("vfat",
 * "ext4"...): 1 with out filled, 0 when unknown or built without libblkid.
 */
int rx_part_fs_name(const struct rx_dev *dev, const struct rx_part *p, char *out, size_t cap);
/* A GUID stored on disk (first three fields little-endian) as lower-case text. */
void rx_guid_format(const uint8_t *g, char out[37]);
/* Human name of a well-known partition type GUID, or NULL. */
const char *rx_part_type_name(const char *type);

#endif
