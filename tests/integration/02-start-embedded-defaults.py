"""With no config file at all, routingd runs on its embedded defaults:
loopback 8082/8083, ./routingd-data with a 0600 HS256 secret, and a
control socket routingctl finds from that directory without -s."""

import os
import stat
import subprocess
import sys

import rtd

# The build's default config path (./configure with the default prefix).
SYSCONF = os.environ.get("RTD_SYSCONF",
                         "/usr/local/etc/routingd/routingd.conf")


def body():
    if os.path.exists(SYSCONF):
        print("SKIP: %s exists, so routingd would read it" % SYSCONF)
        sys.exit(rtd.SKIP)
    d = rtd.Daemon(start=False)
    d.api_port = 8082
    d.ws_port = 8083
    os.unlink(d.conf)
    try:
        d.start(args=[rtd.ROUTINGD, "-d"])
        data = os.path.join(d.dir, "routingd-data")
        rtd.check(os.path.isdir(data), "./routingd-data was created")
        secret = os.path.join(data, "jwt.secret")
        mode = stat.S_IMODE(os.stat(secret).st_mode)
        rtd.check(mode == 0o600, "jwt.secret has mode 0600 (got %o)" % mode)
        with open(secret) as f:
            text = f.read().strip()
        rtd.check(len(text) == 64 and int(text, 16) >= 0,
                  "the secret is 32 random bytes in hex")
        rtd.check(len(d.workers()) == 4, "2 api + 2 ws workers by default")
        st, _, body = d.get("/healthz")
        rtd.check(st == 200, "API on 127.0.0.1:8082")
        st, _, _ = d.get("/", port=8083)
        rtd.check(st == 404, "WS port on 127.0.0.1:8083")
        p = subprocess.run([rtd.ROUTINGCTL, "status"], cwd=d.dir,
                           capture_output=True, text=True, timeout=20)
        rtd.check(p.returncode == 0 and "embedded" in p.stdout,
                  "routingctl finds ./routingd-data/control.sock "
                  "(rc=%d out=%r err=%r)" % (p.returncode, p.stdout,
                                             p.stderr))
        # The secret is generated once: a restart keeps it.
        d.stop()
        d.start(args=[rtd.ROUTINGD, "-d"])
        with open(secret) as f:
            rtd.check(f.read().strip() == text, "the secret survives restart")
    except BaseException:
        print(d.log()[-4000:])
        raise
    finally:
        d.stop()


def test():
    with rtd.default_ports():
        body()


rtd.run(test)
