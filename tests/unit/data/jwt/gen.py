#!/usr/bin/python3
"""Regenerate the JWT fixtures used by tests/unit/test_jwt.c.

Run from this directory with Debian's python3-jwt and python3-cryptography:
    /usr/bin/python3 gen.py
It makes fresh keys (private halves are never written), the JWKS files,
rs256.pub.pem and tokens.txt ("name token" lines).
Token times are fixed far in the future (exp 2100-01-01) and test_jwt.c
passes an explicit `now` (FIX_NOW there) between iat and exp.
"""

import base64
import json

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

EXP = 4102444800            # 2100-01-01T00:00:00Z
IAT = EXP - 3600
HS1_SECRET = b"routingd-test-hs1-secret-0123456789abcdef"
CLAIMS = {"sub": "urn:sm:user:alice", "device_id": "phone-1",
          "iss": "https://idp.example", "aud": ["routingd", "other"],
          "iat": IAT, "exp": EXP}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(size, "big"))


def rsa_jwk(key, kid):
    pub = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": uint(pub.n), "e": uint(pub.e)}


def ec_jwk(key, kid, crv="P-256", size=32):
    pub = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "alg": "ES256", "crv": crv,
            "x": uint(pub.x, size), "y": uint(pub.y, size)}


def main():
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    es = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    with open("rs256.pub.pem", "wb") as f:
        f.write(rs.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))
    keys = [rsa_jwk(rs, "rs1"), ec_jwk(es, "ec1"),
            {"kty": "oct", "kid": "hs1", "alg": "HS256",
             "k": b64u(HS1_SECRET)}]
    with open("jwks.json", "w") as f:
        json.dump({"keys": keys}, f, indent=1)
        f.write("\n")
    with open("jwks-rsa1024.json", "w") as f:
        json.dump({"keys": [rsa_jwk(weak, "weak")]}, f, indent=1)
        f.write("\n")
    with open("jwks-p384.json", "w") as f:
        json.dump({"keys": [ec_jwk(p384, "p384", "P-384", 48)]}, f,
                  indent=1)
        f.write("\n")

    tokens = {}
    tokens["rs256"] = jwt.encode(CLAIMS, rs, algorithm="RS256",
                                 headers={"kid": "rs1"})
    tokens["es256"] = jwt.encode(CLAIMS, es, algorithm="ES256",
                                 headers={"kid": "ec1"})
    tokens["hs256_hs1"] = jwt.encode(CLAIMS, HS1_SECRET, algorithm="HS256",
                                     headers={"kid": "hs1"})
    # RS256 signature, but the header names the EC key: alg mismatch.
    tokens["rs256_kid_ec1"] = jwt.encode(CLAIMS, rs, algorithm="RS256",
                                         headers={"kid": "ec1"})
    # ES256 with a DER (not raw R||S) signature: wrong length.
    head, body, _ = tokens["es256"].split(".")
    der = es.sign((head + "." + body).encode(), ec.ECDSA(hashes.SHA256()))
    tokens["es256_der"] = head + "." + body + "." + b64u(der)
    # RS256 signed by the 1024-bit key (its JWKS must not load).
    tokens["rs256_weak"] = jwt.encode(CLAIMS, weak, algorithm="RS256",
                                      headers={"kid": "weak"})
    with open("tokens.txt", "w") as f:
        for name in sorted(tokens):
            f.write("%s %s\n" % (name, tokens[name]))


if __name__ == "__main__":
    main()
