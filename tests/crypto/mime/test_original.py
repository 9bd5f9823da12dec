"""crypto/original.py takes a signed OpenPGP message apart into the signed data and a detached signature: gpg is
the judge of every result (its --verify of the pieces), over messages gpg made and over crafted broken ones."""

from __future__ import annotations

import bz2
import zlib

import pytest

from crypto import Gpg
from crypto.errors import DecryptionFailed, PacketError
from crypto.mime.original import outer_headers, split
from crypto.openpgp.packets import armor, packet
from tests.support.keys import gpg, make_key, short_home

LIMIT = 1 << 22


@pytest.fixture(scope="module")
def keys(module_tmp):
    return make_key(module_tmp, "signer@partner.test"), make_key(module_tmp, "second@partner.test"), \
        make_key(module_tmp, "hub@ocam.test")


def _verified_by_gpg(tmp, signer_publics: list[bytes], data: bytes, signature: bytes) -> str:
    """gpg --verify of a detached signature in a fresh home holding only the signers' public keys."""
    home = short_home(tmp, "pgo")
    for public in signer_publics:
        gpg(home, "--import", data=public)
    (home / "data").write_bytes(data)
    (home / "data.asc").write_bytes(signature)
    return gpg(home, "--status-fd", "1", "--verify", str(home / "data.asc"), str(home / "data")).decode()


def _mime(size: int) -> bytes:
    line = b"Rapport de la police: vehicule suspect observe pres de la gare.\r\n"
    return b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + line * (size // len(line) + 1)


@pytest.mark.parametrize("compress", ["none", "zip", "zlib", "bzip2"])
@pytest.mark.parametrize("size", [200, 300_000], ids=["small", "partial-lengths"])
def test_the_detached_signature_verifies_with_gpg(keys, module_tmp, compress, size):
    """Signed by gpg (compressed or not; 300 KB from a pipe gets partial body lengths): the data comes back exact
    and its re-attached signature is good for gpg, with the signer's key alone."""
    signer, _, _ = keys
    data = _mime(size)
    message = gpg(signer.home, "--sign", "--compress-algo", compress, "--digest-algo", "SHA256", data=data)
    signed = split(message, limit=LIMIT)
    assert signed.data == data and signed.micalg == "pgp-sha256" and not signed.text_mode
    assert signed.survives_mail()  # CRLF data under a binary signature: what a client canonicalises is the same
    status = _verified_by_gpg(module_tmp, [signer.public], signed.data, armor(signed.signatures))
    assert "VALIDSIG" in status and signer.fingerprint in status


def test_an_altered_byte_of_the_data_fails_gpg(keys, module_tmp):
    """The pieces are what was signed, not a verdict: a changed byte is a bad signature for gpg."""
    signer, _, _ = keys
    signed = split(gpg(signer.home, "--sign", data=_mime(500)), limit=LIMIT)
    altered = signed.data.replace(b"gare", b"gard", 1)
    with pytest.raises(RuntimeError, match="BAD signature"):
        _verified_by_gpg(module_tmp, [signer.public], altered, armor(signed.signatures))


def test_two_signers_both_verify(keys, module_tmp):
    """A message signed by two keys: both signatures are kept, and gpg finds both good."""
    signer, second, _ = keys
    secret = gpg(signer.home, "--export-secret-keys", signer.fingerprint)
    gpg(second.home, "--import", data=secret)
    message = gpg(second.home, "--sign", "-u", signer.fingerprint, "-u", second.fingerprint, data=_mime(500))
    signed = split(message, limit=LIMIT)
    status = _verified_by_gpg(module_tmp, [signer.public, second.public], signed.data, armor(signed.signatures))
    assert status.count("VALIDSIG") == 2


def test_text_mode_survives_mail_and_binary_over_bare_lf_does_not(keys, module_tmp):
    """A text-mode signature (0x01) holds whatever the line ends; a binary one over LF-only data would fail in a
    mail client (which puts the signed part in CRLF form first): it is reported so, never re-attached."""
    signer, _, _ = keys
    lf = b"Content-Type: text/plain\n\nbare line ends\n"
    text = split(gpg(signer.home, "--sign", "--textmode", data=lf), limit=LIMIT)
    assert text.text_mode and text.survives_mail()
    crlf = lf.replace(b"\n", b"\r\n")
    assert "VALIDSIG" in _verified_by_gpg(module_tmp, [signer.public], crlf, armor(text.signatures))
    binary = split(gpg(signer.home, "--sign", data=lf), limit=LIMIT)
    assert not binary.text_mode and not binary.survives_mail()


def test_the_adapter_unwraps_a_combined_message_and_refuses_a_foreign_one(keys, module_tmp):
    """Gpg.unwrap gives the signed message inside an encrypted one; without the recipient's key it says so."""
    signer, second, hub = keys
    recipient = module_tmp / "hub.asc"
    recipient.write_bytes(hub.public)
    data = _mime(2000)
    ciphertext = gpg(signer.home, "--armor", "--encrypt", "--sign", "--recipient-file", str(recipient), data=data)
    signed = split(Gpg(hub.home).unwrap(ciphertext), limit=LIMIT)
    assert signed.data == data
    assert "VALIDSIG" in _verified_by_gpg(module_tmp, [signer.public], signed.data, armor(signed.signatures))
    entity = signed.as_multipart_signed()
    assert entity.startswith(b"Content-Type: multipart/signed; micalg=") and data in entity
    with pytest.raises(DecryptionFailed) as refused:
        Gpg(second.home).unwrap(ciphertext)
    assert refused.value.reason == "no_secret_key"


def _literal(data: bytes) -> bytes:
    return packet(11, b"b\x00\x00\x00\x00\x00" + data)


@pytest.mark.parametrize("crafted,problem", [
    (b"", "not a signed literal message"),
    (b"\x00garbage", "not an OpenPGP packet header"),
    (bytes([0xC0 | 11, 0xFF, 0xFF]), "truncated length"),
    (bytes([0xC0 | 11, 50]) + b"short", "truncated packet"),
    (_literal(b"one") + _literal(b"two"), "not a signed literal message"),
    (packet(18, b"\x01encrypted-still"), "not a signed literal message"),
    (packet(8, b"\x02" + zlib.compress(b"\x00" * 5_000_000)), "expands beyond"),
    (packet(8, b"\x03" + bz2.compress(b"\x00" * 5_000_000)), "expands beyond"),
    (packet(8, b"\x02not zlib"), "corrupt compressed data"),
    (packet(8, b"\x09whatever"), "compression algorithm 9"),
    (packet(8, b"\x00" + packet(8, b"\x00" + _literal(b"x"))), "not a signed literal message"),
    (packet(8, b"\x00" + _literal(b"x")) + _literal(b"y"), "data after a compressed packet"),
    (bytes([0xC0 | 11, 0xE1]) + b"ab", "truncated"),  # a partial length promising 2 bytes, then no final one
], ids=lambda v: v if isinstance(v, str) else None)
def test_crafted_messages_are_refused_with_their_problem(crafted, problem):
    """Broken framing, a packet other than signed literal data, a compression bomb or nested compression: refused
    with the problem named, never read past a bound."""
    with pytest.raises(PacketError, match=problem):
        split(crafted, limit=LIMIT)


def test_a_literal_without_signature_is_data_alone():
    """Signed, then encrypted: the unwrapped message is literal data only (the signature is inside it)."""
    signed = split(_literal(b"Content-Type: text/plain\r\n\r\nx\r\n"), limit=LIMIT)
    assert signed.signatures == b"" and not signed.survives_mail()
    with pytest.raises(PacketError, match="no signature"):
        signed.as_multipart_signed()


def test_outer_headers_drop_the_body_fields_and_keep_the_rest():
    """What goes around a decrypted entity: the header without the fields of the encrypted body, folds kept."""
    raw = (b"From: a@x\r\nSubject: folded\r\n continued\r\nContent-Type: multipart/encrypted;\r\n"
           b" boundary=\"b\"\r\nMIME-Version: 1.0\r\nMessage-ID: <1@x>\r\n\r\nbody")
    assert outer_headers(raw) == (b"From: a@x\r\nSubject: folded\r\n continued\r\nMessage-ID: <1@x>\r\n"
                                  b"MIME-Version: 1.0\r\n")
