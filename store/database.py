"""The engine, built at start-up from a URL: SQLite (WAL, full sync) or PostgreSQL; SQLite's in-process write lock."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from typing import TYPE_CHECKING, ContextManager, Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from .group import GroupCommit

if TYPE_CHECKING:
    from .uow import UnitOfWork

log = logging.getLogger(__name__)

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")  # files SQLite makes beside the database, with its mode


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


def canonical_json(value: object) -> str:
    """How JSON columns are written: keys sorted, no space, non-ASCII as itself — the audit log's leaf entries
    take an event's detail as stored, byte for byte (hub/audit/entries.py)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_engine(url: str, *, busy_timeout_seconds: float = 30.0, echo: bool = False,
                readonly: bool = False) -> Engine:
    """Build the engine for *url*; SQLite gets WAL, FULL sync and serialised writers.

    A *readonly* SQLite engine begins deferred transactions: its readers see a snapshot and never
    wait for the writer (WAL).
    """
    if url.startswith("sqlite"):
        _private_sqlite_files(url)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=canonical_json,
            connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False},
        )
        _configure_sqlite(engine, busy_timeout_seconds, "BEGIN" if readonly else "BEGIN IMMEDIATE")
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=10, json_serializer=canonical_json,
                           connect_args=_postgres_connect_args(url, busy_timeout_seconds))
    _ping_when_idle(engine)
    return engine


PING_IDLE_SECONDS = 1.0  # a pooled connection unused this long is pinged before it is handed out


def _ping_when_idle(engine: Engine) -> None:
    """A connection that lay in the pool PING_IDLE_SECONDS or more is pinged when taken out, and replaced if the
    server no longer answers (a restart, an idle timeout); one back in use within that time is not. Under load
    the pool's connections are reused within milliseconds: SQLAlchemy's ``pool_pre_ping`` pinged every checkout,
    8.6 of the 12.4 PostgreSQL transactions per message in `bench intake --amqp` (2026-12-03). A connection
    that died within the second fails its statement instead (the store unavailable: a 4xx, the batch retried),
    and SQLAlchemy then replaces every connection of the pool opened before it."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        since, why = record.info.get("idle_since"), "no answer"
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure of the ping: the connection is not to be used
            alive, why = False, type(exc).__name__
        if not alive:  # as pool_pre_ping: every connection opened before now is replaced (a server restart)
            raise InvalidatePoolError(f"a pooled connection did not answer its ping ({why})")


def _private_sqlite_files(url: str) -> None:
    """Make the SQLite file of *url* readable by its owner alone (0600), before SQLite opens it.

    SQLite creates the file from the umask (0644 by default), and later its -wal and -shm files with the
    mode of the database file: creating the file 0600 first makes all three private. A file or companion
    left 0644 by an earlier version is tightened (when this process owns it)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:  # no such directory, read-only: SQLite says so when it opens the file
        return
    for path in (database, *(database + suffix for suffix in SQLITE_COMPANIONS)):
        try:
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("store: %s is readable by others and not this process's to tighten", path)


def _postgres_connect_args(url: str, busy_timeout_seconds: float) -> dict[str, object]:
    """PostgreSQL: a bounded connect, and a lock wait bounded like SQLite's busy timeout (then a 4xx)."""
    if not url.startswith("postgresql"):
        return {}
    lock_ms = max(int(busy_timeout_seconds * 1000), 1)
    return {"connect_timeout": max(int(min(busy_timeout_seconds, 10)), 2), "options": f"-c lock_timeout={lock_ms}"}


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised via every test
        # Let SQLAlchemy's "begin" event emit BEGIN IMMEDIATE instead of pysqlite's lazy BEGIN:
        # writers then queue on the busy timeout instead of failing mid-transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # what an update or delete frees is zeroed (an erasure's bytes)
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.close()

    # The dialect's own begin hook (a no-op for pysqlite) emits it on the DBAPI connection: an error is
    # wrapped like any other (OperationalError -> StoreUnavailable), and no statement execution machinery
    # runs for it (a "begin" event with exec_driver_sql cost ~40 us per transaction).
    def _do_begin(dbapi_connection) -> None:  # pragma: no cover - exercised via every test
        dbapi_connection.execute(begin)

    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]


class WriteLock:
    """SQLite's one writer at a time, among this process's threads, with a lane ahead: a thread inside
    ``first()`` takes the lock before any thread waiting outside it (a FLASH item's transactions do not queue
    behind a ROUTINE backlog's). Within a lane, whichever waiting thread the scheduler wakes."""

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._held = False
        self._ahead = 0  # threads of the first lane waiting
        self.waiting = 0  # threads waiting, both lanes
        self._local = threading.local()

    @contextmanager
    def first(self) -> Iterator[None]:
        """This thread's transactions, while inside, go before those of the threads outside."""
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1

    def acquire(self) -> None:
        ahead = getattr(self._local, "depth", 0) > 0
        with self._state:
            self.waiting += 1
            try:
                if ahead:
                    self._ahead += 1
                    try:
                        while self._held:
                            self._state.wait()
                    except BaseException:  # interrupted while waiting: those it held back may go on
                        self._state.notify_all()
                        raise
                    finally:
                        self._ahead -= 1
                else:
                    while self._held or self._ahead:
                        self._state.wait()
            finally:
                self.waiting -= 1
            self._held = True

    def release(self) -> None:
        with self._state:
            self._held = False
            self._state.notify_all()

    def __enter__(self) -> "WriteLock":
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Database:
    """An engine and its session factory; one per process, built from settings."""

    def __init__(self, url: str, *, echo: bool = False, busy_timeout_seconds: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, busy_timeout_seconds=busy_timeout_seconds)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.read_engine = (make_engine(url, echo=echo, readonly=True, busy_timeout_seconds=busy_timeout_seconds)
                            if url.startswith("sqlite") else self.engine)
        self.read_sessions: sessionmaker[Session] = sessionmaker(self.read_engine, expire_on_commit=False,
                                                                  autoflush=False)
        # SQLite has one writer at a time, and its busy handler sleeps in steps of up to 100 ms while it
        # waits: under load that, not the work, sets the latency. Writers of this process queue on a
        # lock instead, which wakes the next one at once. Other processes still meet the busy timeout.
        self.write_lock: WriteLock | None = WriteLock() if self.dialect == "sqlite" else None
        # Short write jobs of this process's threads share transactions and commits (store/group.py).
        self.group = GroupCommit(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> "UnitOfWork":
        from .uow import UnitOfWork

        return UnitOfWork(self.sessions, self.write_lock)

    def writes_first(self) -> ContextManager[None]:
        """Around urgent work: this thread's transactions take the write lock before the other threads'
        (SQLite; PostgreSQL has row locks and no queue of this process's own to jump)."""
        return self.write_lock.first() if self.write_lock is not None else nullcontext()

    def reader(self) -> "UnitOfWork":
        """A unit of work for reading only: no write lock, never committed."""
        from .uow import UnitOfWork

        return UnitOfWork(self.read_sessions, None, readonly=True)

    def checkpoint(self) -> bool:
        """SQLite: copy the write-ahead log into the database file and truncate it, so that bytes overwritten
        since (an erasure's) are left in neither file; False when a reader kept it from completing. PostgreSQL
        keeps old row versions and its WAL by its own rules (see the README): True."""
        if self.dialect != "sqlite":
            return True
        with self.write_lock or nullcontext():
            raw = self.engine.raw_connection()
            try:
                busy, _frames, _copied = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.close()
        return busy == 0

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
