"""Per-minute counts of the last half hour, from the audit log: intake, processed, sent, retries, quarantined.

Each minute is one range scan of the (at, action) index, the series counted with FILTER clauses (no
grouping sort). A minute that ended over a minute ago is settled: it is counted once and remembered, so
a refresh reads only the last two minutes and its cost follows the current traffic, not the store's size.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from store import AuditEvent, Database
from store.vocabulary import Action

# (series, what it counts) in the order shown; the actions are the hub's audit events.
SERIES = (
    ("intake", "messages accepted at SMTP time (intake.accepted)"),
    ("processed", "messages through the intake pipeline (receipt.signed, mdn.received)"),
    ("sent", "mail the relay took: receipts, requests, evaluations, reminders (*.sent)"),
    ("retries", "deliveries deferred by the relay, to be tried again (*.deferred)"),
    ("quarantined", "items the pipeline set aside after an error (*.quarantined)"),
)
MINUTE = timedelta(minutes=1)
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Rates:
    minutes: tuple[datetime, ...]  # the start of each minute (UTC), oldest first; the last one is under way
    counts: dict[str, tuple[int, ...]]  # series -> one count per minute
    bucket: timedelta = MINUTE  # a "minute": longer under the demo's accelerated clock

    def now(self, series: str) -> int:
        return self.counts[series][-1]

    def total(self, series: str) -> int:
        return sum(self.counts[series])


def _counts_of_minute(start: datetime, bucket: timedelta = MINUTE):
    a = AuditEvent.action
    matches = (a == Action.INTAKE_ACCEPTED, a.in_((Action.RECEIPT_SIGNED, Action.MDN_RECEIVED)), a.like("%.sent"),
               a.like("%.deferred"), a.like("%.quarantined"))
    return select(*(func.count().filter(m) for m in matches)).where(AuditEvent.at >= start,
                                                                     AuditEvent.at < start + bucket)


class RateCounter:
    """Counts per minute over a sliding window; settled minutes are remembered between calls."""

    def __init__(self, db: Database, *, minutes: int = 30, bucket: timedelta = MINUTE) -> None:
        self.db = db
        self.minutes = minutes
        self.bucket = bucket
        self._settled: dict[datetime, tuple[int, ...]] = {}
        self._lock = threading.Lock()  # one refresh at a time; a second waits rather than double-counts

    def __call__(self, now: datetime) -> Rates:
        b = self.bucket
        current = EPOCH + b * ((now - EPOCH) // b)
        starts = tuple(current - b * n for n in range(self.minutes - 1, -1, -1))
        settled_before = current - b  # this minute and the one before may still get events
        with self._lock:
            per_minute = {}
            todo = [m for m in starts if m not in self._settled or m >= settled_before]
            if todo:
                with self.db.reader() as uow:
                    for m in todo:
                        per_minute[m] = tuple(uow.session.execute(_counts_of_minute(m, b)).one())
            self._settled = {m: self._settled.get(m) or per_minute[m] for m in starts if m < settled_before}
            rows = [self._settled.get(m) or per_minute[m] for m in starts]
        return Rates(starts, {name: tuple(row[i] for row in rows) for i, (name, _) in enumerate(SERIES)}, b)


def rates(db: Database, now: datetime, *, minutes: int = 30) -> Rates:
    """Counts per minute of each series over the last *minutes* minutes, the current one included (no memory)."""
    return RateCounter(db, minutes=minutes)(now)
