"""The duty officer's acts — acknowledge an alert, put a quarantined item back in its queue, retry a failed
delivery — and what they act on. One implementation for the dashboard and the CLI: each act is recorded under
the actor's name, at the injected clock's time, and touches only store rows (no keys, no content)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from store import Database
from store.vocabulary import ALERT_PREFIX, Action, Queue

from hub import audit
from hub.clock import Clock
from hub.errors import NotActionable
from hub.transport.protocol import StorePublisher


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

    what: str  # "quarantined" | "failed delivery"
    id: int
    where: str  # the queue, or what the delivery was and to whom ("receipt to spoc@police.example")
    why: str


def local_actor(role: str = "duty-officer") -> str:
    """The name an act is recorded under when no member signs it: the role and the login (the duty officer's)."""
    return f"{role}:{os.environ.get('USER', 'unknown')}"


def open_alerts(db: Database, *, limit: int = 200) -> list[Alert]:
    """Alerts not yet acknowledged, newest first."""
    with db.reader() as uow:
        return [Alert(*row) for row in uow.audit.open_alerts(limit=limit)]


def stuck(db: Database) -> list[Stuck]:
    """Quarantined items, then failed deliveries."""
    with db.reader() as uow:
        items = [Stuck("quarantined", i.id, i.queue, (i.last_error or "")[:80]) for i in uow.queue.quarantined()]
        failed = [Stuck("failed delivery", m.id, f"{m.purpose} to {m.rcpt_to}", (m.last_error or "")[:80])
                  for m in uow.outbound.failed()]
    return items + failed


def acknowledge_alert(db: Database, clock: Clock, event_id: int, actor: str) -> str:
    """Record that *actor* saw the alert; returns what it was about."""
    with db.unit_of_work() as uow:
        event = uow.audit.get(event_id)
        if event is None or not event.action.startswith(ALERT_PREFIX):
            raise NotActionable(f"event {event_id} is not an alert")
        if uow.audit.acknowledged(event_id):
            raise NotActionable(f"alert {event_id} is already acknowledged")
        audit.record(uow, clock, Action.ALERT_ACKNOWLEDGED, actor=actor, ref=event.message_ref,
                     alert=event_id, what=event.action)
        uow.commit()
        return event.action


def requeue(db: Database, clock: Clock, item_id: int, actor: str) -> str:
    """A quarantined item goes back to its queue (its handler is idempotent); returns the queue's name."""
    with db.unit_of_work() as uow:
        item = uow.queue.get(item_id)
        if item is None or item.state != "quarantined":
            raise NotActionable(f"item {item_id} is not quarantined")
        uow.queue.retry(item_id, available_at=clock.now(), error=None)
        if item.queue == Queue.INTAKE and item.payload.get("message_id"):
            uow.messages.update(int(item.payload["message_id"]), state="accepted")
        audit.record(uow, clock, Action.REQUEUED, actor=actor, item=item_id, queue=item.queue)
        uow.commit()
        return item.queue


def retry_delivery(db: Database, clock: Clock, outbound_id: int, actor: str) -> str:
    """A delivery that failed for good is tried again from the start of its back-off schedule; returns its
    recipient."""
    publisher = StorePublisher(clock)
    with db.unit_of_work() as uow:
        mail = uow.outbound.get(outbound_id)
        if mail is None or mail.state != "failed":
            raise NotActionable(f"delivery {outbound_id} has not failed")
        now = clock.now()
        uow.outbound.update(outbound_id, state="pending", next_attempt_at=now, created_at=now)
        publisher.publish(uow, Queue.OUTBOUND, {"outbound_id": outbound_id}, priority=mail.priority)
        reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
        audit.record(uow, clock, Action.DELIVERY_RETRIED, actor=actor, ref=reference, outbound=outbound_id,
                     to=mail.rcpt_to, purpose=mail.purpose)
        uow.commit()
        return mail.rcpt_to
