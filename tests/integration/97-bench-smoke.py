"""routingd-bench works against the daemon (it asserts what the tool
counts, never a rate): online for about 2 s with a few users reports, in
one JSON object, every accepted message delivered (delivered == accepted
> 0), none lost or duplicated, no error, and ordered latency percentiles
over a positive number of samples; idle with 50 WebSockets reports them
all open and a positive PSS per connection summed over the daemon's
processes; and a token minted from the wrong secret makes it fail (exit
1, saying the upgrade was refused) instead of reporting numbers."""

import json
import os
import subprocess

import rtd

BENCH = os.environ.get("ROUTINGD_BENCH", "bench/routingd-bench")


def bench(d, secret, *args, timeout=120):
    cmd = [BENCH, "--api-port", str(d.api_port), "--ws-port",
           str(d.ws_port), "--secret-file", secret] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)


def report(p, what):
    rtd.check(p.returncode == 0, "%s exits 0 (%s)" % (what, p.stderr[-2000:]))
    doc = json.loads(p.stdout)
    print("#", p.stdout.strip())
    return doc


def test():
    with rtd.Daemon(rate_limit_per_user=0, log_level="warning") as d:
        secret = os.path.join(d.dir, "data", "jwt.secret")
        rtd.wait_for(lambda: os.path.exists(secret), 5, "jwt.secret")
        doc = report(bench(d, secret, "--json", "--users", "20",
                           "--senders", "4", "--pipeline", "4",
                           "--warmup", "0.5", "--seconds", "1.5",
                           "online"), "online")
        rtd.check(doc["workload"] == "online" and
                  doc["target"] == "routingd" and doc["acks"] is True,
                  "the report names the workload and target")
        rtd.check(doc["accepted"] > 0, "messages were accepted (%d)"
                  % doc["accepted"])
        rtd.check(doc["delivered"] == doc["accepted"],
                  "every accepted message delivered (%d of %d)"
                  % (doc["delivered"], doc["accepted"]))
        rtd.check(doc["lost"] == 0 and doc["duplicates"] == 0,
                  "none lost (%d), none twice (%d)"
                  % (doc["lost"], doc["duplicates"]))
        rtd.check(doc["errors_total"] == 0 and
                  set(doc["http_status"]) == {"202"},
                  "no error: %r, statuses %r"
                  % (doc["errors"], doc["http_status"]))
        lat = doc["latency_us"]
        rtd.check(lat["samples"] > 0 and 0 < lat["p50"] <= lat["p99"] <=
                  lat["p99_9"] <= lat["max"],
                  "latency percentiles ordered over %d samples: %r"
                  % (lat["samples"], lat))
        rtd.check(doc["accepted_per_s"] > 0 and doc["delivered_per_s"] > 0,
                  "rates reported")

        doc = report(bench(d, secret, "--json", "--users", "50",
                           "--seconds", "1", "--settle", "0.5",
                           "--pid", str(d.pid), "idle"), "idle")
        c = doc["connections"]
        rtd.check(c["opened"] == 50 and c["held"] == 50 and
                  c["failed"] == 0, "50 WebSockets open and held: %r" % c)
        pss = doc["pss"]
        rtd.check(pss["processes"] >= 3,
                  "PSS summed over the supervisor and its workers (%d)"
                  % pss["processes"])
        rtd.check(pss["kib_per_connection"] > 0 and
                  pss["after_kib"] > pss["before_kib"],
                  "a positive PSS per connection: %r" % pss)

        bad = os.path.join(d.dir, "wrong.secret")
        with open(bad, "w") as f:
            f.write("not-the-daemon-secret-0123456789abcdef\n")
        p = bench(d, bad, "--json", "--users", "2", "--senders", "1",
                  "--seconds", "0.5", "online")
        rtd.check(p.returncode == 1 and p.stdout == "" and
                  "upgrade refused" in p.stderr,
                  "a wrong secret fails the run: %d %r"
                  % (p.returncode, p.stderr[-300:]))


rtd.run(test)
