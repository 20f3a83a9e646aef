"""Early delivery (a message framed for a connection at the end of its
queue while the commit that stores it runs), with 2 API and 2 WebSocket
workers:

- live: four keep-alive HTTP senders post to six users at once, each user
  online over a WebSocket that acknowledges what it gets; every 202'd
  message arrives exactly once, with its own envelope, in queue (id)
  order, and routingd_ws_early_deliveries_total counts those sent early;
- behind: a connection whose window is full gets nothing early; after
  its acks it gets the rest from the store, in order, none twice, none
  missing;
- a restart moves the id counter at least 2^32 ahead, so no id handed out
  before a commit that never finished can name another message."""

import asyncio
import base64
import http.client
import json
import threading

import rtd
import wsclient as wc

USERS = ["early%d" % i for i in range(6)]
SENDERS = 4
PER_SENDER = 90
WINDOW = 8


def seq_of(mid):
    return int(mid[1:], 16)


def sender(d, k, out, errors):
    """Post PER_SENDER messages over one keep-alive connection, to the
    users in turn; (user, id, data) of each 202 into out."""
    tok = rtd.token("sender%d" % k)
    conn = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    try:
        for i in range(PER_SENDER):
            user = USERS[(i + k) % len(USERS)]
            data = base64.b64encode(b"s%dm%d" % (k, i)).decode()
            conn.request("POST", "/api/send", body=json.dumps(
                rtd.envelope(user, data=data)), headers={
                    "Authorization": "Bearer " + tok,
                    "Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 202:
                errors.append((r.status, body))
                continue
            out.append((user, json.loads(body)["id"], data))
    finally:
        conn.close()


async def receiver(d, user, want, got):
    """Receive (and acknowledge at once) until want messages came, or
    2 s pass without one."""
    async with wc.connect(d, rtd.token(user)) as ws:
        await wc.until_empty(ws)
        got[user] = []
        ready = got.setdefault("_ready", [])
        ready.append(user)
        while len(got[user]) < want():
            m = await wc.recv(ws, 2)
            if m is None:
                break
            if m.get("type") != "message":
                continue
            got[user].append((m["id"], m["envelope"]["encryptedData"]))
            await wc.ack(ws, [m["id"]])


async def live(d):
    sent, errors, got = [], [], {}
    done = threading.Event()

    def want_for(user):
        return lambda: (sum(1 for u, _, _ in sent if u == user)
                        if done.is_set() else 1 << 30)

    tasks = [asyncio.create_task(receiver(d, u, want_for(u), got))
             for u in USERS]
    while len(got.get("_ready", [])) < len(USERS):
        await asyncio.sleep(0.05)
    threads = [threading.Thread(target=sender, args=(d, k, sent, errors))
               for k in range(SENDERS)]
    for t in threads:
        t.start()
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: [t.join() for t in threads])
    done.set()
    await asyncio.gather(*tasks)
    rtd.check(not errors, "every send answered 202 (%s)" % errors[:3])
    data_of = {mid: data for _, mid, data in sent}
    for u in USERS:
        want = sorted((mid for uu, mid, _ in sent if uu == u), key=seq_of)
        ids = [mid for mid, _ in got[u]]
        rtd.check(ids == want, "%s: the %d 202'd messages, each once, in "
                  "queue order (got %d)" % (u, len(want), len(ids)))
        rtd.check(all(data_of[mid] == data for mid, data in got[u]),
                  "%s: each with its own envelope" % u)
    m = d.metrics()
    early = m.get("routingd_ws_early_deliveries_total", 0)
    pushed = m.get("routingd_ws_messages_pushed_total", 0)
    print("# %d of %d frames early" % (early, pushed))
    rtd.check(pushed >= len(sent) and early <= pushed,
              "pushed counts every frame, early ones included")
    rtd.check(early > 0, "live messages went early (%d of %d)" %
              (early, len(sent)))
    return max(seq_of(mid) for _, mid, _ in sent)


async def behind(d):
    user, tok = "behind", rtd.token("behind")
    before = d.metrics().get("routingd_ws_early_deliveries_total", 0)
    async with wc.connect(d, tok) as ws:
        await wc.until_empty(ws)
        ids = [d.send(tok, rtd.envelope(user))[1]["id"]
               for i in range(3 * WINDOW)]
        first = [await wc.recv(ws, 2) for _ in range(WINDOW)]
        rtd.check([m and m.get("id") for m in first] == ids[:WINDOW],
                  "the window's first %d arrive in order" % WINDOW)
        rtd.check(await wc.recv(ws, 0.5) is None,
                  "nothing more while the window is full")
        more = ids[WINDOW:]
        for _ in range(2):      # the rest, while new ones keep coming
            await wc.ack(ws, [m["id"] for m in first])
            more.append(d.send(tok, rtd.envelope(user))[1]["id"])
            first = [await wc.recv(ws, 2) for _ in range(WINDOW)]
            rtd.check(all(m and m.get("type") == "message" for m in first),
                      "a window's worth after the acks")
            rtd.check([m["id"] for m in first] == more[:WINDOW],
                      "in queue order, none twice, none missing")
            more = more[WINDOW:]
        await wc.ack(ws, [m["id"] for m in first])
        rest = []
        while len(rest) < len(more):
            m = await wc.recv(ws, 2)
            rtd.check(m is not None, "the last ones arrive")
            rest.append(m["id"])
        rtd.check(rest == more, "the last ones in order")
        rtd.check(await wc.recv(ws, 0.5) is None, "and nothing else")
    early = d.metrics().get("routingd_ws_early_deliveries_total", 0)
    print("# behind: %d early" % (early - before))


def test():
    with rtd.api_daemon(api_workers=2, ws_workers=2, rate_limit_per_user=0,
                        ws_window=WINDOW) as d:
        top = asyncio.run(live(d))
        asyncio.run(behind(d))
        d.stop()
        d.start()
        st, doc = d.send(rtd.token("x"), rtd.envelope("early0"))
        rtd.check(st == 202, "a send after the restart is accepted")
        rtd.check(seq_of(doc["id"]) >= top + (1 << 32),
                  "after a restart ids start 2^32 past the last one "
                  "(%s after %x)" % (doc["id"], top))


rtd.run(test)
