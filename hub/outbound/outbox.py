"""Queueing mail for the relay: seal the bytes, record the outbound row, publish its delivery."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from email import quoprimime
from typing import TYPE_CHECKING

from store import UnitOfWork
from store.vocabulary import DeliveryState, Queue

from crypto import StorageKey
from crypto.mime import compose

from hub.clock import Clock
from hub.transport.protocol import Transport
from hub.vault import seal

if TYPE_CHECKING:
    from crypto import Gpg
    from store import Database
    from hub.settings import Settings

OUTBOUND_QUEUE = Queue.OUTBOUND


class OwnMail:
    """What a job that writes the hub's own mail holds (the inbound copies, the scheduler's reminders, witness
    checkpoints, key and certificate notices, announcements): one constructor for each of them."""

    def __init__(self, *, settings: "Settings", db: "Database", gpg: "Gpg", storage_key: StorageKey, clock: Clock,
                 transport: Transport) -> None:
        self.settings = settings
        self.db = db
        self.gpg = gpg
        self.storage_key = storage_key
        self.clock = clock
        self.transport = transport


def mime_entity(reference: str, fields: list[tuple[str, str]], subject: str, body: str,
                attachments: list[tuple[str, bytes]], headers: list[tuple[str, str]]) -> bytes:
    """The MIME entity of an outgoing message, before encryption: its routing fields both as protected
    headers (RFC 9788) and as the first lines of the text, then the text, then the attachments."""
    text = "\n".join(f"{name}: {value}" for name, value in fields) + "\n\n" + body
    text_part = ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                 + quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), 76, "\r\n") + "\r\n")
    boundary = "=_out_" + hashlib.sha256(reference.encode()).hexdigest()[:24]
    protected = compose.header_block(headers + [("Subject", subject)] + fields).decode()
    parts = [f'Content-Type: multipart/mixed; boundary="{boundary}"; protected-headers="v1"\r\n{protected}\r\n',
             f"--{boundary}\r\n{text_part}"]
    for name, data in attachments:
        encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
        parts.append(f'--{boundary}\r\nContent-Type: application/octet-stream; name="{name}"\r\n'
                     f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                     f"{encoded}")
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode("ascii")


def queue_mail(uow: UnitOfWork, *, transport: Transport, key: StorageKey, clock: Clock, message_id: int | None,
               purpose: str, rfc_message_id: str, mail_from: str, rcpt_to: str, data: bytes,
               priority: int, due_at: datetime | None = None, envelope_id: str | None = None,
               held: bool = False) -> int:
    """Store one outgoing mail (sealed) and publish it to the outbound queue, in *uow*'s transaction; a *held*
    one (its recipient's key cannot be used) is stored and not published, until released.

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
        rcpt_to=rcpt_to, priority=priority, blob_id=blob_id,
        state=DeliveryState.HELD if held else DeliveryState.PENDING, attempts=0, next_attempt_at=now, created_at=now,
        due_at=due_at, envelope_id=envelope_id,
    )
    if not held:
        transport.publish(uow, OUTBOUND_QUEUE, {"outbound_id": mail_id}, priority=priority)
    return mail_id


def release(uow: UnitOfWork, *, transport: Transport, key: StorageKey, clock: Clock, mail_id: int,
            rfc_message_id: str, data: bytes, priority: int) -> None:
    """A held mail goes out: its bytes (now usable) sealed in its row, the row pending and published."""
    blob_id = seal(uow, key, data, now=clock.now(), context=f"outbound:{rfc_message_id}")
    uow.outbound.update(mail_id, blob_id=blob_id, state=DeliveryState.PENDING, next_attempt_at=clock.now())
    transport.publish(uow, OUTBOUND_QUEUE, {"outbound_id": mail_id}, priority=priority)
