/*
 * test_http.c: unit tests of http.c (links http.c, and json.c for the
 * string escaper of the error bodies).
 *
 * Every head goes through parse(), which also feeds each prefix of the
 * input, in its own exactly-sized heap copy (so ASan sees any over-read),
 * and checks the rule that prefixes give AGAIN and then exactly what the
 * whole buffer gives (the same status and the same reason).
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

#define MAX_BODY	1000

static struct http_request	 req;

/* Parse a copy of buf[0..len) of exactly len bytes into *r. */
static int
parse_copy(const char *buf, size_t len, size_t max_head, struct http_request *r)
{
	char	*copy = malloc(len > 0 ? len : 1);
	int	 rv;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	rv = http_parse_head(copy, len, max_head, MAX_BODY, r);
	/* pointers must stay inside the copy: rebase checks use offsets */
	free(copy);
	return (rv);
}

/*
 * Feed every prefix: AGAIN until the first decisive prefix, and from then
 * on the result and status of the whole buffer.
 */
static void
check_prefixes(const char *buf, size_t len, size_t max_head, int whole,
    int status, const char *errstr, size_t head_len)
{
	struct http_request	 r;
	size_t			 i;
	int			 decided = 0, rv;

	for (i = 0; i <= len; i++) {
		rv = parse_copy(buf, i, max_head, &r);
		if (rv == HTTP_PARSE_AGAIN) {
			assert_int_equal(decided, 0);
			continue;
		}
		decided = 1;
		assert_int_equal(rv, whole);
		if (rv == HTTP_PARSE_ERROR) {
			assert_int_equal(r.hr_status, status);
			assert_string_equal(r.hr_errstr, errstr);
		} else
			assert_int_equal(r.hr_head_len, head_len);
	}
}

/* Parse s whole into req (pointers into s), checking all prefixes. */
static int
parse_max(const char *s, size_t max_head)
{
	size_t	 len = strlen(s);
	int	 rv;

	rv = http_parse_head(s, len, max_head, MAX_BODY, &req);
	check_prefixes(s, len, max_head, rv, req.hr_status, req.hr_errstr,
	    req.hr_head_len);
	if (rv == HTTP_PARSE_ERROR)
		assert_non_null(req.hr_errstr);
	return (rv);
}

static int
parse(const char *s)
{
	return (parse_max(s, HTTP_MAX_HEAD));
}

static void
expect_status(const char *s, int status)
{
	assert_int_equal(parse(s), HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, status);
}

static void
expect_ok(const char *s)
{
	assert_int_equal(parse(s), HTTP_PARSE_OK);
}

static int
span_eq(const char *p, size_t n, const char *want)
{
	return (p != NULL && strlen(want) == n && memcmp(p, want, n) == 0);
}

/* ------------------------------------------------------------------ */
/* Good requests                                                       */
/* ------------------------------------------------------------------ */

static void
test_get_with_query(void **state)
{
	const char	*s = "GET /api/messages?limit=5&x=y HTTP/1.1\r\n"
	    "Host: localhost:8082\r\nAccept: */*\r\n\r\n";

	expect_ok(s);
	assert_int_equal(req.hr_method, HTTP_M_GET);
	assert_true(span_eq(req.hr_method_str, req.hr_method_len, "GET"));
	assert_true(span_eq(req.hr_target, req.hr_target_len,
	    "/api/messages?limit=5&x=y"));
	assert_true(span_eq(req.hr_path, req.hr_path_len, "/api/messages"));
	assert_true(span_eq(req.hr_query, req.hr_query_len, "limit=5&x=y"));
	assert_int_equal(req.hr_minor, 1);
	assert_int_equal(req.hr_keep_alive, 1);
	assert_int_equal(req.hr_upgrade, 0);
	assert_int_equal(req.hr_content_length, -1);
	assert_int_equal(req.hr_chunked, 0);
	assert_int_equal(req.hr_nhdrs, 2);
	assert_int_equal(req.hr_head_len, strlen(s));
}

static void
test_post_content_length(void **state)
{
	const char	*head = "POST /api/send HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 5\r\n\r\n";
	char		 buf[256];

	(void)snprintf(buf, sizeof(buf), "%shello", head);
	expect_ok(buf);
	assert_int_equal(req.hr_method, HTTP_M_POST);
	assert_int_equal(req.hr_content_length, 5);
	assert_int_equal(req.hr_head_len, strlen(head));
	assert_null(req.hr_query);
}

static void
test_chunked_head(void **state)
{
	expect_ok("POST /x HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(req.hr_chunked, 1);
	assert_int_equal(req.hr_content_length, -1);
	expect_ok("POST /x HTTP/1.1\r\nHost: a\r\n"
	    "transfer-encoding:   CHUNKED \r\n\r\n");
	assert_int_equal(req.hr_chunked, 1);
}

static void
test_http10(void **state)
{
	expect_ok("GET / HTTP/1.0\r\n\r\n");
	assert_int_equal(req.hr_minor, 0);
	assert_int_equal(req.hr_keep_alive, 0);
	expect_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	assert_int_equal(req.hr_keep_alive, 1);
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	assert_int_equal(req.hr_keep_alive, 0);
}

static void
test_keep_alive_11(void **state)
{
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	assert_int_equal(req.hr_keep_alive, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n");
	assert_int_equal(req.hr_keep_alive, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(req.hr_keep_alive, 1);
	/* two Connection fields combine */
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\n"
	    "Connection: ,close,\r\n\r\n");
	assert_int_equal(req.hr_keep_alive, 0);
}

static void
test_connection_upgrade(void **state)
{
	expect_ok("GET /connect HTTP/1.1\r\nHost: a\r\n"
	    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
	assert_int_equal(req.hr_upgrade, 1);
	assert_int_equal(req.hr_keep_alive, 1);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n",
	    400);
}

static void
test_many_headers(void **state)
{
	char	 buf[8192];
	size_t	 off;
	int	 i;

	off = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < HTTP_MAX_HEADERS; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "X-H%d: v%d\r\n", i, i);
	(void)snprintf(buf + off, sizeof(buf) - off, "\r\n");
	expect_ok(buf);
	assert_int_equal(req.hr_nhdrs, HTTP_MAX_HEADERS);
	(void)snprintf(buf + off, sizeof(buf) - off, "X-Last: 1\r\n\r\n");
	expect_status(buf, 431);
}

static void
test_header_values(void **state)
{
	const char	*v;
	size_t		 n;

	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nX-A:  \t spaced value\t \r\n"
	    "X-Empty:\r\nX-Tab: a\tb\r\nX-Utf8: caf\xc3\xa9\r\n\r\n");
	v = http_header_get(&req, "x-a", &n);
	assert_true(span_eq(v, n, "spaced value"));
	v = http_header_get(&req, "X-EMPTY", &n);
	assert_non_null(v);
	assert_int_equal(n, 0);
	v = http_header_get(&req, "x-tab", &n);
	assert_true(span_eq(v, n, "a\tb"));
	v = http_header_get(&req, "x-utf8", &n);
	assert_true(span_eq(v, n, "caf\xc3\xa9"));
	assert_null(http_header_get(&req, "x-missing", &n));
	assert_null(http_header_get(&req, "x-", &n));
}

static void
test_leading_empty_line(void **state)
{
	const char	*s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";

	expect_ok(s);
	assert_int_equal(req.hr_head_len, strlen(s));
	assert_true(span_eq(req.hr_path, req.hr_path_len, "/"));
}

static void
test_methods(void **state)
{
	expect_ok("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_HEAD);
	expect_ok("DELETE /api/devices/d1 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_DELETE);
	expect_ok("PATCH / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_PATCH);
	expect_ok("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_OPTIONS);
	expect_ok("PUT /x HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_PUT);
	expect_ok("PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_OTHER);
	/* methods are case-sensitive */
	expect_ok("get /x HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_OTHER);
}

static void
test_empty_query(void **state)
{
	expect_ok("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(span_eq(req.hr_path, req.hr_path_len, "/p"));
	assert_non_null(req.hr_query);
	assert_int_equal(req.hr_query_len, 0);
}

/* ------------------------------------------------------------------ */
/* Rejections                                                          */
/* ------------------------------------------------------------------ */

static void
test_bare_lf(void **state)
{
	expect_status("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
	expect_status("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void
test_bare_cr(void **state)
{
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400);
	expect_status("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400);
}

static void
test_ctl_in_value(void **state)
{
	const char	 nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	int		 rv;

	rv = http_parse_head(nul, sizeof(nul) - 1, HTTP_MAX_HEAD, MAX_BODY,
	    &req);
	assert_int_equal(rv, HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, 400);
	check_prefixes(nul, sizeof(nul) - 1, HTTP_MAX_HEAD, HTTP_PARSE_ERROR,
	    400, req.hr_errstr, 0);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b\r\n\r\n", 400);
}

static void
test_space_before_colon(void **state)
{
	expect_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n"
	    "\r\nhello", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
}

static void
test_obs_fold(void **state)
{
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n"
	    " chunked\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\n\tX: b\r\n\r\n", 400);
}

static void
test_host_rules(void **state)
{
	expect_status("GET / HTTP/1.1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
	expect_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_ok("GET / HTTP/1.1\r\nHost: [::1]:8082\r\n\r\n");
	expect_ok("GET / HTTP/1.1\r\nHost:\r\n\r\n");
}

static void
test_content_length_rules(void **state)
{
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 12345678901234567890\r\n\r\n", 400);
	/* 19 digits are well-formed, just too large */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 9999999999999999999\r\n\r\n", 413);
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000\r\n\r\n");
	assert_int_equal(req.hr_content_length, 0);
}

static void
test_body_limit(void **state)
{
	const char	*nolimit = "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 99999\r\n\r\n";

	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n");
	assert_int_equal(req.hr_content_length, 1000);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n"
	    "\r\n", 413);
	/* smuggling beats size: CL+TE is 400 even when CL is too large */
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400);
	/* no limit */
	assert_int_equal(http_parse_head(nolimit, strlen(nolimit),
	    HTTP_MAX_HEAD, -1, &req), HTTP_PARSE_OK);
}

static void
test_transfer_encoding_rules(void **state)
{
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	    "\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity"
	    "\r\n\r\n", 501);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
	    400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
	    "\"chunked\"\r\n\r\n", 400);
}

static void
test_smuggling_cl_te(void **state)
{
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400);
	expect_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	    "Content-Length: 4\r\n\r\n", 400);
	expect_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400);
}

static void
test_target_forms(void **state)
{
	expect_status("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400);
	expect_status("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void
test_request_line_syntax(void **state)
{
	expect_status("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET /\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
	expect_status("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400);
}

/*
 * Feed buf[0..len) one more byte at a time: AGAIN while the first at bytes
 * are there, then 400 with errstr from the byte at index at on, without
 * any line end.
 */
static void
expect_bad_at(const char *buf, size_t len, size_t at, const char *errstr)
{
	struct http_request	 r;
	size_t			 i;

	assert_true(at < len);
	for (i = 0; i <= len; i++) {
		if (i <= at) {
			assert_int_equal(parse_copy(buf, i, HTTP_MAX_HEAD, &r),
			    HTTP_PARSE_AGAIN);
			continue;
		}
		assert_int_equal(parse_copy(buf, i, HTTP_MAX_HEAD, &r),
		    HTTP_PARSE_ERROR);
		assert_int_equal(r.hr_status, 400);
		assert_string_equal(r.hr_errstr, errstr);
	}
}

#define BAD_AT(lit, at, err)	\
	expect_bad_at((lit), sizeof(lit) - 1, (at), (err))

static void
test_not_http(void **state)
{
	static const char	 tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc"
	    "\x03\x03\x8a\x11";
	const char		*nothttp = "not an HTTP request";

	BAD_AT("\x00\x01\x02\xff\xfe", 0, nothttp);
	expect_bad_at(tls, sizeof(tls) - 1, 0, nothttp);
	BAD_AT("\xff\xfeGET / HTTP/1.1\r\n", 0, nothttp);
	BAD_AT("\x7fGET", 0, nothttp);
	BAD_AT(" GET / HTTP/1.1\r\n", 0, nothttp);
	BAD_AT("\tGET", 0, nothttp);
	BAD_AT("{\"a\":1}", 0, nothttp);
	BAD_AT("<html>", 0, nothttp);
	/* the first impossible byte decides, wherever it is in the method */
	BAD_AT("GE\x00T / HTTP/1.1\r\n", 2, nothttp);
	BAD_AT("G(T / HTTP/1.1\r\n", 1, nothttp);
	BAD_AT("GET\t/ HTTP/1.1\r\n", 3, nothttp);
	BAD_AT("GET\r\nHost: a\r\n\r\n", 3, nothttp);
	BAD_AT("POST\xc3\xa9 / HTTP/1.1", 4, nothttp);
	/* after leading empty lines, the same rule */
	BAD_AT("\r\n\r\n\x16\x03\x01", 4, nothttp);
	BAD_AT("\r\n\x00", 2, nothttp);
	/* a line that starts with a lone CR or LF */
	BAD_AT("\rGET / HTTP/1.1\r\n", 1, "bare CR in request head");
	BAD_AT("\r\r\n", 1, "bare CR in request head");
	BAD_AT("\nGET / HTTP/1.1\r\n", 0, "bare LF in request head");
	BAD_AT("\r\n\nGET", 2, "bare LF in request head");
	/* and through the whole-buffer path with every prefix */
	expect_status("\x16\x03\x01\x02\x00", 400);
	assert_string_equal(req.hr_errstr, nothttp);
}

/* A valid prefix of a request line waits for more, one byte at a time. */
static void
test_valid_prefix_waits(void **state)
{
	static const char	*prefixes[] = {
		"G", "GE", "GET", "PROPFIND", "get", "M-SEARCH", "\r", "\r\n",
		"\r\n\r", "\r\n\r\nGE", "GET ", "GET /", "GET /\x01",
		"GET / HTTP/1.1\r"
	};
	size_t			 i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		assert_int_equal(parse(prefixes[i]), HTTP_PARSE_AGAIN);
	/* and a request sent byte by byte still parses */
	expect_ok("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(req.hr_method, HTTP_M_GET);
}

static void
test_version_505(void **state)
{
	expect_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	expect_status("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
	expect_status("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
	/* decided on the request line, before any field arrives */
	assert_int_equal(http_parse_head("GET / HTTP/3.0\r\n", 16,
	    HTTP_MAX_HEAD, MAX_BODY, &req), HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, 505);
}

static void
test_head_too_large(void **state)
{
	char	 buf[200];

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
	buf[sizeof(buf) - 1] = '\0';
	/* 199 bytes with no end, limit 100 */
	assert_int_equal(parse_max(buf, 100), HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, 431);
	assert_int_equal(parse_max(buf, 1000), HTTP_PARSE_AGAIN);
	/* a head of exactly max_head bytes is fine */
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(parse_max("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27),
	    HTTP_PARSE_OK);
	assert_int_equal(parse_max("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 26),
	    HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, 431);
}

static void
test_head_431_small_limit(void **state)
{
	assert_int_equal(parse_max("GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaa\r\n"
	    "\r\n", 20), HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, 431);
	/* an earlier bad line still decides */
	assert_int_equal(parse_max("GET / HTTP/9.9\r\nHost: aaaaaaaaaaaaaaa\r\n"
	    "\r\n", 20), HTTP_PARSE_ERROR);
	assert_int_equal(req.hr_status, 505);
}

static void
test_again(void **state)
{
	assert_int_equal(http_parse_head("", 0, HTTP_MAX_HEAD, MAX_BODY, &req),
	    HTTP_PARSE_AGAIN);
	assert_int_equal(http_parse_head("GET / HTTP/1.1\r\nHost: a\r\n\r", 26,
	    HTTP_MAX_HEAD, MAX_BODY, &req), HTTP_PARSE_AGAIN);
}

static void
test_pipelined_head_len(void **state)
{
	const char	*s = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";

	assert_int_equal(http_parse_head(s, strlen(s), HTTP_MAX_HEAD, MAX_BODY,
	    &req), HTTP_PARSE_OK);
	assert_int_equal(req.hr_head_len, strlen(s) / 2);
	assert_true(span_eq(req.hr_path, req.hr_path_len, "/1"));
}

/* A long realistic head, checked through every prefix. */
static void
test_prefixes_realistic(void **state)
{
	expect_ok("POST /api/send?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8082\r\n"
	    "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
	    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig\r\n"
	    "Content-Type: application/json\r\nContent-Length: 17\r\n"
	    "Expect: 100-continue\r\n\r\n{\"a\":1}");
	assert_int_equal(req.hr_content_length, 17);
}

/* ------------------------------------------------------------------ */
/* Chunked decoder                                                     */
/* ------------------------------------------------------------------ */

/* Decode s in one go into out; returns the result. */
static int
dechunk(const char *s, size_t len, char *out, size_t outcap, size_t *outlen,
    size_t *consumed, struct http_chunked *hc)
{
	http_chunked_init(hc);
	*outlen = 0;
	return (http_chunked_feed(hc, s, len, consumed, out, outcap, outlen));
}

static void
test_chunked_good(void **state)
{
	const char		*s = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
	struct http_chunked	 hc;
	char			 out[64];
	size_t			 n, used;

	assert_int_equal(dechunk(s, strlen(s), out, sizeof(out), &n, &used,
	    &hc), HTTP_PARSE_OK);
	assert_int_equal(used, strlen(s));
	assert_true(span_eq(out, n, "hello, world"));
	/* later calls consume nothing */
	assert_int_equal(http_chunked_feed(&hc, "x", 1, &used, out,
	    sizeof(out), &n), HTTP_PARSE_OK);
	assert_int_equal(used, 0);
}

static void
test_chunked_hex_ext_trailers(void **state)
{
	const char		*s = "A;name=val;q=\"x y\"\r\n0123456789\r\n"
	    "00b\r\nhello world\r\n0;last\r\nX-Sum: abc\r\nX-E:\r\n\r\nNEXT";
	struct http_chunked	 hc;
	char			 out[64];
	size_t			 n, used;

	assert_int_equal(dechunk(s, strlen(s), out, sizeof(out), &n, &used,
	    &hc), HTTP_PARSE_OK);
	assert_int_equal(used, strlen(s) - 4);
	assert_true(span_eq(out, n, "0123456789hello world"));
}

static void
test_chunked_split_every_byte(void **state)
{
	const char		*s = "3;e=1\r\nabc\r\nF\r\n0123456789ABCDE\r\n"
	    "0\r\nT: v\r\n\r\n";
	struct http_chunked	 hc;
	char			 out[64];
	size_t			 i, n = 0, used;
	int			 rv = HTTP_PARSE_AGAIN;

	http_chunked_init(&hc);
	for (i = 0; i < strlen(s); i++) {
		rv = http_chunked_feed(&hc, s + i, 1, &used, out, sizeof(out),
		    &n);
		assert_int_equal(used, 1);
		if (i + 1 < strlen(s))
			assert_int_equal(rv, HTTP_PARSE_AGAIN);
	}
	assert_int_equal(rv, HTTP_PARSE_OK);
	assert_true(span_eq(out, n, "abc0123456789ABCDE"));
}

static void
test_chunked_in_place(void **state)
{
	char			 buf[] = "4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n";
	struct http_chunked	 hc;
	size_t			 n, used, half = 9;
	int			 rv;

	http_chunked_init(&hc);
	n = 0;
	rv = http_chunked_feed(&hc, buf, half, &used, buf, 100, &n);
	assert_int_equal(rv, HTTP_PARSE_AGAIN);
	assert_int_equal(used, half);
	rv = http_chunked_feed(&hc, buf + half, strlen(buf + half), &used, buf,
	    100, &n);
	assert_int_equal(rv, HTTP_PARSE_OK);
	assert_true(span_eq(buf, n, "abcdef"));
}

static void
test_chunked_bad(void **state)
{
	static const char	*bad[] = {
		"\r\n",				/* no digits */
		"5\nhello\r\n0\r\n\r\n",	/* bare LF after size */
		"5\r\nhelloX\r\n0\r\n\r\n",	/* no CRLF after data */
		"5\r\nhello\n0\r\n\r\n",	/* bare LF after data */
		"5 \r\nhello\r\n0\r\n\r\n",	/* space after size */
		"-5\r\n",			/* sign */
		"0x5\r\n",			/* prefix */
		"5;a\nb\r\n",			/* LF in extension */
		"5;a\x01\r\n",			/* CTL in extension */
		"00000000000000001\r\n",	/* 17 digits */
		"0\r\n X: y\r\n\r\n",		/* folded trailer */
		"0\r\nX : y\r\n\r\n",		/* space before colon */
		"0\r\nX: y\nZ\r\n\r\n",		/* bare LF in trailer */
		"0\r\n\rX",			/* bad end */
		"0\r\nX: \x01\r\n\r\n"		/* CTL in trailer */
	};
	struct http_chunked	 hc;
	char			 out[64];
	size_t			 i, n, used;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dechunk(bad[i], strlen(bad[i]), out,
		    sizeof(out), &n, &used, &hc), HTTP_PARSE_ERROR);
		assert_int_equal(hc.hc_status, 400);
	}
}

static void
test_chunked_limits(void **state)
{
	struct http_chunked	 hc;
	char			 out[16], big[2048];
	size_t			 n, used;

	/* over outcap: 413, decided at the size line */
	assert_int_equal(dechunk("11\r\n", 4, out, sizeof(out), &n, &used,
	    &hc), HTTP_PARSE_ERROR);
	assert_int_equal(hc.hc_status, 413);
	/* two chunks that together exceed it */
	assert_int_equal(dechunk("a\r\n0123456789\r\n7\r\n", 18, out,
	    sizeof(out), &n, &used, &hc), HTTP_PARSE_ERROR);
	assert_int_equal(hc.hc_status, 413);
	/* exactly outcap is fine */
	assert_int_equal(dechunk("10\r\n0123456789abcdef\r\n0\r\n\r\n", 27,
	    out, sizeof(out), &n, &used, &hc), HTTP_PARSE_OK);
	assert_int_equal(n, 16);
	/* 16 hex digits are fine when small */
	assert_int_equal(dechunk("0000000000000001\r\nx\r\n0\r\n\r\n", 26,
	    out, sizeof(out), &n, &used, &hc), HTTP_PARSE_OK);
	/* an endless extension */
	memset(big, 'e', sizeof(big));
	memcpy(big, "1;", 2);
	assert_int_equal(dechunk(big, sizeof(big), out, sizeof(out), &n,
	    &used, &hc), HTTP_PARSE_ERROR);
	assert_int_equal(hc.hc_status, 400);
}

static void
test_chunked_trailer_limit(void **state)
{
	struct http_chunked	 hc;
	char			 out[16], *big;
	size_t			 n, used, len = 20000;

	big = malloc(len);
	assert_non_null(big);
	memset(big, 'v', len);
	memcpy(big, "0\r\nX: ", 6);
	assert_int_equal(dechunk(big, len, out, sizeof(out), &n, &used, &hc),
	    HTTP_PARSE_ERROR);
	assert_int_equal(hc.hc_status, 400);
	free(big);
}

/* ------------------------------------------------------------------ */
/* Query, reason, formatting                                           */
/* ------------------------------------------------------------------ */

static void
test_query_get(void **state)
{
	const char	*v;
	size_t		 n;

	expect_ok("GET /m?limit=50&flag&empty=&a=b=c&x=%20y HTTP/1.1\r\n"
	    "Host: a\r\n\r\n");
	v = http_query_get(&req, "limit", &n);
	assert_true(span_eq(v, n, "50"));
	v = http_query_get(&req, "flag", &n);
	assert_non_null(v);
	assert_int_equal(n, 0);
	v = http_query_get(&req, "empty", &n);
	assert_non_null(v);
	assert_int_equal(n, 0);
	v = http_query_get(&req, "a", &n);
	assert_true(span_eq(v, n, "b=c"));
	v = http_query_get(&req, "x", &n);
	assert_true(span_eq(v, n, "%20y"));	/* raw, no decoding */
	assert_null(http_query_get(&req, "lim", &n));
	assert_null(http_query_get(&req, "limit=50", &n));
	assert_null(http_query_get(&req, "missing", &n));
}

/* The bearer token: scheme case-insensitive, spaces, no inner space. */
static void
test_bearer(void **state)
{
	static const struct {
		const char	*field;
		const char	*token;		/* NULL: none */
	} cases[] = {
		{ "Bearer abc.def.ghi", "abc.def.ghi" },
		{ "bearer   tok", "tok" },
		{ "BEARER t", "t" },
		{ "Basic dXNlcjpwdw==", NULL },
		{ "Bearer", NULL },
		{ "Bearer ", NULL },
		{ "Bearer a b", NULL },
		{ "Bearerabc", NULL },
	};
	char		 head[256];
	const char	*v;
	size_t		 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n"
		    "Host: a\r\nAuthorization: %s\r\n\r\n", cases[i].field);
		expect_ok(head);
		v = http_bearer(&req, &n);
		if (cases[i].token == NULL)
			assert_null(v);
		else
			assert_true(span_eq(v, n, cases[i].token));
	}
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_null(http_bearer(&req, &n));
}

static void
test_query_none(void **state)
{
	const char	*v;
	size_t		 n;

	expect_ok("GET /m HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_null(http_query_get(&req, "limit", &n));
	expect_ok("GET /m?a=1&&b=2 HTTP/1.1\r\nHost: a\r\n\r\n");
	v = http_query_get(&req, "b", &n);
	assert_true(span_eq(v, n, "2"));
	assert_null(http_query_get(&req, "c", &n));
}

static void
test_reason(void **state)
{
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(505), "HTTP Version Not Supported");
	assert_string_equal(http_reason(799), "Unknown");
}

static void
test_format_head(void **state)
{
	char	 buf[512];
	int	 n;

	n = http_format_head(buf, sizeof(buf), 200, "application/json", 12, 1,
	    "X-A: 1\r\nX-B: 2\r\n");
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr(buf, "\r\nServer: routingd\r\n"));
	assert_non_null(strstr(buf, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(buf, "\r\nContent-Length: 12\r\n"));
	assert_non_null(strstr(buf, "\r\nConnection: keep-alive\r\n"));
	assert_non_null(strstr(buf, "\r\nX-A: 1\r\nX-B: 2\r\n\r\n"));
	assert_int_equal(strcmp(buf + n - 4, "\r\n\r\n"), 0);
	n = http_format_head(buf, sizeof(buf), 404, NULL, 0, 0, NULL);
	assert_true(n > 0);
	assert_null(strstr(buf, "Content-Type"));
	assert_non_null(strstr(buf, "\r\nContent-Length: 0\r\n"));
	assert_non_null(strstr(buf, "\r\nConnection: close\r\n\r\n"));
}

static void
test_format_head_no_length(void **state)
{
	char	 buf[512];

	assert_true(http_format_head(buf, sizeof(buf), 204, NULL, 0, 1,
	    NULL) > 0);
	assert_null(strstr(buf, "Content-Length"));
	assert_non_null(strstr(buf, "Connection: keep-alive"));
	assert_true(http_format_head(buf, sizeof(buf), 304, NULL, 0, 1,
	    NULL) > 0);
	assert_null(strstr(buf, "Content-Length"));
	assert_true(http_format_head(buf, sizeof(buf), 101, NULL, 0, 1,
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n") > 0);
	assert_null(strstr(buf, "Content-Length"));
	assert_null(strstr(buf, "keep-alive"));
	assert_non_null(strstr(buf, "HTTP/1.1 101 Switching Protocols\r\n"));
}

/* 1 if the 3 bytes at p are one of the 3-letter words in list. */
static int
in_list(const char *list, const char *p)
{
	for (; *list != '\0'; list += 3)
		if (strncmp(list, p, 3) == 0)
			return (1);
	return (0);
}

static void
test_format_date(void **state)
{
	char		 buf[512], *d;
	const char	*days = "SunMonTueWedThuFriSat";
	const char	*mons = "JanFebMarAprMayJunJulAugSepOctNovDec";

	assert_true(http_format_head(buf, sizeof(buf), 200, NULL, 0, 1,
	    NULL) > 0);
	d = strstr(buf, "\r\nDate: ");
	assert_non_null(d);
	d += 8;
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	assert_true(in_list(days, d));
	assert_memory_equal(d + 3, ", ", 2);
	assert_true(d[5] >= '0' && d[5] <= '3' && d[6] >= '0' && d[6] <= '9');
	assert_int_equal(d[7], ' ');
	assert_true(in_list(mons, d + 8));
	assert_int_equal(d[11], ' ');
	assert_true(d[12] == '2');
	assert_int_equal(d[16], ' ');
	assert_true(d[19] == ':' && d[22] == ':');
	assert_memory_equal(d + 25, " GMT\r\n", 6);
}

static void
test_format_head_small(void **state)
{
	char	 buf[512];
	int	 n;

	n = http_format_head(buf, sizeof(buf), 200, "text/plain", 3, 1, NULL);
	assert_true(n > 0);
	assert_int_equal(http_format_head(buf, (size_t)n, 200, "text/plain", 3,
	    1, NULL), -1);
	assert_int_equal(http_format_head(buf, (size_t)n + 1, 200,
	    "text/plain", 3, 1, NULL), n);
	assert_int_equal(http_format_head(buf, 10, 200, NULL, 0, 1, NULL), -1);
}

static void
test_error_body(void **state)
{
	char	 buf[256];
	int	 n;

	n = http_error_body(buf, sizeof(buf), "bad_request", "missing Host");
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
	    "{\"error\":\"bad_request\",\"message\":\"missing Host\"}");
}

static void
test_error_body_escaping(void **state)
{
	char	 buf[256];
	int	 n;

	n = http_error_body(buf, sizeof(buf), "c\"d",
	    "a \"q\" \\ b\nc\rd\te\x01" "f\x1f");
	assert_true(n > 0);
	assert_string_equal(buf, "{\"error\":\"c\\\"d\",\"message\":"
	    "\"a \\\"q\\\" \\\\ b\\nc\\rd\\te\\u0001f\\u001f\"}");
	/* UTF-8 passes through */
	n = http_error_body(buf, sizeof(buf), "x", "caf\xc3\xa9");
	assert_string_equal(buf, "{\"error\":\"x\",\"message\":\"caf\xc3\xa9\"}");
}

static void
test_error_body_small(void **state)
{
	char	 buf[64];
	int	 n;

	n = http_error_body(buf, sizeof(buf), "too_large", "big");
	assert_true(n > 0);
	assert_int_equal(http_error_body(buf, (size_t)n, "too_large", "big"),
	    -1);
	assert_int_equal(http_error_body(buf, (size_t)n + 1, "too_large",
	    "big"), n);
	assert_int_equal(http_error_body(buf, 12, "too_large", "big"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_with_query),
		cmocka_unit_test(test_post_content_length),
		cmocka_unit_test(test_chunked_head),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_keep_alive_11),
		cmocka_unit_test(test_connection_upgrade),
		cmocka_unit_test(test_many_headers),
		cmocka_unit_test(test_header_values),
		cmocka_unit_test(test_leading_empty_line),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_valid_prefix_waits),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_empty_query),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_ctl_in_value),
		cmocka_unit_test(test_space_before_colon),
		cmocka_unit_test(test_obs_fold),
		cmocka_unit_test(test_host_rules),
		cmocka_unit_test(test_content_length_rules),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_transfer_encoding_rules),
		cmocka_unit_test(test_smuggling_cl_te),
		cmocka_unit_test(test_target_forms),
		cmocka_unit_test(test_request_line_syntax),
		cmocka_unit_test(test_version_505),
		cmocka_unit_test(test_head_too_large),
		cmocka_unit_test(test_head_431_small_limit),
		cmocka_unit_test(test_again),
		cmocka_unit_test(test_pipelined_head_len),
		cmocka_unit_test(test_prefixes_realistic),
		cmocka_unit_test(test_chunked_good),
		cmocka_unit_test(test_chunked_hex_ext_trailers),
		cmocka_unit_test(test_chunked_split_every_byte),
		cmocka_unit_test(test_chunked_in_place),
		cmocka_unit_test(test_chunked_bad),
		cmocka_unit_test(test_chunked_limits),
		cmocka_unit_test(test_chunked_trailer_limit),
		cmocka_unit_test(test_query_get),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_query_none),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_format_head),
		cmocka_unit_test(test_format_head_no_length),
		cmocka_unit_test(test_format_date),
		cmocka_unit_test(test_format_head_small),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_error_body_escaping),
		cmocka_unit_test(test_error_body_small),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
