/*
 * fuzz_wsframe.c: libFuzzer target for wsframe.c, the filter a WS worker
 * runs on every raw byte a client sends, and for the wslay server
 * session behind it.  The first 3 bytes of the input are settings (how
 * the session's peer reads, how the bytes arrive, how fast time goes),
 * the rest is what the client sends.
 *
 * 1. The filter: the bytes whole, and in two pieces split at a point
 *    derived from the data, must give the same output, the same owed
 *    pong and the same verdict, and an output no longer than the input;
 *    each call gets a heap copy of exactly its bytes, its output written
 *    in place before them (out = in - WSF_HEAD_MAX, as ws_conn.c does).
 * 2. A server session: the filter's output goes to a real wslay server
 *    context (wslay_event_context_server_init with in-memory recv and
 *    send callbacks) driven the way ws_conn.c drives it: reads stop
 *    while the output is full (WS_OUT_CAP, counting WS_MSG_COST a
 *    queued frame and the owed pong), at most FZ_FRAMES_MAX heads and
 *    FZ_READ_MAX bytes a turn (ws_conn.c's limits), a pong queued only once the previous one
 *    left wslay's queue, each text or binary message answered with an
 *    error frame and the connection closed with 1008 after
 *    WS_BAD_FRAMES_MAX of them, the filter's verdicts answered with its
 *    close code.  The peer reads everything, nothing or a few bytes a
 *    call.  After every turn wslay's queue must hold no more than those
 *    rules allow (FZ_FRAMES_BOUND frames, FZ_QUEUE_BOUND bytes, and of
 *    the pongs queued all but two written whole, as the frames wslay
 *    writes show: one being written, one queued, however many pings a
 *    client that never reads sends); the session runs until it makes no
 *    more progress, then is freed (leaks are failures under ASan).
 * A disagreement or a bound passed aborts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#include "ws.h"
#include "wsframe.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* as WSC_READ_MAX and WSC_FRAMES_MAX in ws_conn.c */
#define FZ_READ_MAX	(256 * 1024)	/* bytes read per turn */
#define FZ_FRAMES_MAX	64		/* frame heads read per turn */
#define FZ_ERROR_FRAME	"{\"type\":\"error\",\"error\":\"invalid_frame\"," \
			"\"message\":\"a frame is a JSON object with a " \
			"\\\"type\\\"\"}"
#define FZ_TURNS_MAX	4096
/*
 * What may be in wslay's queue: the session answers at most
 * WS_BAD_FRAMES_MAX + 1 messages before its 1008 close, holds one close
 * (ours, or wslay's own on a protocol error or answering the client's)
 * and, by the pong rule, one pong (RFC 6455 5.5: at most WSF_CTL_MAX
 * bytes) besides the one wslay may be writing, which has left the queue.
 * A client that never reads can make it hold no more.
 */
#define FZ_FRAMES_BOUND	(WS_BAD_FRAMES_MAX + 1 + 2)
#define FZ_QUEUE_BOUND	((WS_BAD_FRAMES_MAX + 1) * \
			(sizeof(FZ_ERROR_FRAME) - 1) + 2 * WSF_CTL_MAX)

struct fz_sess {
	wslay_event_context_ptr	 s_ctx;
	struct wsf		 s_f;
	const uint8_t		*s_in;		/* the client's bytes */
	size_t			 s_n;
	size_t			 s_off;		/* taken by the filter */
	size_t			 s_chunk;	/* bytes a read brings */
	int			 s_peer;	/* 0 all, 1 none, 2 a few */
	double			 s_now;
	size_t			 s_nread;	/* this turn */
	uint64_t		 s_qseq;	/* frames queued */
	uint64_t		 s_pong_seq;
	uint64_t		 s_npongs;	/* pongs queued */
	uint64_t		 s_pongs_out;	/* pongs wslay wrote whole */
	int			 s_opong;	/* the output frame is a pong */
	uint8_t			 s_ohead[10];	/* the output frame's head */
	size_t			 s_oheadlen;
	uint64_t		 s_oleft;	/* its payload bytes left */
	int			 s_closing;
	int			 s_bad;
	unsigned		 s_frags;	/* frames of the message */
	uint64_t		 s_sent;	/* bytes the peer took */
};

static void
fz_fail(const char *what, size_t at)
{
	fprintf(stderr, "fuzz_wsframe: %s (at %zu)\n", what, at);
	abort();
}

static uint32_t
fz_hash(const uint8_t *d, size_t n)
{
	uint32_t	h = 2166136261u;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return (h);
}

/* ------------------------------------------------------------------ */
/* 1. whole against split                                              */
/* ------------------------------------------------------------------ */

/* What the filter made of some input. */
struct fz_res {
	uint8_t		*r_out;
	size_t		 r_outlen;
	size_t		 r_used;
	struct wsf	 r_f;
};

/* One call on a heap copy of d[0..n), out in place before it. */
static void
fz_filter(struct fz_res *r, const uint8_t *d, size_t n)
{
	uint8_t	*slab;
	size_t	 used, o;

	if ((slab = malloc(WSF_HEAD_MAX + n)) == NULL)
		abort();
	memcpy(slab + WSF_HEAD_MAX, d, n);
	o = wsf_filter(&r->r_f, slab + WSF_HEAD_MAX, n, slab, &used,
	    (unsigned)-1, 0.0);
	if (used != n)
		fz_fail("no frame limit, yet bytes were left", used);
	if (o > n + WSF_HEAD_MAX - 1)
		fz_fail("output over n + WSF_HEAD_MAX - 1", o);
	memcpy(r->r_out + r->r_outlen, slab, o);
	r->r_outlen += o;
	r->r_used += used;
	free(slab);
}

static void
fz_split(const uint8_t *d, size_t n, size_t split)
{
	struct fz_res	 w, s;

	memset(&w, 0, sizeof(w));
	memset(&s, 0, sizeof(s));
	if ((w.r_out = malloc(n + 1)) == NULL ||
	    (s.r_out = malloc(n + 1)) == NULL)
		abort();
	wsf_init(&w.r_f, WS_CTL_RATE, WS_CTL_BURST, 0.0);
	wsf_init(&s.r_f, WS_CTL_RATE, WS_CTL_BURST, 0.0);
	fz_filter(&w, d, n);
	fz_filter(&s, d, split);
	fz_filter(&s, d + split, n - split);
	if (w.r_outlen > n)
		fz_fail("more output than input", w.r_outlen);
	if (w.r_outlen != s.r_outlen || memcmp(w.r_out, s.r_out,
	    w.r_outlen) != 0)
		fz_fail("whole and split outputs differ", split);
	if (w.r_f.wf_err != s.r_f.wf_err)
		fz_fail("whole and split verdicts differ", split);
	if (w.r_f.wf_pong_owed != s.r_f.wf_pong_owed ||
	    w.r_f.wf_ponglen != s.r_f.wf_ponglen ||
	    memcmp(w.r_f.wf_pong, s.r_f.wf_pong, w.r_f.wf_ponglen) != 0)
		fz_fail("whole and split pongs differ", split);
	if (w.r_f.wf_ponglen > WSF_CTL_MAX)
		fz_fail("pong over WSF_CTL_MAX", w.r_f.wf_ponglen);
	if (wsf_mid_frame(&w.r_f) != wsf_mid_frame(&s.r_f))
		fz_fail("whole and split end in different frames", split);
	free(w.r_out);
	free(s.r_out);
}

/* ------------------------------------------------------------------ */
/* 2. a wslay server session                                           */
/* ------------------------------------------------------------------ */

static int
fz_out_full(const struct fz_sess *s)
{
	size_t	 n;

	n = wslay_event_get_queued_msg_length(s->s_ctx) +
	    wslay_event_get_queued_msg_count(s->s_ctx) * WS_MSG_COST;
	if (s->s_f.wf_pong_owed)
		n += WS_MSG_COST + s->s_f.wf_ponglen;
	return (n >= WS_OUT_CAP);
}

static void
fz_queue(struct fz_sess *s, uint8_t op, const void *p, size_t len)
{
	struct wslay_event_msg	 m;

	m.opcode = op;
	m.msg = p;
	m.msg_length = len;
	if (wslay_event_queue_msg(s->s_ctx, &m) == 0)
		s->s_qseq++;
}

static void
fz_close(struct fz_sess *s, uint16_t code, const char *why)
{
	if (s->s_closing)
		return;
	s->s_closing = 1;
	if (wslay_event_queue_close(s->s_ctx, code, (const uint8_t *)why,
	    strlen(why)) == 0)
		s->s_qseq++;
	wslay_event_shutdown_read(s->s_ctx);
}

/* wsc_pong's rule: the owed pong once the last one left the queue. */
static int
fz_pong(struct fz_sess *s)
{
	uint64_t	 sent;

	if (!s->s_f.wf_pong_owed || s->s_closing)
		return (0);
	sent = s->s_qseq - wslay_event_get_queued_msg_count(s->s_ctx);
	if (s->s_pong_seq != 0 && sent < s->s_pong_seq)
		return (0);
	fz_queue(s, WSLAY_PONG, s->s_f.wf_pong, s->s_f.wf_ponglen);
	s->s_pong_seq = s->s_qseq;
	s->s_npongs++;
	s->s_f.wf_pong_owed = 0;
	return (1);
}

static ssize_t
fz_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct fz_sess	*s = arg;
	uint8_t		*raw = buf + WSF_HEAD_MAX;
	size_t		 room, used, out, n;

	(void)flags;
	if (len <= 2 * WSF_HEAD_MAX)
		fz_fail("wslay asked with too little room", len);
	while (!fz_out_full(s) && s->s_nread < FZ_READ_MAX &&
	    wslay_event_get_read_enabled(ctx) &&
	    (wsf_mid_frame(&s->s_f) || s->s_f.wf_nframes < FZ_FRAMES_MAX)) {
		room = len - WSF_HEAD_MAX;
		if (room > FZ_READ_MAX - s->s_nread)
			room = FZ_READ_MAX - s->s_nread;
		if ((n = s->s_n - s->s_off) == 0)
			break;			/* nothing more: would block */
		if (n > room)
			n = room;
		if (n > s->s_chunk)
			n = s->s_chunk;
		memmove(raw, s->s_in + s->s_off, n);
		out = wsf_filter(&s->s_f, raw, n, buf, &used, FZ_FRAMES_MAX,
		    s->s_now);
		if (out > n + WSF_HEAD_MAX - 1)
			fz_fail("session: output over n + WSF_HEAD_MAX - 1", out);
		if (s->s_f.wf_err != WSF_OK) {
			fz_close(s, wsf_close_code(s->s_f.wf_err),
			    wsf_strerror(s->s_f.wf_err));
			out = 0;
		}
		s->s_nread += used;
		s->s_off += used;
		if (out > 0)
			return ((ssize_t)out);
	}
	wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	return (-1);
}

/*
 * Follow the frames wslay writes (a server's: no mask) and count the
 * pongs among them written whole.
 */
static void
fz_output(struct fz_sess *s, const uint8_t *p, size_t n)
{
	size_t	 need, k;

	while (n > 0) {
		if (s->s_oleft > 0) {
			k = n < s->s_oleft ? n : (size_t)s->s_oleft;
			s->s_oleft -= k;
			p += k;
			n -= k;
			if (s->s_oleft == 0 && s->s_opong)
				s->s_pongs_out++;
			continue;
		}
		s->s_ohead[s->s_oheadlen++] = *p++;
		n--;
		need = s->s_oheadlen < 2 ? 2 : (s->s_ohead[1] & 0x7f) == 126 ?
		    4 : (s->s_ohead[1] & 0x7f) == 127 ? 10 : 2;
		if (s->s_oheadlen < need)
			continue;
		if (s->s_ohead[1] & 0x80)
			fz_fail("session: a server frame is masked", n);
		s->s_opong = (s->s_ohead[0] & 0x0f) == WSLAY_PONG;
		s->s_oleft = s->s_ohead[1] & 0x7f;
		if (need > 2)
			for (s->s_oleft = 0, k = 2; k < need; k++)
				s->s_oleft = s->s_oleft << 8 | s->s_ohead[k];
		if (s->s_oleft == 0 && s->s_opong)
			s->s_pongs_out++;
		s->s_oheadlen = 0;
	}
}

static ssize_t
fz_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct fz_sess	*s = arg;

	(void)flags;
	if (s->s_peer == 1 || len == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	if (s->s_peer == 2 && len > 7)
		len = 7;
	fz_output(s, data, len);
	s->s_sent += len;
	return ((ssize_t)len);
}

static void
fz_frame_start_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct fz_sess	*s = user;

	(void)ctx;
	if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->payload_length == 1)
		fz_close(s, WSLAY_CODE_PROTOCOL_ERROR, "bad close payload");
	if (arg->opcode >= 0x8)
		return;
	if (arg->opcode != WSLAY_CONTINUATION_FRAME)
		s->s_frags = 0;
	if (++s->s_frags > WS_MAX_FRAGMENTS)
		fz_close(s, WSLAY_CODE_MESSAGE_TOO_BIG, "too many fragments");
}

static void
fz_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct fz_sess	*s = user;

	(void)ctx;
	if (arg->opcode == WSLAY_CONNECTION_CLOSE)
		s->s_closing = 1;
	if ((arg->opcode != WSLAY_TEXT_FRAME &&
	    arg->opcode != WSLAY_BINARY_FRAME) || s->s_closing)
		return;
	fz_queue(s, WSLAY_TEXT_FRAME, FZ_ERROR_FRAME,
	    sizeof(FZ_ERROR_FRAME) - 1);
	if (++s->s_bad > WS_BAD_FRAMES_MAX)
		fz_close(s, WSLAY_CODE_POLICY_VIOLATION, "too many bad frames");
}

static const struct wslay_event_callbacks fz_callbacks = {
	fz_recv_cb,
	fz_send_cb,
	NULL,
	fz_frame_start_cb,
	NULL,
	NULL,
	fz_msg_cb
};

/* The caps hold: wslay's queue is bounded whatever the client sends. */
static void
fz_bounds(const struct fz_sess *s, int turn)
{
	size_t	 q = wslay_event_get_queued_msg_length(s->s_ctx),
		 c = wslay_event_get_queued_msg_count(s->s_ctx);

	if (q > FZ_QUEUE_BOUND)
		fz_fail("session: wslay's queue over the caps", q);
	if (c > FZ_FRAMES_BOUND)
		fz_fail("session: too many frames queued", c);
	/* the pongs wslay holds: at most the one it is writing (taken out
	 * of its queue, so counted as gone by the pong rule) and one queued */
	if (s->s_npongs - s->s_pongs_out > 2)
		fz_fail("session: more than two pongs held",
		    (size_t)(s->s_npongs - s->s_pongs_out));
	if (s->s_f.wf_ponglen > WSF_CTL_MAX)
		fz_fail("session: pong over WSF_CTL_MAX", (size_t)turn);
}

/* One turn as wsc_run: read, pong, write, the owed pong.  -1: dead. */
static int
fz_turn(struct fz_sess *s)
{
	wsf_turn(&s->s_f);
	s->s_nread = 0;
	if (wslay_event_want_read(s->s_ctx) && !fz_out_full(s) &&
	    wslay_event_recv(s->s_ctx) != 0)
		return (-1);
	(void)fz_pong(s);
	if (wslay_event_want_write(s->s_ctx) &&
	    wslay_event_send(s->s_ctx) != 0)
		return (-1);
	if (fz_pong(s) && wslay_event_send(s->s_ctx) != 0)
		return (-1);
	return (0);
}

static void
fz_session(const uint8_t *d, size_t n, uint8_t peer, uint8_t chunk,
    uint8_t tick)
{
	struct fz_sess	 s;
	size_t		 off, sent;
	int		 turn;

	memset(&s, 0, sizeof(s));
	s.s_in = d;
	s.s_n = n;
	s.s_peer = peer % 3;
	s.s_chunk = chunk == 0 ? (size_t)-1 : chunk;
	wsf_init(&s.s_f, WS_CTL_RATE, WS_CTL_BURST, 0.0);
	if (wslay_event_context_server_init(&s.s_ctx, &fz_callbacks, &s) != 0)
		abort();
	wslay_event_config_set_max_recv_msg_length(s.s_ctx, WS_MAX_MSG);
	for (turn = 0; turn < FZ_TURNS_MAX; turn++) {
		off = s.s_off;
		sent = s.s_sent;
		if (fz_turn(&s) == -1)
			break;
		fz_bounds(&s, turn);
		if (!wslay_event_want_read(s.s_ctx) &&
		    !wslay_event_want_write(s.s_ctx))
			break;			/* both closes done */
		if (off == s.s_off && sent == s.s_sent)
			break;			/* no more progress */
		s.s_now += tick / 1000.0;
	}
	wslay_event_context_free(s.s_ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*d = data + 3;
	size_t		 n;

	if (size < 3)
		return (0);
	n = size - 3;
	fz_split(d, n, n == 0 ? 0 : fz_hash(d, n) % (n + 1));
	fz_session(d, n, data[0], data[1], data[2]);
	return (0);
}
