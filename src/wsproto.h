/*
 * wsproto.h: the server side of the RFC 6455 opening handshake: validate
 * a parsed upgrade request, find the caller's token, check the Origin,
 * compute Sec-WebSocket-Accept and format the 101.  Pure code: no I/O, no
 * logging, no allocation; every pointer handed out points into the
 * request's buffer (see struct http_request) or into the caller's.
 */

#ifndef WSPROTO_H
#define WSPROTO_H

#include <stddef.h>

#include "http.h"

#define WSP_ACCEPT_LEN		28	/* base64 of a SHA-1 digest */
#define WSP_KEY_LEN		24	/* the 16-byte nonce, base64 */
#define WSP_KEY_MAX		128	/* wsp_accept_key limit */
#define WSP_MAX_PROTOCOL_FIELDS	8	/* Sec-WebSocket-Protocol */
#define WSP_PROTOCOL		"routingd.v1"
#define WSP_VERSION		"13"	/* the one version we speak */

enum wsp_result {
	WSP_OK = 0,
	WSP_NOT_UPGRADE,	/* no "Upgrade: websocket": plain HTTP */
	WSP_BAD_REQUEST,	/* malformed handshake: 400 */
	WSP_BAD_VERSION,	/* 426 with "Sec-WebSocket-Version: 13" */
	WSP_NO_TOKEN		/* wsp_token: no transport carried one */
};

enum wsp_mode {
	WSP_MODE_PUSH = 0,	/* "mode=push" or no mode parameter */
	WSP_MODE_POKE		/* "mode=poke" */
};

/*
 * What a valid upgrade request offered.  Every pointer points into the
 * buffer the request was parsed from; lengths exclude any NUL (there is
 * none).
 */
struct wsp_upgrade {
	const char	*wu_key;	/* Sec-WebSocket-Key, WSP_KEY_LEN */
	size_t		 wu_keylen;
	const char	*wu_origin;	/* Origin, NULL if absent */
	size_t		 wu_originlen;
	/* raw Sec-WebSocket-Protocol field values, in request order */
	const char	*wu_protos[WSP_MAX_PROTOCOL_FIELDS];
	size_t		 wu_protolens[WSP_MAX_PROTOCOL_FIELDS];
	size_t		 wu_nprotos;	/* 0: none offered */
	int		 wu_mode;	/* enum wsp_mode */
};

/*
 * wsp_check_upgrade: judge req as a WebSocket opening handshake (RFC 6455
 * section 4.2.1).  Without an Upgrade field whose comma list has the
 * token "websocket" (any case) the request is WSP_NOT_UPGRADE and the
 * caller treats it as plain HTTP.  Otherwise it is WSP_BAD_REQUEST unless
 * the method is GET, the version HTTP/1.1, Host present, a Connection
 * list has "upgrade" (any case), Sec-WebSocket-Key appears once and is 24
 * characters of padded standard base64 decoding to 16 bytes, at most one
 * Origin and at most WSP_MAX_PROTOCOL_FIELDS Sec-WebSocket-Protocol
 * fields are present, and the "mode" query parameter is absent, "push"
 * or "poke" (byte-exact; the first one counts).  Sec-WebSocket-Version
 * must appear exactly once and be exactly "13", else WSP_BAD_VERSION: a
 * missing field, a list ("13, 8") and a repeated field (even "13" twice)
 * all get the 426 that names the one version we speak.  The version is
 * judged before the key.  On WSP_OK *up is filled; on any result *up is
 * overwritten.  *errstr (may be NULL) receives a static reason, NULL on
 * WSP_OK.  Returns an enum wsp_result.
 */
int		 wsp_check_upgrade(const struct http_request *req,
		    struct wsp_upgrade *up, const char **errstr);

/*
 * wsp_accept_key: the Sec-WebSocket-Accept value for key[0..keylen):
 * base64(SHA-1(key || "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), written
 * to out with a NUL.  keylen must be 1..WSP_KEY_MAX.  Returns 0, or -1
 * (out then undefined).
 */
int		 wsp_accept_key(const char *key, size_t keylen,
		    char out[WSP_ACCEPT_LEN + 1]);

/*
 * wsp_token: find the caller's token in a request wsp_check_upgrade()
 * accepted into *up.  In this order: "Authorization: Bearer <token>"
 * (scheme in any case, one or more spaces, a token without spaces; the
 * first Authorization field only); the first item of the offered
 * subprotocols (every Sec-WebSocket-Protocol field's comma list, in
 * order) shaped like a JWT (three non-empty segments of A-Z a-z 0-9 - _
 * joined by two dots); the raw "token" query parameter (non-empty, no
 * '%').  A transport that does not give a token is skipped.  On WSP_OK
 * *tok and *toklen point at the token in the request's buffer, and
 * *proto and *protolen at the subprotocol the 101 must echo: the JWT
 * item itself when the token came from the subprotocols, else the
 * offered item WSP_PROTOCOL if the client offered it, else NULL (and 0).
 * Returns WSP_OK or WSP_NO_TOKEN (outputs then NULL and 0).  The token is
 * not verified here.
 */
int		 wsp_token(const struct http_request *req,
		    const struct wsp_upgrade *up, const char **tok,
		    size_t *toklen, const char **proto, size_t *protolen);


/*
 * wsp_format_101: the whole 101 Switching Protocols head into buf (cap
 * bytes, NUL-terminated): Upgrade, Connection, Sec-WebSocket-Accept:
 * accept, and Sec-WebSocket-Protocol: proto[0..protolen) when proto is
 * not NULL; never Sec-WebSocket-Extensions.  Returns the length without
 * the NUL, or -1 if cap is too small or proto is empty or holds a byte
 * outside '!'..'~' (buf is then undefined).
 */
int		 wsp_format_101(char *buf, size_t cap, const char *accept,
		    const char *proto, size_t protolen);

#endif /* WSPROTO_H */
