"""Close codes: 4409 to the older connection when a device opens more
than max_connections_per_device; 4401 when the token's exp passes; 1008
for a client that answers no ping for two ws_ping_interval; 1001 on
shutdown; each counted by code in /metrics."""

import asyncio
import base64
import os
import socket
import struct
import time

import websockets

import rtd
import wsclient as wc


async def closed_with(ws, timeout=5.0):
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
    except asyncio.TimeoutError:
        return None
    return ws.close_code


async def run(d):
    b = rtd.token("bob")
    old = await wc.connect(d, b)
    await wc.until_empty(old)
    async with wc.connect(d, b) as new:
        await wc.until_empty(new)
        code = await closed_with(old)
        rtd.check(code == 4409, "the older connection closed with 4409 "
                  "(got %s)" % code)
        st, doc = d.send(rtd.token("alice"), rtd.envelope("bob"))
        m = await wc.recv(new)
        rtd.check(m is not None and m["id"] == doc["id"],
                  "the newer one keeps receiving")
    short = rtd.token("bob", device="tablet", ttl=2)
    t0 = time.monotonic()
    async with wc.connect(d, short) as ws:
        code = await closed_with(ws, 8)
        rtd.check(code == 4401, "closed with 4401 when the token expired "
                  "(got %s after %.1f s)" % (code, time.monotonic() - t0))
    m = d.metrics()
    rtd.check(m.get('routingd_ws_disconnects_total{code="4409"}') == 1,
              "4409 counted")
    rtd.check(m.get('routingd_ws_disconnects_total{code="4401"}') == 1,
              "4401 counted")


def silent_client(d, tok, secs):
    """A raw client that upgrades, then reads and never answers: the
    frames it got (opcode, payload) until the server closed."""
    s = socket.create_connection(("127.0.0.1", d.ws_port), timeout=secs)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n"
               "\r\n" % (key, tok)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    buf = buf.split(b"\r\n\r\n", 1)[1]
    frames = []
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        while len(buf) >= 2:
            n = buf[1] & 0x7f
            off = 2 if n < 126 else 4
            if n == 126 and len(buf) >= 4:
                n = struct.unpack("!H", buf[2:4])[0]
            if len(buf) < off + n:
                break
            frames.append((buf[0] & 0x0f, buf[off:off + n]))
            buf = buf[off + n:]
        if frames and frames[-1][0] == 8:
            break
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    s.close()
    return frames


async def shutdown(d):
    ws = await wc.connect(d, rtd.token("dave"))
    await wc.until_empty(ws)
    d.signal(15)
    code = await closed_with(ws)
    rtd.check(code == 1001, "SIGTERM: closed with 1001 (got %s)" % code)


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        asyncio.run(run(d))
    with rtd.api_daemon(ws_ping_interval="1s") as d:
        t0 = time.monotonic()
        frames = silent_client(d, rtd.token("quiet"), 8)
        took = time.monotonic() - t0
        ops = [op for op, _ in frames]
        rtd.check(9 in ops, "the server pinged (opcodes %s)" % ops)
        close = [p for op, p in frames if op == 8]
        code = struct.unpack("!H", close[0][:2])[0] if close else None
        rtd.check(code == 1008 and 1.5 < took < 5,
                  "no pong for two intervals: closed with 1008 after "
                  "%.1f s (got %s)" % (took, code))
    with rtd.api_daemon() as d:
        asyncio.run(shutdown(d))
        rtd.check(d.wait_exit(10) is not None, "the daemon exited")


rtd.run(test)
