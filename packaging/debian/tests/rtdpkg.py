"""rtdpkg.py: the installed routingd package, driven as its unit would be.

Shared by the autopkgtests of this directory and by the upgrade test of
packaging/test.sh; it uses only the installed files (/usr/sbin/routingd,
/usr/sbin/routingctl, /etc/routingd/routingd.conf and the unit) and
Debian's python3-websockets.  Run as root.

No systemd runs here, so start() does what the unit asks of systemd: it
takes ExecStartPre= and ExecStart= from the installed unit file, creates
RuntimeDirectory (/run/routingd, 0750) and StateDirectory
(/var/lib/routingd, 0700) owned by User=/Group=, runs both command lines
as that user and group with no supplementary groups, UMask=0077 and an
environment like systemd's (PATH, LANG, HOME, USER, LOGNAME, SHELL,
NOTIFY_SOCKET), and stands in for systemd's notify
socket (NOTIFY_SOCKET, Type=notify): it waits for READY=1 as systemd
would.  What it does not do: the unit's sandboxing (ProtectSystem=,
SystemCallFilter=, ...) and its resource limits.

The packaged config listens on 127.0.0.1:8082 and :8083.  in_netns()
re-runs the calling script in a network namespace of its own with only
loopback up (when the kernel allows it), so that those fixed ports never
meet another program on the same machine."""

import asyncio
import grp
import json
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

UNIT = "/lib/systemd/system/routingd.service"
CONF = "/etc/routingd/routingd.conf"
ROUTINGCTL = "/usr/sbin/routingctl"
API = "http://127.0.0.1:8082"
WS = "ws://127.0.0.1:8083"
NETNS_ENV = "RTDPKG_IN_NETNS"


def check(cond, what):
    """Print ok/FAIL for what; a failed check ends the script (exit 1)."""
    print("%s: %s" % ("ok" if cond else "FAIL", what), flush=True)
    if not cond:
        sys.exit(1)


def in_netns():
    """Re-exec this script in a new network namespace (lo up) unless it
    already runs in one or the kernel refuses; returns only in the
    child (or when no namespace could be made)."""
    if os.environ.get(NETNS_ENV):
        return
    probe = subprocess.run(["unshare", "--net", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        print("note: no network namespace here (%s); using the host's "
              "loopback" % probe.stderr.decode().strip(), flush=True)
        return
    env = dict(os.environ, **{NETNS_ENV: "1"})
    cmd = ["unshare", "--net", "sh", "-c",
           'ip link set lo up && exec "$0" "$@"',
           sys.executable] + sys.argv
    os.execvpe("unshare", cmd, env)


def unit_settings(path=UNIT):
    """The unit's [Service] settings: name -> list of values in order."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def _mkdir_owned(path, mode, uid, gid):
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


class Service:
    """The daemon of the installed package, started as the unit would."""

    def __init__(self):
        self.unit = unit_settings()
        self.user = self.unit["User"][-1]
        self.group = self.unit["Group"][-1]
        self.pw = pwd.getpwnam(self.user)
        self.gid = grp.getgrnam(self.group).gr_gid
        self.tmp = tempfile.mkdtemp(prefix="rtdpkg.")
        os.chmod(self.tmp, 0o755)
        self.log = os.path.join(self.tmp, "daemon.log")
        self.proc = None
        self.notes = []
        self.ns = None

    def _env(self):
        return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                "/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                "HOME": self.pw.pw_dir, "USER": self.user,
                "LOGNAME": self.user, "SHELL": self.pw.pw_shell,
                "NOTIFY_SOCKET": os.path.join(self.tmp, "notify")}

    def _run_as(self, argv, **kw):
        return subprocess.Popen(argv, user=self.pw.pw_uid, group=self.gid,
                                extra_groups=[], umask=0o077,
                                env=self._env(), stdin=subprocess.DEVNULL,
                                **kw)

    def _dirs(self):
        u = self.unit
        for key, base in (("RuntimeDirectory", "/run"),
                          ("StateDirectory", "/var/lib")):
            mode = int(u.get(key + "Mode", ["0755"])[-1], 8)
            for name in u.get(key, []):
                _mkdir_owned(os.path.join(base, name), mode,
                             self.pw.pw_uid, self.gid)

    def start(self, wait_ready=True, timeout=30):
        """ExecStartPre (must exit 0), then ExecStart with a notify
        socket.  With wait_ready, wait for READY=1 (check fails
        otherwise); returns the notify messages seen so far."""
        self._dirs()
        for pre in self.unit.get("ExecStartPre", []):
            p = self._run_as(pre.split(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
            out = p.communicate(timeout=30)[0].decode()
            check(p.returncode == 0, "ExecStartPre %s exits 0 (%d %s)" %
                  (pre, p.returncode, out.strip()))
        path = self._env()["NOTIFY_SOCKET"]
        if os.path.exists(path):
            os.unlink(path)
        self.ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ns.bind(path)
        os.chmod(path, 0o666)
        self.notes = []
        logf = open(self.log, "a")
        self.proc = self._run_as(self.unit["ExecStart"][-1].split(),
                                 stdout=logf, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        logf.close()
        if wait_ready:
            check(self.wait_note("READY=1", timeout),
                  "the daemon sends READY=1 on the notify socket")
        return self.notes

    def wait_note(self, what, timeout):
        """Wait until a notify datagram holding what arrives (or the
        daemon exits); True if it did."""
        end = time.time() + timeout
        while not any(what in n for n in self.notes):
            left = end - time.time()
            if left <= 0 or self.proc.poll() is not None:
                return False
            self.ns.settimeout(min(left, 0.5))
            try:
                self.notes.append(self.ns.recv(4096).decode())
            except socket.timeout:
                pass
        return True

    def read_notes(self):
        """Take every notify datagram already queued into self.notes."""
        if self.ns is None:
            return
        self.ns.setblocking(False)
        try:
            while True:
                self.notes.append(self.ns.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self.ns.setblocking(True)

    def output(self):
        with open(self.log) as f:
            return f.read()

    def ctl(self, *args):
        """routingctl ARGS as root: (exit status, stdout, stderr)."""
        p = subprocess.run([ROUTINGCTL] + list(args), capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def stop(self, timeout=30):
        """routingctl stop, then wait for the exit; returns the exit
        status (SIGKILL and None if it would not go).  The notify
        datagrams sent meanwhile are in self.notes afterwards."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.ctl("stop")
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
            return None
        finally:
            self.read_notes()

    def kill(self):
        """SIGKILL the whole process group if still running."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        if self.ns is not None:
            self.ns.close()
            self.ns = None

    def token(self, user, device=None):
        args = ["token", user] + (["--device", device] if device else [])
        rc, out, err = self.ctl(*args)
        check(rc == 0 and out.count(".") == 2,
              "routingctl %s mints a token (%d %s)" %
              (" ".join(args), rc, err.strip()))
        return out.strip()


def http(method, path, tok, body=None):
    """(status, parsed JSON or None) of one API request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + tok)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, None


def fetch(tok):
    """The ids queued for the token's device (GET /api/messages)."""
    st, js = http("GET", "/api/messages", tok)
    check(st == 200, "GET /api/messages answers 200 (%d)" % st)
    return [m["id"] for m in js["messages"]]


def ack(tok, ids):
    st, _ = http("POST", "/api/messages/ack", tok, {"messageIds": ids})
    check(st == 204, "ack of %d messages answers 204 (%d)" % (len(ids), st))


def ws_receive_ack(tok, timeout=15):
    """Connect over WebSocket (subprotocol routingd.v1 + token), ack every
    message frame, leave at queue_empty; returns the ids received."""
    import websockets

    async def run():
        got = []
        async with websockets.connect(
                WS + "/connect", subprotocols=["routingd.v1", tok],
                open_timeout=timeout) as ws:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(),
                                                          timeout))
                if frame["type"] == "message":
                    got.append(frame["id"])
                    await ws.send(json.dumps({"type": "ack",
                                              "messageIds": [frame["id"]]}))
                if frame["type"] == "queue_empty":
                    return got
    return asyncio.run(run())
