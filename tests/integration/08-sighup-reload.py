"""SIGHUP with a valid change applies it (a new generation of API workers
with the new settings, the old one drained; the WS worker, whose
ws_listen and ws_workers did not change, takes it in place and keeps its
pid); SIGHUP with a broken file keeps the old configuration and workers,
and the log says why."""

import grp
import os
import signal
import stat
import time

import rtd


def api_pids(d):
    return sorted(p for p, t in d.workers().items()
                  if t and t.startswith("routingd: api"))


def test():
    with rtd.Daemon(api_workers=2, ws_workers=1) as d:
        before = set(api_pids(d))
        ws_before = set(d.workers()) - before
        keys = dict(d.keys, api_workers=3)
        d.write_config(keys)
        d.signal(signal.SIGHUP)
        rtd.wait_for(lambda: len(api_pids(d)) == 3 and
                     not (set(api_pids(d)) & before), 8,
                     "3 new api workers, old generation gone")
        rtd.check(ws_before <= set(d.workers()),
                  "the ws worker took the reload in place (same pid)")
        titles = sorted(d.workers().values())
        rtd.check(titles == ["routingd: api 0", "routingd: api 1",
                             "routingd: api 2", "routingd: ws 0"],
                  "the new topology (got %s)" % titles)
        d.wait_ready()
        rtd.check(d.log().count("configuration reloaded") == 1,
                  "the log says so, once")
        rtd.wait_for(lambda: d.metrics().get("routingd_reloads_total") == 1,
                     3, "routingd_reloads_total 1")

        # A broken file: nothing changes.
        current = set(d.workers())
        d.write_config(text="api_workers = 3\napi_workers = 4\n"
                       "bogus_key = 1\n")
        d.signal(signal.SIGHUP)
        rtd.wait_for(lambda: "reload:" in d.log(), 3, "the reload refusal")
        time.sleep(0.5)
        rtd.check(set(d.workers()) == current,
                  "the same workers keep running")
        log = d.log()
        rtd.check("routingd.conf:2:" in log and "bogus_key" in log,
                  "the log names the bad lines")
        st, _, _ = d.get("/readyz")
        rtd.check(st == 200, "still ready on the old configuration")
        rc, out, err = d.ctl("reload")
        rtd.check(rc == 1 and "routingd.conf:2" in (out + err),
                  "routingctl reload fails with the reason (rc=%d %r)"
                  % (rc, out + err))
        rtd.check(set(d.workers()) == current, "still the same workers")

        # control_socket_group applies to the live socket on reload: a
        # group the daemon may give it (root: any; else one of the
        # user's own, another than its primary group if it has one)
        if os.path.exists(d.sock):
            group = socket_group()
            d.write_config(dict(keys, control_socket_group=group))
            rc, out, err = d.ctl("reload")
            rtd.check(rc == 0, "reload with a group (%r)" % (out + err))
            st = os.stat(d.sock)
            rtd.check(stat.S_IMODE(st.st_mode) == 0o660 and
                      st.st_gid == grp.getgrnam(group).gr_gid,
                      "the control socket is 0660 group %s" % group)


def socket_group():
    if os.geteuid() == 0:
        return "adm"
    gids = [g for g in os.getgroups() if g != os.getegid()] or \
        [os.getegid()]
    return grp.getgrgid(gids[0]).gr_name


rtd.run(test)
