"""A worker that stops beating (SIGSTOP: alive but stuck) is killed and
replaced once heartbeat_timeout passes."""

import os
import signal
import time

import rtd


def test():
    with rtd.Daemon(heartbeat_timeout="2s") as d:
        old = d.workers_by_title()["routingd: api 1"]
        os.kill(old, signal.SIGSTOP)
        t0 = time.monotonic()
        new = rtd.wait_for(
            lambda: (lambda p: p if p and p != old else None)(
                d.workers_by_title().get("routingd: api 1")),
            5.0, "api 1 replaced")
        took = time.monotonic() - t0
        rtd.check(took >= 1.5, "not killed before the timeout (%.2fs)" % took)
        rtd.check(not rtd.proc_alive(old), "the stuck worker is gone")
        rtd.check("missed its heartbeat" in d.log(),
                  "the log says why it was killed")
        rtd.wait_for(lambda: d.metrics().get(
            "routingd_heartbeat_kills_total") == 1, 3,
            "routingd_heartbeat_kills_total 1")
        st, _, _ = d.get("/healthz")
        rtd.check(st == 200 and new > 0, "still serving")


rtd.run(test)
