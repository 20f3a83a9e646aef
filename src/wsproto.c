/*
 * wsproto.c: the server side of the RFC 6455 opening handshake (contracts
 * in wsproto.h).  Run by the WS worker on each request head server.c has
 * parsed with http.c, before anything is upgraded.
 *
 * Owns nothing: no I/O, no logging, no allocation, no state between calls.
 * Invariants: every pointer handed back points into the request's buffer
 * (or is NULL), never past a field's value; a header list is read the
 * same way everywhere (comma-separated items, optional spaces and tabs
 * around each, empty items skipped) and over every field of that name,
 * not only the first; nothing is echoed to the client in the 101 that the
 * client did not send itself (RFC 6455 section 4.2.2).
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "b64.h"
#include "http.h"
#include "wsproto.h"

/* RFC 6455 section 1.3: appended to the key before hashing. */
static const char wsp_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
#define WSP_GUID_LEN	(sizeof(wsp_guid) - 1)

static int
wsp_is_ows(int c)
{
	return (c == ' ' || c == '\t');
}

/* s[0..n) equals the literal lit, ignoring ASCII case. */
static int
wsp_ieq(const char *s, size_t n, const char *lit)
{
	return (n == strlen(lit) && strncasecmp(s, lit, n) == 0);
}

/* s[0..n) equals the literal lit byte for byte. */
static int
wsp_eq(const char *s, size_t n, const char *lit)
{
	return (n == strlen(lit) && memcmp(s, lit, n) == 0);
}

/*
 * The next non-empty item of the comma list between *p and end, spaces
 * and tabs around it trimmed, into *item and *n; *p moves past it.
 * Returns 1, or 0 when the list is exhausted.
 */
static int
wsp_item_next(const char **p, const char *end, const char **item, size_t *n)
{
	const char	*s, *e, *comma;

	while (*p < end) {
		if ((comma = memchr(*p, ',', (size_t)(end - *p))) == NULL)
			comma = end;
		s = *p;
		e = comma;
		*p = comma < end ? comma + 1 : end;
		while (s < e && wsp_is_ows((unsigned char)*s))
			s++;
		while (e > s && wsp_is_ows((unsigned char)e[-1]))
			e--;
		if (e > s) {
			*item = s;
			*n = (size_t)(e - s);
			return (1);
		}
	}
	return (0);
}

/* Field h is called name (ASCII case ignored). */
static int
wsp_is_field(const struct http_header *h, const char *name)
{
	return (wsp_ieq(h->hh_name, h->hh_name_len, name));
}

/*
 * The number of fields called name; *first (may be NULL) receives the
 * first one, or NULL.
 */
static size_t
wsp_count(const struct http_request *req, const char *name,
    const struct http_header **first)
{
	size_t	 i, n = 0;

	if (first != NULL)
		*first = NULL;
	for (i = 0; i < req->hr_nhdrs; i++) {
		if (!wsp_is_field(&req->hr_hdrs[i], name))
			continue;
		if (n++ == 0 && first != NULL)
			*first = &req->hr_hdrs[i];
	}
	return (n);
}

/* Some field called name lists token (ASCII case ignored). */
static int
wsp_list_has(const struct http_request *req, const char *name,
    const char *token)
{
	const struct http_header	*h;
	const char			*p, *end, *item;
	size_t				 i, n;

	for (i = 0; i < req->hr_nhdrs; i++) {
		h = &req->hr_hdrs[i];
		if (!wsp_is_field(h, name))
			continue;
		p = h->hh_value;
		end = p + h->hh_value_len;
		while (wsp_item_next(&p, end, &item, &n))
			if (wsp_ieq(item, n, token))
				return (1);
	}
	return (0);
}

/*
 * Sec-WebSocket-Key: once, 24 characters of padded standard base64 of 16
 * bytes.  Fills up's key, or sets *why and returns -1.
 */
static int
wsp_check_key(const struct http_request *req, struct wsp_upgrade *up,
    const char **why)
{
	const struct http_header	*h;
	uint8_t				 raw[WSP_KEY_LEN / 4 * 3];
	size_t				 n, rawlen;

	n = wsp_count(req, "sec-websocket-key", &h);
	if (n == 0) {
		*why = "no Sec-WebSocket-Key";
		return (-1);
	}
	if (n > 1) {
		*why = "repeated Sec-WebSocket-Key";
		return (-1);
	}
	/* b64_decode also takes the URL-safe alphabet: RFC 6455 does not */
	if (h->hh_value_len != WSP_KEY_LEN ||
	    memchr(h->hh_value, '-', h->hh_value_len) != NULL ||
	    memchr(h->hh_value, '_', h->hh_value_len) != NULL ||
	    b64_decode(h->hh_value, h->hh_value_len, raw, sizeof(raw),
	    &rawlen) == -1 || rawlen != 16) {
		*why = "bad Sec-WebSocket-Key";
		return (-1);
	}
	up->wu_key = h->hh_value;
	up->wu_keylen = h->hh_value_len;
	return (0);
}

/* The Origin and Sec-WebSocket-Protocol fields into up, or set *why. */
static int
wsp_check_offers(const struct http_request *req, struct wsp_upgrade *up,
    const char **why)
{
	const struct http_header	*h;
	size_t				 i;

	if (wsp_count(req, "origin", &h) > 1) {
		*why = "repeated Origin";
		return (-1);
	}
	if (h != NULL) {
		up->wu_origin = h->hh_value;
		up->wu_originlen = h->hh_value_len;
	}
	for (i = 0; i < req->hr_nhdrs; i++) {
		h = &req->hr_hdrs[i];
		if (!wsp_is_field(h, "sec-websocket-protocol"))
			continue;
		if (up->wu_nprotos == WSP_MAX_PROTOCOL_FIELDS) {
			*why = "too many Sec-WebSocket-Protocol fields";
			return (-1);
		}
		up->wu_protos[up->wu_nprotos] = h->hh_value;
		up->wu_protolens[up->wu_nprotos] = h->hh_value_len;
		up->wu_nprotos++;
	}
	return (0);
}

/* The "mode" query parameter into up, or set *why. */
static int
wsp_check_mode(const struct http_request *req, struct wsp_upgrade *up,
    const char **why)
{
	const char	*v;
	size_t		 n;

	if ((v = http_query_get(req, "mode", &n)) == NULL ||
	    wsp_eq(v, n, "push"))
		up->wu_mode = WSP_MODE_PUSH;
	else if (wsp_eq(v, n, "poke"))
		up->wu_mode = WSP_MODE_POKE;
	else {
		*why = "mode must be push or poke";
		return (-1);
	}
	return (0);
}

/* wsp_check_upgrade: see wsproto.h. */
int
wsp_check_upgrade(const struct http_request *req, struct wsp_upgrade *up,
    const char **errstr)
{
	const struct http_header	*h;
	const char			*why = NULL;
	int				 rv = WSP_BAD_REQUEST;

	memset(up, 0, sizeof(*up));
	if (!wsp_list_has(req, "upgrade", "websocket")) {
		why = "not a WebSocket upgrade";
		rv = WSP_NOT_UPGRADE;
	} else if (req->hr_method != HTTP_M_GET)
		why = "WebSocket upgrade needs GET";
	else if (req->hr_minor != 1)
		why = "WebSocket upgrade needs HTTP/1.1";
	else if (wsp_count(req, "host", NULL) != 1)
		why = "no Host";
	else if (!wsp_list_has(req, "connection", "upgrade"))
		why = "Connection lacks upgrade";
	else if (wsp_count(req, "sec-websocket-version", &h) != 1) {
		why = "Sec-WebSocket-Version missing or repeated";
		rv = WSP_BAD_VERSION;
	} else if (!wsp_eq(h->hh_value, h->hh_value_len, WSP_VERSION)) {
		why = "unsupported Sec-WebSocket-Version";
		rv = WSP_BAD_VERSION;
	} else if (wsp_check_key(req, up, &why) == 0 &&
	    wsp_check_offers(req, up, &why) == 0 &&
	    wsp_check_mode(req, up, &why) == 0)
		rv = WSP_OK;
	if (errstr != NULL)
		*errstr = rv == WSP_OK ? NULL : why;
	return (rv);
}

/* wsp_accept_key: see wsproto.h. */
int
wsp_accept_key(const char *key, size_t keylen, char out[WSP_ACCEPT_LEN + 1])
{
	unsigned char	 buf[WSP_KEY_MAX + WSP_GUID_LEN];
	unsigned char	 md[SHA_DIGEST_LENGTH];

	if (key == NULL || keylen == 0 || keylen > WSP_KEY_MAX)
		return (-1);
	memcpy(buf, key, keylen);
	memcpy(buf + keylen, wsp_guid, WSP_GUID_LEN);
	if (SHA1(buf, keylen + WSP_GUID_LEN, md) == NULL)
		return (-1);
	/* 20 bytes give 28 characters and a NUL */
	if (EVP_EncodeBlock((unsigned char *)out, md, sizeof(md)) !=
	    WSP_ACCEPT_LEN)
		return (-1);
	return (0);
}

/*
 * s[0..n) is shaped like a compact JWS: three non-empty base64url
 * segments joined by two dots.  Says nothing about its contents.
 */
static int
wsp_is_jwt(const char *s, size_t n)
{
	size_t	 i, seg = 0, dots = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (seg == 0 || ++dots > 2)
				return (0);
			seg = 0;
		} else if ((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_')
			seg++;
		else
			return (0);
	}
	return (dots == 2 && seg > 0);
}

/*
 * Walk the offered subprotocols of up in order: *jwt receives the first
 * JWT-shaped item (or NULL), *ours the first item equal to WSP_PROTOCOL
 * (or NULL).
 */
static void
wsp_offered(const struct wsp_upgrade *up, const char **jwt, size_t *jwtlen,
    const char **ours, size_t *ourslen)
{
	const char	*p, *end, *item;
	size_t		 i, n;

	*jwt = *ours = NULL;
	*jwtlen = *ourslen = 0;
	for (i = 0; i < up->wu_nprotos && i < WSP_MAX_PROTOCOL_FIELDS; i++) {
		p = up->wu_protos[i];
		end = p + up->wu_protolens[i];
		while (wsp_item_next(&p, end, &item, &n)) {
			if (*jwt == NULL && wsp_is_jwt(item, n)) {
				*jwt = item;
				*jwtlen = n;
			} else if (*ours == NULL &&
			    wsp_eq(item, n, WSP_PROTOCOL)) {
				*ours = item;
				*ourslen = n;
			}
		}
	}
}

/* wsp_token: see wsproto.h. */
int
wsp_token(const struct http_request *req, const struct wsp_upgrade *up,
    const char **tok, size_t *toklen, const char **proto, size_t *protolen)
{
	const char	*jwt, *ours, *v;
	size_t		 jwtlen, ourslen, n;

	wsp_offered(up, &jwt, &jwtlen, &ours, &ourslen);
	*proto = ours;
	*protolen = ourslen;
	if ((v = http_bearer(req, &n)) != NULL) {
		*tok = v;
		*toklen = n;
		return (WSP_OK);
	}
	if (jwt != NULL) {
		*tok = *proto = jwt;
		*toklen = *protolen = jwtlen;
		return (WSP_OK);
	}
	if ((v = http_query_get(req, "token", &n)) != NULL && n > 0 &&
	    memchr(v, '%', n) == NULL) {
		*tok = v;
		*toklen = n;
		return (WSP_OK);
	}
	*tok = *proto = NULL;
	*toklen = *protolen = 0;
	return (WSP_NO_TOKEN);
}

/* wsp_format_101: see wsproto.h. */
int
wsp_format_101(char *buf, size_t cap, const char *accept, const char *proto,
    size_t protolen)
{
	size_t	 i;
	int	 n;

	if (buf == NULL || cap == 0 || accept == NULL)
		return (-1);
	if (proto != NULL) {
		if (protolen == 0 || protolen > INT_MAX)
			return (-1);
		for (i = 0; i < protolen; i++)
			if (proto[i] < '!' || proto[i] > '~')
				return (-1);
		n = snprintf(buf, cap, "HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n"
		    "Sec-WebSocket-Protocol: %.*s\r\n\r\n", accept,
		    (int)protolen, proto);
	} else
		n = snprintf(buf, cap, "HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	if (n < 0 || (size_t)n >= cap)
		return (-1);
	return (n);
}
