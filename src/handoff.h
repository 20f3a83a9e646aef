/*
 * handoff.h: doorbells from the workers that commit messages to the
 * WebSocket workers that hold the recipients' connections.
 *
 * The supervisor makes one SOCK_SEQPACKET socketpair per WS seat, for
 * every seat the row may have (MAX_WORKERS_PER_ROLE, so seats a reload
 * adds have theirs), before it forks anything and keeps both ends for its
 * whole life, so the pair
 * outlives any worker: doorbells sent while a WS worker restarts wait in
 * the socket for its successor.  Every worker inherits every send end; WS
 * worker i alone reads receive end i.  Both ends are non-blocking.
 *
 * A doorbell is only a wake-up (IPC_DOORBELL: a list of users with new
 * committed messages): LMDB is the truth.  A sender never blocks: when a
 * socket is full the record is dropped, counted, and the seat's resync
 * flag in shared memory is set, so that worker catches every connection
 * up from LMDB.  A doorbell is never sent while an LMDB write txn is
 * open.
 *
 * Early records (IPC_EARLY) are the one exception, by design: the device
 * copies a batch made, staged while its txn runs (ho_early_add) and sent
 * just before its commit (ho_early_flush), so that a connection already
 * at the end of its queue gets the message while the fsync runs.  The
 * send is MSG_DONTWAIT and a refused or dropped record is not retried
 * (the doorbell after the commit wakes the usual pull), so the writer
 * lock is never held waiting on a socket.  A record that would pass
 * HO_EARLY_MAX keeps the copies that fit; the others, like everything
 * for a connection that is behind, come from LMDB.  A message whose
 * commit then fails may have been seen by its recipient: at-least-once
 * allows that, and its id is never given to another message (see
 * qs_seq_floor).
 */

#ifndef HANDOFF_H
#define HANDOFF_H

#include <stdint.h>

#include "ipc.h"
#include "routingd.h"

/* The largest envelope an ephemeral hand-off record carries (bytes). */
#define HO_EPHEMERAL_MAX	(IPC_MAX_PAYLOAD - \
				    sizeof(struct ipc_ephemeral) - 2 * 255)

/* The most bytes of copies one early record stages per seat and batch. */
#define HO_EARLY_MAX		(32 * 1024)

struct shm;
struct presence;
struct handoff;
struct qs_copy;

/* The sockets of every WS seat, as the supervisor made them. */
struct handoff_fds {
	int	hf_n;				/* WS seats with a pair */
	int	hf_send[MAX_WORKERS_PER_ROLE];	/* -1: none */
	int	hf_recv[MAX_WORKERS_PER_ROLE];	/* -1: none (or closed) */
};

/*
 * ho_socketpairs: make n socketpairs into fds (supervisor, before fork).
 * Returns 0, or -1 with errno (fds then holds none).
 */
int		 ho_socketpairs(struct handoff_fds *fds, int n);

/*
 * ho_new: a sender for this process over the send ends in fds (borrowed,
 * not closed by ho_free), looking recipients up in pr (may be NULL: ring
 * every seat).  Returns NULL when out of memory.
 */
struct handoff	*ho_new(struct shm *sh, const struct presence *pr,
		    const struct handoff_fds *fds);

/* ho_free: drop what is pending and free h (NULL is accepted). */
void		 ho_free(struct handoff *h);

/*
 * ho_ring: note that user has new committed messages: appended to the
 * pending record of every WS seat the presence table names (a full record
 * is sent first).  Call after the commit, never inside a write txn.
 */
void		 ho_ring(struct handoff *h, const char *user);

/*
 * ho_ephemeral: hand the ephemeral message id (envelope JSON env, len
 * bytes) for user to every WS seat the presence table names, at once.
 * Returns the seats it went to (0: nobody online, or it did not fit or
 * a socket was full: dropped).
 */
int		 ho_ephemeral(struct handoff *h, const char *user,
		    const char *id, const char *env, size_t len);

/*
 * ho_flush: send the pending records, stamped with commit_us (monotonic us
 * of the commit, for the delivery latency histogram).  Never blocks; a
 * record the socket will not take is dropped and its seat flagged for a
 * resync.
 */
void		 ho_flush(struct handoff *h, uint64_t commit_us);

/*
 * ho_early_add: stage, for every WS seat the presence table names for
 * user, the n device copies (from qs_effects) of message seq (lane,
 * envelope JSON env of len bytes) in that seat's early record; a copy
 * that does not fit is left out (the seat's connections then pull it).
 * Call inside the write txn, between ho_early_mark and the op's end.
 */
void		 ho_early_add(struct handoff *h, const char *user, int lane,
		    uint64_t seq, const char *env, size_t len,
		    const struct qs_copy *copies, size_t n);

/* ho_early_mark: remember where the next op's copies begin. */
void		 ho_early_mark(struct handoff *h);

/* ho_early_undo: drop the copies staged since ho_early_mark (the op
 * failed and its sub-transaction was rolled back). */
void		 ho_early_undo(struct handoff *h);

/* ho_early_reset: drop every staged copy (the batch is aborted, or its
 * ids may not be shown before the commit). */
void		 ho_early_reset(struct handoff *h);

/*
 * ho_early_flush: send each seat's staged record, MSG_DONTWAIT, and
 * empty them.  Call just before committing the batch that made the
 * copies, and only if qs_batch_publishable.  Never blocks; a refused
 * record is dropped (the doorbell after the commit covers it).
 */
void		 ho_early_flush(struct handoff *h);

#endif /* HANDOFF_H */
