"""A WebSocket client that never reads is closed after send_timeout even
when the kernel took every byte routingd wrote to it.

With send_timeout = 1s: a client connects with a small SO_RCVBUF, reads
up to queue_empty and then never reads again.  N_MSGS messages (~2 KB
each, well under what the kernel's socket buffers hold, so routingd
itself has nothing left waiting to be written) are sent to it over the
HTTP API.  The connection must be closed within CLOSE_S of the last send
(send_timeout plus the one-second tick, with room for a loaded machine;
before, it was held until two ws_ping_intervals passed without a pong:
60 s by default), counted under
routingd_ws_disconnects_total{code="1008"} like any write stall, and
the client reading at last finds the end of the TCP connection.

A client of the same worker that reads (and one that is idle) must stay
open meanwhile: an empty kernel queue, or one that drains, is no stall.
"""

import base64
import os
import socket
import threading
import time

import rtd
import wsraw

N_MSGS = 60
BLOB = base64.b64encode(os.urandom(1500)).decode()     # 2000 characters
CLOSE_S = 5.0
KEY_1008 = 'routingd_ws_disconnects_total{code="1008"}'

expect = rtd.expect


class Reader(threading.Thread):
    """Reads every frame of c (answering pings, acking messages) until
    stop; records the message ids and how the connection ended."""

    def __init__(self, c):
        threading.Thread.__init__(self, daemon=True)
        self.c, self.ids, self.how = c, [], None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                doc = self.c.recv_json(0.2)
            except wsraw.Timeout:
                continue
            except (wsraw.Closed, wsraw.WSError, OSError) as e:
                self.how = repr(e)
                return
            if doc.get("type") == "message":
                self.ids.append(doc["id"])
                self.c.send_ack([doc["id"]])


def test():
    with rtd.api_daemon(ws_workers=1, send_timeout="1s",
                        rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        idle = wsraw.connect(d.ws_port, rtd.token("idler"))
        reader = Reader(wsraw.connect(d.ws_port, rtd.token("reader")))
        reader.start()
        base1008 = d.metrics().get(KEY_1008, 0)

        stuck = wsraw.connect(d.ws_port, rtd.token("stuck"), rcvbuf=4096)
        print("# the stuck client's SO_RCVBUF: %d" % stuck.sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF))
        ids = []
        for i in range(N_MSGS):
            st, doc = d.send(alice, rtd.envelope("stuck", data=BLOB))
            if st != 202:
                rtd.check(False, "send %d accepted (%s)" % (i, st))
            ids.append(doc["id"])
            if i % 10 == 0:     # the reader gets some too
                st, _ = d.send(alice, rtd.envelope("reader", data=BLOB))
        t_sent = time.monotonic()
        print("# %d messages (~%d KB) sent to the client that never reads"
              % (N_MSGS, N_MSGS * len(BLOB) // 1024))

        closed_at, active = None, None
        deadline = t_sent + CLOSE_S + 5.0
        while time.monotonic() < deadline:
            m = d.metrics()
            if m.get(KEY_1008, 0) > base1008:
                closed_at = time.monotonic()
                active = m.get("routingd_ws_connections")
                break
            time.sleep(0.1)
        took = None if closed_at is None else closed_at - t_sent
        expect(took is not None and took < CLOSE_S,
               "the client that never reads was closed within %.0fs of the "
               "last send with send_timeout = 1s (%s)"
               % (CLOSE_S, "never, in %.0fs" % (CLOSE_S + 5.0)
                  if took is None else "after %.1fs" % took))
        m = d.metrics()
        expect(m.get(KEY_1008, 0) - base1008 == 1,
               "it was counted under routingd_ws_disconnects_total{code="
               "\"1008\"} (+%d)" % (m.get(KEY_1008, 0) - base1008))
        expect(active == 2,
               "the two other connections stayed open (connections: %s)"
               % active)

        frames, how = stuck.collect(5.0)
        stuck.close()
        texts = [f for f in frames if f.opcode == wsraw.TEXT]
        expect(how in ("eof", "reset"),
               "reading at last, the client finds the TCP connection ended "
               "(%s after %d frames, %d of them text)"
               % (how or "still open after 5s", len(frames), len(texts)))

        # the others still work
        pong, _, how = idle.sync(timeout=5, quiet=0)
        expect(pong, "the idle connection still answers (TCP %s)" % how)
        idle.close()
        st, doc = d.send(alice, rtd.envelope("reader", data="bGFzdA=="))
        rtd.wait_for(lambda: doc["id"] in reader.ids, 5,
                     "the reading client gets a last message")
        reader.stop.set()
        reader.join(5)
        expect(reader.how is None, "the reading client was never closed "
               "(%s)" % reader.how)
        reader.c.close()

        # nothing was acknowledged: all of it is still queued
        st, doc = d.fetch(rtd.token("stuck"), limit=500)
        got = [x["id"] for x in (doc or {}).get("messages", [])]
        expect(st == 200 and sorted(got) == sorted(ids),
               "every message to it is still queued (%d of %d)"
               % (len(got), len(ids)))
        rtd.check_expected()


rtd.run(test)
