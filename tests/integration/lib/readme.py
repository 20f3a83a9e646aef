"""readme.py: run README.md's command blocks as a reader would.

The README tests (80-readme-first-minutes, 95-readme-push) take the
fenced ```sh blocks of one section and run them, in order, in one bash
session (set -euo pipefail) in a scratch directory that looks like the
top of a built tree.  A line ending in OWN_TERMINAL is a long-running
command the reader starts in another terminal: it runs in the background
in its own session (stdout and stderr to bgN.log, its pid appended to
pids), and the script waits until the URL the caller gives for it
answers."""

import os
import re
import signal
import subprocess
import urllib.request

import rtd

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(rtd.__file__)))))
README = os.path.join(TOP, "README.md")
OWN_TERMINAL = "# in its own terminal"


def fenced_blocks(text=None):
    """(heading, lang, code) of every fenced block of README.md (or of
    text), in order; heading is the last heading line above it."""
    if text is None:
        with open(README) as f:
            text = f.read()
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


def section(heading, lang="sh"):
    """The code of the blocks in lang under heading, in order."""
    return [c for h, l, c in fenced_blocks() if h == heading and l == lang]


def first_line(code):
    """The command that opens a block (its first line, comment cut)."""
    return code.split("\n")[0].split("#")[0].strip()


def wait_serving(url, timeout=20):
    def up():
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return True
        except OSError:
            return False
    rtd.wait_for(up, timeout, "%s answers" % url)


def probe_command(url):
    """A bash command that succeeds once url serves: an http:// URL
    answers 2xx, a tcp://HOST:PORT accepts connections."""
    if url.startswith("tcp://"):
        host, port = url[len("tcp://"):].rsplit(":", 1)
        return "(exec 3<>/dev/tcp/%s/%s) 2>/dev/null" % (host, port)
    return "curl -sf -o /dev/null %s" % url


def script(blocks, bgdir, serves):
    """One bash script of blocks.  serves maps a substring of each
    own-terminal command to the URL that serves once it is up (see
    probe_command)."""
    out = ["set -euo pipefail"]
    n = 0
    for code in blocks:
        for line in code.split("\n"):
            if not line.rstrip().endswith(OWN_TERMINAL):
                out.append(line)
                continue
            cmd = line.split(OWN_TERMINAL)[0].rstrip()
            urls = [u for k, u in serves.items() if k in cmd]
            rtd.check(len(urls) == 1, "this test knows how to wait for "
                      "%r" % cmd)
            n += 1
            log = os.path.join(bgdir, "bg%d.log" % n)
            out.append("setsid %s >%s 2>&1 & echo $! >>%s/pids" %
                       (cmd, log, bgdir))
            probe = probe_command(urls[0])
            out.append("for i in $(seq 200); do %s && break; sleep 0.1; "
                       "done" % probe)
            out.append(probe)
    return "\n".join(out) + "\n"


def run_bash(text, cwd, what):
    """Run text in bash in cwd; checks it exits 0; returns its stdout."""
    p = subprocess.run(["bash", "-c", text], cwd=cwd, capture_output=True,
                       text=True, timeout=120)
    print("# --- %s: rc=%d\n%s\n# stderr:\n%s" % (what, p.returncode,
                                                  p.stdout, p.stderr))
    rtd.check(p.returncode == 0, "%s ran without error" % what)
    return p.stdout


def background_log(bgdir, n):
    """What the n-th own-terminal command printed so far ('' if none)."""
    try:
        with open(os.path.join(bgdir, "bg%d.log" % n)) as f:
            return f.read()
    except OSError:
        return ""


def kill_background(bgdir):
    """SIGKILL every own-terminal command's session still running."""
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


def tree(d):
    """Make directory d look like the top of the built tree: ./src and
    ./routingctl link to the build."""
    os.symlink(os.path.dirname(os.path.abspath(rtd.ROUTINGD)),
               os.path.join(d, "src"))
    os.symlink(os.path.dirname(os.path.abspath(rtd.ROUTINGCTL)),
               os.path.join(d, "routingctl"))
