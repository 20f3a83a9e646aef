/*
 * test_envelope.c: unit tests for envelope.c: good envelopes and their
 * normalised form (member order, defaults, unknown members dropped,
 * escapes undone), every field rule, and sender spoofing.  Links
 * envelope.c, json.c, b64.c and ids.c (for id_valid).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope.h"
#include "json.h"

#define TEST_NTOK	256

/* Parse text and validate its root (or element idx of an array root). */
static int
test_env(const char *text, const char *caller, struct env_msg *m)
{
	static jsmntok_t	 tok[TEST_NTOK];
	struct json_doc		 doc;
	const char		*err;

	assert_true(json_parse(&doc, text, strlen(text), tok, TEST_NTOK, 0,
	    &err) > 0);
	return (env_parse(&doc, 0, caller, m, &err));
}

/* text must be accepted and normalise to want. */
static void
test_good(const char *text, const char *want)
{
	struct env_msg	 m;

	assert_int_equal(test_env(text, "alice", &m), ENV_OK);
	assert_string_equal(m.em_data, want);
	assert_int_equal(m.em_len, strlen(want));
	env_msg_clear(&m);
	assert_null(m.em_data);
}

/* text must be refused with result want. */
static void
test_bad(const char *text, int want)
{
	struct env_msg	 m;

	assert_int_equal(test_env(text, "alice", &m), want);
	assert_null(m.em_data);
}

/* text must be accepted (whatever its normal form). */
static void
test_ok(const char *text)
{
	struct env_msg	 m;

	assert_int_equal(test_env(text, "alice", &m), ENV_OK);
	assert_non_null(m.em_data);
	env_msg_clear(&m);
}

static void
test_env_minimal(void **state)
{
	struct env_msg	 m;

	test_good("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\"}",
	    "{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"isEphemeral\":false,\"priority\":0}");
	assert_int_equal(test_env("{\"encryptedData\":\"aGk\",\"priority\":7,"
	    "\"isEphemeral\":true,\"recipientId\":\"urn:sm:user:bob\"}",
	    "alice", &m), ENV_OK);
	assert_string_equal(m.em_recipient, "urn:sm:user:bob");
	assert_int_equal(m.em_priority, 7);
	assert_int_equal(m.em_ephemeral, 1);
	env_msg_clear(&m);
}

static void
test_env_normalise(void **state)
{
	/* fixed order, unknown members dropped, escapes undone, nulls */
	test_good("{ \"zz\": [1, {\"a\": null}], \"signature\": \"c2ln\", "
	    "\"priority\": 9, \"encryptedSymmetricKey\": \"a2V5\", "
	    "\"recipientId\": \"b\\u006fb\", \"encryptedData\": "
	    "\"AQID\\/w==\", \"senderId\": \"alice\", \"extra\": \"x\" }",
	    "{\"recipientId\":\"bob\",\"encryptedData\":\"AQID/w==\","
	    "\"encryptedSymmetricKey\":\"a2V5\",\"signature\":\"c2ln\","
	    "\"isEphemeral\":false,\"priority\":9,\"senderId\":\"alice\"}");
	test_good("{\"recipientId\":\"bob\",\"encryptedData\":\"-_8\","
	    "\"signature\":null,\"isEphemeral\":null}",
	    "{\"recipientId\":\"bob\",\"encryptedData\":\"-_8\","
	    "\"isEphemeral\":false,\"priority\":0}");
	/* a recipient with a quote is escaped again on output */
	test_good("{\"recipientId\":\"a\\\"b\",\"encryptedData\":\"AA==\"}",
	    "{\"recipientId\":\"a\\\"b\",\"encryptedData\":\"AA==\","
	    "\"isEphemeral\":false,\"priority\":0}");
}

static void
test_env_required(void **state)
{
	test_bad("{\"encryptedData\":\"aGk=\"}", ENV_INVALID);
	test_bad("{\"recipientId\":\"bob\"}", ENV_INVALID);
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":null}",
	    ENV_INVALID);
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":\"\"}",
	    ENV_INVALID);
	test_bad("[]", ENV_INVALID);
	test_bad("[{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\"}]",
	    ENV_INVALID);
}

static void
test_env_ids(void **state)
{
	char	 text[512], id[200];

	test_bad("{\"recipientId\":\"\",\"encryptedData\":\"aGk=\"}",
	    ENV_INVALID);
	test_bad("{\"recipientId\":\"b b\",\"encryptedData\":\"aGk=\"}",
	    ENV_INVALID);
	test_bad("{\"recipientId\":\"b\\u0000\",\"encryptedData\":\"aGk=\"}",
	    ENV_INVALID);
	test_bad("{\"recipientId\":\"b\\u00e9\",\"encryptedData\":\"aGk=\"}",
	    ENV_INVALID);
	test_bad("{\"recipientId\":7,\"encryptedData\":\"aGk=\"}",
	    ENV_INVALID);
	memset(id, 'x', 129);
	id[129] = '\0';
	(void)snprintf(text, sizeof(text), "{\"recipientId\":\"%s\","
	    "\"encryptedData\":\"aGk=\"}", id);
	test_bad(text, ENV_INVALID);
	id[128] = '\0';
	(void)snprintf(text, sizeof(text), "{\"recipientId\":\"%s\","
	    "\"encryptedData\":\"aGk=\"}", id);
	test_ok(text);		/* 128 bytes fit */
}

static void
test_env_base64(void **state)
{
	static const char *const bad[] = {
		"a", "a===", "aGk=x", "aG k=", "aGk==", "a-b+", "aGl",
		"aGj=", "====", "aGk\\n", "\\u00e9"
	};
	static const char *const good[] = {
		"aGk=", "aGk", "aGVsbG8=", "-_-_", "+/+/", "AA", "AAA="
	};
	char	 text[256];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "{\"recipientId\":\"bob\","
		    "\"encryptedData\":\"%s\"}", bad[i]);
		test_bad(text, ENV_INVALID);
		(void)snprintf(text, sizeof(text), "{\"recipientId\":\"bob\","
		    "\"encryptedData\":\"aGk=\",\"signature\":\"%s\"}",
		    bad[i]);
		test_bad(text, ENV_INVALID);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		(void)snprintf(text, sizeof(text), "{\"recipientId\":\"bob\","
		    "\"encryptedData\":\"%s\",\"encryptedSymmetricKey\":"
		    "\"%s\"}", good[i], good[i]);
		test_ok(text);
	}
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":[\"aGk=\"]}",
	    ENV_INVALID);
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"signature\":5}", ENV_INVALID);
}

static void
test_env_flags(void **state)
{
	static const char *const bad[] = {
		"\"priority\":10", "\"priority\":-1", "\"priority\":1.5",
		"\"priority\":\"1\"", "\"priority\":1e0", "\"priority\":true",
		"\"isEphemeral\":0", "\"isEphemeral\":\"true\"",
		"\"isEphemeral\":[]"
	};
	char	 text[256];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "{\"recipientId\":\"bob\","
		    "\"encryptedData\":\"aGk=\",%s}", bad[i]);
		test_bad(text, ENV_INVALID);
	}
	test_good("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"priority\":0,\"isEphemeral\":false}",
	    "{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"isEphemeral\":false,\"priority\":0}");
}

static void
test_env_sender(void **state)
{
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"senderId\":\"mallory\"}", ENV_SENDER_MISMATCH);
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"senderId\":\"alic\"}", ENV_SENDER_MISMATCH);
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"senderId\":\"alicee\"}", ENV_SENDER_MISMATCH);
	test_bad("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"senderId\":5}", ENV_INVALID);
	test_ok("{\"recipientId\":\"bob\",\"encryptedData\":\"aGk=\","
	    "\"senderId\":\"al\\u0069ce\"}");
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_env_minimal),
		cmocka_unit_test(test_env_normalise),
		cmocka_unit_test(test_env_required),
		cmocka_unit_test(test_env_ids),
		cmocka_unit_test(test_env_base64),
		cmocka_unit_test(test_env_flags),
		cmocka_unit_test(test_env_sender),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
