/*
 * worker.c: the life cycle common to every worker process (API and WS).
 *
 * Runs in a worker, right after fork.  It owns the worker's signal
 * watchers, the channel to the supervisor (IPC_PROC_CONFIG: a reload in
 * place, handed to the role; IPC_PROC_RETIRE: a drain whose WebSocket
 * closes carry its code, spread over its time) and the heartbeat (which
 * also samples the process's resource use into its slot).  Invariants:
 * the heartbeat is written only from the event loop, so a worker stuck in
 * a callback stops beating and the supervisor kills it; a worker exits
 * when its supervisor is gone (channel EOF, or PR_SET_PDEATHSIG), so there
 * are never orphans; drain is idempotent and bounded by shutdown_timeout.
 */

#include <sys/types.h>
#include <sys/prctl.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "metrics.h"
#include "routingd.h"
#include "server.h"
#include "shm.h"
#include "tls.h"
#include "worker.h"

static void	worker_beat_cb(struct ev_loop *, ev_timer *, int);
static void	worker_deadline_cb(struct ev_loop *, ev_timer *, int);
static void	worker_sigterm_cb(struct ev_loop *, ev_signal *, int);
static void	worker_sigint_cb(struct ev_loop *, ev_signal *, int);
static void	worker_sigusr1_cb(struct ev_loop *, ev_signal *, int);
static void	worker_chan_cb(struct ev_loop *, ev_io *, int);
static void	worker_drain(struct worker *, const char *);
static void	worker_watchers(struct worker *);
static void	worker_report_ready(struct worker *);
static void	worker_dispatch(struct worker *, const struct ipc_hdr *,
		    const void *);
static void	worker_retire(struct worker *, const void *);

/*
 * worker_run: see worker.h.  Never returns: exits 0 after a drain, 1 if
 * the role cannot start.
 */
void
worker_run(struct worker *w)
{
	sigset_t	 none;

	log_procinit(w->w_ops->wo_name, w->w_index);
	util_title_set("routingd: %s %d", w->w_ops->wo_name, w->w_index);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	w->w_slot = &w->w_shm->sh_slots[w->w_slotno];
	w->w_close_code = 1001;
	w->w_spread_ms = 0;
	atomic_store(&w->w_slot->ss_heartbeat_ms, util_mono_ms());
	metrics_proc_sample(&w->w_slot->ss_proc);
	worker_watchers(w);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (w->w_ops->wo_init(w) == -1)
		exit(1);
	worker_report_ready(w);
	ev_run(w->w_loop, 0);
	if (w->w_ops->wo_free != NULL)
		w->w_ops->wo_free(w);
	log_debug("worker exiting pid=%ld", (long)getpid());
	exit(0);
}

/* Start the signal, channel and heartbeat watchers of the worker. */
static void
worker_watchers(struct worker *w)
{
	ev_signal_init(&w->w_sigterm, worker_sigterm_cb, SIGTERM);
	ev_signal_init(&w->w_sigint, worker_sigint_cb, SIGINT);
	ev_signal_init(&w->w_sigusr1, worker_sigusr1_cb, SIGUSR1);
	ev_io_init(&w->w_chan_io, worker_chan_cb, w->w_chan, EV_READ);
	ev_timer_init(&w->w_beat, worker_beat_cb, HEARTBEAT_INTERVAL,
	    HEARTBEAT_INTERVAL);
	ev_init(&w->w_deadline, worker_deadline_cb);
	w->w_sigterm.data = w->w_sigint.data = w->w_sigusr1.data = w;
	w->w_chan_io.data = w->w_beat.data = w->w_deadline.data = w;
	ev_signal_start(w->w_loop, &w->w_sigterm);
	ev_signal_start(w->w_loop, &w->w_sigint);
	ev_signal_start(w->w_loop, &w->w_sigusr1);
	ev_io_start(w->w_loop, &w->w_chan_io);
	ev_timer_start(w->w_loop, &w->w_beat);
}

/* Tell the supervisor this worker listens and serves. */
static void
worker_report_ready(struct worker *w)
{
	struct ipc_ready	 r;

	memset(&r, 0, sizeof(r));
	r.ir_role = (uint32_t)w->w_role;
	r.ir_index = (uint32_t)w->w_index;
	r.ir_slot = (uint32_t)w->w_slotno;
	atomic_store(&w->w_slot->ss_state, SHM_SLOT_READY);
	if (ipc_send(w->w_chan, IPC_PROC_READY, 0, &r, sizeof(r), 0) == -1)
		log_warn("%s: cannot report readiness", __func__);
	log_debug("worker ready pid=%ld slot=%d", (long)getpid(),
	    w->w_slotno);
}

/* worker_is_ready: see worker.h. */
int
worker_is_ready(const struct worker *w)
{
	return (atomic_load(&w->w_shm->sh_ready) &&
	    !atomic_load(&w->w_shm->sh_draining) &&
	    !atomic_load(&w->w_shm->sh_drained) && !w->w_draining);
}

/* worker_is_drained: see worker.h. */
int
worker_is_drained(const struct worker *w)
{
	return (atomic_load(&w->w_shm->sh_drained) != 0);
}

/* Write the heartbeat stamp the supervisor watches, and sample this
 * process's resource use for the process_* metrics. */
static void
worker_beat_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	atomic_store(&w->w_slot->ss_heartbeat_ms, util_mono_ms());
	metrics_proc_sample(&w->w_slot->ss_proc);
}

/* Begin a graceful drain, at most once; the deadline bounds it. */
static void
worker_drain(struct worker *w, const char *why)
{
	double	 limit = (double)w->w_cfg->cf_shutdown_timeout / 1000.0;

	if (w->w_draining)
		return;
	w->w_draining = 1;
	atomic_store(&w->w_slot->ss_state, SHM_SLOT_DRAINING);
	log_debug("draining (%s) conns=%llu", why, (unsigned long long)
	    atomic_load(&w->w_slot->ss_conns));
	ev_timer_set(&w->w_deadline, limit, 0.);
	ev_timer_start(w->w_loop, &w->w_deadline);
	w->w_ops->wo_drain(w);
}

/* worker_drained: see worker.h.  Ends the loop; worker_run exits 0. */
void
worker_drained(struct worker *w)
{
	if (w->w_exiting)
		return;
	w->w_exiting = 1;
	ev_break(w->w_loop, EVBREAK_ALL);
}

/* The drain took longer than shutdown_timeout: leave now. */
static void
worker_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	log_warnx("drain deadline passed with conns=%llu; exiting",
	    (unsigned long long)atomic_load(&w->w_slot->ss_conns));
	_exit(0);
}

static void
worker_sigterm_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	worker_drain(s->data, "SIGTERM");
}

/* SIGINT: fast stop.  Nothing was acknowledged that is not on disk. */
static void
worker_sigint_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	_exit(0);
}

static void
worker_sigusr1_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	if (log_reopen() == -1)
		log_warn("%s: cannot reopen log file", __func__);
}

/*
 * The supervisor channel: IPC_PROC_CONFIG and IPC_PROC_RETIRE in, one
 * case each; anything else is ignored.  EOF means the supervisor is gone,
 * and a worker never outlives its supervisor.
 */
static void
worker_chan_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	static char	 buf[IPC_MAX_MSG];
	struct ipc_hdr	 hdr;
	const void	*payload;
	ssize_t		 n;

	n = ipc_recv(w->w_chan, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (ipc_decode(buf, (size_t)n, &hdr, &payload) == IPC_OK)
			worker_dispatch(w, &hdr, payload);
		else
			log_debug("%s: ignoring a malformed message", __func__);
		return;
	}
	ev_io_stop(loop, io);
	worker_drain(w, "supervisor gone");
}

/* One case per message the supervisor sends a worker. */
static void
worker_dispatch(struct worker *w, const struct ipc_hdr *hdr,
    const void *payload)
{
	switch (hdr->ih_type) {
	case IPC_PROC_CONFIG:
		if (w->w_ops->wo_config != NULL && !w->w_draining)
			w->w_ops->wo_config(w, payload, hdr->ih_len);
		break;
	case IPC_PROC_RETIRE:
		worker_retire(w, payload);
		break;
	default:
		log_debug("%s: ignoring %s", __func__,
		    ipc_type_str(hdr->ih_type));
		break;
	}
}

/* IPC_PROC_RETIRE: drain with its close code, spread over its time. */
static void
worker_retire(struct worker *w, const void *payload)
{
	struct ipc_retire	 r;

	memcpy(&r, payload, sizeof(r));
	if (!w->w_draining) {
		w->w_close_code = (uint16_t)r.ir_code;
		w->w_spread_ms = r.ir_spread_ms;
		w->w_retired = 1;
	}
	worker_drain(w, "retired");
}

/* Fill a server_config from the configuration and TLS context tls. */
static void
worker_server_config(const struct config *cfg, int64_t max_body,
    SSL_CTX *tls, struct server_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->sc_tls = tls;
	sc->sc_max_body = max_body;
	sc->sc_header_timeout = (double)cfg->cf_client_header_timeout / 1000.0;
	sc->sc_body_timeout = (double)cfg->cf_client_body_timeout / 1000.0;
	sc->sc_keepalive_timeout = (double)cfg->cf_keepalive_timeout / 1000.0;
	sc->sc_write_timeout = (double)cfg->cf_send_timeout / 1000.0;
	sc->sc_max_clients = (unsigned)cfg->cf_max_clients;
}

/* worker_apply_logging: see worker.h. */
void
worker_apply_logging(struct worker *w, const struct config *cfg)
{
	log_setlevel(w->w_verbose ? CFG_LOG_DEBUG : cfg->cf_log_level);
	if (w->w_stderr)
		return;
	if (cfg->cf_log_file == NULL)
		log_close();
	else if (log_open_file(cfg->cf_log_file) == -1)
		log_warn("cannot open log_file %s", cfg->cf_log_file);
}

/* worker_http_reconfig: see worker.h. */
void
worker_http_reconfig(struct worker *w, const struct config *cfg,
    int64_t max_body)
{
	struct server_config	 sc;
	SSL_CTX			*tls;
	char			 err[512];

	if (w->w_srv == NULL)
		return;
	/* renewed certificate files: new connections get them; open ones
	 * hold a reference to the old context, freed after the last */
	if (tls_config_ctx(cfg, w->w_tls_flags, &w->w_shm->sh_tls, &tls, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: %s; new connections keep the previous TLS "
		    "setup", err);
		tls = w->w_tls;
		if (tls != NULL)
			SSL_CTX_up_ref(tls);
	}
	worker_server_config(cfg, max_body, tls, &sc);
	server_set_config(w->w_srv, &sc);
	SSL_CTX_free(w->w_tls);
	w->w_tls = tls;
}

/* worker_http_start: see worker.h. */
int
worker_http_start(struct worker *w, int tls_flags, int64_t max_body,
    void (*handler)(struct server_conn *, const struct http_request *,
    void *), void *arg)
{
	struct server_config	 sc;
	char			 err[512];

	w->w_tls_flags = tls_flags;
	if (tls_config_ctx(w->w_cfg, tls_flags, &w->w_shm->sh_tls, &w->w_tls,
	    err, sizeof(err)) == -1) {
		log_warnx("cannot serve TLS: %s", err);
		return (-1);
	}
	worker_server_config(w->w_cfg, max_body, w->w_tls, &sc);
	w->w_srv = server_new(w->w_loop, w->w_listen, &sc, handler, arg,
	    w->w_slot);
	if (w->w_srv == NULL) {
		log_warn("%s: cannot start the HTTP server", __func__);
		return (-1);
	}
	return (0);
}

static void
worker_http_idle_cb(void *arg)
{
	worker_drained(arg);
}

/* worker_http_drain: see worker.h. */
void
worker_http_drain(struct worker *w)
{
	double	 grace = 0;

	if (w->w_retired) {
		grace = (double)w->w_cfg->cf_keepalive_timeout / 1000.0;
		if (grace > (double)w->w_spread_ms / 1000.0)
			grace = (double)w->w_spread_ms / 1000.0;
	}
	server_drain(w->w_srv, grace, worker_http_idle_cb, w);
}

/* worker_http_free: see worker.h. */
void
worker_http_free(struct worker *w)
{
	if (w->w_srv != NULL)
		server_free(w->w_srv);
	w->w_srv = NULL;
	SSL_CTX_free(w->w_tls);
	w->w_tls = NULL;
}
