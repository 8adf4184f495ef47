/*
 * Partition tables from untrusted bytes: GPT (primary and backup headers,
 * entry arrays) and MBR (with extended partition chains). Every partition
 * found becomes a slice and its first and last sectors are read, as the
 * RedoxFS search does. Input: a sparse image (fuzz.h).
 */
#include <stdlib.h>

#include "fuzz.h"
#include "part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct rx_ctx ctx = { 0 };
	struct rx_dev *dev, *slice;
	struct rx_parttable t;
	if ((dev = fuzz_sparse_dev(&ctx, data, n)) != NULL) {
		if (rx_part_probe(dev, &t) == 0) {
			for (int i = 0; i < t.count; i++) {
				const struct rx_part *p = &t.parts[i];
				uint8_t sector[512];
				rx_part_type_name(p->type);
				if (rx_dev_open_slice(dev, p->start, p->size, "fuzz.img:p", &slice) != 0)
					continue;
				if (slice->size >= sizeof(sector)) {
					rx_dev_read(slice, sector, sizeof(sector), 0);
					rx_dev_read(slice, sector, sizeof(sector), slice->size - sizeof(sector));
				}
				rx_dev_close(slice);
			}
			rx_part_free(&t);
		}
		rx_dev_close(dev);
	}
	return 0;
}
