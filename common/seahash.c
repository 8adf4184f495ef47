#include "seahash.h"
#include "rx.h"

#define SEA_P 0x6EED0E9DA4D94A4FULL

static inline uint64_t diffuse(uint64_t x)
{
	x *= SEA_P;
	x ^= (x >> 32) >> (x >> 60);
	x *= SEA_P;
	return x;
}

uint64_t seahash(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t a = 0x16F11FE89B0D677CULL, b = 0xB480A793D8E6C86CULL;
	uint64_t c = 0x6FE2E5AAF078EBC9ULL, d = 0x14F994A4C5259381ULL;
	size_t i = 0;

	/* Four lanes fed round-robin, 32 bytes per round. */
	for (; i + 32 <= len; i += 32) {
		a = diffuse(a ^ get_le64(p + i));
		b = diffuse(b ^ get_le64(p + i + 8));
		c = diffuse(c ^ get_le64(p + i + 16));
		d = diffuse(d ^ get_le64(p + i + 24));
	}
	uint64_t *lane[4] = { &a, &b, &c, &d };
	for (int k = 0; i < len; k++) {
		uint64_t w = 0;
		size_t n = RX_MIN(len - i, (size_t)8);
		for (size_t j = 0; j < n; j++)
			w |= (uint64_t)p[i + j] << (8 * j);
		*lane[k] = diffuse(*lane[k] ^ w);
		i += n;
	}
	return diffuse(a ^ b ^ c ^ d ^ (uint64_t)len);
}
