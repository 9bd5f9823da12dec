"""C2SP signed notes (signed-note v1) with Ed25519 keys, and timestamped cosignatures (tlog-cosignature v1).

A note is a text ending in a newline, a blank line, then signature lines ``— NAME base64(key id || sig)``.
The key id of an Ed25519 note key is SHA-256(NAME || 0x0A || 0x01 || 32-byte public key)[:4]; of an
Ed25519 cosigner SHA-256(NAME || 0x0A || 0x04 || public key)[:4], its signature a big-endian u64 POSIX
time then the Ed25519 signature over ``cosignature/v1\\ntime T\\n`` and the note's text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.errors import NoteError

NOTE_ED25519 = 0x01
COSIGNATURE_ED25519 = 0x04
DASH = "\u2014 "
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 64 * 1024  # a checkpoint with its cosignatures is well under 2 KiB
_SPACE = re.compile(r"\s")


def valid_name(name: str) -> bool:
    """A key name is non-empty, has no (Unicode) space and no plus sign."""
    return bool(name) and not _SPACE.search(name) and "+" not in name


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError(f"not base64: {text[:20]!r}") from exc


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    value: bytes  # what follows the key id: an Ed25519 signature, or a timestamp and one

    def line(self) -> str:
        return f"{DASH}{self.name} {b64(self.key_id + self.value)}\n"


@dataclass(frozen=True)
class Note:
    """A signed note: its text (ending in a newline) and its signature lines, verified or not."""

    text: str
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def adding(self, *signatures: Signature) -> "Note":
        known = {s.line() for s in self.signatures}
        return Note(self.text, self.signatures + tuple(s for s in signatures if s.line() not in known))

    @classmethod
    def parse(cls, data: str | bytes) -> "Note":
        """Strict parse (UTF-8, no control character but newline, at most 100 signatures); NoteError else."""
        if isinstance(data, bytes):
            if len(data) > MAX_NOTE_BYTES:
                raise NoteError("note too long")
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NoteError("a note is UTF-8") from exc
        if len(data) > MAX_NOTE_BYTES or any(c < " " and c != "\n" for c in data):
            raise NoteError("a note holds no control character but newlines")
        text, sep, lines = data.rpartition("\n\n")
        if not sep or not text or not lines.endswith("\n"):
            raise NoteError("a note is a text, a blank line and signature lines, each ending in a newline")
        signatures = []
        for line in lines[:-1].split("\n"):
            if not line.startswith(DASH):
                raise NoteError("a signature line starts with an em dash and a space")
            name, space, encoded = line[len(DASH):].partition(" ")
            raw = unb64(encoded) if space else b""
            if not valid_name(name) or len(raw) < 5:
                raise NoteError(f"malformed signature line for {name!r}")
            signatures.append(Signature(name, raw[:4], raw[4:]))
        if len(signatures) > MAX_SIGNATURES:
            raise NoteError("too many signatures")
        return cls(text + "\n", tuple(signatures))


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note key's public half, by name (C2SP vkey: NAME+HEX(KEY ID)+BASE64(0x01 || KEY))."""

    name: str
    public: bytes

    def __post_init__(self) -> None:
        if not valid_name(self.name) or len(self.public) != 32:
            raise NoteError("a note key has a valid name and a 32-byte Ed25519 public key")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, NOTE_ED25519, self.public)

    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([NOTE_ED25519]) + self.public)}"

    @classmethod
    def from_vkey(cls, text: str) -> "Verifier":
        name, _, rest = text.strip().rpartition("+")
        name, _, hexid = name.rpartition("+")
        raw = unb64(rest)
        if len(raw) != 33 or raw[0] != NOTE_ED25519:
            raise NoteError("not an Ed25519 note key")
        verifier = cls(name, raw[1:])
        if hexid != verifier.key_id.hex():
            raise NoteError("the key id of the vkey does not match its key")
        return verifier

    def verifies(self, note: Note) -> bool:
        """The first signature of this key (name and key id) is good; False when none, or it is bad."""
        for s in note.signatures:
            if s.name == self.name and s.key_id == self.key_id:
                return _good(self.public, s.value, note.text.encode())
        return False


class Signer:
    """An Ed25519 note key (its private half) under a name."""

    def __init__(self, name: str, private: ed25519.Ed25519PrivateKey) -> None:
        self.verifier = Verifier(name, private.public_key().public_bytes_raw())
        self._private = private

    def sign(self, text: str) -> Note:
        if not text.endswith("\n") or "\n\n" in text or any(c < " " and c != "\n" for c in text):
            raise NoteError("a note text ends in a newline and has no blank line nor control character")
        v = self.verifier
        return Note(text, (Signature(v.name, v.key_id, self._private.sign(text.encode())),))


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's Ed25519 cosigning key, by name."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, COSIGNATURE_ED25519, self.public)

    def timestamp(self, note: Note) -> int | None:
        """The time of this witness's good cosignature on the note, or None (none, or bad)."""
        for s in note.signatures:
            if s.name == self.name and s.key_id == self.key_id and len(s.value) == 72:
                timestamp = int.from_bytes(s.value[:8], "big")
                if timestamp < 2 ** 63 and _good(self.public, s.value[8:], cosigned_message(note.text, timestamp)):
                    return timestamp
                return None
        return None


class Cosigner:
    """A witness's Ed25519 cosigning key (its private half) under a name."""

    def __init__(self, name: str, private: ed25519.Ed25519PrivateKey) -> None:
        if not valid_name(name):
            raise NoteError(f"{name!r} is no key name")
        self.verifier = CosignatureVerifier(name, private.public_key().public_bytes_raw())
        self._private = private

    def cosign(self, note: Note, timestamp: int) -> Signature:
        value = timestamp.to_bytes(8, "big") + self._private.sign(cosigned_message(note.text, timestamp))
        return Signature(self.verifier.name, self.verifier.key_id, value)


def _good(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
