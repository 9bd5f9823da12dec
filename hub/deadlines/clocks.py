"""Starting and stopping the legal clocks: who starts a partner's clock (AR Art. 11 §2), and closing one by the
one on-time rule."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from store import Message, UnitOfWork
from store.vocabulary import Action, DeadlineState

from hub import audit
from hub.clock import Clock
from . import windows
from .schedule import steps
from .windows import Due

if TYPE_CHECKING:
    from hub.settings import DeadlinesSection

# What acknowledges OCAM's request on the partner's side (AR Art. 11 §2: "une confirmation automatique ou un
# accusé de réception"): its signed MDN, or a delivery status notification of success from the destination
# (RFC 3464, quoting the request copy's ENVID); the relay's 250 only for a partner whose own server it is.
STARTED_BY = {"mdn": "the partner's signed MDN", "dsn": "a success DSN from the destination",
              "relay": "the relay, the partner's own server", "receipt": "the hub's receipt"}


def start(uow: UnitOfWork, deadlines: "DeadlinesSection", *, message_id: int, partner_id: int, owed_by: str,
          urgency: str, started_at: datetime, started_by: str, due: Due) -> None:
    """Open a clock (one per request): its due time, what set it, and its first scheduled step."""
    first = steps(started_at, due.at, deadlines.reminder_fractions, deadlines.overdue_reminder_every, 0)
    uow.deadlines.add(
        message_id=message_id, partner_id=partner_id, owed_by=owed_by, urgency=urgency, started_at=started_at,
        started_by=started_by, due_at=due.at, state=DeadlineState.OPEN, reminders_sent=0, next_action_at=first.at,
        basis=(due.basis + (f"; deviation: {due.deviation}" if due.deviation else ""))[:200],
    )


def named_due(message: Message) -> datetime | None:
    """The due time OCAM named when it sent the request (send request --due), if any."""
    value = ((message.fields or {}).get("reply-by") or {}).get("value")
    return datetime.fromisoformat(value) if value else None


def acknowledged(uow: UnitOfWork, *, deadlines: "DeadlinesSection", clock: Clock, message: Message, at: datetime,
                 source: str) -> bool:
    """The partner's side acknowledged OCAM's request (*source*: mdn, dsn, or relay for a partner whose own
    server the relay is): the first acknowledgement starts the partner's clock. False when it ran already."""
    audit.record(uow, clock, Action.REQUEST_ACKNOWLEDGED, ref=message.reference, source=source, at=at.isoformat())
    if uow.deadlines.for_message(message.id) is not None:
        return False
    immediate = "immediate" in (message.fields or {})
    due = windows.outbound(urgency=message.urgency, named=named_due(message), started_at=at, deadlines=deadlines,
                           immediate=immediate)
    start(uow, deadlines, message_id=message.id, partner_id=message.partner_id, owed_by="partner",
          urgency=message.urgency, started_at=at, started_by=source, due=due)
    uow.messages.update(message.id, due_at=due.at)  # the message's row lock: the relay's 250 records after it
    uow.outbound.acknowledged(message.id)
    audit.record(uow, clock, Action.DEADLINE_STARTED, ref=message.reference, by=source, due_at=due.at.isoformat(),
                 basis=due.basis, deviation=due.deviation)
    return True


def relay_accepted(uow: UnitOfWork, *, deadlines: "DeadlinesSection", clock: Clock, message: Message, mail_id: int,
                   at: datetime) -> None:
    """The relay took a request's copy. That is the partner's acknowledgement only when the relay is the
    partner's own server (partner set --relay-is-own-server); otherwise the copy waits for the partner's MDN
    or a success DSN, and the duty officer is alerted if neither comes in deadlines.acknowledgement_alert_after.
    The caller updated the message's row in this transaction first: on PostgreSQL its lock orders this check
    against a concurrent acknowledgement (``acknowledged`` updates that row before it ends the wait)."""
    partner = message.partner
    if partner is not None and partner.relay_is_own_server:
        acknowledged(uow, deadlines=deadlines, clock=clock, message=message, at=at, source="relay")
    elif uow.deadlines.for_message(message.id) is None:
        uow.outbound.update(mail_id, acknowledge_by=at + deadlines.acknowledgement_alert_after)


def unacknowledged(uow: UnitOfWork, clock: Clock, now: datetime) -> int:
    """Requests whose copy nobody on the partner's side acknowledged in time: their clock has not started. One
    alert each for the duty officer (the request is shown "not acknowledged"); returns how many."""
    late = uow.outbound.unacknowledged(now)
    for mail in late:
        uow.outbound.update(mail.id, acknowledge_by=None)
        reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
        audit.record(uow, clock, Action.ALERT_REQUEST_UNACKNOWLEDGED, ref=reference, to=mail.rcpt_to,
                     sent_at=mail.sent_at.isoformat() if mail.sent_at else None,
                     dsn="requested" if mail.envelope_id else "not requested",
                     why="no MDN and no success DSN: the partner's clock has not started (AR Art. 11 §2)")
    return len(late)


def close(uow: UnitOfWork, *, deadline_id: int, due_at: datetime, answered_at: datetime,
          answer_message_id: int) -> bool | None:
    """Stop an open clock by the one on-time rule; returns whether it was on time, or None when it was no
    longer open (answered meanwhile)."""
    on_time = windows.on_time(answered_at, due_at)
    if not uow.deadlines.answer(deadline_id, answered_at=answered_at, answer_message_id=answer_message_id,
                                on_time=on_time):
        return None
    return on_time
