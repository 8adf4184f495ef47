/*
 * The consistency walk done before a volume is opened for writing: every
 * directory and every cluster chain, each cluster claimed at most once, each
 * file's chain exactly as long as its size needs. Writing on top of a damaged
 * volume would spread the damage (a cluster still used by a file but marked
 * free would be handed out again), so any finding refuses the write. Lost
 * clusters (allocated, referenced by nothing) are tolerated: they are what an
 * interrupted write leaves behind.
 */
#include "fat_int.h"

#include <stdlib.h>

#define MAX_DEPTH 64

struct walk {
	struct fat_fs *fs;
	uint8_t *used;
};

static int claim_chain(struct walk *w, uint32_t first, uint32_t *len)
{
	struct fat_fs *fs = w->fs;
	uint32_t n = 0;
	if (!fat_cluster_valid(fs, first))
		return rx_fail(fs->ctx, EIO, "first cluster %u is outside the volume", first);
	for (uint32_t c = first; c;) {
		uint32_t i = c - 2;
		if (w->used[i / 8] & (1u << (i % 8)))
			return rx_fail(fs->ctx, EIO, "cluster %u belongs to two chains (or a chain loops)", c);
		w->used[i / 8] |= (uint8_t)(1u << (i % 8));
		n++;
		int r = fat_next(fs, c, &c);
		if (r)
			return r;
	}
	*len = n;
	return 0;
}

static int check_dir(struct walk *w, uint32_t first, const char *path, int depth)
{
	struct fat_fs *fs = w->fs;
	if (depth > MAX_DEPTH)
		return rx_fail(fs->ctx, ELOOP, "%s: directories nested deeper than %d", path, MAX_DEPTH);
	struct fat_dir d;
	int r = fat_dir_load(fs, first, &d);
	if (r)
		return r;
	uint32_t *subdirs = NULL, nsub = 0, slot = 0;
	char **names = NULL;
	struct fat_node n;
	while (!r && (r = fat_dir_next(fs, &d, &slot, &n)) == 1) {
		r = 0;
		uint32_t len = 0, cs = fs->b.cluster_size;
		if (fat_is_dir(&n)) {
			if (n.first_cluster == 0)
				r = rx_fail(fs->ctx, EIO, "directory without a cluster");
			else if ((r = claim_chain(w, n.first_cluster, &len)) == 0) {
				subdirs = rx_xrealloc(subdirs, (nsub + 1) * sizeof(*subdirs));
				names = rx_xrealloc(names, (nsub + 1) * sizeof(*names));
				names[nsub] = rx_path_join(path, n.name, strlen(n.name));
				subdirs[nsub++] = n.first_cluster;
			}
		} else if (n.first_cluster == 0) {
			if (n.size)
				r = rx_fail(fs->ctx, EIO, "%u bytes without clusters", n.size);
		} else if ((r = claim_chain(w, n.first_cluster, &len)) == 0 &&
			   len != (uint32_t)(((uint64_t)n.size + cs - 1) / cs)) {
			r = rx_fail(fs->ctx, EIO, "%u bytes in a chain of %u clusters", n.size, len);
		}
		if (r)
			rx_prefix(fs->ctx, "%s%s%s", path, strcmp(path, "/") ? "/" : "", n.name);
	}
	fat_dir_free(&d);
	for (uint32_t i = 0; i < nsub; i++) {
		if (r >= 0)
			r = check_dir(w, subdirs[i], names[i], depth + 1);
		free(names[i]);
	}
	free(names);
	free(subdirs);
	return r < 0 ? r : 0;
}

int fat_check(struct fat_fs *fs)
{
	struct walk w = { fs, rx_xcalloc(1, fs->b.clusters / 8 + 1) };
	uint32_t len;
	int r = 0;
	if (fs->b.type == 32)
		r = claim_chain(&w, fs->b.root_cluster, &len);
	if (!r)
		r = check_dir(&w, fs->b.type == 32 ? fs->b.root_cluster : 0, "/", 0);
	free(w.used);
	return r;
}
