/*
 * test_tls.c: unit tests of tls.c: contexts from PEM files (a key that
 * does not match, a missing file, a bad cipher list), and the handshake,
 * reads and writes over a non-blocking socketpair against an OpenSSL
 * client: ALPN, would-block results, decrypted bytes left pending,
 * partial writes, end of stream, and handshake failure reasons.  The
 * certificates are made in the test (EC P-256, self-signed).
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_handshake_io),
		cmocka_unit_test(test_handshake_failures),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
