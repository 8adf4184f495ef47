/*
 * A small front-end to the FAT library for the scenario tests (not installed):
 *   fattool [-o OFFSET -l LENGTH] IMAGE info|ls PATH|tree [PATH]|cat PATH|
 *           put HOSTFILE PATH|mkdir PATH|rm PATH|mv FROM TO|
 *           mkfs [-F 12|16|32] [-n LABEL] [-i VOLID] [-t TIME] [-S SECTOR]
 * FATTOOL_TIME=t fixes the time written into entries. FATTOOL_FAULT_AFTER=k ends
 * the process (exit 99) at the k-th write, before it lands; with
 * FATTOOL_FAULT_TORN=1 the first half of that write's sectors land first.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dev.h"
#include "fat.h"

static const char *image;

static int die(struct rx_ctx *ctx)
{
	fprintf(stderr, "fattool: %s: %s\n", image, ctx->msg[0] ? ctx->msg : "failed");
	return 1;
}

struct fault_dev {
	struct rx_dev dev;
	struct rx_dev *inner;
	long left;
	int torn;
};

static int f_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	return rx_dev_read(((struct fault_dev *)dev)->inner, buf, len, off);
}

static int f_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct fault_dev *f = (struct fault_dev *)dev;
	if (f->left > 0 && --f->left == 0) {
		size_t part = len / 1024 * 512;
		if (f->torn && part)
			rx_dev_write(f->inner, buf, part, off);
		rx_dev_flush(f->inner);
		_exit(99);
	}
	return rx_dev_write(f->inner, buf, len, off);
}

static int f_flush(struct rx_dev *dev)
{
	return rx_dev_flush(((struct fault_dev *)dev)->inner);
}

static void f_close(struct rx_dev *dev)
{
	(void)dev;
}

static const struct rx_dev_ops fault_ops = { f_pread, f_pwrite, f_flush, f_close, NULL };

static const char *kind(const struct fat_node *n)
{
	return fat_is_dir(n) ? "d" : "f";
}

struct list {
	struct fat_node *v;
	size_t n;
};

static int collect(void *arg, const struct fat_node *n)
{
	struct list *l = arg;
	l->v = rx_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = *n;
	return 0;
}

static int tree(struct fat_fs *fs, const struct fat_node *dir, const char *prefix, int depth)
{
	if (depth > 32) {
		fprintf(stderr, "fattool: %s: %s: directories nested deeper than 32\n", image, prefix);
		return 1;
	}
	struct list l = { NULL, 0 };
	int r = fat_readdir(fs, dir, collect, &l);
	for (size_t i = 0; i < l.n && !r; i++) {
		char *p = rx_xasprintf("%s/%s", prefix, l.v[i].name);
		if (fat_is_dir(&l.v[i])) {
			printf("d %s\n", p);
			r = tree(fs, &l.v[i], p, depth + 1);
		} else {
			printf("f %" PRIu32 " %s\n", l.v[i].size, p);
		}
		free(p);
	}
	free(l.v);
	return r < 0 ? -1 : r;
}

static ssize_t fd_source(void *arg, void *buf, size_t len)
{
	ssize_t n = read(*(int *)arg, buf, len);
	return n < 0 ? -errno : n;
}

static int usage(void)
{
	fputs("usage: fattool [-o OFFSET -l LENGTH] IMAGE info|ls PATH|tree [PATH]|cat PATH|put HOST PATH|"
	      "mkdir PATH|rm PATH|mv FROM TO|mkfs [-F T] [-n LABEL] [-i ID] [-t TIME] [-S SECTOR]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static struct rx_ctx ctx;
	uint64_t off = 0, len = 0;
	int a = 1;
	for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
		if (!strcmp(argv[a], "-o"))
			off = strtoull(argv[a + 1], NULL, 0);
		else if (!strcmp(argv[a], "-l"))
			len = strtoull(argv[a + 1], NULL, 0);
		else
			return usage();
	}
	if (a + 1 >= argc)
		return usage();
	image = argv[a];
	const char *cmd = argv[a + 1];
	char **args = argv + a + 2;
	int nargs = argc - a - 2;
	int writing = !strcmp(cmd, "put") || !strcmp(cmd, "mkdir") || !strcmp(cmd, "rm") || !strcmp(cmd, "mv") ||
		      !strcmp(cmd, "mkfs");

	struct rx_dev *file, *dev;
	int rc = 0;
	if (rx_dev_open_file(&ctx, image, writing ? RX_DEV_RDWR : RX_DEV_RDONLY, &file))
		return die(&ctx);
	dev = file;
	if (off || len) {
		if (rx_dev_open_slice(file, off, len ? len : file->size - RX_MIN(off, file->size), "esp", &dev)) {
			rc = die(&ctx);
			rx_dev_close(file);
			return rc;
		}
	}
	struct fault_dev fd = { .dev = *dev, .inner = dev };
	fd.dev.ops = &fault_ops;
	const char *e = getenv("FATTOOL_FAULT_AFTER");
	fd.left = e ? atol(e) : 0;
	fd.torn = getenv("FATTOOL_FAULT_TORN") != NULL;
	dev = &fd.dev;

	if (!strcmp(cmd, "mkfs")) {
		struct fat_mkfs_opts o = { .volume_id = 0x12345678 };
		for (int i = 0; i + 1 < nargs; i += 2) {
			if (!strcmp(args[i], "-F"))
				o.type = atoi(args[i + 1]);
			else if (!strcmp(args[i], "-n"))
				o.label = args[i + 1];
			else if (!strcmp(args[i], "-i"))
				o.volume_id = (uint32_t)strtoul(args[i + 1], NULL, 16);
			else if (!strcmp(args[i], "-t"))
				o.time = strtoll(args[i + 1], NULL, 0);
			else if (!strcmp(args[i], "-S"))
				o.bytes_per_sector = (unsigned)atoi(args[i + 1]);
			else
				o.type = -1;	/* an unknown option: refused below */
		}
		rc = o.type < 0 ? usage() : fat_mkfs(&ctx, dev, &o) ? die(&ctx) : 0;
		goto out;
	}

	struct fat_fs *fs;
	if (fat_open(&ctx, dev, writing, &fs)) {
		rc = die(&ctx);
		goto out;
	}
	const char *t = getenv("FATTOOL_TIME");
	if (t)
		fat_set_time(fs, strtoll(t, NULL, 0));
	struct fat_node n;
	int r = 0;
	if (!strcmp(cmd, "info")) {
		struct fat_info i;
		fat_info(fs, &i);
		printf("type FAT%d\nbytes_per_sector %u\nsectors_per_cluster %u\nreserved_sectors %u\nfats %u\n"
		       "sectors_per_fat %u\nroot_entries %u\ntotal_sectors %u\nclusters %u\nfree_clusters %u\n"
		       "volume_id %08X\nmedia %02X\nlabel %s\nfats_differ %d\n",
		       i.type, i.bytes_per_sector, i.sectors_per_cluster, i.reserved_sectors, i.fats, i.sectors_per_fat,
		       i.root_entries, i.total_sectors, i.clusters, i.free_clusters, i.volume_id, i.media, i.label,
		       i.fats_differ);
	} else if (!strcmp(cmd, "ls") && nargs == 1) {
		struct list l = { NULL, 0 };
		r = fat_lookup(fs, args[0], &n);
		if (!r)
			r = fat_readdir(fs, &n, collect, &l);
		for (size_t i = 0; i < l.n && !r; i++)
			printf("%s %" PRIu32 " %s %s\n", kind(&l.v[i]), l.v[i].size, l.v[i].short_name, l.v[i].name);
		free(l.v);
	} else if (!strcmp(cmd, "tree") && nargs <= 1) {
		r = fat_lookup(fs, nargs ? args[0] : "/", &n);
		if (!r && (rc = tree(fs, &n, "", 0)) < 0)
			r = -1;
	} else if (!strcmp(cmd, "cat") && nargs == 1) {
		r = fat_lookup(fs, args[0], &n);
		static uint8_t buf[1 << 16];
		for (uint64_t o = 0; !r;) {
			ssize_t got = fat_read(fs, &n, buf, sizeof(buf), o);
			if (got < 0)
				r = (int)got;
			if (got <= 0)
				break;
			fwrite(buf, 1, (size_t)got, stdout);
			o += (uint64_t)got;
		}
	} else if (!strcmp(cmd, "put") && nargs == 2) {
		int hfd = open(args[0], O_RDONLY);
		r = hfd < 0 ? rx_fail(&ctx, errno, "%s: %s", args[0], strerror(errno))
			    : fat_write_file(fs, args[1], fd_source, &hfd);
		if (hfd >= 0)
			close(hfd);
	} else if (!strcmp(cmd, "mkdir") && nargs == 1) {
		r = fat_mkdir(fs, args[0]);
	} else if (!strcmp(cmd, "rm") && nargs == 1) {
		r = fat_unlink(fs, args[0]);
	} else if (!strcmp(cmd, "mv") && nargs == 2) {
		r = fat_rename(fs, args[0], args[1]);
	} else {
		rc = usage();
	}
	if (r)
		rc = die(&ctx);
	fat_close(fs);
out:
	if (fd.inner != file)
		rx_dev_close(fd.inner);
	rx_dev_close(file);
	return rc;
}
