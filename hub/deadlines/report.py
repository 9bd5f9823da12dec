"""The deadline report: answers on time, late, open and overdue per partner and direction (AR Art. 11 §3)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from store import Deadline, Message, Partner
from store.vocabulary import URGENCIES, DeadlineState, MessageState

from hub.clock import BRUSSELS
from hub.errors import ReversedPeriod, UnknownPartner
from .windows import overdue_from

LEGAL_BASIS = "duty to transmit: law Art. 6 and 14; deadlines: AR Art. 11 §2-3"
DIRECTIONS = {"ocam": "to OCAM", "partner": "from OCAM"}  # owed_by -> who the request went to


@dataclass(frozen=True)
class UrgencyTimes:
    """Requests of one urgency within a row, and how long their answers took (whole seconds)."""

    urgency: str
    requests: int
    answered: int
    median_seconds: int | None
    p90_seconds: int | None


@dataclass(frozen=True)
class Row:
    """One partner and direction; ``open`` are still within their deadline, ``overdue`` are past it;
    ``not_acknowledged`` are OCAM's requests the relay took whose clock never started (no MDN, no success DSN);
    ``started_by`` counts the clocks by what started them (receipt, mdn, dsn, relay: AR Art. 11 §2)."""

    partner: str
    direction: str
    requests: int
    answered_on_time: int
    answered_late: int
    open: int
    overdue: int
    urgencies: tuple[UrgencyTimes, ...]
    not_acknowledged: int = 0
    started_by: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadlineReport:
    """The report as computed at ``computed_at`` for clocks started in [since, until] (Brussels dates)."""

    computed_at: datetime
    since: date | None
    until: date | None
    partner: str | None
    rows: tuple[Row, ...]
    legal_basis: str = LEGAL_BASIS


def utc_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Brussels calendar dates as UTC instants: from midnight of *since* to midnight after *until*."""

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=BRUSSELS).astimezone(timezone.utc)

    return (midnight(since) if since else None, midnight(until + timedelta(days=1)) if until else None)


def percentiles(seconds: list[float]) -> tuple[int | None, int | None]:
    """Median and nearest-rank 90th percentile of *seconds*, rounded to whole seconds; None when empty."""
    if not seconds:
        return None, None
    ordered = sorted(seconds)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return round(statistics.median(ordered)), round(p90)


def deadlines(session: Session, *, now: datetime, since: date | None = None, until: date | None = None,
              partner: str | None = None) -> DeadlineReport:
    """Compute the report from the store as it stands at *now*.

    Raises UnknownPartner for a name not registered and ReversedPeriod when *until* precedes *since*.
    """
    if now.tzinfo is None:
        raise ValueError("the report needs an aware 'now'")
    if since and until and until < since:
        raise ReversedPeriod(since, until)
    start, end = utc_bounds(since, until)
    where, unstarted = [], []
    if start is not None:
        where.append(Deadline.started_at >= start)
        unstarted.append(Message.received_at >= start)
    if end is not None:
        where.append(Deadline.started_at < end)
        unstarted.append(Message.received_at < end)
    if partner is not None:
        partner_id = session.scalar(select(Partner.id).where(Partner.name == partner))
        if partner_id is None:
            raise UnknownPartner(partner)
        where.append(Deadline.partner_id == partner_id)
        unstarted.append(Message.partner_id == partner_id)

    is_open, answered = Deadline.state == DeadlineState.OPEN, Deadline.state == DeadlineState.ANSWERED

    def tally(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    # On time or late as recorded when the clock stopped (hub/deadlines/windows.py on_time, the one rule);
    # an open clock is overdue by the same rule.
    late_from = overdue_from(now)
    key = (Partner.name, Deadline.owed_by, Deadline.urgency)
    counts = session.execute(
        select(*key, func.count(Deadline.id),
               tally(and_(answered, Deadline.on_time.is_(True))),
               tally(and_(answered, Deadline.on_time.is_not(True))),
               tally(and_(is_open, Deadline.due_at > late_from)),
               tally(and_(is_open, Deadline.due_at <= late_from)))
        .join(Partner, Partner.id == Deadline.partner_id).where(*where).group_by(*key)
    ).all()
    # OCAM's requests the relay took that nobody on the partner's side acknowledged (AR Art. 11 §2), by the
    # time they were sent.
    not_acknowledged = {(name, "partner", urgency): n for name, urgency, n in session.execute(
        select(Partner.name, Message.urgency, func.count(Message.id))
        .join(Partner, Partner.id == Message.partner_id).outerjoin(Deadline, Deadline.message_id == Message.id)
        .where(Message.direction == "outbound", Message.kind == "request", Message.state == MessageState.SENT,
               Deadline.id.is_(None), *unstarted)
        .group_by(Partner.name, Message.urgency))}
    started_by: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for name, owed_by, source, n in session.execute(
            select(Partner.name, Deadline.owed_by, Deadline.started_by, func.count(Deadline.id))
            .join(Partner, Partner.id == Deadline.partner_id).where(*where)
            .group_by(Partner.name, Deadline.owed_by, Deadline.started_by)):
        started_by[(name, owed_by)][source] = int(n)
    durations: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for name, owed_by, urgency, started_at, answered_at in session.execute(
        select(*key, Deadline.started_at, Deadline.answered_at)
        .join(Partner, Partner.id == Deadline.partner_id)
        .where(*where, answered, Deadline.answered_at.is_not(None))
    ):
        durations[(name, owed_by, urgency)].append((answered_at - started_at).total_seconds())
    return DeadlineReport(computed_at=now, since=since, until=until, partner=partner,
                          rows=_rows(counts, durations, not_acknowledged, started_by))


def _rows(counts, durations, not_acknowledged: dict[tuple[str, str, str], int],
          started_by: dict[tuple[str, str], dict[str, int]]) -> tuple[Row, ...]:
    """Fold the per-urgency counts into one row per partner and direction, every known urgency listed."""
    groups: dict[tuple[str, str], dict[str, tuple[int, ...]]] = defaultdict(dict)
    for name, owed_by, urgency, *figures in counts:
        groups[(name, owed_by)][urgency] = tuple(int(f) for f in figures)
    for name, owed_by, urgency in not_acknowledged:
        groups[(name, owed_by)].setdefault(urgency, (0, 0, 0, 0, 0))
    rows = []
    direction_order = list(DIRECTIONS)
    for (name, owed_by), by_urgency in sorted(
            groups.items(), key=lambda g: (g[0][0], _index(direction_order, g[0][1]), g[0][1])):
        totals = [sum(column) for column in zip(*by_urgency.values())]
        extra = sorted(u for u in by_urgency if u not in URGENCIES)
        times = []
        for urgency in (*URGENCIES, *extra):
            requests = by_urgency.get(urgency, (0,))[0]
            seconds = durations.get((name, owed_by, urgency), [])
            median, p90 = percentiles(seconds)
            times.append(UrgencyTimes(urgency, requests, len(seconds), median, p90))
        unacknowledged = sum(n for (p, o, _u), n in not_acknowledged.items() if (p, o) == (name, owed_by))
        rows.append(Row(name, DIRECTIONS.get(owed_by, owed_by), *totals, urgencies=tuple(times),
                        not_acknowledged=unacknowledged, started_by=dict(sorted(started_by[(name, owed_by)].items()))))
    return tuple(rows)


def _index(order: list[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def human(seconds: int | None) -> str:
    """A duration for people: "2d 4h", "3h 12m", "45m", "30s"; "-" for none."""
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"
