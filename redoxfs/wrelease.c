/* The release list: nodes whose last name is gone while they are still open (spec 11.8). */
#include <stdlib.h>

#include "wr.h"

#define RELEASE_SLOTS 1020u

static int header_slot_mut(struct rfs_tx *tx, uint8_t slot[16], uint8_t **b)
{
	rfs_ptr_encode(slot, tx->fs->hdr.release);
	*b = rfs_tx_mut(tx, slot, BT_RELEASE);
	if (!*b)
		return -tx->fs->ctx->err;
	tx->fs->hdr.release = rfs_ptr_decode(slot);
	return 0;
}

int rfs_release_add(struct rfs_tx *tx, uint32_t id)
{
	uint8_t slot[16], *b;
	struct rfs_ptr head = tx->fs->hdr.release;
	if (!rfs_ptr_is_null(head)) {
		int r = header_slot_mut(tx, slot, &b);
		if (r)
			return r;
		for (unsigned i = 0; i < RELEASE_SLOTS; i++)
			if (get_le32(b + 16 + 4 * i) == 0) {
				put_le32(b + 16 + 4 * i, id);
				return 0;
			}
	}
	/* Newest list full (or none): a new one in front, pointing at the old head. */
	memset(slot, 0, 16);
	b = rfs_tx_mut(tx, slot, BT_RELEASE);
	if (!b)
		return -tx->fs->ctx->err;
	rfs_ptr_encode(b, tx->fs->hdr.release);
	put_le32(b + 16, id);
	tx->fs->hdr.release = rfs_ptr_decode(slot);
	return 0;
}

/*
 * Remove id from the chain. A list left empty is freed and unlinked, the newer
 * neighbour taking over its prev pointer (newest first, so nothing is lost).
 */
int rfs_release_remove(struct rfs_tx *tx, uint32_t id)
{
	uint8_t head[16];
	uint8_t *slot = head;	/* the pointer naming the current list */
	rfs_ptr_encode(head, tx->fs->hdr.release);
	int r = 0;
	for (uint64_t guard = 0; !rfs_ptr_is_null(rfs_ptr_decode(slot)); guard++) {
		if (guard > tx->fs->nblocks)
			return rx_fail(tx->fs->ctx, ELOOP, "release list loops");
		uint8_t b[RFS_BLOCK];
		r = rfs_read_ptr(tx->fs, rfs_ptr_decode(slot), 1, b);
		if (r)
			return r;
		unsigned found = RELEASE_SLOTS, used = 0;
		for (unsigned i = 0; i < RELEASE_SLOTS; i++) {
			uint32_t v = get_le32(b + 16 + 4 * i);
			if (v == id && found == RELEASE_SLOTS)
				found = i;
			used += v != 0;
		}
		if (found < RELEASE_SLOTS) {
			struct rfs_ptr self = rfs_ptr_decode(slot);
			if (used == 1) {
				rfs_tx_free(tx, rfs_ptr_index(self), 0);
				memcpy(slot, b, 16);	/* the newer list (or header) skips it */
			} else {
				uint8_t *mb = rfs_tx_mut(tx, slot, BT_RELEASE);
				if (!mb)
					return -tx->fs->ctx->err;
				put_le32(mb + 16 + 4 * found, 0);
			}
			tx->fs->hdr.release = rfs_ptr_decode(head);
			return 0;
		}
		/* Walk on, through a writable copy so the next unlink can patch its prev. */
		uint8_t *mb = rfs_tx_mut(tx, slot, BT_RELEASE);
		if (!mb)
			return -tx->fs->ctx->err;
		if (slot == head)
			tx->fs->hdr.release = rfs_ptr_decode(head);
		slot = mb;
	}
	tx->fs->hdr.release = rfs_ptr_decode(head);
	return 0;	/* not listed: nothing to do */
}

int rfs_release_ids(struct rfs *fs, uint32_t **ids, size_t *count)
{
	size_t n = 0, cap = 16;
	uint32_t *v = rx_xmalloc(cap * sizeof(*v));
	struct rfs_ptr p = fs->hdr.release;
	for (uint64_t guard = 0; !rfs_ptr_is_null(p); guard++) {
		uint8_t b[RFS_BLOCK];
		int r = guard > fs->nblocks ? rx_fail(fs->ctx, ELOOP, "release list loops")
					    : rfs_read_ptr(fs, p, 1, b);
		if (r) {
			free(v);
			return r;
		}
		for (unsigned i = 0; i < RELEASE_SLOTS; i++) {
			uint32_t id = get_le32(b + 16 + 4 * i);
			if (!id)
				continue;
			if (n == cap)
				v = rx_xrealloc(v, (cap *= 2) * sizeof(*v));
			v[n++] = id;
		}
		p = rfs_ptr_decode(b);
	}
	*ids = v;
	*count = n;
	return 0;
}
