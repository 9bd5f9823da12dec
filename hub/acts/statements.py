"""Signed statements: an OCAM act as a canonical text, signed by a member with their own key, verified against
the registered member before the hub acts on it; the statement and its signature are kept (law Art. 9 §3, 7°)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from crypto import Gpg, GpgUnavailable, KeyUnusable

from hub.errors import StatementError

_KEY = re.compile(r"[a-z][a-z0-9-]*\Z")
MAX_VALUE = 500  # characters of one field's value (a reason is a sentence, not a file)


@dataclass(frozen=True)
class Statement:
    """A title line, then one ``key: value`` line per field, in order; every line is part of what is signed."""

    title: str
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, title: str, *fields: tuple[str, str]) -> "Statement":
        for key, value in fields:
            if not _KEY.match(key):
                raise StatementError(f"a statement's field name must be lower-case words, not {key!r}")
            one_line(key, value)
        return cls(title, tuple(fields))

    @classmethod
    def parse(cls, text: str, title: str) -> "Statement":
        """Read a statement of *title*; anything else (another act, a stray or malformed line) is refused."""
        lines = text.split("\n")
        if lines[0] != title or not text.endswith("\n"):
            raise StatementError(f"not a statement of this kind (its first line must be {title!r})")
        fields = []
        for line in lines[1:-1]:
            key, sep, value = line.partition(": ")
            if not sep or not _KEY.match(key):
                raise StatementError(f"malformed statement line {line[:40]!r}")
            fields.append((key, value))
        return cls.of(title, *fields)

    def text(self) -> str:
        return "\n".join([self.title, *(f"{key}: {value}" for key, value in self.fields)]) + "\n"

    def digest(self) -> str:
        """SHA-256 of the text: what makes one signed act distinct from every other (a replay is the same one)."""
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()

    def values(self, key: str) -> list[str]:
        return [value for k, value in self.fields if k == key]

    def one(self, key: str) -> str:
        found = self.values(key)
        if len(found) != 1:
            raise StatementError(f"the statement must have exactly one {key!r} line")
        return found[0]


def quoted(text: str, title: str, last_key: str) -> str | None:
    """A statement of *title* quoted in a signed message's text, from its title line to its *last_key* line."""
    start = text.find(title + "\n")
    if start < 0:
        return None
    lines = []
    for line in text[start:].split("\n"):
        lines.append(line.rstrip("\r"))
        if line.startswith(last_key + ": "):
            return "\n".join(lines) + "\n"
    return None


def one_line(name: str, value: str) -> str:
    """A field value as a statement holds it: one line of printable text, bounded."""
    if not value or len(value) > MAX_VALUE or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise StatementError(f"{name}: one line of printable text, 1 to {MAX_VALUE} characters")
    return value


@dataclass(frozen=True)
class Signer:
    """Who signed a statement, as registered: the name, the registered primary key, the key that signed."""

    name: str
    fingerprint: str
    signing_fingerprint: str


def signing_key(signer_home: Path, wanted: Iterable[str], *, binary: str | None = None) -> str:
    """The home's first secret key among *wanted* (registered keys), else its first one (the hub then refuses
    the signature, saying whose it is)."""
    mine = Gpg(signer_home, binary=binary).secret_fingerprints()
    if not mine:
        raise StatementError(f"the GnuPG home {signer_home} holds no secret key")
    wanted = set(wanted)
    return next((fingerprint for fingerprint in mine if fingerprint in wanted), mine[0])


def sign_with_home(signer_home: Path, fingerprint: str, text: str, *, binary: str | None = None) -> bytes:
    """Sign *text* (detached, armoured) with the key *fingerprint* held in a member's own GnuPG home."""
    gpg = Gpg(signer_home, binary=binary)
    if not gpg.has_secret(fingerprint):
        raise StatementError(f"the GnuPG home {signer_home} holds no secret key {fingerprint}")
    try:
        signature, _micalg = gpg.sign_detached(text.encode("utf-8"), fingerprint)
    except (KeyUnusable, GpgUnavailable) as exc:
        raise StatementError(f"could not sign with {fingerprint}: {exc}") from exc
    return signature


def verify(gpg: Gpg, text: str, signature: bytes, allowed: Sequence[tuple[str, str]], *, role: str) -> Signer:
    """The signer of *text*, if *signature* is a good one by one of the *allowed* (name, registered primary
    fingerprint); refused otherwise, with whose key it was. Nothing is acted on before this returns."""
    check = gpg.verify_detached(text.encode("utf-8"), signature)
    if not check.valid:
        raise StatementError(f"the {role}'s signature over the statement is not valid ({check.status}); "
                             "nothing was done")
    for name, fingerprint in allowed:
        if check.primary_fingerprint == fingerprint:
            return Signer(name, fingerprint, check.signing_fingerprint or fingerprint)
    whom = (f"the {role} " + " or ".join(f"{n} ({f})" for n, f in allowed) if 0 < len(allowed) <= 3
            else f"any registered {role}")
    raise StatementError(f"the statement is signed by {check.primary_fingerprint}, not by {whom}; "
                         "nothing was done")
