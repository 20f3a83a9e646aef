/*
 * rtdbench.c: a load generator for the routingd HTTP API.
 *
 * Runs on the same machine as the daemon (loopback).  One process, one
 * epoll loop, many keep-alive connections, each keeping up to --pipeline
 * requests in flight (HTTP/1.1 pipelining), for --seconds.  It counts the
 * answers by status and measures each request's latency (send to the end
 * of its answer).  Two workloads:
 *
 *   send   POST /api/send of one envelope to one of --users recipients,
 *          or with --array N a JSON array of N envelopes to N recipients
 *          in turn (durable accepts: every 202 is on disk when it
 *          arrives; messages/s counts each envelope)
 *   drain  connection i drains users i, i + conns, i + 2 * conns, ...:
 *          GET /api/messages?limit=500 then POST /api/messages/ack of the
 *          ids it got, until every queue is empty or time is up (messages
 *          drained per second)
 *
 * Tokens are HS256 JWTs minted here from --secret-file (the daemon's
 * jwt.secret), one per user.  It prints one line of results; with --json,
 * a JSON object.  It is a measuring tool, not a test: it asserts nothing.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jwt.h"

#define BENCH_RBUF	(4 * 1024 * 1024)	/* bytes of answers buffered */
#define BENCH_WBUF	(1024 * 1024)		/* bytes of requests queued */
#define BENCH_MAXPIPE	256
#define BENCH_MAXARRAY	100		/* envelopes per send request */
#define BENCH_LAT_MAX	(1 << 22)		/* latency samples kept */

enum bench_mode { MODE_SEND, MODE_DRAIN };

struct bench_conn {
	int		 bc_fd;
	int		 bc_user;		/* drain: the user it drains */
	char		*bc_rbuf;
	size_t		 bc_rlen;
	char		*bc_wbuf;
	size_t		 bc_wlen, bc_woff;
	double		 bc_sent[BENCH_MAXPIPE];	/* ring of send times */
	int		 bc_head, bc_inflight;
	int		 bc_done;		/* drain: queue empty */
	int		 bc_expect_ack;		/* drain: next answer is an ack */
};

struct bench {
	enum bench_mode	 b_mode;
	struct sockaddr_in b_addr;
	int		 b_conns, b_pipeline, b_users, b_size;
	double		 b_seconds;
	char		**b_tokens;
	char		*b_payload;		/* base64 text of b_size bytes */
	int		 b_json;
	int		 b_array;		/* envelopes per send request */
	uint64_t	 b_status[600];
	uint64_t	 b_msgs;		/* drain: messages acked */
	uint64_t	 b_answers;
	double		*b_lat;
	size_t		 b_nlat;
	uint64_t	 b_seq;
};

static double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
bench_die(const char *what)
{
	perror(what);
	exit(1);
}

/* Read the HS256 secret the way routingd does: the file minus one '\n'. */
static char *
bench_read_secret(const char *path, size_t *len)
{
	static char	 buf[4096];
	FILE		*fp;
	size_t		 n;

	if ((fp = fopen(path, "r")) == NULL)
		bench_die(path);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	*len = n;
	return (buf);
}

/* One token per bench user, valid for an hour. */
static void
bench_tokens(struct bench *b, const char *secret_file)
{
	char		 payload[256], out[1024];
	const char	*secret, *err;
	size_t		 slen, olen;
	long		 now = (long)time(NULL);
	int		 i, n;

	secret = bench_read_secret(secret_file, &slen);
	if ((b->b_tokens = calloc((size_t)b->b_users, sizeof(char *))) ==
	    NULL)
		bench_die("calloc");
	for (i = 0; i < b->b_users; i++) {
		n = snprintf(payload, sizeof(payload), "{\"sub\":\"bench-%d\","
		    "\"iat\":%ld,\"exp\":%ld}", i, now, now + 3600);
		if (jwt_sign_hs256(secret, slen, NULL, payload, (size_t)n, out,
		    sizeof(out), &olen, &err) == -1) {
			fprintf(stderr, "rtdbench: cannot mint a token: %s\n",
			    err);
			exit(1);
		}
		if ((b->b_tokens[i] = strndup(out, olen)) == NULL)
			bench_die("strndup");
	}
}

static void
bench_payload(struct bench *b)
{
	static const char	 alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 n = ((size_t)b->b_size + 2) / 3 * 4, i;

	if ((b->b_payload = malloc(n + 1)) == NULL)
		bench_die("malloc");
	for (i = 0; i < n; i++)
		b->b_payload[i] = alpha[(i * 7) % 64];
	b->b_payload[n] = '\0';
}

static void
bench_append(struct bench_conn *c, const char *s, size_t n)
{
	if (c->bc_wlen + n > BENCH_WBUF) {
		fprintf(stderr, "rtdbench: write buffer full\n");
		exit(1);
	}
	memcpy(c->bc_wbuf + c->bc_wlen, s, n);
	c->bc_wlen += n;
}

/* Queue one request of the workload on c and note its send time. */
static void
bench_request(struct bench *b, struct bench_conn *c, const char *method,
    const char *path, int user, const char *body, size_t blen)
{
	char	 head[2048];
	char	 clen[96] = "";
	int	 n;

	if (blen > 0)
		(void)snprintf(clen, sizeof(clen), "Content-Type: "
		    "application/json\r\nContent-Length: %zu\r\n", blen);
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: bench\r\n"
	    "Authorization: Bearer %s\r\n%s\r\n", method, path,
	    b->b_tokens[user], clen);
	bench_append(c, head, (size_t)n);
	if (blen)
		bench_append(c, body, blen);
	c->bc_sent[(c->bc_head + c->bc_inflight) % BENCH_MAXPIPE] =
	    bench_now();
	c->bc_inflight++;
}

static void
bench_send_one(struct bench *b, struct bench_conn *c)
{
	static char	 body[BENCH_MAXARRAY * 40960 + 16];
	size_t		 n = 0;
	int		 i, user;

	if (b->b_array > 1)
		body[n++] = '[';
	for (i = 0; i < b->b_array; i++) {
		user = (int)(b->b_seq++ % (uint64_t)b->b_users);
		n += (size_t)snprintf(body + n, sizeof(body) - n,
		    "%s{\"recipientId\":\"bench-%d\",\"encryptedData\":\"%s\"}",
		    i > 0 ? "," : "", user, b->b_payload);
	}
	if (b->b_array > 1)
		body[n++] = ']';
	bench_request(b, c, "POST", "/api/send", 0, body, n);
}

static void
bench_fetch(struct bench *b, struct bench_conn *c)
{
	bench_request(b, c, "GET", "/api/messages?limit=500", c->bc_user,
	    NULL, 0);
}

/* From a GET answer body, build {"messageIds":[...]} and count them. */
static size_t
bench_ack_body(const char *body, size_t len, char *out, size_t cap)
{
	const char	*p = body, *end = body + len, *q;
	size_t		 n = 0, off;

	off = (size_t)snprintf(out, cap, "{\"messageIds\":[");
	while ((p = memmem(p, (size_t)(end - p), "\"id\":\"", 6)) != NULL) {
		p += 6;
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			break;
		if (off + (size_t)(q - p) + 4 >= cap)
			break;
		off += (size_t)snprintf(out + off, cap - off, "%s\"%.*s\"",
		    n ? "," : "", (int)(q - p), p);
		n++;
		p = q;
	}
	(void)snprintf(out + off, cap - off, "]}");
	return (n);
}

static int
bench_connect(struct bench *b)
{
	int	 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		bench_die("socket");
	if (connect(fd, (struct sockaddr *)&b->b_addr, sizeof(b->b_addr)) ==
	    -1)
		bench_die("connect");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return (fd);
}

/* Parse one whole answer at the start of c's buffer; 0 if incomplete. */
static size_t
bench_answer(struct bench_conn *c, int *status, const char **body,
    size_t *blen)
{
	const char	*end, *cl;
	size_t		 hlen, clen = 0;

	end = memmem(c->bc_rbuf, c->bc_rlen, "\r\n\r\n", 4);
	if (end == NULL)
		return (0);
	hlen = (size_t)(end - c->bc_rbuf) + 4;
	cl = memmem(c->bc_rbuf, hlen, "Content-Length: ", 16);
	if (cl != NULL)
		clen = strtoul(cl + 16, NULL, 10);
	if (c->bc_rlen < hlen + clen)
		return (0);
	*status = atoi(c->bc_rbuf + 9);
	*body = c->bc_rbuf + hlen;
	*blen = clen;
	return (hlen + clen);
}

static void
bench_drain_next(struct bench *b, struct bench_conn *c, int status,
    const char *body, size_t blen)
{
	static char	 ack[1 << 20];
	size_t		 n;

	if (c->bc_expect_ack) {
		c->bc_expect_ack = 0;
		bench_fetch(b, c);
		return;
	}
	if (status != 200) {
		c->bc_done = 1;
		return;
	}
	if ((n = bench_ack_body(body, blen, ack, sizeof(ack))) == 0) {
		/* This user's queue is empty: go on with the next one. */
		c->bc_user += b->b_conns;
		if (c->bc_user >= b->b_users)
			c->bc_done = 1;
		else
			bench_fetch(b, c);
		return;
	}
	b->b_msgs += n;
	c->bc_expect_ack = 1;
	bench_request(b, c, "POST", "/api/messages/ack", c->bc_user, ack,
	    strlen(ack));
}

/* Consume the answers in c's buffer; queue follow-up requests. */
static void
bench_consume(struct bench *b, struct bench_conn *c, int running)
{
	const char	*body;
	size_t		 used, blen;
	int		 status;

	while ((used = bench_answer(c, &status, &body, &blen)) > 0) {
		b->b_status[status < 600 && status > 0 ? status : 0]++;
		b->b_answers++;
		if (b->b_nlat < BENCH_LAT_MAX)
			b->b_lat[b->b_nlat++] = bench_now() -
			    c->bc_sent[c->bc_head];
		c->bc_head = (c->bc_head + 1) % BENCH_MAXPIPE;
		c->bc_inflight--;
		if (b->b_mode == MODE_DRAIN && running)
			bench_drain_next(b, c, status, body, blen);
		memmove(c->bc_rbuf, c->bc_rbuf + used, c->bc_rlen - used);
		c->bc_rlen -= used;
	}
	while (running && b->b_mode == MODE_SEND &&
	    c->bc_inflight < b->b_pipeline)
		bench_send_one(b, c);
}

/* Write what is queued, as far as the socket takes it. */
static void
bench_flush(struct bench_conn *c)
{
	ssize_t	 n;

	while (c->bc_woff < c->bc_wlen) {
		n = send(c->bc_fd, c->bc_wbuf + c->bc_woff,
		    c->bc_wlen - c->bc_woff, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		c->bc_woff += (size_t)n;
	}
	if (c->bc_woff == c->bc_wlen)
		c->bc_woff = c->bc_wlen = 0;
}

static void
bench_io(struct bench *b, struct bench_conn *c, int running)
{
	ssize_t	 n;

	bench_flush(c);
	for (;;) {
		n = recv(c->bc_fd, c->bc_rbuf + c->bc_rlen,
		    BENCH_RBUF - c->bc_rlen, 0);
		if (n == 0) {
			fprintf(stderr, "rtdbench: server closed a "
			    "connection\n");
			exit(1);
		}
		if (n < 0)
			break;
		c->bc_rlen += (size_t)n;
	}
	bench_consume(b, c, running);
	bench_flush(c);
}

static int
bench_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static void
bench_report(struct bench *b, double elapsed)
{
	double	 p50 = 0, p99 = 0, rate;
	int	 i;

	qsort(b->b_lat, b->b_nlat, sizeof(double), bench_cmp);
	if (b->b_nlat > 0) {
		p50 = b->b_lat[b->b_nlat / 2] * 1000;
		p99 = b->b_lat[(size_t)((double)b->b_nlat * 0.99)] * 1000;
	}
	rate = (double)(b->b_mode == MODE_SEND ? b->b_status[202] *
	    (uint64_t)b->b_array : b->b_msgs) / elapsed;
	if (b->b_json) {
		printf("{\"mode\":\"%s\",\"seconds\":%.2f,\"rate\":%.0f,"
		    "\"answers\":%llu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
		    "\"status\":{", b->b_mode == MODE_SEND ? "send" : "drain",
		    elapsed, rate, (unsigned long long)b->b_answers, p50, p99);
		for (i = 0; i < 600; i++)
			if (b->b_status[i])
				printf("%s\"%d\":%llu", i == 0 ? "" : ",", i,
				    (unsigned long long)b->b_status[i]);
		printf("}}\n");
		return;
	}
	printf("%s: %.0f msgs/s over %.2f s (%llu answers; p50 %.2f ms, "
	    "p99 %.2f ms;", b->b_mode == MODE_SEND ? "durable accepts" :
	    "drained", rate, elapsed, (unsigned long long)b->b_answers, p50,
	    p99);
	for (i = 0; i < 600; i++)
		if (b->b_status[i])
			printf(" %d:%llu", i, (unsigned long long)b->b_status[i]);
	printf(")\n");
}

static void
bench_usage(void)
{
	fprintf(stderr, "usage: rtdbench [--json] --secret-file F [--port P] "
	    "[--conns N] [--pipeline N] [--users N] [--size BYTES] "
	    "[--array N] [--seconds S] send|drain\n");
	exit(2);
}

static void
bench_options(struct bench *b, int argc, char **argv, const char **secret)
{
	static const struct option opts[] = {
		{ "conns", 1, NULL, 'c' }, { "pipeline", 1, NULL, 'p' },
		{ "users", 1, NULL, 'u' }, { "size", 1, NULL, 'z' },
		{ "seconds", 1, NULL, 't' }, { "port", 1, NULL, 'P' },
		{ "secret-file", 1, NULL, 'S' }, { "json", 0, NULL, 'j' },
		{ "array", 1, NULL, 'a' }, { NULL, 0, NULL, 0 }
	};
	int	 ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': b->b_conns = atoi(optarg); break;
		case 'p': b->b_pipeline = atoi(optarg); break;
		case 'u': b->b_users = atoi(optarg); break;
		case 'z': b->b_size = atoi(optarg); break;
		case 't': b->b_seconds = atof(optarg); break;
		case 'P': b->b_addr.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'S': *secret = optarg; break;
		case 'j': b->b_json = 1; break;
		case 'a': b->b_array = atoi(optarg); break;
		default: bench_usage();
		}
	}
	if (optind != argc - 1 || *secret == NULL || b->b_conns < 1 ||
	    b->b_pipeline < 1 || b->b_pipeline > BENCH_MAXPIPE ||
	    b->b_users < 1 || b->b_size < 1 || b->b_size > 40000 ||
	    b->b_array < 1 || b->b_array > BENCH_MAXARRAY)
		bench_usage();
	if (strcmp(argv[optind], "send") == 0)
		b->b_mode = MODE_SEND;
	else if (strcmp(argv[optind], "drain") == 0)
		b->b_mode = MODE_DRAIN;
	else
		bench_usage();
}

int
main(int argc, char **argv)
{
	static struct bench	 b;
	struct bench_conn	*cs;
	struct epoll_event	 ev, evs[256];
	const char		*secret = NULL;
	double			 start, end;
	int			 ep, i, n, left;

	b.b_conns = 64; b.b_pipeline = 16; b.b_users = 1000; b.b_size = 256; b.b_array = 1;
	b.b_seconds = 10;
	b.b_addr.sin_family = AF_INET;
	b.b_addr.sin_port = htons(8082);
	b.b_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bench_options(&b, argc, argv, &secret);
	if (b.b_mode == MODE_DRAIN && b.b_conns > b.b_users)
		b.b_conns = b.b_users;
	bench_tokens(&b, secret);
	bench_payload(&b);
	if ((b.b_lat = calloc(BENCH_LAT_MAX, sizeof(double))) == NULL ||
	    (cs = calloc((size_t)b.b_conns, sizeof(*cs))) == NULL)
		bench_die("calloc");
	if ((ep = epoll_create1(0)) == -1)
		bench_die("epoll_create1");
	for (i = 0; i < b.b_conns; i++) {
		cs[i].bc_fd = bench_connect(&b);
		cs[i].bc_user = i;
		if ((cs[i].bc_rbuf = malloc(BENCH_RBUF)) == NULL ||
		    (cs[i].bc_wbuf = malloc(BENCH_WBUF)) == NULL)
			bench_die("malloc");
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = &cs[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].bc_fd, &ev) == -1)
			bench_die("epoll_ctl");
	}
	start = bench_now();
	end = start + b.b_seconds;
	for (i = 0; i < b.b_conns; i++) {
		if (b.b_mode == MODE_DRAIN)
			bench_fetch(&b, &cs[i]);
		bench_consume(&b, &cs[i], 1);
		bench_io(&b, &cs[i], 1);
	}
	for (;;) {
		double	 now = bench_now();
		int	 running = now < end;

		left = 0;
		for (i = 0; i < b.b_conns; i++)
			if (cs[i].bc_inflight > 0 && !cs[i].bc_done)
				left++;
		if ((!running || b.b_mode == MODE_DRAIN) && left == 0)
			break;
		if (!running && now > end + 10)
			break;	/* answers lost: give up */
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++)
			bench_io(&b, evs[i].data.ptr, running);
	}
	bench_report(&b, bench_now() - start);
	return (0);
}
