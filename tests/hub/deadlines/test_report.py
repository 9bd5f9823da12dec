"""The deadline report: counts per partner and direction, the due second, response times, filters, formats."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub import home as home_mod
from hub.cli.main import main
from hub.deadlines.report import LEGAL_BASIS, UnknownPartner, deadlines, human, percentiles
from hub.settings import load
from store import Database, Deadline, Message, Partner
from tests.support import stores
from crypto.openpgp.gpg_process import stop_agent

NOW = datetime(2026, 4, 15, 10, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc)
DUE = datetime(2026, 4, 5, 12, 0, tzinfo=timezone.utc)  # the boundary partner's due time
SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)


class Store:
    """Writes partners, requests and their clocks straight into the store."""

    def __init__(self, uow) -> None:
        self.uow, self.n = uow, 0

    def partner(self, name: str, kind: str) -> int:
        self.n += 1
        p = Partner(name=name, kind=kind, email=f"{name}@partner.test", fingerprint=f"{self.n:040X}",
                    key_created_at=T0, key_revoked=False, created_at=T0, updated_at=T0)
        self.uow.session.add(p)
        self.uow.session.flush()
        return p.id

    def clock(self, partner_id: int, owed_by: str, urgency: str, started: datetime, *, due: datetime,
              answered: datetime | None = None) -> None:
        self.n += 1
        m = Message(reference=f"T-{self.n}", direction="inbound" if owed_by == "ocam" else "outbound",
                    partner_id=partner_id, rfc_message_id=f"<{self.n}@ocam.test>", body_digest="0" * 64, size=1,
                    encrypted=True, mail_from="x@partner.test", kind="request", urgency=urgency,
                    urgency_source="protected", fields={}, links={}, received_at=started, due_at=due,
                    state="processed", receipt_status="sent")
        self.uow.session.add(m)
        self.uow.session.flush()
        self.uow.session.add(Deadline(
            message_id=m.id, partner_id=partner_id, owed_by=owed_by, urgency=urgency, started_at=started,
            started_by="receipt", due_at=due, state="answered" if answered else "open", answered_at=answered,
            on_time=None if answered is None else answered <= due, reminders_sent=0))


def _fill(uow) -> None:
    s = Store(uow)
    police = s.partner("police-fed", "police")
    s.clock(police, "ocam", "FLASH", T0, due=T0 + DAY, answered=T0 + 3 * HOUR)
    s.clock(police, "ocam", "FLASH", T0, due=T0 + DAY, answered=T0 + 25 * HOUR)
    s.clock(police, "ocam", "URGENT", T0, due=datetime(2099, 1, 1, tzinfo=timezone.utc))
    s.clock(police, "ocam", "ROUTINE", T0, due=datetime(2026, 4, 10, tzinfo=timezone.utc))
    s.clock(police, "partner", "URGENT", T0, due=T0 + 3 * DAY, answered=T0 + 2 * DAY)
    customs = s.partner("douane", "customs")
    s.clock(customs, "ocam", "ROUTINE", T0, due=DUE, answered=DUE)
    s.clock(customs, "ocam", "ROUTINE", T0, due=DUE, answered=DUE + SECOND)
    s.clock(customs, "partner", "ROUTINE", T0, due=DUE)
    vsse = s.partner("surete", "intelligence")
    for hours in range(1, 11):
        s.clock(vsse, "partner", "FLASH", T0, due=T0 + DAY, answered=T0 + hours * HOUR)
    s.clock(vsse, "partner", "URGENT", T0, due=T0 + 3 * DAY, answered=T0 + 2 * DAY + 4 * HOUR)
    s.clock(vsse, "partner", "NON-URGENT", T0, due=T0 + 30 * DAY)
    # Brussels leaves winter time on 2026-03-29: that day is 23 hours long.
    defence = s.partner("defense", "designated")
    for started in ("2026-03-28T22:59:59", "2026-03-28T23:00:00", "2026-03-29T21:59:59", "2026-03-29T22:00:00"):
        at = datetime.fromisoformat(started).replace(tzinfo=timezone.utc)
        s.clock(defence, "ocam", "ROUTINE", at, due=at + 10 * DAY, answered=at + HOUR)


@pytest.fixture(scope="module")
def home():
    root = Path(tempfile.mkdtemp(prefix="pr"))
    try:
        home_mod.init(root / "hub", "ocam.test", store_url=stores.home_store_url())
        db = Database(load(root / "hub").database_url)
        with db.unit_of_work() as uow:
            _fill(uow)
            uow.commit()
        db.dispose()
        yield root / "hub"
    finally:
        stop_agent(root / "hub" / "gnupg")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def db(home):
    database = Database(load(home).database_url)
    yield database
    database.dispose()


def compute(db, **kwargs):
    with db.reader() as uow:
        return deadlines(uow.session, **{"now": NOW, **kwargs})


def rows(result) -> dict[tuple[str, str], object]:
    return {(r.partner, r.direction): r for r in result.rows}


def figures(row) -> tuple[int, ...]:
    return row.requests, row.answered_on_time, row.answered_late, row.open, row.overdue


def run(home, *args: str):
    return CliRunner().invoke(main, ["report", "deadlines", "--home", str(home), *args])


def test_counts_per_partner_and_direction(db):
    """Requests OCAM owes and requests a partner owes are separate rows, each with its five counts."""
    by = rows(compute(db, partner="police-fed"))
    assert list(by) == [("police-fed", "to OCAM"), ("police-fed", "from OCAM")]
    assert figures(by["police-fed", "to OCAM"]) == (4, 1, 1, 1, 1)
    assert figures(by["police-fed", "from OCAM"]) == (1, 1, 0, 0, 0)


def test_the_due_second_is_on_time_and_the_next_is_late(db):
    """An answer at the due second is on time, one second later late; an open clock is overdue from due + 1 s."""
    at_due = rows(compute(db, partner="douane", now=DUE))
    assert figures(at_due["douane", "to OCAM"]) == (2, 1, 1, 0, 0)
    assert figures(at_due["douane", "from OCAM"]) == (1, 0, 0, 1, 0)
    after = rows(compute(db, partner="douane", now=DUE + SECOND))
    assert figures(after["douane", "from OCAM"]) == (1, 0, 0, 0, 1)


def test_median_and_p90_response_times_by_urgency(db):
    """Median and nearest-rank p90 of answered clocks per urgency; none where nothing was answered."""
    (row,) = compute(db, partner="surete").rows
    times = {u.urgency: u for u in row.urgencies}
    assert [u.urgency for u in row.urgencies] == ["FLASH", "URGENT", "ROUTINE", "NON-URGENT"]
    assert (times["FLASH"].answered, times["FLASH"].median_seconds, times["FLASH"].p90_seconds) == (10, 19800, 32400)
    assert (times["URGENT"].median_seconds, times["URGENT"].p90_seconds) == (2 * 86400 + 4 * 3600,) * 2
    assert (times["NON-URGENT"].requests, times["NON-URGENT"].median_seconds, times["NON-URGENT"].p90_seconds) \
        == (1, None, None)
    assert percentiles([5, 1, 3]) == (3, 5) and percentiles([]) == (None, None)


def test_human_durations():
    """The table shows durations as days and hours, hours and minutes, minutes, or seconds."""
    assert [human(s) for s in (None, 30, 45 * 60, 3 * 3600 + 12 * 60, 2 * 86400 + 4 * 3600)] \
        == ["-", "30s", "45m", "3h 12m", "2d 4h"]


@pytest.mark.parametrize("since, until, expected", [
    (date(2026, 3, 29), date(2026, 3, 29), 2), (None, date(2026, 3, 28), 1), (date(2026, 3, 30), None, 1),
    (date(2026, 3, 28), date(2026, 3, 30), 4),
])
def test_period_is_brussels_calendar_days(db, since, until, expected):
    """--since is inclusive from Brussels midnight, --until includes its whole Brussels day (DST day too)."""
    (row,) = compute(db, partner="defense", since=since, until=until).rows
    assert row.requests == expected


def test_cli_period_filter_and_unknown_partner(home, db):
    """The CLI filters by period; an unknown partner or a reversed period is a clear error."""
    out = json.loads(run(home, "--since", "2026-03-29", "--until", "2026-03-29", "--format", "json").output)
    assert [(r["partner"], r["requests"]) for r in out] == [("defense", 2)]
    assert "No deadline started in this period." in run(home, "--since", "2030-01-01").output
    unknown = run(home, "--partner", "nobody")
    assert unknown.exit_code == 2 and "no partner named 'nobody'" in unknown.output
    reversed_ = run(home, "--since", "2026-04-02", "--until", "2026-04-01")
    assert reversed_.exit_code == 2 and "before it starts" in reversed_.output
    with pytest.raises(UnknownPartner):
        compute(db, partner="nobody")


def test_json_output(home):
    """JSON is a list of rows with stable keys; the partner filter keeps only that partner."""
    result = run(home, "--format", "json", "--partner", "police-fed")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(r["partner"], r["direction"]) for r in out] == [("police-fed", "to OCAM"), ("police-fed", "from OCAM")]
    assert set(out[0]) == {"partner", "direction", "requests", "answered_on_time", "answered_late", "open",
                           "overdue", "not_acknowledged", "started_by", "urgencies"}
    assert out[0]["started_by"] == {"receipt": 4}
    assert out[0]["requests"] == 4 and out[0]["open"] + out[0]["overdue"] == 2
    flash = out[0]["urgencies"][0]
    assert flash == {"urgency": "FLASH", "requests": 2, "answered": 2, "median_seconds": 14 * 3600,
                     "p90_seconds": 25 * 3600}


def test_csv_output(home):
    """CSV has a header and one line per partner, direction and urgency, with the row's counts repeated."""
    result = run(home, "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.output)))
    assert len(lines) == 6 * 4  # police-fed, douane (both directions), surete, defense; four urgencies each
    surete = {r["urgency"]: r for r in lines if r["partner"] == "surete"}
    assert surete["FLASH"]["requests"] == surete["ROUTINE"]["requests"] == "12"
    assert (surete["FLASH"]["median_seconds"], surete["FLASH"]["p90_seconds"]) == ("19800", "32400")
    assert surete["ROUTINE"]["median_seconds"] == "" and surete["ROUTINE"]["urgency_requests"] == "0"


def test_table_output(home):
    """The table fits 80 columns, names every partner, and states period, computing time and legal basis."""
    result = run(home, "--until", "2026-04-30")
    assert result.exit_code == 0, result.output
    text = result.output
    for name in ("police-fed", "douane", "surete", "defense"):
        assert name in text
    assert "first record to 2026-04-30 (Brussels dates, clocks started)" in text and LEGAL_BASIS in text
    assert "computed at  20" in text and ("CET" in text or "CEST" in text)
    assert "5h 30m" in text and max(len(line) for line in text.splitlines()) <= 80
