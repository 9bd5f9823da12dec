"""Proofs the hub hands out: an event's inclusion in a signed checkpoint (C2SP tlog-proof, the event's entry
on its extra line), and the consistency of a checkpoint with an older one; each checked before it leaves."""

from __future__ import annotations

from typing import Iterator

from crypto.tlog import EntryProof, leaf_hash, verify_consistency, verify_inclusion
from store.transparency import LogRepository

from hub.errors import LogCorrupt

from .checkpoints import Issued, Pending
from .entries import of_row
from .tree import NodeCache, Tiles

RECEIPT_FIELD = "X-Passerelle-Log-Proof"  # a receipt's field: base64 of the tlog-proof of its intake event


class Prover:
    """Proofs against one checkpoint, stored or pending, from its tiles (read once for all the proofs asked; with
    the checkpointer's *cache*, once for the process)."""

    def __init__(self, log: LogRepository, checkpoint: Issued | Pending, cache: NodeCache | None = None) -> None:
        self.log = log
        self.issued = checkpoint.issued if isinstance(checkpoint, Pending) else checkpoint
        self.tiles = Tiles(log, self.issued.size, cache, checkpoint.tiles if isinstance(checkpoint, Pending) else None)

    def events(self, indexes: list[int]) -> dict[int, EntryProof]:
        """The proofs that the events at *indexes*, as stored now, are in the checkpoint's tree (one read)."""
        rows = self.log.entries_at(sorted(set(indexes)))
        missing = set(indexes) - {row.seq for row in rows}
        if missing:
            raise LogCorrupt(f"event {min(missing)} is missing from the log", index=min(missing))
        return self.of_rows(rows)

    def of_rows(self, rows) -> dict[int, EntryProof]:
        """The proofs of the events read as *rows* (the columns of LogRepository.entries), by index."""
        proofs = {}
        for row in rows:
            path = self.tiles.inclusion(row.seq)
            proof = EntryProof(row.seq, tuple(path), self.issued.note, extra=of_row(row))
            if not verify_inclusion(row.seq, self.issued.size, proof.leaf(), path, self.issued.root):
                raise LogCorrupt(f"event {row.seq} as stored is not the event the signed tree holds", index=row.seq)
            proofs[row.seq] = proof
        return proofs

    def entries(self, start: int, end: int) -> Iterator[tuple[bytes, list[bytes]]]:
        """Each event start <= index < end as stored, with its inclusion path (checked), in order."""
        expected = start
        for row in self.log.stream(start, end):
            if row.seq != expected:
                raise LogCorrupt(f"event {expected} is missing from the log", index=expected)
            entry = of_row(row)
            path = self.tiles.inclusion(row.seq)
            if not verify_inclusion(row.seq, self.issued.size, leaf_hash(entry), path, self.issued.root):
                raise LogCorrupt(f"event {row.seq} as stored is not the event the signed tree holds", index=row.seq)
            yield entry, path
            expected += 1
        if expected != end:
            raise LogCorrupt(f"event {expected} is missing from the log", index=expected)

    def consistency(self, old: Issued) -> list[bytes]:
        """The proof that this checkpoint's tree extends *old*'s."""
        proof = self.tiles.consistency(old.size)
        if not verify_consistency(old.size, self.issued.size, old.root, self.issued.root, proof):
            raise LogCorrupt(f"the checkpoint of {self.issued.size} does not extend the one of {old.size}",
                             index=old.size)
        return proof
