"""POST /api/send: one envelope gives 202 {"id"}, an array of 1 to 100
gives 202 {"ids"} and is all or nothing; the stored envelope is
normalised (unknown members dropped); ephemeral envelopes are answered
but never stored; counters move in /metrics."""

import threading

import rtd


def burst(d, tok, n, out):
    for _ in range(n):
        st, _ = d.send(tok, rtd.envelope("carol"))
        out.append(st)


def test():
    with rtd.api_daemon() as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        st, doc = d.send(a, rtd.envelope("bob", encryptedSymmetricKey="a2V5",
                                         signature="c2ln-_w", priority=2,
                                         junk={"x": [1, 2]}))
        rtd.check(st == 202 and isinstance(doc.get("id"), str),
                  "one envelope: 202 with an id (got %s %s)" % (st, doc))
        first = doc["id"]

        st, doc = d.send(a, [rtd.envelope("bob", data="AQID"),
                             rtd.envelope("bob", data="BAUG")])
        rtd.check(st == 202 and len(doc.get("ids", [])) == 2,
                  "an array of two: 202 with two ids")

        # All or nothing: the second envelope is bad, so nothing is stored.
        st, doc = d.send(a, [rtd.envelope("bob", data="BwgJ"),
                             rtd.envelope("bob", data="not base64!")])
        rtd.check(st == 400 and doc["error"] == "invalid_envelope",
                  "an array with a bad envelope: 400 invalid_envelope")

        st, doc = d.send(a, [rtd.envelope("bob")] * 101)
        rtd.check(st == 400 and doc["error"] == "invalid_envelope",
                  "an array of 101: 400 invalid_envelope")

        st, doc = d.send(a, rtd.envelope("bob", isEphemeral=True))
        rtd.check(st == 202 and doc.get("id", "").startswith("e"),
                  "an ephemeral envelope: 202 with an id")

        st, doc = d.fetch(b)
        msgs = doc["messages"]
        rtd.check(st == 200 and len(msgs) == 3,
                  "bob has the 3 stored messages, nothing of the failed "
                  "array nor the ephemeral one (got %d)" % len(msgs))
        rtd.check(msgs[0]["id"] == first, "the single one comes first")
        rtd.check(msgs[0]["envelope"] == {
            "recipientId": "bob", "encryptedData": "aGVsbG8=",
            "encryptedSymmetricKey": "a2V5", "signature": "c2ln-_w",
            "isEphemeral": False, "priority": 2},
            "the stored envelope holds only the known members")
        rtd.check([m["envelope"]["encryptedData"] for m in msgs[1:]] ==
                  ["AQID", "BAUG"], "the array's envelopes in order")

        m = d.metrics()
        rtd.check(m.get("routingd_messages_accepted_total") == 3 and
                  m.get("routingd_messages_dropped_total") == 1 and
                  m.get('routingd_api_requests_total{route="send",'
                        'status="202"}') == 3 and
                  m.get('routingd_messages_rejected_total{reason='
                        '"invalid_envelope"}') == 2,
                  "metrics count accepted, dropped and rejected sends")
        rtd.check(m.get("routingd_store_batch_requests_count", 0) >= 2 and
                  m.get("routingd_store_commit_duration_seconds_count",
                        0) >= 2, "commit and batch histograms are filled")

        # Group commit: concurrent senders share commits.
        before = d.metrics()
        out = []
        threads = [threading.Thread(target=burst, args=(d, a, 10, out))
                   for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rtd.check(out == [202] * 160, "160 concurrent sends all 202")
        after = d.metrics()
        reqs = (after["routingd_store_batch_requests_sum"] -
                before["routingd_store_batch_requests_sum"])
        commits = (after["routingd_store_batch_requests_count"] -
                   before["routingd_store_batch_requests_count"])
        # (an expiry sweep may have shared or taken a batch, too)
        rtd.check(reqs >= 160 and commits < reqs,
                  "160 sends in %d commits" % commits)
        st, doc = d.fetch(rtd.token("carol"), 500)
        rtd.check(len(doc["messages"]) == 160, "carol has all 160")


rtd.run(test)
