"""A WS worker that cannot take its doorbells (stopped with SIGSTOP while
thousands of messages are committed for its users) makes the senders drop
them and flag it; once it runs again it catches every connection up from
LMDB: nothing is lost, and the drops and the resync are counted."""

import asyncio
import concurrent.futures
import os
import signal
import time

import rtd
import wsclient as wc

N = 4000


def blast(d, n):
    a = rtd.token("alice")

    def one(i):
        return d.send(a, rtd.envelope("u%d" % (i % 50)))[0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        return list(ex.map(one, range(n)))


async def run(d):
    conns = []
    for i in range(50):
        ws = await wc.connect(d, rtd.token("u%d" % i))
        await wc.until_empty(ws)
        conns.append(ws)
    ws_pid = [p for p, t in d.workers().items() if " ws " in t + " "][0]
    # Let the WS worker commit its connections' device touches first: a
    # process stopped inside a write txn holds LMDB's writer lock, and
    # every sender would wait for it (the heartbeat kill is what ends
    # that for a worker really stuck).
    await asyncio.sleep(0.5)
    os.kill(ws_pid, signal.SIGSTOP)
    try:
        loop = asyncio.get_running_loop()
        codes = await loop.run_in_executor(None, blast, d, N)
    finally:
        os.kill(ws_pid, signal.SIGCONT)
    rtd.check(codes.count(202) == N, "all %d sends accepted" % N)
    m = d.metrics()
    dropped = m.get("routingd_handoffs_dropped_total", 0)
    print("# doorbells sent %d, dropped %d" %
          (m.get("routingd_handoffs_sent_total", 0), dropped))
    rtd.check(dropped > 0, "the full hand-off socket made senders drop "
              "doorbells")
    got = 0
    deadline = time.monotonic() + 30
    pending = set(range(50))
    counts = [0] * 50
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            m = await wc.recv(conns[i], 0.05)
            while m is not None:
                if m.get("type") == "message":
                    counts[i] += 1
                    await wc.ack(conns[i], [m["id"]])
                m = await wc.recv(conns[i], 0.01)
            if counts[i] >= N // 50:
                pending.discard(i)
    got = sum(counts)
    rtd.check(got == N, "every message delivered after the resync "
              "(%d of %d)" % (got, N))
    rtd.check(d.metrics().get("routingd_handoffs_resynced_total", 0) >= 1,
              "the catch-up is counted")
    for ws in conns:
        await ws.close()


def test():
    with rtd.api_daemon(rate_limit_per_user=0, api_workers=2,
                        ws_window=65536) as d:
        asyncio.run(run(d))


rtd.run(test)
