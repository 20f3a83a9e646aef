"""A full message store (store_max_size reached) answers writes with 503
unavailable and counts it; nothing crashes, reads and acks still work,
and once acknowledgements free space, sends are accepted again."""

import base64

import rtd


def test():
    with rtd.api_daemon(store_max_size="1m", max_envelope_bytes="64k",
                        queue_max_messages=100000,
                        rate_limit_per_user=0) as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        blob = base64.b64encode(b"x" * 40000).decode()
        # bob's device is known first: its first fetch is a write (the
        # device is admitted), which a full store refuses too
        st, _ = d.fetch(b)
        rtd.check(st == 200, "bob's device is known")
        codes = []
        for _ in range(100):
            st, doc = d.send(a, rtd.envelope("bob", data=blob))
            codes.append(st)
            if st != 202:
                break
        rtd.check(codes[0] == 202 and codes[-1] == 503,
                  "sends fill the store, then get 503 (got %d x 202, "
                  "then %s)" % (codes.count(202), codes[-1]))
        rtd.check(doc["error"] == "unavailable", "503 unavailable body")
        rtd.check(d.metrics().get("routingd_store_full_total", 0) >= 1,
                  "routingd_store_full_total counts it")
        st, _ = d.fetch(b, limit=5)
        rtd.check(st == 200, "reads still work")
        rtd.check(len(d.workers()) == 2 and "lost child" not in d.log(),
                  "no worker died")
        # Ack one by one: LMDB reuses the pages a commit freed only from
        # the second commit after it on, so space comes back as acks flow.
        st, doc = d.fetch(b, limit=500)
        for m in doc["messages"]:
            rtd.check(d.ack(b, [m["id"]]) == 204, "ack %s" % m["id"])
        st, doc = d.fetch(b, limit=500)
        rtd.check(doc["messages"] == [], "every message acknowledged")
        st, doc = d.send(a, rtd.envelope("bob", data=blob))
        rtd.check(st == 202, "after the acks a send is accepted again "
                  "(got %s %s)" % (st, doc))


rtd.run(test)
