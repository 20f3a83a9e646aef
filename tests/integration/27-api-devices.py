"""Devices: a message to a user is queued for each known device; one
device's ack leaves the other's copy; POST /api/devices registers a push
target, GET lists, DELETE forgets the device and its queue (404 after)."""

import rtd


def test():
    with rtd.api_daemon() as d:
        a = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        laptop = rtd.token("bob")
        lap_hdr = {"X-Device-Id": "laptop"}
        # Both devices become known by fetching.
        st, doc = d.fetch(phone)
        rtd.check(st == 200 and doc["messages"] == [],
                  "first fetch of phone (device claim)")
        st, _, doc = d.api("GET", "/api/messages", laptop, headers=lap_hdr)
        rtd.check(st == 200, "first fetch of laptop (X-Device-Id)")

        st, doc = d.send(a, rtd.envelope("bob", data="Ym90aA"))
        mid = doc["id"]
        st, doc = d.fetch(phone)
        rtd.check([m["id"] for m in doc["messages"]] == [mid],
                  "phone has the message")
        st, _, doc = d.api("GET", "/api/messages?deviceId=laptop", laptop)
        rtd.check([m["id"] for m in doc["messages"]] == [mid],
                  "laptop has its copy (deviceId query parameter)")
        rtd.check(d.ack(phone, [mid]) == 204, "phone acks")
        st, doc = d.fetch(phone)
        rtd.check(doc["messages"] == [], "phone's copy is gone")
        st, _, doc = d.api("GET", "/api/messages", laptop, headers=lap_hdr)
        rtd.check([m["id"] for m in doc["messages"]] == [mid],
                  "laptop's copy remains")

        reg = {"deviceId": "laptop", "platform": "android",
               "pushToken": "tok-123", "appId": "org.example.app"}
        st, _, doc = d.api("POST", "/api/devices", laptop, reg)
        rtd.check(st == 200 and doc["deviceId"] == "laptop" and
                  doc["platform"] == "android", "register: 200 and the "
                  "device described")
        st, _, doc = d.api("POST", "/api/devices", laptop,
                           {"platform": "android"})
        rtd.check(st == 400, "register without the fields is 400")
        st, _, doc = d.api("POST", "/api/devices", laptop,
                           dict(reg, pushToken="has space"))
        rtd.check(st == 400, "register with a bad token is 400")
        st, _, doc = d.api("GET", "/api/devices", phone)
        devs = {x["deviceId"]: x for x in doc["devices"]}
        rtd.check(st == 200 and set(devs) == {"phone", "laptop"},
                  "list: both devices (got %s)" % list(devs))
        rtd.check(devs["laptop"]["push"] == {"platform": "android",
                                             "appId": "org.example.app"}
                  and devs["phone"]["push"] is None and
                  devs["laptop"]["queued"] == 1, "list: push and depth")
        st, _, doc = d.api("GET", "/api/devices", a)
        rtd.check(st == 200 and doc["devices"] == [],
                  "alice (who never fetched) sees none of bob's devices")

        st, _, _ = d.api("DELETE", "/api/devices/laptop", phone)
        rtd.check(st == 204, "delete laptop: 204")
        st, _, doc = d.api("DELETE", "/api/devices/laptop", phone)
        rtd.check(st == 404 and doc["error"] == "not_found",
                  "delete again: 404")
        st, _, doc = d.api("DELETE", "/api/devices/phone", a)
        rtd.check(st == 404, "alice cannot delete bob's phone")
        st, _, doc = d.api("GET", "/api/devices", phone)
        rtd.check([x["deviceId"] for x in doc["devices"]] == ["phone"],
                  "only phone is left")
        st, doc = d.send(a, rtd.envelope("bob"))
        st, _, doc = d.api("GET", "/api/devices", phone)
        rtd.check([x["deviceId"] for x in doc["devices"]] == ["phone"],
                  "a new message does not bring the deleted device back")
        st, _, doc = d.api("GET", "/api/messages", laptop,
                           headers={"X-Device-Id": "bad id"})
        rtd.check(st == 400, "a bad X-Device-Id is 400")


rtd.run(test)
