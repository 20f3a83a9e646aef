"""A 202 means the message is on disk: kill -9 of the whole daemon right
after the answer, restart on the same data_dir, and it is there; an
acknowledged message stays gone.  A graceful stop refuses a request that
arrives once draining began (503 unavailable) and loses nothing."""

import json
import os
import signal
import socket
import time

import rtd


def test():
    with rtd.api_daemon() as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        st, doc = d.send(a, rtd.envelope("bob", data="b2xk"))
        acked = doc["id"]
        st, doc = d.fetch(b)
        rtd.check(d.ack(b, [acked]) == 204, "first message acknowledged")
        st, doc = d.send(a, rtd.envelope("bob", data="ZHVyYWJsZQ"))
        rtd.check(st == 202, "send answered 202")
        kept = doc["id"]
        os.killpg(d.pid, signal.SIGKILL)
        d.proc.wait()
        d.stderr.close()
        d.start()
        st, doc = d.fetch(b)
        ids = [m["id"] for m in doc["messages"]]
        rtd.check(st == 200 and ids == [kept],
                  "after kill -9 and restart: the 202'd message is there, "
                  "the acknowledged one is not (got %s)" % ids)
        rtd.check(doc["messages"][0]["envelope"]["encryptedData"] ==
                  "ZHVyYWJsZQ", "with its envelope")

        # A request whose body completes after SIGTERM: 503 unavailable.
        body = json.dumps(rtd.envelope("bob", data="bGF0ZQ")).encode()
        s = socket.create_connection(("127.0.0.1", d.api_port), timeout=5)
        s.sendall(b"POST /api/send HTTP/1.1\r\nHost: a\r\n"
                  b"Authorization: Bearer " + a.encode() + b"\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
        time.sleep(0.3)
        d.signal(signal.SIGTERM)
        time.sleep(0.5)
        s.sendall(body[5:])
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
        s.close()
        rtd.check(resp.startswith(b"HTTP/1.1 503 ") and
                  b'"unavailable"' in resp,
                  "a request completed while draining is 503 unavailable")
        rtd.check(d.wait_exit(10) == 0, "the daemon drains and exits 0")
        d.stderr.close()
        d.start()
        st, doc = d.fetch(b)
        rtd.check([m["id"] for m in doc["messages"]] == [kept],
                  "after the graceful stop: the same queue")


rtd.run(test)
