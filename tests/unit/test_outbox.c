/*
 * test_outbox.c: unit tests of the push outbox of src/qstore.c against
 * real LMDB files.
 *
 * Every test gets a fresh store in its own directory under one mkdtemp
 * root in /tmp, with the outbox on (coalescing COALESCE ms) unless the
 * test turns it off.  Covered: a message to a device with a push target
 * makes one pending job with its unread count, a burst makes one job,
 * coalescing after a send, high priority due at once, the outcomes
 * (sent, skipped, retried, dropped) with current and stale generations,
 * disconnects, due times that saturate, the outbox off, held messages,
 * removals of the target or the device and the idle sweep, the due
 * order and next due time, the stats counters, rollback with the
 * message's txn, durability across reopen, and the migration of a
 * schema-4 store (tests/unit/data/qstore/schema4.dump, loaded with
 * mdb_load).
 *
 * Forked children never use cmocka: they report through their exit
 * status and leave with _exit().
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "qstore.h"

#define QMAX		10000		/* queue_max in tests */
#define TTL		(30ULL * 24 * 3600 * 1000)	/* ms */
#define T0		1700000000000ULL	/* ms: the tests' clock */
#define COALESCE	1000		/* ms between two pushes */
#define MAXJOBS		16		/* jobs one collector holds */

static char	root[64];		/* /tmp/test_outbox.XXXXXX */
static int	ndirs;

struct fix {
	struct qstore	*qs;
	char		 dir[128];
};

/* A copy of one job qs_push_due handed over. */
struct job {
	char		 user[ID_MAX + 1];
	char		 device[ID_MAX + 1];
	char		 platform[QS_PLATFORM_MAX + 1];
	char		 app[QS_APPID_MAX + 1];
	char		 token[QS_TOKEN_MAX + 1];
	uint32_t	 unread;
	uint32_t	 gen;
	uint32_t	 attempts;
	int		 high;
	uint64_t	 since;
	uint64_t	 due;
};

struct jobs {
	size_t		 n;
	size_t		 stop_at;	/* stop after this many (0: never) */
	struct job	 j[MAXJOBS];
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return (remove(path));
}

static int
group_setup(void **state)
{
	(void)state;
	(void)strcpy(root, "/tmp/test_outbox.XXXXXX");
	return (mkdtemp(root) == NULL ? -1 : 0);
}

static int
group_teardown(void **state)
{
	(void)state;
	return (nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS));
}

static void
new_dir(char *buf, size_t len, const char *tag)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s%d", root, tag, ++ndirs);
	assert_true(n > 0 && (size_t)n < len);
}

static int
fix_setup(void **state)
{
	struct fix	*f;
	const char	*err = NULL;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (-1);
	new_dir(f->dir, sizeof(f->dir), "s");
	if ((f->qs = qs_open(f->dir, 0, &err)) == NULL) {
		fprintf(stderr, "qs_open: %s\n", err);
		free(f);
		return (-1);
	}
	qs_push_config(f->qs, 1, COALESCE);
	*state = f;
	return (0);
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;

	qs_close(f->qs);
	free(f);
	return (0);
}

static void
reopen(struct fix *f)
{
	const char	*err = "";

	qs_close(f->qs);
	f->qs = qs_open(f->dir, 0, &err);
	if (f->qs == NULL)
		fail_msg("reopen: %s", err);
	qs_push_config(f->qs, 1, COALESCE);
}

static void
batch_begin(struct qstore *qs)
{
	assert_int_equal(qs_batch_begin(qs), QS_OK);
}

static void
batch_commit(struct qstore *qs)
{
	if (qs_batch_commit(qs) != QS_OK)
		fail_msg("commit: %s", qs_lasterr(qs));
}

/* One message of priority prio to user at now, in a batch of its own. */
static void
send(struct qstore *qs, const char *user, int prio, uint64_t now)
{
	char	 id[QS_MSGID_SIZE];

	batch_begin(qs);
	if (qs_enqueue(qs, user, "{\"m\":1}", 7, prio, now, TTL, QMAX, id) !=
	    QS_OK)
		fail_msg("enqueue: %s", qs_lasterr(qs));
	batch_commit(qs);
}

static void
reg(struct qstore *qs, const char *user, const char *device,
    const char *token, uint64_t now)
{
	batch_begin(qs);
	assert_int_equal(qs_push_register(qs, user, device, "fcm", token,
	    "org.example.app", now), QS_OK);
	batch_commit(qs);
}

static void
touch(struct qstore *qs, const char *user, const char *device, uint64_t now)
{
	batch_begin(qs);
	assert_int_equal(qs_touch(qs, user, device, now, 0), QS_OK);
	batch_commit(qs);
}

/* qs_push_done in a batch of its own; its result. */
static int
done(struct qstore *qs, const char *user, const char *device, uint32_t gen,
    int outcome, uint64_t now, uint64_t retry_at)
{
	int	 rc;

	batch_begin(qs);
	rc = qs_push_done(qs, user, device, gen, outcome, now, retry_at);
	batch_commit(qs);
	return (rc);
}

static void
disconnect(struct qstore *qs, const char *user, const char *device,
    uint64_t now, uint64_t delay)
{
	batch_begin(qs);
	assert_int_equal(qs_push_disconnect(qs, user, device, now, delay),
	    QS_OK);
	batch_commit(qs);
}

static int
job_cb(void *arg, const struct qs_push_job *pj)
{
	struct jobs	*js = arg;
	struct job	*j;

	if (js->n >= MAXJOBS)
		return (1);
	j = &js->j[js->n++];
	(void)snprintf(j->user, sizeof(j->user), "%s", pj->pj_user);
	(void)snprintf(j->device, sizeof(j->device), "%s", pj->pj_device);
	(void)snprintf(j->platform, sizeof(j->platform), "%s",
	    pj->pj_platform);
	(void)snprintf(j->app, sizeof(j->app), "%s", pj->pj_app_id);
	(void)snprintf(j->token, sizeof(j->token), "%s", pj->pj_token);
	j->unread = pj->pj_unread;
	j->gen = pj->pj_gen;
	j->attempts = pj->pj_attempts;
	j->high = pj->pj_high;
	j->since = pj->pj_since_ms;
	j->due = pj->pj_due_ms;
	return (js->stop_at != 0 && js->n == js->stop_at);
}

/* The jobs due at now (up to max); static, overwritten by the next call. */
static struct jobs *
due(struct qstore *qs, uint64_t now, size_t max)
{
	static struct jobs	 js;

	memset(&js, 0, sizeof(js));
	if (qs_push_due(qs, now, max, job_cb, &js) != QS_OK)
		fail_msg("qs_push_due: %s", qs_lasterr(qs));
	return (&js);
}

/* The one job due at now; fails unless exactly one is due. */
static struct job *
due1(struct qstore *qs, uint64_t now)
{
	struct jobs	*js = due(qs, now, MAXJOBS);

	assert_int_equal(js->n, 1);
	return (&js->j[0]);
}

static uint64_t
next_due(struct qstore *qs)
{
	uint64_t	 d = 12345;

	assert_int_equal(qs_push_next_due(qs, &d), QS_OK);
	return (d);
}

static struct qs_stats *
stats(struct qstore *qs)
{
	static struct qs_stats	 st;

	assert_int_equal(qs_stats(qs, &st), QS_OK);
	return (&st);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* A message makes one pending job, only for the device with a target. */
static void
test_enqueue_job(void **state)
{
	struct fix	*f = *state;
	struct job	*j;

	reg(f->qs, "alice", "phone", "tokA", T0);
	touch(f->qs, "alice", "laptop", T0);
	reg(f->qs, "bob", "phone", "tokB", T0);
	assert_int_equal(stats(f->qs)->st_outbox, 0);
	assert_int_equal(next_due(f->qs), 0);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);

	send(f->qs, "alice", 0, T0 + 10);
	assert_int_equal(due(f->qs, T0 + 9, MAXJOBS)->n, 0);
	j = due1(f->qs, T0 + 10);
	assert_string_equal(j->user, "alice");
	assert_string_equal(j->device, "phone");
	assert_string_equal(j->platform, "fcm");
	assert_string_equal(j->app, "org.example.app");
	assert_string_equal(j->token, "tokA");
	assert_int_equal(j->unread, 1);
	assert_int_equal(j->attempts, 0);
	assert_int_equal(j->high, 0);
	assert_int_equal(j->since, T0 + 10);
	assert_int_equal(j->due, T0 + 10);
	assert_int_equal(next_due(f->qs), T0 + 10);
	assert_int_equal(stats(f->qs)->st_outbox, 1);
	assert_int_equal(stats(f->qs)->st_outbox_oldest_ms, T0 + 10);
	assert_int_equal(stats(f->qs)->st_outbox_dropped, 0);
	/* bob had no message: no job. */
	assert_int_equal(done(f->qs, "bob", "phone", 0, QS_PUSH_SENT, T0, 0),
	    QS_NOTFOUND);
	/* laptop has no target: no job either. */
	assert_int_equal(done(f->qs, "alice", "laptop", 0, QS_PUSH_SENT, T0,
	    0), QS_NOTFOUND);
}

/* A burst of N messages is one job with N unread, since the first. */
static void
test_burst(void **state)
{
	struct fix	*f = *state;
	struct job	*j;
	const char	*ids[1];
	char		 id[QS_MSGID_SIZE];
	uint32_t	 gen;
	int		 i;

	reg(f->qs, "alice", "phone", "tokA", T0);
	for (i = 0; i < 5; i++)
		send(f->qs, "alice", 0, T0 + (uint64_t)i);
	j = due1(f->qs, T0 + 100);
	assert_int_equal(j->unread, 5);
	assert_int_equal(j->since, T0);
	assert_int_equal(j->due, T0);
	gen = j->gen;
	assert_int_equal(stats(f->qs)->st_outbox, 1);
	/* The unread count is the queue's now: an ack takes one off. */
	batch_begin(f->qs);
	assert_int_equal(qs_enqueue(f->qs, "alice", "x", 1, 0, T0 + 5, TTL,
	    QMAX, id), QS_OK);
	ids[0] = id;
	assert_int_equal(qs_ack(f->qs, "alice", "phone", ids, 1, NULL),
	    QS_OK);
	batch_commit(f->qs);
	j = due1(f->qs, T0 + 100);
	assert_int_equal(j->unread, 5);
	assert_int_equal(j->gen, gen + 1);
	assert_int_equal(j->due, T0);
}

/* After a push the next one waits for the coalescing interval. */
static void
test_coalesce(void **state)
{
	struct fix	*f = *state;
	struct job	*j;

	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", 0, T0);
	j = due1(f->qs, T0);
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SENT,
	    T0 + 10, 0), QS_OK);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	assert_int_equal(next_due(f->qs), 0);
	assert_int_equal(stats(f->qs)->st_outbox, 0);
	assert_int_equal(stats(f->qs)->st_outbox_oldest_ms, 0);

	send(f->qs, "alice", 0, T0 + 20);
	assert_int_equal(next_due(f->qs), T0 + 10 + COALESCE);
	assert_int_equal(due(f->qs, T0 + 9 + COALESCE, MAXJOBS)->n, 0);
	j = due1(f->qs, T0 + 10 + COALESCE);
	assert_int_equal(j->since, T0 + 20);
	assert_int_equal(j->unread, 2);
	/* Another message keeps the due time. */
	send(f->qs, "alice", 0, T0 + 30);
	j = due1(f->qs, T0 + 10 + COALESCE);
	assert_int_equal(j->due, T0 + 10 + COALESCE);
	assert_int_equal(j->since, T0 + 20);

	/* Long after the last push, a message is due at once. */
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SENT,
	    T0 + 2000, 0), QS_OK);
	send(f->qs, "alice", 0, T0 + 5000);
	assert_int_equal(due1(f->qs, T0 + 5000)->due, T0 + 5000);
}

/* A message of priority >= PRIO_HIGH is due at once. */
static void
test_high(void **state)
{
	struct fix	*f = *state;
	struct job	*j;

	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", 0, T0);
	j = due1(f->qs, T0);
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SENT,
	    T0 + 10, 0), QS_OK);
	/* Idle, inside the interval: a high message is due now. */
	send(f->qs, "alice", PRIO_HIGH, T0 + 20);
	j = due1(f->qs, T0 + 20);
	assert_int_equal(j->due, T0 + 20);
	assert_int_equal(j->high, 1);
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SENT,
	    T0 + 30, 0), QS_OK);
	/* Pending and waiting: a normal message waits, a high one not. */
	send(f->qs, "alice", PRIO_HIGH - 1, T0 + 40);
	assert_int_equal(next_due(f->qs), T0 + 30 + COALESCE);
	assert_int_equal(due(f->qs, T0 + 50, MAXJOBS)->n, 0);
	send(f->qs, "alice", PRIO_MAX, T0 + 50);
	j = due1(f->qs, T0 + 50);
	assert_int_equal(j->due, T0 + 50);
	assert_int_equal(j->since, T0 + 40);
	assert_int_equal(j->high, 1);
	assert_int_equal(stats(f->qs)->st_outbox, 1);
	assert_int_equal(next_due(f->qs), T0 + 50);
}

/* A send that raced new messages leaves the job pending. */
static void
test_stale_gen(void **state)
{
	struct fix	*f = *state;
	struct job	*j;
	uint32_t	 gen;

	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", PRIO_HIGH, T0);
	gen = due1(f->qs, T0)->gen;
	send(f->qs, "alice", 0, T0 + 5);	/* during the send */
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_SENT,
	    T0 + 10, 0), QS_OK);
	assert_int_equal(stats(f->qs)->st_outbox, 1);
	assert_int_equal(due(f->qs, T0 + 9 + COALESCE, MAXJOBS)->n, 0);
	j = due1(f->qs, T0 + 10 + COALESCE);
	assert_int_equal(j->since, T0 + 5);
	assert_int_equal(j->unread, 2);
	assert_int_equal(j->attempts, 0);
	assert_int_equal(j->high, 0);	/* the high one was announced */
	assert_int_equal(j->gen, gen + 1);

	/* A high message during the send stays high, and due at once. */
	gen = j->gen;
	send(f->qs, "alice", PRIO_HIGH, T0 + 20);
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_SENT,
	    T0 + 30, 0), QS_OK);
	j = due1(f->qs, T0 + 30);
	assert_int_equal(j->due, T0 + 30);
	assert_int_equal(j->high, 1);
	assert_int_equal(j->since, T0 + 20);
	/* The current generation makes it idle. */
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SENT,
	    T0 + 40, 0), QS_OK);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
}

/* SKIP, RETRY and DROP, with current and stale generations. */
static void
test_outcomes(void **state)
{
	struct fix	*f = *state;
	struct job	*j;
	uint32_t	 gen;

	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", 0, T0);
	gen = due1(f->qs, T0)->gen;
	assert_int_equal(done(f->qs, "alice", "phone", gen, 99, T0, 0),
	    QS_INVAL);
	assert_int_equal(done(f->qs, "alice", "nope", gen, QS_PUSH_SKIP, T0,
	    0), QS_NOTFOUND);

	/* RETRY: attempts grow, due at retry_at whatever gen. */
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_RETRY,
	    T0 + 10, T0 + 500), QS_OK);
	assert_int_equal(due(f->qs, T0 + 499, MAXJOBS)->n, 0);
	j = due1(f->qs, T0 + 500);
	assert_int_equal(j->attempts, 1);
	assert_int_equal(j->since, T0);
	assert_int_equal(done(f->qs, "alice", "phone", gen + 7,
	    QS_PUSH_RETRY, T0 + 510, T0 + 900), QS_OK);
	j = due1(f->qs, T0 + 900);
	assert_int_equal(j->attempts, 2);
	assert_int_equal(next_due(f->qs), T0 + 900);

	/* SKIP with a stale gen changes nothing; with the current, idle. */
	send(f->qs, "alice", 0, T0 + 600);
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_SKIP,
	    T0 + 910, 0), QS_OK);
	j = due1(f->qs, T0 + 900);
	assert_int_equal(j->attempts, 2);
	assert_int_equal(j->gen, gen + 1);
	assert_int_equal(j->due, T0 + 900);
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SKIP,
	    T0 + 920, 0), QS_OK);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	/* A skip is no push: the next message is due at once. */
	send(f->qs, "alice", 0, T0 + 930);
	j = due1(f->qs, T0 + 930);
	assert_int_equal(j->due, T0 + 930);
	assert_int_equal(j->attempts, 0);

	/* DROP with a stale gen: counted, and the message that came during
	 * the send still wants telling, at once. */
	gen = j->gen;
	send(f->qs, "alice", 0, T0 + 940);
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_DROP,
	    T0 + 950, 0), QS_OK);
	assert_int_equal(stats(f->qs)->st_outbox_dropped, 1);
	j = due1(f->qs, T0 + 950);
	assert_int_equal(j->due, T0 + 950);
	assert_int_equal(j->since, T0 + 940);
	assert_int_equal(j->attempts, 0);
	/* DROP with its gen: idle, and counted. */
	gen = j->gen;
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_DROP,
	    T0 + 955, 0), QS_OK);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	assert_int_equal(stats(f->qs)->st_outbox, 0);
	assert_int_equal(stats(f->qs)->st_outbox_dropped, 2);
	/* On an idle job only SENT does something. */
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_DROP,
	    T0 + 960, 0), QS_OK);
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_RETRY,
	    T0 + 960, T0 + 970), QS_OK);
	assert_int_equal(stats(f->qs)->st_outbox_dropped, 2);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	/* Nothing was ever sent: the next message is due at once. */
	send(f->qs, "alice", 0, T0 + 970);
	j = due1(f->qs, T0 + 970);
	assert_int_equal(j->due, T0 + 970);
	assert_int_equal(done(f->qs, "alice", "phone", j->gen, QS_PUSH_SKIP,
	    T0 + 980, 0), QS_OK);
	/* SENT on an idle job moves the last push: coalescing from it. */
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_SENT,
	    T0 + 3000, 0), QS_OK);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	send(f->qs, "alice", 0, T0 + 3100);
	assert_int_equal(next_due(f->qs), T0 + 3000 + COALESCE);
}

/* A disconnect with queued messages makes the job pending. */
static void
test_disconnect(void **state)
{
	struct fix	*f = *state;
	struct job	*j;
	uint32_t	 gen;

	reg(f->qs, "alice", "phone", "tokA", T0);
	reg(f->qs, "bob", "phone", "tokB", T0);
	touch(f->qs, "carol", "phone", T0);
	send(f->qs, "carol", 0, T0);
	/* Without messages, without a target, unknown: nothing. */
	disconnect(f->qs, "bob", "phone", T0 + 1, 100);
	disconnect(f->qs, "carol", "phone", T0 + 1, 100);
	disconnect(f->qs, "dave", "phone", T0 + 1, 100);
	assert_int_equal(stats(f->qs)->st_outbox, 0);
	assert_int_equal(done(f->qs, "bob", "phone", 0, QS_PUSH_SENT, T0, 0),
	    QS_NOTFOUND);
	assert_int_equal(done(f->qs, "carol", "phone", 0, QS_PUSH_SENT, T0,
	    0), QS_NOTFOUND);

	/* An idle job with messages: pending at now + delay. */
	send(f->qs, "alice", 0, T0);
	gen = due1(f->qs, T0)->gen;
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_SKIP,
	    T0 + 10, 0), QS_OK);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	disconnect(f->qs, "alice", "phone", T0 + 100, 500);
	assert_int_equal(due(f->qs, T0 + 599, MAXJOBS)->n, 0);
	j = due1(f->qs, T0 + 600);
	assert_int_equal(j->since, T0 + 100);
	assert_int_equal(j->unread, 1);
	assert_int_equal(j->gen, gen + 1);
	/* An earlier due time stays; a later disconnect does not delay. */
	disconnect(f->qs, "alice", "phone", T0 + 200, 5000);
	j = due1(f->qs, T0 + 600);
	assert_int_equal(j->due, T0 + 600);
	disconnect(f->qs, "alice", "phone", T0 + 300, 100);
	j = due1(f->qs, T0 + 400);
	assert_int_equal(j->due, T0 + 400);
	assert_int_equal(j->since, T0 + 100);
	/* A send begun before the disconnect does not make it idle. */
	assert_int_equal(done(f->qs, "alice", "phone", gen + 1, QS_PUSH_SKIP,
	    T0 + 410, 0), QS_OK);
	assert_int_equal(due1(f->qs, T0 + 400)->gen, gen + 3);

	/* Outbox off: nothing written. */
	assert_int_equal(done(f->qs, "alice", "phone", gen + 3, QS_PUSH_SKIP,
	    T0 + 420, 0), QS_OK);
	qs_push_config(f->qs, 0, COALESCE);
	disconnect(f->qs, "alice", "phone", T0 + 500, 0);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
}

/* Due times that do not fit stop at UINT64_MAX instead of wrapping. */
static void
test_saturate(void **state)
{
	struct fix	*f = *state;
	uint32_t	 gen;

	qs_push_config(f->qs, 1, UINT64_MAX);
	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", 0, T0);
	gen = due1(f->qs, T0)->gen;
	send(f->qs, "alice", 0, T0 + 1);
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_SENT,
	    T0 + 2, 0), QS_OK);
	assert_int_equal(next_due(f->qs), UINT64_MAX);
	assert_int_equal(due(f->qs, UINT64_MAX - 1, MAXJOBS)->n, 0);
	assert_int_equal(due1(f->qs, UINT64_MAX)->since, T0 + 1);
	assert_int_equal(done(f->qs, "alice", "phone", gen + 1, QS_PUSH_SENT,
	    T0 + 3, 0), QS_OK);
	send(f->qs, "alice", 0, T0 + 4);	/* last push + interval */
	assert_int_equal(next_due(f->qs), UINT64_MAX);
	assert_int_equal(done(f->qs, "alice", "phone", gen + 2, QS_PUSH_SKIP,
	    T0 + 5, 0), QS_OK);
	disconnect(f->qs, "alice", "phone", T0 + 6, UINT64_MAX);
	assert_int_equal(next_due(f->qs), UINT64_MAX);
}

/* With the outbox off nothing is written; a held message makes no job. */
static void
test_disabled_and_held(void **state)
{
	struct fix	*f = *state;

	qs_push_config(f->qs, 0, COALESCE);
	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", PRIO_MAX, T0);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	assert_int_equal(next_due(f->qs), 0);
	assert_int_equal(stats(f->qs)->st_outbox, 0);
	assert_int_equal(done(f->qs, "alice", "phone", 1, QS_PUSH_SENT, T0,
	    0), QS_NOTFOUND);

	/* Held for a user with no device; the adopting device: no job. */
	qs_push_config(f->qs, 1, COALESCE);
	send(f->qs, "bob", PRIO_MAX, T0);
	reg(f->qs, "bob", "phone", "tokB", T0 + 1);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	assert_int_equal(done(f->qs, "bob", "phone", 1, QS_PUSH_SENT, T0, 0),
	    QS_NOTFOUND);
	/* Its next message makes one, counting the adopted one. */
	send(f->qs, "bob", 0, T0 + 2);
	assert_int_equal(due1(f->qs, T0 + 2)->unread, 2);
}

/* The job is written in the message's txn: an abort leaves none. */
static void
test_rollback(void **state)
{
	struct fix	*f = *state;
	char		 id[QS_MSGID_SIZE];

	reg(f->qs, "alice", "phone", "tokA", T0);
	batch_begin(f->qs);
	assert_int_equal(qs_enqueue(f->qs, "alice", "x", 1, 0, T0, TTL, QMAX,
	    id), QS_OK);
	qs_batch_abort(f->qs);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	assert_int_equal(stats(f->qs)->st_outbox, 0);

	batch_begin(f->qs);
	assert_int_equal(qs_sub_begin(f->qs), QS_OK);
	assert_int_equal(qs_enqueue(f->qs, "alice", "x", 1, 0, T0, TTL, QMAX,
	    id), QS_OK);
	qs_sub_abort(f->qs);
	assert_int_equal(qs_sub_begin(f->qs), QS_OK);
	assert_int_equal(qs_enqueue(f->qs, "alice", "y", 1, 0, T0 + 1, TTL,
	    QMAX, id), QS_OK);
	assert_int_equal(qs_sub_commit(f->qs), QS_OK);
	batch_commit(f->qs);
	assert_int_equal(due1(f->qs, T0 + 1)->since, T0 + 1);
}

/* Removing the target, deleting the device or forgetting it drops the
 * job and its index entry. */
static void
test_removals(void **state)
{
	struct fix	*f = *state;
	size_t		 forgotten = 0;

	reg(f->qs, "alice", "phone", "tokA", T0);
	reg(f->qs, "alice", "tablet", "tokT", T0);
	reg(f->qs, "bob", "phone", "tokB", T0);
	send(f->qs, "alice", 0, T0);
	send(f->qs, "bob", 0, T0);
	assert_int_equal(due(f->qs, T0, MAXJOBS)->n, 3);
	assert_int_equal(stats(f->qs)->st_outbox, 3);

	batch_begin(f->qs);
	assert_int_equal(qs_push_remove(f->qs, "alice", "phone"), QS_OK);
	assert_int_equal(qs_push_remove(f->qs, "alice", "phone"),
	    QS_NOTFOUND);
	batch_commit(f->qs);
	assert_int_equal(stats(f->qs)->st_outbox, 2);
	assert_int_equal(done(f->qs, "alice", "phone", 1, QS_PUSH_SENT, T0,
	    0), QS_NOTFOUND);

	batch_begin(f->qs);
	assert_int_equal(qs_device_delete(f->qs, "alice", "tablet", NULL),
	    QS_OK);
	batch_commit(f->qs);
	assert_int_equal(stats(f->qs)->st_outbox, 1);
	assert_string_equal(due1(f->qs, T0)->user, "bob");

	/* The idle sweep forgets bob (not seen for a day) and its job. */
	batch_begin(f->qs);
	assert_int_equal(qs_forget_idle(f->qs, T0 + 86400000, 3600000, 100,
	    NULL, NULL, &forgotten, NULL), QS_OK);
	batch_commit(f->qs);
	assert_int_equal(forgotten, 2);	/* bob/phone, alice/phone */
	assert_int_equal(stats(f->qs)->st_outbox, 0);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
	assert_int_equal(next_due(f->qs), 0);

	/* A new registration starts afresh. */
	reg(f->qs, "bob", "phone", "tokB2", T0 + 86400001);
	send(f->qs, "bob", 0, T0 + 86400002);
	assert_string_equal(due1(f->qs, T0 + 86400002)->token, "tokB2");
	/* A new registration keeps the pending job, for the new target. */
	reg(f->qs, "bob", "phone", "tokB3", T0 + 86400003);
	assert_string_equal(due1(f->qs, T0 + 86400002)->token, "tokB3");
}

/* Due order, max, a stopping callback, next due, oldest since. */
static void
test_order(void **state)
{
	struct fix	*f = *state;
	struct jobs	*js;
	uint32_t	 gen;

	reg(f->qs, "a", "d", "t1", T0);
	reg(f->qs, "b", "d", "t2", T0);
	reg(f->qs, "c", "d", "t3", T0);
	send(f->qs, "a", 0, T0);
	gen = due1(f->qs, T0)->gen;
	assert_int_equal(done(f->qs, "a", "d", gen, QS_PUSH_RETRY, T0 + 1,
	    T0 + 300), QS_OK);
	send(f->qs, "b", 0, T0 + 100);
	send(f->qs, "c", 0, T0 + 200);
	assert_int_equal(next_due(f->qs), T0 + 100);
	js = due(f->qs, T0 + 1000, MAXJOBS);
	assert_int_equal(js->n, 3);
	assert_string_equal(js->j[0].user, "b");
	assert_string_equal(js->j[1].user, "c");
	assert_string_equal(js->j[2].user, "a");
	js = due(f->qs, T0 + 1000, 2);
	assert_int_equal(js->n, 2);
	assert_string_equal(js->j[1].user, "c");
	assert_int_equal(due(f->qs, T0 + 1000, 0)->n, 0);
	memset(js, 0, sizeof(*js));
	js->stop_at = 1;
	assert_int_equal(qs_push_due(f->qs, T0 + 1000, MAXJOBS, job_cb, js),
	    QS_OK);
	assert_int_equal(js->n, 1);
	assert_int_equal(due(f->qs, T0 + 250, MAXJOBS)->n, 2);
	/* The oldest pending job is a's (since T0), though due last. */
	assert_int_equal(stats(f->qs)->st_outbox, 3);
	assert_int_equal(stats(f->qs)->st_outbox_oldest_ms, T0);
	assert_int_equal(done(f->qs, "a", "d", gen, QS_PUSH_SENT, T0 + 300,
	    0), QS_OK);
	assert_int_equal(stats(f->qs)->st_outbox_oldest_ms, T0 + 100);
	assert_int_equal(next_due(f->qs), T0 + 100);
}

/* A job survives closing and reopening the env, and a reopen without
 * qs_push_config writes no job. */
static void
test_durable(void **state)
{
	struct fix	*f = *state;
	struct job	*j;
	const char	*err = "";
	uint32_t	 gen;

	reg(f->qs, "alice", "phone", "tokA", T0);
	send(f->qs, "alice", PRIO_HIGH, T0);
	gen = due1(f->qs, T0)->gen;
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_RETRY,
	    T0 + 10, T0 + 700), QS_OK);
	assert_int_equal(done(f->qs, "bob", "x", 0, QS_PUSH_DROP, T0, 0),
	    QS_NOTFOUND);
	reopen(f);
	j = due1(f->qs, T0 + 700);
	assert_int_equal(j->gen, gen);
	assert_int_equal(j->attempts, 1);
	assert_int_equal(j->high, 1);
	assert_int_equal(j->since, T0);
	assert_int_equal(j->unread, 1);
	assert_string_equal(j->token, "tokA");
	assert_int_equal(done(f->qs, "alice", "phone", gen, QS_PUSH_DROP,
	    T0 + 710, 0), QS_OK);
	reopen(f);
	assert_int_equal(stats(f->qs)->st_outbox_dropped, 1);
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);

	qs_close(f->qs);
	if ((f->qs = qs_open(f->dir, 0, &err)) == NULL)
		fail_msg("reopen: %s", err);
	send(f->qs, "alice", 0, T0 + 800);	/* outbox off by default */
	assert_int_equal(due(f->qs, UINT64_MAX, MAXJOBS)->n, 0);
}

/* The schema version in meta of the closed store in dir, raw. */
static uint32_t
get_schema(const char *dir)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	const unsigned char *p;
	uint32_t	 ver;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, QS_MAXDBS), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS | MDB_RDONLY, 0600),
	    0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	k.mv_data = "schema";
	k.mv_size = 6;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, 5);
	p = v.mv_data;
	assert_int_equal(p[0], 1);
	ver = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return (ver);
}

static int
dev_cb(void *arg, const struct qs_device *d)
{
	char	*out = arg;
	size_t	 n = strlen(out);

	(void)snprintf(out + n, 256 - n, "%s:%u:%s;", d->qd_device,
	    d->qd_count, d->qd_has_push ? d->qd_token : "-");
	return (0);
}

static int
id_cb(void *arg, const char *id, int prio, uint64_t enq, const void *data,
    size_t len)
{
	char	*out = arg;
	size_t	 n = strlen(out);

	(void)prio;
	(void)enq;
	(void)snprintf(out + n, 256 - n, "%s:%.*s;", id, (int)len,
	    (const char *)data);
	return (0);
}

/* The data of the schema-4 test store, with n messages per device. */
static void
check_schema4(struct qstore *qs, uint32_t n)
{
	char		 devs[256], want[256];
	uint32_t	 held = 0;

	devs[0] = '\0';
	assert_int_equal(qs_devices(qs, "alice", dev_cb, devs, NULL), QS_OK);
	(void)snprintf(want, sizeof(want), "phone:%u:tok123;laptop:%u:-;", n,
	    n);
	assert_string_equal(devs, want);
	assert_int_equal(qs_held_count(qs, "bob", &held), QS_OK);
	assert_int_equal(held, 1);
	devs[0] = '\0';
	assert_int_equal(qs_fetch(qs, "alice", "phone", 3, T0, id_cb, devs,
	    NULL), QS_OK);
	assert_string_equal(devs, "h0000000000000002:{\"m\":2};"
	    "n0000000000000001:{\"m\":1};n0000000000000004:{\"m\":4};");
}

/* A schema 4 store (no outbox) opens, migrates and keeps its data. */
static void
test_migrate4(void **state)
{
	struct fix	*f = *state;
	struct qs_stats	*st;
	struct job	*j;
	const char	*srcdir = getenv("srcdir"), *err = "";
	char		 dump[1024];
	pid_t		 pid;
	int		 status, fd;

	(void)snprintf(dump, sizeof(dump),
	    "%s/tests/unit/data/qstore/schema4.dump",
	    srcdir != NULL ? srcdir : ".");
	assert_int_equal(access(dump, R_OK), 0);
	qs_close(f->qs);
	f->qs = NULL;
	new_dir(f->dir, sizeof(f->dir), "schema4_");
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) == -1 ||
		    dup2(fd, STDERR_FILENO) == -1)
			_exit(126);
		(void)execlp("mdb_load", "mdb_load", "-f", dump, f->dir,
		    (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(get_schema(f->dir), 4);

	if ((f->qs = qs_open(f->dir, 0, &err)) == NULL)
		fail_msg("qs_open schema 4: %s", err);
	qs_push_config(f->qs, 1, COALESCE);
	check_schema4(f->qs, 3);
	st = stats(f->qs);
	assert_int_equal(st->st_push, 1);
	assert_int_equal(st->st_outbox, 0);
	assert_int_equal(st->st_outbox_dropped, 0);
	assert_int_equal(next_due(f->qs), 0);
	qs_close(f->qs);
	f->qs = NULL;
	assert_int_equal(get_schema(f->dir), 5);
	reopen(f);
	check_schema4(f->qs, 3);

	/* The push target gets its job with its next message. */
	send(f->qs, "alice", 0, T0 + 1);
	check_schema4(f->qs, 4);
	j = due1(f->qs, T0 + 1);
	assert_string_equal(j->device, "phone");
	assert_string_equal(j->platform, "apns");
	assert_string_equal(j->app, "org.example.app");
	assert_int_equal(j->unread, 4);
	reopen(f);
	assert_int_equal(due1(f->qs, T0 + 1)->unread, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enqueue_job, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_burst, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_coalesce, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_high, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_stale_gen, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_outcomes, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_disconnect, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_saturate, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_disabled_and_held,
		    fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_rollback, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_removals, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_order, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_durable, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_migrate4, fix_setup,
		    fix_teardown),
	};

	return (cmocka_run_group_tests_name("outbox", tests, group_setup,
	    group_teardown));
}
