"""A store written by a newer routingd (a schema above this build's, as
after a package downgrade) stops the start at once: exit status 1, one
message naming both schemas and saying it is not starting, no worker
forked, and data.mdb byte for byte unchanged.  With its schema record
set back, the same store starts and still serves the message queued
before (nothing but the schema made the difference)."""

import hashlib
import os
import shutil
import subprocess
import sys

import rtd


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def set_schema(data, fn):
    """Rewrite meta "schema" (format byte, be32) with fn(old) through
    mdb_dump and mdb_load; returns the old number."""
    p = subprocess.run(["mdb_dump", "-s", "meta", data],
                       capture_output=True, text=True, timeout=10)
    rtd.check(p.returncode == 0, "mdb_dump reads the store")
    lines = p.stdout.split("\n")
    key = " " + b"schema".hex()
    i = lines.index(key)
    old = int(lines[i + 1].strip()[2:10], 16)
    lines[i + 1] = " %s%08x" % (lines[i + 1].strip()[:2], fn(old))
    p = subprocess.run(["mdb_load", "-s", "meta", data],
                       input="\n".join(lines), capture_output=True,
                       text=True, timeout=10)
    rtd.check(p.returncode == 0, "mdb_load writes the schema record (%s)"
              % p.stderr.strip())
    return old


def test():
    if shutil.which("mdb_dump") is None or shutil.which("mdb_load") is None:
        print("SKIP: mdb_dump and mdb_load (lmdb-utils) are not installed")
        sys.exit(rtd.SKIP)
    alice = rtd.token("alice", device="phone")
    with rtd.api_daemon() as d:
        data = d.keys["data_dir"]
        st, _ = d.fetch(alice)
        rtd.check(st == 200, "alice/phone is admitted")
        st, doc = d.send(rtd.token("bob"), rtd.envelope("alice"))
        rtd.check(st == 202, "a message for alice is queued")
        mid = doc["id"]
        d.stop()

        ours = set_schema(data, lambda v: v + 1)
        digest = sha256(os.path.join(data, "data.mdb"))
        before = len(d.log())
        d.start(wait=False)
        try:
            rc = d.wait_exit(10)
        except rtd.Failure:
            rtd.check(False, "routingd exits at once on a newer store")
        log = d.log()[before:]
        rtd.check(rc == 1, "exit status 1 (got %s)" % rc)
        rtd.check("store schema %d is newer than this routingd (schema %d)"
                  % (ours + 1, ours) in log and "not starting" in log,
                  "the log names both schemas and says it is not "
                  "starting")
        rtd.check("worker up" not in log, "no worker was started")
        d.stop()
        rtd.check(sha256(os.path.join(data, "data.mdb")) == digest,
                  "data.mdb is unchanged")

        set_schema(data, lambda v: ours)
        d.start()
        st, doc = d.fetch(alice)
        rtd.check(st == 200 and [m["id"] for m in doc["messages"]] == [mid],
                  "with its own schema the store serves the queued "
                  "message")


rtd.run(test)
