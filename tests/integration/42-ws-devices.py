"""Over WebSocket: a third party never sees a message; two devices of one
user both receive it; one device's ack leaves the other device's copy."""

import asyncio

import rtd
import wsclient as wc


async def run(d):
    a = rtd.token("alice")
    phone, laptop = rtd.token("bob", device="phone"), rtd.token(
        "bob", device="laptop")
    carol = rtd.token("carol")
    async with wc.connect(d, phone) as p, wc.connect(d, laptop) as l, \
            wc.connect(d, carol) as c:
        for ws in (p, l, c):
            rtd.check(await wc.until_empty(ws) == [], "empty backlog")
        # queue_empty came: both devices are known (no wait needed)
        st, doc = d.send(a, rtd.envelope("bob", data="Ym9i"))
        rtd.check(st == 202, "sent to bob")
        mp, ml = await wc.recv(p), await wc.recv(l)
        rtd.check(mp is not None and ml is not None and
                  mp["id"] == ml["id"] == doc["id"],
                  "both of bob's devices receive it")
        rtd.check(await wc.recv(c, 0.5) is None, "carol sees nothing")
        st, cdoc = d.fetch(carol)
        rtd.check(cdoc["messages"] == [], "nor does carol's queue")
        await wc.ack(p, [mp["id"]])
        await asyncio.sleep(0.3)
        st, pd = d.fetch(phone)
        st, ld = d.fetch(laptop)
        rtd.check(pd["messages"] == [], "the phone's copy is acked")
        rtd.check([m["id"] for m in ld["messages"]] == [doc["id"]],
                  "the laptop's copy is still there")
        # carol acking bob's message id touches only carol's queue
        await wc.ack(c, [doc["id"]])
        await asyncio.sleep(0.3)
        st, ld = d.fetch(laptop)
        rtd.check(len(ld["messages"]) == 1, "a foreign ack deletes nothing")


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
