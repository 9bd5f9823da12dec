"""Urgency as queue priority: FLASH first."""

from __future__ import annotations

PRIORITY = {"FLASH": 9, "URGENT": 6, "ROUTINE": 3, "NON-URGENT": 1}


def priority_of(urgency: str | None) -> int:
    return PRIORITY.get(urgency or "ROUTINE", 3)
