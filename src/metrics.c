/*
 * metrics.c: the Prometheus text exposition of the daemon-wide counters,
 * and the histogram and request-count updates behind some of them.
 *
 * Rendering runs in any API worker that serves GET /metrics.  It only
 * reads shared memory (atomic loads), so every API worker reports the
 * same totals: per-slot counters summed by role, plus the daemon-wide
 * fields.  metrics_defs[] below is the one list of what is exported (see
 * metrics.h); role labels come from the roles the supervisor recorded in
 * the region.  The supervisor renders the same text for routingctl stats
 * (over the control socket).  metrics_observe* and metrics_count_request
 * run wherever the event happens and only add (relaxed atomics);
 * metrics_proc_sample runs in each process for itself and stores.
 */

#include <sys/types.h>
#include <sys/resource.h>

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "routingd.h"
#include "shm.h"

struct metrics_buf {
	char	*mb_data;
	size_t	 mb_len;
	size_t	 mb_cap;
	int	 mb_err;
};

/* Histogram upper bounds (inclusive), +Inf implied after the last. */
static const uint64_t metrics_bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000
};
static const uint64_t metrics_bounds_batch[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000
};
#define METRICS_NBOUNDS(a)	(sizeof(a) / sizeof((a)[0]))

/* The buckets of each histogram kind (its name is in metrics_defs). */
static const struct metrics_hist_def {
	const uint64_t	*hd_bounds;
	size_t		 hd_n;
	double		 hd_scale;	/* rendered value = stored / scale */
} metrics_hists[SHM_H_COUNT] = {
	[SHM_H_REQUEST] = { metrics_bounds_us,
	    METRICS_NBOUNDS(metrics_bounds_us), 1e6 },
	[SHM_H_COMMIT] = { metrics_bounds_us,
	    METRICS_NBOUNDS(metrics_bounds_us), 1e6 },
	[SHM_H_BATCH] = { metrics_bounds_batch,
	    METRICS_NBOUNDS(metrics_bounds_batch), 1 },
	[SHM_H_DELIVERY] = { metrics_bounds_us,
	    METRICS_NBOUNDS(metrics_bounds_us), 1e6 },
	[SHM_H_PUSH] = { metrics_bounds_us,
	    METRICS_NBOUNDS(metrics_bounds_us), 1e6 },
};

static const char *const metrics_ws_codes[SHM_WC_COUNT] = {
	"1000", "1001", "1002", "1003", "1006", "1007", "1008", "1009",
	"1011", "1012", "1013", "4401", "4409", "other"
};

/* The status label of each index of sa_requests; 0 is "other". */
static const int metrics_statuses[SHM_STATUSES] = {
	0, 200, 202, 204, 400, 401, 403, 404, 405, 413, 429, 500, 503
};

static const char *const metrics_routes[SHM_R_COUNT] = {
	"send", "messages", "ack", "device_register", "device_list",
	"device_delete", "preflight", "other"
};

static const char *const metrics_ws_ops[SHM_WOP_COUNT] = {
	"send", "ack"
};

static const char *const metrics_tls_reasons[SHM_TLS_COUNT] = {
	"timeout", "protocol", "closed", "other", "certificate"
};

static const char *const metrics_tls_kinds[SHM_TLSK_COUNT] = {
	"full", "resumed"
};

static const char *const metrics_rejects[SHM_REJ_COUNT] = {
	"invalid_json", "invalid_envelope", "sender_mismatch", "queue_full",
	"rate_limited", "unauthorized", "unavailable"
};

typedef void	metrics_fn(struct metrics_buf *, const struct shm *,
		    const struct metrics_def *);

static metrics_fn	metrics_shm_u64;
static metrics_fn	metrics_by_role;
static metrics_fn	metrics_hist;
static metrics_fn	metrics_uptime;
static metrics_fn	metrics_start_time;
static metrics_fn	metrics_ready;
static metrics_fn	metrics_drained;
static metrics_fn	metrics_restarts;
static metrics_fn	metrics_workers;
static metrics_fn	metrics_api_requests;
static metrics_fn	metrics_rejected;
static metrics_fn	metrics_token_cache;
static metrics_fn	metrics_ws_disconnects;
static metrics_fn	metrics_build_info;
static metrics_fn	metrics_proc;
static metrics_fn	metrics_proc_start;
static metrics_fn	metrics_route_hist;
static metrics_fn	metrics_ws_op_hist;
static metrics_fn	metrics_outbox_age;
static metrics_fn	metrics_tls_failures;
static metrics_fn	metrics_tls_handshakes;

static void	metrics_hist_add(struct shm_hist *,
		    const struct metrics_hist_def *, uint64_t);
static void	metrics_printf(struct metrics_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* A row's sampler and argument: a field of struct shm or of each slot. */
#define MD_SHM(f)	metrics_shm_u64, offsetof(struct shm, f)
#define MD_SLOT(f)	metrics_by_role, offsetof(struct shm_slot, f)
#define MD_HIST(k)	metrics_hist, (k)
#define MD_FN(fn)	(fn), 0
#define MD_PROC(f)	metrics_proc, offsetof(struct shm_proc, f)

/* Every exported family, in rendering order.  Columns: name, type, help,
 * sampler and its argument. */
const struct metrics_def metrics_defs[] = {
	{ "routingd_build_info", "gauge",
	    "Always 1; the version label is the running routingd's.",
	    MD_FN(metrics_build_info) },
	/* every process, by role and index (the supervisor: index 0) */
	{ "process_resident_memory_bytes", "gauge",
	    "Resident memory of each routingd process.",
	    MD_PROC(sp_rss_bytes) },
	{ "process_open_fds", "gauge",
	    "Open file descriptors of each routingd process.",
	    MD_PROC(sp_open_fds) },
	{ "process_cpu_seconds_total", "counter",
	    "User and system CPU time of each routingd process.",
	    MD_PROC(sp_cpu_us) },
	{ "process_start_time_seconds", "gauge",
	    "Unix time at which each routingd process started.",
	    MD_FN(metrics_proc_start) },
	/* the supervisor's daemon-wide fields */
	{ "routingd_uptime_seconds", "gauge",
	    "Seconds since the supervisor started.", MD_FN(metrics_uptime) },
	{ "routingd_start_time_seconds", "gauge",
	    "Unix time at which the supervisor started.",
	    MD_FN(metrics_start_time) },
	{ "routingd_ready", "gauge",
	    "1 once every worker is up, 0 before, while draining and while "
	    "drained.",
	    MD_FN(metrics_ready) },
	{ "routingd_drained", "gauge",
	    "1 while drained by routingctl drain (until undrain), else 0.",
	    MD_FN(metrics_drained) },
	{ "routingd_drain_refused_sends_total", "counter",
	    "POST /api/send answered 503 because the daemon was drained.",
	    MD_SHM(sh_api.sa_drain_refused) },
	{ "routingd_drain_refused_upgrades_total", "counter",
	    "WebSocket upgrades answered 503 because the daemon was drained.",
	    MD_SHM(sh_ws.sw_drain_refused) },
	{ "routingd_worker_restarts_total", "counter",
	    "Workers respawned after an unexpected exit, by role.",
	    MD_FN(metrics_restarts) },
	{ "routingd_heartbeat_kills_total", "counter",
	    "Workers killed for missing their heartbeat.",
	    MD_SHM(sh_heartbeat_kills) },
	{ "routingd_reloads_total", "counter",
	    "Successful configuration reloads.", MD_SHM(sh_reloads) },
	/* worker slots, by role */
	{ "routingd_workers", "gauge",
	    "Worker processes by role and state.", MD_FN(metrics_workers) },
	{ "routingd_connections", "gauge",
	    "Open client connections, by worker role.", MD_SLOT(ss_conns) },
	{ "routingd_connections_total", "counter",
	    "Client connections accepted, by worker role.",
	    MD_SLOT(ss_conns_total) },
	{ "routingd_http_requests_total", "counter",
	    "HTTP requests answered, by worker role.", MD_SLOT(ss_requests) },
	{ "routingd_http_bad_requests_total", "counter",
	    "Requests rejected for bad framing (400, 413, 431, 501, 505).",
	    MD_SLOT(ss_bad_requests) },
	{ "routingd_http_timeouts_total", "counter",
	    "Connections closed by a read, idle or write timeout.",
	    MD_SLOT(ss_timeouts) },
	{ "routingd_tls_handshake_failures_total", "counter",
	    "TLS handshakes that failed on the API and WebSocket ports, by "
	    "reason (timeout, protocol, closed, other, certificate).",
	    MD_FN(metrics_tls_failures) },
	{ "routingd_tls_handshakes_total", "counter",
	    "TLS handshakes completed on the API and WebSocket ports, by "
	    "kind (full, resumed: a session ticket was accepted).",
	    MD_FN(metrics_tls_handshakes) },
	{ "routingd_tls_ticket_key_rotations_total", "counter",
	    "Rotations of the TLS session ticket key since the start.",
	    MD_SHM(sh_tls.st_rotations) },
	/* the API */
	{ "routingd_api_requests_total", "counter",
	    "API requests answered, by route and HTTP status (0: other).",
	    MD_FN(metrics_api_requests) },
	{ "routingd_api_request_duration_seconds", "histogram",
	    "API request latency, from dispatch to answer.",
	    MD_HIST(SHM_H_REQUEST) },
	{ "routingd_api_route_duration_seconds", "histogram",
	    "API request latency by route, from dispatch to answer.",
	    MD_FN(metrics_route_hist) },
	{ "routingd_messages_accepted_total", "counter",
	    "Messages stored durably (one per send, before fan-out).",
	    MD_SHM(sh_api.sa_accepted) },
	{ "routingd_messages_fetched_total", "counter",
	    "Messages returned by GET /api/messages.",
	    MD_SHM(sh_api.sa_fetched) },
	{ "routingd_messages_acknowledged_total", "counter",
	    "Message copies deleted by acknowledgements.",
	    MD_SHM(sh_api.sa_acked) },
	{ "routingd_messages_expired_total", "counter",
	    "Message copies dropped after message_ttl.",
	    MD_SHM(sh_api.sa_expired) },
	{ "routingd_messages_dropped_total", "counter",
	    "Ephemeral messages accepted but delivered to nobody.",
	    MD_SHM(sh_api.sa_dropped) },
	{ "routingd_messages_held_total", "counter",
	    "Messages held for a recipient with no known device.",
	    MD_SHM(sh_api.sa_held) },
	{ "routingd_messages_adopted_total", "counter",
	    "Held message copies taken by devices that became known.",
	    MD_SHM(sh_api.sa_adopted) },
	{ "routingd_queue_overflow_total", "counter",
	    "Oldest message copies dropped from full device queues.",
	    MD_SHM(sh_api.sa_overflow) },
	{ "routingd_devices_forgotten_total", "counter",
	    "Devices forgotten after device_idle_ttl, with their queues.",
	    MD_SHM(sh_api.sa_forgotten) },
	{ "routingd_messages_rejected_total", "counter",
	    "API requests refused, by reason.", MD_FN(metrics_rejected) },
	{ "routingd_token_cache_total", "counter",
	    "Verified-token cache lookups, by result.",
	    MD_FN(metrics_token_cache) },
	/* the store */
	{ "routingd_queue_messages", "gauge",
	    "Messages queued: settled device copies plus log entries.",
	    MD_SHM(sh_api.sa_queue_messages) },
	{ "routingd_queue_devices", "gauge",
	    "Known devices (queues).", MD_SHM(sh_api.sa_queue_devices) },
	{ "routingd_queue_held_users", "gauge",
	    "Users with a queue of held messages (no device yet).",
	    MD_SHM(sh_api.sa_queue_held) },
	{ "routingd_store_used_bytes", "gauge",
	    "Bytes of the LMDB map in use.",
	    MD_SHM(sh_api.sa_store_used_bytes) },
	{ "routingd_store_map_bytes", "gauge",
	    "Bytes of the LMDB map.", MD_SHM(sh_api.sa_store_map_bytes) },
	{ "routingd_store_full_total", "counter",
	    "Requests refused because the LMDB map was full (503).",
	    MD_SHM(sh_api.sa_store_full) },
	{ "routingd_store_commit_failures_total", "counter",
	    "LMDB batch commits that failed (their requests got 503 unless "
	    "the retry after a full map committed them).",
	    MD_SHM(sh_api.sa_commit_failures) },
	{ "routingd_store_batch_replays_total", "counter",
	    "Batches run again with a sub-transaction per request after a "
	    "request failed inside the batch transaction.",
	    MD_SHM(sh_api.sa_batch_replays) },
	{ "routingd_store_log_entries", "gauge",
	    "Accepted messages still in the arrival log (not yet settled).",
	    MD_SHM(sh_api.sa_log_entries) },
	{ "routingd_store_settled_total", "counter",
	    "Message copies moved from the arrival log into device queues.",
	    MD_SHM(sh_api.sa_settled) },
	{ "routingd_store_settle_failures_total", "counter",
	    "Settle transactions that failed (retried later; no data lost).",
	    MD_SHM(sh_api.sa_settle_failures) },
	/* WebSockets and hand-offs */
	{ "routingd_ws_connections", "gauge",
	    "Open WebSocket connections.", MD_SHM(sh_ws.sw_active) },
	{ "routingd_ws_connections_asleep", "gauge",
	    "Open WebSocket connections asleep: idle, their wslay context "
	    "freed until the next byte in or frame out.",
	    MD_SHM(sh_ws.sw_asleep) },
	{ "routingd_ws_connects_total", "counter",
	    "WebSocket upgrades completed.", MD_SHM(sh_ws.sw_connects) },
	{ "routingd_ws_rejects_total", "counter",
	    "WebSocket upgrades refused (401, 400, 403, 426).",
	    MD_SHM(sh_ws.sw_rejects) },
	{ "routingd_ws_disconnects_total", "counter",
	    "WebSocket connections closed, by close code.",
	    MD_FN(metrics_ws_disconnects) },
	{ "routingd_ws_messages_pushed_total", "counter",
	    "Message frames written to WebSockets.",
	    MD_SHM(sh_ws.sw_pushed) },
	{ "routingd_ws_early_deliveries_total", "counter",
	    "Of them, stored messages written before their commit finished "
	    "(early delivery).",
	    MD_SHM(sh_ws.sw_early) },
	{ "routingd_ws_acks_total", "counter",
	    "Message copies deleted by WebSocket acks.",
	    MD_SHM(sh_ws.sw_acked) },
	{ "routingd_handoffs_sent_total", "counter",
	    "Doorbell records sent to WS workers.",
	    MD_SHM(sh_ws.sw_handoff_sent) },
	{ "routingd_handoffs_dropped_total", "counter",
	    "Doorbell records dropped (socket full); caught up from LMDB.",
	    MD_SHM(sh_ws.sw_handoff_dropped) },
	{ "routingd_handoffs_resynced_total", "counter",
	    "Catch-ups from LMDB of every connection after dropped doorbells.",
	    MD_SHM(sh_ws.sw_resyncs) },
	{ "routingd_presence_full_total", "counter",
	    "Connections the presence table had no room for.",
	    MD_SHM(sh_ws.sw_presence_full) },
	/* latency and batching */
	{ "routingd_store_commit_duration_seconds", "histogram",
	    "Duration of one durable (fsync'd) LMDB batch commit.",
	    MD_HIST(SHM_H_COMMIT) },
	{ "routingd_store_batch_requests", "histogram",
	    "Client requests (and sweeps) per LMDB batch commit.",
	    MD_HIST(SHM_H_BATCH) },
	{ "routingd_ws_delivery_seconds", "histogram",
	    "Live delivery latency: from the durable commit that rang a "
	    "connection to the frames of its next pull (one sample each); "
	    "for an early delivery, from its hand-off just before the "
	    "commit to its frame.",
	    MD_HIST(SHM_H_DELIVERY) },
	{ "routingd_ws_op_duration_seconds", "histogram",
	    "WebSocket client operations by op, from the frame to its "
	    "answer (send) or durable delete (ack).",
	    MD_FN(metrics_ws_op_hist) },
	/* push notifications (the push worker, push_gateway_url) */
	{ "routingd_push_sent_total", "counter",
	    "Pushes the gateway accepted.", MD_SHM(sh_push.sp_sent) },
	{ "routingd_push_failed_total", "counter",
	    "Push requests that got no answer, a 5xx or a 4xx.",
	    MD_SHM(sh_push.sp_failed) },
	{ "routingd_push_retried_total", "counter",
	    "Failed pushes scheduled again (backoff with jitter).",
	    MD_SHM(sh_push.sp_retried) },
	{ "routingd_push_dropped_total", "counter",
	    "Pushes given up: older than push_max_age, refused with a 4xx, "
	    "or a platform the gateway format cannot address.",
	    MD_SHM(sh_push.sp_dropped) },
	{ "routingd_push_rejected_tokens_total", "counter",
	    "Push tokens the gateway rejected (removed from their device).",
	    MD_SHM(sh_push.sp_rejected) },
	{ "routingd_push_skipped_total", "counter",
	    "Due pushes not sent: the device was online or had nothing "
	    "unread.", MD_SHM(sh_push.sp_skipped) },
	{ "routingd_push_outbox_jobs", "gauge",
	    "Devices with a push pending in the durable outbox.",
	    MD_SHM(sh_api.sa_outbox_jobs) },
	{ "routingd_push_outbox_oldest_age_seconds", "gauge",
	    "Age of the oldest pending push, from the message or disconnect "
	    "it is for (0: none).",
	    MD_FN(metrics_outbox_age) },
	{ "routingd_push_gateway_duration_seconds", "histogram",
	    "Push gateway requests, from sending to the answer (or failure).",
	    MD_HIST(SHM_H_PUSH) },
};
const size_t metrics_ndefs = sizeof(metrics_defs) / sizeof(metrics_defs[0]);

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

static uint64_t
metrics_load(const _Atomic uint64_t *p)
{
	return (atomic_load_explicit(p, memory_order_relaxed));
}

/* The name of role r as the supervisor recorded it; NULL: no workers. */
static const char *
metrics_role(const struct shm *sh, int r)
{
	return (sh->sh_roles[r].sr_n == 0 ? NULL : sh->sh_roles[r].sr_name);
}

/* The one unlabelled sample of the family md. */
static void
metrics_sample(struct metrics_buf *mb, const struct metrics_def *md,
    uint64_t v)
{
	metrics_printf(mb, "%s %llu\n", md->md_name, (unsigned long long)v);
}

/* A sample of md per value of one label: names[i] with counters[i]. */
static void
metrics_labelled(struct metrics_buf *mb, const struct metrics_def *md,
    const char *label, const char *const *names,
    const _Atomic uint64_t *counters, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		metrics_printf(mb, "%s{%s=\"%s\"} %llu\n", md->md_name, label,
		    names[i], (unsigned long long)metrics_load(&counters[i]));
}

/* The sample of md for worker role name. */
static void
metrics_role_sample(struct metrics_buf *mb, const struct metrics_def *md,
    const char *role, uint64_t v)
{
	metrics_printf(mb, "%s{role=\"%s\"} %llu\n", md->md_name, role,
	    (unsigned long long)v);
}

/* The _Atomic uint64_t at offset md_arg in struct shm. */
static void
metrics_shm_u64(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_sample(mb, md, metrics_load((const _Atomic uint64_t *)
	    (const void *)((const char *)sh + md->md_arg)));
}

/* A sample per worker role: the slot counter at md_arg, summed. */
static void
metrics_by_role(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	const char	*role;
	int		 r;

	for (r = 0; r < PROC_NROLES; r++)
		if ((role = metrics_role(sh, r)) != NULL)
			metrics_role_sample(mb, md, role,
			    shm_sum(sh, r, md->md_arg));
}

/*
 * The samples of histogram h with the buckets of hd, made cumulative;
 * with one label (name lname, value lval) when lname is not NULL.
 */
static void
metrics_hist_write(struct metrics_buf *mb, const struct metrics_def *md,
    const char *lname, const char *lval, const struct metrics_hist_def *hd,
    const struct shm_hist *h)
{
	char		 lab[64];
	uint64_t	 cum = 0;
	size_t		 i;

	lab[0] = '\0';
	if (lname != NULL)
		(void)snprintf(lab, sizeof(lab), "%s=\"%s\",", lname, lval);
	for (i = 0; i < hd->hd_n; i++) {
		cum += metrics_load(&h->sh_bucket[i]);
		metrics_printf(mb, "%s_bucket{%sle=\"%g\"} %llu\n",
		    md->md_name, lab, (double)hd->hd_bounds[i] / hd->hd_scale,
		    (unsigned long long)cum);
	}
	cum += metrics_load(&h->sh_bucket[hd->hd_n]);
	metrics_printf(mb, "%s_bucket{%sle=\"+Inf\"} %llu\n", md->md_name,
	    lab, (unsigned long long)cum);
	if (lname != NULL)
		lab[strlen(lab) - 1] = '\0';	/* no trailing comma */
	metrics_printf(mb, "%s_sum%s%s%s %g\n%s_count%s%s%s %llu\n",
	    md->md_name, *lab ? "{" : "", lab, *lab ? "}" : "",
	    (double)metrics_load(&h->sh_sum) / hd->hd_scale, md->md_name,
	    *lab ? "{" : "", lab, *lab ? "}" : "",
	    (unsigned long long)metrics_load(&h->sh_count));
}

/* Histogram md_arg (enum shm_hist_kind), unlabelled. */
static void
metrics_hist(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_hist_write(mb, md, NULL, NULL, &metrics_hists[md->md_arg],
	    &sh->sh_api.sa_hist[md->md_arg]);
}

/* The request-latency histogram of every API route. */
static void
metrics_route_hist(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	int	 r;

	for (r = 0; r < SHM_R_COUNT; r++)
		metrics_hist_write(mb, md, "route", metrics_routes[r],
		    &metrics_hists[SHM_H_REQUEST], &sh->sh_api.sa_route_hist[r]);
}

/* The latency histogram of every WebSocket client operation. */
static void
metrics_ws_op_hist(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	int	 k;

	for (k = 0; k < SHM_WOP_COUNT; k++)
		metrics_hist_write(mb, md, "op", metrics_ws_ops[k],
		    &metrics_hists[SHM_H_REQUEST], &sh->sh_ws.sw_op_hist[k]);
}

static void
metrics_build_info(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_printf(mb, "%s{version=\"%s\"} 1\n", md->md_name,
	    PACKAGE_VERSION);
}

/*
 * The slot of role's share that speaks for worker index i, or NULL: a
 * slot in use and sampled, the newest one when a reload briefly has two
 * (the retiring worker and its successor), so no series is repeated.
 */
static const struct shm_slot *
metrics_proc_slot(const struct shm *sh, int role, uint32_t idx)
{
	const struct shm_role	*sr = &sh->sh_roles[role];
	const struct shm_slot	*ss, *best = NULL;
	uint32_t		 i;

	for (i = sr->sr_first; i < sr->sr_first + sr->sr_n; i++) {
		ss = &sh->sh_slots[i];
		if (atomic_load(&ss->ss_state) == SHM_SLOT_FREE ||
		    atomic_load(&ss->ss_index) != idx ||
		    metrics_load(&ss->ss_proc.sp_rss_bytes) == 0)
			continue;
		if (best == NULL || atomic_load(&ss->ss_started_ms) >
		    atomic_load(&best->ss_started_ms))
			best = ss;
	}
	return (best);
}

/* One process's sample of md: value v. */
static void
metrics_proc_line(struct metrics_buf *mb, const struct metrics_def *md,
    const char *role, uint32_t idx, double v)
{
	metrics_printf(mb, "%s{role=\"%s\",index=\"%u\"} %.17g\n",
	    md->md_name, role, idx, v);
}

/* The value of field md_arg of p in the family's unit. */
static double
metrics_proc_value(const struct metrics_def *md, const struct shm_proc *p)
{
	uint64_t	 v = metrics_load((const _Atomic uint64_t *)
			    (const void *)((const char *)p + md->md_arg));

	if (md->md_arg == offsetof(struct shm_proc, sp_cpu_us))
		return ((double)v / 1e6);
	return ((double)v);
}

/*
 * A process_* family: the supervisor, then each worker (role, index)
 * that has a sampled slot.  With start, the process's start time instead
 * of the field at md_arg.
 */
static void
metrics_proc_each(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md, int start)
{
	const struct shm_slot	*ss;
	const char		*role;
	uint64_t		 t;
	uint32_t		 i;
	int			 r;

	metrics_proc_line(mb, md, "supervisor", 0, start ?
	    (double)sh->sh_started_real_ms / 1000.0 :
	    metrics_proc_value(md, &sh->sh_sup_proc));
	for (r = 0; r < PROC_NROLES; r++) {
		if ((role = metrics_role(sh, r)) == NULL)
			continue;
		for (i = 0; i < MAX_WORKERS_PER_ROLE; i++) {
			if ((ss = metrics_proc_slot(sh, r, i)) == NULL)
				continue;
			/* the slot's monotonic stamp, on the real clock */
			t = sh->sh_started_real_ms +
			    (metrics_load(&ss->ss_started_ms) -
			    sh->sh_started_mono_ms);
			metrics_proc_line(mb, md, role, i, start ?
			    (double)t / 1000.0 :
			    metrics_proc_value(md, &ss->ss_proc));
		}
	}
}

static void
metrics_proc(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_proc_each(mb, sh, md, 0);
}

static void
metrics_proc_start(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_proc_each(mb, sh, md, 1);
}

static void
metrics_outbox_age(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	uint64_t	 t = atomic_load(&sh->sh_api.sa_outbox_oldest_ms);
	uint64_t	 now = util_real_ms();

	metrics_sample(mb, md, t == 0 || now < t ? 0 : (now - t) / 1000);
}

static void
metrics_uptime(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_sample(mb, md, (util_mono_ms() - sh->sh_started_mono_ms) /
	    1000);
}

static void
metrics_start_time(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_sample(mb, md, sh->sh_started_real_ms / 1000);
}

static void
metrics_ready(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_sample(mb, md, atomic_load(&sh->sh_ready) &&
	    !atomic_load(&sh->sh_draining) && !atomic_load(&sh->sh_drained));
}

static void
metrics_drained(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_sample(mb, md, atomic_load(&sh->sh_drained) != 0);
}

static void
metrics_restarts(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	const char	*role;
	int		 r;

	for (r = 0; r < PROC_NROLES; r++)
		if ((role = metrics_role(sh, r)) != NULL)
			metrics_role_sample(mb, md, role,
			    metrics_load(&sh->sh_restarts[r]));
}

/* Live workers by role and state (the slots of each role's share). */
static void
metrics_workers(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	static const char *const states[] = {
		NULL, "starting", "ready", "draining"
	};
	const struct shm_role	*sr;
	const char		*role;
	unsigned		 count[4];
	uint32_t		 i, st;
	int			 r, k;

	for (r = 0; r < PROC_NROLES; r++) {
		if ((role = metrics_role(sh, r)) == NULL)
			continue;
		sr = &sh->sh_roles[r];
		memset(count, 0, sizeof(count));
		for (i = sr->sr_first; i < sr->sr_first + sr->sr_n; i++) {
			st = atomic_load(&sh->sh_slots[i].ss_state);
			if (st != SHM_SLOT_FREE && st < 4)
				count[st]++;
		}
		for (k = 1; k < 4; k++)
			metrics_printf(mb, "%s{role=\"%s\",state=\"%s\"} %u\n",
			    md->md_name, role, states[k], count[k]);
	}
}

/* API requests by route and status (only the non-zero ones). */
static void
metrics_api_requests(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	uint64_t	 v;
	int		 r, k;

	for (r = 0; r < SHM_R_COUNT; r++)
		for (k = 0; k < SHM_STATUSES; k++) {
			v = metrics_load(&sh->sh_api.sa_requests[r][k]);
			if (v == 0)
				continue;
			metrics_printf(mb, "%s{route=\"%s\",status=\"%d\"} "
			    "%llu\n", md->md_name, metrics_routes[r],
			    metrics_statuses[k], (unsigned long long)v);
		}
}

static void
metrics_rejected(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_labelled(mb, md, "reason", metrics_rejects,
	    sh->sh_api.sa_rejected, SHM_REJ_COUNT);
}

static void
metrics_token_cache(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_printf(mb, "%s{result=\"hit\"} %llu\n%s{result=\"miss\"} "
	    "%llu\n", md->md_name,
	    (unsigned long long)metrics_load(&sh->sh_api.sa_token_hits),
	    md->md_name,
	    (unsigned long long)metrics_load(&sh->sh_api.sa_token_misses));
}

static void
metrics_ws_disconnects(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	metrics_labelled(mb, md, "code", metrics_ws_codes,
	    sh->sh_ws.sw_closes, SHM_WC_COUNT);
}

/* The sum over every role of the slot counter array at off, index i. */
static uint64_t
metrics_all_roles(const struct shm *sh, size_t off, int i)
{
	uint64_t	 sum = 0;
	int		 r;

	for (r = 0; r < PROC_NROLES; r++)
		if (metrics_role(sh, r) != NULL)
			sum += shm_sum(sh, r, off + (size_t)i *
			    sizeof(_Atomic uint64_t));
	return (sum);
}

/* The slot counters of failed TLS handshakes, summed over every role. */
static void
metrics_tls_failures(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	_Atomic uint64_t	 sum[SHM_TLS_COUNT];
	int			 i;

	for (i = 0; i < SHM_TLS_COUNT; i++)
		atomic_init(&sum[i], metrics_all_roles(sh,
		    offsetof(struct shm_slot, ss_tls_failures), i));
	metrics_labelled(mb, md, "reason", metrics_tls_reasons, sum,
	    SHM_TLS_COUNT);
}

/* The slot counters of completed TLS handshakes, summed over every role. */
static void
metrics_tls_handshakes(struct metrics_buf *mb, const struct shm *sh,
    const struct metrics_def *md)
{
	_Atomic uint64_t	 sum[SHM_TLSK_COUNT];
	int			 i;

	for (i = 0; i < SHM_TLSK_COUNT; i++)
		atomic_init(&sum[i], metrics_all_roles(sh,
		    offsetof(struct shm_slot, ss_tls_handshakes), i));
	metrics_labelled(mb, md, "kind", metrics_tls_kinds, sum,
	    SHM_TLSK_COUNT);
}

/* metrics_render: see metrics.h. */
int
metrics_render(const struct shm *sh, char **out, size_t *len)
{
	const struct metrics_def	*md;
	struct metrics_buf		 mb;
	size_t				 i;

	memset(&mb, 0, sizeof(mb));
	mb.mb_cap = 4096;
	if ((mb.mb_data = malloc(mb.mb_cap)) == NULL)
		return (-1);
	for (i = 0; i < metrics_ndefs; i++) {
		md = &metrics_defs[i];
		metrics_printf(&mb, "# HELP %s %s\n# TYPE %s %s\n",
		    md->md_name, md->md_help, md->md_name, md->md_type);
		md->md_fn(&mb, sh, md);
	}
	if (mb.mb_err) {
		free(mb.mb_data);
		return (-1);
	}
	*out = mb.mb_data;
	*len = mb.mb_len;
	return (0);
}

/* metrics_observe: see metrics.h. */
void
metrics_observe(struct shm *sh, int kind, uint64_t v)
{
	if (kind < 0 || kind >= SHM_H_COUNT)
		return;
	metrics_hist_add(&sh->sh_api.sa_hist[kind], &metrics_hists[kind], v);
}

/* Count v into h, whose buckets are hd's. */
static void
metrics_hist_add(struct shm_hist *h, const struct metrics_hist_def *hd,
    uint64_t v)
{
	size_t	 i;

	for (i = 0; i < hd->hd_n && v > hd->hd_bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->sh_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sh_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sh_sum, v, memory_order_relaxed);
}

/* metrics_observe_route: see metrics.h. */
void
metrics_observe_route(struct shm *sh, int route, uint64_t us)
{
	if (route < 0 || route >= SHM_R_COUNT)
		route = SHM_R_OTHER;
	metrics_hist_add(&sh->sh_api.sa_route_hist[route],
	    &metrics_hists[SHM_H_REQUEST], us);
}

/* metrics_observe_ws: see metrics.h. */
void
metrics_observe_ws(struct shm *sh, int op, uint64_t us)
{
	if (op < 0 || op >= SHM_WOP_COUNT)
		return;
	metrics_hist_add(&sh->sh_ws.sw_op_hist[op],
	    &metrics_hists[SHM_H_REQUEST], us);
}

/* Resident pages from /proc/self/statm, in bytes; 0 if unreadable. */
static uint64_t
metrics_proc_rss(void)
{
	unsigned long long	 size, res = 0;
	long			 page = sysconf(_SC_PAGESIZE);
	FILE			*fp;

	if ((fp = fopen("/proc/self/statm", "re")) == NULL)
		return (0);
	if (fscanf(fp, "%llu %llu", &size, &res) != 2)
		res = 0;
	(void)fclose(fp);
	return (page > 0 ? (uint64_t)res * (uint64_t)page : 0);
}

/* Entries of /proc/self/fd, less the one reading it; 0 if unreadable. */
static uint64_t
metrics_proc_fds(void)
{
	struct dirent	*de;
	DIR		*d;
	uint64_t	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return (n > 0 ? n - 1 : 0);
}

/* metrics_proc_sample: see metrics.h. */
void
metrics_proc_sample(struct shm_proc *p)
{
	struct rusage	 ru;
	uint64_t	 cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (uint64_t)ru.ru_utime.tv_sec * 1000000 +
		    (uint64_t)ru.ru_utime.tv_usec +
		    (uint64_t)ru.ru_stime.tv_sec * 1000000 +
		    (uint64_t)ru.ru_stime.tv_usec;
	atomic_store_explicit(&p->sp_cpu_us, cpu, memory_order_relaxed);
	atomic_store_explicit(&p->sp_open_fds, metrics_proc_fds(),
	    memory_order_relaxed);
	atomic_store_explicit(&p->sp_rss_bytes, metrics_proc_rss(),
	    memory_order_relaxed);
}

/* metrics_count_request: see metrics.h. */
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
