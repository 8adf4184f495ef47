/*
 * The locks QEMU checks, seen from another process: taken by rx_lock_image(),
 * kept when the image file is opened and closed a second time (POSIX locks
 * would go with any close), gone after rx_lock_release().
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lock.h"
#include "tap.h"

/* Is byte b of path locked, as another process (QEMU) sees it? */
static int locked_elsewhere(const char *path, int b)
{
	pid_t p = fork();
	if (p == 0) {
		int fd = open(path, O_RDONLY);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = b, .l_len = 1 };
		if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
			_exit(2);
		_exit(fl.l_type != F_UNLCK);
	}
	int st = 0;
	return p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

int main(void)
{
	static struct rx_ctx ctx;
	char path[] = "/tmp/rximg-test-lock-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		return 99;
	ok(locked_elsewhere(path, 101) == 0, "a new file is not locked");
	ok(rx_lock_image(&ctx, fd) == 0, "rx_lock_image: %s", ctx.msg);
	static const int bytes[] = { 100, 101, 103, 201, 203 };
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++)
		ok(locked_elsewhere(path, bytes[i]) == 1, "byte %d is locked", bytes[i]);
	ok(locked_elsewhere(path, 102) == 0, "byte 102 is not");

	int again = open(path, O_RDONLY);
	ok(again >= 0, "the image opens a second time");
	rx_close_file(again);
	ok(locked_elsewhere(path, 101) == 1, "closing the second descriptor keeps the locks");
	struct rx_lock_user u;
	ok(rx_lock_user(fd, &u) == 0, "our own locks are not someone else's");

	rx_lock_release(fd);
	ok(locked_elsewhere(path, 101) == 0 && locked_elsewhere(path, 201) == 0, "released");
	close(fd);

	/* Another holder: its lock names it. */
	int other = open(path, O_RDONLY);
	pid_t holder = fork();
	if (holder == 0) {
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 101, .l_len = 1 };
		if (fcntl(other, F_SETLK, &fl) != 0)
			_exit(1);
		pause();
		_exit(0);
	}
	int seen = 0;
	for (int i = 0; i < 200 && !(seen = locked_elsewhere(path, 101) == 1); i++)
		usleep(10000);
	int fd2 = open(path, O_RDWR);
	ok(seen && rx_lock_user(fd2, &u) == 1 && u.writing && u.byte == 101,
	   "a POSIX lock on byte 101 is a writer");
	ok(u.pid == 0 || u.pid == holder, "named by its pid (%ld) when told", u.pid);
	ok(rx_lock_image(&ctx, fd2) != 0 && strstr(ctx.msg, "byte 101"), "writing is refused: %s", ctx.msg);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	close(fd2);
	close(other);
	unlink(path);
	return tap_done();
}
