"""push_gateway_format = gorush: the gorush body field by field (tokens,
platform number, badge, priority, topic; no ciphertext or sender) and a
rejected token (a failed-push log entry) removed from the device.  Over
HTTPS: a gateway whose certificate a test CA signed is reached with
push_gateway_ca set to that CA; with another CA the certificate is
refused, nothing is sent, and the failure is counted and logged."""

import tempfile
import time

import gateway
import rtd
import tlscerts

APP = gateway.APP


def gorush(tmp):
    with gateway.Gateway(fmt="gorush") as gw, rtd.api_daemon(
            push_gateway_url=gw.url("/api/push"),
            push_gateway_format="gorush", push_coalesce="0s",
            rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        d.fetch(phone)
        gateway.register(d, phone, "phone", "tok-android", platform="fcm")
        d.send(alice, rtd.envelope("bob", data="c2VjcmV0", priority=7))
        rtd.check(gw.wait(1, 5), "a gorush push")
        req = gw.requests[0]
        rtd.check(req["path"] == "/api/push", "gorush's path")
        body = req["body"]
        rtd.check(set(body) == {"notifications"} and
                  len(body["notifications"]) == 1,
                  "one notification (%s)" % body)
        n = body["notifications"][0]
        rtd.check(n["tokens"] == ["tok-android"] and n["platform"] == 2 and
                  n["badge"] == 1 and n["priority"] == "high" and
                  "topic" not in n,
                  "tokens, platform 2 (fcm), badge, priority, and no topic "
                  "(an FCM topic would go to its subscribers) (%s)" % n)
        raw = req["raw"].decode()
        rtd.check("c2VjcmV0" not in raw and "alice" not in raw,
                  "no ciphertext or sender")
        gw.reject.add("tok-android")
        d.send(alice, rtd.envelope("bob"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and d.metrics().get(
                "routingd_push_rejected_tokens_total") != 1:
            time.sleep(0.1)
        st, _, doc = d.api("GET", "/api/devices", phone)
        dev = [x for x in doc["devices"] if x["deviceId"] == "phone"]
        rtd.check(dev and dev[0]["push"] is None,
                  "the failed token is removed (%s)" % dev)


def https(tmp):
    ca, ca_key = tlscerts.make_ca(tmp, "good")
    crt, key = tlscerts.make_cert(tmp, "good-srv", ca, ca_key, serial=1)
    other, _ = tlscerts.make_ca(tmp, "other")
    with gateway.Gateway(certfile=crt, keyfile=key) as gw:
        with rtd.api_daemon(push_gateway_url=gw.url(), push_gateway_ca=ca,
                            push_coalesce="0s",
                            rate_limit_per_user=0) as d:
            phone = rtd.token("bob", device="phone")
            d.fetch(phone)
            gateway.register(d, phone, "phone", "pk-tls", platform="apns")
            d.send(rtd.token("alice"), rtd.envelope("bob"))
            rtd.check(gw.wait(1, 8), "a push over HTTPS with the test CA")
            rtd.check(gw.requests[0]["body"]["notification"]["devices"][0]
                      ["pushkey"] == "pk-tls", "the right push")
        with rtd.api_daemon(push_gateway_url=gw.url(),
                            push_gateway_ca=other, push_coalesce="0s",
                            rate_limit_per_user=0) as d:
            phone = rtd.token("bob", device="phone")
            d.fetch(phone)
            gateway.register(d, phone, "phone", "pk-tls-2", platform="apns")
            n = gw.count()
            d.send(rtd.token("alice"), rtd.envelope("bob"))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not d.metrics().get(
                    "routingd_push_failed_total"):
                time.sleep(0.1)
            rtd.check(d.metrics().get("routingd_push_failed_total", 0) >= 1
                      and gw.count() == n,
                      "an unknown CA: refused, nothing sent, counted")
            rtd.check("push gateway failing" in d.log(),
                      "and logged once")


def test():
    tmp = tempfile.mkdtemp(prefix="rtd-ca-", dir=rtd.TESTDIR)
    gorush(tmp)
    tlscerts.require("the HTTPS part")
    https(tmp)


rtd.run(test)
