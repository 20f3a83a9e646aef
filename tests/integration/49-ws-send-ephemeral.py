"""Send frames over a WebSocket go through the same validation, fan-out
and durable commit as POST /api/send, answered "sent" (with the
requestId) or "error"; ephemeral envelopes reach online devices with
"ephemeral":true, are never stored, and are dropped (and counted) for an
offline recipient."""

import asyncio
import base64
import json

import rtd
import wsclient as wc


async def send(ws, **frame):
    frame.setdefault("type", "send")
    await ws.send(json.dumps(frame))
    return await wc.recv(ws)


async def run(d):
    a, b = rtd.token("alice"), rtd.token("bob")
    async with wc.connect(d, a) as wa, wc.connect(d, b) as wb:
        await wc.until_empty(wa)
        await wc.until_empty(wb)
        r = await send(wa, requestId="r1", envelope=rtd.envelope("bob"))
        rtd.check(r and r["type"] == "sent" and r["requestId"] == "r1" and
                  len(r["ids"]) == 1, "send frame answered sent: %r" % r)
        m = await wc.recv(wb)
        rtd.check(m and m["id"] == r["ids"][0], "bob receives it live")
        r = await send(wa, requestId="r2", envelopes=[
            rtd.envelope("bob", data="MQ=="), rtd.envelope("bob", data="Mg=="),
            rtd.envelope("carol")])
        rtd.check(r and r["type"] == "sent" and len(r["ids"]) == 3,
                  "an array of 3 answered with 3 ids")
        got = [await wc.recv(wb), await wc.recv(wb)]
        rtd.check([g["envelope"]["encryptedData"] for g in got] ==
                  ["MQ==", "Mg=="], "bob receives both, in order")
        st, doc = d.fetch(rtd.token("carol"))
        rtd.check(len(doc["messages"]) == 1, "carol's copy is queued")
        r = await send(wa, requestId="r3", envelope={"recipientId": "bob"})
        rtd.check(r and r["type"] == "error" and r["requestId"] == "r3" and
                  r["error"] == "invalid_envelope", "invalid envelope: %r" % r)
        r = await send(wa, requestId="r4",
                       envelope=rtd.envelope("bob", senderId="mallory"))
        rtd.check(r and r["error"] == "sender_mismatch",
                  "a spoofed senderId: sender_mismatch")
        r = await send(wa, requestId="bad id!", envelope=rtd.envelope("bob"))
        rtd.check(r and r["type"] == "error" and r["error"] ==
                  "invalid_frame", "a bad requestId is refused")
        r = await send(wa, requestId="r5", envelopes=[])
        rtd.check(r and r["error"] == "invalid_envelope",
                  "an empty array is refused")
        # ephemeral, over HTTP and over the socket
        st, doc = d.send(a, rtd.envelope("bob", isEphemeral=True,
                                         data="ZXBo"))
        rtd.check(st == 202, "ephemeral POST accepted")
        m = await wc.recv(wb)
        rtd.check(m and m.get("ephemeral") is True and m["id"] == doc["id"]
                  and m["envelope"]["encryptedData"] == "ZXBo",
                  "bob receives it with ephemeral:true")
        r = await send(wa, requestId="r6",
                       envelope=rtd.envelope("bob", isEphemeral=True))
        m = await wc.recv(wb)
        rtd.check(r["type"] == "sent" and m and m.get("ephemeral") is True
                  and m["id"] == r["ids"][0], "ephemeral over the socket too")
        st, doc = d.fetch(b, limit=500)
        ids = [x["id"] for x in doc["messages"]]
        rtd.check(not any(i.startswith("e") for i in ids),
                  "ephemeral messages are never queued")
        # a hand-off record holds about 60 KB: a larger ephemeral envelope
        # is refused (413 too_large), not accepted and silently dropped
        big = base64.b64encode(b"z" * 60000).decode()
        st, doc = d.send(a, rtd.envelope("bob", isEphemeral=True, data=big))
        rtd.check(st == 413 and doc["error"] == "too_large",
                  "a too large ephemeral envelope: 413 too_large (%s)" % st)
        r = await send(wa, requestId="r7",
                       envelope=rtd.envelope("bob", isEphemeral=True,
                                             data=big))
        rtd.check(r and r["type"] == "error" and r["error"] == "too_large"
                  and r["requestId"] == "r7", "and too_large over the socket")
        st, doc = d.send(a, rtd.envelope("bob", data=big))
        m = await wc.recv(wb)
        rtd.check(st == 202 and m and m["id"] == doc["id"],
                  "the same envelope stored (not ephemeral) is delivered")
    before = d.metrics().get("routingd_messages_dropped_total", 0)
    st, doc = d.send(a, rtd.envelope("dave", isEphemeral=True))
    rtd.check(st == 202, "ephemeral to an offline user: 202")
    after = d.metrics().get("routingd_messages_dropped_total", 0)
    rtd.check(after == before + 1, "and counted as dropped")
    with rtd.api_daemon(queue_max_messages=2, rate_limit_per_user=0) as d2:
        async with wc.connect(d2, a) as wa:
            await wc.until_empty(wa)
            for i in range(2):
                await send(wa, requestId="f%d" % i,
                           envelope=rtd.envelope("erin"))
            r = await send(wa, requestId="f2", envelope=rtd.envelope("erin"))
            rtd.check(r and r["error"] == "queue_full" and
                      r["requestId"] == "f2", "a full queue: queue_full")


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
