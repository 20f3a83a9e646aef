/*
 * test_wsframe.c: unit tests of wsframe.c, the client-frame filter (links
 * wsframe.c alone).  Frames are built here byte by byte as a client
 * would send them (RFC 6455 5.2), in every length form, masked or not,
 * and fed whole, split at every byte, one byte at a time and in place
 * (out = in - WSF_HEAD_MAX, as ws_conn.c calls it).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wsframe.h"

#define T_RATE		100
#define T_BURST		200
#define T_BIG		(70 * 1024)
#define T_NOLIMIT	1000000u

static const uint8_t	t_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/*
 * A client frame into b: fin, rsv (the 3 bits, 0..7), opcode, masked
 * with t_key or not, the payload p (len bytes; NULL: bytes i & 0xff),
 * its length in form 0 (shortest), 2 (16 bits) or 8 (64 bits).  Returns
 * the frame's size.
 */
static size_t
t_frame(uint8_t *b, int fin, int rsv, int op, int masked, const void *p,
    uint64_t len, int form)
{
	const uint8_t	*pp = p;
	size_t		 n = 0, i;

	if (form == 0)
		form = len < 126 ? 1 : len < 65536 ? 2 : 8;
	b[n++] = (uint8_t)((fin ? 0x80 : 0) | rsv << 4 | op);
	b[n] = masked ? 0x80 : 0;
	if (form == 1)
		b[n++] |= (uint8_t)len;
	else {
		b[n++] |= form == 2 ? 126 : 127;
		for (i = (size_t)form; i > 0; i--)
			b[n++] = (uint8_t)(len >> (8 * (i - 1)));
	}
	if (masked) {
		memcpy(b + n, t_key, 4);
		n += 4;
	}
	for (i = 0; i < len; i++)
		b[n + i] = (uint8_t)((pp != NULL ? pp[i] : i & 0xff) ^
		    (masked ? t_key[i % 4] : 0));
	return (n + (size_t)len);
}

/* What feeding a stream gave: the output and the filter's end state. */
struct t_res {
	uint8_t		 out[4 * T_BIG];
	size_t		 outlen;
	size_t		 used;
	struct wsf	 f;
};

static struct t_res	 t_whole, t_split;
static uint8_t		 t_in[4 * T_BIG];
static uint8_t		 t_slab[4 * T_BIG + WSF_HEAD_MAX];

/*
 * Feed in[0..n) to a fresh filter at time 0 in pieces of at most step
 * bytes (the first one cut at split; 0: no cut), each in place in t_slab
 * as ws_conn.c does (out = in - WSF_HEAD_MAX).  Bytes a call leaves
 * (frames_max) are fed again after a wsf_turn.
 */
static void
t_feed(struct t_res *r, const uint8_t *in, size_t n, size_t split,
    size_t step, unsigned frames_max)
{
	size_t	 off = 0, k, used, o;
	int	 stuck = 0;

	wsf_init(&r->f, T_RATE, T_BURST, 0.0);
	r->outlen = r->used = 0;
	while (off < n) {
		k = n - off;
		if (split > off && k > split - off)
			k = split - off;
		if (step > 0 && k > step)
			k = step;
		memcpy(t_slab + WSF_HEAD_MAX, in + off, k);
		o = wsf_filter(&r->f, t_slab + WSF_HEAD_MAX, k, t_slab, &used,
		    frames_max, 0.0);
		assert_true(used <= k);
		assert_true(o <= k + WSF_HEAD_MAX - 1);
		memcpy(r->out + r->outlen, t_slab, o);
		r->outlen += o;
		off += used;
		r->used += used;
		if (used == 0) {
			assert_true(++stuck < 3);
			wsf_turn(&r->f);
		} else
			stuck = 0;
	}
}

/* The two results agree: output, pong owed, error. */
static void
t_same(const struct t_res *a, const struct t_res *b)
{
	assert_int_equal(a->outlen, b->outlen);
	assert_memory_equal(a->out, b->out, a->outlen);
	assert_int_equal(a->used, b->used);
	assert_int_equal(a->f.wf_err, b->f.wf_err);
	assert_int_equal(a->f.wf_pong_owed, b->f.wf_pong_owed);
	assert_int_equal(a->f.wf_ponglen, b->f.wf_ponglen);
	assert_memory_equal(a->f.wf_pong, b->f.wf_pong, a->f.wf_ponglen);
	assert_int_equal(wsf_mid_frame(&a->f), wsf_mid_frame(&b->f));
}

/*
 * Whole, split at every byte and one byte at a time: all the same.  In
 * a long input, every byte of the first and last 2000 only, and every
 * 997th in between (the middle of a long payload).
 */
static void
t_every_split(const uint8_t *in, size_t n)
{
	size_t	 s;

	t_feed(&t_whole, in, n, 0, 0, T_NOLIMIT);
	for (s = 1; s < n; s += s >= 2000 && s + 2000 < n ? 997 : 1) {
		t_feed(&t_split, in, n, s, 0, T_NOLIMIT);
		t_same(&t_whole, &t_split);
	}
	t_feed(&t_split, in, n, 0, 1, T_NOLIMIT);
	t_same(&t_whole, &t_split);
}

/* Data frames in every length form, masked and not, go through whole. */
static void
test_length_forms(void **state)
{
	static const uint64_t	 lens[] = { 0, 1, 125, 126, 127, 65535,
				    65536, T_BIG };
	size_t			 i, n;
	int			 masked;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (masked = 0; masked < 2; masked++) {
			n = t_frame(t_in, 1, 0, 0x2, masked, NULL, lens[i], 0);
			assert_int_equal(n, (lens[i] < 126 ? 2 :
			    lens[i] < 65536 ? 4 : 10) + (masked ? 4 : 0) +
			    lens[i]);
			t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
			assert_int_equal(t_whole.f.wf_err, WSF_OK);
			assert_int_equal(t_whole.outlen, n);
			assert_memory_equal(t_whole.out, t_in, n);
			assert_int_equal(wsf_mid_frame(&t_whole.f), 0);
			/* a prefix leaves the filter inside the frame */
			t_feed(&t_whole, t_in, n - 1, 0, 0, T_NOLIMIT);
			assert_int_equal(wsf_mid_frame(&t_whole.f), 1);
			assert_int_equal(t_whole.f.wf_err, WSF_OK);
		}
}

/* A length not in its shortest form, or with the top bit: 1002. */
static void
test_bad_lengths(void **state)
{
	static const struct {
		uint64_t	 len;
		int		 form;
	} bad[] = { { 0, 2 }, { 125, 2 }, { 0, 8 }, { 65535, 8 },
	    { (uint64_t)1 << 63, 8 }, { UINT64_MAX, 8 } };
	uint8_t		 pre[64];
	size_t		 i, n, p;

	(void)state;
	p = t_frame(pre, 1, 0, 0x1, 1, "hi", 2, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(t_in, pre, p);
		/* the head alone: no payload needed to judge it */
		n = p + t_frame(t_in + p, 1, 0, 0x2, 1, NULL, 0, bad[i].form);
		t_in[p + 1] = (uint8_t)(0x80 | (bad[i].form == 2 ? 126 : 127));
		for (size_t j = 0; j < (size_t)bad[i].form; j++)
			t_in[p + 2 + j] = (uint8_t)(bad[i].len >>
			    (8 * ((size_t)bad[i].form - 1 - j)));
		t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
		assert_int_equal(t_whole.f.wf_err, WSF_BAD_LENGTH);
		/* the frame before the bad head is in the output */
		assert_int_equal(t_whole.outlen, p);
		assert_memory_equal(t_whole.out, pre, p);
		t_every_split(t_in, n);
	}
	assert_int_equal(wsf_close_code(WSF_BAD_LENGTH), 1002);
	assert_string_equal(wsf_strerror(WSF_BAD_LENGTH), "bad frame length");
	/* the shortest forms at their edges are fine */
	n = t_frame(t_in, 1, 0, 0x2, 1, NULL, 126, 2);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.f.wf_err, WSF_OK);
	n = t_frame(t_in, 1, 0, 0x2, 1, NULL, 65536, 8);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.f.wf_err, WSF_OK);
}

/* Masked pings and pongs are ours; the latest ping's payload is owed. */
static void
test_ping_pong(void **state)
{
	uint8_t		 pay[WSF_CTL_MAX];
	size_t		 n = 0, d;

	(void)state;
	memset(pay, 'p', sizeof(pay));
	n += t_frame(t_in + n, 1, 0, WSF_PING, 1, "first", 5, 0);
	d = n;
	n += t_frame(t_in + n, 1, 0, 0x1, 1, "data", 4, 0);
	d = n - d;
	n += t_frame(t_in + n, 1, 0, WSF_PONG, 1, "pong", 4, 0);
	n += t_frame(t_in + n, 1, 0, WSF_PING, 1, pay, WSF_CTL_MAX, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.f.wf_err, WSF_OK);
	/* only the text frame reaches wslay, untouched */
	assert_int_equal(t_whole.outlen, d);
	assert_int_equal(t_whole.out[0], 0x81);
	assert_int_equal(t_whole.f.wf_pong_owed, 1);
	assert_int_equal(t_whole.f.wf_ponglen, WSF_CTL_MAX);
	assert_memory_equal(t_whole.f.wf_pong, pay, WSF_CTL_MAX);
	t_every_split(t_in, n);

	/* an empty ping owes an empty pong; a pong owes nothing */
	n = t_frame(t_in, 1, 0, WSF_PING, 1, "", 0, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.outlen, 0);
	assert_int_equal(t_whole.f.wf_pong_owed, 1);
	assert_int_equal(t_whole.f.wf_ponglen, 0);
	n = t_frame(t_in, 1, 0, WSF_PONG, 1, "x", 1, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.outlen, 0);
	assert_int_equal(t_whole.f.wf_pong_owed, 0);
}

/* Pings wslay must refuse itself (no mask, an RSV bit) go to wslay. */
static void
test_ping_for_wslay(void **state)
{
	size_t		 n;

	(void)state;
	n = t_frame(t_in, 1, 0, WSF_PING, 0, "hi", 2, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.outlen, n);
	assert_int_equal(t_whole.f.wf_pong_owed, 0);
	n = t_frame(t_in, 1, 4, WSF_PING, 1, "hi", 2, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.outlen, n);
	assert_memory_equal(t_whole.out, t_in, n);
	assert_int_equal(t_whole.f.wf_pong_owed, 0);
	/* a close frame is wslay's too */
	n = t_frame(t_in, 1, 0, 0x8, 1, "\x03\xe8", 2, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.outlen, n);
	assert_int_equal(t_whole.f.wf_err, WSF_OK);
}

/* Control frames: over WSF_CTL_MAX or FIN=0 is a 1002, whatever op. */
static void
test_control_rules(void **state)
{
	static const int	 ops[] = { 0x8, WSF_PING, WSF_PONG, 0xb, 0xf };
	size_t			 i, n;

	(void)state;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = t_frame(t_in, 1, 0, ops[i], 1, NULL, WSF_CTL_MAX + 1, 0);
		t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
		assert_int_equal(t_whole.f.wf_err, WSF_CTL_TOO_LONG);
		assert_int_equal(t_whole.outlen, 0);
		assert_int_equal(t_whole.used, n);
		t_every_split(t_in, n);
		n = t_frame(t_in, 0, 0, ops[i], 1, "x", 1, 0);
		t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
		assert_int_equal(t_whole.f.wf_err, WSF_CTL_FRAGMENTED);
		/* too long wins over FIN=0 */
		n = t_frame(t_in, 0, 0, ops[i], 0, NULL, 300, 0);
		t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
		assert_int_equal(t_whole.f.wf_err, WSF_CTL_TOO_LONG);
	}
	/* a data frame may be long and unfinished */
	n = t_frame(t_in, 0, 0, 0x1, 1, NULL, 300, 0);
	n += t_frame(t_in + n, 1, 0, 0x0, 1, NULL, 300, 0);
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	assert_int_equal(t_whole.f.wf_err, WSF_OK);
	assert_int_equal(t_whole.outlen, n);
	assert_int_equal(wsf_close_code(WSF_CTL_TOO_LONG), 1002);
	assert_int_equal(wsf_close_code(WSF_CTL_FRAGMENTED), 1002);
	assert_string_equal(wsf_strerror(WSF_CTL_TOO_LONG),
	    "control frame too long");
	assert_string_equal(wsf_strerror(WSF_CTL_FRAGMENTED),
	    "fragmented control frame");
}

/* After an error every byte is taken and none is given. */
static void
test_error_sticky(void **state)
{
	struct wsf	 f;
	uint8_t		 out[64];
	size_t		 n, used;

	(void)state;
	wsf_init(&f, T_RATE, T_BURST, 0.0);
	n = t_frame(t_in, 0, 0, WSF_PING, 1, "x", 1, 0);
	assert_int_equal(wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT,
	    0.0), 0);
	assert_int_equal(used, n);
	assert_int_equal(f.wf_err, WSF_CTL_FRAGMENTED);
	n = t_frame(t_in, 1, 0, 0x1, 1, "ok", 2, 0);
	assert_int_equal(wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT,
	    0.0), 0);
	assert_int_equal(used, n);
	assert_int_equal(f.wf_err, WSF_CTL_FRAGMENTED);
}

/* A mixed stream: every split gives the same output and pong. */
static void
test_split_everywhere(void **state)
{
	size_t		 n = 0;

	(void)state;
	n += t_frame(t_in + n, 0, 0, 0x1, 1, "frag", 4, 0);
	n += t_frame(t_in + n, 1, 0, WSF_PING, 1, "mid", 3, 0);
	n += t_frame(t_in + n, 1, 0, 0x0, 1, "ment", 4, 0);
	n += t_frame(t_in + n, 1, 0, 0x2, 1, NULL, 300, 0);
	n += t_frame(t_in + n, 1, 0, WSF_PONG, 1, "", 0, 0);
	n += t_frame(t_in + n, 1, 0, WSF_PING, 0, "raw", 3, 0);
	n += t_frame(t_in + n, 1, 0, WSF_PING, 1, "last", 4, 0);
	n += t_frame(t_in + n, 1, 0, 0x2, 0, NULL, 70000, 0);
	n += t_frame(t_in + n, 1, 0, 0x8, 1, "\x03\xe8", 2, 0);
	t_every_split(t_in, n);
	assert_int_equal(t_whole.f.wf_err, WSF_OK);
	assert_int_equal(t_whole.f.wf_pong_owed, 1);
	assert_int_equal(t_whole.f.wf_ponglen, 4);
	assert_memory_equal(t_whole.f.wf_pong, "last", 4);
	/* two masked pings and an empty pong were taken out: 9 + 10 + 6 */
	assert_int_equal(t_whole.outlen, n - (2 + 4 + 3) - (2 + 4 + 4) -
	    (2 + 4));
	/* and with an error at the end the output before it is the same */
	n += t_frame(t_in + n, 1, 0, WSF_PING, 1, NULL, 126, 0);
	t_every_split(t_in, n);
	assert_int_equal(t_whole.f.wf_err, WSF_CTL_TOO_LONG);
}

/* frames_max heads a turn: the filter stops before the next head. */
static void
test_frames_max(void **state)
{
	struct wsf	 f;
	size_t		 n = 0, a, used, o;

	(void)state;
	n += t_frame(t_in + n, 1, 0, 0x1, 1, "one", 3, 0);
	n += t_frame(t_in + n, 1, 0, WSF_PING, 1, "two", 3, 0);
	a = n;
	n += t_frame(t_in + n, 1, 0, 0x1, 1, "three", 5, 0);
	memcpy(t_slab + WSF_HEAD_MAX, t_in, n);
	wsf_init(&f, T_RATE, T_BURST, 0.0);
	o = wsf_filter(&f, t_slab + WSF_HEAD_MAX, n, t_slab, &used, 2, 0.0);
	assert_int_equal(used, a);
	assert_int_equal(o, 2 + 4 + 3);
	assert_int_equal(wsf_mid_frame(&f), 0);
	/* the same turn takes nothing more; the next one the rest */
	o = wsf_filter(&f, t_in + a, n - a, t_slab, &used, 2, 0.0);
	assert_int_equal(used, 0);
	assert_int_equal(o, 0);
	wsf_turn(&f);
	o = wsf_filter(&f, t_in + a, n - a, t_slab, &used, 2, 0.0);
	assert_int_equal(used, n - a);
	assert_int_equal(o, n - a);
	/* and frames_max does not change the result, only the turns */
	t_feed(&t_whole, t_in, n, 0, 0, T_NOLIMIT);
	t_feed(&t_split, t_in, n, 0, 0, 1);
	t_same(&t_whole, &t_split);
}

/* The control-frame bucket: burst at once, then rate a second. */
static void
test_rate_bucket(void **state)
{
	struct wsf	 f;
	uint8_t		 out[64];
	size_t		 n, used;
	int		 i;

	(void)state;
	n = t_frame(t_in, 1, 0, WSF_PONG, 1, "", 0, 0);
	wsf_init(&f, T_RATE, T_BURST, 10.0);
	for (i = 0; i < T_BURST; i++) {
		(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT, 10.0);
		assert_int_equal(f.wf_err, WSF_OK);
	}
	/* 0.05 s later: 5 more (100 a second), the 6th is refused */
	for (i = 0; i < 5; i++) {
		(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT, 10.05);
		assert_int_equal(f.wf_err, WSF_OK);
	}
	(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT, 10.05);
	assert_int_equal(f.wf_err, WSF_CTL_RATE);
	assert_int_equal(wsf_close_code(WSF_CTL_RATE), 1008);
	assert_string_equal(wsf_strerror(WSF_CTL_RATE),
	    "too many control frames");

	/* a long pause refills no more than the burst; data frames are
	 * free, close frames are charged */
	wsf_init(&f, T_RATE, T_BURST, 0.0);
	for (i = 0; i < T_BURST; i++)
		(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT, 0.0);
	assert_int_equal(f.wf_err, WSF_OK);
	for (i = 0; i < 2 * T_BURST; i++)
		(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT,
		    1000.0 + i / (double)T_RATE);
	assert_int_equal(f.wf_err, WSF_OK);
	n = t_frame(t_in, 1, 0, 0x1, 1, "d", 1, 0);
	for (i = 0; i < 1000; i++)
		(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT, 1004.0);
	assert_int_equal(f.wf_err, WSF_OK);
	n = t_frame(t_in, 1, 0, 0x8, 1, "", 0, 0);
	for (i = 0; i < T_BURST + 1 && f.wf_err == WSF_OK; i++)
		(void)wsf_filter(&f, t_in, n, out, &used, T_NOLIMIT, 1004.0);
	assert_int_equal(f.wf_err, WSF_CTL_RATE);
	assert_true(i >= T_BURST && i <= T_BURST + 1);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_length_forms),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_ping_for_wslay),
		cmocka_unit_test(test_control_rules),
		cmocka_unit_test(test_error_sticky),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_frames_max),
		cmocka_unit_test(test_rate_bucket),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
