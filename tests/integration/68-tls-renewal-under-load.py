"""A certificate renewed the way certbot renews it, while messages flow.

tls_cert and tls_key name symlinks in a live/ directory that point at
numbered files in archive/, as certbot lays them out.  Under load (https
senders on keep-alive connections, one sender that makes a new
connection, a full handshake, per request, and wss receivers that
acknowledge what they get), the renewal writes new files into archive/,
moves the certificate link first and the key link after it.  A reload
between the two moves (certificate and key do not match) is refused and
the running certificate stays; the reload after both moves is applied.
Throughout: every request gets an answer, and it is 202; every 202'd
message reaches its wss receiver, whose connection stays open across both
renewals; after each renewal new https and wss connections see the new
certificate (its serial number)."""

import asyncio
import http.client
import json
import os
import shutil
import ssl
import tempfile
import threading
import time

import rtd
import tlscerts
import wsclient as wc

USERS = ["r0", "r1", "r2", "r3"]


class Load:
    """https senders in threads: 3 on keep-alive connections, 1 with a
    new connection per request.  Records the id of every 202 and every
    failure (no answer, or an answer that is not 202)."""

    def __init__(self, d, ctx):
        self.d, self.ctx = d, ctx
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = {u: set() for u in USERS}
        self.failures = []
        self.count = 0
        self.threads = [threading.Thread(target=self.run, args=(i, i < 3),
                                         daemon=True) for i in range(4)]

    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.d.api_port,
                                           context=self.ctx, timeout=10)

    def one(self, c, i, n):
        to = USERS[(i + n) % len(USERS)]
        body = json.dumps(rtd.envelope(to))
        c.request("POST", "/api/send", body=body, headers={
            "Authorization": "Bearer " + self.tok,
            "Content-Type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        if r.status != 202:
            raise RuntimeError("status %d: %r" % (r.status, raw[:200]))
        with self.lock:
            self.sent[to].add(json.loads(raw)["id"])
            self.count += 1

    def run(self, i, keepalive):
        c = self.conn()
        n = 0
        while not self.stop.is_set():
            try:
                self.one(c, i, n)
            except Exception as e:	# noqa: BLE001 (recorded, judged later)
                with self.lock:
                    self.failures.append("sender %d request %d: %r"
                                         % (i, n, e))
                c.close()
                c = self.conn()
            if not keepalive:
                c.close()
                c = self.conn()
            n += 1
            time.sleep(0.002)
        c.close()

    def start(self):
        self.tok = rtd.token("sender")
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(20)


def relink(live, name, target):
    """Point live/name at target as certbot does: a new link renamed over
    the old one, so the name always resolves."""
    tmp = os.path.join(live, "." + name + ".new")
    os.symlink(target, tmp)
    os.replace(tmp, os.path.join(live, name))


def https_serial(d, ctx):
    return tlscerts.https_serial(d.api_port, ctx)


async def wss_serial(d):
    async with wc.connect(d, rtd.token("probe")) as ws:
        return ws.transport.get_extra_info(
            "ssl_object").getpeercert()["serialNumber"]


async def receive(ws, user, got, stop):
    """Collect message ids for user and acknowledge them, until stop."""
    while not stop.is_set():
        m = await wc.recv(ws, 0.5)
        if m is None or "id" not in m:
            continue
        got[user].add(m["id"])
        await wc.ack(ws, [m["id"]])


async def renew(d, ctx, tmp, ca, ca_key, serial):
    archive, live = os.path.join(tmp, "archive"), os.path.join(tmp, "live")
    tlscerts.make_cert(archive, "cert%d" % serial, ca, ca_key, serial)
    old = "%02X" % (serial - 1)
    relink(live, "fullchain.pem", "../archive/cert%d.pem" % serial)
    rc, out, err = await asyncio.to_thread(d.ctl, "reload")
    rtd.check(rc != 0 and "tls" in out + err,
              "renewal %d: a reload between the two links (certificate "
              "and key do not match) is refused (%d %r)"
              % (serial, rc, out + err))
    rtd.check(await asyncio.to_thread(https_serial, d, ctx) == old,
              "renewal %d: the refused reload keeps the running "
              "certificate" % serial)
    relink(live, "privkey.pem", "../archive/cert%d.key" % serial)
    rc, out, err = await asyncio.to_thread(d.ctl, "reload")
    rtd.check(rc == 0, "renewal %d: the reload after both links is "
              "applied (%d %r)" % (serial, rc, out + err))
    new = "%02X" % serial
    deadline = time.monotonic() + 10
    while await asyncio.to_thread(https_serial, d, ctx) != new:
        rtd.check(time.monotonic() < deadline, "renewal %d: new https "
                  "connections see the new certificate" % serial)
        await asyncio.sleep(0.1)
    rtd.check(await wss_serial(d) == new, "renewal %d: new wss "
              "connections see the new certificate" % serial)


async def run(d, ctx, tmp, ca, ca_key):
    got = {u: set() for u in USERS}
    stop = asyncio.Event()
    conns = []
    for u in USERS:
        ws = await wc.connect(d, rtd.token(u))
        await wc.until_empty(ws)
        conns.append(ws)
    tasks = [asyncio.create_task(receive(ws, u, got, stop))
             for ws, u in zip(conns, USERS)]
    load = Load(d, ctx)
    load.start()
    await asyncio.sleep(1.5)
    for serial in (2, 3):
        await renew(d, ctx, tmp, ca, ca_key, serial)
        await asyncio.sleep(1.5)
    await asyncio.to_thread(load.finish)

    rtd.check(not load.failures, "every request during the renewals got "
              "a 202 (%d failed of %d: %s)" % (len(load.failures),
                                               load.count + len(load.failures),
                                               load.failures[:5]))
    rtd.check(load.count > 100, "the load ran (%d messages)" % load.count)
    deadline = time.monotonic() + 15
    while any(load.sent[u] - got[u] for u in USERS):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    missing = sum(len(load.sent[u] - got[u]) for u in USERS)
    rtd.check(missing == 0, "every 202'd message reached its wss receiver "
              "(%d of %d missing)" % (missing, load.count))
    for ws, u in zip(conns, USERS):
        rtd.check(ws.open, "the wss connection of %s stayed open across "
                  "both renewals" % u)
        rtd.check(ws.transport.get_extra_info("ssl_object").getpeercert()[
            "serialNumber"] == "01", "and kept its certificate")
    stop.set()
    await asyncio.gather(*tasks)
    for ws in conns:
        await ws.close()
    print("# %d messages sent and delivered during two renewals"
          % load.count)


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-renew-", dir=rtd.TESTDIR)
    tlscerts.require()
    ca, ca_key = tlscerts.make_ca(tmp, "t68")
    archive, live = os.path.join(tmp, "archive"), os.path.join(tmp, "live")
    os.mkdir(archive)
    os.mkdir(live)
    tlscerts.make_cert(archive, "cert1", ca, ca_key, serial=1)
    relink(live, "fullchain.pem", "../archive/cert1.pem")
    relink(live, "privkey.pem", "../archive/cert1.key")
    ctx = ssl.create_default_context(cafile=ca)
    with rtd.api_daemon(ssl_context=ctx,
                        tls_cert=os.path.join(live, "fullchain.pem"),
                        tls_key=os.path.join(live, "privkey.pem"),
                        api_workers=2, ws_workers=2,
                        rate_limit_per_user=0) as d:
        asyncio.run(run(d, ctx, tmp, ca, ca_key))
    shutil.rmtree(tmp, ignore_errors=True)


rtd.run(test)
