"""Which earlier messages a message refers to: In-Reply-To, References, and an MDN's Original-Message-ID."""

from __future__ import annotations

import re

from crypto import MimeError, Part
from crypto.mime import reader as mime

from . import msgid


def extract(outer: list[tuple[str, str]], payload: list[tuple[str, str]], content: Part) -> dict[str, object]:
    """Message-IDs this message points at; the protected (payload) copy of a header wins over the outer one."""
    def header(name: str) -> str | None:
        for source in (payload, outer):
            for key, value in source:
                if key.lower() == name:
                    return value
        return None

    links: dict[str, object] = {}
    if ids := msgid.ids(header("in-reply-to")):
        links["in_reply_to"] = ids
    if ids := msgid.ids(header("references")):
        links["references"] = ids
    if original := disposition_of(content):
        links["mdn_for"] = original
    return links


def disposition_of(content: Part) -> str | None:
    """The Original-Message-ID of an RFC 8098 disposition notification, or None for any other entity."""
    if content.content_type != "multipart/report":
        return None
    for part in content.walk():
        if part.content_type != "message/disposition-notification":
            continue
        for block in re.split(rb"\r?\n[ \t]*\r?\n", part.decoded()):
            try:
                fields = mime.read_fields(block)
            except MimeError:  # not a block of fields: this is no notification the hub can link
                return None
            for name, value in fields:
                if name.lower() == "original-message-id" and (found := msgid.single(value)):
                    return found
    return None
