/*
 * test_presence.c: unit tests of presence.c: add, lookup and delete on
 * one and two workers, counts, a full partition, crowded probe runs with
 * deletions in their middle, compaction, worker reset and restart, a
 * random sequence of operations checked against a model after every step,
 * the versioned header, and a writer process churning its partition while
 * this process looks up pairs that must never vanish.
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "presence.h"

static struct presence *
table_new(unsigned nworkers, unsigned slots)
{
	struct presence	*pr;

	pr = pr_create(nworkers, slots, nworkers);
	assert_non_null(pr);
	return (pr);
}

static int
devcount(struct presence *pr, const char *u, const char *d, uint64_t *mask)
{
	return (pr_lookup_device(pr, u, d, mask));
}

static void
stats_equal(struct presence *pr, unsigned seat, unsigned entries,
    unsigned tombs)
{
	unsigned	 e, t;

	pr_stats(pr, seat, &e, &t);
	assert_int_equal(e, entries);
	assert_int_equal(t, tombs);
}

static unsigned
stats_entries(struct presence *pr, unsigned seat)
{
	unsigned	 e;

	pr_stats(pr, seat, &e, NULL);
	return (e);
}

static unsigned
stats_tombs(struct presence *pr, unsigned seat)
{
	unsigned	 t;

	pr_stats(pr, seat, NULL, &t);
	return (t);
}

static uint64_t
monotonic_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 0x2545f4914f6cdd1dULL);
}

static void
test_one_worker(void **state)
{
	struct presence	*pr = table_new(1, 64);
	uint64_t	 mask = 99;

	(void)state;
	assert_int_equal(pr_lookup_user(pr, "alice"), 0);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 0);
	assert_int_equal(mask, 0);

	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_lookup_user(pr, "alice"), 1);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 1);
	assert_int_equal(mask, 1);
	assert_int_equal(devcount(pr, "alice", "laptop", &mask), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(pr_lookup_user(pr, "bob"), 0);
	/* Neither the device nor the user alone is the key. */
	assert_int_equal(devcount(pr, "bob", "phone", NULL), 0);
	assert_int_equal(devcount(pr, "alicephone", "", NULL), 0);
	assert_int_equal(devcount(pr, "alic", "ephone", NULL), 0);
	stats_equal(pr, 0, 1, 0);

	pr_del(pr, 0, "alice", "phone");
	assert_int_equal(pr_lookup_user(pr, "alice"), 0);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 0);
	assert_int_equal(mask, 0);
	/* Alone in its run: the tombstone went at once. */
	stats_equal(pr, 0, 0, 0);

	/* Unknown pairs and seats are ignored. */
	pr_del(pr, 0, "alice", "phone");
	pr_del(pr, 0, "nobody", "none");
	pr_del(pr, 5, "alice", "phone");
	stats_equal(pr, 0, 0, 0);
	errno = 0;
	assert_int_equal(pr_add(pr, 1, "alice", "phone", PR_MODE_PUSH, 1), -1);
	assert_int_equal(errno, EINVAL);
	stats_equal(pr, 1, 0, 0);
	pr_destroy(pr);
}

static void
test_counts(void **state)
{
	struct presence	*pr = table_new(1, 64);
	uint64_t	 mask;

	(void)state;
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 3);
	assert_int_equal(mask, 1);
	stats_equal(pr, 0, 1, 0);	/* one entry, three connections */

	pr_del(pr, 0, "alice", "phone");
	assert_int_equal(devcount(pr, "alice", "phone", NULL), 2);
	pr_del(pr, 0, "alice", "phone");
	assert_int_equal(devcount(pr, "alice", "phone", NULL), 1);
	assert_int_equal(pr_lookup_user(pr, "alice"), 1);
	pr_del(pr, 0, "alice", "phone");
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(pr_lookup_user(pr, "alice"), 0);
	stats_equal(pr, 0, 0, 0);
	pr_destroy(pr);
}

/* The newest connection's time and mode, over two workers; a tombstone
 * and a new entry in its slot carry nothing of the old one. */
static void
test_info(void **state)
{
	struct presence	*pr = table_new(2, 64);
	struct pr_info	 pi;

	(void)state;
	memset(&pi, 0xff, sizeof(pi));
	assert_int_equal(pr_lookup_info(pr, "alice", "phone", &pi), 0);
	assert_true(pi.pi_workers == 0);
	assert_int_equal(pi.pi_since, 0);
	assert_int_equal(pi.pi_mode, PR_MODE_UNKNOWN);

	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1000),
	    0);
	assert_int_equal(pr_lookup_info(pr, "alice", "phone", &pi), 1);
	assert_true(pi.pi_workers == 1);
	assert_int_equal(pi.pi_since, 1000);
	assert_int_equal(pi.pi_mode, PR_MODE_PUSH);

	/* A newer connection on the other worker is the one shown. */
	assert_int_equal(pr_add(pr, 1, "alice", "phone", PR_MODE_POKE, 2000),
	    0);
	assert_int_equal(pr_lookup_info(pr, "alice", "phone", &pi), 2);
	assert_true(pi.pi_workers == 3);
	assert_int_equal(pi.pi_since, 2000);
	assert_int_equal(pi.pi_mode, PR_MODE_POKE);

	/* A second connection on worker 0 stamps its entry anew. */
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 3000),
	    0);
	assert_int_equal(pr_lookup_info(pr, "alice", "phone", &pi), 3);
	assert_int_equal(pi.pi_since, 3000);
	assert_int_equal(pi.pi_mode, PR_MODE_PUSH);
	/* Another device of the user is not mixed in. */
	assert_int_equal(pr_lookup_info(pr, "alice", "laptop", &pi), 0);
	assert_int_equal(pi.pi_since, 0);

	pr_del(pr, 0, "alice", "phone");
	pr_del(pr, 0, "alice", "phone");
	assert_int_equal(pr_lookup_info(pr, "alice", "phone", &pi), 1);
	assert_true(pi.pi_workers == 2);
	assert_int_equal(pi.pi_since, 2000);
	assert_int_equal(pi.pi_mode, PR_MODE_POKE);
	pr_del(pr, 1, "alice", "phone");
	assert_int_equal(pr_add(pr, 1, "alice", "phone", PR_MODE_PUSH, 4000),
	    0);
	assert_int_equal(pr_lookup_info(pr, "alice", "phone", &pi), 1);
	assert_int_equal(pi.pi_since, 4000);
	assert_int_equal(pi.pi_mode, PR_MODE_PUSH);
	pr_destroy(pr);
}

/* Lookups scan the seats in use; growing the scan shows a new seat's
 * entries, and the scan never shrinks nor passes the partitions. */
static void
test_grow_seats(void **state)
{
	struct presence	*pr = pr_create(4, 64, 1);

	(void)state;
	assert_non_null(pr);
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 2, "alice", "laptop", PR_MODE_POKE, 1), 0);
	assert_true(pr_lookup_user(pr, "alice") == 1);
	assert_int_equal(pr_lookup_device(pr, "alice", "laptop", NULL), 0);
	pr_grow_seats(pr, 3);
	assert_true(pr_lookup_user(pr, "alice") == 5);
	assert_int_equal(pr_lookup_device(pr, "alice", "laptop", NULL), 1);
	pr_grow_seats(pr, 1);		/* never fewer */
	assert_true(pr_lookup_user(pr, "alice") == 5);
	assert_int_equal(pr_add(pr, 3, "alice", "tablet", PR_MODE_PUSH, 1), 0);
	pr_grow_seats(pr, 99);		/* at most the partitions */
	assert_true(pr_lookup_user(pr, "alice") == 13);
	pr_destroy(pr);
}

static void
test_devices_two_workers(void **state)
{
	struct presence	*pr = table_new(3, 128);
	uint64_t	 mask;

	(void)state;
	/* alice: phone on 0, laptop on 0 and 2, tablet on 2. */
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 0, "alice", "laptop", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 2, "alice", "laptop", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 2, "alice", "tablet", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 1, "bob", "phone", PR_MODE_PUSH, 1), 0);

	assert_int_equal(pr_lookup_user(pr, "alice"), 0x5);
	assert_int_equal(pr_lookup_user(pr, "bob"), 0x2);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 1);
	assert_int_equal(mask, 0x1);
	assert_int_equal(devcount(pr, "alice", "laptop", &mask), 2);
	assert_int_equal(mask, 0x5);
	assert_int_equal(devcount(pr, "alice", "tablet", &mask), 1);
	assert_int_equal(mask, 0x4);
	assert_int_equal(devcount(pr, "bob", "laptop", &mask), 0);
	assert_int_equal(mask, 0);

	pr_del(pr, 0, "alice", "laptop");
	assert_int_equal(devcount(pr, "alice", "laptop", &mask), 1);
	assert_int_equal(mask, 0x4);
	assert_int_equal(pr_lookup_user(pr, "alice"), 0x5);
	pr_del(pr, 0, "alice", "phone");
	assert_int_equal(pr_lookup_user(pr, "alice"), 0x4);
	pr_del(pr, 2, "alice", "laptop");
	pr_del(pr, 2, "alice", "tablet");
	assert_int_equal(pr_lookup_user(pr, "alice"), 0);
	assert_int_equal(pr_lookup_user(pr, "bob"), 0x2);
	stats_equal(pr, 0, 0, 0);
	stats_equal(pr, 1, 1, 0);
	stats_equal(pr, 2, 0, 0);
	pr_destroy(pr);
}

static void
test_full_partition(void **state)
{
	struct presence	*pr = table_new(2, 64);
	char		 u[32];
	int		 i, n = PR_LOAD_MAX(64);

	(void)state;
	for (i = 0; i < n; i++) {
		(void)snprintf(u, sizeof(u), "user%d", i);
		assert_int_equal(pr_add(pr, 0, u, "d", PR_MODE_PUSH, 1), 0);
	}
	stats_equal(pr, 0, (unsigned)n, 0);
	errno = 0;
	assert_int_equal(pr_add(pr, 0, "late", "d", PR_MODE_PUSH, 1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(pr_add(pr, 0, "user0", "other", PR_MODE_PUSH, 1), -1);
	/* A known pair still counts; the other worker is not affected. */
	assert_int_equal(pr_add(pr, 0, "user3", "d", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 1, "late", "d", PR_MODE_PUSH, 1), 0);
	stats_equal(pr, 0, (unsigned)n, 0);

	for (i = 0; i < n; i++) {
		(void)snprintf(u, sizeof(u), "user%d", i);
		assert_int_equal(devcount(pr, u, "d", NULL), i == 3 ? 2 : 1);
		assert_int_equal(pr_lookup_user(pr, u), 1);
	}
	assert_int_equal(pr_lookup_user(pr, "late"), 2);

	/* Room again after a deletion. */
	pr_del(pr, 0, "user7", "d");
	assert_int_equal(devcount(pr, "user7", "d", NULL), 0);
	assert_int_equal(pr_add(pr, 0, "late", "d", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_lookup_user(pr, "late"), 3);
	assert_int_equal(stats_entries(pr, 0), (unsigned)n);
	assert_int_equal(pr_add(pr, 0, "later", "d", PR_MODE_PUSH, 1), -1);
	pr_destroy(pr);
}

/*
 * One user with 24 devices takes one run of at least 24 slots, and 20
 * other users land in and after it; deletions in the middle of the run
 * must leave every other entry reachable.  Repeated over fresh seeds.
 */
static void
test_crowded_runs(void **state)
{
	struct presence	*pr;
	char		 d[32], u[32];
	unsigned	 tombs_seen = 0, t;
	int		 round, i;

	(void)state;
	for (round = 0; round < 50; round++) {
		pr = table_new(1, 64);
		for (i = 0; i < 24; i++) {
			(void)snprintf(d, sizeof(d), "dev%d", i);
			assert_int_equal(pr_add(pr, 0, "crowd", d, PR_MODE_PUSH, 1), 0);
		}
		for (i = 0; i < 20; i++) {
			(void)snprintf(u, sizeof(u), "other%d", i);
			assert_int_equal(pr_add(pr, 0, u, "x", PR_MODE_PUSH, 1), 0);
		}
		stats_equal(pr, 0, 44, 0);

		/* Every third device (never the last) and every even other. */
		for (i = 1; i < 23; i += 3) {
			(void)snprintf(d, sizeof(d), "dev%d", i);
			pr_del(pr, 0, "crowd", d);
		}
		for (i = 0; i < 20; i += 2) {
			(void)snprintf(u, sizeof(u), "other%d", i);
			pr_del(pr, 0, u, "x");
		}
		assert_int_equal(stats_entries(pr, 0), 44 - 8 - 10);
		/* dev1's slot is crossed by dev2..dev23: still a tombstone. */
		t = stats_tombs(pr, 0);
		assert_true(t >= 1);
		tombs_seen += t;

		pr_worker_compact(pr, 0);
		assert_true(stats_tombs(pr, 0) >= 1);
		assert_true(stats_tombs(pr, 0) <= t);
		assert_int_equal(stats_entries(pr, 0), 26);
		for (i = 0; i < 24; i++) {
			(void)snprintf(d, sizeof(d), "dev%d", i);
			assert_int_equal(devcount(pr, "crowd", d, NULL),
			    i % 3 == 1 && i < 23 ? 0 : 1);
		}
		for (i = 0; i < 20; i++) {
			(void)snprintf(u, sizeof(u), "other%d", i);
			assert_int_equal(devcount(pr, u, "x", NULL),
			    i % 2 == 0 ? 0 : 1);
			assert_int_equal(pr_lookup_user(pr, u),
			    i % 2 == 0 ? 0 : 1);
		}
		assert_int_equal(pr_lookup_user(pr, "crowd"), 1);

		/* Back in, into tombstones or empty slots. */
		for (i = 1; i < 23; i += 3) {
			(void)snprintf(d, sizeof(d), "dev%d", i);
			assert_int_equal(pr_add(pr, 0, "crowd", d, PR_MODE_PUSH, 1), 0);
		}
		for (i = 0; i < 24; i++) {
			(void)snprintf(d, sizeof(d), "dev%d", i);
			assert_int_equal(devcount(pr, "crowd", d, NULL), 1);
		}

		/* The whole crowd leaves: the tail of its run empties. */
		for (i = 0; i < 24; i++) {
			(void)snprintf(d, sizeof(d), "dev%d", i);
			pr_del(pr, 0, "crowd", d);
		}
		assert_int_equal(pr_lookup_user(pr, "crowd"), 0);
		pr_worker_compact(pr, 0);
		assert_int_equal(stats_entries(pr, 0), 10);
		for (i = 1; i < 20; i += 2) {
			(void)snprintf(u, sizeof(u), "other%d", i);
			assert_int_equal(devcount(pr, u, "x", NULL), 1);
		}
		/* Only the others are left: then nothing at all. */
		for (i = 1; i < 20; i += 2) {
			(void)snprintf(u, sizeof(u), "other%d", i);
			pr_del(pr, 0, u, "x");
		}
		pr_worker_compact(pr, 0);
		stats_equal(pr, 0, 0, 0);
		pr_destroy(pr);
	}
	print_message("crowded runs: %u tombstones in run middles over 50 "
	    "seeds\n", tombs_seen);
}

static void
test_reset_and_start(void **state)
{
	struct presence	*pr = table_new(2, 256);
	uint64_t	 mask;

	(void)state;
	assert_int_equal(pr_add(pr, 0, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 1, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 0, "bob", "x", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 0, "bob", "y", PR_MODE_PUSH, 1), 0);
	pr_del(pr, 0, "bob", "x");		/* a tombstone too */
	assert_int_equal(pr_lookup_user(pr, "alice"), 3);

	pr_worker_reset(pr, 0);
	assert_int_equal(pr_lookup_user(pr, "alice"), 2);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 1);
	assert_int_equal(mask, 2);
	assert_int_equal(pr_lookup_user(pr, "bob"), 0);
	stats_equal(pr, 0, 0, 0);
	stats_equal(pr, 1, 1, 0);
	/* The dead owner's entries cannot be deleted or counted again. */
	pr_del(pr, 0, "alice", "phone");
	stats_equal(pr, 0, 0, 0);

	pr_worker_start(pr, 0);
	assert_int_equal(pr_lookup_user(pr, "alice"), 2);
	assert_int_equal(pr_add(pr, 0, "alice", "tablet", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_lookup_user(pr, "alice"), 3);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 1);
	assert_int_equal(mask, 2);
	assert_int_equal(devcount(pr, "alice", "tablet", &mask), 1);
	assert_int_equal(mask, 1);
	assert_int_equal(pr_add(pr, 0, "bob", "y", PR_MODE_PUSH, 1), 0);
	assert_int_equal(devcount(pr, "bob", "y", NULL), 1);	/* not 2 */
	stats_equal(pr, 0, 2, 0);

	/* Without pr_worker_start the stale slots count as empty too. */
	pr_worker_reset(pr, 1);
	assert_int_equal(pr_lookup_user(pr, "alice"), 1);
	assert_int_equal(pr_add(pr, 1, "carol", "z", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_add(pr, 1, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(devcount(pr, "alice", "phone", &mask), 1);
	assert_int_equal(mask, 2);
	stats_equal(pr, 1, 2, 0);
	pr_worker_reset(pr, 7);		/* out of range: ignored */
	assert_int_equal(pr_lookup_user(pr, "alice"), 3);
	pr_destroy(pr);
}

/* Many users over several rounds: compaction loses nothing. */
static void
test_compact_keeps_live(void **state)
{
	struct presence	*pr = table_new(1, 256);
	char		 u[32];
	unsigned	 before, removed = 0;
	int		 round, i, live[150];

	(void)state;
	memset(live, 0, sizeof(live));
	for (round = 0; round < 40; round++) {
		for (i = 0; i < 150; i++) {
			if (live[i] == 0 && (i + round) % 3 != 0) {
				(void)snprintf(u, sizeof(u), "u%d", i);
				assert_int_equal(pr_add(pr, 0, u, "d", PR_MODE_PUSH, 1), 0);
				live[i] = 1;
			}
		}
		for (i = round % 4; i < 150; i += 4) {
			if (live[i]) {
				(void)snprintf(u, sizeof(u), "u%d", i);
				pr_del(pr, 0, u, "d");
				live[i] = 0;
			}
		}
		before = stats_tombs(pr, 0);
		pr_worker_compact(pr, 0);
		assert_true(stats_tombs(pr, 0) <= before);
		removed += before - stats_tombs(pr, 0);
		for (i = 0; i < 150; i++) {
			(void)snprintf(u, sizeof(u), "u%d", i);
			assert_int_equal(devcount(pr, u, "d", NULL), live[i]);
		}
	}
	assert_true(removed > 0);
	print_message("compaction: %u tombstones removed\n", removed);
	pr_destroy(pr);
}

/*
 * Random operations on two small partitions against a model; after each
 * step every pair's count and masks must be exact (no concurrency here,
 * so no false positives either).
 */
#define M_USERS		6
#define M_DEVS		9
#define M_PAIRS		(M_USERS * M_DEVS)

static void
model_check(struct presence *pr, int cnt[2][M_PAIRS])
{
	char		 u[16], d[16];
	uint64_t	 mask, umask[M_USERS];
	unsigned	 entries[2] = { 0, 0 };
	int		 k, w, want;

	memset(umask, 0, sizeof(umask));
	for (k = 0; k < M_PAIRS; k++) {
		(void)snprintf(u, sizeof(u), "mu%d", k / M_DEVS);
		(void)snprintf(d, sizeof(d), "md%d", k % M_DEVS);
		want = cnt[0][k] + cnt[1][k];
		assert_int_equal(devcount(pr, u, d, &mask), want);
		for (w = 0; w < 2; w++) {
			assert_int_equal((mask >> w) & 1, cnt[w][k] > 0);
			if (cnt[w][k] > 0) {
				umask[k / M_DEVS] |= (uint64_t)1 << w;
				entries[w]++;
			}
		}
	}
	for (k = 0; k < M_USERS; k++) {
		(void)snprintf(u, sizeof(u), "mu%d", k);
		assert_int_equal(pr_lookup_user(pr, u), umask[k]);
	}
	assert_int_equal(stats_entries(pr, 0), entries[0]);
	assert_int_equal(stats_entries(pr, 1), entries[1]);
}

static void
test_model(void **state)
{
	struct presence	*pr = table_new(2, 64);
	char		 u[16], d[16];
	uint64_t	 seed = 0x5eed1234abcdULL, r;
	unsigned	 maxtombs = 0, e, t, fails = 0;
	int		 cnt[2][M_PAIRS], step, k, w;

	(void)state;
	memset(cnt, 0, sizeof(cnt));
	for (step = 0; step < 20000; step++) {
		r = rnd(&seed);
		w = (int)(r & 1);
		k = (int)((r >> 8) % M_PAIRS);
		(void)snprintf(u, sizeof(u), "mu%d", k / M_DEVS);
		(void)snprintf(d, sizeof(d), "md%d", k % M_DEVS);
		switch ((r >> 32) % 20) {
		case 0:
			pr_worker_compact(pr, (unsigned)w);
			break;
		case 1:
			if (step % 500 == 1) {
				pr_worker_reset(pr, (unsigned)w);
				if (r & 0x10000)
					pr_worker_start(pr, (unsigned)w);
				memset(cnt[w], 0, sizeof(cnt[w]));
			}
			break;
		case 2: case 3: case 4: case 5: case 6: case 7: case 8:
		case 9: case 10:
			if (pr_add(pr, (unsigned)w, u, d, PR_MODE_PUSH, 1) == 0) {
				cnt[w][k]++;
				break;
			}
			/* Only when full, by one measure or the other. */
			assert_int_equal(errno, ENOSPC);
			pr_stats(pr, (unsigned)w, &e, &t);
			assert_int_equal(cnt[w][k], 0);
			assert_true(e >= PR_LOAD_MAX(64) ||
			    e + t >= PR_USED_MAX(64));
			fails++;
			break;
		default:
			if (cnt[w][k] > 0) {
				pr_del(pr, (unsigned)w, u, d);
				cnt[w][k]--;
			}
			break;
		}
		t = stats_tombs(pr, (unsigned)w);
		if (t > maxtombs)
			maxtombs = t;
		model_check(pr, cnt);
	}
	assert_true(maxtombs > 0);
	print_message("model: 20000 steps, at most %u tombstones, %u adds "
	    "refused\n", maxtombs, fails);
	pr_destroy(pr);
}

static void
test_header(void **state)
{
	struct presence		*pr;
	struct pr_header	*ph;
	size_t			 one;

	(void)state;
	one = pr_size(1, 64);
	assert_true(one >= sizeof(struct pr_header) + 64 * 40);
	assert_int_equal(pr_size(2, 64) - one, 64 * 40);
	assert_int_equal(pr_size(1, 128) - one, 64 * 40);
	assert_int_equal(pr_size(64, 32768) - pr_size(1, 32768),
	    (size_t)63 * 32768 * 40);
	assert_int_equal(pr_size(0, 64), 0);
	assert_int_equal(pr_size(PR_MAX_WORKERS + 1, 64), 0);
	assert_int_equal(pr_size(1, 32), 0);
	assert_int_equal(pr_size(1, 96), 0);
	assert_int_equal(pr_size(1, PR_MAX_SLOTS * 2), 0);
	assert_true(pr_size(PR_MAX_WORKERS, PR_MAX_SLOTS) > 0);
	errno = 0;
	assert_null(pr_create(1, 100, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(pr_create(0, 64, 0));
	assert_null(pr_create(2, 64, 0));
	assert_null(pr_create(2, 64, 3));

	/* The biggest sensible table maps fine: pages are not touched. */
	pr = table_new(64, 32768);
	ph = (struct pr_header *)(void *)pr;
	assert_int_equal(ph->ph_size, pr_size(64, 32768));
	assert_int_equal(pr_add(pr, 63, "alice", "phone", PR_MODE_PUSH, 1), 0);
	assert_int_equal(pr_lookup_user(pr, "alice"), (uint64_t)1 << 63);
	pr_destroy(pr);

	pr = table_new(3, 128);
	ph = (struct pr_header *)(void *)pr;
	assert_int_equal(ph->ph_magic, PR_MAGIC);
	assert_int_equal(ph->ph_version, PR_VERSION);
	assert_int_equal(ph->ph_nworkers, 3);
	assert_int_equal(ph->ph_slots, 128);
	assert_int_equal(ph->ph_size, pr_size(3, 128));
	pr_destroy(pr);

	/* Two tables hash with different seeds (1 in 2^64 to fail). */
	pr = table_new(1, 64);
	one = (size_t)((struct pr_header *)(void *)pr)->ph_seed;
	pr_destroy(pr);
	pr = table_new(1, 64);
	assert_true(((struct pr_header *)(void *)pr)->ph_seed !=
	    (uint64_t)one || sizeof(size_t) < 8);
	pr_destroy(pr);
}

/*
 * A writer process owns seat 0: it adds devices of a few users, then a
 * fixed set of pinned devices of the same users (further down the same
 * probe runs), then churns the first devices until told to stop, so that
 * its tombstones, reuses and compactions happen in front of the pinned
 * entries.  Meanwhile this process looks up the pinned pairs for 0.5 s; not
 * one lookup may miss.  Afterwards every churned pair must read exactly
 * what the writer left.
 */
#define MP_USERS	8
#define MP_PINNED	3		/* devices per user, never removed */
#define MP_CHURN	16		/* devices per user, coming and going */
#define MP_NCHURN	(MP_USERS * MP_CHURN)

struct mp_ctl {
	_Atomic int		mc_ready;
	_Atomic int		mc_stop;
	_Atomic uint64_t	mc_adds;
	_Atomic uint64_t	mc_dels;
	_Atomic uint64_t	mc_compacts;
	_Atomic uint64_t	mc_refused;
	_Atomic int		mc_final[MP_NCHURN];
};

static void
mp_names(int k, int pinned, char *u, size_t ul, char *d, size_t dl)
{
	int	 per = pinned ? MP_PINNED : MP_CHURN;

	(void)snprintf(u, ul, "urn:user:%d", k / per);
	(void)snprintf(d, dl, "%s-%d", pinned ? "pin" : "churn", k % per);
}

static void
mp_writer(struct presence *pr, struct mp_ctl *mc)
{
	char		 u[32], d[32];
	uint64_t	 seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL | 1;
	uint64_t	 r, ops = 0;
	unsigned	 e;
	int		 cnt[MP_NCHURN], k, live = 0;

	pr_worker_start(pr, 0);
	/* Churned devices first: the pinned ones sit behind them. */
	memset(cnt, 0, sizeof(cnt));
	for (k = 0; k < MP_NCHURN; k++) {
		if (k % MP_CHURN >= MP_CHURN / 2)
			continue;
		mp_names(k, 0, u, sizeof(u), d, sizeof(d));
		if (pr_add(pr, 0, u, d, PR_MODE_PUSH, 1) != 0)
			_exit(2);
		cnt[k] = 1;
		live++;
	}
	for (k = 0; k < MP_USERS * MP_PINNED; k++) {
		mp_names(k, 1, u, sizeof(u), d, sizeof(d));
		if (pr_add(pr, 0, u, d, PR_MODE_PUSH, 1) != 0)
			_exit(2);
	}
	/* The second pinned device of each user has two connections. */
	for (k = 1; k < MP_USERS * MP_PINNED; k += MP_PINNED) {
		mp_names(k, 1, u, sizeof(u), d, sizeof(d));
		if (pr_add(pr, 0, u, d, PR_MODE_PUSH, 1) != 0)
			_exit(2);
	}
	atomic_store(&mc->mc_ready, 1);
	while (!atomic_load_explicit(&mc->mc_stop, memory_order_relaxed)) {
		r = rnd(&seed);
		k = (int)(r % MP_NCHURN);
		mp_names(k, 0, u, sizeof(u), d, sizeof(d));
		if (cnt[k] > 0 && ((r >> 32) & 1)) {
			pr_del(pr, 0, u, d);
			if (--cnt[k] == 0)
				live--;
			atomic_fetch_add_explicit(&mc->mc_dels, 1,
			    memory_order_relaxed);
		} else if (cnt[k] < 2) {
			if (pr_add(pr, 0, u, d, PR_MODE_PUSH, 1) == 0) {
				if (cnt[k]++ == 0)
					live++;
				atomic_fetch_add_explicit(&mc->mc_adds, 1,
				    memory_order_relaxed);
			} else
				atomic_fetch_add_explicit(&mc->mc_refused, 1,
				    memory_order_relaxed);
		}
		if (++ops % 512 == 0) {
			pr_worker_compact(pr, 0);
			atomic_fetch_add_explicit(&mc->mc_compacts, 1,
			    memory_order_relaxed);
		}
	}
	for (k = 0; k < MP_NCHURN; k++)
		atomic_store(&mc->mc_final[k], cnt[k]);
	pr_stats(pr, 0, &e, NULL);
	_exit(e == (unsigned)(live + MP_USERS * MP_PINNED) ? 0 : 3);
}

static void
test_processes_no_false_negative(void **state)
{
	struct presence	*pr = table_new(2, 256);
	struct mp_ctl	*mc;
	char		 u[32], d[32];
	uint64_t	 lookups = 0, misses = 0, inexact = 0, mask, end;
	pid_t		 pid;
	int		 k, n, want, st;

	(void)state;
	mc = mmap(NULL, sizeof(*mc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(mc != MAP_FAILED);
	/* Seat 1 holds the same pinned users, owned here. */
	for (k = 0; k < MP_USERS; k++) {
		mp_names(k * MP_PINNED, 1, u, sizeof(u), d, sizeof(d));
		assert_int_equal(pr_add(pr, 1, u, "elsewhere", PR_MODE_PUSH, 1), 0);
	}

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		mp_writer(pr, mc);
	while (!atomic_load(&mc->mc_ready))
		usleep(1000);

	end = monotonic_ns() + 500000000u;
	while (monotonic_ns() < end) {
		for (k = 0; k < MP_USERS * MP_PINNED; k++) {
			mp_names(k, 1, u, sizeof(u), d, sizeof(d));
			want = (k % MP_PINNED == 1) ? 2 : 1;
			n = pr_lookup_device(pr, u, d, &mask);
			lookups++;
			if (n < 1 || (mask & 1) == 0)
				misses++;
			else if (n != want || mask != 1)
				inexact++;
			if ((pr_lookup_user(pr, u) & 3) != 3)
				misses++;
			lookups++;
		}
	}
	atomic_store(&mc->mc_stop, 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	print_message("processes: %llu lookups, %llu missed, %llu inexact; "
	    "writer: %llu adds, %llu deletes, %llu compactions, %llu "
	    "refused\n", (unsigned long long)lookups,
	    (unsigned long long)misses, (unsigned long long)inexact,
	    (unsigned long long)atomic_load(&mc->mc_adds),
	    (unsigned long long)atomic_load(&mc->mc_dels),
	    (unsigned long long)atomic_load(&mc->mc_compacts),
	    (unsigned long long)atomic_load(&mc->mc_refused));
	assert_int_equal(misses, 0);
	assert_true(lookups > 1000);
	assert_true(atomic_load(&mc->mc_adds) > 1000);
	assert_true(atomic_load(&mc->mc_dels) > 1000);
	assert_true(atomic_load(&mc->mc_compacts) > 0);

	/* At rest, exact: what the writer left, nothing more. */
	for (k = 0; k < MP_NCHURN; k++) {
		mp_names(k, 0, u, sizeof(u), d, sizeof(d));
		want = atomic_load(&mc->mc_final[k]);
		assert_int_equal(pr_lookup_device(pr, u, d, &mask), want);
		assert_int_equal(mask, want > 0 ? 1 : 0);
	}
	for (k = 0; k < MP_USERS * MP_PINNED; k++) {
		mp_names(k, 1, u, sizeof(u), d, sizeof(d));
		assert_int_equal(pr_lookup_device(pr, u, d, &mask),
		    k % MP_PINNED == 1 ? 2 : 1);
		assert_int_equal(mask, 1);
	}
	munmap(mc, sizeof(*mc));
	pr_destroy(pr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_worker),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_grow_seats),
		cmocka_unit_test(test_devices_two_workers),
		cmocka_unit_test(test_full_partition),
		cmocka_unit_test(test_crowded_runs),
		cmocka_unit_test(test_reset_and_start),
		cmocka_unit_test(test_compact_keeps_live),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_processes_no_false_negative),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
