"""A full store (store_max_size reached by 8 KB messages) refuses sends
with 503 and counts every refusal in routingd_store_full_total.  Once the
reader has acknowledged most of the queue in one request, large sends are
accepted again at once: no small send has to commit first to make LMDB
hand out the pages the ack freed.  Then the same with the reader on a
WebSocket that stays open while the store fills and is acknowledged."""

import base64
import time

import rtd
import wsraw

REFUSALS = 7


def test():
    with rtd.api_daemon(store_max_size="1m", max_envelope_bytes="64k",
                        queue_max_messages=100000, api_workers=2,
                        rate_limit_per_user=0) as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        big = base64.b64encode(b"x" * 6144).decode()	# 8 KB of base64
        st, _ = d.fetch(b)
        rtd.check(st == 200, "bob's device is known")
        full0 = d.metrics().get("routingd_store_full_total", 0)
        accepted, refused, between = 0, 0, 0
        while refused < REFUSALS and accepted < 1000:
            st, doc = d.send(a, rtd.envelope("bob", data=big))
            if st == 202:
                between += refused > 0
                accepted += 1
                continue
            rtd.check(st == 503 and doc["error"] == "unavailable",
                      "refusal %d is 503 unavailable (got %s %s)"
                      % (refused + 1, st, doc))
            refused += 1
        rtd.check(between == 0, "no send accepted between the refusals "
                  "of the full store (got %d)" % between)
        rtd.check(accepted > 20 and refused == REFUSALS,
                  "%d large sends filled the store, %d were refused"
                  % (accepted, refused))
        full = d.metrics().get("routingd_store_full_total", 0) - full0
        rtd.check(full == REFUSALS, "routingd_store_full_total counts "
                  "each of the %d refusals (got %d)" % (REFUSALS, full))

        st, doc = d.fetch(b, limit=500)
        ids = [m["id"] for m in doc["messages"]]
        rtd.check(st == 200 and len(ids) == accepted,
                  "bob fetches all %d messages" % accepted)
        n = len(ids) * 85 // 100
        rtd.check(d.ack(b, ids[:n]) == 204, "one ack of %d of them (85 %%)"
                  % n)

        t0 = time.monotonic()
        late = 0	# refusals after the ack
        st, doc = d.send(a, rtd.envelope("bob", data=big))
        while st != 202 and time.monotonic() - t0 < 2.0:
            late += st == 503
            time.sleep(0.1)
            st, doc = d.send(a, rtd.envelope("bob", data=big))
        rtd.check(st == 202, "a large send is accepted within 2 s of the "
                  "ack, no small send needed (took %.2fs, last %s %s)"
                  % (time.monotonic() - t0, st, doc))
        more = 1
        for _ in range(n // 2):
            st, doc = d.send(a, rtd.envelope("bob", data=big))
            if st != 202:
                late += st == 503
                break
            more += 1
        rtd.check(more >= n // 2, "the space of the ack takes %d large "
                  "sends (of %d freed, got %d)" % (n // 2, n, more))
        full = d.metrics().get("routingd_store_full_total", 0) - full0
        rtd.check(full == REFUSALS + late, "routingd_store_full_total "
                  "counts every refusal, %d, and nothing else (got %d)"
                  % (REFUSALS + late, full))
        st, doc = d.fetch(b, limit=500)
        rtd.check(st == 200 and len(doc["messages"]) == accepted - n + more,
                  "bob has the %d he did not ack and the %d new ones"
                  % (accepted - n, more))
        ws_phase(d, a, b, big, full0 + full)
        rtd.check(len(d.workers()) == 3 and "lost child" not in d.log(),
                  "no worker died")


def ws_phase(d, a, b, big, full0):
    """The same with the reader on a WebSocket, open all along: the
    store fills while it reads, it acknowledges 85 % in one frame."""
    ws = wsraw.connect(d.ws_port, b, wait_empty=False)
    try:
        ids, refused = [], 0
        while True:
            doc = ws.recv_json(5)
            if doc.get("type") == "queue_empty":
                break
            if doc.get("type") == "message":
                ids.append(doc["id"])
        codes = []
        while refused < 3 and len(codes) < 1000:
            st, doc = d.send(a, rtd.envelope("bob", data=big))
            refused += st == 503
            codes.append(st)
        rtd.check(refused == 3 and set(codes) <= {202, 503},
                  "the store fills again while the WebSocket reads "
                  "(%d x 202, then 503)" % codes.count(202))
        _, frames, how = ws.sync()
        rtd.check(how is None, "the WebSocket stays open")
        ids += [f.json()["id"] for f in frames
                if f.json() and f.json().get("type") == "message"]
        n = len(ids) * 85 // 100
        ws.send_ack(ids[:n])
        t0 = time.monotonic()
        st, doc = d.send(a, rtd.envelope("bob", data=big))
        while st != 202 and time.monotonic() - t0 < 2.0:
            refused += st == 503
            time.sleep(0.1)
            st, doc = d.send(a, rtd.envelope("bob", data=big))
        rtd.check(st == 202, "with the WebSocket reader: a large send is "
                  "accepted within 2 s of its ack of %d of %d (took %.2fs)"
                  % (n, len(ids), time.monotonic() - t0))
        full = d.metrics().get("routingd_store_full_total", 0) - full0
        rtd.check(full == refused, "routingd_store_full_total counts the "
                  "%d refusals of this round (got %d)" % (refused, full))
    finally:
        ws.close()


rtd.run(test)
