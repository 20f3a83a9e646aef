/*
 * test_b64.c: unit tests for b64.c: RFC 4648 section 10 vectors in both
 * alphabets, padded and not, strictness (canonical last character,
 * lengths, padding, mixed alphabets, whitespace), capacities and round
 * trips.  Links b64.c only.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"

struct test_b64_vec {
	const char	*raw;
	const char	*std;		/* padded, standard */
	const char	*url;		/* unpadded, URL-safe */
};

/* RFC 4648 section 10. */
static const struct test_b64_vec test_b64_rfc[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};
#define TEST_B64_NRFC	(sizeof(test_b64_rfc) / sizeof(test_b64_rfc[0]))

/* Decode s with b64_decode (url == 0) or b64_url_decode; 0 or -1. */
static int
test_b64_dec(int url, const char *s, uint8_t *out, size_t cap, size_t *n)
{
	if (url)
		return (b64_url_decode(s, strlen(s), out, cap, n));
	return (b64_decode(s, strlen(s), out, cap, n));
}

static void
test_b64_expect(int url, const char *s, const void *want, size_t wantlen)
{
	uint8_t	 out[256];
	size_t	 n = 999;

	assert_int_equal(test_b64_dec(url, s, out, sizeof(out), &n), 0);
	assert_int_equal(n, wantlen);
	assert_memory_equal(out, want, wantlen);
	if (!url)	/* b64_valid agrees with b64_decode */
		assert_int_equal(b64_valid(s, strlen(s)), 0);
}

static void
test_b64_reject(int url, const char *s)
{
	uint8_t	 out[256];
	size_t	 n;

	if (test_b64_dec(url, s, out, sizeof(out), &n) != -1)
		fail_msg("accepted \"%s\" (url %d)", s, url);
	if (!url && b64_valid(s, strlen(s)) != -1)
		fail_msg("b64_valid accepted \"%s\"", s);
}

static void
test_b64_rfc_encode(void **state)
{
	char	 out[64];
	size_t	 i, n;

	for (i = 0; i < TEST_B64_NRFC; i++) {
		const struct test_b64_vec *v = &test_b64_rfc[i];

		assert_int_equal(b64_encode(v->raw, strlen(v->raw), out,
		    sizeof(out), &n), 0);
		assert_string_equal(out, v->std);
		assert_int_equal(n, strlen(v->std));
		assert_int_equal(b64_encoded_len(strlen(v->raw)), n);
		assert_int_equal(b64_url_encode(v->raw, strlen(v->raw), out,
		    sizeof(out), &n), 0);
		assert_string_equal(out, v->url);
		assert_int_equal(b64_url_encoded_len(strlen(v->raw)), n);
	}
}

static void
test_b64_rfc_decode(void **state)
{
	size_t	 i;

	for (i = 0; i < TEST_B64_NRFC; i++) {
		const struct test_b64_vec *v = &test_b64_rfc[i];

		/* b64_decode: padded and unpadded, either alphabet */
		test_b64_expect(0, v->std, v->raw, strlen(v->raw));
		test_b64_expect(0, v->url, v->raw, strlen(v->raw));
		/* b64_url_decode: the unpadded form only */
		test_b64_expect(1, v->url, v->raw, strlen(v->raw));
		if (strchr(v->std, '=') != NULL)
			test_b64_reject(1, v->std);
	}
}

static void
test_b64_alphabets(void **state)
{
	const uint8_t	 bin[] = { 0xfb, 0xff, 0xbf, 0xfe };

	/* 0xfbffbf encodes as "+/+/" or "-_-_" */
	test_b64_expect(0, "+/+/", bin, 3);
	test_b64_expect(0, "-_-_", bin, 3);
	test_b64_expect(1, "-_-_", bin, 3);
	test_b64_expect(0, "+/+//g==", bin, 4);
	test_b64_expect(0, "-_-__g==", bin, 4);	/* URL-safe, padded */
	test_b64_expect(0, "-_-__g", bin, 4);
	test_b64_reject(1, "+/+/");		/* standard in base64url */
	test_b64_reject(1, "-_-__g==");		/* padding in base64url */
	/* mixing the alphabets */
	test_b64_reject(0, "+_+_");
	test_b64_reject(0, "-/-/");
	test_b64_reject(0, "+/-_");
	test_b64_reject(1, "+_-_");
}

static void
test_b64_strict(void **state)
{
	static const char *const bad[] = {
		"Z",		/* len % 4 == 1 */
		"Zm9vY",
		"Zh==",		/* non-canonical: low bits of 'h' set */
		"Zh",
		"Zm9=",		/* non-canonical: low bits of '9' set */
		"Zm9",
		"Zg=",		/* short padding */
		"Zg===",	/* too much padding */
		"Zm9v=",
		"Zm9v====",
		"=",
		"==",
		"====",
		"Zg==Zg==",	/* padding in the middle */
		"Z=g=",
		"Zm 9v",	/* whitespace */
		"Zm9v\n",
		" Zm9v",
		"Zm9v\r\n",
		"Zm\t9v",
		"Zm9v.",	/* other bytes */
		"Zm9v*",
		"Zm9\x80",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_b64_reject(0, bad[i]);
		test_b64_reject(1, bad[i]);
	}
}

static void
test_b64_embedded_nul(void **state)
{
	uint8_t	 out[16];
	size_t	 n;

	assert_int_equal(b64_decode("Zm9v\0Zm9v", 9, out, sizeof(out), &n),
	    -1);
	assert_int_equal(b64_url_decode("Zm\0v", 4, out, sizeof(out), &n),
	    -1);
}

static void
test_b64_capacity(void **state)
{
	uint8_t	 out[8];
	char	 txt[16];
	size_t	 n;

	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(b64_url_decode("Zm9vYg", 6, out, 4, &n), 0);
	assert_int_equal(b64_url_decode("Zm9vYg", 6, out, 3, &n), -1);
	assert_true(b64_decoded_max(8) >= 6);
	assert_true(b64_decoded_max(6) >= 4);
	/* encoders need room for the NUL */
	assert_int_equal(b64_encode("foo", 3, txt, 5, &n), 0);
	assert_string_equal(txt, "Zm9v");
	assert_int_equal(b64_encode("foo", 3, txt, 4, &n), -1);
	assert_int_equal(b64_url_encode("fo", 2, txt, 4, &n), 0);
	assert_string_equal(txt, "Zm8");
	assert_int_equal(b64_url_encode("fo", 2, txt, 3, &n), -1);
	assert_int_equal(b64_encode("", 0, txt, 1, NULL), 0);
	assert_string_equal(txt, "");
}

static void
test_b64_roundtrip(void **state)
{
	uint8_t	 in[300], out[300];
	char	 txt[512];
	size_t	 len, n, m;

	for (len = 0; len < sizeof(in); len++) {
		for (n = 0; n < len; n++)
			in[n] = (uint8_t)(n * 131 + len * 7);
		assert_int_equal(b64_encode(in, len, txt, sizeof(txt), &n),
		    0);
		assert_int_equal(b64_decode(txt, n, out, sizeof(out), &m), 0);
		assert_int_equal(m, len);
		assert_memory_equal(in, out, len);
		assert_int_equal(b64_url_encode(in, len, txt, sizeof(txt),
		    &n), 0);
		assert_null(strchr(txt, '='));
		assert_int_equal(b64_url_decode(txt, n, out, sizeof(out),
		    &m), 0);
		assert_int_equal(m, len);
		assert_memory_equal(in, out, len);
		assert_int_equal(b64_decode(txt, n, out, sizeof(out), &m), 0);
		assert_int_equal(m, len);
	}
}

/* Every 2- and 3-character tail: exactly the canonical ones decode. */
static void
test_b64_canonical_tails(void **state)
{
	static const char chars[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t	 out[4];
	char	 s[4];
	size_t	 i, n;
	int	 ok;

	for (i = 0; i < 64; i++) {
		s[0] = 'A';
		s[1] = chars[i];
		ok = b64_url_decode(s, 2, out, sizeof(out), &n) == 0;
		assert_int_equal(ok, (i & 0x0f) == 0);
		s[1] = 'A';
		s[2] = chars[i];
		ok = b64_url_decode(s, 3, out, sizeof(out), &n) == 0;
		assert_int_equal(ok, (i & 0x03) == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_b64_rfc_encode),
		cmocka_unit_test(test_b64_rfc_decode),
		cmocka_unit_test(test_b64_alphabets),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_b64_embedded_nul),
		cmocka_unit_test(test_b64_capacity),
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_canonical_tails),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
