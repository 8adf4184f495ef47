/* Writing the node tree: allocating ids, storing and removing nodes (spec 7). */
#include <stdlib.h>

#include "rfs.h"
#include "tx.h"
#include "wr.h"

int rfs_tree_flag_get(const uint8_t *b, unsigned i)
{
	return (b[4064 + (i / 128) * 16 + (i % 128) / 8] >> (i % 8)) & 1;
}

void rfs_tree_flag_set(uint8_t *b, unsigned i, int v)
{
	uint8_t *p = &b[4064 + (i / 128) * 16 + (i % 128) / 8];
	if (v)
		*p |= (uint8_t)(1u << (i % 8));
	else
		*p &= (uint8_t)~(1u << (i % 8));
}

static int list_full(const uint8_t *b)
{
	for (unsigned i = 0; i < RFS_TREE_ENTRIES; i++)
		if (!rfs_tree_flag_get(b, i))
			return 0;
	return 1;
}

/* Smallest id whose path is not full (spec 7.3): depth-first, ascending. */
static int find_free(struct rfs *fs, struct rfs_ptr ptr, int level, uint32_t prefix, uint32_t *id)
{
	uint8_t buf[RFS_BLOCK];
	if (rfs_ptr_is_null(ptr)) {
		*id = prefix ? prefix : 1;	/* a missing list is empty; id 0 is reserved */
		return 0;
	}
	int r = rfs_read_ptr(fs, ptr, 1, buf);
	if (r)
		return r;
	for (unsigned i = 0; i < RFS_TREE_ENTRIES; i++) {
		uint32_t sub = prefix | (uint32_t)i << (8 * level);
		if (rfs_tree_flag_get(buf, i) || (level == 0 && sub == 0))
			continue;
		struct rfs_ptr child = rfs_ptr_decode(buf + 16 * i);
		if (level == 0) {
			if (rfs_ptr_is_null(child)) {
				*id = sub;
				return 0;
			}
			continue;
		}
		r = find_free(fs, child, level - 1, sub, id);
		if (r != -ENOSPC)
			return r;
	}
	return rx_fail(fs->ctx, ENOSPC, "no free node id");
}

static const enum rfs_btype tree_type[4] = { BT_TREE0, BT_TREE1, BT_TREE2, BT_TREE3 };

/*
 * Make the path to id writable; returns the level-0 list and fills lists[]
 * (lists[3] = root) so flags can be recomputed bottom-up.
 */
static uint8_t *tree_path(struct rfs_tx *tx, uint32_t id, uint8_t *lists[4])
{
	uint8_t slot[16];
	rfs_ptr_encode(slot, tx->fs->hdr.tree);
	uint8_t *b = rfs_tx_mut(tx, slot, BT_TREE3);
	if (!b)
		return NULL;
	tx->fs->hdr.tree = rfs_ptr_decode(slot);
	lists[3] = b;
	for (int level = 3; level > 0; level--) {
		unsigned i = (id >> (8 * level)) & 0xFF;
		b = rfs_tx_mut(tx, b + 16 * i, tree_type[level - 1]);
		if (!b)
			return NULL;
		lists[level - 1] = b;
	}
	if ((id >> 8) == 0)
		rfs_tree_flag_set(lists[0], 0, 1);	/* the first leaf keeps id 0 reserved */
	return lists[0];
}

static void update_flags(uint8_t *lists[4], uint32_t id)
{
	for (int level = 1; level < 4; level++) {
		unsigned i = (id >> (8 * level)) & 0xFF;
		rfs_tree_flag_set(lists[level], i, list_full(lists[level - 1]));
	}
}

int rfs_tree_alloc_id(struct rfs_tx *tx, uint32_t *id)
{
	return find_free(tx->fs, tx->fs->hdr.tree, 3, 0, id);
}

int rfs_node_put(struct rfs_tx *tx, struct rfs_node *n)
{
	uint8_t *lists[4];
	struct rfs_node cur;
	rfs_node_encode(n);
	/* Identical bytes: nothing to write (spec 7.5), so a no-op makes no generation. */
	if (rfs_node_get(tx->fs, n->id, &cur) == 0 && memcmp(cur.raw, n->raw, RFS_BLOCK) == 0) {
		n->block = cur.block;
		return 0;
	}
	rx_clear(tx->fs->ctx);
	uint8_t *leaf = tree_path(tx, n->id, lists);
	if (!leaf)
		return -tx->fs->ctx->err;
	unsigned i = n->id & 0xFF;
	uint8_t *nb = rfs_tx_mut(tx, leaf + 16 * i, BT_NODE);
	if (!nb)
		return -tx->fs->ctx->err;
	memcpy(nb, n->raw, RFS_BLOCK);
	n->block = rfs_ptr_index(rfs_ptr_decode(leaf + 16 * i));
	rfs_tree_flag_set(leaf, i, 1);
	update_flags(lists, n->id);
	return 0;
}

static int list_empty(const uint8_t *b)
{
	for (unsigned i = 0; i < RFS_TREE_ENTRIES; i++)
		if (!rfs_ptr_is_null(rfs_ptr_decode(b + 16 * i)))
			return 0;
	return 1;
}

static int tree_clear(struct rfs_tx *tx, uint32_t id, int free_node_block)
{
	uint8_t *lists[4];
	uint8_t *leaf = tree_path(tx, id, lists);
	if (!leaf)
		return -tx->fs->ctx->err;
	unsigned i = id & 0xFF;
	struct rfs_ptr p = rfs_ptr_decode(leaf + 16 * i);
	if (!rfs_ptr_is_null(p) && free_node_block)
		rfs_tx_free(tx, rfs_ptr_index(p), 0);
	memset(leaf + 16 * i, 0, 16);
	rfs_tree_flag_set(leaf, i, 0);
	if ((id >> 8) == 0)
		rfs_tree_flag_set(leaf, 0, 1);
	/* Free lists left without pointers, and clear "full" up the path. */
	for (int level = 0; level < 3; level++) {
		unsigned pi = (id >> (8 * (level + 1))) & 0xFF;
		uint8_t *parent = lists[level + 1];
		if (level < 3 && list_empty(lists[level])) {
			struct rfs_ptr cp = rfs_ptr_decode(parent + 16 * pi);
			rfs_tx_free(tx, rfs_ptr_index(cp), 0);
			memset(parent + 16 * pi, 0, 16);
		}
		rfs_tree_flag_set(parent, pi, 0);
	}
	return 0;
}

int rfs_node_remove(struct rfs_tx *tx, uint32_t id)
{
	return tree_clear(tx, id, 1);
}

int rfs_node_detach(struct rfs_tx *tx, uint32_t id)
{
	return tree_clear(tx, id, 0);
}
