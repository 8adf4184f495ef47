/*
 * mkfs against the specification's worked example (spec 17.1): a 2 MiB
 * filesystem made at 1700000000.123456789 with the example's UUID must match
 * the reference byte for byte: header generation 3, tree, allocation log, root.
 */
#include <stdlib.h>
#include <unistd.h>

#include "dev.h"
#include "memdev.h"
#include "rfs.h"
#include "seahash.h"
#include "tap.h"
#include "wr.h"

static uint8_t blk[RFS_BLOCK];

static const uint8_t *block(struct rx_dev *dev, uint64_t i)
{
	if (rx_dev_read(dev, blk, RFS_BLOCK, i * RFS_BLOCK) != 0)
		memset(blk, 0xEE, sizeof(blk));
	return blk;
}

int main(void)
{
	static struct rx_ctx ctx;
	char path[] = "/tmp/rximg-test-mkfs-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 2 << 20) != 0)
		return 99;
	close(fd);
	struct rx_dev *dev;
	ok(rx_dev_open_file(&ctx, path, RX_DEV_RDWR, &dev) == 0, "open a 2 MiB file");
	struct rfs_mkfs_opts o = { .time = { 1700000000, 123456789 } };
	static const uint8_t uuid[16] = { 0x23, 0x29, 0xc4, 0xb7, 0x62, 0x1a, 0x46, 0xdf,
					  0xb9, 0x46, 0x99, 0xc2, 0x6d, 0xa5, 0x69, 0x1a };
	memcpy(o.uuid, uuid, 16);
	ok(rfs_mkfs(&ctx, dev, &o) == 0, "mkfs succeeds: %s", ctx.msg);

	const uint8_t *h = block(dev, 3);
	ok(memcmp(h, "RedoxFS\0\x08\0\0\0\0\0\0\0", 16) == 0, "header: signature and version 8");
	ok(get_le64(h + 32) == 0x200000 && get_le64(h + 40) == 3, "header: size 2 MiB, generation 3");
	ok(get_le64(h + 48) == (263 << 8) && get_le64(h + 56) == 0x14BBD9FD3C500496ULL,
	   "header: tree -> block 263 with the example's hash");
	ok(get_le64(h + 64) == (257 << 8) && get_le64(h + 72) == 0xD29289AB639B2671ULL,
	   "header: alloc -> block 257 with the example's hash");
	ok(get_le64(h + 4088) == 0xDC5EB6D8BC3D2156ULL && get_le64(h + 4072) == 0xDC5EB6D8BC3D2156ULL &&
	   get_le64(h + 4080) == 0, "header: hash and encrypted_hash as in the example");

	const uint8_t *a = block(dev, 257);
	static const int64_t want[4][2] = { { 265, 247 }, { 257, 2 }, { 257, -1 }, { 264, 1 } };
	int log_ok = rfs_ptr_is_null(rfs_ptr_decode(a));
	for (int i = 0; i < 4; i++)
		log_ok &= get_le64(a + 16 + 16 * i) == (uint64_t)want[i][0] &&
			  (int64_t)get_le64(a + 24 + 16 * i) == want[i][1];
	ok(log_ok && rx_is_zero(a + 80, RFS_BLOCK - 80), "allocation log: (265,+247) (257,+2) (257,-1) (264,+1)");

	const uint8_t *n = block(dev, 259);
	ok(get_le16(n) == 0x41ED && get_le32(n + 10) == 1 && get_le64(n + 22) == 1,
	   "root node: mode 040755, one link, one block");
	ok(get_le64(n + 30) == 1700000000 && get_le32(n + 38) == 123456789 &&
	   get_le64(n + 42) == 1700000000 && get_le64(n + 54) == 1700000000,
	   "root node: ctime = mtime = atime = creation time");

	const uint8_t *l0 = block(dev, 260);
	ok(get_le64(l0 + 16) == (259 << 8) && get_le64(l0 + 24) == 0x030FBA08A51D29FDULL,
	   "node tree leaf: entry 1 -> block 259 with the example's hash");
	ok(l0[0xFE0] == 0x03, "node tree leaf: ids 0 and 1 flagged full");

	uint64_t start, free_blocks = 0;
	struct rfs *fs = NULL;
	ok(rfs_probe(&ctx, dev, &start) == 0 && start == 0 && rfs_open(&ctx, dev, 0, &fs) == 0 &&
	   fs->hdr.generation == 3, "the new filesystem opens at generation 3");
	ok(fs && rfs_free_blocks(fs, &free_blocks) == 0 && free_blocks == 249,
	   "free after open: {258} and 264..511 = 249 blocks (spec 13.2)");
	rfs_close(fs);

	/* The memory device (fuzz targets, tests): the same mkfs gives the same bytes. */
	uint8_t *file_bytes = malloc(2 << 20), *mem = calloc(1, (2 << 20) + 4096);
	struct rx_dev *mdev = NULL;
	ok(file_bytes && mem && rx_dev_read(dev, file_bytes, 2 << 20, 0) == 0 &&
	   rx_dev_open_mem(&ctx, mem, 2 << 20, (2 << 20) + 4096, RX_DEV_RDWR, "mem", &mdev) == 0 &&
	   mdev->size == (2 << 20), "a memory device of 2 MiB");
	ok(mdev && rfs_mkfs(&ctx, mdev, &o) == 0 && memcmp(mem, file_bytes, 2 << 20) == 0,
	   "mkfs on the memory device writes the same bytes as on a file");
	ok(mdev && rx_dev_read(mdev, blk, RFS_BLOCK, (2 << 20) - 4095) != 0, "reading past the end fails");
	ok(mdev && mdev->ops->pwrite(mdev, blk, RFS_BLOCK, 2 << 20) == 0 &&
	   mdev->ops->pwrite(mdev, blk, 1, (2 << 20) + 4096) == -ENOSPC,
	   "writes may grow the device into its room, not beyond (ENOSPC)");
	rx_dev_close(mdev);
	free(file_bytes);
	free(mem);
	rx_dev_close(dev);
	unlink(path);
	return tap_done();
}
