"""routingctl status, workers and stop against the running daemon, with
and without --json; exit 3 when no daemon answers, 2 for usage errors."""

import json
import os

import rtd


def test():
    with rtd.Daemon(api_workers=2, ws_workers=1) as d:
        rc, out, err = d.ctl("status")
        rtd.check(rc == 0 and str(d.pid) in out and d.conf in out,
                  "status names the pid and config (%r)" % out)
        st = d.ctl_json("status")
        rtd.check(st["pid"] == d.pid and st["ready"] in (True, 1) and
                  st["api_workers"] == 2 and st["ws_workers"] == 1,
                  "status --json fields (%s)" % st)
        rc, out, err = d.ctl("workers")
        rtd.check(rc == 0 and out.count("api") >= 2 and "ws" in out,
                  "workers lists every worker")
        ws = d.ctl_json("workers")["workers"]
        pids = sorted(w["pid"] for w in ws)
        rtd.check(pids == sorted(d.workers()),
                  "workers --json matches the real processes")
        rtd.check(all(w["state"] in ("ready", 2) for w in ws),
                  "all ready")
        rc, out, err = d.ctl("bogus")
        rtd.check(rc == 2, "an unknown command exits 2")
        rc, out, err = d.ctl("stop")
        rtd.check(rc == 0, "stop succeeds (%r)" % (out + err))
        rtd.check(d.wait_exit(10) == 0, "the daemon exited 0")
        rtd.check(not os.path.exists(d.sock), "the socket is removed")
        rc, out, err = d.ctl("status")
        rtd.check(rc == 3, "status exits 3 once no daemon answers (%d)" % rc)
        rc, out, err = d.ctl("status", sock="/nonexistent/ctl.sock")
        rtd.check(rc == 3 and "/nonexistent/ctl.sock" in err,
                  "exit 3 and the path for a missing socket")


rtd.run(test)
