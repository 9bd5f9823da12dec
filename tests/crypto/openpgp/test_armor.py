"""The armor of a signature or of an encrypted message, read once: what the reading accepts (and, for a
signature, the adapter's check that it is one signature packet), gpg reads without a complaint as one signature
(or one message) — the fuzz harness found gpg answering "Good signature" with exit code 2 after skipping
characters, an armor header or its END line, and the hub accepting those."""

from __future__ import annotations

import base64
import random
import re

from crypto.errors import MalformedMime, PacketError
from crypto.mime.pgpmime import analyse
from crypto.openpgp.packets import dearmor, read_armor
from hub.tools.client import gpg_cli
from hub.tools.fuzz import mutations, places
from tests.support import keys, mail

DATA = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nRoadblock at the north exit from 06:00.\r\n"


def _signature(key, data: bytes = DATA, notation: str = "") -> bytes:
    options = ("--set-notation", f"fuzz@partner.test={notation}") if notation else ()
    return keys.gpg(key.home, "--armor", "--detach-sign", *options, "--local-user", key.fingerprint, data=data)


def _gpg(home, data: bytes, signature: bytes, tmp) -> tuple[int, int]:
    """gpg --verify's exit code, and how many good signatures it reported."""
    (tmp / "d").write_bytes(data)
    (tmp / "s").write_bytes(signature)
    out = gpg_cli.run(home, "--status-fd", "1", "--verify", str(tmp / "s"), str(tmp / "d"))
    return out.returncode, out.stdout.count(b"[GNUPG:] VALIDSIG ")


def _hub_accepts(hub_gpg, signature: bytes) -> bool:
    """Whether the reading of a message (what admission takes everything from) accepts it as its signature, and
    the adapter does not call it malformed (not one signature packet) before checking it."""
    raw = (b"From: alice@police.test\r\nMessage-ID: <a@police.test>\r\nMIME-Version: 1.0\r\nContent-Type: "
           b'multipart/signed; protocol="application/pgp-signature"; boundary="b"\r\n\r\n--b\r\n' + DATA
           + b"\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n" + signature + b"\r\n--b--\r\n")
    try:
        signed = analyse(raw).signed
    except MalformedMime:
        return False
    return hub_gpg.verify_detached(signed.signed_bytes, signed.signature).status != "malformed"


def _variants(sig: bytes, unpadded: bytes, other: bytes) -> dict[str, bytes]:
    """Armor variants of *sig*; *unpadded* a signature whose base64 ends without padding, *other* a second one."""
    lines = sig.split(b"\n")
    crc = next(i for i, line in enumerate(lines) if line.startswith(b"=") and len(line) == 5)
    data = b"".join(lines[2:crc])
    no_crc = lambda s: re.sub(rb"\n=[A-Za-z0-9+/]{4}\n", b"\n", s)  # noqa: E731
    return {
        "as gpg wrote it": sig, "CRLF": sig.replace(b"\n", b"\r\n"), "trailing spaces": sig.replace(b"\n", b" \t\n"),
        "a Comment header": sig.replace(b"-----\n\n", b"-----\nComment: x\n\n", 1),
        "an unknown header": sig.replace(b"-----\n\n", b"-----\nFoo: bar\n\n", 1),
        "a UTF-8 comment": sig.replace(b"-----\n\n", "-----\nComment: Müller\n\n".encode(), 1),
        "an empty comment": sig.replace(b"-----\n\n", b"-----\nComment: \n\n", 1),
        "a tab after the colon": sig.replace(b"-----\n\n", b"-----\nComment:\tx\n\n", 1),
        "no key, no space": sig.replace(b"-----\n\n", b"-----\n:x\n\n", 1),
        "rewrapped at 76": b"\n".join(lines[:2] + [data[i:i + 76] for i in range(0, len(data), 76)] + lines[crc:]),
        "no checksum, padded": no_crc(sig), "blank lines before": b"\n\n" + sig,
        "no checksum, unpadded": no_crc(unpadded), "no blank line": sig.replace(b"-----\n\n", b"-----\n", 1),
        "a form feed for the blank line": sig.replace(b"-----\n\n", b"-----\n\f\n", 1),
        "Comment:x": sig.replace(b"-----\n\n", b"-----\nComment:x\n\n", 1),
        "BEGIN line with more": sig.replace(b"SIGNATURE-----\n", b"SIGNATURE-----x\n", 1),
        "indented": b"\n".join(b" " + line for line in lines),
        "MESSAGE label": sig.replace(b"BEGIN PGP SIGNATURE", b"BEGIN PGP MESSAGE"),
        "twice": sig + sig, "text before": b"Signed:\n" + sig, "text after": sig + b"junk\n",
        "a ';' in the data": sig.replace(lines[2], lines[2][:9] + b";" + lines[2][9:]),
        "a '-' line in the data": sig.replace(lines[2] + b"\n", lines[2] + b"\n- x\n"),
        "padding in the middle": sig.replace(lines[2], lines[2][:-2] + b"=="),
        "a bad checksum": sig.replace(lines[crc], b"=AAAA"),
        "two signatures in one armor": (b"-----BEGIN PGP SIGNATURE-----\n\n" + base64.encodebytes(
            dearmor(sig) + dearmor(other)) + b"-----END PGP SIGNATURE-----\n"),
        "no END line": b"\n".join(lines[:crc + 1]) + b"\n",
    }


def test_a_signature_armor_the_hub_accepts_is_one_good_signature_to_gpg(alice, hub_gpg, gpg_dir):
    """Crafted armor around a real signature: what the hub accepts, gpg verifies once with exit code 0 (and
    what gpg reads alike is accepted, so real clients' armor still passes); gpg answers "Good signature" with
    exit code 2 to several of the others."""
    # A notation of one to nine bytes: every third length makes the signature's base64 end without padding
    # (three rounds: an EdDSA signature is a byte shorter when an MPI's top byte is zero, 17 in 1,500 here).
    unpadded = next(s for n in range(1, 10)
                    if not re.search(rb"=\r?\n=", s := _signature(alice, notation="a" * n)))
    variants = _variants(_signature(alice), unpadded, _signature(alice, notation="second"))
    accepted = {name for name, v in variants.items() if _hub_accepts(hub_gpg, v)}
    assert accepted == {"as gpg wrote it", "CRLF", "trailing spaces", "a Comment header", "an unknown header",
                        "a UTF-8 comment", "an empty comment", "rewrapped at 76", "no checksum, padded",
                        "blank lines before"}
    for name in accepted:
        assert _gpg(alice.home, DATA, variants[name], gpg_dir) == (0, 1), name
    for name in ("no checksum, unpadded", "no blank line", "a ';' in the data", "a form feed for the blank line"):
        assert _gpg(alice.home, DATA, variants[name], gpg_dir) == (2, 1), name  # "Good signature", exit code 2
    assert _gpg(alice.home, DATA, variants["twice"], gpg_dir) == (0, 2)  # two signatures: which signer is it?


def test_mutated_signature_armor_accepted_by_the_hub_verifies_cleanly_in_gpg(alice, hub_gpg, gpg_dir):
    """The fuzz harness's armor operators and byte changes at armor places, 300 times, seeded: whenever the
    reading of the message accepts the signature part and the adapter takes it for one signature packet, gpg
    verifies exactly one good signature, exit code 0."""
    raw = mail.signed_mail(alice, body="Armor differential")
    signed = analyse(raw).signed
    ctx = mutations.Context(lambda: raw, (alice.email,))
    accepted = 0
    for n in range(300):
        rng = random.Random(f"armor:{n}")
        operator = rng.choice((mutations.armor, mutations.armor, mutations.flip, mutations.insert, mutations.delete))
        changed, _what = operator(rng, signed.signature, ctx) if operator is mutations.armor else _at_armor(rng, operator,
                                                                                                       signed.signature)
        try:
            reread = analyse(raw.replace(signed.signature, changed)).signed
        except MalformedMime:
            continue
        if hub_gpg.verify_detached(reread.signed_bytes, reread.signature).status == "malformed":
            continue
        accepted += 1
        assert _gpg(alice.home, reread.signed_bytes, reread.signature, gpg_dir) == (0, 1), (n, changed)
    assert 20 < accepted < 300


def _at_armor(rng, operator, signature: bytes) -> tuple[bytes, str]:
    """A byte change where the operator's place is the armor (its places are drawn from the message)."""
    at = places.place(rng, signature, "armor")
    if operator is mutations.flip:
        return signature[:at] + bytes([rng.choice(range(256))]) + signature[at + 1:], "flip"
    if operator is mutations.insert:
        return signature[:at] + rng.choice((b";", b"=", b"\r\n", b" ", b"-", b"\f", b":")) + signature[at:], "insert"
    return signature[:at] + signature[at + rng.choice((1, 2, 5)):], "delete"


def test_an_encrypted_part_armor_the_reading_accepts_decrypts_cleanly(alice, hub_gpg, hub_fpr, gpg_dir):
    """The same for multipart/encrypted: the reading refuses the armor gpg decrypts only with a complaint."""
    raw = mail.encrypted_mail(alice, hub_gpg.export_public(hub_fpr), body="Armor differential, encrypted")
    ciphertext = analyse(raw).ciphertext
    lines = ciphertext.split(b"\r\n")
    variants = {
        "as gpg wrote it": (ciphertext, True), "a Version header": (ciphertext.replace(
            b"-----\r\n\r\n", b"-----\r\nVersion: x\r\n\r\n", 1), True),
        "no blank line": (ciphertext.replace(b"-----\r\n\r\n", b"-----\r\n", 1), False),
        "a '>' in the data": (ciphertext.replace(lines[3], lines[3][:5] + b">" + lines[3][5:]), False),
        "text after": (ciphertext + b"more\r\n", False), "SIGNATURE label": (ciphertext.replace(b"MESSAGE", b"SIGNATURE"),
                                                                             False),
    }
    for name, (armored, expected) in variants.items():
        try:
            read_armor(armored, "MESSAGE")
            reading = True
        except PacketError:
            reading = False
        assert reading is expected, name
        out = gpg_cli.run(hub_gpg.home, "--status-fd", "1", "--decrypt", data=armored)
        if reading:
            assert out.returncode == 0 and b"DECRYPTION_OKAY" in out.stdout, name
