"""Errors of the hub.

    HubError
    ├── HomeError             the home is missing, incomplete, or would be overwritten
    ├── PartnerError          a partner cannot be registered or updated (with .reason)
    ├── FieldError            a routing field has a value the law does not know
    └── MessageNotFound       no message with that reference
"""

from __future__ import annotations


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
