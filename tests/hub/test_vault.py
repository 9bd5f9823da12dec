"""Sealing at rest under the month's period key: the key read once per process and month, and the fast path (a
blob inserted only while its period still holds that key) refusing what the first reading refuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, update

from crypto import SealError, StorageKey
from hub import vault
from store import Database, RetentionPeriod, SealedBlob, upgrade
from tests.support import stores

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def sealing(tmp_path):
    database = Database(stores.fresh_url(tmp_path, "vault.db"))
    if not stores.on_postgres():
        upgrade(database.engine)
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(" ".join(statement.split())))
    yield database, StorageKey.generate(), statements
    database.dispose()


def _seal(database: Database, key: StorageKey, data: bytes, *, now: datetime = NOW) -> int:
    with database.unit_of_work() as uow:
        blob_id = vault.seal(uow, key, data, now=now, context="test:vault")
        uow.commit()
    return blob_id


def _open(database: Database, key: StorageKey, blob_id: int) -> bytes:
    with database.reader() as uow:
        return vault.unseal(key, uow.blobs.get(blob_id), context="test:vault")


def _blobs(database: Database) -> int:
    with database.reader() as uow:
        return uow.session.query(SealedBlob).count()


def _period_reads(statements: list[str]) -> int:
    return sum(1 for s in statements if s.startswith("SELECT") and "FROM retention_period" in s)


def test_the_month_s_key_is_read_once_and_every_blob_opens(sealing):
    database, key, statements = sealing
    ids = [_seal(database, key, f"item {n}".encode()) for n in range(5)]
    assert _period_reads(statements) == 2  # looked up, made, looked up again: the first seal only
    assert [_open(database, key, i) for i in ids] == [f"item {n}".encode() for n in range(5)]
    _seal(database, key, b"next month", now=NOW + timedelta(days=30))
    with database.reader() as uow:
        assert {p.name for p in uow.session.query(RetentionPeriod)} == {"2026-12", "2027-01"}


def test_a_destroyed_period_key_is_refused_by_the_fast_path_as_by_the_first_reading(sealing):
    database, key, _ = sealing
    _seal(database, key, b"before")  # this process now holds December's key
    with database.unit_of_work() as uow:  # another process destroys it (as retention does an empty month's)
        uow.session.execute(update(RetentionPeriod).where(RetentionPeriod.name == "2026-12").values(wrapped_key=None))
        uow.commit()
    blobs = _blobs(database)
    with pytest.raises(SealError, match="destroyed"):
        _seal(database, key, b"after")
    assert _blobs(database) == blobs  # nothing sealed under the destroyed key


def test_a_period_whose_key_changed_under_the_process_seals_under_the_stored_key(sealing):
    database, key, _ = sealing
    _seal(database, key, b"before")
    _other, wrapped = key.new_wrapping_key()
    with database.unit_of_work() as uow:  # the row's key is not the one this process holds any more
        uow.session.execute(update(RetentionPeriod).where(RetentionPeriod.name == "2026-12")
                            .values(wrapped_key=wrapped))
        uow.commit()
    blob_id = _seal(database, key, b"after")
    assert _open(database, key, blob_id) == b"after"
    with database.reader() as uow:
        assert bytes(uow.blobs.get(blob_id).period_key) == wrapped
