"""kill -9 at random moments under load: of an API worker, of a WebSocket
worker, of the whole daemon (restarted on the same data directory), while
two clients send over HTTP, one fetches and acknowledges two queues over
HTTP and two WebSocket clients receive and ack two others.  Then the
chaos stops and everything is received and acknowledged.  Checked:

- every 202'd message was delivered (fetched or pushed), and in the end
  every queue is empty, also after a last kill -9 and restart: nothing
  acknowledged comes back;
- no fetch returns a message whose 204 was answered before it started,
  nor the same message twice; a fetch, and a WebSocket connection, give
  a queue's messages in send order;
- mdb_stat -e, mdb_stat -a and mdb_dump -a run clean on the store;
- routingctl presence names no dead WS worker once a WS worker was
  killed and the clients reconnected.

RTD_LONG=1: 600 s of chaos; RTD_SECONDS=N: N s; default 25 s."""

import asyncio
import itertools
import os
import random
import signal
import subprocess
import threading
import time

import websockets

import crash
import rtd
import wsclient as wc

SECONDS = float(os.environ.get("RTD_SECONDS",
                               "600" if os.environ.get("RTD_LONG") else "25"))
HTTPQ = ("h0", "h1")
WSQ = ("w0", "w1")
SENDERS = (("h0", "w0"), ("h1", "w1"))   # one sender per queue: its order


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.seq = itertools.count(1)
        self.ids = {}           # id -> (queue, seq) of every 202
        self.unanswered = 0     # sends without an answer
        self.fetches = []       # (start time, queue, [ids])
        self.acks = {}          # id -> time its 204 arrived
        self.ack_fail = 0
        self.pushed = []        # (queue, connection no, id)
        self.stop = threading.Event()
        self.kills = {"api": 0, "ws": 0, "daemon": 0}


def sender(d, s, queues, tok):
    for n in itertools.count():
        if s.stop.is_set():
            return
        q = queues[n % len(queues)]
        seq = next(s.seq)
        try:
            st, doc = d.send(tok, rtd.envelope(q), timeout=3)
        except (OSError, ValueError):
            st = None
        with s.lock:
            if st == 202:
                s.ids[doc["id"]] = (q, seq)
            else:
                s.unanswered += 1
                time.sleep(0.05)


def consumer(d, s, toks, until_empty):
    """Fetch and ack the HTTP queues; with until_empty, return once
    both are empty (fail after 30 s)."""
    empty = set()
    deadline = time.monotonic() + 30
    while not s.stop.is_set() or until_empty:
        if until_empty and time.monotonic() > deadline:
            raise rtd.Failure("the HTTP queues still not empty after 30 s")
        for q in HTTPQ:
            t = time.monotonic()
            try:
                st, doc = d.fetch(toks[q], limit=50, timeout=3)
            except (OSError, ValueError):
                continue
            if st != 200:
                continue
            ids = [m["id"] for m in doc["messages"]]
            with s.lock:
                s.fetches.append((t, q, ids))
            if not ids:
                empty.add(q)
                if until_empty and empty == set(HTTPQ):
                    return
                continue
            empty.discard(q)
            try:
                st = d.ack(toks[q], ids, timeout=3)
            except OSError:
                st = None
            with s.lock:
                if st == 204:
                    now = time.monotonic()
                    for i in ids:
                        s.acks.setdefault(i, now)
                else:
                    s.ack_fail += 1
        time.sleep(0.01)


async def receiver(d, s, q, tok, done):
    conns = 0
    while not done.is_set():
        try:
            async with wc.connect(d, tok) as ws:
                conns += 1
                while not done.is_set():
                    m = await wc.recv(ws, 0.2)
                    if m is None or m.get("type") != "message":
                        continue
                    with s.lock:
                        s.pushed.append((q, conns, m["id"]))
                    await wc.ack(ws, [m["id"]])
        except (OSError, websockets.exceptions.WebSocketException,
                asyncio.TimeoutError):
            await asyncio.sleep(0.05)


def ws_thread(d, s, toks, done):
    async def main():
        await asyncio.gather(*(receiver(d, s, q, toks[q], done)
                               for q in WSQ))
    asyncio.run(main())


def role_pids(d, role):
    return [p for p, t in d.workers().items() if (" %s " % role) in
            (t or "") + " "]


def chaos(d, s, rng):
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        time.sleep(rng.uniform(0.1, 1.0))
        what = rng.choices(("api", "ws", "daemon"), (4, 4, 1))[0]
        if what == "daemon":
            crash.kill_daemon(d)
            crash.start(d)
        else:
            pids = role_pids(d, what)
            if not pids:
                continue
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
            except ProcessLookupError:
                continue
        s.kills[what] += 1


def store_check(d):
    data = d.keys["data_dir"]
    for cmd in (["mdb_stat", "-e", data], ["mdb_stat", "-a", data],
                ["mdb_dump", "-a", data]):
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
        rtd.check(p.returncode == 0, "%s %s runs clean (%s)" %
                  (cmd[0], cmd[1], p.stderr.decode()[-300:]))


def presence_clean(d, users):
    """No WS worker named in presence is dead or not the daemon's."""
    live = set(role_pids(d, "ws"))
    for u in users:
        doc = d.ctl_json("presence", u)
        for row in doc["online"]:
            for w in row["workers"]:
                if w["pid"] not in live or not rtd.proc_alive(w["pid"]):
                    return False, doc
    return True, None


def check_order(s, lists, what):
    bad = 0
    for key, ids in lists:
        seqs = [s.ids[i][1] for i in ids if i in s.ids]
        if seqs != sorted(seqs) or len(set(ids)) != len(ids):
            bad += 1
            print("# out of order or duplicated in %s: %s" % (key, ids))
    rtd.check(bad == 0, what)


def test():
    rng = random.Random(int(os.environ.get("RTD_SEED", time.time())))
    toks = {u: rtd.token(u, ttl=86400) for u in
            ("alice",) + HTTPQ + WSQ}
    s = State()
    done = threading.Event()
    t0 = time.monotonic()
    with rtd.api_daemon(rate_limit_per_user=0, api_workers=2,
                        ws_workers=2) as d:
        # daemon threads: a failed check must end the test, not hang it
        threads = [threading.Thread(target=sender, daemon=True,
                                    args=(d, s, qs, toks["alice"]))
                   for qs in SENDERS]
        threads.append(threading.Thread(target=consumer, daemon=True,
                                        args=(d, s, toks, False)))
        wst = threading.Thread(target=ws_thread, daemon=True,
                               args=(d, s, toks, done))
        for t in threads + [wst]:
            t.start()
        try:
            chaos(d, s, rng)
        finally:
            s.stop.set()
            for t in threads:
                t.join()
        # settle: a last WS worker kill (once both are up again: the
        # respawn backoff grows with the kills), then everything delivered
        rtd.wait_for(lambda: len(role_pids(d, "ws")) == 2, 60,
                     "both WS workers up before the last kill")
        os.kill(rng.choice(role_pids(d, "ws")), signal.SIGKILL)
        s.kills["ws"] += 1
        rtd.wait_for(lambda: len(role_pids(d, "ws")) == 2, 60,
                     "the WS worker respawned")
        consumer(d, s, toks, True)
        want_ws = {i for i, (q, _) in s.ids.items() if q in WSQ}

        def ws_done():
            with s.lock:
                got = {i for _, _, i in s.pushed}
            if not want_ws <= got:
                return False
            return all(d.fetch(toks[q])[1]["messages"] == [] for q in WSQ)
        rtd.wait_for(ws_done, 30, "every 202'd message pushed over the "
                     "WebSockets and their acks committed")
        rtd.wait_for(lambda: presence_clean(d, WSQ)[0], 10,
                     "routingctl presence names only live WS workers")
        online = sum(len(d.ctl_json("presence", u)["online"]) for u in WSQ)
        rtd.check(online == 2, "both WebSocket clients online (%d)" % online)
        done.set()
        wst.join()

        fetched = {i for _, _, ids in s.fetches for i in ids}
        want_http = {i for i, (q, _) in s.ids.items() if q in HTTPQ}
        rtd.check(want_http <= fetched, "every 202'd message of the HTTP "
                  "queues was fetched (%d missing)"
                  % len(want_http - fetched))
        back = [(t, i) for t, _, ids in s.fetches for i in ids
                if i in s.acks and s.acks[i] < t]
        rtd.check(not back, "no fetch returns a message 204'd before it "
                  "started (%s)" % back[:5])
        check_order(s, [(q, ids) for _, q, ids in s.fetches],
                    "every fetch in send order, without duplicates")
        conns = {}
        for q, c, i in s.pushed:
            conns.setdefault((q, c), []).append(i)
        check_order(s, conns.items(), "every WebSocket connection in send "
                    "order, without duplicates")

        crash.kill_daemon(d)
        store_check(d)
        crash.start(d)
        for q in HTTPQ + WSQ:
            st, doc = d.fetch(toks[q], limit=1000)
            rtd.check(st == 200 and doc["messages"] == [],
                      "after the last kill -9 and restart: %s stays empty"
                      % q)
        dup = len(s.pushed) - len({i for _, _, i in s.pushed})
        print("# %.0f s: kills %s; %d sends 202'd (%d unanswered), %d "
              "fetches, %d ids 204'd, %d pushes (%d again after a "
              "reconnect), %d acks unanswered"
              % (time.monotonic() - t0, s.kills, len(s.ids), s.unanswered,
                 len(s.fetches), len(s.acks), len(s.pushed), dup,
                 s.ack_fail))


rtd.run(test)
