"""crash.py: what the crash harnesses (39-store-power-cut,
59-crash-kill9) share: kill a whole daemon and wait until every process
of it is gone, and start one again even if a client connection took one
of its ports as its local port meanwhile."""

import os
import signal
import time

import rtd


def kill_daemon(d):
    """kill -9 of the whole daemon; returns once every process of its
    group is dead (a worker that outlives the supervisor for a moment
    still holds the listening ports)."""
    pgid = d.pid
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    d.proc.wait()
    d.stop()
    rtd.wait_for(lambda: not group_alive(pgid), 10,
                 "every process of the daemon gone")


def group_alive(pgid):
    """A process of group pgid that is not a zombie (a zombie holds no
    socket; reaping the orphans may take init a second or two)."""
    return bool(rtd.live_procs(2, pgid))


def start(d, env=None, wait=True):
    """Start d; once more if its ports were taken meanwhile (a client
    connection may hold one of them as its local port)."""
    for n in range(3):
        d.start(env=env, wait=False)
        time.sleep(0.05)
        if d.proc.poll() is None or "Address already in use" not in \
                d.log()[-300:]:
            break
        d.stop()
        time.sleep(0.2)
    if wait:
        d.wait_ready()
