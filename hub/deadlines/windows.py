"""Legal response deadlines: the due time of a request from its acknowledgement (AR Art. 11 §2-§3)."""

from __future__ import annotations

import calendar
from datetime import datetime, timezone

from hub.clock import BRUSSELS
from hub.settings import DeadlinesSection


def due_at(*, kind: str, urgency: str, embargo: str | None, acknowledged_at: datetime,
           windows: DeadlinesSection, government: bool = False, reply_by: datetime | None = None) -> datetime | None:
    """The due time of an answer, or None when no deadline runs.

    Only requests start a clock (AR Art. 11 §2); embargoed information has no deadline
    (AR Art. 11 §5, last paragraph). The window is calendar time by urgency (AR Art. 11 §3).
    An evaluation asked for by a member of the government is due within one month unless the
    request names another delay (AR Art. 7).
    """
    if kind != "request" or embargo:
        return None
    if government:
        return reply_by or add_month(acknowledged_at)
    return acknowledged_at + windows.window(urgency)


def add_month(moment: datetime) -> datetime:
    """The same time one calendar month later, in Brussels; the 31st becomes the month's last day."""
    local = moment.astimezone(BRUSSELS)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)


def reply_by(value: str | None) -> datetime | None:
    """A Reply-By value as a UTC time; a bare date means the end of that day in Brussels."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    if "T" not in value and " " not in value:
        moment = moment.replace(hour=23, minute=59, second=59)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BRUSSELS)
    return moment.astimezone(timezone.utc)
