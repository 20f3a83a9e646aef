/*
 * supervisor.c: the routingd parent process.  It handles no traffic.
 *
 * It owns the configuration, the listening sockets, the shared-memory
 * region, the presence table and hand-off socketpairs, the control socket,
 * one record per worker process, and the pids of the query children
 * (query.c) that answer routingctl's store requests.  The topology is the procs[] table:
 * one row per role saying everything role-specific (its configuration
 * keys, listener, share of the shared-memory slots, hand-offs, hooks); the
 * code below loops over the table and never tests a role.  It samples
 * its own resource use into shared memory about once a second (the
 * process_* metrics) and renders the metrics text for routingctl stats
 * from the same region the API workers render GET /metrics from.
 *
 * Invariants:
 * - It never opens LMDB (workers, query children and the start-time
 *   store check's child, routingd.c, open it after fork).
 * - A query child is not a worker: it has no seat, no slot and no
 *   channel, is reaped by pid (sup_query_reaped) before the workers are
 *   searched, and is never respawned; at most QUERY_MAX run at once.
 * - Every "seat" (role, index < configured count) has at most one current
 *   worker; a seat whose worker died is refilled after a backoff that grows
 *   with consecutive quick deaths.  Retired workers (old generation after a
 *   reload, or everybody during a stop) are drained and killed at their
 *   deadline, never refilled.
 * - A reload keeps the workers of a row that can take the new file in
 *   place (its role has wo_config; listener and count unchanged) and sends
 *   them its text; other rows get a new generation.  Keys only a restart
 *   applies keep their running value, so every worker uses one data_dir.
 * - The operator's drain (routingctl drain/undrain) is only sh_drained in
 *   shared memory; the workers act on it, respawned ones included.
 * - Signals arrive through libev watchers, so every handler runs in the
 *   loop, never in signal context.  Signals are blocked across fork; the
 *   child unblocks them once its own watchers exist.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "auth.h"
#include "config.h"
#include "control.h"
#include "handoff.h"
#include "ipc.h"
#include "log.h"
#include "metrics.h"
#include "paths.h"
#include "presence.h"
#include "push.h"
#include "query.h"
#include "routingd.h"
#include "shm.h"
#include "supervisor.h"
#include "tls.h"
#include "tlskeys.h"
#include "worker.h"

#define SUP_TICK		0.25	/* s between heartbeat/deadline checks */
#define SUP_FAST_STOP_GRACE	2000	/* ms a SIGINT'd worker gets */
#define SUP_LISTEN_BACKLOG	4096
#define SUP_PRESENCE_SLOTS	32768	/* presence entries per hand-off seat */

_Static_assert(MAX_WORKERS_PER_ROLE <= PR_MAX_WORKERS,
    "a presence partition for every seat");

/*
 * The process table: the whole topology, a row per worker role.  Fields
 * given as offsets point into struct config (pd_count: an int; pd_listen:
 * a struct listen_addr).  At most one row receives hand-offs.  The
 * routingctl status reply has one entry per row, in this order.
 */
struct proc_desc {
	const char		*pd_name;	/* titles, logs, labels */
	int			 pd_role;	/* enum proc_role */
	const struct worker_ops	*pd_ops;	/* the role's hooks */
	const char		*pd_count_key;	/* how many: its config key */
	size_t			 pd_count;	/* and field */
	const char		*pd_listen_key;	/* NULL: no listener */
	size_t			 pd_listen;
	unsigned		 pd_slots;	/* its share of SHM_SLOTS */
	int			 pd_handoff;	/* 1: a hand-off socketpair and
						 * a presence partition per
						 * seat */
};

#define PD_CFG(f)	offsetof(struct config, f)
#define PD_PUSH_SLOTS	4	/* the push worker's share of SHM_SLOTS */
#define PD_HALF_SLOTS	((SHM_SLOTS - PD_PUSH_SLOTS) / 2) /* api, ws */

static const struct proc_desc procs[] = {
	{ .pd_name = "api", .pd_role = PROC_API, .pd_ops = &api_ops,
	    .pd_count_key = "api_workers", .pd_count = PD_CFG(cf_api_workers),
	    .pd_listen_key = "api_listen", .pd_listen = PD_CFG(cf_api_listen),
	    .pd_slots = PD_HALF_SLOTS },
	{ .pd_name = "ws", .pd_role = PROC_WS, .pd_ops = &ws_ops,
	    .pd_count_key = "ws_workers", .pd_count = PD_CFG(cf_ws_workers),
	    .pd_listen_key = "ws_listen", .pd_listen = PD_CFG(cf_ws_listen),
	    .pd_slots = PD_HALF_SLOTS, .pd_handoff = 1 },
	/* not a key: one push worker when push_gateway_url is set */
	{ .pd_name = "push", .pd_role = PROC_PUSH, .pd_ops = &push_ops,
	    .pd_count_key = "push_workers",
	    .pd_count = PD_CFG(cf_push_workers), .pd_slots = PD_PUSH_SLOTS },
};
#define NPROCS	(sizeof(procs) / sizeof(procs[0]))
_Static_assert(NPROCS <= IPC_MAX_ROLES, "the status reply has no room");

enum sup_state {
	SUP_RUNNING,
	SUP_DRAINING,		/* SIGTERM / routingctl stop */
	SUP_STOPPING		/* SIGINT: fast */
};

struct child {
	TAILQ_ENTRY(child)	 ch_entry;
	struct sup		*ch_sup;
	const struct proc_desc	*ch_proc;
	pid_t			 ch_pid;
	int			 ch_index;
	int			 ch_slot;
	int			 ch_fd;		/* our end of the channel */
	int			 ch_ready;
	int			 ch_retired;
	int			 ch_signalled;	/* retired and told to stop */
	uint64_t		 ch_started_ms;
	uint64_t		 ch_kill_at_ms;	/* retired: SIGKILL after */
	ev_io			 ch_io;
};
TAILQ_HEAD(childlist, child);

/* One (role, index) position and its respawn history. */
struct seat {
	struct sup		*se_sup;
	const struct proc_desc	*se_proc;
	int			 se_index;
	struct child		*se_child;	/* NULL while empty */
	int			 se_fast_deaths;
	uint32_t		 se_restarts;
	ev_timer		 se_respawn;
};

struct sup {
	struct ev_loop		*s_loop;
	struct config		*s_cfg;
	struct sup_options	 s_opts;
	struct shm		*s_shm;
	struct presence		*s_pr;		/* presence, NULL: no row
						 * receives hand-offs */
	struct handoff_fds	 s_ho;		/* hand-off socketpairs */
	struct control		*s_ctl;
	int			 s_listen[NPROCS]; /* by row, -1: none */
	enum sup_state		 s_state;
	uint64_t		 s_stop_deadline_ms;
	int			 s_reloading;
	pid_t			 s_pid;
	struct childlist	 s_children;
	pid_t			 s_queries[QUERY_MAX]; /* query children,
						 * 0: free */
	struct seat		 s_seats[NPROCS][MAX_WORKERS_PER_ROLE];
	ev_signal		 s_sighup, s_sigterm, s_sigint, s_sigusr1;
	ev_child		 s_sigchld;
	ev_timer		 s_tick;
	uint64_t		 s_sampled_ms;	/* last sh_sup_proc sample */
	uint64_t		 s_tk_made_ms;	/* ticket keys last rotated */
};

static int	sup_listen(const struct listen_addr *, const char **);
static int	sup_count(const struct config *, const struct proc_desc *);
static const struct listen_addr *sup_listen_addr(const struct config *,
		    const struct proc_desc *);
static void	sup_append(char *, size_t, size_t *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static void	sup_describe(const struct config *, int, char *, size_t);
static void	sup_roles_init(struct sup *);
static void	sup_spawn(struct sup *, struct seat *);
static void	sup_child_start(struct sup *, const struct proc_desc *,
		    struct worker *);
static void	sup_forget(struct sup *);
static void	sup_child_handoff(struct sup *, const struct proc_desc *,
		    struct worker *);
static void	sup_handoff_init(struct sup *);
static void	sup_child_free(struct sup *, struct child *);
static void	sup_child_chan_cb(struct ev_loop *, ev_io *, int);
static void	sup_dispatch_child(struct child *, const struct ipc_hdr *,
		    const void *);
static void	sup_child_ready(struct child *);
static void	sup_check_ready(struct sup *);
static void	sup_reap_cb(struct ev_loop *, ev_child *, int);
static void	sup_reaped(struct sup *, struct child *, int);
static void	sup_respawn_cb(struct ev_loop *, ev_timer *, int);
static void	sup_schedule_respawn(struct sup *, struct seat *, uint64_t);
static void	sup_tick_cb(struct ev_loop *, ev_timer *, int);
static void	sup_check_heartbeat(struct sup *, struct child *, uint64_t);
static void	sup_ticket_rotate(struct sup *, uint64_t);
static void	sup_retire(struct sup *, struct child *, int, uint64_t);
static void	sup_spawn_all(struct sup *);
static void	sup_stop(struct sup *, enum sup_state);
static void	sup_maybe_exit(struct sup *);
static int	sup_reload(struct sup *, struct ipc_reload *);
static int	sup_reload_apply(struct sup *, struct config *, const char *,
		    size_t, struct ipc_reload *);
static void	sup_reload_diff(const struct config *, const struct config *,
		    int, char *, size_t);
static int	sup_in_place(const struct sup *, const struct config *,
		    const struct proc_desc *, size_t);
static void	sup_reload_row(struct sup *, const struct proc_desc *,
		    const char *, size_t, struct ipc_reload *, uint64_t);
static void	sup_reload_retire(struct sup *, const struct config *);
static void	sup_reload_text(const struct config *, struct ipc_reload *);
static int	sup_rebind(struct sup *, const struct config *, int *, char *,
		    size_t);
static void	sup_unbind(struct sup *, const int *, size_t);
static void	sup_rebind_commit(struct sup *, const int *);
static void	sup_sighup_cb(struct ev_loop *, ev_signal *, int);
static void	sup_sigterm_cb(struct ev_loop *, ev_signal *, int);
static void	sup_sigint_cb(struct ev_loop *, ev_signal *, int);
static void	sup_sigusr1_cb(struct ev_loop *, ev_signal *, int);
static void	sup_ctl_status_role(struct sup *, const struct proc_desc *,
		    struct ipc_role_status *);
static void	sup_ctl_status(void *, struct ipc_status *);
static size_t	sup_ctl_workers(void *, struct ipc_worker *, size_t);
static int	sup_ctl_reload(void *, struct ipc_reload *);
static void	sup_ctl_stop(void *);
static int	sup_ctl_drain(void *, int, char *, size_t);
static int	sup_ctl_token(void *, const struct ipc_token_req *,
		    struct ipc_token *, char *, size_t);
static int	sup_ctl_query(void *, int, uint32_t, const void *, size_t,
		    char *, size_t);
static int	sup_query_reaped(struct sup *, pid_t, int);
static int	sup_ctl_stats(void *, char **, size_t *);
static void	sup_describe_exit(int, char *, size_t);
static void	sup_notify_status(struct sup *);
static void	sup_apply_logging(struct sup *);

static const struct control_ops sup_ctl_ops = {
	sup_ctl_status,
	sup_ctl_workers,
	sup_ctl_reload,
	sup_ctl_stop,
	sup_ctl_drain,
	sup_ctl_token,
	sup_ctl_query,
	sup_ctl_stats
};

/* ------------------------------------------------------------------ */
/* The process table                                                   */
/* ------------------------------------------------------------------ */

/* How many workers of row pd cfg asks for. */
static int
sup_count(const struct config *cfg, const struct proc_desc *pd)
{
	int	 n;

	memcpy(&n, (const char *)cfg + pd->pd_count, sizeof(n));
	return (n);
}

/* The listening address of row pd in cfg, or NULL if it has none. */
static const struct listen_addr *
sup_listen_addr(const struct config *cfg, const struct proc_desc *pd)
{
	if (pd->pd_listen_key == NULL)
		return (NULL);
	return ((const struct listen_addr *)(const void *)((const char *)cfg +
	    pd->pd_listen));
}

/* Append to buf (len bytes, *off used so far), cutting what does not fit. */
static void
sup_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = (size_t)n >= len - *off ? len : *off + (size_t)n;
}

/*
 * The topology of cfg for the log and STATUS=: "api=ADDR ws=ADDR " (each
 * row's listener) if listens is set, then "api_workers=N ws_workers=N".
 */
static void
sup_describe(const struct config *cfg, int listens, char *buf, size_t len)
{
	const struct listen_addr	*la;
	size_t				 p, off = 0;

	buf[0] = '\0';
	for (p = 0; listens && p < NPROCS; p++)
		if ((la = sup_listen_addr(cfg, &procs[p])) != NULL)
			sup_append(buf, len, &off, "%s=%s ", procs[p].pd_name,
			    la->la_text);
	for (p = 0; p < NPROCS; p++)
		sup_append(buf, len, &off, "%s%s=%d", p == 0 ? "" : " ",
		    procs[p].pd_count_key, sup_count(cfg, &procs[p]));
}

/* Record every row's name and share of the slots in shared memory. */
static void
sup_roles_init(struct sup *s)
{
	size_t	 p;

	for (p = 0; p < NPROCS; p++)
		if (shm_role_add(s->s_shm, procs[p].pd_role, procs[p].pd_name,
		    procs[p].pd_slots) == -1)
			fatalx("process table: no room in shared memory for "
			    "%u %s slots", procs[p].pd_slots, procs[p].pd_name);
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

/*
 * sup_listen: a non-blocking listening TCP socket on la.  Returns the fd,
 * or -1 with *errstr naming the failed call (errno kept).
 */
static int
sup_listen(const struct listen_addr *la, const char **errstr)
{
	int	 fd, on = 1;

	fd = socket(la->la_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		*errstr = "socket()";
		return (-1);
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (la->la_ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (const struct sockaddr *)&la->la_ss, la->la_sslen) ==
	    -1) {
		*errstr = "bind()";
		goto fail;
	}
	if (listen(fd, SUP_LISTEN_BACKLOG) == -1) {
		*errstr = "listen()";
		goto fail;
	}
	return (fd);
 fail:
	{
		int	 saved = errno;

		close(fd);
		errno = saved;
	}
	return (-1);
}

/* Write a new random hex HS256 secret to path (0600, fsync'd). */
static int
sup_write_secret(const char *path, const char **errstr)
{
	char	 hex[2 * LOCAL_SECRET_BYTES + 2];
	int	 fd;
	size_t	 n;

	if (util_random_hex(hex, LOCAL_SECRET_BYTES) == -1) {
		*errstr = "getrandom()";
		return (-1);
	}
	n = strlen(hex);
	hex[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		*errstr = "open() of the new JWT secret";
		return (-1);
	}
	if (write(fd, hex, n) != (ssize_t)n || fsync(fd) == -1) {
		*errstr = "write() of the new JWT secret";
		close(fd);
		(void)unlink(path);
		return (-1);
	}
	util_wipe(hex, sizeof(hex));
	return (close(fd));
}

/* sup_prepare_state: see supervisor.h. */
int
sup_prepare_state(struct config *cfg, const char **errstr)
{
	char		 path[4096];
	struct stat	 st;

	if (util_mkdir_p(cfg->cf_data_dir, 0700) == -1) {
		*errstr = "mkdir() of data_dir";
		return (-1);
	}
	if (cfg->cf_jwt_secret != NULL || cfg->cf_jwt_secret_file != NULL ||
	    cfg->cf_jwt_jwks_file != NULL)
		return (0);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->cf_data_dir,
	    LOCAL_SECRET_NAME) >= sizeof(path)) {
		*errstr = "data_dir is too long";
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			*errstr = "stat() of the JWT secret";
			return (-1);
		}
		if (sup_write_secret(path, errstr) == -1)
			return (-1);
		log_notice("generated an HS256 secret path=%s", path);
	}
	if ((cfg->cf_jwt_secret_file = strdup(path)) == NULL) {
		*errstr = "strdup()";
		return (-1);
	}
	return (0);
}

/*
 * The presence table and the hand-off socketpairs: a partition and a pair
 * for every seat the row that receives hand-offs may ever have
 * (MAX_WORKERS_PER_ROLE), so that seats a reload adds get doorbells like
 * the others; lookups scan only the seats in use (pr_grow_seats in
 * sup_spawn).  Untouched partitions take no memory.  No such row: no
 * presence table and no pairs.  Fatal on failure (setup).
 */
static void
sup_handoff_init(struct sup *s)
{
	const struct proc_desc	*pd = NULL;
	size_t			 p;
	int			 n = 0;

	for (p = 0; p < NPROCS; p++) {
		if (!procs[p].pd_handoff)
			continue;
		if (pd != NULL)
			fatalx("process table: %s and %s both receive "
			    "hand-offs", pd->pd_name, procs[p].pd_name);
		pd = &procs[p];
	}
	if (pd != NULL) {
		n = MAX_WORKERS_PER_ROLE;
		s->s_pr = pr_create((unsigned)n, SUP_PRESENCE_SLOTS,
		    (unsigned)sup_count(s->s_cfg, pd));
		if (s->s_pr == NULL)
			fatal("cannot create the presence table");
	}
	if (ho_socketpairs(&s->s_ho, n) == -1)
		fatal("socketpair() failed for the hand-off sockets");
}

/* Bind what the configuration asks for; fatal on failure (setup). */
static void
sup_bind_all(struct sup *s)
{
	const struct listen_addr	*la;
	const char			*err;
	size_t				 p;

	for (p = 0; p < NPROCS; p++) {
		s->s_listen[p] = -1;
		if ((la = sup_listen_addr(s->s_cfg, &procs[p])) == NULL)
			continue;
		if ((s->s_listen[p] = sup_listen(la, &err)) == -1)
			fatal("%s failed for %s %s", err,
			    procs[p].pd_listen_key, la->la_text);
	}
	s->s_ctl = control_new(s->s_loop, s->s_cfg->cf_control_socket,
	    s->s_cfg->cf_control_socket_group, &sup_ctl_ops, s, &err);
	if (s->s_ctl == NULL)
		fatal("control socket %s: %s", s->s_cfg->cf_control_socket,
		    err);
}

/* Start the supervisor's own watchers on the default loop. */
static void
sup_watchers(struct sup *s)
{
	ev_signal_init(&s->s_sighup, sup_sighup_cb, SIGHUP);
	ev_signal_init(&s->s_sigterm, sup_sigterm_cb, SIGTERM);
	ev_signal_init(&s->s_sigint, sup_sigint_cb, SIGINT);
	ev_signal_init(&s->s_sigusr1, sup_sigusr1_cb, SIGUSR1);
	ev_child_init(&s->s_sigchld, sup_reap_cb, 0, 0);
	ev_timer_init(&s->s_tick, sup_tick_cb, SUP_TICK, SUP_TICK);
	metrics_proc_sample(&s->s_shm->sh_sup_proc);
	s->s_sampled_ms = util_mono_ms();
	s->s_sighup.data = s->s_sigterm.data = s->s_sigint.data = s;
	s->s_sigusr1.data = s->s_sigchld.data = s->s_tick.data = s;
	ev_signal_start(s->s_loop, &s->s_sighup);
	ev_signal_start(s->s_loop, &s->s_sigterm);
	ev_signal_start(s->s_loop, &s->s_sigint);
	ev_signal_start(s->s_loop, &s->s_sigusr1);
	ev_child_start(s->s_loop, &s->s_sigchld);
	ev_timer_start(s->s_loop, &s->s_tick);
}

/* Initialise the seats of the process table. */
static void
sup_seats_init(struct sup *s)
{
	struct seat	*se;
	size_t		 p;
	int		 i;

	for (p = 0; p < NPROCS; p++)
		for (i = 0; i < MAX_WORKERS_PER_ROLE; i++) {
			se = &s->s_seats[p][i];
			se->se_sup = s;
			se->se_proc = &procs[p];
			se->se_index = i;
			ev_init(&se->se_respawn, sup_respawn_cb);
			se->se_respawn.data = se;
		}
}

/* sup_main: see supervisor.h. */
void
sup_main(struct config *cfg, const struct sup_options *opts)
{
	struct sup	*s;
	char		 topo[512];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->s_cfg = cfg;
	s->s_opts = *opts;
	s->s_pid = getpid();
	TAILQ_INIT(&s->s_children);
	notify_init();
	(void)signal(SIGPIPE, SIG_IGN);
	log_procinit("supervisor", -1);
	util_title_set("routingd: supervisor");
	if ((s->s_loop = ev_default_loop(EVBACKEND_EPOLL)) == NULL)
		fatalx("cannot initialise the event loop");
	s->s_shm = shm_create();
	if (tk_init(&s->s_shm->sh_tls) == -1)
		fatalx("cannot make the TLS session ticket keys: the random "
		    "generator failed");
	s->s_tk_made_ms = util_mono_ms();
	sup_roles_init(s);
	sup_handoff_init(s);
	sup_bind_all(s);
	sup_seats_init(s);
	sup_watchers(s);
	sup_describe(cfg, 1, topo, sizeof(topo));
	log_info("routingd %s starting config=%s %s data_dir=%s",
	    PACKAGE_VERSION, cfg->cf_path ? cfg->cf_path :
	    "(embedded defaults)", topo, cfg->cf_data_dir);
	sup_spawn_all(s);
	ev_run(s->s_loop, 0);
	control_free(s->s_ctl);
	log_info("routingd stopped");
	(void)notify_send("STATUS=stopped");
	config_free(s->s_cfg);
	free(s);
	exit(0);
}

/* ------------------------------------------------------------------ */
/* Spawning                                                            */
/* ------------------------------------------------------------------ */

/* Fill every configured seat that has no current worker. */
static void
sup_spawn_all(struct sup *s)
{
	struct seat	*se;
	size_t		 p;
	int		 i;

	for (p = 0; p < NPROCS; p++)
		for (i = 0; i < sup_count(s->s_cfg, &procs[p]); i++) {
			se = &s->s_seats[p][i];
			if (se->se_child == NULL &&
			    !ev_is_active(&se->se_respawn))
				sup_spawn(s, se);
		}
}

/*
 * Fork one worker into seat se.  On a fork or socketpair failure the seat
 * is retried after the backoff, as if the worker had died at once.
 */
static void
sup_spawn(struct sup *s, struct seat *se)
{
	struct worker	 w;
	struct child	*ch;
	sigset_t	 all, old;
	int		 sv[2], slot;

	slot = shm_slot_alloc(s->s_shm, se->se_proc->pd_role, se->se_index);
	if (slot == -1 || (ch = calloc(1, sizeof(*ch))) == NULL) {
		log_warnx("%s: no slot or memory for %s %d", __func__,
		    se->se_proc->pd_name, se->se_index);
		goto retry;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair() failed while spawning %s %d",
		    se->se_proc->pd_name, se->se_index);
		goto retry_free;
	}
	/* a new owner for the seat: the previous one's entries are gone */
	if (se->se_proc->pd_handoff && se->se_index < s->s_ho.hf_n) {
		pr_worker_reset(s->s_pr, (unsigned)se->se_index);
		pr_grow_seats(s->s_pr, (unsigned)se->se_index + 1);
	}
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	switch ((ch->ch_pid = fork())) {
	case -1:
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("fork() failed while spawning %s %d",
		    se->se_proc->pd_name, se->se_index);
		close(sv[0]);
		close(sv[1]);
		goto retry_free;
	case 0:
		free(ch);		/* the parent's record, not ours */
		close(sv[0]);
		memset(&w, 0, sizeof(w));
		w.w_role = se->se_proc->pd_role;
		w.w_index = se->se_index;
		w.w_slotno = slot;
		w.w_chan = sv[1];
		w.w_ops = se->se_proc->pd_ops;
		w.w_verbose = s->s_opts.so_verbose;
		w.w_stderr = s->s_opts.so_debug;
		sup_child_start(s, se->se_proc, &w);
		/* NOTREACHED */
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	(void)util_nonblock(sv[0]);
	ch->ch_sup = s;
	ch->ch_proc = se->se_proc;
	ch->ch_index = se->se_index;
	ch->ch_slot = slot;
	ch->ch_fd = sv[0];
	ch->ch_started_ms = util_mono_ms();
	atomic_store(&s->s_shm->sh_slots[slot].ss_pid, (int32_t)ch->ch_pid);
	ev_io_init(&ch->ch_io, sup_child_chan_cb, ch->ch_fd, EV_READ);
	ch->ch_io.data = ch;
	ev_io_start(s->s_loop, &ch->ch_io);
	TAILQ_INSERT_TAIL(&s->s_children, ch, ch_entry);
	se->se_child = ch;
	log_debug("spawned %s %d pid=%ld slot=%d", se->se_proc->pd_name,
	    se->se_index, (long)ch->ch_pid, slot);
	return;
 retry_free:
	free(ch);
 retry:
	if (slot != -1)
		shm_slot_release(s->s_shm, slot);
	sup_schedule_respawn(s, se, 0);
}

/*
 * In a new worker of row pd: keep every send end of the hand-off pairs
 * and only the receive end of its own seat (if pd receives hand-offs);
 * close the rest.
 */
static void
sup_child_handoff(struct sup *s, const struct proc_desc *pd,
    struct worker *w)
{
	int	 i;

	for (i = 0; i < s->s_ho.hf_n; i++) {
		if (pd->pd_handoff && w->w_index == i)
			continue;
		close(s->s_ho.hf_recv[i]);
		s->s_ho.hf_recv[i] = -1;
	}
	w->w_pr = s->s_pr;
	w->w_ho = &s->s_ho;
}

/*
 * In the child right after fork: make the default loop the child's own,
 * drop everything of the supervisor (the other rows' listeners too), and
 * become the worker of row pd.
 */
static void
sup_child_start(struct sup *s, const struct proc_desc *pd, struct worker *w)
{
	size_t	 p;

	ev_loop_fork(s->s_loop);
	sup_forget(s);
	w->w_loop = s->s_loop;
	w->w_cfg = s->s_cfg;
	w->w_shm = s->s_shm;
	w->w_listen = s->s_listen[pd - procs];
	sup_child_handoff(s, pd, w);
	for (p = 0; p < NPROCS; p++)
		if (&procs[p] != pd && s->s_listen[p] != -1)
			close(s->s_listen[p]);
	if (getppid() != s->s_pid)
		_exit(0);	/* the supervisor died while we forked */
	worker_run(w);
}

/*
 * In a forked child: stop every supervisor watcher and close the
 * descriptors of the supervisor's own work (the workers' channels, the
 * control socket).
 */
static void
sup_forget(struct sup *s)
{
	struct child	*ch;
	struct seat	*se;
	size_t		 p;
	int		 i;

	ev_signal_stop(s->s_loop, &s->s_sighup);
	ev_signal_stop(s->s_loop, &s->s_sigterm);
	ev_signal_stop(s->s_loop, &s->s_sigint);
	ev_signal_stop(s->s_loop, &s->s_sigusr1);
	ev_child_stop(s->s_loop, &s->s_sigchld);
	ev_timer_stop(s->s_loop, &s->s_tick);
	for (p = 0; p < NPROCS; p++)
		for (i = 0; i < MAX_WORKERS_PER_ROLE; i++) {
			se = &s->s_seats[p][i];
			ev_timer_stop(s->s_loop, &se->se_respawn);
		}
	TAILQ_FOREACH(ch, &s->s_children, ch_entry) {
		ev_io_stop(s->s_loop, &ch->ch_io);
		close(ch->ch_fd);
	}
	control_close_fds(s->s_ctl);
}

/* ------------------------------------------------------------------ */
/* Channel from the workers                                            */
/* ------------------------------------------------------------------ */

static void
sup_child_chan_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct child	*ch = io->data;
	char		 buf[IPC_MAX_MSG];
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 n;

	n = ipc_recv(ch->ch_fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The worker is gone or going; SIGCHLD does the rest. */
		ev_io_stop(loop, io);
		return;
	}
	if (ipc_decode(buf, (size_t)n, &hdr, &payload) != IPC_OK) {
		log_warnx("%s %d sent a malformed message; killing it",
		    ch->ch_proc->pd_name, ch->ch_index);
		(void)kill(ch->ch_pid, SIGKILL);
		ev_io_stop(loop, io);
		return;
	}
	sup_dispatch_child(ch, &hdr, payload);
}

/* One case per message type a worker may send. */
static void
sup_dispatch_child(struct child *ch, const struct ipc_hdr *hdr,
    const void *payload)
{
	log_debug("supervisor <- %s %d %s len %u", ch->ch_proc->pd_name,
	    ch->ch_index, ipc_type_str(hdr->ih_type), hdr->ih_len);
	switch (hdr->ih_type) {
	case IPC_PROC_READY:
		sup_child_ready(ch);
		break;
	default:
		log_warnx("%s %d sent unexpected %s; killing it",
		    ch->ch_proc->pd_name, ch->ch_index,
		    ipc_type_str(hdr->ih_type));
		(void)kill(ch->ch_pid, SIGKILL);
		break;
	}
}

static void
sup_child_ready(struct child *ch)
{
	ch->ch_ready = 1;
	log_info("worker up role=%s index=%d pid=%ld", ch->ch_proc->pd_name,
	    ch->ch_index, (long)ch->ch_pid);
	sup_check_ready(ch->ch_sup);
}

/* Once every configured seat has a ready worker, say so (once). */
static void
sup_check_ready(struct sup *s)
{
	struct seat	*se;
	char		 topo[512];
	size_t		 p;
	int		 i;

	if (s->s_state != SUP_RUNNING)
		return;
	if (atomic_load(&s->s_shm->sh_ready) && !s->s_reloading)
		return;
	for (p = 0; p < NPROCS; p++)
		for (i = 0; i < sup_count(s->s_cfg, &procs[p]); i++) {
			se = &s->s_seats[p][i];
			if (se->se_child == NULL || !se->se_child->ch_ready)
				return;
		}
	atomic_store(&s->s_shm->sh_ready, 1);
	s->s_reloading = 0;
	sup_notify_status(s);
	(void)notify_send("READY=1");
	sup_describe(s->s_cfg, 0, topo, sizeof(topo));
	log_info("routingd ready %s", topo);
}

static void
sup_notify_status(struct sup *s)
{
	char	 topo[512], buf[600];

	sup_describe(s->s_cfg, 1, topo, sizeof(topo));
	(void)snprintf(buf, sizeof(buf), "STATUS=serving %s", topo);
	(void)notify_send(buf);
}

/* ------------------------------------------------------------------ */
/* Reaping and respawning                                              */
/* ------------------------------------------------------------------ */

/* Say how a process ended: "exited with status 1", "killed by signal 9". */
static void
sup_describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		(void)snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)snprintf(buf, len, "killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		(void)snprintf(buf, len, "ended with wait status 0x%x",
		    status);
}

static void
sup_reap_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct sup	*s = w->data;
	struct child	*ch;

	if (sup_query_reaped(s, w->rpid, w->rstatus))
		return;
	TAILQ_FOREACH(ch, &s->s_children, ch_entry)
		if (ch->ch_pid == w->rpid)
			break;
	if (ch == NULL) {
		log_debug("reaped unknown pid=%ld", (long)w->rpid);
		return;
	}
	sup_reaped(s, ch, w->rstatus);
	sup_maybe_exit(s);
}

/* A worker ended: log how, free its record, refill its seat if current. */
static void
sup_reaped(struct sup *s, struct child *ch, int status)
{
	struct seat	*se;
	char		 how[128];
	uint64_t	 lived = util_mono_ms() - ch->ch_started_ms;
	int		 clean;

	sup_describe_exit(status, how, sizeof(how));
	clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	se = &s->s_seats[ch->ch_proc - procs][ch->ch_index];
	if (ch->ch_retired || s->s_state != SUP_RUNNING) {
		if (clean)
			log_debug("worker %s %d pid=%ld %s", ch->ch_proc->pd_name,
			    ch->ch_index, (long)ch->ch_pid, how);
		else
			log_notice("retired worker %s %d pid=%ld %s",
			    ch->ch_proc->pd_name, ch->ch_index,
			    (long)ch->ch_pid, how);
	} else
		log_warnx("lost child: %s %d pid=%ld %s after %llu ms",
		    ch->ch_proc->pd_name, ch->ch_index, (long)ch->ch_pid, how,
		    (unsigned long long)lived);
	if (se->se_child == ch) {
		se->se_child = NULL;
		if (s->s_state == SUP_RUNNING &&
		    ch->ch_index < sup_count(s->s_cfg, ch->ch_proc)) {
			se->se_restarts++;
			atomic_fetch_add(&s->s_shm->sh_restarts[
			    ch->ch_proc->pd_role], 1);
			sup_schedule_respawn(s, se, lived);
		}
	}
	if (se->se_child == NULL && ch->ch_proc->pd_handoff &&
	    s->s_pr != NULL && ch->ch_index < s->s_ho.hf_n &&
	    ch->ch_index >= sup_count(s->s_cfg, ch->ch_proc)) {
		/* a seat a reload removed: its entries go with its worker */
		pr_worker_reset(s->s_pr, (unsigned)ch->ch_index);
		pr_worker_start(s->s_pr, (unsigned)ch->ch_index);
	}
	sup_child_free(s, ch);
}

static void
sup_child_free(struct sup *s, struct child *ch)
{
	ev_io_stop(s->s_loop, &ch->ch_io);
	close(ch->ch_fd);
	shm_slot_release(s->s_shm, ch->ch_slot);
	TAILQ_REMOVE(&s->s_children, ch, ch_entry);
	free(ch);
}

/*
 * Refill a seat after a delay: none after a worker that lived
 * RESPAWN_STABLE_AFTER or more, else doubling from RESPAWN_MIN_DELAY up to
 * RESPAWN_MAX_DELAY with each consecutive quick death.
 */
static void
sup_schedule_respawn(struct sup *s, struct seat *se, uint64_t lived_ms)
{
	double	 delay = 0.0;
	int	 i;

	if (lived_ms >= (uint64_t)(RESPAWN_STABLE_AFTER * 1000))
		se->se_fast_deaths = 0;
	if (se->se_fast_deaths > 0) {
		delay = RESPAWN_MIN_DELAY;
		for (i = 1; i < se->se_fast_deaths && delay < RESPAWN_MAX_DELAY;
		    i++)
			delay *= 2;
		if (delay > RESPAWN_MAX_DELAY)
			delay = RESPAWN_MAX_DELAY;
	}
	se->se_fast_deaths++;
	if (delay > 0)
		log_notice("respawning %s %d in %.1f s", se->se_proc->pd_name,
		    se->se_index, delay);
	ev_timer_stop(s->s_loop, &se->se_respawn);
	ev_timer_set(&se->se_respawn, delay, 0.);
	ev_timer_start(s->s_loop, &se->se_respawn);
}

static void
sup_respawn_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct seat	*se = t->data;
	struct sup	*s = se->se_sup;

	if (s->s_state != SUP_RUNNING || se->se_child != NULL ||
	    se->se_index >= sup_count(s->s_cfg, se->se_proc))
		return;
	sup_spawn(s, se);
}

/* ------------------------------------------------------------------ */
/* Heartbeats and deadlines                                            */
/* ------------------------------------------------------------------ */

/*
 * Rotate the TLS session ticket keys once tls_ticket_rotate has passed
 * since the last rotation (a reload's new period counts from there).  A
 * failure of the random generator keeps the keys and tries again on the
 * next tick; it is logged once until a rotation succeeds.
 */
static void
sup_ticket_rotate(struct sup *s, uint64_t now)
{
	static int	 failing;

	if (now - s->s_tk_made_ms < (uint64_t)s->s_cfg->cf_tls_ticket_rotate)
		return;
	if (tk_rotate(&s->s_shm->sh_tls) == -1) {
		if (!failing)
			log_warnx("cannot rotate the TLS session ticket keys: "
			    "the random generator failed; trying again");
		failing = 1;
		return;
	}
	if (failing)
		log_info("TLS session ticket keys rotated again");
	failing = 0;
	s->s_tk_made_ms = now;
}

static void
sup_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sup	*s = t->data;
	struct child	*ch;
	uint64_t	 now = util_mono_ms();

	if (now - s->s_sampled_ms >= 1000) {
		metrics_proc_sample(&s->s_shm->sh_sup_proc);
		s->s_sampled_ms = now;
	}
	sup_ticket_rotate(s, now);
	TAILQ_FOREACH(ch, &s->s_children, ch_entry) {
		if (ch->ch_retired || s->s_state != SUP_RUNNING) {
			if (ch->ch_kill_at_ms != 0 && now >= ch->ch_kill_at_ms) {
				log_warnx("%s %d pid=%ld did not stop in time; "
				    "killing it", ch->ch_proc->pd_name,
				    ch->ch_index, (long)ch->ch_pid);
				(void)kill(ch->ch_pid, SIGKILL);
				ch->ch_kill_at_ms = 0;
			}
			continue;
		}
		sup_check_heartbeat(s, ch, now);
	}
}

/* Kill a worker that stopped beating (stuck, or stopped). */
static void
sup_check_heartbeat(struct sup *s, struct child *ch, uint64_t now)
{
	struct shm_slot	*ss = &s->s_shm->sh_slots[ch->ch_slot];
	uint64_t	 beat = atomic_load(&ss->ss_heartbeat_ms);
	uint64_t	 limit = (uint64_t)s->s_cfg->cf_heartbeat_timeout;

	if (now < beat || now - beat <= limit)
		return;
	log_warnx("%s %d pid=%ld missed its heartbeat for %llu ms; killing it",
	    ch->ch_proc->pd_name, ch->ch_index, (long)ch->ch_pid,
	    (unsigned long long)(now - beat));
	atomic_fetch_add(&s->s_shm->sh_heartbeat_kills, 1);
	(void)kill(ch->ch_pid, SIGKILL);
	/* Don't kill it again every tick while the kernel reaps it. */
	atomic_store(&ss->ss_heartbeat_ms, now + limit);
}

/* ------------------------------------------------------------------ */
/* Stop, retire, reload                                                */
/* ------------------------------------------------------------------ */

/*
 * Take a worker out of its seat, ask it to stop with sig (0: the caller
 * signals later) and kill it if it is not gone by deadline.
 */
static void
sup_retire(struct sup *s, struct child *ch, int sig, uint64_t deadline)
{
	struct seat	*se = &s->s_seats[ch->ch_proc - procs][ch->ch_index];

	if (se->se_child == ch)
		se->se_child = NULL;
	ch->ch_retired = 1;
	ch->ch_kill_at_ms = deadline;
	if (sig != 0) {
		ch->ch_signalled = 1;
		(void)kill(ch->ch_pid, sig);
	}
}

/* Begin a graceful (SUP_DRAINING) or fast (SUP_STOPPING) stop. */
static void
sup_stop(struct sup *s, enum sup_state how)
{
	struct child	*ch;
	struct seat	*se;
	uint64_t	 deadline;
	size_t		 p;
	int		 i, sig;

	if (s->s_state == how || s->s_state == SUP_STOPPING)
		return;
	s->s_state = how;
	atomic_store(&s->s_shm->sh_draining, 1);
	(void)notify_send("STOPPING=1");
	sig = (how == SUP_DRAINING) ? SIGTERM : SIGINT;
	deadline = util_mono_ms() + (how == SUP_DRAINING ?
	    (uint64_t)s->s_cfg->cf_shutdown_timeout : SUP_FAST_STOP_GRACE);
	log_info("%s deadline_ms=%llu", how == SUP_DRAINING ? "draining" :
	    "stopping fast", (unsigned long long)(deadline - util_mono_ms()));
	for (p = 0; p < NPROCS; p++)
		for (i = 0; i < MAX_WORKERS_PER_ROLE; i++) {
			se = &s->s_seats[p][i];
			ev_timer_stop(s->s_loop, &se->se_respawn);
		}
	for (p = 0; p < NPROCS; p++)
		if (s->s_listen[p] != -1) {
			close(s->s_listen[p]);
			s->s_listen[p] = -1;
		}
	TAILQ_FOREACH(ch, &s->s_children, ch_entry)
		if (!ch->ch_retired || how == SUP_STOPPING)
			sup_retire(s, ch, sig, deadline);
	sup_maybe_exit(s);
}

/* End the loop once a stop has seen every worker go. */
static void
sup_maybe_exit(struct sup *s)
{
	if (s->s_state != SUP_RUNNING && TAILQ_EMPTY(&s->s_children))
		ev_break(s->s_loop, EVBREAK_ALL);
}

/*
 * Reload: read the configuration again; if it is valid, bind what changed
 * and apply it: in place in the workers of a row that can take it (its
 * role has wo_config, its listener and count are unchanged), by a new
 * generation elsewhere (the old one drains, WebSockets closed with 1012
 * over the first half of shutdown_timeout).  Keys only a restart applies
 * keep their running value and are reported.  A bad file changes nothing.
 * Returns 0 with rep filled, or -1 with rep->ir_text saying why.
 */
static int
sup_reload(struct sup *s, struct ipc_reload *rep)
{
	struct cfg_errors	*errs;
	struct config		*ncfg = NULL;
	const char		*err = "";
	char			*text = NULL;
	size_t			 len = 0;
	int			 i, rv;

	memset(rep, 0, sizeof(*rep));
	if (s->s_state != SUP_RUNNING) {
		(void)snprintf(rep->ir_text, sizeof(rep->ir_text),
		    "routingd is stopping");
		return (-1);
	}
	if (s->s_opts.so_config == NULL) {
		(void)snprintf(rep->ir_text, sizeof(rep->ir_text), "running on "
		    "embedded defaults; nothing to reload");
		return (0);
	}
	if ((errs = calloc(1, sizeof(*errs))) == NULL) {
		(void)snprintf(rep->ir_text, sizeof(rep->ir_text),
		    "out of memory");
		return (-1);
	}
	if ((text = config_read_text(s->s_opts.so_config, &len, errs)) ==
	    NULL || config_load_text(s->s_opts.so_config, text, len, &ncfg,
	    errs) == -1 || tls_config_check(ncfg, errs) == -1)
		goto fail;
	sup_reload_diff(s->s_cfg, ncfg, 1, rep->ir_restart,
	    sizeof(rep->ir_restart));
	if (config_keep_restart(ncfg, s->s_cfg) == -1) {
		err = "out of memory";
		goto fail_state;
	}
	if (sup_prepare_state(ncfg, &err) == -1)
		goto fail_state;
	free(errs);
	sup_reload_diff(s->s_cfg, ncfg, 0, rep->ir_changed,
	    sizeof(rep->ir_changed));
	rv = sup_reload_apply(s, ncfg, text, len, rep);
	free(text);
	return (rv);
 fail_state:
	(void)snprintf(errs->ce_msg[errs->ce_n++ % CFG_MAX_ERRORS], CFG_ERRLEN,
	    "%s: %s", ncfg->cf_data_dir, err);
 fail:
	for (i = 0; i < errs->ce_n && i < CFG_MAX_ERRORS; i++)
		log_warnx("reload: %s", errs->ce_msg[i]);
	memset(rep, 0, sizeof(*rep));
	(void)snprintf(rep->ir_text, sizeof(rep->ir_text), "configuration not "
	    "reloaded, the old one stays: %s%s", errs->ce_msg[0],
	    errs->ce_n > 1 ? " (and more; see the log)" : "");
	config_free(ncfg);
	free(errs);
	free(text);
	return (-1);
}

/*
 * The keys whose value differs between old and new, space-separated into
 * buf: those only a restart applies if restart, else the others.
 */
static void
sup_reload_diff(const struct config *old, const struct config *new,
    int restart, char *buf, size_t len)
{
	const char	*name;
	size_t		 pos = 0, off = 0;
	int		 r;

	buf[0] = '\0';
	while ((name = config_changed(old, new, &pos, &r)) != NULL)
		if (r == restart)
			sup_append(buf, len, &off, "%s%s", off ? " " : "",
			    name);
}

/* 1 if row pd can take ncfg in place (text of len bytes). */
static int
sup_in_place(const struct sup *s, const struct config *ncfg,
    const struct proc_desc *pd, size_t len)
{
	const struct listen_addr	*old, *new;

	if (pd->pd_ops->wo_config == NULL || len > IPC_MAX_PAYLOAD ||
	    sup_count(s->s_cfg, pd) != sup_count(ncfg, pd))
		return (0);
	old = sup_listen_addr(s->s_cfg, pd);
	new = sup_listen_addr(ncfg, pd);
	return (old == NULL || strcmp(old->la_text, new->la_text) == 0);
}

/*
 * The listeners ncfg asks for, by row, into fds: the current socket where
 * the address is unchanged, a new one where it changed, -1 for a row
 * without.  Returns 0, or -1 with msg set (and no new socket left open)
 * if a bind fails.
 */
static int
sup_rebind(struct sup *s, const struct config *ncfg, int *fds, char *msg,
    size_t msglen)
{
	const struct listen_addr	*old, *new;
	const char			*err;
	size_t				 p;

	for (p = 0; p < NPROCS; p++) {
		old = sup_listen_addr(s->s_cfg, &procs[p]);
		new = sup_listen_addr(ncfg, &procs[p]);
		fds[p] = s->s_listen[p];
		if (new == NULL || strcmp(old->la_text, new->la_text) == 0)
			continue;
		if ((fds[p] = sup_listen(new, &err)) == -1) {
			(void)snprintf(msg, msglen, "configuration not "
			    "reloaded: %s failed for %s: %s", err,
			    new->la_text, strerror(errno));
			sup_unbind(s, fds, p);
			return (-1);
		}
	}
	return (0);
}

/* Close the first n of fds that are not current listeners (new ones). */
static void
sup_unbind(struct sup *s, const int *fds, size_t n)
{
	size_t	 p;

	for (p = 0; p < n; p++)
		if (fds[p] != s->s_listen[p])
			close(fds[p]);
}

/* Make fds (from sup_rebind) the listeners, closing the replaced ones. */
static void
sup_rebind_commit(struct sup *s, const int *fds)
{
	size_t	 p;

	for (p = 0; p < NPROCS; p++) {
		if (fds[p] != s->s_listen[p] && s->s_listen[p] != -1)
			close(s->s_listen[p]);
		s->s_listen[p] = fds[p];
	}
}

/* Two optional strings are equal (NULL equals NULL and ""). */
static int
sup_same_str(const char *a, const char *b)
{
	return (strcmp(a ? a : "", b ? b : "") == 0);
}

/*
 * Apply a valid ncfg (read as len bytes of text): listeners and control
 * socket first (a failure there changes nothing), then each row in place
 * or by a new generation (sup_reload_row).  Returns 0, or -1 with
 * rep->ir_text set; ncfg is taken either way.
 */
static int
sup_reload_apply(struct sup *s, struct config *ncfg, const char *text,
    size_t len, struct ipc_reload *rep)
{
	struct control	*nctl = s->s_ctl;
	const char	*err;
	char		*msg = rep->ir_text, topo[512];
	size_t		 msglen = sizeof(rep->ir_text);
	uint64_t	 deadline;
	int		 fds[NPROCS], inplace[NPROCS];
	size_t		 p;

	if (sup_rebind(s, ncfg, fds, msg, msglen) == -1)
		goto fail;
	if (strcmp(s->s_cfg->cf_control_socket, ncfg->cf_control_socket) != 0 &&
	    (nctl = control_new(s->s_loop, ncfg->cf_control_socket,
	    ncfg->cf_control_socket_group, &sup_ctl_ops, s, &err)) == NULL) {
		(void)snprintf(msg, msglen, "configuration not reloaded: "
		    "control socket %s: %s", ncfg->cf_control_socket, err);
		goto fail_listen;
	}
	if (nctl == s->s_ctl && !sup_same_str(s->s_cfg->cf_control_socket_group,
	    ncfg->cf_control_socket_group) && control_set_group(nctl,
	    ncfg->cf_control_socket_group, &err) == -1) {
		(void)snprintf(msg, msglen, "configuration not reloaded: "
		    "control_socket_group %s: %s",
		    ncfg->cf_control_socket_group, err);
		goto fail_listen;
	}
	if (nctl != s->s_ctl)
		control_free(s->s_ctl);
	s->s_ctl = nctl;
	for (p = 0; p < NPROCS; p++)
		inplace[p] = sup_in_place(s, ncfg, &procs[p], len);
	sup_rebind_commit(s, fds);
	config_free(s->s_cfg);
	s->s_cfg = ncfg;
	sup_apply_logging(s);
	deadline = util_mono_ms() + (uint64_t)ncfg->cf_shutdown_timeout;
	s->s_reloading = 1;
	(void)notify_send("RELOADING=1");
	for (p = 0; p < NPROCS; p++)
		sup_reload_row(s, &procs[p], inplace[p] ? text : NULL, len,
		    rep, deadline);
	sup_spawn_all(s);	/* new generation first, then retire the old */
	sup_reload_retire(s, ncfg);
	sup_check_ready(s);
	atomic_fetch_add(&s->s_shm->sh_reloads, 1);
	sup_describe(ncfg, 0, topo, sizeof(topo));
	sup_reload_text(ncfg, rep);
	log_info("%s; now %s", rep->ir_text, topo);	/* names the file */
	return (0);
 fail_listen:
	sup_unbind(s, fds, NPROCS);
 fail:
	log_warnx("reload: %s", msg);
	config_free(ncfg);
	return (-1);
}

/*
 * Row pd of a reload: with text, send it to
 * every current worker of the row (IPC_PROC_CONFIG; one that cannot take
 * it is replaced after all); without, retire every current worker of the
 * row (deadline), to be refilled by sup_spawn_all.  Lists the row in rep
 * if it has workers (a row of none, such as the push worker without a
 * gateway, was neither applied nor replaced).
 */
static void
sup_reload_row(struct sup *s, const struct proc_desc *pd, const char *text,
    size_t len, struct ipc_reload *rep, uint64_t deadline)
{
	struct child	*ch, *next;
	char		*list = text ? rep->ir_in_place : rep->ir_replaced;
	size_t		 cap = text ? sizeof(rep->ir_in_place) :
			    sizeof(rep->ir_replaced), off = strlen(list);
	int		 listed = 0;

	for (ch = TAILQ_FIRST(&s->s_children); ch != NULL; ch = next) {
		next = TAILQ_NEXT(ch, ch_entry);
		if (ch->ch_proc != pd || ch->ch_retired)
			continue;
		if (listed++ == 0)
			sup_append(list, cap, &off, "%s%s", off ? " " : "",
			    pd->pd_name);
		if (text != NULL && ipc_send(ch->ch_fd, IPC_PROC_CONFIG, 0,
		    text, len, 1) == 0)
			continue;
		if (text != NULL)
			log_warn("%s %d cannot take the configuration in "
			    "place; replacing it", pd->pd_name, ch->ch_index);
		sup_retire(s, ch, 0, deadline);
	}
}

/*
 * Ask every worker retired by this reload and not yet told to leave:
 * IPC_PROC_RETIRE, closing WebSockets with 1012 over the first half of
 * shutdown_timeout (SIGTERM if the channel will not take it).
 */
static void
sup_reload_retire(struct sup *s, const struct config *ncfg)
{
	struct ipc_retire	 r;
	struct child		*ch;

	memset(&r, 0, sizeof(r));
	r.ir_code = 1012;
	r.ir_spread_ms = (uint32_t)(ncfg->cf_shutdown_timeout / 2);
	TAILQ_FOREACH(ch, &s->s_children, ch_entry) {
		if (!ch->ch_retired || ch->ch_signalled)
			continue;
		ch->ch_signalled = 1;
		if (ipc_send(ch->ch_fd, IPC_PROC_RETIRE, 0, &r, sizeof(r),
		    1) == -1)
			(void)kill(ch->ch_pid, SIGTERM);
	}
}

/* The sentence of a successful reload, from the lists of rep. */
static void
sup_reload_text(const struct config *ncfg, struct ipc_reload *rep)
{
	size_t	 off = 0, len = sizeof(rep->ir_text);
	char	*t = rep->ir_text;

	sup_append(t, len, &off, "configuration reloaded from %s",
	    ncfg->cf_path);
	if (rep->ir_in_place[0] != '\0')
		sup_append(t, len, &off, "; in place: %s", rep->ir_in_place);
	if (rep->ir_replaced[0] != '\0')
		sup_append(t, len, &off, "; workers replaced: %s",
		    rep->ir_replaced);
	sup_append(t, len, &off, "; keys changed: %s", rep->ir_changed[0] ?
	    rep->ir_changed : "none");
	if (rep->ir_restart[0] != '\0')
		sup_append(t, len, &off, "; restart needed: %s (the running "
		    "value stays)", rep->ir_restart);
}

/* Apply log_level (unless -v) and log_file (unless -d) of s_cfg. */
static void
sup_apply_logging(struct sup *s)
{
	log_setlevel(s->s_opts.so_verbose ? CFG_LOG_DEBUG :
	    s->s_cfg->cf_log_level);
	if (s->s_opts.so_debug)
		return;
	if (s->s_cfg->cf_log_file == NULL)
		log_close();
	else if (log_open_file(s->s_cfg->cf_log_file) == -1)
		log_warn("cannot open log_file %s", s->s_cfg->cf_log_file);
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

static void
sup_sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct ipc_reload	 rep;

	(void)sup_reload(w->data, &rep);	/* it logs the outcome, once */
}

static void
sup_sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	sup_stop(w->data, SUP_DRAINING);
}

static void
sup_sigint_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	sup_stop(w->data, SUP_STOPPING);
}

/* SIGUSR1: reopen our log file and have every worker do the same. */
static void
sup_sigusr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct sup	*s = w->data;
	struct child	*ch;

	if (log_reopen() == -1)
		log_warn("cannot reopen log file");
	TAILQ_FOREACH(ch, &s->s_children, ch_entry)
		(void)kill(ch->ch_pid, SIGUSR1);
}

/* ------------------------------------------------------------------ */
/* Control socket requests                                             */
/* ------------------------------------------------------------------ */

/* The status reply's entry for row pd. */
static void
sup_ctl_status_role(struct sup *s, const struct proc_desc *pd,
    struct ipc_role_status *rs)
{
	const struct listen_addr	*la = sup_listen_addr(s->s_cfg, pd);

	(void)snprintf(rs->rs_name, sizeof(rs->rs_name), "%s", pd->pd_name);
	if (la != NULL)
		(void)snprintf(rs->rs_listen, sizeof(rs->rs_listen), "%s",
		    la->la_text);
	rs->rs_workers = (uint32_t)sup_count(s->s_cfg, pd);
	rs->rs_restarts = atomic_load(&s->s_shm->sh_restarts[pd->pd_role]);
}

static void
sup_ctl_status(void *arg, struct ipc_status *st)
{
	struct sup	*s = arg;
	struct child	*ch;
	uint64_t	 now = util_real_ms();
	size_t		 p;

	memset(st, 0, sizeof(*st));
	(void)snprintf(st->is_version, sizeof(st->is_version), "%s",
	    PACKAGE_VERSION);
	(void)snprintf(st->is_config, sizeof(st->is_config), "%s",
	    s->s_cfg->cf_path ? s->s_cfg->cf_path : "");
	(void)snprintf(st->is_data_dir, sizeof(st->is_data_dir), "%s",
	    s->s_cfg->cf_data_dir);
	st->is_pid = (int32_t)s->s_pid;
	st->is_ready = atomic_load(&s->s_shm->sh_ready);
	st->is_draining = atomic_load(&s->s_shm->sh_draining);
	for (p = 0; p < NPROCS; p++)	/* NPROCS <= IPC_MAX_ROLES */
		sup_ctl_status_role(s, &procs[p], &st->is_roles[p]);
	st->is_nroles = (uint32_t)p;
	TAILQ_FOREACH(ch, &s->s_children, ch_entry)
		if (ch->ch_ready && !ch->ch_retired)
			st->is_workers_up++;
	st->is_started = s->s_shm->sh_started_real_ms / 1000;
	st->is_uptime = (now - s->s_shm->sh_started_real_ms) / 1000;
	st->is_reloads = atomic_load(&s->s_shm->sh_reloads);
	st->is_drained = atomic_load(&s->s_shm->sh_drained) != 0;
	st->is_drained_since = atomic_load(&s->s_shm->sh_drained_since_ms) /
	    1000;
	st->is_ws_open = atomic_load(&s->s_shm->sh_ws.sw_active);
}

static size_t
sup_ctl_workers(void *arg, struct ipc_worker *out, size_t max)
{
	struct sup	*s = arg;
	struct child	*ch;
	struct shm_slot	*ss;
	struct ipc_worker *iw;
	uint64_t	 now = util_mono_ms(), beat;
	size_t		 n = 0;

	TAILQ_FOREACH(ch, &s->s_children, ch_entry) {
		if (n == max)
			break;
		iw = &out[n++];
		ss = &s->s_shm->sh_slots[ch->ch_slot];
		memset(iw, 0, sizeof(*iw));
		(void)snprintf(iw->iw_role, sizeof(iw->iw_role), "%s",
		    ch->ch_proc->pd_name);
		iw->iw_index = (uint32_t)ch->ch_index;
		iw->iw_pid = (int32_t)ch->ch_pid;
		iw->iw_state = ch->ch_retired ? IPC_WORKER_DRAINING :
		    ch->ch_ready ? IPC_WORKER_READY : IPC_WORKER_STARTING;
		iw->iw_restarts = s->s_seats[ch->ch_proc - procs]
		    [ch->ch_index].se_restarts;
		iw->iw_uptime_ms = now - ch->ch_started_ms;
		beat = atomic_load(&ss->ss_heartbeat_ms);
		iw->iw_heartbeat_age_ms = now > beat ? now - beat : 0;
		iw->iw_conns = atomic_load(&ss->ss_conns);
		iw->iw_requests = atomic_load(&ss->ss_requests);
	}
	return (n);
}

static int
sup_ctl_reload(void *arg, struct ipc_reload *rep)
{
	return (sup_reload(arg, rep));
}

static void
sup_ctl_stop(void *arg)
{
	sup_stop(arg, SUP_DRAINING);
}

/*
 * routingctl drain (on) and undrain (off): the flag in shared memory that
 * every worker reads, so a worker forked while drained starts drained.
 * Idempotent.  Returns 0 with msg saying what happened, or -1 (stopping).
 */
static int
sup_ctl_drain(void *arg, int on, char *msg, size_t msglen)
{
	struct sup	*s = arg;
	int		 was = atomic_load(&s->s_shm->sh_drained) != 0;

	if (s->s_state != SUP_RUNNING) {
		(void)snprintf(msg, msglen, "routingd is stopping");
		return (-1);
	}
	if (on && !was) {
		atomic_store(&s->s_shm->sh_drained_since_ms, util_real_ms());
		atomic_store(&s->s_shm->sh_drained, 1);
		log_notice("drained: new sends and WebSocket upgrades get 503, "
		    "WebSockets close with 1001 over %lld ms",
		    (long long)s->s_cfg->cf_shutdown_timeout / 2);
	} else if (!on && was) {
		atomic_store(&s->s_shm->sh_drained, 0);
		atomic_store(&s->s_shm->sh_drained_since_ms, 0);
		log_notice("undrained: serving again");
	}
	(void)snprintf(msg, msglen, "%s%s", on ? "drained" : "serving",
	    on == was ? " (already)" : "");
	return (0);
}

/*
 * routingctl token: signed here with the running configuration's secret
 * (a few microseconds of HMAC, no LMDB).  jwt_secret_file is read per
 * request, while workers keep the key they loaded: after rotating the
 * file, reload before minting.
 */
static int
sup_ctl_token(void *arg, const struct ipc_token_req *req,
    struct ipc_token *out, char *msg, size_t msglen)
{
	struct sup	*s = arg;
	const char	*err = "error";

	if (auth_mint(s->s_cfg, req->tr_user, req->tr_device, req->tr_ttl,
	    time(NULL), out->tk_token, sizeof(out->tk_token), &out->tk_exp,
	    &err) == -1) {
		(void)snprintf(msg, msglen, "cannot mint a token: %s", err);
		return (-1);
	}
	log_info("minted a token user=%s device=%s ttl=%lld", req->tr_user,
	    req->tr_device[0] != '\0' ? req->tr_device : "-",
	    (long long)req->tr_ttl);
	return (0);
}

/*
 * A store query: fork a query child (query.c) for it, at most QUERY_MAX
 * at once.  The child answers on fd; the supervisor only reaps it
 * (sup_query_reaped).  Signals are blocked across the fork as for a
 * worker.
 */
static int
sup_ctl_query(void *arg, int fd, uint32_t type, const void *payload,
    size_t len, char *msg, size_t msglen)
{
	struct sup		*s = arg;
	struct query_ctx	 qc;
	sigset_t		 all, old;
	pid_t			 pid;
	size_t			 i;

	if (s->s_state != SUP_RUNNING) {
		(void)snprintf(msg, msglen, "routingd is stopping");
		return (-1);
	}
	for (i = 0; i < QUERY_MAX && s->s_queries[i] != 0; i++)
		;
	if (i == QUERY_MAX) {
		(void)snprintf(msg, msglen, "busy: %d store queries are "
		    "running; try again", QUERY_MAX);
		return (-1);
	}
	qc.qc_cfg = s->s_cfg;
	qc.qc_shm = s->s_shm;
	qc.qc_pr = s->s_pr;
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	pid = query_fork(&qc, fd, type, payload, len);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		(void)snprintf(msg, msglen, "cannot fork a query process: %s",
		    strerror(errno));
		log_warn("fork() failed for %s", ipc_type_str(type));
		return (-1);
	}
	s->s_queries[i] = pid;
	log_debug("query pid=%ld for %s", (long)pid, ipc_type_str(type));
	return (0);
}

/* 1 if pid was a query child (its place is free again), else 0. */
static int
sup_query_reaped(struct sup *s, pid_t pid, int status)
{
	char	 how[128];
	size_t	 i;

	for (i = 0; i < QUERY_MAX; i++)
		if (s->s_queries[i] == pid)
			break;
	if (i == QUERY_MAX)
		return (0);
	s->s_queries[i] = 0;
	sup_describe_exit(status, how, sizeof(how));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("query pid=%ld %s", (long)pid, how);
	else
		log_info("query pid=%ld %s (it told routingctl why)",
		    (long)pid, how);
	return (1);
}

/* What GET /metrics shows, from the same shared memory (the store
 * gauges as the first API worker last refreshed them). */
static int
sup_ctl_stats(void *arg, char **text, size_t *len)
{
	struct sup	*s = arg;

	return (metrics_render(s->s_shm, text, len));
}
