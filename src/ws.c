/*
 * ws.c: the WebSocket worker process (ws_listen).
 *
 * Owns the worker's HTTP server on the WebSocket port.  WebSocket upgrades
 * (GET /connect) arrive in a later release; until then every request is
 * answered 404 with the JSON error body, so the port is already a
 * well-behaved HTTP/1.1 endpoint that drains like the API.
 */

#include "routingd.h"
#include "server.h"
#include "worker.h"

#define WS_MAX_HTTP_BODY	4096	/* bytes: no request body is expected */

static int	ws_init(struct worker *);
static void	ws_drain(struct worker *);
static void	ws_free(struct worker *);

const struct worker_ops ws_ops = {
	"ws",
	ws_init,
	ws_drain,
	ws_free
};

static void
ws_handle(struct server_conn *c, const struct http_request *req, void *arg)
{
	server_respond_error(c, 404, "not_found",
	    "no such endpoint on the WebSocket port", NULL);
}

static int
ws_init(struct worker *w)
{
	return (worker_http_start(w, WS_MAX_HTTP_BODY, ws_handle, w));
}

static void
ws_drain(struct worker *w)
{
	worker_http_drain(w);
}

static void
ws_free(struct worker *w)
{
	worker_http_free(w);
}
