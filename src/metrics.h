/*
 * metrics.h: what GET /metrics exports, and the calls that count into
 * the shared-memory fields behind it.
 *
 * metrics_defs[] is the one list of the exported families, in the order
 * they are rendered: a row per family with its name, type and help, and
 * the function that writes its samples from struct shm with the row's
 * argument (the offset of its field, or its histogram kind).  Adding a
 * metric is one row in metrics.c plus the increment where it happens.
 * Names and labels are a contract with dashboards: add, never rename.
 */

#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

struct shm;
struct shm_proc;
struct metrics_buf;		/* private to metrics.c: the text so far */

struct metrics_def {
	const char	*md_name;
	const char	*md_type;	/* "counter", "gauge", "histogram" */
	const char	*md_help;
	/* write the family's samples (not its HELP and TYPE lines) */
	void		(*md_fn)(struct metrics_buf *, const struct shm *,
			    const struct metrics_def *);
	size_t		 md_arg;	/* md_fn's: a field offset, a kind */
};

/* The exported families; metrics_ndefs rows. */
extern const struct metrics_def	metrics_defs[];
extern const size_t		metrics_ndefs;

/*
 * metrics_render: the Prometheus text exposition (format 0.0.4) of sh:
 * for every row of metrics_defs, its HELP and TYPE lines then its
 * samples.  Into a malloc'd buffer (*out, caller frees), length in *len.
 * Only reads sh (atomic loads).  Returns 0, or -1 on allocation
 * failure.
 */
int		 metrics_render(const struct shm *sh, char **out,
		    size_t *len);

/* metrics_observe: add v to histogram kind (enum shm_hist_kind). */
void		 metrics_observe(struct shm *, int kind, uint64_t v);

/*
 * metrics_observe_route: one API request of route (enum shm_api_route;
 * out of range: SHM_R_OTHER) that took us microseconds.
 */
void		 metrics_observe_route(struct shm *, int route, uint64_t us);

/* metrics_observe_ws: one WebSocket operation op (enum shm_ws_op; out of
 * range: ignored) that took us microseconds. */
void		 metrics_observe_ws(struct shm *, int op, uint64_t us);

/*
 * metrics_proc_sample: store the calling process's resident memory, open
 * descriptors and CPU time into p (each 0 when /proc or getrusage fails).
 * Reads /proc/self: cheap, but not free (a directory read of the fds),
 * so call it about once a second.
 */
void		 metrics_proc_sample(struct shm_proc *p);

/*
 * metrics_count_request: one API answer of route (enum shm_api_route;
 * out of range: SHM_R_OTHER) with HTTP status (unlisted: status "0").
 */
void		 metrics_count_request(struct shm *, int route, int status);

#endif /* METRICS_H */
