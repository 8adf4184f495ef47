/* The platform seam (see platform.h): one implementation per configure result. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#if HAVE_DECL_MADV_HUGEPAGE
#include <sys/mman.h>
#endif
#include <sys/wait.h>
#include <unistd.h>
#if HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif
#if HAVE_MALLOC_H
#include <malloc.h>
#endif
#if HAVE_LINUX_FS_H
#include <linux/fs.h>
#endif
#if HAVE_SYS_DISK_H
#include <sys/disk.h>
#endif
#if HAVE_SYS_MOUNT_H
#include <sys/mount.h>
#endif
#if HAVE_SYS_PARAM_H
#include <sys/param.h>
#endif
#if HAVE_MNTENT_H
#include <mntent.h>
#endif

#include "rx.h"

struct rx_platform_hooks rx_platform_hooks;

static int plain_fsync(int fd)
{
	if (rx_platform_hooks.fsync)
		return rx_platform_hooks.fsync(fd);
#if HAVE_DECL_FDATASYNC
	return fdatasync(fd);
#else
	return fsync(fd);
#endif
}

#if HAVE_DECL_F_FULLFSYNC
static int fcntl_full_fsync(int fd)
{
	return fcntl(fd, F_FULLFSYNC);
}
#endif

int rx_sync_fd(int fd)
{
	int (*full)(int) = rx_platform_hooks.full_fsync;
#if HAVE_DECL_F_FULLFSYNC
	if (!full)
		full = fcntl_full_fsync;
#endif
	if (full) {
		if (full(fd) == 0)
			return 0;
		/* Only a refusal (some filesystems, pipes, raw devices) falls back to fsync. */
		if (errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL)
			return -1;
	}
	return plain_fsync(fd);
}

void rx_start_writeback(int fd)
{
#if HAVE_SYNC_FILE_RANGE
	sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;	/* the final rx_sync_fd does all of it */
#endif
}

void rx_advise_willneed(int fd, uint64_t off, uint64_t len)
{
	if (rx_platform_hooks.willneed)
		rx_platform_hooks.willneed(fd, off, len);
	if (len == 0 || off > INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return;
#if HAVE_POSIX_FADVISE && HAVE_DECL_POSIX_FADV_WILLNEED
	/*
	 * Linux starts at most the larger of the device's read-ahead and its
	 * request size per call and drops the rest: ask in pieces small enough
	 * for any device, all of them before the first arrives.
	 */
	const uint64_t piece = 128u << 10;
	for (uint64_t done = 0; done < len; done += piece)
		posix_fadvise(fd, (off_t)(off + done), (off_t)RX_MIN(piece, len - done), POSIX_FADV_WILLNEED);
#elif HAVE_DECL_F_RDADVISE
	while (len > 0) {	/* ra_count is an int */
		struct radvisory ra = { (off_t)off, (int)RX_MIN(len, (uint64_t)1 << 30) };
		if (fcntl(fd, F_RDADVISE, &ra) != 0)
			return;
		off += (uint64_t)ra.ra_count;
		len -= (uint64_t)ra.ra_count;
	}
#else
	(void)fd;
#endif
}

void rx_sync_filesystem(int fd)
{
#if HAVE_SYNCFS
	syncfs(fd);
#else
	(void)fd;
	sync();	/* no per-filesystem call here: every filesystem's cache, ours among them */
#endif
}

/* ---- file times ---- */

#if HAVE_STRUCT_STAT_ST_MTIM
#define STAT_TIME(st, x) ((st)->st_##x##tim)
#elif HAVE_STRUCT_STAT_ST_MTIMESPEC
#define STAT_TIME(st, x) ((st)->st_##x##timespec)
#endif

#ifdef STAT_TIME
struct timespec rx_stat_atime(const struct stat *st) { return STAT_TIME(st, a); }
struct timespec rx_stat_mtime(const struct stat *st) { return STAT_TIME(st, m); }
struct timespec rx_stat_ctime(const struct stat *st) { return STAT_TIME(st, c); }

void rx_stat_set_times(struct stat *st, struct timespec atime, struct timespec mtime,
		       struct timespec ctime)
{
	STAT_TIME(st, a) = atime;
	STAT_TIME(st, m) = mtime;
	STAT_TIME(st, c) = ctime;
}
#else
/* Whole seconds only. */
static struct timespec secs(time_t t)
{
	struct timespec ts = { t, 0 };
	return ts;
}
struct timespec rx_stat_atime(const struct stat *st) { return secs(st->st_atime); }
struct timespec rx_stat_mtime(const struct stat *st) { return secs(st->st_mtime); }
struct timespec rx_stat_ctime(const struct stat *st) { return secs(st->st_ctime); }

void rx_stat_set_times(struct stat *st, struct timespec atime, struct timespec mtime,
		       struct timespec ctime)
{
	st->st_atime = atime.tv_sec;
	st->st_mtime = mtime.tv_sec;
	st->st_ctime = ctime.tv_sec;
}
#endif

/* ---- random bytes ---- */

int rx_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
#if HAVE_GETENTROPY
	while (len > 0) {
		size_t n = RX_MIN(len, 256);	/* getentropy's limit per call */
		if (getentropy(p, n) != 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
#else
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return 0;
#endif
}

/* ---- disks ---- */

int rx_is_disk(const struct stat *st)
{
#if HAVE_DECL_DKIOCGETBLOCKCOUNT
	/* /dev/rdiskN, the uncached twin of /dev/diskN, is a character device. */
	if (S_ISCHR(st->st_mode))
		return 1;
#endif
	return S_ISBLK(st->st_mode);
}

int rx_disk_size(int fd, uint64_t *size)
{
#if HAVE_DECL_BLKGETSIZE64
	return ioctl(fd, BLKGETSIZE64, size) < 0 ? -1 : 0;
#elif HAVE_DECL_DKIOCGETBLOCKCOUNT
	uint64_t count = 0;
	uint32_t bsize = 0;
	if (ioctl(fd, DKIOCGETBLOCKCOUNT, &count) < 0 || ioctl(fd, DKIOCGETBLOCKSIZE, &bsize) < 0)
		return -1;
	if (bsize && count > UINT64_MAX / bsize) {
		errno = EOVERFLOW;
		return -1;
	}
	*size = count * bsize;
	return 0;
#else
	off_t end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -1;
	*size = (uint64_t)end;
	return 0;
#endif
}

/* ---- copying ---- */

static int64_t copy_by_hand(int in_fd, uint64_t in_off, int out_fd, uint64_t out_off, uint64_t len)
{
	size_t cap = (size_t)RX_MIN(len, (uint64_t)1 << 20);
	uint8_t *buf = malloc(cap ? cap : 1);
	uint64_t done = 0;
	if (!buf)
		return -1;
	while (done < len) {
		ssize_t n = pread(in_fd, buf, (size_t)RX_MIN(len - done, cap), (off_t)(in_off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t w = 0; w < n;) {
			ssize_t m = pwrite(out_fd, buf + w, (size_t)(n - w), (off_t)(out_off + done + (uint64_t)w));
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0) {
				free(buf);
				return -1;
			}
			w += m;
		}
		done += (uint64_t)n;
	}
	free(buf);
	return (int64_t)done;
}

int64_t rx_copy_range(int in_fd, uint64_t in_off, int out_fd, uint64_t out_off, uint64_t len)
{
	uint64_t done = 0;
#if HAVE_COPY_FILE_RANGE
	off_t in = (off_t)in_off, out = (off_t)out_off;
	while (done < len) {
		ssize_t c = copy_file_range(in_fd, &in, out_fd, &out,
					    (size_t)RX_MIN(len - done, (uint64_t)1 << 30), 0);
		if (c < 0 && errno == EINTR)
			continue;
		if (c < 0 && done == 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
					   errno == EOPNOTSUPP || errno == ENOTSUP))
			break;	/* not between these files: copy by hand */
		if (c < 0)
			return -1;
		if (c == 0)
			return (int64_t)done;	/* end of the input */
		done += (uint64_t)c;
	}
	if (done == len)
		return (int64_t)done;
#endif
	int64_t n = copy_by_hand(in_fd, in_off + done, out_fd, out_off + done, len - done);
	return n < 0 ? -1 : (int64_t)done + n;
}

/* ---- directories ---- */

static void sort_entries(struct dirent **v, size_t n, struct dirent **tmp,
			 int (*cmp)(const struct dirent **, const struct dirent **))
{
	if (n < 2)
		return;
	size_t h = n / 2;
	sort_entries(v, h, tmp, cmp);
	sort_entries(v + h, n - h, tmp, cmp);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = cmp((const struct dirent **)&v[j], (const struct dirent **)&v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	memcpy(v, tmp, k * sizeof(*v));
}

int rx_scandir_fd(int dirfd, struct dirent ***out, int (*keep)(const struct dirent *),
		  int (*cmp)(const struct dirent **, const struct dirent **))
{
	/* A descriptor of our own: reading through dirfd would move its offset. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	struct dirent **v = NULL, *e;
	size_t n = 0, cap = 0;
	int err = 0;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (keep && !keep(e)) {
			errno = 0;
			continue;
		}
		/* d_name may be shorter than its declared size: copy what is there. */
		size_t len = offsetof(struct dirent, d_name) + strlen(e->d_name) + 1;
		struct dirent *copy = malloc(RX_MAX(len, sizeof(*copy)));
		struct dirent **grown = n == cap ? realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v)) : v;
		if (!copy || !grown) {
			free(copy);
			err = ENOMEM;
			break;
		}
		v = grown;
		memcpy(copy, e, len);
		v[n++] = copy;
		errno = 0;
	}
	if (!err && errno)
		err = errno;
	closedir(d);
	if (!err && cmp && n > 1) {
		struct dirent **tmp = malloc(n * sizeof(*tmp));
		if (tmp)
			sort_entries(v, n, tmp, cmp);
		else
			err = ENOMEM;
		free(tmp);
	}
	if (err || n > INT32_MAX) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		errno = err ? err : EOVERFLOW;
		return -1;
	}
	*out = v;
	return (int)n;
}

/* ---- processes ---- */

int rx_open_elsewhere(int fd)
{
#if HAVE_DECL_F_SETLEASE
	/*
	 * Someone opening the file while the lease is held breaks it, which sends
	 * us SIGIO, deadly by default: ignored meanwhile, such a signal is dropped
	 * (the opener waits only until the lease is given back, at once).
	 */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGIO, &ign, &old) != 0)
		return 1;
	int alone = fcntl(fd, F_SETLEASE, F_WRLCK) == 0;
	if (alone)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	sigaction(SIGIO, &old, NULL);
	return !alone;
#else
	(void)fd;
#endif
	return 1;
}

int rx_pipe_cloexec(int fds[2])
{
#if HAVE_PIPE2
	return pipe2(fds, O_CLOEXEC);
#else
	if (pipe(fds) != 0)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	return 0;
#endif
}

void rx_tune_allocator(void)
{
#if HAVE_MALLOPT && HAVE_DECL_M_MMAP_THRESHOLD
	/* Record buffers are 128 KiB: keep them on the heap, not a fresh mmap each time. */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

void rx_advise_huge_pages(void *p, size_t len)
{
#if HAVE_DECL_MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

/* ---- mounts ---- */

int rx_unmount(const char *mountpoint)
{
#if HAVE_UMOUNT2
	if (geteuid() == 0)
		return umount2(mountpoint, 0);
	/* Only fusermount3 (setuid) may unmount for a user on Linux. */
	pid_t p = fork();
	if (p == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-q", mountpoint, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	return p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) ? -1 : 0;
#elif HAVE_UNMOUNT
	return unmount(mountpoint, 0);	/* macOS lets the user who mounted unmount */
#else
	(void)mountpoint;
	errno = ENOSYS;
	return -1;
#endif
}

char *rx_mount_source(const char *mountpoint, const char *subtype, int *read_only)
{
	char *real = realpath(mountpoint, NULL), *found = NULL;
	if (!real)
		return NULL;
#if HAVE_PROC_FS
	char want[64];
	snprintf(want, sizeof(want), "fuse.%s", subtype);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192];
	while (f && !found && fgets(line, sizeof(line), f)) {
		char mp[4096], opts[1024], fstype[256], source[4096];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s %1023s", mp, opts) != 2 ||
		    sscanf(sep + 3, "%255s %4095s", fstype, source) != 2)
			continue;
		if (!strcmp(mp, real) && !strcmp(fstype, want)) {
			found = rx_xstrdup(source);
			*read_only = !strncmp(opts, "ro", 2) && (opts[2] == 0 || opts[2] == ',');
		}
	}
	if (f)
		fclose(f);
#elif HAVE_GETMNTENT && HAVE_MNTENT_H
	char want[64];
	snprintf(want, sizeof(want), "fuse.%s", subtype);
#ifdef _PATH_MOUNTED
	FILE *f = setmntent(_PATH_MOUNTED, "r");
#else
	FILE *f = setmntent("/etc/mtab", "r");
#endif
	struct mntent *m;
	while (f && !found && (m = getmntent(f)) != NULL)
		if (!strcmp(m->mnt_dir, real) && !strcmp(m->mnt_type, want)) {
			found = rx_xstrdup(m->mnt_fsname);
			*read_only = hasmntopt(m, "ro") != NULL;
		}
	if (f)
		endmntent(f);
#elif HAVE_STRUCT_STATFS_F_MNTFROMNAME
	/* macFUSE has no subtypes: any FUSE filesystem mounted exactly there, named by its fsname. */
	struct statfs sf;
	(void)subtype;
	if (statfs(real, &sf) == 0 && !strcmp(sf.f_mntonname, real) && strstr(sf.f_fstypename, "fuse")) {
		found = rx_xstrdup(sf.f_mntfromname);
		*read_only = (sf.f_flags & MNT_RDONLY) != 0;
	}
#else
	(void)subtype;
	(void)read_only;
#endif
	free(real);
	return found;
}
