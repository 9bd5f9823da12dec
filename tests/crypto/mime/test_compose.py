"""Outgoing PGP/MIME: what the hub composes, the recipient's tools accept."""

from __future__ import annotations

import pytest

from crypto.mime.compose import encrypt_entity, sign_entity
from crypto.errors import MalformedMime
from crypto.mime.pgpmime import analyse, first_text, payload_headers
from tests.support import keys

ENTITY = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n=C3=A9valuation\n"
HEADERS = [("From", "Passerelle <hub@ocam.test>"), ("To", "alice@police.test"), ("Subject", "Accusé de réception"),
           ("Message-ID", "<r1@ocam.test>")]


def test_signed_message_passes_analyse_and_verifies(hub_gpg, hub_fpr):
    """sign_entity output is CRLF, analyses as signed and verifies good with its micalg."""
    raw = sign_entity(hub_gpg, ENTITY, hub_fpr, HEADERS)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"Subject: =?utf-8?" in raw
    env = analyse(raw)
    assert env.signed.signed_bytes == ENTITY.replace(b"\n", b"\r\n")
    check = hub_gpg.verify_detached(env.signed.signed_bytes, env.signed.signature)
    assert check.valid and check.primary_fingerprint == hub_fpr
    assert env.signed.micalg == "pgp-" + check.hash_algorithm.lower()
    assert first_text(env.signed.signed_bytes) == "évaluation\n"


def test_signed_message_verifies_with_recipient_gpg(hub_gpg, hub_fpr, alice, gpg_dir):
    """The recipient's own gpg verifies the detached signature over the first part."""
    env = analyse(sign_entity(hub_gpg, ENTITY, hub_fpr, HEADERS))
    keys.gpg(alice.home, "--import", data=hub_gpg.export_public(hub_fpr))
    sig = gpg_dir / "s.asc"
    sig.write_bytes(env.signed.signature)
    keys.gpg(alice.home, "--verify", str(sig), "-", data=env.signed.signed_bytes)


def test_encrypted_message_decrypts_for_recipient(hub_gpg, hub_fpr, alice):
    """encrypt_entity gives RFC 3156 multipart/encrypted that the recipient decrypts to the entity."""
    raw = encrypt_entity(hub_gpg, ENTITY, [alice.fingerprint], hub_fpr, HEADERS)
    env = analyse(raw)
    assert env.kind == "encrypted"
    keys.gpg(alice.home, "--import", data=hub_gpg.export_public(hub_fpr))
    assert keys.gpg(alice.home, "--decrypt", data=env.ciphertext) == ENTITY.replace(b"\n", b"\r\n")
    assert b"valuation" not in raw


def test_composer_refuses_8bit_entity_and_header_injection(hub_gpg, hub_fpr):
    with pytest.raises(MalformedMime):
        sign_entity(hub_gpg, "Content-Type: text/plain\n\né".encode(), hub_fpr, HEADERS)
    with pytest.raises(ValueError):
        sign_entity(hub_gpg, ENTITY, hub_fpr, [("Subject", "x\r\nBcc: spy@evil.test")])


def test_protected_headers_survive_composition(hub_gpg, hub_fpr):
    entity = b'Content-Type: text/plain; protected-headers="v1"\r\nUrgency: FLASH\r\n\r\nx\r\n'
    env = analyse(sign_entity(hub_gpg, entity, hub_fpr, HEADERS))
    assert ("Urgency", "FLASH") in payload_headers(env.signed.signed_bytes)


def test_non_ascii_text_fields_fold_into_short_encoded_words_that_decode_back():
    """Random non-ASCII Subjects (accents, emoji, tabs, "=?", long runs): every line <= 76, decoded text equal."""
    import random
    from email import message_from_bytes
    from email.header import decode_header, make_header

    from crypto.mime.compose import header_block

    rng = random.Random(2047)
    alphabet = "abcé ñ€😀_=?\t-"
    for _ in range(2000):
        value = "é" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        name = rng.choice(["Subject", "Comments", "X-Passerelle-Longer-Header-Name"])
        block = header_block([(name, value)])
        assert all(len(line) <= 76 for line in block.split(b"\r\n")), block
        decoded = str(make_header(decode_header(message_from_bytes(block + b"\r\n")[name])))
        assert decoded == value, block
