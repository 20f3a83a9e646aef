"""A control frame that breaks RFC 6455 section 5.5 (a payload over 125
bytes, or FIN=0: control frames are never fragmented) is answered with a
close frame with code 1002 (protocol error) before the TCP connection
ends, not with a bare TCP close; so is a frame length that is not in its
shortest form (section 5.2).  No pong comes for a bad ping.  Each close
is counted in routingd_ws_disconnects_total{code="1002"}, and the worker
goes on serving.
"""

import time

import rtd
import wsraw
from wsraw import CLOSE, PING, PONG, TEXT

ACK = '{"type":"ack","messageIds":[]}'
KEY = 'routingd_ws_disconnects_total{code="%s"}'

expect = rtd.expect

CASES = [
    ("ping with a 126-byte payload",
     lambda c: c.send_frame(PING, b"x" * 126)),
    ("ping with a 126-byte payload, 64-bit length form",
     lambda c: c.send_frame(PING, b"x" * 126, lenform=64)),
    ("ping with a 1000-byte payload, written in pieces",
     lambda c: c.send_frame(PING, b"y" * 1000, chunk=100)),
    ("ping with FIN=0, then its continuation",
     lambda c: (c.send_frame(PING, b"frag1", fin=False),
                c.send_frame(0x0, b"frag2"))),
    ("empty ping with FIN=0",
     lambda c: c.send_frame(PING, b"", fin=False)),
    ("pong with a 200-byte payload",
     lambda c: c.send_frame(PONG, b"z" * 200)),
    ("pong with FIN=0",
     lambda c: c.send_frame(PONG, b"p", fin=False)),
    ("close with a 126-byte payload",
     lambda c: c.send_frame(CLOSE, b"\x03\xe8" + b"r" * 124)),
    ("an ack, then a ping with a 126-byte payload",
     lambda c: (c.send_text(ACK), c.send_frame(PING, b"x" * 126))),
    ("a good ping and a bad one in one write",
     lambda c: c.send_raw(wsraw.build_frame(PING, b"good") +
                          wsraw.build_frame(PING, b"x" * 130))),
    ("text with a 16-bit length of 5",
     lambda c: c.send_frame(TEXT, b"hello", lenform=16)),
    ("ping header byte by byte, 126 bytes announced",
     lambda c: c.send_raw(wsraw.build_frame(PING, b"x" * 126)[:8],
                          chunk=1, pause=0.01)),
]


def run_case(d, n, name, send):
    c = wsraw.connect(d.ws_port, rtd.token("bad%d" % n))
    send(c)
    frames, how = c.read_to_end(5.0)
    c.close()
    closes = [f for f in frames if f.opcode == CLOSE]
    # "a good ping and a bad one" may get the good one's pong first
    others = [f for f in frames if f.opcode != CLOSE and
              not (f.opcode == PONG and f.payload == b"good")]
    ok = (len(closes) == 1 and closes[0].close_code == 1002 and
          frames[-1].opcode == CLOSE and not others and
          how in ("eof", "reset"))
    expect(ok, "%s: a close frame with 1002, then TCP close (got %s, then "
           "TCP %s)" % (name, frames, how))
    return ok


def test():
    with rtd.api_daemon() as d:
        ws_pid = d.workers_by_title().get("routingd: ws 0")
        base = d.metrics()
        for n, (name, send) in enumerate(CASES):
            run_case(d, n, name, send)
        want = len(CASES)
        deadline = time.monotonic() + 5
        while True:
            m = d.metrics()
            grew = m.get(KEY % "1002", 0) - base.get(KEY % "1002", 0)
            if grew >= want or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        expect(grew == want,
               "routingd_ws_disconnects_total{code=\"1002\"} grew by %d "
               "(grew by %d; 1006 by %d)"
               % (want, grew, m.get(KEY % "1006", 0) -
                  base.get(KEY % "1006", 0)))
        c = wsraw.connect(d.ws_port, rtd.token("after"))
        pong, _, how = c.sync()
        c.close()
        expect(pong and d.workers_by_title().get("routingd: ws 0") == ws_pid,
               "the same WS worker still serves a new connection (pong %s, "
               "TCP %s)" % (pong, how))
        expect(not wsraw.MASKED_FROM_SERVER, "no server frame was masked")
        rtd.check_expected()


rtd.run(test)
