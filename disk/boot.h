/*
 * What the firmware and the Redox loaders look at on a whole disk
 * (shared/spec/disk-image.md): the EFI system partition and the loader
 * applications in its EFI/BOOT folder, the x86 BIOS stage in the first MiB
 * (section 3), and the places the loaders expect RedoxFS, the kernel and
 * the initfs (sections 2, 4 and 5). Never prints.
 *
 * Replacing a loader is one fat_write_file(): the new file is written into
 * free clusters and linked in before the old chain is freed (disk/fat/fat.h
 * states what a kill may leave), and everything is checked before the first
 * write: the file is a PE of a known architecture, the partition table and
 * the FAT volume are sound, and the free space holds the whole new file.
 */
#ifndef RX_BOOT_H
#define RX_BOOT_H

#include <stdint.h>
#include <stddef.h>

#include "dev.h"
#include "fat.h"
#include "image.h"
#include "part.h"

/* The architectures UEFI names a removable-media loader for. */
struct rx_efi_arch {
	uint16_t machine;	/* PE/COFF Machine field */
	const char *name;	/* "aarch64" */
	const char *file;	/* "BOOTAA64.EFI" */
};

const struct rx_efi_arch *rx_efi_arch_by_machine(uint16_t machine);
/* "aarch64", "x86_64", "i386" (also "i686", "x86"), "riscv64"; NULL if unknown. */
const struct rx_efi_arch *rx_efi_arch_by_name(const char *name);
/* The arch whose loader name this is (case-insensitive), or NULL. */
const struct rx_efi_arch *rx_efi_arch_by_file(const char *file);
/* The known names, comma separated, for messages. */
const char *rx_efi_arch_names(void);

#define RX_PE_SUBSYSTEM_EFI_APP 10

struct rx_pe {
	uint16_t machine;
	uint16_t subsystem;
	int pe32plus;
	const struct rx_efi_arch *arch;	/* NULL: a machine no loader name exists for */
};

/*
 * Validate the DOS and PE headers in buf, the first len bytes of a file of
 * file_size bytes: "MZ", e_lfanew inside the file, "PE\0\0", the optional
 * header's magic and subsystem. 0 or -errno with the reason.
 */
int rx_pe_parse(struct rx_ctx *ctx, const uint8_t *buf, size_t len, uint64_t file_size, struct rx_pe *out);

/* Where a loader generation reads kernel and initfs (found from strings in the loader). */
enum { RX_BOOT_PATHS_UNKNOWN = 0, RX_BOOT_PATHS_BOOT = 1, RX_BOOT_PATHS_USR = 2 };
const char *rx_boot_paths_dir(int paths);	/* "/boot", "/usr/lib/boot" */

#define RX_LIVE_MARKER "redox-live.iso"
#define RX_LIVE_WARNING "the VM runs from a RAM copy of RedoxFS; writes inside it are lost at shutdown"

/* What one pass over a loader file tells. */
struct rx_efi_facts {
	uint64_t size;
	uint8_t sha256[32];
	int pe_ok;
	struct rx_pe pe;
	char pe_problem[256];	/* why the headers are not a PE, when !pe_ok */
	int live;		/* contains RX_LIVE_MARKER: a live build (spec section 5) */
	int boot_paths;		/* RX_BOOT_PATHS_* */
};

/*
 * Read a whole file from src (fat_source_fn: bytes placed, 0 at the end,
 * -errno), hashing and scanning it. A file that is not a PE is described in
 * pe_problem, not failed: only a read error or a file over max_size is.
 */
int rx_efi_examine(struct rx_ctx *ctx, fat_source_fn src, void *arg, uint64_t max_size,
		   struct rx_efi_facts *out);

/* The EFI system partition of a disk, its FAT open. */
struct rx_esp {
	const struct rx_part *part;
	struct rx_dev *dev;	/* the partition slice */
	struct fat_fs *fat;
};

/* GPT type C12A7328-F81F-11D2-BA4B-00A0C93EC93B or MBR type 0xEF. */
int rx_part_is_esp(const struct rx_part *p);
/* Find the (first) EFI system partition of t and open its FAT; writable checks it first. */
int rx_esp_open(struct rx_ctx *ctx, struct rx_dev *container, const struct rx_parttable *t, int writable,
		struct rx_esp *out);
/* The FAT of partition p (any type: IMAGE:pN naming a FAT partition); closed with rx_esp_close. */
int rx_fat_part_open(struct rx_ctx *ctx, struct rx_dev *container, const struct rx_part *p, int writable,
		     struct rx_esp *out);
void rx_esp_close(struct rx_esp *e);
/* Record why t has no EFI system partition; returns -ENOENT. */
int rx_esp_missing(struct rx_ctx *ctx, const struct rx_parttable *t);

/* One loader application found in /EFI/BOOT. */
struct rx_efi_app {
	char path[16 + sizeof(((struct fat_node *)0)->name)];	/* "/EFI/BOOT/BOOTAA64.EFI" */
	const struct rx_efi_arch *named;	/* the arch its file name stands for, or NULL */
	struct rx_efi_facts f;
};

/* Every BOOT*.EFI in /EFI/BOOT (none: *n = 0), each read once. */
int rx_esp_loaders(struct rx_esp *e, struct rx_efi_app **apps, size_t *n);

/*
 * Make /EFI/BOOT/<name> hold the size bytes src yields, creating the
 * folders if needed. Refused before anything is written when the volume's
 * free space cannot hold the new file next to the old one (the old chain is
 * freed only once the new one is in place).
 */
int rx_esp_install(struct rx_esp *e, const char *name, uint64_t size, fat_source_fn src, void *arg);

/*
 * Partition table sanity for the ESP verbs and the whole-disk checks: no
 * partition overlaps another or the primary GPT, and (both_copies, for
 * writers) both GPT copies are sound. 0, or -errno with the first problem.
 */
int rx_part_validate(struct rx_ctx *ctx, const struct rx_parttable *t, int both_copies);

/* ---- the x86 BIOS stage (spec section 3) ---- */
#define RX_BIOS_SIZE 0x60000u		/* bootloader.bios: 384 KiB written at byte 0 */
#define RX_BIOS_STAGE2 0x4400u		/* LBA 34: the first byte after the primary GPT */
#define RX_MBR_TABLE 446u		/* bytes 446..509: the MBR partition records */

/* 1 when LBA 0 holds code before byte 446 and LBA 34 is not blank, 0 if not, or -errno. */
int rx_bios_present(struct rx_dev *container);
/*
 * The stage as its file was: bytes [0, RX_BIOS_SIZE) of the disk with the
 * MBR records and LBA 1-33 (the GPT) zeroed. buf holds RX_BIOS_SIZE bytes.
 */
int rx_bios_read(struct rx_dev *container, uint8_t *buf);
/*
 * Place a BIOS stage file: bytes 0-445 into LBA 0 and bytes from 0x4400 on
 * into the BIOS boot partition that must start at LBA 34 and hold them.
 * LBA 1-33 and the MBR records are never written. The file must be a boot
 * sector (55 AA) with nothing where the GPT and the MBR records go.
 */
int rx_bios_install(struct rx_ctx *ctx, struct rx_dev *container, const struct rx_parttable *t,
		    const uint8_t *file, size_t len);

/* ---- the whole disk as the loaders see it ---- */

/* What the ESP holds, gathered once for printing and for rx_boot_validate. */
struct rx_boot_report {
	const struct rx_part *esp;	/* NULL: no EFI system partition */
	struct rx_fat_summary {
		int type;
		uint64_t free_bytes, cluster_size;
	} fat;
	char esp_problem[1024];	/* the ESP could not be read: why ("" if it could) */
	struct rx_efi_app *apps;
	size_t napps;
	int bios;		/* the BIOS stage is present */
};

int rx_boot_inspect(struct rx_image *img, struct rx_boot_report *out);
void rx_boot_report_free(struct rx_boot_report *r);

/*
 * The header at block 0 of the partition that holds RedoxFS is what the
 * loaders probe (and nothing else). 1 with msg filled when it is not a valid
 * RedoxFS header although the filesystem opens from its ring, 0 if fine.
 */
int rx_boot_block0_problem(struct rx_image *img, char *msg, size_t cap);

typedef void (*rx_boot_warn_fn)(void *arg, const char *msg);
/*
 * One warn() per thing that keeps the disk from booting as the Redox loaders
 * and firmware expect: layout (ESP at 1 MiB, RedoxFS at 2 MiB), the GPT
 * copies, overlapping partitions, the ESP and its loaders, block 0, kernel
 * and initfs where the loader generation reads them (present, not links,
 * with their magic, a bootstrap entry), and a live loader. fs may be NULL
 * (no RedoxFS found, or encrypted: its files are not looked at).
 */
void rx_boot_validate(struct rx_image *img, struct rfs *fs, const struct rx_boot_report *rep,
		      rx_boot_warn_fn warn, void *arg);

#endif
