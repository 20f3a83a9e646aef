"""routingctl purge: without -y it asks on a terminal (y purges, anything
else does not, exit 1) and refuses with exit 2 when stdin is no terminal;
it says what it dropped (text and --json); USER DEVICE drops one device,
USER every device and the held messages; a device online over WebSocket
is left alone and counted; the daemon serves the user normally after."""

import asyncio
import os
import subprocess

import rtd
import wsclient as wc


def ctl_stdin(d, args, stdin_data=None, tty=False):
    cmd = [rtd.ROUTINGCTL, "-s", d.sock] + list(args)
    if not tty:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    master, slave = os.openpty()
    try:
        os.write(master, stdin_data)
        p = subprocess.run(cmd, stdin=slave, capture_output=True,
                           timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def depth(d, user):
    return {x["device"]: x["queued"] for x in
            d.ctl_json("queue", user)["devices"]}


async def online_dave(d):
    dave = rtd.token("dave", device="phone")
    async with wc.connect(d, dave) as ws:
        await wc.until_empty(ws)
        doc = d.ctl_json("purge", "-y", "dave")
        rtd.check(doc["online_skipped"] == 1 and doc["devices"] == 0 and
                  doc["messages"] == 0,
                  "an online device is left alone and counted (%s)" % doc)
        rc, out, err = d.ctl("purge", "-y", "dave")
        rtd.check(rc == 0 and "online left alone" in out,
                  "the text says so (%r)" % out)
        st, _ = d.send(rtd.token("alice"), rtd.envelope("dave"))
        m = await wc.recv(ws)
        rtd.check(st == 202 and m is not None and m.get("id"),
                  "the online device still receives (%s)" % m)


def test():
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        alice = rtd.token("alice")
        phone = rtd.token("bob", device="phone")
        laptop = rtd.token("bob", device="laptop")
        for tok in (phone, laptop, rtd.token("dave", device="phone")):
            rtd.check(d.fetch(tok)[0] == 200, "device admitted")
        for i in range(3):
            rtd.check(d.send(alice, rtd.envelope("bob"))[0] == 202,
                      "sent %d to bob" % i)
        rtd.check(d.send(alice, rtd.envelope("carol"))[0] == 202,
                  "one held for carol")
        rtd.check(depth(d, "bob") == {"phone": 3, "laptop": 3},
                  "bob has 3 per device")

        rc, out, err = ctl_stdin(d, ["purge", "bob"])
        rtd.check(rc == 2 and "-y" in err,
                  "no terminal, no -y: exit 2 naming -y (%d %r)" % (rc, err))
        rc, out, err = ctl_stdin(d, ["purge", "bob"], b"n\n", tty=True)
        rtd.check(rc == 1 and "[y/N]" in err and "nothing purged" in err,
                  "answering n on a terminal purges nothing (%d %r)"
                  % (rc, err))
        rtd.check(depth(d, "bob") == {"phone": 3, "laptop": 3},
                  "nothing was dropped")

        rc, out, err = ctl_stdin(d, ["purge", "bob", "phone"], b"y\n",
                                 tty=True)
        rtd.check(rc == 0 and "1 device(s) and their 3 messages dropped" in out,
                  "y on a terminal purges the phone, and says so (%d %r %r)"
                  % (rc, out, err))
        rtd.check(depth(d, "bob") == {"laptop": 3},
                  "the laptop keeps its queue")
        rc, out, err = d.ctl("--json", "purge", "-y", "bob", "tablet")
        rtd.check(rc == 1 and "tablet" in err,
                  "an unknown device: exit 1 (%d %r)" % (rc, err))

        doc = d.ctl_json("purge", "-y", "bob")
        rtd.check(doc["ok"] is True and doc["user"] == "bob" and
                  doc["device"] is None and doc["devices"] == 1 and
                  doc["messages"] == 3 and doc["held"] == 0 and
                  doc["online_skipped"] == 0,
                  "purge --json -y USER: what it dropped (%s)" % doc)
        rtd.check(depth(d, "bob") == {}, "bob has no queue left")
        st, got = d.fetch(laptop)
        rtd.check(st == 200 and got["messages"] == [],
                  "the laptop fetches an empty queue (admitted again)")
        rtd.check(d.send(alice, rtd.envelope("bob"))[0] == 202,
                  "bob receives again")
        st, got = d.fetch(laptop)
        rtd.check(len(got["messages"]) == 1, "and the laptop gets it")

        doc = d.ctl_json("purge", "-y", "carol")
        rtd.check(doc["held"] == 1 and doc["devices"] == 0,
                  "carol's held message is dropped (%s)" % doc)
        rtd.check(d.ctl_json("queue", "carol")["held"] == 0,
                  "nothing held for carol now")
        asyncio.run(online_dave(d))


rtd.run(test)
