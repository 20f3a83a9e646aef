"""Bad sends are refused with the right JSON error and change nothing:
invalid_json, invalid_envelope (each field rule), sender_mismatch (403);
a body just under max_envelope_bytes is accepted, just over is 413;
request-smuggling heads are 400 and the worker stays healthy."""

import json
import socket

import rtd

MAX = 4096


def test():
    with rtd.api_daemon(max_envelope_bytes="4k") as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        for body in ["{", "", "[1,]", '{"a":1}{}', '{"a":1,"a":2}',
                     "\xff"]:
            st, _, doc = d.api("POST", "/api/send", a, body)
            rtd.check(st == 400 and doc["error"] == "invalid_json",
                      "body %r is 400 invalid_json" % body)
        env = rtd.envelope
        bad = [
            [], 5, "x", [5], {},
            {"encryptedData": "aGk="},
            env("bob", data=""), env("bob", data=5),
            env("bob", data="a===="), env("bob", data="aGk=x"),
            env("bob", data="a-b+"), env("bob", data="aG k="),
            env("bob", data="aGl"), env("bob", data="aGj"),
            env("bob", encryptedSymmetricKey="!"), env("bob", signature=1),
            env("bob", priority=10), env("bob", priority=-1),
            env("bob", priority=1.5), env("bob", priority="1"),
            env("bob", isEphemeral="yes"), env("bob", isEphemeral=0),
            env("bob bob"), env(""), env("x" * 129), env(7),
            env("bob", senderId=5),
        ]
        for e in bad:
            st, doc = d.send(a, json.dumps(e))
            rtd.check(st == 400 and doc["error"] == "invalid_envelope",
                      "%.60s is 400 invalid_envelope" % json.dumps(e))
        st, doc = d.send(a, env("bob", senderId="mallory"))
        rtd.check(st == 403 and doc["error"] == "sender_mismatch",
                  "a spoofed senderId is 403 sender_mismatch")
        st, doc = d.send(a, [env("bob"), env("bob", senderId="mallory")])
        rtd.check(st == 403, "a spoofed senderId in an array is 403")
        st, doc = d.send(a, env("bob", senderId="alice", data="aGk"))
        rtd.check(st == 202, "the caller's own senderId is accepted")
        st, doc = d.fetch(b)
        rtd.check(len(doc["messages"]) == 1 and
                  doc["messages"][0]["envelope"]["senderId"] == "alice",
                  "only the good send was stored, senderId kept")

        # The whole body: just under and just over the limit.
        e = env("bob", data="AAAA" * 900, pad="")
        e["pad"] = "x" * (MAX - len(json.dumps(e)))
        body = json.dumps(e)
        rtd.check(len(body) == MAX, "a body of exactly the limit")
        st, doc = d.send(a, body)
        rtd.check(st == 202, "a body of max_envelope_bytes is accepted")
        e["pad"] += "x"
        st, _, doc = d.api("POST", "/api/send", a, json.dumps(e))
        rtd.check(st == 413 and doc["error"] == "too_large",
                  "a body over max_envelope_bytes is 413")

        for head in [
            b"POST /api/send HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /api/send HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n"
            b"\r\nhello",
            b"POST /api/send HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            b"Content-Length: 6\r\n\r\nhello!",
            b"POST /api/send HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            b"POST /api/send HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
            b"gzip, chunked\r\n\r\n0\r\n\r\n",
        ]:
            r = rtd.http_raw(d.api_port, head)
            rtd.check(r.startswith(b"HTTP/1.1 400 "),
                      "smuggling head %.50r is 400" % head)
        st, _ = d.fetch(b)
        rtd.check(st == 200, "the worker still answers")
        rtd.check(len(d.workers()) == 2, "no worker died")


rtd.run(test)
