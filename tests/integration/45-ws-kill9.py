"""kill -9 of the WebSocket worker while messages flow: the supervisor
respawns it, the client reconnects, and every accepted message arrives
(duplicates only across the reconnect, for messages not yet acked)."""

import asyncio
import os
import signal
import time

import websockets

import rtd
import wsclient as wc

N = 300


async def receiver(d, tok, got, stop):
    """Connect (again and again), ack everything, record arrivals."""
    conns = 0
    while not stop.is_set():
        try:
            async with wc.connect(d, tok) as ws:
                conns += 1
                while not stop.is_set():
                    m = await wc.recv(ws, 0.2)
                    if m is None or m.get("type") != "message":
                        continue
                    got.append((conns, m["id"]))
                    await wc.ack(ws, [m["id"]])
        except (OSError, websockets.exceptions.WebSocketException,
                asyncio.TimeoutError):
            await asyncio.sleep(0.05)
    return conns


async def run(d):
    a, b = rtd.token("alice"), rtd.token("bob")
    got, stop = [], asyncio.Event()
    task = asyncio.create_task(receiver(d, b, got, stop))
    await asyncio.sleep(0.5)
    accepted = []
    ws_pid = [p for p, t in d.workers().items() if " ws " in t + " "][0]
    loop = asyncio.get_running_loop()
    for i in range(N):
        st, doc = await loop.run_in_executor(
            None, d.send, a, rtd.envelope("bob"))
        if st == 202:
            accepted.append(doc["id"])
        if i == N // 3:
            os.kill(ws_pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while not set(accepted) <= {i for _, i in got} and \
            time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    conns = await task
    rtd.check(len(accepted) == N, "all %d sends accepted" % N)
    rtd.check(conns >= 2, "the client reconnected (%d connections)" % conns)
    ids = [i for _, i in got]
    dups = len(ids) - len(set(ids))
    first_conn = {}
    for c, i in got:
        if i in first_conn and first_conn[i] == c:
            rtd.check(False, "a duplicate within one connection: %s" % i)
        first_conn.setdefault(i, c)
    print("# %d received, %d duplicates across reconnects" % (len(ids), dups))
    rtd.check(set(accepted) <= set(ids), "none lost")
    st, doc = d.fetch(b, limit=500)
    rtd.check(doc["messages"] == [], "all acked in the end")
    rtd.check("lost child" in d.log() and len(d.workers()) == 2,
              "the WS worker was respawned")


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
