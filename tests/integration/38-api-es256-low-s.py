"""ES256 tokens and their twins: an ECDSA signature (r, s) has a twin
(r, n - s) that verifies too.  By default both are accepted (issuers give
a high S to about half their tokens); with jwt_es256_low_s = yes a token
whose S is above n/2 is 401 and its low-S twin is accepted."""

import base64
import json
import os
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

import rtd

# The order of the P-256 group.
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def s_of(tok):
    return int.from_bytes(unb64u(tok.rsplit(".", 1)[1])[32:], "big")


def twin(tok):
    """The same token with S replaced by n - S."""
    head, sig = tok.rsplit(".", 1)
    raw = unb64u(sig)
    s = int.from_bytes(raw[32:], "big")
    return head + "." + b64u(raw[:32] + (N - s).to_bytes(32, "big"))


def es256_tokens(key, want_low, want_high):
    """Mint ES256 tokens until there are want_low with a low S and
    want_high with a high S (each mint is a coin toss)."""
    low, high = [], []
    for i in range(400):
        if len(low) >= want_low and len(high) >= want_high:
            break
        now = int(time.time())
        tok = jwt.encode({"sub": "alice%d" % i, "iat": now,
                          "exp": now + 600}, key, algorithm="ES256",
                         headers={"kid": "ec1"})
        tok = tok.decode() if isinstance(tok, bytes) else tok
        (low if s_of(tok) <= N // 2 else high).append(tok)
    rtd.check(len(low) >= want_low and len(high) >= want_high,
              "minted low-S and high-S tokens")
    return low[:want_low], high[:want_high]


def daemon_with_jwks(key, **keys):
    d = rtd.Daemon(start=False, jwt_secret=rtd.TEST_SECRET, api_workers=1,
                   ws_workers=1, **keys)
    pub = key.public_key().public_numbers()
    path = os.path.join(d.dir, "jwks.json")
    with open(path, "w") as f:
        json.dump({"keys": [{
            "kty": "EC", "kid": "ec1", "alg": "ES256", "crv": "P-256",
            "x": b64u(pub.x.to_bytes(32, "big")),
            "y": b64u(pub.y.to_bytes(32, "big"))}]}, f)
    d.keys["jwt_jwks_file"] = path
    d.write_config()
    return d


def status(d, tok):
    st, _, _ = d.api("GET", "/api/devices", tok)
    return st


def test():
    key = ec.generate_private_key(ec.SECP256R1())
    low, high = es256_tokens(key, 3, 3)

    with daemon_with_jwks(key) as d:
        d.start()
        for tok in low + high + [twin(t) for t in low + high]:
            rtd.check(status(d, tok) == 200,
                      "default: S %s n/2 accepted" %
                      ("<=" if s_of(tok) <= N // 2 else ">"))

    with daemon_with_jwks(key, jwt_es256_low_s="yes") as d:
        d.start()
        for tok in low + [twin(t) for t in high]:
            rtd.check(status(d, tok) == 200,
                      "jwt_es256_low_s = yes: a low-S token is accepted")
        for tok in high + [twin(t) for t in low]:
            rtd.check(status(d, tok) == 401,
                      "jwt_es256_low_s = yes: a high-S token is 401")
        # the refusal is not cached as a success, nor the other way round
        rtd.check(status(d, high[0]) == 401 and status(d, low[0]) == 200,
                  "asked again, the same answers")
        rtd.check("high-S ES256 signature" in d.log(),
                  "the reason is in the debug log")
        rtd.check("eyJ" not in d.log(), "no token in the log")


rtd.run(test)
