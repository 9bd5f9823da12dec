"""Routing fields: protected copy (RFC 9788 or keyword lines) over outer header, with their source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


from store import vocabulary

from hub.deadlines.windows import reply_by
from hub.errors import FieldError

URGENCIES, KINDS, EMBARGOES = vocabulary.URGENCIES, vocabulary.MESSAGE_KINDS, vocabulary.EMBARGO_KINDS
CLASSIFICATIONS = ("RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP-SECRET")
RESPONSE_STATUSES = ("final", "partial")
REFERENCE = re.compile(r"PSR-\d{4}-\d{6}")

# Field name -> (attribute, accepted values or pattern, default)
_SPECS: dict[str, tuple[str, tuple[str, ...] | re.Pattern[str], str | None]] = {
    "urgency": ("urgency", URGENCIES, "ROUTINE"),
    "message-kind": ("kind", KINDS, "spontaneous"),
    "embargo": ("embargo", EMBARGOES, None),
    "classification": ("classification", CLASSIFICATIONS, None),
    "request-ref": ("request_ref", REFERENCE, None),
    "response-status": ("response_status", RESPONSE_STATUSES, "final"),
    "reply-by": ("reply_by", re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?(Z|[+-]\d{2}:?\d{2})?"), None),
}
_KEYWORD_LINE = re.compile(r"^([A-Za-z][A-Za-z-]*)[ \t]*:[ \t]*(\S.*?)\s*$")


def _normalise(name: str, value: str) -> str:
    value = " ".join(value.split())
    if name == "reply-by":
        return value.upper()
    if name in ("urgency", "classification", "request-ref"):
        return value.upper().replace(" ", "-").replace("_", "-")
    if name == "embargo" and value.lower() in ("none", "no", ""):
        return ""
    return value.lower()


@dataclass
class Field:
    """One routing field as applied: its value and where it came from."""

    value: str | None
    source: str  # protected | unprotected | default
    outer: str | None = None
    protected: str | None = None

    @property
    def conflict(self) -> bool:
        return self.outer is not None and self.protected is not None and self.outer != self.protected


@dataclass
class RoutingFields:
    """The routing fields of one message."""

    fields: dict[str, Field] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        return self.fields[name].value

    @property
    def conflicts(self) -> list[str]:
        return [name for name, f in self.fields.items() if f.conflict]

    def as_record(self) -> dict[str, dict[str, str | None]]:
        return {name: {"value": f.value, "source": f.source, "outer": f.outer, "protected": f.protected}
                for name, f in self.fields.items()}


def keyword_lines(text: str) -> dict[str, str]:
    """Routing fields written as 'Urgency: FLASH' lines at the very top of the first text part."""
    found: dict[str, str] = {}
    for line in text.lstrip("\ufeff").splitlines():
        if not line.strip():
            break
        match = _KEYWORD_LINE.match(line)
        if not match or match.group(1).lower() not in _SPECS:
            break
        found.setdefault(match.group(1).lower(), match.group(2))
    return found


def extract(outer: list[tuple[str, str]], payload: list[tuple[str, str]], first_text: str) -> RoutingFields:
    """Combine outer headers, protected payload headers and keyword lines into the applied fields.

    A protected value (payload header, else keyword line) wins; an outer-only value is applied but
    marked unprotected (admission refuses an outer-only Embargo, AR Art. 15 al. 1); a missing value takes its
    default. Unknown values raise FieldError.
    """
    outer_map = _known(outer)
    payload_map = _known(payload)
    keywords = keyword_lines(first_text)
    result = RoutingFields()
    for name, (_attr, accepted, default) in _SPECS.items():
        o = _checked(name, outer_map.get(name), accepted)
        p = _checked(name, payload_map.get(name, keywords.get(name)), accepted)
        if p is not None:
            result.fields[name] = Field(p or None, "protected", o, p)
        elif o is not None:
            result.fields[name] = Field(o or None, "unprotected", o, None)
        else:
            result.fields[name] = Field(default, "default")
    return result


def _known(headers: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in _SPECS:
            found.setdefault(key, value)
    return found


def _is_time(value: str) -> bool:
    """A Reply-By the deadline, the receipt (in UTC and in Brussels) and the reminders can all be computed from:
    a real time of the years 1970-9998 (year 1 or 9999 overflows in a time-zone conversion after the 250)."""
    try:
        moment = reply_by(value)
    except (ValueError, OverflowError):
        return False
    return moment is not None and 1970 <= moment.year <= 9998


def _checked(name: str, raw: str | None, accepted: tuple[str, ...] | re.Pattern[str]) -> str | None:
    if raw is None:
        return None
    value = _normalise(name, raw)
    if name == "embargo" and value == "":
        return ""
    if isinstance(accepted, re.Pattern):
        if not accepted.fullmatch(value) or (name == "reply-by" and not _is_time(value)):
            example = "2026-12-01T12:00+01:00" if name == "reply-by" else "a reference like PSR-2026-000123"
            raise FieldError(name, raw, (example,))
    elif value not in accepted:
        raise FieldError(name, raw, accepted)
    return value
