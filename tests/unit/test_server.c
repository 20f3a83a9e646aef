/*
 * test_server.c: unit tests of server.c (with http.c) over real loopback
 * TCP sockets in one process.  Each test binds 127.0.0.1:0, starts a
 * server with the handler below on a private libev loop, drives client
 * sockets (non-blocking) and turns the loop with EVRUN_NOWAIT until the
 * answers arrive, bounded by time.  TLS tests make a self-signed
 * certificate and speak through OpenSSL clients.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memmem(3); configure passes it too */
#endif

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "server.h"
#include "tls.h"

#define WAIT		3.0		/* s: longest wait for an event */
#define CLIENT_BUF	(4 * 1024 * 1024)
#define MAX_HELD	16
#define MAX_RESP	80
#define MAX_TICKETS	80

struct client {
	int	 fd;
	char	*buf;
	size_t	 len;
	int	 eof;			/* EOF or reset seen */
};

struct resp {
	int		 status;
	const char	*head;		/* into the client buffer */
	size_t		 head_len;
	const char	*body;
	size_t		 body_len;
};

/* One test's world; reset by setup(). */
static struct {
	struct ev_loop		*loop;
	int			 lfd;
	struct sockaddr_in	 addr;
	struct server		*srv;
	struct server_config	 cfg;
	struct shm_slot		 slot;
	int			 async;		/* hold every request */
	int			 ncalls;
	char			 paths[MAX_HELD][64];
	struct server_conn	*held[MAX_HELD];
	int			 nheld;
	struct server_ticket	*tickets[MAX_TICKETS];	/* /defer */
	char			 tpaths[MAX_TICKETS][64];
	int			 ntickets;
	char			*big;		/* body of /big answers */
	size_t			 big_len;
	const char		*expect_body;	/* checked by the handler */
	size_t			 expect_len;
	int			 body_ok;
	int			 idle_calls;
	int			 answered;	/* set before the held answer */
	int			 idle_after_answer;
	int			 detached_fd;
	SSL			*detached_ssl;	/* NULL: a plain port */
	SSL_CTX			*tls_cctx;	/* TLS clients' context */
	SSL			*tls[8];	/* TLS clients */
	int			 ntls;
	char			 rest[64];
	size_t			 restlen;
	struct client		 clients[8];	/* closed by teardown */
	int			 nclients;
	int			 fill[64];	/* fds filling the table */
	int			 nfill;
	struct rlimit		 old_nofile;
	int			 nofile_low;	/* restore old_nofile */
} T;

/* ------------------------------------------------------------------ */
/* Harness                                                             */
/* ------------------------------------------------------------------ */

static double
now_s(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
handler(struct server_conn *c, const struct http_request *req, void *arg)
{
	char		 out[256], *path = T.paths[T.ncalls % MAX_HELD];
	const char	*v;
	size_t		 n;
	int		 len;

	T.ncalls++;
	(void)snprintf(path, 64, "%.*s", (int)req->hr_path_len, req->hr_path);
	/* requests with X-Check carry T.expect_body */
	if ((v = http_header_get(req, "x-check", &n)) != NULL)
		T.body_ok = req->hr_body_len == T.expect_len &&
		    memcmp(req->hr_body, T.expect_body, T.expect_len) == 0 &&
		    n == 5 && memcmp(v, "12345", 5) == 0;
	if (strncmp(path, "/defer", 6) == 0) {	/* answered by the test */
		assert_true(T.ntickets < MAX_TICKETS);
		(void)snprintf(T.tpaths[T.ntickets], 64, "%.*s",
		    (int)req->hr_path_len, req->hr_path);
		T.tickets[T.ntickets] = server_conn_defer(c);
		assert_non_null(T.tickets[T.ntickets]);
		T.ntickets++;
		return;
	}
	if (T.async || strcmp(path, "/slow") == 0) {
		T.held[T.nheld++] = c;
		return;
	}
	if (strcmp(path, "/detach") == 0) {
		T.detached_ssl = (SSL *)&T;	/* detach must overwrite */
		T.detached_fd = server_conn_detach(c, T.rest, sizeof(T.rest),
		    &T.restlen, &T.detached_ssl);
		return;
	}
	if (strcmp(path, "/big") == 0) {
		server_respond(c, 200, "application/octet-stream", NULL, T.big,
		    T.big_len);
		return;
	}
	if (strcmp(path, "/error") == 0) {
		server_respond_error(c, 409, "conflict", "a \"quoted\" reason",
		    "X-Why: test\r\n");
		return;
	}
	len = snprintf(out, sizeof(out), "%s %zu", path, req->hr_body_len);
	server_respond(c, 200, "text/plain", NULL, out, (size_t)len);
}

static int
listen_socket(struct sockaddr_in *addr, int sndbuf)
{
	socklen_t	 sl = sizeof(*addr);
	int		 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sndbuf > 0)		/* inherited by accepted sockets */
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf)), 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &sl), 0);
	assert_int_equal(listen(fd, 16), 0);
	return (fd);
}

/* Start a server with T.cfg, listening socket send buffer sndbuf. */
static void
start(int sndbuf)
{
	T.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(T.loop);
	T.lfd = listen_socket(&T.addr, sndbuf);
	T.srv = server_new(T.loop, T.lfd, &T.cfg, handler, NULL, &T.slot);
	assert_non_null(T.srv);
}

static int
setup(void **state)
{
	memset(&T, 0, sizeof(T));
	T.lfd = -1;
	T.detached_fd = -1;
	T.cfg.sc_max_body = 1024 * 1024;
	T.cfg.sc_header_timeout = 5;
	T.cfg.sc_body_timeout = 5;
	T.cfg.sc_keepalive_timeout = 5;
	T.cfg.sc_write_timeout = 5;
	return (0);
}

static void	 client_close(struct client *);

/* Undo test_emfile's fd table filling. */
static void
fill_release(void)
{
	while (T.nfill > 0)
		(void)close(T.fill[--T.nfill]);
	if (T.nofile_low)
		(void)setrlimit(RLIMIT_NOFILE, &T.old_nofile);
	T.nofile_low = 0;
}

static int
teardown(void **state)
{
	int	 i;

	fill_release();
	for (i = 0; i < T.nclients; i++)
		client_close(&T.clients[i]);
	server_free(T.srv);
	SSL_CTX_free(T.cfg.sc_tls);
	while (T.ntls > 0)
		SSL_free(T.tls[--T.ntls]);
	SSL_CTX_free(T.tls_cctx);
	if (T.lfd >= 0)
		(void)close(T.lfd);
	if (T.detached_fd >= 0)
		(void)close(T.detached_fd);
	if (T.loop != NULL)
		ev_loop_destroy(T.loop);
	free(T.big);
	return (0);
}

/* Turn the loop for secs seconds (at least once). */
static void
pump(double secs)
{
	double	 end = now_s() + secs;

	do {
		ev_run(T.loop, EVRUN_NOWAIT);
		usleep(500);
	} while (now_s() < end);
}

/* A connected, non-blocking client socket (SO_RCVBUF rcvbuf if > 0). */
static struct client *
client_open(int rcvbuf)
{
	struct client	*cl;

	assert_true(T.nclients < 8);
	cl = &T.clients[T.nclients++];
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cl->fd >= 0);
	if (rcvbuf > 0)
		assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF,
		    &rcvbuf, sizeof(rcvbuf)), 0);
	cl->buf = malloc(CLIENT_BUF);
	assert_non_null(cl->buf);
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&T.addr,
	    sizeof(T.addr)), 0);
	assert_int_equal(fcntl(cl->fd, F_SETFL, O_NONBLOCK), 0);
	return (cl);
}

static void
client_close(struct client *cl)
{
	if (cl->fd >= 0)
		(void)close(cl->fd);
	cl->fd = -1;
	free(cl->buf);
	cl->buf = NULL;
}

/* Read what is there without blocking. */
static void
client_poll(struct client *cl)
{
	ssize_t	 n;

	while (!cl->eof && cl->len < CLIENT_BUF) {
		n = recv(cl->fd, cl->buf + cl->len, CLIENT_BUF - cl->len, 0);
		if (n > 0)
			cl->len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			cl->eof = 1;
		else
			break;
	}
}

/* Send all of p, turning the loop while the socket is full. */
static void
client_send_n(struct client *cl, const void *p, size_t n)
{
	const char	*q = p;
	double		 end = now_s() + WAIT;
	ssize_t		 w;

	while (n > 0) {
		assert_true(now_s() < end);
		w = send(cl->fd, q, n, MSG_NOSIGNAL);
		if (w > 0) {
			q += w;
			n -= (size_t)w;
		} else {
			assert_true(errno == EAGAIN);
			ev_run(T.loop, EVRUN_NOWAIT);
			client_poll(cl);
		}
	}
}

static void
client_send(struct client *cl, const char *s)
{
	client_send_n(cl, s, strlen(s));
}

/* Complete responses at the front of the client buffer. */
static size_t
parse_responses(struct client *cl, struct resp *r, size_t max, int bodyless)
{
	const char	*p = cl->buf, *end = cl->buf + cl->len, *e, *h;
	size_t		 n = 0, cl_len;

	while (n < max && (e = memmem(p, (size_t)(end - p), "\r\n\r\n", 4))
	    != NULL) {
		r[n].status = atoi(p + 9);
		r[n].head = p;
		r[n].head_len = (size_t)(e + 4 - p);
		cl_len = 0;
		h = memmem(p, r[n].head_len, "\r\nContent-Length: ", 18);
		if (h != NULL && !bodyless && r[n].status >= 200)
			cl_len = strtoul(h + 18, NULL, 10);
		if ((size_t)(end - e - 4) < cl_len)
			break;
		r[n].body = e + 4;
		r[n].body_len = cl_len;
		p = e + 4 + cl_len;
		n++;
	}
	return (n);
}

/* Turn the loop and read until want responses, EOF, or WAIT. */
static size_t
client_wait(struct client *cl, struct resp *r, size_t want)
{
	double	 end = now_s() + WAIT;
	size_t	 n;

	for (;;) {
		ev_run(T.loop, EVRUN_NOWAIT);
		client_poll(cl);
		n = parse_responses(cl, r, MAX_RESP, 0);
		if (n >= want || cl->eof || now_s() > end)
			return (n);
		usleep(500);
	}
}

/* Turn the loop until the client sees EOF; 1 if it did within secs. */
static int
client_wait_eof(struct client *cl, double secs)
{
	double	 end = now_s() + secs;

	while (!cl->eof && now_s() < end) {
		ev_run(T.loop, EVRUN_NOWAIT);
		client_poll(cl);
		usleep(500);
	}
	return (cl->eof);
}

static int
has_header(const struct resp *r, const char *line)
{
	return (memmem(r->head, r->head_len, line, strlen(line)) != NULL);
}

static int
body_is(const struct resp *r, const char *s)
{
	return (r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0);
}

static uint64_t
counter(_Atomic uint64_t *v)
{
	return (atomic_load(v));
}

/* Wait (turning the loop) until the server has n conns. */
static int
wait_nconns(unsigned n)
{
	double	 end = now_s() + WAIT;

	while (server_nconns(T.srv) != n && now_s() < end)
		pump(0.001);
	return (server_nconns(T.srv) == n);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void
test_get(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_int_equal(r[0].status, 200);
	assert_true(body_is(&r[0], "/hello 0"));
	assert_true(has_header(&r[0], "\r\nConnection: keep-alive\r\n"));
	assert_true(has_header(&r[0], "\r\nContent-Type: text/plain\r\n"));
	assert_true(has_header(&r[0], "\r\nServer: routingd\r\n"));
	assert_int_equal(server_nconns(T.srv), 1);
	assert_int_equal(counter(&T.slot.ss_conns), 1);
	assert_int_equal(counter(&T.slot.ss_conns_total), 1);
	assert_int_equal(counter(&T.slot.ss_requests), 1);
	assert_int_equal(counter(&T.slot.ss_bad_requests), 0);
	client_close(cl);
	assert_true(wait_nconns(0));
	assert_int_equal(counter(&T.slot.ss_conns), 0);
}

static void
test_keepalive_sequential(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	client_send(cl, "GET /two HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_true(body_is(&r[0], "/one 0"));
	assert_true(body_is(&r[1], "/two 0"));
	assert_int_equal(counter(&T.slot.ss_conns_total), 1);
	assert_int_equal(counter(&T.slot.ss_requests), 2);
	client_close(cl);
}

static void
test_pipelined(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	    "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
	    "GET /c HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 3), 3);
	assert_true(body_is(&r[0], "/a 0"));
	assert_true(body_is(&r[1], "/b 3"));
	assert_true(body_is(&r[2], "/c 0"));
	client_close(cl);
}

static void
test_async_pipelined(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	T.async = 1;
	start(0);
	cl = client_open(0);
	client_send(cl, "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.05);
	assert_int_equal(T.ncalls, 1);	/* the second waits */
	assert_int_equal(client_wait(cl, r, 1), 0);
	/* answer from outside any server callback: the second request is
	 * dispatched at once, and the first answer is corked behind it */
	server_respond(T.held[0], 200, NULL, NULL, "1st", 3);
	assert_int_equal(T.ncalls, 2);
	assert_string_equal(T.paths[1], "/second");
	assert_int_equal(client_wait(cl, r, 1), 0);
	server_respond(T.held[1], 200, NULL, NULL, "2nd", 3);
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_true(body_is(&r[0], "1st"));
	assert_true(body_is(&r[1], "2nd"));
	/* with nothing pipelined behind it an answer leaves at once */
	client_send(cl, "GET /third HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.05);
	assert_int_equal(T.ncalls, 3);
	server_respond(T.held[2], 200, NULL, NULL, "3rd", 3);
	assert_int_equal(client_wait(cl, r, 3), 3);
	assert_true(body_is(&r[2], "3rd"));
	assert_int_equal(counter(&T.slot.ss_requests), 3);
	client_close(cl);
}

static void
test_body_content_length(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	char		*body, head[256];
	size_t		 i, len = 300 * 1024;

	start(0);
	body = malloc(len);
	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)('a' + i % 26);
	T.expect_body = body;
	T.expect_len = len;
	cl = client_open(0);
	(void)snprintf(head, sizeof(head), "POST /upload HTTP/1.1\r\nHost: a\r\n"
	    "X-Check: 12345\r\nContent-Length: %zu\r\n\r\n", len);
	client_send(cl, head);
	client_send_n(cl, body, len);
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(T.body_ok, 1);
	assert_true(body_is(&r[0], "/upload 307200"));
	client_close(cl);
	free(body);
}

static void
test_body_chunked(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	T.expect_body = "hello, chunked world";
	T.expect_len = strlen(T.expect_body);
	start(0);
	cl = client_open(0);
	client_send(cl, "POST /c HTTP/1.1\r\nHost: a\r\nX-Check: 12345\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhel");
	pump(0.02);
	client_send(cl, "lo\r\n0f;ext=1\r\n, chunked world\r\n");
	pump(0.02);
	assert_int_equal(T.ncalls, 0);
	client_send(cl, "0\r\nX-Trailer: t\r\n\r\nGET /after HTTP/1.1\r\n"
	    "Host: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_int_equal(T.body_ok, 1);
	assert_true(body_is(&r[0], "/c 20"));
	assert_true(body_is(&r[1], "/after 0"));
	client_close(cl);
}

/* Many small chunks: the buffer grows and moves under the head. */
static void
test_body_chunked_large(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	char		*body, size[16];
	size_t		 i, len = 200 * 1000, step = 1000;

	body = malloc(len);
	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)('A' + i % 23);
	T.expect_body = body;
	T.expect_len = len;
	start(0);
	cl = client_open(0);
	client_send(cl, "POST /big-chunked HTTP/1.1\r\nHost: a\r\n"
	    "X-Check: 12345\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < len; i += step) {
		(void)snprintf(size, sizeof(size), "%zx\r\n", step);
		client_send(cl, size);
		client_send_n(cl, body + i, step);
		client_send(cl, "\r\n");
	}
	client_send(cl, "0\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(T.body_ok, 1);
	client_close(cl);
	free(body);
}

static void
expect_error_close(struct client *cl, int status, const char *code)
{
	struct resp	 r[MAX_RESP];
	char		 want[64];

	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_int_equal(r[0].status, status);
	assert_true(has_header(&r[0], "\r\nConnection: close\r\n"));
	assert_true(has_header(&r[0], "\r\nContent-Type: application/json\r\n"));
	(void)snprintf(want, sizeof(want), "{\"error\":\"%s\",", code);
	assert_true(r[0].body_len > strlen(want));
	assert_memory_equal(r[0].body, want, strlen(want));
	assert_true(client_wait_eof(cl, WAIT));
}

static void
test_413_from_length(void **state)
{
	struct client	*cl;

	T.cfg.sc_max_body = 1000;
	start(0);
	cl = client_open(0);
	/* only the head: the answer must not wait for the body */
	client_send(cl, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n"
	    "\r\n");
	expect_error_close(cl, 413, "too_large");
	assert_int_equal(T.ncalls, 0);
	assert_int_equal(counter(&T.slot.ss_bad_requests), 1);
	assert_int_equal(counter(&T.slot.ss_requests), 0);
	client_close(cl);
	assert_true(wait_nconns(0));
}

static void
test_413_chunked(void **state)
{
	struct client	*cl;

	T.cfg.sc_max_body = 10;
	start(0);
	cl = client_open(0);
	client_send(cl, "POST /x HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n");
	expect_error_close(cl, 413, "too_large");
	assert_int_equal(T.ncalls, 0);
	client_close(cl);
}

static void
test_431(void **state)
{
	struct client	*cl;
	char		*big;
	size_t		 len = HTTP_MAX_HEAD + 100;

	start(0);
	big = malloc(len + 1);
	assert_non_null(big);
	memset(big, 'v', len);
	memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 32);
	big[len] = '\0';
	cl = client_open(0);
	client_send(cl, big);
	expect_error_close(cl, 431, "header_too_large");
	assert_int_equal(counter(&T.slot.ss_bad_requests), 1);
	client_close(cl);
	free(big);
}

static void
test_smuggling(void **state)
{
	struct client	*cl;

	start(0);
	cl = client_open(0);
	client_send(cl, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n"
	    "Host: a\r\n\r\n");
	expect_error_close(cl, 400, "bad_request");
	assert_int_equal(T.ncalls, 0);
	client_close(cl);
}

static void
test_bad_version_and_coding(void **state)
{
	struct client	*cl;

	start(0);
	cl = client_open(0);
	client_send(cl, "GET / HTTP/2.0\r\nHost: a\r\n\r\n");
	expect_error_close(cl, 505, "version_not_supported");
	client_close(cl);
	cl = client_open(0);
	client_send(cl, "POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n");
	expect_error_close(cl, 501, "not_implemented");
	client_close(cl);
	assert_int_equal(counter(&T.slot.ss_bad_requests), 2);
}

static void
test_100_continue(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
	    "Expect: 100-continue\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_int_equal(r[0].status, 100);
	assert_int_equal(r[0].head_len, 25);
	assert_memory_equal(r[0].head, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	assert_int_equal(T.ncalls, 0);
	client_send(cl, "0123456789");
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_int_equal(r[1].status, 200);
	assert_true(body_is(&r[1], "/up 10"));
	client_close(cl);
}

static void
test_100_continue_rejected(void **state)
{
	struct client	*cl;

	T.cfg.sc_max_body = 100;
	start(0);
	cl = client_open(0);
	client_send(cl, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n"
	    "Expect: 100-continue\r\n\r\n");
	expect_error_close(cl, 413, "too_large");	/* and no 100 first */
	client_close(cl);
}

static void
test_header_timeout(void **state)
{
	struct client	*cl;
	double		 t0;
	int		 i;

	T.cfg.sc_header_timeout = 0.2;
	start(0);
	cl = client_open(0);
	t0 = now_s();
	client_send(cl, "GET / HTTP/1.1\r\n");
	/* trickling bytes does not push the deadline back */
	for (i = 0; i < 3; i++) {
		pump(0.05);
		client_send(cl, "X");
	}
	expect_error_close(cl, 408, "request_timeout");
	assert_true(now_s() - t0 >= 0.19);
	assert_true(now_s() - t0 < 1.0);
	assert_int_equal(counter(&T.slot.ss_timeouts), 1);
	client_close(cl);
	assert_true(wait_nconns(0));
}

static void
test_idle_keepalive_close(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	double		 t0;

	T.cfg.sc_keepalive_timeout = 0.2;
	start(0);
	cl = client_open(0);
	client_send(cl, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_true(has_header(&r[0], "\r\nConnection: keep-alive\r\n"));
	t0 = now_s();
	cl->len = 0;
	assert_true(client_wait_eof(cl, WAIT));
	assert_int_equal(cl->len, 0);		/* closed silently */
	assert_true(now_s() - t0 >= 0.15);
	assert_true(wait_nconns(0));
	assert_int_equal(counter(&T.slot.ss_timeouts), 0);
	client_close(cl);
}

static void
test_keepalive_zero(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	T.cfg.sc_keepalive_timeout = 0;
	start(0);
	cl = client_open(0);
	client_send(cl, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 2), 1);
	assert_true(has_header(&r[0], "\r\nConnection: close\r\n"));
	assert_true(client_wait_eof(cl, WAIT));
	assert_int_equal(T.ncalls, 1);
	client_close(cl);
}

static void
test_http10(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /old HTTP/1.0\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_true(has_header(&r[0], "\r\nConnection: close\r\n"));
	assert_memory_equal(r[0].head, "HTTP/1.1 200 OK\r\n", 17);
	assert_true(client_wait_eof(cl, WAIT));
	client_close(cl);
	cl = client_open(0);
	client_send(cl, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_true(has_header(&r[0], "\r\nConnection: keep-alive\r\n"));
	client_close(cl);
}

static void
test_head_method(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /g HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.05);
	client_poll(cl);
	/* the HEAD answer has a Content-Length but no body bytes */
	assert_int_equal(parse_responses(cl, r, MAX_RESP, 1), 2);
	assert_true(has_header(&r[0], "\r\nContent-Length: 4\r\n"));
	assert_memory_equal(r[1].head, "HTTP/1.1 200 OK\r\n", 17);
	client_close(cl);
}

static void
test_error_answer(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /error HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_int_equal(r[0].status, 409);
	assert_true(has_header(&r[0], "\r\nX-Why: test\r\n"));
	assert_true(has_header(&r[0], "\r\nConnection: keep-alive\r\n"));
	assert_true(body_is(&r[0],
	    "{\"error\":\"conflict\",\"message\":\"a \\\"quoted\\\" reason\"}"));
	client_close(cl);
}

static void
test_client_closes_mid_request(void **state)
{
	struct client	*cl;

	start(0);
	cl = client_open(0);
	client_send(cl, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n"
	    "\r\npartial");
	assert_true(wait_nconns(1));
	pump(0.02);
	client_close(cl);
	assert_true(wait_nconns(0));
	assert_int_equal(T.ncalls, 0);
	assert_int_equal(counter(&T.slot.ss_conns), 0);
	/* and mid-head */
	cl = client_open(0);
	client_send(cl, "GET / HT");
	pump(0.02);
	client_close(cl);
	assert_true(wait_nconns(0));
}

/* The socket dies (RST) while the handler holds the request. */
static void
test_zombie_conn(void **state)
{
	struct client	*cl;
	struct linger	 lg = { 1, 0 };

	T.async = 1;
	start(0);
	cl = client_open(0);
	client_send(cl, "GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.05);
	assert_int_equal(T.nheld, 1);
	assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	client_close(cl);			/* sends RST */
	pump(0.05);
	assert_int_equal(counter(&T.slot.ss_conns), 0);	/* socket gone */
	assert_int_equal(server_nconns(T.srv), 1);	/* conn kept */
	/* still a valid conn */
	assert_int_equal(strncmp(server_conn_peer(T.held[0]), "127.0.0.1:",
	    10), 0);
	server_respond(T.held[0], 200, NULL, NULL, "late", 4);
	assert_int_equal(server_nconns(T.srv), 0);
	assert_int_equal(counter(&T.slot.ss_requests), 0);
	pump(0.02);
}

/* EOF (half-close) while the handler works: the answer still goes out. */
static void
test_half_close(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	T.async = 1;
	start(0);
	cl = client_open(0);
	client_send(cl, "GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.05);
	assert_int_equal(T.nheld, 1);
	assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
	pump(0.05);
	server_respond(T.held[0], 200, NULL, NULL, "late", 4);
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_true(body_is(&r[0], "late"));
	assert_true(client_wait_eof(cl, WAIT));
	assert_true(wait_nconns(0));
	client_close(cl);
}

static void
test_max_clients(void **state)
{
	struct client	*a, *b;
	struct resp	 r[MAX_RESP];

	T.cfg.sc_max_clients = 1;
	start(0);
	a = client_open(0);
	client_send(a, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(a, r, 1), 1);
	b = client_open(0);			/* queued by the kernel */
	client_send(b, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.1);
	client_poll(b);
	assert_int_equal(b->len, 0);
	assert_int_equal(server_nconns(T.srv), 1);
	assert_int_equal(counter(&T.slot.ss_conns_total), 1);
	client_close(a);
	assert_int_equal(client_wait(b, r, 1), 1);
	assert_true(body_is(&r[0], "/b 0"));
	assert_int_equal(counter(&T.slot.ss_conns_total), 2);
	assert_int_equal(server_nconns(T.srv), 1);
	client_close(b);
}

static void
idle_cb(void *arg)
{
	T.idle_calls++;
	T.idle_after_answer = T.answered;
}

static void
test_drain(void **state)
{
	struct client	*idle, *busy;
	int		 late;
	struct resp	 r[MAX_RESP];

	start(0);
	idle = client_open(0);
	client_send(idle, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(idle, r, 1), 1);
	busy = client_open(0);
	client_send(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.05);
	assert_int_equal(T.nheld, 1);

	server_drain(T.srv, 0, idle_cb, NULL);
	T.lfd = -1;				/* the server closed it */
	assert_int_equal(T.idle_calls, 0);
	assert_true(client_wait_eof(idle, WAIT));	/* idle: closed */
	assert_int_equal(server_nconns(T.srv), 1);
	assert_int_equal(T.idle_calls, 0);

	/* no new connections */
	late = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(late >= 0);
	assert_int_equal(connect(late, (struct sockaddr *)&T.addr,
	    sizeof(T.addr)), -1);
	(void)close(late);

	T.answered = 1;
	server_respond(T.held[0], 200, NULL, NULL, "done", 4);
	assert_int_equal(client_wait(busy, r, 1), 1);
	assert_true(body_is(&r[0], "done"));
	assert_true(has_header(&r[0], "\r\nConnection: close\r\n"));
	assert_true(client_wait_eof(busy, WAIT));
	client_close(busy);
	assert_true(wait_nconns(0));
	pump(0.02);
	assert_int_equal(T.idle_calls, 1);
	assert_int_equal(T.idle_after_answer, 1);
	server_drain(T.srv, 0, idle_cb, NULL);	/* a second drain: no-op */
	assert_int_equal(T.idle_calls, 1);
	client_close(idle);
}

/*
 * A connection accepted before the drain that has not sent its first
 * request yet is not closed under the client (it would see a reset): its
 * request is answered, with Connection: close.
 */
static void
test_drain_fresh(void **state)
{
	struct client	*fresh;
	struct resp	 r[MAX_RESP];

	start(0);
	fresh = client_open(0);
	pump(0.05);
	assert_int_equal(server_nconns(T.srv), 1);
	server_drain(T.srv, 0, idle_cb, NULL);
	T.lfd = -1;
	pump(0.05);
	assert_int_equal(server_nconns(T.srv), 1);
	assert_int_equal(T.idle_calls, 0);
	client_send(fresh, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(fresh, r, 1), 1);
	assert_int_equal(r[0].status, 200);
	assert_true(has_header(&r[0], "\r\nConnection: close\r\n"));
	assert_true(client_wait_eof(fresh, WAIT));
	client_close(fresh);
	assert_true(wait_nconns(0));
	pump(0.02);
	assert_int_equal(T.idle_calls, 1);
}

/*
 * A drain with an idle grace (a reload's): an idle keep-alive connection
 * stays open for the grace; a request it brings then is answered with
 * Connection: close; one that brings nothing is closed when the grace
 * ends, and the drain completes.
 */
static void
test_drain_idle_grace(void **state)
{
	struct client	*talker, *quiet;
	struct resp	 r[MAX_RESP];
	double		 t0;

	start(0);
	talker = client_open(0);
	client_send(talker, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(talker, r, 1), 1);
	assert_false(has_header(&r[0], "\r\nConnection: close\r\n"));
	quiet = client_open(0);
	client_send(quiet, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(quiet, r, 1), 1);

	t0 = now_s();
	server_drain(T.srv, 0.4, idle_cb, NULL);
	T.lfd = -1;
	pump(0.1);
	assert_int_equal(server_nconns(T.srv), 2);	/* both still open */
	client_send(talker, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(talker, r, 2), 2);	/* both answers */
	assert_int_equal(r[1].status, 200);
	assert_true(has_header(&r[1], "\r\nConnection: close\r\n"));
	assert_true(client_wait_eof(talker, WAIT));
	assert_int_equal(T.idle_calls, 0);
	assert_true(client_wait_eof(quiet, WAIT));	/* the grace ended */
	assert_true(now_s() - t0 >= 0.35);
	assert_true(wait_nconns(0));
	pump(0.02);
	assert_int_equal(T.idle_calls, 1);
	client_close(talker);
	client_close(quiet);
}

/* Answer deferred request i with its path as the body. */
static void
ticket_answer(int i)
{
	server_ticket_respond(T.tickets[i], 200, "text/plain", "X-T: 1\r\n",
	    T.tpaths[i], strlen(T.tpaths[i]));
	T.tickets[i] = NULL;
}

/* Turn the loop until n requests were deferred. */
static int
wait_tickets(int n)
{
	double	 end = now_s() + WAIT;

	while (T.ntickets < n && now_s() < end) {
		ev_run(T.loop, EVRUN_NOWAIT);
		usleep(500);
	}
	return (T.ntickets >= n);
}

/*
 * Deferred pipelined requests: the handler gets all of them before
 * answering any (so they can share a commit); answered in reverse order,
 * they still arrive in request order; a request answered at once behind
 * them (GET /a) waits for them; its answer carries the extra headers.
 */
static void
test_defer_order(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	int		 i;

	start(0);
	cl = client_open(0);
	client_send(cl, "POST /defer1 HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 2\r\n\r\nabGET /defer2 HTTP/1.1\r\nHost: a\r\n"
	    "\r\nGET /defer3 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(wait_tickets(3));
	pump(0.05);
	assert_int_equal(T.ncalls, 4);		/* /a answered, held back */
	client_poll(cl);
	assert_int_equal(cl->len, 0);
	ticket_answer(2);
	ticket_answer(1);
	pump(0.05);
	client_poll(cl);
	assert_int_equal(cl->len, 0);		/* the first is still due */
	ticket_answer(0);
	assert_int_equal(client_wait(cl, r, 4), 4);
	assert_true(body_is(&r[0], "/defer1"));
	assert_true(body_is(&r[1], "/defer2"));
	assert_true(body_is(&r[2], "/defer3"));
	assert_true(body_is(&r[3], "/a 0"));
	for (i = 0; i < 3; i++) {
		assert_int_equal(r[i].status, 200);
		assert_true(has_header(&r[i], "\r\nX-T: 1\r\n"));
		assert_false(has_header(&r[i], "\r\nConnection: close\r\n"));
	}
	assert_int_equal(counter(&T.slot.ss_requests), 4);
	/* the connection goes on */
	client_send(cl, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 5), 5);
	assert_true(body_is(&r[4], "/b 0"));
	client_close(cl);
}

/* The answers of deferred requests wait (corked) while later deferred
 * ones of the conn are pending, and leave together with the last. */
static void
test_defer_cork(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /defer1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /defer2 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(wait_tickets(2));
	ticket_answer(0);
	pump(0.05);
	client_poll(cl);
	assert_int_equal(cl->len, 0);		/* the second is pending */
	ticket_answer(1);
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_true(body_is(&r[0], "/defer1"));
	assert_true(body_is(&r[1], "/defer2"));
	client_close(cl);
}

/* A request that cannot be parsed behind deferred ones: their answers
 * first, then the 400, then the close. */
static void
test_defer_then_garbage(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /defer1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "\x01\x02 garbage\r\n\r\n");
	assert_true(wait_tickets(1));
	pump(0.05);
	client_poll(cl);
	assert_int_equal(cl->len, 0);
	ticket_answer(0);
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_true(body_is(&r[0], "/defer1"));
	assert_int_equal(r[1].status, 400);
	assert_true(has_header(&r[1], "\r\nConnection: close\r\n"));
	assert_true(client_wait_eof(cl, WAIT));
	client_close(cl);
	assert_true(wait_nconns(0));
}

/* More pipelined requests than tickets: reading pauses at
 * SERVER_TICKETS_MAX (64) and resumes as answers are given. */
static void
test_defer_limit(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	char		 req[64];
	int		 i;

	start(0);
	cl = client_open(0);
	for (i = 0; i < 70; i++) {
		(void)snprintf(req, sizeof(req),
		    "GET /defer%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
		client_send(cl, req);
	}
	assert_true(wait_tickets(64));
	pump(0.1);
	assert_int_equal(T.ntickets, 64);
	ticket_answer(0);
	ticket_answer(1);
	assert_true(wait_tickets(66));
	pump(0.05);
	assert_int_equal(T.ntickets, 66);
	for (i = 2; i < 66; i++)
		ticket_answer(i);
	assert_true(wait_tickets(70));
	for (i = 66; i < 70; i++)
		ticket_answer(i);
	assert_int_equal(client_wait(cl, r, 70), 70);
	for (i = 0; i < 70; i++) {
		(void)snprintf(req, sizeof(req), "/defer%d", i);
		assert_true(body_is(&r[i], req));
	}
	client_close(cl);
}

/* The client goes away with answers pending: answering them is harmless
 * and the connection is freed with the last one. */
static void
test_defer_client_gone(void **state)
{
	struct client	*cl;

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /defer1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /defer2 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(wait_tickets(2));
	client_close(cl);
	pump(0.1);
	assert_int_equal(server_nconns(T.srv), 1);	/* tickets hold it */
	ticket_answer(1);
	assert_int_equal(server_nconns(T.srv), 1);
	ticket_answer(0);
	assert_true(wait_nconns(0));
}

/* A client that half-closes after its pipelined requests still gets
 * every answer, then the close. */
static void
test_defer_half_close(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /defer1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /defer2 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
	assert_true(wait_tickets(2));
	pump(0.1);
	ticket_answer(0);
	ticket_answer(1);
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_true(body_is(&r[1], "/defer2"));
	assert_true(client_wait_eof(cl, WAIT));
	client_close(cl);
	assert_true(wait_nconns(0));
}

/* A drain while answers are pending: no close between them; the last
 * one says Connection: close, and the drain completes after it. */
static void
test_defer_drain(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /defer1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /defer2 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(wait_tickets(2));
	server_drain(T.srv, 0, idle_cb, NULL);
	T.lfd = -1;
	pump(0.05);
	assert_int_equal(server_nconns(T.srv), 1);
	ticket_answer(0);
	ticket_answer(1);
	assert_int_equal(client_wait(cl, r, 2), 2);
	assert_false(has_header(&r[0], "\r\nConnection: close\r\n"));
	assert_true(has_header(&r[1], "\r\nConnection: close\r\n"));
	assert_true(client_wait_eof(cl, WAIT));
	client_close(cl);
	assert_true(wait_nconns(0));
	pump(0.02);
	assert_int_equal(T.idle_calls, 1);
}

static void
test_drain_empty(void **state)
{
	start(0);
	server_drain(T.srv, 0, idle_cb, NULL);
	T.lfd = -1;
	assert_int_equal(T.idle_calls, 1);
	pump(0.01);
	assert_int_equal(T.idle_calls, 1);
}

static void
test_detach(void **state)
{
	struct client	*cl;
	const char	*up = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
	char		 buf[64];
	double		 end;
	ssize_t		 n;

	start(0);
	cl = client_open(0);
	client_send(cl, "GET /detach HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nWSFRAME");
	pump(0.05);
	assert_true(T.detached_fd >= 0);
	assert_null(T.detached_ssl);	/* a plain port */
	assert_int_equal(T.restlen, 7);
	assert_memory_equal(T.rest, "WSFRAME", 7);
	assert_int_equal(server_nconns(T.srv), 0);
	assert_int_equal(counter(&T.slot.ss_conns), 0);
	assert_int_equal(counter(&T.slot.ss_requests), 1);
	/* the fd is the caller's now */
	assert_int_equal(send(T.detached_fd, up, strlen(up), MSG_NOSIGNAL),
	    (ssize_t)strlen(up));
	end = now_s() + WAIT;
	while (cl->len < strlen(up) && now_s() < end) {
		client_poll(cl);
		usleep(500);
	}
	assert_int_equal(cl->len, strlen(up));
	assert_memory_equal(cl->buf, up, strlen(up));
	pump(0.02);
	assert_int_equal(cl->eof, 0);		/* the server did not close it */
	n = send(cl->fd, "ping", 4, MSG_NOSIGNAL);
	assert_int_equal(n, 4);
	end = now_s() + WAIT;
	while ((n = recv(T.detached_fd, buf, sizeof(buf), 0)) < 0 &&
	    now_s() < end)
		usleep(500);
	assert_int_equal(n, 4);
	client_close(cl);
}

/* A client that reads nothing: parsing stops while output is full. */
static void
test_backpressure(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	int		 i;

	T.big_len = 400 * 1024;
	T.big = malloc(T.big_len);
	assert_non_null(T.big);
	memset(T.big, 'b', T.big_len);
	start(16 * 1024);
	cl = client_open(4096);
	for (i = 0; i < 5; i++)
		client_send(cl, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.2);
	assert_true(T.ncalls >= 1);
	assert_true(T.ncalls < 5);
	assert_int_equal(client_wait(cl, r, 5), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(r[i].body_len, T.big_len);
	assert_int_equal(T.ncalls, 5);
	client_close(cl);
}

static void
test_write_timeout(void **state)
{
	struct client	*cl;

	T.cfg.sc_write_timeout = 0.2;
	T.big_len = 8 * 1024 * 1024;
	T.big = calloc(1, T.big_len);
	assert_non_null(T.big);
	start(16 * 1024);
	cl = client_open(4096);
	client_send(cl, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
	pump(0.1);
	assert_int_equal(T.ncalls, 1);
	assert_int_equal(server_nconns(T.srv), 1);
	assert_true(wait_nconns(0));
	assert_int_equal(counter(&T.slot.ss_timeouts), 1);
	client_close(cl);
}

/* Out of fds: the spare fd lets us shed the conn instead of spinning. */
static void
test_emfile(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	struct rlimit	 low;
	int		 fd;
	double		 end;

	start(0);
	cl = &T.clients[T.nclients++];		/* connected below */
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cl->fd >= 0);
	cl->buf = malloc(CLIENT_BUF);
	assert_non_null(cl->buf);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &T.old_nofile), 0);
	fd = dup(0);
	assert_true(fd >= 0);
	(void)close(fd);
	low = T.old_nofile;
	low.rlim_cur = (rlim_t)fd + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	T.nofile_low = 1;
	while (T.nfill < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		T.fill[T.nfill++] = fd;
	assert_int_equal(errno, EMFILE);
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&T.addr,
	    sizeof(T.addr)), 0);
	assert_int_equal(fcntl(cl->fd, F_SETFL, O_NONBLOCK), 0);
	end = now_s() + WAIT;
	while (!cl->eof && now_s() < end) {
		ev_run(T.loop, EVRUN_NOWAIT);
		client_poll(cl);
	}
	assert_int_equal(cl->eof, 1);		/* shed, not left queued */
	assert_int_equal(server_nconns(T.srv), 0);
	fill_release();
	client_close(cl);
	/* service goes on */
	cl = client_open(0);
	client_send(cl, "GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(client_wait(cl, r, 1), 1);
	assert_true(body_is(&r[0], "/again 0"));
	client_close(cl);
}

static void
test_counters(void **state)
{
	struct client	*a, *b;
	struct resp	 r[MAX_RESP];

	start(0);
	a = client_open(0);
	b = client_open(0);
	client_send(a, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
	client_send(b, "GET /1 HTTP/1.1\r\n\r\n");	/* no Host */
	assert_int_equal(client_wait(a, r, 2), 2);
	assert_int_equal(client_wait(b, r, 1), 1);
	assert_int_equal(r[0].status, 400);
	assert_true(client_wait_eof(b, WAIT));
	assert_int_equal(counter(&T.slot.ss_conns_total), 2);
	assert_int_equal(counter(&T.slot.ss_requests), 2);
	assert_int_equal(counter(&T.slot.ss_bad_requests), 1);
	client_close(b);
	assert_true(wait_nconns(1));
	assert_int_equal(counter(&T.slot.ss_conns), 1);
	client_close(a);
	assert_true(wait_nconns(0));
	assert_int_equal(counter(&T.slot.ss_conns), 0);
}

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

/* A server context with a fresh self-signed EC certificate (the files
 * are removed once loaded). */
static SSL_CTX *
tls_server_ctx(void)
{
	char		 dir[] = "/tmp/test_server.XXXXXX", cert[64], key[64];
	char		 err[256];
	EVP_PKEY	*k;
	X509		*x;
	FILE		*fp;
	SSL_CTX		*ctx;

	assert_non_null(mkdtemp(dir));
	(void)snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	(void)snprintf(key, sizeof(key), "%s/k.pem", dir);
	assert_non_null(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	assert_non_null(x = X509_new());
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_non_null(fp = fopen(key, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(fp);
	assert_non_null(fp = fopen(cert, "w"));
	assert_int_equal(PEM_write_X509(fp, x), 1);
	fclose(fp);
	ctx = tls_ctx_new(cert, key, NULL, 12, err, sizeof(err));
	assert_non_null(ctx);
	X509_free(x);
	EVP_PKEY_free(k);
	(void)unlink(cert);
	(void)unlink(key);
	(void)rmdir(dir);
	return (ctx);
}

/* A TLS client on a new client socket; freed by teardown. */
static SSL *
tls_client_open(struct client *cl)
{
	SSL	*ssl;

	if (T.tls_cctx == NULL)
		assert_non_null(T.tls_cctx = SSL_CTX_new(TLS_client_method()));
	assert_true(T.ntls < 8);
	assert_non_null(ssl = SSL_new(T.tls_cctx));
	T.tls[T.ntls++] = ssl;
	SSL_set_fd(ssl, cl->fd);
	SSL_set_connect_state(ssl);
	return (ssl);
}

/* Turn the loop until the client's handshake is done. */
static void
tls_client_handshake(SSL *ssl)
{
	double	 end = now_s() + WAIT;
	int	 r;

	while ((r = SSL_do_handshake(ssl)) != 1) {
		assert_true(SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ ||
		    SSL_get_error(ssl, r) == SSL_ERROR_WANT_WRITE);
		assert_true(now_s() < end);
		ev_run(T.loop, EVRUN_NOWAIT);
		usleep(200);
	}
}

/* Write all of p over TLS, turning the loop while it would block. */
static void
tls_client_send(SSL *ssl, const void *p, size_t n)
{
	double	 end = now_s() + WAIT;
	size_t	 w;

	while (n > 0) {
		assert_true(now_s() < end);
		if (SSL_write_ex(ssl, p, n, &w) == 1) {
			p = (const char *)p + w;
			n -= w;
		} else
			ev_run(T.loop, EVRUN_NOWAIT);
	}
}

/* Turn the loop and read over TLS until want responses, EOF or WAIT. */
static size_t
tls_client_wait(struct client *cl, SSL *ssl, struct resp *r, size_t want)
{
	double	 end = now_s() + WAIT;
	size_t	 n, got;

	for (;;) {
		ev_run(T.loop, EVRUN_NOWAIT);
		while (SSL_read_ex(ssl, cl->buf + cl->len, CLIENT_BUF -
		    cl->len, &got) == 1)
			cl->len += got;
		n = parse_responses(cl, r, MAX_RESP, 0);
		if (n >= want || now_s() > end)
			return (n);
		usleep(200);
	}
}

/* Pipelined GETs, a request in one record larger than the first read,
 * and a large POST body over TLS (ALPN http/1.1). */
static void
test_tls_requests(void **state)
{
	struct client	*cl;
	struct resp	 r[MAX_RESP];
	const unsigned char *alpn;
	unsigned	 alen;
	SSL		*ssl;
	char		*body, head[256];
	size_t		 i, len = 200 * 1024;
	const char	*three = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
			    "GET /b HTTP/1.1\r\nHost: a\r\n\r\n"
			    "GET /c HTTP/1.1\r\nHost: a\r\n\r\n";

	T.cfg.sc_tls = tls_server_ctx();
	start(0);
	cl = client_open(0);
	ssl = tls_client_open(cl);
	assert_int_equal(SSL_set_alpn_protos(ssl,
	    (const unsigned char *)"\x08http/1.1", 9), 0);
	tls_client_handshake(ssl);
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	assert_int_equal(alen, 8);
	assert_memory_equal(alpn, "http/1.1", 8);
	tls_client_send(ssl, three, strlen(three));
	assert_int_equal(tls_client_wait(cl, ssl, r, 3), 3);
	assert_true(body_is(&r[0], "/a 0") && body_is(&r[1], "/b 0") &&
	    body_is(&r[2], "/c 0"));
	assert_non_null(body = malloc(len));
	for (i = 0; i < len; i++)
		body[i] = (char)('a' + i % 26);
	T.expect_body = body;
	/* one record with head and body, larger than the first read: the
	 * rest waits decrypted in the SSL while the socket is empty */
	T.expect_len = 10000;
	i = (size_t)snprintf(head, sizeof(head), "POST /one HTTP/1.1\r\n"
	    "Host: a\r\nX-Check: 12345\r\nContent-Length: 10000\r\n\r\n");
	memmove(body + i, body, 10000);
	memcpy(body, head, i);
	cl->len = 0;
	tls_client_send(ssl, body, i + 10000);
	assert_int_equal(tls_client_wait(cl, ssl, r, 1), 1);
	assert_true(body_is(&r[0], "/one 10000"));
	for (i = 0; i < len; i++)	/* the pattern again */
		body[i] = (char)('a' + i % 26);
	/* a body of many records */
	T.expect_len = len;
	(void)snprintf(head, sizeof(head), "POST /upload HTTP/1.1\r\nHost: a\r\n"
	    "X-Check: 12345\r\nContent-Length: %zu\r\n\r\n", len);
	cl->len = 0;
	tls_client_send(ssl, head, strlen(head));
	tls_client_send(ssl, body, len);
	assert_int_equal(tls_client_wait(cl, ssl, r, 1), 1);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(T.body_ok, 1);
	assert_true(body_is(&r[0], "/upload 204800"));
	assert_int_equal(counter(&T.slot.ss_requests), 5);
	free(body);
}

/* A stalled handshake times out; plain HTTP is a protocol failure; a
 * client gone mid-handshake is "closed".  Each is counted and closed. */
static void
test_tls_handshake_failures(void **state)
{
	struct client	*stall, *plain, *gone;
	double		 t0;

	T.cfg.sc_tls = tls_server_ctx();
	T.cfg.sc_header_timeout = 0.3;
	start(0);
	stall = client_open(0);
	plain = client_open(0);
	gone = client_open(0);
	t0 = now_s();
	client_send(plain, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	(void)shutdown(gone->fd, SHUT_WR);
	assert_true(client_wait_eof(plain, 1));
	assert_null(memmem(plain->buf, plain->len, "HTTP/1.1", 8));
	assert_true(client_wait_eof(stall, 2));
	assert_true(now_s() - t0 >= 0.3 - 0.05);
	assert_true(wait_nconns(0));
	assert_int_equal(counter(&T.slot.ss_tls_failures[SHM_TLS_TIMEOUT]), 1);
	assert_int_equal(counter(&T.slot.ss_tls_failures[SHM_TLS_PROTOCOL]),
	    1);
	assert_int_equal(counter(&T.slot.ss_tls_failures[SHM_TLS_CLOSED]), 1);
	assert_int_equal(counter(&T.slot.ss_tls_failures[SHM_TLS_OTHER]), 0);
	assert_int_equal(counter(&T.slot.ss_conns), 0);
	assert_int_equal(counter(&T.slot.ss_requests), 0);
}

#define TEST(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_get),
		TEST(test_keepalive_sequential),
		TEST(test_pipelined),
		TEST(test_async_pipelined),
		TEST(test_body_content_length),
		TEST(test_body_chunked),
		TEST(test_body_chunked_large),
		TEST(test_413_from_length),
		TEST(test_413_chunked),
		TEST(test_431),
		TEST(test_smuggling),
		TEST(test_bad_version_and_coding),
		TEST(test_100_continue),
		TEST(test_100_continue_rejected),
		TEST(test_header_timeout),
		TEST(test_idle_keepalive_close),
		TEST(test_keepalive_zero),
		TEST(test_http10),
		TEST(test_head_method),
		TEST(test_error_answer),
		TEST(test_client_closes_mid_request),
		TEST(test_zombie_conn),
		TEST(test_half_close),
		TEST(test_max_clients),
		TEST(test_drain),
		TEST(test_drain_fresh),
		TEST(test_defer_order),
		TEST(test_defer_cork),
		TEST(test_defer_then_garbage),
		TEST(test_defer_limit),
		TEST(test_defer_client_gone),
		TEST(test_defer_half_close),
		TEST(test_defer_drain),
		TEST(test_drain_idle_grace),
		TEST(test_drain_empty),
		TEST(test_detach),
		TEST(test_backpressure),
		TEST(test_write_timeout),
		TEST(test_emfile),
		TEST(test_counters),
		TEST(test_tls_requests),
		TEST(test_tls_handshake_failures),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
