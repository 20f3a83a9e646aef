"""TLS on the API port (tls_cert, tls_key): GET /healthz and POST
/api/send over https with curl --cacert and with Python's ssl module (ALPN
http/1.1, keep-alive), TLS 1.3 only with tls_min_version = 1.3.  Plain
HTTP to the TLS port fails without an answer; a stalled handshake
(connect, send nothing) is closed after client_header_timeout and counted
as "timeout", garbage as "protocol", in
routingd_tls_handshake_failures_total.  routingd -n and routingctl
check-config refuse a key that does not match the certificate."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import rtd
import tlscerts


def failures(d):
    m = d.metrics()
    return {r: m.get('routingd_tls_handshake_failures_total{reason="%s"}'
                     % r) for r in ("timeout", "protocol", "closed", "other")}


def curl(d, ca, *args):
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", ca,
                        "-w", "\n%{http_code} %{http_version}"] +
                       list(args), capture_output=True, timeout=10)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def plain_to_tls(d):
    """A plain HTTP request gets no HTTP answer: EOF or a reset."""
    s = socket.create_connection(("127.0.0.1", d.api_port), timeout=5)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return data


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-tls-", dir=rtd.TESTDIR)
    tlscerts.require()
    ca, ca_key = tlscerts.make_ca(tmp, "t36")
    crt, key = tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=36)
    ctx = ssl.create_default_context(cafile=ca)
    with rtd.api_daemon(ssl_context=ctx, tls_cert=crt, tls_key=key,
                        client_header_timeout="1s") as d:
        url = "https://127.0.0.1:%d" % d.api_port
        rc, out, err = curl(d, ca, url + "/healthz")
        rtd.check(rc == 0 and out == "OK\n\n200 1.1",
                  "curl --cacert: https GET /healthz (%d %r %r)"
                  % (rc, out, err))
        alice = rtd.token("alice")
        bob = rtd.token("bob", device="phone")
        rc, out, err = curl(d, ca, "-X", "POST", "-H",
                            "Authorization: Bearer " + alice, "-H",
                            "Content-Type: application/json", "--data",
                            json.dumps(rtd.envelope("bob")),
                            url + "/api/send")
        rtd.check(rc == 0 and out.endswith("\n202 1.1") and
                  json.loads(out.rsplit("\n", 1)[0]).get("id"),
                  "curl: https POST /api/send is accepted (%d %r %r)"
                  % (rc, out, err))
        # Python's ssl: ALPN, keep-alive, a send and a fetch
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        c = http.client.HTTPSConnection("127.0.0.1", d.api_port,
                                        context=ctx, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        rtd.check(r.status == 200 and r.read() == b"OK\n",
                  "python ssl: GET /healthz")
        rtd.check(c.sock.selected_alpn_protocol() == "http/1.1",
                  "ALPN selects http/1.1 (%r)"
                  % c.sock.selected_alpn_protocol())
        rtd.check(c.sock.version() in ("TLSv1.2", "TLSv1.3"),
                  "TLS 1.2 or 1.3 (%s)" % c.sock.version())
        sock = c.sock
        c.request("POST", "/api/send", body=json.dumps(rtd.envelope("bob")),
                  headers={"Authorization": "Bearer " + alice,
                           "Content-Type": "application/json"})
        r = c.getresponse()
        rtd.check(r.status == 202 and json.loads(r.read()).get("id"),
                  "python ssl: POST /api/send on the same connection")
        rtd.check(c.sock is sock, "the connection was kept alive")
        c.close()
        st, doc = d.fetch(bob)
        rtd.check(st == 200 and len(doc["messages"]) == 2,
                  "both sends over TLS were stored (%s)" % doc)
        # a big answer: many TLS records, partial writes
        for i in range(40):
            d.send(alice, rtd.envelope("bob", data="QUFB" * 2000))
        st, doc = d.fetch(bob, limit=100)
        rtd.check(st == 200 and len(doc["messages"]) == 42,
                  "a large answer over TLS arrives whole")

        before = failures(d)
        data = plain_to_tls(d)
        rtd.check(b"HTTP/1.1" not in data,
                  "plain HTTP to the TLS port gets no HTTP answer (%r)"
                  % data[:80])
        # stalled handshake: closed after the header timeout
        s = socket.create_connection(("127.0.0.1", d.api_port), timeout=5)
        t0 = time.monotonic()
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        took = time.monotonic() - t0
        s.close()
        rtd.check(got == b"" and 0.8 <= took < 3,
                  "a stalled handshake is closed after client_header_timeout"
                  " (%.2fs)" % took)
        s = socket.create_connection(("127.0.0.1", d.api_port), timeout=5)
        s.sendall(os.urandom(8) + b"\x16\x03\x01\x00\x05garbage" * 4)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
        s.close()
        time.sleep(0.2)
        after = failures(d)
        rtd.check(after["timeout"] == before["timeout"] + 1,
                  "the stalled handshake counts as timeout (%s -> %s)"
                  % (before, after))
        rtd.check(after["protocol"] == before["protocol"] + 2,
                  "plain HTTP and garbage count as protocol (%s -> %s)"
                  % (before, after))
        rtd.check(d.get("/healthz")[0] == 200,
                  "the worker serves on after the bad handshakes")
        rtd.check("garbage" not in d.log() and
                  "handshake" not in d.log().lower(),
                  "handshake failures are not logged")

    # TLS 1.3 only: a TLS 1.2 client is refused, a 1.3 one served
    ctx13 = ssl.create_default_context(cafile=ca)
    with rtd.api_daemon(ssl_context=ctx13, tls_cert=crt, tls_key=key,
                        tls_min_version="1.3") as d:
        old = ssl.create_default_context(cafile=ca)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        c = http.client.HTTPSConnection("127.0.0.1", d.api_port,
                                        context=old, timeout=5)
        try:
            c.request("GET", "/healthz")
            c.getresponse()
            refused = False
        except (ssl.SSLError, ConnectionError):
            refused = True
        c.close()
        rtd.check(refused, "tls_min_version = 1.3 refuses TLS 1.2")
        st, _, _ = d.get("/healthz")
        rtd.check(st == 200, "tls_min_version = 1.3 serves TLS 1.3")

    # routingd -n: the key must match the certificate; both or neither
    _, other = tlscerts.make_cert(tmp, "other", ca, ca_key, serial=2)
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write("tls_cert = %s\ntls_key = %s\n" % (crt, other))
    p = subprocess.run([rtd.ROUTINGD, "-n", "-f", conf],
                       capture_output=True, timeout=10)
    rtd.check(p.returncode == 1 and b"does not match" in p.stderr,
              "routingd -n: a key that does not match (%d %r)"
              % (p.returncode, p.stderr))
    q = subprocess.run([rtd.ROUTINGCTL, "check-config", conf],
                       capture_output=True, timeout=10)
    rtd.check(q.returncode == 1 and q.stderr == p.stderr,
              "routingctl check-config says the same (%d %r)"
              % (q.returncode, q.stderr))
    with open(conf, "w") as f:
        f.write("tls_cert = %s\n" % crt)
    p = subprocess.run([rtd.ROUTINGD, "-n", "-f", conf],
                       capture_output=True, timeout=10)
    rtd.check(p.returncode == 1 and b"tls_key is not" in p.stderr,
              "routingd -n: tls_cert without tls_key (%r)" % p.stderr)
    with open(conf, "w") as f:
        f.write("tls_cert = %s\ntls_key = %s\n" % (crt, key))
    p = subprocess.run([rtd.ROUTINGD, "-n", "-f", conf],
                       capture_output=True, timeout=10)
    rtd.check(p.returncode == 0 and b"not served" not in p.stdout,
              "routingd -n: a good pair, served (%r)" % p.stdout)


    shutil.rmtree(tmp, ignore_errors=True)


rtd.run(test)
