"""All workers start: N API and M WS children with titled processes, the
API answers /healthz, /readyz and /metrics, the WS port answers plain HTTP
(404, or 400 for /connect without an upgrade)."""

import json

import rtd


def test():
    with rtd.Daemon(api_workers=3, ws_workers=2) as d:
        titles = sorted(d.workers().values())
        rtd.check(titles == ["routingd: api 0", "routingd: api 1",
                             "routingd: api 2", "routingd: ws 0",
                             "routingd: ws 1"],
                  "3 api and 2 ws workers with titles (got %s)" % titles)
        rtd.check(rtd.proc_title(d.pid) == "routingd: supervisor",
                  "the supervisor's title")
        st, hdrs, body = d.get("/healthz")
        rtd.check(st == 200 and body == b"OK\n", "GET /healthz -> 200 OK")
        st, hdrs, body = d.get("/readyz")
        rtd.check(st == 200 and body == b"READY\n", "GET /readyz -> READY")
        m = d.metrics()
        rtd.check(m.get('routingd_workers{role="api",state="ready"}') == 3,
                  "metrics count 3 ready api workers")
        rtd.check(m.get('routingd_workers{role="ws",state="ready"}') == 2,
                  "metrics count 2 ready ws workers")
        rtd.check(m.get("routingd_ready") == 1, "routingd_ready 1")
        rtd.check("routingd_uptime_seconds" in m, "uptime is exported")
        st, hdrs, body = d.get("/elsewhere", port=d.ws_port)
        rtd.check(st == 404, "WS port answers plain HTTP with 404")
        err = json.loads(body)
        rtd.check(err["error"] == "not_found" and "message" in err,
                  "404 carries the JSON error body")
        st, hdrs, body = d.get("/connect", port=d.ws_port)
        rtd.check(st == 400 and json.loads(body)["error"] == "bad_request",
                  "GET /connect without an upgrade: 400 with a JSON body")
        rtd.check("worker up role=api index=2" in d.log(),
                  "the log says each worker came up")


rtd.run(test)
