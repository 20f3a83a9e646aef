/*
 * rb_util.c: the helpers of routingd-bench's measuring processes: time,
 * fatal errors and warnings, memory, base64, HS256 tokens, sockets (and
 * TLS), and the bookkeeping of messages.
 *
 * Every message sent carries its own send time and number in the first
 * RB_HEAD bytes of its payload (base64, so RB_HEAD_B64 characters):
 * [CLOCK_MONOTONIC us, big-endian u64][message number, big-endian u64]
 * [the run's nonce, big-endian u16].  A receiver decodes those and needs
 * nothing else; a message whose nonce is not this run's is stale (left by
 * an earlier run).  Two bits per message number (accepted, received) tell
 * lost from duplicate; beyond those bits and the latency samples, memory
 * does not grow per message.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memmem */
#endif

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include "rb.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

static char	 rb_who[32] = "routingd-bench";
static SSL_CTX	*rb_tls_ctx;	/* --tls: the client context */

uint64_t
rb_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

void
rb_set_who(const char *name, int k)
{
	if (k < 0)
		(void)snprintf(rb_who, sizeof(rb_who), "%s", name);
	else
		(void)snprintf(rb_who, sizeof(rb_who), "%s[%d]", name, k);
}

void
rb_fatal(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", rb_who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
rb_fatal_errno(const char *what)
{
	rb_fatal("%s: %s", what, strerror(errno));
}

void
rb_warn(struct rb *w, int kind, const char *fmt, ...)
{
	va_list	 ap;

	if (w->warned[kind]++ >= RB_WARN_MAX)
		return;
	fprintf(stderr, "%s: ", rb_who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (w->warned[kind] == RB_WARN_MAX)
		fputs(" (no more of these)", stderr);
	fputc('\n', stderr);
}

void *
rb_alloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n)) == NULL)
		rb_fatal("out of memory (%zu bytes)", n);
	return (p);
}

void *
rb_grow(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL)
		rb_fatal("out of memory (%zu bytes)", n);
	return (p);
}

uint32_t
rb_rand32(struct rb *w)
{
	w->rand ^= w->rand >> 12;
	w->rand ^= w->rand << 25;
	w->rand ^= w->rand >> 27;
	return ((uint32_t)((w->rand * 0x2545F4914F6CDD1DULL) >> 32));
}

void
rb_put64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

uint64_t
rb_get64(const unsigned char *p)
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

static const char rb_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char rb_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
rb_b64_encode(const unsigned char *in, size_t n, char *out, int url)
{
	const char	*a = url ? rb_b64url : rb_b64;
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
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
rb_b64_value(int c)
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

int
rb_b64_decode(const char *in, size_t n, unsigned char *out)
{
	size_t		 i, o = 0;
	uint32_t	 v;
	int		 j, d;

	for (i = 0; i + 4 <= n; i += 4) {
		for (v = 0, j = 0; j < 4; j++) {
			if ((d = rb_b64_value((unsigned char)in[i + j])) < 0)
				return (-1);
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	return (0);
}

void
rb_read_secret(struct rb *w)
{
	FILE	*fp;
	size_t	 n;

	if ((fp = fopen(w->o.secret_file, "r")) == NULL)
		rb_fatal("%s: %s", w->o.secret_file, strerror(errno));
	n = fread(w->secret, 1, sizeof(w->secret) - 1, fp);
	if (ferror(fp))
		rb_fatal("%s: read error", w->o.secret_file);
	fclose(fp);
	if (n > 0 && w->secret[n - 1] == '\n')
		n--;
	if (n == 0)
		rb_fatal("%s: empty secret", w->o.secret_file);
	w->secret[n] = '\0';
	w->slen = n;
}

char *
rb_token(struct rb *w, const char *sub)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char		 claims[256], out[1024], *s;
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	long		 now = (long)time(NULL);
	size_t		 o;
	int		 n;

	n = snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"iat\":%ld,"
	    "\"exp\":%ld}", sub, now, now + 3600);
	if (n < 0 || (size_t)n >= sizeof(claims))
		rb_fatal("user id too long: %s", sub);
	o = rb_b64_encode((const unsigned char *)hdr, sizeof(hdr) - 1, out, 1);
	out[o++] = '.';
	o += rb_b64_encode((const unsigned char *)claims, (size_t)n, out + o,
	    1);
	if (HMAC(EVP_sha256(), w->secret, (int)w->slen,
	    (const unsigned char *)out, o, mac, &maclen) == NULL)
		rb_fatal("HMAC-SHA256 failed");
	out[o++] = '.';
	o += rb_b64_encode(mac, maclen, out + o, 1);
	out[o] = '\0';
	if ((s = strdup(out)) == NULL)
		rb_fatal("out of memory");
	return (s);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

void
rb_tls_init(void)
{
	if ((rb_tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		rb_fatal("SSL_CTX_new failed");
	SSL_CTX_set_verify(rb_tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(rb_tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

SSL *
rb_tls_new(int fd)
{
	SSL	*ssl;

	if (rb_tls_ctx == NULL)
		return (NULL);
	if ((ssl = SSL_new(rb_tls_ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		rb_fatal("SSL_new failed");
	SSL_set_connect_state(ssl);
	return (ssl);
}

ssize_t
rb_io(SSL *ssl, int fd, void *buf, size_t len, int wr)
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

void
rb_epoll_add(struct rb *w, int fd, void *ptr)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.ptr = ptr;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		rb_fatal_errno("epoll_ctl");
}

int
rb_socket(struct rb *w, int port, int gi, int *inprogress, int fatal)
{
	struct sockaddr_in	 sa, src;
	int			 fd, one = 1, e;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		if (errno == EMFILE || errno == ENFILE)
			rb_fatal("socket: %s (raise ulimit -n or use --procs)",
			    strerror(errno));
		rb_fatal_errno("socket");
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->o.sources > 1) {
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001U +
		    (uint32_t)(gi % w->o.sources));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			rb_fatal("bind to 127.0.0.%d: %s",
			    1 + gi % w->o.sources, strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*inprogress = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		if (errno == EINPROGRESS) {
			*inprogress = 1;
			return (fd);
		}
		if (fatal)
			rb_fatal("connect to 127.0.0.1:%d: %s%s", port,
			    strerror(errno), errno == EADDRNOTAVAIL ?
			    " (out of local ports: use --sources)" : "");
		e = errno;
		(void)close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

const char *
rb_header(const char *head, const char *end, const char *name, size_t *vlen)
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

/* ------------------------------------------------------------------ */
/* Bookkeeping of messages                                             */
/* ------------------------------------------------------------------ */

static int
rb_bit(const uint64_t *m, uint64_t i)
{
	return ((int)((m[i >> 6] >> (i & 63)) & 1));
}

static void
rb_bit_set(uint64_t *m, uint64_t i)
{
	m[i >> 6] |= 1ULL << (i & 63);
}

void
rb_bits_need(struct rb *w, uint64_t seq)
{
	uint64_t	 cap = w->bitcap ? w->bitcap : (1ULL << 20);
	size_t		 ow = (size_t)(w->bitcap / 64), nw;

	if (seq < w->bitcap)
		return;
	while (cap <= seq)
		cap *= 2;
	nw = (size_t)(cap / 64);
	w->acc = rb_grow(w->acc, nw * sizeof(uint64_t));
	w->rcv = rb_grow(w->rcv, nw * sizeof(uint64_t));
	memset(w->acc + ow, 0, (nw - ow) * sizeof(uint64_t));
	memset(w->rcv + ow, 0, (nw - ow) * sizeof(uint64_t));
	w->bitcap = cap;
}

int
rb_measuring(const struct rb *w, uint64_t now)
{
	return (w->phase == PH_RUN && now >= w->twarm && now < w->tend);
}

/* Append a latency sample of us microseconds to *a. */
static void
rb_sample(uint32_t **a, size_t *cap, uint64_t *n, uint64_t us)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 65536;
		*a = rb_grow(*a, *cap * sizeof(uint32_t));
	}
	(*a)[(*n)++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

void
rb_accepted(struct rb *w, uint64_t seq, uint64_t sent, uint64_t now)
{
	w->r.accepted++;
	if (rb_measuring(w, now)) {
		w->r.sent++;
		rb_sample(&w->plat, &w->platcap, &w->r.nplat, now - sent);
	}
	if (seq >= w->seq)
		return;
	rb_bit_set(w->acc, seq);
	if (rb_bit(w->rcv, seq))
		w->both++;
}

void
rb_arrived(struct rb *w, const char *head, uint64_t now)
{
	unsigned char	 raw[RB_HEAD];
	uint64_t	 ts, seq, us;

	if (rb_b64_decode(head, RB_HEAD_B64, raw) == -1) {
		w->r.err[E_UNREADABLE]++;
		return;
	}
	if (((unsigned)raw[16] << 8 | raw[17]) != w->nonce) {
		w->r.stale++;
		return;
	}
	ts = rb_get64(raw);
	seq = rb_get64(raw + 8);
	if (seq >= w->seq) {
		w->r.err[E_STRAY]++;
		return;
	}
	if (rb_bit(w->rcv, seq)) {
		w->r.dups++;
		return;
	}
	rb_bit_set(w->rcv, seq);
	w->r.delivered++;
	if (rb_bit(w->acc, seq))
		w->both++;
	w->last_rx = w->last_progress = now;
	if (!rb_measuring(w, now))
		return;
	w->r.received++;
	us = now > ts ? now - ts : 0;
	rb_sample(&w->lat, &w->latcap, &w->r.nlat, us);
}

size_t
rb_payload(struct rb *w, char *p, uint64_t seq, uint64_t now)
{
	unsigned char	 raw[RB_HEAD];
	size_t		 n;

	memcpy(raw, w->pad, RB_HEAD);
	rb_put64(raw, now);
	rb_put64(raw + 8, seq);
	raw[16] = (unsigned char)(w->nonce >> 8);
	raw[17] = (unsigned char)w->nonce;
	n = rb_b64_encode(raw, RB_HEAD, p, 0);
	memcpy(p + n, w->tail, w->taillen);
	return (n + w->taillen);
}
