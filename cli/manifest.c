/*
 * rximg manifest and rximg diff: a tree as one record per path (type, mode,
 * owner, size, times, links, symlink target, SHA-256 of the content), read from
 * a RedoxFS, from a manifest file or from a host directory.
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
#include "progress.h"

enum field { F_TYPE, F_MODE, F_UID, F_GID, F_SIZE, F_MTIME, F_CTIME, F_NLINK, F_TARGET, F_CONTENT, F_COUNT };
static const char *const field_names[F_COUNT] = {
	"type", "mode", "uid", "gid", "size", "mtime", "ctime", "nlink", "target", "content",
};
#define ALL_FIELDS ((1u << F_COUNT) - 1)
/* What every record of a RedoxFS or a manifest has; target and content depend on the type. */
#define NODE_FIELDS (ALL_FIELDS & ~(1u << F_TARGET | 1u << F_CONTENT))
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
	uint32_t id;		/* the RedoxFS node, while the walk has only the path */
	int damaged;		/* could not be read whole (reported): not printed, not compared */
};

struct mset {
	struct mrec *v;
	size_t n, cap;
	const char *what;	/* named in messages */
	size_t damaged;		/* records marked damaged */
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

/* ---- from a RedoxFS ---- */

struct walk {
	struct rfs *fs;
	struct mset *s;
	const char *image;
	struct idmap dirs;	/* directory ids seen: a loop is an error, not a hang */
};

/* A path that cannot be read whole: reported now, then left out of the manifest and the diff. */
static void mark_damaged(struct rfs *fs, const char *image, struct mset *s, struct mrec *m)
{
	report(fs->ctx, image, m->path);
	rx_clear(fs->ctx);
	m->damaged = 1;
	s->damaged++;
}

/*
 * Every path below dir (whose record is s->v[at]), unsorted; the records hold
 * only path and node id so far. Damage is reported and marked, and the walk goes on.
 */
static void collect(struct walk *w, size_t at, const struct rfs_node *dir)
{
	struct rfs_dirent *ents = NULL;
	size_t count;
	int r = rfs_dir_list(w->fs, dir, &ents, &count);
	if (r == 0)
		r = rfs_dirents_sort(w->fs, ents, count);	/* also refuses a name stored twice */
	rfs_prefetch_entries(w->fs, ents, r ? 0 : count, RFS_PREFETCH_NODES);
	if (r) {
		mark_damaged(w->fs, w->image, w->s, &w->s->v[at]);
		free(ents);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		/* s->v moves as it grows: index it afresh after every add. */
		char *child = rx_path_join(w->s->v[at].path, ents[i].name, ents[i].len);
		struct rfs_node n;
		size_t k = w->s->n;
		mset_add(w->s, child)->id = ents[i].id;
		r = rfs_node_of_entry(w->fs, ents[i].id, &n);
		if (r == 0 && rfs_is_dir(&n)) {
			void **seen = idmap_slot(&w->dirs, n.id, 1);
			if (*seen)
				r = rx_fail(w->fs->ctx, ELOOP, "directory node %u is reached a second time "
					    "(a directory loop or hard-linked directory)", n.id);
			*seen = (void *)1;
		}
		if (r)
			mark_damaged(w->fs, w->image, w->s, &w->s->v[k]);
		else if (rfs_is_dir(&n))
			collect(w, k, &n);
	}
	free(ents);
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

static int fill_from_node(struct rfs *fs, struct mrec *m)
{
	struct rfs_node n;
	int r = rfs_node_get(fs, m->id, &n);
	if (r)
		return r;
	snprintf(m->type, sizeof(m->type), "%s", node_type_name(n.mode));
	m->mode = n.mode & RFS_MODE_PERM;
	m->uid = n.uid;
	m->gid = n.gid;
	m->size = n.size;
	m->mtime = n.mtime;
	m->mtime_ns = n.mtime_nsec;
	m->ctime = n.ctime;
	m->ctime_ns = n.ctime_nsec;
	m->nlink = n.links;
	m->known = NODE_FIELDS;
	if (rfs_is_symlink(&n) && (r = rfs_readlink(fs, &n, &m->target)) == 0)
		m->known |= 1u << F_TARGET;
	return r;
}

static int hash_content(struct rfs *fs, struct mrec *m, struct hasher *h)
{
	if (m->target) {
		sha256(h->md, m->target, strlen(m->target), m->sha);
	} else if (strcmp(m->type, "dir")) {
		struct rfs_node n;
		unsigned dlen = 0;
		int r = rfs_node_get(fs, m->id, &n);
		if (r)
			return r;
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
		if ((r = stream_sequential(fs, &n, put_sha, h)) != 0)
			return r;
		EVP_DigestFinal_ex(h->md, m->sha, &dlen);
	} else {
		return 0;
	}
	m->known |= 1u << F_CONTENT;
	return 0;
}

/*
 * The tree below op's path (or the whole filesystem), sorted by path bytes.
 * Reading every file can take a while: a progress bar on a terminal, unless quiet.
 * A path that cannot be read whole is reported and marked damaged (s->damaged
 * counts them); -1 only when the tree cannot be read at all.
 */
static int mset_from_image(struct opened *op, struct mset *s, const char *verb, int quiet)
{
	struct rfs_node root;
	if (lookup_target(op, 1, &root))
		return -1;
	struct walk w = { .fs = op->fs, .s = s, .image = op->t.image };
	idmap_init(&w.dirs);
	mset_add(s, rx_xstrdup(op->t.path ? op->t.path : "/"))->id = root.id;
	if (rfs_is_dir(&root)) {
		*idmap_slot(&w.dirs, root.id, 1) = (void *)1;
		collect(&w, 0, &root);
	}
	idmap_free(&w.dirs);
	qsort(s->v, s->n, sizeof(*s->v), mrec_cmp);
	uint64_t total = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct mrec *m = &s->v[i];
		if (m->damaged)
			continue;
		if (fill_from_node(op->fs, m) != 0)
			mark_damaged(op->fs, op->t.image, s, m);
		else if (!m->target && strcmp(m->type, "dir"))
			total += m->size;
	}
	struct hasher h = { .md = EVP_MD_CTX_new() };
	progress_init(&h.pr, verb, total, quiet);
	for (size_t i = 0; i < s->n; i++) {
		struct mrec *m = &s->v[i];
		if (!m->damaged && hash_content(op->fs, m, &h) != 0) {
			mark_damaged(op->fs, op->t.image, s, m);
		}
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
	if (!parse_u32(col[2], 8, &m->mode) || m->mode > 07777)
		return "mode";
	if (!parse_u32(col[3], 10, &m->uid))
		return "uid";
	if (!parse_u32(col[4], 10, &m->gid))
		return "gid";
	if (!parse_u64(col[5], 10, &v))
		return "size";
	m->size = v;
	if (!parse_time(col[6], &m->mtime, &m->mtime_ns))
		return "mtime";
	if (!parse_time(col[7], &m->ctime, &m->ctime_ns))
		return "ctime";
	if (!parse_u32(col[8], 10, &m->nlink))
		return "nlink";
	m->known = NODE_FIELDS;
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

/* A host directory, a manifest file (by its header) or else an image spec. */
static int mset_load(const char *arg, struct mset *s, struct opened *op, int quiet)
{
	struct stat st;
	s->what = arg;
	int exists = stat(arg, &st) == 0;
	if (exists && S_ISDIR(st.st_mode))
		return mset_from_host(arg, s);
	if (exists && S_ISREG(st.st_mode)) {
		char head[sizeof(manifest_header)] = { 0 };
		FILE *f = fopen(arg, "r");
		size_t got = f ? fread(head, 1, sizeof(head) - 1, f) : 0;
		if (f)
			fclose(f);
		if (got == sizeof(head) - 1 && !memcmp(head, manifest_header, got))
			return mset_from_manifest(arg, s);
	}
	if (open_target(arg, op))
		return -1;
	return mset_from_image(op, s, "diff", quiet);
}

/* ---- manifest ---- */

static void mrec_print(FILE *f, const struct mrec *m)
{
	fput_escaped(f, m->path, strlen(m->path));
	fprintf(f, "\t%s\t%04o\t%u\t%u\t%llu\t%llu.%09u\t%llu.%09u\t%u\t", m->type, m->mode, m->uid, m->gid,
		(unsigned long long)m->size, (unsigned long long)m->mtime, m->mtime_ns,
		(unsigned long long)m->ctime, m->ctime_ns, m->nlink);
	if (m->target)
		fput_escaped(f, m->target, strlen(m->target));
	else
		fputc('-', f);
	fputc('\t', f);
	if (m->known & 1u << F_CONTENT)
		for (int i = 0; i < 32; i++)
			fprintf(f, "%02x", m->sha[i]);
	else
		fputc('-', f);
	fputc('\n', f);
}

static const char manifest_help[] =
	"Usage: rximg manifest IMAGE[:/dir]\n"
	"Print one tab-separated line per path, sorted by path bytes:\n"
	"path type mode uid gid size mtime ctime nlink symlink_target sha256\n"
	"(tab, newline and backslash in names are written as \\t, \\n, \\\\).\n"
	"A damaged path is reported on stderr and left out; the exit status is then 1.\n\n"
	"  -h, --help  show this help\n";

int cmd_manifest(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(manifest_help, stdout);
			return EXIT_OK;
		}
		return bad_option("manifest", argv);
	}
	if (argc - optind != 1)
		return usage_error("manifest", "expected IMAGE[:/dir]");
	struct opened op;
	struct mset s = { 0 };
	if (open_target(argv[optind], &op))
		return EXIT_FAIL;
	int r = mset_from_image(&op, &s, "manifest", 0);
	if (r == 0) {
		printf("%s\n", manifest_header);
		for (size_t i = 0; i < s.n; i++)
			if (!s.v[i].damaged)
				mrec_print(stdout, &s.v[i]);
	}
	if (fflush(stdout) != 0)
		r = -1;
	mset_free(&s);
	close_target(&op);
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
	struct json *j;		/* NULL: text */
	size_t count;
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

static void report_one(struct report *rp, char sign, const char *path, unsigned fields)
{
	rp->count++;
	if (rp->quiet)
		return;
	if (rp->j) {
		json_obj(rp->j, NULL);
		json_str(rp->j, "path", path);
		json_str(rp->j, "change", sign == '+' ? "added" : sign == '-' ? "removed" : "changed");
		if (sign == '~') {
			json_arr(rp->j, "fields");
			for (int f = 0; f < F_COUNT; f++)
				if (fields & 1u << f)
					json_str(rp->j, NULL, field_names[f]);
			json_end_arr(rp->j);
		}
		json_end_obj(rp->j);
		return;
	}
	printf("%c ", sign);
	fput_escaped(stdout, path, strlen(path));
	for (int f = 0, first = 1; f < F_COUNT; f++) {
		if (fields & 1u << f) {
			printf("%s%s", first ? "\t" : ",", field_names[f]);
			first = 0;
		}
	}
	putchar('\n');
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
			i++;
			k++;
		}
	}
	return 0;
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
	"Compare two trees path by path. A and B are each IMAGE[:pN][:/dir], a manifest file\n"
	"written by 'rximg manifest', or a host directory; paths are compared below each\n"
	"one's top. One line per difference, in path order:\n"
	"  - PATH            only in A\n"
	"  + PATH            only in B\n"
	"  ~ PATH<tab>LIST   in both; LIST names what differs: type, mode, uid, gid, size,\n"
	"                    mtime, ctime, nlink, target, content\n"
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
						   "size, mtime, ctime, nlink, target, content, times)");
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
	struct opened oa = { 0 }, ob = { 0 };
	int r = mset_load(argv[optind], &a, &oa, rp.quiet);
	if (r == 0)
		r = mset_load(argv[optind + 1], &b, &ob, rp.quiet);
	struct json j;
	if (r == 0 && json && !rp.quiet) {
		json_init(&j, stdout);
		json_arr(&j, NULL);
		rp.j = &j;
	}
	if (r == 0)
		r = diff_sets(&a, &b, ALL_FIELDS & ~ignore, &rp);
	if (rp.j) {
		json_end_arr(&j);
		json_done(&j);
	}
	size_t damaged = a.damaged + b.damaged;
	mset_free(&a);
	mset_free(&b);
	if (oa.img)
		close_target(&oa);
	if (ob.img)
		close_target(&ob);
	if (fflush(stdout) != 0)
		r = -1;
	/* As diff(1): trouble (here, damage in an image) outranks differences. */
	return r || damaged ? EXIT_USAGE : rp.count ? 1 : EXIT_OK;
}
