#ifndef RX_SEAHASH_H
#define RX_SEAHASH_H
#include <stddef.h>
#include <stdint.h>

/* SeaHash with the default seeds: the checksum of every RedoxFS block. */
uint64_t seahash(const void *buf, size_t len);

#endif
