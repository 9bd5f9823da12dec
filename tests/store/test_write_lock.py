"""SQLite's in-process write lock (store/database.py WriteLock): one writer at a time, and a lane ahead — a
thread inside ``first()`` (a FLASH item's work) takes the lock before the threads already waiting outside it,
whatever their number; a write transaction of that thread is really served first."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import datetime, timezone

import pytest

from hub import audit
from hub.clock import FrozenClock
from store import Database, upgrade
from store.database import WriteLock
from tests.support.waiting import until


def _waiter(lock: WriteLock, order: list[str], name: str, *, first: bool) -> threading.Thread:
    def take() -> None:
        if first:
            with lock.first():
                with lock:
                    order.append(name)
        else:
            with lock:
                order.append(name)

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def test_a_thread_of_the_first_lane_goes_before_those_waiting_outside_it():
    lock, order = WriteLock(), []
    with lock:
        behind = [_waiter(lock, order, f"routine {n}", first=False) for n in range(4)]
        assert until(lambda: lock.waiting, lambda n: n == 4, seconds=10) == 4
        ahead = _waiter(lock, order, "flash", first=True)
        assert until(lambda: lock.waiting, lambda n: n == 5, seconds=10) == 5
        assert order == []  # nobody has it while it is held
    for thread in (*behind, ahead):
        thread.join(timeout=10)
    assert order[0] == "flash" and sorted(order[1:]) == [f"routine {n}" for n in range(4)]
    assert lock.waiting == 0


def test_one_writer_at_a_time_in_either_lane():
    lock, inside, most = WriteLock(), [0], [0]
    guard = threading.Lock()

    def work(first: bool) -> None:
        for _ in range(200):
            with (lock.first() if first else nullcontext()):
                with lock:
                    with guard:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    with guard:
                        inside[0] -= 1

    threads = [threading.Thread(target=work, args=(n % 2 == 0,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads) and most[0] == 1 and lock.waiting == 0


def test_the_lane_is_the_threads_own_and_ends_with_its_block():
    lock, order = WriteLock(), []
    with lock.first():
        with lock.first():  # nested: still ahead
            pass
        with lock:
            behind = _waiter(lock, order, "other thread", first=False)  # first() was entered by this thread only
            assert until(lambda: lock.waiting, lambda n: n == 1, seconds=10) == 1
    behind.join(timeout=10)
    assert order == ["other thread"]
    with lock:  # outside first() again: an ordinary writer
        pass


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


def test_a_transaction_in_the_first_lane_commits_before_those_queued_behind_the_writer(db):
    """Through the store's own units of work: the urgent thread's event is appended before the waiting ones'."""
    clock = FrozenClock(datetime(2026, 12, 2, 21, 0, tzinfo=timezone.utc))
    indices: dict[str, int] = {}

    def write(name: str, first: bool) -> None:
        with (db.writes_first() if first else nullcontext()):
            with db.unit_of_work() as uow:
                audit.record(uow, clock, "test.appended", ref=name)
                uow.commit()
        with db.reader() as uow:
            indices[name] = uow.audit.for_message(name)[0].seq

    with db.unit_of_work():  # a writer in hand
        threads = [threading.Thread(target=write, args=(f"routine-{n}", False), daemon=True) for n in range(3)]
        for thread in threads:
            thread.start()
        assert until(lambda: db.write_lock.waiting, lambda n: n == 3, seconds=10) == 3
        flash = threading.Thread(target=write, args=("flash", True), daemon=True)
        flash.start()
        assert until(lambda: db.write_lock.waiting, lambda n: n == 4, seconds=10) == 4
    for thread in (*threads, flash):
        thread.join(timeout=30)
    assert sorted(indices, key=indices.__getitem__)[0] == "flash" and len(set(indices.values())) == 4
