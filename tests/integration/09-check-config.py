"""routingd -n checks a configuration: exit 0 and "configuration OK" for
a good file (with a note naming each key set whose feature this release
does not serve), exit 1 with file:line problems for a bad one."""

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
    pem = os.path.join(rtd.TESTDIR, "09-any.pem")
    with open(pem, "w") as f:
        f.write("not read, only checked for being readable\n")
    rc, out, name = check_file("tls_cert = %s\ntls_key = %s\n"
                               "push_gateway_url = http://127.0.0.1:5000/x\n"
                               % (pem, pem))
    rtd.check(rc == 0 and "note: tls_cert is set, but its feature "
              "is not served" in out and "note: tls_key" in out and
              "push_gateway_url" not in out,
              "keys of a feature not served yet are checked and named; "
              "push keys are served (rc=%d %r)" % (rc, out))
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
