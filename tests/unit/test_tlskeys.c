/*
 * test_tlskeys.c: unit tests of tlskeys.c: tk_init makes two different
 * random keys and rotation count 0; tk_rotate moves the current key to
 * previous and makes a new current one; two regions get different keys;
 * and a reader in another process never sees a torn key while a writer
 * installs keys as fast as it can (each key installed is one repeated
 * byte, so a copy mixing two keys shows), nor a previous key that is not
 * the one before the current.
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm.h"
#include "tlskeys.h"

static struct shm_tls *
region(void)
{
	struct shm_tls	*st;

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(st != MAP_FAILED);
	memset(st, 0, sizeof(*st));
	return (st);
}

static void
test_init_rotate(void **state)
{
	struct shm_tls	*st = region(), *other = region();
	struct tk_snap	 a, b, c;
	struct tk_key	 zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(tk_init(st), 0);
	assert_int_equal(tk_read(st, &a), 0);
	assert_int_equal(a.ts_rotations, 0);
	assert_memory_not_equal(&a.ts_cur, &zero, sizeof(zero));
	assert_memory_not_equal(&a.ts_prev, &zero, sizeof(zero));
	assert_memory_not_equal(a.ts_cur.tk_name, a.ts_prev.tk_name,
	    SHM_TK_NAME);
	assert_int_equal(atomic_load(&st->st_seq) % 2, 0);

	assert_int_equal(tk_rotate(st), 0);
	assert_int_equal(tk_read(st, &b), 0);
	assert_int_equal(b.ts_rotations, 1);
	assert_memory_equal(&b.ts_prev, &a.ts_cur, sizeof(a.ts_cur));
	assert_memory_not_equal(&b.ts_cur, &a.ts_cur, sizeof(a.ts_cur));
	assert_memory_not_equal(&b.ts_cur, &a.ts_prev, sizeof(a.ts_cur));

	assert_int_equal(tk_rotate(st), 0);
	assert_int_equal(tk_read(st, &c), 0);
	assert_int_equal(c.ts_rotations, 2);
	assert_memory_equal(&c.ts_prev, &b.ts_cur, sizeof(b.ts_cur));

	/* another instance has keys of its own */
	assert_int_equal(tk_init(other), 0);
	assert_int_equal(tk_read(other, &b), 0);
	assert_memory_not_equal(b.ts_cur.tk_name, c.ts_cur.tk_name,
	    SHM_TK_NAME);
	assert_memory_not_equal(b.ts_cur.tk_name, c.ts_prev.tk_name,
	    SHM_TK_NAME);
	(void)munmap(st, sizeof(*st));
	(void)munmap(other, sizeof(*other));
}

/* Whether every byte of k is v. */
static int
uniform(const struct tk_key *k, unsigned char v)
{
	const unsigned char	*p = (const unsigned char *)k;
	size_t			 i;

	for (i = 0; i < sizeof(*k); i++)
		if (p[i] != v)
			return (0);
	return (1);
}

static void
test_no_torn_reads(void **state)
{
	struct shm_tls	*st = region();
	struct tk_snap	 s;
	struct tk_key	 k;
	unsigned char	 cur;
	uint64_t	 last = 0, seen = 0, reads = 0;
	pid_t		 pid;
	int		 i, status = 0;

	(void)state;
	memset(&k, 1, sizeof(k));
	tk_install(st, &k);
	memset(&k, 2, sizeof(k));
	tk_install(st, &k);
	if ((pid = fork()) == 0) {
		/* the writer: key n is the byte n % 256, n from 3 up, with a
		 * pause between keys (the supervisor writes once a period) */
		for (i = 3; i < 3 + 20000; i++) {
			memset(&k, i & 0xff, sizeof(k));
			tk_install(st, &k);
			(void)usleep(10);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		assert_int_equal(tk_read(st, &s), 0);
		/* installed keys 1, 2, ...: after n installs the current key
		 * is byte n, the previous one byte n - 1 */
		cur = (unsigned char)(s.ts_rotations & 0xff);
		if (!uniform(&s.ts_cur, cur) ||
		    !uniform(&s.ts_prev, (unsigned char)(cur - 1)))
			fail_msg("torn read at rotation %llu",
			    (unsigned long long)s.ts_rotations);
		assert_true(s.ts_rotations >= last);
		if (s.ts_rotations != last)
			seen++;
		last = s.ts_rotations;
		reads++;
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the reads overlapped the writes, else the test proves nothing */
	assert_true(seen > 100 && reads > seen);
	(void)munmap(st, sizeof(*st));
}

static void
test_writer_died(void **state)
{
	struct shm_tls	*st = region();
	struct tk_snap	 s;

	(void)state;
	assert_int_equal(tk_init(st), 0);
	atomic_store(&st->st_seq, 7);	/* odd: a writer stopped halfway */
	assert_int_equal(tk_read(st, &s), -1);
	(void)munmap(st, sizeof(*st));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rotate),
		cmocka_unit_test(test_no_torn_reads),
		cmocka_unit_test(test_writer_died),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
