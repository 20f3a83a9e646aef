"""TLS on the WebSocket port: a wss client (python3-websockets with a
context trusting the test CA) receives what is sent over https, large
frames included (many TLS records, decrypted bytes left in OpenSSL's
buffer), and its own send frames are answered.  Reload with renewed
certificate files: the established wss connection keeps working, new wss
and https connections see the new certificate (its serial number); a
reload with files that do not load is refused and changes nothing."""

import asyncio
import json
import os
import shutil
import ssl
import tempfile

import rtd
import tlscerts
import wsclient as wc


def serial_of(ws):
    return ws.transport.get_extra_info("ssl_object").getpeercert()[
        "serialNumber"]


def https_serial(d, ctx):
    return tlscerts.https_serial(d.api_port, ctx)


async def live(d, ws, alice, what, data="aGVsbG8="):
    st, doc = d.send(alice, rtd.envelope("bob", data=data))
    rtd.check(st == 202, "%s: sent over https" % what)
    m = await wc.recv(ws, 5)
    rtd.check(m is not None and m.get("id") == doc["id"] and
              m["envelope"]["encryptedData"] == data,
              "%s: the frame arrives over wss" % what)
    return m


async def own_send(ws, rid, data="aGVsbG8="):
    await ws.send(json.dumps({"type": "send", "requestId": rid,
                              "envelope": rtd.envelope("carol",
                                                       data=data)}))
    m = await wc.recv(ws, 5)
    rtd.check(m is not None and m.get("type") == "sent" and
              m.get("requestId") == rid,
              "a send frame over wss is answered (%r)" % (m,))


async def run(d, ctx, tmp, ca, ca_key):
    alice, bob = rtd.token("alice"), rtd.token("bob")
    d.send(alice, rtd.envelope("bob"))
    async with wc.connect(d, bob) as ws:
        got = await wc.until_empty(ws)
        rtd.check(len(got) == 1, "the backlog arrives over wss")
        rtd.check(serial_of(ws) == "01", "the first certificate (%s)"
                  % serial_of(ws))
        await live(d, ws, alice, "live")
        big = "QUJD" * 40000		# 160 kB: many TLS records
        for i in range(3):
            await live(d, ws, alice, "large %d" % i, data=big)
        await own_send(ws, "r1")
        await own_send(ws, "r2", data=big)
        await wc.ack(ws, [m["id"] for m in got])

        # renew the certificate in place (new key, serial 2) and reload
        tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=2)
        rc, out, err = d.ctl("reload")
        rtd.check(rc == 0, "reload with renewed files (%d %r)"
                  % (rc, out + err))
        await live(d, ws, alice, "after the reload, the old connection")
        await own_send(ws, "r3")
        rtd.check(serial_of(ws) == "01", "it keeps its certificate")
        async with wc.connect(d, rtd.token("dave")) as ws2:
            await wc.until_empty(ws2)
            rtd.check(serial_of(ws2) == "02",
                      "a new wss connection sees the new certificate (%s)"
                      % serial_of(ws2))
        rtd.wait_for(lambda: https_serial(d, ctx) == "02", 10,
                     "new https connections see the new certificate")

        # files that do not load: refused, nothing changes
        crt = os.path.join(tmp, "srv.pem")
        with open(crt, "w") as f:
            f.write("not a certificate\n")
        rc, out, err = d.ctl("reload")
        rtd.check(rc != 0 and "tls_cert" in out + err,
                  "a reload with a broken certificate is refused (%d %r)"
                  % (rc, out + err))
        await live(d, ws, alice, "after the refused reload")
        async with wc.connect(d, rtd.token("erin")) as ws3:
            await wc.until_empty(ws3)
            rtd.check(serial_of(ws3) == "02",
                      "new connections keep the running certificate")
        rtd.check(https_serial(d, ctx) == "02", "https too")


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-wss-", dir=rtd.TESTDIR)
    tlscerts.require()
    ca, ca_key = tlscerts.make_ca(tmp, "t37")
    crt, key = tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=1)
    ctx = ssl.create_default_context(cafile=ca)
    with rtd.api_daemon(ssl_context=ctx, tls_cert=crt, tls_key=key,
                        rate_limit_per_user=0,
                        max_envelope_bytes="256k") as d:
        asyncio.run(run(d, ctx, tmp, ca, ca_key))
    shutil.rmtree(tmp, ignore_errors=True)


rtd.run(test)
