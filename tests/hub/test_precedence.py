"""FLASH first inside one process (hub/precedence.py): while a FLASH batch is in hand, a ROUTINE batch's worker
waits at its next pause point (between two items, before its write) until the FLASH batch is done, and never
longer than the bound; a worker that does not give way never waits. The runner marks each batch by priority;
the FLASH batch's and the reserved worker's transactions take the store's write lock first."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from hub import audit
from hub.clock import SystemClock
from hub.precedence import Precedence
from hub.runner import Runner
from hub.transport.priorities import priority_of
from hub.transport.protocol import Delivery
from store import Database, upgrade
from tests.support.waiting import until

FLASH, ROUTINE = priority_of("FLASH"), priority_of("ROUTINE")


def _paused(precedence: Precedence, *, gives_way: bool) -> tuple[threading.Thread, list[float]]:
    """A worker thread that reaches a pause point; the time it passed it."""
    passed: list[float] = []

    def work() -> None:
        if gives_way:
            with precedence.giving_way():
                precedence.pause_point()
        else:
            precedence.pause_point()
        passed.append(time.monotonic())

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, passed


def test_a_routine_worker_waits_while_a_flash_batch_is_in_hand_and_goes_on_once_it_is_done():
    precedence = Precedence(most_seconds=30)
    with precedence.urgent():
        waiting, passed = _paused(precedence, gives_way=True)
        waiting.join(timeout=0.3)
        assert waiting.is_alive() and passed == []  # still at its pause point
        done_at = time.monotonic()
    waiting.join(timeout=10)
    assert passed and passed[0] >= done_at and passed[0] - done_at < 10  # released by the end, not by the bound


def test_the_wait_is_bounded_and_a_worker_that_does_not_give_way_never_waits():
    precedence = Precedence(most_seconds=0.2)
    with precedence.urgent():
        start = time.monotonic()
        bounded, passed = _paused(precedence, gives_way=True)
        bounded.join(timeout=10)
        assert passed and 0.15 <= passed[0] - start < 10  # a FLASH batch stuck on a slow relay holds it 0.2 s
        free, passed_free = _paused(precedence, gives_way=False)
        free.join(timeout=10)
        assert passed_free and passed_free[0] - start < 10
    idle, passed_idle = _paused(precedence, gives_way=True)  # nothing urgent in hand: no wait
    idle.join(timeout=10)
    assert passed_idle


class _Handler:
    """Records, for each batch, whether a pause point of its thread waited for the other batch."""

    queue = "intake"

    def __init__(self, precedence: Precedence) -> None:
        self.precedence = precedence
        self.flash_in_hand = threading.Event()
        self.release_flash = threading.Event()
        self.routine_passed_at: float | None = None
        self.flash_done_at: float | None = None

    def handle(self, batch: list[Delivery]):
        if batch[0].priority == FLASH:
            self.flash_in_hand.set()
            self.release_flash.wait(10)
            self.flash_done_at = time.monotonic()
        else:
            self.precedence.pause_point()
            self.routine_passed_at = time.monotonic()
        return []

    def on_quarantine(self, delivery, error) -> None:  # pragma: no cover - nothing raises here
        pass


def _batch(priority: int) -> list[Delivery]:
    return [Delivery(1, "intake", {"message_id": 1}, priority, 1, datetime.now(timezone.utc))]


def test_the_runner_makes_a_routine_batch_give_way_to_a_flash_batch_of_the_same_process():
    precedence = Precedence(most_seconds=30)
    handler = _Handler(precedence)
    with ThreadPoolExecutor(2) as pool:
        runner = Runner(handler, transport=None, executor=pool, clock=SystemClock(), concurrency=2,
                        reserve=FLASH, precedence=precedence)
        flash = pool.submit(runner._handle_in_turn, _batch(FLASH))
        assert handler.flash_in_hand.wait(10)
        routine = pool.submit(runner._handle_in_turn, _batch(ROUTINE))
        time.sleep(0.3)
        assert handler.routine_passed_at is None  # the ROUTINE batch waits at its pause point
        handler.release_flash.set()
        assert flash.result(10) == [] and routine.result(10) == []
    assert handler.routine_passed_at >= handler.flash_done_at


class _Writer:
    """Each batch appends one audit event named for its priority: the order of their transactions."""

    queue = "intake"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.indices: dict[str, int] = {}

    def handle(self, batch: list[Delivery]):
        self.write("flash" if batch[0].priority == FLASH else f"routine-{batch[0].item_id}")
        return []

    def write(self, name: str) -> None:
        with self.db.unit_of_work() as uow:
            audit.record(uow, SystemClock(), "test.appended", ref=name)
            uow.commit()
        with self.db.reader() as uow:
            self.indices[name] = uow.audit.for_message(name)[0].seq

    def on_quarantine(self, delivery, error) -> None:  # pragma: no cover - nothing raises here
        pass


def test_a_flash_batch_and_the_reserved_workers_claim_write_before_the_routine_batches_waiting(tmp_path):
    """On SQLite the process's writers queue on one lock: the FLASH batch's transaction and the reserved
    worker's claim go before the ROUTINE batches already waiting for it."""
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(db.engine)
    try:
        precedence = Precedence(most_seconds=30, writes_first=db.writes_first)
        handler = _Writer(db)
        with ThreadPoolExecutor(6) as pool:
            runner = Runner(handler, transport=None, executor=pool, clock=SystemClock(), concurrency=3,
                            reserve=FLASH, precedence=precedence)
            with db.unit_of_work():  # a writer in hand: every batch below queues
                routines = [pool.submit(runner._handle_in_turn, [Delivery(n, "intake", {}, ROUTINE, 1,
                                                                          datetime.now(timezone.utc))])
                            for n in range(3)]
                assert until(lambda: db.write_lock.waiting, lambda n: n == 3, seconds=10) == 3
                flash = pool.submit(runner._handle_in_turn, _batch(FLASH))
                claim = pool.submit(runner._first, lambda: handler.write("claim"))
                assert until(lambda: db.write_lock.waiting, lambda n: n == 5, seconds=10) == 5
            for future in (*routines, flash, claim):
                future.result(30)
        order = sorted(handler.indices, key=handler.indices.__getitem__)
        assert set(order[:2]) == {"flash", "claim"} and sorted(order[2:]) == ["routine-0", "routine-1", "routine-2"]
    finally:
        db.dispose()
