"""The gateway failing: a 500 and then no answer at all (timeout) are
retried with backoff until it answers, and the push then arrives with the
current unread count; accepting messages goes on meanwhile.  A token the
gateway reports as rejected is removed from the device (GET /api/devices
shows no push target) and counted; a 4xx is not retried.  Sending stays
at least once: the outbox keeps the job until the answer is written."""

import time

import gateway
import rtd

APP = gateway.APP


def push_of(d):
    return {k: v for k, v in d.metrics().items() if "push" in k}


def test():
    with gateway.Gateway() as gw, rtd.api_daemon(
            push_gateway_url=gw.url(), push_coalesce="0s",
            push_max_age="1h", rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        d.fetch(phone)
        gateway.register(d, phone, "phone", "pk-phone")

        gw.set_mode(500)
        st, _ = d.send(alice, rtd.envelope("bob"))
        rtd.check(st == 202, "accepted while the gateway fails")
        rtd.check(gw.wait(2, 8), "the push was tried again after a 500")
        gap = gw.requests[1]["t"] - gw.requests[0]["t"]
        rtd.check(gap >= 0.4, "after a backoff (%.3f s)" % gap)
        m = push_of(d)
        rtd.check(m["routingd_push_failed_total"] >= 2 and
                  m["routingd_push_retried_total"] >= 2 and
                  m["routingd_push_sent_total"] == 0,
                  "failures and retries counted (%s)" % m)

        gw.set_mode("hang")        # no answer: the client times out
        n = gw.count()
        t0 = time.monotonic()
        for i in range(20):
            st, _ = d.send(alice, rtd.envelope("bob"))
            rtd.check(st == 202, "accepted while the gateway hangs")
        rtd.check(time.monotonic() - t0 < 2.0,
                  "20 accepts do not wait for the gateway (%.3f s)"
                  % (time.monotonic() - t0))
        rtd.check(gw.wait(n + 1, 10), "a request while it hangs")
        gw.set_mode(200)
        rtd.check(gw.wait(n + 2, 40), "tried again after the timeout")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                push_of(d).get("routingd_push_sent_total", 0) < 1:
            time.sleep(0.1)
        m = push_of(d)
        rtd.check(m["routingd_push_sent_total"] == 1,
                  "sent once the gateway answers (%s)" % m)
        last = gw.requests[-1]["body"]["notification"]
        rtd.check(last["counts"]["unread"] == 21,
                  "with the current unread count (%s)" % last)

        # a rejected token goes from the device
        gw.reject.add("pk-phone")
        d.send(alice, rtd.envelope("bob"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                push_of(d).get("routingd_push_rejected_tokens_total") != 1:
            time.sleep(0.1)
        rtd.check(push_of(d).get("routingd_push_rejected_tokens_total")
                  == 1, "the rejected token is counted")
        st, _, doc = d.api("GET", "/api/devices", phone)
        dev = [x for x in doc["devices"] if x["deviceId"] == "phone"]
        rtd.check(st == 200 and dev and dev[0]["push"] is None,
                  "and removed from the device (%s)" % dev)
        n = gw.count()
        d.send(alice, rtd.envelope("bob"))
        time.sleep(1.5)
        rtd.check(gw.count() == n, "no push without a token any more")

        # a 4xx: dropped, not retried
        gateway.register(d, phone, "phone", "pk-phone-2")
        gw.reject.clear()
        gw.set_mode(400)
        n = gw.count()
        d.send(alice, rtd.envelope("bob"))
        rtd.check(gw.wait(n + 1, 5), "a request")
        time.sleep(3.0)
        rtd.check(gw.count() == n + 1, "a 400 is not retried (%d)"
                  % (gw.count() - n))
        rtd.check("push gateway" in d.log(), "the incident is logged")


rtd.run(test)
