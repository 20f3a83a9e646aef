"""With log_file set, SIGUSR1 reopens it: after a rotation (rename) new
lines go to a new file at the configured path."""

import os
import signal

import rtd


def test():
    d = rtd.Daemon(start=False)
    logf = os.path.join(d.dir, "routingd.log")
    d.keys["log_file"] = logf
    d.write_config()
    try:
        d.start(args=[rtd.ROUTINGD, "-f", d.conf])
        with open(logf) as f:
            rtd.check("routingd ready" in f.read(), "lines go to log_file")
        os.rename(logf, logf + ".1")
        d.signal(signal.SIGUSR1)
        rtd.wait_for(lambda: os.path.exists(logf), 3, "a new log file")
        d.signal(signal.SIGHUP)   # something for the supervisor to log
        rtd.wait_for(lambda: "configuration reloaded" in open(logf).read(),
                     5, "new lines in the new file")
        with open(logf + ".1") as f:
            rtd.check("configuration reloaded" not in f.read(),
                      "the rotated file no longer grows")
    except BaseException:
        print(d.log()[-3000:])
        raise
    finally:
        d.stop()


rtd.run(test)
