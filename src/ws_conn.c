/*
 * ws_conn.c: one WebSocket connection of a WS worker (RFC 6455 through
 * wslay, server side).
 *
 * Owns the connection's socket, its wslay context, read and write
 * watchers, the bytes that came with the upgrade, its position in the
 * device queue (a qs_cursor) and its window of pushed but unacknowledged
 * messages.  Messages from the client, through the worker's group
 * commit: ack (a durable delete by the rules of msgrecv.c, like POST
 * /api/messages/ack; no answer) and send (msgsend.c, like POST
 * /api/send; answered sent, or error).  Any other text or binary
 * message (not a JSON object with a "type", or an unknown type), and a
 * malformed ack or send, is a bad frame: answered with an error frame,
 * and the connection closes with 1008 once more than WS_BAD_FRAMES_MAX
 * error frames were counted.  Errors that are not the client's fault (a
 * full queue, a rate-limited send, out of memory, a store that failed an
 * ack or a send) are answered the same way but not counted.  What breaks
 * RFC 6455 itself gets no error frame but a close: 1002 (from wslay, or
 * from wsf_filter for what wslay would only drop the TCP connection for:
 * a control frame over WSF_CTL_MAX bytes or with FIN=0, a length not in
 * its shortest form), 1007 (bad UTF-8 in a text message), 1009 for a
 * message over WS_MAX_MSG bytes or WS_MAX_FRAGMENTS frames.
 *
 * The client's bytes pass through wsf_filter (wsframe.c) before wslay
 * parses them: it follows the frame heads, takes valid pings and pongs
 * out of the stream and gives wslay the rest.  A ping makes a pong owed,
 * with the latest ping's payload (RFC 6455 5.5.3 allows answering only
 * the most recent one); wsc_pong queues it once the previous pong has
 * left wslay's queue.  Control frames beyond the WS_CTL_RATE/WS_CTL_BURST
 * bucket close the connection with 1008.
 *
 * Invariants:
 * - wslay_event_context_free and the free of the connection happen only
 *   when no wslay call is on the stack (wc_busy) and no op of the
 *   connection (ack, send, admission) is in the group commit (wc_ops);
 *   until then it is marked dead.
 * - Pulls from LMDB stop while the window is full (ws_window unacked) or
 *   the output is full: WS_OUT_CAP counts the bytes in wslay's queue plus
 *   WS_MSG_COST per queued frame and the owed pong.  Reads stop too in
 *   the second case: memory per connection is bounded (at most one pong
 *   queued, one being written and one owed, whatever a client sends).
 *   The messages stay queued in LMDB.
 * - A message is framed before its commit (wsc_early) only when the
 *   cursor is at or past every lane's newest seq its queue held before it
 *   and the drop marker told is the queue's, so it is the queue's next
 *   message; it advances the cursor and the window as a pulled one does.
 * - One readable event reads at most WSC_READ_MAX bytes and
 *   WSC_FRAMES_MAX frame heads, then yields to the loop; raw bytes read
 *   past that wait in wc_rest for the next turn (a due pull runs it).
 * - A connection whose writes stall for send_timeout is killed (1008,
 *   counted; no close frame, the peer reads nothing): routingd's own
 *   output blocked (wc_stall_since), or the kernel's send queue not
 *   empty and not acknowledged any further (SIOCOUTQ, sampled per tick).
 * - Per-connection trouble never logs: it becomes a close code and a
 *   counter.
 * - A connection sleeps (wc_ctx NULL, wsc_sleep from its tick) only
 *   between whole frames and whole messages, with nothing queued, no pong
 *   owed and no close begun, so that a new wslay context (wsc_wake, before
 *   any read, queued frame or close) carries on exactly where the freed
 *   one was.  Asleep, it wants to read and has nothing to write.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/sockios.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "config.h"
#include "handoff.h"
#include "json.h"
#include "metrics.h"
#include "msgrecv.h"
#include "msgsend.h"
#include "ratelimit.h"
#include "routingd.h"
#include "shm.h"
#include "tls.h"
#include "worker.h"
#include "ws.h"

#define WSC_MAX_TOKENS		4096	/* JSON tokens per frame */
#define WSC_RID_MAX		64	/* bytes of a requestId */
#define WSC_READ_MAX		(256 * 1024)	/* bytes read per turn */
#define WSC_FRAMES_MAX		64	/* frame heads read per turn */
#define WSC_HEAD_MAX		WSF_HEAD_MAX	/* bytes of a client frame head */
#define WSC_REC_MAX		16384	/* head + payload in one TLS record */
#define WSC_SLEEP_AFTER		2.0	/* s without input before a sleep */

struct wsc_send_op {
	struct commit_op sd_op;
	struct ws_conn	*sd_conn;
	char		 sd_rid[WSC_RID_MAX + 1];	/* "" when none */
	struct ms_batch	*sd_b;
	uint64_t	 sd_t0_us;	/* the frame's arrival, monotonic */
};

struct wsc_ack_op {
	struct mr_ack	 ka_ack;		/* first: op == struct */
	struct ws_conn	*ka_conn;
	uint64_t	 ka_t0_us;	/* the frame's arrival, monotonic */
};

static void	wsc_run(struct ws_conn *, int);
static int	wsc_out_full(const struct ws_conn *);
static int	wsc_queue(struct ws_conn *, uint8_t, const void *, size_t);
static void	wsc_settle(struct ws_conn *);
static void	wsc_io_cb(struct ev_loop *, ev_io *, int);

static jsmntok_t	 wsc_tok[WSC_MAX_TOKENS];	/* one frame at a time */
static char		*wsc_buf;			/* outgoing frame text */
static size_t		 wsc_bufcap;

static ev_tstamp
wsc_now(const struct ws_conn *c)
{
	return (ev_now(c->wc_ws->x_w->w_loop));
}

static void
wsc_count(_Atomic uint64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* The client's bytes, before wslay                                    */
/* ------------------------------------------------------------------ */

static int	wsc_wake(struct ws_conn *);

/* wslay's view of c; a sleeping connection (no context) wants to read,
 * has nothing to write and nothing queued. */
static int
wsc_want_read(const struct ws_conn *c)
{
	return (c->wc_ctx == NULL || wslay_event_want_read(c->wc_ctx));
}

static int
wsc_want_write(const struct ws_conn *c)
{
	return (c->wc_ctx != NULL && wslay_event_want_write(c->wc_ctx));
}

static size_t
wsc_queued(const struct ws_conn *c, size_t *bytes)
{
	if (c->wc_ctx == NULL) {
		*bytes = 0;
		return (0);
	}
	*bytes = wslay_event_get_queued_msg_length(c->wc_ctx);
	return (wslay_event_get_queued_msg_count(c->wc_ctx));
}

/* Close c for what its frames did and read nothing more. */
static void
wsc_fail(struct ws_conn *c, uint16_t code, const char *why)
{
	wsc_close(c, code, why);
	if (c->wc_ctx != NULL)
		wslay_event_shutdown_read(c->wc_ctx);
}

/*
 * Raw bytes from the client into buf (at most len): first those that
 * came with the upgrade or were left by an earlier turn (wc_rest), then
 * the socket's.  Returns the count, 0 when nothing is there, -1 on EOF
 * or an error.  *kept is set when they came from wc_rest.
 */
static ssize_t
wsc_raw(struct ws_conn *c, uint8_t *buf, size_t len, int *kept)
{
	size_t	 n;
	ssize_t	 r;
	int	 want = 0;

	*kept = c->wc_restoff < c->wc_restlen;
	if (*kept) {
		n = c->wc_restlen - c->wc_restoff;
		if (n > len)
			n = len;
		memcpy(buf, c->wc_rest + c->wc_restoff, n);
		return ((ssize_t)n);
	}
	c->wc_rd_wants_w = 0;
	r = tls_recv(c->wc_ssl, c->wc_fd, buf, len, &want);
	if (r == -1 && errno == EAGAIN) {
		c->wc_rd_wants_w = want == TLS_WANT_WRITE;
		return (0);
	}
	return (r > 0 ? r : -1);
}

/* used of the n raw bytes were taken: keep the rest for the next turn. */
static int
wsc_raw_used(struct ws_conn *c, const uint8_t *raw, size_t n, size_t used,
    int kept)
{
	char	*p;

	if (kept) {
		c->wc_restoff += used;
		return (0);
	}
	if (used == n)
		return (0);
	if ((p = malloc(n - used)) == NULL)
		return (-1);
	memcpy(p, raw + used, n - used);
	free(c->wc_rest);
	c->wc_rest = p;
	c->wc_restlen = n - used;
	c->wc_restoff = 0;
	return (0);
}

/* ------------------------------------------------------------------ */
/* wslay callbacks                                                     */
/* ------------------------------------------------------------------ */

static ssize_t
wsc_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct ws_conn	*c = arg;
	uint8_t		*raw = buf + WSC_HEAD_MAX;
	size_t		 room, used, out;
	ssize_t		 n;
	int		 kept;

	/* wslay asks with room for at least 4 KiB less a frame head */
	if (len <= 2 * WSC_HEAD_MAX) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return (-1);
	}
	/* stop while the output is full (a pong is owed, or data waits), and
	 * give other connections a turn after WSC_READ_MAX bytes or
	 * WSC_FRAMES_MAX frames */
	while (!wsc_out_full(c) && c->wc_nread < WSC_READ_MAX &&
	    wslay_event_get_read_enabled(ctx) &&
	    (wsf_mid_frame(&c->wc_wsf) ||
	    c->wc_wsf.wf_nframes < WSC_FRAMES_MAX)) {
		room = len - WSC_HEAD_MAX;
		if (room > WSC_READ_MAX - c->wc_nread)
			room = WSC_READ_MAX - c->wc_nread;
		if ((n = wsc_raw(c, raw, room, &kept)) <= 0) {
			wslay_event_set_error(ctx, n == 0 ?
			    WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
			return (-1);
		}
		c->wc_last_rx = wsc_now(c);
		out = wsf_filter(&c->wc_wsf, raw, (size_t)n, buf, &used,
		    WSC_FRAMES_MAX, wsc_now(c));
		if (c->wc_wsf.wf_err != WSF_OK) {
			/* nothing more for wslay, not even the frames
			 * before the bad head: the connection is closing */
			wsc_fail(c, wsf_close_code(c->wc_wsf.wf_err),
			    wsf_strerror(c->wc_wsf.wf_err));
			out = 0;
		}
		c->wc_nread += used;
		if (wsc_raw_used(c, raw, (size_t)n, used, kept) == -1) {
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return (-1);
		}
		if (out > 0)
			return ((ssize_t)out);
	}
	wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	return (-1);
}

/*
 * Write the held frame head (its bytes not yet written) and data in one
 * call: sendmsg of both on a plain socket, one TLS record when they fit
 * one (else the head alone first).  Returns what tls_send would, the head
 * included.
 */
static ssize_t
wsc_write(struct ws_conn *c, const uint8_t *data, size_t len, int flags,
    int *want)
{
	uint8_t		 rec[WSC_REC_MAX];
	struct iovec	 iov[2];
	struct msghdr	 msg;
	size_t		 pre = (size_t)(c->wc_prelen - c->wc_preoff);
	ssize_t		 r;

	if (pre == 0)
		return (tls_send(c->wc_ssl, c->wc_fd, data, len, flags, want));
	if (c->wc_ssl != NULL && pre + len > sizeof(rec))
		return (tls_send(c->wc_ssl, c->wc_fd, c->wc_pre + c->wc_preoff,
		    pre, 0, want));
	if (c->wc_ssl != NULL) {
		memcpy(rec, c->wc_pre + c->wc_preoff, pre);
		memcpy(rec + pre, data, len);
		return (tls_send(c->wc_ssl, c->wc_fd, rec, pre + len, 0,
		    want));
	}
	iov[0].iov_base = c->wc_pre + c->wc_preoff;
	iov[0].iov_len = pre;
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	do {
		r = sendmsg(c->wc_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT |
		    (flags & MSG_MORE));
	} while (r == -1 && errno == EINTR);
	if (r == -1 && errno == EWOULDBLOCK)
		errno = EAGAIN;
	return (r);
}

/*
 * wslay hands a frame's head (WSLAY_MSG_MORE) and then its payload: the
 * head is held back and leaves with the payload in one system call (and
 * over TLS in one record).  Partly written, the head's rest goes first on
 * the next call.
 */
static ssize_t
wsc_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws_conn	*c = arg;
	size_t		 pre = (size_t)(c->wc_prelen - c->wc_preoff);
	ssize_t		 r;
	int		 want = 0;

	if ((flags & WSLAY_MSG_MORE) && pre == 0 && len <= sizeof(c->wc_pre)) {
		memcpy(c->wc_pre, data, len);
		c->wc_prelen = (uint8_t)len;
		c->wc_preoff = 0;
		return ((ssize_t)len);
	}
	c->wc_wr_wants_r = 0;
	r = wsc_write(c, data, len, (flags & WSLAY_MSG_MORE) ? MSG_MORE : 0,
	    &want);
	if (r >= 0) {
		c->wc_stall_since = 0;
		c->wc_sent += (uint64_t)r;
		if ((size_t)r < pre) {
			c->wc_preoff += (uint8_t)r;
			r = -1;
		} else {
			c->wc_prelen = c->wc_preoff = 0;
			r -= (ssize_t)pre;
		}
		if (r > 0)
			return (r);
		errno = EAGAIN;		/* only the head went: wait */
	}
	if (errno == EAGAIN) {
		c->wc_wr_wants_r = want == TLS_WANT_READ;
		if (c->wc_stall_since == 0)
			c->wc_stall_since = wsc_now(c);
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	} else
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return (-1);
}

/* Count the frames of each client message; too many is a 1009 close. */
static void
wsc_frame_start_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct ws_conn	*c = user;

	if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->payload_length == 1) {
		/* wslay would take it for "no status": RFC 6455 5.5.1 */
		wsc_close(c, WSLAY_CODE_PROTOCOL_ERROR, "bad close payload");
		return;
	}
	if (arg->opcode >= 0x8)
		return;			/* control frames are never fragments */
	c->wc_msg_open = !arg->fin;
	if (arg->opcode != WSLAY_CONTINUATION_FRAME)
		c->wc_frags = 0;
	if (++c->wc_frags > WS_MAX_FRAGMENTS)
		wsc_close(c, WSLAY_CODE_MESSAGE_TOO_BIG, "too many fragments");
}

static void	wsc_message(struct ws_conn *, const char *, size_t);

static void
wsc_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct ws_conn	*c = user;

	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		if (!c->wc_closing)
			wsc_message(c, (const char *)arg->msg, arg->msg_length);
		break;
	case WSLAY_CONNECTION_CLOSE:
		if (c->wc_close_code == 0)
			c->wc_close_code = arg->status_code != 0 ?
			    arg->status_code : WSLAY_CODE_NO_STATUS_RCVD;
		c->wc_closing = 1;
		c->wc_close_at = wsc_now(c) + WS_CLOSE_WAIT;
		break;
	default:
		break;			/* ping (answered by wslay), pong */
	}
}

/* ------------------------------------------------------------------ */
/* Outgoing frames                                                     */
/* ------------------------------------------------------------------ */

/* Queue a frame of len bytes (copied by wslay) and count it in wc_qseq.
 * 0 or -1. */
static int
wsc_queue(struct ws_conn *c, uint8_t opcode, const void *data, size_t len)
{
	struct wslay_event_msg	 m;

	m.opcode = opcode;
	m.msg = data;
	m.msg_length = len;
	if (wsc_wake(c) == -1 || wslay_event_queue_msg(c->wc_ctx, &m) != 0)
		return (-1);
	c->wc_qseq++;
	return (0);
}

/* Queue a text frame of len bytes.  0 or -1. */
static int
wsc_queue_text(struct ws_conn *c, const char *text, size_t len)
{
	return (wsc_queue(c, WSLAY_TEXT_FRAME, text, len));
}

/*
 * Queue the owed pong unless the last one is still in wslay's queue:
 * wslay sends control frames before any data frame queued after them,
 * so that pong left the queue once as many frames left it as had been
 * queued up to it.  A frame leaves wslay's queue when wslay begins to
 * write it, so a client that never reads can hold one pong in the
 * writing and one queued; newer pings only replace the owed payload.
 * Returns 1 if a pong was queued.
 */
static int
wsc_pong(struct ws_conn *c)
{
	uint64_t	 sent;
	size_t		 bytes;

	if (!c->wc_wsf.wf_pong_owed || c->wc_closing || c->wc_dead)
		return (0);
	sent = c->wc_qseq - wsc_queued(c, &bytes);
	if (c->wc_pong_seq != 0 && sent < c->wc_pong_seq)
		return (0);
	if (wsc_queue(c, WSLAY_PONG, c->wc_wsf.wf_pong,
	    c->wc_wsf.wf_ponglen) == -1)
		return (0);
	c->wc_pong_seq = c->wc_qseq;
	c->wc_wsf.wf_pong_owed = 0;
	return (1);
}

/* Room for n bytes in the frame buffer.  0 or -1. */
static int
wsc_buf_need(size_t n)
{
	char	*p;

	if (n <= wsc_bufcap)
		return (0);
	if ((p = realloc(wsc_buf, n)) == NULL)
		return (-1);
	wsc_buf = p;
	wsc_bufcap = n;
	return (0);
}

/*
 * Append "name":<s as a JSON string> and then the byte end to frame at *n
 * (capacity cap).  0, or -1 if it does not fit or s is not UTF-8.
 */
static int
wsc_frame_member(char *frame, size_t cap, size_t *n, const char *name,
    const char *s, char end)
{
	int	 len;

	len = snprintf(frame + *n, cap - *n, "\"%s\":", name);
	if (len < 0 || (size_t)len >= cap - *n)
		return (-1);
	*n += (size_t)len;
	if (json_put_string(frame, cap, n, s, strlen(s)) == -1 ||
	    *n + 1 >= cap)
		return (-1);
	frame[(*n)++] = end;
	return (0);
}

/*
 * An error frame {"type":"error","requestId":rid,"error":code,"message":
 * msg} (no requestId when rid is "" or NULL).  Every string is escaped,
 * whatever its origin; a frame that does not fit is not sent.  bad counts
 * it against WS_BAD_FRAMES_MAX.
 */
static void
wsc_error_rid(struct ws_conn *c, const char *rid, const char *code,
    const char *msg, int bad)
{
	static const char	 head[] = "{\"type\":\"error\",";
	char			 frame[1024];
	size_t			 n = sizeof(head) - 1;
	int			 r = 0;

	memcpy(frame, head, n);
	if (rid != NULL && *rid != '\0')
		r = wsc_frame_member(frame, sizeof(frame), &n, "requestId",
		    rid, ',');
	if (r == 0)
		r = wsc_frame_member(frame, sizeof(frame), &n, "error", code,
		    ',');
	if (r == 0 && wsc_frame_member(frame, sizeof(frame), &n, "message",
	    msg, '}') == 0)
		(void)wsc_queue_text(c, frame, n);
	if (bad && ++c->wc_bad > WS_BAD_FRAMES_MAX)
		wsc_close(c, WSLAY_CODE_POLICY_VIOLATION, "too many bad frames");
}

static void
wsc_error(struct ws_conn *c, const char *code, const char *msg)
{
	wsc_error_rid(c, NULL, code, msg, 1);
}

/* Our failure, not the client's: an "unavailable" frame, not counted. */
static void
wsc_unavailable(struct ws_conn *c, const char *msg)
{
	wsc_error_rid(c, NULL, "unavailable", msg, 0);
}

/*
 * The output is full: the frames queued in wslay, each with WS_MSG_COST
 * for its bookkeeping (an empty pong costs memory too), and the owed
 * pong, reach WS_OUT_CAP.
 */
static int
wsc_out_full(const struct ws_conn *c)
{
	size_t	 n, bytes;

	n = wsc_queued(c, &bytes) * WS_MSG_COST;
	n += bytes;
	if (c->wc_wsf.wf_pong_owed)
		n += WS_MSG_COST + c->wc_wsf.wf_ponglen;
	return (n >= WS_OUT_CAP);
}

/*
 * Queue {"type":"message","id":id,["ephemeral":true,]"envelope":env}
 * (env: len bytes of stored JSON; id needs no escaping) and count it.
 * 0 or -1.
 */
static int
wsc_message_frame(struct ws_conn *c, const char *id, int ephemeral,
    const void *env, size_t len)
{
	static const char	 pre[] = "{\"type\":\"message\",\"id\":\"";
	const char		*mid = ephemeral ?
				    "\",\"ephemeral\":true,\"envelope\":" :
				    "\",\"envelope\":";
	size_t			 idlen = strlen(id), midlen = strlen(mid), n;

	n = sizeof(pre) - 1 + idlen + midlen + len + 1;
	if (wsc_buf_need(n) == -1)
		return (-1);
	memcpy(wsc_buf, pre, sizeof(pre) - 1);
	memcpy(wsc_buf + sizeof(pre) - 1, id, idlen);
	memcpy(wsc_buf + sizeof(pre) - 1 + idlen, mid, midlen);
	memcpy(wsc_buf + n - 1 - len, env, len);
	wsc_buf[n - 1] = '}';
	if (wsc_queue_text(c, wsc_buf, n) == -1)
		return (-1);
	wsc_count(&c->wc_ws->x_shm->sh_ws.sw_pushed, 1);
	return (0);
}

/*
 * Tell the client how many messages its device lost to a full queue, as
 * read from the queue record with the current page (wc_cur), whenever
 * that count changes: so the marker comes before any message queued
 * after the loss (acking one of those clears the marker in the store).
 */
static int
wsc_drop_marker(struct ws_conn *c, uint32_t dropped)
{
	char	 buf[64];
	int	 n;

	if (dropped == c->wc_told)
		return (0);
	c->wc_told = dropped;
	if (dropped == 0)
		return (0);
	n = snprintf(buf, sizeof(buf), "{\"type\":\"dropped\",\"count\":%lu}",
	    (unsigned long)dropped);
	return (wsc_queue_text(c, buf, (size_t)n));
}

/* wsc_admitted: see ws.h. */
void
wsc_admitted(struct ws_conn *c, int rc, uint32_t dropped)
{
	if (c->wc_admitting) {
		c->wc_admitting = 0;
		c->wc_ops--;
	}
	if (!c->wc_dead && !c->wc_closing) {
		if (rc == -1)
			wsc_close(c, WSLAY_CODE_INTERNAL_SERVER_ERROR,
			    "the device could not be registered");
		else {
			c->wc_admitted = 1;
			(void)wsc_drop_marker(c, dropped);
			ws_due(c->wc_ws, c);
		}
	}
	wsc_settle(c);
}

/* One message of the queue into a frame (a qs_msg_cb). */
static int
wsc_push_cb(void *arg, const char *id, int priority, uint64_t enqueued_ms,
    const void *data, size_t len)
{
	struct ws_conn	*c = arg;

	if (wsc_drop_marker(c, c->wc_cur.qc_dropped) == -1 ||
	    wsc_message_frame(c, id, 0, data, len) == -1)
		return (1);
	c->wc_pushed_now++;
	return (0);
}

/* wsc_early: see ws.h. */
int
wsc_early(struct ws_conn *c, int lane, uint64_t seq, const uint64_t prev[2],
    uint32_t dropped, const char *env, size_t len, uint64_t sent_us)
{
	char	 id[QS_MSGID_SIZE];
	int	 l;

	if (c->wc_mode != WS_MODE_PUSH || !c->wc_admitted || c->wc_closing ||
	    c->wc_dead || !c->wc_backlog_done || c->wc_told != dropped ||
	    c->wc_inflight >= (uint32_t)c->wc_ws->x_cfg->cf_ws_window ||
	    wsc_out_full(c) || lane < 0 || lane >= QS_NLANES ||
	    c->wc_cur.qc_last[lane] >= seq)
		return (0);
	for (l = 0; l < QS_NLANES; l++)
		if (c->wc_cur.qc_last[l] < prev[l])
			return (0);	/* behind: the pull keeps the order */
	qs_msgid_format(id, lane, seq);
	if (wsc_message_frame(c, id, 0, env, len) == -1)
		return (0);
	c->wc_cur.qc_last[lane] = seq;
	c->wc_inflight++;
	wsc_count(&c->wc_ws->x_shm->sh_ws.sw_early, 1);
	if (sent_us != 0)
		metrics_observe(c->wc_ws->x_shm, SHM_H_DELIVERY,
		    util_mono_us() - sent_us);
	wsc_run(c, 0);
	return (1);
}

/* wsc_ephemeral: see ws.h. */
void
wsc_ephemeral(struct ws_conn *c, const char *id, const char *env, size_t len,
    uint64_t commit_us)
{
	struct ws	*x = c->wc_ws;

	if (c->wc_mode != WS_MODE_PUSH || !c->wc_admitted || c->wc_closing ||
	    c->wc_dead || wsc_out_full(c))
		return;		/* ephemeral: never stored, so dropped */
	if (wsc_message_frame(c, id, 1, env, len) == -1)
		return;
	if (commit_us != 0)
		metrics_observe(x->x_shm, SHM_H_DELIVERY,
		    util_mono_us() - commit_us);
	wsc_run(c, 0);
}

/* ------------------------------------------------------------------ */
/* Pulling from LMDB                                                   */
/* ------------------------------------------------------------------ */

/* Push one page; 1 if the caller should go on. */
static int
wsc_pull_page(struct ws_conn *c, uint32_t room)
{
	struct ws	*x = c->wc_ws;
	size_t		 count = 0;
	int		 more = 0, r;

	if (room > WS_PAGE_MAX)
		room = WS_PAGE_MAX;
	r = qs_fetch_after(x->x_qs, c->wc_user, c->wc_device, &c->wc_cur,
	    room, util_real_ms(), wsc_push_cb, c, &count, &more);
	if (r != QS_OK && r != QS_NOTFOUND)
		return (0);		/* the sweep tries again */
	if (r == QS_OK)
		(void)wsc_drop_marker(c, c->wc_cur.qc_dropped);
	c->wc_inflight += (uint32_t)count;
	if (more || count == room)
		return (count > 0);
	if (!c->wc_backlog_done) {
		c->wc_backlog_done = 1;
		(void)wsc_queue_text(c, "{\"type\":\"queue_empty\"}", 22);
	}
	return (0);
}

/* wsc_pull: see ws.h. */
void
wsc_pull(struct ws_conn *c)
{
	uint32_t	 window = (uint32_t)c->wc_ws->x_cfg->cf_ws_window;

	if (c->wc_dead)
		return;
	if (c->wc_closing || !c->wc_admitted) {
		if (c->wc_restoff < c->wc_restlen)
			wsc_run(c, 0);	/* bytes left by an earlier turn */
		return;		/* admission calls ws_due */
	}
	c->wc_pushed_now = 0;
	if (c->wc_mode == WS_MODE_POKE) {
		for (; c->wc_pokes > 0 && !wsc_out_full(c); c->wc_pokes--)
			(void)wsc_queue_text(c, "{}", 2);
		c->wc_capped = c->wc_pokes > 0;
	} else {
		while (c->wc_inflight < window && !wsc_out_full(c) &&
		    wsc_pull_page(c, window - c->wc_inflight))
			;
		c->wc_capped = wsc_out_full(c);
	}
	/* one sample per doorbell: its commit to this pull's frames */
	if (c->wc_commit_us != 0 && c->wc_backlog_done && c->wc_pushed_now > 0)
		metrics_observe(c->wc_ws->x_shm, SHM_H_DELIVERY,
		    util_mono_us() - c->wc_commit_us);
	c->wc_commit_us = 0;
	wsc_run(c, 0);
}

/* ------------------------------------------------------------------ */
/* Client frames                                                       */
/* ------------------------------------------------------------------ */

static void
wsc_ack_done(struct commit_op *op, int r)
{
	struct wsc_ack_op	*ka = (struct wsc_ack_op *)op;
	struct ws_conn		*c = ka->ka_conn;
	size_t			 deleted = ka->ka_ack.ma_deleted;

	/* c stays allocated while wc_ops counts this op (until the end) */
	metrics_observe_ws(c->wc_ws->x_shm, SHM_WOP_ACK, util_mono_us() -
	    ka->ka_t0_us);
	/* a committed delete counts, even if the connection died meanwhile */
	if (r == QS_OK)
		mr_ack_count(&ka->ka_ack, c->wc_ws->x_shm, MR_VIA_WS);
	else if (r == QS_MAPFULL)
		wsc_count(&c->wc_ws->x_shm->sh_api.sa_store_full, 1);
	if (!c->wc_dead && r != QS_OK)
		wsc_unavailable(c, "the acknowledgement failed");
	else if (!c->wc_dead) {
		c->wc_inflight -= deleted < c->wc_inflight ?
		    (uint32_t)deleted : c->wc_inflight;
		ws_due(c->wc_ws, c);
	}
	mr_ack_clear(&ka->ka_ack);
	free(ka);
	c->wc_ops--;
	wsc_settle(c);
}

/*
 * {"type":"ack","messageIds":[...]}: a durable delete (the ack rules of
 * msgrecv.c, as for POST /api/messages/ack), then pull more.  No answer
 * when it is good; an error frame (a bad frame) when they refuse it.
 */
static void
wsc_ack(struct ws_conn *c, const struct json_doc *doc)
{
	struct wsc_ack_op	*ka;
	const char		*err = NULL;
	int			 r;

	if ((ka = malloc(sizeof(*ka))) == NULL) {
		wsc_unavailable(c, "out of memory");
		return;
	}
	r = mr_ack_parse(&ka->ka_ack, doc, 0, c->wc_user, c->wc_device,
	    &err);
	if (r != MR_OK) {
		free(ka);
		if (r == MR_NOMEM)
			wsc_unavailable(c, "out of memory");
		else
			wsc_error(c, "invalid_request", err);
		return;
	}
	ka->ka_conn = c;
	ka->ka_t0_us = util_mono_us();
	ka->ka_ack.ma_op.o_bytes = ka->ka_ack.ma_size * QS_MSGID_SIZE;
	ka->ka_ack.ma_op.o_defer = 1;	/* no answer waits on an ack */
	ka->ka_ack.ma_op.o_done = wsc_ack_done;
	c->wc_ops++;
	commit_submit(c->wc_ws->x_commit, &ka->ka_ack.ma_op);
}

static int
wsc_send_apply(struct qstore *qs, struct commit_op *op)
{
	struct wsc_send_op	*sd = (struct wsc_send_op *)op;

	return (ms_apply(qs, sd->sd_b, sd->sd_conn->wc_ws->x_cfg,
	    sd->sd_conn->wc_ws->x_ho));
}

/* Announce, then {"type":"sent","requestId":rid,"ids":[...]}. */
static void
wsc_sent(struct ws_conn *c, const char *rid, struct ms_batch *b)
{
	struct shm	*sh = c->wc_ws->x_shm;
	size_t		 i, n;
	char		*p;

	ms_announce(b, c->wc_ws->x_ho);
	ms_count(b, sh);
	if (c->wc_dead || wsc_buf_need(64 + WSC_RID_MAX +
	    b->mb_n * (QS_MSGID_SIZE + 3)) == -1)
		return;
	p = wsc_buf;
	n = (size_t)sprintf(p, "{\"type\":\"sent\",%s%s%s\"ids\":[",
	    *rid != '\0' ? "\"requestId\":\"" : "", rid,
	    *rid != '\0' ? "\"," : "");
	for (i = 0; i < b->mb_n; i++)
		n += (size_t)sprintf(p + n, "%s\"%s\"", i > 0 ? "," : "",
		    b->mb_items[i].mi_id);
	n += (size_t)sprintf(p + n, "]}");
	(void)wsc_queue_text(c, p, n);
}

static void
wsc_send_done(struct commit_op *op, int r)
{
	struct wsc_send_op	*sd = (struct wsc_send_op *)op;
	struct ws_conn		*c = sd->sd_conn;

	/* c stays allocated while wc_ops counts this op (until the end) */
	metrics_observe_ws(c->wc_ws->x_shm, SHM_WOP_SEND, util_mono_us() -
	    sd->sd_t0_us);
	if (r == QS_MAPFULL)
		wsc_count(&c->wc_ws->x_shm->sh_api.sa_store_full, 1);
	if (r == QS_OK)
		wsc_sent(c, sd->sd_rid, sd->sd_b);
	else if (!c->wc_dead)
		wsc_error_rid(c, sd->sd_rid, r == QS_FULL ? "queue_full" :
		    "unavailable", r == QS_FULL ? "a recipient queue is full" :
		    "the message store is unavailable", 0);
	ms_free(sd->sd_b);
	free(sd);
	if (!c->wc_dead)
		wsc_run(c, 0);
	c->wc_ops--;
	wsc_settle(c);
}

/* A requestId: up to WSC_RID_MAX of [A-Za-z0-9._:-].  0 or -1. */
static int
wsc_rid(const struct json_doc *doc, char *rid)
{
	const char	*err;
	size_t		 len, i;
	int		 t;

	rid[0] = '\0';
	if ((t = json_obj_get(doc, 0, "requestId")) < 0)
		return (0);
	if (json_get_string(doc, t, rid, WSC_RID_MAX + 1, &len, &err) == -1)
		return (-1);
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._:-", rid[i]) == NULL)
			return (-1);
	return (0);
}

/* Validate a send frame into a new op; NULL when answered. */
static struct wsc_send_op *
wsc_send_parse(struct ws_conn *c, const struct json_doc *doc)
{
	struct wsc_send_op	*sd;
	const char		*err = NULL;
	int			 toks[ENV_MAX_BATCH], array, t, r;
	size_t			 n;

	if ((sd = calloc(1, sizeof(*sd))) == NULL) {
		wsc_unavailable(c, "out of memory");
		return (NULL);
	}
	if (wsc_rid(doc, sd->sd_rid) == -1) {
		free(sd);
		wsc_error(c, "invalid_frame", "requestId: up to 64 of "
		    "A-Z a-z 0-9 . _ : -");
		return (NULL);
	}
	if (((t = json_obj_get(doc, 0, "envelope")) < 0 &&
	    (t = json_obj_get(doc, 0, "envelopes")) < 0) ||
	    ms_tokens(doc, t, toks, &n, &array) == -1 ||
	    (sd->sd_b = ms_new(n)) == NULL) {
		wsc_error_rid(c, sd->sd_rid, "invalid_envelope", "send needs "
		    "an envelope or envelopes: an array of 1 to 100", 1);
		free(sd);
		return (NULL);
	}
	if ((r = ms_parse(sd->sd_b, doc, toks, c->wc_user, &err)) != ENV_OK) {
		wsc_error_rid(c, sd->sd_rid, r == ENV_SENDER_MISMATCH ?
		    "sender_mismatch" : r == ENV_NOMEM ? "unavailable" :
		    r == ENV_TOO_LARGE ? "too_large" : "invalid_envelope",
		    r == ENV_SENDER_MISMATCH ? "senderId is not the caller" :
		    r == ENV_TOO_LARGE ? "ephemeral envelope too large" :
		    r == ENV_NOMEM ? "out of memory, try again" :
		    "invalid envelope", r != ENV_NOMEM);
		ms_free(sd->sd_b);
		free(sd);
		return (NULL);
	}
	return (sd);
}

/*
 * {"type":"send","requestId":"r1","envelope":{...}} (or "envelopes":
 * [...]): the same checks, rate limit and durable commit as POST
 * /api/send; answered "sent" after the commit, or "error".
 */
static void
wsc_send(struct ws_conn *c, const struct json_doc *doc)
{
	struct ws		*x = c->wc_ws;
	struct wsc_send_op	*sd;
	uint64_t		 rate = (uint64_t)x->x_cfg->cf_rate_limit_per_user;
	uint64_t		 t0 = util_mono_us();

	if ((sd = wsc_send_parse(c, doc)) == NULL)
		return;
	sd->sd_t0_us = t0;
	if (rl_charge(&x->x_shm->sh_rl, c->wc_user, strlen(c->wc_user),
	    util_mono_us(), rate, 2 * rate) > 0) {
		wsc_count(&x->x_shm->sh_api.sa_rejected[SHM_REJ_RATE_LIMITED],
		    1);
		wsc_error_rid(c, sd->sd_rid, "rate_limited",
		    "too many requests", 0);
		ms_free(sd->sd_b);
		free(sd);
		return;
	}
	if (sd->sd_b->mb_stored == 0) {		/* all ephemeral */
		wsc_sent(c, sd->sd_rid, sd->sd_b);
		ho_flush(x->x_ho, util_mono_us());
		metrics_observe_ws(x->x_shm, SHM_WOP_SEND, util_mono_us() - t0);
		ms_free(sd->sd_b);
		free(sd);
		return;
	}
	sd->sd_conn = c;
	sd->sd_op.o_apply = wsc_send_apply;
	sd->sd_op.o_single = sd->sd_b->mb_stored == 1;
	sd->sd_op.o_done = wsc_send_done;
	c->wc_ops++;
	commit_submit(x->x_commit, &sd->sd_op);
}

/* One text or binary message from the client. */
static void
wsc_message(struct ws_conn *c, const char *text, size_t len)
{
	struct json_doc	 doc;
	const char	*err = NULL;
	int		 t;

	if (json_parse(&doc, text, len, wsc_tok, WSC_MAX_TOKENS, 8,
	    &err) < 0 || json_type(&doc, 0) != JSON_OBJECT ||
	    (t = json_obj_get(&doc, 0, "type")) < 0 ||
	    json_type(&doc, t) != JSON_STRING) {
		wsc_error(c, "invalid_frame",
		    "a frame is a JSON object with a \"type\"");
		return;
	}
	if (json_str_eq(&doc, t, "ack", 3))
		wsc_ack(c, &doc);
	else if (json_str_eq(&doc, t, "send", 4))
		wsc_send(c, &doc);
	else
		wsc_error(c, "invalid_frame", "unknown frame type");
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static const struct wslay_event_callbacks wsc_callbacks = {
	wsc_recv_cb,
	wsc_send_cb,
	NULL,			/* genmask: servers do not mask */
	wsc_frame_start_cb,
	NULL,
	NULL,
	wsc_msg_cb
};

/* Write the 101 head on the fresh socket.  0 or -1. */
static int
wsc_write_head(SSL *ssl, int fd, const char *head, size_t len)
{
	ssize_t	 n;
	size_t	 off = 0;
	int	 want;

	while (off < len) {
		n = tls_send(ssl, fd, head + off, len - off, 0, &want);
		if (n > 0)
			off += (size_t)n;
		else
			return (-1);	/* a fresh socket takes 200 bytes */
	}
	return (0);
}

/* wsc_new: see ws.h. */
struct ws_conn *
wsc_new(struct ws *x, int fd, SSL *ssl, const char *head, size_t hlen,
    const char *rest, size_t restlen, const struct auth_id *id, int mode)
{
	struct ws_conn	*c;
	struct ev_loop	*loop = x->x_w->w_loop;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (restlen > 0 && (c->wc_rest = malloc(restlen)) == NULL) ||
	    wsc_write_head(ssl, fd, head, hlen) == -1 ||
	    wsc_wake(c) == -1) {
		if (c != NULL)
			free(c->wc_rest);
		free(c);
		tls_conn_free(ssl, 1);
		close(fd);
		return (NULL);
	}
	if (restlen > 0)
		memcpy(c->wc_rest, rest, restlen);
	c->wc_restlen = restlen;
	c->wc_ws = x;
	c->wc_fd = fd;
	c->wc_ssl = ssl;
	c->wc_mode = mode;
	c->wc_exp = id->ai_exp;
	(void)strcpy(c->wc_user, id->ai_user);
	(void)strcpy(c->wc_device, id->ai_device);
	c->wc_serial = ++x->x_serial;
	c->wc_last_rx = c->wc_last_ping = c->wc_since = ev_now(loop);
	wsf_init(&c->wc_wsf, WS_CTL_RATE, WS_CTL_BURST, ev_now(loop));
	c->wc_sent = hlen;
	qs_cursor_init(&c->wc_cur);
	ev_io_init(&c->wc_rio, wsc_io_cb, fd, EV_READ);
	ev_io_init(&c->wc_wio, wsc_io_cb, fd, EV_WRITE);
	c->wc_rio.data = c->wc_wio.data = c;
	TAILQ_INSERT_TAIL(&x->x_conns, c, wc_entry);
	x->x_nconns++;
	wsc_count(&x->x_shm->sh_ws.sw_active, 1);
	wsc_count(&x->x_shm->sh_ws.sw_connects, 1);
	ev_io_start(loop, &c->wc_rio);
	return (c);	/* bytes in wc_rest are read by its first wsc_run */
}

/* wsc_close: see ws.h. */
void
wsc_close(struct ws_conn *c, uint16_t code, const char *why)
{
	if (c->wc_closing || c->wc_dead)
		return;
	c->wc_closing = 1;
	c->wc_close_code = code;
	c->wc_close_at = wsc_now(c) + WS_CLOSE_WAIT;
	if (wsc_wake(c) == -1) {
		wsc_kill(c);		/* no memory for the close frame */
		return;
	}
	if (wslay_event_queue_close(c->wc_ctx, code, (const uint8_t *)why,
	    why != NULL ? strlen(why) : 0) == 0)
		c->wc_qseq++;
	if (code == WSLAY_CODE_MESSAGE_TOO_BIG ||
	    code == WSLAY_CODE_POLICY_VIOLATION ||
	    code == WSLAY_CODE_PROTOCOL_ERROR)
		wslay_event_shutdown_read(c->wc_ctx);
	if (!c->wc_busy)
		wsc_run(c, 0);
}

/*
 * The close code to count: ours or the peer's, else one wslay sent by
 * itself (1002, 1007, 1009 on protocol errors), else 1006 (no close).
 */
static uint16_t
wsc_close_code(const struct ws_conn *c)
{
	uint16_t	 code = c->wc_close_code;

	if (code == 0 && c->wc_ctx != NULL &&
	    wslay_event_get_close_sent(c->wc_ctx))
		code = wslay_event_get_status_code_sent(c->wc_ctx);
	if (code == 0 || code == WSLAY_CODE_NO_STATUS_RCVD)
		code = WSLAY_CODE_ABNORMAL_CLOSURE;
	return (code);
}

/* Free c for good (not busy, no op pending). */
static void
wsc_free(struct ws_conn *c)
{
	struct ws	*x = c->wc_ws;

	ws_conn_gone(x, c);
	ev_io_stop(x->x_w->w_loop, &c->wc_rio);
	ev_io_stop(x->x_w->w_loop, &c->wc_wio);
	tls_conn_free(c->wc_ssl, 0);
	if (c->wc_fd != -1)
		close(c->wc_fd);
	wsc_count(&x->x_shm->sh_ws.sw_closes[ws_close_index(
	    wsc_close_code(c))], 1);
	if (c->wc_ctx != NULL)
		wslay_event_context_free(c->wc_ctx);
	if (c->wc_asleep)
		atomic_fetch_sub_explicit(&x->x_shm->sh_ws.sw_asleep, 1,
		    memory_order_relaxed);
	atomic_fetch_sub_explicit(&x->x_shm->sh_ws.sw_active, 1,
	    memory_order_relaxed);
	free(c->wc_rest);
	free(c);
}

/* wsc_kill: see ws.h. */
void
wsc_kill(struct ws_conn *c)
{
	c->wc_dead = 1;
	wsc_settle(c);
}

/*
 * After wslay calls: drop a dead or finished connection, else point the
 * watchers at what wslay wants (no reading while the output is backed up).
 */
static void
wsc_settle(struct ws_conn *c)
{
	struct ev_loop	*loop = c->wc_ws->x_w->w_loop;
	int		 rd, wr;

	if (c->wc_busy)
		return;
	if (!c->wc_dead) {
		if ((c->wc_capped || (c->wc_restoff < c->wc_restlen &&
		    wsc_want_read(c))) && !wsc_out_full(c)) {
			c->wc_capped = 0;	/* room again: pull, read on */
			ws_due(c->wc_ws, c);
		}
		rd = wsc_want_read(c) && !wsc_out_full(c);
		wr = wsc_want_write(c);
		if (!wsc_want_read(c) && !wr)
			c->wc_dead = 1;	/* both closes done: TCP goes */
		else {
			if (rd && tls_pending(c->wc_ssl) > 0)
				ev_feed_event(loop, &c->wc_rio, EV_READ);
			/* TLS: a read may wait for writability, a write
			 * for readability */
			if (rd || (wr && c->wc_wr_wants_r))
				ev_io_start(loop, &c->wc_rio);
			else
				ev_io_stop(loop, &c->wc_rio);
			if (wr || (rd && c->wc_rd_wants_w))
				ev_io_start(loop, &c->wc_wio);
			else
				ev_io_stop(loop, &c->wc_wio);
			return;
		}
	}
	ev_io_stop(loop, &c->wc_rio);
	ev_io_stop(loop, &c->wc_wio);
	if (c->wc_registered) {
		ws_device_left(c->wc_ws, c);
		ws_push_left(c->wc_ws, c);
		ws_unregister(c->wc_ws, c);
	}
	if (c->wc_ops == 0)
		wsc_free(c);
}

/* Read (if readable) and write what wslay has; then settle. */
static void
wsc_run(struct ws_conn *c, int readable)
{
	if (c->wc_dead)
		return;
	c->wc_busy++;
	c->wc_nread = 0;
	wsf_turn(&c->wc_wsf);
	if ((readable || c->wc_restoff < c->wc_restlen) &&
	    wsc_wake(c) == -1)
		c->wc_dead = 1;		/* no memory to wake up */
	if (!c->wc_dead && (readable || c->wc_restoff < c->wc_restlen) &&
	    wslay_event_want_read(c->wc_ctx) &&
	    wslay_event_recv(c->wc_ctx) != 0)
		c->wc_dead = 1;
	if (!c->wc_dead)
		(void)wsc_pong(c);
	if (!c->wc_dead && wsc_want_write(c) &&
	    wslay_event_send(c->wc_ctx) != 0)
		c->wc_dead = 1;
	/* the write may have taken the last pong: the owed one goes now */
	if (!c->wc_dead && wsc_pong(c) && wslay_event_send(c->wc_ctx) != 0)
		c->wc_dead = 1;
	c->wc_busy--;
	wsc_settle(c);
}

static void
wsc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ws_conn	*c = w->data;

	/* a writable socket also resumes a TLS read that waited for it */
	wsc_run(c, (revents & EV_READ) != 0 ||
	    ((revents & EV_WRITE) != 0 && c->wc_rd_wants_w));
	/* reading may have freed room in the window (acks come later) */
}

/*
 * The kernel's send queue (SIOCOUTQ: bytes written and not acknowledged)
 * of c stayed non-empty with no byte acknowledged for longer than stall
 * seconds: the peer reads nothing, though routingd itself may have
 * nothing left to write (the kernel took it all).  Sampled once a tick,
 * without a system call while the queue was empty at the last sample and
 * nothing was written since.
 */
static int
wsc_kernel_stalled(struct ws_conn *c, ev_tstamp now, double stall)
{
	uint64_t	 acked, sent = tls_wire_written(c->wc_ssl, c->wc_sent);
	int		 q;

	if (c->wc_kstall_since == 0 && c->wc_acked == sent)
		return (0);
	if (c->wc_fd == -1 || ioctl(c->wc_fd, SIOCOUTQ, &q) == -1 || q <= 0) {
		c->wc_kstall_since = 0;
		c->wc_acked = sent;		/* all of it */
		return (0);
	}
	acked = sent - (uint64_t)q;
	if (c->wc_kstall_since == 0 || acked != c->wc_acked) {
		c->wc_acked = acked;		/* progress: start again */
		c->wc_kstall_since = now;
		return (0);
	}
	return (now - c->wc_kstall_since > stall);
}

/*
 * Make c's wslay context if it sleeps (or is new).  0, or -1 without
 * memory.  Nothing of wslay's state is lost by a sleep: a connection only
 * sleeps between whole frames and whole messages with nothing queued.
 */
static int
wsc_wake(struct ws_conn *c)
{
	if (c->wc_ctx != NULL)
		return (0);
	if (wslay_event_context_server_init(&c->wc_ctx, &wsc_callbacks,
	    c) != 0) {
		c->wc_ctx = NULL;
		return (-1);
	}
	wslay_event_config_set_max_recv_msg_length(c->wc_ctx, WS_MAX_MSG);
	if (c->wc_asleep) {
		c->wc_asleep = 0;
		atomic_fetch_sub_explicit(&c->wc_ws->x_shm->sh_ws.sw_asleep,
		    1, memory_order_relaxed);
	}
	return (0);
}

/* Free c's wslay context if nothing is under way in it (see wsc_tick).
 * 1 if it did. */
static int
wsc_sleep(struct ws_conn *c, ev_tstamp now)
{
	size_t	 bytes;

	if (c->wc_ctx == NULL || c->wc_dead || c->wc_closing || c->wc_busy ||
	    now - c->wc_last_rx < WSC_SLEEP_AFTER ||
	    wsc_queued(c, &bytes) > 0 || wslay_event_want_write(c->wc_ctx) ||
	    !wslay_event_want_read(c->wc_ctx) ||
	    wslay_event_get_close_received(c->wc_ctx) ||
	    wslay_event_get_close_sent(c->wc_ctx) ||
	    wsf_mid_frame(&c->wc_wsf) || c->wc_msg_open ||
	    c->wc_wsf.wf_pong_owed || c->wc_prelen != 0 ||
	    c->wc_restoff < c->wc_restlen)
		return (0);
	wslay_event_context_free(c->wc_ctx);
	c->wc_ctx = NULL;
	c->wc_asleep = 1;
	wsc_count(&c->wc_ws->x_shm->sh_ws.sw_asleep, 1);
	return (1);
}

/* wsc_tick: see ws.h. */
int
wsc_tick(struct ws_conn *c, ev_tstamp now, int64_t real_s)
{
	double	 ping = c->wc_ws->x_cfg->cf_ws_ping_interval / 1000.0;
	double	 stall = c->wc_ws->x_cfg->cf_send_timeout / 1000.0;

	if (c->wc_dead)
		return (0);
	if (stall > 0 && ((c->wc_stall_since != 0 &&
	    now - c->wc_stall_since > stall) ||
	    wsc_kernel_stalled(c, now, stall))) {
		c->wc_close_code = WSLAY_CODE_POLICY_VIOLATION;
		wsc_kill(c);	/* the peer reads nothing: no close frame */
		return (0);
	}
	if (c->wc_closing) {
		if (now >= c->wc_close_at)
			wsc_kill(c);
		return (0);
	}
	if (c->wc_exp != 0 && real_s >= c->wc_exp) {
		wsc_close(c, 4401, "token expired");
		return (0);
	}
	if (ping > 0 && now - c->wc_last_rx > 2 * ping) {
		wsc_close(c, WSLAY_CODE_POLICY_VIOLATION, "no pong");
		return (0);
	}
	if (ping > 0 && now - c->wc_last_ping >= ping) {
		c->wc_last_ping = now;
		(void)wsc_queue(c, WSLAY_PING, NULL, 0);
		wsc_run(c, 0);
		return (0);
	}
	return (wsc_sleep(c, now));
}
