/*
 * rb_http.c: routingd-bench's HTTP connections, in a measuring process:
 * the senders and the drainers.
 *
 * A sender is one keep-alive HTTP/1.1 connection with up to --pipeline
 * requests in flight (pipelined), answered in order: routingd's POST
 * /api/send of one envelope, or with --array N of a JSON array of N
 * envelopes to N users in turn (Bearer token of sender-K), or nchan's
 * publish (POST of the payload to --pub-path plus the channel, no token).  Its
 * ring of message numbers and send times pairs each answer with its
 * request.  Accepted: 202 from routingd; 201 or 202 from nchan (with and
 * without subscribers).  Message numbers go to the users of this process
 * in turn, so each user gets every user_n-th message.
 *
 * A drainer (the drain workload) fetches GET /api/messages?limit=500 for
 * one user at a time (its own token), acknowledges with POST
 * /api/messages/ack the ids it got (204), and moves to its next user when a
 * fetch comes back empty: drainer i takes the users i, i + n, i + 2n, ...
 * of this process's share.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memmem */
#endif

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb.h"

#define RBH_DRAIN_LIMIT	500		/* messages per fetch */

static void
rbh_dead(struct rb *w, struct rb_http *h, const char *why)
{
	if (h->dead)
		return;
	if (w->phase == PH_SETUP)
		rb_fatal("send connection %d: %s", h->sender, why);
	rb_warn(w, 0, "send connection %d: %s (%d requests unanswered)",
	    h->sender, why, h->inflight);
	h->dead = 1;
	if (h->duser >= 0 && !h->ddone) {
		h->ddone = 1;
		w->ndrained++;
	}
	w->r.err[E_HTTP_CLOSED]++;
	w->inflight -= (uint64_t)h->inflight;
	h->inflight = 0;
	(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, h->fd, NULL);
	SSL_free(h->ssl);
	h->ssl = NULL;
	(void)close(h->fd);
	h->fd = -1;
}

static void
rbh_flush(struct rb *w, struct rb_http *h)
{
	ssize_t	 n;

	while (!h->dead && h->woff < h->wlen) {
		n = rb_io(h->ssl, h->fd, h->wbuf + h->woff, h->wlen - h->woff,
		    1);
		if (n > 0) {
			h->woff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		rbh_dead(w, h, n == 0 ? "send wrote nothing" :
		    strerror(errno));
		return;
	}
	h->woff = h->wlen = 0;
}

static void
rbh_need(struct rb_http *h, size_t n)
{
	if (h->woff > 0 && h->wlen + n > h->wcap) {
		memmove(h->wbuf, h->wbuf + h->woff, h->wlen - h->woff);
		h->wlen -= h->woff;
		h->woff = 0;
	}
	if (h->wlen + n > h->wcap) {
		while (h->wlen + n > h->wcap)
			h->wcap = h->wcap ? h->wcap * 2 : 16384;
		h->wbuf = rb_grow(h->wbuf, h->wcap);
	}
}

/* Note a request whose answer pairs with message seq sent at now. */
static void
rbh_expect(struct rb *w, struct rb_http *h, uint64_t seq, uint64_t now)
{
	h->seq[(h->head + h->inflight) % RB_MAXPIPE] = seq;
	h->sendt[(h->head + h->inflight) % RB_MAXPIPE] = now;
	h->inflight++;
	w->inflight++;
}

/* One envelope of message seq at p; its length. */
static size_t
rbh_envelope(struct rb *w, char *p, uint64_t seq, uint64_t now)
{
	char	*q = p;

	q += sprintf(q, "{\"recipientId\":\"bench-%d\",\"encryptedData\":\"",
	    w->user_lo + (int)(seq % (uint64_t)w->user_n));
	q += rb_payload(w, q, seq, now);
	*q++ = '"';
	*q++ = '}';
	return ((size_t)(q - p));
}

/*
 * Queue the send of --array messages on h (not written yet): nchan's
 * publish of one, or routingd's POST /api/send of one envelope, or of an
 * array of them.  The ring keeps the first message's number.
 */
static void
rbh_post(struct rb *w, struct rb_http *h)
{
	static char	*body;
	static size_t	 bcap;
	uint64_t	 seq = w->seq, now = rb_now();
	size_t		 blen = 0, plen = RB_HEAD_B64 + w->taillen, need;
	char		*p;
	int		 i, n = w->o.target == T_NCHAN ? 1 : w->o.array;

	w->seq += (uint64_t)n;
	rb_bits_need(w, w->seq);
	need = (size_t)n * (plen + 64) + 2;
	if (need > bcap) {
		bcap = need;
		body = rb_grow(body, bcap);
	}
	if (w->o.target == T_NCHAN)
		blen = rb_payload(w, body, seq, now);
	else {
		if (n > 1)
			body[blen++] = '[';
		for (i = 0; i < n; i++) {
			if (i > 0)
				body[blen++] = ',';
			blen += rbh_envelope(w, body + blen, seq + (uint64_t)i,
			    now);
		}
		if (n > 1)
			body[blen++] = ']';
	}
	rbh_need(h, 512 + (h->token ? strlen(h->token) : 0) + blen);
	p = h->wbuf + h->wlen;
	if (w->o.target == T_NCHAN)
		p += sprintf(p, "POST %sbench-%d HTTP/1.1\r\nHost: "
		    "127.0.0.1:%d\r\nContent-Type: text/plain\r\n"
		    "Content-Length: %zu\r\n\r\n", w->o.pub_path,
		    w->user_lo + (int)(seq % (uint64_t)w->user_n),
		    w->o.api_port, blen);
	else
		p += sprintf(p, "POST /api/send HTTP/1.1\r\nHost: "
		    "127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu"
		    "\r\n\r\n", w->o.api_port, h->token, blen);
	memcpy(p, body, blen);
	h->wlen = (size_t)(p + blen - h->wbuf);
	rbh_expect(w, h, seq, now);
	w->r.posted += (uint64_t)n;
}

/* Queue a drain request for h's user: a fetch, or an ack of ids. */
static void
rbh_drain_req(struct rb *w, struct rb_http *h, const char *body, size_t blen)
{
	char	 sub[32];
	int	 n;

	if (h->dtoken == NULL || h->dtoken_user != h->duser) {
		free(h->dtoken);
		(void)snprintf(sub, sizeof(sub), "bench-%d", h->duser);
		h->dtoken = rb_token(w, sub);
		h->dtoken_user = h->duser;
	}
	rbh_need(h, 512 + strlen(h->dtoken) + blen);
	if (body == NULL)
		n = sprintf(h->wbuf + h->wlen, "GET /api/messages?limit=%d "
		    "HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer "
		    "%s\r\n\r\n", RBH_DRAIN_LIMIT, w->o.api_port, h->dtoken);
	else
		n = sprintf(h->wbuf + h->wlen, "POST /api/messages/ack "
		    "HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer "
		    "%s\r\nContent-Type: application/json\r\nContent-Length: "
		    "%zu\r\n\r\n", w->o.api_port, h->dtoken, blen);
	h->wlen += (size_t)n;
	if (body != NULL) {
		memcpy(h->wbuf + h->wlen, body, blen);
		h->wlen += blen;
	}
	rbh_expect(w, h, UINT64_MAX, rb_now());
	rbh_flush(w, h);
}

/* From a fetch's body, {"messageIds":[...]} into *out; how many ids. */
static size_t
rbh_ack_body(const char *body, size_t len, char **out, size_t *olen)
{
	const char	*p = body, *end = body + len, *q;
	size_t		 n = 0, off, cap = 32 + len;
	char		*b = rb_alloc(cap);

	off = (size_t)sprintf(b, "{\"messageIds\":[");
	while ((p = memmem(p, (size_t)(end - p), "\"id\":\"", 6)) != NULL) {
		p += 6;
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			break;
		off += (size_t)sprintf(b + off, "%s\"%.*s\"", n ? "," : "",
		    (int)(q - p), p);
		n++;
		p = q;
	}
	off += (size_t)sprintf(b + off, "]}");
	*out = b;
	*olen = off;
	return (n);
}

/* The next step of a drainer after an answer of status with body. */
static void
rbh_drain_next(struct rb *w, struct rb_http *h, int status, const char *body,
    size_t blen)
{
	char	*ack;
	size_t	 alen, n;

	if (h->ddone)
		return;
	if (h->dack) {
		h->dack = 0;
		rbh_drain_req(w, h, NULL, 0);
		return;
	}
	if (status != 200) {
		h->ddone = 1;
		h->duser = -1;
		w->ndrained++;
		return;
	}
	if ((n = rbh_ack_body(body, blen, &ack, &alen)) == 0) {
		free(ack);
		h->duser += w->send_n;
		if (h->duser >= w->user_lo + w->user_n) {
			h->ddone = 1;
			h->duser = -1;
			w->ndrained++;
		} else
			rbh_drain_req(w, h, NULL, 0);
		return;
	}
	if (w->phase == PH_DRAIN)
		w->r.drained += n;
	h->dack = 1;
	rbh_drain_req(w, h, ack, alen);
	free(ack);
}

/* One whole answer of status with body [body, body + clen). */
static void
rbh_answer(struct rb *w, struct rb_http *h, int status, const char *body,
    size_t clen)
{
	uint64_t	 now = rb_now(), seq, sent;
	int		 ok, i, n;

	seq = h->seq[h->head];
	sent = h->sendt[h->head];
	h->head = (h->head + 1) % RB_MAXPIPE;
	h->inflight--;
	w->inflight--;
	w->last_progress = now;
	w->r.status[status > 0 && status < RB_NSTATUS ? status : 0]++;
	if (seq == UINT64_MAX) {	/* a drain request */
		if (status != 200 && status != 204)
			w->r.err[E_HTTP_STATUS]++;
		rbh_drain_next(w, h, status, body, clen);
		return;
	}
	ok = status == 202 || (w->o.target == T_NCHAN && status == 201);
	n = w->o.target == T_NCHAN ? 1 : w->o.array;
	if (ok) {
		for (i = 0; i < n; i++)
			rb_accepted(w, seq + (uint64_t)i, sent, now);
		return;
	}
	w->r.err[E_HTTP_STATUS]++;
	rb_warn(w, 1, "send: %d %.*s", status, (int)(clen < 200 ? clen : 200),
	    body);
}

/* Take the whole answers off the front of h's buffer. */
static void
rbh_parse(struct rb *w, struct rb_http *h)
{
	const char	*buf = h->rbuf, *end, *cl;
	size_t		 off = 0, hlen, clen, vlen;
	int		 status;

	while (!h->dead && off < h->rlen) {
		end = memmem(buf + off, h->rlen - off, "\r\n\r\n", 4);
		if (end == NULL)
			break;
		hlen = (size_t)(end - (buf + off)) + 4;
		clen = 0;
		if ((cl = rb_header(buf + off, end + 2, "Content-Length",
		    &vlen)) != NULL)
			clen = strtoul(cl, NULL, 10);
		if (h->rlen - off < hlen + clen)
			break;
		if (hlen < 13 || memcmp(buf + off, "HTTP/1.", 7) != 0)
			rb_fatal("send connection %d: not an HTTP answer: "
			    "%.40s", h->sender, buf + off);
		status = atoi(buf + off + 9);
		if (h->inflight == 0)
			rb_fatal("send connection %d: an answer to no request "
			    "(status %d)", h->sender, status);
		rbh_answer(w, h, status, end + 4, clen);
		off += hlen + clen;
	}
	if (off > 0) {
		memmove(h->rbuf, h->rbuf + off, h->rlen - off);
		h->rlen -= off;
	}
	if (h->rlen == RB_HTTP_RBUF)
		rb_fatal("send connection %d: an answer over %d bytes",
		    h->sender, RB_HTTP_RBUF);
}

/* Keep h's pipeline full (unpaced senders). */
static void
rbh_fill(struct rb *w, struct rb_http *h)
{
	if (h->dead || h->duser >= 0 || w->phase != PH_RUN || w->rate > 0)
		return;
	while (h->inflight < w->o.pipeline)
		rbh_post(w, h);
	rbh_flush(w, h);
}

void
rbh_fill_all(struct rb *w)
{
	int	 j;

	for (j = 0; w->hc != NULL && j < w->send_n; j++)
		rbh_fill(w, &w->hc[j]);
}

void
rbh_event(struct rb *w, struct rb_http *h, uint32_t events)
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
			rbh_dead(w, h, why);
			return;
		}
		h->up = 1;
		w->nhttp_up++;
	}
	if ((events & EPOLLOUT) || h->ssl != NULL)	/* TLS: any way */
		rbh_flush(w, h);
	while (!h->dead) {
		n = rb_io(h->ssl, h->fd, h->rbuf + h->rlen,
		    RB_HTTP_RBUF - h->rlen, 0);
		if (n > 0) {
			h->rlen += (size_t)n;
			rbh_parse(w, h);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		rbh_dead(w, h, n == 0 ? "closed by the server" :
		    strerror(errno));
		return;
	}
	if (h->duser < 0)
		rbh_fill(w, h);
	else
		rbh_flush(w, h);
}

void
rbh_pace(struct rb *w, uint64_t now)
{
	uint64_t	 due;
	struct rb_http	*h = NULL;
	int		 tried;

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
		rbh_post(w, h);
		rbh_flush(w, h);
	}
	if (due > w->seq && due - w->seq > w->r.behind_max)
		w->r.behind_max = due - w->seq;
}

void
rbh_open(struct rb *w)
{
	int	 i, fd, inprogress;
	char	 sub[32];

	w->hc = rb_alloc((size_t)w->send_n * sizeof(*w->hc));
	for (i = 0; i < w->send_n; i++) {
		struct rb_http	*h = &w->hc[i];

		h->kind = K_HTTP;
		h->sender = w->send_lo + i;
		h->duser = -1;
		if (w->o.target == T_ROUTINGD) {
			(void)snprintf(sub, sizeof(sub), "sender-%d",
			    h->sender);
			h->token = rb_token(w, sub);
		}
		h->rbuf = rb_alloc(RB_HTTP_RBUF);
		fd = rb_socket(w, w->o.api_port, w->o.users + h->sender,
		    &inprogress, 1);
		h->fd = fd;
		h->ssl = rb_tls_new(fd);
		rb_epoll_add(w, fd, h);
		if (!inprogress) {
			h->up = 1;
			w->nhttp_up++;
		}
	}
}

void
rbh_drain_start(struct rb *w)
{
	int	 i;

	w->ndrained = 0;
	for (i = 0; i < w->send_n; i++) {
		struct rb_http	*h = &w->hc[i];

		h->dack = 0;
		h->duser = w->user_lo + i;
		h->ddone = h->dead || h->duser >= w->user_lo + w->user_n;
		if (h->ddone) {
			h->duser = -1;
			w->ndrained++;
		}
		else
			rbh_drain_req(w, h, NULL, 0);
	}
}

void
rbh_close_all(struct rb *w)
{
	int	 j;

	for (j = 0; j < w->send_n; j++)
		if (!w->hc[j].dead) {
			SSL_free(w->hc[j].ssl);
			w->hc[j].ssl = NULL;
			(void)close(w->hc[j].fd);
			w->hc[j].dead = 1;
		}
}
