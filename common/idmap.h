/* An open-addressing map from 32-bit ids to small values (visited sets, counters). */
#ifndef RX_IDMAP_H
#define RX_IDMAP_H

#include <stdint.h>
#include <stddef.h>

struct idmap {
	size_t cap, count;	/* cap is a power of two */
	uint32_t *keys;		/* 0 = empty: node id 0 is never valid */
	void **vals;
};

void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* The value slot for id, created (NULL) when absent if create is set. */
void **idmap_slot(struct idmap *m, uint32_t id, int create);
/* Visit every entry in no particular order. */
#define IDMAP_FOREACH(m, i) for (size_t i = 0; i < (m)->cap; i++) if ((m)->keys[i])

/* The same for 64-bit keys: the inode numbers of a vfs (an archive's or a FAT's are wider than 32 bits). */
struct inomap {
	size_t cap, count;
	uint64_t *keys;		/* 0 = empty */
	void **vals;
};

void inomap_init(struct inomap *m);
void inomap_free(struct inomap *m);
void **inomap_slot(struct inomap *m, uint64_t ino, int create);

#endif
