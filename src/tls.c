/*
 * tls.c: TLS for the API and WS workers (OpenSSL 3).
 *
 * Runs in every API and WS worker (which make their own context after
 * fork, and again on a reload) and in the supervisor for routingd -n and
 * at startup, which build a context once to check the files; the push
 * worker's gateway client (pushhttp.c) uses its read and write calls.  It owns
 * nothing between calls: contexts and SSL objects belong to the caller.
 *
 * Invariants:
 * - Every call clears the thread's OpenSSL error queue first, so that
 *   SSL_get_error() judges only the call just made, and leaves it empty.
 * - No call blocks: the sockets are non-blocking, and a call that would
 *   block says which readiness of the socket it waits for.
 * - Nothing is logged: errors are returned (a message for contexts, a
 *   reason for handshakes, errno for reads and writes).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

static const unsigned char	tls_alpn[] = "\x08http/1.1";

/* The reason text of the oldest error in the queue; the queue emptied. */
static void
tls_errtext(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long	 e = ERR_get_error();
	const char	*r = NULL;

	if (e != 0 && ERR_SYSTEM_ERROR(e))
		r = strerror(ERR_GET_REASON(e));
	else if (e != 0)
		r = ERR_reason_error_string(e);

	(void)snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "",
	    path ? path : "", r != NULL ? r : "unknown error");
	ERR_clear_error();
}

/* ALPN: http/1.1 when the client offers it; no ALPN otherwise. */
static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char	*sel;

	if (SSL_select_next_proto(&sel, outlen, tls_alpn,
	    sizeof(tls_alpn) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	*out = sel;
	return (SSL_TLSEXT_ERR_OK);
}

/* tls_ctx_new: see tls.h. */
SSL_CTX *
tls_ctx_new(const char *cert, const char *key, const char *ciphers,
    int min_tls, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_errtext(err, errlen, "cannot make a TLS context", NULL);
		return (NULL);
	}
	if (SSL_CTX_set_min_proto_version(ctx, min_tls == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
		tls_errtext(err, errlen, "tls_min_version", NULL);
		goto fail;
	}
	if (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		tls_errtext(err, errlen, "tls_ciphers", ciphers);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_errtext(err, errlen, "tls_cert", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ERR_peek_error()) != X509_R_KEY_VALUES_MISMATCH) {
		tls_errtext(err, errlen, "tls_key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		(void)snprintf(err, errlen, "tls_key %s: the private key does "
		    "not match the certificate %s", key, cert);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	return (ctx);
 fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* tls_config_ctx: see tls.h. */
int
tls_config_ctx(const struct config *cf, SSL_CTX **ctxp, char *err,
    size_t errlen)
{
	*ctxp = NULL;
	if (cf->cf_tls_cert == NULL || cf->cf_tls_key == NULL)
		return (0);
	*ctxp = tls_ctx_new(cf->cf_tls_cert, cf->cf_tls_key,
	    cf->cf_tls_ciphers, cf->cf_tls_min_version, err, errlen);
	return (*ctxp == NULL ? -1 : 0);
}

/* tls_config_check: see tls.h. */
int
tls_config_check(const struct config *cf, struct cfg_errors *errs)
{
	SSL_CTX	*ctx;
	char	 err[CFG_ERRLEN];

	if (tls_config_ctx(cf, &ctx, err, sizeof(err)) == -1) {
		config_key_error(errs, cf, "tls_cert", err);
		return (-1);
	}
	SSL_CTX_free(ctx);
	return (0);
}

/* tls_conn_new: see tls.h. */
SSL *
tls_conn_new(SSL_CTX *ctx, int fd)
{
	SSL	*ssl;

	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL)
		return (NULL);
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return (NULL);
	}
	SSL_set_accept_state(ssl);
	return (ssl);
}

/*
 * Map the failure of an SSL call that returned r: -1 with errno (EAGAIN
 * and *want for a retry), or 0 for the end of the stream.
 */
static int
tls_fail(SSL *ssl, int r, int *want)
{
	int	 saved = errno;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_WANT_READ;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_WANT_WRITE;
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		errno = saved != 0 && saved != EAGAIN ? saved : EPIPE;
		return (-1);
	default:
		ERR_clear_error();
		errno = EPROTO;
		return (-1);
	}
}

/* tls_handshake: see tls.h. */
int
tls_handshake(SSL *ssl, int *want, int *reason)
{
	int	 r, e;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(ssl)) == 1)
		return (1);
	e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? TLS_WANT_READ :
		    TLS_WANT_WRITE;
		return (0);
	}
	if (e == SSL_ERROR_SSL)
		*reason = SHM_TLS_PROTOCOL;
	else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL &&
	    (errno == 0 || errno == ECONNRESET || errno == EPIPE)))
		*reason = SHM_TLS_CLOSED;
	else
		*reason = SHM_TLS_OTHER;
	ERR_clear_error();
	return (-1);
}

/* tls_recv: see tls.h. */
ssize_t
tls_recv(SSL *ssl, int fd, void *buf, size_t len, int *want)
{
	ssize_t	 n;
	size_t	 got;
	int	 r;

	if (ssl == NULL) {
		while ((n = recv(fd, buf, len, 0)) == -1 && errno == EINTR)
			;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*want = TLS_WANT_READ;
			errno = EAGAIN;
		}
		return (n);
	}
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(ssl, buf, len, &got)) == 1)
		return ((ssize_t)got);
	return (tls_fail(ssl, r, want));
}

/* tls_send: see tls.h. */
ssize_t
tls_send(SSL *ssl, int fd, const void *buf, size_t len, int flags,
    int *want)
{
	ssize_t	 n;
	size_t	 put;
	int	 r;

	if (ssl == NULL) {
		while ((n = send(fd, buf, len, flags | MSG_NOSIGNAL)) == -1 &&
		    errno == EINTR)
			;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*want = TLS_WANT_WRITE;
			errno = EAGAIN;
		}
		return (n);
	}
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(ssl, buf, len, &put)) == 1)
		return ((ssize_t)put);
	if (tls_fail(ssl, r, want) == 0)
		errno = EPIPE;		/* the peer's close_notify */
	return (-1);
}

/* tls_pending: see tls.h. */
size_t
tls_pending(SSL *ssl)
{
	return (ssl != NULL && SSL_pending(ssl) > 0 ?
	    (size_t)SSL_pending(ssl) : 0);
}

/* tls_wire_written: see tls.h. */
uint64_t
tls_wire_written(SSL *ssl, uint64_t plain)
{
	BIO	*b;

	if (ssl == NULL || (b = SSL_get_wbio(ssl)) == NULL)
		return (plain);
	return ((uint64_t)BIO_number_written(b));
}

/* tls_shutdown: see tls.h. */
void
tls_shutdown(SSL *ssl)
{
	if (ssl == NULL)
		return;
	ERR_clear_error();
	if (SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/* tls_conn_free: see tls.h. */
void
tls_conn_free(SSL *ssl, int abort)
{
	if (ssl == NULL)
		return;
	if (!abort)
		tls_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}
