"""A full disk (ENOSPC from the filesystem, the LMDB map not full): the
store lives on a 2 MiB tmpfs with store_max_size 16m.  Sends that need
the data file to grow are answered 503 unavailable with the JSON body;
the daemon and its workers live on (no restart), reads still work, a
routingctl query opens the store.  Once the tmpfs is made bigger, sends
are accepted again, and after a restart every message answered 202 is
fetched.  Needs root (mount); skipped otherwise."""

import base64
import os
import subprocess
import sys
import tempfile
import time

import rtd


def sh(*cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return 127, str(e)
    return p.returncode, (p.stdout + p.stderr).strip()


def drain_ids(d, tok):
    """Every message id in tok's queue, in order, paging with acks."""
    ids = []
    while True:
        st, doc = d.fetch(tok, limit=500)
        rtd.check(st == 200, "fetch answers 200 (got %s %s)" % (st, doc))
        page = [m["id"] for m in doc["messages"]]
        if not page:
            return ids
        ids += page
        rtd.check(d.ack(tok, page) == 204, "ack a page of %d" % len(page))


def restarts(d):
    m = d.metrics()
    return sum(v for k, v in m.items()
               if k.startswith("routingd_worker_restarts_total"))


def test(mnt):
    with rtd.api_daemon(data_dir=os.path.join(mnt, "data"),
                        store_max_size="16m", max_envelope_bytes="64k",
                        queue_max_messages=100000, api_workers=2,
                        rate_limit_per_user=0) as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        big = base64.b64encode(b"x" * 6144).decode()	# 8 KB of base64
        st, _ = d.fetch(b)
        rtd.check(st == 200, "bob's device is known")
        pids = sorted(d.workers())
        accepted, refused = [], []
        while len(refused) < 5 and len(accepted) < 1000:
            st, doc = d.send(a, rtd.envelope("bob", data=big))
            if st == 202:
                accepted.append(doc["id"])
            else:
                refused.append((st, doc))
        _, df = sh("df", "-k", mnt)
        print("# %d accepted, then %s\n# %s" % (len(accepted),
              refused[:1], df.replace("\n", "\n# ")))
        rtd.check(len(accepted) > 20 and len(refused) == 5,
                  "the tmpfs filled up after %d large sends"
                  % len(accepted))
        rtd.check(all(st == 503 and isinstance(doc, dict) and
                      doc.get("error") == "unavailable"
                      for st, doc in refused),
                  "every refusal is 503 with the JSON error unavailable "
                  "(%s)" % refused)
        rtd.check(d.metrics().get("routingd_store_full_total", 0) == 0,
                  "a full disk is not counted as a full map")
        st, doc = d.fetch(b, limit=5)
        rtd.check(st == 200 and len(doc["messages"]) == 5,
                  "reads still work on the full disk")
        rc, out, _ = d.ctl("queue", "bob")
        rtd.check(rc == 0 and str(len(accepted)) in out,
                  "routingctl queue opens the store on the full disk "
                  "(%d: %s)" % (rc, out))
        # the query child of routingctl queue may still be exiting
        rtd.wait_for(lambda: sorted(p for p, t in d.workers().items()
                                    if "query" not in (t or "")) == pids,
                     5, "the same workers (no query child counted)")
        rtd.check(d.proc.poll() is None,
                  "the daemon and the same workers are alive")
        rtd.check(restarts(d) == 0 and "lost child" not in d.log(),
                  "no worker restarted")

        rc, out = sh("mount", "-o", "remount,size=64m", mnt)
        rtd.check(rc == 0, "the tmpfs grows to 64 MiB (%s)" % out)
        t0 = time.monotonic()
        st, doc = d.send(a, rtd.envelope("bob", data=big))
        while st != 202 and time.monotonic() - t0 < 2.0:
            time.sleep(0.1)
            st, doc = d.send(a, rtd.envelope("bob", data=big))
        rtd.check(st == 202, "a send is accepted once there is space "
                  "(%s %s)" % (st, doc))
        accepted.append(doc["id"])
        for _ in range(50):
            st, doc = d.send(a, rtd.envelope("bob", data=big))
            rtd.check(st == 202, "sends keep being accepted (%s %s)"
                      % (st, doc))
            accepted.append(doc["id"])
        rtd.check(sorted(d.workers()) == pids and restarts(d) == 0,
                  "still the same workers")

        d.stop()
        d.start()
        got = drain_ids(d, b)
        rtd.check(got == accepted, "after a restart bob fetches every one "
                  "of the %d messages answered 202, in order (got %d; "
                  "missing %s)" % (len(accepted), len(got),
                                   sorted(set(accepted) - set(got))[:5]))


def main():
    if os.geteuid() != 0:
        print("# SKIP: mounting a small tmpfs needs root")
        sys.exit(rtd.SKIP)
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    mnt = tempfile.mkdtemp(prefix="rtd-diskfull-", dir=rtd.TESTDIR)
    rc, out = sh("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700",
                 "tmpfs", mnt)
    if rc != 0:
        os.rmdir(mnt)
        print("# SKIP: cannot mount a tmpfs on %s: %s" % (mnt, out))
        sys.exit(rtd.SKIP)
    try:
        rtd.run(lambda: test(mnt))
    finally:
        if sh("umount", mnt)[0] != 0:
            sh("umount", "-l", mnt)
        os.rmdir(mnt)


main()
