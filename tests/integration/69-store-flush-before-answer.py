"""No answer, frame or doorbell leaves a process while its store writes
are not flushed.

The store's commits write the data pages and flush them under LMDB's
writer lock, write the meta page, and flush that after the lock is
released (src/qstore.c, qs_commit); a 202 or 204 is true only if it
leaves after that second flush.  tests/crash/cutsync.so with
RTD_CHECK_ANSWERS=1 makes any process that writes to a socket while it
has unflushed writes to data.mdb exit with status 97.

First the check itself, on a small Python program: a write to a file
named data.mdb followed by a send on a socket exits 97; with an
fdatasync between them, or through an O_DSYNC descriptor, it does not.
Then the daemon with the library in every process, under traffic that
makes every kind of commit: HTTP sends (keep-alive, pipelined arrays),
fetches and acks, WebSocket deliveries, acks and send frames, device
registration, routingctl backup and purge, a reload; no process exits
97, every request is answered as it should be."""

import asyncio
import json
import os
import subprocess
import tempfile
import threading

import rtd
import wsclient as wc

CUTSYNC = os.path.abspath(os.environ.get("RTD_CUTSYNC",
                                         "tests/crash/cutsync.so"))

PROBE = r"""
import os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
flags = os.O_WRONLY | os.O_CREAT | (os.O_DSYNC if mode == "dsync" else 0)
fd = os.open(path, flags, 0o600)
os.write(fd, b"x" * 4096)
if mode == "flush":
    os.fdatasync(fd)
a, b = socket.socketpair()
a.send(b"answer")
sys.exit(0)
"""


def env_with_check():
    env = dict(os.environ)
    env.update(LD_PRELOAD=CUTSYNC, RTD_CHECK_ANSWERS="1",
               ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") +
               ":verify_asan_link_order=0")
    return env


def check_the_check(tmp):
    path = os.path.join(tmp, "data.mdb")
    for mode, want in (("plain", 97), ("flush", 0), ("dsync", 0)):
        if os.path.exists(path):
            os.unlink(path)
        p = subprocess.run(["/usr/bin/python3", "-c", PROBE, path, mode],
                           env=env_with_check(), capture_output=True,
                           timeout=30)
        rtd.check(p.returncode == want,
                  "the check: a socket send after a %s write to data.mdb "
                  "exits %d (%d, %r)" % (mode, want, p.returncode,
                                         p.stderr[-200:]))


def http_load(d, failures, stop):
    tok = rtd.token("sender")
    n = 0
    while not stop.is_set():
        to = ["w0", "w1", "off0", "off1"][n % 4]
        body = rtd.envelope(to) if n % 3 else [rtd.envelope(to),
                                                rtd.envelope("off1")]
        st, doc = d.send(tok, body)
        if st != 202:
            failures.append("send %d: %d %r" % (n, st, doc))
        n += 1


def offline_reader(d, failures, stop):
    toks = [rtd.token("off0"), rtd.token("off1")]
    while not stop.is_set():
        for t in toks:
            st, doc = d.fetch(t, limit=100)
            if st != 200:
                failures.append("fetch: %d" % st)
                continue
            ids = [m["id"] for m in doc["messages"]]
            if ids and d.ack(t, ids) != 204:
                failures.append("ack over HTTP refused")


async def ws_user(d, user, stop, failures, got):
    async with wc.connect(d, rtd.token(user)) as ws:
        await wc.until_empty(ws)
        n = 0
        while not stop.is_set():
            m = await wc.recv(ws, 0.2)
            if m is not None and "id" in m:
                got[user] = got.get(user, 0) + 1
                await wc.ack(ws, [m["id"]])
            elif m is not None and m.get("type") == "error":
                failures.append("%s: %r" % (user, m))
            if n % 10 == 0:
                await ws.send(json.dumps({
                    "type": "send", "requestId": "r%d" % n,
                    "envelope": rtd.envelope("off0")}))
            n += 1


async def ws_load(d, stop, failures, got):
    await asyncio.gather(*(ws_user(d, u, stop, failures, got)
                           for u in ("w0", "w1")))


def operator(d, tmp, failures):
    tok = rtd.token("dev-user", device="phone")
    st, _, doc = d.api("POST", "/api/devices", tok,
                       {"deviceId": "phone", "platform": "android",
                        "pushToken": "tok-69", "appId": "org.example.app"})
    if st not in (200, 201, 204):
        failures.append("device register: %d %r" % (st, doc))
    os.mkdir(os.path.join(tmp, "backup"))
    rc, out, err = d.ctl("backup", os.path.join(tmp, "backup"))
    if rc != 0:
        failures.append("backup: %d %r" % (rc, out + err))
    rc, out, err = d.ctl("purge", "-y", "off1")
    if rc != 0:
        failures.append("purge: %d %r" % (rc, out + err))
    rc, out, err = d.ctl("reload")
    if rc != 0:
        failures.append("reload: %d %r" % (rc, out + err))


def test():
    if not os.path.exists(CUTSYNC):
        print("# SKIP: %s not built (make check builds it)" % CUTSYNC)
        raise SystemExit(rtd.SKIP)
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-flush-", dir=rtd.TESTDIR)
    check_the_check(tmp)

    with rtd.api_daemon(start=False, rate_limit_per_user=0,
                        api_workers=2, ws_workers=2) as d:
        d.start(env=env_with_check())
        failures, got = [], {}
        stop = threading.Event()
        threads = [threading.Thread(target=http_load,
                                    args=(d, failures, stop)),
                   threading.Thread(target=offline_reader,
                                    args=(d, failures, stop))]
        for t in threads:
            t.start()

        async def main():
            loop = asyncio.get_running_loop()
            wsl = asyncio.create_task(ws_load(d, stop, failures, got))
            await asyncio.sleep(1.5)
            await loop.run_in_executor(None, operator, d, tmp, failures)
            await asyncio.sleep(2.5)
            stop.set()
            await wsl
        try:
            asyncio.run(main())
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        log = d.log()
        rtd.check("cutsync:" not in log and "status 97" not in log,
                  "no process wrote to a socket with unflushed store "
                  "writes (%r)" % [ln for ln in log.splitlines()
                                   if "cutsync" in ln or " 97" in ln][:5])
        rtd.check(not failures, "every request was answered as it should "
                  "be (%d failures: %s)" % (len(failures), failures[:5]))
        rtd.check(sum(got.values()) > 20, "the WebSocket users received "
                  "messages (%r)" % got)
        st, _, _ = d.request("GET", "/healthz")
        rtd.check(st == 200, "the daemon still serves")
        print("# WebSocket deliveries %r; the check held in every process"
              % got)


rtd.run(test)
