"""The embedded transport's claims when the store fails under them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from hub.clock import FrozenClock
from hub.transport.embedded import EmbeddedTransport
from store import Database, StoreUnavailable, upgrade
from store.uow import UnitOfWork
from tests.support import stores

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path):
    database = Database(stores.fresh_url(tmp_path))
    upgrade(database.engine)
    yield database
    database.dispose()


def test_a_claim_whose_commit_failed_gives_its_items_back_at_the_next_claim(db, monkeypatch):
    """The store goes away during a claim's commit, after taking the leases (PostgreSQL restarted between the
    commit and its answer): no worker holds those items, so the next claim takes them at once instead of their
    waiting out the lease (five minutes: a receipt that late looked lost)."""
    transport = EmbeddedTransport(db, FrozenClock(T0))
    with db.unit_of_work() as uow:
        transport.publish(uow, "q", {"n": 1}, priority=1)
        uow.commit()
    committed = UnitOfWork.commit

    def commit_then_lose_the_answer(self):
        committed(self)
        monkeypatch.setattr(UnitOfWork, "commit", committed)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(UnitOfWork, "commit", commit_then_lose_the_answer)
    with pytest.raises(StoreUnavailable):
        transport.claim("q")
    (item,) = transport.claim("q")
    assert item.payload["n"] == 1 and item.attempts == 2


def test_a_claim_that_did_not_commit_leaves_the_lease_another_worker_took_since(db, monkeypatch):
    """The failed claim's commit did not happen (the items stayed ready) and another worker leased them before
    the next claim: that lease stays, nobody is handed the item twice."""
    transport = EmbeddedTransport(db, FrozenClock(T0))
    with db.unit_of_work() as uow:
        transport.publish(uow, "q", {"n": 1}, priority=1)
        uow.commit()
    committed = UnitOfWork.commit

    def lose_the_commit(self):
        monkeypatch.setattr(UnitOfWork, "commit", committed)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(UnitOfWork, "commit", lose_the_commit)
    with pytest.raises(StoreUnavailable):
        transport.claim("q")
    with db.unit_of_work() as uow:  # another worker's claim, a second later
        assert len(uow.queue.claim("q", now=T0 + timedelta(seconds=1), lease=timedelta(minutes=5))) == 1
        uow.commit()
    assert transport.claim("q") == []
