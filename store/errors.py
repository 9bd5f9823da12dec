"""Errors of the store.

    StoreError
    ├── StoreUnavailable      the database cannot be reached or is locked for too long
    ├── NotFound              a looked-up row does not exist
    ├── Conflict              a uniqueness rule was violated (replay, duplicate name)
    └── SchemaOutOfDate       the database is not at the migration head
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of all store errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached now; the caller should retry later."""


class NotFound(StoreError):
    """A row that was asked for does not exist."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} not found: {key}")
        self.what = what
        self.key = key


class Conflict(StoreError):
    """A uniqueness rule was violated."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"{what} already exists{': ' + detail if detail else ''}")
        self.what = what
        self.detail = detail


class SchemaOutOfDate(StoreError):
    """The database schema is not at the revision this code expects."""

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"database schema at {current or 'nothing'}, code expects {head}: run 'passerelle store upgrade'"
        )
        self.current = current
        self.head = head
