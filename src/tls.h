/*
 * tls.h: TLS (OpenSSL) for the API and WebSocket ports: a server context
 * from tls_cert and tls_key, and non-blocking handshake, read and write
 * calls shaped like recv(2) and send(2), so that one code path serves
 * plain and TLS sockets (the push worker's gateway client reads and
 * writes through them too, with its own client context).  The process must ignore SIGPIPE
 * (routingd's workers do): OpenSSL writes with write(2).
 */

#ifndef TLS_H
#define TLS_H

#include <sys/types.h>

#include <openssl/ssl.h>

#include "config.h"
#include "shm.h"

/* Which readiness of the socket a call that would block waits for. */
#define TLS_WANT_READ	1
#define TLS_WANT_WRITE	2

/*
 * tls_ctx_new: a server context with the certificate chain of cert and
 * the private key of key (PEM files), TLS 1.2 or 1.3 at least (min_tls:
 * 12 or 13), the TLS 1.2 cipher list ciphers (NULL: OpenSSL's default),
 * ALPN "http/1.1" when the client offers it, no renegotiation, no
 * session cache and no tickets (tls_ctx_tickets turns tickets on), the
 * session id context "routingd".  On failure returns NULL
 * and a message in err (errlen bytes): which file and OpenSSL's reason,
 * or "the private key does not match the certificate".  The caller owns
 * the context (SSL_CTX_free; each SSL made from it holds a reference).
 */
SSL_CTX		*tls_ctx_new(const char *cert, const char *key,
		    const char *ciphers, int min_tls, char *err,
		    size_t errlen);

/*
 * tls_ctx_tickets: turn on stateless session tickets in ctx, sealed with
 * the keys of the shared region keys (tlskeys.c): one ticket per
 * handshake, issued under the current key; a ticket under the current
 * or the previous key resumes (one under the previous key is renewed),
 * any other makes a full handshake.  lifetime (seconds) is the session
 * timeout OpenSSL checks on resumption and the lifetime hint sent with
 * each ticket.  keys must outlive ctx (the region does).
 */
void		 tls_ctx_tickets(SSL_CTX *, const struct shm_tls *keys,
		    long lifetime);

/*
 * tls_ctx_ocsp: staple the OCSP response in the file path (DER, as
 * `openssl ocsp -respout` or certbot write it) for clients that ask
 * (status_request).  The file is read now, once: a renewed file needs a
 * new context.  Refused (-1 and the message in err) unless it parses as
 * an OCSP response, its status is successful, and it has a response for
 * the certificate of ctx, matched with the issuer certificate found in
 * the chain of ctx (which must be there).  Its times and signature are
 * not checked (clients do).  The context keeps a copy.  Returns 0.
 */
int		 tls_ctx_ocsp(SSL_CTX *, const char *path, char *err,
		    size_t errlen);

/*
 * tls_ctx_client_ca: require of every client a certificate that chains
 * to a CA certificate of the PEM file path (a handshake without one, or
 * with one that does not verify, fails: tls_handshake's reason
 * SHM_TLS_CERTIFICATE), and send the names of those CAs in the
 * certificate request.  The session id context becomes the SHA-256 of
 * the file, so that only sessions verified against this very file
 * resume.  Returns 0, or -1 with the message in err (the file cannot be
 * read or holds no certificate).
 */
int		 tls_ctx_client_ca(SSL_CTX *, const char *path, char *err,
		    size_t errlen);

/* Flags of tls_config_ctx. */
#define TLS_F_CLIENT_CA	0x1	/* verify clients with tls_client_ca */

/*
 * tls_config_ctx: the context cf asks for: *ctxp NULL when tls_cert and
 * tls_key are unset (plain ports), else tls_ctx_new() of tls_cert,
 * tls_key, tls_ciphers and tls_min_version, then tls_ctx_ocsp() of
 * tls_ocsp_file when set, tls_ctx_client_ca() of tls_client_ca when set
 * and flags has TLS_F_CLIENT_CA (the API port), and tls_ctx_tickets()
 * with keys and twice tls_ticket_rotate as the lifetime when keys is not
 * NULL.  Returns 0, or -1 with the message in err.
 */
int		 tls_config_ctx(const struct config *, int flags,
		    const struct shm_tls *keys, SSL_CTX **ctxp, char *err,
		    size_t errlen);

/*
 * tls_config_check: build the context cf asks for (the API port's, so
 * tls_client_ca too) and free it again: that the files load, the key
 * matches the certificate, tls_ciphers means something, tls_ocsp_file
 * and tls_client_ca are what tls_ctx_ocsp and tls_ctx_client_ca accept.
 * Returns 0 (also when TLS is off), or -1 with a message appended to
 * errs at the line that set the key at fault (tls_cert for the
 * certificate, key and ciphers).
 */
int		 tls_config_check(const struct config *, struct cfg_errors *);

/*
 * tls_conn_new: an SSL for the accepted socket fd in server mode, or
 * NULL (out of memory).  The caller owns it (tls_conn_free); fd stays
 * the caller's.
 */
SSL		*tls_conn_new(SSL_CTX *, int fd);

/*
 * tls_handshake: go on with the handshake of ssl.  Returns 1 once done,
 * 0 when it would block (*want: TLS_WANT_READ or TLS_WANT_WRITE), -1
 * when it failed (*reason: SHM_TLS_CERTIFICATE when a client certificate
 * was required and none or a bad one came; SHM_TLS_PROTOCOL for another
 * TLS error, e.g. plain HTTP or garbage; SHM_TLS_CLOSED when the peer
 * closed; SHM_TLS_OTHER).
 */
int		 tls_handshake(SSL *, int *want, int *reason);

/* tls_resumed: 1 if the finished handshake of ssl resumed a session (a
 * ticket was accepted), else 0. */
int		 tls_resumed(SSL *);

/*
 * tls_recv: recv(2) on fd when ssl is NULL, else SSL_read on ssl.
 * Returns the bytes read (> 0), 0 at the end of the stream, or -1 with
 * errno EAGAIN when it would block (*want then says on what; a TLS read
 * may have to wait for the socket to be writable) or another errno
 * (EPROTO for a TLS error).  After a TLS read, more decrypted bytes may
 * wait in ssl (tls_pending) although fd is not readable.
 */
ssize_t		 tls_recv(SSL *, int fd, void *buf, size_t len, int *want);

/*
 * tls_send: send(2) on fd with flags | MSG_NOSIGNAL when ssl is NULL,
 * else SSL_write on ssl (flags ignored; partial writes are allowed and
 * a retry may pass a moved buffer that starts with the same bytes).
 * Returns the bytes written (> 0), or -1 with errno EAGAIN when it
 * would block (*want says on what) or another errno.
 */
ssize_t		 tls_send(SSL *, int fd, const void *buf, size_t len,
		    int flags, int *want);

/* tls_pending: decrypted bytes ssl holds for the next tls_recv (0 when
 * ssl is NULL). */
size_t		 tls_pending(SSL *);

/* tls_wire_written: the bytes ssl has written to its socket so far,
 * records and handshake included (what the kernel's send queue counts);
 * plain, the caller's own count, when ssl is NULL. */
uint64_t	 tls_wire_written(SSL *, uint64_t plain);

/* tls_shutdown: one try at sending close_notify (never blocks; NULL and
 * a connection whose handshake is not done are fine). */
void		 tls_shutdown(SSL *);

/* tls_conn_free: one try at sending close_notify (never blocks) unless
 * abort, then free ssl (NULL is fine).  The socket is not closed. */
void		 tls_conn_free(SSL *, int abort);

#endif /* TLS_H */
