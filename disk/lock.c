#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#include "lock.h"

/* ---- Who uses a file: the one platform-dependent part (configure picks it) ---- */

#if defined(HOLDER_LOOKUP_PROC)
#include <dirent.h>
#ifdef MAJOR_IN_SYSMACROS
#include <sys/sysmacros.h>
#endif

static void process_name(long pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	FILE *f = fopen(path, "r");
	buf[0] = 0;
	if (f && fgets(buf, (int)cap, f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

/*
 * The process holding a lock on the file from /proc/locks: a flock (byte < 0;
 * *exclusive tells LOCK_EX) or a byte-range lock covering byte. 0 if none is
 * listed with a pid (OFD locks show -1 on many kernels).
 */
static long lock_holder(const struct stat *st, int byte, int *exclusive)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[256];
	long found = 0, self = (long)getpid();
	while (f && !found && fgets(line, sizeof(line), f)) {
		char kind[16], mode[16], end[24];
		long pid;
		unsigned maj, min;
		unsigned long long ino, start;
		if (sscanf(line, "%*s %15s %*s %15s %ld %x:%x:%llu %llu %23s", kind, mode, &pid, &maj, &min,
			   &ino, &start, end) != 8 || ino != (unsigned long long)st->st_ino ||
		    maj != major(st->st_dev) || min != minor(st->st_dev) || pid <= 0 || pid == self)
			continue;
		if (byte < 0 ? !strcmp(kind, "FLOCK")
			     : (!strcmp(kind, "POSIX") || !strcmp(kind, "OFDLCK")) && start <= (unsigned)byte &&
				       (!strcmp(end, "EOF") || strtoull(end, NULL, 10) >= (unsigned)byte)) {
			found = pid;
			*exclusive = !strcmp(mode, "WRITE");
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* The first other process with the file open (for writing, if asked); 0 if none is seen. */
static long file_user(const struct stat *img, int for_writing)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	long found = 0, self = (long)getpid();
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
			if (!for_writing || (flags & O_ACCMODE) != O_RDONLY)
				found = pid;
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

#elif defined(HOLDER_LOOKUP_LIBPROC)
#include <libproc.h>

#ifndef FWRITE
#define FWRITE 0x0002	/* the kernel's open-file flag, as libproc reports it */
#endif

static void process_name(long pid, char *buf, size_t cap)
{
	buf[0] = 0;
	if (proc_name((int)pid, buf, (uint32_t)cap) <= 0)
		buf[0] = 0;
}

/* libproc lists open files, not locks: callers fall back to file_user(). */
static long lock_holder(const struct stat *st, int byte, int *exclusive)
{
	(void)st;
	(void)byte;
	*exclusive = 0;
	return 0;
}

/* Does pid have the file open (for writing, if asked)? */
static int has_open(int pid, const struct stat *img, int for_writing)
{
	int bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, NULL, 0);
	if (bytes <= 0)
		return 0;
	struct proc_fdinfo *fds = rx_xmalloc((size_t)bytes);
	bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds, bytes);
	int n = bytes > 0 ? bytes / (int)PROC_PIDLISTFD_SIZE : 0, found = 0;
	for (int i = 0; i < n && !found; i++) {
		struct vnode_fdinfowithpath vi;
		if (fds[i].proc_fdtype != PROX_FDTYPE_VNODE ||
		    proc_pidfdinfo(pid, fds[i].proc_fd, PROC_PIDFDVNODEPATHINFO, &vi,
				   PROC_PIDFDVNODEPATHINFO_SIZE) != PROC_PIDFDVNODEPATHINFO_SIZE)
			continue;
		found = (dev_t)vi.pvip.vip_vi.vi_stat.vst_dev == img->st_dev &&
			(ino_t)vi.pvip.vip_vi.vi_stat.vst_ino == img->st_ino &&
			(!for_writing || (vi.pfi.fi_openflags & FWRITE));
	}
	free(fds);
	return found;
}

static long file_user(const struct stat *img, int for_writing)
{
	int bytes = proc_listpids(PROC_ALL_PIDS, 0, NULL, 0);
	if (bytes <= 0)
		return 0;
	int *pids = rx_xmalloc((size_t)bytes);
	bytes = proc_listpids(PROC_ALL_PIDS, 0, pids, bytes);
	long found = 0, self = (long)getpid();
	for (int i = 0; i < bytes / (int)sizeof(int) && !found; i++)
		if (pids[i] > 0 && pids[i] != self && has_open(pids[i], img, for_writing))
			found = pids[i];
	free(pids);
	return found;
}

#else	/* no way to look: messages name no process */

static void process_name(long pid, char *buf, size_t cap)
{
	(void)pid;
	if (cap)
		buf[0] = 0;
}

static long lock_holder(const struct stat *st, int byte, int *exclusive)
{
	(void)st;
	(void)byte;
	*exclusive = 0;
	return 0;
}

static long file_user(const struct stat *img, int for_writing)
{
	(void)img;
	(void)for_writing;
	return 0;
}
#endif

/* ---- QEMU's byte-range locks ---- */

enum { QEMU_LOCK_BASE = 100, QEMU_LOCK_END = 300, QEMU_WRITE_BYTE = 101 };
/* Held by a writer: consistent read, write, resize; write and resize not shared. */
static const int writer_bytes[] = { 100, 101, 103, 201, 203 };
/*
 * Held by a reader, as QEMU holds an image it opens read-only and every
 * backing file: consistent read; write and resize not shared. So QEMU cannot
 * open the file read-write meanwhile, but may read it too.
 */
static const int reader_bytes[] = { 100, 201, 203 };
/* What a reader must find free: someone's write or resize, or someone not sharing consistent read. */
static const int reader_conflicts[] = { 101, 103, 200 };

struct byte_set {
	const int *bytes;
	size_t n;
};
static const struct byte_set writer_set = { writer_bytes, RX_ARRAY_SIZE(writer_bytes) };
static const struct byte_set reader_set = { reader_bytes, RX_ARRAY_SIZE(reader_bytes) };

#if HAVE_DECL_F_OFD_SETLK && HAVE_DECL_F_OFD_GETLK
static int no_ofd;	/* headers newer than the kernel */
#else
enum { no_ofd = 1 };
#endif

/* F_SETLK / F_GETLK, as OFD locks where the system has them. */
static int byte_lock(int fd, int get, struct flock *fl)
{
#if HAVE_DECL_F_OFD_SETLK && HAVE_DECL_F_OFD_GETLK
	if (!no_ofd) {
		fl->l_pid = 0;	/* OFD locks require it */
		int r = fcntl(fd, get ? F_OFD_GETLK : F_OFD_SETLK, fl);
		if (r == 0 || errno != EINVAL)
			return r;
		no_ofd = 1;	/* POSIX locks then, as QEMU does */
	}
#endif
	return fcntl(fd, get ? F_GETLK : F_SETLK, fl);
}

/* Set or clear every byte of the set; 0, or -1 with errno. */
static int set_locks(int fd, const struct byte_set *set, short type)
{
	for (size_t i = 0; i < set->n; i++) {
		struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = set->bytes[i], .l_len = 1 };
		if (byte_lock(fd, 0, &fl) != 0)
			return -1;
	}
	return 0;
}

/* Someone else's lock in [start, end): 1 and its first byte and pid (0 if not told). */
static int byte_locked(int fd, int start, int end, int *byte, long *pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = end - start };
	if (byte_lock(fd, 1, &fl) != 0 || fl.l_type == F_UNLCK)
		return 0;
	*byte = fl.l_start > start ? (int)fl.l_start : start;
	*pid = fl.l_pid > 0 ? (long)fl.l_pid : 0;
	return 1;
}

/* ---- Files this process has locked for writing ---- */

/* fd + 1 (0: a free slot) and the file, for locked files and for parked descriptors. */
struct held {
	int fd;
	dev_t dev;
	ino_t ino;
	const struct byte_set *set;	/* the QEMU bytes held (locked files only) */
};
static struct held held[8];
static struct held parked[32];

/* The descriptor holding our locks on that file other than fd, or -1. */
static int held_fd(const struct stat *st, int fd)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(held); i++)
		if (held[i].fd > 0 && held[i].fd != fd + 1 && held[i].dev == st->st_dev &&
		    held[i].ino == st->st_ino)
			return held[i].fd - 1;
	return -1;
}

void rx_close_file(int fd)
{
	struct stat st;
	if (fd < 0)
		return;
	if (no_ofd && fstat(fd, &st) == 0 && held_fd(&st, fd) >= 0)
		for (size_t i = 0; i < RX_ARRAY_SIZE(parked); i++)
			if (parked[i].fd <= 0) {
				parked[i] = (struct held){ fd + 1, st.st_dev, st.st_ino, NULL };
				return;
			}
	close(fd);
}

static void remember(int fd, const struct stat *st, const struct byte_set *set)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(held); i++)
		if (held[i].fd <= 0) {
			held[i] = (struct held){ fd + 1, st->st_dev, st->st_ino, set };
			return;
		}
	/* More than 8 files locked at once: their second descriptors are not parked. */
}

/* Does this process hold rx_lock_image() on that file? */
static int rx_lock_held(const struct stat *st)
{
	return held_fd(st, -1) >= 0;
}

void rx_lock_release(int fd)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(held); i++) {
		if (held[i].fd != fd + 1)
			continue;
		held[i].fd = 0;
		set_locks(fd, held[i].set, F_UNLCK);
		for (size_t k = 0; k < RX_ARRAY_SIZE(parked); k++)
			if (parked[k].fd > 0 && parked[k].dev == held[i].dev && parked[k].ino == held[i].ino) {
				close(parked[k].fd - 1);
				parked[k].fd = 0;
			}
	}
}

/* ---- Who holds what ---- */

/* probe_flock: fd holds no flock, so one may be tried on it to tell rximg apart. */
static int find_user(int fd, const struct stat *stp, int probe_flock, struct rx_lock_user *u)
{
	const struct stat st = *stp;
	memset(u, 0, sizeof(*u));
	int exclusive = 0;
	if (byte_locked(fd, QEMU_LOCK_BASE, QEMU_LOCK_END, &u->byte, &u->pid)) {
		int b;
		long p;
		u->writing = byte_locked(fd, QEMU_WRITE_BYTE, QEMU_WRITE_BYTE + 1, &b, &p);
		if (u->writing) {
			u->byte = b;
			u->pid = p ? p : u->pid;
		}
		if (!u->pid)
			u->pid = lock_holder(&st, u->byte, &exclusive);
		if (!u->pid)
			u->pid = file_user(&st, u->writing);
		if (u->pid)
			process_name(u->pid, u->name, sizeof(u->name));
		/*
		 * Unnamed: rximg's writers also hold its flock. Probing it cannot
		 * disturb anyone now, as the byte lock keeps writers out already.
		 */
		if (!u->name[0] && probe_flock && u->writing) {
			if (flock(fd, LOCK_SH | LOCK_NB) != 0)
				snprintf(u->name, sizeof(u->name), "rximg");
			else
				flock(fd, LOCK_UN);
		}
		return 1;
	}
	/* No byte lock: only a listed flock is reported (probing one could make a writer fail). */
	u->byte = -1;
	u->pid = lock_holder(&st, -1, &exclusive);
	if (!u->pid)
		return 0;
	u->writing = exclusive;
	process_name(u->pid, u->name, sizeof(u->name));
	return 1;
}

int rx_lock_user(int fd, struct rx_lock_user *u)
{
	struct stat st;
	memset(u, 0, sizeof(*u));
	if (fstat(fd, &st) != 0 || rx_lock_held(&st))
		return 0;	/* our own locks are not someone else's */
	return find_user(fd, &st, 1, u);
}

void rx_lock_user_name(const struct rx_lock_user *u, char *buf, size_t cap)
{
	int qemu = !strncmp(u->name, "qemu", 4) || !strcmp(u->name, "kvm");
	int rximg = !strcmp(u->name, "rximg");
	if (u->pid && qemu)
		snprintf(buf, cap, "QEMU (process %ld)", u->pid);
	else if (u->pid && rximg)
		snprintf(buf, cap, "another rximg (process %ld)", u->pid);
	else if (u->pid)
		snprintf(buf, cap, u->name[0] ? "process %ld (%s)" : "process %ld", u->pid, u->name);
	else if (rximg)
		snprintf(buf, cap, "another rximg");
	else
		snprintf(buf, cap, u->byte >= 0 ? "QEMU or another program" : "another program");
}

/* ---- Taking the locks ---- */

/* The refusal when rximg's flock is taken. */
static int flock_refusal(struct rx_ctx *ctx, int fd)
{
	struct stat st;
	struct rx_lock_user u = { .byte = -1 };
	char who[128];
	int exclusive = 0;
	if (fstat(fd, &st) == 0 && (u.pid = lock_holder(&st, -1, &exclusive)) == 0)
		u.pid = file_user(&st, 0);
	if (u.pid)
		process_name(u.pid, u.name, sizeof(u.name));
	/*
	 * Unnamed (no lock list on this system): QEMU takes no flock, so a flock
	 * holder that also holds QEMU's bytes is an rximg command or mount.
	 */
	int byte;
	long pid;
	if (!u.pid && byte_locked(fd, QEMU_LOCK_BASE, QEMU_LOCK_END, &byte, &pid))
		snprintf(u.name, sizeof(u.name), "rximg");
	rx_lock_user_name(&u, who, sizeof(who));
	if (!strcmp(u.name, "rximg"))
		return rx_fail(ctx, EBUSY, "in use by %s, a running command or mount; try again when "
			       "it has finished", who);
	if (!u.pid)
		return rx_fail(ctx, EBUSY, "in use by another program (perhaps a running rximg command "
			       "or mount); try again when it has finished");
	return rx_fail(ctx, EBUSY, "in use by %s, which holds a lock on it; try again when it has "
		       "finished", who);
}

int rx_lock_image_shared(struct rx_ctx *ctx, int fd)
{
	struct stat st;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return flock_refusal(ctx, fd);
		return rx_fail(ctx, errno, "cannot lock: %s", strerror(errno));
	}
	if (fstat(fd, &st) != 0)
		return rx_fail(ctx, errno, "%s", strerror(errno));
	/* As for a writer: ours first, then anyone else's that a reader cannot share the file with. */
	int taken = set_locks(fd, &reader_set, F_RDLCK) == 0, conflict = !taken && (errno == EAGAIN || errno == EACCES);
	if (!taken && !conflict)
		set_locks(fd, &reader_set, F_UNLCK);	/* no byte-range locks on this file system */
	struct rx_lock_user u = { .byte = -1 };
	for (size_t i = 0; i < RX_ARRAY_SIZE(reader_conflicts) && u.byte < 0; i++)
		byte_locked(fd, reader_conflicts[i], reader_conflicts[i] + 1, &u.byte, &u.pid);
	if (u.byte >= 0 || conflict) {
		set_locks(fd, &reader_set, F_UNLCK);
		flock(fd, LOCK_UN);
		if (u.byte < 0)
			u.byte = QEMU_WRITE_BYTE;
		u.writing = u.byte == QEMU_WRITE_BYTE;
		int exclusive;
		if (!u.pid)
			u.pid = lock_holder(&st, u.byte, &exclusive);
		if (!u.pid)
			u.pid = file_user(&st, 1);
		if (u.pid)
			process_name(u.pid, u.name, sizeof(u.name));
		char who[128];
		rx_lock_user_name(&u, who, sizeof(who));
		return rx_fail(ctx, EBUSY, "in use by %s, which may write it (it holds a lock on byte %d); stop %s "
			       "first", who, u.byte, !strncmp(who, "QEMU", 4) ? "the VM" : "it");
	}
	remember(fd, &st, &reader_set);
	return 0;
}

int rx_lock_image(struct rx_ctx *ctx, int fd)
{
	struct stat st;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return flock_refusal(ctx, fd);
		return rx_fail(ctx, errno, "cannot lock: %s", strerror(errno));
	}
	if (fstat(fd, &st) != 0)
		return rx_fail(ctx, errno, "%s", strerror(errno));
	/*
	 * As QEMU does: take ours, then look for anyone else's, so that two
	 * starting at once both see the other (and both refuse).
	 */
	int taken = set_locks(fd, &writer_set, F_RDLCK) == 0, conflict = !taken && (errno == EAGAIN || errno == EACCES);
	if (!taken && !conflict)
		set_locks(fd, &writer_set, F_UNLCK);	/* a file system without byte-range locks: QEMU has none either */
	struct rx_lock_user u;
	if ((find_user(fd, &st, 0, &u) && u.byte >= 0) || conflict) {
		if (u.byte < 0)
			u.byte = QEMU_LOCK_BASE;
		char who[128];
		set_locks(fd, &writer_set, F_UNLCK);
		rx_lock_user_name(&u, who, sizeof(who));
		int qemu = !strncmp(who, "QEMU", 4);
		return rx_fail(ctx, EBUSY, "in use by %s holding a lock on it (byte %d); stop %s first",
			       who, u.byte, qemu ? "the VM" : "it");
	}
	long pid = rx_open_elsewhere(fd) ? file_user(&st, 1) : 0;
	if (pid) {
		char name[64];
		set_locks(fd, &writer_set, F_UNLCK);
		process_name(pid, name, sizeof(name));
		return rx_fail(ctx, EBUSY, "open for writing by process %ld (%s), perhaps a mount or a VM; "
			       "close it first", pid, name);
	}
	remember(fd, &st, &writer_set);
	return 0;
}
