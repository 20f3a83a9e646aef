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
	if (mb.mb_err) {
		free(mb.mb_data);
		return (-1);
	}
	*out = mb.mb_data;
	*len = mb.mb_len;
	return (0);
}
