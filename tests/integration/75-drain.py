"""routingctl drain: POST /api/send and WebSocket upgrades get 503
unavailable with Retry-After, /readyz is 503, open WebSockets close with
1001 in batches spread over time (not all at once), fetch and ack still
work, status (text and --json) shows the drain, the metrics count it; a
worker respawned while drained starts drained; undrain serves again."""

import asyncio
import json
import os
import signal
import time

import rtd
import wsclient as wc

NCONN = 12


async def open_conns(d):
    conns = []
    for i in range(NCONN):
        ws = await wc.connect(d, rtd.token("u%d" % i))
        await wc.until_empty(ws)
        conns.append(ws)
    return conns


async def close_times(conns, timeout=10.0):
    t0 = time.monotonic()

    async def one(ws):
        try:
            await asyncio.wait_for(ws.wait_closed(), timeout)
        except asyncio.TimeoutError:
            return None, None
        return ws.close_code, time.monotonic() - t0
    return await asyncio.gather(*(one(ws) for ws in conns))


def upgrade_raw(d, tok):
    req = ("GET /connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: "
           "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Authorization: Bearer %s\r\n\r\n" % tok)
    return rtd.http_raw(d.ws_port, req.encode(), timeout=3).decode("latin-1")


async def run(d):
    alice, bob = rtd.token("alice"), rtd.token("bob")
    st, doc = d.send(alice, rtd.envelope("bob"))
    rtd.check(st == 202, "a send before the drain (%d)" % st)
    conns = await open_conns(d)

    rc, out, err = d.ctl("drain")
    rtd.check(rc == 0 and "drained" in out, "routingctl drain (%d %r)"
              % (rc, out + err))
    res = await close_times(conns)
    codes = [c for c, _ in res]
    times = sorted(t for _, t in res if t is not None)
    rtd.check(codes == [1001] * NCONN, "every WebSocket closed with 1001 "
              "(got %s)" % codes)
    rtd.check(times[-1] - times[0] >= 1.5,
              "the closes are spread (first %.3f s, last %.3f s)"
              % (times[0], times[-1]))
    rtd.check(times[-1] <= 5.0, "all closed within the 1 s tick plus "
              "half of shutdown_timeout and a margin (last %.3f s)"
              % times[-1])

    st, hdrs, doc = d.api("POST", "/api/send", alice, rtd.envelope("bob"))
    rtd.check(st == 503 and doc and doc.get("error") == "unavailable",
              "a send while drained is 503 unavailable (%d %r)" % (st, doc))
    rtd.check(hdrs.get("Retry-After") == "30", "with Retry-After (%r)"
              % hdrs)
    raw = upgrade_raw(d, bob)
    rtd.check(raw.startswith("HTTP/1.1 503") and "Retry-After: 30" in raw
              and '"unavailable"' in raw,
              "an upgrade while drained is 503 with Retry-After (%r)"
              % raw[:300])
    st, _, _ = d.get("/readyz")
    rtd.check(st == 503, "/readyz is 503 while drained (%d)" % st)
    st, _, _ = d.get("/healthz")
    rtd.check(st == 200, "/healthz stays 200 (%d)" % st)
    st, doc = d.fetch(bob)
    rtd.check(st == 200 and len(doc["messages"]) == 1,
              "fetch still works while drained (%d)" % st)
    rtd.check(d.ack(bob, [doc["messages"][0]["id"]]) == 204,
              "ack still works while drained")

    rc, out, err = d.ctl("status")
    rtd.check(rc == 0 and "drained" in out and "since" in out and
              "WebSockets still open" in out,
              "status shows the drain (%r)" % out)
    st_json = d.ctl_json("status")
    rtd.check(st_json["drained"] is True and st_json["ready"] is True and
              st_json["drained_since"] > 0 and
              st_json["websockets_open"] == 0,
              "status --json: drained, since, websockets_open (%r)"
              % st_json)
    m = d.metrics()
    rtd.check(m.get("routingd_drained") == 1, "routingd_drained 1")
    rtd.check(m.get("routingd_ready") == 0, "routingd_ready 0 while drained")
    rtd.check(m.get("routingd_drain_refused_sends_total") == 1,
              "one refused send counted")
    rtd.check(m.get("routingd_drain_refused_upgrades_total") == 1,
              "one refused upgrade counted")
    rtd.check(m.get('routingd_ws_disconnects_total{code="1001"}') == NCONN,
              "the 1001 closes counted")

    # A WS worker respawned while drained starts drained.
    ws_pids = [p for p, t in d.workers().items()
               if t and t.startswith("routingd: ws")]
    os.kill(ws_pids[0], signal.SIGKILL)
    rtd.wait_for(lambda: ws_pids[0] not in d.workers() and
                 len([t for t in d.workers().values()
                      if t and t.startswith("routingd: ws")]) == 1, 8,
                 "the ws worker respawned")
    time.sleep(0.5)
    status = await wc.refused(d, tok=bob)
    rtd.check(status == 503, "the respawned worker refuses upgrades (%s)"
              % status)
    rc, out, err = d.ctl("drain")
    rtd.check(rc == 0 and "already" in out, "drain again is harmless (%r)"
              % out)
    rc, out, err = d.ctl("--json", "drain")
    doc = json.loads(out)
    rtd.check(rc == 0 and doc["ok"] is True and "already" in
              doc["message"], "drain --json: ok, and says already (%r)" % out)

    rc, out, err = d.ctl("--json", "undrain")
    doc = json.loads(out)
    rtd.check(rc == 0 and doc["ok"] is True, "routingctl undrain (%r)" % out)
    st, _, _ = d.get("/readyz")
    rtd.check(st == 200, "/readyz 200 after undrain (%d)" % st)
    st, doc = d.send(alice, rtd.envelope("bob"))
    rtd.check(st == 202, "sends work again (%d)" % st)
    async with wc.connect(d, bob) as ws:
        m = await wc.recv(ws)
        rtd.check(m is not None and m.get("id") == doc["id"],
                  "WebSockets work again and get the message")
    rtd.check(d.ctl_json("status")["drained"] is False,
              "status --json: drained false")
    rtd.check(d.metrics().get("routingd_drained") == 0, "routingd_drained 0")


def test():
    with rtd.api_daemon(ws_workers=1, shutdown_timeout="6s") as d:
        asyncio.run(run(d))
        # stop while drained: the daemon still stops
        d.ctl("drain")
        rc, out, err = d.ctl("--json", "stop")
        rtd.check(rc == 0 and json.loads(out)["ok"] is True,
                  "stop --json while drained (%d %r)" % (rc, out + err))


rtd.run(test)
