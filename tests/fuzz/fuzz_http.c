/*
 * fuzz_http.c: libFuzzer target for http.c, the request-head parser and
 * the chunked body decoder the API and WS workers run on every byte a
 * client sends.  Checks that no input crashes them or reads outside the
 * buffer (each parse gets a heap copy of exactly the bytes it may read),
 * and the incremental promise of http.h: the verdict on the whole input
 * (OK, AGAIN or ERROR, with the status, the reason, the head length and
 * the parsed fields) is the one reached by feeding it in two pieces split
 * at a point derived from the data, and by feeding growing prefixes as a
 * connection would; a prefix that is not the whole head gives AGAIN.
 * When the head is OK and says chunked, the body after it is decoded
 * whole and in two pieces, and both must give the same verdict and bytes.
 * A disagreement aborts.  The WebSocket upgrade checks (wsproto.c) run on
 * every head that parses.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "wsproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MAX_BODY	4096	/* outcap of the chunked decoder */

static void
fuzz_fail(const char *what, size_t at)
{
	fprintf(stderr, "fuzz_http: %s (at %zu)\n", what, at);
	abort();
}

/* A cheap hash of the input: the source of split points and limits. */
static uint32_t
fuzz_hash(const uint8_t *d, size_t n)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return (h);
}

/* http_parse_head on a heap copy of exactly len bytes. */
static int
fuzz_parse(const uint8_t *d, size_t len, size_t max_head, int64_t max_body,
    struct http_request *req, char **copy)
{
	*copy = malloc(len ? len : 1);
	if (*copy == NULL)
		abort();
	memcpy(*copy, d, len);
	memset(req, 0, sizeof(*req));
	return (http_parse_head(*copy, len, max_head, max_body, req));
}

/* Same verdict and, for OK, the same parsed head (by offsets). */
static void
fuzz_same(int ra, const struct http_request *a, const char *ba, int rb,
    const struct http_request *b, const char *bb, const char *what,
    size_t at)
{
	size_t	i;

	if (ra != rb)
		fuzz_fail(what, at);
	if (ra == HTTP_PARSE_ERROR && (a->hr_status != b->hr_status ||
	    strcmp(a->hr_errstr, b->hr_errstr) != 0))
		fuzz_fail(what, at);
	if (ra != HTTP_PARSE_OK)
		return;
	if (a->hr_head_len != b->hr_head_len || a->hr_method != b->hr_method ||
	    a->hr_target - ba != b->hr_target - bb ||
	    a->hr_target_len != b->hr_target_len ||
	    a->hr_path_len != b->hr_path_len ||
	    a->hr_nhdrs != b->hr_nhdrs || a->hr_minor != b->hr_minor ||
	    a->hr_keep_alive != b->hr_keep_alive ||
	    a->hr_upgrade != b->hr_upgrade ||
	    a->hr_content_length != b->hr_content_length ||
	    a->hr_chunked != b->hr_chunked)
		fuzz_fail(what, at);
	for (i = 0; i < a->hr_nhdrs; i++)
		if (a->hr_hdrs[i].hh_name - ba != b->hr_hdrs[i].hh_name - bb ||
		    a->hr_hdrs[i].hh_value_len != b->hr_hdrs[i].hh_value_len)
			fuzz_fail(what, at);
}

/* What a worker asks of a parsed head: lookups and the upgrade check. */
static void
fuzz_use_head(const struct http_request *req)
{
	struct wsp_upgrade	 up;
	const char		*tok, *proto, *err;
	size_t			 len, toklen, protolen;
	char			 accept[WSP_ACCEPT_LEN + 1];

	(void)http_header_get(req, "host", &len);
	(void)http_bearer(req, &len);
	(void)http_query_get(req, "token", &len);
	if (wsp_check_upgrade(req, &up, &err) != WSP_OK)
		return;
	if (wsp_accept_key(up.wu_key, up.wu_keylen, accept) != 0)
		fuzz_fail("accepted upgrade key has no accept value", 0);
	(void)wsp_token(req, &up, &tok, &toklen, &proto, &protolen);
}

/* Decode a chunked body whole; returns the verdict, fills out. */
static int
fuzz_dechunk(const char *body, size_t n, size_t split, char *out,
    size_t *outlen, size_t *used)
{
	struct http_chunked	 hc;
	size_t			 u1, u2;
	int			 r;

	http_chunked_init(&hc);
	*outlen = 0;
	r = http_chunked_feed(&hc, body, split, &u1, out, FUZZ_MAX_BODY,
	    outlen);
	if (r != HTTP_PARSE_AGAIN || split == n) {
		*used = u1;
		return (r);
	}
	if (u1 > split)
		fuzz_fail("chunked decoder consumed more than it got", u1);
	r = http_chunked_feed(&hc, body + u1, n - u1, &u2, out, FUZZ_MAX_BODY,
	    outlen);
	*used = u1 + u2;
	return (r);
}

static void
fuzz_chunked(const char *body, size_t n, uint32_t h)
{
	char	*copy, *out1, *out2;
	size_t	 len1, len2, used1, used2, split;
	int	 r1, r2;

	split = n ? h % (n + 1) : 0;
	if ((copy = malloc(n ? n : 1)) == NULL ||
	    (out1 = malloc(FUZZ_MAX_BODY)) == NULL ||
	    (out2 = malloc(FUZZ_MAX_BODY)) == NULL)
		abort();
	memcpy(copy, body, n);
	r1 = fuzz_dechunk(copy, n, n, out1, &len1, &used1);
	r2 = fuzz_dechunk(copy, n, split, out2, &len2, &used2);
	if (r1 != r2 || (r1 == HTTP_PARSE_OK && (len1 != len2 ||
	    used1 != used2 || memcmp(out1, out2, len1) != 0)))
		fuzz_fail("chunked body: whole and split disagree", split);
	if (r1 == HTTP_PARSE_OK && (len1 > FUZZ_MAX_BODY || used1 > n))
		fuzz_fail("chunked body: out of bounds", used1);
	free(copy);
	free(out1);
	free(out2);
}

/* Whole against split, with one head limit. */
static void
fuzz_head(const uint8_t *d, size_t n, size_t max_head, uint32_t h)
{
	struct http_request	*whole, *part;
	char			*bw, *bp;
	size_t			 k, step;
	int			 rw, rp;

	if ((whole = malloc(sizeof(*whole))) == NULL ||
	    (part = malloc(sizeof(*part))) == NULL)
		abort();
	rw = fuzz_parse(d, n, max_head, 1024, whole, &bw);

	/* One split point: the prefix must agree with the whole. */
	k = n ? h % (n + 1) : 0;
	rp = fuzz_parse(d, k, max_head, 1024, part, &bp);
	if (rp == HTTP_PARSE_OK || rp == HTTP_PARSE_ERROR)
		fuzz_same(rw, whole, bw, rp, part, bp,
		    "prefix verdict differs from the whole", k);
	else if (rw == HTTP_PARSE_OK && whole->hr_head_len <= k)
		fuzz_fail("prefix holding the whole head gives AGAIN", k);
	free(bp);

	/* Growing prefixes, as reads on a connection would bring. */
	step = 1 + (h >> 8) % 97;
	rp = HTTP_PARSE_AGAIN;
	for (k = 0; k < n && rp == HTTP_PARSE_AGAIN; ) {
		k = k + step < n ? k + step : n;
		rp = fuzz_parse(d, k, max_head, 1024, part, &bp);
		if (rp != HTTP_PARSE_AGAIN)
			fuzz_same(rw, whole, bw, rp, part, bp,
			    "incremental verdict differs from the whole", k);
		free(bp);
	}
	if (n > 0 && rp == HTTP_PARSE_AGAIN && rw != HTTP_PARSE_AGAIN)
		fuzz_fail("incremental parse never decided", n);

	if (rw == HTTP_PARSE_OK) {
		if (whole->hr_head_len > n || whole->hr_head_len > max_head)
			fuzz_fail("head length out of bounds", whole->hr_head_len);
		fuzz_use_head(whole);
		if (whole->hr_chunked)
			fuzz_chunked(bw + whole->hr_head_len,
			    n - whole->hr_head_len, h >> 16);
	}
	free(bw);
	free(whole);
	free(part);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint32_t	h;

	h = fuzz_hash(d, n);
	fuzz_head(d, n, HTTP_MAX_HEAD, h);
	/* A small head limit, so that 431 is reached too. */
	fuzz_head(d, n, 16 + (h >> 4) % 256, h * 2654435761u);
	return (0);
}
