"""GET /api/messages returns the device's oldest messages, FIFO within a
lane and the high lane (priority >= 5) first; unacknowledged messages
come back on every GET."""

import rtd


def test():
    with rtd.api_daemon() as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        sent = []
        for i in range(60):
            st, doc = d.send(a, rtd.envelope("bob", data="AAAA",
                                             priority=i % 5))
            rtd.check(st == 202, "send %d accepted" % i) if i == 0 else None
            sent.append(doc["id"])
        st, doc = d.fetch(b, 100)
        got = [m["id"] for m in doc["messages"]]
        rtd.check(got == sent, "60 messages come back in FIFO order")
        st, doc = d.fetch(b, 100)
        rtd.check([m["id"] for m in doc["messages"]] == sent,
                  "unacknowledged messages come back on the next GET")
        rtd.check(d.ack(b, sent) == 204, "ack all 60")

        st, doc = d.send(a, rtd.envelope("bob", data="bm9ybWFs"))
        low = doc["id"]
        st, doc = d.send(a, rtd.envelope("bob", data="aGlnaA", priority=9))
        high = doc["id"]
        st, doc = d.send(a, rtd.envelope("bob", data="aGkyAA", priority=5))
        high2 = doc["id"]
        st, doc = d.fetch(b)
        rtd.check([m["id"] for m in doc["messages"]] == [high, high2, low],
                  "the high lane comes first, FIFO within it")
        m = d.metrics()
        rtd.check(m.get("routingd_messages_fetched_total") == 123,
                  "fetched messages are counted")


rtd.run(test)
