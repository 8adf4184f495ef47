/* Encryption against the specification's vectors (spec 6.2, 6.3). */
#include <stdlib.h>

#include "rfs.h"
#include "tap.h"

static void hex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

int main(void)
{
	uint8_t salt[16], pk[16], want[48], keys[32], slot[48], back[32];
	for (int i = 0; i < 16; i++) {
		salt[i] = (uint8_t)i;
		keys[i] = (uint8_t)(0x10 + i);
		keys[16 + i] = (uint8_t)(0x20 + i);
	}
#ifdef HAVE_ARGON2
	hex("95249f0edaebceca2ffeccd2f7bc1a6a", want);
	ok(rfs_crypt_password_key((const uint8_t *)"password", 8, salt, pk) == 0 && memcmp(pk, want, 16) == 0,
	   "Argon2id(t=3, m=4096 KiB, p=1) of 'password' gives the spec's key");
#else
	hex("95249f0edaebceca2ffeccd2f7bc1a6a", pk);
	ok(1, "# SKIP built without libargon2");
#endif
	hex("000102030405060708090a0b0c0d0e0f" "f2b1da32c5f482433f82ddad539c9b26"
	    "7d1551d8428439c3936f0d2d48f8e5a6", want);
	hex("95249f0edaebceca2ffeccd2f7bc1a6a", pk);
	ok(rfs_crypt_wrap(pk, salt, keys, slot) == 0 && memcmp(slot, want, 48) == 0,
	   "key slot: salt and both keys wrapped with AES-128");
	ok(rfs_crypt_unwrap(pk, slot, back) == 0 && memcmp(back, keys, 32) == 0, "key slot unwraps");

	struct rfs_crypt *c = rfs_crypt_new(keys);
	static uint8_t zero[4096], ct[4096], pt[4096];
	uint8_t head[32];
	hex("d2dc0ffaa1ff4c48a78fc553c25b8eb41ac2f5168264607a269dd294f2e1717e", head);
	ok(c && rfs_crypt_xts(c, 1, 259, zero, ct, sizeof(zero)) == 0 && memcmp(ct, head, 32) == 0,
	   "XTS of a zero block at index 259 matches the spec");
	ok(rfs_crypt_xts(c, 0, 259, ct, pt, sizeof(ct)) == 0 && memcmp(pt, zero, sizeof(zero)) == 0,
	   "and decrypts back");
	uint8_t eh[16], weh[16];
	hex("4535188f7cb974ce75fa3e7ab8ff2d76", weh);
	ok(rfs_encrypted_hash(c, 0xDC5EB6D8BC3D2156ULL, 3, eh) == 0 && memcmp(eh, weh, 16) == 0,
	   "encrypted_hash for generation 3 matches the spec");
	rfs_crypt_free(c);
	return tap_done();
}
