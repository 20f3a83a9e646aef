"""README.md's "Push notifications" example, run as written: its ```sh
blocks in order, in one bash session in a scratch directory that looks
like the top of a built tree: the example gateway (gateway.py on
127.0.0.1:5000) and routingd on push.conf (ports 8082/8083) start in the
background as "in its own terminal" says, bob's phone registers its push
target, alice sends him two messages in one request, routingctl stats
shows one push sent, and routingctl stop stops the daemon.

Asserted: what the section says each command shows (the device with its
push target, the two ids, the stats row), and that the gateway printed
exactly the one push the section shows, unread 2, field by field, with
neither ciphertext nor a message id in it.  Skipped (77) when a routingd
config exists at the build's default path, or ports 8082, 8083 or 5000
are taken."""

import json
import os
import re
import socket
import sys

import readme
import rtd

SYSCONF = os.environ.get("RTD_SYSCONF",
                         "/usr/local/etc/routingd/routingd.conf")
SECTION = "## Push notifications"
SERVES = {
    "gateway.py": "tcp://127.0.0.1:5000",
    "./src/routingd ": "http://127.0.0.1:8082/readyz",
}


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def shown_push():
    """The push line the section shows in its plain ``` block."""
    blocks = [c for h, l, c in readme.fenced_blocks()
              if h == SECTION and l == ""]
    rtd.check(len(blocks) == 1, "the section shows one gateway line")
    path, body = blocks[0].strip().split(" ", 1)
    return path, json.loads(body)


def check_outputs(out, ids_text):
    rtd.check('"deviceId":"phone"' in out and '"appId":"org.example.chat"'
              in out, "the registration answered the device (%r)" % out)
    m = re.search(r'^\{"ids":\["[^"]+","[^"]+"\]\}$', out, re.M)
    rtd.check(m is not None, "the send answered two ids")
    rtd.check(re.search(r"^routingd_push_sent_total\s+counter\s+1\b", out,
                        re.M) is not None,
              "routingctl stats shows one push sent")
    for mid in json.loads(m.group(0))["ids"]:
        rtd.check(mid not in ids_text, "no message id in the push")


def body():
    if os.path.exists(SYSCONF):
        print("# SKIP: %s exists, so routingd would read it" % SYSCONF)
        sys.exit(rtd.SKIP)
    if not port_free(5000):
        print("# SKIP: port 5000 is taken")
        sys.exit(rtd.SKIP)
    blocks = readme.section(SECTION)
    rtd.check(len(blocks) == 3, "the section has its three command blocks")
    d = rtd.Daemon(start=False)
    os.unlink(d.conf)
    readme.tree(d.dir)
    try:
        out = readme.run_bash(readme.script(blocks, d.dir, SERVES), d.dir,
                              "the section")
        pushes = [l for l in readme.background_log(d.dir, 1).split("\n")
                  if l.startswith("/")]
        rtd.check(len(pushes) == 1, "the gateway printed one push (%r)"
                  % pushes)
        check_outputs(out, pushes[0])
        path, got = pushes[0].split(" ", 1)
        want_path, want = shown_push()
        rtd.check(path == want_path and json.loads(got) == want,
                  "the push is the one the section shows (%r)" % got)
        rtd.check("aGk" not in got, "no ciphertext in the push")
        rtd.check(not os.path.exists(os.path.join(d.dir, "routingd-data",
                                                  "control.sock")),
                  "routingctl stop stopped the daemon")
    except BaseException:
        for n in (1, 2):
            print("# bg%d.log:\n%s" % (n, readme.background_log(d.dir,
                                                              n)[-3000:]))
        raise
    finally:
        readme.kill_background(d.dir)
        d.stop()


def test():
    with rtd.default_ports():
        body()


rtd.run(test)
