/*
 * api.c: the API worker process (HTTP/1.1 on api_listen).
 *
 * Owns the worker's HTTP server (server.c) and the route table; each
 * endpoint is one function.  At this stage it serves the operational
 * endpoints: /healthz (the process is alive), /readyz (every worker is up
 * and the daemon is not draining) and /metrics (daemon-wide counters from
 * shared memory).  Invariants: a route answers every request exactly once;
 * unknown paths are 404 and known paths with another method are 405 with
 * Allow, both with the JSON error body.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routingd.h"
#include "server.h"
#include "worker.h"

struct api {
	struct worker	*a_w;
};

typedef void	 api_route_fn(struct api *, struct server_conn *,
		    const struct http_request *);

struct api_route {
	const char	*ar_path;
	unsigned	 ar_methods;	/* bit per enum http_method */
	const char	*ar_allow;	/* the Allow header for 405 */
	api_route_fn	*ar_fn;
};

#define M(m)		(1u << (m))
#define M_GET		(M(HTTP_M_GET) | M(HTTP_M_HEAD))

static api_route_fn	api_healthz;
static api_route_fn	api_readyz;
static api_route_fn	api_metrics;

static const struct api_route api_routes[] = {
	{ "/healthz",	M_GET,	"GET, HEAD",	api_healthz },
	{ "/metrics",	M_GET,	"GET, HEAD",	api_metrics },
	{ "/readyz",	M_GET,	"GET, HEAD",	api_readyz },
};

static int	api_init(struct worker *);
static void	api_drain(struct worker *);
static void	api_free(struct worker *);
static void	api_handle(struct server_conn *, const struct http_request *,
		    void *);

const struct worker_ops api_ops = {
	"api",
	api_init,
	api_drain,
	api_free
};

static int
api_init(struct worker *w)
{
	struct api	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("%s: calloc", __func__);
		return (-1);
	}
	a->a_w = w;
	w->w_ctx = a;
	return (worker_http_start(w, w->w_cfg->cf_max_envelope_bytes,
	    api_handle, a));
}

/* Nothing but HTTP is in flight in an API worker yet. */
static void
api_drain(struct worker *w)
{
	worker_http_drain(w);
}

static void
api_free(struct worker *w)
{
	worker_http_free(w);
	free(w->w_ctx);
	w->w_ctx = NULL;
}

/* Route one request: exact path match, then method. */
static void
api_handle(struct server_conn *c, const struct http_request *req, void *arg)
{
	const struct api_route	*r;
	size_t			 i;
	char			 allow[64];

	for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		r = &api_routes[i];
		if (strlen(r->ar_path) != req->hr_path_len ||
		    memcmp(r->ar_path, req->hr_path, req->hr_path_len) != 0)
			continue;
		if ((r->ar_methods & M(req->hr_method)) == 0) {
			(void)snprintf(allow, sizeof(allow), "Allow: %s\r\n",
			    r->ar_allow);
			server_respond_error(c, 405, "method_not_allowed",
			    "method not allowed on this path", allow);
			return;
		}
		r->ar_fn(arg, c, req);
		return;
	}
	server_respond_error(c, 404, "not_found", "no such endpoint", NULL);
}

static void
api_healthz(struct api *a, struct server_conn *c,
    const struct http_request *req)
{
	server_respond(c, 200, "text/plain; charset=utf-8", NULL, "OK\n", 3);
}

static void
api_readyz(struct api *a, struct server_conn *c,
    const struct http_request *req)
{
	if (worker_is_ready(a->a_w))
		server_respond(c, 200, "text/plain; charset=utf-8", NULL,
		    "READY\n", 6);
	else
		server_respond(c, 503, "text/plain; charset=utf-8", NULL,
		    "NOT READY\n", 10);
}

static void
api_metrics(struct api *a, struct server_conn *c,
    const struct http_request *req)
{
	char	*text;
	size_t	 len;

	if (metrics_render(a->a_w->w_shm, &text, &len) == -1) {
		server_respond_error(c, 503, "unavailable",
		    "out of memory", NULL);
		return;
	}
	server_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    NULL, text, len);
	free(text);
}
