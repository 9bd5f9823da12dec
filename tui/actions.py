"""The duty officer's actions, each one audited: acknowledge an alert, put a quarantined item back, retry a
failed delivery. They touch only store rows (no keys, no content)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from store import AuditEvent, Database, OutboundMail

from .queries import is_alert


def _now() -> datetime:
    return datetime.now(timezone.utc)


def acknowledge_alert(db: Database, event_id: int, operator: str) -> None:
    with db.unit_of_work() as uow:
        event = uow.session.get(AuditEvent, event_id)
        if event is None or not event.action.startswith("alert."):
            raise ValueError(f"event {event_id} is not an alert")
        uow.audit.append(at=_now(), actor=operator, action="operator.alert_acknowledged", message_ref=event.message_ref,
                         detail={"alert": event_id, "what": event.action})
        uow.commit()


def requeue(db: Database, item_id: int, operator: str) -> None:
    """A quarantined item goes back to its queue (its handler is idempotent)."""
    with db.unit_of_work() as uow:
        item = uow.queue.get(item_id)
        if item is None or item.state != "quarantined":
            raise ValueError(f"item {item_id} is not quarantined")
        uow.queue.retry(item_id, available_at=_now(), error=None)
        if item.queue == "intake" and item.payload.get("message_id"):
            uow.messages.update(int(item.payload["message_id"]), state="accepted")
        uow.audit.append(at=_now(), actor=operator, action="operator.requeued", detail={"item": item_id,
                                                                                       "queue": item.queue})
        uow.commit()


def retry_delivery(db: Database, outbound_id: int, operator: str) -> None:
    """A delivery that failed for good is tried again, from the start of its back-off schedule."""
    with db.unit_of_work() as uow:
        mail = uow.outbound.get(outbound_id)
        if mail is None or mail.state != "failed":
            raise ValueError(f"delivery {outbound_id} has not failed")
        now = _now()
        uow.outbound.update(outbound_id, state="pending", next_attempt_at=now, created_at=now)
        uow.queue.put("outbound", {"version": 1, "outbound_id": outbound_id}, priority=mail.priority, now=now)
        reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
        uow.audit.append(at=now, actor=operator, action="operator.delivery_retried", message_ref=reference,
                         detail={"outbound": outbound_id, "to": mail.rcpt_to, "purpose": mail.purpose})
        uow.commit()


def open_alerts(db: Database, *, limit: int = 200) -> list[tuple[int, datetime, str, str | None, dict]]:
    """Alerts not yet acknowledged, newest first: (event id, when, action, reference, detail)."""
    with db.reader() as uow:
        s = uow.session
        acked = {e.detail.get("alert") for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == "operator.alert_acknowledged"))}
        rows = s.execute(select(AuditEvent.id, AuditEvent.at, AuditEvent.action, AuditEvent.message_ref,
                                AuditEvent.detail).where(is_alert())
                         .order_by(AuditEvent.id.desc()).limit(limit))
        return [tuple(r) for r in rows if r[0] not in acked]


def stuck(db: Database) -> list[tuple[str, int, str, str]]:
    """Quarantined items and failed deliveries: (what, id, where, why)."""
    with db.reader() as uow:
        items = [("quarantined", i.id, i.queue, (i.last_error or "")[:80]) for i in uow.queue.quarantined()]
        failed = [("failed delivery", m.id, m.rcpt_to, (m.last_error or "")[:80]) for m in uow.session.scalars(
            select(OutboundMail).where(OutboundMail.state == "failed").order_by(OutboundMail.id))]
        return items + failed
