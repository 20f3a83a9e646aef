/*
 * pushhttp.c: the HTTP/1.1 client of the push worker process, which POSTs
 * push notifications to a push gateway (plain TCP or TLS by OpenSSL).
 *
 * Owns, per client: the parsed URL, the TLS context, the queue of
 * requests waiting for a connection, the connections (socket, SSL, one
 * ev_io watcher, the input buffer) and a zero-delay "kick" timer that
 * hands queued requests to connections from the loop.
 *
 * Invariants:
 * - A request is either in cl_queue (no connection, r_conn NULL) or held
 *   by exactly one connection (c_req == r, r_conn == c); every connection
 *   is in cl_conns; a connection without a request is idle.
 * - Requests reach connections only from the kick timer, so ph_post never
 *   calls done.
 * - done is called once per request, after the request has left every
 *   list, its connection is settled (idle, or freed) and the request is
 *   freed (the answer body given to done is freed after it returns).
 *   done may call ph_free, which clears the flag cl_alivep points to:
 *   ph_req_end then returns -1 and its caller touches nothing more.
 * - A request's timer runs from its first connection to its end.
 * - An idle connection still watches EV_READ: any byte or EOF there closes
 *   it (the server closed it, or broke the protocol).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "pushhttp.h"
#include "tls.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"unknown"
#endif

#define PH_HOST_MAX	256		/* bytes of a host name */
#define PH_IN_MAX	(PH_HEAD_MAX + PH_BODY_MAX + 16 * 1024)	/* raw */
#define PH_READ_CHUNK	(16 * 1024)	/* bytes per read */
/* The head of every request: path, Host, version, type, body length. */
#define PH_REQ_HEAD	"POST %s HTTP/1.1\r\nHost: %s\r\n" \
			"User-Agent: routingd/%s\r\nContent-Type: %s\r\n" \
			"Content-Length: %zu\r\n\r\n"

enum ph_cstate {
	PC_CONNECTING,		/* non-blocking connect(2) under way */
	PC_HANDSHAKE,		/* SSL_connect under way */
	PC_SENDING,		/* writing the request */
	PC_READING,		/* awaiting or reading the answer */
	PC_IDLE			/* keep-alive, no request */
};

struct ph_conn;

struct ph_req {
	TAILQ_ENTRY(ph_req)	 r_entry;	/* in cl_queue */
	struct ph_client	*r_client;
	struct ph_conn		*r_conn;	/* NULL while queued */
	char			*r_out;		/* head and body */
	size_t			 r_outlen;
	ph_done_cb		*r_done;
	void			*r_arg;
	ev_timer		 r_timer;
	int			 r_queued;	/* in cl_queue */
	int			 r_retried;	/* sent a second time */
};

struct ph_conn {
	TAILQ_ENTRY(ph_conn)	 c_entry;	/* in cl_conns */
	struct ph_client	*c_client;
	int			 c_fd;
	SSL			*c_ssl;
	enum ph_cstate		 c_state;
	ev_io			 c_io;
	struct ph_req		*c_req;
	int			 c_reused;	/* has had an answer */
	struct addrinfo		*c_ai;		/* resolved addresses */
	struct addrinfo		*c_ainext;	/* next one to try */
	size_t			 c_outoff;	/* bytes of r_out sent */
	char			*c_in;
	size_t			 c_inlen;
	size_t			 c_incap;
};

TAILQ_HEAD(ph_reqq, ph_req);
TAILQ_HEAD(ph_connq, ph_conn);

struct ph_client {
	struct ev_loop		*cl_loop;
	int			 cl_tls;
	char			 cl_host[PH_HOST_MAX];	/* no brackets */
	int			 cl_host_ip;		/* host is an address */
	char			 cl_port[8];
	char			*cl_hosthdr;		/* Host: value */
	char			*cl_path;
	unsigned		 cl_max_conns;
	double			 cl_timeout;
	SSL_CTX			*cl_ctx;
	struct ph_reqq		 cl_queue;
	size_t			 cl_nqueued;
	size_t			 cl_ninflight;
	struct ph_connq		 cl_conns;
	unsigned		 cl_nconns;
	ev_timer		 cl_kick;
	int			*cl_alivep;	/* ph_free clears it, if set */
};

/* The outcome of parsing an answer. */
struct ph_answer {
	int		 a_status;
	int		 a_close;	/* close the connection after it */
	const char	*a_err;		/* static, on error */
	char		*a_body;	/* malloc'd, NUL-terminated */
	size_t		 a_bodylen;
};

static void	 ph_kick(struct ph_client *);
static void	 ph_conn_io(struct ev_loop *, ev_io *, int);

/* ------------------------------------------------------------------ */
/* URL */

static int
ph_parse_port(const char *s, size_t len, char *out, size_t outsz)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 5)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return (-1);
	(void)snprintf(out, outsz, "%lu", v);
	return (0);
}

static int
ph_host_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len >= PH_HOST_MAX)
		return (0);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != '_')
			return (0);
	return (1);
}

/* Splits the authority (host[:port] or [v6][:port]) into cl. */
static const char *
ph_parse_authority(struct ph_client *cl, const char *a, size_t len)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	const char	*colon, *end = a + len;
	size_t		 hlen;

	if (len > 0 && a[0] == '[') {
		const char *rb = memchr(a, ']', len);

		if (rb == NULL || (size_t)(rb - a - 1) >= PH_HOST_MAX)
			return ("bad URL: bad IPv6 address");
		hlen = (size_t)(rb - a - 1);
		memcpy(cl->cl_host, a + 1, hlen);
		cl->cl_host[hlen] = '\0';
		if (inet_pton(AF_INET6, cl->cl_host, &a6) != 1)
			return ("bad URL: bad IPv6 address");
		cl->cl_host_ip = 1;
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return ("bad URL: junk after the IPv6 address");
	} else {
		colon = memchr(a, ':', len);
		hlen = colon != NULL ? (size_t)(colon - a) : len;
		if (!ph_host_name_ok(a, hlen))
			return ("bad URL: bad host");
		memcpy(cl->cl_host, a, hlen);
		cl->cl_host[hlen] = '\0';
		cl->cl_host_ip = inet_pton(AF_INET, cl->cl_host, &a4) == 1;
	}
	if (colon == NULL) {
		(void)snprintf(cl->cl_port, sizeof(cl->cl_port), "%s",
		    cl->cl_tls ? "443" : "80");
		return (NULL);
	}
	if (ph_parse_port(colon + 1, (size_t)(end - colon - 1), cl->cl_port,
	    sizeof(cl->cl_port)) == -1)
		return ("bad URL: bad port");
	return (NULL);
}

static const char *
ph_parse_url(struct ph_client *cl, const char *url)
{
	const char	*a, *p, *e;
	size_t		 alen, plen;
	int		 dflt;

	if (url == NULL)
		return ("bad URL: none");
	if (strncasecmp(url, "http://", 7) == 0) {
		a = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		cl->cl_tls = 1;
		a = url + 8;
	} else
		return ("bad URL: scheme is not http or https");
	for (e = url; *e != '\0'; e++)
		if ((unsigned char)*e <= 0x20 || *e == 0x7f || *e == '#')
			return ("bad URL: space, control or fragment");
	alen = strcspn(a, "/?");
	if (memchr(a, '@', alen) != NULL)
		return ("bad URL: user info");
	if (alen == 0)
		return ("bad URL: no host");
	if ((e = ph_parse_authority(cl, a, alen)) != NULL)
		return (e);
	p = a + alen;
	plen = strlen(p);
	if ((cl->cl_path = malloc(plen + 2)) == NULL)
		return ("out of memory");
	(void)snprintf(cl->cl_path, plen + 2, "%s%s", *p == '/' ? "" : "/",
	    p);
	dflt = strcmp(cl->cl_port, cl->cl_tls ? "443" : "80") == 0;
	if (asprintf(&cl->cl_hosthdr, "%s%s%s%s%s",
	    cl->cl_host_ip && strchr(cl->cl_host, ':') ? "[" : "",
	    cl->cl_host,
	    cl->cl_host_ip && strchr(cl->cl_host, ':') ? "]" : "",
	    dflt ? "" : ":", dflt ? "" : cl->cl_port) == -1) {
		cl->cl_hosthdr = NULL;
		return ("out of memory");
	}
	return (NULL);
}

static const char *
ph_tls_setup(struct ph_client *cl, const char *ca_file)
{
	if ((cl->cl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return ("cannot make a TLS context");
	if (SSL_CTX_set_min_proto_version(cl->cl_ctx, TLS1_2_VERSION) != 1)
		return ("cannot make a TLS context");
	SSL_CTX_set_verify(cl->cl_ctx, SSL_VERIFY_PEER, NULL);
	/* a gateway that closes without close_notify ends its answer */
	SSL_CTX_set_options(cl->cl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(cl->cl_ctx, ca_file,
		    NULL) != 1) {
			ERR_clear_error();
			return ("cannot read the CA file");
		}
	} else if (SSL_CTX_set_default_verify_paths(cl->cl_ctx) != 1) {
		ERR_clear_error();
		return ("cannot load the system CA store");
	}
	return (NULL);
}

struct ph_client *
ph_new(struct ev_loop *loop, const struct ph_config *cfg, const char **err)
{
	struct ph_client	*cl;
	const char		*e = NULL;

	if (cfg->pc_max_conns == 0)
		e = "max_conns must be at least 1";
	else if (!(cfg->pc_timeout > 0))
		e = "timeout must be > 0";
	if (e != NULL) {
		if (err != NULL)
			*err = e;
		return (NULL);
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		if (err != NULL)
			*err = "out of memory";
		return (NULL);
	}
	cl->cl_loop = loop;
	cl->cl_max_conns = cfg->pc_max_conns;
	cl->cl_timeout = cfg->pc_timeout;
	TAILQ_INIT(&cl->cl_queue);
	TAILQ_INIT(&cl->cl_conns);
	ev_timer_init(&cl->cl_kick, NULL, 0., 0.);
	if ((e = ph_parse_url(cl, cfg->pc_url)) == NULL && cl->cl_tls)
		e = ph_tls_setup(cl, cfg->pc_ca_file);
	if (e != NULL) {
		if (err != NULL)
			*err = e;
		ph_free(cl);
		return (NULL);
	}
	return (cl);
}

/* ------------------------------------------------------------------ */
/* Requests */

static void
ph_req_free(struct ph_req *r)
{
	free(r->r_out);
	free(r);
}

/* Takes r off the queue or its connection, whichever holds it. */
static void
ph_req_detach(struct ph_req *r)
{
	struct ph_client	*cl = r->r_client;

	if (r->r_queued) {
		TAILQ_REMOVE(&cl->cl_queue, r, r_entry);
		cl->cl_nqueued--;
		r->r_queued = 0;
	} else if (r->r_conn != NULL) {
		r->r_conn->c_req = NULL;
		r->r_conn = NULL;
		cl->cl_ninflight--;
	}
}

static void
ph_req_enqueue(struct ph_req *r, int head)
{
	struct ph_client	*cl = r->r_client;

	if (head)
		TAILQ_INSERT_HEAD(&cl->cl_queue, r, r_entry);
	else
		TAILQ_INSERT_TAIL(&cl->cl_queue, r, r_entry);
	r->r_queued = 1;
	cl->cl_nqueued++;
	ph_kick(cl);
}

/*
 * Ends r: detaches it (its connection, if any, is the caller's to settle
 * first), frees it, calls done last.  Returns 0 if the client still lives
 * after done, -1 if done freed it.
 */
static int
ph_req_end(struct ph_req *r, int status, const char *body, size_t len,
    const char *err)
{
	struct ph_client	*cl = r->r_client;
	ph_done_cb		*done = r->r_done;
	void			*arg = r->r_arg;
	int			 alive = 1, *saved;

	ev_timer_stop(cl->cl_loop, &r->r_timer);
	ph_req_detach(r);
	ph_req_free(r);
	saved = cl->cl_alivep;
	cl->cl_alivep = &alive;
	done(arg, status, body, len, err);
	if (!alive) {
		if (saved != NULL)
			*saved = 0;
		return (-1);
	}
	cl->cl_alivep = saved;
	return (0);
}

int
ph_post(struct ph_client *cl, const char *ctype, const char *body,
    size_t len, ph_done_cb *done, void *arg)
{
	struct ph_req	*r;
	const char	*p;
	int		 n;

	if (ctype == NULL || *ctype == '\0' || done == NULL ||
	    (body == NULL && len > 0)) {
		errno = EINVAL;
		return (-1);
	}
	for (p = ctype; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			errno = EINVAL;
			return (-1);
		}
	if (cl->cl_nqueued + cl->cl_ninflight >= PH_QUEUE_MAX) {
		errno = EAGAIN;
		return (-1);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (-1);
	n = snprintf(NULL, 0, PH_REQ_HEAD, cl->cl_path, cl->cl_hosthdr,
	    PACKAGE_VERSION, ctype, len);
	if (n < 0 || len > SIZE_MAX - (size_t)n - 1 ||
	    (r->r_out = malloc((size_t)n + len + 1)) == NULL) {
		free(r);
		errno = ENOMEM;
		return (-1);
	}
	(void)snprintf(r->r_out, (size_t)n + 1, PH_REQ_HEAD, cl->cl_path,
	    cl->cl_hosthdr, PACKAGE_VERSION, ctype, len);
	if (len > 0)
		memcpy(r->r_out + n, body, len);
	r->r_outlen = (size_t)n + len;
	r->r_client = cl;
	r->r_done = done;
	r->r_arg = arg;
	ev_timer_init(&r->r_timer, NULL, 0., 0.);
	ph_req_enqueue(r, 0);
	return (0);
}

size_t
ph_inflight(const struct ph_client *cl)
{
	return (cl->cl_ninflight);
}

size_t
ph_queued(const struct ph_client *cl)
{
	return (cl->cl_nqueued);
}

/* ------------------------------------------------------------------ */
/* Connections */

static void
ph_conn_watch(struct ph_conn *c, int events)
{
	struct ph_client	*cl = c->c_client;

	if (ev_is_active(&c->c_io) && (c->c_io.events & (EV_READ | EV_WRITE))
	    == events)
		return;
	ev_io_stop(cl->cl_loop, &c->c_io);
	ev_io_set(&c->c_io, c->c_fd, events);
	ev_io_start(cl->cl_loop, &c->c_io);
}

static void
ph_conn_closefd(struct ph_conn *c)
{
	ev_io_stop(c->c_client->cl_loop, &c->c_io);
	if (c->c_ssl != NULL) {
		SSL_free(c->c_ssl);
		c->c_ssl = NULL;
	}
	if (c->c_fd != -1) {
		(void)close(c->c_fd);
		c->c_fd = -1;
	}
}

/* Frees c, which must hold no request. */
static void
ph_conn_free(struct ph_conn *c)
{
	struct ph_client	*cl = c->c_client;

	ph_conn_closefd(c);
	TAILQ_REMOVE(&cl->cl_conns, c, c_entry);
	cl->cl_nconns--;
	if (c->c_ai != NULL)
		freeaddrinfo(c->c_ai);
	free(c->c_in);
	free(c);
}

/*
 * Connects c's socket to the next address that does not fail at once.
 * Returns 0 (connecting, EV_WRITE watched), -1 when none is left.
 */
static int
ph_conn_try(struct ph_conn *c)
{
	struct addrinfo	*ai;
	int		 one = 1;

	ph_conn_closefd(c);
	while ((ai = c->c_ainext) != NULL) {
		c->c_ainext = ai->ai_next;
		c->c_fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (c->c_fd == -1)
			continue;
		(void)setsockopt(c->c_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(c->c_fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			c->c_state = PC_CONNECTING;
			ph_conn_watch(c, EV_WRITE);
			return (0);
		}
		(void)close(c->c_fd);
		c->c_fd = -1;
	}
	return (-1);
}

/* Opens a connection for r.  Returns NULL with *err on failure. */
static struct ph_conn *
ph_conn_open(struct ph_client *cl, const char **err)
{
	struct addrinfo	 hints;
	struct ph_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*err = "out of memory";
		return (NULL);
	}
	c->c_client = cl;
	c->c_fd = -1;
	ev_io_init(&c->c_io, ph_conn_io, -1, 0);
	c->c_io.data = c;
	TAILQ_INSERT_TAIL(&cl->cl_conns, c, c_entry);
	cl->cl_nconns++;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* no AI_ADDRCONFIG: it drops every address on a host with only
	 * loopback; an unusable family fails at connect(2), and the next
	 * address is tried */
	hints.ai_flags = cl->cl_host_ip ? AI_NUMERICHOST : 0;
	if (getaddrinfo(cl->cl_host, cl->cl_port, &hints, &c->c_ai) != 0) {
		c->c_ai = NULL;
		ph_conn_free(c);
		*err = "cannot resolve host";
		return (NULL);
	}
	c->c_ainext = c->c_ai;
	if (ph_conn_try(c) == -1) {
		ph_conn_free(c);
		*err = "connect failed";
		return (NULL);
	}
	return (c);
}

static void
ph_req_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ph_req	*r = w->data;
	struct ph_conn	*c = r->r_conn;

	ph_req_detach(r);
	if (c != NULL)
		ph_conn_free(c);
	(void)ph_req_end(r, -1, NULL, 0, "timed out");
}

/* Gives r (just off the queue) to c and starts sending. */
static void
ph_assign(struct ph_conn *c, struct ph_req *r)
{
	struct ph_client	*cl = c->c_client;

	ph_req_detach(r);
	cl->cl_ninflight++;
	r->r_conn = c;
	c->c_req = r;
	c->c_outoff = 0;
	c->c_inlen = 0;
	if (!ev_is_active(&r->r_timer)) {
		ev_timer_init(&r->r_timer, ph_req_timeout, cl->cl_timeout,
		    0.);
		r->r_timer.data = r;
		ev_timer_start(cl->cl_loop, &r->r_timer);
	}
}

static struct ph_conn *
ph_idle_conn(struct ph_client *cl)
{
	struct ph_conn	*c;

	TAILQ_FOREACH(c, &cl->cl_conns, c_entry)
		if (c->c_state == PC_IDLE)
			return (c);
	return (NULL);
}

/*
 * Hands queued requests to idle connections, or to new ones while under
 * max_conns.  A retried request (r_retried) never takes an idle
 * connection; at the limit, it takes the place of one.
 */
static void
ph_dispatch(struct ph_client *cl)
{
	struct ph_req	*r;
	struct ph_conn	*c;
	const char	*err;

	while ((r = TAILQ_FIRST(&cl->cl_queue)) != NULL) {
		c = ph_idle_conn(cl);
		if (c != NULL && !r->r_retried) {
			/* the write watcher sends it, from the loop */
			ph_assign(c, r);
			c->c_state = PC_SENDING;
			ph_conn_watch(c, EV_WRITE);
			continue;
		}
		if (cl->cl_nconns >= cl->cl_max_conns) {
			if (c == NULL)
				return;
			ph_conn_free(c);
		}
		if ((c = ph_conn_open(cl, &err)) == NULL) {
			if (ph_req_end(r, -1, NULL, 0, err) == -1)
				return;
			continue;
		}
		ph_assign(c, r);
	}
}

static void
ph_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ph_dispatch(w->data);
}

static void
ph_kick(struct ph_client *cl)
{
	if (ev_is_active(&cl->cl_kick) || TAILQ_EMPTY(&cl->cl_queue))
		return;
	ev_timer_init(&cl->cl_kick, ph_kick_cb, 0., 0.);
	cl->cl_kick.data = cl;
	ev_timer_start(cl->cl_loop, &cl->cl_kick);
}

/*
 * c failed while holding its request with err.  A request that failed on
 * a reused connection before any byte of the answer goes back to the head
 * of the queue, once, for a new connection; any other ends with err.  c is
 * freed either way.
 */
static void
ph_conn_fail(struct ph_conn *c, const char *err)
{
	struct ph_client	*cl = c->c_client;
	struct ph_req		*r = c->c_req;
	int			 c_reused = c->c_reused;
	size_t			 inlen = c->c_inlen;

	if (r == NULL) {
		ph_conn_free(c);
		ph_kick(cl);
		return;
	}
	ph_req_detach(r);
	ph_conn_free(c);
	if (c_reused && inlen == 0 && !r->r_retried) {
		r->r_retried = 1;
		ph_req_enqueue(r, 1);
		return;
	}
	ph_kick(cl);
	(void)ph_req_end(r, -1, NULL, 0, err);
}

/* ------------------------------------------------------------------ */
/* Answer parsing: the whole answer is re-read from c_in on each input. */

static int
ph_hdr_is(const char *line, size_t len, const char *name, const char **val,
    size_t *vlen)
{
	size_t	 n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return (0);
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	*val = line;
	*vlen = len;
	return (1);
}

static int
ph_token_in(const char *v, size_t len, const char *tok)
{
	size_t	 n = strlen(tok), i = 0, s;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		if (i - s == n && strncasecmp(v + s, tok, n) == 0)
			return (1);
	}
	return (0);
}

/* Decodes the chunked body at p (len bytes so far) with the request
 * parser's decoder into a new *out: 1 done (*spanned the bytes it took),
 * 0 more input needed, -1 bad, -2 over PH_BODY_MAX, -3 out of memory. */
static int
ph_chunked(const char *p, size_t len, char **out, size_t *outlen,
    size_t *spanned)
{
	struct http_chunked	 hc;
	int			 rc;

	if ((*out = malloc(PH_BODY_MAX + 1)) == NULL)
		return (-3);
	http_chunked_init(&hc);
	*outlen = 0;
	rc = http_chunked_feed(&hc, p, len, spanned, *out, PH_BODY_MAX,
	    outlen);
	if (rc == HTTP_PARSE_OK)
		return (1);
	free(*out);
	*out = NULL;
	if (rc == HTTP_PARSE_AGAIN)
		return (0);
	return (hc.hc_status == 413 ? -2 : -1);
}

/*
 * Parses the answer in c_in.  Returns 1 with a filled (answer complete),
 * 0 if more input is needed, -1 with a->a_err.  eof: the server closed,
 * which ends a body without a length.
 */
static int
ph_parse_answer(const char *in, size_t inlen, int eof, struct ph_answer *a)
{
	const char	*end, *line, *nl, *v, *body;
	size_t		 llen, vlen, clen = 0, blen, span;
	int		 have_clen = 0, chunked = 0, minor, status, n;

	memset(a, 0, sizeof(*a));
	for (;;) {
		end = memmem(in, inlen, "\r\n\r\n", 4);
		if (end == NULL) {
			if (inlen > PH_HEAD_MAX) {
				a->a_err = "answer too large";
				return (-1);
			}
			if (eof)
				goto bad;
			return (0);
		}
		if (inlen < 12 || strncmp(in, "HTTP/1.", 7) != 0 ||
		    !isdigit((unsigned char)in[7]) || in[8] != ' ' ||
		    !isdigit((unsigned char)in[9]) ||
		    !isdigit((unsigned char)in[10]) ||
		    !isdigit((unsigned char)in[11]) ||
		    (inlen > 12 && in[12] != ' ' && in[12] != '\r'))
			goto bad;
		minor = in[7] - '0';
		status = (in[9] - '0') * 100 + (in[10] - '0') * 10 +
		    (in[11] - '0');
		if (status < 100)
			goto bad;
		if (status >= 200)
			break;
		/* 1xx: an interim answer; skip it */
		inlen -= (size_t)(end + 4 - in);
		in = end + 4;
	}
	a->a_status = status;
	a->a_close = minor == 0;
	body = end + 4;
	line = (const char *)memchr(in, '\n', (size_t)(end + 4 - in)) + 1;
	while (line < end + 2) {
		nl = memchr(line, '\n', (size_t)(end + 4 - line));
		llen = (size_t)(nl - line);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (ph_hdr_is(line, llen, "Content-Length", &v, &vlen)) {
			size_t i;

			if (vlen == 0 || have_clen)
				goto bad;
			for (clen = 0, i = 0; i < vlen; i++) {
				if (!isdigit((unsigned char)v[i]))
					goto bad;
				if (clen > PH_BODY_MAX) {
					a->a_err = "answer too large";
					return (-1);
				}
				clen = clen * 10 + (size_t)(v[i] - '0');
			}
			have_clen = 1;
		} else if (ph_hdr_is(line, llen, "Transfer-Encoding", &v,
		    &vlen)) {
			if (!ph_token_in(v, vlen, "chunked"))
				goto bad;
			chunked = 1;
		} else if (ph_hdr_is(line, llen, "Connection", &v, &vlen)) {
			if (ph_token_in(v, vlen, "close"))
				a->a_close = 1;
			else if (ph_token_in(v, vlen, "keep-alive"))
				a->a_close = 0;
		}
		line = nl + 1;
	}
	blen = inlen - (size_t)(body - in);
	if (status == 204 || status == 304) {
		clen = 0;
		have_clen = 1;
		chunked = 0;
	}
	if (chunked) {
		n = ph_chunked(body, blen, &a->a_body, &a->a_bodylen, &span);
		if (n == 0 && !eof)
			return (0);
		if (n == -2) {
			a->a_err = "answer too large";
			return (-1);
		}
		if (n == -3)
			goto nomem;
		if (n <= 0)
			goto bad;
		if (span != blen)
			a->a_close = 1;		/* junk after the answer */
	} else if (have_clen) {
		if (clen > PH_BODY_MAX) {
			a->a_err = "answer too large";
			return (-1);
		}
		if (blen < clen) {
			if (eof)
				goto bad;
			return (0);
		}
		if (blen > clen)
			a->a_close = 1;
		if ((a->a_body = malloc(clen + 1)) == NULL)
			goto nomem;
		memcpy(a->a_body, body, clen);
		a->a_bodylen = clen;
	} else {
		/* the body runs to the end of the connection */
		if (blen > PH_BODY_MAX) {
			a->a_err = "answer too large";
			return (-1);
		}
		if (!eof)
			return (0);
		if ((a->a_body = malloc(blen + 1)) == NULL)
			goto nomem;
		memcpy(a->a_body, body, blen);
		a->a_bodylen = blen;
		a->a_close = 1;
	}
	a->a_body[a->a_bodylen] = '\0';
	return (1);
bad:
	a->a_err = "bad answer";
	return (-1);
nomem:
	a->a_err = "out of memory";
	return (-1);
}

/* ------------------------------------------------------------------ */
/* I/O */

/* The TLS error of a failed SSL call: 1 retry (events set), -1 dead. */
static int
ph_ssl_want(struct ph_conn *c, int rv)
{
	switch (SSL_get_error(c->c_ssl, rv)) {
	case SSL_ERROR_WANT_READ:
		ph_conn_watch(c, EV_READ);
		return (1);
	case SSL_ERROR_WANT_WRITE:
		ph_conn_watch(c, EV_WRITE);
		return (1);
	default:
		ERR_clear_error();
		return (-1);
	}
}

static int
ph_tls_start(struct ph_conn *c)
{
	struct ph_client	*cl = c->c_client;

	if ((c->c_ssl = SSL_new(cl->cl_ctx)) == NULL ||
	    SSL_set_fd(c->c_ssl, c->c_fd) != 1)
		return (-1);
	if (cl->cl_host_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->c_ssl),
		    cl->cl_host) != 1)
			return (-1);
	} else {
		if (SSL_set_tlsext_host_name(c->c_ssl, cl->cl_host) != 1 ||
		    SSL_set1_host(c->c_ssl, cl->cl_host) != 1)
			return (-1);
		SSL_set_hostflags(c->c_ssl,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	return (0);
}

static const char *
ph_tls_err(struct ph_conn *c)
{
	long	 v = SSL_get_verify_result(c->c_ssl);

	if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
	    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return ("TLS handshake failed: certificate verify failed "
		    "(name mismatch)");
	if (v != X509_V_OK)
		return ("TLS handshake failed: certificate verify failed");
	return ("TLS handshake failed");
}

/* The connect(2) finished: 0 on, -1 done (c failed or retrying). */
static int
ph_step_connect(struct ph_conn *c)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		if (ph_conn_try(c) == 0)
			return (-1);
		ph_conn_fail(c, "connect failed");
		return (-1);
	}
	if (c->c_client->cl_tls) {
		if (ph_tls_start(c) == -1) {
			ERR_clear_error();
			ph_conn_fail(c, "TLS setup failed");
			return (-1);
		}
		c->c_state = PC_HANDSHAKE;
	} else
		c->c_state = PC_SENDING;
	return (0);
}

/* Returns 0 when the handshake is done, 1 waiting, -1 failed. */
static int
ph_step_handshake(struct ph_conn *c)
{
	int	 rv;

	ERR_clear_error();
	if ((rv = SSL_connect(c->c_ssl)) == 1) {
		c->c_state = PC_SENDING;
		return (0);
	}
	if (ph_ssl_want(c, rv) == 1)
		return (1);
	ph_conn_fail(c, ph_tls_err(c));
	return (-1);
}

/* Returns 0 when all is sent, 1 waiting, -1 failed. */
static int
ph_step_send(struct ph_conn *c)
{
	struct ph_req	*r = c->c_req;
	ssize_t		 n;
	int		 want = 0;

	while (c->c_outoff < r->r_outlen) {
		n = tls_send(c->c_ssl, c->c_fd, r->r_out + c->c_outoff,
		    r->r_outlen - c->c_outoff, 0, &want);
		if (n >= 0) {
			c->c_outoff += (size_t)n;
			continue;
		}
		if (errno == EAGAIN) {
			ph_conn_watch(c, want == TLS_WANT_READ ? EV_READ :
			    EV_WRITE);
			return (1);
		}
		ph_conn_fail(c, "connection closed");
		return (-1);
	}
	c->c_state = PC_READING;
	ph_conn_watch(c, EV_READ);
	return (0);
}

/*
 * Reads what is there into c_in.  Returns 1 (data or nothing yet, events
 * set), 0 on EOF, -1 on an error (c_in keeps what arrived).
 */
static int
ph_read(struct ph_conn *c)
{
	ssize_t	 n;
	char	*p;
	int	 want = 0;

	for (;;) {
		if (c->c_inlen >= PH_IN_MAX)
			return (1);	/* the caller refuses it */
		if (c->c_incap - c->c_inlen < PH_READ_CHUNK) {
			if ((p = realloc(c->c_in, c->c_incap +
			    PH_READ_CHUNK)) == NULL)
				return (-1);
			c->c_in = p;
			c->c_incap += PH_READ_CHUNK;
		}
		n = tls_recv(c->c_ssl, c->c_fd, c->c_in + c->c_inlen,
		    c->c_incap - c->c_inlen, &want);
		if (n > 0) {
			c->c_inlen += (size_t)n;
			continue;
		}
		if (n == 0)	/* EOF, or close_notify (an EOF without it
				   too: SSL_OP_IGNORE_UNEXPECTED_EOF) */
			return (0);
		if (errno == EAGAIN) {
			ph_conn_watch(c, want == TLS_WANT_WRITE ? EV_WRITE :
			    EV_READ);
			return (1);
		}
		return (-1);
	}
}

/* Reads and, when the answer is complete, ends the request. */
static void
ph_step_read(struct ph_conn *c)
{
	struct ph_client	*cl = c->c_client;
	struct ph_req		*r = c->c_req;
	struct ph_answer	 a;
	int			 rv, eof;

	rv = ph_read(c);
	eof = rv == 0;
	if (c->c_inlen >= PH_IN_MAX) {
		ph_conn_fail(c, "answer too large");
		return;
	}
	if (rv <= 0 && c->c_inlen == 0) {
		ph_conn_fail(c, "connection closed");
		return;
	}
	/* after a read error only an answer complete by its length counts:
	 * a body that runs to the close is cut short */
	switch (ph_parse_answer(c->c_in, c->c_inlen, eof, &a)) {
	case 0:
		if (rv == -1)
			ph_conn_fail(c, "connection closed");
		return;
	case -1:
		ph_conn_fail(c, a.a_err);
		return;
	}
	c->c_reused = 1;
	c->c_inlen = 0;
	ph_req_detach(r);
	if (a.a_close || eof)
		ph_conn_free(c);
	else {
		c->c_state = PC_IDLE;	/* c_in is kept for the next answer */
		ph_conn_watch(c, EV_READ);
	}
	ph_kick(cl);
	(void)ph_req_end(r, a.a_status, a.a_body, a.a_bodylen, NULL);
	free(a.a_body);
}

/* An idle connection became readable: the server closed it or talks out
 * of turn; either way it goes. */
static void
ph_step_idle(struct ph_conn *c)
{
	struct ph_client	*cl;
	char			 buf[256];
	int			 rv;

	if (c->c_ssl != NULL) {
		ERR_clear_error();
		rv = SSL_read(c->c_ssl, buf, (int)sizeof(buf));
		if (rv <= 0 && ph_ssl_want(c, rv) == 1)
			return;
	} else if (recv(c->c_fd, buf, sizeof(buf), 0) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	cl = c->c_client;
	ph_conn_free(c);
	ph_kick(cl);
}

/* Runs c's state machine as far as it goes. */
static void
ph_conn_step(struct ph_conn *c, int revents)
{
	switch (c->c_state) {
	case PC_IDLE:
		ph_step_idle(c);
		return;
	case PC_CONNECTING:
		if (!(revents & EV_WRITE) || ph_step_connect(c) == -1)
			return;
		/* FALLTHROUGH */
	case PC_HANDSHAKE:
		if (c->c_state == PC_HANDSHAKE && ph_step_handshake(c) != 0)
			return;
		/* FALLTHROUGH */
	case PC_SENDING:
		if (ph_step_send(c) != 0)
			return;
		/* FALLTHROUGH */
	case PC_READING:
		ph_step_read(c);
		return;
	}
}

static void
ph_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	ph_conn_step(w->data, revents);
}

void
ph_free(struct ph_client *cl)
{
	struct ph_conn	*c;
	struct ph_req	*r;

	if (cl == NULL)
		return;
	if (cl->cl_alivep != NULL)
		*cl->cl_alivep = 0;
	while ((c = TAILQ_FIRST(&cl->cl_conns)) != NULL) {
		if ((r = c->c_req) != NULL) {
			ev_timer_stop(cl->cl_loop, &r->r_timer);
			ph_req_free(r);
			c->c_req = NULL;
		}
		ph_conn_free(c);
	}
	while ((r = TAILQ_FIRST(&cl->cl_queue)) != NULL) {
		TAILQ_REMOVE(&cl->cl_queue, r, r_entry);
		ev_timer_stop(cl->cl_loop, &r->r_timer);
		ph_req_free(r);
	}
	ev_timer_stop(cl->cl_loop, &cl->cl_kick);
	SSL_CTX_free(cl->cl_ctx);
	free(cl->cl_path);
	free(cl->cl_hosthdr);
	free(cl);
}
