"""Requests that share one group commit fail alone: many concurrent sends
fill the store, so some requests of a batch hit a full map while others
in the same batch succeed.  Every 202 must be a stored message, every 503
must not be, and acknowledgements in the same batches keep working."""

import base64
import concurrent.futures

import rtd


def send_all(d, tok, blob, n):
    def one(i):
        st, doc = d.send(tok, rtd.envelope("bob", data=blob))
        return st, (doc or {}).get("id")
    with concurrent.futures.ThreadPoolExecutor(max_workers=48) as ex:
        return list(ex.map(one, range(n)))


def test():
    with rtd.api_daemon(store_max_size="2m", max_envelope_bytes="64k",
                        queue_max_messages=100000, api_workers=1,
                        rate_limit_per_user=0) as d:
        a, b = rtd.token("alice"), rtd.token("bob")
        st, _ = d.fetch(b)	# bob's device known before the store fills
        rtd.check(st == 200, "bob's device is known")
        blob = base64.b64encode(b"y" * 30000).decode()
        res = send_all(d, a, blob, 240)
        codes = [st for st, _ in res]
        ok = {mid for st, mid in res if st == 202}
        rtd.check(set(codes) <= {202, 503}, "only 202 and 503 (got %s)" %
                  sorted(set(codes)))
        rtd.check(len(ok) > 0 and codes.count(503) > 0,
                  "the store filled up mid-way (%d x 202, %d x 503)" %
                  (len(ok), codes.count(503)))
        m = d.metrics()
        batches = m.get("routingd_store_batch_requests_count", 0)
        rtd.check(batches < len(codes),
                  "requests shared commits (%d commits for %d requests)" %
                  (batches, len(codes)))
        rtd.check(m.get("routingd_store_batch_replays_total", 0) >= 1,
                  "a batch a request failed in was run again with a "
                  "sub-transaction per request")
        stored = set()
        while True:
            st, doc = d.fetch(b, limit=500)
            rtd.check(st == 200, "fetch works on a full store")
            ids = [m["id"] for m in doc["messages"]]
            if not ids or set(ids) <= stored:
                break
            stored |= set(ids)
        rtd.check(stored == ok, "every 202 is stored and nothing else "
                  "(%d accepted, %d stored, %d extra, %d missing)" %
                  (len(ok), len(stored), len(stored - ok), len(ok - stored)))
        # Acks and sends racing in the same batches on a full store.
        acks = sorted(stored)
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
            got = list(ex.map(lambda i: d.ack(b, [i]), acks))
        rtd.check(got == [204] * len(acks), "every ack answered 204")
        st, doc = d.fetch(b, limit=500)
        rtd.check(doc["messages"] == [], "every message acknowledged")
        rtd.check(len(d.workers()) == 2 and "lost child" not in d.log(),
                  "no worker died")


rtd.run(test)
