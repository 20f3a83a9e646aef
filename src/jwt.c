/*
 * jwt.c: the strict JWT verifier, the key table and HS256 minting
 * (contracts in jwt.h).  Each API and WS worker builds its key table
 * after fork (auth.c) and calls jwt_verify() per new token;
 * jwt_sign_hs256() mints tokens for the supervisor (`routingctl token`,
 * through auth_mint()), the unit tests and the benchmark.
 *
 * The order of the verifier's steps is the security argument: cheap size
 * and shape checks first (token length, exactly three segments, strict
 * base64url, decoded sizes); the header is the
 * only attacker-controlled input parsed before the signature, and it can
 * only select a key by kid (never a key or URL of its own); the key fixes
 * the algorithm; the signature is checked over the exact received bytes;
 * only then is the payload decoded and parsed.  Each step fails closed with
 * a static reason.
 *
 * Invariants: a key table is read-only once built (jwt_verify() takes it
 * const); secrets are wiped
 * with OPENSSL_cleanse before their memory is freed; the computed HMAC is
 * wiped too, since it is a valid signature of attacker-chosen bytes.  Only
 * OpenSSL 3 non-deprecated calls are used (EVP, OSSL_PARAM_BLD).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "json.h"
#include "jwt.h"

#define JWT_HEADER_TOKENS	16	/* {"alg","kid","typ"} needs 7 */
#define JWT_PAYLOAD_TOKENS	128
#define JWT_JWKS_TOKENS		8192
#define JWT_SIG_MAX		(JWT_RSA_MAX_BITS / 8)
#define JWT_HS256_LEN		32
#define JWT_ES256_LEN		64	/* raw R || S */
#define JWT_ES256_COORD		32	/* bytes of x, y, r, s */
#define JWT_ALG_LEN		16	/* longest alg name we read */
#define JWT_TYP_LEN		32

enum jwt_alg {
	JWT_ALG_HS256 = 1,
	JWT_ALG_RS256,
	JWT_ALG_ES256
};

struct jwt_alg_name {
	const char	*an_name;
	int		 an_alg;
};

static const struct jwt_alg_name jwt_algs[] = {
	{ "HS256", JWT_ALG_HS256 },
	{ "RS256", JWT_ALG_RS256 },
	{ "ES256", JWT_ALG_ES256 }
};

/*
 * Header members that must never be honoured: crit (an unknown critical
 * extension makes a JWS invalid, RFC 7515 4.1.11), members naming a key
 * or a URL to fetch one from (a token never picks its own key, RFC 8725
 * 3.10), and JWE or unencoded-payload members.
 */
static const char *const jwt_forbidden[] = {
	"crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "b64", "zip",
	"enc"
};

/* typ values accepted, compared ignoring ASCII case. */
static const char *const jwt_typs[] = {
	"JWT", "at+jwt", "application/jwt", "application/at+jwt"
};

/* One key, bound to one algorithm. */
struct jwt_key {
	char		 k_kid[JWT_KID_MAX + 1];	/* "" = no kid */
	int		 k_alg;
	unsigned char	*k_secret;			/* HS256 */
	size_t		 k_secretlen;
	EVP_PKEY	*k_pkey;			/* RS256, ES256 */
};

struct jwt_keys {
	size_t		 ks_n;
	struct jwt_key	 ks_v[JWT_MAX_KEYS];
};

/* The three segments of a compact token, pointing into it. */
struct jwt_token {
	const char	*tk_hdr;
	size_t		 tk_hdrlen;
	const char	*tk_pay;
	size_t		 tk_paylen;
	const char	*tk_sig;
	size_t		 tk_siglen;
	size_t		 tk_inputlen;	/* header "." payload: what is signed */
};

struct jwt_header {
	int		 h_alg;
	char		 h_kid[JWT_KID_MAX + 1];	/* "" if absent */
};

static int
jwt_fail(const char **reason, const char *why)
{
	*reason = why;
	return (-1);
}

/* 1 if s[0..len) is 1 to max bytes of 0x21-0x7e (kids and ids). */
static int
jwt_printable(const char *s, size_t len, size_t max)
{
	size_t	 i;

	if (len < 1 || len > max)
		return (0);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return (0);
	return (1);
}

/* The alg of string token t (exact bytes), 0 if unknown. */
static int
jwt_alg_of(const struct json_doc *doc, int t)
{
	size_t	 i;

	for (i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (json_str_eq(doc, t, jwt_algs[i].an_name,
		    strlen(jwt_algs[i].an_name)))
			return (jwt_algs[i].an_alg);
	return (0);
}

static const char *
jwt_alg_name(int alg)
{
	size_t	 i;

	for (i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (jwt_algs[i].an_alg == alg)
			return (jwt_algs[i].an_name);
	return ("?");
}

/* ------------------------------------------------------------------ */
/* Key table                                                           */
/* ------------------------------------------------------------------ */

struct jwt_keys *
jwt_keys_new(void)
{
	return (calloc(1, sizeof(struct jwt_keys)));
}

static void
jwt_key_clear(struct jwt_key *k)
{
	if (k->k_secret != NULL) {
		OPENSSL_cleanse(k->k_secret, k->k_secretlen);
		free(k->k_secret);
	}
	EVP_PKEY_free(k->k_pkey);
	memset(k, 0, sizeof(*k));
}

/* Drop keys from index n on (undoing a failed load). */
static void
jwt_keys_truncate(struct jwt_keys *keys, size_t n)
{
	while (keys->ks_n > n)
		jwt_key_clear(&keys->ks_v[--keys->ks_n]);
}

void
jwt_keys_free(struct jwt_keys *keys)
{
	if (keys == NULL)
		return;
	jwt_keys_truncate(keys, 0);
	free(keys);
}

size_t
jwt_keys_count(const struct jwt_keys *keys)
{
	return (keys->ks_n);
}

static const struct jwt_key *
jwt_keys_find(const struct jwt_keys *keys, const char *kid)
{
	size_t	 i;

	for (i = 0; i < keys->ks_n; i++)
		if (strcmp(keys->ks_v[i].k_kid, kid) == 0)
			return (&keys->ks_v[i]);
	return (NULL);
}

/*
 * A new slot for kid (NULL or "" for none), counted in ks_n: the caller
 * fills it or drops it with jwt_keys_truncate().
 */
static struct jwt_key *
jwt_keys_slot(struct jwt_keys *keys, const char *kid, int alg,
    const char **errstr)
{
	struct jwt_key	*k;

	if (kid == NULL)
		kid = "";
	if (*kid != '\0' && !jwt_printable(kid, strlen(kid), JWT_KID_MAX)) {
		*errstr = "kid must be 1-128 printable characters";
		return (NULL);
	}
	if (jwt_keys_find(keys, kid) != NULL) {
		*errstr = *kid == '\0' ? "more than one key without kid" :
		    "duplicate kid";
		return (NULL);
	}
	if (keys->ks_n >= JWT_MAX_KEYS) {
		*errstr = "too many keys";
		return (NULL);
	}
	k = &keys->ks_v[keys->ks_n++];
	(void)strcpy(k->k_kid, kid);	/* length checked above */
	k->k_alg = alg;
	return (k);
}

/* Copy an HS256 secret into slot k. */
static int
jwt_key_set_secret(struct jwt_key *k, const void *secret, size_t len,
    const char **errstr)
{
	if (len < JWT_SECRET_MIN || len > JWT_SECRET_MAX) {
		*errstr = len < JWT_SECRET_MIN ?
		    "HS256 secret shorter than 32 bytes" :
		    "HS256 secret too long";
		return (-1);
	}
	if ((k->k_secret = malloc(len)) == NULL) {
		*errstr = "out of memory";
		return (-1);
	}
	memcpy(k->k_secret, secret, len);
	k->k_secretlen = len;
	return (0);
}

int
jwt_keys_add_hs256(struct jwt_keys *keys, const char *kid,
    const void *secret, size_t len, const char **errstr)
{
	struct jwt_key	*k;
	size_t		 n = keys->ks_n;

	if ((k = jwt_keys_slot(keys, kid, JWT_ALG_HS256, errstr)) == NULL)
		return (-1);
	if (jwt_key_set_secret(k, secret, len, errstr) == -1) {
		jwt_keys_truncate(keys, n);
		return (-1);
	}
	return (0);
}

/* ------------------------------------------------------------------ */
/* JWKS                                                                */
/* ------------------------------------------------------------------ */

/*
 * Member name of JWK obj as a C string in buf: 1 if present, 0 if absent,
 * -1 (with *errstr) if it is not a string or does not fit.
 */
static int
jwt_jwk_str(const struct json_doc *doc, int obj, const char *name,
    char *buf, size_t cap, const char **errstr)
{
	const char	*err;
	int		 t;

	if ((t = json_obj_get(doc, obj, name)) == -1)
		return (0);
	if (json_get_string(doc, t, buf, cap, NULL, &err) == -1) {
		*errstr = "JWK member is not a valid string";
		return (-1);
	}
	return (1);
}

/*
 * Member name of JWK obj decoded from strict base64url into a new buffer
 * (*outp, *outlen; the caller frees it, wiping it if secret).
 */
static int
jwt_jwk_b64(const struct json_doc *doc, int obj, const char *name,
    unsigned char **outp, size_t *outlen, const char **errstr)
{
	const char	*raw;
	size_t		 rawlen, cap;
	int		 t;

	*outp = NULL;
	if ((t = json_obj_get(doc, obj, name)) == -1 ||
	    json_type(doc, t) != JSON_STRING) {
		*errstr = "JWK lacks a required key member";
		return (-1);
	}
	raw = json_raw(doc, t, &rawlen);
	cap = b64_decoded_max(rawlen);
	if ((*outp = malloc(cap)) == NULL) {
		*errstr = "out of memory";
		return (-1);
	}
	if (b64_url_decode(raw, rawlen, *outp, cap, outlen) == -1 ||
	    *outlen == 0) {
		OPENSSL_cleanse(*outp, cap);
		free(*outp);
		*outp = NULL;
		*errstr = "JWK member is not strict base64url";
		return (-1);
	}
	return (0);
}

/* EVP_PKEY of type ("RSA", "EC") from the public parameters in bld. */
static EVP_PKEY *
jwt_pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY_CTX	*ctx = NULL, *cctx = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY	*pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto fail;
	if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(cctx) != 1)
		goto fail;
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return (pkey);
fail:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return (NULL);
}

/* An RS256 public key from the JWK's "n" and "e". */
static int
jwt_jwk_rsa(const struct json_doc *doc, int obj, struct jwt_key *k,
    const char **errstr)
{
	OSSL_PARAM_BLD	*bld = NULL;
	BIGNUM		*n = NULL, *e = NULL;
	unsigned char	*nb = NULL, *eb = NULL;
	size_t		 nlen, elen;
	int		 rc = -1;

	if (jwt_jwk_b64(doc, obj, "n", &nb, &nlen, errstr) == -1 ||
	    jwt_jwk_b64(doc, obj, "e", &eb, &elen, errstr) == -1)
		goto done;
	*errstr = "invalid RSA key";
	if (elen > 8 || (eb[elen - 1] & 1) == 0 ||
	    (n = BN_bin2bn(nb, nlen, NULL)) == NULL ||
	    (e = BN_bin2bn(eb, elen, NULL)) == NULL || BN_is_one(e) ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto done;
	if (BN_num_bits(n) < JWT_RSA_MIN_BITS ||
	    BN_num_bits(n) > JWT_RSA_MAX_BITS) {
		*errstr = BN_num_bits(n) < JWT_RSA_MIN_BITS ?
		    "RSA key shorter than 2048 bits" : "RSA key too long";
		goto done;
	}
	if ((k->k_pkey = jwt_pkey_fromdata("RSA", bld)) == NULL ||
	    EVP_PKEY_get_base_id(k->k_pkey) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(k->k_pkey) < JWT_RSA_MIN_BITS)
		goto done;
	rc = 0;
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return (rc);
}

/* 1 if pkey is an EC key on P-256. */
static int
jwt_is_p256(EVP_PKEY *pkey)
{
	char	 name[32];
	size_t	 len;

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1)
		return (0);
	return (strcmp(name, SN_X9_62_prime256v1) == 0);
}

/* An ES256 public key from the JWK's "crv", "x" and "y". */
static int
jwt_jwk_ec(const struct json_doc *doc, int obj, struct jwt_key *k,
    const char **errstr)
{
	OSSL_PARAM_BLD	*bld = NULL;
	unsigned char	*x = NULL, *y = NULL;
	unsigned char	 pub[1 + 2 * JWT_ES256_COORD];
	char		 crv[16];
	size_t		 xlen, ylen;
	int		 rc = -1;

	if (jwt_jwk_str(doc, obj, "crv", crv, sizeof(crv), errstr) != 1 ||
	    strcmp(crv, "P-256") != 0) {
		*errstr = "ES256 key must have crv P-256";
		return (-1);
	}
	if (jwt_jwk_b64(doc, obj, "x", &x, &xlen, errstr) == -1 ||
	    jwt_jwk_b64(doc, obj, "y", &y, &ylen, errstr) == -1)
		goto done;
	*errstr = "invalid P-256 key";
	if (xlen != JWT_ES256_COORD || ylen != JWT_ES256_COORD)
		goto done;
	pub[0] = POINT_CONVERSION_UNCOMPRESSED;
	memcpy(pub + 1, x, JWT_ES256_COORD);
	memcpy(pub + 1 + JWT_ES256_COORD, y, JWT_ES256_COORD);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    SN_X9_62_prime256v1, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub)) != 1 ||
	    (k->k_pkey = jwt_pkey_fromdata("EC", bld)) == NULL ||
	    !jwt_is_p256(k->k_pkey))
		goto done;
	rc = 0;
done:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return (rc);
}

/* An HS256 secret from the JWK's "k". */
static int
jwt_jwk_oct(const struct json_doc *doc, int obj, struct jwt_key *k,
    const char **errstr)
{
	unsigned char	*secret;
	size_t		 len;
	int		 rc;

	if (jwt_jwk_b64(doc, obj, "k", &secret, &len, errstr) == -1)
		return (-1);
	rc = jwt_key_set_secret(k, secret, len, errstr);
	OPENSSL_cleanse(secret, len);
	free(secret);
	return (rc);
}

/* kty and alg of JWK obj must name one of the three supported pairs. */
static int
jwt_jwk_alg(const struct json_doc *doc, int obj, const char **errstr)
{
	char	 kty[8];
	int	 t, alg;

	if ((t = json_obj_get(doc, obj, "alg")) == -1) {
		*errstr = "JWK without alg";
		return (-1);
	}
	if ((alg = jwt_alg_of(doc, t)) == 0) {
		*errstr = "JWK alg is not RS256, ES256 or HS256";
		return (-1);
	}
	if (jwt_jwk_str(doc, obj, "kty", kty, sizeof(kty), errstr) != 1 ||
	    (alg == JWT_ALG_RS256 && strcmp(kty, "RSA") != 0) ||
	    (alg == JWT_ALG_ES256 && strcmp(kty, "EC") != 0) ||
	    (alg == JWT_ALG_HS256 && strcmp(kty, "oct") != 0)) {
		*errstr = "JWK kty does not match its alg";
		return (-1);
	}
	return (alg);
}

/* Add JWK obj to keys. */
static int
jwt_jwk_add(struct jwt_keys *keys, const struct json_doc *doc, int obj,
    const char **errstr)
{
	struct jwt_key	*k;
	char		 kid[JWT_KID_MAX + 1], use[8];
	int		 alg, r;

	if (json_type(doc, obj) != JSON_OBJECT) {
		*errstr = "JWK is not an object";
		return (-1);
	}
	if ((alg = jwt_jwk_alg(doc, obj, errstr)) == -1)
		return (-1);
	if ((r = jwt_jwk_str(doc, obj, "use", use, sizeof(use), errstr)) ==
	    -1 || (r == 1 && strcmp(use, "sig") != 0)) {
		*errstr = "JWK use is not sig";
		return (-1);
	}
	if (json_obj_get(doc, obj, "d") != -1) {
		*errstr = "JWK holds private key material";
		return (-1);
	}
	if ((r = jwt_jwk_str(doc, obj, "kid", kid, sizeof(kid), errstr)) ==
	    -1 || (r == 1 && kid[0] == '\0')) {
		*errstr = "kid must be 1-128 printable characters";
		return (-1);
	}
	if ((k = jwt_keys_slot(keys, r == 1 ? kid : NULL, alg, errstr)) ==
	    NULL)
		return (-1);
	if (alg == JWT_ALG_RS256)
		return (jwt_jwk_rsa(doc, obj, k, errstr));
	if (alg == JWT_ALG_ES256)
		return (jwt_jwk_ec(doc, obj, k, errstr));
	return (jwt_jwk_oct(doc, obj, k, errstr));
}

/* Parse buf as a JWKS and add its keys; the caller undoes on failure. */
static int
jwt_jwks_parse(struct jwt_keys *keys, const char *buf, size_t len,
    jsmntok_t *tok, const char **errstr)
{
	struct json_doc	 doc;
	const char	*err;
	int		 arr, i, k, n;

	if (json_parse(&doc, buf, len, tok, JWT_JWKS_TOKENS, 0, &err) == -1) {
		*errstr = "JWKS is not valid JSON";
		return (-1);
	}
	if (json_type(&doc, 0) != JSON_OBJECT ||
	    (arr = json_obj_get(&doc, 0, "keys")) == -1 ||
	    json_type(&doc, arr) != JSON_ARRAY) {
		*errstr = "JWKS has no \"keys\" array";
		return (-1);
	}
	if ((n = json_size(&doc, arr)) == 0) {
		*errstr = "JWKS has no keys";
		return (-1);
	}
	for (i = 0, k = arr + 1; i < n; i++, k = json_next(&doc, k))
		if (jwt_jwk_add(keys, &doc, k, errstr) == -1)
			return (-1);
	return (n);
}

int
jwt_keys_load_jwks(struct jwt_keys *keys, const char *buf, size_t len,
    const char **errstr)
{
	jsmntok_t	*tok;
	size_t		 n0 = keys->ks_n;
	int		 r;

	if (len > JWT_JWKS_MAX) {
		*errstr = "JWKS too large";
		return (-1);
	}
	if ((tok = calloc(JWT_JWKS_TOKENS, sizeof(*tok))) == NULL) {
		*errstr = "out of memory";
		return (-1);
	}
	if ((r = jwt_jwks_parse(keys, buf, len, tok, errstr)) == -1)
		jwt_keys_truncate(keys, n0);
	free(tok);
	return (r);
}

/* Read all of fd (a regular file of at most JWT_JWKS_MAX bytes). */
static char *
jwt_read_file(int fd, size_t *lenp, const char **errstr)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > JWT_JWKS_MAX) {
		*errstr = "JWKS file is not a regular file of at most 1 MiB";
		return (NULL);
	}
	if ((buf = malloc(JWT_JWKS_MAX + 1)) == NULL) {
		*errstr = "out of memory";
		return (NULL);
	}
	while ((r = read(fd, buf + len, JWT_JWKS_MAX + 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || (len += r) > JWT_JWKS_MAX) {
			*errstr = r == -1 ? "read() of the JWKS file" :
			    "JWKS too large";
			OPENSSL_cleanse(buf, JWT_JWKS_MAX + 1);
			free(buf);
			return (NULL);
		}
	}
	*lenp = len;
	return (buf);
}

int
jwt_keys_load_jwks_file(struct jwt_keys *keys, const char *path,
    const char **errstr)
{
	char	*buf;
	size_t	 len;
	int	 fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*errstr = "open() of the JWKS file";
		return (-1);
	}
	buf = jwt_read_file(fd, &len, errstr);
	(void)close(fd);
	if (buf == NULL)
		return (-1);
	r = jwt_keys_load_jwks(keys, buf, len, errstr);
	OPENSSL_cleanse(buf, JWT_JWKS_MAX + 1);
	free(buf);
	return (r);
}

/* ------------------------------------------------------------------ */
/* Token shape and header                                              */
/* ------------------------------------------------------------------ */

void
jwt_policy_init(struct jwt_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->jp_user_claim = "sub";
	pol->jp_device_claim = "device_id";
	pol->jp_leeway = JWT_LEEWAY;
	pol->jp_max_token = JWT_MAX_TOKEN;
	pol->jp_max_lifetime = JWT_MAX_LIFETIME;
}

/* Size limit, then exactly three segments (the signature may be empty
 * here: "alg":"none" deserves its own reason). */
static int
jwt_split(const char *token, size_t len, size_t max, struct jwt_token *tk,
    const char **reason)
{
	const char	*d1, *d2;

	if (len == 0 || len > max)
		return (jwt_fail(reason, len == 0 ? "empty token" :
		    "token too large"));
	if ((d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (d1 + 1 - token))) == NULL ||
	    memchr(d2 + 1, '.', len - (d2 + 1 - token)) != NULL)
		return (jwt_fail(reason, "not three segments"));
	tk->tk_hdr = token;
	tk->tk_hdrlen = d1 - token;
	tk->tk_pay = d1 + 1;
	tk->tk_paylen = d2 - (d1 + 1);
	tk->tk_sig = d2 + 1;
	tk->tk_siglen = len - (d2 + 1 - token);
	tk->tk_inputlen = d2 - token;
	if (tk->tk_hdrlen == 0 || tk->tk_paylen == 0)
		return (jwt_fail(reason, "empty segment"));
	return (0);
}

/* The string member t of the header into buf; -1 if not a short string. */
static int
jwt_header_str(const struct json_doc *doc, int t, char *buf, size_t cap,
    size_t *lenp)
{
	const char	*err;

	return (json_get_string(doc, t, buf, cap, lenp, &err));
}

static int
jwt_typ_ok(const char *typ)
{
	size_t	 i;

	for (i = 0; i < sizeof(jwt_typs) / sizeof(jwt_typs[0]); i++)
		if (strcasecmp(typ, jwt_typs[i]) == 0)
			return (1);
	return (0);
}

/* One header member: key token k, value k + 1. */
static int
jwt_header_member(const struct json_doc *doc, int k, struct jwt_header *h,
    const char **reason)
{
	char	 buf[JWT_KID_MAX + 1];
	size_t	 i, len;

	if (json_str_eq(doc, k, "alg", 3)) {
		if (jwt_header_str(doc, k + 1, buf, JWT_ALG_LEN, &len) == -1)
			return (jwt_fail(reason, "unsupported alg"));
		if (strcasecmp(buf, "none") == 0)
			return (jwt_fail(reason, "alg none"));
		if ((h->h_alg = jwt_alg_of(doc, k + 1)) == 0)
			return (jwt_fail(reason, "unsupported alg"));
		return (0);
	}
	if (json_str_eq(doc, k, "kid", 3)) {
		if (jwt_header_str(doc, k + 1, h->h_kid, sizeof(h->h_kid),
		    &len) == -1 || !jwt_printable(h->h_kid, len, JWT_KID_MAX))
			return (jwt_fail(reason, "bad kid"));
		return (0);
	}
	if (json_str_eq(doc, k, "typ", 3)) {
		if (jwt_header_str(doc, k + 1, buf, JWT_TYP_LEN, &len) == -1 ||
		    !jwt_typ_ok(buf))
			return (jwt_fail(reason, "bad typ"));
		return (0);
	}
	for (i = 0; i < sizeof(jwt_forbidden) / sizeof(jwt_forbidden[0]); i++)
		if (json_str_eq(doc, k, jwt_forbidden[i],
		    strlen(jwt_forbidden[i])))
			return (jwt_fail(reason, i == 0 ? "crit header" :
			    "forbidden header member"));
	return (jwt_fail(reason, "unknown header member"));
}

/* Decode and check the header; fills h (alg, kid). */
static int
jwt_header_parse(const struct jwt_token *tk, struct jwt_header *h,
    const char **reason)
{
	unsigned char	 buf[JWT_MAX_HEADER];
	jsmntok_t	 tok[JWT_HEADER_TOKENS];
	struct json_doc	 doc;
	const char	*err;
	size_t		 len;
	int		 i, k, n;

	memset(h, 0, sizeof(*h));
	if (tk->tk_hdrlen > b64_url_encoded_len(sizeof(buf)))
		return (jwt_fail(reason, "header too large"));
	if (b64_url_decode(tk->tk_hdr, tk->tk_hdrlen, buf, sizeof(buf),
	    &len) == -1)
		return (jwt_fail(reason, "bad base64url in header"));
	if (json_parse(&doc, (const char *)buf, len, tok, JWT_HEADER_TOKENS,
	    2, &err) == -1)
		return (jwt_fail(reason, strcmp(err, JSON_ERR_DUPLICATE) == 0 ?
		    "duplicate header member" : "bad header JSON"));
	if (json_type(&doc, 0) != JSON_OBJECT)
		return (jwt_fail(reason, "header is not an object"));
	n = json_size(&doc, 0);
	for (i = 0, k = 1; i < n; i++, k = json_next(&doc, k))
		if (jwt_header_member(&doc, k, h, reason) == -1)
			return (-1);
	if (h->h_alg == 0)
		return (jwt_fail(reason, "no alg"));
	return (0);
}

/* ------------------------------------------------------------------ */
/* Signatures                                                          */
/* ------------------------------------------------------------------ */

static int
jwt_check_hs256(const struct jwt_key *k, const struct jwt_token *tk,
    const unsigned char *sig, size_t siglen, const char **reason)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	int		 ok;

	if (siglen != JWT_HS256_LEN)
		return (jwt_fail(reason, "bad signature"));
	if (HMAC(EVP_sha256(), k->k_secret, (int)k->k_secretlen,
	    (const unsigned char *)tk->tk_hdr, tk->tk_inputlen, mac,
	    &maclen) == NULL || maclen != JWT_HS256_LEN)
		return (jwt_fail(reason, "HMAC failed"));
	ok = CRYPTO_memcmp(mac, sig, JWT_HS256_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return (ok ? 0 : jwt_fail(reason, "bad signature"));
}

/* EVP_DigestVerify with SHA-256; only a return of 1 is a valid signature. */
static int
jwt_digest_verify(EVP_PKEY *pkey, int rsa, const unsigned char *sig,
    size_t siglen, const struct jwt_token *tk)
{
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (0);
	if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
	    (!rsa || EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PADDING) == 1))
		ok = EVP_DigestVerify(ctx, sig, siglen,
		    (const unsigned char *)tk->tk_hdr, tk->tk_inputlen) == 1;
	EVP_MD_CTX_free(ctx);
	return (ok);
}

static int
jwt_check_rs256(const struct jwt_key *k, const struct jwt_token *tk,
    const unsigned char *sig, size_t siglen, const char **reason)
{
	if (EVP_PKEY_get_base_id(k->k_pkey) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(k->k_pkey) < JWT_RSA_MIN_BITS)
		return (jwt_fail(reason, "key unfit for RS256"));
	if ((int)siglen != EVP_PKEY_get_size(k->k_pkey) ||
	    !jwt_digest_verify(k->k_pkey, 1, sig, siglen, tk))
		return (jwt_fail(reason, "bad signature"));
	return (0);
}

/*
 * (n - 1) / 2 for n the order of the P-256 group, big-endian: with
 * jp_es256_low_s an S above it is refused.  (r, s) and (r, n - s) are both
 * valid ECDSA signatures of the same bytes, so without this rule anyone
 * who sees one ES256 token can make a second, different token with the
 * same claims; with it, each token has exactly one valid signature.
 */
static const unsigned char jwt_p256_half_order[JWT_ES256_COORD] = {
	0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00,
	0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42,
	0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8
};

/* Raw R || S (64 bytes) to a DER ECDSA-Sig-Value in der; its length. */
static int
jwt_es256_der(const unsigned char *sig, unsigned char *der, size_t cap)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	unsigned char	*p = der;
	int		 n = -1;

	r = BN_bin2bn(sig, JWT_ES256_COORD, NULL);
	s = BN_bin2bn(sig + JWT_ES256_COORD, JWT_ES256_COORD, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL) {
		BN_free(r);
		BN_free(s);
		return (-1);
	}
	if (ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
	} else if ((n = i2d_ECDSA_SIG(es, NULL)) > 0 && (size_t)n <= cap)
		n = i2d_ECDSA_SIG(es, &p);
	else
		n = -1;
	ECDSA_SIG_free(es);
	return (n);
}

static int
jwt_check_es256(const struct jwt_key *k, const struct jwt_token *tk,
    const unsigned char *sig, size_t siglen, int low_s, const char **reason)
{
	unsigned char	 der[80];
	int		 n;

	if (!jwt_is_p256(k->k_pkey))
		return (jwt_fail(reason, "key unfit for ES256"));
	if (siglen != JWT_ES256_LEN)
		return (jwt_fail(reason, "bad signature"));
	if (low_s && memcmp(sig + JWT_ES256_COORD, jwt_p256_half_order,
	    JWT_ES256_COORD) > 0)
		return (jwt_fail(reason, "high-S ES256 signature"));
	if ((n = jwt_es256_der(sig, der, sizeof(der))) <= 0)
		return (jwt_fail(reason, "bad signature"));
	if (!jwt_digest_verify(k->k_pkey, 0, der, n, tk))
		return (jwt_fail(reason, "bad signature"));
	return (0);
}

/* Decode the signature segment and check it with key k under pol. */
static int
jwt_check_sig(const struct jwt_key *k, const struct jwt_token *tk,
    const struct jwt_policy *pol, const char **reason)
{
	unsigned char	 sig[JWT_SIG_MAX];
	size_t		 len;

	if (tk->tk_siglen == 0 || tk->tk_siglen >
	    b64_url_encoded_len(sizeof(sig)) || b64_url_decode(tk->tk_sig,
	    tk->tk_siglen, sig, sizeof(sig), &len) == -1)
		return (jwt_fail(reason, "bad signature encoding"));
	switch (k->k_alg) {
	case JWT_ALG_HS256:
		return (jwt_check_hs256(k, tk, sig, len, reason));
	case JWT_ALG_RS256:
		return (jwt_check_rs256(k, tk, sig, len, reason));
	case JWT_ALG_ES256:
		return (jwt_check_es256(k, tk, sig, len, pol->jp_es256_low_s,
		    reason));
	default:
		return (jwt_fail(reason, "unsupported alg"));
	}
}

/* ------------------------------------------------------------------ */
/* Claims                                                              */
/* ------------------------------------------------------------------ */

/* Optional NumericDate claim name into *out (0 if absent). */
static int
jwt_claim_date(const struct json_doc *doc, const char *name, int64_t *out,
    const char *bad, const char **reason)
{
	const char	*err;
	int		 t;

	*out = 0;
	if ((t = json_obj_get(doc, 0, name)) == -1)
		return (0);
	if (json_get_numericdate(doc, t, out, &err) == -1)
		return (jwt_fail(reason, bad));
	return (0);
}

/*
 * exp, nbf, iat and the lifetime cap, after the signature, against the
 * wall clock with at most 60 s of leeway (RFC 7519 4.1.4).
 */
static int
jwt_claims_times(const struct json_doc *doc, const struct jwt_policy *pol,
    int64_t now, struct jwt_claims *c, const char **reason)
{
	int64_t	 lw = pol->jp_leeway;

	if (json_obj_get(doc, 0, "exp") == -1)
		return (jwt_fail(reason, "no exp"));
	if (jwt_claim_date(doc, "exp", &c->jc_exp, "bad exp", reason) == -1 ||
	    jwt_claim_date(doc, "nbf", &c->jc_nbf, "bad nbf", reason) == -1 ||
	    jwt_claim_date(doc, "iat", &c->jc_iat, "bad iat", reason) == -1)
		return (-1);
	if (now >= c->jc_exp + lw)
		return (jwt_fail(reason, "expired"));
	if (c->jc_nbf != 0 && now + lw < c->jc_nbf)
		return (jwt_fail(reason, "not yet valid"));
	if (c->jc_iat != 0 && c->jc_iat > now + lw)
		return (jwt_fail(reason, "iat in the future"));
	if (c->jc_iat != 0 && c->jc_exp < c->jc_iat)
		return (jwt_fail(reason, "exp before iat"));
	if (pol->jp_max_lifetime > 0 && c->jc_exp - (c->jc_iat != 0 ?
	    c->jc_iat : now) > pol->jp_max_lifetime)
		return (jwt_fail(reason, "lifetime too long"));
	return (0);
}

/* "iss": a string if present; equal to the policy's when it sets one. */
static int
jwt_claims_iss(const struct json_doc *doc, const struct jwt_policy *pol,
    const char **reason)
{
	int	 t = json_obj_get(doc, 0, "iss");

	if (t != -1 && json_type(doc, t) != JSON_STRING)
		return (jwt_fail(reason, "bad iss"));
	if (pol->jp_issuer == NULL)
		return (0);
	if (t == -1 || !json_str_eq(doc, t, pol->jp_issuer,
	    strlen(pol->jp_issuer)))
		return (jwt_fail(reason, "wrong issuer"));
	return (0);
}

/* "aud": a string or an array of strings; must hold the policy's. */
static int
jwt_claims_aud(const struct json_doc *doc, const struct jwt_policy *pol,
    const char **reason)
{
	const char	*want = pol->jp_audience;
	size_t		 wlen = want != NULL ? strlen(want) : 0;
	int		 t, i, e, n, found = 0;

	if ((t = json_obj_get(doc, 0, "aud")) == -1)
		return (want == NULL ? 0 : jwt_fail(reason, "wrong audience"));
	if (json_type(doc, t) == JSON_STRING)
		found = want != NULL && json_str_eq(doc, t, want, wlen);
	else if (json_type(doc, t) == JSON_ARRAY) {
		n = json_size(doc, t);
		for (i = 0, e = t + 1; i < n; i++, e = json_next(doc, e)) {
			if (json_type(doc, e) != JSON_STRING)
				return (jwt_fail(reason, "bad aud"));
			if (want != NULL && json_str_eq(doc, e, want, wlen))
				found = 1;
		}
	} else
		return (jwt_fail(reason, "bad aud"));
	if (want != NULL && !found)
		return (jwt_fail(reason, "wrong audience"));
	return (0);
}

/* An id claim into out: 1-128 bytes of 0x21-0x7e. */
static int
jwt_claim_id(const struct json_doc *doc, const char *name, char *out,
    int required, const char *bad, const char **reason)
{
	const char	*err;
	size_t		 len;
	int		 t;

	out[0] = '\0';
	if ((t = json_obj_get(doc, 0, name)) == -1)
		return (required ? jwt_fail(reason, bad) : 0);
	if (json_get_string(doc, t, out, JWT_ID_MAX + 1, &len, &err) == -1 ||
	    !jwt_printable(out, len, JWT_ID_MAX)) {
		out[0] = '\0';
		return (jwt_fail(reason, bad));
	}
	return (0);
}

/* Decode, parse and check the payload (after the signature). */
static int
jwt_payload_parse(const struct jwt_token *tk, const struct jwt_policy *pol,
    int64_t now, struct jwt_claims *c, const char **reason)
{
	unsigned char	 buf[JWT_MAX_PAYLOAD];
	jsmntok_t	 tok[JWT_PAYLOAD_TOKENS];
	struct json_doc	 doc;
	const char	*err;
	size_t		 len;

	if (tk->tk_paylen > b64_url_encoded_len(sizeof(buf)))
		return (jwt_fail(reason, "payload too large"));
	if (b64_url_decode(tk->tk_pay, tk->tk_paylen, buf, sizeof(buf),
	    &len) == -1)
		return (jwt_fail(reason, "bad base64url in payload"));
	if (json_parse(&doc, (const char *)buf, len, tok, JWT_PAYLOAD_TOKENS,
	    0, &err) == -1)
		return (jwt_fail(reason, strcmp(err, JSON_ERR_DUPLICATE) == 0 ?
		    "duplicate claim" : "bad payload JSON"));
	if (json_type(&doc, 0) != JSON_OBJECT)
		return (jwt_fail(reason, "payload is not an object"));
	if (jwt_claims_times(&doc, pol, now, c, reason) == -1 ||
	    jwt_claims_iss(&doc, pol, reason) == -1 ||
	    jwt_claims_aud(&doc, pol, reason) == -1 ||
	    jwt_claim_id(&doc, pol->jp_user_claim != NULL ?
	    pol->jp_user_claim : "sub", c->jc_user, 1, "bad user claim",
	    reason) == -1 ||
	    jwt_claim_id(&doc, pol->jp_device_claim != NULL ?
	    pol->jp_device_claim : "device_id", c->jc_device, 0,
	    "bad device claim", reason) == -1)
		return (-1);
	return (0);
}

/* ------------------------------------------------------------------ */
/* Verify and sign                                                     */
/* ------------------------------------------------------------------ */

/* Steps up to and including the signature. */
static int
jwt_verify_sig(const struct jwt_keys *keys, const struct jwt_token *tk,
    const struct jwt_policy *pol, int *alg, const char **reason)
{
	struct jwt_header	 h;
	const struct jwt_key	*k;

	if (jwt_header_parse(tk, &h, reason) == -1)
		return (-1);
	if ((k = jwt_keys_find(keys, h.h_kid)) == NULL)
		return (jwt_fail(reason, "unknown kid"));
	if (k->k_alg != h.h_alg)
		return (jwt_fail(reason, "alg does not match the key"));
	*alg = h.h_alg;
	return (jwt_check_sig(k, tk, pol, reason));
}

int
jwt_verify(const struct jwt_keys *keys, const char *token, size_t len,
    const struct jwt_policy *pol, time_t now, struct jwt_claims *out,
    const char **reason)
{
	struct jwt_policy	 defaults;
	struct jwt_token	 tk;
	size_t			 max;
	int			 alg = 0;

	memset(out, 0, sizeof(*out));
	if (pol == NULL) {
		jwt_policy_init(&defaults);
		pol = &defaults;
	}
	if (pol->jp_leeway < 0 || pol->jp_leeway > JWT_LEEWAY_MAX)
		return (jwt_fail(reason, "bad policy"));
	max = pol->jp_max_token == 0 ? JWT_MAX_TOKEN :
	    pol->jp_max_token > JWT_MAX_TOKEN_CAP ? JWT_MAX_TOKEN_CAP :
	    pol->jp_max_token;
	if (jwt_split(token, len, max, &tk, reason) == -1 ||
	    jwt_verify_sig(keys, &tk, pol, &alg, reason) == -1 ||
	    jwt_payload_parse(&tk, pol, (int64_t)now, out, reason) == -1) {
		memset(out, 0, sizeof(*out));
		return (-1);
	}
	out->jc_alg = jwt_alg_name(alg);
	return (0);
}

/* The header JSON for jwt_sign_hs256() into buf. */
static int
jwt_sign_header(const char *kid, char *buf, size_t cap, size_t *lenp,
    const char **errstr)
{
	char	 esc[2 * JWT_KID_MAX + 3];
	int	 n;

	if (kid == NULL || *kid == '\0')
		n = snprintf(buf, cap, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	else {
		if (!jwt_printable(kid, strlen(kid), JWT_KID_MAX) ||
		    json_escape(kid, strlen(kid), esc, sizeof(esc), NULL) == -1)
			return (jwt_fail(errstr, "bad kid"));
		n = snprintf(buf, cap,
		    "{\"alg\":\"HS256\",\"kid\":%s,\"typ\":\"JWT\"}", esc);
	}
	if (n < 0 || (size_t)n >= cap)
		return (jwt_fail(errstr, "bad kid"));
	*lenp = n;
	return (0);
}

/* Append "." (unless out is empty) and the base64url of data at *o. */
static int
jwt_append(char *out, size_t cap, size_t *o, const void *data, size_t len)
{
	size_t	 n;

	if (*o > 0) {
		if (*o + 1 >= cap)
			return (-1);
		out[(*o)++] = '.';
	}
	if (b64_url_encode(data, len, out + *o, cap - *o, &n) == -1)
		return (-1);
	*o += n;
	return (0);
}

int
jwt_sign_hs256(const void *secret, size_t secretlen, const char *kid,
    const char *payload, size_t plen, char *out, size_t cap, size_t *outlen,
    const char **errstr)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	char		 hdr[JWT_KID_MAX * 2 + 64];
	unsigned int	 maclen = 0;
	size_t		 hlen, o = 0;
	int		 rc;

	if (secretlen < JWT_SECRET_MIN || secretlen > JWT_SECRET_MAX)
		return (jwt_fail(errstr, "HS256 secret length out of range"));
	if (jwt_sign_header(kid, hdr, sizeof(hdr), &hlen, errstr) == -1)
		return (-1);
	if (jwt_append(out, cap, &o, hdr, hlen) == -1 ||
	    jwt_append(out, cap, &o, payload, plen) == -1)
		return (jwt_fail(errstr, "output buffer too small"));
	if (HMAC(EVP_sha256(), secret, (int)secretlen, (unsigned char *)out,
	    o, mac, &maclen) == NULL || maclen != JWT_HS256_LEN)
		return (jwt_fail(errstr, "HMAC failed"));
	rc = jwt_append(out, cap, &o, mac, maclen);
	OPENSSL_cleanse(mac, sizeof(mac));
	if (rc == -1)
		return (jwt_fail(errstr, "output buffer too small"));
	if (outlen != NULL)
		*outlen = o;
	return (0);
}
