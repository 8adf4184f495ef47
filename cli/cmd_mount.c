/* rximg mount, rximg umount */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lock.h"
#include "mount.h"

static const char mount_help[] =
	"Usage: rximg mount [OPTIONS] IMAGE[:pN] MOUNTPOINT [-- COMMAND [ARGS...]]\n"
	"Mount a RedoxFS read-write with FUSE. Returns once the mount is live (or failed);\n"
	"with -- COMMAND, runs it while mounted (in the current folder, with RXIMG_MOUNTPOINT\n"
	"set to the mount point's absolute path), then unmounts, waits for the final commit\n"
	"and exits with the command's status.\n\n"
	"Changes are grouped into commits: on fsync, at most commit=MS milliseconds after the\n"
	"first change, and at unmount. A crash loses at most the uncommitted changes; the\n"
	"image always holds the last commit, intact.\n\n"
	"  -f, --foreground       stay in the foreground\n"
	"  -o, --options OPTS     ro, rw (default), allow_other, default_permissions,\n"
	"                         commit=MS (default 1000), no_writeback_cache\n"
	"      --pid-file FILE    write the server's process id to FILE\n"
	"  -h, --help             show this help\n";

static int parse_mount_options(char *s, struct mount_opts *o)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (!strcmp(tok, "ro"))
			o->read_only = 1;
		else if (!strcmp(tok, "rw"))
			o->read_only = 0;
		else if (!strcmp(tok, "allow_other"))
			o->allow_other = 1;
		else if (!strcmp(tok, "default_permissions"))
			o->default_permissions = 1;
		else if (!strcmp(tok, "writeback_cache"))
			o->no_writeback_cache = 0;
		else if (!strcmp(tok, "no_writeback_cache"))
			o->no_writeback_cache = 1;
		else if (!strncmp(tok, "commit=", 7)) {
			char *end;
			unsigned long ms = strtoul(tok + 7, &end, 10);
			if (*end || end == tok + 7 || ms > 3600000)
				return -1;
			o->commit_ms = (unsigned)ms;
		} else
			return -1;
	}
	return 0;
}

static int write_pid(const char *file)
{
	FILE *f = fopen(file, "w");
	if (!f)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f);
}

/* The server: open, lock, mount, serve; returns the exit status. */
static int serve(const char *spec, const char *mountpoint, struct mount_opts *o)
{
	static struct rx_ctx ctx;
	struct target t;
	struct rx_image *img = NULL;
	if (target_parse(&ctx, spec, &t) != 0 || (t.path && strcmp(t.path, "/"))) {
		if (!ctx.msg[0])
			rx_fail(&ctx, EINVAL, "mount takes IMAGE[:pN], not a path inside it");
		char msg[1200];
		snprintf(msg, sizeof(msg), "%s\n", ctx.msg);
		if (o->ready_fd >= 0 && write(o->ready_fd, msg, strlen(msg)) < 0)
			perror("rximg");
		target_free(&t);
		return EXIT_FAIL;
	}
	int r = rx_image_open(&ctx, t.image, t.partno, o->read_only ? RX_DEV_RDONLY : RX_DEV_RDWR, &img);
	/* A reader's lock: refused while QEMU or rximg may write the image or its backing files. */
	if (r == 0 && o->read_only)
		r = rx_dev_lock(&ctx, img->container, RX_DEV_RDONLY);
	struct rfs *fs;
	if (r == 0 && (r = rx_image_redoxfs(img, &fs)) == 0 && fs->hdr.encrypted)
		r = o->password ? rfs_unlock(fs, (const uint8_t *)o->password, strlen(o->password))
				: unlock_fs(fs, t.image);
	if (r == 0 && o->pid_file && write_pid(o->pid_file) != 0)
		r = rx_fail(&ctx, errno, "%s: %s", o->pid_file, strerror(errno));
	if (r == 0)
		r = rx_mount_serve(img, mountpoint, o);
	else if (o->ready_fd >= 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "%s: %s\n", t.image, ctx.msg);
		if (write(o->ready_fd, msg, strlen(msg)) < 0)
			perror("rximg");
	}
	if (r && o->ready_fd < 0)
		report(&ctx, t.image, NULL);
	if (img)
		rx_image_close(img);
	if (o->pid_file)
		unlink(o->pid_file);
	target_free(&t);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* Unmount and wait until the server has committed and let go of the image. */
static int unmount_and_wait(const char *mountpoint, pid_t server)
{
	if (rx_unmount(mountpoint) != 0) {
		fprintf(stderr, "rximg: %s: cannot unmount: %s\n", mountpoint, strerror(errno));
		return EXIT_FAIL;
	}
	if (server > 0) {
		int st = 0;
		if (waitpid(server, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "rximg: %s: the final commit failed\n", mountpoint);
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, 0, 'f' }, { "options", required_argument, 0, 'o' },
		{ "pid-file", required_argument, 0, 'p' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct mount_opts o = { .commit_ms = 1000, .ready_fd = -1 };
	int c;
	while ((c = getopt_long(argc, argv, "+fo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o.foreground = 1; break;
		case 'o':
			if (parse_mount_options(optarg, &o))
				return usage_error("mount", "bad option list '%s'", optarg);
			break;
		case 'p': o.pid_file = optarg; break;
		case 'h': fputs(mount_help, stdout); return EXIT_OK;
		default: return bad_option("mount", argv);
		}
	}
	if (argc - optind < 2)
		return usage_error("mount", "expected IMAGE MOUNTPOINT");
	const char *spec = argv[optind], *mountpoint = argv[optind + 1];
	char **cmd = NULL;
	if (argc - optind > 2) {
		if (strcmp(argv[optind + 2], "--") || argc - optind < 4)
			return usage_error("mount", "expected IMAGE MOUNTPOINT [-- COMMAND...]");
		cmd = argv + optind + 3;
	}
	struct stat st;
	if (stat(mountpoint, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "rximg: %s: not a directory\n", mountpoint);
		return EXIT_FAIL;
	}
	if (o.foreground && !cmd)
		return serve(spec, mountpoint, &o);

	/* The server loses the terminal: ask for a password first, if one is needed. */
	char *password = NULL;
	{
		static struct rx_ctx pctx;
		struct target t;
		struct rx_image *img;
		struct rfs *fs;
		if (target_parse(&pctx, spec, &t) == 0) {
			if (rx_image_open(&pctx, t.image, t.partno, RX_DEV_RDONLY, &img) == 0) {
				if (rx_image_redoxfs(img, &fs) == 0 && fs->hdr.encrypted) {
					int interactive;
					password = get_password(t.image, 0, &interactive);
				}
				rx_image_close(img);
			}
			target_free(&t);
		}
		o.password = password;
	}

	int pipefd[2];
	if (pipe(pipefd) != 0) {
		perror("rximg: pipe");
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid_t server = fork();
	if (server < 0) {
		perror("rximg: fork");
		return EXIT_FAIL;
	}
	if (server == 0) {
		close(pipefd[0]);
		o.ready_fd = pipefd[1];
		if (!cmd) {
			/* A daemon: its own session, away from the terminal. */
			setsid();
			int null = open("/dev/null", O_RDWR);
			if (null >= 0) {
				dup2(null, STDIN_FILENO);
				dup2(null, STDOUT_FILENO);
				if (!getenv("RXIMG_MOUNT_LOG"))
					dup2(null, STDERR_FILENO);
				if (null > 2)
					close(null);
			}
		}
		_exit(serve(spec, mountpoint, &o));
	}
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	close(pipefd[1]);
	char msg[1300];
	ssize_t n = 0, got;
	while ((got = read(pipefd[0], msg + n, sizeof(msg) - 1 - (size_t)n)) > 0) {
		n += got;
		if (memchr(msg, '\n', (size_t)n))
			break;
	}
	close(pipefd[0]);
	msg[n > 0 ? n : 0] = 0;
	if (strcmp(msg, "OK\n") != 0) {
		int ws = 0;
		waitpid(server, &ws, 0);
		msg[strcspn(msg, "\n")] = 0;
		fprintf(stderr, "rximg: %s\n", msg[0] ? msg : "the mount server failed to start");
		return EXIT_FAIL;
	}
	if (!cmd)
		return EXIT_OK;

	char *abs_mp = realpath(mountpoint, NULL);
	pid_t child = fork();
	if (child == 0) {
		if (abs_mp)
			setenv("RXIMG_MOUNTPOINT", abs_mp, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "rximg: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	free(abs_mp);
	int ws = 0, status = 127;
	if (child > 0 && waitpid(child, &ws, 0) > 0)
		status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	int u = unmount_and_wait(mountpoint, server);
	return u == EXIT_OK ? status : EXIT_FAIL;
}

static const char umount_help[] =
	"Usage: rximg umount MOUNTPOINT\n"
	"Unmount an rximg mount and wait until its final commit is on disk.\n\n"
	"  -h, --help  show this help\n";

int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(umount_help, stdout);
			return EXIT_OK;
		}
		return bad_option("umount", argv);
	}
	if (argc - optind != 1)
		return usage_error("umount", "expected MOUNTPOINT");
	const char *mp = argv[optind];
	int read_only = 0;
	char *image = rx_mount_source(mp, "rximg", &read_only);
	if (!image) {
		fprintf(stderr, "rximg: %s: not an rximg mount\n", mp);
		return EXIT_FAIL;
	}
	/* Hold the image open before unmounting, to see the server let go of it. */
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	int status = unmount_and_wait(mp, 0);
	/* A read-only server has nothing to commit (and may share the image with others). */
	if (status == EXIT_OK && fd >= 0 && !read_only) {
		struct timespec pause = { 0, 10000000 };
		int waited = 0;
		while (flock(fd, LOCK_EX | LOCK_NB) != 0 && waited++ < 6000)
			nanosleep(&pause, NULL);
		if (waited > 6000) {
			fprintf(stderr, "rximg: %s: still busy after 60 s\n", image);
			status = EXIT_FAIL;
		}
	}
	if (fd >= 0)
		close(fd);
	free(image);
	return status;
}
