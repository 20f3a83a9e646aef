/*
 * server.h: the HTTP/1.1 connection layer shared by API and WS workers:
 * accept loop on the inherited listening socket, per-connection buffers,
 * timeouts, keep-alive and pipelining (answers in request order), drain.
 * It knows nothing of routes: each complete request goes to the handler.
 */

#ifndef SERVER_H
#define SERVER_H

#include <ev.h>

#include <openssl/ssl.h>

#include "http.h"
#include "shm.h"

struct server;
struct server_conn;
struct server_ticket;

struct server_config {
	int64_t		sc_max_body;		/* bytes; more is 413 */
	double		sc_header_timeout;	/* s, from first byte of a head */
	double		sc_body_timeout;	/* s, whole body */
	double		sc_keepalive_timeout;	/* s, idle between requests */
	double		sc_write_timeout;	/* s, no progress writing */
	unsigned	sc_max_clients;		/* open connections; 0 = no cap */
	SSL_CTX		*sc_tls;		/* NULL: plain; else TLS with it */
};

/*
 * The handler gets each complete request (head and body) in order.  It
 * must answer exactly once with server_respond*(), at once or later (then
 * the connection parses nothing further until the answer is given), or
 * defer it (server_conn_defer) and answer the ticket later.  req and its
 * pointers stay valid until the answer is given or the request deferred.
 * Answers to earlier pipelined requests of the connection are held back
 * (corked) while the handler holds a later one, so a handler that answers
 * later must do so promptly (within a batch), or detach.
 */
typedef void	 server_handler(struct server_conn *,
		    const struct http_request *, void *arg);

/*
 * With sc_tls set, each new connection first completes a TLS handshake
 * (within sc_header_timeout; a failure is counted in the slot's
 * ss_tls_failures by reason, and the socket closed) and then speaks
 * HTTP over TLS.  sc_tls is borrowed: each connection takes a reference
 * of its own, so the caller may free its context once the server has
 * another (server_set_config) or is freed.
 *
 * server_new: start accepting on lfd (non-blocking, listening) in loop.
 * slot, if not NULL, receives connection and request counters.  Returns
 * NULL on allocation failure.  The server does not own lfd until drain.
 */
struct server	*server_new(struct ev_loop *, int lfd,
		    const struct server_config *, server_handler *,
		    void *arg, struct shm_slot *slot);

/*
 * server_drain: stop accepting and close lfd, let in-flight requests
 * finish (their answers carry Connection: close), and close idle
 * keep-alive connections: at once when idle_grace is 0, else once they
 * have been idle idle_grace seconds from now (or their keep-alive timeout
 * ends, if sooner); a request one brings in that time is served and
 * answered with Connection: close.  The grace closes the race of a client
 * that sends on its keep-alive connection just as the server closes it
 * (the request would be lost without an answer).  A connection accepted
 * but without its first request yet is not closed: it has its header
 * timeout to send it, and gets an answer instead of a reset.
 * idle_cb(arg) is called once no connection is left (maybe at once).
 */
void		 server_drain(struct server *, double idle_grace,
		    void (*idle_cb)(void *), void *arg);

/*
 * server_conn_defer: the handler, holding c's request, has copied all it
 * needs of it: the connection goes on reading and handing over its next
 * pipelined requests while this one's answer is pending, so requests of
 * one connection share a batch.  Returns the answer's ticket (req and
 * its pointers are invalid from now on), or NULL (no memory, or no
 * request held: the handler still holds it and answers as before).
 * Answers leave in request order whatever order they are given in: one
 * given early waits for the tickets before it.  At most
 * SERVER_TICKETS_MAX (64) answers are pending per connection; reading
 * pauses at that many.  A drain closes the connection after its last
 * pending answer, never between two.
 */
struct server_ticket *server_conn_defer(struct server_conn *);

/*
 * server_ticket_respond: answer a deferred request, exactly once, like
 * server_respond (body and extra are copied).  A ticket whose client is
 * gone is answered into nothing.  The ticket is freed once its answer is
 * out: do not use it afterwards.
 */
void		 server_ticket_respond(struct server_ticket *, int status,
		    const char *ctype, const char *extra, const void *body,
		    size_t len);

/* server_nconns: open connections. */
unsigned	 server_nconns(const struct server *);

/*
 * server_free: close every connection and free the server (lfd is closed
 * only if server_drain() took it).  Connections a handler still holds are
 * freed too: the handler must not answer them afterwards.
 */
void		 server_free(struct server *);

/*
 * server_respond: queue the answer to the connection's current request.
 * ctype may be NULL (no Content-Type); extra is NULL or header lines each
 * ending in CRLF.  body is copied.  HEAD requests get no body bytes.
 */
void		 server_respond(struct server_conn *, int status,
		    const char *ctype, const char *extra, const void *body,
		    size_t len);

/* server_set_config: use cfg (copied) from the next request and
 * connection on; connections already open keep running. */
void		 server_set_config(struct server *, const struct server_config *);

/* server_respond_error: status with the JSON error body
 * {"error":code,"message":msg} (application/json). */
void		 server_respond_error(struct server_conn *, int status,
		    const char *code, const char *msg, const char *extra);

/* server_conn_peer: the peer address text ("127.0.0.1:5555"), for logs. */
const char	*server_conn_peer(const struct server_conn *);

/*
 * server_conn_detach: instead of answering, take the socket of the
 * connection whose request the handler holds (a WebSocket upgrade: the
 * caller then writes the 101 itself, with tls_send).  Works only when no
 * earlier answer is still queued.  Bytes the client sent after this
 * request are copied to rest (*restlen of them, at most restcap).  On success the request counts
 * as answered, the connection and req are gone (the server no longer
 * counts or watches it), and the returned fd (non-blocking) belongs to the
 * caller, with *sslp: the connection's TLS state (NULL on a plain port;
 * free it with tls_conn_free; it may hold decrypted bytes the client sent
 * after rest, see tls_pending).  Returns -1 when output is still queued,
 * the client is already
 * gone, more than restcap bytes follow, or no request is held: nothing
 * changed, and the handler must still answer with server_respond*().
 */
int		 server_conn_detach(struct server_conn *, char *rest,
		    size_t restcap, size_t *restlen, SSL **sslp);

#endif /* SERVER_H */
