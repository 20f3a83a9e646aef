"""A device is a recipient from the moment it is admitted: two devices of
one user open WebSockets at the same moment (fresh device ids each round,
so each connect is a first-time admission, on two WS and two API
workers); as soon as both have their first frame (queue_empty) a message
is sent to the user, and both must receive it.  No miss in 50 rounds.
Variant: one device connected 1 s before the other."""

import asyncio

import rtd
import wsclient as wc

ROUNDS = 50
LATE_ROUNDS = 3
MAX_MISSES = 5		# enough evidence; stop waiting 2 s per miss after


async def open_first(d, tok):
    """Connect and read the first frame; (ws, first frame)."""
    ws = await wc.connect(d, tok)
    return ws, await wc.recv(ws, 5)


async def got_it(ws, mid, timeout=2.0):
    """True if the next frame on ws is the message mid."""
    m = await wc.recv(ws, timeout)
    return m is not None and m.get("type") == "message" and m["id"] == mid


async def one_round(d, sender, phone, laptop, early=False):
    """The devices that missed the message of this round (names)."""
    if early:
        p, pf = await open_first(d, phone)
        await asyncio.sleep(1.0)
        l, lf = await open_first(d, laptop)
    else:
        (p, pf), (l, lf) = await asyncio.gather(open_first(d, phone),
                                                open_first(d, laptop))
    try:
        rtd.check(pf == {"type": "queue_empty"} and
                  lf == {"type": "queue_empty"},
                  "a new device's first frame is queue_empty (got %s, %s)"
                  % (pf, lf))
        st, doc = d.send(sender, rtd.envelope("racer"))
        rtd.check(st == 202, "the send is accepted (got %s %s)" % (st, doc))
        gp, gl = await asyncio.gather(got_it(p, doc["id"]),
                                      got_it(l, doc["id"]))
        return [n for n, g in (("phone", gp), ("laptop", gl)) if not g]
    finally:
        await asyncio.gather(p.close(), l.close())


async def run(d):
    sender = rtd.token("alice")
    misses = []
    rounds = 0
    for i in range(ROUNDS):
        rounds += 1
        miss = await one_round(d, sender,
                               rtd.token("racer", device="phone-%d" % i),
                               rtd.token("racer", device="laptop-%d" % i))
        if miss:
            print("# round %d: %s missed the message" % (i, miss))
            misses.append((i, miss))
            if len(misses) >= MAX_MISSES:
                break
    rtd.check(not misses, "both devices connected at the same moment "
              "receive a message sent right after their first frame, "
              "every round (%d of %d rounds missed: %s)"
              % (len(misses), rounds, misses))
    for i in range(LATE_ROUNDS):
        miss = await one_round(d, sender,
                               rtd.token("racer", device="early-%d" % i),
                               rtd.token("racer", device="late-%d" % i),
                               early=True)
        rtd.check(not miss, "one device connected 1 s earlier, the other "
                  "just now: both receive it (round %d, missed: %s)"
                  % (i, miss))


def test():
    with rtd.api_daemon(api_workers=2, ws_workers=2,
                        rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
