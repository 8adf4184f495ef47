/*
 * Output that is data, declared once. A verb lists its fields (JSON key and
 * kind), fills a record per row, and prints it either as JSON (the fields in
 * the order declared) or as text, through a layout: pieces of text, each
 * showing one field's value. The kind alone decides the JSON type, so a value
 * a JSON reader would round (2^53 and above) can only come out as a string.
 */
#ifndef RX_TABLE_H
#define RX_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

enum tkind {
	TK_STR,		/* text; JSON string */
	TK_COUNT,	/* a count, id or size bounded below 2^53: JSON number (a decimal string if not) */
	TK_U64,		/* any 64-bit value (read from disk, given by the user): JSON decimal string */
	TK_I64,		/* any signed 64-bit value: JSON decimal string */
	TK_HEX,		/* an address or bit mask: "0x..." in both */
	TK_BOOL,	/* JSON true or false; text "yes" or "no" */
	TK_MODE,	/* type and permission bits: JSON "0755" (permission bits) */
	TK_TIME,	/* seconds and nanoseconds: JSON "sec.nsec", exact */
	TK_LIST,	/* strings: a JSON array; the text shows each through the piece's format */
	TK_RECORD,	/* a record: a JSON object; the text shows it through its own layout */
	TK_RECORDS,	/* records: a JSON array of objects; the text shows each through the layout */
};

/* A field left unset is left out of the JSON, or is null with TF_NULL. */
enum { TF_NULL = 1 };

struct tfield {
	const char *key;	/* JSON key; NULL: only the text shows it */
	enum tkind kind;
	unsigned flags;
};

/*
 * One piece of a text layout: fmt shows the field's value, and only when the
 * field is set (and not 0 or empty, with TC_NONZERO). TEXT_LIT: fmt is printed
 * as is. A record field shows its record's own layout (fmt is not used).
 * fmt's conversions, each of that one value, with optional '-' and width:
 *   %e  a string with tab, newline and backslash written as \t, \n, \\ (names)
 *   %s  the value: a string as is, a number in decimal, a hex value as 0x...,
 *       a bool as yes or no, a mode as 0755, a time as sec.nsec
 *   %M  a mode as ls -l shows it (drwxr-xr-x)
 *   %t  a local time to the minute; %T to the nanosecond, with the zone
 *   %x  a number in hexadecimal, without 0x
 *   %h  a byte count in binary units (1.5 MiB)
 *   %p  "s" unless the value is 1 (plurals)
 *   %%  a percent sign
 */
#define TEXT_LIT 0xFFu
enum { TC_NONZERO = 1 };
struct tcol {
	unsigned field;
	const char *fmt;
	unsigned flags;
};
struct tlayout {
	const struct tcol *col;
	size_t n;
};
#define LAYOUT(cols) { cols, sizeof(cols) / sizeof((cols)[0]) }

#define RECORD_MAX 40
struct record;
struct tcell {
	const char *s;			/* TK_STR */
	const char *const *list;	/* TK_LIST */
	const struct record *sub;	/* TK_RECORD, TK_RECORDS */
	const struct tlayout *sub_layout;
	size_t len;			/* of s, or entries in list or sub */
	uint64_t u;			/* numbers, bools, modes, seconds; TK_I64 as two's complement */
	uint32_t nsec;
	unsigned char set, text_only, null;
};
struct record {
	const struct tfield *f;
	size_t n;
	int text_only;		/* a row only the text shows (JSON arrays leave it out) */
	struct tcell c[RECORD_MAX];
};
#define RECORD_INIT(r, fields) record_init((r), (fields), sizeof(fields) / sizeof((fields)[0]))

void record_init(struct record *r, const struct tfield *f, size_t n);
/* Setters check the field's kind (a mismatch is a programming error: abort). s NULL: left unset. */
void rec_str(struct record *r, unsigned i, const char *s);
void rec_strn(struct record *r, unsigned i, const char *s, size_t len);
void rec_u64(struct record *r, unsigned i, uint64_t v);	/* TK_COUNT, TK_U64, TK_HEX, TK_BOOL, TK_MODE */
void rec_i64(struct record *r, unsigned i, int64_t v);
void rec_time(struct record *r, unsigned i, uint64_t sec, uint32_t nsec);
void rec_list(struct record *r, unsigned i, const char *const *v, size_t n);
/* Records within a record: they must live as long as r; l is how the text shows each. */
void rec_record(struct record *r, unsigned i, const struct record *sub, const struct tlayout *l);
void rec_records(struct record *r, unsigned i, const struct record *sub, size_t n, const struct tlayout *l);
/* Field i is JSON null; the text leaves it out. */
void rec_null(struct record *r, unsigned i);
/* The text shows field i, the JSON leaves it out (a value the format does not store). */
void rec_text_only(struct record *r, unsigned i);

/* Where records go: a JSON document, or text on f. */
struct out {
	FILE *f;
	int json;
	struct json j;
};
void out_init(struct out *o, FILE *f, int json);
/* JSON: the record as an object (key NULL inside arrays); text: the layout (NULL: nothing). */
void out_record(struct out *o, const char *key, const struct record *r, const struct tlayout *l);
/* JSON: the record's fields inside the object open now; text: the layout. */
void out_fields(struct out *o, const struct record *r, const struct tlayout *l);
/* JSON structure; nothing in text. */
void out_obj(struct out *o, const char *key);
void out_arr(struct out *o, const char *key);
void out_end_obj(struct out *o);
void out_end_arr(struct out *o);
/* Ends a JSON document; flushes. */
void out_done(struct out *o);

#endif
