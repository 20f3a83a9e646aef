"""README.md's "First minutes", run as written: every ```sh block of
that section, in order, in one bash session (set -e, pipefail) started in
a scratch directory that looks like the top of a built tree (./src and
./routingctl link to the build), against a routingd on its embedded
defaults (ports 8082/8083, ./routingd-data), as `./bootstrap run` would
start it.  The ```html block is saved as page.html, as the text says, and
opened in headless chromium at the address the section prints.

What the section says each command shows is asserted: the token minted by
`routingctl token` is accepted, the send answers an id, the fetch returns
the message, the ack answers 204, the WebSocket client prints the message
and leaves at queue_empty, the queue is empty after its ack, the browser
page shows the message it sent itself, and the daemon stops.

A line ending in "# in its own terminal" is a long-running command the
reader starts in another terminal: the test starts it in the background
and waits until it serves.  Every other ```sh block of README.md must be
listed in OTHER_BLOCKS with the reason it is not run here, so that a new
command block cannot be added without a test.  Skipped (77) when a
routingd config exists at the build's default path (routingd would read
it instead of the embedded defaults) or the ports are taken; the browser
step is skipped (only that step, with a note) without chromium."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import rtd

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(rtd.__file__)))))
README = os.path.join(TOP, "README.md")
SYSCONF = os.environ.get("RTD_SYSCONF",
                         "/usr/local/etc/routingd/routingd.conf")
SECTION = "## First minutes"
OWN_TERMINAL = "# in its own terminal"

# Long-running commands of the section: how to tell that each serves.
SERVES = {
    "./src/routingd ": "http://127.0.0.1:8082/readyz",
    "http.server 8000": "http://127.0.0.1:8000/",
}

# The other command blocks, by their first line, and who runs them.
OTHER_BLOCKS = {
    "./bootstrap run": "CI runs `./bootstrap check` (.ci/run) on a fresh "
    "machine; `./bootstrap run` is the same build followed by "
    "`./src/routingd -d`, which this test starts",
    "autoreconf -fi && ./configure && make && make check":
    "the build itself: .ci/run runs bootstrap (autoreconf, configure, "
    "make, make check), --enable-werror, --enable-asan and make distcheck",
}


def fenced_blocks(text):
    """(heading, lang, code) of every fenced block, in order."""
    heading, out, lines, i = "", [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            heading = line
        m = re.match(r"^```(\w*)$", line)
        if m:
            j = i + 1
            while j < len(lines) and lines[j] != "```":
                j += 1
            out.append((heading, m.group(1), "\n".join(lines[i + 1:j])))
            i = j
        i += 1
    return out


def section_blocks():
    with open(README) as f:
        text = f.read()
    run, page = [], None
    for heading, lang, code in fenced_blocks(text):
        if heading == SECTION:
            if lang == "sh":
                run.append(code)
            elif lang == "html":
                page = code
            continue
        if lang != "sh":
            continue
        first = code.split("\n")[0].split("#")[0].strip()
        rtd.check(any(first.startswith(k) for k in OTHER_BLOCKS),
                  "README.md block %r (under %r) is run by this test or "
                  "listed in OTHER_BLOCKS" % (first, heading))
    rtd.check(len(run) >= 5 and page is not None,
              "the section has its command blocks and its page")
    return run, page


def wait_serving(url, timeout=20):
    def up():
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return True
        except OSError:
            return False
    rtd.wait_for(up, timeout, "%s answers" % url)


def script(blocks, bgdir):
    """One bash script of blocks; own-terminal lines run in the
    background (their pids in bgdir/pids) and are waited for."""
    out = ["set -euo pipefail"]
    n = 0
    for code in blocks:
        for line in code.split("\n"):
            if not line.rstrip().endswith(OWN_TERMINAL):
                out.append(line)
                continue
            cmd = line.split(OWN_TERMINAL)[0].rstrip()
            urls = [u for k, u in SERVES.items() if k in cmd]
            rtd.check(len(urls) == 1, "this test knows how to wait for "
                      "%r" % cmd)
            n += 1
            log = os.path.join(bgdir, "bg%d.log" % n)
            out.append("setsid %s >%s 2>&1 & echo $! >>%s/pids" %
                       (cmd, log, bgdir))
            out.append("for i in $(seq 200); do curl -sf -o /dev/null %s "
                       "&& break; sleep 0.1; done" % urls[0])
            out.append("curl -sf -o /dev/null %s" % urls[0])
    return "\n".join(out) + "\n"


def run_bash(text, cwd, what):
    p = subprocess.run(["bash", "-c", text], cwd=cwd, capture_output=True,
                       text=True, timeout=120)
    print("# --- %s: rc=%d\n%s\n# stderr:\n%s" % (what, p.returncode,
                                                  p.stdout, p.stderr))
    rtd.check(p.returncode == 0, "%s ran without error" % what)
    return p.stdout


def page_text(devtools, timeout=30):
    """Poll the page's text through the DevTools protocol until it shows
    a message frame (or timeout); returns the last text read."""
    import asyncio
    import json
    import websockets

    with urllib.request.urlopen(devtools + "/json/list", timeout=5) as r:
        pages = [p for p in json.load(r) if p.get("type") == "page"]
    rtd.check(len(pages) == 1, "chromium shows one page (%r)" % pages)

    async def poll():
        text = ""
        async with websockets.connect(pages[0]["webSocketDebuggerUrl"],
                                      max_size=None) as ws:
            for n in range(int(timeout * 10)):
                await ws.send(json.dumps({
                    "id": n + 1, "method": "Runtime.evaluate",
                    "params": {"expression": "document.getElementById("
                               "'log').textContent", "returnByValue": True}}))
                while True:
                    reply = json.loads(await ws.recv())
                    if reply.get("id") == n + 1:
                        break
                text = reply.get("result", {}).get("result", {}).get(
                    "value", "") or ""
                if '"type":"message"' in text:
                    return text
                await asyncio.sleep(0.1)
        return text
    return asyncio.run(poll())


def browser(url, page_dir):
    """The page's text in headless chromium once it shows a message, or
    None without chromium."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        print("# chromium is not installed: the browser step is skipped")
        return None
    profile = tempfile.mkdtemp(prefix="rtd-chromium-", dir=page_dir)
    port = rtd.free_port()
    proc = subprocess.Popen([exe, "--headless=new", "--no-sandbox",
                             "--disable-gpu", "--no-first-run",
                             "--user-data-dir=" + profile,
                             "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=%d" % port, url],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        devtools = "http://127.0.0.1:%d" % port
        wait_serving(devtools + "/json/version", 30)
        return page_text(devtools)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def kill_background(bgdir):
    try:
        with open(os.path.join(bgdir, "pids")) as f:
            pids = [int(x) for x in f.read().split()]
    except OSError:
        return
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def body():
    if os.path.exists(SYSCONF):
        print("# SKIP: %s exists, so routingd would read it" % SYSCONF)
        sys.exit(rtd.SKIP)
    blocks, page = section_blocks()
    # The page is opened after the block that prints its address; the
    # blocks after that run once the browser is done.
    split = next(i for i, b in enumerate(blocks) if "page.html#" in b) + 1
    d = rtd.Daemon(start=False)
    d.api_port, d.ws_port = 8082, 8083
    os.unlink(d.conf)
    os.symlink(os.path.dirname(os.path.abspath(rtd.ROUTINGD)),
               os.path.join(d.dir, "src"))
    os.symlink(os.path.dirname(os.path.abspath(rtd.ROUTINGCTL)),
               os.path.join(d.dir, "routingctl"))
    with open(os.path.join(d.dir, "page.html"), "w") as f:
        f.write(page + "\n")
    try:
        d.start(args=[os.path.join(d.dir, "src", "routingd"), "-d"])
        out = run_bash(script(blocks[:split], d.dir), d.dir,
                       "the section up to the browser")
        check_outputs(out)
        with open(os.path.join(d.dir, "routingd-data", "jwt.secret")) as f:
            secret = f.read().strip()
        tok = rtd.token("alice", secret=secret)
        url = out.strip().split("\n")[-1]
        rtd.check(url.startswith("http://127.0.0.1:8000/page.html#ey"),
                  "the address of the page, with a token (%r)" % url)
        text = browser(url, d.dir)
        if text is not None:
            rtd.check('"encryptedData":"YnJvd3Nlcg=="' in text,
                      "the page shows the message it sent itself "
                      "(%r)" % text[-600:])
            rtd.wait_for(lambda: d.fetch(tok) == (200, {"messages": []}),
                         10, "the page's ack emptied the queue")
        run_bash(script(blocks[split:], d.dir), d.dir, "the last block")
        rtd.check(not os.path.exists(os.path.join(d.dir, "routingd-data",
                                                  "control.sock")),
                  "routingctl stop stopped the daemon")
    except BaseException:
        print(d.log()[-3000:])
        for n in (1, 2):
            try:
                with open(os.path.join(d.dir, "bg%d.log" % n)) as f:
                    print("# bg%d.log:\n%s" % (n, f.read()[-3000:]))
            except OSError:
                pass
        raise
    finally:
        kill_background(d.dir)
        d.stop()


def check_outputs(out):
    """What the section says the commands print."""
    rtd.check(out.startswith("OK\n"), "healthz printed OK")
    rtd.check(re.search(r'^\{"id":"[^"]+"\}$', out, re.M) is not None,
              "the send answered an id")
    rtd.check('"encryptedData":"aGVsbG8="' in out,
              "the fetch returned the message")
    rtd.check(re.search(r"^204$", out, re.M) is not None,
              "the ack answered 204")
    rtd.check("'encryptedData': 'd29ybGQ='" in out and
              "'type': 'queue_empty'" in out,
              "the WebSocket client printed the message, then queue_empty")
    rtd.check(re.search(r'^\{"messages":\[\]\}$', out, re.M) is not None,
              "the queue is empty after the WebSocket ack")


def test():
    with rtd.default_ports():
        body()


rtd.run(test)
