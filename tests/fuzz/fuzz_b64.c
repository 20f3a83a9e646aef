/*
 * fuzz_b64.c: libFuzzer target for b64.c, the strict base64 of envelope
 * fields and JWT segments.  Checks that the decoders never crash or write
 * past their capacity (outputs are heap buffers of exactly the promised
 * size), that b64_valid() agrees with b64_decode(), that b64_url_decode()
 * accepts only what b64_decode() accepts, and both round trips: when a
 * decode succeeds, encoding the bytes again gives the input in its
 * canonical spelling (standard alphabet, padded; URL-safe, unpadded, for
 * base64url), and for arbitrary bytes decode(encode(x)) == x in both
 * alphabets.  The decoded_max and encoded_len bounds are checked on the
 * way.  A disagreement aborts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_b64: %s\n", what);
	abort();
}

static void *
fuzz_alloc(size_t n)
{
	void	*p;

	if ((p = malloc(n ? n : 1)) == NULL)
		abort();
	return (p);
}

/* The canonical standard spelling of in: '-' '_' mapped, '=' padded. */
static char *
fuzz_canonical(const char *in, size_t len, size_t *outlen)
{
	char	*c;
	size_t	 i, n;

	n = (len + 3) / 4 * 4;
	c = fuzz_alloc(n);
	for (i = 0; i < len; i++)
		c[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	for (; i < n; i++)
		c[i] = '=';
	*outlen = n;
	return (c);
}

/* The text in[0..len) as a decoder sees it: decode, then re-encode. */
static void
fuzz_decode_text(const char *in, size_t len)
{
	uint8_t	*out;
	char	*enc, *canon;
	size_t	 cap, outlen, enclen, canonlen, ulen;
	int	 r, ru;

	cap = b64_decoded_max(len);
	out = fuzz_alloc(cap);
	r = b64_decode(in, len, out, cap, &outlen);
	if (r != b64_valid(in, len))
		fuzz_fail("b64_valid and b64_decode disagree");
	if (r == 0) {
		if (outlen > cap)
			fuzz_fail("decoded more than b64_decoded_max");
		enclen = b64_encoded_len(outlen);
		enc = fuzz_alloc(enclen + 1);
		if (b64_encode(out, outlen, enc, enclen + 1, &ulen) != 0 ||
		    ulen != enclen)
			fuzz_fail("encode of decoded bytes failed");
		/* Unpadded input: canonical form pads it. */
		canon = fuzz_canonical(in, len - (len > 0 && in[len - 1] == '=' ?
		    (len > 1 && in[len - 2] == '=' ? 2 : 1) : 0), &canonlen);
		if (canonlen != enclen || memcmp(canon, enc, enclen) != 0)
			fuzz_fail("encode(decode(x)) is not x canonical");
		free(canon);
		free(enc);
	}

	ru = b64_url_decode(in, len, out, cap, &ulen);
	if (ru == 0) {
		if (r != 0 || ulen != outlen)
			fuzz_fail("base64url accepts what base64 refuses");
		if (memchr(in, '=', len) != NULL || memchr(in, '+', len) ||
		    memchr(in, '/', len))
			fuzz_fail("base64url accepted padding or '+' '/'");
		enclen = b64_url_encoded_len(ulen);
		enc = fuzz_alloc(enclen + 1);
		if (b64_url_encode(out, ulen, enc, enclen + 1, &outlen) != 0 ||
		    outlen != len || memcmp(enc, in, len) != 0)
			fuzz_fail("url_encode(url_decode(x)) != x");
		free(enc);
	}
	free(out);
}

/* The bytes d[0..n) as data: encode, decode back. */
static void
fuzz_encode_bytes(const uint8_t *d, size_t n)
{
	char	*enc;
	uint8_t	*out;
	size_t	 enclen, len, outlen, cap;

	enclen = b64_encoded_len(n);
	enc = fuzz_alloc(enclen + 1);
	if (enclen > 0 && b64_encode(d, n, enc, enclen, &len) != -1)
		fuzz_fail("b64_encode ignored its capacity");
	if (b64_encode(d, n, enc, enclen + 1, &len) != 0 || len != enclen ||
	    enc[len] != '\0')
		fuzz_fail("b64_encode failed");
	cap = b64_decoded_max(len);
	out = fuzz_alloc(cap);
	if (b64_decode(enc, len, out, cap, &outlen) != 0 || outlen != n ||
	    memcmp(out, d, n) != 0)
		fuzz_fail("decode(encode(x)) != x");
	if (n > 0 && b64_decode(enc, len, out, n - 1, &outlen) != -1)
		fuzz_fail("b64_decode ignored its capacity");
	free(enc);

	enclen = b64_url_encoded_len(n);
	enc = fuzz_alloc(enclen + 1);
	if (b64_url_encode(d, n, enc, enclen + 1, &len) != 0 ||
	    len != enclen)
		fuzz_fail("b64_url_encode failed");
	if (b64_url_decode(enc, len, out, cap, &outlen) != 0 || outlen != n ||
	    memcmp(out, d, n) != 0)
		fuzz_fail("url_decode(url_encode(x)) != x");
	free(enc);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char	*text;

	text = fuzz_alloc(n);
	memcpy(text, d, n);
	fuzz_decode_text(text, n);
	free(text);
	fuzz_encode_bytes(d, n);
	return (0);
}
