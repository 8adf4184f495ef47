#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#if HAVE_SYS_SYSMACROS_H
#include <sys/sysmacros.h>	/* major, minor (elsewhere in sys/types.h) */
#endif

#include "lock.h"

/* The first process (other than us) with the same file open for writing. */
static pid_t other_writer(const struct stat *img, char *comm, size_t cap)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	pid_t found = 0, self = getpid();
	if (!proc)
		return 0;
	while (!found && (de = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		DIR *fds = opendir(path);
		if (!fds)
			continue;	/* not ours to look at */
		struct dirent *fe;
		while (!found && (fe = readdir(fds)) != NULL) {
			struct stat st;
			char fdpath[512], info[512];
			snprintf(fdpath, sizeof(fdpath), "/proc/%ld/fd/%s", pid, fe->d_name);
			if (fe->d_name[0] == '.' || stat(fdpath, &st) != 0 || st.st_dev != img->st_dev ||
			    st.st_ino != img->st_ino)
				continue;
			snprintf(info, sizeof(info), "/proc/%ld/fdinfo/%s", pid, fe->d_name);
			FILE *f = fopen(info, "r");
			unsigned flags = 0;
			char line[128];
			while (f && fgets(line, sizeof(line), f))
				if (sscanf(line, "flags: %o", &flags) == 1)
					break;
			if (f)
				fclose(f);
			if ((flags & O_ACCMODE) != O_RDONLY)
				found = (pid_t)pid;
		}
		closedir(fds);
	}
	closedir(proc);
	if (found) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/comm", (long)found);
		FILE *f = fopen(path, "r");
		comm[0] = 0;
		if (f && fgets(comm, (int)cap, f))
			comm[strcspn(comm, "\n")] = 0;
		if (f)
			fclose(f);
	}
	return found;
}

/* The process holding a flock on the file, from /proc/locks (0 if unknown). */
static pid_t flock_holder(const struct stat *img, char *comm, size_t cap)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[256];
	pid_t found = 0;
	while (f && !found && fgets(line, sizeof(line), f)) {
		char kind[16];
		long pid;
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(line, "%*s %15s %*s %*s %ld %x:%x:%llu", kind, &pid, &maj, &min, &ino) == 5 &&
		    !strcmp(kind, "FLOCK") && ino == (unsigned long long)img->st_ino &&
		    maj == (unsigned)major(img->st_dev) && min == (unsigned)minor(img->st_dev) && pid != getpid())
			found = (pid_t)pid;
	}
	if (f)
		fclose(f);
	comm[0] = 0;
	if (found) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/comm", (long)found);
		FILE *c = fopen(path, "r");
		if (c && fgets(comm, (int)cap, c))
			comm[strcspn(comm, "\n")] = 0;
		if (c)
			fclose(c);
	}
	return found;
}

int rx_lock_image(struct rx_ctx *ctx, int fd)
{
	struct stat st;
	char comm[64];
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			pid_t pid = fstat(fd, &st) == 0 ? flock_holder(&st, comm, sizeof(comm)) : 0;
			if (pid)
				return rx_fail(ctx, EBUSY, "in use by process %ld (%s: an rximg command or "
					       "mount); try again when it has finished", (long)pid, comm);
			return rx_fail(ctx, EBUSY, "in use by another rximg (a running command or "
				       "an rximg mount); try again when it has finished");
		}
		return rx_fail(ctx, errno, "cannot lock: %s", strerror(errno));
	}
#ifdef F_OFD_GETLK
	/* QEMU holds OFD byte-range locks from byte 100 on the images it has open. */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 200 };
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		return rx_fail(ctx, EBUSY, "in use by QEMU or another program holding a lock on it "
			       "(byte %lld); stop the VM first", (long long)fl.l_start);
#endif
	if (fstat(fd, &st) == 0) {
		pid_t pid = other_writer(&st, comm, sizeof(comm));
		if (pid)
			return rx_fail(ctx, EBUSY, "open for writing by process %ld (%s), perhaps a "
				       "mount or a VM; close it first", (long)pid, comm);
	}
	return 0;
}
