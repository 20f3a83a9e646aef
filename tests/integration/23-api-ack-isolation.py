"""Acknowledgements delete only from the caller's own queue: bob cannot
read or acknowledge alice's messages; unknown ids are ignored; the ack
body is checked."""

import rtd


def test():
    with rtd.api_daemon() as d:
        a, b, c = rtd.token("alice"), rtd.token("bob"), rtd.token("carol")
        st, doc = d.send(c, rtd.envelope("alice", data="Zm9yIGFsaWNl"))
        to_alice = doc["id"]
        st, doc = d.send(c, rtd.envelope("bob", data="Zm9yIGJvYg"))
        to_bob = doc["id"]

        st, doc = d.fetch(b)
        rtd.check([m["id"] for m in doc["messages"]] == [to_bob] and
                  doc["messages"][0]["envelope"]["encryptedData"] ==
                  "Zm9yIGJvYg", "bob sees only his own message")
        # Ids are per user: acking alice's id as bob touches bob's queue.
        rtd.check(d.ack(b, [to_alice, "n00000000000000ff", "bogus"]) ==
                  204, "bob acks foreign and unknown ids: 204")
        st, doc = d.fetch(a)
        rtd.check([m["id"] for m in doc["messages"]] == [to_alice],
                  "alice's message survives bob's ack")
        rtd.check(d.ack(a, [to_alice]) == 204, "alice acks hers")
        st, doc = d.fetch(a)
        rtd.check(doc["messages"] == [], "alice's queue is empty")
        st, doc = d.send(c, rtd.envelope("bob", data="YWdhaW4"))
        again = doc["id"]
        rtd.check(d.ack(a, [again]) == 204, "alice acks bob's new id")
        st, doc = d.fetch(b)
        rtd.check(again in [m["id"] for m in doc["messages"]],
                  "bob's message is untouched by alice's ack")

        for body in [{"messageIds": "x"}, {"ids": []}, [1],
                     {"messageIds": [1]},
                     {"messageIds": ["n1"] * 1001}]:
            st, _, doc = d.api("POST", "/api/messages/ack", b, body)
            rtd.check(st == 400, "ack body %.40r is 400" % (body,))
        st, _, doc = d.api("POST", "/api/messages/ack", b, "{nope")
        rtd.check(st == 400 and doc["error"] == "invalid_json",
                  "unparsable ack body is 400 invalid_json")


rtd.run(test)
