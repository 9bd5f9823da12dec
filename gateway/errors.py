"""Errors of the gateway.

    GatewayError
    └── RelayError              the relay did not take a message
        ├── RelayTemporary      4xx or no connection: retry later
        └── RelayPermanent      5xx: retrying will not help
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of all gateway errors."""


class RelayError(GatewayError):
    """The relay did not accept a message."""

    def __init__(self, code: int | None, text: str) -> None:
        super().__init__(f"{code or 'no connection'} {text}")
        self.code = code
        self.text = text


class RelayTemporary(RelayError):
    """A 4xx reply or a connection failure: try again later."""


class RelayPermanent(RelayError):
    """A 5xx reply: the relay refuses this message for good."""
