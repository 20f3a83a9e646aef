/*
 * rb_run.c: one measuring process of routingd-bench: it sets up its share
 * of the connections, then runs the workload from the common start time
 * the parent gives, and fills its struct rb_result.
 *
 * Set up: the receivers (one WebSocket per user of the share, at most
 * RB_HANDSHAKES handshakes at a time, each caught up: routingd's
 * queue_empty, which also acknowledges a backlog left by an earlier run
 * without counting it; nchan's 101), then the senders (HTTP connections,
 * or sender WebSockets for wssend).  offline and drain open no receivers;
 * their setup drains every user's queue once, which also makes each
 * user's device known to routingd (a first fetch admits it), so that the
 * messages sent next are queued for a known offline device.
 *
 * Run, by workload:
 *   online, latency, wssend, offline: send for --warmup s (not counted)
 *     and --seconds s (measured), then wait for the answers still due and
 *     the messages not yet delivered, until all are in, or nothing came
 *     for --grace s, or RB_DRAIN_US passed;
 *   drain: the same sends as offline, then a drain of every queue, timed;
 *   idle, connections: hold the WebSockets for --seconds, answering pings;
 *   storm: drop every open WebSocket at once and open them all again, at
 *     most RB_STORM_HANDSHAKES at a time, retrying what fails after
 *     RB_RETRY_US, timed.
 * Then it closes every WebSocket with 1000 and the HTTP connections.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb.h"

void
rbr_dispatch(struct rb *w, int timeout_ms)
{
	struct epoll_event	 evs[512];
	int			 i, n;

	if ((n = epoll_wait(w->ep, evs, 512, timeout_ms)) == -1) {
		if (errno == EINTR)
			return;
		rb_fatal_errno("epoll_wait");
	}
	for (i = 0; i < n; i++) {
		if (*(enum rb_kind *)evs[i].data.ptr == K_WS)
			rbw_event(w, evs[i].data.ptr, evs[i].events);
		else
			rbh_event(w, evs[i].data.ptr, evs[i].events);
	}
}

static int
rbr_has_receivers(const struct rb *w)
{
	return (w->o.workload != W_OFFLINE && w->o.workload != W_DRAIN);
}

static void
rbr_fd_limit(struct rb *w)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)w->send_n + 64;

	if (rbr_has_receivers(w))
		need += (rlim_t)w->user_n;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rb_fatal_errno("getrlimit");
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
	}
	rb_fatal("%llu connections in one process need %llu open files; the "
	    "limit is %llu: use more --procs", (unsigned long long)(need - 64),
	    (unsigned long long)need, (unsigned long long)rl.rlim_max);
}

/* Are the open WebSockets of cs[0..n) all caught up? */
static int
rbr_caught_up(const struct rb_ws *cs, int n)
{
	int	 j;

	for (j = 0; j < n; j++)
		if (cs[j].state == WS_OPEN && !cs[j].got_empty)
			return (0);
	return (1);
}

/* Open cs[0..n) (at most window handshakes at a time) until each is
 * open and caught up or failed; the deadline ends the process. */
static void
rbr_open(struct rb *w, struct rb_ws *cs, int n, int window)
{
	uint64_t	 deadline = rb_now() + RB_SETUP_US, next_ack = 0, now;
	int		 next = 0;

	for (;;) {
		while (next < n && w->hs_inflight < window)
			(void)rbw_start(w, &cs[next++]);
		if (next == n && w->hs_inflight == 0 && rbr_caught_up(cs, n))
			break;
		rbr_dispatch(w, 50);
		now = rb_now();
		if (now >= next_ack) {
			rbw_ack_tick(w);
			next_ack = now + RB_ACK_US;
		}
		if (now > deadline)
			rb_fatal("setup timed out after %llu s: %d of %d "
			    "WebSockets open, %d caught up",
			    (unsigned long long)(RB_SETUP_US / 1000000),
			    w->nopen, n, w->nempty);
	}
	rbw_ack_tick(w);
}

/* The payload: the head is written per message, the rest once here. */
static void
rbr_payload(struct rb *w)
{
	unsigned char	*raw;
	size_t		 b64n;
	int		 i;

	raw = rb_alloc((size_t)w->o.size);
	for (i = 0; i < w->o.size; i++)
		raw[i] = (unsigned char)(i * 7 + 13);
	memcpy(w->pad, raw, RB_HEAD);
	b64n = ((size_t)w->o.size - RB_HEAD + 2) / 3 * 4;
	w->tail = rb_alloc(b64n + 1);
	w->taillen = rb_b64_encode(raw + RB_HEAD, (size_t)w->o.size - RB_HEAD,
	    w->tail, 0);
	free(raw);
}

/* Drain every queue of the share: until each drainer is done. */
static void
rbr_drain(struct rb *w, uint64_t deadline)
{
	rbh_drain_start(w);
	while (w->ndrained < w->send_n) {
		rbr_dispatch(w, 50);
		if (rb_now() > deadline) {
			rb_warn(w, 6, "the drain timed out");
			break;
		}
	}
}

static void
rbr_senders(struct rb *w)
{
	uint64_t	 deadline = rb_now() + RB_SETUP_US;
	int		 i;

	if (w->o.workload == W_WSSEND) {
		w->wss = rb_alloc((size_t)w->send_n * sizeof(*w->wss));
		for (i = 0; i < w->send_n; i++) {
			w->wss[i].kind = K_WS;
			w->wss[i].fd = -1;
			w->wss[i].sender = 1;
			w->wss[i].user = w->send_lo + i;
			w->wss[i].gi = w->o.users + w->send_lo + i;
		}
		rbr_open(w, w->wss, w->send_n, RB_HANDSHAKES);
		return;
	}
	if (w->o.workload == W_IDLE || w->o.workload == W_CONNECTIONS ||
	    w->o.workload == W_STORM)
		return;
	rbh_open(w);
	while (w->nhttp_up < w->send_n) {
		rbr_dispatch(w, 50);
		if (rb_now() > deadline)
			rb_fatal("setup timed out: %d of %d send connections "
			    "established", w->nhttp_up, w->send_n);
	}
	if (!rbr_has_receivers(w))
		rbr_drain(w, rb_now() + RB_SETUP_US);
}

void
rbr_setup(struct rb *w)
{
	uint64_t	 t0;
	int		 i;

	rbr_fd_limit(w);
	if (w->o.target == T_ROUTINGD)
		rb_read_secret(w);
	w->rand = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ rb_now();
	if (w->rand == 0)
		w->rand = 1;
	rbr_payload(w);
	if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		rb_fatal_errno("epoll_create1");
	w->phase = PH_SETUP;
	w->dirty = rb_alloc((size_t)(w->user_n + w->send_n + 1) *
	    sizeof(*w->dirty));
	if (rbr_has_receivers(w)) {
		w->ws = rb_alloc((size_t)w->user_n * sizeof(*w->ws));
		for (i = 0; i < w->user_n; i++) {
			w->ws[i].kind = K_WS;
			w->ws[i].fd = -1;
			w->ws[i].user = w->user_lo + i;
			w->ws[i].gi = w->user_lo + i;
		}
		t0 = rb_now();
		rbr_open(w, w->ws, w->user_n, RB_HANDSHAKES);
		w->r.open_s = (double)(rb_now() - t0) / 1e6;
		w->r.opened = (uint64_t)w->nopen;
	}
	rbr_senders(w);
}

/* Stop sending at tend, then wait for what is due; the lost count. */
static void
rbr_send_loop(struct rb *w)
{
	uint64_t	 now, next_ack = rb_now() + RB_ACK_US;
	size_t		 i, words;
	int		 recv = rbr_has_receivers(w), wss = w->wss != NULL;

	for (;;) {
		now = rb_now();
		if (w->phase == PH_RUN && now >= w->tend) {
			w->phase = PH_DRAIN;
			w->r.pending_end = w->r.accepted - w->both;
			w->last_progress = now;
		}
		if (w->phase == PH_RUN && w->rate > 0) {
			if (wss)
				rbw_pace(w, now);
			else
				rbh_pace(w, now);
		} else if (wss)
			rbw_fill_all(w);
		if (now >= next_ack) {
			rbw_ack_tick(w);
			next_ack = now + RB_ACK_US;
		}
		if (w->phase == PH_DRAIN && ((w->inflight == 0 &&
		    (!recv || w->both == w->r.accepted)) ||
		    now - w->last_progress >= (uint64_t)(w->o.grace * 1e6) ||
		    now - w->tend >= RB_DRAIN_US))
			break;
		rbr_dispatch(w, w->phase == PH_RUN && w->rate > 0 ? 1 : 10);
	}
	if (w->last_rx > w->tend)
		w->r.drain_s = (double)(w->last_rx - w->tend) / 1e6;
	if (!recv) {
		w->r.pending_end = 0;
		return;
	}
	words = (size_t)((w->seq + 63) / 64);
	for (i = 0; i < words; i++) {
		w->r.lost += (uint64_t)__builtin_popcountll(w->acc[i] &
		    ~w->rcv[i]);
		w->r.unaccepted += (uint64_t)__builtin_popcountll(w->rcv[i] &
		    ~w->acc[i]);
	}
}

/* Hold the WebSockets open until tend, answering what comes. */
static void
rbr_hold(struct rb *w)
{
	uint64_t	 t0 = rb_now();

	while (rb_now() < w->tend) {
		rbr_dispatch(w, 50);
		rbw_ack_tick(w);
	}
	w->r.held = (uint64_t)w->nopen;
	w->r.held_s = (double)(rb_now() - t0) / 1e6;
}

/* Drop every open receiver, open them all again (a failed one again
 * after RB_RETRY_US); how long that took. */
static void
rbr_storm(struct rb *w)
{
	uint64_t	 t0, deadline, now;
	int		 j, idle;

	for (j = 0; j < w->user_n; j++)
		if (w->ws[j].state == WS_OPEN) {
			rbw_drop(w, &w->ws[j]);
			w->ws[j].retry_at = 0;
		}
	w->storm = 1;
	t0 = rb_now();
	deadline = t0 + RB_SETUP_US;
	for (;;) {
		now = rb_now();
		for (idle = 0, j = 0; j < w->user_n; j++) {
			if (w->ws[j].state != WS_IDLE)
				continue;
			idle++;
			if (w->hs_inflight < RB_STORM_HANDSHAKES &&
			    w->ws[j].retry_at <= now)
				(void)rbw_start(w, &w->ws[j]);
		}
		if (idle == 0 && w->hs_inflight == 0)
			break;
		rbr_dispatch(w, 5);
		if (rb_now() > deadline) {
			rb_warn(w, 6, "the storm timed out: %d of %d open "
			    "again", w->nopen, w->user_n);
			break;
		}
	}
	w->r.storm_s = (double)(rb_now() - t0) / 1e6;
	w->storm = 0;
	w->r.held = (uint64_t)w->nopen;
}

void
rbr_run(struct rb *w, uint64_t start)
{
	uint64_t	 now, t;
	int		 j;

	w->t0 = start;
	w->twarm = start + (uint64_t)(w->o.warmup * 1e6);
	w->tend = w->twarm + (uint64_t)(w->o.seconds * 1e6);
	while ((now = rb_now()) < start)
		usleep((useconds_t)(start - now < 1000000 ? start - now :
		    1000000));
	w->phase = PH_RUN;
	switch (w->o.workload) {
	case W_IDLE:
	case W_CONNECTIONS:
		w->tend = start + (uint64_t)(w->o.seconds * 1e6);
		rbr_hold(w);
		break;
	case W_STORM:
		rbr_storm(w);
		break;
	default:
		rbh_fill_all(w);
		rbr_send_loop(w);
		for (j = 0; w->ws != NULL && j < w->user_n; j++)
			w->r.held += w->ws[j].state == WS_OPEN;
		break;
	}
	if (w->o.workload == W_DRAIN) {
		t = rb_now();
		rbr_drain(w, t + RB_DRAIN_US);
		w->r.drain_run_s = (double)(rb_now() - t) / 1e6;
		w->r.delivered = w->r.drained;
		w->r.lost = w->r.accepted > w->r.drained ?
		    w->r.accepted - w->r.drained : 0;
	}
	w->phase = PH_CLOSING;
	rbw_ack_tick(w);
	if (w->ws != NULL)
		rbw_close_all(w, w->ws, w->user_n);
	if (w->wss != NULL)
		rbw_close_all(w, w->wss, w->send_n);
	if (w->hc != NULL)
		rbh_close_all(w);
}
