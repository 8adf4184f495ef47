/* rximg mkfs, put, mkdir, rm */
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "outfile.h"
#include "progress.h"
#include "wr.h"

int bad_uuid(const char *s, uint8_t out[16])
{
	int n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '-')
			continue;
		unsigned v;
		if (n >= 32 || sscanf(p, "%1x", &v) != 1)
			return 1;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return n != 32;
}

/* A version-4 UUID: random, or derived from a seed for reproducible images. */
void make_uuid(uint8_t out[16], const char *seed)
{
	if (seed) {
		unsigned char md[32];
		unsigned len;
		EVP_Digest(seed, strlen(seed), md, &len, EVP_sha256(), NULL);
		memcpy(out, md, 16);
	} else if (rx_random_bytes(out, 16) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (int i = 0; i < 16; i++)
			out[i] = (uint8_t)((ts.tv_nsec >> (i % 4 * 8)) ^ (getpid() >> (i % 2 * 8)) ^ i);
	}
	out[6] = (uint8_t)((out[6] & 0x0F) | 0x40);
	out[8] = (uint8_t)((out[8] & 0x3F) | 0x80);
}

static const char mkfs_help[] =
	"Usage: rximg mkfs [OPTIONS] IMAGE\n"
	"Create an empty RedoxFS (or one filled from a host directory) on IMAGE.\n"
	"IMAGE is created when --size is given and it does not exist; an existing file or\n"
	"block device keeps its size. A new image is written as IMAGE.partial and renamed.\n\n"
	"  -s, --size N           size of a new image (suffixes K, M, G, T: powers of 1024)\n"
	"  -r, --reserved FILE|N  keep FILE (e.g. a bootloader), or N zero bytes, before the\n"
	"                         filesystem, padded to 4 KiB\n"
	"      --uuid UUID        filesystem UUID (default: random, or derived from the seed)\n"
	"      --seed TEXT        derive the UUID from TEXT (reproducible images)\n"
	"      --from DIR         copy DIR's contents into the new filesystem\n"
	"      --owner U:G        with --from: owner of everything (default: the source's)\n"
	"  -q, --quiet            with --from: no progress bar\n"
	"  -f, --force            overwrite an image that already holds a filesystem or partitions\n"
	"      --encrypt          encrypt with a password (AES-128-XTS, Argon2id key slot): from\n"
	"                         $RXIMG_PASSWORD_FILE, $RXIMG_PASSWORD, or asked twice\n"
	"  -h, --help             show this help\n\n"
	"With SOURCE_DATE_EPOCH set, times are clamped to it and the UUID is derived from it,\n"
	"so the same input gives a byte-identical image.\n";

static int load_reserved(const char *arg, uint8_t **buf, size_t *len)
{
	uint64_t n;
	struct stat st;
	if (stat(arg, &st) != 0 && parse_size(arg, &n) == 0) {
		if (n > (uint64_t)RFS_SCAN_BLOCKS * RFS_BLOCK)
			return -1;
		*buf = rx_xcalloc((size_t)n + 1, 1);
		*len = (size_t)n;
		return 0;
	}
	FILE *f = fopen(arg, "rb");
	if (!f)
		return -1;
	size_t cap = 1 << 16, have = 0;
	*buf = rx_xmalloc(cap);
	size_t got;
	while ((got = fread(*buf + have, 1, cap - have, f)) > 0) {
		have += got;
		if (have == cap) {
			if (cap >= (size_t)RFS_SCAN_BLOCKS * RFS_BLOCK)
				break;
			*buf = rx_xrealloc(*buf, cap *= 2);
		}
	}
	fclose(f);
	*len = have;
	return 0;
}

/*
 * Fill a fresh (unlocked) filesystem with the contents of the host directory
 * from, in one transaction: the image is either complete or empty. The root
 * takes from's mode, owner (or owner) and time; with SOURCE_DATE_EPOCH times
 * are clamped to it.
 */
int fill_from_dir(struct rx_ctx *ctx, struct rfs *fs, const char *from, const struct rfs_owner *owner,
		  struct progress *bar, const char *verb, int quiet)
{
	uint64_t epoch;
	int have_epoch = reproducible_epoch(&epoch);
	struct rfs_tx *tx;
	struct rfs_node root;
	struct import_opts io = { .keep_owner = 1, .owner = owner, .have_epoch = have_epoch, .epoch = epoch,
				  .ipath = "/" };
	int r = rfs_tx_begin(fs, &tx);
	if (r)
		return r;
	/* A fresh filesystem has nothing to protect: data goes straight to disk. */
	rfs_tx_set_buffer(tx, 0);
	import_bar_begin(bar, tx, verb, &from, 1, quiet);
	r = rfs_node_get(fs, RFS_ROOT_ID, &root);
	int dfd = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		r = rx_fail(ctx, errno, "%s: %s", from, strerror(errno));
	if (r == 0)
		r = import_contents(tx, &root, dfd, from, &io);
	if (dfd >= 0) {
		struct stat ds;
		if (r == 0 && fstat(dfd, &ds) == 0 && (r = rfs_node_get(fs, RFS_ROOT_ID, &root)) == 0) {
			root.mode = (uint16_t)(RFS_MODE_DIR | (ds.st_mode & 07777));
			root.uid = io.owner ? io.owner->uid : ds.st_uid;
			root.gid = io.owner ? io.owner->gid : ds.st_gid;
			struct timespec m = rx_stat_mtime(&ds);
			root.mtime = have_epoch && (uint64_t)m.tv_sec >= epoch ? epoch : (uint64_t)m.tv_sec;
			root.mtime_nsec = have_epoch && (uint64_t)m.tv_sec >= epoch ? 0 : (uint32_t)m.tv_nsec;
			r = rfs_node_put(tx, &root);
		}
		close(dfd);
	}
	if (r == 0)
		return rfs_tx_commit(tx);
	rfs_tx_abort(tx);
	return r;
}

int cmd_mkfs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, 0, 's' }, { "reserved", required_argument, 0, 'r' },
		{ "uuid", required_argument, 0, 'u' }, { "seed", required_argument, 0, 'S' },
		{ "from", required_argument, 0, 'F' }, { "owner", required_argument, 0, 'o' },
		{ "force", no_argument, 0, 'f' },      { "help", no_argument, 0, 'h' },
		{ "encrypt", no_argument, 0, 'e' },    { "quiet", no_argument, 0, 'q' },
		{ 0, 0, 0, 0 },
	};
	uint64_t size = 0;
	int encrypt = 0, quiet = 0;
	int c, force = 0, have_size = 0, have_uuid = 0;
	const char *reserved = NULL, *seed = NULL, *from = NULL;
	struct rfs_owner owner;
	int have_owner = 0;
	struct rfs_mkfs_opts mo = { 0 };
	while ((c = getopt_long(argc, argv, "s:r:fqh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size) || size == 0)
				return usage_error("mkfs", "bad size '%s'", optarg);
			have_size = 1;
			break;
		case 'r': reserved = optarg; break;
		case 'u':
			if (bad_uuid(optarg, mo.uuid))
				return usage_error("mkfs", "bad UUID '%s'", optarg);
			have_uuid = 1;
			break;
		case 'S': seed = optarg; break;
		case 'F': from = optarg; break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("mkfs", "bad owner '%s' (want UID[:GID])", optarg);
			have_owner = 1;
			break;
		case 'f': force = 1; break;
		case 'e': encrypt = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(mkfs_help, stdout); return EXIT_OK;
		default: return bad_option("mkfs", argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("mkfs", "expected IMAGE");
	if (have_owner && !from)
		return usage_error("mkfs", "--owner applies to --from");
	const char *image = argv[optind];
	struct stat fst;
	if (from && (stat(from, &fst) != 0 || !S_ISDIR(fst.st_mode))) {
		fprintf(stderr, "rximg: %s: %s\n", from, errno && stat(from, &fst) != 0 ? strerror(errno)
										: "not a directory");
		return EXIT_FAIL;
	}
	uint64_t epoch;
	int have_epoch = reproducible_epoch(&epoch);
	char seed_buf[64];
	if (!seed && have_epoch) {
		snprintf(seed_buf, sizeof(seed_buf), "SOURCE_DATE_EPOCH=%llu", (unsigned long long)epoch);
		seed = seed_buf;
	}
	if (!have_uuid)
		make_uuid(mo.uuid, seed);
	mo.time = now_time();
	uint8_t *res = NULL;
	if (reserved && load_reserved(reserved, &res, &mo.reserved_len)) {
		free(res);
		return usage_error("mkfs", "--reserved '%s': not a readable file or a byte count", reserved);
	}
	mo.reserved = res;
	char *password = NULL;
	if (encrypt) {
		int interactive;
		password = get_password(image, 1, &interactive);
		if (!password || !*password) {
			if (password)
				fprintf(stderr, "rximg: an empty password is not allowed\n");
			free(password);
			free(res);
			return EXIT_FAIL;
		}
		mo.password = (const uint8_t *)password;
		mo.password_len = strlen(password);
	}

	static struct rx_ctx ctx;
	struct stat st;
	struct target t = { 0 };
	int exists = stat(image, &st) == 0, partno = RX_PART_AUTO;
	struct rx_outfile of = { 0 };	/* a new image, written as IMAGE.partial */
	const char *path = image;
	int status = EXIT_FAIL;
	/* IMAGE:pN: a filesystem in that partition of an existing disk image. */
	if (!exists && target_parse(&ctx, image, &t) == 0 && t.partno > 0 && !t.path) {
		path = t.image;
		partno = t.partno;
		exists = 1;
		if (have_size) {
			target_free(&t);
			free(res);
			free(password);
			return usage_error("mkfs", "--size does not apply to a partition");
		}
	} else {
		rx_clear(&ctx);
	}
	if (!exists) {
		if (!have_size) {
			free(res);
			free(password);
			return usage_error("mkfs", "%s does not exist: give --size to create it", image);
		}
		rx_outfile_init(&of, image);
		int fd = rx_outfile_create(&ctx, &of, O_RDWR, 0644);
		int err = fd < 0 ? fd : 0;
		if (!err && ftruncate(fd, (off_t)size) != 0)
			err = rx_fail(&ctx, errno, "%s: %s", of.partial, strerror(errno));
		if (err) {
			report(&ctx, NULL, NULL);
			rx_outfile_finish(&ctx, &of, fd, err);
			free(res);
			free(password);
			return EXIT_FAIL;
		}
		close(fd);
		path = of.partial;
	} else if (partno < 0 && have_size && S_ISREG(st.st_mode) && (uint64_t)st.st_size != size) {
		free(res);
			free(password);
		return usage_error("mkfs", "%s exists with another size; remove it or drop --size", image);
	}
	struct rx_image *img = NULL;
	struct progress bar;
	progress_init(&bar, "mkfs", 0, 1);
	int r = rx_image_open(&ctx, path, partno, RX_DEV_RDWR, &img);
	if (r == 0 && exists && !force) {
		struct rfs *old;
		if (rx_image_redoxfs(img, &old) == 0)
			r = rx_fail(&ctx, EEXIST, "already holds a RedoxFS (use --force to overwrite it)");
		else if (partno < 0 && img->table.type[0])
			r = rx_fail(&ctx, EEXIST, "holds a %s partition table: name a partition "
				    "(IMAGE:pN) or use --force", img->table.type);
		else
			rx_clear(&ctx);
		/* Probing must not leave a half-open filesystem behind. */
		rfs_close(img->fs);
		img->fs = NULL;
		if (partno < 0 && img->fsdev && img->fsdev != img->container)
			rx_dev_close(img->fsdev);
		if (partno < 0)
			img->fsdev = NULL;
	}
	if (r == 0)
		r = rfs_mkfs(&ctx, partno > 0 ? img->fsdev : img->container, &mo);
	if (r == 0 && from) {
		struct rfs *fs;
		r = rx_image_redoxfs(img, &fs);
		if (r == 0 && password)
			r = rfs_unlock(fs, mo.password, mo.password_len);
		if (r == 0)
			r = fill_from_dir(&ctx, fs, from, have_owner ? &owner : NULL, &bar, "mkfs", quiet);
	}
	if (r == 0)
		r = rx_dev_flush(img->container);
	rx_image_close(img);
	if (of.partial)
		r = rx_outfile_finish(&ctx, &of, -1, r);
	if (r) {
		progress_stop(&bar);
		report(&ctx, image, NULL);
	} else {
		progress_done(&bar);
		status = EXIT_OK;
	}
	free(res);
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	target_free(&t);
	return status;
}

static const char put_help[] =
	"Usage: rximg put [OPTIONS] SRC... IMAGE:/dest\n"
	"Copy host files (and with -r, directories) into an image, in one atomic commit.\n"
	"When /dest is a directory, each SRC goes inside it under its own name.\n"
	"A replaced file keeps its node, mode and owner unless -p, --mode or --owner say\n"
	"otherwise; a new one takes the source's mode and the parent directory's owner.\n\n"
	"  -p, --preserve     take mode, owner and times from the source\n"
	"  -r, --recursive    copy directories and everything in them\n"
	"  -m, --mode MODE    set this mode (octal) on what is put\n"
	"      --owner U:G    set this owner on what is put\n"
	"  -P, --parents      create missing parent directories of /dest\n"
	"  -q, --quiet        no progress bar\n"
	"  -h, --help         show this help\n";

/* Put one host file at path in the image (created or replaced). */
static int put_file(struct wsession *w, const char *src, int src_fd, const struct stat *st,
		    const char *path, const struct put_opts *po)
{
	struct rfs *fs = w->o.fs;
	struct rfs_node dir, n;
	char *name;
	int r = rfs_lookup_parent(fs, path, &dir, &name);
	if (r)
		return r;
	uint32_t id;
	r = rfs_dir_lookup(fs, &dir, name, strlen(name), &id);
	struct rfs_owner own = { (uint32_t)st->st_uid, (uint32_t)st->st_gid };
	const struct rfs_owner *ownp = po->owner ? po->owner : po->preserve ? &own : NULL;
	uint16_t mode = (uint16_t)(RFS_MODE_FILE | (st->st_mode & 07777));
	int existed = r == 0;
	if (r == -ENOENT) {
		rx_clear(fs->ctx);
		r = rfs_op_create(w->tx, &dir, name, mode, ownp, now_time(), &n);
	} else if (r == 0) {
		r = rfs_node_of_entry(fs, id, &n);
		if (r == 0 && !rfs_is_file(&n))
			r = rx_fail(fs->ctx, rfs_is_dir(&n) ? EISDIR : EEXIST,
				    "exists and is not a regular file");
	}
	if (r == 0)
		r = rfs_op_write_fd(w->tx, &n, src_fd, NULL);
	if (existed && rfs_is_damage(r)) {
		/* The old file is damaged (node or index; src is not read yet): a new one takes its name. */
		r = rfs_op_drop_damaged(w->tx, &dir, name, path);
		if (r == 0)
			r = rfs_op_create(w->tx, &dir, name, mode, ownp, now_time(), &n);
		if (r == 0)
			r = rfs_op_write_fd(w->tx, &n, src_fd, NULL);
	}
	free(name);
	if (r) {
		if (!strchr(fs->ctx->msg, '/') || fs->ctx->msg[0] != '/')
			rx_prefix(fs->ctx, "%s", src);
		return r;
	}
	if (po->preserve) {
		n.mode = (uint16_t)(RFS_MODE_FILE | (st->st_mode & 07777));
		uint64_t epoch;
		int have_epoch = reproducible_epoch(&epoch);
		n.mtime = have_epoch && (uint64_t)rx_stat_mtime(st).tv_sec > epoch ? epoch : (uint64_t)rx_stat_mtime(st).tv_sec;
		n.mtime_nsec = have_epoch && (uint64_t)rx_stat_mtime(st).tv_sec > epoch ? 0 : (uint32_t)rx_stat_mtime(st).tv_nsec;
		n.atime = n.mtime;	/* as import does: reading the source moved its atime */
		n.atime_nsec = n.mtime_nsec;
	} else {
		struct rfs_time t = now_time();
		n.mtime = n.atime = t.sec;
		n.mtime_nsec = n.atime_nsec = t.nsec;
	}
	if (po->have_mode)
		n.mode = (uint16_t)(RFS_MODE_FILE | po->mode);
	if (ownp) {
		n.uid = ownp->uid;
		n.gid = ownp->gid;
	}
	return rfs_node_put(w->tx, &n);
}

int put_one(struct wsession *w, const char *src, const char *path, const struct put_opts *po)
{
	struct rfs *fs = w->o.fs;
	struct stat st;
	/* A named source is followed if it is a symlink, as cp does; a FIFO must not block us. */
	int fd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			rx_close_file(fd);
		return rx_fail(fs->ctx, e, "%s: %s", src, strerror(e));
	}
	int r;
	if (S_ISDIR(st.st_mode)) {
		if (!po->recursive) {
			rx_close_file(fd);
			return rx_fail(fs->ctx, EISDIR, "%s: is a directory (use -r)", src);
		}
		struct rfs_node dir;
		char *name;
		struct import_opts io = { .keep_owner = po->preserve, .owner = po->owner, .ipath = path };
		io.have_epoch = reproducible_epoch(&io.epoch);
		r = rfs_lookup_parent(fs, path, &dir, &name);
		if (r == 0) {
			/* import_tree reads the directory by name: give it the parent of src. */
			char *copy = rx_xstrdup(src), *slash;
			size_t l = strlen(copy);
			while (l > 1 && copy[l - 1] == '/')
				copy[--l] = 0;
			slash = strrchr(copy, '/');
			const char *base = slash ? slash + 1 : copy;
			char *parent = slash ? (slash == copy ? rx_xstrdup("/") : strndup(copy, (size_t)(slash - copy)))
					     : rx_xstrdup(".");
			int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pfd < 0)
				r = rx_fail(fs->ctx, errno, "%s: %s", parent, strerror(errno));
			else
				r = import_tree(w->tx, &dir, name, pfd, base, src, &io);
			if (pfd >= 0)
				close(pfd);
			free(parent);
			free(copy);
			free(name);
		}
	} else if (S_ISREG(st.st_mode)) {
		r = put_file(w, src, fd, &st, path, po);
	} else {
		r = rx_fail(fs->ctx, EINVAL, "%s: not a regular file or directory", src);
	}
	rx_close_file(fd);
	return r;
}

int cmd_put(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "preserve", no_argument, 0, 'p' }, { "recursive", no_argument, 0, 'r' },
		{ "mode", required_argument, 0, 'm' }, { "owner", required_argument, 0, 'o' },
		{ "parents", no_argument, 0, 'P' },  { "help", no_argument, 0, 'h' },
		{ "quiet", no_argument, 0, 'q' },    { 0, 0, 0, 0 },
	};
	struct put_opts po = { 0 };
	struct rfs_owner owner;
	int c, quiet = 0;
	while ((c = getopt_long(argc, argv, "prm:Pqh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': po.preserve = 1; break;
		case 'r': po.recursive = 1; break;
		case 'm':
			if (parse_mode(optarg, &po.mode))
				return usage_error("put", "bad mode '%s' (want octal, e.g. 0755)", optarg);
			po.have_mode = 1;
			break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("put", "bad owner '%s' (want UID[:GID])", optarg);
			po.owner = &owner;
			break;
		case 'P': po.parents = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(put_help, stdout); return EXIT_OK;
		default: return bad_option("put", argv);
		}
	}
	if (argc - optind < 2)
		return usage_error("put", "expected SRC... IMAGE:/dest");
	if (names_member(argv[argc - 1])) {
		/* Into an archive: what cp does there; modes are kept, owners and times are not stored. */
		if (po.have_mode || po.owner || po.parents)
			return usage_error("put", "-m, --owner and -P are not available inside an archive or the ESP");
		char **v = rx_xcalloc((size_t)(argc - optind) + 3, sizeof(*v));
		int n = 0;
		v[n++] = "cp";
		if (po.recursive)
			v[n++] = "-r";
		for (int i = optind; i < argc; i++)
			v[n++] = argv[i];
		int status = run_verb(n, v);
		free(v);
		return status;
	}
	/* A missing source is the source's fault: say so before the image is opened. */
	for (int i = optind; i < argc - 1; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0)
			continue;
		int e = errno;
		static struct rx_ctx pctx;
		struct target t;
		int in_image = e == ENOENT && target_parse(&pctx, argv[i], &t) == 0;
		if (in_image && t.path)
			fprintf(stderr, "rximg: %s: %s on the host (put copies host files into an image; "
				"to copy out of one, use 'rximg get')\n", argv[i], strerror(e));
		else
			fprintf(stderr, "rximg: %s: %s\n", argv[i], strerror(e));
		if (in_image)
			target_free(&t);
		return EXIT_FAIL;
	}
	struct wsession w;
	if (wsession_open(argv[argc - 1], &w))
		return EXIT_FAIL;
	struct rfs *fs = w.o.fs;
	const char *dest = w.o.t.path;
	if (!dest) {
		rfs_tx_abort(w.tx);
		close_target(&w.o);
		return usage_error("put", "name the destination inside the image: IMAGE:/dest");
	}
	int nsrc = argc - 1 - optind, r = 0;
	struct rfs_node dn;
	if (po.parents) {
		/* Missing parents of dest (and dest itself when several sources go in it). */
		char *p = rx_xstrdup(dest);
		if (nsrc == 1 && dest[strlen(dest) - 1] != '/') {
			char *slash = strrchr(p, '/');
			if (slash)
				*slash = 0;
		}
		if (*p)
			r = rfs_op_mkdir(w.tx, p, 0755, 1, po.owner, now_time());
		free(p);
		if (r)
			return wsession_fail(&w, dest);
	}
	/* Only a missing dest means "put as dest": a read error must not change where things go. */
	int lr = rfs_lookup(fs, dest, 1, &dn);
	if (lr && lr != -ENOENT && lr != -ENOTDIR && !rfs_is_damage(lr))
		return wsession_fail(&w, dest);
	int into = lr == 0 && rfs_is_dir(&dn);
	rx_clear(fs->ctx);
	if (!into && dest[strlen(dest) - 1] == '/') {
		rx_fail(fs->ctx, ENOTDIR, "not an existing directory (use -P to create it)");
		return wsession_fail(&w, dest);
	}
	if (nsrc > 1 && !into) {
		rx_fail(fs->ctx, ENOTDIR, "several sources need a directory to go in");
		return wsession_fail(&w, dest);
	}
	struct progress bar;
	import_bar_begin(&bar, w.tx, "put", (const char *const *)(argv + optind), nsrc, quiet);
	for (int i = optind; i < argc - 1 && r == 0; i++) {
		const char *src = argv[i];
		char *path;
		if (into) {
			char *copy = rx_xstrdup(src);
			size_t l = strlen(copy);
			while (l > 1 && copy[l - 1] == '/')
				copy[--l] = 0;
			const char *base = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
			path = rx_path_join(dest, base, strlen(base));
			free(copy);
		} else {
			path = rx_xstrdup(dest);
		}
		r = put_one(&w, src, path, &po);
		if (r) {
			progress_stop(&bar);
			int s = wsession_fail(&w, path);
			free(path);
			return s;
		}
		free(path);
	}
	return wsession_commit_progress(&w, &bar);
}

/* mkdir, then the owner asked for on every directory it made (not on those that were there). */
static int mkdir_owned(struct vfs *v, const char *path, uint16_t mode, int parents, const struct rfs_owner *own)
{
	char **made = NULL;
	size_t nmade = 0;
	for (size_t i = 1, len = strlen(path); own && i <= len; i++) {
		struct vfs_attr a;
		if ((path[i] != '/' && path[i] != 0) || path[i - 1] == '/')
			continue;
		char *prefix = strndup(path, i);
		if (!prefix)
			abort();
		if (vfs_stat(v, prefix, 1, &a) == -ENOENT) {
			made = rx_xrealloc(made, (nmade + 1) * sizeof(*made));
			made[nmade++] = prefix;
		} else {
			free(prefix);
		}
		rx_clear(v->ctx);
	}
	int r = vfs_mkdir(v, path, mode, parents);
	struct vfs_attr a = { .uid = own ? own->uid : 0, .gid = own ? own->gid : 0 };
	for (size_t i = 0; i < nmade; i++) {
		if (r == 0)
			r = vfs_setattr(v, made[i], VFS_SET_UID | VFS_SET_GID, &a, 1);
		free(made[i]);
	}
	free(made);
	return r;
}

static const char mkdir_help[] =
	"Usage: rximg mkdir [OPTIONS] IMAGE:/dir...\n"
	"Create directories inside an image (all in one commit).\n\n"
	"  -p, --parents     create missing parents; an existing directory is not an error\n"
	"  -m, --mode MODE   permissions (octal, default 0755)\n"
	"      --owner U:G   owner (default: the parent directory's)\n"
	"  -h, --help        show this help\n";

int cmd_mkdir(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parents", no_argument, 0, 'p' }, { "mode", required_argument, 0, 'm' },
		{ "owner", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, parents = 0;
	uint16_t mode = 0755;
	struct rfs_owner owner, *ownp = NULL;
	while ((c = getopt_long(argc, argv, "pm:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': parents = 1; break;
		case 'm':
			if (parse_mode(optarg, &mode))
				return usage_error("mkdir", "bad mode '%s'", optarg);
			break;
		case 'o':
			if (parse_owner(optarg, &owner))
				return usage_error("mkdir", "bad owner '%s'", optarg);
			ownp = &owner;
			break;
		case 'h': fputs(mkdir_help, stdout); return EXIT_OK;
		default: return bad_option("mkdir", argv);
		}
	}
	if (optind >= argc)
		return usage_error("mkdir", "expected IMAGE:/dir");
	struct place w;
	char **paths;
	int s = place_begin("mkdir", argc - optind, argv + optind, &w, &paths);
	if (s)
		return s;
	for (int i = 0; paths[i]; i++) {
		int r = mkdir_owned(w.v, paths[i], mode, parents, ownp);
		if (r)
			return place_finish(&w, paths, r, paths[i]);
	}
	return place_finish(&w, paths, 0, NULL);
}

static const char rm_help[] =
	"Usage: rximg rm [OPTIONS] IMAGE:/path...\n"
	"Remove files, symlinks and (with -r or -d) directories inside an image, in one commit.\n"
	"A damaged entry is removed without reading it (with a warning): the blocks it\n"
	"held are left for rximg check to repair.\n\n"
	"  -r, --recursive  remove directories and their contents\n"
	"  -d, --dir        remove empty directories\n"
	"  -f, --force      a missing path is not an error\n"
	"  -h, --help       show this help\n";

int cmd_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recursive", no_argument, 0, 'r' }, { "dir", no_argument, 0, 'd' },
		{ "force", no_argument, 0, 'f' },     { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, recursive = 0, dir_ok = 0, force = 0;
	while ((c = getopt_long(argc, argv, "rRdfh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': case 'R': recursive = 1; break;
		case 'd': dir_ok = 1; break;
		case 'f': force = 1; break;
		case 'h': fputs(rm_help, stdout); return EXIT_OK;
		default: return bad_option("rm", argv);
		}
	}
	if (optind >= argc)
		return usage_error("rm", "expected IMAGE:/path");
	struct place w;
	char **paths;
	int s = place_begin("rm", argc - optind, argv + optind, &w, &paths);
	if (s)
		return s;
	for (int i = 0; paths[i]; i++) {
		int r = vfs_remove(w.v, paths[i], recursive, dir_ok);
		if (r == -ENOENT && force) {
			rx_clear(w.v->ctx);
			r = 0;
		}
		if (r)
			return place_finish(&w, paths, r, paths[i]);
	}
	return place_finish(&w, paths, 0, NULL);
}
