"""OCAM's requests to a support service: signed, encrypted to the contact point's key only, never in clear."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from crypto import Gpg, KeyUnusable, StorageKey
from crypto.mime import compose
from store import UnitOfWork
from store.vocabulary import Action, MessageState, ReceiptStatus

from hub import audit, vault
from hub.clock import Clock
from hub.errors import DueRefused, PartnerError
from .outbox import mime_entity, queue_mail
from hub.transport.priorities import priority_of
from hub.references import next_reference
from hub.retention import items as retention
from hub.deadlines import windows
from hub.settings import Settings
from hub.transport.protocol import Transport

if TYPE_CHECKING:
    from hub.acts.signed import MemberHome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    reference: str
    held: bool
    reason: str | None = None


@dataclass(frozen=True)
class Immediate:
    """The director's demand for immediate communication (law Art. 6 §1 al. 2): its motivation, which the
    director's signed act states (request.demand-immediate)."""

    motivation: str


def envelope_id(reference: str) -> str:
    """The ENVID of a request's copy (RFC 3461): its reference and 128 random bits, so that only a DSN from
    the mail path that carried it, which alone saw the envelope, can quote it."""
    return f"{reference}.{secrets.token_hex(16).upper()}"


def outer_headers(settings: Settings, to: str, message_id: str, reference: str, now: datetime) -> list[tuple[str, str]]:
    """The request's visible headers; the subject says nothing but the reference (RFC 9788)."""
    return [("From", f"OCAM Passerelle <{settings.hub.address}>"), ("To", to), ("Date", format_datetime(now)),
            ("Message-ID", message_id), ("Subject", f"Passerelle {reference}"), ("X-Passerelle-Reference", reference)]


def key_problem(gpg: Gpg, fingerprint: str, now: datetime) -> str | None:
    """Why a contact point's key cannot be encrypted to now, in words: missing, revoked, expired; or None."""
    info = gpg.key(fingerprint)
    if info is None:
        return "missing"
    if info.revoked:
        return "revoked"
    if info.expired(now):
        return f"expired since {info.expires:%Y-%m-%d %H:%M} UTC"
    if not info.can_encrypt:
        return "without a usable encryption subkey"
    return None


def content_digests(subject: str, body: str, attachments: list[tuple[str, bytes]]) -> dict[str, str | list[str]]:
    """What a signed act of sending binds of the content it sends: digests only (the audit log holds no content)."""
    return {"subject_sha256": _sha256(subject.encode("utf-8")), "body_sha256": _sha256(body.encode("utf-8")),
            "attachment_sha256": [_sha256(data) for _name, data in attachments]}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def send_request(uow: UnitOfWork, *, settings: Settings, gpg: Gpg, key: StorageKey, clock: Clock,
                 transport: Transport, by: MemberHome, partner_name: str, urgency: str, subject: str, body: str,
                 attachments: list[tuple[str, bytes]], due_at: datetime | None,
                 immediate: Immediate | None = None) -> Sent:
    """Record and queue one request, the signed act of the member whose home *by* is; when the contact point's key
    cannot be used, hold it and raise an alert.

    A named *due_at* must lie in the future and within the urgency's legal window (windows.check_named,
    DueRefused otherwise); a demand for immediate communication (law Art. 6 §1 al. 2) is FLASH, the director's
    own signed act (request.demand-immediate) with the motivation it signs, recorded in the audit log and stated
    in the request."""
    partner = uow.partners.by_name(partner_name)
    if partner is None:
        raise PartnerError(f"no partner named {partner_name!r}")
    if immediate is not None and (urgency != "FLASH" or not immediate.motivation.strip()):
        raise DueRefused("a demand for immediate communication (law Art. 6 §1 al. 2) is FLASH and states "
                         "the director's motivation (--motivation)")
    motivation = {"motivation": immediate.motivation.strip()} if immediate is not None else {}
    act = by.sign(uow, clock, "request.demand-immediate" if immediate is not None else "request.send",
                  partner=partner.name, urgency=urgency, due=due_at.isoformat() if due_at else None,
                  **motivation, **content_digests(subject, body, attachments))
    now = clock.now()
    if due_at is not None:
        due_at = windows.check_named(due_at, urgency=urgency, now=now, deadlines=settings.deadlines)
    reference = next_reference(uow, now)
    message_id = make_msgid(idstring=reference, domain=settings.hub.domain)
    headers = outer_headers(settings, partner.email, message_id, reference, now)[:4]
    fields = [("Urgency", urgency), ("Message-Kind", "request"), ("Request-Ref", reference)]
    if due_at is not None:
        fields.append(("Reply-By", due_at.strftime("%Y-%m-%dT%H:%M:%SZ")))
    if immediate is not None:
        fields.append(("Immediate", "law Art. 6 §1 al. 2"))
        body = f"Communication immédiate exigée (loi du 10.07.2006, art. 6 §1 al. 2). Motivation :\n" \
               f"{immediate.motivation.strip()}\n\n{body}"
    entity = mime_entity(reference, fields, subject, body, attachments, headers)
    outer = outer_headers(settings, partner.email, message_id, reference, now)
    held_reason = key_problem(gpg, partner.fingerprint, now)
    data = b""
    if held_reason is None:
        try:
            data = compose.encrypt_entity(gpg, entity, [partner.fingerprint], settings.hub.key_fingerprint, outer)
        except KeyUnusable as exc:
            held_reason = exc.reason
    blob_id = vault.seal(uow, key, entity, now=now, context=f"message:{reference}")
    message_row = uow.messages.insert(
        reference=reference, direction="outbound", partner_id=partner.id, rfc_message_id=message_id,
        signature_digest=None, body_digest=hashlib.sha256(entity).hexdigest(), size=len(entity), encrypted=True,
        signer_fingerprint=settings.hub.key_fingerprint, mail_from=settings.hub.address, kind="request",
        urgency=urgency, urgency_source="protected", embargo=None, classification=None,
        fields={"reply-by": {"value": due_at.isoformat() if due_at else None, "source": "operator"},
                **({"immediate": {"value": "law Art. 6 §1 al. 2", "source": "director"}} if immediate else {})},
        links={},
        received_at=now, due_at=due_at, state=MessageState.HELD if held_reason else MessageState.QUEUED,
        receipt_status=ReceiptStatus.NONE, raw_blob_id=blob_id,
    )
    retention.register(uow, message_row, now)
    audit.record(uow, clock, Action.REQUEST_CREATED, actor=act.member.name, ref=reference, partner=partner.name,
                 urgency=urgency, due_at=due_at.isoformat() if due_at else None, **act.evidence())
    if immediate is not None:
        audit.record(uow, clock, Action.REQUEST_IMMEDIATE, actor=act.member.name, ref=reference,
                     basis="law Art. 6 §1 al. 2", motivation=immediate.motivation.strip(), **act.evidence())
    if held_reason:
        # Never in clear: the request waits for a usable key (partner update-key), and the duty officer is told.
        audit.record(uow, clock, Action.ALERT_REQUEST_HELD, ref=reference, partner=partner.name,
                     key=partner.fingerprint, why=held_reason)
        log.warning("request %s to %s held: key %s", reference, partner.name, held_reason)
        return Sent(reference, True, held_reason)
    queue_mail(uow, transport=transport, key=key, clock=clock, message_id=message_row, purpose="request",
               rfc_message_id=message_id, mail_from=settings.hub.address, rcpt_to=partner.email, data=data,
               priority=priority_of(urgency), envelope_id=envelope_id(reference))
    return Sent(reference, False)


def release_held(uow: UnitOfWork, *, settings: Settings, gpg: Gpg, key: StorageKey, clock: Clock,
                 transport: Transport, partner_id: int) -> list[str]:
    """After a key update: encrypt and queue the requests held for that partner; returns their references."""
    partner = uow.partners.get(partner_id)
    released = []
    for message in uow.messages.held_for(partner_id):
        blob = uow.blobs.get(message.raw_blob_id)
        if blob.wrapped_key is None:  # erased while it was held (retention): nothing is left to send
            continue
        entity = vault.unseal(key, blob, context=f"message:{message.reference}")
        outer = outer_headers(settings, partner.email, message.rfc_message_id, message.reference, clock.now())
        if key_problem(gpg, partner.fingerprint, clock.now()) is not None:
            continue
        try:
            data = compose.encrypt_entity(gpg, entity, [partner.fingerprint], settings.hub.key_fingerprint, outer)
        except KeyUnusable:
            continue
        uow.messages.update(message.id, state=MessageState.QUEUED)
        queue_mail(uow, transport=transport, key=key, clock=clock, message_id=message.id, purpose="request",
                   rfc_message_id=message.rfc_message_id, mail_from=settings.hub.address, rcpt_to=partner.email,
                   data=data, priority=priority_of(message.urgency), envelope_id=envelope_id(message.reference))
        audit.record(uow, clock, Action.REQUEST_RELEASED, ref=message.reference, partner=partner.name)
        released.append(message.reference)
    return released
