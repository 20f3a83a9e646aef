"""A real browser: headless chromium loads a page (served here, on its
own origin listed in cors_origins) that opens the WebSocket with the token
in Sec-WebSocket-Protocol, POSTs a message to itself with fetch (CORS,
preflighted by the Authorization header), and reports back what arrived
over the WebSocket.  Skipped (77) when chromium is not installed."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

import rtd

PAGE = """<!doctype html><meta charset="utf-8"><title>routingd</title>
<pre id="out">starting</pre><script>
const out = (s) => { document.getElementById("out").textContent = s; };
const report = (o) => fetch("/result", {method: "POST",
    body: JSON.stringify(o)});
const tok = %(token)s;
const ws = new WebSocket("ws://127.0.0.1:%(ws)d/connect",
    ["routingd.v1", tok]);
let sentId = null;
const seen = new Map();
const finish = (id) => {
  const m = seen.get(id);
  ws.send(JSON.stringify({type: "ack", messageIds: [id]}));
  out("received " + id);
  report({ok: true, protocol: ws.protocol, id: id,
          data: m.envelope.encryptedData});
};
ws.onmessage = async (ev) => {
  const m = JSON.parse(ev.data);
  console.log("frame " + m.type);
  if (m.type === "message") {
    seen.set(m.id, m);
    if (m.id === sentId)
      finish(m.id);
  } else if (m.type === "queue_empty") {
    let r;
    try {
      r = await fetch("http://127.0.0.1:%(api)d/api/send", {
        method: "POST",
        headers: {"Authorization": "Bearer " + tok,
                  "Content-Type": "application/json"},
        body: JSON.stringify({recipientId: "self",
                              encryptedData: "YnJvd3Nlcg=="})});
    } catch (e) {
      report({ok: false, error: "fetch: " + e});
      return;
    }
    const doc = await r.json();
    sentId = doc.id;
    out("sent " + r.status + " " + sentId);
    if (seen.has(sentId))	/* the frame can beat the answer */
      finish(sentId);
  }
};
ws.onerror = (e) => { console.log("ws error"); report({ok: false, error: "websocket error"}); };
ws.onopen = () => console.log("ws open " + ws.protocol);
ws.onclose = (ev) => { if (!sentId) report({ok: false, code: ev.code}); };
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test():
    exe = chromium()
    if exe is None:
        print("# chromium is not installed: skipped")
        sys.exit(77)
    results = []
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = self.server.page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            results.append(json.loads(self.rfile.read(n) or b"{}"))
            self.send_response(204)
            self.end_headers()
            done.set()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    origin = "http://127.0.0.1:%d" % srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with rtd.api_daemon(cors_origins=origin) as d:
        tok = rtd.token("self")
        srv.page = PAGE % {"token": json.dumps(tok), "ws": d.ws_port,
                           "api": d.api_port}
        profile = tempfile.mkdtemp(prefix="rtd-chromium-")
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--user-data-dir=" + profile,
               "--enable-logging=stderr", "--v=0", origin + "/"]
        errlog = open(os.path.join(profile, "stderr.log"), "w+")
        browser = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                   stderr=errlog)
        try:
            if not done.wait(60):
                errlog.seek(0)
                print("".join("# " + l for l in errlog.readlines()
                              if "CONSOLE" in l or "ERROR:net" in l))
                rtd.check(False, "the page reported back")
        finally:
            errlog.close()
            browser.kill()
            browser.wait()
            srv.shutdown()
            shutil.rmtree(profile, ignore_errors=True)
        r = results[0] if results else {}
        print("# browser says: %r" % r)
        rtd.check(r.get("ok") is True, "the browser received its message "
                  "over the WebSocket")
        rtd.check(r.get("protocol") == tok,
                  "the token was echoed as the subprotocol")
        rtd.check(r.get("data") == "YnJvd3Nlcg==", "the envelope intact")
        m = d.metrics()
        pre = sum(v for k, v in m.items() if k.startswith(
            'routingd_api_requests_total{route="preflight"'))
        rtd.check(pre >= 1, "the CORS preflight went through the API "
                  "(%d)" % pre)


rtd.run(test)
