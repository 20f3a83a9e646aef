"""The manual is clean and complete: `mandoc -Tlint -W warning` reports
nothing for routingd(8), routingd.conf(5) and routingctl(8) as make writes
them, and routingctl(8) describes (in its command list) and shows an
example of every command that `routingctl -h` lists.  Skipped, with the
reason, when mandoc is not installed."""

import os
import re
import shutil
import subprocess
import sys

import rtd

PAGES = ["man/routingd.8", "man/routingd.conf.5", "man/routingctl.8"]


def commands():
    p = subprocess.run([rtd.ROUTINGCTL, "-h"], capture_output=True, text=True)
    rtd.check(p.returncode == 0, "routingctl -h exits 0")
    body = p.stdout.split("commands:", 1)[1]
    names = [ln.split()[0] for ln in body.splitlines() if ln.strip()]
    rtd.check(len(names) >= 5, "routingctl -h lists its commands (%s)" % names)
    return names


def test():
    if shutil.which("mandoc") is None:
        print("# SKIP: mandoc is not installed (apt-get install mandoc)")
        sys.exit(rtd.SKIP)
    for page in PAGES:
        rtd.check(os.path.exists(page), "%s was built" % page)
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page],
                           capture_output=True, text=True)
        rtd.check(p.returncode == 0 and p.stdout == "" and p.stderr == "",
                  "mandoc -Tlint -W warning %s is clean (%s%s)"
                  % (page, p.stdout, p.stderr))
    with open("man/routingctl.8") as f:
        src = f.read()
    items = set(re.findall(r"^\.It Cm (\S+)", src, re.M))
    examples = src.split(".Sh EXAMPLES", 1)[1].split(".Sh ", 1)[0]
    for name in commands():
        rtd.check(name in items, "routingctl(8) describes %s" % name)
        rtd.check(re.search(r"routingctl( --json| -s \S+)* %s\b" % name,
                            examples) is not None,
                  "routingctl(8) EXAMPLES show %s" % name)


rtd.run(test)
