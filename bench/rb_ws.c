/*
 * rb_ws.c: routingd-bench's WebSocket clients, in a measuring process.
 *
 * A receiver is the WebSocket of one user, bench-N: routingd's GET
 * /connect with a Bearer token (device "default"), or nchan's subscribe at
 * --sub-path plus the channel bench-N, no token.  From routingd it reads
 * {"type":"message",...} frames, takes the payload head out of their
 * encryptedData (a string search, no JSON parser) and acknowledges the ids
 * in batches ({"type":"ack"} at most every RB_ACK_US or every RB_ACK_IDS
 * ids per connection); queue_empty says it caught up.  nchan sends the
 * published body as the frame and takes no acknowledgement.
 *
 * A wssend sender is the WebSocket of sender-K, which sends
 * {"type":"send","requestId":"SEQ.TIME","envelope":{...}} frames, up to
 * --pipeline unanswered, and counts each "sent" answer (after the commit)
 * as accepted, each error frame with a requestId as an error.
 *
 * Frames it writes are masked, as a client's must be.  It answers pings,
 * reassembles fragments, and answers a close with a close.  A WebSocket
 * that fails while the setup opens it ends the process, except in the
 * connections and storm workloads, which count the failure (and the storm
 * tries again).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memmem */
#endif

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "rb.h"

/* Do failures to open count (connections, storm) or end the process? */
static int
rbw_tolerant(const struct rb *w)
{
	return (w->o.workload == W_CONNECTIONS || w->o.workload == W_STORM);
}

static void
rbw_release(struct rb *w, struct rb_ws *c)
{
	(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	c->ssl = NULL;
	(void)close(c->fd);
	c->fd = -1;
	c->rlen = c->wlen = c->woff = c->fraglen = 0;
	c->fragging = c->close_sent = c->nack = 0;
	c->acklen = 0;
}

/* c failed before it was open: count it (err) or end the process. */
static void
rbw_failed(struct rb *w, struct rb_ws *c, enum rb_err err, const char *why)
{
	if (!rbw_tolerant(w) || c->sender)
		rb_fatal("WebSocket of %s-%d: %s", c->sender ? "sender" :
		    "bench", c->user, why);
	rb_warn(w, 5, "WebSocket of bench-%d: %s", c->user, why);
	w->r.err[err]++;
	w->hs_inflight--;
	rbw_release(w, c);
	c->state = w->storm ? WS_IDLE : WS_CLOSED;	/* a storm retries */
	if (!w->storm)
		w->nfailed++;
	c->retry_at = rb_now() + RB_RETRY_US;
}

static void
rbw_lost(struct rb *w, struct rb_ws *c, const char *why)
{
	if (c->state == WS_CLOSED || c->state == WS_IDLE)
		return;
	if (c->state != WS_OPEN) {
		rbw_failed(w, c, E_UPGRADE, why);
		return;
	}
	if (w->phase == PH_SETUP && !rbw_tolerant(w))
		rb_fatal("WebSocket of bench-%d: %s", c->user, why);
	if (w->phase != PH_CLOSING) {
		w->r.err[E_WS_CLOSED]++;
		rb_warn(w, 2, "WebSocket of %s-%d: %s", c->sender ? "sender" :
		    "bench", c->user, why);
	}
	if (c->sender)
		w->inflight -= (uint64_t)c->inflight;
	c->inflight = 0;
	c->state = WS_CLOSED;
	w->nclosed++;
	w->nopen--;
	rbw_release(w, c);
}

void
rbw_drop(struct rb *w, struct rb_ws *c)
{
	if (c->state == WS_OPEN)
		w->nopen--;
	else if (c->state == WS_CONNECTING || c->state == WS_HANDSHAKE)
		w->hs_inflight--;
	if (c->state != WS_IDLE && c->state != WS_CLOSED)
		rbw_release(w, c);
	if (c->dirty)
		c->nack = 0;	/* on the list still: flushes nothing */
	c->state = WS_IDLE;
}

static void
rbw_flush(struct rb *w, struct rb_ws *c)
{
	ssize_t	 n;

	while (c->fd != -1 && c->woff < c->wlen) {
		n = rb_io(c->ssl, c->fd, c->wbuf + c->woff,
		    c->wlen - c->woff, 1);
		if (n > 0) {
			c->woff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		rbw_lost(w, c, n == 0 ? "send wrote nothing" :
		    strerror(errno));
		return;
	}
	c->woff = c->wlen = 0;
}

static void
rbw_need(struct rb_ws *c, size_t n)
{
	if (c->woff > 0 && c->wlen + n > c->wcap) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + n > c->wcap) {
		while (c->wlen + n > c->wcap)
			c->wcap = c->wcap ? c->wcap * 2 : 1024;
		c->wbuf = rb_grow(c->wbuf, c->wcap);
	}
}

/* Queue a masked frame of opcode op; written by the caller. */
static void
rbw_frame(struct rb *w, struct rb_ws *c, int op, const void *data, size_t len)
{
	const unsigned char	*in = data;
	unsigned char		*p, mask[4];
	uint32_t		 m = rb_rand32(w);
	size_t			 i;

	rbw_need(c, len + 14);
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
		rb_put64(p, (uint64_t)len);
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
}

void
rbw_send(struct rb *w, struct rb_ws *c, int op, const void *data, size_t len)
{
	if (c->state != WS_OPEN)
		return;
	rbw_frame(w, c, op, data, len);
	rbw_flush(w, c);
}

static void
rbw_ack_flush(struct rb *w, struct rb_ws *c)
{
	if (c->nack == 0)
		return;
	c->ack[c->acklen - 1] = ']';	/* the last ',' */
	c->ack[c->acklen++] = '}';
	rbw_send(w, c, 0x1, c->ack, c->acklen);
	c->acklen = 0;
	c->nack = 0;
}

static void
rbw_ack_add(struct rb *w, struct rb_ws *c, const char *id, size_t len)
{
	static const char	 pre[] = "{\"type\":\"ack\",\"messageIds\":[";

	if (c->ack == NULL)
		c->ack = rb_alloc(RB_ACK_CAP);
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
	if (c->nack >= RB_ACK_IDS)
		rbw_ack_flush(w, c);
}

void
rbw_ack_tick(struct rb *w)
{
	int	 i;

	for (i = 0; i < w->ndirty; i++) {
		rbw_ack_flush(w, w->dirty[i]);
		w->dirty[i]->dirty = 0;
	}
	w->ndirty = 0;
}

/* A "sent" or error answer of a wssend sender, requestId at rid. */
static void
rbw_answer(struct rb *w, struct rb_ws *c, const char *rid, int ok)
{
	uint64_t	 seq, sent;
	char		*end;

	seq = strtoull(rid, &end, 10);
	sent = *end == '.' ? strtoull(end + 1, NULL, 10) : 0;
	if (c->inflight > 0) {
		c->inflight--;
		w->inflight--;
	}
	w->last_progress = rb_now();
	if (ok)
		rb_accepted(w, seq, sent, w->last_progress);
	else
		w->r.err[E_WS_ERROR]++;
}

/* A routingd "message" frame [t, end) of id at id (up to q). */
static void
rbw_message(struct rb *w, struct rb_ws *c, const char *t, const char *end)
{
	static const char	 msg[] = "{\"type\":\"message\",\"id\":\"";
	static const char	 data[] = "\"encryptedData\":\"";
	const char		*id = t + sizeof(msg) - 1, *q;

	if ((q = memchr(id, '"', (size_t)(end - id))) == NULL || q == id ||
	    q - id > RB_ID_MAX) {
		w->r.err[E_UNREADABLE]++;
		return;
	}
	rbw_ack_add(w, c, id, (size_t)(q - id));
	if (!c->got_empty || w->phase == PH_CLOSING)
		return;		/* the backlog of an earlier run */
	if ((q = memmem(q, (size_t)(end - q), data, sizeof(data) - 1)) ==
	    NULL || (size_t)(end - q) < sizeof(data) - 1 + RB_HEAD_B64) {
		w->r.err[E_UNREADABLE]++;
		rb_warn(w, 3, "bench-%d: a message frame without our "
		    "encryptedData: %.*s", c->user,
		    (int)(end - t < 200 ? end - t : 200), t);
		return;
	}
	rb_arrived(w, q + sizeof(data) - 1, rb_now());
}

/* One text message from the server. */
static void
rbw_text(struct rb *w, struct rb_ws *c, const char *t, size_t len)
{
	static const char	 msg[] = "{\"type\":\"message\",\"id\":\"";
	static const char	 empty[] = "{\"type\":\"queue_empty\"";
	static const char	 sent[] =
	    "{\"type\":\"sent\",\"requestId\":\"";
	static const char	 err[] = "{\"type\":\"error\"";
	static const char	 rid[] = "\"requestId\":\"";
	const char		*end = t + len, *q;

	if (w->o.target == T_NCHAN) {
		if (w->phase == PH_SETUP || w->phase == PH_CLOSING)
			w->r.stale++;
		else if (len < RB_HEAD_B64)
			w->r.err[E_UNREADABLE]++;
		else
			rb_arrived(w, t, rb_now());
		return;
	}
	if (len > sizeof(msg) && memcmp(t, msg, sizeof(msg) - 1) == 0)
		rbw_message(w, c, t, end);
	else if (len >= sizeof(empty) - 1 &&
	    memcmp(t, empty, sizeof(empty) - 1) == 0) {
		if (!c->got_empty) {
			c->got_empty = 1;
			w->nempty++;
		}
	} else if (len > sizeof(sent) && memcmp(t, sent, sizeof(sent) - 1) ==
	    0)
		rbw_answer(w, c, t + sizeof(sent) - 1, 1);
	else if (len >= sizeof(err) - 1 &&
	    memcmp(t, err, sizeof(err) - 1) == 0) {
		rb_warn(w, 4, "%s-%d: %.*s", c->sender ? "sender" : "bench",
		    c->user, (int)(len < 300 ? len : 300), t);
		if (c->sender && (q = memmem(t, len, rid, sizeof(rid) - 1)) !=
		    NULL)
			rbw_answer(w, c, q + sizeof(rid) - 1, 0);
		else
			w->r.err[E_WS_ERROR]++;
	}
}

/* A data frame (or a piece of a fragmented message). */
static void
rbw_data(struct rb *w, struct rb_ws *c, int op, int fin, unsigned char *p,
    size_t len)
{
	if (op == 0x0 && !c->fragging) {
		rbw_lost(w, c, "a continuation frame out of place");
		return;
	}
	if (op != 0x0 && c->fragging) {
		rbw_lost(w, c, "a new message inside a fragmented one");
		return;
	}
	if (op != 0x0 && fin) {
		rbw_text(w, c, (const char *)p, len);
		return;
	}
	if (c->fraglen + len > RB_FRAME_MAX) {
		rbw_lost(w, c, "a fragmented message too large");
		return;
	}
	if (c->fraglen + len > c->fragcap) {
		c->fragcap = c->fraglen + len + 4096;
		c->frag = rb_grow(c->frag, c->fragcap);
	}
	memcpy(c->frag + c->fraglen, p, len);
	c->fraglen += len;
	c->fragging = 1;
	if (fin) {
		rbw_text(w, c, (const char *)c->frag, c->fraglen);
		c->fraglen = 0;
		c->fragging = 0;
	}
}

/* One frame; payload already unmasked. */
static void
rbw_one(struct rb *w, struct rb_ws *c, int b0, unsigned char *p, size_t len)
{
	unsigned char	 code[2];
	char		 why[64];
	int		 op = b0 & 0x0f;

	switch (op) {
	case 0x0:
	case 0x1:
	case 0x2:
		rbw_data(w, c, op, b0 & 0x80, p, len);
		return;
	case 0x8:
		code[0] = len >= 2 ? p[0] : 0x03;	/* 1000 */
		code[1] = len >= 2 ? p[1] : 0xe8;
		if (!c->close_sent) {
			rbw_send(w, c, 0x8, code, 2);
			c->close_sent = 1;
		}
		(void)snprintf(why, sizeof(why), "closed by the server with "
		    "code %d", len >= 2 ? p[0] << 8 | p[1] : 1005);
		rbw_lost(w, c, why);
		return;
	case 0x9:
		rbw_send(w, c, 0xa, p, len);
		return;
	case 0xa:
		return;
	default:
		(void)snprintf(why, sizeof(why), "a frame of unknown opcode "
		    "%d", op);
		rbw_lost(w, c, why);
	}
}

/* Take the whole frames off the front of c's buffer. */
static void
rbw_parse(struct rb *w, struct rb_ws *c)
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
			len = rb_get64(p + 2);
			hdr = 10;
		}
		if (p[1] & 0x80)
			hdr += 4;	/* a masked server frame: tolerated */
		if (len > RB_FRAME_MAX) {
			rbw_lost(w, c, "a frame over 16 MiB");
			return;
		}
		if (avail < hdr + len) {
			need = hdr + (size_t)len;
			break;
		}
		if (p[1] & 0x80)
			for (i = 0; i < len; i++)
				p[hdr + i] ^= p[hdr - 4 + (i & 3)];
		rbw_one(w, c, p[0], p + hdr, (size_t)len);
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
		c->rbuf = rb_grow(c->rbuf, c->rcap);
	}
}

/* The answer to our upgrade, once whole. */
static void
rbw_head(struct rb *w, struct rb_ws *c)
{
	static const char	 guid[] =
	    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	const char		*buf = (const char *)c->rbuf, *end, *v;
	unsigned char		 sha[SHA_DIGEST_LENGTH];
	char			 cat[96], want[32], why[160];
	size_t			 hlen, vlen, n;

	if ((end = memmem(buf, c->rlen, "\r\n\r\n", 4)) == NULL) {
		if (c->rlen == c->rcap)
			rbw_failed(w, c, E_UPGRADE, "an upgrade answer too "
			    "long");
		return;
	}
	hlen = (size_t)(end - buf) + 4;
	if (hlen < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
		(void)snprintf(why, sizeof(why), "upgrade refused: %.*s",
		    (int)(c->rlen < 100 ? c->rlen : 100), buf);
		rbw_failed(w, c, E_UPGRADE, why);
		return;
	}
	n = (size_t)snprintf(cat, sizeof(cat), "%s%s", c->key, guid);
	SHA1((const unsigned char *)cat, n, sha);
	n = rb_b64_encode(sha, sizeof(sha), want, 0);
	if ((v = rb_header(buf, end + 2, "Sec-WebSocket-Accept", &vlen)) ==
	    NULL || vlen != n || memcmp(v, want, n) != 0) {
		rbw_failed(w, c, E_UPGRADE, "wrong or no "
		    "Sec-WebSocket-Accept");
		return;
	}
	memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
	c->rlen -= hlen;
	c->state = WS_OPEN;
	w->nopen++;
	w->hs_inflight--;
	if (w->storm)
		w->r.reconnected++;
	if (w->o.target == T_NCHAN && !c->got_empty) {
		c->got_empty = 1;	/* nchan has no queue_empty */
		w->nempty++;
	}
	rbw_parse(w, c);
}

static void
rbw_read(struct rb *w, struct rb_ws *c)
{
	ssize_t	 n;

	while (c->state == WS_HANDSHAKE || c->state == WS_OPEN) {
		if (c->rlen == c->rcap) {
			c->rcap *= 2;
			c->rbuf = rb_grow(c->rbuf, c->rcap);
		}
		n = rb_io(c->ssl, c->fd, c->rbuf + c->rlen,
		    c->rcap - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			if (c->state == WS_HANDSHAKE)
				rbw_head(w, c);
			else
				rbw_parse(w, c);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		rbw_lost(w, c, n == 0 ? "closed by the server (EOF)" :
		    strerror(errno));
	}
}

/* Connected: send the upgrade request. */
static void
rbw_upgrade(struct rb *w, struct rb_ws *c)
{
	unsigned char	 key[16];
	char		 sub[32], *tok;
	size_t		 i;
	int		 n;

	for (i = 0; i < sizeof(key); i += 4) {
		uint32_t	 r = rb_rand32(w);

		memcpy(key + i, &r, 4);
	}
	c->key[rb_b64_encode(key, sizeof(key), c->key, 0)] = '\0';
	(void)snprintf(sub, sizeof(sub), "%s-%d", c->sender ? "sender" :
	    "bench", c->user);
	rbw_need(c, 1024);
	if (w->o.target == T_NCHAN) {
		n = sprintf((char *)c->wbuf + c->wlen, "GET %s%s HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: "
		    "Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		    "Sec-WebSocket-Key: %s\r\n\r\n", w->o.sub_path, sub,
		    w->o.ws_port, c->key);
	} else {
		tok = rb_token(w, sub);
		n = sprintf((char *)c->wbuf + c->wlen, "GET /connect HTTP/1.1"
		    "\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		    "Sec-WebSocket-Key: %s\r\nAuthorization: Bearer %s\r\n\r\n",
		    w->o.ws_port, c->key, tok);
		free(tok);
	}
	c->wlen += (size_t)n;
	c->state = WS_HANDSHAKE;
	rbw_flush(w, c);
}

int
rbw_start(struct rb *w, struct rb_ws *c)
{
	int	 inprogress;

	c->state = WS_CONNECTING;
	w->hs_inflight++;
	if ((c->fd = rb_socket(w, w->o.ws_port, c->gi, &inprogress,
	    !rbw_tolerant(w))) == -1) {
		w->r.err[E_CONNECT]++;
		w->hs_inflight--;
		c->state = w->storm ? WS_IDLE : WS_CLOSED;
		if (!w->storm)
			w->nfailed++;
		c->retry_at = rb_now() + RB_RETRY_US;
		return (-1);
	}
	c->ssl = rb_tls_new(c->fd);
	if (c->rbuf == NULL) {
		c->rcap = RB_WS_RBUF;
		c->rbuf = rb_alloc(c->rcap);
	}
	rb_epoll_add(w, c->fd, c);
	if (!inprogress)
		rbw_upgrade(w, c);
	return (0);
}

void
rbw_event(struct rb *w, struct rb_ws *c, uint32_t events)
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
			char	 why[128];

			(void)snprintf(why, sizeof(why), "connect to "
			    "127.0.0.1:%d: %s", w->o.ws_port, strerror(err));
			rbw_failed(w, c, E_CONNECT, why);
			return;
		}
		rbw_upgrade(w, c);
		return;
	}
	if (c->state == WS_CLOSED || c->state == WS_IDLE)
		return;
	if ((events & EPOLLOUT) || c->ssl != NULL)	/* TLS: any way */
		rbw_flush(w, c);
	rbw_read(w, c);
	if (c->ssl != NULL && c->state == WS_OPEN && c->woff < c->wlen)
		rbw_flush(w, c);	/* a handshake read may unblock it */
}

/* Queue one "send" frame on the wssend sender c. */
static void
rbw_post(struct rb *w, struct rb_ws *c)
{
	uint64_t	 seq = w->seq++, now = rb_now();
	size_t		 cap = 256 + RB_HEAD_B64 + w->taillen, n;
	char		*buf = rb_alloc(cap);

	rb_bits_need(w, seq);
	n = (size_t)snprintf(buf, cap, "{\"type\":\"send\",\"requestId\":\""
	    "%" PRIu64 ".%" PRIu64 "\",\"envelope\":{\"recipientId\":"
	    "\"bench-%d\",\"encryptedData\":\"", seq, now,
	    w->user_lo + (int)(seq % (uint64_t)w->user_n));
	n += rb_payload(w, buf + n, seq, now);
	n += (size_t)snprintf(buf + n, cap - n, "\"}}");
	rbw_frame(w, c, 0x1, buf, n);
	free(buf);
	c->inflight++;
	w->inflight++;
	w->r.posted++;
}

void
rbw_fill_all(struct rb *w)
{
	struct rb_ws	*c;
	int		 j;

	if (w->phase != PH_RUN || w->rate > 0)
		return;
	for (j = 0; j < w->send_n; j++) {
		c = &w->wss[j];
		if (c->state != WS_OPEN || c->inflight >= w->o.pipeline)
			continue;
		while (c->inflight < w->o.pipeline)
			rbw_post(w, c);
		rbw_flush(w, c);
	}
}

void
rbw_pace(struct rb *w, uint64_t now)
{
	uint64_t	 due;
	struct rb_ws	*c = NULL;
	int		 tried;

	due = (uint64_t)((double)(now - w->t0) * w->rate / 1e6);
	while (w->seq < due) {
		for (tried = 0; tried < w->send_n; tried++) {
			c = &w->wss[w->rr];
			w->rr = (w->rr + 1) % w->send_n;
			if (c->state == WS_OPEN &&
			    c->inflight < w->o.pipeline)
				break;
		}
		if (tried == w->send_n)
			break;		/* every pipeline is full */
		rbw_post(w, c);
		rbw_flush(w, c);
	}
	if (due > w->seq && due - w->seq > w->r.behind_max)
		w->r.behind_max = due - w->seq;
}

void
rbw_close_all(struct rb *w, struct rb_ws *cs, int n)
{
	unsigned char	 code[2] = { 0x03, 0xe8 };	/* 1000 */
	uint64_t	 until;
	int		 j, open = 0;

	for (j = 0; j < n; j++) {
		if (cs[j].state != WS_OPEN || cs[j].close_sent)
			continue;
		rbw_send(w, &cs[j], 0x8, code, 2);
		cs[j].close_sent = 1;
	}
	until = rb_now() + RB_CLOSE_US;
	do {
		for (open = 0, j = 0; j < n; j++)
			open += cs[j].state == WS_OPEN;
		if (open > 0)
			rbr_dispatch(w, 10);
	} while (open > 0 && rb_now() < until);
	for (j = 0; j < n; j++)
		rbw_drop(w, &cs[j]);
}
