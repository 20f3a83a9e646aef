/*
 * http.c: strict, incremental HTTP/1.1 request-head parser, chunked body
 * decoder, and response-head and JSON error-body formatting.  server.c
 * uses it in the API and WS workers.
 *
 * Everything here is pure: no I/O, no logging, no allocation (libc, and
 * json.c's string escaper for error bodies).
 * The head parser keeps no state between calls.  http_parse_head() reads
 * the head from the start of the caller's buffer, one CRLF-terminated line
 * at a time, and stops at the first complete line that breaks a rule; the
 * start of the request line (up to the method's SP) is judged byte by
 * byte, before its line end arrives.  So feeding growing prefixes of a
 * buffer gives AGAIN, then exactly what the whole buffer gives, and only
 * the first max_head bytes are ever read.
 *
 * Invariants: every pointer stored in a struct http_request points into
 * the caller's buffer; an ERROR always sets hr_status and hr_errstr (or
 * hc_status for the chunked decoder); the chunked decoder writes each
 * decoded byte at or before the position it was read from, so it may decode
 * in place (out at or before buf, in the same array).
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "json.h"

#define HTTP_CHUNK_DIGITS	16		/* hex digits of a chunk size */
#define HTTP_CHUNK_EXT_MAX	1024		/* bytes of extensions per size line */
#define HTTP_TRAILER_MAX	(8 * 1024)	/* bytes of trailer fields per body */
#define HTTP_DATE_LEN		29		/* bytes of an IMF-fixdate */

/* What the field lines said so far; judged once the head is complete. */
struct http_scan {
	const char	*hs_buf;
	size_t		 hs_end;	/* bytes we may look at */
	size_t		 hs_pos;	/* start of the next line */
	int		 hs_hosts;	/* Host fields */
	int		 hs_lengths;	/* Content-Length fields */
	int		 hs_codings;	/* Transfer-Encoding fields */
	int		 hs_te_unknown;	/* a coding other than chunked */
	int		 hs_close;	/* Connection: close */
	int		 hs_keep;	/* Connection: keep-alive */
	uint64_t	 hs_length;	/* Content-Length value */
};

struct http_method_name {
	const char	*hm_name;
	int		 hm_method;
};

static const struct http_method_name http_methods[] = {
	{ "GET", HTTP_M_GET },
	{ "HEAD", HTTP_M_HEAD },
	{ "POST", HTTP_M_POST },
	{ "PUT", HTTP_M_PUT },
	{ "DELETE", HTTP_M_DELETE },
	{ "OPTIONS", HTTP_M_OPTIONS },
	{ "PATCH", HTTP_M_PATCH }
};

struct http_status_reason {
	int		 hs_status;
	const char	*hs_reason;
};

static const struct http_status_reason http_reasons[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 417, "Expectation Failed" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" }
};

/* States of the chunked decoder (hc_state). */
enum http_chunk_state {
	HC_SIZE = 0,		/* first hex digit of a chunk size */
	HC_SIZE_MORE,		/* more digits, ';' or CR */
	HC_EXT,			/* chunk extensions, up to CR */
	HC_SIZE_LF,		/* LF ending the size line */
	HC_DATA,		/* hc_left data bytes */
	HC_DATA_CR,		/* CR after the data */
	HC_DATA_LF,		/* LF after the data */
	HC_TRAILER,		/* a trailer line starts, or the final CR */
	HC_TR_NAME,		/* trailer field name, up to ':' */
	HC_TR_VALUE,		/* trailer field value, up to CR */
	HC_TR_LF,		/* LF ending a trailer line */
	HC_END_LF,		/* LF ending the body */
	HC_DONE,
	HC_ERROR
};

static int	 http_fail(struct http_request *, int, const char *);
static int	 http_put(char *, size_t, size_t *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------------ */
/* Character classes                                                   */
/* ------------------------------------------------------------------ */

/* RFC 9110 tchar. */
static int
http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
http_is_token(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0)
		return (0);
	for (i = 0; i < n; i++)
		if (!http_is_tchar((unsigned char)p[i]))
			return (0);
	return (1);
}

/* field-value bytes: VCHAR, obs-text, SP, HTAB; no other CTL, no DEL. */
static int
http_is_vchar(unsigned char c)
{
	return (c == '\t' || (c >= 0x20 && c != 0x7f));
}

static int
http_is_value(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!http_is_vchar((unsigned char)p[i]))
			return (0);
	return (1);
}

/* uri-host [":" port] bytes (RFC 3986 reg-name, IP literals). */
static int
http_is_host(const char *p, size_t n)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (strchr("-._~!$&'()*+,;=:[]%", c) == NULL || c == '\0')
			return (0);
	}
	return (1);
}

static unsigned char
http_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* 1 if p[0..n) equals the lower-case word, ignoring ASCII case. */
static int
http_ieq(const char *p, size_t n, const char *word)
{
	size_t	 i;

	if (strlen(word) != n)
		return (0);
	for (i = 0; i < n; i++)
		if (http_lower((unsigned char)p[i]) != (unsigned char)word[i])
			return (0);
	return (1);
}

static int
http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c = http_lower(c);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* Trim SP/HTAB on both sides of p[0..*n). */
static const char *
http_trim(const char *p, size_t *n)
{
	while (*n > 0 && (p[0] == ' ' || p[0] == '\t')) {
		p++;
		(*n)--;
	}
	while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t'))
		(*n)--;
	return (p);
}

/* ------------------------------------------------------------------ */
/* Request head                                                        */
/* ------------------------------------------------------------------ */

static int
http_fail(struct http_request *req, int status, const char *errstr)
{
	req->hr_status = status;
	req->hr_errstr = errstr;
	return (HTTP_PARSE_ERROR);
}

/*
 * The next line, without its CRLF.  AGAIN when no LF lies within the
 * bytes we may read; ERROR for an LF without CR or a CR without LF.
 */
static int
http_next_line(struct http_scan *hs, struct http_request *req,
    const char **line, size_t *len)
{
	const char	*start = hs->hs_buf + hs->hs_pos, *lf;
	size_t		 n;

	lf = memchr(start, '\n', hs->hs_end - hs->hs_pos);
	if (lf == NULL)
		return (HTTP_PARSE_AGAIN);
	if (lf == start || lf[-1] != '\r')
		return (http_fail(req, 400, "bare LF in request head"));
	n = (size_t)(lf - start) - 1;
	if (memchr(start, '\r', n) != NULL)
		return (http_fail(req, 400, "bare CR in request head"));
	*line = start;
	*len = n;
	hs->hs_pos += n + 2;
	return (HTTP_PARSE_OK);
}

static int
http_method_lookup(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
		if (strlen(http_methods[i].hm_name) == n &&
		    memcmp(http_methods[i].hm_name, p, n) == 0)
			return (http_methods[i].hm_method);
	return (HTTP_M_OTHER);
}

/*
 * Judge the start of the request line at hs_pos before its end arrives,
 * so that bytes that can never begin a request (binary data, a TLS
 * ClientHello sent to a plain port) are refused at once instead of
 * waiting for a line end or the head timeout.  It looks only at bytes up
 * to the first SP, and whatever it decides stays true for any bytes that
 * follow.  OK: a CRLF (an empty line, skipped by the caller) or a
 * non-empty method and its SP.  AGAIN: nothing yet, a lone CR, or method
 * bytes and no SP yet.  ERROR: a CR not followed by LF, a bare LF, an SP
 * first, or any other byte that is not a token character before the
 * first SP.
 */
static int
http_scan_start(const struct http_scan *hs, struct http_request *req)
{
	const char	*p = hs->hs_buf + hs->hs_pos;
	size_t		 n = hs->hs_end - hs->hs_pos, i;

	if (n > 0 && p[0] == '\r') {
		if (n == 1)
			return (HTTP_PARSE_AGAIN);
		if (p[1] == '\n')
			return (HTTP_PARSE_OK);
		return (http_fail(req, 400, "bare CR in request head"));
	}
	if (n > 0 && p[0] == '\n')
		return (http_fail(req, 400, "bare LF in request head"));
	for (i = 0; i < n; i++) {
		if (p[i] == ' ' && i > 0)
			return (HTTP_PARSE_OK);
		if (!http_is_tchar((unsigned char)p[i]))
			return (http_fail(req, 400, "not an HTTP request"));
	}
	return (HTTP_PARSE_AGAIN);
}

/* "HTTP/" DIGIT "." DIGIT: 400 if malformed, 505 unless 1.0 or 1.1. */
static int
http_parse_version(struct http_request *req, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
	    v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
		return (http_fail(req, 400, "malformed HTTP version"));
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return (http_fail(req, 505, "only HTTP/1.0 and HTTP/1.1"));
	req->hr_minor = v[7] - '0';
	return (HTTP_PARSE_OK);
}

/* Split an origin-form target into path and query. */
static void
http_set_target(struct http_request *req, const char *t, size_t n)
{
	const char	*q;

	req->hr_target = t;
	req->hr_target_len = n;
	req->hr_path = t;
	req->hr_path_len = n;
	if ((q = memchr(t, '?', n)) != NULL) {
		req->hr_path_len = (size_t)(q - t);
		req->hr_query = q + 1;
		req->hr_query_len = n - req->hr_path_len - 1;
	}
}

/* method SP request-target SP HTTP-version, single spaces. */
static int
http_parse_request_line(struct http_request *req, const char *line,
    size_t n)
{
	const char	*sp1, *sp2, *t;
	size_t		 tlen, i;

	sp1 = memchr(line, ' ', n);
	if (sp1 == NULL || !http_is_token(line, (size_t)(sp1 - line)))
		return (http_fail(req, 400, "malformed method"));
	t = sp1 + 1;
	sp2 = memchr(t, ' ', n - (size_t)(t - line));
	if (sp2 == NULL || sp2 == t)
		return (http_fail(req, 400, "malformed request line"));
	tlen = (size_t)(sp2 - t);
	for (i = 0; i < tlen; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return (http_fail(req, 400, "bad byte in target"));
	if (http_parse_version(req, sp2 + 1, n - (size_t)(sp2 + 1 - line)) !=
	    HTTP_PARSE_OK)
		return (HTTP_PARSE_ERROR);
	req->hr_method_str = line;
	req->hr_method_len = (size_t)(sp1 - line);
	req->hr_method = http_method_lookup(line, req->hr_method_len);
	if (req->hr_method_len == 7 && memcmp(line, "CONNECT", 7) == 0)
		return (http_fail(req, 400, "CONNECT is not supported"));
	if (t[0] != '/')
		return (http_fail(req, 400, "only origin-form targets"));
	http_set_target(req, t, tlen);
	return (HTTP_PARSE_OK);
}

static int
http_field_host(struct http_scan *hs, struct http_request *req,
    const struct http_header *h)
{
	if (++hs->hs_hosts > 1)
		return (http_fail(req, 400, "more than one Host"));
	if (!http_is_host(h->hh_value, h->hh_value_len))
		return (http_fail(req, 400, "malformed Host"));
	return (HTTP_PARSE_OK);
}

static int
http_field_length(struct http_scan *hs, struct http_request *req,
    const struct http_header *h)
{
	size_t	 i;

	if (++hs->hs_lengths > 1)
		return (http_fail(req, 400, "more than one Content-Length"));
	if (h->hh_value_len == 0 || h->hh_value_len > 19)
		return (http_fail(req, 400, "malformed Content-Length"));
	for (i = 0; i < h->hh_value_len; i++) {
		if (h->hh_value[i] < '0' || h->hh_value[i] > '9')
			return (http_fail(req, 400,
			    "malformed Content-Length"));
		hs->hs_length = hs->hs_length * 10 +
		    (uint64_t)(h->hh_value[i] - '0');
	}
	return (HTTP_PARSE_OK);
}

static int
http_field_coding(struct http_scan *hs, struct http_request *req,
    const struct http_header *h)
{
	if (++hs->hs_codings > 1)
		return (http_fail(req, 400, "more than one Transfer-Encoding"));
	if (!http_is_token(h->hh_value, h->hh_value_len))
		return (http_fail(req, 400,
		    "Transfer-Encoding must be chunked"));
	if (http_ieq(h->hh_value, h->hh_value_len, "chunked"))
		req->hr_chunked = 1;
	else
		hs->hs_te_unknown = 1;
	return (HTTP_PARSE_OK);
}

/* Connection: a comma list of tokens; empty elements are ignored. */
static int
http_field_connection(struct http_scan *hs, struct http_request *req,
    const struct http_header *h)
{
	const char	*p = h->hh_value, *end = p + h->hh_value_len, *comma;
	const char	*e;
	size_t		 n;

	while (p <= end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		n = (size_t)(comma - p);
		e = http_trim(p, &n);
		if (n > 0 && !http_is_token(e, n))
			return (http_fail(req, 400, "malformed Connection"));
		if (http_ieq(e, n, "close"))
			hs->hs_close = 1;
		else if (http_ieq(e, n, "keep-alive"))
			hs->hs_keep = 1;
		else if (http_ieq(e, n, "upgrade"))
			req->hr_upgrade = 1;
		p = comma + 1;
	}
	return (HTTP_PARSE_OK);
}

/* The fields whose meaning the framing depends on. */
static int
http_field_meaning(struct http_scan *hs, struct http_request *req,
    const struct http_header *h)
{
	if (http_ieq(h->hh_name, h->hh_name_len, "host"))
		return (http_field_host(hs, req, h));
	if (http_ieq(h->hh_name, h->hh_name_len, "content-length"))
		return (http_field_length(hs, req, h));
	if (http_ieq(h->hh_name, h->hh_name_len, "transfer-encoding"))
		return (http_field_coding(hs, req, h));
	if (http_ieq(h->hh_name, h->hh_name_len, "connection"))
		return (http_field_connection(hs, req, h));
	return (HTTP_PARSE_OK);
}

/* field-name ":" OWS field-value OWS */
static int
http_parse_field(struct http_scan *hs, struct http_request *req,
    const char *line, size_t n)
{
	struct http_header	*h;
	const char		*colon;
	size_t			 vlen;

	if (line[0] == ' ' || line[0] == '\t')
		return (http_fail(req, 400, "obs-fold or leading whitespace"));
	colon = memchr(line, ':', n);
	if (colon == NULL || !http_is_token(line, (size_t)(colon - line)))
		return (http_fail(req, 400, "malformed field name"));
	if (req->hr_nhdrs == HTTP_MAX_HEADERS)
		return (http_fail(req, 431, "too many header fields"));
	vlen = n - (size_t)(colon + 1 - line);
	h = &req->hr_hdrs[req->hr_nhdrs++];
	h->hh_name = line;
	h->hh_name_len = (size_t)(colon - line);
	h->hh_value = http_trim(colon + 1, &vlen);
	h->hh_value_len = vlen;
	if (!http_is_value(h->hh_value, h->hh_value_len))
		return (http_fail(req, 400, "bad byte in field value"));
	return (http_field_meaning(hs, req, h));
}

/* The rules that need the whole head, in a fixed order. */
static int
http_finish_head(struct http_scan *hs, struct http_request *req,
    int64_t max_body)
{
	if (req->hr_minor == 1 && hs->hs_hosts == 0)
		return (http_fail(req, 400, "missing Host"));
	if (hs->hs_codings > 0 && hs->hs_lengths > 0)
		return (http_fail(req, 400,
		    "Content-Length with Transfer-Encoding"));
	if (hs->hs_codings > 0 && req->hr_minor == 0)
		return (http_fail(req, 400, "Transfer-Encoding in HTTP/1.0"));
	if (hs->hs_te_unknown)
		return (http_fail(req, 501, "unknown transfer coding"));
	if (hs->hs_lengths > 0) {
		req->hr_content_length = hs->hs_length > INT64_MAX ?
		    INT64_MAX : (int64_t)hs->hs_length;
		if (max_body >= 0 && hs->hs_length > (uint64_t)max_body)
			return (http_fail(req, 413, "request body too large"));
	}
	req->hr_head_len = hs->hs_pos;
	if (req->hr_minor == 1)
		req->hr_keep_alive = !hs->hs_close;
	else
		req->hr_keep_alive = hs->hs_keep && !hs->hs_close;
	return (HTTP_PARSE_OK);
}

/* http_parse_head: see http.h. */
int
http_parse_head(const char *buf, size_t len, size_t max_head,
    int64_t max_body, struct http_request *req)
{
	struct http_scan	 hs;
	const char		*line = NULL;
	size_t			 n = 0;
	int			 r;

	memset(req, 0, sizeof(*req));
	req->hr_content_length = -1;
	memset(&hs, 0, sizeof(hs));
	hs.hs_buf = buf;
	hs.hs_end = len < max_head ? len : max_head;

	/*
	 * RFC 9112 2.2: empty lines before the request line are ignored.
	 * The start of each line is judged before the line is complete.
	 */
	while ((r = http_scan_start(&hs, req)) == HTTP_PARSE_OK &&
	    (r = http_next_line(&hs, req, &line, &n)) == HTTP_PARSE_OK &&
	    n == 0)
		continue;
	if (r == HTTP_PARSE_OK)
		r = http_parse_request_line(req, line, n);
	while (r == HTTP_PARSE_OK) {
		if ((r = http_next_line(&hs, req, &line, &n)) != HTTP_PARSE_OK)
			break;
		if (n == 0)
			return (http_finish_head(&hs, req, max_body));
		r = http_parse_field(&hs, req, line, n);
	}
	if (r == HTTP_PARSE_AGAIN && len >= max_head)
		return (http_fail(req, 431, "request head too large"));
	return (r);
}

/* ------------------------------------------------------------------ */
/* Chunked body                                                        */
/* ------------------------------------------------------------------ */

/* http_chunked_init: see http.h. */
void
http_chunked_init(struct http_chunked *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->hc_state = HC_SIZE;
}

static void
http_chunk_fail(struct http_chunked *hc, int status)
{
	hc->hc_state = HC_ERROR;
	hc->hc_status = status;
}

/* A byte of the size line: digits, then extensions, then CR. */
static void
http_chunk_size(struct http_chunked *hc, unsigned char c, size_t room)
{
	int	 d;

	if ((d = http_hexval(c)) < 0) {
		if (hc->hc_state == HC_SIZE_MORE && c == ';') {
			hc->hc_linelen = 0;
			hc->hc_state = HC_EXT;
		} else if (hc->hc_state == HC_SIZE_MORE && c == '\r')
			hc->hc_state = HC_SIZE_LF;
		else
			http_chunk_fail(hc, 400);
	} else if (++hc->hc_digits > HTTP_CHUNK_DIGITS)
		http_chunk_fail(hc, 400);
	else {
		hc->hc_left = hc->hc_left * 16 + (uint64_t)d;
		hc->hc_state = HC_SIZE_MORE;
		if (hc->hc_left > room)
			http_chunk_fail(hc, 413);
	}
}

static void
http_chunk_ext(struct http_chunked *hc, unsigned char c)
{
	if (c == '\r')
		hc->hc_state = HC_SIZE_LF;
	else if (!http_is_vchar(c) || ++hc->hc_linelen > HTTP_CHUNK_EXT_MAX)
		http_chunk_fail(hc, 400);
}

/* The LF ending a size line, and the CRLF after a chunk's data. */
static void
http_chunk_crlf(struct http_chunked *hc, unsigned char c)
{
	int	 state = hc->hc_state;

	if (c != (state == HC_DATA_CR ? '\r' : '\n')) {
		http_chunk_fail(hc, 400);
		return;
	}
	if (state == HC_DATA_CR)
		hc->hc_state = HC_DATA_LF;
	else if (state == HC_DATA_LF) {
		hc->hc_digits = 0;
		hc->hc_state = HC_SIZE;
	} else {
		hc->hc_linelen = 0;
		hc->hc_state = hc->hc_left == 0 ? HC_TRAILER : HC_DATA;
	}
}

/* Trailer lines are checked (token ":" value CRLF) and dropped. */
static void
http_chunk_trailer(struct http_chunked *hc, unsigned char c)
{
	int	 ok;

	switch (hc->hc_state) {
	case HC_TRAILER:
		ok = c == '\r' || http_is_tchar(c);
		hc->hc_state = c == '\r' ? HC_END_LF : HC_TR_NAME;
		break;
	case HC_TR_NAME:
		ok = c == ':' || http_is_tchar(c);
		hc->hc_state = c == ':' ? HC_TR_VALUE : HC_TR_NAME;
		break;
	case HC_TR_VALUE:
		ok = c == '\r' || http_is_vchar(c);
		hc->hc_state = c == '\r' ? HC_TR_LF : HC_TR_VALUE;
		break;
	case HC_TR_LF:
		ok = c == '\n';
		hc->hc_state = HC_TRAILER;
		break;
	default:		/* HC_END_LF */
		ok = c == '\n';
		hc->hc_state = HC_DONE;
		break;
	}
	if (!ok || ++hc->hc_linelen > HTTP_TRAILER_MAX)
		http_chunk_fail(hc, 400);
}

static void
http_chunk_byte(struct http_chunked *hc, unsigned char c, size_t room)
{
	switch (hc->hc_state) {
	case HC_SIZE:
	case HC_SIZE_MORE:
		http_chunk_size(hc, c, room);
		break;
	case HC_EXT:
		http_chunk_ext(hc, c);
		break;
	case HC_SIZE_LF:
	case HC_DATA_CR:
	case HC_DATA_LF:
		http_chunk_crlf(hc, c);
		break;
	default:
		http_chunk_trailer(hc, c);
		break;
	}
}

/* Copy up to hc_left data bytes; the size check made room for them. */
static size_t
http_chunk_data(struct http_chunked *hc, const char *p, size_t n, char *out,
    size_t *outlen)
{
	if (n > hc->hc_left)
		n = (size_t)hc->hc_left;
	memmove(out + *outlen, p, n);
	*outlen += n;
	hc->hc_left -= n;
	if (hc->hc_left == 0)
		hc->hc_state = HC_DATA_CR;
	return (n);
}

/* http_chunked_feed: see http.h. */
int
http_chunked_feed(struct http_chunked *hc, const char *buf, size_t len,
    size_t *consumed, char *out, size_t outcap, size_t *outlen)
{
	size_t	 i = 0;

	while (i < len && hc->hc_state != HC_DONE && hc->hc_state != HC_ERROR) {
		if (hc->hc_state == HC_DATA)
			i += http_chunk_data(hc, buf + i, len - i, out, outlen);
		else
			http_chunk_byte(hc, (unsigned char)buf[i++],
			    outcap - *outlen);
	}
	*consumed = i;
	if (hc->hc_state == HC_DONE)
		return (HTTP_PARSE_OK);
	if (hc->hc_state == HC_ERROR)
		return (HTTP_PARSE_ERROR);
	return (HTTP_PARSE_AGAIN);
}

/* ------------------------------------------------------------------ */
/* Lookups                                                             */
/* ------------------------------------------------------------------ */

/* http_header_get: see http.h. */
const char *
http_header_get(const struct http_request *req, const char *name,
    size_t *len)
{
	const struct http_header	*h;
	size_t				 i, n = strlen(name), j;

	for (i = 0; i < req->hr_nhdrs; i++) {
		h = &req->hr_hdrs[i];
		if (h->hh_name_len != n)
			continue;
		for (j = 0; j < n; j++)
			if (http_lower((unsigned char)h->hh_name[j]) !=
			    http_lower((unsigned char)name[j]))
				break;
		if (j < n)
			continue;
		if (len != NULL)
			*len = h->hh_value_len;
		return (h->hh_value);
	}
	return (NULL);
}

/* http_bearer: see http.h. */
const char *
http_bearer(const struct http_request *req, size_t *len)
{
	const char	*v;
	size_t		 n;

	if ((v = http_header_get(req, "authorization", &n)) == NULL ||
	    n < 7 || strncasecmp(v, "Bearer ", 7) != 0)
		return (NULL);
	v += 7;
	n -= 7;
	while (n > 0 && *v == ' ') {
		v++;
		n--;
	}
	if (n == 0 || memchr(v, ' ', n) != NULL)
		return (NULL);
	*len = n;
	return (v);
}

/* http_query_get: see http.h. */
const char *
http_query_get(const struct http_request *req, const char *key, size_t *len)
{
	const char	*p = req->hr_query, *end, *amp, *eq, *kend;
	size_t		 klen = strlen(key);

	if (p == NULL)
		return (NULL);
	end = p + req->hr_query_len;
	for (;;) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		kend = eq != NULL ? eq : amp;
		if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
			if (len != NULL)
				*len = eq != NULL ? (size_t)(amp - eq - 1) : 0;
			return (eq != NULL ? eq + 1 : amp);
		}
		if (amp == end)
			return (NULL);
		p = amp + 1;
	}
}

/* http_reason: see http.h. */
const char *
http_reason(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(http_reasons) / sizeof(http_reasons[0]); i++)
		if (http_reasons[i].hs_status == status)
			return (http_reasons[i].hs_reason);
	return ("Unknown");
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

/* Append a formatted string at *off; -1 if it does not fit with a NUL. */
static int
http_put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (*off >= cap)
		return (-1);
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *off)
		return (-1);
	*off += (size_t)n;
	return (0);
}

/* Two decimal digits of v (0-99) at p. */
static void
http_2digits(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * RFC 9110 IMF-fixdate, by hand so no locale can change it:
 * "Sun, 06 Nov 1994 08:49:37 GMT" and a NUL (HTTP_DATE_LEN + 1 bytes).
 */
static void
http_date(char buf[HTTP_DATE_LEN + 1])
{
	static const char	 days[] = "SunMonTueWedThuFriSat";
	static const char	 mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm		 tm;
	time_t			 now = time(NULL);
	unsigned		 year;

	if (gmtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	year = (unsigned)(tm.tm_year + 1900);
	memcpy(buf, days + 3 * ((unsigned)tm.tm_wday % 7), 3);
	memcpy(buf + 3, ", ", 2);
	http_2digits(buf + 5, (unsigned)tm.tm_mday);
	buf[7] = ' ';
	memcpy(buf + 8, mons + 3 * ((unsigned)tm.tm_mon % 12), 3);
	buf[11] = ' ';
	http_2digits(buf + 12, year / 100);
	http_2digits(buf + 14, year);
	buf[16] = ' ';
	http_2digits(buf + 17, (unsigned)tm.tm_hour);
	buf[19] = ':';
	http_2digits(buf + 20, (unsigned)tm.tm_min);
	buf[22] = ':';
	http_2digits(buf + 23, (unsigned)tm.tm_sec);
	memcpy(buf + 25, " GMT", 5);
}

/* http_format_head: see http.h. */
int
http_format_head(char *buf, size_t cap, int status, const char *ctype,
    size_t content_length, int keep_alive, const char *extra)
{
	char	 date[HTTP_DATE_LEN + 1];
	size_t	 off = 0;
	int	 interim = status >= 100 && status < 200;
	int	 nolength = interim || status == 204 || status == 304;

	http_date(date);
	if (http_put(buf, cap, &off, "HTTP/1.1 %d %s\r\nServer: routingd\r\n"
	    "Date: %s\r\n", status, http_reason(status), date) == -1)
		return (-1);
	if (ctype != NULL &&
	    http_put(buf, cap, &off, "Content-Type: %s\r\n", ctype) == -1)
		return (-1);
	if (!nolength && http_put(buf, cap, &off, "Content-Length: %zu\r\n",
	    content_length) == -1)
		return (-1);
	if (!interim && http_put(buf, cap, &off, "Connection: %s\r\n",
	    keep_alive ? "keep-alive" : "close") == -1)
		return (-1);
	if (http_put(buf, cap, &off, "%s\r\n", extra != NULL ? extra : "") ==
	    -1)
		return (-1);
	return ((int)off);
}

/* http_error_body: see http.h. */
int
http_error_body(char *buf, size_t cap, const char *code, const char *msg)
{
	size_t	 off = 0;

	if (code == NULL)
		code = "";
	if (msg == NULL)
		msg = "";
	if (http_put(buf, cap, &off, "{\"error\":") == -1 ||
	    json_put_string(buf, cap, &off, code, strlen(code)) == -1 ||
	    http_put(buf, cap, &off, ",\"message\":") == -1 ||
	    json_put_string(buf, cap, &off, msg, strlen(msg)) == -1 ||
	    http_put(buf, cap, &off, "}") == -1)
		return (-1);
	return ((int)off);
}
