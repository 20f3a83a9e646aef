"""kill -9 of any worker brings a new one within 2 s, /healthz keeps
answering all the while (a request the dead worker had accepted may be
reset; its immediate retry must succeed), the supervisor logs how the
worker died and /metrics counts the restart."""

import os
import signal
import threading
import time

import rtd


def test():
    with rtd.Daemon(api_workers=2, ws_workers=2) as d:
        failures = []
        stop = threading.Event()

        resets = []

        def probe():
            st, _, _ = d.get("/healthz", timeout=2)
            return st

        def prober():
            # A request the killed worker had already accepted dies with
            # it (connection reset); the service keeps answering if an
            # immediate retry on a new connection succeeds.
            while not stop.is_set():
                try:
                    st = probe()
                except OSError as e:
                    resets.append(repr(e))
                    try:
                        st = probe()
                    except OSError as e2:
                        st = repr(e2)
                if st != 200:
                    failures.append(st)
                time.sleep(0.01)

        t = threading.Thread(target=prober)
        t.start()
        try:
            for title in ["routingd: api 0", "routingd: ws 1",
                          "routingd: api 1"]:
                old = d.workers_by_title()[title]
                t0 = time.monotonic()
                os.kill(old, signal.SIGKILL)
                new = rtd.wait_for(
                    lambda: (lambda p: p if p and p != old else None)(
                        d.workers_by_title().get(title)),
                    2.0, "a new %s" % title)
                print("  %s: %d -> %d in %.0f ms" % (
                    title, old, new, (time.monotonic() - t0) * 1000))
                rtd.check(new != old, "%s respawned within 2 s" % title)
        finally:
            stop.set()
            t.join()
        rtd.check(not failures, "/healthz answered throughout (%s; %d "
                  "in-flight requests reset and retried)" % (failures[:3],
                                                           len(resets)))
        log = d.log()
        rtd.check("lost child: api 0" in log and "killed by signal 9" in log,
                  "the log says which worker died and how")
        rtd.wait_for(lambda: d.metrics().get(
            'routingd_worker_restarts_total{role="api"}') == 2, 3,
            "2 api restarts counted")
        m = d.metrics()
        rtd.check(m['routingd_worker_restarts_total{role="ws"}'] == 1,
                  "1 ws restart counted")
        rtd.wait_for(lambda: d.metrics().get(
            'routingd_workers{role="api",state="ready"}') == 2, 3,
            "2 api workers ready again")


rtd.run(test)
