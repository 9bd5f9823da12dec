"""One reading of the bytes (crypto/mime.py): whatever it accepts, Python's email parser reads the same way.

The differential oracle is Python's own email package (compat32), the parser the rest of the world's Python
tools would use on a stored message: for every crafted or mutated message the reader accepts, both agree on
the structure (the content type of every part, depth-first), the From and Message-ID fields, and the bytes
of each leaf. What they could read differently is refused with a reason instead.
"""

from __future__ import annotations

import email
import random
import re
from email.policy import compat32

import pytest

from crypto.mime import reader as mime, pgpmime
from crypto.errors import HeaderBlockTooLarge, MalformedMime, MimeError, TooManyHeaderFields
from tests.conftest import INTEROP

# One signature packet (v4, EdDSA, SHA-256) that is framed, not valid: these tests read structure only.
SIG = b"-----BEGIN PGP SIGNATURE-----\r\n\r\niAoEABYIAAAAAAAA\r\n=kb06\r\n-----END PGP SIGNATURE-----\r\n"
TEXT = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nUrgency: FLASH\r\n\r\nHello\r\n"


def signed(inner: bytes = TEXT, *, ctype: bytes = b'multipart/signed; micalg=pgp-sha256;'
           b' protocol="application/pgp-signature"; boundary="outer"', head: bytes = b"", tail: bytes = b"") -> bytes:
    return (b"From: police@partner.test\r\nTo: hub@ocam.test\r\nMessage-ID: <m1@partner.test>\r\n" + head
            + b"MIME-Version: 1.0\r\nContent-Type: " + ctype + b"\r\n\r\n"
            + b"--outer\r\n" + inner + b"\r\n--outer\r\nContent-Type: application/pgp-signature\r\n\r\n" + SIG
            + b"\r\n--outer--\r\n" + tail)


def _unfold(value) -> str | None:
    return None if value is None else re.sub(r"\r?\n", "", str(value)).strip()


def _python_shape(message) -> tuple:
    """Python's email also parses a message/rfc822 part's content; the reader keeps it as data (a bounce's
    returned message is not the structure of the message received)."""
    children = message.get_payload() if message.is_multipart() and not _returned(message) else []
    return (message.get_content_type(), tuple(_python_shape(c) for c in children))


def _returned(message) -> bool:
    return message.get_content_maintype() == "message"


def _our_shape(part: mime.Part) -> tuple:
    return (part.content_type, tuple(_our_shape(c) for c in part.children))


def _python_leaves(message) -> list[bytes | None]:
    if _returned(message):
        return [None]
    if message.is_multipart():
        return [leaf for c in message.get_payload() for leaf in _python_leaves(c)]
    return [message.get_payload(decode=True) or b""]


def _our_leaves(part: mime.Part) -> list[bytes | None]:
    if part.content_type.startswith("message/"):
        return [None]
    if part.children:
        return [leaf for c in part.children for leaf in _our_leaves(c)]
    return [part.decoded()]


def assert_one_reading(raw: bytes) -> mime.Part | None:
    """The reader refuses *raw*, or Python's email reads it the same way; returns what the reader read."""
    try:
        top = mime.read(raw)
    except MimeError:
        return None
    python = email.message_from_bytes(raw, policy=compat32)
    assert _our_shape(top) == _python_shape(python), raw[:300]
    assert _unfold(top.header("from")) == _unfold(python.get("From")), raw[:300]
    assert _unfold(top.header("message-id")) == _unfold(python.get("Message-ID")), raw[:300]
    def canonical(leaves):
        return [leaf if leaf is None else leaf.replace(b"\r\n", b"\n").rstrip(b"\n") for leaf in leaves]

    try:
        ours = _our_leaves(top)
    except MimeError:  # a leaf that is not valid base64: refused wherever the hub decodes it (Python guesses)
        return None
    assert canonical(ours) == canonical(_python_leaves(python)), raw[:300]
    return top


# Each: a message two readers could read in two ways, and the words of its refusal.
AMBIGUOUS = [
    # Python's email ends a line at a bare CR: it sees the header end here and a text/plain body.
    (signed().replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\r\n"), "bare CR"),
    (signed().replace(b"To: hub@ocam.test\r\n", b"To: hub@ocam.test\rX-Injected: 1\r\n"), "bare CR"),
    (signed().replace(b"Hello\r\n", b"Hel\rlo\r\n"), "bare CR"),
    (signed().replace(b"\r\n--outer\r\nContent-Type: application/pgp-signature", b"\r--outer\r\nContent-Type: "
                      b"application/pgp-signature"), "bare CR"),
    (signed().replace(b"Hello", b"Hel\x00lo"), "NUL"),
    (signed().replace(b"To: hub", b"To: \x00hub"), "NUL"),
    (signed(ctype=b'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="outer";'
                  b' boundary="other"'), "two boundary"),
    (signed(ctype=b'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="outer";'
                  b' boundary*0="oth"; boundary*1="er"'), "two boundary"),
    (signed(ctype=b'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature";'
                  b' protocol="text/plain"; boundary="outer"'), "two protocol"),
    (signed(tail=b"--outer\r\nContent-Type: text/plain\r\n\r\nUnsigned text after the end\r\n--outer--\r\n"),
     "follows the closing"),
    (signed(tail=b"--outer\r\nContent-Type: text/plain\r\n\r\nUnsigned, never closed\r\n"), "follows the closing"),
    (signed(head=b"Content-Transfer-Encoding: base64\r\n"), "Content-Transfer-Encoding base64"),
    (signed(head=b"Content-Transfer-Encoding: quoted-printable\r\n"), "never encoded"),
    (signed(b'Content-Type: multipart/mixed; boundary="in"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            b"--in\r\n" + TEXT + b"\r\n--in--\r\n"), "never encoded"),
    (signed(head=b"From: other@partner.test\r\n"), "more than one From"),
    (signed(head=b"Message-ID: <m2@partner.test>\r\n"), "more than one Message-ID"),
    (signed(head=b"Content-Type: text/plain\r\n"), "more than one Content-Type"),
    (signed(TEXT.replace(b"Content-Type", b"Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64"
                         b"\r\nContent-Type")), "more than one Content-Transfer-Encoding"),
    (signed(head="Subject: caf\u00e9\r\n".encode("utf-8")), "8-bit"),
    (signed(head=b"Urgency: FLASH\xe9\r\n"), "8-bit"),
    (signed(TEXT.replace(b"Content-Type", "X-Note: \u00e9t\u00e9\r\nContent-Type".encode("utf-8"))), "8-bit"),
    (signed(ctype=b'multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="out er "'
            ).replace(b"--outer", b"--out er "), "RFC 2046"),
    (signed(ctype=b'multipart/signed; protocol="application/pgp-signature"; boundary="' + b"x" * 71 + b'"'
            ).replace(b"--outer", b"--" + b"x" * 71), "RFC 2046"),
    (signed(head=b" folded: first\r\n").replace(b"From: police", b" From: police", 1), "folded"),
    (signed(head=b"Not a header line\r\n"), "not a header field"),
    (signed(head=b"From : other@partner.test\r\n"), "not a header field"),
]


@pytest.mark.parametrize("raw, words", AMBIGUOUS, ids=lambda v: v if isinstance(v, str) else None)
def test_structures_two_readers_could_read_differently_are_refused(raw, words):
    with pytest.raises(MalformedMime) as refused:
        mime.read(raw)
    assert words in refused.value.reason


def _signature(hash_id: int, old_format: bool = False) -> bytes:
    import base64

    body = bytes([4, 0, 22, hash_id]) + b"\x00" * 61  # 67 bytes with the header: padded base64, no checksum
    header = bytes([0x88, len(body)]) if old_format else bytes([0xC2, len(body)])
    text = base64.b64encode(header + body)
    return b"-----BEGIN PGP SIGNATURE-----\r\nComment: x\r\n\r\n" + text + b"\r\n-----END PGP SIGNATURE-----\r\n"


@pytest.mark.parametrize("hash_id, micalg, words", [
    (10, b"pgp-sha256", "does not name the signature's hash (pgp-sha512)"),
    (8, b"pgp-sha512", "does not name the signature's hash (pgp-sha256)"),
    (2, b"pgp-sha256", "(pgp-sha1)"),
    (99, b"pgp-sha256", "hash algorithm 99"),
    (12, b"pgp-sha3-256", "hash algorithm 12"),  # SHA3-256: gpg 2.2 cannot compute it and says nothing
    (0, b"pgp-sha256", "hash algorithm 0"),
])
def test_micalg_must_name_the_signatures_hash_and_gpg_must_know_it(hash_id, micalg, words):
    """Read from the first bytes of the signature's armor (old and new packet formats), before any gpg run."""
    for old in (False, True):
        raw = signed(ctype=b"multipart/signed; micalg=" + micalg + b'; protocol="application/pgp-signature";'
                     b' boundary="outer"').replace(SIG, _signature(hash_id, old))
        with pytest.raises(MalformedMime) as refused:
            pgpmime.analyse(raw)
        assert words in refused.value.reason


def test_micalg_agreeing_or_absent_is_accepted():
    for micalg in (b"micalg=pgp-sha512; ", b"micalg=PGP-SHA512; ", b""):
        raw = signed(ctype=b"multipart/signed; " + micalg + b'protocol="application/pgp-signature"; boundary="outer"'
                     ).replace(SIG, _signature(10))
        assert pgpmime.analyse(raw).signed.micalg in ("pgp-sha512", None)


def test_header_limits_bite_before_the_header_is_split():
    """No empty line in 2 MB of short lines, 5,000 fields, a part's header over the limit: refused by size or
    count (the limit is looked for within max_header_bytes only)."""
    limits = mime.Limits(max_header_bytes=64 * 1024, max_header_fields=200)
    with pytest.raises(HeaderBlockTooLarge):
        mime.read(b"X-A: b\r\n" * 250_000, limits)
    with pytest.raises(HeaderBlockTooLarge):
        mime.read(b"a\r\n" * 700_000, limits)
    with pytest.raises(TooManyHeaderFields):
        mime.read(b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\nbody\r\n", limits)
    with pytest.raises(HeaderBlockTooLarge):
        mime.read(signed(TEXT.replace(b"Content-Type", b"X-Pad: " + b"p" * 1000 + b"\r\n" + b" p\r\n" * 70_000
                                      + b"Content-Type")), limits)
    assert mime.read(b"".join(b"X-%d: v\r\n" % i for i in range(199)) + b"\r\nbody\r\n", limits).body == b"body\r\n"


SAMPLES = sorted(p for p in (INTEROP / "mails").rglob("*") if p.is_file() and p.suffix in (".eml", ".txt"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(INTEROP / "mails")))
def test_real_clients_messages_read_as_python_reads_them(path):
    """Thunderbird, mutt, Exchange, KMail, bounces...: accepted ones read as Python's email reads them."""
    assert_one_reading(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def test_mutated_messages_are_refused_or_read_as_python_reads_them():
    """10,000 mutations (fixed seed) of signed messages: never a traceback, never a second reading."""
    rng = random.Random(13)
    bases = [signed(), signed(b'Content-Type: multipart/mixed; boundary="in"\r\n\r\n--in\r\n' + TEXT
                              + b"\r\n--in\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
                                b"base64\r\n\r\nAAEC\r\n--in--\r\n"),
             *(p.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for p in SAMPLES[:12])]
    pieces = [b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"--outer", b"--outer--", b"--in", b"--", b";", b"=", b'"', b" ",
              b"\t", b"boundary=", b"boundary=x", b"Content-Type: multipart/mixed; boundary=outer\r\n",
              b"Content-Type: text/plain\r\n", b"Content-Transfer-Encoding: base64\r\n", b"From: x@y\r\n",
              b"Message-ID: <a@b>\r\n", b"\x00", b"\xe9", b":", b"=?utf-8?q?a?=", b"*0=", b"micalg=pgp-sha1"]
    accepted = 0
    for _ in range(10_000):
        raw = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(raw) + 1)
            if rng.random() < 0.7:
                raw[at:at] = rng.choice(pieces)
            else:
                del raw[at:at + rng.randint(1, 12)]
        top = assert_one_reading(bytes(raw))
        if top is not None:
            accepted += 1
            try:
                pgpmime.classify(top)
            except MimeError:
                pass
    assert 1000 < accepted < 10_000  # the mutations exercise both sides
