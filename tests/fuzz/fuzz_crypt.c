/*
 * Encrypted RedoxFS: the header's key slots tried with a fixed password
 * ("password", as tests/fuzz/seeds.sh makes its seeds), then, when one opens,
 * the decrypted filesystem walked as fuzz_redoxfs does. Input: a sparse image.
 *
 * Argon2 costs milliseconds a slot; the fuzzing build remembers the keys it
 * derived (redoxfs/crypt.c), so that only mutated salts pay for it.
 */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const char pw[] = "password";
	struct rx_ctx ctx = { 0 };
	struct rx_dev *dev;
	struct rfs *fs;
	uint64_t start;
	if ((dev = fuzz_sparse_dev(&ctx, data, n)) != NULL) {
		if (rfs_probe(&ctx, dev, &start) == 0 && rfs_open(&ctx, dev, start, &fs) == 0) {
			if (fs->hdr.encrypted && rfs_unlock(fs, (const uint8_t *)pw, sizeof(pw) - 1) == 0)
				fuzz_rfs_exercise(fs);
			rfs_close(fs);
		}
		rx_dev_close(dev);
	}
	return 0;
}
