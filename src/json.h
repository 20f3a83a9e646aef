/*
 * json.h: strict JSON (RFC 8259) on top of Debian's jsmn tokenizer, plus
 * lookups, typed extraction and a string-literal writer.  In the daemon,
 * used by the API and WS workers only: request bodies and frames, the JWT
 * verifier (token segments, and the JWKS file each worker loads after
 * fork), and the one string escaper for every JSON text the daemon writes.
 * The supervisor never parses JSON.
 *
 * jsmn is configured once for the whole tree: the build passes
 * -DJSMN_STRICT -DJSMN_PARENT_LINKS on the command line (they change the
 * layout of jsmntok_t, so every translation unit must agree; the #error
 * below enforces it).  This header includes jsmn.h with JSMN_HEADER, i.e.
 * declarations only: the jsmn implementation is compiled into json.c and
 * nowhere else.  Include json.h, never jsmn.h directly.
 *
 * Nothing here logs, exits or allocates: the caller owns the input, the
 * token array (sized per message type, e.g. 64 for an API body, 32 for a
 * JWT header) and every output buffer.  Failures return -1 and point
 * *errstr at a short static reason.
 */

#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#if !defined(JSMN_STRICT) || !defined(JSMN_PARENT_LINKS)
#error "compile with -DJSMN_STRICT -DJSMN_PARENT_LINKS (jsmntok_t layout)"
#endif
#ifndef JSMN_HEADER
#define JSMN_HEADER		/* declarations only; json.c has the code */
#endif
#include <jsmn.h>

#define JSON_MAX_INPUT		(64 * 1024 * 1024) /* bytes per document */
#define JSON_DEPTH_DEFAULT	8	/* nesting when the caller passes 0 */
#define JSON_DEPTH_MAX		64	/* hard cap on a caller's depth */

/* The errstr of json_parse() for a repeated member name in one object. */
#define JSON_ERR_DUPLICATE	"duplicate member name"

enum json_type {
	JSON_INVALID = 0,	/* no such token */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL
};

/*
 * A validated document: the caller's bytes and the caller's tokens, in
 * document order.  Token 0 is the root.  An object token is followed by
 * its members, each a key token (a string) then the value's tokens; an
 * array token by its elements.  Nothing is copied: the document is valid
 * as long as buf and the token array are.
 */
struct json_doc {
	const char		*jd_buf;
	size_t			 jd_len;
	const jsmntok_t		*jd_tok;
	int			 jd_ntok;	/* tokens in use */
};

/*
 * json_parse: tokenize buf[0..len) into tok (ntok entries, fixed: never
 * grown) and validate the whole document strictly: no NUL byte; the root is
 * an object or an array spanning the input (only whitespace around it, so
 * "{}{}" and trailing garbage fail); every comma, colon and bracket where
 * the grammar wants it (no trailing commas, no missing values); primitives
 * exactly true, false, null or an RFC 8259 number; strings without raw
 * control characters, with valid escapes only, every surrogate paired and
 * valid UTF-8 (no overlong forms, no encoded surrogates, nothing above
 * U+10FFFF); no member name twice in one object, compared after
 * unescaping ("a" and "\u0061" are the same name: errstr is
 * JSON_ERR_DUPLICATE); nesting at most maxdepth (0 means
 * JSON_DEPTH_DEFAULT, values above JSON_DEPTH_MAX are capped).  Needing
 * more than ntok tokens is an error ("too many tokens"), never a retry.
 * Returns the number of tokens used (>= 1) with doc filled, or -1 with
 * *errstr set (doc is then unusable).
 */
int		 json_parse(struct json_doc *doc, const char *buf, size_t len,
		    jsmntok_t *tok, unsigned int ntok, int maxdepth,
		    const char **errstr);

/* json_type: the type of token t, or JSON_INVALID if t is out of range. */
enum json_type	 json_type(const struct json_doc *, int t);

/* json_size: members of an object or elements of an array; 0 otherwise. */
int		 json_size(const struct json_doc *, int t);

/*
 * json_next: the index of the token after t's whole subtree, i.e. the
 * next element when t is an array element, or the next key when t is a
 * member's value.  Given a key, skips the key and its value.  May return
 * jd_ntok (the end).  -1 if t is out of range.
 *
 * Iterating: for an array a,
 *	for (i = 0, e = a + 1; i < json_size(doc, a); i++, e = json_next(doc, e))
 * and for an object o, keys k = o + 1, k = json_next(doc, k), value k + 1.
 */
int		 json_next(const struct json_doc *, int t);

/*
 * json_obj_get: the value token of member key (NUL-terminated; compared
 * with the unescaped member name by length and bytes) in object obj.
 * Returns -1 if obj is not an object or has no such member.
 */
int		 json_obj_get(const struct json_doc *, int obj, const char *key);

/*
 * json_str_eq: 1 if string token t (a key or a value), unescaped, is
 * exactly the len bytes at s; 0 otherwise, also when t is not a string.
 */
int		 json_str_eq(const struct json_doc *, int t, const void *s,
		    size_t len);

/*
 * json_raw: the bytes of token t as they appear in the input: a whole
 * "{...}" or "[...]", a number or literal, or the still-escaped contents
 * of a string (without its quotes).  *lenp receives the length.  NULL if t
 * is out of range.
 */
const char	*json_raw(const struct json_doc *, int t, size_t *lenp);

/*
 * json_get_string: unescape string token t into out (capacity cap,
 * including the terminating NUL, which is always written on success).
 * *lenp (may be NULL) receives the length without the NUL.  Fails if t is
 * not a string, if the value holds "\u0000" (it would truncate a C
 * string), or if it does not fit.  Returns 0 or -1 with *errstr set.
 */
int		 json_get_string(const struct json_doc *, int t, char *out,
		    size_t cap, size_t *lenp, const char **errstr);

/*
 * json_get_int64: number token t as an int64_t.  Only an integer is
 * accepted: no fraction and no exponent ("1.0" and "1e3" fail), and the
 * value must fit.  Returns 0 or -1 with *errstr set.
 */
int		 json_get_int64(const struct json_doc *, int t, int64_t *out,
		    const char **errstr);

/*
 * json_get_numericdate: number token t as an RFC 7519 NumericDate: digits
 * with an optional fraction (no sign, no exponent), 1 <= x < 2^53; the
 * result is floor(x) seconds.  Returns 0 or -1 with *errstr set.
 */
int		 json_get_numericdate(const struct json_doc *, int t,
		    int64_t *out, const char **errstr);

/* json_get_bool: true or false token t as 1 or 0.  Returns 0 or -1. */
int		 json_get_bool(const struct json_doc *, int t, int *out,
		    const char **errstr);

/*
 * json_utf8_valid: 1 if p[0..len) is well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), else 0.  NUL
 * bytes are valid UTF-8.
 */
int		 json_utf8_valid(const void *p, size_t len);

/*
 * json_escaped_len: the length of json_escape()'s output for len bytes at
 * in, quotes included, NUL excluded (assuming the input is valid UTF-8).
 */
size_t		 json_escaped_len(const void *in, size_t len);

/*
 * json_escape: write in[0..len) as a JSON string literal, quotes included,
 * into out (capacity cap, NUL-terminated): '"' and '\\' get a backslash,
 * \b \f \n \r \t their short escapes, other bytes below 0x20 become
 * \u00XX, everything else is copied, so bytes
 * >= 0x80 must already be valid UTF-8.  *outlen (may be NULL) receives the
 * length without the NUL.  Returns 0, or -1 if the input is not valid
 * UTF-8 or out is too small (out then holds no useful data).
 */
int		 json_escape(const void *in, size_t len, char *out, size_t cap,
		    size_t *outlen);

/*
 * json_put_string: json_escape() of in[0..len) appended to out at *off
 * (capacity cap, NUL-terminated), advancing *off.  Returns 0, or -1 (out
 * and *off unchanged up to *off) if the input is not valid UTF-8 or
 * does not fit.
 */
int		 json_put_string(char *out, size_t cap, size_t *off,
		    const void *in, size_t len);

#endif /* JSON_H */
