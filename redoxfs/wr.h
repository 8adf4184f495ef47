/* The RedoxFS write path: nodes, directories and file data inside a transaction. */
#ifndef RX_WR_H
#define RX_WR_H

#include "rfs.h"
#include "tx.h"

/* Encode the node's fields into its raw block (level data / inline area kept). */
void rfs_node_encode(struct rfs_node *n);

int rfs_tree_alloc_id(struct rfs_tx *tx, uint32_t *id);
/* Store a node (copy-on-write of the node block and its tree path). */
int rfs_node_put(struct rfs_tx *tx, struct rfs_node *n);
/* Take a node out of the tree (its blocks must have been freed). */
int rfs_node_remove(struct rfs_tx *tx, uint32_t id);
/*
 * Take a damaged node out of the tree without freeing its block: a pointer
 * that led to damage is never trusted to free anything (check --repair
 * reclaims the leaked blocks).
 */
int rfs_node_detach(struct rfs_tx *tx, uint32_t id);
/* The "full" flag of entry i in a node-tree list block (a 4096-byte block). */
int rfs_tree_flag_get(const uint8_t *b, unsigned i);
void rfs_tree_flag_set(uint8_t *b, unsigned i, int v);

struct rfs_time {
	uint64_t sec;
	uint32_t nsec;
};

/* A new node with a fresh id: type|perm, owner, all three times = t. Not linked. */
int rfs_node_new(struct rfs_tx *tx, uint16_t mode, uint32_t uid, uint32_t gid, struct rfs_time t,
		 struct rfs_node *out);

/* Directory entries (spec 10.6, 10.7). The parent node is updated and stored. */
int rfs_dir_insert(struct rfs_tx *tx, struct rfs_node *dir, const char *name, size_t len, uint32_t id);
int rfs_dir_remove(struct rfs_tx *tx, struct rfs_node *dir, const char *name, size_t len);

/* File data (spec 9): write, truncate; the node is updated in memory, then stored by the caller. */
int rfs_file_write(struct rfs_tx *tx, struct rfs_node *n, uint64_t off, const void *buf, size_t len);
int rfs_file_truncate(struct rfs_tx *tx, struct rfs_node *n, uint64_t size);
/* Free every block a node owns and remove it from the tree. */
int rfs_node_destroy(struct rfs_tx *tx, struct rfs_node *n);

/* The release list (spec 11.8). */
int rfs_release_add(struct rfs_tx *tx, uint32_t id);
int rfs_release_remove(struct rfs_tx *tx, uint32_t id);
int rfs_release_ids(struct rfs *fs, uint32_t **ids, size_t *count);

struct rfs_mkfs_opts {
	const uint8_t *reserved;	/* bootloader bytes kept before the filesystem */
	size_t reserved_len;
	uint8_t uuid[16];
	struct rfs_time time;		/* the root directory's times */
	const uint8_t *password;	/* encrypt (key slot 0) when set */
	size_t password_len;
};

/* Write a fresh, empty filesystem over the whole device (after the reserved area). */
int rfs_mkfs(struct rx_ctx *ctx, struct rx_dev *dev, const struct rfs_mkfs_opts *o);

#endif
