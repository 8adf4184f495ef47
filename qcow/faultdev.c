/*
 * The fault-injection device, for tests (the idea of e2fsprogs' test_io): it
 * wraps every host file rx_dev_open_chain() opens (raw images, block devices
 * and the files under a qcow2 image, so a qcow2 image's own metadata writes
 * pass through it too) and, as the environment variable RXIMG_FAULT says,
 * makes one of the calls fail. Without RXIMG_FAULT nothing is wrapped.
 *
 *   RXIMG_FAULT=count          count the calls (see RXIMG_FAULT_LOG)
 *   RXIMG_FAULT=OP:K:KIND      OP is read, write or flush; the K-th such call
 *                              (from 1, counted over all files of the process) fails:
 *       eio     with EIO; the calls after it work again (a transient error)
 *       enospc  with ENOSPC, and so does every later write (the disk is full)
 *       fail    with EIO, and so does every later call (the device is gone)
 *       short   (read, write) only the first half of the bytes is transferred,
 *               then the call fails: a write with ENOSPC, a read with EIO
 *   RXIMG_FAULT=cut:K[:seed=S] a power cut at the K-th write: of the writes
 *               made to each file since its last flush (the K-th included), a
 *               pseudo-random choice (seeded by S, default 1, so repeatable)
 *               is kept whole, torn (only its first 512-byte sectors land) or
 *               lost; the file is left as the disk would hold it (grown only
 *               as far as the surviving writes reach). The K-th call and
 *               every later call fail with EIO.
 *
 * RXIMG_FAULT_LOG=FILE: at exit, one line is appended to FILE:
 *   "reads=R writes=W flushes=F fired=0|1 landed=N": the calls made, whether
 *   the fault was reached, and how many writes reached a file (0: no file
 *   was changed through the device, so a test need not look at it).
 * With count and no RXIMG_FAULT_LOG, the line goes to stderr.
 *
 * A flush only marks what the device has seen as durable: the host is not
 * asked to write anything out (the power cut is simulated; thousands of
 * runs need not wait for the disk).
 *
 * Calls are counted over the whole process (reads may come from two threads,
 * hence the lock), so K names the same point on every run of the same
 * command. A file closed before the cut keeps what was written to it.
 * Never set outside tests.
 */
#include "dev.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum fault_op { OP_READ, OP_WRITE, OP_FLUSH };
enum fault_kind { KIND_EIO, KIND_ENOSPC, KIND_FAIL, KIND_SHORT };
enum fault_mode { MODE_OFF, MODE_COUNT, MODE_FAULT, MODE_CUT, MODE_BAD };

/* A write since the last flush: what it replaced and what it wrote. */
struct pending {
	uint64_t off;
	size_t len, old_len;	/* old_len: the part that lay inside the file before */
	uint8_t *old, *data;
};

struct fault_dev {
	struct rx_dev dev;
	struct rx_dev *inner;
	struct pending *log;
	size_t nlog, caplog;
	uint64_t cur_size;	/* the file's size now, and at the last flush */
	uint64_t durable_size;
	int is_file;
	struct fault_dev *next;
};

static struct {
	pthread_once_t once;
	pthread_mutex_t mu;
	enum fault_mode mode;
	enum fault_op op;
	enum fault_kind kind;
	uint64_t k, rng;
	const char *spec, *log_path;
	uint64_t count[3], landed;
	int fired, dead, full;
	struct fault_dev *open;	/* for the cut: every file still open */
} F = { PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER, MODE_OFF, OP_READ, KIND_EIO, 0, 1, NULL, NULL, { 0, 0, 0 }, 0, 0, 0, 0, NULL };

static const char *const op_names[] = { "read", "write", "flush" };

static void report(void)
{
	FILE *f = F.log_path ? fopen(F.log_path, "a") : F.mode == MODE_COUNT ? stderr : NULL;
	if (!f)
		return;
	fprintf(f, "reads=%llu writes=%llu flushes=%llu fired=%d landed=%llu\n", (unsigned long long)F.count[OP_READ],
		(unsigned long long)F.count[OP_WRITE], (unsigned long long)F.count[OP_FLUSH], F.fired,
		(unsigned long long)F.landed);
	if (f != stderr)
		fclose(f);
}

static int parse_u64(const char *s, char **end, uint64_t *v)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, end, 10);
	*v = x;
	return errno || x == 0 ? -1 : 0;
}

static enum fault_mode parse(const char *s)
{
	char *end;
	if (!strcmp(s, "count"))
		return MODE_COUNT;
	if (!strncmp(s, "cut:", 4)) {
		if (parse_u64(s + 4, &end, &F.k))
			return MODE_BAD;
		if (!strncmp(end, ":seed=", 6)) {
			const char *p = end + 6;
			errno = 0;
			F.rng = strtoull(p, &end, 10);
			if (errno || end == p)
				return MODE_BAD;
		}
		return *end ? MODE_BAD : MODE_CUT;
	}
	size_t i;
	for (i = 0; i < 3; i++) {
		size_t n = strlen(op_names[i]);
		if (!strncmp(s, op_names[i], n) && s[n] == ':')
			break;
	}
	if (i == 3)
		return MODE_BAD;
	F.op = (enum fault_op)i;
	if (parse_u64(s + strlen(op_names[i]) + 1, &end, &F.k) || *end != ':')
		return MODE_BAD;
	end++;
	if (!strcmp(end, "eio"))
		F.kind = KIND_EIO;
	else if (!strcmp(end, "enospc"))
		F.kind = KIND_ENOSPC;
	else if (!strcmp(end, "fail"))
		F.kind = KIND_FAIL;
	else if (!strcmp(end, "short") && F.op != OP_FLUSH)
		F.kind = KIND_SHORT;
	else
		return MODE_BAD;
	return MODE_FAULT;
}

static void init(void)
{
	F.spec = getenv("RXIMG_FAULT");
	F.log_path = getenv("RXIMG_FAULT_LOG");
	if (!F.spec || !*F.spec)
		return;
	F.mode = parse(F.spec);
	if (F.mode != MODE_BAD)
		atexit(report);
}

/* splitmix64: a fixed sequence for a seed, the same on every host. */
static uint64_t next_random(void)
{
	uint64_t z = (F.rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void drop_log(struct fault_dev *f)
{
	for (size_t i = 0; i < f->nlog; i++) {
		free(f->log[i].old);
		free(f->log[i].data);
	}
	f->nlog = 0;
}

static void put_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* the file is left as the failed write left it: a test will see it */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

/*
 * The power goes out: undo every unflushed write (newest first) and cut the
 * file back to its size at the last flush, giving the state the disk surely
 * held; then replay the chosen survivors in their order.
 */
static void power_cut(void)
{
	for (struct fault_dev *f = F.open; f; f = f->next) {
		int fd = f->inner->fd;
		F.landed += f->nlog;
		for (size_t i = f->nlog; i-- > 0;)
			put_all(fd, f->log[i].old, f->log[i].old_len, f->log[i].off);
		uint64_t end = f->durable_size;
		if (f->is_file && f->cur_size > end && ftruncate(fd, (off_t)end) != 0)
			end = f->cur_size;
		for (size_t i = 0; i < f->nlog; i++) {
			struct pending *p = &f->log[i];
			uint64_t r = next_random();
			size_t sectors = (p->len + 511) / 512, len = p->len;
			if ((r & 3) == 0)
				continue;	/* lost */
			if ((r & 3) == 1 && sectors > 1)
				len = (size_t)(1 + (r >> 8) % (sectors - 1)) * 512;	/* torn */
			put_all(fd, p->data, len, p->off);
		}
		drop_log(f);
	}
	F.dead = 1;
}

/*
 * Count one call and decide its fate: 0 to pass it on whole, else the errno
 * to fail with; *part is how many bytes to pass on first (short transfers).
 */
static int gate(enum fault_op op, size_t len, size_t *part)
{
	*part = 0;
	uint64_t n = ++F.count[op];
	if (F.dead)
		return EIO;
	if (F.full && op == OP_WRITE)
		return ENOSPC;
	if (F.mode != MODE_FAULT || op != F.op || n != F.k)
		return 0;
	F.fired = 1;
	switch (F.kind) {
	case KIND_EIO:
		return EIO;
	case KIND_ENOSPC:
		F.full = 1;
		return ENOSPC;
	case KIND_FAIL:
		F.dead = 1;
		return EIO;
	case KIND_SHORT:
		*part = len / 2;
		return op == OP_WRITE ? ENOSPC : EIO;
	}
	return EIO;
}

static int injected(struct rx_dev *dev, int err, const char *what, uint64_t off)
{
	if (F.mode == MODE_CUT)
		return rx_fail(dev->ctx, err, "%s at byte %llu: %s (power cut injected)", what, (unsigned long long)off,
			       strerror(err));
	return rx_fail(dev->ctx, err, "%s at byte %llu: %s (fault injected)", what, (unsigned long long)off,
		       strerror(err));
}

static int fault_pread(struct rx_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct fault_dev *f = (struct fault_dev *)dev;
	size_t part;
	pthread_mutex_lock(&F.mu);
	int err = gate(OP_READ, len, &part);
	pthread_mutex_unlock(&F.mu);
	if (!err)
		return f->inner->ops->pread(f->inner, buf, len, off);
	if (part)
		f->inner->ops->pread(f->inner, buf, part, off);
	return injected(dev, err, "read", off);
}

/* Before a write in cut mode: keep what it replaces and what it writes. */
static int log_write(struct fault_dev *f, const void *buf, size_t len, uint64_t off)
{
	if (f->nlog == f->caplog) {
		f->caplog = f->caplog ? 2 * f->caplog : 64;
		struct pending *l = realloc(f->log, f->caplog * sizeof(*l));
		if (!l)
			return rx_fail(f->dev.ctx, ENOMEM, "out of memory");
		f->log = l;
	}
	struct pending *p = &f->log[f->nlog];
	p->off = off;
	p->len = len;
	p->old_len = off >= f->cur_size ? 0 : (size_t)RX_MIN((uint64_t)len, f->cur_size - off);
	p->old = rx_xmalloc(p->old_len ? p->old_len : 1);
	p->data = rx_xmalloc(len ? len : 1);
	memcpy(p->data, buf, len);
	int r = p->old_len ? f->inner->ops->pread(f->inner, p->old, p->old_len, off) : 0;
	if (r) {
		free(p->old);
		free(p->data);
		return r;
	}
	f->nlog++;
	return 0;
}

static int fault_pwrite(struct rx_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct fault_dev *f = (struct fault_dev *)dev;
	size_t part;
	pthread_mutex_lock(&F.mu);
	int err = gate(OP_WRITE, len, &part);
	if (!err && F.mode == MODE_CUT) {
		int r = log_write(f, buf, len, off);
		if (r == 0) {
			F.landed++;
			r = f->inner->ops->pwrite(f->inner, buf, len, off);
		}
		if (r == 0 && off + len > f->cur_size)
			f->cur_size = off + len;
		if (r == 0 && F.count[OP_WRITE] == F.k) {
			F.fired = 1;
			power_cut();
			err = EIO;
		}
		pthread_mutex_unlock(&F.mu);
		return err ? injected(dev, err, "write", off) : r;
	}
	if (!err || part)
		F.landed++;
	pthread_mutex_unlock(&F.mu);
	if (!err)
		return f->inner->ops->pwrite(f->inner, buf, len, off);
	if (part)
		f->inner->ops->pwrite(f->inner, buf, part, off);
	return injected(dev, err, "write", off);
}

static int fault_flush(struct rx_dev *dev)
{
	struct fault_dev *f = (struct fault_dev *)dev;
	size_t part;
	pthread_mutex_lock(&F.mu);
	int err = gate(OP_FLUSH, 0, &part);
	pthread_mutex_unlock(&F.mu);
	if (err)
		return F.mode == MODE_CUT ? rx_fail(dev->ctx, err, "fsync: %s (power cut injected)", strerror(err))
					  : rx_fail(dev->ctx, err, "fsync: %s (fault injected)", strerror(err));
	pthread_mutex_lock(&F.mu);
	drop_log(f);
	f->durable_size = f->cur_size;
	pthread_mutex_unlock(&F.mu);
	return 0;
}

static void fault_close(struct rx_dev *dev)
{
	struct fault_dev *f = (struct fault_dev *)dev;
	pthread_mutex_lock(&F.mu);
	for (struct fault_dev **p = &F.open; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	drop_log(f);
	pthread_mutex_unlock(&F.mu);
	free(f->log);
	rx_dev_close(f->inner);
}

/* Hints pass through uncounted: they change nothing, so K names the same call with or without them. */
static void fault_advise(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	rx_dev_advise(((struct fault_dev *)dev)->inner, off, len);
}

static const struct rx_dev_ops fault_ops = { fault_pread, fault_pwrite, fault_flush, fault_close,
					     fault_advise };

int rx_fault_wrap(struct rx_ctx *ctx, struct rx_dev **dev)
{
	pthread_once(&F.once, init);
	if (F.mode == MODE_OFF)
		return 0;
	struct rx_dev *in = *dev;
	if (F.mode == MODE_BAD) {
		rx_dev_close(in);
		*dev = NULL;
		return rx_fail(ctx, EINVAL,
			       "RXIMG_FAULT=%s: expected count, read|write|flush:K:eio|enospc|fail|short, or cut:K[:seed=S]",
			       F.spec);
	}
	struct fault_dev *f = rx_xcalloc(1, sizeof(*f));
	f->dev = *in;
	f->dev.ops = &fault_ops;
	f->dev.name = rx_xstrdup(in->name);
	f->inner = in;
	f->cur_size = f->durable_size = in->size;
	struct stat st;
	f->is_file = in->fd >= 0 && fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode);
	pthread_mutex_lock(&F.mu);
	f->next = F.open;
	F.open = f;
	pthread_mutex_unlock(&F.mu);
	*dev = &f->dev;
	return 0;
}
