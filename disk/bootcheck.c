/*
 * A whole disk judged the way the firmware and the Redox loaders look at it
 * (shared/spec/disk-image.md sections 2-5): each finding is one sentence
 * naming what the loader would do about it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "boot.h"
#include "initfs.h"

#define MIB (UINT64_C(1) << 20)
#define MAX_INITFS (UINT64_C(1) << 30)	/* larger is not read whole to look at its header */

int rx_boot_inspect(struct rx_image *img, struct rx_boot_report *out)
{
	struct rx_ctx ctx = { { 0 }, 0 };
	struct rx_esp e;
	memset(out, 0, sizeof(*out));
	int b = rx_bios_present(img->container);
	if (b < 0)
		return b;
	out->bios = b;
	struct rx_ctx *saved = img->container->ctx;
	img->container->ctx = &ctx;	/* ESP trouble is a finding to report, not a failure */
	for (int i = 0; i < img->table.count && !out->esp; i++)
		if (rx_part_is_esp(&img->table.parts[i]))
			out->esp = &img->table.parts[i];
	if (out->esp && rx_esp_open(&ctx, img->container, &img->table, 0, &e) == 0) {
		struct fat_info fi;
		fat_info(e.fat, &fi);
		out->fat.type = fi.type;
		out->fat.cluster_size = fi.cluster_size;
		out->fat.free_bytes = (uint64_t)fi.free_clusters * fi.cluster_size;
		if (rx_esp_loaders(&e, &out->apps, &out->napps) != 0)
			snprintf(out->esp_problem, sizeof(out->esp_problem), "%s", ctx.msg);
		rx_esp_close(&e);
	} else if (out->esp) {
		snprintf(out->esp_problem, sizeof(out->esp_problem), "%s", ctx.msg);
	}
	img->container->ctx = saved;
	return 0;
}

void rx_boot_report_free(struct rx_boot_report *r)
{
	free(r->apps);
	r->apps = NULL;
	r->napps = 0;
}

/* Byte offset of the partition holding RedoxFS, and which one (0: none). */
static const struct rx_part *fs_partition(const struct rx_image *img)
{
	for (int i = 0; img->partno > 0 && i < img->table.count; i++)
		if (img->table.parts[i].partno == img->partno)
			return &img->table.parts[i];
	return NULL;
}

int rx_boot_block0_problem(struct rx_image *img, char *msg, size_t cap)
{
	const struct rx_part *p = fs_partition(img);
	if (!img->fsdev || !img->fs || !p)
		return 0;	/* the loaders probe partitions (and 2 MiB of a whole disk), not bare images */
	uint8_t *blk = rx_xmalloc(RFS_BLOCK);
	struct rfs_header h;
	struct rx_ctx *saved = img->fsdev->ctx, ctx = { { 0 }, 0 };
	img->fsdev->ctx = &ctx;
	int bad = img->fsdev->size >= RFS_BLOCK && rx_dev_read(img->fsdev, blk, RFS_BLOCK, 0) == 0 &&
		  (rfs_header_decode(blk, &h) != 0 || h.generation % RFS_HEADER_RING != 0);
	img->fsdev->ctx = saved;
	free(blk);
	if (!bad)
		return 0;
	char where[64];
	snprintf(where, sizeof(where), "block 0 of partition p%d", p->partno);
	if (img->fs_start)
		snprintf(msg, cap, "RedoxFS begins %llu bytes into partition p%d, after a reserved area: the loader "
			 "probes block 0 only: No RedoxFS partitions found", (unsigned long long)img->fs_start,
			 p->partno);
	else
		snprintf(msg, cap, "the RedoxFS header at %s is invalid although later ring slots are valid: "
			 "the loader probes block 0 only: No RedoxFS partitions found", where);
	return 1;
}

struct warner {
	rx_boot_warn_fn fn;
	void *arg;
};

static void warnf(struct warner *w, const char *fmt, ...) RX_PRINTF(2, 3);
static void warnf(struct warner *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->fn(w->arg, msg);
}

/* name in dir without following links: 1 found, 0 missing, <0 unreadable (message in fs->ctx). */
static int child(struct rfs *fs, const struct rfs_node *dir, const char *name, struct rfs_node *out)
{
	uint32_t id;
	int r = rfs_dir_lookup(fs, dir, name, strlen(name), &id);
	if (r == -ENOENT) {
		rx_clear(fs->ctx);
		return 0;
	}
	if (!r)
		r = rfs_node_of_entry(fs, id, out);
	return r ? r : 1;
}

/* The directory at path ("/boot", "/usr/lib/boot"), component by component, no links followed. */
static int find_dir(struct rfs *fs, const char *path, struct rfs_node *out, const char **why)
{
	int r = rfs_node_get(fs, RFS_ROOT_ID, out);
	const char *p = path;
	*why = "missing";
	while (!r && *p) {
		while (*p == '/')
			p++;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[RFS_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		struct rfs_node n;
		r = child(fs, out, name, &n);
		if (r <= 0)
			return r;
		if (!rfs_is_dir(&n)) {
			*why = rfs_is_symlink(&n) ? "a symlink" : "not a directory";
			return 0;
		}
		*out = n;
		p += len;
	}
	return r ? r : 1;
}

static void check_boot_file(struct warner *w, struct rfs *fs, const struct rfs_node *dir, const char *dirpath,
			    const char *name)
{
	struct rfs_node n;
	char path[64];
	snprintf(path, sizeof(path), "%s/%s", dirpath, name);
	int r = child(fs, dir, name, &n);
	if (r < 0) {
		warnf(w, "%s cannot be read: %s", path, fs->ctx->msg);
		rx_clear(fs->ctx);
		return;
	}
	if (r == 0) {
		warnf(w, "%s is missing: the loader reads the %s from there", path, name);
		return;
	}
	if (rfs_is_symlink(&n)) {
		warnf(w, "%s is a symlink: the loader reads the link text as the file (it follows no links)", path);
		return;
	}
	if (!rfs_is_file(&n)) {
		warnf(w, "%s is not a regular file", path);
		return;
	}
	int kernel = !strcmp(name, "kernel");
	const char *magic = kernel ? "\x7f" "ELF" : "RedoxFtw";
	size_t mlen = strlen(magic);
	uint8_t head[8];
	int64_t got = rfs_read(fs, &n, 0, head, mlen);
	if (got < 0) {
		warnf(w, "%s cannot be read: %s", path, fs->ctx->msg);
		rx_clear(fs->ctx);
		return;
	}
	if ((size_t)got < mlen || memcmp(head, magic, mlen)) {
		warnf(w, "%s does not start with %s: the loader stops (%s has invalid magic number)", path,
		      kernel ? "\\x7fELF" : "RedoxFtw", name);
		return;
	}
	if (kernel)
		return;
	if (n.size > MAX_INITFS)
		return;
	uint8_t *buf = rx_xmalloc(n.size ? (size_t)n.size : 1);
	got = rfs_read(fs, &n, 0, buf, (size_t)n.size);
	struct ifs_archive a;
	struct rx_ctx ictx = { { 0 }, 0 };
	if (got < 0) {
		warnf(w, "%s cannot be read: %s", path, fs->ctx->msg);
		rx_clear(fs->ctx);
	} else if (ifs_load(&ictx, buf, (uint64_t)got, IFS_LAYOUT_NONE, &a) != 0) {
		warnf(w, "%s is not a valid initfs: %s", path, ictx.msg);
	} else {
		if (a.has_entry && a.entry == IFS_NO_ENTRY)
			warnf(w, "%s has no bootstrap (entry 0xFFFFFFFFFFFFFFFF): the kernel cannot start it; "
			      "archive it with a bootstrap ELF", path);
		ifs_archive_free(&a);
	}
	free(buf);
}

/* The boot files of one loader generation. */
static void check_boot_dir(struct warner *w, struct rfs *fs, int paths)
{
	const char *dirpath = rx_boot_paths_dir(paths);
	const char *other = rx_boot_paths_dir(paths == RX_BOOT_PATHS_USR ? RX_BOOT_PATHS_BOOT : RX_BOOT_PATHS_USR);
	struct rfs_node dir, odir;
	const char *why, *owhy;
	int r = find_dir(fs, dirpath, &dir, &why);
	if (r < 0) {
		warnf(w, "%s cannot be read: %s", dirpath, fs->ctx->msg);
		rx_clear(fs->ctx);
		return;
	}
	if (r == 0) {
		int elsewhere = find_dir(fs, other, &odir, &owhy) == 1;
		rx_clear(fs->ctx);
		if (elsewhere)
			warnf(w, "%s is %s and kernel and initfs are only under %s: the loader reads %s only: "
			      "Failed to find boot directory", dirpath, why, other, dirpath);
		else
			warnf(w, "%s is %s: the loader reads kernel and initfs from there: Failed to find boot "
			      "directory", dirpath, why);
		return;
	}
	check_boot_file(w, fs, &dir, dirpath, "kernel");
	check_boot_file(w, fs, &dir, dirpath, "initfs");
}

void rx_boot_validate(struct rx_image *img, struct rfs *fs, const struct rx_boot_report *rep,
		      rx_boot_warn_fn warn, void *arg)
{
	struct warner w = { warn, arg };
	const struct rx_parttable *t = &img->table;
	struct rx_ctx ctx = { { 0 }, 0 };
	char msg[512];

	/* The partition table. */
	if (t->gpt_primary_problem[0] && t->type[0])
		warnf(&w, "primary GPT %s: firmware and GPT tools fall back to the backup", t->gpt_primary_problem);
	if (t->gpt_backup_problem[0] && t->type[0])
		warnf(&w, "backup GPT %s: GPT tools (sgdisk -v) report the disk as damaged", t->gpt_backup_problem);
	if (!t->type[0] && t->gpt_primary_problem[0])
		warnf(&w, "a protective MBR but no valid GPT (primary: %s; backup: %s)", t->gpt_primary_problem,
		      t->gpt_backup_problem);
	if (rx_part_validate(&ctx, t, 0) != 0)
		warnf(&w, "%s", ctx.msg);
	if (!t->type[0] && !t->gpt_primary_problem[0])
		return;	/* a bare filesystem image: nothing boots from it as it is */

	/* Layout: the numbers the BIOS loader, El Torito and UEFI whole-disk probing hard-code. */
	const struct rx_part *fsp = fs_partition(img);
	if (!rep->esp)
		warnf(&w, "no EFI system partition: UEFI firmware finds no loader on this disk");
	else if (rep->esp->start != MIB)
		warnf(&w, "the EFI system partition p%d starts at byte %llu, not at 1 MiB: the El Torito boot "
		      "catalog points at 1 MiB", rep->esp->partno, (unsigned long long)rep->esp->start);
	if (!img->fsdev)
		warnf(&w, "no RedoxFS on this disk: the loader stops: No RedoxFS partitions found");
	else if (fsp && fsp->start != 2 * MIB)
		warnf(&w, "RedoxFS (p%d) starts at byte %llu, not at 2 MiB: the BIOS loader and UEFI whole-disk "
		      "probing look at 2 MiB only", fsp->partno, (unsigned long long)fsp->start);
	else if (!fsp && img->fs_start != 2 * MIB)
		warnf(&w, "RedoxFS starts at byte %llu, outside any partition and not at 2 MiB: no loader finds it",
		      (unsigned long long)img->fs_start);

	/* The ESP and its loaders. */
	int paths = 0;
	if (rep->esp && rep->esp_problem[0])
		warnf(&w, "the EFI system partition p%d cannot be read: %s", rep->esp->partno, rep->esp_problem);
	else if (rep->esp && rep->napps == 0)
		warnf(&w, "no loader in the EFI system partition (EFI/BOOT/BOOT<arch>.EFI): firmware has nothing "
		      "to start");
	for (size_t i = 0; i < rep->napps; i++) {
		const struct rx_efi_app *a = &rep->apps[i];
		if (!a->f.pe_ok)
			warnf(&w, "%s is not an EFI application: %s", a->path, a->f.pe_problem);
		else if (a->f.pe.subsystem != RX_PE_SUBSYSTEM_EFI_APP)
			warnf(&w, "%s is a PE file of subsystem %u, not an EFI application (10)", a->path,
			      a->f.pe.subsystem);
		else if (a->named && a->named->machine != a->f.pe.machine)
			warnf(&w, "%s is named for %s but built for %s: firmware skips it", a->path, a->named->name,
			      a->f.pe.arch ? a->f.pe.arch->name : "an unknown machine");
		if (a->f.live)
			warnf(&w, "%s is a live loader: %s", a->path, RX_LIVE_WARNING);
		paths |= a->f.boot_paths == RX_BOOT_PATHS_USR ? 2 : 1;
	}

	/* RedoxFS as the loader finds it, and what it reads from there. */
	if (rx_boot_block0_problem(img, msg, sizeof(msg)))
		warnf(&w, "%s", msg);
	if (!fs || fs->hdr.encrypted)
		return;
	if (!paths)
		paths = 1;	/* no loader to ask: the generation the installer of early 2026 writes */
	if (paths & 1)
		check_boot_dir(&w, fs, RX_BOOT_PATHS_BOOT);
	if (paths & 2)
		check_boot_dir(&w, fs, RX_BOOT_PATHS_USR);
}
