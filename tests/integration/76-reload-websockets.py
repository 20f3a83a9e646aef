"""Reload with WebSocket clients connected.  In place (ws_listen and
ws_workers unchanged): the WS worker keeps its pid and its connections,
new connections get the new JWT secret and the new
max_connections_per_device, the reply lists what was applied and how
(text and --json), data_dir is reported as needing a restart and keeps
its running value.  A bad file changes nothing and closes nothing.
Replace (ws_workers changed): the old connections close with 1012,
spread over time rather than all at once, and clients can reconnect."""

import asyncio
import json
import time

import rtd
import wsclient as wc

NEW_SECRET = "rtd-test-secret-NEW-0123456789abcdef0123456789abcde"
NCONN = 10


def ws_pids(d):
    return sorted(p for p, t in d.workers().items()
                  if t and t.startswith("routingd: ws"))


async def open_conns(d, n, secret=rtd.TEST_SECRET):
    conns = []
    for i in range(n):
        ws = await wc.connect(d, rtd.token("u%d" % i, secret=secret))
        await wc.until_empty(ws)
        conns.append(ws)
    return conns


async def in_place(d):
    conns = await open_conns(d, 4)
    pids = ws_pids(d)
    keys = dict(d.keys, jwt_secret=NEW_SECRET, max_connections_per_device=2,
                data_dir=d.keys["data_dir"] + "-elsewhere")
    d.write_config(keys)
    rc, out, err = d.ctl("--json", "reload")
    rtd.check(rc == 0, "reload in place (%d %r)" % (rc, out + err))
    doc = json.loads(out)
    rtd.check(doc["in_place"] == ["ws"] and doc["replaced"] == ["api"],
              "ws in place, api replaced (%r)" % doc)
    rtd.check("jwt_secret" in doc["changed"] and
              "max_connections_per_device" in doc["changed"] and
              "data_dir" not in doc["changed"],
              "the changed keys are listed (%r)" % doc["changed"])
    rtd.check(doc["restart_needed"] == ["data_dir"],
              "data_dir needs a restart (%r)" % doc["restart_needed"])
    rtd.check("restart needed: data_dir" in doc["message"] and
              "in place: ws" in doc["message"],
              "the sentence says so (%r)" % doc["message"])
    rtd.wait_for(lambda: "configuration applied in place" in d.log(), 5,
                 "the ws worker applied it")
    rtd.check(ws_pids(d) == pids, "the ws worker kept its pid")
    rtd.check(d.ctl_json("status")["data_dir"] == d.keys["data_dir"],
              "data_dir keeps its running value")
    d.wait_ready()

    # the old connections are open and deliver; new tokens sign sends
    new_alice = rtd.token("alice", secret=NEW_SECRET)
    st, sent = d.send(new_alice, rtd.envelope("u0"))
    rtd.check(st == 202, "a send with the new secret (%d)" % st)
    m = await wc.recv(conns[0])
    rtd.check(m is not None and m.get("id") == sent["id"],
              "an old connection is kept and gets the message")
    rtd.check(all(ws.open for ws in conns), "no connection was closed")

    # new connections: the old secret is refused, the new one accepted
    status = await wc.refused(d, tok=rtd.token("u9"))
    rtd.check(status == 401, "the old secret is refused now (%s)" % status)
    a = await wc.connect(d, rtd.token("x", device="d1", secret=NEW_SECRET))
    await wc.until_empty(a)
    b = await wc.connect(d, rtd.token("x", device="d1", secret=NEW_SECRET))
    await wc.until_empty(b)
    await asyncio.sleep(0.5)
    rtd.check(a.open and b.open, "two connections per device are allowed "
              "now (max_connections_per_device 2)")
    await a.close()
    await b.close()

    # a bad file: refused, nothing closed
    d.write_config(text="ws_window = 0\n")
    rc, out, err = d.ctl("reload")
    rtd.check(rc == 1 and "ws_window" in (out + err),
              "a bad file is refused with the reason (%r)" % (out + err))
    await asyncio.sleep(0.3)
    rtd.check(all(ws.open for ws in conns) and ws_pids(d) == pids,
              "a refused reload closes nothing")
    d.keys = dict(keys, data_dir=d.keys["data_dir"])
    d.write_config(d.keys)
    for ws in conns:
        await ws.close()


async def replace(d):
    conns = await open_conns(d, NCONN, secret=NEW_SECRET)
    d.write_config(dict(d.keys, ws_workers=2))
    t0 = time.monotonic()
    rc, out, err = d.ctl("--json", "reload")
    rtd.check(rc == 0, "reload replacing ws (%d %r)" % (rc, out + err))
    doc = json.loads(out)
    rtd.check("ws" in doc["replaced"] and doc["in_place"] == [],
              "ws workers replaced (%r)" % doc)

    async def one(ws):
        try:
            await asyncio.wait_for(ws.wait_closed(), 10)
        except asyncio.TimeoutError:
            return None, None
        return ws.close_code, time.monotonic() - t0
    res = await asyncio.gather(*(one(ws) for ws in conns))
    codes = [c for c, _ in res]
    times = sorted(t for _, t in res if t is not None)
    rtd.check(codes == [1012] * NCONN, "every old connection closed with "
              "1012 (got %s)" % codes)
    rtd.check(times[-1] - times[0] >= 1.0, "the closes are spread, not all "
              "within a few ms (first %.3f s, last %.3f s)"
              % (times[0], times[-1]))
    # clients come back on the new generation
    ws = await wc.connect(d, rtd.token("u0", secret=NEW_SECRET))
    await wc.until_empty(ws)
    await ws.close()
    rtd.wait_for(lambda: len(ws_pids(d)) == 2, 8, "two ws workers")
    m = d.metrics()
    rtd.check(m.get('routingd_ws_disconnects_total{code="1012"}') == NCONN,
              "the 1012 closes counted (%r)"
              % m.get('routingd_ws_disconnects_total{code="1012"}'))


def test():
    with rtd.api_daemon(ws_workers=1, shutdown_timeout="4s") as d:
        asyncio.run(in_place(d))
        d.keys = dict(d.keys, jwt_secret=NEW_SECRET,
                      max_connections_per_device=2)
        d.write_config(d.keys)
        asyncio.run(replace(d))


rtd.run(test)
