/*
 * query.c: the query child.  Runs in a process the supervisor forks for
 * one routingctl request that needs LMDB (who a user's devices are, what
 * they have queued, a purge, a backup, the store's totals); the process
 * answers on the control connection it inherited and exits.
 *
 * Owns, in the child: the control connection (the supervisor closes its
 * own copy at once), its own LMDB environment (opened here, after fork,
 * never in the supervisor), the reply.
 *
 * Invariants:
 * - Before it opens LMDB the child has closed every descriptor above
 *   stderr but the connection: no listening socket, no control socket,
 *   no worker channel stays open in it, and the signals the supervisor
 *   handles are back to their defaults (SIGTERM ends it).  It gets
 *   SIGTERM when the supervisor dies (PR_SET_PDEATHSIG): no orphans; a
 *   backup cut short that way leaves DIR/.data.mdb.tmp, never data.mdb.
 * - Reads are short read txns (qstore.c); a purge is one normal write
 *   batch, serialised with the workers' batches by LMDB's writer lock.
 *   A backup holds one read txn for the whole copy: the workers go on
 *   writing meanwhile.
 * - Exactly one reply per request, sent blocking with a CTL_SEND_TIMEOUT:
 *   a routingctl that does not read cannot keep the child.  It never
 *   logs: the supervisor logs a child that did not exit 0.
 * - Presence is read from the inherited shared table; a device that
 *   looks online (maybe a false positive, never a false negative) is
 *   not purged: its WebSocket's position in the queue stays valid.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	1	/* close_range */
#endif

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ids.h"
#include "ipc.h"
#include "presence.h"
#include "qstore.h"
#include "query.h"
#include "routingd.h"
#include "shm.h"

#define QUERY_FD		3	/* the connection, in the child */
#define CTL_SEND_TIMEOUT	10	/* seconds for the reply */

_Static_assert(IPC_NLANES == QS_NLANES, "lanes differ");
_Static_assert(IPC_ID_LEN > ID_MAX, "IPC_ID_LEN cannot hold an id");
_Static_assert(IPC_MAX_SEATS >= MAX_WORKERS_PER_ROLE, "too few seats");

/* The state of the one request a child serves. */
struct query {
	const struct query_ctx	*q_ctx;
	struct qstore		*q_qs;
	int			 q_fd;
	uint64_t		 q_now_ms;
};

/* Device names collected before they are looked at one by one. */
struct query_names {
	char		(*qn_name)[IPC_ID_LEN];
	size_t		 qn_n;
	size_t		 qn_cap;
	int		 qn_oom;
};

static void	 query_child(const struct query_ctx *, pid_t, int, uint32_t,
		    const void *, size_t) __attribute__((noreturn));
static void	 query_detach(pid_t, int);
static int	 query_fail(struct query *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 query_reply(struct query *, uint32_t, const void *, size_t);
static int	 query_open(struct query *);
static int	 query_user(struct query *, const struct ipc_user_req *);
static int	 query_user_rows(struct query *, const char *,
		    struct ipc_user_info *, const char *);
static int	 query_lanes(struct query *, const char *,
		    struct ipc_dev_row *);
static void	 query_presence(const struct presence *, const char *,
		    struct ipc_dev_row *);
static int	 query_purge(struct query *, const struct ipc_user_req *);
static int	 query_purge_txn(struct query *, const char *,
		    const struct query_names *, struct ipc_purge *);
static int	 query_backup(struct query *, const struct ipc_path *);
static int	 query_store(struct query *);
static int	 query_names_cb(void *, const struct qs_device *);
static int	 query_row_cb(void *, const struct qs_device *);
static int	 query_lane_cb(void *, const char *, int, uint64_t,
		    const void *, size_t);
static void	 query_seats(struct query *, struct ipc_user_info *);

/* query_is: see query.h. */
int
query_is(uint32_t type)
{
	return (type == IPC_CTL_USER || type == IPC_CTL_PURGE ||
	    type == IPC_CTL_BACKUP || type == IPC_CTL_STORE);
}

/* query_fork: see query.h. */
pid_t
query_fork(const struct query_ctx *ctx, int fd, uint32_t type,
    const void *payload, size_t len)
{
	unsigned char	 req[IPC_MAX_PAYLOAD];
	pid_t		 pid, parent = getpid();

	if (len > sizeof(req)) {
		errno = EINVAL;
		return (-1);
	}
	memcpy(req, payload, len);
	if ((pid = fork()) != 0)
		return (pid);
	query_child(ctx, parent, fd, type, req, len);
}

/*
 * In the child: drop the supervisor's signals and descriptors; end with
 * the supervisor (SIGTERM when it dies, as the workers do).
 */
static void
query_detach(pid_t parent, int fd)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1,
				    SIGCHLD };
	struct timeval		 tv = { CTL_SEND_TIMEOUT, 0 };
	sigset_t		 none;
	size_t			 i;
	int			 fl;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)signal(sigs[i], SIG_DFL);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (getppid() != parent)
		_exit(1);	/* the supervisor died while we forked */
	if (fd != QUERY_FD && dup2(fd, QUERY_FD) == -1)
		_exit(1);
	(void)close_range(QUERY_FD + 1, ~0U, 0);
	util_title_set("routingd: query");
	if ((fl = fcntl(QUERY_FD, F_GETFL)) != -1)
		(void)fcntl(QUERY_FD, F_SETFL, fl & ~O_NONBLOCK);
	(void)setsockopt(QUERY_FD, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* The child's whole life: one request, one reply, exit. */
static void
query_child(const struct query_ctx *ctx, pid_t parent, int fd, uint32_t type,
    const void *payload, size_t len)
{
	struct ipc_user_req	 ur;
	struct ipc_path		 ip;
	struct query		 q;
	int			 rv = -1;

	query_detach(parent, fd);
	memset(&q, 0, sizeof(q));
	q.q_ctx = ctx;
	q.q_fd = QUERY_FD;
	q.q_now_ms = util_real_ms();
	if (query_open(&q) == 0) {
		switch (type) {
		case IPC_CTL_USER:
			memcpy(&ur, payload, sizeof(ur));
			rv = query_user(&q, &ur);
			break;
		case IPC_CTL_PURGE:
			memcpy(&ur, payload, sizeof(ur));
			rv = query_purge(&q, &ur);
			break;
		case IPC_CTL_BACKUP:
			memcpy(&ip, payload, sizeof(ip));
			rv = query_backup(&q, &ip);
			break;
		case IPC_CTL_STORE:
			rv = query_store(&q);
			break;
		default:
			rv = query_fail(&q, "not a store query: %s",
			    ipc_type_str(type));
			break;
		}
	}
	(void)len;
	qs_close(q.q_qs);
	_exit(rv == 0 ? 0 : 1);
}

/* Answer IPC_CTL_FAIL with a sentence; returns -1. */
static int
query_fail(struct query *q, const char *fmt, ...)
{
	struct ipc_text	 t;
	va_list		 ap;

	memset(&t, 0, sizeof(t));
	va_start(ap, fmt);
	(void)vsnprintf(t.it_text, sizeof(t.it_text), fmt, ap);
	va_end(ap);
	(void)ipc_send(q->q_fd, IPC_CTL_FAIL, IPC_VERSION, &t, sizeof(t), 0);
	return (-1);
}

static int
query_reply(struct query *q, uint32_t type, const void *payload, size_t len)
{
	return (ipc_send(q->q_fd, type, IPC_VERSION, payload, len, 0));
}

static int
query_open(struct query *q)
{
	const struct config	*cfg = q->q_ctx->qc_cfg;
	const char		*err = NULL;

	q->q_qs = qs_open(cfg->cf_data_dir, (uint64_t)cfg->cf_store_max_size,
	    &err);
	if (q->q_qs == NULL)
		return (query_fail(q, "cannot open the store in %s: %s",
		    cfg->cf_data_dir, err != NULL ? err : "unknown error"));
	return (0);
}

/* ------------------------------------------------------------------ */
/* presence, queue, devices                                            */
/* ------------------------------------------------------------------ */

/* A row per known device of the user (or the one asked), in order. */
struct query_rows {
	struct ipc_user_info	*qr_ui;
	const char		*qr_only;	/* NULL: every device */
};

static int
query_row_cb(void *arg, const struct qs_device *d)
{
	struct query_rows	*qr = arg;
	struct ipc_user_info	*ui = qr->qr_ui;
	struct ipc_dev_row	*r;

	if (qr->qr_only != NULL && strcmp(qr->qr_only, d->qd_device) != 0)
		return (0);
	ui->ui_total++;
	if (ui->ui_n == IPC_MAX_DEVROWS)
		return (0);
	r = &ui->ui_rows[ui->ui_n++];
	(void)snprintf(r->dr_device, sizeof(r->dr_device), "%s",
	    d->qd_device);
	r->dr_count = d->qd_count;
	r->dr_bytes = d->qd_bytes;
	r->dr_created_ms = d->qd_created_ms;
	r->dr_last_seen_ms = d->qd_last_seen_ms;
	if (d->qd_has_push) {
		r->dr_has_push = 1;
		r->dr_registered_ms = d->qd_registered_ms;
		(void)snprintf(r->dr_platform, sizeof(r->dr_platform), "%s",
		    d->qd_platform);
		(void)snprintf(r->dr_app_id, sizeof(r->dr_app_id), "%s",
		    d->qd_app_id);
	}
	return (0);
}

/* Per message of one queue: count it in its lane. */
static int
query_lane_cb(void *arg, const char *id, int priority, uint64_t enqueued_ms,
    const void *data, size_t len)
{
	struct ipc_dev_row	*r = arg;
	uint64_t		 seq;
	int			 lane;

	if (qs_msgid_parse(id, &lane, &seq) != QS_OK || lane < 0 ||
	    lane >= IPC_NLANES)
		lane = QS_LANE_NORMAL;
	r->dr_lane_count[lane]++;
	r->dr_lane_bytes[lane] += len;
	if (r->dr_lane_oldest_ms[lane] == 0 ||
	    enqueued_ms < r->dr_lane_oldest_ms[lane])
		r->dr_lane_oldest_ms[lane] = enqueued_ms;
	return (0);
}

/* The presence table's view of one device: connections, workers, and
 * the time and mode of its newest WebSocket. */
static void
query_presence(const struct presence *pr, const char *user,
    struct ipc_dev_row *r)
{
	struct pr_info	 pi;

	r->dr_conns = (uint32_t)pr_lookup_info(pr, user, r->dr_device, &pi);
	r->dr_workers = pi.pi_workers;
	r->dr_online_since = pi.pi_since;
	r->dr_mode = pi.pi_mode;
}

/* The lanes of one device, by walking its queue (unexpired messages). */
static int
query_lanes(struct query *q, const char *user, struct ipc_dev_row *r)
{
	int	 rc;

	rc = qs_fetch(q->q_qs, user, r->dr_device, (size_t)-1, q->q_now_ms,
	    query_lane_cb, r, NULL);
	if (rc == QS_NOTFOUND)		/* deleted since it was listed */
		return (0);
	if (rc != QS_OK)
		return (query_fail(q, "store: %s", qs_lasterr(q->q_qs)));
	return (0);
}

/* Which process holds each WS seat now (a ready one before the rest). */
static void
query_seats(struct query *q, struct ipc_user_info *ui)
{
	const struct shm_slot	*ss;
	uint32_t		 idx, state;
	size_t			 i;

	for (i = 0; i < SHM_SLOTS; i++) {
		ss = &q->q_ctx->qc_shm->sh_slots[i];
		state = atomic_load(&ss->ss_state);
		if (state == SHM_SLOT_FREE ||
		    atomic_load(&ss->ss_role) != PROC_WS)
			continue;
		if ((idx = atomic_load(&ss->ss_index)) >= IPC_MAX_SEATS)
			continue;
		if (ui->ui_seat_pid[idx] != 0 && state != SHM_SLOT_READY)
			continue;
		ui->ui_seat_pid[idx] = atomic_load(&ss->ss_pid);
		if (idx + 1 > ui->ui_nseats)
			ui->ui_nseats = idx + 1;
	}
}

static int
query_user_rows(struct query *q, const char *user, struct ipc_user_info *ui,
    const char *only)
{
	struct query_rows	 qr = { ui, only };
	struct ipc_dev_row	*r;
	uint32_t		 i;
	int			 rc;

	if ((rc = qs_devices(q->q_qs, user, query_row_cb, &qr, NULL)) !=
	    QS_OK)
		return (query_fail(q, "store: %s", qs_lasterr(q->q_qs)));
	if (only != NULL && ui->ui_n == 0)
		return (query_fail(q, "user %s has no device %s", user,
		    only));
	for (i = 0; i < ui->ui_n; i++) {
		r = &ui->ui_rows[i];
		if (query_lanes(q, user, r) == -1)
			return (-1);
		if (q->q_ctx->qc_pr != NULL)
			query_presence(q->q_ctx->qc_pr, user, r);
	}
	return (0);
}

/* IPC_CTL_USER: everything routingctl presence, queue and devices show. */
static int
query_user(struct query *q, const struct ipc_user_req *req)
{
	static struct ipc_user_info	 ui;
	char				 user[IPC_ID_LEN], dev[IPC_ID_LEN];

	memcpy(user, req->ur_user, sizeof(user));
	memcpy(dev, req->ur_device, sizeof(dev));
	ipc_strfix(user);
	ipc_strfix(dev);
	if (!id_valid(user) || (dev[0] != '\0' && !id_valid(dev)))
		return (query_fail(q, "not a valid user or device id"));
	memset(&ui, 0, sizeof(ui));
	memcpy(ui.ui_user, user, sizeof(ui.ui_user));
	ui.ui_now_ms = q->q_now_ms;
	if (query_user_rows(q, user, &ui, dev[0] != '\0' ? dev : NULL) == -1)
		return (-1);
	if (qs_held_count(q->q_qs, user, &ui.ui_held) != QS_OK)
		return (query_fail(q, "store: %s", qs_lasterr(q->q_qs)));
	query_seats(q, &ui);
	return (query_reply(q, IPC_CTL_USER_REPLY, &ui, sizeof(ui)));
}

/* ------------------------------------------------------------------ */
/* purge                                                               */
/* ------------------------------------------------------------------ */

static int
query_names_cb(void *arg, const struct qs_device *d)
{
	struct query_names	 *qn = arg;
	char			(*nn)[IPC_ID_LEN];
	size_t			 cap;

	if (qn->qn_n == qn->qn_cap) {
		cap = qn->qn_cap == 0 ? 16 : qn->qn_cap * 2;
		if ((nn = reallocarray(qn->qn_name, cap, sizeof(*nn))) ==
		    NULL) {
			qn->qn_oom = 1;
			return (1);
		}
		qn->qn_name = nn;
		qn->qn_cap = cap;
	}
	(void)snprintf(qn->qn_name[qn->qn_n++], IPC_ID_LEN, "%s",
	    d->qd_device);
	return (0);
}

/* In the open batch: drop each offline device, then the held queue. */
static int
query_purge_txn(struct query *q, const char *user,
    const struct query_names *qn, struct ipc_purge *pu)
{
	const struct presence	*pr = q->q_ctx->qc_pr;
	size_t			 i, n;
	int			 rc;

	for (i = 0; i < qn->qn_n; i++) {
		if (qn->qn_name[i][0] == '\0')	/* the held queue */
			rc = qs_held_drop(q->q_qs, user, &n);
		else if (pr != NULL && pr_lookup_device(pr, user,
		    qn->qn_name[i], NULL) > 0) {
			pu->pu_online++;
			continue;
		} else
			rc = qs_device_delete(q->q_qs, user, qn->qn_name[i],
			    &n);
		if (rc == QS_NOTFOUND)
			continue;
		if (rc != QS_OK)
			return (rc);
		if (qn->qn_name[i][0] == '\0')
			pu->pu_held += n;
		else {
			pu->pu_devices++;
			pu->pu_messages += n;
		}
	}
	return (QS_OK);
}

/* IPC_CTL_PURGE: one batch; devices online are left alone (counted). */
static int
query_purge(struct query *q, const struct ipc_user_req *req)
{
	struct query_names	 qn;
	struct ipc_purge	 pu;
	char			 user[IPC_ID_LEN], dev[IPC_ID_LEN];
	int			 rc;

	memcpy(user, req->ur_user, sizeof(user));
	memcpy(dev, req->ur_device, sizeof(dev));
	ipc_strfix(user);
	ipc_strfix(dev);
	if (!id_valid(user) || (dev[0] != '\0' && !id_valid(dev)))
		return (query_fail(q, "not a valid user or device id"));
	memset(&qn, 0, sizeof(qn));
	memset(&pu, 0, sizeof(pu));
	if (dev[0] != '\0')
		rc = query_names_cb(&qn, &(struct qs_device){ .qd_device =
		    dev }) == 0 ? QS_OK : QS_ERR;
	else if ((rc = qs_devices(q->q_qs, user, query_names_cb, &qn,
	    NULL)) == QS_OK)
		rc = query_names_cb(&qn, &(struct qs_device){ .qd_device =
		    "" }) == 0 ? QS_OK : QS_ERR;
	if (rc != QS_OK || qn.qn_oom) {
		free(qn.qn_name);
		return (query_fail(q, "store: %s", qn.qn_oom ?
		    "out of memory" : qs_lasterr(q->q_qs)));
	}
	if ((rc = qs_batch_begin(q->q_qs)) == QS_OK) {
		if ((rc = query_purge_txn(q, user, &qn, &pu)) == QS_OK)
			rc = qs_batch_commit(q->q_qs);
		else
			qs_batch_abort(q->q_qs);
	}
	free(qn.qn_name);
	if (rc != QS_OK)
		return (query_fail(q, "purge failed, nothing dropped: %s",
		    qs_lasterr(q->q_qs)));
	if (dev[0] != '\0' && pu.pu_devices == 0 && pu.pu_online == 0)
		return (query_fail(q, "user %s has no device %s", user, dev));
	return (query_reply(q, IPC_CTL_PURGE_REPLY, &pu, sizeof(pu)));
}

/* ------------------------------------------------------------------ */
/* backup, store                                                       */
/* ------------------------------------------------------------------ */

/* IPC_CTL_BACKUP: a compacted hot copy into an empty directory. */
static int
query_backup(struct query *q, const struct ipc_path *req)
{
	struct ipc_backup	 ib;
	struct stat		 st;
	char			 dir[IPC_PATH_LEN];
	const char		*err = "unknown error";
	uint64_t		 t0 = util_mono_ms();

	memcpy(dir, req->ip_path, sizeof(dir));
	ipc_strfix(dir);
	if (dir[0] != '/')
		return (query_fail(q, "backup directory must be an absolute "
		    "path"));
	if (qs_backup(q->q_qs, dir, &err) != QS_OK)
		return (query_fail(q, "backup failed: %s", err));
	memset(&ib, 0, sizeof(ib));
	if ((size_t)snprintf(ib.ib_path, sizeof(ib.ib_path), "%s/data.mdb",
	    dir) >= sizeof(ib.ib_path))
		return (query_fail(q, "backup path too long"));
	if (stat(ib.ib_path, &st) == 0)
		ib.ib_bytes = (uint64_t)st.st_size;
	ib.ib_duration_ms = util_mono_ms() - t0;
	return (query_reply(q, IPC_CTL_BACKUP_REPLY, &ib, sizeof(ib)));
}

/* IPC_CTL_STORE: totals and map use; the open WebSockets. */
static int
query_store(struct query *q)
{
	struct ipc_store	 is;
	struct qs_stats		 st;
	struct stat		 sb;
	char			 path[4096];

	memset(&is, 0, sizeof(is));
	if (qs_stats(q->q_qs, &st) != QS_OK ||
	    qs_totals(q->q_qs, &is.ist_messages, &is.ist_bytes) != QS_OK)
		return (query_fail(q, "store: %s", qs_lasterr(q->q_qs)));
	is.ist_devices = st.st_queues;
	is.ist_held = st.st_held;
	is.ist_map_size = st.st_map_size;
	is.ist_map_used = st.st_map_used;
	is.ist_readers = st.st_readers;
	is.ist_max_readers = st.st_max_readers;
	is.ist_websockets = atomic_load(&q->q_ctx->qc_shm->sh_ws.sw_active);
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb",
	    q->q_ctx->qc_cfg->cf_data_dir) < sizeof(path) &&
	    stat(path, &sb) == 0)
		is.ist_file_bytes = (uint64_t)sb.st_size;
	return (query_reply(q, IPC_CTL_STORE_REPLY, &is, sizeof(is)));
}
