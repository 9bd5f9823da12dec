"""The dashboard's read-only query API: metadata only — never a body, a key or a secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, func, select

from store import AuditEvent, Database, Deadline, Message, OutboundMail, Partner, is_alert
from store.vocabulary import Action, DeadlineState, DeliveryState


@dataclass(frozen=True)
class Overview:
    queues: dict[str, dict[str, int]]  # queue -> state -> count
    by_urgency: dict[str, int]  # messages received per urgency
    pending_deliveries: int
    failed_deliveries: int
    alerts: list[tuple[datetime, str, str | None]]  # (when, action, reference)
    messages: int
    refused: int  # refusals given at SMTP time


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
        for (queue, state), count in uow.queue.depths().items():
            queues.setdefault(queue, {})[state] = count
        by_urgency = dict(s.execute(select(Message.urgency, func.count()).group_by(Message.urgency)).all())
        deliveries = dict(s.execute(select(OutboundMail.state, func.count()).group_by(OutboundMail.state)).all())
        recent = s.execute(select(AuditEvent.at, AuditEvent.action, AuditEvent.message_ref)
                           .where(is_alert()).order_by(AuditEvent.id.desc()).limit(alerts))
        total = s.scalar(select(func.count(Message.id))) or 0
        refused = s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == Action.INTAKE_REFUSED)) or 0
        return Overview(queues, by_urgency, deliveries.get(DeliveryState.PENDING, 0),
                        deliveries.get(DeliveryState.FAILED, 0), [tuple(r) for r in recent], total, refused)


def open_deadlines(db: Database, *, limit: int = 200) -> list[OpenDeadline]:
    """Open clocks, the most pressing first (overdue at the top); uses the (state, next_action_at) index side."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(Message.reference, Partner.name, Deadline.owed_by, Deadline.urgency, Deadline.due_at)
            .join(Message, Message.id == Deadline.message_id).join(Partner, Partner.id == Deadline.partner_id)
            .where(Deadline.state == DeadlineState.OPEN).order_by(Deadline.due_at).limit(limit))
        return [OpenDeadline(*row) for row in rows]


@dataclass(frozen=True)
class Traffic:
    reference: str
    direction: str
    partner: str | None
    kind: str
    urgency: str
    urgency_source: str
    embargo: str | None
    state: str
    receipt: str
    received_at: datetime


@dataclass(frozen=True)
class PartnerHealth:
    name: str
    kind: str
    email: str
    fingerprint: str
    key_expires_at: datetime | None
    key_revoked: bool
    last_message_at: datetime | None
    answered: int
    on_time: int


def traffic(db: Database, *, limit: int = 200) -> list[Traffic]:
    """Recent messages, newest first: metadata only."""
    with db.reader() as uow:
        rows = uow.session.execute(
            select(Message.reference, Message.direction, Partner.name, Message.kind, Message.urgency,
                   Message.urgency_source, Message.embargo, Message.state, Message.receipt_status, Message.received_at)
            .outerjoin(Partner, Partner.id == Message.partner_id).order_by(Message.id.desc()).limit(limit))
        return [Traffic(*row) for row in rows]


def partners(db: Database) -> list[PartnerHealth]:
    """Contact points, their keys, their last message (either way) and their on-time rate; then OCAM's members and
    the recipients with their keys."""
    with db.reader() as uow:
        s = uow.session
        # One index seek per partner on (partner_id, received_at), not a scan of every message.
        last = {p.id: s.scalar(select(func.max(Message.received_at)).where(Message.partner_id == p.id))
                for p in uow.partners.all()}
        answered = {pid: (n, ok or 0) for pid, n, ok in s.execute(
            select(Deadline.partner_id, func.count(), func.sum(func.cast(Deadline.on_time, Integer)))
            .where(Deadline.state == DeadlineState.ANSWERED, Deadline.owed_by == "partner")
            .group_by(Deadline.partner_id))}
        rows = [PartnerHealth(p.name, p.kind, p.email, p.fingerprint, p.key_expires_at, p.key_revoked,
                              last.get(p.id), *answered.get(p.id, (0, 0)))
                for p in uow.partners.all()]
        # Every other key the hub relies on, with its expiry (issue 18): OCAM's members, the recipients.
        rows += [PartnerHealth(m.name, f"member {m.role}", m.email, m.fingerprint, m.key_expires_at, False, None, 0, 0)
                 for m in uow.members.all()]
        rows += [PartnerHealth(r.name, f"recipient {r.type}", r.email, r.fingerprint, r.key_expires_at, False, None,
                               0, 0) for r in uow.recipients.all()]
        return rows


def detail(db: Database, reference: str) -> str:
    """One message's receipt fields, deliveries and audit trail, as lines of text (metadata only)."""
    from .timefmt import brussels

    with db.reader() as uow:
        m = uow.messages.by_reference(reference)
        if m is None:
            return f"{reference}: not found"
        lines = [f"{m.reference}  {m.direction}  {m.kind}  {m.urgency} ({m.urgency_source})  "
                 f"embargo {m.embargo or '-'}  received {brussels(m.received_at)}  "
                 f"due {brussels(m.due_at) if m.due_at else '-'}  sha256 {m.body_digest[:16]}…"]
        for o in uow.outbound.for_message(m.id):
            lines.append(f"  {o.purpose:<12} → {o.rcpt_to:<28} {o.state:<8} attempts {o.attempts}"
                         + (f"  {o.last_error[:40]}" if o.last_error else ""))
        for e in uow.audit.for_message(reference):
            lines.append(f"  {brussels(e.at)}  {e.action:<24} {e.actor}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Beat:
    component: str
    state: str  # ok | degraded | down | standby, as the hub wrote it
    detail: str
    beat_at: datetime
    every_seconds: float
    process: str = ""  # ROLE@HOST:PID of the serving process that wrote it


def heartbeats(db: Database) -> list[Beat]:
    """The last heartbeat of each component (gateway, store, gpg, relay, scheduler) of each serving process."""
    with db.reader() as uow:
        return [Beat(b.component, b.state, b.detail, b.beat_at, b.every_seconds, b.process)
                for b in uow.heartbeats.all()]
