#include <stdio.h>
#include <stdlib.h>

#include "image.h"
#include "lock.h"

int rx_image_open(struct rx_ctx *ctx, const char *path, int partno, int mode,
		  struct rx_image **out)
{
	struct rx_image *img = rx_xcalloc(1, sizeof(*img));
	img->ctx = ctx;
	img->path = rx_xstrdup(path);
	img->partno = partno;
	int r = rx_dev_open_file(ctx, path, mode, &img->container);
	if (r == 0 && mode == RX_DEV_RDWR)
		r = rx_dev_lock(ctx, img->container, mode);
	if (r == 0)
		r = rx_part_probe(img->container, &img->table);
	if (r == 0 && partno > 0) {
		const struct rx_part *p = NULL;
		for (int i = 0; i < img->table.count; i++)
			if (img->table.parts[i].partno == partno)
				p = &img->table.parts[i];
		if (!p) {
			r = rx_fail(ctx, ENOENT, "no partition %d%s", partno,
				    img->table.type[0] ? "" : " (the image has no partition table)");
		} else {
			char *name = rx_xasprintf("%s:p%d", path, partno);
			r = rx_dev_open_slice(img->container, p->start, p->size, name, &img->fsdev);
			free(name);
		}
	}
	if (r) {
		rx_image_close(img);
		return r;
	}
	*out = img;
	return 0;
}

static const struct rx_part *part_at(const struct rx_parttable *t, uint64_t off)
{
	for (int i = 0; i < t->count; i++)
		if (off >= t->parts[i].start && off - t->parts[i].start < t->parts[i].size)
			return &t->parts[i];
	return NULL;
}

static int use_partition(struct rx_image *img, const struct rx_part *p)
{
	char *name = rx_xasprintf("%s:p%d", img->path, p->partno);
	int r = rx_dev_open_slice(img->container, p->start, p->size, name, &img->fsdev);
	free(name);
	img->partno = p->partno;
	return r;
}

/*
 * Like the reference driver: scan the first 256 MiB for a header. When it
 * lies inside a partition, present that partition, as the bootloader would
 * find it. Partitions starting beyond the scanned window are probed too.
 */
/* The partition the user named holds no RedoxFS: say what it is instead. */
static int not_in_partition(struct rx_image *img)
{
	const struct rx_part *p = NULL;
	for (int i = 0; i < img->table.count; i++)
		if (img->table.parts[i].partno == img->partno)
			p = &img->table.parts[i];
	const char *name = p ? rx_part_type_name(p->type) : NULL;
	rx_clear(img->ctx);
	if (name)
		return rx_fail(img->ctx, ENOENT, "no RedoxFS (partition p%d is a%s %s partition)", img->partno,
			       strchr("AEIOU", name[0]) ? "n" : "", name);
	return rx_fail(img->ctx, ENOENT, "no RedoxFS in partition p%d (type %s)", img->partno,
		       p ? p->type : "unknown");
}

static int locate(struct rx_image *img)
{
	uint64_t start;
	int r;

	if (img->fsdev) {
		r = rfs_probe(img->ctx, img->fsdev, &img->fs_start);
		return r == -ENOENT ? not_in_partition(img) : r;
	}
	r = rfs_probe(img->ctx, img->container, &start);
	if (r == 0) {
		const struct rx_part *p = part_at(&img->table, start);
		if (p && (r = use_partition(img, p)) == 0)
			img->fs_start = start - p->start;
		else if (!p) {
			img->fsdev = img->container;
			img->fs_start = start;
			img->partno = 0;
		}
		return r;
	}
	if (r != -ENOENT)
		return r;
	for (int i = 0; i < img->table.count; i++) {
		const struct rx_part *p = &img->table.parts[i];
		struct rx_dev *slice;
		if (p->start < (uint64_t)RFS_SCAN_BLOCKS * RFS_BLOCK)
			continue;
		if (rx_dev_open_slice(img->container, p->start, p->size, img->path, &slice))
			continue;
		r = rfs_probe(img->ctx, slice, &start);
		rx_dev_close(slice);
		if (r == 0) {
			img->fs_start = start;
			return use_partition(img, p);
		}
	}
	return rx_fail(img->ctx, ENOENT, "no RedoxFS found (looked in the first %u MiB%s)", RFS_SCAN_BLOCKS * RFS_BLOCK >> 20,
		       img->table.count ? " and at the start of every partition" : "");
}

int rx_image_redoxfs(struct rx_image *img, struct rfs **fs)
{
	if (img->fs) {
		*fs = img->fs;
		return 0;
	}
	int r = locate(img);
	if (r == 0)
		r = rfs_open(img->ctx, img->fsdev, img->fs_start, &img->fs);
	if (r == 0)
		*fs = img->fs;
	return r;
}

void rx_image_close(struct rx_image *img)
{
	if (!img)
		return;
	rfs_close(img->fs);
	if (img->fsdev != img->container)
		rx_dev_close(img->fsdev);
	if (img->container && rx_dev_lock_fd(img->container) >= 0)
		rx_lock_release(rx_dev_lock_fd(img->container));
	rx_dev_close(img->container);
	rx_part_free(&img->table);
	free(img->path);
	free(img);
}
