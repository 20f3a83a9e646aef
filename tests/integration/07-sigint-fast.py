"""SIGINT stops at once: every process is gone within a second even with
a connection in progress and a long shutdown_timeout."""

import signal
import socket
import time

import rtd


def test():
    with rtd.Daemon(shutdown_timeout="30s") as d:
        pids = list(d.workers())
        s = socket.create_connection(("127.0.0.1", d.api_port))
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        t0 = time.monotonic()
        d.signal(signal.SIGINT)
        d.wait_exit(3)
        took = time.monotonic() - t0
        rtd.check(took < 1.0, "stopped within 1 s (%.2fs)" % took)
        rtd.wait_for(lambda: not any(rtd.proc_alive(p) for p in pids), 1,
                     "no worker left")
        s.close()


rtd.run(test)
