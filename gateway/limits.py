"""The gateway's own limits and their defaults (the MIME limits are the admission's, crypto/mime/reader.py): the
hub's settings schema takes its defaults from here (hub/settings.py), so that each is written once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limits:
    max_message_bytes: int = 25 * 1024 * 1024  # announced in EHLO SIZE
    max_connections: int = 64
    timeout_seconds: float = 300.0  # an idle session's life
    max_connections_per_client: int = 8
    tls_reserved_connections: int = 16
    starttls_within_seconds: float = 20.0
    max_session_errors: int = 20
