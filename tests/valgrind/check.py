#!/usr/bin/python3
"""check.py TEST.py...: run each integration test once with routingd and
routingctl under valgrind's memcheck, then judge valgrind's findings.

`make check-valgrind` runs it over every integration test, with the
environment of `make check` ($ROUTINGD, $ROUTINGCTL, $RTD_TESTDIR...).
$ROUTINGD and $ROUTINGCTL are replaced for the tests by wrapper scripts
that exec the real binaries under

    valgrind --leak-check=full --errors-for-leak-kinds=definite
             --log-file=DIR/vg.%p --suppressions=tests/valgrind/routingd.supp

DIR is $RTD_TESTDIR/valgrind/<test>.  routingd forks its workers (no
exec), so memcheck follows them and every process writes its own log.
The tests run with RTD_VALGRIND=1 (rtd.sanitized(): tests leave out
memory figures), RTD_TIMEOUT_SCALE (default 10: rtd.py's waits) and
RTD_STOP_GRACE (default 120 s: a Daemon stops with SIGTERM, so that its
processes exit and check their leaks), each with at most
RTD_VG_TEST_TIMEOUT seconds (default 900).

The verdict is valgrind's alone: a process whose log reports an error
(an invalid read or write, a use of uninitialised memory, a bad free, a
"definitely lost" block...) fails the run.  A test's own result under
valgrind is printed but does not count: timing checks do not hold at
valgrind's speed (HACKING.md lists the tests that fail that way).  A
process killed before its exit (SIGKILL, as some tests do on purpose)
has no leak check; it is counted apart, its errors still count.

Last line:
    valgrind: N tests, M processes checked, E with errors (K killed before the leak check)
Exit status 0 when no process has errors, 1 otherwise.
"""

import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUPP = os.path.join(HERE, "routingd.supp")

# The last line memcheck writes at a process's exit.
SUMMARY = re.compile(r"^==\d+== ERROR SUMMARY: (\d+) errors", re.M)
# The first line of each error memcheck reports while the process runs.
ERROR = re.compile(
    r"^==\d+== (Invalid (read|write|free)|Conditional jump|"
    r"Use of uninitialised|Syscall param|Mismatched free|"
    r"Source and destination overlap|Argument .* of function|"
    r"Jump to the invalid)", re.M)
LOST = re.compile(r"^==\d+== .* definitely lost in loss record", re.M)


def wrapper(path, real, logdir):
    """A script that runs real under valgrind, logging into logdir."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "exec valgrind --tool=memcheck --leak-check=full "
                "--show-leak-kinds=definite "
                "--errors-for-leak-kinds=definite "
                "--num-callers=30 --suppressions='%s' "
                "--log-file='%s/vg.%%p' '%s' \"$@\"\n"
                % (SUPP, logdir, real))
    os.chmod(path, 0o755)


def judge(log):
    """(exited, errors) of one valgrind log: exited when memcheck wrote
    its summary (the leak check ran), errors the errors it reported."""
    with open(log, errors="replace") as f:
        text = f.read()
    m = SUMMARY.findall(text)
    if m:
        return True, int(m[-1])
    return False, len(ERROR.findall(text)) + len(LOST.findall(text))


def main(tests):
    base = os.path.join(os.environ.get("RTD_TESTDIR", "tests/tmp"),
                        "valgrind")
    real_d = os.path.abspath(os.environ.get("ROUTINGD", "src/routingd"))
    real_c = os.path.abspath(os.environ.get("ROUTINGCTL",
                                            "routingctl/routingctl"))
    limit = float(os.environ.get("RTD_VG_TEST_TIMEOUT", "900"))
    shutil.rmtree(base, ignore_errors=True)
    nproc = nbad = nkilled = 0
    results = {"pass": 0, "fail": 0, "skip": 0, "timeout": 0}
    t_all = time.monotonic()
    for test in tests:
        name = os.path.basename(test)[:-3]
        logdir = os.path.abspath(os.path.join(base, name))
        os.makedirs(logdir)
        os.chmod(logdir, 0o1777)    # tests run routingctl as other users
        env = dict(os.environ)
        env.setdefault("RTD_TIMEOUT_SCALE", "10")
        env.setdefault("RTD_STOP_GRACE", "120")
        env["RTD_VALGRIND"] = "1"       # rtd.sanitized(): no memory figures
        env["ROUTINGD"] = os.path.join(logdir, "routingd")
        env["ROUTINGCTL"] = os.path.join(logdir, "routingctl")
        wrapper(env["ROUTINGD"], real_d, logdir)
        wrapper(env["ROUTINGCTL"], real_c, logdir)
        t0 = time.monotonic()
        with open(os.path.join(logdir, "test.log"), "wb") as out:
            try:
                rc = subprocess.run(["/usr/bin/python3", test],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    env=env, timeout=limit).returncode
                verdict = {0: "pass", 77: "skip"}.get(rc, "fail")
            except subprocess.TimeoutExpired:
                verdict = "timeout"
        # a stopped test's daemons: give their processes time to exit
        time.sleep(1)
        results[verdict] += 1
        bad = []
        logs = sorted(f for f in os.listdir(logdir) if f.startswith("vg."))
        for f in logs:
            exited, errors = judge(os.path.join(logdir, f))
            nproc += 1
            nkilled += not exited
            if errors > 0:
                bad.append("%s (%d)" % (f, errors))
        nbad += len(bad)
        print("%s: test %s in %.0f s, %d processes%s" % (
            name, verdict, time.monotonic() - t0, len(logs),
            ", errors: " + " ".join(bad) if bad else ""), flush=True)
        if bad:
            print("  logs: %s" % logdir, flush=True)
    print("tests under valgrind: %(pass)d passed, %(fail)d failed, "
          "%(skip)d skipped, %(timeout)d timed out" % results)
    print("valgrind: %d tests in %.1f min, %d processes checked, %d with "
          "errors (%d killed before the leak check)" % (
              len(tests), (time.monotonic() - t_all) / 60, nproc, nbad,
              nkilled))
    return 1 if nbad > 0 else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: check.py TEST.py...\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
