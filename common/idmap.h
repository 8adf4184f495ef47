/*
 * An open-addressing map from ids to small values (visited sets, counters):
 * RedoxFS node ids, and a vfs's inode numbers (an archive's or a FAT's are
 * wider than 32 bits).
 */
#ifndef RX_IDMAP_H
#define RX_IDMAP_H

#include <stdint.h>
#include <stddef.h>

struct idmap {
	size_t cap, count;	/* cap is a power of two */
	uint64_t *keys;		/* 0 = empty: id 0 is never valid */
	void **vals;
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* The value slot for id, created (NULL) when absent if create is set. */
void **idmap_slot(struct idmap *m, uint64_t id, int create);
/* Visit every entry in no particular order. */
#define IDMAP_FOREACH(m, i) for (size_t i = 0; i < (m)->cap; i++) if ((m)->keys[i])

#endif
