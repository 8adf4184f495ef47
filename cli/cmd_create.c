/*
 * rximg create: a whole bootable disk in the Redox installer's layout
 * (shared disk-image.md §2): protective MBR, GPT with the BIOS boot, EFI
 * system and RedoxFS partitions, a FAT ESP holding EFI/BOOT/<arch>.EFI, the
 * RedoxFS made (and filled) in the same pass, the backup GPT. A new file is
 * written as DISK.partial and renamed, raw or qcow2.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fat.h"
#include "gpt.h"
#include "outfile.h"
#include "qcow2.h"
#include "tx.h"
#include "wr.h"

#define MIB (UINT64_C(1) << 20)
#define MAX_LOADERS 8

static const char create_help[] =
	"Usage: rximg create [OPTIONS] DISK\n"
	"       rximg create --like OLD [OPTIONS] DISK\n"
	"Make a whole bootable disk in the Redox installer's layout: protective MBR, GPT with\n"
	"a BIOS boot partition (sectors 34-2047), the EFI system partition at 1 MiB (FAT,\n"
	"EFI/BOOT/BOOTAA64.EFI or BOOTX64.EFI), RedoxFS at 2 MiB up to the last whole MiB\n"
	"before the backup GPT. A new DISK is written as DISK.partial and renamed.\n\n"
	"  -s, --size N           disk size (suffixes K, M, G, T: powers of 1024; whole\n"
	"                         sectors); a block device is always used whole\n"
	"  -b, --bootloader FILE  the EFI application to install (a PE file)\n"
	"      --arch ARCH        aarch64 or x86_64: names the loader BOOTAA64.EFI or BOOTX64.EFI\n"
	"                         (default: the machine in the loader's PE header)\n"
	"      --bios FILE        x86 BIOS stage (bootloader.bios): bytes 0-445 go into LBA 0,\n"
	"                         the rest from byte 17408 into the BIOS boot partition;\n"
	"                         the GPT sectors and the MBR's partition records are never\n"
	"                         taken from it\n"
	"      --from DIR         fill RedoxFS with DIR's contents (as mkfs --from)\n"
	"      --owner U:G        with --from: owner of everything (default: the source's)\n"
	"      --redoxfs IMAGE    copy the RedoxFS of IMAGE (a filesystem image, raw or qcow2)\n"
	"                         into the RedoxFS partition, keeping its UUID\n"
	"      --like OLD         copy OLD's layout (partition sizes, types, names; its size\n"
	"                         unless --size) and its loaders (EFI/BOOT/*, the BIOS stage)\n"
	"                         with new disk and partition GUIDs and a new RedoxFS UUID;\n"
	"                         RedoxFS from --from, else OLD's copied block by block\n"
	"  -O, --format FMT       raw (default) or qcow2 (also chosen by a .qcow2 name)\n"
	"      --encrypt          encrypt RedoxFS with a password (as mkfs --encrypt)\n"
	"  -f, --force            replace an existing DISK; needed to write a block device\n"
	"  -q, --quiet            no progress bar\n"
	"  -h, --help             show this help\n\n"
	"With SOURCE_DATE_EPOCH set, times are clamped to it and the disk and partition GUIDs\n"
	"and the RedoxFS UUID are derived from it: the same inputs give the same bytes (not\n"
	"with --encrypt, whose keys are random).\n";

struct loader {
	char name[256 * 3 + 1];	/* under EFI/BOOT */
	uint8_t *data;
	size_t len;
};

struct plan {
	uint64_t size;			/* disk bytes */
	struct rx_gpt_part parts[RX_GPT_ENTRIES];
	unsigned nparts;
	int esp, fs, bios;		/* indices into parts, -1 when absent */
	struct loader loaders[MAX_LOADERS];
	int nloaders;
	uint8_t *bios_code;		/* BIOS_AREA bytes placed at offset 0 (GPT and records excluded) */
	int has_bios;
};

/* The BIOS stage lives in the first MiB: LBA 0 and the BIOS boot partition (spec §3). */
#define BIOS_AREA MIB
#define GPT_END (RX_GPT_RESERVED_SECTORS * RX_GPT_SECTOR)

static const char *arch_loader_name(const char *arch)
{
	if (!strcmp(arch, "aarch64"))
		return "BOOTAA64.EFI";
	if (!strcmp(arch, "x86_64"))
		return "BOOTX64.EFI";
	return NULL;
}

/* The machine a PE file is built for, or NULL. */
static const char *pe_arch(const uint8_t *p, size_t len)
{
	if (len < 0x40 || p[0] != 'M' || p[1] != 'Z')
		return NULL;
	uint32_t pe = get_le32(p + 0x3c);
	if (pe > len - 6 || memcmp(p + pe, "PE\0\0", 4))
		return NULL;
	switch (get_le16(p + pe + 4)) {
	case 0xaa64: return "aarch64";
	case 0x8664: return "x86_64";
	default: return "";
	}
}

/* A whole host file into memory, at most max bytes; 0, or -errno with the reason. */
static int slurp(struct rx_ctx *ctx, const char *path, size_t max, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return rx_fail(ctx, e, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || (uint64_t)st.st_size > max) {
		close(fd);
		return rx_fail(ctx, EINVAL, "%s: %s", path, !S_ISREG(st.st_mode) ? "not a regular file"
			       : st.st_size == 0 ? "empty" : "too large");
	}
	uint8_t *buf = rx_xmalloc((size_t)st.st_size);
	size_t have = 0;
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return rx_fail(ctx, e, "%s: %s", path, n < 0 ? strerror(e) : "changed while read");
		}
		have += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = have;
	return 0;
}

/* The BIOS stage file laid over the first MiB, without what the GPT and the MBR records own. */
static int load_bios(struct rx_ctx *ctx, const char *path, struct plan *pl)
{
	uint8_t *buf;
	size_t len;
	int r = slurp(ctx, path, BIOS_AREA, &buf, &len);
	if (r)
		return r;
	if (len > 512 && !rx_is_zero(buf + 512, RX_MIN(len, GPT_END) - 512)) {
		free(buf);
		return rx_fail(ctx, EINVAL, "%s: bytes 512-17407 are not zero: they are where the GPT lives, "
			       "so this is not a BIOS stage for a GPT disk", path);
	}
	pl->bios_code = rx_xcalloc(1, BIOS_AREA);
	memcpy(pl->bios_code, buf, RX_MIN(len, (size_t)446));
	if (len > GPT_END)
		memcpy(pl->bios_code + GPT_END, buf + GPT_END, len - GPT_END);
	pl->has_bios = 1;
	free(buf);
	return 0;
}

/* GUIDs: random, or derived from SOURCE_DATE_EPOCH (what = "disk", "p1", ...). */
static void make_guid(uint8_t out[16], const char *seed, const char *what)
{
	uint8_t u[16];
	char *s = seed ? rx_xasprintf("%s:%s", seed, what) : NULL;
	make_uuid(u, s);
	free(s);
	rx_guid_swap(u, out);
}

/* ---- reading OLD for --like ---- */

struct collect {
	struct fat_fs *fat;
	struct plan *pl;
	struct rx_ctx *ctx;
};

static int collect_loader(void *arg, const struct fat_node *n)
{
	struct collect *c = arg;
	if (fat_is_dir(n) || n->attr & FAT_ATTR_VOLUME)
		return 0;
	if (c->pl->nloaders == MAX_LOADERS)
		return rx_fail(c->ctx, E2BIG, "more than %d files in EFI/BOOT", MAX_LOADERS);
	struct loader *l = &c->pl->loaders[c->pl->nloaders];
	snprintf(l->name, sizeof(l->name), "%s", n->name);
	l->len = n->size;
	l->data = rx_xmalloc(n->size ? n->size : 1);
	ssize_t got = fat_read(c->fat, n, l->data, n->size, 0);
	if (got != (ssize_t)n->size) {
		free(l->data);
		return got < 0 ? (int)got : rx_fail(c->ctx, EIO, "EFI/BOOT/%s: short read", n->name);
	}
	c->pl->nloaders++;
	return 0;
}

/* OLD's partitions, loaders and BIOS stage into pl; its RedoxFS stays open in *old. */
static int read_like(struct rx_ctx *ctx, const char *path, struct plan *pl, struct rx_image **old)
{
	struct rx_image *img;
	int r = rx_image_open(ctx, path, RX_PART_AUTO, RX_DEV_RDONLY, &img);
	if (r)
		return r;
	*old = img;
	if (strcmp(img->table.type, "gpt"))
		return rx_fail(ctx, EINVAL, "has no GPT: --like copies a whole disk's layout");
	struct rfs *fs;
	if ((r = rx_image_redoxfs(img, &fs)) != 0)
		return r;
	pl->size = img->container->size;
	pl->esp = pl->fs = pl->bios = -1;
	for (int i = 0; i < img->table.count && r == 0; i++) {
		const struct rx_part *p = &img->table.parts[i];
		struct rx_gpt_part *g = &pl->parts[pl->nparts];
		if (rx_guid_parse(p->type, g->type))
			return rx_fail(ctx, EINVAL, "partition %d: type '%s' is not a GUID", p->partno, p->type);
		g->first_lba = p->start / RX_GPT_SECTOR;
		g->last_lba = (p->start + p->size) / RX_GPT_SECTOR - 1;
		snprintf(g->name, sizeof(g->name), "%s", p->name);
		if (!memcmp(g->type, rx_gpt_type_efi_system, 16) && pl->esp < 0)
			pl->esp = (int)pl->nparts;
		if (!memcmp(g->type, rx_gpt_type_bios_boot, 16) && pl->bios < 0)
			pl->bios = (int)pl->nparts;
		if (p->partno == img->partno)
			pl->fs = (int)pl->nparts;
		pl->nparts++;
	}
	if (pl->esp < 0)
		return rx_fail(ctx, ENOENT, "has no EFI system partition");
	if (pl->fs < 0)
		return rx_fail(ctx, ENOENT, "its RedoxFS is not in a partition");
	/* The loaders: every file in EFI/BOOT of the ESP. */
	const struct rx_gpt_part *e = &pl->parts[pl->esp];
	struct rx_dev *slice;
	r = rx_dev_open_slice(img->container, e->first_lba * RX_GPT_SECTOR,
			      (e->last_lba - e->first_lba + 1) * RX_GPT_SECTOR, path, &slice);
	if (r)
		return r;
	struct fat_fs *fat;
	struct fat_node boot;
	r = fat_open(ctx, slice, 0, &fat);
	if (r == 0) {
		if ((r = fat_lookup(fat, "/EFI/BOOT", &boot)) != 0)
			rx_prefix(ctx, "EFI system partition: EFI/BOOT");
		struct collect c = { fat, pl, ctx };
		if (r == 0)
			r = fat_readdir(fat, &boot, collect_loader, &c);
		if (r == 0 && pl->nloaders == 0)
			r = rx_fail(ctx, ENOENT, "EFI system partition: no loader in EFI/BOOT");
		fat_close(fat);
	}
	rx_dev_close(slice);
	/* A BIOS stage is there when LBA 0 has code or the BIOS boot partition is not empty. */
	if (r == 0) {
		uint8_t *b = rx_xcalloc(1, BIOS_AREA);
		uint64_t len = RX_MIN(BIOS_AREA, img->container->size);
		r = rx_dev_read(img->container, b, (size_t)len, 0);
		memset(b + 446, 0, GPT_END - 446);	/* MBR records and GPT: not the stage's */
		if (r == 0 && !rx_is_zero(b, BIOS_AREA)) {
			pl->bios_code = b;
			pl->has_bios = 1;
		} else {
			free(b);
		}
	}
	return r;
}

/* ---- writing ---- */

static int write_esp(struct rx_ctx *ctx, struct rx_dev *dev, const struct plan *pl, struct rfs_time now)
{
	const struct rx_gpt_part *e = &pl->parts[pl->esp];
	struct rx_dev *slice;
	int r = rx_dev_open_slice(dev, e->first_lba * RX_GPT_SECTOR, (e->last_lba - e->first_lba + 1) * RX_GPT_SECTOR,
				  "EFI system partition", &slice);
	if (r)
		return r;
	/* The volume id follows the partition GUID: new per disk, the same for the same seed. */
	struct fat_mkfs_opts fo = { .label = "EFI", .volume_id = get_le32(e->guid), .time = (int64_t)now.sec };
	struct fat_fs *fat = NULL;
	r = fat_mkfs(ctx, slice, &fo);
	if (r == 0)
		r = fat_open(ctx, slice, 1, &fat);
	if (r == 0) {
		fat_set_time(fat, (int64_t)now.sec);
		r = fat_mkdir(fat, "/EFI");
		if (r == 0)
			r = fat_mkdir(fat, "/EFI/BOOT");
		for (int i = 0; i < pl->nloaders && r == 0; i++) {
			char *p = rx_xasprintf("/EFI/BOOT/%s", pl->loaders[i].name);
			r = fat_write_buf(fat, p, pl->loaders[i].data, pl->loaders[i].len);
			if (r)
				rx_prefix(ctx, "EFI system partition: %s", p);
			free(p);
		}
		fat_close(fat);
	}
	rx_dev_close(slice);
	return r;
}

/*
 * The RedoxFS of src, from its ring base on, to offset 0 of dst (where the
 * loader probes): block pointers count from the ring base, so the copy opens
 * as it is. Zero runs are skipped when dst reads as zeros already.
 */
static int copy_fs(struct rx_ctx *ctx, struct rfs *src, struct rx_dev *dst, int dst_zero, int quiet)
{
	uint64_t len = src->hdr.size;
	if (len > dst->size)
		return rx_fail(ctx, ENOSPC, "the RedoxFS to copy is %llu bytes, the partition only %llu",
			       (unsigned long long)len, (unsigned long long)dst->size);
	if (src->start + len > src->dev->size)
		return rx_fail(ctx, RX_ECORRUPT, "the RedoxFS to copy claims %llu bytes but its image holds %llu",
			       (unsigned long long)len, (unsigned long long)(src->dev->size - src->start));
	struct progress bar;
	progress_init(&bar, "create", len, quiet);
	uint8_t *buf = rx_xmalloc(MIB);
	int r = 0;
	for (uint64_t off = 0; off < len && r == 0; off += MIB) {
		size_t n = (size_t)RX_MIN(MIB, len - off);
		r = rx_dev_read(src->dev, buf, n, src->start + off);
		if (r) {
			if (src->dev->ctx != ctx)
				memcpy(ctx, src->dev->ctx, sizeof(*ctx));
		} else if (!dst_zero || !rx_is_zero(buf, n)) {
			r = rx_dev_write(dst, buf, n, off);
		}
		progress_add(&bar, n);
	}
	free(buf);
	if (r)
		progress_stop(&bar);
	else
		progress_done(&bar);
	return r;
}

/* A new UUID on the copied filesystem (the clone must not pass for its original). */
static int renew_uuid(struct rx_ctx *ctx, struct rx_dev *dev, const uint8_t uuid[16], const char *image)
{
	struct rfs *fs;
	struct rfs_tx *tx;
	int r = rfs_open(ctx, dev, 0, &fs);
	if (r)
		return r;
	r = unlock_fs(fs, image);
	if (r == 0)
		r = rfs_tx_begin(fs, &tx);
	if (r == 0) {
		rfs_tx_set_uuid(tx, uuid);
		r = rfs_tx_commit(tx);
	}
	if (r == 0)
		r = rfs_ring_clear_foreign(fs);
	rfs_close(fs);
	return r;
}

struct fsopts {
	const char *from, *redoxfs;
	const struct rfs_owner *owner;
	char *password;
	uint8_t uuid[16];
	int quiet;
	struct rfs *like_fs;	/* --like without --from: copy this one */
	const char *like_path;
};

static int write_redoxfs(struct rx_ctx *ctx, struct rx_dev *dev, const struct plan *pl, const struct fsopts *fo,
			 int dev_zero, struct progress *bar)
{
	const struct rx_gpt_part *p = &pl->parts[pl->fs];
	struct rx_dev *slice;
	int r = rx_dev_open_slice(dev, p->first_lba * RX_GPT_SECTOR, (p->last_lba - p->first_lba + 1) * RX_GPT_SECTOR,
				  "RedoxFS partition", &slice);
	if (r)
		return r;
	if (fo->like_fs) {
		r = copy_fs(ctx, fo->like_fs, slice, dev_zero, fo->quiet);
		if (r == 0)
			r = renew_uuid(ctx, slice, fo->uuid, fo->like_path);
	} else if (fo->redoxfs) {
		struct rx_image *img;
		struct rfs *src;
		r = rx_image_open(ctx, fo->redoxfs, RX_PART_AUTO, RX_DEV_RDONLY, &img);
		if (r == 0) {
			if ((r = rx_image_redoxfs(img, &src)) == 0)
				r = copy_fs(ctx, src, slice, dev_zero, fo->quiet);
			rx_image_close(img);
		}
		if (r)
			rx_prefix(ctx, "%s", fo->redoxfs);
	} else {
		struct rfs_mkfs_opts mo = { .time = now_time() };
		memcpy(mo.uuid, fo->uuid, 16);
		if (fo->password) {
			mo.password = (const uint8_t *)fo->password;
			mo.password_len = strlen(fo->password);
		}
		r = rfs_mkfs(ctx, slice, &mo);
		if (r == 0 && fo->from) {
			struct rfs *fs = NULL;
			r = rfs_open(ctx, slice, 0, &fs);
			if (r == 0 && fo->password)
				r = rfs_unlock(fs, mo.password, mo.password_len);
			if (r == 0)
				r = fill_from_dir(ctx, fs, fo->from, fo->owner, bar, "create", fo->quiet);
			if (fs && r != 0 && fs->ctx != ctx)
				memcpy(ctx, fs->ctx, sizeof(*ctx));
			rfs_close(fs);
		}
	}
	rx_dev_close(slice);
	return r;
}

static int write_disk(struct rx_ctx *ctx, struct rx_dev *dev, struct plan *pl, const struct fsopts *fo,
		      const uint8_t disk_guid[16], int dev_zero, struct progress *bar)
{
	int r = 0;
	if (!dev_zero) {
		/* A used device: nothing of an older table or loader may survive in the first MiB. */
		uint8_t *z = rx_xcalloc(1, BIOS_AREA);
		r = rx_dev_write(dev, z, BIOS_AREA, 0);
		free(z);
	}
	if (r == 0 && pl->has_bios) {
		r = rx_dev_write(dev, pl->bios_code, 446, 0);
		if (r == 0)
			r = rx_dev_write(dev, pl->bios_code + GPT_END, BIOS_AREA - GPT_END, GPT_END);
	}
	if (r == 0)
		r = rx_gpt_write(ctx, dev, disk_guid, pl->parts, pl->nparts);
	if (r == 0)
		r = write_esp(ctx, dev, pl, now_time());
	if (r == 0)
		r = write_redoxfs(ctx, dev, pl, fo, dev_zero, bar);
	if (r == 0)
		r = rx_dev_flush(dev);
	return r;
}

static void describe(const char *disk, const struct plan *pl)
{
	char hs[32];
	rx_human_size(pl->size, hs, sizeof(hs));
	fprintf(stderr, "rximg: create: writing a new disk over all of %s (%s):\n", disk, hs);
	for (unsigned i = 0; i < pl->nparts; i++) {
		const struct rx_gpt_part *p = &pl->parts[i];
		rx_human_size((p->last_lba - p->first_lba + 1) * RX_GPT_SECTOR, hs, sizeof(hs));
		fprintf(stderr, "  p%u %-6s sectors %llu-%llu (%s)%s\n", i + 1, p->name,
			(unsigned long long)p->first_lba, (unsigned long long)p->last_lba, hs,
			(int)i == pl->esp ? ": FAT, EFI/BOOT" : (int)i == pl->fs ? ": RedoxFS" : "");
	}
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, 0, 's' },	  { "bootloader", required_argument, 0, 'b' },
		{ "arch", required_argument, 0, 'a' },	  { "bios", required_argument, 0, 'B' },
		{ "from", required_argument, 0, 'F' },	  { "owner", required_argument, 0, 'o' },
		{ "redoxfs", required_argument, 0, 'R' }, { "like", required_argument, 0, 'L' },
		{ "format", required_argument, 0, 'O' },  { "encrypt", no_argument, 0, 'e' },
		{ "force", no_argument, 0, 'f' },	  { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },	  { 0, 0, 0, 0 },
	};
	uint64_t size = 0;
	int c, force = 0, encrypt = 0, qcow = -1, have_owner = 0;
	const char *loader_path = NULL, *arch = NULL, *bios = NULL, *like = NULL;
	struct rfs_owner owner;
	struct fsopts fo = { 0 };
	while ((c = getopt_long(argc, argv, "s:b:O:fqh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size) || size == 0 || size % RX_GPT_SECTOR)
				return usage_error("create", "bad size '%s' (want a whole number of 512-byte sectors)",
						   optarg);
			break;
		case 'b': loader_path = optarg; break;
		case 'a':
			if (!arch_loader_name(optarg))
				return usage_error("create", "unknown architecture '%s' (aarch64 or x86_64)", optarg);
			arch = optarg;
			break;
		case 'B': bios = optarg; break;
		case 'F': fo.from = optarg; break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("create", "bad owner '%s' (want UID[:GID])", optarg);
			have_owner = 1;
			break;
		case 'R': fo.redoxfs = optarg; break;
		case 'L': like = optarg; break;
		case 'O':
			if (strcmp(optarg, "raw") && strcmp(optarg, "qcow2"))
				return usage_error("create", "unknown format '%s' (raw or qcow2)", optarg);
			qcow = !strcmp(optarg, "qcow2");
			break;
		case 'e': encrypt = 1; break;
		case 'f': force = 1; break;
		case 'q': fo.quiet = 1; break;
		case 'h': fputs(create_help, stdout); return EXIT_OK;
		default: return bad_option("create", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("create", "expected DISK");
	const char *disk = argv[optind];
	if (!like && !loader_path)
		return usage_error("create", "give --bootloader FILE (or --like OLD)");
	if (fo.from && fo.redoxfs)
		return usage_error("create", "give --from or --redoxfs, not both");
	if (like && fo.redoxfs)
		return usage_error("create", "--like copies OLD's RedoxFS; give --from for new contents, not --redoxfs");
	if (encrypt && (fo.redoxfs || (like && !fo.from)))
		return usage_error("create", "--encrypt makes a new filesystem: it does not apply to a copied one");
	if (have_owner && !fo.from)
		return usage_error("create", "--owner applies to --from");
	if (have_owner)
		fo.owner = &owner;
	if (qcow < 0)
		qcow = ends_with(disk, ".qcow2");

	static struct rx_ctx ctx;
	struct stat st;
	int exists = stat(disk, &st) == 0, is_dev = exists && rx_is_disk(&st);
	if (exists && !S_ISREG(st.st_mode) && !is_dev) {
		fprintf(stderr, "rximg: %s: not a regular file or a disk\n", disk);
		return EXIT_FAIL;
	}
	if (exists && !force) {
		fprintf(stderr, "rximg: %s: already exists (use --force to %s)\n", disk,
			is_dev ? "write a new disk over this device" : "replace it");
		return EXIT_FAIL;
	}
	if (is_dev && qcow)
		return usage_error("create", "a block device is written raw: drop -O qcow2");
	if (fo.from && (stat(fo.from, &st) != 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "rximg: %s: %s\n", fo.from,
			stat(fo.from, &st) != 0 ? strerror(errno) : "not a directory");
		return EXIT_FAIL;
	}
	if (fo.redoxfs && stat(fo.redoxfs, &st) != 0) {
		fprintf(stderr, "rximg: %s: %s\n", fo.redoxfs, strerror(errno));
		return EXIT_FAIL;
	}

	struct plan pl = { .esp = 1, .fs = 2, .bios = 0 };
	struct rx_image *old = NULL;
	int status = EXIT_FAIL, r = 0;
	const char *culprit = NULL;	/* the file a failure is about, when not DISK */
	uint64_t dev_size = 0;
	if (is_dev) {
		struct rx_dev *d;
		if (rx_dev_open_file(&ctx, disk, RX_DEV_RDONLY, &d) == 0) {
			dev_size = d->size / RX_GPT_SECTOR * RX_GPT_SECTOR;
			rx_dev_close(d);
		} else {
			report(&ctx, disk, NULL);
			return EXIT_FAIL;
		}
		/* The backup GPT belongs at the device's end: the disk is the whole device. */
		if (size && size != dev_size) {
			fprintf(stderr, "rximg: %s: a block device is used whole (%llu bytes): drop --size\n", disk,
				(unsigned long long)dev_size);
			return EXIT_FAIL;
		}
	}
	if (like) {
		r = read_like(&ctx, like, &pl, &old);
		culprit = like;
		if (r == 0 && (size || is_dev)) {
			/* Another size: the RedoxFS partition, when last, ends where the installer would end it. */
			uint64_t s = size ? size : dev_size;
			struct rx_gpt_part tmp[3];
			int last = 1;
			for (unsigned i = 0; i < pl.nparts; i++)
				last &= pl.parts[i].first_lba <= pl.parts[pl.fs].first_lba;
			if (!last)
				r = rx_fail(&ctx, EINVAL, "its RedoxFS is not the last partition: give no --size");
			uint64_t esp_end = pl.parts[pl.fs].first_lba * RX_GPT_SECTOR;
			if (r == 0 && esp_end % MIB == 0 && esp_end > MIB)
				r = rx_gpt_redox_layout(&ctx, s, esp_end - MIB, fo.from ? RFS_MIN_BLOCKS * RFS_BLOCK
							: old->fs->hdr.size, tmp);
			else if (r == 0)
				r = rx_fail(&ctx, EINVAL, "its RedoxFS does not start on a MiB: give no --size");
			if (r == 0) {
				pl.parts[pl.fs].last_lba = tmp[2].last_lba;
				pl.size = s;
				culprit = NULL;
			}
		}
		if (r == 0)
			fo.like_fs = fo.from ? NULL : old->fs;
		fo.like_path = like;
	} else {
		pl.size = size ? size : dev_size;
		if (!pl.size) {
			return usage_error("create", "give --size N");
		}
		pl.nparts = 3;
		r = rx_gpt_redox_layout(&ctx, pl.size, MIB, RFS_MIN_BLOCKS * RFS_BLOCK, pl.parts);
	}
	if (r == 0 && loader_path) {
		/* --bootloader replaces whatever OLD had. */
		struct loader *l = &pl.loaders[0];
		for (int i = 0; i < pl.nloaders; i++)
			free(pl.loaders[i].data);
		pl.nloaders = 0;
		r = slurp(&ctx, loader_path, (pl.parts[pl.esp].last_lba - pl.parts[pl.esp].first_lba + 1) * RX_GPT_SECTOR,
			  &l->data, &l->len);
		if (r == 0)
			pl.nloaders = 1;	/* freed at the end, also when it is refused below */
		const char *pa = r == 0 ? pe_arch(l->data, l->len) : NULL;
		if (r == 0 && !pa)
			r = rx_fail(&ctx, EINVAL, "not an EFI application (no PE header)");
		else if (r == 0 && !arch && !*pa)
			r = rx_fail(&ctx, EINVAL, "an EFI application for an unknown machine: give --arch");
		else if (r == 0 && arch && *pa && strcmp(arch, pa))
			r = rx_fail(&ctx, EINVAL, "an EFI application for %s, not %s", pa, arch);
		if (r == 0) {
			snprintf(l->name, sizeof(l->name), "%s", arch_loader_name(arch ? arch : pa));
		}
		if (r)
			culprit = loader_path;
		if (r && !strncmp(ctx.msg, loader_path, strlen(loader_path)))
			culprit = NULL;	/* slurp names the file itself */
	}
	if (r == 0 && bios) {
		free(pl.bios_code);
		r = load_bios(&ctx, bios, &pl);
	}
	if (r) {
		report(&ctx, culprit ? culprit : disk, NULL);
		goto out;
	}

	/* Names and GUIDs: random, or from SOURCE_DATE_EPOCH for byte-identical output. */
	uint64_t epoch;
	char seedbuf[160], *seed = NULL;
	if (reproducible_epoch(&epoch)) {
		int n = snprintf(seedbuf, sizeof(seedbuf), "SOURCE_DATE_EPOCH=%llu", (unsigned long long)epoch);
		/* A clone made under the same epoch as its original must still differ from it. */
		if (old) {
			char u[37];
			format_uuid(old->fs->hdr.uuid, u);
			snprintf(seedbuf + n, sizeof(seedbuf) - (size_t)n, ":like:%s:%s", old->table.id, u);
		}
		seed = seedbuf;
	}
	uint8_t disk_guid[16];
	make_guid(disk_guid, seed, "disk");
	for (unsigned i = 0; i < pl.nparts; i++) {
		char what[16];
		snprintf(what, sizeof(what), "p%u", i + 1);
		make_guid(pl.parts[i].guid, seed, what);
	}
	make_uuid(fo.uuid, seed);	/* without --like, the UUID mkfs derives from the epoch */
	if (encrypt) {
		int interactive;
		fo.password = get_password(disk, 1, &interactive);
		if (!fo.password || !*fo.password) {
			fprintf(stderr, "rximg: %s\n", fo.password ? "an empty password is not allowed"
								      : "encrypt: no password given");
			goto out;
		}
	}

	struct progress bar;
	progress_init(&bar, "create", 0, 1);
	struct rx_dev *dev = NULL;
	struct rx_outfile of = { 0 };
	if (is_dev) {
		describe(disk, &pl);
		r = rx_dev_open_file(&ctx, disk, RX_DEV_RDWR, &dev);
		if (r == 0 && rx_dev_lock_fd(dev) >= 0)
			r = rx_lock_image(&ctx, rx_dev_lock_fd(dev));
		if (r == 0 && dev->size / RX_GPT_SECTOR * RX_GPT_SECTOR != pl.size)
			r = rx_fail(&ctx, EIO, "changed size while it was read");
		if (r == 0)
			r = write_disk(&ctx, dev, &pl, &fo, disk_guid, 0, &bar);
		if (dev && rx_dev_lock_fd(dev) >= 0)
			rx_lock_release(rx_dev_lock_fd(dev));
		rx_dev_close(dev);
	} else {
		rx_outfile_init(&of, disk);
		int fd = rx_outfile_create(&ctx, &of, O_RDWR, 0644);
		r = fd < 0 ? fd : 0;
		if (r == 0 && qcow) {
			struct rx_qcow2_create_opts qo = { pl.size, 16, NULL, NULL };
			r = rx_qcow2_create_fd(&ctx, fd, &qo);
			close(fd);
			fd = -1;
			if (r == 0)
				r = rx_dev_open_chain(&ctx, of.partial, RX_DEV_RDWR, "qcow2", NULL, &dev);
		} else if (r == 0) {
			if (ftruncate(fd, (off_t)pl.size) != 0)
				r = rx_fail(&ctx, errno, "%s: %s", of.partial, strerror(errno));
			close(fd);
			fd = -1;
			if (r == 0)
				r = rx_dev_open_file(&ctx, of.partial, RX_DEV_RDWR, &dev);
		}
		/* Nobody sees the file before the rename: its writes need no order on the disk. */
		if (r == 0)
			dev->no_sync = !of.replaces;
		if (r == 0)
			r = write_disk(&ctx, dev, &pl, &fo, disk_guid, 1, &bar);
		if (dev)
			rx_dev_close(dev);
		r = rx_outfile_finish(&ctx, &of, fd, r);
	}
	if (r) {
		progress_stop(&bar);
		report(&ctx, disk, NULL);
	} else {
		progress_done(&bar);
		status = EXIT_OK;
	}
out:
	for (int i = 0; i < pl.nloaders; i++)
		free(pl.loaders[i].data);
	free(pl.bios_code);
	if (fo.password) {
		memset(fo.password, 0, strlen(fo.password));
		free(fo.password);
	}
	rx_image_close(old);
	return status;
}
