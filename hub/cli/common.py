"""What every command group shares: the --home option (and the demo's and benchmarks', where their temporary hub
is made), loading the settings, failing with a sentence, and opening a hub's store and keys for one command."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from hub import home as home_mod
from hub.clock import Clock, SystemClock
from hub.errors import (
    AccessRefused, EmbargoError, HubError, MessageNotFound, PartnerError, RetentionError, StatementError,
)
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
    logs.from_settings(settings.log.format)
    return settings


def fail(message: str) -> None:
    logs.announce(message, level=logging.ERROR)
    sys.exit(2)


def write_private(path: Path, data: bytes) -> None:
    """Write content a command opened to a new file only its owner can read (never over an existing one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def command_clock() -> Clock:
    """The clock of this command: the system's, or the one its caller handed over as the command's object
    (``main(args, obj=clock)``, how the tests travel in time); never settable from the command line."""
    context = click.get_current_context(silent=True)
    given = context.find_root().obj if context is not None else None
    return given if callable(getattr(given, "now", None)) else SystemClock()


@contextmanager
def opened(home: Path):
    """(settings, db, hub gpg, clock) for one command; the database is disposed of afterwards."""
    from hub.home import open_gpg
    from store import Database

    settings = load_settings(home)
    db = Database(settings.database_url)
    try:
        yield settings, db, open_gpg(settings), command_clock()
    except (PartnerError, EmbargoError, StatementError, RetentionError, AccessRefused, MessageNotFound) as exc:
        fail(str(exc))
    finally:
        db.dispose()
