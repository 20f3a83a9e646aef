"""A cut inside a commit: a 202 or a 204 is only answered once its commit
is on disk.  Round after round, routingd runs with tests/crash/cutsync.so
preloaded (every process; the library counts each process's fdatasync,
fsync and msync on data.mdb, and in odd rounds its writes to data.mdb
too, and _exits at the RTD_CUT_AT-th, once per round: the first process
to cut disarms the others and the respawned worker).  One client sends
and acknowledges until the cut, a few requests more, then the whole
daemon is killed (SIGKILL), the store is checked with mdb_stat and
mdb_dump, and routingd restarts without the library on the same data
directory: every 202'd message is there unless a 204 acknowledged it,
none that was 204'd is, nothing else is, in send order per queue.
Requests without an answer may have committed or not; what the restart
shows of them is then held to in later rounds.

RTD_LONG=1: 500 rounds; RTD_ROUNDS=N: N rounds; default 20."""

import os
import random
import subprocess
import time

import crash
import rtd

CUTSYNC = os.environ.get("RTD_CUTSYNC", "tests/crash/cutsync.so")
QUEUES = ("bob", "carol")
ROUNDS = int(os.environ.get("RTD_ROUNDS",
                            "500" if os.environ.get("RTD_LONG") else "20"))

PRESENT, MAYBE, GONE = "present", "maybe", "gone"


class Model:
    """What the store must hold: id -> [queue, seq, state]."""

    def __init__(self):
        self.ids = {}
        self.seq = 0
        self.sent = self.acked = self.unanswered = 0

    def next_seq(self):
        self.seq += 1
        return self.seq

    def sent_ok(self, q, mid, seq):
        self.ids[mid] = [q, seq, PRESENT]
        self.sent += 1

    def acked_ok(self, ids):
        for i in ids:
            if i in self.ids:
                self.ids[i][2] = GONE
        self.acked += len(ids)

    def ack_unanswered(self, ids):
        for i in ids:
            if i in self.ids and self.ids[i][2] == PRESENT:
                self.ids[i][2] = MAYBE
        self.unanswered += 1

    def check(self, q, got, what):
        """got: the queue's ids after the restart, in queue order."""
        rtd.check(len(got) == len(set(got)),
                  "%s: queue %s has no duplicate" % (what, q))
        prev = 0
        for i in got:
            st = self.ids.get(i)
            if st is None:
                self.ids[i] = st = [q, self.unknown_seq(i, q, prev), MAYBE]
            prev = st[1]
            rtd.check(st[0] == q and st[2] != GONE,
                      "%s: %s in queue %s was not acknowledged (state %s)"
                      % (what, i, q, st[2]))
        want = [i for i, (qq, _, s) in self.ids.items()
                if qq == q and s == PRESENT]
        missing = set(want) - set(got)
        rtd.check(not missing, "%s: every 202'd message of %s is there "
                  "(missing %s)" % (what, q, sorted(missing)))
        seqs = [self.ids[i][1] for i in got]
        rtd.check(seqs == sorted(seqs), "%s: queue %s in send order" %
                  (what, q))
        for i, st in self.ids.items():
            if st[0] == q:
                st[2] = PRESENT if i in got else GONE

    def unknown_seq(self, i, q, prev):
        """An id no 202 announced: only a send to q that got no answer
        may have committed it; it takes the first such send after prev
        (the send order of the id before it in the queue)."""
        cands = [s for s in self.pending.get(q, []) if s > prev]
        rtd.check(cands, "an id no 202 announced (%s in %s) comes from a "
                  "send without an answer" % (i, q))
        self.pending[q].remove(cands[0])
        return cands[0]


def store_check(d, what):
    data = d.keys["data_dir"]
    for cmd in (["mdb_stat", "-e", data], ["mdb_stat", "-a", data],
                ["mdb_dump", "-a", data]):
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
        rtd.check(p.returncode == 0, "%s: %s runs clean (%s)" %
                  (what, " ".join(cmd[:2]), p.stderr.decode()[-300:]))


def traffic(d, m, rng, toks, flag):
    """Send and ack until the cut (and a few requests after), or 200
    requests; returns the number of requests made."""
    after = None
    for n in range(200):
        if after is None and os.path.exists(flag):
            after = rng.randint(0, 3)
        if after is not None:
            if after == 0:
                return n
            after -= 1
        q = rng.choice(QUEUES)
        try:
            if rng.random() < 0.7:
                seq = m.next_seq()
                m.pending.setdefault(q, []).append(seq)
                st, doc = d.send(toks["alice"], rtd.envelope(q),
                                 timeout=2)
                if st == 202:
                    m.pending[q].remove(seq)
                    m.sent_ok(q, doc["id"], seq)
                continue
            st, doc = d.fetch(toks[q], limit=rng.randint(1, 8), timeout=2)
            if st != 200:
                continue
            ids = [x["id"] for x in doc["messages"]]
            if not ids:
                continue
            try:
                st = d.ack(toks[q], ids, timeout=2)
            except OSError:
                st = None
            if st == 204:
                m.acked_ok(ids)
            else:
                m.ack_unanswered(ids)
        except (OSError, ValueError, TypeError, KeyError):
            pass
    return 200


def test():
    rng = random.Random(int(os.environ.get("RTD_SEED", time.time())))
    if not os.path.exists(CUTSYNC):
        print("# SKIP: %s not built (make check builds it)" % CUTSYNC)
        raise SystemExit(rtd.SKIP)
    toks = {u: rtd.token(u, ttl=86400) for u in ("alice",) + QUEUES}
    m = Model()
    m.pending = {}
    cuts = startup_cuts = 0
    t0 = time.monotonic()
    with rtd.api_daemon(start=False, rate_limit_per_user=0) as d:
        crash.start(d)
        crash.kill_daemon(d)
        for r in range(ROUNDS):
            flag = os.path.join(d.dir, "cut.flag")
            if os.path.exists(flag):
                os.unlink(flag)
            env = dict(os.environ)
            at = rng.randint(1, 120 if r % 2 else 40)
            env.update(LD_PRELOAD=CUTSYNC, RTD_CUT_AT=str(at),
                       RTD_CUT_FLAG=flag, RTD_CUT_WRITES=str(r % 2),
                       ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") +
                       ":verify_asan_link_order=0")
            crash.start(d, env=env, wait=False)
            try:
                d.wait_ready(timeout=10)
            except rtd.Failure:
                pass
            if os.path.exists(flag):
                startup_cuts += 1
            n = traffic(d, m, rng, toks, flag)
            if os.path.exists(flag):
                cuts += 1
            crash.kill_daemon(d)
            what = "round %d (cut at %s%s, %d requests)" % (
                r, env["RTD_CUT_AT"], ", writes" if r % 2 else "", n)
            store_check(d, what)
            crash.start(d)
            for q in QUEUES:
                st, doc = d.fetch(toks[q], limit=1000)
                rtd.check(st == 200, "%s: fetch %s" % (what, q))
                m.check(q, [x["id"] for x in doc["messages"]], what)
            m.pending = {}
            crash.kill_daemon(d)
    print("# %d rounds in %.0f s, %d cut (%d during start-up); %d sends "
          "202'd, %d ids 204'd, %d acks unanswered; every round checked"
          % (ROUNDS, time.monotonic() - t0, cuts, startup_cuts, m.sent,
             m.acked, m.unanswered))
    rtd.check(cuts > ROUNDS // 2, "most rounds were cut (%d of %d)"
              % (cuts, ROUNDS))


rtd.run(test)
