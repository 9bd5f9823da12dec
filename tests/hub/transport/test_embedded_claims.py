"""The embedded transport's claims when the store fails under them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from hub.clock import FrozenClock
from hub.transport.embedded import EmbeddedTransport
from store import StoreUnavailable
from store.uow import UnitOfWork

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def _failed_claim(db, monkeypatch, *, committed: bool) -> EmbeddedTransport:
    """A transport with one item, after a claim of it whose commit raised as if the server went away; the
    commit took place first when *committed* (its answer lost), else not at all."""
    transport = EmbeddedTransport(db, FrozenClock(T0))
    with db.unit_of_work() as uow:
        transport.publish(uow, "q", {"n": 1}, priority=1)
        uow.commit()
    commit = UnitOfWork.commit

    def failing(uow):
        if committed:
            commit(uow)
        monkeypatch.setattr(UnitOfWork, "commit", commit)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(UnitOfWork, "commit", failing)
    with pytest.raises(StoreUnavailable):
        transport.claim("q")
    return transport


def test_a_claim_whose_commit_failed_gives_its_items_back_at_the_next_claim(db, monkeypatch):
    """The store goes away during a claim's commit, after taking the leases (PostgreSQL restarted between the
    commit and its answer): no worker holds those items, so the next claim takes them at once instead of their
    waiting out the lease (five minutes: a receipt that late looked lost)."""
    transport = _failed_claim(db, monkeypatch, committed=True)
    (item,) = transport.claim("q")
    assert item.payload["n"] == 1 and item.attempts == 2


def test_a_claim_that_did_not_commit_leaves_the_lease_another_worker_took_since(db, monkeypatch):
    """The failed claim's commit did not happen (the items stayed ready) and another worker leased them before
    the next claim: that lease stays, nobody is handed the item twice."""
    transport = _failed_claim(db, monkeypatch, committed=False)
    with db.unit_of_work() as uow:  # another worker's claim, a second later
        assert len(uow.queue.claim("q", now=T0 + timedelta(seconds=1), lease=timedelta(minutes=5))) == 1
        uow.commit()
    assert transport.claim("q") == []
