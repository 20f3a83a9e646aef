"""message_ttl: a message left unacknowledged longer than the TTL is no
longer returned, is deleted by the sweep (counted in
routingd_messages_expired_total), and stops counting towards the queue's
depth; a fresh message after it is delivered normally."""

import time

import rtd


def test():
    with rtd.api_daemon(message_ttl="2s") as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        st, doc = d.send(a, [rtd.envelope("bob"), rtd.envelope("bob")])
        rtd.check(st == 202, "two messages accepted")
        st, doc = d.fetch(b)
        rtd.check(len(doc["messages"]) == 2, "both are there at once")
        time.sleep(2.5)
        st, doc = d.fetch(b)
        rtd.check(st == 200 and doc["messages"] == [],
                  "after the TTL they are gone (got %s)" % doc)
        rtd.wait_for(lambda: d.metrics().get(
            "routingd_messages_expired_total", 0) >= 2, 5,
            "the sweep deleted and counted 2 expired messages")
        st, doc = d.send(a, rtd.envelope("bob", data="bmV3"))
        rtd.check(st == 202, "a new message is accepted")
        st, doc = d.fetch(b)
        rtd.check(len(doc["messages"]) == 1 and
                  doc["messages"][0]["envelope"]["encryptedData"] == "bmV3",
                  "and delivered")


rtd.run(test)
