/* rximg uuid */
#include <getopt.h>

#include "cli.h"
#include "tx.h"

static const char uuid_help[] =
	"Usage: rximg uuid [OPTIONS] IMAGE[:pN] [UUID]\n"
	"Show the RedoxFS UUID, or give the filesystem a new one: random with --new, or\n"
	"UUID. A change is one atomic commit (a new header generation); the new UUID is\n"
	"printed. Encrypted filesystems ask for the password to change it.\n\n"
	"      --new   set a new random UUID\n"
	"      --json  print {\"image\", \"uuid\"} as a JSON object (when showing)\n"
	"  -h, --help  show this help\n";

static int show(const char *arg, int json)
{
	static struct rx_ctx ctx;
	struct target t;
	struct rx_image *img = NULL;
	struct rfs *fs;
	/* No password needed: the UUID lies in the clear header. */
	int r = target_parse(&ctx, arg, &t);
	if (r) {
		report(&ctx, NULL, NULL);
		return EXIT_FAIL;
	}
	if (t.path) {
		target_free(&t);
		return usage_error("uuid", "expected IMAGE[:pN], not a path inside it");
	}
	r = rx_image_open(&ctx, t.image, t.partno, RX_DEV_RDONLY, &img);
	if (r == 0)
		r = rx_image_redoxfs(img, &fs);
	if (r) {
		report_image(&ctx, &t);
	} else {
		char u[37];
		format_uuid(fs->hdr.uuid, u);
		if (json) {
			struct json j;
			json_init(&j, stdout);
			json_obj(&j, NULL);
			json_str(&j, "image", t.image);
			json_str(&j, "uuid", u);
			json_end_obj(&j);
			json_done(&j);
		} else {
			printf("%s\n", u);
		}
	}
	rx_image_close(img);
	target_free(&t);
	return r ? EXIT_FAIL : EXIT_OK;
}

int cmd_uuid(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "new", no_argument, 0, 'n' }, { "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, fresh = 0, json = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': fresh = 1; break;
		case 'j': json = 1; break;
		case 'h': fputs(uuid_help, stdout); return EXIT_OK;
		default: return bad_option("uuid", argv);
		}
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2)
		return usage_error("uuid", "expected IMAGE[:pN] [UUID]");
	if (fresh && nargs == 2)
		return usage_error("uuid", "give --new or a UUID, not both");
	if (json && (fresh || nargs == 2))
		return usage_error("uuid", "--json applies to showing the UUID");
	if (!fresh && nargs == 1)
		return show(argv[optind], json);

	uint8_t uuid[16];
	if (fresh)
		make_uuid(uuid, NULL);
	else if (bad_uuid(argv[optind + 1], uuid))
		return usage_error("uuid", "bad UUID '%s' (want 32 hex digits, hyphens optional)",
				   argv[optind + 1]);
	struct wsession w;
	if (wsession_open(argv[optind], &w))
		return EXIT_FAIL;
	if (w.o.t.path) {
		rfs_tx_abort(w.tx);
		close_target(&w.o);
		return usage_error("uuid", "expected IMAGE[:pN], not a path inside it");
	}
	struct rfs *fs = w.o.fs;
	rfs_tx_set_uuid(w.tx, uuid);
	int r = rfs_tx_commit(w.tx);	/* the same UUID changes nothing: no new generation */
	w.tx = NULL;
	if (r == 0)
		r = rfs_ring_clear_foreign(fs);
	if (r) {
		report(fs->ctx, w.o.t.image, NULL);
	} else {
		char u[37];
		format_uuid(uuid, u);
		printf("%s\n", u);
	}
	close_target(&w.o);
	return r ? EXIT_FAIL : EXIT_OK;
}
