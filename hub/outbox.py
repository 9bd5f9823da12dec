"""Queueing mail for the relay: seal the bytes, record the outbound row, publish its delivery."""

from __future__ import annotations

from store import UnitOfWork

from crypto import StorageKey

from .clock import Clock
from .transport import Transport
from .vault import seal

OUTBOUND_QUEUE = "outbound"


def queue_mail(uow: UnitOfWork, *, transport: Transport, key: StorageKey, clock: Clock, message_id: int | None,
               purpose: str, rfc_message_id: str, mail_from: str, rcpt_to: str, data: bytes,
               priority: int) -> int:
    """Store one outgoing mail (sealed) and publish it to the outbound queue, in *uow*'s transaction.

    Idempotent per (message, purpose, recipient): a second call returns the row already there. Returns its id.
    """
    if message_id is not None:
        existing = uow.outbound.find(message_id, purpose, rcpt_to)
        if existing is not None:
            return existing
    now = clock.now()
    blob_id = seal(uow, key, data, now=now, context=f"outbound:{rfc_message_id}")
    mail_id = uow.outbound.insert(
        message_id=message_id, purpose=purpose, rfc_message_id=rfc_message_id, mail_from=mail_from,
        rcpt_to=rcpt_to, priority=priority, blob_id=blob_id, state="pending", attempts=0,
        next_attempt_at=now, created_at=now,
    )
    transport.publish(uow, OUTBOUND_QUEUE, {"outbound_id": mail_id}, priority=priority)
    return mail_id
