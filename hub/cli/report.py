"""`passerelle report`: oversight figures — `report deadlines`, answers on time and late per partner."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import click

from .common import fail, home_option, load_settings
from hub.clock import SystemClock, brussels

CSV_COLUMNS = ("partner", "direction", "requests", "answered_on_time", "answered_late", "open", "overdue",
               "not_acknowledged", "started_by", "urgency", "urgency_requests", "urgency_answered", "median_seconds",
               "p90_seconds")

date_type = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def report() -> None:
    """Reports for the director and the oversight bodies."""


@report.command("deadlines")
@home_option
@click.option("--since", type=date_type, help="First Brussels calendar day (YYYY-MM-DD) of clocks started.")
@click.option("--until", type=date_type, help="Last Brussels calendar day (YYYY-MM-DD), included.")
@click.option("--partner", "partner", metavar="NAME", help="Only this partner (its registered name).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def report_deadlines(home: Path, since: datetime | None, until: datetime | None, partner: str | None,
                     fmt: str) -> None:
    """Answers owed, on time, late, open and overdue per partner and direction.

    A row is a partner and a direction: "to OCAM" (the partner asked, OCAM owes the
    answer) or "from OCAM" (OCAM asked, the partner owes it). A clock counts in the
    period when it started in it. An answer exactly at the due time is on time, one
    second later is late (AR Art. 11 §3); an open clock is overdue once past its due time.
    Response time is from the start of the clock to the answer.

    \b
    json: a list of objects with keys partner, direction, requests,
      answered_on_time, answered_late, open, overdue, not_acknowledged,
      started_by (clocks by what started them: receipt, mdn, dsn, relay), and urgencies: a list
      of {urgency, requests, answered, median_seconds, p90_seconds}.
    csv: one line per partner, direction and urgency, columns
      partner, direction, requests, answered_on_time, answered_late, open,
      overdue, not_acknowledged, started_by as "dsn=3 mdn=1" (the row's counts, repeated),
      urgency, urgency_requests,
      urgency_answered, median_seconds, p90_seconds (empty when nothing
      was answered). Times in whole seconds; p90 is nearest-rank.
    """
    from store import Database

    from hub.errors import HubError
    from hub.deadlines.report import deadlines

    db = Database(load_settings(home).database_url)
    try:
        with db.reader() as uow:
            result = deadlines(uow.session, now=SystemClock().now(), since=since.date() if since else None,
                               until=until.date() if until else None, partner=partner)
    except HubError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    click.echo({"table": as_table, "json": as_json, "csv": as_csv}[fmt](result), nl=fmt != "csv")


def as_json(result) -> str:
    return json.dumps([asdict(row) for row in result.rows], indent=2, ensure_ascii=False)


def as_csv(result) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in result.rows:
        counts = (row.partner, row.direction, row.requests, row.answered_on_time, row.answered_late, row.open,
                  row.overdue, row.not_acknowledged, _started(row, "=", " "))
        for u in row.urgencies:
            writer.writerow((*counts, u.urgency, u.requests, u.answered,
                             "" if u.median_seconds is None else u.median_seconds,
                             "" if u.p90_seconds is None else u.p90_seconds))
    return out.getvalue()


def _started(row, between: str, joint: str) -> str:
    """What started the row's clocks (AR Art. 11 §2): "dsn 3, mdn 1" (the table), "dsn=3 mdn=1" (csv)."""
    return joint.join(f"{source}{between}{n}" for source, n in row.started_by.items())


def as_table(result) -> str:
    from hub.deadlines.report import human

    period = f"{result.since or 'first record'} to {result.until or 'now'}"
    lines = [
        "Deadline report" + (f" for {result.partner}" if result.partner else ""),
        f"  period       {period} (Brussels dates, clocks started)",
        f"  computed at  {brussels(result.computed_at)}",
        f"  legal basis  {result.legal_basis}",
        "",
    ]
    if not result.rows:
        return "\n".join([*lines, "No deadline started in this period."])
    lines.append(f"{'partner':<18} {'direction':<10} {'requests':>8} {'on time':>7} {'late':>5} {'open':>5} "
                 f"{'overdue':>7} {'not ack.':>8}")
    for row in result.rows:
        lines.append(f"{row.partner:<18} {row.direction:<10} {row.requests:>8} {row.answered_on_time:>7} "
                     f"{row.answered_late:>5} {row.open:>5} {row.overdue:>7} {row.not_acknowledged:>8}")
        if row.started_by:
            lines.append(f"    clocks started by {_started(row, ' ', ', ')}")
        for u in row.urgencies:
            if u.requests:
                lines.append(f"    {u.urgency:<11} {u.requests:>5} req. {u.answered:>5} answered   "
                             f"median {human(u.median_seconds):>8}   p90 {human(u.p90_seconds):>8}")
    return "\n".join(lines)
