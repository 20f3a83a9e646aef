/*
 * json.c: strict JSON validation over jsmn, lookups, typed extraction and
 * the string-literal writer (contracts in json.h).  Runs in the API and
 * WS workers; pure code: no I/O, no logging, no allocation.
 *
 * This is the only translation unit holding the jsmn implementation: it
 * includes jsmn.h before json.h, so JSMN_HEADER is not yet defined there
 * and json.h's own include of jsmn.h is a no-op.
 *
 * jsmn is a tokenizer, not a validator, even in strict mode: it accepts
 * missing commas and colons, trailing commas, bad literals and numbers,
 * raw control bytes and bad UTF-8 in strings, lone surrogates and
 * duplicate keys, and stops at a NUL.  So json_parse()
 * lets it tokenize and then walks the input byte by byte with the tokens
 * as a guide: it checks the grammar between tokens, every primitive and
 * every string, and that jsmn's sizes, parent links and offsets agree with
 * what the walk saw.  The lookups rely on the result: after a successful
 * parse a string token has size 1 exactly when it is a key, and a value's
 * subtree is exactly the tokens after it that start before it ends.
 *
 * Invariants: no recursion (the walk keeps an explicit stack of at most
 * JSON_DEPTH_MAX frames); every token index is checked against jd_ntok and
 * every offset against jd_len before use.
 */

#include <jsmn.h>	/* first: the jsmn implementation, compiled here only */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

/* Walk states: what the grammar expects next. */
enum json_state {
	JW_VALUE,		/* a value */
	JW_FIRST,		/* first member/element, or the close */
	JW_KEY,			/* a member name, then ':' */
	JW_AFTER,		/* ',' or the close of the container */
	JW_DONE			/* the root is complete */
};

/* One open container during the walk. */
struct json_frame {
	int		 jf_tok;	/* the object or array token */
	int		 jf_key;	/* object: the current member's key */
	int		 jf_count;	/* members or elements so far */
};

struct json_walk {
	const struct json_doc	*jw_doc;
	size_t			 jw_pos;	/* next input byte */
	int			 jw_next;	/* next token to account for */
	int			 jw_depth;	/* open containers */
	int			 jw_maxdepth;
	const char		*jw_err;
	struct json_frame	 jw_stack[JSON_DEPTH_MAX];
};

/* A cursor over the inside of a string token, decoding escapes. */
struct json_sdec {
	const unsigned char	*js_p;
	const unsigned char	*js_end;
};

/* The decoded bytes of a string token, one at a time. */
struct json_bytes {
	struct json_sdec	 jb_dec;
	unsigned char		 jb_buf[4];
	int			 jb_n;
	int			 jb_i;
};

/* ------------------------------------------------------------------ */
/* UTF-8 and string decoding                                          */
/* ------------------------------------------------------------------ */

/* 1 for a byte that stands for itself in a JSON string: printable ASCII
 * other than the backslash (the fast path of every string loop). */
static inline int
json_plain(unsigned char c)
{
	return (c >= 0x20 && c < 0x80 && c != '\\');
}

/* Length of the well-formed UTF-8 sequence at p (left bytes), 0 if none. */
static size_t
json_utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (p[0] < 0x80)
		return (1);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return (0);
	if (left < n || p[1] < lo || p[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return (0);
	return (n);
}

/* Encode code point cp (valid, not a surrogate) as UTF-8; the length. */
static int
json_utf8_put(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = cp;
		return (1);
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3f);
		return (2);
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return (3);
	}
	out[0] = 0xf0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return (4);
}

/* Four hex digits at p as a number, or -1. */
static long
json_hex4(const unsigned char *p)
{
	long	 v = 0;
	int	 i, d;

	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return (-1);
		v = v * 16 + d;
	}
	return (v);
}

/* "\uXXXX", or a surrogate pair "\uD8xx\uDCxx", at the cursor. */
static int
json_sdec_u(struct json_sdec *d, unsigned char out[4], const char **errstr)
{
	const unsigned char	*p = d->js_p;
	size_t			 left = d->js_end - p;
	long			 cp, lo;

	if (left < 6 || (cp = json_hex4(p + 2)) == -1) {
		*errstr = "invalid \\u escape";
		return (-1);
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		*errstr = "unpaired surrogate";
		return (-1);
	}
	if (cp < 0xd800 || cp > 0xdbff) {
		d->js_p += 6;
		return (json_utf8_put(cp, out));
	}
	if (left < 12 || p[6] != '\\' || p[7] != 'u' ||
	    (lo = json_hex4(p + 8)) < 0xdc00 || lo > 0xdfff) {
		*errstr = "unpaired surrogate";
		return (-1);
	}
	d->js_p += 12;
	return (json_utf8_put(0x10000 + ((cp - 0xd800) << 10) +
	    (lo - 0xdc00), out));
}

/* A backslash escape at the cursor. */
static int
json_sdec_escape(struct json_sdec *d, unsigned char out[4],
    const char **errstr)
{
	const unsigned char	*p = d->js_p;

	if (d->js_end - p < 2) {
		*errstr = "invalid escape";
		return (-1);
	}
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
		out[0] = p[1];
		break;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		return (json_sdec_u(d, out, errstr));
	default:
		*errstr = "invalid escape";
		return (-1);
	}
	d->js_p += 2;
	return (1);
}

/*
 * The next code point of the string as UTF-8 bytes in out: their count,
 * 0 at the end, -1 with *errstr when the string breaks a rule.
 */
static int
json_sdec_next(struct json_sdec *d, unsigned char out[4], const char **errstr)
{
	const unsigned char	*p = d->js_p;
	size_t			 n;

	if (p >= d->js_end)
		return (0);
	if (*p == '\\')
		return (json_sdec_escape(d, out, errstr));
	if (*p < 0x20) {
		*errstr = "control character in string";
		return (-1);
	}
	if ((n = json_utf8_seq(p, d->js_end - p)) == 0) {
		*errstr = "invalid UTF-8 in string";
		return (-1);
	}
	memcpy(out, p, n);
	d->js_p += n;
	return ((int)n);
}

/* Start decoding string token t (the caller checked it is a string). */
static void
json_sdec_init(const struct json_doc *doc, int t, struct json_sdec *d)
{
	const jsmntok_t	*tk = &doc->jd_tok[t];

	d->js_p = (const unsigned char *)doc->jd_buf + tk->start;
	d->js_end = (const unsigned char *)doc->jd_buf + tk->end;
}

/* The next decoded byte of the string, or -1 at its end. */
static int
json_bytes_get(struct json_bytes *b)
{
	const char	*err;

	if (b->jb_i == b->jb_n) {
		b->jb_n = json_sdec_next(&b->jb_dec, b->jb_buf, &err);
		b->jb_i = 0;
		if (b->jb_n <= 0) {
			b->jb_n = 0;
			return (-1);
		}
	}
	return (b->jb_buf[b->jb_i++]);
}

static void
json_bytes_init(const struct json_doc *doc, int t, struct json_bytes *b)
{
	json_sdec_init(doc, t, &b->jb_dec);
	b->jb_n = b->jb_i = 0;
}

/* 1 if string tokens a and b are equal after unescaping. */
static int
json_tok_eq(const struct json_doc *doc, int a, int b)
{
	const jsmntok_t		*ta = &doc->jd_tok[a], *tb = &doc->jd_tok[b];
	struct json_bytes	 ba, bb;
	int			 ca, cb;

	if (memchr(doc->jd_buf + ta->start, '\\', ta->end - ta->start) ==
	    NULL && memchr(doc->jd_buf + tb->start, '\\',
	    tb->end - tb->start) == NULL)
		return (ta->end - ta->start == tb->end - tb->start &&
		    memcmp(doc->jd_buf + ta->start, doc->jd_buf + tb->start,
		    ta->end - ta->start) == 0);
	json_bytes_init(doc, a, &ba);
	json_bytes_init(doc, b, &bb);
	do {
		ca = json_bytes_get(&ba);
		cb = json_bytes_get(&bb);
		if (ca != cb)
			return (0);
	} while (ca != -1);
	return (1);
}

/* ------------------------------------------------------------------ */
/* Primitives                                                          */
/* ------------------------------------------------------------------ */

static int
json_is_digit(char c)
{
	return (c >= '0' && c <= '9');
}

/* 1 if p[0..n) is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
json_number_ok(const char *p, size_t n)
{
	size_t	 i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && p[i] >= '1' && p[i] <= '9')
		while (i < n && json_is_digit(p[i]))
			i++;
	else
		return (0);
	if (i < n && p[i] == '.') {
		for (d = ++i; i < n && json_is_digit(p[i]); i++)
			;
		if (i == d)
			return (0);
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		if (++i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = i; i < n && json_is_digit(p[i]); i++)
			;
		if (i == d)
			return (0);
	}
	return (i == n);
}

static int
json_primitive_ok(const char *p, size_t n)
{
	if ((n == 4 && memcmp(p, "true", 4) == 0) ||
	    (n == 5 && memcmp(p, "false", 5) == 0) ||
	    (n == 4 && memcmp(p, "null", 4) == 0))
		return (1);
	return (json_number_ok(p, n));
}

/* ------------------------------------------------------------------ */
/* The validating walk                                                 */
/* ------------------------------------------------------------------ */

static int
json_walk_fail(struct json_walk *w, const char *why)
{
	w->jw_err = why;
	return (-1);
}

static void
json_walk_ws(struct json_walk *w)
{
	const char	*b = w->jw_doc->jd_buf;

	while (w->jw_pos < w->jw_doc->jd_len && (b[w->jw_pos] == ' ' ||
	    b[w->jw_pos] == '\t' || b[w->jw_pos] == '\n' ||
	    b[w->jw_pos] == '\r'))
		w->jw_pos++;
}

/* The input byte at the cursor, or -1 at the end. */
static int
json_walk_peek(const struct json_walk *w)
{
	if (w->jw_pos >= w->jw_doc->jd_len)
		return (-1);
	return ((unsigned char)w->jw_doc->jd_buf[w->jw_pos]);
}

/*
 * Claim the next token: it must exist, lie inside the input, start at
 * the cursor (after the quote for a string) and hang under parent.
 */
static int
json_walk_take(struct json_walk *w, int parent)
{
	const struct json_doc	*doc = w->jw_doc;
	const jsmntok_t		*tk;
	size_t			 at;
	int			 t = w->jw_next;

	if (t >= doc->jd_ntok)
		return (json_walk_fail(w, "malformed structure"));
	tk = &doc->jd_tok[t];
	if (tk->start < 0 || tk->end < tk->start ||
	    (size_t)tk->end > doc->jd_len || tk->parent != parent)
		return (json_walk_fail(w, "malformed structure"));
	at = w->jw_pos + (tk->type == JSMN_STRING ? 1 : 0);
	if ((size_t)tk->start != at)
		return (json_walk_fail(w, "unexpected character"));
	w->jw_next++;
	return (t);
}

/* Validate the string token t at the cursor and step past its quotes. */
static int
json_walk_string(struct json_walk *w, int t)
{
	const struct json_doc	*doc = w->jw_doc;
	const jsmntok_t		*tk = &doc->jd_tok[t];
	struct json_sdec	 d;
	unsigned char		 out[4];
	int			 r;

	if (json_walk_peek(w) != '"' || (size_t)tk->end >= doc->jd_len ||
	    doc->jd_buf[tk->end] != '"')
		return (json_walk_fail(w, "malformed string"));
	json_sdec_init(doc, t, &d);
	do {
		while (d.js_p < d.js_end && json_plain(*d.js_p))
			d.js_p++;
	} while ((r = json_sdec_next(&d, out, &w->jw_err)) > 0);
	if (r == -1)
		return (-1);
	w->jw_pos = tk->end + 1;
	return (0);
}

/* Open the object or array t at the cursor. */
static int
json_walk_open(struct json_walk *w, int t)
{
	const jsmntok_t		*tk = &w->jw_doc->jd_tok[t];
	struct json_frame	*f;
	int			 c = json_walk_peek(w);

	if ((tk->type == JSMN_OBJECT && c != '{') ||
	    (tk->type == JSMN_ARRAY && c != '['))
		return (json_walk_fail(w, "malformed structure"));
	if (w->jw_depth >= w->jw_maxdepth)
		return (json_walk_fail(w, "nesting too deep"));
	f = &w->jw_stack[w->jw_depth++];
	f->jf_tok = t;
	f->jf_key = -1;
	f->jf_count = 0;
	w->jw_pos++;
	return (0);
}

/* Close the innermost container at the cursor (its '}' or ']'). */
static int
json_walk_close(struct json_walk *w)
{
	struct json_frame	*f = &w->jw_stack[w->jw_depth - 1];
	const jsmntok_t		*tk = &w->jw_doc->jd_tok[f->jf_tok];

	if ((size_t)tk->end != w->jw_pos + 1 || tk->size != f->jf_count)
		return (json_walk_fail(w, "malformed structure"));
	w->jw_pos++;
	w->jw_depth--;
	return (0);
}

/* A value; returns the next state. */
static int
json_walk_value(struct json_walk *w)
{
	const struct json_doc	*doc = w->jw_doc;
	struct json_frame	*f = NULL;
	const jsmntok_t		*tk;
	int			 t, parent = -1;

	if (w->jw_depth > 0) {
		f = &w->jw_stack[w->jw_depth - 1];
		parent = doc->jd_tok[f->jf_tok].type == JSMN_OBJECT ?
		    f->jf_key : f->jf_tok;
		if (doc->jd_tok[f->jf_tok].type == JSMN_ARRAY)
			f->jf_count++;
	}
	if ((t = json_walk_take(w, parent)) == -1)
		return (-1);
	tk = &doc->jd_tok[t];
	if (f == NULL && tk->type != JSMN_OBJECT && tk->type != JSMN_ARRAY)
		return (json_walk_fail(w, "root is not an object or array"));
	switch (tk->type) {
	case JSMN_OBJECT:
	case JSMN_ARRAY:
		return (json_walk_open(w, t) == -1 ? -1 : JW_FIRST);
	case JSMN_STRING:
		if (tk->size != 0)
			return (json_walk_fail(w, "malformed structure"));
		return (json_walk_string(w, t) == -1 ? -1 : JW_AFTER);
	case JSMN_PRIMITIVE:
		if (!json_primitive_ok(doc->jd_buf + tk->start,
		    tk->end - tk->start))
			return (json_walk_fail(w, "invalid literal or number"));
		w->jw_pos = tk->end;
		return (JW_AFTER);
	default:
		return (json_walk_fail(w, "malformed structure"));
	}
}

/* 1 if key token k repeats the name of an earlier member of object obj. */
static int
json_walk_dup(const struct json_doc *doc, int obj, int k)
{
	int	 i;

	for (i = obj + 1; i < k; i = json_next(doc, i))
		if (json_tok_eq(doc, i, k))
			return (1);
	return (0);
}

/* A member name and its colon; returns the next state. */
static int
json_walk_key(struct json_walk *w)
{
	const struct json_doc	*doc = w->jw_doc;
	struct json_frame	*f = &w->jw_stack[w->jw_depth - 1];
	int			 t;

	if (json_walk_peek(w) != '"')
		return (json_walk_fail(w, "expected a member name"));
	if ((t = json_walk_take(w, f->jf_tok)) == -1)
		return (-1);
	if (doc->jd_tok[t].type != JSMN_STRING || doc->jd_tok[t].size != 1)
		return (json_walk_fail(w, "malformed structure"));
	if (json_walk_string(w, t) == -1)
		return (-1);
	if (json_walk_dup(doc, f->jf_tok, t))
		return (json_walk_fail(w, JSON_ERR_DUPLICATE));
	f->jf_key = t;
	f->jf_count++;
	json_walk_ws(w);
	if (json_walk_peek(w) != ':')
		return (json_walk_fail(w, "expected ':'"));
	w->jw_pos++;
	return (JW_VALUE);
}

/* Right after '{' or '[': the close, or the first member or element. */
static int
json_walk_first(struct json_walk *w)
{
	const struct json_frame	*f = &w->jw_stack[w->jw_depth - 1];
	int			 obj, c = json_walk_peek(w);

	obj = w->jw_doc->jd_tok[f->jf_tok].type == JSMN_OBJECT;
	if (c == (obj ? '}' : ']'))
		return (json_walk_close(w) == -1 ? -1 : JW_AFTER);
	return (obj ? JW_KEY : JW_VALUE);
}

/* After a value: ',' or the close of the container, or the end. */
static int
json_walk_after(struct json_walk *w)
{
	const struct json_frame	*f;
	int			 obj, c;

	if (w->jw_depth == 0)
		return (JW_DONE);
	f = &w->jw_stack[w->jw_depth - 1];
	obj = w->jw_doc->jd_tok[f->jf_tok].type == JSMN_OBJECT;
	c = json_walk_peek(w);
	if (c == ',') {
		w->jw_pos++;
		return (obj ? JW_KEY : JW_VALUE);
	}
	if (c == (obj ? '}' : ']'))
		return (json_walk_close(w) == -1 ? -1 : JW_AFTER);
	if (c == -1)
		return (json_walk_fail(w, "truncated document"));
	return (json_walk_fail(w, obj ? "expected ',' or '}'" :
	    "expected ',' or ']'"));
}

/* Walk the whole input; 0 if it is one valid document. */
static int
json_walk_run(struct json_walk *w)
{
	int	 st = JW_VALUE;

	while (st != JW_DONE) {
		json_walk_ws(w);
		switch (st) {
		case JW_VALUE:
			st = json_walk_value(w);
			break;
		case JW_FIRST:
			st = json_walk_first(w);
			break;
		case JW_KEY:
			st = json_walk_key(w);
			break;
		default:
			st = json_walk_after(w);
			break;
		}
		if (st == -1)
			return (-1);
	}
	json_walk_ws(w);
	if (w->jw_pos != w->jw_doc->jd_len || w->jw_next != w->jw_doc->jd_ntok)
		return (json_walk_fail(w, "trailing garbage"));
	return (0);
}

static const char *
json_jsmn_error(int r)
{
	switch (r) {
	case JSMN_ERROR_NOMEM:
		return ("too many tokens");
	case JSMN_ERROR_PART:
		return ("truncated document");
	default:
		return ("invalid JSON");
	}
}

int
json_parse(struct json_doc *doc, const char *buf, size_t len, jsmntok_t *tok,
    unsigned int ntok, int maxdepth, const char **errstr)
{
	jsmn_parser		 p;
	struct json_walk	 w;
	int			 r;

	memset(doc, 0, sizeof(*doc));
	if (len == 0 || len > JSON_MAX_INPUT || ntok == 0 || ntok > INT_MAX) {
		*errstr = len == 0 ? "empty document" : len > JSON_MAX_INPUT ?
		    "document too large" : "no tokens";
		return (-1);
	}
	if (memchr(buf, '\0', len) != NULL) {
		*errstr = "NUL byte in document";
		return (-1);
	}
	jsmn_init(&p);
	if ((r = jsmn_parse(&p, buf, len, tok, ntok)) <= 0) {
		*errstr = r == 0 ? "no value" : json_jsmn_error(r);
		return (-1);
	}
	doc->jd_buf = buf;
	doc->jd_len = len;
	doc->jd_tok = tok;
	doc->jd_ntok = r;
	w.jw_doc = doc;
	w.jw_pos = 0;
	w.jw_next = 0;
	w.jw_depth = 0;
	w.jw_maxdepth = maxdepth <= 0 ? JSON_DEPTH_DEFAULT :
	    maxdepth > JSON_DEPTH_MAX ? JSON_DEPTH_MAX : maxdepth;
	w.jw_err = NULL;
	if (json_walk_run(&w) == -1) {
		memset(doc, 0, sizeof(*doc));
		*errstr = w.jw_err;
		return (-1);
	}
	return (r);
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

static int
json_valid_index(const struct json_doc *doc, int t)
{
	return (t >= 0 && t < doc->jd_ntok);
}

enum json_type
json_type(const struct json_doc *doc, int t)
{
	if (!json_valid_index(doc, t))
		return (JSON_INVALID);
	switch (doc->jd_tok[t].type) {
	case JSMN_OBJECT:
		return (JSON_OBJECT);
	case JSMN_ARRAY:
		return (JSON_ARRAY);
	case JSMN_STRING:
		return (JSON_STRING);
	case JSMN_PRIMITIVE:
		break;
	default:
		return (JSON_INVALID);
	}
	switch (doc->jd_buf[doc->jd_tok[t].start]) {
	case 't':
		return (JSON_TRUE);
	case 'f':
		return (JSON_FALSE);
	case 'n':
		return (JSON_NULL);
	default:
		return (JSON_NUMBER);
	}
}

int
json_size(const struct json_doc *doc, int t)
{
	enum json_type	 ty = json_type(doc, t);

	if (ty != JSON_OBJECT && ty != JSON_ARRAY)
		return (0);
	return (doc->jd_tok[t].size);
}

int
json_next(const struct json_doc *doc, int t)
{
	int	 j;

	if (!json_valid_index(doc, t))
		return (-1);
	if (doc->jd_tok[t].type == JSMN_STRING && doc->jd_tok[t].size == 1)
		return (json_next(doc, t + 1));		/* a key */
	for (j = t + 1; j < doc->jd_ntok &&
	    doc->jd_tok[j].start < doc->jd_tok[t].end; j++)
		;
	return (j);
}

int
json_str_eq(const struct json_doc *doc, int t, const void *s, size_t len)
{
	const unsigned char	*u = s;
	struct json_bytes	 b;
	size_t			 i;
	int			 c;

	if (json_type(doc, t) != JSON_STRING)
		return (0);
	json_bytes_init(doc, t, &b);
	for (i = 0; (c = json_bytes_get(&b)) != -1; i++)
		if (i >= len || c != u[i])
			return (0);
	return (i == len);
}

int
json_obj_get(const struct json_doc *doc, int obj, const char *key)
{
	size_t	 klen = strlen(key);
	int	 i, k, n;

	if (json_type(doc, obj) != JSON_OBJECT)
		return (-1);
	n = doc->jd_tok[obj].size;
	for (i = 0, k = obj + 1; i < n && k < doc->jd_ntok;
	    i++, k = json_next(doc, k))
		if (json_str_eq(doc, k, key, klen))
			return (k + 1);
	return (-1);
}

const char *
json_raw(const struct json_doc *doc, int t, size_t *lenp)
{
	if (!json_valid_index(doc, t))
		return (NULL);
	*lenp = doc->jd_tok[t].end - doc->jd_tok[t].start;
	return (doc->jd_buf + doc->jd_tok[t].start);
}

/* ------------------------------------------------------------------ */
/* Extraction                                                          */
/* ------------------------------------------------------------------ */

static int
json_fail(const char **errstr, const char *why)
{
	*errstr = why;
	return (-1);
}

int
json_get_string(const struct json_doc *doc, int t, char *out, size_t cap,
    size_t *lenp, const char **errstr)
{
	struct json_sdec	 d;
	unsigned char		 seq[4];
	size_t			 n = 0;
	int			 i, r;

	if (json_type(doc, t) != JSON_STRING)
		return (json_fail(errstr, "not a string"));
	json_sdec_init(doc, t, &d);
	for (;;) {
		for (; d.js_p < d.js_end && json_plain(*d.js_p); d.js_p++) {
			if (n + 1 >= cap)
				return (json_fail(errstr, "string too long"));
			out[n++] = (char)*d.js_p;
		}
		if ((r = json_sdec_next(&d, seq, errstr)) <= 0)
			break;
		for (i = 0; i < r; i++) {
			if (seq[i] == '\0')
				return (json_fail(errstr, "NUL in string"));
			if (n + 1 >= cap)
				return (json_fail(errstr, "string too long"));
			out[n++] = (char)seq[i];
		}
	}
	if (r == -1)
		return (-1);
	if (cap == 0)
		return (json_fail(errstr, "string too long"));
	out[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return (0);
}

/* The raw text of number token t, or NULL if t is not a number. */
static const char *
json_number_text(const struct json_doc *doc, int t, size_t *lenp)
{
	if (json_type(doc, t) != JSON_NUMBER)
		return (NULL);
	return (json_raw(doc, t, lenp));
}

int
json_get_int64(const struct json_doc *doc, int t, int64_t *out,
    const char **errstr)
{
	const char	*p;
	uint64_t	 v = 0, limit = INT64_MAX;
	size_t		 n, i = 0;
	int		 neg = 0;

	if ((p = json_number_text(doc, t, &n)) == NULL)
		return (json_fail(errstr, "not a number"));
	if (p[0] == '-') {
		neg = 1;
		limit = (uint64_t)INT64_MAX + 1;
		i++;
	}
	for (; i < n; i++) {
		if (!json_is_digit(p[i]))
			return (json_fail(errstr, "not an integer"));
		if (v > (limit - (p[i] - '0')) / 10)
			return (json_fail(errstr, "integer out of range"));
		v = v * 10 + (p[i] - '0');
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return (0);
}

int
json_get_numericdate(const struct json_doc *doc, int t, int64_t *out,
    const char **errstr)
{
	const char	*p;
	const uint64_t	 limit = (uint64_t)1 << 53;
	uint64_t	 v = 0;
	size_t		 n, i;

	if ((p = json_number_text(doc, t, &n)) == NULL)
		return (json_fail(errstr, "not a number"));
	for (i = 0; i < n && json_is_digit(p[i]); i++) {
		v = v * 10 + (p[i] - '0');
		if (v >= limit)
			return (json_fail(errstr, "date out of range"));
	}
	if (i == 0)
		return (json_fail(errstr, "negative date"));
	if (i < n && p[i] != '.')
		return (json_fail(errstr, "exponent in date"));
	for (i++; i < n; i++)
		if (!json_is_digit(p[i]))
			return (json_fail(errstr, "exponent in date"));
	if (v < 1)
		return (json_fail(errstr, "date out of range"));
	*out = (int64_t)v;
	return (0);
}

int
json_get_bool(const struct json_doc *doc, int t, int *out,
    const char **errstr)
{
	switch (json_type(doc, t)) {
	case JSON_TRUE:
		*out = 1;
		return (0);
	case JSON_FALSE:
		*out = 0;
		return (0);
	default:
		return (json_fail(errstr, "not a boolean"));
	}
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

int
json_utf8_valid(const void *p, size_t len)
{
	const unsigned char	*u = p;
	size_t			 i, n;

	for (i = 0; i < len; i += n) {
		if (u[i] < 0x80) {
			n = 1;
			continue;
		}
		if ((n = json_utf8_seq(u + i, len - i)) == 0)
			return (0);
	}
	return (1);
}

/* The letter of the two-byte escape of control byte c, or 0 (\u00XX). */
static char
json_short_escape(unsigned char c)
{
	switch (c) {
	case '\b':
		return ('b');
	case '\f':
		return ('f');
	case '\n':
		return ('n');
	case '\r':
		return ('r');
	case '\t':
		return ('t');
	}
	return (0);
}

size_t
json_escaped_len(const void *in, size_t len)
{
	const unsigned char	*u = in;
	size_t			 i, n = 2;

	if (len > (SIZE_MAX - 3) / 6)
		return (SIZE_MAX);
	for (i = 0; i < len; i++) {
		if (u[i] < 0x20)
			n += json_short_escape(u[i]) != 0 ? 2 : 6;
		else if (u[i] == '"' || u[i] == '\\')
			n += 2;
		else
			n++;
	}
	return (n);
}

int
json_escape(const void *in, size_t len, char *out, size_t cap,
    size_t *outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*u = in;
	size_t			 i, n = 0, need;

	if (!json_utf8_valid(in, len) ||
	    (need = json_escaped_len(in, len)) >= cap)
		return (-1);
	out[n++] = '"';
	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 && json_short_escape(u[i]) != 0) {
			out[n++] = '\\';
			out[n++] = json_short_escape(u[i]);
			continue;
		}
		if (u[i] < 0x20) {
			memcpy(out + n, "\\u00", 4);
			out[n + 4] = hex[u[i] >> 4];
			out[n + 5] = hex[u[i] & 0xf];
			n += 6;
			continue;
		}
		if (u[i] == '"' || u[i] == '\\')
			out[n++] = '\\';
		out[n++] = u[i];
	}
	out[n++] = '"';
	out[n] = '\0';
	if (outlen != NULL)
		*outlen = n;
	return (0);
}

int
json_put_string(char *out, size_t cap, size_t *off, const void *in,
    size_t len)
{
	size_t	 n;

	if (*off >= cap || json_escape(in, len, out + *off, cap - *off,
	    &n) == -1)
		return (-1);
	*off += n;
	return (0);
}
