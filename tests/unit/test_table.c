/* cli/table: the kind decides the JSON type; text layouts show the same values. */
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "tap.h"

enum { X_NAME, X_COUNT, X_BIG, X_ADDR, X_FLAG, X_MODE, X_WHEN, X_GONE, X_NULL, X_LIST, X_SUB, X_SUBS, X_PROSE };
static const struct tfield x_fields[] = {
	[X_NAME] = { "name", TK_STR, 0 },
	[X_COUNT] = { "count", TK_COUNT, 0 },
	[X_BIG] = { "big", TK_U64, 0 },
	[X_ADDR] = { "addr", TK_HEX, 0 },
	[X_FLAG] = { "flag", TK_BOOL, 0 },
	[X_MODE] = { "mode", TK_MODE, 0 },
	[X_WHEN] = { "when", TK_TIME, 0 },
	[X_GONE] = { "gone", TK_STR, TF_NULL },
	[X_NULL] = { "null", TK_STR, 0 },
	[X_LIST] = { "list", TK_LIST, 0 },
	[X_SUB] = { "sub", TK_RECORD, 0 },
	[X_SUBS] = { "subs", TK_RECORDS, 0 },
	[X_PROSE] = { NULL, TK_STR, 0 },
};
static const struct tcol x_cols[] = {
	{ X_NAME, "[%-6s]", 0 }, { X_COUNT, "[%4s file%p]", 0 }, { X_ADDR, "[%s %x]", 0 },
	{ X_FLAG, "[%s]", 0 }, { X_FLAG, "[shown when set]", TC_NONZERO }, { X_MODE, "[%s %M]", 0 },
	{ X_NULL, "[never]", 0 }, { X_LIST, "<%s>", 0 }, { X_SUB, NULL, 0 }, { X_SUBS, NULL, 0 },
	{ X_PROSE, "[%s 100%%]", 0 }, { TEXT_LIT, "\n", 0 },
};
static const struct tlayout x_layout = LAYOUT(x_cols);
static const struct tcol sub_cols[] = { { X_NAME, "{%s}", 0 } };
static const struct tlayout sub_layout = LAYOUT(sub_cols);

static char *render(const struct record *r, int json)
{
	static char buf[4096];
	FILE *f = tmpfile();
	struct out o;
	out_init(&o, f, json);
	out_record(&o, NULL, r, &x_layout);
	out_done(&o);
	rewind(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static const char *json_of_count(uint64_t v)
{
	static char buf[256];
	struct record r;
	RECORD_INIT(&r, x_fields);
	rec_u64(&r, X_COUNT, v);
	snprintf(buf, sizeof(buf), "%s", render(&r, 1));
	return buf;
}

int main(void)
{
	ok(!strcmp(json_of_count((1ULL << 53) - 1), "{\"count\":9007199254740991,\"gone\":null}\n"),
	   "a count below 2^53 is a number: %s", json_of_count((1ULL << 53) - 1));
	ok(!strcmp(json_of_count(1ULL << 53), "{\"count\":\"9007199254740992\",\"gone\":null}\n"),
	   "a count of 2^53 is an exact string, never a rounded number: %s", json_of_count(1ULL << 53));
	ok(!strcmp(json_of_count(UINT64_MAX), "{\"count\":\"18446744073709551615\",\"gone\":null}\n"),
	   "the largest count is an exact string");

	struct record r, sub[3];
	const char *list[] = { "a", "b\"c" };
	RECORD_INIT(&r, x_fields);
	rec_strn(&r, X_NAME, "abcdef", 3);
	rec_u64(&r, X_COUNT, 1);
	rec_u64(&r, X_BIG, 5);
	rec_text_only(&r, X_BIG);
	rec_u64(&r, X_ADDR, UINT64_MAX);
	rec_u64(&r, X_FLAG, 0);
	rec_u64(&r, X_MODE, 040755);
	rec_time(&r, X_WHEN, 1700000000, 5);
	rec_null(&r, X_NULL);
	rec_list(&r, X_LIST, list, 2);
	for (int i = 0; i < 3; i++)
		RECORD_INIT(&sub[i], x_fields);
	rec_str(&sub[0], X_NAME, "one");
	rec_str(&sub[1], X_NAME, "two");
	rec_str(&sub[2], X_NAME, "text only");
	sub[2].text_only = 1;
	rec_record(&r, X_SUB, &sub[0], &sub_layout);
	rec_records(&r, X_SUBS, &sub[1], 2, &sub_layout);
	rec_str(&r, X_PROSE, "prose");
	const char *j = render(&r, 1);
	const char *want_j = "{\"name\":\"abc\",\"count\":1,\"addr\":\"0xffffffffffffffff\",\"flag\":false,"
			     "\"mode\":\"0755\",\"when\":\"1700000000.000000005\",\"gone\":null,\"null\":null,"
			     "\"list\":[\"a\",\"b\\\"c\"],\"sub\":{\"name\":\"one\",\"gone\":null},\"subs\":[{\"name\":\"two\",\"gone\":null}]}\n";
	ok(!strcmp(j, want_j), "JSON: kinds, nulls, lists, records; a text-only row and field left out:\n# %s", j);
	const char *t = render(&r, 0);
	const char *want_t = "[abc   ][   1 file][0xffffffffffffffff ffffffffffffffff][no][0755 drwxr-xr-x]"
			     "<a><b\"c>{one}{two}{text only}[prose 100%]\n";
	ok(!strcmp(t, want_t), "text: widths, plurals, hex, modes, lists, records, TC_NONZERO:\n# %s", t);
	rec_u64(&r, X_FLAG, 1);
	rec_u64(&r, X_COUNT, 2);
	t = render(&r, 0);
	ok(strstr(t, "[yes][shown when set]") && strstr(t, "[   2 files]"), "text: a set flag, a plural:\n# %s", t);
	return tap_done();
}
