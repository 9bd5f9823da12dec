"""Which earlier messages a message refers to: In-Reply-To, References, and an MDN's Original-Message-ID."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import compat32

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def _ids(value: str | None) -> list[str]:
    return _MESSAGE_ID.findall(value or "")


def extract(outer: list[tuple[str, str]], payload: list[tuple[str, str]], entity: bytes) -> dict[str, object]:
    """Message-IDs this message points at; the protected (payload) copy of a header wins over the outer one."""
    def header(name: str) -> str | None:
        for source in (payload, outer):
            for key, value in source:
                if key.lower() == name:
                    return value
        return None

    links: dict[str, object] = {}
    if ids := _ids(header("in-reply-to")):
        links["in_reply_to"] = ids
    if ids := _ids(header("references")):
        links["references"] = ids
    if original := disposition_of(entity):
        links["mdn_for"] = original
    return links


def disposition_of(entity: bytes) -> str | None:
    """The Original-Message-ID of an RFC 8098 disposition notification, or None for any other entity."""
    if b"disposition-notification" not in entity[:4096].lower():
        return None
    report = message_from_bytes(entity, policy=compat32)
    if report.get_content_type() != "multipart/report":
        return None
    for part in report.walk():
        if part.get_content_type() != "message/disposition-notification":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [message_from_bytes(str(payload).encode(), policy=compat32)]
        for block in blocks:
            ids = _ids(block.get("Original-Message-ID"))
            if ids:
                return ids[0]
    return None
