"""A drain that cannot finish (a client holding a half-sent body) ends at
shutdown_timeout: every process is gone shortly after the deadline."""

import signal
import socket
import time

import rtd


def test():
    with rtd.Daemon(shutdown_timeout="1s", client_body_timeout="60s") as d:
        pids = list(d.workers())
        s = socket.create_connection(("127.0.0.1", d.api_port))
        s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 100\r\n\r\nabc")
        time.sleep(0.2)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        d.wait_exit(4)
        took = time.monotonic() - t0
        rtd.check(took < 2.5, "stopped soon after the 1 s deadline "
                  "(%.2fs)" % took)
        rtd.wait_for(lambda: not any(rtd.proc_alive(p) for p in pids), 1,
                     "no worker left")
        s.close()


rtd.run(test)
