"""A WebSocket ack follows the same rules as POST /api/messages/ack: a
messageIds that is missing or not an array of at most 1000 ids, or that
holds anything but strings, refuses the whole ack with an error frame
{"type":"error","error":"invalid_request"} (the HTTP path answers 400
invalid_request with the same message) and deletes nothing; ids too long
to be ours are skipped; a good ack gets no answer.  A refused ack is a bad
frame: after 10 error frames the next bad ack closes with 1008, counted
in /metrics."""

import json
import time

import rtd
import wsraw
from wsraw import CLOSE

SHAPE = "messageIds must be an array of at most 1000 ids"
STRINGS = "messageIds must hold strings"

BAD = [
    ({"messageIds": [1]}, STRINGS),
    ({"messageIds": ["n1", None]}, STRINGS),
    ({"messageIds": [["n1"]]}, STRINGS),
    ({"messageIds": "n1"}, SHAPE),
    ({"messageIds": {"id": "n1"}}, SHAPE),
    ({}, SHAPE),
    ({"ids": ["n1"]}, SHAPE),
    ({"messageIds": ["n1"] * 1001}, SHAPE),
]


def ack_frame(body):
    doc = {"type": "ack"}
    doc.update(body)
    return json.dumps(doc)


def is_refusal(f, msg):
    doc = f.json() if isinstance(f, wsraw.Frame) else None
    return (doc is not None and doc.get("type") == "error" and
            doc.get("error") == "invalid_request" and
            doc.get("message") == msg)


def fetch_ids(d, tok):
    st, doc = d.fetch(tok)
    rtd.check(st == 200, "GET /api/messages answers 200 (%s)" % st)
    return [m["id"] for m in doc["messages"]]


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice, bob = rtd.token("alice"), rtd.token("bob")
        st, doc = d.send(alice, rtd.envelope("bob"))
        rtd.check(st == 202, "a message to bob is accepted (%s)" % st)
        mid = doc["id"]
        c = wsraw.connect(d.ws_port, bob, wait_empty=False)
        got = c.recv_json(5)
        rtd.check(got.get("type") == "message" and got.get("id") == mid,
                  "bob's connection gets the message (%s)" % got)
        rtd.check(c.recv_json(5).get("type") == "queue_empty",
                  "then queue_empty")

        # Each bad ack: one error frame, nothing deleted; and the same
        # body over HTTP is 400 invalid_request with the same message.
        for body, msg in BAD:
            c.send_text(ack_frame(body))
            try:
                f = c.recv_data(3)
            except (wsraw.Timeout, wsraw.Closed) as e:
                f = e
            rtd.check(is_refusal(f, msg), "ack %.50s gets an invalid_request "
                      "error frame %r (got %r)" % (body, msg, f))
            st, _, hdoc = d.api("POST", "/api/messages/ack", bob, body)
            rtd.check(st == 400 and hdoc.get("error") == "invalid_request"
                      and hdoc.get("message") == msg,
                      "the same body over HTTP: 400 invalid_request %r "
                      "(got %s %s)" % (msg, st, hdoc))
        # A good id next to a non-string: the whole ack is refused.
        c.send_text(ack_frame({"messageIds": [mid, 7]}))
        rtd.check(is_refusal(c.recv_data(3), STRINGS),
                  "an ack of a real id and a number is refused")
        time.sleep(0.3)
        rtd.check(fetch_ids(d, bob) == [mid],
                  "no refused ack deleted the message")

        # A good ack (with an id too long to be ours) has no answer and
        # deletes the message.
        c.send_text(ack_frame({"messageIds": ["x" * 40, mid]}))
        pong, others, how = c.sync()
        rtd.check(pong and not others and how is None,
                  "a good ack is not answered, the connection stays (pong "
                  "%s, frames %s, TCP %s)" % (pong, others, how))
        time.sleep(0.3)
        rtd.check(fetch_ids(d, bob) == [], "the good ack deleted it")

        # 9 refusals so far on this connection: the 10th is answered, the
        # 11th closes with 1008.
        c.send_text(ack_frame({"messageIds": "tenth"}))
        rtd.check(is_refusal(c.recv_data(3), SHAPE),
                  "the 10th bad ack is still answered")
        c.send_text(ack_frame({"messageIds": [False]}))
        frames, how = c.read_to_end(5)
        c.close()
        closes = [f for f in frames if f.opcode == CLOSE]
        rtd.check(len(closes) == 1 and closes[0].close_code == 1008 and
                  how in ("eof", "reset"),
                  "the 11th bad ack closes with 1008 (got %s, TCP %s)"
                  % (frames, how))
        rtd.check(all(is_refusal(f, STRINGS) for f in frames
                      if f.opcode != CLOSE),
                  "nothing but its error frame before the close (%s)"
                  % frames)

        # A fresh connection: 10 bad acks of every kind, then the close.
        c = wsraw.connect(d.ws_port, rtd.token("carol"))
        errs = 0
        for i in range(10):
            body, msg = BAD[i % len(BAD)]
            c.send_text(ack_frame(body))
            try:
                errs += is_refusal(c.recv_data(3), msg)
            except (wsraw.Timeout, wsraw.Closed):
                break
        c.send_text(ack_frame({"messageIds": [1]}))
        frames, how = c.read_to_end(5)
        c.close()
        closes = [f for f in frames if f.opcode == CLOSE]
        rtd.check(errs == 10 and len(closes) == 1 and
                  closes[0].close_code == 1008 and how in ("eof", "reset"),
                  "10 bad acks answered, the 11th closes with 1008 (%d "
                  "errors, then %s, TCP %s)" % (errs, frames, how))

        key = 'routingd_ws_disconnects_total{code="1008"}'
        rtd.wait_for(lambda: d.metrics().get(key, 0) >= 2, 5,
                     "both 1008 closes counted in /metrics")


rtd.run(test)
