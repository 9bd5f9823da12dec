"""The C2SP texts of a transparency log: the checkpoint (tlog-checkpoint), the proof of one entry
(tlog-proof v1) and the witness's add-checkpoint request (tlog-witness); strict parsers for hostile input."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crypto.errors import NoteError

from .merkle import leaf_hash
from .notes import Note, b64, unb64, valid_name

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 63  # a tree of 2^63 leaves at most
MAX_EXTRA_BYTES = 16 * 1024
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise NoteError(f"{what}: not a decimal without leading zeroes: {text[:24]!r}")
    return int(text)


def hash_line(text: str) -> bytes:
    value = unb64(text)
    if len(value) != 32:
        raise NoteError("a hash is 32 bytes")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """Origin, tree size and root hash: the body of a checkpoint note (no extension lines here)."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n"

    @classmethod
    def of(cls, note: Note) -> "Checkpoint":
        lines = note.text[:-1].split("\n")
        if len(lines) != 3 or not valid_name(lines[0]):
            raise NoteError("a checkpoint here is an origin, a tree size and a root hash")
        return cls(lines[0], decimal(lines[1], "tree size"), hash_line(lines[2]))


@dataclass(frozen=True)
class EntryProof:
    """tlog-proof v1: the entry's index, its inclusion path (leaf's sibling first), the checkpoint note; the
    *extra* line carries the entry itself (unauthenticated until its hash is proven)."""

    index: int
    path: tuple[bytes, ...]
    note: Note
    extra: bytes | None = None

    def leaf(self) -> bytes:
        """The leaf hash of the entry on the extra line."""
        if self.extra is None:
            raise NoteError("this proof carries no entry")
        return leaf_hash(self.extra)

    def render(self) -> str:
        head = [PROOF_HEADER] + ([f"extra {b64(self.extra)}"] if self.extra is not None else []) + [f"index {self.index}"]
        return "\n".join(head + [b64(p) for p in self.path]) + "\n\n" + self.note.render()

    @classmethod
    def parse(cls, data: str) -> "EntryProof":
        head, sep, note = data.partition("\n\n")
        lines = head.split("\n")
        if not sep or lines[0] != PROOF_HEADER:
            raise NoteError("not a c2sp.org/tlog-proof@v1")
        lines.pop(0)
        extra = None
        if lines and lines[0].startswith("extra "):
            extra = unb64(lines.pop(0)[6:])
            if len(extra) > MAX_EXTRA_BYTES:
                raise NoteError("extra data too long")
        if not lines or not lines[0].startswith("index "):
            raise NoteError("a proof names its index")
        index = decimal(lines.pop(0)[6:], "index")
        if len(lines) > MAX_PROOF_HASHES:
            raise NoteError("too many proof hashes")
        return cls(index, tuple(hash_line(line) for line in lines), Note.parse(note), extra)


@dataclass(frozen=True)
class WitnessRequest:
    """tlog-witness add-checkpoint: the size the witness last cosigned, the consistency proof from it, the
    checkpoint to cosign."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note

    def render(self) -> str:
        return "".join([f"old {self.old_size}\n", *(b64(p) + "\n" for p in self.proof), "\n", self.note.render()])

    @classmethod
    def parse(cls, data: str) -> "WitnessRequest":
        head, sep, note = data.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines[0].startswith("old "):
            raise NoteError("a witness request starts with its old size")
        if len(lines) - 1 > MAX_PROOF_HASHES:
            raise NoteError("too many proof hashes")
        return cls(decimal(lines[0][4:], "old size"), tuple(hash_line(line) for line in lines[1:]), Note.parse(note))
