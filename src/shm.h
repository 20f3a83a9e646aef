/*
 * shm.h: the shared-memory region of one routingd instance.
 *
 * The supervisor maps it (MAP_SHARED|MAP_ANONYMOUS) before forking; every
 * worker inherits the mapping.  It holds no pointers, only fixed-width
 * fields and C11 atomics, so any process may read it at any time.
 *
 * Ownership: a worker slot (struct shm_slot) is written by the worker that
 * holds it and by the supervisor, which stamps it (role, index, times,
 * state) before fork, sets its pid after, and resets it after the worker is
 * reaped.  Counters in a slot are cumulative and survive slot reuse, so
 * /metrics sums slots.  The daemon-wide fields (sh_*) are written by the
 * supervisor, except sh_rl, sh_api and sh_ws, which the workers add to (see
 * each).  Each process samples its own resource use into its struct
 * shm_proc (a worker into its slot, the supervisor into sh_sup_proc).
 * sh_drained and sh_drained_since_ms are the operator's drain
 * (routingctl drain/undrain): written by the supervisor only, read by every
 * worker on each request and tick, so a worker forked while drained starts
 * drained.  sh_roles is the supervisor's process table as the region records
 * it: each role's name and its share of the slots, stamped before the first
 * fork and never changed after.
 *
 * Compatibility: SHM_MAGIC and SHM_VERSION open the region; bump the
 * version on any change to the layout below.
 */

#ifndef SHM_H
#define SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "ratelimit.h"
#include "routingd.h"

#define SHM_MAGIC	0x52544453u	/* "RTDS" */
#define SHM_VERSION	14	/* 2: the rate-limit table; 3: API metrics;
				   4: settle metrics; 5: WebSocket;
				   6: held, adopted, overflow, forgotten;
				   7: sh_roles, sh_restarts by PROC_NROLES;
				   8: sh_drained, drain refusals, 1012;
				   9: process samples, latency by route
				      and by WebSocket operation;
				   10: the push worker's slots and
				       metrics (sh_push);
				   11: TLS handshake failures by reason
				       (ss_tls_failures);
				   12: TLS session ticket keys (sh_tls),
				       handshakes by kind, the
				       "certificate" failure reason;
				   13: WebSockets asleep (sw_asleep);
				   14: the message seq high-water mark
				       (sh_seq_hw, sh_seq_jumped), early
				       deliveries (sw_early) */
#define SHM_SLOTS	260		/* worker slots, shared out by role */
#define SHM_ROLE_NAME	8		/* bytes of a role name, NUL included */

/*
 * A process's own resource use, sampled from /proc/self and getrusage by
 * that process (a worker on every heartbeat, the supervisor on its tick)
 * and stored whole; 0 in sp_rss_bytes means "not sampled yet".
 */
struct shm_proc {
	_Atomic uint64_t	sp_rss_bytes;	/* resident set size */
	_Atomic uint64_t	sp_open_fds;	/* open file descriptors */
	_Atomic uint64_t	sp_cpu_us;	/* user + system CPU time */
};

enum shm_slot_state {
	SHM_SLOT_FREE = 0,
	SHM_SLOT_STARTING = 1,
	SHM_SLOT_READY = 2,
	SHM_SLOT_DRAINING = 3
};

/* Reasons of routingd_tls_handshake_failures_total{reason}. */
enum shm_tls_fail {
	SHM_TLS_TIMEOUT = 0,	/* not done within client_header_timeout */
	SHM_TLS_PROTOCOL,	/* a TLS error: garbage, plain HTTP, no
				 * common version or cipher */
	SHM_TLS_CLOSED,		/* the peer closed or reset during it */
	SHM_TLS_OTHER,		/* any other socket error, no memory */
	SHM_TLS_CERTIFICATE,	/* tls_client_ca: the client sent no
				 * certificate or one that does not
				 * chain to it */
	SHM_TLS_COUNT
};

/* Kinds of routingd_tls_handshakes_total{kind}: handshakes completed. */
enum shm_tls_kind {
	SHM_TLSK_FULL = 0,	/* a new session */
	SHM_TLSK_RESUMED,	/* a session ticket was accepted */
	SHM_TLSK_COUNT
};

struct shm_slot {
	_Atomic uint32_t	ss_state;	/* enum shm_slot_state */
	_Atomic uint32_t	ss_role;	/* enum proc_role */
	_Atomic uint32_t	ss_index;	/* instance within role */
	_Atomic int32_t		ss_pid;
	_Atomic uint64_t	ss_started_ms;	/* monotonic */
	_Atomic uint64_t	ss_heartbeat_ms; /* monotonic, by the worker */
	_Atomic uint64_t	ss_conns;	/* open connections (gauge) */
	_Atomic uint64_t	ss_conns_total;	/* accepted, cumulative */
	_Atomic uint64_t	ss_requests;	/* requests answered, cumulative */
	_Atomic uint64_t	ss_bad_requests; /* 4xx framing errors, cumulative */
	_Atomic uint64_t	ss_timeouts;	/* connections timed out */
	_Atomic uint64_t	ss_tls_failures[SHM_TLS_COUNT]; /* handshakes */
	_Atomic uint64_t	ss_tls_handshakes[SHM_TLSK_COUNT]; /* done */
	struct shm_proc		ss_proc;	/* by the worker; reset on alloc */
};

/* One role's share of the slots: [sr_first, sr_first + sr_n). */
struct shm_role {
	char			sr_name[SHM_ROLE_NAME];	/* "": no slots */
	uint32_t		sr_first;
	uint32_t		sr_n;
};

/*
 * Message, store and HTTP metrics, daemon-wide (struct shm_api, named for
 * the HTTP API that came first).  Unlike the rest of sh_*, these have many
 * writers: API workers add the HTTP counters (sa_requests, the request
 * histogram); every worker that sends, fetches, acknowledges, admits a
 * device or commits a batch (API and WS alike) adds the message and store
 * counters.  Relaxed atomic adds, cumulative, never reset; the queue
 * gauges are stored by whichever API worker renders /metrics.
 */
enum shm_api_route {		/* route label of routingd_api_requests_total */
	SHM_R_SEND = 0,
	SHM_R_MESSAGES,
	SHM_R_ACK,
	SHM_R_DEVICE_REGISTER,
	SHM_R_DEVICE_LIST,
	SHM_R_DEVICE_DELETE,
	SHM_R_PREFLIGHT,
	SHM_R_OTHER,		/* 404 and 405 under /api/ */
	SHM_R_COUNT
};

enum shm_api_reject {		/* reason label of messages rejected */
	SHM_REJ_INVALID_JSON = 0,
	SHM_REJ_INVALID_ENVELOPE,
	SHM_REJ_SENDER_MISMATCH,
	SHM_REJ_QUEUE_FULL,
	SHM_REJ_RATE_LIMITED,
	SHM_REJ_UNAUTHORIZED,
	SHM_REJ_UNAVAILABLE,
	SHM_REJ_COUNT
};

enum shm_hist_kind {
	SHM_H_REQUEST = 0,	/* API request latency, us */
	SHM_H_COMMIT,		/* LMDB batch commit latency, us */
	SHM_H_BATCH,		/* requests per committed batch */
	SHM_H_DELIVERY,		/* commit to WebSocket frame written, us */
	SHM_H_PUSH,		/* push gateway request to answer, us */
	SHM_H_COUNT
};

#define SHM_STATUSES	13	/* status classes, see metrics_statuses */
#define SHM_HIST_MAX	16	/* buckets per histogram, +Inf included */

struct shm_hist {
	_Atomic uint64_t	sh_bucket[SHM_HIST_MAX]; /* not cumulative */
	_Atomic uint64_t	sh_count;
	_Atomic uint64_t	sh_sum;		/* in the unit of the kind */
};

struct shm_api {
	_Atomic uint64_t	sa_requests[SHM_R_COUNT][SHM_STATUSES];
	struct shm_hist		sa_hist[SHM_H_COUNT];
	struct shm_hist		sa_route_hist[SHM_R_COUNT]; /* us, by route */
	_Atomic uint64_t	sa_accepted;	/* stored, before fan-out */
	_Atomic uint64_t	sa_fetched;	/* messages returned by GET */
	_Atomic uint64_t	sa_acked;	/* messages deleted by ack */
	_Atomic uint64_t	sa_expired;	/* messages dropped by TTL */
	_Atomic uint64_t	sa_dropped;	/* ephemeral, nobody online */
	_Atomic uint64_t	sa_held;	/* held: recipient had no device */
	_Atomic uint64_t	sa_adopted;	/* held copies new devices took */
	_Atomic uint64_t	sa_overflow;	/* copies full queues dropped */
	_Atomic uint64_t	sa_forgotten;	/* devices idle too long */
	_Atomic uint64_t	sa_rejected[SHM_REJ_COUNT];
	_Atomic uint64_t	sa_token_hits;
	_Atomic uint64_t	sa_token_misses;
	_Atomic uint64_t	sa_store_full;	/* requests refused: map full */
	_Atomic uint64_t	sa_commit_failures;
	_Atomic uint64_t	sa_settled;	/* copies moved out of the log */
	_Atomic uint64_t	sa_settle_failures;
	_Atomic uint64_t	sa_batch_replays;	/* run again, one sub/op */
	_Atomic uint64_t	sa_log_entries;		/* gauge (qs_stats) */
	_Atomic uint64_t	sa_queue_messages;	/* gauge (qs_stats) */
	_Atomic uint64_t	sa_queue_devices;	/* gauge */
	_Atomic uint64_t	sa_queue_held;		/* gauge: held queues */
	_Atomic uint64_t	sa_store_used_bytes;	/* gauge */
	_Atomic uint64_t	sa_store_map_bytes;	/* gauge */
	_Atomic uint64_t	sa_drain_refused;	/* sends refused, drained */
	_Atomic uint64_t	sa_outbox_jobs;		/* gauge: pending pushes */
	_Atomic uint64_t	sa_outbox_oldest_ms;	/* gauge: unix ms, 0 none */
};

/* The push worker's counters (it alone writes them). */
struct shm_push {
	_Atomic uint64_t	sp_sent;	/* the gateway took it */
	_Atomic uint64_t	sp_failed;	/* no answer, 5xx or 4xx */
	_Atomic uint64_t	sp_retried;	/* failures tried again later */
	_Atomic uint64_t	sp_dropped;	/* given up: too old, refused,
						 * platform unknown */
	_Atomic uint64_t	sp_rejected;	/* tokens the gateway rejected
						 * (removed from the device) */
	_Atomic uint64_t	sp_skipped;	/* not sent: device online or
						 * nothing unread */
};

/* Close codes counted by routingd_ws_disconnects_total{code}. */
enum shm_ws_close {
	SHM_WC_1000 = 0, SHM_WC_1001, SHM_WC_1002, SHM_WC_1003, SHM_WC_1006,
	SHM_WC_1007, SHM_WC_1008, SHM_WC_1009, SHM_WC_1011, SHM_WC_1012,
	SHM_WC_1013,
	SHM_WC_4401, SHM_WC_4409, SHM_WC_OTHER, SHM_WC_COUNT
};

/* WebSocket client operations timed by routingd_ws_op_duration_seconds:
 * from the frame's arrival to its answer (send) or its durable delete
 * (ack), both through the group commit. */
enum shm_ws_op {
	SHM_WOP_SEND = 0,
	SHM_WOP_ACK,
	SHM_WOP_COUNT
};

/*
 * WebSocket metrics and hand-off flags, daemon-wide.  Counters are added
 * by the WS workers (hand-off counters by whoever sends); sw_resync[i] is
 * set by a sender that had to drop a doorbell for WS seat i and cleared by
 * that worker when it starts catching up from LMDB.
 */
struct shm_ws {
	_Atomic uint64_t	sw_active;		/* open WebSockets */
	_Atomic uint64_t	sw_asleep;		/* of them without a
							   wslay context */
	_Atomic uint64_t	sw_connects;		/* upgrades done */
	_Atomic uint64_t	sw_rejects;		/* upgrades refused */
	_Atomic uint64_t	sw_closes[SHM_WC_COUNT];
	_Atomic uint64_t	sw_pushed;		/* message frames */
	_Atomic uint64_t	sw_early;		/* of them sent before
							   their commit */
	_Atomic uint64_t	sw_acked;		/* copies deleted */
	_Atomic uint64_t	sw_handoff_sent;	/* doorbell records */
	_Atomic uint64_t	sw_handoff_dropped;
	_Atomic uint64_t	sw_resyncs;		/* catch-ups after drops */
	_Atomic uint64_t	sw_presence_full;
	_Atomic uint64_t	sw_drain_refused;	/* upgrades refused, drained */
	struct shm_hist		sw_op_hist[SHM_WOP_COUNT]; /* us, by op */
	_Atomic uint32_t	sw_resync[MAX_WORKERS_PER_ROLE];
};

/*
 * The TLS session ticket keys (tlskeys.c reads and writes them): made by
 * the supervisor at start and on every rotation, read by every API and WS
 * worker for each ticket it issues or opens, so that any worker resumes a
 * session another one began.  They exist only in this region, never on
 * disk: a restart makes new ones and every client makes a full handshake.
 *
 * Layout (version 12): st_key[0] is the current key (tickets are issued
 * under it), st_key[1] the previous one (its tickets are still opened,
 * and renewed under the current key).  A key is SHM_TK_WORDS 64-bit
 * words: its 16-byte name (the first bytes of every ticket it made), the
 * 32-byte AES-256-CBC key, the 32-byte HMAC-SHA256 key, in that order,
 * the bytes of each word in memory order.  st_rotations counts the
 * rotations since the start (0: the keys made at start).
 *
 * st_seq is a sequence lock: the supervisor, the only writer, makes it
 * odd, writes the words, then makes it even again; a reader copies the
 * words between two loads of an even, unchanged st_seq, so that it never
 * uses half of an old key and half of a new one.
 */
#define SHM_TK_NAME	16		/* bytes of a key name */
#define SHM_TK_SECRET	32		/* bytes of each secret */
#define SHM_TK_WORDS	((SHM_TK_NAME + 2 * SHM_TK_SECRET) / 8)

struct shm_tk {
	_Atomic uint64_t	tk_w[SHM_TK_WORDS];
};

struct shm_tls {
	_Atomic uint64_t	st_seq;		/* odd: being written */
	_Atomic uint64_t	st_rotations;
	struct shm_tk		st_key[2];	/* current, previous */
};

struct shm {
	uint32_t		sh_magic;
	uint32_t		sh_version;
	uint64_t		sh_size;	/* bytes mapped */
	uint64_t		sh_started_real_ms; /* unix ms at start */
	uint64_t		sh_started_mono_ms;
	_Atomic uint32_t	sh_ready;	/* all workers up */
	_Atomic uint32_t	sh_draining;	/* graceful stop under way */
	_Atomic uint32_t	sh_drained;	/* routingctl drain, not undone */
	_Atomic uint64_t	sh_drained_since_ms; /* unix ms; 0: not drained */
	_Atomic uint64_t	sh_restarts[PROC_NROLES]; /* by role */
	_Atomic uint64_t	sh_reloads;
	_Atomic uint64_t	sh_heartbeat_kills;
	_Atomic uint64_t	sh_seq_hw;	/* next message seq any writer
						   of this run may draw, 0:
						   none yet (qs_seq_floor) */
	_Atomic uint32_t	sh_seq_jumped;	/* the run's seq jump is
						   durable (qs_seq_floor) */
	struct shm_role		sh_roles[PROC_NROLES];	/* by role */
	struct shm_proc		sh_sup_proc;	/* the supervisor's own */
	struct shm_slot		sh_slots[SHM_SLOTS];
	struct rl_table		sh_rl;		/* per-user rate limits */
	struct shm_api		sh_api;		/* API metrics (see above) */
	struct shm_ws		sh_ws;		/* WebSocket (see above) */
	struct shm_push		sh_push;	/* push worker (see above) */
	struct shm_tls		sh_tls;		/* ticket keys (see above) */
};

/* shm_create: map and initialise a region; fatal on failure. */
struct shm	*shm_create(void);

/*
 * shm_role_add: record role (enum proc_role) under name and give it the
 * next nslots slots not yet given to a role.  Supervisor, before the first
 * fork, once per role.  Returns 0, or -1 if the role is out of range or
 * already added, the name too long, nslots 0 or more than are left.
 */
int		 shm_role_add(struct shm *, int role, const char *name,
		    unsigned nslots);

/*
 * shm_slot_alloc: a free slot of role's share for its worker index (marked
 * STARTING), or -1 if none is free.
 */
int		 shm_slot_alloc(struct shm *, int role, int index);

/* shm_slot_release: mark a slot free after its worker is gone. */
void		 shm_slot_release(struct shm *, int slot);

/*
 * shm_sum: the sum of the uint64 counter at byte offset off (offsetof in
 * struct shm_slot) over the slots of role's share.
 */
uint64_t	 shm_sum(const struct shm *, int role, size_t off);

#endif /* SHM_H */
