"""Legal response deadlines: the due time of a request from its acknowledgement (AR Art. 11 §2-§3)."""

from __future__ import annotations

from datetime import datetime

from .settings import DeadlinesSection


def due_at(*, kind: str, urgency: str, embargo: str | None, acknowledged_at: datetime,
           windows: DeadlinesSection) -> datetime | None:
    """The due time of an answer, or None when no deadline runs.

    Only requests start a clock (AR Art. 11 §2); embargoed information has no deadline
    (AR Art. 11 §5, last paragraph). The window is calendar time by urgency (AR Art. 11 §3).
    """
    if kind != "request" or embargo:
        return None
    return acknowledged_at + windows.window(urgency)
