/*
 * The boot sector (BIOS parameter block) and FSInfo: strict decoding, and
 * mkfs with the layout rules of the installer's formatter (fatfs 0.3): cluster
 * size from the volume size, FAT32 then FAT16 then FAT12 tried until the
 * cluster count agrees with the type, 2 FATs, 512 root entries, 1 or 8
 * reserved sectors, media 0xF8, 32 sectors/track and 64 heads, no hidden
 * sectors, OEM name "MSWIN4.1".
 */
#include "fat_int.h"

#include <stdlib.h>

/* The cluster count alone decides the type (FAT specification). */
static int type_of(uint32_t clusters)
{
	return clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
}

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void copy_label(char out[12], const uint8_t *p)
{
	memcpy(out, p, 11);
	out[11] = 0;
	for (int i = 10; i >= 0 && (out[i] == ' ' || out[i] == 0); i--)
		out[i] = 0;
	for (int i = 0; out[i]; i++)
		if ((uint8_t)out[i] < 0x20 || (uint8_t)out[i] > 0x7E)
			out[i] = '_';
}

int fat_bpb_parse(struct rx_ctx *ctx, const uint8_t *s, size_t len, uint64_t dev_size, struct fat_bpb *b)
{
	memset(b, 0, sizeof(*b));
	if (len < 512)
		return rx_fail(ctx, EINVAL, "not a FAT file system: smaller than one sector");
	if (s[510] != 0x55 || s[511] != 0xAA)
		return rx_fail(ctx, EINVAL, "not a FAT file system: no 55 AA boot sector signature");
	b->bps = get_le16(s + 11);
	b->spc = s[13];
	b->reserved = get_le16(s + 14);
	b->nfats = s[16];
	b->root_entries = get_le16(s + 17);
	uint32_t tot16 = get_le16(s + 19), tot32 = get_le32(s + 32);
	b->media = s[21];
	uint32_t fatsz16 = get_le16(s + 22), fatsz32 = get_le32(s + 36);
	if (b->bps < 512 || b->bps > 4096 || !is_pow2(b->bps))
		return rx_fail(ctx, EINVAL, "FAT boot sector: bytes per sector %u is not 512, 1024, 2048 or 4096", b->bps);
	if (!is_pow2(b->spc))
		return rx_fail(ctx, EINVAL, "FAT boot sector: sectors per cluster %u is not a power of two from 1 to 128",
			       b->spc);
	b->cluster_size = b->bps * b->spc;
	if (b->cluster_size > 65536)
		return rx_fail(ctx, EINVAL, "FAT boot sector: clusters of %u bytes (at most 64 KiB)", b->cluster_size);
	if (b->reserved == 0)
		return rx_fail(ctx, EINVAL, "FAT boot sector: no reserved sectors");
	if (b->nfats < 1 || b->nfats > 2)
		return rx_fail(ctx, EINVAL, "FAT boot sector: %u FAT copies (1 or 2 supported)", b->nfats);
	if (b->media != 0xF0 && b->media < 0xF8)
		return rx_fail(ctx, EINVAL, "FAT boot sector: media byte 0x%02X is not a FAT media type", b->media);
	if (tot16 && tot32 && tot16 != tot32)
		return rx_fail(ctx, EINVAL, "FAT boot sector: two different sector counts (%u and %u)", tot16, tot32);
	b->total_sectors = tot16 ? tot16 : tot32;
	if (b->total_sectors == 0)
		return rx_fail(ctx, EINVAL, "FAT boot sector: zero sectors");
	int fat32_layout = fatsz16 == 0;
	b->fat_sectors = fat32_layout ? fatsz32 : fatsz16;
	if (b->fat_sectors == 0)
		return rx_fail(ctx, EINVAL, "FAT boot sector: zero sectors per FAT");
	if (fat32_layout && b->root_entries != 0)
		return rx_fail(ctx, EINVAL, "FAT boot sector: FAT32 layout with %u fixed root entries", b->root_entries);
	if (!fat32_layout && b->root_entries == 0)
		return rx_fail(ctx, EINVAL, "FAT boot sector: FAT12/16 layout without root directory entries");
	if ((b->root_entries * FAT_DIRENT) % b->bps)
		return rx_fail(ctx, EINVAL, "FAT boot sector: %u root entries do not fill whole sectors", b->root_entries);
	b->root_sectors = b->root_entries * FAT_DIRENT / b->bps;
	uint64_t first_data = (uint64_t)b->reserved + (uint64_t)b->nfats * b->fat_sectors + b->root_sectors;
	if (first_data >= b->total_sectors)
		return rx_fail(ctx, EINVAL, "FAT boot sector: no room for data (metadata ends at sector %llu of %u)",
			       (unsigned long long)first_data, b->total_sectors);
	b->first_data_sector = (uint32_t)first_data;
	b->clusters = (b->total_sectors - b->first_data_sector) / b->spc;
	b->type = type_of(b->clusters);
	if (b->clusters == 0)
		return rx_fail(ctx, EINVAL, "FAT boot sector: no data clusters");
	if (fat32_layout != (b->type == 32))
		return rx_fail(ctx, EINVAL, "FAT boot sector: %s layout but %u clusters make it FAT%d",
			       fat32_layout ? "FAT32" : "FAT12/16", b->clusters, b->type);
	if (b->type == 32 && b->clusters > 0x0FFFFFF5)
		return rx_fail(ctx, EINVAL, "FAT boot sector: %u clusters exceed FAT32's limit", b->clusters);
	uint64_t fat_bytes = (uint64_t)b->fat_sectors * b->bps;
	uint64_t needed = (((uint64_t)b->clusters + 2) * (unsigned)b->type + 7) / 8;
	if (fat_bytes < needed)
		return rx_fail(ctx, EINVAL, "FAT boot sector: a FAT of %llu bytes cannot hold %u clusters",
			       (unsigned long long)fat_bytes, b->clusters);
	if (fat_bytes > FAT_MAX_FAT_BYTES)
		return rx_fail(ctx, EFBIG, "FAT boot sector: a FAT of %llu bytes is larger than supported",
			       (unsigned long long)fat_bytes);
	b->mirrored = 1;
	const uint8_t *ext = s + 36;
	if (b->type == 32) {
		uint16_t flags = get_le16(s + 40);
		if (get_le16(s + 42) != 0)
			return rx_fail(ctx, EINVAL, "FAT boot sector: FAT32 version %u.%u is not 0.0", s[43], s[42]);
		b->mirrored = !(flags & 0x80);
		b->active_fat = b->mirrored ? 0 : (flags & 0x0F);
		if (b->active_fat >= b->nfats)
			return rx_fail(ctx, EINVAL, "FAT boot sector: active FAT %u of %u", b->active_fat, b->nfats);
		b->root_cluster = get_le32(s + 44);
		if (b->root_cluster < 2 || b->root_cluster - 2 >= b->clusters)
			return rx_fail(ctx, EINVAL, "FAT boot sector: root directory cluster %u is out of range",
				       b->root_cluster);
		b->fsinfo_sector = get_le16(s + 48);
		if (b->fsinfo_sector >= b->reserved)
			b->fsinfo_sector = 0;	/* none (0xFFFF) or bogus: not used */
		ext = s + 64;
	}
	if (ext[2] == 0x29) {
		b->volume_id = get_le32(ext + 3);
		copy_label(b->label, ext + 7);
	}
	uint64_t bytes = (uint64_t)b->total_sectors * b->bps;
	if (bytes > dev_size)
		return rx_fail(ctx, EIO, "truncated: the FAT file system needs %llu bytes but only %llu are there",
			       (unsigned long long)bytes, (unsigned long long)dev_size);
	return 0;
}

int fat_fsinfo_write(struct fat_fs *fs, uint32_t free_count, uint32_t next)
{
	if (fs->b.type != 32 || !fs->fsinfo_ok)
		return 0;
	if (free_count == fs->fsinfo_free && next == fs->fsinfo_next)
		return 0;
	uint8_t v[8];
	put_le32(v, free_count);
	put_le32(v + 4, next);
	/* Both fields in one 8-byte write: a torn update cannot split them across sectors. */
	int r = rx_dev_write(fs->dev, v, 8, (uint64_t)fs->b.fsinfo_sector * fs->b.bps + 488);
	if (!r)
		r = rx_dev_flush(fs->dev);
	if (!r) {
		fs->fsinfo_free = free_count;
		fs->fsinfo_next = next;
	}
	return r;
}

/* ---- mkfs ---- */

struct layout {
	int type;
	uint32_t spc, reserved, fat_sectors, root_sectors, clusters;
};

/* Bytes per cluster from the size, for the type the size suggests (the formatter's table). */
static uint32_t cluster_bytes(uint64_t total, uint32_t bps, int forced)
{
	const uint64_t MiB = 1 << 20, GiB = MiB << 10;
	int t = forced ? forced : total < 4 * MiB ? 12 : total < 512 * MiB ? 16 : 32;
	uint64_t p2 = 1;
	while (p2 < total)
		p2 <<= 1;
	uint64_t c;
	if (t == 12)
		c = p2 / MiB * 512;
	else if (t == 16)
		c = total <= 16 * MiB ? 1024 : total <= 128 * MiB ? 2048 : p2 / (64 * MiB) * 1024;
	else
		c = total <= 260 * MiB ? 512 : total <= 8 * GiB ? 4096 : p2 / (2 * GiB) * 1024;
	if (c < bps)
		c = bps;
	if (c > 32768)
		c = 32768;
	return (uint32_t)c;
}

static int try_layout(uint32_t total, uint32_t bps, uint32_t spc, int type, uint32_t root_entries, struct layout *l)
{
	l->type = type;
	l->spc = spc;
	l->reserved = type == 32 ? 8 : 1;
	l->root_sectors = type == 32 ? 0 : (root_entries * FAT_DIRENT + bps - 1) / bps;
	if (total <= l->reserved + l->root_sectors + 8)
		return -1;
	/* Smallest FAT holding (clusters + 2) entries, where the FATs themselves take space from the data. */
	uint64_t t0 = total - l->reserved - l->root_sectors;
	uint64_t t1 = t0 + 2ull * spc;
	uint64_t t2 = (uint64_t)spc * bps * 8 / (unsigned)type + 2;
	l->fat_sectors = (uint32_t)((t1 + t2 - 1) / t2);
	uint64_t meta = (uint64_t)l->reserved + l->root_sectors + 2ull * l->fat_sectors;
	if (meta >= total)
		return -1;
	l->clusters = (uint32_t)((total - meta) / spc);
	if (type_of(l->clusters) != type || (type == 32 && l->clusters > 0x0FFFFFF5))
		return -1;
	if (type != 32 && l->fat_sectors > 0xFFFF)
		return -1;
	return 0;
}

static int write_zeros(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];
	while (len) {
		size_t n = (size_t)RX_MIN(len, sizeof(zero));
		int r = rx_dev_write(dev, zero, n, off);
		if (r)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int label_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 11)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7E || strchr("\"*+,./:;<=>?[\\]|", c) || (c >= 'a' && c <= 'z'))
			return 0;
	}
	return 1;
}

int fat_mkfs(struct rx_ctx *ctx, struct rx_dev *dev, const struct fat_mkfs_opts *o)
{
	uint32_t bps = o->bytes_per_sector ? o->bytes_per_sector : 512;
	if (bps < 512 || bps > 4096 || !is_pow2(bps))
		return rx_fail(ctx, EINVAL, "bytes per sector %u is not 512, 1024, 2048 or 4096", bps);
	if (o->type && o->type != 12 && o->type != 16 && o->type != 32)
		return rx_fail(ctx, EINVAL, "FAT type %d is not 12, 16 or 32", o->type);
	if (o->label && !label_ok(o->label))
		return rx_fail(ctx, EINVAL, "volume label \"%s\": 1 to 11 characters, upper case, no \"*+,./:;<=>?[\\]|",
			       o->label);
	uint64_t total64 = dev->size / bps;
	if (total64 > 0xFFFFFFFFu)
		return rx_fail(ctx, EFBIG, "%llu sectors are more than FAT can address", (unsigned long long)total64);
	uint32_t total = (uint32_t)total64;
	uint32_t spc = cluster_bytes(total64 * bps, bps, o->type) / bps;
	struct layout l = { 0 };
	static const int order[] = { 32, 16, 12 };
	int found = 0;
	for (size_t i = 0; i < RX_ARRAY_SIZE(order) && !found; i++)
		if ((!o->type || o->type == order[i]) && try_layout(total, bps, spc, order[i], 512, &l) == 0)
			found = 1;
	if (!found)
		return rx_fail(ctx, EINVAL, "no FAT%s layout fits %llu bytes with %u-byte clusters",
			       o->type == 12 ? "12" : o->type == 16 ? "16" : o->type == 32 ? "32" : "12/16/32",
			       (unsigned long long)dev->size, spc * bps);
	int f32 = l.type == 32;

	uint8_t *s = rx_xcalloc(1, bps);
	s[0] = 0xEB;
	s[1] = f32 ? 0x58 : 0x3C;
	s[2] = 0x90;
	memcpy(s + 3, "MSWIN4.1", 8);
	put_le16(s + 11, (uint16_t)bps);
	s[13] = (uint8_t)spc;
	put_le16(s + 14, (uint16_t)l.reserved);
	s[16] = 2;
	put_le16(s + 17, f32 ? 0 : 512);
	put_le16(s + 19, total < 0x10000 ? (uint16_t)total : 0);
	s[21] = 0xF8;
	put_le16(s + 22, f32 ? 0 : (uint16_t)l.fat_sectors);
	put_le16(s + 24, 32);
	put_le16(s + 26, 64);
	put_le32(s + 28, 0);
	put_le32(s + 32, total < 0x10000 ? 0 : total);
	uint8_t *ext = s + 36;
	if (f32) {
		put_le32(s + 36, l.fat_sectors);
		put_le32(s + 44, 2);	/* root directory cluster */
		put_le16(s + 48, 1);	/* FSInfo sector */
		put_le16(s + 50, 6);	/* backup boot sector */
		ext = s + 64;
	}
	ext[0] = l.type == 12 ? 0x00 : 0x80;
	ext[2] = 0x29;
	put_le32(ext + 3, o->volume_id);
	memset(ext + 7, ' ', 11);
	memcpy(ext + 7, o->label ? o->label : "NO NAME", strlen(o->label ? o->label : "NO NAME"));
	memcpy(ext + 18, l.type == 12 ? "FAT12   " : l.type == 16 ? "FAT16   " : "FAT32   ", 8);
	/* Not bootable: the jump lands on "int 18h" (no boot device), then halts. */
	static const uint8_t stub[] = { 0xCD, 0x18, 0xF4, 0xEB, 0xFD };
	memcpy(s + 2 + s[1], stub, sizeof(stub));
	s[510] = 0x55;
	s[511] = 0xAA;

	uint64_t fat_off = (uint64_t)l.reserved * bps, fat_len = (uint64_t)l.fat_sectors * bps;
	uint64_t root_off = fat_off + 2 * fat_len;
	uint64_t data_off = root_off + (uint64_t)l.root_sectors * bps;
	int r = write_zeros(dev, 0, data_off + (f32 ? (uint64_t)spc * bps : 0));
	if (!r)
		r = rx_dev_write(dev, s, bps, 0);
	if (!r && f32) {
		r = rx_dev_write(dev, s, bps, 6ull * bps);
		uint8_t *fsi = rx_xcalloc(1, bps);
		put_le32(fsi, 0x41615252);
		put_le32(fsi + 484, 0x61417272);
		put_le32(fsi + 488, FAT_FSINFO_UNKNOWN);
		put_le32(fsi + 492, FAT_FSINFO_UNKNOWN);
		put_le32(fsi + 508, 0xAA550000);
		if (!r)
			r = rx_dev_write(dev, fsi, bps, bps);
		free(fsi);
	}
	/*
	 * FAT: entry 0 holds the media byte, entry 1 end-of-chain (with the clean
	 * bits set), the FAT32 root directory its one cluster, and the entries past
	 * the last cluster up to the end of the FAT are end-of-chain so that
	 * nothing ever allocates them (as the installer's formatter does).
	 */
	uint8_t *fat = rx_xcalloc(1, (size_t)fat_len);
	struct fat_fs tmp = { .ctx = ctx, .fat = fat, .fat_bytes = (size_t)fat_len };
	tmp.b.type = l.type;
	tmp.b.bps = bps;
	tmp.dirty = rx_xcalloc(1, l.fat_sectors);
	uint32_t entries = (uint32_t)(fat_len * 8 / (unsigned)l.type);
	fat_set(&tmp, 0, (l.type == 12 ? 0xF00u : l.type == 16 ? 0xFF00u : 0x0FFFFF00u) | 0xF8);
	fat_set(&tmp, 1, fat_eoc(&tmp));
	if (f32) {
		put_le32(fat + 4, 0xFFFFFFFF);
		fat_set(&tmp, 2, fat_eoc(&tmp));
	}
	for (uint32_t c = l.clusters + 2; c < entries; c++)
		fat_set(&tmp, c, fat_eoc(&tmp));
	for (uint32_t i = 0; i < 2 && !r; i++)
		r = rx_dev_write(dev, fat, (size_t)fat_len, fat_off + i * fat_len);
	free(tmp.dirty);
	free(fat);

	if (!r && o->label) {
		uint8_t e[FAT_DIRENT] = { 0 };
		memset(e, ' ', 11);
		memcpy(e, o->label, strlen(o->label));
		e[11] = FAT_ATTR_VOLUME;
		uint16_t date, time;
		uint8_t tenth;
		fat_time_encode(o->time, &date, &time, &tenth);
		put_le16(e + 22, time);
		put_le16(e + 24, date);
		r = rx_dev_write(dev, e, sizeof(e), f32 ? data_off : root_off);
	}
	free(s);
	if (!r)
		r = rx_dev_flush(dev);
	return r;
}
