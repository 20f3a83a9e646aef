"""Client certificates on the API port (tls_client_ca): curl --cert/--key
with a certificate of the client CA is served, and the JWT still applies
(no token: 401, a token: 202); without a certificate, or with one of
another CA, the handshake fails (TLS 1.2 and 1.3) and is counted in
routingd_tls_handshake_failures_total{reason="certificate"}.  The
WebSocket port asks for no certificate.  A session begun on the
WebSocket port does not resume on the API port (no certificate there).
routingd -n refuses a CA file with no certificate and tls_client_ca
without tls_cert."""

import json
import os
import socket
import ssl
import subprocess
import tempfile

import rtd
import tlscerts


def curl(ca, url, *args):
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", ca,
                        "-w", "\n%{http_code}"] + list(args) + [url],
                       capture_output=True, timeout=15)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def cert_failures(d):
    return d.metrics().get(
        'routingd_tls_handshake_failures_total{reason="certificate"}')


def py_hello(port, ctx, session=None):
    """A request over Python's ssl: (answer status line or None when the
    handshake or the read failed, the session, whether it resumed)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1",
                            session=session)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        sess, reused = s.session, s.session_reused
        s.close()
        return data.split(b"\r\n", 1)[0] or None, sess, reused
    except (ssl.SSLError, ConnectionError):
        raw.close()
        return None, None, False


def check_file(keys):
    return rtd.config_check(keys, "t67-check.conf")


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-tls67-", dir=rtd.TESTDIR)
    tlscerts.require()
    ca, ca_key = tlscerts.make_ca(tmp, "t67")
    crt, key = tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=67)
    cca, cca_key = tlscerts.make_ca(tmp, "t67-clients")
    ccrt, ckey = tlscerts.make_cert(tmp, "client", cca, cca_key, serial=1)
    bad, bad_key = tlscerts.make_cert(tmp, "stranger", ca, ca_key, serial=2)

    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(ccrt, ckey)
    with rtd.api_daemon(ssl_context=ctx, tls_cert=crt, tls_key=key,
                        tls_client_ca=cca) as d:
        url = "https://127.0.0.1:%d" % d.api_port
        rc, out, err = curl(ca, url + "/healthz", "--cert", ccrt,
                            "--key", ckey)
        rtd.check(rc == 0 and out == "OK\n\n200",
                  "curl --cert: a client certificate of tls_client_ca is "
                  "served (%d %r %r)" % (rc, out, err))
        send = ["-X", "POST", "-H", "Content-Type: application/json",
                "--data", json.dumps(rtd.envelope("bob")),
                "--cert", ccrt, "--key", ckey]
        rc, out, err = curl(ca, url + "/api/send", *send)
        rtd.check(rc == 0 and out.endswith("\n401"),
                  "the certificate does not replace the token: 401 (%r)"
                  % out)
        rc, out, err = curl(ca, url + "/api/send", "-H",
                            "Authorization: Bearer " + rtd.token("alice"),
                            *send)
        rtd.check(rc == 0 and out.endswith("\n202"),
                  "certificate and token: 202 (%r %r)" % (out, err))

        before = cert_failures(d)
        rc, out, err = curl(ca, url + "/healthz")
        rtd.check(rc != 0 and not out.startswith("OK"),
                  "curl without a certificate is refused (%d %r %r)"
                  % (rc, out, err))
        rc, out, err = curl(ca, url + "/healthz", "--cert", bad,
                            "--key", bad_key)
        rtd.check(rc != 0 and not out.startswith("OK"),
                  "curl with a certificate of another CA is refused "
                  "(%d %r %r)" % (rc, out, err))
        nocert = {}
        for name, v in (("1.2", ssl.TLSVersion.TLSv1_2),
                        ("1.3", ssl.TLSVersion.TLSv1_3)):
            c = ssl.create_default_context(cafile=ca)
            c.minimum_version = c.maximum_version = v
            nocert[name] = c
            st, _, _ = py_hello(d.api_port, c)
            rtd.check(st is None, "TLS %s without a certificate: the "
                      "handshake fails" % name)
        rtd.wait_for(lambda: cert_failures(d) == before + 4, 5,
                     "4 failures counted as certificate (from %s)" % before)

        # the WebSocket port asks for none
        rc, out, err = curl(ca, "https://127.0.0.1:%d/connect" % d.ws_port)
        rtd.check(rc == 0 and out.split("\n")[-1] in ("400", "426"),
                  "the WebSocket port answers without a certificate "
                  "(%d %r %r)" % (rc, out, err))
        for name, c in nocert.items():
            st, sess, _ = py_hello(d.ws_port, c)
            rtd.check(st is not None and sess is not None,
                      "TLS %s: a session on the WebSocket port" % name)
            st, _, _ = py_hello(d.api_port, c, sess)
            rtd.check(st is None, "TLS %s: it does not resume on the API "
                      "port, which still wants a certificate" % name)
        st, sess, _ = py_hello(d.api_port, ctx)
        st2, _, reused = py_hello(d.api_port, ctx, sess)
        rtd.check(st is not None and st2 is not None and reused,
                  "with a certificate, sessions resume on the API port")

    # routingd -n
    base = {"tls_cert": crt, "tls_key": key, "jwt_secret": "x" * 32}
    rc, out = check_file(dict(base, tls_client_ca=cca))
    rtd.check(rc == 0, "routingd -n accepts the CA file (%r)" % out)
    junk = os.path.join(tmp, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    rc, out = check_file(dict(base, tls_client_ca=junk))
    rtd.check(rc == 1 and "tls_client_ca" in out and "no PEM" in out,
              "routingd -n refuses a CA file without a certificate (%r)"
              % out)
    rc, out = check_file({"jwt_secret": "x" * 32, "tls_client_ca": cca})
    rtd.check(rc == 1 and "tls_client_ca is set but tls_cert is not" in out,
              "routingd -n refuses tls_client_ca without tls_cert (%r)"
              % out)


if __name__ == "__main__":
    rtd.run(test)
