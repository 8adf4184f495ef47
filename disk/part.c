#include <blkid.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "part.h"

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/*
 * libblkid reads through a descriptor. Containers without one (qcow2), and
 * truncated disks shown at their full size, are given to it as a sparse memfd
 * of size bytes holding just the regions a partition table lives in: the
 * first and the last MiB.
 */
static int probe_fd(struct rx_dev *dev, uint64_t size, int *owned)
{
	*owned = -1;
	if (dev->fd >= 0 && size == dev->size)
		return dev->fd;
	int fd = memfd_create("rximg-probe", MFD_CLOEXEC);
	if (fd < 0)
		return rx_fail(dev->ctx, errno, "memfd_create: %s", strerror(errno));
	if (size > (uint64_t)INT64_MAX) {
		close(fd);
		return rx_fail(dev->ctx, EFBIG, "%llu bytes: too large to probe for partitions",
			       (unsigned long long)size);
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return rx_fail(dev->ctx, errno, "ftruncate: %s", strerror(errno));
	}
	const uint64_t win = 1 << 20;
	uint8_t *buf = rx_xmalloc(win);
	uint64_t offs[2] = { 0, dev->size > win ? dev->size - win : 0 };
	for (int i = 0; i < 2; i++) {
		size_t n = (size_t)RX_MIN(win, dev->size - offs[i]);
		int r = rx_dev_read(dev, buf, n, offs[i]);
		if (r && i == 1 && offs[1] >= win) {
			/* Only a backup table can be there: the primary may do without it. */
			rx_clear(dev->ctx);
			continue;
		}
		if (r == 0 && pwrite(fd, buf, n, (off_t)offs[i]) != (ssize_t)n)
			r = rx_fail(dev->ctx, EIO, "cannot stage partition table");
		if (r) {
			free(buf);
			close(fd);
			return r;
		}
	}
	free(buf);
	*owned = fd;
	return fd;
}

/*
 * The disk size a GPT header at LBA 1 describes (its backup header is the
 * last sector), or 0. libblkid refuses a table that reaches past the device:
 * a truncated copy of a disk is probed at its full size, so its partitions
 * are still listed (and cut to what the image holds).
 */
static uint64_t gpt_disk_size(struct rx_dev *dev)
{
	uint8_t h[512];
	if (dev->size < 1024 || rx_dev_read(dev, h, sizeof(h), 512) != 0) {
		rx_clear(dev->ctx);
		return 0;
	}
	if (memcmp(h, "EFI PART", 8) != 0)
		return 0;
	uint64_t backup = get_le64(h + 32);
	if (backup >= (UINT64_C(1) << 53) / 512)
		return 0;	/* nonsense: leave the table to libblkid's judgement */
	return (backup + 1) * 512;
}

int rx_part_probe(struct rx_dev *dev, struct rx_parttable *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t probe_size = RX_MAX(dev->size, gpt_disk_size(dev));
	int owned, fd = probe_fd(dev, probe_size, &owned);
	if (fd < 0)
		return fd;
	blkid_probe pr = blkid_new_probe();
	int ret = 0;
	if (!pr || blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)probe_size) != 0) {
		ret = rx_fail(dev->ctx, EIO, "cannot probe for partitions");
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	blkid_partlist ls = blkid_probe_get_partitions(pr);
	if (!ls)
		goto out;	/* no table: not an error */
	blkid_parttable tab = blkid_partlist_get_table(ls);
	if (tab) {
		copy_str(out->type, sizeof(out->type), blkid_parttable_get_type(tab));
		copy_str(out->id, sizeof(out->id), blkid_parttable_get_id(tab));
	}
	int n = blkid_partlist_numof_partitions(ls);
	if (n < 0)
		n = 0;
	out->parts = rx_xcalloc((size_t)n + 1, sizeof(*out->parts));
	for (int i = 0; i < n; i++) {
		blkid_partition p = blkid_partlist_get_partition(ls, i);
		struct rx_part *dst = &out->parts[out->count];
		blkid_loff_t start = blkid_partition_get_start(p), size = blkid_partition_get_size(p);
		if (start < 0 || size <= 0)
			continue;
		dst->partno = blkid_partition_get_partno(p);
		dst->start = (uint64_t)start * 512;
		dst->size = (uint64_t)size * 512;
		copy_str(dst->type, sizeof(dst->type), blkid_partition_get_type_string(p));
		if (!dst->type[0])
			snprintf(dst->type, sizeof(dst->type), "0x%02x", blkid_partition_get_type(p));
		copy_str(dst->name, sizeof(dst->name), blkid_partition_get_name(p));
		copy_str(dst->uuid, sizeof(dst->uuid), blkid_partition_get_uuid(p));
		/* A table may describe more than the image holds (a truncated copy). */
		if (dst->start > dev->size)
			dst->size = 0;
		else if (dst->size > dev->size - dst->start)
			dst->size = dev->size - dst->start;
		out->count++;
	}
out:
	if (pr)
		blkid_free_probe(pr);
	if (owned >= 0)
		close(owned);
	return ret;
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
