/*
 * routingctl.c: the operator's command-line tool; runs as its own short
 * process and talks to the routingd supervisor over the control socket.
 *
 * Owns: option parsing, socket discovery, the command table and the output
 * (aligned text, or one JSON object per command with --json).  Each
 * command is one connection, one request, one reply (ipc.h); what it
 * shares with the daemon is ipc.c and the headers ipc.h and paths.h.
 *
 * Invariants: it never hangs (every request has a CTL_TIMEOUT receive and
 * send timeout, stop waits at most CTL_STOP_WAIT); the exit status is one
 * of the RCTL_EXIT_* values; diagnostics go to stderr, results to stdout.
 * Strings received are re-terminated before use.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "paths.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION		"0.1.0"
#endif

#define CTL_TIMEOUT		10	/* seconds per request and reply */
#define CTL_STOP_WAIT		60	/* seconds stop waits for the exit */
#define CTL_STOP_POLL_MS	100	/* milliseconds between probes */
#define RCTL_TOKEN_TTL		3600	/* seconds, token without --ttl */

#define RCTL_EXIT_OK		0
#define RCTL_EXIT_FAIL		1	/* IPC_CTL_FAIL or a broken reply */
#define RCTL_EXIT_USAGE		2
#define RCTL_EXIT_NODAEMON	3	/* connect() failed */

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

/* The commands: add a row, a handler and a paragraph in routingctl.8. */
static const struct rctl_cmd rctl_cmds[] = {
	{ "status", "", 0, 0, rctl_status,
	    "show the daemon's state, addresses and counters" },
	{ "workers", "", 0, 0, rctl_workers,
	    "list every worker process" },
	{ "reload", "", 0, 0, rctl_reload,
	    "re-read the configuration (a bad one keeps the old)" },
	{ "stop", "[--no-wait]", 0, 1, rctl_stop,
	    "stop gracefully and wait until the daemon is gone" },
	{ "drain", "", 0, 0, rctl_drain,
	    "refuse sends and upgrades (503), close WebSockets, stay up" },
	{ "undrain", "", 0, 0, rctl_undrain,
	    "serve again after drain" },
	{ "token", "USER [--device D] [--ttl SECONDS]", 1, 5, rctl_token,
	    "mint an HS256 token with the daemon's secret" },
};

static void	 rctl_usage(FILE *);
static const struct rctl_cmd *rctl_cmd_find(const char *);
static int	 rctl_cmd_usage(const struct rctl_cmd *);
static const char *rctl_socket_default(void);
static int	 rctl_connect(const char *, int *);
static int	 rctl_alive(const char *);
static int	 rctl_request(struct rctl *, uint32_t, uint32_t);
static int	 rctl_request_p(struct rctl *, uint32_t, const void *, size_t,
		    uint32_t);
static ssize_t	 rctl_exchange(struct rctl *, uint32_t, const void *,
		    size_t);
static int	 rctl_reply_check(struct rctl *, ssize_t, uint32_t);
static int	 rctl_fail(struct rctl *, const char *);
static const char *rctl_decode_str(int);
static void	 rctl_json_str(const char *);
static void	 rctl_json_result(int, const char *);
static void	 rctl_fmt_dur(char *, size_t, uint64_t);
static const char *rctl_state_str(uint32_t);
static void	 rctl_status_text(const struct ipc_status *);
static void	 rctl_status_json(const struct ipc_status *);
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

/* 0 and *fdp, or an errno value; both directions time out. */
static int
rctl_connect(const char *path, int *fdp)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { CTL_TIMEOUT, 0 };
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
	return (rctl_request_p(rc, type, NULL, 0, expect));
}

/*
 * One request with len bytes of payload; on RCTL_EXIT_OK rc_hdr and
 * rc_payload hold a reply of type expect.  Every other outcome has been
 * reported.
 */
static int
rctl_request_p(struct rctl *rc, uint32_t type, const void *payload,
    size_t len, uint32_t expect)
{
	ssize_t	 n;
	int	 err, rv;

	if ((err = rctl_connect(rc->rc_socket, &rc->rc_fd)) != 0) {
		fprintf(stderr, "routingctl: no routingd answers on %s: %s\n",
		    rc->rc_socket, strerror(err));
		return (RCTL_EXIT_NODAEMON);
	}
	n = rctl_exchange(rc, type, payload, len);
	rv = rctl_reply_check(rc, n, expect);
	close(rc->rc_fd);
	rc->rc_fd = -1;
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

static int
rctl_reply_check(struct rctl *rc, ssize_t n, uint32_t expect)
{
	struct ipc_text	 t;
	int		 rv;

	if (n == -2)
		return (RCTL_EXIT_FAIL);
	if (n == -1) {
		fprintf(stderr, "routingctl: no reply from routingd on %s: "
		    "%s\n", rc->rc_socket, errno == EAGAIN ?
		    "timed out" : strerror(errno));
		return (RCTL_EXIT_FAIL);
	}
	if (n == 0) {
		fprintf(stderr, "routingctl: routingd closed the connection "
		    "without a reply\n");
		return (RCTL_EXIT_FAIL);
	}
	rv = ipc_decode(rc->rc_buf, (size_t)n, &rc->rc_hdr, &rc->rc_payload);
	if (rv != IPC_OK) {
		fprintf(stderr, "routingctl: malformed reply from routingd: "
		    "%s\n", rctl_decode_str(rv));
		return (RCTL_EXIT_FAIL);
	}
	if (rc->rc_hdr.ih_type == expect)
		return (RCTL_EXIT_OK);
	if (rc->rc_hdr.ih_type == IPC_CTL_FAIL) {
		memcpy(&t, rc->rc_payload, sizeof(t));
		ipc_strfix(t.it_text);
		return (rctl_fail(rc, t.it_text));
	}
	fprintf(stderr, "routingctl: unexpected reply %s from routingd\n",
	    ipc_type_str(rc->rc_hdr.ih_type));
	return (RCTL_EXIT_FAIL);
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

static int
rctl_status(struct rctl *rc, int argc, char **argv)
{
	struct ipc_status	 st;
	int			 rv;

	rv = rctl_request(rc, IPC_CTL_STATUS, IPC_CTL_STATUS_REPLY);
	if (rv != RCTL_EXIT_OK)
		return (rv);
	memcpy(&st, rc->rc_payload, sizeof(st));
	ipc_status_fix(&st);
	if (rc->rc_json)
		rctl_status_json(&st);
	else
		rctl_status_text(&st);
	return (RCTL_EXIT_OK);
}

static void
rctl_status_text(const struct ipc_status *st)
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
rctl_status_json(const struct ipc_status *st)
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
	printf("}\n");
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
	    IPC_CTL_TOKEN_REPLY);
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
