"""routingctl presence, queue and devices in text and --json, against
the real store: per device and lane the depth, bytes and oldest age, the
messages held for a user without devices, the push target, who is online
on which WS worker; status shows connections, every worker and the store.
Each query is answered by a query child that the supervisor reaps: no
worker restarts, no stray children."""

import asyncio
import json
import time

import rtd
import wsclient as wc


def lanes(dev):
    return dev["lanes"]["high"], dev["lanes"]["normal"]


async def online(d, bob_phone, bob_laptop):
    t0 = time.time()
    async with wc.connect(d, bob_phone) as ws:
        await wc.until_empty(ws)
        doc = d.ctl_json("presence", "bob")
        rtd.check(len(doc["online"]) == 1 and
                  doc["online"][0]["device"] == "phone" and
                  doc["online"][0]["mode"] == "push" and
                  doc["online"][0]["connections"] == 1,
                  "presence --json: the phone is online in push mode (%s)"
                  % doc)
        since = doc["online"][0]["since_ms"]
        rtd.check(isinstance(since, int) and
                  int(t0) * 1000 - 1000 <= since <= time.time() * 1000,
                  "presence --json: online since it connected (%s, %.3f)"
                  % (since, t0))
        wpids = [w["pid"] for w in doc["online"][0]["workers"]]
        ws_pids = [p for p, t in d.workers().items() if "ws" in (t or "")]
        rtd.check(len(wpids) == 1 and wpids[0] in ws_pids,
                  "presence names the WS worker's pid (%s in %s)"
                  % (wpids, ws_pids))
        rc, out, err = d.ctl("presence", "bob")
        rtd.check(rc == 0 and "phone" in out and " push " in out and
                  "ONLINE FOR" in out and "laptop" not in out and
                  str(wpids[0]) in out,
                  "presence text: the online device, its mode, its worker "
                  "(%r)" % out)
        st = d.ctl_json("status")
        rtd.check(st["websockets"] == 1 and st["connections"] >= 1,
                  "status counts the WebSocket (%s)" % st)
        dv = d.ctl_json("devices", "bob")
        on = {x["deviceId"]: x["online"] for x in dv["devices"]}
        rtd.check(on == {"phone": True, "laptop": False},
                  "devices --json says which device is online (%s)" % on)
        async with wc.connect(d, bob_laptop, query="?mode=poke"):
            doc = d.ctl_json("presence", "bob")
            modes = {x["device"]: x["mode"] for x in doc["online"]}
            rtd.check(modes == {"phone": "push", "laptop": "poke"},
                      "presence --json: each device's mode (%s)" % doc)
            rc, out, err = d.ctl("presence", "bob")
            rtd.check(rc == 0 and " poke " in out,
                      "presence text: the poke-mode laptop (%r)" % out)


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        laptop = rtd.token("bob", device="laptop")
        # nothing known yet: carol has messages held, no device
        st, _ = d.send(alice, rtd.envelope("carol", data="aGVsZA=="))
        rtd.check(st == 202, "a message for carol (no device: held)")
        for tok in (phone, laptop):
            st, _ = d.fetch(tok)
            rtd.check(st == 200, "bob's devices are admitted")
        st, _, _ = d.api("POST", "/api/devices", laptop,
                         {"deviceId": "laptop", "platform": "fcm",
                          "pushToken": "tok-123", "appId": "org.example"})
        rtd.check(st == 200, "the laptop registers a push target")
        t0 = time.time()
        for i in range(3):
            st, _ = d.send(alice, rtd.envelope("bob", data="bm9ybWFs"))
            rtd.check(st == 202, "normal message %d" % i)
        st, _ = d.send(alice, rtd.envelope("bob", data="aGlnaA==",
                                           priority=9))
        rtd.check(st == 202, "a high-priority message")
        time.sleep(1.1)

        q = d.ctl_json("queue", "bob")
        devs = {x["device"]: x for x in q["devices"]}
        rtd.check(sorted(devs) == ["laptop", "phone"] and q["held"] == 0,
                  "queue --json lists both devices (%s)" % q)
        for name, dev in devs.items():
            hi, no = lanes(dev)
            rtd.check(hi["depth"] == 1 and no["depth"] == 3 and
                      dev["queued"] == 4,
                      "%s: 1 high, 3 normal (%s)" % (name, dev))
            rtd.check(hi["bytes"] > 0 and no["bytes"] > hi["bytes"] and
                      dev["bytes"] == hi["bytes"] + no["bytes"],
                      "%s: bytes per lane add up (%s)" % (name, dev))
            age = no["oldest_age_ms"]
            rtd.check(1000 <= age <= (time.time() - t0) * 1000 + 1000,
                      "%s: the oldest normal message is about 1 s old "
                      "(%s)" % (name, age))
        one = d.ctl_json("queue", "bob", "phone")
        rtd.check([x["device"] for x in one["devices"]] == ["phone"],
                  "queue USER DEVICE shows that device only")
        rc, out, err = d.ctl("queue", "bob")
        rtd.check(rc == 0 and "DEVICE" in out and "high" in out and
                  "normal" in out and out.count("phone") == 2,
                  "queue text: a line per device and lane (%r)" % out)
        rc, out, err = d.ctl("queue", "bob", "tablet")
        rtd.check(rc == 1 and "tablet" in err,
                  "an unknown device fails with exit 1 (%d %r)" % (rc, err))
        hq = d.ctl_json("queue", "carol")
        rtd.check(hq["held"] == 1 and hq["devices"] == [],
                  "carol: one message held, no device (%s)" % hq)
        rc, out, err = d.ctl("queue", "carol")
        rtd.check(rc == 0 and "held for user carol: 1" in out,
                  "queue text names the held messages (%r)" % out)

        dv = d.ctl_json("devices", "bob")
        st, _, api = d.api("GET", "/api/devices", phone)
        mine = {x["deviceId"]: x for x in dv["devices"]}
        for x in api["devices"]:
            y = mine[x["deviceId"]]
            rtd.check(y["queued"] == x["queued"] and
                      y["createdMs"] == x["createdMs"] and
                      y["lastSeenMs"] == x["lastSeenMs"],
                      "devices --json agrees with GET /api/devices for %s"
                      % x["deviceId"])
        rtd.check(mine["laptop"]["push"]["platform"] == "fcm" and
                  mine["laptop"]["push"]["appId"] == "org.example" and
                  mine["phone"]["push"] is None,
                  "the push target where stored, else null (%s)" % mine)
        rtd.check("tok-123" not in json.dumps(dv),
                  "the push token itself is not shown")
        rc, out, err = d.ctl("devices", "bob")
        lines = {l.split()[0]: l for l in out.splitlines()[1:] if l}
        rtd.check(rc == 0 and "fcm org.example" in lines["laptop"] and
                  lines["phone"].rstrip().endswith("none") and
                  "ago" in lines["phone"],
                  "devices text: last seen, push target or none (%r)" % out)
        rc, out, err = d.ctl("presence", "bob")
        rtd.check(rc == 0 and "no device online (2 known)" in out,
                  "presence text when nobody is online (%r)" % out)
        rtd.check(d.ctl_json("presence", "bob")["online"] == [],
                  "presence --json: none online")

        st = d.ctl_json("status")
        s = st["store"]
        rtd.check(s is not None and s["messages"] == 9 and
                  s["devices"] == 2 and s["held_queues"] == 1 and
                  s["bytes"] > 0 and 0 < s["map_used"] <= s["map_size"] and
                  s["file_bytes"] > 0,
                  "status --json: the store's totals (%s)" % s)
        rtd.check(len(st["worker_list"]) == 2 and
                  all(w["state"] == "ready" for w in st["worker_list"]),
                  "status --json lists every worker")
        rc, out, err = d.ctl("status")
        rtd.check(rc == 0 and "queued       9 messages" in out and
                  "map" in out and "connections" in out and
                  "restarts 0" in out,
                  "status text: queued, store, workers (%r)" % out)

        asyncio.run(online(d, phone, laptop))

        rc, out, err = d.ctl("queue", "bad user")
        rtd.check(rc == 1 and "valid" in err,
                  "a bad user id is refused (%d %r)" % (rc, err))
        # the children before, once the earlier queries' children are gone
        rtd.wait_for(lambda: not any("query" in (t or "") for t in
                                     d.workers().values()), 5,
                     "the earlier query children exited")
        before = d.workers()
        for i in range(12):
            rc, _, _ = d.ctl("queue", "bob")
            rtd.check(rc == 0, "query %d answered" % i)
        rtd.wait_for(lambda: d.workers() == before, 5,
                     "no query child left, the same workers")
        rtd.check(d.ctl_json("status")["restarts_api"] == 0 and
                  d.ctl_json("status")["restarts_ws"] == 0,
                  "query children are not taken for workers")
        log = d.log()
        rtd.check("lost child" not in log and "reaped unknown" not in log,
                  "the supervisor knew every query child it reaped")


rtd.run(test)
