"""`audit verify`: the tree recomputed from the events as stored, held against every checkpoint the hub signed,
any checkpoint given (a file kept earlier, a receipt's, a witness's), and the witnesses' cosignatures.

What is found is named with the first leaf index that differs when the store still holds the evidence of it
(a gap in the indexes, fewer events than a checkpoint signed, a leaf that differs from the tiles that gave a
signed root); otherwise with the range between the last checkpoint that agrees and the first that does not.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Sequence

from crypto.errors import NoteError
from crypto.tlog import EMPTY_ROOT, Checkpoint, CompactRange, CosignatureVerifier, Note, Verifier, verify_consistency
from store import UnitOfWork
from store.transparency import TILE_WIDTH

from hub.errors import LogCorrupt

from .entries import leaf_of_row
from .tree import Tiles

HASH = 32


@dataclass(frozen=True)
class Finding:
    """Something that does not hold; *index* the first leaf that differs, or the range it lies in."""

    what: str
    index: int | None = None
    below: tuple[int, int] | None = None  # (from, to): the first difference lies in [from, to)
    fork: bool = False  # two checkpoints of one size with different roots, or one against a cosigned one

    def line(self) -> str:
        where = (f" (first index that differs: {self.index})" if self.index is not None else
                 f" (the first index that differs lies in {self.below[0]}..{self.below[1] - 1})" if self.below else "")
        return f"{'FORK' if self.fork else 'BROKEN'}: {self.what}{where}"


@dataclass
class Verification:
    size: int = 0
    root: bytes = EMPTY_ROOT
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Given:
    """A checkpoint from outside the store: a file, a receipt's, a witness's state."""

    label: str
    note: Note


class _Recomputed:
    """The events streamed once: roots at the sizes asked for, the first gap, the first leaf unlike the tiles."""

    def __init__(self, uow: UnitOfWork, sizes: set[int]) -> None:
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self.gap: int | None = None
        self.unlike_tiles: int | None = None
        tree = CompactRange()
        tiles = uow.log.level_tiles(0)
        tile_idx, tile = -1, b""
        for row in uow.log.stream():
            i = tree.size
            if row.seq != i and self.gap is None:
                self.gap = i
            leaf = leaf_of_row(row)
            while tile is not None and tile_idx < i // TILE_WIDTH:
                tile_idx, tile = next(tiles, (None, None))
                if tile_idx is None:
                    tile = None
            if tile is not None and tile_idx == i // TILE_WIDTH and self.unlike_tiles is None:
                stored = tile[(i % TILE_WIDTH) * HASH:(i % TILE_WIDTH + 1) * HASH]
                if stored and stored != leaf:
                    self.unlike_tiles = i
            tree.append(leaf)
            if tree.size in sizes:
                self.roots[tree.size] = tree.root()
        self.size = tree.size
        self.root = tree.root()


def verify_log(uow: UnitOfWork, *, verifiers: Sequence[Verifier], given: Sequence[Given] = (),
               witnesses: dict[str, Sequence[CosignatureVerifier]] | None = None) -> Verification:
    """Recompute the tree and hold it against the stored checkpoints, the *given* ones and the cosignatures."""
    result = Verification()
    outside: list[tuple[str, Note, Checkpoint]] = []
    for g in given:
        try:
            outside.append((g.label, g.note, Checkpoint.of(g.note)))
        except NoteError as exc:
            result.findings.append(Finding(f"{g.label}: not a checkpoint ({exc})"))
    signed = _signed(uow, verifiers, result)  # the stored checkpoints the hub's key signed: size -> root
    tree = _Recomputed(uow, set(signed) | {c.size for _, _, c in outside})
    result.size, result.root = tree.size, tree.root
    latest = max(signed, default=None)
    tiles_ok = latest is not None and _tiles_give(uow, latest, signed[latest])
    agreeing = sorted(size for size, root in signed.items() if tree.roots.get(size) == root)

    def locate(size: int) -> tuple[int | None, tuple[int, int] | None]:
        """Where the first difference below *size* lies, from what the store still proves."""
        if tree.gap is not None and tree.gap < size:
            return tree.gap, None
        if tree.size < size:
            return tree.size, None
        if tiles_ok and tree.unlike_tiles is not None and tree.unlike_tiles < size:
            return tree.unlike_tiles, None
        below = bisect.bisect_left(agreeing, size)
        return None, (agreeing[below - 1] if below else 0, size)

    def hold(label: str, checkpoint: Checkpoint) -> bool:
        if checkpoint.size > tree.size:
            result.findings.append(Finding(f"{label} signed {checkpoint.size} events; the log holds {tree.size}: "
                                           "events are missing", index=tree.size))
            return False
        if tree.roots.get(checkpoint.size) != checkpoint.root:
            index, below = locate(checkpoint.size)
            result.findings.append(Finding(f"the first {checkpoint.size} events are not those {label} signed",
                                           index=index, below=below))
            return False
        return True

    held = []
    before = len(result.findings)
    for size, root in sorted(signed.items()):
        if hold(f"the stored checkpoint of {size}", Checkpoint("", size, root)):
            held.append(size)
    later = result.findings[before + 1:]
    if later:  # one line for the stored checkpoints: the first that fails, and how many more do
        del result.findings[before + 1:]
        first = result.findings[before]
        result.findings[before] = replace(first, what=f"{first.what}; and {len(later)} later stored checkpoint(s)")
    if held:
        result.checked.append(f"{len(held)} stored checkpoint(s), of {held[0]} to {held[-1]} events: signed by the "
                              "hub's key, and the events give their roots")
    for label, note, checkpoint in outside:
        if not any(v.verifies(note) for v in verifiers):
            result.findings.append(Finding(f"{label} is not signed by the hub's key"))
            continue
        if signed.get(checkpoint.size, checkpoint.root) != checkpoint.root:
            result.findings.append(Finding(f"{label} and the stored checkpoint of {checkpoint.size} events, both "
                                           "signed by the hub, have different roots", fork=True,
                                           below=(0, checkpoint.size)))
        if hold(label, checkpoint):
            result.checked.append(f"{label}: the events give its root")
        if latest is not None and latest >= checkpoint.size:
            _consistent(result, uow, label, checkpoint, latest, signed[latest])
    for cosignature in uow.log.cosignatures():
        label = f"{cosignature.witness}'s cosignature of checkpoint {cosignature.size}"
        keys = (witnesses or {}).get(cosignature.witness)
        if keys is None:
            result.checked.append(f"{label}: not checked ({cosignature.witness} is no configured witness)")
            continue
        note = Note.parse(cosignature.note)
        cosigned = Checkpoint.of(note)
        if cosigned.size != cosignature.size or not any(k.timestamp(note) is not None for k in keys) or not any(
                v.verifies(note) for v in verifiers):
            result.findings.append(Finding(f"{label} is not a good cosignature of a checkpoint the hub signed"))
        elif signed.get(cosigned.size, cosigned.root) != cosigned.root:
            result.findings.append(Finding(f"{label}: the witness cosigned another root than the stored checkpoint "
                                           "of that size", fork=True, below=(0, cosigned.size)))
        elif hold(label, cosigned):
            result.checked.append(f"{label}: good, and the events give its root")
    result.findings.sort(key=lambda f: (f.index if f.index is not None else f.below[0] if f.below else -1))
    return result


def _signed(uow: UnitOfWork, verifiers: Sequence[Verifier], result: Verification) -> dict[int, bytes]:
    """The stored checkpoints whose note the hub's key signed, and whose row says what its note says."""
    signed: dict[int, bytes] = {}
    for row in uow.log.checkpoint_notes():
        note = Note.parse(row.note)
        if not any(v.verifies(note) for v in verifiers):
            result.findings.append(Finding(f"the stored checkpoint of {row.size} is not signed by the hub's key"))
            continue
        checkpoint = Checkpoint.of(note)
        if (checkpoint.size, checkpoint.root.hex()) != (row.size, row.root):
            result.findings.append(Finding(f"the stored checkpoint of {row.size}: its row is not its note"))
            continue
        signed[row.size] = checkpoint.root
    return signed


def _tiles_give(uow: UnitOfWork, size: int, root: bytes) -> bool:
    """The stored tiles give the root the latest signed checkpoint signed: their leaves are evidence."""
    try:
        return Tiles(uow.log, size).root() == root
    except (LogCorrupt, ValueError):  # tiles too broken to give any root are no evidence
        return False


def _consistent(result: Verification, uow: UnitOfWork, label: str, old: Checkpoint, size: int, root: bytes) -> None:
    """The latest stored checkpoint (*size*, *root*) extends *old*: a consistency proof from the stored tiles."""
    try:
        proof = Tiles(uow.log, size).consistency(old.size)
    except (LogCorrupt, ValueError):  # no proof can be read from tiles that broken
        proof = []
    if verify_consistency(old.size, size, old.root, root, proof):
        result.checked.append(f"{label}: the latest checkpoint ({size}) extends it (consistency proof)")
    else:
        result.findings.append(Finding(f"no consistency proof leads from {label} to the latest checkpoint "
                                       f"({size}): the log was rewritten", fork=True, below=(0, old.size)))
