/*
 * GPT and MBR, read by rximg itself (the same rules libblkid applies, so the
 * partitions and their numbers are those every Linux tool shows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <zlib.h>

#include "part.h"

#define SECTOR 512u

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* A GUID as text: the first three fields are stored little-endian. */
void rx_guid_format(const uint8_t *g, char out[37])
{
	snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", get_le32(g), get_le16(g + 4),
		 get_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* A GPT partition name (UTF-16LE, up to 36 units) as UTF-8. */
static void utf16le_name(const uint8_t *p, size_t units, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = get_le16(p + 2 * i);
		if (c == 0)
			break;
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < units) {
			uint32_t lo = get_le16(p + 2 * i + 2);
			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			}
		}
		uint8_t b[4];
		size_t n;
		if (c < 0x80) {
			b[0] = (uint8_t)c;
			n = 1;
		} else if (c < 0x800) {
			b[0] = (uint8_t)(0xc0 | (c >> 6));
			b[1] = (uint8_t)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			b[0] = (uint8_t)(0xe0 | (c >> 12));
			b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			b[2] = (uint8_t)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			b[0] = (uint8_t)(0xf0 | (c >> 18));
			b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
			b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			b[3] = (uint8_t)(0x80 | (c & 0x3f));
			n = 4;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, b, n);
		o += n;
	}
	out[o] = 0;
}

static struct rx_part *add_part(struct rx_parttable *t, int *cap)
{
	if (t->count == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		t->parts = rx_xrealloc(t->parts, (size_t)*cap * sizeof(*t->parts));
	}
	struct rx_part *p = &t->parts[t->count++];
	memset(p, 0, sizeof(*p));
	return p;
}

static int mbr_signed(const uint8_t *s)
{
	return s[510] == 0x55 && s[511] == 0xaa;
}

/* A fuzzing build (tests/fuzz) lets mutations past the CRCs to the checks behind them. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CRC_MATCHES(computed, stored) ((void)(computed), 1)
#else
#define CRC_MATCHES(computed, stored) ((computed) == (stored))
#endif

/* See part.h; the checks are libblkid's. */
int rx_gpt_read_copy(struct rx_dev *dev, uint64_t lba, uint64_t last_lba, uint8_t *hdr,
		      uint8_t **entries, char *why, size_t cap)
{
	*entries = NULL;
	if (lba >= dev->size / SECTOR) {
		snprintf(why, cap, "missing (the image ends before LBA %llu)", (unsigned long long)lba);
		return 0;
	}
	int r = rx_dev_read(dev, hdr, SECTOR, lba * SECTOR);
	if (r)
		return r;
	if (memcmp(hdr, "EFI PART", 8) != 0) {
		snprintf(why, cap, "missing (no \"EFI PART\" at LBA %llu)", (unsigned long long)lba);
		return 0;
	}
	snprintf(why, cap, "header at LBA %llu is inconsistent", (unsigned long long)lba);
	uint32_t hsize = get_le32(hdr + 12);
	if (hsize < 92 || hsize > SECTOR)
		return 0;
	uint8_t copy[SECTOR];
	memcpy(copy, hdr, hsize);
	memset(copy + 16, 0, 4);
	if (!CRC_MATCHES(crc32(0, copy, hsize), get_le32(hdr + 16))) {
		snprintf(why, cap, "header CRC mismatch at LBA %llu", (unsigned long long)lba);
		return 0;
	}
	uint64_t my_lba = get_le64(hdr + 24), first = get_le64(hdr + 40), last = get_le64(hdr + 48);
	if (my_lba != lba || first > last || last > last_lba)
		return 0;
	uint64_t at = get_le64(hdr + 72);
	uint32_t n = get_le32(hdr + 80), esize = get_le32(hdr + 84);
	if (n == 0 || esize < 128 || esize % 8 || (uint64_t)n * esize > (1u << 24) ||
	    at > last_lba || (uint64_t)n * esize > (last_lba - at + 1) * SECTOR)
		return 0;
	size_t len = (size_t)n * esize;
	if (at * SECTOR + len > dev->size) {
		snprintf(why, cap, "entries missing (the image ends before LBA %llu)", (unsigned long long)at);
		return 0;
	}
	uint8_t *e = rx_xmalloc(len);
	if ((r = rx_dev_read(dev, e, len, at * SECTOR)) != 0) {
		free(e);
		return r;
	}
	if (!CRC_MATCHES(crc32(0, e, (uInt)len), get_le32(hdr + 88))) {
		free(e);
		snprintf(why, cap, "entry array CRC mismatch at LBA %llu", (unsigned long long)at);
		return 0;
	}
	*entries = e;
	why[0] = 0;
	return 1;
}

/*
 * The disk size a GPT header at LBA 1 describes (its backup header is the
 * last sector), or 0. A truncated copy of a disk is probed at its full size,
 * so its partitions are still listed (and cut to what the image holds).
 * 0, or -errno when the sector cannot be read.
 */
static int gpt_disk_size(struct rx_dev *dev, uint64_t *size)
{
	uint8_t h[SECTOR];
	*size = 0;
	if (dev->size < 2 * SECTOR)
		return 0;
	int r = rx_dev_read(dev, h, sizeof(h), SECTOR);
	if (r)
		return r;
	if (memcmp(h, "EFI PART", 8) != 0)
		return 0;
	uint64_t backup = get_le64(h + 32);
	if (backup >= (UINT64_C(1) << 53) / SECTOR)
		return 0;	/* nonsense: the header's own checks will refuse it */
	*size = (backup + 1) * SECTOR;
	return 0;
}

/* 1 found (out filled), 0 no GPT, <0 error. */
static int read_gpt(struct rx_dev *dev, const uint8_t *mbr, struct rx_parttable *out)
{
	int protective = 0;
	for (int i = 0; i < 4; i++)
		protective |= mbr[446 + 16 * i + 4] == 0xee;
	uint64_t sectors = dev->size / SECTOR;
	if (!mbr_signed(mbr) || !protective || sectors < 3)
		return 0;
	uint8_t hdr[SECTOR], other[SECTOR], *e, *oe = NULL;
	char *pwhy = out->gpt_primary_problem, *bwhy = out->gpt_backup_problem;
	size_t pcap = sizeof(out->gpt_primary_problem), bcap = sizeof(out->gpt_backup_problem);
	/* A truncated copy of a disk is read at the size its table states; parts are cut later. */
	uint64_t stated;
	int r = gpt_disk_size(dev, &stated);
	if (r)
		return r;
	uint64_t last_lba = RX_MAX(sectors, stated / SECTOR) - 1;
	r = rx_gpt_read_copy(dev, 1, last_lba, hdr, &e, pwhy, pcap);
	if (r == 1) {
		/* The backup is judged too (info warns about it; writers refuse a disk with one damaged). */
		uint64_t alt = get_le64(hdr + 32);
		int b = alt > 1 && alt <= last_lba ? rx_gpt_read_copy(dev, alt, last_lba, other, &oe, bwhy, bcap) : 0;
		if (b < 0) {
			/* An unreadable backup does not hide the table the primary holds. */
			snprintf(bwhy, bcap, "unreadable: %.160s", dev->ctx->msg);
			rx_clear(dev->ctx);
		} else if (alt <= 1 || alt > last_lba)
			snprintf(bwhy, bcap, "misplaced: the primary header names LBA %llu for it", (unsigned long long)alt);
		else if (b == 1 && alt != last_lba)
			snprintf(bwhy, bcap, "header at LBA %llu, not at the end of the disk (LBA %llu)",
				 (unsigned long long)alt, (unsigned long long)last_lba);
		else if (b == 1 && get_le32(other + 88) != get_le32(hdr + 88))
			snprintf(bwhy, bcap, "entries differ from the primary's");
		free(oe);
	} else if (r == 0) {
		/* A damaged primary: the backup at the end of the disk */
		r = rx_gpt_read_copy(dev, last_lba, last_lba, hdr, &e, bwhy, bcap);
	}
	if (r <= 0)
		return r;
	char guid[37];
	copy_str(out->type, sizeof(out->type), "gpt");
	rx_guid_format(hdr + 56, guid);
	copy_str(out->id, sizeof(out->id), guid);
	uint64_t first = get_le64(hdr + 40), last = get_le64(hdr + 48);
	uint32_t n = get_le32(hdr + 80), esize = get_le32(hdr + 84);
	int cap = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *ent = e + (size_t)i * esize;
		uint64_t s = get_le64(ent + 32), l = get_le64(ent + 40);
		/* Unused entries and those outside the usable area still take their number. */
		if (rx_is_zero(ent, 16) || s < first || l > last || l < s)
			continue;
		struct rx_part *p = add_part(out, &cap);
		p->partno = (int)i + 1;
		p->start = s * SECTOR;
		p->size = (l - s + 1) * SECTOR;
		rx_guid_format(ent, p->type);
		rx_guid_format(ent + 16, p->uuid);
		utf16le_name(ent + 56, 36, p->name, sizeof(p->name));
	}
	free(e);
	return 1;
}

static int is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

static void add_mbr_part(struct rx_parttable *out, int *cap, int partno, uint64_t start, uint64_t size,
			 uint8_t type, uint32_t disk_id)
{
	struct rx_part *p = add_part(out, cap);
	p->partno = partno;
	p->start = start * SECTOR;
	p->size = size * SECTOR;
	snprintf(p->type, sizeof(p->type), "0x%02x", type);
	if (disk_id)
		snprintf(p->uuid, sizeof(p->uuid), "%08x-%02x", disk_id, partno);
}

/* The chain of extended boot records: logical partitions 5, 6, ... */
static int read_logical(struct rx_dev *dev, struct rx_parttable *out, int *cap, uint64_t ext_start,
			uint64_t ext_size, uint32_t disk_id)
{
	uint8_t s[SECTOR];
	uint64_t cur = ext_start;
	int partno = 5;
	for (int hops = 0; hops < 100; hops++) {
		if (cur >= dev->size / SECTOR || rx_dev_read(dev, s, SECTOR, cur * SECTOR) != 0 || !mbr_signed(s)) {
			rx_clear(dev->ctx);
			break;	/* a broken chain ends the list, as a damaged one does in libblkid */
		}
		uint64_t next = 0;
		for (int i = 0; i < 4; i++) {
			const uint8_t *pe = s + 446 + 16 * i;
			uint64_t start = get_le32(pe + 8), size = get_le32(pe + 12);
			if (!size || is_extended(pe[4]))
				continue;
			uint64_t abs = cur + start;
			/* A logical partition must lie inside the extended one. */
			if (abs < ext_start || abs + size > ext_start + ext_size)
				continue;
			add_mbr_part(out, cap, partno++, abs, size, pe[4], disk_id);
		}
		for (int i = 0; i < 4; i++) {
			const uint8_t *pe = s + 446 + 16 * i;
			if (get_le32(pe + 12) && is_extended(pe[4])) {
				next = ext_start + get_le32(pe + 8);
				break;
			}
		}
		if (!next || next == cur)
			break;
		cur = next;
	}
	return 0;
}

static int read_mbr(struct rx_dev *dev, const uint8_t *mbr, struct rx_parttable *out)
{
	if (!mbr_signed(mbr))
		return 0;
	for (int i = 0; i < 4; i++) {
		uint8_t boot = mbr[446 + 16 * i];
		if (boot != 0 && boot != 0x80)
			return 0;	/* not a partition table: a boot sector of some other kind */
		if (mbr[446 + 16 * i + 4] == 0xee)
			return 0;	/* protective: a GPT without a valid header is no table at all */
	}
	/* A FAT boot sector (a floppy-style filesystem) also ends in 55 aa. */
	if ((mbr[0] == 0xeb || mbr[0] == 0xe9) && (!memcmp(mbr + 54, "FAT", 3) || !memcmp(mbr + 82, "FAT32", 5)))
		return 0;
	uint32_t disk_id = get_le32(mbr + 440);
	copy_str(out->type, sizeof(out->type), "dos");
	if (disk_id)
		snprintf(out->id, sizeof(out->id), "%08x", disk_id);
	int cap = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *pe = mbr + 446 + 16 * i;
		uint64_t start = get_le32(pe + 8), size = get_le32(pe + 12);
		if (size)
			add_mbr_part(out, &cap, i + 1, start, size, pe[4], disk_id);
	}
	for (int i = 0; i < 4; i++) {
		const uint8_t *pe = mbr + 446 + 16 * i;
		uint64_t size = get_le32(pe + 12);
		if (size && is_extended(pe[4]))
			return read_logical(dev, out, &cap, get_le32(pe + 8), size, disk_id);
	}
	return 1;
}

int rx_part_probe(struct rx_dev *dev, struct rx_parttable *out)
{
	memset(out, 0, sizeof(*out));
	uint8_t mbr[SECTOR];
	if (dev->size < SECTOR)
		return 0;	/* no table: not an error */
	int r = rx_dev_read(dev, mbr, SECTOR, 0);
	if (r == 0 && (r = read_gpt(dev, mbr, out)) == 0)
		r = read_mbr(dev, mbr, out);
	if (r < 0) {
		rx_part_free(out);
		return r;
	}
	for (int i = 0; i < out->count; i++) {
		struct rx_part *p = &out->parts[i];
		/* A table may describe more than the image holds (a truncated copy). */
		if (p->start > dev->size)
			p->size = 0;
		else if (p->size > dev->size - p->start)
			p->size = dev->size - p->start;
	}
	return 0;
}

void rx_part_free(struct rx_parttable *t)
{
	free(t->parts);
	t->parts = NULL;
	t->count = 0;
}

const char *rx_part_type_name(const char *type)
{
	static const struct {
		const char *guid, *name;
	} known[] = {
		{ "21686148-6449-6e6f-744e-656564454649", "BIOS boot" },
		{ "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "EFI system" },
		{ "0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem" },
		{ "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data" },
		{ "0x83", "Linux" },
		{ "0xef", "EFI system" },
		{ "0xee", "GPT protective" },
	};
	for (size_t i = 0; i < RX_ARRAY_SIZE(known); i++)
		if (strcasecmp(type, known[i].guid) == 0)
			return known[i].name;
	return NULL;
}

#if HAVE_BLKID
#include <blkid.h>

int rx_part_fs_name(const struct rx_dev *dev, const struct rx_part *p, char *out, size_t cap)
{
	out[0] = 0;
	/* libblkid reads a descriptor: only plain files and disks have one (not qcow2). */
	if (dev->fd < 0 || p->size == 0 || p->start > (uint64_t)INT64_MAX || p->size > (uint64_t)INT64_MAX)
		return 0;
	blkid_probe pr = blkid_new_probe();
	const char *type = NULL;
	if (pr && blkid_probe_set_device(pr, dev->fd, (blkid_loff_t)p->start, (blkid_loff_t)p->size) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
		if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0)
			copy_str(out, cap, type);
	}
	if (pr)
		blkid_free_probe(pr);
	return out[0] != 0;
}
#else
int rx_part_fs_name(const struct rx_dev *dev, const struct rx_part *p, char *out, size_t cap)
{
	(void)dev;
	(void)p;
	if (cap)
		out[0] = 0;
	return 0;	/* without libblkid, other filesystems go unnamed */
}
#endif
