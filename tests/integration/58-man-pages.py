"""The manual is clean and complete: `mandoc -Tlint -W warning` reports
nothing for routingd(8), routingd.conf(5), routingctl(8) and
routingd-bench(1) as make writes them; routingctl(8) describes (in its
command list) and shows an example of every command that `routingctl -h`
lists; routingd-bench(1) describes every option and workload that
`routingd-bench -h` lists.  Skipped, with the reason, when mandoc is not
installed."""

import os
import re
import shutil
import subprocess
import sys

import rtd

PAGES = ["man/routingd.8", "man/routingd.conf.5", "man/routingctl.8",
         "man/routingd-bench.1"]


def commands():
    p = subprocess.run([rtd.ROUTINGCTL, "-h"], capture_output=True, text=True)
    rtd.check(p.returncode == 0, "routingctl -h exits 0")
    body = p.stdout.split("commands:", 1)[1]
    names = [ln.split()[0] for ln in body.splitlines() if ln.strip()]
    rtd.check(len(names) >= 5, "routingctl -h lists its commands (%s)" % names)
    return names


def bench_usage():
    bench = os.environ.get("ROUTINGD_BENCH", "bench/routingd-bench")
    p = subprocess.run([bench, "-h"], capture_output=True, text=True)
    rtd.check(p.returncode == 2, "routingd-bench -h exits 2")
    opts = set(re.findall(r"--([a-z-]+)", p.stderr))
    works = p.stderr.split("workloads:", 1)[1].split()
    rtd.check(len(opts) >= 15 and len(works) == 8,
              "routingd-bench -h lists its options and workloads")
    return opts, works


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
    with open("man/routingd-bench.1") as f:
        bsrc = f.read()
    opts, works = bench_usage()
    for o in sorted(opts):
        rtd.check(re.search(r"^\.It Fl Fl %s\b" % o, bsrc, re.M),
                  "routingd-bench(1) describes --%s" % o)
    for wl in works:
        rtd.check(re.search(r"^\.It Cm %s$" % wl, bsrc, re.M),
                  "routingd-bench(1) describes the workload %s" % wl)
    for name in commands():
        rtd.check(name in items, "routingctl(8) describes %s" % name)
        rtd.check(re.search(r"routingctl( --json| -s \S+)* %s\b" % name,
                            examples) is not None,
                  "routingctl(8) EXAMPLES show %s" % name)


rtd.run(test)
