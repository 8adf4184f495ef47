/* rximg overlay, rximg convert, and the container lines of rximg info. */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "outfile.h"
#include "progress.h"
#include "qcow2.h"

static int parse_cluster_size(const char *s, unsigned *bits)
{
	uint64_t v;
	if (parse_size(s, &v))
		return -1;
	for (unsigned b = 9; b <= 21; b++)
		if (v == 1ULL << b) {
			*bits = b;
			return 0;
		}
	return -1;
}

/* ---- info ---- */

static void size_text(uint64_t bytes, char *out, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void info_container_text(const struct rx_dev *dev)
{
	char h[32];
	const struct rx_qcow2_info *in = rx_qcow2_info(dev);
	size_text(dev->size, h, sizeof(h));
	if (!in) {
		printf("Container:  raw %s, %llu bytes (%s)\n", dev->kind, (unsigned long long)dev->size, h);
		return;
	}
	printf("Container:  qcow2 %s, virtual size %llu bytes (%s)\n", dev->kind, (unsigned long long)dev->size, h);
	/* The whole chain, top first: each file, then the backing file it names. */
	for (int depth = 0; dev; depth++, dev = rx_qcow2_backing(dev)) {
		in = rx_qcow2_info(dev);
		printf("%s%s: ", depth ? "            " : "Chain:      ", dev->name);
		if (!in) {
			size_text(dev->size, h, sizeof(h));
			printf("raw, %llu bytes (%s)\n", (unsigned long long)dev->size, h);
			continue;
		}
		size_text(in->file_size, h, sizeof(h));
		printf("qcow2 v%d, %u-byte clusters, %u-bit refcounts, file %llu bytes (%s)", in->version,
		       1u << in->cluster_bits, in->refcount_bits, (unsigned long long)in->file_size, h);
		if (in->extended_l2)
			printf(", extended L2");
		if (in->compression)
			printf(", zstd");
		if (in->nb_snapshots)
			printf(", %u snapshots", in->nb_snapshots);
		if (in->incompatible & 1)
			printf(", marked dirty");
		if (in->incompatible & 2)
			printf(", marked corrupt");
		printf("\n");
		if (in->backing_name)
			printf("              backing file '%s' (%s%s)\n", in->backing_name, in->backing_format,
			       in->backing_format_probed ? ", probed" : "");
	}
}

void info_container_json(struct json *j, const struct rx_dev *dev)
{
	const struct rx_qcow2_info *in = rx_qcow2_info(dev);
	json_str(j, "kind", dev->kind);
	json_str(j, "format", in ? "qcow2" : "raw");
	json_u64(j, "size", dev->size);
	json_arr(j, "chain");
	for (; dev; dev = rx_qcow2_backing(dev)) {
		in = rx_qcow2_info(dev);
		json_obj(j, NULL);
		json_str(j, "file", dev->name);
		json_str(j, "format", in ? "qcow2" : "raw");
		json_u64(j, "size", dev->size);
		if (in) {
			json_u64(j, "version", (uint64_t)in->version);
			json_u64(j, "file_size", in->file_size);
			json_u64(j, "cluster_size", 1ULL << in->cluster_bits);
			json_u64(j, "refcount_bits", in->refcount_bits);
			json_u64(j, "incompatible_features", in->incompatible);
			json_u64(j, "compatible_features", in->compatible);
			json_u64(j, "autoclear_features", in->autoclear);
			json_bool(j, "extended_l2", in->extended_l2);
			json_str(j, "compression", in->compression ? "zstd" : "zlib");
			json_u64(j, "snapshots", in->nb_snapshots);
			json_str(j, "backing_name", in->backing_name);
			json_str(j, "backing_file", in->backing_path);
			json_str(j, "backing_format", in->backing_name ? in->backing_format : NULL);
		}
		json_end_obj(j);
	}
	json_end_arr(j);
}

/* A backing file without a recorded format was probed: say so, as QEMU does. */
void warn_probed_backing(const struct rx_dev *dev)
{
	for (; dev; dev = rx_qcow2_backing(dev)) {
		const struct rx_qcow2_info *in = rx_qcow2_info(dev);
		if (in && in->backing_format_probed)
			warnx_("%s: backing file %s has no recorded format; probed as %s", dev->name,
			       in->backing_path, in->backing_format);
	}
}

/* ---- overlay ---- */

static const char overlay_help[] =
	"Usage: rximg overlay [OPTIONS] BASE NEW.qcow2\n"
	"Create a qcow2 overlay NEW on BASE (a raw or qcow2 image): NEW starts empty and\n"
	"reads as BASE; every later write goes into NEW and BASE is never changed.\n"
	"The backing file is stored as an absolute path with its format, as qemu-img does.\n\n"
	"      --relative          store BASE relative to NEW's folder (move both together)\n"
	"  -c, --cluster-size N    cluster size, a power of two from 512 to 2M (default 64K)\n"
	"  -h, --help              show this help\n";

int cmd_overlay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "relative", no_argument, 0, 'R' }, { "cluster-size", required_argument, 0, 'c' },
		{ "help", no_argument, 0, 'h' },     { 0, 0, 0, 0 },
	};
	int c, relative = 0;
	unsigned cb = 16;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'R': relative = 1; break;
		case 'c':
			if (parse_cluster_size(optarg, &cb))
				return usage_error("overlay", "bad cluster size '%s' (512 to 2M, a power of two)", optarg);
			break;
		case 'h': fputs(overlay_help, stdout); return EXIT_OK;
		default: return usage_error("overlay", "bad option");
		}
	}
	if (argc - optind != 2)
		return usage_error("overlay", "expected BASE NEW.qcow2");
	return make_overlay(argv[optind], argv[optind + 1], relative, cb) ? EXIT_FAIL : EXIT_OK;
}

int make_overlay(const char *base, const char *path, int relative, unsigned cluster_bits)
{
	static struct rx_ctx ctx;
	struct stat st;
	if (lstat(path, &st) == 0) {
		fprintf(stderr, "rximg: %s: already exists\n", path);
		return -1;
	}
	struct rx_outfile of;
	rx_outfile_init(&of, path);
	int r = rx_qcow2_make_overlay(&ctx, base, of.partial, path, relative, cluster_bits);
	if ((r = rx_outfile_finish(&ctx, &of, -1, r)) != 0)
		report(&ctx, path, NULL);
	return r;
}

/* ---- convert ---- */

static const char convert_help[] =
	"Usage: rximg convert [OPTIONS] SRC DST\n"
	"Copy the disk SRC (raw, or qcow2 with its backing chain) into a new image DST,\n"
	"raw or qcow2. The copy is sparse: zeros become holes in a raw DST and stay\n"
	"unallocated in a qcow2 DST, which has no backing file. DST is written as\n"
	"DST.partial and renamed when complete.\n\n"
	"  -O, --format FMT        raw or qcow2 (default: qcow2 when DST ends in .qcow2, else raw)\n"
	"  -c, --cluster-size N    qcow2 cluster size, 512 to 2M (default 64K)\n"
	"  -f, --force             replace DST if it exists\n"
	"  -q, --quiet             no progress bar\n"
	"  -h, --help              show this help\n";

/* Is all of [off, off+len) of src known to read as zeros (without reading it)? */
static int known_zero(struct rx_dev *src, uint64_t off, uint64_t len)
{
	if (rx_qcow2_is(src)) {
		uint64_t n = len;
		int zero;
		return rx_qcow2_extent(src, off, &n, &zero) == 0 && zero && n == len;
	}
	if (src->fd >= 0) {
		off_t d = lseek(src->fd, (off_t)off, SEEK_DATA);
		if (d < 0)
			return errno == ENXIO;
		return (uint64_t)d >= off + len;
	}
	return 0;
}

static int write_all(struct rx_ctx *ctx, int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(ctx, errno, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Reading and writing overlap: a reader thread fills chunks (and finds their
 * non-zero runs) while the main thread writes the previous ones.
 */
#define NSLOTS 3

struct slot {
	uint8_t *buf;
	uint64_t off;
	size_t nruns;
	size_t (*runs)[2];	/* [start, end) inside the chunk */
	int full;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slot[NSLOTS];
	struct rx_dev *src;
	uint64_t size, chunk, gran;
	int err;		/* reader failed (message in src->ctx) */
	int stop;		/* writer failed: reader must end */
	int eof;
};

static void *reader(void *arg)
{
	struct pipe *p = arg;
	size_t k = 0;
	for (uint64_t off = 0; off < p->size; off += p->chunk, k = (k + 1) % NSLOTS) {
		struct slot *s = &p->slot[k];
		pthread_mutex_lock(&p->mu);
		while (s->full && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		int stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		size_t len = (size_t)RX_MIN(p->chunk, p->size - off);
		s->off = off;
		s->nruns = 0;
		if (!known_zero(p->src, off, len)) {
			if (rx_dev_read(p->src, s->buf, len, off) != 0) {
				pthread_mutex_lock(&p->mu);
				p->err = 1;
				pthread_cond_broadcast(&p->cv);
				pthread_mutex_unlock(&p->mu);
				return NULL;
			}
			size_t start = 0, q = 0;
			int in = 0;
			for (; q < len; q += (size_t)RX_MIN(p->gran, (uint64_t)(len - q))) {
				int data = !rx_is_zero(s->buf + q, (size_t)RX_MIN(p->gran, (uint64_t)(len - q)));
				if (data && !in)
					start = q;
				else if (!data && in) {
					s->runs[s->nruns][0] = start;
					s->runs[s->nruns++][1] = q;
				}
				in = data;
			}
			if (in) {
				s->runs[s->nruns][0] = start;
				s->runs[s->nruns++][1] = len;
			}
		}
		pthread_mutex_lock(&p->mu);
		s->full = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_lock(&p->mu);
	p->eof = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Chunk buffers on huge pages where the kernel offers them: copies into them run faster. */
static uint8_t *chunk_alloc(size_t len)
{
	void *p = NULL;
	if (posix_memalign(&p, 2u << 20, len) != 0)
		return rx_xmalloc(len);
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE);
#endif
	return p;
}

static int do_convert(struct rx_ctx *ctx, struct rx_dev *src, struct rx_outfile *of, int qcow, unsigned cb, int quiet)
{
	uint64_t size = src->size;
	int fd = rx_outfile_create(ctx, of, O_RDWR, 0644);
	if (fd < 0)
		return rx_outfile_finish(ctx, of, -1, fd);
	int r = 0;
	struct rx_dev *dst = NULL;
	if (qcow) {
		struct rx_qcow2_create_opts o = { size, cb, NULL, NULL };
		r = rx_qcow2_create_fd(ctx, fd, &o);
		close(fd);
		fd = -1;
		if (r == 0)
			r = rx_dev_open_chain(ctx, of->partial, RX_DEV_RDWR, "qcow2", NULL, &dst);
		/* Nobody sees the file before the rename: its metadata needs no write order. */
		if (r == 0)
			dst->no_sync = !of->replaces;
	} else if (ftruncate(fd, (off_t)size) != 0) {
		r = rx_fail(ctx, errno, "%s: %s", of->partial, strerror(errno));
	}
	if (r)
		return rx_outfile_finish(ctx, of, fd, r);
	/* Zeros are skipped per cluster (qcow2) or per 4 KiB (raw), runs written whole. */
	struct pipe p = { .src = src, .size = size, .gran = qcow ? 1ULL << cb : 4096 };
	p.chunk = RX_MAX(4ULL << 20, p.gran);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	for (int i = 0; i < NSLOTS; i++) {
		p.slot[i].buf = chunk_alloc((size_t)p.chunk);
		p.slot[i].runs = rx_xmalloc(((size_t)(p.chunk / p.gran) + 1) * sizeof(*p.slot[i].runs));
	}
	struct progress pr;
	progress_init(&pr, "convert", size, quiet);
	pthread_t th;
	int started = pthread_create(&th, NULL, reader, &p) == 0;
	if (!started)
		r = rx_fail(ctx, EAGAIN, "cannot start a thread");
	for (size_t k = 0; started && r == 0; k = (k + 1) % NSLOTS) {
		struct slot *s = &p.slot[k];
		pthread_mutex_lock(&p.mu);
		while (!s->full && !p.err && !p.eof)
			pthread_cond_wait(&p.cv, &p.mu);
		int have = s->full, err = p.err;
		pthread_mutex_unlock(&p.mu);
		if (!have) {
			if (err)
				r = -EIO;	/* the reader's message is in the source's context */
			break;
		}
		for (size_t i = 0; i < s->nruns && r == 0; i++) {
			const uint8_t *b = s->buf + s->runs[i][0];
			size_t n = s->runs[i][1] - s->runs[i][0];
			uint64_t at = s->off + s->runs[i][0];
			r = qcow ? rx_dev_write(dst, b, n, at) : write_all(ctx, fd, b, n, at);
		}
		progress_add(&pr, RX_MIN(p.chunk, size - s->off));
#ifdef SYNC_FILE_RANGE_WRITE
		/* Start writeback now, so the final fsync finds little left to do. */
		if (r == 0 && s->nruns && of->replaces)
			sync_file_range(qcow ? rx_dev_lock_fd(dst) : fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
		pthread_mutex_lock(&p.mu);
		s->full = 0;
		if (r)
			p.stop = 1;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
	}
	if (started)
		pthread_join(th, NULL);
	if (r == -EIO && p.err) {
		memcpy(ctx->msg, src->ctx->msg, sizeof(ctx->msg));
		rx_prefix(ctx, "%s", src->name);
	}
	progress_done(&pr);
	for (int i = 0; i < NSLOTS; i++) {
		free(p.slot[i].buf);
		free(p.slot[i].runs);
	}
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	if (qcow) {
		if (r == 0)
			r = rx_dev_flush(dst);
		rx_dev_close(dst);
	}
	return rx_outfile_finish(ctx, of, fd, r);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, 0, 'O' }, { "cluster-size", required_argument, 0, 'c' },
		{ "force", no_argument, 0, 'f' },       { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },        { 0, 0, 0, 0 },
	};
	int c, force = 0, quiet = 0, qcow = -1;
	unsigned cb = 16;
	while ((c = getopt_long(argc, argv, "O:c:fqh", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			if (!strcmp(optarg, "raw"))
				qcow = 0;
			else if (!strcmp(optarg, "qcow2"))
				qcow = 1;
			else
				return usage_error("convert", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'c':
			if (parse_cluster_size(optarg, &cb))
				return usage_error("convert", "bad cluster size '%s' (512 to 2M, a power of two)", optarg);
			break;
		case 'f': force = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(convert_help, stdout); return EXIT_OK;
		default: return usage_error("convert", "bad option");
		}
	}
	if (argc - optind != 2)
		return usage_error("convert", "expected SRC DST");
	const char *src_path = argv[optind], *dst_path = argv[optind + 1];
	if (qcow < 0)
		qcow = ends_with(dst_path, ".qcow2") || ends_with(dst_path, ".qcow");
	static struct rx_ctx ctx;
	struct stat st;
	int exists = stat(dst_path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode)) {
		/* --force replaces a file by renaming over it: never a device node or a folder. */
		fprintf(stderr, "rximg: %s: not a regular file (convert writes a new image file)\n", dst_path);
		return EXIT_FAIL;
	}
	if (exists && !force) {
		fprintf(stderr, "rximg: %s: already exists (use --force to replace it)\n", dst_path);
		return EXIT_FAIL;
	}
	static struct rx_ctx src_ctx;	/* the reader thread's */
	struct rx_dev *src;
	if (rx_dev_open_file(&src_ctx, src_path, RX_DEV_RDONLY, &src)) {
		report(&src_ctx, src_path, NULL);
		return EXIT_FAIL;
	}
	warn_if_written(src, src_path);
	struct rx_outfile of;
	rx_outfile_init(&of, dst_path);
	int r = do_convert(&ctx, src, &of, qcow, cb, quiet);
	rx_dev_close(src);
	if (r)
		report(&ctx, dst_path, NULL);
	return r ? EXIT_FAIL : EXIT_OK;
}
