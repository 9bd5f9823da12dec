"""How a receipt travels: signed by the hub and encrypted to the contact point's key (AR Art. 11 §7, "sécurisé et
crypté"), or signed only for a partner registered so; held, never sent in clear, when the key cannot be used."""

from __future__ import annotations

import logging
from datetime import datetime

from crypto import Gpg, KeyUnusable, SealError, StorageKey
from crypto.mime import compose, reader as mime
from store import Partner, UnitOfWork
from store.vocabulary import Action, DeliveryState, ReceiptStatus

from hub import audit, vault
from hub.clock import Clock
from hub.outbound.outbox import release
from hub.outbound.requests import key_problem
from hub.registry.partners import SIGNED
from hub.transport.priorities import priority_of
from hub.transport.protocol import Transport

log = logging.getLogger(__name__)


def wrap(gpg: Gpg, signed: bytes, *, mode: str, fingerprint: str, now: datetime) -> tuple[bytes, str | None]:
    """The bytes to send for the signed receipt *signed*, and None; or *signed* itself and why it must be held
    (a key that is missing, revoked, expired or cannot encrypt), when the partner's receipts are encrypted."""
    if mode == SIGNED:
        return signed, None
    try:  # one gpg process on the way every receipt takes; the key is inspected only to say why it failed
        return encrypt(gpg, signed, fingerprint), None
    except KeyUnusable as exc:
        return signed, key_problem(gpg, fingerprint, now) or exc.reason


def encrypt(gpg: Gpg, signed: bytes, fingerprint: str) -> bytes:
    """Sign, then encrypt (RFC 3156 §6.1): the whole signed receipt, its header fields with it, encrypted to the
    partner's key only; the same fields outside, so that clients thread and file it. Only the header section of
    the receipt, which the hub has just composed, is read again: its parts are not needed here."""
    head, _ = mime.split_head(signed)
    outer = [(name, value) for name, value in mime.decoded_fields(mime.read_fields(head))
             if name.lower() not in ("mime-version", "content-type", "content-transfer-encoding")]
    return compose.encrypt_entity(gpg, signed, [fingerprint], None, outer)


def release_held(uow: UnitOfWork, *, gpg: Gpg, key: StorageKey, clock: Clock, transport: Transport,
                 partner: Partner) -> list[str]:
    """Receipts held for *partner* go out, now that its key can be encrypted to (partner update-key) or that it
    takes signed receipts (partner set --receipts signed); those still unusable stay held. Returns the
    references of the messages whose receipt left."""
    released = []
    for mail in uow.outbound.held(partner.email, "receipt"):
        try:
            signed = vault.unseal(key, uow.blobs.get(mail.blob_id), context=f"outbound:{mail.rfc_message_id}")
        except SealError as exc:  # its message was erased before erasure gave up held copies: it never leaves
            uow.outbound.update(mail.id, state=DeliveryState.FAILED, last_error=f"not released: {exc}")
            continue
        data, why = wrap(gpg, signed, mode=partner.receipts, fingerprint=partner.fingerprint, now=clock.now())
        if why is not None:
            continue
        message = uow.messages.get(mail.message_id) if mail.message_id else None
        release(uow, transport=transport, key=key, clock=clock, mail_id=mail.id, rfc_message_id=mail.rfc_message_id,
                data=data, priority=priority_of(message.urgency) if message else mail.priority)
        reference = message.reference if message else None
        if message is not None:
            uow.messages.update(message.id, receipt_status=ReceiptStatus.QUEUED)
        audit.record(uow, clock, Action.RECEIPT_RELEASED, ref=reference, to=partner.email, travels=partner.receipts)
        log.info("receipt of %s to %s released (%s)", reference, partner.name, partner.receipts)
        released.append(reference or mail.rfc_message_id)
    return released
