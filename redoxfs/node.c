/* The node tree (id -> node block), node decoding and file records. */
#include <lz4.h>
#include <stdlib.h>

#include "prefetch.h"
#include "rfs.h"
#include "wr.h"

static int id_split(struct rfs *fs, uint32_t id, unsigned idx[4])
{
	for (int i = 0; i < 4; i++) {
		idx[i] = (id >> (24 - 8 * i)) & 0xFF;
		if (idx[i] >= RFS_TREE_ENTRIES)
			return rx_fail(fs->ctx, RX_ECORRUPT, "node id %u is invalid (index byte %u >= 254)",
				       id, idx[i]);
	}
	if (id == 0)
		return rx_fail(fs->ctx, RX_ECORRUPT, "node id 0 is reserved");
	return 0;
}

static int node_decode(struct rfs *fs, uint32_t id, uint64_t block, const uint8_t *b,
		       struct rfs_node *n)
{
	n->id = id;
	n->block = block;
	n->mode = get_le16(b);
	n->uid = get_le32(b + 2);
	n->gid = get_le32(b + 6);
	n->links = get_le32(b + 10);
	n->size = get_le64(b + 14);
	n->blocks = get_le64(b + 22);
	n->ctime = get_le64(b + 30);
	n->ctime_nsec = get_le32(b + 38);
	n->mtime = get_le64(b + 42);
	n->mtime_nsec = get_le32(b + 50);
	n->atime = get_le64(b + 54);
	n->atime_nsec = get_le32(b + 62);
	n->record_level = get_le32(b + 66);
	n->flags = get_le32(b + 70);
	memcpy(n->raw, b, RFS_BLOCK);

	unsigned type = n->mode & RFS_MODE_TYPE;
	if (type != RFS_MODE_FILE && type != RFS_MODE_DIR && type != RFS_MODE_SYMLINK &&
	    type != RFS_MODE_SOCK)
		return rx_fail(fs->ctx, RX_ECORRUPT, "node %u has unknown type 0%o", id, n->mode);
	if (n->record_level > RFS_RECORD_LEVEL)
		return rx_fail(fs->ctx, RX_ECORRUPT, "node %u has bad record level %u", id,
			       n->record_level);
	if (type == RFS_MODE_DIR && rfs_is_inline(n))
		return rx_fail(fs->ctx, RX_ECORRUPT, "directory node %u is marked as inline data", id);
	if (n->size > rfs_max_file_size(n))
		return rx_fail(fs->ctx, RX_ECORRUPT, "node %u claims %llu bytes, beyond the largest "
			       "possible file", id, (unsigned long long)n->size);
	return 0;
}

int rfs_node_ptr(struct rfs *fs, uint32_t id, struct rfs_ptr *out)
{
	unsigned idx[4];
	struct rfs_ptr ptr = fs->hdr.tree;
	int r = id_split(fs, id, idx);
	if (r)
		return r;
	for (int level = 3; level >= 0; level--) {
		if (rfs_ptr_is_null(ptr))
			break;
		r = rfs_read_ptr_at(fs, ptr, 16 * idx[3 - level], &ptr);
		if (r) {
			rx_prefix(fs->ctx, "node tree level %d for node %u", level, id);
			return r;
		}
	}
	*out = ptr;
	return 0;
}

int rfs_node_get(struct rfs *fs, uint32_t id, struct rfs_node *out)
{
	uint8_t buf[RFS_BLOCK];
	struct rfs_ptr ptr;
	int r = rfs_node_ptr(fs, id, &ptr);
	if (r)
		return r;
	if (rfs_ptr_is_null(ptr))
		return rx_fail(fs->ctx, ENOENT, "node %u does not exist", id);
	r = rfs_read_ptr(fs, ptr, 1, buf);
	if (r) {
		rx_prefix(fs->ctx, "node %u", id);
		return r;
	}
	return node_decode(fs, id, rfs_ptr_index(ptr), buf, out);
}

int rfs_node_of_entry(struct rfs *fs, uint32_t id, struct rfs_node *out)
{
	int r = rfs_node_get(fs, id, out);
	if (r == -ENOENT)
		r = rx_fail(fs->ctx, RX_ECORRUPT, "names node %u, which does not exist", id);
	return r;
}

int rfs_is_damage(int r)
{
	return r == -EBADMSG || r == -RX_ECORRUPT;
}

/* The five level-data ranges of a node: direct pointers and 1..4 indirections. */
static const struct {
	unsigned slots, base, depth;
} ranges[5] = { { 128, 0, 0 }, { 64, 128, 1 }, { 32, 192, 2 }, { 16, 224, 3 }, { 8, 240, 4 } };

int rfs_record_ptr(struct rfs *fs, const struct rfs_node *node, uint64_t r, struct rfs_ptr *out)
{
	static const struct rfs_ptr null_ptr;
	uint8_t buf[RFS_BLOCK];

	*out = null_ptr;
	if (rfs_is_inline(node))
		return 0;
	for (unsigned k = 0; k < 5; k++) {
		unsigned depth = ranges[k].depth;
		uint64_t span = (uint64_t)ranges[k].slots << (8 * depth);
		if (r >= span) {
			r -= span;
			continue;
		}
		struct rfs_ptr ptr = rfs_node_level_ptr(node, ranges[k].base + (unsigned)(r >> (8 * depth)));
		for (unsigned d = depth; d > 0; d--) {
			if (rfs_ptr_is_null(ptr))
				return 0;
			int ret = rfs_read_ptr(fs, ptr, 1, buf);
			if (ret)
				return ret;
			ptr = rfs_ptr_decode(buf + 16 * ((r >> (8 * (d - 1))) & 0xFF));
		}
		*out = ptr;
		return 0;
	}
	return rx_fail(fs->ctx, EFBIG, "record %llu is beyond the largest possible file",
		       (unsigned long long)r);
}

int rfs_record_load(struct rfs *fs, const struct rfs_node *node, struct rfs_ptr ptr, uint8_t *buf)
{
	uint64_t recsize = rfs_record_size(node);
	unsigned level = rfs_ptr_level(ptr), decomp = rfs_ptr_decomp(ptr);
	unsigned logical = decomp ? decomp : level;

	if (logical > node->record_level)
		return rx_fail(fs->ctx, RX_ECORRUPT, "record at block %llu holds %u bytes, more than the "
			       "node's record size %llu", (unsigned long long)rfs_ptr_index(ptr),
			       RFS_BLOCK << logical, (unsigned long long)recsize);
	if (decomp && level >= decomp)
		return rx_fail(fs->ctx, RX_ECORRUPT, "compressed record at block %llu is not smaller "
			       "than its content", (unsigned long long)rfs_ptr_index(ptr));
	size_t stored = (size_t)RFS_BLOCK << level;
	if (!decomp) {
		int r = rfs_read_ptr(fs, ptr, 0, buf);
		if (r)
			return r;
		memset(buf + stored, 0, (size_t)(recsize - stored));
		return 0;
	}
	uint8_t *tmp = rx_xmalloc(stored);
	int r = rfs_read_ptr(fs, ptr, 0, tmp);
	if (r == 0) {
		unsigned comp_len = get_le16(tmp);
		size_t out_len = (size_t)RFS_BLOCK << decomp;
		if (comp_len == 0 || comp_len + 2u > stored) {
			r = rx_fail(fs->ctx, RX_ECORRUPT, "compressed record at block %llu has bad length %u",
				    (unsigned long long)rfs_ptr_index(ptr), comp_len);
		} else {
			int n = LZ4_decompress_safe((const char *)tmp + 2, (char *)buf, (int)comp_len,
						    (int)out_len);
			if (n < 0)
				r = rx_fail(fs->ctx, RX_ECORRUPT, "compressed record at block %llu does not "
					    "decode", (unsigned long long)rfs_ptr_index(ptr));
			else
				memset(buf + n, 0, (size_t)(recsize - (uint64_t)n));
		}
	}
	free(tmp);
	return r;
}

struct walk {
	struct rfs *fs;
	uint64_t nrec;		/* records below the file size */
	uint64_t budget;	/* pointers we may still visit: bounds hostile DAGs */
	rfs_record_cb rec_cb;
	rfs_block_cb blk_cb;
	void *arg;
	int reading;		/* every record will be read: hint them ahead */
};

/* Hint the children of an index block (or of the node's direct slots) that the walk will read. */
static void hint_children(struct walk *w, const uint8_t *ptrs, unsigned count, unsigned depth,
			  uint64_t first)
{
	if (!w->reading && depth == 0)
		return;
	struct rfs_prefetch p;
	uint64_t step = 1ULL << (8 * depth);
	rfs_prefetch_init(&p, w->fs);
	for (unsigned i = 0; i < count && first + i * step < w->nrec; i++)
		rfs_prefetch_add(&p, rfs_ptr_decode(ptrs + 16 * i));
	rfs_prefetch_issue(&p);
	rfs_prefetch_free(&p);
}

static int walk_ptr(struct walk *w, struct rfs_ptr ptr, unsigned depth, uint64_t first)
{
	int stale = first >= w->nrec;
	if ((stale && !w->blk_cb) || rfs_ptr_is_null(ptr))
		return 0;
	if (w->budget-- == 0)
		return rx_fail(w->fs->ctx, ELOOP, "file references more blocks than the filesystem has");
	if (depth == 0) {
		if (w->blk_cb)
			return w->blk_cb(w->arg, ptr, stale ? RFS_BLK_STALE_RECORD : RFS_BLK_RECORD);
		return w->rec_cb(w->arg, first, ptr);
	}
	uint8_t *buf = rx_xmalloc(RFS_BLOCK);
	int r = rfs_read_ptr(w->fs, ptr, 1, buf);
	if (r == 0 && w->blk_cb)
		r = w->blk_cb(w->arg, ptr, stale ? RFS_BLK_STALE_INDEX : RFS_BLK_INDEX);
	uint64_t step = 1ULL << (8 * (depth - 1));
	if (r == 0 && !stale)
		hint_children(w, buf, RFS_BLOCKLIST_ENTRIES, depth - 1, first);
	for (unsigned i = 0; r == 0 && i < RFS_BLOCKLIST_ENTRIES; i++)
		r = walk_ptr(w, rfs_ptr_decode(buf + 16 * i), depth - 1, first + i * step);
	free(buf);
	return r;
}

static int walk_node(struct walk *w, const struct rfs_node *node)
{
	uint64_t recsize = rfs_record_size(node);
	uint64_t first = 0;

	if (rfs_is_inline(node) || rfs_is_dir(node))
		return 0;
	w->nrec = node->size / recsize + (node->size % recsize != 0);
	w->budget = w->fs->nblocks;
	hint_children(w, node->raw + RFS_INLINE_OFF, ranges[0].slots, 0, 0);
	for (unsigned k = 0; k < 5; k++) {
		unsigned depth = ranges[k].depth;
		uint64_t step = 1ULL << (8 * depth);
		if (first >= w->nrec && !w->blk_cb)
			break;
		for (unsigned s = 0; s < ranges[k].slots; s++, first += step) {
			int r = walk_ptr(w, rfs_node_level_ptr(node, ranges[k].base + s), depth, first);
			if (r)
				return r;
		}
	}
	return 0;
}

int rfs_record_walk(struct rfs *fs, const struct rfs_node *node, rfs_record_cb cb, void *arg)
{
	struct walk w = { .fs = fs, .rec_cb = cb, .arg = arg, .reading = 1 };
	return walk_node(&w, node);
}

int rfs_file_blocks(struct rfs *fs, const struct rfs_node *node, rfs_block_cb cb, void *arg)
{
	struct walk w = { .fs = fs, .blk_cb = cb, .arg = arg };
	return walk_node(&w, node);
}

int rfs_file_blocks_reading(struct rfs *fs, const struct rfs_node *node, rfs_block_cb cb, void *arg)
{
	struct walk w = { .fs = fs, .blk_cb = cb, .arg = arg, .reading = 1 };
	return walk_node(&w, node);
}

int64_t rfs_read(struct rfs *fs, const struct rfs_node *node, uint64_t off, void *buf, size_t len)
{
	uint8_t *out = buf;
	if (off >= node->size)
		return 0;
	if (len > node->size - off)
		len = (size_t)(node->size - off);
	if (len > INT64_MAX)
		len = INT64_MAX;

	if (rfs_is_inline(node)) {
		size_t have = (size_t)RX_MIN(node->size, (uint64_t)RFS_INLINE_MAX);
		for (size_t i = 0; i < len; i++)
			out[i] = off + i < have ? node->raw[RFS_INLINE_OFF + off + i] : 0;
		return (int64_t)len;
	}

	uint64_t recsize = rfs_record_size(node);
	uint8_t *rec = NULL;
	size_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t j = pos % recsize;
		size_t n = (size_t)RX_MIN((uint64_t)(len - done), recsize - j);
		struct rfs_ptr ptr;
		int r = rfs_record_ptr(fs, node, pos / recsize, &ptr);
		if (r == 0 && !rfs_ptr_is_null(ptr) && j == 0 && n == recsize && !rfs_ptr_decomp(ptr) &&
		    ((uint64_t)RFS_BLOCK << rfs_ptr_level(ptr)) == recsize) {
			/* A whole stored record asked for whole: straight into the caller's buffer. */
			r = rfs_record_load(fs, node, ptr, out + done);
		} else if (r == 0 && !rfs_ptr_is_null(ptr)) {
			if (!rec)
				rec = rx_xmalloc((size_t)recsize);
			r = rfs_record_load(fs, node, ptr, rec);
			if (r == 0)
				memcpy(out + done, rec + j, n);
		} else if (r == 0) {
			memset(out + done, 0, n);
		}
		if (r) {
			free(rec);
			return r;
		}
		done += n;
	}
	free(rec);
	return (int64_t)len;
}

int rfs_readlink(struct rfs *fs, const struct rfs_node *node, char **target)
{
	size_t len = (size_t)RX_MIN(node->size, (uint64_t)RFS_BLOCK);
	char *buf = rx_xmalloc(len + 1);
	int64_t n = rfs_read(fs, node, 0, buf, len);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	buf[n] = 0;
	if (memchr(buf, 0, (size_t)n)) {
		free(buf);
		return rx_fail(fs->ctx, RX_ECORRUPT, "symlink target contains a NUL byte");
	}
	*target = buf;
	return 0;
}

struct stream {
	struct rfs *fs;
	const struct rfs_node *node;
	uint8_t *rec;
	rfs_data_cb cb;
	void *arg;
};

static int stream_record(void *arg, uint64_t r, struct rfs_ptr ptr)
{
	struct stream *s = arg;
	uint64_t recsize = rfs_record_size(s->node), off = r * recsize;
	int ret = rfs_record_load(s->fs, s->node, ptr, s->rec);
	if (ret)
		return ret;
	size_t len = (size_t)RX_MIN(recsize, s->node->size - off);
	/* Trim trailing zeros in whole pages: sparse output stays sparse. */
	while (len > 0) {
		size_t tail = len % RFS_BLOCK ? len % RFS_BLOCK : RFS_BLOCK;
		if (!rx_is_zero(s->rec + len - tail, tail))
			break;
		len -= tail;
	}
	return len ? s->cb(s->arg, off, s->rec, len) : 0;
}

int rfs_read_stream(struct rfs *fs, const struct rfs_node *node, rfs_data_cb cb, void *arg)
{
	if (rfs_is_inline(node)) {
		size_t len = (size_t)RX_MIN(node->size, (uint64_t)RFS_INLINE_MAX);
		return len ? cb(arg, 0, node->raw + RFS_INLINE_OFF, len) : 0;
	}
	struct stream s = { fs, node, rx_xmalloc((size_t)rfs_record_size(node)), cb, arg };
	int r = rfs_record_walk(fs, node, stream_record, &s);
	free(s.rec);
	return r;
}

void rfs_node_encode(struct rfs_node *n)
{
	uint8_t *b = n->raw;
	put_le16(b, n->mode);
	put_le32(b + 2, n->uid);
	put_le32(b + 6, n->gid);
	put_le32(b + 10, n->links);
	put_le64(b + 14, n->size);
	put_le64(b + 22, n->blocks);
	put_le64(b + 30, n->ctime);
	put_le32(b + 38, n->ctime_nsec);
	put_le64(b + 42, n->mtime);
	put_le32(b + 50, n->mtime_nsec);
	put_le64(b + 54, n->atime);
	put_le32(b + 62, n->atime_nsec);
	put_le32(b + 66, n->record_level);
	put_le32(b + 70, n->flags);
}
