/*
 * jwt.h: a strict JWT (RFC 7519, JWS compact RFC 7515) verifier on
 * OpenSSL 3, and an HS256 minting helper (used by the supervisor for
 * `routingctl token` through auth_mint(), the unit tests and the
 * benchmark's load generator).  No
 * logging, no exit: every failure is -1 with a short static reason meant
 * for a debug log line; a reason never contains token bytes.
 *
 * Keys live in a struct jwt_keys, built by each API and WS worker after
 * fork (auth_new, from the configuration) and only read afterwards
 * (jwt_verify() does not modify it).  Each key is bound to exactly
 * one algorithm (RFC 8725 3.1) and found by its kid:
 *   - HS256 from jwt_secret / jwt_secret_file: added with kid "" (no kid),
 *     so it matches only tokens whose header has no "kid" member.  A token
 *     naming any kid never falls back to it.
 *   - RS256 (RSA, 2048 to 8192 bits), ES256 (P-256 only) and HS256 ("oct")
 *     from a JWKS file; each JWK must name its "alg".  A JWK without "kid"
 *     gets kid "" and, like the secret, matches only kid-less tokens; at
 *     most one key per kid, so a secret and a kid-less JWK cannot coexist.
 * The header's alg must equal the key's alg byte for byte; "none" and
 * every other algorithm are never accepted.
 */

#ifndef JWT_H
#define JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JWT_MAX_KEYS		64		/* keys per table */
#define JWT_KID_MAX		128		/* bytes of a kid */
#define JWT_ID_MAX		128		/* bytes of a user or device id */
#define JWT_SECRET_MIN		32		/* bytes of an HS256 secret */
#define JWT_SECRET_MAX		(64 * 1024)
#define JWT_RSA_MIN_BITS	2048
#define JWT_RSA_MAX_BITS	8192
#define JWT_JWKS_MAX		(1024 * 1024)	/* bytes of a JWKS document */
#define JWT_MAX_TOKEN		4096		/* default token size limit */
#define JWT_MAX_TOKEN_CAP	8192		/* policy values are capped here */
#define JWT_MAX_HEADER		1024		/* decoded header bytes */
#define JWT_MAX_PAYLOAD		4096		/* decoded payload bytes */
#define JWT_LEEWAY		60		/* default clock leeway, seconds */
#define JWT_LEEWAY_MAX		300
#define JWT_MAX_LIFETIME	(24 * 3600)	/* default exp - iat cap */

struct jwt_keys;		/* opaque: holds EVP_PKEYs and secrets */

/*
 * What jwt_verify() demands beyond a valid signature.  Start from
 * jwt_policy_init() and override fields; strings are borrowed, not copied.
 */
struct jwt_policy {
	const char	*jp_issuer;	/* exact "iss"; NULL: not checked */
	const char	*jp_audience;	/* in "aud"; NULL: not checked */
	const char	*jp_user_claim;	/* NULL: "sub" */
	const char	*jp_device_claim; /* NULL: "device_id" */
	int64_t		 jp_leeway;	/* seconds, 0..JWT_LEEWAY_MAX */
	size_t		 jp_max_token;	/* bytes; 0: JWT_MAX_TOKEN; capped
					 * at JWT_MAX_TOKEN_CAP */
	int64_t		 jp_max_lifetime; /* seconds; <= 0: no cap */
	int		 jp_es256_low_s; /* 1: refuse an ES256 S above n/2 */
};

/* What a verified token says.  Ids are NUL-terminated printable ASCII. */
struct jwt_claims {
	char		 jc_user[JWT_ID_MAX + 1];
	char		 jc_device[JWT_ID_MAX + 1]; /* "" if the claim is absent */
	int64_t		 jc_exp;
	int64_t		 jc_iat;		/* 0 if absent */
	int64_t		 jc_nbf;		/* 0 if absent */
	const char	*jc_alg;		/* static: "HS256", ... */
};

/* jwt_keys_new: an empty key table, or NULL if out of memory. */
struct jwt_keys	*jwt_keys_new(void);

/* jwt_keys_free: release the table, wiping secrets first.  NULL is ok. */
void		 jwt_keys_free(struct jwt_keys *);

/* jwt_keys_count: how many keys the table holds. */
size_t		 jwt_keys_count(const struct jwt_keys *);

/*
 * jwt_keys_add_hs256: add an HS256 key of len secret bytes (copied; at
 * least JWT_SECRET_MIN, at most JWT_SECRET_MAX) under kid (NULL or "":
 * matches tokens without a kid; else 1-128 bytes of 0x21-0x7e).  The
 * bytes are used exactly as given: a caller reading a file decides about
 * a trailing newline.  Returns 0, or -1 with *errstr set (bad length, bad
 * or duplicate kid, table full, out of memory).
 */
int		 jwt_keys_add_hs256(struct jwt_keys *, const char *kid,
		    const void *secret, size_t len, const char **errstr);

/*
 * jwt_keys_load_jwks: add every key of the JWKS document buf[0..len)
 * ({"keys":[...]}; other top-level members are ignored).  Each JWK needs
 * "kty" and "alg": RSA+RS256 with "n" and "e", EC+ES256 with "crv":"P-256",
 * "x" and "y" (32 bytes each), or oct+HS256 with "k" (>= 32 bytes); all
 * strict base64url.  "kid" is optional (see above), "use" must be "sig" if
 * present, private members ("d") are refused, other members are ignored.
 * Any bad key fails the whole load and leaves the table as it was.
 * Returns the number of keys added, or -1 with *errstr set.
 */
int		 jwt_keys_load_jwks(struct jwt_keys *, const char *buf,
		    size_t len, const char **errstr);

/*
 * jwt_keys_load_jwks_file: read path (a regular file of at most
 * JWT_JWKS_MAX bytes) and load it as jwt_keys_load_jwks() does; the
 * buffer is wiped afterwards since it may hold "oct" secrets.  Returns
 * the number of keys added, or -1 with *errstr set (errno is meaningful
 * when the reason names a system call).
 */
int		 jwt_keys_load_jwks_file(struct jwt_keys *, const char *path,
		    const char **errstr);

/* jwt_policy_init: defaults: no iss/aud check, "sub", "device_id",
 * 60 s leeway, 4096-byte tokens, 24 h lifetime, ES256 S of either half. */
void		 jwt_policy_init(struct jwt_policy *);

/*
 * jwt_verify: verify the compact JWS token[0..len) against keys and pol
 * (NULL: defaults) at wall-clock time now, in this order: size limit;
 * exactly three '.'-separated segments; strict base64url; a header that is
 * a JSON object with only "alg" (required), "kid" and "typ" ("JWT",
 * "at+jwt", or those with "application/", any case); the key of that kid
 * and the same alg; the signature over the received bytes (an ES256
 * signature is R || S, 64 bytes; with jp_es256_low_s an S above half the
 * P-256 group order is refused, "high-S ES256 signature", so that a token
 * has exactly one valid signature); only then the
 * payload: a JSON object without duplicate claims, "exp" required (reject
 * if now >= exp + leeway), "nbf" (reject if now + leeway < nbf), "iat"
 * (reject if iat > now + leeway), NumericDates strict; lifetime exp - iat
 * (or exp - now without iat) at most jp_max_lifetime; "iss" and "aud"
 * must be a string (aud: or array of strings) when present and match the
 * policy when it sets them; the user claim (required) and device claim
 * (optional) 1-128 bytes of 0x21-0x7e.  Fills *out and returns 0, or
 * returns -1 with *reason set (*out is then zeroed).
 */
int		 jwt_verify(const struct jwt_keys *, const char *token,
		    size_t len, const struct jwt_policy *pol, time_t now,
		    struct jwt_claims *out, const char **reason);

/*
 * jwt_sign_hs256: mint header.payload.signature with the header
 * {"alg":"HS256","typ":"JWT"} (plus "kid" if kid is neither NULL nor "")
 * and payload[0..plen) encoded as given: the caller builds the claims JSON
 * (jwt_verify() checks what it gets; tests rely on minting bad claims).
 * The secret needs at least JWT_SECRET_MIN bytes.  out receives the token
 * and a NUL; *outlen (may be NULL) its length.  Returns 0, or -1 with
 * *errstr set (short secret, bad kid, cap too small, OpenSSL failure).
 */
int		 jwt_sign_hs256(const void *secret, size_t secretlen,
		    const char *kid, const char *payload, size_t plen,
		    char *out, size_t cap, size_t *outlen,
		    const char **errstr);

#endif /* JWT_H */
