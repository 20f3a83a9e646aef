/*
 * api.c: the API worker process (HTTP/1.1 on api_listen).
 *
 * Owns the worker's HTTP server (server.c), its handle on the queue store
 * (opened here, after fork), its JWT keys and token cache (auth.c), its
 * group-commit queue (commit.c), the reader-check timer, the once-a-second
 * sweep timer (first API worker only: settle, expiry, a step of the
 * idle-device sweep) and the route table.  The endpoints themselves live in
 * api_routes.c; this file does what every request shares: routing, CORS,
 * draining (a stop answers 503, a reload's retirement serves the requests
 * its connections still bring; the operator's drain: POST /api/send is
 * 503 with Retry-After), authentication, the per-user rate limit, answers and
 * their metrics.
 *
 * Invariants: a route answers every request exactly once; unknown paths
 * are 404 and known paths with another method are 405 with Allow, both
 * with the JSON error body; every /api/ answer goes through api_reply
 * (CORS headers, counters); no answer is written while a write txn is
 * open (commit.c); per-request trouble is a status and a counter,
 * logged at debug at most, and a token never appears in a log line.
 */

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "auth.h"
#include "commit.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "routingd.h"
#include "server.h"
#include "tls.h"
#include "worker.h"

typedef void	 api_plain_fn(struct api *, struct server_conn *,
		    const struct http_request *);

struct api_route {
	const char	*ar_path;
	int		 ar_prefix;	/* ar_path is a prefix ("/x/"+id) */
	unsigned	 ar_methods;	/* bit per enum http_method */
	const char	*ar_allow;	/* the Allow header for 405 */
	int		 ar_route;	/* enum shm_api_route; -1: not /api */
	api_plain_fn	*ar_plain;	/* no authentication */
	api_route_fn	*ar_fn;		/* authenticated */
};

#define M(m)		(1u << (m))
#define M_GET		(M(HTTP_M_GET) | M(HTTP_M_HEAD))
#define M_POST		M(HTTP_M_POST)
#define M_DELETE	M(HTTP_M_DELETE)
#define API_PREFIX	"/api/"
#define API_AUTH_HDR	"WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"

static api_plain_fn	api_healthz;
static api_plain_fn	api_readyz;
static api_plain_fn	api_metrics;

/*
 * The route table.  Two entries may share a path with different methods;
 * a path matched by no entry for the method is 405 with the Allow of its
 * first entry, so that entry lists every method of the path.
 */
static const struct api_route api_routes[] = {
	{ "/healthz", 0, M_GET, "GET, HEAD", -1, api_healthz, NULL },
	{ "/metrics", 0, M_GET, "GET, HEAD", -1, api_metrics, NULL },
	{ "/readyz", 0, M_GET, "GET, HEAD", -1, api_readyz, NULL },
	{ "/api/send", 0, M_POST, "POST", SHM_R_SEND, NULL, api_send },
	{ "/api/messages", 0, M_GET, "GET, HEAD", SHM_R_MESSAGES, NULL,
	    api_messages },
	{ "/api/messages/ack", 0, M_POST, "POST", SHM_R_ACK, NULL, api_ack },
	{ "/api/devices", 0, M_GET, "GET, HEAD, POST", SHM_R_DEVICE_LIST,
	    NULL, api_device_list },
	{ "/api/devices", 0, M_POST, "GET, HEAD, POST",
	    SHM_R_DEVICE_REGISTER, NULL, api_device_register },
	{ "/api/devices/", 1, M_DELETE, "DELETE", SHM_R_DEVICE_DELETE, NULL,
	    api_device_delete },
};
#define API_NROUTES	(sizeof(api_routes) / sizeof(api_routes[0]))

static int	api_init(struct worker *);
static void	api_drain(struct worker *);
static void	api_free(struct worker *);
static void	api_handle(struct server_conn *, const struct http_request *,
		    void *);
static void	api_expire_cb(struct ev_loop *, ev_timer *, int);
static void	api_readers_cb(struct ev_loop *, ev_timer *, int);
static void	api_store_gauges(struct api *);

const struct worker_ops api_ops = {
	"api",
	api_init,
	api_drain,
	api_free,
	NULL			/* replaced on reload */
};

/* ------------------------------------------------------------------ */
/* Process side: init, drain, free, timers                             */
/* ------------------------------------------------------------------ */

/* Open the store and load the keys: this process's own handles. */
static int
api_open(struct api *a)
{
	const char	*err = NULL;

	if ((a->a_qs = qs_open(a->a_cfg->cf_data_dir,
	    (uint64_t)a->a_cfg->cf_store_max_size, &err)) == NULL) {
		log_warnx("cannot open the store in %s: %s",
		    a->a_cfg->cf_data_dir, err != NULL ? err : "unknown");
		return (-1);
	}
	qs_seq_floor(a->a_qs, &a->a_shm->sh_seq_hw, &a->a_shm->sh_seq_jumped);
	/* a push job in the same commit as each message, when served */
	qs_push_config(a->a_qs, a->a_cfg->cf_push_gateway_url != NULL,
	    (uint64_t)a->a_cfg->cf_push_coalesce);
	if ((a->a_auth = auth_new(a->a_cfg, &err)) == NULL) {
		log_warnx("cannot load the JWT keys: %s", err);
		return (-1);
	}
	if ((a->a_tok = calloc(API_MAX_TOKENS, sizeof(*a->a_tok))) == NULL ||
	    (a->a_ho = ho_new(a->a_shm, a->a_w->w_pr, a->a_w->w_ho)) == NULL ||
	    (a->a_commit = commit_new(a->a_w->w_loop, a->a_qs,
	    a->a_shm, a->a_ho)) == NULL) {
		log_warn("%s: calloc", __func__);
		return (-1);
	}
	return (0);
}

static void
api_timers(struct api *a)
{
	struct ev_loop	*loop = a->a_w->w_loop;

	ev_timer_init(&a->a_readers, api_readers_cb, API_READER_INTERVAL,
	    API_READER_INTERVAL);
	a->a_readers.data = a;
	ev_timer_start(loop, &a->a_readers);
	/* one sweeper is enough: the first API worker */
	ev_timer_init(&a->a_expire, api_expire_cb, API_EXPIRE_INTERVAL,
	    API_EXPIRE_INTERVAL);
	a->a_expire.data = a;
	if (a->a_w->w_index == 0)
		ev_timer_start(loop, &a->a_expire);
}

static int
api_init(struct worker *w)
{
	struct api	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("%s: calloc", __func__);
		return (-1);
	}
	a->a_w = w;
	a->a_cfg = w->w_cfg;
	a->a_shm = w->w_shm;
	w->w_ctx = a;
	/*
	 * A request that makes more than one write (an array send) runs in an
	 * LMDB nested txn, which mallocs about 3 MiB of page lists and frees
	 * them at its end (so does a replayed batch, see commit.c).  glibc
	 * would mmap and munmap that each time (a page fault per touched
	 * page); keep it on the heap and keep up to API_HEAP_KEEP free there.
	 * Measured before single writes skipped the nested txn: about 12 %
	 * more durable accepts/s (tests/bench/run.sh).
	 */
	(void)mallopt(M_MMAP_THRESHOLD, API_HEAP_KEEP / 2);
	(void)mallopt(M_TRIM_THRESHOLD, API_HEAP_KEEP);
	if (api_open(a) == -1)
		return (-1);
	api_timers(a);
	/* client certificates (tls_client_ca) are the API port's alone */
	return (worker_http_start(w, TLS_F_CLIENT_CA,
	    w->w_cfg->cf_max_envelope_bytes, api_handle, a));
}

/* Commit what is queued, then let the server finish and close. */
static void
api_drain(struct worker *w)
{
	struct api	*a = w->w_ctx;

	ev_timer_stop(w->w_loop, &a->a_expire);
	ev_timer_stop(w->w_loop, &a->a_readers);
	commit_run(a->a_commit);
	worker_http_drain(w);
}

static void
api_free(struct worker *w)
{
	struct api	*a = w->w_ctx;

	if (a != NULL) {
		ev_timer_stop(w->w_loop, &a->a_expire);
		ev_timer_stop(w->w_loop, &a->a_readers);
		commit_free(a->a_commit); /* answers 503 to what is left */
		ho_free(a->a_ho);
		a->a_commit = NULL;
	}
	worker_http_free(w);
	if (a != NULL) {
		qs_close(a->a_qs);
		auth_free(a->a_auth);
		free(a->a_tok);
		free(a);
	}
	w->w_ctx = NULL;
}

/* Once a second: settle the whole log (so the sweep sees every message
 * and fetches scan little), then sweep expired messages; the first API
 * worker also takes a step of the idle device sweep.  Then the store
 * gauges in shared memory are refreshed. */
static void
api_expire_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct api	*a = t->data;

	commit_settle(a->a_commit, 1);
	api_expire_submit(a);
	if (a->a_w->w_index == 0)
		api_forget_submit(a);
	api_store_gauges(a);	/* fresh for routingctl stats too */
}

/* Clear reader slots that dead processes left behind. */
static void
api_readers_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct api	*a = t->data;
	int		 cleared = 0;

	if (qs_reader_check(a->a_qs, &cleared) != QS_OK)
		log_warnx("reader check failed: %s", qs_lasterr(a->a_qs));
	else if (cleared > 0)
		log_info("cleared stale LMDB readers count=%d", cleared);
}

/* ------------------------------------------------------------------ */
/* Answers, CORS, store failures                                       */
/* ------------------------------------------------------------------ */

/*
 * The CORS header lines for req (malloc'd, "" when none apply) followed
 * by extra.  NULL on allocation failure.
 */
static char *
api_cors_headers(const struct config *cfg, const struct http_request *req,
    const char *extra)
{
	const char	*origin;
	char		*out;
	size_t		 len = 0, cap;
	int		 any = 0, allowed = 0;

	origin = http_header_get(req, "origin", &len);
	if (origin != NULL && cfg->cf_cors_origins.sl_n > 0)
		allowed = auth_origin_allowed(cfg, origin, len, &any);
	cap = len + 96 + (extra != NULL ? strlen(extra) : 0);
	if ((out = malloc(cap)) == NULL)
		return (NULL);
	out[0] = '\0';
	if (allowed && any)
		(void)snprintf(out, cap, "Access-Control-Allow-Origin: *\r\n");
	else if (allowed)
		(void)snprintf(out, cap, "Access-Control-Allow-Origin: %.*s\r\n"
		    "Vary: Origin\r\n", (int)len, origin);
	else if (cfg->cf_cors_origins.sl_n > 0)
		(void)snprintf(out, cap, "Vary: Origin\r\n");
	if (extra != NULL)
		memcpy(out + strlen(out), extra, strlen(extra) + 1);
	return (out);
}

/* The CORS headers of a deferred call with extra after them, or NULL. */
static char *
api_deferred_headers(const struct api_call *ac, const char *extra)
{
	size_t	 nc = strlen(ac->ac_cors), ne;
	char	*out;

	ne = extra != NULL ? strlen(extra) : 0;
	if ((out = malloc(nc + ne + 1)) == NULL)
		return (NULL);
	memcpy(out, ac->ac_cors, nc);
	if (ne > 0)
		memcpy(out + nc, extra, ne);
	out[nc + ne] = '\0';
	return (out);
}

/* api_reply: see api.h. */
void
api_reply(struct api_call *ac, int status, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	struct api	*a = ac->ac_api;
	char		*hdrs;

	if (ac->ac_ticket != NULL)
		hdrs = api_deferred_headers(ac, extra);
	else
		hdrs = api_cors_headers(a->a_cfg, ac->ac_req, extra);
	metrics_count_request(a->a_shm, ac->ac_route, status);
	metrics_observe(a->a_shm, SHM_H_REQUEST, util_mono_us() -
	    ac->ac_t0_us);
	metrics_observe_route(a->a_shm, ac->ac_route, util_mono_us() -
	    ac->ac_t0_us);
	if (ac->ac_ticket != NULL) {
		server_ticket_respond(ac->ac_ticket, status, ctype,
		    hdrs != NULL ? hdrs : extra, body, len);
		ac->ac_ticket = NULL;
		free(ac->ac_cors);
		ac->ac_cors = NULL;
	} else
		server_respond(ac->ac_conn, status, ctype, hdrs != NULL ?
		    hdrs : extra, body, len);
	free(hdrs);
}

/* api_call_defer: see api.h. */
void
api_call_defer(struct api_call *ac)
{
	if (ac->ac_ticket != NULL || ac->ac_req == NULL ||
	    (ac->ac_cors = api_cors_headers(ac->ac_api->a_cfg, ac->ac_req,
	    NULL)) == NULL)
		return;
	if ((ac->ac_ticket = server_conn_defer(ac->ac_conn)) == NULL) {
		free(ac->ac_cors);
		ac->ac_cors = NULL;
		return;
	}
	ac->ac_req = NULL;
}

/* api_reply_error: see api.h. */
void
api_reply_error(struct api_call *ac, int status, const char *code,
    const char *msg, const char *extra)
{
	char	 body[512];
	int	 n;

	if ((n = http_error_body(body, sizeof(body), code, msg)) < 0)
		n = 0;
	api_reply(ac, status, "application/json", extra, body, (size_t)n);
}

/* api_reject: see api.h. */
void
api_reject(struct api *a, int reason)
{
	if (reason >= 0 && reason < SHM_REJ_COUNT)
		atomic_fetch_add_explicit(&a->a_shm->sh_api.sa_rejected[reason],
		    1, memory_order_relaxed);
}

/* api_store_ok: see api.h. */
void
api_store_ok(struct api *a)
{
	if (a->a_mapfull)
		log_notice("the store accepts writes again");
	a->a_mapfull = 0;
}

/* api_store_error: see api.h. */
void
api_store_error(struct api_call *ac, int r)
{
	struct api	*a = ac->ac_api;

	if (r == QS_MAPFULL)
		atomic_fetch_add_explicit(&a->a_shm->sh_api.sa_store_full, 1,
		    memory_order_relaxed);
	if (r == QS_MAPFULL && !a->a_mapfull) {
		a->a_mapfull = 1;
		log_warnx("the store is full (LMDB map); writes get 503: %s",
		    qs_lasterr(a->a_qs));
	} else if (r != QS_MAPFULL && util_mono_ms() >= a->a_warned_ms +
	    API_WARN_INTERVAL_MS) {
		a->a_warned_ms = util_mono_ms();	/* at most 1 a second */
		log_warnx("store operation failed: %s (%s)", qs_strerror(r),
		    qs_lasterr(a->a_qs));
	}
	api_reject(a, SHM_REJ_UNAVAILABLE);
	api_reply_error(ac, 503, "unavailable", r == QS_MAPFULL ?
	    "the store is full" : r == QS_NOSPACE ? "the disk holding the "
	    "store is full" : "the store is unavailable", NULL);
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

/* 1 if route r matches the request path. */
static int
api_path_match(const struct api_route *r, const struct http_request *req)
{
	size_t	 n = strlen(r->ar_path);

	if (r->ar_prefix)
		return (req->hr_path_len > n &&
		    memcmp(r->ar_path, req->hr_path, n) == 0);
	return (req->hr_path_len == n &&
	    memcmp(r->ar_path, req->hr_path, n) == 0);
}

static int
api_is_api_path(const struct http_request *req)
{
	size_t	 n = sizeof(API_PREFIX) - 1;

	return (req->hr_path_len >= n - 1 &&
	    memcmp(req->hr_path, API_PREFIX, n - 1) == 0 &&
	    (req->hr_path_len == n - 1 || req->hr_path[n - 1] == '/'));
}

/* OPTIONS /api/...: the CORS preflight, no token needed. */
static void
api_preflight(struct api_call *ac)
{
	char	 extra[256];

	(void)snprintf(extra, sizeof(extra),
	    "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
	    "Access-Control-Allow-Headers: Authorization, Content-Type, "
	    "X-Device-Id\r\nAccess-Control-Max-Age: %d\r\n", API_CORS_MAX_AGE);
	api_reply(ac, 204, NULL, extra, NULL, 0);
}

/* Authenticate and rate-limit, then run the route.  Answers always. */
static void
api_call_run(struct api_call *ac, const struct api_route *r)
{
	struct api	*a = ac->ac_api;
	const char	*why = NULL;
	uint64_t	 wait, rate;
	char		 extra[64];
	int		 hit = 0, res;

	/* a stopping worker refuses; one a reload replaces serves what its
	 * connections still bring (the server closes them after) */
	if (a->a_w->w_draining && !a->a_w->w_retired) {
		api_reject(a, SHM_REJ_UNAVAILABLE);
		api_reply_error(ac, 503, "unavailable", "draining", NULL);
		return;
	}
	if (r->ar_route == SHM_R_SEND && worker_is_drained(a->a_w)) {
		atomic_fetch_add_explicit(&a->a_shm->sh_api.sa_drain_refused,
		    1, memory_order_relaxed);
		api_reply_error(ac, 503, "unavailable", "routingd is drained "
		    "for maintenance; try again later", DRAIN_RETRY_HDR);
		return;
	}
	res = auth_request(a->a_auth, ac->ac_req, time(NULL), &ac->ac_id,
	    &hit, &why);
	if (hit >= 0)
		atomic_fetch_add_explicit(hit ?
		    &a->a_shm->sh_api.sa_token_hits :
		    &a->a_shm->sh_api.sa_token_misses, 1,
		    memory_order_relaxed);
	if (res == AUTH_BAD_DEVICE) {
		api_reply_error(ac, 400, "invalid_device",
		    "the device id is not valid", NULL);
		return;
	}
	if (res != AUTH_OK) {
		log_debug("unauthorized peer=%s: %s",
		    server_conn_peer(ac->ac_conn), why);
		api_reject(a, SHM_REJ_UNAUTHORIZED);
		api_reply_error(ac, 401, "unauthorized",
		    "a valid bearer token is required", API_AUTH_HDR);
		return;
	}
	rate = (uint64_t)a->a_cfg->cf_rate_limit_per_user;
	wait = rl_charge(&a->a_shm->sh_rl, ac->ac_id.ai_user,
	    strlen(ac->ac_id.ai_user), util_mono_us(), rate, 2 * rate);
	if (wait > 0) {
		(void)snprintf(extra, sizeof(extra), "Retry-After: %llu\r\n",
		    (unsigned long long)((wait + 999999) / 1000000));
		api_reject(a, SHM_REJ_RATE_LIMITED);
		api_reply_error(ac, 429, "rate_limited",
		    "too many requests", extra);
		return;
	}
	r->ar_fn(ac);
}

/* No route for the method: 405 with the path's Allow, or 404. */
static void
api_no_route(struct api_call *ac, const struct api_route *first)
{
	char	 allow[64];

	if (first == NULL) {
		api_reply_error(ac, 404, "not_found", "no such endpoint",
		    NULL);
		return;
	}
	(void)snprintf(allow, sizeof(allow), "Allow: %s\r\n",
	    first->ar_allow);
	api_reply_error(ac, 405, "method_not_allowed",
	    "method not allowed on this path", allow);
}

/* 405 on an operational path (no CORS, no API metrics). */
static void
api_plain_405(struct server_conn *c, const struct api_route *r)
{
	char	 allow[64];

	(void)snprintf(allow, sizeof(allow), "Allow: %s\r\n", r->ar_allow);
	server_respond_error(c, 405, "method_not_allowed",
	    "method not allowed on this path", allow);
}

/* Route one request: path, then method. */
static void
api_handle(struct server_conn *c, const struct http_request *req, void *arg)
{
	const struct api_route	*r, *first = NULL;
	struct api_call		 ac;
	size_t			 i;

	memset(&ac, 0, sizeof(ac));
	ac.ac_api = arg;
	ac.ac_conn = c;
	ac.ac_req = req;
	ac.ac_route = SHM_R_OTHER;
	ac.ac_t0_us = util_mono_us();
	if (req->hr_method == HTTP_M_OPTIONS && api_is_api_path(req)) {
		ac.ac_route = SHM_R_PREFLIGHT;
		api_preflight(&ac);
		return;
	}
	for (i = 0; i < API_NROUTES; i++) {
		r = &api_routes[i];
		if (!api_path_match(r, req))
			continue;
		if (first == NULL)
			first = r;
		if ((r->ar_methods & M(req->hr_method)) == 0)
			continue;
		if (r->ar_plain != NULL) {
			r->ar_plain(arg, c, req);
			return;
		}
		ac.ac_route = r->ar_route;
		api_call_run(&ac, r);
		return;
	}
	if (first != NULL && first->ar_plain != NULL) {
		api_plain_405(c, first);
		return;
	}
	if (first == NULL && !api_is_api_path(req)) {
		server_respond_error(c, 404, "not_found", "no such endpoint",
		    NULL);
		return;
	}
	api_no_route(&ac, first);
}

/* ------------------------------------------------------------------ */
/* Operational endpoints                                               */
/* ------------------------------------------------------------------ */

static void
api_healthz(struct api *a, struct server_conn *c,
    const struct http_request *req)
{
	server_respond(c, 200, "text/plain; charset=utf-8", NULL, "OK\n", 3);
}

static void
api_readyz(struct api *a, struct server_conn *c,
    const struct http_request *req)
{
	if (a->a_qs != NULL && worker_is_ready(a->a_w))
		server_respond(c, 200, "text/plain; charset=utf-8", NULL,
		    "READY\n", 6);
	else
		server_respond(c, 503, "text/plain; charset=utf-8", NULL,
		    "NOT READY\n", 10);
}

/* Refresh the store gauges in shared memory from this worker's view. */
static void
api_store_gauges(struct api *a)
{
	struct shm_api	*m = &a->a_shm->sh_api;
	struct qs_stats	 st;

	if (qs_stats(a->a_qs, &st) != QS_OK)
		return;
	atomic_store_explicit(&m->sa_queue_messages, st.st_messages + st.st_log,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_log_entries, st.st_log,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_queue_devices, st.st_queues,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_queue_held, st.st_held,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_store_used_bytes, st.st_map_used,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_store_map_bytes, st.st_map_size,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_outbox_jobs, st.st_outbox,
	    memory_order_relaxed);
	atomic_store_explicit(&m->sa_outbox_oldest_ms, st.st_outbox_oldest_ms,
	    memory_order_relaxed);
}

static void
api_metrics(struct api *a, struct server_conn *c,
    const struct http_request *req)
{
	char	*text;
	size_t	 len;

	api_store_gauges(a);
	if (metrics_render(a->a_w->w_shm, &text, &len) == -1) {
		server_respond_error(c, 503, "unavailable",
		    "out of memory", NULL);
		return;
	}
	server_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    NULL, text, len);
	free(text);
}
