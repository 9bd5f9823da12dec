"""Which store the tests run on: SQLite (default) or PostgreSQL (PASSERELLE_TEST_STORE=postgresql).

On PostgreSQL every home and every store test gets a fresh database, copied from a template
migrated once per session; the databases a test (or a module) made are dropped after it.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from . import postgres

BACKEND = os.environ.get("PASSERELLE_TEST_STORE", "sqlite").lower()
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"PASSERELLE_TEST_STORE must be sqlite or postgresql, not {BACKEND!r}")

TEMPLATE = "passerelle_template"
_names = itertools.count(1)
_template_ready = False
created: list[str] = []  # databases made and not yet dropped, oldest first

only_sqlite = pytest.mark.skipif(BACKEND == "postgresql", reason="SQLite-specific (file, WAL pragmas or file locks)")


def on_postgres() -> bool:
    return BACKEND == "postgresql"


def _template() -> str:
    global _template_ready
    server = postgres.shared()
    if not _template_ready:
        from store import Database, upgrade

        server.create_database(TEMPLATE)
        database = Database(server.url(TEMPLATE))
        upgrade(database.engine)
        database.dispose()
        _template_ready = True
    return TEMPLATE


def fresh_postgres(*, migrated: bool = True) -> str:
    """A new PostgreSQL database on the session's server (at the migration head unless told otherwise)."""
    name = f"t{os.getpid()}_{next(_names)}"
    url = postgres.shared().create_database(name, template=_template() if migrated else None)
    created.append(name)
    return url


def fresh_url(directory: Path, name: str = "p.db", *, migrated: bool = True) -> str:
    """A store URL for a test: an SQLite file *name* in *directory* (not migrated), or a fresh PG database."""
    if on_postgres():
        return fresh_postgres(migrated=migrated)
    return f"sqlite:///{directory / name}"


def home_store_url() -> str | None:
    """The store a new hub home records: None (its own SQLite file) or a fresh, migrated PG database."""
    return fresh_postgres() if on_postgres() else None


def drop_since(mark: int) -> None:
    """Drop the databases made since ``len(created)`` was *mark*."""
    while len(created) > mark:
        postgres.shared().drop_database(created.pop())


def copy_store(url: str, directory: Path) -> str:
    """A copy of the (idle) store at *url*: an SQLite file in *directory* (the backup API), or a PG database made
    from it as a template (nobody may be connected to it)."""
    if url.startswith("sqlite"):
        import sqlite3

        target = directory / "passerelle.db"
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        return f"sqlite:///{target}"
    name = f"t{os.getpid()}_{next(_names)}"
    created.append(name)
    return postgres.shared().create_database(name, template=url.rsplit("/", 1)[1])
