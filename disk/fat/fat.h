/*
 * FAT12/16/32 (the EFI system partition): a reader and writer over the block
 * device seam, and mkfs laid out the way the Redox installer's formatter lays
 * out an ESP.
 *
 * Reading trusts nothing: the boot sector is validated field by field, the
 * cluster count alone decides the FAT type, cluster chains are walked with a
 * bound (no chain is longer than the volume), directories are bounded to
 * 65536 entries, and a name that could escape an extraction ("/", ".", "..",
 * NUL) is refused.
 *
 * A volume is opened for writing only when its FAT copies agree and a walk of
 * every directory and chain finds nothing wrong (each cluster used once, each
 * chain as long as its file): writing on top of damage would spread it. Lost
 * clusters are tolerated, since an interrupted write leaves them.
 *
 * Writing has no journal to lean on, so the guarantee comes from the order of
 * writes (each step is flushed before the next begins):
 *   1. FAT32: the FSInfo free count is set to "unknown" (always valid);
 *   2. new data goes into clusters that are free on disk, and the new chains
 *      are linked in FAT 1 and FAT 2 (one step: a chain that lands without
 *      its data is only space that no entry uses yet);
 *   3. the directory changes (a new entry's long-name slots are placed in the
 *      same sector as its short entry whenever they fit; replacing a file
 *      rewrites only its short entry);
 *   4. clusters that are no longer referenced are freed in FAT 1, then FAT 2;
 *   5. FAT32: the FSInfo free count and next-free hint are written.
 * A kill at any instant (assuming sector writes are atomic) leaves every file
 * with its old or its new content, never cross-linked or truncated: at worst
 * `fsck.fat -n` reports lost clusters (the new chain not yet linked in, or the
 * old one not yet freed) and, when cut between the two FAT copies, that the
 * FATs differ. Such an image is refused for writing until repaired, because
 * the copy to trust is then ambiguous. Exceptions, stated plainly: a long
 * name of more than one sector's worth of slots, cut between its sectors, can
 * leave orphaned long-name slots; a rename that cannot be done in one sector
 * (another directory, or no room in the old entry's sector) writes the new
 * entry before removing the old one, so a kill in between leaves both names
 * sharing one chain (fsck.fat reports it; nothing is lost).
 *
 * Times are stored as UTC. Short names are decoded as ASCII (other bytes read
 * as '_'); long names are UTF-16 and come back as UTF-8.
 */
#ifndef RX_FAT_H
#define RX_FAT_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "dev.h"

struct fat_fs;

enum {
	FAT_ATTR_RDONLY = 0x01, FAT_ATTR_HIDDEN = 0x02, FAT_ATTR_SYSTEM = 0x04,
	FAT_ATTR_VOLUME = 0x08, FAT_ATTR_DIR = 0x10, FAT_ATTR_ARCHIVE = 0x20,
	FAT_ATTR_LFN = 0x0F,
};

/* One file or directory, as its directory entry describes it. */
struct fat_node {
	char name[256 * 3 + 1];	/* long name in UTF-8, else the short name */
	char short_name[13];	/* "NAME.EXT" as stored (case flags applied) */
	uint8_t attr;
	uint32_t first_cluster;	/* 0: empty file, or the fixed FAT12/16 root */
	uint32_t size;		/* bytes; 0 for directories */
	int64_t mtime, ctime, atime;	/* seconds since 1970 (UTC) */
	/* Where the entry lives: the directory's first cluster (0 = fixed root),
	 * the slot of its short entry and how many slots it spans with its long name. */
	uint32_t dir_cluster;
	uint32_t slot, nslots;
	int is_root;
};

static inline int fat_is_dir(const struct fat_node *n)
{
	return (n->attr & FAT_ATTR_DIR) != 0;
}

struct fat_info {
	int type;			/* 12, 16 or 32 */
	uint32_t bytes_per_sector, sectors_per_cluster, cluster_size;
	uint32_t reserved_sectors, fats, sectors_per_fat, root_entries, total_sectors;
	uint32_t clusters, free_clusters;
	uint32_t volume_id;
	uint8_t media;
	char label[12];			/* from the boot sector, trailing spaces removed */
	int fats_differ;		/* the FAT copies disagree (repair needed before writing) */
};

/* Validate and open; writable needs a writable dev and identical FAT copies. */
int fat_open(struct rx_ctx *ctx, struct rx_dev *dev, int writable, struct fat_fs **out);
void fat_close(struct fat_fs *fs);
void fat_info(const struct fat_fs *fs, struct fat_info *out);
/* The time (seconds since 1970) written into entries created or changed from now on. */
void fat_set_time(struct fat_fs *fs, int64_t now);

/* "/" or "/A/b.txt": names match case-insensitively (long or short name). */
int fat_lookup(struct fat_fs *fs, const char *path, struct fat_node *out);
/* Calls cb for every entry of dir (not "." and ".."); a non-zero return stops and is returned. */
typedef int (*fat_dir_cb)(void *arg, const struct fat_node *node);
int fat_readdir(struct fat_fs *fs, const struct fat_node *dir, fat_dir_cb cb, void *arg);
/* Bytes read (short only at the end of the file), or -errno. */
ssize_t fat_read(struct fat_fs *fs, const struct fat_node *node, void *buf, size_t len, uint64_t off);

/* Supplies file contents: bytes placed in buf (0 at the end), or -errno. */
typedef ssize_t (*fat_source_fn)(void *arg, void *buf, size_t len);
/* Create or replace the file at path with everything src yields (memory stays bounded). */
int fat_write_file(struct fat_fs *fs, const char *path, fat_source_fn src, void *arg);
int fat_write_buf(struct fat_fs *fs, const char *path, const void *buf, size_t len);
int fat_mkdir(struct fat_fs *fs, const char *path);
/* Remove a file or an empty directory. */
int fat_unlink(struct fat_fs *fs, const char *path);
/* Rename or move; the target must not exist. */
int fat_rename(struct fat_fs *fs, const char *from, const char *to);

struct fat_mkfs_opts {
	int type;		/* 0: chosen by size as the installer's formatter does; or 12/16/32 */
	unsigned bytes_per_sector;	/* 0: 512 */
	const char *label;	/* NULL: "NO NAME" and no label entry */
	uint32_t volume_id;	/* the installer uses 0x12345678 */
	int64_t time;		/* for the label entry */
};

/* Format the whole of dev. The same options give the same bytes. */
int fat_mkfs(struct rx_ctx *ctx, struct rx_dev *dev, const struct fat_mkfs_opts *opts);

#endif
