"""A device whose WebSocket closes with messages unacknowledged gets a push
push_delay_after_disconnect later (1 s here), not before; one that
reconnects within the delay gets none; one that closes with everything
acknowledged gets none."""

import asyncio
import time

import gateway
import rtd
import wsclient as wc

APP = gateway.APP


async def left_unacked(d, gw, tok):
    async with wc.connect(d, tok) as ws:
        await wc.until_empty(ws)
        st, _ = d.send(rtd.token("alice"), rtd.envelope("bob"))
        rtd.check(st == 202, "a message while bob's phone is online")
        m = await wc.recv(ws)
        rtd.check(m is not None, "delivered over the socket, not acked")
        await asyncio.sleep(1.5)
        rtd.check(gw.count() == 0, "no push while online")
    t0 = time.monotonic()
    rtd.check(gw.wait(1, 6), "a push after the disconnect")
    took = gw.requests[0]["t"] - t0
    rtd.check(0.8 <= took < 4.0, "about push_delay_after_disconnect "
              "later (%.3f s)" % took)
    n = gw.requests[0]["body"]["notification"]
    rtd.check(n["counts"]["unread"] == 1 and
              n["devices"][0]["pushkey"] == "pk-phone",
              "unread 1 for the phone (%s)" % n)


async def reconnects(d, gw, tok):
    async with wc.connect(d, tok) as ws:
        await wc.until_empty(ws)
    async with wc.connect(d, tok) as ws:     # back within the delay
        await asyncio.sleep(2.5)
        rtd.check(gw.count() == 1, "no push: it reconnected in time")


async def all_acked(d, gw, tok):
    async with wc.connect(d, tok) as ws:
        msgs = await wc.until_empty(ws)
        await wc.ack(ws, [m["id"] for m in msgs])
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.5)
    rtd.check(gw.count() == 1, "no push after a clean disconnect")


def test():
    with gateway.Gateway() as gw, rtd.api_daemon(
            push_gateway_url=gw.url(), push_coalesce="0s",
            push_delay_after_disconnect="1s",
            rate_limit_per_user=0) as d:
        phone = rtd.token("bob", device="phone")
        rtd.check(d.fetch(phone)[0] == 200, "bob's phone is known")
        gateway.register(d, phone, "phone", "pk-phone", platform="apns")
        asyncio.run(left_unacked(d, gw, phone))
        asyncio.run(reconnects(d, gw, phone))
        asyncio.run(all_acked(d, gw, phone))
        m = d.metrics()
        rtd.check(m.get("routingd_push_sent_total") == 1,
                  "one push sent in all (%s)" %
                  m.get("routingd_push_sent_total"))


rtd.run(test)
