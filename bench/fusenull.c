/*
 * fusenull: a FUSE filesystem that does no filesystem work, for bench/mount.sh.
 *
 * Names, attributes and sizes live in memory; written data is dropped and
 * reads return zeros. What a run through it costs is what FUSE itself costs on
 * the machine (the kernel, /dev/fuse, the round trips and task switches of
 * each request), the floor under any FUSE filesystem, rximg's mount included.
 * It answers the way rximg's mount does: the same entry and attribute timeout,
 * negative entries cached, READDIRPLUS and the writeback cache when offered,
 * no FLUSH handler.
 *
 * Usage: fusenull [-s] [-t SECONDS] MOUNTPOINT   (-s: single-threaded loop)
 * Build: gcc -O2 -o fusenull bench/fusenull.c $(pkg-config --cflags --libs fuse3)
 */
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE
#include <fuse_lowlevel.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct node {
	struct stat st;
	fuse_ino_t parent;
	char *name;
	fuse_ino_t *kids;	/* a directory's children, in creation order */
	size_t nkids, capkids;
};

static struct node *nodes;	/* nodes[ino], ino 1 is the root */
static size_t nnodes, capnodes;
static fuse_ino_t *slots;	/* open addressing: (parent, name) -> ino, 0 empty */
static size_t nslots = 1024;
static double ttl = 1.0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("fusenull");
		exit(1);
	}
	return p;
}

static size_t slot_of(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	size_t i = h & (nslots - 1);
	while (slots[i] && !(nodes[slots[i]].parent == parent && !strcmp(nodes[slots[i]].name, name)))
		i = (i + 1) & (nslots - 1);
	return i;
}

static fuse_ino_t find(fuse_ino_t parent, const char *name)
{
	return slots[slot_of(parent, name)];
}

static fuse_ino_t add(fuse_ino_t parent, const char *name, mode_t mode)
{
	if (nnodes * 2 >= nslots) {
		fuse_ino_t *old = slots;
		size_t oldn = nslots;
		nslots *= 2;
		slots = calloc(nslots, sizeof(*slots));
		if (!slots)
			exit(1);
		for (size_t i = 0; i < oldn; i++)
			if (old[i])
				slots[slot_of(nodes[old[i]].parent, nodes[old[i]].name)] = old[i];
		free(old);
	}
	if (nnodes == capnodes) {
		capnodes = capnodes ? capnodes * 2 : 1024;
		nodes = xrealloc(nodes, capnodes * sizeof(*nodes));
	}
	fuse_ino_t ino = nnodes++;
	struct node *n = &nodes[ino];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->name = strdup(name);
	n->st.st_ino = ino;
	n->st.st_mode = mode;
	n->st.st_nlink = S_ISDIR(mode) ? 2 : 1;
	n->st.st_uid = getuid();
	n->st.st_gid = getgid();
	clock_gettime(CLOCK_REALTIME, &n->st.st_mtim);
	n->st.st_atim = n->st.st_ctim = n->st.st_mtim;
	if (parent) {
		struct node *p = &nodes[parent];
		if (p->nkids == p->capkids) {
			p->capkids = p->capkids ? p->capkids * 2 : 16;
			p->kids = xrealloc(p->kids, p->capkids * sizeof(*p->kids));
		}
		p->kids[p->nkids++] = ino;
		slots[slot_of(parent, name)] = ino;
	}
	return ino;
}

static void entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { .ino = ino, .attr = nodes[ino].st,
				      .attr_timeout = ttl, .entry_timeout = ttl };
	pthread_mutex_unlock(&lock);
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pthread_mutex_lock(&lock);
	fuse_ino_t ino = find(parent, name);
	if (ino)
		return entry(req, ino);
	pthread_mutex_unlock(&lock);
	struct fuse_entry_param ne = { .entry_timeout = ttl };
	fuse_reply_entry(req, &ne);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	pthread_mutex_lock(&lock);
	struct stat st = nodes[ino].st;
	pthread_mutex_unlock(&lock);
	fuse_reply_attr(req, &st, ttl);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int set,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&lock);
	struct stat *st = &nodes[ino].st;
	if (set & FUSE_SET_ATTR_MODE)
		st->st_mode = (st->st_mode & S_IFMT) | (attr->st_mode & 07777);
	if (set & FUSE_SET_ATTR_SIZE)
		st->st_size = attr->st_size;
	if (set & FUSE_SET_ATTR_ATIME)
		st->st_atim = set & FUSE_SET_ATTR_ATIME_NOW ? now : attr->st_atim;
	if (set & FUSE_SET_ATTR_MTIME)
		st->st_mtim = set & FUSE_SET_ATTR_MTIME_NOW ? now : attr->st_mtim;
	st->st_ctim = now;
	struct stat out = *st;
	pthread_mutex_unlock(&lock);
	fuse_reply_attr(req, &out, ttl);
}

static void make(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		 struct fuse_file_info *fi)
{
	pthread_mutex_lock(&lock);
	if (find(parent, name)) {
		pthread_mutex_unlock(&lock);
		fuse_reply_err(req, EEXIST);
		return;
	}
	fuse_ino_t ino = add(parent, name, mode);
	struct fuse_entry_param e = { .ino = ino, .attr = nodes[ino].st,
				      .attr_timeout = ttl, .entry_timeout = ttl };
	pthread_mutex_unlock(&lock);
	if (fi)
		fuse_reply_create(req, &e, fi);
	else
		fuse_reply_entry(req, &e);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	make(req, parent, name, S_IFREG | (mode & 07777), fi);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make(req, parent, name, S_IFDIR | (mode & 07777), NULL);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)buf;
	(void)fi;
	pthread_mutex_lock(&lock);
	if (nodes[ino].st.st_size < off + (off_t)size)
		nodes[ino].st.st_size = off + (off_t)size;
	pthread_mutex_unlock(&lock);
	fuse_reply_write(req, size);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static char zeros[1 << 20];
	(void)fi;
	pthread_mutex_lock(&lock);
	off_t end = nodes[ino].st.st_size;
	pthread_mutex_unlock(&lock);
	size_t n = off >= end ? 0 : (size_t)(end - off) < size ? (size_t)(end - off) : size;
	fuse_reply_buf(req, zeros, n < sizeof(zeros) ? n : sizeof(zeros));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	char *buf = malloc(size);
	size_t used = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&lock);
	struct node *d = &nodes[ino];
	/* offsets: 1 ".", 2 "..", 2 + i + 1 the i-th child */
	for (off_t o = off; o < (off_t)d->nkids + 2; o++) {
		fuse_ino_t kid = o == 0 ? ino : o == 1 ? (d->parent ? d->parent : ino) : d->kids[o - 2];
		const char *name = o == 0 ? "." : o == 1 ? ".." : nodes[kid].name;
		struct fuse_entry_param e = { .ino = kid, .attr = nodes[kid].st,
					      .attr_timeout = ttl, .entry_timeout = ttl };
		size_t n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, o + 1);
		if (n > size - used)
			break;
		used += n;
	}
	pthread_mutex_unlock(&lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.create = op_create,
	.mkdir = op_mkdir,
	.open = op_open,
	.release = op_release,
	.write = op_write,
	.read = op_read,
	.fsync = op_fsync,
	.opendir = op_open,
	.releasedir = op_release,
	.readdirplus = op_readdirplus,
};

int main(int argc, char **argv)
{
	int single = 0, c;
	while ((c = getopt(argc, argv, "st:")) != -1) {
		if (c == 's')
			single = 1;
		else if (c == 't')
			ttl = atof(optarg);
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: fusenull [-s] [-t SECONDS] MOUNTPOINT\n");
		return 2;
	}
	slots = calloc(nslots, sizeof(*slots));
	add(0, "", 0);			/* ino 0: unused */
	add(0, "/", S_IFDIR | 0755);	/* ino 1: the root */
	char *fargv[] = { argv[0], "-o", "fsname=fusenull", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[optind]) != 0)
		return 1;
	int r;
	if (single) {
		r = fuse_session_loop(se);
	} else {
		struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 10 };
		r = fuse_session_loop_mt(se, &cfg);
	}
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return r ? 1 : 0;
}
