"""Bytes that cannot start an HTTP request (binary data, a TLS
ClientHello sent to a plain port), with no line end, are answered 400
"bad_request" at once on the API and the WebSocket port, counted, and
the connection is closed: not a 408 after client_header_timeout.  A
valid request sent one byte at a time still works."""

import json
import socket
import time

import rtd

# The start of a real TLS 1.2/1.3 ClientHello: record type 22, version
# 3.1, length, handshake type 1, length, client version 3.3, random.
TLS_HELLO = (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
             bytes(range(32)) + b"\x20" + bytes(range(32, 64)))

GARBAGE = [
    (b"\x00\x01\x02\xff\xfe", "binary bytes"),
    (TLS_HELLO, "a TLS ClientHello"),
    (b"\x16\x03\x01", "the first three bytes of a TLS record"),
    (b"\r\n\r\n\x16\x03\x01\x02\x00", "TLS after leading empty lines"),
    (b"GE\x00T / HTTP/1.1", "a NUL inside the method"),
    (b" GET / HTTP/1.1", "a space first"),
    (b"{\"op\":\"hello\"}", "JSON with no request line"),
]


def exchange(port, data, timeout=3.0):
    """Send data, read until the server closes: (reply, seconds, closed)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks, closed = [], False
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    closed = True
                    break
                chunks.append(b)
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
    return b"".join(chunks), time.monotonic() - t0, closed


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") \
        else None


def slow_request(port, data, pause=0.01):
    """Send data one byte at a time; the whole reply up to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(pause)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks)


def test():
    with rtd.Daemon(api_workers=1, ws_workers=1,
                    client_header_timeout="5s") as d:
        for role, port in (("api", d.api_port), ("ws", d.ws_port)):
            before = d.metrics().get(
                'routingd_http_bad_requests_total{role="%s"}' % role, 0)
            for raw, what in GARBAGE:
                r, secs, closed = exchange(port, raw)
                rtd.check(status_of(r) == 400,
                          "%s port, %s -> 400 (got %r)" % (role, what, r[:40]))
                rtd.check(secs < 1.0, "%s port, %s: answered in %.2fs, "
                          "not after the head timeout" % (role, what, secs))
                rtd.check(closed, "%s port, %s: connection closed" %
                          (role, what))
                rtd.check(b"\r\nConnection: close\r\n" in r,
                          "%s port, %s: Connection: close" % (role, what))
                doc = json.loads(r.split(b"\r\n\r\n", 1)[1])
                rtd.check(doc["error"] == "bad_request",
                          "%s port, %s: error bad_request" % (role, what))
                rtd.check(doc["message"] == "not an HTTP request",
                          "%s port, %s: message (got %r)" %
                          (role, what, doc["message"]))
            after = d.metrics().get(
                'routingd_http_bad_requests_total{role="%s"}' % role, 0)
            rtd.check(after - before == len(GARBAGE),
                      "%s port: each refusal counted once (%d -> %d)" %
                      (role, before, after))

            # A valid request, slowly: every prefix is a possible request.
            req = (b"\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n"
                   b"Connection: close\r\n\r\n")
            fast = rtd.http_raw(port, req)
            slow = slow_request(port, req)
            rtd.check(status_of(fast) not in (None, 400, 408),
                      "%s port: the request is valid (got %r)" %
                      (role, fast[:40]))
            rtd.check(status_of(slow) == status_of(fast),
                      "%s port: byte by byte it is still %s (got %r)" %
                      (role, status_of(fast), slow[:40]))

        # A valid method prefix waits: no answer until the head timeout.
        with socket.create_connection(("127.0.0.1", d.api_port),
                                      timeout=1.5) as s:
            s.sendall(b"GE")
            try:
                early = s.recv(100)
            except socket.timeout:
                early = None
            rtd.check(early is None, "\"GE\" waits for more bytes (got %r)"
                      % early)
            s.sendall(b"T /healthz HTTP/1.1\r\nHost: a\r\n"
                      b"Connection: close\r\n\r\n")
            r = s.recv(65536)
            rtd.check(status_of(r) == 200, "\"GE\" + the rest is 200")

        st, _, _ = d.get("/healthz")
        rtd.check(st == 200, "the API worker is healthy afterwards")
        rtd.check(len(d.workers()) == 2, "no worker died")
        rtd.check("lost child" not in d.log(), "no crash in the log")


rtd.run(test)
