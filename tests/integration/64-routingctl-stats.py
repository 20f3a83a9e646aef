"""routingctl stats: the series of /metrics (histograms as _sum and
_count) read over the control socket, one aligned row each with its
type, value and rate per second; rates since the previous call (its
sample kept in $XDG_RUNTIME_DIR, mode 0600) or over -i SECONDS; --json
one object.  Exit 2 for a bad -i, 3 when no daemon answers.  A restart
(another start time) gives no rates against the old run's sample."""

import glob
import json
import os
import stat
import subprocess
import time

import rtd

ACC = "routingd_messages_accepted_total"


def table(out):
    """(first line, {key: (type, value, rate)}) of the text output."""
    lines = out.splitlines()
    rtd.check(len(lines) > 3 and lines[1].split() ==
              ["METRIC", "TYPE", "VALUE", "RATE/S"],
              "a note, then the header row (%r)" % lines[:2])
    widths = {len(l) for l in lines[1:]}
    rtd.check(len(widths) == 1, "every row is as wide as the header "
              "(aligned: %s)" % sorted(widths))
    rows = {}
    for l in lines[2:]:
        key, typ, val, rate = l.rsplit(None, 3)
        rows[key] = (typ, float(val), None if rate == "-" else float(rate))
    return lines[0], rows


def scrape_keys(d):
    st, _, body = d.get("/metrics")
    return {l.rsplit(" ", 1)[0] for l in body.decode().splitlines()
            if l and not l.startswith("#") and "_bucket{" not in l}


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        os.environ["XDG_RUNTIME_DIR"] = d.dir
        alice = rtd.token("alice")
        rc, out, err = d.ctl("stats")
        rtd.check(rc == 0, "stats exits 0 (%s)" % err)
        note, rows = table(out)
        rtd.check(note.startswith("no rates yet"),
                  "the first call has no rates (%r)" % note)
        rtd.check(all(r[2] is None for r in rows.values()),
                  "and no row has one")
        keys = scrape_keys(d)
        rtd.check(set(rows) == keys, "one row per series of /metrics, "
                  "buckets left out (only in stats: %s; only in /metrics: "
                  "%s)" % (sorted(set(rows) - keys)[:5],
                           sorted(keys - set(rows))[:5]))
        rtd.check(rows["routingd_build_info{version=\"%s\"}" %
                       d.ctl_json("status")["version"]][1] == 1,
                  "build_info is there with the daemon's version")
        rtd.check(rows["routingd_store_commit_duration_seconds_count"][0]
                  == "histogram", "a histogram's _count is typed histogram")
        kept = glob.glob(os.path.join(d.dir, "routingctl-stats-*"))
        rtd.check(len(kept) == 1 and
                  stat.S_IMODE(os.stat(kept[0]).st_mode) == 0o600,
                  "the sample is kept in $XDG_RUNTIME_DIR, mode 0600 (%s)"
                  % kept)

        for i in range(4):
            rtd.check(d.send(alice, rtd.envelope("bob"))[0] == 202,
                      "send %d accepted" % i)
        time.sleep(0.5)
        rc, out, err = d.ctl("stats")
        note, rows = table(out)
        rtd.check("since the previous stats" in note,
                  "the second call has rates since the first (%r)" % note)
        typ, val, rate = rows[ACC]
        rtd.check(typ == "counter" and val == 4 and rate is not None and
                  rate > 0, "%s: 4, with a rate (%s)" % (ACC, rows[ACC]))
        rtd.check(rows["routingd_ready"][2] is None,
                  "a gauge has no rate")

        rtd.check(d.send(alice, rtd.envelope("bob"))[0] == 202, "send 5")
        doc = d.ctl_json("stats")
        rtd.check(isinstance(doc.get("interval_seconds"), float) and
                  doc["interval_seconds"] > 0,
                  "--json: interval_seconds since the previous call (%s)"
                  % doc.get("interval_seconds"))
        acc = [s for s in doc["series"] if s["name"] == ACC]
        rtd.check(len(acc) == 1 and acc[0]["labels"] == {} and
                  acc[0]["type"] == "counter" and acc[0]["value"] == 5 and
                  acc[0]["rate"] > 0, "--json: %s with value and rate (%s)"
                  % (ACC, acc))
        rss = [s for s in doc["series"]
               if s["name"] == "process_resident_memory_bytes"]
        rtd.check({(s["labels"]["role"], s["labels"]["index"]) for s in rss}
                  == {("supervisor", "0"), ("api", "0"), ("ws", "0")} and
                  all(s["value"] > 0 and s["rate"] is None for s in rss),
                  "--json: labels as an object, rss of every process")

        # -i 2: two samples 2 s apart, 6 sends in between.
        p = subprocess.Popen([rtd.ROUTINGCTL, "-s", d.sock, "--json",
                              "stats", "-i", "2"], stdout=subprocess.PIPE)
        time.sleep(0.5)
        for i in range(6):
            d.send(alice, rtd.envelope("bob"))
        out, _ = p.communicate(timeout=20)
        rtd.check(p.returncode == 0, "stats -i 2 exits 0")
        doc = json.loads(out)
        iv = doc["interval_seconds"]
        acc = [s for s in doc["series"] if s["name"] == ACC][0]
        rtd.check(1.9 < iv < 4 and acc["value"] == 11 and
                  abs(acc["rate"] - 6 / iv) < 0.01,
                  "-i 2: interval %.2f s, rate %.3f = 6 sends / interval"
                  % (iv, acc["rate"]))
        rc, out, err = d.ctl("stats", "-i", "1")
        note, rows = table(out)
        rtd.check(rc == 0 and "(-i)" in note and rows[ACC][2] == 0,
                  "stats -i 1 as text: rates over the interval (%r, %s)"
                  % (note, rows[ACC]))

        for bad in (["-i", "0"], ["-i", "x"], ["-i"], ["extra"],
                    ["-i", "99999"]):
            rc, out, err = d.ctl("stats", *bad)
            rtd.check(rc == 2 and "usage" in err,
                      "stats %s: usage, exit 2 (%d)" % (bad, rc))
        rc, out, err = d.ctl("stats", sock=os.path.join(d.dir, "none"))
        rtd.check(rc == 3, "exit 3 when no daemon answers (%d)" % rc)

        # a restarted daemon (another start time): no rates against the
        # sample of the previous run, though the socket is the same
        d.ctl("stats")
        d.stop()
        time.sleep(1.1)			# start times are in whole seconds
        d.start()
        rtd.check(d.send(alice, rtd.envelope("bob"))[0] == 202,
                  "a send after the restart")
        rc, out, err = d.ctl("stats")
        note, rows = table(out)
        rtd.check(rc == 0 and note.startswith("no rates yet") and
                  all(r[2] is None for r in rows.values()),
                  "after a restart stats has no rates (%r)" % note)


rtd.run(test)
