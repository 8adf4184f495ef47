/* Internals shared by the FAT sources: the decoded volume and its in-memory FAT. */
#ifndef RX_FAT_INT_H
#define RX_FAT_INT_H

#include "fat.h"

#define FAT_DIRENT 32
#define FAT_MAX_DIR_ENTRIES 65536	/* the specification's limit for one directory */
#define FAT_MAX_FAT_BYTES (64u << 20)	/* an in-memory FAT larger than this is refused */
#define FAT_FSINFO_UNKNOWN 0xFFFFFFFFu

/* The boot sector's layout, validated. */
struct fat_bpb {
	int type;
	uint32_t bps, spc, cluster_size;
	uint32_t reserved, nfats, fat_sectors, root_entries, root_sectors, total_sectors;
	uint32_t first_data_sector, clusters;
	uint32_t root_cluster, fsinfo_sector;
	int mirrored;
	uint32_t active_fat;
	uint8_t media;
	uint32_t volume_id;
	char label[12];
};

struct fat_fs {
	struct rx_ctx *ctx;
	struct rx_dev *dev;
	int writable;
	struct fat_bpb b;
	uint8_t *fat;			/* the active FAT as on disk plus this operation's changes */
	size_t fat_bytes;
	uint8_t *dirty;			/* one flag per FAT sector changed in memory */
	uint32_t nfree;
	uint32_t hint;			/* where the next allocation search starts */
	int fats_differ;
	int fsinfo_ok;			/* FAT32 FSInfo sector present with valid signatures */
	uint32_t fsinfo_free, fsinfo_next;	/* as on disk */
	int64_t now;
	/* read cursor: the chain of cur_first is valid and cur_index-th cluster is cur_cluster */
	uint32_t cur_first, cur_index, cur_cluster;
};

static inline uint64_t fat_cluster_off(const struct fat_fs *fs, uint32_t c)
{
	return ((uint64_t)fs->b.first_data_sector + (uint64_t)(c - 2) * fs->b.spc) * fs->b.bps;
}

static inline int fat_cluster_valid(const struct fat_fs *fs, uint32_t c)
{
	return c >= 2 && c - 2 < fs->b.clusters;
}

/* bpb.c */
int fat_bpb_parse(struct rx_ctx *ctx, const uint8_t *sec, size_t len, uint64_t dev_size, struct fat_bpb *b);
int fat_fsinfo_write(struct fat_fs *fs, uint32_t free_count, uint32_t next);

/* table.c: entries of the in-memory FAT */
uint32_t fat_get(const struct fat_fs *fs, uint32_t c);
void fat_set(struct fat_fs *fs, uint32_t c, uint32_t v);
uint32_t fat_eoc(const struct fat_fs *fs);	/* the end-of-chain value we write */
int fat_load(struct fat_fs *fs);
/* The cluster after c in its chain (0 at the end); a free, bad or out-of-range link is an error. */
int fat_next(struct fat_fs *fs, uint32_t c, uint32_t *next);
/* Length of the chain from first, bounded by the cluster count (a loop is an error). */
int fat_chain_len(struct fat_fs *fs, uint32_t first, uint32_t *len);
/* Take a free cluster (marked end-of-chain) and append it after prev (0: a new chain). */
int fat_alloc(struct fat_fs *fs, uint32_t prev, uint32_t *out);
/* Free the chain from first in memory (validated first: nothing changes on error). */
int fat_free_chain(struct fat_fs *fs, uint32_t first);
/* Write changed FAT sectors to every copy (first copy first), then flush. */
int fat_commit(struct fat_fs *fs);
/* Drop uncommitted FAT changes (re-read the changed sectors). */
void fat_rollback(struct fat_fs *fs);

/* check.c: every directory and chain consistent (lost clusters allowed); run before writing. */
int fat_check(struct fat_fs *fs);

/* dirent.c: directories held in memory while they are read or changed */
struct fat_dir {
	uint32_t first;			/* 0: the fixed FAT12/16 root */
	uint8_t *buf, *orig;		/* current bytes, and as on disk */
	size_t len;			/* bytes, a multiple of 32 */
	uint32_t *clusters;
	size_t nclusters;
};

int fat_dir_load(struct fat_fs *fs, uint32_t first, struct fat_dir *d);
void fat_dir_free(struct fat_dir *d);
/* The next live entry at or after *slot (advanced past it): 1, 0 at the end, or -errno. */
int fat_dir_next(struct fat_fs *fs, const struct fat_dir *d, uint32_t *slot, struct fat_node *out);
/* Find name (case-insensitively): 1 found, 0 not, or -errno. */
int fat_dir_find(struct fat_fs *fs, const struct fat_dir *d, const char *name, size_t len, struct fat_node *out);
/* Build the entry set for name in d's buffer (short name made unique, skipping slot `ignore`). */
int fat_dir_add(struct fat_fs *fs, struct fat_dir *d, const char *name, size_t len, uint8_t attr,
		uint32_t cluster, uint32_t size, uint32_t ignore_slot, uint32_t *sfn_slot);
void fat_dir_remove(struct fat_dir *d, const struct fat_node *n);
/* Write the sectors that differ from disk, the one holding byte `last` after all others. */
int fat_dir_commit(struct fat_fs *fs, struct fat_dir *d, size_t last);
uint64_t fat_dir_dev_off(const struct fat_fs *fs, const struct fat_dir *d, size_t off);
/* Append one zeroed cluster (written, flushed and linked in both FATs). */
int fat_dir_grow(struct fat_fs *fs, struct fat_dir *d);

/* Encoding helpers (dirent.c), exposed for the unit tests. */
uint8_t fat_lfn_checksum(const uint8_t sfn[11]);
/* UTF-8 to UTF-16: units written (<= max), or -1 for invalid UTF-8 or too long. */
int fat_utf8_to_utf16(const char *s, size_t len, uint16_t *out, int max);
/* UTF-16 to UTF-8 (out holds 3 bytes per unit + 1): bytes, or -1 for an unpaired surrogate. */
int fat_utf16_to_utf8(const uint16_t *u, int n, char *out);
/* The 8.3 form of a long name: 1 if it is exactly representable (case flags in *ntres), 0 if lossy. */
int fat_short_basis(const uint16_t *u, int n, uint8_t sfn[11], uint8_t *ntres);
void fat_time_encode(int64_t t, uint16_t *date, uint16_t *time, uint8_t *tenth);
int64_t fat_time_decode(uint16_t date, uint16_t time);

#endif
