"""The log's tree in the store: events by leaf index, tiles of hashes, checkpoints, cosignatures; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator, Sequence

from sqlalchemy import Row, Text, bindparam, cast, func, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from ..models import AuditEvent
from ..repositories import _Repository
from .models import LogCheckpoint, LogCosignature, LogTile

TILE_HEIGHT = 8  # C2SP tlog-tiles: a tile spans 8 levels of the tree,
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes

_a = AuditEvent.__table__.c
_t = LogTile.__table__.c
# The detail as its stored text (canonical JSON, store/database.py): the leaf entry takes it as it is.
ENTRY_COLUMNS = (_a.seq, _a.at, _a.actor, _a.action, _a.message_ref, cast(_a.detail, Text).label("detail"))
ENTRIES = (select(*ENTRY_COLUMNS).where(_a.seq >= bindparam("b_start"), _a.seq < bindparam("b_end"))
           .order_by(_a.seq))
LAST_SEQ = select(func.max(_a.seq))
_c = LogCheckpoint.__table__.c
# The latest checkpoint (its note too: an issuer whose event it covers returns it as it stands) and the log's
# last leaf index, in one statement: one snapshot, one round trip.
HEAD_AND_LAST = (select(_c.size, _c.root, _c.note, LAST_SEQ.scalar_subquery().label("last"))
                 .order_by(_c.size.desc()).limit(1))
# The smallest stored checkpoint at least this large: one of this very size, or a larger tree's.
CHECKPOINT_AT_LEAST = (select(_c.size, _c.root).where(_c.size >= bindparam("b_size")).order_by(_c.size)
                       .limit(1))
CHECKPOINT_INSERT = insert(LogCheckpoint.__table__)
TILES_AT = select(_t.level, _t.idx, _t.hashes).where(tuple_(_t.level, _t.idx).in_(bindparam("b_keys", expanding=True)))
CHECKPOINT_NOTES = (select(_c.size, _c.root, _c.note).where(_c.size > bindparam("b_last")).order_by(_c.size)
                    .limit(bindparam("b_limit")))
ENTRIES_AT = select(*ENTRY_COLUMNS).where(_a.seq.in_(bindparam("b_seqs", expanding=True))).order_by(_a.seq)
ENTRIES_OF = (select(*ENTRY_COLUMNS).where(_a.message_ref.in_(bindparam("b_refs", expanding=True)),
                                           _a.action == bindparam("b_action")).order_by(_a.seq))


def _tile_upsert(dialect):
    insert = dialect.insert(LogTile.__table__)
    return insert.on_conflict_do_update(index_elements=[_t.level, _t.idx], set_={"hashes": insert.excluded.hashes})


TILE_UPSERT = {dialect.__name__.rsplit(".", 1)[-1]: _tile_upsert(dialect) for dialect in (postgresql, sqlite)}
# Issuers of checkpoints (the periodic one, a receipt's, the operator's), across processes, one at a time.
CHECKPOINT_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=0x50415353_434B5054)  # "PASSCKPT"


class LogRepository(_Repository):
    """What issuing, proving and verifying read and write."""

    def lock_for_checkpoint(self) -> None:
        """Serialise issuers until this transaction ends (PostgreSQL; SQLite's writer is alone already)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self._core(CHECKPOINT_LOCK, {})

    def size(self) -> int:
        """How many events the log holds (the last leaf index + 1; the indexes committed have no gap)."""
        last = self._core(LAST_SEQ, {}).scalar()
        return 0 if last is None else last + 1

    def entries(self, start: int, end: int) -> list[Row]:
        """Events start <= seq < end in order: (seq, at, actor, action, message_ref, detail as stored text)."""
        return list(self._core(ENTRIES, {"b_start": start, "b_end": end}))

    def entries_at(self, seqs: list[int]) -> list[Row]:
        """The events at these leaf indexes, in order (the same columns as ``entries``)."""
        return list(self._core(ENTRIES_AT, {"b_seqs": seqs})) if seqs else []

    def entries_of(self, action: str, references: list[str]) -> dict[str, Row]:
        """The first event *action* of each reference, by reference (the columns of ``entries``)."""
        found: dict[str, Row] = {}
        for row in self._core(ENTRIES_OF, {"b_refs": references, "b_action": action}) if references else ():
            found.setdefault(row.message_ref, row)
        return found

    def stream(self, start: int = 0, end: int | None = None, *, batch: int = 5000) -> Iterator[Row]:
        """Every event from *start* (to *end*) in leaf order, read in batches (the whole log, bounded memory)."""
        while end is None or start < end:
            stop = start + batch if end is None else min(start + batch, end)
            rows = self.entries(start, stop)
            yield from rows
            if len(rows) < stop - start:
                return
            start = stop

    def entries_since(self, at: datetime) -> int | None:
        """The first leaf index of an event at or after *at*, or None."""
        return self.session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= at))

    def tiles(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self._core(TILES_AT, {"b_keys": wanted})
        return {(r.level, r.idx): bytes(r.hashes) for r in rows}

    def level_tiles(self, level: int) -> Iterator[tuple[int, bytes]]:
        """Every tile of a level in order (for verification)."""
        for row in self.session.execute(select(_t.idx, _t.hashes).where(_t.level == level).order_by(_t.idx)):
            yield row.idx, bytes(row.hashes)

    def put_tiles(self, tiles: dict[tuple[int, int], bytes]) -> None:
        if tiles:
            self.session.connection().execute(
                TILE_UPSERT[self.session.get_bind().dialect.name],
                [{"level": level, "idx": idx, "hashes": hashes} for (level, idx), hashes in sorted(tiles.items())])

    def head_and_size(self) -> tuple[Row | None, int]:
        """The latest checkpoint's (size, root, note), or None, and how many events the log holds, as one
        statement saw them (the issuers' hot path)."""
        head = self._core(HEAD_AND_LAST, {}).first()
        if head is None:
            return None, self.size()
        return head, 0 if head.last is None else head.last + 1

    def checkpoint_at_least(self, size: int) -> Row | None:
        """The (size, root) of the smallest stored checkpoint of *size* events or more, or None."""
        return self._core(CHECKPOINT_AT_LEAST, {"b_size": size}).first()

    def latest_checkpoint(self) -> LogCheckpoint | None:
        return self.session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))

    def checkpoint(self, size: int) -> LogCheckpoint | None:
        return self.session.scalar(select(LogCheckpoint).where(LogCheckpoint.size == size))

    def checkpoint_notes(self, *, batch: int = 2000) -> Iterator[Row]:
        """Every stored checkpoint's (size, root, note), smallest first, read in batches."""
        last = -1
        while True:
            rows = list(self._core(CHECKPOINT_NOTES, {"b_last": last, "b_limit": batch}))
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].size

    def checkpoints(self) -> Sequence[LogCheckpoint]:
        return self.session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.size)).all()

    def add_checkpoint(self, *, size: int, root: bytes, note: str, issued_at: datetime, reason: str) -> None:
        self._core(CHECKPOINT_INSERT, dict(size=size, root=root.hex(), note=note, issued_at=issued_at, reason=reason))

    def add_cosignature(self, *, witness: str, size: int, key_name: str, timestamp: int, note: str,
                        received_at: datetime) -> None:
        self.session.add(LogCosignature(witness=witness, size=size, key_name=key_name, timestamp=timestamp,
                                        note=note, received_at=received_at))
        self.session.flush()

    def cosignatures(self, size: int | None = None) -> Sequence[LogCosignature]:
        query = select(LogCosignature).order_by(LogCosignature.size, LogCosignature.witness)
        if size is not None:
            query = query.where(LogCosignature.size == size)
        return self.session.scalars(query).all()

    def last_cosigned(self, witness: str) -> LogCosignature | None:
        """The largest checkpoint *witness* cosigned."""
        return self.session.scalar(select(LogCosignature).where(LogCosignature.witness == witness)
                                   .order_by(LogCosignature.size.desc()).limit(1))
