"""Prebuilt Core statements for the hot paths: built once, executed with parameters (no ORM flush)."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, update

from .base import UTCDateTime
from .models import AuditEvent, Counter, Deadline, Message, OutboundMail, QueueItem, SealedBlob

_q = QueueItem.__table__.c
_a = AuditEvent.__table__.c
_c = Counter.__table__.c

QUEUE_PUT = insert(QueueItem.__table__)
QUEUE_NEXT = (
    select(_q.id, _q.queue, _q.payload, _q.priority, _q.attempts, _q.created_at)
    .where(_q.queue == bindparam("b_queue"), _q.state == "ready",
           _q.available_at <= bindparam("b_now", type_=UTCDateTime()))
    .order_by(_q.priority.desc(), _q.available_at, _q.id)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
QUEUE_LEASE = (update(QueueItem.__table__).where(_q.id.in_(bindparam("b_ids", expanding=True)))
               .values(state="leased", lease_until=bindparam("b_lease_until", type_=UTCDateTime()),
                       attempts=_q.attempts + 1))
QUEUE_UPDATE = update(QueueItem.__table__).where(_q.id == bindparam("b_id"))
QUEUE_ACK = delete(QueueItem.__table__).where(_q.id == bindparam("b_id"))
QUEUE_DONE = delete(QueueItem.__table__).where(_q.id.in_(bindparam("b_ids", expanding=True)))
QUEUE_RELEASE = (update(QueueItem.__table__).where(_q.id.in_(bindparam("b_ids", expanding=True)), _q.state == "leased")
                 .values(state="ready", lease_until=None))

AUDIT_LAST = select(_a.digest).order_by(_a.id.desc()).limit(1)
AUDIT_INSERT = insert(AuditEvent.__table__)

COUNTER_NEXT = (update(Counter.__table__).where(_c.name == bindparam("b_name"))
                .values(value=_c.value + 1).returning(_c.value))
COUNTER_INSERT = insert(Counter.__table__)

BLOB_INSERT = insert(SealedBlob.__table__).returning(SealedBlob.__table__.c.id)
MESSAGE_INSERT = insert(Message.__table__).returning(Message.__table__.c.id)
MESSAGE_UPDATE = update(Message.__table__).where(Message.__table__.c.id == bindparam("b_id"))
OUTBOUND_INSERT = insert(OutboundMail.__table__).returning(OutboundMail.__table__.c.id)
DEADLINE_INSERT = insert(Deadline.__table__)
OUTBOUND_UPDATE = update(OutboundMail.__table__).where(OutboundMail.__table__.c.id == bindparam("b_id"))
