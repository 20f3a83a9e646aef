/*
 * server.c: the HTTP/1.1 connection layer, run by the API and WS workers.
 *
 * Owns the accept watcher on the inherited listening socket (and a spare
 * fd for EMFILE), and every accepted connection: its socket, read and
 * write watchers, one timer, input and output buffers, and the request
 * being read or answered, and the tickets of the requests the handler
 * deferred.  It knows no routes: each complete request (head and body)
 * goes to the handler, one at a time per connection.
 *
 * Invariants:
 * - A connection parses nothing while the handler holds its request.  The
 *   input buffer then neither moves nor grows, so the request's pointers
 *   stay valid until the answer or until the handler defers the request
 *   (server_conn_defer: it copied what it needs; the connection goes on
 *   with its next pipelined request, up to SERVER_TICKETS_MAX deferred).
 * - Answers leave in request order: while tickets are pending, every
 *   answer (a ticket's, one given at once, a 400 or 408 of the server's
 *   own) waits in a ticket of its own behind them, and the answered
 *   tickets at the head of the queue move to the output together.  A
 *   conn with tickets pending is never idle and is not closed for EOF,
 *   drain or keep-alive until the last one is out; whether a ticket's
 *   answer keeps the connection open is decided when it is written, so
 *   a drain closes after the last pending answer, never between two.
 * - c_refs counts the open socket, the handler while it holds a request,
 *   each pending ticket, and each of our callbacks on the stack.  A conn
 *   is freed only when the count drops to zero, at the end of a callback
 *   or answer, so a conn whose socket died while the handler held it (or
 *   had tickets pending) lives on (fd -1) until the handler answers.
 * - Answers to pipelined requests are corked: while the handler holds the
 *   next request of the same conn (parsed from bytes already received)
 *   and less than SERVER_CORK_MAX is queued, the answers wait and leave
 *   together in one send(2) once the conn runs out of complete requests.
 *   A client that pipelines has sent those requests already, so nothing
 *   waits on them; it saves a system call and a wakeup per answer.  They
 *   wait the same way while deferred requests of the conn are pending:
 *   those were deferred into the same group commit, whose answers all
 *   come in one turn of the loop, so the answers of a commit leave in one
 *   send(2) per connection.
 * - The write watcher runs only while output is pending; the read watcher
 *   stops while output exceeds HTTP_MAX_OUT, while the current request
 *   has all the buffer room it may use, after EOF and while closing.
 * - One ev_timer per conn, armed for the earliest deadline that applies.
 * - With TLS, a conn starts in CS_TLS (the handshake, bounded by the
 *   header timeout) and every byte goes through its SSL (tls_recv,
 *   tls_send).  A TLS read that must wait for writability (or a write for
 *   readability) sets c_rd_wants_w (c_wr_wants_r) so that the other
 *   watcher runs.  Decrypted bytes SSL holds while the fd is not
 *   readable are fed back as a read event whenever the conn wants input.
 * - Per-request trouble never logs: it becomes an answer and a counter.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* accept4(2); configure passes it too */
#endif

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server.h"
#include "tls.h"

#define SERVER_READ_MIN		4096		/* bytes: first read of a request */
#define SERVER_CHUNK_AHEAD	(16 * 1024)	/* bytes: chunked input read ahead */
#define SERVER_LINGER		2.0		/* s: discard input after our FIN */
#define SERVER_ACCEPT_PAUSE	0.1		/* s: accept pause, out of fds */
#define SERVER_SLACK		1e-3		/* s: timers may fire this early */
#define SERVER_NEVER		(-1.0)		/* no deadline */
#define SERVER_HEAD_ROOM	256		/* bytes: answer head without extras */
#define SERVER_CORK_MAX		(64 * 1024)	/* bytes: corked answers at most */
#define SERVER_CONTINUE		"HTTP/1.1 100 Continue\r\n\r\n"
#define SERVER_TICKETS_MAX	64		/* deferred answers per conn */

#define SERVER_COUNT(s, f) do {						\
	if ((s)->s_slot != NULL)					\
		atomic_fetch_add_explicit(&(s)->s_slot->f, 1,		\
		    memory_order_relaxed);				\
} while (0)
#define SERVER_TLS_FAIL(s, r) do {					\
	if ((s)->s_slot != NULL)					\
		atomic_fetch_add_explicit(				\
		    &(s)->s_slot->ss_tls_failures[(r)], 1,		\
		    memory_order_relaxed);				\
} while (0)
#define SERVER_TLS_DONE(s, k) do {					\
	if ((s)->s_slot != NULL)					\
		atomic_fetch_add_explicit(				\
		    &(s)->s_slot->ss_tls_handshakes[(k)], 1,		\
		    memory_order_relaxed);				\
} while (0)
#define SERVER_UNCOUNT(s, f) do {					\
	if ((s)->s_slot != NULL)					\
		atomic_fetch_sub_explicit(&(s)->s_slot->f, 1,		\
		    memory_order_relaxed);				\
} while (0)

enum server_conn_state {
	CS_TLS,			/* the TLS handshake */
	CS_IDLE,		/* no byte of the next request yet */
	CS_HEAD,		/* reading a request head */
	CS_BODY,		/* reading its body */
	CS_HANDLER,		/* the handler holds the request */
	CS_CLOSING,		/* flushing a last answer, input ignored */
	CS_LINGER		/* FIN sent; reading and dropping until EOF */
};

/* A byte queue: data in [sb_off, sb_len) of sb_cap allocated bytes. */
struct server_buf {
	char	*sb_data;
	size_t	 sb_off;
	size_t	 sb_len;
	size_t	 sb_cap;
};

/* The answer slot of a request the handler deferred (server_conn_defer):
 * its answer, once given, waits here until every earlier one is out. */
struct server_ticket {
	TAILQ_ENTRY(server_ticket) t_entry;
	struct server_conn	*t_conn;	/* holds a reference */
	int			 t_keep;	/* the request asked keep-alive */
	int			 t_head;	/* a HEAD request */
	int			 t_done;	/* answered */
	int			 t_status;
	char			*t_ctype;	/* t_data: ctype, extra, body */
	char			*t_extra;
	char			*t_body;
	size_t			 t_len;
	char			*t_data;
};

struct server_conn {
	TAILQ_ENTRY(server_conn) c_entry;
	struct server		*c_srv;
	int			 c_fd;		/* -1 once closed or detached */
	int			 c_refs;	/* see the invariants above */
	int			 c_state;	/* enum server_conn_state */
	int			 c_eof;		/* the peer sent FIN */
	int			 c_processing;	/* inside server_conn_process */
	int			 c_blocked;	/* parsing paused: output full */
	SSL			*c_ssl;		/* NULL: plain */
	int			 c_hs_want;	/* CS_TLS: TLS_WANT_* */
	int			 c_rd_wants_w;	/* see the invariants above */
	int			 c_wr_wants_r;
	unsigned		 c_nreq;	/* requests answered */
	TAILQ_HEAD(, server_ticket) c_tickets;	/* deferred, in order */
	unsigned		 c_ntickets;
	ev_io			 c_rio;
	ev_io			 c_wio;
	ev_timer		 c_timer;
	ev_tstamp		 c_timer_at;	/* armed deadline or NEVER */
	ev_tstamp		 c_since;	/* start of the current state */
	ev_tstamp		 c_wstamp;	/* last output progress */
	struct server_buf	 c_in;
	struct server_buf	 c_out;
	struct http_request	 c_req;
	const char		*c_head_at;	/* where c_req was parsed */
	struct http_chunked	 c_chunk;
	size_t			 c_body_raw;	/* chunked bytes consumed */
	size_t			 c_body_len;	/* decoded body bytes */
	char			 c_peer[64];
};

struct server {
	struct ev_loop		*s_loop;
	int			 s_lfd;		/* -1 once drained */
	int			 s_reserve_fd;	/* spare fd for EMFILE, or -1 */
	struct server_config	 s_cfg;
	server_handler		*s_handler;
	void			*s_arg;
	struct shm_slot		*s_slot;
	ev_io			 s_accept;
	ev_timer		 s_retry;	/* accept pause when out of fds */
	unsigned		 s_nconns;	/* conns not yet freed */
	int			 s_draining;
	ev_tstamp		 s_drain_idle_until; /* 0: close idle at once */
	int			 s_busy;	/* defer idle_cb while iterating */
	int			 s_idle_done;
	void			(*s_idle_cb)(void *);
	void			*s_idle_arg;
	TAILQ_HEAD(, server_conn) s_conns;
};

static void	 server_conn_process(struct server_conn *);
static void	 server_conn_close(struct server_conn *);
static void	 server_conn_settle(struct server_conn *);
static void	 server_accept_arm(struct server *);

/* ------------------------------------------------------------------ */
/* Buffers                                                             */
/* ------------------------------------------------------------------ */

static size_t
server_buf_pending(const struct server_buf *b)
{
	return (b->sb_len - b->sb_off);
}

static void
server_buf_free(struct server_buf *b)
{
	free(b->sb_data);
	memset(b, 0, sizeof(*b));
}

/*
 * Make room for at least need more bytes; when memory must be allocated,
 * make it want bytes.  Moves the data to the front first.  0, or -1.
 */
static int
server_buf_reserve(struct server_buf *b, size_t need, size_t want)
{
	char	*p;

	if (b->sb_cap - b->sb_len >= need)
		return (0);
	if (b->sb_off > 0) {
		memmove(b->sb_data, b->sb_data + b->sb_off,
		    server_buf_pending(b));
		b->sb_len -= b->sb_off;
		b->sb_off = 0;
		if (b->sb_cap - b->sb_len >= need)
			return (0);
	}
	if (want < need)
		want = need;
	if ((p = realloc(b->sb_data, b->sb_len + want)) == NULL)
		return (-1);
	b->sb_data = p;
	b->sb_cap = b->sb_len + want;
	return (0);
}

static int
server_buf_append(struct server_buf *b, const void *p, size_t n)
{
	if (server_buf_reserve(b, n, n > b->sb_len ? n : b->sb_len) == -1)
		return (-1);
	memcpy(b->sb_data + b->sb_len, p, n);
	b->sb_len += n;
	return (0);
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static void
server_watch(struct ev_loop *loop, ev_io *w, int on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

static ev_tstamp
server_after(ev_tstamp t, double timeout)
{
	return (timeout > 0 ? t + timeout : SERVER_NEVER);
}

static ev_tstamp
server_earliest(ev_tstamp a, ev_tstamp b)
{
	if (a == SERVER_NEVER)
		return (b);
	if (b == SERVER_NEVER || a < b)
		return (a);
	return (b);
}

static size_t
server_max_body(const struct server *s)
{
	return (s->s_cfg.sc_max_body < 0 ? SIZE_MAX :
	    (size_t)s->s_cfg.sc_max_body);
}

static const char *
server_error_code(int status)
{
	switch (status) {
	case 408:
		return ("request_timeout");
	case 413:
		return ("too_large");
	case 431:
		return ("header_too_large");
	case 501:
		return ("not_implemented");
	case 505:
		return ("version_not_supported");
	default:
		return ("bad_request");
	}
}

static void
server_peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	char				 addr[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)) != NULL)
		(void)snprintf(buf, len, "%s:%u", addr, ntohs(sin->sin_port));
	else if (ss->ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr)) != NULL)
		(void)snprintf(buf, len, "[%s]:%u", addr,
		    ntohs(sin6->sin6_port));
	else
		(void)snprintf(buf, len, "local");
}

/* ------------------------------------------------------------------ */
/* Connection life: references, close, free                            */
/* ------------------------------------------------------------------ */

static void
server_conn_hold(struct server_conn *c)
{
	c->c_refs++;
}

static void
server_conn_unwatch(struct server_conn *c)
{
	struct ev_loop	*loop = c->c_srv->s_loop;

	ev_io_stop(loop, &c->c_rio);
	ev_io_stop(loop, &c->c_wio);
	ev_timer_stop(loop, &c->c_timer);
}

/* Unlink and free c; no callbacks, no counters but s_nconns. */
static void
server_conn_destroy(struct server_conn *c)
{
	struct server		*s = c->c_srv;

	struct server_ticket	*t;

	TAILQ_REMOVE(&s->s_conns, c, c_entry);
	s->s_nconns--;
	while ((t = TAILQ_FIRST(&c->c_tickets)) != NULL) {
		TAILQ_REMOVE(&c->c_tickets, t, t_entry);
		free(t->t_data);
		free(t);
	}
	tls_conn_free(c->c_ssl, 1);
	server_buf_free(&c->c_in);
	server_buf_free(&c->c_out);
	free(c);
}

/* Call idle_cb once a draining server has no conn left.  May free s. */
static void
server_check_idle(struct server *s)
{
	if (!s->s_draining || s->s_busy > 0 || s->s_idle_done ||
	    s->s_nconns > 0)
		return;
	s->s_idle_done = 1;
	if (s->s_idle_cb != NULL)
		s->s_idle_cb(s->s_idle_arg);
}

static void
server_conn_release(struct server_conn *c)
{
	struct server	*s = c->c_srv;

	if (--c->c_refs > 0)
		return;
	server_conn_destroy(c);
	server_accept_arm(s);
	server_check_idle(s);		/* last: idle_cb may free s */
}

/* Close the socket now (watchers first); c lives while referenced. */
static void
server_conn_close(struct server_conn *c)
{
	if (c->c_fd < 0)
		return;
	server_conn_unwatch(c);
	/* a lingering connection sent its close_notify already */
	tls_conn_free(c->c_ssl, c->c_state == CS_LINGER);
	c->c_ssl = NULL;
	(void)close(c->c_fd);
	c->c_fd = -1;
	SERVER_UNCOUNT(c->c_srv, ss_conns);
	server_conn_release(c);		/* the socket's reference */
}

/* Our FIN is out: drop what the client still sends, then close. */
static void
server_conn_linger(struct server_conn *c)
{
	tls_shutdown(c->c_ssl);		/* close_notify, once */
	if (shutdown(c->c_fd, SHUT_WR) == -1) {
		server_conn_close(c);
		return;
	}
	c->c_state = CS_LINGER;
	c->c_since = ev_now(c->c_srv->s_loop);
}

/* Close once the output is out (at once if there is none). */
static void
server_conn_finish(struct server_conn *c)
{
	if (server_buf_pending(&c->c_out) == 0 && c->c_ntickets == 0) {
		server_conn_close(c);
		return;
	}
	c->c_state = CS_CLOSING;
	server_buf_free(&c->c_in);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static int
server_conn_out_full(const struct server_conn *c)
{
	return (server_buf_pending(&c->c_out) > HTTP_MAX_OUT);
}

/* Room for another request: output not full, tickets not all taken. */
static int
server_conn_can_parse(const struct server_conn *c)
{
	return (!server_conn_out_full(c) &&
	    c->c_ntickets < SERVER_TICKETS_MAX);
}

/* Queue raw bytes; the write-stall clock starts when output was empty. */
static int
server_conn_queue_raw(struct server_conn *c, const void *p, size_t n)
{
	if (server_buf_pending(&c->c_out) == 0)
		c->c_wstamp = ev_now(c->c_srv->s_loop);
	return (server_buf_append(&c->c_out, p, n));
}

/* Queue an answer's head and, unless head_only, its body.  0 or -1. */
static int
server_conn_queue(struct server_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len, int keep, int head_only)
{
	struct server_buf	*b = &c->c_out;
	size_t			 cap;
	int			 n;

	cap = SERVER_HEAD_ROOM + (ctype != NULL ? strlen(ctype) : 0) +
	    (extra != NULL ? strlen(extra) : 0);
	if (server_buf_pending(b) == 0)
		c->c_wstamp = ev_now(c->c_srv->s_loop);
	if (server_buf_reserve(b, cap, cap > b->sb_len ? cap : b->sb_len) ==
	    -1)
		return (-1);
	n = http_format_head(b->sb_data + b->sb_len, cap, status, ctype, len,
	    keep, extra);
	if (n < 0)
		return (-1);
	b->sb_len += (size_t)n;
	if (!head_only && len > 0 && server_buf_append(b, body, len) == -1)
		return (-1);
	return (0);
}

/* Output is out: close, linger, or start the idle clock. */
static void
server_conn_flushed(struct server_conn *c)
{
	struct server	*s = c->c_srv;

	if (c->c_ntickets > 0)
		return;			/* answers still to come */
	if (c->c_state == CS_CLOSING) {
		if (c->c_eof)
			server_conn_close(c);
		else
			server_conn_linger(c);
	} else if (c->c_state == CS_IDLE) {
		if (s->s_draining && s->s_drain_idle_until == 0 &&
		    server_buf_pending(&c->c_in) == 0)
			server_conn_close(c);
		else
			c->c_since = ev_now(s->s_loop);
	}
}

/* Write what the socket takes; a dead peer closes the conn. */
static void
server_conn_flush(struct server_conn *c)
{
	struct server_buf	*b = &c->c_out;
	ssize_t			 n;
	int			 want = 0;

	c->c_wr_wants_r = 0;
	while (server_buf_pending(b) > 0) {
		n = tls_send(c->c_ssl, c->c_fd, b->sb_data + b->sb_off,
		    server_buf_pending(b), 0, &want);
		if (n > 0) {
			b->sb_off += (size_t)n;
			c->c_wstamp = ev_now(c->c_srv->s_loop);
		} else if (n == -1 && errno == EAGAIN) {
			c->c_wr_wants_r = want == TLS_WANT_READ;
			return;
		} else {
			server_conn_close(c);
			return;
		}
	}
	server_buf_free(b);
	server_conn_flushed(c);
}

static struct server_ticket *server_ticket_new(struct server_conn *);
static int	 server_ticket_fill(struct server_ticket *, int, const char *,
		    const char *, const void *, size_t);
static void	 server_conn_tickets_out(struct server_conn *);

/* server_conn_fail behind deferred answers: a last ticket, then close. */
static void
server_conn_fail_later(struct server_conn *c, int status, const char *body,
    size_t len)
{
	struct server_ticket	*t;

	c->c_state = CS_CLOSING;
	server_buf_free(&c->c_in);
	if ((t = server_ticket_new(c)) == NULL) {
		server_conn_close(c);
		return;
	}
	t->t_keep = 0;
	if (server_ticket_fill(t, status, "application/json", NULL, body,
	    len) == -1) {
		t->t_done = 1;
		server_conn_close(c);
	}
	server_conn_tickets_out(c);
}

/* Answer with the JSON error body and close: no more requests. */
static void
server_conn_fail(struct server_conn *c, int status, const char *msg)
{
	char	 body[512];
	int	 n;

	n = http_error_body(body, sizeof(body), server_error_code(status), msg);
	if (n >= 0 && c->c_ntickets > 0) {
		server_conn_fail_later(c, status, body, (size_t)n);
		return;
	}
	if (n < 0 || server_conn_queue(c, status, "application/json", NULL,
	    body, (size_t)n, 0, c->c_req.hr_method == HTTP_M_HEAD) == -1) {
		server_conn_close(c);
		return;
	}
	c->c_state = CS_CLOSING;
	server_buf_free(&c->c_in);
}

/* A framing error: counted, answered, closed; never logged. */
static void
server_conn_reject(struct server_conn *c, int status, const char *msg)
{
	SERVER_COUNT(c->c_srv, ss_bad_requests);
	server_conn_fail(c, status, msg);
}

/* ------------------------------------------------------------------ */
/* Input: reading, parsing, dispatching                                */
/* ------------------------------------------------------------------ */

/* Bytes of input the current request may occupy from sb_off. */
static size_t
server_conn_in_limit(const struct server_conn *c)
{
	const struct http_request	*req = &c->c_req;

	if (c->c_state != CS_BODY)
		return (HTTP_MAX_HEAD);
	if (req->hr_chunked)
		return (req->hr_head_len + c->c_body_len + SERVER_CHUNK_AHEAD);
	return (req->hr_head_len + (req->hr_content_length > 0 ?
	    (size_t)req->hr_content_length : 0));
}

/* Bytes of the buffer the current request used (head and body). */
static size_t
server_conn_req_size(const struct server_conn *c)
{
	const struct http_request	*req = &c->c_req;

	if (req->hr_chunked)
		return (req->hr_head_len + c->c_body_raw);
	return (req->hr_head_len + (req->hr_content_length > 0 ?
	    (size_t)req->hr_content_length : 0));
}

static int
server_conn_has_room(const struct server_conn *c)
{
	const struct server_buf	*b = &c->c_in;

	if (c->c_state == CS_HANDLER)	/* the buffer must not move */
		return (b->sb_len < b->sb_cap);
	return (server_buf_pending(b) < server_conn_in_limit(c));
}

static int
server_conn_wants_read(const struct server_conn *c)
{
	if (c->c_state == CS_LINGER)
		return (1);
	if (c->c_state == CS_CLOSING || c->c_eof || server_conn_out_full(c))
		return (0);
	return (server_conn_has_room(c));
}

/* Room to read into, growing the buffer step by step.  -1: no memory. */
static int
server_conn_read_room(struct server_conn *c, size_t *room)
{
	struct server_buf	*b = &c->c_in;
	size_t			 have, limit, want;

	*room = 0;
	have = server_buf_pending(b);
	if (c->c_state == CS_HANDLER) {
		*room = b->sb_cap - b->sb_len;
		return (0);
	}
	if (have >= (limit = server_conn_in_limit(c)))
		return (0);
	want = have > SERVER_READ_MIN ? have : SERVER_READ_MIN;
	if (want > limit - have)
		want = limit - have;
	if (server_buf_reserve(b, want, want) == -1)
		return (-1);
	*room = b->sb_cap - b->sb_len;
	if (*room > limit - have)
		*room = limit - have;
	return (0);
}

static void
server_conn_read(struct server_conn *c)
{
	struct server_buf	*b = &c->c_in;
	size_t			 room;
	ssize_t			 n;
	int			 want = 0;

	c->c_rd_wants_w = 0;
	if (server_conn_read_room(c, &room) == -1) {
		server_conn_close(c);
		return;
	}
	if (room == 0)
		return;
	n = tls_recv(c->c_ssl, c->c_fd, b->sb_data + b->sb_len, room, &want);
	if (n > 0)
		b->sb_len += (size_t)n;
	else if (n == 0)
		c->c_eof = 1;
	else if (errno == EAGAIN)
		c->c_rd_wants_w = want == TLS_WANT_WRITE;
	else
		server_conn_close(c);
}

/* After our FIN: read and drop until the client's EOF. */
static void
server_conn_discard(struct server_conn *c)
{
	char	 junk[4096];
	ssize_t	 n;

	n = recv(c->c_fd, junk, sizeof(junk), 0);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		server_conn_close(c);
}

/* "Expect: 100-continue" on a body that has not started to arrive. */
static int
server_conn_expects_continue(const struct server_conn *c)
{
	const struct http_request	*req = &c->c_req;
	const char			*v;
	size_t				 n;

	if (req->hr_minor != 1 || (!req->hr_chunked &&
	    req->hr_content_length <= 0) ||
	    server_buf_pending(&c->c_in) > req->hr_head_len)
		return (0);
	v = http_header_get(req, "expect", &n);
	return (v != NULL && n == 12 &&
	    strncasecmp(v, "100-continue", 12) == 0);
}

static void
server_conn_start_body(struct server_conn *c)
{
	c->c_state = CS_BODY;
	c->c_since = ev_now(c->c_srv->s_loop);
	c->c_head_at = c->c_in.sb_data + c->c_in.sb_off;
	c->c_body_raw = 0;
	c->c_body_len = 0;
	if (c->c_req.hr_chunked)
		http_chunked_init(&c->c_chunk);
	if (server_conn_expects_continue(c) && server_conn_queue_raw(c,
	    SERVER_CONTINUE, sizeof(SERVER_CONTINUE) - 1) == -1)
		server_conn_close(c);
}

static int
server_conn_read_head(struct server_conn *c)
{
	struct server_buf	*b = &c->c_in;
	int			 r;

	if (server_buf_pending(b) == 0) {
		if (c->c_eof)
			server_conn_finish(c);
		return (HTTP_PARSE_AGAIN);
	}
	if (c->c_state == CS_IDLE) {
		c->c_state = CS_HEAD;
		c->c_since = ev_now(c->c_srv->s_loop);
	}
	r = http_parse_head(b->sb_data + b->sb_off, server_buf_pending(b),
	    HTTP_MAX_HEAD, c->c_srv->s_cfg.sc_max_body, &c->c_req);
	if (r == HTTP_PARSE_AGAIN && c->c_eof)
		server_conn_finish(c);
	else if (r == HTTP_PARSE_ERROR)
		server_conn_reject(c, c->c_req.hr_status, c->c_req.hr_errstr);
	else if (r == HTTP_PARSE_OK)
		server_conn_start_body(c);
	return (r);
}

/* Decode chunked input in place, right after the head. */
static int
server_conn_dechunk(struct server_conn *c)
{
	struct server_buf	*b = &c->c_in;
	char			*base;
	size_t			 raw, used;
	int			 r;

	base = b->sb_data + b->sb_off + c->c_req.hr_head_len;
	raw = server_buf_pending(b) - c->c_req.hr_head_len - c->c_body_raw;
	r = http_chunked_feed(&c->c_chunk, base + c->c_body_raw, raw, &used,
	    base, server_max_body(c->c_srv), &c->c_body_len);
	c->c_body_raw += used;
	if (r == HTTP_PARSE_ERROR) {
		server_conn_reject(c, c->c_chunk.hc_status,
		    c->c_chunk.hc_status == 413 ? "request body too large" :
		    "malformed chunked body");
	} else if (r == HTTP_PARSE_AGAIN) {
		/* drop the framing bytes already decoded */
		memmove(base + c->c_body_len, base + c->c_body_raw, raw - used);
		b->sb_len -= c->c_body_raw - c->c_body_len;
		c->c_body_raw = c->c_body_len;
	}
	return (r);
}

/* Give the request to the handler, which now holds a reference. */
static void
server_conn_dispatch(struct server_conn *c)
{
	struct server		*s = c->c_srv;
	struct http_request	*req = &c->c_req;
	char			*head = c->c_in.sb_data + c->c_in.sb_off;
	size_t			 head_len = req->hr_head_len;

	/* the buffer moved while the body arrived: point req at it again */
	if (head != c->c_head_at)
		(void)http_parse_head(head, head_len, HTTP_MAX_HEAD,
		    s->s_cfg.sc_max_body, req);
	req->hr_body = head + head_len;
	if (req->hr_chunked)
		req->hr_body_len = c->c_body_len;
	else
		req->hr_body_len = req->hr_content_length > 0 ?
		    (size_t)req->hr_content_length : 0;
	c->c_state = CS_HANDLER;
	server_conn_hold(c);		/* the handler's reference */
	s->s_handler(c, req, s->s_arg);
}

static int
server_conn_read_body(struct server_conn *c)
{
	const struct http_request	*req = &c->c_req;
	int				 r = HTTP_PARSE_OK;

	if (req->hr_chunked)
		r = server_conn_dechunk(c);
	else if (server_buf_pending(&c->c_in) < server_conn_req_size(c))
		r = HTTP_PARSE_AGAIN;
	if (r == HTTP_PARSE_AGAIN && c->c_eof)
		server_conn_finish(c);
	if (r == HTTP_PARSE_OK)
		server_conn_dispatch(c);
	return (r);
}

/*
 * Run requests already in the buffer through the parser and the handler,
 * one at a time, until one is incomplete, the handler keeps one, the
 * conn closes, or the output is full (c_blocked: resumed by settle).
 */
static void
server_conn_process(struct server_conn *c)
{
	int	 r = HTTP_PARSE_OK;

	c->c_processing = 1;
	c->c_blocked = 0;
	while (r == HTTP_PARSE_OK && c->c_fd >= 0) {
		if (!server_conn_can_parse(c)) {
			c->c_blocked = 1;
			break;
		}
		if (c->c_state == CS_IDLE || c->c_state == CS_HEAD)
			r = server_conn_read_head(c);
		else if (c->c_state == CS_BODY)
			r = server_conn_read_body(c);
		else
			break;
	}
	c->c_processing = 0;
}

/* ------------------------------------------------------------------ */
/* Timers and watchers                                                 */
/* ------------------------------------------------------------------ */

/* The deadline of the current state, or NEVER. */
static ev_tstamp
server_conn_state_deadline(const struct server_conn *c)
{
	const struct server		*s = c->c_srv;
	const struct server_config	*cfg = &s->s_cfg;
	ev_tstamp			 d;

	switch (c->c_state) {
	case CS_TLS:
		return (server_after(c->c_since, cfg->sc_header_timeout));
	case CS_IDLE:
		if (server_buf_pending(&c->c_out) > 0 || c->c_ntickets > 0)
			return (SERVER_NEVER);	/* idle once answered */
		d = server_after(c->c_since, c->c_nreq == 0 ?
		    cfg->sc_header_timeout : cfg->sc_keepalive_timeout);
		if (s->s_draining && c->c_nreq > 0)
			d = server_earliest(d, s->s_drain_idle_until);
		return (d);
	case CS_HEAD:
		return (server_after(c->c_since, cfg->sc_header_timeout));
	case CS_BODY:
		return (server_after(c->c_since, cfg->sc_body_timeout));
	case CS_LINGER:
		return (c->c_since + SERVER_LINGER);
	default:
		return (SERVER_NEVER);
	}
}

static ev_tstamp
server_conn_write_deadline(const struct server_conn *c)
{
	if (server_buf_pending(&c->c_out) == 0)
		return (SERVER_NEVER);
	return (server_after(c->c_wstamp, c->c_srv->s_cfg.sc_write_timeout));
}

static void
server_conn_arm_timer(struct server_conn *c)
{
	struct ev_loop	*loop = c->c_srv->s_loop;
	ev_tstamp	 at, after;

	at = server_earliest(server_conn_state_deadline(c),
	    server_conn_write_deadline(c));
	if (at == c->c_timer_at && (at == SERVER_NEVER ||
	    ev_is_active(&c->c_timer)))
		return;
	ev_timer_stop(loop, &c->c_timer);
	c->c_timer_at = at;
	if (at == SERVER_NEVER)
		return;
	after = at - ev_now(loop);
	ev_timer_set(&c->c_timer, after > 0 ? after : 0, 0);
	ev_timer_start(loop, &c->c_timer);
}

/* The timer fired: act on whichever deadline has passed. */
static void
server_conn_expire(struct server_conn *c, ev_tstamp now)
{
	struct server	*s = c->c_srv;
	ev_tstamp	 d;

	now += SERVER_SLACK;
	d = server_conn_write_deadline(c);
	if (d != SERVER_NEVER && now >= d) {
		SERVER_COUNT(s, ss_timeouts);
		server_conn_close(c);
		return;
	}
	d = server_conn_state_deadline(c);
	if (d == SERVER_NEVER || now < d)
		return;
	if (c->c_state == CS_TLS) {
		SERVER_TLS_FAIL(s, SHM_TLS_TIMEOUT);
		server_conn_close(c);
	} else if (c->c_state == CS_HEAD || c->c_state == CS_BODY) {
		SERVER_COUNT(s, ss_timeouts);
		server_conn_fail(c, 408, "request not received in time");
	} else {
		if (c->c_state == CS_IDLE && c->c_nreq == 0)
			SERVER_COUNT(s, ss_timeouts);
		server_conn_close(c);	/* idle keep-alive: silently */
	}
}

/* 1 while answers wait for the pipelined request the handler holds, or
 * for the deferred ones still pending. */
static int
server_conn_corked(const struct server_conn *c)
{
	return ((c->c_state == CS_HANDLER || c->c_ntickets > 0) &&
	    !c->c_srv->s_draining &&
	    server_buf_pending(&c->c_out) < SERVER_CORK_MAX);
}

/*
 * After any event: write what the socket takes (unless corked), resume
 * parsing that was paused for output, then point the watchers and the
 * timer at what the conn now waits for.
 */
static void
server_conn_settle(struct server_conn *c)
{
	struct ev_loop	*loop = c->c_srv->s_loop;
	int		 rd, wr;

	if (c->c_fd < 0)
		return;
	if (c->c_state == CS_TLS) {
		server_watch(loop, &c->c_rio, c->c_hs_want == TLS_WANT_READ);
		server_watch(loop, &c->c_wio, c->c_hs_want == TLS_WANT_WRITE);
		server_conn_arm_timer(c);
		return;
	}
	for (;;) {
		if (c->c_fd >= 0 && server_buf_pending(&c->c_out) > 0 &&
		    !server_conn_corked(c))
			server_conn_flush(c);
		if (c->c_fd < 0)
			return;
		if (!c->c_blocked || !server_conn_can_parse(c))
			break;
		server_conn_process(c);
	}
	rd = server_conn_wants_read(c);
	wr = server_buf_pending(&c->c_out) > 0 && !server_conn_corked(c);
	server_watch(loop, &c->c_rio, rd || (wr && c->c_wr_wants_r));
	server_watch(loop, &c->c_wio, wr || (rd && c->c_rd_wants_w));
	server_conn_arm_timer(c);
	if (rd && c->c_state != CS_LINGER && tls_pending(c->c_ssl) > 0)
		ev_feed_event(loop, &c->c_rio, EV_READ);
}

/* Read and parse what arrived (a read event, or a TLS read retried). */
static void
server_conn_input(struct server_conn *c)
{
	server_conn_read(c);
	if (c->c_fd >= 0)
		server_conn_process(c);
}

/* Go on with the TLS handshake; once done, read what follows it. */
static void
server_conn_handshake(struct server_conn *c)
{
	int	 reason = SHM_TLS_OTHER, r;

	r = tls_handshake(c->c_ssl, &c->c_hs_want, &reason);
	if (r == 0)
		return;
	if (r == -1) {
		SERVER_TLS_FAIL(c->c_srv, reason);
		server_conn_close(c);
		return;
	}
	SERVER_TLS_DONE(c->c_srv, tls_resumed(c->c_ssl) ? SHM_TLSK_RESUMED :
	    SHM_TLSK_FULL);
	c->c_state = CS_IDLE;
	c->c_since = ev_now(c->c_srv->s_loop);
	server_conn_input(c);
}

static void
server_conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server_conn	*c = w->data;

	server_conn_hold(c);
	if (revents & EV_ERROR)
		server_conn_close(c);
	else if (c->c_state == CS_TLS)
		server_conn_handshake(c);
	else if (c->c_state == CS_LINGER)
		server_conn_discard(c);
	else
		server_conn_input(c);
	server_conn_settle(c);
	server_conn_release(c);
}

static void
server_conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server_conn	*c = w->data;

	server_conn_hold(c);
	if (revents & EV_ERROR)
		server_conn_close(c);
	else if (c->c_state == CS_TLS)
		server_conn_handshake(c);
	else if (c->c_rd_wants_w && c->c_state != CS_LINGER)
		server_conn_input(c);	/* a TLS read waited for this */
	server_conn_settle(c);
	server_conn_release(c);
}

static void
server_conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server_conn	*c = w->data;

	server_conn_hold(c);
	server_conn_expire(c, ev_now(loop));
	server_conn_settle(c);
	server_conn_release(c);
}

/* ------------------------------------------------------------------ */
/* Accepting                                                           */
/* ------------------------------------------------------------------ */

static void
server_conn_new(struct server *s, int fd, const struct sockaddr_storage *ss)
{
	struct server_conn	*c;
	int			 one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->c_srv = s;
	c->c_fd = fd;
	c->c_refs = 1;			/* the socket's */
	TAILQ_INIT(&c->c_tickets);
	c->c_state = CS_IDLE;
	if (s->s_cfg.sc_tls != NULL) {
		if ((c->c_ssl = tls_conn_new(s->s_cfg.sc_tls, fd)) == NULL) {
			SERVER_TLS_FAIL(s, SHM_TLS_OTHER);
			(void)close(fd);
			free(c);
			return;
		}
		c->c_state = CS_TLS;
		c->c_hs_want = TLS_WANT_READ;
	}
	c->c_since = ev_now(s->s_loop);
	c->c_timer_at = SERVER_NEVER;
	server_peer_text(ss, c->c_peer, sizeof(c->c_peer));
	ev_io_init(&c->c_rio, server_conn_read_cb, fd, EV_READ);
	ev_io_init(&c->c_wio, server_conn_write_cb, fd, EV_WRITE);
	ev_init(&c->c_timer, server_conn_timer_cb);
	c->c_rio.data = c->c_wio.data = c->c_timer.data = c;
	TAILQ_INSERT_TAIL(&s->s_conns, c, c_entry);
	s->s_nconns++;
	SERVER_COUNT(s, ss_conns);
	SERVER_COUNT(s, ss_conns_total);
	server_conn_settle(c);
}

/* Run the accept watcher only when a new conn would be welcome. */
static void
server_accept_arm(struct server *s)
{
	unsigned	 max = s->s_cfg.sc_max_clients;

	server_watch(s->s_loop, &s->s_accept, s->s_lfd >= 0 &&
	    !s->s_draining && !ev_is_active(&s->s_retry) &&
	    (max == 0 || s->s_nconns < max));
}

/*
 * Out of fds: give the spare fd up, accept and close one pending conn,
 * and take the spare back, so a full queue cannot spin the loop.  0 to
 * go on, -1 to stop this round (pausing accept if no spare is left).
 */
static int
server_accept_shed(struct server *s)
{
	int	 fd;

	if (s->s_reserve_fd >= 0) {
		(void)close(s->s_reserve_fd);
		fd = accept4(s->s_lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			(void)close(fd);
		s->s_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (s->s_reserve_fd >= 0)
			return (fd >= 0 ? 0 : -1);
	}
	ev_timer_set(&s->s_retry, SERVER_ACCEPT_PAUSE, 0);
	ev_timer_start(s->s_loop, &s->s_retry);
	return (-1);
}

/* Accept one conn: 0 to go on, -1 to stop this round. */
static int
server_accept_one(struct server *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	fd = accept4(s->s_lfd, (struct sockaddr *)&ss, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		server_conn_new(s, fd, &ss);
		return (0);
	}
	switch (errno) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return (0);		/* that conn is gone; try the next */
	case EMFILE:
	case ENFILE:
		return (server_accept_shed(s));
	default:
		return (-1);		/* EAGAIN and the rest */
	}
}

static void
server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server	*s = w->data;
	unsigned	 max = s->s_cfg.sc_max_clients;
	int		 i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (max > 0 && s->s_nconns >= max)
			break;
		if (server_accept_one(s) == -1)
			break;
	}
	server_accept_arm(s);
}

static void
server_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server	*s = w->data;

	if (s->s_reserve_fd < 0)
		s->s_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	server_accept_arm(s);
}

/* ------------------------------------------------------------------ */
/* Public interface                                                    */
/* ------------------------------------------------------------------ */

/* server_new: see server.h. */
struct server *
server_new(struct ev_loop *loop, int lfd, const struct server_config *cfg,
    server_handler *handler, void *arg, struct shm_slot *slot)
{
	struct server	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->s_loop = loop;
	s->s_lfd = lfd;
	s->s_cfg = *cfg;
	s->s_handler = handler;
	s->s_arg = arg;
	s->s_slot = slot;
	/* without a spare fd, EMFILE pauses accepting instead */
	s->s_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	TAILQ_INIT(&s->s_conns);
	ev_io_init(&s->s_accept, server_accept_cb, lfd, EV_READ);
	s->s_accept.data = s;
	ev_init(&s->s_retry, server_retry_cb);
	s->s_retry.data = s;
	server_accept_arm(s);
	return (s);
}

/* server_set_config: see server.h. */
void
server_set_config(struct server *s, const struct server_config *cfg)
{
	s->s_cfg = *cfg;
}

/* server_drain: see server.h. */
void
server_drain(struct server *s, double idle_grace, void (*idle_cb)(void *),
    void *arg)
{
	struct server_conn	*c, *next;
	int			 idle;

	if (s->s_draining)
		return;
	s->s_draining = 1;
	s->s_drain_idle_until = idle_grace > 0 ?
	    ev_now(s->s_loop) + idle_grace : 0;
	s->s_idle_cb = idle_cb;
	s->s_idle_arg = arg;
	ev_timer_stop(s->s_loop, &s->s_retry);
	server_accept_arm(s);		/* stops it */
	if (s->s_lfd >= 0) {
		(void)close(s->s_lfd);
		s->s_lfd = -1;
	}
	s->s_busy++;
	for (c = TAILQ_FIRST(&s->s_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		/* idle keep-alive; a connection that has not sent its
		 * first request yet keeps its header timeout to send it */
		idle = c->c_state == CS_IDLE && c->c_nreq > 0 &&
		    c->c_ntickets == 0 && server_buf_pending(&c->c_in) == 0 &&
		    server_buf_pending(&c->c_out) == 0;
		if (idle && idle_grace <= 0)
			server_conn_close(c);
		else if (idle)
			server_conn_arm_timer(c);	/* the grace's end */
	}
	s->s_busy--;
	server_check_idle(s);
}

/* server_nconns: see server.h. */
unsigned
server_nconns(const struct server *s)
{
	return (s->s_nconns);
}

/* server_free: see server.h. */
void
server_free(struct server *s)
{
	struct server_conn	*c;

	if (s == NULL)
		return;
	s->s_busy++;
	ev_io_stop(s->s_loop, &s->s_accept);
	ev_timer_stop(s->s_loop, &s->s_retry);
	while ((c = TAILQ_FIRST(&s->s_conns)) != NULL) {
		server_conn_unwatch(c);
		tls_conn_free(c->c_ssl, 1);
		c->c_ssl = NULL;
		if (c->c_fd >= 0) {
			(void)close(c->c_fd);
			SERVER_UNCOUNT(s, ss_conns);
		}
		server_conn_destroy(c);
	}
	if (s->s_reserve_fd >= 0)
		(void)close(s->s_reserve_fd);
	free(s);
}

/* Whether the conn reads another request after the one it holds. */
static int
server_conn_goes_on(const struct server_conn *c)
{
	const struct server	*s = c->c_srv;

	return (c->c_req.hr_keep_alive && s->s_cfg.sc_keepalive_timeout > 0 &&
	    !s->s_draining);
}

/* Past the request just answered or deferred: the next one, or none. */
static void
server_conn_next(struct server_conn *c, int keep)
{
	if (!keep || c->c_fd < 0) {
		c->c_state = CS_CLOSING;
		server_buf_free(&c->c_in);
		return;
	}
	c->c_in.sb_off += server_conn_req_size(c);
	c->c_state = CS_IDLE;
	c->c_since = ev_now(c->c_srv->s_loop);
	if (server_buf_pending(&c->c_in) == 0)
		server_buf_free(&c->c_in);
}

/* Queue an answer (keep: the conn goes on after it).  0, or -1 closed. */
static int
server_conn_put(struct server_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len, int keep, int head)
{
	int	 head_only;

	head_only = head || (status >= 100 && status < 200) ||
	    status == 204 || status == 304;
	if (server_conn_queue(c, status, ctype, extra, body, len, keep,
	    head_only) == -1) {
		server_conn_close(c);
		c->c_state = CS_CLOSING;
		return (-1);
	}
	SERVER_COUNT(c->c_srv, ss_requests);
	c->c_nreq++;
	return (0);
}

/* Queue the handler's answer and move to the next request. */
static void
server_conn_answer(struct server_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	int	 keep = server_conn_goes_on(c);

	if (server_conn_put(c, status, ctype, extra, body, len, keep,
	    c->c_req.hr_method == HTTP_M_HEAD) == 0)
		server_conn_next(c, keep);
}

/* A ticket for the request the handler holds, at the end of the queue;
 * it holds a reference of its own.  NULL: no memory. */
static struct server_ticket *
server_ticket_new(struct server_conn *c)
{
	struct server_ticket	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->t_conn = c;
	t->t_keep = c->c_req.hr_keep_alive;
	t->t_head = c->c_req.hr_method == HTTP_M_HEAD;
	TAILQ_INSERT_TAIL(&c->c_tickets, t, t_entry);
	c->c_ntickets++;
	server_conn_hold(c);
	return (t);
}

/* Copy the answer into t.  0, or -1 (no memory: t stays unanswered). */
static int
server_ticket_fill(struct server_ticket *t, int status, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	size_t	 nc, ne;

	nc = ctype != NULL ? strlen(ctype) + 1 : 0;
	ne = extra != NULL ? strlen(extra) + 1 : 0;
	if ((t->t_data = malloc(nc + ne + len + 1)) == NULL)
		return (-1);
	t->t_ctype = nc > 0 ? memcpy(t->t_data, ctype, nc) : NULL;
	t->t_extra = ne > 0 ? memcpy(t->t_data + nc, extra, ne) : NULL;
	t->t_body = t->t_data + nc + ne;
	if (len > 0)
		memcpy(t->t_body, body, len);
	t->t_len = len;
	t->t_status = status;
	t->t_done = 1;
	return (0);
}

/*
 * Move the answered tickets at the head of the queue into the output, in
 * order.  Whether the conn goes on after one is decided here, when it is
 * written: a drain closes the conn after the last ticket, never between
 * two (the requests of later ones may have been acted on already).
 */
static void
server_conn_tickets_out(struct server_conn *c)
{
	struct server		*s = c->c_srv;
	struct server_ticket	*t;
	unsigned		 done = 0;
	int			 keep;

	server_conn_hold(c);
	while ((t = TAILQ_FIRST(&c->c_tickets)) != NULL && t->t_done) {
		TAILQ_REMOVE(&c->c_tickets, t, t_entry);
		c->c_ntickets--;
		keep = t->t_keep && s->s_cfg.sc_keepalive_timeout > 0 &&
		    (!s->s_draining || c->c_ntickets > 0);
		if (c->c_fd >= 0 && server_conn_put(c, t->t_status,
		    t->t_ctype, t->t_extra, t->t_body, t->t_len, keep,
		    t->t_head) == 0 && !keep) {
			c->c_state = CS_CLOSING;
			server_buf_free(&c->c_in);
		}
		free(t->t_data);
		free(t);
		done++;
	}
	while (done-- > 0)
		server_conn_release(c);	/* the tickets' references */
	server_conn_release(c);
}

/* After an answer from outside our callbacks: run the conn on. */
static void
server_conn_resume(struct server_conn *c)
{
	if (!c->c_processing && c->c_fd >= 0) {
		server_conn_process(c);
		server_conn_settle(c);
	}
}

/* server_respond: see server.h. */
void
server_respond(struct server_conn *c, int status, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	struct server_ticket	*t;

	if (c == NULL || c->c_state != CS_HANDLER)
		return;			/* no request held: a caller's bug */
	if (c->c_fd >= 0 && c->c_ntickets > 0) {
		/* earlier answers are still to come: queue behind them */
		if ((t = server_ticket_new(c)) == NULL ||
		    server_ticket_fill(t, status, ctype, extra, body,
		    len) == -1) {
			if (t != NULL)
				t->t_done = 1;	/* dropped by tickets_out */
			server_conn_close(c);
			c->c_state = CS_CLOSING;
		} else
			server_conn_next(c, server_conn_goes_on(c));
		if (t != NULL)
			server_conn_tickets_out(c);
	} else if (c->c_fd >= 0)
		server_conn_answer(c, status, ctype, extra, body, len);
	else
		c->c_state = CS_CLOSING;	/* the client is gone */
	server_conn_resume(c);
	server_conn_release(c);		/* the handler's reference */
}

/* server_conn_defer: see server.h. */
struct server_ticket *
server_conn_defer(struct server_conn *c)
{
	struct server_ticket	*t;

	if (c == NULL || c->c_state != CS_HANDLER ||
	    (t = server_ticket_new(c)) == NULL)
		return (NULL);
	server_conn_next(c, server_conn_goes_on(c));
	server_conn_resume(c);
	server_conn_release(c);		/* the handler's reference */
	return (t);
}

/* server_ticket_respond: see server.h. */
void
server_ticket_respond(struct server_ticket *t, int status,
    const char *ctype, const char *extra, const void *body, size_t len)
{
	struct server_conn	*c;

	if (t == NULL || t->t_done)
		return;			/* a caller's bug */
	c = t->t_conn;
	server_conn_hold(c);
	if (c->c_fd < 0 || server_ticket_fill(t, status, ctype, extra, body,
	    len) == -1) {
		if (c->c_fd >= 0) {
			server_conn_close(c);	/* cannot keep the order */
			c->c_state = CS_CLOSING;
		}
		t->t_done = 1;		/* dropped by tickets_out */
		t->t_status = 0;
	}
	server_conn_tickets_out(c);
	server_conn_resume(c);
	server_conn_release(c);
}

/* server_respond_error: see server.h. */
void
server_respond_error(struct server_conn *c, int status, const char *code,
    const char *msg, const char *extra)
{
	char	*body;
	size_t	 cap;
	int	 n = -1;

	code = code != NULL ? code : "";
	msg = msg != NULL ? msg : "";
	cap = 32 + 6 * (strlen(code) + strlen(msg));
	if ((body = malloc(cap)) != NULL)
		n = http_error_body(body, cap, code, msg);
	server_respond(c, status, "application/json", extra, body,
	    n > 0 ? (size_t)n : 0);
	free(body);
}

/* server_conn_peer: see server.h. */
const char *
server_conn_peer(const struct server_conn *c)
{
	return (c->c_peer);
}

/* server_conn_detach: see server.h. */
int
server_conn_detach(struct server_conn *c, char *rest, size_t restcap,
    size_t *restlen, SSL **sslp)
{
	struct server	*s;
	size_t		 used, extra;
	int		 fd;

	if (c != NULL && c->c_state == CS_HANDLER && c->c_fd >= 0 &&
	    server_buf_pending(&c->c_out) > 0)
		server_conn_flush(c);	/* corked answers to earlier requests */
	if (c == NULL || c->c_state != CS_HANDLER || c->c_fd < 0 ||
	    server_buf_pending(&c->c_out) > 0 || c->c_ntickets > 0)
		return (-1);
	used = server_conn_req_size(c);
	extra = server_buf_pending(&c->c_in) - used;
	if (extra > restcap)
		return (-1);
	if (extra > 0)
		memcpy(rest, c->c_in.sb_data + c->c_in.sb_off + used, extra);
	*restlen = extra;
	*sslp = c->c_ssl;
	c->c_ssl = NULL;
	s = c->c_srv;
	fd = c->c_fd;
	server_conn_unwatch(c);
	c->c_fd = -1;
	c->c_state = CS_CLOSING;
	SERVER_UNCOUNT(s, ss_conns);
	SERVER_COUNT(s, ss_requests);
	c->c_refs--;			/* the socket's; the handler's remains */
	server_conn_release(c);		/* the handler's */
	return (fd);
}
