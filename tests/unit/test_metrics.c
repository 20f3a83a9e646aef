/*
 * test_metrics.c: unit tests of metrics.c: the exposition rendered from a
 * zeroed struct shm with the two worker roles recorded and a few counters
 * set.  Every family has its HELP and TYPE lines before its samples and
 * is one row of metrics_defs, in order; names are unique; the counters
 * set appear with their values; request counts land on their route and
 * status; histograms are cumulative with +Inf equal to the count.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "routingd.h"
#include "shm.h"

#define MAXLINES	1024

struct text {
	char	*t_buf;			/* the rendering, lines cut */
	char	*t_line[MAXLINES];
	size_t	 t_n;
};

/* A zeroed region with the roles of the supervisor's table. */
static struct shm *
region_new(void)
{
	struct shm	*sh;

	assert_non_null(sh = calloc(1, sizeof(*sh)));
	sh->sh_started_mono_ms = util_mono_ms();
	assert_int_equal(shm_role_add(sh, PROC_API, "api", SHM_SLOTS / 2), 0);
	assert_int_equal(shm_role_add(sh, PROC_WS, "ws", SHM_SLOTS / 2), 0);
	return (sh);
}

/* Render sh and cut the text into lines. */
static void
render(const struct shm *sh, struct text *t)
{
	size_t	 len;
	char	*p, *nl;

	memset(t, 0, sizeof(*t));
	assert_int_equal(metrics_render(sh, &t->t_buf, &len), 0);
	assert_true(len > 0 && t->t_buf[len - 1] == '\n');
	assert_null(memchr(t->t_buf, '\0', len));
	t->t_buf[len - 1] = '\0';
	for (p = t->t_buf; p != NULL; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		assert_true(t->t_n < MAXLINES);
		t->t_line[t->t_n++] = p;
	}
}

/* 1 if the text has exactly this line. */
static int
has_line(const struct text *t, const char *want)
{
	size_t	 i;

	for (i = 0; i < t->t_n; i++)
		if (strcmp(t->t_line[i], want) == 0)
			return (1);
	return (0);
}

/* 1 if sample (a line's name, before '{' or ' ') belongs to family. */
static int
of_family(const char *sample, size_t n, const char *family,
    const char *type)
{
	static const char *const hsuffix[] = { "_bucket", "_sum", "_count" };
	size_t	 fl = strlen(family), i;

	if (n == fl && strncmp(sample, family, fl) == 0)
		return (strcmp(type, "histogram") != 0);
	if (strcmp(type, "histogram") != 0 || n <= fl ||
	    strncmp(sample, family, fl) != 0)
		return (0);
	for (i = 0; i < 3; i++)
		if (n - fl == strlen(hsuffix[i]) &&
		    strncmp(sample + fl, hsuffix[i], n - fl) == 0)
			return (1);
	return (0);
}

/*
 * Every family: "# HELP name help", "# TYPE name type" as its row says,
 * then only its own samples, each "name[{labels}] value"; the families
 * are the rows of metrics_defs in order, each once.
 */
static void
check_structure(const struct text *t)
{
	const struct metrics_def	*md = NULL;
	char				 want[512];
	const char			*l, *sp;
	size_t				 i, row = 0, j, n;

	for (i = 0; i < t->t_n; i++) {
		l = t->t_line[i];
		if (strncmp(l, "# HELP ", 7) == 0) {
			assert_true(row < metrics_ndefs);
			md = &metrics_defs[row++];
			(void)snprintf(want, sizeof(want), "# HELP %s %s",
			    md->md_name, md->md_help);
			assert_string_equal(l, want);
			assert_true(i + 1 < t->t_n);
			(void)snprintf(want, sizeof(want), "# TYPE %s %s",
			    md->md_name, md->md_type);
			assert_string_equal(t->t_line[++i], want);
			continue;
		}
		assert_true(l[0] != '#');
		assert_non_null(md);
		n = strcspn(l, "{ ");
		assert_true(of_family(l, n, md->md_name, md->md_type));
		assert_non_null(sp = strrchr(l, ' '));
		assert_true(sp[1] != '\0');
		assert_true(strspn(sp + 1, "0123456789.e+-") ==
		    strlen(sp + 1));
	}
	assert_int_equal(row, metrics_ndefs);
	for (i = 0; i < metrics_ndefs; i++) {
		assert_true(strncmp(metrics_defs[i].md_name, "routingd_", 9) ==
		    0 || strncmp(metrics_defs[i].md_name, "process_", 8) == 0);
		assert_true(strcmp(metrics_defs[i].md_type, "counter") == 0 ||
		    strcmp(metrics_defs[i].md_type, "gauge") == 0 ||
		    strcmp(metrics_defs[i].md_type, "histogram") == 0);
		for (j = i + 1; j < metrics_ndefs; j++)
			assert_string_not_equal(metrics_defs[i].md_name,
			    metrics_defs[j].md_name);
	}
}

/*
 * Histogram family name: its buckets never go down, the last is +Inf and
 * equals _count; returns that count.
 */
static unsigned long long
check_histogram(const struct text *t, const char *name)
{
	char			 bucket[128], count[128];
	unsigned long long	 v, prev = 0, c = 0;
	const char		*l;
	size_t			 i, nb = 0;
	int			 inf = 0;

	(void)snprintf(bucket, sizeof(bucket), "%s_bucket{le=\"", name);
	(void)snprintf(count, sizeof(count), "%s_count ", name);
	for (i = 0; i < t->t_n; i++) {
		l = t->t_line[i];
		if (strncmp(l, bucket, strlen(bucket)) == 0) {
			assert_false(inf);
			v = strtoull(strrchr(l, ' ') + 1, NULL, 10);
			assert_true(v >= prev);
			prev = v;
			nb++;
			inf = strstr(l, "le=\"+Inf\"") != NULL;
		} else if (strncmp(l, count, strlen(count)) == 0)
			c = strtoull(l + strlen(count), NULL, 10);
	}
	assert_true(nb > 1);
	assert_true(inf);
	assert_int_equal(prev, c);
	return (c);
}

static void
test_zeroed(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;
	size_t		 i;

	render(sh, &t);
	check_structure(&t);
	assert_true(has_line(&t, "routingd_ready 0"));
	assert_true(has_line(&t, "routingd_messages_accepted_total 0"));
	assert_true(has_line(&t, "routingd_connections{role=\"api\"} 0"));
	assert_true(has_line(&t, "routingd_connections{role=\"ws\"} 0"));
	for (i = 0; i < t.t_n; i++) {
		/* only the non-zero route/status pairs are listed */
		assert_null(strstr(t.t_line[i], "api_requests_total{"));
		/* the supervisor has no slots: a role label only in the
		 * process_* families; workers never sampled are left out */
		if (strncmp(t.t_line[i], "process_", 8) != 0)
			assert_null(strstr(t.t_line[i], "role=\"supervisor\""));
		assert_null(strstr(t.t_line[i], "role=\"api\",index"));
	}
	assert_int_equal(check_histogram(&t,
	    "routingd_api_request_duration_seconds"), 0);
	free(t.t_buf);
	free(sh);
}

/* Drained: the gauge, the refusal counters, ready 0 and close 1012. */
static void
test_drained(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;

	atomic_store(&sh->sh_ready, 1);
	atomic_store(&sh->sh_drained, 1);
	atomic_store(&sh->sh_api.sa_drain_refused, 3);
	atomic_store(&sh->sh_ws.sw_drain_refused, 4);
	atomic_store(&sh->sh_ws.sw_closes[SHM_WC_1012], 5);
	render(sh, &t);
	check_structure(&t);
	assert_true(has_line(&t, "routingd_drained 1"));
	assert_true(has_line(&t, "routingd_ready 0"));
	assert_true(has_line(&t, "routingd_drain_refused_sends_total 3"));
	assert_true(has_line(&t, "routingd_drain_refused_upgrades_total 4"));
	assert_true(has_line(&t,
	    "routingd_ws_disconnects_total{code=\"1012\"} 5"));
	free(t.t_buf);
	atomic_store(&sh->sh_drained, 0);
	render(sh, &t);
	assert_true(has_line(&t, "routingd_drained 0"));
	assert_true(has_line(&t, "routingd_ready 1"));
	free(t.t_buf);
	free(sh);
}

/* TLS handshake failures and completions: summed over every slot of
 * every role; the ticket key rotations from the region. */
static void
test_tls_failures(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;
	uint32_t	 api = sh->sh_roles[PROC_API].sr_first;
	uint32_t	 ws = sh->sh_roles[PROC_WS].sr_first;

	atomic_store(&sh->sh_slots[api].ss_tls_failures[SHM_TLS_TIMEOUT], 2);
	atomic_store(&sh->sh_slots[api + 1].ss_tls_failures[SHM_TLS_TIMEOUT],
	    3);
	atomic_store(&sh->sh_slots[ws].ss_tls_failures[SHM_TLS_PROTOCOL], 7);
	atomic_store(&sh->sh_slots[ws].ss_tls_failures[SHM_TLS_OTHER], 1);
	atomic_store(&sh->sh_slots[api].ss_tls_failures[SHM_TLS_CERTIFICATE],
	    4);
	atomic_store(&sh->sh_slots[api].ss_tls_handshakes[SHM_TLSK_FULL], 10);
	atomic_store(&sh->sh_slots[ws].ss_tls_handshakes[SHM_TLSK_FULL], 6);
	atomic_store(&sh->sh_slots[ws + 1].ss_tls_handshakes[SHM_TLSK_RESUMED],
	    9);
	atomic_store(&sh->sh_tls.st_rotations, 3);
	render(sh, &t);
	check_structure(&t);
	assert_true(has_line(&t,
	    "routingd_tls_handshake_failures_total{reason=\"timeout\"} 5"));
	assert_true(has_line(&t,
	    "routingd_tls_handshake_failures_total{reason=\"protocol\"} 7"));
	assert_true(has_line(&t,
	    "routingd_tls_handshake_failures_total{reason=\"closed\"} 0"));
	assert_true(has_line(&t,
	    "routingd_tls_handshake_failures_total{reason=\"other\"} 1"));
	assert_true(has_line(&t,
	    "routingd_tls_handshake_failures_total{reason=\"certificate\"} 4"));
	assert_true(has_line(&t,
	    "routingd_tls_handshakes_total{kind=\"full\"} 16"));
	assert_true(has_line(&t,
	    "routingd_tls_handshakes_total{kind=\"resumed\"} 9"));
	assert_true(has_line(&t,
	    "routingd_tls_ticket_key_rotations_total 3"));
	free(t.t_buf);
	free(sh);
}

static void
test_counters(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;

	atomic_store(&sh->sh_ready, 1);
	atomic_store(&sh->sh_reloads, 3);
	atomic_store(&sh->sh_restarts[PROC_WS], 2);
	atomic_store(&sh->sh_api.sa_accepted, 42);
	atomic_store(&sh->sh_api.sa_store_map_bytes, 8589934592ULL);
	atomic_store(&sh->sh_api.sa_rejected[SHM_REJ_QUEUE_FULL], 4);
	atomic_store(&sh->sh_api.sa_token_misses, 6);
	atomic_store(&sh->sh_ws.sw_pushed, 7);
	atomic_store(&sh->sh_ws.sw_closes[SHM_WC_1006], 9);
	/* an API worker ready in slot 0, a WS worker starting in slot 128 */
	assert_int_equal(shm_slot_alloc(sh, PROC_API, 0), 0);
	atomic_store(&sh->sh_slots[0].ss_state, SHM_SLOT_READY);
	atomic_store(&sh->sh_slots[0].ss_requests, 5);
	assert_int_equal(shm_slot_alloc(sh, PROC_WS, 0), SHM_SLOTS / 2);
	atomic_store(&sh->sh_slots[SHM_SLOTS / 2].ss_conns, 11);
	metrics_count_request(sh, SHM_R_SEND, 202);
	metrics_count_request(sh, SHM_R_SEND, 202);
	metrics_count_request(sh, SHM_R_ACK, 299);	/* unlisted status */
	metrics_count_request(sh, -1, 404);		/* unknown route */

	render(sh, &t);
	check_structure(&t);
	assert_true(has_line(&t, "routingd_ready 1"));
	assert_true(has_line(&t, "routingd_reloads_total 3"));
	assert_true(has_line(&t,
	    "routingd_worker_restarts_total{role=\"ws\"} 2"));
	assert_true(has_line(&t,
	    "routingd_worker_restarts_total{role=\"api\"} 0"));
	assert_true(has_line(&t, "routingd_messages_accepted_total 42"));
	assert_true(has_line(&t, "routingd_store_map_bytes 8589934592"));
	assert_true(has_line(&t,
	    "routingd_messages_rejected_total{reason=\"queue_full\"} 4"));
	assert_true(has_line(&t,
	    "routingd_token_cache_total{result=\"miss\"} 6"));
	assert_true(has_line(&t, "routingd_ws_messages_pushed_total 7"));
	assert_true(has_line(&t,
	    "routingd_ws_disconnects_total{code=\"1006\"} 9"));
	assert_true(has_line(&t,
	    "routingd_http_requests_total{role=\"api\"} 5"));
	assert_true(has_line(&t, "routingd_connections{role=\"ws\"} 11"));
	assert_true(has_line(&t,
	    "routingd_workers{role=\"api\",state=\"ready\"} 1"));
	assert_true(has_line(&t,
	    "routingd_workers{role=\"ws\",state=\"starting\"} 1"));
	assert_true(has_line(&t,
	    "routingd_workers{role=\"ws\",state=\"ready\"} 0"));
	assert_true(has_line(&t, "routingd_api_requests_total{route=\"send\","
	    "status=\"202\"} 2"));
	assert_true(has_line(&t, "routingd_api_requests_total{route=\"ack\","
	    "status=\"0\"} 1"));
	assert_true(has_line(&t, "routingd_api_requests_total{route=\"other\","
	    "status=\"404\"} 1"));
	free(t.t_buf);
	free(sh);
}

static void
test_histograms(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;

	metrics_observe(sh, SHM_H_REQUEST, 300);	/* <= 0.0005 s */
	metrics_observe(sh, SHM_H_REQUEST, 500);	/* the bound itself */
	metrics_observe(sh, SHM_H_REQUEST, 2000);
	metrics_observe(sh, SHM_H_REQUEST, 10000000);	/* past the last */
	metrics_observe(sh, SHM_H_BATCH, 3);
	metrics_observe(sh, SHM_H_COUNT, 1);		/* ignored */
	render(sh, &t);
	check_structure(&t);
	assert_int_equal(check_histogram(&t,
	    "routingd_api_request_duration_seconds"), 4);
	assert_true(has_line(&t, "routingd_api_request_duration_seconds_bucket"
	    "{le=\"0.0005\"} 2"));
	assert_true(has_line(&t, "routingd_api_request_duration_seconds_bucket"
	    "{le=\"0.001\"} 2"));
	assert_true(has_line(&t, "routingd_api_request_duration_seconds_bucket"
	    "{le=\"0.0025\"} 3"));
	assert_true(has_line(&t, "routingd_api_request_duration_seconds_bucket"
	    "{le=\"2.5\"} 3"));
	assert_true(has_line(&t, "routingd_api_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} 4"));
	assert_true(has_line(&t,
	    "routingd_api_request_duration_seconds_sum 10.0028"));
	assert_int_equal(check_histogram(&t, "routingd_store_batch_requests"),
	    1);
	assert_true(has_line(&t,
	    "routingd_store_batch_requests_bucket{le=\"2\"} 0"));
	assert_true(has_line(&t,
	    "routingd_store_batch_requests_bucket{le=\"5\"} 1"));
	assert_true(has_line(&t, "routingd_store_batch_requests_sum 3"));
	assert_int_equal(check_histogram(&t,
	    "routingd_store_commit_duration_seconds"), 0);
	assert_int_equal(check_histogram(&t, "routingd_ws_delivery_seconds"),
	    0);
	free(t.t_buf);
	free(sh);
}

/* Labelled histograms: by route and by WebSocket op. */
static void
test_labelled_histograms(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;

	metrics_observe_route(sh, SHM_R_SEND, 800);
	metrics_observe_route(sh, SHM_R_SEND, 3000);
	metrics_observe_route(sh, 99, 1);		/* counted as other */
	metrics_observe_ws(sh, SHM_WOP_ACK, 20000);
	metrics_observe_ws(sh, SHM_WOP_COUNT, 1);	/* ignored */
	render(sh, &t);
	check_structure(&t);
	assert_true(has_line(&t, "routingd_api_route_duration_seconds_bucket"
	    "{route=\"send\",le=\"0.001\"} 1"));
	assert_true(has_line(&t, "routingd_api_route_duration_seconds_bucket"
	    "{route=\"send\",le=\"+Inf\"} 2"));
	assert_true(has_line(&t, "routingd_api_route_duration_seconds_count"
	    "{route=\"send\"} 2"));
	assert_true(has_line(&t, "routingd_api_route_duration_seconds_sum"
	    "{route=\"send\"} 0.0038"));
	assert_true(has_line(&t, "routingd_api_route_duration_seconds_count"
	    "{route=\"other\"} 1"));
	assert_true(has_line(&t, "routingd_api_route_duration_seconds_count"
	    "{route=\"ack\"} 0"));
	assert_true(has_line(&t, "routingd_ws_op_duration_seconds_bucket"
	    "{op=\"ack\",le=\"0.01\"} 0"));
	assert_true(has_line(&t, "routingd_ws_op_duration_seconds_bucket"
	    "{op=\"ack\",le=\"0.025\"} 1"));
	assert_true(has_line(&t, "routingd_ws_op_duration_seconds_count"
	    "{op=\"send\"} 0"));
	/* the unlabelled request histogram is not touched by these */
	assert_int_equal(check_histogram(&t,
	    "routingd_api_request_duration_seconds"), 0);
	free(t.t_buf);
	free(sh);
}

/* Process samples: the supervisor always, a worker once it sampled. */
static void
test_process(void **state)
{
	struct shm	*sh = region_new();
	struct text	 t;
	int		 a, w;

	sh->sh_started_real_ms = 1700000000000ULL;
	sh->sh_started_mono_ms = 5000;
	metrics_proc_sample(&sh->sh_sup_proc);
	assert_true(atomic_load(&sh->sh_sup_proc.sp_rss_bytes) > 0);
	assert_true(atomic_load(&sh->sh_sup_proc.sp_open_fds) > 0);
	assert_int_equal((a = shm_slot_alloc(sh, PROC_API, 1)), 0);
	assert_true((w = shm_slot_alloc(sh, PROC_WS, 0)) >= 0);
	atomic_store(&sh->sh_slots[a].ss_started_ms, 7500);
	atomic_store(&sh->sh_slots[a].ss_proc.sp_rss_bytes, 4096);
	atomic_store(&sh->sh_slots[a].ss_proc.sp_open_fds, 12);
	atomic_store(&sh->sh_slots[a].ss_proc.sp_cpu_us, 1500000);
	render(sh, &t);
	check_structure(&t);
	assert_true(has_line(&t, "routingd_build_info{version=\""
	    PACKAGE_VERSION "\"} 1"));
	assert_true(has_line(&t, "process_resident_memory_bytes{role=\"api\","
	    "index=\"1\"} 4096"));
	assert_true(has_line(&t, "process_open_fds{role=\"api\",index=\"1\"} "
	    "12"));
	assert_true(has_line(&t, "process_cpu_seconds_total{role=\"api\","
	    "index=\"1\"} 1.5"));
	assert_true(has_line(&t, "process_start_time_seconds{role=\"api\","
	    "index=\"1\"} 1700000002.5"));
	assert_true(has_line(&t, "process_start_time_seconds{role="
	    "\"supervisor\",index=\"0\"} 1700000000"));
	/* the WS worker has not sampled yet: no series of its own */
	assert_false(has_line(&t, "process_open_fds{role=\"ws\",index=\"0\"} "
	    "0"));
	free(t.t_buf);
	/* a second slot for the same seat (a reload): the newest speaks */
	assert_true((w = shm_slot_alloc(sh, PROC_API, 1)) > a);
	atomic_store(&sh->sh_slots[w].ss_started_ms, 9000);
	atomic_store(&sh->sh_slots[w].ss_proc.sp_rss_bytes, 8192);
	render(sh, &t);
	assert_true(has_line(&t, "process_resident_memory_bytes{role=\"api\","
	    "index=\"1\"} 8192"));
	assert_false(has_line(&t, "process_resident_memory_bytes{role=\"api\","
	    "index=\"1\"} 4096"));
	free(t.t_buf);
	/* a released slot and a reused one start without a sample */
	shm_slot_release(sh, w);
	assert_int_equal(shm_slot_alloc(sh, PROC_API, 1), w);
	assert_int_equal(atomic_load(&sh->sh_slots[w].ss_proc.sp_rss_bytes),
	    0);
	free(sh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeroed),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_tls_failures),
		cmocka_unit_test(test_drained),
		cmocka_unit_test(test_histograms),
		cmocka_unit_test(test_labelled_histograms),
		cmocka_unit_test(test_process),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
