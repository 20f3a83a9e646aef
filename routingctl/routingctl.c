/*
 * routingctl.c: the operator's command-line tool; runs as its own short
 * process and talks to the routingd supervisor over the control socket.
 *
 * Owns: option parsing, socket discovery, the command table and the output
 * (aligned text, or one JSON object per command with --json).  Each
 * request is one connection, one request, one reply (ipc.h); status
 * makes three (status, workers, store).  What it shares with the daemon
 * is ipc.c and config.c (check-config validates a file as routingd -n
 * does, without a daemon) and the headers ipc.h, config.h and paths.h.
 *
 * Invariants: it never hangs (every request has a CTL_TIMEOUT receive and
 * send timeout, a backup CTL_BACKUP_TIMEOUT, stop waits at most
 * CTL_STOP_WAIT); the exit status is one of the RCTL_EXIT_* values;
 * diagnostics go to stderr, results to stdout (with --json, one JSON
 * object, also for a failure after the arguments were accepted).
 * Strings received are re-terminated before use.  A reply whose header
 * carries another protocol version is not decoded: it is reported.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "paths.h"
#include "presence.h"
#include "tls.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"0.1.0"
#endif

#define CTL_TIMEOUT		10	/* seconds per request and reply */
#define CTL_BACKUP_TIMEOUT	3600	/* seconds a backup may take */
#define CTL_STOP_WAIT		60	/* seconds stop waits for the exit */
#define CTL_STOP_POLL_MS	100	/* milliseconds between probes */
#define RCTL_TOKEN_TTL		3600	/* seconds, token without --ttl */
#define RCTL_STATS_MAX_INTERVAL	3600	/* seconds stats -i may wait */

#define RCTL_EXIT_OK		0
#define RCTL_EXIT_FAIL		1	/* IPC_CTL_FAIL, a broken reply, no
					   permission, another protocol */
#define RCTL_EXIT_USAGE		2	/* also purge unconfirmed */
#define RCTL_EXIT_NODAEMON	3	/* nothing listens on the socket */

struct rctl {
	const char	*rc_socket;
	int		 rc_json;
	int		 rc_fd;
	struct ipc_hdr	 rc_hdr;		/* of the last reply */
	const void	*rc_payload;		/* into rc_buf */
	unsigned char	 rc_buf[IPC_MAX_MSG];
};

struct rctl_cmd {
	const char	*cmd_name;
	const char	*cmd_args;		/* synopsis of the arguments */
	int		 cmd_min;		/* arguments after the name */
	int		 cmd_max;
	int		(*cmd_fn)(struct rctl *, int, char **);
	const char	*cmd_help;
};

static int	 rctl_status(struct rctl *, int, char **);
static int	 rctl_workers(struct rctl *, int, char **);
static int	 rctl_reload(struct rctl *, int, char **);
static int	 rctl_stop(struct rctl *, int, char **);
static int	 rctl_drain(struct rctl *, int, char **);
static int	 rctl_undrain(struct rctl *, int, char **);
static void	 rctl_json_list(const char *, const char *);
static int	 rctl_token(struct rctl *, int, char **);
static int	 rctl_presence(struct rctl *, int, char **);
static int	 rctl_queue(struct rctl *, int, char **);
static int	 rctl_devices(struct rctl *, int, char **);
static int	 rctl_purge(struct rctl *, int, char **);
static int	 rctl_backup(struct rctl *, int, char **);
static int	 rctl_check_config(struct rctl *, int, char **);
static int	 rctl_stats(struct rctl *, int, char **);

/* The commands: add a row, a handler and a paragraph in routingctl.8. */
static const struct rctl_cmd rctl_cmds[] = {
	{ "status", "", 0, 0, rctl_status,
	    "state, workers, connections, store" },
	{ "workers", "", 0, 0, rctl_workers,
	    "list every worker process" },
	{ "stats", "[-i SECONDS]", 0, 2, rctl_stats,
	    "counters behind /metrics, with rates" },
	{ "reload", "", 0, 0, rctl_reload,
	    "re-read the configuration" },
	{ "stop", "[--no-wait]", 0, 1, rctl_stop,
	    "stop gracefully, wait until gone" },
	{ "presence", "USER", 1, 1, rctl_presence,
	    "a user's devices online" },
	{ "queue", "USER [DEVICE]", 1, 2, rctl_queue,
	    "queued messages by device and lane" },
	{ "devices", "USER", 1, 1, rctl_devices,
	    "a user's known devices" },
	{ "purge", "[-y] USER [DEVICE]", 1, 3, rctl_purge,
	    "drop queues (asks unless -y)" },
	{ "backup", "DIR", 1, 1, rctl_backup,
	    "hot copy of the store into DIR" },
	{ "check-config", "[FILE]", 0, 1, rctl_check_config,
	    "validate a configuration file" },
	{ "drain", "", 0, 0, rctl_drain,
	    "refuse sends and upgrades, close WebSockets, stay up" },
	{ "undrain", "", 0, 0, rctl_undrain,
	    "serve again after drain" },
	{ "token", "USER [--device D] [--ttl SECONDS]", 1, 5, rctl_token,
	    "mint an HS256 token with the daemon's secret" },
};

static void	 rctl_usage(FILE *);
static const struct rctl_cmd *rctl_cmd_find(const char *);
static int	 rctl_cmd_usage(const struct rctl_cmd *);
static const char *rctl_socket_default(void);
static int	 rctl_connect(const char *, int, int *);
static int	 rctl_alive(const char *);
static int	 rctl_request(struct rctl *, uint32_t, uint32_t);
static int	 rctl_request_p(struct rctl *, uint32_t, const void *, size_t,
		    uint32_t, int);
static int	 rctl_connect_fail(struct rctl *, int);
static ssize_t	 rctl_exchange(struct rctl *, uint32_t, const void *,
		    size_t);
static int	 rctl_reply_check(struct rctl *, ssize_t, uint32_t);
static int	 rctl_fail(struct rctl *, const char *);
static const char *rctl_decode_str(int);
static void	 rctl_json_str(const char *);
static void	 rctl_json_result(int, const char *);
static void	 rctl_fmt_dur(char *, size_t, uint64_t);
static const char *rctl_state_str(uint32_t);
struct rctl_status_more;
static void	 rctl_status_text(const struct ipc_status *,
		    const struct rctl_status_more *);
static void	 rctl_status_json(const struct ipc_status *,
		    const struct rctl_status_more *);
static void	 rctl_fmt_bytes(char *, size_t, uint64_t);
static void	 rctl_status_more_json(const struct ipc_status *,
		    const struct rctl_status_more *);
static void	 rctl_status_drained(const struct ipc_status *);
static void	 rctl_worker_text(const struct ipc_worker *);
static void	 rctl_worker_json(const struct ipc_worker *);
static int	 rctl_stop_wait(struct rctl *);

static void
rctl_usage(FILE *fp)
{
	char	 syn[64];
	size_t	 i;

	fprintf(fp, "usage: routingctl [-hV] [--json] [-s socket] "
	    "command [args]\n\ncommands:\n");

	for (i = 0; i < sizeof(rctl_cmds) / sizeof(rctl_cmds[0]); i++) {
		(void)snprintf(syn, sizeof(syn), "%s %s",
		    rctl_cmds[i].cmd_name, rctl_cmds[i].cmd_args);
		fprintf(fp, "  %-42s %s\n", syn, rctl_cmds[i].cmd_help);
	}
}

static const struct rctl_cmd *
rctl_cmd_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(rctl_cmds) / sizeof(rctl_cmds[0]); i++)
		if (strcmp(rctl_cmds[i].cmd_name, name) == 0)
			return (&rctl_cmds[i]);
	return (NULL);
}

static int
rctl_cmd_usage(const struct rctl_cmd *cmd)
{
	fprintf(stderr, "usage: routingctl [--json] [-s socket] %s%s%s\n",
	    cmd->cmd_name, *cmd->cmd_args != '\0' ? " " : "", cmd->cmd_args);
	return (RCTL_EXIT_USAGE);
}

/*
 * Without -s or $ROUTINGCTL_SOCKET: the packaged path if it exists, else
 * the one a config-less routingd makes in its working directory, else the
 * packaged path again (so the error names the usual place).
 */
static const char *
rctl_socket_default(void)
{
	struct stat	 st;
	const char	*env;

	if ((env = getenv("ROUTINGCTL_SOCKET")) != NULL && *env != '\0')
		return (env);
	if (stat(ROUTINGD_SOCKET, &st) == 0)
		return (ROUTINGD_SOCKET);
	if (stat(LOCAL_DATA_DIR "/" LOCAL_SOCKET_NAME, &st) == 0)
		return (LOCAL_DATA_DIR "/" LOCAL_SOCKET_NAME);
	return (ROUTINGD_SOCKET);
}

/* 0 and *fdp, or an errno value; both directions time out (seconds). */
static int
rctl_connect(const char *path, int timeout, int *fdp)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { timeout, 0 };
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (ENAMETOOLONG);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return (errno);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		return (saved);
	}
	*fdp = fd;
	return (0);
}

/* 1 while something accepts connections on path (a full backlog too). */
static int
rctl_alive(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (1);	/* cannot tell: assume it is still there */
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rv == -1 && errno == EAGAIN)
		rv = 0;
	close(fd);
	return (rv == 0);
}

/* One request without payload: rctl_request_p. */
static int
rctl_request(struct rctl *rc, uint32_t type, uint32_t expect)
{
	return (rctl_request_p(rc, type, NULL, 0, expect, CTL_TIMEOUT));
}

/* The same with a payload and a timeout (seconds) of its own. */
static int
rctl_request_p(struct rctl *rc, uint32_t type, const void *payload,
    size_t len, uint32_t expect, int timeout)
{
	ssize_t	 n;
	int	 err, rv;

	if ((err = rctl_connect(rc->rc_socket, timeout, &rc->rc_fd)) != 0)
		return (rctl_connect_fail(rc, err));
	n = rctl_exchange(rc, type, payload, len);
	rv = rctl_reply_check(rc, n, expect);
	close(rc->rc_fd);
	rc->rc_fd = -1;
	return (rv);
}

/*
 * connect() failed with err.  Nothing listens (no socket, a stale one):
 * RCTL_EXIT_NODAEMON.  A socket this user may not open: say so, exit 1,
 * since a daemon may well be running.
 */
static int
rctl_connect_fail(struct rctl *rc, int err)
{
	char	 msg[PATH_MAX + 128];
	int	 rv = RCTL_EXIT_NODAEMON;

	if (err == EACCES || err == EPERM) {
		(void)snprintf(msg, sizeof(msg), "permission denied opening "
		    "the control socket %s: run as its owner or a member of "
		    "its control_socket_group", rc->rc_socket);
		rv = RCTL_EXIT_FAIL;
	} else
		(void)snprintf(msg, sizeof(msg), "no routingd answers on %s: "
		    "%s", rc->rc_socket, strerror(err));
	fprintf(stderr, "routingctl: %s\n", msg);
	if (rc->rc_json)
		rctl_json_result(0, msg);
	return (rv);
}

/*
 * Send, then receive.  A daemon that refuses the connection (too many
 * clients) replies, then closes: a failed send still tries to receive,
 * and ECONNRESET (the kernel reports it before the queued reply) is
 * followed by a second receive.
 */
static ssize_t
rctl_exchange(struct rctl *rc, uint32_t type, const void *payload,
    size_t len)
{
	ssize_t	 n;
	int	 saved = 0;

	if (ipc_send(rc->rc_fd, type, IPC_VERSION, payload, len, 0) == -1)
		saved = errno;
	n = ipc_recv(rc->rc_fd, rc->rc_buf, sizeof(rc->rc_buf));
	if (n == -1 && errno == ECONNRESET) {
		n = ipc_recv(rc->rc_fd, rc->rc_buf, sizeof(rc->rc_buf));
		if (n == 0) {
			n = -1;
			errno = ECONNRESET;
		}
	}
	if (n <= 0 && saved != 0) {
		fprintf(stderr, "routingctl: cannot send to routingd on %s: "
		    "%s\n", rc->rc_socket, strerror(saved));
		return (-2);
	}
	return (n);
}

/*
 * Check a reply of n bytes (or the rctl_exchange error n).  The version
 * in the header is looked at before the payload: a daemon of another
 * protocol version may lay its payloads out differently.
 */
static int
rctl_reply_check(struct rctl *rc, ssize_t n, uint32_t expect)
{
	struct ipc_text	 t;
	struct ipc_hdr	 hdr;
	char		 msg[256];
	int		 rv;

	if (n == -2)
		return (RCTL_EXIT_FAIL);
	if (n == -1) {
		(void)snprintf(msg, sizeof(msg), "no reply from routingd on "
		    "%s: %s", rc->rc_socket, errno == EAGAIN ?
		    "timed out" : strerror(errno));
		return (rctl_fail(rc, msg));
	}
	if (n == 0)
		return (rctl_fail(rc, "routingd closed the connection "
		    "without a reply"));
	if ((size_t)n >= sizeof(hdr)) {
		memcpy(&hdr, rc->rc_buf, sizeof(hdr));
		if (hdr.ih_peerid != IPC_VERSION) {
			(void)snprintf(msg, sizeof(msg), "routingd speaks "
			    "control protocol version %u, this routingctl "
			    "%u: use the routingctl of the running routingd",
			    hdr.ih_peerid, IPC_VERSION);
			return (rctl_fail(rc, msg));
		}
	}
	rv = ipc_decode(rc->rc_buf, (size_t)n, &rc->rc_hdr, &rc->rc_payload);
	if (rv != IPC_OK) {
		(void)snprintf(msg, sizeof(msg), "malformed reply from "
		    "routingd: %s", rctl_decode_str(rv));
		return (rctl_fail(rc, msg));
	}
	if (rc->rc_hdr.ih_type == expect)
		return (RCTL_EXIT_OK);
	if (rc->rc_hdr.ih_type == IPC_CTL_FAIL) {
		memcpy(&t, rc->rc_payload, sizeof(t));
		ipc_strfix(t.it_text);
		return (rctl_fail(rc, t.it_text));
	}
	(void)snprintf(msg, sizeof(msg), "unexpected reply %s from routingd",
	    ipc_type_str(rc->rc_hdr.ih_type));
	return (rctl_fail(rc, msg));
}

/* The daemon said no: its text on stderr, and a JSON result if asked. */
static int
rctl_fail(struct rctl *rc, const char *text)
{
	fprintf(stderr, "routingctl: %s\n", text);
	if (rc->rc_json)
		rctl_json_result(0, text);
	return (RCTL_EXIT_FAIL);
}

static const char *
rctl_decode_str(int rv)
{
	switch (rv) {
	case IPC_TRUNCATED:
		return ("truncated");
	case IPC_OVERSIZE:
		return ("oversize");
	case IPC_TRAILING:
		return ("trailing bytes");
	case IPC_BADSIZE:
		return ("wrong payload size");
	case IPC_UNKNOWN:
		return ("unknown message type");
	default:
		return ("error");
	}
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void
rctl_json_str(const char *s)
{
	const unsigned char	*p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
rctl_json_result(int ok, const char *message)
{
	printf("{\"ok\":%s,\"message\":", ok ? "true" : "false");
	rctl_json_str(message);
	printf("}\n");
}

/* "45s", "3m12s", "2h05m", "3d04h": two units at most. */
static void
rctl_fmt_dur(char *buf, size_t len, uint64_t s)
{
	if (s < 60)
		(void)snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		(void)snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s",
		    s / 60, s % 60);
	else if (s < 86400)
		(void)snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m",
		    s / 3600, s % 3600 / 60);
	else
		(void)snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h",
		    s / 86400, s % 86400 / 3600);
}

static const char *
rctl_state_str(uint32_t state)
{
	switch (state) {
	case IPC_WORKER_STARTING:
		return ("starting");
	case IPC_WORKER_READY:
		return ("ready");
	case IPC_WORKER_DRAINING:
		return ("draining");
	default:
		return ("unknown");
	}
}

/* ------------------------------------------------------------------ */
/* status                                                              */
/* ------------------------------------------------------------------ */

/* What status shows besides the status reply: workers and the store. */
struct rctl_status_more {
	struct ipc_workers	 sm_iw;
	struct ipc_worker	 sm_w[IPC_MAX_WORKERS];
	int			 sm_have_workers;
	struct ipc_store	 sm_store;
	int			 sm_have_store;
	char			 sm_store_err[1024];
};

/* The workers reply, then the store's totals (from a query child). */
static void
rctl_status_more(struct rctl *rc, struct rctl_status_more *sm)
{
	const struct ipc_text	*t;
	uint32_t		 i;
	int			 json = rc->rc_json;

	rc->rc_json = 0;	/* failures here are part of the one object */
	if (rctl_request(rc, IPC_CTL_WORKERS, IPC_CTL_WORKERS_REPLY) ==
	    RCTL_EXIT_OK) {
		memcpy(&sm->sm_iw, rc->rc_payload, sizeof(sm->sm_iw));
		memcpy(sm->sm_w, (const unsigned char *)rc->rc_payload +
		    sizeof(sm->sm_iw), sm->sm_iw.iw_n * sizeof(sm->sm_w[0]));
		for (i = 0; i < sm->sm_iw.iw_n; i++)
			ipc_strfix(sm->sm_w[i].iw_role);
		sm->sm_have_workers = 1;
	}
	if (rctl_request(rc, IPC_CTL_STORE, IPC_CTL_STORE_REPLY) ==
	    RCTL_EXIT_OK) {
		memcpy(&sm->sm_store, rc->rc_payload, sizeof(sm->sm_store));
		sm->sm_have_store = 1;
	} else if (rc->rc_hdr.ih_type == IPC_CTL_FAIL) {
		t = rc->rc_payload;
		(void)snprintf(sm->sm_store_err, sizeof(sm->sm_store_err),
		    "%.*s", (int)sizeof(t->it_text), t->it_text);
	} else
		(void)snprintf(sm->sm_store_err, sizeof(sm->sm_store_err),
		    "no answer");
	rc->rc_json = json;
}

static int
rctl_status(struct rctl *rc, int argc, char **argv)
{
	static struct rctl_status_more	 sm;
	struct ipc_status		 st;
	int				 rv;

	rv = rctl_request(rc, IPC_CTL_STATUS, IPC_CTL_STATUS_REPLY);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(&st, rc->rc_payload, sizeof(st));
	ipc_status_fix(&st);
	memset(&sm, 0, sizeof(sm));
	rctl_status_more(rc, &sm);
	if (rc->rc_json)
		rctl_status_json(&st, &sm);
	else
		rctl_status_text(&st, &sm);
	return (RCTL_EXIT_OK);
}

/* Open HTTP connections of the workers of role (NULL: all); an
 * upgraded WebSocket is no longer one (the store reply counts those). */
static uint64_t
rctl_conns(const struct rctl_status_more *sm, const char *role)
{
	uint64_t	 n = 0;
	uint32_t	 i;

	for (i = 0; i < sm->sm_iw.iw_n; i++) {
		if (role == NULL || strcmp(sm->sm_w[i].iw_role, role) == 0)
			n += sm->sm_w[i].iw_conns;
	}
	return (n);
}

/* status text: the connections, every worker, the store. */
static void
rctl_status_more_text(const struct ipc_status *st,
    const struct rctl_status_more *sm)
{
	const struct ipc_store	*is = &sm->sm_store;
	const struct ipc_worker	*w;
	char			 a[32], b[32], c[32];
	uint32_t		 i;

	if (sm->sm_have_workers && sm->sm_have_store)
		printf("%-12s %" PRIu64 " (http %" PRIu64 ", websocket %" PRIu64
		    ")\n", "connections", rctl_conns(sm, NULL) +
		    is->ist_websockets, rctl_conns(sm, NULL),
		    is->ist_websockets);
	else if (sm->sm_have_workers)
		printf("%-12s http %" PRIu64 "\n", "connections",
		    rctl_conns(sm, NULL));
	if (sm->sm_have_store) {
		rctl_fmt_bytes(a, sizeof(a), is->ist_bytes);
		printf("%-12s %" PRIu64 " messages, %s (%" PRIu64 " devices, "
		    "%" PRIu64 " held queues)\n", "queued", is->ist_messages,
		    a, is->ist_devices, is->ist_held);
		rctl_fmt_bytes(a, sizeof(a), is->ist_file_bytes);
		rctl_fmt_bytes(b, sizeof(b), is->ist_map_used);
		rctl_fmt_bytes(c, sizeof(c), is->ist_map_size);
		printf("%-12s data.mdb %s, map %s used of %s (%.1f%%)\n",
		    "store", a, b, c, is->ist_map_size == 0 ? 0.0 :
		    100.0 * (double)is->ist_map_used /
		    (double)is->ist_map_size);
	} else
		printf("%-12s unavailable: %s\n", "store", sm->sm_store_err);
	for (i = 0; sm->sm_have_workers && i < sm->sm_iw.iw_n; i++) {
		w = &sm->sm_w[i];
		(void)snprintf(a, sizeof(a), "%s %u", w->iw_role, w->iw_index);
		printf("%-12s %-6s pid %-7d %-9s restarts %-4u conns %" PRIu64
		    "\n", i == 0 ? "by role" : "", a, w->iw_pid,
		    rctl_state_str(w->iw_state), w->iw_restarts, w->iw_conns);
	}
}

static void
rctl_status_text(const struct ipc_status *st,
    const struct rctl_status_more *sm)
{
	const struct ipc_role_status	*rs;
	char				 dur[32], since[32], label[32];
	struct tm			 tm;
	time_t				 t = (time_t)st->is_started;
	uint32_t			 i, total = 0;

	rctl_fmt_dur(dur, sizeof(dur), st->is_uptime);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(since, sizeof(since), "?");
	printf("%-12s %s\n", "version", st->is_version);
	printf("%-12s %d\n", "pid", st->is_pid);
	printf("%-12s %s (since %s)\n", "uptime", dur, since);
	printf("%-12s %s\n", "state", st->is_draining ? "draining" :
	    st->is_drained ? "drained" : st->is_ready ? "ready" : "starting");
	if (st->is_drained)
		rctl_status_drained(st);
	printf("%-12s %s\n", "config", st->is_config[0] != '\0' ?
	    st->is_config : "(embedded defaults)");
	for (i = 0; i < st->is_nroles; i++) {
		rs = &st->is_roles[i];
		if (rs->rs_listen[0] != '\0') {
			(void)snprintf(label, sizeof(label), "%s listen",
			    rs->rs_name);
			printf("%-12s %s\n", label, rs->rs_listen);
		}
		total += rs->rs_workers;
	}
	printf("%-12s %s\n", "data dir", st->is_data_dir);
	printf("%-12s %u of %u up (", "workers", st->is_workers_up, total);
	for (i = 0; i < st->is_nroles; i++)
		printf("%s%s %u", i > 0 ? ", " : "", st->is_roles[i].rs_name,
		    st->is_roles[i].rs_workers);
	printf(")\n%-12s ", "restarts");
	for (i = 0; i < st->is_nroles; i++)
		printf("%s%s %" PRIu64, i > 0 ? ", " : "",
		    st->is_roles[i].rs_name, st->is_roles[i].rs_restarts);
	printf("\n%-12s %" PRIu64 "\n", "reloads", st->is_reloads);
	rctl_status_more_text(st, sm);
}

/* "drained since ... (for ...), N WebSockets still open". */
static void
rctl_status_drained(const struct ipc_status *st)
{
	char		 dur[32], since[32];
	struct tm	 tm;
	time_t		 t = (time_t)st->is_drained_since;
	uint64_t	 now = (uint64_t)time(NULL);

	rctl_fmt_dur(dur, sizeof(dur), now > st->is_drained_since ?
	    now - st->is_drained_since : 0);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(since, sizeof(since), "?");
	printf("%-12s since %s (%s), %" PRIu64 " WebSockets still open\n",
	    "drained", since, dur, st->is_ws_open);
}

static void
rctl_status_json(const struct ipc_status *st,
    const struct rctl_status_more *sm)
{
	uint32_t	 i;

	printf("{\"version\":");
	rctl_json_str(st->is_version);
	printf(",\"config\":");
	rctl_json_str(st->is_config);
	for (i = 0; i < st->is_nroles; i++) {
		if (st->is_roles[i].rs_listen[0] == '\0')
			continue;
		printf(",\"%s_listen\":", st->is_roles[i].rs_name);
		rctl_json_str(st->is_roles[i].rs_listen);
	}
	printf(",\"data_dir\":");
	rctl_json_str(st->is_data_dir);
	printf(",\"pid\":%d,\"ready\":%s,\"draining\":%s", st->is_pid,
	    st->is_ready ? "true" : "false",
	    st->is_draining ? "true" : "false");
	printf(",\"drained\":%s,\"drained_since\":%" PRIu64
	    ",\"websockets_open\":%" PRIu64, st->is_drained ? "true" : "false",
	    st->is_drained_since, st->is_ws_open);
	for (i = 0; i < st->is_nroles; i++)
		printf(",\"%s_workers\":%u", st->is_roles[i].rs_name,
		    st->is_roles[i].rs_workers);
	printf(",\"workers_up\":%u", st->is_workers_up);
	printf(",\"started\":%" PRIu64 ",\"uptime\":%" PRIu64
	    ",\"reloads\":%" PRIu64, st->is_started, st->is_uptime,
	    st->is_reloads);
	for (i = 0; i < st->is_nroles; i++)
		printf(",\"restarts_%s\":%" PRIu64, st->is_roles[i].rs_name,
		    st->is_roles[i].rs_restarts);
	rctl_status_more_json(st, sm);
	printf("}\n");
}

/* status --json: "http_connections", "websockets", "connections" (their
 * sum), "worker_list" and "store" (or null and "store_error"). */
static void
rctl_status_more_json(const struct ipc_status *st,
    const struct rctl_status_more *sm)
{
	const struct ipc_store	*is = &sm->sm_store;
	uint32_t		 i;

	if (sm->sm_have_workers) {
		printf(",\"http_connections\":%" PRIu64, rctl_conns(sm, NULL));
		if (sm->sm_have_store)
			printf(",\"websockets\":%" PRIu64 ",\"connections\":%"
			    PRIu64, is->ist_websockets, rctl_conns(sm, NULL) +
			    is->ist_websockets);
		printf(",\"worker_list\":[");
		for (i = 0; i < sm->sm_iw.iw_n; i++) {
			if (i > 0)
				putchar(',');
			rctl_worker_json(&sm->sm_w[i]);
		}
		putchar(']');
	}
	if (!sm->sm_have_store) {
		printf(",\"store\":null,\"store_error\":");
		rctl_json_str(sm->sm_store_err);
		return;
	}
	printf(",\"store\":{\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"devices\":%" PRIu64 ",\"held_queues\":%" PRIu64
	    ",\"file_bytes\":%" PRIu64 ",\"map_size\":%" PRIu64
	    ",\"map_used\":%" PRIu64 ",\"readers\":%u,\"max_readers\":%u}",
	    is->ist_messages, is->ist_bytes, is->ist_devices, is->ist_held,
	    is->ist_file_bytes, is->ist_map_size, is->ist_map_used,
	    is->ist_readers, is->ist_max_readers);
}

/* ------------------------------------------------------------------ */
/* workers                                                             */
/* ------------------------------------------------------------------ */

#define RCTL_WORKERS_FMT	"%-5s %5s %8s %-9s %8s %9s %7s %10s %8s\n"

static int
rctl_workers(struct rctl *rc, int argc, char **argv)
{
	struct ipc_workers	 iw;
	struct ipc_worker	 w;
	const unsigned char	*p;
	uint32_t		 i;
	int			 rv;

	rv = rctl_request(rc, IPC_CTL_WORKERS, IPC_CTL_WORKERS_REPLY);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(&iw, rc->rc_payload, sizeof(iw));	/* n checked by decode */
	p = (const unsigned char *)rc->rc_payload + sizeof(iw);
	if (rc->rc_json)
		printf("{\"workers\":[");
	else
		printf(RCTL_WORKERS_FMT, "ROLE", "INDEX", "PID", "STATE",
		    "UPTIME", "HEARTBEAT", "CONNS", "REQUESTS", "RESTARTS");
	for (i = 0; i < iw.iw_n; i++, p += sizeof(w)) {
		memcpy(&w, p, sizeof(w));
		ipc_strfix(w.iw_role);
		if (rc->rc_json) {
			if (i > 0)
				putchar(',');
			rctl_worker_json(&w);
		} else
			rctl_worker_text(&w);
	}
	if (rc->rc_json)
		printf("]}\n");
	return (RCTL_EXIT_OK);
}

static void
rctl_worker_text(const struct ipc_worker *w)
{
	char	 idx[16], pid[16], up[32], age[32], hb[40], conns[24];
	char	 reqs[24], restarts[16];

	(void)snprintf(idx, sizeof(idx), "%u", w->iw_index);
	(void)snprintf(pid, sizeof(pid), "%d", w->iw_pid);
	rctl_fmt_dur(up, sizeof(up), w->iw_uptime_ms / 1000);
	if (w->iw_heartbeat_age_ms < 10000)
		(void)snprintf(hb, sizeof(hb), "%.1fs ago",
		    (double)w->iw_heartbeat_age_ms / 1000.0);
	else {
		rctl_fmt_dur(age, sizeof(age), w->iw_heartbeat_age_ms / 1000);
		(void)snprintf(hb, sizeof(hb), "%s ago", age);
	}
	(void)snprintf(conns, sizeof(conns), "%" PRIu64, w->iw_conns);
	(void)snprintf(reqs, sizeof(reqs), "%" PRIu64, w->iw_requests);
	(void)snprintf(restarts, sizeof(restarts), "%u", w->iw_restarts);
	printf(RCTL_WORKERS_FMT, w->iw_role, idx, pid,
	    rctl_state_str(w->iw_state), up, hb, conns, reqs, restarts);
}

static void
rctl_worker_json(const struct ipc_worker *w)
{
	printf("{\"role\":");
	rctl_json_str(w->iw_role);
	printf(",\"index\":%u,\"pid\":%d,\"state\":\"%s\",\"restarts\":%u",
	    w->iw_index, w->iw_pid, rctl_state_str(w->iw_state),
	    w->iw_restarts);
	printf(",\"uptime_ms\":%" PRIu64 ",\"heartbeat_age_ms\":%" PRIu64
	    ",\"conns\":%" PRIu64 ",\"requests\":%" PRIu64 "}",
	    w->iw_uptime_ms, w->iw_heartbeat_age_ms, w->iw_conns,
	    w->iw_requests);
}

/* ------------------------------------------------------------------ */
/* reload, stop                                                        */
/* ------------------------------------------------------------------ */

static int
rctl_reload(struct rctl *rc, int argc, char **argv)
{
	struct ipc_reload	 r;
	int			 rv;

	if ((rv = rctl_request(rc, IPC_CTL_RELOAD, IPC_CTL_RELOAD_REPLY)) != 0)
		return (rv);
	memcpy(&r, rc->rc_payload, sizeof(r));
	ipc_reload_fix(&r);
	if (!rc->rc_json) {
		printf("%s\n", r.ir_text);
		return (RCTL_EXIT_OK);
	}
	printf("{\"ok\":true,\"message\":");
	rctl_json_str(r.ir_text);
	rctl_json_list("in_place", r.ir_in_place);
	rctl_json_list("replaced", r.ir_replaced);
	rctl_json_list("changed", r.ir_changed);
	rctl_json_list("restart_needed", r.ir_restart);
	printf("}\n");
	return (RCTL_EXIT_OK);
}

/* ,"name":[...] from the space-separated words of list. */
static void
rctl_json_list(const char *name, const char *list)
{
	char	 word[256];
	size_t	 n;
	int	 first = 1;

	printf(",\"%s\":[", name);
	while (*list != '\0') {
		n = strcspn(list, " ");
		if (n > 0 && n < sizeof(word)) {
			memcpy(word, list, n);
			word[n] = '\0';
			if (!first)
				putchar(',');
			rctl_json_str(word);
			first = 0;
		}
		list += n;
		list += strspn(list, " ");
	}
	putchar(']');
}

/* drain and undrain: one request, the daemon's sentence. */
static int
rctl_drain_req(struct rctl *rc, uint32_t type)
{
	struct ipc_text	 t;
	int		 rv;

	if ((rv = rctl_request(rc, type, IPC_CTL_OK)) != 0)
		return (rv);
	memcpy(&t, rc->rc_payload, sizeof(t));
	ipc_strfix(t.it_text);
	if (rc->rc_json)
		rctl_json_result(1, t.it_text);
	else
		printf("%s\n", t.it_text);
	return (RCTL_EXIT_OK);
}

static int
rctl_drain(struct rctl *rc, int argc, char **argv)
{
	return (rctl_drain_req(rc, IPC_CTL_DRAIN));
}

static int
rctl_undrain(struct rctl *rc, int argc, char **argv)
{
	return (rctl_drain_req(rc, IPC_CTL_UNDRAIN));
}

static int
rctl_stop(struct rctl *rc, int argc, char **argv)
{
	struct ipc_text	 t;
	int		 rv, wait = 1;

	if (argc == 1) {
		if (strcmp(argv[0], "--no-wait") != 0)
			return (rctl_cmd_usage(rctl_cmd_find("stop")));
		wait = 0;
	}
	if ((rv = rctl_request(rc, IPC_CTL_STOP, IPC_CTL_OK)) != 0)
		return (rv);
	memcpy(&t, rc->rc_payload, sizeof(t));
	ipc_strfix(t.it_text);
	if (wait && (rv = rctl_stop_wait(rc)) != RCTL_EXIT_OK)
		return (rv);
	if (rc->rc_json)
		rctl_json_result(1, wait ? "routingd stopped" : t.it_text);
	else
		printf("%s\n", wait ? "routingd stopped" : t.it_text);
	return (RCTL_EXIT_OK);
}

/* ------------------------------------------------------------------ */
/* token                                                               */
/* ------------------------------------------------------------------ */

/* USER [--device D] [--ttl SECONDS] into req; RCTL_EXIT_USAGE if not. */
static int
rctl_token_args(int argc, char **argv, struct ipc_token_req *req)
{
	char		*end;
	long long	 ttl;
	int		 i;

	memset(req, 0, sizeof(*req));
	req->tr_ttl = RCTL_TOKEN_TTL;
	if (strlen(argv[0]) >= sizeof(req->tr_user))
		return (RCTL_EXIT_USAGE);
	memcpy(req->tr_user, argv[0], strlen(argv[0]) + 1);
	for (i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return (RCTL_EXIT_USAGE);
		if (strcmp(argv[i], "--device") == 0) {
			if (strlen(argv[i + 1]) >= sizeof(req->tr_device))
				return (RCTL_EXIT_USAGE);
			memcpy(req->tr_device, argv[i + 1],
			    strlen(argv[i + 1]) + 1);
		} else if (strcmp(argv[i], "--ttl") == 0) {
			errno = 0;
			ttl = strtoll(argv[i + 1], &end, 10);
			if (errno != 0 || end == argv[i + 1] || *end != '\0' ||
			    ttl < 1)
				return (RCTL_EXIT_USAGE);
			req->tr_ttl = ttl;
		} else
			return (RCTL_EXIT_USAGE);
	}
	return (RCTL_EXIT_OK);
}

/* Text: the token alone on a line, for TOKEN=$(routingctl token alice). */
static int
rctl_token(struct rctl *rc, int argc, char **argv)
{
	struct ipc_token_req	 req;
	struct ipc_token	 tk;
	int			 rv;

	if (rctl_token_args(argc, argv, &req) != RCTL_EXIT_OK)
		return (rctl_cmd_usage(rctl_cmd_find("token")));
	rv = rctl_request_p(rc, IPC_CTL_TOKEN, &req, sizeof(req),
	    IPC_CTL_TOKEN_REPLY, CTL_TIMEOUT);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(&tk, rc->rc_payload, sizeof(tk));
	ipc_strfix(tk.tk_token);
	if (!rc->rc_json) {
		printf("%s\n", tk.tk_token);
		return (RCTL_EXIT_OK);
	}
	printf("{\"token\":");
	rctl_json_str(tk.tk_token);
	printf(",\"user\":");
	rctl_json_str(req.tr_user);
	printf(",\"device\":");
	if (req.tr_device[0] != '\0')
		rctl_json_str(req.tr_device);
	else
		printf("null");
	printf(",\"ttl\":%lld,\"expires\":%lld}\n", (long long)req.tr_ttl,
	    (long long)tk.tk_exp);
	return (RCTL_EXIT_OK);
}

/* Poll until nothing accepts on the socket any more. */
static int
rctl_stop_wait(struct rctl *rc)
{
	struct timespec	 ts = { 0, CTL_STOP_POLL_MS * 1000000L };
	int		 i;

	for (i = 0; i < CTL_STOP_WAIT * 1000 / CTL_STOP_POLL_MS; i++) {
		if (!rctl_alive(rc->rc_socket))
			return (RCTL_EXIT_OK);
		(void)nanosleep(&ts, NULL);
	}
	fprintf(stderr, "routingctl: routingd still answers on %s after "
	    "%d s\n", rc->rc_socket, CTL_STOP_WAIT);
	if (rc->rc_json)
		rctl_json_result(0, "routingd did not stop in time");
	return (RCTL_EXIT_FAIL);
}

/* ------------------------------------------------------------------ */
/* Store queries: presence, queue, devices, purge, backup              */
/* ------------------------------------------------------------------ */

/* "512 B", "3.4 KiB", "1.2 MiB", "8.0 GiB". */
static void
rctl_fmt_bytes(char *buf, size_t len, uint64_t n)
{
	static const char	*units[] = { "KiB", "MiB", "GiB", "TiB" };
	double			 v = (double)n;
	int			 u = -1;

	if (n < 1024) {
		(void)snprintf(buf, len, "%" PRIu64 " B", n);
		return;
	}
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	(void)snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* The age of unix-ms time t at now: "12s", "-" when t is 0. */
static void
rctl_fmt_age(char *buf, size_t len, uint64_t now, uint64_t t)
{
	if (t == 0) {
		(void)snprintf(buf, len, "-");
		return;
	}
	rctl_fmt_dur(buf, len, now > t ? (now - t) / 1000 : 0);
}

/* Unix ms as "2026-12-04 06:30:00 UTC", or "-" for 0. */
static void
rctl_fmt_time(char *buf, size_t len, uint64_t ms)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);

	if (ms == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(buf, len, "-");
}

/* A user (and device) request: ids longer than the protocol's refused. */
static int
rctl_user_req(struct ipc_user_req *ur, const char *user, const char *dev)
{
	memset(ur, 0, sizeof(*ur));
	if (strlen(user) >= sizeof(ur->ur_user) ||
	    (dev != NULL && strlen(dev) >= sizeof(ur->ur_device))) {
		fprintf(stderr, "routingctl: a user or device id is at most "
		    "%zu bytes\n", sizeof(ur->ur_user) - 1);
		return (-1);
	}
	memcpy(ur->ur_user, user, strlen(user));
	if (dev != NULL)
		memcpy(ur->ur_device, dev, strlen(dev));
	return (0);
}

/* IPC_CTL_USER for user (and device) into *ui; an RCTL_EXIT_* value. */
static int
rctl_user_info(struct rctl *rc, const char *user, const char *dev,
    struct ipc_user_info *ui)
{
	struct ipc_user_req	 ur;
	int			 rv;

	if (rctl_user_req(&ur, user, dev) == -1)
		return (RCTL_EXIT_USAGE);
	rv = rctl_request_p(rc, IPC_CTL_USER, &ur, sizeof(ur),
	    IPC_CTL_USER_REPLY, CTL_TIMEOUT);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(ui, rc->rc_payload, sizeof(*ui));
	ipc_user_info_fix(ui);
	return (RCTL_EXIT_OK);
}

/* "ws 0 (pid 123)" for each seat of mask, comma-separated. */
static void
rctl_seats_text(const struct ipc_user_info *ui, uint64_t mask, char *buf,
    size_t len)
{
	size_t		 off = 0;
	uint32_t	 i;
	int		 n;

	buf[0] = '\0';
	for (i = 0; i < IPC_MAX_SEATS && off < len; i++) {
		if (!(mask & ((uint64_t)1 << i)))
			continue;
		n = snprintf(buf + off, len - off, "%sws %u (pid %d)",
		    off > 0 ? ", " : "", i, i < ui->ui_nseats ?
		    ui->ui_seat_pid[i] : 0);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (buf[0] == '\0')
		(void)snprintf(buf, len, "-");
}

static void
rctl_seats_json(const struct ipc_user_info *ui, uint64_t mask)
{
	uint32_t	 i;
	int		 first = 1;

	putchar('[');
	for (i = 0; i < IPC_MAX_SEATS; i++) {
		if (!(mask & ((uint64_t)1 << i)))
			continue;
		printf("%s{\"role\":\"ws\",\"index\":%u,\"pid\":%d}",
		    first ? "" : ",", i, i < ui->ui_nseats ?
		    ui->ui_seat_pid[i] : 0);
		first = 0;
	}
	putchar(']');
}

#define RCTL_PRESENCE_FMT	"%-24s %-5s %5s %10s  %s\n"

/* enum pr_mode as routingctl shows it. */
static const char *
rctl_mode_name(uint32_t mode)
{
	switch (mode) {
	case PR_MODE_PUSH:
		return ("push");
	case PR_MODE_POKE:
		return ("poke");
	default:
		return ("?");
	}
}

static void
rctl_presence_json(const struct ipc_user_info *ui,
    const struct ipc_dev_row *r, int first)
{
	printf("%s{\"device\":", first ? "" : ",");
	rctl_json_str(r->dr_device);
	printf(",\"mode\":");
	rctl_json_str(rctl_mode_name(r->dr_mode));
	printf(",\"since_ms\":");
	if (r->dr_online_since == 0)
		printf("null");
	else
		printf("%" PRIu64, (uint64_t)r->dr_online_since * 1000);
	printf(",\"connections\":%u,\"workers\":", r->dr_conns);
	rctl_seats_json(ui, r->dr_workers);
	putchar('}');
}

static void
rctl_presence_text(const struct ipc_user_info *ui,
    const struct ipc_dev_row *r, int first)
{
	char	 conns[16], age[32], seats[512];

	if (first)
		printf(RCTL_PRESENCE_FMT, "DEVICE", "MODE", "CONNS",
		    "ONLINE FOR", "WORKER");
	(void)snprintf(conns, sizeof(conns), "%u", r->dr_conns);
	rctl_fmt_age(age, sizeof(age), ui->ui_now_ms,
	    (uint64_t)r->dr_online_since * 1000);
	rctl_seats_text(ui, r->dr_workers, seats, sizeof(seats));
	printf(RCTL_PRESENCE_FMT, r->dr_device, rctl_mode_name(r->dr_mode),
	    conns, age, seats);
}

static int
rctl_presence(struct rctl *rc, int argc, char **argv)
{
	static struct ipc_user_info	 ui;
	const struct ipc_dev_row	*r;
	uint32_t			 i, online = 0;
	int				 rv;

	if ((rv = rctl_user_info(rc, argv[0], NULL, &ui)) != RCTL_EXIT_OK)
		return (rv);
	if (rc->rc_json) {
		printf("{\"user\":");
		rctl_json_str(ui.ui_user);
		printf(",\"known_devices\":%u,\"online\":[", ui.ui_total);
	}
	for (i = 0; i < ui.ui_n; i++) {
		r = &ui.ui_rows[i];
		if (r->dr_conns == 0)
			continue;
		if (rc->rc_json)
			rctl_presence_json(&ui, r, online == 0);
		else
			rctl_presence_text(&ui, r, online == 0);
		online++;
	}
	if (rc->rc_json)
		printf("]}\n");
	else if (online == 0)
		printf("user %s has no device online (%u known)\n",
		    ui.ui_user, ui.ui_total);
	return (RCTL_EXIT_OK);
}

#define RCTL_QUEUE_FMT		"%-24s %-6s %7s %10s %8s\n"

static const char *const rctl_lanes[IPC_NLANES] = { "high", "normal" };

static void
rctl_queue_text(const struct ipc_user_info *ui)
{
	const struct ipc_dev_row	*r;
	char				 depth[16], bytes[32], age[32];
	uint32_t			 i;
	int				 l;

	printf(RCTL_QUEUE_FMT, "DEVICE", "LANE", "DEPTH", "BYTES", "OLDEST");
	for (i = 0; i < ui->ui_n; i++) {
		r = &ui->ui_rows[i];
		for (l = 0; l < IPC_NLANES; l++) {
			(void)snprintf(depth, sizeof(depth), "%u",
			    r->dr_lane_count[l]);
			rctl_fmt_bytes(bytes, sizeof(bytes),
			    r->dr_lane_bytes[l]);
			rctl_fmt_age(age, sizeof(age), ui->ui_now_ms,
			    r->dr_lane_oldest_ms[l]);
			printf(RCTL_QUEUE_FMT, r->dr_device, rctl_lanes[l],
			    depth, bytes, age);
		}
	}
	printf("held for user %s: %u messages (for a device still to come)\n",
	    ui->ui_user, ui->ui_held);
	if (ui->ui_n < ui->ui_total)
		printf("(%u of %u devices shown)\n", ui->ui_n, ui->ui_total);
}

static void
rctl_queue_json(const struct ipc_user_info *ui)
{
	const struct ipc_dev_row	*r;
	uint64_t			 age;
	uint32_t			 i;
	int				 l;

	printf("{\"user\":");
	rctl_json_str(ui->ui_user);
	printf(",\"held\":%u,\"known_devices\":%u,\"truncated\":%s,"
	    "\"devices\":[", ui->ui_held, ui->ui_total,
	    ui->ui_n < ui->ui_total ? "true" : "false");
	for (i = 0; i < ui->ui_n; i++) {
		r = &ui->ui_rows[i];
		printf("%s{\"device\":", i > 0 ? "," : "");
		rctl_json_str(r->dr_device);
		printf(",\"queued\":%u,\"bytes\":%" PRIu64 ",\"lanes\":{",
		    r->dr_count, r->dr_bytes);
		for (l = 0; l < IPC_NLANES; l++) {
			age = r->dr_lane_oldest_ms[l] == 0 ? 0 :
			    ui->ui_now_ms > r->dr_lane_oldest_ms[l] ?
			    ui->ui_now_ms - r->dr_lane_oldest_ms[l] : 0;
			printf("%s\"%s\":{\"depth\":%u,\"bytes\":%" PRIu64
			    ",\"oldest_age_ms\":", l > 0 ? "," : "",
			    rctl_lanes[l], r->dr_lane_count[l],
			    r->dr_lane_bytes[l]);
			if (r->dr_lane_oldest_ms[l] == 0)
				printf("null}");
			else
				printf("%" PRIu64 "}", age);
		}
		printf("}}");
	}
	printf("]}\n");
}

static int
rctl_queue(struct rctl *rc, int argc, char **argv)
{
	static struct ipc_user_info	 ui;
	int				 rv;

	rv = rctl_user_info(rc, argv[0], argc > 1 ? argv[1] : NULL, &ui);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	if (rc->rc_json)
		rctl_queue_json(&ui);
	else
		rctl_queue_text(&ui);
	return (RCTL_EXIT_OK);
}

#define RCTL_DEVICES_FMT	"%-24s %7s %-23s %9s  %s\n"

static void
rctl_devices_text(const struct ipc_user_info *ui)
{
	const struct ipc_dev_row	*r;
	char				 queued[16], created[40], seen[40];
	char				 push[200];
	uint32_t			 i;

	if (ui->ui_n == 0)
		printf("user %s has no known device\n", ui->ui_user);
	else
		printf(RCTL_DEVICES_FMT, "DEVICE", "QUEUED", "CREATED",
		    "LAST SEEN", "PUSH");
	for (i = 0; i < ui->ui_n; i++) {
		r = &ui->ui_rows[i];
		(void)snprintf(queued, sizeof(queued), "%u", r->dr_count);
		rctl_fmt_time(created, sizeof(created), r->dr_created_ms);
		rctl_fmt_age(seen, sizeof(seen), ui->ui_now_ms,
		    r->dr_last_seen_ms);
		if (r->dr_last_seen_ms != 0)
			(void)strncat(seen, " ago", sizeof(seen) -
			    strlen(seen) - 1);
		if (r->dr_has_push)
			(void)snprintf(push, sizeof(push), "%s %s",
			    r->dr_platform, r->dr_app_id);
		else
			(void)snprintf(push, sizeof(push), "none");
		printf(RCTL_DEVICES_FMT, r->dr_device, queued, created, seen,
		    push);
	}
	if (ui->ui_n < ui->ui_total)
		printf("(%u of %u devices shown)\n", ui->ui_n, ui->ui_total);
	if (ui->ui_held > 0)
		printf("held for a device still to come: %u messages\n",
		    ui->ui_held);
}

/* The fields of GET /api/devices, and what only the operator sees. */
static void
rctl_devices_json(const struct ipc_user_info *ui)
{
	const struct ipc_dev_row	*r;
	uint32_t			 i;

	printf("{\"user\":");
	rctl_json_str(ui->ui_user);
	printf(",\"held\":%u,\"known_devices\":%u,\"truncated\":%s,"
	    "\"devices\":[", ui->ui_held, ui->ui_total,
	    ui->ui_n < ui->ui_total ? "true" : "false");
	for (i = 0; i < ui->ui_n; i++) {
		r = &ui->ui_rows[i];
		printf("%s{\"deviceId\":", i > 0 ? "," : "");
		rctl_json_str(r->dr_device);
		printf(",\"queued\":%u,\"bytes\":%" PRIu64 ",\"createdMs\":%"
		    PRIu64 ",\"lastSeenMs\":%" PRIu64 ",\"online\":%s,"
		    "\"push\":", r->dr_count, r->dr_bytes, r->dr_created_ms,
		    r->dr_last_seen_ms, r->dr_conns > 0 ? "true" : "false");
		if (!r->dr_has_push) {
			printf("null}");
			continue;
		}
		printf("{\"platform\":");
		rctl_json_str(r->dr_platform);
		printf(",\"appId\":");
		rctl_json_str(r->dr_app_id);
		printf(",\"registeredMs\":%" PRIu64 "}}", r->dr_registered_ms);
	}
	printf("]}\n");
}

static int
rctl_devices(struct rctl *rc, int argc, char **argv)
{
	static struct ipc_user_info	 ui;
	int				 rv;

	if ((rv = rctl_user_info(rc, argv[0], NULL, &ui)) != RCTL_EXIT_OK)
		return (rv);
	if (rc->rc_json)
		rctl_devices_json(&ui);
	else
		rctl_devices_text(&ui);
	return (RCTL_EXIT_OK);
}

/*
 * Ask on the terminal.  1 yes, 0 no; -1 when stdin is no terminal (the
 * caller refuses then: a script must say -y).
 */
static int
rctl_confirm(const char *user, const char *dev)
{
	char	 line[64];

	if (!isatty(STDIN_FILENO))
		return (-1);
	fprintf(stderr, "drop every message queued for %s%s%s%s? [y/N] ",
	    dev != NULL ? "device " : "user ", dev != NULL ? dev : user,
	    dev != NULL ? " of user " : " (all devices and held)",
	    dev != NULL ? user : "");
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return (0);
	return (line[0] == 'y' || line[0] == 'Y');
}

static void
rctl_purge_out(struct rctl *rc, const char *user, const char *dev,
    const struct ipc_purge *pu)
{
	if (rc->rc_json) {
		printf("{\"ok\":true,\"user\":");
		rctl_json_str(user);
		printf(",\"device\":");
		if (dev != NULL)
			rctl_json_str(dev);
		else
			printf("null");
		printf(",\"devices\":%u,\"messages\":%" PRIu64 ",\"held\":%"
		    PRIu64 ",\"online_skipped\":%u}\n", pu->pu_devices,
		    pu->pu_messages, pu->pu_held, pu->pu_online);
		return;
	}
	printf("purged user %s: %u device(s) and their %" PRIu64 " messages "
	    "dropped, %" PRIu64 " held messages dropped\n", user,
	    pu->pu_devices, pu->pu_messages, pu->pu_held);
	if (pu->pu_online > 0)
		printf("%u device%s online left alone: purge %s once it "
		    "disconnects\n", pu->pu_online, pu->pu_online > 1 ?
		    "s" : "", pu->pu_online > 1 ? "them" : "it");
}

static int
rctl_purge(struct rctl *rc, int argc, char **argv)
{
	const struct rctl_cmd	*cmd = rctl_cmd_find("purge");
	struct ipc_user_req	 ur;
	struct ipc_purge	 pu;
	const char		*ids[2];
	int			 i, n = 0, yes = 0, rv;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-y") == 0 || strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else if (argv[i][0] == '-' || n == 2)
			return (rctl_cmd_usage(cmd));
		else
			ids[n++] = argv[i];
	}
	if (n == 0)
		return (rctl_cmd_usage(cmd));
	if (n == 1)
		ids[1] = NULL;
	if (rctl_user_req(&ur, ids[0], ids[1]) == -1)
		return (RCTL_EXIT_USAGE);
	if (!yes && (rv = rctl_confirm(ids[0], ids[1])) != 1) {
		if (rv == 0) {
			fprintf(stderr, "routingctl: nothing purged\n");
			return (RCTL_EXIT_FAIL);
		}
		fprintf(stderr, "routingctl: purge asks for confirmation on "
		    "a terminal; stdin is none: add -y to purge anyway\n");
		return (RCTL_EXIT_USAGE);
	}
	rv = rctl_request_p(rc, IPC_CTL_PURGE, &ur, sizeof(ur),
	    IPC_CTL_PURGE_REPLY, CTL_TIMEOUT);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(&pu, rc->rc_payload, sizeof(pu));
	rctl_purge_out(rc, ids[0], ids[1], &pu);
	return (RCTL_EXIT_OK);
}

static int
rctl_backup(struct rctl *rc, int argc, char **argv)
{
	struct ipc_path		 ip;
	struct ipc_backup	 ib;
	char			 abs[PATH_MAX], size[32];
	int			 rv;

	if (realpath(argv[0], abs) == NULL) {
		fprintf(stderr, "routingctl: backup directory %s: %s\n",
		    argv[0], strerror(errno));
		if (rc->rc_json)
			rctl_json_result(0, "backup directory not found");
		return (RCTL_EXIT_FAIL);
	}
	memset(&ip, 0, sizeof(ip));
	if (strlen(abs) >= sizeof(ip.ip_path))
		return (rctl_fail(rc, "backup directory path too long"));
	memcpy(ip.ip_path, abs, strlen(abs));
	rv = rctl_request_p(rc, IPC_CTL_BACKUP, &ip, sizeof(ip),
	    IPC_CTL_BACKUP_REPLY, CTL_BACKUP_TIMEOUT);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(&ib, rc->rc_payload, sizeof(ib));
	ipc_strfix(ib.ib_path);
	if (rc->rc_json) {
		printf("{\"ok\":true,\"path\":");
		rctl_json_str(ib.ib_path);
		printf(",\"bytes\":%" PRIu64 ",\"duration_ms\":%" PRIu64 "}\n",
		    ib.ib_bytes, ib.ib_duration_ms);
	} else {
		rctl_fmt_bytes(size, sizeof(size), ib.ib_bytes);
		printf("backup written: %s (%s in %" PRIu64 " ms)\n",
		    ib.ib_path, size, ib.ib_duration_ms);
	}
	return (RCTL_EXIT_OK);
}

/* ------------------------------------------------------------------ */
/* check-config                                                        */
/* ------------------------------------------------------------------ */

static void
rctl_check_json(const char *path, const struct config *cfg,
    const struct cfg_errors *errs)
{
	const char	*name;
	size_t		 pos = 0;
	int		 i;

	printf("{\"ok\":%s,\"file\":", cfg != NULL ? "true" : "false");
	if (path != NULL)
		rctl_json_str(path);
	else
		printf("null");
	printf(",\"errors\":[");
	for (i = 0; cfg == NULL && i < errs->ce_n && i < CFG_MAX_ERRORS; i++) {
		if (i > 0)
			putchar(',');
		rctl_json_str(errs->ce_msg[i]);
	}
	printf("],\"errors_total\":%d,\"unserved\":[", cfg == NULL ?
	    errs->ce_n : 0);
	for (i = 0; cfg != NULL && (name = config_unserved(cfg, &pos)) !=
	    NULL; i++) {
		if (i > 0)
			putchar(',');
		rctl_json_str(name);
	}
	printf("]}\n");
}

static void
rctl_check_text(const char *path, const struct config *cfg,
    const struct cfg_errors *errs)
{
	const char	*name;
	size_t		 pos = 0;
	int		 i;

	if (cfg == NULL) {
		for (i = 0; i < errs->ce_n && i < CFG_MAX_ERRORS; i++)
			fprintf(stderr, "%s\n", errs->ce_msg[i]);
		if (errs->ce_n > CFG_MAX_ERRORS)
			fprintf(stderr, "(%d more problems not shown)\n",
			    errs->ce_n - CFG_MAX_ERRORS);
		return;
	}
	while ((name = config_unserved(cfg, &pos)) != NULL)
		printf("note: %s is set, but its feature is not served by "
		    "this release: the value is only checked\n", name);
	printf("configuration OK: %s\n", path != NULL ? path :
	    "embedded defaults");
}

/*
 * check-config [FILE]: what routingd -n [-f FILE] says, with the same
 * choice of file: FILE, else the system file if it exists, else the
 * embedded defaults.  No daemon is asked.
 */
static int
rctl_check_config(struct rctl *rc, int argc, char **argv)
{
	static struct cfg_errors	 errs;
	struct config			*cfg = NULL;
	const char			*path = NULL;

	if (argc == 1)
		path = argv[0];
	else if (access(ROUTINGD_CONF, F_OK) == 0)
		path = ROUTINGD_CONF;
	memset(&errs, 0, sizeof(errs));
	if (path != NULL)
		(void)config_load(path, &cfg, &errs);
	else if ((cfg = config_new(1)) == NULL) {
		errs.ce_n = 1;
		(void)snprintf(errs.ce_msg[0], CFG_ERRLEN, "out of memory");
	} else if (config_validate(cfg, &errs) == -1) {
		config_free(cfg);
		cfg = NULL;
	}
	if (path != NULL && cfg != NULL && tls_config_check(cfg, &errs) ==
	    -1) {
		config_free(cfg);	/* the TLS files, as routingd -n */
		cfg = NULL;
	}
	if (rc->rc_json)
		rctl_check_json(path, cfg, &errs);
	else
		rctl_check_text(path, cfg, &errs);
	if (cfg == NULL)
		return (RCTL_EXIT_FAIL);
	config_free(cfg);
	return (RCTL_EXIT_OK);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */
/* ------------------------------------------------------------------ */

/*
 * One sample of every series of the metrics text, in the daemon's
 * order: histograms as their _sum and _count (their buckets are for a
 * graph, not a table).  Rates are per second, for counters and
 * histograms only, against an earlier sample of the same daemon.
 */
struct rctl_series {
	char		*se_key;		/* name{labels} as exported */
	char		 se_type[12];		/* counter, gauge, histogram */
	double		 se_value;
	double		 se_rate;
	int		 se_has_rate;
};

struct rctl_sample {
	struct rctl_series	*sm_v;
	size_t			 sm_n;
	size_t			 sm_cap;
	double			 sm_start;	/* the supervisor's start time */
};

static void
rctl_sample_free(struct rctl_sample *sm)
{
	size_t	 i;

	for (i = 0; i < sm->sm_n; i++)
		free(sm->sm_v[i].se_key);
	free(sm->sm_v);
	memset(sm, 0, sizeof(*sm));
}

/* Append a series (key copied); -1 when out of memory. */
static int
rctl_sample_add(struct rctl_sample *sm, const char *key, size_t klen,
    const char *type, double v)
{
	struct rctl_series	*se;

	if (sm->sm_n == sm->sm_cap) {
		sm->sm_cap = sm->sm_cap ? sm->sm_cap * 2 : 256;
		if ((se = reallocarray(sm->sm_v, sm->sm_cap, sizeof(*se))) ==
		    NULL)
			return (-1);
		sm->sm_v = se;
	}
	se = &sm->sm_v[sm->sm_n];
	memset(se, 0, sizeof(*se));
	if ((se->se_key = strndup(key, klen)) == NULL)
		return (-1);
	(void)snprintf(se->se_type, sizeof(se->se_type), "%s", type);
	se->se_value = v;
	sm->sm_n++;
	if (strcmp(se->se_key, "routingd_start_time_seconds") == 0)
		sm->sm_start = v;
	return (0);
}

/* 1 if key is a sample of family name (name, name{, name_suffix). */
static int
rctl_stats_of(const char *key, size_t klen, const char *fam, size_t flen)
{
	return (flen > 0 && klen >= flen && memcmp(key, fam, flen) == 0 &&
	    (klen == flen || key[flen] == '{' || key[flen] == '_'));
}

/* One line of the text: "# TYPE name type" sets the family; a sample
 * line is added unless it is a histogram bucket.  -1: out of memory. */
static int
rctl_stats_line(struct rctl_sample *sm, const char *l, size_t n,
    char *fam, size_t famcap, char *type, size_t typecap)
{
	const char	*sp;
	char		 num[64];
	size_t		 klen;
	char		*end;
	double		 v;

	if (n > 7 && memcmp(l, "# TYPE ", 7) == 0) {
		if ((sp = memchr(l + 7, ' ', n - 7)) == NULL ||
		    (size_t)(sp - l - 7) >= famcap || (size_t)(l + n - sp - 1) >=
		    typecap)
			return (0);
		(void)snprintf(fam, famcap, "%.*s", (int)(sp - l - 7), l + 7);
		(void)snprintf(type, typecap, "%.*s", (int)(l + n - sp - 1),
		    sp + 1);
		return (0);
	}
	if (n == 0 || *l == '#')
		return (0);
	for (sp = l + n - 1; sp > l && *sp != ' '; sp--)
		;
	klen = (size_t)(sp - l);
	if (klen == 0 || (size_t)(l + n - sp - 1) >= sizeof(num))
		return (0);
	(void)snprintf(num, sizeof(num), "%.*s", (int)(l + n - sp - 1), sp + 1);
	v = strtod(num, &end);
	if (*end != '\0' || !isfinite(v))
		return (0);
	if (!rctl_stats_of(l, klen, fam, strlen(fam)))
		return (rctl_sample_add(sm, l, klen, "untyped", v));
	if (strcmp(type, "histogram") == 0 && klen > strlen(fam) + 7 &&
	    memcmp(l + strlen(fam), "_bucket", 7) == 0)
		return (0);
	return (rctl_sample_add(sm, l, klen, type, v));
}

static int
rctl_stats_parse(const char *text, size_t len, struct rctl_sample *sm)
{
	char		 fam[128] = "", type[16] = "";
	const char	*p = text, *nl;

	while (p < text + len) {
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL)
			nl = text + len;
		if (rctl_stats_line(sm, p, (size_t)(nl - p), fam, sizeof(fam),
		    type, sizeof(type)) == -1)
			return (-1);
		p = nl + 1;
	}
	return (0);
}

/* One IPC_CTL_STATS exchange: the parts of the text, in order, parsed. */
static int
rctl_stats_fetch(struct rctl *rc, struct rctl_sample *sm)
{
	struct ipc_stats_part	 sp;
	char			*text = NULL, *p;
	size_t			 len = 0;
	ssize_t			 n;
	int			 err, rv;

	if ((err = rctl_connect(rc->rc_socket, CTL_TIMEOUT, &rc->rc_fd)) != 0)
		return (rctl_connect_fail(rc, err));
	n = rctl_exchange(rc, IPC_CTL_STATS, NULL, 0);
	for (;;) {
		if ((rv = rctl_reply_check(rc, n, IPC_CTL_STATS_REPLY)) != 0)
			break;
		memcpy(&sp, rc->rc_payload, sizeof(sp));
		if ((p = realloc(text, len + sp.sp_len + 1)) == NULL) {
			perror("routingctl: realloc");
			rv = RCTL_EXIT_FAIL;
			break;
		}
		text = p;
		memcpy(text + len, (const char *)rc->rc_payload + sizeof(sp),
		    sp.sp_len);
		len += sp.sp_len;
		if (!sp.sp_more)
			break;
		n = ipc_recv(rc->rc_fd, rc->rc_buf, sizeof(rc->rc_buf));
	}
	close(rc->rc_fd);
	rc->rc_fd = -1;
	if (rv == RCTL_EXIT_OK && rctl_stats_parse(text, len, sm) == -1) {
		perror("routingctl: out of memory");
		rv = RCTL_EXIT_FAIL;
	}
	free(text);
	return (rv);
}

/* Rates of cur against prev, dt seconds earlier (a counter that went
 * down, or a series prev lacks, has none). */
static void
rctl_stats_rates(struct rctl_sample *cur, const struct rctl_sample *prev,
    double dt)
{
	struct rctl_series	*se;
	size_t			 i, j;

	for (i = 0; i < cur->sm_n && dt > 0; i++) {
		se = &cur->sm_v[i];
		if (strcmp(se->se_type, "counter") != 0 &&
		    strcmp(se->se_type, "histogram") != 0)
			continue;
		for (j = 0; j < prev->sm_n; j++) {
			if (strcmp(prev->sm_v[j].se_key, se->se_key) != 0)
				continue;
			if (se->se_value >= prev->sm_v[j].se_value) {
				se->se_rate = (se->se_value -
				    prev->sm_v[j].se_value) / dt;
				se->se_has_rate = 1;
			}
			break;
		}
	}
}

/*
 * Where the previous sample of this socket is kept: the user's runtime
 * directory ($XDG_RUNTIME_DIR), else $TMPDIR or /tmp, one file per user
 * and socket path.
 */
static void
rctl_stats_path(const struct rctl *rc, char *buf, size_t len)
{
	const char	*dir = getenv("XDG_RUNTIME_DIR");
	const char	*p;
	uint32_t	 h = 2166136261u;	/* FNV-1a of the socket path */

	if (dir == NULL || *dir != '/')
		dir = getenv("TMPDIR");
	if (dir == NULL || *dir != '/')
		dir = "/tmp";
	for (p = rc->rc_socket; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	(void)snprintf(buf, len, "%s/routingctl-stats-%lu-%08" PRIx32, dir,
	    (unsigned long)getuid(), h);
}

/* The sample saved by the last call, and when (unix ms); -1: none. */
static int
rctl_stats_load(const char *path, struct rctl_sample *sm, uint64_t *when)
{
	char		 line[1024], *sp, *end;
	unsigned	 ver;
	double		 v;
	FILE		*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return (-1);
	if (fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "routingctl-stats %u %" SCNu64, &ver, when) != 2 ||
	    ver != 1) {
		(void)fclose(fp);
		return (-1);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* "type key value" */
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		if ((end = strrchr(sp, ' ')) == NULL)
			continue;
		*end++ = '\0';
		v = strtod(end, &end);
		if (*end == '\0' && isfinite(v) &&
		    rctl_sample_add(sm, sp, strlen(sp), line, v) == -1)
			break;
	}
	(void)fclose(fp);
	return (0);
}

/* Replace the saved sample (a new file renamed over the old: 0600). */
static void
rctl_stats_save(const char *path, const struct rctl_sample *sm,
    uint64_t when)
{
	char	 tmp[PATH_MAX];
	size_t	 i;
	FILE	*fp;
	int	 fd, bad;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp) || (fd = mkstemp(tmp)) == -1)
		goto fail;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		(void)unlink(tmp);
		goto fail;
	}
	fprintf(fp, "routingctl-stats 1 %" PRIu64 "\n", when);
	for (i = 0; i < sm->sm_n; i++)
		fprintf(fp, "%s %s %.17g\n", sm->sm_v[i].se_type,
		    sm->sm_v[i].se_key, sm->sm_v[i].se_value);
	bad = ferror(fp);
	if (fclose(fp) != 0 || bad || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		goto fail;
	}
	return;
 fail:
	fprintf(stderr, "routingctl: cannot keep this sample in %s: %s\n",
	    path, strerror(errno));
}

/* A value as a person reads it: whole numbers without a fraction. */
static void
rctl_stats_num(char *buf, size_t len, double v)
{
	if (v == (double)(int64_t)v && v > -1e15 && v < 1e15)
		(void)snprintf(buf, len, "%" PRId64, (int64_t)v);
	else if (v >= 1e5 || v <= -1e5)
		(void)snprintf(buf, len, "%.3f", v);
	else
		(void)snprintf(buf, len, "%.6g", v);
}

static void
rctl_stats_text(const struct rctl_sample *sm, double dt, int interval)
{
	const struct rctl_series	*se;
	char				 val[32], rate[32];
	size_t				 i;
	int				 w = 6;

	if (dt > 0)
		printf("rates per second over the last %.2f s (%s)\n", dt,
		    interval ? "-i" : "since the previous stats");
	else
		printf("no rates yet: run stats again, or stats -i SECONDS\n");
	for (i = 0; i < sm->sm_n; i++)
		if ((int)strlen(sm->sm_v[i].se_key) > w)
			w = (int)strlen(sm->sm_v[i].se_key);
	printf("%-*s %-9s %16s %12s\n", w, "METRIC", "TYPE", "VALUE",
	    "RATE/S");
	for (i = 0; i < sm->sm_n; i++) {
		se = &sm->sm_v[i];
		rctl_stats_num(val, sizeof(val), se->se_value);
		if (se->se_has_rate)
			(void)snprintf(rate, sizeof(rate), "%.2f", se->se_rate);
		else
			(void)snprintf(rate, sizeof(rate), "-");
		printf("%-*s %-9s %16s %12s\n", w, se->se_key, se->se_type,
		    val, rate);
	}
}

/* The labels of key, {a="b",...}, as a JSON object's members. */
static void
rctl_stats_json_labels(const char *key)
{
	const char	*p = strchr(key, '{'), *eq;
	char		 buf[256];
	size_t		 n;
	int		 first = 1;

	putchar('{');
	while (p != NULL && *p != '}' && *p != '\0') {
		p++;
		if ((eq = strchr(p, '=')) == NULL || eq[1] != '"' ||
		    (size_t)(eq - p) >= sizeof(buf))
			break;
		(void)snprintf(buf, sizeof(buf), "%.*s", (int)(eq - p), p);
		printf("%s", first ? "" : ",");
		first = 0;
		rctl_json_str(buf);
		putchar(':');
		for (p = eq + 2, n = 0; *p != '\0' && *p != '"' &&
		    n < sizeof(buf) - 1; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			buf[n++] = *p == 'n' && p[-1] == '\\' ? '\n' : *p;
		}
		buf[n] = '\0';
		rctl_json_str(buf);
		if (*p == '"')
			p++;
	}
	putchar('}');
}

static void
rctl_stats_json(const struct rctl_sample *sm, double dt)
{
	const struct rctl_series	*se;
	char				 name[256];
	size_t				 i;

	if (dt > 0)
		printf("{\"interval_seconds\":%.3f,\"series\":[", dt);
	else
		printf("{\"interval_seconds\":null,\"series\":[");
	for (i = 0; i < sm->sm_n; i++) {
		se = &sm->sm_v[i];
		(void)snprintf(name, sizeof(name), "%.*s",
		    (int)strcspn(se->se_key, "{"), se->se_key);
		printf("%s{\"name\":", i > 0 ? "," : "");
		rctl_json_str(name);
		printf(",\"labels\":");
		rctl_stats_json_labels(se->se_key);
		printf(",\"type\":");
		rctl_json_str(se->se_type);
		printf(",\"value\":%.17g,\"rate\":", se->se_value);
		if (se->se_has_rate)
			printf("%.17g}", se->se_rate);
		else
			printf("null}");
	}
	printf("]}\n");
}

/* -i SECONDS: 1 to RCTL_STATS_MAX_INTERVAL; 0 without; -1 bad. */
static int
rctl_stats_args(int argc, char **argv)
{
	char	*end;
	long	 v;

	if (argc == 0)
		return (0);
	if (argc != 2 || strcmp(argv[0], "-i") != 0)
		return (-1);
	errno = 0;
	v = strtol(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[1] || v < 1 ||
	    v > RCTL_STATS_MAX_INTERVAL)
		return (-1);
	return ((int)v);
}

static double
rctl_mono(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * stats [-i SECONDS]: the counters behind /metrics.  Rates against the
 * sample that the previous call kept (same daemon: same start time), or
 * against a first sample taken SECONDS earlier.  Every call keeps its
 * sample for the next one.
 */
static int
rctl_stats(struct rctl *rc, int argc, char **argv)
{
	struct rctl_sample	 cur, prev;
	struct timespec		 ts;
	char			 path[PATH_MAX];
	double			 t0 = 0, dt = 0;
	uint64_t		 when = 0, now;
	int			 secs, rv;

	if ((secs = rctl_stats_args(argc, argv)) == -1)
		return (rctl_cmd_usage(rctl_cmd_find("stats")));
	memset(&cur, 0, sizeof(cur));
	memset(&prev, 0, sizeof(prev));
	rctl_stats_path(rc, path, sizeof(path));
	if (secs > 0) {
		t0 = rctl_mono();
		if ((rv = rctl_stats_fetch(rc, &prev)) != RCTL_EXIT_OK)
			goto out;
		ts.tv_sec = secs;
		ts.tv_nsec = 0;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	} else
		(void)rctl_stats_load(path, &prev, &when);
	if ((rv = rctl_stats_fetch(rc, &cur)) != RCTL_EXIT_OK)
		goto out;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (secs > 0)
		dt = rctl_mono() - t0;
	else if (prev.sm_n > 0 && prev.sm_start == cur.sm_start && now > when)
		dt = (double)(now - when) / 1000.0;
	if (dt > 0)
		rctl_stats_rates(&cur, &prev, dt);
	rctl_stats_save(path, &cur, now);
	if (rc->rc_json)
		rctl_stats_json(&cur, dt);
	else
		rctl_stats_text(&cur, dt, secs > 0);
 out:
	rctl_sample_free(&cur);
	rctl_sample_free(&prev);
	return (rv);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

/*
 * main: parse global options up to the command name, then hand the rest to
 * the command.  --json is also accepted after the command name.
 */
int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct rctl		 rc;
	const struct rctl_cmd		*cmd;
	char				**args;
	int				 ch, i, nargs;

	rc.rc_fd = -1;
	while ((ch = getopt_long(argc, argv, "+hs:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			rctl_usage(stdout);
			return (RCTL_EXIT_OK);
		case 'j':
			rc.rc_json = 1;
			break;
		case 's':
			rc.rc_socket = optarg;
			break;
		case 'V':
			printf("routingctl %s\n", PACKAGE_VERSION);
			return (RCTL_EXIT_OK);
		default:
			rctl_usage(stderr);
			return (RCTL_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		rctl_usage(stderr);
		return (RCTL_EXIT_USAGE);
	}
	if ((cmd = rctl_cmd_find(argv[0])) == NULL) {
		fprintf(stderr, "routingctl: unknown command: %s\n", argv[0]);
		rctl_usage(stderr);
		return (RCTL_EXIT_USAGE);
	}
	if ((args = calloc((size_t)argc, sizeof(*args))) == NULL) {
		perror("routingctl: calloc");
		return (RCTL_EXIT_FAIL);
	}
	for (i = 1, nargs = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			rc.rc_json = 1;
		else
			args[nargs++] = argv[i];
	}
	if (nargs < cmd->cmd_min || nargs > cmd->cmd_max) {
		free(args);
		return (rctl_cmd_usage(cmd));
	}
	if (rc.rc_socket == NULL)
		rc.rc_socket = rctl_socket_default();
	ch = cmd->cmd_fn(&rc, nargs, args);
	free(args);
	return (ch);
}
