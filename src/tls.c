/*
 * tls.c: TLS for the API and WS workers (OpenSSL 3).
 *
 * Runs in every API and WS worker (which make their own context after
 * fork, and again on a reload) and in the supervisor for routingd -n and
 * at startup, which build a context once to check the files; the push
 * worker's gateway client (pushhttp.c) uses its read and write calls.  It owns
 * nothing between calls but the ex_data index under which a context keeps
 * its copy of the OCSP response: contexts (and that copy, freed with
 * them) and SSL objects belong to the caller.  Session tickets are sealed
 * with the keys of shared memory (tlskeys.c), copied out afresh for every
 * ticket issued or opened, so that a rotation applies at once.
 *
 * Invariants:
 * - Every call clears the thread's OpenSSL error queue first, so that
 *   SSL_get_error() judges only the call just made, and leaves it empty.
 * - No call blocks: the sockets are non-blocking, and a call that would
 *   block says which readiness of the socket it waits for.
 * - Nothing is logged: errors are returned (a message for contexts, a
 *   reason for handshakes, errno for reads and writes).
 * - Client certificates (tls_client_ca) change the session id context, so
 *   that no session verified without them, or against another CA file,
 *   resumes where they are required.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "tlskeys.h"

#define TLS_FILE_MAX	(1024 * 1024)	/* bytes of an OCSP or CA file */

static const unsigned char	tls_alpn[] = "\x08http/1.1";
static const unsigned char	tls_sid_ctx[] = "routingd";

/* The OCSP response a context staples (its ex_data, freed with it). */
struct tls_ocsp {
	unsigned char	*to_der;
	size_t		 to_len;
};

static int	tls_ocsp_idx = -1;	/* SSL_CTX ex_data index, or -1 */

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
	(void)SSL_CTX_set_session_id_context(ctx, tls_sid_ctx,
	    sizeof(tls_sid_ctx) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	return (ctx);
 fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/*
 * The ticket key callback: issue (enc 1) under the current key of the
 * shared region, open (enc 0) under the current one (1) or the previous
 * one (2: OpenSSL renews the ticket).  0: no ticket issued, or the
 * ticket is not ours (a full handshake follows); -1: an error.
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct shm_tls	*st;
	const struct tk_key	*k;
	struct tk_snap		 snap;
	OSSL_PARAM		 params[3];
	int			 rv;

	st = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	if (st == NULL || tk_read(st, &snap) == -1)
		return (0);
	if (enc) {
		k = &snap.ts_cur;
		rv = 1;
		memcpy(name, k->tk_name, SHM_TK_NAME);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
		    k->tk_aes, iv) != 1)
			rv = -1;
	} else {
		if (memcmp(name, snap.ts_cur.tk_name, SHM_TK_NAME) == 0) {
			k = &snap.ts_cur;
			rv = 1;
		} else if (memcmp(name, snap.ts_prev.tk_name,
		    SHM_TK_NAME) == 0) {
			k = &snap.ts_prev;
			rv = 2;
		} else
			rv = 0;
		if (rv != 0 && EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(),
		    NULL, k->tk_aes, iv) != 1)
			rv = -1;
	}
	if (rv > 0) {
		params[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_MAC_PARAM_KEY, (void *)k->tk_hmac, SHM_TK_SECRET);
		params[1] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[2] = OSSL_PARAM_construct_end();
		if (EVP_MAC_CTX_set_params(hctx, params) != 1)
			rv = -1;
	}
	OPENSSL_cleanse(&snap, sizeof(snap));
	return (rv);
}

/* tls_ctx_tickets: see tls.h. */
void
tls_ctx_tickets(SSL_CTX *ctx, const struct shm_tls *keys, long lifetime)
{
	SSL_CTX_set_app_data(ctx, (void *)keys);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	(void)SSL_CTX_set_num_tickets(ctx, 1);
	(void)SSL_CTX_set_timeout(ctx, lifetime);
	(void)SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
}

/* Read the file path whole (at most TLS_FILE_MAX bytes) into *bufp. */
static int
tls_read_file(const char *path, unsigned char **bufp, size_t *lenp,
    char *err, size_t errlen, const char *key)
{
	FILE		*f;
	unsigned char	*buf;
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL) {
		(void)snprintf(err, errlen, "%s %s: %s", key, path,
		    strerror(errno));
		return (-1);
	}
	if ((buf = malloc(TLS_FILE_MAX + 1)) == NULL) {
		(void)fclose(f);
		(void)snprintf(err, errlen, "%s %s: out of memory", key, path);
		return (-1);
	}
	n = fread(buf, 1, TLS_FILE_MAX + 1, f);
	if (ferror(f) || n > TLS_FILE_MAX) {
		(void)snprintf(err, errlen, "%s %s: %s", key, path,
		    ferror(f) ? "cannot read it" : "larger than 1 MiB");
		(void)fclose(f);
		free(buf);
		return (-1);
	}
	(void)fclose(f);
	*bufp = buf;
	*lenp = n;
	return (0);
}

static void
tls_ocsp_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct tls_ocsp	*to = ptr;

	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	if (to == NULL)
		return;
	free(to->to_der);
	free(to);
}

/* The status_request callback: staple the context's response. */
static int
tls_ocsp_cb(SSL *ssl, void *arg)
{
	const struct tls_ocsp	*to;
	unsigned char		*copy;

	(void)arg;
	to = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_ocsp_idx);
	if (to == NULL || (copy = OPENSSL_memdup(to->to_der,
	    to->to_len)) == NULL)
		return (SSL_TLSEXT_ERR_NOACK);
	if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)to->to_len) !=
	    1) {
		OPENSSL_free(copy);
		return (SSL_TLSEXT_ERR_NOACK);
	}
	return (SSL_TLSEXT_ERR_OK);
}

/* The issuer of leaf among the chain certificates of ctx, or NULL. */
static X509 *
tls_issuer(SSL_CTX *ctx, X509 *leaf)
{
	STACK_OF(X509)	*chain = NULL;
	X509		*c;
	int		 i;

	if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1 || chain == NULL)
		return (NULL);
	for (i = 0; i < sk_X509_num(chain); i++) {
		c = sk_X509_value(chain, i);
		if (X509_check_issued(c, leaf) == X509_V_OK)
			return (c);
	}
	return (NULL);
}

/*
 * Whether the basic response bs has a single response for leaf (issued
 * by issuer), whatever hash its certificate id uses.  1 or 0.
 */
static int
tls_ocsp_for(OCSP_BASICRESP *bs, X509 *leaf, X509 *issuer)
{
	OCSP_CERTID	*id;
	const OCSP_CERTID *cid;
	ASN1_OBJECT	*md_oid = NULL;
	const EVP_MD	*md;
	int		 i, found = 0;

	for (i = 0; !found && i < OCSP_resp_count(bs); i++) {
		cid = OCSP_SINGLERESP_get0_id(OCSP_resp_get0(bs, i));
		if (cid == NULL || OCSP_id_get0_info(NULL, &md_oid, NULL,
		    NULL, (OCSP_CERTID *)cid) != 1 ||
		    (md = EVP_get_digestbyobj(md_oid)) == NULL ||
		    (id = OCSP_cert_to_id(md, leaf, issuer)) == NULL)
			continue;
		found = OCSP_id_cmp(id, cid) == 0;
		OCSP_CERTID_free(id);
	}
	return (found);
}

/* Check that der is a successful OCSP response for the certificate. */
static int
tls_ocsp_check(SSL_CTX *ctx, const unsigned char *der, size_t len,
    const char *path, char *err, size_t errlen)
{
	const unsigned char	*p = der;
	OCSP_RESPONSE		*resp;
	OCSP_BASICRESP		*bs = NULL;
	X509			*leaf, *issuer;
	const char		*why = NULL, *status = NULL;
	int			 st;

	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != der + len)
		why = "not a DER OCSP response";
	else if ((st = OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL)
		status = OCSP_response_status_str(st);
	else if ((bs = OCSP_response_get1_basic(resp)) == NULL)
		why = "not a basic OCSP response";
	else if ((leaf = SSL_CTX_get0_certificate(ctx)) == NULL ||
	    (issuer = tls_issuer(ctx, leaf)) == NULL)
		why = "tls_cert holds no issuer certificate to match it "
		    "with (use the full chain)";
	else if (!tls_ocsp_for(bs, leaf, issuer))
		why = "the response is not for the certificate of tls_cert";
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	if (status != NULL)
		(void)snprintf(err, errlen, "tls_ocsp_file %s: the response's "
		    "status is %s, not successful", path, status);
	else if (why != NULL)
		(void)snprintf(err, errlen, "tls_ocsp_file %s: %s", path, why);
	return (why != NULL || status != NULL ? -1 : 0);
}

/* tls_ctx_ocsp: see tls.h. */
int
tls_ctx_ocsp(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	struct tls_ocsp	*to;
	unsigned char	*der;
	size_t		 len;

	if (tls_read_file(path, &der, &len, err, errlen,
	    "tls_ocsp_file") == -1)
		return (-1);
	if (tls_ocsp_check(ctx, der, len, path, err, errlen) == -1) {
		free(der);
		return (-1);
	}
	if (tls_ocsp_idx == -1)
		tls_ocsp_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    tls_ocsp_free);
	if (tls_ocsp_idx == -1 || (to = calloc(1, sizeof(*to))) == NULL) {
		free(der);
		(void)snprintf(err, errlen, "tls_ocsp_file %s: out of memory",
		    path);
		return (-1);
	}
	to->to_der = der;
	to->to_len = len;
	if (SSL_CTX_set_ex_data(ctx, tls_ocsp_idx, to) != 1) {
		tls_ocsp_free(NULL, to, NULL, 0, 0, NULL);
		(void)snprintf(err, errlen, "tls_ocsp_file %s: out of memory",
		    path);
		return (-1);
	}
	SSL_CTX_set_tlsext_status_cb(ctx, tls_ocsp_cb);
	return (0);
}

/* tls_ctx_client_ca: see tls.h. */
int
tls_ctx_client_ca(SSL_CTX *ctx, const char *path, char *err,
    size_t errlen)
{
	STACK_OF(X509_NAME)	*names;
	unsigned char		*buf, sid[SHA256_DIGEST_LENGTH];
	size_t			 len;
	int			 ok;

	if (tls_read_file(path, &buf, &len, err, errlen,
	    "tls_client_ca") == -1)
		return (-1);
	ok = EVP_Digest(buf, len, sid, NULL, EVP_sha256(), NULL) == 1;
	free(buf);
	ERR_clear_error();
	if ((names = SSL_load_client_CA_file(path)) == NULL) {
		ERR_clear_error();
		(void)snprintf(err, errlen, "tls_client_ca %s: no PEM "
		    "certificate in it", path);
		return (-1);
	}
	if (!ok || SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		tls_errtext(err, errlen, "tls_client_ca", path);
		return (-1);
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	(void)SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid));
	return (0);
}

/*
 * tls_config_ctx with *keyp set to the key a failure is about.
 */
static int
tls_config_build(const struct config *cf, int flags,
    const struct shm_tls *keys, SSL_CTX **ctxp, char *err, size_t errlen,
    const char **keyp)
{
	SSL_CTX	*ctx;

	*ctxp = NULL;
	*keyp = "tls_cert";
	if (cf->cf_tls_cert == NULL || cf->cf_tls_key == NULL)
		return (0);
	if ((ctx = tls_ctx_new(cf->cf_tls_cert, cf->cf_tls_key,
	    cf->cf_tls_ciphers, cf->cf_tls_min_version, err, errlen)) == NULL)
		return (-1);
	*keyp = "tls_ocsp_file";
	if (cf->cf_tls_ocsp_file != NULL && tls_ctx_ocsp(ctx,
	    cf->cf_tls_ocsp_file, err, errlen) == -1)
		goto fail;
	*keyp = "tls_client_ca";
	if ((flags & TLS_F_CLIENT_CA) && cf->cf_tls_client_ca != NULL &&
	    tls_ctx_client_ca(ctx, cf->cf_tls_client_ca, err, errlen) == -1)
		goto fail;
	if (keys != NULL)
		tls_ctx_tickets(ctx, keys, (long)(2 *
		    (cf->cf_tls_ticket_rotate / 1000)));
	*ctxp = ctx;
	return (0);
 fail:
	SSL_CTX_free(ctx);
	return (-1);
}

/* tls_config_ctx: see tls.h. */
int
tls_config_ctx(const struct config *cf, int flags,
    const struct shm_tls *keys, SSL_CTX **ctxp, char *err, size_t errlen)
{
	const char	*key;

	return (tls_config_build(cf, flags, keys, ctxp, err, errlen, &key));
}

/* tls_config_check: see tls.h. */
int
tls_config_check(const struct config *cf, struct cfg_errors *errs)
{
	SSL_CTX		*ctx;
	const char	*key;
	char		 err[CFG_ERRLEN];

	if (tls_config_build(cf, TLS_F_CLIENT_CA, NULL, &ctx, err,
	    sizeof(err), &key) == -1) {
		config_key_error(errs, cf, key, err);
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

/* Whether the error e is about the client's certificate: none, or one
 * that does not verify. */
static int
tls_cert_error(unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return (0);
	switch (ERR_GET_REASON(e)) {
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_NO_CERTIFICATES_RETURNED:
		return (1);
	default:
		return (0);
	}
}

/* tls_resumed: see tls.h. */
int
tls_resumed(SSL *ssl)
{
	return (SSL_session_reused(ssl) == 1);
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
	if (e == SSL_ERROR_SSL && tls_cert_error(ERR_peek_error()))
		*reason = SHM_TLS_CERTIFICATE;
	else if (e == SSL_ERROR_SSL)
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
