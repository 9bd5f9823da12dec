"""Errors of the hub.

    HubError
    ├── HomeError             the home is missing, incomplete, or would be overwritten
    ├── PartnerError          a partner cannot be registered or updated (with .reason)
    ├── FieldError            a routing field has a value the law does not know
    ├── MessageNotFound       no message with that reference
    ├── UnknownPartner        a report or command names a partner that is not registered
    ├── ReversedPeriod        a report's period ends before it starts
    ├── EmbargoError          an embargo command is refused (signature, holder, decision)
    ├── DueRefused            a due time the law does not allow (past, beyond its urgency's window)
    └── NotActionable         a duty officer's act names something it cannot act on (no such alert, item ...)
"""

from __future__ import annotations

from datetime import date


class HubError(Exception):
    """Base of all hub errors."""


class HomeError(HubError):
    """The home directory is missing, incomplete, or would be overwritten."""


class PartnerError(HubError):
    """A partner or its key cannot be registered or updated."""


class FieldError(HubError):
    """A routing field carries a value outside its accepted set."""

    def __init__(self, field: str, value: str, accepted: tuple[str, ...]) -> None:
        super().__init__(f"invalid {field}: {value!r} (accepted: {', '.join(accepted)})")
        self.field = field
        self.value = value
        self.accepted = accepted


class MessageNotFound(HubError):
    """No message carries that reference."""


class ReversedPeriod(HubError):
    """The report's period ends before it starts."""

    def __init__(self, since: date, until: date) -> None:
        super().__init__(f"the period ends ({until}) before it starts ({since})")
        self.since, self.until = since, until


class UnknownPartner(HubError):
    """The report was asked for a partner that is not registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no partner named {name!r}")
        self.name = name


class EmbargoError(HubError):
    """A holder-list change, an opening, a reseal or a joint decision is refused; the message says why."""


class NotActionable(HubError):
    """A duty officer's act names an alert, item or delivery it cannot act on; the message says which."""


class DueRefused(HubError):
    """A request's due time, or a demand for immediate communication, that the law does not allow (AR Art. 11
    §3, law Art. 6 §1 al. 2): in the past, beyond its urgency's window, without motivation."""
