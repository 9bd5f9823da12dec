"""When a clock needs attention: reminders at fractions of the window, at the due time, escalation, daily after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

LATE = timedelta(seconds=1)  # exactly at due_at is on time; one second later is late (AR Art. 11 §3)


@dataclass(frozen=True)
class Step:
    """The n-th action on a clock: a reminder, or the escalation of an overdue one."""

    index: int
    at: datetime
    kind: str  # reminder | due | escalation | overdue-reminder


def steps(started_at: datetime, due_at: datetime, fractions: list[float], every: timedelta, n: int) -> Step:
    """The n-th step (0-based) of a clock's life."""
    window = due_at - started_at
    points = [(started_at + window * f, "reminder") for f in sorted(f for f in fractions if 0 < f < 1)]
    points += [(due_at, "due"), (due_at + LATE, "escalation")]
    if n < len(points):
        at, kind = points[n]
        return Step(n, at, kind)
    return Step(n, due_at + LATE + every * (n - len(points) + 1), "overdue-reminder")


def catch_up(started_at: datetime, due_at: datetime, fractions: list[float], every: timedelta, done: int,
             now: datetime) -> tuple[list[Step], list[Step], int]:
    """Steps to perform now, steps passed while the hub could not act, and the next step's index.

    After a restart only the latest passed step is performed — nothing is missed, nothing is sent
    twice, and a partner does not get three reminders in one minute — but an escalation that was
    passed is always performed.
    """
    passed: list[Step] = []
    n = done
    while (step := steps(started_at, due_at, fractions, every, n)).at <= now:
        passed.append(step)
        n += 1
    if not passed:
        return [], [], done
    perform = [s for s in passed[:-1] if s.kind == "escalation"] + [passed[-1]]
    skipped = [s for s in passed if s not in perform]
    return perform, skipped, n
