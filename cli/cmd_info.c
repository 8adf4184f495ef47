/* rximg info */
#include <getopt.h>
#include <stdlib.h>

#include "boot.h"
#include "cli.h"
#include "progress.h"

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
	char uuid[37], h1[32], h2[32];
	const struct rx_parttable *pt = &img->table;
	struct json j;
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
	char hex[65];

	if (json) {
		json_init(&j, stdout);
		json_obj(&j, NULL);
		json_str(&j, "image", t.image);
		json_obj(&j, "container");
		info_container_json(&j, img->container);
		json_end_obj(&j);
		if (used) {
			json_obj(&j, "in_use");
			json_str(&j, "by", user_text);
			if (user.pid)
				json_u64(&j, "pid", (uint64_t)user.pid);
			else
				json_null(&j, "pid");
			json_str(&j, "process", user.name[0] ? user.name : NULL);
			json_bool(&j, "writing", user.writing);
			json_str(&j, "lock", user.byte >= 0 ? "qemu" : "rximg");
			json_end_obj(&j);
		} else {
			json_null(&j, "in_use");
		}
		json_obj(&j, "partition_table");
		json_str(&j, "type", pt->type[0] ? pt->type : NULL);
		json_str(&j, "id", pt->id[0] ? pt->id : NULL);
		json_arr(&j, "partitions");
		for (int i = 0; i < pt->count; i++) {
			const struct rx_part *p = &pt->parts[i];
			json_obj(&j, NULL);
			json_u64(&j, "number", (uint64_t)p->partno);
			json_str(&j, "type", p->type);
			json_str(&j, "type_name", rx_part_type_name(p->type));
			json_str(&j, "name", p->name);
			json_str(&j, "uuid", p->uuid);
			json_u64_str(&j, "start", p->start);
			json_u64_str(&j, "size", p->size);
			char fsname[32];
			json_str(&j, "filesystem", rx_part_fs_name(img->container, p, fsname, sizeof(fsname))
							  ? fsname : NULL);
			json_end_obj(&j);
		}
		json_end_arr(&j);
		json_end_obj(&j);
		if (fs) {
			format_uuid(fs->hdr.uuid, uuid);
			json_obj(&j, "redoxfs");
			if (img->partno > 0)
				json_u64(&j, "partition", (uint64_t)img->partno);
			else
				json_null(&j, "partition");
			json_u64_str(&j, "offset", fs_offset(img));
			json_u64(&j, "reserved_bytes", img->fs_start);
			json_str(&j, "uuid", uuid);
			json_u64_str(&j, "generation", fs->hdr.generation);
			json_u64_str(&j, "size", fs->hdr.size);
			json_u64(&j, "blocks", fs->nblocks);
			if (free_ok) {
				json_u64(&j, "free_blocks", free_blocks);
				json_u64_str(&j, "free_bytes", free_blocks * RFS_BLOCK);
			}
			json_bool(&j, "encrypted", fs->hdr.encrypted);
			json_arr(&j, "boot_files");
			for (size_t i = 0; i < RX_ARRAY_SIZE(boot_files) && !fs->hdr.encrypted; i++) {
				struct rfs_node n;
				int r = rfs_lookup(fs, boot_files[i], 0, &n);
				if (r == -ENOENT) {
					rx_clear(&ctx);
					continue;
				}
				json_obj(&j, NULL);
				if (r) {
					json_str(&j, "path", boot_files[i]);
					json_str(&j, "error", ctx.msg);
					json_end_obj(&j);
					boot_err = 1;
					report(&ctx, t.image, boot_files[i]);
					rx_clear(&ctx);
					continue;
				}
				json_str(&j, "path", boot_files[i]);
				json_str(&j, "type", node_type_name(n.mode));
				json_u64(&j, "size", n.size);
				json_end_obj(&j);
			}
			json_end_arr(&j);
			json_end_obj(&j);
		} else {
			json_null(&j, "redoxfs");
			json_str(&j, "redoxfs_error", fs_msg);
		}
		json_arr(&j, "bootloaders");
		for (size_t i = 0; i < boot.napps; i++) {
			const struct rx_efi_app *a = &boot.apps[i];
			json_obj(&j, NULL);
			json_str(&j, "path", a->path);
			json_u64(&j, "size", a->f.size);
			for (int k = 0; k < 32; k++)
				snprintf(hex + 2 * k, 3, "%02x", a->f.sha256[k]);
			json_str(&j, "sha256", hex);
			json_str(&j, "arch", a->f.pe_ok && a->f.pe.arch ? a->f.pe.arch->name : NULL);
			json_bool(&j, "live", a->f.live);
			json_end_obj(&j);
		}
		json_end_arr(&j);
		json_arr(&j, "warnings");
		for (size_t i = 0; i < warn.n; i++)
			json_str(&j, NULL, warn.msg[i]);
		json_end_arr(&j);
		json_end_obj(&j);
		json_done(&j);
	} else {
		printf("Image:      %s\n", t.image);
		info_container_text(img->container);
		if (used)
			printf("In use:     by %s\n", user_text);
		if (pt->type[0]) {
			printf("Partitions: %s%s%s\n", pt->type, pt->id[0] ? ", id " : "", pt->id);
			for (int i = 0; i < pt->count; i++) {
				const struct rx_part *p = &pt->parts[i];
				const char *tn = rx_part_type_name(p->type);
				rx_human_size(p->size, h1, sizeof(h1));
				char fsname[32];
				int named = rx_part_fs_name(img->container, p, fsname, sizeof(fsname));
				printf("  p%-2d %-10s bytes %llu..%llu (%s), type %s%s%s%s%s%s\n", p->partno,
				       p->name[0] ? p->name : "-", (unsigned long long)p->start,
				       (unsigned long long)(p->start + p->size), h1, tn ? tn : p->type,
				       tn ? " (" : "", tn ? p->type : "", tn ? ")" : "",
				       named ? ", filesystem " : "", named ? fsname : "");
			}
		} else {
			printf("Partitions: none\n");
		}
		if (fs) {
			format_uuid(fs->hdr.uuid, uuid);
			if (img->partno > 0)
				printf("RedoxFS:    partition p%d", img->partno);
			else
				printf("RedoxFS:    whole image");
			if (img->fs_start)
				printf(", after a %llu-byte reserved area", (unsigned long long)img->fs_start);
			rx_human_size(fs->hdr.size, h1, sizeof(h1));
			printf("\n  UUID:       %s\n  Generation: %llu\n  Size:       %llu bytes (%s), %llu blocks\n",
			       uuid, (unsigned long long)fs->hdr.generation,
			       (unsigned long long)fs->hdr.size, h1, (unsigned long long)fs->nblocks);
			if (free_ok) {
				rx_human_size(free_blocks * RFS_BLOCK, h2, sizeof(h2));
				printf("  Free:       %llu blocks (%s)\n", (unsigned long long)free_blocks, h2);
			}
			printf("  Encrypted:  %s\n", fs->hdr.encrypted ? "yes" : "no");
			if (!fs->hdr.encrypted) {
				printf("Boot files:\n");
				for (size_t i = 0; i < RX_ARRAY_SIZE(boot_files); i++) {
					struct rfs_node n;
					int r = rfs_lookup(fs, boot_files[i], 0, &n);
					if (r == -ENOENT) {
						rx_clear(&ctx);
						printf("  %-22s missing\n", boot_files[i]);
					} else if (r) {
						printf("  %-22s unreadable\n", boot_files[i]);
						fflush(stdout);
						report(&ctx, t.image, boot_files[i]);
						rx_clear(&ctx);
						boot_err = 1;
					} else {
						printf("  %-22s %s, %llu bytes\n", boot_files[i],
						       node_type_name(n.mode), (unsigned long long)n.size);
					}
				}
			}
		} else {
			printf("RedoxFS:    none (%s)\n", fs_msg);
		}
		for (size_t i = 0; i < boot.napps; i++) {
			const struct rx_efi_app *a = &boot.apps[i];
			printf("Bootloader: %s, %llu bytes, %s%s\n", a->path, (unsigned long long)a->f.size,
			       a->f.pe_ok && a->f.pe.arch ? a->f.pe.arch->name : "unknown architecture",
			       a->f.live ? ", live" : "");
		}
		for (size_t i = 0; i < warn.n; i++)
			printf("Warning:    %s\n", warn.msg[i]);
	}
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
