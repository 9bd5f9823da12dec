"""The dashboard's read-only query API: metadata only — never a body, a key or a secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from store import AuditEvent, Database, Deadline, Message, OutboundMail, Partner, QueueItem


@dataclass(frozen=True)
class Overview:
    queues: dict[str, dict[str, int]]  # queue -> state -> count
    by_urgency: dict[str, int]  # messages received per urgency
    pending_deliveries: int
    failed_deliveries: int
    alerts: list[tuple[datetime, str, str | None]]  # (when, action, reference)
    messages: int


@dataclass(frozen=True)
class OpenDeadline:
    reference: str
    partner: str
    owed_by: str
    urgency: str
    due_at: datetime


def overview(db: Database, *, alerts: int = 20) -> Overview:
    with db.reader() as uow:
        s = uow.session
        queues: dict[str, dict[str, int]] = {}
        for queue, state, count in s.execute(
                select(QueueItem.queue, QueueItem.state, func.count()).group_by(QueueItem.queue, QueueItem.state)):
            queues.setdefault(queue, {})[state] = count
        by_urgency = dict(s.execute(select(Message.urgency, func.count()).group_by(Message.urgency)).all())
        deliveries = dict(s.execute(select(OutboundMail.state, func.count()).group_by(OutboundMail.state)).all())
        recent = s.execute(select(AuditEvent.at, AuditEvent.action, AuditEvent.message_ref)
                           .where(AuditEvent.action.like("alert.%")).order_by(AuditEvent.id.desc()).limit(alerts))
        total = s.scalar(select(func.count(Message.id))) or 0
        return Overview(queues, by_urgency, deliveries.get("pending", 0), deliveries.get("failed", 0),
                        [tuple(r) for r in recent], total)


def open_deadlines(db: Database, *, limit: int = 200) -> list[OpenDeadline]:
    """Open clocks, the most pressing first (overdue at the top); uses the (state, next_action_at) index side."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(Message.reference, Partner.name, Deadline.owed_by, Deadline.urgency, Deadline.due_at)
            .join(Message, Message.id == Deadline.message_id).join(Partner, Partner.id == Deadline.partner_id)
            .where(Deadline.state == "open").order_by(Deadline.due_at).limit(limit))
        return [OpenDeadline(*row) for row in rows]
