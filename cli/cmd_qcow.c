/* rximg overlay, convert, rebase and commit, and the container lines of rximg info. */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lock.h"
#include "outfile.h"
#include "progress.h"
#include "qcow2.h"
#include "table.h"

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

/* qemu-img's format names that rximg knows: raw and qcow2. */
static int parse_format(const char *verb, const char *s, const char **fmt)
{
	if (strcmp(s, "raw") && strcmp(s, "qcow2"))
		return usage_error(verb, "unknown format '%s' (raw or qcow2)", s);
	*fmt = s;
	return 0;
}

/* ---- info ---- */

/* The container and, for a qcow2, its backing chain: each file, then the file it names. */
enum { K_KIND, K_FORMAT, K_SIZE, K_CHAIN, K_VIRTUAL };
static const struct tfield container_fields[] = {
	[K_KIND] = { "kind", TK_STR, 0 },
	[K_FORMAT] = { "format", TK_STR, 0 },
	[K_SIZE] = { "size", TK_U64, 0 },
	[K_CHAIN] = { "chain", TK_RECORDS, 0 },
	[K_VIRTUAL] = { NULL, TK_BOOL, 0 },
};
static const struct tcol container_cols[] = {
	{ K_FORMAT, "Container:  %s", 0 }, { K_KIND, " %s,", 0 }, { K_VIRTUAL, " virtual size", TC_NONZERO },
	{ K_SIZE, " %s bytes (%h)\n", 0 }, { K_CHAIN, NULL, 0 },
};
static const struct tlayout container_layout = LAYOUT(container_cols);

enum {
	Q_FILE, Q_FORMAT, Q_SIZE, Q_VERSION, Q_FILE_SIZE, Q_CLUSTER_SIZE, Q_REFCOUNT_BITS, Q_INCOMPATIBLE,
	Q_COMPATIBLE, Q_AUTOCLEAR, Q_EXTENDED_L2, Q_COMPRESSION, Q_SNAPSHOTS, Q_BACKING_NAME, Q_BACKING_FILE,
	Q_BACKING_FORMAT, Q_LEAD, Q_RAW_SIZE, Q_ZSTD, Q_DIRTY, Q_CORRUPT, Q_PROBED,
};
static const struct tfield chain_fields[] = {
	[Q_FILE] = { "file", TK_STR, 0 },
	[Q_FORMAT] = { "format", TK_STR, 0 },
	[Q_SIZE] = { "size", TK_U64, 0 },
	[Q_VERSION] = { "version", TK_COUNT, 0 },
	[Q_FILE_SIZE] = { "file_size", TK_U64, 0 },
	[Q_CLUSTER_SIZE] = { "cluster_size", TK_COUNT, 0 },
	[Q_REFCOUNT_BITS] = { "refcount_bits", TK_COUNT, 0 },
	[Q_INCOMPATIBLE] = { "incompatible_features", TK_HEX, 0 },
	[Q_COMPATIBLE] = { "compatible_features", TK_HEX, 0 },
	[Q_AUTOCLEAR] = { "autoclear_features", TK_HEX, 0 },
	[Q_EXTENDED_L2] = { "extended_l2", TK_BOOL, 0 },
	[Q_COMPRESSION] = { "compression", TK_STR, 0 },
	[Q_SNAPSHOTS] = { "snapshots", TK_COUNT, 0 },
	[Q_BACKING_NAME] = { "backing_name", TK_STR, 0 },
	[Q_BACKING_FILE] = { "backing_file", TK_STR, 0 },
	[Q_BACKING_FORMAT] = { "backing_format", TK_STR, 0 },
	[Q_LEAD] = { NULL, TK_STR, 0 },
	[Q_RAW_SIZE] = { NULL, TK_U64, 0 },
	[Q_ZSTD] = { NULL, TK_BOOL, 0 },
	[Q_DIRTY] = { NULL, TK_BOOL, 0 },
	[Q_CORRUPT] = { NULL, TK_BOOL, 0 },
	[Q_PROBED] = { NULL, TK_BOOL, 0 },
};
static const struct tcol chain_cols[] = {
	{ Q_LEAD, "%s", 0 }, { Q_FILE, "%s: ", 0 }, { Q_RAW_SIZE, "raw, %s bytes (%h)\n", 0 },
	{ Q_VERSION, "qcow2 v%s", 0 }, { Q_CLUSTER_SIZE, ", %s-byte clusters", 0 },
	{ Q_REFCOUNT_BITS, ", %s-bit refcounts", 0 }, { Q_FILE_SIZE, ", file %s bytes (%h)", 0 },
	{ Q_EXTENDED_L2, ", extended L2", TC_NONZERO }, { Q_ZSTD, ", zstd", TC_NONZERO },
	{ Q_SNAPSHOTS, ", %s snapshots", TC_NONZERO }, { Q_DIRTY, ", marked dirty", TC_NONZERO },
	{ Q_CORRUPT, ", marked corrupt", TC_NONZERO }, { Q_VERSION, "\n", 0 },
	{ Q_BACKING_NAME, "              backing file '%s'", 0 }, { Q_BACKING_FORMAT, " (%s", 0 },
	{ Q_PROBED, ", probed", TC_NONZERO }, { Q_BACKING_NAME, ")\n", 0 },
};
static const struct tlayout chain_layout = LAYOUT(chain_cols);

static void str_or_null(struct record *r, unsigned i, const char *s)
{
	if (s)
		rec_str(r, i, s);
	else
		rec_null(r, i);
}

struct record *container_record(const struct rx_dev *dev, const struct tlayout **l)
{
	const struct rx_qcow2_info *in = rx_qcow2_info(dev);
	size_t n = 0;
	for (const struct rx_dev *d = dev; d; d = rx_qcow2_backing(d))
		n++;
	/* The container's record first, then one for each file of the chain. */
	struct record *r = rx_xcalloc(n + 1, sizeof(*r)), *chain = r + 1;
	RECORD_INIT(r, container_fields);
	*l = &container_layout;
	rec_str(r, K_KIND, dev->kind);
	rec_str(r, K_FORMAT, in ? "qcow2" : "raw");
	rec_u64(r, K_SIZE, dev->size);
	rec_u64(r, K_VIRTUAL, in != NULL);
	/* A raw file is its own chain: the JSON lists it, the text has said all there is. */
	rec_records(r, K_CHAIN, chain, n, in ? &chain_layout : NULL);
	for (size_t depth = 0; dev; depth++, dev = rx_qcow2_backing(dev)) {
		struct record *q = &chain[depth];
		in = rx_qcow2_info(dev);
		RECORD_INIT(q, chain_fields);
		rec_str(q, Q_LEAD, depth ? "            " : "Chain:      ");
		rec_str(q, Q_FILE, dev->name);
		rec_str(q, Q_FORMAT, in ? "qcow2" : "raw");
		rec_u64(q, Q_SIZE, dev->size);
		if (!in) {
			rec_u64(q, Q_RAW_SIZE, dev->size);
			continue;
		}
		rec_u64(q, Q_VERSION, (uint64_t)in->version);
		rec_u64(q, Q_FILE_SIZE, in->file_size);
		rec_u64(q, Q_CLUSTER_SIZE, 1ULL << in->cluster_bits);
		rec_u64(q, Q_REFCOUNT_BITS, in->refcount_bits);
		rec_u64(q, Q_INCOMPATIBLE, in->incompatible);
		rec_u64(q, Q_COMPATIBLE, in->compatible);
		rec_u64(q, Q_AUTOCLEAR, in->autoclear);
		rec_u64(q, Q_EXTENDED_L2, in->extended_l2);
		rec_str(q, Q_COMPRESSION, in->compression ? "zstd" : "zlib");
		rec_u64(q, Q_ZSTD, in->compression != 0);
		rec_u64(q, Q_SNAPSHOTS, in->nb_snapshots);
		rec_u64(q, Q_DIRTY, in->incompatible & 1);
		rec_u64(q, Q_CORRUPT, (in->incompatible & 2) != 0);
		str_or_null(q, Q_BACKING_NAME, in->backing_name);
		str_or_null(q, Q_BACKING_FORMAT, in->backing_name ? in->backing_format : NULL);
		str_or_null(q, Q_BACKING_FILE, in->backing_path);
		rec_u64(q, Q_PROBED, in->backing_name && in->backing_format_probed);
	}
	return r;
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
	"       rximg overlay [OPTIONS] -b BACKING [-F FMT] NEW.qcow2\n"
	"Create a qcow2 overlay NEW on BASE (a raw or qcow2 image): NEW starts empty and\n"
	"reads as BASE; every later write goes into NEW and BASE is never changed.\n"
	"BASE is stored as an absolute path with its format. With qemu-img's -b, BACKING\n"
	"is stored as given and a relative name is found from NEW's folder, as\n"
	"qemu-img create -b does.\n\n"
	"  -b, --backing BACKING   the backing file, named as qemu-img create -b names it\n"
	"  -F, --backing-format FMT  the backing file must be FMT (raw or qcow2)\n"
	"  -f, --image-format FMT  the format of NEW: qcow2 (the only one overlays have)\n"
	"      --relative          store BASE relative to NEW's folder (move both together)\n"
	"  -c, --cluster-size N    cluster size, a power of two from 512 to 2M (default 64K)\n"
	"  -h, --help              show this help\n";

static int make_overlay_named(const char *name, const char *fmt, const char *path, unsigned cluster_bits);

int cmd_overlay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "relative", no_argument, 0, 'R' },	     { "cluster-size", required_argument, 0, 'c' },
		{ "backing", required_argument, 0, 'b' },    { "backing-format", required_argument, 0, 'F' },
		{ "image-format", required_argument, 0, 'f' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, relative = 0;
	unsigned cb = 16;
	const char *backing = NULL, *bfmt = NULL, *fmt = NULL;
	while ((c = getopt_long(argc, argv, "c:b:F:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'R': relative = 1; break;
		case 'c':
			if (parse_cluster_size(optarg, &cb))
				return usage_error("overlay", "bad cluster size '%s' (512 to 2M, a power of two)", optarg);
			break;
		case 'b': backing = optarg; break;
		case 'F':
			if (parse_format("overlay", optarg, &bfmt))
				return EXIT_USAGE;
			break;
		case 'f':
			if (parse_format("overlay", optarg, &fmt))
				return EXIT_USAGE;
			if (strcmp(fmt, "qcow2"))
				return usage_error("overlay", "an overlay is a qcow2 image (-f qcow2), not %s", fmt);
			break;
		case 'h': fputs(overlay_help, stdout); return EXIT_OK;
		default: return bad_option("overlay", argv);
		}
	}
	if (backing) {
		if (argc - optind != 1)
			return usage_error("overlay", "expected -b BACKING NEW.qcow2 (BACKING is not given twice)");
		if (relative)
			return usage_error("overlay", "--relative is for BASE; -b BACKING is stored as given");
		if (!backing[0])
			return usage_error("overlay", "-b needs a backing file name");
		return make_overlay_named(backing, bfmt, argv[optind], cb) ? EXIT_FAIL : EXIT_OK;
	}
	if (argc - optind != 2)
		return usage_error("overlay", "expected BASE NEW.qcow2");
	if (bfmt) {
		/* -F checks BASE's format (the one stored is always what BASE is). */
		static struct rx_ctx ctx;
		struct rx_dev *b = NULL;
		int r = rx_dev_open_file(&ctx, argv[optind], RX_DEV_RDONLY, &b);
		if (r == 0)
			r = rx_dev_check_format(b, bfmt);
		rx_dev_close(b);
		if (r) {
			report(&ctx, argv[optind], NULL);
			return EXIT_FAIL;
		}
	}
	return make_overlay(argv[optind], argv[optind + 1], relative, cb) ? EXIT_FAIL : EXIT_OK;
}

static int overlay_exists(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		fprintf(stderr, "rximg: %s: already exists\n", path);
		return 1;
	}
	return 0;
}

static int make_overlay_named(const char *name, const char *fmt, const char *path, unsigned cluster_bits)
{
	static struct rx_ctx ctx;
	if (overlay_exists(path))
		return -1;
	struct rx_outfile of;
	rx_outfile_init(&of, path);
	int r = rx_qcow2_make_overlay_named(&ctx, name, fmt, of.partial, path, cluster_bits);
	if ((r = rx_outfile_finish(&ctx, &of, -1, r)) != 0)
		report(&ctx, path, NULL);
	return r;
}

int make_overlay(const char *base, const char *path, int relative, unsigned cluster_bits)
{
	static struct rx_ctx ctx;
	if (overlay_exists(path))
		return -1;
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
	"DST.partial and renamed when complete. -f and -O are qemu-img's spellings.\n\n"
	"  -f, --source-format FMT  SRC must be FMT (raw or qcow2; default: what it is)\n"
	"  -O, --output-format FMT  raw or qcow2 (default: qcow2 when DST ends in .qcow2, else raw)\n"
	"  -c, --cluster-size N    qcow2 cluster size, 512 to 2M (default 64K)\n"
	"      --force             replace DST if it exists\n"
	"  -p, --progress          progress bar (the default on a terminal)\n"
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
	} else if (ftruncate(fd, (off_t)size) != 0) {
		r = rx_fail(ctx, errno, "%s: %s", of->partial, strerror(errno));
	}
	close(fd);
	fd = -1;
	/* Written through the device layer, like every image write (and its test hooks). */
	if (r == 0)
		r = rx_dev_open_chain(ctx, of->partial, RX_DEV_RDWR, qcow ? "qcow2" : "raw", NULL, &dst);
	/* Nobody sees the file before the rename: its metadata needs no write order. */
	if (r == 0)
		dst->no_sync = !of->replaces;
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
			r = rx_dev_write(dst, b, n, at);
		}
		progress_add(&pr, RX_MIN(p.chunk, size - s->off));
		/* Start writeback now, so the final fsync finds little left to do. */
		if (r == 0 && s->nruns && of->replaces)
			rx_start_writeback(rx_dev_lock_fd(dst));
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
	if (r == 0)
		progress_done(&pr);
	else
		progress_stop(&pr);
	for (int i = 0; i < NSLOTS; i++) {
		free(p.slot[i].buf);
		free(p.slot[i].runs);
	}
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	if (r == 0)
		r = rx_dev_flush(dst);
	rx_dev_close(dst);
	return rx_outfile_finish(ctx, of, fd, r);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

int cmd_convert(int argc, char **argv)
{
	/* --format is the older spelling of -O; -f is qemu-img's source format, and --force has no letter. */
	static const struct option opts[] = {
		{ "output-format", required_argument, 0, 'O' }, { "format", required_argument, 0, 'O' },
		{ "source-format", required_argument, 0, 'f' }, { "cluster-size", required_argument, 0, 'c' },
		{ "force", no_argument, 0, 'F' },		{ "progress", no_argument, 0, 'p' },
		{ "quiet", no_argument, 0, 'q' },		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, force = 0, quiet = 0, qcow = -1;
	unsigned cb = 16;
	const char *src_fmt = NULL, *out_fmt = NULL;
	while ((c = getopt_long(argc, argv, "O:f:c:pqh", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			if (parse_format("convert", optarg, &out_fmt))
				return EXIT_USAGE;
			qcow = !strcmp(out_fmt, "qcow2");
			break;
		case 'f':
			if (parse_format("convert", optarg, &src_fmt))
				return EXIT_USAGE;
			break;
		case 'p': quiet = 0; break;
		case 'c':
			if (parse_cluster_size(optarg, &cb))
				return usage_error("convert", "bad cluster size '%s' (512 to 2M, a power of two)", optarg);
			break;
		case 'F': force = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(convert_help, stdout); return EXIT_OK;
		default: return bad_option("convert", argv);
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
	if (rx_dev_check_format(src, src_fmt)) {
		report(&src_ctx, src_path, NULL);
		rx_dev_close(src);
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

/* ---- rebase and commit: shared pieces ---- */

/* Guest bytes of dev (NULL: no disk at all), zeros past its end. */
static int read_padded(struct rx_dev *dev, uint8_t *buf, uint64_t len, uint64_t off)
{
	uint64_t have = !dev || off >= dev->size ? 0 : RX_MIN(len, dev->size - off);
	memset(buf + have, 0, (size_t)(len - have));
	if (have && rx_dev_read(dev, buf, (size_t)have, off) != 0) {
		rx_prefix(dev->ctx, "%s", dev->name);
		return -EIO;
	}
	return 0;
}

/* Is [off, off+len) of dev (NULL: none) known to read as zeros, past its end included? */
static int padded_zero(struct rx_dev *dev, uint64_t off, uint64_t len)
{
	if (!dev || off >= dev->size)
		return 1;
	return known_zero(dev, off, RX_MIN(len, dev->size - off));
}

/* The qcow2 image path opened for changing its backing file, locked; prints the error. */
static struct rx_dev *open_top(struct rx_ctx *ctx, const char *verb, const char *path, int mode, const char *fmt)
{
	struct rx_dev *dev = NULL;
	int r = rx_dev_open_file(ctx, path, mode, &dev);
	if (r == 0)
		r = rx_dev_check_format(dev, fmt);
	if (r == 0 && !rx_qcow2_is(dev))
		r = rx_fail(ctx, EINVAL, "is a raw image; only a qcow2 image has a backing file to %s", verb);
	if (r == 0)	/* a writer's lock even when only read (commit -d): its clusters are what gets copied */
		r = rx_dev_lock(ctx, dev, RX_DEV_RDWR);
	if (r) {
		report(ctx, path, NULL);
		rx_dev_close(dev);
		return NULL;
	}
	return dev;
}

/* ---- rebase ---- */

static const char rebase_help[] =
	"Usage: rximg rebase [OPTIONS] -b BACKING OVERLAY\n"
	"Point the qcow2 image OVERLAY at another backing file, as qemu-img rebase does.\n"
	"BACKING is stored as given; a relative name is found from OVERLAY's folder.\n"
	"-b \"\" removes the backing file. By default (safe mode) every cluster OVERLAY\n"
	"does not hold, where the old and the new backing file differ, is first copied\n"
	"from the old chain into OVERLAY, so what OVERLAY reads stays the same; the\n"
	"header is switched last. A crash at any point leaves the same content.\n\n"
	"  -b, --backing BACKING   the new backing file (\"\": none, OVERLAY stands alone)\n"
	"  -F, --backing-format FMT  raw or qcow2 (default: what BACKING is)\n"
	"  -u, --unsafe            only rewrite the name and format in the header (the old\n"
	"                          backing file need not exist; contents are not compared)\n"
	"  -f, --image-format FMT  OVERLAY must be FMT (qcow2)\n"
	"  -p, --progress          progress bar (the default on a terminal)\n"
	"  -q, --quiet             no progress bar\n"
	"  -h, --help              show this help\n";

/*
 * Safe mode: where top leaves a cluster to its backing chain and the old and
 * the new backing read differently, copy the old bytes into top. Runs are
 * whole clusters (the last one may end with the disk).
 */
static int rebase_copy(struct rx_dev *top, struct rx_dev *old, struct rx_dev *new, int quiet)
{
	uint64_t cs = 1ULL << rx_qcow2_info(top)->cluster_bits, size = top->size;
	uint64_t chunk = RX_MAX(1ULL << 20, cs);
	uint8_t *a = rx_xmalloc((size_t)chunk), *b = rx_xmalloc((size_t)chunk);
	struct progress pr;
	progress_init(&pr, "rebase", size, quiet);
	int r = 0;
	for (uint64_t off = 0; off < size && r == 0;) {
		uint64_t n = RX_MIN(chunk, size - off);
		int held;
		if ((r = rx_qcow2_held(top, off, &n, &held)) != 0)
			break;
		if (!held && !(padded_zero(old, off, n) && padded_zero(new, off, n))) {
			if ((r = read_padded(old, a, n, off)) != 0 || (r = read_padded(new, b, n, off)) != 0)
				break;
			/* Differing clusters, written in runs. */
			uint64_t run = n;	/* start of the pending run; n: none */
			for (uint64_t i = 0; i <= n && r == 0; i += cs) {
				uint64_t m = i < n ? RX_MIN(cs, n - i) : 0;
				int differs = m && memcmp(a + i, b + i, (size_t)m) != 0;
				if (differs && run == n)
					run = i;
				if (!differs && run != n) {
					r = rx_dev_write(top, a + run, (size_t)(i - run), off + run);
					run = n;
				}
			}
		}
		progress_add(&pr, n);
		off += n;
	}
	progress_done(&pr);
	free(a);
	free(b);
	return r;
}

int cmd_rebase(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backing", required_argument, 0, 'b' },	{ "backing-format", required_argument, 0, 'F' },
		{ "unsafe", no_argument, 0, 'u' },		{ "image-format", required_argument, 0, 'f' },
		{ "progress", no_argument, 0, 'p' },		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },		{ 0, 0, 0, 0 },
	};
	int c, unsafe = 0, quiet = 0;
	const char *name = NULL, *bfmt = NULL, *fmt = NULL;
	while ((c = getopt_long(argc, argv, "b:F:uf:pqh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': name = optarg; break;
		case 'F':
			if (parse_format("rebase", optarg, &bfmt))
				return EXIT_USAGE;
			break;
		case 'u': unsafe = 1; break;
		case 'f':
			if (parse_format("rebase", optarg, &fmt))
				return EXIT_USAGE;
			break;
		case 'p': quiet = 0; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(rebase_help, stdout); return EXIT_OK;
		default: return bad_option("rebase", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("rebase", "expected OVERLAY");
	if (!name)
		return usage_error("rebase", "-b BACKING is needed (-b \"\" to remove the backing file)");
	if (!name[0] && bfmt)
		return usage_error("rebase", "-F names the format of a backing file, and -b \"\" removes it");
	const char *path = argv[optind];
	static struct rx_ctx ctx;
	struct rx_dev *top = open_top(&ctx, "rebase", path, RX_DEV_RDWR | (unsafe ? RX_DEV_NO_BACKING : 0), fmt);
	if (!top)
		return EXIT_FAIL;
	struct rx_dev *nb = NULL;
	char *open_path = NULL;
	int r = 0;
	if (name[0]) {
		/* As QEMU does: a relative name is relative to the overlay's folder. */
		open_path = rx_qcow2_backing_path(path, name, 0);
		struct stat st;
		struct rx_chain self = { 0, 0, 0, NULL };
		if (fstat(rx_dev_lock_fd(top), &st) == 0) {
			self.dev = st.st_dev;
			self.ino = st.st_ino;
		}
		if (stat(open_path, &st) != 0 && errno == ENOENT) {
			/* Unsafe mode may name a file that is not there yet, once its format is given. */
			if (!unsafe || !bfmt) {
				char *abs = rx_qcow2_backing_path(path, name, 1);
				if (name[0] == '/')
					r = rx_fail(&ctx, ENOENT, "new backing file %s does not exist", abs);
				else
					r = rx_fail(&ctx, ENOENT, "new backing file %s (\"%s\", relative to the overlay's "
						    "folder) does not exist", abs, name);
				free(abs);
			}
		} else {
			r = rx_dev_open_chain(&ctx, open_path, RX_DEV_RDONLY, NULL, &self, &nb);
			if (r == 0)
				r = rx_dev_check_format(nb, bfmt);
			if (r)
				rx_prefix(&ctx, "new backing file %s", open_path);
		}
		if (r == 0 && !bfmt)
			bfmt = rx_qcow2_is(nb) ? "qcow2" : "raw";
	}
	if (r == 0 && !unsafe)
		r = rebase_copy(top, rx_qcow2_backing(top), nb, quiet);
	if (r == 0)
		r = rx_qcow2_set_backing(top, name[0] ? name : NULL, bfmt);
	if (r)
		report(&ctx, path, NULL);
	rx_dev_close(nb);
	rx_dev_close(top);
	free(open_path);
	return r ? EXIT_FAIL : EXIT_OK;
}

/* ---- commit ---- */

static const char commit_help[] =
	"Usage: rximg commit [OPTIONS] OVERLAY\n"
	"Write what the qcow2 image OVERLAY holds into its backing file (raw or qcow2),\n"
	"then empty OVERLAY, as qemu-img commit does. OVERLAY is emptied only once the\n"
	"backing file is complete and flushed: a crash at any point leaves OVERLAY\n"
	"reading as it did (the backing file may then hold part of the change).\n\n"
	"  -d, --keep-overlay      leave OVERLAY as it is (qemu-img's -d: do not empty it)\n"
	"  -b, --backing BASE      BASE must be the backing file OVERLAY names; implies -d\n"
	"  -f, --image-format FMT  OVERLAY must be FMT (qcow2)\n"
	"  -p, --progress          progress bar (the default on a terminal)\n"
	"  -q, --quiet             no progress bar\n"
	"  -h, --help              show this help\n";

static int commit_copy(struct rx_dev *top, struct rx_dev *base, int quiet)
{
	uint64_t size = top->size, chunk = 4ULL << 20;
	uint8_t *buf = rx_xmalloc((size_t)chunk);
	struct progress pr;
	progress_init(&pr, "commit", size, quiet);
	int r = 0;
	for (uint64_t off = 0; off < size && r == 0;) {
		uint64_t n = RX_MIN(chunk, size - off);
		int held;
		if ((r = rx_qcow2_held(top, off, &n, &held)) != 0)
			break;
		if (held) {
			r = rx_dev_read(top, buf, (size_t)n, off);
			/* Zeros over zeros need no write (and no new clusters in a qcow2 base). */
			if (r == 0 && !(rx_is_zero(buf, (size_t)n) && known_zero(base, off, n)))
				r = rx_dev_write(base, buf, (size_t)n, off);
		}
		progress_add(&pr, n);
		off += n;
	}
	progress_done(&pr);
	free(buf);
	return r;
}

int cmd_commit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-overlay", no_argument, 0, 'd' },	{ "backing", required_argument, 0, 'b' },
		{ "image-format", required_argument, 0, 'f' },	{ "progress", no_argument, 0, 'p' },
		{ "quiet", no_argument, 0, 'q' },		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, keep = 0, quiet = 0;
	const char *want = NULL, *fmt = NULL;
	while ((c = getopt_long(argc, argv, "db:f:pqh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': keep = 1; break;
		case 'b': want = optarg; keep = 1; break;	/* as in qemu-img: -b implies -d */
		case 'f':
			if (parse_format("commit", optarg, &fmt))
				return EXIT_USAGE;
			break;
		case 'p': quiet = 0; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(commit_help, stdout); return EXIT_OK;
		default: return bad_option("commit", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("commit", "expected OVERLAY");
	const char *path = argv[optind];
	static struct rx_ctx ctx;
	/* The overlay's own view of its backing file is not needed: the base is opened for writing instead. */
	struct rx_dev *top = open_top(&ctx, "commit into", path,
				      (keep ? RX_DEV_RDONLY : RX_DEV_RDWR) | RX_DEV_NO_BACKING, fmt);
	if (!top)
		return EXIT_FAIL;
	const struct rx_qcow2_info *in = rx_qcow2_info(top);
	struct rx_dev *base = NULL;
	int r;
	if (!in->backing_name)
		r = rx_fail(&ctx, EINVAL, "has no backing file to commit into");
	else
		r = rx_qcow2_open_backing(top, RX_DEV_RDWR, &base);
	if (r == 0 && (r = rx_dev_lock(&ctx, base, RX_DEV_RDWR)) != 0)
		rx_prefix(&ctx, "backing file %s", in->backing_path);
	if (r == 0 && want) {
		struct stat a, b;
		if (stat(want, &a) != 0)
			r = rx_fail(&ctx, errno, "-b %s: %s", want, strerror(errno));
		else if (fstat(rx_dev_lock_fd(base), &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			r = rx_fail(&ctx, EINVAL, "-b %s is not the backing file this image names (%s); rximg commits "
				    "into that one only", want, in->backing_path);
	}
	if (r == 0 && top->size > base->size) {
		/* As qemu-img does, a smaller backing file grows to the overlay's size. */
		if (rx_qcow2_is(base) || strcmp(base->kind, "file"))
			r = rx_fail(&ctx, ENOTSUP, "backing file %s is smaller than the image (%llu < %llu bytes); "
				    "growing a %s is not supported", in->backing_path, (unsigned long long)base->size,
				    (unsigned long long)top->size, rx_qcow2_is(base) ? "qcow2 image" : base->kind);
		else if (ftruncate(base->fd, (off_t)top->size) != 0)
			r = rx_fail(&ctx, errno, "backing file %s: cannot grow it: %s", in->backing_path, strerror(errno));
		else
			base->size = top->size;
	}
	if (r == 0)
		r = commit_copy(top, base, quiet);
	if (r == 0 && (r = rx_dev_flush(base)) != 0)
		rx_prefix(&ctx, "backing file %s", in->backing_path);
	/* Only now, with the base complete on the disk, may the overlay forget its clusters. */
	if (r == 0 && !keep)
		r = rx_qcow2_make_empty(top);
	if (r)
		report(&ctx, path, NULL);
	rx_dev_close(base);
	rx_dev_close(top);
	return r ? EXIT_FAIL : EXIT_OK;
}
