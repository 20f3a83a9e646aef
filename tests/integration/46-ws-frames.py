"""The WebSocket worker's framing, Autobahn-testsuite style, over raw TCP.

The case list of the Autobahn testsuite sections 1-7 and 9 (framing,
pings and pongs, reserved bits, opcodes, fragmentation, UTF-8, close
handling, limits), ported to routingd's contract: a text or binary
message the server does not understand gets one {"type":"error",
"error":"invalid_frame"} frame (more than 10 of them: close 1008), a
valid {"type":"ack"} gets nothing, protocol errors fail the connection
(a close 1002 or a plain TCP close), bad UTF-8 is close 1007, too big or
too many fragments close 1009.  Server frames are never masked.  No
case may kill the WS worker, and the closes are counted in /metrics by
their code.  Last, on a daemon of its own, frames that arrive in the same
write as the upgrade request (before the 101).

Every case runs and prints "ok -" or "not ok -"; the test fails at the
end if any case did.  Cases that guard against a bug found earlier say so
in their text ("regression:").
"""

import json
import os
import time

import rtd
import wsraw
from wsraw import BINARY, CLOSE, CONT, PING, PONG, TEXT

ACK = '{"type":"ack","messageIds":[]}'
MIB = 1024 * 1024

expect = rtd.expect


class Ctx:
    """The daemon and a supply of fresh users (one device each: a
    connection never replaces another)."""

    def __init__(self, d):
        self.d = d
        self.n = 0

    def fresh(self, **kw):
        self.n += 1
        return wsraw.connect(self.d.ws_port,
                             rtd.token("wsf%d" % self.n), **kw)


def is_error(f, code="invalid_frame"):
    doc = f.json() if f is not None else None
    return (doc is not None and doc.get("type") == "error" and
            doc.get("error") == code)


def describe(frames, how):
    return "%s, then TCP %s" % (frames, how)


# -- reusable case shapes ---------------------------------------------------

def fail_case(cx, name, send, codes=(1002,), empty_ok=True, timeout=5.0):
    """A protocol error: on a fresh connection send(c) must end in a
    close with one of codes (or, if empty_ok, an empty close) or a bare
    TCP close, with no data frame or pong before it.  Returns the frames."""
    c = cx.fresh()
    send(c)
    frames, how = c.read_to_end(timeout)
    c.close()
    closes = [f for f in frames if f.opcode == CLOSE]
    others = [f for f in frames if f.opcode != CLOSE]
    ok = how in ("eof", "reset") and not others and len(closes) <= 1
    if ok and closes:
        code = closes[0].close_code
        ok = code in codes or (empty_ok and closes[0].payload == b"")
    expect(ok, "%s: connection failed (close %s%s or TCP close; got %s)"
           % (name, "/".join(map(str, codes)),
              " or empty" if empty_ok else "", describe(frames, how)))
    return frames


def exact_close_case(cx, name, send, code, timeout=5.0, allow_errors=False):
    """send(c) on a fresh connection must end in exactly one close frame
    with code, then a TCP close."""
    c = cx.fresh()
    send(c)
    frames, how = c.read_to_end(timeout)
    c.close()
    closes = [f for f in frames if f.opcode == CLOSE]
    others = [f for f in frames if f.opcode != CLOSE and
              not (allow_errors and is_error(f))]
    expect(len(closes) == 1 and closes[0].close_code == code and
           not others and how in ("eof", "reset") and
           frames and frames[-1].opcode == CLOSE,
           "%s: close %d, then TCP close (got %s)"
           % (name, code, describe(frames, how)))
    return frames


def accepted(c, name):
    """c is still open and nothing came back (no error frame)."""
    pong, others, how = c.sync()
    expect(pong and not others and how is None,
           "%s: accepted, no error frame, connection usable (pong %s, "
           "other frames %s, TCP %s)" % (name, pong, others, how))


def accept_case(cx, name, send):
    c = cx.fresh()
    send(c)
    accepted(c, name)
    c.close()


def frags(data, n):
    """data (bytes) cut into n non-empty pieces, the last one takes the
    rest."""
    step = max(1, len(data) // n)
    out = [data[i * step:(i + 1) * step] for i in range(n - 1)]
    out.append(data[(n - 1) * step:])
    assert len(out) == n and all(out), (len(data), n)
    return out


def send_fragments(c, pieces, opcode=TEXT, between=None):
    """One message as len(pieces) frames; between(c, i) runs after
    frame i (not after the last one)."""
    for i, p in enumerate(pieces):
        last = i == len(pieces) - 1
        c.send_frame(opcode if i == 0 else CONT, p, fin=last)
        if between is not None and not last:
            between(c, i)


# -- sections ---------------------------------------------------------------

def section1(cx):
    """Framing: text and binary messages of every length encoding."""
    lengths = (0, 125, 126, 127, 65535, 65536)
    for opcode, name, fill in ((TEXT, "text", b"x"),
                               (BINARY, "binary", b"\xfe")):
        c = cx.fresh()
        errors = 0
        for n in lengths:
            c.send_frame(opcode, fill * n)
            try:
                f = c.recv_frame(5)
            except (wsraw.Timeout, wsraw.Closed) as e:
                f = e
            ok = isinstance(f, wsraw.Frame) and is_error(f)
            errors += ok
            expect(ok, "1: %s message of %d bytes (%s length) gets an "
                   "invalid_frame error frame (got %r)"
                   % (name, n, "7-bit" if n < 126 else "16-bit"
                      if n < 65536 else "64-bit", f))
        pong, others, how = c.sync()
        expect(pong and not others and how is None and errors == 6,
               "1: %s: exactly one error frame per message (%d for 6) and "
               "the connection survives (pong %s, extra %s, TCP %s)"
               % (name, errors, pong, others, how))
        c.close()
    # Autobahn 1.1.7/1.2.7: 65536 bytes written in chops of 997 bytes.
    for opcode, name in ((TEXT, "text"), (BINARY, "binary")):
        c = cx.fresh()
        c.send_raw(wsraw.build_frame(opcode, b"*" * 65536), chunk=997)
        f = c.recv_frame(5)
        pong, others, how = c.sync()
        expect(is_error(f) and pong and not others,
               "1: %s message of 65536 bytes written in 997-byte chops: one "
               "error frame (got %r, then %s)" % (name, f, others))
        c.close()
    # A non-minimal length encoding must be a protocol error (RFC 6455
    # 5.2: "the minimal number of bytes MUST be used").
    fail_case(cx, "1: 16-bit length form for a 5-byte payload",
              lambda c: c.send_frame(TEXT, "hello", lenform=16))
    fail_case(cx, "1: 64-bit length form for a 200-byte payload",
              lambda c: c.send_frame(TEXT, "x" * 200, lenform=64))


def section2(cx):
    """Pings and pongs."""
    c = cx.fresh()
    for name, payload, chunk in (("empty", b"", None),
                                 ("125-byte text", b"p" * 125, None),
                                 ("125-byte binary", bytes(range(125)),
                                  None),
                                 ("125-byte, written byte by byte",
                                  b"q" * 125, 1)):
        c.send_frame(PING, payload, chunk=chunk)
        try:
            f = c.recv_frame(3)
        except (wsraw.Timeout, wsraw.Closed) as e:
            f = e
        expect(isinstance(f, wsraw.Frame) and f.opcode == PONG and
               f.payload == payload and f.fin == 1 and f.rsv == 0,
               "2: ping (%s) gets a pong with the same payload (got %r)"
               % (name, f))
    # RFC 6455 5.5.3: pings that arrive before their pongs went out may
    # get one pong, for the latest; routingd coalesces the pings of a read
    tags = [b"ping-%d" % i for i in range(10)]
    c.send_raw(b"".join(wsraw.build_frame(PING, t) for t in tags))
    got, _ = c.collect(1.0)
    pongs = [f.payload for f in got if f.opcode == PONG]
    expect(pongs and pongs[-1] == tags[-1] and
           all(p in tags for p in pongs) and pongs == sorted(
               pongs, key=tags.index) and
           all(f.opcode == PONG for f in got),
           "2: 10 pings in one write get pongs in order, the last one for "
           "the last ping (got %s)" % got)
    c.send_frame(PONG, b"")
    c.send_frame(PONG, b"unsolicited pong")
    c.send_text(ACK)
    time.sleep(0.2)     # the ack goes through the group commit
    accepted(c, "2: unsolicited pongs (empty, with payload) then an ack")
    c.close()
    fail_case(cx, "2: ping with a 126-byte payload",
              lambda c: c.send_frame(PING, b"x" * 126))
    fail_case(cx, "2: ping with a 126-byte payload, 16-bit length form",
              lambda c: c.send_frame(PING, b"x" * 126, lenform=16))


def section3(cx):
    """Reserved bits (no extension is negotiated)."""
    for rsv in range(1, 8):
        fail_case(cx, "3: text frame with RSV=%d" % rsv,
                  lambda c, r=rsv: (c.send_text(ACK, rsv=r),
                                    c.send_frame(PING, b"after")))
    fail_case(cx, "3: valid ack, then text RSV=2, then ping (no pong)",
              lambda c: (c.send_text(ACK), c.send_text(ACK, rsv=2),
                         c.send_frame(PING, b"after")))
    fail_case(cx, "3: binary frame with RSV=5",
              lambda c: c.send_binary(b"\x00\xff", rsv=5))
    fail_case(cx, "3: ping with RSV=6",
              lambda c: c.send_frame(PING, b"ping", rsv=6))
    fail_case(cx, "3: close with RSV=7",
              lambda c: c.send_close(1000, rsv=7))


def section4(cx):
    """Reserved opcodes."""
    for op in list(range(3, 8)) + list(range(0xB, 0x10)):
        fail_case(cx, "4: reserved opcode 0x%X (empty)" % op,
                  lambda c, o=op: c.send_frame(o, b""))
        fail_case(cx, "4: ack, reserved opcode 0x%X with payload, ping "
                  "(no pong)" % op,
                  lambda c, o=op: (c.send_text(ACK),
                                   c.send_frame(o, b"reserved payload"),
                                   c.send_frame(PING, b"after")))


def section5(cx):
    """Fragmentation."""
    fail_case(cx, "5: ping in 2 fragments",
              lambda c: (c.send_frame(PING, b"frag1", fin=False),
                         c.send_frame(CONT, b"frag2")))
    fail_case(cx, "5: pong in 2 fragments",
              lambda c: (c.send_frame(PONG, b"frag1", fin=False),
                         c.send_frame(CONT, b"frag2")))
    ack = ACK.encode()
    accept_case(cx, "5: ack in 2 fragments",
                lambda c: send_fragments(c, frags(ack, 2)))
    accept_case(cx, "5: ack in 3 fragments",
                lambda c: send_fragments(c, frags(ack, 3)))
    accept_case(cx, "5: ack in 3 fragments, written byte by byte",
                lambda c: c.send_raw(b"".join(
                    wsraw.build_frame(TEXT if i == 0 else CONT, p,
                                      fin=i == 2)
                    for i, p in enumerate(frags(ack, 3))), chunk=1))
    accept_case(cx, "5: ack in 3 fragments, first and last empty",
                lambda c: send_fragments(c, [b"", ack, b""]))
    accept_case(cx, "5: binary ack in 3 fragments",
                lambda c: send_fragments(c, frags(ack, 3), BINARY))
    # 5.6-5.8: a ping between fragments is answered at once.
    for chunk in (None, 1):
        c = cx.fresh()
        pieces = frags(ack, 3)
        pongs = []

        def ping_between(c, i, chunk=chunk):
            tag = b"between-%d" % i
            c.send_frame(PING, tag, chunk=chunk)
            try:
                f = c.recv_frame(3)
            except (wsraw.Timeout, wsraw.Closed) as e:
                f = e
            pongs.append((tag, f))

        send_fragments(c, pieces, between=ping_between)
        expect(all(isinstance(f, wsraw.Frame) and f.opcode == PONG and
                   f.payload == t for t, f in pongs) and len(pongs) == 2,
               "5: pings between the fragments of an ack%s are answered "
               "before the message ends (got %s)"
               % ("" if chunk is None else " (byte by byte)", pongs))
        accepted(c, "5: the fragmented ack with pings in between")
        c.close()
    fail_case(cx, "5: continuation (FIN) without a start",
              lambda c: c.send_frame(CONT, b"orphan"))
    fail_case(cx, "5: continuation (no FIN) without a start, then text",
              lambda c: (c.send_frame(CONT, b"orphan", fin=False),
                         c.send_text(ACK)))
    fail_case(cx, "5: text frame while a fragmented message is open",
              lambda c: (c.send_frame(TEXT, b'{"type":', fin=False),
                         c.send_text(ACK)))
    fail_case(cx, "5: binary frame while a fragmented text is open",
              lambda c: (c.send_frame(TEXT, b'{"type":', fin=False),
                         c.send_binary(b"x")))
    fail_case(cx, "5: text, ping, then a new text while the first is open",
              lambda c: (c.send_frame(TEXT, b'{"type":', fin=False),
                         c.send_frame(PING, b""),
                         c.send_frame(TEXT, b'"ack"}')))
    padded = (ACK[:-1] + " " * 100 + "}").encode()
    accept_case(cx, "5: ack in 64 fragments (the limit)",
                lambda c: send_fragments(c, frags(padded, 64)))
    exact_close_case(cx, "5: a message in 65 fragments",
                     lambda c: send_fragments(c, frags(padded, 65)), 1009)


INVALID_UTF8 = [
    ("overlong '/' in 2 bytes (C0 AF)", b"\xc0\xaf"),
    ("overlong U+007F in 2 bytes (C1 BF)", b"\xc1\xbf"),
    ("overlong '/' in 3 bytes (E0 80 AF)", b"\xe0\x80\xaf"),
    ("overlong '/' in 4 bytes (F0 80 80 AF)", b"\xf0\x80\x80\xaf"),
    ("surrogate U+D800 (ED A0 80)", b"\xed\xa0\x80"),
    ("surrogate U+DFFF (ED BF BF)", b"\xed\xbf\xbf"),
    ("surrogate pair U+D834 U+DD1E", b"\xed\xa0\xb4\xed\xb4\x9e"),
    ("code point U+110000 (F4 90 80 80)", b"\xf4\x90\x80\x80"),
    ("byte F5", b"\xf5\x80\x80\x80"),
    ("byte FE", b"\xfe"),
    ("byte FF", b"\xff"),
    ("lone continuation byte 80", b"\x80"),
    ("2-byte start then ASCII (C3 41)", b"\xc3A"),
    ("sequence truncated at the end (E2 82)", "κόσμε".encode() + b"\xe2\x82"),
    ("2-byte sequence truncated at the end (CE)",
     "κόσμ".encode() + b"\xce"),
]


def section6(cx):
    """UTF-8 in text messages."""
    n1007 = 0
    c = cx.fresh()
    c.send_text("κόσμε: hello, not JSON")
    f = c.recv_frame(3)
    expect(is_error(f), "6: valid UTF-8 that is not JSON gets an "
           "invalid_frame error frame, not a close (got %r)" % f)
    expect(is_error(f) and f.json().get("message") ==
           'a frame is a JSON object with a "type"',
           "6: the error frame's message keeps its quotes, escaped as "
           "JSON (got %r)" % (f.json() if f else f))
    c.close()
    utf8_ack = json.dumps({"type": "ack", "messageIds": ["κόσμε😀"]},
                          ensure_ascii=False).encode()
    accept_case(cx, "6: an ack with multi-byte UTF-8 in one frame",
                lambda c: c.send_text(utf8_ack))
    e_acute = utf8_ack.index("ό".encode())
    emoji = utf8_ack.index("😀".encode())
    accept_case(cx, "6: a 2-byte character split across two fragments",
                lambda c: send_fragments(c, [utf8_ack[:e_acute + 1],
                                             utf8_ack[e_acute + 1:]]))
    accept_case(cx, "6: a 4-byte character split 2+2 across two fragments",
                lambda c: send_fragments(c, [utf8_ack[:emoji + 2],
                                             utf8_ack[emoji + 2:]]))
    accept_case(cx, "6: a 4-byte character split 1+1+1+1 over 4 fragments",
                lambda c: send_fragments(c, [utf8_ack[:emoji + 1],
                                             utf8_ack[emoji + 1:emoji + 2],
                                             utf8_ack[emoji + 2:emoji + 3],
                                             utf8_ack[emoji + 3:]]))
    accept_case(cx, "6: empty text fragments around the message",
                lambda c: send_fragments(c, [b"", utf8_ack, b"", b""]))
    for name, bad in INVALID_UTF8:
        exact_close_case(cx, "6: invalid UTF-8, %s" % name,
                         lambda c, b=bad: c.send_frame(TEXT, b), 1007)
        n1007 += 1
    exact_close_case(cx, "6: invalid UTF-8 inside a JSON ack string",
                     lambda c: c.send_text(
                         b'{"type":"ack","messageIds":["\xed\xa0\x80"]}'),
                     1007)
    exact_close_case(cx, "6: invalid UTF-8 in the second fragment",
                     lambda c: send_fragments(
                         c, [b'{"type":"ack",', b'"x":"\xc0\xaf"}']), 1007)
    exact_close_case(cx, "6: a sequence truncated at the end of the last "
                     "fragment", lambda c: send_fragments(
                         c, [b"abc", b"def\xf0\x9f\x98"]), 1007)
    # 6.4.x fail fast: the first fragment is already bad; the rest never
    # comes, the close must not wait for it.
    exact_close_case(cx, "6: fail fast on a bad first fragment",
                     lambda c: c.send_frame(TEXT, b"ab\xed\xa0\x80cd",
                                            fin=False), 1007, timeout=3)
    n1007 += 4
    return n1007


VALID_CODES = (1000, 1001, 1002, 1003, 1010, 1011, 3000, 3999, 4000, 4999)
INVALID_CODES = (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999)


def echo_case(cx, name, send, code, reason=None):
    """send(c) closes; the server must echo a close with code (None: an
    empty close or 1000) and then close TCP, answering nothing else."""
    c = cx.fresh()
    send(c)
    frames, how = c.read_to_end(5)
    c.close()
    closes = [f for f in frames if f.opcode == CLOSE]
    ok = (len(frames) == 1 and len(closes) == 1 and
          how in ("eof", "reset"))
    if ok and code is None:
        ok = closes[0].payload == b"" or closes[0].close_code == 1000
    elif ok:
        ok = closes[0].close_code == code
    expect(ok, "%s: the server echoes close %s and closes TCP (got %s)"
           % (name, "(empty or 1000)" if code is None else code,
              describe(frames, how)))


def section7(cx):
    """Closing."""
    echo_case(cx, "7: close 1000", lambda c: c.send_close(1000), 1000)
    echo_case(cx, "7: ack then close 1000",
              lambda c: (c.send_text(ACK), c.send_close(1000)), 1000)
    echo_case(cx, "7: close 1000 twice (one answer)",
              lambda c: (c.send_close(1000), c.send_close(1000)), 1000)
    echo_case(cx, "7: close 1000, then a ping (no pong)",
              lambda c: (c.send_close(1000), c.send_frame(PING, b"x")),
              1000)
    echo_case(cx, "7: close 1000, then a bad text (no error frame)",
              lambda c: (c.send_close(1000), c.send_text("junk")), 1000)
    echo_case(cx, "7: a fragment, close 1000, the last fragment",
              lambda c: (c.send_frame(TEXT, b'{"type":', fin=False),
                         c.send_close(1000),
                         c.send_frame(CONT, b'"ack"}')), 1000)
    echo_case(cx, "7: empty close", lambda c: c.send_close(None), None)
    echo_case(cx, "7: close 1000 with reason",
              lambda c: c.send_close(1000, "Hello World!"), 1000)
    echo_case(cx, "7: close 1000 with a 123-byte reason",
              lambda c: c.send_close(1000, "*" * 123), 1000)
    fail_case(cx, "7: close with a 124-byte reason (payload 126)",
              lambda c: c.send_close(1000, "*" * 124))
    # RFC 6455 5.5.1: a close body starts with a 2-byte code, so a
    # 1-byte body is a protocol error.  The ordinary answer to a close
    # without a code (an empty close echoed back) is not failing it,
    # so here an empty close does not count as a failure.
    # Regression: the server takes the 1-byte body as "no status code" (wslay
    # reads a code only when msg_length >= 2) and echoes an empty close.
    fail_case(cx, "7: close with a 1-byte payload [regression if an empty close "
              "is echoed: it is taken as a close without code]",
              lambda c: c.send_frame(CLOSE, b"\x03"), empty_ok=False)
    fail_case(cx, "7: close reason with invalid UTF-8",
              lambda c: c.send_close(1000, b"\xce\xba\xe1\xbd\xb9\xcf"
                                     b"\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                                     b"edited"), codes=(1002, 1007))
    for code in VALID_CODES:
        echo_case(cx, "7: close code %d is valid" % code,
                  lambda c, k=code: c.send_close(k), code)
    for code in INVALID_CODES:
        fail_case(cx, "7: close code %d is a protocol error" % code,
                  lambda c, k=code: c.send_close(k))


def section9(cx, d, ws_pid):
    """Limits: WS_MAX_MSG (1 MiB) per message."""
    n1009 = 0
    c = cx.fresh()
    c.send_frame(TEXT, b"x" * MIB)
    try:
        f = c.recv_frame(10)
    except (wsraw.Timeout, wsraw.Closed) as e:
        f = e
    expect(isinstance(f, wsraw.Frame) and is_error(f),
           "9: a message of exactly 1 MiB is taken (an error frame: not "
           "JSON) (got %r)" % f)
    accepted(c, "9: after the 1 MiB message")
    c.close()
    c = cx.fresh()
    send_fragments(c, [b"y" * (MIB // 64)] * 64, BINARY)
    try:
        f = c.recv_frame(10)
    except (wsraw.Timeout, wsraw.Closed) as e:
        f = e
    expect(isinstance(f, wsraw.Frame) and is_error(f),
           "9: 1 MiB in 64 fragments is taken (got %r)" % f)
    c.close()
    exact_close_case(cx, "9: one frame of 1 MiB + 1 byte",
                     lambda c: c.send_frame(TEXT, b"x" * (MIB + 1)), 1009,
                     timeout=10)
    exact_close_case(cx, "9: a frame header announcing 1 MiB + 1, 100 "
                     "bytes sent", lambda c: c.send_frame(
                         TEXT, b"x" * 100, length=MIB + 1), 1009)
    exact_close_case(cx, "9: 1 MiB then a 1-byte continuation",
                     lambda c: send_fragments(c, [b"x" * MIB, b"x"]), 1009,
                     timeout=10)
    exact_close_case(cx, "9: a frame header announcing 2^62 bytes",
                     lambda c: c.send_frame(TEXT, b"x" * 16,
                                            length=1 << 62), 1009)
    exact_close_case(cx, "9: 2^63-1 bytes announced (binary)",
                     lambda c: c.send_frame(BINARY, b"x" * 16,
                                            length=(1 << 63) - 1), 1009)
    n1009 += 5
    fail_case(cx, "9: 2^63 bytes announced (the top bit is reserved)",
              lambda c: c.send_frame(TEXT, b"x" * 16, length=1 << 63),
              codes=(1002, 1009))
    expect(d.workers_by_title().get("routingd: ws 0") == ws_pid,
           "9: the WS worker survived the huge announcements (workers %s)"
           % d.workers())
    c = cx.fresh()
    accepted(c, "9: a new connection after the huge announcements works")
    c.close()
    return n1009


def policy_cases(cx):
    """Unmasked frames, and the bad-frame budget."""
    fail_case(cx, "unmasked text frame",
              lambda c: c.send_text(ACK, mask=False))
    fail_case(cx, "unmasked ping", lambda c: c.send_frame(PING, b"x",
                                                          mask=False))
    fail_case(cx, "unmasked close", lambda c: c.send_close(1000,
                                                           mask=False))
    # 10 bad frames are answered; the 11th closes with 1008.
    c = cx.fresh()
    errs = 0
    for i in range(10):
        c.send_text('{"type":"nope%d"}' % i)
        try:
            errs += is_error(c.recv_frame(3))
        except (wsraw.Timeout, wsraw.Closed):
            break
    c.send_text('{"type":"one too many"}')
    frames, how = c.read_to_end(5)
    c.close()
    closes = [f for f in frames if f.opcode == CLOSE]
    expect(errs == 10 and len(closes) == 1 and
           closes[0].close_code == 1008 and how in ("eof", "reset") and
           all(is_error(f) for f in frames if f.opcode != CLOSE),
           "the 11th bad frame closes with 1008 after 10 error frames "
           "(%d errors, then %s)" % (errs, describe(frames, how)))


def early_connect(port, tok, frames, timeout=3.0):
    """The upgrade request and frames in ONE write (the client does not
    wait for the 101).  Returns (bytes after the 101 head, how TCP
    ended or None)."""
    import base64
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(wsraw.handshake_request(
        "127.0.0.1", port, "/connect", key,
        [("Authorization", "Bearer " + tok)]) + frames)
    data, how = b"", None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            b = s.recv(65536)
            if not b:
                how = "eof"
                break
            data += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        how = "reset"
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101 "):
        return None, how
    return rest, how


def upgrade_pipelined():
    """Frames that arrive together with the upgrade request (wsc_new runs
    them before ws_upgrade registers the connection)."""
    with rtd.api_daemon() as d:
        ws_pid = d.workers_by_title().get("routingd: ws 0")
        zero = b"\0\0\0\0"
        rest, how = early_connect(d.ws_port, rtd.token("early-ping"),
                                  wsraw.build_frame(PING, b"hi", key=zero))
        expect(rest is not None and rest.startswith(b"\x8a\x02hi") and
               b'{"type":"queue_empty"}' in rest,
               "upgrade + ping in one write: 101, pong, queue_empty (got "
               "%r, TCP %s)" % (rest, how))
        close = wsraw.build_frame(CLOSE, wsraw.close_payload(1000),
                                  key=zero)
        rest, how = early_connect(d.ws_port, rtd.token("early-close"), close)
        expect(rest == b"\x88\x02\x03\xe8" and how == "eof",
               "upgrade + close 1000 in one write: 101, close 1000, TCP "
               "close (got %r, TCP %s)" % (rest, how))

        # The connection is gone: a message to its user must not ring
        # a WS worker (compare an ordinary connect and close).
        key = "routingd_handoffs_sent_total"
        alice = rtd.token("alice")
        c = wsraw.connect(d.ws_port, rtd.token("clean-close"))
        c.send_close(1000)
        c.read_to_end(3)
        c.close()
        m0 = d.metrics().get(key, 0)
        d.send(alice, rtd.envelope("clean-close"))
        time.sleep(0.3)
        m1 = d.metrics().get(key, 0)
        d.send(alice, rtd.envelope("early-close"))
        time.sleep(0.3)
        m2 = d.metrics().get(key, 0)
        expect(m1 - m0 == 0 and m2 - m1 == 0,
               "upgrade + close in one write leaves no presence behind (a "
               "message to the user rang a WS worker %d times; %d after an "
               "ordinary close) [regression: wsc_new frees the finished connection "
               "and ws_upgrade then registers the freed pointer]"
               % (m2 - m1, m1 - m0))

        # Reconnecting as that user must keep working.
        tok = rtd.token("early-again")
        rounds, why = 0, None
        for rounds in range(1, 11):
            early_connect(d.ws_port, tok, close)
            try:
                c = wsraw.connect(d.ws_port, tok, timeout=3,
                                  wait_empty=False)
                pong, _, how = c.sync(timeout=3)
                c.close()
                if not pong:
                    why = "no pong (TCP %s)" % how
            except (wsraw.WSError, OSError) as e:
                why = repr(e)
            if why:
                break
        expect(why is None,
               "10 rounds of (upgrade + close in one write, then an ordinary"
               " connection) as one user: every connection answers a ping "
               "(round %d: %s) [regression: use after free in ws_upgrade; the "
               "worker spins in its user list]" % (rounds, why))
        try:
            c = wsraw.connect(d.ws_port, rtd.token("after-early"), timeout=3)
            pong, _, _ = c.sync(timeout=3)
            c.close()
        except (wsraw.WSError, OSError) as e:
            pong = repr(e)
        expect(pong is True and "lost child" not in d.log() and
               d.workers_by_title().get("routingd: ws 0") == ws_pid,
               "then the same WS worker still serves a new connection "
               "(pong %s, workers %s, pid was %s)"
               % (pong, d.workers(), ws_pid))


def test():
    with rtd.api_daemon() as d:
        cx = Ctx(d)
        ws_pid = d.workers_by_title().get("routingd: ws 0")
        rtd.check(ws_pid is not None, "a WS worker runs (%s)" % d.workers())
        m0 = d.metrics()

        section1(cx)
        section2(cx)
        section3(cx)
        section4(cx)
        section5(cx)
        before = d.metrics()
        n1007 = section6(cx)
        mid = d.metrics()
        section7(cx)
        before9 = d.metrics()
        n1009 = section9(cx, d, ws_pid)
        after9 = d.metrics()
        policy_cases(cx)

        key = 'routingd_ws_disconnects_total{code="%s"}'
        # Regression: closes that wslay itself starts (bad UTF-8: 1007, too big:
        # 1009, protocol errors: 1002) are counted under 1006: wsc_free
        # counts wc_close_code, which only wsc_close() and a received
        # close frame set.
        d1007 = mid.get(key % "1007", 0) - before.get(key % "1007", 0)
        expect(d1007 >= n1007,
               "metrics: routingd_ws_disconnects_total{code=\"1007\"} grew "
               "by >= %d over the UTF-8 cases (grew by %d; 1006 grew by %d) "
               "[regression: wslay's own closes are counted as 1006]"
               % (n1007, d1007, mid.get(key % "1006", 0) -
                  before.get(key % "1006", 0)))
        d1009 = after9.get(key % "1009", 0) - before9.get(key % "1009", 0)
        expect(d1009 >= n1009,
               "metrics: routingd_ws_disconnects_total{code=\"1009\"} grew "
               "by >= %d over the size-limit cases (grew by %d; 1006 grew "
               "by %d) [regression: wslay's own closes are counted as 1006]"
               % (n1009, d1009, after9.get(key % "1006", 0) -
                  before9.get(key % "1006", 0)))
        m = d.metrics()
        expect(m.get(key % "1007", 0) - m0.get(key % "1007", 0) >= n1007 and
               m.get(key % "1009", 0) - m0.get(key % "1009", 0) >=
               n1009 + 1,
               "metrics at the end: 1007 >= %d, 1009 >= %d (got %d, %d)"
               % (n1007, n1009 + 1, m.get(key % "1007", 0),
                  m.get(key % "1009", 0)))
        expect(m.get(key % "1008", 0) >= 1,
               "metrics: the bad-frame close counted under 1008")

        expect(not wsraw.MASKED_FROM_SERVER,
               "no server frame was masked (masked: %s)"
               % wsraw.MASKED_FROM_SERVER[:3])

        # The worker never died, and still delivers.
        expect("lost child" not in d.log() and
               d.workers_by_title().get("routingd: ws 0") == ws_pid and
               len(d.workers()) == 2,
               "the WS worker never died (pid %s, workers %s)"
               % (ws_pid, d.workers()))
        try:
            c = cx.fresh()
            final = True
        except (wsraw.WSError, wsraw.Timeout, wsraw.Closed, OSError) as e:
            c, final = None, repr(e)
        expect(final is True, "a final fresh connection gets queue_empty "
               "(%s)" % final)
        alice, bob = rtd.token("alice"), rtd.token("bob")
        st, doc = d.send(alice, rtd.envelope("bob"))
        rtd.check(st == 202, "a message to bob is accepted (%s)" % st)
        b = wsraw.connect(d.ws_port, bob, wait_empty=False)
        got = b.recv_json(5)
        expect(got.get("type") == "message" and got.get("id") == doc["id"],
               "bob's connection gets the message pushed (%s)" % got)
        expect(b.recv_json(5).get("type") == "queue_empty",
               "then queue_empty")
        b.send_ack([doc["id"]])
        time.sleep(0.3)
        st, fetched = d.fetch(bob)
        expect(st == 200 and fetched["messages"] == [],
               "the WebSocket ack deleted it (%s)" % fetched)
        accepted(b, "bob's connection after the ack")
        b.close()
        if c is not None:
            c.close()

    upgrade_pipelined()
    rtd.check_expected()


rtd.run(test)
