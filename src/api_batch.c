/*
 * api_batch.c: group commit for the API worker.
 *
 * Runs in each API worker.  Owns the queue of pending writes (sends,
 * acks, touches, device changes, expiry sweeps) and the ev_prepare
 * watcher that commits them: once per event-loop iteration, after every
 * callback of the iteration ran, one LMDB write txn (qs_batch_begin),
 * one nested sub-transaction per request (so a failing request rolls
 * back alone), one fsync'd commit; only then are the answers given.
 * Ops that make a single qs_ write (o_single) skip the sub-transaction
 * (LMDB mallocs ~3 MiB of page lists for each one and merges it at its
 * commit); if one of them poisons the batch, the batch is aborted and run
 * again with a sub-transaction per op.
 *
 * Invariants:
 * - No answer is written while the write txn is open: o_done runs after
 *   qs_batch_commit returned, for every op of the batch.
 * - An op is in exactly one place: the pending queue, the batch being
 *   run, or freed by its o_done.  Ops submitted from inside an o_done
 *   (a pipelined request dispatched by an answer) wait for the next
 *   iteration, and an ev_idle keeps the loop from blocking meanwhile.
 * - A batch is capped by count and bytes; the rest waits, same idle.
 * - The store's settle (moving the arrival log into device queues) runs
 *   in a txn of its own after the answers, never in a client batch.
 */

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>

#include "api.h"
#include "log.h"
#include "qstore.h"
#include "shm.h"

TAILQ_HEAD(apib_list, apib_op);

struct apib {
	struct ev_loop		*b_loop;
	struct qstore		*b_qs;
	struct shm		*b_shm;
	struct handoff		*b_ho;
	struct apib_list	 b_pending;
	size_t			 b_npending;
	ev_prepare		 b_prepare;
	ev_idle			 b_idle;
	ev_timer		 b_defer;	/* deferred ops' deadline */
	size_t			 b_nurgent;	/* pending ops not o_defer */
	int			 b_settle_failing;	/* logged once */
};

static void	apib_prepare_cb(struct ev_loop *, ev_prepare *, int);
static void	apib_idle_cb(struct ev_loop *, ev_idle *, int);
static void	apib_defer_cb(struct ev_loop *, ev_timer *, int);

/* apib_new: see api.h. */
struct apib *
apib_new(struct ev_loop *loop, struct qstore *qs, struct shm *sh,
    struct handoff *ho)
{
	struct apib	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (NULL);
	b->b_loop = loop;
	b->b_qs = qs;
	b->b_shm = sh;
	b->b_ho = ho;
	TAILQ_INIT(&b->b_pending);
	ev_prepare_init(&b->b_prepare, apib_prepare_cb);
	ev_idle_init(&b->b_idle, apib_idle_cb);
	ev_init(&b->b_defer, apib_defer_cb);
	b->b_prepare.data = b->b_idle.data = b->b_defer.data = b;
	ev_prepare_start(loop, &b->b_prepare);
	return (b);
}

/* apib_submit: see api.h. */
void
apib_submit(struct apib *b, struct apib_op *op)
{
	op->o_result = QS_OK;
	op->o_t = util_mono_us();
	TAILQ_INSERT_TAIL(&b->b_pending, op, o_entry);
	b->b_npending++;
	if (!op->o_defer)
		b->b_nurgent++;
}

/* apib_pending: see api.h. */
size_t
apib_pending(const struct apib *b)
{
	return (b->b_npending);
}

/* Move up to the caps' worth of pending ops to list. */
static size_t
apib_take(struct apib *b, struct apib_list *list)
{
	struct apib_op	*op;
	size_t		 n = 0, bytes = 0;

	while ((op = TAILQ_FIRST(&b->b_pending)) != NULL) {
		if (n > 0 && (n >= API_BATCH_MAX_OPS ||
		    bytes + op->o_bytes > API_BATCH_MAX_BYTES))
			break;
		TAILQ_REMOVE(&b->b_pending, op, o_entry);
		b->b_npending--;
		if (!op->o_defer)
			b->b_nurgent--;
		TAILQ_INSERT_TAIL(list, op, o_entry);
		bytes += op->o_bytes;
		n++;
	}
	return (n);
}

/* Apply one op, in its own sub-transaction unless fast and o_single;
 * remember its result. */
static void
apib_apply(struct apib *b, struct apib_op *op, int fast)
{
	int	 r;

	if (fast && op->o_single) {
		op->o_result = op->o_apply(b->b_qs, op);
		return;
	}
	if ((r = qs_sub_begin(b->b_qs)) == QS_OK) {
		r = op->o_apply(b->b_qs, op);
		if (r == QS_OK)
			r = qs_sub_commit(b->b_qs);
		else
			qs_sub_abort(b->b_qs);
	}
	op->o_result = r;
}

/* Open, fill and commit one batch; QS_OK or the commit's failure. */
static int
apib_commit(struct apib *b, struct apib_list *list, size_t n)
{
	struct apib_op	*op;
	uint64_t	 t0;
	int		 r, fast;

	for (fast = 1;; fast = 0) {
		if ((r = qs_batch_begin(b->b_qs)) != QS_OK)
			return (r);
		TAILQ_FOREACH(op, list, o_entry) {
			apib_apply(b, op, fast);
			if (fast && qs_batch_failed(b->b_qs) != QS_OK)
				break;
		}
		if (!fast || qs_batch_failed(b->b_qs) == QS_OK)
			break;
		qs_batch_abort(b->b_qs);	/* again, one sub per op */
		atomic_fetch_add_explicit(&b->b_shm->sh_api.sa_batch_replays,
		    1, memory_order_relaxed);
	}
	t0 = util_mono_us();
	r = qs_batch_commit(b->b_qs);
	metrics_observe(b->b_shm, SHM_H_COMMIT, util_mono_us() - t0);
	metrics_observe(b->b_shm, SHM_H_BATCH, n);
	return (r);
}

/*
 * 1 if only deferrable ops are queued and the oldest may still wait: the
 * defer timer is then armed for its deadline.
 */
static int
apib_wait(struct apib *b)
{
	struct apib_op	*op = TAILQ_FIRST(&b->b_pending);
	uint64_t	 now = util_mono_us();

	if (op == NULL || b->b_nurgent > 0 || now - op->o_t >= APIB_DEFER_US)
		return (0);
	if (!ev_is_active(&b->b_defer)) {
		ev_timer_set(&b->b_defer,
		    (double)(op->o_t + APIB_DEFER_US - now) / 1e6, 0);
		ev_timer_start(b->b_loop, &b->b_defer);
	}
	ev_idle_stop(b->b_loop, &b->b_idle);
	return (1);
}

/* apib_run: see api.h. */
void
apib_run(struct apib *b)
{
	struct apib_list	 list;
	struct apib_op		*op;
	uint64_t		 commit_us;
	size_t			 n;
	int			 r;

	TAILQ_INIT(&list);
	if (apib_wait(b))
		return;
	ev_timer_stop(b->b_loop, &b->b_defer);
	if ((n = apib_take(b, &list)) > 0) {
		r = apib_commit(b, &list, n);
		commit_us = util_mono_us();
		ev_now_update(b->b_loop);	/* the fsync took a while */
		if (r != QS_OK) {
			atomic_fetch_add_explicit(
			    &b->b_shm->sh_api.sa_commit_failures, 1,
			    memory_order_relaxed);
			TAILQ_FOREACH(op, &list, o_entry)
				op->o_result = r;
		}
		/* the txn is closed: answers may go out now */
		while ((op = TAILQ_FIRST(&list)) != NULL) {
			TAILQ_REMOVE(&list, op, o_entry);
			op->o_done(op, op->o_result);
		}
		ho_flush(b->b_ho, commit_us);	/* doorbells rung by o_done */
		apib_settle(b, 0);
	}
	if (b->b_npending > 0)
		ev_idle_start(b->b_loop, &b->b_idle);
	else
		ev_idle_stop(b->b_loop, &b->b_idle);
}

/* apib_settle: see api.h. */
void
apib_settle(struct apib *b, int force)
{
	size_t	 moved = 0, expired = 0;
	int	 r;

	if (!force && !qs_settle_due(b->b_qs))
		return;
	if ((r = qs_batch_begin(b->b_qs)) == QS_OK) {
		if ((r = qs_settle(b->b_qs, util_real_ms(), force, &moved,
		    &expired)) == QS_OK)
			r = qs_batch_commit(b->b_qs);
		else
			qs_batch_abort(b->b_qs);
	}
	ev_now_update(b->b_loop);
	if (r != QS_OK) {
		atomic_fetch_add_explicit(&b->b_shm->sh_api.sa_settle_failures,
		    1, memory_order_relaxed);
		if (!b->b_settle_failing)
			log_warnx("settling the arrival log failed: %s (%s); "
			    "retrying", qs_strerror(r), qs_lasterr(b->b_qs));
		b->b_settle_failing = 1;
		return;
	}
	b->b_settle_failing = 0;
	atomic_fetch_add_explicit(&b->b_shm->sh_api.sa_settled, moved,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&b->b_shm->sh_api.sa_expired, expired,
	    memory_order_relaxed);
}

static void
apib_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	apib_run(w->data);
}

/* The oldest deferred op waited long enough: commit now. */
static void
apib_defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	apib_run(w->data);
}

/* Only there to keep the loop from blocking; prepare does the work. */
static void
apib_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
}

/* apib_free: see api.h. */
void
apib_free(struct apib *b)
{
	struct apib_op	*op;

	if (b == NULL)
		return;
	ev_prepare_stop(b->b_loop, &b->b_prepare);
	ev_idle_stop(b->b_loop, &b->b_idle);
	ev_timer_stop(b->b_loop, &b->b_defer);
	while ((op = TAILQ_FIRST(&b->b_pending)) != NULL) {
		TAILQ_REMOVE(&b->b_pending, op, o_entry);
		b->b_npending--;
		op->o_done(op, QS_ERR);
	}
	free(b);
}
