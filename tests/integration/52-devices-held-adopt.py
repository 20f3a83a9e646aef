"""No queue without a reader: messages sent to a user with no known device
are held for the user (no made-up "default" device) and every device that
becomes known afterwards (WS connect, GET /api/messages, POST
/api/devices) adopts a copy of them, same ids, in order.  Held messages
stay held for later new devices; a message sent once the user has a
device is not held.  GET /api/devices reports "held"; the held and
adopted copies are counted.  What is held is bounded by
queue_max_messages (429 queue_full), and only there."""

import asyncio

import rtd
import wsclient as wc

HELD = "routingd_messages_held_total"
ADOPTED = "routingd_messages_adopted_total"


def ids(doc):
    return [m["id"] for m in doc["messages"]]


def send_ids(d, tok, user, n):
    out = []
    for i in range(n):
        st, doc = d.send(tok, rtd.envelope(user))
        rtd.check(st == 202, "send %d to %s (no device yet) is 202 "
                  "(got %s %s)" % (i, user, st, doc))
        out.append(doc["id"])
    return out


def devices(d, tok):
    st, _, doc = d.api("GET", "/api/devices", tok)
    rtd.check(st == 200 and isinstance(doc, dict),
              "GET /api/devices answers 200 (got %s)" % st)
    return doc


async def held_and_adopted(d):
    a = rtd.token("alice")
    m0 = d.metrics()
    # (a) three messages for carol, who has no device; then carol/phone
    # connects by WebSocket: the three in order, then queue_empty.
    c_held = send_ids(d, a, "carol", 3)
    doc = devices(d, rtd.token("carol", device="phone"))
    rtd.check(doc.get("devices") == [] and doc.get("held") == 3,
              "before any device: no device listed (no \"default\"), "
              "held 3 (got %s)" % doc)
    phone = rtd.token("carol", device="phone")
    async with wc.connect(d, phone) as ws:
        got = await wc.until_empty(ws)
        rtd.check([m["id"] for m in got] == c_held,
                  "carol/phone's WS connect delivers the 3 held messages "
                  "in order, then queue_empty (got %s, want %s)"
                  % ([m["id"] for m in got], c_held))
        # carol/phone is known: a new message is queued for it, not held
        st, doc = d.send(a, rtd.envelope("carol"))
        rtd.check(st == 202, "a send to carol with phone known is 202")
        c_late = doc["id"]
        m = await wc.recv(ws, 2)
        rtd.check(m is not None and m.get("id") == c_late,
                  "carol/phone receives it live")

        # (d) a second new device of carol adopts the held messages too,
        # but not the one sent after carol/phone became known.
        laptop = rtd.token("carol", device="laptop")
        st, doc = d.fetch(laptop)
        rtd.check(st == 200 and ids(doc) == c_held,
                  "carol/laptop (new after phone) adopts exactly the held "
                  "messages, not the later one (got %s, want %s)"
                  % (ids(doc) if doc else doc, c_held))

        # (e) the device list: phone and laptop, no "default", held 3
        doc = devices(d, phone)
        names = sorted(x["deviceId"] for x in doc.get("devices", []))
        rtd.check(names == ["laptop", "phone"],
                  "carol's devices are phone and laptop, no \"default\" "
                  "(got %s)" % names)
        rtd.check(doc.get("held") == 3,
                  "the held messages stay held for later devices: "
                  "\"held\": 3 (got %s)" % doc.get("held"))

    # (b) dave: a send, then dave/phone's very first request is a fetch
    st, doc = d.send(a, rtd.envelope("dave"))
    rtd.check(st == 202, "send to dave (no device) is 202")
    dave_id = doc["id"]
    st, doc = d.fetch(rtd.token("dave", device="phone"))
    rtd.check(st == 200 and ids(doc) == [dave_id],
              "dave/phone's first GET /api/messages returns the held "
              "message (got %s)" % doc)

    # (c) erin: a send, then POST /api/devices admits erin/tab, which
    # adopts it
    st, doc = d.send(a, rtd.envelope("erin"))
    rtd.check(st == 202, "send to erin (no device) is 202")
    erin_id = doc["id"]
    tab = rtd.token("erin", device="tab")
    st, _, doc = d.api("POST", "/api/devices", tab,
                       {"deviceId": "tab", "platform": "apns",
                        "pushToken": "t", "appId": "a"})
    rtd.check(st == 200, "POST /api/devices for erin/tab is 200 (got %s "
              "%s)" % (st, doc))
    st, doc = d.fetch(tab)
    rtd.check(st == 200 and ids(doc) == [erin_id],
              "erin/tab, registered before any fetch, has the held "
              "message (got %s)" % doc)

    doc = devices(d, rtd.token("zed", device="phone"))
    rtd.check(doc == {"devices": [], "held": 0},
              "a user with nothing: {\"devices\":[],\"held\":0} (got %s)"
              % doc)

    # (f) held: 3 carol + 1 dave + 1 erin; adopted: carol/phone 3,
    # carol/laptop 3, dave/phone 1, erin/tab 1
    m1 = d.metrics()
    dh = m1.get(HELD, 0) - m0.get(HELD, 0)
    da = m1.get(ADOPTED, 0) - m0.get(ADOPTED, 0)
    rtd.check(HELD in m1 and dh == 5,
              "%s counts the 5 held messages (got %s)" % (HELD, dh))
    rtd.check(ADOPTED in m1 and da == 8,
              "%s counts the 8 adopted copies (got %s)" % (ADOPTED, da))


def held_bound():
    """queue_max_messages bounds what is held for a deviceless user."""
    with rtd.api_daemon(queue_max_messages=3, rate_limit_per_user=0) as d:
        a = rtd.token("alice")
        codes = [d.send(a, rtd.envelope("gus"))[0] for _ in range(3)]
        rtd.check(codes == [202] * 3, "3 sends to gus (no device) are 202 "
                  "(got %s)" % codes)
        st, doc = d.send(a, rtd.envelope("gus"))
        rtd.check(st == 429 and doc and doc.get("error") == "queue_full",
                  "the 4th is 429 queue_full (got %s %s)" % (st, doc))
        st, doc = d.send(a, rtd.envelope("hal"))
        rtd.check(st == 202, "another deviceless user is not affected")
        doc = devices(d, rtd.token("gus", device="phone"))
        rtd.check(doc.get("held") == 3 and doc.get("devices") == [],
                  "gus: held 3, no device (got %s)" % doc)
        st, doc = d.fetch(rtd.token("gus", device="phone"))
        rtd.check(st == 200 and len(doc["messages"]) == 3,
                  "gus/phone adopts the 3 (nothing of the refused one)")


def test():
    with rtd.api_daemon(api_workers=2, ws_workers=2,
                        rate_limit_per_user=0) as d:
        asyncio.run(held_and_adopted(d))
    held_bound()


rtd.run(test)
