"""SIGTERM drains: listeners close, idle keep-alive connections are
closed, a request in progress is answered, and every process exits
within shutdown_timeout with status 0."""

import signal
import socket
import time

import rtd


def test():
    with rtd.Daemon(shutdown_timeout="3s") as d:
        pids = list(d.workers())
        # An idle keep-alive connection.
        idle = socket.create_connection(("127.0.0.1", d.api_port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = idle.recv(4096)
        rtd.check(first.startswith(b"HTTP/1.1 200"), "keep-alive answer")
        # A request whose head is half sent when the drain begins.
        slow = socket.create_connection(("127.0.0.1", d.api_port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.2)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        idle.settimeout(3)
        rtd.check(idle.recv(4096) == b"", "the idle connection is closed")
        time.sleep(0.3)     # every worker has had its SIGTERM by now
        slow.sendall(b"\r\n")
        slow.settimeout(3)
        ans = b""
        while b"OK\n" not in ans:
            chunk = slow.recv(4096)
            if not chunk:
                break
            ans += chunk
        rtd.check(ans.startswith(b"HTTP/1.1 200") and
                  b"Connection: close" in ans,
                  "the request in progress is answered, with close "
                  "(%r)" % ans)
        slow.close()
        rc = d.wait_exit(5)
        took = time.monotonic() - t0
        rtd.check(rc == 0, "the supervisor exits 0 (got %s)" % rc)
        rtd.check(took < 3.5, "stopped within shutdown_timeout (%.2fs)" % took)
        rtd.wait_for(lambda: not any(rtd.proc_alive(p) for p in pids), 1,
                     "no worker left")
        try:
            socket.create_connection(("127.0.0.1", d.api_port), timeout=1)
            rtd.check(False, "the API port is closed")
        except ConnectionRefusedError:
            rtd.check(True, "the API port is closed")
        rtd.check("routingd stopped" in d.log(), "the log says stopped")


rtd.run(test)
