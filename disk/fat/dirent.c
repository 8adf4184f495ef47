/*
 * Directory entries: 32-byte short (8.3) entries, long-name entries in front
 * of them (13 UTF-16 units each, last part first, tied to the short entry by
 * a checksum), and whole directories held in memory while they are read or
 * changed (at most 65536 entries, as the specification allows).
 */
#include "fat_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LFN_MAX_PARTS 20	/* 20 x 13 units hold the 255-unit maximum */
#define SFN_VALID_PUNCT "!#$%&'()-@^_`{}~"

/* ---- times (stored as UTC) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t fat_time_decode(uint16_t date, uint16_t time)
{
	unsigned day = date & 31, month = (date >> 5) & 15, year = 1980 + (date >> 9);
	if (day == 0 || month == 0 || month > 12)
		return 0;
	unsigned h = time >> 11, m = (time >> 5) & 63, s = (time & 31) * 2;
	return days_from_civil(year, month, day) * 86400 + RX_MIN(h, 23u) * 3600 + RX_MIN(m, 59u) * 60 + RX_MIN(s, 59u);
}

void fat_time_encode(int64_t t, uint16_t *date, uint16_t *time, uint8_t *tenth)
{
	/* FAT dates cover 1980-01-01 .. 2107-12-31: clamp. */
	const int64_t lo = 315532800, hi = 4354819199LL;
	t = t < lo ? lo : t > hi ? hi : t;
	int64_t days = t / 86400, secs = t % 86400;
	/* civil from days (Howard Hinnant's algorithm) */
	int64_t z = days + 719468, era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
	*date = (uint16_t)(((y - 1980) << 9) | (m << 5) | d);
	*time = (uint16_t)(((secs / 3600) << 11) | (((secs / 60) % 60) << 5) | ((secs % 60) / 2));
	if (tenth)
		*tenth = (uint8_t)((secs % 2) * 100);
}

/* ---- names ---- */

uint8_t fat_lfn_checksum(const uint8_t sfn[11])
{
	uint8_t sum = 0;
	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + sfn[i]);
	return sum;
}

int fat_utf8_to_utf16(const char *s, size_t len, uint16_t *out, int max)
{
	const uint8_t *p = (const uint8_t *)s, *e = p + len;
	int n = 0;
	while (p < e) {
		uint32_t c;
		int extra;
		if (*p < 0x80) {
			c = *p;
			extra = 0;
		} else if ((*p & 0xE0) == 0xC0) {
			c = *p & 0x1F;
			extra = 1;
		} else if ((*p & 0xF0) == 0xE0) {
			c = *p & 0x0F;
			extra = 2;
		} else if ((*p & 0xF8) == 0xF0) {
			c = *p & 0x07;
			extra = 3;
		} else {
			return -1;
		}
		if (e - p <= extra)
			return -1;
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return -1;
			c = (c << 6) | (p[i] & 0x3F);
		}
		static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
		if (c < min[extra] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return -1;
		p += extra + 1;
		if (c >= 0x10000) {
			if (n + 2 > max)
				return -1;
			c -= 0x10000;
			out[n++] = (uint16_t)(0xD800 | (c >> 10));
			out[n++] = (uint16_t)(0xDC00 | (c & 0x3FF));
		} else {
			if (n + 1 > max)
				return -1;
			out[n++] = (uint16_t)c;
		}
	}
	return n;
}

int fat_utf16_to_utf8(const uint16_t *u, int n, char *out)
{
	int o = 0;
	for (int i = 0; i < n; i++) {
		uint32_t c = u[i];
		if (c >= 0xDC00 && c <= 0xDFFF)
			return -1;
		if (c >= 0xD800 && c <= 0xDBFF) {
			if (i + 1 >= n || u[i + 1] < 0xDC00 || u[i + 1] > 0xDFFF)
				return -1;
			c = 0x10000 + ((c - 0xD800) << 10) + (u[++i] - 0xDC00);
		}
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xC0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xE0 | (c >> 12));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			out[o++] = (char)(0xF0 | (c >> 18));
			out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	out[o] = 0;
	return o;
}

static int sfn_char_ok(uint16_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c < 0x80 && c && strchr(SFN_VALID_PUNCT, c));
}

static int part_basis(const uint16_t *u, int n, uint8_t *out, int max, uint8_t lower_flag, uint8_t *ntres)
{
	int exact = 1, k = 0, lower = 0, upper = 0;
	for (int i = 0; i < n; i++) {
		uint16_t c = u[i];
		if (c == ' ' || c == '.') {
			exact = 0;	/* dropped, as the short-name rules say */
			continue;
		}
		if (c >= 'a' && c <= 'z') {
			lower = 1;
			c = (uint16_t)(c - 'a' + 'A');
		} else if (c >= 'A' && c <= 'Z') {
			upper = 1;
		}
		if (!sfn_char_ok(c)) {
			c = '_';
			exact = 0;
		}
		if (k < max)
			out[k++] = (uint8_t)c;
		else
			exact = 0;
	}
	if (lower && upper)
		exact = 0;
	else if (lower)
		*ntres |= lower_flag;
	return exact;
}

int fat_short_basis(const uint16_t *u, int n, uint8_t sfn[11], uint8_t *ntres)
{
	memset(sfn, ' ', 11);
	*ntres = 0;
	int dot = -1;
	for (int i = 0; i < n; i++)
		if (u[i] == '.')
			dot = i;
	int exact;
	if (dot <= 0) {
		exact = part_basis(u, n, sfn, 8, 0x08, ntres) && dot < 0;
	} else {
		exact = part_basis(u, dot, sfn, 8, 0x08, ntres);
		exact &= part_basis(u + dot + 1, n - dot - 1, sfn + 8, 3, 0x10, ntres);
		if (dot == n - 1)
			exact = 0;
	}
	if (sfn[0] == ' ') {
		sfn[0] = '_';
		exact = 0;
	}
	return exact;
}

/* A name we are willing to create: not "." or "..", no characters FAT forbids, no trailing dot or space. */
static int name_to_utf16(struct fat_fs *fs, const char *name, size_t len, uint16_t *u, int *n)
{
	*n = fat_utf8_to_utf16(name, len, u, 255);
	if (*n <= 0)
		return rx_fail(fs->ctx, EINVAL, "\"%.*s\": %s", (int)len, name,
			       *n == 0 ? "empty name" : "not valid UTF-8 or longer than 255 UTF-16 units");
	for (int i = 0; i < *n; i++)
		if (u[i] < 0x20 || (u[i] < 0x80 && strchr("\"*/:<>?\\|", u[i])))
			return rx_fail(fs->ctx, EINVAL, "\"%.*s\": FAT names cannot hold control characters or any of \"*/:<>?\\|",
				       (int)len, name);
	if (u[*n - 1] == '.' || u[*n - 1] == ' ')
		return rx_fail(fs->ctx, EINVAL, "\"%.*s\": a FAT name cannot end with a dot or a space", (int)len, name);
	return 0;
}

/* ---- directories in memory ---- */

uint64_t fat_dir_dev_off(const struct fat_fs *fs, const struct fat_dir *d, size_t off)
{
	if (d->first == 0)
		return ((uint64_t)fs->b.reserved + (uint64_t)fs->b.nfats * fs->b.fat_sectors) * fs->b.bps + off;
	return fat_cluster_off(fs, d->clusters[off / fs->b.cluster_size]) + off % fs->b.cluster_size;
}

void fat_dir_free(struct fat_dir *d)
{
	free(d->buf);
	free(d->orig);
	free(d->clusters);
	memset(d, 0, sizeof(*d));
}

int fat_dir_load(struct fat_fs *fs, uint32_t first, struct fat_dir *d)
{
	memset(d, 0, sizeof(*d));
	d->first = first;
	if (first == 0) {
		if (fs->b.type == 32)
			return rx_fail(fs->ctx, EIO, "directory without a first cluster");
		d->len = (size_t)fs->b.root_entries * FAT_DIRENT;
	} else {
		size_t max = (size_t)FAT_MAX_DIR_ENTRIES * FAT_DIRENT / fs->b.cluster_size;
		if (max == 0)
			max = 1;
		d->clusters = rx_xmalloc(max * sizeof(*d->clusters));
		if (!fat_cluster_valid(fs, first)) {
			fat_dir_free(d);
			return rx_fail(fs->ctx, EIO, "directory cluster %u is outside the volume (2..%u)", first,
				       fs->b.clusters + 1);
		}
		for (uint32_t c = first; c;) {
			if (d->nclusters == max) {
				fat_dir_free(d);
				return rx_fail(fs->ctx, EFBIG,
					       "directory at cluster %u is longer than %d entries (or its chain loops)",
					       first, FAT_MAX_DIR_ENTRIES);
			}
			d->clusters[d->nclusters++] = c;
			int r = fat_next(fs, c, &c);
			if (r) {
				fat_dir_free(d);
				return r;
			}
		}
		d->len = d->nclusters * (size_t)fs->b.cluster_size;
	}
	d->buf = rx_xmalloc(d->len);
	d->orig = rx_xmalloc(d->len);
	if (first == 0) {
		int r = rx_dev_read(fs->dev, d->buf, d->len, fat_dir_dev_off(fs, d, 0));
		if (r) {
			fat_dir_free(d);
			return r;
		}
	} else {
		for (size_t i = 0; i < d->nclusters; i++) {
			int r = rx_dev_read(fs->dev, d->buf + i * fs->b.cluster_size, fs->b.cluster_size,
					    fat_cluster_off(fs, d->clusters[i]));
			if (r) {
				fat_dir_free(d);
				return r;
			}
		}
	}
	memcpy(d->orig, d->buf, d->len);
	return 0;
}

static uint32_t entry_cluster(const struct fat_fs *fs, const uint8_t *e)
{
	uint32_t c = get_le16(e + 26);
	if (fs->b.type == 32)
		c |= (uint32_t)get_le16(e + 20) << 16;
	return c;
}

static void decode_sfn(const uint8_t *e, char *out)
{
	int k = 0;
	for (int i = 0; i < 8 && e[i] != ' '; i++) {
		uint8_t c = i == 0 && e[0] == 0x05 ? 0xE5 : e[i];
		if (c >= 'A' && c <= 'Z' && (e[12] & 0x08))
			c = (uint8_t)(c - 'A' + 'a');
		out[k++] = c >= 0x80 ? '_' : (char)c;
	}
	if (e[8] != ' ') {
		out[k++] = '.';
		for (int i = 8; i < 11 && e[i] != ' '; i++) {
			uint8_t c = e[i];
			if (c >= 'A' && c <= 'Z' && (e[12] & 0x10))
				c = (uint8_t)(c - 'A' + 'a');
			out[k++] = c >= 0x80 ? '_' : (char)c;
		}
	}
	out[k] = 0;
}

static int unsafe(struct fat_fs *fs, const struct fat_dir *d, uint32_t slot, const char *name, const char *why)
{
	return rx_fail(fs->ctx, EINVAL, "directory at cluster %u, entry %u: name \"%s\" refused (%s)", d->first, slot,
		       name, why);
}

int fat_dir_next(struct fat_fs *fs, const struct fat_dir *d, uint32_t *slot, struct fat_node *out)
{
	uint32_t n = (uint32_t)(d->len / FAT_DIRENT);
	uint16_t lfn[LFN_MAX_PARTS * 13];
	int expect = 0, parts = 0;	/* expect: the order number the next long-name part must have */
	uint8_t sum = 0;
	uint32_t lfn_start = 0;
	for (uint32_t s = *slot; s < n; s++) {
		const uint8_t *e = d->buf + (size_t)s * FAT_DIRENT;
		if (e[0] == 0x00)
			break;
		if (e[0] == 0xE5) {
			expect = 0;
			continue;
		}
		if ((e[11] & 0x3F) == FAT_ATTR_LFN) {
			int ord = e[0] & 0x3F;
			if (e[0] & 0x40) {
				expect = 0;
				if (ord >= 1 && ord <= LFN_MAX_PARTS && e[12] == 0 && get_le16(e + 26) == 0) {
					parts = ord;
					sum = e[13];
					lfn_start = s;
					expect = ord;
					for (int i = 0; i < parts * 13; i++)
						lfn[i] = 0xFFFF;
				}
			}
			if (!expect || ord != expect || e[13] != sum) {
				expect = 0;	/* an orphaned or broken part: the short name will be used */
				continue;
			}
			static const uint8_t pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
			for (int i = 0; i < 13; i++)
				lfn[(ord - 1) * 13 + i] = get_le16(e + pos[i]);
			expect = ord - 1 ? ord - 1 : -1;	/* -1: complete, the short entry must follow */
			continue;
		}
		if (e[11] & FAT_ATTR_VOLUME) {
			expect = 0;
			continue;
		}
		memset(out, 0, sizeof(*out));
		decode_sfn(e, out->short_name);
		if (d->first != 0 && s < 2 && (e[11] & FAT_ATTR_DIR) &&
		    (!memcmp(e, ".          ", 11) || !memcmp(e, "..         ", 11))) {
			expect = 0;
			continue;	/* the directory's own "." and ".." */
		}
		for (int i = 0; i < 11; i++)
			if (e[i] < 0x20 && !(i == 0 && e[i] == 0x05))
				return unsafe(fs, d, s, out->short_name, "control character in the short name");
		uint32_t first_slot = s;
		strcpy(out->name, out->short_name);
		if (expect == -1 && fat_lfn_checksum(e) == sum) {
			int len = 0;
			while (len < parts * 13 && lfn[len] != 0)
				len++;
			char tmp[sizeof(out->name)];
			if (len > 0 && len <= 255 && fat_utf16_to_utf8(lfn, len, tmp) > 0) {
				strcpy(out->name, tmp);
				first_slot = lfn_start;
			}
		}
		expect = 0;
		if (!out->name[0] || !out->short_name[0])
			return unsafe(fs, d, s, out->name, "empty");
		if (!strcmp(out->name, ".") || !strcmp(out->name, ".."))
			return unsafe(fs, d, s, out->name, "a dot entry outside its place");
		if (strchr(out->name, '/') || strchr(out->short_name, '/'))
			return unsafe(fs, d, s, out->name, "contains '/'");
		out->attr = e[11];
		out->first_cluster = entry_cluster(fs, e);
		out->size = get_le32(e + 28);
		out->ctime = fat_time_decode(get_le16(e + 16), get_le16(e + 14)) + e[13] / 100;
		out->atime = fat_time_decode(get_le16(e + 18), 0);
		out->mtime = fat_time_decode(get_le16(e + 24), get_le16(e + 22));
		out->dir_cluster = d->first;
		out->slot = s;
		out->nslots = s - first_slot + 1;
		*slot = s + 1;
		return 1;
	}
	*slot = n;
	return 0;
}

static int name_eq(const char *a, const char *b, size_t blen)
{
	if (strlen(a) != blen)
		return 0;
	for (size_t i = 0; i < blen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'a' && x <= 'z')
			x = (unsigned char)(x - 32);
		if (y >= 'a' && y <= 'z')
			y = (unsigned char)(y - 32);
		if (x != y)
			return 0;
	}
	return 1;
}

int fat_dir_find(struct fat_fs *fs, const struct fat_dir *d, const char *name, size_t len, struct fat_node *out)
{
	uint32_t slot = 0;
	int r;
	while ((r = fat_dir_next(fs, d, &slot, out)) == 1)
		if (name_eq(out->name, name, len) || name_eq(out->short_name, name, len))
			return 1;
	return r;
}

/* Is this 11-byte short name held by a live entry other than `ignore`? */
static int sfn_taken(const struct fat_dir *d, const uint8_t sfn[11], uint32_t ignore)
{
	uint32_t n = (uint32_t)(d->len / FAT_DIRENT);
	for (uint32_t s = 0; s < n; s++) {
		const uint8_t *e = d->buf + (size_t)s * FAT_DIRENT;
		if (e[0] == 0)
			break;
		if (s == ignore || e[0] == 0xE5 || (e[11] & 0x3F) == FAT_ATTR_LFN || (e[11] & FAT_ATTR_VOLUME))
			continue;
		uint8_t first = e[0] == 0x05 ? 0xE5 : e[0];
		if (first == sfn[0] && !memcmp(e + 1, sfn + 1, 10))
			return 1;
	}
	return 0;
}

/* A run of `need` free slots (within one sector when it fits there), or -1. */
static long find_run(const struct fat_fs *fs, const struct fat_dir *d, uint32_t need)
{
	uint32_t n = (uint32_t)(d->len / FAT_DIRENT), per = fs->b.bps / FAT_DIRENT, end = n;
	for (uint32_t s = 0; s < n; s++)
		if (d->buf[(size_t)s * FAT_DIRENT] == 0) {
			end = s;
			break;
		}
	for (int pass = need <= per ? 0 : 1; pass < 2; pass++) {
		uint32_t run = 0;
		for (uint32_t s = 0; s < n; s++) {
			if (pass == 0 && s % per == 0)
				run = 0;
			int free_slot = s >= end || d->buf[(size_t)s * FAT_DIRENT] == 0xE5;
			run = free_slot ? run + 1 : 0;
			if (run == need)
				return (long)(s + 1 - need);
		}
		if (need <= per)
			break;	/* never split a set that fits one sector */
	}
	return -1;
}

int fat_dir_grow(struct fat_fs *fs, struct fat_dir *d)
{
	if (d->first == 0)
		return rx_fail(fs->ctx, ENOSPC, "the root directory is full (%u entries)", fs->b.root_entries);
	if (d->len + fs->b.cluster_size > (size_t)FAT_MAX_DIR_ENTRIES * FAT_DIRENT)
		return rx_fail(fs->ctx, ENOSPC, "directory is full (%d entries)", FAT_MAX_DIR_ENTRIES);
	uint32_t c;
	int r = fat_alloc(fs, d->clusters[d->nclusters - 1], &c);
	uint8_t *zero = rx_xcalloc(1, fs->b.cluster_size);
	/* The new cluster is zeroed on disk before anything links it in. */
	if (!r)
		r = rx_dev_write(fs->dev, zero, fs->b.cluster_size, fat_cluster_off(fs, c));
	free(zero);
	if (!r)
		r = rx_dev_flush(fs->dev);
	if (!r)
		r = fat_commit(fs);
	if (r) {
		fat_rollback(fs);
		return r;
	}
	d->clusters = rx_xrealloc(d->clusters, (d->nclusters + 1) * sizeof(*d->clusters));
	d->clusters[d->nclusters++] = c;
	d->buf = rx_xrealloc(d->buf, d->len + fs->b.cluster_size);
	d->orig = rx_xrealloc(d->orig, d->len + fs->b.cluster_size);
	memset(d->buf + d->len, 0, fs->b.cluster_size);
	memset(d->orig + d->len, 0, fs->b.cluster_size);
	d->len += fs->b.cluster_size;
	return 0;
}

static void put_sfn(struct fat_fs *fs, uint8_t *e, const uint8_t sfn[11], uint8_t ntres, uint8_t attr,
		    uint32_t cluster, uint32_t size)
{
	uint16_t date, time;
	uint8_t tenth;
	fat_time_encode(fs->now, &date, &time, &tenth);
	memset(e, 0, FAT_DIRENT);
	memcpy(e, sfn, 11);
	if (e[0] == 0xE5)
		e[0] = 0x05;
	e[11] = attr;
	e[12] = ntres;
	e[13] = tenth;
	put_le16(e + 14, time);
	put_le16(e + 16, date);
	put_le16(e + 18, date);
	put_le16(e + 20, fs->b.type == 32 ? (uint16_t)(cluster >> 16) : 0);
	put_le16(e + 22, time);
	put_le16(e + 24, date);
	put_le16(e + 26, (uint16_t)cluster);
	put_le32(e + 28, size);
}

int fat_dir_add(struct fat_fs *fs, struct fat_dir *d, const char *name, size_t len, uint8_t attr,
		uint32_t cluster, uint32_t size, uint32_t ignore_slot, uint32_t *sfn_slot)
{
	uint16_t u[255];
	int n, r = name_to_utf16(fs, name, len, u, &n);
	if (r)
		return r;
	uint8_t sfn[11], ntres;
	int exact = fat_short_basis(u, n, sfn, &ntres);
	/* Only case differences from the short form: a long name, but no numeric tail needed. */
	int fits = exact;
	if (!exact) {
		uint8_t t[11], tn;
		uint16_t up[255];
		for (int i = 0; i < n; i++)
			up[i] = u[i] >= 'a' && u[i] <= 'z' ? (uint16_t)(u[i] - 32) : u[i];
		fits = fat_short_basis(up, n, t, &tn);
	}
	int need_lfn = !exact;
	if (!fits || sfn_taken(d, sfn, ignore_slot)) {
		need_lfn = 1;
		ntres = 0;
		int base = 8;
		while (base > 0 && sfn[base - 1] == ' ')
			base--;
		uint8_t try[11];
		int found = 0;
		for (uint32_t k = 1; k <= FAT_MAX_DIR_ENTRIES + 1 && !found; k++) {
			char tail[12];
			int tl = snprintf(tail, sizeof(tail), "~%u", k);
			memcpy(try, sfn, 11);
			int keep = RX_MIN(base, 8 - tl);
			memset(try + keep, ' ', 8 - (size_t)keep);
			memcpy(try + keep, tail, (size_t)tl);
			found = !sfn_taken(d, try, ignore_slot);
		}
		memcpy(sfn, try, 11);
	}
	if (need_lfn)
		ntres = 0;
	uint32_t parts = need_lfn ? (uint32_t)(n + 12) / 13 : 0, need = parts + 1;
	long start;
	while ((start = find_run(fs, d, need)) < 0)
		if ((r = fat_dir_grow(fs, d)) != 0)
			return r;
	uint32_t nslots = (uint32_t)(d->len / FAT_DIRENT), s0 = (uint32_t)start, end = nslots;
	for (uint32_t s = 0; s < nslots; s++)
		if (d->buf[(size_t)s * FAT_DIRENT] == 0) {
			end = s;
			break;
		}
	/* Slots between the old end marker and the new set become deleted ones; the slot after the set ends the directory. */
	for (uint32_t s = end; s < s0; s++)
		d->buf[(size_t)s * FAT_DIRENT] = 0xE5;
	if (s0 + need > end && s0 + need < nslots && d->buf[(size_t)(s0 + need) * FAT_DIRENT] != 0)
		memset(d->buf + (size_t)(s0 + need) * FAT_DIRENT, 0, FAT_DIRENT);
	uint8_t sum = fat_lfn_checksum(sfn);
	static const uint8_t pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	for (uint32_t k = 1; k <= parts; k++) {
		uint8_t *e = d->buf + (size_t)(s0 + parts - k) * FAT_DIRENT;
		memset(e, 0, FAT_DIRENT);
		e[0] = (uint8_t)(k | (k == parts ? 0x40 : 0));
		e[11] = FAT_ATTR_LFN;
		e[13] = sum;
		for (int i = 0; i < 13; i++) {
			int idx = (int)(k - 1) * 13 + i;
			put_le16(e + pos[i], idx < n ? u[idx] : idx == n ? 0x0000 : 0xFFFF);
		}
	}
	put_sfn(fs, d->buf + (size_t)(s0 + parts) * FAT_DIRENT, sfn, ntres, attr, cluster, size);
	*sfn_slot = s0 + parts;
	return 0;
}

void fat_dir_remove(struct fat_dir *d, const struct fat_node *n)
{
	for (uint32_t s = n->slot + 1 - n->nslots; s <= n->slot; s++)
		d->buf[(size_t)s * FAT_DIRENT] = 0xE5;
}

int fat_dir_commit(struct fat_fs *fs, struct fat_dir *d, size_t last)
{
	size_t bps = fs->b.bps, nsec = d->len / bps, last_sec = last / bps;
	int r = 0;
	for (size_t pass = 0; pass < 2 && !r; pass++)
		for (size_t i = 0; i < nsec && !r; i++) {
			if ((i == last_sec) != (pass == 1) || !memcmp(d->buf + i * bps, d->orig + i * bps, bps))
				continue;
			r = rx_dev_write(fs->dev, d->buf + i * bps, bps, fat_dir_dev_off(fs, d, i * bps));
			if (!r)
				memcpy(d->orig + i * bps, d->buf + i * bps, bps);
		}
	if (!r)
		r = rx_dev_flush(fs->dev);
	return r;
}
