"""promtool (Prometheus's own checker) finds nothing to say about what
routingd exports: `promtool check metrics` on a live /metrics (after
traffic, so every histogram and labelled family has samples) is clean,
and `promtool check rules` accepts etc/routingd-alerts.yml.  Skipped
(77) when promtool is not installed (Debian: the prometheus package)."""

import os
import shutil
import subprocess
import sys

import rtd
import wsraw

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(rtd.__file__)))))
RULES = os.path.join(TOP, "etc", "routingd-alerts.yml")


def promtool(args, data=None):
    p = subprocess.run(["promtool"] + args, input=data,
                       capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode()


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice, bob = rtd.token("alice"), rtd.token("bob")
        st, _ = d.send(alice, rtd.envelope("bob"))
        rtd.check(st == 202, "a send is accepted")
        c = wsraw.connect(d.ws_port, bob, wait_empty=False)
        msg = c.recv_json(5)
        c.send_ack([msg["id"]])
        rtd.wait_for(lambda: d.fetch(bob)[1]["messages"] == [], 5,
                     "the WebSocket ack deleted the message")
        c.close()
        d.get("/api/nothing")
        st, _, body = d.get("/metrics")
        rtd.check(st == 200, "GET /metrics answers 200")
        rc, out = promtool(["check", "metrics"], body)
        rtd.check(rc == 0 and out.strip() == "",
                  "promtool check metrics is clean (exit %d): %s"
                  % (rc, out[:2000]))
    rc, out = promtool(["check", "rules", RULES])
    rtd.check(rc == 0 and "SUCCESS" in out,
              "promtool check rules accepts %s (exit %d): %s"
              % (RULES, rc, out[:2000]))


if shutil.which("promtool") is None:
    print("# SKIP: promtool not installed (Debian package prometheus)")
    sys.exit(77)
rtd.run(test)
