/*
 * ws.c: the WebSocket worker process (ws_listen, GET /connect).
 *
 * Owns the worker's HTTP server (for the upgrade requests), its store
 * handle and group commit (commit.c: acks, sends, device admissions), its
 * presence partition (seat = the worker's index), the receive end of its
 * hand-off socket, the registry of its connections (all, by user, and
 * those with a pull due) and the one-second tick (resync, sweep, drain,
 * and each connection's wsc_tick: its ping, timeouts and write stalls).
 * ws_conn.c runs each connection; a due pull (ws_due, run from an idle
 * watcher) also finishes the reading of bytes a connection left for its
 * next turn.
 *
 * Delivery: a doorbell names users with new committed messages; every
 * connection of those users pulls from LMDB after its cursor.  A doorbell
 * is only a hint: a resync flag (set by a sender that had to drop one),
 * and a sweep every WS_SWEEP_INTERVAL make every connection pull anyway,
 * so a lost doorbell costs latency, never a message.  An early record
 * (IPC_EARLY, sent just before a commit) may frame a message sooner for
 * a connection at the end of its queue (wsc_early); the doorbell after
 * the commit still comes, and its pull skips what the cursor passed.
 *
 * Invariants:
 * - A connection is in x_users and in the presence table exactly while
 *   wc_registered; a draining worker no longer writes presence (its seat
 *   is reset by the supervisor when its successor is forked).
 * - Upgrade failures are answered (401, 400, 403, 426, 503) and counted;
 *   nothing per request is logged above debug.
 * - Closing many connections (the operator's drain: 1001; retired by a
 *   reload: 1012) goes through one spread (ws_spread_*): evenly over its
 *   window, oldest first, so clients do not reconnect in one storm.
 * - A reload in place (ws_config) swaps x_cfg and x_auth only after the
 *   new ones are complete; a replaced configuration stays allocated while
 *   ops queued in the group commit may borrow it, and is freed on the
 *   first tick that finds the commit queue empty (ws_release_configs).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "commit.h"
#include "config.h"
#include "handoff.h"
#include "ipc.h"
#include "log.h"
#include "msgrecv.h"
#include "presence.h"
#include "routingd.h"
#include "server.h"
#include "shm.h"
#include "supervisor.h"
#include "worker.h"
#include "ws.h"
#include "wsproto.h"

#define WS_MAX_HTTP_BODY	4096	/* bytes: no request body is expected */
#define WS_TICK			1.0	/* s */
#define WS_REST_MAX		(64 * 1024) /* bytes after the upgrade head */

static int	ws_init(struct worker *);
static void	ws_drain(struct worker *);
static void	ws_free(struct worker *);
static void	ws_config(struct worker *, const char *, size_t);
static void	ws_spread_start(struct ws *, uint16_t, uint32_t,
		    const char *);

const struct worker_ops ws_ops = {
	"ws",
	ws_init,
	ws_drain,
	ws_free,
	ws_config
};

static const uint16_t ws_close_codes[SHM_WC_OTHER] = {
	1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011, 1012, 1013, 4401,
	4409
};

/* ws_close_index: see ws.h. */
int
ws_close_index(uint16_t code)
{
	int	 i;

	for (i = 0; i < SHM_WC_OTHER; i++)
		if (ws_close_codes[i] == code)
			return (i);
	return (SHM_WC_OTHER);
}

static unsigned
ws_bucket(const char *user)
{
	uint32_t	 h = 2166136261u;

	for (; *user != '\0'; user++)
		h = (h ^ (unsigned char)*user) * 16777619u;
	return (h & (WS_USER_BUCKETS - 1));
}

/* ------------------------------------------------------------------ */
/* Registry                                                            */
/* ------------------------------------------------------------------ */

/*
 * Close the oldest connections of c's device so that at most
 * max_connections_per_device stay, c included (4409: replaced).
 */
static void
ws_replace_older(struct ws *x, struct ws_conn *c)
{
	struct ws_conn	*o, *next;
	int64_t		 max = x->x_cfg->cf_max_connections_per_device;
	int64_t		 n = 0;

	if (max <= 0)
		return;
	TAILQ_FOREACH(o, &x->x_users[c->wc_bucket], wc_uentry)
		if (!o->wc_closing && strcmp(o->wc_user, c->wc_user) == 0 &&
		    strcmp(o->wc_device, c->wc_device) == 0)
			n++;
	for (o = TAILQ_FIRST(&x->x_users[c->wc_bucket]); o != NULL && n > max;
	    o = next) {
		next = TAILQ_NEXT(o, wc_uentry);	/* o may go below */
		if (o == c || o->wc_closing || strcmp(o->wc_user,
		    c->wc_user) != 0 || strcmp(o->wc_device, c->wc_device) != 0)
			continue;
		wsc_close(o, 4409, "replaced by a newer connection");
		n--;
	}
}

/* ws_register: see ws.h. */
void
ws_register(struct ws *x, struct ws_conn *c)
{
	c->wc_bucket = ws_bucket(c->wc_user);
	TAILQ_INSERT_TAIL(&x->x_users[c->wc_bucket], c, wc_uentry);
	c->wc_registered = 1;
	if (x->x_pr != NULL && pr_add(x->x_pr, (unsigned)x->x_seat,
	    c->wc_user, c->wc_device, c->wc_mode == WS_MODE_POKE ?
	    PR_MODE_POKE : PR_MODE_PUSH, (uint32_t)(util_real_ms() / 1000)) ==
	    -1)
		atomic_fetch_add_explicit(&x->x_shm->sh_ws.sw_presence_full, 1,
		    memory_order_relaxed);
	ws_replace_older(x, c);
}

/* ws_unregister: see ws.h. */
void
ws_unregister(struct ws *x, struct ws_conn *c)
{
	if (!c->wc_registered)
		return;
	TAILQ_REMOVE(&x->x_users[c->wc_bucket], c, wc_uentry);
	c->wc_registered = 0;
	if (x->x_pr != NULL && !x->x_draining)
		pr_del(x->x_pr, (unsigned)x->x_seat, c->wc_user, c->wc_device);
}

/* ws_due: see ws.h. */
void
ws_due(struct ws *x, struct ws_conn *c)
{
	if (c->wc_due || c->wc_dead)
		return;
	c->wc_due = 1;
	TAILQ_INSERT_TAIL(&x->x_due, c, wc_dentry);
	ev_idle_start(x->x_w->w_loop, &x->x_idle);
}

/* ws_conn_gone: see ws.h. */
void
ws_conn_gone(struct ws *x, struct ws_conn *c)
{
	ws_unregister(x, c);
	if (c->wc_due) {
		TAILQ_REMOVE(&x->x_due, c, wc_dentry);
		c->wc_due = 0;
	}
	TAILQ_REMOVE(&x->x_conns, c, wc_entry);
	x->x_nconns--;
	if (x->x_draining && !x->x_freeing && x->x_nconns == 0 &&
	    x->x_http_idle)
		worker_drained(x->x_w);		/* the last one: finish */
}

/* Run the pulls due when this iteration began; a connection made due
 * again meanwhile (bytes left by a bounded read) waits for the next one,
 * so one busy client cannot keep the worker out of its loop. */
static void
ws_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct ws	*x = w->data;
	struct ws_conn	*c;
	size_t		 n = 0;

	(void)revents;
	TAILQ_FOREACH(c, &x->x_due, wc_dentry)
		n++;
	while (n-- > 0 && (c = TAILQ_FIRST(&x->x_due)) != NULL) {
		TAILQ_REMOVE(&x->x_due, c, wc_dentry);
		c->wc_due = 0;
		wsc_pull(c);
	}
	if (TAILQ_EMPTY(&x->x_due))
		ev_idle_stop(loop, w);
}

/* Make every connection pull (a resync or the sweep). */
static void
ws_all_due(struct ws *x)
{
	struct ws_conn	*c;

	TAILQ_FOREACH(c, &x->x_conns, wc_entry)
		if (c->wc_mode == WS_MODE_PUSH)
			ws_due(x, c);
}

/* ------------------------------------------------------------------ */
/* Doorbells                                                           */
/* ------------------------------------------------------------------ */

/* New messages for user: wake each of its connections. */
static void
ws_ring(struct ws *x, const char *user, uint64_t commit_us)
{
	struct ws_conn	*c;

	TAILQ_FOREACH(c, &x->x_users[ws_bucket(user)], wc_uentry) {
		if (strcmp(c->wc_user, user) != 0)
			continue;
		if (c->wc_mode == WS_MODE_POKE)
			c->wc_pokes++;
		else if (c->wc_commit_us == 0)
			c->wc_commit_us = commit_us;
		ws_due(x, c);
	}
}

static void
ws_doorbell(struct ws *x, const void *payload, size_t len)
{
	struct ipc_doorbell	 db;
	char			 user[ID_MAX + 1];
	size_t			 off = sizeof(db);

	memcpy(&db, payload, sizeof(db));
	while (ipc_doorbell_next(payload, len, &off, user, sizeof(user)) == 1)
		ws_ring(x, user, db.id_commit_us);
}

static void
ws_ephemeral(struct ws *x, const void *payload, size_t len)
{
	struct ipc_ephemeral	 ie;
	struct ws_conn		*c;
	char			 user[ID_MAX + 1], id[ID_MAX + 1];
	const char		*env;
	size_t			 envlen;

	if (ipc_ephemeral_parse(payload, len, user, id, sizeof(user), &env,
	    &envlen) == -1 || strlen(id) >= QS_MSGID_SIZE)
		return;
	memcpy(&ie, payload, sizeof(ie));
	TAILQ_FOREACH(c, &x->x_users[ws_bucket(user)], wc_uentry)
		if (strcmp(c->wc_user, user) == 0)
			wsc_ephemeral(c, id, env, envlen, ie.ie_commit_us);
}

/* Copies of messages about to commit: to each connection of their
 * device that is at the end of its queue (wsc_early decides). */
static void
ws_early(struct ws *x, const void *payload, size_t len)
{
	struct ipc_early	 ie;
	struct ipc_early_copy	 ec;
	struct ws_conn		*c;
	char			 user[ID_MAX + 1], device[ID_MAX + 1];
	const char		*env;
	size_t			 off = sizeof(ie);

	memcpy(&ie, payload, sizeof(ie));	/* ipc_decode checked it */
	while (ipc_early_next(payload, len, &off, &ec, user, device,
	    sizeof(user), &env) == 1)
		TAILQ_FOREACH(c, &x->x_users[ws_bucket(user)], wc_uentry)
			if (strcmp(c->wc_user, user) == 0 &&
			    strcmp(c->wc_device, device) == 0)
				(void)wsc_early(c, ec.ec_lane, ec.ec_seq,
				    ec.ec_prev, ec.ec_dropped, env,
				    ec.ec_envlen, ie.ie_sent_us);
}

static void
ws_recv_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ws	*x = w->data;
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 n;
	int		 i;

	for (i = 0; i < 256; i++) {	/* then let the loop breathe */
		n = ipc_recv(x->x_recv, x->x_rbuf, IPC_MAX_MSG);
		if (n <= 0)
			break;
		if (ipc_decode(x->x_rbuf, (size_t)n, &hdr, &payload) != IPC_OK ||
		    hdr.ih_peerid != IPC_VERSION)
			continue;	/* not ours: ignored */
		if (hdr.ih_type == IPC_DOORBELL)
			ws_doorbell(x, payload, hdr.ih_len);
		else if (hdr.ih_type == IPC_EPHEMERAL)
			ws_ephemeral(x, payload, hdr.ih_len);
		else if (hdr.ih_type == IPC_EARLY)
			ws_early(x, payload, hdr.ih_len);
	}
}

/* ------------------------------------------------------------------ */
/* The tick                                                            */
/* ------------------------------------------------------------------ */

/* Compact the presence partition once deletes left a quarter of its
 * slots as tombstones (a compaction walks every slot). */
static void
ws_presence_tidy(struct ws *x)
{
	const struct pr_header	*h = (const struct pr_header *)x->x_pr;
	unsigned		 entries, tombs;

	pr_stats(x->x_pr, (unsigned)x->x_seat, &entries, &tombs);
	if (tombs > h->ph_slots / 4)
		pr_worker_compact(x->x_pr, (unsigned)x->x_seat);
}

/*
 * routingctl drain: close every WebSocket with 1001, spread over the first
 * half of shutdown_timeout; undrain stops what is left of the spread.
 */
static void
ws_drained_check(struct ws *x)
{
	int	 drained = worker_is_drained(x->x_w);

	if (x->x_draining || drained == x->x_drained)
		return;
	x->x_drained = drained;
	if (drained)
		ws_spread_start(x, 1001, (uint32_t)(x->x_cfg->cf_shutdown_timeout
		    / 2), "server drained for maintenance");
	else
		ev_timer_stop(x->x_w->w_loop, &x->x_spread);
}

/*
 * One batch of spread closes: the oldest open connections, as many as
 * keep the closes even over the window (x_spread_n of those open at its
 * start by now, in proportion to the time gone).
 */
static void
ws_spread_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ws	*x = t->data;
	struct ws_conn	*c, *next;
	ev_tstamp	 now = ev_now(loop), span;
	unsigned	 target;

	span = x->x_spread_end - x->x_spread_begin;
	target = x->x_spread_n;
	if (span > 0 && now < x->x_spread_end)
		target = (unsigned)((double)x->x_spread_n *
		    (now - x->x_spread_begin) / span) + 1;
	for (c = TAILQ_FIRST(&x->x_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, wc_entry);
		if (c->wc_closing)
			continue;
		if (x->x_spread_done >= target && now < x->x_spread_end)
			return;
		wsc_close(c, x->x_spread_code, x->x_spread_why);
		x->x_spread_done++;
	}
	ev_timer_stop(loop, t);		/* none left open */
}

/* Close every open WebSocket with code, spread over ms (0: at once). */
static void
ws_spread_start(struct ws *x, uint16_t code, uint32_t ms, const char *why)
{
	struct ev_loop	*loop = x->x_w->w_loop;
	struct ws_conn	*c;

	x->x_spread_code = code;
	x->x_spread_why = why;
	x->x_spread_begin = ev_now(loop);
	x->x_spread_end = x->x_spread_begin + (double)ms / 1000.0;
	x->x_spread_n = x->x_spread_done = 0;
	TAILQ_FOREACH(c, &x->x_conns, wc_entry)
		if (!c->wc_closing)
			x->x_spread_n++;
	ev_timer_stop(loop, &x->x_spread);
	ev_timer_set(&x->x_spread, 0., WS_SPREAD_STEP);
	ev_timer_start(loop, &x->x_spread);
	if (ms == 0)
		ws_spread_cb(loop, &x->x_spread, 0);	/* all now */
}

/*
 * Free the configurations a reload in place replaced once no queued op
 * can borrow one: the commit queue is empty between loop callbacks only
 * when every op made so far has been applied and answered.
 */
static void
ws_release_configs(struct ws *x)
{
	size_t	 i, kept = 0;

	if (x->x_noldcfg == 0 || x->x_commit == NULL ||
	    commit_pending(x->x_commit) > 0)
		return;
	for (i = 0; i < x->x_noldcfg; i++) {
		if (x->x_oldcfg[i] == x->x_cfg)
			x->x_oldcfg[kept++] = x->x_oldcfg[i];
		else
			config_free((struct config *)(uintptr_t)
			    x->x_oldcfg[i]);
	}
	x->x_noldcfg = kept;
}

static void
ws_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ws	*x = t->data;
	struct ws_conn	*c, *next;
	ev_tstamp	 now = ev_now(loop);
	int64_t		 real_s = (int64_t)time(NULL);
	int		 slept = 0;

	ws_drained_check(x);
	ws_release_configs(x);
	if (x->x_seat >= 0 && atomic_exchange_explicit(
	    &x->x_shm->sh_ws.sw_resync[x->x_seat], 0, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&x->x_shm->sh_ws.sw_resyncs, 1,
		    memory_order_relaxed);
		ws_all_due(x);
	} else if (now - x->x_last_sweep >= WS_SWEEP_INTERVAL) {
		x->x_last_sweep = now;
		ws_all_due(x);
	}
	for (c = TAILQ_FIRST(&x->x_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, wc_entry);
		slept += wsc_tick(c, now, real_s);
	}
	/* give the freed contexts' pages back (they sit among live ones) */
	if (slept > 0)
		(void)malloc_trim(0);
	if (x->x_seat >= 0 && x->x_pr != NULL)
		ws_presence_tidy(x);
}

/* ------------------------------------------------------------------ */
/* Upgrades                                                            */
/* ------------------------------------------------------------------ */

static void
ws_refuse(struct ws *x, struct server_conn *sc, int status, const char *code,
    const char *msg, const char *extra)
{
	atomic_fetch_add_explicit(&x->x_shm->sh_ws.sw_rejects, 1,
	    memory_order_relaxed);
	server_respond_error(sc, status, code, msg, extra);
}

/* Check the handshake, the origin and the token: 0 with *id, else
 * answered -1. */
static int
ws_admit(struct ws *x, struct server_conn *sc, const struct http_request *req,
    struct wsp_upgrade *up, struct auth_id *id, const char **proto,
    size_t *protolen)
{
	const char	*err = NULL, *tok;
	size_t		 toklen;
	int		 r, hit, any;

	if ((r = wsp_check_upgrade(req, up, &err)) == WSP_BAD_VERSION) {
		ws_refuse(x, sc, 426, "upgrade_required", err,
		    "Sec-WebSocket-Version: 13\r\n");
		return (-1);
	}
	if (r != WSP_OK) {
		ws_refuse(x, sc, 400, "bad_request", err != NULL ? err :
		    "not a WebSocket upgrade", NULL);
		return (-1);
	}
	if (up->wu_origin != NULL && !auth_origin_allowed(x->x_cfg,
	    up->wu_origin, up->wu_originlen, &any)) {
		ws_refuse(x, sc, 403, "forbidden_origin",
		    "this Origin may not connect", NULL);
		return (-1);
	}
	if (wsp_token(req, up, &tok, &toklen, proto, protolen) != WSP_OK ||
	    (r = auth_request_token(x->x_auth, req, tok, toklen, time(NULL),
	    id, &hit, &err)) == AUTH_DENIED) {
		ws_refuse(x, sc, 401, "unauthorized",
		    "a valid token is required", "WWW-Authenticate: Bearer\r\n");
		return (-1);
	}
	if (r != AUTH_OK) {
		ws_refuse(x, sc, 400, "bad_request", "bad device id", NULL);
		return (-1);
	}
	return (0);
}

/*
 * Admission of a connection's device: it must be durably known before
 * the connection's first frame (queue_empty promises that every later
 * send reaches it), so an unknown device (or one whose last-seen time is
 * due for a refresh) goes through the group commit first (msgrecv.c),
 * adopting what is held for its user; a known, recently seen one is
 * admitted at once.  A device leaving after a long connection records
 * its last-seen time (deferred: nobody waits), so device_idle_ttl counts
 * from then.
 */
struct ws_admit_op {
	struct mr_admit	 ao_admit;		/* first: op == struct */
	struct ws	*ao_ws;
	struct ws_conn	*ao_conn;
};

/* The device is known: the connection may get its first frame. */
static void
ws_admit_done(struct commit_op *op, int r)
{
	struct ws_admit_op	*ao = (struct ws_admit_op *)op;
	struct ws		*x = ao->ao_ws;
	struct ws_conn		*c = ao->ao_conn;
	struct qs_cursor	 cur;

	if (r == QS_OK)
		mr_admit_count(&ao->ao_admit, x->x_shm);
	else if (r == QS_MAPFULL)	/* refused by a full map */
		atomic_fetch_add_explicit(&x->x_shm->sh_api.sa_store_full, 1,
		    memory_order_relaxed);
	qs_cursor_init(&cur);
	if (r == QS_OK)
		r = qs_fetch_after(x->x_qs, ao->ao_admit.md_user,
		    ao->ao_admit.md_device, &cur, 0, util_real_ms(), NULL,
		    NULL, NULL, NULL);
	free(ao);
	wsc_admitted(c, r == QS_OK ? 0 : -1, cur.qc_dropped);
}

static void
ws_admit_device(struct ws *x, struct ws_conn *c)
{
	struct ws_admit_op	*ao;
	struct qs_cursor	 cur;
	uint64_t		 now = util_real_ms();
	int			 r;

	qs_cursor_init(&cur);
	r = qs_fetch_after(x->x_qs, c->wc_user, c->wc_device, &cur, 0, now,
	    NULL, NULL, NULL, NULL);
	if (r == QS_OK && now < cur.qc_seen_ms +
	    config_touch_interval_ms(x->x_cfg)) {
		wsc_admitted(c, 0, cur.qc_dropped);
		return;
	}
	if ((ao = malloc(sizeof(*ao))) == NULL) {
		wsc_admitted(c, -1, 0);
		return;
	}
	mr_admit_init(&ao->ao_admit, x->x_cfg, c->wc_user, c->wc_device);
	ao->ao_ws = x;
	ao->ao_conn = c;
	ao->ao_admit.md_op.o_done = ws_admit_done;
	c->wc_admitting = 1;
	c->wc_ops++;		/* c stays allocated until ws_admit_done */
	commit_submit(x->x_commit, &ao->ao_admit.md_op);
}

/* ws_device_left: see ws.h. */
void
ws_device_left(struct ws *x, const struct ws_conn *c)
{
	if (x->x_commit == NULL || x->x_freeing || !c->wc_admitted ||
	    ev_now(x->x_w->w_loop) - c->wc_since <
	    (double)config_touch_interval_ms(x->x_cfg) / 1000.0)
		return;
	(void)mr_seen_submit(x->x_commit, c->wc_user, c->wc_device);
}

/* A push job after a disconnect (ws_push_left): one deferred write. */
struct ws_push_op {
	struct commit_op	 po_op;
	uint64_t		 po_now_ms;
	uint64_t		 po_delay_ms;
	char			 po_user[ID_MAX + 1];
	char			 po_device[ID_MAX + 1];
};

static int
ws_push_apply(struct qstore *qs, struct commit_op *op)
{
	struct ws_push_op	*po = (struct ws_push_op *)(void *)op;

	return (qs_push_disconnect(qs, po->po_user, po->po_device,
	    po->po_now_ms, po->po_delay_ms));
}

static void
ws_push_done(struct commit_op *op, int result)
{
	(void)result;		/* a lost job costs a push, never a message */
	free(op);
}

/* ws_push_left: see ws.h. */
void
ws_push_left(struct ws *x, const struct ws_conn *c)
{
	struct ws_push_op	*po;

	if (x->x_commit == NULL || x->x_freeing ||
	    x->x_cfg->cf_push_gateway_url == NULL || !c->wc_admitted ||
	    (po = calloc(1, sizeof(*po))) == NULL)
		return;
	po->po_now_ms = util_real_ms();
	po->po_delay_ms = (uint64_t)x->x_cfg->cf_push_delay_after_disconnect;
	(void)snprintf(po->po_user, sizeof(po->po_user), "%s", c->wc_user);
	(void)snprintf(po->po_device, sizeof(po->po_device), "%s",
	    c->wc_device);
	po->po_op.o_single = 1;
	po->po_op.o_defer = 1;
	po->po_op.o_apply = ws_push_apply;
	po->po_op.o_done = ws_push_done;
	commit_submit(x->x_commit, &po->po_op);
}

/* GET /connect: admit, answer 101, take the socket over. */
static void
ws_upgrade(struct ws *x, struct server_conn *sc,
    const struct http_request *req)
{
	static char		 rest[WS_REST_MAX];
	struct wsp_upgrade	 up;
	struct auth_id		 id;
	struct ws_conn		*c;
	char			 accept[WSP_ACCEPT_LEN + 1], head[512];
	const char		*proto = NULL;
	size_t			 protolen = 0, restlen = 0;
	SSL			*ssl = NULL;
	int			 fd, n, mode;

	if (x->x_draining) {
		ws_refuse(x, sc, 503, "unavailable", "shutting down", NULL);
		return;
	}
	if (worker_is_drained(x->x_w)) {
		atomic_fetch_add_explicit(&x->x_shm->sh_ws.sw_drain_refused, 1,
		    memory_order_relaxed);
		ws_refuse(x, sc, 503, "unavailable", "routingd is drained for "
		    "maintenance; try again later", DRAIN_RETRY_HDR);
		return;
	}
	if (ws_admit(x, sc, req, &up, &id, &proto, &protolen) == -1)
		return;
	mode = up.wu_mode == WSP_MODE_POKE ? WS_MODE_POKE : WS_MODE_PUSH;
	if (wsp_accept_key(up.wu_key, up.wu_keylen, accept) == -1 ||
	    (n = wsp_format_101(head, sizeof(head), accept, proto,
	    protolen)) < 0) {
		ws_refuse(x, sc, 400, "bad_request", "bad handshake", NULL);
		return;
	}
	/* req goes away with the detach: everything needed is copied */
	if ((fd = server_conn_detach(sc, rest, sizeof(rest), &restlen,
	    &ssl)) == -1) {
		ws_refuse(x, sc, 400, "bad_request",
		    "the upgrade could not be taken over", NULL);
		return;
	}
	if ((c = wsc_new(x, fd, ssl, head, (size_t)n, rest, restlen, &id,
	    mode)) == NULL)
		return;
	ws_register(x, c);
	ws_admit_device(x, c);
}

static void
ws_handle(struct server_conn *sc, const struct http_request *req, void *arg)
{
	struct ws	*x = arg;

	if (req->hr_path_len == 8 && memcmp(req->hr_path, "/connect", 8) == 0)
		ws_upgrade(x, sc, req);
	else
		server_respond_error(sc, 404, "not_found",
		    "no such endpoint on the WebSocket port", NULL);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static int
ws_open(struct ws *x)
{
	struct worker	*w = x->x_w;
	const char	*err = NULL;

	if ((x->x_qs = qs_open(x->x_cfg->cf_data_dir,
	    (uint64_t)x->x_cfg->cf_store_max_size, &err)) == NULL) {
		log_warnx("cannot open the store in %s: %s",
		    x->x_cfg->cf_data_dir, err != NULL ? err : "unknown");
		return (-1);
	}
	qs_seq_floor(x->x_qs, &x->x_shm->sh_seq_hw, &x->x_shm->sh_seq_jumped);
	qs_push_config(x->x_qs, x->x_cfg->cf_push_gateway_url != NULL,
	    (uint64_t)x->x_cfg->cf_push_coalesce);
	if ((x->x_auth = auth_new(x->x_cfg, &err)) == NULL) {
		log_warnx("cannot load the JWT keys: %s", err);
		return (-1);
	}
	if ((x->x_rbuf = malloc(IPC_MAX_MSG)) == NULL ||
	    (x->x_ho = ho_new(x->x_shm, w->w_pr, w->w_ho)) == NULL ||
	    (x->x_commit = commit_new(w->w_loop, x->x_qs, x->x_shm,
	    x->x_ho)) == NULL) {
		log_warn("%s: malloc", __func__);
		return (-1);
	}
	return (0);
}

/* The presence seat and hand-off socket of this worker, if it has one. */
static void
ws_seat(struct ws *x)
{
	struct worker	*w = x->x_w;

	x->x_seat = -1;
	x->x_recv = -1;
	if (w->w_ho == NULL || w->w_index >= w->w_ho->hf_n)
		return;		/* no hand-off row: sweep only */
	x->x_seat = w->w_index;
	x->x_recv = w->w_ho->hf_recv[w->w_index];
	x->x_pr = w->w_pr;
	if (x->x_pr != NULL)
		pr_worker_start(x->x_pr, (unsigned)x->x_seat);
	ev_io_init(&x->x_recv_io, ws_recv_cb, x->x_recv, EV_READ);
	x->x_recv_io.data = x;
	ev_io_start(w->w_loop, &x->x_recv_io);
}

static int
ws_init(struct worker *w)
{
	struct ws	*x;
	int		 i;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warn("%s: calloc", __func__);
		return (-1);
	}
	x->x_w = w;
	x->x_cfg = w->w_cfg;
	x->x_shm = w->w_shm;
	TAILQ_INIT(&x->x_conns);
	TAILQ_INIT(&x->x_due);
	for (i = 0; i < WS_USER_BUCKETS; i++)
		TAILQ_INIT(&x->x_users[i]);
	w->w_ctx = x;
	if (ws_open(x) == -1)
		return (-1);
	ws_seat(x);
	ev_idle_init(&x->x_idle, ws_idle_cb);
	x->x_idle.data = x;
	ev_timer_init(&x->x_tick, ws_tick_cb, WS_TICK, WS_TICK);
	x->x_tick.data = x;
	ev_timer_start(w->w_loop, &x->x_tick);
	ev_init(&x->x_spread, ws_spread_cb);
	x->x_spread.data = x;
	x->x_last_sweep = ev_now(w->w_loop);
	/* no client certificates here: tls_client_ca is the API port's */
	return (worker_http_start(w, 0, WS_MAX_HTTP_BODY, ws_handle, x));
}

/* The HTTP server of a draining worker has no connection left. */
static void
ws_http_idle_cb(void *arg)
{
	struct ws	*x = arg;

	x->x_http_idle = 1;
	if (x->x_nconns == 0)
		worker_drained(x->x_w);
}

/*
 * Stop accepting at once (the next generation, if any, takes the new
 * connections), close every WebSocket with the worker's close code (1001,
 * or IPC_PROC_RETIRE's 1012) spread over its time, and finish once the
 * last connection is gone; the tick kills those that do not answer within
 * WS_CLOSE_WAIT, and worker.c's deadline bounds the whole.
 */
static void
ws_drain(struct worker *w)
{
	struct ws	*x = w->w_ctx;

	x->x_draining = 1;
	if (x->x_seat >= 0)
		ev_io_stop(w->w_loop, &x->x_recv_io);
	ws_spread_start(x, w->w_close_code, w->w_spread_ms,
	    w->w_close_code == 1012 ? "service restart" :
	    "server shutting down");
	server_drain(w->w_srv, 0, ws_http_idle_cb, x);
}

/* Keep cf to free it later (ws_release_configs, ws_free): ops in the
 * group commit may borrow it after it is replaced. */
static int
ws_keep_config(struct ws *x, const struct config *cf)
{
	const struct config	**v;

	if ((v = reallocarray(x->x_oldcfg, x->x_noldcfg + 1,
	    sizeof(*v))) == NULL)
		return (-1);
	v[x->x_noldcfg++] = cf;
	x->x_oldcfg = v;
	return (0);
}

/*
 * A reload in place (IPC_PROC_CONFIG): parse the text the supervisor
 * validated, keep what only a restart applies, load the new JWT keys and
 * swap: new connections get the new keys and limits, open ones keep
 * running (and follow limits read per frame or tick, e.g. ws_window and
 * ws_ping_interval).  Any failure keeps the running configuration.
 */
static void
ws_config(struct worker *w, const char *text, size_t len)
{
	struct ws		*x = w->w_ctx;
	struct cfg_errors	*errs;
	struct config		*ncf = NULL;
	struct auth		*na;
	const char		*err = "out of memory";

	if ((errs = calloc(1, sizeof(*errs))) == NULL)
		goto fail;
	if (config_load_text(w->w_cfg->cf_path != NULL ? w->w_cfg->cf_path :
	    "(reload)", text, len, &ncf, errs) == -1) {
		err = errs->ce_n > 0 ? errs->ce_msg[0] : "invalid";
		goto fail;
	}
	if (config_keep_restart(ncf, w->w_cfg) == -1 ||
	    sup_prepare_state(ncf, &err) == -1)
		goto fail;
	if ((na = auth_new(ncf, &err)) == NULL)
		goto fail;
	if (ws_keep_config(x, ncf) == -1) {
		auth_free(na);
		goto fail;
	}
	auth_free(x->x_auth);
	x->x_auth = na;
	x->x_cfg = w->w_cfg = ncf;
	qs_push_config(x->x_qs, ncf->cf_push_gateway_url != NULL,
	    (uint64_t)ncf->cf_push_coalesce);
	worker_http_reconfig(w, ncf, WS_MAX_HTTP_BODY);
	worker_apply_logging(w, ncf);
	log_info("configuration applied in place config=%s", ncf->cf_path);
	free(errs);
	return;
 fail:
	log_warnx("reload in place failed, the running configuration stays: "
	    "%s", err);
	config_free(ncf);
	free(errs);
}

static void
ws_free(struct worker *w)
{
	struct ws	*x = w->w_ctx;
	struct ws_conn	*c;

	if (x != NULL) {
		ev_timer_stop(w->w_loop, &x->x_tick);
		ev_timer_stop(w->w_loop, &x->x_spread);
		ev_idle_stop(w->w_loop, &x->x_idle);
		if (x->x_seat >= 0)
			ev_io_stop(w->w_loop, &x->x_recv_io);
		x->x_freeing = 1;
		commit_free(x->x_commit); /* ops fail: conns settle */
		x->x_commit = NULL;
		while ((c = TAILQ_FIRST(&x->x_conns)) != NULL)
			wsc_kill(c);
		ho_free(x->x_ho);
	}
	worker_http_free(w);
	if (x != NULL) {
		auth_free(x->x_auth);
		qs_close(x->x_qs);
		free(x->x_rbuf);
		while (x->x_noldcfg > 0)
			config_free((struct config *)(uintptr_t)
			    x->x_oldcfg[--x->x_noldcfg]);
		free(x->x_oldcfg);
		free(x);
	}
	w->w_ctx = NULL;
}
