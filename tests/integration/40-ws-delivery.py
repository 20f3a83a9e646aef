"""WebSocket push mode: the backlog in queue order (high lane first), then
queue_empty; live messages within 100 ms; an ack frame deletes durably
(GET /api/messages no longer returns it) and the window slides."""

import asyncio
import time

import rtd
import wsclient as wc


async def run(d):
    a, b = rtd.token("alice"), rtd.token("bob")
    sent = []
    for i in range(30):
        prio = 7 if i % 10 == 0 else 0
        st, doc = d.send(a, rtd.envelope("bob", priority=prio))
        rtd.check(st == 202, "send %d accepted" % i)
        sent.append((prio, doc["id"]))
    want = [i for p, i in sent if p >= 5] + [i for p, i in sent if p < 5]
    async with wc.connect(d, b) as ws:
        got = await wc.until_empty(ws)
        rtd.check([m["id"] for m in got] == want,
                  "backlog in queue order, high lane first (%d)" % len(got))
        rtd.check(all(m["type"] == "message" and
                      m["envelope"]["recipientId"] == "bob" for m in got),
                  "message frames carry the stored envelope")
        lat = []
        for i in range(20):
            t0 = time.monotonic()
            st, doc = d.send(a, rtd.envelope("bob"))
            m = await wc.recv(ws, 2)
            lat.append((time.monotonic() - t0) * 1000)
            rtd.check(m is not None and m["id"] == doc["id"],
                      "live message %d arrives" % i)
        lat.sort()
        print("# POST -> frame: median %.1f ms, max %.1f ms" %
              (lat[len(lat) // 2], lat[-1]))
        rtd.check(lat[len(lat) // 2] < 100, "live delivery within 100 ms "
                  "(median %.1f ms)" % lat[len(lat) // 2])
        await wc.ack(ws, [m["id"] for m in got])
        await asyncio.sleep(0.3)
        st, doc = d.fetch(b, limit=500)
        left = [m["id"] for m in doc["messages"]]
        rtd.check(not set(left) & set(want) and len(left) == 20,
                  "acked over WebSocket: gone from the queue (%d left)" %
                  len(left))
        m = d.metrics()
        rtd.check(m.get("routingd_ws_acks_total") == 30,
                  "routingd_ws_acks_total counts the 30 acks")
        rtd.check(m.get("routingd_ws_connections") == 1,
                  "routingd_ws_connections is 1")
        rtd.check(m.get("routingd_ws_delivery_seconds_count", 0) >= 20,
                  "delivery latency histogram observed the live ones")
    # The window: with ws_window 5 only 5 are pushed until acks come.
    with rtd.api_daemon(ws_window=5, rate_limit_per_user=0) as d2:
        for i in range(12):
            d2.send(a, rtd.envelope("bob"))
        async with wc.connect(d2, b) as ws:
            first = [await wc.recv(ws, 2) for _ in range(5)]
            rtd.check(all(m and m["type"] == "message" for m in first),
                      "5 messages pushed")
            rtd.check(await wc.recv(ws, 0.5) is None,
                      "nothing more until an ack (window 5)")
            await wc.ack(ws, [first[0]["id"], first[1]["id"]])
            more = [await wc.recv(ws, 2) for _ in range(2)]
            rtd.check(all(m and m["type"] == "message" for m in more),
                      "two acks let two more through")
            rtd.check(await wc.recv(ws, 0.5) is None, "and no more")


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
