/*
 * rtdws.c: a load generator for routingd's online path: messages sent
 * with POST /api/send and delivered over WebSocket to connected devices.
 *
 * Runs on the same machine as the daemon (loopback).  One process, one
 * epoll loop; with --procs N it forks N copies, each with its own share of
 * the users (contiguous ranges), of the send connections and of the send
 * rate, and the parent merges what they measured.  Each copy:
 *
 *   1. opens one WebSocket (GET /connect, HS256 token for bench-N, device
 *      "default") per user of its share, at most RW_HANDSHAKES handshakes
 *      at a time, and waits until every one has said queue_empty (a
 *      backlog left by an earlier run is acknowledged and not counted);
 *   2. opens its send connections (keep-alive HTTP/1.1, one token for
 *      sender-K each), tells the parent it is ready and waits for the
 *      common start time;
 *   3. sends POST /api/send to its own users in turn, pipelined, either
 *      as fast as the answers come (--rate 0) or paced at its share of
 *      --rate msgs/s on a 1 ms tick; each encryptedData is the base64 of
 *      [send time, CLOCK_MONOTONIC us, big-endian u64][message number,
 *      big-endian u64][padding] of --size bytes;
 *   4. reads every message frame, takes the send time and number out of
 *      encryptedData (string search, no JSON parser), records the latency
 *      and acknowledges the ids in batches ({"type":"ack"} at most every
 *      RW_ACK_US or every RW_ACK_IDS ids per connection);
 *   5. after --warmup s (not counted) and --seconds s (measured) stops
 *      sending, waits for the answers still due and for the messages not
 *      yet delivered, until all are in or nothing arrived for --grace s,
 *      then closes its WebSockets with 1000.
 *
 * Counted: 202s and message frames whose arrival falls in the measured
 * interval (rates), the latency of each message frame of the interval
 * (send time to frame parsed) and of each 202 of the interval (send time
 * to answer parsed), kept as a uint32 of microseconds per sample, so
 * percentiles are exact (the parent merges the children's arrays); lost
 * (202'd, not delivered before the end of the grace), duplicates
 * (delivered twice).  To tell those apart each copy keeps two bits per
 * message sent (202'd, delivered); beyond those bits and the samples,
 * memory does not grow per message.  The grace restarts with each
 * delivery or answer, so a backlog that is still draining when the
 * measured interval ends is waited for (up to RW_DRAIN_US), not counted
 * as lost; "pending at end" says how big it was.
 *
 * With --tls every connection speaks TLS (https and wss, the server's
 * certificate not verified: a measuring client), the handshake driven by
 * the first read or write.
 *
 * It is a measuring tool, not a test: it asserts nothing.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memmem, pipe2 */
#endif

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define RW_MAXPIPE	256		/* requests in flight per connection */
#define RW_HTTP_RBUF	(64 * 1024)	/* bytes of answers buffered */
#define RW_WS_RBUF	(16 * 1024)	/* initial WebSocket read buffer */
#define RW_FRAME_MAX	(16 * 1024 * 1024)	/* largest frame accepted */
#define RW_ACK_IDS	100		/* ids per ack frame, at most */
#define RW_ACK_US	10000		/* pending acks wait at most this */
#define RW_ID_MAX	64		/* bytes of a message id */
#define RW_ACK_CAP	(32 + RW_ACK_IDS * (RW_ID_MAX + 3))
#define RW_HANDSHAKES	256		/* handshakes in progress at once */
#define RW_SETUP_US	(180ULL * 1000000)	/* setup deadline */
#define RW_DRAIN_US	(60ULL * 1000000)	/* drain deadline */
#define RW_CLOSE_US	(2ULL * 1000000)	/* closing handshakes */
#define RW_HEAD		18		/* payload bytes encoded per send */
#define RW_HEAD_B64	24		/* their base64 characters */
#define RW_MAX_SIZE	100000		/* --size limit */
#define RW_SRC_ADDRS	250		/* 127.0.0.1 .. 127.0.0.250 */
#define RW_BIND_OVER	1000		/* bind sources above this many conns */
#define RW_WARN_MAX	5		/* warnings of each kind printed */

enum rw_kind { K_WS, K_HTTP };
enum rw_ws_state { WS_IDLE, WS_CONNECTING, WS_HANDSHAKE, WS_OPEN,
    WS_CLOSED };
enum rw_phase { PH_SETUP, PH_RUN, PH_DRAIN, PH_CLOSING };

struct rw_opts {
	int		 api_port, ws_port;
	const char	*secret_file;
	int		 users, send_conns, pipeline, size, procs, json;
	int		 tls;		/* https and wss (no verification) */
	double		 rate, warmup, seconds, grace;
};

struct ws_conn {
	enum rw_kind	 kind;		/* first: epoll dispatch */
	int		 fd;
	SSL		*ssl;		/* --tls */
	int		 user;		/* bench-N */
	enum rw_ws_state state;
	int		 got_empty;	/* queue_empty seen */
	int		 dirty;		/* on the pending-ack list */
	int		 close_sent;
	char		 key[32];	/* Sec-WebSocket-Key */
	unsigned char	*rbuf;
	size_t		 rlen, rcap;
	unsigned char	*wbuf;
	size_t		 wlen, woff, wcap;
	unsigned char	*frag;		/* a fragmented message so far */
	size_t		 fraglen, fragcap;
	int		 fragging;
	char		*ack;		/* {"type":"ack","messageIds":[... */
	size_t		 acklen;
	int		 nack;
};

struct http_conn {
	enum rw_kind	 kind;		/* first: epoll dispatch */
	int		 fd;
	SSL		*ssl;		/* --tls */
	int		 sender;	/* sender-K */
	int		 up;		/* connected */
	int		 dead;
	char		*token;
	char		*rbuf;
	size_t		 rlen;
	char		*wbuf;
	size_t		 wlen, woff, wcap;
	uint64_t	 seq[RW_MAXPIPE];	/* ring of message numbers */
	uint64_t	 sendt[RW_MAXPIPE];	/* and of their send times */
	int		 head, inflight;
};

/* What one process measured; sent to the parent as is. */
struct rw_result {
	uint64_t	 sent;		/* 202s in the measured interval */
	uint64_t	 received;	/* new message frames in it */
	uint64_t	 posted;	/* every POST written */
	uint64_t	 accepted;	/* every 202 */
	uint64_t	 delivered;	/* distinct messages received */
	uint64_t	 lost;		/* 202'd, never received */
	uint64_t	 unaccepted;	/* received, not 202'd */
	uint64_t	 dups;
	uint64_t	 stray;		/* frames with an unknown number */
	uint64_t	 bad;		/* message frames we cannot read */
	uint64_t	 pending_end;	/* 202'd, not received at the end */
	uint64_t	 behind_max;	/* paced sends overdue, at most */
	uint64_t	 ws_closed;	/* WebSockets lost while running */
	uint64_t	 ws_errors;	/* error frames */
	uint64_t	 http_closed;
	uint64_t	 queue_empty;
	uint64_t	 status[600];	/* HTTP answers by status */
	double		 drain_s;	/* end of interval to last delivery */
	uint64_t	 nlat;		/* delivery samples that follow */
	uint64_t	 nplat;		/* then POST-to-202 samples */
};

struct rw {
	struct rw_opts	 o;
	int		 k;		/* process index */
	int		 user_lo, user_n, send_lo, send_n;
	double		 rate;		/* this process's share; 0: max */
	int		 bind_src;
	char		 secret[4096];
	size_t		 slen;
	int		 ep;
	struct ws_conn	*ws;
	struct http_conn *hc;
	struct ws_conn	**dirty;
	int		 ndirty;
	char		*tail;		/* base64 of payload bytes 18.. */
	size_t		 taillen;
	unsigned char	 pad[RW_HEAD];
	uint64_t	*acc, *rcv;	/* bit per message: 202'd, received */
	uint64_t	 bitcap;
	uint64_t	 seq;		/* next message number */
	uint64_t	 both;		/* messages 202'd and received */
	uint64_t	 http_inflight;
	enum rw_phase	 phase;
	uint64_t	 t0, twarm, tend, last_progress, last_rx;
	int		 rr;		/* paced sends: next connection */
	int		 nopen, nempty, hs_inflight, nclosed, nhttp_up;
	uint64_t	 rand;
	int		 warned[8];
	struct rw_result r;
	uint32_t	*lat;		/* send to delivery, us */
	size_t		 latcap;
	uint32_t	*plat;		/* send to 202, us */
	size_t		 platcap;
};

static char	 rw_who[32] = "rtdws";

static uint64_t
rw_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

static void __attribute__((format(printf, 1, 2), noreturn))
rw_fatal(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", rw_who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn))
rw_fatal_errno(const char *what)
{
	rw_fatal("%s: %s", what, strerror(errno));
}

/* A warning of kind kind, printed RW_WARN_MAX times at most. */
static void __attribute__((format(printf, 3, 4)))
rw_warn(struct rw *w, int kind, const char *fmt, ...)
{
	va_list	 ap;

	if (w->warned[kind]++ >= RW_WARN_MAX)
		return;
	fprintf(stderr, "%s: ", rw_who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (w->warned[kind] == RW_WARN_MAX)
		fputs(" (no more of these)", stderr);
	fputc('\n', stderr);
}

static void *
rw_alloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n)) == NULL)
		rw_fatal("out of memory (%zu bytes)", n);
	return (p);
}

static void *
rw_grow(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL)
		rw_fatal("out of memory (%zu bytes)", n);
	return (p);
}

static uint32_t
rw_rand32(struct rw *w)
{
	w->rand ^= w->rand >> 12;
	w->rand ^= w->rand << 25;
	w->rand ^= w->rand >> 27;
	return ((uint32_t)((w->rand * 0x2545F4914F6CDD1DULL) >> 32));
}

static void
rw_put64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t
rw_get64(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (v);
}

/* ------------------------------------------------------------------ */
/* base64, JWT                                                         */
/* ------------------------------------------------------------------ */

static const char rw_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char rw_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64 of in[0..n) into out (not terminated); padded unless url. */
static size_t
rw_b64_encode(const unsigned char *in, size_t n, char *out, int url)
{
	const char	*a = url ? rw_b64url : rw_b64;
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		if (!url)
			out[o++] = '=';
	}
	return (o);
}

static int
rw_b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+' || c == '-')
		return (62);
	if (c == '/' || c == '_')
		return (63);
	return (-1);
}

/* Decode n (a multiple of 4) unpadded characters; -1 if one is not. */
static int
rw_b64_decode(const char *in, size_t n, unsigned char *out)
{
	size_t		 i, o = 0;
	uint32_t	 v;
	int		 j, d;

	for (i = 0; i + 4 <= n; i += 4) {
		for (v = 0, j = 0; j < 4; j++) {
			if ((d = rw_b64_value((unsigned char)in[i + j])) < 0)
				return (-1);
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	return (0);
}

/* The HS256 secret the way routingd reads it: the file minus one '\n'. */
static void
rw_read_secret(struct rw *w)
{
	FILE	*fp;
	size_t	 n;

	if ((fp = fopen(w->o.secret_file, "r")) == NULL)
		rw_fatal("%s: %s", w->o.secret_file, strerror(errno));
	n = fread(w->secret, 1, sizeof(w->secret) - 1, fp);
	if (ferror(fp))
		rw_fatal("%s: read error", w->o.secret_file);
	fclose(fp);
	if (n > 0 && w->secret[n - 1] == '\n')
		n--;
	if (n == 0)
		rw_fatal("%s: empty secret", w->o.secret_file);
	w->secret[n] = '\0';
	w->slen = n;
}

/* An HS256 JWT for sub, valid for an hour; a malloc'd string. */
static char *
rw_token(struct rw *w, const char *sub)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char		 claims[256], out[1024];
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	long		 now = (long)time(NULL);
	size_t		 o;
	int		 n;

	n = snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"iat\":%ld,"
	    "\"exp\":%ld}", sub, now, now + 3600);
	if (n < 0 || (size_t)n >= sizeof(claims))
		rw_fatal("user id too long: %s", sub);
	o = rw_b64_encode((const unsigned char *)hdr, sizeof(hdr) - 1, out, 1);
	out[o++] = '.';
	o += rw_b64_encode((const unsigned char *)claims, (size_t)n, out + o,
	    1);
	if (HMAC(EVP_sha256(), w->secret, (int)w->slen,
	    (const unsigned char *)out, o, mac, &maclen) == NULL)
		rw_fatal("HMAC-SHA256 failed");
	out[o++] = '.';
	o += rw_b64_encode(mac, maclen, out + o, 1);
	out[o] = '\0';
	return (strdup(out));
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

static SSL_CTX	*rw_tls_ctx;	/* --tls: the client context */

/* --tls: a client SSL on fd (the handshake runs in the first I/O). */
static SSL *
rw_tls_new(int fd)
{
	SSL	*ssl;

	if (rw_tls_ctx == NULL)
		return (NULL);
	if ((ssl = SSL_new(rw_tls_ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		rw_fatal("SSL_new failed");
	SSL_set_connect_state(ssl);
	return (ssl);
}

/* send(2) or recv(2) (wr says which), through ssl when not NULL: the
 * same results, EAGAIN whichever way TLS must wait. */
static ssize_t
rw_io(SSL *ssl, int fd, void *buf, size_t len, int wr)
{
	size_t	 n;
	int	 r;

	if (ssl == NULL)
		return (wr ? send(fd, buf, len, MSG_NOSIGNAL) :
		    recv(fd, buf, len, 0));
	ERR_clear_error();
	errno = 0;
	r = wr ? SSL_write_ex(ssl, buf, len, &n) :
	    SSL_read_ex(ssl, buf, len, &n);
	if (r == 1)
		return ((ssize_t)n);
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	default:
		ERR_clear_error();
		if (errno == 0 || errno == EAGAIN)
			errno = EPROTO;
		return (-1);
	}
}

static void
rw_epoll_add(struct rw *w, int fd, void *ptr)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.ptr = ptr;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		rw_fatal_errno("epoll_ctl");
}

/*
 * A TCP socket to 127.0.0.1:port for connection gi (global index), bound
 * to 127.0.0.(1 + gi % 250) when there are many; connect started,
 * non-blocking.  *inprogress is set when the connect is not done yet.
 */
static int
rw_socket(struct rw *w, int port, int gi, int *inprogress)
{
	struct sockaddr_in	 sa, src;
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		if (errno == EMFILE || errno == ENFILE)
			rw_fatal("socket: %s (raise ulimit -n or use --procs)",
			    strerror(errno));
		rw_fatal_errno("socket");
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->bind_src) {
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001U +
		    (uint32_t)(gi % RW_SRC_ADDRS));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			rw_fatal("bind to 127.0.0.%d: %s", 1 + gi % RW_SRC_ADDRS,
			    strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*inprogress = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		if (errno != EINPROGRESS)
			rw_fatal("connect to 127.0.0.1:%d: %s%s", port,
			    strerror(errno), errno == EADDRNOTAVAIL ?
			    " (out of local ports)" : "");
		*inprogress = 1;
	}
	return (fd);
}

/* ------------------------------------------------------------------ */
/* Bookkeeping of messages                                             */
/* ------------------------------------------------------------------ */

static int
rw_bit(const uint64_t *m, uint64_t i)
{
	return ((int)((m[i >> 6] >> (i & 63)) & 1));
}

static void
rw_bit_set(uint64_t *m, uint64_t i)
{
	m[i >> 6] |= 1ULL << (i & 63);
}

static void
rw_bits_need(struct rw *w, uint64_t seq)
{
	uint64_t	 cap = w->bitcap ? w->bitcap : (1ULL << 20);
	size_t		 ow = (size_t)(w->bitcap / 64), nw;

	if (seq < w->bitcap)
		return;
	while (cap <= seq)
		cap *= 2;
	nw = (size_t)(cap / 64);
	w->acc = rw_grow(w->acc, nw * sizeof(uint64_t));
	w->rcv = rw_grow(w->rcv, nw * sizeof(uint64_t));
	memset(w->acc + ow, 0, (nw - ow) * sizeof(uint64_t));
	memset(w->rcv + ow, 0, (nw - ow) * sizeof(uint64_t));
	w->bitcap = cap;
}

static int
rw_measuring(const struct rw *w, uint64_t now)
{
	return (w->phase == PH_RUN && now >= w->twarm && now < w->tend);
}

/* Append a latency sample of us microseconds to *a. */
static void
rw_sample(uint32_t **a, size_t *cap, uint64_t *n, uint64_t us)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 65536;
		*a = rw_grow(*a, *cap * sizeof(uint32_t));
	}
	(*a)[(*n)++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Message seq, posted at sent, got a 202. */
static void
rw_accepted(struct rw *w, uint64_t seq, uint64_t sent, uint64_t now)
{
	w->r.accepted++;
	if (rw_measuring(w, now)) {
		w->r.sent++;
		rw_sample(&w->plat, &w->platcap, &w->r.nplat, now - sent);
	}
	rw_bit_set(w->acc, seq);
	if (rw_bit(w->rcv, seq))
		w->both++;
}

/* Message seq, sent at ts, arrived at now. */
static void
rw_arrived(struct rw *w, uint64_t ts, uint64_t seq, uint64_t now)
{
	uint64_t	 us;

	if (seq >= w->seq) {
		w->r.stray++;
		return;
	}
	if (rw_bit(w->rcv, seq)) {
		w->r.dups++;
		return;
	}
	rw_bit_set(w->rcv, seq);
	w->r.delivered++;
	if (rw_bit(w->acc, seq))
		w->both++;
	w->last_rx = w->last_progress = now;
	if (!rw_measuring(w, now))
		return;
	w->r.received++;
	us = now > ts ? now - ts : 0;
	rw_sample(&w->lat, &w->latcap, &w->r.nlat, us);
}

/* ------------------------------------------------------------------ */
/* HTTP sends                                                          */
/* ------------------------------------------------------------------ */

static void
rw_http_dead(struct rw *w, struct http_conn *h, const char *why)
{
	if (h->dead)
		return;
	if (w->phase == PH_SETUP)
		rw_fatal("send connection %d: %s", h->sender, why);
	rw_warn(w, 0, "send connection %d: %s (%d requests unanswered)",
	    h->sender, why, h->inflight);
	h->dead = 1;
	w->r.http_closed++;
	w->http_inflight -= (uint64_t)h->inflight;
	h->inflight = 0;
	(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, h->fd, NULL);
	SSL_free(h->ssl);
	h->ssl = NULL;
	(void)close(h->fd);
	h->fd = -1;
}

static void
rw_http_flush(struct rw *w, struct http_conn *h)
{
	ssize_t	 n;

	while (!h->dead && h->woff < h->wlen) {
		n = rw_io(h->ssl, h->fd, h->wbuf + h->woff, h->wlen - h->woff,
		    1);
		if (n > 0) {
			h->woff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		rw_http_dead(w, h, n == 0 ? "send wrote nothing" :
		    strerror(errno));
		return;
	}
	h->woff = h->wlen = 0;
}

static void
rw_http_need(struct http_conn *h, size_t n)
{
	if (h->woff > 0 && h->wlen + n > h->wcap) {
		memmove(h->wbuf, h->wbuf + h->woff, h->wlen - h->woff);
		h->wlen -= h->woff;
		h->woff = 0;
	}
	if (h->wlen + n > h->wcap) {
		while (h->wlen + n > h->wcap)
			h->wcap = h->wcap ? h->wcap * 2 : 16384;
		h->wbuf = rw_grow(h->wbuf, h->wcap);
	}
}

/* Queue one POST /api/send on h (not written yet). */
static void
rw_post(struct rw *w, struct http_conn *h)
{
	static const char	 b1[] = "{\"recipientId\":\"bench-";
	static const char	 b2[] = "\",\"encryptedData\":\"";
	unsigned char		 raw[RW_HEAD];
	char			 rcpt[16], *p;
	uint64_t		 seq = w->seq++, now = rw_now();
	size_t			 blen, rlen;
	int			 n;

	rw_bits_need(w, seq);
	rlen = (size_t)snprintf(rcpt, sizeof(rcpt), "%d",
	    w->user_lo + (int)(seq % (uint64_t)w->user_n));
	blen = sizeof(b1) - 1 + rlen + sizeof(b2) - 1 + RW_HEAD_B64 +
	    w->taillen + 2;
	rw_http_need(h, 512 + strlen(h->token) + blen);
	p = h->wbuf + h->wlen;
	n = sprintf(p, "POST /api/send HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", w->o.api_port, h->token, blen);
	p += n;
	memcpy(p, b1, sizeof(b1) - 1);
	p += sizeof(b1) - 1;
	memcpy(p, rcpt, rlen);
	p += rlen;
	memcpy(p, b2, sizeof(b2) - 1);
	p += sizeof(b2) - 1;
	memcpy(raw, w->pad, RW_HEAD);
	rw_put64(raw, now);
	rw_put64(raw + 8, seq);
	p += rw_b64_encode(raw, RW_HEAD, p, 0);
	memcpy(p, w->tail, w->taillen);
	p += w->taillen;
	*p++ = '"';
	*p++ = '}';
	h->wlen = (size_t)(p - h->wbuf);
	h->seq[(h->head + h->inflight) % RW_MAXPIPE] = seq;
	h->sendt[(h->head + h->inflight) % RW_MAXPIPE] = now;
	h->inflight++;
	w->http_inflight++;
	w->r.posted++;
}

/* Keep h's pipeline full (unpaced mode). */
static void
rw_http_fill(struct rw *w, struct http_conn *h)
{
	if (h->dead || w->phase != PH_RUN || w->rate > 0)
		return;
	while (h->inflight < w->o.pipeline)
		rw_post(w, h);
	rw_http_flush(w, h);
}

/* Value of header name in the head [head, end), or NULL. */
static const char *
rw_header(const char *head, const char *end, const char *name, size_t *vlen)
{
	size_t		 nlen = strlen(name);
	const char	*p, *eol;

	p = memmem(head, (size_t)(end - head), "\r\n", 2);
	while (p != NULL && p + 2 < end) {
		p += 2;
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			eol = end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			p += nlen + 1;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			*vlen = (size_t)(eol - p);
			return (p);
		}
		p = eol;
	}
	return (NULL);
}

/* Take the whole answers off the front of h's buffer. */
static void
rw_http_parse(struct rw *w, struct http_conn *h)
{
	const char	*buf = h->rbuf, *end, *cl;
	size_t		 off = 0, hlen, clen, vlen;
	uint64_t	 now, seq, sent;
	int		 status;

	while (off < h->rlen) {
		end = memmem(buf + off, h->rlen - off, "\r\n\r\n", 4);
		if (end == NULL)
			break;
		hlen = (size_t)(end - (buf + off)) + 4;
		clen = 0;
		if ((cl = rw_header(buf + off, end + 2, "Content-Length",
		    &vlen)) != NULL)
			clen = strtoul(cl, NULL, 10);
		if (h->rlen - off < hlen + clen)
			break;
		if (hlen < 13 || memcmp(buf + off, "HTTP/1.", 7) != 0)
			rw_fatal("send connection %d: not an HTTP answer: "
			    "%.40s", h->sender, buf + off);
		status = atoi(buf + off + 9);
		if (h->inflight == 0)
			rw_fatal("send connection %d: an answer to no request "
			    "(status %d)", h->sender, status);
		seq = h->seq[h->head];
		sent = h->sendt[h->head];
		h->head = (h->head + 1) % RW_MAXPIPE;
		h->inflight--;
		w->http_inflight--;
		now = rw_now();
		w->last_progress = now;
		w->r.status[status > 0 && status < 600 ? status : 0]++;
		if (status == 202)
			rw_accepted(w, seq, sent, now);
		else
			rw_warn(w, 1, "POST /api/send: %d %.*s", status,
			    (int)(clen < 200 ? clen : 200), end + 4);
		off += hlen + clen;
	}
	if (off > 0) {
		memmove(h->rbuf, h->rbuf + off, h->rlen - off);
		h->rlen -= off;
	}
	if (h->rlen == RW_HTTP_RBUF)
		rw_fatal("send connection %d: an answer over %d bytes",
		    h->sender, RW_HTTP_RBUF);
}

static void
rw_http_event(struct rw *w, struct http_conn *h, uint32_t events)
{
	socklen_t	 sl;
	ssize_t		 n;
	int		 err = 0;

	if (h->dead)
		return;
	if (!h->up) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		sl = sizeof(err);
		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err != 0) {
			char	 why[128];

			(void)snprintf(why, sizeof(why), "connect to "
			    "127.0.0.1:%d: %s", w->o.api_port, strerror(err));
			rw_http_dead(w, h, why);
			return;
		}
		h->up = 1;
		w->nhttp_up++;
	}
	if ((events & EPOLLOUT) || h->ssl != NULL)	/* TLS: any way */
		rw_http_flush(w, h);
	while (!h->dead) {
		n = rw_io(h->ssl, h->fd, h->rbuf + h->rlen,
		    RW_HTTP_RBUF - h->rlen, 0);
		if (n > 0) {
			h->rlen += (size_t)n;
			rw_http_parse(w, h);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		rw_http_dead(w, h, n == 0 ? "closed by the server" :
		    strerror(errno));
		return;
	}
	rw_http_fill(w, h);
}

/* Paced mode: post what is due by now over connections with room. */
static void
rw_pace(struct rw *w, uint64_t now)
{
	uint64_t		 due;
	struct http_conn	*h = NULL;
	int			 tried;

	due = (uint64_t)((double)(now - w->t0) * w->rate / 1e6);
	while (w->seq < due) {
		for (tried = 0; tried < w->send_n; tried++) {
			h = &w->hc[w->rr];
			w->rr = (w->rr + 1) % w->send_n;
			if (!h->dead && h->inflight < w->o.pipeline)
				break;
		}
		if (tried == w->send_n)
			break;		/* every pipeline is full */
		rw_post(w, h);
		rw_http_flush(w, h);
	}
	if (due > w->seq && due - w->seq > w->r.behind_max)
		w->r.behind_max = due - w->seq;
}

/* ------------------------------------------------------------------ */
/* WebSockets                                                          */
/* ------------------------------------------------------------------ */

static void
rw_ws_lost(struct rw *w, struct ws_conn *c, const char *why)
{
	if (c->state == WS_CLOSED)
		return;
	if (w->phase == PH_SETUP)
		rw_fatal("WebSocket of bench-%d: %s", c->user, why);
	if (w->phase != PH_CLOSING) {
		w->r.ws_closed++;
		rw_warn(w, 2, "WebSocket of bench-%d: %s", c->user, why);
	}
	c->state = WS_CLOSED;
	w->nclosed++;
	(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	c->ssl = NULL;
	(void)close(c->fd);
	c->fd = -1;
}

static void
rw_ws_flush(struct rw *w, struct ws_conn *c)
{
	ssize_t	 n;

	while (c->state != WS_CLOSED && c->woff < c->wlen) {
		n = rw_io(c->ssl, c->fd, c->wbuf + c->woff,
		    c->wlen - c->woff, 1);
		if (n > 0) {
			c->woff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		rw_ws_lost(w, c, n == 0 ? "send wrote nothing" :
		    strerror(errno));
		return;
	}
	c->woff = c->wlen = 0;
}

static void
rw_ws_need(struct ws_conn *c, size_t n)
{
	if (c->woff > 0 && c->wlen + n > c->wcap) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + n > c->wcap) {
		while (c->wlen + n > c->wcap)
			c->wcap = c->wcap ? c->wcap * 2 : 4096;
		c->wbuf = rw_grow(c->wbuf, c->wcap);
	}
}

/* Send a masked frame (FIN set) of opcode op. */
static void
rw_ws_send(struct rw *w, struct ws_conn *c, int op, const void *data,
    size_t len)
{
	const unsigned char	*in = data;
	unsigned char		*p, mask[4];
	uint32_t		 m = rw_rand32(w);
	size_t			 i;

	if (c->state != WS_OPEN)
		return;
	rw_ws_need(c, len + 14);
	p = c->wbuf + c->wlen;
	*p++ = (unsigned char)(0x80 | op);
	if (len < 126)
		*p++ = (unsigned char)(0x80 | len);
	else if (len < 65536) {
		*p++ = 0x80 | 126;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	} else {
		*p++ = 0x80 | 127;
		rw_put64(p, (uint64_t)len);
		p += 8;
	}
	mask[0] = (unsigned char)(m >> 24);
	mask[1] = (unsigned char)(m >> 16);
	mask[2] = (unsigned char)(m >> 8);
	mask[3] = (unsigned char)m;
	memcpy(p, mask, 4);
	p += 4;
	for (i = 0; i < len; i++)
		p[i] = in[i] ^ mask[i & 3];
	c->wlen = (size_t)(p + len - c->wbuf);
	rw_ws_flush(w, c);
}

static void
rw_ack_flush(struct rw *w, struct ws_conn *c)
{
	if (c->nack == 0)
		return;
	c->ack[c->acklen - 1] = ']';	/* the last ',' */
	c->ack[c->acklen++] = '}';
	rw_ws_send(w, c, 0x1, c->ack, c->acklen);
	c->acklen = 0;
	c->nack = 0;
}

static void
rw_ack_add(struct rw *w, struct ws_conn *c, const char *id, size_t len)
{
	static const char	 pre[] = "{\"type\":\"ack\",\"messageIds\":[";

	if (c->nack == 0) {
		memcpy(c->ack, pre, sizeof(pre) - 1);
		c->acklen = sizeof(pre) - 1;
	}
	c->ack[c->acklen++] = '"';
	memcpy(c->ack + c->acklen, id, len);
	c->acklen += len;
	c->ack[c->acklen++] = '"';
	c->ack[c->acklen++] = ',';
	c->nack++;
	if (!c->dirty) {
		c->dirty = 1;
		w->dirty[w->ndirty++] = c;
	}
	if (c->nack >= RW_ACK_IDS)
		rw_ack_flush(w, c);
}

/* Every RW_ACK_US: send what each connection has pending. */
static void
rw_ack_tick(struct rw *w)
{
	int	 i;

	for (i = 0; i < w->ndirty; i++) {
		rw_ack_flush(w, w->dirty[i]);
		w->dirty[i]->dirty = 0;
	}
	w->ndirty = 0;
}

/* One text message from the server. */
static void
rw_ws_text(struct rw *w, struct ws_conn *c, const char *t, size_t len)
{
	static const char	 msg[] = "{\"type\":\"message\",\"id\":\"";
	static const char	 data[] = "\"encryptedData\":\"";
	static const char	 empty[] = "{\"type\":\"queue_empty\"";
	static const char	 err[] = "{\"type\":\"error\"";
	const char		*id, *q, *end = t + len;
	unsigned char		 raw[RW_HEAD];

	if (len > sizeof(msg) && memcmp(t, msg, sizeof(msg) - 1) == 0) {
		id = t + sizeof(msg) - 1;
		if ((q = memchr(id, '"', (size_t)(end - id))) == NULL ||
		    q == id || q - id > RW_ID_MAX) {
			w->r.bad++;
			return;
		}
		rw_ack_add(w, c, id, (size_t)(q - id));
		if (!c->got_empty || w->phase == PH_CLOSING)
			return;		/* the backlog of an earlier run */
		if ((q = memmem(q, (size_t)(end - q), data,
		    sizeof(data) - 1)) == NULL ||
		    (size_t)(end - q) < sizeof(data) - 1 + RW_HEAD_B64 ||
		    rw_b64_decode(q + sizeof(data) - 1, RW_HEAD_B64,
		    raw) == -1) {
			w->r.bad++;
			rw_warn(w, 3, "bench-%d: a message frame without our "
			    "encryptedData: %.*s", c->user,
			    (int)(len < 200 ? len : 200), t);
			return;
		}
		rw_arrived(w, rw_get64(raw), rw_get64(raw + 8), rw_now());
	} else if (len >= sizeof(empty) - 1 &&
	    memcmp(t, empty, sizeof(empty) - 1) == 0) {
		w->r.queue_empty++;
		if (!c->got_empty) {
			c->got_empty = 1;
			w->nempty++;
		}
	} else if (len >= sizeof(err) - 1 &&
	    memcmp(t, err, sizeof(err) - 1) == 0) {
		w->r.ws_errors++;
		rw_warn(w, 4, "bench-%d: %.*s", c->user,
		    (int)(len < 300 ? len : 300), t);
	}
}

/* One frame; payload already unmasked. */
static void
rw_ws_frame(struct rw *w, struct ws_conn *c, int b0, unsigned char *p,
    size_t len)
{
	unsigned char	 code[2];
	char		 why[64];
	int		 op = b0 & 0x0f, fin = b0 & 0x80;

	switch (op) {
	case 0x0:
	case 0x1:
	case 0x2:
		if (op == 0x0 && !c->fragging) {
			rw_ws_lost(w, c, "a continuation frame out of place");
			return;
		}
		if (op != 0x0 && c->fragging) {
			rw_ws_lost(w, c, "a new message inside a fragmented "
			    "one");
			return;
		}
		if (op != 0x0 && fin) {
			rw_ws_text(w, c, (const char *)p, len);
			return;
		}
		if (c->fraglen + len > RW_FRAME_MAX) {
			rw_ws_lost(w, c, "a fragmented message too large");
			return;
		}
		if (c->fraglen + len > c->fragcap) {
			c->fragcap = c->fraglen + len + 4096;
			c->frag = rw_grow(c->frag, c->fragcap);
		}
		memcpy(c->frag + c->fraglen, p, len);
		c->fraglen += len;
		c->fragging = 1;
		if (fin) {
			rw_ws_text(w, c, (const char *)c->frag, c->fraglen);
			c->fraglen = 0;
			c->fragging = 0;
		}
		return;
	case 0x8:
		code[0] = len >= 2 ? p[0] : 0x03;	/* 1000 */
		code[1] = len >= 2 ? p[1] : 0xe8;
		if (!c->close_sent) {
			rw_ws_send(w, c, 0x8, code, 2);
			c->close_sent = 1;
		}
		(void)snprintf(why, sizeof(why), "closed by the server with "
		    "code %d", len >= 2 ? p[0] << 8 | p[1] : 1005);
		rw_ws_lost(w, c, why);
		return;
	case 0x9:
		rw_ws_send(w, c, 0xa, p, len);
		return;
	case 0xa:
		return;
	default:
		(void)snprintf(why, sizeof(why), "a frame of unknown opcode "
		    "%d", op);
		rw_ws_lost(w, c, why);
	}
}

/* Take the whole frames off the front of c's buffer. */
static void
rw_ws_parse(struct rw *w, struct ws_conn *c)
{
	unsigned char	*p;
	size_t		 off = 0, avail, hdr, need = 0, i;
	uint64_t	 len;

	while (c->state == WS_OPEN) {
		p = c->rbuf + off;
		avail = c->rlen - off;
		if (avail < 2)
			break;
		hdr = 2;
		len = p[1] & 0x7f;
		if (len == 126) {
			if (avail < 4)
				break;
			len = (uint64_t)p[2] << 8 | p[3];
			hdr = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = rw_get64(p + 2);
			hdr = 10;
		}
		if (p[1] & 0x80)
			hdr += 4;	/* a masked server frame: tolerated */
		if (len > RW_FRAME_MAX) {
			rw_ws_lost(w, c, "a frame over 16 MiB");
			return;
		}
		if (avail < hdr + len) {
			need = hdr + (size_t)len;
			break;
		}
		if (p[1] & 0x80)
			for (i = 0; i < len; i++)
				p[hdr + i] ^= p[hdr - 4 + (i & 3)];
		rw_ws_frame(w, c, p[0], p + hdr, (size_t)len);
		off += hdr + (size_t)len;
	}
	if (c->state != WS_OPEN)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (need > c->rcap) {
		c->rcap = need + 4096;
		c->rbuf = rw_grow(c->rbuf, c->rcap);
	}
}

/* The answer to our upgrade, once whole. */
static void
rw_ws_head(struct rw *w, struct ws_conn *c)
{
	static const char	 guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	const char		*buf = (const char *)c->rbuf, *end, *v;
	unsigned char		 sha[SHA_DIGEST_LENGTH];
	char			 cat[96], want[32];
	size_t			 hlen, vlen, n;

	if ((end = memmem(buf, c->rlen, "\r\n\r\n", 4)) == NULL) {
		if (c->rlen == c->rcap)
			rw_fatal("bench-%d: an upgrade answer over %zu bytes",
			    c->user, c->rcap);
		return;
	}
	hlen = (size_t)(end - buf) + 4;
	if (hlen < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0)
		rw_fatal("bench-%d: upgrade refused: %.*s", c->user,
		    (int)(c->rlen < 300 ? c->rlen : 300), buf);
	n = (size_t)snprintf(cat, sizeof(cat), "%s%s", c->key, guid);
	SHA1((const unsigned char *)cat, n, sha);
	n = rw_b64_encode(sha, sizeof(sha), want, 0);
	if ((v = rw_header(buf, end + 2, "Sec-WebSocket-Accept", &vlen)) ==
	    NULL || vlen != n || memcmp(v, want, n) != 0)
		rw_fatal("bench-%d: wrong or no Sec-WebSocket-Accept",
		    c->user);
	memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
	c->rlen -= hlen;
	c->state = WS_OPEN;
	w->nopen++;
	w->hs_inflight--;
	rw_ws_parse(w, c);
}

static void
rw_ws_read(struct rw *w, struct ws_conn *c)
{
	ssize_t	 n;

	while (c->state == WS_HANDSHAKE || c->state == WS_OPEN) {
		if (c->rlen == c->rcap) {
			c->rcap *= 2;
			c->rbuf = rw_grow(c->rbuf, c->rcap);
		}
		n = rw_io(c->ssl, c->fd, c->rbuf + c->rlen,
		    c->rcap - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			if (c->state == WS_HANDSHAKE)
				rw_ws_head(w, c);
			else
				rw_ws_parse(w, c);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		rw_ws_lost(w, c, n == 0 ? "closed by the server (EOF)" :
		    strerror(errno));
	}
}

/* Connected: send the upgrade request. */
static void
rw_ws_upgrade(struct rw *w, struct ws_conn *c)
{
	unsigned char	 key[16];
	char		 sub[32], *tok;
	size_t		 i;
	int		 n;

	for (i = 0; i < sizeof(key); i += 4) {
		uint32_t	 r = rw_rand32(w);

		memcpy(key + i, &r, 4);
	}
	c->key[rw_b64_encode(key, sizeof(key), c->key, 0)] = '\0';
	(void)snprintf(sub, sizeof(sub), "bench-%d", c->user);
	tok = rw_token(w, sub);
	rw_ws_need(c, 512 + strlen(tok));
	n = sprintf((char *)c->wbuf + c->wlen, "GET /connect HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade"
	    "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
	    "Authorization: Bearer %s\r\n\r\n", w->o.ws_port, c->key, tok);
	c->wlen += (size_t)n;
	free(tok);
	c->state = WS_HANDSHAKE;
	rw_ws_flush(w, c);
}

static void
rw_ws_start(struct rw *w, struct ws_conn *c)
{
	int	 inprogress;

	c->fd = rw_socket(w, w->o.ws_port, c->user, &inprogress);
	c->ssl = rw_tls_new(c->fd);
	c->rcap = RW_WS_RBUF;
	c->rbuf = rw_alloc(c->rcap);
	c->ack = rw_alloc(RW_ACK_CAP);
	c->state = WS_CONNECTING;
	w->hs_inflight++;
	rw_epoll_add(w, c->fd, c);
	if (!inprogress)
		rw_ws_upgrade(w, c);
}

static void
rw_ws_event(struct rw *w, struct ws_conn *c, uint32_t events)
{
	socklen_t	 sl;
	int		 err = 0;

	if (c->state == WS_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		sl = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err != 0) {
			errno = err;
			rw_fatal("WebSocket of bench-%d: connect to "
			    "127.0.0.1:%d: %s", c->user, w->o.ws_port,
			    strerror(err));
		}
		rw_ws_upgrade(w, c);
		return;
	}
	if (c->state == WS_CLOSED)
		return;
	if ((events & EPOLLOUT) || c->ssl != NULL)	/* TLS: any way */
		rw_ws_flush(w, c);
	rw_ws_read(w, c);
	if (c->ssl != NULL && c->state != WS_CLOSED && c->woff < c->wlen)
		rw_ws_flush(w, c);	/* a handshake read may unblock it */
}

/* ------------------------------------------------------------------ */
/* One process                                                         */
/* ------------------------------------------------------------------ */

static void
rw_dispatch(struct rw *w, int timeout_ms)
{
	struct epoll_event	 evs[512];
	int			 i, n;

	if ((n = epoll_wait(w->ep, evs, 512, timeout_ms)) == -1) {
		if (errno == EINTR)
			return;
		rw_fatal_errno("epoll_wait");
	}
	for (i = 0; i < n; i++) {
		if (*(enum rw_kind *)evs[i].data.ptr == K_WS)
			rw_ws_event(w, evs[i].data.ptr, evs[i].events);
		else
			rw_http_event(w, evs[i].data.ptr, evs[i].events);
	}
}

static void
rw_fd_limit(struct rw *w)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)w->user_n + (rlim_t)w->send_n + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rw_fatal_errno("getrlimit");
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
	}
	rw_fatal("%llu connections in one process need %llu open files; the "
	    "limit is %llu: use more --procs", (unsigned long long)(need - 32),
	    (unsigned long long)need, (unsigned long long)rl.rlim_max);
}

/* Open every WebSocket of this share and the send connections. */
static void
rw_setup(struct rw *w)
{
	uint64_t	 deadline = rw_now() + RW_SETUP_US, next_ack = 0, now;
	size_t		 b64n;
	unsigned char	*raw;
	int		 i, next = 0, inprogress, fd;

	rw_fd_limit(w);
	rw_read_secret(w);
	w->rand = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ rw_now();
	if (w->rand == 0)
		w->rand = 1;
	/* Padding, then its base64 from byte RW_HEAD on (a multiple of 3). */
	raw = rw_alloc((size_t)w->o.size);
	for (i = 0; i < w->o.size; i++)
		raw[i] = (unsigned char)(i * 7 + 13);
	memcpy(w->pad, raw, RW_HEAD);
	b64n = ((size_t)w->o.size - RW_HEAD + 2) / 3 * 4;
	w->tail = rw_alloc(b64n + 1);
	w->taillen = rw_b64_encode(raw + RW_HEAD, (size_t)w->o.size - RW_HEAD,
	    w->tail, 0);
	free(raw);
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		rw_fatal_errno("epoll_create1");
	w->ws = rw_alloc((size_t)w->user_n * sizeof(*w->ws));
	w->dirty = rw_alloc((size_t)w->user_n * sizeof(*w->dirty));
	for (i = 0; i < w->user_n; i++) {
		w->ws[i].kind = K_WS;
		w->ws[i].fd = -1;
		w->ws[i].user = w->user_lo + i;
	}
	w->phase = PH_SETUP;
	while (w->nempty < w->user_n) {
		while (next < w->user_n && w->hs_inflight < RW_HANDSHAKES)
			rw_ws_start(w, &w->ws[next++]);
		rw_dispatch(w, 50);
		now = rw_now();
		if (now >= next_ack) {
			rw_ack_tick(w);
			next_ack = now + RW_ACK_US;
		}
		if (now > deadline)
			rw_fatal("setup timed out after %llu s: %d of %d "
			    "WebSockets open, %d caught up",
			    (unsigned long long)(RW_SETUP_US / 1000000),
			    w->nopen, w->user_n, w->nempty);
	}
	rw_ack_tick(w);
	w->hc = rw_alloc((size_t)w->send_n * sizeof(*w->hc));
	for (i = 0; i < w->send_n; i++) {
		struct http_conn	*h = &w->hc[i];
		char			 sub[32];

		h->kind = K_HTTP;
		h->sender = w->send_lo + i;
		(void)snprintf(sub, sizeof(sub), "sender-%d", h->sender);
		h->token = rw_token(w, sub);
		h->rbuf = rw_alloc(RW_HTTP_RBUF);
		fd = rw_socket(w, w->o.api_port, w->o.users + h->sender,
		    &inprogress);
		h->fd = fd;
		h->ssl = rw_tls_new(fd);
		rw_epoll_add(w, fd, h);
		if (!inprogress) {
			h->up = 1;
			w->nhttp_up++;
		}
	}
	/* Wait for the send connections to be established. */
	while (w->nhttp_up < w->send_n) {
		rw_dispatch(w, 50);
		if (rw_now() > deadline)
			rw_fatal("setup timed out: %d of %d send connections "
			    "established", w->nhttp_up, w->send_n);
	}
}

/* Send, receive, drain; fills w->r. */
static void
rw_run(struct rw *w, uint64_t start)
{
	uint64_t	 now, next_ack, closing_until = 0;
	size_t		 i, words;
	int		 j;

	w->t0 = start;
	w->twarm = start + (uint64_t)(w->o.warmup * 1e6);
	w->tend = w->twarm + (uint64_t)(w->o.seconds * 1e6);
	while ((now = rw_now()) < start)
		usleep((useconds_t)(start - now < 1000000 ? start - now :
		    1000000));
	w->phase = PH_RUN;
	for (j = 0; j < w->send_n; j++)
		rw_http_fill(w, &w->hc[j]);
	next_ack = rw_now() + RW_ACK_US;
	for (;;) {
		now = rw_now();
		if (w->phase == PH_RUN && now >= w->tend) {
			w->phase = PH_DRAIN;
			w->r.pending_end = w->r.accepted - w->both;
			w->last_progress = now;
		}
		if (w->phase == PH_RUN && w->rate > 0)
			rw_pace(w, now);
		if (now >= next_ack) {
			rw_ack_tick(w);
			next_ack = now + RW_ACK_US;
		}
		if (w->phase == PH_DRAIN && ((w->http_inflight == 0 &&
		    w->both == w->r.accepted) ||
		    now - w->last_progress >= (uint64_t)(w->o.grace * 1e6) ||
		    now - w->tend >= RW_DRAIN_US))
			break;
		rw_dispatch(w, w->phase == PH_RUN && w->rate > 0 ? 1 : 10);
	}
	if (w->last_rx > w->tend)
		w->r.drain_s = (double)(w->last_rx - w->tend) / 1e6;
	words = (size_t)((w->seq + 63) / 64);
	for (i = 0; i < words; i++) {
		w->r.lost += (uint64_t)__builtin_popcountll(w->acc[i] &
		    ~w->rcv[i]);
		w->r.unaccepted += (uint64_t)__builtin_popcountll(w->rcv[i] &
		    ~w->acc[i]);
	}
	/* Acknowledge what is left, close every WebSocket with 1000. */
	w->phase = PH_CLOSING;
	rw_ack_tick(w);
	for (j = 0; j < w->user_n; j++) {
		struct ws_conn	*c = &w->ws[j];
		unsigned char	 code[2] = { 0x03, 0xe8 };

		if (c->state == WS_OPEN && !c->close_sent) {
			rw_ws_send(w, c, 0x8, code, 2);
			c->close_sent = 1;
		}
	}
	closing_until = rw_now() + RW_CLOSE_US;
	while (w->nclosed < w->user_n && rw_now() < closing_until) {
		rw_dispatch(w, 10);
		rw_ack_tick(w);
	}
	for (j = 0; j < w->send_n; j++)
		if (!w->hc[j].dead)
			(void)close(w->hc[j].fd);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static void
rw_merge(struct rw_result *t, const struct rw_result *r)
{
	int	 i;

	t->sent += r->sent;
	t->received += r->received;
	t->posted += r->posted;
	t->accepted += r->accepted;
	t->delivered += r->delivered;
	t->lost += r->lost;
	t->unaccepted += r->unaccepted;
	t->dups += r->dups;
	t->stray += r->stray;
	t->bad += r->bad;
	t->pending_end += r->pending_end;
	t->behind_max += r->behind_max;
	t->ws_closed += r->ws_closed;
	t->ws_errors += r->ws_errors;
	t->http_closed += r->http_closed;
	t->queue_empty += r->queue_empty;
	for (i = 0; i < 600; i++)
		t->status[i] += r->status[i];
	if (r->drain_s > t->drain_s)
		t->drain_s = r->drain_s;
}

static int
rw_cmp32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return ((x > y) - (x < y));
}

/* Nearest-rank percentile q of the sorted lat[0..n), in ms. */
static double
rw_pct(const uint32_t *lat, size_t n, double q)
{
	size_t	 i;

	if (n == 0)
		return (0);
	i = (size_t)(q * (double)n + 0.999999999);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return ((double)lat[i - 1] / 1000.0);
}

/* Percentiles of a[0..n) (sorted here) in ms: p50 p90 p99 max mean. */
static void
rw_stats(uint32_t *a, size_t n, double st[5])
{
	double	 sum = 0;
	size_t	 i;

	if (n > 1)
		qsort(a, n, sizeof(*a), rw_cmp32);
	for (i = 0; i < n; i++)
		sum += a[i];
	st[0] = rw_pct(a, n, 0.50);
	st[1] = rw_pct(a, n, 0.90);
	st[2] = rw_pct(a, n, 0.99);
	st[3] = n ? (double)a[n - 1] / 1000.0 : 0;
	st[4] = n ? sum / (double)n / 1000.0 : 0;
}

static void
rw_report(const struct rw_opts *o, struct rw_result *r, uint32_t *lat,
    uint32_t *plat)
{
	double		 d[5], p[5], sent, rcvd;
	uint64_t	 errs = 0;
	size_t		 n = (size_t)r->nlat;
	int		 i, first = 1;

	rw_stats(lat, n, d);
	rw_stats(plat, (size_t)r->nplat, p);
	sent = (double)r->sent / o->seconds;
	rcvd = (double)r->received / o->seconds;
	for (i = 0; i < 600; i++)
		if (i != 202)
			errs += r->status[i];
	if (o->json) {
		printf("{\"users\":%d,\"procs\":%d,\"send_conns\":%d,"
		    "\"pipeline\":%d,\"size\":%d,\"rate\":%.0f,\"warmup\":%g,"
		    "\"seconds\":%g,\"sent_per_s\":%.0f,"
		    "\"received_per_s\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		    "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f,"
		    "\"samples\":%zu,\"post_p50_ms\":%.3f,\"post_p90_ms\":%.3f,"
		    "\"post_p99_ms\":%.3f,\"post_max_ms\":%.3f,"
		    "\"post_mean_ms\":%.3f,"
		    "\"lost\":%llu,\"duplicates\":%llu,\"posted\":%llu,"
		    "\"accepted\":%llu,\"delivered\":%llu,"
		    "\"pending_at_end\":%llu,\"drain_s\":%.3f,"
		    "\"delivered_not_accepted\":%llu,\"stray\":%llu,"
		    "\"unreadable\":%llu,\"behind_max\":%llu,"
		    "\"ws_closed\":%llu,\"ws_error_frames\":%llu,"
		    "\"http_closed\":%llu,\"status\":{",
		    o->users, o->procs, o->send_conns, o->pipeline, o->size,
		    o->rate, o->warmup, o->seconds, sent, rcvd, d[0], d[1], d[2],
		    d[3], d[4], n, p[0], p[1], p[2], p[3], p[4],
		    (unsigned long long)r->lost,
		    (unsigned long long)r->dups, (unsigned long long)r->posted,
		    (unsigned long long)r->accepted,
		    (unsigned long long)r->delivered,
		    (unsigned long long)r->pending_end, r->drain_s,
		    (unsigned long long)r->unaccepted,
		    (unsigned long long)r->stray, (unsigned long long)r->bad,
		    (unsigned long long)r->behind_max,
		    (unsigned long long)r->ws_closed,
		    (unsigned long long)r->ws_errors,
		    (unsigned long long)r->http_closed);
		for (i = 0; i < 600; i++)
			if (r->status[i]) {
				printf("%s\"%d\":%llu", first ? "" : ",", i,
				    (unsigned long long)r->status[i]);
				first = 0;
			}
		printf("}}\n");
		fflush(stdout);
		return;
	}
	printf("online: %d users, rate %s: sent %.0f/s, received %.0f/s, "
	    "latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms "
	    "(%zu samples), lost %llu, duplicates %llu (mean %.2f ms; "
	    "POST to 202 p50 %.2f ms, p99 %.2f ms; pending at end %llu, "
	    "drained in %.2f s", o->users, o->rate > 0 ? "paced" : "max",
	    sent, rcvd, d[0], d[1], d[2], d[3], n,
	    (unsigned long long)r->lost, (unsigned long long)r->dups, d[4],
	    p[0], p[2], (unsigned long long)r->pending_end, r->drain_s);
	if (errs)
		printf("; HTTP errors %llu", (unsigned long long)errs);
	if (r->ws_closed)
		printf("; WebSockets lost %llu",
		    (unsigned long long)r->ws_closed);
	if (r->ws_errors)
		printf("; error frames %llu", (unsigned long long)r->ws_errors);
	if (r->http_closed)
		printf("; send connections lost %llu",
		    (unsigned long long)r->http_closed);
	if (r->unaccepted)
		printf("; delivered without a 202 %llu",
		    (unsigned long long)r->unaccepted);
	if (r->stray || r->bad)
		printf("; unknown frames %llu",
		    (unsigned long long)(r->stray + r->bad));
	if (o->rate > 0 && r->behind_max > (uint64_t)(o->rate / 100))
		printf("; pacing fell up to %llu sends behind",
		    (unsigned long long)r->behind_max);
	printf(")\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */

static void
rw_write_all(int fd, const void *buf, size_t n)
{
	const char	*p = buf;
	ssize_t		 r;

	while (n > 0) {
		if ((r = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			rw_fatal_errno("write to the parent");
		}
		p += r;
		n -= (size_t)r;
	}
}

/* 0 at EOF before anything, 1 when all read; exits on a short read. */
static int
rw_read_all(int fd, void *buf, size_t n)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		if ((r = read(fd, p + got, n - got)) == -1) {
			if (errno == EINTR)
				continue;
			rw_fatal_errno("read from a child");
		}
		if (r == 0) {
			if (got == 0)
				return (0);
			rw_fatal("a child sent a truncated report");
		}
		got += (size_t)r;
	}
	return (1);
}

/* Share k of N of the users, send connections and rate. */
static void
rw_share(struct rw *w, int k, int n)
{
	w->k = k;
	w->user_lo = (int)((long)w->o.users * k / n);
	w->user_n = (int)((long)w->o.users * (k + 1) / n) - w->user_lo;
	w->send_lo = (int)((long)w->o.send_conns * k / n);
	w->send_n = (int)((long)w->o.send_conns * (k + 1) / n) - w->send_lo;
	w->rate = w->o.rate / n;
	w->bind_src = w->o.users + w->o.send_conns > RW_BIND_OVER;
}

static void
rw_usage(void)
{
	fprintf(stderr, "usage: rtdws --secret-file F [--api-port P] "
	    "[--ws-port P] [--users N]\n"
	    "    [--send-conns N] [--pipeline N] [--size BYTES] [--rate "
	    "MSGS_PER_S]\n"
	    "    [--warmup S] [--seconds S] [--grace S] [--procs N] "
	    "[--json] [--tls]\n");
	exit(2);
}

static double
rw_num(const char *opt, const char *s, double lo, double hi)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "rtdws: --%s: %s is not a number from %g to "
		    "%g\n", opt, s, lo, hi);
		exit(2);
	}
	return (v);
}

static void
rw_options(struct rw_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "api-port", 1, NULL, 'a' }, { "ws-port", 1, NULL, 'w' },
		{ "secret-file", 1, NULL, 'S' }, { "users", 1, NULL, 'u' },
		{ "send-conns", 1, NULL, 'c' }, { "pipeline", 1, NULL, 'p' },
		{ "size", 1, NULL, 'z' }, { "rate", 1, NULL, 'r' },
		{ "warmup", 1, NULL, 'W' }, { "seconds", 1, NULL, 't' },
		{ "grace", 1, NULL, 'g' }, { "procs", 1, NULL, 'P' },
		{ "json", 0, NULL, 'j' }, { "help", 0, NULL, 'h' },
		{ "tls", 0, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	o->api_port = 18082;
	o->ws_port = 18083;
	o->users = 1000;
	o->send_conns = 100;
	o->pipeline = 4;
	o->size = 256;
	o->procs = 1;
	o->warmup = 3;
	o->seconds = 10;
	o->grace = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o->api_port = (int)rw_num("api-port", optarg, 1, 65535);
			break;
		case 'w':
			o->ws_port = (int)rw_num("ws-port", optarg, 1, 65535);
			break;
		case 'S':
			o->secret_file = optarg;
			break;
		case 'u':
			o->users = (int)rw_num("users", optarg, 1, 1000000);
			break;
		case 'c':
			o->send_conns = (int)rw_num("send-conns", optarg, 1,
			    100000);
			break;
		case 'p':
			o->pipeline = (int)rw_num("pipeline", optarg, 1,
			    RW_MAXPIPE);
			break;
		case 'z':
			o->size = (int)rw_num("size", optarg, RW_HEAD,
			    RW_MAX_SIZE);
			break;
		case 'r':
			o->rate = rw_num("rate", optarg, 0, 1e7);
			break;
		case 'W':
			o->warmup = rw_num("warmup", optarg, 0, 3600);
			break;
		case 't':
			o->seconds = rw_num("seconds", optarg, 0.1, 3600);
			break;
		case 'g':
			o->grace = rw_num("grace", optarg, 0, 600);
			break;
		case 'P':
			o->procs = (int)rw_num("procs", optarg, 1, 64);
			break;
		case 'j':
			o->json = 1;
			break;
		case 'T':
			o->tls = 1;
			break;
		default:
			rw_usage();
		}
	}
	if (optind != argc || o->secret_file == NULL)
		rw_usage();
	if (o->procs > o->users || o->procs > o->send_conns) {
		fprintf(stderr, "rtdws: --procs %d needs at least as many "
		    "--users and --send-conns\n", o->procs);
		exit(2);
	}
}

/* A child: set up, report ready, wait for the start, run, report. */
static void __attribute__((noreturn))
rw_child(struct rw *w, int out, int in)
{
	uint64_t	 start;
	char		 ready = 'R';

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	rw_setup(w);
	rw_write_all(out, &ready, 1);
	if (!rw_read_all(in, &start, sizeof(start)))
		exit(1);	/* the parent gave up */
	rw_run(w, start);
	rw_write_all(out, &w->r, sizeof(w->r));
	rw_write_all(out, w->lat, (size_t)w->r.nlat * sizeof(uint32_t));
	rw_write_all(out, w->plat, (size_t)w->r.nplat * sizeof(uint32_t));
	exit(0);
}

static void __attribute__((noreturn))
rw_kill_all(pid_t *pids, int n, const char *why)
{
	int	 i;

	fprintf(stderr, "rtdws: %s\n", why);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)waitpid(pids[i], NULL, 0);
	exit(1);
}

int
main(int argc, char **argv)
{
	static struct rw	 w;
	struct rw_result	 total, r;
	uint32_t		*lat = NULL, *plat = NULL;
	uint64_t		 start;
	pid_t			*pids;
	int			(*res)[2], (*go)[2];
	int			 i, j, n, st, failed = 0;
	char			 ready;

	rw_options(&w.o, argc, argv);
	if (w.o.tls) {
		if ((rw_tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			rw_fatal("SSL_CTX_new failed");
		SSL_CTX_set_verify(rw_tls_ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(rw_tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	n = w.o.procs;
	if (n == 1) {
		rw_share(&w, 0, 1);
		rw_setup(&w);
		rw_run(&w, rw_now());
		rw_report(&w.o, &w.r, w.lat, w.plat);
		return (0);
	}
	fflush(NULL);
	pids = rw_alloc((size_t)n * sizeof(*pids));
	res = rw_alloc((size_t)n * sizeof(*res));
	go = rw_alloc((size_t)n * sizeof(*go));
	for (i = 0; i < n; i++)
		if (pipe2(res[i], O_CLOEXEC) == -1 ||
		    pipe2(go[i], O_CLOEXEC) == -1)
			rw_fatal_errno("pipe");
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1)
			rw_kill_all(pids, i, "fork failed");
		if (pids[i] == 0) {
			for (j = 0; j < n; j++) {
				(void)close(res[j][0]);
				(void)close(go[j][1]);
				if (j != i) {
					(void)close(res[j][1]);
					(void)close(go[j][0]);
				}
			}
			(void)snprintf(rw_who, sizeof(rw_who), "rtdws[%d]", i);
			rw_share(&w, i, n);
			rw_child(&w, res[i][1], go[i][0]);
		}
		(void)close(res[i][1]);
		(void)close(go[i][0]);
	}
	/* Every child ready (all WebSockets caught up): one common start. */
	for (i = 0; i < n; i++)
		if (!rw_read_all(res[i][0], &ready, 1))
			rw_kill_all(pids, n, "a process failed to set up");
	start = rw_now() + 100000;
	for (i = 0; i < n; i++)
		rw_write_all(go[i][1], &start, sizeof(start));
	memset(&total, 0, sizeof(total));
	for (i = 0; i < n; i++) {
		if (!rw_read_all(res[i][0], &r, sizeof(r)))
			rw_kill_all(pids, n, "a process failed while running");
		lat = rw_grow(lat, (size_t)(total.nlat + r.nlat + 1) *
		    sizeof(uint32_t));
		if (r.nlat > 0 && !rw_read_all(res[i][0], lat + total.nlat,
		    (size_t)r.nlat * sizeof(uint32_t)))
			rw_kill_all(pids, n, "a process sent no samples");
		plat = rw_grow(plat, (size_t)(total.nplat + r.nplat + 1) *
		    sizeof(uint32_t));
		if (r.nplat > 0 && !rw_read_all(res[i][0], plat + total.nplat,
		    (size_t)r.nplat * sizeof(uint32_t)))
			rw_kill_all(pids, n, "a process sent no samples");
		rw_merge(&total, &r);
		total.nlat += r.nlat;
		total.nplat += r.nplat;
	}
	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed = 1;
	}
	rw_report(&w.o, &total, lat, plat);
	return (failed);
}
