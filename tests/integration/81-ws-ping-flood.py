"""A client that floods pings must not hurt the other clients of its WS
worker.

On a daemon with one WS worker, a flooding client (raw socket, empty
masked pings written as fast as the socket takes them, never reading
anything) connects again each time it is closed (2 ms later), for the
whole test.
Meanwhile:

- another client connects FOLLOWERS times in turn and each time gets
  connected (101 and queue_empty) and then receives a message sent to it
  over the HTTP API, each within LATENCY_S;
- the WS worker's VmRSS (from /proc/PID/status) grows by less than
  RSS_BUDGET_KB (plus ASan's quarantine in an ASan build): owed pongs
  are coalesced and counted toward the output cap, so a client that
  never reads its pongs costs bounded memory;
- every flooding connection is closed by the server within CLOSE_S of its
  first ping (the control-frame rate limit), and the closes are counted
  in routingd_ws_disconnects_total{code="1008"}.

Empty pings matter: wslay queues a pong per ping, and an empty pong adds
nothing to the queued byte count the output cap looks at.
"""

import socket
import threading
import time

import rtd
import wsraw
from wsraw import PING

FOLLOWERS = 6
LATENCY_S = 2.0
CLOSE_S = 3.0
RSS_BUDGET_KB = 64 * 1024
# An ASan build keeps freed memory in its quarantine (256 MB by default)
# and the flooders' many short connections fill it.
ASAN_QUARANTINE_KB = 256 * 1024
KEY_1008 = 'routingd_ws_disconnects_total{code="1008"}'

expect = rtd.expect


def is_asan(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


class RssSampler(threading.Thread):
    def __init__(self, pid):
        threading.Thread.__init__(self, daemon=True)
        self.pid, self.max_rss = pid, 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            rss = rtd.status_kb(self.pid, "VmRSS") or 0
            self.max_rss = max(self.max_rss, rss)
            time.sleep(0.02)


class Flooder(threading.Thread):
    """Connects, writes empty pings without ever reading until the
    server closes it, then connects again, until stop is set.  Records
    (seconds from the first ping to the end, how it ended, bytes written,
    a close code read afterwards or None) per connection."""

    def __init__(self, port, tok):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.tok = port, tok
        self.stop = threading.Event()
        self.conns = []
        self.errors = []
        ping = wsraw.build_frame(PING, b"", key=b"\x11\x22\x33\x44")
        self.burst = ping * 8192                # 48 KiB, 8192 pings

    def one(self):
        c = wsraw.connect(self.port, self.tok, rcvbuf=4096, timeout=5,
                          wait_empty=False)
        c.sock.settimeout(0.5)
        sent, how, t0 = 0, "stopped", time.monotonic()
        while not self.stop.is_set():
            try:
                c.sock.sendall(self.burst)
                sent += len(self.burst)
            except socket.timeout:
                continue            # the server stopped reading: fine
            except OSError as e:
                how = type(e).__name__
                break
        took = time.monotonic() - t0
        code = None
        if how != "stopped":
            # what the kernel kept of the server's frames: its close?
            try:
                frames, _ = c.collect(0.3)
                codes = [f.close_code for f in frames
                         if f.opcode == wsraw.CLOSE]
                code = codes[0] if codes else None
            except OSError:
                pass
        c.close()
        self.conns.append((took, how, sent, code))

    def run(self):
        while not self.stop.is_set():
            try:
                self.one()
            except (wsraw.WSError, OSError) as e:
                self.errors.append(repr(e))
                time.sleep(0.05)
            time.sleep(0.002)   # spare the machine's ephemeral ports


def follower(d, alice, tok, i):
    """Connect, get one message; (connect s, deliver s) or raise."""
    t0 = time.monotonic()
    c = wsraw.connect(d.ws_port, tok, timeout=15)
    t1 = time.monotonic()
    st, doc = d.send(alice, rtd.envelope("follower", data="bXNnJWQ="),
                     timeout=15)
    rtd.check(st == 202, "send %d to the follower accepted (%s)" % (i, st))
    while True:
        m = c.recv_json(15)
        if m.get("type") == "message":
            break
    t2 = time.monotonic()
    rtd.check(m["id"] == doc["id"], "the follower got its message")
    c.send_ack([m["id"]])
    c.close()
    return t1 - t0, t2 - t1


def test():
    with rtd.api_daemon(ws_workers=1, rate_limit_per_user=0) as d:
        ws_pid = d.workers_by_title().get("routingd: ws 0")
        rtd.check(ws_pid is not None, "a WS worker runs (%s)" % d.workers())
        alice = rtd.token("alice")
        ftok = rtd.token("follower")
        # warm up: one follower round before the baseline
        follower(d, alice, ftok, 0)
        time.sleep(0.3)
        base_rss = rtd.status_kb(ws_pid, "VmRSS")
        base1008 = d.metrics().get(KEY_1008, 0)
        sampler = RssSampler(ws_pid)
        sampler.start()
        fl = Flooder(d.ws_port, rtd.token("flooder"))
        t_flood = time.monotonic()
        fl.start()
        time.sleep(0.5)             # the flood is under way
        lat, lost = [], None
        try:
            for i in range(1, FOLLOWERS + 1):
                try:
                    lat.append(follower(d, alice, ftok, i))
                except (wsraw.WSError, wsraw.Timeout, wsraw.Closed,
                        OSError) as e:
                    lost = "round %d: %r after %.1fs" % (
                        i, e, time.monotonic() - t_flood)
                    break
                time.sleep(0.3)
        finally:
            # long enough for a flooder that is never closed to show
            time.sleep(max(0.0, t_flood + CLOSE_S + 1.0 - time.monotonic()))
            fl.stop.set()
            fl.join(20)
            sampler.stop.set()
            sampler.join()
        print("# follower (connect s, deliver s): %s"
              % ", ".join("(%.2f, %.2f)" % x for x in lat))
        print("# flood connections: %d, e.g. %s; connect errors %s"
              % (len(fl.conns), fl.conns[:3], fl.errors[:3]))
        worst = max([max(a, b) for a, b in lat] + [0.0])
        expect(len(lat) == FOLLOWERS and worst < LATENCY_S,
               "during the flood another client connected and got a "
               "message within %.1fs, %d times (slowest %.2fs%s)"
               % (LATENCY_S, FOLLOWERS, worst,
                  "" if lost is None else "; lost: " + lost))
        grow = sampler.max_rss - base_rss
        budget = RSS_BUDGET_KB + (ASAN_QUARANTINE_KB if is_asan(ws_pid)
                                  else 0)
        expect(grow < budget,
               "the WS worker's VmRSS grew by %d kB at most (budget %d kB)"
               % (grow, budget))
        ended = [x for x in fl.conns if x[1] != "stopped"]
        slow = [x for x in ended if x[0] >= CLOSE_S]
        expect(ended and len(ended) >= len(fl.conns) - 1 and not slow,
               "every flooding connection (but the one cut short by the "
               "end of the test) was closed by the server within %.0fs of "
               "its first ping (%d of %d closed, %d too late: %s)"
               % (CLOSE_S, len(ended), len(fl.conns), len(slow),
                  slow[:3] or fl.conns[:3]))
        seen = sorted({x[3] for x in ended if x[3] is not None})
        expect(not seen or seen == [1008],
               "close frames the flooder could still read say 1008 (%s)"
               % seen)
        deadline = time.monotonic() + 5
        m = d.metrics()
        while (m.get(KEY_1008, 0) - base1008 < len(ended) and
               time.monotonic() < deadline):
            time.sleep(0.1)
            m = d.metrics()
        expect(m.get(KEY_1008, 0) - base1008 >= max(1, len(ended)),
               "routingd_ws_disconnects_total{code=\"1008\"} counted the "
               "flooders (+%d for %d closed)"
               % (m.get(KEY_1008, 0) - base1008, len(ended)))
        expect(d.workers_by_title().get("routingd: ws 0") == ws_pid,
               "the WS worker never died (%s)" % d.workers())
        rtd.check_expected()


rtd.run(test)
