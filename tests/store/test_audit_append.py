"""The audit log's append lock (PostgreSQL) is held from the events' insert to the commit: a transaction
that appended an event and is still at work does not hold back another writer's events."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from store import Database
from tests.support.stores import fresh_postgres

T0 = datetime(2026, 12, 4, 19, 0, tzinfo=timezone.utc)


def test_an_event_appended_in_an_open_transaction_does_not_hold_back_another_writer():
    db = Database(fresh_postgres())
    committed = threading.Event()

    def other_writer() -> None:
        with db.unit_of_work() as uow:
            uow.audit.append(at=T0, actor="b", action="test.appended")
            uow.commit()
        committed.set()

    try:
        with db.unit_of_work() as uow:
            uow.audit.append(at=T0, actor="a", action="test.appended")
            assert uow.messages.get(1) is None  # still at work, the event not yet written
            thread = threading.Thread(target=other_writer, daemon=True)
            thread.start()
            b_committed_first = committed.wait(10)
            uow.commit()
        thread.join(30)
        assert b_committed_first, "the other writer waited for this transaction's commit"
        with db.reader() as uow:
            assert [(e.seq, e.actor) for e in uow.log.entries(0, 10)] == [(0, "b"), (1, "a")]
    finally:
        db.dispose()
