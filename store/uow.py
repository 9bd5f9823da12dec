"""The unit of work: one transaction, the repositories over it, one commit."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .acts import ActRepository
from .embargo.repository import EmbargoRepository, HolderRepository, MemberRepository
from .errors import Conflict, StoreUnavailable
from .queue_repository import QueueRepository
from .retention import RetentionRepository
from .transparency.repository import LogRepository
from .repositories import (
    AuditRepository,
    BlobRepository,
    CounterRepository,
    DeadlineRepository,
    DistributionRepository,
    HeartbeatRepository,
    MessageRepository,
    OutboundRepository,
    PartnerRepository,
    RecipientRepository,
)

if TYPE_CHECKING:
    from .database import WriteLock


class UnitOfWork:
    """``with db.unit_of_work() as uow: ...; uow.commit()`` — rolled back unless committed."""

    session: Session

    def __init__(self, sessions: sessionmaker[Session], lock: WriteLock | None = None, *,
                 readonly: bool = False) -> None:
        self._sessions = sessions
        self._lock = lock
        self.readonly = readonly

    def __enter__(self) -> "UnitOfWork":
        if self._lock is not None:
            self._lock.acquire()
        self.session = self._sessions()
        s = self.session
        self.partners = PartnerRepository(s)
        self.messages = MessageRepository(s)
        self.blobs = BlobRepository(s)
        self.queue = QueueRepository(s)
        self.outbound = OutboundRepository(s)
        self.audit = AuditRepository(s)
        self.counters = CounterRepository(s)
        self.deadlines = DeadlineRepository(s)
        self.recipients = RecipientRepository(s)
        self.distributions = DistributionRepository(s)
        self.members = MemberRepository(s)
        self.holders = HolderRepository(s)
        self.embargo = EmbargoRepository(s)
        self.heartbeats = HeartbeatRepository(s)
        self.retention = RetentionRepository(s)
        self.log = LogRepository(s)
        self.acts = ActRepository(s)
        return self

    def __exit__(self, exc_type, exc: BaseException | None, tb: TracebackType | None) -> None:
        # close() rolls back whatever was not committed, and leaves loaded objects readable.
        try:
            self.session.close()
        finally:
            if self._lock is not None:
                self._lock.release()
        if _unavailable(exc):
            raise StoreUnavailable(_reason(exc)) from exc
        if isinstance(exc, IntegrityError):
            raise Conflict("row", _reason(exc)) from exc

    def _write_pending(self) -> None:
        """What the repositories hold back, written: the audit events last, so that the log's append lock
        is taken as late as it can be (held from here to the commit)."""
        self.queue.write_pending()
        self.deadlines.write_pending()
        self.session.flush()
        self.audit.write_pending()

    def flush(self) -> None:
        try:
            self._write_pending()
        except IntegrityError as exc:
            raise Conflict("row", _reason(exc)) from exc

    def commit(self) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot commit")
        try:
            self._write_pending()
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise Conflict("row", _reason(exc)) from exc
        except DBAPIError as exc:
            if not _unavailable(exc):
                raise
            self.session.rollback()
            raise StoreUnavailable(_reason(exc)) from exc


def _unavailable(exc: BaseException | None) -> bool:
    """The database cannot serve now: locked too long, a deadlock victim, the connection lost or refused."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _reason(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
