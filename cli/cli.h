/* The rximg front-end: option parsing, path syntax, printing. No format logic. */
#ifndef RX_CLI_H
#define RX_CLI_H

#include <stdio.h>

#include "image.h"
#include "json.h"
#include "lock.h"
#include "ops.h"
#include "progress.h"
#include "resolve.h"
#include "rfs.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* IMAGE[:pN|:redoxfs][:/path] */
struct target {
	char *image;
	int partno;		/* RX_PART_AUTO unless :pN */
	char *path;		/* NULL when none was given */
};

int target_parse(struct rx_ctx *ctx, const char *arg, struct target *t);
void target_free(struct target *t);

/* An opened target: image, filesystem, and the resolved node. */
struct opened {
	struct target t;
	struct rx_image *img;
	struct rfs *fs;
};

/* "rximg: IMAGE[:pN]: message": a failure to open what t names. */
void report_image(struct rx_ctx *ctx, const struct target *t);
/* Parse arg, open the image read-only and its RedoxFS; prints the error. */
int open_target(const char *arg, struct opened *o);
/* One warning line when someone else (QEMU, another rximg) is writing the image we read, or its backing chain. */
void warn_if_written(const struct rx_dev *container, const char *image);
void close_target(struct opened *o);

/* Passwords: $RXIMG_PASSWORD, $RXIMG_PASSWORD_FILE, else asked on the terminal. */
char *get_password(const char *image, int confirm, int *interactive);
/* Unlock an encrypted filesystem (no-op otherwise); 0 or -errno with the reason. */
int unlock_fs(struct rfs *fs, const char *image);

/* Print "rximg: IMAGE[: PATH]: message" from the context. */
void report(struct rx_ctx *ctx, const char *image, const char *path);
void warnx_(const char *fmt, ...) RX_PRINTF(1, 2);

/* Usage errors: print "rximg VERB: msg" and the hint to --help. */
int usage_error(const char *verb, const char *fmt, ...) RX_PRINTF(2, 3);
/* After getopt_long returned '?': name the offending option. */
int bad_option(const char *verb, char **argv);
/* rximg __complete (cli/complete.c): a verb's options from its --help; entries of IMAGE:/dir. */
int complete_options(int (*run)(int argc, char **argv), const char *verb);
int complete_path(const char *word);

/*
 * A path opened through every level it names (cli/place.c): the innermost
 * filesystem as a vfs, the path inside it, and what messages call it.
 */
struct place {
	struct rx_ctx ctx;
	struct rx_ctx *c;	/* where failures are recorded: ctx, or the shell session's */
	const char *arg;
	struct rx_res *res;
	struct vfs *v;
	const char *path;
	const char *label;
};
void place_opts(struct rx_res_opts *o, int write);
/* Open arg (for writing: locked, in one pending change); prints the error. */
int place_open(const char *arg, int write, struct place *p);
int place_open_with(const char *arg, const struct rx_res_opts *opts, struct place *p);
/* "rximg: LABEL[: PATH]: message" from the recorded failure. */
void place_report(struct place *p, const char *path);
/* Land every change (all levels, one commit) and close; returns the exit status. */
int place_commit(struct place *p);
void place_close(struct place *p);
/*
 * Open argv[0] for writing; every argument must name a path in the same
 * filesystem (*paths, NULL-terminated). EXIT_OK, or the status to exit with.
 */
int place_begin(const char *verb, int argc, char **argv, struct place *p, char ***paths);
/* Commit (r == 0) or report r for path and drop everything; frees paths. */
int place_finish(struct place *p, char **paths, int r, const char *path);
/*
 * The shell's session: while set, every place in its image is opened through
 * it (the image stays locked, changes stay pending until the shell commits).
 */
struct rx_res;
void place_session(struct rx_res *session, struct rx_ctx *ctx);
/* The shell's words (cli/shellwords.c): split as sh would (NULL, *argc -1 on an unclosed quote). */
char **shell_split_words(const char *line, int *argc);
void shell_free_words(char **v, int n);
/* A typed path made absolute against cwd ("/boot/initfs:/etc"), "." and ".." taken out, level by level. */
char *shell_absolute(const char *cwd, const char *arg);
/*
 * Does arg name something only the vfs verbs reach: inside an initfs archive
 * (at any depth), the ESP, or a partition :pN without RedoxFS (FAT)?
 */
int names_member(const char *arg);

/* Names of a directory gathered first (changing entries while listing them is not safe). */
struct name_list {
	char **v;
	size_t n;
};
/* A vfs_dirent_cb that appends each name to the name_list at arg. */
int name_list_add(void *arg, const char *name, size_t len, const struct vfs_attr *a);
void name_list_free(struct name_list *l);
/* A damaged entry a write took out unread (fs->dropped). */
void tell_dropped(void *image, const char *path, const char *why);

/* Writing: one invocation = one transaction = one commit. */
struct wsession {
	struct opened o;
	struct rfs_tx *tx;
};
int wsession_open(const char *arg, struct wsession *w);
int wsession_same(struct wsession *w, const char *verb, const struct target *t);
/* Commit (or report) and close; returns the exit status. */
int wsession_commit(struct wsession *w);
/* Commit, then finish the bar: 100% only when the commit landed. */
int wsession_commit_progress(struct wsession *w, struct progress *bar);
/* Report the recorded failure for path, drop every change, close; returns EXIT_FAIL. */
int wsession_fail(struct wsession *w, const char *path);
/*
 * Open the image named by argv[0] and parse every argument as IMAGE:/path of
 * that image (*paths: NULL-terminated). EXIT_OK, or the status to exit with.
 */
int wsession_begin(const char *verb, int argc, char **argv, struct wsession *w, char ***paths);
/* Commit (r == 0) or report r for path and drop everything; frees paths. */
int wsession_finish(struct wsession *w, char **paths, int r, const char *path);

struct rfs_time now_time(void);
int reproducible_epoch(uint64_t *epoch);
int parse_owner(const char *s, struct rfs_owner *o);
int parse_mode(const char *s, uint16_t *mode);
int parse_size(const char *s, uint64_t *v);

/* Copy a host tree (or file) into the image under dir/name. */
struct import_opts {
	int keep_owner;			/* take uid/gid from the source */
	const struct rfs_owner *owner;	/* forced owner (wins over keep_owner) */
	int have_epoch;			/* SOURCE_DATE_EPOCH: clamp times */
	uint64_t epoch;
	int warned_links;
	int sync;			/* existing entries: replace other types, skip same size+mtime */
	int checksum;			/* sync: compare contents, not size+mtime */
	int delete;			/* sync: remove what the source no longer has */
	uint64_t changed;		/* entries created, rewritten or removed */
	const char *ipath;		/* sync: the image path of the entry being imported */
};
int import_tree(struct rfs_tx *tx, struct rfs_node *dir, const char *name, int host_dirfd,
		const char *host_name, const char *host_path, struct import_opts *o);
/*
 * A progress bar (named after the verb) for copying the host paths srcs into
 * the image through tx: every byte written, or found up to date, counts.
 * End it with progress_done once committed, or progress_stop.
 */
struct progress;
/* The bar alone, for copies that do not go through a RedoxFS transaction (progress_add as they go). */
void import_bar_init(struct progress *bar, const char *verb, const char *const *srcs, int nsrc, int quiet);
void import_bar_begin(struct progress *bar, struct rfs_tx *tx, const char *verb, const char *const *srcs,
		      int nsrc, int quiet);
/*
 * The names in a host directory but . and .., sorted bytewise: one buffer holds
 * them all (a directory of a million entries takes tens of MiB, not hundreds).
 * Returns the count, or -1 with errno; *arena and *names are freed by the caller.
 */
ssize_t import_host_names(int dirfd, char **arena, char ***names);
int import_names_cmp(const void *a, const void *b);
/* Copy everything inside the host directory fd into the image directory dir. */
int import_contents(struct rfs_tx *tx, struct rfs_node *dir, int fd, const char *host_path,
		    struct import_opts *o);

/* Fill a fresh, unlocked filesystem from a host directory in one transaction (mkfs --from, create). */
int fill_from_dir(struct rx_ctx *ctx, struct rfs *fs, const char *from, const struct rfs_owner *owner,
		  struct progress *bar, const char *verb, int quiet);

/* put's engine, shared with inject */
struct put_opts {
	int preserve, recursive, parents, have_mode;
	uint16_t mode;
	const struct rfs_owner *owner;
};
int put_one(struct wsession *w, const char *src, const char *path, const struct put_opts *po);

/* edit: a private (0600) temporary file named after the last part of name; fd, or -errno. */
int edit_tempfile(struct rx_ctx *ctx, const char *name, char **path);
/* Run $VISUAL, else $EDITOR, else vi on path; 0, or -ECANCELED with the reason in ctx. */
int run_editor(struct rx_ctx *ctx, const char *path);

/* Formatting */
const char *node_type_name(uint16_t mode);
void mode_string(uint16_t mode, char out[11]);
void format_time(uint64_t sec, uint32_t nsec, int precise, char *out, size_t cap);
void format_uuid(const uint8_t uuid[16], char out[37]);
/* Parse a UUID (hyphens optional); nonzero when s is not one. */
int bad_uuid(const char *s, uint8_t out[16]);
/* A version-4 UUID: random, or derived from seed when it is not NULL. */
void make_uuid(uint8_t out[16], const char *seed);
/* Manifest escaping: tab, newline and backslash become \t, \n, \\. */
void fput_escaped(FILE *f, const char *s, size_t len);
/* Undo fput_escaped in place; 0 on a bad escape. */
int unescape_field(char *s);


/* Per-node facts shown by stat and ls --json. */
struct node_facts {
	uint64_t records, compressed, stored_blocks;
	int htree_depth;	/* -1: empty directory */
	char *target;		/* symlinks */
};
int node_facts(struct rfs *fs, const struct rfs_node *n, struct node_facts *f);
void node_facts_free(struct node_facts *f);
/* Bytes a copy of the tree at path (stat'ed as top) writes: its files' sizes, each node once (progress totals). */
uint64_t tree_file_bytes(struct vfs *v, const char *path, const struct vfs_attr *top);

/* Verbs */
int cmd_info(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_manifest(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_mkfs(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_shell(int argc, char **argv);
/* The verbs by name (cli/main.c): a verb's function, or NULL; run one as "rximg VERB ARGS". */
typedef int (*verb_fn)(int argc, char **argv);
verb_fn find_verb(const char *name);
int run_verb(int argc, char **argv);
int cmd_mkdir(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_ln(int argc, char **argv);
int cmd_chmod(int argc, char **argv);
int cmd_chown(int argc, char **argv);
int cmd_touch(int argc, char **argv);
int cmd_truncate(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_edit(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_initfs(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_overlay(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_uuid(int argc, char **argv);
int cmd_rebase(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_bootloader(int argc, char **argv);

/* qcow2 containers (cmd_qcow.c) */
int make_overlay(const char *base, const char *path, int relative, unsigned cluster_bits);
/* rximg info's container: the record (cli/table.h) of dev and its backing chain, and its layout; free() it. */
struct record;
struct tlayout;
struct record *container_record(const struct rx_dev *dev, const struct tlayout **l);
void warn_probed_backing(const struct rx_dev *dev);

#endif
