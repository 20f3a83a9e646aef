"""routingctl token: mints an HS256 token with the daemon's own secret
(jwt_secret, jwt_secret_file, or the secret a config-less daemon
generates) that the API and the WebSocket port accept, for the user and
device asked, with the claims the verifier is configured for (custom user
and device claim names, iss, aud) and exp = iat + --ttl (default 3600).
Bad arguments exit 2, a bad id or ttl and a JWKS-only daemon exit 1 with a
clear reason, no daemon exits 3."""

import asyncio
import base64
import json
import os
import shutil

import rtd
import wsclient as wc

JWKS = os.path.abspath(os.path.join(os.environ.get("srcdir", "."),
                                    "tests/unit/data/jwt/jwks.json"))


def claims(tok):
    body = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def mint(d, *args):
    rc, out, err = d.ctl("token", *args)
    rtd.check(rc == 0, "token %s exits 0 (%d: %s)" % (args, rc, err))
    tok = out.strip()
    rtd.check(out.endswith("\n") and out.count("\n") == 1 and
              tok.count(".") == 2, "text output is the token alone (%r)" % out)
    return tok


async def ws_hello(d, tok):
    """Connect with tok as the subprotocol; the device the server saw."""
    async with wc.connect(d, protocols=["routingd.v1", tok]) as ws:
        rtd.check(ws.subprotocol == tok, "the WS port accepts the token")
        await wc.until_empty(ws)
        return True


def test_defaults_and_secret():
    with rtd.api_daemon() as d:
        tok = mint(d, "alice")
        c = claims(tok)
        rtd.check(c["sub"] == "alice" and "device_id" not in c and
                  c["exp"] - c["iat"] == 3600, "default claims (%s)" % c)
        st, doc = d.send(tok, rtd.envelope("bob"))
        rtd.check(st == 202, "the API accepts the token (%d %s)" % (st, doc))
        bob = mint(d, "bob", "--device", "phone", "--ttl", "120")
        c = claims(bob)
        rtd.check(c["sub"] == "bob" and c["device_id"] == "phone" and
                  c["exp"] - c["iat"] == 120, "--device and --ttl (%s)" % c)
        st, doc = d.fetch(bob)
        rtd.check(st == 200 and len(doc["messages"]) == 1,
                  "bob's token fetches the message sent to him")
        asyncio.run(ws_hello(d, bob))
        st, _, doc = d.api("GET", "/api/devices", bob)
        rtd.check(st == 200 and "phone" in json.dumps(doc),
                  "the device claim is the device (%s)" % doc)

        j = d.ctl_json("token", "carol", "--device", "d1", "--ttl", "60")
        rtd.check(j["user"] == "carol" and j["device"] == "d1" and
                  j["ttl"] == 60 and j["expires"] == claims(j["token"])["exp"],
                  "--json fields (%s)" % j)
        j = d.ctl_json("token", "carol")
        rtd.check(j["device"] is None and j["ttl"] == 3600, "--json defaults")

        for args in (["token"], ["token", "a", "--ttl"],
                     ["token", "a", "--ttl", "x"], ["token", "a", "--ttl", "0"],
                     ["token", "a", "--bogus", "1"], ["token", "a", "b"]):
            rc, out, err = d.ctl(*args)
            rtd.check(rc == 2 and out == "" and "usage" in err,
                      "%s is a usage error (%d %r)" % (args, rc, err))
        for args, why in ((["token", "a b"], "valid id"),
                          (["token", "x" * 129], "valid id"),
                          (["token", "a", "--device", "p q"], "valid id"),
                          (["token", "a", "--ttl", "86401"], "86400")):
            rc, out, err = d.ctl(*args)
            rtd.check(rc in (1, 2) and out == "" and why in err,
                      "%s refused (%d %r)" % (args[:2], rc, err))
        rtd.check("minted a token user=alice" in d.log() and
                  tok not in d.log(), "minting is logged, the token is not")
        rc, out, err = d.ctl("token", "alice", sock=d.dir + "/none.sock")
        rtd.check(rc == 3, "no daemon: exit 3 (%d)" % rc)


def test_secret_file_and_claims():
    d = rtd.Daemon(start=False, api_workers=1, ws_workers=1,
                   jwt_user_claim="uid", jwt_device_claim="dev",
                   jwt_issuer="https://id.example", jwt_audience="routingd")
    with d:
        path = os.path.join(d.dir, "secret")
        with open(path, "w") as f:
            f.write("s" * 40 + "\n")
        os.chmod(path, 0o600)
        d.keys["jwt_secret_file"] = path
        d.write_config()
        d.start()
        tok = mint(d, "alice", "--device", "tab")
        c = claims(tok)
        rtd.check(c["uid"] == "alice" and c["dev"] == "tab" and
                  c["iss"] == "https://id.example" and c["aud"] == "routingd",
                  "claims follow the verifier's configuration (%s)" % c)
        st, _, doc = d.api("GET", "/api/messages", tok)
        rtd.check(st == 200, "the API accepts it (%d %s)" % (st, doc))
        st, _, _ = d.api("GET", "/api/messages",
                         rtd.token("alice", secret="s" * 40, uid="alice",
                                   iss="https://id.example", aud="routingd"))
        rtd.check(st == 200, "the same secret signs what python3-jwt signs")


def test_jwks_only():
    if not os.path.exists(JWKS):
        raise rtd.Failure("missing %s" % JWKS)
    with rtd.Daemon(api_workers=1, ws_workers=1, jwt_jwks_file=JWKS) as d:
        rc, out, err = d.ctl("token", "alice")
        rtd.check(rc == 1 and out == "" and "no HS256 secret" in err,
                  "a JWKS-only daemon says why it cannot mint (%d %r)"
                  % (rc, err))
        j = json.loads(d.ctl("--json", "token", "alice")[1])
        rtd.check(j["ok"] is False and "no HS256 secret" in j["message"],
                  "and --json says so too (%s)" % j)


def test():
    test_defaults_and_secret()
    test_secret_file_and_claims()
    test_jwks_only()


rtd.run(test)
