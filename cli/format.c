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

static void json_mode(struct json *j, uint16_t mode)
{
	char buf[8];
	snprintf(buf, sizeof(buf), "%04o", mode & RFS_MODE_PERM);
	json_str(j, "mode", buf);
}

void json_node(struct json *j, struct rfs *fs, const char *path, const char *name,
	       const struct rfs_node *n, const struct node_facts *f)
{
	(void)fs;
	json_obj(j, NULL);
	json_str(j, "path", path);
	if (name)
		json_str(j, "name", name);
	json_str(j, "type", node_type_name(n->mode));
	json_mode(j, n->mode);
	json_u64(j, "uid", n->uid);
	json_u64(j, "gid", n->gid);
	json_u64(j, "size", n->size);
	json_u64(j, "nlink", n->links);
	json_u64(j, "node", n->id);
	json_u64_str(j, "blocks", n->blocks);	/* as stored: nothing bounds it */
	json_time(j, "mtime", n->mtime, n->mtime_nsec);
	json_time(j, "ctime", n->ctime, n->ctime_nsec);
	json_time(j, "atime", n->atime, n->atime_nsec);
	if (f->target)
		json_str(j, "target", f->target);
	if (rfs_is_dir(n)) {
		json_str(j, "storage", f->htree_depth < 0 ? "empty" : f->htree_depth == 0 ? "list" : "htree");
		if (f->htree_depth > 0)
			json_u64(j, "htree_depth", (uint64_t)f->htree_depth);
	} else {
		json_str(j, "storage", rfs_is_inline(n) ? "inline" : "records");
		if (!rfs_is_inline(n)) {
			json_u64(j, "records", f->records);
			json_u64(j, "compressed_records", f->compressed);
		}
	}
	json_end_obj(j);
}

/* Sum of file sizes below dir; seen holds every node already counted (loops, hard links). */
static int add_tree_bytes(struct rfs *fs, const struct rfs_node *dir, struct idmap *seen,
			  uint64_t *bytes)
{
	struct rfs_dirent *ents = NULL;
	size_t count;
	int r = rfs_dir_list(fs, dir, &ents, &count);
	rfs_prefetch_entries(fs, ents, r ? 0 : count, RFS_PREFETCH_NODES);
	for (size_t i = 0; i < count && r == 0; i++) {
		struct rfs_node n;
		void **slot = idmap_slot(seen, ents[i].id, 1);	/* NULL for the reserved id 0 */
		if (slot && *slot)
			continue;
		if (slot)
			*slot = (void *)1;
		r = rfs_node_get(fs, ents[i].id, &n);
		if (r == 0 && rfs_is_dir(&n))
			r = add_tree_bytes(fs, &n, seen, bytes);
		else if (r == 0 && rfs_is_file(&n))
			*bytes += n.size;
	}
	free(ents);
	return r;
}

int tree_file_bytes(struct rfs *fs, const struct rfs_node *root, uint64_t *bytes)
{
	*bytes = 0;
	if (rfs_is_file(root)) {
		*bytes = root->size;
		return 0;
	}
	if (!rfs_is_dir(root))
		return 0;
	struct idmap seen;
	idmap_init(&seen);
	*idmap_slot(&seen, root->id, 1) = (void *)1;
	int r = add_tree_bytes(fs, root, &seen, bytes);
	idmap_free(&seen);
	return r;
}
