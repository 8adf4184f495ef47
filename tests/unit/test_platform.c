/*
 * The platform seam. With its test hooks the full-flush path (F_FULLFSYNC on
 * macOS) is taken on any host, so this checks, here too, that every flush
 * committing a transaction or a qcow2 metadata step is a full flush and none
 * bypasses it; then the fallbacks of the other seam calls.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev.h"
#include "image.h"
#include "ops.h"
#include "qcow2.h"
#include "rfs.h"
#include "tap.h"
#include "tx.h"
#include "wr.h"

static int full_calls, plain_calls, full_errno;

static int count_full(int fd)
{
	(void)fd;
	full_calls++;
	if (full_errno) {
		errno = full_errno;
		return -1;
	}
	return 0;
}

static int count_plain(int fd)
{
	(void)fd;
	plain_calls++;
	return 0;
}

/* mkdir path in the image and commit; the flushes it took, or -1. */
static int commit_mkdir(const char *image, const char *path)
{
	static struct rx_ctx ctx;
	struct rx_image *img;
	struct rfs *fs;
	struct rfs_tx *tx;
	if (rx_image_open(&ctx, image, RX_PART_AUTO, RX_DEV_RDWR, &img) != 0)
		return -1;
	int before = full_calls, r = rx_image_redoxfs(img, &fs);
	if (r == 0)
		r = rfs_tx_begin(fs, &tx);
	if (r == 0) {
		struct rfs_time t = { 1700000000, 0 };
		before = full_calls;
		r = rfs_op_mkdir(tx, path, 0755, 0, NULL, t);
		r = r ? (rfs_tx_abort(tx), r) : rfs_tx_commit(tx);
	}
	rx_image_close(img);
	if (r)
		printf("# %s: %s\n", image, ctx.msg);
	return r ? -1 : full_calls - before;
}

static int names_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int no_dots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void test_flushes(const char *dir)
{
	static struct rx_ctx ctx;
	char *raw = rx_xasprintf("%s/raw.img", dir), *ovl = rx_xasprintf("%s/top.qcow2", dir);
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct rx_dev *dev = NULL;
	struct rfs_mkfs_opts o = { .time = { 1700000000, 0 } };
	ok(fd >= 0 && ftruncate(fd, 8 << 20) == 0 && close(fd) == 0 &&
	   rx_dev_open_file(&ctx, raw, RX_DEV_RDWR, &dev) == 0 && rfs_mkfs(&ctx, dev, &o) == 0,
	   "mkfs an 8 MiB image: %s", ctx.msg);
	rx_dev_close(dev);

	rx_platform_hooks.full_fsync = count_full;
	rx_platform_hooks.fsync = count_plain;
	full_calls = plain_calls = 0;
	int n = commit_mkdir(raw, "/a");
	ok(n >= 2, "raw image: a commit takes full flushes (data, then the header): %d", n);
	ok(plain_calls == 0, "raw image: no flush bypasses the full flush (%d plain)", plain_calls);

	full_calls = plain_calls = 0;
	ok(rx_qcow2_make_overlay(&ctx, raw, ovl, ovl, 0, 0) == 0, "a qcow2 overlay on it: %s", ctx.msg);
	ok(full_calls >= 1 && plain_calls == 0, "the new qcow2 file is flushed fully (%d full, %d plain)",
	   full_calls, plain_calls);
	full_calls = plain_calls = 0;
	n = commit_mkdir(ovl, "/b");
	/* Clusters are allocated: refcounts, L2 tables and L1 are each a flushed step, then the header. */
	ok(n >= 3, "qcow2: the commit's metadata steps each take a full flush: %d", n);
	ok(plain_calls == 0, "qcow2: no flush bypasses the full flush (%d plain)", plain_calls);
	rx_platform_hooks.full_fsync = NULL;
	rx_platform_hooks.fsync = NULL;

	ok(commit_mkdir(ovl, "/c") >= 0, "without hooks the host's own flush commits too");
	unlink(raw);
	unlink(ovl);
	free(raw);
	free(ovl);
}

static void test_fallback(const char *dir)
{
	char *path = rx_xasprintf("%s/f", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	rx_platform_hooks.full_fsync = count_full;
	rx_platform_hooks.fsync = count_plain;
	full_calls = plain_calls = 0;
	full_errno = ENOTSUP;
	ok(rx_sync_fd(fd) == 0 && full_calls == 1 && plain_calls == 1,
	   "a refused full flush falls back to fsync");
	full_errno = EIO;
	full_calls = plain_calls = 0;
	errno = 0;
	ok(rx_sync_fd(fd) == -1 && errno == EIO && plain_calls == 0,
	   "a failing full flush is an error, not hidden by a plain fsync");
	full_errno = 0;
	rx_platform_hooks.full_fsync = NULL;
	rx_platform_hooks.fsync = NULL;
	ok(rx_sync_fd(fd) == 0, "the host's flush works on a file");
	close(fd);
	unlink(path);
	free(path);
}

static void test_copy(const char *dir)
{
	char *a = rx_xasprintf("%s/in", dir), *b = rx_xasprintf("%s/out", dir);
	int in = open(a, O_RDWR | O_CREAT | O_TRUNC, 0644), out = open(b, O_RDWR | O_CREAT | O_TRUNC, 0644);
	size_t len = 3 << 20;
	uint8_t *buf = rx_xmalloc(len), *got = rx_xcalloc(1, len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 12));
	ok(pwrite(in, buf, len, 0) == (ssize_t)len, "write 3 MiB of input");
	ok(rx_copy_range(in, 100, out, 5000, len - 100) == (int64_t)(len - 100) &&
	   pread(out, got, len - 100, 5000) == (ssize_t)(len - 100) && memcmp(got, buf + 100, len - 100) == 0,
	   "copy a range between offsets");
	ok(rx_copy_range(in, len - 10, out, 0, 1000) == 10, "a copy past the end of the input is short");
	ok(rx_copy_range(-1, 0, out, 0, 10) == -1 && errno == EBADF, "a bad descriptor is an error");
	close(in);
	close(out);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
	free(buf);
	free(got);
}

static void test_scandir(const char *dir)
{
	static const char *names[] = { "zeta", "alpha", ".hidden", "mid" };
	for (size_t i = 0; i < RX_ARRAY_SIZE(names); i++) {
		char *p = rx_xasprintf("%s/%s", dir, names[i]);
		close(open(p, O_WRONLY | O_CREAT, 0644));
		free(p);
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	struct dirent **ents;
	int n = rx_scandir_fd(fd, &ents, no_dots, names_cmp);
	ok(n == 3 && !strcmp(ents[0]->d_name, "alpha") && !strcmp(ents[1]->d_name, "mid") &&
	   !strcmp(ents[2]->d_name, "zeta"), "scandir: filtered and sorted (%d entries)", n);
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	n = rx_scandir_fd(fd, &ents, NULL, NULL);
	ok(n == 6, "scandir: every entry, dots included, and dirfd is not used up (%d)", n);
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	close(fd);
	ok(rx_scandir_fd(fd, &ents, NULL, NULL) == -1 && errno == EBADF, "scandir: a closed descriptor fails");
	for (size_t i = 0; i < RX_ARRAY_SIZE(names); i++) {
		char *p = rx_xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
}

/* Read-ahead hints as the host sees them: (fd, offset, length), merged where they touch. */
static struct hint { int fd; uint64_t off, len; } hints[64];
static size_t nhints;

static void record_hint(int fd, uint64_t off, uint64_t len)
{
	if (nhints && hints[nhints - 1].fd == fd && hints[nhints - 1].off + hints[nhints - 1].len == off) {
		hints[nhints - 1].len += len;	/* the platform asks in pieces */
		return;
	}
	if (nhints < RX_ARRAY_SIZE(hints))
		hints[nhints++] = (struct hint){ fd, off, len };
}

static int hinted(int fd, uint64_t off, uint64_t len)
{
	for (size_t i = 0; i < nhints; i++)
		if (hints[i].fd == fd && hints[i].off == off && hints[i].len == len)
			return 1;
	return 0;
}

/*
 * A hint reaches the host file at the right place through every layer: a
 * raw file as it is, a slice shifted by its offset, a qcow2 image cluster by
 * cluster onto its host clusters (none for what it does not hold), and what
 * an overlay does not hold onto its backing file.
 */
static void test_advise(const char *dir)
{
	static struct rx_ctx ctx;
	const uint64_t cs = 64 << 10, mib = 1 << 20;
	char *raw = rx_xasprintf("%s/base.raw", dir), *qc = rx_xasprintf("%s/top.qcow2", dir);
	uint8_t *buf = rx_xmalloc(cs);
	int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ok(fd >= 0 && ftruncate(fd, 4 * mib) == 0, "a 4 MiB raw base");
	close(fd);
	struct rx_dev *base = NULL, *slice = NULL, *top = NULL;
	rx_platform_hooks.willneed = record_hint;
	nhints = 0;
	ok(rx_dev_open_file(&ctx, raw, RX_DEV_RDONLY, &base) == 0, "open the raw file");
	rx_dev_advise(base, 8192, 3 * cs);
	ok(nhints == 1 && hinted(base->fd, 8192, 3 * cs), "raw: the hint as asked");
	nhints = 0;
	rx_dev_advise(base, 4 * mib - 4096, cs);
	ok(nhints == 1 && hinted(base->fd, 4 * mib - 4096, 4096), "raw: cut at the end of the file");
	nhints = 0;
	ok(rx_dev_open_slice(base, mib, mib, "slice", &slice) == 0, "a slice from 1 MiB");
	rx_dev_advise(slice, 4096, 8192);
	ok(nhints == 1 && hinted(base->fd, mib + 4096, 8192), "slice: shifted by its offset");
	rx_dev_close(slice);
	rx_dev_close(base);

	struct rx_qcow2_create_opts o = { 4 * mib, 16, raw, "raw" };
	fd = open(qc, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ok(fd >= 0 && rx_qcow2_create_fd(&ctx, fd, &o) == 0, "a qcow2 overlay on the raw base");
	close(fd);
	ok(rx_dev_open_file(&ctx, qc, RX_DEV_RDWR, &top) == 0, "open the overlay");
	/* Guest clusters 2 and 3 written (out of order), then cluster 40. */
	memset(buf, 0xab, cs);
	ok(rx_dev_write(top, buf, cs, 3 * cs) == 0 && rx_dev_write(top, buf, cs, 2 * cs) == 0 &&
	   rx_dev_write(top, buf, cs, 40 * cs) == 0 && rx_dev_flush(top) == 0, "write three clusters");
	uint64_t h2 = 0, h3 = 0, h40 = 0;
	const struct rx_dev *file = rx_qcow2_file(top);
	/* Where they landed: found by content, as the host file holds them in order of writing. */
	for (uint64_t off = 0; off + cs <= file->size; off += cs) {
		uint8_t first;
		if (pread(file->fd, &first, 1, (off_t)off) == 1 && first == 0xab)
			*(h3 == 0 ? &h3 : h2 == 0 ? &h2 : &h40) = off;
	}
	nhints = 0;
	rx_dev_advise(top, 2 * cs + 4096, 2 * cs - 4096);
	ok(h2 && h3 && h40, "the clusters are in the host file (%llu, %llu, %llu)", (unsigned long long)h2,
	   (unsigned long long)h3, (unsigned long long)h40);
	ok(nhints == 2 && hinted(file->fd, h2 + 4096, cs - 4096) && hinted(file->fd, h3, cs),
	   "qcow2: each piece at its host cluster (%zu hints)", nhints);
	nhints = 0;
	rx_dev_advise(top, 39 * cs, 3 * cs);
	struct rx_dev *back = rx_qcow2_backing(top);
	ok(nhints == 3 && hinted(file->fd, h40, cs) && back && hinted(back->fd, 39 * cs, cs) &&
	   hinted(back->fd, 41 * cs, cs), "qcow2: what the overlay lacks goes to the backing file (%zu hints)",
	   nhints);
	rx_dev_close(top);
	rx_platform_hooks.willneed = NULL;
	unlink(raw);
	unlink(qc);
	free(raw);
	free(qc);
	free(buf);
}

/* Never a wrong "no one else": a second descriptor, here or in a child, is always seen. */
static void test_open_elsewhere(const char *dir)
{
	char *path = rx_xasprintf("%s/lease", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	ok(fd >= 0, "a file to ask about");
	int alone = rx_open_elsewhere(fd), leases = 0;
#if HAVE_DECL_F_SETLEASE
	/* Whether this filesystem grants leases to us at all (overlay and network ones may not). */
	leases = fcntl(fd, F_SETLEASE, F_WRLCK) == 0;
	if (leases)
		fcntl(fd, F_SETLEASE, F_UNLCK);
#endif
	if (leases)
		ok(alone == 0, "open once: no one else has it (the lease was granted)");
	else
		ok(alone == 1, "no leases here: always maybe");
	int rd = open(path, O_RDONLY);
	ok(rd >= 0 && rx_open_elsewhere(fd) == 1, "open a second time for reading: maybe");
	close(rd);
	int wr = open(path, O_WRONLY);
	ok(wr >= 0 && rx_open_elsewhere(fd) == 1, "open a second time for writing: maybe");
	close(wr);
	int sync_pipe[2];
	ok(pipe(sync_pipe) == 0, "a pipe to the child");
	pid_t child = fork();
	if (child == 0) {
		int cfd = open(path, O_RDONLY);
		char c = cfd >= 0 ? 'y' : 'n';
		close(fd);
		if (write(sync_pipe[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c = 0;
	ok(read(sync_pipe[0], &c, 1) == 1 && c == 'y', "a child opened it");
	ok(rx_open_elsewhere(fd) == 1, "open in another process: maybe");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	if (leases) {
		ok(rx_open_elsewhere(fd) == 0, "once the others are closed: no one else again");
		/* The lease is given back: another open does not wait for it to be broken. */
		time_t t0 = time(NULL);
		int again = open(path, O_RDWR);
		ok(again >= 0 && time(NULL) - t0 < 2, "no lease is left behind to break");
		close(again);
		/* Another process opening the file while the lease is held must not kill us (SIGIO). */
		pid_t parent = getpid(), opener = fork();
		if (opener == 0) {
			while (getppid() == parent)	/* a killed parent must not leave us looping */
				close(open(path, O_RDONLY));
			_exit(0);
		}
		int answers = 0;
		for (int i = 0; i < 20000; i++)
			answers += rx_open_elsewhere(fd) == 1;
		kill(opener, SIGKILL);
		waitpid(opener, NULL, 0);
		ok(1, "20000 asks while another process opens the file over and over: alive (%d maybe)", answers);
	} else {
		tap_skip("no leases on %s: the answer is always maybe", dir);
	}
	close(fd);
	unlink(path);
	free(path);
}

int main(void)
{
	char dir[] = "/tmp/rximg-test-platform-XXXXXX";
	if (!mkdtemp(dir))
		return 99;
	test_flushes(dir);
	test_fallback(dir);
	test_copy(dir);
	test_scandir(dir);
	test_advise(dir);
	test_open_elsewhere(dir);

	uint8_t r1[600] = { 0 }, r2[600] = { 0 };
	ok(rx_random_bytes(r1, sizeof(r1)) == 0 && rx_random_bytes(r2, sizeof(r2)) == 0 &&
	   !rx_is_zero(r1, sizeof(r1)) && memcmp(r1, r2, sizeof(r1)) != 0, "random bytes, more than 256 at once");

	struct stat st;
	memset(&st, 0, sizeof(st));
	struct timespec a = { 10, 1 }, m = { 20, 2 }, c = { 30, 3 };
	rx_stat_set_times(&st, a, m, c);
	ok(rx_stat_atime(&st).tv_sec == 10 && rx_stat_mtime(&st).tv_sec == 20 && rx_stat_ctime(&st).tv_sec == 30,
	   "file times round-trip through struct stat");

	/* A hint only: the memory reads as zeros and holds what is written, advised or not. */
	size_t hlen = 2 * RX_HUGE_PAGE_BYTES;
	uint8_t *hmem = rx_xcalloc(hlen + RX_HUGE_PAGE_BYTES, 1);
	uint8_t *huge = (uint8_t *)(((uintptr_t)hmem + RX_HUGE_PAGE_BYTES - 1) &
				    ~(uintptr_t)(RX_HUGE_PAGE_BYTES - 1));
	rx_advise_huge_pages(huge, hlen);
	int zero = rx_is_zero(huge, hlen);
	for (size_t i = 0; i < hlen; i += 4096)
		huge[i] = (uint8_t)(i >> 12 | 1);
	int kept = 1;
	for (size_t i = 0; i < hlen; i += 4096)
		kept &= huge[i] == (uint8_t)(i >> 12 | 1) && huge[i + 1] == 0;
	ok(zero && kept, "memory advised for huge pages reads as zeros and keeps what is written");
	free(hmem);

	int p[2];
	ok(rx_pipe_cloexec(p) == 0 && (fcntl(p[0], F_GETFD) & FD_CLOEXEC) && (fcntl(p[1], F_GETFD) & FD_CLOEXEC),
	   "a pipe whose ends close on exec");
	close(p[0]);
	close(p[1]);

	ok(RX_ECORRUPT != RX_ENOKEY && RX_ENOKEY != RX_ENOTENCRYPTED && RX_ECORRUPT != RX_ENOTENCRYPTED &&
	   RX_ECORRUPT != EIO, "rximg's error codes are distinct");
	rmdir(dir);
	return tap_done();
}
