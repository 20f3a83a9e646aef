/*
 * test_pushhttp.c: unit tests of pushhttp.c against real servers on
 * 127.0.0.1 (ephemeral ports) in the same process: an acceptor thread and
 * one thread per accepted connection, with blocking sockets (plain or
 * OpenSSL), each answering as the test's mode says.  The client runs on a
 * private libev loop in the main thread.  The TLS tests use a CA and a
 * server certificate for localhost and 127.0.0.1, and a second unrelated
 * CA, made with openssl(1) in a temporary directory at start-up.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pushhttp.h"

#define WAIT		3.0		/* s: longest wait for the answers */
#define MAX_THREADS	64
#define MAX_RESULTS	16

enum mode {
	M_CL,			/* 200, Content-Length, body "echo:" + body */
	M_CHUNKED,		/* the same, chunked */
	M_500,			/* 500, body "oops" */
	M_SILENT,		/* reads, never answers */
	M_CLOSE_IDLE,		/* answers, closes 50 ms later */
	M_CONN_CLOSE,		/* answers with Connection: close, closes */
	M_DROP_SECOND,		/* closes, unanswered, a 2nd request per conn */
	M_SLOW,			/* answers like M_CL after 100 ms */
	M_HUGE,			/* 200 with a 100000-byte body */
	M_RAW,			/* writes T.raw, closes if T.raw_close */
	M_TRICKLE,		/* writes T.raw a byte at a time */
	M_ONLY_FIRST		/* answers the 1st request, closes on others */
};

struct srv {
	int		 lfd;
	int		 port;
	SSL_CTX		*ctx;		/* NULL: plain TCP */
	atomic_int	 mode;
	atomic_int	 stop;
	atomic_int	 accepted;
	atomic_int	 open;
	atomic_int	 maxopen;
	atomic_int	 requests;
	pthread_t	 acceptor;
	pthread_t	 threads[MAX_THREADS];
	int		 nthreads;	/* acceptor's; read after its join */
	pthread_mutex_t	 mu;
	char		 lastreq[8192];	/* under mu */
};

struct sconn {
	struct srv	*s;
	int		 fd;
	SSL		*ssl;
};

struct result {
	int		 called;
	int		 status;
	char		 body[256];
	size_t		 len;
	const char	*err;
	double		 at;
};

static struct {
	struct ev_loop	*loop;
	struct srv	 srv;
	int		 srv_on;
	int		 ndone;
	struct result	 res[MAX_RESULTS];
	char		 dir[64];
	char		 ca[128], otherca[128], cert[128], key[128];
	char		 wcert[128], wkey[128];	/* for wrong.example */
	int		 wrong;		/* the next TLS server uses wcert */
	const char	*raw;		/* M_RAW's and M_TRICKLE's answer */
	int		 raw_close;
} T;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* ------------------------------------------------------------------ */
/* The server */

static ssize_t
s_read(struct sconn *sc, char *buf, size_t len)
{
	ssize_t	 n;
	int	 rv;

	for (;;) {
		if (atomic_load(&sc->s->stop))
			return (-1);
		if (sc->ssl != NULL) {
			rv = SSL_read(sc->ssl, buf, (int)len);
			if (rv > 0)
				return (rv);
			if (SSL_get_error(sc->ssl, rv) == SSL_ERROR_WANT_READ)
				continue;
			return (rv == 0 ? 0 : -1);
		}
		n = recv(sc->fd, buf, len, 0);
		if (n >= 0)
			return (n);
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return (-1);
	}
}

static void
s_write(struct sconn *sc, const char *buf, size_t len)
{
	if (sc->ssl != NULL)
		(void)SSL_write(sc->ssl, buf, (int)len);
	else
		(void)send(sc->fd, buf, len, MSG_NOSIGNAL);
}

static void
s_printf(struct sconn *sc, const char *fmt, ...)
{
	char	 buf[8192];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s_write(sc, buf, (size_t)n);
}

/* Reads one request into buf; returns its length, or -1 (EOF, stop). */
static ssize_t
s_request(struct sconn *sc, char *buf, size_t size, size_t *bodyoff)
{
	size_t	 len = 0, clen = 0;
	char	*end, *cl;
	ssize_t	 n;

	for (;;) {
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (len + 1 >= size || (n = s_read(sc, buf + len,
		    size - len - 1)) <= 0)
			return (-1);
		len += (size_t)n;
	}
	*bodyoff = (size_t)(end + 4 - buf);
	if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL && cl < end)
		clen = strtoul(cl + 17, NULL, 10);
	while (len < *bodyoff + clen) {
		if (len + 1 >= size || (n = s_read(sc, buf + len,
		    size - len - 1)) <= 0)
			return (-1);
		len += (size_t)n;
	}
	buf[len] = '\0';
	return ((ssize_t)len);
}

static void
s_answer(struct sconn *sc, int mode, const char *body, size_t blen)
{
	static char	 huge[100000];

	switch (mode) {
	case M_SLOW:
		usleep(100 * 1000);
		/* FALLTHROUGH */
	case M_CL:
	case M_CLOSE_IDLE:
	case M_DROP_SECOND:
	case M_ONLY_FIRST:
		s_printf(sc, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		    "X-Test: 1\r\n\r\necho:%.*s", blen + 5, (int)blen, body);
		break;
	case M_CONN_CLOSE:
		s_printf(sc, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		    "Content-Length: %zu\r\n\r\necho:%.*s", blen + 5,
		    (int)blen, body);
		break;
	case M_CHUNKED:
		s_printf(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
		    "\r\n\r\n5;ext=1\r\necho:\r\n%zx\r\n%.*s\r\n0\r\n"
		    "X-Trailer: yes\r\n\r\n", blen, (int)blen, body);
		break;
	case M_500:
		s_printf(sc, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Length: 4\r\n\r\noops");
		break;
	case M_RAW:
		s_write(sc, T.raw, strlen(T.raw));
		break;
	case M_TRICKLE:
		for (; *T.raw != '\0' && !atomic_load(&sc->s->stop); T.raw++) {
			s_write(sc, T.raw, 1);
			usleep(2000);
		}
		break;
	case M_HUGE:
		memset(huge, 'x', sizeof(huge));
		s_printf(sc, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
		    sizeof(huge));
		s_write(sc, huge, sizeof(huge));
		break;
	}
}

static void *
s_conn(void *arg)
{
	struct sconn	*sc = arg;
	struct srv	*s = sc->s;
	char		 buf[8192];
	size_t		 bodyoff;
	ssize_t		 len;
	int		 n, mode, rv;

	if (sc->ssl != NULL) {
		while ((rv = SSL_accept(sc->ssl)) != 1 &&
		    SSL_get_error(sc->ssl, rv) == SSL_ERROR_WANT_READ &&
		    !atomic_load(&s->stop))
			continue;
		if (rv != 1)
			goto out;
	}
	for (n = 1; (len = s_request(sc, buf, sizeof(buf), &bodyoff)) >= 0;
	    n++) {
		atomic_fetch_add(&s->requests, 1);
		pthread_mutex_lock(&s->mu);
		memcpy(s->lastreq, buf, (size_t)len + 1);
		pthread_mutex_unlock(&s->mu);
		mode = atomic_load(&s->mode);
		if (mode == M_SILENT)
			continue;
		if (mode == M_DROP_SECOND && n >= 2)
			break;
		if (mode == M_ONLY_FIRST && atomic_load(&s->requests) > 1)
			break;
		s_answer(sc, mode, buf + bodyoff, (size_t)len - bodyoff);
		if (mode == M_CONN_CLOSE || (mode == M_RAW && T.raw_close))
			break;
		if (mode == M_CLOSE_IDLE) {
			usleep(50 * 1000);
			break;
		}
	}
out:
	atomic_fetch_sub(&s->open, 1);
	SSL_free(sc->ssl);
	(void)close(sc->fd);
	free(sc);
	return (NULL);
}

static void *
s_accept(void *arg)
{
	struct srv	*s = arg;
	struct sconn	*sc;
	struct timeval	 tv = { 0, 20 * 1000 };
	int		 fd, o, m;

	while (!atomic_load(&s->stop)) {
		if ((fd = accept(s->lfd, NULL, NULL)) == -1)
			continue;	/* SO_RCVTIMEO on lfd: EAGAIN */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		atomic_fetch_add(&s->accepted, 1);
		o = atomic_fetch_add(&s->open, 1) + 1;
		while ((m = atomic_load(&s->maxopen)) < o &&
		    !atomic_compare_exchange_weak(&s->maxopen, &m, o))
			continue;
		sc = calloc(1, sizeof(*sc));
		if (sc == NULL || s->nthreads == MAX_THREADS)
			abort();
		sc->s = s;
		sc->fd = fd;
		if (s->ctx != NULL) {
			sc->ssl = SSL_new(s->ctx);
			SSL_set_fd(sc->ssl, fd);
		}
		if (pthread_create(&s->threads[s->nthreads], NULL, s_conn,
		    sc) != 0)
			abort();
		s->nthreads++;
	}
	return (NULL);
}

static void
srv_start_at(const char *addr, int mode, int tls)
{
	struct srv		*s = &T.srv;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sl;
	struct timeval		 tv = { 0, 20 * 1000 };
	int			 one = 1;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	atomic_store(&s->mode, mode);
	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
		sl = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
		sl = sizeof(*sin);
	}
	s->lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	(void)setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(s->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(s->lfd, (struct sockaddr *)&ss, sl) == -1 &&
	    ss.ss_family == AF_INET6) {
		(void)close(s->lfd);
		skip();			/* no IPv6 loopback here */
	}
	assert_int_equal(listen(s->lfd, 64), 0);
	sl = sizeof(ss);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&ss, &sl),
	    0);
	s->port = ntohs(ss.ss_family == AF_INET6 ? sin6->sin6_port :
	    sin->sin_port);
	if (tls) {
		s->ctx = SSL_CTX_new(TLS_server_method());
		assert_non_null(s->ctx);
		assert_int_equal(SSL_CTX_use_certificate_chain_file(s->ctx,
		    T.wrong ? T.wcert : T.cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ctx,
		    T.wrong ? T.wkey : T.key, SSL_FILETYPE_PEM), 1);
	}
	assert_int_equal(pthread_create(&s->acceptor, NULL, s_accept, s), 0);
	T.srv_on = 1;
}

static void
srv_start(int mode, int tls)
{
	srv_start_at("127.0.0.1", mode, tls);
}

static void
srv_stop(void)
{
	struct srv	*s = &T.srv;
	int		 i;

	if (!T.srv_on)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->acceptor, NULL);
	for (i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	(void)close(s->lfd);
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	T.srv_on = 0;
}

/* ------------------------------------------------------------------ */
/* The client side */

static void
done_cb(void *arg, int status, const char *body, size_t len,
    const char *err)
{
	struct result	*r = arg;

	r->called++;
	r->status = status;
	r->len = len;
	r->err = err;
	r->at = now();
	if (body != NULL)
		snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
	T.ndone++;
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Runs the loop until n callbacks in all happened or secs passed. */
static void
run_until(int n, double secs)
{
	ev_timer	 t;
	double		 end = now() + secs;

	ev_timer_init(&t, deadline_cb, secs, 0.);
	ev_timer_start(T.loop, &t);
	while (T.ndone < n && now() < end)
		ev_run(T.loop, EVRUN_ONCE);
	ev_timer_stop(T.loop, &t);
}

static void
run_for(double secs)
{
	run_until(INT32_MAX, secs);
}

/* Runs the loop until the server has read n requests or secs passed (a
 * loaded machine, or a sanitizer build, may need far longer than usual). */
static void
run_requests(int n, double secs)
{
	double	 end = now() + secs;

	while (atomic_load(&T.srv.requests) < n && now() < end)
		run_for(0.01);
}

static struct ph_client *
client(const char *scheme, const char *host, const char *path,
    const char *ca, unsigned max_conns, double timeout)
{
	struct ph_config	 cfg;
	struct ph_client	*cl;
	const char		*err = NULL;
	char			 url[256];

	snprintf(url, sizeof(url), "%s://%s:%d%s", scheme, host, T.srv.port,
	    path);
	cfg.pc_url = url;
	cfg.pc_ca_file = ca;
	cfg.pc_max_conns = max_conns;
	cfg.pc_timeout = timeout;
	cl = ph_new(T.loop, &cfg, &err);
	if (cl == NULL)
		fail_msg("ph_new(%s): %s", url, err);
	return (cl);
}

static void
post(struct ph_client *cl, const char *body, int i)
{
	assert_int_equal(ph_post(cl, "application/json", body, strlen(body),
	    done_cb, &T.res[i]), 0);
}

static int
setup(void **state)
{
	memset(T.res, 0, sizeof(T.res));
	T.ndone = 0;
	T.wrong = 0;
	T.raw = NULL;
	T.raw_close = 0;
	T.loop = ev_loop_new(EVFLAG_AUTO);
	return (T.loop == NULL ? -1 : 0);
}

static int
teardown(void **state)
{
	srv_stop();
	ev_loop_destroy(T.loop);
	return (0);
}

/* ------------------------------------------------------------------ */
/* Tests */

static void
test_content_length(void **state)
{
	struct ph_client	*cl;
	char			 host[64];

	srv_start(M_CL, 0);
	cl = client("http", "127.0.0.1", "/push/v1?x=1", NULL, 1, 2.0);
	post(cl, "{\"a\":1}", 0);
	assert_int_equal(T.ndone, 0);		/* never from ph_post */
	assert_int_equal(ph_queued(cl), 1);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, 200);
	assert_null(T.res[0].err);
	assert_string_equal(T.res[0].body, "echo:{\"a\":1}");
	assert_int_equal(T.res[0].len, 12);
	assert_int_equal(ph_inflight(cl), 0);
	assert_int_equal(ph_queued(cl), 0);
	pthread_mutex_lock(&T.srv.mu);
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", T.srv.port);
	assert_non_null(strstr(T.srv.lastreq,
	    "POST /push/v1?x=1 HTTP/1.1\r\n"));
	assert_ptr_equal(strstr(T.srv.lastreq, "POST "), T.srv.lastreq);
	assert_non_null(strstr(T.srv.lastreq, host));
	assert_non_null(strstr(T.srv.lastreq,
	    "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(T.srv.lastreq, "\r\nContent-Length: 7\r\n"));
	assert_non_null(strstr(T.srv.lastreq, "\r\nUser-Agent: routingd/"));
	assert_non_null(strstr(T.srv.lastreq, "\r\n\r\n{\"a\":1}"));
	pthread_mutex_unlock(&T.srv.mu);
	ph_free(cl);
}

static void
test_chunked(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CHUNKED, 0);
	cl = client("http", "127.0.0.1", "", NULL, 1, 2.0);
	post(cl, "hello chunks", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 200);
	assert_null(T.res[0].err);
	assert_string_equal(T.res[0].body, "echo:hello chunks");
	assert_int_equal(T.res[0].len, 17);
	/* the connection is reusable after the trailer */
	post(cl, "again", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[1].status, 200);
	assert_string_equal(T.res[1].body, "echo:again");
	assert_int_equal(atomic_load(&T.srv.accepted), 1);
	pthread_mutex_lock(&T.srv.mu);
	assert_ptr_equal(strstr(T.srv.lastreq, "POST / HTTP/1.1\r\n"),
	    T.srv.lastreq);
	pthread_mutex_unlock(&T.srv.mu);
	ph_free(cl);
}

static void
test_keepalive(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CL, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 4, 2.0);
	post(cl, "one", 0);
	run_until(1, WAIT);
	post(cl, "two", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[0].status, 200);
	assert_int_equal(T.res[1].status, 200);
	assert_string_equal(T.res[1].body, "echo:two");
	assert_int_equal(atomic_load(&T.srv.accepted), 1);
	assert_int_equal(atomic_load(&T.srv.requests), 2);
	ph_free(cl);
}

static void
test_idle_closed(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CLOSE_IDLE, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "one", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 200);
	run_for(0.2);			/* the server closes meanwhile */
	post(cl, "two", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[1].called, 1);
	assert_int_equal(T.res[1].status, 200);
	assert_string_equal(T.res[1].body, "echo:two");
	assert_int_equal(atomic_load(&T.srv.accepted), 2);
	ph_free(cl);
}

/* The server drops the 2nd request on a kept-alive connection unanswered:
 * the client sends it once more on a new connection. */
static void
test_retry_reused(void **state)
{
	struct ph_client	*cl;

	srv_start(M_DROP_SECOND, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "one", 0);
	run_until(1, WAIT);
	post(cl, "two", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[1].called, 1);
	assert_int_equal(T.res[1].status, 200);
	assert_string_equal(T.res[1].body, "echo:two");
	assert_int_equal(atomic_load(&T.srv.accepted), 2);
	assert_int_equal(atomic_load(&T.srv.requests), 3);
	/* the third goes out on the second connection, which drops it too;
	 * its retry on a third connection succeeds */
	post(cl, "three", 2);
	run_until(3, WAIT);
	assert_int_equal(T.res[2].status, 200);
	assert_int_equal(atomic_load(&T.srv.accepted), 3);
	ph_free(cl);
}

static void
test_conn_close(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CONN_CLOSE, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "one", 0);
	run_until(1, WAIT);
	post(cl, "two", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[0].status, 200);
	assert_int_equal(T.res[1].status, 200);
	assert_int_equal(atomic_load(&T.srv.accepted), 2);
	assert_int_equal(atomic_load(&T.srv.requests), 2);
	ph_free(cl);
}

static void
test_500(void **state)
{
	struct ph_client	*cl;

	srv_start(M_500, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 500);
	assert_null(T.res[0].err);
	assert_string_equal(T.res[0].body, "oops");
	ph_free(cl);
}

static void
test_too_large(void **state)
{
	struct ph_client	*cl;

	srv_start(M_HUGE, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, -1);
	assert_string_equal(T.res[0].err, "answer too large");
	ph_free(cl);
}

static void
test_no_listener(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CL, 0);
	srv_stop();			/* its port is now closed */
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, -1);
	assert_string_equal(T.res[0].err, "connect failed");
	assert_int_equal(ph_inflight(cl), 0);
	ph_free(cl);
}

static void
test_timeout(void **state)
{
	struct ph_client	*cl;
	double			 t0, dt;

	srv_start(M_SILENT, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 0.3);
	t0 = now();
	post(cl, "x", 0);
	run_until(1, WAIT);
	dt = T.res[0].at - t0;
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, -1);
	assert_string_equal(T.res[0].err, "timed out");
	assert_true(dt >= 0.29);
	assert_true(dt < 1.0);
	assert_int_equal(atomic_load(&T.srv.requests), 1);
	run_for(0.1);
	assert_int_equal(T.res[0].called, 1);
	ph_free(cl);
}

static void
test_max_conns(void **state)
{
	struct ph_client	*cl;
	char			 b[32];
	int			 i;

	srv_start(M_SLOW, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 2, 3.0);
	for (i = 0; i < 5; i++) {
		snprintf(b, sizeof(b), "n%d", i);
		post(cl, b, i);
	}
	assert_int_equal(ph_queued(cl), 5);
	assert_int_equal(ph_inflight(cl), 0);
	ev_run(T.loop, EVRUN_NOWAIT);
	assert_int_equal(ph_inflight(cl), 2);
	assert_int_equal(ph_queued(cl), 3);
	run_until(5, 5.0);
	assert_int_equal(T.ndone, 5);
	for (i = 0; i < 5; i++) {
		snprintf(b, sizeof(b), "echo:n%d", i);
		assert_int_equal(T.res[i].called, 1);
		assert_int_equal(T.res[i].status, 200);
		assert_string_equal(T.res[i].body, b);
	}
	assert_int_equal(atomic_load(&T.srv.maxopen), 2);
	assert_int_equal(atomic_load(&T.srv.accepted), 2);
	assert_int_equal(atomic_load(&T.srv.requests), 5);
	ph_free(cl);
}

static void
test_free_inflight(void **state)
{
	struct ph_client	*cl;

	srv_start(M_SILENT, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 2, 1.0);
	post(cl, "a", 0);
	post(cl, "b", 1);
	post(cl, "c", 2);
	run_requests(2, WAIT);
	run_for(0.1);			/* no third one: both are in flight */
	assert_int_equal(atomic_load(&T.srv.requests), 2);
	assert_int_equal(ph_inflight(cl), 2);
	assert_int_equal(ph_queued(cl), 1);
	ph_free(cl);
	run_for(1.3);			/* past every timeout */
	assert_int_equal(T.ndone, 0);
}

/* done may free the client; the other requests then never complete. */
static struct ph_client *free_me;

static void
free_cb(void *arg, int status, const char *body, size_t len,
    const char *err)
{
	done_cb(arg, status, body, len, err);
	ph_free(free_me);
	free_me = NULL;
}

static void
test_free_from_done(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CL, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 1.0);
	free_me = cl;
	assert_int_equal(ph_post(cl, "text/plain", "a", 1, free_cb,
	    &T.res[0]), 0);
	post(cl, "b", 1);
	run_until(1, WAIT);
	run_for(0.3);			/* and "b" never completes */
	assert_int_equal(T.ndone, 1);
	assert_int_equal(T.res[0].status, 200);
	assert_null(free_me);
}

static void
test_bad_urls(void **state)
{
	static const char *bad[] = {
		"ftp://example.com/", "http://", "http:///x", "example.com",
		"http://user@example.com/", "http://user:pw@example.com/",
		"http://example.com:0/", "http://example.com:65536/",
		"http://example.com:x/", "http://example.com:/",
		"http://[::1/", "http://[zz::1]/", "http://[::1]x/",
		"http://exa mple.com/", "http://example.com/a b",
		"http://example.com/#frag", "http://ex!ample.com/", NULL
	};
	static const char *good[] = {
		"http://example.com", "HTTPS://example.com/",
		"http://[::1]:8080/x?y",
		"http://127.0.0.1:1/", "http://example.com?q=1", NULL
	};
	struct ph_config	 cfg = { NULL, NULL, 1, 1.0 };
	struct ph_client	*cl;
	const char		*err;
	int			 i;

	for (i = 0; bad[i] != NULL; i++) {
		cfg.pc_url = bad[i];
		err = NULL;
		cl = ph_new(T.loop, &cfg, &err);
		if (cl != NULL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(err);
	}
	for (i = 0; good[i] != NULL; i++) {
		cfg.pc_url = good[i];
		if ((cl = ph_new(T.loop, &cfg, &err)) == NULL)
			fail_msg("refused %s: %s", good[i], err);
		ph_free(cl);
	}
	cfg.pc_url = "http://example.com/";
	cfg.pc_max_conns = 0;
	assert_null(ph_new(T.loop, &cfg, &err));
	cfg.pc_max_conns = 1;
	cfg.pc_timeout = 0;
	assert_null(ph_new(T.loop, &cfg, &err));
	cfg.pc_timeout = 1.0;
	cfg.pc_url = "https://example.com/";
	cfg.pc_ca_file = "/nonexistent/ca.pem";
	err = NULL;
	assert_null(ph_new(T.loop, &cfg, &err));
	assert_non_null(strstr(err, "CA file"));
	cfg.pc_ca_file = T.ca;
	assert_non_null(cl = ph_new(T.loop, &cfg, &err));
	ph_free(cl);
}

static void
test_post_args(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CL, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 1.0);
	errno = 0;
	assert_int_equal(ph_post(cl, "text/plain\r\nX: y", "a", 1, done_cb,
	    &T.res[0]), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ph_post(cl, NULL, "a", 1, done_cb, &T.res[0]), -1);
	assert_int_equal(ph_queued(cl), 0);
	/* an empty body is fine */
	assert_int_equal(ph_post(cl, "text/plain", NULL, 0, done_cb,
	    &T.res[0]), 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 200);
	assert_string_equal(T.res[0].body, "echo:");
	ph_free(cl);
}

static void
test_queue_bound(void **state)
{
	struct ph_client	*cl;
	int			 i;

	srv_start(M_CL, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 1.0);
	for (i = 0; i < PH_QUEUE_MAX; i++)
		assert_int_equal(ph_post(cl, "text/plain", "a", 1, done_cb,
		    &T.res[0]), 0);
	errno = 0;
	assert_int_equal(ph_post(cl, "text/plain", "a", 1, done_cb,
	    &T.res[0]), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(ph_queued(cl), PH_QUEUE_MAX);
	ph_free(cl);
	assert_int_equal(T.ndone, 0);
}

static void
test_ipv6(void **state)
{
	struct ph_client	*cl;
	char			 host[64];

	srv_start_at("::1", M_CL, 0);
	cl = client("http", "[::1]", "/v6", NULL, 1, 2.0);
	post(cl, "six", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 200);
	assert_string_equal(T.res[0].body, "echo:six");
	snprintf(host, sizeof(host), "\r\nHost: [::1]:%d\r\n", T.srv.port);
	pthread_mutex_lock(&T.srv.mu);
	assert_non_null(strstr(T.srv.lastreq, host));
	pthread_mutex_unlock(&T.srv.mu);
	ph_free(cl);
}

/* One raw answer to one post: its status, body (or error). */
static void
raw_case(const char *raw, int close_after, int status, const char *body,
    const char *err)
{
	struct ph_client	*cl;

	T.raw = raw;
	T.raw_close = close_after;
	T.ndone = 0;
	memset(&T.res[0], 0, sizeof(T.res[0]));
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	if (T.res[0].status != status)
		fail_msg("%s: status %d (%s), not %d", raw, T.res[0].status,
		    T.res[0].err ? T.res[0].err : "", status);
	if (err != NULL)
		assert_string_equal(T.res[0].err, err);
	else {
		assert_null(T.res[0].err);
		assert_string_equal(T.res[0].body, body);
	}
	ph_free(cl);
}

static void
test_answers(void **state)
{
	srv_start(M_RAW, 0);
	raw_case("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
	    "content-length:  2 \r\n\r\nok", 0, 201, "ok", NULL);
	raw_case("HTTP/1.1 204 No Content\r\n\r\n", 0, 204, "", NULL);
	raw_case("HTTP/1.1 200 OK\r\n\r\nuntil the end", 1, 200,
	    "until the end", NULL);
	raw_case("HTTP/1.0 202 Accepted\r\nContent-Length: 1\r\n\r\ny", 0,
	    202, "y", NULL);
	raw_case("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n", 0, 200, "abc", NULL);
	raw_case("HELLO\r\n\r\n", 1, -1, NULL, "bad answer");
	raw_case("HTTP/1.1 2x0 OK\r\n\r\n", 1, -1, NULL, "bad answer");
	raw_case("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\nabc\r\n0\r\n\r\n", 1, -1, NULL, "bad answer");
	raw_case("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 1,
	    -1, NULL, "bad answer");
	raw_case("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 1,
	    -1, NULL, "bad answer");
	raw_case("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Content-Length: 1\r\n\r\nx", 1, -1, NULL, "bad answer");
	raw_case("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999"
	    "\r\n\r\n", 1, -1, NULL, "answer too large");
	raw_case("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "20000\r\n", 1, -1, NULL, "answer too large");
	raw_case("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", 1, -1, NULL,
	    "bad answer");
}

/* The answer arrives a byte at a time: every split point parses. */
static void
test_trickle(void **state)
{
	struct ph_client	*cl;

	srv_start(M_TRICKLE, 0);
	T.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4;a=b\r\nslow\r\n1\r\n!\r\n0\r\nT: 1\r\n\r\n";
	cl = client("http", "127.0.0.1", "/", NULL, 1, 3.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 200);
	assert_string_equal(T.res[0].body, "slow!");
	ph_free(cl);
}

/* A request that fails on a new connection is not retried, and a retry
 * is not retried. */
static void
test_no_second_retry(void **state)
{
	struct ph_client	*cl;

	srv_start(M_ONLY_FIRST, 0);
	cl = client("http", "127.0.0.1", "/", NULL, 1, 2.0);
	post(cl, "one", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].status, 200);
	post(cl, "two", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[1].called, 1);
	assert_int_equal(T.res[1].status, -1);
	assert_string_equal(T.res[1].err, "connection closed");
	assert_int_equal(atomic_load(&T.srv.requests), 3);
	assert_int_equal(atomic_load(&T.srv.accepted), 2);
	/* a new connection that fails at once: no retry */
	post(cl, "three", 2);
	run_until(3, WAIT);
	assert_int_equal(T.res[2].status, -1);
	assert_string_equal(T.res[2].err, "connection closed");
	assert_int_equal(atomic_load(&T.srv.requests), 4);
	assert_int_equal(atomic_load(&T.srv.accepted), 3);
	ph_free(cl);
}

/* ------------------------------------------------------------------ */
/* TLS */

static void
test_tls_ok(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CL, 1);
	cl = client("https", "localhost", "/push", T.ca, 1, 2.0);
	post(cl, "secret", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	if (T.res[0].err != NULL)
		fail_msg("TLS: %s", T.res[0].err);
	assert_int_equal(T.res[0].status, 200);
	assert_string_equal(T.res[0].body, "echo:secret");
	post(cl, "again", 1);
	run_until(2, WAIT);
	assert_int_equal(T.res[1].status, 200);
	assert_string_equal(T.res[1].body, "echo:again");
	assert_int_equal(atomic_load(&T.srv.accepted), 1);
	ph_free(cl);
}

static void
test_tls_ip(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CHUNKED, 1);
	cl = client("https", "127.0.0.1", "/", T.ca, 1, 2.0);
	post(cl, "by address", 0);
	run_until(1, WAIT);
	if (T.res[0].err != NULL)
		fail_msg("TLS: %s", T.res[0].err);
	assert_int_equal(T.res[0].status, 200);
	assert_string_equal(T.res[0].body, "echo:by address");
	ph_free(cl);
}

static void
test_tls_other_ca(void **state)
{
	struct ph_client	*cl;

	srv_start(M_CL, 1);
	cl = client("https", "localhost", "/", T.otherca, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, -1);
	assert_non_null(T.res[0].err);
	assert_non_null(strstr(T.res[0].err, "certificate verify"));
	assert_int_equal(atomic_load(&T.srv.requests), 0);
	ph_free(cl);
}

/* The certificate names localhost and 127.0.0.1, not 127.0.0.2 (also on
 * the loopback interface): the address check fails. */
static void
test_tls_wrong_name(void **state)
{
	struct ph_client	*cl;

	srv_start_at("127.0.0.2", M_CL, 1);
	cl = client("https", "127.0.0.2", "/", T.ca, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, -1);
	assert_non_null(T.res[0].err);
	assert_string_equal(T.res[0].err, "TLS handshake failed: "
	    "certificate verify failed (name mismatch)");
	assert_int_equal(atomic_load(&T.srv.requests), 0);
	ph_free(cl);
}

/* A certificate of the right CA for another host name. */
static void
test_tls_wrong_dns(void **state)
{
	struct ph_client	*cl;

	T.wrong = 1;
	srv_start(M_CL, 1);
	cl = client("https", "localhost", "/", T.ca, 1, 2.0);
	post(cl, "x", 0);
	run_until(1, WAIT);
	assert_int_equal(T.res[0].called, 1);
	assert_int_equal(T.res[0].status, -1);
	assert_non_null(T.res[0].err);
	assert_string_equal(T.res[0].err, "TLS handshake failed: "
	    "certificate verify failed (name mismatch)");
	assert_int_equal(atomic_load(&T.srv.requests), 0);
	ph_free(cl);
}

static int
sh(const char *fmt, ...)
{
	char	 cmd[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return (system(cmd));
}

/* Makes the CA, the server certificate and the other CA in T.dir. */
static int
make_certs(void)
{
	const char	*d = T.dir;

	snprintf(T.dir, sizeof(T.dir), "/tmp/test_pushhttp.XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return (-1);
	snprintf(T.ca, sizeof(T.ca), "%s/ca.pem", d);
	snprintf(T.otherca, sizeof(T.otherca), "%s/other.pem", d);
	snprintf(T.cert, sizeof(T.cert), "%s/srv.pem", d);
	snprintf(T.key, sizeof(T.key), "%s/srv.key", d);
	snprintf(T.wcert, sizeof(T.wcert), "%s/wrong.pem", d);
	snprintf(T.wkey, sizeof(T.wkey), "%s/wrong.key", d);
	if (sh("cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n"
	    "basicConstraints=CA:FALSE\\n' >ext.cnf && printf "
	    "'subjectAltName=DNS:wrong.example\\n' >wext.cnf", d) != 0)
		return (-1);
	if (sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
	    "-days 2 -subj '/CN=pushhttp test CA' >/dev/null 2>&1", d) != 0)
		return (-1);
	if (sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout other.key "
	    "-out other.pem -days 2 -subj '/CN=pushhttp other CA' "
	    ">/dev/null 2>&1", d) != 0)
		return (-1);
	if (sh("cd %s && openssl req -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
	    "-subj /CN=localhost >/dev/null 2>&1 && openssl x509 -req "
	    "-in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	    "-out srv.pem -days 2 -extfile ext.cnf >/dev/null 2>&1", d) != 0)
		return (-1);
	if (sh("cd %s && openssl req -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout wrong.key "
	    "-out wrong.csr -subj /CN=wrong.example >/dev/null 2>&1 && "
	    "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out wrong.pem -days 2 -extfile wext.cnf "
	    ">/dev/null 2>&1", d) != 0)
		return (-1);
	return (0);
}

#define TEST(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_content_length),
		TEST(test_chunked),
		TEST(test_keepalive),
		TEST(test_idle_closed),
		TEST(test_retry_reused),
		TEST(test_conn_close),
		TEST(test_500),
		TEST(test_too_large),
		TEST(test_no_listener),
		TEST(test_timeout),
		TEST(test_max_conns),
		TEST(test_free_inflight),
		TEST(test_free_from_done),
		TEST(test_bad_urls),
		TEST(test_ipv6),
		TEST(test_answers),
		TEST(test_trickle),
		TEST(test_no_second_retry),
		TEST(test_post_args),
		TEST(test_queue_bound),
		TEST(test_tls_ok),
		TEST(test_tls_ip),
		TEST(test_tls_other_ca),
		TEST(test_tls_wrong_name),
		TEST(test_tls_wrong_dns),
	};
	int	 rv;

	(void)signal(SIGPIPE, SIG_IGN);
	if (make_certs() == -1) {
		fprintf(stderr, "test_pushhttp: openssl(1) could not make the "
		    "test certificates in %s\n", T.dir);
		return (1);
	}
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	(void)sh("rm -rf %s", T.dir);
	return (rv);
}
