/*
 * Write transactions: copy-on-write of metadata in memory, data records
 * written straight to blocks that are free in the committed state, and a
 * commit that seals checksums bottom-up, writes the blocks, syncs, writes the
 * next header slot and syncs again. Until that header lands, the image on disk
 * still means exactly what it meant before.
 */
#ifndef RX_TX_H
#define RX_TX_H

#include "rfs.h"

/* What a dirty block holds: tells the sealer where its child pointers are. */
enum rfs_btype {
	BT_TREE0, BT_TREE1, BT_TREE2, BT_TREE3,	/* TreeList of that level */
	BT_NODE, BT_BLOCKLIST, BT_DIRLIST, BT_HTREE, BT_ALLOC, BT_RELEASE,
	BT_RECORD,	/* file data, buffered until commit */
};

struct rfs_dirty;

struct rfs_tx {
	struct rfs *fs;
	struct rfs_header saved;	/* header as committed, restored on abort */
	struct bmap free_map;		/* 1 = free now (deferred frees not applied) */
	struct bmap tx_alloc;		/* 1 = allocated by this transaction */
	uint64_t cursor;		/* no free block below this index */
	struct bmap deferred;		/* 1 = committed block this transaction frees at commit */
	struct rfs_dirty **dirty;	/* open-addressing table by block index */
	size_t dirty_cap, ndirty;
	size_t nmeta, meta_limit;	/* metadata blocks held, and how many before a checkpoint writes them */
	uint64_t checkpoints;		/* checkpoints that wrote metadata out (callers re-read their nodes) */
	uint64_t records_written;
	size_t buffered, buffer_limit;	/* record bytes held for commit, and the budget */
	uint8_t *iobuf;			/* a reusable buffer for reading sources */
	/* Optional: told the bytes of each source chunk rfs_op_write_fd has written (progress). */
	void (*copied)(void *arg, uint64_t bytes);
	void *copied_arg;
	/*
	 * Rebuild mode (repair): the old allocation log is not trusted. Set live
	 * before commit: the log is then written from it alone (1 = in use after
	 * the commit), and the commit always makes a new generation.
	 */
	int rebuild;
	const struct bmap *live;
};

int rfs_tx_begin(struct rfs *fs, struct rfs_tx **out);
/*
 * Begin without replaying the allocation log (repair): in_use (one bit per
 * block) names every block the committed state may still reference; the
 * transaction allocates only outside it. The caller sets tx->live before commit.
 */
int rfs_tx_begin_rebuild(struct rfs *fs, const struct bmap *in_use, struct rfs_tx **out);
/* Bytes of data records a transaction may hold in memory until commit (0: write at once). */
void rfs_tx_set_buffer(struct rfs_tx *tx, size_t bytes);
/*
 * Bounded memory for big transactions: once the metadata held in memory passes
 * its budget, seal what the header's tree and release list reach and write it
 * to its (free in the committed state) blocks, then forget it; buffered data
 * records go out too. The committed header still names the old tree, so this
 * changes nothing a crash could see. Call it only where no node or block read
 * before is stored again without being read anew: pointers in such copies
 * would lack the hashes sealed here. tx->checkpoints counts the writes.
 */
int rfs_tx_checkpoint(struct rfs_tx *tx);
/* Commit as one new generation; the transaction is finished either way. */
int rfs_tx_commit(struct rfs_tx *tx);
void rfs_tx_abort(struct rfs_tx *tx);

/* Give the filesystem a new UUID, written by the commit's header like any change. */
void rfs_tx_set_uuid(struct rfs_tx *tx, const uint8_t uuid[16]);
/*
 * After a commit that changed the UUID: clear the ring slots still holding valid
 * headers under another UUID (older generations no reader picks over the newest),
 * so they cannot pass for another filesystem's. Slot 0 is stamped with the new
 * UUID instead of cleared, because the bootloader probes only the first block
 * (an encrypted one is left as it is unless the filesystem is unlocked). A
 * crash part-way is harmless.
 */
int rfs_ring_clear_foreign(struct rfs *fs);

int rfs_tx_alloc(struct rfs_tx *tx, unsigned level, uint64_t *index);
/* Free a block the tree no longer references (now if this tx made it, else at commit). */
void rfs_tx_free(struct rfs_tx *tx, uint64_t index, unsigned level);
uint64_t rfs_tx_free_blocks(const struct rfs_tx *tx);

/*
 * Make the block a pointer slot names writable in this transaction: a fresh
 * copy at a new address (the slot is updated), or a zeroed new block when the
 * slot is null. Returns the 4096-byte buffer, or NULL with the error recorded.
 */
uint8_t *rfs_tx_mut(struct rfs_tx *tx, uint8_t *slot, enum rfs_btype type);
/* The bytes of a block written earlier in this transaction (len = its size), or NULL. */
const uint8_t *rfs_tx_dirty_buf(struct rfs_tx *tx, uint64_t index, size_t *len);
/* Write a data record now (it is a leaf: its checksum is final). */
int rfs_tx_write_record(struct rfs_tx *tx, const uint8_t *buf, unsigned level, unsigned decomp,
			struct rfs_ptr *out);

#endif
