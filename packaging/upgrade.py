#!/usr/bin/python3
"""upgrade.py: an upgrade of the installed package keeps every queued
message; a downgrade leaves the store alone; remove keeps data and
config; purge removes everything.

Usage (as root, routingd not installed): upgrade.py OLD.deb NEW.deb
OLD is built from a release with an older store schema, NEW from the
tree with a higher version, so that the upgrade runs a real migration
(packaging/test.sh builds both).  Each check prints "ok: ..." or
"FAIL: ..."; the first failure ends the script with exit status 1.

1. Install OLD, start it as the unit would (rtdpkg.Service), admit three
   devices of two users, queue messages for them and for a third user
   with no device yet (held), acknowledge one, stop.
2. Install NEW over it (dpkg runs the upgrade), start it: every device
   has exactly its messages, in order, the acknowledged one gone; the
   held message is adopted by a new device; one device's queue is
   delivered over WebSocket and acknowledged there, another's over HTTP.
   The store's schema record says the migration ran (mdb_dump).
3. Install OLD over NEW: the store is newer than OLD knows, so OLD's
   daemon never becomes ready and says why in its log, and data.mdb is
   byte for byte what NEW left.  No maintainer script refuses the
   downgrade (dpkg would run OLD's scripts in the end anyway); the daemon
   is what refuses, and the store stays usable by NEW.
4. Install NEW again: the messages queued before the downgrade are all
   there and deliverable.
5. dpkg --remove: the config, the store and the user stay; dpkg --purge:
   they are gone (the file list of the whole system is compared by
   packaging/test.sh)."""

import base64
import hashlib
import os
import pwd
import grp
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "debian", "tests"))
import rtdpkg  # noqa: E402
from rtdpkg import check, fetch, ack, http, CONF  # noqa: E402

DATA = "/var/lib/routingd"


def dpkg(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(["dpkg"] + list(args), capture_output=True,
                       text=True, env=env)
    return p.returncode, p.stdout + p.stderr


def installed_version():
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}",
                        "routingd"], capture_output=True, text=True)
    if p.returncode != 0 or "ok installed" not in p.stdout:
        return None
    return p.stdout.split()[-1]


def deb_version(deb):
    return subprocess.run(["dpkg-deb", "-f", deb, "Version"],
                          capture_output=True, text=True).stdout.strip()


def install(deb, what):
    rc, out = dpkg("-i", deb)
    check(rc == 0, "%s: dpkg -i %s%s" % (what, os.path.basename(deb),
                                         "" if rc == 0 else " (%d %s)" %
                                         (rc, out.strip()[-600:])))
    v = installed_version()
    check(v == deb_version(deb), "%s: version %s installed" % (what, v))
    return out


def send(tok, to, text):
    data = base64.b64encode(text.encode()).decode()
    st, js = http("POST", "/api/send", tok,
                  {"recipientId": to, "encryptedData": data})
    check(st == 202 and js and "id" in js,
          "send to %s answers 202 with an id (%d)" % (to, st))
    return js["id"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def schema():
    """The store's schema number (meta "schema": format byte, be32), or
    None without mdb_dump."""
    if shutil.which("mdb_dump") is None:
        return None
    p = subprocess.run(["mdb_dump", "-s", "meta", DATA],
                       capture_output=True, text=True)
    check(p.returncode == 0, "mdb_dump reads the store")
    lines = [l.strip() for l in p.stdout.split("\n")]
    key = "schema".encode().hex()
    i = lines.index(key)
    return int(lines[i + 1][2:10], 16)


SERVICES = []


def start(svc, what):
    SERVICES.append(svc)
    try:
        svc.start()
    except SystemExit:
        print(svc.output()[-3000:])
        raise
    check(True, "%s: the daemon is up" % what)


def main():
    old, new = sys.argv[1], sys.argv[2]
    rtdpkg.in_netns()
    check(installed_version() is None, "routingd is not installed yet")

    # 1. The old release, with messages.
    install(old, "install old")
    svc = rtdpkg.Service()
    start(svc, "old")
    t = {"phone": svc.token("alice", "phone"),
         "laptop": svc.token("alice", "laptop"),
         "tablet": svc.token("bob", "tablet")}
    for dev, tok in t.items():
        check(fetch(tok) == [], "%s admitted with an empty queue" % dev)
    a = [send(t["tablet"], "alice", "alice %d" % i) for i in range(3)]
    b = [send(t["phone"], "bob", "bob %d" % i) for i in range(2)]
    c = [send(t["phone"], "carol", "carol")]
    ack(t["phone"], a[:1])
    want = {"phone": a[1:], "laptop": a, "tablet": b}
    for dev, ids in want.items():
        check(fetch(t[dev]) == ids, "old: %s holds its %d messages" %
              (dev, len(ids)))
    old_schema = schema()
    check(svc.stop() == 0, "old: stops cleanly")

    # 2. The upgrade.
    install(new, "upgrade")
    check(os.path.exists(DATA + "/data.mdb"), "upgrade: the store is there")
    svc = rtdpkg.Service()
    start(svc, "new")
    new_schema = schema()
    if old_schema is not None:
        check(new_schema > old_schema, "the store was migrated: schema "
              "%s -> %s" % (old_schema, new_schema))
    for dev, ids in want.items():
        got = fetch(t[dev])
        check(got == ids, "new: %s still holds exactly its messages, in "
              "order (%s)" % (dev, got))
    desk = svc.token("carol", "desk")
    check(fetch(desk) == c, "new: carol's held message is adopted by a "
          "new device")
    got = rtdpkg.ws_receive_ack(t["laptop"])
    check(got == a, "new: laptop's queue arrives over WebSocket (%s)" % got)
    ack(t["phone"], a[1:])
    end = time.time() + 10
    while fetch(t["laptop"]) and time.time() < end:
        time.sleep(0.2)
    check(fetch(t["laptop"]) == [] and fetch(t["phone"]) == [],
          "new: acknowledged messages are gone")
    check(svc.stop() == 0, "new: stops cleanly")

    # 3. The downgrade.
    digest = sha256(DATA + "/data.mdb")
    out = install(old, "downgrade")
    print("# dpkg said: %s" % out.strip().replace("\n", "\n# "))
    svc = rtdpkg.Service()
    SERVICES.append(svc)
    svc.start(wait_ready=False)
    ready = svc.wait_note("READY=1", 8)
    svc.kill()
    log = svc.output()
    print("# old daemon on the new store:\n# " +
          "\n# ".join(log.strip().split("\n")[-6:]))
    check(not ready, "downgrade: the old daemon does not become ready on "
          "the newer store")
    check("newer than this routingd" in log,
          "downgrade: its log says the store is newer than it")
    check(sha256(DATA + "/data.mdb") == digest,
          "downgrade: data.mdb is untouched")

    # 4. Back to the new version.
    install(new, "upgrade again")
    svc = rtdpkg.Service()
    start(svc, "new again")
    check(fetch(t["tablet"]) == b and fetch(desk) == c,
          "new again: the messages queued before the downgrade are there")
    ack(t["tablet"], b)
    ack(desk, c)
    check(fetch(t["tablet"]) == [] and fetch(desk) == [],
          "new again: and acknowledged")
    check(svc.stop() == 0, "new again: stops cleanly")

    # 5. Remove, purge.
    rc, out = dpkg("--remove", "routingd")
    check(rc == 0, "dpkg --remove (%d %s)" % (rc, out.strip()[-300:]))
    check(not os.path.exists("/usr/sbin/routingd"), "remove: binaries gone")
    check(os.path.exists(CONF), "remove: the config stays")
    check(os.path.exists(DATA + "/data.mdb"), "remove: the store stays")
    check(pwd.getpwnam("routingd") is not None, "remove: the user stays")
    rc, out = dpkg("--purge", "routingd")
    check(rc == 0, "dpkg --purge (%d %s)" % (rc, out.strip()[-300:]))
    for path in ("/etc/routingd", DATA, "/run/routingd", "/var/log/routingd"):
        check(not os.path.exists(path), "purge: %s is gone" % path)
    names = [p.pw_name for p in pwd.getpwall()]
    check("routingd" not in names, "purge: the user is gone")
    check("routingd" not in [g.gr_name for g in grp.getgrall()],
          "purge: the group is gone")
    check(installed_version() is None and
          subprocess.run(["dpkg", "-s", "routingd"],
                         capture_output=True).returncode != 0,
          "purge: dpkg knows no routingd")


try:
    main()
finally:
    # A failed check leaves no daemon behind (it would keep the user).
    for s in SERVICES:
        s.kill()
