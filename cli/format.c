#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "idmap.h"

const char *node_type_name(uint16_t mode)
{
	switch (mode & RFS_MODE_TYPE) {
	case RFS_MODE_DIR: return "dir";
	case RFS_MODE_FILE: return "file";
	case RFS_MODE_SYMLINK: return "symlink";
	case RFS_MODE_SOCK: return "socket";
	default: return "unknown";
	}
}

void mode_string(uint16_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	switch (mode & RFS_MODE_TYPE) {
	case RFS_MODE_DIR: out[0] = 'd'; break;
	case RFS_MODE_SYMLINK: out[0] = 'l'; break;
	case RFS_MODE_SOCK: out[0] = 's'; break;
	default: out[0] = '-';
	}
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400 >> i)) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		out[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		out[9] = (mode & 0001) ? 't' : 'T';
	out[10] = 0;
}

void format_time(uint64_t sec, uint32_t nsec, int precise, char *out, size_t cap)
{
	struct tm tm;
	time_t t = sec > (uint64_t)INT64_MAX ? (time_t)INT64_MAX : (time_t)sec;
	if (!localtime_r(&t, &tm)) {
		snprintf(out, cap, "@%llu", (unsigned long long)sec);
		return;
	}
	char buf[64], zone[16];
	strftime(buf, sizeof(buf), precise ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
	if (!precise) {
		snprintf(out, cap, "%s", buf);
		return;
	}
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(out, cap, "%s.%09u %s", buf, nsec, zone);
}

void format_uuid(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

void fput_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\t')
			fputs("\\t", f);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else if (s[i] == '\\')
			fputs("\\\\", f);
		else
			fputc(s[i], f);
	}
}

int unescape_field(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		r++;
		if (*r == 't')
			*w++ = '\t';
		else if (*r == 'n')
			*w++ = '\n';
		else if (*r == '\\')
			*w++ = '\\';
		else
			return 0;
	}
	*w = 0;
	return 1;
}

static int count_record(void *arg, uint64_t r, struct rfs_ptr ptr)
{
	struct node_facts *f = arg;
	f->records++;
	f->stored_blocks += 1ULL << rfs_ptr_level(ptr);
	if (rfs_ptr_decomp(ptr))
		f->compressed++;
	return 0;
}

int node_facts(struct rfs *fs, const struct rfs_node *n, struct node_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->htree_depth = -1;
	if (rfs_is_dir(n)) {
		struct rfs_ptr m = rfs_node_level_ptr(n, 0);
		if (rfs_ptr_is_marker(m))
			f->htree_depth = (int)(m.addr & 0xF);
		return 0;
	}
	if (rfs_is_symlink(n)) {
		int r = rfs_readlink(fs, n, &f->target);
		if (r)
			return r;
	}
	return rfs_record_walk(fs, n, count_record, f);
}

void node_facts_free(struct node_facts *f)
{
	free(f->target);
	f->target = NULL;
}

struct tree_bytes {
	struct vfs *v;
	struct idmap seen;	/* every node already counted (loops, hard links) */
	const char *dir;
	uint64_t bytes;
};

static int add_tree_bytes(void *arg, const char *name, size_t len, const struct vfs_attr *a)
{
	struct tree_bytes *t = arg;
	void **slot = a ? idmap_slot(&t->seen, a->ino, 1) : NULL;
	if (!slot || *slot || vfs_name_problem(name, len))
		return 0;	/* damaged, counted already, or refused by the walk itself */
	*slot = (void *)1;
	if (vfs_is_file(a))
		t->bytes += a->size;
	if (!vfs_is_dir(a))
		return 0;
	const char *up = t->dir;
	char *path = rx_path_join(up, name, len);
	t->dir = path;
	vfs_readdir(t->v, path, 0, add_tree_bytes, t);	/* what cannot be read is left out */
	t->dir = up;
	free(path);
	return 0;
}

uint64_t tree_file_bytes(struct vfs *v, const char *path, const struct vfs_attr *top)
{
	struct tree_bytes t = { .v = v, .dir = path };
	if (!vfs_is_dir(top))
		return vfs_is_file(top) ? top->size : 0;
	idmap_init(&t.seen);
	*idmap_slot(&t.seen, top->ino ? top->ino : 1, 1) = (void *)1;
	vfs_readdir(v, path, 0, add_tree_bytes, &t);
	idmap_free(&t.seen);
	rx_clear(v->ctx);	/* no more than a progress bar's total: the copy reports what is unreadable */
	return t.bytes;
}
