/*
 * http.h: strict, incremental HTTP/1.1 request parsing and response
 * formatting.  No I/O, no routing, no logging: http.c works on buffers the
 * caller owns, so every rule can be unit-tested byte by byte.
 */

#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "routingd.h"

enum http_method {
	HTTP_M_OTHER = 0,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_PATCH
};

/* Three-state result of the incremental parser (nginx's NGX_AGAIN idea). */
enum http_parse_result {
	HTTP_PARSE_OK = 0,		/* a whole head (or body) is there */
	HTTP_PARSE_AGAIN = 1,		/* need more bytes */
	HTTP_PARSE_ERROR = -1		/* reject: see hr_status, hr_errstr */
};

struct http_header {
	const char	*hh_name;	/* points into the caller's buffer */
	size_t		 hh_name_len;
	const char	*hh_value;	/* OWS trimmed */
	size_t		 hh_value_len;
};

/*
 * One parsed request.  Every pointer points into the buffer given to
 * http_parse_head() and stays valid as long as that buffer is unchanged.
 */
struct http_request {
	int			 hr_method;	/* enum http_method */
	const char		*hr_method_str;
	size_t			 hr_method_len;
	const char		*hr_target;	/* origin-form, raw */
	size_t			 hr_target_len;
	const char		*hr_path;	/* target up to '?' */
	size_t			 hr_path_len;
	const char		*hr_query;	/* after '?', NULL if none */
	size_t			 hr_query_len;
	int			 hr_minor;	/* HTTP/1.<minor>: 0 or 1 */
	struct http_header	 hr_hdrs[HTTP_MAX_HEADERS];
	size_t			 hr_nhdrs;
	size_t			 hr_head_len;	/* bytes of head incl. CRLFCRLF */
	int			 hr_keep_alive;	/* 1 if the conn may persist */
	int			 hr_upgrade;	/* Connection: upgrade present */
	int64_t			 hr_content_length; /* -1 if absent */
	int			 hr_chunked;	/* Transfer-Encoding: chunked */
	const char		*hr_body;	/* set by the server once read */
	size_t			 hr_body_len;
	int			 hr_status;	/* on error: 400, 413, 431, 501, 505 */
	const char		*hr_errstr;	/* on error: static reason */
};

/*
 * http_parse_head: parse and strictly validate the request head at the
 * start of buf (len bytes).  Rules (RFC 9112 plus the smuggling defences):
 * CRLF line ends only; no NUL or CTL but HTAB in values; token field names
 * with the colon right after; no line starting with SP/HTAB (obs-fold);
 * exactly one Host on HTTP/1.1; at most one Content-Length of 1-19 digits;
 * Transfer-Encoding only "chunked" and never with Content-Length; origin-form
 * targets only (no absolute-form, no CONNECT, no "*"); HTTP/1.0 or 1.1 only
 * (505 otherwise); at most HTTP_MAX_HEADERS fields; Content-Length above
 * max_body gives 413 (max_body < 0: no limit).  A head longer than
 * max_head bytes without its end is 431.  Empty lines before the request
 * line are skipped (RFC 9112 2.2) and counted in hr_head_len.  The
 * request line is judged from its first byte: a byte that no request line
 * can have there (anything but a token character before the method's SP,
 * an SP first, a CR not followed by LF) gives 400 "not an HTTP request"
 * (or "bare CR"/"bare LF in request head") at once, without waiting for
 * a line end; a valid method prefix such as "GE" gives AGAIN.  Returns
 * HTTP_PARSE_OK (req filled, hr_head_len set), AGAIN or ERROR.  Lines are
 * judged in order and the first bad one decides, so growing prefixes of a
 * buffer give AGAIN and then what the whole buffer gives.
 */
int		 http_parse_head(const char *buf, size_t len, size_t max_head,
		    int64_t max_body, struct http_request *req);

/*
 * Incremental chunked body decoder.  http_chunked_init() once per body;
 * http_chunked_feed() decodes in place: it consumes bytes from buf
 * (*consumed), appends decoded data to out (capacity outcap, *outlen
 * updated) and returns OK when the last chunk and trailers are done, AGAIN
 * for more input, ERROR on a malformed or over-limit (outcap) body.
 * out may lie at or before buf in the same array (decoding in place):
 * each decoded byte is written at or before the byte it came from.  Once
 * OK, *consumed ends right after the body; later calls consume nothing.
 * On ERROR hc_status says why: 400 malformed, 413 more than outcap.
 */
struct http_chunked {
	int		hc_state;
	uint64_t	hc_left;	/* bytes left in the current chunk */
	size_t		hc_digits;
	size_t		hc_linelen;
	int		hc_status;	/* on ERROR: 400 or 413 */
};
void		 http_chunked_init(struct http_chunked *);
int		 http_chunked_feed(struct http_chunked *, const char *buf,
		    size_t len, size_t *consumed, char *out, size_t outcap,
		    size_t *outlen);

/* http_header_get: the value of the first field named name (case-
 * insensitive), or NULL; *len receives its length. */
const char	*http_header_get(const struct http_request *, const char *name,
		    size_t *len);

/*
 * http_bearer: the token of "Authorization: Bearer <token>" (scheme
 * case-insensitive, then one or more spaces, no space inside the token),
 * or NULL; *len receives its length.  Only the first Authorization field
 * counts.
 */
const char	*http_bearer(const struct http_request *, size_t *len);

/* http_query_get: the raw value of query parameter key, or NULL. */
const char	*http_query_get(const struct http_request *, const char *key,
		    size_t *len);

/* http_reason: the reason phrase of a status code ("Not Found"). */
const char	*http_reason(int status);

/*
 * http_format_head: write "HTTP/1.1 <status> <reason>\r\n" plus Date,
 * Content-Type (if ctype), Content-Length, Connection (keep-alive or
 * close) and the caller's extra header lines (each ending in CRLF, or
 * NULL), then the blank line; also "Server: routingd".  1xx, 204 and 304
 * carry no Content-Length; 1xx carry no Connection either (a 101 gives its
 * own "Connection: Upgrade" in extra).  buf is NUL-terminated.  Returns
 * bytes written (without the NUL), or -1 if cap is too small.
 */
int		 http_format_head(char *buf, size_t cap, int status,
		    const char *ctype, size_t content_length, int keep_alive,
		    const char *extra);

/*
 * http_error_body: the JSON error body {"error":code,"message":msg} into
 * buf, escaping '"', '\\' and control characters.  buf is NUL-terminated.
 * Returns its length, or -1 if cap is too small.
 */
int		 http_error_body(char *buf, size_t cap, const char *code,
		    const char *msg);

#endif /* HTTP_H */
