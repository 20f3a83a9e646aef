/*
 * api.h: the API worker's private interfaces, shared by api.c (process
 * side and routing), api_routes.c (one function per endpoint) and
 * api_batch.c (group commit).  Nothing outside the API worker includes it.
 */

#ifndef API_H
#define API_H

#include <sys/queue.h>

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "json.h"
#include "handoff.h"
#include "qstore.h"
#include "routingd.h"
#include "server.h"
#include "shm.h"

#define API_MAX_TOKENS		8192	/* jsmn tokens per request body */
#define API_BATCH_MAX_OPS	1000	/* requests per LMDB batch */
#define API_BATCH_MAX_BYTES	(8 * 1024 * 1024) /* request bytes per batch */
#define API_EXPIRE_INTERVAL	1.0	/* s between expiry sweeps */
#define API_EXPIRE_MAX		1000	/* messages dropped per sweep */
#define API_FORGET_SCAN		1000	/* queue records an idle sweep visits */
#define API_HEAP_KEEP		(16 * 1024 * 1024) /* bytes malloc keeps */
#define API_READER_INTERVAL	30.0	/* s between LMDB reader checks */
#define API_LIMIT_DEFAULT	50	/* GET /api/messages default limit */
#define API_LIMIT_MAX		500
#define API_ACK_MAX		1000	/* ids per ack */
#define API_CORS_MAX_AGE	600	/* s a preflight may be cached */
#define API_WARN_INTERVAL_MS	1000	/* ms between store failure logs */

struct apib;
struct worker;

/* The API worker's state (w_ctx). */
struct api {
	struct worker		*a_w;
	const struct config	*a_cfg;
	struct shm		*a_shm;
	struct qstore		*a_qs;
	struct auth		*a_auth;
	struct apib		*a_batch;
	struct handoff		*a_ho;		/* doorbells to WS workers */
	jsmntok_t		*a_tok;		/* API_MAX_TOKENS, reused */
	int			 a_mapfull;	/* a MAP_FULL incident is on */
	int			 a_expiring;	/* an expiry op is queued */
	int			 a_forgetting;	/* an idle sweep op is queued */
	uint64_t		 a_warned_ms;	/* last store failure logged */
	ev_timer		 a_expire;
	ev_timer		 a_readers;
};

/* One authenticated API request while it is being served. */
struct api_call {
	struct api			*ac_api;
	struct server_conn		*ac_conn;
	const struct http_request	*ac_req;
	int				 ac_route;	/* enum shm_api_route */
	uint64_t			 ac_t0_us;	/* dispatch, mono */
	struct auth_id			 ac_id;
};

/* ---- api.c ---------------------------------------------------------- */

/*
 * api_reply: answer the call (CORS headers added, metrics counted).
 * extra is NULL or header lines ending in CRLF; body is copied.
 */
void		 api_reply(struct api_call *, int status, const char *ctype,
		    const char *extra, const void *body, size_t len);

/* api_reply_error: api_reply with the JSON error body. */
void		 api_reply_error(struct api_call *, int status,
		    const char *code, const char *msg, const char *extra);

/*
 * api_store_error: answer a failed store operation (QS_* result r):
 * 503 unavailable for everything but the mappings the caller handled.
 * Logs a full map once per incident and counts it.
 */
void		 api_store_error(struct api_call *, int r);

/* api_store_ok: a write committed; ends a MAP_FULL incident. */
void		 api_store_ok(struct api *);

/*
 * api_origin_allowed: 1 if origin[0..len) is in cors_origins (byte for
 * byte) or the list holds "*" (then *any is set), else 0.  Used by the
 * WS worker for the upgrade's Origin too.
 */
int		 api_origin_allowed(const struct config *, const char *origin,
		    size_t len, int *any);

/* api_reject: count a refused request under reason (enum shm_api_reject). */
void		 api_reject(struct api *, int reason);


/* ---- api_routes.c --------------------------------------------------- */

typedef void	 api_route_fn(struct api_call *);

api_route_fn	 api_send;
api_route_fn	 api_messages;
api_route_fn	 api_ack;
api_route_fn	 api_device_register;
api_route_fn	 api_device_list;
api_route_fn	 api_device_delete;

/* api_expire_submit: queue one bounded expiry sweep (if none is queued). */
void		 api_expire_submit(struct api *);

/*
 * api_forget_submit: queue one step (API_FORGET_SCAN queue records) of
 * the sweep that forgets devices idle for device_idle_ttl and not
 * connected (presence), and empty held queues; logs once per step that
 * forgot any.  No-op while a step is queued.
 */
void		 api_forget_submit(struct api *);

/* ---- api_batch.c ---------------------------------------------------- */

/*
 * One queued write.  The submitter embeds it in its own struct, sets
 * o_bytes (for the batch cap), o_apply (runs inside the request's own
 * sub-transaction and returns a QS_* result; it must do nothing but qs_
 * writes and reads, and may run more than once: see o_single) and o_done
 * (called once after the batch commit, with QS_OK or the failure; it
 * answers and frees the op).  o_single is set when o_apply makes exactly
 * one qs_ write call: such an op first runs straight in the batch txn,
 * without a sub-transaction, because a qs_ call that fails either wrote
 * nothing or poisoned the batch, and a poisoned batch is aborted and run
 * again with a sub-transaction per op.  o_defer is set for an op nobody
 * waits on (a WebSocket ack: no answer goes out): while only such ops
 * are queued, the commit waits up to APIB_DEFER_US for company, so a
 * stream of single acks does not cost a commit each.
 */
#define APIB_DEFER_US		10000	/* us a deferrable op may wait */
struct apib_op {
	TAILQ_ENTRY(apib_op)	 o_entry;
	size_t			 o_bytes;
	int			 o_single;
	int			 o_defer;
	uint64_t		 o_t;		/* submitted, mono us (apib) */
	int			 o_result;
	int			 (*o_apply)(struct qstore *, struct apib_op *);
	void			 (*o_done)(struct apib_op *, int result);
};

/*
 * apib_new: the group-commit queue of a worker: an ev_prepare watcher
 * commits what was queued during the loop iteration.  ho (may be NULL)
 * is flushed after each batch's answers: o_done rings its doorbells with
 * ho_ring, apib sends them once the txn is closed.  Returns NULL on
 * allocation failure.
 */
struct apib	*apib_new(struct ev_loop *, struct qstore *, struct shm *,
		    struct handoff *);

/* apib_submit: queue op for the next batch. */
void		 apib_submit(struct apib *, struct apib_op *);

/*
 * apib_run: commit what is queued now (bounded per batch by
 * API_BATCH_MAX_OPS and API_BATCH_MAX_BYTES; the rest waits for the next
 * iteration), then call each op's o_done.  The prepare watcher calls it;
 * drain calls it once directly.
 */
void		 apib_run(struct apib *);

/*
 * apib_settle: move the store's arrival log into the device queues
 * (qs_settle) in a write txn of its own, never inside a batch of client
 * requests, so a failure (a full map) fails no request; it is counted
 * and retried later.  With force 0 only when qs_settle_due says so.
 * Call it outside apib_run (a timer) or let apib_run call it.
 */
void		 apib_settle(struct apib *, int force);

/* apib_pending: ops queued and not yet committed. */
size_t		 apib_pending(const struct apib *);

/* apib_free: fail every queued op (o_done with QS_ERR), stop, free. */
void		 apib_free(struct apib *);

#endif /* API_H */
