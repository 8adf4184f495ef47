/*
 * rximg __complete: what the bash and zsh completions (contrib/completion/)
 * ask rximg itself, so they never fall behind the verbs, options and images.
 * Hidden: not in the verb list. Prints nothing (and exits 0) when it cannot help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "image.h"

/* The long and short options a verb's --help lists, one a line. */
static int options_of(const char *help, FILE *out)
{
	for (const char *line = help; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		size_t i = 0;
		while (i < len && line[i] == ' ')
			i++;
		/* An option line starts with "-x" or "--long" after its indent. */
		while (i > 0 && i < len && line[i] == '-') {
			size_t s = i;
			while (i < len && (line[i] == '-' || line[i] == '_' || (line[i] >= '0' && line[i] <= '9') ||
					   (line[i] >= 'a' && line[i] <= 'z') || (line[i] >= 'A' && line[i] <= 'Z')))
				i++;
			if (i - s >= 2)
				fprintf(out, "%.*s\n", (int)(i - s), line + s);
			/* "-o, --opt": go on after the comma. */
			if (i + 2 < len && line[i] == ',' && line[i + 1] == ' ')
				i += 2;
			else
				break;
		}
		line += len + (end ? 1 : 0);
	}
	return EXIT_OK;
}

/* The verb's --help text, captured by running it with stdout in a temporary file. */
int complete_options(int (*run)(int argc, char **argv), const char *verb)
{
	FILE *tmp = tmpfile();
	if (!tmp)
		return EXIT_OK;
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		fclose(tmp);
		return EXIT_OK;
	}
	char *argv[] = { (char *)verb, "--help", NULL };
	run(2, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	long n = ftell(tmp);
	char *help = n > 0 ? rx_xmalloc((size_t)n + 1) : NULL;
	if (help) {
		rewind(tmp);
		n = (long)fread(help, 1, (size_t)n, tmp);
		help[n] = 0;
		options_of(help, stdout);
		free(help);
	}
	fclose(tmp);
	return EXIT_OK;
}

/*
 * WORD is IMAGE[:pN]:/dir/prefix (or IMAGE: for the root): print every entry
 * of /dir starting with prefix, as IMAGE:/dir/name, directories with a '/'.
 */
int complete_path(const char *word)
{
	static struct rx_ctx ctx;
	const char *colon = strchr(word, ':'), *slash = strrchr(word, '/');
	if (!colon)
		return EXIT_OK;
	size_t base_len;
	if (slash && slash > colon)
		base_len = (size_t)(slash - word) + 1;
	else if (word[strlen(word) - 1] == ':')
		base_len = strlen(word);
	else
		return EXIT_OK;
	char *base = strndup(word, base_len);
	const char *prefix = word + base_len;
	struct target t;
	struct rx_image *img = NULL;
	struct rfs *fs = NULL;
	struct rfs_node dir;
	struct rfs_dirent *ents = NULL;
	size_t count = 0;
	/* No password is asked for: an encrypted image completes nothing. */
	if (base && target_parse(&ctx, base, &t) == 0) {
		if (rx_image_open(&ctx, t.image, t.partno, RX_DEV_RDONLY, &img) == 0 &&
		    rx_image_redoxfs(img, &fs) == 0 && !fs->hdr.encrypted &&
		    rfs_lookup(fs, t.path ? t.path : "/", 1, &dir) == 0 && rfs_is_dir(&dir) &&
		    rfs_dir_list(fs, &dir, &ents, &count) == 0 && rfs_dirents_sort(fs, ents, count) == 0) {
			int root = base[base_len - 1] == ':';
			for (size_t i = 0; i < count; i++) {
				struct rfs_node n;
				if (strncmp(ents[i].name, prefix, strlen(prefix)) != 0 || strchr(ents[i].name, '\n'))
					continue;
				int is_dir = rfs_node_get(fs, ents[i].id, &n) == 0 && rfs_is_dir(&n);
				printf("%s%s%s%s\n", base, root ? "/" : "", ents[i].name, is_dir ? "/" : "");
			}
		}
		if (img)
			rx_image_close(img);
		target_free(&t);
	}
	free(ents);
	free(base);
	return EXIT_OK;
}
