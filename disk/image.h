/* An image as the user names it: container, partition table, RedoxFS. */
#ifndef RX_IMAGE_H
#define RX_IMAGE_H

#include "dev.h"
#include "part.h"
#include "rfs.h"

struct rx_image {
	struct rx_ctx *ctx;
	char *path;
	struct rx_dev *container;
	struct rx_parttable table;
	struct rx_dev *fsdev;	/* partition slice, or the container itself */
	int partno;		/* partition holding RedoxFS, 0 = the whole image */
	uint64_t fs_start;	/* ring base inside fsdev, bytes */
	struct rfs *fs;
};

#define RX_PART_AUTO (-1)

int rx_image_open(struct rx_ctx *ctx, const char *path, int partno, int mode,
		  struct rx_image **out);
/* Locate and open the RedoxFS (the forced partition, or found as the bootloader does). */
int rx_image_redoxfs(struct rx_image *img, struct rfs **fs);
void rx_image_close(struct rx_image *img);

#endif
