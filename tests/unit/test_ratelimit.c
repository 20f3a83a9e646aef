/*
 * test_ratelimit.c: unit tests of ratelimit.c: burst then steady rate,
 * refill over time, users independent, no limit at rate 0, a full table,
 * and exact accounting when several processes charge one user at once
 * (the table lives in a real MAP_SHARED mapping).
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ratelimit.h"

static struct rl_table *
table_new(void)
{
	struct rl_table	*rt;

	rt = mmap(NULL, sizeof(*rt), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(rt != MAP_FAILED);
	rl_init(rt);
	return (rt);
}

static void
table_free(struct rl_table *rt)
{
	munmap(rt, sizeof(*rt));
}

static uint64_t
charge(struct rl_table *rt, const char *u, uint64_t now, uint64_t rate,
    uint64_t burst)
{
	return (rl_charge(rt, u, strlen(u), now, rate, burst));
}

static void
test_burst_then_rate(void **state)
{
	struct rl_table	*rt = table_new();
	uint64_t	 now = 5000000, wait;
	int		 i;

	/* 10/s, burst 20: 20 at once, the 21st waits 100 ms. */
	for (i = 0; i < 20; i++)
		assert_int_equal(charge(rt, "alice", now, 10, 20), 0);
	wait = charge(rt, "alice", now, 10, 20);
	assert_int_equal(wait, 100000);
	/* 100 ms later one more is allowed, and only one. */
	assert_int_equal(charge(rt, "alice", now + 100000, 10, 20), 0);
	assert_true(charge(rt, "alice", now + 100000, 10, 20) > 0);
	/* After 2 s idle the burst is back. */
	for (i = 0; i < 20; i++)
		assert_int_equal(charge(rt, "alice", now + 2200000, 10, 20), 0);
	assert_true(charge(rt, "alice", now + 2200000, 10, 20) > 0);
	table_free(rt);
}

static void
test_users_independent(void **state)
{
	struct rl_table	*rt = table_new();
	uint64_t	 now = 1000000;

	assert_int_equal(charge(rt, "alice", now, 1, 1), 0);
	assert_true(charge(rt, "alice", now, 1, 1) > 0);
	assert_int_equal(charge(rt, "bob", now, 1, 1), 0);
	assert_int_equal(charge(rt, "urn:sm:user:carol", now, 1, 1), 0);
	table_free(rt);
}

static void
test_rate_zero_unlimited(void **state)
{
	struct rl_table	*rt = table_new();
	int		 i;

	for (i = 0; i < 100000; i++)
		assert_int_equal(charge(rt, "alice", 1, 0, 0), 0);
	table_free(rt);
}

/* More users than slots: a newcomer is never refused for lack of room. */
static void
test_full_table(void **state)
{
	struct rl_table	*rt = table_new();
	char		 u[32];
	uint64_t	 now = 10000000;
	int		 i;

	for (i = 0; i < RL_BUCKETS * 2; i++) {
		(void)snprintf(u, sizeof(u), "user%d", i);
		assert_int_equal(charge(rt, u, now + (uint64_t)i * 10, 1000,
		    1), 0);
	}
	table_free(rt);
}

/* Four processes charge one user at the same instant: exactly burst pass. */
static void
test_processes_exact(void **state)
{
	struct rl_table		*rt = table_new();
	_Atomic uint64_t	*allowed;
	pid_t			 pids[4];
	int			 i, j, st;

	allowed = mmap(NULL, sizeof(*allowed), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(allowed != MAP_FAILED);
	atomic_store(allowed, 0);
	for (i = 0; i < 4; i++) {
		if ((pids[i] = fork()) == 0) {
			for (j = 0; j < 20000; j++)
				if (charge(rt, "shared", 42000000, 100, 500) ==
				    0)
					atomic_fetch_add(allowed, 1);
			_exit(0);
		}
		assert_true(pids[i] > 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(atomic_load(allowed), 500);
	munmap(allowed, sizeof(*allowed));
	table_free(rt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_users_independent),
		cmocka_unit_test(test_rate_zero_unlimited),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_processes_exact),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
