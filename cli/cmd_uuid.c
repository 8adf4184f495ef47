/* rximg uuid */
#include <getopt.h>

#include "cli.h"
#include "gpt.h"
#include "tx.h"

static const char uuid_help[] =
	"Usage: rximg uuid [OPTIONS] IMAGE[:pN] [UUID]\n"
	"Show the RedoxFS UUID, or give the filesystem a new one: random with --new, or\n"
	"UUID. A change is one atomic commit (a new header generation); the new UUID is\n"
	"printed. Encrypted filesystems ask for the password to change it.\n"
	"With --gpt, the disk's GPT gets a new random disk GUID and a new unique GUID for\n"
	"every partition (types, ranges and names are kept), written to both copies so\n"
	"that a crash leaves the old or the new table; printed as \"disk GUID\" and\n"
	"\"pN GUID\" lines. Given with --new or UUID, the RedoxFS UUID changes too\n"
	"(a \"redoxfs UUID\" line): first the filesystem, then the table.\n\n"
	"      --new   set a new random UUID\n"
	"      --gpt   new GUIDs for the disk and its partitions (IMAGE is the whole disk)\n"
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

/* A random GUID in on-disk order (as make_uuid gives one in text order). */
static void random_guid(uint8_t guid[16], void *arg)
{
	(void)arg;
	uint8_t text[16];
	make_uuid(text, NULL);
	rx_guid_swap(text, guid);
}

static void print_guids(const struct rx_gpt_regen *g)
{
	char u[37];
	rx_guid_format(g->disk_guid, u);
	printf("disk %s\n", u);
	for (uint32_t i = 0; i < g->count; i++) {
		const uint8_t *e = g->entries + (size_t)i * g->entry_size;
		if (rx_is_zero(e, 16))
			continue;
		rx_guid_format(e + 16, u);
		printf("p%u %s\n", (unsigned)i + 1, u);
	}
}

/* The table of an open disk, with new GUIDs in memory; refused (nothing written) without a GPT. */
static int prepare_gpt(struct rx_image *img, struct rx_gpt_regen *g)
{
	const struct rx_parttable *t = &img->table;
	if (strcmp(t->type, "gpt") && !t->gpt_primary_problem[0])
		return rx_fail(img->ctx, EINVAL, "no GPT to give new GUIDs (the disk has %s); nothing written",
			       t->type[0] ? "an MBR partition table" : "no partition table");
	return rx_gpt_regen_prepare(img->ctx, img->container, random_guid, NULL, g);
}

/* uuid --gpt, with the RedoxFS UUID too when uuid is not NULL. */
static int change_gpt(const char *arg, const uint8_t *uuid)
{
	static struct rx_ctx ctx;
	struct wsession w = { 0 };
	struct rx_image *img = NULL;
	struct rx_gpt_regen g = { 0 };
	struct target t;
	int r;
	if (uuid) {
		if (wsession_open(arg, &w))
			return EXIT_FAIL;
		if (w.o.t.path) {
			rfs_tx_abort(w.tx);
			close_target(&w.o);
			return usage_error("uuid", "expected IMAGE[:pN], not a path inside it");
		}
		img = w.o.img;
		t = w.o.t;
	} else {
		if (target_parse(&ctx, arg, &t)) {
			report(&ctx, NULL, NULL);
			return EXIT_FAIL;
		}
		if (t.path || t.partno > 0) {
			target_free(&t);
			return usage_error("uuid", "--gpt changes the whole disk's table: give IMAGE, not %s",
					   t.path ? "a path inside it" : "a partition");
		}
		if (rx_image_open(&ctx, t.image, 0, RX_DEV_RDWR, &img)) {
			report(&ctx, t.image, NULL);
			target_free(&t);
			return EXIT_FAIL;
		}
	}
	/* Everything is checked before the first write: a disk without a GPT is left as it was. */
	r = prepare_gpt(img, &g);
	if (r && uuid)
		rfs_tx_abort(w.tx);
	if (r == 0 && uuid) {
		rfs_tx_set_uuid(w.tx, uuid);
		r = rfs_tx_commit(w.tx);
		if (r == 0)
			r = rfs_ring_clear_foreign(w.o.fs);
	}
	w.tx = NULL;
	if (r == 0)
		r = rx_gpt_regen_write(img->ctx, img->container, &g);
	if (r) {
		report(img->ctx, t.image, NULL);
	} else {
		print_guids(&g);
		if (uuid) {
			char u[37];
			format_uuid(uuid, u);
			printf("redoxfs %s\n", u);
		}
	}
	rx_gpt_regen_free(&g);
	if (uuid) {
		close_target(&w.o);
	} else {
		rx_image_close(img);
		target_free(&t);
	}
	return r ? EXIT_FAIL : EXIT_OK;
}

int cmd_uuid(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "new", no_argument, 0, 'n' }, { "json", no_argument, 0, 'j' },
		{ "gpt", no_argument, 0, 'g' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, fresh = 0, json = 0, gpt = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': fresh = 1; break;
		case 'j': json = 1; break;
		case 'g': gpt = 1; break;
		case 'h': fputs(uuid_help, stdout); return EXIT_OK;
		default: return bad_option("uuid", argv);
		}
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2)
		return usage_error("uuid", "expected IMAGE[:pN] [UUID]");
	if (fresh && nargs == 2)
		return usage_error("uuid", "give --new or a UUID, not both");
	if (json && (fresh || gpt || nargs == 2))
		return usage_error("uuid", "--json applies to showing the UUID");
	if (!fresh && !gpt && nargs == 1)
		return show(argv[optind], json);

	uint8_t uuid[16];
	if (fresh)
		make_uuid(uuid, NULL);
	else if (nargs == 2 && bad_uuid(argv[optind + 1], uuid))
		return usage_error("uuid", "bad UUID '%s' (want 32 hex digits, hyphens optional)",
				   argv[optind + 1]);
	if (gpt)
		return change_gpt(argv[optind], fresh || nargs == 2 ? uuid : NULL);
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
