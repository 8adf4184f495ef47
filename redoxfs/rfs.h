/* RedoxFS v8: the on-disk format and the read path. */
#ifndef RX_RFS_H
#define RX_RFS_H

#include <pthread.h>
#include <stdint.h>

#include "dev.h"
#include "bmap.h"

#define RFS_BLOCK 4096u
#define RFS_HEADER_RING 256u
#define RFS_FIRST_DATA_BLOCK 257u	/* the ring and block 256 are never data */
#define RFS_VERSION 8u
#define RFS_RECORD_LEVEL 5u
#define RFS_NAME_MAX 252u
#define RFS_INLINE_OFF 128u
#define RFS_INLINE_MAX (RFS_BLOCK - RFS_INLINE_OFF)	/* 3968 */
#define RFS_TREE_ENTRIES 254u
#define RFS_BLOCKLIST_ENTRIES 256u
#define RFS_HTREE_ENTRIES 204u
#define RFS_DIRLIST_BYTES 4092u
#define RFS_MIN_BLOCKS 265u
#define RFS_SCAN_BLOCKS 65536u	/* the ring must start in the first 256 MiB */
#define RFS_ROOT_ID 1u

#define RFS_MODE_TYPE 0xF000u
#define RFS_MODE_FILE 0x8000u
#define RFS_MODE_DIR 0x4000u
#define RFS_MODE_SYMLINK 0xA000u
#define RFS_MODE_SOCK 0xC000u
#define RFS_MODE_PERM 0x0FFFu
#define RFS_FLAG_INLINE 1u

extern const uint8_t rfs_signature[8];

struct rfs_ptr {
	uint64_t addr;
	uint64_t hash;
};

static inline uint64_t rfs_ptr_index(struct rfs_ptr p) { return p.addr >> 8; }
static inline unsigned rfs_ptr_level(struct rfs_ptr p) { return (unsigned)(p.addr & 0xF); }
static inline unsigned rfs_ptr_decomp(struct rfs_ptr p) { return (unsigned)((p.addr >> 4) & 0xF); }
static inline int rfs_ptr_is_marker(struct rfs_ptr p)
{
	return (p.addr | 0xF) == UINT64_MAX && p.hash == UINT64_MAX;
}
static inline int rfs_ptr_is_null(struct rfs_ptr p)
{
	return !rfs_ptr_is_marker(p) && rfs_ptr_index(p) == 0;
}
struct rfs_ptr rfs_ptr_decode(const uint8_t *p);
void rfs_ptr_encode(uint8_t *p, struct rfs_ptr ptr);

struct rfs_header {
	uint64_t version;
	uint8_t uuid[16];
	uint64_t size;		/* bytes */
	uint64_t generation;
	struct rfs_ptr tree, alloc, release;
	uint64_t hash;
	int encrypted;
	uint8_t raw[RFS_BLOCK];
};

/* Decode and validate one header block; 0 if it is a valid v8 header. */
int rfs_header_decode(const uint8_t *block, struct rfs_header *out);
uint64_t rfs_header_checksum(const uint8_t *block);
struct rfs_crypt;
/* Store the header's hash (and its encrypted form, with c; plain without) after a change. */
int rfs_header_seal(uint8_t *block, struct rfs_crypt *c);

struct rfs_node {
	uint32_t id;
	uint64_t block;		/* fs block holding the node */
	uint16_t mode;
	uint32_t uid, gid, links;
	uint64_t size, blocks;
	uint64_t ctime, mtime, atime;
	uint32_t ctime_nsec, mtime_nsec, atime_nsec;
	uint32_t record_level, flags;
	uint8_t raw[RFS_BLOCK];
};

static inline int rfs_is_dir(const struct rfs_node *n) { return (n->mode & RFS_MODE_TYPE) == RFS_MODE_DIR; }
static inline int rfs_is_file(const struct rfs_node *n) { return (n->mode & RFS_MODE_TYPE) == RFS_MODE_FILE; }
static inline int rfs_is_symlink(const struct rfs_node *n) { return (n->mode & RFS_MODE_TYPE) == RFS_MODE_SYMLINK; }
static inline int rfs_is_inline(const struct rfs_node *n) { return (n->flags & RFS_FLAG_INLINE) != 0; }
static inline uint64_t rfs_record_size(const struct rfs_node *n) { return (uint64_t)RFS_BLOCK << n->record_level; }
/* 128 direct records plus four levels of indirection (spec 8.3). */
#define RFS_MAX_RECORDS (128ULL + 64ULL * 256 + 32ULL * 65536 + 16ULL * 16777216 + 8ULL * 4294967296ULL)
static inline uint64_t rfs_max_file_size(const struct rfs_node *n) { return RFS_MAX_RECORDS * rfs_record_size(n); }
static inline struct rfs_ptr rfs_node_level_ptr(const struct rfs_node *n, unsigned slot)
{
	return rfs_ptr_decode(n->raw + RFS_INLINE_OFF + 16 * slot);
}

struct rfs_cache;
struct rfs_tx;
struct rfs_crypt;

struct rfs {
	struct rx_dev *dev;
	struct rx_ctx *ctx;
	uint64_t start;		/* byte offset of fs block 0 inside dev */
	uint64_t nblocks;	/* header.size / 4096 */
	struct rfs_header hdr;
	struct rfs_cache *cache;
	pthread_mutex_t lock;	/* guards the cache */
	struct rfs_tx *tx;	/* the open write transaction: reads see its blocks */
	struct rfs_crypt *crypt;	/* set once an encrypted filesystem is unlocked */
	/* Set by a mount: is this node open? (then unlink parks it on the release list) */
	int (*is_open)(void *arg, uint32_t id);
	void *is_open_arg;
	/*
	 * Told of each name a write took out without reading its node, because
	 * the node (or a directory's listing) is damaged: path as the operation
	 * knew it, why = what was wrong. The blocks it held are left, leaked.
	 */
	void (*dropped)(void *arg, const char *path, const char *why);
	void *dropped_arg;
};

/*
 * Find the first valid header in the first RFS_SCAN_BLOCKS blocks of dev (as
 * the reference driver and bootloader do) and return the ring base in bytes.
 */
int rfs_probe(struct rx_ctx *ctx, struct rx_dev *dev, uint64_t *start);
int rfs_open(struct rx_ctx *ctx, struct rx_dev *dev, uint64_t start, struct rfs **out);
void rfs_close(struct rfs *fs);

/*
 * Read the block a pointer names, verifying range, alignment and checksum.
 * buf holds 4096 << level bytes. meta: the pointer must be level 0, uncompressed.
 */
int rfs_read_ptr(struct rfs *fs, struct rfs_ptr ptr, int meta, void *buf);
/* The checks of rfs_read_ptr that need no read: range, alignment, levels. */
int rfs_ptr_check(struct rfs *fs, struct rfs_ptr ptr, int meta);
/*
 * The block pointer stored at byte off of the metadata block ptr names, read
 * and verified as rfs_read_ptr(meta) does; a block already cached is not
 * copied whole.
 */
int rfs_read_ptr_at(struct rfs *fs, struct rfs_ptr ptr, size_t off, struct rfs_ptr *out);

int rfs_node_get(struct rfs *fs, uint32_t id, struct rfs_node *out);
/* Where the node tree says node id is (a null pointer when it is not there). */
int rfs_node_ptr(struct rfs *fs, uint32_t id, struct rfs_ptr *out);

/* The node a directory entry names: one missing from the tree is damage (RX_ECORRUPT), not ENOENT. */
int rfs_node_of_entry(struct rfs *fs, uint32_t id, struct rfs_node *out);
/*
 * Does the error r (-errno) say that what was read is damaged: a checksum
 * mismatch or a structure that does not decode? (Not: missing, unreadable
 * device, no key.) Walkers report such a path and go on; writers may drop
 * the name of a damaged node without following it.
 */
int rfs_is_damage(int r);

/* Record pointer r of a file (null when a hole or out of the tree). */
int rfs_record_ptr(struct rfs *fs, const struct rfs_node *node, uint64_t r, struct rfs_ptr *out);
/* Decode a record into buf (record size bytes), zero-extending short records. */
int rfs_record_load(struct rfs *fs, const struct rfs_node *node, struct rfs_ptr ptr, uint8_t *buf);
/*
 * Visit every non-null record pointer of a file in ascending record order,
 * for records that lie below the file size. Holes are skipped wholesale.
 */
typedef int (*rfs_record_cb)(void *arg, uint64_t r, struct rfs_ptr ptr);
int rfs_record_walk(struct rfs *fs, const struct rfs_node *node, rfs_record_cb cb, void *arg);
/*
 * Visit every block a file or directory owns: indirect BlockLists and records,
 * including stale pointers at or beyond the end of file that the reference
 * leaves behind when it shrinks a file (kind tells which).
 */
enum rfs_block_kind { RFS_BLK_INDEX, RFS_BLK_RECORD, RFS_BLK_STALE_INDEX, RFS_BLK_STALE_RECORD };
typedef int (*rfs_block_cb)(void *arg, struct rfs_ptr ptr, int kind);
int rfs_file_blocks(struct rfs *fs, const struct rfs_node *node, rfs_block_cb cb, void *arg);
/* The same, for a caller that reads every record it is shown: they are hinted ahead (read-ahead). */
int rfs_file_blocks_reading(struct rfs *fs, const struct rfs_node *node, rfs_block_cb cb, void *arg);

/* Read up to len bytes at off; returns bytes read (0 at or past EOF) or -errno. */
int64_t rfs_read(struct rfs *fs, const struct rfs_node *node, uint64_t off, void *buf, size_t len);

/*
 * Stream a file's contents as data runs in ascending offset order. Holes and
 * all-zero records are skipped: whatever lies between runs (and up to the
 * file size) is zeros. buf is valid only during the call.
 */
typedef int (*rfs_data_cb)(void *arg, uint64_t off, const uint8_t *buf, size_t len);
int rfs_read_stream(struct rfs *fs, const struct rfs_node *node, rfs_data_cb cb, void *arg);

/* Directory entries, in listing order. name is not NUL-terminated. */
typedef int (*rfs_dir_cb)(void *arg, uint32_t id, const char *name, size_t len);
int rfs_dir_iterate(struct rfs *fs, const struct rfs_node *dir, rfs_dir_cb cb, void *arg);
/* Visit the directory's own blocks (DirLists and HTree blocks). */
int rfs_dir_blocks(struct rfs *fs, const struct rfs_node *dir, rfs_block_cb cb, void *arg);
int rfs_dir_lookup(struct rfs *fs, const struct rfs_node *dir, const char *name, size_t len,
		   uint32_t *id);
uint32_t rfs_name_hash(const char *name, size_t len);
/* 0 if name is acceptable as a RedoxFS entry name, else a short reason. */
const char *rfs_name_problem(const char *name, size_t len);

/*
 * Resolve an absolute path. Symlinks in intermediate components are followed
 * inside the image; the last one only when follow is set.
 */
int rfs_lookup(struct rfs *fs, const char *path, int follow, struct rfs_node *out);
/* Read a symlink target (NUL-terminated, at most 4096 bytes) into a malloc'd buffer. */
int rfs_readlink(struct rfs *fs, const struct rfs_node *node, char **target);

/* Encryption (spec 6). */
int rfs_crypt_password_key(const uint8_t *pw, size_t len, const uint8_t salt[16], uint8_t pk[16]);
int rfs_crypt_unwrap(const uint8_t pk[16], const uint8_t slot[48], uint8_t keys[32]);
int rfs_crypt_wrap(const uint8_t pk[16], const uint8_t salt[16], const uint8_t keys[32], uint8_t slot[48]);
struct rfs_crypt *rfs_crypt_new(const uint8_t keys[32]);
void rfs_crypt_free(struct rfs_crypt *c);
int rfs_crypt_xts(struct rfs_crypt *c, int encrypt, uint64_t first, const uint8_t *in, uint8_t *out,
		  size_t len);
/* The 16 bytes at header offset 4072 for a header with this hash and generation. */
int rfs_encrypted_hash(struct rfs_crypt *c, uint64_t hash, uint64_t generation, uint8_t out[16]);
/* Try the password on every key slot; RX_ENOKEY-style failure when none opens. */
int rfs_unlock(struct rfs *fs, const uint8_t *pw, size_t len);

/* Free blocks from replaying the allocation log. */
int rfs_free_blocks(struct rfs *fs, uint64_t *free_blocks);

/*
 * Replay the allocation log into a map of free blocks (1 = free), one bit per
 * fs block; also reports the AllocList blocks it walked. On success free_map
 * is set up (the caller frees it with bmap_free); on failure it is left empty.
 */
int rfs_alloc_replay(struct rfs *fs, struct bmap *free_map, rfs_block_cb cb, void *arg);



/*
 * A directory read into memory (names NUL-terminated), in storage order. The
 * names sit after the array in the same allocation (one free() releases all):
 * a directory of 10^6 short names takes some 25 MB, not the 264 MB of a
 * full-length name buffer in every entry.
 */
struct rfs_dirent {
	uint32_t id;
	uint8_t len;
	char *name;
};
int rfs_dir_list(struct rfs *fs, const struct rfs_node *dir, struct rfs_dirent **out, size_t *count);
/* Sort by name bytes; fails naming the first duplicate name. */
int rfs_dirents_sort(struct rfs *fs, struct rfs_dirent *ents, size_t count);

enum { RFS_PREFETCH_NODES = 1, RFS_PREFETCH_CONTENTS = 2 };
/*
 * For a walker about to visit a directory's entries (in any order): hint
 * their node blocks and, with RFS_PREFETCH_CONTENTS, also what their
 * contents start with (the nodes are read for that, in address order). At
 * most 32 MiB are hinted (prefetch.h); what lies beyond is read as before.
 */
void rfs_prefetch_entries(struct rfs *fs, const struct rfs_dirent *ents, size_t count, int what);
/*
 * Read the node blocks of a listing's entries into the block cache, in
 * address order and a run of nearby blocks per read, each verified against
 * its pointer: for a caller about to ask for each of them (a listing with
 * attributes) when the blocks are likely in the page cache already, where
 * rfs_prefetch_entries' hints would not save the reads. Best effort and
 * silent: a node that cannot be found, read or verified is left out, and
 * reading it later reports why. Callers keep count well under the cache's
 * 4096 blocks.
 */
void rfs_cache_entries(struct rfs *fs, const struct rfs_dirent *ents, size_t count);

#endif
