"""A push job survives kill -9 of the push worker and of the whole
daemon: the outbox is in LMDB, written in the commit of the message.
Delivery is at least once: a job whose request was in flight when its
worker died is sent again by the next one."""

import os
import signal

import gateway
import rtd


def push_pid(d):
    pids = [p for p, t in d.workers().items()
            if t and t.startswith("routingd: push")]
    return pids[0] if pids else None


def test():
    with gateway.Gateway() as gw:
        d = rtd.api_daemon(push_gateway_url=gw.url(), push_coalesce="0s",
                           rate_limit_per_user=0)
        with d:
            alice = rtd.token("alice")
            phone = rtd.token("bob", device="phone")
            d.fetch(phone)
            gateway.register(d, phone, "phone", "pk-1")
            rc, out, _ = d.ctl("workers")
            rtd.check(rc == 0 and any(l.split()[:2] == ["push", "0"]
                                      for l in out.split("\n")),
                      "routingctl workers lists push 0 (%r)" % out)
            # in flight when the push worker dies: sent again after
            gw.set_mode("hang")
            d.send(alice, rtd.envelope("bob"))
            rtd.check(gw.wait(1, 5), "a request in flight")
            pid = push_pid(d)
            os.kill(pid, signal.SIGKILL)
            gw.set_mode(200)
            rtd.wait_for(lambda: push_pid(d) not in (None, pid), 10,
                         "the push worker respawned")
            rtd.check(gw.wait(2, 10), "the job is sent again by the new "
                      "push worker (at least once)")
            got = d.metrics().get(
                'routingd_worker_restarts_total{role="push"}')
            rtd.check(got == 1, "the respawn is counted (%s)" % got)

            # the gateway down while the whole daemon is killed
            gw.set_mode(503)
            n = gw.count()
            d.send(alice, rtd.envelope("bob"))
            rtd.check(gw.wait(n + 1, 5), "tried while failing")
            os.killpg(d.pid, signal.SIGKILL)
            d.proc.wait()
            d.stderr.close()
            gw.set_mode(200)
            n = gw.count()
            d.start()
            rtd.check(gw.wait(n + 1, 15), "sent after the restart")
            body = gw.requests[-1]["body"]["notification"]
            rtd.check(body["counts"]["unread"] == 2,
                      "with both messages unread (%s)" % body)


rtd.run(test)
