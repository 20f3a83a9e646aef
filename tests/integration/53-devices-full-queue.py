"""One full device never blocks the others: with queue_max_messages=5 a
device that stopped reading ("old") loses its oldest message for each new
one while the sends stay 202 and the device that reads ("phone") gets
everything.  old learns of it: "dropped": N in its fetch answers and a
first WS frame {"type":"dropped","count":N} (push and poke mode), repeated
until it acks a message queued after its latest loss; counted in
routingd_queue_overflow_total.  Drop order: the normal lane's oldest
first; the high lane (priority >= 5) only when the normal lane is empty."""

import asyncio
import json

import rtd
import wsclient as wc

OVERFLOW = "routingd_queue_overflow_total"


def ids(doc):
    return [m["id"] for m in doc["messages"]]


def brief(doc):
    """A fetch answer shortened for a message: ids and "dropped"."""
    if not isinstance(doc, dict) or "messages" not in doc:
        return doc
    return {"ids": ids(doc), "dropped": doc.get("dropped")}


def send_id(d, tok, user, **fields):
    st, doc = d.send(tok, rtd.envelope(user, **fields))
    rtd.check(st == 202, "a send to %s is 202 (got %s %s)" % (user, st, doc))
    return doc["id"]


def queued(d, tok):
    st, doc = d.fetch(tok)
    return ids(doc) if st == 200 else None


def fetch_ok(d, tok, what):
    st, doc = d.fetch(tok)
    ok = st == 200 and isinstance(doc, dict)
    rtd.check(ok, "%s: GET /api/messages is 200%s"
              % (what, "" if ok else " (got %s %s)" % (st, doc)))
    return doc


async def first_frame(d, tok, query=""):
    """Connect, return the first frame (raw text) and close."""
    async with wc.connect(d, tok, query=query) as ws:
        try:
            return await asyncio.wait_for(ws.recv(), 3)
        except asyncio.TimeoutError:
            return None


async def ws_old(d, old, want):
    """old's WS connect: dropped frame first, then its 5, then
    queue_empty; an ack of an older one (queued before the latest loss)
    does not clear the marker."""
    async with wc.connect(d, old) as ws:
        first = await wc.recv(ws)
        rtd.check(first == {"type": "dropped", "count": 15},
                  "old's WS connect starts with {\"type\":\"dropped\","
                  "\"count\":15} (got %s)" % first)
        got = await wc.until_empty(ws)
        rtd.check([m["id"] for m in got] == want,
                  "then its 5 messages, then queue_empty (got %s)"
                  % [m["id"] for m in got])
        await wc.ack(ws, [want[0]])
        rtd.wait_for(lambda: queued(d, old) == want[1:],
                     5, "old's WS ack of its oldest message is committed")
    doc = fetch_ok(d, old, "old")
    rtd.check(doc.get("dropped") == 15,
              "acking a message queued before the latest loss keeps "
              "\"dropped\": 15 (got %s)" % doc.get("dropped"))
    raw = await first_frame(d, old, "?mode=poke")
    rtd.check(raw is not None and json.loads(raw) ==
              {"type": "dropped", "count": 15},
              "poke mode: the dropped frame comes first too (got %r)" % raw)


async def ws_clear(d, tok, oldest, newest):
    """A WS ack of the newest message clears the marker."""
    async with wc.connect(d, tok) as ws:
        first = await wc.recv(ws)
        rtd.check(first == {"type": "dropped", "count": 1},
                  "carl/old's WS connect starts with dropped count 1 "
                  "(got %s)" % first)
        got = await wc.until_empty(ws)
        rtd.check(got and got[-1]["id"] == newest, "then its backlog")
        await wc.ack(ws, [newest])
        rtd.wait_for(lambda: newest not in (queued(d, tok) or [newest]),
                     5, "carl/old's WS ack is committed")
    doc = fetch_ok(d, tok, "carl/old")
    rtd.check("dropped" not in doc,
              "a WS ack of a message queued after the loss clears the "
              "marker (got %s)" % brief(doc))
    first = await first_frame(d, tok)
    first = json.loads(first) if first is not None else None
    rtd.check(first is not None and first.get("type") == "message" and
              first.get("id") == oldest,
              "and the next connect has no dropped frame: it starts with "
              "the backlog (got %r)" % first)


def test():
    with rtd.api_daemon(queue_max_messages=5, rate_limit_per_user=0) as d:
        a = rtd.token("alice")
        old = rtd.token("bob", device="old")
        phone = rtd.token("bob", device="phone")
        fetch_ok(d, old, "old becomes known")
        fetch_ok(d, phone, "phone becomes known")
        m0 = d.metrics()
        sent, codes, phone_got = [], [], []
        for i in range(20):
            st, doc = d.send(a, rtd.envelope("bob"))
            codes.append(st)
            if st != 202:
                break
            sent.append(doc["id"])
            got = ids(fetch_ok(d, phone, "phone"))
            phone_got += got
            rtd.check(d.ack(phone, got) == 204, "phone acks")
        rtd.check(codes == [202] * 20,
                  "20 sends to bob are all 202 although old's queue is "
                  "full (got %s)" % codes)
        rtd.check(phone_got == sent,
                  "phone, which reads, received all 20 in order")
        m1 = d.metrics()
        rtd.check(m1.get(OVERFLOW, 0) - m0.get(OVERFLOW, 0) == 15,
                  "%s went up by 15 (got %s)"
                  % (OVERFLOW, m1.get(OVERFLOW, 0) - m0.get(OVERFLOW, 0)))

        doc = fetch_ok(d, old, "old")
        rtd.check(ids(doc) == sent[15:],
                  "old holds exactly the 5 newest (got %s)" % ids(doc))
        rtd.check(doc.get("dropped") == 15,
                  "old's answer says \"dropped\": 15 (got %s)" % brief(doc))
        doc = fetch_ok(d, old, "old")
        rtd.check(doc.get("dropped") == 15 and ids(doc) == sent[15:],
                  "again without an ack: still dropped 15 (got %s)"
                  % brief(doc))
        asyncio.run(ws_old(d, old, sent[15:]))
        rtd.check(d.ack(old, [sent[19]]) == 204, "old acks the newest")
        doc = fetch_ok(d, old, "old")
        rtd.check("dropped" not in doc and ids(doc) == sent[16:19],
                  "acking a message queued after the latest loss clears "
                  "the marker: no \"dropped\" member (got %s)" % brief(doc))
        doc = fetch_ok(d, phone, "phone")
        rtd.check("dropped" not in doc, "phone never lost anything")

        # Drop order: normal lane's oldest first, the high lane survives.
        carl = rtd.token("carl", device="old")
        fetch_ok(d, carl, "carl/old becomes known")
        hi = send_id(d, a, "carl", priority=7)
        norm = [send_id(d, a, "carl") for _ in range(5)]
        doc = fetch_ok(d, carl, "carl/old")
        rtd.check(ids(doc) == [hi] + norm[1:] and doc.get("dropped") == 1,
                  "hi, n1..n5 into 5: n1 is dropped, the priority-7 one "
                  "stays (got %s, want %s)" % (brief(doc), [hi] + norm[1:]))
        asyncio.run(ws_clear(d, carl, hi, norm[-1]))

        # Only high-priority messages: the oldest of them goes.
        hank = rtd.token("hank", device="old")
        fetch_ok(d, hank, "hank/old becomes known")
        his = [send_id(d, a, "hank", priority=7) for _ in range(6)]
        doc = fetch_ok(d, hank, "hank/old")
        rtd.check(ids(doc) == his[1:] and doc.get("dropped") == 1,
                  "six priority-7 messages into 5: the oldest is dropped "
                  "(got %s)" % brief(doc))
        rtd.check(d.metrics().get(OVERFLOW, 0) - m0.get(OVERFLOW, 0) == 17,
                  "%s counts all 17 dropped copies" % OVERFLOW)


rtd.run(test)
