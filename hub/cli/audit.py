"""`passerelle audit`: the audit log."""

from __future__ import annotations

from pathlib import Path

import click

from .common import fail, home_option, load_settings


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
