/* Shared basics: the error context, little-endian codecs, small helpers. */
#ifndef RX_H
#define RX_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "platform.h"

/*
 * Library code never prints or exits: it returns 0 or -errno and leaves a
 * one-line message here for the front-end to print.
 */
struct rx_ctx {
	char msg[1024];
	int err;
};

#if defined(__GNUC__)
#define RX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RX_PRINTF(a, b)
#endif

/* Record "what went wrong" and return -err; err must be a positive errno. */
int rx_fail(struct rx_ctx *ctx, int err, const char *fmt, ...) RX_PRINTF(3, 4);
/* Prefix the recorded message with "prefix: " (used to add file and path). */
void rx_prefix(struct rx_ctx *ctx, const char *fmt, ...) RX_PRINTF(2, 3);
void rx_clear(struct rx_ctx *ctx);

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
	       (uint32_t)p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static inline int rx_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	/* Compare the buffer with itself shifted by one: fast and allocation free. */
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

#define RX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RX_MAX(a, b) ((a) > (b) ? (a) : (b))

/* malloc that never returns NULL: running out of memory here is fatal. */
void *rx_xmalloc(size_t n);
void *rx_xcalloc(size_t n, size_t size);
void *rx_xrealloc(void *p, size_t n);
char *rx_xstrdup(const char *s);
char *rx_xasprintf(const char *fmt, ...) RX_PRINTF(1, 2);
/* dir + "/" + the first len bytes of name (no doubled slash after "/"). */
char *rx_path_join(const char *dir, const char *name, size_t len);

#endif
