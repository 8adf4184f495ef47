/*
 * One filesystem interface for every format a path can land in: RedoxFS, an
 * initfs archive, (later) the FAT EFI partition. Verbs that work on "a file
 * somewhere" are written once against it; the resolver hands out the right
 * implementation. Operations take absolute paths inside that filesystem.
 *
 * Every call returns 0 or -errno with the reason recorded on v->ctx. Writes go
 * into whatever the filesystem's pending change is (a RedoxFS transaction, an
 * edited archive tree) and become visible on disk only at the resolver's
 * commit, all levels at once.
 */
#ifndef RX_VFS_H
#define RX_VFS_H

#include <stdint.h>
#include <sys/types.h>

#include "rx.h"

/* File types use the POSIX (and RedoxFS) values. */
#define VFS_TYPE 0xF000u
#define VFS_FILE 0x8000u
#define VFS_DIR 0x4000u
#define VFS_LINK 0xA000u

struct vfs_time {
	uint64_t sec;
	uint32_t nsec;
};

struct vfs_attr {
	uint64_t ino;		/* the same object gives the same number (hard links) */
	uint16_t mode;		/* type and permission bits */
	uint32_t uid, gid, nlink;
	uint64_t size;
	struct vfs_time atime, mtime, ctime;
};

static inline int vfs_is_dir(const struct vfs_attr *a) { return (a->mode & VFS_TYPE) == VFS_DIR; }
static inline int vfs_is_file(const struct vfs_attr *a) { return (a->mode & VFS_TYPE) == VFS_FILE; }
static inline int vfs_is_link(const struct vfs_attr *a) { return (a->mode & VFS_TYPE) == VFS_LINK; }

/* What the format stores besides names and contents (what -a can keep). */
enum {
	VFS_HAS_OWNER = 1u,	/* uid and gid */
	VFS_HAS_TIMES = 2u,	/* atime, mtime, ctime */
	VFS_HAS_LINKS = 4u,	/* symbolic links */
	VFS_HAS_HARDLINKS = 8u,
	VFS_HAS_MODES = 16u,	/* all permission bits (else only what the format keeps) */
	VFS_HAS_PERMS = 32u,	/* permission bits at all (FAT has none) */
	VFS_HAS_MTIME = 64u,	/* a modification time is kept, if not settable here (FAT) */
};

/* setattr: which fields of the attr to apply. */
enum { VFS_SET_MODE = 1u, VFS_SET_UID = 2u, VFS_SET_GID = 4u, VFS_SET_ATIME = 8u, VFS_SET_MTIME = 16u };

/* rename flags (the RedoxFS values) */
enum { VFS_NOREPLACE = 1u, VFS_EXCHANGE = 2u };

struct vfs;

/* One directory entry; attr is NULL when the entry's node is damaged (the reason is on the ctx). */
typedef int (*vfs_dirent_cb)(void *arg, const char *name, size_t len, const struct vfs_attr *attr);
/* File contents in order of offset; ranges not passed are holes (zeros). */
typedef int (*vfs_data_cb)(void *arg, uint64_t off, const uint8_t *buf, size_t len);

struct vfs_ops {
	int (*stat)(struct vfs *v, const char *path, int follow, struct vfs_attr *out);
	/* sorted: by name (bytewise); else in stored order */
	int (*readdir)(struct vfs *v, const char *path, int sorted, vfs_dirent_cb cb, void *arg);
	int (*read)(struct vfs *v, const char *path, vfs_data_cb cb, void *arg);
	int (*readlink)(struct vfs *v, const char *path, char **target);

	/* Create or replace the file at path with what fd holds (read to its end). */
	int (*write_fd)(struct vfs *v, const char *path, int fd, uint16_t mode_if_new);
	int (*mkdir)(struct vfs *v, const char *path, uint16_t mode, int parents);
	int (*remove)(struct vfs *v, const char *path, int recursive, int dir_ok);
	int (*rename)(struct vfs *v, const char *from, const char *to, unsigned flags);
	int (*symlink)(struct vfs *v, const char *target, const char *path);
	int (*link)(struct vfs *v, const char *existing, const char *path);
	/* On the node path names (a symlink is followed unless nofollow). */
	int (*setattr)(struct vfs *v, const char *path, unsigned what, const struct vfs_attr *a, int nofollow);
	int (*truncate)(struct vfs *v, const char *path, uint64_t size);
};

struct vfs {
	const struct vfs_ops *ops;
	struct rx_ctx *ctx;
	const char *kind;	/* "RedoxFS", "initfs", "FAT" */
	unsigned has;		/* VFS_HAS_* */
	int writable;
	int dirty;		/* a write went into the pending change */
	int reads_contents;	/* a walk that reads every file: listings hint their contents too */
	struct vfs_time (*now)(void);	/* the time written into what changes */
	void *priv;
};

int vfs_stat(struct vfs *v, const char *path, int follow, struct vfs_attr *out);
int vfs_readdir(struct vfs *v, const char *path, int sorted, vfs_dirent_cb cb, void *arg);
int vfs_read(struct vfs *v, const char *path, vfs_data_cb cb, void *arg);
/* The contents in order with holes as zeros: what cat and a copy want. */
int vfs_read_seq(struct vfs *v, const char *path, int (*put)(void *, const uint8_t *, size_t), void *arg);
int vfs_readlink(struct vfs *v, const char *path, char **target);
/*
 * Why a stored name cannot be one entry's name (empty, "." or "..", a '/' or
 * a NUL in it): what a walk that builds paths, or host files, from names
 * refuses whatever the format's reader let through. NULL when it is fine.
 */
const char *vfs_name_problem(const char *name, size_t len);
/*
 * Turning "data at offsets" (a vfs_data_cb, or RedoxFS's record stream) into
 * bytes in order with holes as zeros: pass vfs_seq_data as the callback, then
 * vfs_seq_end with the file's size.
 */
struct vfs_seq {
	uint64_t pos;
	int (*put)(void *arg, const uint8_t *buf, size_t len);
	void *arg;
};
int vfs_seq_data(void *seq, uint64_t off, const uint8_t *buf, size_t len);
int vfs_seq_end(struct vfs_seq *s, uint64_t size);
int vfs_write_fd(struct vfs *v, const char *path, int fd, uint16_t mode_if_new);
int vfs_write_buf(struct vfs *v, const char *path, const void *buf, size_t len, uint16_t mode_if_new);
int vfs_mkdir(struct vfs *v, const char *path, uint16_t mode, int parents);
int vfs_remove(struct vfs *v, const char *path, int recursive, int dir_ok);
int vfs_rename(struct vfs *v, const char *from, const char *to, unsigned flags);
int vfs_symlink(struct vfs *v, const char *target, const char *path);
int vfs_link(struct vfs *v, const char *existing, const char *path);
int vfs_setattr(struct vfs *v, const char *path, unsigned what, const struct vfs_attr *a, int nofollow);
int vfs_truncate(struct vfs *v, const char *path, uint64_t size);

#endif
