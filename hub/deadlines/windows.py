"""The legal delays and their one reading in time: due times of every clock, and the one on-time rule.

The delays are the law's constants, not settings (AR Art. 11 §3 and §5, Art. 8; Art. 7 for a member of
the government). What "24 heures", "3 jours" and "un mois" mean is decided once, here (README, "Legal
rules and their readings"): hours are elapsed time; days and months are calendar days and months in
Europe/Brussels, at the same wall-clock time. Due times are whole seconds, and an answer is on time up to
the end of its due second.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from hub.clock import BRUSSELS
from hub.errors import DueRefused

if TYPE_CHECKING:
    from hub.settings import DeadlinesSection

LATE = timedelta(seconds=1)  # the first late instant is one second after the due second began


@dataclass(frozen=True)
class Delay:
    """A delay as the law counts it: elapsed time ("24 heures"), or calendar days or months in Brussels."""

    elapsed: timedelta = timedelta(0)
    days: int = 0
    months: int = 0

    def after(self, start: datetime) -> datetime:
        """The due time of a clock started at *start* (whole seconds, UTC)."""
        if self.elapsed:
            return _whole(start + self.elapsed)
        wall = start.astimezone(BRUSSELS).replace(tzinfo=None)
        if self.months:
            wall = _add_months(wall, self.months)
        return _whole(_instant(wall + timedelta(days=self.days)))

    @property
    def iso(self) -> str:
        """ISO 8601 as the receipt states it: PT24H, P3D, P1M."""
        if self.months:
            return f"P{self.months}M"
        if self.days:
            return f"P{self.days}D"
        seconds = int(self.elapsed.total_seconds())
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return "PT" + "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n) if seconds \
            else "PT0S"

    def __str__(self) -> str:
        if self.months:
            return f"{self.months} month{'s' * (self.months > 1)}"
        if self.days:
            return f"{self.days} day{'s' * (self.days > 1)}"
        return f"{self.elapsed.total_seconds() / 3600:g} h"


# AR Art. 11 §3 (answers to OCAM), §5 and Art. 8 (evaluations): the maximal delay of each urgency.
LEGAL = {"FLASH": Delay(elapsed=timedelta(hours=24)), "URGENT": Delay(days=3), "ROUTINE": Delay(days=10),
         "NON-URGENT": Delay(days=30)}
# AR Art. 7: an evaluation asked for by a member of the government, within the month of the request.
ONE_MONTH = Delay(months=1)


# The rule that set a due time, as an ASCII token for the receipt's machine-readable part.
RULES = {"AR Art. 11 §3": "AR-11-3", "AR Art. 11 §5": "AR-11-5", "AR Art. 8": "AR-8", "AR Art. 7": "AR-7",
         "law Art. 6 §1 al. 2": "LAW-6-1-2"}


@dataclass(frozen=True)
class Due:
    """A clock's due time and what set it, as the receipt, `messages show` and the report state it."""

    at: datetime
    basis: str            # e.g. "AR Art. 11 §3: URGENT, 3 days"
    delay: str            # the delay applied: "P3D", "PT24H", "P1M", or "until 2026-12-01T11:00:00Z"
    deviation: str | None = None  # the documented basis of a deviation from the law's delay
    legal: str | None = None      # with a deviation: the law's delay it replaces (P3D)

    @property
    def rule(self) -> str:
        """The article as an ASCII token: AR-11-3, AR-7, AR-8, LAW-6-1-2."""
        return next(token for article, token in RULES.items() if self.basis.startswith(article))

    @staticmethod
    def record(due: "Due | None") -> dict[str, str | None]:
        """The due time as the intake event records it at the 250 (the receipt's proof attests it)."""
        if due is None:
            return {"due_at": None}
        return {"due_at": due.at.isoformat(), "due_basis": due.basis, "due_delay": due.delay,
                "due_deviation": due.deviation, "due_legal": due.legal}

    @classmethod
    def from_record(cls, detail: dict) -> "Due | None":
        """The due time an intake event recorded (None: no clock runs)."""
        if not detail.get("due_at"):
            return None
        return cls(datetime.fromisoformat(detail["due_at"]), detail.get("due_basis") or "",
                   detail.get("due_delay") or "", detail.get("due_deviation"), detail.get("due_legal"))

    @property
    def field(self) -> str:
        """The delay as the receipt's machine-readable part states it (ASCII): "P3D; rule=AR-11-3", and for a
        deviation the law's delay it replaces: "P2D; rule=AR-11-3; deviation=yes; legal=P3D"."""
        return f"{self.delay}; rule={self.rule}" + (f"; deviation=yes; legal={self.legal}" if self.deviation else "")


def delay(urgency: str, deadlines: "DeadlinesSection") -> tuple[Delay, str | None]:
    """The delay of *urgency*: the law's, or the agreed shorter one of deadlines.deviation_windows with its
    basis (the second item, None for the law's)."""
    agreed = deadlines.deviation_windows.get(urgency)
    if agreed is None:
        return LEGAL[urgency], None
    return deviation_delay(urgency, agreed), deadlines.deviation_basis


def deviation_delay(urgency: str, agreed: timedelta) -> Delay:
    """A deviation read in the law's unit for that urgency: FLASH elapsed time, the others whole calendar days;
    raises ValueError for one that is not shorter than or equal to the law's, or not in whole days."""
    if urgency not in LEGAL:
        raise ValueError(f"deviation_windows: unknown urgency {urgency!r} (one of {', '.join(LEGAL)})")
    legal = LEGAL[urgency]
    if agreed <= timedelta(0):
        raise ValueError(f"deviation_windows.{urgency}: a delay must be positive")
    if legal.elapsed:
        if agreed > legal.elapsed:
            raise ValueError(f"deviation_windows.{urgency}: {agreed} is longer than the law's {legal} "
                             "(AR Art. 11 §3: a maximal delay)")
        return Delay(elapsed=agreed)
    if agreed % timedelta(days=1):
        raise ValueError(f"deviation_windows.{urgency}: the law counts {urgency} in days; give whole days (P2D)")
    if agreed.days > legal.days:
        raise ValueError(f"deviation_windows.{urgency}: {agreed.days} days is longer than the law's {legal} "
                         "(AR Art. 11 §3: a maximal delay)")
    return Delay(days=agreed.days)


def for_urgency(urgency: str, start: datetime, deadlines: "DeadlinesSection", *,
                article: str = "AR Art. 11 §3") -> Due:
    """The due time of a clock of *urgency* started at *start*: the law's window, or the agreed deviation."""
    applied, deviation = delay(urgency, deadlines)
    if deviation is None:
        return Due(applied.after(start), f"{article}: {urgency}, {applied}", applied.iso)
    return Due(applied.after(start), f"{article}: {urgency}, {applied} by deviation from {LEGAL[urgency]}",
               applied.iso, deviation, LEGAL[urgency].iso)


def inbound(*, kind: str, urgency: str, urgency_stated: bool, embargo: str | None, received_at: datetime,
            government: bool, reply_by: datetime | None, deadlines: "DeadlinesSection") -> Due | None:
    """The due time of what a partner sent, owed by OCAM; None when no clock runs.

    Only requests start a clock, at their acknowledgement (AR Art. 11 §2); embargoed information has no
    deadline (AR Art. 11 §5, last paragraph). A member of the government's request (AR Art. 7, with Art. 8)
    is due at its Reply-By when it names one ("sauf si le demandeur a précisé un autre délai"), else within
    the window of the urgency it states (Art. 8: the urgency "attribué par l'autorité gouvernementale"),
    else within one calendar month of its receipt.
    """
    if kind != "request" or embargo:
        return None
    if government:
        if reply_by is not None:
            return Due(_whole(reply_by), "AR Art. 7: the delay the requester named (Reply-By)",
                       f"until {_utc(reply_by)}")
        if urgency_stated:
            return for_urgency(urgency, received_at, deadlines, article="AR Art. 8")
        return Due(ONE_MONTH.after(received_at), "AR Art. 7: within the month of the request", ONE_MONTH.iso)
    return for_urgency(urgency, received_at, deadlines)


def outbound(*, urgency: str, named: datetime | None, started_at: datetime, deadlines: "DeadlinesSection",
             immediate: bool = False) -> Due:
    """The due time of OCAM's request, owed by the partner from its acknowledgement (AR Art. 11 §2-3).

    A due time OCAM named (checked within the urgency's window when it was sent, see check_named) stands,
    unless it passed before the partner acknowledged the request: a clock never starts overdue, so the
    urgency's window from the acknowledgement applies instead. A demand for immediate communication (law Art. 6
    §1 al. 2) is FLASH: within its 24 hours at the latest, or by the time the director named.
    """
    article = "law Art. 6 §1 al. 2" if immediate else "AR Art. 11 §3"
    if named is not None and _whole(named) > started_at:
        return Due(_whole(named), f"{article}: {urgency}, due time named by OCAM", f"until {_utc(named)}")
    return for_urgency(urgency, started_at, deadlines, article=article)


def check_named(named: datetime, *, urgency: str, now: datetime, deadlines: "DeadlinesSection") -> datetime:
    """A due time OCAM names for a request: in the future and within the urgency's window from now (the law's
    delays are maximal: a FLASH request is answered within 24 h, never 90 days). Returns it in whole seconds."""
    due = _whole(named.astimezone(timezone.utc))
    if due <= now:
        raise DueRefused(f"--due {_utc(named)} is not in the future (now {_utc(now)})")
    limit = for_urgency(urgency, now, deadlines)
    if due > limit.at:
        raise DueRefused(f"--due {_utc(named)} lies beyond the {urgency} window ({limit.basis}; at the latest "
                         f"{_utc(limit.at)}): choose the urgency whose window holds it")
    return due


def delivery(urgency: str, sent_at: datetime, deadlines: "DeadlinesSection") -> datetime:
    """When an evaluation of *urgency* must have been communicated (AR Art. 8, Art. 11 §5)."""
    return for_urgency(urgency, sent_at, deadlines, article="AR Art. 11 §5").at


def on_time(at: datetime, due_at: datetime) -> bool:
    """The one rule: an answer (or a delivery) is on time up to the end of its due second, late from the next.

    Used by the receipt, the deadline row, the evaluations that close a request, the deliveries and the
    report alike."""
    return at < due_at + LATE


def overdue_from(now: datetime) -> datetime:
    """Open clocks due at or before this instant are overdue at *now* (the same rule, for a query)."""
    return now - LATE


def _add_months(wall: datetime, months: int) -> datetime:
    """The same wall time *months* later; a day the month lacks becomes its last day (31 Jan -> 28 Feb)."""
    index = wall.month - 1 + months
    year, month = wall.year + index // 12, index % 12 + 1
    return wall.replace(year=year, month=month, day=min(wall.day, calendar.monthrange(year, month)[1]))


def _instant(wall: datetime) -> datetime:
    """A Brussels wall time as an instant. A wall time the clocks pass twice (end of October) or skip (end of
    March) is read as the later of its two readings: a maximal delay is never shortened by a clock change."""
    return max(wall.replace(tzinfo=BRUSSELS, fold=fold).astimezone(timezone.utc) for fold in (0, 1))


def _whole(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
