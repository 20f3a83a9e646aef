/*
 * qstore.h: the durable per-device message queue on LMDB.
 *
 * Every worker (API and WS) calls qs_open() AFTER fork and gets its own
 * handle; all of them share the files under data_dir.  (Before the
 * supervisor starts, a short-lived child of it opens and closes the store
 * once, to refuse a store this build cannot use: routingd.c.)  Writes are grouped
 * by the caller: one batch (one LMDB write txn, one fsync'd commit) per
 * event-loop iteration, and inside it one sub-transaction per client
 * request, so a failing request rolls back alone.  Reads are short read
 * txns that never outlive the call.  The module never logs and never
 * exits: every function returns an enum qs_result, and qs_lasterr() tells
 * the caller (who logs once) what exactly failed.
 *
 * User and device ids follow ids.h; anything else is QS_BADID.  Message
 * ids are opaque strings of fewer than QS_MSGID_SIZE bytes made by this
 * module; all copies of one message (one per device of the recipient)
 * share the same id.
 *
 * The device model.  A message is queued for every known device of its
 * recipient.  A device becomes known when it is admitted (qs_touch,
 * qs_push_register) and is forgotten only by qs_device_delete or
 * qs_forget_idle.  A message for a user with no known device is held for
 * the user (a queue that is no device and is never listed); each device
 * that becomes known adopts a copy of every unexpired held message, with
 * the same ids, ahead of anything newer; held messages stay until they
 * expire.  A device queue at queue_max loses its oldest message for each
 * new one and counts the loss in a drop marker (see qs_fetch_after); only
 * the held queue refuses a message when full (QS_FULL).
 *
 * The push outbox.  A device with a push target (qs_push_register) has
 * at most one push job, a durable record written in the same txn as the
 * message or disconnect that makes it pending, so no commit loses a push
 * and no push is ever due for a message that was not committed.  A push
 * worker reads the due jobs (qs_push_due), sends outside any txn and
 * records each outcome in a batch (qs_push_done).  A job is pending (the
 * device is to be told) or idle (it only remembers when the last push
 * went, to space the next one by the coalescing interval).
 */

#ifndef QSTORE_H
#define QSTORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"

#define QS_MSGID_SIZE		32	/* bytes of a message id buffer */
#define QS_PLATFORM_MAX		32	/* bytes of a push platform name */
#define QS_APPID_MAX		128	/* bytes of a push app id */
#define QS_TOKEN_MAX		4096	/* bytes of a push token */
#define QS_ENVELOPE_MAX		(16 * 1024 * 1024)	/* bytes per message */
#define QS_LANE_HIGH		0	/* lanes in delivery order */
#define QS_LANE_NORMAL		1
#define QS_NLANES		2
#define QS_SEQ_JUMP		(1ULL << 32)	/* seqs skipped per run */
#define QS_DEFAULT_MAPSIZE	(8ULL * 1024 * 1024 * 1024)	/* bytes */
#define QS_MAXREADERS		512	/* reader slots (1st opener fixes) */
#define QS_MAXDBS		12	/* named databases (per open env) */
#define QS_SCHEMA_VERSION	5	/* on-disk schema written and read */
#define QS_TOUCH_INTERVAL_MS	60000	/* ms: last-seen write granularity */
#define QS_SETTLE_AT		8192	/* log entries that make a settle due */

enum qs_result {
	QS_OK = 0,
	QS_NOTFOUND,		/* no such user, device or message */
	QS_FULL,		/* the held queue of a user is at queue_max */
	QS_MAPFULL,		/* LMDB map full: abort, answer 503, alarm */
	QS_TXNFULL,		/* too many dirty pages: batch too large */
	QS_READERSFULL,		/* no reader slot even after a reader check */
	QS_BADID,		/* a user or device id breaks the id rules */
	QS_INVAL,		/* another argument out of range */
	QS_CORRUPT,		/* a record this version cannot read */
	QS_SCHEMA,		/* the env has a newer or unknown schema */
	QS_ERR,			/* misuse, I/O, fork...: see lasterr */
	QS_NOSPACE		/* the disk is full (ENOSPC, EDQUOT): 503 */
};

struct qstore;			/* one handle per process, opaque */

/*
 * A streaming position in one device queue: the sequence number of the last
 * message passed, per lane (0: none yet).  Because sequence numbers only
 * grow, a message enqueued later always lies after the position of its
 * lane, even a high-lane message arriving after the stream moved on to the
 * normal lane.  Zero it (or use qs_cursor_init) to start at the beginning.
 */
struct qs_cursor {
	uint64_t	 qc_last[QS_NLANES];
	/* set by every qs_fetch_after from the queue record it reads: */
	uint32_t	 qc_count;		/* messages queued */
	uint32_t	 qc_dropped;		/* drop marker (0: none) */
	uint64_t	 qc_seen_ms;		/* last-seen time */
};

/*
 * One device copy a qs_enqueue made, for early delivery (see
 * qs_seq_floor): the device, what its queue held before the copy (the
 * newest seq per lane that may still be in it, 0: none) and its drop
 * marker after it.  A reader whose cursor is at or past every cp_prev has
 * had every message of the queue, so the copy is its next one.
 */
struct qs_copy {
	char		 cp_device[ID_MAX + 1];
	uint64_t	 cp_prev[QS_NLANES];
	uint32_t	 cp_dropped;
};

/* What the last write call on a handle did (qs_effects). */
struct qs_effects {
	int		 ef_held;	/* qs_enqueue: held (user had no device) */
	size_t		 ef_overflow;	/* qs_enqueue: copies dropped from
					   full device queues */
	int		 ef_created;	/* a device became known */
	size_t		 ef_adopted;	/* held copies it adopted */
	uint64_t	 ef_seq;	/* qs_enqueue: the message's seq */
	int		 ef_lane;	/* qs_enqueue: its lane */
	const struct qs_copy *ef_copies; /* qs_enqueue: its device copies
					   (owned by the handle, valid until
					   its next write call) */
	size_t		 ef_ncopies;
};

/* Called by qs_forget_idle for an idle device, inside the write txn (no
 * I/O, no qs_ call): nonzero keeps it (it is connected right now). */
typedef int (*qs_keep_cb)(void *arg, const char *user, const char *device);

/* One known device, as given to a qs_device_cb.  Strings are
 * NUL-terminated copies valid only during the callback. */
struct qs_device {
	const char	*qd_device;
	uint32_t	 qd_count;		/* queued messages */
	uint64_t	 qd_bytes;		/* envelope bytes queued */
	uint64_t	 qd_created_ms;
	uint64_t	 qd_last_seen_ms;
	int		 qd_has_push;		/* the fields below are set */
	const char	*qd_platform;
	const char	*qd_token;
	const char	*qd_app_id;
	uint64_t	 qd_registered_ms;
};

struct qs_stats {
	uint64_t	 st_messages;		/* settled message copies */
	uint64_t	 st_queues;		/* known devices */
	uint64_t	 st_held;		/* users with a held queue */
	uint64_t	 st_log;		/* messages not yet settled */
	uint64_t	 st_push;		/* push registrations */
	uint64_t	 st_expiry;		/* lanes in the expiry index */
	uint64_t	 st_outbox;		/* pending push jobs */
	uint64_t	 st_outbox_oldest_ms;	/* pj_since_ms of the oldest
						   pending job (0: none) */
	uint64_t	 st_outbox_dropped;	/* jobs given up (QS_PUSH_DROP)
						   since the store was made */
	uint64_t	 st_map_size;		/* bytes mapped */
	uint64_t	 st_map_used;		/* bytes to the last page */
	uint64_t	 st_last_txnid;
	uint32_t	 st_page_size;		/* bytes */
	uint32_t	 st_readers;		/* reader slots ever used */
	uint32_t	 st_max_readers;
};

/*
 * One due push job, as qs_push_due hands it to a qs_push_cb.  Strings are
 * NUL-terminated copies valid only during the callback.
 */
struct qs_push_job {
	const char	*pj_user;
	const char	*pj_device;
	const char	*pj_platform;
	const char	*pj_app_id;
	const char	*pj_token;
	uint32_t	 pj_unread;	/* messages queued for the device now */
	uint32_t	 pj_gen;	/* pass back to qs_push_done */
	uint32_t	 pj_attempts;	/* sends tried and failed so far */
	int		 pj_high;	/* a message of priority >= PRIO_HIGH
					   came since the device was last
					   told */
	uint64_t	 pj_since_ms;	/* the oldest unannounced message came
					   (see qs_push_done) */
	uint64_t	 pj_due_ms;
};

/* Called once per due job inside the read txn: copy what is needed;
 * nonzero stops the walk.  It must not call any qs_ function. */
typedef int (*qs_push_cb)(void *arg, const struct qs_push_job *job);

/* What became of a push job (qs_push_done). */
enum qs_push_outcome {
	QS_PUSH_SENT,		/* the gateway took it */
	QS_PUSH_SKIP,		/* not needed (device online, nothing unread) */
	QS_PUSH_RETRY,		/* try again at retry_at_ms */
	QS_PUSH_DROP		/* give up (too old, or a permanent gateway
				   error) */
};

/*
 * Called once per message, inside the read txn: id is a NUL-terminated
 * message id, data/len the envelope bytes, which point into the map and
 * must be copied before returning.  Return 0 to go on; anything else stops
 * the walk (that message is not counted as passed).  It must not call any
 * qs_ function.
 */
typedef int (*qs_msg_cb)(void *arg, const char *id, int priority,
    uint64_t enqueued_ms, const void *data, size_t len);

/* Called once per known device (see struct qs_device); same rules as
 * qs_msg_cb. */
typedef int (*qs_device_cb)(void *arg, const struct qs_device *dev);

/* ---- Life cycle -------------------------------------------------- *
 * A handle belongs to one thread of one process.  Between calls it keeps
 * one reset read txn, i.e. one of the QS_MAXREADERS reader slots (which
 * pins no pages).
 */

/*
 * qs_open: open (creating if needed) the store in directory dir, which is
 * created with mode 0700 when missing.  Must be called AFTER fork, in the
 * process that will use the handle.  mapsize is the map size in bytes (0:
 * QS_DEFAULT_MAPSIZE); every process must pass the same value.  Retries a
 * few times when another process is opening or closing at the same
 * instant, clears stale reader slots, creates the databases and the schema
 * record on first open and refuses an env with a newer or unknown schema.
 * Should LMDB later give up on the env (MDB_PANIC: it failed to write a
 * meta page, e.g. ENOSPC on a copy-on-write filesystem), the handle
 * closes and opens it again at its next txn, by itself.
 * Returns a handle (free with qs_close) or NULL with *errstr (if errstr is
 * not NULL) set to a reason in a static buffer, valid until the next
 * qs_open or qs_backup call.
 */
struct qstore	*qs_open(const char *dir, uint64_t mapsize,
		    const char **errstr);

/*
 * qs_close: abort any open batch, release the handle and the env.  In a
 * process other than the one that opened it (a forked child) only the
 * handle's memory is freed: closing the inherited env would free the
 * opener's reader slots in the shared lock file, and closing its
 * descriptors would drop the fcntl locks of the child's own env.  NULL is
 * accepted.
 */
void		 qs_close(struct qstore *);

/*
 * qs_reader_check: clear reader slots left by dead processes (for an
 * ev_timer every 30-60 s; qs_open already ran it).  *cleared (may be NULL)
 * gets the number of slots freed.  QS_OK or QS_ERR.
 */
int		 qs_reader_check(struct qstore *, int *cleared);

/*
 * qs_reclaim: after a write failed with QS_MAPFULL, make the space that
 * the latest commits freed usable by the next batch.  LMDB reuses the
 * pages freed by a commit only from the second write txn after it on, and
 * a batch that failed commits nothing, so without this the pages of the
 * last big ack stay out of reach until an unrelated write commits.
 * Clears the reader slots of dead processes (a stale reader pins every
 * page freed after its snapshot), then commits one small write txn
 * (meta "reclaimed", durably, like a batch) unless no slot was cleared
 * and the newest commit in the env is already a reclaim, by any process.
 * No batch may be open.  QS_OK when the caller should try its
 * writes again; QS_NOTFOUND when nothing changed since the last reclaim
 * (a retry would fail the same way); QS_MAPFULL when even the small
 * write does not fit; QS_ERR, QS_CORRUPT or another result from LMDB.
 */
int		 qs_reclaim(struct qstore *);

/* qs_strerror: a static text for a result code. */
const char	*qs_strerror(int result);

/* qs_lasterr: a text naming the last failure of this handle (the LMDB
 * call and its error), valid until the next call on the handle. */
const char	*qs_lasterr(const struct qstore *);

/* ---- Batches (group commit) -------------------------------------- */

/*
 * qs_batch_begin: open the batch (one write txn; it takes the env-wide
 * write lock until commit or abort, so open it just before the first write
 * of an iteration and commit it in ev_prepare).  Never do other I/O while
 * it is open (commit.c's one exception, the early record, is a single
 * non-blocking send just before the commit).  QS_ERR if a batch is already open; QS_MAPFULL,
 * QS_READERSFULL or QS_ERR from LMDB.
 */
int		 qs_batch_begin(struct qstore *);

/*
 * qs_batch_commit: commit the batch durably (fsync'd data and meta page;
 * the meta page's flush runs after LMDB's writer lock is released, so
 * other processes commit meanwhile).  Only after QS_OK may the caller
 * answer 202/204 for the requests in it.
 * A sub-transaction still open is aborted first.  If an operation poisoned
 * the batch (see qs_sub_commit), nothing is committed and its error is
 * returned.  The batch is closed whatever the result.  QS_OK, QS_MAPFULL,
 * QS_NOSPACE (the filesystem refused to grow the data file: nothing was
 * committed, the store is as before), QS_TXNFULL or QS_ERR (the requests
 * of the batch all failed).
 */
int		 qs_batch_commit(struct qstore *);

/*
 * qs_seq_floor: share the message sequence counter's high-water mark with
 * the other writers of this run (hw and jumped in shared memory, zero
 * when the run starts; NULL, NULL: off, the default).  With it a message
 * seq is never drawn twice in a run, even when the txn that drew it was
 * rolled back or its process died, so an id handed out before its commit
 * (early delivery) names only that message.  The first seq drawn in a run
 * jumps QS_SEQ_JUMP past the stored counter, so ids handed out by an
 * earlier run that crashed before their commit are not drawn again
 * either; *jumped becomes 1 once a commit made that jump durable.
 */
void		 qs_seq_floor(struct qstore *, _Atomic uint64_t *hw,
		    _Atomic uint32_t *jumped);

/*
 * qs_batch_publishable: 1 if the ids drawn in the open batch may be
 * shown before its commit (qs_seq_floor is set, this run's jump is
 * durable and the high-water mark is within QS_SEQ_JUMP / 2 of the
 * stored counter), else 0.
 */
int		 qs_batch_publishable(const struct qstore *);

/* qs_batch_abort: drop the batch and everything in it; no-op without. */
void		 qs_batch_abort(struct qstore *);

/* qs_batch_failed: QS_OK, or the failure that poisoned the open batch (a
 * write outside a sub failed after it may have written): qs_batch_commit
 * would return it.  QS_OK without a batch. */
int		 qs_batch_failed(const struct qstore *);

/* qs_batch_active: 1 while a batch is open, else 0. */
int		 qs_batch_active(const struct qstore *);

/*
 * qs_batch_size: what the open batch has written so far, to cap it: *ops
 * (may be NULL) puts and deletes, *bytes (may be NULL) key and value bytes
 * put.  Work rolled back by qs_sub_abort is not counted.  Zero without a
 * batch.
 */
void		 qs_batch_size(const struct qstore *, size_t *ops,
		    size_t *bytes);

/*
 * qs_sub_begin: open a nested txn inside the batch for one client request.
 * QS_ERR without a batch or with a sub already open.
 */
int		 qs_sub_begin(struct qstore *);

/*
 * qs_sub_commit: keep the request's changes in the batch (not yet durable:
 * that is qs_batch_commit).  If an operation inside failed with an LMDB
 * error, the sub is aborted and that error returned.  If LMDB fails to
 * merge the sub, the batch is poisoned: qs_batch_commit will fail.
 */
int		 qs_sub_commit(struct qstore *);

/* qs_sub_abort: roll back the request's changes; no-op without a sub. */
void		 qs_sub_abort(struct qstore *);

/* ---- Writes: inside a batch ---------------------------------------- *
 * They work in the open sub-transaction, or in the batch txn when no sub is
 * open; QS_ERR when neither is open.  QS_BADID, QS_INVAL and QS_FULL write
 * nothing.  Any other failure (QS_MAPFULL, QS_TXNFULL, QS_CORRUPT, QS_ERR,
 * QS_NOSPACE) may leave a partial write and poisons that txn: abort the
 * sub (or, with no sub, the whole batch).
 */

/*
 * qs_enqueue: queue one envelope (len bytes, copied) for every known device
 * of user, or hold it for the user when it has none.  All copies share
 * one id, written to id_out (a NUL-terminated string).  priority is
 * 0..PRIO_MAX; the message expires at now_ms + ttl_ms (ttl_ms 0:
 * never).  queue_max caps each queue (0: no cap): a device queue at the
 * cap first loses its oldest message (the normal lane's, else the high
 * lane's) and its drop marker grows; a held queue at the cap refuses the
 * message: nothing is written and QS_FULL returned.  qs_effects tells
 * whether the message was held, how many copies were dropped, the
 * message's seq and lane, and its device copies (struct qs_copy).  With
 * the outbox on (qs_push_config), every device of user that has a push
 * target gets its push job made pending or brought up to date in the
 * same txn (see qs_push_config); a held message makes no job.
 */
int		 qs_enqueue(struct qstore *, const char *user,
		    const void *envelope, size_t len, int priority,
		    uint64_t now_ms, uint64_t ttl_ms, uint32_t queue_max,
		    char id_out[QS_MSGID_SIZE]);

/*
 * qs_ack: delete the messages ids[0..n-1] from the queue of (user, device)
 * only.  Ids that do not parse, are not in that queue or repeat are
 * ignored.  Deleting a message queued after the device's last loss to a
 * full queue clears its drop marker (the device was told: every fetch
 * that returned that message carried the marker).  *deleted (may be
 * NULL) gets the number deleted.  QS_OK (also for an unknown device:
 * nothing to delete) or an error as above.
 */
int		 qs_ack(struct qstore *, const char *user, const char *device,
		    const char *const *ids, size_t n, size_t *deleted);

/*
 * qs_touch: admit (user, device): make it known if it is not (it then
 * receives every message sent to the user, and adopts what is held for
 * the user: see qs_effects), else record now_ms as its last-seen time if
 * the recorded one is at least min_age_ms old (so that touching on every
 * request costs no write; QS_TOUCH_INTERVAL_MS is a good value).
 */
int		 qs_touch(struct qstore *, const char *user, const char *device,
		    uint64_t now_ms, uint64_t min_age_ms);

/*
 * qs_seen: record now_ms as the last-seen time of (user, device) if it
 * is known and was seen earlier; never makes a device known (a device
 * deleted meanwhile stays deleted).  QS_NOTFOUND for an unknown device.
 */
int		 qs_seen(struct qstore *, const char *user, const char *device,
		    uint64_t now_ms);

/*
 * qs_push_register: admit (user, device) as qs_touch does and set its
 * push target
 * (platform, token, app_id: printable ASCII without space, at most
 * QS_PLATFORM_MAX, QS_TOKEN_MAX and QS_APPID_MAX bytes; QS_INVAL
 * otherwise), replacing any earlier one.  It makes no push job pending
 * (not even for held messages the new device adopts) and keeps the one
 * the device has: a pending job is sent to the new target.
 */
int		 qs_push_register(struct qstore *, const char *user,
		    const char *device, const char *platform, const char *token,
		    const char *app_id, uint64_t now_ms);

/* qs_push_remove: forget the push target of (user, device) (the gateway
 * rejected the token) and its push job.  QS_NOTFOUND if there was no
 * target. */
int		 qs_push_remove(struct qstore *, const char *user,
		    const char *device);

/*
 * qs_device_delete: forget (user, device): drop its whole queue, its
 * push target and its push job.  *dropped (may be NULL) gets the number
 * of messages dropped.  QS_NOTFOUND if the device was not known.
 */
int		 qs_device_delete(struct qstore *, const char *user,
		    const char *device, size_t *dropped);

/*
 * qs_held_drop: drop every message held for user (no device had them
 * yet) and the held queue itself.  *dropped (may be NULL) gets the
 * number dropped.  QS_NOTFOUND if nothing was held.
 */
int		 qs_held_drop(struct qstore *, const char *user,
		    size_t *dropped);

/*
 * qs_forget_idle: one step of the sweep that forgets devices not seen
 * for idle_ms (0: none is forgotten), with their queues, push targets
 * and push jobs, unless keep (may be NULL) says to keep one; empty held
 * queues go too.  Visits up to max queue records from where the last
 * call on this handle stopped (wrapping at the end), so a call costs
 * O(max) and a full pass takes (devices / max) calls; deletes at most
 * QS_FORGET_MAX queues.  *forgotten and *dropped (may be NULL) get the
 * devices forgotten and the messages dropped with them.
 */
int		 qs_forget_idle(struct qstore *, uint64_t now_ms,
		    uint64_t idle_ms, size_t max, qs_keep_cb keep, void *arg,
		    size_t *forgotten, size_t *dropped);

/*
 * qs_settle: move messages from the arrival log into their device queues
 * (see the layout notes in qstore.c), dropping those already expired at
 * now_ms: all of them (up to an internal cap) when force is set, else
 * only once the log holds enough entries to make the move cheap per
 * message, and nothing otherwise.  Fetches and acks see the same queues
 * before and after; only the cost of later writes and reads changes.
 * Best run in a batch of its own (see qs_settle_due), so that a failure
 * (a full map) never fails client requests.  *moved and *expired (may be
 * NULL) get the copies moved and dropped.
 */
int		 qs_settle(struct qstore *, uint64_t now_ms, int force,
		    size_t *moved, size_t *expired);

/* qs_settle_due: 1 when the log is long enough for qs_settle without
 * force to move it (one short read; outside a batch), else 0. */
int		 qs_settle_due(struct qstore *);

/*
 * qs_expire: delete up to max settled messages whose expiry time is <=
 * now_ms, through the expiry index of lane heads (earliest first), keeping
 * queue counts right.  Messages still in the log are dropped by qs_settle
 * instead (and skipped by fetches meanwhile), so a sweeper settles with
 * force first.  *expired (may be NULL) gets the number deleted; fewer than
 * max means none is left.  A message whose TTL is shorter than that of a
 * message ahead of it in its lane waits for that one to go (it is never
 * fetched meanwhile); with one TTL for all messages none waits.
 */
int		 qs_expire(struct qstore *, uint64_t now_ms, size_t max,
		    size_t *expired);

/* ---- Reads ---------------------------------------------------------- *
 * Each runs in one short read txn that ends before it returns.  When a
 * batch is open they read through it instead (LMDB allows one txn per
 * thread), and so see its uncommitted writes.
 */

/*
 * qs_fetch: call cb for the oldest limit messages of (user, device): high
 * lane first, FIFO within a lane, skipping expired ones (expiry <= now_ms).
 * Messages stay until acknowledged, so the same call returns the same
 * messages.  *count (may be NULL) gets the number passed to cb.
 * QS_NOTFOUND if the device is not known (the caller may qs_touch it).
 */
int		 qs_fetch(struct qstore *, const char *user, const char *device,
		    size_t limit, uint64_t now_ms, qs_msg_cb cb, void *arg,
		    size_t *count);

/* qs_cursor_init: a position before the first message. */
void		 qs_cursor_init(struct qs_cursor *);

/*
 * qs_fetch_after: like qs_fetch, but only messages after the position *cur,
 * which is advanced past each message cb accepts (and past expired ones).
 * Before the first cb call it sets cur's qc_count, qc_dropped and
 * qc_seen_ms from the queue record read in the same txn: a nonzero
 * qc_dropped is the number of messages the device lost to a full queue
 * since its marker was last cleared (see qs_ack), to be shown to the client
 * with the messages of this page.  One call is one page in one short read
 * txn: a WS connection streams its backlog with repeated calls, and later
 * catches up with the same cursor.  *more (may be NULL) is set to 1 when
 * the page stopped before the end of the queue.  QS_NOTFOUND if the device
 * is not known.
 */
int		 qs_fetch_after(struct qstore *, const char *user,
		    const char *device, struct qs_cursor *cur, size_t limit,
		    uint64_t now_ms, qs_msg_cb cb, void *arg, size_t *count,
		    int *more);

/* qs_devices: call cb for every known device of user (ordered by id
 * length, then bytes).  *count (may be NULL) gets the number of devices.
 * QS_OK also for none. */
int		 qs_devices(struct qstore *, const char *user, qs_device_cb cb,
		    void *arg, size_t *count);

/* qs_depth: the number of messages and envelope bytes queued for
 * (user, device), expired but unswept ones included.  QS_NOTFOUND if the
 * device is not known. */
int		 qs_depth(struct qstore *, const char *user, const char *device,
		    uint32_t *count, uint64_t *bytes);

/* qs_held_count: the messages held for user (no device had them yet,
 * expired but unswept ones included) into *count; 0 when none.  QS_OK,
 * QS_BADID or a store error. */
int		 qs_held_count(struct qstore *, const char *user,
		    uint32_t *count);

/* qs_totals: the messages and envelope bytes queued in the whole store,
 * held queues and expired but unswept messages included: one read txn
 * over every queue record, O(devices); for routingctl, not /metrics. */
int		 qs_totals(struct qstore *, uint64_t *messages,
		    uint64_t *bytes);

/* qs_effects: what the last write call on the handle did (zeros after a
 * failure and after a call without such effects). */
void		 qs_effects(const struct qstore *, struct qs_effects *);

/* qs_stats: entry counts and map usage for /metrics.  The outbox's
 * oldest pending time costs a walk of the pending jobs' due index. */
int		 qs_stats(struct qstore *, struct qs_stats *);

/*
 * qs_backup: write a consistent, compacted copy of the store (one read
 * txn, MDB_CP_COMPACT) into dir, which must exist, be empty and should
 * be private: first as dir/.data.mdb.tmp (mode 0600), fsync'd, then
 * renamed to dir/data.mdb and dir fsync'd, so dir never holds a partial
 * data.mdb.  The live store keeps serving, but the call blocks for the
 * whole copy: run it from a short-lived process.  No batch may be open.
 * QS_OK, or QS_ERR (or an LMDB result) with *errstr (may be NULL) set to
 * a reason in a static buffer.
 */
int		 qs_backup(struct qstore *, const char *dir,
		    const char **errstr);

/* ---- Push outbox ---------------------------------------------------- *
 * qs_push_done and qs_push_disconnect are writes (inside a batch, as
 * above); qs_push_due and qs_push_next_due are reads.
 */

/*
 * qs_push_config: from now on qs_enqueue and qs_push_disconnect on this
 * handle keep push jobs for devices with a push target when enabled is
 * nonzero (default: off, and then they write no job); coalesce_ms is the
 * least time between two pushes to one device.  Per handle, not stored:
 * every process that enqueues must set it, and the one that records
 * outcomes too (qs_push_done uses coalesce_ms, 0 when never set).
 * qs_push_done, qs_push_due and the removals work whatever the setting.
 *
 * An enqueue, for each device of the recipient with a push target: the
 * job's generation grows by one; a job that was idle becomes pending
 * with since = now_ms, attempts 0 and due = now_ms for a message of
 * priority >= PRIO_HIGH, else the later of now_ms and the last push +
 * coalesce_ms; a pending job keeps its due time, except that a message
 * of priority >= PRIO_HIGH makes it now_ms when it was later.
 */
void		 qs_push_config(struct qstore *, int enabled,
		    uint64_t coalesce_ms);

/*
 * qs_push_due: in one read txn, call cb for up to max pending jobs whose
 * due time is <= now_ms, earliest due first (through an index: the cost
 * does not grow with the devices or the jobs not due); a nonzero cb
 * return stops the walk.  QS_OK also for none.
 */
int		 qs_push_due(struct qstore *, uint64_t now_ms, size_t max,
		    qs_push_cb cb, void *arg);

/* qs_push_next_due: the earliest due time of any pending job into
 * *due_ms (0: none pending).  Read txn.  The push worker does not time
 * its scans by it (other processes write jobs without telling it, so it
 * polls); the unit tests observe due times through it. */
int		 qs_push_next_due(struct qstore *, uint64_t *due_ms);

/*
 * qs_push_done: record the outcome (enum qs_push_outcome) of the send of
 * job (user, device) that qs_push_due gave with generation gen:
 * - QS_PUSH_SENT: the last push is now_ms and attempts 0.  If gen is the
 *   job's generation it goes idle; else (messages came during the send)
 *   it stays pending with since = the time of the newest message (when
 *   the first of them came is not kept), high only if a message of
 *   priority >= PRIO_HIGH came after the generation gen, and due at
 *   now_ms when high, else at now_ms + coalesce_ms.
 * - QS_PUSH_SKIP: idle if gen is the job's generation, else unchanged.
 * - QS_PUSH_RETRY: attempts grows by one and it is due at retry_at_ms.
 * - QS_PUSH_DROP: counted in st_outbox_dropped; idle if gen is the
 *   job's generation, else (messages came during the send) pending again,
 *   due at now_ms, with since = the time of the newest message and
 *   attempts 0.
 * For a job that is idle already only SENT changes something (the time
 * of the last push).  QS_NOTFOUND if the device has no job (it was
 * deleted, or its target removed, meanwhile); QS_INVAL for another
 * outcome.
 */
int		 qs_push_done(struct qstore *, const char *user,
		    const char *device, uint32_t gen, int outcome,
		    uint64_t now_ms, uint64_t retry_at_ms);

/*
 * qs_push_disconnect: a connection of (user, device) closed (the device
 * may have another one: the push worker skips a device that is online
 * when its job falls due).
 * With the outbox on, if the device has a push target and queued
 * messages, its job is pending (an idle one with since = now_ms and
 * attempts 0), due at now_ms + delay_ms unless it was due earlier, and
 * its generation grows (an outcome of a send begun before does not make
 * it idle).  Nothing is written otherwise (also for an unknown device):
 * QS_OK.
 */
int		 qs_push_disconnect(struct qstore *, const char *user,
		    const char *device, uint64_t now_ms, uint64_t delay_ms);

/* ---- Ids ------------------------------------------------------------ */

/* qs_msgid_format: the id of the message seq of lane into buf (room for
 * QS_MSGID_SIZE): its lane letter and 16 lowercase hex digits. */
void		 qs_msgid_format(char *buf, int lane, uint64_t seq);

/* qs_msgid_parse: the lane and sequence number of message id s; QS_OK or
 * QS_BADID for anything this module did not make. */
int		 qs_msgid_parse(const char *s, int *lane, uint64_t *seq);

#endif /* QSTORE_H */
