/*
 * rximg mount: the library's calls behind libfuse3's low-level API.
 *
 * Durability: changes collect in one open transaction and are committed as one
 * generation on fsync, after at most commit_ms of the first change, and at
 * unmount. A crash or kill -9 loses only what was not yet committed; the image
 * always holds the last commit, intact.
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "idmap.h"
#include "mount.h"
#include "ops.h"
#include "tx.h"

struct mnt {
	struct rx_image *img;
	struct rfs *fs;
	struct rx_ctx *ctx;
	const struct mount_opts *o;
	pthread_mutex_t lock;		/* one at a time through the filesystem */
	pthread_cond_t wake;
	struct rfs_tx *tx;		/* changes not yet committed */
	uint64_t dirty_since;		/* monotonic ns of the first uncommitted change */
	int failed;			/* a commit failed: refuse further changes */
	int writeback;			/* the kernel caches writes and owns file mtimes */
	int stopping;
	struct idmap open;		/* node id -> open handles (as uintptr_t) */
	struct idmap known;		/* node id -> the kernel's lookup count */
	struct dirh *dirs;		/* open directory handles */
	double ttl;
};

struct dirh {
	struct rfs_dirent *ents;
	size_t count;
	struct dirh *prev, *next;	/* on mnt.dirs: what the kernel never released is freed at the end */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct rfs_time wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct rfs_time){ (uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec };
}

static struct mnt *M(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static uintptr_t count_of(struct idmap *map, uint32_t id)
{
	void **v = idmap_slot(map, id, 0);
	return v ? (uintptr_t)*v : 0;
}

static void count_add(struct idmap *map, uint32_t id, intptr_t d)
{
	void **v = idmap_slot(map, id, 1);
	*v = (void *)(uintptr_t)((intptr_t)(uintptr_t)*v + d);
}

/*
 * A node the kernel still knows (an inode it may ask about) or has open must
 * keep its id: destroying it would let a new node take the number while the
 * kernel's cache still says otherwise. Such nodes wait, nameless, on the
 * release list until released and forgotten.
 */
static int is_open(void *arg, uint32_t id)
{
	struct mnt *m = arg;
	return count_of(&m->open, id) || count_of(&m->known, id);
}

/*
 * Errors from the library are -errno; report them as FUSE expects (positive).
 * Damage (a checksum mismatch, a structure that does not decode) is EIO, what
 * every program takes for "this file cannot be read" (and a backup must fail on).
 */
static int err_of(struct mnt *m, int r)
{
	rx_clear(m->ctx);
	return r >= 0 || rfs_is_damage(r) ? EIO : -r;
}

static int commit_locked(struct mnt *m)
{
	if (!m->tx)
		return 0;
	int r = rfs_tx_commit(m->tx);
	m->tx = NULL;
	m->dirty_since = 0;
	if (r) {
		fprintf(stderr, "rximg mount: %s: commit failed: %s\n", m->img->path, m->ctx->msg);
		m->failed = 1;
	}
	return r;
}

/* The open transaction (begun on first use); NULL with an errno when writing is impossible. */
static struct rfs_tx *tx_of(struct mnt *m, int *err)
{
	if (m->o->read_only || m->failed) {
		*err = m->failed ? EIO : EROFS;
		return NULL;
	}
	if (!m->tx) {
		int r = rfs_tx_begin(m->fs, &m->tx);
		if (r) {
			*err = err_of(m, r);
			m->tx = NULL;
			return NULL;
		}
		/* Data goes straight to free blocks: memory stays bounded however much is written. */
		rfs_tx_set_buffer(m->tx, 0);
		m->dirty_since = now_ns();
		pthread_cond_signal(&m->wake);
	}
	return m->tx;
}

/*
 * Before a change that needs about n blocks: if free space is short, commit to
 * reclaim freed blocks. What adds data or names keeps a reserve of 64 blocks
 * beyond n; removals and attribute changes may use it, so that a full
 * filesystem can still be emptied (and the kernel's times still stored).
 */
static int ensure_room(struct mnt *m, uint64_t n, uint64_t reserve)
{
	if (m->tx && rfs_tx_free_blocks(m->tx) >= n + reserve)
		return 0;
	if (m->tx && commit_locked(m))
		return EIO;
	int err;
	struct rfs_tx *tx = tx_of(m, &err);
	if (!tx)
		return err;
	return rfs_tx_free_blocks(tx) >= n + reserve ? 0 : ENOSPC;
}

static int ensure_space(struct mnt *m, uint64_t n)
{
	return ensure_room(m, n, 64);
}

static void fill_stat(const struct rfs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->id;
	st->st_mode = n->mode;
	st->st_nlink = n->links;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)RX_MIN(n->size, (uint64_t)INT64_MAX);
	st->st_blocks = (blkcnt_t)(n->blocks * 8);
	st->st_blksize = RFS_BLOCK;
	struct timespec at = { (time_t)n->atime, n->atime_nsec }, mt = { (time_t)n->mtime, n->mtime_nsec },
			ct = { (time_t)n->ctime, n->ctime_nsec };
	rx_stat_set_times(st, at, mt, ct);
}

/*
 * POSIX times after a change. The node's ctime becomes now (the mount keeps
 * st_ctime as the change time POSIX means; the reference tools store the
 * creation time there and never update it), and for a directory whose entries
 * changed, the mtime too.
 */
static void stamp_times(struct rfs_node *n, int contents)
{
	struct rfs_time t = wall();
	n->ctime = t.sec;
	n->ctime_nsec = t.nsec;
	if (contents) {
		n->mtime = t.sec;
		n->mtime_nsec = t.nsec;
	}
}

/* The same for node id, stored; a node the change destroyed needs nothing. */
static int stamp(struct mnt *m, uint32_t id, int contents)
{
	struct rfs_node n;
	int r = rfs_node_get(m->fs, id, &n);
	if (r == -ENOENT || rfs_is_damage(r)) {
		rx_clear(m->ctx);	/* destroyed, or damaged (its removal went ahead unread) */
		return 0;
	}
	if (r == 0) {
		stamp_times(&n, contents);
		r = rfs_node_put(m->tx, &n);
	}
	return r;
}

/* Callers hold the lock: the kernel now knows this inode once more. */
static void reply_entry(fuse_req_t req, struct mnt *m, const struct rfs_node *n)
{
	struct fuse_entry_param e;
	if (n->id != RFS_ROOT_ID)
		count_add(&m->known, n->id, 1);
	memset(&e, 0, sizeof(e));
	e.ino = n->id;
	e.attr_timeout = m->ttl;
	e.entry_timeout = m->ttl;
	fill_stat(n, &e.attr);
	fuse_reply_entry(req, &e);
}

/* ---- lookups and attributes ---- */

static int get_node(struct mnt *m, fuse_ino_t ino, struct rfs_node *n)
{
	if (ino > UINT32_MAX)
		return ENOENT;
	int r = rfs_node_get(m->fs, (uint32_t)ino, n);
	return r ? err_of(m, r) : 0;
}

static int lookup_child(struct mnt *m, fuse_ino_t parent, const char *name, struct rfs_node *dir,
			struct rfs_node *n)
{
	uint32_t id;
	size_t len = strlen(name);
	if (len > RFS_NAME_MAX)
		return ENAMETOOLONG;
	int e = get_node(m, parent, dir);
	if (e)
		return e;
	if (!rfs_is_dir(dir))
		return ENOTDIR;
	int r = rfs_dir_lookup(m->fs, dir, name, len, &id);
	if (r == 0)
		r = rfs_node_of_entry(m->fs, id, n);
	return r ? err_of(m, r) : 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mnt *m = M(req);
	struct rfs_node dir, n;
	pthread_mutex_lock(&m->lock);
	int e = lookup_child(m, parent, name, &dir, &n);
	if (!e)
		reply_entry(req, m, &n);
	pthread_mutex_unlock(&m->lock);
	if (e == ENOENT) {	/* a negative entry, cached like a positive one */
		struct fuse_entry_param ne = { .entry_timeout = m->ttl };
		fuse_reply_entry(req, &ne);
	} else if (e) {
		fuse_reply_err(req, e);
	}
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	struct stat st;
	pthread_mutex_lock(&m->lock);
	int e = get_node(m, ino, &n);
	pthread_mutex_unlock(&m->lock);
	if (e) {
		fuse_reply_err(req, e);
		return;
	}
	fill_stat(&n, &st);
	fuse_reply_attr(req, &st, m->ttl);
}

static void set_time(uint64_t *sec, uint32_t *nsec, const struct timespec *ts)
{
	*sec = ts->tv_sec < 0 ? 0 : (uint64_t)ts->tv_sec;
	*nsec = (uint32_t)ts->tv_nsec;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	struct stat st;
	int e;
	pthread_mutex_lock(&m->lock);
	struct rfs_tx *tx = tx_of(m, &e);
	if (tx)
		e = get_node(m, ino, &n);
	if (tx && !e && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (rfs_is_dir(&n))
			e = EISDIR;
		else if (!(e = ensure_space(m, 40))) {
			tx = m->tx;
			int r = rfs_file_truncate(tx, &n, (uint64_t)attr->st_size);
			e = r ? err_of(m, r) : 0;
			if (!e && !(to_set & FUSE_SET_ATTR_MTIME))
				stamp_times(&n, 1);
		}
	}
	if (tx && !e && !(to_set & FUSE_SET_ATTR_SIZE))
		e = ensure_room(m, 16, 0);	/* (a truncate made room above) */
	if (tx && !e) {
		if (to_set & FUSE_SET_ATTR_MODE)
			n.mode = (uint16_t)((n.mode & RFS_MODE_TYPE) | (attr->st_mode & 07777));
		if (to_set & FUSE_SET_ATTR_UID)
			n.uid = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			n.gid = attr->st_gid;
		struct timespec now, at = rx_stat_atime(attr), mt = rx_stat_mtime(attr);
		clock_gettime(CLOCK_REALTIME, &now);
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			set_time(&n.atime, &n.atime_nsec, &now);
		else if (to_set & FUSE_SET_ATTR_ATIME)
			set_time(&n.atime, &n.atime_nsec, &at);
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			set_time(&n.mtime, &n.mtime_nsec, &now);
		else if (to_set & FUSE_SET_ATTR_MTIME)
			set_time(&n.mtime, &n.mtime_nsec, &mt);
		/* Every change of attributes is a status change; the writeback cache sends its own time. */
		stamp_times(&n, 0);
#ifdef FUSE_SET_ATTR_CTIME
		struct timespec ct = rx_stat_ctime(attr);
		if (to_set & FUSE_SET_ATTR_CTIME)
			set_time(&n.ctime, &n.ctime_nsec, &ct);
#endif
		int r = rfs_node_put(m->tx, &n);
		e = r ? err_of(m, r) : 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (e) {
		fuse_reply_err(req, e);
		return;
	}
	fill_stat(&n, &st);
	fuse_reply_attr(req, &st, m->ttl);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	char *target = NULL;
	pthread_mutex_lock(&m->lock);
	int e = get_node(m, ino, &n);
	if (!e && !rfs_is_symlink(&n))
		e = EINVAL;
	if (!e) {
		int r = rfs_readlink(m->fs, &n, &target);
		e = r ? err_of(m, r) : 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (e)
		fuse_reply_err(req, e);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* ---- creating and removing names ---- */

static int check_name(const char *name)
{
	size_t len = strlen(name);
	if (len > RFS_NAME_MAX)
		return ENAMETOOLONG;
	if (strchr(name, ':'))
		return EINVAL;	/* RedoxFS reserves ':' (as the reference driver does) */
	return 0;
}

static void open_inc(struct mnt *m, uint32_t id)
{
	void **v = idmap_slot(&m->open, id, 1);
	*v = (void *)((uintptr_t)*v + 1);
}

/* Create a node under parent; the caller's owner, as a local filesystem would. */
static int make_node(fuse_req_t req, struct mnt *m, fuse_ino_t parent, const char *name,
		     uint16_t mode, const char *target, struct rfs_node *out)
{
	struct rfs_node dir, existing;
	int e = check_name(name);
	if (e)
		return e;
	e = lookup_child(m, parent, name, &dir, &existing);
	if (e == 0)
		return EEXIST;
	if (e != ENOENT)
		return e;
	if ((e = ensure_space(m, 16 + (target ? strlen(target) / RFS_BLOCK : 0))) != 0)
		return e;
	e = get_node(m, parent, &dir);	/* ensure_space may have committed */
	if (e)
		return e;
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	struct rfs_owner own = { fc->uid, fc->gid };
	if (dir.mode & 02000) {
		own.gid = dir.gid;	/* set-group-ID directories pass their group on */
		if ((mode & RFS_MODE_TYPE) == RFS_MODE_DIR)
			mode |= 02000;	/* and, to new directories, the bit itself */
	}
	int r = rfs_op_create(m->tx, &dir, name, mode, &own, wall(), out);
	if (r == 0 && target)
		r = rfs_file_write(m->tx, out, 0, target, strlen(target));
	if (r == 0 && target)
		r = rfs_node_put(m->tx, out);
	if (r == 0)
		r = stamp(m, dir.id, 1);
	return r ? err_of(m, r) : 0;
}

static void reply_made(fuse_req_t req, struct mnt *m, uint16_t mode, fuse_ino_t parent,
		       const char *name, const char *target)
{
	struct rfs_node n;
	int e;
	pthread_mutex_lock(&m->lock);
	if (tx_of(m, &e))
		e = make_node(req, m, parent, name, mode, target, &n);
	if (!e)
		reply_entry(req, m, &n);
	pthread_mutex_unlock(&m->lock);
	if (e)
		fuse_reply_err(req, e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	reply_made(req, M(req), (uint16_t)(RFS_MODE_DIR | (mode & 07777)), parent, name, NULL);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	if (strlen(target) == 0 || strlen(target) > RFS_BLOCK) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	reply_made(req, M(req), RFS_MODE_SYMLINK | 0777, parent, name, target);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);	/* RedoxFS has no device, FIFO or socket files to make */
		return;
	}
	reply_made(req, M(req), (uint16_t)(RFS_MODE_FILE | (mode & 07777)), parent, name, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	int e;
	pthread_mutex_lock(&m->lock);
	if (tx_of(m, &e))
		e = make_node(req, m, parent, name, (uint16_t)(RFS_MODE_FILE | (mode & 07777)), NULL, &n);
	if (e) {
		pthread_mutex_unlock(&m->lock);
		fuse_reply_err(req, e);
		return;
	}
	open_inc(m, n.id);
	count_add(&m->known, n.id, 1);
	struct fuse_entry_param ep;
	memset(&ep, 0, sizeof(ep));
	ep.ino = n.id;
	ep.attr_timeout = ep.entry_timeout = m->ttl;
	fill_stat(&n, &ep.attr);
	fuse_reply_create(req, &ep, fi);
	pthread_mutex_unlock(&m->lock);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, int want_dir)
{
	struct mnt *m = M(req);
	struct rfs_node dir;
	int e;
	pthread_mutex_lock(&m->lock);
	if (tx_of(m, &e) && !(e = ensure_room(m, 16, 0)) && !(e = get_node(m, parent, &dir))) {
		uint32_t id = 0;
		int r = strlen(name) > RFS_NAME_MAX ? -ENAMETOOLONG : 0;
		if (r == 0 && rfs_dir_lookup(m->fs, &dir, name, strlen(name), &id) != 0)
			rx_clear(m->ctx);	/* rfs_op_unlink_at says what is wrong */
		if (r == 0)
			r = rfs_op_unlink_at(m->tx, &dir, name, want_dir);
		if (r == 0 && id)
			r = stamp(m, id, 0);	/* a node with names left: its link count changed */
		if (r == 0)
			r = stamp(m, dir.id, 1);
		e = r ? err_of(m, r) : 0;
	}
	pthread_mutex_unlock(&m->lock);
	fuse_reply_err(req, e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 1);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct mnt *m = M(req);
	struct rfs_node d1, d2;
	unsigned rf = 0;
	int e;
#ifdef RENAME_NOREPLACE
	if (flags & RENAME_NOREPLACE)
		rf |= RFS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		rf |= RFS_RENAME_EXCHANGE;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
#else
	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
#endif
	pthread_mutex_lock(&m->lock);
	if (tx_of(m, &e) && !(e = check_name(newname)) && !(e = ensure_space(m, 32)) &&
	    !(e = get_node(m, parent, &d1)) && !(e = get_node(m, newparent, &d2))) {
		uint32_t src = 0, dst = 0;
		if (rfs_dir_lookup(m->fs, &d1, name, strlen(name), &src) != 0 ||
		    rfs_dir_lookup(m->fs, &d2, newname, strlen(newname), &dst) != 0)
			rx_clear(m->ctx);	/* rfs_op_rename_at says what is wrong */
		int r = rfs_op_rename_at(m->tx, &d1, name, &d2, newname, rf);
		/* Two names of one node: nothing happened, and no time moves. */
		if (r == 0 && src == dst && !(rf & RFS_RENAME_EXCHANGE))
			src = dst = 0, d1.id = d2.id = 0;
		/* The moved nodes change status (as on Linux); both directories change entries. */
		if (r == 0 && src)
			r = stamp(m, src, 0);
		if (r == 0 && dst && dst != src)
			r = stamp(m, dst, 0);
		if (r == 0 && d1.id)
			r = stamp(m, d1.id, 1);
		if (r == 0 && d2.id != d1.id)
			r = stamp(m, d2.id, 1);
		e = r ? err_of(m, r) : 0;
	}
	pthread_mutex_unlock(&m->lock);
	fuse_reply_err(req, e);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct mnt *m = M(req);
	struct rfs_node n, dir;
	int e;
	pthread_mutex_lock(&m->lock);
	if (tx_of(m, &e) && !(e = check_name(newname)) && !(e = ensure_space(m, 16)) &&
	    !(e = get_node(m, ino, &n)) && !(e = get_node(m, newparent, &dir))) {
		if (rfs_is_dir(&n)) {
			e = EPERM;
		} else {
			int r = rfs_dir_insert(m->tx, &dir, newname, strlen(newname), n.id);
			if (r == 0) {
				n.links++;
				stamp_times(&n, 0);
				r = rfs_node_put(m->tx, &n);
			}
			if (r == 0)
				r = stamp(m, dir.id, 1);
			e = r ? err_of(m, r) : 0;
		}
	}
	if (!e)
		reply_entry(req, m, &n);
	pthread_mutex_unlock(&m->lock);
	if (e)
		fuse_reply_err(req, e);
}

/* ---- files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	pthread_mutex_lock(&m->lock);
	int e = get_node(m, ino, &n);
	if (!e && rfs_is_dir(&n))
		e = EISDIR;
	if (!e && (fi->flags & O_ACCMODE) != O_RDONLY && (m->o->read_only || m->failed))
		e = m->failed ? EIO : EROFS;
	if (!e && (fi->flags & O_TRUNC) && n.size) {
		struct rfs_tx *tx = tx_of(m, &e);
		if (tx) {
			int r = rfs_file_truncate(tx, &n, 0);
			if (r == 0) {
				stamp_times(&n, 1);
				r = rfs_node_put(tx, &n);
			}
			e = r ? err_of(m, r) : 0;
		}
	}
	if (!e)
		open_inc(m, n.id);
	pthread_mutex_unlock(&m->lock);
	if (e) {
		fuse_reply_err(req, e);
		return;
	}
	fi->keep_cache = 1;	/* the mount is exclusive: nothing changes behind the cache */
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&m->lock);
	int64_t got = 0;
	int e = get_node(m, ino, &n);
	if (!e) {
		got = rfs_read(m->fs, &n, (uint64_t)off, buf, size);
		if (got < 0)
			e = err_of(m, (int)got);
	}
	pthread_mutex_unlock(&m->lock);
	if (e)
		fuse_reply_err(req, e);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	int e;
	pthread_mutex_lock(&m->lock);
	if (tx_of(m, &e) && !(e = ensure_space(m, size / RFS_BLOCK + 16)) && !(e = get_node(m, ino, &n))) {
		int r = rfs_file_write(m->tx, &n, (uint64_t)off, buf, size);
		if (r == 0) {
			/* With the writeback cache the kernel stamps the write and sends the time in a setattr. */
			if (!m->writeback)
				stamp_times(&n, 1);
			r = rfs_node_put(m->tx, &n);
		}
		e = r ? err_of(m, r) : 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (e)
		fuse_reply_err(req, e);
	else
		fuse_reply_write(req, size);
}

/* A nameless node neither open nor known to the kernel any more: now it goes (spec 11.8). */
static void maybe_release(struct mnt *m, uint32_t id)
{
	struct rfs_node n;
	int e;
	if (id == RFS_ROOT_ID || is_open(m, id))
		return;
	if (get_node(m, id, &n) == 0 && n.links == 0 && tx_of(m, &e)) {
		int r = rfs_node_destroy(m->tx, &n);
		if (r == 0)
			r = rfs_release_remove(m->tx, n.id);
		if (r)
			err_of(m, r);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	pthread_mutex_lock(&m->lock);
	if (count_of(&m->open, (uint32_t)ino))
		count_add(&m->open, (uint32_t)ino, -1);
	maybe_release(m, (uint32_t)ino);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_err(req, 0);
}

static void forget_one(struct mnt *m, fuse_ino_t ino, uint64_t nlookup)
{
	uintptr_t have = count_of(&m->known, (uint32_t)ino);
	count_add(&m->known, (uint32_t)ino, -(intptr_t)RX_MIN((uint64_t)have, nlookup));
	maybe_release(m, (uint32_t)ino);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct mnt *m = M(req);
	pthread_mutex_lock(&m->lock);
	forget_one(m, ino, nlookup);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct mnt *m = M(req);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < count; i++)
		forget_one(m, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_none(req);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	pthread_mutex_lock(&m->lock);
	int r = commit_locked(m);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_err(req, r ? EIO : 0);
}

/* ---- directories ---- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	struct rfs_node n;
	struct dirh *d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&m->lock);
	int e = get_node(m, ino, &n);
	if (!e && !rfs_is_dir(&n))
		e = ENOTDIR;
	if (!e) {
		/* A snapshot of the entries: offsets stay stable while the caller reads. */
		int r = rfs_dir_list(m->fs, &n, &d->ents, &d->count);
		e = r ? err_of(m, r) : 0;
	}
	if (!e) {
		d->next = m->dirs;
		if (m->dirs)
			m->dirs->prev = d;
		m->dirs = d;
	}
	pthread_mutex_unlock(&m->lock);
	if (e) {
		free(d);
		fuse_reply_err(req, e);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	fuse_reply_open(req, fi);
}

/* Does directory ino still name e (an entry of an opendir snapshot whose node is gone)? */
static int still_named(struct mnt *m, fuse_ino_t ino, const struct rfs_dirent *e)
{
	struct rfs_node dir;
	uint32_t id;
	int named = get_node(m, ino, &dir) == 0 &&
		    rfs_dir_lookup(m->fs, &dir, e->name, e->len, &id) == 0 && id == e->id;
	rx_clear(m->ctx);
	return named;
}

/*
 * Bring the nodes of the entries one reply can hold into the block cache at
 * once: read in address order, nearby nodes in one request, instead of a read
 * each as the loop below meets them.
 */
static void cache_listed_nodes(struct mnt *m, const struct dirh *d, off_t off, size_t size, int plus)
{
	/* the smallest entry a reply holds: the kernel's fixed part (152 or 24 bytes) and an 8-byte name */
	size_t fits = size / (plus ? 160 : 32) + 1;
	size_t first = off > 2 ? (size_t)off - 2 : 0;
	if (first >= d->count)
		return;
	rfs_cache_entries(m->fs, d->ents + first, RX_MIN(RX_MIN(fits, d->count - first), (size_t)512));
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi, int plus)
{
	struct mnt *m = M(req);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&m->lock);
	cache_listed_nodes(m, d, off, size, plus);
	/* Offsets: 0 and 1 are "." and "..", entry k is k + 2. */
	for (off_t k = off; (uint64_t)k < d->count + 2; k++) {
		struct rfs_node n;
		struct stat st;
		const char *name;
		int damaged = 0;
		memset(&st, 0, sizeof(st));
		if (k < 2) {
			name = k == 0 ? "." : "..";
			st.st_ino = ino;
			st.st_mode = S_IFDIR;
			if (get_node(m, ino, &n) == 0)
				fill_stat(&n, &st);
			/* No parent pointers: ".." shows the directory's own number, as the reference does. */
		} else {
			struct rfs_dirent *e = &d->ents[k - 2];
			name = e->name;
			int r = rfs_node_get(m->fs, e->id, &n);
			rx_clear(m->ctx);
			if (r == -ENOENT && !still_named(m, ino, e))
				continue;	/* removed since opendir */
			if (r == 0) {
				fill_stat(&n, &st);
			} else {
				/*
				 * Damaged: the name is listed all the same, type unknown and
				 * no attributes, so that its lookup fails with EIO and nobody
				 * walking the tree misses it quietly.
				 */
				st.st_ino = e->id;
				damaged = 1;
			}
		}
		size_t need;
		if (plus) {
			struct fuse_entry_param ep;
			memset(&ep, 0, sizeof(ep));
			ep.attr = st;
			if (k >= 2 && !damaged) {
				ep.ino = st.st_ino;
				ep.attr_timeout = ep.entry_timeout = m->ttl;
			}
			/* ino 0: the kernel takes the name only, and asks lookup (EIO) for the rest. */
			need = fuse_add_direntry_plus(req, buf + used, size - used, name, &ep, k + 1);
			/* An entry the kernel takes counts as a lookup (not "." and ".."). */
			if (k >= 2 && !damaged && need <= size - used)
				count_add(&m->known, (uint32_t)st.st_ino, 1);
		} else {
			need = fuse_add_direntry(req, buf + used, size - used, name, &st, k + 1);
		}
		if (need > size - used)
			break;
		used += need;
	}
	pthread_mutex_unlock(&m->lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

static void dirh_free(struct mnt *m, struct dirh *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		m->dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	free(d->ents);
	free(d);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mnt *m = M(req);
	pthread_mutex_lock(&m->lock);
	dirh_free(m, (struct dirh *)(uintptr_t)fi->fh);
	pthread_mutex_unlock(&m->lock);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mnt *m = M(req);
	struct statvfs sv;
	uint64_t free_blocks = 0;
	memset(&sv, 0, sizeof(sv));
	pthread_mutex_lock(&m->lock);
	if (m->tx)
		free_blocks = rfs_tx_free_blocks(m->tx);
	else if (rfs_free_blocks(m->fs, &free_blocks) != 0)
		rx_clear(m->ctx);
	pthread_mutex_unlock(&m->lock);
	sv.f_bsize = RFS_BLOCK;
	sv.f_frsize = RFS_BLOCK;
	sv.f_blocks = m->fs->nblocks;
	sv.f_bfree = sv.f_bavail = free_blocks;
	sv.f_namemax = RFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/* ---- lifecycle ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/*
	 * The writeback cache lets small writes gather in the kernel's page cache. The
	 * kernel then owns file mtimes and sends them in setattr at close, fsync and
	 * writeback, so op_write leaves them alone. Safe because the mount is exclusive.
	 */
	struct mnt *m = userdata;
	if (!m->o->read_only && !m->o->no_writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		m->writeback = 1;
	}
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
}

static void op_destroy(void *userdata)
{
	struct mnt *m = userdata;
	pthread_mutex_lock(&m->lock);
	commit_locked(m);
	m->stopping = 1;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	/*
	 * No .flush: close(2) has nothing to do here (data reaches the filesystem
	 * by write, and commits by fsync or unmount), and without it the kernel
	 * stops sending FLUSH after the first ENOSYS: one round trip less per close.
	 */
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsync,
	.statfs = op_statfs,
	.create = op_create,
};

/* Commits what has waited long enough; the grouping interval bounds what a crash can lose. */
static void *committer(void *arg)
{
	struct mnt *m = arg;
	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		if (m->tx) {
			uint64_t due = m->dirty_since + (uint64_t)m->o->commit_ms * 1000000u, now = now_ns();
			if (now >= due) {
				commit_locked(m);
				continue;
			}
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t wait = due - now;
			ts.tv_sec += (time_t)(wait / 1000000000u);
			ts.tv_nsec += (long)(wait % 1000000000u);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&m->wake, &m->lock, &ts);
		} else {
			pthread_cond_wait(&m->wake, &m->lock);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/*
 * SIGTERM, SIGINT and SIGHUP stop the mount, but first the kernel's writeback
 * cache must reach us: data a program wrote into a file it still has open may
 * be in the kernel only. The handler wakes the stopper, which syncs the mount
 * through the still-running loop, then ends the loop.
 */
static int stop_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	if (!stop_requested) {
		stop_requested = 1;
		ssize_t w = write(stop_pipe[1], "s", 1);
		(void)w;
	}
}

struct stopper {
	struct mnt *m;
	struct fuse_session *se;
	pthread_t main_thread;
	const char *mountpoint;	/* absolute */
};

static void *stopper(void *arg)
{
	struct stopper *st = arg;
	char why = 0;
	while (read(stop_pipe[0], &why, 1) < 0 && errno == EINTR)
		;
	if (why != 's')
		return NULL;	/* the loop ended on its own */
	/* syncfs sends the kernel's inode times (and starts writing data back)... */
	int fd = open(st->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rx_sync_filesystem(fd);
		close(fd);
	}
	/*
	 * ...but need not wait until we have the data. Invalidating an open file's
	 * pages makes the kernel write the dirty ones to us and wait for the replies.
	 */
	pthread_mutex_lock(&st->m->lock);
	size_t n = 0;
	uint32_t *ids = rx_xmalloc((st->m->open.count + 1) * sizeof(*ids));
	IDMAP_FOREACH(&st->m->open, i)
		if (st->m->open.vals[i])
			ids[n++] = st->m->open.keys[i];
	pthread_mutex_unlock(&st->m->lock);
	for (size_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(st->se, ids[i], 0, 0);
	free(ids);
	fuse_session_exit(st->se);
	/* The main thread waits in the loop for a signal or a worker; this one wakes it. */
	pthread_kill(st->main_thread, SIGTERM);
	return NULL;
}

static void close_stop_pipe(void)
{
	for (int i = 0; i < 2; i++) {
		if (stop_pipe[i] >= 0)
			close(stop_pipe[i]);
		stop_pipe[i] = -1;
	}
}

static int set_stop_handlers(void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	int r = 0;
	r |= sigaction(SIGTERM, &sa, NULL);
	r |= sigaction(SIGINT, &sa, NULL);
	r |= sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = handler == SIG_DFL ? SIG_DFL : SIG_IGN;
	r |= sigaction(SIGPIPE, &sa, NULL);
	return r;
}

/* Threads of our own take no signals: they must reach the main thread, which waits in the loop. */
static int start_quiet_thread(pthread_t *thr, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(thr, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Nodes left on the release list by an earlier session: nothing has them open now. */
static int release_leftovers(struct mnt *m)
{
	uint32_t *ids;
	size_t count;
	int r = rfs_release_ids(m->fs, &ids, &count);
	if (r || count == 0 || m->o->read_only) {
		if (r == 0)
			free(ids);
		return r;
	}
	int e;
	struct rfs_tx *tx = tx_of(m, &e);
	if (!tx) {
		free(ids);
		return -e;
	}
	for (size_t i = 0; i < count && r == 0; i++) {
		struct rfs_node n;
		r = rfs_node_get(m->fs, ids[i], &n);
		if (r == 0 && n.links == 0)
			r = rfs_node_destroy(tx, &n);
		if (r == 0)
			r = rfs_release_remove(tx, ids[i]);
	}
	free(ids);
	return r ? r : commit_locked(m);
}

static void tell(int fd, const char *msg)
{
	if (fd >= 0) {
		ssize_t w = write(fd, msg, strlen(msg));
		(void)w;
	}
}

int rx_mount_serve(struct rx_image *img, const char *mountpoint, const struct mount_opts *o)
{
	struct mnt m;
	memset(&m, 0, sizeof(m));
	m.img = img;
	m.ctx = img->ctx;
	m.o = o;
	m.ttl = 60.0;	/* an exclusive mount: nothing changes behind the kernel's back */
	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.wake, NULL);
	idmap_init(&m.open);
	idmap_init(&m.known);
	int r = rx_image_redoxfs(img, &m.fs);
	if (r == 0) {
		m.fs->is_open = is_open;
		m.fs->is_open_arg = &m;
		r = release_leftovers(&m);
	}
	if (r) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "%s\n", m.ctx->msg);
		tell(o->ready_fd, msg);
		idmap_free(&m.open);
		idmap_free(&m.known);
		return r;
	}

	char fsname[1100];
	snprintf(fsname, sizeof(fsname), "fsname=%s", img->path);
	char *argv[16];
	int argc = 0;
	argv[argc++] = "rximg";
	argv[argc++] = "-o";
	argv[argc++] = fsname;
#if HAVE_FUSE_SUBTYPE
	argv[argc++] = "-o";
	argv[argc++] = "subtype=rximg";
#endif
	if (o->read_only) {
		argv[argc++] = "-o";
		argv[argc++] = "ro";
	}
	if (o->allow_other) {
		argv[argc++] = "-o";
		argv[argc++] = "allow_other";
	}
	if (o->default_permissions) {
		argv[argc++] = "-o";
		argv[argc++] = "default_permissions";
	}
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), &m);
	fuse_opt_free_args(&args);	/* the session keeps what it parsed */
	if (!se) {
		tell(o->ready_fd, "cannot start a FUSE session\n");
		idmap_free(&m.open);
		idmap_free(&m.known);
		return rx_fail(m.ctx, EIO, "cannot start a FUSE session");
	}
	char *abs_mountpoint = realpath(mountpoint, NULL);
	stop_requested = 0;
	if (!abs_mountpoint || rx_pipe_cloexec(stop_pipe) != 0 || set_stop_handlers(on_stop_signal) != 0 ||
	    fuse_session_mount(se, mountpoint) != 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "cannot mount on %s (is /dev/fuse available and %s an "
			 "existing directory?)\n", mountpoint, mountpoint);
		tell(o->ready_fd, msg);
		set_stop_handlers(SIG_DFL);
		close_stop_pipe();
		free(abs_mountpoint);
		fuse_session_destroy(se);
		idmap_free(&m.open);
		idmap_free(&m.known);
		return rx_fail(m.ctx, EIO, "cannot mount on %s", mountpoint);
	}
	pthread_t thr, stop_thr;
	struct stopper st = { &m, se, pthread_self(), abs_mountpoint };
	start_quiet_thread(&thr, committer, &m);
	start_quiet_thread(&stop_thr, stopper, &st);
	tell(o->ready_fd, "OK\n");
	if (o->ready_fd >= 0)
		close(o->ready_fd);

	struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 10 };
	int lr = fuse_session_loop_mt(se, &cfg);
	if (!stop_requested) {
		ssize_t w = write(stop_pipe[1], "q", 1);
		(void)w;
	}
	pthread_join(stop_thr, NULL);
	set_stop_handlers(SIG_DFL);
	close_stop_pipe();
	free(abs_mountpoint);

	/* Unmounted or signalled: nothing is open or known any more; release and commit. */
	pthread_mutex_lock(&m.lock);
	idmap_free(&m.open);
	idmap_free(&m.known);
	idmap_init(&m.open);
	idmap_init(&m.known);
	r = m.o->read_only || m.failed ? 0 : release_leftovers(&m);
	if (r == 0)
		r = commit_locked(&m);
	m.stopping = 1;
	pthread_cond_signal(&m.wake);
	pthread_mutex_unlock(&m.lock);
	pthread_join(thr, NULL);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	while (m.dirs)
		dirh_free(&m, m.dirs);
	idmap_free(&m.open);
	idmap_free(&m.known);
	if (r == 0 && m.failed)
		r = -EIO;
	return r ? r : (lr < 0 ? lr : 0);
}
