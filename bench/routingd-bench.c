/*
 * routingd-bench.c: the load generator shipped with routingd: options,
 * the measuring processes, the merged results and the report.
 *
 * Runs on the same machine as the target (loopback).  It forks --procs
 * measuring processes (rb_run.c), each with its contiguous share of the
 * users, of the senders and of the send rate, and its own epoll loop.
 * Each sets up its share and says it is ready (one byte on its pipe);
 * when every one is, the parent (for idle and connections, after --settle
 * s, reading the target's PSS: rb_pss.c) sends one common start time;
 * each runs the workload and sends back its struct rb_result and its
 * latency samples (a uint32 of microseconds each, so the percentiles of
 * the merged arrays are exact).  A process that fails ends the run: the
 * parent kills the others and exits 1.
 *
 * The target is routingd (HS256 tokens minted from --secret-file, every
 * delivered message acknowledged) or nchan (HTTP publish, WebSocket
 * subscribe, one channel per user; nchan has no tokens and no acks).
 * The report is a table, or with --json one JSON object.  Exit status:
 * 0 when the run completed (whatever it measured), 1 when it could not
 * run, 2 on a usage error.
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rb.h"

#define RBM_VERSION	"1"

static const char *const rbm_workloads[] = { "online", "latency", "offline",
    "drain", "wssend", "idle", "connections", "storm" };
static const char *const rbm_errs[E_NERR] = { "connect", "upgrade",
    "ws_closed", "ws_error_frames", "http_closed", "http_status",
    "unreadable", "stray" };

/* PSS of the target before the connections and after. */
struct rbm_pss {
	long	 before, after;
	int	 nbefore, nafter;
};

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static void
rbm_merge(struct rb_result *t, const struct rb_result *r)
{
	int	 i;

	t->sent += r->sent;
	t->received += r->received;
	t->posted += r->posted;
	t->accepted += r->accepted;
	t->delivered += r->delivered;
	t->lost += r->lost;
	t->unaccepted += r->unaccepted;
	t->dups += r->dups;
	t->stale += r->stale;
	t->pending_end += r->pending_end;
	t->behind_max += r->behind_max;
	for (i = 0; i < E_NERR; i++)
		t->err[i] += r->err[i];
	for (i = 0; i < RB_NSTATUS; i++)
		t->status[i] += r->status[i];
	t->opened += r->opened;
	t->held += r->held;
	t->reconnected += r->reconnected;
	t->drained += r->drained;
	if (r->open_s > t->open_s)
		t->open_s = r->open_s;
	if (r->storm_s > t->storm_s)
		t->storm_s = r->storm_s;
	if (r->drain_s > t->drain_s)
		t->drain_s = r->drain_s;
	if (r->held_s > t->held_s)
		t->held_s = r->held_s;
	if (r->drain_run_s > t->drain_run_s)
		t->drain_run_s = r->drain_run_s;
}

static int
rbm_cmp32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return ((x > y) - (x < y));
}

/* Nearest-rank percentile q of the sorted a[0..n), in us. */
static double
rbm_pct(const uint32_t *a, size_t n, double q)
{
	size_t	 i;

	if (n == 0)
		return (0);
	i = (size_t)(q * (double)n + 0.999999999);
	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return ((double)a[i - 1]);
}

/* Of a[0..n) (sorted here), in us: p50 p99 p99.9 max mean. */
static void
rbm_stats(uint32_t *a, size_t n, double st[5])
{
	double	 sum = 0;
	size_t	 i;

	if (n > 1)
		qsort(a, n, sizeof(*a), rbm_cmp32);
	for (i = 0; i < n; i++)
		sum += a[i];
	st[0] = rbm_pct(a, n, 0.50);
	st[1] = rbm_pct(a, n, 0.99);
	st[2] = rbm_pct(a, n, 0.999);
	st[3] = n ? (double)a[n - 1] : 0;
	st[4] = n ? sum / (double)n : 0;
}

/* ------------------------------------------------------------------ */
/* Report                                                              */
/* ------------------------------------------------------------------ */

static uint64_t
rbm_errors(const struct rb_result *r)
{
	uint64_t	 n = 0;
	int		 i;

	for (i = 0; i < E_NERR; i++)
		n += r->err[i];
	return (n);
}

static int
rbm_sends(const struct rb_opts *o)
{
	return (o->workload <= W_WSSEND);
}

static int
rbm_conns(const struct rb_opts *o)
{
	return (o->workload >= W_IDLE);
}

/* Rates: accepted/s, delivered/s. */
static void
rbm_rates(const struct rb_opts *o, const struct rb_result *r, double *acc,
    double *del)
{
	*acc = rbm_sends(o) ? (double)r->sent / o->seconds : 0;
	if (o->workload == W_DRAIN)
		*del = r->drain_run_s > 0 ? (double)r->drained /
		    r->drain_run_s : 0;
	else
		*del = (double)r->received / o->seconds;
}

static void
rbm_json_lat(const char *name, const double st[5], size_t n)
{
	printf(",\"%s\":{\"samples\":%zu,\"p50\":%.0f,\"p99\":%.0f,"
	    "\"p99_9\":%.0f,\"max\":%.0f,\"mean\":%.1f}", name, n, st[0], st[1],
	    st[2], st[3], st[4]);
}

static void
rbm_json(const struct rb_opts *o, const struct rb_result *r,
    const double d[5], const double p[5], const struct rbm_pss *ps)
{
	double		 acc, del;
	int		 i, first = 1;

	rbm_rates(o, r, &acc, &del);
	printf("{\"workload\":\"%s\",\"target\":\"%s\",\"tokens\":%s,"
	    "\"acks\":%s,\"parameters\":{\"users\":%d,\"senders\":%d,"
	    "\"pipeline\":%d,\"array\":%d,\"rate\":%.0f,\"size\":%d,"
	    "\"procs\":%d,"
	    "\"sources\":%d,\"warmup\":%g,\"seconds\":%g,\"tls\":%s},"
	    "\"accepted_per_s\":%.0f,\"delivered_per_s\":%.0f,"
	    "\"posted\":%llu,\"accepted\":%llu,\"delivered\":%llu,"
	    "\"lost\":%llu,\"duplicates\":%llu,\"stale\":%llu,"
	    "\"delivered_not_accepted\":%llu,\"pending_at_end\":%llu,"
	    "\"drain_s\":%.3f,\"behind_max\":%llu,\"errors_total\":%llu,"
	    "\"errors\":{", rbm_workloads[o->workload],
	    o->target == T_NCHAN ? "nchan" : "routingd",
	    o->target == T_NCHAN ? "false" : "true",
	    o->target == T_NCHAN ? "false" : "true", o->users, o->senders,
	    o->pipeline, o->array, o->rate, o->size, o->procs, o->sources,
	    o->warmup,
	    o->seconds, o->tls ? "true" : "false", acc, del,
	    (unsigned long long)r->posted, (unsigned long long)r->accepted,
	    (unsigned long long)r->delivered, (unsigned long long)r->lost,
	    (unsigned long long)r->dups, (unsigned long long)r->stale,
	    (unsigned long long)r->unaccepted,
	    (unsigned long long)r->pending_end, r->drain_s,
	    (unsigned long long)r->behind_max,
	    (unsigned long long)rbm_errors(r));
	for (i = 0; i < E_NERR; i++)
		printf("%s\"%s\":%llu", i ? "," : "", rbm_errs[i],
		    (unsigned long long)r->err[i]);
	printf("},\"http_status\":{");
	for (i = 0; i < RB_NSTATUS; i++)
		if (r->status[i]) {
			printf("%s\"%d\":%llu", first ? "" : ",", i,
			    (unsigned long long)r->status[i]);
			first = 0;
		}
	printf("}");
	rbm_json_lat("latency_us", d, (size_t)r->nlat);
	rbm_json_lat("accept_latency_us", p, (size_t)r->nplat);
	printf(",\"connections\":{\"opened\":%llu,\"failed\":%llu,"
	    "\"held\":%llu,\"open_s\":%.3f,\"held_s\":%.3f}",
	    (unsigned long long)r->opened,
	    (unsigned long long)(rbm_conns(o) || o->workload <= W_LATENCY ||
	    o->workload == W_WSSEND ? (uint64_t)o->users - r->opened : 0),
	    (unsigned long long)r->held, r->open_s, r->held_s);
	if (o->workload == W_STORM)
		printf(",\"storm\":{\"reconnected\":%llu,\"seconds\":%.3f,"
		    "\"connects_per_s\":%.0f}",
		    (unsigned long long)r->reconnected, r->storm_s,
		    r->storm_s > 0 ? (double)r->reconnected / r->storm_s : 0);
	if (o->workload == W_DRAIN)
		printf(",\"drain\":{\"drained\":%llu,\"seconds\":%.3f}",
		    (unsigned long long)r->drained, r->drain_run_s);
	if (ps != NULL)
		printf(",\"pss\":{\"before_kib\":%ld,\"after_kib\":%ld,"
		    "\"processes\":%d,\"kib_per_connection\":%.2f}",
		    ps->before, ps->after, ps->nafter, r->opened > 0 ?
		    (double)(ps->after - ps->before) / (double)r->opened : 0);
	printf("}\n");
}

static void
rbm_table_lat(const char *name, const double st[5], size_t n,
    const char *what)
{
	if (n == 0)
		return;
	printf("  %-16s p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  "
	    "(%zu samples, %s)\n", name, st[0], st[1], st[2], st[3], n, what);
}

static void
rbm_table(const struct rb_opts *o, const struct rb_result *r,
    const double d[5], const double p[5], const struct rbm_pss *ps)
{
	double	 acc, del;
	int	 i, any = 0;

	rbm_rates(o, r, &acc, &del);
	printf("routingd-bench %s against %s (%s)\n",
	    rbm_workloads[o->workload],
	    o->target == T_NCHAN ? "nchan" : "routingd",
	    o->target == T_NCHAN ? "no tokens, no acknowledgements: nchan "
	    "has neither" : "HS256 tokens, every message acknowledged");
	printf("  %-16s %d users", "parameters", o->users);
	if (rbm_sends(o)) {
		printf(", %d senders x pipeline %d, rate ", o->senders,
		    o->pipeline);
		if (o->array > 1)
			printf("(arrays of %d) ", o->array);
		if (o->rate > 0)
			printf("%.0f/s", o->rate);
		else
			printf("max");
		printf(", %d-byte payloads", o->size);
	}
	printf(", %d process%s, %d source address%s%s\n", o->procs,
	    o->procs > 1 ? "es" : "", o->sources, o->sources > 1 ? "es" : "",
	    o->tls ? ", TLS" : "");
	if (rbm_sends(o)) {
		printf("  %-16s %g s after %g s of warm-up\n", "measured",
		    o->seconds, o->warmup);
		printf("  %-16s %.0f  (posted %llu, accepted %llu)\n",
		    "accepted/s", acc, (unsigned long long)r->posted,
		    (unsigned long long)r->accepted);
	}
	if (rbm_sends(o) && o->workload != W_OFFLINE)
		printf("  %-16s %.0f  (delivered %llu, lost %llu, duplicates "
		    "%llu)\n", "delivered/s", del,
		    (unsigned long long)r->delivered,
		    (unsigned long long)r->lost, (unsigned long long)r->dups);
	if (o->workload == W_DRAIN)
		printf("  %-16s %llu messages fetched and acknowledged in "
		    "%.2f s\n", "drain", (unsigned long long)r->drained,
		    r->drain_run_s);
	rbm_table_lat("latency (us)", d, (size_t)r->nlat, "send to frame");
	rbm_table_lat("accept (us)", p, (size_t)r->nplat, o->target ==
	    T_NCHAN ? "send to 201/202" : o->workload == W_WSSEND ?
	    "send to \"sent\"" : "send to 202");
	if (r->pending_end > 0 && o->workload != W_OFFLINE &&
	    o->workload != W_DRAIN)
		printf("  %-16s %llu accepted, not yet delivered at the end; "
		    "last delivery %.2f s after it\n", "backlog",
		    (unsigned long long)r->pending_end, r->drain_s);
	if (rbm_conns(o) && o->workload != W_STORM)
		printf("  %-16s %llu of %d open (in %.2f s), %llu held for "
		    "%.2f s\n", "connections", (unsigned long long)r->opened,
		    o->users, r->open_s, (unsigned long long)r->held,
		    r->held_s);
	if (o->workload == W_STORM)
		printf("  %-16s %llu of %d open (in %.2f s), %llu open at the "
		    "end\n", "connections", (unsigned long long)r->opened,
		    o->users, r->open_s, (unsigned long long)r->held);
	if (o->workload == W_STORM)
		printf("  %-16s %llu reconnected in %.3f s: %.0f connects/s\n",
		    "storm", (unsigned long long)r->reconnected, r->storm_s,
		    r->storm_s > 0 ? (double)r->reconnected / r->storm_s : 0);
	if (ps != NULL)
		printf("  %-16s %ld KiB before, %ld after (%d processes): "
		    "%.2f KiB per connection\n", "PSS", ps->before, ps->after,
		    ps->nafter, r->opened > 0 ? (double)(ps->after -
		    ps->before) / (double)r->opened : 0);
	printf("  %-16s", "errors");
	for (i = 0; i < E_NERR; i++)
		if (r->err[i]) {
			printf("%s %s %llu", any ? "," : "", rbm_errs[i],
			    (unsigned long long)r->err[i]);
			any = 1;
		}
	printf("%s\n", any ? "" : " none");
	if (r->stale > 0)
		printf("  %-16s %llu messages of an earlier run, not counted\n",
		    "stale", (unsigned long long)r->stale);
	if (o->rate > 0 && r->behind_max > (uint64_t)(o->rate / 100))
		printf("  %-16s fell up to %llu sends behind the rate\n",
		    "pacing", (unsigned long long)r->behind_max);
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */
/* ------------------------------------------------------------------ */

static void
rbm_write_all(int fd, const void *buf, size_t n)
{
	const char	*p = buf;
	ssize_t		 r;

	while (n > 0) {
		if ((r = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			rb_fatal_errno("write to the parent");
		}
		p += r;
		n -= (size_t)r;
	}
}

/* 0 at EOF before anything, 1 when all read; exits on a short read. */
static int
rbm_read_all(int fd, void *buf, size_t n)
{
	char	*p = buf;
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		if ((r = read(fd, p + got, n - got)) == -1) {
			if (errno == EINTR)
				continue;
			rb_fatal_errno("read from a measuring process");
		}
		if (r == 0) {
			if (got == 0)
				return (0);
			rb_fatal("a measuring process sent a truncated "
			    "report");
		}
		got += (size_t)r;
	}
	return (1);
}

/* Share k of n of the users, senders and rate. */
static void
rbm_share(struct rb *w, int k, int n)
{
	w->k = k;
	w->user_lo = (int)((long)w->o.users * k / n);
	w->user_n = (int)((long)w->o.users * (k + 1) / n) - w->user_lo;
	w->send_lo = (int)((long)w->o.senders * k / n);
	w->send_n = (int)((long)w->o.senders * (k + 1) / n) - w->send_lo;
	w->rate = w->o.rate / n;
}

/* A measuring process: set up, say ready, wait for the start, run,
 * report. */
static void __attribute__((noreturn))
rbm_child(struct rb *w, int out, int in)
{
	uint64_t	 start;
	char		 ready = 'R';

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	rbr_setup(w);
	rbm_write_all(out, &ready, 1);
	if (!rbm_read_all(in, &start, sizeof(start)))
		exit(1);	/* the parent gave up */
	rbr_run(w, start);
	rbm_write_all(out, &w->r, sizeof(w->r));
	rbm_write_all(out, w->lat, (size_t)w->r.nlat * sizeof(uint32_t));
	rbm_write_all(out, w->plat, (size_t)w->r.nplat * sizeof(uint32_t));
	exit(0);
}

static void __attribute__((noreturn))
rbm_kill_all(pid_t *pids, int n, const char *why)
{
	int	 i;

	fprintf(stderr, "routingd-bench: %s\n", why);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)waitpid(pids[i], NULL, 0);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void __attribute__((noreturn))
rbm_usage(void)
{
	fprintf(stderr, "usage: routingd-bench [--json] [--tls] [--target "
	    "routingd|nchan] [--secret-file FILE]\n"
	    "    [--api-port PORT] [--ws-port PORT] [--port PORT] "
	    "[--pub-path PATH] [--sub-path PATH]\n"
	    "    [--users N] [--senders N] [--pipeline N] [--array N] "
	    "[--rate MSGS_PER_S] [--size BYTES]\n"
	    "    [--procs N] [--sources K] [--warmup S] [--seconds S] "
	    "[--grace S] [--settle S]\n"
	    "    [--pid PID ...] workload\n"
	    "workloads: online latency offline drain wssend idle connections "
	    "storm\n");
	exit(2);
}

static double
rbm_num(const char *opt, const char *s, double lo, double hi)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "routingd-bench: --%s: %s is not a number "
		    "from %g to %g\n", opt, s, lo, hi);
		exit(2);
	}
	return (v);
}

static void __attribute__((noreturn))
rbm_bad(const char *msg)
{
	fprintf(stderr, "routingd-bench: %s\n", msg);
	exit(2);
}

/* The checks between options, and the defaults that depend on them. */
static void
rbm_check(struct rb_opts *o, int rate_set)
{
	int	 total;

	if (o->target == T_ROUTINGD && o->secret_file == NULL)
		rbm_bad("routingd needs --secret-file (its jwt.secret)");
	if (o->target == T_NCHAN && (o->workload == W_OFFLINE ||
	    o->workload == W_DRAIN || o->workload == W_WSSEND))
		rbm_bad("offline, drain and wssend are routingd's: nchan has "
		    "no acknowledged fetch and no WebSocket send");
	if (o->array > 1 && (o->target == T_NCHAN ||
	    o->workload == W_WSSEND || !rbm_sends(o)))
		rbm_bad("--array is for routingd's HTTP sends");
	if (o->workload == W_IDLE && o->npids == 0)
		rbm_bad("idle needs --pid (the target's processes)");
	if (o->workload == W_LATENCY && !rate_set)
		o->rate = 5000;
	if (o->workload == W_LATENCY && o->rate <= 0)
		rbm_bad("latency needs a --rate above 0");
	if (o->procs > o->users)
		rbm_bad("--procs needs at least as many --users");
	if (rbm_sends(o) && o->procs > o->senders)
		rbm_bad("--procs needs at least as many --senders");
	total = o->users + (rbm_sends(o) ? o->senders : 0);
	if (o->sources == 0)
		o->sources = (total + RB_CONNS_PER_SOURCE - 1) /
		    RB_CONNS_PER_SOURCE;
	if (o->sources < 1)
		o->sources = 1;
	if (o->sources > RB_MAX_SOURCES)
		o->sources = RB_MAX_SOURCES;
}

static void
rbm_workload(struct rb_opts *o, const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(rbm_workloads) / sizeof(rbm_workloads[0]); i++)
		if (strcmp(name, rbm_workloads[i]) == 0) {
			o->workload = (enum rb_workload)i;
			return;
		}
	fprintf(stderr, "routingd-bench: unknown workload %s\n", name);
	rbm_usage();
}

static void
rbm_defaults(struct rb_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->api_port = 8082;
	o->ws_port = 8083;
	o->pub_path = "/pub?id=";
	o->sub_path = "/sub/";
	o->users = 1000;
	o->senders = 8;
	o->pipeline = 8;
	o->array = 1;
	o->size = 256;
	o->procs = 1;
	o->warmup = 1;
	o->seconds = 5;
	o->grace = 2;
	o->settle = 1;
}

static void
rbm_options(struct rb_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "api-port", 1, NULL, 'a' }, { "ws-port", 1, NULL, 'w' },
		{ "port", 1, NULL, 'o' }, { "secret-file", 1, NULL, 'S' },
		{ "users", 1, NULL, 'u' }, { "senders", 1, NULL, 'c' },
		{ "pipeline", 1, NULL, 'p' }, { "size", 1, NULL, 'z' },
		{ "rate", 1, NULL, 'r' }, { "warmup", 1, NULL, 'W' },
		{ "seconds", 1, NULL, 't' }, { "grace", 1, NULL, 'g' },
		{ "procs", 1, NULL, 'P' }, { "sources", 1, NULL, 's' },
		{ "settle", 1, NULL, 'e' }, { "pid", 1, NULL, 'i' },
		{ "target", 1, NULL, 'T' }, { "pub-path", 1, NULL, 'b' },
		{ "sub-path", 1, NULL, 'B' }, { "json", 0, NULL, 'j' },
		{ "tls", 0, NULL, 'L' }, { "help", 0, NULL, 'h' },
		{ "version", 0, NULL, 'V' }, { "array", 1, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch, rate_set = 0;

	rbm_defaults(o);
	while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o->api_port = (int)rbm_num("api-port", optarg, 1,
			    65535);
			break;
		case 'w':
			o->ws_port = (int)rbm_num("ws-port", optarg, 1, 65535);
			break;
		case 'o':
			o->api_port = o->ws_port = (int)rbm_num("port", optarg,
			    1, 65535);
			break;
		case 'S':
			o->secret_file = optarg;
			break;
		case 'u':
			o->users = (int)rbm_num("users", optarg, 1, 10000000);
			break;
		case 'c':
			o->senders = (int)rbm_num("senders", optarg, 1,
			    100000);
			break;
		case 'p':
			o->pipeline = (int)rbm_num("pipeline", optarg, 1,
			    RB_MAXPIPE);
			break;
		case 'A':
			o->array = (int)rbm_num("array", optarg, 1,
			    RB_MAX_ARRAY);
			break;
		case 'z':
			o->size = (int)rbm_num("size", optarg, RB_HEAD,
			    RB_MAX_SIZE);
			break;
		case 'r':
			o->rate = rbm_num("rate", optarg, 0, 1e7);
			rate_set = 1;
			break;
		case 'W':
			o->warmup = rbm_num("warmup", optarg, 0, 3600);
			break;
		case 't':
			o->seconds = rbm_num("seconds", optarg, 0.1, 86400);
			break;
		case 'g':
			o->grace = rbm_num("grace", optarg, 0, 600);
			break;
		case 'P':
			o->procs = (int)rbm_num("procs", optarg, 1, 256);
			break;
		case 's':
			o->sources = (int)rbm_num("sources", optarg, 1,
			    RB_MAX_SOURCES);
			break;
		case 'e':
			o->settle = rbm_num("settle", optarg, 0, 600);
			break;
		case 'i':
			if (o->npids == RB_MAX_PIDS)
				rbm_bad("too many --pid");
			o->pids[o->npids++] = (int)rbm_num("pid", optarg, 1,
			    1e9);
			break;
		case 'T':
			if (strcmp(optarg, "routingd") == 0)
				o->target = T_ROUTINGD;
			else if (strcmp(optarg, "nchan") == 0)
				o->target = T_NCHAN;
			else
				rbm_bad("--target is routingd or nchan");
			break;
		case 'b':
			o->pub_path = optarg;
			break;
		case 'B':
			o->sub_path = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'L':
			o->tls = 1;
			break;
		case 'V':
			printf("routingd-bench %s\n", RBM_VERSION);
			exit(0);
		default:
			rbm_usage();
		}
	}
	if (optind != argc - 1)
		rbm_usage();
	rbm_workload(o, argv[optind]);
	rbm_check(o, rate_set);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

/* Fork the measuring processes; res and go get their pipes. */
static pid_t *
rbm_fork(struct rb *w, int (*res)[2], int (*go)[2])
{
	pid_t	*pids;
	int	 i, j, n = w->o.procs;

	fflush(NULL);
	pids = rb_alloc((size_t)n * sizeof(*pids));
	for (i = 0; i < n; i++)
		if (pipe2(res[i], O_CLOEXEC) == -1 ||
		    pipe2(go[i], O_CLOEXEC) == -1)
			rb_fatal_errno("pipe");
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1)
			rbm_kill_all(pids, i, "fork failed");
		if (pids[i] == 0) {
			for (j = 0; j < n; j++) {
				(void)close(res[j][0]);
				(void)close(go[j][1]);
				if (j != i) {
					(void)close(res[j][1]);
					(void)close(go[j][0]);
				}
			}
			rb_set_who("routingd-bench", i);
			rbm_share(w, i, n);
			rbm_child(w, res[i][1], go[i][0]);
		}
		(void)close(res[i][1]);
		(void)close(go[i][0]);
	}
	return (pids);
}

/* The results and samples of process i, merged into total. */
static void
rbm_collect(int fd, pid_t *pids, int n, struct rb_result *total,
    uint32_t **lat, uint32_t **plat)
{
	struct rb_result	 r;

	if (!rbm_read_all(fd, &r, sizeof(r)))
		rbm_kill_all(pids, n, "a measuring process failed while "
		    "running");
	*lat = rb_grow(*lat, (size_t)(total->nlat + r.nlat + 1) *
	    sizeof(uint32_t));
	if (r.nlat > 0 && !rbm_read_all(fd, *lat + total->nlat,
	    (size_t)r.nlat * sizeof(uint32_t)))
		rbm_kill_all(pids, n, "a measuring process sent no samples");
	*plat = rb_grow(*plat, (size_t)(total->nplat + r.nplat + 1) *
	    sizeof(uint32_t));
	if (r.nplat > 0 && !rbm_read_all(fd, *plat + total->nplat,
	    (size_t)r.nplat * sizeof(uint32_t)))
		rbm_kill_all(pids, n, "a measuring process sent no samples");
	rbm_merge(total, &r);
	total->nlat += r.nlat;
	total->nplat += r.nplat;
}

static void
rbm_pss(const struct rb_opts *o, long *kib, int *n, const char *when)
{
	if ((*kib = rbp_pss_kib(o->pids, o->npids, n)) < 0)
		rb_fatal("cannot read the PSS of --pid %d %s (its "
		    "/proc/PID/smaps_rollup)", o->pids[0], when);
}

int
main(int argc, char **argv)
{
	static struct rb	 w;
	struct rb_result	 total;
	struct rbm_pss		 ps, *psp = NULL;
	uint32_t		*lat = NULL, *plat = NULL;
	uint64_t		 start;
	double			 d[5], p[5];
	pid_t			*pids;
	int			(*res)[2], (*go)[2];
	int			 i, n, st, failed = 0;
	char			 ready;

	rbm_options(&w.o, argc, argv);
	if (w.o.tls)
		rb_tls_init();
	(void)signal(SIGPIPE, SIG_IGN);
	w.nonce = (unsigned)((uint64_t)time(NULL) ^ (uint64_t)getpid() ^
	    rb_now()) & 0xffff;
	memset(&ps, 0, sizeof(ps));
	if (w.o.npids > 0 && (w.o.workload == W_IDLE ||
	    w.o.workload == W_CONNECTIONS)) {
		rbm_pss(&w.o, &ps.before, &ps.nbefore, "before");
		psp = &ps;
	}
	n = w.o.procs;
	res = rb_alloc((size_t)n * sizeof(*res));
	go = rb_alloc((size_t)n * sizeof(*go));
	pids = rbm_fork(&w, res, go);
	for (i = 0; i < n; i++)
		if (!rbm_read_all(res[i][0], &ready, 1))
			rbm_kill_all(pids, n, "a measuring process failed to "
			    "set up");
	if (psp != NULL) {
		usleep((useconds_t)(w.o.settle * 1e6));
		rbm_pss(&w.o, &ps.after, &ps.nafter, "after");
	}
	start = rb_now() + 100000;
	for (i = 0; i < n; i++)
		rbm_write_all(go[i][1], &start, sizeof(start));
	memset(&total, 0, sizeof(total));
	for (i = 0; i < n; i++)
		rbm_collect(res[i][0], pids, n, &total, &lat, &plat);
	for (i = 0; i < n; i++)
		if (waitpid(pids[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed = 1;
	rbm_stats(lat, (size_t)total.nlat, d);
	rbm_stats(plat, (size_t)total.nplat, p);
	if (w.o.json)
		rbm_json(&w.o, &total, d, p, psp);
	else
		rbm_table(&w.o, &total, d, p, psp);
	fflush(stdout);
	free(lat);
	free(plat);
	free(pids);
	free(res);
	free(go);
	return (failed);
}
