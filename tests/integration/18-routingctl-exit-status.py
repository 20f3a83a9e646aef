"""routingctl exit statuses: 0 ok, 1 failed, 2 usage, 3 no daemon
listening (missing or stale socket); a socket the caller may not open
(0600 root, routingctl run as nobody) says so and exits 1, not 3; a
daemon speaking another control-protocol version is named (both ways);
--json failures are one JSON object; check-config validates a file like
routingd -n with no daemon running, in text and --json; -h, --version."""

import json
import os
import socket
import struct
import subprocess
import tempfile
import threading

import rtd

IPC_CTL_STATUS = 100
IPC_CTL_FAIL = 105
HDR = struct.Struct("=IIII")        # type, len, peerid (version), pid


def run(*args, user=None):
    cmd = [rtd.ROUTINGCTL] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%s" % user, "--regid=nogroup",
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def fake_daemon(path, version):
    """A socket that answers any request with a header of version."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        c.recv(65536)
        c.send(HDR.pack(IPC_CTL_FAIL + 1, 4, version, os.getpid()) +
               b"\0" * 4)
        c.close()
        srv.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def check_config():
    good = os.path.join(rtd.TESTDIR, "18-good.conf")
    bad = os.path.join(rtd.TESTDIR, "18-bad.conf")
    with open(good, "w") as f:
        f.write("api_workers = 3\ntls_min_version = 1.3\n")
    with open(bad, "w") as f:
        f.write("api_workers = 0\nnonsense = 1\n")
    try:
        rc, out, err = run("-s", "/nonexistent/x.sock", "check-config",
                           good)
        rtd.check(rc == 0 and out == "configuration OK: %s\n" % good,
                  "check-config: a good file, no daemon needed (%d %r)"
                  % (rc, out + err))
        p = subprocess.run([rtd.ROUTINGD, "-n", "-f", good],
                           capture_output=True, text=True, timeout=10)
        rtd.check(p.stdout == out, "the same words as routingd -n")
        rc, out, err = run("--json", "check-config", good)
        doc = json.loads(out)
        rtd.check(rc == 0 and doc["ok"] is True and doc["file"] == good and
                  doc["errors"] == [] and
                  doc["unserved"] == [],
                  "check-config --json, good (%s)" % doc)
        rc, out, err = run("check-config", bad)
        name = os.path.basename(bad)
        rtd.check(rc == 1 and "%s:1:" % name in err and "%s:2:" % name in err,
                  "check-config: a bad file, exit 1, file:line (%d %r)"
                  % (rc, err))
        rc, out, err = run("--json", "check-config", bad)
        doc = json.loads(out)
        rtd.check(rc == 1 and doc["ok"] is False and
                  len(doc["errors"]) == doc["errors_total"] == 2,
                  "check-config --json, bad (%s)" % doc)
        rc, out, err = run("check-config", "/nonexistent/x.conf")
        rtd.check(rc == 1 and "/nonexistent/x.conf" in err,
                  "a missing file: exit 1 (%d %r)" % (rc, err))
    finally:
        os.unlink(good)
        os.unlink(bad)


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    rc, out, _ = run("--version")
    rtd.check(rc == 0 and out.startswith("routingctl "), "--version")
    rc, out, _ = run("-h")
    rtd.check(rc == 0 and "purge" in out and "check-config" in out,
              "-h lists the commands")
    for args in (["bogus"], ["queue"], ["backup"], ["--bogus", "status"],
                 ["purge", "-y"], ["purge", "-x", "bob"], []):
        rc, _, err = run("-s", "/nonexistent/x.sock", *args)
        rtd.check(rc == 2 and "usage" in err,
                  "usage error %s: exit 2 (%d %r)" % (args, rc, err))
    check_config()

    with rtd.api_daemon() as d:
        rc, out, _ = d.ctl("status")
        rtd.check(rc == 0, "status: exit 0")
        rc, out, err = d.ctl("queue", "bob", "nodevice")
        rtd.check(rc == 1 and "nodevice" in err, "a failed query: exit 1")
        rc, out, err = d.ctl("--json", "queue", "bob", "nodevice")
        doc = json.loads(out)
        rtd.check(rc == 1 and doc["ok"] is False and
                  "nodevice" in doc["message"],
                  "--json failure: one object (%s)" % doc)

        # the daemon's side of a version mismatch
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.settimeout(5)
        c.connect(d.sock)
        c.send(HDR.pack(IPC_CTL_STATUS, 0, 99, os.getpid()))
        rep = c.recv(65536)
        c.close()
        typ, n, ver, pid = HDR.unpack(rep[:HDR.size])
        text = rep[HDR.size:].split(b"\0")[0].decode()
        rtd.check(typ == IPC_CTL_FAIL and "version mismatch" in text and
                  "99" in text,
                  "the daemon names a client's other version (%r)" % text)

        if os.geteuid() == 0:
            os.chmod(d.dir, 0o755)     # the socket's own mode decides
            rtd.check(os.stat(d.sock).st_mode & 0o777 == 0o600,
                      "the control socket is 0600")
            rc, out, err = run("-s", d.sock, "status", user="nobody")
            rtd.check(rc == 1 and "permission denied" in err and
                      d.sock in err,
                      "a socket nobody may not open: exit 1, says so "
                      "(%d %r)" % (rc, err))
            rc, out, err = run("-s", d.sock, "--json", "status",
                               user="nobody")
            doc = json.loads(out)
            rtd.check(rc == 1 and doc["ok"] is False and
                      "permission denied" in doc["message"],
                      "the same with --json (%s)" % doc)
        else:
            print("# skipped the permission case: not root")
        sock = d.sock
    rc, out, err = run("-s", sock, "status")
    rtd.check(rc == 3 and sock in err, "no daemon: exit 3 (%d)" % rc)
    rc, out, err = run("-s", sock, "--json", "queue", "bob")
    rtd.check(rc == 3 and json.loads(out)["ok"] is False,
              "no daemon, --json: exit 3 and one object")

    tmp = tempfile.mkdtemp(dir=rtd.TESTDIR)
    try:
        stale = os.path.join(tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(stale)
        s.close()
        rc, out, err = run("-s", stale, "status")
        rtd.check(rc == 3, "a stale socket nobody listens on: exit 3 (%d)"
                  % rc)
        other = os.path.join(tmp, "other.sock")
        t = fake_daemon(other, 99)
        rc, out, err = run("-s", other, "status")
        t.join(5)
        rtd.check(rc == 1 and "control protocol version 99" in err,
                  "a daemon of another protocol version is named (%d %r)"
                  % (rc, err))
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


rtd.run(test)
