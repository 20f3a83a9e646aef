/*
 * test_msgrecv.c: unit tests of src/msgrecv.c (a device receiving:
 * acks, admission, last-seen time), with the real group commit
 * (commit.c) on a real LMDB store and libev loop.
 *
 * Covered: the ack rules both workers share (messageIds required, an
 * array of at most MR_ACK_MAX strings; a non-string element refuses the
 * whole ack; ids too long to be ours or holding \u0000 skipped; the
 * refusal texts need no JSON escaping), an ack applied through the
 * commit deleting only from its own device's queue and counted on the
 * counter of its path, an admission that makes a device known and
 * adopts what is held for its user, and a deferred last-seen op.
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
#include "config.h"
#include "json.h"
#include "msgrecv.h"
#include "qstore.h"
#include "routingd.h"
#include "shm.h"

#define NTOK		4096

static char	root[64];		/* /tmp/test_msgrecv.XXXXXX */
static int	ndirs;
static jsmntok_t toks[NTOK];

struct fix {
	struct qstore	*qs;
	struct ev_loop	*loop;
	struct shm	*sh;
	struct commit	*cm;
	struct config	*cfg;
	char		 dir[128];
};

/* An op around a struct mr_ack or mr_admit, recording its end. */
struct tack {
	struct mr_ack	 ack;		/* first: op == struct */
	int		 done;
	int		 result;
};

struct tadmit {
	struct mr_admit	 ad;		/* first: op == struct */
	int		 done;
	int		 result;
};

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
	(void)strcpy(root, "/tmp/test_msgrecv.XXXXXX");
	return (mkdtemp(root) == NULL ? -1 : 0);
}

static int
group_teardown(void **state)
{
	return (nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS));
}

static int
fix_setup(void **state)
{
	struct fix	*f;
	const char	*err = NULL;
	int		 n;

	assert_non_null(f = calloc(1, sizeof(*f)));
	n = snprintf(f->dir, sizeof(f->dir), "%s/s%d", root, ++ndirs);
	assert_true(n > 0 && (size_t)n < sizeof(f->dir));
	if ((f->qs = qs_open(f->dir, 0, &err)) == NULL)
		fail_msg("qs_open: %s", err);
	assert_non_null(f->loop = ev_loop_new(EVFLAG_AUTO));
	assert_non_null(f->sh = calloc(1, sizeof(*f->sh)));
	assert_non_null(f->cm = commit_new(f->loop, f->qs, f->sh, NULL));
	assert_non_null(f->cfg = config_new(1));
	*state = f;
	return (0);
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;

	commit_free(f->cm);
	ev_loop_destroy(f->loop);
	qs_close(f->qs);
	config_free(f->cfg);
	free(f->sh);
	free(f);
	return (0);
}

/* Parse text into doc (tokens in toks). */
static void
parse(struct json_doc *doc, const char *text)
{
	const char	*err = NULL;

	if (json_parse(doc, text, strlen(text), toks, NTOK, 0, &err) < 0)
		fail_msg("json_parse %s: %s", text, err);
}

/* mr_ack_parse on text for u/d; its result, *a filled. */
static int
ack_parse(struct mr_ack *a, const char *text, const char **err)
{
	struct json_doc	 doc;

	parse(&doc, text);
	*err = NULL;
	return (mr_ack_parse(a, &doc, 0, "u", "d", err));
}

/* {"messageIds":[n ids]}, malloc'd; each id is id. */
static char *
ids_json(size_t n, const char *id)
{
	char	*s, *p;
	size_t	 i, cap = 32 + n * (strlen(id) + 3);

	assert_non_null(s = malloc(cap));
	p = s + sprintf(s, "{\"messageIds\":[");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"%s\"", i > 0 ? "," : "", id);
	(void)strcpy(p, "]}");
	return (s);
}

static void
refused(const char *text, const char *want)
{
	struct mr_ack	 a;
	const char	*err;

	assert_int_equal(ack_parse(&a, text, &err), MR_INVALID);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_null(strpbrk(err, "\"\\"));	/* no JSON escaping needed */
	assert_null(a.ma_ptrs);
	assert_null(a.ma_ids);
}

static void
tack_done(struct commit_op *op, int result)
{
	struct tack	*t = (struct tack *)op;

	t->done++;
	t->result = result;
}

static void
tadmit_done(struct commit_op *op, int result)
{
	struct tadmit	*t = (struct tadmit *)op;

	t->done++;
	t->result = result;
}

/* One batch of qs_ calls straight on the store. */
static void
touch(struct fix *f, const char *user, const char *dev)
{
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_touch(f->qs, user, dev, util_real_ms(),
	    QS_TOUCH_INTERVAL_MS), QS_OK);
	assert_int_equal(qs_batch_commit(f->qs), QS_OK);
}

static void
send1(struct fix *f, const char *user, char *id)
{
	assert_int_equal(qs_batch_begin(f->qs), QS_OK);
	assert_int_equal(qs_enqueue(f->qs, user, "x", 1, 0, util_real_ms(),
	    0, 0, id), QS_OK);
	assert_int_equal(qs_batch_commit(f->qs), QS_OK);
}

static uint32_t
depth(struct fix *f, const char *user, const char *dev)
{
	uint32_t	 n = 0;

	assert_int_equal(qs_depth(f->qs, user, dev, &n, NULL), QS_OK);
	return (n);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void
test_ack_parse_rules(void **state)
{
	static const char	*shape =
	    "messageIds must be an array of at most 1000 ids";
	static const char	*strings = "messageIds must hold strings";
	struct mr_ack		 a;
	const char		*err;
	char			*s;

	assert_int_equal(ack_parse(&a,
	    "{\"messageIds\":[\"n1\",\"n2\"],\"other\":1}", &err), MR_OK);
	assert_int_equal(a.ma_size, 2);
	assert_int_equal(a.ma_n, 2);
	assert_string_equal(a.ma_ptrs[0], "n1");
	assert_string_equal(a.ma_ptrs[1], "n2");
	assert_string_equal(a.ma_user, "u");
	assert_string_equal(a.ma_device, "d");
	assert_int_equal(a.ma_op.o_single, 1);
	assert_non_null(a.ma_op.o_apply);
	mr_ack_clear(&a);

	assert_int_equal(ack_parse(&a, "{\"messageIds\":[]}", &err), MR_OK);
	assert_int_equal(a.ma_n, 0);
	mr_ack_clear(&a);

	refused("{}", shape);
	refused("{\"ids\":[]}", shape);
	refused("{\"messageIds\":\"n1\"}", shape);
	refused("{\"messageIds\":{}}", shape);
	refused("{\"messageIds\":null}", shape);
	refused("[\"n1\"]", shape);		/* not an object */
	refused("{\"messageIds\":[1]}", strings);
	refused("{\"messageIds\":[\"n1\",null]}", strings);
	refused("{\"messageIds\":[\"n1\",[\"n2\"]]}", strings);
	refused("{\"messageIds\":[{\"id\":\"n1\"}]}", strings);

	s = ids_json(MR_ACK_MAX, "n1");
	assert_int_equal(ack_parse(&a, s, &err), MR_OK);
	assert_int_equal(a.ma_n, MR_ACK_MAX);
	mr_ack_clear(&a);
	free(s);
	s = ids_json(MR_ACK_MAX + 1, "n1");
	refused(s, shape);
	free(s);
}

/* Ids that cannot be ours are skipped, not refused. */
static void
test_ack_parse_skips(void **state)
{
	struct mr_ack	 a;
	const char	*err;
	char		 text[256];

	(void)snprintf(text, sizeof(text), "{\"messageIds\":[\"n1\",\"%0*d\","
	    "\"a\\u0000b\",\"n2\"]}", QS_MSGID_SIZE, 7);
	assert_int_equal(ack_parse(&a, text, &err), MR_OK);
	assert_int_equal(a.ma_size, 4);
	assert_int_equal(a.ma_n, 2);
	assert_string_equal(a.ma_ptrs[0], "n1");
	assert_string_equal(a.ma_ptrs[1], "n2");
	mr_ack_clear(&a);
	mr_ack_clear(&a);		/* twice is harmless */
}

/* An ack through the commit deletes from its own device only and is
 * counted on its path's counter. */
static void
test_ack_apply(void **state)
{
	struct fix	*f = *state;
	struct json_doc	 doc;
	struct tack	*t;
	const char	*err;
	char		 id1[QS_MSGID_SIZE], id2[QS_MSGID_SIZE], text[256];
	int		 via;

	touch(f, "u", "d");
	touch(f, "u", "other");
	send1(f, "u", id1);
	send1(f, "u", id2);
	assert_int_equal(depth(f, "u", "d"), 2);
	for (via = MR_VIA_API; via <= MR_VIA_WS; via++) {
		(void)snprintf(text, sizeof(text),
		    "{\"messageIds\":[\"%s\",\"n999\"]}",
		    via == MR_VIA_API ? id1 : id2);
		parse(&doc, text);
		assert_non_null(t = calloc(1, sizeof(*t)));
		assert_int_equal(mr_ack_parse(&t->ack, &doc, 0, "u", "d",
		    &err), MR_OK);
		t->ack.ma_op.o_done = tack_done;
		commit_submit(f->cm, &t->ack.ma_op);
		ev_run(f->loop, EVRUN_NOWAIT);
		assert_int_equal(t->done, 1);
		assert_int_equal(t->result, QS_OK);
		assert_int_equal(t->ack.ma_deleted, 1);
		mr_ack_count(&t->ack, f->sh, via);
		mr_ack_clear(&t->ack);
		free(t);
	}
	assert_int_equal(depth(f, "u", "d"), 0);
	assert_int_equal(depth(f, "u", "other"), 2);
	assert_int_equal(f->sh->sh_api.sa_acked, 1);
	assert_int_equal(f->sh->sh_ws.sw_acked, 1);
}

/* An admission makes the device known; it adopts the held message. */
static void
test_admit(void **state)
{
	struct fix		*f = *state;
	struct tadmit		*t;
	struct qs_cursor	 cur;
	char			 id[QS_MSGID_SIZE];

	send1(f, "h", id);			/* held: no device yet */
	qs_cursor_init(&cur);
	assert_int_equal(qs_fetch_after(f->qs, "h", "d1", &cur, 0,
	    util_real_ms(), NULL, NULL, NULL, NULL), QS_NOTFOUND);
	assert_non_null(t = calloc(1, sizeof(*t)));
	mr_admit_init(&t->ad, f->cfg, "h", "d1");
	assert_int_equal(t->ad.md_op.o_single, 1);
	t->ad.md_op.o_done = tadmit_done;
	commit_submit(f->cm, &t->ad.md_op);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(t->done, 1);
	assert_int_equal(t->result, QS_OK);
	assert_int_equal(t->ad.md_adopted, 1);
	mr_admit_count(&t->ad, f->sh);
	assert_int_equal(f->sh->sh_api.sa_adopted, 1);
	assert_int_equal(depth(f, "h", "d1"), 1);
	free(t);
}

/* A last-seen op is deferred, then records the time; for a device
 * deleted meanwhile it writes nothing (and frees itself either way). */
static void
test_seen(void **state)
{
	struct fix		*f = *state;
	struct qs_cursor	 cur;
	uint64_t		 before;
	int			 i;

	touch(f, "s", "d");
	qs_cursor_init(&cur);
	assert_int_equal(qs_fetch_after(f->qs, "s", "d", &cur, 0,
	    util_real_ms(), NULL, NULL, NULL, NULL), QS_OK);
	before = cur.qc_seen_ms;
	usleep(5000);
	assert_int_equal(mr_seen_submit(f->cm, "s", "d"), 0);
	assert_int_equal(mr_seen_submit(f->cm, "s", "unknown"), 0);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(commit_pending(f->cm), 2);	/* deferred */
	for (i = 0; i < 100 && commit_pending(f->cm) > 0; i++)
		ev_run(f->loop, EVRUN_ONCE);
	assert_int_equal(commit_pending(f->cm), 0);
	qs_cursor_init(&cur);
	assert_int_equal(qs_fetch_after(f->qs, "s", "d", &cur, 0,
	    util_real_ms(), NULL, NULL, NULL, NULL), QS_OK);
	assert_true(cur.qc_seen_ms > before);
	qs_cursor_init(&cur);
	assert_int_equal(qs_fetch_after(f->qs, "s", "unknown", &cur, 0,
	    util_real_ms(), NULL, NULL, NULL, NULL), QS_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_parse_rules),
		cmocka_unit_test(test_ack_parse_skips),
		cmocka_unit_test_setup_teardown(test_ack_apply, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_admit, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_seen, fix_setup,
		    fix_teardown),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
