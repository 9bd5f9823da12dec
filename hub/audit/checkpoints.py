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
from store import Database, StoreUnavailable
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


def verifiers_of(settings: Settings, gpg: Gpg) -> list[Verifier]:
    """The note keys that check this hub's checkpoints (its Ed25519 signing keys, crypto/tlog/keys.py)."""
    return keys.note_verifiers(gpg, settings.hub.key_fingerprint, origin_of(settings))


@dataclass(frozen=True)
class Issued:
    """A signed checkpoint: the tree of *size* events has *root*."""

    size: int
    root: bytes
    note: Note

    @classmethod
    def of_row(cls, row) -> "Issued":
        return cls(row.size, bytes.fromhex(row.root), Note.parse(row.note))


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
        self.cache = NodeCache()  # for the receipts' proofs

    @classmethod
    def of_hub(cls, settings: Settings, db: Database, gpg: Gpg, clock: Clock) -> "Checkpointer":
        signer = keys.note_signer(gpg, settings.hub.key_fingerprint, origin_of(settings))
        if signer is None:
            log.warning("audit log: the hub's key %s is not an unprotected Ed25519 key in its GnuPG home: no "
                        "checkpoint can be signed, receipts go without their proof", settings.hub.key_fingerprint)
        return cls(db, clock, origin_of(settings), signer)

    def covering(self, index: int, *, reason: str = "receipt") -> Issued:
        """A checkpoint whose tree holds the event at *index*: the latest one, or a new one at once rather than
        the next second's (receipts asking meanwhile wait for it, and share it when it holds theirs)."""
        latest = self.latest
        if latest is not None and latest.size > index:
            return latest
        return self.issue(reason, covering=index)

    def issue(self, reason: str, *, covering: int | None = None) -> Issued:
        """Sign the tree of every event committed now (the latest checkpoint when none came since); with
        *covering*, the one another issuer of this process signed while this one waited will do if it holds
        that index."""
        if self.signer is None:
            raise NoLogKey("the hub's key cannot sign the log's checkpoints (an unprotected Ed25519 key is needed)")
        with self._lock:
            if covering is not None and self.latest is not None and self.latest.size > covering:
                return self.latest
            for _ in range(5):  # another process may issue meanwhile: start again from its checkpoint
                issued = self._issue_once(reason, covering)
                if issued is not None:
                    self.latest = issued
                    return issued
        raise LogCorrupt("checkpoints issued elsewhere kept overtaking this one")

    def _issue_once(self, reason: str, covering: int | None) -> Issued | None:
        with self.db.reader() as uow:
            head = uow.log.latest_head()
            start, size = (head.size if head else 0), uow.log.size()
            if head is not None and (size == start or (covering is not None and start > covering)):
                latest = self.latest
                return latest if latest is not None and latest.size == start else Issued.of_row(
                    uow.log.checkpoint(start))
            if size < start:
                raise LogCorrupt(f"the log holds {size} events, its checkpoint of {start} more", index=size)
            root = bytes.fromhex(head.root) if head else EMPTY_ROOT
            leaves = []
            for event in uow.log.stream(start, size, batch=BATCH):
                if event.seq != start + len(leaves):
                    raise LogCorrupt(f"event {start + len(leaves)} is missing from the log", index=start + len(leaves))
                leaves.append(leaf_of_row(event))
            if len(leaves) != size - start:
                raise LogCorrupt(f"event {start + len(leaves)} is missing from the log", index=start + len(leaves))
        with self.db.unit_of_work() as uow:
            uow.log.lock_for_checkpoint()
            again = uow.log.latest_head()
            if (again.size if again else 0) != start:
                return None
            growth = Growth(uow.log, start, root, known=self._kept)
            growth.add(leaves)
            note = self.signer.sign(Checkpoint(self.origin, growth.size, growth.root()).text())
            uow.log.put_tiles(growth.written())
            uow.log.add_checkpoint(size=growth.size, root=growth.root(), note=note.render(),
                                   issued_at=self.clock.now(), reason=reason)
            uow.commit()
        self._kept = growth.kept()
        log.debug("audit log: checkpoint %d (%s)", growth.size, reason)
        return Issued(growth.size, growth.root(), note)

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
