/*
 * control.c: the control socket, run by the supervisor only.
 *
 * Owns: the listening SOCK_SEQPACKET socket at the configured path (and
 * the path itself: it is created here and unlinked by control_free), and
 * every accepted routingctl connection with its watchers.  The supervisor
 * supplies the answers through struct control_ops; this file only frames,
 * checks and routes requests.
 *
 * Invariants:
 * - At most CONTROL_MAX_CLIENTS connections; one more is told why and
 *   closed.  A connection idle for CONTROL_IDLE seconds is closed.
 * - One request is read at a time and answered at once, non-blocking: a
 *   client whose socket is full (it does not read) is dropped, so the
 *   supervisor never blocks on routingctl.  A store query is not
 *   answered here: the connection goes to a query child (co_query,
 *   query.c), which answers it, and this file forgets the client.  A
 *   stats reply is several datagrams, sent together after the send
 *   buffer is sized for them.
 * - A request whose ih_peerid is not IPC_VERSION, an unknown type or a
 *   malformed message is answered with IPC_CTL_FAIL, never fatal.
 * - Client trouble is logged at debug level only.
 * - After control_close_fds (in a forked child) the struct owns no fd, no
 *   active watcher and no path: control_free then only releases memory.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	1	/* accept4, struct ucred (configure sets it too) */
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "control.h"
#include "ipc.h"
#include "log.h"

#define CONTROL_MAX_CLIENTS	64	/* connections at once */
#define CONTROL_IDLE		30.0	/* seconds a client may stay silent */
#define CONTROL_BACKLOG		16	/* listen(2) queue */
#define CONTROL_ACCEPT_BATCH	16	/* accepts per listen callback */

struct control_client {
	TAILQ_ENTRY(control_client)	 cc_entry;
	struct control			*cc_ctl;
	int				 cc_fd;
	pid_t				 cc_pid;	/* SO_PEERCRED */
	uid_t				 cc_uid;
	ev_io				 cc_io;
	ev_timer			 cc_idle;
};

TAILQ_HEAD(control_clients, control_client);

/* The IPC_CTL_WORKERS_REPLY payload, built in place. */
struct control_workers_msg {
	struct ipc_workers	 cw_hdr;
	struct ipc_worker	 cw_w[IPC_MAX_WORKERS];
};
_Static_assert(offsetof(struct control_workers_msg, cw_w) ==
    sizeof(struct ipc_workers), "padding after struct ipc_workers");

/* One IPC_CTL_STATS_REPLY part, built in place. */
struct control_stats_msg {
	struct ipc_stats_part	 cs_hdr;
	char			 cs_text[IPC_STATS_CHUNK];
};
_Static_assert(offsetof(struct control_stats_msg, cs_text) ==
    sizeof(struct ipc_stats_part), "padding after struct ipc_stats_part");

struct control {
	struct ev_loop			*ctl_loop;
	char				*ctl_path;
	int				 ctl_fd;
	int				 ctl_closed;	/* control_close_fds */
	ev_io				 ctl_io;
	const struct control_ops	*ctl_ops;
	void				*ctl_arg;
	struct control_clients		 ctl_clients;
	size_t				 ctl_nclients;
	unsigned char			 ctl_rbuf[IPC_MAX_MSG];
	struct control_workers_msg	 ctl_workers;
	struct control_stats_msg	 ctl_stats;
};

static int	 control_sockaddr(const char *, struct sockaddr_un *,
		    const char **);
static int	 control_probe(const char *, const char **);
static int	 control_bind(struct control *, const char *, const char *,
		    const char **);
static int	 control_set_mode(const char *, const char *, const char **);
static void	 control_accept_cb(struct ev_loop *, ev_io *, int);
static void	 control_client_new(struct control *, int);
static void	 control_client_free(struct control_client *);
static void	 control_client_read_cb(struct ev_loop *, ev_io *, int);
static void	 control_client_idle_cb(struct ev_loop *, ev_timer *, int);
static void	 control_dispatch(struct control_client *, const void *,
		    size_t);
static int	 control_reply(struct control_client *, uint32_t,
		    const void *, size_t);
static int	 control_reply_text(struct control_client *, uint32_t,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
static void	 control_do_status(struct control_client *);
static void	 control_do_workers(struct control_client *);
static void	 control_do_reload(struct control_client *);
static void	 control_do_stop(struct control_client *);
static void	 control_do_drain(struct control_client *, int);
static void	 control_do_token(struct control_client *, const void *);
static void	 control_do_query(struct control_client *, uint32_t,
		    const void *, size_t);
static void	 control_do_stats(struct control_client *);

/*
 * control_new: see control.h.  Order: probe the path for a live daemon,
 * remove a stale socket, bind under umask 0177, set owner and mode,
 * listen, then watch for connections.
 */
struct control *
control_new(struct ev_loop *loop, const char *path, const char *group,
    const struct control_ops *ops, void *arg, const char **errstr)
{
	struct control	*ctl;
	int		 saved;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
		*errstr = "out of memory";
		return (NULL);
	}
	ctl->ctl_fd = -1;
	ctl->ctl_loop = loop;
	ctl->ctl_ops = ops;
	ctl->ctl_arg = arg;
	TAILQ_INIT(&ctl->ctl_clients);
	if ((ctl->ctl_path = strdup(path)) == NULL) {
		*errstr = "out of memory";
		goto fail;
	}
	if (control_probe(path, errstr) == -1)
		goto fail;
	if (control_bind(ctl, path, group, errstr) == -1)
		goto fail;
	ev_io_init(&ctl->ctl_io, control_accept_cb, ctl->ctl_fd, EV_READ);
	ctl->ctl_io.data = ctl;
	ev_io_start(loop, &ctl->ctl_io);
	return (ctl);
 fail:
	saved = errno;
	if (ctl->ctl_fd != -1)
		close(ctl->ctl_fd);
	free(ctl->ctl_path);
	free(ctl);
	errno = saved;
	return (NULL);
}

/*
 * control_free: see control.h.  NULL is allowed.  After control_close_fds
 * it only releases memory: the path belongs to the parent.
 */
void
control_free(struct control *ctl)
{
	struct control_client	*cc;

	if (ctl == NULL)
		return;
	while ((cc = TAILQ_FIRST(&ctl->ctl_clients)) != NULL)
		control_client_free(cc);
	if (!ctl->ctl_closed) {
		ev_io_stop(ctl->ctl_loop, &ctl->ctl_io);
		close(ctl->ctl_fd);
		(void)unlink(ctl->ctl_path);
	}
	free(ctl->ctl_path);
	free(ctl);
}

/*
 * control_close_fds: see control.h.  NULL is allowed.  The watchers are
 * stopped before their fds close, so a child that keeps running the
 * inherited loop (after ev_loop_fork) never polls a closed fd.
 */
void
control_close_fds(struct control *ctl)
{
	struct control_client	*cc;

	if (ctl == NULL || ctl->ctl_closed)
		return;
	while ((cc = TAILQ_FIRST(&ctl->ctl_clients)) != NULL)
		control_client_free(cc);
	ev_io_stop(ctl->ctl_loop, &ctl->ctl_io);
	close(ctl->ctl_fd);
	ctl->ctl_fd = -1;
	ctl->ctl_closed = 1;
}

/*
 * control_set_group: apply a new control_socket_group to the live socket:
 * mode 0660 and that group, or 0600 when group is NULL or empty.  Returns
 * 0, or -1 with *errstr set (the socket keeps its old mode then).
 */
int
control_set_group(struct control *ctl, const char *group,
    const char **errstr)
{
	return (control_set_mode(ctl->ctl_path, group, errstr));
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static int
control_sockaddr(const char *path, struct sockaddr_un *sun,
    const char **errstr)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path) || *path == '\0') {
		*errstr = "control socket path empty or too long";
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return (0);
}

/*
 * A daemon that accepts (or whose backlog is full) owns the path: refuse.
 * A socket nobody listens on is stale: remove it.  Anything that is not a
 * socket is left alone and refused.
 */
static int
control_probe(const char *path, const char **errstr)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, rv, saved;

	if (control_sockaddr(path, &sun, errstr) == -1)
		return (-1);
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return (0);
		*errstr = "cannot stat control socket path";
		return (-1);
	}
	if (!S_ISSOCK(st.st_mode)) {
		*errstr = "control socket path exists and is not a socket";
		errno = EEXIST;
		return (-1);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*errstr = "socket() failed for the control socket";
		return (-1);
	}
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (rv == 0 || saved == EAGAIN || saved == EINPROGRESS) {
		*errstr = "another routingd is running on this control socket";
		errno = EADDRINUSE;
		return (-1);
	}
	if (saved == EPROTOTYPE) {
		*errstr = "another program listens on the control socket path";
		errno = EADDRINUSE;
		return (-1);
	}
	if (saved != ECONNREFUSED && saved != ENOENT) {
		*errstr = "cannot probe the control socket";
		errno = saved;
		return (-1);
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		*errstr = "cannot remove stale control socket";
		return (-1);
	}
	return (0);
}

static int
control_bind(struct control *ctl, const char *path, const char *group,
    const char **errstr)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 rv, saved;

	if (control_sockaddr(path, &sun, errstr) == -1)
		return (-1);
	ctl->ctl_fd = socket(AF_UNIX,
	    SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->ctl_fd == -1) {
		*errstr = "socket() failed for the control socket";
		return (-1);
	}
	old = umask(0177);
	rv = bind(ctl->ctl_fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	(void)umask(old);
	if (rv == -1) {
		*errstr = saved == EADDRINUSE ?
		    "another routingd is running on this control socket" :
		    "cannot bind the control socket";
		errno = saved;
		return (-1);
	}
	if (control_set_mode(path, group, errstr) == -1)
		goto fail;
	if (listen(ctl->ctl_fd, CONTROL_BACKLOG) == -1) {
		*errstr = "cannot listen on the control socket";
		goto fail;
	}
	return (0);
 fail:
	saved = errno;
	(void)unlink(path);
	errno = saved;
	return (-1);
}

/* 0600, or 0660 owned by group when one is configured. */
static int
control_set_mode(const char *path, const char *group, const char **errstr)
{
	struct group	*gr;

	if (group == NULL || *group == '\0') {
		if (chmod(path, 0600) == -1) {
			*errstr = "cannot chmod the control socket";
			return (-1);
		}
		return (0);
	}
	errno = 0;
	if ((gr = getgrnam(group)) == NULL) {
		*errstr = "unknown control socket group";
		if (errno == 0)
			errno = ENOENT;
		return (-1);
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) == -1) {
		*errstr = "cannot chown the control socket to its group";
		return (-1);
	}
	if (chmod(path, 0660) == -1) {
		*errstr = "cannot chmod the control socket";
		return (-1);
	}
	return (0);
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static void
control_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control	*ctl = w->data;
	int		 fd, i;

	for (i = 0; i < CONTROL_ACCEPT_BATCH; i++) {
		fd = accept4(ctl->ctl_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("%s: accept4: %s", __func__,
				    strerror(errno));
			return;
		}
		control_client_new(ctl, fd);
	}
}

/* Takes ownership of fd; over the cap the peer is told why, then closed. */
static void
control_client_new(struct control *ctl, int fd)
{
	struct control_client	*cc;
	struct ipc_text		 t;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);

	if (ctl->ctl_nclients >= CONTROL_MAX_CLIENTS ||
	    (cc = calloc(1, sizeof(*cc))) == NULL) {
		memset(&t, 0, sizeof(t));
		(void)snprintf(t.it_text, sizeof(t.it_text),
		    "too many control connections (limit %d)",
		    CONTROL_MAX_CLIENTS);
		(void)ipc_send(fd, IPC_CTL_FAIL, IPC_VERSION, &t, sizeof(t), 1);
		log_debug("%s: refused a connection: %s", __func__, t.it_text);
		close(fd);
		return;
	}
	cc->cc_ctl = ctl;
	cc->cc_fd = fd;
	cc->cc_pid = -1;
	cc->cc_uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		cc->cc_pid = cred.pid;
		cc->cc_uid = cred.uid;
	}
	ev_io_init(&cc->cc_io, control_client_read_cb, fd, EV_READ);
	cc->cc_io.data = cc;
	ev_timer_init(&cc->cc_idle, control_client_idle_cb, CONTROL_IDLE,
	    CONTROL_IDLE);
	cc->cc_idle.data = cc;
	ev_io_start(ctl->ctl_loop, &cc->cc_io);
	ev_timer_start(ctl->ctl_loop, &cc->cc_idle);
	TAILQ_INSERT_TAIL(&ctl->ctl_clients, cc, cc_entry);
	ctl->ctl_nclients++;
}

static void
control_client_free(struct control_client *cc)
{
	struct control	*ctl = cc->cc_ctl;

	ev_io_stop(ctl->ctl_loop, &cc->cc_io);
	ev_timer_stop(ctl->ctl_loop, &cc->cc_idle);
	close(cc->cc_fd);
	TAILQ_REMOVE(&ctl->ctl_clients, cc, cc_entry);
	ctl->ctl_nclients--;
	free(cc);
}

/* One datagram per callback; EOF or a socket error ends the client. */
static void
control_client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_client	*cc = w->data;
	struct control		*ctl = cc->cc_ctl;
	ssize_t			 n;

	n = ipc_recv(cc->cc_fd, ctl->ctl_rbuf, sizeof(ctl->ctl_rbuf));
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == -1 && errno == EMSGSIZE) {
		ev_timer_again(loop, &cc->cc_idle);
		(void)control_reply_text(cc, IPC_CTL_FAIL,
		    "malformed request: longer than %zu bytes", IPC_MAX_MSG);
		return;
	}
	if (n <= 0) {
		if (n == -1)
			log_debug("%s: recv from pid %ld: %s", __func__,
			    (long)cc->cc_pid, strerror(errno));
		control_client_free(cc);
		return;
	}
	ev_timer_again(loop, &cc->cc_idle);
	control_dispatch(cc, ctl->ctl_rbuf, (size_t)n);
}

static void
control_client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control_client	*cc = w->data;

	log_debug("%s: closing idle connection from pid %ld", __func__,
	    (long)cc->cc_pid);
	control_client_free(cc);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/*
 * The version is checked before the strict decode so that a routingctl
 * speaking another protocol learns why, not just "malformed".  The client
 * may be freed by the time this returns.
 */
static void
control_dispatch(struct control_client *cc, const void *buf, size_t n)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	int		 rv;

	if (n >= sizeof(hdr)) {
		memcpy(&hdr, buf, sizeof(hdr));
		if (hdr.ih_peerid != IPC_VERSION) {
			(void)control_reply_text(cc, IPC_CTL_FAIL,
			    "protocol version mismatch: routingctl %u, "
			    "routingd %u", hdr.ih_peerid, IPC_VERSION);
			return;
		}
	}
	if ((rv = ipc_decode(buf, n, &hdr, &payload)) != IPC_OK) {
		log_debug("%s: bad request from pid %ld: error %d", __func__,
		    (long)cc->cc_pid, rv);
		(void)control_reply_text(cc, IPC_CTL_FAIL, rv == IPC_UNKNOWN ?
		    "unknown request" : "malformed request");
		return;
	}
	log_debug("%s: %s from pid %ld uid %ld", __func__,
	    ipc_type_str(hdr.ih_type), (long)cc->cc_pid, (long)cc->cc_uid);
	switch (hdr.ih_type) {
	case IPC_CTL_STATUS:
		control_do_status(cc);
		break;
	case IPC_CTL_WORKERS:
		control_do_workers(cc);
		break;
	case IPC_CTL_RELOAD:
		control_do_reload(cc);
		break;
	case IPC_CTL_STOP:
		control_do_stop(cc);
		break;
	case IPC_CTL_DRAIN:
		control_do_drain(cc, 1);
		break;
	case IPC_CTL_UNDRAIN:
		control_do_drain(cc, 0);
		break;
	case IPC_CTL_TOKEN:
		control_do_token(cc, payload);
		break;
	case IPC_CTL_USER:
	case IPC_CTL_PURGE:
	case IPC_CTL_BACKUP:
	case IPC_CTL_STORE:
		control_do_query(cc, hdr.ih_type, payload, hdr.ih_len);
		break;
	case IPC_CTL_STATS:
		control_do_stats(cc);
		break;
	default:
		(void)control_reply_text(cc, IPC_CTL_FAIL,
		    "unknown request %s", ipc_type_str(hdr.ih_type));
		break;
	}
}

/* Send without blocking; a client that cannot take it is dropped (-1). */
static int
control_reply(struct control_client *cc, uint32_t type, const void *payload,
    size_t len)
{
	if (ipc_send(cc->cc_fd, type, IPC_VERSION, payload, len, 1) == -1) {
		log_debug("%s: %s to pid %ld: %s", __func__, ipc_type_str(type),
		    (long)cc->cc_pid, strerror(errno));
		control_client_free(cc);
		return (-1);
	}
	return (0);
}

static int
control_reply_text(struct control_client *cc, uint32_t type,
    const char *fmt, ...)
{
	struct ipc_text	 t;
	va_list		 ap;

	memset(&t, 0, sizeof(t));
	va_start(ap, fmt);
	(void)vsnprintf(t.it_text, sizeof(t.it_text), fmt, ap);
	va_end(ap);
	return (control_reply(cc, type, &t, sizeof(t)));
}

static void
control_do_status(struct control_client *cc)
{
	struct control		*ctl = cc->cc_ctl;
	struct ipc_status	 st;

	if (ctl->ctl_ops->co_status == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	memset(&st, 0, sizeof(st));
	ctl->ctl_ops->co_status(ctl->ctl_arg, &st);
	ipc_strfix(st.is_version);
	ipc_strfix(st.is_config);
	ipc_status_fix(&st);
	(void)control_reply(cc, IPC_CTL_STATUS_REPLY, &st, sizeof(st));
}

static void
control_do_workers(struct control_client *cc)
{
	struct control	*ctl = cc->cc_ctl;
	size_t		 i, n;

	if (ctl->ctl_ops->co_workers == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	memset(&ctl->ctl_workers, 0, sizeof(ctl->ctl_workers));
	n = ctl->ctl_ops->co_workers(ctl->ctl_arg, ctl->ctl_workers.cw_w,
	    IPC_MAX_WORKERS);
	if (n > IPC_MAX_WORKERS)
		n = IPC_MAX_WORKERS;
	for (i = 0; i < n; i++)
		ipc_strfix(ctl->ctl_workers.cw_w[i].iw_role);
	ctl->ctl_workers.cw_hdr.iw_n = (uint32_t)n;
	(void)control_reply(cc, IPC_CTL_WORKERS_REPLY, &ctl->ctl_workers,
	    sizeof(struct ipc_workers) + n * sizeof(struct ipc_worker));
}

static void
control_do_reload(struct control_client *cc)
{
	struct control		*ctl = cc->cc_ctl;
	struct ipc_reload	 r;
	int			 rv;

	if (ctl->ctl_ops->co_reload == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	memset(&r, 0, sizeof(r));
	rv = ctl->ctl_ops->co_reload(ctl->ctl_arg, &r);
	ipc_reload_fix(&r);
	if (r.ir_text[0] == '\0')
		(void)snprintf(r.ir_text, sizeof(r.ir_text), "%s",
		    rv == 0 ? "reloaded" : "reload failed");
	if (rv == 0)
		(void)control_reply(cc, IPC_CTL_RELOAD_REPLY, &r, sizeof(r));
	else
		(void)control_reply_text(cc, IPC_CTL_FAIL, "%s", r.ir_text);
}

/* drain (on 1) or undrain (on 0). */
static void
control_do_drain(struct control_client *cc, int on)
{
	struct control	*ctl = cc->cc_ctl;
	struct ipc_text	 t;
	int		 rv;

	if (ctl->ctl_ops->co_drain == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	memset(&t, 0, sizeof(t));
	rv = ctl->ctl_ops->co_drain(ctl->ctl_arg, on, t.it_text,
	    sizeof(t.it_text));
	ipc_strfix(t.it_text);
	(void)control_reply(cc, rv == 0 ? IPC_CTL_OK : IPC_CTL_FAIL, &t,
	    sizeof(t));
}

/* The reply goes first: co_stop may tear down this very socket. */
static void
control_do_stop(struct control_client *cc)
{
	struct control	*ctl = cc->cc_ctl;

	if (ctl->ctl_ops->co_stop == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	(void)control_reply_text(cc, IPC_CTL_OK, "stopping");
	ctl->ctl_ops->co_stop(ctl->ctl_arg);
}

static void
control_do_token(struct control_client *cc, const void *payload)
{
	struct control		*ctl = cc->cc_ctl;
	struct ipc_token_req	 req;
	struct ipc_token	 tk;
	struct ipc_text		 t;

	if (ctl->ctl_ops->co_token == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	memcpy(&req, payload, sizeof(req));
	ipc_strfix(req.tr_user);
	ipc_strfix(req.tr_device);
	memset(&tk, 0, sizeof(tk));
	memset(&t, 0, sizeof(t));
	if (ctl->ctl_ops->co_token(ctl->ctl_arg, &req, &tk, t.it_text,
	    sizeof(t.it_text)) == -1) {
		ipc_strfix(t.it_text);
		(void)control_reply(cc, IPC_CTL_FAIL, &t, sizeof(t));
		return;
	}
	ipc_strfix(tk.tk_token);
	(void)control_reply(cc, IPC_CTL_TOKEN_REPLY, &tk, sizeof(tk));
	explicit_bzero(&tk, sizeof(tk));
}

/* A query child answers and owns the conversation from now on. */
static void
control_do_query(struct control_client *cc, uint32_t type,
    const void *payload, size_t len)
{
	struct control	*ctl = cc->cc_ctl;
	struct ipc_text	 t;

	if (ctl->ctl_ops->co_query == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	memset(&t, 0, sizeof(t));
	if (ctl->ctl_ops->co_query(ctl->ctl_arg, cc->cc_fd, type, payload,
	    len, t.it_text, sizeof(t.it_text)) == 0) {
		control_client_free(cc);
		return;
	}
	ipc_strfix(t.it_text);
	(void)control_reply(cc, IPC_CTL_FAIL, &t, sizeof(t));
}

/*
 * The metrics text in parts of at most IPC_STATS_CHUNK bytes, all sent
 * at once: the send buffer is first made large enough for the whole
 * reply, so a client that reads nothing still cannot block us (a part
 * that does not fit drops the client, as any reply does).
 */
static void
control_do_stats(struct control_client *cc)
{
	struct control	*ctl = cc->cc_ctl;
	char		*text;
	size_t		 len, off = 0, n;
	int		 buf;

	if (ctl->ctl_ops->co_stats == NULL) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "not supported");
		return;
	}
	if (ctl->ctl_ops->co_stats(ctl->ctl_arg, &text, &len) == -1) {
		(void)control_reply_text(cc, IPC_CTL_FAIL, "out of memory");
		return;
	}
	buf = len < (1 << 24) ? (int)(2 * len) + 65536 : (1 << 25);
	(void)setsockopt(cc->cc_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	do {
		n = len - off < IPC_STATS_CHUNK ? len - off : IPC_STATS_CHUNK;
		ctl->ctl_stats.cs_hdr.sp_len = (uint32_t)n;
		ctl->ctl_stats.cs_hdr.sp_more = off + n < len;
		memcpy(ctl->ctl_stats.cs_text, text + off, n);
		off += n;
		if (control_reply(cc, IPC_CTL_STATS_REPLY, &ctl->ctl_stats,
		    sizeof(struct ipc_stats_part) + n) == -1)
			break;		/* cc is gone */
	} while (off < len);
	free(text);
}
