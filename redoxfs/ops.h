/* Path-level operations on an open transaction, shared by every front-end. */
#ifndef RX_OPS_H
#define RX_OPS_H

#include "wr.h"

/* An explicit owner; NULL means "inherit from the parent directory". */
struct rfs_owner {
	uint32_t uid, gid;
};

/* "/a/b/c" -> "/a/b" and "c" (malloc'd). */
int rfs_split_path(struct rfs *fs, const char *path, char **parent, char **name);
/* The directory that would hold path, and the last component. */
int rfs_lookup_parent(struct rfs *fs, const char *path, struct rfs_node *dir, char **name);

/* Create a node named name in dir (dir is updated). */
int rfs_op_create(struct rfs_tx *tx, struct rfs_node *dir, const char *name, uint16_t mode,
		  const struct rfs_owner *own, struct rfs_time t, struct rfs_node *out);
int rfs_op_mkdir(struct rfs_tx *tx, const char *path, uint16_t perm, int parents,
		 const struct rfs_owner *own, struct rfs_time t);
/*
 * Remove a name: files and symlinks; empty directories when dir_ok; trees when
 * recursive. Damaged entries met on the way are dropped unread, as by
 * rfs_op_drop_damaged (a directory that cannot be listed is dropped whole).
 */
int rfs_op_remove(struct rfs_tx *tx, const char *path, int recursive, int dir_ok);
/*
 * Replace a file's content with what fd holds (unchanged records are not
 * rewritten; damaged old records are overwritten unread). A damaged index
 * block fails (rfs_is_damage) before anything is read from fd or changed.
 */
int rfs_op_write_fd(struct rfs_tx *tx, struct rfs_node *n, int fd, uint64_t *total);

#define RFS_RENAME_NOREPLACE 1u
#define RFS_RENAME_EXCHANGE 2u
/* Rename within the image, replacing an existing target atomically (POSIX rules). */
int rfs_op_rename(struct rfs_tx *tx, const char *from, const char *to, unsigned flags);
/* The same by directory and name (the caller rules out moving a directory into itself). */
int rfs_op_rename_at(struct rfs_tx *tx, struct rfs_node *d1, const char *n1, struct rfs_node *d2,
		     const char *n2, unsigned flags);
/* unlink (want_dir 0) or rmdir (1) of dir/name. */
int rfs_op_unlink_at(struct rfs_tx *tx, struct rfs_node *dir, const char *name, int want_dir);
/*
 * Remove dir/name, whose node was found damaged (the ctx holds what is wrong),
 * without reading or freeing anything the node points to: its blocks are left
 * leaked for check --repair, and the node leaves the tree unless another name
 * refers to it. When dir/name itself reads fine (the damage lies elsewhere)
 * the recorded failure is returned. A file whose index blocks are damaged
 * counts as damaged too. path only names it for fs->dropped.
 */
int rfs_op_drop_damaged(struct rfs_tx *tx, struct rfs_node *dir, const char *name, const char *path);
/* One name fewer: the node is destroyed with its last name, or parked on the release list while open. */
int rfs_op_drop_link(struct rfs_tx *tx, struct rfs_node *n);
/* Another name for a file or symlink (links counts it). */
int rfs_op_link(struct rfs_tx *tx, const char *existing, const char *path);
int rfs_op_symlink(struct rfs_tx *tx, const char *target, const char *path,
		   const struct rfs_owner *own, struct rfs_time t);

#endif
