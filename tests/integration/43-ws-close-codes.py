"""Close codes: 4409 to the older connection when a device opens more
than max_connections_per_device; 4401 when the token's exp passes; 1001
on shutdown; each counted by code in /metrics."""

import asyncio
import time

import websockets

import rtd
import wsclient as wc


async def closed_with(ws, timeout=5.0):
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
    except asyncio.TimeoutError:
        return None
    return ws.close_code


async def run(d):
    b = rtd.token("bob")
    old = await wc.connect(d, b)
    await wc.until_empty(old)
    async with wc.connect(d, b) as new:
        await wc.until_empty(new)
        code = await closed_with(old)
        rtd.check(code == 4409, "the older connection closed with 4409 "
                  "(got %s)" % code)
        st, doc = d.send(rtd.token("alice"), rtd.envelope("bob"))
        m = await wc.recv(new)
        rtd.check(m is not None and m["id"] == doc["id"],
                  "the newer one keeps receiving")
    short = rtd.token("bob", device="tablet", ttl=2)
    t0 = time.monotonic()
    async with wc.connect(d, short) as ws:
        code = await closed_with(ws, 8)
        rtd.check(code == 4401, "closed with 4401 when the token expired "
                  "(got %s after %.1f s)" % (code, time.monotonic() - t0))
    m = d.metrics()
    rtd.check(m.get('routingd_ws_disconnects_total{code="4409"}') == 1,
              "4409 counted")
    rtd.check(m.get('routingd_ws_disconnects_total{code="4401"}') == 1,
              "4401 counted")


async def shutdown(d):
    ws = await wc.connect(d, rtd.token("dave"))
    await wc.until_empty(ws)
    d.signal(15)
    code = await closed_with(ws)
    rtd.check(code == 1001, "SIGTERM: closed with 1001 (got %s)" % code)


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))
    with rtd.api_daemon() as d:
        asyncio.run(shutdown(d))
        rtd.check(d.wait_exit(10) is not None, "the daemon exited")


rtd.run(test)
