/* New files written whole, then renamed into place (see outfile.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

void rx_outfile_init(struct rx_outfile *of, const char *name)
{
	struct stat st;
	of->path = NULL;
	if (lstat(name, &st) == 0 && S_ISLNK(st.st_mode))
		of->path = realpath(name, NULL);	/* replace what the link points to */
	if (!of->path)
		of->path = rx_xstrdup(name);
	of->replaces = stat(of->path, &st) == 0;
	of->partial = rx_xasprintf("%s.partial", of->path);
	unlink(of->partial);
}

int rx_outfile_create(struct rx_ctx *ctx, struct rx_outfile *of, int flags, mode_t mode)
{
	int fd = open(of->partial, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd >= 0 ? fd : rx_fail(ctx, errno, "%s: %s", of->partial, strerror(errno));
}

static void sync_folder(const char *path)
{
	char *slash = strrchr(path, '/');
	char *dir = slash ? rx_xasprintf("%.*s", (int)(slash - path) + (slash == path), path) : rx_xstrdup(".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		rx_sync_fd(dfd);
		close(dfd);
	}
	free(dir);
}

int rx_outfile_commit(struct rx_ctx *ctx, struct rx_outfile *of, int fd)
{
	int r = 0;
	if (fd >= 0 && of->replaces && rx_sync_fd(fd) != 0)
		r = rx_fail(ctx, errno, "%s: fsync: %s", of->partial, strerror(errno));
	if (fd >= 0 && close(fd) != 0 && r == 0)
		r = rx_fail(ctx, errno, "%s: %s", of->partial, strerror(errno));
	if (r == 0 && rename(of->partial, of->path) != 0)
		r = rx_fail(ctx, errno, "cannot rename %s: %s", of->partial, strerror(errno));
	if (r) {
		unlink(of->partial);
		return r;
	}
	if (of->replaces)
		sync_folder(of->path);
	return 0;
}

void rx_outfile_abort(struct rx_outfile *of, int fd)
{
	if (fd >= 0)
		close(fd);
	unlink(of->partial);
}

void rx_outfile_free(struct rx_outfile *of)
{
	free(of->path);
	free(of->partial);
	of->path = of->partial = NULL;
}

int rx_outfile_finish(struct rx_ctx *ctx, struct rx_outfile *of, int fd, int r)
{
	if (r == 0)
		r = rx_outfile_commit(ctx, of, fd);
	else
		rx_outfile_abort(of, fd);
	rx_outfile_free(of);
	return r;
}
