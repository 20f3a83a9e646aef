"""Every /api/ call needs a valid bearer token: missing, malformed,
expired, not-yet-valid, wrong-signature and alg:none tokens all get 401
with WWW-Authenticate; /healthz needs none."""

import base64
import json
import time

import rtd


def b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(
        b"=").decode()


def test():
    with rtd.api_daemon() as d:
        good = rtd.token("alice")
        st, _, _ = d.api("GET", "/api/messages", good)
        rtd.check(st == 200, "a good token is accepted")
        bad = {
            "no token": None,
            "garbage": "abc",
            "expired": rtd.token("alice", exp=1000000000, iat=999999000),
            "not yet valid": rtd.token("alice", ttl=7200,
                                       nbf=int(time.time()) + 3600),
            "wrong secret": rtd.token("alice",
                                      secret="another-secret-of-32-bytes"
                                             "-or-more-xxxxxxxx"),
            "alg none": b64({"alg": "none", "typ": "JWT"}) + "." +
                        b64({"sub": "alice", "exp": 4000000000}) + ".",
        }
        for what, tok in bad.items():
            for path in ["/api/messages", "/api/devices"]:
                st, hdrs, doc = d.api("GET", path, tok)
                rtd.check(st == 401 and doc["error"] == "unauthorized" and
                          hdrs.get("WWW-Authenticate", "").startswith(
                              "Bearer"), "%s: 401 on %s" % (what, path))
        st, _, _ = d.api("POST", "/api/send", None, rtd.envelope("bob"))
        rtd.check(st == 401, "send without a token is 401")
        st, _, _ = d.api("GET", "/api/messages", None,
                         headers={"Authorization": "Basic " + good})
        rtd.check(st == 401, "a non-Bearer scheme is 401")
        before = d.metrics()
        for _ in range(3):
            st, _, _ = d.api("GET", "/api/devices", good)
        after = d.metrics()
        hits = 'routingd_token_cache_total{result="hit"}'
        rtd.check(st == 200 and after[hits] - before[hits] == 3,
                  "a token seen before is answered by the cache")
        st, _, _ = d.get("/healthz")
        rtd.check(st == 200, "/healthz needs no token")
        rtd.check("eyJ" not in d.log(), "no token in the log")
        m = d.metrics()
        rtd.check(m.get('routingd_messages_rejected_total{reason='
                        '"unauthorized"}', 0) >= 14,
                  "401s are counted")


rtd.run(test)
