"""Single-active leadership by name: a PostgreSQL session advisory lock, or a file lock beside the SQLite file.

Either lock dies with the process that holds it (its database session ends, or its file
descriptor closes), so another contender can take over as soon as the holder is gone.

    lock = LeaderLock(db, "scheduler")
    if lock.try_acquire():
        ...          # act; check lock.alive() now and then
        lock.release()
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from .database import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for *name*."""
    return int.from_bytes(hashlib.sha256(f"passerelle.leader:{name}".encode()).digest()[:8], "big", signed=True)


class LeaderLock:
    """Leadership of *name* among every process sharing the store; not re-entrant."""

    def __init__(self, db: "Database", name: str) -> None:
        self.name = name
        self._held = False
        if db.dialect == "postgresql":
            self._impl: _AdvisoryLock | _FileLock = _AdvisoryLock(db, name)
        elif db.dialect == "sqlite":
            self._impl = _FileLock(db.url, name)
        else:  # pragma: no cover - only the two supported stores
            raise ValueError(f"no leader lock for {db.dialect}")

    @property
    def held(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        """Take the leadership if nobody holds it; never waits. True when held afterwards."""
        if not self._held:
            self._held = self._impl.try_acquire()
        return self._held

    def alive(self) -> bool:
        """Still the leader? False once the lock was lost (e.g. the database session died)."""
        if self._held and not self._impl.alive():
            log.warning("leader %s: lock lost", self.name)
            self._impl.release()
            self._held = False
        return self._held

    def release(self) -> None:
        if self._held:
            self._impl.release()
            self._held = False


class _AdvisoryLock:
    """pg_try_advisory_lock on a dedicated connection (outside the pool), held as long as the session lives."""

    def __init__(self, db: "Database", name: str) -> None:
        self.key = lock_key(name)
        self.engine = create_engine(db.engine.url, poolclass=NullPool, connect_args={
            "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
            "keepalives_count": 3, "application_name": f"passerelle leader {name}"})
        self.connection: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self.connection is None:
                self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = self.connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        except SQLAlchemyError:
            self.release()
            return False
        return bool(got)

    def alive(self) -> bool:
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except SQLAlchemyError:
                pass  # the session is gone, and the lock with it
            finally:
                try:
                    self.connection.close()
                except SQLAlchemyError:
                    pass
                self.connection = None
        self.engine.dispose()


class _FileLock:
    """flock on DB.leader-NAME beside the SQLite file; released by the kernel when the process dies."""

    def __init__(self, url: str, name: str) -> None:
        database = make_url(url).database
        if not database or database == ":memory:":
            raise ValueError("a leader lock needs an SQLite file")
        self.path = Path(f"{database}.leader-{name}")
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            mode = os.fstat(fd)
            if mode.st_mode & 0o077 and mode.st_uid == os.geteuid():  # made by an earlier version (umask)
                os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def alive(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
