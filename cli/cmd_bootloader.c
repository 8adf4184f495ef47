/* rximg bootloader info|extract|install: the loaders in the EFI system partition and the BIOS stage. */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "boot.h"
#include "cli.h"
#include "outfile.h"

static const char bootloader_help[] =
	"Usage: rximg bootloader info [--json] IMAGE\n"
	"       rximg bootloader extract [OPTIONS] IMAGE FILE\n"
	"       rximg bootloader install [OPTIONS] IMAGE [EFIFILE]\n"
	"The loader in the EFI system partition of a whole-disk image (raw, qcow2 or a\n"
	"block device): EFI/BOOT/BOOTAA64.EFI, BOOTX64.EFI, BOOTIA32.EFI, BOOTRISCV64.EFI.\n"
	"info shows each loader's size, SHA-256, architecture (from its PE header) and\n"
	"whether it is a live build, and whether the disk has an x86 BIOS stage. extract\n"
	"copies a loader to FILE (written as FILE.partial, then renamed). install\n"
	"replaces (or creates) EFI/BOOT/<name for its architecture> with EFIFILE, which\n"
	"must be an EFI application of a known architecture, within the partition's\n"
	"free space; nothing is written when anything is wrong.\n\n"
	"      --json       info: print a JSON object\n"
	"  -a, --arch ARCH  extract: the loader to copy when there are several;\n"
	"                   install: EFIFILE must be built for ARCH (aarch64, x86_64,\n"
	"                   i386, riscv64); default: the architecture EFIFILE is built for\n"
	"      --bios       extract: copy the x86 BIOS stage (384 KiB) instead\n"
	"  -b, --bios FILE  install: also place the x86 BIOS stage FILE: bytes 0-445 into\n"
	"                   the MBR, bytes from 17408 on into the BIOS boot partition\n"
	"                   (LBA 34); the GPT and the MBR partition records are kept\n"
	"  -f, --force      extract: replace FILE if it exists; install: allow writing to\n"
	"                   a block device\n"
	"  -h, --help       show this help\n";

static struct rx_ctx ctx;

static void hex32(const uint8_t sha[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", sha[i]);
}

/* Open the image and check its partition table; prints the error. */
static int open_disk(const char *path, int mode, struct rx_image **img)
{
	if (rx_image_open(&ctx, path, 0, mode, img)) {
		report(&ctx, path, NULL);
		*img = NULL;
		return -1;
	}
	const struct rx_parttable *t = &(*img)->table;
	int r = rx_part_validate(&ctx, t, mode == RX_DEV_RDWR);
	if (r == 0 && mode != RX_DEV_RDWR) {
		if (t->gpt_primary_problem[0] && t->type[0])
			warnx_("%s: the primary GPT is damaged (%s): read from the backup", path, t->gpt_primary_problem);
		if (t->gpt_backup_problem[0] && t->type[0])
			warnx_("%s: the backup GPT is damaged or missing (%s)", path, t->gpt_backup_problem);
	}
	if (r) {
		report(&ctx, path, NULL);
		rx_image_close(*img);
		*img = NULL;
		return -1;
	}
	return 0;
}

static const char *boot_paths_text(int paths)
{
	return paths == RX_BOOT_PATHS_UNKNOWN ? NULL : rx_boot_paths_dir(paths);
}

static int do_info(const char *path, int json)
{
	struct rx_image *img;
	struct rx_boot_report rep;
	if (open_disk(path, RX_DEV_RDONLY, &img))
		return EXIT_FAIL;
	if (rx_boot_inspect(img, &rep)) {
		report(&ctx, path, NULL);
		rx_image_close(img);
		return EXIT_FAIL;
	}
	int status = EXIT_OK;
	if (!rep.esp || rep.esp_problem[0]) {
		if (rep.esp)
			rx_fail(&ctx, EIO, "%s", rep.esp_problem);
		else
			rx_esp_missing(&ctx, &img->table);
		report(&ctx, path, NULL);
		status = EXIT_FAIL;
	}
	uint8_t *bios = NULL;
	char hex[65];
	if (status == EXIT_OK && rep.bios) {
		bios = rx_xmalloc(RX_BIOS_SIZE);
		if (rx_bios_read(img->container, bios)) {
			report(&ctx, path, "BIOS stage");
			status = EXIT_FAIL;
		}
	}
	if (status == EXIT_OK && json) {
		struct json j;
		json_init(&j, stdout);
		json_obj(&j, NULL);
		json_str(&j, "image", path);
		json_obj(&j, "esp");
		json_u64(&j, "partition", (uint64_t)rep.esp->partno);
		json_u64_str(&j, "start", rep.esp->start);
		json_u64_str(&j, "size", rep.esp->size);
		json_u64(&j, "fat", (uint64_t)rep.fat.type);
		json_u64_str(&j, "free_bytes", rep.fat.free_bytes);
		json_end_obj(&j);
		json_arr(&j, "loaders");
		for (size_t i = 0; i < rep.napps; i++) {
			const struct rx_efi_app *a = &rep.apps[i];
			json_obj(&j, NULL);
			json_str(&j, "path", a->path);
			json_u64(&j, "size", a->f.size);
			hex32(a->f.sha256, hex);
			json_str(&j, "sha256", hex);
			json_str(&j, "pe_problem", a->f.pe_ok ? NULL : a->f.pe_problem);
			if (a->f.pe_ok) {
				json_hex(&j, "machine", a->f.pe.machine);
				json_u64(&j, "subsystem", a->f.pe.subsystem);
			} else {
				json_null(&j, "machine");
				json_null(&j, "subsystem");
			}
			json_str(&j, "arch", a->f.pe_ok && a->f.pe.arch ? a->f.pe.arch->name : NULL);
			json_bool(&j, "live", a->f.live);
			json_str(&j, "warning", a->f.live ? RX_LIVE_WARNING : NULL);
			json_str(&j, "boot_dir", boot_paths_text(a->f.boot_paths));
			json_end_obj(&j);
		}
		json_end_arr(&j);
		if (bios) {
			json_obj(&j, "bios");
			json_u64(&j, "size", RX_BIOS_SIZE);
			uint8_t sha[32];
			EVP_Digest(bios, RX_BIOS_SIZE, sha, NULL, EVP_sha256(), NULL);
			hex32(sha, hex);
			json_str(&j, "sha256", hex);
			json_end_obj(&j);
		} else {
			json_null(&j, "bios");
		}
		json_end_obj(&j);
		json_done(&j);
	} else if (status == EXIT_OK) {
		char h[32];
		rx_human_size(rep.fat.free_bytes, h, sizeof(h));
		printf("Image:      %s\n", path);
		printf("ESP:        partition p%d, bytes %llu..%llu, FAT%d, %s free\n", rep.esp->partno,
		       (unsigned long long)rep.esp->start, (unsigned long long)(rep.esp->start + rep.esp->size),
		       rep.fat.type, h);
		if (!rep.napps)
			printf("Loader:     none (no EFI/BOOT/BOOT*.EFI)\n");
		for (size_t i = 0; i < rep.napps; i++) {
			const struct rx_efi_app *a = &rep.apps[i];
			hex32(a->f.sha256, hex);
			printf("Loader:     %s\n  Size:       %llu bytes\n  SHA-256:    %s\n", a->path,
			       (unsigned long long)a->f.size, hex);
			if (!a->f.pe_ok)
				printf("  Arch:       unknown (%s)\n", a->f.pe_problem);
			else
				printf("  Arch:       %s (PE machine 0x%04x)\n",
				       a->f.pe.arch ? a->f.pe.arch->name : "unknown", a->f.pe.machine);
			printf("  Live:       %s\n", a->f.live ? "yes" : "no");
			if (a->f.boot_paths != RX_BOOT_PATHS_UNKNOWN)
				printf("  Boot files: %s/kernel, %s/initfs\n", rx_boot_paths_dir(a->f.boot_paths),
				       rx_boot_paths_dir(a->f.boot_paths));
			if (a->f.live)
				printf("Warning:    %s is a live loader: %s\n", a->path, RX_LIVE_WARNING);
		}
		if (bios) {
			uint8_t sha[32];
			EVP_Digest(bios, RX_BIOS_SIZE, sha, NULL, EVP_sha256(), NULL);
			hex32(sha, hex);
			printf("BIOS stage: %u bytes, SHA-256 %s\n", RX_BIOS_SIZE, hex);
		} else {
			printf("BIOS stage: none\n");
		}
	}
	free(bios);
	rx_boot_report_free(&rep);
	rx_image_close(img);
	return status;
}

/* FILE must not exist unless force; a host file only (never a device or folder). */
static int check_dest(const char *file, int force)
{
	struct stat st;
	if (stat(file, &st) != 0)
		return 0;
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "rximg: %s: not a regular file (extract writes a new file)\n", file);
		return -1;
	}
	if (!force) {
		fprintf(stderr, "rximg: %s: already exists (use --force to replace it)\n", file);
		return -1;
	}
	return 0;
}

static int write_out(const char *file, const void *buf, size_t len, struct fat_fs *fs, const struct fat_node *n)
{
	struct rx_outfile of;
	struct rx_ctx octx = { { 0 }, 0 };
	rx_outfile_init(&of, file);
	int fd = rx_outfile_create(&octx, &of, O_WRONLY, 0644);
	int r = fd < 0 ? fd : 0;
	uint8_t *chunk = n ? rx_xmalloc(256 << 10) : NULL;
	for (uint64_t off = 0; !r;) {
		const uint8_t *p = buf;
		size_t want = len;
		if (n) {
			ssize_t got = fat_read(fs, n, chunk, 256 << 10, off);
			if (got < 0) {
				octx = ctx;
				rx_prefix(&octx, "%s", n->name);
				r = (int)got;
				break;
			}
			if (got == 0)
				break;
			p = chunk;
			want = (size_t)got;
			off += (uint64_t)got;
		}
		for (size_t done = 0; !r && done < want;) {
			ssize_t w = write(fd, p + done, want - done);
			if (w < 0 && errno != EINTR)
				r = rx_fail(&octx, errno, "%s: %s", of.partial, strerror(errno));
			else if (w > 0)
				done += (size_t)w;
		}
		if (!n)
			break;
	}
	free(chunk);
	if ((r = rx_outfile_finish(&octx, &of, fd, r)) != 0)
		report(&octx, NULL, NULL);
	return r;
}

static int do_extract(const char *path, const char *file, const char *arch_name, int bios, int force)
{
	const struct rx_efi_arch *arch = NULL;
	if (arch_name && !(arch = rx_efi_arch_by_name(arch_name)))
		return usage_error("bootloader", "unknown architecture '%s' (known: %s)", arch_name, rx_efi_arch_names());
	if (check_dest(file, force))
		return EXIT_FAIL;
	struct rx_image *img;
	if (open_disk(path, RX_DEV_RDONLY, &img))
		return EXIT_FAIL;
	int r;
	if (bios) {
		r = rx_bios_present(img->container);
		if (r == 0)
			r = rx_fail(&ctx, ENOENT, "no BIOS stage on this disk (LBA 0 has no boot code or LBA 34 is blank)");
		uint8_t *buf = rx_xmalloc(RX_BIOS_SIZE);
		if (r > 0)
			r = rx_bios_read(img->container, buf);
		if (r)
			report(&ctx, path, NULL);
		else
			r = write_out(file, buf, RX_BIOS_SIZE, NULL, NULL);
		free(buf);
		rx_image_close(img);
		return r ? EXIT_FAIL : EXIT_OK;
	}
	struct rx_esp e;
	struct rx_efi_app *apps = NULL;
	size_t n = 0;
	r = rx_esp_open(&ctx, img->container, &img->table, 0, &e);
	if (r) {
		report(&ctx, path, NULL);
		rx_image_close(img);
		return EXIT_FAIL;
	}
	r = rx_esp_loaders(&e, &apps, &n);
	const struct rx_efi_app *pick = NULL;
	int several = 0;
	char names[256] = "";
	for (size_t i = 0; !r && i < n; i++) {
		/* --arch picks the loader named for it, else one built for it. */
		int match = !arch || apps[i].named == arch ||
			    (!apps[i].named && apps[i].f.pe_ok && apps[i].f.pe.arch == arch);
		if (match && pick)
			several = 1;
		else if (match)
			pick = &apps[i];
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
			 apps[i].path + strlen("/EFI/BOOT/"));
	}
	if (!r && !pick)
		r = rx_fail(&ctx, ENOENT, "no %s%sloader in EFI/BOOT%s%s%s", arch ? arch->name : "", arch ? " " : "",
			    n ? " (it holds " : "", n ? names : "", n ? ")" : "");
	else if (!r && several)
		r = rx_fail(&ctx, EINVAL, "EFI/BOOT holds several loaders (%s): choose one with --arch", names);
	struct fat_node node;
	if (!r)
		r = fat_lookup(e.fat, pick->path, &node);
	if (r) {
		report(&ctx, path, NULL);
	} else {
		r = write_out(file, NULL, 0, e.fat, &node);
	}
	free(apps);
	rx_esp_close(&e);
	rx_image_close(img);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* EFIFILE as the FAT writer reads it: hashed again on the way, and refused at the end if it changed. */
struct host_src {
	int fd;
	const char *path;
	EVP_MD_CTX *md;
	const uint8_t *expect;
};

static ssize_t host_read(void *arg, void *buf, size_t len)
{
	struct host_src *s = arg;
	ssize_t n;
	do
		n = read(s->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rx_fail(&ctx, errno, "%s: %s", s->path, strerror(errno));
	if (!s->md)
		return n;
	if (n > 0) {
		EVP_DigestUpdate(s->md, buf, (size_t)n);
		return n;
	}
	uint8_t got[32];
	EVP_DigestFinal_ex(s->md, got, NULL);
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
	if (memcmp(got, s->expect, 32))
		return rx_fail(&ctx, EAGAIN, "%s changed while it was being installed", s->path);
	return 0;
}

/* Read and validate EFIFILE: a PE EFI application of a known (or the named) architecture. */
static int examine_host(const char *efi, const struct rx_efi_arch *want, int *fd, struct rx_efi_facts *f)
{
	struct stat st;
	*fd = open(efi, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st) != 0) {
		rx_fail(&ctx, errno, "%s", strerror(errno));
		goto bad;
	}
	if (!S_ISREG(st.st_mode)) {
		rx_fail(&ctx, EINVAL, "not a regular file");
		goto bad;
	}
	struct host_src s = { *fd, efi, NULL, NULL };
	if (rx_efi_examine(&ctx, host_read, &s, 0xFFFFFFFFu, f) != 0)
		goto bad;
	if (!f->pe_ok) {
		rx_fail(&ctx, EINVAL, "%s", f->pe_problem);
		goto bad;
	}
	if (f->pe.subsystem != RX_PE_SUBSYSTEM_EFI_APP) {
		rx_fail(&ctx, EINVAL, "a PE file of subsystem %u, not an EFI application (10)", f->pe.subsystem);
		goto bad;
	}
	if (!f->pe.arch) {
		rx_fail(&ctx, EINVAL, "built for PE machine 0x%04x, which has no UEFI loader name (known: %s)",
			f->pe.machine, rx_efi_arch_names());
		goto bad;
	}
	if (want && want != f->pe.arch) {
		rx_fail(&ctx, EINVAL, "built for %s, not for %s", f->pe.arch->name, want->name);
		goto bad;
	}
	return 0;
bad:
	report(&ctx, efi, NULL);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return -1;
}

static int read_bios_file(const char *file, uint8_t **buf, size_t *len)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = 0;
	if (fd < 0 || fstat(fd, &st) != 0)
		r = rx_fail(&ctx, errno, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = rx_fail(&ctx, EINVAL, "not a regular file");
	else if (st.st_size <= (off_t)RX_BIOS_STAGE2 || st.st_size > (off_t)(1 << 20))
		r = rx_fail(&ctx, EINVAL, "%lld bytes: a BIOS stage is larger than %u bytes and at most 1 MiB",
			    (long long)st.st_size, RX_BIOS_STAGE2);
	if (!r) {
		*len = (size_t)st.st_size;
		*buf = rx_xmalloc(*len);
		for (size_t done = 0; !r && done < *len;) {
			ssize_t n = read(fd, *buf + done, *len - done);
			if (n < 0 && errno != EINTR)
				r = rx_fail(&ctx, errno, "%s", strerror(errno));
			else if (n == 0)
				r = rx_fail(&ctx, EIO, "it shrank while being read");
			else if (n > 0)
				done += (size_t)n;
		}
		if (r) {
			free(*buf);
			*buf = NULL;
		}
	}
	if (fd >= 0)
		close(fd);
	if (r)
		report(&ctx, file, NULL);
	return r;
}

static int do_install(const char *path, const char *efi, const char *arch_name, const char *bios_file, int force)
{
	const struct rx_efi_arch *want = NULL;
	if (arch_name && !(want = rx_efi_arch_by_name(arch_name)))
		return usage_error("bootloader", "unknown architecture '%s' (known: %s)", arch_name, rx_efi_arch_names());
	struct rx_efi_facts f;
	int fd = -1;
	uint8_t *bios = NULL;
	size_t bios_len = 0;
	if (efi && examine_host(efi, want, &fd, &f))
		return EXIT_FAIL;
	if (bios_file && read_bios_file(bios_file, &bios, &bios_len)) {
		if (fd >= 0)
			close(fd);
		return EXIT_FAIL;
	}
	struct rx_image *img = NULL;
	struct rx_esp e = { 0 };
	int r = open_disk(path, RX_DEV_RDWR, &img) ? -1 : 0;
	int reported = r != 0;
	if (!r)
		warn_probed_backing(img->container);
	const char *name = efi ? f.pe.arch->file : NULL;
	char kept_name[64];
	if (!r && efi && (r = rx_esp_open(&ctx, img->container, &img->table, 1, &e)) == 0) {
		/* An existing loader keeps the spelling of its name. */
		struct fat_node old;
		char p[64];
		snprintf(p, sizeof(p), "/EFI/BOOT/%s", name);
		fat_set_time(e.fat, (int64_t)now_time().sec);
		r = fat_lookup(e.fat, p, &old);
		if (r == 0 && !fat_is_dir(&old) && strlen(old.name) < sizeof(kept_name))
			name = strcpy(kept_name, old.name);
		if (r == -ENOENT) {
			rx_clear(&ctx);
			r = 0;
		}
	}
	if (!r && !strcmp(img->container->kind, "block device")) {
		if (!force)
			r = rx_fail(&ctx, EPERM, "a block device: writing to it needs --force");
		else if (efi)
			fprintf(stderr, "rximg: %s: block device: writing %s (%llu bytes, %s) as EFI/BOOT/%s into "
				"partition p%d%s\n", path, efi, (unsigned long long)f.size, f.pe.arch->name, name,
				e.part->partno, bios ? ", and the BIOS stage into LBA 0 and the BIOS boot partition" : "");
		else
			fprintf(stderr, "rximg: %s: block device: writing the BIOS stage %s into LBA 0 (bytes 0-445) and "
				"the BIOS boot partition\n", path, bios_file);
	}
	if (!r && efi) {
		struct host_src s = { fd, efi, EVP_MD_CTX_new(), f.sha256 };
		if (!s.md || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1 || lseek(fd, 0, SEEK_SET) != 0)
			r = rx_fail(&ctx, EIO, "%s: cannot read it again", efi);
		else if ((r = rx_esp_install(&e, name, f.size, host_read, &s)) != 0)
			rx_prefix(&ctx, "EFI/BOOT/%s", name);
		EVP_MD_CTX_free(s.md);
	}
	/* Both writers flush each step themselves: nothing is left to flush here. */
	if (!r && bios && (r = rx_bios_install(&ctx, img->container, &img->table, bios, bios_len)) != 0)
		rx_prefix(&ctx, "%s", bios_file);
	if (r && !reported)
		report(&ctx, path, NULL);
	if (efi)
		rx_esp_close(&e);
	if (img)
		rx_image_close(img);
	if (fd >= 0)
		close(fd);
	free(bios);
	return r ? EXIT_FAIL : EXIT_OK;
}

int cmd_bootloader(int argc, char **argv)
{
	/* --bios is a flag for extract and takes FILE for install. */
	static const struct option read_opts[] = {
		{ "json", no_argument, 0, 'j' }, { "arch", required_argument, 0, 'a' },
		{ "bios", no_argument, 0, 'b' }, { "force", no_argument, 0, 'f' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	static const struct option install_opts[] = {
		{ "json", no_argument, 0, 'j' },       { "arch", required_argument, 0, 'a' },
		{ "bios", required_argument, 0, 'b' }, { "force", no_argument, 0, 'f' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(bootloader_help, stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		return usage_error("bootloader", "expected info, extract or install");
	const char *sub = argv[1];
	int info = !strcmp(sub, "info"), extract = !strcmp(sub, "extract"), install = !strcmp(sub, "install");
	if (!info && !extract && !install)
		return usage_error("bootloader", "unknown action '%s' (info, extract or install)", sub);
	int c, json = 0, force = 0, bios = 0;
	const char *arch = NULL, *bios_file = NULL;
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, install ? "a:b:fh" : "a:fh", install ? install_opts : read_opts,
				NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'a': arch = optarg; break;
		case 'b':
			bios = 1;
			bios_file = optarg;
			break;
		case 'f': force = 1; break;
		case 'h': fputs(bootloader_help, stdout); return EXIT_OK;
		default: return bad_option("bootloader", argv);
		}
	}
	int nargs = argc - optind;
	if (json && !info)
		return usage_error("bootloader", "--json goes with info");
	if (info) {
		if (arch || bios || force)
			return usage_error("bootloader", "info takes only --json");
		if (nargs != 1)
			return usage_error("bootloader", "expected info IMAGE");
		return do_info(argv[optind], json);
	}
	if (extract) {
		if (nargs != 2)
			return usage_error("bootloader", "expected extract IMAGE FILE");
		return do_extract(argv[optind], argv[optind + 1], arch, bios, force);
	}
	if (nargs != 2 && !(nargs == 1 && bios_file))
		return usage_error("bootloader", "expected install IMAGE EFIFILE (or install --bios FILE IMAGE)");
	return do_install(argv[optind], nargs == 2 ? argv[optind + 1] : NULL, arch, bios_file, force);
}
