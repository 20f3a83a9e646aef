/*
 * b64.c: strict base64 and base64url codecs (contracts in b64.h).  Used
 * by the API and WS workers for envelope fields, by jwt.c for token
 * segments and JWK members, and by jwt_sign_hs256 (the supervisor mints
 * tokens for `routingctl token` with it, as do the unit tests and the
 * benchmark's load generator).
 *
 * Decoding validates the whole input before it writes a byte, so a
 * failed decode never leaves a partial result that looks plausible.  One
 * decoder serves both entry points; its B64_F_* flags say which alphabets
 * and whether padding is allowed.
 */

#include <stdint.h>
#include <string.h>

#include "b64.h"

#define B64_F_STD	0x01	/* '+' and '/' allowed */
#define B64_F_URL	0x02	/* '-' and '_' allowed */
#define B64_F_PAD	0x04	/* trailing '=' padding allowed */

static const char b64_std_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Per byte: its sextet, ORed with B64_T_STD or B64_T_URL for the
 * characters only one alphabet has; B64_T_BAD for every other byte.
 * Filled on first use (each process is single-threaded).
 */
#define B64_T_STD	0x40
#define B64_T_URL	0x80
#define B64_T_BAD	0xff
static uint8_t	b64_tab[256];
static int	b64_tab_ready;

static void
b64_tab_init(void)
{
	int	 i;

	memset(b64_tab, B64_T_BAD, sizeof(b64_tab));
	for (i = 0; i < 64; i++) {
		b64_tab[(unsigned char)b64_std_chars[i]] = (uint8_t)i;
		b64_tab[(unsigned char)b64_url_chars[i]] = (uint8_t)i;
	}
	b64_tab['+'] |= B64_T_STD;
	b64_tab['/'] |= B64_T_STD;
	b64_tab['-'] |= B64_T_URL;
	b64_tab['_'] |= B64_T_URL;
	b64_tab_ready = 1;
}

/*
 * The sextet of character c, or -1.  *alpha is B64_F_STD or B64_F_URL for
 * the characters only one alphabet has, 0 for the common ones.
 */
static int
b64_value(unsigned char c, int *alpha)
{
	uint8_t	 t;

	if (!b64_tab_ready)
		b64_tab_init();
	t = b64_tab[c];
	*alpha = 0;
	if (t == B64_T_BAD)
		return (-1);
	if (t & B64_T_STD)
		*alpha = B64_F_STD;
	else if (t & B64_T_URL)
		*alpha = B64_F_URL;
	return (t & 0x3f);
}

/*
 * Check the shape of in[0..len): padding, length and alphabet.  *datalen
 * receives the characters before the padding.  Returns 0 or -1.
 */
static int
b64_check(const char *in, size_t len, int flags, size_t *datalen)
{
	size_t	 pad = 0, n, i;
	int	 alpha, seen = 0;

	while (pad < len && pad < 3 && in[len - pad - 1] == '=')
		pad++;
	n = len - pad;
	if (pad > 0 && (!(flags & B64_F_PAD) || len % 4 != 0 ||
	    n % 4 != 4 - pad))
		return (-1);
	if (n % 4 == 1)
		return (-1);
	if (!b64_tab_ready)
		b64_tab_init();
	for (i = 0; i < n; i++) {
		if (b64_tab[(unsigned char)in[i]] < B64_T_STD)
			continue;		/* common to both alphabets */
		if (b64_value(in[i], &alpha) == -1)
			return (-1);
		if (!(flags & alpha) || (seen != 0 && seen != alpha))
			return (-1);
		seen = alpha;
	}
	*datalen = n;
	return (0);
}

/* The sextet at in[i]; the caller validated the input. */
static uint32_t
b64_at(const char *in, size_t i)
{
	int	 alpha;

	return ((uint32_t)b64_value(in[i], &alpha));
}

/*
 * The whole string follows the rules of flags, and the unused low bits of
 * its last character are zero (canonical); *n receives the count of
 * characters without padding.  0 or -1.
 */
static int
b64_check_canonical(const char *in, size_t len, int flags, size_t *n)
{
	if (b64_check(in, len, flags, n) == -1)
		return (-1);
	if ((*n % 4 == 2 && (b64_at(in, *n - 1) & 0x0f) != 0) ||
	    (*n % 4 == 3 && (b64_at(in, *n - 1) & 0x03) != 0))
		return (-1);
	return (0);
}

static int
b64_decode_flags(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen, int flags)
{
	size_t		 n, i, o = 0, need;
	uint32_t	 v;

	if (b64_check_canonical(in, len, flags, &n) == -1)
		return (-1);
	need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (need > cap)
		return (-1);
	for (i = 0; i + 4 <= n; i += 4) {
		v = b64_at(in, i) << 18 | b64_at(in, i + 1) << 12 |
		    b64_at(in, i + 2) << 6 | b64_at(in, i + 3);
		out[o++] = v >> 16;
		out[o++] = (v >> 8) & 0xff;
		out[o++] = v & 0xff;
	}
	if (n - i >= 2) {
		v = b64_at(in, i) << 18 | b64_at(in, i + 1) << 12;
		if (n - i == 3)
			v |= b64_at(in, i + 2) << 6;
		out[o++] = v >> 16;
		if (n - i == 3)
			out[o++] = (v >> 8) & 0xff;
	}
	*outlen = o;
	return (0);
}

int
b64_valid(const char *in, size_t len)
{
	size_t	 n;

	return (b64_check_canonical(in, len, B64_F_STD | B64_F_URL | B64_F_PAD,
	    &n));
}

int
b64_decode(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	return (b64_decode_flags(in, len, out, cap, outlen,
	    B64_F_STD | B64_F_URL | B64_F_PAD));
}

int
b64_url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen)
{
	return (b64_decode_flags(in, len, out, cap, outlen, B64_F_URL));
}

size_t
b64_decoded_max(size_t len)
{
	return (len / 4 * 3 + 2);
}

size_t
b64_encoded_len(size_t len)
{
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return (SIZE_MAX);
	return ((len + 2) / 3 * 4);
}

size_t
b64_url_encoded_len(size_t len)
{
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return (SIZE_MAX);
	return (len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1));
}

/* Encode with the alphabet chars; pad to a multiple of 4 if pad. */
static int
b64_encode_with(const void *in, size_t len, char *out, size_t cap,
    size_t *outlen, const char *chars, int pad)
{
	const uint8_t	*u = in;
	size_t		 i, o = 0, need;
	uint32_t	 v;

	need = pad ? b64_encoded_len(len) : b64_url_encoded_len(len);
	if (need == SIZE_MAX || need >= cap)
		return (-1);
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
		out[o++] = chars[v >> 18];
		out[o++] = chars[(v >> 12) & 0x3f];
		out[o++] = chars[(v >> 6) & 0x3f];
		out[o++] = chars[v & 0x3f];
	}
	if (len - i > 0) {
		v = (uint32_t)u[i] << 16;
		if (len - i == 2)
			v |= (uint32_t)u[i + 1] << 8;
		out[o++] = chars[v >> 18];
		out[o++] = chars[(v >> 12) & 0x3f];
		if (len - i == 2)
			out[o++] = chars[(v >> 6) & 0x3f];
		while (pad && o % 4 != 0)
			out[o++] = '=';
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return (0);
}

int
b64_encode(const void *in, size_t len, char *out, size_t cap,
    size_t *outlen)
{
	return (b64_encode_with(in, len, out, cap, outlen, b64_std_chars, 1));
}

int
b64_url_encode(const void *in, size_t len, char *out, size_t cap,
    size_t *outlen)
{
	return (b64_encode_with(in, len, out, cap, outlen, b64_url_chars, 0));
}
