"""routingd -n checks a configuration: exit 0 and "configuration OK" for
a good file (no key is left whose feature this release does not serve,
so no note), exit 1 with file:line problems for a bad one, and with the
TLS loader's reason for tls_cert and tls_key files it cannot use."""

import os
import subprocess
import tempfile

import rtd


def check_file(text):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False,
                                     dir=rtd.TESTDIR) as f:
        f.write(text)
        path = f.name
    try:
        p = subprocess.run([rtd.ROUTINGD, "-n", "-f", path],
                           capture_output=True, text=True, timeout=10)
        return p.returncode, p.stdout + p.stderr, os.path.basename(path)
    finally:
        os.unlink(path)


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    rc, out, name = check_file("# comment\napi_listen = 127.0.0.1:9001\n"
                               "ws_listen = 127.0.0.1:9002\n"
                               "api_workers = 4   # trailing comment\n"
                               "message_ttl = 7d\nmax_envelope_bytes = 64k\n")
    rtd.check(rc == 0 and "configuration OK" in out,
              "a good file passes (rc=%d %r)" % (rc, out))
    rtd.check("not served" not in out,
              "no note when no unserved key is set (%r)" % out)
    # every key is served now: tls_cert and tls_key are loaded, so a
    # file that is not a certificate fails (36-tls-https.py tests the
    # good pair); push keys are served too
    pem = os.path.join(rtd.TESTDIR, "09-any.pem")
    with open(pem, "w") as f:
        f.write("readable, but not a certificate\n")
    rc, out, name = check_file("tls_cert = %s\ntls_key = %s\n"
                               "push_gateway_url = http://127.0.0.1:5000/x\n"
                               % (pem, pem))
    rtd.check(rc == 1 and "tls_cert %s:" % pem in out and
              "not served" not in out,
              "tls_cert is loaded, not only checked for being readable "
              "(rc=%d %r)" % (rc, out))
    rc, out, name = check_file("push_gateway_url = http://127.0.0.1:5000/x\n"
                               "tls_ciphers = ECDHE+AESGCM\n"
                               "tls_min_version = 1.3\n")
    rtd.check(rc == 0 and "not served" not in out,
              "push and TLS keys are served: no note (rc=%d %r)" % (rc, out))
    rc, out, name = check_file("tls_min_version = 1.1\n")
    rtd.check(rc == 1 and "%s:1:" % name in out and "tls_min_version" in out,
              "tls_min_version is 1.2 or 1.3 (rc=%d %r)" % (rc, out))
    rc, out, name = check_file("api_workers = 0\nws_window 5\n"
                               "nonsense = 1\nmessage_ttl = 3 weeks\n"
                               "api_workers = 2\n")
    rtd.check(rc == 1, "a bad file fails (rc=%d)" % rc)
    for line in (1, 2, 3, 4, 5):
        rtd.check("%s:%d:" % (name, line) in out,
                  "problem on line %d reported (%r)" % (line, out))
    p = subprocess.run([rtd.ROUTINGD, "-n", "-f", "/nonexistent/x.conf"],
                       capture_output=True, text=True, timeout=10)
    rtd.check(p.returncode == 1 and "/nonexistent/x.conf" in p.stderr,
              "a missing file fails naming it")
    p = subprocess.run([rtd.ROUTINGD, "-x"], capture_output=True,
                       text=True, timeout=10)
    rtd.check(p.returncode == 2 and "usage" in p.stderr,
              "a bad option prints usage and exits 2")


rtd.run(test)
