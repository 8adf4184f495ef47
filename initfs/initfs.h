/*
 * The Redox initfs archive ("RedoxFtw"): every layout variant is read; V1, V3,
 * V4, V5b and V6 are written. An archive is loaded into an in-memory tree of
 * nodes that keeps the stored entry order, so that an edited or repacked
 * archive comes out the way the reference archiver would have written it.
 */
#ifndef RX_INITFS_H
#define RX_INITFS_H

#include <stddef.h>
#include <stdint.h>

#include "rx.h"

#define IFS_PAGE 4096u
#define IFS_MAX_INODES 65535u		/* inode_count is a u16 and includes the root */
#define IFS_MAX_BYTES 0xFFFFFFFFull	/* offsets are u32: an archive is < 4 GiB */
#define IFS_DEFAULT_MAX_SIZE (64ull << 20)	/* the reference archiver's release default */
#define IFS_NO_ENTRY UINT64_MAX		/* bootstrap_entry written when there is no bootstrap */
#define IFS_NO_INO UINT32_MAX
#define IFS_VADDR_BASE 0x1000u		/* the kernel maps the archive at this address */

enum ifs_layout {
	IFS_LAYOUT_NONE = 0,
	IFS_V1, IFS_V2A, IFS_V2B, IFS_V3, IFS_V4, IFS_V5A, IFS_V5B, IFS_V6A, IFS_V6,
	IFS_NLAYOUTS
};

enum ifs_type { IFS_FILE = 1, IFS_DIR = 2, IFS_LINK = 3 };

/* How a symlink target is written down (spec section 5). */
enum ifs_link_form {
	IFS_LINK_NONE = 0,	/* the layout has no symlinks */
	IFS_LINK_ROOT,		/* relative to the archive root (V3 .. V5a) */
	IFS_LINK_PARENT,	/* relative to the link's own directory (V5b, V6, host symlinks) */
};

const char *ifs_layout_name(enum ifs_layout l);
/* One line: header, records, allocation, era. */
const char *ifs_layout_desc(enum ifs_layout l);
/* "v4", "V4", "4"; "v2c" is read as v3 (same bytes without symlinks). */
int ifs_layout_parse(const char *s, enum ifs_layout *l);
int ifs_layout_writable(enum ifs_layout l);
/* Does the layout store permission bits (20-byte records)? Else only "executable". */
int ifs_layout_has_modes(enum ifs_layout l);
enum ifs_link_form ifs_layout_link_form(enum ifs_layout l);
int ifs_layout_has_bootstrap(enum ifs_layout l);

struct ifs_node;

struct ifs_dirent {
	char *name;		/* NUL-terminated copy: never empty, '.', '..', or with '/' or NUL */
	size_t len;
	struct ifs_node *node;
	uint32_t w_name;	/* writer scratch: offset of the name */
};

struct ifs_node {
	enum ifs_type type;
	uint16_t mode;		/* permission bits, 07777 (synthesised for 12-byte records) */
	uint32_t uid, gid;
	uint32_t ino;		/* inode number in the archive it was read from, or IFS_NO_INO */
	/* File contents or link target: in memory (data) or in a host file read when written. */
	const uint8_t *data;
	uint64_t size;
	uint8_t *owned;		/* == data when the node owns it */
	char *host;
	enum ifs_link_form form;
	/* Directory entries, in archive order. */
	struct ifs_dirent *ents;
	size_t n, cap;
	/* writer scratch */
	uint32_t w_off, w_ino;
};

struct ifs_node *ifs_node_new(enum ifs_type type, uint16_t mode);
void ifs_tree_free(struct ifs_node *root);
/* Append an entry (name copied); fails on a bad or duplicate name or too many entries. */
int ifs_dir_add(struct rx_ctx *ctx, struct ifs_node *dir, const char *name, size_t len,
		struct ifs_node *child);
/* Append without checks (callers that know the name is valid and new). */
void ifs_dir_append(struct ifs_node *dir, const char *name, size_t len, struct ifs_node *child);
/* Index of name in dir, or -1. */
long ifs_dir_find(const struct ifs_node *dir, const char *name, size_t len);
/* Remove entry i and free what it names. */
void ifs_dir_remove(struct ifs_node *dir, size_t i);
/* Nodes in the tree, root included. */
uint64_t ifs_tree_count(const struct ifs_node *root);
/* Replace a node's contents with an owned copy of buf. */
void ifs_node_set_data(struct ifs_node *n, const void *buf, uint64_t len);
/* 0 if name may be an entry name, else a short reason. */
const char *ifs_name_problem(const char *name, size_t len);

/*
 * Resolve a path inside the tree ("/" is the root). Symlinks on the way are
 * followed (in either form, at most 40), the last one only when follow is set.
 */
int ifs_resolve(struct rx_ctx *ctx, struct ifs_node *root, const char *path, int follow,
		struct ifs_node **out);
/* Walk a path without following any symlink: the parent directory and the last name. */
int ifs_walk_parent(struct rx_ctx *ctx, struct ifs_node *root, const char *path,
		    struct ifs_node **dir, char **name);

/*
 * A symlink target converted to the form another layout (or the host) wants.
 * dirpath is the path of the directory holding the link, relative to the root
 * and without a leading '/' ("" for the root). Returns a malloc'd string.
 */
int ifs_link_target(struct rx_ctx *ctx, const struct ifs_node *link, const char *dirpath,
		    enum ifs_link_form want, char **out, size_t *len);

/* ---- reading ---- */

struct ifs_archive {
	const uint8_t *buf;	/* the whole file (not owned) */
	uint64_t len;
	enum ifs_layout layout;
	int forced;		/* layout named by the caller, not detected */
	uint64_t size;		/* initfs_size, or the file length when the header has none */
	int has_size;
	uint32_t ito;		/* inode_table_offset */
	uint32_t count;		/* inode_count */
	uint32_t root_ino;
	uint32_t page_size;
	int has_page_size, has_root_field;
	uint64_t entry;
	int has_entry;
	uint64_t time_sec;
	uint32_t time_nsec;
	int has_time;
	uint32_t data_start;	/* first allocation after the header and bootstrap region */
	uint32_t boot_len;	/* bootstrap bytes at 4096 (0: none) */
	int boot_elf;		/* the region starts with \x7fELF */
	uint64_t elf_len;	/* the ELF's length from its own headers (0: unknown) */
	uint32_t nfiles, ndirs, nlinks;
	uint64_t data_bytes;	/* file contents */
	struct ifs_node *root;
	char **warnings;
	unsigned char *blocking;	/* per warning: it keeps the archive from booting */
	size_t nwarnings;
	size_t nblocking;	/* warnings that keep the archive from booting */
};

/*
 * Detect the layout (or use force), validate the whole tree and build it.
 * buf must stay valid while the tree is used (file nodes point into it).
 */
int ifs_load(struct rx_ctx *ctx, const uint8_t *buf, uint64_t len, enum ifs_layout force,
	     struct ifs_archive *a);
void ifs_archive_free(struct ifs_archive *a);
const uint8_t *ifs_bootstrap(const struct ifs_archive *a);

/* ---- bootstrap ELF ---- */

struct ifs_elf {
	int class64, big;
	uint16_t machine;
	uint64_t entry;		/* e_entry */
	uint64_t len;		/* end of the last header, segment or section in the file */
};

/* Parse the ELF header and tables in p[0..n); fails when they do not fit. */
int ifs_elf_parse(struct rx_ctx *ctx, const uint8_t *p, size_t n, struct ifs_elf *e);
/* Why this ELF cannot run as a bootstrap (spec 6.3), one message per call of cb. */
void ifs_elf_boot_check(const uint8_t *p, size_t n, void (*cb)(void *arg, const char *msg),
			void *arg);

/* ---- host trees ---- */

/*
 * Read a host file, directory tree or symlink into a node. File contents stay
 * on the host until written. Entries are sorted by name, except that names
 * also found in like (a directory of another tree, may be NULL) come first,
 * in like's order, so that a repacked tree keeps the order of its source.
 */
int ifs_import(struct rx_ctx *ctx, int dirfd, const char *name, const char *hostpath,
	       const struct ifs_node *like, struct ifs_node **out);
/* The contents of a host directory into a new directory node. */
int ifs_import_dir(struct rx_ctx *ctx, const char *hostdir, const struct ifs_node *like,
		   struct ifs_node **out);

/* ---- editing a tree (symlinks on the way are never followed) ---- */

struct ifs_put_opts {
	int recursive;		/* directories too (merged into existing ones) */
	int parents;		/* create missing parents of dest */
	int have_mode;
	uint16_t mode;		/* for the files put */
};

/* "/", "//", "/./" */
int ifs_is_root_path(const char *path);
int ifs_lookup_nofollow(struct rx_ctx *ctx, struct ifs_node *root, const char *path,
			struct ifs_node **n);
/*
 * Copy a host file or tree to dest (inside it when dest is a directory). A
 * replaced file keeps its mode unless po->have_mode; contents are read when
 * the archive is written.
 */
int ifs_put(struct rx_ctx *ctx, struct ifs_node *root, const char *src, const char *dest,
	    const struct ifs_put_opts *po);
/*
 * Replace the contents of the file at path (a symlink there is followed to its
 * file) with a copy of buf, or create it (mode 0644 unless have_mode). A
 * replaced file keeps its mode unless have_mode.
 */
int ifs_set_file(struct rx_ctx *ctx, struct ifs_node *root, const char *path, const void *buf,
		 uint64_t len, int have_mode, uint16_t mode);
int ifs_mkdir(struct rx_ctx *ctx, struct ifs_node *root, const char *path, uint16_t mode, int parents);
int ifs_remove(struct rx_ctx *ctx, struct ifs_node *root, const char *path, int recursive, int force);
/* A relative target is relative to the link's directory, an absolute one to the archive root. */
int ifs_symlink(struct rx_ctx *ctx, struct ifs_node *root, const char *target, const char *link,
		int force);
void ifs_chmod(struct ifs_node *n, uint16_t mode, int recursive);

/* ---- writing ---- */

struct ifs_write_opts {
	enum ifs_layout layout;
	const uint8_t *boot;	/* bootstrap ELF placed at 4096, or NULL */
	size_t boot_len;
	uint64_t entry;		/* bootstrap_entry to store */
	uint64_t time_sec;	/* creation time (layouts before V6) */
	uint32_t time_nsec;
	uint64_t max_size;	/* 0: no limit besides 4 GiB */
};

/* The bootstrap_entry for an ELF: e_entry, as the reference archiver computes it. */
int ifs_entry_of(struct rx_ctx *ctx, const uint8_t *elf, size_t len, uint64_t *entry);
/*
 * Lay the tree out and write it to fd (a new, empty file) with pwrite; the file
 * ends at initfs_size. Every inode number of the tree is assigned.
 */
int ifs_write(struct rx_ctx *ctx, struct ifs_node *root, const struct ifs_write_opts *o, int fd,
	      uint64_t *size);
/* Round up to the page size for the layouts that page-align (what --max-size compares). */
uint64_t ifs_needed(enum ifs_layout l, uint64_t size);

#endif
