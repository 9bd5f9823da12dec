"""RFC 5322 §3.6.4 msg-id: the one reading of Message-ID, In-Reply-To, References and Original-Message-ID."""

from __future__ import annotations

import re

MAX_LENGTH = 250  # characters of one msg-id, brackets included (it is quoted in receipts and stored)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
_NO_FOLD_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]*\]"
MSG_ID = re.compile(rf"<{_DOT_ATOM}@(?:{_DOT_ATOM}|{_NO_FOLD_LITERAL})>")
_COMMENT = r"\((?:[^()\\]|\\[\x21-\x7e ])*\)"  # one comment, not nested
_FIELD = re.compile(rf"[ \t]*(?:{_COMMENT}[ \t]*)*({MSG_ID.pattern})[ \t]*(?:{_COMMENT}[ \t]*)*")


def single(value: str | None) -> str | None:
    """The msg-id of a Message-ID field ([CFWS] msg-id [CFWS], unfolded), or None when it is not exactly one."""
    if not value or len(value) > 4 * MAX_LENGTH:
        return None
    match = _FIELD.fullmatch(value)
    if match is None or len(match.group(1)) > MAX_LENGTH:
        return None
    return match.group(1)


def ids(value: str | None) -> list[str]:
    """The msg-ids of an In-Reply-To or References field, in order; whatever else it holds is left out."""
    return [m for m in MSG_ID.findall(value or "") if len(m) <= MAX_LENGTH]
