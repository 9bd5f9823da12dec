"""`passerelle audit`: the audit log — its chain checked, its events listed for whoever may read them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from hub.clock import BRUSSELS, brussels

from .common import acting, fail, home_option, load_settings, signer_option

EVIDENCE = ("statement", "signature")  # an act's signed statement: shown in --json, marked in the table


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@home_option
def audit_verify(home: Path) -> None:
    """Check that no audit event was altered or removed (hash chain)."""
    from store import Database

    settings = load_settings(home)
    db = Database(settings.database_url)
    with db.reader() as uow:
        broken = uow.audit.verify_chain()
    db.dispose()
    if broken is not None:
        fail(f"audit chain broken at event {broken}")
    click.echo("audit chain intact")


def _since(value: str | None) -> datetime | None:
    """YYYY-MM-DD (the start of that day in Brussels) or an ISO time (Brussels unless it names its zone)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r}: give a date like 2026-01-31 or a time like 2026-01-31T12:00+01:00")
    return (moment if moment.tzinfo else moment.replace(tzinfo=BRUSSELS)).astimezone(timezone.utc)


@audit.command("list")
@home_option
@click.option("--ref", "reference", help="Only the events of this message (PSR-…).")
@click.option("--actor", help="Only the events of this actor (a member's name, hub, ...).")
@click.option("--action", help="Only the events of this action (e.g. message.opened).")
@click.option("--since", help="Only the events from this date (YYYY-MM-DD, Brussels) or ISO time on.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="At most this many events, the most recent.")
@click.option("--json", "as_json", is_flag=True, help="JSON (times in UTC), with each act's signed statement.")
@signer_option()
def audit_list(home: Path, reference: str | None, actor: str | None, action: str | None, since: str | None,
               limit: int, as_json: bool, signer_home: Path | None) -> None:
    """The audit log's events, oldest first (times in Europe/Brussels): the whole log for the director and the
    deputy, the record of their own acts for every other member; the reading is a signed act, recorded."""
    from hub.acts import journal

    start = _since(since)
    with acting(home, signer_home) as (_settings, db, _gpg, clock, by), db.unit_of_work() as uow:
        events = journal.read(uow, clock, by, reference=reference, actor=actor, action=action, since=start,
                              limit=limit)
        rows = [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                 "reference": e.message_ref, "detail": e.detail} for e in events]
        uow.commit()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no audit event matches")
    for r in rows:
        detail = {k: v for k, v in r["detail"].items() if k not in EVIDENCE}
        signed = " [signed]" if "signature" in r["detail"] else ""
        click.echo(f"{r['id']:>8}  {brussels(datetime.fromisoformat(r['at']))}  {r['actor']:<20} {r['action']:<28} "
                   f"{r['reference'] or '-':<16} {json.dumps(detail, ensure_ascii=False, sort_keys=True)}{signed}")
