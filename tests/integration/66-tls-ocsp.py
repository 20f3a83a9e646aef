"""OCSP stapling (tls_ocsp_file): the test makes a CA, a server
certificate and OCSP responses for it with `openssl ocsp` (an index file,
the CA as -rsigner, -respout).  `openssl s_client -status` sees the
stapled response (cert status good) on the API and WebSocket ports;
after the file is replaced by a "revoked" response and a reload, new
connections see the new one; without the key nothing is stapled.
routingd -n refuses a file that is not an OCSP response, one whose
status is not successful, one for another certificate, one when
tls_cert has no issuer certificate to match it, and tls_ocsp_file
without tls_cert."""

import os
import shutil
import ssl
import subprocess
import tempfile

import rtd
import tlscerts


def ocsp(tmp, ca, ca_key, crt, out, status="V"):
    """An OCSP response (DER) for crt, signed by the CA, status V (good)
    or R (revoked)."""
    serial = subprocess.run(["openssl", "x509", "-in", crt, "-noout",
                             "-serial"], capture_output=True, text=True,
                            check=True).stdout.strip().split("=")[1]
    index = os.path.join(tmp, "index-%s.txt" % os.path.basename(out))
    with open(index, "w") as f:
        f.write("%s\t301231235959Z\t%s\t%s\tunknown\t/CN=127.0.0.1\n"
                % (status, "261201000000Z" if status == "R" else "",
                   serial))
    subprocess.run(["openssl", "ocsp", "-index", index, "-rsigner", ca,
                    "-rkey", ca_key, "-CA", ca, "-issuer", ca, "-cert", crt,
                    "-respout", out, "-ndays", "1"], check=True,
                   capture_output=True)
    return out


def stapled(port, ca):
    """What s_client -status says about the stapled response."""
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % port, "-status", "-CAfile", ca,
                        "-servername", "localhost"], input=b"",
                       capture_output=True, timeout=15)
    out = p.stdout.decode(errors="replace")
    if "OCSP response: no response sent" in out:
        return "none"
    if "Cert Status: good" in out:
        return "good"
    if "Cert Status: revoked" in out:
        return "revoked"
    return "?" + out[-400:]


def check_file(keys):
    return rtd.config_check(keys, "t66-check.conf")


def test():
    os.makedirs(rtd.TESTDIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rtd-tls66-", dir=rtd.TESTDIR)
    tlscerts.require()
    ca, ca_key = tlscerts.make_ca(tmp, "t66")
    leaf, key = tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=66)
    chain = os.path.join(tmp, "fullchain.pem")
    with open(chain, "w") as f:
        f.write(open(leaf).read() + open(ca).read())
    good = ocsp(tmp, ca, ca_key, leaf, os.path.join(tmp, "good.der"))
    revoked = ocsp(tmp, ca, ca_key, leaf, os.path.join(tmp, "revoked.der"),
                   status="R")
    live = os.path.join(tmp, "ocsp.der")
    shutil.copy(good, live)

    ctx = ssl.create_default_context(cafile=ca)
    with rtd.api_daemon(ssl_context=ctx, tls_cert=chain, tls_key=key,
                        tls_ocsp_file=live) as d:
        rtd.check(stapled(d.api_port, ca) == "good",
                  "s_client -status: the API port staples the response")
        rtd.check(stapled(d.ws_port, ca) == "good",
                  "s_client -status: the WebSocket port staples it too")
        shutil.copy(revoked, live)
        rtd.check(stapled(d.api_port, ca) == "good",
                  "a replaced file is not read before a reload")
        rc, out, err = d.ctl("reload")
        rtd.check(rc == 0, "reload (%d %r %r)" % (rc, out, err))
        rtd.wait_for(lambda: stapled(d.api_port, ca) == "revoked", 15,
                     "the API port staples the new response after reload")
        rtd.check(stapled(d.ws_port, ca) == "revoked",
                  "the WebSocket port staples the new response")
        # a reload with a file that is not OCSP is refused; old one stays
        with open(live, "wb") as f:
            f.write(b"not an OCSP response\n")
        rc, out, err = d.ctl("reload")
        rtd.check(rc != 0 and "tls_ocsp_file" in out + err,
                  "a reload with a bad OCSP file is refused (%d %r %r)"
                  % (rc, out, err))
        rtd.check(stapled(d.api_port, ca) == "revoked",
                  "... and the running response stays")

    with rtd.api_daemon(ssl_context=ctx, tls_cert=chain, tls_key=key) as d:
        rtd.check(stapled(d.api_port, ca) == "none",
                  "without tls_ocsp_file nothing is stapled")

    # routingd -n
    base = {"tls_cert": chain, "tls_key": key, "jwt_secret": "x" * 32}
    rc, out = check_file(dict(base, tls_ocsp_file=good))
    rtd.check(rc == 0, "routingd -n accepts a good response (%d %r)"
              % (rc, out))
    junk = os.path.join(tmp, "junk.der")
    with open(junk, "wb") as f:
        f.write(os.urandom(200))
    rc, out = check_file(dict(base, tls_ocsp_file=junk))
    rtd.check(rc == 1 and "tls_ocsp_file" in out and
              "not a DER OCSP response" in out,
              "routingd -n refuses a file that is not OCSP (%r)" % out)
    unauth = os.path.join(tmp, "unauthorized.der")
    with open(unauth, "wb") as f:
        f.write(b"\x30\x03\x0a\x01\x06")    # OCSPResponse: unauthorized
    rc, out = check_file(dict(base, tls_ocsp_file=unauth))
    rtd.check(rc == 1 and "unauthorized" in out and "not successful" in out,
              "routingd -n refuses an unsuccessful response (%r)" % out)
    other, _ = tlscerts.make_cert(tmp, "other", ca, ca_key, serial=67)
    wrong = ocsp(tmp, ca, ca_key, other, os.path.join(tmp, "other.der"))
    rc, out = check_file(dict(base, tls_ocsp_file=wrong))
    rtd.check(rc == 1 and "not for the certificate" in out,
              "routingd -n refuses a response for another certificate (%r)"
              % out)
    rc, out = check_file(dict(base, tls_cert=leaf, tls_ocsp_file=good))
    rtd.check(rc == 1 and "issuer" in out,
              "routingd -n refuses it when tls_cert has no issuer (%r)"
              % out)
    rc, out = check_file({"jwt_secret": "x" * 32, "tls_ocsp_file": good})
    rtd.check(rc == 1 and "tls_ocsp_file is set but tls_cert is not" in out,
              "routingd -n refuses tls_ocsp_file without tls_cert (%r)"
              % out)


if __name__ == "__main__":
    rtd.run(test)
