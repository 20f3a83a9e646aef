/*
 * auth.c: who is calling (bearer-token authentication) and from where
 * (the cors_origins check of an Origin), for the API and the WS workers.
 *
 * Runs in each API worker and each WS worker after fork.  Owns the
 * worker's JWT key table (loaded from the configuration once, in
 * auth_new) and a bounded, direct-mapped cache of verified tokens keyed
 * by SHA-256(token), so a client that sends the same token on every
 * request costs one hash, not one signature check.  Invariants: a cache
 * entry is used only until its token's exp plus the verifier's leeway,
 * so caching never extends a token's life; the cache holds no token
 * bytes, only their hash; nothing here logs (the caller counts and logs
 * at debug).
 *
 * Also runs in the supervisor for one job: auth_mint(), which signs an
 * HS256 token with the configured secret for `routingctl token`.  It
 * builds no key table and keeps nothing: the secret is read, used and
 * wiped within the call.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "config.h"
#include "ids.h"
#include "json.h"
#include "jwt.h"
#include "routingd.h"

#define AUTH_HASH_LEN	32		/* SHA-256 */
#define AUTH_SECRET_MAX	(64 * 1024)	/* bytes read from jwt_secret_file */
#define AUTH_CLAIMS_MAX	2048		/* bytes of a minted token's claims */

struct auth_entry {
	uint8_t		 ae_hash[AUTH_HASH_LEN];
	int		 ae_used;
	int64_t		 ae_exp;
	char		 ae_user[JWT_ID_MAX + 1];
	char		 ae_device[JWT_ID_MAX + 1];	/* "" if no claim */
};

struct auth {
	struct jwt_keys		*au_keys;
	struct jwt_policy	 au_pol;
	struct auth_entry	*au_cache;	/* AUTH_CACHE_SIZE entries */
};

/* Read a secret file into buf (cap bytes); drop one trailing newline. */
static int
auth_read_secret(const char *path, char *buf, size_t cap, size_t *len)
{
	ssize_t	 n;
	size_t	 off = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while (off < cap && (n = read(fd, buf + off, cap - off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			(void)close(fd);
			return (-1);
		}
		off += (size_t)n;
	}
	(void)close(fd);
	if (off > 0 && buf[off - 1] == '\n')
		off--;
	if (off > 0 && buf[off - 1] == '\r')
		off--;
	*len = off;
	return (0);
}

/* Load every configured key source into a->au_keys.  0 or -1. */
static int
auth_load_keys(struct auth *a, const struct config *cfg,
    const char **errstr)
{
	char	*buf;
	size_t	 len;
	int	 r = 0;

	if (cfg->cf_jwt_secret != NULL && jwt_keys_add_hs256(a->au_keys,
	    NULL, cfg->cf_jwt_secret, strlen(cfg->cf_jwt_secret),
	    errstr) == -1)
		return (-1);
	if (cfg->cf_jwt_secret_file != NULL) {
		if ((buf = malloc(AUTH_SECRET_MAX)) == NULL) {
			*errstr = "out of memory";
			return (-1);
		}
		if (auth_read_secret(cfg->cf_jwt_secret_file, buf,
		    AUTH_SECRET_MAX, &len) == -1) {
			*errstr = "cannot read jwt_secret_file";
			r = -1;
		} else
			r = jwt_keys_add_hs256(a->au_keys, NULL, buf, len,
			    errstr);
		explicit_bzero(buf, AUTH_SECRET_MAX);
		free(buf);
		if (r == -1)
			return (-1);
	}
	if (cfg->cf_jwt_jwks_file != NULL &&
	    jwt_keys_load_jwks_file(a->au_keys, cfg->cf_jwt_jwks_file,
	    errstr) == -1)
		return (-1);
	if (jwt_keys_count(a->au_keys) == 0) {
		*errstr = "no JWT key configured";
		return (-1);
	}
	return (0);
}

/* auth_new: see auth.h. */
struct auth *
auth_new(const struct config *cfg, const char **errstr)
{
	struct auth	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->au_cache = calloc(AUTH_CACHE_SIZE,
	    sizeof(*a->au_cache))) == NULL ||
	    (a->au_keys = jwt_keys_new()) == NULL) {
		*errstr = "out of memory";
		auth_free(a);
		return (NULL);
	}
	if (auth_load_keys(a, cfg, errstr) == -1) {
		auth_free(a);
		return (NULL);
	}
	jwt_policy_init(&a->au_pol);
	a->au_pol.jp_issuer = cfg->cf_jwt_issuer;
	a->au_pol.jp_audience = cfg->cf_jwt_audience;
	if (cfg->cf_jwt_user_claim != NULL)
		a->au_pol.jp_user_claim = cfg->cf_jwt_user_claim;
	if (cfg->cf_jwt_device_claim != NULL)
		a->au_pol.jp_device_claim = cfg->cf_jwt_device_claim;
	a->au_pol.jp_es256_low_s = cfg->cf_jwt_es256_low_s;
	return (a);
}

/* auth_free: see auth.h. */
void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	jwt_keys_free(a->au_keys);
	if (a->au_cache != NULL) {
		explicit_bzero(a->au_cache, AUTH_CACHE_SIZE *
		    sizeof(*a->au_cache));
		free(a->au_cache);
	}
	free(a);
}

/* The cache entry for hash (used or not). */
static struct auth_entry *
auth_slot(struct auth *a, const uint8_t *hash)
{
	uint32_t	 i;

	i = (uint32_t)hash[0] | (uint32_t)hash[1] << 8 |
	    (uint32_t)hash[2] << 16 | (uint32_t)hash[3] << 24;
	return (&a->au_cache[i & (AUTH_CACHE_SIZE - 1)]);
}

/* Verify (or find in the cache) the token; fill user and device claim. */
static int
auth_token(struct auth *a, const char *tok, size_t len, time_t now,
    char *user, char *device, int64_t *exp, int *hit, const char **reason)
{
	struct jwt_claims	 cl;
	struct auth_entry	*e;
	uint8_t			 hash[AUTH_HASH_LEN];
	unsigned int		 hlen = 0;

	*hit = -1;
	if (len > JWT_MAX_TOKEN_CAP) {
		*reason = "token too long";
		return (-1);
	}
	if (EVP_Digest(tok, len, hash, &hlen, EVP_sha256(), NULL) != 1 ||
	    hlen != AUTH_HASH_LEN) {
		*reason = "SHA-256 failed";
		return (-1);
	}
	e = auth_slot(a, hash);
	*hit = 0;
	if (e->ae_used && CRYPTO_memcmp(e->ae_hash, hash, hlen) == 0 &&
	    (int64_t)now < e->ae_exp + a->au_pol.jp_leeway) {
		*hit = 1;
		memcpy(user, e->ae_user, sizeof(e->ae_user));
		memcpy(device, e->ae_device, sizeof(e->ae_device));
		*exp = e->ae_exp;
		return (0);
	}
	if (jwt_verify(a->au_keys, tok, len, &a->au_pol, now, &cl,
	    reason) == -1)
		return (-1);
	memcpy(e->ae_hash, hash, hlen);
	memcpy(e->ae_user, cl.jc_user, sizeof(e->ae_user));
	memcpy(e->ae_device, cl.jc_device, sizeof(e->ae_device));
	e->ae_exp = cl.jc_exp;
	e->ae_used = 1;
	memcpy(user, cl.jc_user, sizeof(cl.jc_user));
	memcpy(device, cl.jc_device, sizeof(cl.jc_device));
	*exp = cl.jc_exp;
	return (0);
}

/* The device when the token names none: header, query, "default". */
static int
auth_device(const struct http_request *req, char *out)
{
	const char	*v;
	size_t		 n;

	if ((v = http_header_get(req, "x-device-id", &n)) == NULL)
		v = http_query_get(req, "deviceId", &n);
	if (v == NULL) {
		memcpy(out, ID_DEFAULT_DEVICE, sizeof(ID_DEFAULT_DEVICE));
		return (0);
	}
	if (n == 0 || n > ID_MAX)
		return (-1);
	memcpy(out, v, n);
	out[n] = '\0';
	return (id_valid(out) ? 0 : -1);
}

/* auth_request: see auth.h. */
int
auth_request(struct auth *a, const struct http_request *req, time_t now,
    struct auth_id *id, int *hit, const char **reason)
{
	const char	*tok;
	size_t		 len;

	memset(id, 0, sizeof(*id));
	*hit = -1;
	if ((tok = http_bearer(req, &len)) == NULL) {
		*reason = "no bearer token";
		return (AUTH_DENIED);
	}
	return (auth_request_token(a, req, tok, len, now, id, hit, reason));
}

/* auth_request_token: see auth.h. */
int
auth_request_token(struct auth *a, const struct http_request *req,
    const char *tok, size_t len, time_t now, struct auth_id *id, int *hit,
    const char **reason)
{
	memset(id, 0, sizeof(*id));
	*hit = -1;
	if (tok == NULL || len == 0) {
		*reason = "no token";
		return (AUTH_DENIED);
	}
	if (auth_token(a, tok, len, now, id->ai_user, id->ai_device,
	    &id->ai_exp, hit, reason) == -1)
		return (AUTH_DENIED);
	if (id->ai_device[0] != '\0')
		return (AUTH_OK);
	if (auth_device(req, id->ai_device) == -1) {
		*reason = "bad device id";
		return (AUTH_BAD_DEVICE);
	}
	return (AUTH_OK);
}

/* auth_origin_allowed: see auth.h. */
int
auth_origin_allowed(const struct config *cfg, const char *origin,
    size_t len, int *any)
{
	const char	*o;
	size_t		 i;

	*any = 0;
	for (i = 0; i < cfg->cf_cors_origins.sl_n; i++) {
		o = cfg->cf_cors_origins.sl_v[i];
		if (strcmp(o, "*") == 0) {
			*any = 1;
			return (1);
		}
		if (strlen(o) == len && memcmp(o, origin, len) == 0)
			return (1);
	}
	return (0);
}

/* Append ,"name":"value" (or { instead of the comma at *off 0).  0 or -1. */
static int
auth_claim_str(char *out, size_t cap, size_t *off, const char *name,
    const char *value)
{
	if (*off + 2 >= cap)
		return (-1);
	out[*off] = *off == 0 ? '{' : ',';
	out[++*off] = '\0';
	if (json_put_string(out, cap, off, name, strlen(name)) == -1 ||
	    *off + 2 >= cap)
		return (-1);
	out[*off] = ':';
	out[++*off] = '\0';
	return (json_put_string(out, cap, off, value, strlen(value)));
}

/* The claims of a minted token, as jwt_verify() with cfg's policy wants. */
static int
auth_mint_claims(const struct config *cfg, const char *user,
    const char *device, int64_t iat, int64_t exp, char *out, size_t cap,
    size_t *len)
{
	size_t	 off = 0;
	int	 n;

	if (auth_claim_str(out, cap, &off, cfg->cf_jwt_user_claim != NULL ?
	    cfg->cf_jwt_user_claim : "sub", user) == -1)
		return (-1);
	if (*device != '\0' && auth_claim_str(out, cap, &off,
	    cfg->cf_jwt_device_claim != NULL ? cfg->cf_jwt_device_claim :
	    "device_id", device) == -1)
		return (-1);
	if (cfg->cf_jwt_issuer != NULL && auth_claim_str(out, cap, &off,
	    "iss", cfg->cf_jwt_issuer) == -1)
		return (-1);
	if (cfg->cf_jwt_audience != NULL && auth_claim_str(out, cap, &off,
	    "aud", cfg->cf_jwt_audience) == -1)
		return (-1);
	n = snprintf(out + off, cap - off, ",\"iat\":%lld,\"exp\":%lld}",
	    (long long)iat, (long long)exp);
	if (n < 0 || (size_t)n >= cap - off)
		return (-1);
	*len = off + (size_t)n;
	return (0);
}

/* The HS256 secret cfg names (jwt_secret, else jwt_secret_file). */
static int
auth_mint_secret(const struct config *cfg, char *buf, size_t cap,
    size_t *len, const char **errstr)
{
	if (cfg->cf_jwt_secret != NULL) {
		*len = strlen(cfg->cf_jwt_secret);
		if (*len > cap) {
			*errstr = "jwt_secret is too long";
			return (-1);
		}
		memcpy(buf, cfg->cf_jwt_secret, *len);
		return (0);
	}
	if (cfg->cf_jwt_secret_file == NULL) {
		*errstr = "no HS256 secret configured (jwt_jwks_file only): "
		    "tokens for RS256/ES256 keys come from whoever holds the "
		    "private key";
		return (-1);
	}
	if (auth_read_secret(cfg->cf_jwt_secret_file, buf, cap, len) == -1) {
		*errstr = "cannot read jwt_secret_file";
		return (-1);
	}
	return (0);
}

/* auth_mint: see auth.h. */
int
auth_mint(const struct config *cfg, const char *user, const char *device,
    int64_t ttl, time_t now, char *out, size_t cap, int64_t *exp,
    const char **errstr)
{
	char	 claims[AUTH_CLAIMS_MAX];
	char	*secret;
	size_t	 clen, slen;
	int	 r;

	if (!id_valid(user) || (*device != '\0' && !id_valid(device))) {
		*errstr = "not a valid id (1 to 128 printable ASCII "
		    "bytes, no spaces)";
		return (-1);
	}
	if (ttl < 1 || ttl > AUTH_MINT_TTL_MAX) {
		*errstr = "ttl must be 1 to 86400 seconds (tokens living "
		    "longer are refused by the verifier)";
		return (-1);
	}
	*exp = (int64_t)now + ttl;
	if (auth_mint_claims(cfg, user, device, (int64_t)now, *exp, claims,
	    sizeof(claims), &clen) == -1) {
		*errstr = "claims do not fit";
		return (-1);
	}
	if ((secret = malloc(AUTH_SECRET_MAX)) == NULL) {
		*errstr = "out of memory";
		return (-1);
	}
	r = auth_mint_secret(cfg, secret, AUTH_SECRET_MAX, &slen, errstr);
	if (r == 0)
		r = jwt_sign_hs256(secret, slen, NULL, claims, clen, out, cap,
		    NULL, errstr);
	explicit_bzero(secret, AUTH_SECRET_MAX);
	free(secret);
	return (r);
}
