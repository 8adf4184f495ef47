/*
 * The initfs archive from untrusted bytes: loaded as every layout (detected,
 * then each one forced), and for each tree that loads, every path resolved
 * (following symlinks) and every symlink target converted to the other forms.
 * Input: the archive itself.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "initfs.h"

struct walk {
	struct rx_ctx *ctx;
	struct ifs_node *root;
	unsigned budget;
};

static void walk(struct walk *w, struct ifs_node *dir, const char *path, int depth)
{
	if (depth > 32)
		return;
	for (size_t i = 0; i < dir->n && w->budget > 0; i++, w->budget--) {
		struct ifs_dirent *e = &dir->ents[i];
		char *sub = rx_path_join(path, e->name, e->len);
		struct ifs_node *found;
		ifs_resolve(w->ctx, w->root, sub, 1, &found);
		ifs_resolve(w->ctx, w->root, sub, 0, &found);
		if (e->node->type == IFS_DIR) {
			walk(w, e->node, sub, depth + 1);
		} else if (e->node->type == IFS_LINK) {
			static const enum ifs_link_form forms[] = { IFS_LINK_ROOT, IFS_LINK_PARENT };
			for (size_t f = 0; f < 2; f++) {
				char *target = NULL;
				size_t len;
				if (ifs_link_target(w->ctx, e->node, path[1] ? path + 1 : "", forms[f], &target, &len) == 0)
					free(target);
			}
		}
		free(sub);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	for (int l = IFS_LAYOUT_NONE; l < IFS_NLAYOUTS; l++) {
		struct rx_ctx ctx = { 0 };
		struct ifs_archive a;
		memset(&a, 0, sizeof(a));
		if (ifs_load(&ctx, data, n, (enum ifs_layout)l, &a) == 0) {
			struct walk w = { &ctx, a.root, 4096 };
			walk(&w, a.root, "/", 0);
			struct ifs_elf elf;
			if (a.boot_len && ifs_elf_parse(&ctx, ifs_bootstrap(&a), a.boot_len, &elf) == 0) {
				uint64_t entry;
				ifs_entry_of(&ctx, ifs_bootstrap(&a), a.boot_len, &entry);
			}
		}
		ifs_archive_free(&a);
	}
	return 0;
}
