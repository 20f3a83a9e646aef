"""push_gateway_url on reload: a daemon started without it runs no push
worker; a reload that sets it starts one, which sends the pushes of the
outbox (jobs written since, by workers the reload replaced or updated in
place); a reload that removes it stops the push worker, and messages
then make no push."""

import time

import gateway
import rtd


def push_workers(d):
    rc, out, _ = d.ctl("workers")
    rtd.check(rc == 0, "routingctl workers")
    return [l for l in out.split("\n") if l.split()[:1] == ["push"]]


def test():
    with gateway.Gateway() as gw, rtd.api_daemon(
            push_coalesce="0s", rate_limit_per_user=0) as d:
        rtd.check(push_workers(d) == [], "no push worker without a gateway")
        phone = rtd.token("bob", device="phone")
        d.fetch(phone)
        st, _, _ = d.api("POST", "/api/devices", phone,
                         {"deviceId": "phone", "platform": "fcm",
                          "pushToken": "pk-reload", "appId": "org.ex"})
        rtd.check(st == 200, "push target registered")

        keys = dict(d.keys, push_gateway_url=gw.url())
        d.write_config(keys)
        rc, out, err = d.ctl("reload")
        rtd.check(rc == 0, "reload with a gateway (%r %r)" % (out, err))
        rtd.wait_for(lambda: len(push_workers(d)) == 1, 10,
                     "a push worker after the reload")
        d.send(rtd.token("alice"), rtd.envelope("bob"))
        rtd.check(gw.wait(1, 8), "the push worker sends the push")
        rtd.check(gw.requests[0]["body"]["notification"]["devices"][0]
                  ["pushkey"] == "pk-reload", "bob's phone is pushed")

        del keys["push_gateway_url"]
        d.write_config(keys)
        rc, out, err = d.ctl("reload")
        rtd.check(rc == 0, "reload without the gateway")
        rtd.wait_for(lambda: push_workers(d) == [], 10,
                     "no push worker after the reload")
        n = gw.count()
        d.send(rtd.token("alice"), rtd.envelope("bob"))
        time.sleep(1.5)
        rtd.check(gw.count() == n, "no push once the gateway is removed")


rtd.run(test)
