/*
 * The platform seam: everything that differs between Linux, macOS and other
 * POSIX hosts lives behind these calls, chosen by configure (config.h), so the
 * format layers and the front-end never test for an operating system.
 */
#ifndef RX_PLATFORM_H
#define RX_PLATFORM_H

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/*
 * rximg's own error codes, for what errno has no portable name for. The
 * messages recorded with them are the same everywhere; only the number a
 * FUSE caller or a script sees may differ between hosts.
 */
#if HAVE_DECL_EUCLEAN
#define RX_ECORRUPT EUCLEAN		/* a structure on disk is damaged */
#else
#define RX_ECORRUPT EBADMSG
#endif
#if HAVE_DECL_ENOKEY
#define RX_ENOKEY ENOKEY		/* a password is needed, or none opens the filesystem */
#elif HAVE_DECL_EAUTH
#define RX_ENOKEY EAUTH
#else
#define RX_ENOKEY EACCES
#endif
#if HAVE_DECL_EKEYREJECTED
#define RX_ENOTENCRYPTED EKEYREJECTED	/* a password was given for a plain filesystem */
#else
#define RX_ENOTENCRYPTED EINVAL
#endif

/*
 * Make what was written to fd durable: on the disk, not only handed to the
 * drive. On macOS fsync leaves the data in the drive's cache, so this uses
 * F_FULLFSYNC there, and plain fsync where a filesystem or device refuses it.
 * 0, or -1 with errno.
 */
int rx_sync_fd(int fd);

/* Test hooks: NULL in rximg. A unit test sets them to count and steer flushes. */
struct rx_platform_hooks {
	/* Called instead of fcntl(F_FULLFSYNC), on every host: the full-flush path is taken. */
	int (*full_fsync)(int fd);
	/* Called instead of fdatasync/fsync. */
	int (*fsync)(int fd);
	/* Told of every read-ahead hint (and the hint is still given). */
	void (*willneed)(int fd, uint64_t off, uint64_t len);
};
extern struct rx_platform_hooks rx_platform_hooks;

/* Ask the kernel to start writing fd's dirty pages back now (a hint; no error). */
void rx_start_writeback(int fd);
/*
 * Tell the kernel that bytes [off, off+len) of fd will be read soon, so that
 * it starts reading them now, several requests at once, in its own order
 * (posix_fadvise WILLNEED; F_RDADVISE on macOS). A hint: nothing happens
 * where the host has neither, and failures are ignored.
 */
void rx_advise_willneed(int fd, uint64_t off, uint64_t len);
/* Send a mounted filesystem's cached changes to it (syncfs where there is one). */
void rx_sync_filesystem(int fd);

/* File times from struct stat, whatever the host calls the fields. */
struct timespec rx_stat_atime(const struct stat *st);
struct timespec rx_stat_mtime(const struct stat *st);
struct timespec rx_stat_ctime(const struct stat *st);
void rx_stat_set_times(struct stat *st, struct timespec atime, struct timespec mtime,
		       struct timespec ctime);

/* len bytes from the system's random source. 0, or -1 with errno. */
int rx_random_bytes(void *buf, size_t len);

/* Is st a disk that rximg may read as an image (a block device; on macOS also /dev/rdiskN)? */
int rx_is_disk(const struct stat *st);
/* The size in bytes of the disk open on fd. 0, or -1 with errno. */
int rx_disk_size(int fd, uint64_t *size);

/*
 * Copy len bytes from in_fd at in_off to out_fd at out_off, in the kernel
 * where it can (copy_file_range), else by reading and writing. Returns the
 * bytes copied (fewer at the end of the input), or -1 with errno.
 */
int64_t rx_copy_range(int in_fd, uint64_t in_off, int out_fd, uint64_t out_off, uint64_t len);

/*
 * The entries of the directory open on dirfd that keep() accepts (all when
 * NULL), sorted by cmp (unsorted when NULL), as scandir does: *out is an
 * array of malloc'd entries to free one by one and then whole. dirfd itself
 * is not moved. Returns the count, or -1 with errno.
 */
int rx_scandir_fd(int dirfd, struct dirent ***out, int (*keep)(const struct dirent *),
		  int (*cmp)(const struct dirent **, const struct dirent **));

/*
 * Might the file open on fd be open other than through fd, in this process or
 * another? 0 when the system can tell that it is not (Linux grants a write
 * lease only then: one is taken and given back at once), which spares looking
 * through every process's open files; 1 when it may be, or cannot be told.
 */
int rx_open_elsewhere(int fd);

/* A pipe whose ends close on exec. 0, or -1 with errno. */
int rx_pipe_cloexec(int fds[2]);

/* Tune the allocator for rximg's 128 KiB record buffers (nothing where it cannot be tuned). */
void rx_tune_allocator(void);
/*
 * Ask for [p, p+len) of untouched anonymous memory to be backed by huge pages
 * (madvise MADV_HUGEPAGE on Linux; nothing elsewhere): one fault then maps
 * RX_HUGE_PAGE_BYTES, not 4 KiB. p should be aligned to RX_HUGE_PAGE_BYTES.
 * A hint: failures are ignored.
 */
#define RX_HUGE_PAGE_BYTES (2u << 20)
void rx_advise_huge_pages(void *p, size_t len);

/*
 * Unmount a FUSE mount of this user: umount2 as root, fusermount3 otherwise
 * (Linux); unmount(2) on macOS. 0, or -1 with errno.
 */
int rx_unmount(const char *mountpoint);
/*
 * The source (fsname) of the FUSE filesystem of type subtype ("rximg")
 * mounted at mountpoint, malloc'd; NULL when nothing of that type is mounted
 * there. *read_only tells whether it is mounted read-only.
 */
char *rx_mount_source(const char *mountpoint, const char *subtype, int *read_only);

#endif
