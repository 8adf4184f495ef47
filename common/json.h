/* A small streaming JSON writer: values are written as they are produced. */
#ifndef RX_JSON_H
#define RX_JSON_H

#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	unsigned char first[64];	/* no comma needed yet at this depth */
	unsigned char array[64];	/* the container at this depth is an array */
};

void json_init(struct json *j, FILE *f);
/* key is NULL inside arrays and at the top level. */
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
void json_end_obj(struct json *j);
void json_end_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *s);
void json_strn(struct json *j, const char *key, const char *s, size_t len);
/*
 * Integers: JSON readers keep only 53 bits of a number, so a field that can
 * exceed 2^53-1 is always a string, never a number that is sometimes exact.
 * json_u64 and json_i64 are for fields bounded below 2^53 by construction
 * (counts, ids, file sizes); json_u64_str writes decimal digits in a string
 * (byte sizes and offsets of containers, partitions and filesystems, counters
 * read from disk); json_hex writes "0x..." (addresses and bit masks).
 */
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_u64_str(struct json *j, const char *key, uint64_t v);
void json_hex(struct json *j, const char *key, uint64_t v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);
/* seconds.nanoseconds as a string, exact (a double would round). */
void json_time(struct json *j, const char *key, uint64_t sec, uint32_t nsec);
/* Finish the document with a newline. */
void json_done(struct json *j);

#endif
