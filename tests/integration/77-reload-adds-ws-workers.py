"""A reload that raises ws_workers: the WS workers it adds are rung like
the others.  Connections that land on an added worker (seat 1 or 2 of
three, after starting with one) get a new message well inside the 5 s
catch-up sweep, and ephemeral messages, which only a doorbell carries,
reach them at all; routingctl presence names those workers.  Lowering
ws_workers again forgets the removed workers' connections once they are
gone: presence no longer shows them online.  While the two generations
overlap, /metrics has no duplicate series."""

import asyncio
import time

import rtd
import wsclient as wc

NUSERS = 12


def ws_pids(d):
    return sorted(p for p, t in d.workers().items()
                  if t and t.startswith("routingd: ws"))


def seat_of(d, user):
    doc = d.ctl_json("presence", user)
    if len(doc["online"]) != 1:
        return None
    return doc["online"][0]["workers"][0]["index"]


async def grow(d):
    d.write_config(dict(d.keys, ws_workers=3))
    rc, out, err = d.ctl("reload")
    rtd.check(rc == 0, "reload to ws_workers 3 (%d %r)" % (rc, out + err))
    rtd.wait_for(lambda: len(ws_pids(d)) == 3, 10, "three ws workers")
    d.wait_ready()
    conns, seats = {}, {}
    for i in range(NUSERS):
        user = "g%d" % i
        ws = await wc.connect(d, rtd.token(user))
        await wc.until_empty(ws)
        conns[user] = ws
        seats[user] = seat_of(d, user)
    added = [u for u, s in seats.items() if s in (1, 2)]
    rtd.check(len(added) >= 2, "connections landed on the added workers "
              "(seats %s)" % sorted(seats.values(), key=str))
    alice = rtd.token("alice")
    for user in added:
        t0 = time.monotonic()
        st, sent = d.send(alice, rtd.envelope(user))
        rtd.check(st == 202, "a send to %s" % user)
        m = await wc.recv(conns[user], 4.0)
        took = time.monotonic() - t0
        rtd.check(m is not None and m.get("id") == sent["id"] and
                  took < 1.5, "%s on added seat %d gets it at once "
                  "(%.3f s; the sweep would take up to 5 s)"
                  % (user, seats[user], took))
        st, sent = d.send(alice, rtd.envelope(user, isEphemeral=True,
                                              data="ZXBo"))
        rtd.check(st == 202, "an ephemeral send to %s" % user)
        m = await wc.recv(conns[user], 3.0)
        rtd.check(m is not None and m.get("ephemeral") is True and
                  m.get("id") == sent["id"], "%s on added seat %d gets the "
                  "ephemeral message (only a doorbell carries it)"
                  % (user, seats[user]))
    return conns, added


async def shrink(d, conns, added):
    d.write_config(dict(d.keys, ws_workers=1))
    rc, out, err = d.ctl("reload")
    rtd.check(rc == 0, "reload to ws_workers 1 (%d %r)" % (rc, out + err))
    # old and new workers overlap now: one series per (role, index) still
    st, _, body = d.get("/metrics")
    keys = [ln.rsplit(" ", 1)[0] for ln in body.decode().splitlines()
            if ln and not ln.startswith("#")]
    dups = sorted(set(k for k in keys if keys.count(k) > 1))
    rtd.check(st == 200 and len(keys) > 0 and not dups,
              "no duplicate series while two generations run (%s)" % dups)
    for ws in conns.values():
        try:
            await asyncio.wait_for(ws.wait_closed(), 10)
        except asyncio.TimeoutError:
            pass
    rtd.check(all(ws.close_code == 1012 for ws in conns.values()),
              "the replaced workers closed their connections with 1012")
    rtd.wait_for(lambda: len(ws_pids(d)) == 1, 10, "one ws worker left")
    rtd.wait_for(lambda: all(seat_of(d, u) is None for u in added), 5,
                 "the removed workers' connections are no longer online")


async def run(d):
    conns, added = await grow(d)
    await shrink(d, conns, added)


def test():
    with rtd.api_daemon(ws_workers=1, shutdown_timeout="2s",
                        rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
