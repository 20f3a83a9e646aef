/*
 * test_json.c: unit tests for json.c: valid documents, a table of
 * malformed ones (every input jsmn alone accepts, and more), limits (depth,
 * tokens), lookups and iteration, typed extraction with its range errors,
 * and the string-literal writer.  Links json.c only.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

#define TEST_NTOK	64

static jsmntok_t	 test_tok[TEST_NTOK];

/* Parse a NUL-terminated document with the default depth; the result. */
static int
test_json_parse(struct json_doc *doc, const char *s, const char **err)
{
	return (json_parse(doc, s, strlen(s), test_tok, TEST_NTOK, 0, err));
}

/* Parse s, failing the test if it is rejected. */
static void
test_json_ok(struct json_doc *doc, const char *s)
{
	const char	*err = NULL;

	if (test_json_parse(doc, s, &err) < 1)
		fail_msg("rejected %s: %s", s, err);
}

static void
test_json_valid(void **state)
{
	static const char *const good[] = {
		"{}",
		"[]",
		" \t\r\n{}\r\n ",
		"{\"a\":1}",
		"[1,-1,0,-0,1.5,1e5,1E-5,1e+5,-0.0,123456789012345678901234]",
		"[true,false,null,\"\",[],{}]",
		"{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}",
		"{\"e\":\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}",
		"{\"k\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\"}",
		"{\"\":\"\"}",
		"{\"a\":1,\"A\":2,\"a \":3,\"\\u0000\":4,\"\\u0000a\":5}",
		"[[[[[[[[]]]]]]]]",			/* depth 8 */
		"{ \"a\" : [ 1 , 2 ] , \"b\" : { } }",
		"{\"max\":\"\xf4\x8f\xbf\xbf\",\"bmp\":\"\xef\xbf\xbf\"}",
		"{\"a\":\"\\u0000\"}",
		"[\"\x7f\"]",
	};
	struct json_doc	 doc;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		test_json_ok(&doc, good[i]);
}

static void
test_json_malformed(void **state)
{
	static const char *const bad[] = {
		/* jsmn alone (strict mode) accepts these */
		"{\"a\" \"b\"}",
		"{\"a\":1 \"b\":2}",
		"[1,]",
		"[1,,2]",
		"{\"a\":tru}",
		"{\"a\":nulx}",
		"{\"a\":01}",
		"{\"a\":-}",
		"{\"a\":1.2.3}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\xff\"}",
		"{\"a\":\"\\ud800\"}",
		"::{}",
		"{\"a\":1,\"a\":2}",
		"{}{}",
		/* trailing garbage and scalar roots */
		"{\"a\":1} x",
		"{\"a\":1}}",
		"[1]]",
		"{} []",
		"1",
		"\"abc\"",
		"true",
		"",
		"   ",
		"\xef\xbb\xbf{}",
		/* escapes */
		"{\"a\":\"\\x\"}",
		"{\"a\":\"\\'\"}",
		"{\"a\":\"\\u12G4\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"\\U0041\"}",
		"{\"a\":\"\\\"}",
		/* surrogates */
		"{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}",
		"{\"a\":\"\\ud800abcdef\"}",
		"{\"a\":\"\\ud800\\ud800\"}",
		"{\"a\":\"x\\udfff\"}",
		/* UTF-8 */
		"{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xc1\xbf\"}",
		"{\"a\":\"\xe0\x80\xaf\"}",
		"{\"a\":\"\xf0\x80\x80\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xf5\x80\x80\x80\"}",
		"{\"a\":\"\xe2\x82\"}",
		"{\"a\":\"\x80\"}",
		"{\"a\":\"\xc3\"}",
		"{\"\xff\":1}",
		/* raw control characters */
		"{\"a\":\"a\tb\"}",
		"{\"a\":\"a\nb\"}",
		"{\"a\":\"\x1f\"}",
		/* duplicates, also after unescaping */
		"{\"a\":1,\"\\u0061\":2}",
		"{\"sub\":\"x\",\"\\u0073ub\":\"y\"}",
		"{\"x\":{\"a\":1,\"b\":2,\"a\":3}}",
		"{\"\\/\":1,\"/\":2}",
		"{\"\xc3\xa9\":1,\"\\u00e9\":2}",
		"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
		/* numbers */
		"[01]",
		"[-01]",
		"[-]",
		"[1.]",
		"[.5]",
		"[1e]",
		"[1e+]",
		"[--1]",
		"[+1]",
		"[1.e5]",
		"[0x10]",
		"[NaN]",
		"[Infinity]",
		"[-Infinity]",
		"[1_000]",
		/* literals */
		"[True]",
		"[nULL]",
		"[falsey]",
		"[undefined]",
		/* structure */
		"{\"a\":1,}",
		"{,}",
		"{\"a\"}",
		"{\"a\":}",
		"{:1}",
		"{1:1}",
		"{a:1}",
		"{'a':1}",
		"[}",
		"{]",
		"[1 2]",
		"[[]",
		"[\"a\":1]",
		"{\"a\"::1}",
		"{\"a\":1 /* c */}",
		"{\"a\":[1,2}",
		"{\"a\":{\"b\":1]}",
		"[\"unterminated]",
		"{\"a\":1",
		"[,1]",
		"{\"a\",1}",
		"[{\"a\":1}:2]",
	};
	struct json_doc	 doc;
	const char	*err;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (test_json_parse(&doc, bad[i], &err) != -1)
			fail_msg("accepted case %zu: %s", i, bad[i]);
		assert_non_null(err);
		assert_int_equal(doc.jd_ntok, 0);
	}
}

static void
test_json_nul(void **state)
{
	static const char	 doc1[] = "{\"a\":1}\0garbage";
	static const char	 doc2[] = "{\"a\":\"x\0y\"}";
	struct json_doc		 doc;
	const char		*err;

	assert_int_equal(json_parse(&doc, doc1, sizeof(doc1) - 1, test_tok,
	    TEST_NTOK, 0, &err), -1);
	assert_int_equal(json_parse(&doc, doc2, sizeof(doc2) - 1, test_tok,
	    TEST_NTOK, 0, &err), -1);
	assert_int_equal(json_parse(&doc, doc1, 7, test_tok, TEST_NTOK, 0,
	    &err), 3);
}

static void
test_json_duplicate_errstr(void **state)
{
	struct json_doc	 doc;
	const char	*err = NULL;

	assert_int_equal(test_json_parse(&doc, "{\"a\":1,\"\\u0061\":2}",
	    &err), -1);
	assert_string_equal(err, JSON_ERR_DUPLICATE);
	/* the same name in different objects is fine */
	test_json_ok(&doc, "{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
	test_json_ok(&doc, "[{\"a\":1},{\"a\":2}]");
}

static void
test_json_depth(void **state)
{
	struct json_doc	 doc;
	const char	*err;
	const char	*d9 = "[[[[[[[[[]]]]]]]]]";
	const char	*o3 = "{\"a\":{\"b\":{}}}";

	assert_int_equal(test_json_parse(&doc, d9, &err), -1);
	assert_string_equal(err, "nesting too deep");
	assert_int_equal(json_parse(&doc, d9, strlen(d9), test_tok, TEST_NTOK,
	    9, &err), 9);
	assert_int_equal(json_parse(&doc, o3, strlen(o3), test_tok, TEST_NTOK,
	    2, &err), -1);
	assert_int_equal(json_parse(&doc, o3, strlen(o3), test_tok, TEST_NTOK,
	    3, &err), 5);
	assert_int_equal(json_parse(&doc, "[]", 2, test_tok, TEST_NTOK, 1,
	    &err), 1);
}

static void
test_json_tokens(void **state)
{
	jsmntok_t	 tok[4];
	struct json_doc	 doc;
	const char	*err;

	assert_int_equal(json_parse(&doc, "[1,2,3]", 7, tok, 4, 0, &err), 4);
	assert_int_equal(json_parse(&doc, "[1,2,3,4]", 9, tok, 4, 0, &err),
	    -1);
	assert_string_equal(err, "too many tokens");
	assert_int_equal(json_parse(&doc, "{\"a\":{\"b\":1}}", 13, tok, 4, 0,
	    &err), -1);
	assert_int_equal(json_parse(&doc, "[]", 2, tok, 0, 0, &err), -1);
}

static void
test_json_types(void **state)
{
	struct json_doc	 doc;

	test_json_ok(&doc, "[{},[],\"s\",1,-2.5e3,true,false,null]");
	assert_int_equal(json_type(&doc, 0), JSON_ARRAY);
	assert_int_equal(json_size(&doc, 0), 8);
	assert_int_equal(json_type(&doc, 1), JSON_OBJECT);
	assert_int_equal(json_type(&doc, 2), JSON_ARRAY);
	assert_int_equal(json_type(&doc, 3), JSON_STRING);
	assert_int_equal(json_type(&doc, 4), JSON_NUMBER);
	assert_int_equal(json_type(&doc, 5), JSON_NUMBER);
	assert_int_equal(json_type(&doc, 6), JSON_TRUE);
	assert_int_equal(json_type(&doc, 7), JSON_FALSE);
	assert_int_equal(json_type(&doc, 8), JSON_NULL);
	assert_int_equal(json_type(&doc, 9), JSON_INVALID);
	assert_int_equal(json_type(&doc, -1), JSON_INVALID);
	assert_int_equal(json_size(&doc, 3), 0);
	assert_int_equal(json_next(&doc, 99), -1);
}

static void
test_json_iterate(void **state)
{
	static const enum json_type want[] = {
		JSON_NUMBER, JSON_OBJECT, JSON_STRING, JSON_ARRAY, JSON_NUMBER
	};
	struct json_doc	 doc;
	int		 i, e, n;

	test_json_ok(&doc, "[1,{\"a\":[2,3],\"b\":{\"c\":[]}},\"s\",[],4]");
	n = json_size(&doc, 0);
	assert_int_equal(n, 5);
	for (i = 0, e = 1; i < n; i++, e = json_next(&doc, e))
		assert_int_equal(json_type(&doc, e), want[i]);
	assert_int_equal(e, doc.jd_ntok);

	/* object members: key k, value k + 1, next key json_next(k) */
	test_json_ok(&doc, "{\"x\":[1,[2]],\"y\":\"v\",\"z\":{\"q\":0}}");
	e = 1;
	assert_true(json_str_eq(&doc, e, "x", 1));
	assert_int_equal(json_type(&doc, e + 1), JSON_ARRAY);
	e = json_next(&doc, e);
	assert_true(json_str_eq(&doc, e, "y", 1));
	assert_true(json_str_eq(&doc, e + 1, "v", 1));
	e = json_next(&doc, e);
	assert_true(json_str_eq(&doc, e, "z", 1));
	assert_int_equal(json_next(&doc, e), doc.jd_ntok);
}

static void
test_json_obj_get(void **state)
{
	struct json_doc	 doc;
	const char	*raw;
	size_t		 len;
	int		 t;

	test_json_ok(&doc, "{\"\\u0073ub\":\"x\",\"subx\":1,\"su\":2,"
	    "\"inner\":{\"sub\":3},\"\":4}");
	t = json_obj_get(&doc, 0, "sub");
	assert_int_not_equal(t, -1);
	assert_true(json_str_eq(&doc, t, "x", 1));
	assert_int_equal(json_obj_get(&doc, 0, "s"), -1);
	assert_int_equal(json_obj_get(&doc, 0, "subxy"), -1);
	assert_int_equal(json_obj_get(&doc, 0, "SUB"), -1);
	t = json_obj_get(&doc, 0, "su");
	raw = json_raw(&doc, t, &len);
	assert_int_equal(len, 1);
	assert_memory_equal(raw, "2", 1);
	t = json_obj_get(&doc, 0, "inner");
	assert_int_equal(json_type(&doc, t), JSON_OBJECT);
	raw = json_raw(&doc, t, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(raw, "{\"sub\":3}", 9);
	assert_int_not_equal(json_obj_get(&doc, t, "sub"), -1);
	assert_int_not_equal(json_obj_get(&doc, 0, ""), -1);
	/* not an object */
	assert_int_equal(json_obj_get(&doc, 1, "sub"), -1);
	/* a value that looks like a key is not found */
	assert_int_equal(json_obj_get(&doc, 0, "x"), -1);
	/* json_str_eq: bytes after unescaping, no prefix match */
	test_json_ok(&doc, "[\"a\\u0000b\",\"\\u00e9\",\"ab\"]");
	assert_true(json_str_eq(&doc, 1, "a\0b", 3));
	assert_false(json_str_eq(&doc, 1, "a", 1));
	assert_true(json_str_eq(&doc, 2, "\xc3\xa9", 2));
	assert_false(json_str_eq(&doc, 3, "abc", 3));
	assert_false(json_str_eq(&doc, 3, "a", 1));
	assert_false(json_str_eq(&doc, 0, "", 0));
}

static void
test_json_get_string(void **state)
{
	struct json_doc	 doc;
	const char	*err;
	char		 buf[16];
	size_t		 len;

	test_json_ok(&doc, "[\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\","
	    "\"x\\u0000y\",\"12345\",1]");
	assert_int_equal(json_get_string(&doc, 1, buf, sizeof(buf), &len,
	    &err), 0);
	assert_int_equal(len, 12);
	assert_string_equal(buf, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(json_get_string(&doc, 2, buf, sizeof(buf), &len,
	    &err), -1);
	assert_string_equal(err, "NUL in string");
	/* capacity counts the NUL */
	assert_int_equal(json_get_string(&doc, 3, buf, 6, &len, &err), 0);
	assert_string_equal(buf, "12345");
	assert_int_equal(json_get_string(&doc, 3, buf, 5, &len, &err), -1);
	assert_int_equal(json_get_string(&doc, 3, buf, 0, &len, &err), -1);
	assert_int_equal(json_get_string(&doc, 4, buf, sizeof(buf), &len,
	    &err), -1);
	assert_string_equal(err, "not a string");
	test_json_ok(&doc, "[\"\"]");
	assert_int_equal(json_get_string(&doc, 1, buf, 1, NULL, &err), 0);
	assert_string_equal(buf, "");
}

static void
test_json_get_int64(void **state)
{
	struct json_doc	 doc;
	const char	*err;
	int64_t		 v;

	test_json_ok(&doc, "[0,-0,42,-42,9223372036854775807,"
	    "-9223372036854775808,9223372036854775808,-9223372036854775809,"
	    "1.0,1e3,\"1\",true,99999999999999999999]");
	assert_int_equal(json_get_int64(&doc, 1, &v, &err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(json_get_int64(&doc, 2, &v, &err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(json_get_int64(&doc, 3, &v, &err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(json_get_int64(&doc, 4, &v, &err), 0);
	assert_int_equal(v, -42);
	assert_int_equal(json_get_int64(&doc, 5, &v, &err), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(json_get_int64(&doc, 6, &v, &err), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(json_get_int64(&doc, 7, &v, &err), -1);
	assert_string_equal(err, "integer out of range");
	assert_int_equal(json_get_int64(&doc, 8, &v, &err), -1);
	assert_int_equal(json_get_int64(&doc, 9, &v, &err), -1);
	assert_string_equal(err, "not an integer");
	assert_int_equal(json_get_int64(&doc, 10, &v, &err), -1);
	assert_int_equal(json_get_int64(&doc, 11, &v, &err), -1);
	assert_string_equal(err, "not a number");
	assert_int_equal(json_get_int64(&doc, 12, &v, &err), -1);
	assert_int_equal(json_get_int64(&doc, 13, &v, &err), -1);
}

static void
test_json_numericdate(void **state)
{
	struct json_doc	 doc;
	const char	*err;
	int64_t		 v;

	test_json_ok(&doc, "[1300819380,1300819380.75,1,9007199254740991,"
	    "9007199254740991.9,0,0.5,-1,9007199254740992,1e9,1.5e9,"
	    "\"1300819380\",null,-0.0]");
	assert_int_equal(json_get_numericdate(&doc, 1, &v, &err), 0);
	assert_int_equal(v, 1300819380);
	assert_int_equal(json_get_numericdate(&doc, 2, &v, &err), 0);
	assert_int_equal(v, 1300819380);
	assert_int_equal(json_get_numericdate(&doc, 3, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(json_get_numericdate(&doc, 4, &v, &err), 0);
	assert_true(v == 9007199254740991LL);
	assert_int_equal(json_get_numericdate(&doc, 5, &v, &err), 0);
	assert_true(v == 9007199254740991LL);
	assert_int_equal(json_get_numericdate(&doc, 6, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 7, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 8, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 9, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 10, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 11, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 12, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 13, &v, &err), -1);
	assert_int_equal(json_get_numericdate(&doc, 14, &v, &err), -1);
}

static void
test_json_get_bool(void **state)
{
	struct json_doc	 doc;
	const char	*err;
	int		 b = -1;

	test_json_ok(&doc, "[true,false,null,1,\"true\"]");
	assert_int_equal(json_get_bool(&doc, 1, &b, &err), 0);
	assert_int_equal(b, 1);
	assert_int_equal(json_get_bool(&doc, 2, &b, &err), 0);
	assert_int_equal(b, 0);
	assert_int_equal(json_get_bool(&doc, 3, &b, &err), -1);
	assert_int_equal(json_get_bool(&doc, 4, &b, &err), -1);
	assert_int_equal(json_get_bool(&doc, 5, &b, &err), -1);
}

static void
test_json_utf8_valid(void **state)
{
	assert_true(json_utf8_valid("", 0));
	assert_true(json_utf8_valid("abc\0def", 7));
	assert_true(json_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e",
	    9));
	assert_true(json_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_false(json_utf8_valid("\xc0\x80", 2));
	assert_false(json_utf8_valid("\xe0\x9f\xbf", 3));
	assert_false(json_utf8_valid("\xed\xbf\xbf", 3));
	assert_false(json_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(json_utf8_valid("\xf8\x88\x80\x80\x80", 5));
	assert_false(json_utf8_valid("\xe2\x82", 2));
	assert_false(json_utf8_valid("\xbf", 1));
	assert_false(json_utf8_valid("\xfe", 1));
	assert_false(json_utf8_valid("\xc3\xa9\xc3", 3));
}

/* json_put_string appends at *off; a refusal leaves *off alone. */
static void
test_json_put_string(void **state)
{
	char	 out[16] = "{\"a\":";
	size_t	 off = 5;

	(void)state;
	assert_int_equal(json_put_string(out, sizeof(out), &off, "x\"y", 3),
	    0);
	assert_string_equal(out, "{\"a\":\"x\\\"y\"");
	assert_int_equal(off, 11);
	/* "zzzz" needs 6 bytes + NUL: 5 left */
	assert_int_equal(json_put_string(out, sizeof(out), &off, "zzzz", 4),
	    -1);
	assert_int_equal(off, 11);
	assert_int_equal(json_put_string(out, sizeof(out), &off, "\xff", 1),
	    -1);
	assert_int_equal(off, 11);
	off = sizeof(out);
	assert_int_equal(json_put_string(out, sizeof(out), &off, "", 0), -1);
	off = 11;
	assert_int_equal(json_put_string(out, sizeof(out), &off, "", 0), 0);
	assert_int_equal(off, 13);
	assert_string_equal(out + 11, "\"\"");
}

static void
test_json_escape(void **state)
{
	static const char	 in[] = "a\"b\\c\x01\n\x1f\x7f \xc3\xa9/\t\r\b\f";
	static const char	 want[] =
	    "\"a\\\"b\\\\c\\u0001\\n\\u001f\x7f \xc3\xa9/\\t\\r\\b\\f\"";
	char			 out[64];
	size_t			 n;

	assert_int_equal(json_escaped_len(in, sizeof(in) - 1),
	    sizeof(want) - 1);
	assert_int_equal(json_escape(in, sizeof(in) - 1, out, sizeof(out),
	    &n), 0);
	assert_string_equal(out, want);
	assert_int_equal(n, sizeof(want) - 1);
	/* exactly enough room, then one byte short */
	assert_int_equal(json_escape(in, sizeof(in) - 1, out, sizeof(want),
	    NULL), 0);
	assert_int_equal(json_escape(in, sizeof(in) - 1, out,
	    sizeof(want) - 1, NULL), -1);
	/* NUL bytes and empty input */
	assert_int_equal(json_escape("a\0b", 3, out, sizeof(out), &n), 0);
	assert_string_equal(out, "\"a\\u0000b\"");
	assert_int_equal(json_escape("", 0, out, sizeof(out), &n), 0);
	assert_string_equal(out, "\"\"");
	assert_int_equal(json_escape("x", 1, out, 3, &n), -1);
	/* invalid UTF-8 is refused */
	assert_int_equal(json_escape("\xff", 1, out, sizeof(out), &n), -1);
	assert_int_equal(json_escape("a\xc0\xafz", 4, out, sizeof(out), &n),
	    -1);
}

/* Every escaped byte string parses back to itself. */
static void
test_json_escape_roundtrip(void **state)
{
	char		 in[40], lit[300], doc_text[310], back[64];
	struct json_doc	 doc;
	const char	*err;
	size_t		 i, n, len;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(i + 1);		/* controls, no NUL */
	memcpy(in + 30, "\"\\\xc3\xa9\xe2\x82\xac/", 8);
	assert_int_equal(json_escape(in, 38, lit, sizeof(lit), &n), 0);
	(void)snprintf(doc_text, sizeof(doc_text), "[%s]", lit);
	test_json_ok(&doc, doc_text);
	assert_int_equal(json_get_string(&doc, 1, back, sizeof(back), &len,
	    &err), 0);
	assert_int_equal(len, 38);
	assert_memory_equal(back, in, 38);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_json_valid),
		cmocka_unit_test(test_json_malformed),
		cmocka_unit_test(test_json_nul),
		cmocka_unit_test(test_json_duplicate_errstr),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_json_tokens),
		cmocka_unit_test(test_json_types),
		cmocka_unit_test(test_json_iterate),
		cmocka_unit_test(test_json_obj_get),
		cmocka_unit_test(test_json_get_string),
		cmocka_unit_test(test_json_get_int64),
		cmocka_unit_test(test_json_numericdate),
		cmocka_unit_test(test_json_get_bool),
		cmocka_unit_test(test_json_utf8_valid),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_put_string),
		cmocka_unit_test(test_json_escape_roundtrip),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
