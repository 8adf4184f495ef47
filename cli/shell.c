/*
 * rximg shell IMAGE: the verbs on one image, interactively (libedit: history,
 * completion) or as a batch script. The image is locked for the whole
 * session and every change goes into one pending transaction: `commit`
 * lands it, `rollback` drops it, and a batch script lands whole or not at all.
 *
 * Each command runs the one-shot verb in this process; the verbs open their
 * paths through the session (place_session), so they see the pending changes
 * and leave theirs pending.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_LIBEDIT
#include <histedit.h>
#endif

#include "cli.h"
#include "table.h"

struct shell {
	const char *image;	/* IMAGE[:pN] as given */
	struct rx_ctx ctx;
	struct rx_res *res;	/* the session: the image's filesystem, opened for writing */
	char *cwd;
	char **log;		/* the commands whose changes are pending */
	size_t nlog;
	int interactive, keep_going, autocommit;
#ifdef HAVE_LIBEDIT
	EditLine *el;
	History *hist;
	char *histfile;
#endif
};

static struct shell *current;	/* for libedit's callbacks */

static struct vfs *session_vfs(struct shell *sh)
{
	return &sh->res->lv[0].vfs;
}


/*
 * The vfs and the path inside it for an absolute multi-level path; *res is
 * opened (through the session) when a level is an archive. Failures are left
 * on sh->ctx for the caller to print or drop.
 */
static struct vfs *level_vfs(struct shell *sh, const char *abs, struct rx_res **res, const char **path)
{
	*res = NULL;
	if (!strchr(abs, ':')) {
		*path = abs;
		return session_vfs(sh);
	}
	char *arg = rx_xasprintf("%s:%s", sh->image, abs);
	struct rx_res_opts o;
	place_opts(&o, 0);
	int r = rx_res_open_in(sh->res, arg, &o, res);
	free(arg);
	if (r)
		return NULL;
	*path = (*res)->path;
	return rx_res_vfs(*res);
}

static char *image_path(const struct shell *sh, const char *arg)
{
	char *abs = shell_absolute(sh->cwd, arg);
	char *s = rx_xasprintf("%s:%s", sh->image, abs);
	free(abs);
	return s;
}

/* cd: into a directory, or into an initfs archive (a regular file that opens as one). */
static int change_dir(struct shell *sh, const char *arg)
{
	char *to = shell_absolute(sh->cwd, arg);
	struct rx_res *res, *arc = NULL;
	const char *path;
	struct vfs_attr a;
	struct vfs *v = level_vfs(sh, to, &res, &path);
	int status = EXIT_FAIL;
	if (!v || vfs_stat(v, path, 1, &a) != 0) {
		report(&sh->ctx, sh->image, to);
	} else if (vfs_is_dir(&a)) {
		status = EXIT_OK;
	} else {
		/* Entered only when it opens as an archive; any other file is not a directory. */
		char *inner = rx_xasprintf("%s:/", to);
		struct vfs *in = level_vfs(sh, inner, &arc, &path);
		if (in) {
			free(to);
			to = inner;
			status = EXIT_OK;
		} else {
			fprintf(stderr, "rximg: %s: %s: not a directory or an initfs archive\n", sh->image, to);
			free(inner);
		}
	}
	rx_clear(&sh->ctx);
	rx_res_close(arc);
	rx_res_close(res);
	if (status == EXIT_OK) {
		free(sh->cwd);
		sh->cwd = to;
	} else {
		free(to);
	}
	return status;
}

/* ---- commands ---- */

/*
 * The commands that run a verb. kinds: what each operand is: i = a path in
 * the image (relative to the cwd), h = a host path, x = kept as typed; the
 * last letter repeats.
 */
static const struct scmd {
	const char *name, *verb, *kinds, *summary;
} scmds[] = {
	{ "ls", "ls", "i", "list a directory" },
	{ "stat", "stat", "i", "show everything stored about a file" },
	{ "cat", "cat", "i", "write a file to the terminal" },
	{ "get", "cp", "ih", "copy from the image to the host (get [-r] [-a] PATH... [HOSTDIR])" },
	{ "put", "cp", "hi", "copy from the host into the image (put [-r] [-a] HOSTPATH... [DIR])" },
	{ "cp", "cp", "i", "copy inside the image" },
	{ "rm", "rm", "i", "remove files and directories" },
	{ "mkdir", "mkdir", "i", "make directories" },
	{ "mv", "mv", "i", "rename or move" },
	{ "ln", "ln", "i", "make links (ln -s TARGET LINK, ln EXISTING NEW)" },
	{ "chmod", "chmod", "xi", "change permission bits" },
	{ "chown", "chown", "xi", "change owner and group" },
	{ "touch", "touch", "i", "set times, create empty files" },
	{ "truncate", "truncate", "i", "shrink or extend files" },
	{ "edit", "edit", "i", "edit a file with $EDITOR" },
	{ "initfs", "initfs", "xi", "initfs archives (initfs ls /boot/initfs, ...)" },
	{ "info", "info", "", "describe the image (as last committed)" },
	{ "check", "check", "", "verify the filesystem (as last committed)" },
};

static const struct { const char *name, *summary; } builtins[] = {
	{ "cd", "change the current directory in the image" },
	{ "pwd", "print the current directory" },
	{ "status", "show the changes that are pending" },
	{ "commit", "land every pending change in one commit" },
	{ "rollback", "drop every pending change" },
	{ "help", "list the commands, or show one command's help" },
	{ "exit", "leave (asks about pending changes on a terminal)" },
};

static const struct scmd *find_scmd(const char *name)
{
	for (size_t i = 0; i < RX_ARRAY_SIZE(scmds); i++)
		if (!strcmp(scmds[i].name, name))
			return &scmds[i];
	return NULL;
}

static int pending(struct shell *sh)
{
	return session_vfs(sh)->dirty;
}

static int run_scmd(struct shell *sh, const struct scmd *c, int argc, char **argv)
{
	char **v = rx_xcalloc((size_t)argc + 3, sizeof(*v));
	int n = 0, operand = 0, symbolic = 0, after_dashes = 0;
	v[n++] = rx_xstrdup(c->verb);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--symbolic"))
			symbolic = 1;
	const char *kinds = !strcmp(c->name, "ln") && symbolic ? "xi" : c->kinds;
	int nops = 0;
	for (int i = 1; i < argc; i++)
		nops += after_dashes || argv[i][0] != '-';
	for (int i = 1; i < argc; i++) {
		if (!after_dashes && argv[i][0] == '-') {
			after_dashes = !strcmp(argv[i], "--");
			v[n++] = rx_xstrdup(argv[i]);
			continue;
		}
		size_t k = strlen(kinds);
		char kind = k ? kinds[RX_MIN((size_t)operand, k - 1)] : 'x';
		/* get: every operand but a last host one is in the image; put: the other way round. */
		if (!strcmp(c->name, "get"))
			kind = operand == nops - 1 && nops > 1 ? 'h' : 'i';
		if (!strcmp(c->name, "put"))
			kind = operand == nops - 1 && nops > 1 ? 'i' : 'h';
		/* initfs put's SRC:/dest pairs are host files and archive paths: kept. */
		if (kind == 'i' && !strcmp(c->name, "initfs") && argv[i][0] != '/' && strstr(argv[i], ":/"))
			kind = 'x';
		v[n++] = kind == 'i' ? image_path(sh, argv[i]) : rx_xstrdup(argv[i]);
		operand++;
	}
	if (nops == 0 && (!strcmp(c->name, "ls") || !strcmp(c->name, "stat")))
		v[n++] = image_path(sh, ".");
	if (!strcmp(c->name, "get") && nops == 1)
		v[n++] = rx_xstrdup(".");
	if (!strcmp(c->name, "put") && nops == 1)
		v[n++] = image_path(sh, ".");
	if (!*c->kinds)
		v[n++] = rx_xstrdup(sh->image);
	if ((!strcmp(c->name, "info") || !strcmp(c->name, "check")) && pending(sh))
		fprintf(stderr, "rximg: note: %s reads the image as last committed; %zu command%s pending\n",
			c->name, sh->nlog, sh->nlog == 1 ? " is" : "s are");
	fflush(stdout);
	int status = run_verb(n, v);
	fflush(stdout);
	shell_free_words(v, n);
	return status;
}

static void show_help(const char *name)
{
	if (name) {
		const struct scmd *c = find_scmd(name);
		if (c) {
			char *v[] = { (char *)c->verb, "--help", NULL };
			run_verb(2, v);
			return;
		}
		for (size_t i = 0; i < RX_ARRAY_SIZE(builtins); i++)
			if (!strcmp(builtins[i].name, name)) {
				printf("%s: %s\n", name, builtins[i].summary);
				return;
			}
		printf("no command '%s' (type help)\n", name);
		return;
	}
	printf("Paths are inside the image, relative to the current directory; a file inside an\n"
	       "initfs archive is /boot/initfs:/etc/init.rc. Changes stay pending until commit.\n\n");
	for (size_t i = 0; i < RX_ARRAY_SIZE(scmds); i++)
		printf("  %-9s %s\n", scmds[i].name, scmds[i].summary);
	for (size_t i = 0; i < RX_ARRAY_SIZE(builtins); i++)
		printf("  %-9s %s\n", builtins[i].name, builtins[i].summary);
	printf("\nhelp CMD shows a command's options (those of rximg-VERB(1)).\n");
}

static void clear_log(struct shell *sh)
{
	for (size_t i = 0; i < sh->nlog; i++)
		free(sh->log[i]);
	free(sh->log);
	sh->log = NULL;
	sh->nlog = 0;
}

static int do_commit(struct shell *sh)
{
	if (!pending(sh)) {
		clear_log(sh);
		return EXIT_OK;
	}
	int r = rx_res_commit(sh->res);
	if (r) {
		report(&sh->ctx, NULL, NULL);
		rx_clear(&sh->ctx);
		return EXIT_FAIL;
	}
	/* The session goes on in a new transaction. */
	struct rx_level *lv = &sh->res->lv[0];
	struct vfs_time (*now)(void) = lv->vfs.now;
	free(lv->vfs.priv);
	r = rfs_tx_begin(lv->fs, &lv->tx);
	vfs_rfs_init(&lv->vfs, lv->fs, r == 0 ? lv->tx : NULL, now);
	clear_log(sh);
	if (r) {
		report(&sh->ctx, sh->image, NULL);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static void do_rollback(struct shell *sh)
{
	struct rx_level *lv = &sh->res->lv[0];
	if (lv->tx)
		rfs_tx_abort(lv->tx);
	lv->tx = NULL;
	struct vfs_time (*now)(void) = lv->vfs.now;
	free(lv->vfs.priv);
	if (rfs_tx_begin(lv->fs, &lv->tx) != 0)
		report(&sh->ctx, sh->image, NULL);
	vfs_rfs_init(&lv->vfs, lv->fs, lv->tx, now);
	clear_log(sh);
}

/* status: what is pending. */
enum { T_IMAGE, T_PENDING, T_COMMANDS };
static const struct tfield status_fields[] = {
	[T_IMAGE] = { "image", TK_STR, 0 },
	[T_PENDING] = { "pending", TK_BOOL, 0 },
	[T_COMMANDS] = { "commands", TK_LIST, 0 },
};
static const struct tcol pending_cols[] = {
	{ T_IMAGE, "pending for %s (lands with commit):\n", 0 }, { T_COMMANDS, "  %s\n", 0 },
};
static const struct tcol nothing_cols[] = { { TEXT_LIT, "nothing pending\n", 0 } };
static const struct tlayout pending_layout = LAYOUT(pending_cols), nothing_layout = LAYOUT(nothing_cols);

static void show_status(struct shell *sh, int json)
{
	struct record r;
	struct out o;
	RECORD_INIT(&r, status_fields);
	rec_str(&r, T_IMAGE, sh->image);
	rec_u64(&r, T_PENDING, pending(sh));
	rec_list(&r, T_COMMANDS, (const char *const *)sh->log, sh->nlog);
	out_init(&o, stdout, json);
	out_record(&o, NULL, &r, pending(sh) ? &pending_layout : &nothing_layout);
	out_done(&o);
}

/* One command line; EXIT_OK, a verb's status, or -1 to leave. */
static int run_line(struct shell *sh, const char *line)
{
	int argc;
	char **argv = shell_split_words(line, &argc);
	if (argc < 0) {
		fprintf(stderr, "rximg: shell: unclosed quote\n");
		return EXIT_USAGE;
	}
	if (argc == 0) {
		free(argv);
		return EXIT_OK;
	}
	int status = EXIT_OK;
	const char *cmd = argv[0];
	const struct scmd *c = find_scmd(cmd);
	if (c) {
		/* Which commands changed something: the session's dirty flag, watched per command. */
		struct vfs *v = session_vfs(sh);
		int was = v->dirty;
		v->dirty = 0;
		status = run_scmd(sh, c, argc, argv);
		v = session_vfs(sh);
		if (v->dirty) {
			sh->log = rx_xrealloc(sh->log, (sh->nlog + 1) * sizeof(*sh->log));
			sh->log[sh->nlog] = rx_xstrdup(line);
			sh->log[sh->nlog][strcspn(sh->log[sh->nlog], "\r\n")] = 0;
			sh->nlog++;
		}
		v->dirty |= was;
	} else if (!strcmp(cmd, "cd")) {
		status = change_dir(sh, argc > 1 ? argv[1] : "/");
	} else if (!strcmp(cmd, "pwd")) {
		printf("%s\n", sh->cwd);
	} else if (!strcmp(cmd, "status")) {
		show_status(sh, argc > 1 && !strcmp(argv[1], "--json"));
	} else if (!strcmp(cmd, "commit")) {
		status = do_commit(sh);
	} else if (!strcmp(cmd, "rollback")) {
		do_rollback(sh);
	} else if (!strcmp(cmd, "help")) {
		show_help(argc > 1 ? argv[1] : NULL);
	} else if (!strcmp(cmd, "exit") || !strcmp(cmd, "quit")) {
		status = -1;
	} else {
		fprintf(stderr, "rximg: shell: unknown command '%s' (type help)\n", cmd);
		status = EXIT_USAGE;
	}
	shell_free_words(argv, argc);
	return status;
}

/* ---- interactive ---- */

#ifdef HAVE_LIBEDIT
/*
 * libedit keeps copies (wcsdup) of the name and help given to EL_ADDFN and
 * never frees them, even in el_end: not ours to fix, so LeakSanitizer is told
 * to ignore them. rximg itself never calls wcsdup, and libedit is built
 * without frame pointers, so its frames are not in the report to match.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libedit\nleak:wcsdup\n";
}

static char *prompt_text;

static char *prompt(EditLine *el)
{
	(void)el;
	free(prompt_text);
	prompt_text = rx_xasprintf("rximg %s:%s%s> ", current->image, current->cwd, pending(current) ? " *" : "");
	return prompt_text;
}

struct cands {
	char **v;
	size_t n;
	const char *prefix;
	size_t plen;
};

static void cand_add(struct cands *c, const char *name, size_t len, const char *suffix)
{
	if (len < c->plen || memcmp(name, c->prefix, c->plen))
		return;
	c->v = rx_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = rx_xasprintf("%.*s%s", (int)len, name, suffix);
}

static int cand_entry(void *arg, const char *name, size_t len, const struct vfs_attr *a)
{
	cand_add(arg, name, len, a && vfs_is_dir(a) ? "/" : " ");
	return 0;
}

/* Options of a verb, from its --help (as the bash completion has them). */
static void cand_options(struct cands *c, const char *verb)
{
	FILE *tmp = tmpfile();
	if (!tmp)
		return;
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	if (saved >= 0 && dup2(fileno(tmp), STDOUT_FILENO) >= 0) {
		complete_options(find_verb(verb), verb);
		fflush(stdout);
		dup2(saved, STDOUT_FILENO);
	}
	if (saved >= 0)
		close(saved);
	rewind(tmp);
	char line[256];
	while (fgets(line, sizeof(line), tmp)) {
		line[strcspn(line, "\n")] = 0;
		cand_add(c, line, strlen(line), " ");
	}
	fclose(tmp);
}

static unsigned char complete_word(EditLine *el, int ch)
{
	(void)ch;
	struct shell *sh = current;
	const LineInfo *li = el_line(el);
	const char *start = li->cursor;
	while (start > li->buffer && start[-1] != ' ' && start[-1] != '\t')
		start--;
	int index = 0;
	for (const char *p = li->buffer; p < start; p++)
		if ((p == li->buffer || p[-1] == ' ' || p[-1] == '\t') && *p != ' ' && *p != '\t')
			index++;
	char *word = strndup(start, (size_t)(li->cursor - start));
	char *first = strndup(li->buffer, strcspn(li->buffer, " \t"));
	if (!word || !first)
		abort();
	struct cands c = { NULL, 0, word, strlen(word) };
	const char *slash = strrchr(word, '/');
	size_t dirlen = slash ? (size_t)(slash - word) + 1 : 0;
	if (index == 0) {
		for (size_t i = 0; i < RX_ARRAY_SIZE(scmds); i++)
			cand_add(&c, scmds[i].name, strlen(scmds[i].name), " ");
		for (size_t i = 0; i < RX_ARRAY_SIZE(builtins); i++)
			cand_add(&c, builtins[i].name, strlen(builtins[i].name), " ");
	} else if (word[0] == '-' && find_scmd(first)) {
		cand_options(&c, find_scmd(first)->verb);
	} else if (!strcmp(first, "help")) {
		for (size_t i = 0; i < RX_ARRAY_SIZE(scmds); i++)
			cand_add(&c, scmds[i].name, strlen(scmds[i].name), " ");
	} else {
		int host = !strcmp(first, "put") ? 1 : 0;
		if (!strcmp(first, "get") && index >= 2)
			host = 1;
		char *dir = strndup(word, dirlen);
		if (!dir)
			abort();
		c.prefix = word + dirlen;
		c.plen = strlen(c.prefix);
		if (host) {
			DIR *d = opendir(dirlen ? dir : ".");
			struct dirent *de;
			while (d && (de = readdir(d)) != NULL) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				char *full = rx_xasprintf("%s%s", dir, de->d_name);
				struct stat st;
				int isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
				free(full);
				cand_add(&c, de->d_name, strlen(de->d_name), isdir ? "/" : " ");
			}
			if (d)
				closedir(d);
		} else {
			char *abs = shell_absolute(sh->cwd, dirlen ? dir : ".");
			struct rx_res *res;
			const char *path;
			struct vfs *v = level_vfs(sh, abs, &res, &path);
			if (v)
				vfs_readdir(v, path, 1, cand_entry, &c);
			rx_clear(&sh->ctx);
			rx_res_close(res);
			free(abs);
		}
		free(dir);
	}
	unsigned char ret = CC_REFRESH;
	if (c.n == 1) {
		el_insertstr(el, c.v[0] + c.plen);
	} else if (c.n > 1) {
		size_t common = strlen(c.v[0]);
		for (size_t i = 1; i < c.n; i++) {
			size_t k = 0;
			while (k < common && c.v[i][k] == c.v[0][k])
				k++;
			common = k;
		}
		if (common > c.plen) {
			char *add = strndup(c.v[0] + c.plen, common - c.plen);
			if (!add)
				abort();
			el_insertstr(el, add);
			free(add);
		} else {
			putchar('\n');
			for (size_t i = 0; i < c.n; i++)
				printf("%s%s", c.v[i], i + 1 < c.n ? "  " : "\n");
			ret = CC_REDISPLAY;
		}
	} else {
		ret = CC_ERROR;
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i]);
	free(c.v);
	free(word);
	free(first);
	return ret;
}

static char *history_file(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir = state && *state ? rx_xasprintf("%s/rximg", state)
		    : home && *home ? rx_xasprintf("%s/.local/state/rximg", home) : NULL;
	if (!dir)
		return NULL;
	/* mkdir -p, quietly: no history is no reason to fail. */
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(dir, 0700);
			*p = '/';
		}
	}
	mkdir(dir, 0700);
	char *f = rx_xasprintf("%s/history", dir);
	free(dir);
	return f;
}

static void interactive_begin(struct shell *sh)
{
	HistEvent ev;
	sh->el = el_init("rximg", stdin, stdout, stderr);
	sh->hist = history_init();
	history(sh->hist, &ev, H_SETSIZE, 1000);
	history(sh->hist, &ev, H_SETUNIQUE, 1);
	sh->histfile = history_file();
	if (sh->histfile)
		history(sh->hist, &ev, H_LOAD, sh->histfile);
	el_set(sh->el, EL_PROMPT, prompt);
	el_set(sh->el, EL_EDITOR, "emacs");
	el_set(sh->el, EL_HIST, history, sh->hist);
	el_set(sh->el, EL_ADDFN, "rximg-complete", "complete a command, option or path", complete_word);
	el_set(sh->el, EL_BIND, "^I", "rximg-complete", NULL);
	el_source(sh->el, NULL);	/* the user's ~/.editrc */
}

static const char *interactive_line(struct shell *sh)
{
	int count;
	const char *line = el_gets(sh->el, &count);
	if (line && count > 0 && strspn(line, " \t\n") != strlen(line)) {
		HistEvent ev;
		history(sh->hist, &ev, H_ENTER, line);
	}
	return count > 0 ? line : NULL;
}

static void interactive_end(struct shell *sh)
{
	HistEvent ev;
	if (sh->histfile)
		history(sh->hist, &ev, H_SAVE, sh->histfile);
	free(sh->histfile);
	history_end(sh->hist);
	el_end(sh->el);
	free(prompt_text);
	prompt_text = NULL;
}
#else
/* Without libedit: plain lines from the terminal. */
static void interactive_begin(struct shell *sh) { (void)sh; }
static void interactive_end(struct shell *sh) { (void)sh; }
static const char *interactive_line(struct shell *sh)
{
	static char *buf;
	static size_t cap;
	printf("rximg %s:%s%s> ", sh->image, sh->cwd, pending(sh) ? " *" : "");
	fflush(stdout);
	return getline(&buf, &cap, stdin) > 0 ? buf : NULL;
}
#endif

static int ask_commit(struct shell *sh)
{
	fprintf(stderr, "%zu change%s pending for %s. Commit? [y/N] ", sh->nlog, sh->nlog == 1 ? "" : "s",
		sh->image);
	char answer[16] = "";
	if (!fgets(answer, sizeof(answer), stdin))
		return 0;
	return answer[0] == 'y' || answer[0] == 'Y';
}

static const char shell_help[] =
	"Usage: rximg shell [OPTIONS] IMAGE[:pN]\n"
	"       rximg shell [OPTIONS] IMAGE[:pN] -f SCRIPT\n"
	"An interactive shell on one image: cd, ls, cat, get, put, rm, mkdir, mv, edit, ...\n"
	"(type help). The image stays locked; every change is pending until 'commit'.\n"
	"With -f, or when standard input is not a terminal, commands are read as a batch:\n"
	"the first failing one stops it (its line is named), and the whole script lands as\n"
	"one commit, or nothing does.\n\n"
	"  -f, --file SCRIPT   read commands from SCRIPT\n"
	"  -k, --keep-going    in a batch, run every command even after a failure\n"
	"                      (nothing lands if any failed)\n"
	"      --autocommit    on exit, commit pending changes without asking\n"
	"  -h, --help          show this help\n";

int cmd_shell(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, 0, 'f' }, { "keep-going", no_argument, 0, 'k' },
		{ "autocommit", no_argument, 0, 'a' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct shell sh = { 0 };
	const char *script = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "f:kh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': script = optarg; break;
		case 'k': sh.keep_going = 1; break;
		case 'a': sh.autocommit = 1; break;
		case 'h': fputs(shell_help, stdout); return EXIT_OK;
		default: return bad_option("shell", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("shell", "expected IMAGE");
	sh.image = argv[optind];
	if (strchr(sh.image, '/') && strstr(sh.image, ":/"))
		return usage_error("shell", "name the image (and partition) only, not a path: %s", sh.image);
	FILE *in = stdin;
	if (script && !(in = fopen(script, "r"))) {
		fprintf(stderr, "rximg: %s: %s\n", script, strerror(errno));
		return EXIT_FAIL;
	}
	sh.interactive = !script && isatty(STDIN_FILENO);
	struct rx_res_opts o;
	place_opts(&o, 1);
	o.dropped_arg = (void *)sh.image;
	if (rx_res_open(&sh.ctx, sh.image, &o, &sh.res) != 0) {
		report(&sh.ctx, NULL, NULL);
		if (script)
			fclose(in);
		return EXIT_FAIL;
	}
	if (sh.res->lv[0].kind != RX_LV_REDOXFS || sh.res->nlv != 1) {
		fprintf(stderr, "rximg: %s: the shell works on a disk image's RedoxFS\n", sh.image);
		rx_res_close(sh.res);
		if (script)
			fclose(in);
		return EXIT_FAIL;
	}
	sh.cwd = rx_xstrdup("/");
	current = &sh;
	place_session(sh.res, &sh.ctx);
	int status = EXIT_OK, failed = 0;
	unsigned lineno = 0;
	if (sh.interactive)
		interactive_begin(&sh);
	char *buf = NULL;
	size_t cap = 0;
	for (;;) {
		const char *line;
		if (sh.interactive) {
			line = interactive_line(&sh);
		} else {
			line = getline(&buf, &cap, in) > 0 ? buf : NULL;
		}
		if (!line)
			break;
		lineno++;
		int r = run_line(&sh, line);
		if (r == -1)
			break;
		if (r != EXIT_OK && !sh.interactive) {
			failed = 1;
			fprintf(stderr, "rximg: %s:%u: failed (exit status %d)%s\n", script ? script : "standard input",
				lineno, r, sh.keep_going ? "" : "; stopping");
			if (!sh.keep_going)
				break;
		}
	}
	free(buf);
	if (sh.interactive)
		interactive_end(&sh);
	place_session(NULL, NULL);
	if (!sh.interactive) {
		if (failed) {
			if (pending(&sh))
				fprintf(stderr, "rximg: %s: nothing was written (the script failed)\n", sh.image);
			status = EXIT_FAIL;
		} else {
			status = do_commit(&sh);
		}
	} else if (pending(&sh)) {
		if (sh.autocommit || ask_commit(&sh))
			status = do_commit(&sh);
		else
			fprintf(stderr, "rximg: %s: pending changes dropped\n", sh.image);
	}
	clear_log(&sh);
	rx_res_close(sh.res);
	free(sh.cwd);
	if (script)
		fclose(in);
	current = NULL;
	return status;
}
