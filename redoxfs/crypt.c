/* Encryption (spec 6): Argon2id-protected key slots and AES-128-XTS per 4 KiB block. */
#include <openssl/evp.h>
#include <stdlib.h>
#ifdef HAVE_ARGON2
#include <argon2.h>
#endif

#include "rfs.h"

struct rfs_crypt {
	EVP_CIPHER_CTX *enc, *dec;
};

/* One raw AES-128 block, no mode (how key slots wrap the two XTS keys). */
static int aes_block(const uint8_t key[16], int encrypt, const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok = c && EVP_CipherInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL, encrypt) == 1 &&
			EVP_CIPHER_CTX_set_padding(c, 0) == 1 && EVP_CipherUpdate(c, out, &n, in, 16) == 1 &&
			n == 16;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EIO;
}

int rfs_crypt_password_key(const uint8_t *pw, size_t len, const uint8_t salt[16], uint8_t pk[16])
{
#if defined(HAVE_ARGON2) && defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
	/* Fuzzing: remember the last key, so that only a mutated salt or password pays for Argon2. */
	static uint8_t last_pw[64], last_salt[16], last_pk[16];
	static size_t last_len = SIZE_MAX;
	if (len == last_len && len <= sizeof(last_pw) && !memcmp(pw, last_pw, len) && !memcmp(salt, last_salt, 16)) {
		memcpy(pk, last_pk, 16);
		return 0;
	}
	if (argon2id_hash_raw(3, 4096, 1, pw, len, salt, 16, pk, 16) != ARGON2_OK)
		return -EINVAL;
	if (len <= sizeof(last_pw)) {
		memcpy(last_pw, pw, len);
		memcpy(last_salt, salt, 16);
		memcpy(last_pk, pk, 16);
		last_len = len;
	}
	return 0;
#elif defined(HAVE_ARGON2)
	/* argon2 crate 0.4.1 defaults: Argon2id v0x13, t=3, m=4096 KiB, p=1, 16 bytes. */
	return argon2id_hash_raw(3, 4096, 1, pw, len, salt, 16, pk, 16) == ARGON2_OK ? 0 : -EINVAL;
#else
	(void)pw; (void)len; (void)salt; (void)pk;
	return -ENOTSUP;
#endif
}

int rfs_crypt_unwrap(const uint8_t pk[16], const uint8_t slot[48], uint8_t keys[32])
{
	int r = aes_block(pk, 0, slot + 16, keys);
	return r ? r : aes_block(pk, 0, slot + 32, keys + 16);
}

int rfs_crypt_wrap(const uint8_t pk[16], const uint8_t salt[16], const uint8_t keys[32], uint8_t slot[48])
{
	memcpy(slot, salt, 16);
	int r = aes_block(pk, 1, keys, slot + 16);
	return r ? r : aes_block(pk, 1, keys + 16, slot + 32);
}

struct rfs_crypt *rfs_crypt_new(const uint8_t keys[32])
{
	struct rfs_crypt *c = rx_xcalloc(1, sizeof(*c));
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	/* XTS: data key key1, tweak key key2 (IEEE 1619), as key1 || key2. */
	if (!c->enc || !c->dec || EVP_CipherInit_ex(c->enc, EVP_aes_128_xts(), NULL, keys, NULL, 1) != 1 ||
	    EVP_CipherInit_ex(c->dec, EVP_aes_128_xts(), NULL, keys, NULL, 0) != 1) {
		rfs_crypt_free(c);
		return NULL;
	}
	return c;
}

void rfs_crypt_free(struct rfs_crypt *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
	free(c);
}

/* len bytes as units of up to 4096, unit k with tweak (first + k) as a 128-bit LE number. */
int rfs_crypt_xts(struct rfs_crypt *c, int encrypt, uint64_t first, const uint8_t *in, uint8_t *out,
		  size_t len)
{
	EVP_CIPHER_CTX *ctx = encrypt ? c->enc : c->dec;
	for (size_t done = 0, k = 0; done < len; k++) {
		uint8_t iv[16] = { 0 };
		size_t unit = RX_MIN(len - done, (size_t)RFS_BLOCK);
		int n = 0;
		put_le64(iv, first + k);
		if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, encrypt) != 1 ||
		    EVP_CipherUpdate(ctx, out + done, &n, in + done, (int)unit) != 1 || (size_t)n != unit)
			return -EIO;
		done += unit;
	}
	return 0;
}

int rfs_encrypted_hash(struct rfs_crypt *c, uint64_t hash, uint64_t generation, uint8_t out[16])
{
	uint8_t h16[16] = { 0 };
	put_le64(h16, hash);
	if (!c) {
		memcpy(out, h16, 16);
		return 0;
	}
	return rfs_crypt_xts(c, 1, generation, h16, out, 16);
}

int rfs_unlock(struct rfs *fs, const uint8_t *pw, size_t len)
{
	if (!fs->hdr.encrypted)
		return rx_fail(fs->ctx, RX_ENOTENCRYPTED, "the filesystem is not encrypted");
	uint8_t want[16] = { 0 };
	put_le64(want, fs->hdr.hash);
	for (unsigned s = 0; s < 64; s++) {
		const uint8_t *slot = fs->hdr.raw + 80 + 48 * s;
		uint8_t pk[16], keys[32], got[16];
		if (rx_is_zero(slot, 48))
			continue;	/* an empty slot never opens (skipping it saves an Argon2 run) */
		int r = rfs_crypt_password_key(pw, len, slot, pk);
		if (r == -ENOTSUP)
			return rx_fail(fs->ctx, ENOTSUP, "encrypted, and rximg was built without libargon2");
		if (r || rfs_crypt_unwrap(pk, slot, keys))
			continue;
		struct rfs_crypt *c = rfs_crypt_new(keys);
		if (c && rfs_crypt_xts(c, 0, fs->hdr.generation, fs->hdr.raw + 4072, got, 16) == 0 &&
		    memcmp(got, want, 16) == 0) {
			rfs_crypt_free(fs->crypt);
			fs->crypt = c;
			return 0;
		}
		rfs_crypt_free(c);
	}
	return rx_fail(fs->ctx, RX_ENOKEY, "wrong password (no key slot opens with it)");
}
