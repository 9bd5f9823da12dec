"""Delivery status notifications (RFC 3464): what a relay or a remote MTA says became of a message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class RecipientStatus:
    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str


@dataclass
class DeliveryReport:
    """One DSN: the Message-ID it reports on (from the returned headers) and each recipient's status."""

    original_message_id: str | None
    reporting_mta: str | None
    recipients: list[RecipientStatus] = field(default_factory=list)


def is_dsn(raw: bytes) -> bool:
    content_type = BytesHeaderParser(policy=compat32).parsebytes(raw).get("Content-Type", "")
    return "multipart/report" in content_type.lower() and "delivery-status" in content_type.lower()


def parse(raw: bytes) -> DeliveryReport | None:
    """The report in a multipart/report; report-type=delivery-status, or None if it holds none."""
    message = message_from_bytes(raw, policy=compat32)
    status_part = original = None
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" and status_part is None:
            status_part = part
        elif ctype in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = part
    if status_part is None:
        return None
    blocks = _blocks(status_part)
    if not blocks:
        return None
    report = DeliveryReport(_original_id(original), _value(blocks[0].get("Reporting-MTA")))
    for block in blocks[1:]:
        recipient = _value(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if recipient:
            report.recipients.append(RecipientStatus(
                recipient.strip("<>").lower(), (block.get("Action") or "").strip().lower(), (block.get("Status") or "").strip(),
                " ".join((block.get("Diagnostic-Code") or "").split())[:300]))
    return report


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    text = payload if isinstance(payload, str) else ""
    return [message_from_bytes(chunk.strip().encode() + b"\n", policy=compat32)
            for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _value(field_value: str | None) -> str | None:
    """'rfc822; a@b' -> 'a@b'."""
    if not field_value:
        return None
    return field_value.split(";", 1)[-1].strip() or None


def _original_id(part: Message | None) -> str | None:
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        headers = payload[0]
    else:
        headers = message_from_bytes(str(payload).encode(errors="replace"), policy=compat32)
    ids = _MESSAGE_ID.findall(headers.get("Message-ID", "") or "")
    return ids[0] if ids else None
