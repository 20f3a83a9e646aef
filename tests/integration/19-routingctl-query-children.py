"""Query children under pressure: 24 routingctl queries at once against a
user with a long queue each get an answer, the queue or "busy" (at most
4 query children run at once), never a hang; afterwards the supervisor
has its workers and nothing else, none was restarted, the daemon still
serves, and the supervisor has neither mapped nor opened the store.  A query while stopping is refused."""

import os
import subprocess
import time

import rtd


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        rtd.check(d.fetch(phone)[0] == 200, "bob's phone is known")
        sent = sum(d.send(alice, rtd.envelope("bob", data="eHh4" * 64))[0]
                   == 202 for _ in range(300))
        rtd.check(sent == 300, "300 messages queued for bob (%d)" % sent)
        before = d.workers()
        procs = [subprocess.Popen([rtd.ROUTINGCTL, "-s", d.sock, "--json",
                                   "queue", "bob"],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
                 for _ in range(24)]
        ok = busy = 0
        for p in procs:
            out, err = p.communicate(timeout=30 * rtd.TIMEOUT_SCALE)
            if p.returncode == 0:
                ok += 1
                rtd.check(b'"queued":300' in out, "a full answer (%r)"
                          % out[:200])
            else:
                rtd.check(p.returncode == 1 and b"busy" in err,
                          "else busy, exit 1 (%d %r)" % (p.returncode, err))
                busy += 1
        print("# %d answered, %d busy" % (ok, busy))
        rtd.check(ok >= 4, "at least QUERY_MAX answered (%d)" % ok)
        rtd.wait_for(lambda: d.workers() == before, 10,
                     "only the workers remain (no query child left)")
        st = d.ctl_json("status")
        rtd.check(st["restarts_api"] == 0 and st["restarts_ws"] == 0 and
                  st["store"]["messages"] == 300,
                  "no worker restarted; the store answers (%s)"
                  % st["store"])
        rtd.check(d.fetch(phone)[0] == 200, "the daemon still serves")
        bdir = os.path.join(d.dir, "backup")
        os.mkdir(bdir)
        rc, out, err = d.ctl("backup", bdir)
        rtd.check(rc == 0, "a backup (%d %r)" % (rc, err))
        maps = open("/proc/%d/maps" % d.pid).read()
        fds = [os.readlink("/proc/%d/fd/%s" % (d.pid, n))
               for n in os.listdir("/proc/%d/fd" % d.pid)]
        rtd.check("data.mdb" not in maps and "lock.mdb" not in maps and
                  not any(x.endswith(".mdb") for x in fds),
                  "after every kind of store query the supervisor has "
                  "never opened the store (no .mdb mapped or open)")
        rc, out, err = d.ctl("stop", "--no-wait")
        rtd.check(rc == 0, "stop requested")
        rc, out, err = d.ctl("queue", "bob")
        # refused with "stopping", or the supervisor is already closing
        # its control socket (the send fails, or nothing listens: 3)
        rtd.check(rc in (1, 3) and ("stopping" in err or rc == 3 or
                                    "cannot send" in err or
                                    "closed" in err),
                  "a query while stopping is refused (%d %r)" % (rc, err))
        rtd.check(d.wait_exit(15) == 0, "the daemon exits 0")


rtd.run(test)
