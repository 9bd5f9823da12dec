"""When a clock needs attention: reminders at fractions of the window, at the due time, escalation, daily after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .windows import LATE


@dataclass(frozen=True)
class Step:
    """The n-th action on a clock: a reminder, or the escalation of an overdue one."""

    index: int
    at: datetime
    kind: str  # reminder | due | escalation | overdue-reminder


@dataclass(frozen=True)
class Skipped:
    """Steps that passed while the hub could not act, as one record: how many, the first and the last."""

    count: int
    first: Step
    last: Step


def _points(started_at: datetime, due_at: datetime, fractions: list[float]) -> list[tuple[datetime, str]]:
    """The fixed steps, in time order: the reminders, the due time, the escalation at the first late instant."""
    window = due_at - started_at
    points = [(started_at + window * f, "reminder") for f in sorted(f for f in fractions if 0 < f < 1)]
    return points + [(due_at, "due"), (due_at + LATE, "escalation")]


def steps(started_at: datetime, due_at: datetime, fractions: list[float], every: timedelta, n: int) -> Step:
    """The n-th step (0-based) of a clock's life."""
    points = _points(started_at, due_at, fractions)
    if n < len(points):
        at, kind = points[n]
        return Step(n, at, kind)
    return Step(n, due_at + LATE + every * (n - len(points) + 1), "overdue-reminder")


def last_passed(started_at: datetime, due_at: datetime, fractions: list[float], every: timedelta,
                now: datetime) -> int:
    """The index of the last step at or before *now* (-1 for none), counted, never walked: a due time years
    in the past costs as little as one a minute ago."""
    points = _points(started_at, due_at, fractions)
    fixed = sum(1 for at, _kind in points if at <= now)
    if fixed < len(points):
        return fixed - 1
    return len(points) - 1 + (now - (due_at + LATE)) // every


def catch_up(started_at: datetime, due_at: datetime, fractions: list[float], every: timedelta, done: int,
             now: datetime) -> tuple[list[Step], Skipped | None, int]:
    """Steps to perform now, the steps passed while the hub could not act (one record), and the next index.

    After a restart only the latest passed step is performed — nothing is missed, nothing is sent
    twice, and a partner does not get three reminders in one minute — but an escalation that was
    passed is always performed.
    """
    last = last_passed(started_at, due_at, fractions, every, now)
    if last < done:
        return [], None, done
    escalation = len(_points(started_at, due_at, fractions)) - 1
    perform = [steps(started_at, due_at, fractions, every, escalation)] if done <= escalation < last else []
    perform.append(steps(started_at, due_at, fractions, every, last))
    passed = last - done + 1
    if passed == len(perform):
        return perform, None, last + 1
    first = done if done != escalation else done + 1
    final = last - 1 if last - 1 != escalation else last - 2
    skipped = Skipped(passed - len(perform), steps(started_at, due_at, fractions, every, first),
                      steps(started_at, due_at, fractions, every, final))
    return perform, skipped, last + 1
