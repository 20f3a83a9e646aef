/*
 * test_qstore.c: unit tests of src/qstore.c against real LMDB files.
 *
 * Every test gets a fresh store in its own directory under one mkdtemp root
 * in /tmp.  Covered: fan-out to every known device (a user with none gets
 * held messages, never a "default" device), FIFO and lane order, repeated
 * fetch until ack, acks of subsets and of foreign or malformed ids,
 * sub-transaction rollback inside a committed batch, a full held queue
 * (QS_FULL, nothing written) next to a full device queue that loses its
 * oldest, TTL skipping and sweeping, device delete, push registration,
 * durability across reopen, the schema check, paging with a cursor, misuse
 * of the txn API, and several processes: concurrent writers with a reader,
 * a writer and a reader SIGKILLed inside their txns, a handle used after
 * fork, MAP_FULL with a tiny map and the reclaim after a big ack, a
 * full disk (the test's own pwrite and writev fail LMDB's writes of data
 * pages with ENOSPC, or of a meta page, which makes LMDB give up on the
 * env until it is reopened), and a hot backup.  The device model: held
 * messages and their adoption by new devices, the overflow of a full device
 * queue and its drop marker, the idle-device sweep, and the migration of a
 * schema-3 store (tests/unit/data/qstore/schema3.dump, loaded with
 * mdb_load).
 *
 * Forked children never use cmocka: they report through their exit
 * status and leave with _exit().
 *
 * "test_qstore --bench [DIR]" runs a throughput probe instead of the
 * tests (fsync'd batches of 1, 10 and 100, then a drain); not run by
 * make check.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dlfcn.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "qstore.h"

#define MAXGOT		512		/* messages one collector holds */
#define DATAMAX		64		/* envelope bytes a collector keeps */
#define QMAX		10000		/* default queue_max in tests */
#define TTL		(30ULL * 24 * 3600 * 1000)	/* ms */

static char	root[64];		/* /tmp/test_qstore.XXXXXX */
static int	ndirs;			/* store directories made so far */
static int	settle_mode;		/* send1 settles after each send */

struct fix {
	struct qstore	*qs;
	char		 dir[128];
};

/* What qs_fetch handed to the callback. */
struct got {
	size_t		 n;
	int		 stop_at;	/* return 1 on this call (1-based) */
	size_t		 calls;
	char		 id[MAXGOT][QS_MSGID_SIZE];
	int		 prio[MAXGOT];
	char		 data[MAXGOT][DATAMAX + 1];
};

struct devlist {
	size_t		 n;
	char		 dev[16][ID_MAX + 1];
	uint32_t	 count[16];
	uint64_t	 seen[16];
	int		 push[16];
	char		 token[16][64];
	char		 platform[16][QS_PLATFORM_MAX + 1];
	char		 app[16][QS_APPID_MAX + 1];
};

/* ------------------------------------------------------------------ */
/* A full disk: this program's pwrite and writev stand in for libc's    */
/* (LMDB's calls resolve to them) and fail while told to.              */
/* ------------------------------------------------------------------ */

#define FAIL_DATA	1		/* writes of data pages: ENOSPC */
#define FAIL_META	2		/* writes of a meta page: ENOSPC */
#define META_END	(2 * 4096)	/* bytes: LMDB's two meta pages */

static int	fail_writes;		/* FAIL_* bits */
static int	failed_writes;		/* writes refused so far */

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t	(*real)(int, const void *, size_t, off_t);
	int		 what = off < META_END ? FAIL_META : FAIL_DATA;

	if (fail_writes & what) {
		failed_writes++;
		errno = ENOSPC;
		return (-1);
	}
	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t, off_t))
		    dlsym(RTLD_NEXT, "pwrite");
	return (real(fd, buf, len, off));
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t	(*real)(int, const struct iovec *, int);

	if (fail_writes & FAIL_DATA) {	/* LMDB: runs of data pages */
		failed_writes++;
		errno = ENOSPC;
		return (-1);
	}
	if (real == NULL)
		real = (ssize_t (*)(int, const struct iovec *, int))
		    dlsym(RTLD_NEXT, "writev");
	return (real(fd, iov, n));
}

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
	(void)strcpy(root, "/tmp/test_qstore.XXXXXX");
	return (mkdtemp(root) == NULL ? -1 : 0);
}

static int
group_teardown(void **state)
{
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
}

static int
collect_cb(void *arg, const char *id, int prio, uint64_t enq,
    const void *data, size_t len)
{
	struct got	*g = arg;

	g->calls++;
	if (g->stop_at > 0 && g->calls == (size_t)g->stop_at)
		return (1);
	if (g->n >= MAXGOT)
		return (1);
	(void)snprintf(g->id[g->n], QS_MSGID_SIZE, "%s", id);
	g->prio[g->n] = prio;
	if (len > DATAMAX)
		len = DATAMAX;
	memcpy(g->data[g->n], data, len);
	g->data[g->n][len] = '\0';
	g->n++;
	return (0);
}

static int
dev_cb(void *arg, const struct qs_device *d)
{
	struct devlist	*l = arg;
	size_t		 i = l->n;

	if (i >= 16)
		return (1);
	(void)snprintf(l->dev[i], sizeof(l->dev[i]), "%s", d->qd_device);
	l->count[i] = d->qd_count;
	l->seen[i] = d->qd_last_seen_ms;
	l->push[i] = d->qd_has_push;
	if (d->qd_has_push) {
		(void)snprintf(l->token[i], sizeof(l->token[i]), "%s",
		    d->qd_token);
		(void)snprintf(l->platform[i], sizeof(l->platform[i]), "%s",
		    d->qd_platform);
		(void)snprintf(l->app[i], sizeof(l->app[i]), "%s",
		    d->qd_app_id);
	}
	l->n++;
	return (0);
}

/* Enqueue text to user in a batch of its own; the enqueue result. */
static int
send1(struct qstore *qs, const char *user, const char *text, int prio,
    uint64_t now, uint64_t ttl, uint32_t qmax, char *id)
{
	char	 tmp[QS_MSGID_SIZE];
	int	 rc, src;

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	rc = qs_enqueue(qs, user, text, strlen(text), prio, now, ttl, qmax,
	    id != NULL ? id : tmp);
	if (rc == QS_OK)
		assert_int_equal(qs_sub_commit(qs), QS_OK);
	else
		qs_sub_abort(qs);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	if (settle_mode) {
		/* in a batch of its own, as the daemon does; only a full map
		 * (test_mapfull) may stop it */
		assert_int_equal(qs_batch_begin(qs), QS_OK);
		src = qs_settle(qs, now, 1, NULL, NULL);
		if (src == QS_OK)
			src = qs_batch_commit(qs);
		else
			qs_batch_abort(qs);
		if (src != QS_OK && src != QS_MAPFULL)
			fail_msg("settle: %s", qs_lasterr(qs));
	}
	return (rc);
}

/* Settle the whole log in a batch of its own; the copies moved. */
static size_t
settle_all(struct qstore *qs, uint64_t now, size_t *expired)
{
	size_t	 moved = 999;

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_settle(qs, now, 1, &moved, expired), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	return (moved);
}

static void
touch1(struct qstore *qs, const char *user, const char *dev, uint64_t now)
{
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_touch(qs, user, dev, now, QS_TOUCH_INTERVAL_MS), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
}

static size_t
ack1(struct qstore *qs, const char *user, const char *dev,
    const char *const *ids, size_t n)
{
	size_t	 del = 999;

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_ack(qs, user, dev, ids, n, &del), QS_OK);
	assert_int_equal(qs_sub_commit(qs), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	return (del);
}

/* Fetch into a fresh collector (static: it is big). */
static struct got *
fetch(struct qstore *qs, const char *user, const char *dev, size_t limit,
    uint64_t now, int expect)
{
	static struct got	 g;
	size_t			 count = 999;

	memset(&g, 0, sizeof(g));
	assert_int_equal(qs_fetch(qs, user, dev, limit, now, collect_cb, &g,
	    &count), expect);
	if (expect == QS_OK)
		assert_int_equal(count, g.n);
	return (&g);
}

static uint32_t
depth(struct qstore *qs, const char *user, const char *dev, uint64_t *bytes)
{
	uint32_t	 count = 0;
	uint64_t	 b = 0;

	assert_int_equal(qs_depth(qs, user, dev, &count, &b), QS_OK);
	if (bytes != NULL)
		*bytes = b;
	return (count);
}

static uint32_t
held(struct qstore *qs, const char *user)
{
	uint32_t	 n = 999;

	assert_int_equal(qs_held_count(qs, user, &n), QS_OK);
	return (n);
}

static struct devlist *
devices(struct qstore *qs, const char *user)
{
	static struct devlist	 l;
	size_t			 n = 999;

	memset(&l, 0, sizeof(l));
	assert_int_equal(qs_devices(qs, user, dev_cb, &l, &n), QS_OK);
	assert_int_equal(n, l.n);
	return (&l);
}

static size_t
find_dev(const struct devlist *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->dev[i], name) == 0)
			return (i);
	fail_msg("device %s not listed", name);
	return (0);
}

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Read one byte from fd (-1 on EOF or error). */
static int
read_byte(int fd)
{
	unsigned char	 c;
	ssize_t		 n;

	while ((n = read(fd, &c, 1)) == -1 && errno == EINTR)
		;
	return (n == 1 ? c : -1);
}

static void
write_byte(int fd, int c)
{
	unsigned char	 b = (unsigned char)c;

	if (write(fd, &b, 1) != 1)
		_exit(90);
}

/* ------------------------------------------------------------------ */
/* Fan-out, order, ack                                                 */
/* ------------------------------------------------------------------ */

static void
test_fanout(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct got	*g;
	char		 id[QS_MSGID_SIZE], id2[QS_MSGID_SIZE];

	touch1(qs, "alice", "phone", 1000);
	touch1(qs, "alice", "laptop", 1000);
	assert_int_equal(send1(qs, "alice", "hello", 0, 2000, TTL, QMAX, id),
	    QS_OK);
	g = fetch(qs, "alice", "phone", 10, 2000, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->id[0], id);
	assert_string_equal(g->data[0], "hello");
	g = fetch(qs, "alice", "laptop", 10, 2000, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->id[0], id);

	/* A user with no device: the messages are held, no device made. */
	assert_int_equal(send1(qs, "urn:sm:user:bob", "b1", 0, 2000, TTL,
	    QMAX, id), QS_OK);
	assert_int_equal(devices(qs, "urn:sm:user:bob")->n, 0);
	assert_int_equal(held(qs, "urn:sm:user:bob"), 1);
	assert_int_equal(send1(qs, "urn:sm:user:bob", "b2", 0, 2000, TTL,
	    QMAX, id2), QS_OK);
	assert_string_not_equal(id, id2);
	assert_int_equal(held(qs, "urn:sm:user:bob"), 2);
	assert_int_equal(qs_depth(qs, "urn:sm:user:bob", "default", NULL,
	    NULL), QS_NOTFOUND);

	/* A device that becomes known adopts what is held, then gets the
	 * messages from then on. */
	touch1(qs, "urn:sm:user:bob", "tablet", 3000);
	assert_int_equal(send1(qs, "urn:sm:user:bob", "b3", 0, 3000, TTL,
	    QMAX, id), QS_OK);
	g = fetch(qs, "urn:sm:user:bob", "tablet", 10, 3000, QS_OK);
	assert_int_equal(g->n, 3);
	assert_string_equal(g->data[0], "b1");
	assert_string_equal(g->id[1], id2);
	assert_string_equal(g->data[2], "b3");
	assert_string_equal(g->id[2], id);
	assert_int_equal(devices(qs, "urn:sm:user:bob")->n, 1);
	/* b3 was not held: held is for the time with no device */
	assert_int_equal(held(qs, "urn:sm:user:bob"), 2);
	assert_int_equal(devices(qs, "nobody")->n, 0);
	(void)fetch(qs, "nobody", "x", 10, 3000, QS_NOTFOUND);
}

static void
test_fifo(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct got	*g;
	char		 text[16], ids[60][QS_MSGID_SIZE];
	uint64_t	 bytes;
	int		 i;

	touch1(qs, "u", "d", 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0; i < 60; i++) {
		(void)snprintf(text, sizeof(text), "m%02d", i);
		assert_int_equal(qs_sub_begin(qs), QS_OK);
		assert_int_equal(qs_enqueue(qs, "u", text, strlen(text), i % 5,
		    10 + i, TTL, QMAX, ids[i]), QS_OK);
		assert_int_equal(qs_sub_commit(qs), QS_OK);
	}
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(depth(qs, "u", "d", &bytes), 60);
	assert_int_equal(bytes, 60 * 3);
	g = fetch(qs, "u", "d", 100, 100, QS_OK);
	assert_int_equal(g->n, 60);
	for (i = 0; i < 60; i++) {
		(void)snprintf(text, sizeof(text), "m%02d", i);
		assert_string_equal(g->data[i], text);
		assert_string_equal(g->id[i], ids[i]);
		assert_int_equal(g->prio[i], i % 5);
	}
	g = fetch(qs, "u", "d", 10, 100, QS_OK);
	assert_int_equal(g->n, 10);
	assert_string_equal(g->data[9], "m09");
	g = fetch(qs, "u", "d", 0, 100, QS_OK);
	assert_int_equal(g->n, 0);
}

static void
test_lanes(void **state)
{
	static const int	 prio[] = { 0, 5, 3, 9, 1, 7, 4, 6 };
	static const char	*order[] = { "p5", "p9", "p7", "p6", "p0", "p3",
				    "p1", "p4" };
	struct qstore		*qs = ((struct fix *)*state)->qs;
	struct got		*g;
	char			 text[16];
	size_t			 i;

	touch1(qs, "u", "d", 1);
	for (i = 0; i < sizeof(prio) / sizeof(prio[0]); i++) {
		(void)snprintf(text, sizeof(text), "p%d", prio[i]);
		assert_int_equal(send1(qs, "u", text, prio[i], 5, TTL, QMAX,
		    NULL), QS_OK);
	}
	g = fetch(qs, "u", "d", 100, 10, QS_OK);
	assert_int_equal(g->n, 8);
	for (i = 0; i < 8; i++) {
		assert_string_equal(g->data[i], order[i]);
		assert_int_equal(g->id[i][0], i < 4 ? 'h' : 'n');
	}
	g = fetch(qs, "u", "d", 3, 10, QS_OK);
	assert_int_equal(g->n, 3);
	assert_string_equal(g->data[2], "p7");
}

static void
test_refetch_and_ack(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct got	*g;
	char		 first[10][QS_MSGID_SIZE], text[16];
	const char	*ids[5];
	uint64_t	 bytes;
	int		 i;

	touch1(qs, "u", "d", 1);
	for (i = 0; i < 10; i++) {
		(void)snprintf(text, sizeof(text), "x%d", i);
		assert_int_equal(send1(qs, "u", text, 0, 5, TTL, QMAX, NULL),
		    QS_OK);
	}
	g = fetch(qs, "u", "d", 50, 10, QS_OK);
	assert_int_equal(g->n, 10);
	for (i = 0; i < 10; i++)
		(void)strcpy(first[i], g->id[i]);
	g = fetch(qs, "u", "d", 50, 10, QS_OK);
	assert_int_equal(g->n, 10);
	for (i = 0; i < 10; i++)
		assert_string_equal(g->id[i], first[i]);

	ids[0] = first[0];
	ids[1] = first[2];
	ids[2] = first[4];
	ids[3] = first[2];	/* a repeat */
	assert_int_equal(ack1(qs, "u", "d", ids, 4), 3);
	assert_int_equal(depth(qs, "u", "d", &bytes), 7);
	assert_int_equal(bytes, 7 * 2);
	g = fetch(qs, "u", "d", 50, 10, QS_OK);
	assert_int_equal(g->n, 7);
	assert_string_equal(g->data[0], "x1");
	assert_string_equal(g->data[1], "x3");
	assert_string_equal(g->data[2], "x5");
	assert_string_equal(g->data[6], "x9");
	assert_int_equal(ack1(qs, "u", "d", ids, 3), 0);
	assert_int_equal(ack1(qs, "u", "d", NULL, 0), 0);
}

static void
test_ack_foreign(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	char		 only_laptop[QS_MSGID_SIZE], both[QS_MSGID_SIZE];
	char		 bobs[QS_MSGID_SIZE], upper[QS_MSGID_SIZE], longid[200];
	const char	*ids[10];
	int		 i;

	touch1(qs, "alice", "laptop", 1);
	touch1(qs, "bob", "default", 1);
	assert_int_equal(send1(qs, "alice", "l1", 0, 5, TTL, QMAX,
	    only_laptop), QS_OK);
	touch1(qs, "alice", "phone", 1);
	assert_int_equal(send1(qs, "alice", "a2", 0, 5, TTL, QMAX, both),
	    QS_OK);
	for (i = 0; i < 5; i++)
		assert_int_equal(send1(qs, "bob", "b", 0, 5, TTL, QMAX, bobs),
		    QS_OK);

	(void)strcpy(upper, both);
	upper[0] = 'N';
	memset(longid, 'n', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ids[0] = only_laptop;		/* another device's */
	ids[1] = bobs;			/* another user's (seq 5) */
	ids[2] = "garbage";
	ids[3] = "";
	ids[4] = "n0000000000000000";	/* seq 0 never exists */
	ids[5] = "x0000000000000002";
	ids[6] = upper;
	ids[7] = longid;
	ids[8] = "n00000000000000020";	/* one digit too many */
	ids[9] = NULL;
	assert_int_equal(ack1(qs, "alice", "phone", ids, 10), 0);
	assert_int_equal(depth(qs, "alice", "phone", NULL), 1);
	assert_int_equal(depth(qs, "alice", "laptop", NULL), 2);
	assert_int_equal(depth(qs, "bob", "default", NULL), 5);
	/* An unknown device acks nothing and stays unknown. */
	assert_int_equal(ack1(qs, "alice", "tv", ids, 2), 0);
	assert_int_equal(qs_depth(qs, "alice", "tv", NULL, NULL), QS_NOTFOUND);
	/* The shared id deletes only the caller's copy. */
	ids[0] = both;
	assert_int_equal(ack1(qs, "alice", "phone", ids, 1), 1);
	assert_int_equal(depth(qs, "alice", "phone", NULL), 0);
	assert_int_equal(depth(qs, "alice", "laptop", NULL), 2);
}

/* ------------------------------------------------------------------ */
/* Batches, limits, expiry                                             */
/* ------------------------------------------------------------------ */

static void
test_sub_abort(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	char		 id[QS_MSGID_SIZE];
	size_t		 ops, bytes, ops2, bytes2;
	int		 i;

	touch1(qs, "u1", "d", 1);
	touch1(qs, "u2", "d", 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_batch_active(qs), 1);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, "u1", "keep1", 5, 0, 5, TTL, QMAX,
	    id), QS_OK);
	assert_int_equal(qs_sub_commit(qs), QS_OK);
	qs_batch_size(qs, &ops, &bytes);
	assert_true(ops >= 3 && bytes > 5);

	assert_int_equal(qs_sub_begin(qs), QS_OK);
	for (i = 0; i < 3; i++)
		assert_int_equal(qs_enqueue(qs, "u2", "drop", 4, 0, 5, TTL,
		    QMAX, id), QS_OK);
	assert_int_equal(qs_enqueue(qs, "u1", "drop", 4, 0, 5, TTL, QMAX,
	    id), QS_OK);
	qs_batch_size(qs, &ops2, &bytes2);
	assert_true(ops2 > ops && bytes2 > bytes);
	qs_sub_abort(qs);
	qs_batch_size(qs, &ops2, &bytes2);
	assert_int_equal(ops2, ops);
	assert_int_equal(bytes2, bytes);

	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, "u2", "keep2", 5, 0, 5, TTL, QMAX,
	    id), QS_OK);
	assert_int_equal(qs_sub_commit(qs), QS_OK);
	/* Reads inside the batch see its writes. */
	assert_int_equal(depth(qs, "u2", "d", NULL), 1);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(qs_batch_active(qs), 0);
	qs_batch_size(qs, &ops2, &bytes2);
	assert_int_equal(ops2 + bytes2, 0);

	assert_int_equal(depth(qs, "u1", "d", NULL), 1);
	assert_int_equal(depth(qs, "u2", "d", NULL), 1);
	assert_string_equal(fetch(qs, "u2", "d", 9, 6, QS_OK)->data[0],
	    "keep2");
	assert_string_equal(fetch(qs, "u1", "d", 9, 6, QS_OK)->data[0],
	    "keep1");
	/* The aborted sequence number was rolled back with the sub. */
	assert_string_equal(id, "n0000000000000002");

	/* A whole batch aborted leaves nothing. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, "u1", "gone", 4, 0, 5, TTL, QMAX, id),
	    QS_OK);
	qs_batch_abort(qs);
	assert_int_equal(depth(qs, "u1", "d", NULL), 1);
}

static void
test_queue_full(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct qs_stats	 st0, st1;
	struct qs_effects fx;
	struct got	*g;
	char		 id[QS_MSGID_SIZE];
	int		 i, rc;

	/* Fill device a, then make b known: a full, b empty. */
	touch1(qs, "u", "a", 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0; i < 5; i++)
		assert_int_equal(qs_enqueue(qs, "u", "x", 1, 0, 5, TTL, 5, id),
		    QS_OK);
	assert_int_equal(qs_touch(qs, "u", "b", 1, QS_TOUCH_INTERVAL_MS),
	    QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(depth(qs, "u", "a", NULL), 5);
	assert_int_equal(depth(qs, "u", "b", NULL), 0);

	/* A full device never blocks the other: it loses its oldest. */
	(void)settle_all(qs, 5, NULL);
	assert_int_equal(send1(qs, "u", "y", 0, 5, TTL, 5, id), QS_OK);
	assert_int_equal(depth(qs, "u", "a", NULL), 5);
	assert_int_equal(depth(qs, "u", "b", NULL), 1);
	assert_string_equal(fetch(qs, "u", "a", 9, 5, QS_OK)->data[4], "y");
	/* queue_max 0 means no cap. */
	assert_int_equal(send1(qs, "u", "y", 0, 5, TTL, 0, id), QS_OK);
	assert_int_equal(depth(qs, "u", "a", NULL), 6);

	/* A user with no device: held up to the cap, then QS_FULL, which
	 * writes nothing and poisons nothing. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(qs_enqueue(qs, "h", "x", 1, 0, 5, TTL, 3, id),
		    QS_OK);
		qs_effects(qs, &fx);
		assert_int_equal(fx.ef_held, 1);
	}
	assert_int_equal(qs_stats(qs, &st0), QS_OK);
	assert_int_equal(qs_enqueue(qs, "h", "x", 1, 0, 5, TTL, 3, id),
	    QS_FULL);
	assert_int_equal(qs_stats(qs, &st1), QS_OK);
	assert_int_equal(st1.st_log, st0.st_log);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(held(qs, "h"), 3);
	assert_int_equal(send1(qs, "h", "x", 0, 5, TTL, 3, id), QS_FULL);

	/* An all-or-nothing array of 100 where the 51st hits the cap. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, "w", "other", 5, 0, 5, TTL, 50, id),
	    QS_OK);
	assert_int_equal(qs_sub_commit(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	for (i = 0, rc = QS_OK; i < 100 && rc == QS_OK; i++)
		rc = qs_enqueue(qs, "v", "e", 1, 0, 5, TTL, 50, id);
	assert_int_equal(rc, QS_FULL);
	assert_int_equal(i, 51);
	qs_sub_abort(qs);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(held(qs, "v"), 0);
	assert_int_equal(held(qs, "w"), 1);
	assert_int_equal(send1(qs, "v", "e", 0, 5, TTL, 50, id), QS_OK);
	/* 7 sent to u, 3 to h, 1 to w; the 51 rolled back left no gap */
	assert_string_equal(id, "n000000000000000c");

	/* A held message is adopted by the first device, in order. */
	touch1(qs, "h", "d", 6);
	g = fetch(qs, "h", "d", 9, 6, QS_OK);
	assert_int_equal(g->n, 3);
}

static void
test_ttl(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct qs_stats	 st;
	struct got	*g;
	uint64_t	 bytes;
	size_t		 n;

	touch1(qs, "u", "d", 1);
	touch1(qs, "u", "e", 1);
	assert_int_equal(send1(qs, "u", "A", 0, 1000, 1000, QMAX, NULL),
	    QS_OK);		/* expires 2000 */
	assert_int_equal(send1(qs, "u", "Dddd", 0, 1500, 1000, QMAX, NULL),
	    QS_OK);		/* 2500 */
	assert_int_equal(send1(qs, "u", "Bb", 0, 1600, 0, QMAX, NULL),
	    QS_OK);		/* never */
	assert_int_equal(send1(qs, "u", "Ccc", 7, 1000, 5000, QMAX, NULL),
	    QS_OK);		/* 6000, high lane */

	g = fetch(qs, "u", "d", 10, 1999, QS_OK);
	assert_int_equal(g->n, 4);
	g = fetch(qs, "u", "d", 10, 2000, QS_OK);
	assert_int_equal(g->n, 3);
	assert_string_equal(g->data[0], "Ccc");
	assert_string_equal(g->data[1], "Dddd");
	assert_string_equal(g->data[2], "Bb");
	/* Expired ones are skipped and not counted against the limit. */
	g = fetch(qs, "u", "d", 2, 2600, QS_OK);
	assert_int_equal(g->n, 2);
	assert_string_equal(g->data[1], "Bb");
	/* Settled (before anything expired) the index sees every head. */
	(void)settle_all(qs, 1000, NULL);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_messages, 8);
	assert_int_equal(st.st_log, 0);
	assert_int_equal(st.st_expiry, 4);	/* 2 queues x 2 lanes */

	/* Sweep with a small max first, then the rest. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_expire(qs, 1999, 100, &n), QS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(qs_expire(qs, 2600, 1, &n), QS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(qs_expire(qs, 2600, 100, &n), QS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(qs_expire(qs, 2600, 100, &n), QS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(depth(qs, "u", "d", &bytes), 2);
	assert_int_equal(bytes, 5);
	assert_int_equal(depth(qs, "u", "e", &bytes), 2);
	assert_int_equal(bytes, 5);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_messages, 4);
	assert_int_equal(st.st_expiry, 2);	/* normal heads never expire */
	g = fetch(qs, "u", "e", 10, 0, QS_OK);
	assert_int_equal(g->n, 2);

	/* Far future: the never-expiring one stays. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_expire(qs, UINT64_MAX, 100, &n), QS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	g = fetch(qs, "u", "d", 10, 0, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->data[0], "Bb");
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_expiry, 0);
}

/* The index follows lane heads through acks; a shorter TTL waits. */
static void
test_ttl_heads(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct qs_stats	 st;
	struct got	*g;
	char		 x[QS_MSGID_SIZE], y[QS_MSGID_SIZE], z[QS_MSGID_SIZE];
	const char	*ids[1];
	size_t		 n;

	touch1(qs, "u", "d", 1);
	assert_int_equal(send1(qs, "u", "X", 0, 1000, 10000, QMAX, x), QS_OK);
	assert_int_equal(send1(qs, "u", "Y", 0, 1000, 100, QMAX, y), QS_OK);
	assert_int_equal(send1(qs, "u", "Z", 0, 1000, 200, QMAX, z), QS_OK);
	assert_int_equal(settle_all(qs, 1000, NULL), settle_mode ? 0 : 3);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_expiry, 1);
	g = fetch(qs, "u", "d", 10, 2000, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->data[0], "X");
	/* Y and Z are never fetched, but wait behind X for the sweep. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_expire(qs, 2000, 100, &n), QS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(depth(qs, "u", "d", NULL), 3);
	/* Acking a message behind the head leaves the index alone... */
	ids[0] = z;
	assert_int_equal(ack1(qs, "u", "d", ids, 1), 1);
	/* ...acking the head re-indexes the next one. */
	ids[0] = x;
	assert_int_equal(ack1(qs, "u", "d", ids, 1), 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_expire(qs, 2000, 100, &n), QS_OK);
	assert_int_equal(n, 1);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(depth(qs, "u", "d", NULL), 0);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_expiry, 0);
	assert_int_equal(st.st_messages, 0);
	/* An empty lane gets indexed again by the next message. */
	assert_int_equal(send1(qs, "u", "W", 0, 3000, 100, QMAX, NULL), QS_OK);
	(void)settle_all(qs, 3000, NULL);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_expiry, 1);
	(void)y;
}

static void
test_device_delete(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct qs_stats	 st;
	struct devlist	*l;
	size_t		 dropped;
	int		 i;

	touch1(qs, "alice", "phone", 1);
	touch1(qs, "alice", "laptop", 1);
	for (i = 0; i < 20; i++)
		assert_int_equal(send1(qs, "alice", "m", i % 10, 5, TTL, QMAX,
		    NULL), QS_OK);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_push_register(qs, "alice", "phone", "apns",
	    "tok1", "org.example", 5), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_device_delete(qs, "alice", "phone", &dropped),
	    QS_OK);
	assert_int_equal(dropped, 20);
	assert_int_equal(qs_device_delete(qs, "alice", "phone", &dropped),
	    QS_NOTFOUND);
	assert_int_equal(dropped, 0);
	assert_int_equal(qs_batch_commit(qs), QS_OK);

	assert_int_equal(qs_depth(qs, "alice", "phone", NULL, NULL),
	    QS_NOTFOUND);
	(void)fetch(qs, "alice", "phone", 10, 5, QS_NOTFOUND);
	assert_int_equal(depth(qs, "alice", "laptop", NULL), 20);
	l = devices(qs, "alice");
	assert_int_equal(l->n, 1);
	assert_string_equal(l->dev[0], "laptop");
	assert_int_equal(settle_all(qs, 5, NULL), settle_mode ? 0 : 20);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_messages, 20);
	assert_int_equal(st.st_expiry, 2);	/* laptop's two lanes */
	assert_int_equal(st.st_push, 0);
	assert_int_equal(st.st_queues, 1);
	assert_int_equal(send1(qs, "alice", "n", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(depth(qs, "alice", "laptop", NULL), 21);
	assert_int_equal(qs_depth(qs, "alice", "phone", NULL, NULL),
	    QS_NOTFOUND);
}

static void
test_push_and_touch(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	struct devlist	*l;
	char		 big[QS_TOKEN_MAX + 2];
	size_t		 i;

	touch1(qs, "u", "laptop", 1000);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_push_register(qs, "u", "phone", "fcm", "t0",
	    "app", 1000), QS_OK);
	assert_int_equal(qs_push_register(qs, "u", "phone", "apns",
	    "abcdef0123", "org.example.app", 1500), QS_OK);
	assert_int_equal(qs_push_register(qs, "u", "phone", "apns",
	    "bad token", "app", 1500), QS_INVAL);
	assert_int_equal(qs_push_register(qs, "u", "phone", "", "t", "app",
	    1500), QS_INVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(qs_push_register(qs, "u", "phone", "apns", big,
	    "app", 1500), QS_INVAL);
	big[QS_TOKEN_MAX] = '\0';
	assert_int_equal(qs_push_register(qs, "u", "tv", "web", big, "app",
	    1500), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);

	l = devices(qs, "u");
	assert_int_equal(l->n, 3);
	i = find_dev(l, "laptop");
	assert_int_equal(l->push[i], 0);
	assert_int_equal(l->seen[i], 1000);
	i = find_dev(l, "phone");
	assert_int_equal(l->push[i], 1);
	assert_string_equal(l->platform[i], "apns");
	assert_string_equal(l->token[i], "abcdef0123");
	assert_string_equal(l->app[i], "org.example.app");
	i = find_dev(l, "tv");
	assert_int_equal(l->push[i], 1);
	assert_int_equal(strlen(l->token[i]), sizeof(l->token[i]) - 1);

	/* Last seen moves only once QS_TOUCH_INTERVAL_MS has passed. */
	touch1(qs, "u", "laptop", 1000 + QS_TOUCH_INTERVAL_MS - 1);
	l = devices(qs, "u");
	assert_int_equal(l->seen[find_dev(l, "laptop")], 1000);
	touch1(qs, "u", "laptop", 1000 + QS_TOUCH_INTERVAL_MS);
	l = devices(qs, "u");
	assert_int_equal(l->seen[find_dev(l, "laptop")],
	    1000 + QS_TOUCH_INTERVAL_MS);

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_push_remove(qs, "u", "phone"), QS_OK);
	assert_int_equal(qs_push_remove(qs, "u", "phone"), QS_NOTFOUND);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	l = devices(qs, "u");
	assert_int_equal(l->n, 3);
	assert_int_equal(l->push[find_dev(l, "phone")], 0);
}

static void
test_reopen(void **state)
{
	struct fix	*f = *state;
	struct devlist	*l;
	struct got	*g;
	char		 id1[QS_MSGID_SIZE], id2[QS_MSGID_SIZE];
	int		 lane;
	uint64_t	 s1, s2;

	touch1(f->qs, "u", "d", 1);
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_push_register(f->qs, "u", "d", "apns", "tok",
	    "app", 2), QS_OK);
	assert_int_equal(qs_batch_commit(f->qs), QS_OK);
	assert_int_equal(send1(f->qs, "u", "durable", 6, 5, TTL, QMAX, id1),
	    QS_OK);
	reopen(f);
	g = fetch(f->qs, "u", "d", 10, 6, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->data[0], "durable");
	assert_string_equal(g->id[0], id1);
	assert_int_equal(g->prio[0], 6);
	l = devices(f->qs, "u");
	assert_int_equal(l->n, 1);
	assert_int_equal(l->push[0], 1);
	assert_string_equal(l->token[0], "tok");
	/* The sequence goes on: ids are never reused. */
	assert_int_equal(send1(f->qs, "u", "next", 0, 5, TTL, QMAX, id2),
	    QS_OK);
	assert_int_equal(qs_msgid_parse(id1, &lane, &s1), QS_OK);
	assert_int_equal(lane, QS_LANE_HIGH);
	assert_int_equal(qs_msgid_parse(id2, &lane, &s2), QS_OK);
	assert_int_equal(lane, QS_LANE_NORMAL);
	assert_int_equal(s2, s1 + 1);
	/* Uncommitted work does not survive a close. */
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_enqueue(f->qs, "u", "lost", 4, 0, 5, TTL, QMAX,
	    id2), QS_OK);
	reopen(f);
	assert_int_equal(depth(f->qs, "u", "d", NULL), 2);
}

/* Rewrite meta "schema" of a closed store with raw LMDB. */
static void
put_schema(const char *dir, const void *val, size_t len)
{
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k, v;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, QS_MAXDBS), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	k.mv_data = "schema";
	k.mv_size = 6;
	v.mv_data = (void *)val;
	v.mv_size = len;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void
test_schema(void **state)
{
	static const unsigned char	 future[] = { 1, 0, 0, 0, 99 };
	static const unsigned char	 oddfmt[] = { 7, 0, 0, 0, 1 };
	static const unsigned char	 current[] = { 1, 0, 0, 0, 4 };
	static const unsigned char	 old[] = { 1, 0, 0, 0, 2 };
	struct fix			*f = *state;
	struct qstore			*qs;
	MDB_env				*env;
	MDB_txn				*txn;
	MDB_dbi				 dbi;
	const char			*err = NULL;
	char				 dir[128];

	assert_int_equal(send1(f->qs, "u", "x", 0, 5, TTL, QMAX, NULL), QS_OK);
	qs_close(f->qs);
	f->qs = NULL;
	put_schema(f->dir, future, sizeof(future));
	assert_null(qs_open(f->dir, 0, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "schema 99 is newer"));
	put_schema(f->dir, oddfmt, sizeof(oddfmt));
	assert_null(qs_open(f->dir, 0, &err));
	assert_non_null(strstr(err, "unknown schema record format"));
	put_schema(f->dir, old, sizeof(old));
	assert_null(qs_open(f->dir, 0, &err));
	assert_non_null(strstr(err, "schema 2 was written by a pre-release"));
	put_schema(f->dir, current, sizeof(current));
	assert_non_null(f->qs = qs_open(f->dir, 0, &err));
	assert_int_equal(held(f->qs, "u"), 1);

	/* An env made by someone else is not taken over. */
	new_dir(dir, sizeof(dir), "foreign");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "other", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_null(qs = qs_open(dir, 0, &err));
	assert_non_null(strstr(err, "not a routingd store"));

	/* A file where the directory should be. */
	assert_null(qs_open("/dev/null", 0, &err));
	assert_non_null(strstr(err, "/dev/null"));
}

/*
 * Messages half settled, half still in the log: one queue order across
 * both, acks and device deletes in either part, ids that survive the
 * move, expired log messages dropped by the settle, and the threshold.
 */
static void
test_settle(void **state)
{
	static const char *const	 want[] = { "h1", "h2", "m1", "m2",
					    "m3", "m4", "m5" };
	struct qstore			*qs = ((struct fix *)*state)->qs;
	struct qs_cursor		 cur;
	struct qs_stats			 st;
	struct got			*g;
	char				 ids[7][QS_MSGID_SIZE], id[QS_MSGID_SIZE];
	const char			*ack[2];
	size_t				 i, n, x, more_n;
	int				 more;

	if (settle_mode)
		skip();		/* this test places messages itself */
	touch1(qs, "u", "a", 1);
	touch1(qs, "u", "b", 1);
	touch1(qs, "u", "c", 1);
	assert_int_equal(send1(qs, "u", "m1", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(send1(qs, "u", "m2", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(send1(qs, "u", "h1", 7, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(send1(qs, "u", "m3", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(settle_all(qs, 5, &x), 12);	/* 4 x 3 devices */
	assert_int_equal(x, 0);
	assert_int_equal(send1(qs, "u", "m4", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(send1(qs, "u", "h2", 9, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(send1(qs, "u", "m5", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_messages, 12);
	assert_int_equal(st.st_log, 3);		/* one entry per message */

	/* One order across both parts, the same for every device. */
	g = fetch(qs, "u", "a", 10, 6, QS_OK);
	assert_int_equal(g->n, 7);
	for (i = 0; i < 7; i++) {
		assert_string_equal(g->data[i], want[i]);
		(void)snprintf(ids[i], sizeof(ids[i]), "%s", g->id[i]);
	}
	/* Paging one by one crosses from settled to log and lane to lane. */
	qs_cursor_init(&cur);
	for (i = 0; i < 7; i++) {
		memset(g, 0, sizeof(*g));
		assert_int_equal(qs_fetch_after(qs, "u", "b", &cur, 1, 6,
		    collect_cb, g, &more_n, &more), QS_OK);
		assert_int_equal(more_n, 1);
		assert_string_equal(g->id[0], ids[i]);
		assert_int_equal(more, i < 6);
	}

	/* a acks one settled and one logged message; b and c keep both. */
	ack[0] = ids[3];	/* m2, settled */
	ack[1] = ids[5];	/* m4, in the log */
	assert_int_equal(ack1(qs, "u", "a", ack, 2), 2);
	assert_int_equal(ack1(qs, "u", "a", ack, 2), 0);
	assert_int_equal(depth(qs, "u", "a", NULL), 5);
	assert_int_equal(fetch(qs, "u", "b", 10, 6, QS_OK)->n, 7);
	/* c goes away: its copies leave both parts. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_device_delete(qs, "u", "c", &n), QS_OK);
	assert_int_equal(n, 7);
	assert_int_equal(qs_batch_commit(qs), QS_OK);

	/* Settle the rest: ids and order hold, a's ack stays done. */
	assert_int_equal(settle_all(qs, 6, &x), 5);	/* 3 b + 2 a */
	g = fetch(qs, "u", "a", 10, 6, QS_OK);
	assert_int_equal(g->n, 5);
	assert_string_equal(g->id[4], ids[6]);
	assert_string_equal(g->data[3], "m3");
	g = fetch(qs, "u", "b", 10, 6, QS_OK);
	assert_int_equal(g->n, 7);
	for (i = 0; i < 7; i++)
		assert_string_equal(g->id[i], ids[i]);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_log, 0);
	assert_int_equal(st.st_messages, 12);

	/* A logged message that expired is dropped, not moved. */
	assert_int_equal(send1(qs, "u", "short", 0, 10, 100, QMAX, NULL),
	    QS_OK);
	assert_int_equal(depth(qs, "u", "b", NULL), 8);
	assert_int_equal(settle_all(qs, 200, &x), 0);
	assert_int_equal(x, 2);
	assert_int_equal(depth(qs, "u", "b", NULL), 7);
	assert_int_equal(depth(qs, "u", "a", NULL), 5);

	/* Without force nothing moves until QS_SETTLE_AT entries wait. */
	touch1(qs, "v", "default", 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0; i < QS_SETTLE_AT - 1; i++)
		assert_int_equal(qs_enqueue(qs, "v", "x", 1, 0, 5, TTL, 0, id),
		    QS_OK);
	assert_int_equal(qs_settle(qs, 5, 0, &n, NULL), QS_OK);
	assert_int_equal(n, 0);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(qs_settle_due(qs), 0);
	assert_int_equal(send1(qs, "v", "last", 0, 5, TTL, 0, NULL), QS_OK);
	assert_int_equal(qs_settle_due(qs), 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_settle(qs, 5, 0, &n, NULL), QS_OK);
	assert_int_equal(n, QS_SETTLE_AT);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(qs_settle_due(qs), 0);
	g = fetch(qs, "v", "default", 1, 5, QS_OK);
	assert_string_equal(g->data[0], "x");
	assert_int_equal(depth(qs, "v", "default", NULL), QS_SETTLE_AT);
}

/* Page from cursor *cur; the data of what came, "" separated by ",". */
static const char *
page(struct qstore *qs, const char *user, struct qs_cursor *cur,
    size_t limit)
{
	static char	 out[512];
	struct got	*g;
	size_t		 i, n, off = 0;
	int		 more;

	g = fetch(qs, user, "d", 0, 0, QS_OK);	/* a fresh collector */
	assert_int_equal(qs_fetch_after(qs, user, "d", cur, limit, 5,
	    collect_cb, g, &n, &more), QS_OK);
	out[0] = '\0';
	for (i = 0; i < g->n; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s",
		    i > 0 ? "," : "", g->data[i]);
	return (out);
}

/*
 * Log copies newer than a reader's position are read through the queue's
 * ring (the newest QS_RING seqs per lane) when nothing newer fell out of
 * it, else by a scan: both give the same messages in the same order,
 * other queues' entries and acked copies in between are skipped.
 */
static void
test_ring(void **state)
{
	struct qstore		*qs = ((struct fix *)*state)->qs;
	struct qs_cursor	 cur, mid;
	char			 ids[10][QS_MSGID_SIZE], txt[8];
	const char		*ack[1];
	int			 i;

	if (settle_mode)
		skip();		/* the ring serves the log only */
	touch1(qs, "u", "d", 1);
	touch1(qs, "u", "e", 1);
	touch1(qs, "v", "d", 1);
	/* three: the ring holds them all */
	for (i = 0; i < 3; i++) {
		(void)snprintf(txt, sizeof(txt), "m%d", i);
		assert_int_equal(send1(qs, "u", txt, 0, 5, TTL, QMAX, ids[i]),
		    QS_OK);
		assert_int_equal(send1(qs, "v", "other", 0, 5, TTL, QMAX,
		    NULL), QS_OK);
	}
	qs_cursor_init(&cur);
	assert_string_equal(page(qs, "u", &cur, 10), "m0,m1,m2");
	/* seven more: m0..m5 fall out of the ring */
	for (i = 3; i < 10; i++) {
		(void)snprintf(txt, sizeof(txt), "m%d", i);
		assert_int_equal(send1(qs, "u", txt, 0, 5, TTL, QMAX, ids[i]),
		    QS_OK);
		assert_int_equal(send1(qs, "v", "other", 0, 5, TTL, QMAX,
		    NULL), QS_OK);
	}
	/* from m2: m3..m5 are no longer in the ring: a scan */
	assert_string_equal(page(qs, "u", &cur, 10),
	    "m3,m4,m5,m6,m7,m8,m9");
	/* from m5 (the newest evicted): the ring alone has m6..m9 */
	qs_cursor_init(&mid);
	assert_string_equal(page(qs, "u", &mid, 6), "m0,m1,m2,m3,m4,m5");
	assert_string_equal(page(qs, "u", &mid, 2), "m6,m7");
	assert_string_equal(page(qs, "u", &mid, 10), "m8,m9");
	assert_string_equal(page(qs, "u", &mid, 10), "");
	/* a copy acked by device d is skipped; e still gets it */
	assert_int_equal(send1(qs, "u", "n1", 0, 5, TTL, QMAX, ids[0]),
	    QS_OK);
	assert_int_equal(send1(qs, "u", "n2", 0, 5, TTL, QMAX, NULL), QS_OK);
	ack[0] = ids[0];
	assert_int_equal(ack1(qs, "u", "d", ack, 1), 1);
	assert_string_equal(page(qs, "u", &mid, 10), "n2");
	/* the high lane has a ring of its own */
	assert_int_equal(send1(qs, "u", "h1", 9, 5, TTL, QMAX, NULL), QS_OK);
	assert_string_equal(page(qs, "u", &mid, 10), "h1");
	/* after a settle the same reader continues from msgs */
	assert_int_equal(send1(qs, "u", "n3", 0, 5, TTL, QMAX, NULL), QS_OK);
	(void)settle_all(qs, 5, NULL);
	assert_string_equal(page(qs, "u", &mid, 10), "n3");
}

static void
test_fetch_after(void **state)
{
	struct qstore		*qs = ((struct fix *)*state)->qs;
	struct qs_cursor	 cur;
	struct got		 g;
	char			 text[16], id[QS_MSGID_SIZE];
	size_t			 count, total = 0;
	int			 i, more, pages = 0;

	touch1(qs, "u", "d", 1);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0; i < 25; i++) {
		(void)snprintf(text, sizeof(text), "m%02d", i);
		assert_int_equal(qs_enqueue(qs, "u", text, 3, 0, 5, TTL, QMAX,
		    id), QS_OK);
	}
	assert_int_equal(qs_batch_commit(qs), QS_OK);

	qs_cursor_init(&cur);
	memset(&g, 0, sizeof(g));
	do {
		assert_int_equal(qs_fetch_after(qs, "u", "d", &cur, 7, 10,
		    collect_cb, &g, &count, &more), QS_OK);
		total += count;
		pages++;
		assert_int_equal(more, total < 25);
	} while (more);
	assert_int_equal(pages, 4);
	assert_int_equal(g.n, 25);
	assert_string_equal(g.data[24], "m24");
	assert_int_equal(qs_fetch_after(qs, "u", "d", &cur, 7, 10, collect_cb,
	    &g, &count, &more), QS_OK);
	assert_int_equal(count + (size_t)more, 0);

	/* Later messages, a high-lane one included, come after the cursor. */
	assert_int_equal(send1(qs, "u", "late", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(send1(qs, "u", "urgent", 9, 5, TTL, QMAX, NULL),
	    QS_OK);
	memset(&g, 0, sizeof(g));
	assert_int_equal(qs_fetch_after(qs, "u", "d", &cur, 7, 10, collect_cb,
	    &g, &count, &more), QS_OK);
	assert_int_equal(count, 2);
	assert_int_equal(more, 0);
	assert_string_equal(g.data[0], "urgent");
	assert_string_equal(g.data[1], "late");

	/* A callback that refuses stops the page without passing it. */
	qs_cursor_init(&cur);
	memset(&g, 0, sizeof(g));
	g.stop_at = 2;
	assert_int_equal(qs_fetch_after(qs, "u", "d", &cur, 100, 10,
	    collect_cb, &g, &count, &more), QS_OK);
	assert_int_equal(count, 1);
	assert_int_equal(more, 1);
	assert_string_equal(g.data[0], "urgent");
	memset(&g, 0, sizeof(g));
	assert_int_equal(qs_fetch_after(qs, "u", "d", &cur, 1, 10, collect_cb,
	    &g, &count, &more), QS_OK);
	assert_string_equal(g.data[0], "m00");
	assert_int_equal(qs_fetch_after(qs, "u", "x", &cur, 1, 10, collect_cb,
	    &g, &count, &more), QS_NOTFOUND);
}

static void
test_misuse_and_ids(void **state)
{
	struct qstore	*qs = ((struct fix *)*state)->qs;
	char		 id[QS_MSGID_SIZE], big[ID_MAX + 2];
	uint64_t	 seq;
	int		 lane;

	assert_int_equal(qs_enqueue(qs, "u", "x", 1, 0, 5, TTL, QMAX, id),
	    QS_ERR);
	assert_non_null(strstr(qs_lasterr(qs), "outside a batch"));
	assert_int_equal(qs_touch(qs, "u", "d", 1, QS_TOUCH_INTERVAL_MS), QS_ERR);
	assert_int_equal(qs_sub_begin(qs), QS_ERR);
	assert_int_equal(qs_sub_commit(qs), QS_ERR);
	assert_int_equal(qs_batch_commit(qs), QS_ERR);
	qs_sub_abort(qs);
	qs_batch_abort(qs);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_batch_begin(qs), QS_ERR);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_ERR);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(qs_enqueue(qs, big, "x", 1, 0, 5, TTL, QMAX, id),
	    QS_BADID);
	big[ID_MAX] = '\0';
	assert_int_equal(id_valid(big), 1);
	assert_int_equal(qs_enqueue(qs, big, "x", 1, 0, 5, TTL, QMAX, id),
	    QS_OK);
	assert_int_equal(qs_enqueue(qs, "", "x", 1, 0, 5, TTL, QMAX, id),
	    QS_BADID);
	assert_int_equal(qs_enqueue(qs, "a b", "x", 1, 0, 5, TTL, QMAX, id),
	    QS_BADID);
	assert_int_equal(qs_enqueue(qs, "caf\xc3\xa9", "x", 1, 0, 5, TTL, QMAX,
	    id), QS_BADID);
	assert_int_equal(qs_enqueue(qs, NULL, "x", 1, 0, 5, TTL, QMAX, id),
	    QS_BADID);
	assert_int_equal(qs_enqueue(qs, "u", "x", 1, 10, 5, TTL, QMAX, id),
	    QS_INVAL);
	assert_int_equal(qs_enqueue(qs, "u", "x", 1, -1, 5, TTL, QMAX, id),
	    QS_INVAL);
	assert_int_equal(qs_enqueue(qs, "u", NULL, 1, 0, 5, TTL, QMAX, id),
	    QS_INVAL);
	assert_int_equal(qs_enqueue(qs, "u", "", 0, 0, 5, TTL, QMAX, id),
	    QS_OK);
	assert_int_equal(qs_touch(qs, "u", "tab\there", 1, QS_TOUCH_INTERVAL_MS), QS_BADID);
	assert_int_equal(qs_ack(qs, "u", "", NULL, 0, NULL), QS_BADID);
	/* None of these poisoned the sub. */
	assert_int_equal(qs_sub_commit(qs), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(held(qs, big), 1);
	assert_int_equal(held(qs, "u"), 1);
	assert_int_equal(qs_depth(qs, "u", "bad id", NULL, NULL), QS_BADID);

	assert_int_equal(qs_msgid_parse("hffffffffffffffff", &lane, &seq),
	    QS_OK);
	assert_int_equal(lane, QS_LANE_HIGH);
	assert_true(seq == UINT64_MAX);
	assert_int_equal(qs_msgid_parse("n000000000000000a", &lane, &seq),
	    QS_OK);
	assert_int_equal(seq, 10);
	assert_int_equal(qs_msgid_parse("n000000000000000A", &lane, &seq),
	    QS_BADID);
	assert_int_equal(qs_msgid_parse("n000000000000000", &lane, &seq),
	    QS_BADID);
	assert_int_equal(qs_msgid_parse(NULL, &lane, &seq), QS_BADID);
	assert_string_equal(qs_strerror(QS_FULL), "device queue full");
	assert_string_equal(qs_strerror(12345), "unknown result");
}

/* ------------------------------------------------------------------ */
/* Several processes                                                   */
/* ------------------------------------------------------------------ */

#define NWRITERS	3
#define PERWRITER	40
#define WBATCH		5

/* Child: open the store, wait for the go byte, enqueue PERWRITER. */
static int
writer_child(const char *dir, int gofd, int w)
{
	struct qstore	*qs;
	char		 text[32], id[QS_MSGID_SIZE];
	int		 i, j;

	if ((qs = qs_open(dir, 0, NULL)) == NULL)
		return (10);
	if (read_byte(gofd) != 'g')
		return (11);
	for (i = 0; i < PERWRITER; i += WBATCH) {
		if (qs_batch_begin(qs) != QS_OK)
			return (12);
		for (j = i; j < i + WBATCH; j++) {
			(void)snprintf(text, sizeof(text), "w%d-%02d", w, j);
			if (qs_sub_begin(qs) != QS_OK ||
			    qs_enqueue(qs, "carol", text, strlen(text), 0,
			    now_ms(), TTL, QMAX, id) != QS_OK ||
			    qs_sub_commit(qs) != QS_OK)
				return (13);
		}
		if (qs_batch_commit(qs) != QS_OK)
			return (14);
	}
	qs_close(qs);
	return (0);
}

/* Every fetched set must be in id order with per-writer FIFO. */
static void
check_consistent(const struct got *g)
{
	int	 last[NWRITERS] = { -1, -1, -1 }, w, j;
	size_t	 i;

	for (i = 0; i < g->n; i++) {
		if (i > 0)
			assert_true(strcmp(g->id[i - 1], g->id[i]) < 0);
		assert_int_equal(sscanf(g->data[i], "w%d-%d", &w, &j), 2);
		assert_true(w >= 0 && w < NWRITERS);
		assert_true(j > last[w]);
		last[w] = j;
	}
}

static void
test_multiprocess(void **state)
{
	struct fix	*f = *state;
	struct got	*g;
	pid_t		 pids[NWRITERS];
	int		 go[2], i, status, left, polls = 0, lane;
	uint64_t	 seq;

	touch1(f->qs, "carol", "d1", 1);
	qs_close(f->qs);		/* never hold the env across fork */
	f->qs = NULL;
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < NWRITERS; i++) {
		assert_true((pids[i] = fork()) != -1);
		if (pids[i] == 0) {
			(void)close(go[1]);
			_exit(writer_child(f->dir, go[0], i));
		}
	}
	(void)close(go[0]);
	reopen(f);
	for (i = 0; i < NWRITERS; i++)
		write_byte(go[1], 'g');
	(void)close(go[1]);

	/* Read while they write. */
	for (left = NWRITERS; left > 0; polls++) {
		g = fetch(f->qs, "carol", "d1", MAXGOT, now_ms(), QS_OK);
		check_consistent(g);
		for (i = 0; i < NWRITERS; i++) {
			if (pids[i] > 0 && waitpid(pids[i], &status,
			    WNOHANG) == pids[i]) {
				assert_true(WIFEXITED(status));
				assert_int_equal(WEXITSTATUS(status), 0);
				pids[i] = 0;
				left--;
			}
		}
		(void)usleep(2000);
	}
	assert_true(polls > 0);
	g = fetch(f->qs, "carol", "d1", MAXGOT, now_ms(), QS_OK);
	assert_int_equal(g->n, NWRITERS * PERWRITER);
	check_consistent(g);
	/* One per-user sequence across processes: 1..N without a gap. */
	for (i = 0; i < (int)g->n; i++) {
		assert_int_equal(qs_msgid_parse(g->id[i], &lane, &seq), QS_OK);
		assert_int_equal(seq, (uint64_t)i + 1);
	}
	assert_int_equal(depth(f->qs, "carol", "d1", NULL),
	    NWRITERS * PERWRITER);
}

/* A collector callback that tells the parent and blocks forever. */
static int
block_cb(void *arg, const char *id, int prio, uint64_t enq, const void *d,
    size_t len)
{
	write_byte(*(int *)arg, 'x');
	for (;;)
		(void)pause();
	return (0);
}

/* Child: open, wait for 'g', then stop inside a write or a read txn. */
static int
stuck_child(const char *dir, int gofd, int tellfd, int writer)
{
	struct qstore	*qs;
	char		 id[QS_MSGID_SIZE];

	if ((qs = qs_open(dir, 0, NULL)) == NULL)
		return (20);
	if (read_byte(gofd) != 'g')
		return (21);
	if (writer) {
		if (qs_batch_begin(qs) != QS_OK ||
		    qs_enqueue(qs, "dave", "doomed", 6, 0, 5, TTL, QMAX,
		    id) != QS_OK)
			return (22);
		write_byte(tellfd, 'x');
		for (;;)
			(void)pause();
	}
	/* The callback runs inside the read txn: block there. */
	(void)qs_fetch(qs, "dave", "d", 10, 0, block_cb, &tellfd, NULL);
	return (23);
}

/* Fork a stuck_child, wait until it is inside its txn, SIGKILL it. */
static void
kill_inside_txn(struct fix *f, int writer)
{
	pid_t	 pid;
	int	 go[2], tell[2], status;

	qs_close(f->qs);
	f->qs = NULL;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(tell), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		(void)close(go[1]);
		(void)close(tell[0]);
		_exit(stuck_child(f->dir, go[0], tell[1], writer));
	}
	(void)close(go[0]);
	(void)close(tell[1]);
	reopen(f);		/* before the child takes the write lock */
	write_byte(go[1], 'g');
	assert_int_equal(read_byte(tell[0]), 'x');
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	(void)close(go[1]);
	(void)close(tell[0]);
}

static void
test_kill_writer(void **state)
{
	struct fix	*f = *state;
	struct got	*g;
	int		 cleared = -1;

	touch1(f->qs, "dave", "d", 1);
	kill_inside_txn(f, 1);
	/* The robust write mutex is recovered by the next writer. */
	assert_int_equal(send1(f->qs, "dave", "after", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	g = fetch(f->qs, "dave", "d", 10, 6, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->data[0], "after");
	assert_string_equal(g->id[0], "n0000000000000001");
	assert_int_equal(qs_reader_check(f->qs, &cleared), QS_OK);
	assert_int_equal(cleared, 0);
	reopen(f);
	assert_int_equal(depth(f->qs, "dave", "d", NULL), 1);
}

static void
test_kill_reader(void **state)
{
	struct fix	*f = *state;
	struct qs_stats	 st;
	int		 cleared = -1;

	touch1(f->qs, "dave", "d", 1);
	assert_int_equal(send1(f->qs, "dave", "m", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	kill_inside_txn(f, 0);
	assert_int_equal(qs_stats(f->qs, &st), QS_OK);
	assert_true(st.st_readers >= 1);
	assert_int_equal(st.st_max_readers, QS_MAXREADERS);
	assert_int_equal(qs_reader_check(f->qs, &cleared), QS_OK);
	assert_int_equal(cleared, 1);
	assert_int_equal(qs_reader_check(f->qs, &cleared), QS_OK);
	assert_int_equal(cleared, 0);
	/* Readers and writers go on. */
	assert_int_equal(send1(f->qs, "dave", "m2", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	assert_int_equal(fetch(f->qs, "dave", "d", 10, 6, QS_OK)->n, 2);
}

static void
test_after_fork(void **state)
{
	struct fix	*f = *state;
	pid_t		 pid;
	int		 status;

	touch1(f->qs, "u", "default", 1);
	assert_int_equal(send1(f->qs, "u", "m", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		struct qstore	*own;
		uint32_t	 n = 0;
		int		 bad = 0;

		/* The inherited handle refuses every use... */
		bad |= qs_depth(f->qs, "u", "default", &n, NULL) != QS_ERR;
		bad |= qs_batch_begin(f->qs) != QS_ERR;
		bad |= strstr(qs_lasterr(f->qs), "after fork") == NULL;
		qs_close(f->qs);	/* frees memory only */
		/* ...while a handle opened here works. */
		if ((own = qs_open(f->dir, 0, NULL)) == NULL)
			_exit(40);
		bad |= qs_depth(own, "u", "default", &n, NULL) != QS_OK;
		bad |= n != 1;
		qs_close(own);
		_exit(bad ? 41 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's handle is untouched. */
	assert_int_equal(send1(f->qs, "u", "m", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(depth(f->qs, "u", "default", NULL), 2);
}

/* ------------------------------------------------------------------ */
/* Map full, backup                                                    */
/* ------------------------------------------------------------------ */

static void
test_mapfull(void **state)
{
	static char		 env[8192];
	struct qstore		*qs;
	struct got		*g;
	const char		*err = NULL, *ids[MAXGOT];
	char			 dir[128], id[QS_MSGID_SIZE];
	int			 i, rc = QS_OK, stored = 0, where = 0;
	size_t			 n;

	new_dir(dir, sizeof(dir), "tiny");
	assert_non_null(qs = qs_open(dir, 1024 * 1024, &err));
	memset(env, 'e', sizeof(env));
	touch1(qs, "u", "d", 1);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(qs_batch_begin(qs), QS_OK);
		assert_int_equal(qs_sub_begin(qs), QS_OK);
		if ((rc = qs_enqueue(qs, "u", env, sizeof(env), 0, 5, TTL,
		    QMAX, id)) != QS_OK) {
			where = 1;
			/* The sub is poisoned: commit refuses with the cause;
			 * the rest of the batch still commits. */
			assert_int_equal(qs_sub_commit(qs), rc);
			assert_int_equal(qs_batch_commit(qs), QS_OK);
			break;
		}
		if ((rc = qs_sub_commit(qs)) != QS_OK) {
			where = 2;
			assert_int_equal(qs_batch_commit(qs), rc);
			break;
		}
		if ((rc = qs_batch_commit(qs)) != QS_OK) {
			where = 3;
			break;
		}
		stored++;
	}
	fprintf(stderr, "# map full after %d messages (at step %d)\n",
	    stored, where);
	assert_int_equal(rc, QS_MAPFULL);
	assert_true(where > 0);
	assert_true(stored > 10);
	assert_non_null(strstr(qs_lasterr(qs), "MDB_MAP_FULL"));

	/* Still usable: reads, deletes, then writes again. */
	assert_int_equal(depth(qs, "u", "d", NULL), (uint32_t)stored);
	g = fetch(qs, "u", "d", MAXGOT, 6, QS_OK);
	assert_int_equal(g->n, (size_t)stored);
	for (i = 0; i < stored; i++)
		ids[i] = g->id[i];
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_ack(qs, "u", "d", ids, (size_t)stored, &n), QS_OK);
	assert_int_equal(n, (size_t)stored);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(send1(qs, "u", "again", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(depth(qs, "u", "d", NULL), 1);

	/* Now fill the map inside one batch: the failing request rolls
	 * back alone and the requests before it still commit, unless the
	 * commit itself runs out of room, which drops the whole batch. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0, rc = QS_OK; i < 1000 && rc == QS_OK; i++) {
		assert_int_equal(qs_sub_begin(qs), QS_OK);
		if ((rc = qs_enqueue(qs, "u", env, sizeof(env), 0, 5, TTL,
		    QMAX, id)) == QS_OK)
			assert_int_equal(qs_sub_commit(qs), QS_OK);
		else
			qs_sub_abort(qs);
	}
	assert_int_equal(rc, QS_MAPFULL);
	stored = i - 1;
	rc = qs_batch_commit(qs);
	fprintf(stderr, "# in one batch: %d stored, then commit: %s\n",
	    stored, qs_strerror(rc));
	if (rc == QS_OK)
		assert_int_equal(depth(qs, "u", "d", NULL), 1 + stored);
	else {
		assert_int_equal(rc, QS_MAPFULL);
		assert_int_equal(depth(qs, "u", "d", NULL), 1);
	}
	qs_close(qs);

	/* Reopened with a larger map, the same store takes more. */
	assert_non_null(qs = qs_open(dir, 4 * 1024 * 1024, &err));
	assert_int_equal(send1(qs, "u", "more", 0, 5, TTL, QMAX, NULL), QS_OK);
	qs_close(qs);
}

/* Enqueue len bytes of env to u in a batch of its own; the result. */
static int
send_big(struct qstore *qs, const char *env, size_t len)
{
	char	 id[QS_MSGID_SIZE];
	int	 rc;

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	if ((rc = qs_enqueue(qs, "u", env, len, 0, 5, TTL, QMAX, id)) ==
	    QS_OK && (rc = qs_sub_commit(qs)) == QS_OK)
		return (qs_batch_commit(qs));
	qs_batch_abort(qs);
	return (rc);
}

/*
 * A full map, then one ack of most of it: LMDB keeps the freed pages from
 * the next write txn, so large messages (overflow pages) stay refused
 * until a commit happens; qs_reclaim is that commit, and a second one
 * with nothing committed in between is refused as useless.
 */
static void
test_mapfull_reclaim(void **state)
{
	static char	 env[8192];
	struct qstore	*qs;
	struct got	*g;
	const char	*err = NULL, *ids[MAXGOT];
	char		 dir[128];
	int		 i, stored = 0, acked, again;
	size_t		 n;

	new_dir(dir, sizeof(dir), "reclaim");
	assert_non_null(qs = qs_open(dir, 1024 * 1024, &err));
	memset(env, 'r', sizeof(env));
	touch1(qs, "u", "d", 1);
	/* nothing was ever freed: no reclaim has been done, so one runs */
	assert_int_equal(qs_reclaim(qs), QS_OK);
	assert_int_equal(qs_reclaim(qs), QS_NOTFOUND);
	while (stored < 1000 && send_big(qs, env, sizeof(env)) == QS_OK)
		stored++;
	assert_int_equal(send_big(qs, env, sizeof(env)), QS_MAPFULL);
	assert_true(stored > 20);

	g = fetch(qs, "u", "d", MAXGOT, 6, QS_OK);
	assert_int_equal(g->n, (size_t)stored);
	acked = stored * 85 / 100;
	for (i = 0; i < acked; i++)
		ids[i] = g->id[i];
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_reclaim(qs), QS_ERR);	/* batch open */
	assert_int_equal(qs_ack(qs, "u", "d", ids, (size_t)acked, &n), QS_OK);
	assert_int_equal(n, (size_t)acked);
	assert_int_equal(qs_batch_commit(qs), QS_OK);

	/* the ack's pages are out of reach of the txn right after it */
	assert_int_equal(send_big(qs, env, sizeof(env)), QS_MAPFULL);
	assert_int_equal(send_big(qs, env, sizeof(env)), QS_MAPFULL);
	assert_int_equal(qs_reclaim(qs), QS_OK);
	assert_int_equal(qs_reclaim(qs), QS_NOTFOUND);
	for (again = 0; again < acked; again++)
		if (send_big(qs, env, sizeof(env)) != QS_OK)
			break;
	fprintf(stderr, "# %d stored, %d acked, %d stored again\n", stored,
	    acked, again);
	assert_true(again >= acked / 2);
	/* a commit since the last reclaim: the next one is worth it */
	assert_int_equal(qs_reclaim(qs), QS_OK);
	assert_int_equal(depth(qs, "u", "d", NULL),
	    (uint32_t)(stored - acked + again));
	qs_close(qs);

	/* the meta record survives a reopen and is still understood */
	assert_non_null(qs = qs_open(dir, 1024 * 1024, &err));
	assert_int_equal(qs_reclaim(qs), QS_NOTFOUND);
	assert_int_equal(depth(qs, "u", "d", NULL),
	    (uint32_t)(stored - acked + again));
	qs_close(qs);
}

/*
 * The disk fills up: a commit whose data pages cannot be written fails
 * with QS_NOSPACE and leaves the store as it was; once writes work again
 * so does the handle, without a reopen.
 */
static void
test_nospace(void **state)
{
	static char	 env[8192];
	struct fix	*f = *state;
	char		 id[QS_MSGID_SIZE];
	int		 i, rc;

	memset(env, 'n', sizeof(env));
	touch1(f->qs, "u", "d", 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(send_big(f->qs, env, sizeof(env)), QS_OK);
	fail_writes = FAIL_DATA;
	failed_writes = 0;
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_enqueue(f->qs, "u", env, sizeof(env), 0, 5, TTL,
	    QMAX, id), QS_OK);
	rc = qs_batch_commit(f->qs);
	fail_writes = 0;
	assert_int_equal(rc, QS_NOSPACE);
	assert_true(failed_writes > 0);
	fail_writes = FAIL_DATA;
	assert_non_null(strstr(qs_lasterr(f->qs), "No space left"));
	assert_string_equal(qs_strerror(rc), "no space left on the store's "
	    "disk");
	/* reads work on the full disk, and see the store as it was */
	assert_int_equal(depth(f->qs, "u", "d", NULL), 3);
	assert_int_equal(send_big(f->qs, env, sizeof(env)), QS_NOSPACE);
	fail_writes = 0;
	assert_int_equal(send_big(f->qs, env, sizeof(env)), QS_OK);
	assert_int_equal(depth(f->qs, "u", "d", NULL), 4);
	reopen(f);
	assert_int_equal(depth(f->qs, "u", "d", NULL), 4);
	assert_int_equal(fetch(f->qs, "u", "d", MAXGOT, 6, QS_OK)->n, 4);
}

/*
 * A meta page that cannot be written makes LMDB refuse every later txn
 * of the env (MDB_PANIC); the handle reopens it by itself at its next
 * txn and goes on with what the last good commit wrote.
 */
static void
test_panic_reopen(void **state)
{
	struct fix	*f = *state;
	char		 id[QS_MSGID_SIZE];
	int		 rc;

	touch1(f->qs, "u", "d", 1);
	assert_int_equal(send1(f->qs, "u", "kept", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	fail_writes = FAIL_META;
	failed_writes = 0;
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_enqueue(f->qs, "u", "lost", 4, 0, 5, TTL, QMAX,
	    id), QS_OK);
	rc = qs_batch_commit(f->qs);
	fail_writes = 0;
	assert_int_equal(rc, QS_NOSPACE);
	assert_true(failed_writes >= 1);	/* and LMDB's restore of it */
	/* the next read and the next batch work: the env was reopened */
	assert_int_equal(depth(f->qs, "u", "d", NULL), 1);
	assert_int_equal(send1(f->qs, "u", "after", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	reopen(f);
	assert_int_equal(depth(f->qs, "u", "d", NULL), 2);
	assert_string_equal(fetch(f->qs, "u", "d", MAXGOT, 6, QS_OK)->data[1],
	    "after");
}

/* Another process grows the map: our next txn adopts the new size. */
static void
test_map_resized(void **state)
{
	static char	 env[32 * 1024];
	struct qstore	*qs;
	struct qs_stats	 st;
	const char	*err = NULL;
	char		 dir[128], id[QS_MSGID_SIZE];
	pid_t		 pid;
	int		 go[2], status, i;

	new_dir(dir, sizeof(dir), "grow");
	memset(env, 'g', sizeof(env));
	assert_int_equal(pipe(go), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		(void)close(go[1]);
		if (read_byte(go[0]) != 'g' ||
		    (qs = qs_open(dir, 8 * 1024 * 1024, NULL)) == NULL ||
		    qs_batch_begin(qs) != QS_OK)
			_exit(50);
		for (i = 0; i < 64; i++)
			if (qs_enqueue(qs, "u", env, sizeof(env), 0, 5, TTL,
			    QMAX, id) != QS_OK)
				_exit(51);
		if (qs_batch_commit(qs) != QS_OK)
			_exit(52);
		qs_close(qs);
		_exit(0);
	}
	(void)close(go[0]);
	assert_non_null(qs = qs_open(dir, 1024 * 1024, &err));
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_map_size, 1024 * 1024);
	write_byte(go[1], 'g');
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	(void)close(go[1]);
	/* The data no longer fits our 1 MiB map: reads and writes cope. */
	assert_int_equal(held(qs, "u"), 64);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_map_size, 8 * 1024 * 1024);
	assert_true(st.st_map_used > 2 * 1024 * 1024);
	assert_int_equal(send1(qs, "u", "x", 0, 5, TTL, QMAX, NULL), QS_OK);
	assert_int_equal(held(qs, "u"), 65);
	qs_close(qs);
}

static void
test_backup(void **state)
{
	struct fix	*f = *state;
	struct qstore	*bq;
	struct got	*g;
	struct stat	 sb;
	const char	*err = NULL;
	char		 dir[128], path[160];
	int		 i;

	touch1(f->qs, "u", "d", 1);
	for (i = 0; i < 30; i++)
		assert_int_equal(send1(f->qs, "u", "bk", i % 10, 5, TTL, QMAX,
		    NULL), QS_OK);
	new_dir(dir, sizeof(dir), "backup");
	assert_int_equal(qs_backup(f->qs, dir, &err), QS_ERR);
	assert_non_null(strstr(err, "opendir"));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_backup(f->qs, dir, &err), QS_ERR);
	assert_non_null(strstr(err, "batch"));
	qs_batch_abort(f->qs);
	assert_int_equal(qs_backup(f->qs, dir, &err), QS_OK);
	(void)snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(qs_backup(f->qs, dir, &err), QS_ERR);
	assert_non_null(strstr(err, "not empty"));
	/* The live store goes on; the copy has what was committed. */
	assert_int_equal(send1(f->qs, "u", "later", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	assert_non_null(bq = qs_open(dir, 0, &err));
	g = fetch(bq, "u", "d", MAXGOT, 6, QS_OK);
	assert_int_equal(g->n, 30);
	assert_string_equal(g->data[0], "bk");
	assert_int_equal(depth(bq, "u", "d", NULL), 30);
	qs_close(bq);
	/* only data.mdb: the temporary name was renamed away */
	(void)snprintf(path, sizeof(path), "%s/.data.mdb.tmp", dir);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(errno, ENOENT);
}

/* qs_totals over every queue, held included; qs_held_drop. */
static void
test_totals_held_drop(void **state)
{
	struct fix	*f = *state;
	uint64_t	 msgs = 99, bytes = 99, b1 = 0, b2 = 0;
	size_t		 dropped = 99;

	assert_int_equal(qs_totals(f->qs, &msgs, &bytes), QS_OK);
	assert_int_equal(msgs, 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(send1(f->qs, "h", "held-1", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	assert_int_equal(send1(f->qs, "h", "held-22", 0, 5, TTL, QMAX, NULL),
	    QS_OK);
	touch1(f->qs, "u", "d1", 1);
	touch1(f->qs, "u", "d2", 1);
	assert_int_equal(send1(f->qs, "u", "abc", 7, 5, TTL, QMAX, NULL),
	    QS_OK);
	(void)depth(f->qs, "u", "d1", &b1);
	(void)depth(f->qs, "u", "d2", &b2);
	assert_int_equal(qs_totals(f->qs, &msgs, &bytes), QS_OK);
	assert_int_equal(msgs, 4);		/* 2 held, 2 device copies */
	assert_int_equal(bytes, strlen("held-1") + strlen("held-22") + b1 +
	    b2);
	/* outside a batch it refuses to write */
	assert_int_equal(qs_held_drop(f->qs, "h", &dropped), QS_ERR);
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_held_drop(f->qs, "h", &dropped), QS_OK);
	assert_int_equal(dropped, 2);
	assert_int_equal(qs_held_drop(f->qs, "u", &dropped), QS_NOTFOUND);
	assert_int_equal(qs_held_drop(f->qs, "bad id", &dropped), QS_BADID);
	assert_int_equal(qs_batch_commit(f->qs), QS_OK);
	assert_int_equal(held(f->qs, "h"), 0);
	assert_int_equal(qs_totals(f->qs, &msgs, &bytes), QS_OK);
	assert_int_equal(msgs, 2);
	assert_int_equal(depth(f->qs, "u", "d1", NULL), 1);
	/* a new device of h adopts nothing now */
	touch1(f->qs, "h", "d", 2);
	assert_int_equal(depth(f->qs, "h", "d", NULL), 0);
}

/* ------------------------------------------------------------------ */
/* The device model: held queues, overflow, idle devices, migration    */
/* ------------------------------------------------------------------ */

/* send1, also giving what the enqueue did (read before any settle,
 * which is a write call of its own and resets the effects). */
static int
send_fx(struct qstore *qs, const char *user, const char *text, int prio,
    uint64_t now, uint64_t ttl, uint32_t qmax, char *id,
    struct qs_effects *fx)
{
	char	 tmp[QS_MSGID_SIZE];
	int	 rc;

	memset(fx, 0x55, sizeof(*fx));
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	rc = qs_enqueue(qs, user, text, strlen(text), prio, now, ttl, qmax,
	    id != NULL ? id : tmp);
	qs_effects(qs, fx);
	if (rc == QS_OK)
		assert_int_equal(qs_sub_commit(qs), QS_OK);
	else
		qs_sub_abort(qs);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	if (settle_mode)
		(void)settle_all(qs, now, NULL);
	return (rc);
}

/* qs_touch in a batch of its own; its effects into *fx. */
static void
touch_fx(struct qstore *qs, const char *user, const char *dev, uint64_t now,
    uint64_t min_age, struct qs_effects *fx)
{
	memset(fx, 0x55, sizeof(*fx));
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_touch(qs, user, dev, now, min_age), QS_OK);
	qs_effects(qs, fx);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
}

/* The ids of what a fetch returned, "," separated. */
static const char *
ids_of(const struct got *g)
{
	static char	 out[MAXGOT * QS_MSGID_SIZE];
	size_t		 i, off = 0;

	out[0] = '\0';
	for (i = 0; i < g->n && off < sizeof(out); i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s",
		    i > 0 ? "," : "", g->id[i]);
	return (out);
}

/* The data of what a fetch returned, "," separated. */
static const char *
data_of(const struct got *g)
{
	static char	 out[MAXGOT * 8];
	size_t		 i, off = 0;

	out[0] = '\0';
	for (i = 0; i < g->n && off < sizeof(out); i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s",
		    i > 0 ? "," : "", g->data[i]);
	return (out);
}

static void
test_held_adopt(void **state)
{
	struct qstore		*qs = ((struct fix *)*state)->qs;
	struct qs_effects	 fx;
	struct qs_stats		 st;
	struct devlist		*l;
	struct got		*g;
	char			 a1[QS_MSGID_SIZE], a2[QS_MSGID_SIZE];
	char			 h1[QS_MSGID_SIZE], h2[QS_MSGID_SIZE];
	char			 x3[QS_MSGID_SIZE], b1[QS_MSGID_SIZE];
	char			 hb[QS_MSGID_SIZE], want[512], txt[8];
	const char		*ack[1];
	size_t			 i;

	/* No device: every send is held; no device is made. */
	assert_int_equal(send_fx(qs, "u", "a1", 0, 1000, TTL, QMAX, a1, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(fx.ef_overflow, 0);
	assert_int_equal(fx.ef_created, 0);
	assert_int_equal(fx.ef_adopted, 0);
	assert_int_equal(send_fx(qs, "u", "x1", 0, 1000, 1000, QMAX, NULL,
	    &fx), QS_OK);			/* expires 2000 */
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(send_fx(qs, "u", "h1", 7, 1000, TTL, QMAX, h1, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 1);
	/* these three settled, the next ones (in log mode) in the log */
	(void)settle_all(qs, 1000, NULL);
	assert_int_equal(send_fx(qs, "u", "a2", 0, 1100, TTL, QMAX, a2, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(send_fx(qs, "u", "h2", 9, 1100, TTL, QMAX, h2, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(send_fx(qs, "u", "x2", 7, 1100, 900, QMAX, NULL,
	    &fx), QS_OK);			/* expires 2000, high lane */
	assert_int_equal(send_fx(qs, "u", "x3", 0, 1100, 901, QMAX, x3, &fx),
	    QS_OK);			/* expires 2001 */
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(held(qs, "u"), 7);
	assert_int_equal(devices(qs, "u")->n, 0);
	assert_int_equal(qs_depth(qs, "u", ID_DEFAULT_DEVICE, NULL, NULL),
	    QS_NOTFOUND);
	(void)fetch(qs, "u", ID_DEFAULT_DEVICE, 10, 1100, QS_NOTFOUND);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 1);
	assert_int_equal(st.st_queues, 0);
	assert_int_equal(held(qs, "other"), 0);

	/* The first device adopts the unexpired ones (at 2000, x1 and x2
	 * have expired, x3 has not), high lane first, same ids. */
	touch_fx(qs, "u", "phone", 2000, QS_TOUCH_INTERVAL_MS, &fx);
	assert_int_equal(fx.ef_created, 1);
	assert_int_equal(fx.ef_adopted, 5);
	assert_int_equal(fx.ef_held, 0);
	assert_int_equal(depth(qs, "u", "phone", NULL), 5);
	g = fetch(qs, "u", "phone", 10, 2000, QS_OK);
	assert_string_equal(data_of(g), "h1,h2,a1,a2,x3");
	(void)snprintf(want, sizeof(want), "%s,%s,%s,%s,%s", h1, h2, a1, a2,
	    x3);
	assert_string_equal(ids_of(g), want);
	assert_int_equal(g->prio[0], 7);
	assert_int_equal(g->prio[1], 9);
	assert_int_equal(g->prio[2], 0);
	/* the held messages stay held */
	assert_int_equal(held(qs, "u"), 7);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 1);
	assert_int_equal(st.st_queues, 1);

	/* A second touch of a known device adopts nothing. */
	touch_fx(qs, "u", "phone", 2000 + QS_TOUCH_INTERVAL_MS, 0, &fx);
	assert_int_equal(fx.ef_created, 0);
	assert_int_equal(fx.ef_adopted, 0);
	assert_int_equal(depth(qs, "u", "phone", NULL), 5);

	/* Sent now: not held, after the adopted ones in each lane. */
	assert_int_equal(send_fx(qs, "u", "b1", 0, 2100, TTL, QMAX, b1, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 0);
	assert_int_equal(send_fx(qs, "u", "hb", 5, 2100, TTL, QMAX, hb, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 0);
	assert_int_equal(held(qs, "u"), 7);
	g = fetch(qs, "u", "phone", 10, 2100, QS_OK);	/* x3 expired */
	assert_string_equal(data_of(g), "h1,h2,hb,a1,a2,b1");
	assert_string_equal(g->id[2], hb);
	assert_string_equal(g->id[5], b1);

	/* A device registered for push adopts the held ones too, but not
	 * b1 or hb (sent to the devices known then) nor the expired x3. */
	memset(&fx, 0x55, sizeof(fx));
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_push_register(qs, "u", "tablet", "fcm", "t1",
	    "app", 2200), QS_OK);
	qs_effects(qs, &fx);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(fx.ef_created, 1);
	assert_int_equal(fx.ef_adopted, 4);
	g = fetch(qs, "u", "tablet", 10, 2200, QS_OK);
	assert_string_equal(data_of(g), "h1,h2,a1,a2");
	(void)snprintf(want, sizeof(want), "%s,%s,%s,%s", h1, h2, a1, a2);
	assert_string_equal(ids_of(g), want);
	assert_int_equal(depth(qs, "u", "tablet", NULL), 4);
	/* Registering it again (a known device) adopts nothing. */
	memset(&fx, 0x55, sizeof(fx));
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_push_register(qs, "u", "tablet", "fcm", "t2",
	    "app", 2300), QS_OK);
	qs_effects(qs, &fx);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(fx.ef_created, 0);
	assert_int_equal(fx.ef_adopted, 0);
	assert_int_equal(depth(qs, "u", "tablet", NULL), 4);

	/* Acking an adopted copy deletes that device's copy only. */
	ack[0] = a1;
	assert_int_equal(ack1(qs, "u", "phone", ack, 1), 1);
	/* 5 adopted (x3 expired, unswept) + b1 + hb - a1 */
	assert_int_equal(depth(qs, "u", "phone", NULL), 6);
	assert_string_equal(data_of(fetch(qs, "u", "phone", 10, 2300,
	    QS_OK)), "h1,h2,hb,a2,b1");
	assert_string_equal(data_of(fetch(qs, "u", "tablet", 10, 2300,
	    QS_OK)), "h1,h2,a1,a2");
	assert_int_equal(held(qs, "u"), 7);
	ack[0] = a2;	/* in the log in log mode: the copy is not */
	assert_int_equal(ack1(qs, "u", "tablet", ack, 1), 1);
	assert_string_equal(data_of(fetch(qs, "u", "tablet", 10, 2300,
	    QS_OK)), "h1,h2,a1");
	assert_string_equal(data_of(fetch(qs, "u", "phone", 10, 2300,
	    QS_OK)), "h1,h2,hb,a2,b1");
	assert_int_equal(held(qs, "u"), 7);

	/* A third device still finds a1 and a2 held. */
	touch_fx(qs, "u", "tv", 2400, QS_TOUCH_INTERVAL_MS, &fx);
	assert_int_equal(fx.ef_created, 1);
	assert_int_equal(fx.ef_adopted, 4);
	assert_string_equal(data_of(fetch(qs, "u", "tv", 10, 2400, QS_OK)),
	    "h1,h2,a1,a2");
	l = devices(qs, "u");
	assert_int_equal(l->n, 3);
	(void)find_dev(l, "phone");
	(void)find_dev(l, "tablet");
	(void)find_dev(l, "tv");
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 1);
	assert_int_equal(st.st_queues, 3);

	/* Sent to the three: each gets it once, nothing is held. */
	assert_int_equal(send_fx(qs, "u", "c1", 0, 2500, TTL, QMAX, NULL,
	    &fx), QS_OK);
	assert_int_equal(fx.ef_held, 0);
	assert_int_equal(held(qs, "u"), 7);
	assert_string_equal(data_of(fetch(qs, "u", "tv", 10, 2500, QS_OK)),
	    "h1,h2,a1,a2,c1");
	assert_string_equal(data_of(fetch(qs, "u", "tablet", 10, 2500,
	    QS_OK)), "h1,h2,a1,c1");

	/* More held copies per lane than a queue's ring holds, half of
	 * them settled: every one is adopted, in order. */
	for (i = 0; i < 6; i++) {
		(void)snprintf(txt, sizeof(txt), "%c%zu", i % 2 ? 'H' : 'N',
		    i);
		assert_int_equal(send1(qs, "s", txt, i % 2 ? 8 : 1, 3000,
		    TTL, QMAX, NULL), QS_OK);
	}
	(void)settle_all(qs, 3000, NULL);
	for (i = 6; i < 20; i++) {
		(void)snprintf(txt, sizeof(txt), "%c%zu", i % 2 ? 'H' : 'N',
		    i);
		assert_int_equal(send1(qs, "s", txt, i % 2 ? 8 : 1, 3000,
		    TTL, QMAX, NULL), QS_OK);
	}
	assert_int_equal(held(qs, "s"), 20);
	touch_fx(qs, "s", "d", 3000, QS_TOUCH_INTERVAL_MS, &fx);
	assert_int_equal(fx.ef_created, 1);
	assert_int_equal(fx.ef_adopted, 20);
	assert_string_equal(data_of(fetch(qs, "s", "d", 100, 3000, QS_OK)),
	    "H1,H3,H5,H7,H9,H11,H13,H15,H17,H19,"
	    "N0,N2,N4,N6,N8,N10,N12,N14,N16,N18");
	(void)settle_all(qs, 3000, NULL);
	touch_fx(qs, "s", "e", 3000, QS_TOUCH_INTERVAL_MS, &fx);
	assert_int_equal(fx.ef_adopted, 20);
	assert_string_equal(data_of(fetch(qs, "s", "e", 100, 3000, QS_OK)),
	    "H1,H3,H5,H7,H9,H11,H13,H15,H17,H19,"
	    "N0,N2,N4,N6,N8,N10,N12,N14,N16,N18");
	assert_int_equal(held(qs, "s"), 20);
}

/* Fetch dev of user with a fresh cursor; the cursor into *cur. */
static struct got *
fetch_cur(struct qstore *qs, const char *user, const char *dev,
    uint64_t now, struct qs_cursor *cur)
{
	static struct got	 g;
	size_t			 count = 999;
	int			 more = 9;

	memset(&g, 0, sizeof(g));
	qs_cursor_init(cur);
	cur->qc_count = 999;
	cur->qc_dropped = 999;
	assert_int_equal(qs_fetch_after(qs, user, dev, cur, 100, now,
	    collect_cb, &g, &count, &more), QS_OK);
	assert_int_equal(count, g.n);
	assert_int_equal(more, 0);
	return (&g);
}

/* Send text to "u" with queue_max 3; the reader device "r" must get it
 * alone, and acks it.  The copies dropped (ef_overflow). */
static size_t
send_over(struct qstore *qs, const char *text, int prio, uint64_t now,
    char *id)
{
	struct qs_effects	 fx;
	struct got		*g;
	const char		*ack[1];

	assert_int_equal(send_fx(qs, "u", text, prio, now, TTL, 3, id, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_held, 0);
	g = fetch(qs, "u", "r", 10, now, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->id[0], id);
	assert_string_equal(g->data[0], text);
	ack[0] = id;
	assert_int_equal(ack1(qs, "u", "r", ack, 1), 1);
	return (fx.ef_overflow);
}

static void
test_overflow_marker(void **state)
{
	struct qstore		*qs = ((struct fix *)*state)->qs;
	struct qs_cursor	 cur;
	struct qs_effects	 fx;
	struct got		*g;
	char			 n1[QS_MSGID_SIZE], n2[QS_MSGID_SIZE];
	char			 n3[QS_MSGID_SIZE], n4[QS_MSGID_SIZE];
	char			 n5[QS_MSGID_SIZE], n6[QS_MSGID_SIZE];
	char			 n7[QS_MSGID_SIZE], n8[QS_MSGID_SIZE];
	char			 h1[QS_MSGID_SIZE], h2[QS_MSGID_SIZE];
	char			 h3[QS_MSGID_SIZE], h4[QS_MSGID_SIZE];
	char			 want[256];
	const char		*ack[1];

	touch1(qs, "u", "a", 1);
	touch1(qs, "u", "r", 1);
	assert_int_equal(send_over(qs, "n1", 0, 10, n1), 0);
	assert_int_equal(send_over(qs, "n2", 0, 10, n2), 0);
	assert_int_equal(send_over(qs, "h1", 7, 10, h1), 0);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "h1,n1,n2");
	assert_int_equal(cur.qc_count, 3);
	assert_int_equal(cur.qc_dropped, 0);

	/* Full: the oldest of the normal lane goes, the send succeeds. */
	assert_int_equal(send_over(qs, "n3", 0, 10, n3), 1);
	assert_int_equal(depth(qs, "u", "a", NULL), 3);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "h1,n2,n3");
	(void)snprintf(want, sizeof(want), "%s,%s,%s", h1, n2, n3);
	assert_string_equal(ids_of(g), want);
	assert_int_equal(cur.qc_count, 3);
	assert_int_equal(cur.qc_dropped, 1);
	assert_string_equal(data_of(fetch(qs, "u", "a", 10, 10, QS_OK)),
	    "h1,n2,n3");
	/* a high-lane message also pushes out the normal lane's oldest */
	assert_int_equal(send_over(qs, "h2", 9, 10, h2), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "h1,h2,n3");
	assert_int_equal(cur.qc_dropped, 2);
	assert_int_equal(send_over(qs, "h3", 5, 10, h3), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "h1,h2,h3");
	assert_int_equal(cur.qc_dropped, 3);
	/* normal lane empty: the high lane's oldest goes */
	assert_int_equal(send_over(qs, "h4", 6, 10, h4), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "h2,h3,h4");
	assert_int_equal(cur.qc_dropped, 4);
	assert_int_equal(send_over(qs, "n4", 0, 10, n4), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "h3,h4,n4");
	(void)snprintf(want, sizeof(want), "%s,%s,%s", h3, h4, n4);
	assert_string_equal(ids_of(g), want);
	assert_int_equal(cur.qc_count, 3);
	assert_int_equal(cur.qc_dropped, 5);
	assert_string_equal(data_of(fetch(qs, "u", "a", 10, 10, QS_OK)),
	    "h3,h4,n4");

	/* Acking survivors older than the last loss (n4) keeps the
	 * marker. */
	ack[0] = h3;
	assert_int_equal(ack1(qs, "u", "a", ack, 1), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_int_equal(cur.qc_count, 2);
	assert_int_equal(cur.qc_dropped, 5);
	assert_int_equal(send_over(qs, "n5", 0, 10, n5), 0);	/* room */
	ack[0] = h4;
	assert_int_equal(ack1(qs, "u", "a", ack, 1), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "n4,n5");
	assert_int_equal(cur.qc_count, 2);
	assert_int_equal(cur.qc_dropped, 5);
	/* an id of another device or a repeat deletes nothing: kept */
	ack[0] = h3;
	assert_int_equal(ack1(qs, "u", "a", ack, 1), 0);
	(void)fetch_cur(qs, "u", "a", 10, &cur);
	assert_int_equal(cur.qc_dropped, 5);
	/* acking one queued after the last loss clears it */
	ack[0] = n5;
	assert_int_equal(ack1(qs, "u", "a", ack, 1), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "n4");
	assert_int_equal(cur.qc_count, 1);
	assert_int_equal(cur.qc_dropped, 0);

	/* New losses start a new count; acking the very message whose send
	 * caused the last loss clears it. */
	(void)settle_all(qs, 10, NULL);
	assert_int_equal(send_over(qs, "n6", 0, 10, n6), 0);
	assert_int_equal(send_over(qs, "n7", 0, 10, n7), 0);
	assert_int_equal(send_over(qs, "n8", 0, 10, n8), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "n6,n7,n8");
	assert_int_equal(cur.qc_dropped, 1);
	ack[0] = n6;
	assert_int_equal(ack1(qs, "u", "a", ack, 1), 1);
	(void)fetch_cur(qs, "u", "a", 10, &cur);
	assert_int_equal(cur.qc_dropped, 1);
	ack[0] = n8;
	assert_int_equal(ack1(qs, "u", "a", ack, 1), 1);
	g = fetch_cur(qs, "u", "a", 10, &cur);
	assert_string_equal(data_of(g), "n7");
	assert_int_equal(cur.qc_count, 1);
	assert_int_equal(cur.qc_dropped, 0);

	/* The reader lost nothing. */
	g = fetch_cur(qs, "u", "r", 10, &cur);
	assert_int_equal(g->n, 0);
	assert_int_equal(cur.qc_count, 0);
	assert_int_equal(cur.qc_dropped, 0);

	/* Two full devices: one copy dropped from each. */
	touch1(qs, "v", "p", 1);
	touch1(qs, "v", "q", 1);
	assert_int_equal(send_fx(qs, "v", "m1", 0, 10, TTL, 2, NULL, &fx),
	    QS_OK);
	assert_int_equal(send_fx(qs, "v", "m2", 0, 10, TTL, 2, NULL, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_overflow, 0);
	assert_int_equal(send_fx(qs, "v", "m3", 0, 10, TTL, 2, NULL, &fx),
	    QS_OK);
	assert_int_equal(fx.ef_overflow, 2);
	assert_int_equal(fx.ef_held, 0);
	assert_string_equal(data_of(fetch(qs, "v", "p", 10, 10, QS_OK)),
	    "m2,m3");
	assert_string_equal(data_of(fetch(qs, "v", "q", 10, 10, QS_OK)),
	    "m2,m3");
	(void)fetch_cur(qs, "v", "q", 10, &cur);
	assert_int_equal(cur.qc_dropped, 1);
}

/* A keep callback: keeps "u3"/"kept"; logs the devices asked about. */
struct keeplog {
	size_t	 n;
	char	 who[64][2 * ID_MAX + 2];
};

static int
keep_cb(void *arg, const char *user, const char *device)
{
	struct keeplog	*kl = arg;

	if (kl->n < 64)
		(void)snprintf(kl->who[kl->n++], sizeof(kl->who[0]), "%s/%s",
		    user, device);
	return (strcmp(user, "u3") == 0 && strcmp(device, "kept") == 0);
}

static int
keep_asked(const struct keeplog *kl, const char *who)
{
	size_t	 i;

	for (i = 0; i < kl->n; i++)
		if (strcmp(kl->who[i], who) == 0)
			return (1);
	return (0);
}

/* One qs_forget_idle in a batch of its own; the devices forgotten. */
static size_t
forget1(struct qstore *qs, uint64_t now, uint64_t idle, size_t max,
    qs_keep_cb keep, void *arg, size_t *dropped)
{
	size_t	 forgotten = 999, d = 999;

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_forget_idle(qs, now, idle, max, keep, arg,
	    &forgotten, &d), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	if (dropped != NULL)
		*dropped = d;
	return (forgotten);
}

static void
test_forget_idle(void **state)
{
	struct qstore		*qs = ((struct fix *)*state)->qs;
	struct keeplog		 kl;
	struct qs_stats		 st;
	struct qs_effects	 fx;
	struct qs_cursor	 cur;
	struct devlist		*l;
	char			 dev[16];
	size_t			 dropped, n, total, calls;
	size_t			 i;

	touch1(qs, "u1", "old", 1000);
	touch1(qs, "u1", "new", 1000);
	touch1(qs, "u2", "old2", 1000);
	touch1(qs, "u3", "kept", 1000);
	for (i = 0; i < 3; i++)
		assert_int_equal(send1(qs, "u1", "m", 0, 2000, TTL, QMAX,
		    NULL), QS_OK);
	for (i = 0; i < 2; i++)
		assert_int_equal(send1(qs, "u2", "m", 0, 2000, TTL, QMAX,
		    NULL), QS_OK);
	/* held: h1 for good, h2 only until 2100 */
	assert_int_equal(send1(qs, "h1", "m", 0, 2000, TTL, QMAX, NULL),
	    QS_OK);
	assert_int_equal(send1(qs, "h2", "m", 0, 2000, 100, QMAX, NULL),
	    QS_OK);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_push_register(qs, "u2", "old2", "apns", "tok",
	    "app", 1000), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 2);
	assert_int_equal(st.st_queues, 4);
	assert_int_equal(st.st_push, 1);

	/* qs_seen: a known device's last-seen moves forward only... */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_seen(qs, "u1", "new", 90000), QS_OK);
	assert_int_equal(qs_seen(qs, "u1", "new", 80000), QS_OK);
	/* ...and an unknown one is not made known. */
	assert_int_equal(qs_seen(qs, "u1", "ghost", 90000), QS_NOTFOUND);
	assert_int_equal(qs_seen(qs, "nobody", "ghost", 90000), QS_NOTFOUND);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	l = devices(qs, "u1");
	assert_int_equal(l->n, 2);
	assert_int_equal(l->seen[find_dev(l, "new")], 90000);
	assert_int_equal(l->seen[find_dev(l, "old")], 1000);
	(void)fetch_cur(qs, "u1", "new", 90000, &cur);
	assert_int_equal(cur.qc_seen_ms, 90000);
	assert_int_equal(cur.qc_count, 3);
	assert_int_equal(qs_depth(qs, "u1", "ghost", NULL, NULL),
	    QS_NOTFOUND);
	assert_int_equal(devices(qs, "nobody")->n, 0);
	assert_int_equal(held(qs, "nobody"), 0);

	/* qs_touch refreshes only a last-seen at least min_age old. */
	touch_fx(qs, "u1", "old", 5999, 5000, &fx);
	assert_int_equal(fx.ef_created, 0);
	l = devices(qs, "u1");
	assert_int_equal(l->seen[find_dev(l, "old")], 1000);
	touch_fx(qs, "u1", "old", 6000, 5000, &fx);
	l = devices(qs, "u1");
	assert_int_equal(l->seen[find_dev(l, "old")], 6000);
	touch_fx(qs, "u1", "old", 7000, 5000, &fx);
	l = devices(qs, "u1");
	assert_int_equal(l->seen[find_dev(l, "old")], 6000);

	/* idle_ms 0 forgets no device, however old. */
	assert_int_equal(forget1(qs, UINT64_MAX, 0, 100, NULL, NULL,
	    &dropped), 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(devices(qs, "u1")->n, 2);
	assert_int_equal(devices(qs, "u2")->n, 1);
	assert_int_equal(devices(qs, "u3")->n, 1);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 2);	/* neither is empty yet */

	/* h2's message expires: its held queue is empty (still there). */
	(void)settle_all(qs, 3000, NULL);
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_expire(qs, 3000, 100, &n), QS_OK);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(held(qs, "h2"), 0);
	assert_int_equal(held(qs, "h1"), 1);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 2);

	/* At 100000 with idle_ms 50000: old (6000), old2 and kept (1000)
	 * are idle; kept is kept by the callback; new (90000) is not. */
	memset(&kl, 0, sizeof(kl));
	assert_int_equal(forget1(qs, 100000, 50000, 100, keep_cb, &kl,
	    &dropped), 2);
	assert_int_equal(dropped, 5);
	assert_true(keep_asked(&kl, "u3/kept"));
	assert_false(keep_asked(&kl, "u1/new"));
	l = devices(qs, "u1");
	assert_int_equal(l->n, 1);
	assert_string_equal(l->dev[0], "new");
	assert_int_equal(depth(qs, "u1", "new", NULL), 3);
	assert_int_equal(fetch(qs, "u1", "new", 10, 100000, QS_OK)->n, 3);
	assert_int_equal(qs_depth(qs, "u1", "old", NULL, NULL), QS_NOTFOUND);
	(void)fetch(qs, "u1", "old", 10, 100000, QS_NOTFOUND);
	assert_int_equal(devices(qs, "u2")->n, 0);
	assert_int_equal(qs_depth(qs, "u2", "old2", NULL, NULL),
	    QS_NOTFOUND);
	l = devices(qs, "u3");
	assert_int_equal(l->n, 1);
	assert_string_equal(l->dev[0], "kept");
	/* the empty held queue went, the other stayed */
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 1);
	assert_int_equal(st.st_queues, 2);
	assert_int_equal(st.st_push, 0);	/* old2's went with it */
	assert_int_equal(held(qs, "h1"), 1);
	assert_int_equal(held(qs, "h2"), 0);
	/* nothing left to do */
	assert_int_equal(forget1(qs, 100000, 50000, 100, keep_cb, &kl,
	    &dropped), 0);
	assert_int_equal(dropped, 0);
	/* u2 has no device again: its next message is held */
	assert_int_equal(send_fx(qs, "u2", "again", 0, 100000, TTL, QMAX,
	    NULL, &fx), QS_OK);
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(held(qs, "u2"), 1);

	/* A sweep in small steps advances, then wraps.  "w" sorts first
	 * (ids by length); d4-d9 are idle at 100000, d0-d3 only later. */
	for (i = 0; i < 10; i++) {
		(void)snprintf(dev, sizeof(dev), "d%zu", i);
		touch1(qs, "w", dev, i < 4 ? 90000 : 1000);
		assert_int_equal(send1(qs, "w", "m", 0, 100000, TTL, QMAX,
		    NULL), QS_OK);		/* d<i> gets 10 - i */
	}
	assert_int_equal(devices(qs, "w")->n, 10);
	assert_int_equal(forget1(qs, 100000, 50000, 4, keep_cb, &kl,
	    &dropped), 0);			/* d0-d3: not idle */
	assert_int_equal(dropped, 0);
	assert_int_equal(forget1(qs, 100000, 50000, 4, keep_cb, &kl,
	    &dropped), 4);			/* d4-d7 */
	assert_int_equal(dropped, 6 + 5 + 4 + 3);
	assert_int_equal(forget1(qs, 100000, 50000, 4, keep_cb, &kl,
	    &dropped), 2);			/* d8, d9, h1, u1/new */
	assert_int_equal(dropped, 2 + 1);
	l = devices(qs, "w");
	assert_int_equal(l->n, 4);
	(void)find_dev(l, "d0");
	(void)find_dev(l, "d3");
	/* later d0-d3 are idle too: the calls go on to the end, then wrap
	 * around to reach them */
	for (total = 0, calls = 0; calls < 10 && devices(qs, "w")->n > 0;
	    calls++) {
		n = forget1(qs, 200000, 50000, 4, keep_cb, &kl, NULL);
		assert_true(n <= 4);
		total += n;
	}
	assert_int_equal(devices(qs, "w")->n, 0);
	assert_true(calls >= 2);
	assert_true(total >= 4);
	/* u1/new (90000) goes too; u3/kept is kept */
	(void)forget1(qs, 200000, 50000, 100, keep_cb, &kl, NULL);
	assert_int_equal(devices(qs, "u1")->n, 0);
	assert_int_equal(devices(qs, "u3")->n, 1);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_queues, 1);

	/* One call deletes at most QS_FORGET_MAX (64) queues. */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	for (i = 0; i < 70; i++) {
		(void)snprintf(dev, sizeof(dev), "m%02zu", i);
		assert_int_equal(qs_touch(qs, "many", dev, 1000, 0), QS_OK);
	}
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(forget1(qs, 200000, 50000, 1000, keep_cb, &kl,
	    NULL), 64);
	assert_int_equal(devices(qs, "many")->n, 6);
	assert_int_equal(forget1(qs, 200000, 50000, 1000, keep_cb, &kl,
	    NULL), 6);
	assert_int_equal(devices(qs, "many")->n, 0);
	assert_int_equal(devices(qs, "u3")->n, 1);
	/* without the callback nothing keeps it */
	assert_int_equal(forget1(qs, 200000, 50000, 1000, NULL, NULL, NULL),
	    1);
	assert_int_equal(devices(qs, "u3")->n, 0);
}

/* The wall-clock time in ms (what qs_open's migration uses). */
static uint64_t
wall_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
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

/* The checks of the migrated schema-3 store, before and after n7. */
static void
check_migrated(struct qstore *qs, uint64_t t0, int with7)
{
	struct qs_stats	 st;
	struct devlist	*l;
	struct got	*g;
	size_t		 i;

	g = fetch(qs, "alice", "phone", 100, t0, QS_OK);
	assert_int_equal(g->n, 5 + (size_t)with7);
	assert_string_equal(g->id[0], "h0000000000000003");
	assert_string_equal(g->id[1], "h0000000000000006");
	assert_string_equal(g->id[2], "n0000000000000001");
	assert_string_equal(g->id[3], "n0000000000000002");
	assert_string_equal(g->id[4], "n0000000000000005");
	assert_string_equal(g->data[0], "{\"m\":3}");
	assert_string_equal(g->data[1], "{\"m\":6}");
	assert_string_equal(g->data[2], "{\"m\":1}");
	assert_string_equal(g->data[3], "{\"m\":2}");
	assert_string_equal(g->data[4], "{\"m\":5}");
	assert_int_equal(g->prio[0], 7);
	assert_int_equal(g->prio[1], 9);
	assert_int_equal(g->prio[2], 0);
	if (with7) {
		assert_string_equal(g->id[5], "n0000000000000007");
		assert_string_equal(g->data[5], "{\"m\":7}");
	}
	g = fetch(qs, "alice", "laptop", 100, t0, QS_OK);
	assert_int_equal(g->n, 4 + (size_t)with7);
	assert_string_equal(g->id[0], "h0000000000000003");
	assert_string_equal(g->id[1], "h0000000000000006");
	assert_string_equal(g->id[2], "n0000000000000002");
	assert_string_equal(g->id[3], "n0000000000000005");
	assert_string_equal(g->data[3], "{\"m\":5}");
	if (with7)
		assert_string_equal(g->id[4], "n0000000000000007");
	g = fetch(qs, "bob", "default", 100, t0, QS_OK);
	assert_int_equal(g->n, 1);
	assert_string_equal(g->id[0], "n0000000000000004");
	assert_string_equal(g->data[0], "{\"m\":4}");
	assert_int_equal(depth(qs, "alice", "phone", NULL), 5 + with7);
	assert_int_equal(depth(qs, "alice", "laptop", NULL), 4 + with7);

	l = devices(qs, "alice");
	assert_int_equal(l->n, 2);
	assert_string_equal(l->dev[0], "phone");	/* shorter id first */
	assert_string_equal(l->dev[1], "laptop");
	assert_int_equal(l->push[0], 1);
	assert_string_equal(l->platform[0], "apns");
	assert_string_equal(l->token[0], "tok123");
	assert_string_equal(l->app[0], "org.example.app");
	assert_int_equal(l->push[1], 0);
	for (i = 0; i < l->n; i++)
		assert_true(l->seen[i] >= t0);
	l = devices(qs, "bob");
	assert_int_equal(l->n, 1);
	assert_string_equal(l->dev[0], "default");
	assert_true(l->seen[0] >= t0);
	assert_int_equal(held(qs, "alice"), 0);
	assert_int_equal(held(qs, "bob"), 0);
	assert_int_equal(qs_stats(qs, &st), QS_OK);
	assert_int_equal(st.st_held, 0);
	assert_int_equal(st.st_queues, 3);
	assert_int_equal(st.st_push, 1);
}

static void
test_migrate3(void **state)
{
	struct fix		*f = *state;
	struct qs_effects	 fx;
	const char		*srcdir = getenv("srcdir"), *err = "";
	char			 dump[1024], id[QS_MSGID_SIZE];
	uint64_t		 t0;
	pid_t			 pid;
	int			 status, fd;

	(void)snprintf(dump, sizeof(dump),
	    "%s/tests/unit/data/qstore/schema3.dump",
	    srcdir != NULL ? srcdir : ".");
	assert_int_equal(access(dump, R_OK), 0);
	qs_close(f->qs);
	f->qs = NULL;
	new_dir(f->dir, sizeof(f->dir), "schema3_");
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
	assert_int_equal(get_schema(f->dir), 3);

	t0 = wall_ms();
	f->qs = qs_open(f->dir, 0, &err);
	if (f->qs == NULL)
		fail_msg("qs_open schema 3: %s", err);
	check_migrated(f->qs, t0, 0);

	/* A new send reaches both of alice's devices, next in sequence. */
	assert_int_equal(send_fx(f->qs, "alice", "{\"m\":7}", 0, t0, TTL,
	    QMAX, id, &fx), QS_OK);
	assert_string_equal(id, "n0000000000000007");
	assert_int_equal(fx.ef_held, 0);
	assert_int_equal(fx.ef_overflow, 0);
	check_migrated(f->qs, t0, 1);

	/* Closed, it is the current schema and opens again with its data. */
	qs_close(f->qs);
	f->qs = NULL;
	assert_int_equal(get_schema(f->dir), QS_SCHEMA_VERSION);
	reopen(f);
	check_migrated(f->qs, t0, 1);
	(void)settle_all(f->qs, t0, NULL);
	check_migrated(f->qs, t0, 1);
	assert_int_equal(send1(f->qs, "bob", "{\"m\":8}", 9, t0, TTL, QMAX,
	    id), QS_OK);
	assert_string_equal(id, "h0000000000000008");
	/* New users follow the schema 4 model: held, then adopted. */
	assert_int_equal(send_fx(f->qs, "carol", "c", 0, t0, TTL, QMAX, id,
	    &fx), QS_OK);
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(devices(f->qs, "carol")->n, 0);
	assert_int_equal(held(f->qs, "carol"), 1);
	touch_fx(f->qs, "carol", "x", t0, QS_TOUCH_INTERVAL_MS, &fx);
	assert_int_equal(fx.ef_created, 1);
	assert_int_equal(fx.ef_adopted, 1);
	assert_string_equal(fetch(f->qs, "carol", "x", 10, t0, QS_OK)->id[0],
	    id);
	touch_fx(f->qs, "alice", "tablet", t0, QS_TOUCH_INTERVAL_MS, &fx);
	assert_int_equal(fx.ef_created, 1);
	assert_int_equal(fx.ef_adopted, 0);
	assert_int_equal(fetch(f->qs, "alice", "tablet", 10, t0, QS_OK)->n,
	    0);
	assert_int_equal(depth(f->qs, "alice", "phone", NULL), 6);
}

/* ------------------------------------------------------------------ */
/* Throughput probe (by hand: test_qstore --bench [DIR])               */
/* ------------------------------------------------------------------ */

static int
bench_fail(const char *what, struct qstore *qs)
{
	fprintf(stderr, "bench: %s: %s\n", what, qs_lasterr(qs));
	return (1);
}

/* Enqueue total 256-byte messages to nusers users, batch per commit,
 * each message in its own sub; prints msgs/s. */
static int
bench_send(struct qstore *qs, int batch, int total, int nusers)
{
	static char	 env[256];
	char		 user[32], id[QS_MSGID_SIZE];
	uint64_t	 t0, t1;
	int		 i, j;

	memset(env, 'x', sizeof(env));
	t0 = now_ms();
	for (i = 0; i < total; i += batch) {
		if (qs_batch_begin(qs) != QS_OK)
			return (bench_fail("batch_begin", qs));
		for (j = i; j < i + batch; j++) {
			(void)snprintf(user, sizeof(user), "user%d",
			    j % nusers);
			if (qs_sub_begin(qs) != QS_OK ||
			    qs_enqueue(qs, user, env, sizeof(env), 0, now_ms(),
			    TTL, 0, id) != QS_OK || qs_sub_commit(qs) != QS_OK)
				return (bench_fail("enqueue", qs));
		}
		if (qs_batch_commit(qs) != QS_OK)
			return (bench_fail("batch_commit", qs));
	}
	t1 = now_ms();
	printf("batch %4d, %4d users: %7d msgs in %6llu ms = %8.0f msgs/s\n",
	    batch, nusers, total, (unsigned long long)(t1 - t0),
	    total * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1));
	return (0);
}

/* Drain every user's queue with fetch(limit 500) + ack, one commit per
 * page; prints msgs/s. */
static int
bench_drain(struct qstore *qs, int nusers)
{
	static struct got	 g;
	const char		*ids[500];
	char			 user[32];
	uint64_t		 t0, t1, total = 0;
	size_t			 i, n;
	int			 u;

	t0 = now_ms();
	for (u = 0; u < nusers; u++) {
		(void)snprintf(user, sizeof(user), "user%d", u);
		for (;;) {
			g.n = g.calls = 0;
			g.stop_at = 0;
			if (qs_fetch(qs, user, "default", 500, t0,
			    collect_cb, &g, NULL) != QS_OK)
				return (bench_fail("fetch", qs));
			if (g.n == 0)
				break;
			for (i = 0; i < g.n; i++)
				ids[i] = g.id[i];
			if (qs_batch_begin(qs) != QS_OK ||
			    qs_ack(qs, user, "default", ids, g.n,
			    &n) != QS_OK || qs_batch_commit(qs) != QS_OK)
				return (bench_fail("ack", qs));
			total += n;
		}
	}
	t1 = now_ms();
	printf("drain (GET 500 + ack): %llu msgs in %llu ms = %.0f msgs/s\n",
	    (unsigned long long)total, (unsigned long long)(t1 - t0),
	    total * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1));
	return (0);
}

static int
bench(const char *base)
{
	struct qstore	*qs;
	const char	*err = NULL;
	char		 dir[256];
	int		 rc;

	(void)snprintf(dir, sizeof(dir), "%s/qstore-bench.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return (1);
	}
	if ((qs = qs_open(dir, 0, &err)) == NULL) {
		fprintf(stderr, "qs_open: %s\n", err);
		return (1);
	}
	printf("store %s: 256-byte envelopes, one sub-txn per message, "
	    "one fsync'd commit per batch\n", dir);
	rc = bench_send(qs, 1, 2000, 1000) || bench_send(qs, 10, 20000, 1000) ||
	    bench_send(qs, 100, 200000, 1000) ||
	    bench_send(qs, 100, 100000, 10) || bench_drain(qs, 1000);
	qs_close(qs);
	(void)nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return (rc);
}

/* ------------------------------------------------------------------ */
/* Early delivery: the seq floor, the run's jump, the copies' prev     */
/* ------------------------------------------------------------------ */

/* The seq of id, which must parse. */
static uint64_t
seq_of(const char *id)
{
	uint64_t	 seq;
	int		 lane;

	assert_int_equal(qs_msgid_parse(id, &lane, &seq), QS_OK);
	return (seq);
}

/* One message to user in a batch of its own; *pub gets whether the
 * batch was publishable after the enqueue; its effects into *fx. */
static uint64_t
early_send(struct qstore *qs, const char *user, int prio, int *pub,
    struct qs_effects *fx, struct qs_copy *copy0)
{
	char	 id[QS_MSGID_SIZE];

	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, user, "x", 1, prio, 1000, TTL, QMAX,
	    id), QS_OK);
	qs_effects(qs, fx);
	if (fx->ef_ncopies > 0)
		*copy0 = fx->ef_copies[0];
	*pub = qs_batch_publishable(qs);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_int_equal(fx->ef_seq, seq_of(id));
	return (seq_of(id));
}

static void
test_early_seqs(void **state)
{
	struct fix		*f = *state;
	struct qstore		*qs = f->qs;
	struct qs_effects	 fx;
	struct qs_copy		 cp;
	_Atomic uint64_t	 hw = 0;
	_Atomic uint32_t	 jumped = 0;
	char			 id[QS_MSGID_SIZE];
	uint64_t		 s1, s2, s3, s4, sh, sb;
	int			 pub;

	touch_fx(qs, "alice", "phone", 1000, 0, &fx);
	qs_seq_floor(qs, &hw, &jumped);

	/* the run's first seq jumps; not publishable until that is durable */
	s1 = early_send(qs, "alice", 0, &pub, &fx, &cp);
	assert_true(s1 > QS_SEQ_JUMP);
	assert_int_equal(pub, 0);
	assert_int_equal(jumped, 1);
	assert_true(hw == s1 + 1);

	/* then publishable, with the device copy naming its predecessor */
	s2 = early_send(qs, "alice", 0, &pub, &fx, &cp);
	assert_true(s2 == s1 + 1);
	assert_int_equal(pub, 1);
	assert_int_equal(fx.ef_ncopies, 1);
	assert_string_equal(cp.cp_device, "phone");
	assert_true(cp.cp_prev[QS_LANE_NORMAL] == s1);
	assert_true(cp.cp_prev[QS_LANE_HIGH] == 0);
	assert_int_equal(fx.ef_lane, QS_LANE_NORMAL);

	/* a rolled-back draw is never drawn again */
	assert_int_equal(qs_batch_begin(qs), QS_OK);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, "alice", "y", 1, 0, 1000, TTL, QMAX,
	    id), QS_OK);
	s3 = seq_of(id);
	qs_sub_abort(qs);
	assert_int_equal(qs_sub_begin(qs), QS_OK);
	assert_int_equal(qs_enqueue(qs, "alice", "z", 1, 0, 1000, TTL, QMAX,
	    id), QS_OK);
	assert_int_equal(qs_sub_commit(qs), QS_OK);
	s4 = seq_of(id);
	assert_int_equal(qs_batch_commit(qs), QS_OK);
	assert_true(s3 == s2 + 1 && s4 == s3 + 1);

	/* a held message, adopted into msgs by a new device, is its prev */
	sh = early_send(qs, "bob", 0, &pub, &fx, &cp);
	assert_int_equal(fx.ef_held, 1);
	assert_int_equal(fx.ef_ncopies, 0);
	touch_fx(qs, "bob", "pc", 2000, 0, &fx);
	assert_int_equal(fx.ef_adopted, 1);
	sb = early_send(qs, "bob", 0, &pub, &fx, &cp);
	assert_true(sb > sh);
	assert_int_equal(fx.ef_ncopies, 1);
	assert_string_equal(cp.cp_device, "pc");
	assert_true(cp.cp_prev[QS_LANE_NORMAL] == sh);

	/* a high-water mark far ahead of the counter: not publishable */
	hw = s4 + QS_SEQ_JUMP;
	s1 = early_send(qs, "alice", 9, &pub, &fx, &cp);
	assert_true(s1 == s4 + QS_SEQ_JUMP);
	assert_int_equal(pub, 0);
	assert_int_equal(fx.ef_lane, QS_LANE_HIGH);
	assert_true(cp.cp_prev[QS_LANE_NORMAL] == s4);

	/* a new run (fresh shared memory) jumps past everything stored */
	hw = 0;
	jumped = 0;
	s2 = early_send(qs, "alice", 0, &pub, &fx, &cp);
	assert_true(s2 == s1 + 1 + QS_SEQ_JUMP);
	assert_int_equal(pub, 0);
	assert_true(cp.cp_prev[QS_LANE_HIGH] == s1);
	qs_seq_floor(qs, NULL, NULL);
	s3 = early_send(qs, "alice", 0, &pub, &fx, &cp);
	assert_true(s3 == s2 + 1);
	assert_int_equal(pub, 0);		/* no floor: never */
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fanout, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_fifo, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_lanes, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_refetch_and_ack, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_ack_foreign, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_sub_abort, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_ttl, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_ttl_heads, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_device_delete, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_push_and_touch, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_schema, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_settle, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_ring, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_after, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_early_seqs, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_held_adopt, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_overflow_marker, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_forget_idle, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_migrate3, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_misuse_and_ids, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_multiprocess, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_kill_writer, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_kill_reader, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_after_fork, fix_setup,
		    fix_teardown),
		cmocka_unit_test(test_mapfull),
		cmocka_unit_test(test_mapfull_reclaim),
		cmocka_unit_test_setup_teardown(test_nospace, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_panic_reopen, fix_setup,
		    fix_teardown),
		cmocka_unit_test(test_map_resized),
		cmocka_unit_test_setup_teardown(test_totals_held_drop,
		    fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_backup, fix_setup,
		    fix_teardown),
	};

	int	 failed;

	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return (bench(argc > 2 ? argv[2] : "/var/tmp"));
	/* Once with messages left in the log, once settled after each. */
	failed = cmocka_run_group_tests_name("qstore, log", tests,
	    group_setup, group_teardown);
	settle_mode = 1;
	failed += cmocka_run_group_tests_name("qstore, settled", tests,
	    group_setup, group_teardown);
	return (failed);
}
