/*
 * api.h: the API worker's private interfaces, shared by api.c (process
 * side and routing) and api_routes.c (one function per endpoint).
 * Nothing outside the API worker includes it: what the API shares with
 * the WS worker lives in auth.h, commit.h, handoff.h, msgsend.h,
 * msgrecv.h and server.h.
 */

#ifndef API_H
#define API_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "json.h"
#include "handoff.h"
#include "qstore.h"
#include "routingd.h"
#include "server.h"
#include "shm.h"

#define API_MAX_TOKENS		8192	/* jsmn tokens per request body */
#define API_EXPIRE_INTERVAL	1.0	/* s between expiry sweeps */
#define API_EXPIRE_MAX		1000	/* messages dropped per sweep */
#define API_FORGET_SCAN		1000	/* queue records an idle sweep visits */
#define API_HEAP_KEEP		(16 * 1024 * 1024) /* bytes malloc keeps */
#define API_READER_INTERVAL	30.0	/* s between LMDB reader checks */
#define API_LIMIT_DEFAULT	50	/* GET /api/messages default limit */
#define API_LIMIT_MAX		500
#define API_CORS_MAX_AGE	600	/* s a preflight may be cached */
#define API_WARN_INTERVAL_MS	1000	/* ms between store failure logs */

struct commit;
struct worker;

/* The API worker's state (w_ctx). */
struct api {
	struct worker		*a_w;
	const struct config	*a_cfg;
	struct shm		*a_shm;
	struct qstore		*a_qs;
	struct auth		*a_auth;
	struct commit		*a_commit;	/* group commit */
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
	const struct http_request	*ac_req;	/* NULL once deferred */
	struct server_ticket		*ac_ticket;	/* deferred: its answer */
	char				*ac_cors;	/* deferred: CORS headers */
	int				 ac_route;	/* enum shm_api_route */
	uint64_t			 ac_t0_us;	/* dispatch, mono */
	struct auth_id			 ac_id;
};

/* ---- api.c ---------------------------------------------------------- */

/*
 * api_reply: answer the call (CORS headers added, metrics counted), once.
 * extra is NULL or header lines ending in CRLF; body is copied.
 */
void		 api_reply(struct api_call *, int status, const char *ctype,
		    const char *extra, const void *body, size_t len);

/*
 * api_call_defer: the call has copied what it needs of its request (its
 * op owns its envelopes or ids): let the connection hand over its next
 * pipelined requests while this call waits for the group commit, so that
 * they share the batch (server_conn_defer).  The CORS headers of the
 * answer are worked out now; ac_req is NULL from now on.  Without memory
 * the call keeps its request, as before.  Call it on the copy of the
 * call the op keeps, right before commit_submit.
 */
void		 api_call_defer(struct api_call *);

/* api_reply_error: api_reply with the JSON error body. */
void		 api_reply_error(struct api_call *, int status,
		    const char *code, const char *msg, const char *extra);

/*
 * api_store_error: answer a failed store operation (QS_* result r):
 * 503 unavailable for everything but the mappings the caller handled.
 * Counts every request a full map refused (routingd_store_full_total)
 * and logs a full map once per incident (until api_store_ok).
 */
void		 api_store_error(struct api_call *, int r);

/* api_store_ok: a write committed; ends a MAP_FULL incident. */
void		 api_store_ok(struct api *);

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

#endif /* API_H */
