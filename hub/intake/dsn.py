"""Delivery status notifications (RFC 3464): what a relay or a remote MTA says became of a message.

Read from the message's one reading (crypto/mime.py), under the same limits as any message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crypto import Limits, Part
from crypto.mime import reader as mime

from . import msgid


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
    envelope_id: str | None = None  # Original-Envelope-Id: the ENVID the hub gave the copy (RFC 3464 §2.2.1)


_RETURNED = ("message/rfc822", "text/rfc822-headers")
ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")  # RFC 3464 §2.3.3; anything else: ""


def is_dsn(top: Part) -> bool:
    return top.content_type == "multipart/report" and (top.param("report-type") or "").lower() == "delivery-status"


def parse(top: Part, limits: Limits) -> DeliveryReport | None:
    """The report in a multipart/report; report-type=delivery-status, or None if it holds none."""
    parts = list(top.walk())
    status_part = next((p for p in parts if p.content_type == "message/delivery-status"), None)
    original = next((p for p in parts if p.content_type in _RETURNED), None)
    if status_part is None:
        return None
    blocks = [dict((k.lower(), v) for k, v in mime.read_fields(chunk, limits))
              for chunk in re.split(rb"\r?\n[ \t]*\r?\n", status_part.decoded()) if chunk.strip()]
    if not blocks:
        return None
    report = DeliveryReport(_returned_id(original), _value(blocks[0].get("reporting-mta")),
                            envelope_id=_xtext((blocks[0].get("original-envelope-id") or "").strip()) or None)
    for block in blocks[1:]:
        recipient = _value(block.get("final-recipient") or block.get("original-recipient"))
        if recipient:
            action = (block.get("action") or "").strip().lower()
            status = (block.get("status") or "").strip()
            report.recipients.append(RecipientStatus(
                recipient.strip("<>").lower()[:320], action if action in ACTIONS else "",
                status if _STATUS.fullmatch(status) else "", " ".join((block.get("diagnostic-code") or "").split())[:300]))
    return report


def _xtext(value: str) -> str:
    """An xtext value (RFC 3461 §4) decoded: "+2B" is "+"; at most 100 characters."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value[:300])[:100]


def _value(field_value: str | None) -> str | None:
    """'rfc822; a@b' -> 'a@b'."""
    if not field_value:
        return None
    return field_value.split(";", 1)[-1].strip() or None


_RETURNED_ID = re.compile(rb"^Message-ID:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.MULTILINE)


def _returned_id(part: Part | None) -> str | None:
    """The Message-ID of the returned message (its headers are data here, not read as a MIME part)."""
    if part is None:
        return None
    head = part.decoded()[:64 * 1024]
    end = re.search(rb"\r?\n\r?\n", head)
    match = _RETURNED_ID.search(head, 0, end.start() if end else len(head))
    return msgid.single(re.sub(rb"\r?\n", b"", match.group(1)).decode("ascii", "replace")) if match else None


_QUOTED_ID = re.compile(r"^[ >]*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]")
_DELAY_WORDS = re.compile(r"\b(delayed|will retry|still trying|warning|not yet been delivered)\b", re.IGNORECASE)


def parse_text_bounce(top: Part) -> DeliveryReport | None:
    """A bounce written for people (qmail, Exim, Gmail...): the quoted Message-ID of the returned message
    and whatever status it states; the recipient is the one the hub sent that message to ("*")."""
    own = msgid.single(top.header("message-id"))
    texts = [part.text() for part in top.walk() if not part.children and part.content_type not in _RETURNED]
    texts += [f"Message-ID: {found}" for part in top.walk() if part.content_type == "message/rfc822"
              if (found := _returned_id(part))]
    text = "\n".join(texts)
    ids = [i for i in (msgid.single(q) for q in _QUOTED_ID.findall(text)) if i and i != own]
    if not ids:
        return None
    status = _STATUS.search(text)
    code = _SMTP_CODE.search(text)
    action = "delayed" if _DELAY_WORDS.search(text) and not (status and status.group(1).startswith("5")) else "failed"
    value = status.group(1) if status else (f"{code.group(1)[0]}.0.0" if code else ("4.0.0" if action == "delayed"
                                                                                     else "5.0.0"))
    first = _SMTP_CODE.search(text) or _STATUS.search(text)
    first_line = text[text.rfind("\n", 0, first.start()) + 1:].split("\n", 1)[0].strip() if first else ""
    return DeliveryReport(ids[-1], None, [RecipientStatus("*", action, value, first_line[:300])])
