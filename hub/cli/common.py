"""What every command group shares: the --home option (and the demo's and benchmarks', where their temporary hub
is made), loading the settings, failing with a sentence, and opening a hub's store and keys for one command."""

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



def _made_within(_ctx, _param, value: Path | None) -> Path | None:
    if value is not None:
        value.mkdir(parents=True, exist_ok=True)
    return value


# `demo` and `bench` build a hub of their own and remove it when done; they never open a hub's home. Their --home
# names where that temporary hub is made (a new directory inside DIR); PASSERELLE_HOME is not read.
scratch_option = click.option(
    "--home", "within", type=click.Path(file_okay=False, path_type=Path), default=None, callback=_made_within,
    help="Where the temporary hub is made: a new directory inside DIR, removed at the end (default: the system's "
         "temporary directory). A hub's own home is never opened.",
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
