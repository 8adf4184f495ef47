/* Passwords for encrypted filesystems: from the environment, a file, or the terminal. */
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

/* A line from the terminal with echo off; NULL when there is no terminal. */
static char *ask_tty(const char *prompt)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct termios old, quiet;
	int have_tc = tcgetattr(fd, &old) == 0;
	if (have_tc) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		perror("rximg");
	char buf[1024];
	size_t n = 0;
	char ch;
	while (n + 1 < sizeof(buf) && read(fd, &ch, 1) == 1 && ch != '\n')
		buf[n++] = ch;
	buf[n] = 0;
	if (have_tc)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		perror("rximg");
	close(fd);
	return rx_xstrdup(buf);
}

static char *from_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;	/* the line end is not part of the password */
	return rx_xstrdup(buf);
}

char *get_password(const char *image, int confirm, int *interactive)
{
	const char *env = getenv("RXIMG_PASSWORD");
	const char *file = getenv("RXIMG_PASSWORD_FILE");
	*interactive = 0;
	if (env)
		return rx_xstrdup(env);
	if (file) {
		char *pw = from_file(file);
		if (!pw)
			fprintf(stderr, "rximg: %s: %s\n", file, strerror(errno));
		return pw;
	}
	char prompt[1200];
	snprintf(prompt, sizeof(prompt), "Password for %s: ", image);
	char *pw = ask_tty(prompt);
	if (!pw)
		return NULL;	/* no terminal to ask on */
	*interactive = 1;
	if (confirm) {
		char *again = ask_tty("Again: ");
		if (!again || strcmp(again, pw)) {
			fprintf(stderr, "rximg: the passwords differ\n");
			free(again);
			free(pw);
			return NULL;
		}
		free(again);
	}
	return pw;
}

int unlock_fs(struct rfs *fs, const char *image)
{
	if (!fs->hdr.encrypted || fs->crypt)
		return 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		int interactive;
		char *pw = get_password(image, 0, &interactive);
		if (!pw)
			return rx_fail(fs->ctx, RX_ENOKEY, "encrypted: a password is needed "
				       "(RXIMG_PASSWORD_FILE, or run on a terminal)");
		int r = rfs_unlock(fs, (const uint8_t *)pw, strlen(pw));
		memset(pw, 0, strlen(pw));
		free(pw);
		if (r == 0 || !interactive || r != -RX_ENOKEY)
			return r;
		fprintf(stderr, "rximg: %s: %s\n", image, fs->ctx->msg);
	}
	return -RX_ENOKEY;
}
