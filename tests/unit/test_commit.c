/*
 * test_commit.c: unit tests of src/commit.c (the group commit) against a
 * real LMDB store and a real libev loop.
 *
 * Every test gets a fresh store in its own directory under one mkdtemp
 * root in /tmp, a new ev loop, and a zeroed struct shm for the counters
 * and histograms the commit writes.  The loop is driven with ev_run:
 * EVRUN_NOWAIT runs one iteration (its ev_prepare commits what is
 * queued), EVRUN_ONCE waits for the defer timer.  Covered: ops of one
 * iteration committed in one batch, each o_done called after the txn is
 * closed, in order, with QS_OK; an op refused with QS_FULL (a held queue
 * at its cap) fails alone; an op that writes twice rolls back alone in
 * its sub-transaction; an o_single op that poisons the batch (a full
 * map) makes it abort and run again with a sub-transaction per op, the
 * others still commit and the replay is counted; ops submitted from an
 * o_done wait for the next iteration; the count and byte caps split a
 * batch; a deferred op waits up to COMMIT_DEFER_US for company, and is
 * committed at once when an urgent op comes; commit_free fails the
 * pending ops with QS_ERR.
 */

#include <sys/stat.h>
#include <sys/types.h>

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
#include <ev.h>

#include "commit.h"
#include "qstore.h"
#include "routingd.h"
#include "shm.h"

#define MAXOPS		(COMMIT_MAX_OPS + 8)	/* ops one test submits */
#define TINY_MAP	(1024 * 1024)		/* bytes: a map to fill */
#define HUGE_LEN	(2 * 1024 * 1024)	/* bytes: more than TINY_MAP */

static char	root[64];		/* /tmp/test_commit.XXXXXX */
static int	ndirs;			/* store directories made so far */

/* One test's world. */
struct fix {
	struct qstore	*qs;
	struct ev_loop	*loop;
	struct shm	*sh;
	struct commit	*cm;
	char		 dir[128];
	size_t		 ndone;		/* o_done calls so far */
	int		 order[MAXOPS];	/* tags in o_done order */
};

/* A test op: qs_enqueue of len bytes for user, once or twice. */
struct top {
	struct commit_op op;		/* first: op == struct */
	struct fix	*fix;
	int		 tag;
	const char	*user;
	const char	*user2;		/* a second enqueue (o_single 0) */
	size_t		 len;
	uint32_t	 queue_max;
	int		 applies;	/* o_apply calls */
	int		 done;		/* o_done calls */
	int		 result;	/* as given to o_done */
	int		 txn_open;	/* a batch was open in o_done */
	uint64_t	 done_us;
	struct top	*next;		/* submitted by this op's o_done */
};

static const char	*huge;		/* HUGE_LEN bytes of 'h' */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return (remove(path));
}

static int
group_setup(void **state)
{
	char	*h;

	if ((h = malloc(HUGE_LEN)) == NULL)
		return (-1);
	memset(h, 'h', HUGE_LEN);
	huge = h;
	(void)strcpy(root, "/tmp/test_commit.XXXXXX");
	return (mkdtemp(root) == NULL ? -1 : 0);
}

static int
group_teardown(void **state)
{
	free((void *)huge);
	return (nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS));
}

static struct fix *
fix_new(uint64_t mapsize)
{
	struct fix	*f;
	const char	*err = NULL;
	int		 n;

	assert_non_null(f = calloc(1, sizeof(*f)));
	n = snprintf(f->dir, sizeof(f->dir), "%s/s%d", root, ++ndirs);
	assert_true(n > 0 && (size_t)n < sizeof(f->dir));
	if ((f->qs = qs_open(f->dir, mapsize, &err)) == NULL)
		fail_msg("qs_open: %s", err);
	assert_non_null(f->loop = ev_loop_new(EVFLAG_AUTO));
	assert_non_null(f->sh = calloc(1, sizeof(*f->sh)));
	assert_non_null(f->cm = commit_new(f->loop, f->qs, f->sh, NULL));
	return (f);
}

static int
fix_setup(void **state)
{
	*state = fix_new(0);
	return (0);
}

static int
fix_setup_tiny(void **state)
{
	*state = fix_new(TINY_MAP);
	return (0);
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;

	commit_free(f->cm);
	ev_loop_destroy(f->loop);
	qs_close(f->qs);
	free(f->sh);
	free(f);
	return (0);
}

static int
top_apply(struct qstore *qs, struct commit_op *op)
{
	struct top	*t = (struct top *)op;
	char		 id[QS_MSGID_SIZE];
	const char	*data = t->len > 4 ? huge : "data";
	int		 r;

	t->applies++;
	r = qs_enqueue(qs, t->user, data, t->len, 0, util_real_ms(), 0,
	    t->queue_max, id);
	if (r == QS_OK && t->user2 != NULL)
		r = qs_enqueue(qs, t->user2, "data", 4, 0, util_real_ms(), 0,
		    t->queue_max, id);
	return (r);
}

static void
top_done(struct commit_op *op, int result)
{
	struct top	*t = (struct top *)op;
	struct fix	*f = t->fix;

	t->done++;
	t->result = result;
	t->txn_open = qs_batch_active(f->qs);
	t->done_us = util_mono_us();
	if (f->ndone < MAXOPS)
		f->order[f->ndone] = t->tag;
	f->ndone++;
	if (t->next != NULL)
		commit_submit(f->cm, &t->next->op);
}

/* A test op (free with free()) enqueueing 4 bytes for user. */
static struct top *
top_new(struct fix *f, int tag, const char *user)
{
	struct top	*t;

	assert_non_null(t = calloc(1, sizeof(*t)));
	t->fix = f;
	t->tag = tag;
	t->user = user;
	t->len = 4;
	t->op.o_bytes = 4;
	t->op.o_single = 1;
	t->op.o_apply = top_apply;
	t->op.o_done = top_done;
	return (t);
}

static uint32_t
held(struct fix *f, const char *user)
{
	uint32_t	 n = 0;

	assert_int_equal(qs_held_count(f->qs, user, &n), QS_OK);
	return (n);
}

/* Batches committed so far, and the ops in them. */
static uint64_t
batches(const struct fix *f, uint64_t *ops)
{
	const struct shm_hist	*h = &f->sh->sh_api.sa_hist[SHM_H_BATCH];

	if (ops != NULL)
		*ops = atomic_load(&h->sh_sum);
	return (atomic_load(&h->sh_count));
}

static uint64_t
replays(const struct fix *f)
{
	return (atomic_load(&f->sh->sh_api.sa_batch_replays));
}

/* Stop a loop that would otherwise wait for nothing. */
static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(int *)w->data = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* Three ops of one iteration: one batch, o_done after it, in order. */
static void
test_one_batch(void **state)
{
	struct fix	*f = *state;
	struct top	*t[3];
	uint64_t	 ops;
	int		 i;

	t[0] = top_new(f, 0, "alice");
	t[1] = top_new(f, 1, "bob");
	t[2] = top_new(f, 2, "carol");
	for (i = 0; i < 3; i++)
		commit_submit(f->cm, &t[i]->op);
	assert_int_equal(commit_pending(f->cm), 3);
	assert_int_equal(f->ndone, 0);	/* nothing before the loop runs */
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(commit_pending(f->cm), 0);
	assert_int_equal(f->ndone, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(f->order[i], i);
		assert_int_equal(t[i]->done, 1);
		assert_int_equal(t[i]->applies, 1);
		assert_int_equal(t[i]->result, QS_OK);
		assert_int_equal(t[i]->txn_open, 0);
	}
	assert_int_equal(batches(f, &ops), 1);
	assert_int_equal(ops, 3);
	assert_int_equal(replays(f), 0);
	assert_int_equal(held(f, "alice"), 1);
	assert_int_equal(held(f, "bob"), 1);
	assert_int_equal(held(f, "carol"), 1);
	assert_int_equal(f->sh->sh_api.sa_hist[SHM_H_COMMIT].sh_count, 1);
	ev_run(f->loop, EVRUN_NOWAIT);	/* nothing queued: no batch */
	assert_int_equal(batches(f, NULL), 1);
	for (i = 0; i < 3; i++)
		free(t[i]);
}

/* A held queue at its cap refuses the second message: that op alone
 * fails, nothing is replayed, the rest of the batch commits. */
static void
test_full_alone(void **state)
{
	struct fix	*f = *state;
	struct top	*t[4];
	int		 i;

	t[0] = top_new(f, 0, "held");
	t[1] = top_new(f, 1, "held");
	t[2] = top_new(f, 2, "other");
	t[3] = top_new(f, 3, "held");
	for (i = 0; i < 4; i++) {
		t[i]->queue_max = 1;
		commit_submit(f->cm, &t[i]->op);
	}
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 4);
	assert_int_equal(t[0]->result, QS_OK);
	assert_int_equal(t[1]->result, QS_FULL);
	assert_int_equal(t[2]->result, QS_OK);
	assert_int_equal(t[3]->result, QS_FULL);
	for (i = 0; i < 4; i++) {
		assert_int_equal(t[i]->applies, 1);
		assert_int_equal(t[i]->txn_open, 0);
	}
	assert_int_equal(batches(f, NULL), 1);
	assert_int_equal(replays(f), 0);
	assert_int_equal(f->sh->sh_api.sa_commit_failures, 0);
	assert_int_equal(held(f, "held"), 1);
	assert_int_equal(held(f, "other"), 1);
	for (i = 0; i < 4; i++)
		free(t[i]);
}

/* An op of two writes runs in its own sub-transaction: when the second
 * write is refused, the first is rolled back with it. */
static void
test_sub_rollback(void **state)
{
	struct fix	*f = *state;
	struct top	*fill, *two, *after;

	fill = top_new(f, 0, "capped");
	fill->queue_max = 1;
	two = top_new(f, 1, "first");
	two->user2 = "capped";		/* refused: the cap is reached */
	two->queue_max = 1;
	two->op.o_single = 0;
	after = top_new(f, 2, "after");
	commit_submit(f->cm, &fill->op);
	commit_submit(f->cm, &two->op);
	commit_submit(f->cm, &after->op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 3);
	assert_int_equal(fill->result, QS_OK);
	assert_int_equal(two->result, QS_FULL);
	assert_int_equal(after->result, QS_OK);
	assert_int_equal(held(f, "first"), 0);	/* rolled back */
	assert_int_equal(held(f, "capped"), 1);
	assert_int_equal(held(f, "after"), 1);
	assert_int_equal(replays(f), 0);
	free(fill);
	free(two);
	free(after);
}

/*
 * An o_single op whose write fills the map poisons the batch txn: the
 * batch is aborted and run again with one sub-transaction per op, so
 * the poisoning op fails alone, the ops before and after it commit, and
 * the replay is counted.  Ops before it were applied twice, the op after
 * it only in the replay.  Refused by a full map, the op gets one more
 * batch of its own after qs_reclaim (fast, then replayed: 4 applies in
 * all), and is answered last.
 */
static void
test_poison_replay(void **state)
{
	struct fix	*f = *state;
	struct top	*before, *poison, *after;
	uint64_t	 ops;

	before = top_new(f, 0, "before");
	poison = top_new(f, 1, "poison");
	poison->len = HUGE_LEN;
	poison->op.o_bytes = HUGE_LEN;
	after = top_new(f, 2, "after");
	commit_submit(f->cm, &before->op);
	commit_submit(f->cm, &poison->op);
	commit_submit(f->cm, &after->op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, 3);
	assert_int_equal(before->result, QS_OK);
	assert_int_equal(poison->result, QS_MAPFULL);
	assert_int_equal(after->result, QS_OK);
	assert_int_equal(before->applies, 2);
	assert_int_equal(poison->applies, 4);
	assert_int_equal(after->applies, 1);
	assert_int_equal(replays(f), 2);
	assert_int_equal(batches(f, &ops), 2);
	assert_int_equal(ops, 4);
	assert_int_equal(f->sh->sh_api.sa_commit_failures, 0);
	assert_int_equal(held(f, "before"), 1);	/* once, not twice */
	assert_int_equal(held(f, "poison"), 0);
	assert_int_equal(held(f, "after"), 1);
	assert_int_equal(f->order[0], 0);
	assert_int_equal(f->order[1], 2);
	assert_int_equal(f->order[2], 1);
	/* the newest commit is the reclaim: no second one is worth it */
	assert_int_equal(qs_reclaim(f->qs), QS_NOTFOUND);
	free(before);
	free(poison);
	free(after);
}

/* An op submitted from an o_done waits for the next iteration. */
static void
test_submit_from_done(void **state)
{
	struct fix	*f = *state;
	struct top	*first, *second;

	first = top_new(f, 0, "one");
	second = top_new(f, 1, "two");
	first->next = second;
	commit_submit(f->cm, &first->op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(first->done, 1);
	assert_int_equal(second->done, 0);
	assert_int_equal(commit_pending(f->cm), 1);
	assert_int_equal(batches(f, NULL), 1);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(second->done, 1);
	assert_int_equal(second->result, QS_OK);
	assert_int_equal(batches(f, NULL), 2);
	assert_int_equal(held(f, "two"), 1);
	free(first);
	free(second);
}

/* More than COMMIT_MAX_OPS ops, or more than COMMIT_MAX_BYTES: the rest
 * waits for the next iteration. */
static void
test_caps(void **state)
{
	struct fix	*f = *state;
	struct top	**t, *big[3];
	uint64_t	 ops;
	size_t		 i, n = COMMIT_MAX_OPS + 5;

	assert_non_null(t = calloc(n, sizeof(*t)));
	for (i = 0; i < n; i++) {
		t[i] = top_new(f, (int)i, "many");
		commit_submit(f->cm, &t[i]->op);
	}
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, COMMIT_MAX_OPS);
	assert_int_equal(commit_pending(f->cm), 5);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->ndone, n);
	assert_int_equal(batches(f, &ops), 2);
	assert_int_equal(ops, n);
	assert_int_equal(held(f, "many"), n);
	for (i = 0; i < n; i++) {
		assert_int_equal(t[i]->result, QS_OK);
		assert_int_equal(f->order[i], (int)i);
		free(t[i]);
	}
	free(t);

	/* bytes: two ops of more than half the cap do not share a batch,
	 * but one op larger than the cap still gets a batch of its own */
	for (i = 0; i < 3; i++) {
		big[i] = top_new(f, (int)i, "big");
		big[i]->op.o_bytes = i < 2 ? COMMIT_MAX_BYTES / 2 + 1 :
		    COMMIT_MAX_BYTES + 1;
		commit_submit(f->cm, &big[i]->op);
	}
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(big[0]->done, 1);
	assert_int_equal(big[1]->done, 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(big[1]->done, 1);
	assert_int_equal(big[2]->done, 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(big[2]->done, 1);
	assert_int_equal(batches(f, NULL), 5);
	for (i = 0; i < 3; i++) {
		assert_int_equal(big[i]->result, QS_OK);
		free(big[i]);
	}
}

/* A deferred op alone waits up to COMMIT_DEFER_US for company, then is
 * committed by itself. */
static void
test_defer_waits(void **state)
{
	struct fix	*f = *state;
	struct top	*t;
	ev_timer	 guard;
	uint64_t	 t0;
	int		 fired = 0, i;

	t = top_new(f, 0, "late");
	t->op.o_defer = 1;
	ev_timer_init(&guard, guard_cb, 5.0, 0);
	guard.data = &fired;
	ev_timer_start(f->loop, &guard);
	t0 = util_mono_us();
	commit_submit(f->cm, &t->op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(t->done, 0);		/* waiting for company */
	assert_int_equal(commit_pending(f->cm), 1);
	assert_int_equal(batches(f, NULL), 0);
	for (i = 0; i < 100 && t->done == 0 && !fired; i++)
		ev_run(f->loop, EVRUN_ONCE);	/* until the defer timer */
	ev_timer_stop(f->loop, &guard);
	assert_false(fired);
	assert_int_equal(t->done, 1);
	assert_int_equal(t->result, QS_OK);
	assert_true(t->done_us - t0 >= COMMIT_DEFER_US);
	assert_true(t->done_us - t0 < 5000000);
	assert_int_equal(batches(f, NULL), 1);
	assert_int_equal(held(f, "late"), 1);
	free(t);
}

/* A deferred op goes with the next urgent op at once, in one batch. */
static void
test_defer_company(void **state)
{
	struct fix	*f = *state;
	struct top	*late, *urgent;
	uint64_t	 ops;

	late = top_new(f, 0, "late");
	late->op.o_defer = 1;
	commit_submit(f->cm, &late->op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(late->done, 0);
	urgent = top_new(f, 1, "urgent");
	commit_submit(f->cm, &urgent->op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(late->done, 1);
	assert_int_equal(urgent->done, 1);
	assert_int_equal(late->result, QS_OK);
	assert_int_equal(urgent->result, QS_OK);
	assert_int_equal(batches(f, &ops), 1);
	assert_int_equal(ops, 2);
	free(late);
	free(urgent);
}

/* commit_free fails what is still queued, with QS_ERR, and writes
 * nothing; NULL is accepted. */
static void
test_free_fails_pending(void **state)
{
	struct fix	*f = *state;
	struct top	*t[2];
	int		 i;

	t[0] = top_new(f, 0, "never");
	t[1] = top_new(f, 1, "never");
	t[1]->op.o_defer = 1;
	for (i = 0; i < 2; i++)
		commit_submit(f->cm, &t[i]->op);
	commit_free(f->cm);
	f->cm = NULL;
	for (i = 0; i < 2; i++) {
		assert_int_equal(t[i]->done, 1);
		assert_int_equal(t[i]->result, QS_ERR);
		assert_int_equal(t[i]->applies, 0);
		assert_int_equal(f->order[i], i);
	}
	ev_run(f->loop, EVRUN_NOWAIT);	/* the watchers are gone */
	assert_int_equal(f->ndone, 2);
	assert_int_equal(batches(f, NULL), 0);
	assert_int_equal(held(f, "never"), 0);
	commit_free(NULL);
	for (i = 0; i < 2; i++)
		free(t[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_batch, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_full_alone, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_sub_rollback, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_poison_replay,
		    fix_setup_tiny, fix_teardown),
		cmocka_unit_test_setup_teardown(test_submit_from_done,
		    fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_caps, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_defer_waits, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_defer_company, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_free_fails_pending,
		    fix_setup, fix_teardown),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
