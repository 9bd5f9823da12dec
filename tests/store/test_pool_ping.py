"""PostgreSQL's pool: a connection back in use within a second is not pinged; one idle longer is, and replaced
when its server session is gone (as after a restart), without the caller seeing an error."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from store import Database, database
from tests.support.stores import fresh_postgres


def _pings(db: Database, monkeypatch) -> list[int]:
    pinged: list[int] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_connection) -> bool:
        pinged.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    return pinged


def _backend_pid(db: Database) -> int:
    with db.reader() as uow:
        return uow.session.execute(text("SELECT pg_backend_pid()")).scalar()


def test_a_connection_reused_at_once_is_not_pinged(monkeypatch):
    db = Database(fresh_postgres())
    try:
        pinged = _pings(db, monkeypatch)
        pids = {_backend_pid(db) for _ in range(20)}
        assert len(pids) == 1  # one pooled connection, taken out 20 times
        assert pinged == []
    finally:
        db.dispose()


def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(monkeypatch):
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.2)
    url = fresh_postgres()
    db = Database(url)
    killer = create_engine(url, poolclass=NullPool)
    try:
        pinged = _pings(db, monkeypatch)
        first = _backend_pid(db)
        time.sleep(0.3)
        assert _backend_pid(db) == first and len(pinged) == 1  # idle: pinged, alive, kept
        with killer.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        time.sleep(0.3)
        second = _backend_pid(db)  # the dead one failed its ping and was replaced: no error here
        assert second != first and len(pinged) == 2
    finally:
        killer.dispose()
        db.dispose()
