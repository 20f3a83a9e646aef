/*
 * b64.h: strict base64 (RFC 4648 sections 4 and 5) for envelope fields and
 * JWT segments.  Pure code: no I/O, no logging, no allocation; the caller
 * owns every buffer and each capacity is checked.
 *
 * "Strict" means one canonical text per byte string (modulo the alphabet
 * and padding choices a decoder allows): no whitespace or other bytes, no
 * '=' except the exact padding at the end, never a length that leaves a
 * lone sextet (len % 4 == 1), and the unused low bits of the last
 * character must be zero.  OpenSSL's EVP_DecodeBlock is never used: it
 * skips whitespace, expects padding and turns '=' into zero bytes.
 */

#ifndef B64_H
#define B64_H

#include <stddef.h>
#include <stdint.h>

/*
 * b64_decode: decode in[0..len) written in the standard alphabet ('+',
 * '/') or the URL-safe one ('-', '_') but never both in one string, padded
 * (to a multiple of 4 with exactly the '=' needed) or not padded at all.
 * Writes at most cap bytes to out; *outlen receives the count.  The empty
 * string decodes to zero bytes.  Returns 0, or -1 on any violation or if
 * the result does not fit (out is then undefined).
 */
int		 b64_decode(const char *in, size_t len, uint8_t *out,
		    size_t cap, size_t *outlen);

/*
 * b64_valid: 0 if b64_decode would accept in[0..len), else -1; decodes
 * nothing and needs no buffer.
 */
int		 b64_valid(const char *in, size_t len);

/*
 * b64_url_decode: the strict base64url of JWS (RFC 7515 section 2): the
 * URL-safe alphabet only and no padding, otherwise as b64_decode().
 */
int		 b64_url_decode(const char *in, size_t len, uint8_t *out,
		    size_t cap, size_t *outlen);

/* b64_decoded_max: an upper bound of the decoded size of len characters. */
size_t		 b64_decoded_max(size_t len);

/*
 * b64_encode: standard alphabet with padding; b64_url_encode: URL-safe
 * alphabet without padding.  out receives the text and a NUL (cap must
 * hold both); *outlen (may be NULL) the length without the NUL.  Return 0,
 * or -1 if cap is too small.
 */
int		 b64_encode(const void *in, size_t len, char *out, size_t cap,
		    size_t *outlen);
int		 b64_url_encode(const void *in, size_t len, char *out,
		    size_t cap, size_t *outlen);

/*
 * b64_encoded_len, b64_url_encoded_len: the output length of the encoders
 * for len input bytes, without the NUL; SIZE_MAX if it would overflow.
 */
size_t		 b64_encoded_len(size_t len);
size_t		 b64_url_encoded_len(size_t len);

#endif /* B64_H */
