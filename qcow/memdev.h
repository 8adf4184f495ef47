/*
 * A device over a buffer in memory: for the fuzz targets and unit tests,
 * which want an image without a file. Reads and writes go straight to the
 * caller's buffer (not copied, not freed), which must outlive the device.
 */
#ifndef RX_MEMDEV_H
#define RX_MEMDEV_H

#include "dev.h"

/*
 * buf holds cap bytes, of which the first len are the device. mode:
 * RX_DEV_RDONLY or RX_DEV_RDWR. A layer that grows its host file (qcow2)
 * may write past the end up to cap; beyond that writes fail with ENOSPC.
 */
int rx_dev_open_mem(struct rx_ctx *ctx, void *buf, uint64_t len, uint64_t cap, int mode,
		    const char *name, struct rx_dev **out);

#endif
