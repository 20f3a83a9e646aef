/*
 * test_pushfmt.c: unit tests for pushfmt.c: every request body parsed
 * back with json_parse() and checked member by member (names, values, and
 * that no other member exists) for both gateway formats and priorities;
 * JSON escaping of the strings; capacity and UTF-8 failures; the reading
 * of gateway answers (rejected, not rejected, empty, malformed); the
 * gorush platform names.  Links pushfmt.c and json.c.
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
#include "pushfmt.h"

#define TEST_NTOK	64
#define TEST_BUF	1024

static jsmntok_t	 test_tok[TEST_NTOK];

/* Build the body of p in fmt into buf and parse it into doc. */
static void
test_body(enum pf_format fmt, const struct pf_push *p, char *buf,
    struct json_doc *doc)
{
	const char	*err = NULL;
	size_t		 len = 0;

	assert_int_equal(pf_request(fmt, p, buf, TEST_BUF, &len), 0);
	assert_int_equal(len, strlen(buf));
	if (json_parse(doc, buf, len, test_tok, TEST_NTOK, 0, &err) < 1)
		fail_msg("body does not parse (%s): %s", err, buf);
}

/* Object obj has exactly the n members names (json_parse forbids twins). */
static void
test_keys(const struct json_doc *doc, int obj, const char *const *names,
    int n)
{
	int	 i, k, found, j;

	assert_int_equal(json_type(doc, obj), JSON_OBJECT);
	assert_int_equal(json_size(doc, obj), n);
	for (i = 0, k = obj + 1; i < json_size(doc, obj);
	    i++, k = json_next(doc, k)) {
		for (found = 0, j = 0; j < n; j++)
			if (json_str_eq(doc, k, names[j], strlen(names[j])))
				found = 1;
		if (!found)
			fail_msg("unexpected member at token %d", k);
	}
	for (j = 0; j < n; j++)
		assert_int_not_equal(json_obj_get(doc, obj, names[j]), -1);
}

/* Member key of obj is the string want. */
static void
test_str(const struct json_doc *doc, int obj, const char *key,
    const char *want)
{
	char		 got[TEST_BUF];
	const char	*err;
	int		 t = json_obj_get(doc, obj, key);

	assert_int_equal(json_type(doc, t), JSON_STRING);
	assert_int_equal(json_get_string(doc, t, got, sizeof(got), NULL,
	    &err), 0);
	assert_string_equal(got, want);
}

/* Member key of obj is the integer want. */
static void
test_int(const struct json_doc *doc, int obj, const char *key, int64_t want)
{
	const char	*err;
	int64_t		 got;
	int		 t = json_obj_get(doc, obj, key);

	assert_int_equal(json_type(doc, t), JSON_NUMBER);
	assert_int_equal(json_get_int64(doc, t, &got, &err), 0);
	assert_true(got == want);
}

/* Member key of obj is an array of exactly one element; its index. */
static int
test_one(const struct json_doc *doc, int obj, const char *key)
{
	int	 a = json_obj_get(doc, obj, key);

	assert_int_equal(json_type(doc, a), JSON_ARRAY);
	assert_int_equal(json_size(doc, a), 1);
	return (a + 1);
}

/* The Matrix body of p, checked against p. */
static void
test_matrix_check(const struct pf_push *p)
{
	static const char *const root[] = { "notification" };
	static const char *const notif[] = { "prio", "counts", "devices" };
	static const char *const counts[] = { "unread" };
	static const char *const dev[] = { "app_id", "pushkey", "pushkey_ts" };
	struct json_doc	 doc;
	char		 buf[TEST_BUF];
	int		 n, d;

	test_body(PF_MATRIX, p, buf, &doc);
	test_keys(&doc, 0, root, 1);
	n = json_obj_get(&doc, 0, "notification");
	test_keys(&doc, n, notif, 3);
	test_str(&doc, n, "prio", p->pp_high ? "high" : "low");
	test_keys(&doc, json_obj_get(&doc, n, "counts"), counts, 1);
	test_int(&doc, json_obj_get(&doc, n, "counts"), "unread",
	    p->pp_unread);
	d = test_one(&doc, n, "devices");
	test_keys(&doc, d, dev, 3);
	test_str(&doc, d, "app_id", p->pp_app_id);
	test_str(&doc, d, "pushkey", p->pp_token);
	test_int(&doc, d, "pushkey_ts", 0);
}

/* The gorush body of p, checked against p and the platform number. */
static void
test_gorush_check(const struct pf_push *p, int platform)
{
	static const char *const root[] = { "notifications" };
	static const char *const notif[] = { "tokens", "platform", "badge",
	    "priority", "content_available", "topic" };
	struct json_doc	 doc;
	char		 buf[TEST_BUF], got[TEST_BUF];
	const char	*err;
	int		 n, t, ios = platform == PF_GORUSH_IOS;

	test_body(PF_GORUSH, p, buf, &doc);
	test_keys(&doc, 0, root, 1);
	n = test_one(&doc, 0, "notifications");
	test_keys(&doc, n, notif, ios ? 6 : 5);
	t = test_one(&doc, n, "tokens");
	assert_int_equal(json_get_string(&doc, t, got, sizeof(got), NULL,
	    &err), 0);
	assert_string_equal(got, p->pp_token);
	test_int(&doc, n, "platform", platform);
	test_int(&doc, n, "badge", p->pp_unread);
	test_str(&doc, n, "priority", p->pp_high ? "high" : "normal");
	assert_int_equal(json_type(&doc, json_obj_get(&doc, n,
	    "content_available")), JSON_TRUE);
	if (ios)
		test_str(&doc, n, "topic", p->pp_app_id);
	else
		assert_int_equal(json_obj_get(&doc, n, "topic"), -1);
}

static void
test_matrix_fields(void **state)
{
	struct pf_push	 p = { "org.example.app", "PUSHKEY-1", "apns", 3, 1 };

	test_matrix_check(&p);
	p.pp_high = 0;
	p.pp_unread = 0;
	test_matrix_check(&p);
	p.pp_unread = UINT32_MAX;
	p.pp_platform = NULL;		/* not used by this format */
	test_matrix_check(&p);
	p.pp_platform = "web";
	test_matrix_check(&p);
}

static void
test_gorush_fields(void **state)
{
	struct pf_push	 p = { "org.example.app", "devtok", "ios", 7, 1 };

	test_gorush_check(&p, PF_GORUSH_IOS);
	p.pp_high = 0;
	test_gorush_check(&p, PF_GORUSH_IOS);
	p.pp_platform = "FCM";
	test_gorush_check(&p, PF_GORUSH_ANDROID);
	p.pp_high = 1;
	p.pp_unread = UINT32_MAX;
	test_gorush_check(&p, PF_GORUSH_ANDROID);
	p.pp_platform = "hms";
	p.pp_unread = 0;
	test_gorush_check(&p, PF_GORUSH_HUAWEI);
}

/* The exact bytes, so that a change of layout is a deliberate one. */
static void
test_exact(void **state)
{
	struct pf_push	 p = { "im.example.ios", "a1b2", "apns", 2, 1 };
	char		 buf[TEST_BUF];
	size_t		 len;

	assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf), &len),
	    0);
	assert_string_equal(buf, "{\"notification\":{\"prio\":\"high\","
	    "\"counts\":{\"unread\":2},\"devices\":[{\"app_id\":"
	    "\"im.example.ios\",\"pushkey\":\"a1b2\",\"pushkey_ts\":0}]}}");
	assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf), &len),
	    0);
	assert_string_equal(buf, "{\"notifications\":[{\"tokens\":[\"a1b2\"],"
	    "\"platform\":1,\"badge\":2,\"priority\":\"high\","
	    "\"content_available\":true,\"topic\":\"im.example.ios\"}]}");
	assert_int_equal(len, strlen(buf));
	assert_string_equal(PF_CONTENT_TYPE, "application/json");
}

static void
test_escaping(void **state)
{
	struct pf_push	 p = {
		"app\"id\\x\n\x01\x1f/\xc3\xa9",
		"tok\"\\\t\x7f\r\x02\xe2\x82\xac",
		"ios", 1, 0
	};
	char		 buf[TEST_BUF];
	size_t		 len;

	test_matrix_check(&p);
	test_gorush_check(&p, PF_GORUSH_IOS);
	assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf), &len),
	    0);
	assert_non_null(strstr(buf, "\"app\\\"id\\\\x\\n\\u0001\\u001f/"));
	assert_non_null(strstr(buf, "\"tok\\\"\\\\\\t\x7f\\r\\u0002"));
	assert_null(memchr(buf, '\n', len));
}

/* Every capacity below the body's length + 1 fails, and writes in cap. */
static void
test_small_one(enum pf_format fmt, const struct pf_push *p)
{
	char	 full[TEST_BUF], buf[TEST_BUF];
	size_t	 need, cap, len, i;

	assert_int_equal(pf_request(fmt, p, full, sizeof(full), &need), 0);
	for (cap = 0; cap <= need; cap++) {
		memset(buf, 'X', sizeof(buf));
		len = 12345;
		assert_int_equal(pf_request(fmt, p, buf, cap, &len), -1);
		assert_int_equal(len, 12345);
		for (i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'X');
	}
	assert_int_equal(pf_request(fmt, p, buf, need + 1, &len), 0);
	assert_int_equal(len, need);
	assert_string_equal(buf, full);
}

static void
test_too_small(void **state)
{
	struct pf_push	 p = { "org.example.app", "tok\"en", "android", 9,
	    1 };

	test_small_one(PF_MATRIX, &p);
	test_small_one(PF_GORUSH, &p);
	p.pp_platform = "ios";
	test_small_one(PF_GORUSH, &p);
}

static void
test_bad_input(void **state)
{
	static const char *const bad[] = {
		"\xc3\x28",		/* truncated sequence */
		"a\xed\xa0\x80",	/* encoded surrogate */
		"\xc0\xaf",		/* overlong */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\xff",
	};
	struct pf_push	 p;
	char		 buf[TEST_BUF];
	size_t		 i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (struct pf_push){ "app", bad[i], "ios", 1, 1 };
		assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf),
		    &len), -1);
		assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf),
		    &len), -1);
		p = (struct pf_push){ bad[i], "tok", "ios", 1, 1 };
		assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf),
		    &len), -1);
		assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf),
		    &len), -1);
	}
	p = (struct pf_push){ "app", "", "ios", 1, 1 };
	assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf), &len),
	    -1);
	p = (struct pf_push){ "", "tok", "ios", 1, 1 };
	assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf), &len),
	    -1);
	p = (struct pf_push){ NULL, "tok", "ios", 1, 1 };
	assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf), &len),
	    -1);
	p = (struct pf_push){ "app", NULL, "ios", 1, 1 };
	assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf), &len),
	    -1);
	p = (struct pf_push){ "app", "tok", "web", 1, 1 };
	assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf), &len),
	    -1);
	p.pp_platform = NULL;
	assert_int_equal(pf_request(PF_GORUSH, &p, buf, sizeof(buf), &len),
	    -1);
	assert_int_equal(pf_request(PF_MATRIX, &p, buf, sizeof(buf), &len),
	    0);
}

/* pf_rejected on a NUL-terminated body. */
static int
test_rej(enum pf_format fmt, const char *body, const char *token)
{
	return (pf_rejected(fmt, body, strlen(body), token));
}

static void
test_matrix_rejected(void **state)
{
	static const char	 trail[] = "{\"rejected\":[\"abc\"]}garbage";

	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"abc\"]}",
	    "abc"), 1);
	assert_int_equal(test_rej(PF_MATRIX,
	    "{\"rejected\":[\"x\",\"abc\",\"y\"]}", "abc"), 1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"a\\u0062c\"]}",
	    "abc"), 1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"abcd\"]}",
	    "abc"), 0);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"abc\"]}",
	    "ab"), 0);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"abc\"]}",
	    "abcd"), 0);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[]}", "abc"), 0);
	assert_int_equal(test_rej(PF_MATRIX,
	    " {\"other\":1, \"rejected\":[ ]} ", "abc"), 0);
	assert_int_equal(pf_rejected(PF_MATRIX, "", 0, "abc"), 0);
	assert_int_equal(pf_rejected(PF_MATRIX, trail, 20, "abc"), 1);
	assert_int_equal(pf_rejected(PF_MATRIX, trail, sizeof(trail) - 1,
	    "abc"), -1);
	assert_int_equal(test_rej(PF_MATRIX, "not json", "abc"), -1);
	assert_int_equal(test_rej(PF_MATRIX, "{}", "abc"), -1);
	assert_int_equal(test_rej(PF_MATRIX, "[\"abc\"]", "abc"), -1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":\"abc\"}", "abc"),
	    -1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":null}", "abc"),
	    -1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"abc\",1]}",
	    "abc"), -1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"rejected\":[\"abc\"]",
	    "abc"), -1);
	assert_int_equal(test_rej(PF_MATRIX, "{\"logs\":[]}", "abc"), -1);
}

static void
test_gorush_rejected(void **state)
{
	static const char	 failed[] = "{\"counts\":1,\"logs\":[{\"type\":"
	    "\"failed-push\",\"platform\":\"ios\",\"token\":\"abc\","
	    "\"message\":\"\",\"error\":\"BadDeviceToken\"}],\"success\":"
	    "\"ok\"}";
	static const char	 two[] = "{\"logs\":[{\"type\":"
	    "\"succeeded-push\","
	    "\"token\":\"abc\"},{\"type\":\"failed-push\",\"token\":\"xyz\"},"
	    "{\"type\":\"failed-push\",\"token\":\"ab\\u0063\"}]}";

	assert_int_equal(test_rej(PF_GORUSH, failed, "abc"), 1);
	assert_int_equal(test_rej(PF_GORUSH, failed, "ab"), 0);
	assert_int_equal(test_rej(PF_GORUSH, failed, "abcd"), 0);
	assert_int_equal(test_rej(PF_GORUSH, two, "abc"), 1);
	assert_int_equal(test_rej(PF_GORUSH, two, "xyz"), 1);
	assert_int_equal(test_rej(PF_GORUSH, two, "xy"), 0);
	assert_int_equal(test_rej(PF_GORUSH, "{\"logs\":[{\"type\":"
	    "\"succeeded-push\",\"token\":\"abc\"}]}", "abc"), 0);
	assert_int_equal(test_rej(PF_GORUSH, "{\"logs\":[{\"type\":"
	    "\"failed-push\",\"token\":\"abcd\"}]}", "abc"), 0);
	assert_int_equal(test_rej(PF_GORUSH, "{\"logs\":[{\"type\":"
	    "\"failed-push\"}]}", "abc"), 0);
	assert_int_equal(test_rej(PF_GORUSH,
	    "{\"counts\":1,\"logs\":[],\"success\":\"ok\"}", "abc"), 0);
	assert_int_equal(test_rej(PF_GORUSH, "{\"logs\":null}", "abc"), 0);
	assert_int_equal(pf_rejected(PF_GORUSH, "", 0, "abc"), 0);
	assert_int_equal(test_rej(PF_GORUSH, "<html>502</html>", "abc"), -1);
	assert_int_equal(test_rej(PF_GORUSH, "{\"success\":\"ok\"}", "abc"),
	    -1);
	assert_int_equal(test_rej(PF_GORUSH, "{\"logs\":{}}", "abc"), -1);
	assert_int_equal(test_rej(PF_GORUSH, "{\"logs\":[\"abc\"]}", "abc"),
	    -1);
	assert_int_equal(test_rej(PF_GORUSH, "{\"rejected\":[\"abc\"]}",
	    "abc"), -1);
	assert_int_equal(test_rej(PF_GORUSH, "[]", "abc"), -1);
}

/* {"rejected":["t0",...]} with n strings into body. */
static void
test_many(char *body, size_t cap, int n)
{
	size_t	 off;
	int	 i;

	off = (size_t)snprintf(body, cap, "{\"rejected\":[");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(body + off, cap - off, "%s\"t%d\"",
		    i ? "," : "", i);
	(void)snprintf(body + off, cap - off, "]}");
}

/* An answer of PF_RESPONSE_TOKENS tokens is read; one more is not. */
static void
test_rejected_limits(void **state)
{
	char	 body[8 * PF_RESPONSE_TOKENS + 64];

	/* the object, the key, the array: 3 tokens, then the strings */
	test_many(body, sizeof(body), PF_RESPONSE_TOKENS - 3);
	assert_int_equal(test_rej(PF_MATRIX, body, "t1"), 1);
	test_many(body, sizeof(body), PF_RESPONSE_TOKENS - 2);
	assert_int_equal(test_rej(PF_MATRIX, body, "t1"), -1);
	assert_int_equal(test_rej(PF_MATRIX,
	    "{\"rejected\":[[[[[[[[[\"abc\"]]]]]]]]]}", "abc"), -1);
}

static void
test_platforms(void **state)
{
	static const struct {
		const char	*name;
		int		 num;
	} map[] = {
		{ "apns", PF_GORUSH_IOS },
		{ "APNs", PF_GORUSH_IOS },
		{ "ios", PF_GORUSH_IOS },
		{ "iOS", PF_GORUSH_IOS },
		{ "fcm", PF_GORUSH_ANDROID },
		{ "GCM", PF_GORUSH_ANDROID },
		{ "Android", PF_GORUSH_ANDROID },
		{ "hms", PF_GORUSH_HUAWEI },
		{ "HuaWei", PF_GORUSH_HUAWEI },
		{ "", 0 },
		{ "web", 0 },
		{ "webpush", 0 },
		{ "io", 0 },
		{ "iosx", 0 },
		{ "apns ", 0 },
		{ "andro", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		assert_int_equal(pf_gorush_platform(map[i].name), map[i].num);
		assert_int_equal(pf_platform_ok(PF_GORUSH, map[i].name),
		    map[i].num != 0);
		assert_int_equal(pf_platform_ok(PF_MATRIX, map[i].name), 1);
	}
	assert_int_equal(pf_gorush_platform(NULL), 0);
	assert_int_equal(pf_platform_ok(PF_GORUSH, NULL), 0);
	assert_int_equal(pf_platform_ok(PF_MATRIX, NULL), 1);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_matrix_fields),
		cmocka_unit_test(test_gorush_fields),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_matrix_rejected),
		cmocka_unit_test(test_gorush_rejected),
		cmocka_unit_test(test_rejected_limits),
		cmocka_unit_test(test_platforms),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
