"""What every command group shares: the --home option, loading the settings, failing with a sentence, and
opening a hub's store and keys for one command."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from hub import home as home_mod
from hub.clock import SystemClock
from hub.errors import EmbargoError, HubError, PartnerError
from hub.ops import logs

home_option = click.option(
    "--home", "home", type=click.Path(file_okay=False, path_type=Path), envvar="PASSERELLE_HOME",
    default="var", show_default=True, help="Passerelle home directory (or PASSERELLE_HOME).",
)


def load_settings(home: Path, **overrides):
    from hub.settings import load

    settings = load(home, **overrides)
    try:
        home_mod.require(settings)
    except HubError as exc:
        fail(str(exc))
    logs.from_settings(settings.log.format)
    return settings


def fail(message: str) -> None:
    logs.announce(message, level=logging.ERROR)
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
