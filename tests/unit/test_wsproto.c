/*
 * test_wsproto.c: unit tests of wsproto.c (links wsproto.c, http.c,
 * json.c and b64.c, and OpenSSL for SHA-1).  Every request goes through
 * http_parse_head() first, as in the WS worker, so the handshake rules are
 * tested on what the parser really hands over: trimmed values, repeated
 * fields kept apart, the query split from the path.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "wsproto.h"

/* RFC 6455 section 1.3 */
#define T_KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define T_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define T_JWT		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln-_w"
#define T_JWT2		"aGRy.cGF5bG9hZA.c2ln"

#define T_GET		"GET /ws HTTP/1.1"
#define T_UPGRADE	"Upgrade: websocket\r\n"
#define T_CONN		"Connection: Upgrade\r\n"
#define T_VERSION	"Sec-WebSocket-Version: 13\r\n"
#define T_KEYLINE	"Sec-WebSocket-Key: " T_KEY "\r\n"
#define T_ALL		T_UPGRADE T_CONN T_VERSION T_KEYLINE

/* The request under test and the buffer its pointers point into. */
static char			 t_buf[8192];
static struct http_request	 t_req;

/*
 * Parse "<line>\r\nHost: server.example.com\r\n<fields>\r\n" into t_req
 * (fields: whole lines, each ending in CRLF); the parse must succeed.
 */
static void
t_parse(const char *line, const char *fields)
{
	int	 n;

	n = snprintf(t_buf, sizeof(t_buf), "%s\r\nHost: server.example.com"
	    "\r\n%s\r\n", line, fields);
	assert_true(n > 0 && (size_t)n < sizeof(t_buf));
	memset(&t_req, 0, sizeof(t_req));
	if (http_parse_head(t_buf, (size_t)n, HTTP_MAX_HEAD, -1, &t_req) !=
	    HTTP_PARSE_OK)
		fail_msg("head rejected (%d %s): %s", t_req.hr_status,
		    t_req.hr_errstr, t_buf);
	assert_int_equal(t_req.hr_head_len, (size_t)n);
}

/* wsp_check_upgrade on the parsed request; errstr is set iff failure. */
static int
t_check(const char *line, const char *fields, struct wsp_upgrade *up)
{
	struct wsp_upgrade	 dummy;
	const char		*why = "unset";
	int			 rv;

	if (up == NULL)
		up = &dummy;
	t_parse(line, fields);
	rv = wsp_check_upgrade(&t_req, up, &why);
	if (rv == WSP_OK)
		assert_null(why);
	else
		assert_non_null(why);
	return (rv);
}

/* p[0..n) lies inside t_buf and equals the string want. */
static void
t_span(const char *p, size_t n, const char *want)
{
	assert_non_null(p);
	assert_true(p >= t_buf && p + n <= t_buf + sizeof(t_buf));
	if (n != strlen(want) || memcmp(p, want, n) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)n, p, want);
}

static void
test_wsp_valid(void **state)
{
	struct wsp_upgrade	 up;

	(void)state;
	memset(&up, 0xa5, sizeof(up));
	assert_int_equal(t_check(T_GET, T_ALL
	    "Origin: https://app.example.com\r\n"
	    "Sec-WebSocket-Protocol: routingd.v1, " T_JWT "\r\n", &up),
	    WSP_OK);
	t_span(up.wu_key, up.wu_keylen, T_KEY);
	t_span(up.wu_origin, up.wu_originlen, "https://app.example.com");
	assert_int_equal(up.wu_nprotos, 1);
	t_span(up.wu_protos[0], up.wu_protolens[0], "routingd.v1, " T_JWT);
	assert_int_equal(up.wu_mode, WSP_MODE_PUSH);

	/* the minimum: no Origin, no subprotocols; field order free */
	memset(&up, 0xa5, sizeof(up));
	assert_int_equal(t_check(T_GET, T_KEYLINE T_VERSION T_CONN T_UPGRADE,
	    &up), WSP_OK);
	assert_null(up.wu_origin);
	assert_int_equal(up.wu_originlen, 0);
	assert_int_equal(up.wu_nprotos, 0);
	t_span(up.wu_key, up.wu_keylen, T_KEY);

	/* field names and the Upgrade and Connection tokens in any case */
	assert_int_equal(t_check(T_GET, "UPGRADE: WebSocket\r\n"
	    "connection: UPGRADE\r\nsec-websocket-version: 13\r\n"
	    "SEC-WEBSOCKET-KEY: " T_KEY "\r\n", NULL), WSP_OK);
}

static void
test_wsp_missing(void **state)
{
	(void)state;
	assert_int_equal(t_check(T_GET, T_CONN T_VERSION T_KEYLINE, NULL),
	    WSP_NOT_UPGRADE);
	assert_int_equal(t_check(T_GET, T_UPGRADE T_VERSION T_KEYLINE, NULL),
	    WSP_BAD_REQUEST);
	/* no version: 426 names the version we speak */
	assert_int_equal(t_check(T_GET, T_UPGRADE T_CONN T_KEYLINE, NULL),
	    WSP_BAD_VERSION);
	assert_int_equal(t_check(T_GET, T_UPGRADE T_CONN T_VERSION, NULL),
	    WSP_BAD_REQUEST);
	/* a plain request */
	assert_int_equal(t_check(T_GET, "", NULL), WSP_NOT_UPGRADE);
	/* another protocol only */
	assert_int_equal(t_check(T_GET, "Upgrade: h2c\r\n" T_CONN T_VERSION
	    T_KEYLINE, NULL), WSP_NOT_UPGRADE);
}

static void
test_wsp_method_version(void **state)
{
	(void)state;
	assert_int_equal(t_check("POST /ws HTTP/1.1", T_ALL, NULL),
	    WSP_BAD_REQUEST);
	assert_int_equal(t_check("HEAD /ws HTTP/1.1", T_ALL, NULL),
	    WSP_BAD_REQUEST);
	assert_int_equal(t_check("GET /ws HTTP/1.0", T_ALL, NULL),
	    WSP_BAD_REQUEST);
	/* without Upgrade they are plain requests */
	assert_int_equal(t_check("POST /ws HTTP/1.1", T_CONN, NULL),
	    WSP_NOT_UPGRADE);
	assert_int_equal(t_check("GET /ws HTTP/1.0", "", NULL),
	    WSP_NOT_UPGRADE);
}

static void
test_wsp_lists(void **state)
{
	(void)state;
	/* Upgrade */
	assert_int_equal(t_check(T_GET, "Upgrade: foo, WebSocket\r\n"
	    T_CONN T_VERSION T_KEYLINE, NULL), WSP_OK);
	assert_int_equal(t_check(T_GET, "Upgrade: foo,websocket,bar\r\n"
	    T_CONN T_VERSION T_KEYLINE, NULL), WSP_OK);
	assert_int_equal(t_check(T_GET, "Upgrade: ,\t websocket \t,\r\n"
	    T_CONN T_VERSION T_KEYLINE, NULL), WSP_OK);
	assert_int_equal(t_check(T_GET, "Upgrade: foo\r\n"
	    "Upgrade: websocket\r\n" T_CONN T_VERSION T_KEYLINE, NULL),
	    WSP_OK);
	assert_int_equal(t_check(T_GET, "Upgrade: websockets\r\n"
	    T_CONN T_VERSION T_KEYLINE, NULL), WSP_NOT_UPGRADE);
	assert_int_equal(t_check(T_GET, "Upgrade: web socket\r\n"
	    T_CONN T_VERSION T_KEYLINE, NULL), WSP_NOT_UPGRADE);
	/* Connection */
	assert_int_equal(t_check(T_GET, T_UPGRADE
	    "Connection: keep-alive, Upgrade\r\n" T_VERSION T_KEYLINE, NULL),
	    WSP_OK);
	assert_int_equal(t_check(T_GET, T_UPGRADE
	    "Connection: keep-alive,\tupgrade\r\n" T_VERSION T_KEYLINE, NULL),
	    WSP_OK);
	assert_int_equal(t_check(T_GET, T_UPGRADE
	    "Connection: keep-alive\r\nConnection: Upgrade\r\n" T_VERSION
	    T_KEYLINE, NULL), WSP_OK);
	assert_int_equal(t_check(T_GET, T_UPGRADE
	    "Connection: keep-alive\r\n" T_VERSION T_KEYLINE, NULL),
	    WSP_BAD_REQUEST);
	assert_int_equal(t_check(T_GET, T_UPGRADE
	    "Connection: upgrades\r\n" T_VERSION T_KEYLINE, NULL),
	    WSP_BAD_REQUEST);
}

/*
 * Only a single "Sec-WebSocket-Version: 13" is accepted.  A repeated
 * field is a list (RFC 9110 5.3), so "13" twice means "13, 13", which is
 * not exactly "13": 426, like any list.
 */
static void
test_wsp_versions(void **state)
{
	static const char *const bad[] = {
		"Sec-WebSocket-Version: 8\r\n",
		"Sec-WebSocket-Version: 14\r\n",
		"Sec-WebSocket-Version: 13, 8\r\n",
		"Sec-WebSocket-Version: 8, 13\r\n",
		"Sec-WebSocket-Version: 013\r\n",
		"Sec-WebSocket-Version: 13.0\r\n",
		"Sec-WebSocket-Version:\r\n",
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n",
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n",
	};
	char	 fields[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(fields, sizeof(fields), "%s%s%s%s", T_UPGRADE,
		    T_CONN, bad[i], T_KEYLINE);
		if (t_check(T_GET, fields, NULL) != WSP_BAD_VERSION)
			fail_msg("not 426: %s", bad[i]);
	}
	/* surrounding whitespace is the parser's OWS, not the value */
	assert_int_equal(t_check(T_GET, T_UPGRADE T_CONN
	    "Sec-WebSocket-Version:   13  \r\n" T_KEYLINE, NULL), WSP_OK);
	/* the version is judged before the key */
	assert_int_equal(t_check(T_GET, T_UPGRADE T_CONN
	    "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: x\r\n", NULL),
	    WSP_BAD_VERSION);
}

static void
test_wsp_keys(void **state)
{
	static const char *const bad[] = {
		"AAAAAAAAAAAAAAAAAAAA",		/* 15 bytes */
		"AAAAAAAAAAAAAAAAAAAAAA=",	/* 16, short padding */
		"AAAAAAAAAAAAAAAAAAAAAAA=",	/* 17 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAA",	/* 18 bytes */
		"dGhlIHNhbXBsZSBub25jZQ",	/* 16, missing padding */
		"dGhlIHNhbXBsZSBub25jZQ!=",	/* not base64 */
		"dGhlIHNhbXBs ZSBub25jZQ=",	/* inner space */
		"dGhlIHNhbXBsZSBub25jZR==",	/* non-canonical last char */
		"_____________________w==",	/* URL-safe alphabet */
		"dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==",
		"",
	};
	struct wsp_upgrade	 up;
	char			 fields[512];
	size_t			 i;

	(void)state;
	/* another 16-byte key, and one using '+' and '/' */
	assert_int_equal(t_check(T_GET, T_UPGRADE T_CONN T_VERSION
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", &up), WSP_OK);
	t_span(up.wu_key, up.wu_keylen, "AAAAAAAAAAAAAAAAAAAAAA==");
	assert_int_equal(t_check(T_GET, T_UPGRADE T_CONN T_VERSION
	    "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==\r\n", &up), WSP_OK);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(fields, sizeof(fields), "%s%s%s"
		    "Sec-WebSocket-Key: %s\r\n", T_UPGRADE, T_CONN, T_VERSION,
		    bad[i]);
		if (t_check(T_GET, fields, NULL) != WSP_BAD_REQUEST)
			fail_msg("key accepted: \"%s\"", bad[i]);
	}
	/* the same valid key twice, and two different valid keys */
	assert_int_equal(t_check(T_GET, T_ALL T_KEYLINE, NULL),
	    WSP_BAD_REQUEST);
	assert_int_equal(t_check(T_GET, T_ALL
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", NULL),
	    WSP_BAD_REQUEST);
}

static void
test_wsp_mode(void **state)
{
	static const char *const bad[] = {
		"GET /ws?mode=pull HTTP/1.1",
		"GET /ws?mode=PUSH HTTP/1.1",
		"GET /ws?mode=Poke HTTP/1.1",
		"GET /ws?mode= HTTP/1.1",
		"GET /ws?mode HTTP/1.1",
		"GET /ws?mode=p%75sh HTTP/1.1",
		"GET /ws?mode=pushy HTTP/1.1",
		"GET /ws?mode=pull&mode=push HTTP/1.1",	/* 1st counts */
	};
	struct wsp_upgrade	 up;
	size_t			 i;

	(void)state;
	assert_int_equal(t_check("GET /ws?mode=poke HTTP/1.1", T_ALL, &up),
	    WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_POKE);
	assert_int_equal(t_check("GET /ws?a=1&mode=poke&b HTTP/1.1", T_ALL,
	    &up), WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_POKE);
	up.wu_mode = -1;
	assert_int_equal(t_check("GET /ws?mode=push HTTP/1.1", T_ALL, &up),
	    WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_PUSH);
	up.wu_mode = -1;
	assert_int_equal(t_check("GET /ws?token=x HTTP/1.1", T_ALL, &up),
	    WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_PUSH);
	up.wu_mode = -1;
	assert_int_equal(t_check(T_GET, T_ALL, &up), WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_PUSH);
	assert_int_equal(t_check("GET /ws?modes=poke HTTP/1.1", T_ALL, &up),
	    WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_PUSH);

	/* a repeated parameter: the first one counts */
	assert_int_equal(t_check("GET /ws?mode=poke&mode=push&x HTTP/1.1",
	    T_ALL, &up), WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_POKE);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (t_check(bad[i], T_ALL, NULL) != WSP_BAD_REQUEST)
			fail_msg("mode accepted: %s", bad[i]);
	}
}

static void
test_wsp_offers(void **state)
{
	struct wsp_upgrade	 up;
	char			 fields[2048];
	size_t			 i, n;

	(void)state;
	assert_int_equal(t_check(T_GET, T_ALL "Origin: https://a.example\r\n"
	    "Origin: https://b.example\r\n", NULL), WSP_BAD_REQUEST);

	n = (size_t)snprintf(fields, sizeof(fields), "%s", T_ALL);
	for (i = 0; i < WSP_MAX_PROTOCOL_FIELDS; i++)
		n += (size_t)snprintf(fields + n, sizeof(fields) - n,
		    "Sec-WebSocket-Protocol: p%zu\r\n", i);
	assert_int_equal(t_check(T_GET, fields, &up), WSP_OK);
	assert_int_equal(up.wu_nprotos, WSP_MAX_PROTOCOL_FIELDS);
	t_span(up.wu_protos[0], up.wu_protolens[0], "p0");
	t_span(up.wu_protos[7], up.wu_protolens[7], "p7");
	(void)snprintf(fields + n, sizeof(fields) - n,
	    "Sec-WebSocket-Protocol: p8\r\n");
	assert_int_equal(t_check(T_GET, fields, &up), WSP_BAD_REQUEST);
}

static void
test_wsp_accept(void **state)
{
	char	 out[WSP_ACCEPT_LEN + 1], big[WSP_KEY_MAX + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(wsp_accept_key(T_KEY, strlen(T_KEY), out), 0);
	assert_string_equal(out, T_ACCEPT);
	assert_int_equal(wsp_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", 24, out),
	    0);
	assert_string_equal(out, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
	/* only keylen bytes count */
	assert_int_equal(wsp_accept_key(T_KEY "junk", strlen(T_KEY), out),
	    0);
	assert_string_equal(out, T_ACCEPT);
	assert_int_equal(wsp_accept_key(T_KEY, 0, out), -1);
	assert_int_equal(wsp_accept_key(NULL, 24, out), -1);
	memset(big, 'A', sizeof(big));
	assert_int_equal(wsp_accept_key(big, WSP_KEY_MAX, out), 0);
	assert_int_equal(strlen(out), WSP_ACCEPT_LEN);
	assert_int_equal(wsp_accept_key(big, WSP_KEY_MAX + 1, out), -1);
}

/* wsp_token on "<line>" + T_ALL + fields, which must be a valid upgrade. */
static int
t_token(const char *line, const char *fields, const char **tok,
    size_t *toklen, const char **proto, size_t *protolen)
{
	struct wsp_upgrade	 up;
	char			 all[2048];

	(void)snprintf(all, sizeof(all), "%s%s", T_ALL, fields);
	assert_int_equal(t_check(line, all, &up), WSP_OK);
	*tok = *proto = "unset";
	*toklen = *protolen = 999;
	return (wsp_token(&t_req, &up, tok, toklen, proto, protolen));
}

static void
test_wsp_token_bearer(void **state)
{
	const char	*tok, *proto;
	size_t		 toklen, protolen;

	(void)state;
	assert_int_equal(t_token(T_GET, "Authorization: Bearer " T_JWT "\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	assert_null(proto);
	assert_int_equal(protolen, 0);
	/* scheme in any case, several spaces; any bearer text is taken */
	assert_int_equal(t_token(T_GET, "Authorization: bEARER   opaque\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, "opaque");
	/* the client offered our protocol too: echo it */
	assert_int_equal(t_token(T_GET, "Authorization: Bearer " T_JWT "\r\n"
	    "Sec-WebSocket-Protocol: chat, routingd.v1\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	t_span(proto, protolen, WSP_PROTOCOL);
	/* protocol names are case-sensitive */
	assert_int_equal(t_token(T_GET, "Authorization: Bearer " T_JWT "\r\n"
	    "Sec-WebSocket-Protocol: Routingd.V1\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_OK);
	assert_null(proto);
	/* not a bearer token: no transport left */
	assert_int_equal(t_token(T_GET, "Authorization: Basic dTpw\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_null(tok);
	assert_int_equal(toklen, 0);
	assert_null(proto);
	assert_int_equal(protolen, 0);
	assert_int_equal(t_token(T_GET, "Authorization: Bearer\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_int_equal(t_token(T_GET, "Authorization: Bearer a b\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_int_equal(t_token(T_GET, "Authorization: Bearer\t" T_JWT "\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_int_equal(t_token(T_GET, "Authorization: Bearerx " T_JWT
	    "\r\n", &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
}

static void
test_wsp_token_protocol(void **state)
{
	const char	*tok, *proto;
	size_t		 toklen, protolen;

	(void)state;
	/* the browser form */
	assert_int_equal(t_token(T_GET, "Sec-WebSocket-Protocol: routingd.v1, "
	    T_JWT "\r\n", &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	t_span(proto, protolen, T_JWT);
	assert_ptr_equal(tok, proto);
	/* the token alone */
	assert_int_equal(t_token(T_GET, "Sec-WebSocket-Protocol: " T_JWT
	    "\r\n", &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	t_span(proto, protolen, T_JWT);
	/* non-JWT items first, each almost a JWT */
	assert_int_equal(t_token(T_GET, "Sec-WebSocket-Protocol: chat,"
	    "a.b, a.b.c.d, a..b, .a.b, a.b., a+b.c.d, a.b.c=, a.b.c%41,"
	    "\t" T_JWT2 " ,  " T_JWT "\r\n", &tok, &toklen, &proto,
	    &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT2);
	t_span(proto, protolen, T_JWT2);
	/* several fields are one list, in order */
	assert_int_equal(t_token(T_GET, "Sec-WebSocket-Protocol: routingd.v1"
	    "\r\nSec-WebSocket-Protocol: chat\r\n"
	    "Sec-WebSocket-Protocol: x, " T_JWT2 "\r\n", &tok, &toklen,
	    &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT2);
	t_span(proto, protolen, T_JWT2);
	/* no JWT among the protocols */
	assert_int_equal(t_token(T_GET, "Sec-WebSocket-Protocol: routingd.v1,"
	    " a.b\r\n", &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_null(tok);
	assert_null(proto);
}

static void
test_wsp_token_query(void **state)
{
	const char	*tok, *proto;
	size_t		 toklen, protolen;

	(void)state;
	assert_int_equal(t_token("GET /ws?token=" T_JWT " HTTP/1.1", "",
	    &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	assert_null(proto);
	assert_int_equal(protolen, 0);
	assert_int_equal(t_token("GET /ws?mode=poke&token=" T_JWT "&x=1 "
	    "HTTP/1.1", "Sec-WebSocket-Protocol: routingd.v1\r\n",
	    &tok, &toklen, &proto, &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	t_span(proto, protolen, WSP_PROTOCOL);
	/* '%' means percent-encoding: not a token */
	assert_int_equal(t_token("GET /ws?token=a.b%2Ec HTTP/1.1", "",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_null(tok);
	assert_int_equal(t_token("GET /ws?token= HTTP/1.1", "",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_int_equal(t_token("GET /ws?token HTTP/1.1", "",
	    &tok, &toklen, &proto, &protolen), WSP_NO_TOKEN);
	assert_int_equal(t_token(T_GET, "", &tok, &toklen, &proto,
	    &protolen), WSP_NO_TOKEN);
	assert_null(tok);
	assert_int_equal(toklen, 0);
	assert_null(proto);
	assert_int_equal(protolen, 0);
}

static void
test_wsp_token_precedence(void **state)
{
	const char	*tok, *proto;
	size_t		 toklen, protolen;

	(void)state;
	/* all three: the Authorization header */
	assert_int_equal(t_token("GET /ws?token=q.q.q HTTP/1.1",
	    "Sec-WebSocket-Protocol: routingd.v1, p.p.p\r\n"
	    "Authorization: Bearer h.h.h\r\n", &tok, &toklen, &proto,
	    &protolen), WSP_OK);
	t_span(tok, toklen, "h.h.h");
	t_span(proto, protolen, WSP_PROTOCOL);
	/* protocol and query: the protocol */
	assert_int_equal(t_token("GET /ws?token=q.q.q HTTP/1.1",
	    "Sec-WebSocket-Protocol: routingd.v1, p.p.p\r\n", &tok, &toklen,
	    &proto, &protolen), WSP_OK);
	t_span(tok, toklen, "p.p.p");
	t_span(proto, protolen, "p.p.p");
	/* a non-bearer Authorization does not hide the others */
	assert_int_equal(t_token("GET /ws?token=q.q.q HTTP/1.1",
	    "Authorization: Basic dTpw\r\n", &tok, &toklen, &proto,
	    &protolen), WSP_OK);
	t_span(tok, toklen, "q.q.q");
	/* a bad query token does not hide the protocol one */
	assert_int_equal(t_token("GET /ws?token=q%2Eq.q HTTP/1.1",
	    "Sec-WebSocket-Protocol: p.p.p\r\n", &tok, &toklen, &proto,
	    &protolen), WSP_OK);
	t_span(tok, toklen, "p.p.p");
}

static void
test_wsp_format_101(void **state)
{
	static const char	 plain[] =
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " T_ACCEPT "\r\n\r\n";
	static const char	 withp[] =
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " T_ACCEPT "\r\n"
	    "Sec-WebSocket-Protocol: routingd.v1\r\n\r\n";
	char			 buf[512];

	(void)state;
	assert_int_equal(wsp_format_101(buf, sizeof(buf), T_ACCEPT, NULL, 0),
	    strlen(plain));
	assert_string_equal(buf, plain);
	/* protolen counts, not the NUL */
	assert_int_equal(wsp_format_101(buf, sizeof(buf), T_ACCEPT,
	    "routingd.v1, more", 11), strlen(withp));
	assert_string_equal(buf, withp);
	assert_null(strstr(buf, "Extensions"));
	/* exactly enough room, and one byte less (the NUL) */
	assert_int_equal(wsp_format_101(buf, strlen(plain) + 1, T_ACCEPT,
	    NULL, 0), strlen(plain));
	assert_string_equal(buf, plain);
	assert_int_equal(wsp_format_101(buf, strlen(plain), T_ACCEPT, NULL,
	    0), -1);
	assert_int_equal(wsp_format_101(buf, strlen(withp), T_ACCEPT,
	    "routingd.v1", 11), -1);
	assert_int_equal(wsp_format_101(buf, 16, T_ACCEPT, NULL, 0), -1);
	assert_int_equal(wsp_format_101(buf, 0, T_ACCEPT, NULL, 0), -1);
	/* a protocol that would break the head */
	assert_int_equal(wsp_format_101(buf, sizeof(buf), T_ACCEPT,
	    "a\r\nX-Evil: 1", 13), -1);
	assert_int_equal(wsp_format_101(buf, sizeof(buf), T_ACCEPT, "a b",
	    3), -1);
	assert_int_equal(wsp_format_101(buf, sizeof(buf), T_ACCEPT, "", 0),
	    -1);
}

/* The RFC 6455 section 1.2 example, start to finish. */
static void
test_wsp_handshake(void **state)
{
	struct wsp_upgrade	 up;
	const char		*tok, *proto;
	char			 accept[WSP_ACCEPT_LEN + 1], buf[512];
	size_t			 toklen, protolen;
	int			 n;

	(void)state;
	assert_int_equal(t_check("GET /chat?mode=poke HTTP/1.1",
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " T_KEY "\r\nOrigin: http://example.com\r\n"
	    "Sec-WebSocket-Protocol: chat, superchat\r\n"
	    "Sec-WebSocket-Protocol: routingd.v1, " T_JWT "\r\n"
	    "Sec-WebSocket-Version: 13\r\n", &up), WSP_OK);
	assert_int_equal(up.wu_mode, WSP_MODE_POKE);
	assert_int_equal(up.wu_nprotos, 2);
	t_span(up.wu_origin, up.wu_originlen, "http://example.com");
	assert_int_equal(wsp_accept_key(up.wu_key, up.wu_keylen, accept), 0);
	assert_string_equal(accept, T_ACCEPT);
	assert_int_equal(wsp_token(&t_req, &up, &tok, &toklen, &proto,
	    &protolen), WSP_OK);
	t_span(tok, toklen, T_JWT);
	n = wsp_format_101(buf, sizeof(buf), accept, proto, protolen);
	assert_true(n > 0);
	assert_string_equal(buf, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " T_ACCEPT "\r\n"
	    "Sec-WebSocket-Protocol: " T_JWT "\r\n\r\n");
	assert_int_equal(n, strlen(buf));
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_wsp_valid),
		cmocka_unit_test(test_wsp_missing),
		cmocka_unit_test(test_wsp_method_version),
		cmocka_unit_test(test_wsp_lists),
		cmocka_unit_test(test_wsp_versions),
		cmocka_unit_test(test_wsp_keys),
		cmocka_unit_test(test_wsp_mode),
		cmocka_unit_test(test_wsp_offers),
		cmocka_unit_test(test_wsp_accept),
		cmocka_unit_test(test_wsp_token_bearer),
		cmocka_unit_test(test_wsp_token_protocol),
		cmocka_unit_test(test_wsp_token_query),
		cmocka_unit_test(test_wsp_token_precedence),
		cmocka_unit_test(test_wsp_format_101),
		cmocka_unit_test(test_wsp_handshake),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
