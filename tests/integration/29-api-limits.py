"""Limits: the per-user rate limit answers 429 rate_limited with
Retry-After (other users unaffected); what is held for a user with no
device stops at queue_max_messages with 429 queue_full, storing nothing
of that request; a device's full queue never refuses a send (it loses
its oldest message and is told with "dropped")."""

import rtd


def test():
    with rtd.api_daemon(rate_limit_per_user=5,
                        queue_max_messages=3) as d:
        a, b, c = rtd.token("alice"), rtd.token("bob"), rtd.token("carol")
        statuses = []
        hdrs = None
        for _ in range(30):
            st, h, _ = d.api("GET", "/api/devices", a)
            statuses.append(st)
            if st == 429:
                hdrs = h
        rtd.check(200 in statuses and 429 in statuses,
                  "a burst over the rate gets 429 (got %s)" % statuses)
        rtd.check(int(hdrs.get("Retry-After", "0")) >= 1,
                  "429 carries Retry-After in seconds")
        st, _, _ = d.api("GET", "/api/devices", b)
        rtd.check(st == 200, "another user is not limited")

        st, doc = d.send(c, [rtd.envelope("bob")] * 2)
        rtd.check(st == 202, "two messages for bob")
        st, doc = d.send(c, [rtd.envelope("bob")] * 2)
        rtd.check(st == 429 and doc["error"] == "queue_full",
                  "a send that would overflow is 429 queue_full "
                  "(got %s %s)" % (st, doc))
        st, doc = d.fetch(b)
        rtd.check(len(doc["messages"]) == 2,
                  "nothing of the refused request was stored (and bob's "
                  "first device adopted what was held)")
        st, doc = d.send(c, rtd.envelope("bob"))
        rtd.check(st == 202, "one more fits")
        st, doc = d.send(c, rtd.envelope("bob"))
        rtd.check(st == 202, "a full device queue takes it too")
        st, doc = d.fetch(b)
        rtd.check(len(doc["messages"]) == 3 and doc.get("dropped") == 1,
                  "bob's device lost its oldest and is told (got %s)" % doc)
        st, doc = d.send(c, [rtd.envelope("dave")] * 4)
        rtd.check(st == 429 and doc["error"] == "queue_full",
                  "held messages stop at queue_max_messages")
        m = d.metrics()
        rtd.check(m.get('routingd_messages_rejected_total{reason='
                        '"queue_full"}') == 2 and
                  m.get('routingd_messages_rejected_total{reason='
                        '"rate_limited"}', 0) >= 1,
                  "queue_full and rate_limited are counted")


rtd.run(test)
