/* Host trees into initfs nodes: what the reference archiver reads, in a reproducible order. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initfs.h"

struct hent {
	char *name;
	size_t len;
	long rank;	/* position in the "like" directory, or -1 */
};

static int cmp_hent(const void *a, const void *b)
{
	const struct hent *x = a, *y = b;
	if (x->rank >= 0 || y->rank >= 0) {
		if (x->rank < 0)
			return 1;
		if (y->rank < 0)
			return -1;
		return (x->rank > y->rank) - (x->rank < y->rank);
	}
	int c = memcmp(x->name, y->name, RX_MIN(x->len, y->len));
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int import_at(struct rx_ctx *ctx, int dirfd, const char *name, const char *hostpath,
		     const struct ifs_node *like, struct ifs_node **out, unsigned depth);

static int import_children(struct rx_ctx *ctx, int fd, const char *hostpath, const struct ifs_node *like,
			   struct ifs_node *dir, unsigned depth)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return rx_fail(ctx, errno, "%s: %s", hostpath, strerror(errno));
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return rx_fail(ctx, errno, "%s: %s", hostpath, strerror(errno));
	}
	struct hent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap)
			v = rx_xrealloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
		v[n].name = rx_xstrdup(de->d_name);
		v[n].len = strlen(de->d_name);
		v[n].rank = like && like->type == IFS_DIR ? ifs_dir_find(like, v[n].name, v[n].len) : -1;
		n++;
	}
	int r = errno ? rx_fail(ctx, errno, "%s: %s", hostpath, strerror(errno)) : 0;
	closedir(d);
	if (r == 0 && n > IFS_MAX_INODES)
		r = rx_fail(ctx, EFBIG, "%s: %zu entries; a directory holds at most %u", hostpath, n,
			    IFS_MAX_INODES);
	if (r == 0 && n > 1)
		qsort(v, n, sizeof(*v), cmp_hent);
	for (size_t i = 0; i < n && r == 0; i++) {
		char *cpath = rx_path_join(hostpath, v[i].name, v[i].len);
		const struct ifs_node *clike = v[i].rank >= 0 ? like->ents[v[i].rank].node : NULL;
		struct ifs_node *c;
		r = import_at(ctx, fd, v[i].name, cpath, clike, &c, depth + 1);
		if (r == 0)
			ifs_dir_append(dir, v[i].name, v[i].len, c);
		free(cpath);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return r;
}

static int import_at(struct rx_ctx *ctx, int dirfd, const char *name, const char *hostpath,
		     const struct ifs_node *like, struct ifs_node **out, unsigned depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return rx_fail(ctx, errno, "%s: %s", hostpath, strerror(errno));
	if (depth > 4096)
		return rx_fail(ctx, ELOOP, "%s: directories nest more than 4096 deep", hostpath);
	struct ifs_node *n;
	int r = 0;
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size >= IFS_MAX_BYTES)
			return rx_fail(ctx, EFBIG, "%s: %lld bytes; an initfs file must be smaller than 4 GiB",
				       hostpath, (long long)st.st_size);
		n = ifs_node_new(IFS_FILE, (uint16_t)(st.st_mode & 07777));
		n->size = (uint64_t)st.st_size;
		n->host = rx_xstrdup(hostpath);
	} else if (S_ISLNK(st.st_mode)) {
		char *t = rx_xmalloc((size_t)st.st_size + 2);
		ssize_t got = readlinkat(dirfd, name, t, (size_t)st.st_size + 1);
		if (got < 0 || got > st.st_size) {
			int e = got < 0 ? errno : EAGAIN;
			free(t);
			return rx_fail(ctx, e, "%s: cannot read the link%s", hostpath,
				       got < 0 ? "" : " (it changed while being read)");
		}
		if (got > 0 && t[0] == '/') {
			r = rx_fail(ctx, EINVAL, "%s: absolute symlink target '%.*s': an initfs stores "
				    "relative targets (make it relative, or use 'rximg initfs ln')",
				    hostpath, (int)got, t);
			free(t);
			return r;
		}
		n = ifs_node_new(IFS_LINK, 0777);
		n->owned = (uint8_t *)t;
		n->data = n->owned;
		n->size = (uint64_t)got;
		n->form = IFS_LINK_PARENT;
	} else if (S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return rx_fail(ctx, errno, "%s: %s", hostpath, strerror(errno));
		n = ifs_node_new(IFS_DIR, (uint16_t)(st.st_mode & 07777));
		r = import_children(ctx, fd, hostpath, like, n, depth);
		close(fd);
		if (r) {
			ifs_tree_free(n);
			return r;
		}
	} else {
		return rx_fail(ctx, EINVAL, "%s: sockets, FIFOs and device nodes cannot be archived", hostpath);
	}
	n->uid = n->gid = 0;	/* as the reference archiver */
	*out = n;
	return 0;
}

int ifs_import(struct rx_ctx *ctx, int dirfd, const char *name, const char *hostpath,
	       const struct ifs_node *like, struct ifs_node **out)
{
	return import_at(ctx, dirfd, name, hostpath, like, out, 0);
}

int ifs_import_dir(struct rx_ctx *ctx, const char *hostdir, const struct ifs_node *like,
		   struct ifs_node **out)
{
	/* DIR itself may be a symlink to the tree (as "cp -a DIR/." would follow it). */
	int fd = open(hostdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return rx_fail(ctx, errno, "%s: %s", hostdir, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return rx_fail(ctx, e, "%s: %s", hostdir, strerror(e));
	}
	struct ifs_node *n = ifs_node_new(IFS_DIR, (uint16_t)(st.st_mode & 07777));
	int r = import_children(ctx, fd, hostdir, like, n, 0);
	close(fd);
	if (r) {
		ifs_tree_free(n);
		return r;
	}
	*out = n;
	return 0;
}
