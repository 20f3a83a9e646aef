/*
 * auth.h: who is calling, and from where.  Bearer-token (JWT)
 * authentication of HTTP API requests and WebSocket upgrades (see
 * routingd(8)) with a per-worker cache of verified tokens, and the
 * cors_origins check of a request's Origin.  Used by the API and the WS
 * workers; the supervisor uses only auth_mint().
 */

#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "ids.h"
#include "jwt.h"

#define AUTH_CACHE_SIZE		4096	/* cached tokens per worker (2^n) */

struct auth;

/* The caller of one request. */
struct auth_id {
	char		 ai_user[ID_MAX + 1];
	char		 ai_device[ID_MAX + 1];
	int64_t		 ai_exp;		/* the token's exp, unix s */
};

enum auth_result {
	AUTH_OK = 0,
	AUTH_DENIED = -1,	/* 401 unauthorized */
	AUTH_BAD_DEVICE = -2	/* 400: X-Device-Id/deviceId is not an id */
};

/*
 * auth_new: load the keys named by cfg (jwt_secret, jwt_secret_file minus
 * one trailing newline, jwt_jwks_file) and the policy (issuer, audience,
 * claims).  cfg must outlive the result.  Returns NULL with *errstr set
 * (a static text) when no key can be loaded.  Called after fork in the
 * worker that uses it.
 */
struct auth	*auth_new(const struct config *cfg, const char **errstr);

/* auth_free: wipe and free.  NULL is accepted. */
void		 auth_free(struct auth *);

/*
 * auth_request: authenticate req ("Authorization: Bearer <jwt>") at
 * wall-clock time now.  The device is the token's device claim, else the
 * X-Device-Id header, else the deviceId query parameter, else "default".
 * A verified token is cached (keyed by its SHA-256) until its exp plus
 * leeway; *hit is set to 1 when the cache answered, 0 when the token
 * was looked up and verified (or refused), -1 when there was no token to
 * look up (missing, not Bearer, too long).  Returns
 * AUTH_OK with *id filled, or an auth_result with *reason (a static text
 * for a debug log; never token bytes).
 */
int		 auth_request(struct auth *, const struct http_request *req,
		    time_t now, struct auth_id *id, int *hit,
		    const char **reason);

/*
 * auth_request_token: auth_request with the token (len bytes) found by
 * the caller elsewhere (a WebSocket upgrade: Sec-WebSocket-Protocol or
 * the token query parameter); the device rules are the same.
 */
int		 auth_request_token(struct auth *, const struct http_request *req,
		    const char *tok, size_t len, time_t now, struct auth_id *id,
		    int *hit, const char **reason);

/*
 * auth_origin_allowed: 1 if origin[0..len) is in cfg's cors_origins
 * (byte for byte) or the list holds "*" (then *any is set to 1), else 0
 * (*any 0).  The API's CORS headers and the WebSocket upgrade's Origin
 * check both ask it.
 */
int		 auth_origin_allowed(const struct config *cfg,
		    const char *origin, size_t len, int *any);

/* Longest lifetime auth_mint() gives: what the verifier accepts. */
#define AUTH_MINT_TTL_MAX	JWT_MAX_LIFETIME

/*
 * auth_mint: an HS256 token for user (and device, "" for none) valid from
 * now for ttl seconds (1..AUTH_MINT_TTL_MAX), signed with cfg's jwt_secret
 * or jwt_secret_file and carrying the claims cfg's verifier demands (user
 * and device claim names, iss, aud, iat, exp).  out (capacity cap)
 * receives the token and a NUL, *exp its expiry (unix s).  Returns 0, or
 * -1 with *errstr (static text) set: a bad id or ttl, only jwt_jwks_file
 * configured (no HS256 secret to sign with), an unreadable secret file.
 * The supervisor calls it for `routingctl token`; the secret is wiped
 * before it returns.
 */
int		 auth_mint(const struct config *cfg, const char *user,
		    const char *device, int64_t ttl, time_t now, char *out,
		    size_t cap, int64_t *exp, const char **errstr);

#endif /* AUTH_H */
