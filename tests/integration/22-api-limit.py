"""GET /api/messages?limit=N: default 50, < 1 means 50, > 500 means 500,
anything but an integer is 400 invalid_limit."""

import rtd


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        envs = [rtd.envelope("bob")] * 100
        for _ in range(6):
            st, _ = d.send(a, envs)
            rtd.check(st == 202, "100 envelopes accepted")
        cases = [(None, 50), ("0", 50), ("-5", 50), ("1", 1), ("7", 7),
                 ("500", 500), ("501", 500), ("100000", 500)]
        for q, want in cases:
            st, doc = d.fetch(b, q)
            rtd.check(st == 200 and len(doc["messages"]) == want,
                      "limit=%s gives %d messages" % (q, want))
        for q in ["abc", "1.5", "", "99999999999999999999", "+5", "5x",
                  "-"]:
            st, doc = d.fetch(b, q)
            rtd.check(st == 400 and doc["error"] == "invalid_limit",
                      "limit=%r is 400 invalid_limit" % q)


rtd.run(test)
