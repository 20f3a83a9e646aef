/*
 * qstore.c: the durable per-device message queue on LMDB (0.9.24).
 *
 * Runs in every API and WS worker.  Each worker opens its own env after
 * fork (qs_open) and all of them share data_dir/data.mdb and lock.mdb;
 * LMDB's write mutex (a robust process-shared mutex on Linux) serializes
 * their write txns.  This file owns the env and DBI handles, the open batch
 * and sub txns of its process, and the on-disk layout below.
 *
 * Invariants:
 * - Per handle at most one write txn (the batch) and one nested txn in it
 *   (the sub, one client request).  Reads use the innermost open txn, else
 *   one short read txn that is reset (MDB_NOTLS) before the call returns.
 * - A queue record's count, bytes and per-lane log counts change in the
 *   same txn as the msgs and log entries they count.  For each lane,
 *   queues.head and the expiry index hold the expiry of the lane's first
 *   settled message, or 0 and no entry when there is none or it never
 *   expires.
 * - Every log entry is newer (a higher sequence number) than every settled
 *   message: a settle always takes the oldest log entries.
 * - Sequence numbers come from one counter in meta and are never reused,
 *   so a message id is never reused.  With qs_seq_floor a seq drawn by a
 *   txn that was rolled back (or whose process died) is not drawn again
 *   either: the next draw takes the run's shared high-water mark when it
 *   is ahead of the counter, and a run's first draw jumps QS_SEQ_JUMP, so
 *   ids shown before their commit (early delivery) stay unique.
 * - No I/O but LMDB's inside a txn; nothing that points into the map
 *   outlives its txn (callbacks copy), or an update of the txn (a put may
 *   move what an earlier get pointed to).
 * - A handle works only in the process that opened it (pid check).
 * - A push job exists only for a device with a push target; it is
 *   pending exactly when outdue has an entry for it, at its due time.
 * - Low-level module: never logs, never exits.
 *
 * ON-DISK LAYOUT (schema 5).  Integers are big-endian and fixed-width so
 * that LMDB's memcmp order is numeric order.  An id component is
 * u8 len || bytes (1..128 bytes, 0x21-0x7e); "qkey" below is
 * u8 ulen || user || u8 dlen || device, and the held queue of a user (its
 * messages while it has no known device) is the qkey with dlen 0 and no
 * device bytes: no device id is empty, and it sorts before the user's
 * devices.  Every value starts with a format version byte: 4 for queues
 * values, 1 everywhere else.
 *
 *   DBI     key                               value
 *   meta    "schema"                          01 || be32 schema version
 *   meta    "next_qid"                        01 || be64 next queue id
 *   meta    "next_seq"                        01 || be64 next message seq
 *   meta    "held_queues"                     01 || be64 held queues
 *   queues  qkey                              04 || be64 qid || be32 count
 *                                             || be64 bytes || be64 created
 *                                             ms || be64 last-seen ms ||
 *                                             be64 head expiry, per lane ||
 *                                             be32 copies in log, per lane
 *                                             || be32 dropped (the drop
 *                                             marker) || be64 seq of the
 *                                             message that caused the
 *                                             last drop || per lane:
 *                                             QS_RING be64 newest log seqs
 *                                             (0: none), be64 newest
 *                                             evicted seq
 *   qids    be64 qid                          01 || qkey
 *   log     be64 seq                          01 || u8 priority || be64
 *                                             enqueued ms || be64 expires
 *                                             ms (0: never) || be32 n ||
 *                                             n x be64 qid || envelope
 *   msgs    be64 qid || u8 lane || be64 seq   01 || u8 priority || be64
 *                                             enqueued ms || be64 expires
 *                                             ms (0: never) || envelope
 *   expiry  be64 expires ms || be64 qid ||    01
 *           u8 lane
 *   push    qkey                              01 || registered ms ||
 *                                             u8 n || platform || u8 n ||
 *                                             app id || be16 n || token
 *   meta    "outbox_dropped"                  01 || be64 push jobs given up
 *   meta    "reclaimed"                       01 || be64 id of the LMDB txn
 *                                             that wrote it (qs_reclaim;
 *                                             missing until the first)
 *   outbox  qkey (a device with a push        01 || be32 gen || u8 state
 *           target)                           (0 idle, 1 pending) || be32
 *                                             attempts || be32 high gen
 *                                             (0: no high message unsent)
 *                                             || be64 since ms || be64 due
 *                                             ms || be64 last push ms ||
 *                                             be64 last message ms
 *   outdue  be64 due ms || qkey               01 || be64 since ms
 *
 * Two stages.  qs_enqueue appends one log entry per message (MDB_APPEND:
 * a batch of messages fills consecutive pages, whatever the recipients),
 * naming every recipient device queue, and counts it in each queue
 * record.  qs_settle later moves the oldest log entries, thousands at a
 * time, into msgs, where each device's copies sit in queue order, and
 * drops the ones that expired meanwhile.  Reads and acks look in msgs
 * first, then in the log (only when the queue record says it has copies
 * there), so a message is the same message, with the same id, before and
 * after its settle.
 *
 * Message ids: "h" or "n" (the lane) and 16 lowercase hex digits of the
 * message's sequence number, shared by all its device copies.  Lane 0
 * ("h") holds priority >= 5 and sorts first.
 *
 * Devices and the held queue.  A send is queued for every device record
 * of its user (one prefix range of queues, read by key: never a scan);
 * with none, for the user's held queue, which is a queue like the others
 * (log, settle, expiry) but is never listed as a device and never read
 * by a client.  When a device record is created (qs_touch,
 * qs_push_register) it adopts the held messages: each unexpired one is
 * copied into msgs under the new queue id with its own seq, so it keeps
 * its id and, being older than anything queued for the new device
 * later, comes first in its lane.  The held messages stay for the next
 * new device until they expire; an empty held queue is deleted by the
 * idle sweep.  A device queue at queue_max loses its oldest message
 * (normal lane first) per new one: its dropped count grows and its drop
 * seq becomes the new message's seq; an ack of a message with that seq
 * or later clears both, since every fetch that returned such a message
 * read the record that carried the count (one txn).  Only the held queue
 * refuses a send (QS_FULL).
 *
 * The expiry index has one entry per (queue, lane) whose first settled
 * message expires, keyed by that head's expiry (queues.head repeats it,
 * 0: none).  A sweep takes the earliest entry, deletes the expired
 * messages at the head of that lane and re-indexes the new head.  With one
 * TTL for all messages (message_ttl), expiry order is sequence order
 * within a lane, so this finds every expired message; a message with a
 * shorter TTL than one ahead of it is still never fetched, but is deleted
 * (and leaves the queue count) only once the messages ahead of it are
 * gone.  Log entries are not indexed: fetches skip them once expired and
 * the settle drops them (the daemon settles everything once a second).
 *
 * The push outbox.  outbox holds at most one job per device, and only
 * for a device with a push target (push_remove, device delete and the
 * idle sweep delete it with the target).  outdue has one entry per
 * pending job, keyed by its due time, and none for an idle one, so a
 * push worker finds the due jobs by a range read from the start.  A
 * job's generation grows with every message (and disconnect) that makes
 * or keeps it pending; a send reports the generation it saw, so a send
 * that raced a new message does not make the job idle.  The high gen is
 * the generation of the newest message of priority >= PRIO_HIGH not yet
 * announced; the last message time becomes the job's since time when a
 * send raced newer messages.  An idle job keeps its last push time (the
 * coalescing interval) and its generation; its since and due times are
 * 0.
 *
 * Full map, full disk.  LMDB gives the pages that the commit of txn T
 * freed only to write txns after T + 1, and a write the map refused
 * commits nothing, so after one big ack the writes that need its pages
 * (large messages) fail until something else commits.  qs_reclaim is
 * that commit (meta "reclaimed"), skipped when the newest commit is a
 * reclaim already.  A full disk fails the commit (ENOSPC: QS_NOSPACE)
 * and leaves the files as the last good commit did: the data file is
 * mapped read-only and written with pwrite and writev.  An env LMDB gave
 * up on (MDB_PANIC: a meta page write failed) is reopened at the next
 * txn.
 *
 * Why this layout:
 * - The log.  Schema 1 wrote each message straight into msgs, keyed by
 *   queue: a batch of 200 messages to 1000 recipients dirtied about one
 *   4 KiB leaf page per message, so every commit wrote about a megabyte.
 *   Appending to the log dirties a page per ~13 messages; a settle of
 *   8192 entries over 1000 queues writes each queue's leaf once for ~8
 *   messages.  Measured on the development VM with LMDB alone (1000
 *   recipients, 300-byte envelopes, fsync'd batches of 200): 30k msgs/s
 *   with schema 1, 150k msgs/s with log and settle; and the daemon's
 *   average commit went from 4.7 ms to 2.9 ms (tests/bench/run.sh).
 * - Settled storage stays keyed by queue because draining reads and acks
 *   one queue at a time: deleting 500 acked messages scattered over the
 *   log would dirty ~500 pages (58k msgs/s measured), in msgs a handful
 *   (over a million msgs/s).
 * - The ring: a live reader (a WebSocket at the end of its queue) wants
 *   the few newest copies of one queue, spread over a log shared by every
 *   queue.  The queue record, rewritten by every enqueue anyway, keeps
 *   the QS_RING newest log seqs per lane and the newest seq that fell
 *   out; when that one is not newer than the reader's position, every
 *   copy it still needs is in the ring and is read by key, not by a
 *   scan of the log (with 1000 recipients a scan passed ~1000 entries
 *   per delivered message).
 * - One log entry per message, not per device copy: an ack by one device
 *   rewrites the entry without that queue id; the last one deletes it.
 * - One expiry entry per lane head, not per message: draining a backlog
 *   would otherwise delete entries scattered over the whole index (43k
 *   against 375k msgs/s drained, measured with schema 1).
 * - qids maps a queue id back to its owner, so the sweep and the settle,
 *   which only see queue ids, can fix the owner's record.
 * - Queue ids come from a counter in meta and are never reused, so no
 *   stale entry can ever land in a new device's queue.
 * - Lanes are part of the msgs key, so "high lane first, FIFO within a
 *   lane" is plain key order there; in the log, one scan per lane.
 * - maxdbs is 12 and 9 are used: room for a later index without
 *   touching it (it is per handle: each process needs room for the
 *   DBIs it opens).
 * - The outbox job has a DBI of its own, not a field of the queues
 *   value: most devices have no push target, and a job changes with
 *   pushes, which never touch the queue.  The due index holds pending
 *   jobs only, so the worker's walk costs what is due, not the devices.
 * - The held queue in queues (not a DBI of its own): the settle, the
 *   expiry sweep and qids treat it as any queue; only enqueue, adoption,
 *   the device list and the idle sweep look at the empty device part.
 * - Adopted copies go to msgs, not into the log entries' queue lists:
 *   rewriting log entries would break their append-only order, and a
 *   new queue's copies in msgs are all older than its later log copies,
 *   which is all a walk (msgs first, then log) needs per queue.
 *
 * COMPATIBILITY NOTES
 * - The schema version in meta names the set of DBIs and key encodings.
 *   qs_open refuses an env whose schema is newer than QS_SCHEMA_VERSION or
 *   whose schema record it cannot read, and an env holding other data but
 *   no schema record.  An older schema would be migrated in qs_open (one
 *   write txn) before use.  Schemas 1 (per-user sequences, no log) and 2
 *   (no ring) were only ever written by pre-release builds and are
 *   refused, not migrated.  Schema 3 (queues values of format 3, without
 *   the drop marker; no held queues: its sends to a user with no device
 *   made a "default" device, which stays a device) is migrated in
 *   qs_open: each queues value is rewritten as format 4, its last-seen
 *   time set to the migration time (schema 3 refreshed it only on
 *   connects, so the old times would make device_idle_ttl forget devices
 *   in use), and meta gains held_queues = 0.  Log, msgs, expiry, qids
 *   and push values are unchanged.  The test store of schema 3 is
 *   tests/unit/data/qstore/schema3.dump.  Schema 4 (no push outbox) is
 *   migrated in qs_open: outbox and outdue are created empty, meta gains
 *   outbox_dropped = 0 and the schema record becomes 5; nothing else
 *   changes, so a push target gets its job with its next message.  A
 *   schema 3 store takes both steps.  The test store of schema 4 is
 *   tests/unit/data/qstore/schema4.dump.
 * - meta "reclaimed" is optional in schema 5: a build that never writes
 *   it ignores it, and one that does takes its absence for "no reclaim
 *   yet".  It only says whether the newest commit was a reclaim.
 * - A value's version byte names its exact layout.  Readers reject unknown
 *   versions and unexpected lengths (QS_CORRUPT) instead of guessing.  A
 *   release that writes a new value version also bumps the schema, so an
 *   older binary refuses the env instead of misreading it, and mixed
 *   versions never share an env.
 * - The expiry index keys, queues.head and the queues' log counts are
 *   derived data: a future version may rebuild them from msgs and log.
 * - Message ids are part of the client protocol: their format may only
 *   change together with qs_msgid_parse accepting the old one.
 * - Env flags (MDB_NOTLS, MDB_NOMETASYNC), maxreaders and maxdbs must be
 *   the same in every process: they are constants here, never
 *   configuration.
 * - Every write txn is durable when the call that commits it returns
 *   (qs_commit): LMDB flushes the data pages inside its commit, under its
 *   one writer lock, and writes the meta page that makes them the newest
 *   state; MDB_NOMETASYNC leaves that page's flush to us, and qs_commit
 *   does it (mdb_env_sync) after the lock is released, so that the
 *   writer lock, which every API and WS worker takes in turn, is held
 *   for one flush instead of two.  A crash before that flush leaves the
 *   previous commit as the newest state (LMDB keeps the store
 *   consistent: it never overwrites the pages the previous meta page
 *   points to); nothing was answered for the commit it undid.  MDB_NOSYNC
 *   is never used.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "qstore.h"

#define QS_ENV_FLAGS	(MDB_NOTLS | MDB_NOMETASYNC)	/* the same in every
						   process; see qs_commit */
#define QS_FILE_MODE	0600
#define QS_DIR_MODE	0700
#define QS_OPEN_TRIES	6		/* mdb_env_open attempts */
#define QS_OPEN_DELAY	10		/* ms before a retry, doubling */
#define QS_BEGIN_TRIES	3		/* mdb_txn_begin retries */
#define QS_ERRLEN	256		/* bytes of a failure text */

#define QS_FMT		1		/* value format version byte */
#define QS_SCHEMA_LEN	5		/* bytes: fmt, be32 */
#define QS_SEQ_LEN	9		/* bytes: fmt, be64 next seq */
#define QS_QFMT		4		/* queues value format byte */
#define QS_QFMT3	3		/* the same in schema 3 (migrated) */
#define QS_RING		4		/* newest log seqs kept per lane */
#define QS_QHDR_LEN	73		/* bytes of a queues value before rings */
#define QS_QHDR3_LEN	61		/* the same in format 3 */
#define QS_QVAL_LEN	(QS_QHDR_LEN + QS_NLANES * 8 * (QS_RING + 1))
#define QS_QVAL3_LEN	(QS_QHDR3_LEN + QS_NLANES * 8 * (QS_RING + 1))
#define QS_LHDR_LEN	22		/* bytes of a log value before qids */
#define QS_SETTLE_MAX	65536		/* log entries one settle moves */
#define QS_MHDR_LEN	18		/* bytes of a msgs value before data */
#define QS_MKEY_LEN	17		/* bytes: be64 qid, u8 lane, be64 seq */
#define QS_XKEY_LEN	17		/* bytes: be64 expires, qid; lane */
#define QS_UKEY_MAX	(1 + ID_MAX)
#define QS_FANOUT_STACK	16		/* devices before qids are malloc'd */
#define QS_QKEY_MAX	(2 * (1 + ID_MAX))
#define QS_PVAL_MAX	(1 + 8 + 1 + QS_PLATFORM_MAX + 1 + QS_APPID_MAX + \
			    2 + QS_TOKEN_MAX)
#define QS_MSGID_LEN	17		/* lane letter, 16 hex digits */
#define QS_FORGET_MAX	64		/* queues one qs_forget_idle deletes */
#define QS_FORGET_MSGS	20000		/* and messages, about (txn size) */
#define QS_JOB_LEN	46		/* bytes of an outbox value */
#define QS_DKEY_MAX	(8 + QS_QKEY_MAX)	/* outdue key */

enum qs_db {
	QS_DB_META = 0,
	QS_DB_QUEUES,
	QS_DB_QIDS,
	QS_DB_MSGS,
	QS_DB_EXPIRY,
	QS_DB_PUSH,
	QS_DB_LOG,
	QS_DB_OUTBOX,
	QS_DB_OUTDUE,
	QS_DB_COUNT
};

static const char *const qs_db_names[QS_DB_COUNT] = {
	"meta", "queues", "qids", "msgs", "expiry", "push", "log", "outbox",
	"outdue"
};

struct qstore {
	MDB_env		*qs_env;		/* NULL: a reopen failed */
	char		*qs_dir;		/* for qs_reopen */
	uint64_t	 qs_mapsize;
	int		 qs_reopening;		/* in qs_reopen */
	pid_t		 qs_pid;		/* the opener */
	unsigned long	 qs_forkgen;		/* qs_forks when opened */
	MDB_dbi		 qs_dbi[QS_DB_COUNT];
	MDB_txn		*qs_batch;		/* open write txn */
	MDB_txn		*qs_sub;		/* open nested txn */
	MDB_txn		*qs_rtxn;		/* reset read txn, for renew */
	int		 qs_batch_rc;		/* failure poisoning batch */
	int		 qs_sub_rc;		/* failure poisoning the sub */
	size_t		 qs_ops;		/* puts and deletes in batch */
	size_t		 qs_bytes;		/* key + value bytes put */
	size_t		 qs_sub_ops;		/* qs_ops at qs_sub_begin */
	size_t		 qs_sub_bytes;		/* qs_bytes at qs_sub_begin */
	struct qs_effects qs_fx;		/* of the last write call */
	struct qs_copy	*qs_copies;		/* qs_fx.ef_copies' storage */
	size_t		 qs_copies_cap;
	_Atomic uint64_t *qs_seq_hw;		/* qs_seq_floor, or NULL */
	_Atomic uint32_t *qs_seq_jumped;
	uint64_t	 qs_jump_base;		/* seq the batch jumped to, 0 */
	int		 qs_seq_unsafe;		/* batch ids not publishable */
	unsigned char	 qs_idle_pos[QS_QKEY_MAX]; /* next key to sweep */
	size_t		 qs_idle_len;		/* 0: from the start */
	int		 qs_outbox;		/* qs_push_config enabled */
	uint64_t	 qs_coalesce;		/* ms between two pushes */
	char		 qs_err[QS_ERRLEN];
};

/* A decoded queues value. */
struct qs_queue {
	uint64_t	 q_qid;
	uint32_t	 q_count;
	uint64_t	 q_bytes;
	uint64_t	 q_created;
	uint64_t	 q_seen;
	uint64_t	 q_head[QS_NLANES];	/* indexed head expiry or 0 */
	uint32_t	 q_log[QS_NLANES];	/* copies still in the log */
	uint64_t	 q_ring[QS_NLANES][QS_RING]; /* newest seqs, 0: none */
	uint64_t	 q_evicted[QS_NLANES];	/* newest seq out of the ring */
	uint32_t	 q_dropped;		/* lost to a full queue, unseen */
	uint64_t	 q_drop_seq;		/* seq that caused the last loss */
};

/* A decoded msgs value (or the message part of a log value); m_data
 * points into the map. */
struct qs_mhdr {
	int		 m_prio;
	uint64_t	 m_enqueued;
	uint64_t	 m_expires;
	const void	*m_data;
	size_t		 m_len;
};

/* A decoded log value; l_qids and l_data point into the map. */
struct qs_lhdr {
	struct qs_mhdr	 l_m;
	int		 l_lane;
	uint32_t	 l_n;			/* recipient queues */
	const unsigned char *l_qids;		/* l_n be64 queue ids */
};

/* One queue copy of a log entry, as a settle moves it. */
struct qs_move {
	uint64_t	 mv_qid;
	uint64_t	 mv_seq;
	uint64_t	 mv_expires;
	size_t		 mv_len;
	int		 mv_lane;
};

/* A message about to be stored (one per qs_enqueue, all copies). */
struct qs_newmsg {
	const void	*n_data;
	size_t		 n_len;
	int		 n_prio;
	int		 n_lane;
	uint64_t	 n_seq;
	uint64_t	 n_enqueued;
	uint64_t	 n_expires;
};

/* A (user, device) key: u8 ulen || user || u8 dlen || device. */
struct qs_qkey {
	unsigned char	 k_buf[QS_QKEY_MAX];
	size_t		 k_len;
};

/* A decoded push value, NUL-terminated copies. */
struct qs_push {
	uint64_t	 p_registered;
	char		 p_platform[QS_PLATFORM_MAX + 1];
	char		 p_app[QS_APPID_MAX + 1];
	char		 p_token[QS_TOKEN_MAX + 1];
};

/* A decoded outbox value (a push job). */
struct qs_job {
	uint32_t	 j_gen;
	int		 j_pending;
	uint32_t	 j_attempts;
	uint32_t	 j_high;		/* gen of a high msg unsent, 0 */
	uint64_t	 j_since;
	uint64_t	 j_due;
	uint64_t	 j_last_push;
	uint64_t	 j_last_msg;
};

/* State of one page walk over a device queue. */
struct qs_walk {
	MDB_cursor		*w_cur;
	MDB_cursor		*w_lcur;	/* on the log */
	uint64_t		 w_qid;
	uint32_t		 w_logn[QS_NLANES];
	const struct qs_queue	*w_q;		/* its record: the rings */
	uint64_t		 w_now;
	size_t			 w_limit;
	size_t			 w_count;
	int			 w_more;
	int			 w_stop;
	qs_msg_cb		 w_cb;
	void			*w_arg;
	struct qs_cursor	*w_pos;
};

static char	 qs_static_err[QS_ERRLEN];	/* qs_open, qs_backup */

/*
 * Bumped in the child by a pthread_atfork handler: a handle whose
 * generation differs was opened by another process (an ancestor).  This
 * spares a getpid() system call on every operation.
 */
static unsigned long	 qs_forks;
static int		 qs_atfork_set;

static int	 qs_seterr(struct qstore *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static void
qs_be64_put(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static uint64_t
qs_be64_get(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (v);
}

static void
qs_be32_put(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static uint32_t
qs_be32_get(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

/* Append u8 len || s at p; returns the bytes written.  s is valid. */
static size_t
qs_comp_put(unsigned char *p, const char *s)
{
	size_t	 n = strlen(s);

	p[0] = (unsigned char)n;
	memcpy(p + 1, s, n);
	return (1 + n);
}

static size_t
qs_ukey_make(unsigned char *buf, const char *user)
{
	return (qs_comp_put(buf, user));
}

static void
qs_qkey_make(struct qs_qkey *k, const char *user, const char *device)
{
	size_t	 n;

	n = qs_comp_put(k->k_buf, user);
	k->k_len = n + qs_comp_put(k->k_buf + n, device);
}

/*
 * The key of user's held queue (messages for a user with no known
 * device): a device component of length 0, which no device id can have,
 * so it sorts before every device of the user.
 */
static void
qs_hkey_make(struct qs_qkey *k, const char *user)
{
	size_t	 n;

	n = qs_comp_put(k->k_buf, user);
	k->k_buf[n] = 0;
	k->k_len = n + 1;
}

/* The held queue key of the user of queues key k (well formed). */
static void
qs_hkey_of(struct qs_qkey *hk, const struct qs_qkey *k)
{
	size_t	 n = 1 + (size_t)k->k_buf[0];

	memcpy(hk->k_buf, k->k_buf, n);
	hk->k_buf[n] = 0;
	hk->k_len = n + 1;
}

/* 1 if the queues key k is a held queue's, 0 if a device's. */
static int
qs_key_held(const MDB_val *k)
{
	const unsigned char	*p = k->mv_data;

	return (k->mv_size >= 2 && k->mv_size == (size_t)p[0] + 2 &&
	    p[1 + p[0]] == 0);
}

static void
qs_mkey_make(unsigned char *p, uint64_t qid, int lane, uint64_t seq)
{
	qs_be64_put(p, qid);
	p[8] = (unsigned char)lane;
	qs_be64_put(p + 9, seq);
}

static void
qs_queue_encode(unsigned char *p, const struct qs_queue *q)
{
	int	 lane, i;

	p[0] = QS_QFMT;
	qs_be64_put(p + 1, q->q_qid);
	qs_be32_put(p + 9, q->q_count);
	qs_be64_put(p + 13, q->q_bytes);
	qs_be64_put(p + 21, q->q_created);
	qs_be64_put(p + 29, q->q_seen);
	qs_be64_put(p + 37, q->q_head[QS_LANE_HIGH]);
	qs_be64_put(p + 45, q->q_head[QS_LANE_NORMAL]);
	qs_be32_put(p + 53, q->q_log[QS_LANE_HIGH]);
	qs_be32_put(p + 57, q->q_log[QS_LANE_NORMAL]);
	qs_be32_put(p + 61, q->q_dropped);
	qs_be64_put(p + 65, q->q_drop_seq);
	p += QS_QHDR_LEN;
	for (lane = 0; lane < QS_NLANES; lane++) {
		for (i = 0; i < QS_RING; i++, p += 8)
			qs_be64_put(p, q->q_ring[lane][i]);
		qs_be64_put(p, q->q_evicted[lane]);
		p += 8;
	}
}

/*
 * Decode a queues value of format 4 (or, for the migration from schema
 * 3 only, of format 3, which lacks the drop marker: with v3 set).
 */
static int
qs_queue_decode_fmt(struct qs_queue *q, const MDB_val *v, int v3)
{
	const unsigned char	*p = v->mv_data;
	int			 lane, i;

	if (v->mv_size != (v3 ? QS_QVAL3_LEN : QS_QVAL_LEN) ||
	    p[0] != (v3 ? QS_QFMT3 : QS_QFMT))
		return (QS_CORRUPT);
	memset(q, 0, sizeof(*q));
	q->q_qid = qs_be64_get(p + 1);
	q->q_count = qs_be32_get(p + 9);
	q->q_bytes = qs_be64_get(p + 13);
	q->q_created = qs_be64_get(p + 21);
	q->q_seen = qs_be64_get(p + 29);
	q->q_head[QS_LANE_HIGH] = qs_be64_get(p + 37);
	q->q_head[QS_LANE_NORMAL] = qs_be64_get(p + 45);
	q->q_log[QS_LANE_HIGH] = qs_be32_get(p + 53);
	q->q_log[QS_LANE_NORMAL] = qs_be32_get(p + 57);
	if (!v3) {
		q->q_dropped = qs_be32_get(p + 61);
		q->q_drop_seq = qs_be64_get(p + 65);
	}
	p += v3 ? QS_QHDR3_LEN : QS_QHDR_LEN;
	for (lane = 0; lane < QS_NLANES; lane++) {
		for (i = 0; i < QS_RING; i++, p += 8)
			q->q_ring[lane][i] = qs_be64_get(p);
		q->q_evicted[lane] = qs_be64_get(p);
		p += 8;
	}
	return (QS_OK);
}

static int
qs_queue_decode(struct qs_queue *q, const MDB_val *v)
{
	return (qs_queue_decode_fmt(q, v, 0));
}

static void
qs_mhdr_encode(unsigned char *p, const struct qs_newmsg *nm)
{
	p[0] = QS_FMT;
	p[1] = (unsigned char)nm->n_prio;
	qs_be64_put(p + 2, nm->n_enqueued);
	qs_be64_put(p + 10, nm->n_expires);
}

static int
qs_mhdr_decode(struct qs_mhdr *m, const MDB_val *v)
{
	const unsigned char	*p = v->mv_data;

	if (v->mv_size < QS_MHDR_LEN || p[0] != QS_FMT || p[1] > PRIO_MAX)
		return (QS_CORRUPT);
	m->m_prio = p[1];
	m->m_enqueued = qs_be64_get(p + 2);
	m->m_expires = qs_be64_get(p + 10);
	m->m_data = p + QS_MHDR_LEN;
	m->m_len = v->mv_size - QS_MHDR_LEN;
	return (QS_OK);
}

/*
 * Remember seq as the newest log entry of lane in q's ring (seqs only
 * grow): the oldest one drops out into q_evicted once the ring is full.
 */
static void
qs_ring_push(struct qs_queue *q, int lane, uint64_t seq)
{
	uint64_t	*r = q->q_ring[lane];
	int		 i;

	for (i = 0; i < QS_RING; i++)
		if (r[i] == 0) {
			r[i] = seq;
			return;
		}
	q->q_evicted[lane] = r[0];
	memmove(r, r + 1, (QS_RING - 1) * sizeof(*r));
	r[QS_RING - 1] = seq;
}

static int
qs_prio_lane(int prio)
{
	return (prio >= PRIO_HIGH ? QS_LANE_HIGH : QS_LANE_NORMAL);
}

/* Write the header of a log value for nm with n recipient queues. */
static void
qs_lhdr_encode(unsigned char *p, const struct qs_newmsg *nm, uint32_t n)
{
	qs_mhdr_encode(p, nm);
	qs_be32_put(p + QS_MHDR_LEN, n);
}

static int
qs_lhdr_decode(struct qs_lhdr *l, const MDB_val *v)
{
	const unsigned char	*p = v->mv_data;
	struct qs_mhdr		*m = &l->l_m;

	if (v->mv_size < QS_LHDR_LEN || p[0] != QS_FMT || p[1] > PRIO_MAX)
		return (QS_CORRUPT);
	l->l_n = qs_be32_get(p + QS_MHDR_LEN);
	if (l->l_n == 0 || (v->mv_size - QS_LHDR_LEN) / 8 < l->l_n)
		return (QS_CORRUPT);
	m->m_prio = p[1];
	m->m_enqueued = qs_be64_get(p + 2);
	m->m_expires = qs_be64_get(p + 10);
	l->l_lane = qs_prio_lane(m->m_prio);
	l->l_qids = p + QS_LHDR_LEN;
	m->m_data = l->l_qids + 8 * (size_t)l->l_n;
	m->m_len = v->mv_size - QS_LHDR_LEN - 8 * (size_t)l->l_n;
	return (QS_OK);
}

/* The position of qid among a log entry's queues, or -1. */
static long
qs_lhdr_find(const struct qs_lhdr *l, uint64_t qid)
{
	uint32_t	 i;

	for (i = 0; i < l->l_n; i++)
		if (qs_be64_get(l->l_qids + 8 * (size_t)i) == qid)
			return ((long)i);
	return (-1);
}

/* Read u8/be16 len || bytes at *pp (end e) into out (size cap). */
static int
qs_push_field(const unsigned char **pp, const unsigned char *e, int wide,
    char *out, size_t cap)
{
	const unsigned char	*p = *pp;
	size_t			 n;

	if (p + (wide ? 2 : 1) > e)
		return (QS_CORRUPT);
	n = wide ? ((size_t)p[0] << 8 | p[1]) : p[0];
	p += wide ? 2 : 1;
	if (n >= cap || p + n > e)
		return (QS_CORRUPT);
	memcpy(out, p, n);
	out[n] = '\0';
	*pp = p + n;
	return (QS_OK);
}

static size_t
qs_push_encode(unsigned char *p, const char *platform, const char *app,
    const char *token, uint64_t now_ms)
{
	size_t	 n, off;

	p[0] = QS_FMT;
	qs_be64_put(p + 1, now_ms);
	off = 9 + qs_comp_put(p + 9, platform);
	off += qs_comp_put(p + off, app);
	n = strlen(token);
	p[off] = (unsigned char)(n >> 8);
	p[off + 1] = n & 0xff;
	memcpy(p + off + 2, token, n);
	return (off + 2 + n);
}

static int
qs_push_decode(struct qs_push *pu, const MDB_val *v)
{
	const unsigned char	*p = v->mv_data, *e = p + v->mv_size;

	if (v->mv_size < 9 || p[0] != QS_FMT)
		return (QS_CORRUPT);
	pu->p_registered = qs_be64_get(p + 1);
	p += 9;
	if (qs_push_field(&p, e, 0, pu->p_platform,
	    sizeof(pu->p_platform)) != QS_OK ||
	    qs_push_field(&p, e, 0, pu->p_app, sizeof(pu->p_app)) != QS_OK ||
	    qs_push_field(&p, e, 1, pu->p_token,
	    sizeof(pu->p_token)) != QS_OK || p != e)
		return (QS_CORRUPT);
	return (QS_OK);
}

/* ------------------------------------------------------------------ */
/* Message ids                                                         */
/* ------------------------------------------------------------------ */

/* qs_msgid_format: see qstore.h. */
void
qs_msgid_format(char *buf, int lane, uint64_t seq)
{
	static const char	 hex[] = "0123456789abcdef";
	int			 i;

	buf[0] = lane == QS_LANE_HIGH ? 'h' : 'n';
	for (i = 0; i < 16; i++)
		buf[16 - i] = hex[(seq >> (4 * i)) & 0xf];
	buf[QS_MSGID_LEN] = '\0';
}

int
qs_msgid_parse(const char *s, int *lane, uint64_t *seq)
{
	uint64_t	 v = 0;
	int		 i, d;

	if (s == NULL || (s[0] != 'h' && s[0] != 'n'))
		return (QS_BADID);
	for (i = 1; i < QS_MSGID_LEN; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else
			return (QS_BADID);	/* also stops at a NUL */
		v = v << 4 | (uint64_t)d;
	}
	if (s[QS_MSGID_LEN] != '\0' || v == 0)
		return (QS_BADID);
	*lane = s[0] == 'h' ? QS_LANE_HIGH : QS_LANE_NORMAL;
	*seq = v;
	return (QS_OK);
}

/* ------------------------------------------------------------------ */
/* Results and failure texts                                           */
/* ------------------------------------------------------------------ */

const char *
qs_strerror(int result)
{
	switch (result) {
	case QS_OK:
		return ("success");
	case QS_NOTFOUND:
		return ("not found");
	case QS_FULL:
		return ("device queue full");
	case QS_MAPFULL:
		return ("store full (LMDB map size reached)");
	case QS_TXNFULL:
		return ("batch too large (LMDB txn full)");
	case QS_READERSFULL:
		return ("no LMDB reader slot free");
	case QS_BADID:
		return ("invalid id");
	case QS_INVAL:
		return ("invalid argument");
	case QS_CORRUPT:
		return ("store record unreadable");
	case QS_SCHEMA:
		return ("store schema not supported");
	case QS_ERR:
		return ("store error");
	case QS_NOSPACE:
		return ("no space left on the store's disk");
	}
	return ("unknown result");
}

static int
qs_mdb_result(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return (QS_OK);
	case MDB_NOTFOUND:
		return (QS_NOTFOUND);
	case MDB_MAP_FULL:
		return (QS_MAPFULL);
	case MDB_TXN_FULL:
		return (QS_TXNFULL);
	case MDB_READERS_FULL:
		return (QS_READERSFULL);
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return (QS_CORRUPT);
	case ENOSPC:
	case EDQUOT:
		return (QS_NOSPACE);
	}
	return (QS_ERR);
}

static int
qs_seterr(struct qstore *qs, int result, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(qs->qs_err, sizeof(qs->qs_err), fmt, ap);
	va_end(ap);
	return (result);
}

/* Record an LMDB failure of call what; returns its result code. */
static int
qs_mdberr(struct qstore *qs, const char *what, int rc)
{
	return (qs_seterr(qs, qs_mdb_result(rc), "%s: %s", what,
	    mdb_strerror(rc)));
}

const char *
qs_lasterr(const struct qstore *qs)
{
	return (qs == NULL ? "no store" : qs->qs_err);
}

static void
qs_atfork_child(void)
{
	qs_forks++;
}

/* 1 if qs was opened by this process. */
static int
qs_mine(const struct qstore *qs)
{
	return (qs->qs_forkgen == qs_forks);
}

static int	qs_reopen(struct qstore *);
static int	qs_meta_get(struct qstore *, MDB_txn *, const char *,
		    uint64_t *);

/* QS_OK if the handle may be used in this process (and has an env:
 * after a failed reopen, the next call tries again). */
static int
qs_check(struct qstore *qs)
{
	if (qs == NULL)
		return (QS_ERR);
	if (!qs_mine(qs))
		return (qs_seterr(qs, QS_ERR, "store handle of pid %ld used "
		    "in pid %ld: open the store after fork",
		    (long)qs->qs_pid, (long)getpid()));
	if (qs->qs_env == NULL)
		return (qs_reopen(qs));
	return (QS_OK);
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */
/* ------------------------------------------------------------------ */

static void
qs_rtxn_drop(struct qstore *qs)
{
	if (qs->qs_rtxn != NULL) {
		mdb_txn_abort(qs->qs_rtxn);
		qs->qs_rtxn = NULL;
	}
}

/*
 * mdb_txn_begin with the recoveries every call site needs: another
 * process grew the map (adopt its size and retry), a full reader table
 * (clear dead readers and retry) and an env that LMDB gave up on
 * (reopen it and retry; see qs_reopen).
 */
static int
qs_txn_begin(struct qstore *qs, MDB_txn *parent, unsigned int flags,
    MDB_txn **txnp)
{
	int	 rc, dead, tries;

	for (tries = 0;; tries++) {
		rc = mdb_txn_begin(qs->qs_env, parent, flags, txnp);
		if (rc == MDB_SUCCESS)
			return (QS_OK);
		*txnp = NULL;
		if (tries >= QS_BEGIN_TRIES)
			break;
		if (rc == MDB_MAP_RESIZED && parent == NULL) {
			qs_rtxn_drop(qs);
			if ((rc = mdb_env_set_mapsize(qs->qs_env, 0)) != 0)
				return (qs_mdberr(qs, "mdb_env_set_mapsize",
				    rc));
			continue;
		}
		if (rc == MDB_READERS_FULL &&
		    mdb_reader_check(qs->qs_env, &dead) == 0 && dead > 0)
			continue;
		if (rc == MDB_PANIC && parent == NULL && !qs->qs_reopening) {
			if ((rc = qs_reopen(qs)) != QS_OK)
				return (rc);
			continue;
		}
		break;
	}
	return (qs_mdberr(qs, "mdb_txn_begin", rc));
}

/* The txn reads go through: the open sub or batch, else a read txn. */
static int
qs_rbegin(struct qstore *qs, MDB_txn **txnp)
{
	int	 rc;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if ((*txnp = qs->qs_sub != NULL ? qs->qs_sub : qs->qs_batch) != NULL)
		return (QS_OK);
	if (qs->qs_rtxn != NULL) {
		*txnp = qs->qs_rtxn;
		qs->qs_rtxn = NULL;
		if (mdb_txn_renew(*txnp) == MDB_SUCCESS)
			return (QS_OK);
		mdb_txn_abort(*txnp);
	}
	return (qs_txn_begin(qs, NULL, MDB_RDONLY, txnp));
}

/* End what qs_rbegin started; keeps the read txn reset for renew. */
static void
qs_rend(struct qstore *qs, MDB_txn *txn)
{
	if (txn == NULL || txn == qs->qs_sub || txn == qs->qs_batch)
		return;
	mdb_txn_reset(txn);
	if (qs->qs_rtxn == NULL)
		qs->qs_rtxn = txn;
	else
		mdb_txn_abort(txn);
}

/* The txn writes go into: the open sub, else the batch. */
static int
qs_wbegin(struct qstore *qs, MDB_txn **txnp)
{
	int	 rc;

	*txnp = NULL;
	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	memset(&qs->qs_fx, 0, sizeof(qs->qs_fx));
	if (qs->qs_sub != NULL) {
		*txnp = qs->qs_sub;
		return (qs->qs_sub_rc);
	}
	if (qs->qs_batch != NULL) {
		*txnp = qs->qs_batch;
		return (qs->qs_batch_rc);
	}
	return (qs_seterr(qs, QS_ERR, "write outside a batch"));
}

/* Finish a write operation: a failure that may have written poisons the
 * txn it ran in. */
static int
qs_wdone(struct qstore *qs, int rc)
{
	switch (rc) {
	case QS_OK:
	case QS_NOTFOUND:
	case QS_FULL:
	case QS_BADID:
	case QS_INVAL:
		return (rc);
	}
	if (qs->qs_sub != NULL) {
		if (qs->qs_sub_rc == QS_OK)
			qs->qs_sub_rc = rc;
	} else if (qs->qs_batch_rc == QS_OK)
		qs->qs_batch_rc = rc;
	return (rc);
}

int
qs_batch_begin(struct qstore *qs)
{
	int	 rc;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if (qs->qs_batch != NULL)
		return (qs_seterr(qs, QS_ERR, "a batch is already open"));
	if ((rc = qs_txn_begin(qs, NULL, 0, &qs->qs_batch)) != QS_OK)
		return (rc);
	qs->qs_batch_rc = QS_OK;
	qs->qs_ops = qs->qs_bytes = 0;
	qs->qs_jump_base = 0;
	qs->qs_seq_unsafe = 0;
	return (QS_OK);
}

/*
 * Commit txn (a top-level write txn) and flush the meta page that makes
 * it the store's newest state, outside LMDB's writer lock (see the
 * invariants at the top).  QS_OK once it is on disk; else the failure,
 * what names the commit in the error text.  A failed flush leaves the
 * txn committed but maybe not on disk: its requests are answered as
 * failed (a retry may store a message twice, which at-least-once
 * allows).
 */
static int
qs_commit(struct qstore *qs, MDB_txn *txn, const char *what)
{
	int	 rc;

	if ((rc = mdb_txn_commit(txn)) != MDB_SUCCESS)
		return (qs_mdberr(qs, what, rc));
	if ((rc = mdb_env_sync(qs->qs_env, 1)) != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_env_sync", rc));
	return (QS_OK);
}

int
qs_batch_commit(struct qstore *qs)
{
	MDB_txn		*txn;
	uint64_t	 stored;
	int		 rc, jumped;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if ((txn = qs->qs_batch) == NULL)
		return (qs_seterr(qs, QS_ERR, "no batch open"));
	qs_sub_abort(qs);
	qs->qs_batch = NULL;
	qs->qs_ops = qs->qs_bytes = 0;
	if (qs->qs_batch_rc != QS_OK) {
		mdb_txn_abort(txn);
		return (qs->qs_batch_rc);
	}
	/* the run's jump is durable once a commit stores a counter past it */
	jumped = qs->qs_jump_base != 0 && qs_meta_get(qs, txn, "next_seq",
	    &stored) == QS_OK && stored > qs->qs_jump_base;
	if ((rc = qs_commit(qs, txn, "mdb_txn_commit")) == QS_OK && jumped)
		atomic_store_explicit(qs->qs_seq_jumped, 1,
		    memory_order_release);
	return (rc);
}

void
qs_batch_abort(struct qstore *qs)
{
	if (qs == NULL || qs->qs_batch == NULL || qs_check(qs) != QS_OK)
		return;
	qs_sub_abort(qs);
	mdb_txn_abort(qs->qs_batch);
	qs->qs_batch = NULL;
	qs->qs_ops = qs->qs_bytes = 0;
}

int
qs_batch_failed(const struct qstore *qs)
{
	return (qs != NULL && qs->qs_batch != NULL ? qs->qs_batch_rc : QS_OK);
}

int
qs_batch_active(const struct qstore *qs)
{
	return (qs != NULL && qs->qs_batch != NULL);
}

void
qs_batch_size(const struct qstore *qs, size_t *ops, size_t *bytes)
{
	int	 on = qs != NULL && qs->qs_batch != NULL;

	if (ops != NULL)
		*ops = on ? qs->qs_ops : 0;
	if (bytes != NULL)
		*bytes = on ? qs->qs_bytes : 0;
}

int
qs_sub_begin(struct qstore *qs)
{
	int	 rc;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if (qs->qs_batch == NULL || qs->qs_sub != NULL)
		return (qs_seterr(qs, QS_ERR, "qs_sub_begin needs a batch "
		    "and no open sub"));
	if (qs->qs_batch_rc != QS_OK)
		return (qs->qs_batch_rc);
	if ((rc = qs_txn_begin(qs, qs->qs_batch, 0, &qs->qs_sub)) != QS_OK)
		return (rc);
	qs->qs_sub_rc = QS_OK;
	qs->qs_sub_ops = qs->qs_ops;
	qs->qs_sub_bytes = qs->qs_bytes;
	return (QS_OK);
}

int
qs_sub_commit(struct qstore *qs)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if ((txn = qs->qs_sub) == NULL)
		return (qs_seterr(qs, QS_ERR, "no sub open"));
	if (qs->qs_sub_rc != QS_OK) {
		qs_sub_abort(qs);
		return (qs->qs_sub_rc);
	}
	qs->qs_sub = NULL;
	if ((rc = mdb_txn_commit(txn)) != MDB_SUCCESS) {
		qs->qs_ops = qs->qs_sub_ops;
		qs->qs_bytes = qs->qs_sub_bytes;
		rc = qs_mdberr(qs, "mdb_txn_commit (nested)", rc);
		qs->qs_batch_rc = rc;
		return (rc);
	}
	return (QS_OK);
}

void
qs_sub_abort(struct qstore *qs)
{
	if (qs == NULL || qs->qs_sub == NULL || qs_check(qs) != QS_OK)
		return;
	mdb_txn_abort(qs->qs_sub);
	qs->qs_sub = NULL;
	qs->qs_ops = qs->qs_sub_ops;
	qs->qs_bytes = qs->qs_sub_bytes;
}

/* ------------------------------------------------------------------ */
/* Record access                                                       */
/* ------------------------------------------------------------------ */

static int
qs_get(struct qstore *qs, MDB_txn *txn, int db, const void *k, size_t klen,
    MDB_val *v)
{
	MDB_val	 key;
	int	 rc;

	key.mv_data = (void *)k;
	key.mv_size = klen;
	if ((rc = mdb_get(txn, qs->qs_dbi[db], &key, v)) == MDB_SUCCESS)
		return (QS_OK);
	if (rc == MDB_NOTFOUND)
		return (QS_NOTFOUND);
	return (qs_mdberr(qs, "mdb_get", rc));
}

/* Put klen + vlen bytes; with data NULL only reserve, *out gets room. */
static int
qs_put(struct qstore *qs, MDB_txn *txn, int db, const void *k, size_t klen,
    const void *data, size_t vlen, void **out)
{
	MDB_val	 key, val;
	int	 rc;

	key.mv_data = (void *)k;
	key.mv_size = klen;
	val.mv_data = (void *)data;
	val.mv_size = vlen;
	rc = mdb_put(txn, qs->qs_dbi[db], &key, &val,
	    data == NULL ? MDB_RESERVE : 0);
	if (rc != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_put", rc));
	if (out != NULL)
		*out = val.mv_data;
	qs->qs_ops++;
	qs->qs_bytes += klen + vlen;
	return (QS_OK);
}

static int
qs_del(struct qstore *qs, MDB_txn *txn, int db, const void *k, size_t klen)
{
	MDB_val	 key;
	int	 rc;

	key.mv_data = (void *)k;
	key.mv_size = klen;
	if ((rc = mdb_del(txn, qs->qs_dbi[db], &key, NULL)) == MDB_NOTFOUND)
		return (QS_NOTFOUND);
	if (rc != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_del", rc));
	qs->qs_ops++;
	return (QS_OK);
}

static int
qs_cursor(struct qstore *qs, MDB_txn *txn, int db, MDB_cursor **cp)
{
	int	 rc;

	if ((rc = mdb_cursor_open(txn, qs->qs_dbi[db], cp)) != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_cursor_open", rc));
	return (QS_OK);
}

/*
 * Step a cursor through the keys that start with the first plen bytes of
 * start (slen bytes): when first is set, to the first such key >= start,
 * else to the next.  QS_NOTFOUND past the last.
 */
static int
qs_prefix_step(struct qstore *qs, MDB_cursor *c, const unsigned char *start,
    size_t slen, size_t plen, int first, MDB_val *k, MDB_val *v)
{
	const unsigned char	*pfx = start;
	int			 rc;

	if (first) {
		k->mv_data = (void *)start;
		k->mv_size = slen;
	}
	rc = mdb_cursor_get(c, k, v, first ? MDB_SET_RANGE : MDB_NEXT);
	if (rc == MDB_NOTFOUND)
		return (QS_NOTFOUND);
	if (rc != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_cursor_get", rc));
	if (k->mv_size < plen || memcmp(k->mv_data, pfx, plen) != 0)
		return (QS_NOTFOUND);
	return (QS_OK);
}

static int
qs_queue_get(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    struct qs_queue *q)
{
	MDB_val	 v;
	int	 rc;

	if ((rc = qs_get(qs, txn, QS_DB_QUEUES, k->k_buf, k->k_len, &v)) !=
	    QS_OK)
		return (rc);
	if (qs_queue_decode(q, &v) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad queues record"));
	return (QS_OK);
}

static int
qs_queue_put(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    const struct qs_queue *q)
{
	unsigned char	 buf[QS_QVAL_LEN];

	qs_queue_encode(buf, q);
	return (qs_put(qs, txn, QS_DB_QUEUES, k->k_buf, k->k_len, buf,
	    sizeof(buf), NULL));
}

/* Take one message of len envelope bytes off a queue's totals. */
static void
qs_queue_sub(struct qs_queue *q, size_t len)
{
	if (q->q_count > 0)
		q->q_count--;
	q->q_bytes -= len < q->q_bytes ? len : q->q_bytes;
}

/* Read the meta counter name into *val; missing is QS_NOTFOUND. */
static int
qs_meta_get(struct qstore *qs, MDB_txn *txn, const char *name,
    uint64_t *val)
{
	MDB_val	 v;
	int	 rc;

	if ((rc = qs_get(qs, txn, QS_DB_META, name, strlen(name), &v)) !=
	    QS_OK)
		return (rc);
	if (v.mv_size != QS_SEQ_LEN || ((unsigned char *)v.mv_data)[0] !=
	    QS_FMT)
		return (qs_seterr(qs, QS_CORRUPT, "bad meta %s", name));
	*val = qs_be64_get((unsigned char *)v.mv_data + 1);
	return (QS_OK);
}

static int
qs_meta_put(struct qstore *qs, MDB_txn *txn, const char *name, uint64_t val)
{
	unsigned char	 buf[QS_SEQ_LEN];

	buf[0] = QS_FMT;
	qs_be64_put(buf + 1, val);
	return (qs_put(qs, txn, QS_DB_META, name, strlen(name), buf,
	    sizeof(buf), NULL));
}

/* Draw the next value of the meta counter name (next_qid, next_seq). */
static int
qs_meta_next(struct qstore *qs, MDB_txn *txn, const char *name,
    uint64_t *val)
{
	int	 rc;

	if ((rc = qs_meta_get(qs, txn, name, val)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT,
		    "meta %s missing", name) : rc);
	return (qs_meta_put(qs, txn, name, *val + 1));
}

/*
 * Draw the next message seq: the stored counter, or the run's high-water
 * mark when that is ahead (a rolled-back txn drew seqs the counter
 * forgot), plus QS_SEQ_JUMP until a jump of this run is durable.  See
 * qs_seq_floor.
 */
static int
qs_seq_next(struct qstore *qs, MDB_txn *txn, uint64_t *seq)
{
	uint64_t	 stored, base, hw;
	int		 rc;

	if ((rc = qs_meta_get(qs, txn, "next_seq", &stored)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT,
		    "meta next_seq missing") : rc);
	base = stored;
	if (qs->qs_seq_hw != NULL) {
		hw = atomic_load_explicit(qs->qs_seq_hw, memory_order_acquire);
		if (hw > base)
			base = hw;
		if (atomic_load_explicit(qs->qs_seq_jumped,
		    memory_order_acquire) == 0) {
			if (base > UINT64_MAX / 2)
				return (qs_seterr(qs, QS_CORRUPT,
				    "message seqs exhausted"));
			base += QS_SEQ_JUMP;
			qs->qs_jump_base = base;
			qs->qs_seq_unsafe = 1;
		} else if (base - stored >= QS_SEQ_JUMP / 2)
			qs->qs_seq_unsafe = 1;
		/* only writers holding LMDB's write lock get here */
		atomic_store_explicit(qs->qs_seq_hw, base + 1,
		    memory_order_release);
	}
	*seq = base;
	return (qs_meta_put(qs, txn, "next_seq", base + 1));
}

/* qs_seq_floor: see qstore.h. */
void
qs_seq_floor(struct qstore *qs, _Atomic uint64_t *hw,
    _Atomic uint32_t *jumped)
{
	qs->qs_seq_hw = jumped != NULL ? hw : NULL;
	qs->qs_seq_jumped = hw != NULL ? jumped : NULL;
}

/* qs_batch_publishable: see qstore.h. */
int
qs_batch_publishable(const struct qstore *qs)
{
	return (qs != NULL && qs->qs_batch != NULL && qs->qs_seq_hw != NULL &&
	    !qs->qs_seq_unsafe && atomic_load_explicit(qs->qs_seq_jumped,
	    memory_order_acquire) != 0);
}

/* Count one held queue more (delta 1) or fewer (-1) in meta. */
static int
qs_held_adjust(struct qstore *qs, MDB_txn *txn, int delta)
{
	uint64_t	 n;
	int		 rc;

	if ((rc = qs_meta_get(qs, txn, "held_queues", &n)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT,
		    "meta held_queues missing") : rc);
	if (delta < 0 && n == 0)
		return (QS_OK);
	return (qs_meta_put(qs, txn, "held_queues", n + (uint64_t)delta));
}

/* Create the queue record of key k (unknown so far) and its qids entry. */
static int
qs_queue_create(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    uint64_t now_ms, struct qs_queue *q)
{
	unsigned char	 qb[8], vb[1 + QS_QKEY_MAX];
	int		 rc;

	memset(q, 0, sizeof(*q));
	if ((rc = qs_meta_next(qs, txn, "next_qid", &q->q_qid)) != QS_OK)
		return (rc);
	q->q_created = q->q_seen = now_ms;
	if ((rc = qs_queue_put(qs, txn, k, q)) != QS_OK)
		return (rc);
	qs_be64_put(qb, q->q_qid);
	vb[0] = QS_FMT;
	memcpy(vb + 1, k->k_buf, k->k_len);
	return (qs_put(qs, txn, QS_DB_QIDS, qb, sizeof(qb), vb, 1 + k->k_len,
	    NULL));
}

static int	 qs_adopt(struct qstore *, MDB_txn *, const struct qs_qkey *,
		    struct qs_queue *, uint64_t);
static int	 qs_log_remove(struct qstore *, MDB_txn *, struct qs_queue *,
		    int, uint64_t, size_t *);

/*
 * The queue of device key k: create it if unknown, adopting what is held
 * for its user, else refresh its last-seen time once it is min_age ms
 * old.  The effects are recorded in qs_fx.
 */
static int
qs_queue_ensure(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    uint64_t now_ms, uint64_t min_age)
{
	struct qs_queue	 q;
	int		 rc;

	rc = qs_queue_get(qs, txn, k, &q);
	if (rc == QS_NOTFOUND) {
		if ((rc = qs_queue_create(qs, txn, k, now_ms, &q)) != QS_OK)
			return (rc);
		qs->qs_fx.ef_created = 1;
		return (qs_adopt(qs, txn, k, &q, now_ms));
	}
	if (rc != QS_OK || now_ms < q.q_seen || now_ms - q.q_seen < min_age)
		return (rc);
	q.q_seen = now_ms;
	return (qs_queue_put(qs, txn, k, &q));
}

/* The queue record of queue id qid, through qids; *k gets its key. */
static int
qs_queue_by_qid(struct qstore *qs, MDB_txn *txn, uint64_t qid,
    struct qs_qkey *k, struct qs_queue *q)
{
	unsigned char	 qb[8];
	MDB_val		 v;
	int		 rc;

	qs_be64_put(qb, qid);
	if ((rc = qs_get(qs, txn, QS_DB_QIDS, qb, sizeof(qb), &v)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT,
		    "qids entry missing for queue %llu",
		    (unsigned long long)qid) : rc);
	if (v.mv_size < 4 || v.mv_size > 1 + QS_QKEY_MAX ||
	    ((unsigned char *)v.mv_data)[0] != QS_FMT)
		return (qs_seterr(qs, QS_CORRUPT, "bad qids record"));
	k->k_len = v.mv_size - 1;
	memcpy(k->k_buf, (unsigned char *)v.mv_data + 1, k->k_len);
	if ((rc = qs_queue_get(qs, txn, k, q)) != QS_OK || q->q_qid != qid)
		return (rc == QS_OK || rc == QS_NOTFOUND ? qs_seterr(qs,
		    QS_CORRUPT, "qids and queues disagree") : rc);
	return (QS_OK);
}

/* Delete the message at msgs key mk; *len gets its envelope length.
 * QS_NOTFOUND if there is no such message. */
static int
qs_msg_del(struct qstore *qs, MDB_txn *txn, const unsigned char *mk,
    size_t *len)
{
	struct qs_mhdr	 m;
	MDB_val		 v;
	int		 rc;

	if ((rc = qs_get(qs, txn, QS_DB_MSGS, mk, QS_MKEY_LEN, &v)) != QS_OK)
		return (rc);
	if (qs_mhdr_decode(&m, &v) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad msgs record"));
	*len = m.m_len;
	rc = qs_del(qs, txn, QS_DB_MSGS, mk, QS_MKEY_LEN);
	return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
}

/* The head (first message) of a lane: its key into mk, its expiry and
 * envelope length.  QS_NOTFOUND if the lane is empty. */
static int
qs_lane_first(struct qstore *qs, MDB_txn *txn, uint64_t qid, int lane,
    unsigned char *mk, struct qs_mhdr *m)
{
	unsigned char	 start[QS_MKEY_LEN];
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	qs_mkey_make(start, qid, lane, 0);
	if ((rc = qs_cursor(qs, txn, QS_DB_MSGS, &c)) != QS_OK)
		return (rc);
	rc = qs_prefix_step(qs, c, start, sizeof(start), 9, 1, &k, &v);
	if (rc == QS_OK && (k.mv_size != QS_MKEY_LEN ||
	    qs_mhdr_decode(m, &v) != QS_OK))
		rc = qs_seterr(qs, QS_CORRUPT, "bad msgs record");
	if (rc == QS_OK)
		memcpy(mk, k.mv_data, QS_MKEY_LEN);
	mdb_cursor_close(c);
	return (rc);
}

static void
qs_xkey_make(unsigned char *p, uint64_t expires, uint64_t qid, int lane)
{
	qs_be64_put(p, expires);
	qs_be64_put(p + 8, qid);
	p[16] = (unsigned char)lane;
}

/*
 * Make the expiry index agree with the head of a lane: one entry keyed by
 * the head's expiry, none when the lane is empty or its head never
 * expires.  q->q_head is updated; the caller writes the queue record.
 */
static int
qs_lane_reindex(struct qstore *qs, MDB_txn *txn, struct qs_queue *q,
    int lane)
{
	unsigned char	 mk[QS_MKEY_LEN], xk[QS_XKEY_LEN], fmt = QS_FMT;
	struct qs_mhdr	 m;
	uint64_t	 head = 0;
	int		 rc;

	rc = qs_lane_first(qs, txn, q->q_qid, lane, mk, &m);
	if (rc == QS_OK)
		head = m.m_expires;
	else if (rc != QS_NOTFOUND)
		return (rc);
	if (head == q->q_head[lane])
		return (QS_OK);
	if (q->q_head[lane] != 0) {
		qs_xkey_make(xk, q->q_head[lane], q->q_qid, lane);
		rc = qs_del(qs, txn, QS_DB_EXPIRY, xk, sizeof(xk));
		if (rc != QS_OK && rc != QS_NOTFOUND)
			return (rc);
	}
	q->q_head[lane] = head;
	if (head == 0)
		return (QS_OK);
	qs_xkey_make(xk, head, q->q_qid, lane);
	return (qs_put(qs, txn, QS_DB_EXPIRY, xk, sizeof(xk), &fmt, 1, NULL));
}

/* After deletions: reindex both lane heads, then write the record. */
static int
qs_queue_fix(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    struct qs_queue *q)
{
	int	 lane, rc;

	for (lane = 0; lane < QS_NLANES; lane++)
		if ((rc = qs_lane_reindex(qs, txn, q, lane)) != QS_OK)
			return (rc);
	return (qs_queue_put(qs, txn, k, q));
}

/* ------------------------------------------------------------------ */
/* Push jobs (the outbox) and their due index                          */
/* ------------------------------------------------------------------ */

static void
qs_job_encode(unsigned char *p, const struct qs_job *j)
{
	p[0] = QS_FMT;
	qs_be32_put(p + 1, j->j_gen);
	p[5] = j->j_pending ? 1 : 0;
	qs_be32_put(p + 6, j->j_attempts);
	qs_be32_put(p + 10, j->j_high);
	qs_be64_put(p + 14, j->j_since);
	qs_be64_put(p + 22, j->j_due);
	qs_be64_put(p + 30, j->j_last_push);
	qs_be64_put(p + 38, j->j_last_msg);
}

static int
qs_job_decode(struct qs_job *j, const MDB_val *v)
{
	const unsigned char	*p = v->mv_data;

	if (v->mv_size != QS_JOB_LEN || p[0] != QS_FMT || p[5] > 1)
		return (QS_CORRUPT);
	j->j_gen = qs_be32_get(p + 1);
	j->j_pending = p[5];
	j->j_attempts = qs_be32_get(p + 6);
	j->j_high = qs_be32_get(p + 10);
	j->j_since = qs_be64_get(p + 14);
	j->j_due = qs_be64_get(p + 22);
	j->j_last_push = qs_be64_get(p + 30);
	j->j_last_msg = qs_be64_get(p + 38);
	return (QS_OK);
}

/* The outdue key of a job of device key k due at due; its length. */
static size_t
qs_dkey_make(unsigned char *p, uint64_t due, const struct qs_qkey *k)
{
	qs_be64_put(p, due);
	memcpy(p + 8, k->k_buf, k->k_len);
	return (8 + k->k_len);
}

/* The job of device key k; QS_NOTFOUND if it has none. */
static int
qs_job_get(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    struct qs_job *j)
{
	MDB_val	 v;
	int	 rc;

	if ((rc = qs_get(qs, txn, QS_DB_OUTBOX, k->k_buf, k->k_len, &v)) !=
	    QS_OK)
		return (rc);
	if (qs_job_decode(j, &v) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad outbox record"));
	return (QS_OK);
}

/* Delete the due index entry of job j (of key k) if it is pending. */
static int
qs_job_unindex(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    const struct qs_job *j)
{
	unsigned char	 dk[QS_DKEY_MAX];
	size_t		 n;
	int		 rc;

	if (!j->j_pending)
		return (QS_OK);
	n = qs_dkey_make(dk, j->j_due, k);
	rc = qs_del(qs, txn, QS_DB_OUTDUE, dk, n);
	return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT, "outdue entry "
	    "missing") : rc);
}

/*
 * Write job j of key k, which was old (NULL: it had none), and make the
 * due index agree: an entry at j's due time if it is pending, none else.
 */
static int
qs_job_put(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    const struct qs_job *old, const struct qs_job *j)
{
	unsigned char	 dk[QS_DKEY_MAX], dv[9], jv[QS_JOB_LEN];
	size_t		 n;
	int		 rc, same;

	same = old != NULL && old->j_pending && j->j_pending &&
	    old->j_due == j->j_due && old->j_since == j->j_since;
	if (!same && old != NULL &&
	    (rc = qs_job_unindex(qs, txn, k, old)) != QS_OK)
		return (rc);
	if (!same && j->j_pending) {
		n = qs_dkey_make(dk, j->j_due, k);
		dv[0] = QS_FMT;
		qs_be64_put(dv + 1, j->j_since);
		if ((rc = qs_put(qs, txn, QS_DB_OUTDUE, dk, n, dv, sizeof(dv),
		    NULL)) != QS_OK)
			return (rc);
	}
	qs_job_encode(jv, j);
	return (qs_put(qs, txn, QS_DB_OUTBOX, k->k_buf, k->k_len, jv,
	    sizeof(jv), NULL));
}

/* Delete the job of key k and its due index entry (none: QS_OK). */
static int
qs_job_delete(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k)
{
	struct qs_job	 j;
	int		 rc;

	if ((rc = qs_job_get(qs, txn, k, &j)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_OK : rc);
	if ((rc = qs_job_unindex(qs, txn, k, &j)) != QS_OK)
		return (rc);
	rc = qs_del(qs, txn, QS_DB_OUTBOX, k->k_buf, k->k_len);
	return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
}

/* a + b, or UINT64_MAX when that does not fit. */
static uint64_t
qs_add_sat(uint64_t a, uint64_t b)
{
	return (b > UINT64_MAX - a ? UINT64_MAX : a + b);
}

/* Make j, an idle job, pending since now_ms and due at due. */
static void
qs_job_wake(struct qs_job *j, uint64_t now_ms, uint64_t due)
{
	j->j_pending = 1;
	j->j_since = now_ms;
	j->j_attempts = 0;
	j->j_due = due;
}

/* Make j idle: nothing to announce. */
static void
qs_job_sleep(struct qs_job *j)
{
	j->j_pending = 0;
	j->j_attempts = 0;
	j->j_high = 0;
	j->j_since = j->j_due = 0;
}

/* A message of priority prio for the device of key k, which has a push
 * target, at now_ms: see qs_push_config. */
static int
qs_job_message(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    int prio, uint64_t now_ms)
{
	struct qs_job	 old, j;
	uint64_t	 due;
	int		 rc, high = prio >= PRIO_HIGH;

	memset(&old, 0, sizeof(old));
	if ((rc = qs_job_get(qs, txn, k, &old)) != QS_OK && rc != QS_NOTFOUND)
		return (rc);
	j = old;
	j.j_gen++;
	j.j_last_msg = now_ms;
	if (high)
		j.j_high = j.j_gen;
	if (!j.j_pending) {
		due = now_ms;
		if (!high && j.j_last_push != 0 &&
		    qs_add_sat(j.j_last_push, qs->qs_coalesce) > now_ms)
			due = qs_add_sat(j.j_last_push, qs->qs_coalesce);
		qs_job_wake(&j, now_ms, due);
	} else if (high && j.j_due > now_ms)
		j.j_due = now_ms;
	return (qs_job_put(qs, txn, k, rc == QS_OK ? &old : NULL, &j));
}

/*
 * With the outbox on: a message of priority prio reached the devices of
 * the user (key prefix pfx, plen bytes); bring the job of each one that
 * has a push target up to date.
 */
static int
qs_outbox_enqueue(struct qstore *qs, MDB_txn *txn, const unsigned char *pfx,
    size_t plen, int prio, uint64_t now_ms)
{
	struct qs_qkey	 k;
	MDB_cursor	*c;
	MDB_val		 key, v;
	int		 rc, first;

	if ((rc = qs_cursor(qs, txn, QS_DB_PUSH, &c)) != QS_OK)
		return (rc);
	for (first = 1; (rc = qs_prefix_step(qs, c, pfx, plen, plen, first,
	    &key, &v)) == QS_OK; first = 0) {
		if (key.mv_size > QS_QKEY_MAX) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad push key");
			break;
		}
		memcpy(k.k_buf, key.mv_data, key.mv_size);
		k.k_len = key.mv_size;
		if ((rc = qs_job_message(qs, txn, &k, prio, now_ms)) != QS_OK)
			break;
	}
	mdb_cursor_close(c);
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static void
qs_sleep_ms(unsigned int ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* One attempt at creating and opening the env; an LMDB/errno code. */
static int
qs_env_try(struct qstore *qs, const char *dir, uint64_t mapsize)
{
	MDB_env	*env;
	int	 rc;

	if ((rc = mdb_env_create(&env)) != MDB_SUCCESS)
		return (rc);
	if ((rc = mdb_env_set_mapsize(env, (size_t)mapsize)) == 0 &&
	    (rc = mdb_env_set_maxreaders(env, QS_MAXREADERS)) == 0 &&
	    (rc = mdb_env_set_maxdbs(env, QS_MAXDBS)) == 0 &&
	    (rc = mdb_env_open(env, dir, QS_ENV_FLAGS, QS_FILE_MODE)) == 0) {
		qs->qs_env = env;
		return (MDB_SUCCESS);
	}
	mdb_env_close(env);
	return (rc);
}

/* Open the env, retrying while another process opens or closes it. */
static int
qs_env_open(struct qstore *qs, const char *dir, uint64_t mapsize)
{
	unsigned int	 delay = QS_OPEN_DELAY;
	int		 i, rc;

	for (i = 1;; i++) {
		if ((rc = qs_env_try(qs, dir, mapsize)) == MDB_SUCCESS)
			return (QS_OK);
		if ((rc != EAGAIN && rc != EBUSY) || i >= QS_OPEN_TRIES)
			break;
		qs_sleep_ms(delay);
		delay *= 2;
	}
	return (qs_seterr(qs, qs_mdb_result(rc), "mdb_env_open %s: %s", dir,
	    mdb_strerror(rc)));
}

/* A fresh env (nothing in the main DB): create meta and its records. */
static int
qs_schema_create(struct qstore *qs, MDB_txn *txn)
{
	unsigned char	 sv[QS_SCHEMA_LEN], qv[QS_SEQ_LEN];
	MDB_dbi		 main_dbi;
	MDB_stat	 st;
	int		 rc;

	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
	    (rc = mdb_stat(txn, main_dbi, &st)) != 0)
		return (qs_mdberr(qs, "mdb_stat", rc));
	if (st.ms_entries != 0)
		return (qs_seterr(qs, QS_SCHEMA, "the environment holds other "
		    "databases and no schema record: not a routingd store"));
	if ((rc = mdb_dbi_open(txn, qs_db_names[QS_DB_META], MDB_CREATE,
	    &qs->qs_dbi[QS_DB_META])) != 0)
		return (qs_mdberr(qs, "mdb_dbi_open meta", rc));
	sv[0] = QS_FMT;
	qs_be32_put(sv + 1, QS_SCHEMA_VERSION);
	qv[0] = QS_FMT;
	qs_be64_put(qv + 1, 1);
	if ((rc = qs_put(qs, txn, QS_DB_META, "schema", 6, sv, sizeof(sv),
	    NULL)) != QS_OK ||
	    (rc = qs_put(qs, txn, QS_DB_META, "next_seq", 8, qv, sizeof(qv),
	    NULL)) != QS_OK ||
	    (rc = qs_meta_put(qs, txn, "held_queues", 0)) != QS_OK ||
	    (rc = qs_meta_put(qs, txn, "outbox_dropped", 0)) != QS_OK)
		return (rc);
	return (qs_put(qs, txn, QS_DB_META, "next_qid", 8, qv, sizeof(qv),
	    NULL));
}

/*
 * Check (or on a fresh env write) the schema record; *ver gets the
 * version found (QS_SCHEMA_VERSION for a fresh env).
 */
static int
qs_schema_check(struct qstore *qs, MDB_txn *txn, uint32_t *ver)
{
	const unsigned char	*p;
	MDB_val			 v;
	int			 rc;

	*ver = QS_SCHEMA_VERSION;
	rc = mdb_dbi_open(txn, qs_db_names[QS_DB_META], 0,
	    &qs->qs_dbi[QS_DB_META]);
	if (rc == MDB_NOTFOUND)
		return (qs_schema_create(qs, txn));
	if (rc != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_dbi_open meta", rc));
	if ((rc = qs_get(qs, txn, QS_DB_META, "schema", 6, &v)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_SCHEMA,
		    "no schema record: not a routingd store") : rc);
	p = v.mv_data;
	if (v.mv_size != QS_SCHEMA_LEN || p[0] != QS_FMT)
		return (qs_seterr(qs, QS_SCHEMA, "unknown schema record "
		    "format (%zu bytes, version byte %u)", v.mv_size, p[0]));
	if ((*ver = qs_be32_get(p + 1)) > QS_SCHEMA_VERSION)
		return (qs_seterr(qs, QS_SCHEMA, "store schema %u is newer "
		    "than this routingd (schema %u): upgrade routingd",
		    *ver, QS_SCHEMA_VERSION));
	if (*ver == 1 || *ver == 2)
		return (qs_seterr(qs, QS_SCHEMA, "store schema %u was written "
		    "by a pre-release routingd and is not migrated: move the "
		    "data directory away", *ver));
	if (*ver < 3)
		return (qs_seterr(qs, QS_SCHEMA, "unknown store schema %u",
		    *ver));
	return (QS_OK);
}

/*
 * Schema 3 to 4, in the open txn (qs_migrate4 follows): every queues
 * value gains the drop
 * marker (format 4), the meta counter of held queues starts at 0 (schema
 * 3 had none: its "default" queues made by sends stay devices), and
 * every device counts as seen now: schema 3 refreshed last-seen times
 * only on connects, so they would make device_idle_ttl forget devices
 * in use.
 */
static int
qs_migrate3(struct qstore *qs, MDB_txn *txn, uint64_t now_ms)
{
	unsigned char	 kb[QS_QKEY_MAX], vb[QS_QVAL_LEN];
	struct qs_queue	 q;
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc = QS_OK, mrc, op;

	if ((rc = qs_cursor(qs, txn, QS_DB_QUEUES, &c)) != QS_OK)
		return (rc);
	for (op = MDB_FIRST; (mrc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size > sizeof(kb) ||
		    qs_queue_decode_fmt(&q, &v, 1) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad schema 3 queues "
			    "record");
			break;
		}
		if (q.q_seen < now_ms)
			q.q_seen = now_ms;
		memcpy(kb, k.mv_data, k.mv_size);
		k.mv_data = kb;
		qs_queue_encode(vb, &q);
		v.mv_data = vb;
		v.mv_size = sizeof(vb);
		if ((mrc = mdb_cursor_put(c, &k, &v, MDB_CURRENT)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc == QS_OK && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "migrating queues", mrc);
	if (rc == QS_OK)
		rc = qs_meta_put(qs, txn, "held_queues", 0);
	return (rc);
}

/*
 * Schema 4 to 5, in the open txn, once the DBIs are open (outbox and
 * outdue were just created empty): meta gains the counter of dropped
 * push jobs and the schema record is rewritten.  Push targets get their
 * jobs from their next message.
 */
static int
qs_migrate4(struct qstore *qs, MDB_txn *txn)
{
	unsigned char	 sv[QS_SCHEMA_LEN];
	int		 rc;

	if ((rc = qs_meta_put(qs, txn, "outbox_dropped", 0)) != QS_OK)
		return (rc);
	sv[0] = QS_FMT;
	qs_be32_put(sv + 1, QS_SCHEMA_VERSION);
	return (qs_put(qs, txn, QS_DB_META, "schema", 6, sv, sizeof(sv),
	    NULL));
}

static uint64_t
qs_now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/*
 * In one write txn: check the schema, open (create) every DBI, migrate
 * an older schema.
 */
static int
qs_schema_setup(struct qstore *qs)
{
	MDB_txn		*txn;
	uint32_t	 ver = 0;
	int		 i, rc;

	if ((rc = qs_txn_begin(qs, NULL, 0, &txn)) != QS_OK)
		return (rc);
	rc = qs_schema_check(qs, txn, &ver);
	for (i = QS_DB_META + 1; rc == QS_OK && i < QS_DB_COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, qs_db_names[i], MDB_CREATE,
		    &qs->qs_dbi[i])) != MDB_SUCCESS)
			rc = qs_mdberr(qs, "mdb_dbi_open", rc);
	}
	if (rc == QS_OK && ver == 3)
		rc = qs_migrate3(qs, txn, qs_now_ms());
	if (rc == QS_OK && ver < 5)
		rc = qs_migrate4(qs, txn);
	if (rc != QS_OK) {
		mdb_txn_abort(txn);
		return (rc);
	}
	return (qs_commit(qs, txn, "mdb_txn_commit (open)"));
}

/* Everything qs_open does once the handle exists. */
static int
qs_open_steps(struct qstore *qs, const char *dir, uint64_t mapsize)
{
	int	 rc;

	if (!qs_atfork_set) {
		if ((rc = pthread_atfork(NULL, NULL, qs_atfork_child)) != 0)
			return (qs_seterr(qs, QS_ERR, "pthread_atfork: %s",
			    strerror(rc)));
		qs_atfork_set = 1;
	}
	qs->qs_pid = getpid();
	qs->qs_forkgen = qs_forks;
	if (dir == NULL || mapsize > SIZE_MAX)
		return (qs_seterr(qs, QS_INVAL, "bad directory or map size"));
	if (mkdir(dir, QS_DIR_MODE) == -1 && errno != EEXIST)
		return (qs_seterr(qs, QS_ERR, "mkdir %s: %s", dir,
		    strerror(errno)));
	if ((qs->qs_dir = strdup(dir)) == NULL)
		return (qs_seterr(qs, QS_ERR, "out of memory"));
	qs->qs_mapsize = mapsize;
	if ((rc = qs_env_open(qs, dir, mapsize)) != QS_OK)
		return (rc);
	if ((rc = mdb_reader_check(qs->qs_env, NULL)) != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_reader_check", rc));
	return (qs_schema_setup(qs));
}

struct qstore *
qs_open(const char *dir, uint64_t mapsize, const char **errstr)
{
	struct qstore	*qs;

	if ((qs = calloc(1, sizeof(*qs))) == NULL) {
		(void)snprintf(qs_static_err, sizeof(qs_static_err),
		    "out of memory");
		goto fail;
	}
	if (qs_open_steps(qs, dir, mapsize != 0 ? mapsize :
	    QS_DEFAULT_MAPSIZE) == QS_OK) {
		qs->qs_ops = qs->qs_bytes = 0;
		return (qs);
	}
	(void)snprintf(qs_static_err, sizeof(qs_static_err), "%s", qs->qs_err);
	if (qs->qs_env != NULL)
		mdb_env_close(qs->qs_env);
	free(qs->qs_dir);
	free(qs);
 fail:
	if (errstr != NULL)
		*errstr = qs_static_err;
	return (NULL);
}

void
qs_close(struct qstore *qs)
{
	if (qs == NULL)
		return;
	if (qs_mine(qs)) {
		qs_batch_abort(qs);
		qs_rtxn_drop(qs);
		mdb_env_close(qs->qs_env);	/* NULL is fine */
	}
	free(qs->qs_dir);
	free(qs->qs_copies);
	free(qs);
}

/*
 * Close the env and open it again, as qs_open did.  LMDB marks an env
 * whose meta page it failed to write (a full copy-on-write filesystem,
 * an I/O error) and refuses every txn in it with MDB_PANIC until it is
 * closed.  The meta page on disk is still the last good commit's (the
 * write failed, and LMDB tries to write the old meta back over what may
 * have reached the page cache), so a fresh env serves on.  On failure
 * the handle has no env, and the next call tries again.
 */
static int
qs_reopen(struct qstore *qs)
{
	int	 rc;

	if (qs->qs_batch != NULL || qs->qs_reopening)
		return (qs_seterr(qs, QS_ERR, "cannot reopen the env now"));
	qs_rtxn_drop(qs);
	mdb_env_close(qs->qs_env);
	qs->qs_env = NULL;
	qs->qs_reopening = 1;
	if ((rc = qs_env_open(qs, qs->qs_dir, qs->qs_mapsize)) == QS_OK &&
	    (rc = qs_schema_setup(qs)) != QS_OK) {
		mdb_env_close(qs->qs_env);
		qs->qs_env = NULL;
	}
	qs->qs_reopening = 0;
	return (rc);
}

int
qs_reader_check(struct qstore *qs, int *cleared)
{
	int	 rc, dead = 0;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if ((rc = mdb_reader_check(qs->qs_env, &dead)) != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_reader_check", rc));
	if (cleared != NULL)
		*cleared = dead;
	return (QS_OK);
}

/*
 * LMDB hands out the pages that the commit of txn T freed only to write
 * txns that begin after T + 1 committed (and after every reader of a
 * snapshot older than T ended), and a batch that failed commits nothing.
 * So after one big ack, sends that do not fit without its pages fail
 * until some other write commits.  This is that write: meta "reclaimed"
 * gets the id of its own txn, so that any process can tell that the
 * newest commit was a reclaim and another one would free nothing.
 */
int
qs_reclaim(struct qstore *qs)
{
	MDB_txn		*txn;
	uint64_t	 last = 0, snap;
	int		 rc, dead = 0;

	if ((rc = qs_check(qs)) != QS_OK)
		return (rc);
	if (qs->qs_batch != NULL)
		return (qs_seterr(qs, QS_ERR, "qs_reclaim with a batch open"));
	if ((rc = mdb_reader_check(qs->qs_env, &dead)) != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_reader_check", rc));
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	snap = (uint64_t)mdb_txn_id(txn);
	rc = qs_meta_get(qs, txn, "reclaimed", &last);
	qs_rend(qs, txn);
	if (rc != QS_OK && rc != QS_NOTFOUND)
		return (rc);
	if (rc == QS_OK && last == snap && dead == 0)
		return (qs_seterr(qs, QS_NOTFOUND, "nothing was freed since "
		    "the last reclaim"));
	if ((rc = qs_txn_begin(qs, NULL, 0, &txn)) != QS_OK)
		return (rc);
	rc = qs_meta_put(qs, txn, "reclaimed", (uint64_t)mdb_txn_id(txn));
	qs->qs_ops = qs->qs_bytes = 0;
	if (rc != QS_OK) {
		mdb_txn_abort(txn);
		return (rc);
	}
	return (qs_commit(qs, txn, "mdb_txn_commit (reclaim)"));
}

/* ------------------------------------------------------------------ */
/* Enqueue                                                             */
/* ------------------------------------------------------------------ */

/* What an enqueue found among the queue records of its user. */
struct qs_enq_scan {
	size_t		 es_ndev;	/* devices */
	int		 es_held;	/* the held queue exists */
	uint32_t	 es_held_count;	/* messages in it */
	struct qs_qkey	*es_full;	/* devices at queue_max (malloc'd) */
	size_t		 es_nfull;
	size_t		 es_cap;
};

/* Remember the device key k (at queue_max) in es. */
static int
qs_enq_full_add(struct qstore *qs, struct qs_enq_scan *es, const MDB_val *k)
{
	struct qs_qkey	*nf;

	if (k->mv_size > QS_QKEY_MAX)
		return (qs_seterr(qs, QS_CORRUPT, "bad queues key"));
	if (es->es_nfull == es->es_cap) {
		es->es_cap = es->es_cap ? 2 * es->es_cap : 4;
		if ((nf = reallocarray(es->es_full, es->es_cap,
		    sizeof(*nf))) == NULL)
			return (qs_seterr(qs, QS_ERR, "out of memory"));
		es->es_full = nf;
	}
	memcpy(es->es_full[es->es_nfull].k_buf, k->mv_data, k->mv_size);
	es->es_full[es->es_nfull++].k_len = k->mv_size;
	return (QS_OK);
}

/*
 * Look at the queue records of the user (prefix pfx): count the devices,
 * note those at queue_max (0: no cap) and the held queue.
 */
static int
qs_enq_scan(struct qstore *qs, MDB_txn *txn, const unsigned char *pfx,
    size_t plen, uint32_t queue_max, struct qs_enq_scan *es)
{
	struct qs_queue	 q;
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc, first;

	if ((rc = qs_cursor(qs, txn, QS_DB_QUEUES, &c)) != QS_OK)
		return (rc);
	for (first = 1; (rc = qs_prefix_step(qs, c, pfx, plen, plen, first, &k,
	    &v)) == QS_OK; first = 0) {
		if (qs_queue_decode(&q, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad queues record");
			break;
		}
		if (qs_key_held(&k)) {
			es->es_held = 1;
			es->es_held_count = q.q_count;
			continue;
		}
		es->es_ndev++;
		if (queue_max != 0 && q.q_count >= queue_max &&
		    (rc = qs_enq_full_add(qs, es, &k)) != QS_OK)
			break;
	}
	mdb_cursor_close(c);
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

/*
 * The user has no device: the message is held.  QS_FULL (nothing
 * written) when the held queue is at queue_max; else its record is
 * created if missing.
 */
static int
qs_enq_hold(struct qstore *qs, MDB_txn *txn, const char *user,
    const struct qs_enq_scan *es, uint32_t queue_max, uint64_t now_ms)
{
	struct qs_qkey	 hk;
	struct qs_queue	 q;
	int		 rc;

	if (es->es_held && queue_max != 0 && es->es_held_count >= queue_max)
		return (qs_seterr(qs, QS_FULL, "%u messages are held for a "
		    "user with no device", es->es_held_count));
	if (es->es_held)
		return (QS_OK);
	qs_hkey_make(&hk, user);
	if ((rc = qs_queue_create(qs, txn, &hk, now_ms, &q)) != QS_OK)
		return (rc);
	return (qs_held_adjust(qs, txn, 1));
}

/* The seq of the oldest copy of queue qid in lane still in the log. */
static int
qs_log_oldest(struct qstore *qs, MDB_txn *txn, uint64_t qid, int lane,
    uint64_t *seq)
{
	struct qs_lhdr	 l;
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc = QS_NOTFOUND, mrc, op;

	if ((rc = qs_cursor(qs, txn, QS_DB_LOG, &c)) != QS_OK)
		return (rc);
	rc = QS_NOTFOUND;
	for (op = MDB_FIRST; (mrc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size != 8 || qs_lhdr_decode(&l, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad log record");
			break;
		}
		if (l.l_lane == lane && qs_lhdr_find(&l, qid) >= 0) {
			*seq = qs_be64_get(k.mv_data);
			rc = QS_OK;
			break;
		}
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get log", mrc);
	mdb_cursor_close(c);
	return (rc);
}

/*
 * Delete the oldest message of queue q: of the normal lane, or of the
 * high lane when the normal lane is empty (high-priority messages are
 * kept longest).  q's totals drop (the caller fixes and writes q).
 * QS_NOTFOUND if the queue is empty.
 */
static int
qs_drop_oldest(struct qstore *qs, MDB_txn *txn, struct qs_queue *q)
{
	static const int lanes[] = { QS_LANE_NORMAL, QS_LANE_HIGH };
	unsigned char	 mk[QS_MKEY_LEN];
	struct qs_mhdr	 m;
	uint64_t	 seq = 0;
	size_t		 len, i;
	int		 rc;

	for (i = 0; i < sizeof(lanes) / sizeof(lanes[0]); i++) {
		rc = qs_lane_first(qs, txn, q->q_qid, lanes[i], mk, &m);
		if (rc == QS_OK) {
			if ((rc = qs_del(qs, txn, QS_DB_MSGS, mk,
			    sizeof(mk))) != QS_OK)
				return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
			qs_queue_sub(q, m.m_len);
			return (QS_OK);
		}
		if (rc != QS_NOTFOUND)
			return (rc);
		if (q->q_log[lanes[i]] == 0)
			continue;
		if ((rc = qs_log_oldest(qs, txn, q->q_qid, lanes[i],
		    &seq)) == QS_NOTFOUND)
			continue;
		if (rc != QS_OK || (rc = qs_log_remove(qs, txn, q, lanes[i],
		    seq, &len)) != QS_OK)
			return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
		qs_queue_sub(q, len);
		return (QS_OK);
	}
	return (QS_NOTFOUND);
}

/*
 * The device of key k is at queue_max and message seq comes: it loses
 * its oldest message and its drop marker grows (see qs_fetch_after).
 */
static int
qs_overflow(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    uint64_t seq)
{
	struct qs_queue	 q;
	int		 rc;

	if ((rc = qs_queue_get(qs, txn, k, &q)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
	if ((rc = qs_drop_oldest(qs, txn, &q)) == QS_NOTFOUND)
		return (QS_OK);
	if (rc != QS_OK)
		return (rc);
	q.q_dropped++;
	q.q_drop_seq = seq;
	qs->qs_fx.ef_overflow++;
	return (qs_queue_fix(qs, txn, k, &q));
}

/* The newest seq of lane in queue qid's settled messages (msgs); 0: none. */
static int
qs_lane_last(struct qstore *qs, MDB_txn *txn, uint64_t qid, int lane,
    uint64_t *seq)
{
	unsigned char	 mk[QS_MKEY_LEN];
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc, mrc;

	*seq = 0;
	if ((rc = qs_cursor(qs, txn, QS_DB_MSGS, &c)) != QS_OK)
		return (rc);
	qs_mkey_make(mk, qid, lane, UINT64_MAX);
	k.mv_data = mk;
	k.mv_size = sizeof(mk);
	mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (mrc == 0 && k.mv_size == sizeof(mk) && memcmp(k.mv_data, mk,
	    sizeof(mk)) == 0)
		mrc = 0;		/* seq UINT64_MAX itself: the last */
	else if (mrc == 0)
		mrc = mdb_cursor_get(c, &k, &v, MDB_PREV);
	else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (mrc == 0 && k.mv_size == QS_MKEY_LEN &&
	    memcmp(k.mv_data, mk, 9) == 0)
		*seq = qs_be64_get((const unsigned char *)k.mv_data + 9);
	else if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get msgs", mrc);
	mdb_cursor_close(c);
	return (rc);
}

/*
 * Note the copy about to go into queue q (device key k, q as read, before
 * this copy) in qs_fx.ef_copies: per lane the newest seq that may still
 * be queued (the ring's newest log copy; without one, the newest settled
 * message, which is where adopted held messages sit).
 */
static int
qs_copy_note(struct qstore *qs, MDB_txn *txn, const MDB_val *k,
    const struct qs_queue *q)
{
	const unsigned char	*kp = k->mv_data;
	struct qs_copy		*cp;
	size_t			 ulen, dlen, n = qs->qs_fx.ef_ncopies;
	uint32_t		 settled;
	int			 lane, i, rc;

	ulen = kp[0];
	if (k->mv_size < ulen + 2 || (dlen = kp[1 + ulen]) == 0 ||
	    k->mv_size != ulen + 2 + dlen || dlen > ID_MAX)
		return (qs_seterr(qs, QS_CORRUPT, "bad queues key"));
	if (n == qs->qs_copies_cap) {
		size_t	 cap = n ? 2 * n : 8;

		if ((cp = reallocarray(qs->qs_copies, cap, sizeof(*cp))) ==
		    NULL)
			return (qs_seterr(qs, QS_ERR, "out of memory"));
		qs->qs_copies = cp;
		qs->qs_copies_cap = cap;
	}
	cp = &qs->qs_copies[n];
	memcpy(cp->cp_device, kp + 2 + ulen, dlen);
	cp->cp_device[dlen] = '\0';
	cp->cp_dropped = q->q_dropped;
	settled = q->q_count - q->q_log[QS_LANE_HIGH] - q->q_log[QS_LANE_NORMAL];
	for (lane = 0; lane < QS_NLANES; lane++) {
		cp->cp_prev[lane] = 0;
		for (i = 0; i < QS_RING; i++)
			if (q->q_ring[lane][i] != 0)
				cp->cp_prev[lane] = q->q_ring[lane][i];
		if (cp->cp_prev[lane] == 0 && settled > 0 &&
		    (rc = qs_lane_last(qs, txn, q->q_qid, lane,
		    &cp->cp_prev[lane])) != QS_OK)
			return (rc);
	}
	qs->qs_fx.ef_copies = qs->qs_copies;
	qs->qs_fx.ef_ncopies = n + 1;
	return (QS_OK);
}

/*
 * Count one more copy in every queue of the user (prefix pfx) that
 * receives it: its devices, or only its held queue when held is set:
 * count, bytes and the lane's log count.  The queue ids go to qids
 * (room for n); QS_CORRUPT if the devices changed since qs_enq_scan.
 */
static int
qs_enq_fanout(struct qstore *qs, MDB_txn *txn, const unsigned char *pfx,
    size_t plen, int held, const struct qs_newmsg *nm, uint64_t *qids,
    size_t n)
{
	unsigned char	 kb[QS_QKEY_MAX], vb[QS_QVAL_LEN];
	struct qs_queue	 q;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 i = 0;
	int		 rc, first;

	if ((rc = qs_cursor(qs, txn, QS_DB_QUEUES, &c)) != QS_OK)
		return (rc);
	for (first = 1; (rc = qs_prefix_step(qs, c, pfx, plen, plen, first, &k,
	    &v)) == QS_OK; first = 0) {
		if (qs_key_held(&k) != held)
			continue;
		if (qs_queue_decode(&q, &v) != QS_OK ||
		    k.mv_size > sizeof(kb) || i >= n) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad queues record");
			break;
		}
		memcpy(kb, k.mv_data, k.mv_size);
		k.mv_data = kb;
		if (!held && (rc = qs_copy_note(qs, txn, &k, &q)) != QS_OK)
			break;
		qids[i++] = q.q_qid;
		q.q_count++;
		q.q_bytes += nm->n_len;
		q.q_log[nm->n_lane]++;
		qs_ring_push(&q, nm->n_lane, nm->n_seq);
		qs_queue_encode(vb, &q);
		v.mv_data = vb;
		v.mv_size = sizeof(vb);
		if ((rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT)) != 0) {
			rc = qs_mdberr(qs, "mdb_cursor_put", rc);
			break;
		}
		qs->qs_ops++;
		qs->qs_bytes += k.mv_size + sizeof(vb);
	}
	mdb_cursor_close(c);
	if (rc == QS_NOTFOUND && i != n)
		rc = qs_seterr(qs, QS_CORRUPT, "device count changed");
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

/* Append nm, for the n queues in qids, at the end of the log. */
static int
qs_log_append(struct qstore *qs, MDB_txn *txn, const struct qs_newmsg *nm,
    const uint64_t *qids, size_t n)
{
	unsigned char	 kb[8], *p;
	MDB_val		 k, v;
	size_t		 i;
	int		 rc;

	qs_be64_put(kb, nm->n_seq);
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	v.mv_data = NULL;
	v.mv_size = QS_LHDR_LEN + 8 * n + nm->n_len;
	if ((rc = mdb_put(txn, qs->qs_dbi[QS_DB_LOG], &k, &v,
	    MDB_RESERVE | MDB_APPEND)) != MDB_SUCCESS)
		return (qs_mdberr(qs, "mdb_put log", rc));
	p = v.mv_data;
	qs_lhdr_encode(p, nm, (uint32_t)n);
	for (i = 0; i < n; i++)
		qs_be64_put(p + QS_LHDR_LEN + 8 * i, qids[i]);
	if (nm->n_len > 0)
		memcpy(p + QS_LHDR_LEN + 8 * n, nm->n_data, nm->n_len);
	qs->qs_ops++;
	qs->qs_bytes += k.mv_size + v.mv_size;
	return (QS_OK);
}

static int
qs_enqueue_txn(struct qstore *qs, MDB_txn *txn, const char *user,
    struct qs_newmsg *nm, uint32_t queue_max)
{
	struct qs_enq_scan es;
	unsigned char	 uk[QS_UKEY_MAX];
	uint64_t	 stackq[QS_FANOUT_STACK], *qids = stackq;
	size_t		 uklen, n, i;
	int		 rc;

	memset(&es, 0, sizeof(es));
	uklen = qs_ukey_make(uk, user);
	rc = qs_enq_scan(qs, txn, uk, uklen, queue_max, &es);
	if (rc == QS_OK && es.es_ndev == 0)
		rc = qs_enq_hold(qs, txn, user, &es, queue_max,
		    nm->n_enqueued);
	n = es.es_ndev > 0 ? es.es_ndev : 1;
	if (rc == QS_OK && n > QS_FANOUT_STACK &&
	    (qids = calloc(n, sizeof(*qids))) == NULL)
		rc = qs_seterr(qs, QS_ERR, "out of memory");
	if (rc == QS_OK)
		rc = qs_seq_next(qs, txn, &nm->n_seq);
	for (i = 0; rc == QS_OK && i < es.es_nfull; i++)
		rc = qs_overflow(qs, txn, &es.es_full[i], nm->n_seq);
	if (rc == QS_OK && (rc = qs_enq_fanout(qs, txn, uk, uklen,
	    es.es_ndev == 0, nm, qids, n)) == QS_OK)
		rc = qs_log_append(qs, txn, nm, qids, n);
	if (rc == QS_OK && qs->qs_outbox && es.es_ndev > 0)
		rc = qs_outbox_enqueue(qs, txn, uk, uklen, nm->n_prio,
		    nm->n_enqueued);
	if (rc == QS_OK) {
		qs->qs_fx.ef_held = es.es_ndev == 0;
		qs->qs_fx.ef_seq = nm->n_seq;
		qs->qs_fx.ef_lane = nm->n_lane;
	}
	if (qids != stackq)
		free(qids);
	free(es.es_full);
	return (rc);
}

int
qs_enqueue(struct qstore *qs, const char *user, const void *envelope,
    size_t len, int priority, uint64_t now_ms, uint64_t ttl_ms,
    uint32_t queue_max, char id_out[QS_MSGID_SIZE])
{
	struct qs_newmsg	 nm;
	MDB_txn			*txn;
	int			 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user))
		return (qs_seterr(qs, QS_BADID, "bad user id"));
	if (priority < 0 || priority > PRIO_MAX || len > QS_ENVELOPE_MAX ||
	    (envelope == NULL && len > 0) || id_out == NULL ||
	    ttl_ms > UINT64_MAX - now_ms)
		return (qs_seterr(qs, QS_INVAL, "bad enqueue argument"));
	memset(&nm, 0, sizeof(nm));
	nm.n_data = envelope;
	nm.n_len = len;
	nm.n_prio = priority;
	nm.n_lane = qs_prio_lane(priority);
	nm.n_enqueued = now_ms;
	nm.n_expires = ttl_ms == 0 ? 0 : now_ms + ttl_ms;
	rc = qs_enqueue_txn(qs, txn, user, &nm, queue_max);
	if (rc == QS_OK)
		qs_msgid_format(id_out, nm.n_lane, nm.n_seq);
	return (qs_wdone(qs, rc));
}

/* ------------------------------------------------------------------ */
/* Ack, touch, push, device delete, expiry                             */
/* ------------------------------------------------------------------ */

/*
 * Take queue q's copy out of log entry seq (of lane, or any lane when
 * lane is -1): the entry is rewritten without q, or deleted when q was its
 * last queue; q's log count drops (the caller writes q).  *len gets the
 * envelope length.  QS_NOTFOUND if the entry does not hold such a copy.
 */
static int
qs_log_remove(struct qstore *qs, MDB_txn *txn, struct qs_queue *q, int lane,
    uint64_t seq, size_t *len)
{
	unsigned char	 kb[8], *buf;
	struct qs_lhdr	 l;
	MDB_val		 v;
	size_t		 at;
	long		 i;
	int		 rc;

	qs_be64_put(kb, seq);
	if ((rc = qs_get(qs, txn, QS_DB_LOG, kb, sizeof(kb), &v)) != QS_OK)
		return (rc);
	if (qs_lhdr_decode(&l, &v) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad log record"));
	if ((lane != -1 && l.l_lane != lane) ||
	    (i = qs_lhdr_find(&l, q->q_qid)) < 0)
		return (QS_NOTFOUND);
	*len = l.l_m.m_len;
	if (q->q_log[l.l_lane] > 0)
		q->q_log[l.l_lane]--;
	if (l.l_n == 1)
		return (qs_del(qs, txn, QS_DB_LOG, kb, sizeof(kb)));
	if ((buf = malloc(v.mv_size - 8)) == NULL)
		return (qs_seterr(qs, QS_ERR, "out of memory"));
	at = QS_LHDR_LEN + 8 * (size_t)i;
	memcpy(buf, v.mv_data, at);
	memcpy(buf + at, (unsigned char *)v.mv_data + at + 8,
	    v.mv_size - at - 8);
	qs_be32_put(buf + QS_MHDR_LEN, l.l_n - 1);
	rc = qs_put(qs, txn, QS_DB_LOG, kb, sizeof(kb), buf, v.mv_size - 8,
	    NULL);
	free(buf);
	return (rc);
}

static int
qs_ack_one(struct qstore *qs, MDB_txn *txn, struct qs_queue *q,
    const char *id, size_t *deleted)
{
	unsigned char	 mk[QS_MKEY_LEN];
	uint64_t	 seq;
	size_t		 len;
	int		 lane, rc;

	if (qs_msgid_parse(id, &lane, &seq) != QS_OK)
		return (QS_OK);
	qs_mkey_make(mk, q->q_qid, lane, seq);
	rc = qs_msg_del(qs, txn, mk, &len);
	if (rc == QS_NOTFOUND && q->q_log[lane] > 0)
		rc = qs_log_remove(qs, txn, q, lane, seq, &len);
	if (rc == QS_NOTFOUND)
		return (QS_OK);
	if (rc != QS_OK)
		return (rc);
	qs_queue_sub(q, len);
	(*deleted)++;
	/* a message queued after the last loss: its marker was seen */
	if (q->q_dropped > 0 && seq >= q->q_drop_seq) {
		q->q_dropped = 0;
		q->q_drop_seq = 0;
	}
	return (QS_OK);
}

int
qs_ack(struct qstore *qs, const char *user, const char *device,
    const char *const *ids, size_t n, size_t *deleted)
{
	struct qs_qkey	 k;
	struct qs_queue	 q;
	MDB_txn		*txn;
	size_t		 i, del = 0;
	int		 rc;

	if (deleted != NULL)
		*deleted = 0;
	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	if (ids == NULL && n > 0)
		return (qs_seterr(qs, QS_INVAL, "no ids"));
	qs_qkey_make(&k, user, device);
	if ((rc = qs_queue_get(qs, txn, &k, &q)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_OK : qs_wdone(qs, rc));
	for (i = 0; i < n && rc == QS_OK; i++)
		rc = qs_ack_one(qs, txn, &q, ids[i], &del);
	if (rc == QS_OK && del > 0)
		rc = qs_queue_fix(qs, txn, &k, &q);
	if (rc == QS_OK && deleted != NULL)
		*deleted = del;
	return (qs_wdone(qs, rc));
}

int
qs_touch(struct qstore *qs, const char *user, const char *device,
    uint64_t now_ms, uint64_t min_age_ms)
{
	struct qs_qkey	 k;
	MDB_txn		*txn;
	int		 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	qs_qkey_make(&k, user, device);
	return (qs_wdone(qs, qs_queue_ensure(qs, txn, &k, now_ms,
	    min_age_ms)));
}

int
qs_seen(struct qstore *qs, const char *user, const char *device,
    uint64_t now_ms)
{
	struct qs_qkey	 k;
	struct qs_queue	 q;
	MDB_txn		*txn;
	int		 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	qs_qkey_make(&k, user, device);
	if ((rc = qs_queue_get(qs, txn, &k, &q)) != QS_OK)
		return (qs_wdone(qs, rc));
	if (now_ms <= q.q_seen)
		return (QS_OK);
	q.q_seen = now_ms;
	return (qs_wdone(qs, qs_queue_put(qs, txn, &k, &q)));
}

int
qs_push_register(struct qstore *qs, const char *user, const char *device,
    const char *platform, const char *token, const char *app_id,
    uint64_t now_ms)
{
	unsigned char	 buf[QS_PVAL_MAX];
	struct qs_qkey	 k;
	MDB_txn		*txn;
	size_t		 n;
	int		 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	if (!id_text_valid(platform, QS_PLATFORM_MAX) ||
	    !id_text_valid(token, QS_TOKEN_MAX) ||
	    !id_text_valid(app_id, QS_APPID_MAX))
		return (qs_seterr(qs, QS_INVAL, "bad push platform, token "
		    "or app id"));
	qs_qkey_make(&k, user, device);
	if ((rc = qs_queue_ensure(qs, txn, &k, now_ms, 0)) == QS_OK) {
		n = qs_push_encode(buf, platform, app_id, token, now_ms);
		rc = qs_put(qs, txn, QS_DB_PUSH, k.k_buf, k.k_len, buf, n,
		    NULL);
	}
	return (qs_wdone(qs, rc));
}

int
qs_push_remove(struct qstore *qs, const char *user, const char *device)
{
	struct qs_qkey	 k;
	MDB_txn		*txn;
	int		 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	qs_qkey_make(&k, user, device);
	if ((rc = qs_del(qs, txn, QS_DB_PUSH, k.k_buf, k.k_len)) == QS_OK)
		rc = qs_job_delete(qs, txn, &k);
	return (qs_wdone(qs, rc));
}

/* Take every copy of queue q out of the log. */
static int
qs_log_drop(struct qstore *qs, MDB_txn *txn, struct qs_queue *q,
    size_t *dropped)
{
	struct qs_lhdr	 l;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	*seqs = NULL, *ns;
	size_t		 n = 0, cap = 0, i, len;
	int		 rc, mrc, op;

	if ((rc = qs_cursor(qs, txn, QS_DB_LOG, &c)) != QS_OK)
		return (rc);
	for (op = MDB_FIRST; (mrc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size != 8 || qs_lhdr_decode(&l, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad log record");
			break;
		}
		if (qs_lhdr_find(&l, q->q_qid) < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((ns = reallocarray(seqs, cap, 8)) == NULL) {
				rc = qs_seterr(qs, QS_ERR, "out of memory");
				break;
			}
			seqs = ns;
		}
		seqs[n++] = qs_be64_get(k.mv_data);
	}
	mdb_cursor_close(c);
	if (rc == QS_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get log", mrc);
	for (i = 0; i < n && rc == QS_OK; i++)
		if ((rc = qs_log_remove(qs, txn, q, -1, seqs[i], &len)) ==
		    QS_OK)
			(*dropped)++;
	free(seqs);
	return (rc);
}

/* Delete every message of queue q and its expiry index entries. */
static int
qs_queue_drop(struct qstore *qs, MDB_txn *txn, struct qs_queue *q,
    size_t *dropped)
{
	unsigned char	 start[QS_MKEY_LEN], mk[QS_MKEY_LEN], xk[QS_XKEY_LEN];
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 len;
	int		 rc, lane;

	for (lane = 0; lane < QS_NLANES; lane++) {
		if (q->q_head[lane] == 0)
			continue;
		qs_xkey_make(xk, q->q_head[lane], q->q_qid, lane);
		rc = qs_del(qs, txn, QS_DB_EXPIRY, xk, sizeof(xk));
		if (rc != QS_OK && rc != QS_NOTFOUND)
			return (rc);
	}
	qs_mkey_make(start, q->q_qid, 0, 0);
	if ((rc = qs_cursor(qs, txn, QS_DB_MSGS, &c)) != QS_OK)
		return (rc);
	while ((rc = qs_prefix_step(qs, c, start, sizeof(start), 8, 1, &k,
	    &v)) == QS_OK) {
		if (k.mv_size != QS_MKEY_LEN) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad msgs key");
			break;
		}
		memcpy(mk, k.mv_data, sizeof(mk));
		if ((rc = qs_msg_del(qs, txn, mk, &len)) != QS_OK)
			break;
		(*dropped)++;
	}
	mdb_cursor_close(c);
	if (rc == QS_NOTFOUND && q->q_log[0] + q->q_log[1] > 0)
		rc = qs_log_drop(qs, txn, q, dropped);
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

static int
qs_device_delete_txn(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    size_t *dropped)
{
	struct qs_queue	 q;
	unsigned char	 qb[8];
	int		 rc, found;

	if ((rc = qs_queue_get(qs, txn, k, &q)) != QS_OK && rc != QS_NOTFOUND)
		return (rc);
	found = rc == QS_OK;
	if (found) {
		if ((rc = qs_queue_drop(qs, txn, &q, dropped)) != QS_OK ||
		    (rc = qs_del(qs, txn, QS_DB_QUEUES, k->k_buf,
		    k->k_len)) != QS_OK)
			return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
		qs_be64_put(qb, q.q_qid);
		if ((rc = qs_del(qs, txn, QS_DB_QIDS, qb, 8)) != QS_OK &&
		    rc != QS_NOTFOUND)
			return (rc);
	}
	if ((rc = qs_job_delete(qs, txn, k)) != QS_OK)
		return (rc);
	rc = qs_del(qs, txn, QS_DB_PUSH, k->k_buf, k->k_len);
	if (rc == QS_NOTFOUND)
		return (found ? QS_OK : QS_NOTFOUND);
	return (rc);
}

int
qs_device_delete(struct qstore *qs, const char *user, const char *device,
    size_t *dropped)
{
	struct qs_qkey	 k;
	MDB_txn		*txn;
	size_t		 n = 0;
	int		 rc;

	if (dropped != NULL)
		*dropped = 0;
	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	qs_qkey_make(&k, user, device);
	rc = qs_device_delete_txn(qs, txn, &k, &n);
	if (rc == QS_OK && dropped != NULL)
		*dropped = n;
	return (qs_wdone(qs, rc));
}

/* ------------------------------------------------------------------ */
/* Forgetting idle devices                                             */
/* ------------------------------------------------------------------ */

/* The user and device ids of the device key k, NUL-terminated. */
static int
qs_key_split(const MDB_val *k, char *user, char *device)
{
	const unsigned char	*p = k->mv_data;
	size_t			 ulen, dlen;

	ulen = p[0];
	if (k->mv_size < ulen + 3 || ulen == 0 || (dlen = p[1 + ulen]) == 0 ||
	    k->mv_size != ulen + 2 + dlen)
		return (-1);
	memcpy(user, p + 1, ulen);
	user[ulen] = '\0';
	memcpy(device, p + 2 + ulen, dlen);
	device[dlen] = '\0';
	return (0);
}

/* 1 if the queue (key k, record q) is to be forgotten now. */
static int
qs_forget_due(const MDB_val *k, const struct qs_queue *q, uint64_t now_ms,
    uint64_t idle_ms, qs_keep_cb keep, void *arg)
{
	char	 user[ID_MAX + 1], device[ID_MAX + 1];

	if (qs_key_held(k))	/* an empty held queue: nothing to keep */
		return (q->q_count == 0 && q->q_log[0] + q->q_log[1] == 0);
	if (idle_ms == 0 || q->q_seen > now_ms || now_ms - q->q_seen < idle_ms)
		return (0);
	if (qs_key_split(k, user, device) == -1)
		return (0);
	return (keep == NULL || !keep(arg, user, device));
}

/*
 * Visit up to max queue records from the handle's sweep position, which
 * is advanced (and wraps); the keys due go to gone (room QS_FORGET_MAX),
 * until they hold QS_FORGET_MSGS messages (a bounded txn).
 */
static int
qs_forget_collect(struct qstore *qs, MDB_txn *txn, uint64_t now_ms,
    uint64_t idle_ms, size_t max, qs_keep_cb keep, void *arg,
    struct qs_qkey *gone, size_t *ngone)
{
	struct qs_queue	 q;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 seen, msgs = 0;
	int		 rc, mrc = MDB_NOTFOUND, op = MDB_FIRST, full = 0;

	if ((rc = qs_cursor(qs, txn, QS_DB_QUEUES, &c)) != QS_OK)
		return (rc);
	if (qs->qs_idle_len > 0) {
		k.mv_data = qs->qs_idle_pos;
		k.mv_size = qs->qs_idle_len;
		op = MDB_SET_RANGE;
	}
	for (seen = 0; seen < max && !full; seen++) {
		if ((mrc = mdb_cursor_get(c, &k, &v, op)) != 0)
			break;
		op = MDB_NEXT;
		if (k.mv_size > QS_QKEY_MAX || qs_queue_decode(&q, &v) != QS_OK) {
			mdb_cursor_close(c);
			return (qs_seterr(qs, QS_CORRUPT, "bad queues record"));
		}
		if (!qs_forget_due(&k, &q, now_ms, idle_ms, keep, arg))
			continue;
		memcpy(gone[*ngone].k_buf, k.mv_data, k.mv_size);
		gone[(*ngone)++].k_len = k.mv_size;
		msgs += q.q_count;
		full = *ngone == QS_FORGET_MAX || msgs >= QS_FORGET_MSGS;
	}
	if (seen > 0 && (seen == max || full))
		mrc = mdb_cursor_get(c, &k, &v, op);
	qs->qs_idle_len = 0;		/* at the end: wrap */
	if (mrc == 0 && op == MDB_NEXT) {
		memcpy(qs->qs_idle_pos, k.mv_data, k.mv_size);
		qs->qs_idle_len = k.mv_size;
	}
	mdb_cursor_close(c);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return (qs_mdberr(qs, "mdb_cursor_get queues", mrc));
	return (QS_OK);
}

/* Delete the (empty) held queue of key k. */
static int
qs_held_delete(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k)
{
	struct qs_queue	 q;
	unsigned char	 qb[8];
	int		 rc;

	if ((rc = qs_queue_get(qs, txn, k, &q)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_OK : rc);
	qs_be64_put(qb, q.q_qid);
	if ((rc = qs_del(qs, txn, QS_DB_QUEUES, k->k_buf, k->k_len)) !=
	    QS_OK || ((rc = qs_del(qs, txn, QS_DB_QIDS, qb, 8)) != QS_OK &&
	    rc != QS_NOTFOUND))
		return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
	return (qs_held_adjust(qs, txn, -1));
}

int
qs_forget_idle(struct qstore *qs, uint64_t now_ms, uint64_t idle_ms,
    size_t max, qs_keep_cb keep, void *arg, size_t *forgotten,
    size_t *dropped)
{
	struct qs_qkey	*gone;
	MDB_txn		*txn;
	MDB_val		 k;
	size_t		 ngone = 0, i, nf = 0, nd = 0;
	int		 rc;

	if (forgotten != NULL)
		*forgotten = 0;
	if (dropped != NULL)
		*dropped = 0;
	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if ((gone = calloc(QS_FORGET_MAX, sizeof(*gone))) == NULL)
		return (qs_seterr(qs, QS_ERR, "out of memory"));
	rc = qs_forget_collect(qs, txn, now_ms, idle_ms, max, keep, arg, gone,
	    &ngone);
	for (i = 0; rc == QS_OK && i < ngone; i++) {
		k.mv_data = gone[i].k_buf;
		k.mv_size = gone[i].k_len;
		if (qs_key_held(&k))
			rc = qs_held_delete(qs, txn, &gone[i]);
		else if ((rc = qs_device_delete_txn(qs, txn, &gone[i], &nd)) ==
		    QS_OK)
			nf++;
	}
	free(gone);
	if (rc == QS_OK && forgotten != NULL)
		*forgotten = nf;
	if (rc == QS_OK && dropped != NULL)
		*dropped = nd;
	return (qs_wdone(qs, rc));
}

/* ------------------------------------------------------------------ */
/* Settle: move log entries into their device queues                  */
/* ------------------------------------------------------------------ */

static int
qs_move_cmp(const void *a, const void *b)
{
	const struct qs_move	*x = a, *y = b;

	if (x->mv_qid != y->mv_qid)
		return (x->mv_qid < y->mv_qid ? -1 : 1);
	if (x->mv_lane != y->mv_lane)
		return (x->mv_lane < y->mv_lane ? -1 : 1);
	return (x->mv_seq < y->mv_seq ? -1 : x->mv_seq > y->mv_seq);
}

/* Append one move per queue copy of log entry l (key seq) to *mv. */
static int
qs_move_add(struct qstore *qs, const struct qs_lhdr *l, uint64_t seq,
    struct qs_move **mv, size_t *n, size_t *cap)
{
	struct qs_move	*nm;
	uint32_t	 i;

	for (i = 0; i < l->l_n; i++) {
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 1024;
			if ((nm = reallocarray(*mv, *cap, sizeof(**mv))) ==
			    NULL)
				return (qs_seterr(qs, QS_ERR, "out of memory"));
			*mv = nm;
		}
		nm = &(*mv)[(*n)++];
		nm->mv_qid = qs_be64_get(l->l_qids + 8 * (size_t)i);
		nm->mv_seq = seq;
		nm->mv_expires = l->l_m.m_expires;
		nm->mv_len = l->l_m.m_len;
		nm->mv_lane = l->l_lane;
	}
	return (QS_OK);
}

/* The copies of the first (up to max) log entries; *nent the entries. */
static int
qs_settle_collect(struct qstore *qs, MDB_txn *txn, size_t max,
    struct qs_move **mv, size_t *n, size_t *nent)
{
	struct qs_lhdr	 l;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 cap = 0;
	int		 rc = QS_OK, mrc = 0, op;

	if ((rc = qs_cursor(qs, txn, QS_DB_LOG, &c)) != QS_OK)
		return (rc);
	for (op = MDB_FIRST; *nent < max &&
	    (mrc = mdb_cursor_get(c, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (k.mv_size != 8 || qs_lhdr_decode(&l, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad log record");
			break;
		}
		if ((rc = qs_move_add(qs, &l, qs_be64_get(k.mv_data), mv, n,
		    &cap)) != QS_OK)
			break;
		(*nent)++;
	}
	mdb_cursor_close(c);
	if (rc == QS_OK && *nent < max && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get log", mrc);
	return (rc);
}

/* Store the copy m (still in the log) under its msgs key. */
static int
qs_move_put(struct qstore *qs, MDB_txn *txn, const struct qs_move *m)
{
	unsigned char	 mk[QS_MKEY_LEN], lk[8], *room = NULL;
	struct qs_lhdr	 l;
	MDB_val		 v;
	int		 rc;

	qs_mkey_make(mk, m->mv_qid, m->mv_lane, m->mv_seq);
	if ((rc = qs_put(qs, txn, QS_DB_MSGS, mk, sizeof(mk), NULL,
	    QS_MHDR_LEN + m->mv_len, (void **)&room)) != QS_OK)
		return (rc);
	/* read the log only now: a put may move what a get pointed to */
	qs_be64_put(lk, m->mv_seq);
	if ((rc = qs_get(qs, txn, QS_DB_LOG, lk, sizeof(lk), &v)) != QS_OK ||
	    qs_lhdr_decode(&l, &v) != QS_OK || l.l_m.m_len != m->mv_len)
		return (rc != QS_OK && rc != QS_NOTFOUND ? rc :
		    qs_seterr(qs, QS_CORRUPT, "log entry changed"));
	memcpy(room, v.mv_data, QS_MHDR_LEN);
	if (m->mv_len > 0)
		memcpy(room + QS_MHDR_LEN, l.l_m.m_data, m->mv_len);
	return (QS_OK);
}

/*
 * Move the n copies in mv (all of one queue, in key order) into msgs,
 * dropping the expired ones, and fix the queue's counts and heads.
 */
static int
qs_settle_queue(struct qstore *qs, MDB_txn *txn, const struct qs_move *mv,
    size_t n, uint64_t now_ms, size_t *moved, size_t *expired)
{
	struct qs_qkey	 k;
	struct qs_queue	 q;
	size_t		 i;
	int		 rc;

	if ((rc = qs_queue_by_qid(qs, txn, mv[0].mv_qid, &k, &q)) != QS_OK)
		return (rc);
	for (i = 0; i < n; i++) {
		if (q.q_log[mv[i].mv_lane] > 0)
			q.q_log[mv[i].mv_lane]--;
		if (mv[i].mv_expires != 0 && mv[i].mv_expires <= now_ms) {
			qs_queue_sub(&q, mv[i].mv_len);
			(*expired)++;
			continue;
		}
		if ((rc = qs_move_put(qs, txn, &mv[i])) != QS_OK)
			return (rc);
		(*moved)++;
	}
	return (qs_queue_fix(qs, txn, &k, &q));
}

/* Delete the first n entries of the log. */
static int
qs_log_trim(struct qstore *qs, MDB_txn *txn, size_t n)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 i;
	int		 rc = QS_OK, mrc;

	if ((rc = qs_cursor(qs, txn, QS_DB_LOG, &c)) != QS_OK)
		return (rc);
	for (i = 0; i < n; i++) {
		if ((mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0 ||
		    (mrc = mdb_cursor_del(c, 0)) != 0) {
			rc = qs_mdberr(qs, "log trim", mrc);
			break;
		}
		qs->qs_ops++;
	}
	mdb_cursor_close(c);
	return (rc);
}

static int
qs_settle_txn(struct qstore *qs, MDB_txn *txn, uint64_t now_ms, int force,
    size_t *moved, size_t *expired)
{
	struct qs_move	*mv = NULL;
	MDB_stat	 st;
	size_t		 n = 0, nent = 0, i, j;
	int		 rc;

	if ((rc = mdb_stat(txn, qs->qs_dbi[QS_DB_LOG], &st)) != 0)
		return (qs_mdberr(qs, "mdb_stat log", rc));
	if (st.ms_entries == 0 || (!force && st.ms_entries < QS_SETTLE_AT))
		return (QS_OK);
	rc = qs_settle_collect(qs, txn, QS_SETTLE_MAX, &mv, &n, &nent);
	if (rc == QS_OK && n > 0)
		qsort(mv, n, sizeof(*mv), qs_move_cmp);
	for (i = 0; rc == QS_OK && i < n; i = j) {
		for (j = i + 1; j < n && mv[j].mv_qid == mv[i].mv_qid; j++)
			;
		rc = qs_settle_queue(qs, txn, mv + i, j - i, now_ms, moved,
		    expired);
	}
	free(mv);
	return (rc == QS_OK ? qs_log_trim(qs, txn, nent) : rc);
}

int
qs_settle_due(struct qstore *qs)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	int		 rc;

	if (qs_rbegin(qs, &txn) != QS_OK)
		return (0);
	rc = mdb_stat(txn, qs->qs_dbi[QS_DB_LOG], &st);
	qs_rend(qs, txn);
	return (rc == 0 && st.ms_entries >= QS_SETTLE_AT);
}

int
qs_settle(struct qstore *qs, uint64_t now_ms, int force, size_t *moved,
    size_t *expired)
{
	MDB_txn	*txn;
	size_t	 nm = 0, nx = 0;
	int	 rc;

	if (moved != NULL)
		*moved = 0;
	if (expired != NULL)
		*expired = 0;
	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_settle_txn(qs, txn, now_ms, force, &nm, &nx);
	if (rc == QS_OK && moved != NULL)
		*moved = nm;
	if (rc == QS_OK && expired != NULL)
		*expired = nx;
	return (qs_wdone(qs, rc));
}

/* ------------------------------------------------------------------ */
/* Adoption: a new device takes a copy of what is held for its user    */
/* ------------------------------------------------------------------ */

/* Append the copy (qid, lane, seq, len) to *mv (size *n, room *cap). */
static int
qs_move_push(struct qstore *qs, struct qs_move **mv, size_t *n, size_t *cap,
    const struct qs_move *m)
{
	struct qs_move	*nm;

	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		if ((nm = reallocarray(*mv, *cap, sizeof(**mv))) == NULL)
			return (qs_seterr(qs, QS_ERR, "out of memory"));
		*mv = nm;
	}
	(*mv)[(*n)++] = *m;
	return (QS_OK);
}

/* The unexpired settled messages of lane of the held queue h. */
static int
qs_adopt_collect_msgs(struct qstore *qs, MDB_txn *txn,
    const struct qs_queue *h, int lane, uint64_t now_ms, struct qs_move **mv,
    size_t *n, size_t *cap)
{
	unsigned char	 start[QS_MKEY_LEN];
	struct qs_mhdr	 m;
	struct qs_move	 one;
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc, first;

	qs_mkey_make(start, h->q_qid, lane, 0);
	if ((rc = qs_cursor(qs, txn, QS_DB_MSGS, &c)) != QS_OK)
		return (rc);
	for (first = 1; (rc = qs_prefix_step(qs, c, start, sizeof(start), 9,
	    first, &k, &v)) == QS_OK; first = 0) {
		if (k.mv_size != QS_MKEY_LEN || qs_mhdr_decode(&m, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad msgs record");
			break;
		}
		if (m.m_expires != 0 && m.m_expires <= now_ms)
			continue;
		memset(&one, 0, sizeof(one));
		one.mv_seq = qs_be64_get((unsigned char *)k.mv_data + 9);
		one.mv_len = m.m_len;
		one.mv_lane = lane;
		if ((rc = qs_move_push(qs, mv, n, cap, &one)) != QS_OK)
			break;
	}
	mdb_cursor_close(c);
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

/*
 * The unexpired log copies of lane of the held queue h: from its ring
 * when nothing fell out of it, else by a scan of the log that stops once
 * it has seen them all.
 */
static int
qs_adopt_collect_log(struct qstore *qs, MDB_txn *txn,
    const struct qs_queue *h, int lane, uint64_t now_ms, struct qs_move **mv,
    size_t *n, size_t *cap)
{
	unsigned char	 kb[8];
	struct qs_lhdr	 l;
	struct qs_move	 one;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint32_t	 seen = 0;
	int		 rc = QS_OK, mrc = 0, i = 0, ring, op = MDB_FIRST;

	if (h->q_log[lane] == 0)
		return (QS_OK);
	ring = h->q_evicted[lane] == 0;
	if ((rc = qs_cursor(qs, txn, QS_DB_LOG, &c)) != QS_OK)
		return (rc);
	while (seen < h->q_log[lane]) {
		if (ring) {
			if (i >= QS_RING || h->q_ring[lane][i] == 0)
				break;
			qs_be64_put(kb, h->q_ring[lane][i++]);
			k.mv_data = kb;
			k.mv_size = sizeof(kb);
			mrc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
			if (mrc == MDB_NOTFOUND)
				continue;
		} else {
			mrc = mdb_cursor_get(c, &k, &v, op);
			op = MDB_NEXT;
		}
		if (mrc != 0)
			break;
		if (k.mv_size != 8 || qs_lhdr_decode(&l, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad log record");
			break;
		}
		if (l.l_lane != lane || qs_lhdr_find(&l, h->q_qid) < 0)
			continue;
		seen++;
		if (l.l_m.m_expires != 0 && l.l_m.m_expires <= now_ms)
			continue;
		memset(&one, 0, sizeof(one));
		one.mv_seq = qs_be64_get(k.mv_data);
		one.mv_len = l.l_m.m_len;
		one.mv_lane = lane;
		if ((rc = qs_move_push(qs, mv, n, cap, &one)) != QS_OK)
			break;
	}
	mdb_cursor_close(c);
	if (rc == QS_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get log", mrc);
	return (rc);
}

/* Copy the settled message (hqid, m) into queue qid, same key order. */
static int
qs_copy_settled(struct qstore *qs, MDB_txn *txn, uint64_t hqid, uint64_t qid,
    const struct qs_move *m)
{
	unsigned char	 src[QS_MKEY_LEN], dst[QS_MKEY_LEN], *room = NULL;
	MDB_val		 v;
	int		 rc;

	qs_mkey_make(src, hqid, m->mv_lane, m->mv_seq);
	qs_mkey_make(dst, qid, m->mv_lane, m->mv_seq);
	if ((rc = qs_put(qs, txn, QS_DB_MSGS, dst, sizeof(dst), NULL,
	    QS_MHDR_LEN + m->mv_len, (void **)&room)) != QS_OK)
		return (rc);
	/* read the source only now: the put may have moved it */
	if ((rc = qs_get(qs, txn, QS_DB_MSGS, src, sizeof(src), &v)) != QS_OK ||
	    v.mv_size != QS_MHDR_LEN + m->mv_len)
		return (rc != QS_OK && rc != QS_NOTFOUND ? rc :
		    qs_seterr(qs, QS_CORRUPT, "held message changed"));
	memcpy(room, v.mv_data, v.mv_size);
	return (QS_OK);
}

/*
 * The device of key k (record nq, just created and written) adopts a copy
 * of every unexpired message held for its user, with the same ids: the
 * copies go straight into msgs (their seqs are older than anything the
 * new queue will get, so they come first in its lanes), counted in nq,
 * which is fixed and written.  The held messages stay held for the next
 * new device until they expire.
 */
static int
qs_adopt(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    struct qs_queue *nq, uint64_t now_ms)
{
	struct qs_qkey	 hk;
	struct qs_queue	 h;
	struct qs_move	*mv = NULL;
	size_t		 n = 0, cap = 0, i, settled = 0;
	int		 rc, lane;

	qs_hkey_of(&hk, k);
	if ((rc = qs_queue_get(qs, txn, &hk, &h)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_OK : rc);
	if (h.q_count == 0)
		return (QS_OK);
	for (lane = 0; rc == QS_OK && lane < QS_NLANES; lane++)
		rc = qs_adopt_collect_msgs(qs, txn, &h, lane, now_ms, &mv, &n,
		    &cap);
	settled = n;
	for (lane = 0; rc == QS_OK && lane < QS_NLANES; lane++)
		rc = qs_adopt_collect_log(qs, txn, &h, lane, now_ms, &mv, &n,
		    &cap);
	for (i = 0; rc == QS_OK && i < n; i++) {
		if (i < settled)
			rc = qs_copy_settled(qs, txn, h.q_qid, nq->q_qid, &mv[i]);
		else {
			mv[i].mv_qid = nq->q_qid;
			rc = qs_move_put(qs, txn, &mv[i]);
		}
		nq->q_count++;
		nq->q_bytes += mv[i].mv_len;
	}
	free(mv);
	if (rc != QS_OK || n == 0)
		return (rc);
	qs->qs_fx.ef_adopted = n;
	return (qs_queue_fix(qs, txn, k, nq));
}

/* ------------------------------------------------------------------ */
/* Expiry                                                              */
/* ------------------------------------------------------------------ */

/* Delete expired messages from the head of one lane, up to max. */
static int
qs_expire_walk(struct qstore *qs, MDB_txn *txn, struct qs_queue *q, int lane,
    uint64_t now_ms, size_t max, size_t *expired)
{
	unsigned char	 mk[QS_MKEY_LEN];
	struct qs_mhdr	 m;
	int		 rc;

	while (*expired < max) {
		if ((rc = qs_lane_first(qs, txn, q->q_qid, lane, mk, &m)) !=
		    QS_OK)
			return (rc == QS_NOTFOUND ? QS_OK : rc);
		if (m.m_expires == 0 || m.m_expires > now_ms)
			break;
		if ((rc = qs_del(qs, txn, QS_DB_MSGS, mk, sizeof(mk))) != QS_OK)
			return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
		qs_queue_sub(q, m.m_len);
		(*expired)++;
	}
	return (QS_OK);
}

/*
 * Expire the lane whose index entry is xk: drop the entry, delete the
 * expired messages at the head of the lane, index the new head.  The
 * entry is dropped first, so every call makes progress.
 */
static int
qs_expire_lane(struct qstore *qs, MDB_txn *txn, const unsigned char *xk,
    uint64_t now_ms, size_t max, size_t *expired)
{
	struct qs_qkey	 k;
	struct qs_queue	 q;
	int		 rc, lane = xk[16];

	if ((rc = qs_del(qs, txn, QS_DB_EXPIRY, xk, QS_XKEY_LEN)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_CORRUPT : rc);
	if (lane >= QS_NLANES)
		return (qs_seterr(qs, QS_CORRUPT, "bad expiry key"));
	if ((rc = qs_queue_by_qid(qs, txn, qs_be64_get(xk + 8), &k, &q)) !=
	    QS_OK)
		return (rc);
	if (q.q_head[lane] == qs_be64_get(xk))
		q.q_head[lane] = 0;
	if ((rc = qs_expire_walk(qs, txn, &q, lane, now_ms, max, expired)) !=
	    QS_OK || (rc = qs_lane_reindex(qs, txn, &q, lane)) != QS_OK)
		return (rc);
	return (qs_queue_put(qs, txn, &k, &q));
}

static int
qs_expire_txn(struct qstore *qs, MDB_txn *txn, uint64_t now_ms, size_t max,
    size_t *expired)
{
	unsigned char	 xk[QS_XKEY_LEN];
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = qs_cursor(qs, txn, QS_DB_EXPIRY, &c)) != QS_OK)
		return (rc);
	while (*expired < max) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0) {
			rc = rc == MDB_NOTFOUND ? QS_OK :
			    qs_mdberr(qs, "mdb_cursor_get expiry", rc);
			break;
		}
		if (k.mv_size != QS_XKEY_LEN) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad expiry key");
			break;
		}
		if (qs_be64_get(k.mv_data) > now_ms)
			break;
		memcpy(xk, k.mv_data, sizeof(xk));
		if ((rc = qs_expire_lane(qs, txn, xk, now_ms, max, expired)) !=
		    QS_OK)
			break;
	}
	mdb_cursor_close(c);
	return (rc);
}

int
qs_expire(struct qstore *qs, uint64_t now_ms, size_t max, size_t *expired)
{
	MDB_txn	*txn;
	size_t	 n = 0;
	int	 rc;

	if (expired != NULL)
		*expired = 0;
	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_expire_txn(qs, txn, now_ms, max, &n);
	if (rc == QS_OK && expired != NULL)
		*expired = n;
	return (qs_wdone(qs, rc));
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */
/* ------------------------------------------------------------------ */

/* Hand message seq (header m) of lane to the walk's callback. */
static void
qs_walk_emit(struct qs_walk *w, int lane, uint64_t seq,
    const struct qs_mhdr *m)
{
	char	 id[QS_MSGID_SIZE];

	if (m->m_expires != 0 && m->m_expires <= w->w_now) {
		w->w_pos->qc_last[lane] = seq;
		return;
	}
	qs_msgid_format(id, lane, seq);
	if (w->w_cb != NULL && w->w_cb(w->w_arg, id, m->m_prio,
	    m->m_enqueued, m->m_data, m->m_len) != 0) {
		w->w_stop = w->w_more = 1;
		return;
	}
	w->w_pos->qc_last[lane] = seq;
	w->w_count++;
}

/* Walk lane of the queue's settled messages from the walk's position. */
static int
qs_walk_msgs(struct qstore *qs, struct qs_walk *w, int lane)
{
	unsigned char	 start[QS_MKEY_LEN];
	struct qs_mhdr	 m;
	MDB_val		 k, v;
	int		 rc, first;

	qs_mkey_make(start, w->w_qid, lane, w->w_pos->qc_last[lane] + 1);
	for (first = 1; !w->w_stop; first = 0) {
		rc = qs_prefix_step(qs, w->w_cur, start, sizeof(start), 9,
		    first, &k, &v);
		if (rc != QS_OK)
			return (rc == QS_NOTFOUND ? QS_OK : rc);
		if (k.mv_size != QS_MKEY_LEN || qs_mhdr_decode(&m, &v) != QS_OK)
			return (qs_seterr(qs, QS_CORRUPT, "bad msgs record"));
		if (w->w_count >= w->w_limit) {
			w->w_more = 1;
			return (QS_OK);
		}
		qs_walk_emit(w, lane, qs_be64_get((unsigned char *)k.mv_data +
		    9), &m);
	}
	return (QS_OK);
}

/*
 * The ring path of qs_walk_log: every log copy of the lane newer than
 * the position is in the queue's ring (nothing newer was evicted), so
 * read those entries by key instead of scanning the log.  Entries gone
 * (acked, settled: the msgs walk had them) or of another queue copy are
 * skipped.
 */
static int
qs_walk_ring(struct qstore *qs, struct qs_walk *w, int lane)
{
	const uint64_t	*r = w->w_q->q_ring[lane];
	unsigned char	 kb[8];
	struct qs_lhdr	 l;
	MDB_val		 k, v;
	int		 i, mrc;

	for (i = 0; i < QS_RING && r[i] != 0 && !w->w_stop; i++) {
		if (r[i] <= w->w_pos->qc_last[lane])
			continue;
		qs_be64_put(kb, r[i]);
		k.mv_data = kb;
		k.mv_size = sizeof(kb);
		if ((mrc = mdb_cursor_get(w->w_lcur, &k, &v, MDB_SET_KEY)) ==
		    MDB_NOTFOUND)
			continue;
		if (mrc != 0)
			return (qs_mdberr(qs, "mdb_cursor_get log", mrc));
		if (qs_lhdr_decode(&l, &v) != QS_OK)
			return (qs_seterr(qs, QS_CORRUPT, "bad log record"));
		if (l.l_lane != lane || qs_lhdr_find(&l, w->w_qid) < 0)
			continue;
		if (w->w_count >= w->w_limit) {
			w->w_more = 1;
			return (QS_OK);
		}
		qs_walk_emit(w, lane, r[i], &l.l_m);
	}
	return (QS_OK);
}

/*
 * Walk lane of the queue's copies still in the log, after the settled
 * ones (a settle always takes the oldest log entries, so every log entry
 * comes after every settled message): through the ring when it holds
 * every copy newer than the position, else by a scan that stops once it
 * has seen as many copies as the queue has in the log.
 */
static int
qs_walk_log(struct qstore *qs, struct qs_walk *w, int lane)
{
	unsigned char	 start[8];
	struct qs_lhdr	 l;
	MDB_val		 k, v;
	uint32_t	 seen = 0;
	int		 mrc = 0, op;

	if (w->w_logn[lane] == 0)
		return (QS_OK);
	if (w->w_q->q_evicted[lane] <= w->w_pos->qc_last[lane])
		return (qs_walk_ring(qs, w, lane));
	qs_be64_put(start, w->w_pos->qc_last[lane] + 1);
	k.mv_data = start;
	k.mv_size = sizeof(start);
	for (op = MDB_SET_RANGE; !w->w_stop && seen < w->w_logn[lane] &&
	    (mrc = mdb_cursor_get(w->w_lcur, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size != 8 || qs_lhdr_decode(&l, &v) != QS_OK)
			return (qs_seterr(qs, QS_CORRUPT, "bad log record"));
		if (l.l_lane != lane || qs_lhdr_find(&l, w->w_qid) < 0)
			continue;
		seen++;
		if (w->w_count >= w->w_limit) {
			w->w_more = 1;
			return (QS_OK);
		}
		qs_walk_emit(w, lane, qs_be64_get(k.mv_data), &l.l_m);
	}
	if (!w->w_stop && seen < w->w_logn[lane] && mrc != MDB_NOTFOUND)
		return (qs_mdberr(qs, "mdb_cursor_get log", mrc));
	return (QS_OK);
}

/* Walk lane of the queue from just after the walk's position. */
static int
qs_walk_lane(struct qstore *qs, struct qs_walk *w, int lane)
{
	int	 rc;

	if (w->w_pos->qc_last[lane] == UINT64_MAX)
		return (QS_OK);
	if ((rc = qs_walk_msgs(qs, w, lane)) != QS_OK || w->w_stop ||
	    w->w_more)
		return (rc);
	return (qs_walk_log(qs, w, lane));
}

static int
qs_walk(struct qstore *qs, MDB_txn *txn, const char *user, const char *device,
    struct qs_walk *w)
{
	struct qs_qkey	 qk;
	struct qs_queue	 q;
	int		 rc, lane;

	qs_qkey_make(&qk, user, device);
	if ((rc = qs_queue_get(qs, txn, &qk, &q)) != QS_OK)
		return (rc);
	w->w_qid = q.q_qid;
	w->w_pos->qc_count = q.q_count;
	w->w_pos->qc_dropped = q.q_dropped;
	w->w_pos->qc_seen_ms = q.q_seen;
	memcpy(w->w_logn, q.q_log, sizeof(w->w_logn));
	w->w_q = &q;
	if ((rc = qs_cursor(qs, txn, QS_DB_MSGS, &w->w_cur)) != QS_OK)
		return (rc);
	if ((rc = qs_cursor(qs, txn, QS_DB_LOG, &w->w_lcur)) != QS_OK) {
		mdb_cursor_close(w->w_cur);
		return (rc);
	}
	for (lane = 0; lane < QS_NLANES && rc == QS_OK && !w->w_stop &&
	    !w->w_more; lane++)
		rc = qs_walk_lane(qs, w, lane);
	mdb_cursor_close(w->w_lcur);
	mdb_cursor_close(w->w_cur);
	return (rc);
}

void
qs_cursor_init(struct qs_cursor *cur)
{
	memset(cur, 0, sizeof(*cur));
}

int
qs_fetch_after(struct qstore *qs, const char *user, const char *device,
    struct qs_cursor *cur, size_t limit, uint64_t now_ms, qs_msg_cb cb,
    void *arg, size_t *count, int *more)
{
	struct qs_walk	 w;
	MDB_txn		*txn;
	int		 rc;

	memset(&w, 0, sizeof(w));
	if (count != NULL)
		*count = 0;
	if (more != NULL)
		*more = 0;
	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	if (cur == NULL)
		return (qs_seterr(qs, QS_INVAL, "no cursor"));
	w.w_now = now_ms;
	w.w_limit = limit;
	w.w_cb = cb;
	w.w_arg = arg;
	w.w_pos = cur;
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_walk(qs, txn, user, device, &w);
	qs_rend(qs, txn);
	if (count != NULL)
		*count = w.w_count;
	if (more != NULL)
		*more = w.w_more;
	return (rc);
}

int
qs_fetch(struct qstore *qs, const char *user, const char *device,
    size_t limit, uint64_t now_ms, qs_msg_cb cb, void *arg, size_t *count)
{
	struct qs_cursor	 cur;

	qs_cursor_init(&cur);
	return (qs_fetch_after(qs, user, device, &cur, limit, now_ms, cb, arg,
	    count, NULL));
}

/* Fill d from a queues entry (key k, value v) and its push record. */
static int
qs_device_info(struct qstore *qs, MDB_txn *txn, const MDB_val *k,
    const MDB_val *v, char *devbuf, struct qs_push *pu, struct qs_device *d)
{
	const unsigned char	*p = k->mv_data;
	struct qs_queue		 q;
	MDB_val			 pv;
	size_t			 ulen, dlen;
	int			 rc;

	ulen = p[0];
	if (k->mv_size < ulen + 3 || (dlen = p[1 + ulen]) == 0 ||
	    k->mv_size != ulen + 2 + dlen || qs_queue_decode(&q, v) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad queues record"));
	memcpy(devbuf, p + 2 + ulen, dlen);
	devbuf[dlen] = '\0';
	memset(d, 0, sizeof(*d));
	d->qd_device = devbuf;
	d->qd_count = q.q_count;
	d->qd_bytes = q.q_bytes;
	d->qd_created_ms = q.q_created;
	d->qd_last_seen_ms = q.q_seen;
	if ((rc = qs_get(qs, txn, QS_DB_PUSH, k->mv_data, k->mv_size,
	    &pv)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_OK : rc);
	if (qs_push_decode(pu, &pv) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad push record"));
	d->qd_has_push = 1;
	d->qd_platform = pu->p_platform;
	d->qd_token = pu->p_token;
	d->qd_app_id = pu->p_app;
	d->qd_registered_ms = pu->p_registered;
	return (QS_OK);
}

static int
qs_devices_txn(struct qstore *qs, MDB_txn *txn, const char *user,
    qs_device_cb cb, void *arg, size_t *count)
{
	unsigned char	 uk[QS_UKEY_MAX];
	char		 dev[ID_MAX + 1];
	struct qs_push	 pu;
	struct qs_device d;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 uklen;
	int		 rc, first;

	uklen = qs_ukey_make(uk, user);
	if ((rc = qs_cursor(qs, txn, QS_DB_QUEUES, &c)) != QS_OK)
		return (rc);
	for (first = 1; (rc = qs_prefix_step(qs, c, uk, uklen, uklen, first, &k,
	    &v)) == QS_OK; first = 0) {
		if (qs_key_held(&k))
			continue;
		if ((rc = qs_device_info(qs, txn, &k, &v, dev, &pu, &d)) !=
		    QS_OK)
			break;
		(*count)++;
		if (cb != NULL && cb(arg, &d) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

int
qs_devices(struct qstore *qs, const char *user, qs_device_cb cb, void *arg,
    size_t *count)
{
	MDB_txn	*txn;
	size_t	 n = 0;
	int	 rc;

	if (count != NULL)
		*count = 0;
	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if (!id_valid(user))
		return (qs_seterr(qs, QS_BADID, "bad user id"));
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_devices_txn(qs, txn, user, cb, arg, &n);
	qs_rend(qs, txn);
	if (count != NULL)
		*count = n;
	return (rc);
}

int
qs_depth(struct qstore *qs, const char *user, const char *device,
    uint32_t *count, uint64_t *bytes)
{
	struct qs_qkey	 k;
	struct qs_queue	 q;
	MDB_txn		*txn;
	int		 rc;

	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	qs_qkey_make(&k, user, device);
	rc = qs_queue_get(qs, txn, &k, &q);
	qs_rend(qs, txn);
	if (rc == QS_OK && count != NULL)
		*count = q.q_count;
	if (rc == QS_OK && bytes != NULL)
		*bytes = q.q_bytes;
	return (rc);
}

int
qs_held_count(struct qstore *qs, const char *user, uint32_t *count)
{
	struct qs_qkey	 k;
	struct qs_queue	 q;
	MDB_txn		*txn;
	int		 rc;

	*count = 0;
	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if (!id_valid(user))
		return (qs_seterr(qs, QS_BADID, "bad user id"));
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	qs_hkey_make(&k, user);
	rc = qs_queue_get(qs, txn, &k, &q);
	qs_rend(qs, txn);
	if (rc == QS_OK)
		*count = q.q_count;
	return (rc == QS_NOTFOUND ? QS_OK : rc);
}

/* Sum the count and bytes of every queue record (held queues too). */
static int
qs_totals_txn(struct qstore *qs, MDB_txn *txn, uint64_t *messages,
    uint64_t *bytes)
{
	struct qs_queue	 q;
	MDB_cursor	*c;
	MDB_val		 k, v;
	MDB_cursor_op	 op;
	int		 mrc, rc = QS_OK;

	if ((rc = qs_cursor(qs, txn, QS_DB_QUEUES, &c)) != QS_OK)
		return (rc);
	for (op = MDB_FIRST; (mrc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (qs_queue_decode(&q, &v) != QS_OK) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad queues record");
			break;
		}
		*messages += q.q_count;
		*bytes += q.q_bytes;
	}
	if (rc == QS_OK && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get queues", mrc);
	mdb_cursor_close(c);
	return (rc);
}

int
qs_totals(struct qstore *qs, uint64_t *messages, uint64_t *bytes)
{
	MDB_txn	*txn;
	int	 rc;

	*messages = *bytes = 0;
	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_totals_txn(qs, txn, messages, bytes);
	qs_rend(qs, txn);
	return (rc);
}

int
qs_held_drop(struct qstore *qs, const char *user, size_t *dropped)
{
	struct qs_qkey	 k;
	MDB_txn		*txn;
	size_t		 n = 0;
	int		 rc;

	if (dropped != NULL)
		*dropped = 0;
	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user))
		return (qs_seterr(qs, QS_BADID, "bad user id"));
	qs_hkey_make(&k, user);
	rc = qs_device_delete_txn(qs, txn, &k, &n);
	if (rc == QS_OK)
		rc = qs_held_adjust(qs, txn, -1);
	if (rc == QS_OK && dropped != NULL)
		*dropped = n;
	return (qs_wdone(qs, rc));
}

void
qs_effects(const struct qstore *qs, struct qs_effects *fx)
{
	*fx = qs->qs_fx;
}

/*
 * The outbox counters: pending jobs (entries of the due index), the
 * oldest since time among them (a walk of the due index: its values
 * carry the since times) and the jobs dropped.
 */
static int
qs_outbox_stats(struct qstore *qs, MDB_txn *txn, struct qs_stats *st)
{
	const unsigned char	*p;
	MDB_cursor		*c;
	MDB_val			 k, v;
	MDB_stat		 ms;
	uint64_t		 since;
	int			 rc, mrc, op;

	if ((rc = mdb_stat(txn, qs->qs_dbi[QS_DB_OUTDUE], &ms)) != 0)
		return (qs_mdberr(qs, "mdb_stat", rc));
	st->st_outbox = ms.ms_entries;
	if ((rc = qs_meta_get(qs, txn, "outbox_dropped",
	    &st->st_outbox_dropped)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT,
		    "meta outbox_dropped missing") : rc);
	if ((rc = qs_cursor(qs, txn, QS_DB_OUTDUE, &c)) != QS_OK)
		return (rc);
	for (op = MDB_FIRST; (mrc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		p = v.mv_data;
		if (v.mv_size != 9 || p[0] != QS_FMT) {
			rc = qs_seterr(qs, QS_CORRUPT, "bad outdue record");
			break;
		}
		since = qs_be64_get(p + 1);
		if (st->st_outbox_oldest_ms == 0 ||
		    since < st->st_outbox_oldest_ms)
			st->st_outbox_oldest_ms = since;
	}
	mdb_cursor_close(c);
	if (rc == QS_OK && mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get outdue", mrc);
	return (rc);
}

static int
qs_stats_txn(struct qstore *qs, MDB_txn *txn, struct qs_stats *st)
{
	static const int	 dbs[] = { QS_DB_MSGS, QS_DB_QUEUES,
				    QS_DB_LOG, QS_DB_PUSH, QS_DB_EXPIRY };
	uint64_t		*out[5];
	MDB_stat		 ms;
	size_t			 i;
	int			 rc;

	out[0] = &st->st_messages;
	out[1] = &st->st_queues;
	out[2] = &st->st_log;
	out[3] = &st->st_push;
	out[4] = &st->st_expiry;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if ((rc = mdb_stat(txn, qs->qs_dbi[dbs[i]], &ms)) != 0)
			return (qs_mdberr(qs, "mdb_stat", rc));
		*out[i] = ms.ms_entries;
	}
	st->st_page_size = ms.ms_psize;
	if ((rc = qs_meta_get(qs, txn, "held_queues", &st->st_held)) !=
	    QS_OK)
		return (rc);
	st->st_queues -= st->st_held < st->st_queues ? st->st_held :
	    st->st_queues;
	return (qs_outbox_stats(qs, txn, st));
}

int
qs_stats(struct qstore *qs, struct qs_stats *st)
{
	MDB_envinfo	 info;
	MDB_txn		*txn;
	int		 rc;

	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	memset(st, 0, sizeof(*st));
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_stats_txn(qs, txn, st);
	qs_rend(qs, txn);
	if (rc != QS_OK)
		return (rc);
	if ((rc = mdb_env_info(qs->qs_env, &info)) != 0)
		return (qs_mdberr(qs, "mdb_env_info", rc));
	st->st_map_size = info.me_mapsize;
	st->st_map_used = (uint64_t)(info.me_last_pgno + 1) * st->st_page_size;
	st->st_last_txnid = info.me_last_txnid;
	st->st_readers = info.me_numreaders;
	st->st_max_readers = info.me_maxreaders;
	return (QS_OK);
}

/* ------------------------------------------------------------------ */
/* Push outbox                                                         */
/* ------------------------------------------------------------------ */

void
qs_push_config(struct qstore *qs, int enabled, uint64_t coalesce_ms)
{
	if (qs == NULL)
		return;
	qs->qs_outbox = enabled != 0;
	qs->qs_coalesce = coalesce_ms;
}

/* Split an outdue key into its due time and device key. */
static int
qs_dkey_split(struct qstore *qs, const MDB_val *dk, uint64_t *due,
    MDB_val *k)
{
	if (dk->mv_size < 8 + 4 || dk->mv_size > QS_DKEY_MAX)
		return (qs_seterr(qs, QS_CORRUPT, "bad outdue key"));
	*due = qs_be64_get(dk->mv_data);
	k->mv_data = (unsigned char *)dk->mv_data + 8;
	k->mv_size = dk->mv_size - 8;
	return (QS_OK);
}

/* Fill pj for the pending job of device key k due at due and call cb;
 * *stop gets its answer. */
static int
qs_push_emit(struct qstore *qs, MDB_txn *txn, const MDB_val *k, uint64_t due,
    qs_push_cb cb, void *arg, int *stop)
{
	char			 user[ID_MAX + 1], device[ID_MAX + 1];
	struct qs_push_job	 pj;
	struct qs_qkey		 qk;
	struct qs_queue		 q;
	struct qs_push		 pu;
	struct qs_job		 j;
	MDB_val			 v;
	int			 rc;

	if (qs_key_split(k, user, device) == -1)
		return (qs_seterr(qs, QS_CORRUPT, "bad outdue key"));
	memcpy(qk.k_buf, k->mv_data, k->mv_size);
	qk.k_len = k->mv_size;
	if ((rc = qs_job_get(qs, txn, &qk, &j)) != QS_OK ||
	    (rc = qs_get(qs, txn, QS_DB_PUSH, qk.k_buf, qk.k_len, &v)) !=
	    QS_OK || (rc = qs_queue_get(qs, txn, &qk, &q)) != QS_OK)
		return (rc == QS_NOTFOUND ? qs_seterr(qs, QS_CORRUPT, "outdue "
		    "entry without its job, push target or queue") : rc);
	if (!j.j_pending || j.j_due != due)
		return (qs_seterr(qs, QS_CORRUPT, "outdue and outbox "
		    "disagree"));
	if (qs_push_decode(&pu, &v) != QS_OK)
		return (qs_seterr(qs, QS_CORRUPT, "bad push record"));
	memset(&pj, 0, sizeof(pj));
	pj.pj_user = user;
	pj.pj_device = device;
	pj.pj_platform = pu.p_platform;
	pj.pj_app_id = pu.p_app;
	pj.pj_token = pu.p_token;
	pj.pj_unread = q.q_count;
	pj.pj_gen = j.j_gen;
	pj.pj_attempts = j.j_attempts;
	pj.pj_high = j.j_high != 0;
	pj.pj_since_ms = j.j_since;
	pj.pj_due_ms = j.j_due;
	*stop = cb(arg, &pj) != 0;
	return (QS_OK);
}

static int
qs_push_due_txn(struct qstore *qs, MDB_txn *txn, uint64_t now_ms,
    size_t max, qs_push_cb cb, void *arg)
{
	MDB_cursor	*c;
	MDB_val		 dk, v, k;
	uint64_t	 due = 0;
	size_t		 n;
	int		 rc, mrc = 0, op, stop = 0;

	if ((rc = qs_cursor(qs, txn, QS_DB_OUTDUE, &c)) != QS_OK)
		return (rc);
	for (n = 0, op = MDB_FIRST; n < max && !stop &&
	    (mrc = mdb_cursor_get(c, &dk, &v, op)) == 0; n++, op = MDB_NEXT) {
		if ((rc = qs_dkey_split(qs, &dk, &due, &k)) != QS_OK ||
		    due > now_ms)
			break;
		if ((rc = qs_push_emit(qs, txn, &k, due, cb, arg, &stop)) !=
		    QS_OK)
			break;
	}
	mdb_cursor_close(c);
	if (rc == QS_OK && n < max && !stop && mrc != 0 &&
	    mrc != MDB_NOTFOUND)
		rc = qs_mdberr(qs, "mdb_cursor_get outdue", mrc);
	return (rc);
}

int
qs_push_due(struct qstore *qs, uint64_t now_ms, size_t max, qs_push_cb cb,
    void *arg)
{
	MDB_txn	*txn;
	int	 rc;

	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if (cb == NULL)
		return (qs_seterr(qs, QS_INVAL, "no push callback"));
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	rc = qs_push_due_txn(qs, txn, now_ms, max, cb, arg);
	qs_rend(qs, txn);
	return (rc);
}

int
qs_push_next_due(struct qstore *qs, uint64_t *due_ms)
{
	MDB_cursor	*c;
	MDB_txn		*txn;
	MDB_val		 dk, v, k;
	int		 rc, mrc;

	*due_ms = 0;
	if (qs_check(qs) != QS_OK)
		return (QS_ERR);
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	if ((rc = qs_cursor(qs, txn, QS_DB_OUTDUE, &c)) == QS_OK) {
		mrc = mdb_cursor_get(c, &dk, &v, MDB_FIRST);
		if (mrc == 0)
			rc = qs_dkey_split(qs, &dk, due_ms, &k);
		else if (mrc != MDB_NOTFOUND)
			rc = qs_mdberr(qs, "mdb_cursor_get outdue", mrc);
		mdb_cursor_close(c);
	}
	qs_rend(qs, txn);
	return (rc);
}

/* 1 if generation a is newer than b (they wrap). */
static int
qs_gen_after(uint32_t a, uint32_t b)
{
	return ((int32_t)(a - b) > 0);
}

/* Apply the outcome of a send of generation gen to job j (pending). */
static void
qs_job_outcome(struct qstore *qs, struct qs_job *j, uint32_t gen,
    int outcome, uint64_t now_ms, uint64_t retry_at_ms)
{
	switch (outcome) {
	case QS_PUSH_SENT:
		j->j_last_push = now_ms;
		if (gen == j->j_gen) {
			qs_job_sleep(j);
			break;
		}
		j->j_attempts = 0;
		j->j_since = j->j_last_msg != 0 ? j->j_last_msg : now_ms;
		if (j->j_high != 0 && !qs_gen_after(j->j_high, gen))
			j->j_high = 0;
		/* an urgent message during the send does not wait */
		j->j_due = j->j_high != 0 ? now_ms :
		    qs_add_sat(now_ms, qs->qs_coalesce);
		break;
	case QS_PUSH_SKIP:		/* a stale gen changes nothing */
		qs_job_sleep(j);
		break;
	case QS_PUSH_RETRY:
		j->j_attempts++;
		j->j_due = retry_at_ms;
		break;
	case QS_PUSH_DROP:
		if (gen == j->j_gen) {
			qs_job_sleep(j);
			break;
		}
		/* messages came during the send: they still want telling */
		j->j_attempts = 0;
		j->j_due = now_ms;
		j->j_since = j->j_last_msg != 0 ? j->j_last_msg : now_ms;
		break;
	}
}

static int
qs_push_done_txn(struct qstore *qs, MDB_txn *txn, const struct qs_qkey *k,
    uint32_t gen, int outcome, uint64_t now_ms, uint64_t retry_at_ms)
{
	struct qs_job	 old, j;
	uint64_t	 n;
	int		 rc;

	if ((rc = qs_job_get(qs, txn, k, &old)) != QS_OK)
		return (rc);
	if ((!old.j_pending && outcome != QS_PUSH_SENT) ||
	    (old.j_pending && outcome == QS_PUSH_SKIP && gen != old.j_gen))
		return (QS_OK);		/* nothing changes */
	j = old;
	if (!j.j_pending)
		j.j_last_push = now_ms;
	else
		qs_job_outcome(qs, &j, gen, outcome, now_ms, retry_at_ms);
	if (outcome == QS_PUSH_DROP &&
	    (rc = qs_meta_next(qs, txn, "outbox_dropped", &n)) != QS_OK)
		return (rc);
	return (qs_job_put(qs, txn, k, &old, &j));
}

int
qs_push_done(struct qstore *qs, const char *user, const char *device,
    uint32_t gen, int outcome, uint64_t now_ms, uint64_t retry_at_ms)
{
	struct qs_qkey	 k;
	MDB_txn		*txn;
	int		 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	if (outcome != QS_PUSH_SENT && outcome != QS_PUSH_SKIP &&
	    outcome != QS_PUSH_RETRY && outcome != QS_PUSH_DROP)
		return (qs_seterr(qs, QS_INVAL, "bad push outcome %d",
		    outcome));
	qs_qkey_make(&k, user, device);
	return (qs_wdone(qs, qs_push_done_txn(qs, txn, &k, gen, outcome,
	    now_ms, retry_at_ms)));
}

static int
qs_push_disconnect_txn(struct qstore *qs, MDB_txn *txn,
    const struct qs_qkey *k, uint64_t now_ms, uint64_t delay_ms)
{
	struct qs_job	 old, j;
	struct qs_queue	 q;
	MDB_val		 v;
	uint64_t	 due;
	int		 rc, had;

	if ((rc = qs_get(qs, txn, QS_DB_PUSH, k->k_buf, k->k_len, &v)) !=
	    QS_OK || (rc = qs_queue_get(qs, txn, k, &q)) != QS_OK)
		return (rc == QS_NOTFOUND ? QS_OK : rc);
	if (q.q_count == 0)
		return (QS_OK);
	memset(&old, 0, sizeof(old));
	if ((rc = qs_job_get(qs, txn, k, &old)) != QS_OK && rc != QS_NOTFOUND)
		return (rc);
	had = rc == QS_OK;
	j = old;
	j.j_gen++;
	due = qs_add_sat(now_ms, delay_ms);
	if (!j.j_pending)
		qs_job_wake(&j, now_ms, due);
	else if (due < j.j_due)
		j.j_due = due;
	return (qs_job_put(qs, txn, k, had ? &old : NULL, &j));
}

int
qs_push_disconnect(struct qstore *qs, const char *user, const char *device,
    uint64_t now_ms, uint64_t delay_ms)
{
	struct qs_qkey	 k;
	MDB_txn		*txn;
	int		 rc;

	if ((rc = qs_wbegin(qs, &txn)) != QS_OK)
		return (rc);
	if (!id_valid(user) || !id_valid(device))
		return (qs_seterr(qs, QS_BADID, "bad user or device id"));
	if (!qs->qs_outbox)
		return (QS_OK);
	qs_qkey_make(&k, user, device);
	return (qs_wdone(qs, qs_push_disconnect_txn(qs, txn, &k, now_ms,
	    delay_ms)));
}

/* ------------------------------------------------------------------ */
/* Backup                                                              */
/* ------------------------------------------------------------------ */

/* QS_OK if dir is an existing, empty directory. */
static int
qs_dir_empty(struct qstore *qs, const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return (qs_seterr(qs, QS_ERR, "opendir %s: %s", dir,
		    strerror(errno)));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	(void)closedir(d);
	if (n != 0)
		return (qs_seterr(qs, QS_ERR, "backup directory %s is not "
		    "empty", dir));
	return (QS_OK);
}

/* fsync the directory dir (a rename in it is durable after). */
static int
qs_fsync_dir(struct qstore *qs, const char *dir)
{
	int	 fd, rc = QS_OK;

	if ((fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY)) == -1)
		return (qs_seterr(qs, QS_ERR, "open %s: %s", dir,
		    strerror(errno)));
	if (fsync(fd) == -1)
		rc = qs_seterr(qs, QS_ERR, "fsync %s: %s", dir,
		    strerror(errno));
	(void)close(fd);
	return (rc);
}

/* Copy the env into the new file path (fd open on it), fsync'd. */
static int
qs_backup_copy(struct qstore *qs, int fd, const char *path)
{
	int	 rc;

	if ((rc = mdb_env_copyfd2(qs->qs_env, fd, MDB_CP_COMPACT)) != 0)
		return (qs_mdberr(qs, "mdb_env_copyfd2", rc));
	if (fsync(fd) == -1)
		return (qs_seterr(qs, QS_ERR, "fsync %s: %s", path,
		    strerror(errno)));
	return (QS_OK);
}

/*
 * The copy goes to DIR/.data.mdb.tmp (mode 0600), is fsync'd, then
 * renamed to DIR/data.mdb and DIR fsync'd: a crash leaves either no
 * data.mdb or a complete one.
 */
static int
qs_backup_run(struct qstore *qs, const char *dir)
{
	MDB_txn	*txn;
	char	 tmp[PATH_MAX], path[PATH_MAX];
	int	 fd, rc;

	if (qs->qs_batch != NULL)
		return (qs_seterr(qs, QS_ERR, "backup with a batch open"));
	if ((rc = qs_dir_empty(qs, dir)) != QS_OK)
		return (rc);
	/* Adopt a map grown by another process first: the copy's own
	 * read txn cannot recover from MDB_MAP_RESIZED. */
	if ((rc = qs_rbegin(qs, &txn)) != QS_OK)
		return (rc);
	qs_rend(qs, txn);
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path) || (size_t)snprintf(tmp, sizeof(tmp),
	    "%s/.data.mdb.tmp", dir) >= sizeof(tmp))
		return (qs_seterr(qs, QS_ERR, "backup path too long"));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    QS_FILE_MODE)) == -1)
		return (qs_seterr(qs, QS_ERR, "open %s: %s", tmp,
		    strerror(errno)));
	rc = qs_backup_copy(qs, fd, tmp);
	if (close(fd) == -1 && rc == QS_OK)
		rc = qs_seterr(qs, QS_ERR, "close %s: %s", tmp,
		    strerror(errno));
	if (rc == QS_OK && rename(tmp, path) == -1)
		rc = qs_seterr(qs, QS_ERR, "rename %s: %s", tmp,
		    strerror(errno));
	if (rc != QS_OK) {
		(void)unlink(tmp);
		return (rc);
	}
	return (qs_fsync_dir(qs, dir));
}

int
qs_backup(struct qstore *qs, const char *dir, const char **errstr)
{
	int	 rc;

	if ((rc = qs_check(qs)) == QS_OK) {
		if (dir == NULL)
			rc = qs_seterr(qs, QS_INVAL, "no backup directory");
		else
			rc = qs_backup_run(qs, dir);
	}
	if (rc != QS_OK && qs != NULL) {
		(void)snprintf(qs_static_err, sizeof(qs_static_err), "%s",
		    qs->qs_err);
		if (errstr != NULL)
			*errstr = qs_static_err;
	}
	return (rc);
}
