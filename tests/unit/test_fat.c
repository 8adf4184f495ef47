/*
 * The FAT library's pieces: name encodings, the long-name checksum, short
 * names, times, mkfs against the installer's 1 MiB ESP layout, and the
 * write operations through the API on a fresh volume.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dev.h"
#include "fat_int.h"
#include "tap.h"

static int basis(const char *name, const char *want, int want_exact, uint8_t want_ntres)
{
	uint16_t u[255];
	int n = fat_utf8_to_utf16(name, strlen(name), u, 255);
	uint8_t sfn[11], ntres;
	int exact = fat_short_basis(u, n, sfn, &ntres);
	return n > 0 && exact == want_exact && ntres == want_ntres && !memcmp(sfn, want, 11);
}

static struct rx_dev *temp_dev(struct rx_ctx *ctx, char *path, off_t size)
{
	int fd = mkstemp(path);
	struct rx_dev *dev = NULL;
	if (fd < 0 || ftruncate(fd, size) != 0)
		exit(99);
	close(fd);
	if (rx_dev_open_file(ctx, path, RX_DEV_RDWR, &dev))
		exit(99);
	return dev;
}

static int count_cb(void *arg, const struct fat_node *n)
{
	(void)n;
	(*(int *)arg)++;
	return 0;
}

int main(void)
{
	static struct rx_ctx ctx;

	/* The checksum over an 11-byte short name (rotate right, add). */
	const uint8_t sfn1[11] = { 'A', 'L', 'O', 'N', 'G', 'F', '~', '1', 'E', 'F', 'I' };
	uint8_t sum = 0;
	for (int i = 0; i < 11; i++)
		sum = (uint8_t)((sum >> 1) | (sum << 7)) + sfn1[i];
	ok(fat_lfn_checksum(sfn1) == sum, "long-name checksum is the rotate-and-add sum");

	uint16_t u[255];
	char back[800];
	const char *mixed = "Gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80.efi";
	int n = fat_utf8_to_utf16(mixed, strlen(mixed), u, 255);
	ok(n == 13 && u[7] == 0xD83D && u[8] == 0xDE00, "UTF-8 to UTF-16 with a surrogate pair");
	ok(fat_utf16_to_utf8(u, n, back) == (int)strlen(mixed) && !strcmp(back, mixed), "and back");
	ok(fat_utf8_to_utf16("\xC0\xAF", 2, u, 255) < 0 && fat_utf8_to_utf16("\xED\xA0\x80", 3, u, 255) < 0 &&
	   fat_utf8_to_utf16("\xE2\x82", 2, u, 255) < 0, "overlong, surrogate and cut UTF-8 are refused");
	uint16_t lone[2] = { 'a', 0xDC00 };
	ok(fat_utf16_to_utf8(lone, 2, back) < 0, "an unpaired low surrogate is refused");

	ok(basis("README.TXT", "README  TXT", 1, 0), "README.TXT is an exact short name");
	ok(basis("bootaa64.efi", "BOOTAA64EFI", 1, 0x18), "bootaa64.efi: exact, with both lower-case flags");
	ok(basis("EFI", "EFI        ", 1, 0), "EFI: no extension");
	ok(basis("Readme.txt", "README  TXT", 0, 0x10), "Readme.txt: mixed case needs a long name");
	ok(basis("a long name.efi", "ALONGNAMEFI", 0, 0x18), "spaces dropped, truncated to 8");
	ok(basis("file.tar.gz", "FILETAR GZ ", 0, 0x18), "inner dots dropped, the last dot starts the extension");
	ok(basis(".hidden", "HIDDEN     ", 0, 0x08), "a leading dot is dropped");
	ok(basis("a+b.c", "A_B     C  ", 0, 0x18), "characters short names cannot hold become _");

	uint16_t date, tm;
	uint8_t tenth;
	fat_time_encode(1700000001, &date, &tm, &tenth);
	ok(fat_time_decode(date, tm) == 1700000000 && tenth == 100, "times: 2-second resolution plus tenths");
	fat_time_encode(0, &date, &tm, NULL);
	ok(date == (1 << 5 | 1) && tm == 0, "times before 1980 clamp to 1980-01-01");

	/* The installer's default ESP: 1 MiB -> FAT12, 1 sector per cluster, 6 sectors per FAT, 2003 clusters. */
	char path[] = "/tmp/rximg-test-fat-XXXXXX";
	struct rx_dev *dev = temp_dev(&ctx, path, 1 << 20);
	struct fat_mkfs_opts o = { .volume_id = 0x12345678 };
	ok(fat_mkfs(&ctx, dev, &o) == 0, "mkfs 1 MiB: %s", ctx.msg);
	struct fat_fs *fs;
	ok(fat_open(&ctx, dev, 1, &fs) == 0, "open it writable: %s", ctx.msg);
	struct fat_info info;
	fat_info(fs, &info);
	ok(info.type == 12 && info.sectors_per_cluster == 1 && info.sectors_per_fat == 6 && info.clusters == 2003 &&
	   info.reserved_sectors == 1 && info.root_entries == 512 && info.fats == 2 && info.media == 0xF8 &&
	   info.volume_id == 0x12345678 && !strcmp(info.label, "NO NAME"),
	   "layout as the installer's formatter makes it (FAT12, 6 sectors/FAT, 2003 clusters)");
	uint8_t sec[512];
	rx_dev_read(dev, sec, sizeof(sec), 0);
	ok(!memcmp(sec + 3, "MSWIN4.1", 8) && get_le16(sec + 24) == 32 && get_le16(sec + 26) == 64 &&
	   get_le32(sec + 28) == 0 && sec[36] == 0 && sec[38] == 0x29 && !memcmp(sec + 54, "FAT12   ", 8),
	   "boot sector: OEM name, geometry 32/64, no hidden sectors, drive 0, FAT12 label");

	fat_set_time(fs, 1700000000);
	static uint8_t data[5000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	ok(fat_mkdir(fs, "/EFI") == 0 && fat_mkdir(fs, "/EFI/BOOT") == 0, "mkdir /EFI/BOOT: %s", ctx.msg);
	ok(fat_write_buf(fs, "/EFI/BOOT/BOOTAA64.EFI", data, sizeof(data)) == 0, "write a file: %s", ctx.msg);
	struct fat_node node;
	static uint8_t rd[6000];
	ok(fat_lookup(fs, "/efi/boot/bootaa64.efi", &node) == 0 && node.size == sizeof(data) &&
	   fat_read(fs, &node, rd, sizeof(rd), 0) == (ssize_t)sizeof(data) && !memcmp(rd, data, sizeof(data)),
	   "looked up case-insensitively, read back whole");
	ok(fat_read(fs, &node, rd, 100, 4990) == 10 && !memcmp(rd, data + 4990, 10), "a read at the end is short");
	ok(node.mtime == 1700000000, "mtime is the time set");
	ok(fat_write_buf(fs, "/EFI/BOOT/BOOTAA64.EFI", "new", 3) == 0 && fat_lookup(fs, "/EFI/BOOT/BOOTAA64.EFI", &node) == 0 &&
	   node.size == 3, "replace it");
	fat_info(fs, &info);
	ok(info.free_clusters == 2003 - 3, "the old chain was freed (3 clusters in use)");
	ok(fat_mkdir(fs, "/EFI") == -EEXIST, "mkdir of an existing name: EEXIST");
	ok(fat_unlink(fs, "/EFI") == -ENOTEMPTY, "rm of a non-empty directory: ENOTEMPTY");
	ok(fat_rename(fs, "/EFI", "/EFI/BOOT/x") == -EINVAL, "a directory cannot move into itself");
	ok(fat_write_buf(fs, "/a:b", "", 0) == -EINVAL && fat_write_buf(fs, "/trailing.", "", 0) == -EINVAL &&
	   fat_lookup(fs, "/EFI/../EFI", &node) == -EINVAL, "forbidden characters, trailing dots and .. are refused");
	ok(fat_rename(fs, "/EFI/BOOT/BOOTAA64.EFI", "/A file with a long name.efi") == 0 &&
	   fat_lookup(fs, "/a file with a LONG name.efi", &node) == 0 && !strcmp(node.short_name, "AFILEW~1.EFI") &&
	   node.nslots == 4, "rename across directories, with a long name and a ~1 short name");
	ok(fat_write_buf(fs, "/A file with a long name too.efi", "", 0) == 0 &&
	   fat_lookup(fs, "/A file with a long name too.efi", &node) == 0 && !strcmp(node.short_name, "AFILEW~2.EFI"),
	   "the next one gets ~2");

	/* The fixed FAT12 root holds 512 entries: filling it ends in a clear ENOSPC. */
	int r = 0, made = 0;
	while (r == 0 && made < 600) {
		char name[32];
		snprintf(name, sizeof(name), "/F%d", made);
		if ((r = fat_write_buf(fs, name, "", 0)) == 0)
			made++;
	}
	ok(r == -ENOSPC && strstr(ctx.msg, "root directory is full"), "root full after %d more files: %s", made, ctx.msg);
	/* A subdirectory grows cluster by cluster instead. */
	r = 0;
	for (int i = 0; i < 100 && !r; i++) {
		char name[64];
		snprintf(name, sizeof(name), "/EFI/a long file name number %d.txt", i);
		r = fat_write_buf(fs, name, name, strlen(name));
	}
	int count = 0;
	ok(r == 0 && fat_lookup(fs, "/EFI", &node) == 0 && fat_readdir(fs, &node, count_cb, &count) == 0 &&
	   count == 101, "100 long names in a subdirectory (it grew): %d entries", count);
	ok(fat_unlink(fs, "/EFI/BOOT") == 0 && fat_lookup(fs, "/EFI/BOOT", &node) == -ENOENT, "rm an empty directory");
	fat_close(fs);

	ok(fat_open(&ctx, dev, 0, &fs) == 0, "reopen read-only");
	ok(fat_write_buf(fs, "/x", "", 0) == -EROFS, "writes refused on a read-only open");
	fat_close(fs);
	rx_dev_close(dev);
	unlink(path);
	return tap_done();
}
