/*
 * metrics.c: the Prometheus text exposition of the daemon-wide counters.
 *
 * Runs in any API worker that serves GET /metrics.  It only reads shared
 * memory (relaxed atomic loads), so every worker reports the same totals:
 * per-slot counters summed by role, plus the supervisor's daemon fields.
 * Metric names and labels are a contract with dashboards: add, never
 * rename.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routingd.h"
#include "shm.h"
#include "worker.h"

struct metrics_buf {
	char	*mb_data;
	size_t	 mb_len;
	size_t	 mb_cap;
	int	 mb_err;
};

static const char *const metrics_roles[PROC_NROLES] = {
	"supervisor", "api", "ws"
};

/* Histogram upper bounds (inclusive), +Inf implied after the last. */
static const uint64_t metrics_bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000
};
static const uint64_t metrics_bounds_batch[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000
};

static const struct metrics_hist_def {
	const char	*hd_name;
	const char	*hd_help;
	const uint64_t	*hd_bounds;
	size_t		 hd_n;
	double		 hd_scale;	/* rendered value = stored / scale */
} metrics_hists[SHM_H_COUNT] = {
	{ "routingd_api_request_duration_seconds",
	    "API request latency, from dispatch to answer.",
	    metrics_bounds_us, sizeof(metrics_bounds_us) / sizeof(uint64_t),
	    1e6 },
	{ "routingd_store_commit_duration_seconds",
	    "Duration of one durable (fsync'd) LMDB batch commit.",
	    metrics_bounds_us, sizeof(metrics_bounds_us) / sizeof(uint64_t),
	    1e6 },
	{ "routingd_store_batch_requests",
	    "Client requests (and sweeps) per LMDB batch commit.",
	    metrics_bounds_batch, sizeof(metrics_bounds_batch) /
	    sizeof(uint64_t), 1 },
	{ "routingd_ws_delivery_seconds",
	    "Live delivery latency: from the durable commit that rang a "
	    "connection to the frames of its next pull (one sample each).",
	    metrics_bounds_us, sizeof(metrics_bounds_us) / sizeof(uint64_t),
	    1e6 },
};

static const char *const metrics_ws_codes[SHM_WC_COUNT] = {
	"1000", "1001", "1002", "1003", "1006", "1007", "1008", "1009",
	"1011", "1013", "4401", "4409", "other"
};

/* The status label of each index of sa_requests; 0 is "other". */
static const int metrics_statuses[SHM_STATUSES] = {
	0, 200, 202, 204, 400, 401, 403, 404, 405, 413, 429, 500, 503
};

static const char *const metrics_routes[SHM_R_COUNT] = {
	"send", "messages", "ack", "device_register", "device_list",
	"device_delete", "preflight", "other"
};

static const char *const metrics_rejects[SHM_REJ_COUNT] = {
	"invalid_json", "invalid_envelope", "sender_mismatch", "queue_full",
	"rate_limited", "unauthorized", "unavailable"
};

static void	metrics_printf(struct metrics_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Append formatted text, growing the buffer; remember a failure. */
static void
metrics_printf(struct metrics_buf *mb, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	for (;;) {
		if (mb->mb_err)
			return;
		va_start(ap, fmt);
		n = vsnprintf(mb->mb_data + mb->mb_len, mb->mb_cap - mb->mb_len,
		    fmt, ap);
		va_end(ap);
		if (n < 0) {
			mb->mb_err = 1;
			return;
		}
		if ((size_t)n < mb->mb_cap - mb->mb_len) {
			mb->mb_len += (size_t)n;
			return;
		}
		if ((p = realloc(mb->mb_data, mb->mb_cap * 2 + (size_t)n)) ==
		    NULL) {
			mb->mb_err = 1;
			return;
		}
		mb->mb_data = p;
		mb->mb_cap = mb->mb_cap * 2 + (size_t)n;
	}
}

/* HELP and TYPE lines of one metric family. */
static void
metrics_family(struct metrics_buf *mb, const char *name, const char *type,
    const char *help)
{
	metrics_printf(mb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* One family with a sample per worker role, summing a slot counter. */
static void
metrics_by_role(struct metrics_buf *mb, const struct shm *sh,
    const char *name, const char *type, const char *help, size_t off)
{
	int	 r;

	metrics_family(mb, name, type, help);
	for (r = PROC_API; r < PROC_NROLES; r++)
		metrics_printf(mb, "%s{role=\"%s\"} %llu\n", name,
		    metrics_roles[r], (unsigned long long)shm_sum(sh, r, off));
}

/* Live workers by role and state. */
static void
metrics_workers(struct metrics_buf *mb, const struct shm *sh)
{
	static const char *const states[] = {
		NULL, "starting", "ready", "draining"
	};
	unsigned	 count[PROC_NROLES][4];
	uint32_t	 st, role;
	int		 i, r, k;

	memset(count, 0, sizeof(count));
	for (i = 0; i < SHM_SLOTS; i++) {
		st = atomic_load(&sh->sh_slots[i].ss_state);
		role = atomic_load(&sh->sh_slots[i].ss_role);
		if (st != SHM_SLOT_FREE && st < 4 && role < PROC_NROLES)
			count[role][st]++;
	}
	metrics_family(mb, "routingd_workers", "gauge",
	    "Worker processes by role and state.");
	for (r = PROC_API; r < PROC_NROLES; r++)
		for (k = 1; k < 4; k++)
			metrics_printf(mb, "routingd_workers{role=\"%s\","
			    "state=\"%s\"} %u\n", metrics_roles[r], states[k],
			    count[r][k]);
}

/* The supervisor's daemon-wide fields. */
static void
metrics_daemon(struct metrics_buf *mb, const struct shm *sh)
{
	int	 r;

	metrics_family(mb, "routingd_uptime_seconds", "gauge",
	    "Seconds since the supervisor started.");
	metrics_printf(mb, "routingd_uptime_seconds %llu\n",
	    (unsigned long long)((util_mono_ms() - sh->sh_started_mono_ms) /
	    1000));
	metrics_family(mb, "routingd_start_time_seconds", "gauge",
	    "Unix time at which the supervisor started.");
	metrics_printf(mb, "routingd_start_time_seconds %llu\n",
	    (unsigned long long)(sh->sh_started_real_ms / 1000));
	metrics_family(mb, "routingd_ready", "gauge",
	    "1 once every worker is up, 0 before and while draining.");
	metrics_printf(mb, "routingd_ready %d\n", atomic_load(&sh->sh_ready) &&
	    !atomic_load(&sh->sh_draining));
	metrics_family(mb, "routingd_worker_restarts_total", "counter",
	    "Workers respawned after an unexpected exit, by role.");
	for (r = PROC_API; r < PROC_NROLES; r++)
		metrics_printf(mb, "routingd_worker_restarts_total{role=\"%s\"}"
		    " %llu\n", metrics_roles[r],
		    (unsigned long long)atomic_load(&sh->sh_restarts[r]));
	metrics_family(mb, "routingd_heartbeat_kills_total", "counter",
	    "Workers killed for missing their heartbeat.");
	metrics_printf(mb, "routingd_heartbeat_kills_total %llu\n",
	    (unsigned long long)atomic_load(&sh->sh_heartbeat_kills));
	metrics_family(mb, "routingd_reloads_total", "counter",
	    "Successful configuration reloads.");
	metrics_printf(mb, "routingd_reloads_total %llu\n",
	    (unsigned long long)atomic_load(&sh->sh_reloads));
}

/* metrics_observe: see shm.h. */
void
metrics_observe(struct shm *sh, int kind, uint64_t v)
{
	const struct metrics_hist_def	*hd;
	struct shm_hist			*h;
	size_t				 i;

	if (kind < 0 || kind >= SHM_H_COUNT)
		return;
	hd = &metrics_hists[kind];
	h = &sh->sh_api.sa_hist[kind];
	for (i = 0; i < hd->hd_n && v > hd->hd_bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->sh_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sh_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sh_sum, v, memory_order_relaxed);
}

/* metrics_count_request: see shm.h. */
void
metrics_count_request(struct shm *sh, int route, int status)
{
	size_t	 i, k = 0;

	if (route < 0 || route >= SHM_R_COUNT)
		route = SHM_R_OTHER;
	for (i = 1; i < SHM_STATUSES; i++)
		if (metrics_statuses[i] == status)
			k = i;
	atomic_fetch_add_explicit(&sh->sh_api.sa_requests[route][k], 1,
	    memory_order_relaxed);
}

static uint64_t
metrics_load(const _Atomic uint64_t *p)
{
	return (atomic_load_explicit(p, memory_order_relaxed));
}

/* One histogram family, buckets made cumulative. */
static void
metrics_hist(struct metrics_buf *mb, const struct shm *sh, int kind)
{
	const struct metrics_hist_def	*hd = &metrics_hists[kind];
	const struct shm_hist		*h = &sh->sh_api.sa_hist[kind];
	uint64_t			 cum = 0;
	size_t				 i;

	metrics_family(mb, hd->hd_name, "histogram", hd->hd_help);
	for (i = 0; i < hd->hd_n; i++) {
		cum += metrics_load(&h->sh_bucket[i]);
		metrics_printf(mb, "%s_bucket{le=\"%g\"} %llu\n", hd->hd_name,
		    (double)hd->hd_bounds[i] / hd->hd_scale,
		    (unsigned long long)cum);
	}
	cum += metrics_load(&h->sh_bucket[hd->hd_n]);
	metrics_printf(mb, "%s_bucket{le=\"+Inf\"} %llu\n", hd->hd_name,
	    (unsigned long long)cum);
	metrics_printf(mb, "%s_sum %g\n%s_count %llu\n", hd->hd_name,
	    (double)metrics_load(&h->sh_sum) / hd->hd_scale, hd->hd_name,
	    (unsigned long long)metrics_load(&h->sh_count));
}

/* API requests by route and status (only the non-zero ones). */
static void
metrics_api_requests(struct metrics_buf *mb, const struct shm *sh)
{
	uint64_t	 v;
	int		 r, k;

	metrics_family(mb, "routingd_api_requests_total", "counter",
	    "API requests answered, by route and HTTP status (0: other).");
	for (r = 0; r < SHM_R_COUNT; r++)
		for (k = 0; k < SHM_STATUSES; k++) {
			v = metrics_load(&sh->sh_api.sa_requests[r][k]);
			if (v == 0)
				continue;
			metrics_printf(mb, "routingd_api_requests_total{route="
			    "\"%s\",status=\"%d\"} %llu\n", metrics_routes[r],
			    metrics_statuses[k], (unsigned long long)v);
		}
}

/* One unlabelled sample with its family. */
static void
metrics_one(struct metrics_buf *mb, const char *name, const char *type,
    const char *help, uint64_t v)
{
	metrics_family(mb, name, type, help);
	metrics_printf(mb, "%s %llu\n", name, (unsigned long long)v);
}

/* Message flow, token cache, store. */
static void
metrics_api_messages(struct metrics_buf *mb, const struct shm *sh)
{
	const struct shm_api	*a = &sh->sh_api;
	int			 i;

	metrics_one(mb, "routingd_messages_accepted_total", "counter",
	    "Messages stored durably (one per send, before fan-out).",
	    metrics_load(&a->sa_accepted));
	metrics_one(mb, "routingd_messages_fetched_total", "counter",
	    "Messages returned by GET /api/messages.",
	    metrics_load(&a->sa_fetched));
	metrics_one(mb, "routingd_messages_acknowledged_total", "counter",
	    "Message copies deleted by acknowledgements.",
	    metrics_load(&a->sa_acked));
	metrics_one(mb, "routingd_messages_expired_total", "counter",
	    "Message copies dropped after message_ttl.",
	    metrics_load(&a->sa_expired));
	metrics_one(mb, "routingd_messages_dropped_total", "counter",
	    "Ephemeral messages accepted but delivered to nobody.",
	    metrics_load(&a->sa_dropped));
	metrics_one(mb, "routingd_messages_held_total", "counter",
	    "Messages held for a recipient with no known device.",
	    metrics_load(&a->sa_held));
	metrics_one(mb, "routingd_messages_adopted_total", "counter",
	    "Held message copies taken by devices that became known.",
	    metrics_load(&a->sa_adopted));
	metrics_one(mb, "routingd_queue_overflow_total", "counter",
	    "Oldest message copies dropped from full device queues.",
	    metrics_load(&a->sa_overflow));
	metrics_one(mb, "routingd_devices_forgotten_total", "counter",
	    "Devices forgotten after device_idle_ttl, with their queues.",
	    metrics_load(&a->sa_forgotten));
	metrics_family(mb, "routingd_messages_rejected_total", "counter",
	    "API requests refused, by reason.");
	for (i = 0; i < SHM_REJ_COUNT; i++)
		metrics_printf(mb, "routingd_messages_rejected_total{reason="
		    "\"%s\"} %llu\n", metrics_rejects[i],
		    (unsigned long long)metrics_load(&a->sa_rejected[i]));
	metrics_family(mb, "routingd_token_cache_total", "counter",
	    "Verified-token cache lookups, by result.");
	metrics_printf(mb, "routingd_token_cache_total{result=\"hit\"} %llu\n"
	    "routingd_token_cache_total{result=\"miss\"} %llu\n",
	    (unsigned long long)metrics_load(&a->sa_token_hits),
	    (unsigned long long)metrics_load(&a->sa_token_misses));
}

static void
metrics_api_store(struct metrics_buf *mb, const struct shm *sh)
{
	const struct shm_api	*a = &sh->sh_api;

	metrics_one(mb, "routingd_queue_messages", "gauge",
	    "Messages queued: settled device copies plus log entries.",
	    metrics_load(&a->sa_queue_messages));
	metrics_one(mb, "routingd_queue_devices", "gauge",
	    "Known devices (queues).", metrics_load(&a->sa_queue_devices));
	metrics_one(mb, "routingd_queue_held_users", "gauge",
	    "Users with a queue of held messages (no device yet).",
	    metrics_load(&a->sa_queue_held));
	metrics_one(mb, "routingd_store_used_bytes", "gauge",
	    "Bytes of the LMDB map in use.",
	    metrics_load(&a->sa_store_used_bytes));
	metrics_one(mb, "routingd_store_map_bytes", "gauge",
	    "Bytes of the LMDB map.", metrics_load(&a->sa_store_map_bytes));
	metrics_one(mb, "routingd_store_full_total", "counter",
	    "Incidents of a full LMDB map (writes answered 503).",
	    metrics_load(&a->sa_store_full));
	metrics_one(mb, "routingd_store_commit_failures_total", "counter",
	    "LMDB batch commits that failed (their requests got 503).",
	    metrics_load(&a->sa_commit_failures));
	metrics_one(mb, "routingd_store_batch_replays_total", "counter",
	    "Batches run again with a sub-transaction per request after a "
	    "request failed inside the batch transaction.",
	    metrics_load(&a->sa_batch_replays));
	metrics_one(mb, "routingd_store_log_entries", "gauge",
	    "Accepted messages still in the arrival log (not yet settled).",
	    metrics_load(&a->sa_log_entries));
	metrics_one(mb, "routingd_store_settled_total", "counter",
	    "Message copies moved from the arrival log into device queues.",
	    metrics_load(&a->sa_settled));
	metrics_one(mb, "routingd_store_settle_failures_total", "counter",
	    "Settle transactions that failed (retried later; no data lost).",
	    metrics_load(&a->sa_settle_failures));
}

static void
metrics_ws(struct metrics_buf *mb, const struct shm *sh)
{
	const struct shm_ws	*w = &sh->sh_ws;
	int			 i;

	metrics_one(mb, "routingd_ws_connections", "gauge",
	    "Open WebSocket connections.", metrics_load(&w->sw_active));
	metrics_one(mb, "routingd_ws_connects_total", "counter",
	    "WebSocket upgrades completed.", metrics_load(&w->sw_connects));
	metrics_one(mb, "routingd_ws_rejects_total", "counter",
	    "WebSocket upgrades refused (401, 400, 403, 426).",
	    metrics_load(&w->sw_rejects));
	metrics_family(mb, "routingd_ws_disconnects_total", "counter",
	    "WebSocket connections closed, by close code.");
	for (i = 0; i < SHM_WC_COUNT; i++)
		metrics_printf(mb, "routingd_ws_disconnects_total{code=\"%s\"} "
		    "%llu\n", metrics_ws_codes[i],
		    (unsigned long long)metrics_load(&w->sw_closes[i]));
	metrics_one(mb, "routingd_ws_messages_pushed_total", "counter",
	    "Message frames written to WebSockets.",
	    metrics_load(&w->sw_pushed));
	metrics_one(mb, "routingd_ws_acks_total", "counter",
	    "Message copies deleted by WebSocket acks.",
	    metrics_load(&w->sw_acked));
	metrics_one(mb, "routingd_handoffs_sent_total", "counter",
	    "Doorbell records sent to WS workers.",
	    metrics_load(&w->sw_handoff_sent));
	metrics_one(mb, "routingd_handoffs_dropped_total", "counter",
	    "Doorbell records dropped (socket full); caught up from LMDB.",
	    metrics_load(&w->sw_handoff_dropped));
	metrics_one(mb, "routingd_handoffs_resynced_total", "counter",
	    "Catch-ups from LMDB of every connection after dropped doorbells.",
	    metrics_load(&w->sw_resyncs));
	metrics_one(mb, "routingd_presence_full_total", "counter",
	    "Connections the presence table had no room for.",
	    metrics_load(&w->sw_presence_full));
}

/* metrics_render: see worker.h. */
int
metrics_render(const struct shm *sh, char **out, size_t *len)
{
	struct metrics_buf	 mb;

	memset(&mb, 0, sizeof(mb));
	mb.mb_cap = 4096;
	if ((mb.mb_data = malloc(mb.mb_cap)) == NULL)
		return (-1);
	metrics_daemon(&mb, sh);
	metrics_workers(&mb, sh);
	metrics_by_role(&mb, sh, "routingd_connections", "gauge",
	    "Open client connections, by worker role.",
	    offsetof(struct shm_slot, ss_conns));
	metrics_by_role(&mb, sh, "routingd_connections_total", "counter",
	    "Client connections accepted, by worker role.",
	    offsetof(struct shm_slot, ss_conns_total));
	metrics_by_role(&mb, sh, "routingd_http_requests_total", "counter",
	    "HTTP requests answered, by worker role.",
	    offsetof(struct shm_slot, ss_requests));
	metrics_by_role(&mb, sh, "routingd_http_bad_requests_total", "counter",
	    "Requests rejected for bad framing (400, 413, 431, 501, 505).",
	    offsetof(struct shm_slot, ss_bad_requests));
	metrics_by_role(&mb, sh, "routingd_http_timeouts_total", "counter",
	    "Connections closed by a read, idle or write timeout.",
	    offsetof(struct shm_slot, ss_timeouts));
	metrics_api_requests(&mb, sh);
	metrics_hist(&mb, sh, SHM_H_REQUEST);
	metrics_api_messages(&mb, sh);
	metrics_api_store(&mb, sh);
	metrics_ws(&mb, sh);
	metrics_hist(&mb, sh, SHM_H_COMMIT);
	metrics_hist(&mb, sh, SHM_H_BATCH);
	metrics_hist(&mb, sh, SHM_H_DELIVERY);
	if (mb.mb_err) {
		free(mb.mb_data);
		return (-1);
	}
	*out = mb.mb_data;
	*len = mb.mb_len;
	return (0);
}
