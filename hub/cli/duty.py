"""`passerelle duty`: the duty officer's acts from the command line — the same ones, signed and recorded the same
way, as the dashboard's `a` and `r` (hub/acts/duty.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.acts import duty as acts
from hub.clock import brussels
from hub.errors import NotActionable

from .common import acting, fail, home_option, load_settings, signer_option


@click.group()
def duty() -> None:
    """Alerts, quarantined items and failed deliveries: see them, acknowledge, requeue, retry."""


def _database(home: Path):
    from store import Database

    return Database(load_settings(home).database_url)


@duty.command("alerts")
@home_option
@click.option("--json", "as_json", is_flag=True, help="JSON (times in UTC).")
def duty_alerts(home: Path, as_json: bool) -> None:
    """Alerts nobody acknowledged yet, newest first."""
    db = _database(home)
    try:
        alerts = acts.open_alerts(db)
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps([{"id": a.event_id, "at": a.at.isoformat(), "alert": a.action, "reference": a.reference}
                               for a in alerts], indent=2))
        return
    if not alerts:
        click.echo("no open alert")
    for a in alerts:
        click.echo(f"{a.event_id:>8}  {brussels(a.at)}  {a.action.removeprefix('alert.'):<28} {a.reference or '-'}")


@duty.command("stuck")
@home_option
def duty_stuck(home: Path) -> None:
    """Quarantined items and deliveries that failed for good."""
    db = _database(home)
    try:
        items = acts.stuck(db)
    finally:
        db.dispose()
    if not items:
        click.echo("nothing quarantined, no failed delivery")
    for i in items:
        click.echo(f"{i.what:<16} {i.id:>8}  {i.where:<32} {i.why}")


def _act(home: Path, signer_home: Path | None, act, target: int, done: str) -> None:
    with acting(home, signer_home) as (_settings, db, _gpg, clock, by):
        try:
            what = act(db, clock, target, by)
        except NotActionable as exc:
            fail(str(exc))
    click.echo(done.format(target=target, what=what))


@duty.command("ack")
@home_option
@click.argument("event_id", type=int)
@signer_option()
def duty_ack(home: Path, event_id: int, signer_home: Path | None) -> None:
    """Acknowledge the alert EVENT_ID (signed by you, recorded under your name)."""
    _act(home, signer_home, acts.acknowledge_alert, event_id, "alert {target} ({what}) acknowledged")


@duty.command("requeue")
@home_option
@click.argument("item_id", type=int)
@signer_option()
def duty_requeue(home: Path, item_id: int, signer_home: Path | None) -> None:
    """Put the quarantined item ITEM_ID back in its queue (signed by you, recorded under your name)."""
    _act(home, signer_home, acts.requeue, item_id, "item {target} back in the {what} queue")


@duty.command("retry")
@home_option
@click.argument("delivery_id", type=int)
@signer_option()
def duty_retry(home: Path, delivery_id: int, signer_home: Path | None) -> None:
    """Try the failed delivery DELIVERY_ID again from the start of its back-off (signed by you, recorded under your
    name)."""
    _act(home, signer_home, acts.retry_delivery, delivery_id, "delivery {target} to {what} queued again")
