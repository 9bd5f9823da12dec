"""What every command group shares: the --home option, loading the settings, failing with a sentence, and
opening a hub's store and keys for one command."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from hub import home as home_mod
from hub.clock import SystemClock
from hub.errors import EmbargoError, HubError, PartnerError

home_option = click.option(
    "--home", "home", type=click.Path(file_okay=False, path_type=Path), envvar="PASSERELLE_HOME",
    default="var", show_default=True, help="Passerelle home directory (or PASSERELLE_HOME).",
)


def load_settings(home: Path, **overrides):
    from pydantic import ValidationError

    from hub.settings import load

    try:
        settings = load(home, **overrides)
    except ValidationError as exc:  # a sentence per problem, not a traceback
        fail("settings: " + "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"
                                      for e in exc.errors()))
    try:
        home_mod.require(settings)
    except HubError as exc:
        fail(str(exc))
    return settings


def fail(message: str) -> None:
    click.echo(f"passerelle: {message}", err=True)
    sys.exit(2)


@contextmanager
def opened(home: Path):
    """(settings, db, hub gpg, clock) for one command; the database is disposed of afterwards."""
    from hub.home import open_gpg
    from store import Database

    settings = load_settings(home)
    db = Database(settings.database_url)
    try:
        yield settings, db, open_gpg(settings), SystemClock()
    except (PartnerError, EmbargoError) as exc:
        fail(str(exc))
    finally:
        db.dispose()
