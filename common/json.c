#include "json.h"
#include "rx.h"

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = 1;
}

static void put_string(struct json *j, const char *s, size_t len);

static void sep(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	/* One element of a top-level array per line keeps output greppable. */
	if (j->depth == 1 && j->array[1])
		fputc('\n', j->f);
	if (key) {
		put_string(j, key, strlen(key));
		fputc(':', j->f);
	}
}

static void open_(struct json *j, const char *key, char c)
{
	sep(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < (int)sizeof(j->first))
		j->depth++;
	j->first[j->depth] = 1;
	j->array[j->depth] = c == '[';
}

void json_obj(struct json *j, const char *key) { open_(j, key, '{'); }
void json_arr(struct json *j, const char *key) { open_(j, key, '['); }

static void close_(struct json *j, char c)
{
	j->depth--;
	if (j->depth == 0 && c == ']')
		fputc('\n', j->f);
	fputc(c, j->f);
}

void json_end_obj(struct json *j) { close_(j, '}'); }
void json_end_arr(struct json *j) { close_(j, ']'); }

/* Length of a valid UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0) {
		len = 2;
		cp = p[0] & 0x1F;
	} else if ((p[0] & 0xF0) == 0xE0) {
		len = 3;
		cp = p[0] & 0x0F;
	} else if ((p[0] & 0xF8) == 0xF0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

void json_strn(struct json *j, const char *key, const char *s, size_t len)
{
	sep(j, key);
	put_string(j, s, len);
}

static void put_string(struct json *j, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', j->f);
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', j->f);
			fputc(c, j->f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", j->f);
			i++;
		} else if (c == '\t') {
			fputs("\\t", j->f);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			fprintf(j->f, "\\u%04x", c);
			i++;
		} else {
			size_t n = utf8_len(p + i, len - i);
			if (n == 0) {
				fputs("\\ufffd", j->f);	/* not UTF-8: replaced, never emitted raw */
				i++;
			} else {
				fwrite(p + i, 1, n, j->f);
				i += n;
			}
		}
	}
	fputc('"', j->f);
}

void json_str(struct json *j, const char *key, const char *s)
{
	if (!s)
		json_null(j, key);
	else
		json_strn(j, key, s, strlen(s));
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	sep(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	sep(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

void json_u64_str(struct json *j, const char *key, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	json_str(j, key, buf);
}

void json_hex(struct json *j, const char *key, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	json_str(j, key, buf);
}

void json_bool(struct json *j, const char *key, int v)
{
	sep(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	sep(j, key);
	fputs("null", j->f);
}

void json_time(struct json *j, const char *key, uint64_t sec, uint32_t nsec)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "%llu.%09u", (unsigned long long)sec, nsec);
	json_str(j, key, buf);
}

void json_done(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
