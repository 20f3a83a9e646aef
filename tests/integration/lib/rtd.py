"""rtd.py: helpers for routingd integration tests.

Each test starts the real daemon (the built binary, $ROUTINGD) with a
generated configuration on free loopback ports, talks to it over real
sockets, and stops it.  A test is a script: exit 0 pass, 1 fail, 77 skip.

    import rtd
    with rtd.Daemon(api_workers=2) as d:
        status, headers, body = d.get("/healthz")
        rtd.check(status == 200, "healthz answers")
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROUTINGD = os.environ.get("ROUTINGD", "src/routingd")
ROUTINGCTL = os.environ.get("ROUTINGCTL", "routingctl/routingctl")
TESTDIR = os.environ.get("RTD_TESTDIR", "/tmp")
SKIP = 77

# Slow runs (the valgrind run of tests/valgrind/check.py, 10-50 times
# slower) multiply every wait_for, wait_ready, wait_exit and routingctl
# timeout by RTD_TIMEOUT_SCALE, and with RTD_STOP_GRACE=S a Daemon's
# stop() sends SIGTERM and waits up to S seconds before the SIGKILL, so
# that every process exits and writes its leak report.
TIMEOUT_SCALE = float(os.environ.get("RTD_TIMEOUT_SCALE", "1"))
STOP_GRACE = float(os.environ.get("RTD_STOP_GRACE", "0"))

# The HS256 secret of API tests (jwt_secret = TEST_SECRET in their config).
TEST_SECRET = "rtd-test-secret-0123456789abcdef0123456789abcdef"


def token(user, device=None, ttl=600, secret=TEST_SECRET, **claims):
    """An HS256 JWT for user (python3-jwt), valid ttl seconds from now.
    Extra claims override the defaults (exp=..., nbf=..., iat=...)."""
    import jwt
    now = int(time.time())
    body = {"sub": user, "iat": now, "exp": now + ttl}
    if device is not None:
        body["device_id"] = device
    body.update(claims)
    tok = jwt.encode(body, secret, algorithm="HS256")
    return tok.decode() if isinstance(tok, bytes) else tok


def envelope(recipient, data="aGVsbG8=", **fields):
    """A minimal valid envelope dict."""
    env = {"recipientId": recipient, "encryptedData": data}
    env.update(fields)
    return env


class Failure(Exception):
    pass


def check(cond, what):
    """Assert one behaviour; the message says what was expected."""
    if not cond:
        raise Failure("expected: " + what)
    print("ok -", what)


_MISSED = []


def expect(cond, what):
    """A soft check: print it, remember a failure, go on (for tests that
    run many independent cases); check_expected() fails at the end."""
    print("ok -" if cond else "not ok -", what)
    if not cond:
        _MISSED.append(what)
    return cond


def check_expected():
    """Fail if any expect() failed, listing them."""
    check(not _MISSED, "every case passed; %d failed:\n  - %s"
          % (len(_MISSED), "\n  - ".join(_MISSED)))


def wait_for(pred, timeout, what, step=0.05):
    """Poll pred() until true; fail with what after timeout seconds
    (times TIMEOUT_SCALE)."""
    timeout *= TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except OSError:
            pass
        time.sleep(step)
    raise Failure("timed out after %.1fs waiting for: %s" % (timeout, what))


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class default_ports:
    """Hold the lock on the embedded defaults' ports (8082, 8083) for
    the tests that run routingd without a config file, so that two of
    them never run at once under `make -j check`; then skip (exit 77)
    if something else holds the ports.  A context manager."""

    def __enter__(self):
        import fcntl
        os.makedirs(TESTDIR, exist_ok=True)
        self.f = open(os.path.join(TESTDIR, ".default-ports.lock"), "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        for port in (8082, 8083):
            with socket.socket() as s:
                # as routingd binds: TIME_WAIT leftovers do not count
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    print("# SKIP: port %d is in use" % port)
                    sys.exit(SKIP)
        return self

    def __exit__(self, *exc):
        self.f.close()
        return False


def run(test):
    """Run test() as the whole script and exit with its verdict."""
    try:
        test()
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)


def proc_title(pid):
    """The title routingd set in argv (ps), or under valgrind, whose argv
    that is not, the 15-byte comm name ("routingd: api 0")."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            title = f.read().split(b"\0")[0].decode(errors="replace")
        if os.path.basename(title).startswith("valgrind"):
            with open("/proc/%d/comm" % pid) as f:
                title = f.read().rstrip("\n")
        return title
    except OSError:
        return None


def proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def live_procs(field, value):
    """The pids of the processes that are not zombies (a zombie holds no
    socket) whose /proc/PID/stat field after the command (1: ppid,
    2: process group) is value."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[field]) == value and fields[0] != "Z":
            out.append(int(name))
    return out


def children_of(ppid):
    """{pid: title} of the live children of ppid."""
    return {pid: proc_title(pid) for pid in live_procs(1, ppid)}


def status_kb(pid, field):
    """A kB field (VmRSS, RssAnon...) of /proc/pid/status, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def http_raw(port, data, timeout=5.0, host="127.0.0.1"):
    """Send raw bytes, read until the server closes or timeout."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
        return b"".join(chunks)


def sanitized():
    """True if the daemon is an AddressSanitizer build or runs under
    valgrind (make check-valgrind sets RTD_VALGRIND): their allocators
    keep freed memory, so memory figures mean nothing there."""
    if os.environ.get("RTD_VALGRIND"):
        return True
    try:
        p = subprocess.run(["ldd", ROUTINGD], capture_output=True, text=True)
    except OSError:
        return False
    return "libasan" in p.stdout


def config_check(keys, name):
    """routingd -n on a file of keys (a dict) written to TESTDIR/name:
    (exit status, stdout and stderr together)."""
    os.makedirs(TESTDIR, exist_ok=True)
    conf = os.path.join(TESTDIR, name)
    with open(conf, "w") as f:
        f.write("".join("%s = %s\n" % kv for kv in keys.items()))
    p = subprocess.run([ROUTINGD, "-n", "-f", conf], capture_output=True,
                       text=True)
    return p.returncode, p.stdout + p.stderr


class Daemon:
    """One routingd instance with its own directory, ports and config.
    API tests pass jwt_secret=TEST_SECRET (see api_daemon).  With
    ssl_context (an ssl.SSLContext trusting the daemon's certificate),
    the helpers speak HTTPS to it (tls_cert and tls_key set)."""

    def __init__(self, start=True, ssl_context=None, **keys):
        os.makedirs(TESTDIR, exist_ok=True)
        self.ssl_context = ssl_context
        self.dir = tempfile.mkdtemp(prefix="rtd-", dir=TESTDIR)
        self.api_port = free_port()
        self.ws_port = free_port()
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.conf = os.path.join(self.dir, "routingd.conf")
        self.logpath = os.path.join(self.dir, "stderr.log")
        self.keys = {
            "api_listen": "127.0.0.1:%d" % self.api_port,
            "ws_listen": "127.0.0.1:%d" % self.ws_port,
            "data_dir": os.path.join(self.dir, "data"),
            "control_socket": self.sock,
            "api_workers": 2,
            "ws_workers": 2,
            "shutdown_timeout": "5s",
            "log_level": "debug",
        }
        self.keys.update(keys)
        self.proc = None
        self.write_config()
        if start:
            try:
                self.start()
            except BaseException:
                print(self.log()[-4000:])
                self.stop()
                raise

    # -- life cycle ----------------------------------------------------

    def write_config(self, keys=None, text=None):
        if text is None:
            keys = self.keys if keys is None else keys
            text = "".join("%s = %s\n" % (k, v) for k, v in keys.items()
                           if v is not None)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, args=None, env=None, wait=True):
        self.stderr = open(self.logpath, "ab")
        cmd = [ROUTINGD, "-d", "-f", self.conf] if args is None else args
        self.proc = subprocess.Popen(cmd, stdout=self.stderr,
                                     stderr=self.stderr, cwd=self.dir,
                                     env=env, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise Failure("routingd exited with %s:\n%s"
                              % (self.proc.returncode, self.log()))
            st, _, _ = self.get("/readyz")
            return st == 200
        wait_for(ready, timeout, "GET /readyz 200")

    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        """{pid: title} of the supervisor's live children."""
        return children_of(self.pid)

    def workers_by_title(self):
        return {t: p for p, t in self.workers().items()}

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        timeout *= TIMEOUT_SCALE
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("routingd still running after %.1fs" % timeout)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None and STOP_GRACE > 0:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(STOP_GRACE)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        else:
            # The supervisor is gone; make sure its workers are too.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # A killed worker may still hold a listening socket for a moment:
        # wait until the group is gone, so a start right after binds.
        deadline = time.monotonic() + 10 * TIMEOUT_SCALE
        while live_procs(2, self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stderr.close()
        self.proc = None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return 

    def __enter__(self):
        return self

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:", "exited with status 23")

    def sanitizer_report(self):
        """The first sanitizer complaint in the daemon's output, or None."""
        log = self.log()
        for mark in self.SANITIZER_MARKS:
            i = log.find(mark)
            if i >= 0:
                return log[max(0, i - 200):i + 1500]
        return None

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        report = self.sanitizer_report()
        if exc_type is None and report is not None:
            print("--- sanitizer report ---\n" + report)
            raise Failure("no sanitizer report in the daemon's output")
        if exc_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("--- routingd log (%s) ---" % self.logpath)
            print(self.log()[-6000:])
        return False

    # -- clients -------------------------------------------------------

    def request(self, method, path, body=None, headers=None, port=None,
                timeout=5.0):
        """One HTTP request on a new connection: (status, headers, body)."""
        if self.ssl_context is not None:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port or self.api_port, timeout=timeout,
                context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1",
                                              port or self.api_port,
                                              timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def api(self, method, path, tok=None, body=None, headers=None, **kw):
        """An API call: body (if not bytes/str) is sent as JSON; returns
        (status, headers, parsed JSON or None)."""
        h = dict(headers or {})
        if tok is not None:
            h["Authorization"] = "Bearer " + tok
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        st, hdrs, raw = self.request(method, path, body=body, headers=h,
                                     **kw)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return st, hdrs, doc

    def send(self, tok, env, **kw):
        """POST /api/send; returns (status, JSON)."""
        st, _, doc = self.api("POST", "/api/send", tok, env, **kw)
        return st, doc

    def fetch(self, tok, limit=None, **kw):
        """GET /api/messages; returns (status, JSON)."""
        path = "/api/messages" + ("" if limit is None else
                                  "?limit=%s" % limit)
        st, _, doc = self.api("GET", path, tok, **kw)
        return st, doc

    def ack(self, tok, ids, **kw):
        """POST /api/messages/ack; returns the status."""
        st, _, _ = self.api("POST", "/api/messages/ack", tok,
                            {"messageIds": list(ids)}, **kw)
        return st

    def metrics(self):
        """The /metrics samples as {name_with_labels: value}."""
        st, _, body = self.get("/metrics")
        if st != 200:
            raise Failure("GET /metrics returned %d" % st)
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def ctl(self, *args, sock=None, timeout=30):
        """Run routingctl: (exit status, stdout, stderr)."""
        cmd = [ROUTINGCTL, "-s", sock or self.sock] + list(args)
        p = subprocess.run(cmd, capture_output=True,
                           timeout=timeout * TIMEOUT_SCALE)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def ctl_json(self, *args):
        rc, out, err = self.ctl("--json", *args)
        if rc != 0:
            raise Failure("routingctl %s failed (%d): %s" % (args, rc, err))
        return json.loads(out)


def api_daemon(ssl_context=None, **keys):
    """A Daemon configured for API tests: the test secret, one API and
    one WS worker unless told otherwise."""
    cfg = {"jwt_secret": TEST_SECRET, "api_workers": 1, "ws_workers": 1}
    cfg.update(keys)
    return Daemon(ssl_context=ssl_context, **cfg)
