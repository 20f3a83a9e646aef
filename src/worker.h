/*
 * worker.h: what every worker process has, whatever its role, and the
 * hooks a role (api.c, ws.c) plugs into the common worker life cycle.
 */

#ifndef WORKER_H
#define WORKER_H

#include <ev.h>
#include <openssl/ssl.h>

#include "config.h"
#include "routingd.h"
#include "shm.h"

struct server;
struct worker;
struct presence;
struct handoff_fds;

/* A role's hooks: the process table in supervisor.c points at these. */
struct worker_ops {
	const char	*wo_name;			/* "api", "ws" */
	/* set up listeners and state; 0, or -1 (the worker exits 1) */
	int		(*wo_init)(struct worker *);
	/* stop accepting, finish in-flight work, then call worker_drained */
	void		(*wo_drain)(struct worker *);
	/* free the role's state (after the loop ends) */
	void		(*wo_free)(struct worker *);
	/* NULL: the role is replaced on reload.  Else apply the validated
	 * configuration text (len bytes, IPC_PROC_CONFIG) in place; the
	 * role logs a failure once and keeps the configuration it has */
	void		(*wo_config)(struct worker *, const char *, size_t);
};

struct worker {
	struct ev_loop		*w_loop;
	const struct config	*w_cfg;		/* the supervisor's copy, or
						 * the role's after wo_config */
	struct shm		*w_shm;
	struct shm_slot		*w_slot;
	const struct worker_ops	*w_ops;
	int			 w_role;	/* enum proc_role */
	int			 w_index;
	int			 w_slotno;
	int			 w_chan;	/* SEQPACKET to the supervisor */
	int			 w_listen;	/* this role's listening socket */
	int			 w_draining;
	int			 w_retired;	/* the drain is a reload's: the
						 * requests it still gets are
						 * served (a stop refuses them) */
	int			 w_exiting;
	uint16_t		 w_close_code;	/* WebSocket close of a drain:
						 * 1001, or IPC_PROC_RETIRE's */
	uint32_t		 w_spread_ms;	/* closes spread over this */
	int			 w_verbose;	/* routingd -v: debug always */
	int			 w_stderr;	/* routingd -d: never log_file */
	void			*w_ctx;		/* the role's state */
	struct server		*w_srv;		/* its HTTP server */
	SSL_CTX			*w_tls;		/* its TLS context, or NULL */
	int			 w_tls_flags;	/* TLS_F_*, worker_http_start's */
	struct presence		*w_pr;		/* presence table (shared) */
	const struct handoff_fds *w_ho;		/* hand-off sockets */

	ev_signal		 w_sigterm;
	ev_signal		 w_sigint;
	ev_signal		 w_sigusr1;
	ev_io			 w_chan_io;
	ev_timer		 w_beat;
	ev_timer		 w_deadline;
};

/*
 * worker_run: the body of a freshly forked worker.  The caller has already
 * called ev_loop_fork() and stopped or closed everything of the supervisor
 * (supervisor.c does both).  Sets the title, watchers and heartbeat, runs
 * wo_init, reports IPC_PROC_READY, runs the loop and exits the process.
 */
void		 worker_run(struct worker *) __attribute__((noreturn));

/* worker_drained: the role has nothing in flight any more; exit cleanly. */
void		 worker_drained(struct worker *);

/* worker_is_ready: 1 if the daemon is ready and not drained (routingctl
 * drain) and this worker not draining. */
int		 worker_is_ready(const struct worker *);

/* worker_is_drained: 1 while routingctl drain holds (shared memory). */
int		 worker_is_drained(const struct worker *);

/*
 * worker_apply_logging: log_level (unless -v) and log_file (unless -d) of
 * cfg, as the supervisor applies them (after wo_config).
 */
void		 worker_apply_logging(struct worker *, const struct config *);

/*
 * worker_http_reconfig: give the worker's HTTP server the timeouts and
 * client cap of cfg, max_body as the body limit, and a TLS context built
 * anew from cfg's files with worker_http_start's tls_flags (after
 * wo_config).
 */
void		 worker_http_reconfig(struct worker *, const struct config *,
		    int64_t max_body);

struct http_request;
struct server_conn;

/*
 * worker_http_start: serve HTTP/1.1 on the worker's listening socket with
 * the configured timeouts and client cap, max_body as the body limit, and
 * handler(conn, req, arg) for every request; over TLS when tls_cert is
 * set, with the session ticket keys of shared memory and tls_flags
 * (TLS_F_* of tls.h) for tls_config_ctx.  Returns 0, or -1 (logged).
 */
int		 worker_http_start(struct worker *, int tls_flags,
		    int64_t max_body,
		    void (*handler)(struct server_conn *,
		    const struct http_request *, void *), void *arg);

/*
 * worker_http_drain: stop accepting and call worker_drained once the last
 * connection is gone.  The wo_drain hook of a role with nothing else in
 * flight.  A stop or drain closes idle keep-alive connections at once; a
 * reload's retirement gives them keepalive_timeout, at most half of
 * shutdown_timeout (w_spread_ms), to bring one more request, answered
 * with Connection: close (see server_drain).
 */
void		 worker_http_drain(struct worker *);

/* worker_http_free: close every connection (after the loop ended). */
void		 worker_http_free(struct worker *);

/* The roles. */
extern const struct worker_ops	api_ops;
extern const struct worker_ops	ws_ops;

#endif /* WORKER_H */
