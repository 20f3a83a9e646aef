/*
 * fuzz_jwt.c: libFuzzer target for jwt.c, the verifier every API and WS
 * worker runs on a client's bearer token.  The key table is the unit
 * tests' JWKS (RS256 "rs1", ES256 "ec1", HS256 "hs1", read once at start
 * from FUZZ_JWKS, a path the build sets) plus an HS256 secret without a
 * kid; the clock is fixed inside the lifetime of the tokens of
 * tests/unit/data/jwt/tokens.txt, so real tokens get through the
 * signature to the claims.  The input is the token.  It is verified with
 * the default policy and with an issuer, an audience and the low-S rule.
 * Checks that nothing crashes or reads outside the token (a heap copy of
 * exactly its bytes); that a failure always has a reason and zeroed
 * claims; that a success names a static algorithm and a user id of
 * 1-128 bytes of 0x21-0x7e; and that a token the strict policy accepts
 * is accepted by the default one.  Random bytes seldom get past a
 * signature, so an input starting with '{' is taken as the claims
 * instead: it is signed with the kid-less secret (jwt_sign_hs256) and the
 * token verified, which takes the payload checks into the search.  A
 * disagreement aborts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

#ifndef FUZZ_JWKS
#error "the build passes -DFUZZ_JWKS=\"path of jwks.json\""
#endif

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_NOW	((time_t)4102441200 + 100)	/* iat + 100 s */

static struct jwt_keys	*fuzz_keys;
static const char	 fuzz_secret[] =
    "fuzz_jwt-hs256-secret-without-kid-0123456789";

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_jwt: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*err;

	if ((fuzz_keys = jwt_keys_new()) == NULL)
		fuzz_fail("jwt_keys_new");
	if (jwt_keys_load_jwks_file(fuzz_keys, FUZZ_JWKS, &err) != 3) {
		fprintf(stderr, "fuzz_jwt: %s: %s\n", FUZZ_JWKS, err);
		abort();
	}
	if (jwt_keys_add_hs256(fuzz_keys, NULL, fuzz_secret,
	    sizeof(fuzz_secret) - 1, &err) != 0)
		fuzz_fail(err);
	return (0);
}

/* The user id rule of jwt.h. */
static int
fuzz_id_ok(const char *s)
{
	size_t	i, n;

	n = strlen(s);
	if (n < 1 || n > JWT_ID_MAX)
		return (0);
	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return (0);
	return (1);
}

static int
fuzz_verify(const char *tok, size_t n, const struct jwt_policy *pol)
{
	struct jwt_claims	 c;
	const char		*reason = NULL;
	size_t			 i;
	int			 r;

	memset(&c, 0xa5, sizeof(c));
	r = jwt_verify(fuzz_keys, tok, n, pol, FUZZ_NOW, &c, &reason);
	if (r == -1) {
		if (reason == NULL)
			fuzz_fail("failure without a reason");
		for (i = 0; i < sizeof(c.jc_user); i++)
			if (c.jc_user[i] != '\0')
				fuzz_fail("claims not zeroed on failure");
		return (-1);
	}
	if (r != 0)
		fuzz_fail("jwt_verify returned neither 0 nor -1");
	if (c.jc_alg == NULL || (strcmp(c.jc_alg, "HS256") != 0 &&
	    strcmp(c.jc_alg, "RS256") != 0 && strcmp(c.jc_alg, "ES256") != 0))
		fuzz_fail("accepted token with an unknown algorithm");
	if (!fuzz_id_ok(c.jc_user))
		fuzz_fail("accepted token with a bad user id");
	if (c.jc_device[0] != '\0' && !fuzz_id_ok(c.jc_device))
		fuzz_fail("accepted token with a bad device id");
	if (c.jc_exp <= 0)
		fuzz_fail("accepted token without exp");
	return (0);
}

/* Claims: the input signed as the payload of an HS256 token. */
static char *
fuzz_mint(const uint8_t *d, size_t *n)
{
	const char	*err;
	char		*claims, *tok;
	size_t		 cap;

	cap = 2 * *n + 256;
	if ((claims = malloc(*n)) == NULL || (tok = malloc(cap)) == NULL)
		abort();
	memcpy(claims, d, *n);
	if (jwt_sign_hs256(fuzz_secret, sizeof(fuzz_secret) - 1, NULL, claims,
	    *n, tok, cap, n, &err) != 0)
		fuzz_fail(err);
	if (strlen(tok) != *n)
		fuzz_fail("minted token length");
	free(claims);
	return (tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct jwt_policy	 strict;
	char			*tok;
	int			 r1, r2;

	if (n > 0 && d[0] == '{')
		tok = fuzz_mint(d, &n);
	else {
		if ((tok = malloc(n ? n : 1)) == NULL)
			abort();
		memcpy(tok, d, n);
	}
	r1 = fuzz_verify(tok, n, NULL);
	jwt_policy_init(&strict);
	strict.jp_issuer = "https://idp.example";
	strict.jp_audience = "routingd";
	strict.jp_es256_low_s = 1;
	strict.jp_max_token = JWT_MAX_TOKEN_CAP;
	r2 = fuzz_verify(tok, n, &strict);
	if (r2 == 0 && r1 != 0 && n <= JWT_MAX_TOKEN)
		fuzz_fail("the strict policy accepts what the default refuses");
	free(tok);
	return (0);
}
