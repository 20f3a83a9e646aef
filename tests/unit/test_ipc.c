/*
 * test_ipc.c: unit tests for ipc.c (framing, strict decode, type names,
 * send/recv over a real SOCK_SEQPACKET socketpair, a received status or
 * user reply made safe).  Links ipc.c only.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc.h"

/* Every type with the size of the payload used to exercise it. */
struct test_ipc_case {
	uint32_t	 type;
	size_t		 len;
};

static const struct test_ipc_case test_ipc_cases[] = {
	{ IPC_CTL_STATUS, 0 },
	{ IPC_CTL_WORKERS, 0 },
	{ IPC_CTL_RELOAD, 0 },
	{ IPC_CTL_STOP, 0 },
	{ IPC_CTL_OK, sizeof(struct ipc_text) },
	{ IPC_CTL_FAIL, sizeof(struct ipc_text) },
	{ IPC_CTL_STATUS_REPLY, sizeof(struct ipc_status) },
	{ IPC_CTL_WORKERS_REPLY, sizeof(struct ipc_workers) },
	{ IPC_CTL_USER, sizeof(struct ipc_user_req) },
	{ IPC_CTL_PURGE, sizeof(struct ipc_user_req) },
	{ IPC_CTL_BACKUP, sizeof(struct ipc_path) },
	{ IPC_CTL_STORE, 0 },
	{ IPC_CTL_USER_REPLY, sizeof(struct ipc_user_info) },
	{ IPC_CTL_PURGE_REPLY, sizeof(struct ipc_purge) },
	{ IPC_CTL_BACKUP_REPLY, sizeof(struct ipc_backup) },
	{ IPC_CTL_STORE_REPLY, sizeof(struct ipc_store) },
	{ IPC_PROC_READY, sizeof(struct ipc_ready) },
	{ IPC_CTL_DRAIN, 0 },
	{ IPC_CTL_UNDRAIN, 0 },
	{ IPC_CTL_RELOAD_REPLY, sizeof(struct ipc_reload) },
	{ IPC_PROC_CONFIG, 1234 },
	{ IPC_PROC_RETIRE, sizeof(struct ipc_retire) },
	{ IPC_CTL_STATS, 0 },
};
#define TEST_IPC_NCASES	(sizeof(test_ipc_cases) / sizeof(test_ipc_cases[0]))

static unsigned char	 test_buf[IPC_MAX_MSG + 64];
static unsigned char	 test_payload[IPC_MAX_PAYLOAD + 64];

static void	 test_ipc_fill(size_t);
static size_t	 test_ipc_workers_msg(uint32_t, size_t);
static void	 test_ipc_pair(int[2]);

/* A recognisable payload; a WORKERS_REPLY body stays consistent (n 0). */
static void
test_ipc_fill(size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		test_payload[i] = (unsigned char)(i * 7 + 1);
}

/* Encode a WORKERS_REPLY that claims n entries and carries nw of them. */
static size_t
test_ipc_workers_msg(uint32_t n, size_t nw)
{
	struct ipc_workers	 iw;
	size_t			 len;
	ssize_t			 r;

	memset(test_payload, 0, sizeof(test_payload));
	memset(&iw, 0, sizeof(iw));
	iw.iw_n = n;
	memcpy(test_payload, &iw, sizeof(iw));
	len = sizeof(iw) + nw * sizeof(struct ipc_worker);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_WORKERS_REPLY,
	    IPC_VERSION, test_payload, len);
	assert_int_equal(r, sizeof(struct ipc_hdr) + len);
	return ((size_t)r);
}

static void
test_ipc_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

static void
test_ipc_roundtrip_all(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 r;
	size_t		 i, len;

	for (i = 0; i < TEST_IPC_NCASES; i++) {
		len = test_ipc_cases[i].len;
		test_ipc_fill(len);
		if (test_ipc_cases[i].type == IPC_CTL_WORKERS_REPLY)
			memset(test_payload, 0, len);	/* n = 0 */
		r = ipc_encode(test_buf, sizeof(test_buf),
		    test_ipc_cases[i].type, 42, test_payload, len);
		assert_int_equal(r, sizeof(struct ipc_hdr) + len);
		assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr,
		    &payload), IPC_OK);
		assert_int_equal(hdr.ih_type, test_ipc_cases[i].type);
		assert_int_equal(hdr.ih_len, len);
		assert_int_equal(hdr.ih_peerid, 42);
		assert_int_equal(hdr.ih_pid, (uint32_t)getpid());
		assert_ptr_equal(payload, test_buf + sizeof(struct ipc_hdr));
		if (len > 0)
			assert_memory_equal(payload, test_payload, len);
	}
}

/* An early record of n copies (user, device, env, lane per copy) into
 * buf claiming n_claimed; its length. */
static size_t
test_early(unsigned char *buf, uint32_t n_claimed, uint32_t n, int lane)
{
	struct ipc_early	 ie;
	struct ipc_early_copy	 ec;
	size_t			 off = sizeof(ie);
	uint32_t		 i;

	memset(&ie, 0, sizeof(ie));
	ie.ie_n = n_claimed;
	memcpy(buf, &ie, sizeof(ie));
	for (i = 0; i < n; i++) {
		memset(&ec, 0, sizeof(ec));
		ec.ec_seq = 100 + i;
		ec.ec_prev[0] = 7;
		ec.ec_prev[1] = 99 + i;
		ec.ec_dropped = i;
		ec.ec_lane = (uint8_t)lane;
		ec.ec_ulen = 5;
		ec.ec_dlen = 3;
		ec.ec_envlen = 2;
		memcpy(buf + off, &ec, sizeof(ec));
		memcpy(buf + off + sizeof(ec), "alicepc1{}", 10);
		off += sizeof(ec) + 10;
	}
	return (off);
}

static void
test_ipc_early(void **state)
{
	unsigned char		 pl[512];
	struct ipc_early_copy	 ec;
	struct ipc_hdr		 hdr;
	const void		*payload;
	const char		*env;
	char			 user[16], device[16];
	size_t			 len, off;
	ssize_t			 n;
	uint32_t		 i;

	len = test_early(pl, 2, 2, 1);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_EARLY, IPC_VERSION,
	    pl, len);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_OK);
	off = sizeof(struct ipc_early);
	for (i = 0; i < 2; i++) {
		assert_int_equal(ipc_early_next(payload, len, &off, &ec, user,
		    device, sizeof(user), &env), 1);
		assert_string_equal(user, "alice");
		assert_string_equal(device, "pc1");
		assert_int_equal(ec.ec_seq, 100 + i);
		assert_int_equal(ec.ec_prev[1], 99 + i);
		assert_int_equal(ec.ec_dropped, i);
		assert_int_equal(ec.ec_envlen, 2);
		assert_memory_equal(env, "{}", 2);
	}
	assert_int_equal(ipc_early_next(payload, len, &off, &ec, user, device,
	    sizeof(user), &env), 0);
	/* a count that disagrees, a cut copy, a bad lane: rejected */
	len = test_early(pl, 3, 2, 1);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_EARLY, IPC_VERSION,
	    pl, len);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	len = test_early(pl, 2, 2, 1);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_EARLY, IPC_VERSION,
	    pl, len - 1);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	len = test_early(pl, 1, 1, 2);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_EARLY, IPC_VERSION,
	    pl, len);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	/* shorter than its header; a user longer than the caller's buffer */
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_EARLY, IPC_VERSION,
	    pl, 4);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	len = test_early(pl, 1, 1, 0);
	off = sizeof(struct ipc_early);
	assert_int_equal(ipc_early_next(pl, len, &off, &ec, user, device, 4,
	    &env), -1);
}

/* The new sizes are enforced; a config text of any length is taken. */
static void
test_ipc_drain_reload(void **state)
{
	struct ipc_hdr		 hdr;
	struct ipc_reload	 rep;
	const void		*payload;
	ssize_t			 r;

	r = ipc_encode(test_buf, sizeof(test_buf), IPC_PROC_RETIRE, 0,
	    test_payload, sizeof(struct ipc_retire) - 1);
	assert_true(r > 0);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_BADSIZE);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_DRAIN, 0,
	    test_payload, 1);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_BADSIZE);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_PROC_CONFIG, 0,
	    test_payload, 0);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_OK);
	memset(&rep, 'x', sizeof(rep));
	ipc_reload_fix(&rep);
	assert_int_equal(strlen(rep.ir_text), sizeof(rep.ir_text) - 1);
	assert_int_equal(strlen(rep.ir_restart), sizeof(rep.ir_restart) - 1);
	assert_string_equal(ipc_type_str(IPC_CTL_DRAIN), "IPC_CTL_DRAIN");
	assert_string_equal(ipc_type_str(IPC_PROC_RETIRE), "IPC_PROC_RETIRE");
}

static void
test_ipc_roundtrip_workers(void **state)
{
	struct ipc_hdr		 hdr;
	struct ipc_workers	 iw;
	struct ipc_worker	 w;
	const void		*payload;
	size_t			 n;

	n = test_ipc_workers_msg(3, 3);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload), IPC_OK);
	memcpy(&iw, payload, sizeof(iw));
	assert_int_equal(iw.iw_n, 3);
	n = test_ipc_workers_msg(IPC_MAX_WORKERS, IPC_MAX_WORKERS);
	assert_true(n <= IPC_MAX_MSG);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload), IPC_OK);
	memcpy(&w, (const unsigned char *)payload + sizeof(iw) +
	    (IPC_MAX_WORKERS - 1) * sizeof(w), sizeof(w));
	assert_int_equal(w.iw_pid, 0);
}

/* Build a doorbell payload for users into buf; its length. */
static size_t
test_doorbell(unsigned char *buf, uint32_t n_claimed, const char *const *u,
    size_t nu)
{
	struct ipc_doorbell	 db;
	size_t			 off = sizeof(db), i, l;

	memset(&db, 0, sizeof(db));
	db.id_commit_us = 12345;
	db.id_n = n_claimed;
	memcpy(buf, &db, sizeof(db));
	for (i = 0; i < nu; i++) {
		l = strlen(u[i]);
		buf[off] = (unsigned char)l;
		memcpy(buf + off + 1, u[i], l);
		off += 1 + l;
	}
	return (off);
}

static void
test_ipc_doorbell(void **state)
{
	static const char *const	 users[] = { "alice", "b", "carol-9" };
	unsigned char			 pl[512];
	struct ipc_hdr			 hdr;
	const void			*payload;
	char				 user[16];
	size_t				 len, off;
	ssize_t				 n;
	int				 i;

	len = test_doorbell(pl, 3, users, 3);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_DOORBELL, IPC_VERSION,
	    pl, len);
	assert_true(n > 0);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_OK);
	off = sizeof(struct ipc_doorbell);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ipc_doorbell_next(payload, len, &off, user,
		    sizeof(user)), 1);
		assert_string_equal(user, users[i]);
	}
	assert_int_equal(ipc_doorbell_next(payload, len, &off, user,
	    sizeof(user)), 0);
	/* a count that disagrees, a cut entry, an empty one: rejected */
	len = test_doorbell(pl, 2, users, 3);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_DOORBELL, IPC_VERSION,
	    pl, len);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	len = test_doorbell(pl, 3, users, 3);
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_DOORBELL, IPC_VERSION,
	    pl, len - 1);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	pl[sizeof(struct ipc_doorbell)] = 0;
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_DOORBELL, IPC_VERSION,
	    pl, len);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
	/* a user longer than the caller's buffer */
	len = test_doorbell(pl, 1, users + 2, 1);
	off = sizeof(struct ipc_doorbell);
	assert_int_equal(ipc_doorbell_next(pl, len, &off, user, 4), -1);
	/* shorter than its header */
	n = ipc_encode(test_buf, sizeof(test_buf), IPC_DOORBELL, IPC_VERSION,
	    pl, 4);
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_BADSIZE);
}

static void
test_ipc_truncated(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 r;

	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_OK, IPC_VERSION,
	    test_payload, sizeof(struct ipc_text));
	assert_true(r > 0);
	assert_int_equal(ipc_decode(test_buf, 0, &hdr, &payload),
	    IPC_TRUNCATED);
	assert_int_equal(ipc_decode(test_buf, sizeof(hdr) - 1, &hdr,
	    &payload), IPC_TRUNCATED);
	assert_int_equal(ipc_decode(test_buf, sizeof(hdr), &hdr, &payload),
	    IPC_TRUNCATED);
	assert_int_equal(ipc_decode(test_buf, (size_t)r - 1, &hdr, &payload),
	    IPC_TRUNCATED);
}

static void
test_ipc_oversize(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;

	memset(&hdr, 0, sizeof(hdr));
	hdr.ih_type = IPC_CTL_OK;
	hdr.ih_len = IPC_MAX_PAYLOAD + 1;
	memcpy(test_buf, &hdr, sizeof(hdr));
	assert_int_equal(ipc_decode(test_buf, sizeof(hdr), &hdr, &payload),
	    IPC_OVERSIZE);
	assert_int_equal(ipc_decode(test_buf, sizeof(test_buf), &hdr,
	    &payload), IPC_OVERSIZE);
	hdr.ih_len = UINT32_MAX;
	memcpy(test_buf, &hdr, sizeof(hdr));
	assert_int_equal(ipc_decode(test_buf, sizeof(hdr), &hdr, &payload),
	    IPC_OVERSIZE);
}

static void
test_ipc_trailing(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 r;

	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_STATUS,
	    IPC_VERSION, NULL, 0);
	assert_int_equal(r, sizeof(hdr));
	assert_int_equal(ipc_decode(test_buf, (size_t)r + 1, &hdr, &payload),
	    IPC_TRAILING);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_PROC_READY, 7,
	    test_payload, sizeof(struct ipc_ready));
	assert_int_equal(ipc_decode(test_buf, (size_t)r + 8, &hdr, &payload),
	    IPC_TRAILING);
}

static void
test_ipc_badsize(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 r;

	/* a request that must be empty, carrying 4 bytes */
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_STOP, IPC_VERSION,
	    test_payload, 4);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_BADSIZE);
	/* a fixed struct one byte short and one byte long */
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_STATUS_REPLY,
	    IPC_VERSION, test_payload, sizeof(struct ipc_status) - 1);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_BADSIZE);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_FAIL,
	    IPC_VERSION, test_payload, sizeof(struct ipc_text) + 1);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_BADSIZE);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_OK,
	    IPC_VERSION, NULL, 0);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_BADSIZE);
}

static void
test_ipc_workers_inconsistent(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	size_t		 n;

	n = test_ipc_workers_msg(3, 2);		/* claims more than sent */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = test_ipc_workers_msg(1, 2);		/* claims fewer */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = test_ipc_workers_msg(IPC_MAX_WORKERS + 1, IPC_MAX_WORKERS + 1);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = test_ipc_workers_msg(UINT32_MAX, 0);	/* no overflow */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	/* shorter than struct ipc_workers itself */
	n = (size_t)ipc_encode(test_buf, sizeof(test_buf),
	    IPC_CTL_WORKERS_REPLY, IPC_VERSION, test_payload, 4);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
}

/* Encode a STATS_REPLY part that claims claim bytes and carries n. */
static size_t
test_ipc_stats_msg(uint32_t more, uint32_t claim, size_t n)
{
	struct ipc_stats_part	 sp;
	ssize_t			 r;

	memset(&sp, 0, sizeof(sp));
	sp.sp_more = more;
	sp.sp_len = claim;
	memcpy(test_payload, &sp, sizeof(sp));
	memset(test_payload + sizeof(sp), 'x', n);
	r = ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_STATS_REPLY,
	    IPC_VERSION, test_payload, sizeof(sp) + n);
	assert_true(r > 0);
	return ((size_t)r);
}

static void
test_ipc_roundtrip_stats(void **state)
{
	struct ipc_hdr		 hdr;
	struct ipc_stats_part	 sp;
	const void		*payload;
	size_t			 n;

	n = test_ipc_stats_msg(1, 5, 5);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload), IPC_OK);
	assert_int_equal(hdr.ih_type, IPC_CTL_STATS_REPLY);
	memcpy(&sp, payload, sizeof(sp));
	assert_int_equal(sp.sp_more, 1);
	assert_int_equal(sp.sp_len, 5);
	assert_memory_equal((const char *)payload + sizeof(sp), "xxxxx", 5);
	n = test_ipc_stats_msg(0, 0, 0);		/* an empty last part */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload), IPC_OK);
	n = test_ipc_stats_msg(0, IPC_STATS_CHUNK, IPC_STATS_CHUNK);
	assert_true(n <= IPC_MAX_MSG);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload), IPC_OK);
	n = test_ipc_stats_msg(0, 6, 5);		/* claims more */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = test_ipc_stats_msg(0, 4, 5);		/* claims fewer */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = test_ipc_stats_msg(2, 5, 5);		/* more is 0 or 1 */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = test_ipc_stats_msg(0, UINT32_MAX, 0);	/* no overflow */
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	n = (size_t)ipc_encode(test_buf, sizeof(test_buf),
	    IPC_CTL_STATS_REPLY, IPC_VERSION, test_payload, 4);
	assert_int_equal(ipc_decode(test_buf, n, &hdr, &payload),
	    IPC_BADSIZE);
	assert_string_equal(ipc_type_str(IPC_CTL_STATS), "IPC_CTL_STATS");
	assert_int_equal(IPC_CTL_STATS, 150);
}

static void
test_ipc_unknown(void **state)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 r;

	r = ipc_encode(test_buf, sizeof(test_buf), 999, IPC_VERSION, NULL, 0);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_UNKNOWN);
	r = ipc_encode(test_buf, sizeof(test_buf), 0, IPC_VERSION,
	    test_payload, 16);
	assert_int_equal(ipc_decode(test_buf, (size_t)r, &hdr, &payload),
	    IPC_UNKNOWN);
	assert_int_equal(ipc_payload_size(999), -2);
	assert_int_equal(ipc_payload_size(IPC_CTL_WORKERS_REPLY), -1);
	assert_int_equal(ipc_payload_size(IPC_CTL_STATUS), 0);
	assert_int_equal(ipc_payload_size(IPC_CTL_OK),
	    sizeof(struct ipc_text));
}

static void
test_ipc_encode_small(void **state)
{
	unsigned char	 small[sizeof(struct ipc_hdr) + 8];

	assert_int_equal(ipc_encode(small, sizeof(struct ipc_hdr) - 1,
	    IPC_CTL_STATUS, IPC_VERSION, NULL, 0), -1);
	assert_int_equal(ipc_encode(small, sizeof(small), IPC_CTL_OK,
	    IPC_VERSION, test_payload, sizeof(struct ipc_text)), -1);
	assert_int_equal(ipc_encode(small, sizeof(small), IPC_PROC_READY,
	    IPC_VERSION, test_payload, 9), -1);
	assert_int_equal(ipc_encode(small, sizeof(small), IPC_PROC_READY,
	    IPC_VERSION, test_payload, 8), sizeof(small));
	assert_int_equal(ipc_encode(test_buf, sizeof(test_buf), IPC_CTL_OK,
	    IPC_VERSION, test_payload, IPC_MAX_PAYLOAD + 1), -1);
}

static void
test_ipc_type_str(void **state)
{
	assert_string_equal(ipc_type_str(IPC_CTL_STATUS), "IPC_CTL_STATUS");
	assert_string_equal(ipc_type_str(IPC_CTL_WORKERS_REPLY),
	    "IPC_CTL_WORKERS_REPLY");
	assert_string_equal(ipc_type_str(IPC_PROC_READY), "IPC_PROC_READY");
	assert_string_equal(ipc_type_str(12345), "IPC_UNKNOWN(12345)");
	assert_string_equal(ipc_type_str(UINT32_MAX),
	    "IPC_UNKNOWN(4294967295)");
}

static void
test_ipc_send_recv(void **state)
{
	struct ipc_hdr	 hdr;
	struct ipc_text	 t, got;
	const void	*payload;
	ssize_t		 n;
	int		 sv[2];

	test_ipc_pair(sv);
	memset(&t, 0, sizeof(t));
	(void)snprintf(t.it_text, sizeof(t.it_text), "reloaded");
	assert_int_equal(ipc_send(sv[0], IPC_CTL_OK, IPC_VERSION, &t,
	    sizeof(t), 0), 0);
	assert_int_equal(ipc_send(sv[0], IPC_CTL_STATUS, IPC_VERSION, NULL,
	    0, 1), 0);
	n = ipc_recv(sv[1], test_buf, IPC_MAX_MSG);
	assert_int_equal(n, sizeof(hdr) + sizeof(t));
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_OK);
	assert_int_equal(hdr.ih_type, IPC_CTL_OK);
	memcpy(&got, payload, sizeof(got));
	ipc_strfix(got.it_text);
	assert_string_equal(got.it_text, "reloaded");
	/* records stay separate: the next one is the empty request */
	n = ipc_recv(sv[1], test_buf, IPC_MAX_MSG);
	assert_int_equal(n, sizeof(hdr));
	assert_int_equal(ipc_decode(test_buf, (size_t)n, &hdr, &payload),
	    IPC_OK);
	assert_int_equal(hdr.ih_type, IPC_CTL_STATUS);
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], test_buf, IPC_MAX_MSG), 0);
	close(sv[1]);
}

static void
test_ipc_recv_too_big(void **state)
{
	unsigned char	 small[sizeof(struct ipc_hdr) + 16];
	int		 sv[2];

	test_ipc_pair(sv);
	test_ipc_fill(sizeof(struct ipc_text));
	assert_int_equal(ipc_send(sv[0], IPC_CTL_FAIL, IPC_VERSION,
	    test_payload, sizeof(struct ipc_text), 0), 0);
	errno = 0;
	assert_int_equal(ipc_recv(sv[1], small, sizeof(small)), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* the oversized record is gone, not left half-read */
	assert_int_equal(ipc_send(sv[0], IPC_CTL_STOP, IPC_VERSION, NULL, 0,
	    0), 0);
	assert_int_equal(ipc_recv(sv[1], small, sizeof(small)),
	    sizeof(struct ipc_hdr));
	close(sv[0]);
	close(sv[1]);
}

static void
test_ipc_send_errors(void **state)
{
	int	 sv[2], i, rv = 0;

	test_ipc_pair(sv);
	errno = 0;
	assert_int_equal(ipc_send(sv[0], IPC_CTL_OK, IPC_VERSION,
	    test_payload, IPC_MAX_PAYLOAD + 1, 0), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* a full socket: non-blocking send says EAGAIN, never blocks */
	for (i = 0; i < 100000 && rv == 0; i++)
		rv = ipc_send(sv[0], IPC_CTL_OK, IPC_VERSION, test_payload,
		    sizeof(struct ipc_text), 1);
	assert_int_equal(rv, -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(sv[0]);
	close(sv[1]);
	/* a closed peer: EPIPE and no SIGPIPE (MSG_NOSIGNAL) */
	test_ipc_pair(sv);
	close(sv[1]);
	assert_int_equal(ipc_send(sv[0], IPC_CTL_STATUS, IPC_VERSION, NULL,
	    0, 0), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

/* A status reply from a confused peer: strings unterminated, too many roles. */
static void
test_ipc_status_fix(void **state)
{
	struct ipc_status	 st;
	uint32_t		 i;

	(void)state;
	memset(&st, 'x', sizeof(st));
	st.is_nroles = IPC_MAX_ROLES + 5;
	ipc_status_fix(&st);
	assert_int_equal(st.is_nroles, IPC_MAX_ROLES);
	assert_int_equal(strlen(st.is_version), sizeof(st.is_version) - 1);
	assert_int_equal(strlen(st.is_config), sizeof(st.is_config) - 1);
	assert_int_equal(strlen(st.is_data_dir), sizeof(st.is_data_dir) - 1);
	for (i = 0; i < IPC_MAX_ROLES; i++) {
		assert_int_equal(strlen(st.is_roles[i].rs_name),
		    IPC_ROLE_NAME - 1);
		assert_int_equal(strlen(st.is_roles[i].rs_listen),
		    IPC_LISTEN_LEN - 1);
	}
	st.is_nroles = 2;
	ipc_status_fix(&st);
	assert_int_equal(st.is_nroles, 2);
}

/* A user reply from a confused peer: strings unterminated, counts huge. */
static void
test_ipc_user_info_fix(void **state)
{
	static struct ipc_user_info	 ui;
	uint32_t			 i;

	(void)state;
	memset(&ui, 'x', sizeof(ui));
	ui.ui_n = IPC_MAX_DEVROWS + 1;
	ui.ui_nseats = 1000;
	ipc_user_info_fix(&ui);
	assert_int_equal(ui.ui_n, IPC_MAX_DEVROWS);
	assert_int_equal(ui.ui_nseats, IPC_MAX_SEATS);
	assert_int_equal(strlen(ui.ui_user), IPC_ID_LEN - 1);
	for (i = 0; i < IPC_MAX_DEVROWS; i++) {
		assert_int_equal(strlen(ui.ui_rows[i].dr_device),
		    IPC_ID_LEN - 1);
		assert_int_equal(strlen(ui.ui_rows[i].dr_platform),
		    sizeof(ui.ui_rows[i].dr_platform) - 1);
		assert_int_equal(strlen(ui.ui_rows[i].dr_app_id),
		    sizeof(ui.ui_rows[i].dr_app_id) - 1);
	}
	/* a payload of the wrong size for its type is refused */
	assert_int_equal(ipc_encode(test_buf, sizeof(test_buf),
	    IPC_CTL_PURGE, IPC_VERSION, &ui, sizeof(struct ipc_user_req) - 1),
	    sizeof(struct ipc_hdr) + sizeof(struct ipc_user_req) - 1);
	{
		struct ipc_hdr	 hdr;
		const void	*p;

		assert_int_equal(ipc_decode(test_buf, sizeof(struct ipc_hdr) +
		    sizeof(struct ipc_user_req) - 1, &hdr, &p), IPC_BADSIZE);
	}
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_ipc_roundtrip_all),
		cmocka_unit_test(test_ipc_roundtrip_workers),
		cmocka_unit_test(test_ipc_drain_reload),
		cmocka_unit_test(test_ipc_roundtrip_stats),
		cmocka_unit_test(test_ipc_doorbell),
		cmocka_unit_test(test_ipc_early),
		cmocka_unit_test(test_ipc_truncated),
		cmocka_unit_test(test_ipc_oversize),
		cmocka_unit_test(test_ipc_trailing),
		cmocka_unit_test(test_ipc_badsize),
		cmocka_unit_test(test_ipc_workers_inconsistent),
		cmocka_unit_test(test_ipc_unknown),
		cmocka_unit_test(test_ipc_encode_small),
		cmocka_unit_test(test_ipc_type_str),
		cmocka_unit_test(test_ipc_send_recv),
		cmocka_unit_test(test_ipc_recv_too_big),
		cmocka_unit_test(test_ipc_send_errors),
		cmocka_unit_test(test_ipc_status_fix),
		cmocka_unit_test(test_ipc_user_info_fix),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
