/*
 * commit.h: the group commit of a worker's writes to the store, used by
 * the API workers (api.c, api_routes.c) and the WS workers (ws.c,
 * ws_conn.c) alike, and by the modules that build their ops (msgrecv.c).
 *
 * A worker submits each write as an op; once per event-loop iteration
 * the ops queued meanwhile are applied in one LMDB write txn, one nested
 * sub-transaction per op (so a failing op rolls back alone), one fsync'd
 * commit, and only then is each op's o_done called.
 */

#ifndef COMMIT_H
#define COMMIT_H

#include <sys/queue.h>

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "qstore.h"

#define COMMIT_MAX_OPS		1000	/* ops per LMDB batch */
#define COMMIT_MAX_BYTES	(8 * 1024 * 1024) /* op bytes per batch */
#define COMMIT_DEFER_US		10000	/* us a deferrable op may wait */

struct commit;
struct handoff;
struct shm;

/*
 * One queued write.  The submitter embeds it in its own struct, sets
 * o_bytes (for the batch cap), o_apply (runs inside the op's own
 * sub-transaction and returns a QS_* result; it must do nothing but qs_
 * writes and reads, and may run more than once: see o_single) and o_done
 * (called once after the batch commit, with QS_OK or the failure; it
 * answers and frees the op).  o_single is set when o_apply makes exactly
 * one qs_ write call: such an op first runs straight in the batch txn,
 * without a sub-transaction, because a qs_ call that fails either wrote
 * nothing or poisoned the batch, and a poisoned batch is aborted and run
 * again with a sub-transaction per op.  o_defer is set for an op nobody
 * waits on (a WebSocket ack, a last-seen time: no answer goes out):
 * while only such ops are queued, the commit waits up to COMMIT_DEFER_US
 * for company, so a stream of single acks does not cost a commit each.
 */
struct commit_op {
	TAILQ_ENTRY(commit_op)	 o_entry;
	size_t			 o_bytes;
	int			 o_single;
	int			 o_defer;
	uint64_t		 o_t;		/* submitted, mono us */
	int			 o_result;
	int			 (*o_apply)(struct qstore *,
				    struct commit_op *);
	void			 (*o_done)(struct commit_op *, int result);
};

/*
 * commit_new: the group-commit queue of a worker on loop and qs (both
 * borrowed): an ev_prepare watcher commits what was queued during the
 * loop iteration.  Replays, commit and settle failures, settled and
 * expired copies and the commit latency and batch size histograms are
 * counted in sh.  ho (may be NULL) is flushed after each batch's
 * answers: o_done rings its doorbells with ho_ring, the commit sends
 * them once the txn is closed.  Returns NULL on allocation failure.
 */
struct commit	*commit_new(struct ev_loop *, struct qstore *, struct shm *,
		    struct handoff *);

/* commit_submit: queue op (owned by its o_done from now) for the next
 * batch. */
void		 commit_submit(struct commit *, struct commit_op *);

/*
 * commit_run: commit what is queued now (bounded per batch by
 * COMMIT_MAX_OPS and COMMIT_MAX_BYTES; the rest waits for the next
 * iteration), then call each op's o_done.  While only deferrable ops are
 * queued and the oldest has waited less than COMMIT_DEFER_US, it does
 * nothing but arm a timer for that deadline.  The prepare watcher calls
 * it; drain calls it once directly.
 */
void		 commit_run(struct commit *);

/*
 * commit_settle: move the store's arrival log into the device queues
 * (qs_settle) in a write txn of its own, never inside a batch of client
 * ops, so a failure (a full map) fails no op; it is counted, logged once
 * until a settle succeeds again, and retried later.  With force 0 only
 * when qs_settle_due says so.  Call it outside commit_run (a timer) or
 * let commit_run call it.
 */
void		 commit_settle(struct commit *, int force);

/* commit_pending: ops queued and not yet committed. */
size_t		 commit_pending(const struct commit *);

/* commit_free: fail every queued op (o_done with QS_ERR), stop the
 * watchers, free.  NULL is accepted. */
void		 commit_free(struct commit *);

#endif /* COMMIT_H */
