"""Push to offline devices through a Matrix push gateway (a test gateway
that records requests): a burst of messages to a device with a push
target and no connection gives one push, with the unread count of the
burst and low priority; a priority >= 5 message is pushed at once with
high priority; a device online over WebSocket gets none, nor does an
ephemeral message; a device without a push target gets none.  Every
request is the Matrix notify body field by field, with no ciphertext, no
sender and no message id.  The counters say the same."""

import asyncio
import time

import gateway
import rtd
import wsclient as wc

SECRET_DATA = "c2VjcmV0LWNpcGhlcnRleHQ="
APP = gateway.APP


def check_body(req, pushkey, unread, prio):
    body = req["body"]
    rtd.check(req["path"] == "/_matrix/push/v1/notify",
              "the Matrix notify path (%s)" % req["path"])
    rtd.check(req["headers"].get("Content-Type") == "application/json",
              "JSON content type")
    n = body["notification"]
    rtd.check(set(body) == {"notification"} and
              set(n) == {"prio", "counts", "devices"},
              "only notification{prio,counts,devices} (%s)" % body)
    rtd.check(n["prio"] == prio and n["counts"] == {"unread": unread},
              "prio %s and unread %d (%s)" % (prio, unread, n))
    dev = n["devices"]
    rtd.check(len(dev) == 1 and dev[0]["app_id"] == APP and
              dev[0]["pushkey"] == pushkey,
              "one device: app id and pushkey (%s)" % dev)
    raw = req["raw"].decode()
    rtd.check(SECRET_DATA not in raw and "alice" not in raw and
              '"n0' not in raw, "no ciphertext, sender or message id")


async def online_gets_none(d, gw, bob_tab):
    async with wc.connect(d, bob_tab) as ws:
        await wc.until_empty(ws)
        before = gw.count()
        st, _ = d.send(rtd.token("alice"),
                       rtd.envelope("carol", data=SECRET_DATA))
        rtd.check(st == 202, "a message for carol (online)")
        m = await wc.recv(ws)
        rtd.check(m is not None, "carol's tablet gets it over WebSocket")
        await wc.ack(ws, [m["id"]])
        await asyncio.sleep(2.0)
        rtd.check(gw.count() == before, "no push for an online device")


def test():
    with gateway.Gateway() as gw, rtd.api_daemon(
            push_gateway_url=gw.url(), push_coalesce="1s",
            push_delay_after_disconnect="1h",
            rate_limit_per_user=0) as d:
        rtd.check(any(t and t.startswith("routingd: push")
                      for t in d.workers().values()),
                  "a push worker runs (%s)" % d.workers())
        alice = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        rtd.check(d.fetch(phone)[0] == 200, "bob's phone is known")
        gateway.register(d, phone, "phone", "pk-bob-phone")
        t0 = time.monotonic()
        # one request, one commit: a burst the push worker cannot split
        st, _ = d.send(alice, [rtd.envelope("bob", data=SECRET_DATA)] * 5)
        rtd.check(st == 202, "five messages for bob")
        rtd.check(gw.wait(1, 5), "a push came")
        time.sleep(1.5)
        rtd.check(gw.count() == 1, "one push for the burst (%d)"
                  % gw.count())
        check_body(gw.requests[0], "pk-bob-phone", 5, "low")
        print("# first push %.3f s after the burst"
              % (gw.requests[0]["t"] - t0))

        # more messages: coalesced into one more push, a second later
        for i in range(3):      # within push_coalesce of the first push
            d.send(alice, rtd.envelope("bob", data=SECRET_DATA))
        rtd.check(gw.wait(2, 5), "a second push")
        gap = gw.requests[1]["t"] - gw.requests[0]["t"]
        rtd.check(gap >= 0.9, "at most one push per push_coalesce "
                  "(%.3f s apart)" % gap)
        check_body(gw.requests[1], "pk-bob-phone", 8, "low")

        # high priority: at once, prio high
        t1 = time.monotonic()
        d.send(alice, rtd.envelope("bob", data=SECRET_DATA, priority=9))
        rtd.check(gw.wait(3, 5), "a push for the urgent message")
        rtd.check(gw.requests[2]["t"] - t1 < 1.0,
                  "sent at once (%.3f s)" % (gw.requests[2]["t"] - t1))
        check_body(gw.requests[2], "pk-bob-phone", 9, "high")

        # ephemeral: never a push
        time.sleep(1.2)
        before = gw.count()
        st, _ = d.send(alice, rtd.envelope("bob", isEphemeral=True))
        time.sleep(1.5)
        rtd.check(gw.count() == before, "no push for an ephemeral message")

        # a device without a push target: none
        dave = rtd.token("dave", device="d1")
        d.fetch(dave)
        d.send(alice, rtd.envelope("dave"))
        time.sleep(1.5)
        rtd.check(gw.count() == before, "no push without a push target")

        # carol's tablet online: none
        tab = rtd.token("carol", device="tab")
        d.fetch(tab)
        gateway.register(d, tab, "tab", "pk-carol-tab")
        asyncio.run(online_gets_none(d, gw, tab))

        m = d.metrics()
        rtd.check(m.get("routingd_push_sent_total") == 3 and
                  m.get("routingd_push_failed_total") == 0,
                  "sent 3, failed 0 (%s)" %
                  {k: v for k, v in m.items() if "push" in k})
        rtd.check(m.get("routingd_push_gateway_duration_seconds_count")
                  == 3, "three gateway latencies observed")
        st, _, doc = d.api("GET", "/api/devices", phone)
        rtd.check(any(x.get("push") for x in doc["devices"]),
                  "bob's phone keeps its push target")


rtd.run(test)
