"""Poke mode (?mode=poke): one {} frame per new message and nothing else;
the client pulls with GET /api/messages.  A bad mode is refused."""

import asyncio
import json

import rtd
import wsclient as wc


async def run(d):
    a, b = rtd.token("alice"), rtd.token("bob")
    async with wc.connect(d, b, query="?mode=poke") as ws:
        await asyncio.sleep(0.3)
        for i in range(3):
            st, _ = d.send(a, rtd.envelope("bob"))
            rtd.check(st == 202, "sent %d" % i)
        frames = []
        for i in range(3):
            try:
                frames.append(await asyncio.wait_for(ws.recv(), 2))
            except asyncio.TimeoutError:
                break
        rtd.check(frames == ["{}"] * 3, "three {} frames (got %r)" % frames)
        try:
            extra = await asyncio.wait_for(ws.recv(), 0.5)
        except asyncio.TimeoutError:
            extra = None
        rtd.check(extra is None, "nothing else (no message frames)")
        st, doc = d.fetch(b)
        rtd.check(len(doc["messages"]) == 3, "the client pulls all three")
    st = await wc.refused(d, tok=b, query="?mode=fast")
    rtd.check(st == 400, "an unknown mode: 400 (got %s)" % st)


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
