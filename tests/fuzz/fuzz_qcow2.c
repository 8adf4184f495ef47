/*
 * qcow2 from untrusted bytes: header, extensions (backing name and format),
 * L1, L2 and refcount tables, compressed clusters. The input is the host file
 * itself. It is opened with RX_DEV_NO_BACKING, so no backing file is ever
 * opened (a name is only resolved as a string). The guest disk is classified
 * extent by extent and read; then, on a copy, opened for writing, written
 * (allocating clusters and refcount blocks) and read back.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "memdev.h"
#include "qcow2.h"

#define ROOM (4u << 20)		/* room for the file to grow while writing */

static void read_guest(struct rx_dev *q)
{
	static uint8_t buf[65536];
	uint64_t off = 0;
	/* Extents bound the work on a huge sparse disk; reads stop after 8 MiB of data. */
	for (int steps = 0, data = 0; off < q->size && steps < 256 && data < 128; steps++) {
		uint64_t len = q->size - off;
		int zero = 0;
		if (rx_qcow2_extent(q, off, &len, &zero) != 0 || len == 0)
			break;
		if (!zero) {
			size_t chunk = (size_t)RX_MIN(len, (uint64_t)sizeof(buf));
			rx_dev_read(q, buf, chunk, off);
			data++;
		}
		uint64_t held_len = q->size - off;
		int held;
		rx_qcow2_held(q, off, &held_len, &held);
		off += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct rx_ctx ctx = { 0 };
	struct rx_dev *file, *q;
	/* The input is only read: the memory device reads it in place, the copy-on-write one takes the writes. */
	if (rx_dev_open_mem(&ctx, (void *)data, n, n, RX_DEV_RDONLY, "fuzz.qcow2", &file) == 0 &&
	    rx_qcow2_open(file, RX_DEV_RDONLY | RX_DEV_NO_BACKING, NULL, &q) == 0) {
		read_guest(q);
		rx_dev_close(q);
	}
	if (rx_dev_open_mem(&ctx, (void *)data, n, n, RX_DEV_RDONLY, "fuzz.qcow2", &file) == 0 &&
	    rx_qcow2_open(fuzz_cow_dev(file, n + ROOM), RX_DEV_RDWR | RX_DEV_NO_BACKING, NULL, &q) == 0) {
		static const uint8_t pattern[4096] = { 'R', 'X' };
		uint64_t at[] = { 0, q->size / 2, q->size > 4096 ? q->size - 4096 : 0, 70000 };
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			uint64_t len = RX_MIN((uint64_t)sizeof(pattern), q->size > at[i] ? q->size - at[i] : 0);
			if (len && rx_dev_write(q, pattern, (size_t)len, at[i]) != 0)
				break;
		}
		rx_dev_flush(q);
		read_guest(q);
		rx_dev_close(q);
	}
	return 0;
}
