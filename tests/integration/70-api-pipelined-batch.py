"""Sends pipelined on one connection share a group commit.

One API worker; 16 POST /api/send written on one connection in one go,
with a GET /healthz and an ack in the middle: every answer comes back in
request order (202s with their ids, the 200, the 204), and the 16 sends
took fewer commits than sends (each commit used to take one request of a
connection).  Every message is then fetched, in order.  A pipelined
request that cannot be parsed, behind pending sends, gets its 400 after
their 202s."""

import base64
import json
import socket
import time

import rtd


def post(path, tok, body):
    b = json.dumps(body).encode()
    return (("POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
             % (path, tok, len(b))).encode() + b)


def read_answers(sock, n, timeout=10):
    """n answers (status, headers text, body bytes) in order."""
    buf, out = b"", []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].decode()
            length = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.lower() == "content-length":
                    length = int(v)
            if len(buf) < end + 4 + length:
                break
            out.append((int(head.split()[1]), head,
                        buf[end + 4:end + 4 + length]))
            buf = buf[end + 4 + length:]
        if len(out) >= n:
            break
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        buf += data
    return out


def commits(d):
    return d.metrics().get("routingd_store_commit_duration_seconds_count",
                           0)


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice, bob = rtd.token("alice"), rtd.token("bob")
        st, doc = d.fetch(bob)			# bob's device is known
        rtd.check(st == 200, "bob fetches once")
        st, doc = d.send(alice, rtd.envelope("bob", data="YWNr"))
        rtd.check(st == 202, "one message to acknowledge later")
        first = doc["id"]

        c0 = commits(d)
        reqs = []
        for i in range(16):
            data = base64.b64encode(b"msg%03d" % i).decode()
            reqs.append(post("/api/send", alice,
                             rtd.envelope("bob", data=data)))
            if i == 7:
                reqs.append(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                reqs.append(post("/api/messages/ack", bob,
                                 {"messageIds": [first]}))
        s = socket.create_connection(("127.0.0.1", d.api_port))
        s.sendall(b"".join(reqs))
        got = read_answers(s, 18)
        s.close()
        statuses = [a[0] for a in got]
        want = [202] * 8 + [200, 204] + [202] * 8
        rtd.check(statuses == want, "the answers come back in request "
                  "order (%r)" % statuses)
        ids = [json.loads(a[2])["id"] for a in got if a[0] == 202]
        rtd.check(len(set(ids)) == 16, "16 distinct ids")
        n = commits(d) - c0
        rtd.check(0 < n < 16, "16 pipelined sends took %d commits, fewer "
                  "than one each" % n)

        st, doc = d.fetch(bob, limit=100)
        rtd.check(st == 200 and [m["id"] for m in doc["messages"]] == ids,
                  "every message is queued, in send order, and the "
                  "acknowledged one is gone")

        s = socket.create_connection(("127.0.0.1", d.api_port))
        s.sendall(post("/api/send", alice, rtd.envelope("bob")) * 3 +
                  b"\x01\x02 not a request\r\n\r\n")
        got = read_answers(s, 4)
        s.close()
        rtd.check([a[0] for a in got] == [202, 202, 202, 400],
                  "a bad request behind pending sends is answered 400 "
                  "after their 202s (%r)" % [a[0] for a in got])
        print("# 16 pipelined sends in %d commits" % n)


rtd.run(test)
