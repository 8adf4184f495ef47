/*
 * rximg manifest and rximg diff: a tree as one record per path (type, mode,
 * owner, size, times, links, symlink target, SHA-256 of the content), read from
 * any place the resolver reaches (RedoxFS, an initfs archive, FAT), from a
 * manifest file or from a host directory. A whole-disk diff adds what lies
 * outside the trees: the partition table, the RedoxFS header, the ESP.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "idmap.h"
#include "json.h"
#include "table.h"
#include "progress.h"

/* The fields of a path's record, then those of the partition table, a partition and the RedoxFS header. */
enum field {
	F_TYPE, F_MODE, F_UID, F_GID, F_SIZE, F_MTIME, F_CTIME, F_NLINK, F_TARGET, F_CONTENT,
	F_GUID, F_NAME, F_FIRST_LBA, F_LAST_LBA, F_UUID, F_COUNT
};
static const char *const field_names[F_COUNT] = {
	"type", "mode", "uid", "gid", "size", "mtime", "ctime", "nlink", "target", "content",
	"guid", "name", "first_lba", "last_lba", "uuid",
};
#define ALL_FIELDS ((1u << F_COUNT) - 1)
/* What every record of a RedoxFS or a manifest has; target and content depend on the type. */
#define NODE_FIELDS ((1u << F_TARGET) - 1)
/*
 * What a host directory entry has for sure: a host has no creation time, and its
 * directories' sizes and link counts mean other things.
 */
#define HOST_FIELDS (1u << F_TYPE | 1u << F_MODE | 1u << F_UID | 1u << F_GID | 1u << F_MTIME)

struct mrec {
	char *path;		/* absolute, as read: "/", "/etc/init.rc" */
	char *target;		/* symlinks; else NULL */
	char type[12];		/* "dir", "file", "symlink", "socket", "other" */
	unsigned mode, uid, gid, nlink;
	uint64_t size, mtime, ctime;
	uint32_t mtime_ns, ctime_ns;
	uint8_t sha[32];	/* of the content, or of a symlink's target */
	unsigned known;		/* 1 << F_x for every field this source knows */
	int damaged;		/* could not be read whole (reported): not printed, not compared */
};

struct mset {
	struct mrec *v;
	size_t n, cap;
	const char *what;	/* named in messages */
	size_t damaged;		/* records marked damaged */
	struct rx_res *res;	/* read from a place: where archives in it can be entered */
};

static struct mrec *mset_add(struct mset *s, char *path)
{
	if (s->n == s->cap)
		s->v = rx_xrealloc(s->v, (s->cap = s->cap ? s->cap * 2 : 256) * sizeof(*s->v));
	struct mrec *r = &s->v[s->n++];
	memset(r, 0, sizeof(*r));
	r->path = path;
	return r;
}

static void mset_free(struct mset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].target);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int mrec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mrec *)a)->path, ((const struct mrec *)b)->path);
}

static void sha256(EVP_MD_CTX *md, const void *buf, size_t len, uint8_t out[32])
{
	unsigned dlen = 0;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, buf, len);
	EVP_DigestFinal_ex(md, out, &dlen);
}

/* ---- from a place (RedoxFS, an initfs archive, FAT) ---- */

/* The record fields a filesystem stores (an initfs keeps no owners or times, FAT no modes). */
static unsigned vfs_fields(unsigned has)
{
	unsigned k = 1u << F_TYPE | 1u << F_SIZE;
	if (has & VFS_HAS_PERMS)
		k |= 1u << F_MODE;
	if (has & VFS_HAS_OWNER)
		k |= 1u << F_UID | 1u << F_GID;
	if (has & (VFS_HAS_TIMES | VFS_HAS_MTIME))
		k |= 1u << F_MTIME;
	if (has & VFS_HAS_TIMES)
		k |= 1u << F_CTIME;
	if (has & VFS_HAS_HARDLINKS)
		k |= 1u << F_NLINK;
	return k;
}

static void fill_from_attr(struct mrec *m, const struct vfs_attr *a, unsigned has)
{
	snprintf(m->type, sizeof(m->type), "%s", node_type_name(a->mode));
	m->mode = a->mode & RFS_MODE_PERM;
	m->uid = a->uid;
	m->gid = a->gid;
	m->size = a->size;
	m->mtime = a->mtime.sec;
	m->mtime_ns = a->mtime.nsec;
	m->ctime = a->ctime.sec;
	m->ctime_ns = a->ctime.nsec;
	m->nlink = a->nlink;
	m->known = vfs_fields(has);
}

struct walk {
	struct vfs *v;
	const char *label;
	struct mset *s;
	size_t at;		/* the record of the directory being listed */
	struct idmap dirs;	/* directories seen: a loop is an error, not a hang */
};

/* A path that cannot be read whole: reported now, then left out of the manifest and the diff. */
static void mark_damaged(struct vfs *v, const char *label, struct mset *s, struct mrec *m)
{
	report(v->ctx, label, m->path);
	rx_clear(v->ctx);
	m->damaged = 1;
	s->damaged++;
}

static void collect(struct walk *w, size_t at);

static int collect_entry(void *arg, const char *name, size_t len, const struct vfs_attr *a)
{
	struct walk *w = arg;
	const char *bad = vfs_name_problem(name, len);
	if (bad) {
		/* No path can name it: the directory is reported, the entry left out. */
		rx_fail(w->v->ctx, EINVAL, "an entry with %s", bad);
		report(w->v->ctx, w->label, w->s->v[w->at].path);
		rx_clear(w->v->ctx);
		w->s->damaged++;
		return 0;
	}
	/* s->v moves as it grows: index it afresh after every add. */
	char *child = rx_path_join(w->s->v[w->at].path, name, len);
	size_t k = w->s->n;
	struct mrec *m = mset_add(w->s, child);
	if (!a) {
		mark_damaged(w->v, w->label, w->s, m);	/* the reason is on the ctx */
		return 0;
	}
	fill_from_attr(m, a, w->v->has);
	if (vfs_is_dir(a)) {
		void **seen = idmap_slot(&w->dirs, a->ino, 1);
		if (seen && *seen) {
			rx_fail(w->v->ctx, ELOOP, "directory node %llu is reached a second time "
				"(a directory loop or hard-linked directory)", (unsigned long long)a->ino);
			mark_damaged(w->v, w->label, w->s, m);
			return 0;
		}
		if (seen)
			*seen = (void *)1;
		collect(w, k);
	}
	return 0;
}

/* Every path below the directory of record at, unsorted. Damage is reported and marked, and the walk goes on. */
static void collect(struct walk *w, size_t at)
{
	size_t up = w->at;
	w->at = at;
	/* Sorted: a reader that refuses a name stored twice refuses it here. */
	if (vfs_readdir(w->v, w->s->v[at].path, 1, collect_entry, w) != 0)
		mark_damaged(w->v, w->label, w->s, &w->s->v[at]);
	w->at = up;
}

struct hasher {
	EVP_MD_CTX *md;
	struct progress pr;
};

static int put_sha(void *arg, const uint8_t *buf, size_t len)
{
	struct hasher *h = arg;
	EVP_DigestUpdate(h->md, buf, len);
	progress_add(&h->pr, len);
	return 0;
}

static int hash_content(struct vfs *v, struct mrec *m, struct hasher *h)
{
	if (m->target) {
		sha256(h->md, m->target, strlen(m->target), m->sha);
	} else if (strcmp(m->type, "dir")) {
		unsigned dlen = 0;
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
		int r = vfs_read_seq(v, m->path, put_sha, h);
		if (r)
			return r;
		EVP_DigestFinal_ex(h->md, m->sha, &dlen);
	} else {
		return 0;
	}
	m->known |= 1u << F_CONTENT;
	return 0;
}

/*
 * The tree at top in v, sorted by path bytes. Reading every file can take a
 * while: a progress bar on a terminal, unless quiet. A path that cannot be read
 * whole is reported and marked damaged (s->damaged counts them); -1 only when
 * the tree cannot be read at all.
 */
static int mset_from_vfs(struct vfs *v, const char *label, const char *top, struct mset *s, const char *verb,
			 int quiet)
{
	struct vfs_attr a;
	if (vfs_stat(v, top, 1, &a) != 0) {
		report(v->ctx, label, top);
		rx_clear(v->ctx);
		return -1;
	}
	struct walk w = { .v = v, .label = label, .s = s };
	idmap_init(&w.dirs);
	fill_from_attr(mset_add(s, rx_xstrdup(top)), &a, v->has);
	if (vfs_is_dir(&a)) {
		void **seen = idmap_slot(&w.dirs, a.ino, 1);
		if (seen)
			*seen = (void *)1;
		collect(&w, 0);
	}
	idmap_free(&w.dirs);
	qsort(s->v, s->n, sizeof(*s->v), mrec_cmp);
	uint64_t total = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct mrec *m = &s->v[i];
		if (m->damaged)
			continue;
		if (!strcmp(m->type, "symlink")) {
			if (vfs_readlink(v, m->path, &m->target) != 0) {
				mark_damaged(v, label, s, m);
			} else {
				/* The target as read (an archive may store another spelling of it). */
				m->size = strlen(m->target);
				m->known |= 1u << F_TARGET;
			}
		} else if (strcmp(m->type, "dir")) {
			total += m->size;
		}
	}
	struct hasher h = { .md = EVP_MD_CTX_new() };
	progress_init(&h.pr, verb, total, quiet);
	for (size_t i = 0; i < s->n; i++) {
		struct mrec *m = &s->v[i];
		if (!m->damaged && hash_content(v, m, &h) != 0)
			mark_damaged(v, label, s, m);
	}
	progress_done(&h.pr);
	EVP_MD_CTX_free(h.md);
	return 0;
}

/* ---- from a manifest file ---- */

static const char manifest_header[] = "# path\ttype\tmode\tuid\tgid\tsize\tmtime\tctime\tnlink\tsymlink_target\tsha256";

static int parse_u64(const char *s, int base, uint64_t *v)
{
	if (!*s || *s == '-' || *s == '+')
		return 0;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, base);
	*v = x;
	return !*end && errno == 0;
}

static int parse_u32(const char *s, int base, unsigned *v)
{
	uint64_t x;
	if (!parse_u64(s, base, &x) || x > UINT32_MAX)
		return 0;
	*v = (unsigned)x;
	return 1;
}

static int parse_time(char *s, uint64_t *sec, uint32_t *nsec)
{
	char *dot = strchr(s, '.');
	unsigned ns = 0;
	if (!dot || strlen(dot + 1) != 9)
		return 0;
	*dot = 0;
	int ok = parse_u64(s, 10, sec) && parse_u32(dot + 1, 10, &ns) && ns < 1000000000u;
	*dot = '.';
	*nsec = ns;
	return ok;
}

static int parse_sha(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		char byte[3] = { s[2 * i], s[2 * i + 1], 0 };
		if (!parse_u32(byte, 16, &v))
			return 0;
		out[i] = (uint8_t)v;
	}
	return 1;
}

/* One line of a manifest; returns the name of the bad column, or NULL. */
static const char *parse_line(char *line, struct mset *s)
{
	char *col[11];
	int n = 0;
	for (char *p = line; n < 11; n++) {
		col[n] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = 0;
	}
	if (n != 10)
		return "columns (11 tab-separated expected)";
	if (col[0][0] != '/' || !unescape_field(col[0]))
		return "path";
	struct mrec *m = mset_add(s, rx_xstrdup(col[0]));
	if (!*col[1] || strlen(col[1]) >= sizeof(m->type))
		return "type";
	strcpy(m->type, col[1]);
	uint64_t v;
	m->known = NODE_FIELDS;
	/* "-": a field the tree's filesystem does not store (an initfs has no owners or times). */
#define UNKNOWN(c, f) (!strcmp(col[c], "-") ? (m->known &= ~(1u << (f)), 1) : 0)
	if (!UNKNOWN(2, F_MODE) && (!parse_u32(col[2], 8, &m->mode) || m->mode > 07777))
		return "mode";
	if (!UNKNOWN(3, F_UID) && !parse_u32(col[3], 10, &m->uid))
		return "uid";
	if (!UNKNOWN(4, F_GID) && !parse_u32(col[4], 10, &m->gid))
		return "gid";
	if (!parse_u64(col[5], 10, &v))
		return "size";
	m->size = v;
	if (!UNKNOWN(6, F_MTIME) && !parse_time(col[6], &m->mtime, &m->mtime_ns))
		return "mtime";
	if (!UNKNOWN(7, F_CTIME) && !parse_time(col[7], &m->ctime, &m->ctime_ns))
		return "ctime";
	if (!UNKNOWN(8, F_NLINK) && !parse_u32(col[8], 10, &m->nlink))
		return "nlink";
#undef UNKNOWN
	if (strcmp(col[9], "-")) {
		if (!unescape_field(col[9]))
			return "symlink_target";
		m->target = rx_xstrdup(col[9]);
		m->known |= 1u << F_TARGET;
	}
	if (strcmp(col[10], "-")) {
		if (!parse_sha(col[10], m->sha))
			return "sha256";
		m->known |= 1u << F_CONTENT;
	}
	return NULL;
}

static int mset_from_manifest(const char *file, struct mset *s)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "rximg: %s: %s\n", file, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int r = 0;
	while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if ((size_t)len != strlen(line)) {
			fprintf(stderr, "rximg: %s: line %lu: a NUL byte\n", file, lineno);
			r = -1;
		} else if (lineno == 1) {
			if (strcmp(line, manifest_header)) {
				fprintf(stderr, "rximg: %s: not a manifest (its first line is not rximg manifest's header)\n", file);
				r = -1;
			}
		} else {
			const char *bad = parse_line(line, s);
			if (bad) {
				fprintf(stderr, "rximg: %s: line %lu: bad %s\n", file, lineno, bad);
				r = -1;
			}
		}
	}
	if (r == 0 && ferror(f)) {
		fprintf(stderr, "rximg: %s: %s\n", file, strerror(errno));
		r = -1;
	}
	if (r == 0 && lineno < 2) {
		fprintf(stderr, "rximg: %s: an empty manifest\n", file);
		r = -1;
	}
	free(line);
	fclose(f);
	if (r == 0)
		qsort(s->v, s->n, sizeof(*s->v), mrec_cmp);
	for (size_t i = 1; r == 0 && i < s->n; i++) {
		if (!strcmp(s->v[i - 1].path, s->v[i].path)) {
			fprintf(stderr, "rximg: %s: %s is listed twice\n", file, s->v[i].path);
			r = -1;
		}
	}
	return r;
}

/* ---- from a host directory ---- */

static int sha_of_host_file(int dirfd, const char *name, EVP_MD_CTX *md, uint8_t out[32])
{
	/* O_NONBLOCK: a file swapped for a FIFO since the lstat must not hang the walk. */
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	static uint8_t buf[1 << 16];
	unsigned dlen = 0;
	ssize_t n;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	int saved = errno;
	close(fd);
	errno = saved;
	EVP_DigestFinal_ex(md, out, &dlen);
	return n < 0 ? -1 : 0;
}

static const char *host_type(mode_t mode)
{
	return S_ISDIR(mode) ? "dir" : S_ISREG(mode) ? "file" : S_ISLNK(mode) ? "symlink"
	       : S_ISSOCK(mode) ? "socket" : "other";
}

/* Entries of the host directory dirfd (shown as path), recursively; symlinks are not followed. */
static int walk_host(int dirfd, const char *host, const char *path, struct mset *s, EVP_MD_CTX *md)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		fprintf(stderr, "rximg: %s: %s\n", host, strerror(errno));
		close(dirfd);
		return -1;
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *hchild = rx_path_join(host, e->d_name, strlen(e->d_name));
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			fprintf(stderr, "rximg: %s: %s\n", hchild, strerror(errno));
			free(hchild);
			r = -1;
			break;
		}
		struct mrec *m = mset_add(s, rx_path_join(path, e->d_name, strlen(e->d_name)));
		snprintf(m->type, sizeof(m->type), "%s", host_type(st.st_mode));
		m->mode = st.st_mode & 07777;
		m->uid = st.st_uid;
		m->gid = st.st_gid;
		m->size = (uint64_t)st.st_size;
		m->mtime = rx_stat_mtime(&st).tv_sec < 0 ? 0 : (uint64_t)rx_stat_mtime(&st).tv_sec;
		m->mtime_ns = (uint32_t)rx_stat_mtime(&st).tv_nsec;
		m->nlink = (unsigned)st.st_nlink;
		m->known = HOST_FIELDS;
		if (!S_ISDIR(st.st_mode))
			m->known |= 1u << F_SIZE | 1u << F_NLINK;
		if (S_ISLNK(st.st_mode)) {
			char *t = rx_xmalloc((size_t)st.st_size + 1);
			ssize_t n = readlinkat(dirfd, e->d_name, t, (size_t)st.st_size + 1);
			if (n < 0 || n > st.st_size) {
				fprintf(stderr, "rximg: %s: %s\n", hchild, n < 0 ? strerror(errno) : "changed while read");
				free(t);
				r = -1;
			} else {
				t[n] = 0;
				m->target = t;
				sha256(md, t, (size_t)n, m->sha);
				m->known |= 1u << F_TARGET | 1u << F_CONTENT;
			}
		} else if (S_ISREG(st.st_mode)) {
			if (sha_of_host_file(dirfd, e->d_name, md, m->sha) != 0) {
				fprintf(stderr, "rximg: %s: %s\n", hchild, strerror(errno));
				r = -1;
			}
			m->known |= 1u << F_CONTENT;
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				fprintf(stderr, "rximg: %s: %s\n", hchild, strerror(errno));
				r = -1;
			} else {
				r = walk_host(sub, hchild, m->path, s, md);
			}
		}
		free(hchild);
	}
	if (r == 0 && errno) {
		fprintf(stderr, "rximg: %s: %s\n", host, strerror(errno));
		r = -1;
	}
	closedir(d);
	return r;
}

static int mset_from_host(const char *dir, struct mset *s)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "rximg: %s: %s\n", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct mrec *m = mset_add(s, rx_xstrdup("/"));
	snprintf(m->type, sizeof(m->type), "dir");
	m->mode = st.st_mode & 07777;
	m->uid = st.st_uid;
	m->gid = st.st_gid;
	m->mtime = rx_stat_mtime(&st).tv_sec < 0 ? 0 : (uint64_t)rx_stat_mtime(&st).tv_sec;
	m->mtime_ns = (uint32_t)rx_stat_mtime(&st).tv_nsec;
	m->known = HOST_FIELDS;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = walk_host(fd, dir, "/", s, md);
	EVP_MD_CTX_free(md);
	if (r == 0)
		qsort(s->v, s->n, sizeof(*s->v), mrec_cmp);
	return r;
}

/* A host directory, a manifest file (by its header) or else a place; p is opened for a place. */
static int mset_load(const char *arg, struct mset *s, struct place *p, int quiet)
{
	struct stat st;
	s->what = arg;
	int exists = stat(arg, &st) == 0;
	if (exists && S_ISDIR(st.st_mode))
		return mset_from_host(arg, s);
	if (exists && S_ISREG(st.st_mode) && !rx_is_initfs_file(arg)) {
		char head[sizeof(manifest_header)] = { 0 };
		FILE *f = fopen(arg, "r");
		size_t got = f ? fread(head, 1, sizeof(head) - 1, f) : 0;
		if (f)
			fclose(f);
		if (got == sizeof(head) - 1 && !memcmp(head, manifest_header, got))
			return mset_from_manifest(arg, s);
	}
	if (place_open(arg, 0, p))
		return -1;
	const char *top = p->path;
	/* An archive named as a side is compared as its tree (two initfs images, member by member). */
	if (rx_vfs_is_archive(p->v, top)) {
		if (rx_res_enter(p->res, top) != 0) {
			report(p->c, NULL, NULL);
			rx_clear(p->c);
			return -1;
		}
		p->v = rx_res_vfs(p->res);
		p->label = p->res->label;
		top = "/";
	}
	s->res = p->res;
	return mset_from_vfs(p->v, p->label, top, s, "diff", quiet);
}

/* ---- manifest ---- */

/*
 * One manifest line: the fields of the header, in its order. A field the
 * tree's filesystem does not store is left out of the JSON; the text shows
 * "-" in its place (the *_NA fields, which only the text has).
 */
enum { M_PATH, M_TYPE, M_MODE, M_UID, M_GID, M_SIZE, M_MTIME, M_CTIME, M_NLINK, M_TARGET, M_SHA,
       M_MODE_NA, M_OWNER_NA, M_MTIME_NA, M_CTIME_NA, M_NLINK_NA, M_TARGET_NA, M_SHA_NA };
static const struct tfield mrec_fields[] = {
	[M_PATH] = { "path", TK_STR, 0 },	[M_TYPE] = { "type", TK_STR, 0 },
	[M_MODE] = { "mode", TK_MODE, 0 },	[M_UID] = { "uid", TK_COUNT, 0 },
	[M_GID] = { "gid", TK_COUNT, 0 },	[M_SIZE] = { "size", TK_COUNT, 0 },
	[M_MTIME] = { "mtime", TK_TIME, 0 },	[M_CTIME] = { "ctime", TK_TIME, 0 },
	[M_NLINK] = { "nlink", TK_COUNT, 0 },	[M_TARGET] = { "symlink_target", TK_STR, 0 },
	[M_SHA] = { "sha256", TK_STR, 0 },
	[M_MODE_NA] = { NULL, TK_STR, 0 },	[M_OWNER_NA] = { NULL, TK_STR, 0 },
	[M_MTIME_NA] = { NULL, TK_STR, 0 },	[M_CTIME_NA] = { NULL, TK_STR, 0 },
	[M_NLINK_NA] = { NULL, TK_STR, 0 },	[M_TARGET_NA] = { NULL, TK_STR, 0 },
	[M_SHA_NA] = { NULL, TK_STR, 0 },
};
static const struct tcol mrec_cols[] = {
	{ M_PATH, "%e", 0 },	{ M_TYPE, "\t%s", 0 },
	{ M_MODE, "\t%s", 0 },	{ M_MODE_NA, "\t-", 0 },
	{ M_UID, "\t%s", 0 },	{ M_GID, "\t%s", 0 },	{ M_OWNER_NA, "\t-\t-", 0 },
	{ M_SIZE, "\t%s", 0 },
	{ M_MTIME, "\t%s", 0 },	{ M_MTIME_NA, "\t-", 0 },
	{ M_CTIME, "\t%s", 0 },	{ M_CTIME_NA, "\t-", 0 },
	{ M_NLINK, "\t%s", 0 },	{ M_NLINK_NA, "\t-", 0 },
	{ TEXT_LIT, "\t", 0 },
	{ M_TARGET, "%e", 0 },	{ M_TARGET_NA, "-", 0 },
	{ TEXT_LIT, "\t", 0 },
	{ M_SHA, "%s", 0 },	{ M_SHA_NA, "-", 0 },
	{ TEXT_LIT, "\n", 0 },
};
static const struct tlayout mrec_layout = LAYOUT(mrec_cols);

static void mrec_print(struct out *o, const struct mrec *m)
{
	struct record r;
	char sha[65];
	RECORD_INIT(&r, mrec_fields);
	rec_str(&r, M_PATH, m->path);
	rec_str(&r, M_TYPE, m->type);
	if (m->known & 1u << F_MODE)
		rec_u64(&r, M_MODE, m->mode);
	else
		rec_str(&r, M_MODE_NA, "-");
	if (m->known & 1u << F_UID) {
		rec_u64(&r, M_UID, m->uid);
		rec_u64(&r, M_GID, m->gid);
	} else {
		rec_str(&r, M_OWNER_NA, "-");
	}
	rec_u64(&r, M_SIZE, m->size);
	if (m->known & 1u << F_MTIME)
		rec_time(&r, M_MTIME, m->mtime, m->mtime_ns);
	else
		rec_str(&r, M_MTIME_NA, "-");
	if (m->known & 1u << F_CTIME)
		rec_time(&r, M_CTIME, m->ctime, m->ctime_ns);
	else
		rec_str(&r, M_CTIME_NA, "-");
	if (m->known & 1u << F_NLINK)
		rec_u64(&r, M_NLINK, m->nlink);
	else
		rec_str(&r, M_NLINK_NA, "-");
	if (m->target)
		rec_str(&r, M_TARGET, m->target);
	else
		rec_str(&r, M_TARGET_NA, "-");
	if (m->known & 1u << F_CONTENT) {
		for (int i = 0; i < 32; i++)
			snprintf(sha + 2 * i, 3, "%02x", m->sha[i]);
		rec_str(&r, M_SHA, sha);
	} else {
		rec_str(&r, M_SHA_NA, "-");
	}
	out_record(o, NULL, &r, &mrec_layout);
}

static const char manifest_help[] =
	"Usage: rximg manifest [--json] IMAGE[:pN|:esp][:/dir][:/member...]\n"
	"Print one tab-separated line per path, sorted by path bytes:\n"
	"path type mode uid gid size mtime ctime nlink symlink_target sha256\n"
	"(tab, newline and backslash in names are written as \\t, \\n, \\\\; '-' for what\n"
	"the filesystem does not store: an initfs archive has no owners or times, FAT no modes).\n"
	"A damaged path is reported on stderr and left out; the exit status is then 1.\n\n"
	"      --json  print a JSON array of objects with those fields instead (one left\n"
	"              out where the filesystem does not store it)\n"
	"  -h, --help  show this help\n";

int cmd_manifest(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, 0, 'J' }, { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	int c, json = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'J') {
			json = 1;
			continue;
		}
		if (c == 'h') {
			fputs(manifest_help, stdout);
			return EXIT_OK;
		}
		return bad_option("manifest", argv);
	}
	if (argc - optind != 1)
		return usage_error("manifest", "expected IMAGE[:/dir]");
	struct place p;
	struct mset s = { 0 };
	if (place_open(argv[optind], 0, &p))
		return EXIT_FAIL;
	int r = mset_from_vfs(p.v, p.label, p.path, &s, "manifest", 0);
	if (r == 0) {
		struct out o;
		out_init(&o, stdout, json);
		if (!json)
			printf("%s\n", manifest_header);
		out_arr(&o, NULL);
		for (size_t i = 0; i < s.n; i++)
			if (!s.v[i].damaged)
				mrec_print(&o, &s.v[i]);
		out_end_arr(&o);
		out_done(&o);
	}
	if (fflush(stdout) != 0)
		r = -1;
	mset_free(&s);
	place_close(&p);
	return r || s.damaged ? EXIT_FAIL : EXIT_OK;
}

/* ---- diff ---- */

/* The path below the set's top ("/" for the top itself); NULL if it is not below it. */
static const char *below(const struct mset *s, const char *path)
{
	const char *top = s->v[0].path;
	size_t n = strlen(top);
	while (n > 0 && top[n - 1] == '/')
		n--;	/* "IMAGE:/dir/" names /dir */
	if (n == 0)
		return path;
	if (strncmp(path, top, n))
		return NULL;
	return path[n] == 0 ? "/" : path[n] == '/' ? path + n : NULL;
}

static unsigned changed_fields(const struct mrec *a, const struct mrec *b, unsigned compare)
{
	unsigned both = a->known & b->known & compare, d = 0;
	if (both & 1u << F_TYPE && strcmp(a->type, b->type))
		return 1u << F_TYPE;	/* the rest compares unlike things */
	if (both & 1u << F_MODE && a->mode != b->mode)
		d |= 1u << F_MODE;
	if (both & 1u << F_UID && a->uid != b->uid)
		d |= 1u << F_UID;
	if (both & 1u << F_GID && a->gid != b->gid)
		d |= 1u << F_GID;
	if (both & 1u << F_SIZE && a->size != b->size)
		d |= 1u << F_SIZE;
	if (both & 1u << F_MTIME && (a->mtime != b->mtime || a->mtime_ns != b->mtime_ns))
		d |= 1u << F_MTIME;
	if (both & 1u << F_CTIME && (a->ctime != b->ctime || a->ctime_ns != b->ctime_ns))
		d |= 1u << F_CTIME;
	if (both & 1u << F_NLINK && a->nlink != b->nlink)
		d |= 1u << F_NLINK;
	if (both & 1u << F_TARGET && strcmp(a->target, b->target))
		d |= 1u << F_TARGET;
	if (both & 1u << F_CONTENT && memcmp(a->sha, b->sha, 32))
		d |= 1u << F_CONTENT;
	return d;
}

struct report {
	int quiet;
	struct out *o;		/* text or JSON */
	size_t count;
	const char *prefix;	/* what the paths are in: "" (the tree), "esp:", "/boot/initfs:" */
	size_t trouble;		/* what could not be compared (reported) */
	const char *verb;
};

/* Is path (below the top) inside a damaged directory of s? Its listing there is unknown. */
static int under_damaged(const struct mset *s, const char *path)
{
	if (!s->damaged || !strcmp(path, "/"))
		return 0;
	if (s->v[0].damaged)
		return 1;
	const char *top = s->v[0].path;
	size_t tn = strlen(top);
	while (tn > 0 && top[tn - 1] == '/')
		tn--;
	/* Each proper ancestor of path below the top, as s spells it, looked up in the sorted set. */
	char *full = rx_xasprintf("%.*s%s", (int)tn, top, path), *rel = full + tn, *slash;
	int hit = 0;
	while (!hit && (slash = strrchr(rel, '/')) != rel) {
		*slash = 0;
		struct mrec key = { .path = full };
		const struct mrec *m = bsearch(&key, s->v, s->n, sizeof(*s->v), mrec_cmp);
		hit = m && m->damaged;
	}
	free(full);
	return hit;
}

/* One difference: "+ PATH", "- PATH" or "~ PATH\tfield,field" as text; path, change, fields as JSON. */
enum { D_SIGN, D_PATH, D_CHANGE, D_FIELDS, D_JOINED };
static const struct tfield diff_fields[] = {
	[D_SIGN] = { NULL, TK_STR, 0 },		[D_PATH] = { "path", TK_STR, 0 },
	[D_CHANGE] = { "change", TK_STR, 0 },	[D_FIELDS] = { "fields", TK_LIST, 0 },
	[D_JOINED] = { NULL, TK_STR, 0 },
};
static const struct tcol diff_cols[] = {
	{ D_SIGN, "%s ", 0 }, { D_PATH, "%e", 0 }, { D_JOINED, "\t%s", 0 }, { TEXT_LIT, "\n", 0 },
};
static const struct tlayout diff_layout = LAYOUT(diff_cols);

static void report_one(struct report *rp, char sign, const char *name, unsigned fields)
{
	rp->count++;
	if (rp->quiet)
		return;
	char *path = rx_xasprintf("%s%s", rp->prefix ? rp->prefix : "", name);
	const char *names[F_COUNT];
	char joined[256] = "";
	size_t n = 0, at = 0;
	for (int f = 0; f < F_COUNT; f++)
		if (fields & 1u << f) {
			names[n++] = field_names[f];
			at += (size_t)snprintf(joined + at, sizeof(joined) - at, "%s%s", at ? "," : "",
					       field_names[f]);
		}
	char signs[2] = { sign, 0 };
	struct record r;
	RECORD_INIT(&r, diff_fields);
	rec_str(&r, D_SIGN, signs);
	rec_str(&r, D_PATH, path);
	rec_str(&r, D_CHANGE, sign == '+' ? "added" : sign == '-' ? "removed" : "changed");
	if (sign == '~') {
		rec_list(&r, D_FIELDS, names, n);
		if (n)
			rec_str(&r, D_JOINED, joined);
	}
	out_record(rp->o, NULL, &r, &diff_layout);
	free(path);
}

static int diff_sets(const struct mset *a, const struct mset *b, unsigned compare, struct report *rp);

/*
 * The file at path holds an initfs archive on both sides (read from places):
 * compare the archives member by member, as "PATH:/member".
 */
static void diff_archives(const struct mset *a, const struct mset *b, const char *pa, const char *pb,
			  const char *shown, unsigned compare, struct report *rp)
{
	struct rx_res *ra = a->res, *rb = b->res;
	if (!ra || !rb || !rx_vfs_is_archive(rx_res_vfs(ra), pa) || !rx_vfs_is_archive(rx_res_vfs(rb), pb))
		return;
	if (ra->nlv == RX_RES_MAX_LEVELS || rb->nlv == RX_RES_MAX_LEVELS)
		return;	/* as deep as paths go: the archive is compared as a file only */
	struct mset ma = { 0 }, mb = { 0 };
	int r = 0, ina = rx_res_enter(ra, pa) == 0, inb = ina && rx_res_enter(rb, pb) == 0;
	if (!ina || !inb) {
		struct rx_res *bad = ina ? rb : ra;
		report(bad->ctx, NULL, NULL);
		rx_clear(bad->ctx);
		rp->trouble++;
		r = -1;
	}
	ma.what = a->what;
	mb.what = b->what;
	ma.res = ra;
	mb.res = rb;
	if (r == 0)
		r = mset_from_vfs(rx_res_vfs(ra), ra->label, "/", &ma, rp->verb, 1);
	if (r == 0)
		r = mset_from_vfs(rx_res_vfs(rb), rb->label, "/", &mb, rp->verb, 1);
	if (r == 0) {
		const char *up = rp->prefix;
		char *prefix = rx_xasprintf("%s%s:", up ? up : "", shown);
		rp->prefix = prefix;
		diff_sets(&ma, &mb, compare, rp);
		rp->prefix = up;
		free(prefix);
	} else if (ina && inb) {
		rp->trouble++;
	}
	rp->trouble += ma.damaged + mb.damaged;
	mset_free(&ma);
	mset_free(&mb);
	if (inb)
		rx_res_leave(rb);
	if (ina)
		rx_res_leave(ra);
}

static int diff_sets(const struct mset *a, const struct mset *b, unsigned compare, struct report *rp)
{
	size_t i = 0, k = 0;
	while (i < a->n || k < b->n) {
		const char *pa = i < a->n ? below(a, a->v[i].path) : NULL;
		const char *pb = k < b->n ? below(b, b->v[k].path) : NULL;
		if ((i < a->n && !pa) || (k < b->n && !pb)) {
			const struct mset *s = i < a->n && !pa ? a : b;
			const char *p = s == a ? a->v[i].path : b->v[k].path;
			fprintf(stderr, "rximg: %s: %s is not below the top of the tree, %s\n", s->what, p, s->v[0].path);
			return -1;
		}
		int c = !pa ? 1 : !pb ? -1 : strcmp(pa, pb);
		/* What damage hid on one side is no difference: it was reported as damage. */
		if (c < 0) {
			if (!under_damaged(b, pa))
				report_one(rp, '-', pa, 0);
			i++;
		} else if (c > 0) {
			if (!under_damaged(a, pb))
				report_one(rp, '+', pb, 0);
			k++;
		} else {
			unsigned d = a->v[i].damaged || b->v[k].damaged ? 0
				     : changed_fields(&a->v[i], &b->v[k], compare);
			if (d)
				report_one(rp, '~', pa, d);
			if (d & 1u << F_CONTENT)
				diff_archives(a, b, a->v[i].path, b->v[k].path, pa, compare, rp);
			i++;
			k++;
		}
	}
	return 0;
}

/* ---- whole disks: what lies outside the RedoxFS tree ---- */

/* A side that names a whole disk: IMAGE alone, its RedoxFS found as the loader finds it. */
static int whole_disk(const struct place *p)
{
	return p->res && p->res->spec.nseg == 0 && p->res->spec.partno == RX_PART_AUTO && p->res->nlv == 1 &&
	       p->res->lv[0].kind == RX_LV_REDOXFS;
}

static const struct rx_part *part_no(const struct rx_parttable *t, int partno)
{
	for (int i = 0; i < t->count; i++)
		if (t->parts[i].partno == partno)
			return &t->parts[i];
	return NULL;
}

#define LBA 512u

/* The partition table ("table") and each partition ("pN"), matched by number. */
static void diff_tables(const struct rx_parttable *ta, const struct rx_parttable *tb, unsigned compare,
			struct report *rp)
{
	if (!ta->type[0] || !tb->type[0]) {
		if (ta->type[0] || tb->type[0])
			report_one(rp, ta->type[0] ? '-' : '+', "table", 0);
	} else {
		unsigned d = (strcmp(ta->type, tb->type) ? 1u << F_TYPE : 0) |
			     (strcasecmp(ta->id, tb->id) ? 1u << F_GUID : 0);
		if (d & compare)
			report_one(rp, '~', "table", d & compare);
	}
	int last = 0;
	for (int i = 0; i < ta->count; i++)
		last = RX_MAX(last, ta->parts[i].partno);
	for (int i = 0; i < tb->count; i++)
		last = RX_MAX(last, tb->parts[i].partno);
	for (int n = 1; n <= last; n++) {
		const struct rx_part *pa = part_no(ta, n), *pb = part_no(tb, n);
		char name[16];
		snprintf(name, sizeof(name), "p%d", n);
		if (!pa || !pb) {
			if (pa || pb)
				report_one(rp, pa ? '-' : '+', name, 0);
			continue;
		}
		unsigned d = (strcasecmp(pa->type, pb->type) ? 1u << F_TYPE : 0) |
			     (strcasecmp(pa->uuid, pb->uuid) ? 1u << F_GUID : 0) |
			     (strcmp(pa->name, pb->name) ? 1u << F_NAME : 0) |
			     (pa->start != pb->start ? 1u << F_FIRST_LBA : 0) |
			     (pa->start + pa->size != pb->start + pb->size ? 1u << F_LAST_LBA : 0);
		if (d & compare)
			report_one(rp, '~', name, d & compare);
	}
}

/* The EFI system partition of a disk: 1 open, 0 none, -1 trouble (reported). */
static int open_esp_of(const char *image, const struct rx_parttable *t, struct rx_ctx *ctx, struct rx_res **out)
{
	int any = 0;
	for (int i = 0; i < t->count; i++)
		any |= rx_part_is_esp(&t->parts[i]);
	if (!any)
		return 0;
	char *arg = rx_xasprintf("%s:esp", image);
	struct rx_res_opts o;
	place_opts(&o, 0);
	int r = rx_res_open(ctx, arg, &o, out);
	free(arg);
	if (r) {
		report(ctx, NULL, NULL);
		rx_clear(ctx);
		return -1;
	}
	return 1;
}

/* Two whole disks: the partition tables, the RedoxFS headers, the ESPs' trees. */
static void diff_disks(struct place *a, struct place *b, unsigned compare, struct report *rp)
{
	struct rx_level *la = &a->res->lv[0], *lb = &b->res->lv[0];
	diff_tables(&la->img->table, &lb->img->table, compare, rp);
	unsigned d = (memcmp(la->fs->hdr.uuid, lb->fs->hdr.uuid, 16) ? 1u << F_UUID : 0) |
		     (la->fs->hdr.size != lb->fs->hdr.size ? 1u << F_SIZE : 0);
	if (d & compare)
		report_one(rp, '~', "redoxfs", d & compare);
	struct rx_ctx ca = { { 0 }, 0 }, cb = { { 0 }, 0 };
	struct rx_res *ea = NULL, *eb = NULL;
	int ha = open_esp_of(a->res->spec.image, &la->img->table, &ca, &ea);
	int hb = open_esp_of(b->res->spec.image, &lb->img->table, &cb, &eb);
	if (ha < 0 || hb < 0) {
		rp->trouble++;
	} else if (ha != hb) {
		report_one(rp, ha ? '-' : '+', "esp", 0);
	} else if (ha) {
		struct mset ma = { .what = a->arg, .res = ea }, mb = { .what = b->arg, .res = eb };
		if (mset_from_vfs(rx_res_vfs(ea), ea->label, "/", &ma, rp->verb, 1) == 0 &&
		    mset_from_vfs(rx_res_vfs(eb), eb->label, "/", &mb, rp->verb, 1) == 0) {
			rp->prefix = "esp:";
			diff_sets(&ma, &mb, compare, rp);
			rp->prefix = NULL;
		} else {
			rp->trouble++;
		}
		rp->trouble += ma.damaged + mb.damaged;
		mset_free(&ma);
		mset_free(&mb);
	}
	rx_res_close(ea);
	rx_res_close(eb);
}

static int parse_fields(char *list, unsigned *out)
{
	*out = 0;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		int f;
		if (!strcmp(tok, "times")) {
			*out |= 1u << F_MTIME | 1u << F_CTIME;
			continue;
		}
		for (f = 0; f < F_COUNT && strcmp(tok, field_names[f]); f++)
			;
		if (f == F_COUNT)
			return -1;
		*out |= 1u << f;
	}
	return 0;
}

static const char diff_help[] =
	"Usage: rximg diff [OPTIONS] A B\n"
	"Compare two trees path by path. A and B are each IMAGE[:pN|:esp][:/dir][:/member...],\n"
	"an initfs archive (a host file, or IMAGE:/boot/initfs: compared member by member), a\n"
	"manifest file written by 'rximg manifest', or a host directory; paths are compared\n"
	"below each one's top. One line per difference, in path order:\n"
	"  - PATH            only in A\n"
	"  + PATH            only in B\n"
	"  ~ PATH<tab>LIST   in both; LIST names what differs: type, mode, uid, gid, size,\n"
	"                    mtime, ctime, nlink, target, content\n"
	"Archives found in both images are compared member by member (~ /boot/initfs:/etc/x).\n"
	"Two whole disks (IMAGE alone) also compare the partition table ('table': type, guid),\n"
	"each partition ('pN': type, guid, name, first_lba, last_lba), the RedoxFS header\n"
	"('redoxfs': uuid, size) and the files of the EFI system partition ('esp:/PATH').\n"
	"A field only one side knows is not compared (a host directory has no creation time\n"
	"(ctime), and its directories' sizes and link counts mean other things).\n"
	"A damaged path is reported on stderr and not compared.\n"
	"Exit status: 0 the same, 1 different, 2 trouble (also: damage).\n\n"
	"  -i, --ignore LIST  fields not to compare, comma-separated ('times' = mtime,ctime)\n"
	"  -q, --quiet        print nothing; the exit status tells\n"
	"      --json         print the differences as a JSON array\n"
	"  -h, --help         show this help\n";

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ignore", required_argument, 0, 'i' }, { "quiet", no_argument, 0, 'q' },
		{ "json", no_argument, 0, 'J' },        { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	unsigned ignore = 0;
	int c, json = 0;
	struct report rp = { 0 };
	while ((c = getopt_long(argc, argv, "i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (parse_fields(optarg, &ignore))
				return usage_error("diff", "unknown field in --ignore (known: type, mode, uid, gid, "
						   "size, mtime, ctime, nlink, target, content, times, guid, name, "
						   "first_lba, last_lba, uuid)");
			break;
		case 'q': rp.quiet = 1; break;
		case 'J': json = 1; break;
		case 'h': fputs(diff_help, stdout); return EXIT_OK;
		default: return bad_option("diff", argv);
		}
	}
	if (argc - optind != 2)
		return usage_error("diff", "expected A B");
	struct mset a = { 0 }, b = { 0 };
	struct place pa = { 0 }, pb = { 0 };
	rp.verb = "diff";
	int r = mset_load(argv[optind], &a, &pa, rp.quiet);
	if (r == 0)
		r = mset_load(argv[optind + 1], &b, &pb, rp.quiet);
	struct out o;
	out_init(&o, stdout, json && !rp.quiet);
	rp.o = &o;
	int listed = r == 0;
	if (listed)
		out_arr(&o, NULL);
	if (r == 0 && whole_disk(&pa) && whole_disk(&pb))
		diff_disks(&pa, &pb, ALL_FIELDS & ~ignore, &rp);
	if (r == 0)
		r = diff_sets(&a, &b, ALL_FIELDS & ~ignore, &rp);
	if (listed) {
		out_end_arr(&o);
		out_done(&o);
	}
	size_t damaged = a.damaged + b.damaged + rp.trouble;
	mset_free(&a);
	mset_free(&b);
	if (pa.res)
		place_close(&pa);
	if (pb.res)
		place_close(&pb);
	if (fflush(stdout) != 0)
		r = -1;
	/* As diff(1): trouble (here, damage in an image) outranks differences. */
	return r || damaged ? EXIT_USAGE : rp.count ? 1 : EXIT_OK;
}
