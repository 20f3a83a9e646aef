"""GET /metrics has the series an operator graphs, with sane values:
routingd_build_info{version} 1 with the version `routingd -V` prints;
process_* (resident memory, open fds, CPU seconds, start time) for the
supervisor and every worker by role and index; every histogram's
buckets cumulative and ending at _count; the latency by route and by
WebSocket operation counting the requests and frames this test makes."""

import re
import subprocess
import time

import rtd
import wsraw

SERIES = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')


def parse(d):
    """[(name, {label: value}, float)] of one scrape, in order."""
    st, _, body = d.get("/metrics")
    rtd.check(st == 200, "GET /metrics answers 200")
    out = []
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        rtd.check(m is not None, "a sample line parses: %r" % line)
        labels = dict(re.findall(r'([a-z_]+)="([^"]*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def one(samples, name, **labels):
    vals = [v for n, l, v in samples if n == name and l == labels]
    rtd.check(len(vals) == 1, "exactly one %s%s (got %s)"
              % (name, labels, vals))
    return vals[0]


def check_histograms(samples):
    """Buckets of each (family, labels but le) rise and end at _count."""
    groups = {}
    for n, l, v in samples:
        if n.endswith("_bucket"):
            key = (n[:-7], tuple(sorted((k, x) for k, x in l.items()
                                        if k != "le")))
            groups.setdefault(key, []).append((l["le"], v))
    rtd.check(len(groups) >= 4, "several histograms (%d)" % len(groups))
    for (fam, lab), buckets in groups.items():
        vals = [v for _, v in buckets]
        rtd.check(all(a <= b for a, b in zip(vals, vals[1:])),
                  "%s%s buckets are cumulative" % (fam, lab))
        bounds = [float(le) for le, _ in buckets]
        rtd.check(bounds == sorted(bounds) and buckets[-1][0] == "+Inf",
                  "%s%s bounds rise to +Inf" % (fam, lab))
        count = one(samples, fam + "_count", **dict(lab))
        rtd.check(vals[-1] == count, "%s%s +Inf bucket equals _count"
                  % (fam, lab))


def test():
    out = subprocess.run([rtd.ROUTINGD, "-V"], capture_output=True,
                         text=True, timeout=10).stdout.split()
    version = out[-1]
    with rtd.api_daemon(api_workers=2, ws_workers=1,
                        rate_limit_per_user=0) as d:
        time.sleep(1.2)		# every process has sampled itself
        s = parse(d)
        rtd.check(one(s, "routingd_build_info", version=version) == 1,
                  "routingd_build_info{version=%r} is 1" % version)
        now = time.time()
        pids = {("supervisor", "0")}
        pids |= {("api", "0"), ("api", "1"), ("ws", "0")}
        for role, idx in sorted(pids):
            lab = {"role": role, "index": idx}
            rss = one(s, "process_resident_memory_bytes", **lab)
            fds = one(s, "process_open_fds", **lab)
            cpu = one(s, "process_cpu_seconds_total", **lab)
            start = one(s, "process_start_time_seconds", **lab)
            rtd.check(rss > 1e5 and fds >= 3 and cpu >= 0 and
                      now - 120 < start <= now + 1,
                      "%s %s: rss %d, fds %d, cpu %.3f s, started %.0f s "
                      "ago" % (role, idx, rss, fds, cpu, now - start))
        rtd.check(len([1 for n, _, _ in s
                       if n == "process_open_fds"]) == 4,
                  "one process_open_fds per process, no more")
        check_histograms(s)
        send0 = one(s, "routingd_api_route_duration_seconds_count",
                    route="send")
        fetch0 = one(s, "routingd_api_route_duration_seconds_count",
                     route="messages")
        wsend0 = one(s, "routingd_ws_op_duration_seconds_count", op="send")
        wack0 = one(s, "routingd_ws_op_duration_seconds_count", op="ack")

        alice, bob = rtd.token("alice"), rtd.token("bob")
        for i in range(3):
            st, _ = d.send(alice, rtd.envelope("carol"))
            rtd.check(st == 202, "send %d accepted" % i)
        st, _ = d.fetch(alice)
        rtd.check(st == 200, "a fetch answers 200")
        c = wsraw.connect(d.ws_port, bob)
        c.send_text('{"type":"send","requestId":"r1","envelope":'
                    '{"recipientId":"bob","encryptedData":"aGk="}}')
        frames = [c.recv_json(5), c.recv_json(5)]
        msg = [f for f in frames if f.get("type") == "message"]
        rtd.check(len(msg) == 1 and any(f.get("type") == "sent"
                                        for f in frames),
                  "a WebSocket send is answered and delivered (%s)" % frames)
        c.send_ack([msg[0]["id"]])
        rtd.wait_for(lambda: d.fetch(bob)[1]["messages"] == [], 5,
                     "the WebSocket ack deleted the message")
        c.close()

        s = parse(d)
        check_histograms(s)
        rtd.check(one(s, "routingd_api_route_duration_seconds_count",
                      route="send") == send0 + 3,
                  "the send route's latency _count rose by 3")
        rtd.check(one(s, "routingd_api_route_duration_seconds_count",
                      route="messages") >= fetch0 + 1,
                  "the messages route's latency _count rose")
        rtd.check(one(s, "routingd_ws_op_duration_seconds_count",
                      op="send") == wsend0 + 1,
                  "the WebSocket send latency _count rose by 1")
        rtd.check(one(s, "routingd_ws_op_duration_seconds_count",
                      op="ack") == wack0 + 1,
                  "the WebSocket ack latency _count rose by 1")
        rtd.check(one(s, "routingd_store_commit_duration_seconds_count") > 0
                  and one(s, "routingd_store_batch_requests_count") > 0,
                  "commit latency and batch size histograms have samples")
        rtd.check(one(s, "routingd_store_map_bytes") > 0 and
                  0 < one(s, "routingd_store_used_bytes") <=
                  one(s, "routingd_store_map_bytes"),
                  "store used bytes within the map size")


rtd.run(test)
