/*
 * commit.c: the group commit of a worker's writes (see commit.h).
 *
 * Runs in each API worker and each WS worker.  Owns the queue of pending
 * writes (sends, acks, device admissions and last-seen times, device
 * changes, expiry and idle-device sweeps) and the ev_prepare watcher that
 * commits them: once per event-loop iteration, after every callback of
 * the iteration ran, one LMDB write txn (qs_batch_begin), one nested
 * sub-transaction per op (so a failing op rolls back alone), one fsync'd
 * commit; only then are the answers given.  Ops that make a single qs_
 * write (o_single) skip the sub-transaction (LMDB mallocs ~3 MiB of page
 * lists for each one and merges it at its commit); if one of them poisons
 * the batch, the batch is aborted and run again with a sub-transaction
 * per op.
 *
 * Invariants:
 * - No answer is written while the write txn is open: o_done runs after
 *   qs_batch_commit returned, for every op of the batch.
 * - The one thing sent while it is open is the batch's early record
 *   (handoff.h: the device copies of the ops that succeeded, MSG_DONTWAIT,
 *   just before the commit), and only if qs_batch_publishable says its
 *   ids will never name another message.
 * - An op is in exactly one place: the pending queue, the batch being
 *   run, or freed by its o_done.  Ops submitted from inside an o_done
 *   (a pipelined request dispatched by an answer) wait for the next
 *   iteration, and an ev_idle keeps the loop from blocking meanwhile.
 * - A batch is capped by count and bytes; the rest waits, same idle.
 * - The store's settle (moving the arrival log into device queues) runs
 *   in a txn of its own after the answers, never in a client batch.
 * - An op (or a settle) the full map refused is run once more, in a
 *   batch of its own, when qs_reclaim says that may now fit; the rest of
 *   their batch is answered first, before the reclaim and the retry
 *   commit, and they after.
 */

#include <sys/queue.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "commit.h"
#include "handoff.h"
#include "log.h"
#include "metrics.h"
#include "qstore.h"
#include "routingd.h"
#include "shm.h"

TAILQ_HEAD(commit_list, commit_op);

struct commit {
	struct ev_loop		*cm_loop;
	struct qstore		*cm_qs;
	struct shm		*cm_shm;
	struct handoff		*cm_ho;
	struct commit_list	 cm_pending;
	size_t			 cm_npending;
	ev_prepare		 cm_prepare;
	ev_idle			 cm_idle;
	ev_timer		 cm_defer;	/* deferred ops' deadline */
	size_t			 cm_nurgent;	/* pending ops not o_defer */
	int			 cm_settle_failing;	/* logged once */
};

static void	commit_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	commit_idle_cb(struct ev_loop *, ev_idle *, int);
static void	commit_defer_cb(struct ev_loop *, ev_timer *, int);

/* commit_new: see commit.h. */
struct commit *
commit_new(struct ev_loop *loop, struct qstore *qs, struct shm *sh,
    struct handoff *ho)
{
	struct commit	*cm;

	if ((cm = calloc(1, sizeof(*cm))) == NULL)
		return (NULL);
	cm->cm_loop = loop;
	cm->cm_qs = qs;
	cm->cm_shm = sh;
	cm->cm_ho = ho;
	TAILQ_INIT(&cm->cm_pending);
	ev_prepare_init(&cm->cm_prepare, commit_prepare_cb);
	ev_idle_init(&cm->cm_idle, commit_idle_cb);
	ev_init(&cm->cm_defer, commit_defer_cb);
	cm->cm_prepare.data = cm->cm_idle.data = cm->cm_defer.data = cm;
	ev_prepare_start(loop, &cm->cm_prepare);
	return (cm);
}

/* commit_submit: see commit.h. */
void
commit_submit(struct commit *cm, struct commit_op *op)
{
	op->o_result = QS_OK;
	op->o_t = util_mono_us();
	TAILQ_INSERT_TAIL(&cm->cm_pending, op, o_entry);
	cm->cm_npending++;
	if (!op->o_defer)
		cm->cm_nurgent++;
}

/* commit_pending: see commit.h. */
size_t
commit_pending(const struct commit *cm)
{
	return (cm->cm_npending);
}

/* Move up to the caps' worth of pending ops to list. */
static size_t
commit_take(struct commit *cm, struct commit_list *list)
{
	struct commit_op	*op;
	size_t			 n = 0, bytes = 0;

	while ((op = TAILQ_FIRST(&cm->cm_pending)) != NULL) {
		if (n > 0 && (n >= COMMIT_MAX_OPS ||
		    bytes + op->o_bytes > COMMIT_MAX_BYTES))
			break;
		TAILQ_REMOVE(&cm->cm_pending, op, o_entry);
		cm->cm_npending--;
		if (!op->o_defer)
			cm->cm_nurgent--;
		TAILQ_INSERT_TAIL(list, op, o_entry);
		bytes += op->o_bytes;
		n++;
	}
	return (n);
}

/*
 * Apply one op, in its own sub-transaction unless fast and o_single;
 * remember its result.  The early copies it staged are dropped if it
 * failed (a failed fast op wrote nothing or poisoned the batch, which is
 * then replayed from a reset).
 */
static void
commit_apply(struct commit *cm, struct commit_op *op, int fast)
{
	int	 r;

	ho_early_mark(cm->cm_ho);
	if (fast && op->o_single)
		r = op->o_apply(cm->cm_qs, op);
	else if ((r = qs_sub_begin(cm->cm_qs)) == QS_OK) {
		r = op->o_apply(cm->cm_qs, op);
		if (r == QS_OK)
			r = qs_sub_commit(cm->cm_qs);
		else
			qs_sub_abort(cm->cm_qs);
	}
	if (r != QS_OK)
		ho_early_undo(cm->cm_ho);
	op->o_result = r;
}

/* Open, fill and commit one batch; QS_OK or the commit's failure. */
static int
commit_batch(struct commit *cm, struct commit_list *list, size_t n)
{
	struct commit_op	*op;
	uint64_t		 t0;
	int			 r, fast;

	for (fast = 1;; fast = 0) {
		ho_early_reset(cm->cm_ho);
		if ((r = qs_batch_begin(cm->cm_qs)) != QS_OK)
			return (r);
		TAILQ_FOREACH(op, list, o_entry) {
			commit_apply(cm, op, fast);
			if (fast && qs_batch_failed(cm->cm_qs) != QS_OK)
				break;
		}
		if (!fast || qs_batch_failed(cm->cm_qs) == QS_OK)
			break;
		qs_batch_abort(cm->cm_qs);	/* again, one sub per op */
		atomic_fetch_add_explicit(&cm->cm_shm->sh_api.sa_batch_replays,
		    1, memory_order_relaxed);
	}
	/* the copies go out while the commit runs, if their ids may */
	if (qs_batch_publishable(cm->cm_qs) &&
	    qs_batch_failed(cm->cm_qs) == QS_OK)
		ho_early_flush(cm->cm_ho);
	else
		ho_early_reset(cm->cm_ho);
	t0 = util_mono_us();
	r = qs_batch_commit(cm->cm_qs);
	metrics_observe(cm->cm_shm, SHM_H_COMMIT, util_mono_us() - t0);
	metrics_observe(cm->cm_shm, SHM_H_BATCH, n);
	return (r);
}

/* The batch of list failed with r: every op of it did. */
static void
commit_failed(struct commit *cm, struct commit_list *list, int r)
{
	struct commit_op	*op;

	atomic_fetch_add_explicit(&cm->cm_shm->sh_api.sa_commit_failures, 1,
	    memory_order_relaxed);
	TAILQ_FOREACH(op, list, o_entry)
		op->o_result = r;
}

/*
 * The ops of list that the full map refused get one more batch if
 * qs_reclaim made the space freed by the latest commits usable (see
 * qs_reclaim: without it, what a big ack freed stays out of reach until
 * some other write commits).  They stay in list, at its end.
 */
static void
commit_reclaim(struct commit *cm, struct commit_list *list)
{
	struct commit_list	 again;
	struct commit_op	*op, *next;
	size_t			 n = 0;
	int			 r;

	TAILQ_INIT(&again);
	TAILQ_FOREACH(op, list, o_entry)
		if (op->o_result == QS_MAPFULL)
			n++;
	if (n == 0 || qs_reclaim(cm->cm_qs) != QS_OK)
		return;
	for (op = TAILQ_FIRST(list); op != NULL; op = next) {
		next = TAILQ_NEXT(op, o_entry);
		if (op->o_result != QS_MAPFULL)
			continue;
		TAILQ_REMOVE(list, op, o_entry);
		op->o_result = QS_OK;
		TAILQ_INSERT_TAIL(&again, op, o_entry);
	}
	if ((r = commit_batch(cm, &again, n)) != QS_OK)
		commit_failed(cm, &again, r);
	TAILQ_CONCAT(list, &again, o_entry);
}

/*
 * 1 if only deferrable ops are queued and the oldest may still wait: the
 * defer timer is then armed for its deadline.
 */
static int
commit_wait(struct commit *cm)
{
	struct commit_op	*op = TAILQ_FIRST(&cm->cm_pending);
	uint64_t		 now = util_mono_us();

	if (op == NULL || cm->cm_nurgent > 0 ||
	    now - op->o_t >= COMMIT_DEFER_US)
		return (0);
	if (!ev_is_active(&cm->cm_defer)) {
		ev_timer_set(&cm->cm_defer,
		    (double)(op->o_t + COMMIT_DEFER_US - now) / 1e6, 0);
		ev_timer_start(cm->cm_loop, &cm->cm_defer);
	}
	ev_idle_stop(cm->cm_loop, &cm->cm_idle);
	return (1);
}

/*
 * The txn is closed: answer the ops of list (all, or with but_mapfull
 * those the full map did not refuse, which stay in list for a retry),
 * then flush the doorbells their o_done rang.
 */
static void
commit_answer(struct commit *cm, struct commit_list *list, int but_mapfull)
{
	struct commit_op	*op, *next;
	uint64_t		 commit_us = util_mono_us();

	ev_now_update(cm->cm_loop);	/* the fsync took a while */
	for (op = TAILQ_FIRST(list); op != NULL; op = next) {
		next = TAILQ_NEXT(op, o_entry);
		if (but_mapfull && op->o_result == QS_MAPFULL)
			continue;
		TAILQ_REMOVE(list, op, o_entry);
		op->o_done(op, op->o_result);
	}
	ho_flush(cm->cm_ho, commit_us);
}

/* commit_run: see commit.h. */
void
commit_run(struct commit *cm)
{
	struct commit_list	 list;
	size_t			 n;
	int			 r;

	TAILQ_INIT(&list);
	if (commit_wait(cm))
		return;
	ev_timer_stop(cm->cm_loop, &cm->cm_defer);
	if ((n = commit_take(cm, &list)) > 0) {
		r = commit_batch(cm, &list, n);
		if (r != QS_OK)
			commit_failed(cm, &list, r);
		/* what is on disk is answered before a full map's retry */
		commit_answer(cm, &list, 1);
		commit_reclaim(cm, &list);
		commit_answer(cm, &list, 0);
		commit_settle(cm, 0);
	}
	if (cm->cm_npending > 0)
		ev_idle_start(cm->cm_loop, &cm->cm_idle);
	else
		ev_idle_stop(cm->cm_loop, &cm->cm_idle);
}

/* One settle in a batch of its own: its result. */
static int
commit_settle_once(struct commit *cm, int force, size_t *moved,
    size_t *expired)
{
	int	 r;

	if ((r = qs_batch_begin(cm->cm_qs)) != QS_OK)
		return (r);
	if ((r = qs_settle(cm->cm_qs, util_real_ms(), force, moved,
	    expired)) == QS_OK)
		return (qs_batch_commit(cm->cm_qs));
	qs_batch_abort(cm->cm_qs);
	return (r);
}

/* commit_settle: see commit.h. */
void
commit_settle(struct commit *cm, int force)
{
	size_t	 moved = 0, expired = 0;
	int	 r;

	if (!force && !qs_settle_due(cm->cm_qs))
		return;
	if ((r = commit_settle_once(cm, force, &moved, &expired)) ==
	    QS_MAPFULL && qs_reclaim(cm->cm_qs) == QS_OK)
		r = commit_settle_once(cm, force, &moved, &expired);
	ev_now_update(cm->cm_loop);
	if (r != QS_OK) {
		atomic_fetch_add_explicit(
		    &cm->cm_shm->sh_api.sa_settle_failures, 1,
		    memory_order_relaxed);
		if (!cm->cm_settle_failing)
			log_warnx("settling the arrival log failed: %s (%s); "
			    "retrying", qs_strerror(r), qs_lasterr(cm->cm_qs));
		cm->cm_settle_failing = 1;
		return;
	}
	cm->cm_settle_failing = 0;
	atomic_fetch_add_explicit(&cm->cm_shm->sh_api.sa_settled, moved,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&cm->cm_shm->sh_api.sa_expired, expired,
	    memory_order_relaxed);
}

static void
commit_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	commit_run(w->data);
}

/* The oldest deferred op waited long enough: commit now. */
static void
commit_defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	commit_run(w->data);
}

/* Only there to keep the loop from blocking; prepare does the work. */
static void
commit_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
}

/* commit_free: see commit.h. */
void
commit_free(struct commit *cm)
{
	struct commit_op	*op;

	if (cm == NULL)
		return;
	ev_prepare_stop(cm->cm_loop, &cm->cm_prepare);
	ev_idle_stop(cm->cm_loop, &cm->cm_idle);
	ev_timer_stop(cm->cm_loop, &cm->cm_defer);
	while ((op = TAILQ_FIRST(&cm->cm_pending)) != NULL) {
		TAILQ_REMOVE(&cm->cm_pending, op, o_entry);
		cm->cm_npending--;
		op->o_done(op, QS_ERR);
	}
	free(cm);
}
