"""Message references: PSR-YYYY-NNNNNN, one counter per year, allocated in the accepting transaction."""

from __future__ import annotations

from datetime import datetime

from store import UnitOfWork

from .clock import BRUSSELS


def next_reference(uow: UnitOfWork, now: datetime, prefix: str = "PSR") -> str:
    year = now.astimezone(BRUSSELS).year
    number = uow.counters.next(f"{prefix}-{year}")
    return f"{prefix}-{year}-{number:06d}"
