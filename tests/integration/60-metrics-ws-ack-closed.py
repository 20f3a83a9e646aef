"""Every committed WebSocket ack is counted once in
routingd_ws_acks_total, even when its connection closed before the
commit: a client that sends an ack and hangs up at once still deleted its
messages, and the counter says so."""

import socket
import struct
import time

import rtd
import wsraw

KEY = "routingd_ws_acks_total"


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice, bob = rtd.token("alice"), rtd.token("bob")
        ids = []
        for i in range(3):
            st, doc = d.send(alice, rtd.envelope("bob"))
            rtd.check(st == 202, "message %d to bob is accepted (%s)"
                      % (i, st))
            ids.append(doc["id"])
        before = d.metrics().get(KEY, 0)

        # One ack while the connection stays: counted.
        c = wsraw.connect(d.ws_port, bob, wait_empty=False)
        got = [c.recv_json(5) for _ in ids]
        rtd.check([m.get("id") for m in got] == ids,
                  "bob's connection gets the three messages (%s)" % got)
        c.send_ack([ids[0]])
        pong, others, how = c.sync()
        rtd.check(pong and how is None, "the ack is not answered")
        rtd.wait_for(lambda: d.metrics().get(KEY, 0) == before + 1, 5,
                     "an ack on a live connection counts 1")

        # An ack and a hang-up in one go (RST: no close handshake): the
        # ack commits after the connection is gone, and still counts.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.send_ack(ids[1:])
        c.close()
        rtd.wait_for(lambda: d.fetch(bob)[1]["messages"] == [], 5,
                     "the ack sent just before the hang-up deleted both "
                     "messages")
        time.sleep(0.2)
        rtd.check(d.metrics().get(KEY, 0) == before + 3,
                  "%s counts the two copies acked by a connection that "
                  "closed before the commit (got %s, want %s)"
                  % (KEY, d.metrics().get(KEY, 0), before + 3))


rtd.run(test)
