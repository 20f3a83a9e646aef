"""tlscerts.py: test certificates made with the openssl command.

    tlscerts.require()        # exit 77 (skipped), saying why, without it
    ca, ca_key = tlscerts.make_ca(tmp, "test")
    crt, key = tlscerts.make_cert(tmp, "srv", ca, ca_key, serial=1)
    serial = tlscerts.https_serial(port, ssl_context)
"""

import os
import shutil
import subprocess
import sys


def require(what="this test"):
    """Skip (exit 77) with the reason when the openssl command is not
    installed."""
    if shutil.which("openssl") is None:
        print("# SKIP: %s needs the openssl command (package openssl) for "
              "its test certificates" % what)
        sys.exit(77)


def _run(*args):
    subprocess.run(args, check=True, capture_output=True)


def make_ca(dirpath, name):
    """A self-signed CA: (certificate path, key path)."""
    key = os.path.join(dirpath, name + "-ca.key")
    crt = os.path.join(dirpath, name + "-ca.pem")
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", crt, "-days", "2", "-subj",
         "/CN=routingd test CA " + name)
    return crt, key


def make_cert(dirpath, name, ca, ca_key, serial, key=None):
    """A server certificate for 127.0.0.1 and localhost signed by the CA,
    with the given serial number: (certificate path, key path).  A new
    key unless key (a path) is given."""
    crt = os.path.join(dirpath, name + ".pem")
    csr = os.path.join(dirpath, name + ".csr")
    ext = os.path.join(dirpath, name + "-ext.cnf")
    if key is None:
        key = os.path.join(dirpath, name + ".key")
        _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
             key, "-out", csr, "-subj", "/CN=127.0.0.1")
    else:
        _run("openssl", "req", "-new", "-key", key, "-out", csr, "-subj",
             "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-set_serial", str(serial), "-out", crt, "-days", "2", "-extfile",
         ext)
    return crt, key


def https_serial(port, ctx):
    """The serial number of the certificate the https server on port
    presents (read right after the handshake: an answer with
    Connection: close, as a reload's old worker gives, closes the
    socket), after one GET /healthz on the connection."""
    import http.client
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                    timeout=5)
    try:
        c.connect()
        serial = c.sock.getpeercert()["serialNumber"]
        c.request("GET", "/healthz")
        c.getresponse().read()
        return serial
    finally:
        c.close()
