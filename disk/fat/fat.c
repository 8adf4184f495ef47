/* Opening a FAT volume, resolving paths, reading files, and the write operations. */
#include "fat_int.h"

#include <stdlib.h>
#include <time.h>

#define NO_SLOT 0xFFFFFFFFu

int fat_open(struct rx_ctx *ctx, struct rx_dev *dev, int writable, struct fat_fs **out)
{
	uint8_t sec[512];
	if (writable && !dev->writable)
		return rx_fail(ctx, EROFS, "opened read-only");
	if (dev->size < sizeof(sec))
		return rx_fail(ctx, EINVAL, "not a FAT file system: only %llu bytes", (unsigned long long)dev->size);
	int r = rx_dev_read(dev, sec, sizeof(sec), 0);
	if (r)
		return r;
	struct fat_fs *fs = rx_xcalloc(1, sizeof(*fs));
	fs->ctx = ctx;
	fs->dev = dev;
	fs->now = (int64_t)time(NULL);
	r = fat_bpb_parse(ctx, sec, sizeof(sec), dev->size, &fs->b);
	if (!r)
		r = fat_load(fs);
	if (!r && fs->b.type == 32 && fs->b.fsinfo_sector) {
		uint8_t *fsi = rx_xmalloc(fs->b.bps);
		r = rx_dev_read(dev, fsi, fs->b.bps, (uint64_t)fs->b.fsinfo_sector * fs->b.bps);
		if (!r && get_le32(fsi) == 0x41615252 && get_le32(fsi + 484) == 0x61417272 &&
		    get_le32(fsi + 508) == 0xAA550000) {
			fs->fsinfo_ok = 1;
			fs->fsinfo_free = get_le32(fsi + 488);
			fs->fsinfo_next = get_le32(fsi + 492);
			if (fat_cluster_valid(fs, fs->fsinfo_next))
				fs->hint = fs->fsinfo_next;
		}
		free(fsi);
	}
	if (!r && writable && fs->fats_differ)
		r = rx_fail(ctx, EIO, "the two FAT copies differ (an interrupted write?): repair with fsck.fat first");
	if (!r && writable && (r = fat_check(fs)) != 0)
		rx_prefix(ctx, "not writing to a damaged FAT volume (repair with fsck.fat)");
	if (r) {
		fat_close(fs);
		return r;
	}
	fs->writable = writable;
	*out = fs;
	return 0;
}

void fat_close(struct fat_fs *fs)
{
	if (!fs)
		return;
	free(fs->fat);
	free(fs->dirty);
	free(fs);
}

void fat_info(const struct fat_fs *fs, struct fat_info *o)
{
	memset(o, 0, sizeof(*o));
	o->type = fs->b.type;
	o->bytes_per_sector = fs->b.bps;
	o->sectors_per_cluster = fs->b.spc;
	o->cluster_size = fs->b.cluster_size;
	o->reserved_sectors = fs->b.reserved;
	o->fats = fs->b.nfats;
	o->sectors_per_fat = fs->b.fat_sectors;
	o->root_entries = fs->b.root_entries;
	o->total_sectors = fs->b.total_sectors;
	o->clusters = fs->b.clusters;
	o->free_clusters = fs->nfree;
	o->volume_id = fs->b.volume_id;
	o->media = fs->b.media;
	memcpy(o->label, fs->b.label, sizeof(o->label));
	o->fats_differ = fs->fats_differ;
}

void fat_set_time(struct fat_fs *fs, int64_t now)
{
	fs->now = now;
}

static void root_node(const struct fat_fs *fs, struct fat_node *n)
{
	memset(n, 0, sizeof(*n));
	strcpy(n->name, "/");
	strcpy(n->short_name, "/");
	n->attr = FAT_ATTR_DIR;
	n->first_cluster = fs->b.type == 32 ? fs->b.root_cluster : 0;
	n->is_root = 1;
	n->slot = NO_SLOT;
}

/* The directory a node names, loaded. */
static int open_dir(struct fat_fs *fs, const struct fat_node *n, struct fat_dir *d)
{
	if (!fat_is_dir(n))
		return rx_fail(fs->ctx, ENOTDIR, "%s: not a directory", n->name);
	if (!n->is_root && n->first_cluster == 0)
		return rx_fail(fs->ctx, EIO, "%s: directory without a cluster", n->name);
	return fat_dir_load(fs, n->first_cluster, d);
}

/* Next component of path at *p: its start and length (0 at the end); "." and ".." are refused. */
static int component(struct fat_fs *fs, const char **p, const char **name, size_t *len)
{
	while (**p == '/')
		(*p)++;
	*name = *p;
	while (**p && **p != '/')
		(*p)++;
	*len = (size_t)(*p - *name);
	if ((*len == 1 && (*name)[0] == '.') || (*len == 2 && !memcmp(*name, "..", 2)))
		return rx_fail(fs->ctx, EINVAL, "\".\" and \"..\" are not allowed in FAT paths");
	return 0;
}

static int walk(struct fat_fs *fs, const char *path, struct fat_node *out, int stop_before_last,
		const char **leaf, size_t *leaflen)
{
	root_node(fs, out);
	const char *p = path, *name;
	size_t len;
	int r = component(fs, &p, &name, &len);
	while (!r && len) {
		const char *save = p, *next;
		size_t nlen;
		if ((r = component(fs, &save, &next, &nlen)) != 0)
			break;
		if (stop_before_last && nlen == 0) {
			*leaf = name;
			*leaflen = len;
			return 0;
		}
		struct fat_dir d;
		if ((r = open_dir(fs, out, &d)) != 0)
			break;
		struct fat_node child;
		r = fat_dir_find(fs, &d, name, len, &child);
		fat_dir_free(&d);
		if (r == 0)
			return rx_fail(fs->ctx, ENOENT, "%.*s: no such file or directory", (int)len, name);
		if (r < 0)
			break;
		r = 0;
		*out = child;
		p = save;
		name = next;
		len = nlen;
	}
	if (!r && stop_before_last)
		return rx_fail(fs->ctx, EINVAL, "the root directory cannot be created, removed or renamed");
	return r;
}

int fat_lookup(struct fat_fs *fs, const char *path, struct fat_node *out)
{
	return walk(fs, path, out, 0, NULL, NULL);
}

int fat_readdir(struct fat_fs *fs, const struct fat_node *dir, fat_dir_cb cb, void *arg)
{
	struct fat_dir d;
	int r = open_dir(fs, dir, &d);
	if (r)
		return r;
	struct fat_node n;
	uint32_t slot = 0;
	while ((r = fat_dir_next(fs, &d, &slot, &n)) == 1)
		if ((r = cb(arg, &n)) != 0)
			break;
	fat_dir_free(&d);
	return r;
}

ssize_t fat_read(struct fat_fs *fs, const struct fat_node *n, void *buf, size_t len, uint64_t off)
{
	if (fat_is_dir(n))
		return rx_fail(fs->ctx, EISDIR, "%s: is a directory", n->name);
	if (off >= n->size || len == 0)
		return 0;
	len = (size_t)RX_MIN((uint64_t)len, n->size - off);
	uint32_t cs = fs->b.cluster_size;
	if (n->first_cluster == 0)
		return rx_fail(fs->ctx, EIO, "%s: a file of %u bytes without clusters", n->name, n->size);
	if (fs->cur_first != n->first_cluster) {
		uint32_t chain, need = (uint32_t)(((uint64_t)n->size + cs - 1) / cs);
		int r = fat_chain_len(fs, n->first_cluster, &chain);
		if (r)
			return r;
		if (chain < need)
			return rx_fail(fs->ctx, EIO, "%s: %u bytes need %u clusters but the chain has %u", n->name,
				       n->size, need, chain);
		fs->cur_first = n->first_cluster;
		fs->cur_index = 0;
		fs->cur_cluster = n->first_cluster;
	}
	uint32_t idx = (uint32_t)(off / cs);
	if (idx < fs->cur_index) {
		fs->cur_index = 0;
		fs->cur_cluster = n->first_cluster;
	}
	size_t done = 0;
	while (done < len) {
		while (fs->cur_index < idx) {
			int r = fat_next(fs, fs->cur_cluster, &fs->cur_cluster);
			if (r || !fs->cur_cluster) {
				fs->cur_first = 0;
				return r ? r : rx_fail(fs->ctx, EIO, "%s: cluster chain ends early", n->name);
			}
			fs->cur_index++;
		}
		/* Extend over physically consecutive clusters: one read per contiguous run. */
		uint32_t in = (uint32_t)(off % cs);
		size_t want = RX_MIN(len - done, (size_t)(cs - in));
		uint32_t c = fs->cur_cluster;
		while (done + want < len) {
			uint32_t next;
			if (fat_next(fs, c, &next) || next != c + 1)
				break;
			c = next;
			want += RX_MIN(len - done - want, (size_t)cs);
		}
		int r = rx_dev_read(fs->dev, (uint8_t *)buf + done, want, fat_cluster_off(fs, fs->cur_cluster) + in);
		if (r)
			return r;
		done += want;
		off += want;
		idx = (uint32_t)(off / cs);
	}
	return (ssize_t)done;
}

/* ---- writing ---- */

static int begin_write(struct fat_fs *fs)
{
	if (!fs->writable)
		return rx_fail(fs->ctx, EROFS, "the FAT volume is open read-only");
	/* "Unknown" is always true, so a kill during the change leaves no wrong count behind. */
	return fat_fsinfo_write(fs, FAT_FSINFO_UNKNOWN, fs->fsinfo_next);
}

static int end_write(struct fat_fs *fs)
{
	return fat_fsinfo_write(fs, fs->nfree, fat_cluster_valid(fs, fs->hint) ? fs->hint : 2);
}

static void set_entry_cluster(struct fat_fs *fs, uint8_t *e, uint32_t c, uint32_t size)
{
	put_le16(e + 20, fs->b.type == 32 ? (uint16_t)(c >> 16) : 0);
	put_le16(e + 26, (uint16_t)c);
	put_le32(e + 28, size);
}

/* Parent directory of path (loaded), the leaf name, and the entry it names if any (1) or not (0). */
static int open_parent(struct fat_fs *fs, const char *path, struct fat_node *parent, struct fat_dir *d,
		       const char **leaf, size_t *leaflen, struct fat_node *existing)
{
	int r = walk(fs, path, parent, 1, leaf, leaflen);
	if (r)
		return r;
	if ((r = open_dir(fs, parent, d)) != 0)
		return r;
	r = fat_dir_find(fs, d, *leaf, *leaflen, existing);
	if (r < 0)
		fat_dir_free(d);
	return r;
}

struct write_state {
	uint32_t first, last, total;
};

/* Put len bytes (zero-padded to whole clusters) into newly allocated clusters after st->last. */
static int write_clusters(struct fat_fs *fs, struct write_state *st, uint8_t *buf, size_t len)
{
	uint32_t cs = fs->b.cluster_size;
	size_t padded = (len + cs - 1) / cs * cs;
	memset(buf + len, 0, padded - len);
	for (size_t done = 0; done < padded;) {
		uint32_t c;
		int r = fat_alloc(fs, st->last, &c);
		if (r)
			return r;
		if (!st->first)
			st->first = c;
		st->last = c;
		size_t run = cs;
		/* Let a contiguous run of free clusters take one write. */
		while (done + run < padded && fat_cluster_valid(fs, c + 1) && fat_get(fs, c + 1) == 0) {
			uint32_t nc;
			if ((r = fat_alloc(fs, c, &nc)) != 0)
				return r;
			c = nc;
			st->last = c;
			run += cs;
		}
		r = rx_dev_write(fs->dev, buf + done, run, fat_cluster_off(fs, c) - (run - cs));
		if (r)
			return r;
		done += run;
	}
	return 0;
}

int fat_write_file(struct fat_fs *fs, const char *path, fat_source_fn src, void *arg)
{
	struct fat_node parent, old;
	struct fat_dir d;
	const char *leaf;
	size_t leaflen;
	int found = open_parent(fs, path, &parent, &d, &leaf, &leaflen, &old);
	if (found < 0)
		return found;
	int r = 0;
	uint32_t sfn_slot, old_len;
	if (found && fat_is_dir(&old))
		r = rx_fail(fs->ctx, EISDIR, "%s: is a directory", old.name);
	else if (found && old.first_cluster)
		r = fat_chain_len(fs, old.first_cluster, &old_len);	/* a damaged old chain is refused up front */
	if (!r)
		r = begin_write(fs);
	if (!r && !found)
		r = fat_dir_add(fs, &d, leaf, leaflen, FAT_ATTR_ARCHIVE, 0, 0, NO_SLOT, &sfn_slot);
	if (r) {
		fat_dir_free(&d);
		return r;
	}
	if (found)
		sfn_slot = old.slot;

	struct write_state st = { 0, 0, 0 };
	size_t chunk = RX_MAX((size_t)fs->b.cluster_size, (size_t)(256 << 10) / fs->b.cluster_size * fs->b.cluster_size);
	uint8_t *buf = rx_xmalloc(chunk);
	for (;;) {
		size_t have = 0;
		while (have < chunk) {
			ssize_t n = src(arg, buf + have, chunk - have);
			if (n < 0) {
				r = (int)n;
				break;
			}
			if (n == 0)
				break;
			have += (size_t)n;
		}
		if (r || have == 0)
			break;
		if ((uint64_t)st.total + have > 0xFFFFFFFFu) {
			r = rx_fail(fs->ctx, EFBIG, "%s: a FAT file holds at most 4 GiB - 1 bytes", path);
			break;
		}
		if ((r = write_clusters(fs, &st, buf, have)) != 0)
			break;
		st.total += (uint32_t)have;
		if (have < chunk)
			break;
	}
	free(buf);
	/*
	 * The data and its chain land (fat_commit flushes them) before the entry
	 * points at them: a chain that lands without its data is only allocated
	 * space no entry uses yet, so both go in one flush.
	 */
	if (!r)
		r = fat_commit(fs);
	if (r) {
		fat_rollback(fs);
		fat_dir_free(&d);
		return r;
	}
	uint8_t *e = d.buf + (size_t)sfn_slot * FAT_DIRENT;
	set_entry_cluster(fs, e, st.first, st.total);
	uint16_t date, time;
	fat_time_encode(fs->now, &date, &time, NULL);
	put_le16(e + 18, date);
	put_le16(e + 22, time);
	put_le16(e + 24, date);
	e[11] |= FAT_ATTR_ARCHIVE;
	r = fat_dir_commit(fs, &d, (size_t)sfn_slot * FAT_DIRENT);
	fat_dir_free(&d);
	if (!r && found && old.first_cluster) {
		r = fat_free_chain(fs, old.first_cluster);
		if (!r)
			r = fat_commit(fs);
		if (r)
			fat_rollback(fs);
	}
	if (!r)
		r = end_write(fs);
	return r;
}

struct buf_source {
	const uint8_t *p;
	size_t left;
};

static ssize_t buf_read(void *arg, void *out, size_t len)
{
	struct buf_source *b = arg;
	size_t n = RX_MIN(len, b->left);
	memcpy(out, b->p, n);
	b->p += n;
	b->left -= n;
	return (ssize_t)n;
}

int fat_write_buf(struct fat_fs *fs, const char *path, const void *buf, size_t len)
{
	struct buf_source b = { buf, len };
	return fat_write_file(fs, path, buf_read, &b);
}

int fat_mkdir(struct fat_fs *fs, const char *path)
{
	struct fat_node parent, old;
	struct fat_dir d;
	const char *leaf;
	size_t leaflen;
	int found = open_parent(fs, path, &parent, &d, &leaf, &leaflen, &old);
	if (found < 0)
		return found;
	int r = found ? rx_fail(fs->ctx, EEXIST, "%s: already exists", old.name) : begin_write(fs);
	uint32_t sfn_slot, c = 0;
	if (!r)
		r = fat_dir_add(fs, &d, leaf, leaflen, FAT_ATTR_DIR, 0, 0, NO_SLOT, &sfn_slot);
	if (!r)
		r = fat_alloc(fs, 0, &c);
	if (!r) {
		/* The new directory's cluster: ".", ".." (0 when the parent is the root), then zeros. */
		uint8_t *cl = rx_xcalloc(1, fs->b.cluster_size);
		memcpy(cl, d.buf + (size_t)sfn_slot * FAT_DIRENT, FAT_DIRENT);
		memcpy(cl, ".          ", 11);
		cl[12] = 0;
		set_entry_cluster(fs, cl, c, 0);
		memcpy(cl + FAT_DIRENT, cl, FAT_DIRENT);
		memcpy(cl + FAT_DIRENT, "..         ", 11);
		set_entry_cluster(fs, cl + FAT_DIRENT, parent.is_root ? 0 : parent.first_cluster, 0);
		r = rx_dev_write(fs->dev, cl, fs->b.cluster_size, fat_cluster_off(fs, c));
		free(cl);
		/* The cluster and its chain entry in one flush, as for a file's data. */
		if (!r)
			r = fat_commit(fs);
		if (r)
			fat_rollback(fs);
	}
	if (!r) {
		set_entry_cluster(fs, d.buf + (size_t)sfn_slot * FAT_DIRENT, c, 0);
		r = fat_dir_commit(fs, &d, (size_t)sfn_slot * FAT_DIRENT);
	}
	fat_dir_free(&d);
	if (!r)
		r = end_write(fs);
	return r;
}

static int dir_is_empty(struct fat_fs *fs, const struct fat_node *n)
{
	struct fat_dir d;
	int r = open_dir(fs, n, &d);
	if (r)
		return r;
	struct fat_node child;
	uint32_t slot = 0;
	r = fat_dir_next(fs, &d, &slot, &child);
	fat_dir_free(&d);
	if (r == 1)
		return rx_fail(fs->ctx, ENOTEMPTY, "%s: directory not empty", n->name);
	return r;
}

int fat_unlink(struct fat_fs *fs, const char *path)
{
	struct fat_node parent, n;
	struct fat_dir d;
	const char *leaf;
	size_t leaflen;
	int found = open_parent(fs, path, &parent, &d, &leaf, &leaflen, &n);
	if (found < 0)
		return found;
	int r = 0;
	if (!found)
		r = rx_fail(fs->ctx, ENOENT, "%.*s: no such file or directory", (int)leaflen, leaf);
	if (!r && fat_is_dir(&n))
		r = dir_is_empty(fs, &n);
	if (!r)
		r = begin_write(fs);
	/* Freed in memory first (this validates the chain); the FAT is written after the entry is gone. */
	if (!r)
		r = fat_free_chain(fs, n.first_cluster);
	if (!r) {
		fat_dir_remove(&d, &n);
		r = fat_dir_commit(fs, &d, (size_t)n.slot * FAT_DIRENT);
	}
	if (!r)
		r = fat_commit(fs);
	if (r)
		fat_rollback(fs);
	fat_dir_free(&d);
	if (!r)
		r = end_write(fs);
	return r;
}

/* Sectors of d that differ from disk: how many. */
static size_t changed_sectors(const struct fat_fs *fs, const struct fat_dir *d)
{
	size_t n = 0;
	for (size_t off = 0; off < d->len; off += fs->b.bps)
		n += memcmp(d->buf + off, d->orig + off, fs->b.bps) != 0;
	return n;
}

/* Copy what describes the file (attributes, times, cluster, size) from old entry bytes to new. */
static void carry_entry(uint8_t *to, const uint8_t *from)
{
	to[11] = from[11];
	memcpy(to + 13, from + 13, FAT_DIRENT - 13);
}

int fat_rename(struct fat_fs *fs, const char *from, const char *to)
{
	struct fat_node sp, n, dp, clash;
	struct fat_dir sd, dd;
	const char *sleaf, *dleaf;
	size_t slen, dlen;
	int found = open_parent(fs, from, &sp, &sd, &sleaf, &slen, &n);
	if (found < 0)
		return found;
	if (!found) {
		fat_dir_free(&sd);
		return rx_fail(fs->ctx, ENOENT, "%.*s: no such file or directory", (int)slen, sleaf);
	}
	found = open_parent(fs, to, &dp, &dd, &dleaf, &dlen, &clash);
	if (found < 0) {
		fat_dir_free(&sd);
		return found;
	}
	int same_dir = sp.first_cluster == dp.first_cluster;
	uint32_t chain;
	/* A file or directory whose chain is damaged is left where it is. */
	int r = n.first_cluster ? fat_chain_len(fs, n.first_cluster, &chain) : 0;
	if (!r && found && !(same_dir && clash.slot == n.slot))
		r = rx_fail(fs->ctx, EEXIST, "%.*s: already exists", (int)dlen, dleaf);
	if (!r && fat_is_dir(&n)) {
		/* The target's parent must not be the directory itself or below it. */
		struct fat_node cur;
		const char *p = to, *name;
		size_t len;
		root_node(fs, &cur);
		while (!r && !(r = component(fs, &p, &name, &len)) && len && name != dleaf) {
			if (cur.first_cluster == n.first_cluster)
				break;
			struct fat_dir t;
			if ((r = open_dir(fs, &cur, &t)) != 0)
				break;
			r = fat_dir_find(fs, &t, name, len, &cur);
			fat_dir_free(&t);
			r = r == 1 ? 0 : r ? r : rx_fail(fs->ctx, ENOENT, "%.*s: not found", (int)len, name);
		}
		if (!r && cur.first_cluster == n.first_cluster)
			r = rx_fail(fs->ctx, EINVAL, "%s: cannot move a directory into itself", n.name);
	}
	if (!r)
		r = begin_write(fs);
	if (r)
		goto out;
	uint8_t olde[FAT_DIRENT];
	memcpy(olde, sd.buf + (size_t)n.slot * FAT_DIRENT, FAT_DIRENT);
	uint32_t slot;
	if (same_dir) {
		/* Try it as one sector: the old slots freed and the new set placed in the same buffer. */
		fat_dir_remove(&dd, &n);
		r = fat_dir_add(fs, &dd, dleaf, dlen, olde[11], 0, 0, NO_SLOT, &slot);
		if (r)
			goto out;
		carry_entry(dd.buf + (size_t)slot * FAT_DIRENT, olde);
		if (changed_sectors(fs, &dd) <= 1) {
			r = fat_dir_commit(fs, &dd, (size_t)slot * FAT_DIRENT);
			goto done;
		}
		memcpy(dd.buf, dd.orig, dd.len);
	}
	/* Two steps: the new entry first, then the old one goes (never a moment without the file). */
	r = fat_dir_add(fs, &dd, dleaf, dlen, olde[11], 0, 0, NO_SLOT, &slot);
	if (!r) {
		carry_entry(dd.buf + (size_t)slot * FAT_DIRENT, olde);
		r = fat_dir_commit(fs, &dd, (size_t)slot * FAT_DIRENT);
	}
	if (!r && fat_is_dir(&n) && !same_dir) {
		uint8_t dot[FAT_DIRENT];
		uint64_t at = fat_cluster_off(fs, n.first_cluster) + FAT_DIRENT;
		r = rx_dev_read(fs->dev, dot, sizeof(dot), at);
		if (!r && !memcmp(dot, "..         ", 11)) {
			set_entry_cluster(fs, dot, dp.is_root ? 0 : dp.first_cluster, 0);
			r = rx_dev_write(fs->dev, dot, sizeof(dot), at);
			if (!r)
				r = rx_dev_flush(fs->dev);
		}
	}
	if (!r) {
		struct fat_dir *src = same_dir ? &dd : &sd;
		fat_dir_remove(src, &n);
		r = fat_dir_commit(fs, src, (size_t)n.slot * FAT_DIRENT);
	}
done:
	if (!r)
		r = end_write(fs);
out:
	fat_dir_free(&sd);
	fat_dir_free(&dd);
	return r;
}
