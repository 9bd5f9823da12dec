"""Urgency as queue priority: FLASH first."""

from __future__ import annotations

from store.vocabulary import URGENCIES

PRIORITY = dict(zip(URGENCIES, (9, 6, 3, 1)))  # the broker's message priority of each urgency


def priority_of(urgency: str | None) -> int:
    return PRIORITY.get(urgency or "ROUTINE", 3)
