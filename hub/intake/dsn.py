"""Delivery status notifications (RFC 3464): what a relay or a remote MTA says became of a message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from crypto import header_fields

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
    content_type = header_fields(raw).get("Content-Type", "")
    return "multipart/report" in content_type.lower() and "delivery-status" in content_type.lower()


def is_pgp_mime(raw: bytes) -> bool:
    content_type = header_fields(raw).get("Content-Type", "").lower()
    return "multipart/signed" in content_type or "multipart/encrypted" in content_type


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


_QUOTED_ID = re.compile(r"^[ >]*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]")
_DELAY_WORDS = re.compile(r"\b(delayed|will retry|still trying|warning|not yet been delivered)\b", re.IGNORECASE)


def parse_text_bounce(raw: bytes) -> DeliveryReport | None:
    """A bounce written for people (qmail, Exim, Gmail...): the quoted Message-ID of the returned message
    and whatever status it states; the recipient is the one the hub sent that message to ("*")."""
    message = message_from_bytes(raw, policy=compat32)
    own = _MESSAGE_ID.findall(message.get("Message-ID", "") or "")
    texts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() in ("message/rfc822",):
            continue
        payload = part.get_payload(decode=True) or b""
        texts.append(payload.decode(part.get_content_charset() or "latin-1", errors="replace"))
    for part in message.walk():  # headers of a returned message/rfc822
        if part.get_content_type() == "message/rfc822" and isinstance(part.get_payload(), list):
            texts.append(f"Message-ID: {part.get_payload()[0].get('Message-ID', '')}")
    text = "\n".join(texts)
    ids = [i for i in _QUOTED_ID.findall(text) if i not in own]
    if not ids:
        return None
    status = _STATUS.search(text)
    code = _SMTP_CODE.search(text)
    action = "delayed" if _DELAY_WORDS.search(text) and not (status and status.group(1).startswith("5")) else "failed"
    value = status.group(1) if status else (f"{code.group(1)[0]}.0.0" if code else ("4.0.0" if action == "delayed"
                                                                                     else "5.0.0"))
    first_line = next((ln.strip() for ln in text.splitlines() if _SMTP_CODE.search(ln) or _STATUS.search(ln)), "")
    return DeliveryReport(ids[-1], None, [RecipientStatus("*", action, value, first_line[:300])])
