/*
 * ws.c: the WebSocket worker process (ws_listen).
 *
 * Owns the worker's HTTP server on the WebSocket port.  WebSocket upgrades
 * (GET /connect) arrive in a later release; until then every request is
 * answered 404 with the JSON error body, so the port is already a
 * well-behaved HTTP/1.1 endpoint that drains like the API.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routingd.h"
#include "server.h"
#include "worker.h"

#define WS_MAX_HTTP_BODY	4096	/* bytes: no request body is expected */

struct ws {
	struct worker	*ws_w;
	struct server	*ws_srv;
};

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
	struct server_config	 sc;
	struct ws		*ws;

	if ((ws = calloc(1, sizeof(*ws))) == NULL) {
		log_warn("%s: calloc", __func__);
		return (-1);
	}
	ws->ws_w = w;
	worker_server_config(w->w_cfg, WS_MAX_HTTP_BODY, &sc);
	ws->ws_srv = server_new(w->w_loop, w->w_listen, &sc, ws_handle, ws,
	    w->w_slot);
	if (ws->ws_srv == NULL) {
		log_warn("%s: cannot start the HTTP server", __func__);
		free(ws);
		return (-1);
	}
	w->w_ctx = ws;
	return (0);
}

static void
ws_idle(void *arg)
{
	struct ws	*ws = arg;

	worker_drained(ws->ws_w);
}

static void
ws_drain(struct worker *w)
{
	struct ws	*ws = w->w_ctx;

	server_drain(ws->ws_srv, ws_idle, ws);
}

static void
ws_free(struct worker *w)
{
	struct ws	*ws = w->w_ctx;

	if (ws == NULL)
		return;
	server_free(ws->ws_srv);
	free(ws);
	w->w_ctx = NULL;
}
