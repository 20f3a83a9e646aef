/*
 * ws.h: the WebSocket worker's internal interface, shared by ws.c (the
 * worker: upgrades, the connection registry, doorbells, timers, drain)
 * and ws_conn.c (one connection: wslay, frames, the window, LMDB paging).
 */

#ifndef WS_H
#define WS_H

#include <sys/queue.h>

#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "auth.h"
#include "config.h"
#include "qstore.h"
#include "wsframe.h"

#define WS_USER_BUCKETS		4096	/* user hash chains (2^n) */
#define WS_MAX_MSG		(1024 * 1024) /* bytes of one client message */
#define WS_MAX_FRAGMENTS	64	/* frames of one client message */
#define WS_OUT_CAP		(256 * 1024) /* bytes queued before pulls stop */
#define WS_MSG_COST		128	/* bytes a queued frame costs besides its
					 * payload (wslay's message, cell and
					 * copy), counted toward WS_OUT_CAP */
/*
 * Control frames (ping, pong, close) a client may send: a token bucket of
 * WS_CTL_BURST frames refilled at WS_CTL_RATE a second; a control frame
 * that finds it empty closes the connection with 1008.  A client pinging
 * at 200/s is closed after about 2 s, one at 1000/s after 0.2 s; routingd
 * pings every ws_ping_interval, so an honest client sends about one pong
 * a ping_interval.
 */
#define WS_CTL_RATE		100	/* control frames a second, sustained */
#define WS_CTL_BURST		200	/* control frames above the rate */
#define WS_BAD_FRAMES_MAX	10	/* error frames before a 1008 close */
#define WS_CLOSE_WAIT		5.0	/* s for the peer's close frame */
#define WS_SWEEP_INTERVAL	5.0	/* s between catch-ups of every conn */
#define WS_PAGE_MAX		64	/* messages per LMDB page */
#define WS_SPREAD_STEP		0.05	/* s between batches of spread closes */

enum ws_mode {
	WS_MODE_PUSH = 0,
	WS_MODE_POKE
};

struct commit;
struct ws_conn;
TAILQ_HEAD(ws_connlist, ws_conn);

/* The worker's state. */
struct ws {
	struct worker		*x_w;
	const struct config	*x_cfg;
	struct shm		*x_shm;
	struct qstore		*x_qs;
	struct auth		*x_auth;
	struct commit		*x_commit;	/* group commit (commit.c) */
	struct handoff		*x_ho;
	struct presence		*x_pr;		/* NULL: no presence seat */
	int			 x_seat;	/* WS seat index */
	int			 x_recv;	/* hand-off receive end or -1 */
	int			 x_draining;
	int			 x_http_idle;	/* draining: HTTP server done */
	int			 x_drained;	/* seen routingctl drain */
	int			 x_freeing;	/* ws_free under way */
	uint16_t		 x_spread_code;	/* spread closes: code */
	const char		*x_spread_why;
	ev_tstamp		 x_spread_begin;
	ev_tstamp		 x_spread_end;	/* all closed by then */
	unsigned		 x_spread_n;	/* open when it began */
	unsigned		 x_spread_done;	/* closed by it so far */
	ev_timer		 x_spread;	/* a batch every WS_SPREAD_STEP */
	const struct config	**x_oldcfg;	/* every config wo_config made
						 * and not yet freed (queued
						 * ops may borrow a replaced
						 * one) */
	size_t			 x_noldcfg;
	uint64_t		 x_serial;	/* connection serial numbers */
	unsigned		 x_nconns;
	ev_io			 x_recv_io;
	ev_timer		 x_tick;
	ev_idle			 x_idle;	/* runs due pulls */
	ev_tstamp		 x_last_sweep;
	struct ws_connlist	 x_conns;	/* every open connection */
	struct ws_connlist	 x_due;		/* connections with a pull due */
	struct ws_connlist	 x_users[WS_USER_BUCKETS];
	unsigned char		*x_rbuf;	/* IPC_MAX_MSG */
};

/* One WebSocket connection. */
struct ws_conn {
	TAILQ_ENTRY(ws_conn)	 wc_entry;	/* x_conns */
	TAILQ_ENTRY(ws_conn)	 wc_uentry;	/* x_users[bucket] */
	TAILQ_ENTRY(ws_conn)	 wc_dentry;	/* x_due while wc_due */
	struct ws		*wc_ws;
	int			 wc_fd;
	SSL			*wc_ssl;	/* NULL on a plain port */
	int			 wc_rd_wants_w;	/* TLS: the last read
						 * waits for writability */
	int			 wc_wr_wants_r;	/* TLS: the last write
						 * waits for readability */
	wslay_event_context_ptr	 wc_ctx;
	ev_io			 wc_rio;
	ev_io			 wc_wio;
	char			 wc_user[ID_MAX + 1];
	char			 wc_device[ID_MAX + 1];
	unsigned		 wc_bucket;
	int64_t			 wc_exp;	/* token exp, unix s */
	int			 wc_mode;	/* enum ws_mode */
	uint64_t		 wc_serial;
	struct qs_cursor	 wc_cur;	/* next message to push */
	uint32_t		 wc_inflight;	/* pushed, not acknowledged */
	uint64_t		 wc_commit_us;	/* doorbell stamp of a live pull */
	int			 wc_backlog_done; /* queue_empty sent */
	int			 wc_admitted;	/* device known: frames may go */
	int			 wc_admitting;	/* admission op in the commit */
	uint32_t		 wc_told;	/* drop marker count last sent */
	ev_tstamp		 wc_since;	/* connected at */
	int			 wc_due;	/* on x_due */
	int			 wc_pokes;	/* {} frames owed (poke mode) */
	int			 wc_registered;	/* in presence and x_users */
	int			 wc_closing;	/* a close is queued */
	int			 wc_dead;	/* free when callbacks unwind */
	int			 wc_busy;	/* inside our callbacks */
	int			 wc_ops;	/* ops in the group commit (acks,
					   sends, admission) */
	int			 wc_bad;	/* error frames answered */
	int			 wc_capped;	/* a pull stopped at WS_OUT_CAP */
	unsigned		 wc_pushed_now;	/* frames of the current pull */
	size_t			 wc_nread;	/* bytes read this turn */
	/* the client's bytes go through wsf_filter before wslay sees them */
	struct wsf		 wc_wsf;	/* its frame state, owed pong */
	uint64_t		 wc_pong_seq;	/* wc_qseq of the last pong */
	uint64_t		 wc_qseq;	/* frames queued in wslay */
	uint8_t			 wc_pre[14];	/* a frame head held back to go
						 * with its payload */
	uint8_t			 wc_prelen;	/* bytes of it */
	uint8_t			 wc_preoff;	/* of them written */
	uint64_t		 wc_sent;	/* bytes the kernel took
						 * (plain; TLS counts its
						 * own: tls_wire_written) */
	uint64_t		 wc_acked;	/* bytes written - SIOCOUTQ
						 * at the last sample */
	ev_tstamp		 wc_kstall_since; /* kernel queue stuck, or 0 */
	unsigned		 wc_frags;	/* frames of the message */
	int			 wc_msg_open;	/* a fragmented message is
						 * partly received */
	int			 wc_asleep;	/* wc_ctx freed by wsc_sleep */
	uint16_t		 wc_close_code;	/* sent or received */
	ev_tstamp		 wc_last_rx;
	ev_tstamp		 wc_last_ping;
	ev_tstamp		 wc_close_at;	/* closing: give up then */
	ev_tstamp		 wc_stall_since; /* output stuck since, or 0 */
	char			*wc_rest;	/* bytes after the upgrade */
	size_t			 wc_restlen;
	size_t			 wc_restoff;
};

/* ---- ws_conn.c ---------------------------------------------------- */

/*
 * wsc_new: take over the upgraded socket fd (non-blocking) and its TLS
 * state ssl (NULL on a plain port) with rest (the restlen bytes the
 * client sent after its request, copied) for the authenticated id, and
 * write the 101 answer head (hlen bytes).  Returns the connection
 * (already in x_conns, reading), or NULL (fd closed, ssl freed).
 */
struct ws_conn	*wsc_new(struct ws *, int fd, SSL *ssl, const char *head,
		    size_t hlen,
		    const char *rest, size_t restlen, const struct auth_id *id,
		    int mode);

/* wsc_close: queue a close frame with code (once) and stop pulling. */
void		 wsc_close(struct ws_conn *, uint16_t code, const char *why);

/*
 * wsc_early: push the copy seq (lane, envelope env of len bytes) of an
 * early record (IPC_EARLY) before its commit, if it is this connection's
 * next message: push mode, admitted, backlog sent, window and output not
 * full, the drop marker told is the queue's, and the cursor at or past
 * prev in every lane.  Otherwise nothing: the doorbell after the commit
 * pulls it.  sent_us (monotonic, 0: none) is when the record left, for
 * the delivery histogram.  1 if it was framed, else 0.
 */
int		 wsc_early(struct ws_conn *, int lane, uint64_t seq,
		    const uint64_t prev[2], uint32_t dropped, const char *env,
		    size_t len, uint64_t sent_us);

/* wsc_ephemeral: push an ephemeral message (never stored, not counted in
 * the window, dropped when the output is full or in poke mode). */
void		 wsc_ephemeral(struct ws_conn *, const char *id,
		    const char *env, size_t len, uint64_t commit_us);

/*
 * wsc_admitted: the device of c is known (rc 0), with drop marker dropped
 * (see qs_fetch_after), or could not be admitted (rc -1: closed with
 * 1011).  Before this, c gets no frame; after it, the marker frame comes
 * first when dropped is not 0 ({"type":"dropped","count":N}), then the
 * backlog (push mode).  Releases the admission's hold on c (wc_ops) when
 * it came from the group commit.
 */
void		 wsc_admitted(struct ws_conn *, int rc, uint32_t dropped);

/* wsc_pull: push what the window and the output cap allow (push mode) or
 * the owed {} frames (poke mode), then flush. */
void		 wsc_pull(struct ws_conn *);

/* wsc_tick: per-second duties of a connection at now (ping, timeouts,
 * token expiry, write stall: routingd's output blocked, or the kernel's
 * send queue unacknowledged, for send_timeout), and its sleep: a
 * connection that read nothing for WSC_SLEEP_AFTER and has nothing under
 * way in wslay (no frame queued or partly read, no message partly
 * received, no pong owed, not closing) frees its wslay context (most of
 * its memory), made again by the next byte in or frame out.  Returns 1
 * if it went to sleep now, else 0. */
int		 wsc_tick(struct ws_conn *, ev_tstamp now, int64_t real_s);

/* wsc_kill: close the socket at once and free the connection (drain
 * deadline, shutdown). */
void		 wsc_kill(struct ws_conn *);

/* ---- ws.c ---------------------------------------------------------- */

/* ws_register, ws_unregister: presence and the per-user index. */
void		 ws_register(struct ws *, struct ws_conn *);
void		 ws_unregister(struct ws *, struct ws_conn *);

/* ws_due: schedule a pull of c in this loop iteration. */
void		 ws_due(struct ws *, struct ws_conn *);

/*
 * ws_device_left: c is closing: record its device's last-seen time
 * (deferred) if it was admitted and connected for longer than the touch
 * interval (shorter connections were seen recently enough).
 */
void		 ws_device_left(struct ws *, const struct ws_conn *);

/*
 * ws_push_left: c is closing: when pushes are served, queue (deferred) a
 * push job for its device due push_delay_after_disconnect from now; the
 * store keeps it only if the device has a push target and messages
 * queued, and the push worker sends nothing if the device is online
 * again (or has nothing unread) by then.
 */
void		 ws_push_left(struct ws *, const struct ws_conn *);

/* ws_conn_gone: c is closed and about to be freed: forget it. */
void		 ws_conn_gone(struct ws *, struct ws_conn *);

/* ws_close_index: the metrics index (enum shm_ws_close) of a close code. */
int		 ws_close_index(uint16_t code);

#endif /* WS_H */
