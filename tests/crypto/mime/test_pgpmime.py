"""RFC 3156 structure analysis: what is accepted, and each refusal with its reason."""

from __future__ import annotations


import pytest

from crypto.errors import (
    ContentOutsideSignedPart, HeaderTooLong, InlinePgp, MalformedMime, NestingTooDeep, TooManyParts, Unsigned,
)
from crypto.mime.pgpmime import Limits, analyse, analyse_inner, first_text, payload_headers
from tests.support.mail import encrypted_mail, inline_signed_mail, signed_mail, unsigned_mail

# One signature packet (v4, EdDSA, SHA-256) that is framed, not valid: these tests read structure only.
SIG = b"-----BEGIN PGP SIGNATURE-----\r\n\r\niAoEABYIAAAAAAAA\r\n=kb06\r\n-----END PGP SIGNATURE-----\r\n"


def signed(inner: bytes, *, boundary: str = "outer", params: str = "", close: bool = True, sig: bytes = SIG) -> bytes:
    """A hand-made multipart/signed around inner (not a real signature: structure only)."""
    return (
        b"From: a@b.test\r\nTo: hub@ocam.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        + f'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature";'
          f' boundary="{boundary}"{params}\r\n\r\n'.encode()
        + f"--{boundary}\r\n".encode() + inner + f"\r\n--{boundary}\r\n".encode()
        + b"Content-Type: application/pgp-signature\r\n\r\n" + sig
        + (f"\r\n--{boundary}--\r\n".encode() if close else b"")
    )


TEXT = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello\r\n"


def test_signed_bytes_are_the_exact_first_part():
    """signed_bytes is the first body part byte for byte; the CRLF before the boundary is excluded."""
    env = analyse(signed(TEXT))
    assert env.kind == "signed" and env.signed.signed_bytes == TEXT
    assert env.signed.signature == SIG and env.signed.micalg == "pgp-sha256"


def test_lf_only_input_is_canonicalised_to_crlf():
    """Bare LF input gives the same CRLF signed bytes as CRLF input."""
    lf = signed(TEXT).replace(b"\r\n", b"\n")
    assert analyse(lf).signed.signed_bytes == TEXT


def test_preamble_epilogue_and_missing_mime_version_accepted():
    """Preamble, epilogue and a missing top-level MIME-Version do not matter."""
    raw = signed(TEXT).replace(b"MIME-Version: 1.0\r\n", b"")
    raw = raw.replace(b"\r\n\r\n--outer\r\n", b"\r\n\r\nThis is an OpenPGP/MIME signed message\r\n--outer\r\n", 1)
    raw += b"epilogue text\r\n"
    assert analyse(raw).signed.signed_bytes == TEXT


def test_base64_signature_part_is_decoded():
    """A signature part with a transfer encoding is decoded."""
    import base64
    raw = signed(TEXT).replace(b"Content-Type: application/pgp-signature\r\n\r\n" + SIG,
                               b"Content-Type: application/pgp-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                               + base64.encodebytes(SIG).replace(b"\n", b"\r\n"))
    assert analyse(raw).signed.signature == SIG


def test_unsigned_and_inline_are_refused_with_reasons(alice):
    """Plain mail: Unsigned; inline PGP: InlinePgp, each telling the sender to use PGP/MIME."""
    with pytest.raises(Unsigned) as exc:
        analyse(unsigned_mail())
    assert "PGP/MIME" in exc.value.reason
    with pytest.raises(InlinePgp) as exc:
        analyse(inline_signed_mail(alice))
    assert "PGP/MIME" in exc.value.reason


def test_content_outside_signed_part_is_refused():
    """multipart/mixed holding a signed part plus a footer is refused."""
    inner = signed(TEXT).split(b"\r\n\r\n", 1)
    signed_part = b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary="outer"\r\n\r\n'
    raw = (b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n" + signed_part
           + inner[1] + b"\r\n--mix\r\nContent-Type: text/plain\r\n\r\nList footer\r\n--mix--\r\n")
    with pytest.raises(ContentOutsideSignedPart):
        analyse(raw)


@pytest.mark.parametrize("raw, words", [
    (signed(TEXT).replace(b' boundary="outer"', b""), "boundary"),
    (signed(b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n' + TEXT + b"\r\n--outer--\r\n"),
     "boundary"),
    (signed(b'Content-Type: multipart/mixed; boundary="outerX"\r\n\r\n--outerX\r\n' + TEXT + b"\r\n--outerX--\r\n"),
     "boundary"),
    (signed(TEXT, close=False), "closing"),
    (signed(TEXT.replace(b"Hello", "Héllo".encode())), "8-bit"),
    (signed(b"Subject: =?utf-8?q?a=0D=0ABcc:_x?=\r\n" + TEXT), "line break"),
    (signed(TEXT, params="").replace(b'protocol="application/pgp-signature";', b""), "protocol"),
    (signed(TEXT).replace(b"Content-Type: application/pgp-signature", b"Content-Type: text/plain"), "signature"),
    (signed(TEXT).replace(b"\r\n--outer--", b"\r\n--outer\r\nContent-Type: text/plain\r\n\r\nx\r\n--outer--"),
     "two parts"),
    (b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=b\r\n\r\n'
     b"--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n--b--\r\n", "Version: 1"),
    (b"Content-Type: text/plain\r\nContent-Type: multipart/signed\r\n\r\nx\r\n", "more than one"),
])
def test_malformed_mime_is_refused_with_reason(raw, words):
    """Each malformation raises MalformedMime with a reason a person understands."""
    with pytest.raises(MalformedMime) as exc:
        analyse(raw)
    assert words in exc.value.reason


def test_8bit_allowed_when_declared_8bit_or_encoded():
    """8-bit bytes under a declared 8bit transfer encoding are not refused (only 7bit/absent is)."""
    inner = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + "é".encode()
    assert analyse(signed(inner)).kind == "signed"


def nested(depth: int) -> bytes:
    entity = TEXT
    for i in range(depth):
        entity = (f'Content-Type: multipart/mixed; boundary="b{i}x"\r\n\r\n--b{i}x\r\n'.encode() + entity
                  + f"\r\n--b{i}x--\r\n".encode())
    return entity


def test_limits_depth_parts_header_length():
    """Nesting, part count and header length beyond the limits are refused."""
    assert analyse(signed(nested(3))).kind == "signed"
    with pytest.raises(NestingTooDeep):
        analyse(signed(nested(3)), Limits(max_depth=3))
    many = b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n' + b"".join(
        b"--m\r\n" + TEXT for _ in range(10)) + b"--m--\r\n"
    with pytest.raises(TooManyParts):
        analyse(signed(many), Limits(max_parts=8))
    with pytest.raises(HeaderTooLong):
        analyse(signed(b"X-Long: " + b"a" * 5000 + b"\r\n" + TEXT))
    folded = b"X-Folded: " + b"a" * 3000 + b"\r\n " + b"b" * 3000 + b"\r\n"
    with pytest.raises(HeaderTooLong):
        analyse(signed(folded + TEXT))


def test_signed_mail_from_support_round_trips(hub_gpg, alice):
    """A tests/support signed_mail passes analyse() and verify_detached: good, in every shape."""
    for kwargs in ({}, {"crlf": False}, {"qp": True, "body": "Évaluation urgente — niveau 3\n" + "x" * 200},
                   {"mime_version": False}, {"digest": "SHA512"},
                   {"attachments": [("report.pdf", bytes(range(256)) * 4)]},
                   {"protected": {"Urgency": "FLASH", "Subject": "Menace — niveau 3"}}):
        env = analyse(signed_mail(alice, **kwargs))
        check = hub_gpg.verify_detached(env.signed.signed_bytes, env.signed.signature)
        assert check.valid, kwargs
        assert check.primary_fingerprint == alice.fingerprint
    assert env.signed.micalg == "pgp-sha256"


def test_lf_and_crlf_copies_of_one_message_both_verify(hub_gpg, alice):
    """The same message delivered with LF or CRLF line ends verifies either way."""
    raw = signed_mail(alice, body="line one\nline two\n")
    for copy in (raw, raw.replace(b"\r\n", b"\n")):
        env = analyse(copy)
        assert hub_gpg.verify_detached(env.signed.signed_bytes, env.signed.signature).valid


def test_protected_headers_and_keyword_lines_are_read(alice):
    """payload_headers decodes RFC 2047 protected headers; first_text gives the keyword lines."""
    raw = signed_mail(alice, protected={"Urgency": "URGENT", "Subject": "Menace — niveau 3"},
                      keyword_lines={"Urgency": "FLASH"}, body="Texte été", headers={"Urgency": "ROUTINE"})
    entity = analyse(raw).signed.signed_bytes
    headers = dict(payload_headers(entity))
    assert headers["Urgency"] == "URGENT" and headers["Subject"] == "Menace — niveau 3"
    assert first_text(entity).startswith("Urgency: FLASH\n\nTexte été")


def test_encapsulated_inner_is_signed_and_combined_is_not(hub_gpg, hub_fpr, alice):
    """analyse_inner: multipart/signed plaintext → signed Envelope; ordinary entity → None."""
    hub_pub = hub_gpg.export_public(hub_fpr)
    combined = hub_gpg.decrypt(analyse(encrypted_mail(alice, hub_pub)).ciphertext)
    assert analyse_inner(combined.plaintext) is None and combined.signature.valid
    assert combined.signature.primary_fingerprint == alice.fingerprint
    enc = hub_gpg.decrypt(analyse(encrypted_mail(alice, hub_pub, mode="encapsulated", body="x")).ciphertext)
    assert enc.signature is None
    inner = analyse_inner(enc.plaintext)
    assert hub_gpg.verify_detached(inner.signed.signed_bytes, inner.signed.signature).valid


def test_first_text_skips_attachments_and_finds_nested_text():
    """first_text finds the first inline text/plain depth-first; "" when there is none."""
    entity = (b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
              b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="a.txt"\r\n\r\nnot me\r\n--m\r\n'
              b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
              b"caf=E9\r\n--m--\r\n")
    assert first_text(entity) == "café"
    assert first_text(b"Content-Type: application/pdf\r\n\r\nx") == ""
    assert len(first_text(b"Content-Type: text/plain\r\n\r\n" + b"a" * 9000, max_chars=100)) == 100


def _split_by_lines(body: bytes, boundary: bytes) -> tuple[list[bytes], bool]:
    """The line-by-line delimiter scan the faster one replaced: the oracle for the test below."""
    import re
    dash = b"--" + boundary
    parts: list[bytes] = []
    start = None
    for m in re.finditer(rb"[^\n]*\n|[^\n]+\Z", body):
        line = m.group().rstrip(b"\r\n")
        if not line.startswith(dash):
            continue
        rest = line[len(dash):]
        close = rest.startswith(b"--")
        if close:
            rest = rest[2:]
        if rest.strip(b" \t"):
            continue
        if start is not None:
            end = m.start()
            if body[end - 2:end] == b"\r\n":
                end -= 2
            elif body[end - 1:end] == b"\n":
                end -= 1
            parts.append(body[start:max(start, end)])
        if close:
            return parts, True
        start = m.end()
    if start is not None and body[start:].strip():
        parts.append(body[start:])
    return parts, False


def test_delimiter_scan_and_crlf_agree_with_the_line_by_line_versions():
    """Random bodies of delimiter-like lines, CR, LF and text split and canonicalise exactly as a per-line scan does."""
    import random
    import re

    from crypto.mime.crlf import to_crlf
    from crypto.mime.reader import split_multipart as _split

    rng = random.Random(3156)
    pieces = [b"--b", b"--b--", b"--bb", b"x--b", b"--b \t", b"--b--x", b"--b x", b"\r\n", b"\n", b"\r", b"text",
              b" ", b"-", b"--", b"b"]
    for _ in range(4000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert _split(body, b"b")[:2] == _split_by_lines(body, b"b"), body
        assert to_crlf(body) == re.sub(rb"(?<!\r)\n", b"\r\n", body), body
