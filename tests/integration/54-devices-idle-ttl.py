"""device_idle_ttl: a device not seen for that long is forgotten with its
queue by the sweep (counted in routingd_devices_forgotten_total, logged
once); a device with a live WebSocket is always seen and kept; later
sends to the user are not queued for the forgotten one.  routingd -n
accepts the key."""

import asyncio
import os
import subprocess
import tempfile
import time

import rtd
import wsclient as wc

FORGOTTEN = "routingd_devices_forgotten_total"


def check_config(text):
    """routingd -n on a file of text: (exit status, output)."""
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False,
                                     dir=rtd.TESTDIR) as f:
        f.write(text)
    try:
        p = subprocess.run([rtd.ROUTINGD, "-n", "-f", f.name],
                           capture_output=True, text=True, timeout=10)
        return p.returncode, p.stdout + p.stderr
    finally:
        os.unlink(f.name)


def device_list(d, tok):
    """{deviceId: entry} of GET /api/devices (not a "seen" request)."""
    st, _, doc = d.api("GET", "/api/devices", tok)
    if st != 200 or not isinstance(doc, dict):
        raise rtd.Failure("GET /api/devices answered %s %s" % (st, doc))
    return {x["deviceId"]: x for x in doc["devices"]}


def device_names(d, tok):
    return sorted(device_list(d, tok))


def forgot_lines(d):
    return [ln for ln in d.log().splitlines() if "forgot" in ln]


async def run(d):
    a = rtd.token("alice")
    old = rtd.token("bob", device="old")
    wst = rtd.token("bob", device="ws")
    st, doc = d.fetch(old)
    rtd.check(st == 200, "bob/old becomes known by one GET")
    t_old = time.monotonic()
    async with wc.connect(d, wst) as ws:
        rtd.check(await wc.until_empty(ws) == [], "bob/ws connects")
        # a message for bob: ws reads and acks it, old keeps its copy
        st, doc = d.send(a, rtd.envelope("bob"))
        rtd.check(st == 202, "a message to bob is 202")
        m0 = doc["id"]
        m = await wc.recv(ws, 2)
        rtd.check(m is not None and m.get("id") == m0, "ws receives it")
        await wc.ack(ws, [m0])
        devs = rtd.wait_for(lambda: (lambda x: x if x.get("ws", {}).get(
            "queued") == 0 else None)(device_list(d, wst)), 5,
            "ws's ack is committed")
        rtd.check(sorted(devs) == ["old", "ws"] and
                  devs["old"]["queued"] == 1,
                  "both devices are known at first, old holds 1 message "
                  "(got %s)" % devs)
        before = forgot_lines(d)

        # ws stays connected (websockets answers the pings) while old
        # is not seen for longer than device_idle_ttl
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: rtd.wait_for(
            lambda: device_names(d, wst) == ["ws"], 8,
            "bob/old forgotten, bob/ws kept"))
        gone = time.monotonic() - t_old
        rtd.check(gone >= 1.9, "not before device_idle_ttl (2 s) passed "
                  "(forgotten after %.1f s)" % gone)
        print("# bob/old forgotten %.1f s after its last GET" % gone)
        rtd.check(d.metrics().get(FORGOTTEN) == 1,
                  "%s is 1 (got %s)" % (FORGOTTEN,
                                        d.metrics().get(FORGOTTEN)))
        await asyncio.sleep(2.5)	# two more sweeps
        new = forgot_lines(d)[len(before):]
        rtd.check(len(new) == 1, "one \"forgot\" line in the log, not one "
                  "per sweep (got %d: %s)" % (len(new), new))
        rtd.check(device_names(d, wst) == ["ws"] and
                  d.metrics().get(FORGOTTEN) == 1,
                  "the connected device is never forgotten (%.1f s)"
                  % (time.monotonic() - t_old))

        st, doc = d.send(a, rtd.envelope("bob"))
        rtd.check(st == 202, "a later send to bob is 202")
        m1 = doc["id"]
        m = await wc.recv(ws, 2)
        rtd.check(m is not None and m.get("id") == m1,
                  "bob/ws receives it")
    # old comes back as a new device: its old queue (m0) went with it and
    # m1, sent while it was forgotten, was not queued for it
    st, doc = d.fetch(old)
    rtd.check(st == 200 and doc["messages"] == [],
              "bob/old's queue was dropped when it was forgotten and the "
              "later message was not queued for it (got %s)"
              % [x["id"] for x in doc["messages"]])


def test():
    rc, out = check_config("device_idle_ttl = 2s\n")
    rtd.check(rc == 0, "routingd -n accepts device_idle_ttl = 2s "
              "(rc=%d %r)" % (rc, out))
    rc, out = check_config("device_idle_ttl = 0\n")
    rtd.check(rc == 0, "and device_idle_ttl = 0 (never) (rc=%d %r)"
              % (rc, out))
    rc, out = check_config("device_idle_ttl = soon\n")
    rtd.check(rc == 1, "and refuses device_idle_ttl = soon (rc=%d)" % rc)
    with rtd.api_daemon(device_idle_ttl="2s", rate_limit_per_user=0) as d:
        asyncio.run(run(d))


rtd.run(test)
