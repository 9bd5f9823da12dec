"""Members' signed acts the hub executed (their statements' digests: a statement counts once), and the audit log read
by its filters for `audit list`."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime
from .models import AuditEvent, BigId
from .repositories import _Repository


class ExecutedAct(Base):
    """One signed act of a member the hub executed: the SHA-256 of its statement (unique: the same statement is
    never executed twice), what it was, by whom, when. The statement and its signature are in the act's audit
    event."""

    __tablename__ = "executed_act"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    act: Mapped[str] = mapped_column(String(48))
    member: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ActRepository(_Repository):
    def executed(self, digest: str) -> ExecutedAct | None:
        return self.session.scalar(select(ExecutedAct).where(ExecutedAct.digest == digest))

    def add(self, *, digest: str, act: str, member: str, at: datetime) -> None:
        """Record an executed act (a concurrent twin fails the transaction on the unique digest: Conflict)."""
        self.session.add(ExecutedAct(digest=digest, act=act, member=member, at=at))

    def log(self, *, reference: str | None = None, actor: str | None = None, action: str | None = None,
            since: datetime | None = None, limit: int = 1000) -> Sequence[AuditEvent]:
        """The most recent *limit* audit events that pass every filter given, oldest first (read only)."""
        query = select(AuditEvent)
        if reference is not None:
            query = query.where(AuditEvent.message_ref == reference)
        if actor is not None:
            query = query.where(AuditEvent.actor == actor)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        newest = self.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)).all()
        return list(reversed(newest))
