/*
 * test_tls.c: unit tests of tls.c: contexts from PEM files (a key that
 * does not match, a missing file, a bad cipher list), and the handshake,
 * reads and writes over a non-blocking socketpair against an OpenSSL
 * client: ALPN, would-block results, decrypted bytes left pending,
 * partial writes, end of stream, and handshake failure reasons.  Session
 * tickets (TLS 1.2 and 1.3): issued under the current key; two contexts
 * on one key region resume each other's sessions, also under the
 * previous key after a rotation (with a new ticket under the current
 * one), not after two, nor under another region's keys, nor without
 * tickets.
 * Client certificates: none is refused with reason certificate, one of
 * the CA is served and resumes, a session of a context without the CA
 * does not resume; a file without a certificate is refused.  OCSP files
 * that are not OCSP or not successful are refused.  The certificates are
 * made in the test (EC P-256, self-signed).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"
#include "tlskeys.h"

static char	 dir[] = "/tmp/test_tls.XXXXXX";
static char	 cert[128], key[128], key2[128];

static EVP_PKEY *
write_key(const char *path)
{
	EVP_PKEY	*k;
	FILE		*fp;

	assert_non_null(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(fp);
	return (k);
}

static int
setup(void **state)
{
	EVP_PKEY	*k;
	X509		*x;
	FILE		*fp;

	assert_non_null(mkdtemp(dir));
	(void)snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	(void)snprintf(key, sizeof(key), "%s/key.pem", dir);
	(void)snprintf(key2, sizeof(key2), "%s/other.pem", dir);
	k = write_key(key);
	EVP_PKEY_free(write_key(key2));
	assert_non_null(x = X509_new());
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_non_null(fp = fopen(cert, "w"));
	assert_int_equal(PEM_write_X509(fp, x), 1);
	fclose(fp);
	X509_free(x);
	EVP_PKEY_free(k);
	return (0);
}

static int
teardown(void **state)
{
	(void)unlink(cert);
	(void)unlink(key);
	(void)unlink(key2);
	(void)rmdir(dir);
	return (0);
}

static void
test_ctx_errors(void **state)
{
	char	 err[512];
	SSL_CTX	*ctx;

	ctx = tls_ctx_new(cert, key2, NULL, 12, err, sizeof(err));
	assert_null(ctx);
	assert_non_null(strstr(err, "does not match the certificate"));
	ctx = tls_ctx_new("/nonexistent/c.pem", key, NULL, 12, err,
	    sizeof(err));
	assert_null(ctx);
	assert_non_null(strstr(err, "tls_cert /nonexistent/c.pem: No such "
	    "file"));
	ctx = tls_ctx_new(cert, key, "NOT-A-CIPHER", 12, err, sizeof(err));
	assert_null(ctx);
	assert_non_null(strstr(err, "tls_ciphers NOT-A-CIPHER"));
	ctx = tls_ctx_new(key, key, NULL, 12, err, sizeof(err));
	assert_null(ctx);
	assert_non_null(strstr(err, "tls_cert"));
	ctx = tls_ctx_new(cert, key, "ECDHE+AESGCM", 13, err, sizeof(err));
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	SSL_CTX_free(ctx);
}

struct pair {
	int	 fd[2];		/* [0] server, [1] client */
	SSL_CTX	*sctx, *cctx;
	SSL	*s, *c;
};

static void
pair_open(struct pair *p, int min_tls)
{
	char	 err[512];
	int	 i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(fcntl(p->fd[i], F_SETFL, O_NONBLOCK), 0);
	assert_non_null(p->sctx = tls_ctx_new(cert, key, NULL, min_tls, err,
	    sizeof(err)));
	assert_non_null(p->s = tls_conn_new(p->sctx, p->fd[0]));
	assert_non_null(p->cctx = SSL_CTX_new(TLS_client_method()));
	assert_non_null(p->c = SSL_new(p->cctx));
	SSL_set_fd(p->c, p->fd[1]);
	SSL_set_connect_state(p->c);
	assert_int_equal(SSL_set_alpn_protos(p->c,
	    (const unsigned char *)"\x02h2\x08http/1.1", 12), 0);
}

static void
pair_close(struct pair *p)
{
	tls_conn_free(p->s, 0);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);	/* p->s held its own reference */
	SSL_CTX_free(p->cctx);
	(void)close(p->fd[0]);
	(void)close(p->fd[1]);
}

/* Run both sides until the server's handshake is done. */
static void
pair_handshake(struct pair *p)
{
	int	 i, want, reason, r = 0;

	for (i = 0; i < 50 && r != 1; i++) {
		(void)SSL_do_handshake(p->c);
		r = tls_handshake(p->s, &want, &reason);
		assert_int_not_equal(r, -1);
		if (r == 0)
			assert_true(want == TLS_WANT_READ ||
			    want == TLS_WANT_WRITE);
	}
	assert_int_equal(r, 1);
	(void)SSL_do_handshake(p->c);
}

static void
test_handshake_io(void **state)
{
	struct pair	 p;
	const unsigned char *alpn;
	unsigned	 alen;
	char		 buf[64 * 1024], *big;
	size_t		 bigsz = 1024 * 1024, sent = 0, got = 0;
	ssize_t		 n;
	int		 want = 0;

	pair_open(&p, 12);
	/* nothing yet: a read would block, on readability */
	n = tls_recv(p.s, p.fd[0], buf, sizeof(buf), &want);
	assert_int_equal(n, -1);
	pair_handshake(&p);
	SSL_get0_alpn_selected(p.s, &alpn, &alen);
	assert_int_equal(alen, 8);
	assert_memory_equal(alpn, "http/1.1", 8);
	n = tls_recv(p.s, p.fd[0], buf, sizeof(buf), &want);
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(want, TLS_WANT_READ);
	/* one record of 1000 bytes read 10 at a time: the rest is pending */
	memset(buf, 'x', 1000);
	assert_int_equal(SSL_write(p.c, buf, 1000), 1000);
	assert_int_equal(tls_recv(p.s, p.fd[0], buf, 10, &want), 10);
	assert_int_equal(tls_pending(p.s), 990);
	assert_int_equal(tls_recv(p.s, p.fd[0], buf, sizeof(buf), &want),
	    990);
	assert_int_equal(tls_pending(p.s), 0);
	assert_int_equal(tls_pending(NULL), 0);
	/* a write larger than the socket takes: partial, then EAGAIN */
	assert_non_null(big = malloc(bigsz));
	memset(big, 'y', bigsz);
	while ((n = tls_send(p.s, p.fd[0], big + sent, bigsz - sent, 0,
	    &want)) > 0)
		sent += (size_t)n;
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(want, TLS_WANT_WRITE);
	assert_true(sent > 0 && sent < bigsz);
	/* drain the client; the rest goes through a moved buffer */
	while (got < bigsz) {
		int r = SSL_read(p.c, buf, sizeof(buf));

		if (r > 0)
			got += (size_t)r;
		if (sent < bigsz) {
			char *moved = malloc(bigsz - sent);

			memcpy(moved, big + sent, bigsz - sent);
			n = tls_send(p.s, p.fd[0], moved, bigsz - sent, 0,
			    &want);
			if (n > 0)
				sent += (size_t)n;
			free(moved);
		}
		if (r <= 0 && sent == bigsz && got < bigsz &&
		    SSL_get_error(p.c, r) != SSL_ERROR_WANT_READ)
			fail_msg("client read failed");
	}
	assert_int_equal(got, bigsz);
	/* the client's close_notify: the end of the stream */
	(void)SSL_shutdown(p.c);
	assert_int_equal(tls_recv(p.s, p.fd[0], buf, sizeof(buf), &want), 0);
	free(big);
	pair_close(&p);
}

static void
test_plain(void **state)
{
	int	 fd[2], want = 0;
	char	 buf[8];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	assert_int_equal(fcntl(fd[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(tls_recv(NULL, fd[0], buf, sizeof(buf), &want), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(want, TLS_WANT_READ);
	assert_int_equal(tls_send(NULL, fd[1], "abc", 3, 0, &want), 3);
	assert_int_equal(tls_recv(NULL, fd[0], buf, sizeof(buf), &want), 3);
	assert_memory_equal(buf, "abc", 3);
	(void)close(fd[1]);
	assert_int_equal(tls_recv(NULL, fd[0], buf, sizeof(buf), &want), 0);
	(void)close(fd[0]);
}

static void
test_handshake_failures(void **state)
{
	struct pair	 p;
	int		 want, reason = -1;

	/* garbage: a protocol failure */
	pair_open(&p, 12);
	assert_int_equal(write(p.fd[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
	assert_int_equal(tls_handshake(p.s, &want, &reason), -1);
	assert_int_equal(reason, SHM_TLS_PROTOCOL);
	pair_close(&p);
	/* the client goes away mid-handshake: closed */
	pair_open(&p, 12);
	(void)shutdown(p.fd[1], SHUT_WR);
	assert_int_equal(tls_handshake(p.s, &want, &reason), -1);
	assert_int_equal(reason, SHM_TLS_CLOSED);
	pair_close(&p);
	/* a TLS 1.2 client against tls_min_version 1.3: protocol */
	pair_open(&p, 13);
	assert_int_equal(SSL_set_max_proto_version(p.c, TLS1_2_VERSION), 1);
	(void)SSL_do_handshake(p.c);
	assert_int_equal(tls_handshake(p.s, &want, &reason), -1);
	assert_int_equal(reason, SHM_TLS_PROTOCOL);
	pair_close(&p);
}

/*
 * A client handshake against a fresh SSL of sctx, offering sess (NULL:
 * none), at most TLS version maxver, with the certificate and key of
 * ccert/ckey when not NULL.  Returns the server's tls_handshake result
 * (1 or -1) with *reason and *reused, and in *out (when not NULL) the
 * session the client holds after one record from the server (a TLS 1.3
 * ticket comes after the handshake).
 */
static int
client_hello(SSL_CTX *sctx, SSL_SESSION *sess, int maxver,
    const char *ccert, const char *ckey, int *reason, int *reused,
    SSL_SESSION **out)
{
	SSL_CTX	*cctx;
	SSL	*s, *c;
	char	 buf[16];
	int	 fd[2], i, want, r = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(fcntl(fd[i], F_SETFL, O_NONBLOCK), 0);
	assert_non_null(s = tls_conn_new(sctx, fd[0]));
	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, maxver), 1);
	if (ccert != NULL) {
		assert_int_equal(SSL_CTX_use_certificate_file(cctx, ccert,
		    SSL_FILETYPE_PEM), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(cctx, ckey,
		    SSL_FILETYPE_PEM), 1);
	}
	assert_non_null(c = SSL_new(cctx));
	SSL_set_fd(c, fd[1]);
	SSL_set_connect_state(c);
	if (sess != NULL)
		assert_int_equal(SSL_set_session(c, sess), 1);
	for (i = 0; i < 50 && r == 0; i++) {
		(void)SSL_do_handshake(c);
		r = tls_handshake(s, &want, reason);
	}
	assert_int_not_equal(r, 0);
	*reused = r == 1 && tls_resumed(s);
	if (r == 1) {
		(void)SSL_do_handshake(c);
		assert_int_equal(tls_send(s, fd[0], "ok", 2, 0, &want), 2);
		assert_int_equal(SSL_read(c, buf, sizeof(buf)), 2);
		assert_int_equal(SSL_session_reused(c), *reused);
	}
	if (out != NULL)
		*out = SSL_get1_session(c);
	/* a client freed without close_notify marks its session bad */
	if (r == 1)
		(void)SSL_shutdown(c);
	tls_conn_free(s, 1);
	SSL_free(c);
	SSL_CTX_free(cctx);
	(void)close(fd[0]);
	(void)close(fd[1]);
	ERR_clear_error();
	return (r);
}

/* A context of the test certificate with tickets under keys. */
static SSL_CTX *
ticket_ctx(const struct shm_tls *keys)
{
	SSL_CTX	*ctx;
	char	 err[512];

	assert_non_null(ctx = tls_ctx_new(cert, key, NULL, 12, err,
	    sizeof(err)));
	if (keys != NULL)
		tls_ctx_tickets(ctx, keys, 3600);
	return (ctx);
}

/* Whether the ticket of sess starts with the name of key k (0: current,
 * 1: previous) of keys. */
static int
ticket_under(SSL_SESSION *sess, const struct shm_tls *keys, int k)
{
	struct tk_snap		 snap;
	const unsigned char	*t;
	size_t			 len;

	assert_int_equal(tk_read(keys, &snap), 0);
	SSL_SESSION_get0_ticket(sess, &t, &len);
	return (len > SHM_TK_NAME && memcmp(t, k == 0 ? snap.ts_cur.tk_name :
	    snap.ts_prev.tk_name, SHM_TK_NAME) == 0);
}

static void
test_tickets(void **state)
{
	struct shm_tls	*keys, *other;
	SSL_CTX		*a, *b, *c, *none;
	SSL_SESSION	*s1, *s2, *s3;
	int		 v, reason, reused;
	const int	 vers[] = { TLS1_2_VERSION, TLS1_3_VERSION };

	assert_non_null(keys = calloc(1, sizeof(*keys)));
	assert_non_null(other = calloc(1, sizeof(*other)));
	assert_int_equal(tk_init(keys), 0);
	assert_int_equal(tk_init(other), 0);
	a = ticket_ctx(keys);		/* two workers, one key region */
	b = ticket_ctx(keys);
	c = ticket_ctx(other);		/* another instance */
	none = ticket_ctx(NULL);	/* tickets off */
	for (v = 0; v < 2; v++) {
		assert_int_equal(client_hello(a, NULL, vers[v], NULL, NULL,
		    &reason, &reused, &s1), 1);
		assert_false(reused);
		assert_non_null(s1);
		/* another context with the same keys resumes it */
		assert_int_equal(client_hello(b, s1, vers[v], NULL, NULL,
		    &reason, &reused, NULL), 1);
		assert_true(reused);
		/* another instance's keys do not: a full handshake */
		assert_int_equal(client_hello(c, s1, vers[v], NULL, NULL,
		    &reason, &reused, NULL), 1);
		assert_false(reused);
		assert_true(ticket_under(s1, keys, 0));
		/* one rotation: the previous key still opens it, and the
		 * client gets a new ticket under the current key */
		assert_int_equal(tk_rotate(keys), 0);
		assert_true(ticket_under(s1, keys, 1));
		assert_int_equal(client_hello(b, s1, vers[v], NULL, NULL,
		    &reason, &reused, &s3), 1);
		assert_true(reused);
		assert_true(ticket_under(s3, keys, 0));
		SSL_SESSION_free(s3);
		assert_int_equal(client_hello(a, NULL, vers[v], NULL, NULL,
		    &reason, &reused, &s2), 1);
		/* two rotations: refused; the newer ticket resumes */
		assert_int_equal(tk_rotate(keys), 0);
		assert_int_equal(client_hello(a, s1, vers[v], NULL, NULL,
		    &reason, &reused, NULL), 1);
		assert_false(reused);
		assert_int_equal(client_hello(a, s2, vers[v], NULL, NULL,
		    &reason, &reused, NULL), 1);
		assert_true(reused);
		SSL_SESSION_free(s1);
		SSL_SESSION_free(s2);
		/* without tickets nothing resumes */
		assert_int_equal(client_hello(none, NULL, vers[v], NULL, NULL,
		    &reason, &reused, &s1), 1);
		assert_int_equal(client_hello(none, s1, vers[v], NULL, NULL,
		    &reason, &reused, NULL), 1);
		assert_false(reused);
		SSL_SESSION_free(s1);
	}
	SSL_CTX_free(a);
	SSL_CTX_free(b);
	SSL_CTX_free(c);
	SSL_CTX_free(none);
	free(keys);
	free(other);
}

/* Write len bytes of data to a new file of dir named name. */
static void
write_file(char *path, size_t size, const char *name, const void *data,
    size_t len)
{
	FILE	*fp;

	(void)snprintf(path, size, "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static void
test_client_ca(void **state)
{
	struct shm_tls	*keys;
	SSL_CTX		*ctx, *ws;
	SSL_SESSION	*sess;
	char		 err[512], junk[128];
	int		 v, reason, reused;
	const int	 vers[] = { TLS1_2_VERSION, TLS1_3_VERSION };

	assert_non_null(keys = calloc(1, sizeof(*keys)));
	assert_int_equal(tk_init(keys), 0);
	ctx = ticket_ctx(keys);
	write_file(junk, sizeof(junk), "junk.pem", "no cert\n", 8);
	assert_int_equal(tls_ctx_client_ca(ctx, junk, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no PEM certificate"));
	assert_int_equal(tls_ctx_client_ca(ctx, "/nonexistent/ca.pem", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_client_ca /nonexistent/ca.pem"));
	/* the self-signed test certificate is its own CA */
	assert_int_equal(tls_ctx_client_ca(ctx, cert, err, sizeof(err)), 0);
	ws = ticket_ctx(keys);		/* the WS port: no client CA */
	for (v = 0; v < 2; v++) {
		/* no certificate: refused, reason certificate */
		assert_int_equal(client_hello(ctx, NULL, vers[v], NULL, NULL,
		    &reason, &reused, NULL), -1);
		assert_int_equal(reason, SHM_TLS_CERTIFICATE);
		/* a certificate that chains to the CA: served, resumes */
		assert_int_equal(client_hello(ctx, NULL, vers[v], cert, key,
		    &reason, &reused, &sess), 1);
		assert_int_equal(client_hello(ctx, sess, vers[v], NULL, NULL,
		    &reason, &reused, NULL), 1);
		assert_true(reused);
		SSL_SESSION_free(sess);
		/* a session of the other port does not resume here */
		assert_int_equal(client_hello(ws, NULL, vers[v], NULL, NULL,
		    &reason, &reused, &sess), 1);
		assert_int_equal(client_hello(ctx, sess, vers[v], NULL, NULL,
		    &reason, &reused, NULL), -1);
		assert_int_equal(reason, SHM_TLS_CERTIFICATE);
		SSL_SESSION_free(sess);
	}
	SSL_CTX_free(ctx);
	SSL_CTX_free(ws);
	(void)unlink(junk);
	free(keys);
}

static void
test_ocsp_refused(void **state)
{
	SSL_CTX		*ctx;
	char		 err[512], junk[128], unauth[128];
	/* an OCSPResponse whose status is unauthorized (6), no body */
	static const unsigned char bad[] = { 0x30, 0x03, 0x0a, 0x01, 0x06 };

	ctx = ticket_ctx(NULL);
	write_file(junk, sizeof(junk), "junk.der", "not OCSP", 8);
	write_file(unauth, sizeof(unauth), "unauth.der", bad, sizeof(bad));
	assert_int_equal(tls_ctx_ocsp(ctx, junk, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a DER OCSP response"));
	assert_int_equal(tls_ctx_ocsp(ctx, unauth, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unauthorized, not successful"));
	assert_int_equal(tls_ctx_ocsp(ctx, "/nonexistent/o.der", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_ocsp_file /nonexistent/o.der"));
	SSL_CTX_free(ctx);
	(void)unlink(junk);
	(void)unlink(unauth);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_handshake_io),
		cmocka_unit_test(test_handshake_failures),
		cmocka_unit_test(test_tickets),
		cmocka_unit_test(test_client_ca),
		cmocka_unit_test(test_ocsp_refused),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
