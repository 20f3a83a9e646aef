/*
 * pushhttp.h: a small non-blocking HTTP/1.1 client on libev (with TLS by
 * OpenSSL) that POSTs push notifications to one push gateway URL.  The
 * push worker process owns one client per gateway.
 *
 * Requests wait in a FIFO queue until a connection is free, then go out on
 * at most pc_max_conns keep-alive connections, one request at a time per
 * connection (no pipelining).  The module never logs and never exits:
 * every outcome reaches the caller's done callback.
 *
 * The process must ignore SIGPIPE (routingd's workers do): TLS writes go
 * through write(2), which raises it on a connection the peer has reset.
 */

#ifndef PUSHHTTP_H
#define PUSHHTTP_H

#include <stddef.h>

#include <ev.h>

#define PH_QUEUE_MAX	4096		/* requests queued and in flight */
#define PH_HEAD_MAX	(16 * 1024)	/* bytes: status line and headers */
#define PH_BODY_MAX	(64 * 1024)	/* bytes: answer body, decoded */

struct ph_client;

struct ph_config {
	const char	*pc_url;	/* http[s]://host[:port][/path] */
	const char	*pc_ca_file;	/* PEM CAs for https; NULL: system */
	unsigned	 pc_max_conns;	/* connections at most (>= 1) */
	double		 pc_timeout;	/* s: per request, connect to answer */
};

/*
 * Called exactly once per request accepted by ph_post, always from a libev
 * callback of the client's loop, never from inside ph_post.  On an answer:
 * status is its HTTP status (any, 500 included), body and len its body
 * (de-chunked; NUL-terminated for convenience, len excludes the NUL), err
 * NULL.  On failure: status -1, body NULL, len 0, err a static string
 * ("connect failed", "timed out", "connection closed", "bad answer",
 * "answer too large", "cannot resolve host", "out of memory", "TLS
 * handshake failed: certificate verify failed", "TLS handshake failed"...).
 * body is valid only during the call.  The callback may call ph_post and
 * ph_free (the client is not touched after ph_free returns).
 */
typedef void ph_done_cb(void *arg, int status, const char *body, size_t len,
    const char *err);

/*
 * Makes a client on loop for cfg->pc_url: scheme http or https, a host
 * name, an IPv4 address or an IPv6 address in brackets, an optional port
 * (default 80 or 443) and an optional path (default "/"; a query is kept);
 * no user info, no fragment.  For https it sets up a TLS context: TLS 1.2
 * at least, peer verification against pc_ca_file (or the system store
 * when NULL), host name (or IP address) check and SNI for host names.
 * Nothing connects yet.  cfg is not kept: the URL is parsed into copies
 * and the CA file is read now.  The host is resolved
 * with getaddrinfo(3), which blocks, each time a connection opens: meant
 * for numeric addresses and /etc/hosts names, or a fast local resolver.
 * Returns the client, or NULL with *err (if err is not NULL) set to a
 * static message: a bad URL, an unreadable CA file, max_conns 0, a
 * timeout not > 0, out of memory.
 */
struct ph_client	*ph_new(struct ev_loop *loop,
			    const struct ph_config *cfg, const char **err);

/*
 * Queues a POST of body (len bytes, copied) with Content-Type ctype to the
 * client's URL; done(arg, ...) reports the outcome later.  The timeout
 * (pc_timeout) runs from the moment a connection is assigned to the
 * request, and keeps running through its one retry.  A request that fails
 * on a reused keep-alive connection before any byte of the answer arrived
 * is sent once more on a new connection.
 * Returns 0, or -1 with errno set and done never called: ENOMEM, EINVAL
 * (ctype NULL, empty or with a control character, done NULL, or body NULL
 * with len > 0), or EAGAIN when PH_QUEUE_MAX requests are already queued
 * or in flight.
 */
int			 ph_post(struct ph_client *cl, const char *ctype,
			    const char *body, size_t len, ph_done_cb *done,
			    void *arg);

/* Requests that have a connection (connecting, sending or awaiting the
 * answer). */
size_t			 ph_inflight(const struct ph_client *cl);

/* Requests waiting for a connection. */
size_t			 ph_queued(const struct ph_client *cl);

/*
 * Closes every connection and frees the client and every request, queued
 * or in flight, without calling any done callback.  NULL is a no-op.
 */
void			 ph_free(struct ph_client *cl);

#endif /* PUSHHTTP_H */
