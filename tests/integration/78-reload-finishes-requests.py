"""A reload replaces the API workers; a request already under way on an
old worker's connection is served there, not refused: its body completes
after the reload and it is answered 202 with Connection: close, and the
message is stored.  (A stop refuses such a request with 503: test 26.)"""

import json
import socket
import time

import rtd


def test():
    with rtd.api_daemon() as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        rtd.check(d.fetch(b)[0] == 200, "bob's device is known")
        old = set(d.workers())
        body = json.dumps(rtd.envelope("bob", data="cmVsb2Fk")).encode()
        s = socket.create_connection(("127.0.0.1", d.api_port), timeout=5)
        s.sendall(b"POST /api/send HTTP/1.1\r\nHost: a\r\n"
                  b"Authorization: Bearer " + a.encode() + b"\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
        time.sleep(0.3)
        rc, out, err = d.ctl("reload")
        rtd.check(rc == 0, "reload (%r)" % (out + err))
        rtd.wait_for(lambda: set(d.workers()) - old, 10,
                     "a new API worker")
        time.sleep(0.3)
        s.sendall(body[5:])
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        s.close()
        rtd.check(resp.startswith(b"HTTP/1.1 202 "),
                  "the old worker served the request (%r)" % resp[:200])
        rtd.check(b"connection: close" in resp.lower(),
                  "and closed the connection after it")
        st, doc = d.fetch(b)
        rtd.check(st == 200 and any(m["envelope"]["encryptedData"] ==
                                    "cmVsb2Fk" for m in doc["messages"]),
                  "the message is stored")


rtd.run(test)
