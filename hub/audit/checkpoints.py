"""Checkpoints of the audit log: the tree's size and root signed by the hub's key as a C2SP signed note, with
the tiles the new events fill, in one transaction; issued at least once a second while events are appended
(the leader of `checkpointer`), on demand, and when a receipt needs one.

The log's origin, and the name of its note key, is ``DOMAIN/passerelle/audit``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable

from crypto import Gpg
from crypto.tlog import EMPTY_ROOT, Checkpoint, Note, Signer, Verifier, keys
from store import Database, StoreUnavailable, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import LogCorrupt, NoLogKey
from hub.settings import Settings

from .entries import leaf_of_row
from .tree import Growth, NodeCache, RightEdge

log = logging.getLogger(__name__)

ORIGIN_PATH = "passerelle/audit"
BATCH = 10_000  # events hashed per read when a checkpoint has many to take in (the first after an upgrade)


def origin_of(settings: Settings) -> str:
    return f"{settings.hub.domain}/{ORIGIN_PATH}"


def verifiers_of(settings: Settings, gpg: Gpg, *, earlier: bool = True) -> list[Verifier]:
    """The note keys that check this hub's checkpoints (its Ed25519 signing keys, crypto/tlog/keys.py): the
    current key's and, *earlier*, its earlier keys' (`hub-key rotate`: what they signed stays verifiable)."""
    fingerprints = settings.hub.key_fingerprints if earlier else [settings.hub.key_fingerprint]
    return [v for fingerprint in fingerprints for v in keys.note_verifiers(gpg, fingerprint, origin_of(settings))]


def _signer_of(settings: Settings, gpg: Gpg) -> Signer | None:
    signer = keys.note_signer(gpg, settings.hub.key_fingerprint, origin_of(settings))
    if signer is None:
        log.warning("audit log: the hub's key %s is not an unprotected Ed25519 key in its GnuPG home: no "
                    "checkpoint can be signed, receipts go without their proof", settings.hub.key_fingerprint)
    return signer


@dataclass(frozen=True)
class Issued:
    """A signed checkpoint: the tree of *size* events has *root*."""

    size: int
    root: bytes
    note: Note

    @classmethod
    def of_row(cls, row) -> "Issued":
        return cls(row.size, bytes.fromhex(row.root), Note.parse(row.note))


@dataclass(frozen=True)
class Pending:
    """A checkpoint signed and not yet stored: the tiles its new events fill, the right edge it leaves."""

    issued: Issued
    base: int  # the size of the stored tree it grew from
    tiles: dict[tuple[int, int], bytes]
    kept: RightEdge
    reason: str

    @property
    def size(self) -> int:
        return self.issued.size


class Checkpointer:
    """Issues this hub's checkpoints; one per process, its issuers (the periodic one, receipts, a command)
    one at a time, and across processes one at a time (the store's lock)."""

    def __init__(self, db: Database, clock: Clock, origin: str, signer: Signer | None) -> None:
        self.db = db
        self.clock = clock
        self.origin = origin
        self.signer = signer
        self.latest: Issued | None = None
        self._lock = threading.Lock()
        self._alerted: str | None = None
        self._kept: RightEdge | None = None  # the right edge of the tree this process last signed
        self._pending: Pending | None = None  # signed for receipts, their transaction not yet committed
        self.cache = NodeCache()  # for the receipts' proofs

    @classmethod
    def of_hub(cls, settings: Settings, db: Database, gpg: Gpg, clock: Clock) -> "Checkpointer":
        return cls(db, clock, origin_of(settings), _signer_of(settings, gpg))

    def follow_key(self, settings: Settings, gpg: Gpg) -> None:
        """Sign from now on with the hub's key *settings* name (SIGHUP after `hub-key rotate`): a receipt's
        checkpoint is signed by the key that signs the receipt."""
        signer = _signer_of(settings, gpg)
        with self._lock:
            self.signer = signer

    def covering(self, index: int, *, reason: str = "receipt") -> Issued | Pending:
        """A checkpoint whose tree holds the event at *index*: the latest one, or one signed now rather than the
        next second's, to be stored by the caller's transaction with what it proves (``persist``, then
        ``committed``): a receipt's checkpoint costs no commit of its own. Receipts asking meanwhile share it."""
        if self.signer is None:
            raise NoLogKey("the hub's key cannot sign the log's checkpoints (an unprotected Ed25519 key is needed)")
        with self._lock:
            for known in (self.latest, self._pending):
                if known is not None and known.size > index:
                    return known
            prepared = self._prepare(reason, index)
            if isinstance(prepared, Pending):
                self._pending = prepared
            else:
                self.latest = prepared
            return prepared

    def issue(self, reason: str) -> Issued:
        """Sign the tree of every event committed now and store it (the latest checkpoint when none came since)."""
        if self.signer is None:
            raise NoLogKey("the hub's key cannot sign the log's checkpoints (an unprotected Ed25519 key is needed)")
        with self._lock:
            prepared = self._prepare(reason, None)
            if isinstance(prepared, Issued):
                self.latest = prepared
                return prepared
            with self.db.unit_of_work() as uow:
                self.persist(uow, prepared)
                uow.commit()
            self._committed(prepared)
            return prepared.issued

    def persist(self, uow: UnitOfWork, pending: Pending) -> None:
        """Store *pending* in *uow*'s transaction: its tiles unless a larger tree's are stored already (they hold
        these), its row unless one of its size is (the same root, or it is a fork: LogCorrupt)."""
        uow.log.lock_for_checkpoint()
        stored = uow.log.checkpoint_at_least(pending.size)
        if stored is not None and stored.size == pending.size:
            if bytes.fromhex(stored.root) != pending.issued.root:
                raise LogCorrupt(f"two checkpoints of {pending.size} events with different roots", index=pending.base)
            return
        if stored is None:
            uow.log.put_tiles(pending.tiles)
        uow.log.add_checkpoint(size=pending.size, root=pending.issued.root, note=pending.issued.note.render(),
                               issued_at=self.clock.now(), reason=pending.reason)

    def committed(self, pending: Pending) -> None:
        """*pending* is stored: it may now be the latest, and its right edge the one kept."""
        with self._lock:
            self._committed(pending)

    def _committed(self, pending: Pending) -> None:
        if self.latest is None or pending.size > self.latest.size:
            self.latest, self._kept = pending.issued, pending.kept
        if self._pending is pending:
            self._pending = None
        log.debug("audit log: checkpoint %d (%s)", pending.size, pending.reason)

    def _prepare(self, reason: str, covering: int | None) -> Issued | Pending:
        """The stored latest checkpoint when nothing came since (or it holds *covering*), else the tree of every
        event committed now, signed, with the tiles its new events fill — nothing written."""
        with self.db.reader() as uow:
            head, size = uow.log.head_and_size()
            start = head.size if head else 0
            if head is not None and (size == start or (covering is not None and start > covering)):
                latest = self.latest
                return latest if latest is not None and latest.size == start else Issued.of_row(head)
            if size < start:
                raise LogCorrupt(f"the log holds {size} events, its checkpoint of {start} more", index=size)
            leaves = []
            for event in uow.log.stream(start, size, batch=BATCH):
                if event.seq != start + len(leaves):
                    raise LogCorrupt(f"event {start + len(leaves)} is missing from the log", index=start + len(leaves))
                leaves.append(leaf_of_row(event))
            if len(leaves) != size - start:
                raise LogCorrupt(f"event {start + len(leaves)} is missing from the log", index=start + len(leaves))
            growth = Growth(uow.log, start, bytes.fromhex(head.root) if head else EMPTY_ROOT, known=self._kept)
            growth.add(leaves)
        note = self.signer.sign(Checkpoint(self.origin, growth.size, growth.root()).text())
        return Pending(Issued(growth.size, growth.root(), note), start, growth.written(), growth.kept(), reason)

    # -- the periodic issuer (run by the leader of `checkpointer`) ---------------------------------

    def tick(self) -> Issued | None:
        """Issue a checkpoint if events came since the last one; a broken tree raises one alert, once."""
        if self.signer is None:
            return None
        try:
            return self.issue("periodic")
        except LogCorrupt as exc:
            self.alert(str(exc), exc.index)
        except StoreUnavailable as exc:
            log.warning("audit log: no checkpoint now, the store is unavailable (%s)", exc)
        return None

    def alert(self, why: str, index: int | None) -> None:
        """``alert.log_inconsistent`` for the duty officer, once per reason in this process."""
        if self._alerted == why:
            return
        log.error("audit log: %s", why)
        with self.db.unit_of_work() as uow:
            audit.record(uow, self.clock, Action.LOG_INCONSISTENT, why=why, first_index=index)
            uow.commit()
        self._alerted = why

    async def run(self, stop: asyncio.Event, executor: Executor, *, every_seconds: float,
                  then: Callable[[Issued | None], object] | None = None) -> None:
        """Until *stop*: a checkpoint every *every_seconds* while the log grows; *then* is handed the latest
        (the witnesses' sender)."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                issued = await loop.run_in_executor(executor, self.tick)
                if then is not None:
                    await loop.run_in_executor(executor, then, issued)
            except Exception:  # the checkpointer's boundary: log, try again at the next tick
                log.exception("audit log: checkpoint or witness request failed; trying again")
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)
            except asyncio.TimeoutError:
                pass
