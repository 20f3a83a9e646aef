"""Helpers for the WebSocket integration tests (Debian's python3-websockets,
a strict client: it rejects masked server frames, bad UTF-8 and invalid
close codes)."""

import asyncio
import json

import websockets


def uri(d, query=""):
    """ws://, or wss:// for a daemon with an ssl_context (TLS keys)."""
    scheme = "wss" if getattr(d, "ssl_context", None) else "ws"
    return "%s://127.0.0.1:%d/connect%s" % (scheme, d.ws_port, query)


def connect(d, tok=None, query="", protocols=None, headers=None, ssl=None):
    """Open a WebSocket to d; tok goes in Authorization unless None.
    Over TLS with ssl (an SSLContext), else d's ssl_context if it has
    one."""
    hdrs = dict(headers or {})
    if tok is not None:
        hdrs["Authorization"] = "Bearer " + tok
    ctx = ssl or getattr(d, "ssl_context", None)
    kw = {"ssl": ctx} if ctx is not None else {}
    return websockets.connect(uri(d, query), extra_headers=hdrs,
                              subprotocols=protocols, open_timeout=5,
                              max_size=4 * 1024 * 1024, **kw)


async def recv(ws, timeout=3.0):
    """The next frame as JSON, or None on timeout."""
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except asyncio.TimeoutError:
        return None


async def until_empty(ws, timeout=5.0):
    """Messages up to queue_empty (the backlog), in order."""
    out = []
    while True:
        m = await recv(ws, timeout)
        if m is None:
            raise AssertionError("no queue_empty within %.1f s" % timeout)
        if m.get("type") == "queue_empty":
            return out
        out.append(m)


async def ack(ws, ids):
    await ws.send(json.dumps({"type": "ack", "messageIds": list(ids)}))


def status_of(exc):
    """The HTTP status of a refused handshake, else None."""
    return getattr(exc, "status_code", None)


async def refused(d, **kw):
    """Try to connect; the HTTP status of the refusal, or 101."""
    try:
        async with connect(d, **kw):
            return 101
    except websockets.exceptions.InvalidStatusCode as e:
        return status_of(e)
