"""gateway.py: a small push gateway for the push tests.

An HTTP (or HTTPS) server on a free loopback port, in a thread, that
records every request (path, headers, parsed JSON body, arrival time) and
answers as the test tells it: 200 with the format's answer (optionally
rejecting some tokens), a status such as 500, or no answer at all (hang)
until told otherwise.

    with gateway.Gateway() as gw:
        url = gw.url("/_matrix/push/v1/notify")
        ...
        gw.wait(1)            # at least one request within the timeout
        gw.requests[0]["body"]["notification"]["counts"]["unread"]
"""

import http.server
import json
import socket
import ssl
import threading
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        gw = self.server.gw
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec = {"path": self.path, "headers": dict(self.headers),
               "raw": raw, "body": body, "t": time.monotonic(),
               "conn": id(self.connection)}
        with gw.lock:
            gw.requests.append(rec)
            mode = gw.mode
        if mode == "hang":
            gw.release.wait(60)
            return
        if mode != 200:
            self._answer(mode, b'{"error":"test gateway says no"}')
            return
        self._answer(200, json.dumps(gw.answer(body)).encode())

    def _answer(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Gateway:
    def __init__(self, fmt="matrix", certfile=None, keyfile=None):
        self.fmt = fmt
        self.requests = []
        self.lock = threading.Lock()
        self.mode = 200           # 200, another status, or "hang"
        self.reject = set()       # tokens to report as rejected
        self.release = threading.Event()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.gw = self
        self.tls = certfile is not None
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path="/_matrix/push/v1/notify", host="127.0.0.1"):
        return "%s://%s:%d%s" % ("https" if self.tls else "http", host,
                                 self.port, path)

    def answer(self, body):
        """The 200 body the format answers for request body."""
        if self.fmt == "gorush":
            logs = []
            for n in (body or {}).get("notifications", []):
                for t in n.get("tokens", []):
                    if t in self.reject:
                        logs.append({"type": "failed-push", "token": t,
                                     "platform": "android",
                                     "message": "", "error":
                                     "NotRegistered"})
            return {"counts": 1, "logs": logs, "success": "ok"}
        rejected = []
        for dev in ((body or {}).get("notification", {})
                    .get("devices", [])):
            if dev.get("pushkey") in self.reject:
                rejected.append(dev["pushkey"])
        return {"rejected": rejected}

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode
        if mode != "hang":
            self.release.set()
        else:
            self.release.clear()

    def count(self):
        with self.lock:
            return len(self.requests)

    def wait(self, n, timeout=10.0):
        """Wait until at least n requests came; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= n:
                return True
            time.sleep(0.02)
        return False

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


APP = "org.example.app"


def register(d, tok, device, pushkey, platform="fcm", app=APP):
    """POST /api/devices: a push target for device of tok's user;
    checks the 200."""
    import rtd
    st, _, _ = d.api("POST", "/api/devices", tok,
                     {"deviceId": device, "platform": platform,
                      "pushToken": pushkey, "appId": app})
    rtd.check(st == 200, "%s registered (%d)" % (device, st))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
