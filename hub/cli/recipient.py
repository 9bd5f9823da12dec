"""`passerelle recipient`: recipients of evaluations beyond the support services (law Art. 10)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.registry import recipients as recipients_mod
from .common import acting, fail, home_option, load_settings, signer_option
from hub.registry.clearances import CLEARANCES
from hub.registry.partners import PARTNER_KINDS


def _row(r) -> dict:
    return {"name": r.name, "type": r.type, "email": r.email, "fingerprint": r.fingerprint, "clearance": r.clearance,
            "oversees": list(r.oversees or []), "basis": r.basis}


@click.group()
def recipient() -> None:
    """Recipients of evaluations: National Security Council, Crisis Centre, prosecutors, ministers, ..."""


@recipient.command("add")
@home_option
@click.argument("name")
@click.option("--type", "type_", required=True, type=click.Choice(recipients_mod.RECIPIENT_TYPES))
@click.option("--email", required=True)
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clearance", required=True, type=click.Choice(CLEARANCES, case_sensitive=False))
@click.option("--oversees", multiple=True, type=click.Choice(PARTNER_KINDS),
              help="For a minister: the support services under it (repeat).")
@click.option("--basis", help="For a public authority: its need to know (law Art. 10 §1 f)).")
@signer_option()
def recipient_add(home: Path, name: str, type_: str, email: str, key_file: Path, clearance: str,
                  oversees: tuple[str, ...], basis: str | None, signer_home: Path | None) -> None:
    """Register NAME with its address, key and security clearance (under the director's or the deputy's
    signature)."""
    with acting(home, signer_home) as (_settings, db, gpg, clock, by), db.unit_of_work() as uow:
        r = recipients_mod.add(uow, gpg, clock, by, name=name, type=type_, email=email,
                               key_data=key_file.read_bytes(), clearance=clearance.upper(), oversees=list(oversees),
                               basis=basis)
        uow.commit()
        click.echo(f"registered {r.name} ({r.type}, cleared {r.clearance}) <{r.email}> key {r.fingerprint}")


@recipient.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True)
def recipient_list(home: Path, as_json: bool) -> None:
    """List the registered recipients."""
    from store import Database

    db = Database(load_settings(home).database_url)
    with db.reader() as uow:
        rows = [_row(r) for r in uow.recipients.all()]
    db.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['name']:<22} {r['type']:<20} {r['clearance']:<12} {r['email']}")


@recipient.command("show")
@home_option
@click.argument("name")
def recipient_show(home: Path, name: str) -> None:
    """One recipient, as JSON."""
    from store import Database

    db = Database(load_settings(home).database_url)
    with db.reader() as uow:
        r = uow.recipients.by_name(name)
        row = _row(r) if r else None
    db.dispose()
    if row is None:
        fail(f"no recipient named {name!r}")
    click.echo(json.dumps(row, indent=2, ensure_ascii=False))
