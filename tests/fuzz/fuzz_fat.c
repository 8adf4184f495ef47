/*
 * FAT12/16/32 from untrusted bytes: the boot sector, the FATs, every
 * directory walked and every file read and looked up by its path. Then, on a
 * copy-on-write view, opened for writing (refused unless the volume is consistent): a file
 * written, a directory made, a rename and a removal, and the result walked
 * again. Input: a sparse image (fuzz.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fat.h"
#include "fuzz.h"

struct walk {
	struct fat_fs *fs;
	char path[1024];
	unsigned budget;
	int depth;
};

static int visit(void *arg, const struct fat_node *node)
{
	struct walk *w = arg;
	static uint8_t buf[65536];
	if (w->budget == 0)
		return 1;
	w->budget--;
	size_t at = strlen(w->path);
	if (at + 1 + strlen(node->name) >= sizeof(w->path))
		return 0;
	snprintf(w->path + at, sizeof(w->path) - at, "/%s", node->name);
	struct fat_node found;
	fat_lookup(w->fs, w->path, &found);
	if (fat_is_dir(node)) {
		if (w->depth < 16) {
			w->depth++;
			fat_readdir(w->fs, node, visit, w);
			w->depth--;
		}
	} else {
		for (uint64_t off = 0; off < node->size && off < (1u << 20); off += sizeof(buf))
			if (fat_read(w->fs, node, buf, sizeof(buf), off) <= 0)
				break;
	}
	w->path[at] = 0;
	return 0;
}

static void walk(struct fat_fs *fs)
{
	struct walk w = { fs, "", 2048, 0 };
	struct fat_node root;
	struct fat_info info;
	fat_info(fs, &info);
	if (fat_lookup(fs, "/", &root) == 0)
		fat_readdir(fs, &root, visit, &w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct rx_ctx ctx = { 0 };
	struct rx_dev *dev = fuzz_sparse_dev(&ctx, data, n);
	struct fat_fs *fs;
	struct fat_info info;
	int writable = 0;
	if (fat_open(&ctx, dev, 0, &fs) == 0) {
		walk(fs);
		fat_info(fs, &info);
		writable = !info.fats_differ;
		fat_close(fs);
	}
	rx_dev_close(dev);
	if (!writable)
		return 0;
	dev = fuzz_cow_dev(fuzz_sparse_dev(&ctx, data, n), 0);
	if (fat_open(&ctx, dev, 1, &fs) == 0) {
		static const char text[5000] = "rximg";
		fat_set_time(fs, 1700000000);
		if (fat_write_buf(fs, "/Fuzz Written.txt", text, sizeof(text)) == 0 &&
		    fat_mkdir(fs, "/NEWDIR") == 0 &&
		    fat_rename(fs, "/Fuzz Written.txt", "/NEWDIR/moved.txt") == 0)
			fat_unlink(fs, "/NEWDIR/moved.txt");
		walk(fs);
		fat_close(fs);
	}
	rx_dev_close(dev);
	return 0;
}
