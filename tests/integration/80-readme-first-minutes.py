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
import subprocess
import sys
import tempfile
import urllib.request

import readme
import rtd

SYSCONF = os.environ.get("RTD_SYSCONF",
                         "/usr/local/etc/routingd/routingd.conf")
SECTION = "## First minutes"

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
    "cat > gateway.py": "Push notifications: 95-readme-push runs it",
    "cat > push.conf": "Push notifications: 95-readme-push runs it",
    "BOB=$(": "Push notifications: 95-readme-push runs it",
    "routingd-bench --secret-file": "Benchmarking: a load run against an "
    "installed daemon; 97-bench-smoke runs routingd-bench (online, idle) "
    "against a test daemon",
    "packaging/build-deb.sh": "Packages: make package-test "
    "(packaging/test.sh, .ci/run step 5) builds, installs and tests them",
}


def section_blocks():
    run, page = [], None
    for heading, lang, code in readme.fenced_blocks():
        if heading == SECTION:
            if lang == "sh":
                run.append(code)
            elif lang == "html":
                page = code
            continue
        if lang != "sh":
            continue
        first = readme.first_line(code)
        rtd.check(any(first.startswith(k) for k in OTHER_BLOCKS),
                  "README.md block %r (under %r) is run by this test or "
                  "listed in OTHER_BLOCKS" % (first, heading))
    rtd.check(len(run) >= 5 and page is not None,
              "the section has its command blocks and its page")
    return run, page


def script(blocks, bgdir):
    return readme.script(blocks, bgdir, SERVES)


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
        readme.wait_serving(devtools + "/json/version", 30)
        return page_text(devtools)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


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
    readme.tree(d.dir)
    with open(os.path.join(d.dir, "page.html"), "w") as f:
        f.write(page + "\n")
    try:
        d.start(args=[os.path.join(d.dir, "src", "routingd"), "-d"])
        out = readme.run_bash(script(blocks[:split], d.dir), d.dir,
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
        readme.run_bash(script(blocks[split:], d.dir), d.dir, "the last block")
        rtd.check(not os.path.exists(os.path.join(d.dir, "routingd-data",
                                                  "control.sock")),
                  "routingctl stop stopped the daemon")
    except BaseException:
        print(d.log()[-3000:])
        for n in (1, 2):
            print("# bg%d.log:\n%s" % (n, readme.background_log(d.dir,
                                                              n)[-3000:]))
        raise
    finally:
        readme.kill_background(d.dir)
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
