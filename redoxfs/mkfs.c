/* Creating a filesystem: the layout the reference mkfs leaves behind (spec 13.1, 13.2). */
#include <stdlib.h>

#include "seahash.h"
#include "wr.h"

/* Blocks of the fresh layout (fs-relative), as in spec 13.2. */
enum { MK_ALLOC = 257, MK_ROOT = 259, MK_L0 = 260, MK_L1 = 261, MK_L2 = 262, MK_L3 = 263 };

static void put_ptr_to(uint8_t *slot, uint64_t index, const uint8_t *block)
{
	rfs_ptr_encode(slot, (struct rfs_ptr){ index << 8, seahash(block, RFS_BLOCK) });
}

int rfs_header_seal(uint8_t *h, struct rfs_crypt *c)
{
	uint64_t hash = rfs_header_checksum(h);
	put_le64(h + 4088, hash);
	return rfs_encrypted_hash(c, hash, get_le64(h + 40), h + 4072);
}

/* Key slot 0 for a password: random salt and XTS keys, wrapped with the Argon2 key. */
static int make_keys(struct rx_ctx *ctx, const struct rfs_mkfs_opts *o, uint8_t slot[48],
		     struct rfs_crypt **c)
{
	uint8_t salt[16], keys[32], pk[16];
	do {
		if (rx_random_bytes(salt, sizeof(salt)) != 0 || rx_random_bytes(keys, sizeof(keys)) != 0)
			return rx_fail(ctx, EIO, "no random numbers for the keys");
	} while (memcmp(keys, keys + 16, 16) == 0);	/* XTS wants two different keys */
	int r = rfs_crypt_password_key(o->password, o->password_len, salt, pk);
	if (r == -ENOTSUP)
		return rx_fail(ctx, ENOTSUP, "rximg was built without libargon2: cannot encrypt");
	if (r || rfs_crypt_wrap(pk, salt, keys, slot) || !(*c = rfs_crypt_new(keys)))
		return rx_fail(ctx, EIO, "cannot derive the encryption keys");
	return 0;
}

int rfs_mkfs(struct rx_ctx *ctx, struct rx_dev *dev, const struct rfs_mkfs_opts *o)
{
	uint64_t disk_blocks = dev->size / RFS_BLOCK;
	uint64_t R = (o->reserved_len + RFS_BLOCK - 1) / RFS_BLOCK;
	if (disk_blocks < R + RFS_MIN_BLOCKS)
		return rx_fail(ctx, ENOSPC, "too small: a RedoxFS needs at least %u blocks (%u bytes)%s",
			       RFS_MIN_BLOCKS, RFS_MIN_BLOCKS * RFS_BLOCK,
			       R ? " after the reserved area" : "");
	if (R >= RFS_SCAN_BLOCKS)
		return rx_fail(ctx, EINVAL, "the reserved area must be smaller than 256 MiB, or the "
			       "filesystem cannot be found");
	uint64_t N = disk_blocks - R, start = R * RFS_BLOCK;
	int r = 0;

	if (R) {
		uint8_t *res = rx_xcalloc(R, RFS_BLOCK);
		memcpy(res, o->reserved, o->reserved_len);
		r = rx_dev_write(dev, res, (size_t)(R * RFS_BLOCK), 0);
		free(res);
		if (r)
			return r;
	}
	/* Blocks 0..263: the whole ring zeroed (no stale headers of an older filesystem win). */
	uint8_t *b = rx_xcalloc(MK_L3 + 1, RFS_BLOCK);
	uint8_t *alloc = b + MK_ALLOC * RFS_BLOCK, *root = b + MK_ROOT * RFS_BLOCK;
	uint8_t *l0 = b + MK_L0 * RFS_BLOCK, *l1 = b + MK_L1 * RFS_BLOCK;
	uint8_t *l2 = b + MK_L2 * RFS_BLOCK, *l3 = b + MK_L3 * RFS_BLOCK;

	struct rfs_node n = { 0 };
	n.mode = RFS_MODE_DIR | 0755;
	n.links = 1;
	n.blocks = 1;
	n.ctime = n.mtime = n.atime = o->time.sec;
	n.ctime_nsec = n.mtime_nsec = n.atime_nsec = o->time.nsec;
	rfs_node_encode(&n);
	memcpy(root, n.raw, RFS_BLOCK);

	put_ptr_to(l0 + 16 * 1, MK_ROOT, root);
	l0[4064] = 0x03;	/* ids 0 (reserved) and 1 (root) are taken */
	put_ptr_to(l1, MK_L0, l0);
	put_ptr_to(l2, MK_L1, l1);
	put_ptr_to(l3, MK_L2, l2);

	/* The log the reference's final squash writes: free extents, then its own bookkeeping. */
	unsigned k = 0;
	int64_t entries[4][2] = { { 265, (int64_t)N - 265 }, { 257, 2 }, { 257, -1 }, { 264, 1 } };
	for (unsigned i = 0; i < 4; i++) {
		if (entries[i][1] == 0)
			continue;
		put_le64(alloc + 16 + 16 * k, (uint64_t)entries[i][0]);
		put_le64(alloc + 24 + 16 * k, (uint64_t)entries[i][1]);
		k++;
	}

	/* Generation 0 in slot 0 (null pointers, as the reference leaves it), 3 in slot 3. */
	uint8_t *h0 = b, *h3 = b + 3 * RFS_BLOCK;
	memcpy(h0, rfs_signature, 8);
	put_le64(h0 + 8, RFS_VERSION);
	memcpy(h0 + 16, o->uuid, 16);
	put_le64(h0 + 32, N * RFS_BLOCK);
	struct rfs_crypt *c = NULL;
	if (o->password && (r = make_keys(ctx, o, h0 + 80, &c)) != 0) {
		free(b);
		return r;
	}
	memcpy(h3, h0, RFS_BLOCK);
	put_le64(h3 + 40, 3);
	put_ptr_to(h3 + 48, MK_L3, l3);
	put_ptr_to(h3 + 64, MK_ALLOC, alloc);
	/* Unlike the reference, generation 0 is sealed after the key slot: it stays valid. */
	if (rfs_header_seal(h0, c) || rfs_header_seal(h3, c) ||
	    (c && rfs_crypt_xts(c, 1, MK_ALLOC, alloc, alloc, (MK_L3 + 1 - MK_ALLOC) * RFS_BLOCK))) {
		rfs_crypt_free(c);
		free(b);
		return rx_fail(ctx, EIO, "cannot encrypt the new filesystem");
	}
	rfs_crypt_free(c);

	/*
	 * First the ring and block 256 zeroed (any older filesystem is gone), then
	 * the new blocks, and only then the headers that name them.
	 */
	uint8_t *zero = rx_xcalloc(RFS_FIRST_DATA_BLOCK, RFS_BLOCK);
	r = rx_dev_write(dev, zero, (size_t)RFS_FIRST_DATA_BLOCK * RFS_BLOCK, start);
	free(zero);
	if (r == 0)
		r = rx_dev_flush(dev);
	if (r == 0)
		r = rx_dev_write(dev, alloc, (size_t)(MK_L3 + 1 - MK_ALLOC) * RFS_BLOCK,
				 start + MK_ALLOC * RFS_BLOCK);
	if (r == 0)
		r = rx_dev_flush(dev);
	if (r == 0)
		r = rx_dev_write(dev, h0, 4 * RFS_BLOCK, start);
	if (r == 0)
		r = rx_dev_flush(dev);
	free(b);
	return r;
}
