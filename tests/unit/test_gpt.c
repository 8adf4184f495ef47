/*
 * The GPT writer: the installer's layout numbers (spec disk-image.md §2.4),
 * both headers and entry arrays read back by our reader, the protective MBR
 * record, boot code kept, and refusals that write nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "dev.h"
#include "gpt.h"
#include "part.h"
#include "tap.h"

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

static int header_ok(struct rx_dev *dev, uint64_t lba, uint64_t alt, uint64_t entries_lba)
{
	uint8_t h[512], e[128 * 128];
	if (rx_dev_read(dev, h, 512, lba * 512) || rx_dev_read(dev, e, sizeof(e), entries_lba * 512))
		return 0;
	uint32_t crc = get_le32(h + 16);
	put_le32(h + 16, 0);
	return !memcmp(h, "EFI PART", 8) && crc == crc32(0, h, 92) && get_le64(h + 24) == lba &&
	       get_le64(h + 32) == alt && get_le64(h + 72) == entries_lba && get_le32(h + 88) == crc32(0, e, sizeof(e));
}

int main(void)
{
	static struct rx_ctx ctx;
	const uint64_t S = UINT64_C(512) << 20;
	struct rx_gpt_part parts[3];

	ok(rx_gpt_redox_layout(&ctx, S, 1 << 20, 1 << 20, parts) == 0 && parts[0].first_lba == 34 &&
	   parts[0].last_lba == 2047 && parts[1].first_lba == 2048 && parts[1].last_lba == 4095 &&
	   parts[2].first_lba == 4096 && parts[2].last_lba == 1046527 && !strcmp(parts[2].name, "REDOX"),
	   "512 MiB: BIOS 34-2047, EFI 2048-4095, REDOX 4096-1046527 as the installer lays it out");
	ok(rx_gpt_redox_layout(&ctx, 3 << 20, 1 << 20, 1 << 20, parts) == -ENOSPC && strstr(ctx.msg, "too small"),
	   "a disk too small for the layout is refused: %s", ctx.msg);
	ok(rx_gpt_redox_layout(&ctx, S, 3 << 19, 0, parts) == -EINVAL, "an ESP of a fractional MiB is refused");

	uint8_t uuid[16], guid[16], back[16];
	for (int i = 0; i < 16; i++)
		uuid[i] = (uint8_t)(0x10 + i);
	rx_guid_swap(uuid, guid);
	rx_guid_swap(guid, back);
	char text[37];
	rx_guid_format(guid, text);
	ok(!memcmp(back, uuid, 16) && !strcmp(text, "10111213-1415-1617-1819-1a1b1c1d1e1f"),
	   "a UUID in text order is stored mixed-endian and prints back the same: %s", text);
	ok(rx_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", guid) == 0 &&
	   !memcmp(guid, rx_gpt_type_efi_system, 16) && rx_guid_parse("c12a7328", guid) != 0 &&
	   rx_guid_parse("x12a7328-f81f-11d2-ba4b-00a0c93ec93b", guid) != 0, "GUID text is parsed and checked");

	char path[] = "/tmp/rximg-gpt-XXXXXX";
	struct rx_dev *dev = temp_dev(&ctx, path, (off_t)S);
	uint8_t code[446];
	memset(code, 0xab, sizeof(code));
	rx_dev_write(dev, code, sizeof(code), 0);
	rx_gpt_redox_layout(&ctx, S, 1 << 20, 1 << 20, parts);
	for (int i = 0; i < 3; i++)
		memset(parts[i].guid, 0x21 + i, 16);
	uint8_t disk_guid[16];
	memset(disk_guid, 0x5e, 16);
	ok(rx_gpt_write(&ctx, dev, disk_guid, parts, 3) == 0, "the table is written");
	uint8_t mbr[512];
	rx_dev_read(dev, mbr, 512, 0);
	ok(!memcmp(mbr, code, 446), "the boot code before the partition records is kept");
	static const uint8_t rec[16] = { 0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0xff, 0xff, 0x0f, 0 };
	ok(!memcmp(mbr + 446, rec, 16) && rx_is_zero(mbr + 462, 48) && mbr[510] == 0x55 && mbr[511] == 0xaa,
	   "protective MBR: one 0xEE record from LBA 1, size 1048575 (spec §2.1)");
	ok(header_ok(dev, 1, 1048575, 2), "primary header at LBA 1, entries at LBA 2, both CRCs right");
	ok(header_ok(dev, 1048575, 1, 1048543), "backup header at the last LBA, entries just before");
	uint8_t h[512];
	rx_dev_read(dev, h, 512, 512);
	ok(get_le64(h + 40) == 34 && get_le64(h + 48) == 1048542 && get_le32(h + 80) == 128 && get_le32(h + 84) == 128,
	   "usable 34-1048542, 128 entries of 128 bytes");

	struct rx_parttable t;
	ok(rx_part_probe(dev, &t) == 0 && !strcmp(t.type, "gpt") && t.count == 3 &&
	   !strcmp(t.id, "5e5e5e5e-5e5e-5e5e-5e5e-5e5e5e5e5e5e") && t.parts[1].start == 1 << 20 &&
	   t.parts[2].start == 2 << 20 && !strcmp(t.parts[1].name, "EFI") &&
	   !strcmp(t.parts[1].type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b") &&
	   !strcmp(t.parts[0].type, "21686148-6449-6e6f-744e-656564454649") &&
	   !strcmp(t.parts[2].uuid, "23232323-2323-2323-2323-232323232323"), "our reader sees the three partitions");
	rx_part_free(&t);
	/* Damage the primary: the reader falls back to the backup, which must be complete on its own. */
	memset(h, 0, 512);
	rx_dev_write(dev, h, 512, 512);
	ok(rx_part_probe(dev, &t) == 0 && t.count == 3 && !strcmp(t.parts[2].name, "REDOX"),
	   "the backup alone describes the same partitions");
	rx_part_free(&t);

	/* Refusals: nothing is written. */
	memset(h, 0, 512);
	rx_dev_write(dev, h, 512, 0);
	struct rx_gpt_part bad[2];
	bad[0] = parts[1];
	bad[1] = parts[2];
	bad[1].first_lba = 4000;
	ok(rx_gpt_write(&ctx, dev, disk_guid, bad, 2) == -EINVAL && strstr(ctx.msg, "overlap"), "overlap: %s", ctx.msg);
	bad[1] = parts[2];
	bad[1].last_lba = 1048543;
	ok(rx_gpt_write(&ctx, dev, disk_guid, bad, 2) == -EINVAL && strstr(ctx.msg, "usable"), "past the usable area: %s",
	   ctx.msg);
	bad[1] = parts[2];
	snprintf(bad[1].name, sizeof(bad[1].name), "%s", "0123456789012345678901234567890123456");
	ok(rx_gpt_write(&ctx, dev, disk_guid, bad, 2) == -EINVAL, "a name of 37 units: %s", ctx.msg);
	rx_dev_read(dev, mbr, 512, 0);
	ok(rx_is_zero(mbr, 512), "a refused table writes nothing");

	rx_dev_close(dev);
	unlink(path);
	return tap_done();
}
