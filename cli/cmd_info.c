/* rximg info */
#include <getopt.h>
#include <stdlib.h>

#include "boot.h"
#include "cli.h"
#include "progress.h"
#include "table.h"

static const char *const boot_files[] = {
	"/boot/kernel", "/boot/initfs", "/usr/lib/boot/kernel", "/usr/lib/boot/initfs",
};

static const char info_help[] =
	"Usage: rximg info [OPTIONS] IMAGE[:pN]\n"
	"Describe an image: container (raw, or qcow2 with its backing chain), partition\n"
	"table and partitions, where the RedoxFS lies, its header (uuid, generation, size,\n"
	"free space, encryption), the boot files the bootloader looks for, and who else\n"
	"holds the image (QEMU, another rximg), if anyone does. A whole disk is also\n"
	"checked the way the firmware and the Redox loaders look at it (EFI system\n"
	"partition at 1 MiB with a loader, RedoxFS at 2 MiB with a valid header at its\n"
	"block 0, both GPT copies, kernel and initfs where the loader reads them, a live\n"
	"loader): one warning line per problem.\n\n"
	"      --json  print a JSON object\n"
	"  -h, --help  show this help\n";

/* Who else holds the image, in words: "QEMU (process 12), for writing". */
static int in_use(const struct rx_image *img, struct rx_lock_user *u, char *buf, size_t cap)
{
	int fd = rx_dev_lock_fd(img->container);
	char who[128];
	if (fd < 0 || !rx_lock_user(fd, u))
		return 0;
	rx_lock_user_name(u, who, sizeof(who));
	if (u->writing)
		snprintf(buf, cap, "%s, for writing", who);
	else if (u->byte >= 0)
		snprintf(buf, cap, "%s, reading (a QEMU lock on byte %d)", who, u->byte);
	else
		snprintf(buf, cap, "%s, read-only (rximg's shared lock)", who);
	return 1;
}

struct warnings {
	char **msg;
	size_t n;
};

static void add_warning(void *arg, const char *msg)
{
	struct warnings *w = arg;
	w->msg = rx_xrealloc(w->msg, (w->n + 1) * sizeof(*w->msg));
	w->msg[w->n++] = rx_xstrdup(msg);
}

/* Byte offset of the RedoxFS ring inside the container. */
static uint64_t fs_offset(const struct rx_image *img)
{
	for (int i = 0; img->partno > 0 && i < img->table.count; i++)
		if (img->table.parts[i].partno == img->partno)
			return img->table.parts[i].start + img->fs_start;
	return img->fs_start;
}

/* What info shows: the container, who else holds it, the partitions, the RedoxFS, the loaders. */
enum {
	I_IMAGE, I_CONTAINER, I_IN_USE, I_PARTITION_TABLE, I_REDOXFS, I_REDOXFS_ERROR, I_BOOTLOADERS,
	I_WARNINGS,
};
static const struct tfield info_fields[] = {
	[I_IMAGE] = { "image", TK_STR, 0 },
	[I_CONTAINER] = { "container", TK_RECORD, 0 },
	[I_IN_USE] = { "in_use", TK_RECORD, TF_NULL },
	[I_PARTITION_TABLE] = { "partition_table", TK_RECORD, 0 },
	[I_REDOXFS] = { "redoxfs", TK_RECORD, TF_NULL },
	[I_REDOXFS_ERROR] = { "redoxfs_error", TK_STR, 0 },
	[I_BOOTLOADERS] = { "bootloaders", TK_RECORDS, 0 },
	[I_WARNINGS] = { "warnings", TK_LIST, 0 },
};
static const struct tcol info_cols[] = {
	{ I_IMAGE, "Image:      %s\n", 0 }, { I_CONTAINER, NULL, 0 }, { I_IN_USE, NULL, 0 },
	{ I_PARTITION_TABLE, NULL, 0 }, { I_REDOXFS, NULL, 0 }, { I_REDOXFS_ERROR, "RedoxFS:    none (%s)\n", 0 },
	{ I_BOOTLOADERS, NULL, 0 }, { I_WARNINGS, "Warning:    %s\n", 0 },
};
static const struct tlayout info_layout = LAYOUT(info_cols);

enum { U_BY, U_PID, U_PROCESS, U_WRITING, U_LOCK };
static const struct tfield in_use_fields[] = {
	[U_BY] = { "by", TK_STR, 0 },
	[U_PID] = { "pid", TK_COUNT, TF_NULL },
	[U_PROCESS] = { "process", TK_STR, TF_NULL },
	[U_WRITING] = { "writing", TK_BOOL, 0 },
	[U_LOCK] = { "lock", TK_STR, 0 },
};
static const struct tcol in_use_cols[] = { { U_BY, "In use:     by %s\n", 0 } };
static const struct tlayout in_use_layout = LAYOUT(in_use_cols);

enum { PT_TYPE, PT_ID, PT_PARTITIONS, PT_NONE };
static const struct tfield table_fields[] = {
	[PT_TYPE] = { "type", TK_STR, TF_NULL },
	[PT_ID] = { "id", TK_STR, TF_NULL },
	[PT_PARTITIONS] = { "partitions", TK_RECORDS, 0 },
	[PT_NONE] = { NULL, TK_STR, 0 },
};
static const struct tcol table_cols[] = {
	{ PT_TYPE, "Partitions: %s", 0 }, { PT_ID, ", id %s", 0 }, { PT_TYPE, "\n", 0 },
	{ PT_NONE, "Partitions: %s\n", 0 }, { PT_PARTITIONS, NULL, 0 },
};
static const struct tlayout table_layout = LAYOUT(table_cols);

enum {
	P_NUMBER, P_TYPE, P_TYPE_NAME, P_NAME, P_UUID, P_START, P_SIZE, P_FILESYSTEM,
	P_SHOWN_NAME, P_END, P_SHOWN_TYPE, P_TYPE_IN_PARENS,
};
static const struct tfield part_fields[] = {
	[P_NUMBER] = { "number", TK_COUNT, 0 },
	[P_TYPE] = { "type", TK_STR, 0 },
	[P_TYPE_NAME] = { "type_name", TK_STR, TF_NULL },
	[P_NAME] = { "name", TK_STR, 0 },
	[P_UUID] = { "uuid", TK_STR, 0 },
	[P_START] = { "start", TK_U64, 0 },
	[P_SIZE] = { "size", TK_U64, 0 },
	[P_FILESYSTEM] = { "filesystem", TK_STR, 0 },
	[P_SHOWN_NAME] = { NULL, TK_STR, 0 },
	[P_END] = { NULL, TK_U64, 0 },
	[P_SHOWN_TYPE] = { NULL, TK_STR, 0 },
	[P_TYPE_IN_PARENS] = { NULL, TK_STR, 0 },
};
static const struct tcol part_cols[] = {
	{ P_NUMBER, "  p%-2s ", 0 }, { P_SHOWN_NAME, "%-10s ", 0 }, { P_START, "bytes %s", 0 },
	{ P_END, "..%s", 0 }, { P_SIZE, " (%h)", 0 }, { P_SHOWN_TYPE, ", type %s", 0 },
	{ P_TYPE_IN_PARENS, " (%s)", 0 }, { P_FILESYSTEM, ", filesystem %s", 0 }, { TEXT_LIT, "\n", 0 },
};
static const struct tlayout part_layout = LAYOUT(part_cols);

enum {
	R_PARTITION, R_OFFSET, R_RESERVED, R_UUID, R_GENERATION, R_SIZE, R_BLOCKS, R_FREE_BLOCKS,
	R_FREE_BYTES, R_ENCRYPTED, R_BOOT_FILES, R_WHOLE, R_BOOT_HEADING,
};
static const struct tfield fs_fields[] = {
	[R_PARTITION] = { "partition", TK_COUNT, TF_NULL },
	[R_OFFSET] = { "offset", TK_U64, 0 },
	[R_RESERVED] = { "reserved_bytes", TK_COUNT, 0 },
	[R_UUID] = { "uuid", TK_STR, 0 },
	[R_GENERATION] = { "generation", TK_U64, 0 },
	[R_SIZE] = { "size", TK_U64, 0 },
	[R_BLOCKS] = { "blocks", TK_COUNT, 0 },
	[R_FREE_BLOCKS] = { "free_blocks", TK_COUNT, 0 },
	[R_FREE_BYTES] = { "free_bytes", TK_U64, 0 },
	[R_ENCRYPTED] = { "encrypted", TK_BOOL, 0 },
	[R_BOOT_FILES] = { "boot_files", TK_RECORDS, 0 },
	[R_WHOLE] = { NULL, TK_STR, 0 },
	[R_BOOT_HEADING] = { NULL, TK_STR, 0 },
};
static const struct tcol fs_cols[] = {
	{ R_PARTITION, "RedoxFS:    partition p%s", 0 }, { R_WHOLE, "RedoxFS:    %s", 0 },
	{ R_RESERVED, ", after a %s-byte reserved area", TC_NONZERO }, { R_UUID, "\n  UUID:       %s\n", 0 },
	{ R_GENERATION, "  Generation: %s\n", 0 }, { R_SIZE, "  Size:       %s bytes (%h)", 0 },
	{ R_BLOCKS, ", %s blocks\n", 0 }, { R_FREE_BLOCKS, "  Free:       %s blocks", 0 },
	{ R_FREE_BYTES, " (%h)\n", 0 }, { R_ENCRYPTED, "  Encrypted:  %s\n", 0 },
	{ R_BOOT_HEADING, "%s\n", 0 }, { R_BOOT_FILES, NULL, 0 },
};
static const struct tlayout fs_layout = LAYOUT(fs_cols);

enum { B_PATH, B_ERROR, B_TYPE, B_SIZE, B_STATE };
static const struct tfield file_fields[] = {
	[B_PATH] = { "path", TK_STR, 0 },
	[B_ERROR] = { "error", TK_STR, 0 },
	[B_TYPE] = { "type", TK_STR, 0 },
	[B_SIZE] = { "size", TK_COUNT, 0 },
	[B_STATE] = { NULL, TK_STR, 0 },
};
static const struct tcol file_cols[] = {
	{ B_PATH, "  %-22s", 0 }, { B_STATE, " %s\n", 0 }, { B_TYPE, " %s", 0 }, { B_SIZE, ", %s bytes\n", 0 },
};
static const struct tlayout file_layout = LAYOUT(file_cols);

enum { A_PATH, A_SIZE, A_SHA256, A_ARCH, A_LIVE, A_SHOWN_ARCH };
static const struct tfield app_fields[] = {
	[A_PATH] = { "path", TK_STR, 0 },
	[A_SIZE] = { "size", TK_COUNT, 0 },
	[A_SHA256] = { "sha256", TK_STR, 0 },
	[A_ARCH] = { "arch", TK_STR, TF_NULL },
	[A_LIVE] = { "live", TK_BOOL, 0 },
	[A_SHOWN_ARCH] = { NULL, TK_STR, 0 },
};
static const struct tcol app_cols[] = {
	{ A_PATH, "Bootloader: %s", 0 }, { A_SIZE, ", %s bytes", 0 }, { A_SHOWN_ARCH, ", %s", 0 },
	{ A_LIVE, ", live", TC_NONZERO }, { TEXT_LIT, "\n", 0 },
};
static const struct tlayout app_layout = LAYOUT(app_cols);

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, json = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': fputs(info_help, stdout); return EXIT_OK;
		default: return bad_option("info", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("info", "expected IMAGE");

	static struct rx_ctx ctx;
	struct target t;
	struct rx_image *img;
	if (target_parse(&ctx, argv[optind], &t)) {
		report(&ctx, NULL, NULL);
		return EXIT_FAIL;
	}
	if (rx_image_open(&ctx, t.image, t.partno, RX_DEV_RDONLY, &img)) {
		report(&ctx, t.image, NULL);
		target_free(&t);
		return EXIT_FAIL;
	}
	struct rfs *fs = NULL;
	int fs_err = rx_image_redoxfs(img, &fs);
	char fs_msg[sizeof(ctx.msg)];
	snprintf(fs_msg, sizeof(fs_msg), "%s", ctx.msg);
	uint64_t free_blocks = 0;
	int free_ok = fs && !fs->hdr.encrypted && rfs_free_blocks(fs, &free_blocks) == 0;
	char uuid[37];
	const struct rx_parttable *pt = &img->table;
	int boot_err = 0;	/* a boot file could not be read (not just missing) */
	struct rx_lock_user user;
	char user_text[256];
	int used = in_use(img, &user, user_text, sizeof(user_text));
	/* A whole disk: what the firmware and the loaders will make of it. */
	struct rx_boot_report boot = { 0 };
	struct warnings warn = { NULL, 0 };
	int whole_disk = pt->type[0] || pt->gpt_primary_problem[0];
	if (whole_disk && rx_boot_inspect(img, &boot) != 0) {
		add_warning(&warn, ctx.msg);
		rx_clear(&ctx);
	} else if (whole_disk) {
		rx_boot_validate(img, fs && !fs->hdr.encrypted ? fs : NULL, &boot, add_warning, &warn);
	}
	struct record r, in_use_r, pt_r, fs_r, *parts = rx_xcalloc((size_t)pt->count + 1, sizeof(*parts));
	struct record files[RX_ARRAY_SIZE(boot_files)], *apps = rx_xcalloc(boot.napps + 1, sizeof(*apps));
	char (*fsnames)[32] = rx_xcalloc((size_t)pt->count + 1, sizeof(*fsnames));
	char (*sums)[65] = rx_xcalloc(boot.napps + 1, sizeof(*sums));
	char errs[RX_ARRAY_SIZE(boot_files)][sizeof(ctx.msg)];
	const struct tlayout *cont_layout;
	struct record *cont = container_record(img->container, &cont_layout);
	RECORD_INIT(&r, info_fields);
	rec_str(&r, I_IMAGE, t.image);
	rec_record(&r, I_CONTAINER, cont, cont_layout);
	if (used) {
		RECORD_INIT(&in_use_r, in_use_fields);
		rec_str(&in_use_r, U_BY, user_text);
		if (user.pid)
			rec_u64(&in_use_r, U_PID, (uint64_t)user.pid);
		if (user.name[0])
			rec_str(&in_use_r, U_PROCESS, user.name);
		rec_u64(&in_use_r, U_WRITING, user.writing);
		rec_str(&in_use_r, U_LOCK, user.byte >= 0 ? "qemu" : "rximg");
		rec_record(&r, I_IN_USE, &in_use_r, &in_use_layout);
	}
	RECORD_INIT(&pt_r, table_fields);
	if (pt->type[0]) {
		rec_str(&pt_r, PT_TYPE, pt->type);
		if (pt->id[0])
			rec_str(&pt_r, PT_ID, pt->id);
	} else {
		rec_str(&pt_r, PT_NONE, "none");
	}
	for (int i = 0; i < pt->count; i++) {
		const struct rx_part *p = &pt->parts[i];
		struct record *q = &parts[i];
		const char *tn = rx_part_type_name(p->type);
		RECORD_INIT(q, part_fields);
		rec_u64(q, P_NUMBER, (uint64_t)p->partno);
		rec_str(q, P_TYPE, p->type);
		rec_str(q, P_TYPE_NAME, tn);
		rec_str(q, P_NAME, p->name);
		rec_str(q, P_SHOWN_NAME, p->name[0] ? p->name : "-");
		rec_str(q, P_UUID, p->uuid);
		rec_u64(q, P_START, p->start);
		rec_u64(q, P_END, p->start + p->size);
		rec_u64(q, P_SIZE, p->size);
		rec_str(q, P_SHOWN_TYPE, tn ? tn : p->type);
		if (tn)
			rec_str(q, P_TYPE_IN_PARENS, p->type);
		if (rx_part_fs_name(img->container, p, fsnames[i], sizeof(fsnames[i])))
			rec_str(q, P_FILESYSTEM, fsnames[i]);
		else
			rec_null(q, P_FILESYSTEM);
	}
	rec_records(&pt_r, PT_PARTITIONS, parts, (size_t)pt->count, &part_layout);
	rec_record(&r, I_PARTITION_TABLE, &pt_r, &table_layout);
	size_t nfiles = 0;
	if (fs) {
		format_uuid(fs->hdr.uuid, uuid);
		RECORD_INIT(&fs_r, fs_fields);
		if (img->partno > 0)
			rec_u64(&fs_r, R_PARTITION, (uint64_t)img->partno);
		else
			rec_str(&fs_r, R_WHOLE, "whole image");
		rec_u64(&fs_r, R_OFFSET, fs_offset(img));
		rec_u64(&fs_r, R_RESERVED, img->fs_start);
		rec_str(&fs_r, R_UUID, uuid);
		rec_u64(&fs_r, R_GENERATION, fs->hdr.generation);
		rec_u64(&fs_r, R_SIZE, fs->hdr.size);
		rec_u64(&fs_r, R_BLOCKS, fs->nblocks);
		if (free_ok) {
			rec_u64(&fs_r, R_FREE_BLOCKS, free_blocks);
			rec_u64(&fs_r, R_FREE_BYTES, free_blocks * RFS_BLOCK);
		}
		rec_u64(&fs_r, R_ENCRYPTED, fs->hdr.encrypted);
		for (size_t i = 0; i < RX_ARRAY_SIZE(boot_files) && !fs->hdr.encrypted; i++) {
			struct rfs_node n;
			struct record *q = &files[nfiles++];
			int e = rfs_lookup(fs, boot_files[i], 0, &n);
			RECORD_INIT(q, file_fields);
			rec_str(q, B_PATH, boot_files[i]);
			if (e == -ENOENT) {
				rec_str(q, B_STATE, "missing");
				q->text_only = 1;	/* the JSON lists what is there */
			} else if (e) {
				snprintf(errs[i], sizeof(errs[i]), "%s", ctx.msg);
				rec_str(q, B_ERROR, errs[i]);
				rec_str(q, B_STATE, "unreadable");
				boot_err = 1;
			} else {
				rec_str(q, B_TYPE, node_type_name(n.mode));
				rec_u64(q, B_SIZE, n.size);
			}
			rx_clear(&ctx);
		}
		if (!fs->hdr.encrypted)
			rec_str(&fs_r, R_BOOT_HEADING, "Boot files:");
		rec_records(&fs_r, R_BOOT_FILES, files, nfiles, &file_layout);
		rec_record(&r, I_REDOXFS, &fs_r, &fs_layout);
	} else {
		rec_str(&r, I_REDOXFS_ERROR, fs_msg);
	}
	for (size_t i = 0; i < boot.napps; i++) {
		const struct rx_efi_app *a = &boot.apps[i];
		const char *arch = a->f.pe_ok && a->f.pe.arch ? a->f.pe.arch->name : NULL;
		struct record *q = &apps[i];
		RECORD_INIT(q, app_fields);
		rec_str(q, A_PATH, a->path);
		rec_u64(q, A_SIZE, a->f.size);
		for (int k = 0; k < 32; k++)
			snprintf(sums[i] + 2 * k, 3, "%02x", a->f.sha256[k]);
		rec_str(q, A_SHA256, sums[i]);
		rec_str(q, A_ARCH, arch);
		rec_str(q, A_SHOWN_ARCH, arch ? arch : "unknown architecture");
		rec_u64(q, A_LIVE, a->f.live);
	}
	rec_records(&r, I_BOOTLOADERS, apps, boot.napps, &app_layout);
	rec_list(&r, I_WARNINGS, (const char *const *)warn.msg, warn.n);

	struct out o;
	out_init(&o, stdout, json);
	out_record(&o, NULL, &r, &info_layout);
	out_done(&o);
	/* Why a boot file could not be read, once its line is out. */
	for (size_t i = 0; i < nfiles; i++)
		if (files[i].c[B_ERROR].set) {
			snprintf(ctx.msg, sizeof(ctx.msg), "%s", files[i].c[B_ERROR].s);
			report(&ctx, t.image, files[i].c[B_PATH].s);
			rx_clear(&ctx);
		}
	free(cont);
	free(parts);
	free(apps);
	free(fsnames);
	free(sums);
	for (size_t i = 0; i < warn.n; i++)
		free(warn.msg[i]);
	free(warn.msg);
	rx_boot_report_free(&boot);
	/* No RedoxFS at all is a fact about the image; a broken one is a failure. */
	int status = boot_err ? EXIT_FAIL : EXIT_OK;
	if (fs_err && fs_err != -ENOENT) {
		snprintf(ctx.msg, sizeof(ctx.msg), "%s", fs_msg);
		report(&ctx, t.image, NULL);
		status = EXIT_FAIL;
	}
	rx_image_close(img);
	target_free(&t);
	return status;
}
