/* Codec vectors from the format specification: SeaHash, name hashes, pointers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rfs.h"
#include "rx.h"
#include "seahash.h"
#include "tap.h"

static void test_seahash(void)
{
	static uint8_t buf[4096];
	ok(seahash("", 0) == 0xC920CA43256FDCB9ULL, "seahash of the empty string");
	ok(seahash("to be or not to be", 18) == 0x1B993A826F4AE575ULL, "seahash 'to be or not to be'");
	ok(seahash("love is a wonderful terrible thing", 34) == 0x426531339A1CD0AEULL,
	   "seahash 'love is a wonderful terrible thing'");
	memset(buf, 0, sizeof(buf));
	ok(seahash(buf, 4072) == 0xE81FFCB86026FF96ULL, "seahash of 4072 zero bytes");
	ok(seahash(buf, 4096) == 0x7AD6348702DA2905ULL, "seahash of a zero block");
	for (int i = 0; i < 4096; i++)
		buf[i] = (uint8_t)i;
	static const struct {
		size_t len;
		uint64_t h;
	} v[] = {
		{ 4096, 0xE8010714612E6C70ULL }, { 1, 0x78D3DB1F028AC5FDULL },
		{ 7, 0xF2401B4F29A84BDDULL },    { 8, 0xBEF3905516C9161DULL },
		{ 9, 0xBD9938EEE4A1CE16ULL },    { 15, 0x1DA2D2F183459F57ULL },
		{ 16, 0xB305C0A1EBD99EA9ULL },   { 17, 0x8FACE76008A25AE6ULL },
		{ 23, 0x99A55EABAE83C925ULL },   { 24, 0x29D29A509E40AF34ULL },
		{ 25, 0x7626B8E0DCE82BAFULL },   { 31, 0x174DB43E5D284F03ULL },
		{ 32, 0x2F6B06CF184A204FULL },   { 33, 0x4E44CD0F57422A14ULL },
		{ 63, 0xC42BC99B3B06A840ULL },   { 64, 0xB667F87C9CA0DB70ULL },
		{ 100, 0x3331A656BBF415BCULL },
	};
	for (size_t i = 0; i < RX_ARRAY_SIZE(v); i++)
		ok(seahash(buf, v[i].len) == v[i].h, "seahash of bytes 0..%zu", v[i].len - 1);
}

static void test_name_hash(void)
{
	static const struct {
		const char *name;
		uint32_t h;
	} v[] = {
		{ "hello.txt", 0xA3F404E7 }, { "a", 0x6A16E94D },         { "dir", 0x3CA6F872 },
		{ "big.txt", 0x3A735986 },   { "file00001", 0x05839E0F }, { "file00150", 0xF2716979 },
	};
	for (size_t i = 0; i < RX_ARRAY_SIZE(v); i++)
		ok(rfs_name_hash(v[i].name, strlen(v[i].name)) == v[i].h, "name hash of '%s'", v[i].name);
}

static void test_le(void)
{
	uint8_t b[8];
	put_le64(b, 0x0102030405060708ULL);
	ok(b[0] == 8 && b[7] == 1 && get_le64(b) == 0x0102030405060708ULL, "le64 round trip");
	put_le32(b, 0xA1B2C3D4);
	ok(b[0] == 0xD4 && get_le32(b) == 0xA1B2C3D4, "le32 round trip");
	put_le16(b, 0xBEEF);
	ok(b[0] == 0xEF && get_le16(b) == 0xBEEF, "le16 round trip");
}

static void test_ptr(void)
{
	uint8_t b[16];
	struct rfs_ptr p = { (276ULL << 8) | (5 << 4), 0x49408F89116C7C0DULL };
	rfs_ptr_encode(b, p);
	struct rfs_ptr q = rfs_ptr_decode(b);
	ok(rfs_ptr_index(q) == 276 && rfs_ptr_decomp(q) == 5 && rfs_ptr_level(q) == 0,
	   "block address fields (spec 17.2)");
	struct rfs_ptr m = { 0xFFFFFFFFFFFFFFF1ULL, UINT64_MAX };
	ok(rfs_ptr_is_marker(m) && !rfs_ptr_is_null(m), "h-tree marker is not null");
	struct rfs_ptr z = { 0x12, 99 };
	ok(rfs_ptr_is_null(z), "index 0 is null whatever the level bits");
}

static void test_names(void)
{
	ok(rfs_name_problem("", 0) != NULL, "empty name rejected");
	ok(rfs_name_problem(".", 1) != NULL, "'.' rejected");
	ok(rfs_name_problem("..", 2) != NULL, "'..' rejected");
	ok(rfs_name_problem("a/b", 3) != NULL, "'/' rejected");
	ok(rfs_name_problem("a\0b", 3) != NULL, "NUL rejected");
	ok(rfs_name_problem("...", 3) == NULL, "'...' accepted");
}

static void test_json(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct json j;
	json_init(&j, f);
	json_obj(&j, NULL);
	json_strn(&j, "s", "a\"\\\n\t\x01\xff\xc3\xa9", 9);
	json_u64(&j, "n", 18446744073709551615ULL);
	json_end_obj(&j);
	fclose(f);
	ok(strcmp(out, "{\"s\":\"a\\\"\\\\\\n\\t\\u0001\\ufffd\xc3\xa9\",\"n\":18446744073709551615}") == 0,
	   "json escaping: %s", out);
	free(out);
	/* Past 2^53 a JSON reader would round a number: such fields are strings. */
	f = open_memstream(&out, &len);
	json_init(&j, f);
	json_obj(&j, NULL);
	json_u64_str(&j, "big", 18446744073709551615ULL);
	json_hex(&j, "addr", 0xffffffff80000000ULL);
	json_end_obj(&j);
	fclose(f);
	ok(strcmp(out, "{\"big\":\"18446744073709551615\",\"addr\":\"0xffffffff80000000\"}") == 0,
	   "json 64-bit strings: %s", out);
	free(out);
}

int main(void)
{
	test_seahash();
	test_name_hash();
	test_le();
	test_ptr();
	test_names();
	test_json();
	return tap_done();
}
