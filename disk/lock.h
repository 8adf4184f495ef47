/* Refusing to write an image someone else is using. */
#ifndef RX_LOCK_H
#define RX_LOCK_H

#include "rx.h"

/*
 * Take rximg's exclusive lock on the open image (held until fd is closed) and
 * make sure no one else has it: another rximg or mount, QEMU (its OFD byte
 * locks), or any other process that has the file open for writing.
 */
int rx_lock_image(struct rx_ctx *ctx, int fd);

#endif
