"""TLS session resumption with session tickets (tls_ticket_rotate): with
2 API and 2 WS workers, a client that keeps its latest session resumes
every time on both ports, over TLS 1.2 and TLS 1.3, and both workers of
each port resume sessions (the key is the supervisor's, in shared
memory); routingd_tls_handshakes_total counts full and resumed
handshakes.  After a SIGHUP reload (new API workers) the sessions still
resume.
A session from another routingd instance (same certificate) makes a full
handshake.  With tls_ticket_rotate = 3s: a ticket resumes under the
current key and, one rotation later, under the previous key; two
rotations later it makes a full handshake, while a ticket issued after
the first rotation still resumes; routingd_tls_ticket_key_rotations_total
counts the rotations."""

import os
import signal
import socket
import ssl
import tempfile
import time

import rtd
import tlscerts

VERSIONS = (("1.2", ssl.TLSVersion.TLSv1_2), ("1.3", ssl.TLSVersion.TLSv1_3))
ROUNDS = 24


def hello(port, ctx, session=None):
    """One TLS connection, one request read to the end: (reused, the
    session to resume next).  TLS 1.3 tickets come after the handshake,
    so the session is taken once the answer has been read."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        if not data.startswith(b"HTTP/1.1 "):
            raise rtd.Failure("no HTTP answer on port %d (%r)"
                              % (port, data[:40]))
        return s.session_reused, s.session
    finally:
        s.close()


def kinds(d):
    m = d.metrics()
    return (m.get('routingd_tls_handshakes_total{kind="full"}'),
            m.get('routingd_tls_handshakes_total{kind="resumed"}'))


def requests_by_worker(d, role):
    return {w["index"]: w["requests"]
            for w in d.ctl_json("workers")["workers"] if w["role"] == role}


def resume_rounds(d, ctxs, what):
    """On both ports and both versions: a full handshake, then ROUNDS
    resumed ones, each worker of each port taking part."""
    for port, role in ((d.api_port, "api"), (d.ws_port, "ws")):
        before = requests_by_worker(d, role)
        for name, ctx in ctxs:
            reused, sess = hello(port, ctx)
            rtd.check(not reused, "%s %s TLS %s: the first handshake is "
                      "full" % (what, role, name))
            n = 0
            for _ in range(ROUNDS):
                reused, sess = hello(port, ctx, sess)
                n += reused
            rtd.check(n == ROUNDS, "%s %s TLS %s: %d of %d reconnects "
                      "resumed" % (what, role, name, n, ROUNDS))
        after = requests_by_worker(d, role)
        # the kernel may hand one worker every connection for a while:
        # reconnect on (each must resume) until both served some
        for _ in range(10):
            if len(after) == 2 and all(after[i] > before.get(i, 0)
                                       for i in after):
                break
            for _ in range(ROUNDS):
                reused, sess = hello(port, ctx, sess)
                rtd.check(reused, "%s %s: another reconnect resumed"
                          % (what, role))
            after = requests_by_worker(d, role)
        rtd.check(len(after) == 2 and all(after[i] > before.get(i, 0)
                                          for i in after),
                  "%s: both %s workers served resumed connections "
                  "(requests %s -> %s)" % (what, role, before, after))


def api_pids(d):
    return set(w["pid"] for w in d.ctl_json("workers")["workers"]
               if w["role"] == "api")


def rotations(d):
    return d.metrics().get("routingd_tls_ticket_key_rotations_total")


def wait_rotation(d, after, timeout=15):
    rtd.wait_for(lambda: rotations(d) > after, timeout,
                 "a ticket key rotation after %s" % after, step=0.05)
    return rotations(d)


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-tls65-", dir=rtd.TESTDIR)
    tlscerts.require()
    ca, ca_key = tlscerts.make_ca(tmp, "t65")
    crt, key = tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=65)
    ctx = ssl.create_default_context(cafile=ca)
    ctxs = []
    for name, v in VERSIONS:
        c = ssl.create_default_context(cafile=ca)
        c.minimum_version = c.maximum_version = v
        ctxs.append((name, c))
    with rtd.api_daemon(ssl_context=ctx, tls_cert=crt, tls_key=key,
                        api_workers=2, ws_workers=2) as d:
        full0, res0 = kinds(d)
        rtd.check(rotations(d) == 0, "no rotation yet (default 12h)")
        resume_rounds(d, ctxs, "at start")
        full1, res1 = kinds(d)
        rtd.check(res1 - res0 == 4 * ROUNDS,
                  "routingd_tls_handshakes_total{kind=\"resumed\"} counts "
                  "every resumption (%s -> %s)" % (res0, res1))
        # 4 first handshakes, the metrics and workers scrapes are full
        rtd.check(full1 - full0 >= 4, "full handshakes are counted "
                  "(%s -> %s)" % (full0, full1))

        # a session kept across a reload resumes on the new workers
        kept = {}
        for port in (d.api_port, d.ws_port):
            for name, c in ctxs:
                kept[port, name] = hello(port, c)[1]
        old = api_pids(d)
        d.signal(signal.SIGHUP)
        rtd.wait_for(lambda: not old & api_pids(d), 15,
                     "new API workers after the SIGHUP reload")
        d.wait_ready()
        for (port, name), sess in kept.items():
            for c_name, c in ctxs:
                if c_name == name:
                    reused, _ = hello(port, c, sess)
                    rtd.check(reused, "after the reload, a TLS %s session "
                              "resumes on port %d" % (name, port))
        resume_rounds(d, ctxs, "after the reload")

        # another instance, the same certificate: its keys are its own
        with rtd.api_daemon(ssl_context=ctx, tls_cert=crt,
                            tls_key=key) as other:
            for name, c in ctxs:
                _, sess = hello(d.api_port, c)
                reused, _ = hello(other.api_port, c, sess)
                rtd.check(not reused, "TLS %s: a ticket of another instance "
                          "makes a full handshake" % name)
                reused, _ = hello(d.api_port, c, sess)
                rtd.check(reused, "TLS %s: ... and still resumes on its own"
                          % name)

    # rotation: current key, previous key, then refused
    with rtd.api_daemon(ssl_context=ctx, tls_cert=crt, tls_key=key,
                        api_workers=2, ws_workers=2,
                        tls_ticket_rotate="3s") as d:
        for name, c in ctxs:
            g = wait_rotation(d, rotations(d))
            time.sleep(1)   # mid-period: the lifetime (6s) is not the cause
            _, first = hello(d.api_port, c)
            rtd.check(rotations(d) == g, "TLS %s: the ticket was issued "
                      "under key %d" % (name, g))
            reused, _ = hello(d.ws_port, c, first)
            rtd.check(reused, "TLS %s: resumed under the current key" % name)
            wait_rotation(d, g)
            reused, _ = hello(d.api_port, c, first)
            rtd.check(reused, "TLS %s: one rotation later it resumes under "
                      "the previous key" % name)
            _, second = hello(d.api_port, c)
            rtd.check(rotations(d) == g + 1, "TLS %s: (within that "
                      "rotation)" % name)
            wait_rotation(d, g + 1)
            reused, _ = hello(d.api_port, c, first)
            rtd.check(not reused, "TLS %s: two rotations later the ticket "
                      "makes a full handshake" % name)
            reused, _ = hello(d.ws_port, c, second)
            rtd.check(reused, "TLS %s: a ticket issued after the first "
                      "rotation resumes" % name)


if __name__ == "__main__":
    rtd.run(test)
