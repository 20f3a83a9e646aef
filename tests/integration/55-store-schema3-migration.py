"""A store written by the previous release (on-disk schema 3,
tests/unit/data/qstore/schema3.dump) opens and keeps its messages, devices
and push registrations; its devices' last-seen times are reset to the
migration time, so device_idle_ttl does not forget them at once; new
sends reach the migrated devices; a second open of the migrated store
keeps everything."""

import os
import signal
import subprocess
import time

import rtd

DUMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "unit", "data", "qstore", "schema3.dump")

ALICE_PHONE = [("h0000000000000003", 3), ("h0000000000000006", 6),
               ("n0000000000000001", 1), ("n0000000000000002", 2),
               ("n0000000000000005", 5)]
ALICE_LAPTOP = [("h0000000000000003", 3), ("h0000000000000006", 6),
                ("n0000000000000002", 2), ("n0000000000000005", 5)]
BOB_DEFAULT = [("n0000000000000004", 4)]


def queue(d, tok, limit=100):
    st, doc = d.fetch(tok, limit=limit)
    rtd.check(st == 200, "GET /api/messages is 200 (got %s)" % st)
    return [(m["id"], m["envelope"].get("m")
             if isinstance(m["envelope"], dict) else m["envelope"])
            for m in doc["messages"]]


def devices(d, tok):
    st, _, doc = d.api("GET", "/api/devices", tok)
    rtd.check(st == 200, "GET /api/devices is 200 (got %s)" % st)
    return {x["deviceId"]: x for x in doc["devices"]}


def schema_version(data_dir):
    """The be32 after the format byte of meta "schema" (mdb_dump)."""
    p = subprocess.run(["mdb_dump", "-s", "meta", data_dir],
                       capture_output=True, text=True, timeout=10)
    rtd.check(p.returncode == 0, "mdb_dump reads the store%s"
              % ("" if p.returncode == 0 else " (%s)" % p.stderr))
    lines = [ln.strip() for ln in p.stdout.splitlines()
             if ln.startswith(" ")]
    pairs = dict(zip(lines[0::2], lines[1::2]))
    v = pairs.get(b"schema".hex())
    return int(v[2:10], 16) if v else None


def check_queues(d, phone, laptop, bob, extra, when):
    got = queue(d, phone)
    rtd.check(got == ALICE_PHONE + extra, "%s: alice/phone's queue "
              "(got %s)" % (when, got))
    got = queue(d, laptop)
    rtd.check(got == ALICE_LAPTOP + extra, "%s: alice/laptop's queue "
              "(got %s)" % (when, got))
    got = queue(d, bob)
    rtd.check(got == BOB_DEFAULT, "%s: bob/default's queue (got %s)"
              % (when, got))


def test():
    if not os.path.exists(DUMP):
        print("no %s" % DUMP)
        raise SystemExit(rtd.SKIP)
    phone = rtd.token("alice", device="phone")
    laptop = rtd.token("alice", device="laptop")
    bob = rtd.token("bob")
    with rtd.api_daemon(start=False, rate_limit_per_user=0) as d:
        data = d.keys["data_dir"]
        os.makedirs(data, exist_ok=True)
        p = subprocess.run(["mdb_load", "-f", DUMP, data],
                           capture_output=True, text=True, timeout=30)
        rtd.check(p.returncode == 0, "mdb_load loads the schema 3 dump%s"
                  % ("" if p.returncode == 0 else " (%s)" % p.stderr))
        rtd.check(schema_version(data) == 3, "the loaded store is schema 3")
        t0_ms = int(time.time() * 1000)
        d.start()
        # two sweeps before anything marks a device seen: with the default
        # device_idle_ttl (30d) the 2023 last-seen times must not count
        time.sleep(2.5)
        devs = devices(d, phone)
        rtd.check(sorted(devs) == ["laptop", "phone"],
                  "alice's migrated devices are phone and laptop, none "
                  "forgotten after 2.5 s (got %s)" % sorted(devs))
        rtd.check(devs["phone"]["push"] == {"platform": "apns",
                                            "appId": "org.example.app"}
                  and devs["laptop"]["push"] is None,
                  "phone keeps its apns registration (got %s)"
                  % devs["phone"]["push"])
        rtd.check(devs["phone"]["queued"] == 5 and
                  devs["laptop"]["queued"] == 4,
                  "queue depths 5 and 4 (got %s, %s)"
                  % (devs["phone"]["queued"], devs["laptop"]["queued"]))
        seen = {k: v.get("lastSeenMs") for k, v in devs.items()}
        rtd.check(all(isinstance(v, int) and v >= t0_ms - 2000
                      for v in seen.values()),
                  "the migration reset the last-seen times to the "
                  "migration time (got %s, started at %d)" % (seen, t0_ms))
        rtd.check(sorted(devices(d, bob)) == ["default"],
                  "bob's migrated device \"default\" is kept")

        check_queues(d, phone, laptop, bob, [], "after migration")
        st, doc = d.send(rtd.token("carol"), rtd.envelope("alice"))
        rtd.check(st == 202, "a new send to alice is 202")
        new = (doc["id"], None)
        check_queues(d, phone, laptop, bob, [new], "after a new send")

        d.signal(signal.SIGTERM)
        rtd.check(d.wait_exit(10) == 0, "routingd stops cleanly")
        d.stop()
        v = schema_version(data)
        rtd.check(v is not None and v > 3,
                  "the store's schema record moved past 3 (got %s)" % v)
        d.start()
        check_queues(d, phone, laptop, bob, [new],
                     "after reopening the migrated store")
        rtd.check(sorted(devices(d, phone)) == ["laptop", "phone"],
                  "alice still has phone and laptop")


rtd.run(test)
