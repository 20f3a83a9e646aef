/*
 * handoff.c: the sending side of the doorbells (see handoff.h), run by
 * the API workers after their commits and by the WS workers after a send
 * over a WebSocket; and the supervisor's socketpairs.
 *
 * Owns one pending IPC_DOORBELL record and one staged IPC_EARLY record
 * per WS seat (each allocated on first use).  Invariants:
 * - A user appears in a seat's record only if the presence table named
 *   that seat (or there is no table); duplicates within a record are
 *   allowed (the receiver coalesces).
 * - Nothing here blocks: sends are MSG_DONTWAIT on non-blocking sockets,
 *   and a refused record is dropped, counted and answered by a resync
 *   flag, never retried.
 * - An early record holds only copies of ops that succeeded in the batch
 *   about to commit (commit.c marks, undoes and resets it), and is sent
 *   only when the batch's ids are publishable; a refused one is dropped
 *   without a resync: the doorbell after the commit still comes.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"
#include "ipc.h"
#include "presence.h"
#include "qstore.h"
#include "shm.h"

/* One seat's record being filled: struct ipc_doorbell, then users. */
struct ho_pending {
	unsigned char	 hp_buf[IPC_MAX_PAYLOAD];
	size_t		 hp_len;
	uint32_t	 hp_n;
};

/* One seat's early record being staged: struct ipc_early, then copies;
 * the mark is where the current op's copies began (ho_early_undo). */
struct ho_early {
	unsigned char	 he_buf[HO_EARLY_MAX];
	size_t		 he_len;
	uint32_t	 he_n;
	size_t		 he_mark_len;
	uint32_t	 he_mark_n;
};

struct handoff {
	struct shm		*h_shm;
	const struct presence	*h_pr;
	int			 h_n;
	int			 h_fd[MAX_WORKERS_PER_ROLE];
	struct ho_pending	*h_pend[MAX_WORKERS_PER_ROLE];
	struct ho_early		*h_early[MAX_WORKERS_PER_ROLE];
	int			 h_early_off;	/* out of memory once */
};

static void	ho_send(struct handoff *, int, uint64_t);

/* ho_socketpairs: see handoff.h. */
int
ho_socketpairs(struct handoff_fds *fds, int n)
{
	int	 i, sv[2], saved;

	if (n < 0 || n > MAX_WORKERS_PER_ROLE) {
		errno = EINVAL;
		return (-1);
	}
	fds->hf_n = 0;
	for (i = 0; i < MAX_WORKERS_PER_ROLE; i++)
		fds->hf_send[i] = fds->hf_recv[i] = -1;
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) == -1)
			goto fail;
		fds->hf_send[i] = sv[0];
		fds->hf_recv[i] = sv[1];
		fds->hf_n = i + 1;
	}
	return (0);
 fail:
	saved = errno;
	for (i = 0; i < fds->hf_n; i++) {
		close(fds->hf_send[i]);
		close(fds->hf_recv[i]);
		fds->hf_send[i] = fds->hf_recv[i] = -1;
	}
	fds->hf_n = 0;
	errno = saved;
	return (-1);
}

/* ho_new: see handoff.h. */
struct handoff *
ho_new(struct shm *sh, const struct presence *pr,
    const struct handoff_fds *fds)
{
	struct handoff	*h;
	int		 i;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->h_shm = sh;
	h->h_pr = pr;
	h->h_n = fds->hf_n;
	for (i = 0; i < h->h_n; i++)
		h->h_fd[i] = fds->hf_send[i];
	return (h);
}

/* ho_free: see handoff.h. */
void
ho_free(struct handoff *h)
{
	int	 i;

	if (h == NULL)
		return;
	for (i = 0; i < h->h_n; i++) {
		free(h->h_pend[i]);
		free(h->h_early[i]);
	}
	free(h);
}

/* Append user to seat i's record, sending it first when full. */
static void
ho_append(struct handoff *h, int i, const char *user, size_t len)
{
	struct ho_pending	*p;

	if ((p = h->h_pend[i]) == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			/* no memory for a record: the sweep catches up */
			atomic_store_explicit(&h->h_shm->sh_ws.sw_resync[i],
			    1, memory_order_relaxed);
			return;
		}
		h->h_pend[i] = p;
	}
	if (p->hp_len == 0)
		p->hp_len = sizeof(struct ipc_doorbell);
	if (p->hp_len + 1 + len > sizeof(p->hp_buf))
		ho_send(h, i, 0);
	if (p->hp_len == 0)
		p->hp_len = sizeof(struct ipc_doorbell);
	p->hp_buf[p->hp_len] = (unsigned char)len;
	memcpy(p->hp_buf + p->hp_len + 1, user, len);
	p->hp_len += 1 + len;
	p->hp_n++;
}

/* ho_ring: see handoff.h. */
void
ho_ring(struct handoff *h, const char *user)
{
	uint64_t	 seats;
	size_t		 len;
	int		 i;

	if (h == NULL || h->h_n == 0)
		return;
	len = strlen(user);
	if (len == 0 || len > 255)
		return;			/* ids are 1..128 bytes */
	seats = h->h_pr != NULL ? pr_lookup_user(h->h_pr, user) : ~0ULL;
	for (i = 0; i < h->h_n; i++)
		if ((seats >> i) & 1)
			ho_append(h, i, user, len);
}

/* ho_ephemeral: see handoff.h. */
int
ho_ephemeral(struct handoff *h, const char *user, const char *id,
    const char *env, size_t len)
{
	struct ipc_ephemeral	 ie;
	unsigned char		*buf;
	uint64_t		 seats;
	size_t			 ulen = strlen(user), idlen = strlen(id), n;
	int			 i, sent = 0;

	if (h == NULL || h->h_n == 0 || ulen == 0 || ulen > 255 ||
	    idlen == 0 || idlen > 255)
		return (0);
	n = sizeof(ie) + ulen + idlen + len;
	seats = h->h_pr != NULL ? pr_lookup_user(h->h_pr, user) : ~0ULL;
	if (seats == 0 || n > IPC_MAX_PAYLOAD || (buf = malloc(n)) == NULL)
		return (0);
	memset(&ie, 0, sizeof(ie));
	ie.ie_commit_us = util_mono_us();
	ie.ie_ulen = (uint8_t)ulen;
	ie.ie_idlen = (uint8_t)idlen;
	ie.ie_envlen = (uint32_t)len;
	memcpy(buf, &ie, sizeof(ie));
	memcpy(buf + sizeof(ie), user, ulen);
	memcpy(buf + sizeof(ie) + ulen, id, idlen);
	memcpy(buf + sizeof(ie) + ulen + idlen, env, len);
	for (i = 0; i < h->h_n; i++)
		if (((seats >> i) & 1) && h->h_fd[i] != -1 &&
		    ipc_send(h->h_fd[i], IPC_EPHEMERAL, IPC_VERSION, buf, n,
		    1) == 0)
			sent++;
	free(buf);
	return (sent);
}

/* Send seat i's pending record (if any) and empty it. */
static void
ho_send(struct handoff *h, int i, uint64_t commit_us)
{
	struct ho_pending	*p = h->h_pend[i];
	struct ipc_doorbell	 db;
	struct shm_ws		*ws = &h->h_shm->sh_ws;

	if (p == NULL || p->hp_n == 0)
		return;
	memset(&db, 0, sizeof(db));
	db.id_commit_us = commit_us;
	db.id_n = p->hp_n;
	memcpy(p->hp_buf, &db, sizeof(db));
	if (h->h_fd[i] != -1 && ipc_send(h->h_fd[i], IPC_DOORBELL,
	    IPC_VERSION, p->hp_buf, p->hp_len, 1) == 0)
		atomic_fetch_add_explicit(&ws->sw_handoff_sent, 1,
		    memory_order_relaxed);
	else {
		atomic_fetch_add_explicit(&ws->sw_handoff_dropped, 1,
		    memory_order_relaxed);
		atomic_store_explicit(&ws->sw_resync[i], 1,
		    memory_order_relaxed);
	}
	p->hp_len = 0;
	p->hp_n = 0;
}

/* ho_flush: see handoff.h. */
void
ho_flush(struct handoff *h, uint64_t commit_us)
{
	int	 i;

	if (h == NULL)
		return;
	for (i = 0; i < h->h_n; i++)
		ho_send(h, i, commit_us);
}

/* ------------------------------------------------------------------ */
/* Early records                                                       */
/* ------------------------------------------------------------------ */

/* Seat i's early record, allocated on first use; NULL when out of
 * memory (early delivery is then off for this process: only latency). */
static struct ho_early *
ho_early_seat(struct handoff *h, int i)
{
	if (h->h_early[i] == NULL && !h->h_early_off &&
	    (h->h_early[i] = calloc(1, sizeof(*h->h_early[i]))) == NULL)
		h->h_early_off = 1;
	return (h->h_early[i]);
}

/* Append one copy to e if it fits (else it is left to the doorbell). */
static void
ho_early_put(struct ho_early *e, const struct ipc_early_copy *ec,
    const char *user, const char *device, const char *env)
{
	size_t	 need = sizeof(*ec) + ec->ec_ulen + ec->ec_dlen + ec->ec_envlen;
	unsigned char	*p;

	if (e->he_len == 0)
		e->he_len = e->he_mark_len = sizeof(struct ipc_early);
	if (need > sizeof(e->he_buf) - e->he_len)
		return;
	p = e->he_buf + e->he_len;
	memcpy(p, ec, sizeof(*ec));
	memcpy(p + sizeof(*ec), user, ec->ec_ulen);
	memcpy(p + sizeof(*ec) + ec->ec_ulen, device, ec->ec_dlen);
	memcpy(p + sizeof(*ec) + ec->ec_ulen + ec->ec_dlen, env,
	    ec->ec_envlen);
	e->he_len += need;
	e->he_n++;
}

/* ho_early_add: see handoff.h. */
void
ho_early_add(struct handoff *h, const char *user, int lane, uint64_t seq,
    const char *env, size_t len, const struct qs_copy *copies, size_t n)
{
	struct ipc_early_copy	 ec;
	struct ho_early		*e;
	uint64_t		 seats;
	size_t			 ulen, dlen, k;
	int			 i;

	if (h == NULL || h->h_n == 0 || n == 0 ||
	    (ulen = strlen(user)) == 0 || ulen > 255 || len > HO_EARLY_MAX)
		return;
	seats = h->h_pr != NULL ? pr_lookup_user(h->h_pr, user) : ~0ULL;
	for (i = 0; i < h->h_n; i++) {
		if (!((seats >> i) & 1) || (e = ho_early_seat(h, i)) == NULL)
			continue;
		for (k = 0; k < n; k++) {
			if ((dlen = strlen(copies[k].cp_device)) > 255)
				continue;
			memset(&ec, 0, sizeof(ec));
			ec.ec_seq = seq;
			ec.ec_prev[0] = copies[k].cp_prev[0];
			ec.ec_prev[1] = copies[k].cp_prev[1];
			ec.ec_dropped = copies[k].cp_dropped;
			ec.ec_envlen = (uint32_t)len;
			ec.ec_lane = (uint8_t)lane;
			ec.ec_ulen = (uint8_t)ulen;
			ec.ec_dlen = (uint8_t)dlen;
			ho_early_put(e, &ec, user, copies[k].cp_device, env);
		}
	}
}

/* ho_early_mark: see handoff.h. */
void
ho_early_mark(struct handoff *h)
{
	int	 i;

	for (i = 0; h != NULL && i < h->h_n; i++)
		if (h->h_early[i] != NULL) {
			h->h_early[i]->he_mark_len = h->h_early[i]->he_len;
			h->h_early[i]->he_mark_n = h->h_early[i]->he_n;
		}
}

/* ho_early_undo: see handoff.h. */
void
ho_early_undo(struct handoff *h)
{
	int	 i;

	for (i = 0; h != NULL && i < h->h_n; i++)
		if (h->h_early[i] != NULL) {
			h->h_early[i]->he_len = h->h_early[i]->he_mark_len;
			h->h_early[i]->he_n = h->h_early[i]->he_mark_n;
		}
}

/* ho_early_reset: see handoff.h. */
void
ho_early_reset(struct handoff *h)
{
	int	 i;

	for (i = 0; h != NULL && i < h->h_n; i++)
		if (h->h_early[i] != NULL)
			h->h_early[i]->he_len = h->h_early[i]->he_n =
			    h->h_early[i]->he_mark_len =
			    h->h_early[i]->he_mark_n = 0;
}

/* ho_early_flush: see handoff.h. */
void
ho_early_flush(struct handoff *h)
{
	struct ipc_early	 ie;
	struct ho_early		*e;
	int			 i;

	for (i = 0; h != NULL && i < h->h_n; i++) {
		if ((e = h->h_early[i]) == NULL || e->he_n == 0)
			continue;
		memset(&ie, 0, sizeof(ie));
		ie.ie_sent_us = util_mono_us();
		ie.ie_n = e->he_n;
		memcpy(e->he_buf, &ie, sizeof(ie));
		if (h->h_fd[i] != -1)	/* refused: the doorbell follows */
			(void)ipc_send(h->h_fd[i], IPC_EARLY, IPC_VERSION,
			    e->he_buf, e->he_len, 1);
	}
	ho_early_reset(h);
}
