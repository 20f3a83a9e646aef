"""wsraw.py: a raw RFC 6455 client for routingd's WebSocket tests.

No WebSocket library: a plain TCP socket, a hand-written opening
handshake (random 16-byte key, the 101 and Sec-WebSocket-Accept checked)
and a frame builder that can say anything, right or wrong: any FIN, RSV
bits, opcode, masked or not, any length encoding (7-bit, 16-bit, 64-bit,
minimal or not) and an announced length that differs from the payload.

    ws = wsraw.connect(d.ws_port, rtd.token("bob"))
    ws.send_text('{"type":"ack","messageIds":[]}')
    f = ws.recv_frame(timeout=2)        # a Frame, or raises Closed/Timeout
    end = ws.read_to_end()              # frames until TCP close, and how
"""

import base64
import hashlib
import json
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

OPNAMES = {CONT: "cont", TEXT: "text", BINARY: "binary", CLOSE: "close",
           PING: "ping", PONG: "pong"}

# Every server frame seen by any client of this process that was masked
# (servers must never mask): tests check this list stays empty.
MASKED_FROM_SERVER = []


class WSError(Exception):
    """The handshake or the server's framing was wrong."""


class Closed(Exception):
    """The TCP connection ended: how is "eof" or "reset"."""

    def __init__(self, how):
        Exception.__init__(self, how)
        self.how = how


class Timeout(Exception):
    pass


class Frame:
    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode = fin, rsv, opcode
        self.masked, self.payload = masked, payload

    @property
    def close_code(self):
        """The status code of a close frame, or None (empty payload)."""
        if len(self.payload) >= 2:
            return struct.unpack("!H", self.payload[:2])[0]
        return None

    @property
    def close_reason(self):
        return self.payload[2:]

    def json(self):
        """A text frame as JSON, or None."""
        if self.opcode != TEXT:
            return None
        try:
            return json.loads(self.payload.decode("utf-8"))
        except ValueError:
            return None

    def __repr__(self):
        p = self.payload
        if self.opcode == CLOSE:
            body = "code=%s reason=%r" % (self.close_code, self.close_reason)
        else:
            body = repr(p[:80]) + ("...(%d bytes)" % len(p)
                                   if len(p) > 80 else "")
        return "<%s fin=%d rsv=%d%s %s>" % (
            OPNAMES.get(self.opcode, "op%x" % self.opcode), self.fin,
            self.rsv, " MASKED" if self.masked else "", body)


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True,
                key=None, length=None, lenform=None):
    """The bytes of one frame.

    opcode 0..15, rsv 0..7 (RSV1 = 4, RSV2 = 2, RSV3 = 1), mask: apply a
    masking key (key, 4 bytes, random by default).  length: the payload
    length announced in the header (default: len(payload)).  lenform:
    7, 16 or 64 forces that length encoding (default: the minimal one).
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    if lenform is None:
        lenform = 7 if n < 126 else 16 if n < 65536 else 64
    if lenform == 7:
        if n > 125:
            raise ValueError("7-bit length %d" % n)
        head = struct.pack("!BB", b0, mbit | n)
    elif lenform == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4) if key is None else key
    return head + key + xor_mask(payload, key)


def xor_mask(data, key):
    if not data:
        return b""
    k = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^
            int.from_bytes(k, "big")).to_bytes(len(data), "big")


def close_payload(code=None, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    if code is None:
        return reason
    return struct.pack("!H", code) + reason


class Conn:
    """One client connection (after a successful handshake)."""

    def __init__(self, sock, rest, response):
        self.sock = sock
        self.buf = bytearray(rest)
        self.response = response    # (status, {lower-name: value}, head)
        self.eof = None             # "eof"/"reset" once TCP ended

    # -- sending ---------------------------------------------------------

    def send_raw(self, data, chunk=None, pause=0.0):
        """Write bytes (in chunks of chunk bytes if given).  True if all
        were written, False if the peer had closed or reset."""
        try:
            if chunk is None:
                self.sock.sendall(data)
            else:
                for i in range(0, len(data), chunk):
                    self.sock.sendall(data[i:i + chunk])
                    if pause:
                        time.sleep(pause)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False
        except socket.timeout:
            return False

    def send_frame(self, opcode, payload=b"", chunk=None, **kw):
        return self.send_raw(build_frame(opcode, payload, **kw), chunk)

    def send_text(self, text, **kw):
        return self.send_frame(TEXT, text, **kw)

    def send_binary(self, data, **kw):
        return self.send_frame(BINARY, data, **kw)

    def send_close(self, code=None, reason=b"", **kw):
        return self.send_frame(CLOSE, close_payload(code, reason), **kw)

    def send_ack(self, ids=(), **kw):
        return self.send_text(json.dumps({"type": "ack",
                                          "messageIds": list(ids)}), **kw)

    # -- receiving -------------------------------------------------------

    def _fill(self, deadline):
        """Read more bytes into buf; raise Closed or Timeout."""
        if self.eof is not None:
            raise Closed(self.eof)
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(262144)
        except socket.timeout:
            raise Timeout()
        except ConnectionResetError:
            self.eof = "reset"
            raise Closed("reset")
        if not b:
            self.eof = "eof"
            raise Closed("eof")
        self.buf += b

    def _parse(self):
        """One complete frame from buf, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        fin, rsv, op = b[0] >> 7, (b[0] >> 4) & 7, b[0] & 0xF
        masked, n, off = b[1] >> 7, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack("!Q", b[2:10])[0], 10
        key = None
        if masked:
            if len(b) < off + 4:
                return None
            key, off = bytes(b[off:off + 4]), off + 4
        if len(b) < off + n:
            return None
        payload = bytes(b[off:off + n])
        if masked:
            payload = xor_mask(payload, key)
        del self.buf[:off + n]
        f = Frame(fin, rsv, op, masked, payload)
        if masked:
            MASKED_FROM_SERVER.append(f)
        return f

    def recv_frame(self, timeout=3.0):
        """The next server frame; raises Closed (TCP ended before a whole
        frame) or Timeout."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            self._fill(deadline)

    def recv_data(self, timeout=3.0):
        """The next frame that is not a ping or pong: pings are answered
        with a pong (as a real client must, or the server's ping timeout
        closes it), pongs are skipped.  Use recv_frame to see them."""
        while True:
            f = self.recv_frame(timeout)
            if f.opcode == PING:
                self.send_frame(PONG, f.payload)
            elif f.opcode != PONG:
                return f

    def recv_json(self, timeout=3.0):
        f = self.recv_data(timeout)
        doc = f.json()
        if doc is None:
            raise WSError("expected a JSON text frame, got %r" % (f,))
        return doc

    def collect(self, timeout):
        """Every frame that arrives within timeout seconds (stops early at
        TCP close).  Returns (frames, ended) with ended None, "eof" or
        "reset"."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                frames.append(self.recv_frame(max(deadline -
                                                  time.monotonic(), 0.001)))
            except Timeout:
                return frames, None
            except Closed as e:
                return frames, e.how

    def read_to_end(self, timeout=5.0):
        """Frames until the TCP connection ends.  Returns (frames, how):
        how is "eof", "reset" or "timeout" (still open after timeout)."""
        frames, how = self.collect(timeout)
        return frames, how or "timeout"

    def sync(self, timeout=3.0, quiet=0.3):
        """Ping with a random payload and wait for its pong, then read on
        for quiet seconds.  Returns (pong seen, every other frame that
        arrived meanwhile, how TCP ended or None)."""
        tag = os.urandom(8).hex().encode()
        if not self.send_frame(PING, tag):
            return False, [], "send failed"
        others, seen = [], False
        deadline = time.monotonic() + timeout
        try:
            while not seen:
                f = self.recv_frame(max(deadline - time.monotonic(), 0.001))
                if f.opcode == PONG and f.payload == tag:
                    seen = True
                else:
                    others.append(f)
        except Timeout:
            return False, others, None
        except Closed as e:
            return False, others, e.how
        more, how = self.collect(quiet)
        return True, others + more, how

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def handshake_request(host, port, path, key, headers):
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port),
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(port, tok=None, path="/connect", host="127.0.0.1", headers=(),
            rcvbuf=None, timeout=5.0, wait_empty=True):
    """Open a WebSocket: TCP connect (SO_RCVBUF set first if rcvbuf), the
    opening handshake with a fresh random key, and the 101 checked (with
    its Sec-WebSocket-Accept).  With wait_empty (push mode, no queued
    messages) also read up to the {"type":"queue_empty"} frame.
    Raises WSError on a bad answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    hdrs = list(headers)
    if tok is not None:
        hdrs.append(("Authorization", "Bearer " + tok))
    s.sendall(handshake_request(host, port, path, key, hdrs))
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        if time.monotonic() > deadline:
            s.close()
            raise WSError("no complete 101 head within %.1fs: %r"
                          % (timeout, data))
        b = s.recv(4096)
        if not b:
            s.close()
            raise WSError("connection closed during the handshake: %r"
                          % data)
        data += b
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    hv = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hv[k.strip().lower()] = v.strip()
    if status != 101:
        s.close()
        raise WSError("expected 101, got %r" % head)
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
    if hv.get("sec-websocket-accept", "").encode() != want:
        s.close()
        raise WSError("bad Sec-WebSocket-Accept %r (want %r)"
                      % (hv.get("sec-websocket-accept"), want))
    if hv.get("upgrade", "").lower() != "websocket" or \
            "upgrade" not in hv.get("connection", "").lower():
        s.close()
        raise WSError("101 without Upgrade/Connection: %r" % head)
    c = Conn(s, rest, (status, hv, head))
    if wait_empty:
        while True:
            doc = c.recv_json(timeout)
            if doc.get("type") == "queue_empty":
                break
    return c
