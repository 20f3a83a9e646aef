"""Under systemd ($NOTIFY_SOCKET) the supervisor sends READY=1 once every
worker is up, and STOPPING=1 when it drains; only the supervisor ever
notifies (the sender's pid is checked with SCM_CREDENTIALS)."""

import os
import signal
import socket
import struct

import rtd


def recv_notify(ns):
    """One datagram: (text, sender pid)."""
    data, anc, _, _ = ns.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    return data.decode(), pid


def test():
    d = rtd.Daemon(start=False)
    path = os.path.join(d.dir, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    ns.bind(path)
    ns.settimeout(15)
    try:
        env = dict(os.environ, NOTIFY_SOCKET=path)
        d.start(env=env, wait=False)
        msgs = []
        while not any("READY=1" in m for m, _ in msgs):
            msgs.append(recv_notify(ns))
        st, _, _ = d.get("/readyz")
        rtd.check(st == 200, "READY=1 only once /readyz says ready")
        rtd.check(len(d.workers()) == 4, "every worker was up")
        d.signal(signal.SIGTERM)
        while not any("STOPPING=1" in m for m, _ in msgs):
            msgs.append(recv_notify(ns))
        rtd.check(True, "STOPPING=1 on SIGTERM")
        d.wait_exit(10)
        senders = set(pid for _, pid in msgs)
        rtd.check(senders == {d.pid},
                  "only the supervisor notified (senders %s)" % senders)
    except BaseException:
        print(d.log()[-3000:])
        raise
    finally:
        ns.close()
        d.stop()


rtd.run(test)
