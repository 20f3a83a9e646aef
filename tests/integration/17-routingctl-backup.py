"""routingctl backup DIR under load: while a sender posts in a loop, the
backup is written (size and duration printed, --json fields), the daemon
keeps answering 202, DIR holds only data.mdb; a non-empty or missing DIR
is refused.  Restore as documented (a stopped daemon's data_dir gets the
backup's data.mdb): a second daemon on other ports serves the queue, and
every message answered 202 before the backup started is in it."""

import os
import shutil
import threading
import time

import rtd


class Sender(threading.Thread):
    """Posts to bob until stopped; records (time answered, id) of each 202."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d, self.tok = d, rtd.token("alice")
        self.done = []
        self.errors = []
        self.halt = threading.Event()

    def run(self):
        i = 0
        while not self.halt.is_set():
            st, doc = self.d.send(self.tok, rtd.envelope(
                "bob", data="bXNnICVk", messageId="m%d" % i))
            if st == 202:
                self.done.append((time.monotonic(), doc["id"]))
            else:
                self.errors.append(st)
            i += 1


def drain(d, tok):
    """Every message id in tok's queue, paging with acks."""
    ids = []
    while True:
        st, got = d.fetch(tok, limit=500)
        rtd.check(st == 200, "fetch from the restored daemon")
        page = [m["id"] for m in got["messages"]]
        if not page:
            return ids
        ids += page
        rtd.check(d.ack(tok, page) in (200, 204), "ack a page")


def test():
    phone = rtd.token("bob", device="phone")
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        rtd.check(d.fetch(phone)[0] == 200, "bob's phone is known")
        bdir = os.path.join(d.dir, "backup")
        os.mkdir(bdir)
        s = Sender(d)
        s.start()
        rtd.wait_for(lambda: len(s.done) >= 200, 20, "200 messages sent")
        started = time.monotonic()
        before = {i for t, i in s.done if t < started}
        rc, out, err = d.ctl("backup", bdir)
        rtd.check(rc == 0 and "backup written: %s/data.mdb" % bdir in out
                  and " ms)" in out,
                  "backup under load succeeds and says size and time "
                  "(%d %r %r)" % (rc, out, err))
        n_during = len(s.done)
        time.sleep(0.3)
        rtd.check(len(s.done) > n_during, "the sender kept being served")
        s.halt.set()
        s.join(10)
        rtd.check(not s.errors, "every send was answered 202 (%s)"
                  % s.errors[:5])
        rtd.check(sorted(os.listdir(bdir)) == ["data.mdb"],
                  "DIR holds data.mdb only (%s)" % os.listdir(bdir))
        rtd.check(os.stat(os.path.join(bdir, "data.mdb")).st_mode & 0o777
                  == 0o600, "the copy is mode 0600")
        rc, out, err = d.ctl("backup", bdir)
        rtd.check(rc == 1 and "not empty" in err,
                  "a non-empty DIR is refused (%d %r)" % (rc, err))
        rc, out, err = d.ctl("backup", os.path.join(d.dir, "missing"))
        rtd.check(rc == 1 and "missing" in err,
                  "a missing DIR is refused (%d %r)" % (rc, err))
        jdir = os.path.join(d.dir, "backup2")
        os.mkdir(jdir)
        doc = d.ctl_json("backup", jdir)
        rtd.check(doc["ok"] is True and
                  doc["path"] == os.path.join(jdir, "data.mdb") and
                  doc["bytes"] == os.path.getsize(doc["path"]) and
                  doc["duration_ms"] >= 0,
                  "backup --json: path, bytes, duration_ms (%s)" % doc)

        # restore: a stopped daemon whose data_dir gets the backup
        with rtd.api_daemon(start=False, rate_limit_per_user=0) as r:
            os.makedirs(r.keys["data_dir"])
            shutil.copy(os.path.join(bdir, "data.mdb"), r.keys["data_dir"])
            r.start()
            got = drain(r, phone)
            rtd.check(before <= set(got),
                      "every message 202'd before the backup is restored "
                      "(%d of %d missing)" % (len(before - set(got)),
                                              len(before)))
            sent = {i for t, i in s.done}
            rtd.check(set(got) <= sent and len(got) == len(set(got)),
                      "nothing else, nothing twice")

rtd.run(test)
