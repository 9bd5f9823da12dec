"""A consistent snapshot of the store, and loading one into an empty store.

SQLite: the online backup API, the file as it was at one instant while the hub keeps writing. PostgreSQL (or any
store, to move between the two): every table read in one repeatable-read, read-only transaction, as JSON lines —
each table headed by its columns and their kinds, its rows as arrays — loaded in foreign-key order into a store
migrated to the snapshot's revision, then upgraded to this code's head.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import JSON, Connection, DateTime, Engine, LargeBinary, MetaData, func, select, text
from sqlalchemy.engine import make_url

from hub.errors import BackupError

SKIPPED = {"alembic_version"}  # the revision travels in the manifest
_BATCH = 500


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL, or None for another store."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def sqlite_copy(source: Path, target: Path) -> None:
    """*source* as it is now, into the new file *target* (0600), through SQLite's online backup API: writers of
    the live store go on meanwhile; the copy is the state of one instant."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    live = sqlite3.connect(source)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def revision(connection: Connection) -> str | None:
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _kind(column_type: Any) -> str:
    if isinstance(column_type, DateTime):
        return "time"
    if isinstance(column_type, LargeBinary):
        return "bytes"
    if isinstance(column_type, JSON):
        return "json"
    return "plain"


def _encode(kind: str, value: Any) -> Any:
    if value is None or kind in ("plain", "json"):
        return value
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite keeps UTC without a zone
    return moment.astimezone(timezone.utc).isoformat()


def dump_lines(connection: Connection) -> Iterator[bytes]:
    """Every table of the store *connection* reads (inside its transaction), as JSON lines."""
    meta = MetaData()
    meta.reflect(connection)
    for table in meta.sorted_tables:
        if table.name in SKIPPED:
            continue
        columns = list(table.columns)
        kinds = [_kind(c.type) for c in columns]
        yield _line({"table": table.name, "columns": [c.name for c in columns], "kinds": kinds})
        rows = 0
        query = select(table).order_by(*table.primary_key.columns)
        for row in connection.execution_options(stream_results=True, yield_per=1000).execute(query):
            yield _line([_encode(kind, value) for kind, value in zip(kinds, row)])
            rows += 1
        yield _line({"end": table.name, "rows": rows})


def _line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class Loader:
    """Fed the JSON lines of a dump one by one, inserts them into the empty store *connection* is in a
    transaction on; `finish` checks every table ended with its row count and moves PostgreSQL's sequences."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.meta = MetaData()
        self.meta.reflect(connection)
        self.table = None
        self.columns: list[str] = []
        self.kinds: list[str] = []
        self.batch: list[dict[str, Any]] = []
        self.rows = 0
        self.loaded: dict[str, int] = {}

    def feed(self, line: bytes) -> None:
        value = json.loads(line)
        if isinstance(value, list):
            if self.table is None or len(value) != len(self.columns):
                raise BackupError("the store's dump has a row outside a table, or of the wrong width")
            self.batch.append({c: self._decode(k, v) for c, k, v in zip(self.columns, self.kinds, value)})
            self.rows += 1
            if len(self.batch) >= _BATCH:
                self._flush()
        elif "table" in value:
            if self.table is not None or value["table"] not in self.meta.tables:
                raise BackupError(f"the store's dump holds a table this store does not have: {value['table']!r}")
            self.table = self.meta.tables[value["table"]]
            self.columns, self.kinds, self.rows = list(value["columns"]), list(value["kinds"]), 0
            unknown = set(self.columns) - set(self.table.columns.keys())
            if unknown:
                raise BackupError(f"the dump's table {self.table.name} has columns this store lacks: {sorted(unknown)}")
        elif "end" in value:
            if self.table is None or value["end"] != self.table.name or value["rows"] != self.rows:
                raise BackupError("the store's dump is cut or out of order")
            self._flush()
            self.loaded[self.table.name] = self.rows
            self.table = None

    def _decode(self, kind: str, value: Any) -> Any:
        if value is None or kind in ("plain", "json"):
            return value
        if kind == "bytes":
            return base64.b64decode(value)
        moment = datetime.fromisoformat(value).astimezone(timezone.utc)
        return moment.replace(tzinfo=None) if self.sqlite else moment

    def _flush(self) -> None:
        if self.batch:
            self.connection.execute(self.table.insert(), self.batch)
            self.batch = []

    def finish(self) -> dict[str, int]:
        if self.table is not None:
            raise BackupError(f"the store's dump ends inside table {self.table.name}")
        if self.connection.dialect.name == "postgresql":
            for name in self.loaded:
                for column in self.meta.tables[name].primary_key.columns:
                    sequence = self.connection.execute(select(func.pg_get_serial_sequence(name, column.name))).scalar()
                    if sequence:
                        top = self.connection.execute(select(func.max(column))).scalar()
                        self.connection.execute(select(func.setval(sequence, top or 1, top is not None)))
        return dict(self.loaded)


def copy_tables(source: Engine, target: Connection) -> dict[str, int]:
    """Every table of *source* into the empty store *target* is in a transaction on (SQLite to PostgreSQL)."""
    loader = Loader(target)
    with source.connect() as connection:
        for line in dump_lines(connection):
            loader.feed(line)
    return loader.finish()
