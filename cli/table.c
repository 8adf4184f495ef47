#include <stdlib.h>

#include "cli.h"
#include "progress.h"
#include "table.h"

/* The largest integer every JSON reader holds exactly (a double's 53 bits). */
#define JSON_EXACT_MAX ((1ULL << 53) - 1)

void record_init(struct record *r, const struct tfield *f, size_t n)
{
	if (n > RECORD_MAX)
		abort();
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->n = n;
}

static struct tcell *cell_of(struct record *r, unsigned i, int ok)
{
	if (i >= r->n || !ok)
		abort();	/* a verb's table and its setters disagree */
	r->c[i].set = 1;
	r->c[i].null = 0;
	return &r->c[i];
}

void rec_strn(struct record *r, unsigned i, const char *s, size_t len)
{
	struct tcell *c = cell_of(r, i, i < r->n && r->f[i].kind == TK_STR);
	c->s = s;
	c->len = len;
}

void rec_str(struct record *r, unsigned i, const char *s)
{
	if (s)
		rec_strn(r, i, s, strlen(s));
}

void rec_u64(struct record *r, unsigned i, uint64_t v)
{
	enum tkind k = i < r->n ? r->f[i].kind : TK_STR;
	cell_of(r, i, k == TK_COUNT || k == TK_U64 || k == TK_HEX || k == TK_BOOL || k == TK_MODE)->u = v;
}

void rec_i64(struct record *r, unsigned i, int64_t v)
{
	cell_of(r, i, i < r->n && r->f[i].kind == TK_I64)->u = (uint64_t)v;
}

void rec_time(struct record *r, unsigned i, uint64_t sec, uint32_t nsec)
{
	struct tcell *c = cell_of(r, i, i < r->n && r->f[i].kind == TK_TIME);
	c->u = sec;
	c->nsec = nsec;
}

void rec_list(struct record *r, unsigned i, const char *const *v, size_t n)
{
	struct tcell *c = cell_of(r, i, i < r->n && r->f[i].kind == TK_LIST);
	c->list = v;
	c->len = n;
}

void rec_record(struct record *r, unsigned i, const struct record *sub, const struct tlayout *l)
{
	struct tcell *c = cell_of(r, i, i < r->n && r->f[i].kind == TK_RECORD);
	c->sub = sub;
	c->len = 1;
	c->sub_layout = l;
}

void rec_records(struct record *r, unsigned i, const struct record *sub, size_t n, const struct tlayout *l)
{
	struct tcell *c = cell_of(r, i, i < r->n && r->f[i].kind == TK_RECORDS);
	c->sub = sub;
	c->len = n;
	c->sub_layout = l;
}

void rec_null(struct record *r, unsigned i)
{
	if (i >= r->n)
		abort();
	memset(&r->c[i], 0, sizeof(r->c[i]));
	r->c[i].null = 1;
}

void rec_text_only(struct record *r, unsigned i)
{
	if (i < r->n)
		r->c[i].text_only = 1;
}

/* ---- JSON ---- */

static void json_fields(struct json *j, const struct record *r);

static void json_field(struct json *j, const struct tfield *f, const struct tcell *c)
{
	char buf[32];
	if (!c->set || c->text_only) {
		if (c->null || ((f->flags & TF_NULL) && !c->set))
			json_null(j, f->key);
		return;
	}
	switch (f->kind) {
	case TK_STR:
		json_strn(j, f->key, c->s, c->len);
		break;
	case TK_COUNT:
		/* Bounded by construction; should a value ever not be, it stays exact as a string. */
		if (c->u <= JSON_EXACT_MAX)
			json_u64(j, f->key, c->u);
		else
			json_u64_str(j, f->key, c->u);
		break;
	case TK_U64:
		json_u64_str(j, f->key, c->u);
		break;
	case TK_I64:
		snprintf(buf, sizeof(buf), "%lld", (long long)(int64_t)c->u);
		json_str(j, f->key, buf);
		break;
	case TK_HEX:
		json_hex(j, f->key, c->u);
		break;
	case TK_BOOL:
		json_bool(j, f->key, c->u != 0);
		break;
	case TK_MODE:
		snprintf(buf, sizeof(buf), "%04o", (unsigned)(c->u & 07777));
		json_str(j, f->key, buf);
		break;
	case TK_TIME:
		json_time(j, f->key, c->u, c->nsec);
		break;
	case TK_LIST:
		json_arr(j, f->key);
		for (size_t k = 0; k < c->len; k++)
			json_str(j, NULL, c->list[k]);
		json_end_arr(j);
		break;
	case TK_RECORD:
		json_obj(j, f->key);
		json_fields(j, c->sub);
		json_end_obj(j);
		break;
	case TK_RECORDS:
		json_arr(j, f->key);
		for (size_t k = 0; k < c->len; k++) {
			if (c->sub[k].text_only)
				continue;
			json_obj(j, NULL);
			json_fields(j, &c->sub[k]);
			json_end_obj(j);
		}
		json_end_arr(j);
		break;
	}
}

static void json_fields(struct json *j, const struct record *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].key)
			json_field(j, &r->f[i], &r->c[i]);
}

/* ---- text ---- */

/* The value as %s shows it, into buf; returns its bytes and length. */
static const char *plain(const struct tfield *f, const struct tcell *c, const char *item, char *buf,
			 size_t cap, size_t *len)
{
	switch (f->kind) {
	case TK_STR:
		*len = c->len;
		return c->s;
	case TK_LIST:
		*len = strlen(item);
		return item;
	case TK_RECORD:
	case TK_RECORDS:
		abort();	/* shown through their own layout */
	case TK_COUNT:
	case TK_U64: snprintf(buf, cap, "%llu", (unsigned long long)c->u); break;
	case TK_I64: snprintf(buf, cap, "%lld", (long long)(int64_t)c->u); break;
	case TK_HEX: snprintf(buf, cap, "0x%llx", (unsigned long long)c->u); break;
	case TK_BOOL: snprintf(buf, cap, "%s", c->u ? "yes" : "no"); break;
	case TK_MODE: snprintf(buf, cap, "%04o", (unsigned)(c->u & 07777)); break;
	case TK_TIME: snprintf(buf, cap, "%llu.%09u", (unsigned long long)c->u, c->nsec); break;
	}
	*len = strlen(buf);
	return buf;
}

static void pad(FILE *f, long n)
{
	while (n-- > 0)
		fputc(' ', f);
}

/* One piece of text: fmt with its conversions of the one value (item: a list's entry). */
static void text_piece(FILE *out, const char *fmt, const struct tfield *f, const struct tcell *c,
		       const char *item)
{
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			fputc(*p, out);
			continue;
		}
		if (p[1] == 'e') {	/* a name or link target: tab, newline and backslash escaped */
			size_t len = 0;
			char buf[96];
			const char *s = plain(f, c, item, buf, sizeof(buf), &len);
			fput_escaped(out, s, len);
			p++;
			continue;
		}
		int left = p[1] == '-';
		p += 1 + left;
		char *end;
		long width = strtol(p, &end, 10);
		p = end;
		char buf[96];
		const char *s = buf;
		size_t len = 0;
		buf[0] = 0;
		switch (*p) {
		case 's': s = plain(f, c, item, buf, sizeof(buf), &len); break;
		case 'M': mode_string((uint16_t)c->u, buf); break;
		case 't': format_time(c->u, c->nsec, 0, buf, sizeof(buf)); break;
		case 'T': format_time(c->u, c->nsec, 1, buf, sizeof(buf)); break;
		case 'x': snprintf(buf, sizeof(buf), "%llx", (unsigned long long)c->u); break;
		case 'h': rx_human_size(c->u, buf, sizeof(buf)); break;
		case 'p': snprintf(buf, sizeof(buf), "%s", c->u == 1 ? "" : "s"); break;
		case '%': snprintf(buf, sizeof(buf), "%%"); break;
		default: abort();	/* a layout's format the table does not know */
		}
		if (*p != 's')
			len = strlen(buf);
		if (!left)
			pad(out, width - (long)len);
		if (len)
			fwrite(s, 1, len, out);
		if (left)
			pad(out, width - (long)len);
	}
}

static void text_layout(FILE *out, const struct record *r, const struct tlayout *l);

static void text_layout(FILE *out, const struct record *r, const struct tlayout *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const struct tcol *col = &l->col[i];
		if (col->field == TEXT_LIT) {
			fputs(col->fmt, out);
			continue;
		}
		if (col->field >= r->n)
			abort();
		const struct tfield *f = &r->f[col->field];
		const struct tcell *c = &r->c[col->field];
		int listed = f->kind == TK_LIST || f->kind == TK_RECORDS;
		if (!c->set || ((col->flags & TC_NONZERO) && (listed ? c->len : c->u) == 0))
			continue;
		if (f->kind == TK_RECORD || f->kind == TK_RECORDS) {
			for (size_t k = 0; k < c->len; k++)
				text_layout(out, &c->sub[k], c->sub_layout);
		} else if (f->kind == TK_LIST) {
			for (size_t k = 0; k < c->len; k++)
				text_piece(out, col->fmt, f, c, c->list[k]);
		} else {
			text_piece(out, col->fmt, f, c, NULL);
		}
	}
}

/* ---- output ---- */

void out_init(struct out *o, FILE *f, int json)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->json = json;
	if (json)
		json_init(&o->j, f);
}

void out_record(struct out *o, const char *key, const struct record *r, const struct tlayout *l)
{
	if (o->json) {
		json_obj(&o->j, key);
		json_fields(&o->j, r);
		json_end_obj(&o->j);
	} else {
		text_layout(o->f, r, l);
	}
}

void out_fields(struct out *o, const struct record *r, const struct tlayout *l)
{
	if (o->json)
		json_fields(&o->j, r);
	else
		text_layout(o->f, r, l);
}

void out_obj(struct out *o, const char *key)
{
	if (o->json)
		json_obj(&o->j, key);
}

void out_arr(struct out *o, const char *key)
{
	if (o->json)
		json_arr(&o->j, key);
}

void out_end_obj(struct out *o)
{
	if (o->json)
		json_end_obj(&o->j);
}

void out_end_arr(struct out *o)
{
	if (o->json)
		json_end_arr(&o->j);
}

void out_done(struct out *o)
{
	if (o->json)
		json_done(&o->j);
	fflush(o->f);
}
