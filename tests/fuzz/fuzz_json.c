/*
 * fuzz_json.c: libFuzzer target for json.c (the strict validator over
 * jsmn, and the typed getters) and envelope.c (the validation and
 * normalisation of a POST /api/send body).  The input is parsed as the
 * API parses a body (API_MAX_TOKENS tokens, default depth) and again
 * with the deepest nesting allowed.  Checks that nothing crashes or reads
 * outside the input (a heap copy of exactly its bytes), and on a valid
 * document: every token's subtree, raw bytes and json_next() stay inside
 * the document; every string unescapes to valid UTF-8, and escaping it
 * again and parsing the result gives the same bytes; a valid document
 * is valid UTF-8.  Each envelope (the root object, or each element of a
 * root array) goes through env_parse() for caller "alice"; an accepted
 * one yields normalised JSON that env_parse() accepts again and
 * normalises to the very same text.  A disagreement aborts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MAX_TOKENS	8192	/* as API_MAX_TOKENS */
#define FUZZ_STR_MAX	(64 * 1024)

static jsmntok_t	fuzz_tok[FUZZ_MAX_TOKENS];
static jsmntok_t	fuzz_tok2[64];

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_json: %s\n", what);
	abort();
}

/* Escape s, wrap it in [], parse, unescape: the same bytes again. */
static void
fuzz_string_roundtrip(const char *s, size_t len)
{
	struct json_doc	 doc;
	const char	*err;
	char		*esc, *back;
	size_t		 elen, blen;

	elen = json_escaped_len(s, len);
	if ((esc = malloc(elen + 3)) == NULL ||
	    (back = malloc(len + 1)) == NULL)
		abort();
	esc[0] = '[';
	if (json_escape(s, len, esc + 1, elen + 1, &blen) != 0 ||
	    blen != elen)
		fuzz_fail("json_escape of a valid string failed");
	esc[elen + 1] = ']';
	if (json_parse(&doc, esc, elen + 2, fuzz_tok2, 64, 0, &err) != 2)
		fuzz_fail("escaped string does not parse");
	if (json_get_string(&doc, 1, back, len + 1, &blen, &err) != 0 ||
	    blen != len || memcmp(back, s, len) != 0)
		fuzz_fail("escape then unescape changed the string");
	if (!json_str_eq(&doc, 1, s, len))
		fuzz_fail("json_str_eq differs from json_get_string");
	free(esc);
	free(back);
}

/* Every getter on every token, with the bounds of the document. */
static void
fuzz_walk(const struct json_doc *doc, char *str)
{
	const char	*raw, *err;
	size_t		 rlen, slen;
	int64_t		 v;
	int		 t, next, b;

	for (t = 0; t < doc->jd_ntok; t++) {
		if (json_type(doc, t) == JSON_INVALID)
			fuzz_fail("token in range has no type");
		next = json_next(doc, t);
		if (next <= t || next > doc->jd_ntok)
			fuzz_fail("json_next out of range");
		if ((raw = json_raw(doc, t, &rlen)) == NULL ||
		    raw < doc->jd_buf ||
		    raw + rlen > doc->jd_buf + doc->jd_len)
			fuzz_fail("json_raw outside the document");
		if (json_size(doc, t) < 0)
			fuzz_fail("negative size");
		switch (json_type(doc, t)) {
		case JSON_STRING:
			if (json_get_string(doc, t, str, FUZZ_STR_MAX, &slen,
			    &err) != 0)
				break;	/* "\u0000" or too long */
			if (slen > rlen || !json_utf8_valid(str, slen))
				fuzz_fail("unescaped string is bad");
			if (!json_str_eq(doc, t, str, slen))
				fuzz_fail("json_str_eq refuses its own string");
			fuzz_string_roundtrip(str, slen);
			break;
		case JSON_NUMBER:
			(void)json_get_int64(doc, t, &v, &err);
			if (json_get_numericdate(doc, t, &v, &err) == 0 &&
			    (v < 1 || v >= (INT64_C(1) << 53)))
				fuzz_fail("NumericDate out of range");
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			if (json_get_bool(doc, t, &b, &err) != 0 ||
			    b != (json_type(doc, t) == JSON_TRUE))
				fuzz_fail("json_get_bool is wrong");
			break;
		default:
			break;
		}
	}
	if (json_get_string(doc, doc->jd_ntok, str, FUZZ_STR_MAX, &slen,
	    &err) != -1 || json_type(doc, doc->jd_ntok) != JSON_INVALID)
		fuzz_fail("a token past the end is usable");
}

/* env_parse of an accepted envelope's own output is a fixed point. */
static void
fuzz_envelope(const struct json_doc *doc, int t)
{
	struct env_msg	 m, m2;
	struct json_doc	 doc2;
	const char	*err;
	char		*copy;

	memset(&m, 0, sizeof(m));
	if (env_parse(doc, t, "alice", &m, &err) != ENV_OK)
		return;
	if (m.em_data == NULL || strlen(m.em_data) != m.em_len)
		fuzz_fail("envelope text is not what em_len says");
	if ((copy = malloc(m.em_len ? m.em_len : 1)) == NULL)
		abort();
	memcpy(copy, m.em_data, m.em_len);
	if (json_parse(&doc2, copy, m.em_len, fuzz_tok2, 64, 0, &err) < 1)
		fuzz_fail("normalised envelope is not JSON");
	memset(&m2, 0, sizeof(m2));
	if (env_parse(&doc2, 0, "alice", &m2, &err) != ENV_OK)
		fuzz_fail("normalised envelope is refused");
	if (m2.em_len != m.em_len || memcmp(m2.em_data, m.em_data,
	    m.em_len) != 0 || m2.em_priority != m.em_priority ||
	    m2.em_ephemeral != m.em_ephemeral ||
	    strcmp(m2.em_recipient, m.em_recipient) != 0)
		fuzz_fail("normalising twice changed the envelope");
	env_msg_clear(&m2);
	env_msg_clear(&m);
	if (m.em_data != NULL)
		fuzz_fail("env_msg_clear left data");
	free(copy);
}

static void
fuzz_envelopes(const struct json_doc *doc)
{
	int	i, e, size;

	if (json_type(doc, 0) == JSON_OBJECT) {
		fuzz_envelope(doc, 0);
		return;
	}
	size = json_size(doc, 0);
	for (i = 0, e = 1; i < size && i < ENV_MAX_BATCH; i++,
	    e = json_next(doc, e))
		fuzz_envelope(doc, e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct json_doc	 doc;
	const char	*err;
	char		*buf, *str;
	int		 r, depth;

	if ((buf = malloc(n ? n : 1)) == NULL ||
	    (str = malloc(FUZZ_STR_MAX)) == NULL)
		abort();
	memcpy(buf, d, n);
	for (depth = 0; depth <= JSON_DEPTH_MAX; depth += JSON_DEPTH_MAX) {
		r = json_parse(&doc, buf, n, fuzz_tok, FUZZ_MAX_TOKENS, depth,
		    &err);
		if (r == -1) {
			if (err == NULL)
				fuzz_fail("failure without a reason");
			continue;
		}
		if (r != doc.jd_ntok || r < 1)
			fuzz_fail("token count differs");
		if (!json_utf8_valid(buf, n))
			fuzz_fail("a valid document is not UTF-8");
		fuzz_walk(&doc, str);
		if (depth == 0)
			fuzz_envelopes(&doc);
	}
	free(str);
	free(buf);
	return (0);
}
