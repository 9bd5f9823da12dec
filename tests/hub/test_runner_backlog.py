"""The intake runner's backlog worker: it claims only behind a full claim, so that arrivals are batched together at
ordinary rates and a backlog is drained by two batches at once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from hub.clock import SystemClock
from hub.runner import Runner
from hub.transport.protocol import Delivery

QUEUE = "intake"


class _Queue:
    """What the runner asks of a transport, over a list in memory."""

    def __init__(self, count: int) -> None:
        self.items: list[Delivery] = []
        self.lock = threading.Lock()
        self.add(count)

    def add(self, count: int) -> None:
        with self.lock:
            start = len(self.items) + 1000 * count
            self.items += [Delivery(start + i, QUEUE, {"n": i}, 3, 1, datetime.now(timezone.utc))
                           for i in range(count)]

    def claim(self, queue: str, limit: int = 1, *, at_least: int = 0) -> list[Delivery]:
        with self.lock:
            if at_least > 3:
                return []
            taken, self.items = self.items[:limit], self.items[limit:]
            return taken

    def generation(self, queue: str) -> int:
        return 0

    async def wait(self, queue: str, timeout: float, seen: int, *, reserved: bool = False) -> None:
        await asyncio.sleep(min(timeout, 0.01))

    def next_due(self, queue: str, *, at_least: int = 0):
        return None

    def release(self, batch) -> None:
        pass


class _Handler:
    """Holds each batch until two are in hand at once (or 0.5 s passed); records the batches' sizes and overlap."""

    queue = QUEUE

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_hand = 0
        self.most_in_hand = 0
        self.sizes: list[int] = []
        self.two = threading.Event()

    def handle(self, deliveries):
        with self.lock:
            self.in_hand += 1
            self.most_in_hand = max(self.most_in_hand, self.in_hand)
            self.sizes.append(len(deliveries))
            if self.in_hand >= 2:
                self.two.set()
        self.two.wait(0.5)
        with self.lock:
            self.in_hand -= 1
        return []

    def on_quarantine(self, delivery, error) -> None:
        pass


def _drain(count: int, later: int = 0) -> _Handler:
    """*count* items queued, and *later* more once the first batch is in hand; until all are handled."""
    queue, handler = _Queue(count), _Handler()
    count += later
    with ThreadPoolExecutor(max_workers=4) as executor:
        runner = Runner(handler, queue, executor, SystemClock(), concurrency=1, backlog=1, batch=8,
                        idle_seconds=0.05, reserve=5)

        async def run() -> None:
            nonlocal later
            stop = asyncio.Event()
            task = asyncio.ensure_future(runner.run(stop))
            for _ in range(400):  # bounded: 4 s
                if later and handler.sizes:
                    queue.add(later)
                    later = 0
                if sum(handler.sizes) == count:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(task, timeout=5)

        asyncio.run(run())
    assert sum(handler.sizes) == count
    return handler


def test_items_arriving_while_a_batch_is_in_hand_wait_for_it_and_go_together():
    handler = _drain(1, later=4)
    assert handler.sizes == [1, 4] and handler.most_in_hand == 1


def test_a_backlog_is_drained_by_two_full_batches_at_once():
    handler = _drain(40)
    assert handler.most_in_hand == 2
    assert handler.sizes == [8] * 5
