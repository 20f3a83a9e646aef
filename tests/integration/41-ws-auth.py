"""WebSocket upgrade admission: the token in Authorization, in
Sec-WebSocket-Protocol (echoed back in the 101) or in ?token=; 401 before
any upgrade for a missing, forged or expired token; 426 for another
protocol version; 400 for a bad handshake; 403 for an Origin outside
cors_origins; 404 elsewhere; refusals are counted."""

import asyncio
import base64
import os
import socket

import rtd
import wsclient as wc


def raw_upgrade(d, extra="", key=None, version="13", path="/connect"):
    key = key or base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: %s\r\n%s\r\n" % (path, key, version, extra))
    s = socket.create_connection(("127.0.0.1", d.ws_port), timeout=5)
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    return int(head.split(" ")[1]), head


async def run(d):
    b = rtd.token("bob")
    d.send(rtd.token("alice"), rtd.envelope("bob"))
    async with wc.connect(d, b) as ws:
        rtd.check((await wc.recv(ws))["type"] == "message",
                  "token in Authorization: connected")
    async with wc.connect(d, None, protocols=["routingd.v1", b]) as ws:
        rtd.check(ws.subprotocol == b, "token in Sec-WebSocket-Protocol: "
                  "connected, the token echoed as the subprotocol")
    async with wc.connect(d, b, protocols=["routingd.v1"]) as ws:
        rtd.check(ws.subprotocol == "routingd.v1",
                  "routingd.v1 echoed when offered with a header token")
    async with wc.connect(d, None, query="?token=" + b) as ws:
        rtd.check((await wc.recv(ws))["type"] == "message",
                  "token in the query: connected")
    forged = b[:-4] + ("AAAA" if not b.endswith("AAAA") else "BBBB")
    expired = rtd.token("bob", ttl=-120)
    other = rtd.token("bob", secret="not-the-secret-" * 3)
    for what, kw in (("no token", {}),
                     ("a forged signature", {"tok": forged}),
                     ("an expired token", {"tok": expired}),
                     ("another key", {"tok": other}),
                     ("a forged protocol token",
                      {"protocols": ["routingd.v1", forged]}),
                     ("a bad query token", {"query": "?token=abc"})):
        st = await wc.refused(d, **kw)
        rtd.check(st == 401, "%s: 401 before any upgrade (got %s)" %
                  (what, st))
    st, head = raw_upgrade(d, version="8",
                           extra="Authorization: Bearer %s\r\n" % b)
    rtd.check(st == 426 and "Sec-WebSocket-Version: 13" in head,
              "version 8: 426 naming version 13")
    st, _ = raw_upgrade(d, key="c2hvcnQ=",
                        extra="Authorization: Bearer %s\r\n" % b)
    rtd.check(st == 400, "a key that is not 16 bytes: 400")
    st, _ = raw_upgrade(d, path="/elsewhere",
                        extra="Authorization: Bearer %s\r\n" % b)
    rtd.check(st == 404, "another path: 404")
    st, _ = raw_upgrade(d, extra="Authorization: Bearer %s\r\n"
                        "Origin: https://evil.example\r\n" % b)
    rtd.check(st == 403, "an Origin outside cors_origins: 403")
    st, _ = raw_upgrade(d, extra="Authorization: Bearer %s\r\n"
                        "Origin: https://app.example\r\n" % b)
    rtd.check(st == 101, "an Origin in cors_origins: 101")
    m = d.metrics()
    rtd.check(m.get("routingd_ws_rejects_total", 0) == 9,
              "the 9 refused upgrades counted (%s)" %
              m.get("routingd_ws_rejects_total"))
    rtd.check(len(d.workers()) == 2, "no worker died")


def test():
    with rtd.api_daemon(cors_origins="https://app.example") as d:
        asyncio.run(run(d))


rtd.run(test)
