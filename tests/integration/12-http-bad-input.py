"""Bad HTTP input gets a clear error (status + JSON body), is counted,
and never hurts the worker: keep-alive and pipelining still work."""

import json
import socket

import rtd


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") \
        else None


def json_body(resp):
    return json.loads(resp.split(b"\r\n\r\n", 1)[1])


def test():
    with rtd.Daemon(api_workers=1, ws_workers=1) as d:
        # Pipelining: three requests in one write, answered in order.
        s = socket.create_connection(("127.0.0.1", d.api_port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
        data = b""
        while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b"READY\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        codes = [int(p.split(b" ", 1)[0]) for p in
                 data.split(b"HTTP/1.1 ")[1:]]
        rtd.check(codes == [200, 404, 200],
                  "pipelined answers in order (got %s)" % codes)
        s.close()

        r = rtd.http_raw(d.api_port, b"DELETE /healthz HTTP/1.1\r\n"
                         b"Host: a\r\nConnection: close\r\n\r\n")
        rtd.check(status_of(r) == 405 and b"Allow: GET, HEAD" in r,
                  "405 with Allow")
        rtd.check(json_body(r)["error"] == "method_not_allowed",
                  "405 JSON body")

        bad = [
            (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "no Host"),
            (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
             "two Hosts"),
            (b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n", 400, "CL + TE"),
            (b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
             b"Content-Length: 3\r\n\r\nabc", 400, "two Content-Lengths"),
            (b"GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n", 400,
             "space before colon"),
            (b"GET /healthz HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
            (b"GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 505,
             "HTTP/2.0 on HTTP/1 framing"),
            (b"GET http://x/healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400,
             "absolute-form target"),
            (b"GET /healthz HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 20000 +
             b"\r\n\r\n", 431, "a 20 KiB header"),
            (b"POST /healthz HTTP/1.1\r\nHost: a\r\n"
             b"Content-Length: 99999999\r\n\r\n", 413, "a body over the limit"),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40 +
             b"\r\n\r\n", 400, "a TLS hello"),
        ]
        for raw, want, what in bad:
            r = rtd.http_raw(d.api_port, raw)
            rtd.check(status_of(r) == want, "%s -> %d (got %r)" %
                      (what, want, r[:40]))
            rtd.check(b"Connection: close" in r and
                      "error" in json_body(r),
                      "%s: JSON error and close" % what)
        m = d.metrics()
        rtd.check(m['routingd_http_bad_requests_total{role="api"}'] >=
                  len(bad), "bad requests are counted")
        st, _, _ = d.get("/healthz")
        rtd.check(st == 200, "the worker is healthy afterwards")
        rtd.check(len(d.workers()) == 2, "no worker died")
        rtd.check("lost child" not in d.log(), "no crash in the log")


rtd.run(test)
