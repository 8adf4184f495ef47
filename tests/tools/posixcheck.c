/*
 * posixcheck [-a UID:GID] DIR: POSIX behaviour of the filesystem DIR lies on, as TAP.
 *
 * For each system call: every error the standard specifies that a filesystem
 * can produce, the results a successful call must leave (modes, owners, link
 * counts, contents) and the times it must mark for update. Runs as root, which
 * makes the fixtures (files of other users among them); with -a the calls under
 * test are made by that user (a child switched to UID:GID, with one
 * supplementary group), without it by root. Each case states what the acting
 * user must get, so the same cases check root's privileges and an ordinary
 * user's limits. Ends with the counts per system call and in total.
 *
 * Linux-only calls (renameat2) are isolated in rename2() and skipped elsewhere;
 * where Linux does what POSIX leaves to the implementation (set-id bits on
 * chown by root) the case says so and runs on Linux only.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "platform.h"

/* Ids of the users the fixtures belong to; they need no passwd entry. */
#define OTHER_UID 65533u
#define OTHER_GID 65533u
#define SUPP_GID 65532u	/* the acting user's supplementary group */
#define NAME_MAX_RFS 252	/* RedoxFS: names of 1 to 252 bytes */

enum who { ACTOR, OTHER, ROOT };

static uid_t actor_uid;
static gid_t actor_gid;
static int acting_as_user;	/* -a given: calls run in a child as actor_uid */
static int root_acts;		/* the acting user is root */

/* ---- TAP and the counts per system call ---- */

struct tally {
	const char *name;
	int run, passed, skipped;
};
static struct tally tallies[32];
static int ntallies, tap_n;
static char setup_msg[512];	/* a fixture that could not be made fails the next case */

static struct tally *tally_of(const char *sys)
{
	for (int i = 0; i < ntallies; i++)
		if (!strcmp(tallies[i].name, sys))
			return &tallies[i];
	if (ntallies == (int)(sizeof(tallies) / sizeof(tallies[0])))
		abort();
	tallies[ntallies].name = sys;
	return &tallies[ntallies++];
}

static void report(const char *sys, int good, const char *fmt, va_list ap, const char *why)
{
	struct tally *t = tally_of(sys);
	char desc[600];
	vsnprintf(desc, sizeof(desc), fmt, ap);
	t->run++;
	if (setup_msg[0]) {
		good = 0;
		why = setup_msg;
	}
	if (good)
		t->passed++;
	printf("%sok %d - %s: %s\n", good ? "" : "not ", ++tap_n, sys, desc);
	if (!good && why && why[0])
		printf("#   %s\n", why);
	setup_msg[0] = 0;
	fflush(stdout);
}

static void check(const char *sys, int good, const char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(sys, good, fmt, ap, why);
	va_end(ap);
}

static void skip(const char *sys, const char *reason, const char *fmt, ...)
{
	char desc[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	tally_of(sys)->skipped++;
	printf("ok %d - %s: %s # SKIP %s\n", ++tap_n, sys, desc, reason);
	setup_msg[0] = 0;
}

static void setup_failed(const char *what, const char *path)
{
	if (!setup_msg[0])
		snprintf(setup_msg, sizeof(setup_msg), "setup: %s %s: %s", what, path, strerror(errno));
}

/* ---- names ---- */

static char names[2048][NAME_MAX_RFS + 64];
static int nnames;

/* A fresh name below dir: fmt is printf-like (a prefix, a path made from earlier names...). */
static const char *P(const char *fmt, ...)
{
	if (nnames == (int)(sizeof(names) / sizeof(names[0])))
		abort();
	char *s = names[nnames++];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, sizeof(names[0]), fmt, ap);
	va_end(ap);
	return s;
}

static int seq;
static const char *fresh(const char *dir)
{
	return P("%s/n%d", dir, ++seq);
}

/* dir/ followed by a name of len bytes. */
static const char *long_name(const char *dir, size_t len)
{
	char n[NAME_MAX_RFS + 8];
	memset(n, 'a' + (char)(seq++ % 26), len);
	n[len] = 0;
	return P("%s/%s", dir, n);
}

/* ---- fixtures, made by root and then given to their owner ---- */

static uid_t uid_of(enum who w)
{
	return w == ACTOR ? actor_uid : w == OTHER ? OTHER_UID : 0;
}

static gid_t gid_of(enum who w)
{
	return w == ACTOR ? actor_gid : w == OTHER ? OTHER_GID : 0;
}

static void give(const char *p, enum who owner, gid_t gid, mode_t mode, int is_link)
{
	if ((is_link ? lchown(p, uid_of(owner), gid) : chown(p, uid_of(owner), gid)) != 0)
		setup_failed("chown", p);
	else if (!is_link && chmod(p, mode) != 0)	/* after chown, which may clear set-id bits */
		setup_failed("chmod", p);
}

static const char *mkfile_g(const char *p, mode_t mode, enum who owner, gid_t gid, const char *data)
{
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0600);
	if (fd < 0) {
		setup_failed("create", p);
		return p;
	}
	if (data && write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		setup_failed("write", p);
	close(fd);
	give(p, owner, gid, mode, 0);
	return p;
}

static const char *mkfile(const char *p, mode_t mode, enum who owner, const char *data)
{
	return mkfile_g(p, mode, owner, gid_of(owner), data);
}

static const char *mkdir_g(const char *p, mode_t mode, enum who owner, gid_t gid)
{
	if (mkdir(p, 0700) != 0)
		setup_failed("mkdir", p);
	else
		give(p, owner, gid, mode, 0);
	return p;
}

static const char *mkdir_(const char *p, mode_t mode, enum who owner)
{
	return mkdir_g(p, mode, owner, gid_of(owner));
}

/* A symlink to target, which lies in the same directory (the link holds its last component). */
static const char *mklink(const char *target, const char *p, enum who owner)
{
	const char *slash = strrchr(target, '/');
	if (symlink(slash ? slash + 1 : target, p) != 0)
		setup_failed("symlink", p);
	else
		give(p, owner, gid_of(owner), 0, 1);
	return p;
}

static struct stat st_of(const char *p)
{
	struct stat st;
	if (lstat(p, &st) != 0) {
		memset(&st, 0, sizeof(st));
		st.st_nlink = (nlink_t)-1;
	}
	return st;
}

static int exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	return a.tv_sec != b.tv_sec ? (a.tv_sec < b.tv_sec ? -1 : 1)
				    : (a.tv_nsec != b.tv_nsec ? (a.tv_nsec < b.tv_nsec ? -1 : 1) : 0);
}

static struct timespec now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* Time passes between a snapshot and the call, beyond the coarsest clock a kernel stamps with. */
static void nap(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* ---- the calls under test ---- */

enum kind {
	CHMOD, CHOWN, LCHOWN, LINK, UNLINK, RENAME, RENAME2, MKDIR, RMDIR, OPEN, SYMLINK, READLINK,
	TRUNCATE, FTRUNCATE, UTIMENS, WRITE, MKNOD, BIND, STATP
};

struct op {
	enum kind k;
	const char *a, *b;
	long long n;		/* mode, length, flags of open */
	unsigned flags;
	uid_t uid;
	gid_t gid;
	const struct timespec *ts;	/* utimensat's times (NULL: now) */
};

#define OP(...) (&(struct op){ __VA_ARGS__ })

#ifdef __linux__
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1u << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1u << 1)
#endif
#endif

/* renameat2 (Linux only): -1 with ENOSYS elsewhere, and the callers skip. */
static int rename2(const char *from, const char *to, unsigned flags)
{
#if defined(__linux__) && defined(SYS_renameat2)
	return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
	(void)from;
	(void)to;
	(void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

static int have_rename2(void)
{
#if defined(__linux__) && defined(SYS_renameat2)
	return 1;
#else
	return 0;
#endif
}

/* 0 or the errno of the call. */
static int do_op(const struct op *o)
{
	int r = -1, fd;
	char buf[64];
	errno = 0;
	switch (o->k) {
	case CHMOD: r = chmod(o->a, (mode_t)o->n); break;
	case CHOWN: r = chown(o->a, o->uid, o->gid); break;
	case LCHOWN: r = lchown(o->a, o->uid, o->gid); break;
	case LINK: r = link(o->a, o->b); break;
	case UNLINK: r = unlink(o->a); break;
	case RENAME: r = rename(o->a, o->b); break;
	case RENAME2: r = rename2(o->a, o->b, o->flags); break;
	case MKDIR: r = mkdir(o->a, (mode_t)o->n); break;
	case RMDIR: r = rmdir(o->a); break;
	case OPEN:
		fd = open(o->a, (int)o->n, 0666);
		r = fd < 0 ? -1 : close(fd);
		break;
	case SYMLINK: r = symlink(o->a, o->b); break;
	case READLINK: r = readlink(o->a, buf, sizeof(buf)) < 0 ? -1 : 0; break;
	case TRUNCATE: r = truncate(o->a, (off_t)o->n); break;
	case FTRUNCATE:
		fd = open(o->a, (int)o->flags);
		if (fd >= 0) {
			r = ftruncate(fd, (off_t)o->n);
			int e = errno;
			close(fd);
			errno = e;
		}
		break;
	case UTIMENS: r = utimensat(AT_FDCWD, o->a, o->ts, (int)o->flags); break;
	case WRITE:
		fd = open(o->a, O_WRONLY | O_APPEND);
		if (fd >= 0) {
			r = write(fd, "w", 1) == 1 ? 0 : -1;
			int e = errno;
			close(fd);
			errno = e;
		}
		break;
	case MKNOD: r = mknod(o->a, (mode_t)o->n, 0); break;
	case BIND: {
		struct sockaddr_un sa;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", o->a);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0) {
			r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
			int e = errno;
			close(fd);
			errno = e;
		}
		break;
	}
	case STATP: {
		struct stat st;
		r = lstat(o->a, &st);
		break;
	}
	}
	return r == 0 ? 0 : errno ? errno : EIO;
}

/* The call as the acting user: itself when root acts, else in a child that became the user. */
static int act(const struct op *o)
{
	if (!acting_as_user)
		return do_op(o);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		gid_t groups[2] = { actor_gid, SUPP_GID };
		if (setgroups(2, groups) != 0 || setgid(actor_gid) != 0 || setuid(actor_uid) != 0)
			_exit(255);
		int e = do_op(o);
		_exit(e > 254 ? 254 : e);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
		return -1;
	return WEXITSTATUS(status);
}

static const char *err_name(int e)
{
	static char buf[64];
	switch (e) {
	case 0: return "success";
	case -1: return "(the acting user could not be switched to)";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	default:
		snprintf(buf, sizeof(buf), "errno %d (%s)", e, strerror(e));
		return buf;
	}
}

/* The call must give want (0 or an errno), or alt when the standard allows two (-1: none). */
static int expect2(const char *sys, const struct op *o, int want, int alt, const char *fmt, ...)
{
	int got = setup_msg[0] ? -2 : act(o);
	char why[200];
	if (alt >= 0)
		snprintf(why, sizeof(why), "expected %s or %s, got %s", err_name(want), err_name(alt),
			 got == -2 ? "-" : err_name(got));
	else
		snprintf(why, sizeof(why), "expected %s, got %s", err_name(want), err_name(got));
	va_list ap;
	va_start(ap, fmt);
	report(sys, got == want || (alt >= 0 && got == alt), fmt, ap, why);
	va_end(ap);
	return got;
}

#define EXPECT(sys, op, want, ...) expect2(sys, op, want, -1, __VA_ARGS__)
/* What root may do and the user may not: 0 for root, e for the user. */
#define PRIV(e) (root_acts ? 0 : (e))

static char whybuf[300];
static const char *why(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(whybuf, sizeof(whybuf), fmt, ap);
	va_end(ap);
	return whybuf;
}

/* The status-change time (and, for a directory, the modification time) moved on. */
static void check_ctime(const char *sys, const char *p, struct stat before, const char *what)
{
	struct stat after = st_of(p);
	check(sys, ts_cmp(rx_stat_ctime(&after), rx_stat_ctime(&before)) > 0,
	      why("ctime %lld.%09ld -> %lld.%09ld", (long long)rx_stat_ctime(&before).tv_sec,
		  rx_stat_ctime(&before).tv_nsec, (long long)rx_stat_ctime(&after).tv_sec,
		  rx_stat_ctime(&after).tv_nsec), "%s updates the ctime of %s", what, p);
}

static void check_mctime(const char *sys, const char *p, struct stat before, const char *what)
{
	struct stat after = st_of(p);
	check(sys, ts_cmp(rx_stat_mtime(&after), rx_stat_mtime(&before)) > 0,
	      why("mtime %lld.%09ld -> %lld.%09ld", (long long)rx_stat_mtime(&before).tv_sec,
		  rx_stat_mtime(&before).tv_nsec, (long long)rx_stat_mtime(&after).tv_sec,
		  rx_stat_mtime(&after).tv_nsec), "%s updates the mtime of %s", what, p);
	check_ctime(sys, p, before, what);
}

/* A call that failed changed no time of p. */
static void check_unchanged(const char *sys, const char *p, struct stat before, const char *what)
{
	struct stat after = st_of(p);
	check(sys, ts_cmp(rx_stat_mtime(&after), rx_stat_mtime(&before)) == 0 &&
		 ts_cmp(rx_stat_ctime(&after), rx_stat_ctime(&before)) == 0, "a time of it moved",
	      "a failed %s leaves the mtime and ctime of %s alone", what, p);
}

static void check_mode(const char *sys, const char *p, mode_t want, const char *what)
{
	mode_t got = st_of(p).st_mode & 07777;
	check(sys, got == want, why("mode %04o, expected %04o", (unsigned)got, (unsigned)want), "%s", what);
}

static void check_owner(const char *sys, const char *p, uid_t uid, gid_t gid, const char *what)
{
	struct stat st = st_of(p);
	check(sys, st.st_uid == uid && st.st_gid == gid,
	      why("owner %u:%u, expected %u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)uid,
		  (unsigned)gid), "%s", what);
}

static void check_gone(const char *sys, const char *p, const char *what)
{
	check(sys, !exists(p), why("%s still exists", p), "%s", what);
}

/*
 * Path errors every call taking a path must give (mk builds the op for a path);
 * root_gets: what root gets for an existing file below a directory others may not search.
 */
static void path_errors(const char *sys, const char *dir, struct op (*mk)(const char *p), int root_gets)
{
	const char *f = mkfile(fresh(dir), 0644, ACTOR, NULL);
	struct op o;
	o = mk(P("%s/missing", dir));
	EXPECT(sys, &o, ENOENT, "ENOENT for a name that does not exist");
	o = mk(P("%s/missing/x", dir));
	EXPECT(sys, &o, ENOENT, "ENOENT for a path through a missing directory");
	o = mk(P("%s/x", f));
	EXPECT(sys, &o, ENOTDIR, "ENOTDIR for a path through a regular file");
	o = mk(long_name(dir, NAME_MAX_RFS + 1));
	EXPECT(sys, &o, ENAMETOOLONG, "ENAMETOOLONG for a %d-byte name", NAME_MAX_RFS + 1);
	const char *l1 = fresh(dir), *l2 = fresh(dir);
	mklink(l2, l1, ACTOR);
	mklink(l1, l2, ACTOR);
	o = mk(P("%s/x", l1));
	EXPECT(sys, &o, ELOOP, "ELOOP for a path through a symlink loop");
	const char *closed = mkdir_(fresh(dir), 0700, OTHER);
	mkfile(P("%s/f", closed), 0666, OTHER, NULL);
	o = mk(P("%s/f", closed));
	EXPECT(sys, &o, root_acts ? root_gets : EACCES, "%s for a file below a directory others may not search",
	       root_acts ? err_name(root_gets) : "EACCES");
}

/* With the names sorted out: path_errors builds ops for these. */
static struct op mk_chmod(const char *p) { return (struct op){ .k = CHMOD, .a = p, .n = 0600 }; }
static struct op mk_chown(const char *p) { return (struct op){ .k = CHOWN, .a = p, .uid = (uid_t)-1, .gid = (gid_t)-1 }; }
static struct op mk_unlink(const char *p) { return (struct op){ .k = UNLINK, .a = p }; }
static struct op mk_rmdir(const char *p) { return (struct op){ .k = RMDIR, .a = p }; }
static struct op mk_truncate(const char *p) { return (struct op){ .k = TRUNCATE, .a = p, .n = 1 }; }
static struct op mk_readlink(const char *p) { return (struct op){ .k = READLINK, .a = p }; }
static struct op mk_utimens(const char *p) { return (struct op){ .k = UTIMENS, .a = p }; }
static struct op mk_open(const char *p) { return (struct op){ .k = OPEN, .a = p, .n = O_RDONLY }; }

static const char *gname;	/* the directory of the current group of cases */

static const char *group(const char *name)
{
	gname = mkdir_(P("%s", name), 0755, ACTOR);
	return gname;
}

/* ---- chmod ---- */

static void t_chmod(void)
{
	const char *S = "chmod", *d = group("chmod");
	const char *f = mkfile(fresh(d), 0644, ACTOR, NULL);
	struct stat before = st_of(f);
	nap();
	EXPECT(S, OP(.k = CHMOD, .a = f, .n = 0751), 0, "the owner changes a file's mode");
	check_mode(S, f, 0751, "the new mode is stored");
	check_ctime(S, f, before, "chmod");
	const char *sd = mkdir_(fresh(d), 0755, ACTOR);
	EXPECT(S, OP(.k = CHMOD, .a = sd, .n = 01777), 0, "the owner sets the sticky bit of a directory");
	check_mode(S, sd, 01777, "a directory keeps mode 1777");
	const char *sl = mklink(f, fresh(d), ACTOR);
	EXPECT(S, OP(.k = CHMOD, .a = sl, .n = 0640), 0, "chmod follows a symlink");
	check_mode(S, f, 0640, "the symlink's target got the mode");
	check(S, (st_of(sl).st_mode & 0777) == 0777, why("the link's mode is %04o", st_of(sl).st_mode & 07777),
	      "the symlink itself keeps 0777");
	const char *of = mkfile(fresh(d), 0644, OTHER, NULL);
	before = st_of(of);
	nap();
	EXPECT(S, OP(.k = CHMOD, .a = of, .n = 0666), PRIV(EPERM), "%s on another user's file",
	       root_acts ? "root may chmod" : "EPERM");
	if (!root_acts)
		check_unchanged(S, of, before, "chmod");
	check_mode(S, of, root_acts ? 0666 : 0644, "the file's mode is what the call says");
	/* S_ISGID: the caller must be in the file's group (or privileged), or the bit goes. */
	const char *gf = mkfile_g(fresh(d), 0755, ACTOR, OTHER_GID, NULL);
	EXPECT(S, OP(.k = CHMOD, .a = gf, .n = 02755), 0, "the owner sets S_ISGID on a file of another group");
	check_mode(S, gf, root_acts ? 02755 : 0755,
		   root_acts ? "root keeps S_ISGID" : "S_ISGID is cleared: the owner is not in the file's group");
	const char *gs = mkfile_g(fresh(d), 0755, ACTOR, SUPP_GID, NULL);
	EXPECT(S, OP(.k = CHMOD, .a = gs, .n = 02755), 0, "the owner sets S_ISGID on a file of its supplementary group");
	check_mode(S, gs, 02755, "S_ISGID stays (the owner is in the group)");
	EXPECT(S, OP(.k = CHMOD, .a = f, .n = 04755), 0, "the owner sets S_ISUID");
	check_mode(S, f, 04755, "S_ISUID is stored");
	path_errors(S, d, mk_chmod, 0);
}

/* ---- chown, and set-id bits cleared by chown and by writes ---- */

static void t_chown(void)
{
	const char *S = "chown", *d = group("chown");
	const char *f = mkfile(fresh(d), 0644, ACTOR, NULL);
	struct stat before = st_of(f);
	nap();
	EXPECT(S, OP(.k = CHOWN, .a = f, .uid = OTHER_UID, .gid = OTHER_GID), PRIV(EPERM),
	       "%s a file to another user", root_acts ? "root gives" : "EPERM: the owner may not give");
	check_owner(S, f, root_acts ? OTHER_UID : actor_uid, root_acts ? OTHER_GID : actor_gid,
		    "the owner is what the call says");
	if (root_acts)
		check_ctime(S, f, before, "chown");
	const char *g = mkfile(fresh(d), 0644, ACTOR, NULL);
	before = st_of(g);
	nap();
	EXPECT(S, OP(.k = CHOWN, .a = g, .uid = (uid_t)-1, .gid = SUPP_GID), 0,
	       "the owner changes the group to a supplementary group of its own");
	check_owner(S, g, actor_uid, SUPP_GID, "the new group is stored, the owner kept");
	check_ctime(S, g, before, "chown (the group)");
	EXPECT(S, OP(.k = CHOWN, .a = g, .uid = (uid_t)-1, .gid = OTHER_GID), PRIV(EPERM),
	       "%s to a group the caller is not in", root_acts ? "root changes the group" : "EPERM");
	EXPECT(S, OP(.k = CHOWN, .a = g, .uid = actor_uid, .gid = (gid_t)-1), 0,
	       "chown to the owner it already has succeeds");
	const char *of = mkfile(fresh(d), 0644, OTHER, NULL);
	EXPECT(S, OP(.k = CHOWN, .a = of, .uid = (uid_t)-1, .gid = actor_gid), PRIV(EPERM),
	       "%s another user's file to the caller's group", root_acts ? "root changes" : "EPERM: nobody else changes");
	check_owner(S, of, OTHER_UID, root_acts ? actor_gid : OTHER_GID, "the group is what the call says");

	/* Set-id bits of a non-directory go when the owner or group changes (POSIX: without privilege). */
	const char *s1 = mkfile(fresh(d), 06755, ACTOR, NULL);
	EXPECT(S, OP(.k = CHOWN, .a = s1, .uid = (uid_t)-1, .gid = SUPP_GID), 0, "chgrp of a 6755 file");
#ifdef __linux__
	check_mode(S, s1, 0755, "S_ISUID and S_ISGID are cleared by chown (for root too, on Linux)");
#else
	if (root_acts)
		skip(S, "for root, implementation-defined", "set-id bits after chown by root");
	else
		check_mode(S, s1, 0755, "S_ISUID and S_ISGID are cleared by chown without privilege");
#endif
	const char *s2 = mkfile(fresh(d), 02745, ACTOR, NULL);	/* S_ISGID without group execute: a lock mark */
	EXPECT(S, OP(.k = CHOWN, .a = s2, .uid = (uid_t)-1, .gid = SUPP_GID), 0, "chgrp of a 2745 file");
	check_mode(S, s2, 02745, "S_ISGID without group execute (mandatory-locking mark) stays");
	const char *sd = mkdir_(fresh(d), 02755, ACTOR);
	EXPECT(S, OP(.k = CHOWN, .a = sd, .uid = (uid_t)-1, .gid = SUPP_GID), 0, "chgrp of a 2755 directory");
	check_mode(S, sd, 02755, "a directory keeps S_ISGID through chown");

	const char *t = mkfile(fresh(d), 0644, ACTOR, NULL);
	const char *sl = mklink(t, fresh(d), ACTOR);
	EXPECT(S, OP(.k = LCHOWN, .a = sl, .uid = (uid_t)-1, .gid = SUPP_GID), 0, "lchown of a symlink");
	check_owner(S, sl, actor_uid, SUPP_GID, "lchown changed the symlink");
	check_owner(S, t, actor_uid, actor_gid, "lchown left the target alone");
	EXPECT(S, OP(.k = CHOWN, .a = sl, .uid = (uid_t)-1, .gid = SUPP_GID), 0, "chown through a symlink");
	check_owner(S, t, actor_uid, SUPP_GID, "chown changed the target");
	path_errors(S, d, mk_chown, 0);

	/* Writes and truncation by a caller without privilege clear S_ISUID (and S_ISGID with g+x). */
	const char *W = "write";
	const char *w1 = mkfile(fresh(d), 06777, OTHER, "data");
	EXPECT(W, OP(.k = WRITE, .a = w1), 0, "another user writes to a 6777 file");
#ifdef __linux__
	check_mode(W, w1, root_acts ? 06777 : 0777,
		   root_acts ? "a writer with privilege (root) keeps the set-id bits (Linux)"
			     : "a write by a non-owner clears S_ISUID and S_ISGID");
#else
	if (root_acts)
		skip(W, "for root, implementation-defined", "set-id bits after a write by root");
	else
		check_mode(W, w1, 0777, "a write by a non-owner clears S_ISUID and S_ISGID");
#endif
	const char *w2 = mkfile(fresh(d), 04766, OTHER, "data");
	EXPECT(W, OP(.k = TRUNCATE, .a = w2, .n = 1), 0, "another user truncates a 4766 file");
	if (root_acts)
		skip(W, "for root, implementation-defined", "set-id bits after truncate by root");
	else
		check_mode(W, w2, 0766, "truncate by a non-owner clears S_ISUID");
	/* (Of a group the writer is in: kernels differ on the bit for outsiders.) */
	const char *w3 = mkfile_g(fresh(d), 02764, OTHER, SUPP_GID, "data");
	EXPECT(W, OP(.k = WRITE, .a = w3), 0, "another user of the file's group writes to a 2764 file");
	check_mode(W, w3, 02764, "S_ISGID without group execute stays after a write");
	const char *w4 = mkfile(fresh(d), 0644, ACTOR, "data");
	before = st_of(w4);
	nap();
	EXPECT(W, OP(.k = WRITE, .a = w4), 0, "the owner appends a byte");
	check(W, st_of(w4).st_size == 5, why("size %lld", (long long)st_of(w4).st_size), "the size grew by one");
	check_mctime(W, w4, before, "write");
}

/* ---- link ---- */

static void t_link(void)
{
	const char *S = "link", *d = group("link");
	const char *f = mkfile(fresh(d), 0644, ACTOR, "x");
	const char *l = fresh(d);
	struct stat before = st_of(f), dbefore = st_of(d);
	nap();
	EXPECT(S, OP(.k = LINK, .a = f, .b = l), 0, "a second name for a file");
	struct stat a = st_of(f), b = st_of(l);
	check(S, a.st_ino == b.st_ino && a.st_nlink == 2 && b.st_nlink == 2,
	      why("ino %llu/%llu nlink %u/%u", (unsigned long long)a.st_ino, (unsigned long long)b.st_ino,
		  (unsigned)a.st_nlink, (unsigned)b.st_nlink), "both names show one node with nlink 2");
	check_ctime(S, f, before, "link");
	check_mctime(S, d, dbefore, "link");
	const char *dir = mkdir_(fresh(d), 0755, ACTOR);
	EXPECT(S, OP(.k = LINK, .a = f, .b = l), EEXIST, "EEXIST when the new name is a file");
	EXPECT(S, OP(.k = LINK, .a = f, .b = dir), EEXIST, "EEXIST when the new name is a directory");
	const char *dang = mklink("nowhere", fresh(d), ACTOR);
	EXPECT(S, OP(.k = LINK, .a = f, .b = dang), EEXIST, "EEXIST when the new name is a dangling symlink");
	EXPECT(S, OP(.k = LINK, .a = dir, .b = fresh(d)), EPERM, "EPERM for a directory");
	EXPECT(S, OP(.k = LINK, .a = P("%s/missing", d), .b = fresh(d)), ENOENT, "ENOENT for a missing file");
	EXPECT(S, OP(.k = LINK, .a = f, .b = P("%s/missing/x", d)), ENOENT, "ENOENT for a missing target directory");
	EXPECT(S, OP(.k = LINK, .a = f, .b = P("%s/x", f)), ENOTDIR, "ENOTDIR for a target path through a file");
	EXPECT(S, OP(.k = LINK, .a = f, .b = long_name(d, NAME_MAX_RFS + 1)), ENAMETOOLONG,
	       "ENAMETOOLONG for a %d-byte new name", NAME_MAX_RFS + 1);
	const char *ln = long_name(d, NAME_MAX_RFS);
	EXPECT(S, OP(.k = LINK, .a = f, .b = ln), 0, "a %d-byte new name", NAME_MAX_RFS);
	check(S, st_of(f).st_nlink == 3, why("nlink %u", (unsigned)st_of(f).st_nlink), "nlink counts 3 names");
	const char *od = mkdir_(fresh(d), 0755, OTHER);
	EXPECT(S, OP(.k = LINK, .a = f, .b = P("%s/l", od)), PRIV(EACCES),
	       "%s in a directory the caller may not write", root_acts ? "root links" : "EACCES");
	const char *sl = mklink("nowhere", fresh(d), ACTOR);
	const char *sl2 = fresh(d);
	EXPECT(S, OP(.k = LINK, .a = sl, .b = sl2), 0, "a link to a dangling symlink (the link itself)");
	check(S, S_ISLNK(st_of(sl2).st_mode) && st_of(sl).st_nlink == 2, "not a second symlink name",
	      "the new name is the symlink, nlink 2");
}

/* ---- unlink ---- */

static void t_unlink(void)
{
	const char *S = "unlink", *d = group("unlink");
	const char *f = mkfile(fresh(d), 0644, ACTOR, "x");
	struct stat dbefore = st_of(d);
	nap();
	EXPECT(S, OP(.k = UNLINK, .a = f), 0, "the only name of a file");
	check_gone(S, f, "the name is gone");
	check_mctime(S, d, dbefore, "unlink");
	const char *h1 = mkfile(fresh(d), 0644, ACTOR, "x"), *h2 = fresh(d);
	if (link(h1, h2) != 0)
		setup_failed("link", h2);
	struct stat before = st_of(h2);
	nap();
	EXPECT(S, OP(.k = UNLINK, .a = h1), 0, "one of two names");
	check(S, st_of(h2).st_nlink == 1, why("nlink %u", (unsigned)st_of(h2).st_nlink), "the other name has nlink 1");
	check_ctime(S, h2, before, "unlink of another name");
	const char *t = mkfile(fresh(d), 0644, ACTOR, "x"), *sl = mklink(t, fresh(d), ACTOR);
	EXPECT(S, OP(.k = UNLINK, .a = sl), 0, "a symlink");
	check(S, !exists(sl) && exists(t), "", "the symlink went, its target stays");
	const char *sd = mkdir_(fresh(d), 0755, ACTOR);
	expect2(S, OP(.k = UNLINK, .a = sd), EISDIR, EPERM, "a directory: EISDIR (Linux) or EPERM (POSIX)");
	path_errors(S, d, mk_unlink, 0);
	const char *od = mkdir_(fresh(d), 0755, OTHER);
	const char *of = mkfile(P("%s/f", od), 0666, OTHER, NULL);
	EXPECT(S, OP(.k = UNLINK, .a = of), PRIV(EACCES), "%s in a directory the caller may not write",
	       root_acts ? "root unlinks" : "EACCES");
	/* Sticky directories: only the owner of the file or of the directory (or root) removes. */
	const char *st = mkdir_(fresh(d), 01777, OTHER);
	const char *sf = mkfile(P("%s/other", st), 0666, OTHER, NULL);
	expect2(S, OP(.k = UNLINK, .a = sf), PRIV(EPERM), root_acts ? -1 : EACCES,
		"%s another user's file in another user's sticky directory",
		root_acts ? "root unlinks" : "EPERM (or EACCES) for");
	const char *mf = mkfile(P("%s/mine", st), 0644, ACTOR, NULL);
	EXPECT(S, OP(.k = UNLINK, .a = mf), 0, "the caller's own file in another user's sticky directory");
	const char *mst = mkdir_(fresh(d), 01777, ACTOR);
	const char *of2 = mkfile(P("%s/other", mst), 0644, OTHER, NULL);
	EXPECT(S, OP(.k = UNLINK, .a = of2), 0, "another user's file in the caller's sticky directory");
	/* An open file keeps its data until closed. */
	const char *o = mkfile(fresh(d), 0644, ACTOR, "kept");
	int fd = open(o, O_RDONLY);
	if (fd < 0)
		setup_failed("open", o);
	EXPECT(S, OP(.k = UNLINK, .a = o), 0, "a file that is open");
	char buf[8] = { 0 };
	struct stat fst;
	int ok = fd >= 0 && pread(fd, buf, sizeof(buf), 0) == 4 && !memcmp(buf, "kept", 4) &&
		 fstat(fd, &fst) == 0 && fst.st_nlink == 0;
	check(S, ok, "read or fstat through the descriptor failed", "the open file still reads, with nlink 0");
	if (fd >= 0)
		close(fd);
}

/* ---- rename and renameat2 ---- */

static void t_rename(void)
{
	const char *S = "rename", *d = group("rename");
	const char *a = mkfile(fresh(d), 0644, ACTOR, "a"), *b = fresh(d);
	ino_t ino = st_of(a).st_ino;
	struct stat before = st_of(a), dbefore = st_of(d);
	nap();
	EXPECT(S, OP(.k = RENAME, .a = a, .b = b), 0, "a file to a new name");
	check(S, !exists(a) && st_of(b).st_ino == ino, "", "the old name is gone, the new one is the same node");
	check_mctime(S, d, dbefore, "rename");
	check_ctime(S, b, before, "rename (of the moved node: POSIX allows it, Linux and the mount do it)");
	const char *d2 = mkdir_(fresh(d), 0755, ACTOR);
	const char *c = mkfile(fresh(d), 0644, ACTOR, "c"), *c2 = P("%s/c", d2);
	struct stat d1b = st_of(d), d2b = st_of(d2);
	nap();
	EXPECT(S, OP(.k = RENAME, .a = c, .b = c2), 0, "a file into another directory");
	check_mctime(S, d, d1b, "rename out of a directory");
	check_mctime(S, d2, d2b, "rename into a directory");
	/* Over an existing file: the target's node loses a name. */
	const char *src = mkfile(fresh(d), 0644, ACTOR, "src"), *dst = mkfile(fresh(d), 0644, ACTOR, "dst");
	const char *dst2 = fresh(d);
	if (link(dst, dst2) != 0)
		setup_failed("link", dst2);
	ino = st_of(src).st_ino;
	EXPECT(S, OP(.k = RENAME, .a = src, .b = dst), 0, "a file over another file");
	check(S, st_of(dst).st_ino == ino && !exists(src), "", "the target name now names the source's node");
	check(S, st_of(dst2).st_nlink == 1, why("nlink %u", (unsigned)st_of(dst2).st_nlink),
	      "the replaced node's other name has nlink 1");
	const char *e1 = mkdir_(fresh(d), 0755, ACTOR), *e2 = mkdir_(fresh(d), 0755, ACTOR);
	mkfile(P("%s/inside", e1), 0644, ACTOR, NULL);
	ino = st_of(e1).st_ino;
	EXPECT(S, OP(.k = RENAME, .a = e1, .b = e2), 0, "a directory over an empty directory");
	check(S, st_of(e2).st_ino == ino && exists(P("%s/inside", e2)), "", "the target is the moved directory");
	const char *n1 = mkdir_(fresh(d), 0755, ACTOR), *n2 = mkdir_(fresh(d), 0755, ACTOR);
	mkfile(P("%s/x", n2), 0644, ACTOR, NULL);
	expect2(S, OP(.k = RENAME, .a = n1, .b = n2), ENOTEMPTY, EEXIST,
		"ENOTEMPTY (or EEXIST) for a directory over a non-empty one");
	check(S, exists(n1) && exists(P("%s/x", n2)), "", "both stay as they were");
	const char *ff = mkfile(fresh(d), 0644, ACTOR, NULL), *dd = mkdir_(fresh(d), 0755, ACTOR);
	EXPECT(S, OP(.k = RENAME, .a = ff, .b = dd), EISDIR, "EISDIR for a file over a directory");
	EXPECT(S, OP(.k = RENAME, .a = dd, .b = ff), ENOTDIR, "ENOTDIR for a directory over a file");
	const char *sub = mkdir_(P("%s/sub", dd), 0755, ACTOR);
	EXPECT(S, OP(.k = RENAME, .a = dd, .b = P("%s/x", sub)), EINVAL, "EINVAL for a directory into itself");
	const char *h1 = mkfile(fresh(d), 0644, ACTOR, NULL), *h2 = fresh(d);
	if (link(h1, h2) != 0)
		setup_failed("link", h2);
	EXPECT(S, OP(.k = RENAME, .a = h1, .b = h2), 0, "two names of one node: nothing happens");
	check(S, exists(h1) && exists(h2) && st_of(h1).st_nlink == 2, "", "both names stay, nlink 2");
	EXPECT(S, OP(.k = RENAME, .a = P("%s/missing", d), .b = fresh(d)), ENOENT, "ENOENT for a missing source");
	EXPECT(S, OP(.k = RENAME, .a = ff, .b = P("%s/missing/x", d)), ENOENT, "ENOENT for a missing target directory");
	EXPECT(S, OP(.k = RENAME, .a = ff, .b = P("%s/x", ff)), ENOTDIR, "ENOTDIR for a target path through a file");
	EXPECT(S, OP(.k = RENAME, .a = ff, .b = long_name(d, NAME_MAX_RFS + 1)), ENAMETOOLONG,
	       "ENAMETOOLONG for a %d-byte new name", NAME_MAX_RFS + 1);
	const char *ln = long_name(d, NAME_MAX_RFS);
	EXPECT(S, OP(.k = RENAME, .a = ff, .b = ln), 0, "to a %d-byte name", NAME_MAX_RFS);
	const char *od = mkdir_(fresh(d), 0755, OTHER);
	const char *of = mkfile(P("%s/f", od), 0644, OTHER, NULL);
	EXPECT(S, OP(.k = RENAME, .a = of, .b = fresh(d)), PRIV(EACCES),
	       "%s out of a directory the caller may not write", root_acts ? "root moves" : "EACCES");
	const char *mine = mkfile(fresh(d), 0644, ACTOR, NULL);
	EXPECT(S, OP(.k = RENAME, .a = mine, .b = P("%s/g", od)), PRIV(EACCES),
	       "%s into a directory the caller may not write", root_acts ? "root moves" : "EACCES");
	/* Moving a directory to a new parent rewrites its "..": write permission on it is needed. */
	const char *odir = mkdir_(fresh(d), 0755, OTHER);
	EXPECT(S, OP(.k = RENAME, .a = odir, .b = P("%s/moved", d2)), PRIV(EACCES),
	       "%s another user's 0755 directory to a new parent", root_acts ? "root moves" : "EACCES moving");
	const char *st = mkdir_(fresh(d), 01777, OTHER);
	const char *sf = mkfile(P("%s/f", st), 0666, OTHER, NULL);
	expect2(S, OP(.k = RENAME, .a = sf, .b = fresh(d)), PRIV(EPERM), root_acts ? -1 : EACCES,
		"%s another user's file out of a sticky directory", root_acts ? "root moves" : "EPERM (or EACCES) moving");
	const char *sv = mkfile(P("%s/victim", st), 0666, OTHER, NULL);
	const char *m2 = mkfile(fresh(d), 0644, ACTOR, NULL);
	expect2(S, OP(.k = RENAME, .a = m2, .b = sv), PRIV(EPERM), root_acts ? -1 : EACCES,
		"%s another user's file in a sticky directory", root_acts ? "root replaces" : "EPERM (or EACCES) replacing");
	const char *m3 = mkfile(fresh(d), 0644, ACTOR, NULL);
	EXPECT(S, OP(.k = RENAME, .a = m3, .b = P("%s/mine", st)), 0, "into another user's sticky directory");
	EXPECT(S, OP(.k = RENAME, .a = P("%s/mine", st), .b = P("%s/mine2", st)), 0,
	       "the caller's own file within a sticky directory");

	if (!have_rename2()) {
		skip("renameat2", "renameat2 is Linux-only", "RENAME_NOREPLACE and RENAME_EXCHANGE");
		return;
	}
#ifdef __linux__
	S = "renameat2";
	const char *x = mkfile(fresh(d), 0644, ACTOR, "x"), *y = mkfile(fresh(d), 0644, ACTOR, "y");
	ino_t ix = st_of(x).st_ino, iy = st_of(y).st_ino;
	struct stat xdb = st_of(d), xb = st_of(x);
	nap();
	EXPECT(S, OP(.k = RENAME2, .a = x, .b = y, .flags = RENAME_NOREPLACE), EEXIST,
	       "RENAME_NOREPLACE: EEXIST over an existing file");
	check_unchanged(S, d, xdb, "RENAME_NOREPLACE");
	check_unchanged(S, x, xb, "RENAME_NOREPLACE");
	check(S, st_of(x).st_ino == ix && st_of(y).st_ino == iy, "", "RENAME_NOREPLACE: both names unchanged");
	const char *z = fresh(d);
	EXPECT(S, OP(.k = RENAME2, .a = x, .b = z, .flags = RENAME_NOREPLACE), 0, "RENAME_NOREPLACE to a new name");
	check(S, !exists(x) && st_of(z).st_ino == ix, "", "RENAME_NOREPLACE moved the file");
	struct stat zb = st_of(z), yb = st_of(y);
	nap();
	EXPECT(S, OP(.k = RENAME2, .a = z, .b = y, .flags = RENAME_EXCHANGE), 0, "RENAME_EXCHANGE of two files");
	check(S, st_of(z).st_ino == iy && st_of(y).st_ino == ix, "", "RENAME_EXCHANGE swapped the nodes");
	check_ctime(S, z, yb, "RENAME_EXCHANGE");
	(void)zb;
	const char *ed = mkdir_(fresh(d), 0755, ACTOR);
	const char *ef = mkfile(P("%s/f", d2), 0644, ACTOR, NULL);
	ino_t ied = st_of(ed).st_ino, ief = st_of(ef).st_ino;
	struct stat d2x = st_of(d2);
	nap();
	EXPECT(S, OP(.k = RENAME2, .a = ed, .b = ef, .flags = RENAME_EXCHANGE), 0,
	       "RENAME_EXCHANGE of a directory and a file in another directory");
	check(S, st_of(ed).st_ino == ief && S_ISREG(st_of(ed).st_mode) && st_of(ef).st_ino == ied &&
		 S_ISDIR(st_of(ef).st_mode), "", "RENAME_EXCHANGE swapped them across directories");
	check_mctime(S, d2, d2x, "RENAME_EXCHANGE");
	EXPECT(S, OP(.k = RENAME2, .a = y, .b = fresh(d), .flags = RENAME_EXCHANGE), ENOENT,
	       "RENAME_EXCHANGE: ENOENT when the other name is missing");
	EXPECT(S, OP(.k = RENAME2, .a = y, .b = z, .flags = RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL,
	       "EINVAL for RENAME_EXCHANGE with RENAME_NOREPLACE");
	const char *xs = mkdir_(fresh(d), 01777, OTHER);
	const char *xo = mkfile(P("%s/o", xs), 0666, OTHER, NULL);
	const char *xm = mkfile(fresh(d), 0644, ACTOR, NULL);
	expect2(S, OP(.k = RENAME2, .a = xm, .b = xo, .flags = RENAME_EXCHANGE), PRIV(EPERM), root_acts ? -1 : EACCES,
		"%s with another user's file in a sticky directory",
		root_acts ? "root exchanges" : "RENAME_EXCHANGE: EPERM (or EACCES)");
#endif
}

/* ---- mkdir and rmdir ---- */

static void t_mkdir(void)
{
	const char *S = "mkdir", *d = group("mkdir");
	const char *n = fresh(d);
	struct stat dbefore = st_of(d);
	nap();
	EXPECT(S, OP(.k = MKDIR, .a = n, .n = 0777), 0, "a new directory");
	struct stat st = st_of(n);
	check(S, S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755, why("mode %06o", (unsigned)st.st_mode),
	      "it is a directory of mode 0777 & ~umask 022");
	check_owner(S, n, actor_uid, actor_gid, "it belongs to the caller");
	check_mctime(S, d, dbefore, "mkdir");
	const char *f = mkfile(fresh(d), 0644, ACTOR, NULL);
	EXPECT(S, OP(.k = MKDIR, .a = f, .n = 0755), EEXIST, "EEXIST for an existing file");
	EXPECT(S, OP(.k = MKDIR, .a = n, .n = 0755), EEXIST, "EEXIST for an existing directory");
	const char *dang = mklink("nowhere", fresh(d), ACTOR);
	EXPECT(S, OP(.k = MKDIR, .a = dang, .n = 0755), EEXIST, "EEXIST for a dangling symlink");
	check(S, !exists(P("%s/nowhere", d)), "", "nothing was made where the symlink points");
	EXPECT(S, OP(.k = MKDIR, .a = P("%s/missing/x", d), .n = 0755), ENOENT, "ENOENT for a missing parent");
	EXPECT(S, OP(.k = MKDIR, .a = P("%s/x", f), .n = 0755), ENOTDIR, "ENOTDIR for a path through a file");
	EXPECT(S, OP(.k = MKDIR, .a = long_name(d, NAME_MAX_RFS + 1), .n = 0755), ENAMETOOLONG,
	       "ENAMETOOLONG for a %d-byte name", NAME_MAX_RFS + 1);
	const char *ln = long_name(d, NAME_MAX_RFS);
	EXPECT(S, OP(.k = MKDIR, .a = ln, .n = 0755), 0, "a %d-byte name", NAME_MAX_RFS);
	check(S, S_ISDIR(st_of(ln).st_mode), "", "the %d-byte name is there", NAME_MAX_RFS);
	const char *od = mkdir_(fresh(d), 0755, OTHER);
	EXPECT(S, OP(.k = MKDIR, .a = P("%s/x", od), .n = 0755), PRIV(EACCES),
	       "%s in a directory the caller may not write", root_acts ? "root makes one" : "EACCES");
	const char *cd = mkdir_(fresh(d), 0700, OTHER);
	EXPECT(S, OP(.k = MKDIR, .a = P("%s/x", cd), .n = 0755), PRIV(EACCES),
	       "%s below a directory the caller may not search", root_acts ? "root makes one" : "EACCES");
	/* A set-group-ID directory passes its group on, and the bit to new directories. */
	const char *sg = mkdir_g(fresh(d), 02777, OTHER, OTHER_GID);
	const char *sgd = P("%s/d", sg), *sgf = P("%s/f", sg);
	EXPECT(S, OP(.k = MKDIR, .a = sgd, .n = 0755), 0, "in a set-group-ID directory");
	check(S, st_of(sgd).st_gid == OTHER_GID && (st_of(sgd).st_mode & 02000),
	      why("gid %u mode %04o", (unsigned)st_of(sgd).st_gid, st_of(sgd).st_mode & 07777),
	      "the new directory has the parent's group and S_ISGID");
	EXPECT(S, OP(.k = OPEN, .a = sgf, .n = O_CREAT | O_WRONLY), 0, "a file in a set-group-ID directory");
	check(S, st_of(sgf).st_gid == OTHER_GID, why("gid %u", (unsigned)st_of(sgf).st_gid),
	      "the new file has the parent's group");

	S = "rmdir";
	d = group("rmdir");
	const char *e = mkdir_(fresh(d), 0755, ACTOR);
	dbefore = st_of(d);
	nap();
	EXPECT(S, OP(.k = RMDIR, .a = e), 0, "an empty directory");
	check_gone(S, e, "it is gone");
	check_mctime(S, d, dbefore, "rmdir");
	const char *ne = mkdir_(fresh(d), 0755, ACTOR);
	mkfile(P("%s/f", ne), 0644, ACTOR, NULL);
	dbefore = st_of(d);
	nap();
	expect2(S, OP(.k = RMDIR, .a = ne), ENOTEMPTY, EEXIST, "ENOTEMPTY (or EEXIST) for a non-empty directory");
	check_unchanged(S, d, dbefore, "rmdir");
	if (unlink(P("%s/f", ne)) != 0)
		setup_failed("unlink", ne);
	EXPECT(S, OP(.k = RMDIR, .a = ne), 0, "a directory emptied again");
	const char *dt = mkdir_(fresh(d), 0755, ACTOR);
	mkdir_(P("%s/sub", dt), 0755, ACTOR);
	expect2(S, OP(.k = RMDIR, .a = dt), ENOTEMPTY, EEXIST, "ENOTEMPTY (or EEXIST) for a directory holding one");
	EXPECT(S, OP(.k = RMDIR, .a = P("%s/sub/.", dt)), EINVAL, "EINVAL for a path ending in \".\"");
	expect2(S, OP(.k = RMDIR, .a = P("%s/sub/..", dt)), ENOTEMPTY, EEXIST, "ENOTEMPTY (or EEXIST) for \"..\"");
	const char *f2 = mkfile(fresh(d), 0644, ACTOR, NULL);
	EXPECT(S, OP(.k = RMDIR, .a = f2), ENOTDIR, "ENOTDIR for a file");
	const char *sl = mklink(dt, fresh(d), ACTOR);
	EXPECT(S, OP(.k = RMDIR, .a = sl), ENOTDIR, "ENOTDIR for a symlink to a directory");
	path_errors(S, d, mk_rmdir, ENOTDIR);
	const char *od2 = mkdir_(fresh(d), 0755, OTHER);
	mkdir_(P("%s/x", od2), 0777, OTHER);
	EXPECT(S, OP(.k = RMDIR, .a = P("%s/x", od2)), PRIV(EACCES), "%s in a directory the caller may not write",
	       root_acts ? "root removes" : "EACCES");
	const char *sk = mkdir_(fresh(d), 01777, OTHER);
	mkdir_(P("%s/x", sk), 0777, OTHER);
	expect2(S, OP(.k = RMDIR, .a = P("%s/x", sk)), PRIV(EPERM), root_acts ? -1 : EACCES,
		"%s another user's directory in a sticky directory", root_acts ? "root removes" : "EPERM (or EACCES) for");
	mkdir_(P("%s/mine", sk), 0755, ACTOR);
	EXPECT(S, OP(.k = RMDIR, .a = P("%s/mine", sk)), 0, "the caller's own directory in a sticky directory");
}

/* ---- open ---- */

static void t_open(void)
{
	const char *S = "open", *d = group("open");
	const char *n = fresh(d);
	struct stat dbefore = st_of(d);
	struct timespec t0 = now();
	nap();
	EXPECT(S, OP(.k = OPEN, .a = n, .n = O_CREAT | O_EXCL | O_WRONLY), 0, "O_CREAT|O_EXCL makes a new file");
	struct stat st = st_of(n);
	check(S, S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644 && st.st_size == 0,
	      why("mode %06o size %lld", (unsigned)st.st_mode, (long long)st.st_size),
	      "a regular, empty file of mode 0666 & ~umask 022");
	check_owner(S, n, actor_uid, actor_gid, "it belongs to the caller");
	check(S, ts_cmp(rx_stat_mtime(&st), t0) > 0 && ts_cmp(rx_stat_ctime(&st), t0) > 0 &&
		 ts_cmp(rx_stat_atime(&st), t0) > 0, "", "its times are the time of creation");
	check_mctime(S, d, dbefore, "O_CREAT");
	EXPECT(S, OP(.k = OPEN, .a = n, .n = O_CREAT | O_EXCL | O_WRONLY), EEXIST, "O_CREAT|O_EXCL: EEXIST for a file");
	const char *dd = mkdir_(fresh(d), 0755, ACTOR);
	EXPECT(S, OP(.k = OPEN, .a = dd, .n = O_CREAT | O_EXCL | O_RDONLY), EEXIST, "O_CREAT|O_EXCL: EEXIST for a directory");
	const char *dang = mklink(P("%s/target", d), fresh(d), ACTOR);
	EXPECT(S, OP(.k = OPEN, .a = dang, .n = O_CREAT | O_EXCL | O_WRONLY), EEXIST,
	       "O_CREAT|O_EXCL: EEXIST for a dangling symlink");
	check(S, !exists(P("%s/target", d)), "", "O_CREAT|O_EXCL did not follow the symlink");
	EXPECT(S, OP(.k = OPEN, .a = dang, .n = O_CREAT | O_WRONLY), 0, "O_CREAT through a dangling symlink");
	check(S, S_ISREG(st_of(P("%s/target", d)).st_mode), "", "the symlink's target was made");
	const char *e = mkfile(fresh(d), 0600, ACTOR, "data");
	EXPECT(S, OP(.k = OPEN, .a = e, .n = O_CREAT | O_WRONLY), 0, "O_CREAT of an existing file opens it");
	check_mode(S, e, 0600, "its mode is unchanged");
	check(S, st_of(e).st_size == 4, "", "its content is unchanged");
	struct stat before = st_of(e);
	nap();
	EXPECT(S, OP(.k = OPEN, .a = e, .n = O_WRONLY | O_TRUNC), 0, "O_TRUNC of a file with data");
	check(S, st_of(e).st_size == 0, why("size %lld", (long long)st_of(e).st_size), "O_TRUNC emptied it");
	check_mctime(S, e, before, "O_TRUNC");
	before = st_of(e);
	nap();
	EXPECT(S, OP(.k = OPEN, .a = e, .n = O_WRONLY | O_TRUNC), 0, "O_TRUNC of an empty file");
	check_mctime(S, e, before, "O_TRUNC of an empty file");
	const char *ro = mkfile(fresh(d), 0444, ACTOR, "data");
	EXPECT(S, OP(.k = OPEN, .a = ro, .n = O_WRONLY | O_TRUNC), PRIV(EACCES), "%s O_TRUNC of a 0444 file",
	       root_acts ? "root may" : "EACCES for");
	check(S, st_of(ro).st_size == (root_acts ? 0 : 4), "", "the content is what the call says");
	const char *wo = mkfile(fresh(d), 0200, ACTOR, NULL);
	EXPECT(S, OP(.k = OPEN, .a = wo, .n = O_RDONLY), PRIV(EACCES), "%s reading the owner's 0200 file",
	       root_acts ? "root may" : "EACCES for");
	const char *sec = mkfile(fresh(d), 0600, OTHER, NULL);
	EXPECT(S, OP(.k = OPEN, .a = sec, .n = O_RDONLY), PRIV(EACCES), "%s reading another user's 0600 file",
	       root_acts ? "root may" : "EACCES for");
	const char *pub = mkfile(fresh(d), 0644, OTHER, NULL);
	EXPECT(S, OP(.k = OPEN, .a = pub, .n = O_RDONLY), 0, "another user's 0644 file reads");
	EXPECT(S, OP(.k = OPEN, .a = pub, .n = O_RDWR), PRIV(EACCES), "%s writing another user's 0644 file",
	       root_acts ? "root may" : "EACCES for");
	const char *gw = mkfile_g(fresh(d), 0664, OTHER, SUPP_GID, NULL);
	EXPECT(S, OP(.k = OPEN, .a = gw, .n = O_RDWR), 0, "a 0664 file of the caller's supplementary group is writable");
	const char *shut = mkdir_(fresh(d), 0600, ACTOR);
	mkfile(P("%s/f", shut), 0644, ACTOR, NULL);
	EXPECT(S, OP(.k = OPEN, .a = P("%s/f", shut), .n = O_RDONLY), PRIV(EACCES),
	       "%s through the owner's own 0600 directory", root_acts ? "root passes" : "EACCES");
	const char *od = mkdir_(fresh(d), 0755, OTHER);
	EXPECT(S, OP(.k = OPEN, .a = P("%s/new", od), .n = O_CREAT | O_WRONLY), PRIV(EACCES),
	       "%s O_CREAT in another user's 0755 directory", root_acts ? "root may" : "EACCES for");
	EXPECT(S, OP(.k = OPEN, .a = dd, .n = O_WRONLY), EISDIR, "EISDIR for a directory opened for writing");
	EXPECT(S, OP(.k = OPEN, .a = dd, .n = O_RDWR), EISDIR, "EISDIR for a directory opened O_RDWR");
	EXPECT(S, OP(.k = OPEN, .a = dd, .n = O_RDONLY), 0, "a directory opens for reading");
	EXPECT(S, OP(.k = OPEN, .a = e, .n = O_RDONLY | O_DIRECTORY), ENOTDIR, "ENOTDIR for O_DIRECTORY on a file");
	const char *sl = mklink(e, fresh(d), ACTOR);
	EXPECT(S, OP(.k = OPEN, .a = sl, .n = O_RDONLY | O_NOFOLLOW), ELOOP, "ELOOP for O_NOFOLLOW on a symlink");
	EXPECT(S, OP(.k = OPEN, .a = P("%s/missing/x", d), .n = O_CREAT | O_WRONLY), ENOENT,
	       "ENOENT for O_CREAT in a missing directory");
	EXPECT(S, OP(.k = OPEN, .a = long_name(d, NAME_MAX_RFS + 1), .n = O_CREAT | O_WRONLY), ENAMETOOLONG,
	       "ENAMETOOLONG for O_CREAT with a %d-byte name", NAME_MAX_RFS + 1);
	const char *ln = long_name(d, NAME_MAX_RFS);
	EXPECT(S, OP(.k = OPEN, .a = ln, .n = O_CREAT | O_WRONLY), 0, "O_CREAT with a %d-byte name", NAME_MAX_RFS);
	EXPECT(S, OP(.k = OPEN, .a = ln, .n = O_RDONLY), 0, "the %d-byte name opens again", NAME_MAX_RFS);
	EXPECT(S, OP(.k = OPEN, .a = P("%s/a:b", d), .n = O_CREAT | O_WRONLY), EINVAL,
	       "EINVAL for O_CREAT of a name with ':' (RedoxFS reserves it)");
	EXPECT(S, OP(.k = RENAME, .a = e, .b = P("%s/a:b", d)), EINVAL, "EINVAL for rename to a name with ':'");
	path_errors(S, d, mk_open, 0);
	long nm = pathconf(d, _PC_NAME_MAX);
	check(S, nm == NAME_MAX_RFS, why("pathconf says %ld", nm), "pathconf(_PC_NAME_MAX) is %d", NAME_MAX_RFS);
}

/* ---- symlink and readlink ---- */

static void t_symlink(void)
{
	const char *S = "symlink", *d = group("symlink");
	const char *n = fresh(d);
	struct stat dbefore = st_of(d);
	nap();
	EXPECT(S, OP(.k = SYMLINK, .a = "some/where", .b = n), 0, "a new symlink");
	struct stat st = st_of(n);
	char buf[5000];
	ssize_t got = readlink(n, buf, sizeof(buf));
	check(S, S_ISLNK(st.st_mode) && st.st_size == 10 && got == 10 && !memcmp(buf, "some/where", 10),
	      why("mode %06o size %lld readlink %zd", (unsigned)st.st_mode, (long long)st.st_size, got),
	      "lstat shows a symlink of size 10, readlink its target");
	check_owner(S, n, actor_uid, actor_gid, "it belongs to the caller");
	check_mctime(S, d, dbefore, "symlink");
	const char *f = mkfile(fresh(d), 0644, ACTOR, NULL), *dd = mkdir_(fresh(d), 0755, ACTOR);
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = f), EEXIST, "EEXIST for an existing file");
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = dd), EEXIST, "EEXIST for an existing directory");
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = n), EEXIST, "EEXIST for an existing symlink");
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = P("%s/missing/x", d)), ENOENT, "ENOENT for a missing directory");
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = P("%s/x", f)), ENOTDIR, "ENOTDIR for a path through a file");
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = long_name(d, NAME_MAX_RFS + 1)), ENAMETOOLONG,
	       "ENAMETOOLONG for a %d-byte name", NAME_MAX_RFS + 1);
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = long_name(d, NAME_MAX_RFS)), 0, "a %d-byte name", NAME_MAX_RFS);
	static char big[4097];
	memset(big, 'b', 4096);
	EXPECT(S, OP(.k = SYMLINK, .a = big, .b = fresh(d)), ENAMETOOLONG, "ENAMETOOLONG for a 4096-byte target");
	big[4095] = 0;
	const char *bl = fresh(d);
	EXPECT(S, OP(.k = SYMLINK, .a = big, .b = bl), 0, "a 4095-byte target");
	got = readlink(bl, buf, sizeof(buf));
	check(S, got == 4095 && !memcmp(buf, big, 4095), why("readlink gave %zd bytes", got),
	      "readlink returns all 4095 bytes");
	const char *od = mkdir_(fresh(d), 0755, OTHER);
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = P("%s/l", od)), PRIV(EACCES),
	       "%s in a directory the caller may not write", root_acts ? "root makes one" : "EACCES");
	const char *cd = mkdir_(fresh(d), 0700, OTHER);
	EXPECT(S, OP(.k = SYMLINK, .a = "x", .b = P("%s/l", cd)), PRIV(EACCES),
	       "%s below a directory the caller may not search", root_acts ? "root makes one" : "EACCES");

	S = "readlink";
	EXPECT(S, OP(.k = READLINK, .a = f), EINVAL, "EINVAL for a regular file");
	EXPECT(S, OP(.k = READLINK, .a = dd), EINVAL, "EINVAL for a directory");
	char small[4] = { 'z', 'z', 'z', 'z' };
	got = readlink(n, small, 3);
	check(S, got == 3 && !memcmp(small, "somz", 4), why("returned %zd", got),
	      "a short buffer gets the first bytes, nothing written past it");
	path_errors(S, d, mk_readlink, EINVAL);
}

/* ---- truncate and ftruncate ---- */

static int zeros_from(const char *p, off_t from, off_t to)
{
	int fd = open(p, O_RDONLY);
	char buf[4096];
	int ok = fd >= 0;
	for (off_t off = from; ok && off < to; off += (off_t)sizeof(buf)) {
		size_t want = (size_t)(to - off < (off_t)sizeof(buf) ? to - off : (off_t)sizeof(buf));
		ok = pread(fd, buf, want, off) == (ssize_t)want;
		for (size_t i = 0; ok && i < want; i++)
			ok = buf[i] == 0;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static void t_truncate(void)
{
	const char *S = "truncate", *d = group("truncate");
	const char *f = mkfile(fresh(d), 0644, ACTOR, "abc");
	struct stat before = st_of(f);
	nap();
	EXPECT(S, OP(.k = TRUNCATE, .a = f, .n = 100000), 0, "grow a file to 100000 bytes");
	check(S, st_of(f).st_size == 100000 && zeros_from(f, 3, 100000), why("size %lld", (long long)st_of(f).st_size),
	      "the size is 100000, the new bytes read as zeros");
	check_mctime(S, f, before, "truncate (grow)");
	before = st_of(f);
	nap();
	EXPECT(S, OP(.k = TRUNCATE, .a = f, .n = 2), 0, "shrink it to 2 bytes");
	char buf[4] = { 0 };
	int fd = open(f, O_RDONLY);
	check(S, st_of(f).st_size == 2 && fd >= 0 && read(fd, buf, 4) == 2 && !memcmp(buf, "ab", 2), "",
	      "the first two bytes remain");
	if (fd >= 0)
		close(fd);
	check_mctime(S, f, before, "truncate (shrink)");
	EXPECT(S, OP(.k = TRUNCATE, .a = f, .n = 1000), 0, "grow it again");
	check(S, zeros_from(f, 2, 1000), "", "what was cut off does not come back (zeros)");
	EXPECT(S, OP(.k = TRUNCATE, .a = f, .n = -1), EINVAL, "EINVAL for a negative length");
	const char *dd = mkdir_(fresh(d), 0755, ACTOR);
	EXPECT(S, OP(.k = TRUNCATE, .a = dd, .n = 0), EISDIR, "EISDIR for a directory");
	const char *of = mkfile(fresh(d), 0644, OTHER, "x");
	EXPECT(S, OP(.k = TRUNCATE, .a = of, .n = 0), PRIV(EACCES), "%s another user's 0644 file",
	       root_acts ? "root truncates" : "EACCES for");
	const char *ow = mkfile(fresh(d), 0666, OTHER, "x");
	EXPECT(S, OP(.k = TRUNCATE, .a = ow, .n = 0), 0, "another user's 0666 file");
	const char *sl = mklink(f, fresh(d), ACTOR);
	EXPECT(S, OP(.k = TRUNCATE, .a = sl, .n = 5), 0, "through a symlink");
	check(S, st_of(f).st_size == 5, "", "the target was truncated");
	path_errors(S, d, mk_truncate, 0);

	S = "ftruncate";
	const char *g = mkfile(fresh(d), 0644, ACTOR, "abc");
	before = st_of(g);
	nap();
	EXPECT(S, OP(.k = FTRUNCATE, .a = g, .flags = O_RDWR, .n = 7000), 0, "grow through an O_RDWR descriptor");
	check(S, st_of(g).st_size == 7000 && zeros_from(g, 3, 7000), "", "the size is 7000, zeros after the data");
	check_mctime(S, g, before, "ftruncate");
	EXPECT(S, OP(.k = FTRUNCATE, .a = g, .flags = O_WRONLY, .n = 1), 0, "shrink through an O_WRONLY descriptor");
	expect2(S, OP(.k = FTRUNCATE, .a = g, .flags = O_RDONLY, .n = 0), EINVAL, EBADF,
		"EINVAL (or EBADF) for a descriptor open for reading only");
	check(S, st_of(g).st_size == 1, "", "the size is unchanged");
	EXPECT(S, OP(.k = FTRUNCATE, .a = g, .flags = O_RDWR, .n = -1), EINVAL, "EINVAL for a negative length");
	/* Permission is the descriptor's: a mode changed after open does not matter. */
	const char *h = mkfile(fresh(d), 0644, ACTOR, "abc");
	if (acting_as_user) {
		skip(S, "needs the descriptor in the acting process", "a descriptor opened before chmod 0");
	} else {
		int wfd = open(h, O_WRONLY);
		int r = wfd >= 0 && chmod(h, 0) == 0 ? ftruncate(wfd, 1) : -1;
		check(S, r == 0 && st_of(h).st_size == 1, strerror(errno),
		      "a descriptor open for writing truncates after chmod 0");
		if (wfd >= 0)
			close(wfd);
	}
}

/* ftruncate after chmod 0 as the acting user: the descriptor must be the user's own. */
static void t_ftruncate_user(void)
{
	if (!acting_as_user)
		return;
	const char *S = "ftruncate", *h = mkfile(fresh(gname), 0644, ACTOR, "abc");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		gid_t groups[2] = { actor_gid, SUPP_GID };
		if (setgroups(2, groups) != 0 || setgid(actor_gid) != 0 || setuid(actor_uid) != 0)
			_exit(255);
		int fd = open(h, O_WRONLY);
		if (fd < 0 || chmod(h, 0) != 0)
			_exit(254);
		_exit(ftruncate(fd, 1) == 0 ? 0 : errno);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	check(S, WIFEXITED(status) && WEXITSTATUS(status) == 0 && st_of(h).st_size == 1,
	      why("exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1),
	      "the owner's descriptor open for writing truncates after chmod 0");
}

/* ---- utimensat ---- */

static void t_utimensat(void)
{
	const char *S = "utimensat", *d = group("utimensat");
	const char *f = mkfile(fresh(d), 0644, ACTOR, NULL);
	struct timespec set[2] = { { 1000000000, 123456789 }, { 1500000000, 987654321 } };
	struct stat before = st_of(f);
	nap();
	EXPECT(S, OP(.k = UTIMENS, .a = f, .ts = set), 0, "the owner sets both times");
	struct stat st = st_of(f);
	check(S, ts_cmp(rx_stat_atime(&st), set[0]) == 0 && ts_cmp(rx_stat_mtime(&st), set[1]) == 0,
	      why("atime %lld.%09ld mtime %lld.%09ld", (long long)rx_stat_atime(&st).tv_sec, rx_stat_atime(&st).tv_nsec,
		  (long long)rx_stat_mtime(&st).tv_sec, rx_stat_mtime(&st).tv_nsec),
	      "atime and mtime are exactly the ones given (ns)");
	check_ctime(S, f, before, "utimensat");
	struct timespec omit_a[2] = { { 0, UTIME_OMIT }, { 1600000000, 5 } };
	EXPECT(S, OP(.k = UTIMENS, .a = f, .ts = omit_a), 0, "UTIME_OMIT for atime, a given mtime");
	st = st_of(f);
	check(S, ts_cmp(rx_stat_atime(&st), set[0]) == 0 && rx_stat_mtime(&st).tv_sec == 1600000000 &&
		 rx_stat_mtime(&st).tv_nsec == 5, "", "atime kept, mtime set");
	struct timespec t0 = now();
	nap();
	struct timespec now_omit[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	EXPECT(S, OP(.k = UTIMENS, .a = f, .ts = now_omit), 0, "UTIME_NOW for atime, UTIME_OMIT for mtime");
	st = st_of(f);
	check(S, ts_cmp(rx_stat_atime(&st), t0) > 0 && rx_stat_mtime(&st).tv_sec == 1600000000, "",
	      "atime is now, mtime kept");
	t0 = now();
	nap();
	struct timespec both_now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	EXPECT(S, OP(.k = UTIMENS, .a = f, .ts = both_now), 0, "UTIME_NOW for both");
	st = st_of(f);
	struct timespec t1 = now();
	check(S, ts_cmp(rx_stat_atime(&st), t0) > 0 && ts_cmp(rx_stat_mtime(&st), t0) > 0 &&
		 ts_cmp(rx_stat_mtime(&st), t1) <= 0, "", "both times are now");
	before = st_of(f);
	struct timespec both_omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	EXPECT(S, OP(.k = UTIMENS, .a = f, .ts = both_omit), 0, "UTIME_OMIT for both");
	st = st_of(f);
	check(S, ts_cmp(rx_stat_atime(&st), rx_stat_atime(&before)) == 0 &&
		 ts_cmp(rx_stat_mtime(&st), rx_stat_mtime(&before)) == 0, "", "UTIME_OMIT for both changes nothing");
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	EXPECT(S, OP(.k = UTIMENS, .a = f, .ts = bad), EINVAL, "EINVAL for tv_nsec of 1000000000");
	/* Permissions: anybody who may write sets "now"; only the owner (or root) sets given times. */
	const char *ow = mkfile(fresh(d), 0666, OTHER, NULL);
	EXPECT(S, OP(.k = UTIMENS, .a = ow, .ts = NULL), 0, "times NULL on another user's file the caller may write");
	EXPECT(S, OP(.k = UTIMENS, .a = ow, .ts = both_now), 0, "UTIME_NOW for both on another user's writable file");
	EXPECT(S, OP(.k = UTIMENS, .a = ow, .ts = set), PRIV(EPERM), "%s given times on another user's writable file",
	       root_acts ? "root sets" : "EPERM for");
	const char *or = mkfile(fresh(d), 0644, OTHER, NULL);
	EXPECT(S, OP(.k = UTIMENS, .a = or, .ts = NULL), PRIV(EACCES), "%s times NULL on another user's 0644 file",
	       root_acts ? "root sets" : "EACCES for");
	EXPECT(S, OP(.k = UTIMENS, .a = or, .ts = both_now), PRIV(EACCES),
	       "%s UTIME_NOW for both on another user's 0644 file", root_acts ? "root sets" : "EACCES for");
	EXPECT(S, OP(.k = UTIMENS, .a = or, .ts = set), PRIV(EPERM), "%s given times on another user's 0644 file",
	       root_acts ? "root sets" : "EPERM for");
	EXPECT(S, OP(.k = UTIMENS, .a = or, .ts = both_omit), 0, "UTIME_OMIT for both needs no permission");
	const char *mine = mkfile(fresh(d), 0444, ACTOR, NULL);
	EXPECT(S, OP(.k = UTIMENS, .a = mine, .ts = set), 0, "the owner sets given times on its own 0444 file");
	const char *t = mkfile(fresh(d), 0644, ACTOR, NULL), *sl = mklink(t, fresh(d), ACTOR);
	struct stat tb = st_of(t);
	EXPECT(S, OP(.k = UTIMENS, .a = sl, .ts = set, .flags = AT_SYMLINK_NOFOLLOW), 0,
	       "AT_SYMLINK_NOFOLLOW sets a symlink's own times");
	struct stat ls = st_of(sl), ts = st_of(t);
	check(S, ts_cmp(rx_stat_mtime(&ls), set[1]) == 0 && ts_cmp(rx_stat_mtime(&ts), rx_stat_mtime(&tb)) == 0, "",
	      "the symlink got them, its target did not");
	EXPECT(S, OP(.k = UTIMENS, .a = sl, .ts = set), 0, "utimensat follows a symlink");
	ts = st_of(t);
	check(S, ts_cmp(rx_stat_mtime(&ts), set[1]) == 0, "", "the target got the times");
	path_errors(S, d, mk_utimens, 0);
}

/* ---- what RedoxFS cannot store: FIFOs, device nodes, sockets ---- */

static void t_mknod(void)
{
	const char *S = "mknod", *d = group("mknod");
	const char *p = fresh(d);
	EXPECT(S, OP(.k = MKNOD, .a = p, .n = S_IFIFO | 0644), EPERM, "EPERM for a FIFO (RedoxFS stores none)");
	check_gone(S, p, "nothing was made");
	p = fresh(d);
	EXPECT(S, OP(.k = MKNOD, .a = p, .n = S_IFCHR | 0644), EPERM, "EPERM for a character device");
	check_gone(S, p, "nothing was made");
	p = fresh(d);
	EXPECT(S, OP(.k = MKNOD, .a = p, .n = S_IFBLK | 0644), EPERM, "EPERM for a block device");
	p = fresh(d);
	EXPECT(S, OP(.k = MKNOD, .a = p, .n = S_IFSOCK | 0644), EPERM, "EPERM for a socket");
	p = fresh(d);
	EXPECT(S, OP(.k = BIND, .a = p), EPERM, "EPERM for bind(2) of a Unix socket");
	check_gone(S, p, "nothing was made");
	p = fresh(d);
	EXPECT(S, OP(.k = MKNOD, .a = p, .n = S_IFREG | 0640), 0, "a regular file");
	check(S, S_ISREG(st_of(p).st_mode) && (st_of(p).st_mode & 07777) == 0640, "", "it is a regular file of mode 0640");
	EXPECT(S, OP(.k = MKNOD, .a = p, .n = S_IFIFO | 0644), EEXIST, "EEXIST for an existing name");
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "a:")) != -1) {
		unsigned u, g;
		if (opt != 'a' || sscanf(optarg, "%u:%u", &u, &g) != 2) {
			fprintf(stderr, "usage: posixcheck [-a UID:GID] DIR\n");
			return 2;
		}
		actor_uid = u;
		actor_gid = g;
		acting_as_user = 1;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: posixcheck [-a UID:GID] DIR\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (to make files of other users)\n");
		return 0;
	}
	if (acting_as_user && (actor_uid == 0 || actor_uid == OTHER_UID || actor_gid == SUPP_GID)) {
		fprintf(stderr, "posixcheck: the acting user must not be root, %u, or in group %u\n", OTHER_UID, SUPP_GID);
		return 2;
	}
	root_acts = !acting_as_user;
	umask(022);
	if (chdir(argv[optind]) != 0) {
		fprintf(stderr, "posixcheck: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	printf("# acting user %u:%u%s\n", (unsigned)actor_uid, (unsigned)actor_gid, root_acts ? " (root)" : "");
	t_chmod();
	t_chown();
	t_link();
	t_unlink();
	t_rename();
	t_mkdir();
	t_open();
	t_symlink();
	t_truncate();
	t_ftruncate_user();
	t_utimensat();
	t_mknod();
	int run = 0, passed = 0, skipped = 0;
	for (int i = 0; i < ntallies; i++) {
		printf("# %-10s %3d of %3d passed%s\n", tallies[i].name, tallies[i].passed, tallies[i].run,
		       tallies[i].skipped ? " (some skipped)" : "");
		run += tallies[i].run;
		passed += tallies[i].passed;
		skipped += tallies[i].skipped;
	}
	printf("# total      %3d of %3d passed, %d skipped\n", passed, run, skipped);
	printf("1..%d\n", tap_n);
	return passed == run ? 0 : 1;
}
