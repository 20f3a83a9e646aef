"""When the supervisor dies (kill -9), every worker exits by itself."""

import signal

import rtd


def test():
    with rtd.Daemon(api_workers=2, ws_workers=2) as d:
        pids = list(d.workers())
        rtd.check(len(pids) == 4, "4 workers")
        d.signal(signal.SIGKILL)
        d.wait_exit(2)
        rtd.wait_for(lambda: not any(rtd.proc_alive(p) for p in pids), 5,
                     "every worker gone after the supervisor died")
        rtd.check(True, "no orphans")


rtd.run(test)
