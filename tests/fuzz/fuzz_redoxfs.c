/*
 * RedoxFS from untrusted bytes: find the header ring, open, run the full
 * check, then list every directory and read every file and symlink, as check
 * and extract do. Input: a sparse image (fuzz.h).
 */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct rx_ctx ctx = { 0 };
	struct rx_dev *dev;
	struct rfs *fs;
	uint64_t start;
	if ((dev = fuzz_sparse_dev(&ctx, data, n)) != NULL) {
		if (rfs_probe(&ctx, dev, &start) == 0 && rfs_open(&ctx, dev, start, &fs) == 0) {
			if (!fs->hdr.encrypted)
				fuzz_rfs_exercise(fs);
			rfs_close(fs);
		}
		rx_dev_close(dev);
	}
	return 0;
}
