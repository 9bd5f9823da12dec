"""The duty officer's acts — acknowledge an alert, put a quarantined item back in its queue, retry a failed
delivery — and what they act on. One implementation for the dashboard and the CLI: each act is signed by the
member in their own GnuPG home (hub/acts/signed.py), recorded under their name with the statement, at the
injected clock's time, and touches only store rows (no keys, no content)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store import Database
from store.vocabulary import ALERT_PREFIX, Action, DeliveryState, ItemState, MessageState, Queue

from hub import audit
from hub.clock import Clock
from hub.errors import NotActionable
from hub.transport.protocol import StorePublisher

from .competence import recorded
from .signed import MemberHome

QUARANTINED, FAILED_DELIVERY = "quarantined", "failed delivery"  # what is stuck (Stuck.what)


@dataclass(frozen=True)
class Alert:
    event_id: int
    at: datetime
    action: str
    reference: str | None
    detail: dict


@dataclass(frozen=True)
class Stuck:
    """A quarantined queue item or a delivery that failed for good: (what, id, where, why)."""

    what: str  # QUARANTINED | FAILED_DELIVERY
    id: int
    where: str  # the queue, or what the delivery was and to whom ("receipt to spoc@police.example")
    why: str


def open_alerts(db: Database, *, limit: int = 200) -> list[Alert]:
    """Alerts not yet acknowledged, newest first."""
    with db.reader() as uow:
        return [Alert(*row) for row in uow.audit.open_alerts(limit=limit)]


def stuck(db: Database) -> list[Stuck]:
    """Quarantined items, then failed deliveries."""
    with db.reader() as uow:
        items = [Stuck(QUARANTINED, i.id, i.queue, (i.last_error or "")[:80]) for i in uow.queue.quarantined()]
        failed = [Stuck(FAILED_DELIVERY, m.id, f"{m.purpose} to {m.rcpt_to}", (m.last_error or "")[:80])
                  for m in uow.outbound.failed()]
    return items + failed


def acknowledge_alert(db: Database, clock: Clock, event_id: int, by: MemberHome) -> str:
    """Record that the member of *by* saw the alert; returns what it was about."""
    with recorded(db, clock), db.unit_of_work() as uow:
        event = uow.audit.get(event_id)
        if event is None or not event.action.startswith(ALERT_PREFIX):
            raise NotActionable(f"event {event_id} is not an alert")
        if uow.audit.acknowledged(event_id):
            raise NotActionable(f"alert {event_id} is already acknowledged")
        act = by.sign(uow, clock, "alert.acknowledge", ref=event.message_ref, alert=event_id, what=event.action)
        audit.record(uow, clock, Action.ALERT_ACKNOWLEDGED, actor=act.member.name, ref=event.message_ref,
                     alert=event_id, what=event.action, **act.evidence())
        uow.commit()
        return event.action


def requeue(db: Database, clock: Clock, item_id: int, by: MemberHome) -> str:
    """A quarantined item goes back to its queue (its handler is idempotent); returns the queue's name."""
    with recorded(db, clock), db.unit_of_work() as uow:
        item = uow.queue.get(item_id)
        if item is None or item.state != ItemState.QUARANTINED:
            raise NotActionable(f"item {item_id} is not quarantined")
        act = by.sign(uow, clock, "item.requeue", item=item_id, queue=item.queue)
        uow.queue.retry(item_id, available_at=clock.now(), error=None)
        if item.queue == Queue.INTAKE and item.payload.get("message_id"):
            uow.messages.update(int(item.payload["message_id"]), state=MessageState.ACCEPTED)
        audit.record(uow, clock, Action.REQUEUED, actor=act.member.name, item=item_id, queue=item.queue,
                     **act.evidence())
        uow.commit()
        return item.queue


def retry_delivery(db: Database, clock: Clock, outbound_id: int, by: MemberHome) -> str:
    """A delivery that failed for good is tried again from the start of its back-off schedule; returns its
    recipient."""
    publisher = StorePublisher(clock)
    with recorded(db, clock), db.unit_of_work() as uow:
        mail = uow.outbound.get(outbound_id)
        if mail is None or mail.state != DeliveryState.FAILED:
            raise NotActionable(f"delivery {outbound_id} has not failed")
        reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
        act = by.sign(uow, clock, "delivery.retry", ref=reference, delivery=outbound_id, to=mail.rcpt_to,
                      purpose=mail.purpose)
        now = clock.now()
        uow.outbound.update(outbound_id, state=DeliveryState.PENDING, next_attempt_at=now, created_at=now)
        publisher.publish(uow, Queue.OUTBOUND, {"outbound_id": outbound_id}, priority=mail.priority)
        audit.record(uow, clock, Action.DELIVERY_RETRIED, actor=act.member.name, ref=reference,
                     outbound=outbound_id, to=mail.rcpt_to, purpose=mail.purpose, **act.evidence())
        uow.commit()
        return mail.rcpt_to
