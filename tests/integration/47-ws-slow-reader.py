"""A WebSocket client that stops reading must cost the WS worker bounded
memory and get closed once the write stalls for send_timeout.

Part 1, a slow reader in push mode: a client with a tiny receive buffer
connects and never reads again while ~6 MB of messages (3000 x ~2 KB)
are sent to its user over the HTTP API, with a window large enough that
the server would push them all.  The worker must stop pulling from LMDB
once its output is backed up (WS_OUT_CAP), so its RSS stays flat; the
stalled connection is closed within send_timeout (and counted under
1008); every message is still queued and a fresh client gets them all.

Part 2, a ping flood from a client that never reads: the worker owes it
at most one pong at a time and stops reading it while its output is
full, memory stays flat, and the flooder is closed with 1008 (past the
control-frame budget, or by the write stall); meanwhile another
connection of the same worker keeps getting pongs.

Checks that fail against the current daemon because of a known bug say
so ("regression:").
"""

import base64
import concurrent.futures
import os
import socket
import threading
import time

import rtd
import wsraw
from wsraw import PING

N_MSGS = 3000
BLOB = base64.b64encode(os.urandom(1500)).decode()     # 2000 characters
SEND_TIMEOUT = 2.0
RSS_BUDGET_KB = 20 * 1024
FRESH_DEADLINE = 30
KEY_1008 = 'routingd_ws_disconnects_total{code="1008"}'

expect = rtd.expect


class Sampler(threading.Thread):
    """Samples the worker's VmRSS and RssAnon, and the time the 1008
    counter first grows past base1008."""

    def __init__(self, d, pid, base1008):
        threading.Thread.__init__(self, daemon=True)
        self.d, self.pid, self.base1008 = d, pid, base1008
        self.max_rss = self.max_anon = 0
        self.closed_at = None
        self.stop = threading.Event()

    def run(self):
        last_metrics = 0.0
        while not self.stop.is_set():
            rss = rtd.status_kb(self.pid, "VmRSS") or 0
            anon = rtd.status_kb(self.pid, "RssAnon") or 0
            self.max_rss = max(self.max_rss, rss)
            self.max_anon = max(self.max_anon, anon)
            now = time.monotonic()
            if self.closed_at is None and now - last_metrics >= 0.2:
                last_metrics = now
                try:
                    if self.d.metrics().get(KEY_1008, 0) > self.base1008:
                        self.closed_at = time.monotonic()
                except Exception:
                    pass
            time.sleep(0.02)


def send_many(d, tok, user, n):
    def one(_):
        st, doc = d.send(tok, rtd.envelope(user, data=BLOB), timeout=30)
        return st, (doc or {}).get("id")
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        return list(ex.map(one, range(n)))


def wait_closed_metric(d, base, deadline):
    while time.monotonic() < deadline:
        if d.metrics().get(KEY_1008, 0) > base:
            return True
        time.sleep(0.1)
    return False


def part_push(d, ws_pid):
    alice, slow = rtd.token("alice"), rtd.token("slowpoke")
    # Warm up: one ordinary connection with a few messages, so the
    # baseline includes what any connection allocates once.
    warm = rtd.token("warmup")
    for _ in range(5):
        d.send(alice, rtd.envelope("warmup", data=BLOB))
    w = wsraw.connect(d.ws_port, warm, wait_empty=False)
    seen = 0
    while w.recv_json(5).get("type") != "queue_empty":
        seen += 1
    w.close()
    time.sleep(0.3)
    base_rss = rtd.status_kb(ws_pid, "VmRSS")
    base_anon = rtd.status_kb(ws_pid, "RssAnon")
    base1008 = d.metrics().get(KEY_1008, 0)

    c = wsraw.connect(d.ws_port, slow, rcvbuf=4096)
    print("# slow reader connected, SO_RCVBUF now %d; baseline VmRSS %d kB,"
          " RssAnon %d kB" % (c.sock.getsockopt(socket.SOL_SOCKET,
                                                socket.SO_RCVBUF),
                              base_rss, base_anon))
    sampler = Sampler(d, ws_pid, base1008)
    sampler.start()
    t0 = time.monotonic()
    res = send_many(d, alice, "slowpoke", N_MSGS)
    t_sent = time.monotonic()
    ids = [i for st, i in res if st == 202]
    rtd.check(len(ids) == N_MSGS, "all %d sends accepted (%d, codes %s)"
              % (N_MSGS, len(ids), sorted({st for st, _ in res})))
    print("# %d messages (~%.1f MB) sent in %.1fs"
          % (N_MSGS, N_MSGS * len(BLOB) / 1e6, t_sent - t0))
    closed = wait_closed_metric(d, base1008,
                                t_sent + SEND_TIMEOUT + 5.0)
    time.sleep(0.5)
    sampler.stop.set()
    sampler.join()
    grow, grow_anon = sampler.max_rss - base_rss, sampler.max_anon - base_anon
    expect(grow < RSS_BUDGET_KB,
           "the WS worker's VmRSS stayed bounded with ~%.0f MB unread: "
           "grew by %d kB at most (budget %d kB; RssAnon grew by %d kB)"
           % (N_MSGS * len(BLOB) / 1e6, grow, RSS_BUDGET_KB, grow_anon))
    expect(closed,
           "the stalled connection was closed within send_timeout (%.0fs) "
           "+ 5s of the last send (1008 counted %s)"
           % (SEND_TIMEOUT, "after %.1fs from the first send"
              % (sampler.closed_at - t0) if sampler.closed_at else "never"))

    # What the client finally reads: the frames that were in the
    # buffers, then the end of the TCP connection.
    frames, how = c.collect(15.0)
    c.close()
    pushed = [f for f in frames if f.opcode == wsraw.TEXT]
    expect(how in ("eof", "reset"),
           "reading at last: the server had closed the connection (TCP "
           "%s after %d frames, %d of them messages)"
           % (how or "still open after 15s", len(frames), len(pushed)))
    expect(len(pushed) < N_MSGS,
           "the server did not push the whole backlog into the stalled "
           "connection (%d of %d)" % (len(pushed), N_MSGS))
    m = d.metrics()
    expect(m.get(KEY_1008, 0) >= base1008 + 1,
           "routingd_ws_disconnects_total{code=\"1008\"} increased (%d -> "
           "%d)" % (base1008, m.get(KEY_1008, 0)))
    expect(m.get("routingd_ws_connections", -1) == 0,
           "no WebSocket connection left open (%s)"
           % m.get("routingd_ws_connections"))

    # A fresh client that reads as fast as it can (answering pings, acking
    # nothing until queue_empty) gets the whole backlog promptly: 6 MB on
    # loopback.
    # Regression: pulls stop while WS_OUT_CAP bytes wait in wslay's queue, and
    # nothing starts them again when that queue drains: only an ack, a
    # doorbell or the 5 s sweep does.  A reader that does not ack as it
    # goes gets ~256 KiB per sweep (3000 x 2 KB take ~2 minutes).
    f = wsraw.connect(d.ws_port, slow, wait_empty=False)
    got, empty, t1 = [], False, time.monotonic()
    deadline = t1 + FRESH_DEADLINE
    try:
        while time.monotonic() < deadline:
            doc = f.recv_json(max(0.01, deadline - time.monotonic()))
            if doc.get("type") == "queue_empty":
                empty = True
                break
            if doc.get("type") == "message":
                got.append(doc["id"])
    except wsraw.Timeout:
        pass
    took = time.monotonic() - t1
    expect(empty and sorted(got) == sorted(ids),
           "a fresh reader gets every message and queue_empty within %ds "
           "(%d of %d in %.1fs, queue_empty %s) [regression: pushing resumes only "
           "at the 5 s sweep once the output queue drained]"
           % (FRESH_DEADLINE, len(got), len(ids), took,
              "seen" if empty else "not seen"))
    expect(set(got) <= set(ids) and len(set(got)) == len(got),
           "what it got are the sent messages, each once (%d, %d distinct)"
           % (len(got), len(set(got))))
    pong, others, how = f.sync(timeout=10)
    expect(pong and how is None, "the fresh connection is healthy (pong "
           "%s, TCP %s)" % (pong, how))
    f.close()

    # Nothing was acknowledged: every message is still queued (drained
    # over the HTTP API, 500 at a time).
    stored = []
    for _ in range(2 * N_MSGS // 500 + 2):
        st, doc = d.fetch(slow, limit=500)
        page = [m["id"] for m in (doc or {}).get("messages", [])]
        if st != 200 or not page:
            break
        stored += page
        rtd.check(d.ack(slow, page) == 204, "ack a page of %d" % len(page))
    expect(sorted(stored) == sorted(ids),
           "every message was still queued (%d of %d, %d missing)"
           % (len(stored), len(ids), len(set(ids) - set(stored))))
    st, doc = d.fetch(slow, limit=10)
    expect(st == 200 and doc["messages"] == [], "then the queue is empty")


def part_ping_flood(d, ws_pid):
    base1008 = d.metrics().get(KEY_1008, 0)
    time.sleep(0.3)
    base_rss = rtd.status_kb(ws_pid, "VmRSS")
    c = wsraw.connect(d.ws_port, rtd.token("pinger"), rcvbuf=4096)
    sampler = Sampler(d, ws_pid, base1008)
    sampler.start()
    # Another client of the same worker pings every 100 ms meanwhile:
    # the flood must not stall the worker's event loop for the others.
    obs = wsraw.connect(d.ws_port, rtd.token("bystander"))
    lat = {"max": 0.0, "lost": None}
    done = threading.Event()

    def observe():
        while not done.is_set():
            t = time.monotonic()
            pong, _, how = obs.sync(timeout=15, quiet=0)
            if not pong:
                lat["lost"] = how or "no pong in 15s"
                return
            lat["max"] = max(lat["max"], time.monotonic() - t)
            time.sleep(0.1)

    watcher = threading.Thread(target=observe, daemon=True)
    watcher.start()
    ping = wsraw.build_frame(PING, b"p" * 125, key=b"\x01\x02\x03\x04")
    burst = ping * 512                      # 67 KB of pings
    sent = 0
    t0 = time.monotonic()
    c.sock.settimeout(SEND_TIMEOUT + 6.0)
    try:
        while time.monotonic() - t0 < 60 and sent < 400 * 1024 * 1024:
            c.sock.sendall(burst)
            sent += len(burst)
    except (socket.timeout, OSError) as e:
        print("# ping flood: writing stopped after %d MB (%s)"
              % (sent // (1024 * 1024), type(e).__name__))
    closed = wait_closed_metric(d, base1008, time.monotonic() + 5.0)
    sampler.stop.set()
    sampler.join()
    done.set()
    watcher.join(20)
    obs.close()
    grow = sampler.max_rss - base_rss
    # Regression (these three): wslay_event_recv reads for as long as the socket
    # has bytes, queueing a pong per ping; the output cap is only looked
    # at in wsc_settle, after it returns.  A client that writes pings
    # faster than the worker parses them keeps it inside one call: the
    # event loop (every other connection, the tick) waits, and the
    # queued pongs grow without bound.
    expect(lat["lost"] is None and lat["max"] < 1.0,
           "ping flood: another connection of the worker kept getting "
           "pongs within 1s (slowest %.2fs%s) [regression: one wslay_event_recv "
           "call runs for as long as the flood lasts]"
           % (lat["max"], "" if lat["lost"] is None else
              ", then lost: %s" % lat["lost"]))
    expect(sent < 64 * 1024 * 1024,
           "the worker stopped reading a client that never reads its "
           "pongs (%d MB of pings written) [regression: WS_OUT_CAP is not looked "
           "at inside wslay_event_recv]" % (sent // (1024 * 1024)))
    expect(grow < RSS_BUDGET_KB,
           "ping flood: the WS worker's VmRSS grew by %d kB at most "
           "(budget %d kB) [regression: queued pongs are unbounded]"
           % (grow, RSS_BUDGET_KB))
    expect(closed, "ping flood: the flooding connection was closed and "
           "counted under 1008")
    c.close()


def test():
    with rtd.api_daemon(ws_window=65536, send_timeout="2s",
                        rate_limit_per_user=0,
                        queue_max_messages=100000) as d:
        ws_pid = d.workers_by_title().get("routingd: ws 0")
        rtd.check(ws_pid is not None, "a WS worker runs (%s)" % d.workers())
        part_push(d, ws_pid)
        part_ping_flood(d, ws_pid)
        expect("lost child" not in d.log() and
               d.workers_by_title().get("routingd: ws 0") == ws_pid,
               "the WS worker never died (%s)" % d.workers())
        expect(not wsraw.MASKED_FROM_SERVER, "no server frame was masked")
        rtd.check_expected()


rtd.run(test)
