/*
 * push.c: the push worker process (the "push" row of the process table,
 * one process when push_gateway_url is set, none otherwise).
 *
 * Owns its own handle on the queue store (opened after fork), a group-
 * commit queue for the outcomes it writes, the gateway client (pushhttp.c)
 * and the scan timer.  The API and WS workers write push jobs into the
 * store's durable outbox in the same commit as the messages they announce
 * (qstore.c); this process only reads the due ones and sends them:
 *
 *   every PUSH_TICK: the due jobs (qs_push_due), each one
 *     device online (presence table) or nothing unread -> SKIP
 *     older than push_max_age or a platform the format cannot address
 *                                                        -> DROP
 *     else one gateway request (pushfmt.c builds it); its answer:
 *       2xx, token not rejected -> SENT;  2xx, token rejected -> the push
 *       target is removed (qs_push_remove);  no answer or 5xx -> RETRY
 *       with exponential backoff and jitter (DROP once past
 *       push_max_age);  other 4xx -> DROP
 *   then the outcome is written (qs_push_done) in a group commit.
 *
 * Delivery is at least once: the job leaves the outbox only in the commit
 * after the gateway's answer, so a crash between the two sends it again.
 *
 * A backlog (a scan that found more due jobs than room) is scanned again
 * as soon as half the room is free, so the gateway sets the pace, not
 * the tick.
 *
 * Invariants: at most PUSH_INFLIGHT jobs are being sent or written at
 * once, and a job is never sent twice at the same time (p_jobs is checked
 * before sending); a push carries the app id, the token, the unread count
 * and a priority only (never ciphertext, a sender or a message id); a
 * failing gateway (no answer or 5xx), a refusing one (4xx) and a failing
 * store are each logged once per incident (when it starts, and when
 * pushes go through again), never per push.
 */

#include <sys/queue.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "config.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "presence.h"
#include "push.h"
#include "pushfmt.h"
#include "pushhttp.h"
#include "qstore.h"
#include "routingd.h"
#include "worker.h"

#define PUSH_TICK		0.25	/* s between scans of the outbox */
#define PUSH_INFLIGHT		64	/* jobs sent or being written */
#define PUSH_CONNS		4	/* gateway connections */
#define PUSH_TIMEOUT		10.0	/* s per gateway request */
#define PUSH_BACKOFF_MS		1000	/* first retry after about this */
#define PUSH_BACKOFF_MAX_MS	300000	/* retries at most this far apart */
#define PUSH_BODY_MAX		(QS_TOKEN_MAX * 2 + 1024)

struct push;

/* One job taken from the outbox: sent, then its outcome written. */
struct push_job {
	TAILQ_ENTRY(push_job)	 j_entry;
	struct commit_op	 j_op;
	struct push		*j_push;
	char			 j_user[ID_MAX + 1];
	char			 j_device[ID_MAX + 1];
	char			 j_token[QS_TOKEN_MAX];
	uint32_t		 j_gen;
	uint32_t		 j_attempts;
	uint64_t		 j_since_ms;
	int			 j_outcome;	/* enum qs_push_outcome */
	int			 j_remove;	/* token rejected: remove it */
	uint64_t		 j_retry_at_ms;
	uint64_t		 j_t0_us;	/* request sent */
};
TAILQ_HEAD(push_jobs, push_job);

struct push {
	struct worker		*p_w;
	const struct config	*p_cfg;
	struct shm		*p_shm;
	struct qstore		*p_qs;
	struct commit		*p_commit;
	struct ph_client	*p_http;
	enum pf_format		 p_format;
	struct push_jobs	 p_jobs;
	size_t			 p_njobs;
	int			 p_draining;
	int			 p_freeing;
	int			 p_failing;	/* no answer or 5xx: logged */
	int			 p_refusing;	/* 4xx: logged */
	int			 p_store_failing; /* store errors: logged */
	int			 p_full;	/* the last scan left due
						   jobs for want of room */
	ev_timer		 p_tick;
	char			 p_body[PUSH_BODY_MAX];
};

static int	push_init(struct worker *);
static void	push_drain(struct worker *);
static void	push_free(struct worker *);
static void	push_tick_cb(struct ev_loop *, ev_timer *, int);
static void	push_scan_soon(struct push *);
static void	push_store_failed(struct push *, const char *,
		    const char *);
static void	push_answer_cb(void *, int, const char *, size_t,
		    const char *);

const struct worker_ops push_ops = {
	"push",
	push_init,
	push_drain,
	push_free,
	NULL			/* replaced on reload */
};

static void
push_count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Outcomes: one write each, then the job is forgotten                 */
/* ------------------------------------------------------------------ */

static int
push_apply(struct qstore *qs, struct commit_op *op)
{
	struct push_job	*j = (struct push_job *)(void *)
			    ((char *)op - offsetof(struct push_job, j_op));

	if (j->j_remove)
		return (qs_push_remove(qs, j->j_user, j->j_device));
	return (qs_push_done(qs, j->j_user, j->j_device, j->j_gen,
	    j->j_outcome, util_real_ms(), j->j_retry_at_ms));
}

static void
push_written(struct commit_op *op, int result)
{
	struct push_job	*j = (struct push_job *)(void *)
			    ((char *)op - offsetof(struct push_job, j_op));
	struct push	*p = j->j_push;

	if (result != QS_OK && result != QS_NOTFOUND)
		push_store_failed(p, "push outcomes not written",
		    qs_strerror(result));
	TAILQ_REMOVE(&p->p_jobs, j, j_entry);
	p->p_njobs--;
	free(j);
	if (p->p_draining && !p->p_freeing && p->p_njobs == 0)
		worker_drained(p->p_w);
	else if (p->p_full && !p->p_draining && !p->p_freeing &&
	    p->p_njobs <= PUSH_INFLIGHT / 2)
		push_scan_soon(p);
}

/* A store error of the push worker: logged once until a scan works. */
static void
push_store_failed(struct push *p, const char *what, const char *why)
{
	if (!p->p_store_failing)
		log_warnx("%s: %s", what, why);
	p->p_store_failing = 1;
}

/* Record the outcome of j (written by the next group commit). */
static void
push_finish(struct push_job *j, int outcome)
{
	j->j_outcome = outcome;
	j->j_op.o_single = 1;
	j->j_op.o_apply = push_apply;
	j->j_op.o_done = push_written;
	commit_submit(j->j_push->p_commit, &j->j_op);
}

/* When to try j again: about PUSH_BACKOFF_MS * 2^attempts, capped, with
 * jitter of +-50 % so failed pushes do not come back in step. */
static uint64_t
push_backoff(const struct push_job *j, uint64_t now_ms)
{
	uint64_t	 b = PUSH_BACKOFF_MS;
	uint32_t	 i;

	for (i = 0; i < j->j_attempts && b < PUSH_BACKOFF_MAX_MS; i++)
		b *= 2;
	if (b > PUSH_BACKOFF_MAX_MS)
		b = PUSH_BACKOFF_MAX_MS;
	return (now_ms + b / 2 + arc4random_uniform((uint32_t)b + 1));
}

/* A request that failed (no answer, 5xx): again later, or give up. */
static void
push_failed(struct push_job *j, int status, const char *err)
{
	struct push	*p = j->j_push;
	uint64_t	 now = util_real_ms();

	push_count(&p->p_shm->sh_push.sp_failed);
	if (!p->p_failing) {
		if (status > 0)
			log_warnx("push gateway failing: status %d (pushes "
			    "are retried until push_max_age)", status);
		else
			log_warnx("push gateway failing: %s (pushes are "
			    "retried until push_max_age)", err);
		p->p_failing = 1;
	}
	j->j_retry_at_ms = push_backoff(j, now);
	if (j->j_retry_at_ms - j->j_since_ms >
	    (uint64_t)p->p_cfg->cf_push_max_age) {
		push_count(&p->p_shm->sh_push.sp_dropped);
		push_finish(j, QS_PUSH_DROP);
		return;
	}
	push_count(&p->p_shm->sh_push.sp_retried);
	push_finish(j, QS_PUSH_RETRY);
}

/* The gateway's answer to j (status -1: none, err says why). */
static void
push_answer_cb(void *arg, int status, const char *body, size_t len,
    const char *err)
{
	struct push_job	*j = arg;
	struct push	*p = j->j_push;
	int		 rej;

	metrics_observe(p->p_shm, SHM_H_PUSH, util_mono_us() - j->j_t0_us);
	if (status == -1 || status >= 500) {
		push_failed(j, status, err != NULL ? err : "no answer");
		return;
	}
	if (status < 200 || status >= 300) {
		/* a request the gateway refuses will not get better */
		push_count(&p->p_shm->sh_push.sp_failed);
		push_count(&p->p_shm->sh_push.sp_dropped);
		if (!p->p_refusing)
			log_warnx("push gateway refused a push with status "
			    "%d; such pushes are dropped", status);
		p->p_refusing = 1;
		push_finish(j, QS_PUSH_DROP);
		return;
	}
	if (p->p_failing || p->p_refusing) {
		log_notice("push gateway accepts pushes again");
		p->p_failing = p->p_refusing = 0;
	}
	if ((rej = pf_rejected(p->p_format, body, len, j->j_token)) == 1) {
		push_count(&p->p_shm->sh_push.sp_rejected);
		log_info("push gateway rejected the token of %s/%s: removed",
		    j->j_user, j->j_device);
		j->j_remove = 1;
		push_finish(j, QS_PUSH_DROP);
		return;
	}
	if (rej == -1)
		log_debug("push gateway answer not understood; taken as sent");
	push_count(&p->p_shm->sh_push.sp_sent);
	push_finish(j, QS_PUSH_SENT);
}

/* ------------------------------------------------------------------ */
/* The scan: due jobs, sent or settled at once                         */
/* ------------------------------------------------------------------ */

static int
push_busy(const struct push *p, const char *user, const char *device)
{
	const struct push_job	*j;

	TAILQ_FOREACH(j, &p->p_jobs, j_entry)
		if (strcmp(j->j_user, user) == 0 &&
		    strcmp(j->j_device, device) == 0)
			return (1);
	return (0);
}

/* What to do with a due job before any request: -1 send it, else the
 * outcome to write at once. */
static int
push_triage(struct push *p, const struct qs_push_job *pj, uint64_t now)
{
	if ((p->p_w->w_pr != NULL && pr_lookup_device(p->p_w->w_pr,
	    pj->pj_user, pj->pj_device, NULL) > 0) || pj->pj_unread == 0) {
		push_count(&p->p_shm->sh_push.sp_skipped);
		return (QS_PUSH_SKIP);
	}
	if (now > pj->pj_since_ms &&
	    now - pj->pj_since_ms > (uint64_t)p->p_cfg->cf_push_max_age) {
		push_count(&p->p_shm->sh_push.sp_dropped);
		return (QS_PUSH_DROP);
	}
	if (!pf_platform_ok(p->p_format, pj->pj_platform)) {
		push_count(&p->p_shm->sh_push.sp_dropped);
		return (QS_PUSH_DROP);
	}
	return (-1);
}

/* Build and send j's request: 0, -1 if it cannot be built (dropped), -2
 * if the client cannot take it now (retried). */
static int
push_send(struct push *p, struct push_job *j, const struct qs_push_job *pj)
{
	struct pf_push	 pp;
	size_t		 len;

	memset(&pp, 0, sizeof(pp));
	pp.pp_app_id = pj->pj_app_id;
	pp.pp_token = pj->pj_token;
	pp.pp_platform = pj->pj_platform;
	pp.pp_unread = pj->pj_unread;
	pp.pp_high = pj->pj_high;
	if (pf_request(p->p_format, &pp, p->p_body, sizeof(p->p_body),
	    &len) == -1)
		return (-1);
	j->j_t0_us = util_mono_us();
	if (ph_post(p->p_http, PF_CONTENT_TYPE, p->p_body, len,
	    push_answer_cb, j) == -1)
		return (-2);
	return (0);
}

static int
push_due_cb(void *arg, const struct qs_push_job *pj)
{
	struct push	*p = arg;
	struct push_job	*j;
	int		 outcome;

	if (p->p_njobs >= PUSH_INFLIGHT)
		return (1);
	if (push_busy(p, pj->pj_user, pj->pj_device))
		return (0);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return (1);
	j->j_push = p;
	(void)snprintf(j->j_user, sizeof(j->j_user), "%s", pj->pj_user);
	(void)snprintf(j->j_device, sizeof(j->j_device), "%s",
	    pj->pj_device);
	(void)snprintf(j->j_token, sizeof(j->j_token), "%s", pj->pj_token);
	j->j_gen = pj->pj_gen;
	j->j_attempts = pj->pj_attempts;
	j->j_since_ms = pj->pj_since_ms;
	TAILQ_INSERT_TAIL(&p->p_jobs, j, j_entry);
	p->p_njobs++;
	if ((outcome = push_triage(p, pj, util_real_ms())) != -1)
		push_finish(j, outcome);
	else switch (push_send(p, j, pj)) {
	case -1:
		push_count(&p->p_shm->sh_push.sp_dropped);
		push_finish(j, QS_PUSH_DROP);
		break;
	case -2:
		push_failed(j, -1, "the gateway client cannot take the request");
		break;
	}
	return (0);
}

static void
push_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct push	*p = t->data;
	int		 rc;

	(void)loop;
	(void)revents;
	if (p->p_draining || p->p_njobs >= PUSH_INFLIGHT)
		return;
	/* jobs already taken come back from the scan: ask for room */
	rc = qs_push_due(p->p_qs, util_real_ms(), PUSH_INFLIGHT + p->p_njobs,
	    push_due_cb, p);
	if (rc != QS_OK)
		push_store_failed(p, "push outbox scan failed",
		    qs_lasterr(p->p_qs));
	else if (p->p_store_failing) {
		log_notice("push outbox readable again");
		p->p_store_failing = 0;
	}
	p->p_full = p->p_njobs >= PUSH_INFLIGHT;
}

/* A backlog: scan again as soon as half the room is free, not at the
 * next tick (the tick then runs PUSH_TICK after this scan). */
static void
push_scan_soon(struct push *p)
{
	p->p_full = 0;
	ev_timer_stop(p->p_w->w_loop, &p->p_tick);
	ev_timer_set(&p->p_tick, 0., PUSH_TICK);
	ev_timer_start(p->p_w->w_loop, &p->p_tick);
}

/* ------------------------------------------------------------------ */
/* Process side                                                        */
/* ------------------------------------------------------------------ */

static int
push_open(struct push *p)
{
	struct ph_config	 pc;
	const char		*err = NULL;

	if ((p->p_qs = qs_open(p->p_cfg->cf_data_dir,
	    (uint64_t)p->p_cfg->cf_store_max_size, &err)) == NULL) {
		log_warnx("cannot open the store in %s: %s",
		    p->p_cfg->cf_data_dir, err != NULL ? err : "unknown");
		return (-1);
	}
	/* writes no job itself, but a send raced by messages is due again
	 * push_coalesce after it (qs_push_done) */
	qs_push_config(p->p_qs, 0, (uint64_t)p->p_cfg->cf_push_coalesce);
	memset(&pc, 0, sizeof(pc));
	pc.pc_url = p->p_cfg->cf_push_gateway_url;
	pc.pc_ca_file = p->p_cfg->cf_push_gateway_ca;
	pc.pc_max_conns = PUSH_CONNS;
	pc.pc_timeout = PUSH_TIMEOUT;
	if ((p->p_http = ph_new(p->p_w->w_loop, &pc, &err)) == NULL) {
		log_warnx("push gateway %s: %s", pc.pc_url, err);
		return (-1);
	}
	if ((p->p_commit = commit_new(p->p_w->w_loop, p->p_qs, p->p_shm,
	    NULL)) == NULL) {
		log_warn("%s: commit_new", __func__);
		return (-1);
	}
	return (0);
}

static int
push_init(struct worker *w)
{
	struct push	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s: calloc", __func__);
		return (-1);
	}
	p->p_w = w;
	p->p_cfg = w->w_cfg;
	p->p_shm = w->w_shm;
	p->p_format = p->p_cfg->cf_push_gateway_format ==
	    PUSH_FORMAT_GORUSH ? PF_GORUSH : PF_MATRIX;
	TAILQ_INIT(&p->p_jobs);
	w->w_ctx = p;
	if (push_open(p) == -1)
		return (-1);
	ev_timer_init(&p->p_tick, push_tick_cb, PUSH_TICK, PUSH_TICK);
	p->p_tick.data = p;
	ev_timer_start(w->w_loop, &p->p_tick);
	return (0);
}

/* Take no new job; the ones under way get their answer and their write
 * (at least once: an unanswered one stays in the outbox for the next
 * push worker). */
static void
push_drain(struct worker *w)
{
	struct push	*p = w->w_ctx;

	p->p_draining = 1;
	ev_timer_stop(w->w_loop, &p->p_tick);
	if (p->p_njobs == 0)
		worker_drained(w);
}

static void
push_free(struct worker *w)
{
	struct push	*p = w->w_ctx;
	struct push_job	*j;

	if (p == NULL)
		return;
	p->p_freeing = 1;
	ev_timer_stop(w->w_loop, &p->p_tick);
	ph_free(p->p_http);	/* no answer callback after this */
	commit_free(p->p_commit);	/* queued outcomes: push_written */
	while ((j = TAILQ_FIRST(&p->p_jobs)) != NULL) {
		TAILQ_REMOVE(&p->p_jobs, j, j_entry);
		free(j);
	}
	qs_close(p->p_qs);
	free(p);
	w->w_ctx = NULL;
}
