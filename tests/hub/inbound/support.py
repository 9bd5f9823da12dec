"""What the inbound tests share: OCAM's people registered through the CLI, and a captured copy taken apart with
gpg's command line and the MIME structure as RFC 3156 draws it (never with the hub's own parsers)."""

from __future__ import annotations

import quopri
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from click.testing import CliRunner

from hub.cli.main import main
from tests.support.keys import TestKey, gpg, make_key, short_home
from tests.support import ocam


def run(home, *args: str):
    return CliRunner().invoke(main, ocam.signed([*args, "--home", str(home.settings.home)]))


def ok(home, *args: str) -> str:
    result = run(home, *args)
    assert result.exit_code == 0, result.output
    return result.output


def desk(home, tmp: Path, name: str = "duty-desk", *, clearance: str = "SECRET", expire: str = "0") -> TestKey:
    """An `ocam-duty` recipient registered with `recipient add`, its key in its own home."""
    key = make_key(tmp, f"{name}@ocam.test", name=name, expire=expire)
    (tmp / f"{name}.asc").write_bytes(key.public)
    ok(home, "recipient", "add", name, "--type", "ocam-duty", "--email", key.email, "--key", str(tmp / f"{name}.asc"),
       "--clearance", clearance)
    return key


def member(home, tmp: Path, name: str, role: str, *, clearance: str = "TOP-SECRET") -> TestKey:
    """A member registered with `member add` under the director's signature, its key in its own home (what
    --signer-home names); the director is the one registered when the hub was made (tests.support.ocam)."""
    if role == "director":
        assert name == ocam.director().name
        return ocam.director().key
    key = make_key(tmp, f"{name}@ocam.test", name=name)
    (tmp / f"{name}.asc").write_bytes(key.public)
    ok(home, "member", "add", name, "--role", role, "--email", key.email, "--key", str(tmp / f"{name}.asc"),
       "--clearance", clearance)
    return key


def header_of(entity: bytes):
    head = entity.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    return BytesHeaderParser(policy=compat32).parsebytes(head)


def parts(entity: bytes) -> list[bytes]:
    """The body parts of a multipart entity, byte for byte (RFC 2046 §5.1.1: a delimiter is CRLF--boundary)."""
    boundary = header_of(entity).get_param("boundary")
    assert boundary, "not a multipart entity"
    body = entity.split(b"\r\n\r\n", 1)[1]
    delimiter = b"--" + boundary.encode()
    pieces = (b"\r\n" + body).split(b"\r\n" + delimiter)
    assert pieces[-1].startswith(b"--"), "no closing delimiter"
    return [p.split(b"\r\n", 1)[1] for p in pieces[1:-1]]


def recipient_key_ids(ciphertext: bytes) -> set[str]:
    """The key ids an OpenPGP message is encrypted to, as gpg --list-packets shows them (in an empty home)."""
    listing = gpg(short_home(Path("/tmp"), "pgl"), "--list-packets", "--list-only", data=ciphertext).decode()
    return set(re.findall(r":pubkey enc packet: version \d+, algo \d+, keyid ([0-9A-F]{16})", listing))


def encryption_key_ids(key: TestKey) -> set[str]:
    """The key ids of *key*'s encryption subkeys."""
    listing = gpg(key.home, "--with-colons", "--list-keys", key.fingerprint).decode().splitlines()
    return {line.split(":")[4] for line in listing if line.startswith("sub:") and "e" in line.split(":")[11]}


@dataclass
class Copy:
    """A captured copy: its outer header, the entity its recipient decrypted, and the parts of that entity."""

    outer: object
    ciphertext: bytes
    entity: bytes
    protected: object
    text: str
    original: bytes | None


def open_copy(data: bytes, holder: TestKey, home) -> Copy:
    """Decrypt a PGP/MIME copy with its recipient's own home, as the recipient's client would, and check that the
    hub of *home* signed it (its public key imported there, as the recipient's client holds it)."""
    outer = header_of(data)
    assert outer.get_content_type() == "multipart/encrypted"
    version, encrypted = parts(data)
    assert b"application/pgp-encrypted" in version
    ciphertext = encrypted.split(b"\r\n\r\n", 1)[1]
    gpg(holder.home, "--import", data=home.gpg.export_public(home.fingerprint))
    status = holder.home / "decrypt.status"
    entity = gpg(holder.home, "--status-file", str(status), "--decrypt", data=ciphertext)
    assert "VALIDSIG" in status.read_text() and home.fingerprint in status.read_text(), "not signed by the hub"
    protected = header_of(entity)
    inner = parts(entity)
    text = inner[0].split(b"\r\n\r\n", 1)[1].decode("ascii")
    original = None
    if len(inner) > 1:
        head, original = inner[1].split(b"\r\n\r\n", 1)
        assert b"Content-Type: message/rfc822" in head
    return Copy(outer, ciphertext, entity, protected, quopri.decodestring(text.encode()).decode("utf-8"), original)


def verify_original(original: bytes, partner: TestKey) -> str:
    """gpg --verify of the original's multipart/signed in a fresh home holding only the partner's public key;
    returns gpg's status output (raises when the signature is not good)."""
    head = header_of(original)
    assert head.get_content_type() == "multipart/signed", head.get_content_type()
    signed, signature = parts(original)
    signature = signature.split(b"\r\n\r\n", 1)[1]
    home = short_home(Path("/tmp"), "pgv")
    gpg(home, "--import", data=partner.public)
    sig_file = home / "signature.asc"
    sig_file.write_bytes(signature)
    return gpg(home, "--status-fd", "1", "--verify", str(sig_file), "-", data=signed).decode()
