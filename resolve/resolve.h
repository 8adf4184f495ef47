/*
 * The one path syntax of every verb and front-end:
 *
 *   IMAGE[:pN|:redoxfs][:/path][:/member...]
 *
 * IMAGE is a host file or block device: a raw or qcow2 disk image, or an
 * initfs archive (found by its "RedoxFtw" magic). :pN names a partition;
 * without it RedoxFS is found the way the bootloader finds it. :esp is the
 * EFI system partition's FAT (changes there land as they are made: FAT has
 * no transactions; disk/fat/fat.h says what a crash can leave). Each further
 * ":/path" goes one level deeper: the path before it must name a regular file
 * that is itself a container (an initfs archive, found by magic, not by
 * name), and the path after it is inside that container. So
 * disk.qcow2:p3:/boot/initfs:/etc/init.rc is a file in the initfs stored in
 * the RedoxFS of partition 3 of a qcow2 disk.
 *
 * Opening walks the chain and hands out the innermost filesystem as a vfs.
 * Opened for writing, every level is held (the image locked against QEMU and
 * other writers, a RedoxFS transaction begun) and rx_res_commit writes the
 * levels back from the inside out: an edited archive is laid out again in its
 * own layout with its bootstrap and stored into its parent, and the outermost
 * level lands in one step (one RedoxFS commit, or one rename of a host
 * archive). Until then nothing on disk has changed meaning: a kill at any
 * instant leaves the old or the new image.
 */
#ifndef RX_RESOLVE_H
#define RX_RESOLVE_H

#include "boot.h"
#include "image.h"
#include "initfs.h"
#include "vfs.h"

#define RX_RES_MAX_LEVELS 8
#define RX_PART_ESP (-2)	/* :esp, the EFI system partition */

/* The argument taken apart (no file is opened, only stat'ed to find where IMAGE ends). */
struct rx_pathspec {
	char *image;
	int partno;		/* RX_PART_AUTO unless :pN (or RX_PART_ESP for :esp) */
	int nseg;
	char **seg;		/* each starts with '/' */
};

int rx_pathspec_parse(struct rx_ctx *ctx, const char *arg, struct rx_pathspec *out);
/* Does the host file at path start with the initfs magic "RedoxFtw"? */
int rx_is_initfs_file(const char *path);
void rx_pathspec_free(struct rx_pathspec *s);

struct rx_res_opts {
	int write;
	/* The last path names an archive: open it as a level (its root is the path). */
	int enter_last;
	/* enter_last: a missing or empty last file is not an error (a new archive). */
	int archive_missing_ok;
	enum ifs_layout layout;	/* read archives as this layout (IFS_LAYOUT_NONE: detect) */
	uint64_t max_size;	/* refuse a rewritten archive larger than this (0: default) */
	/* Unlock an encrypted RedoxFS (asks for the password); 0 or -errno. */
	int (*unlock)(void *arg, struct rfs *fs, const char *image);
	void *unlock_arg;
	/* Told of each damaged entry a write drops unread (see struct rfs). */
	void (*dropped)(void *arg, const char *path, const char *why);
	void *dropped_arg;
	/* Non-fatal remarks while rewriting an archive (bootstrap entry differs ...). */
	void (*warn)(void *arg, const char *label, const char *msg);
	void *warn_arg;
	/* The time written into what changes (SOURCE_DATE_EPOCH aware); NULL: the clock. */
	struct vfs_time (*now)(void);
};

enum rx_level_kind { RX_LV_REDOXFS = 1, RX_LV_INITFS, RX_LV_FAT };

struct rx_level {
	enum rx_level_kind kind;
	struct rx_level *owner;	/* borrowed from another res (a shell session): not ours to commit or free */
	char *label;		/* what messages name: "disk.img", "disk.img:/boot/initfs" */
	struct vfs vfs;
	/* RedoxFS */
	struct rx_image *img;
	struct rfs *fs;
	struct rfs_tx *tx;
	/* FAT (the EFI system partition) */
	struct rx_esp esp;
	/* initfs */
	char *host;		/* the archive is this host file */
	int host_fd;		/* held (and locked) while writing */
	mode_t host_mode;
	uid_t host_uid;
	gid_t host_gid;
	int exists;		/* enter_last with archive_missing_ok: there is an old archive */
	char *in_parent;	/* else: its path inside the level before */
	uint8_t *buf;
	uint64_t len;
	struct ifs_archive a;
	int loaded;
	struct ifs_node *root;	/* the tree edits go into (a.root, or a new empty one) */
	/* rx_res_set_archive: write this tree with these options instead (not owned) */
	struct ifs_node *out_root;
	struct ifs_write_opts out_opts;
	int have_out;
};

struct rx_res {
	struct rx_ctx *ctx;
	struct rx_res_opts opts;
	struct rx_pathspec spec;
	int nlv;
	struct rx_level lv[RX_RES_MAX_LEVELS];
	const char *path;	/* inside the innermost level; "/" when none was named */
	char *label;		/* the innermost level's label */
	int committed;
};

/*
 * Open arg through the outermost level of an open res (a session that holds
 * the image): that level is borrowed, not reopened. Committing the new res
 * writes its own levels into the borrowed one and leaves that pending in its
 * owner. arg must name the same image and partition as parent.
 */
int rx_res_open_in(struct rx_res *parent, const char *arg, const struct rx_res_opts *opts, struct rx_res **out);
/* Parse arg and open every level; on failure *out is NULL and ctx says why. */
int rx_res_open(struct rx_ctx *ctx, const char *arg, const struct rx_res_opts *opts, struct rx_res **out);
static inline struct rx_level *rx_res_inner(struct rx_res *r) { return &r->lv[r->nlv - 1]; }
static inline struct vfs *rx_res_vfs(struct rx_res *r) { return &rx_res_inner(r)->vfs; }
/* The disk image under everything, or NULL when the outermost level is a host archive. */
struct rx_image *rx_res_image(struct rx_res *r);
/* Does another argument name the same innermost filesystem? */
int rx_res_same(struct rx_res *r, const struct rx_pathspec *s);
/*
 * Write every changed level back and land the outermost in one step. Nothing
 * changed: nothing is written. Either way the levels stay open for reading
 * until rx_res_close. After a failure nothing has landed.
 */
int rx_res_commit(struct rx_res *r);
/*
 * The innermost level is an archive (enter_last): at the commit, write root
 * with o in its place instead of the edited tree (root stays the caller's).
 */
int rx_res_set_archive(struct rx_res *r, struct ifs_node *root, const struct ifs_write_opts *o);
/* Edits made to the innermost archive's tree directly (not through the vfs) are to be written. */
static inline void rx_res_touch(struct rx_res *r) { rx_res_inner(r)->vfs.dirty = 1; }
/*
 * Go one level deeper, into the archive at path of the innermost level (for
 * reading: a walk that meets an archive looks inside); rx_res_leave comes
 * back out. On failure nothing changed and ctx says why.
 */
int rx_res_enter(struct rx_res *r, const char *path);
void rx_res_leave(struct rx_res *r);
/* Is the file at path of v an initfs archive (its first bytes are the magic)? */
int rx_vfs_is_archive(struct vfs *v, const char *path);
/* Close; uncommitted changes are dropped. */
void rx_res_close(struct rx_res *r);

/* The vfs of a RedoxFS or an archive tree (used by the resolver; also by tests). */
void vfs_rfs_init(struct vfs *v, struct rfs *fs, struct rfs_tx *tx, struct vfs_time (*now)(void));
void vfs_ifs_init(struct vfs *v, struct rx_ctx *ctx, struct ifs_node *root, enum ifs_layout layout,
		  int writable);
void vfs_fat_init(struct vfs *v, struct rx_ctx *ctx, struct fat_fs *fs, int writable, struct vfs_time (*now)(void));

#endif
