"""Times for the screen: Europe/Brussels, and what is left before a due time (negative: overdue)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")
FORMS = {"seconds": "%d/%m %H:%M:%S", "minutes": "%d/%m %H:%M", "time": "%H:%M", "date": "%d/%m/%Y"}


def brussels(moment: datetime, form: str = "seconds") -> str:
    """*moment* in Brussels: day, month and time to the second (or to the minute, the time alone, the date)."""
    return moment.astimezone(BRUSSELS).strftime(FORMS[form])


def left(due: datetime, now: datetime) -> str:
    seconds = int((due - now).total_seconds())
    sign = "OVERDUE " if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{days}d {hours:02d}h" if days else f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return sign + text
