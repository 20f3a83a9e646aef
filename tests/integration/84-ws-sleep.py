"""Idle WebSockets sleep (their wslay context freed) and wake on demand.

One WS worker.  Three connections: one idle, one that sent half a frame
head, one in the middle of a fragmented message.  Only the idle one goes
to sleep (routingd_ws_connections_asleep counts it) once it has read
nothing for 2 s; the two with something under way in wslay stay awake,
and finish their frame and their message later as if nothing happened
(then they sleep too).
A sleeping connection wakes for a message (delivered, and its ack over
the same connection deletes it), goes back to sleep, wakes for a ping
(answered with a pong) and for a close (answered with the close
handshake); the gauge follows.  With 300 idle connections the WS
worker's resident memory falls by at least a third of what they took
once they sleep (malloc_trim gives the freed contexts' pages back; not
checked in an AddressSanitizer build or under valgrind, whose allocators
keep them)."""

import json
import time

import rtd
import wsraw

ASLEEP = "routingd_ws_connections_asleep"


def asleep(d):
    return d.metrics().get(ASLEEP, -1)


def rss_kb(d):
    pids = [p for t, p in d.workers_by_title().items() if "ws 0" in t]
    return rtd.status_kb(pids[0], "VmRSS") if pids else 0


def test():
    with rtd.api_daemon(ws_workers=1, ws_ping_interval="60s",
                        rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        idle = wsraw.connect(d.ws_port, rtd.token("bob"))
        half = wsraw.connect(d.ws_port, rtd.token("carol"))
        frag = wsraw.connect(d.ws_port, rtd.token("dave"))
        ack = json.dumps({"type": "ack", "messageIds": []}).encode()
        frame = wsraw.build_frame(wsraw.TEXT, ack)
        half.send_raw(frame[:3])			# half a frame head
        frag.send_frame(wsraw.TEXT, ack[:10], fin=False)
        rtd.wait_for(lambda: asleep(d) == 1, 8, "the idle connection "
                     "sleeps after 2 s without input")
        time.sleep(2.5)
        rtd.check(asleep(d) == 1, "the connections with a frame or a "
                  "message under way stay awake (%s)" % asleep(d))
        half.send_raw(frame[3:])
        frag.send_frame(wsraw.CONT, ack[10:], fin=True)
        for ws, what in ((half, "the half frame"), (frag, "the fragments")):
            try:
                f = ws.recv_frame(timeout=1.0)
                rtd.check(False, "%s: an empty ack needs no answer, got %r"
                          % (what, f))
            except wsraw.Timeout:
                pass
        st, doc = d.send(alice, rtd.envelope("bob", data="d2FrZQ=="))
        rtd.check(st == 202, "a message for the sleeping connection")
        f = idle.recv_frame(timeout=3)
        m = f.json()
        rtd.check(m.get("id") == doc["id"] and
                  m["envelope"]["encryptedData"] == "d2FrZQ==",
                  "the sleeping connection wakes and gets it (%r)" % m)
        idle.send_ack([m["id"]])
        rtd.wait_for(lambda: d.fetch(rtd.token("bob"))[1]["messages"] == [],
                     5, "its ack over the woken connection deletes it")
        rtd.wait_for(lambda: asleep(d) >= 1, 8, "it sleeps again")
        idle.send_frame(wsraw.PING, b"are you there")
        f = idle.recv_frame(timeout=3)
        rtd.check(f.opcode == wsraw.PONG and f.payload == b"are you there",
                  "a ping wakes it: the pong (%r)" % f)
        rtd.wait_for(lambda: asleep(d) == 3, 8, "asleep once more, and "
                     "the two others too, now that their frames are whole")
        idle.send_close(1000)
        end = idle.read_to_end()
        closes = [x for x in end[0] if x.opcode == wsraw.CLOSE]
        rtd.check(closes and closes[0].close_code == 1000,
                  "a close wakes it: the close handshake (%r)" % (end,))
        rtd.wait_for(lambda: asleep(d) == 2, 8, "the gauge drops with the "
                     "closed connection")

        if rtd.sanitized():
            print("# memory part skipped: AddressSanitizer and valgrind "
                  "keep freed memory")
            for ws in (half, frag):
                ws.close()
            return
        before = rss_kb(d)
        many = [wsraw.connect(d.ws_port, rtd.token("u%d" % i))
                for i in range(300)]
        awake = rss_kb(d)
        rtd.wait_for(lambda: asleep(d) >= 302, 10, "300 idle connections "
                     "sleep")
        after = rss_kb(d)
        print("# WS worker RSS: %d kB idle, %d kB with 300 connections "
              "awake, %d kB asleep" % (before, awake, after))
        rtd.check(awake - before > 300 * 4 and
                  after < awake - (awake - before) / 3,
                  "their sleep gives memory back (%d -> %d -> %d kB)"
                  % (before, awake, after))
        for ws in many + [half, frag]:
            ws.close()


rtd.run(test)
