"""The embedded transport: the store's queue table as the queue of one process (leases, wake-ups, recovery)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

from store import Database, UnitOfWork

from hub.clock import Clock

from .protocol import DeadLetterHook, Delivery, StorePublisher, Wakeups


class EmbeddedTransport(StorePublisher):
    """The store-backed transport of the embedded deployment (one process)."""

    def __init__(self, db: Database, clock: Clock, *, lease: timedelta = timedelta(minutes=5)) -> None:
        self.db = db
        self.clock = clock
        self.lease = lease
        self._wakeups = Wakeups()
        self._lock = threading.Lock()
        # Claims whose commit failed, each its items and the end of the lease it wrote (if it wrote one at all):
        self._doubtful: list[tuple[list[int], datetime]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop whose runners wait for new items."""
        self._wakeups.bind(loop)

    def claim(self, queue: str, limit: int = 1, *, at_least: int = 0) -> list[Delivery]:
        """Lease up to *limit* items of priority *at_least* or more, most urgent first, all of one priority (a
        FLASH item's batch holds no ROUTINE work).

        A reader looks first: a claim that would find nothing (another worker took the items) does not
        queue for the store's single write lock, which admissions wait on for their 250.
        """
        self._release_doubtful()
        with self.db.reader() as uow:
            if not uow.queue.any_ready(queue, now=self.clock.now(), at_least=at_least):
                return []
        items: list = []
        now = self.clock.now()
        try:
            with self.db.unit_of_work() as uow:
                items = uow.queue.claim(queue, now=now, lease=self.lease, limit=limit, at_least=at_least,
                                        one_priority=True)
                if items:
                    uow.commit()
        except Exception:
            # The store went away during the commit: it may have taken the leases without the answer reaching
            # this process, so no worker holds those items. They go back at the next claim, not at the lease's end.
            if items:
                with self._lock:
                    self._doubtful.append(([i["id"] for i in items], now + self.lease))
            raise
        return [Delivery(i["id"], i["queue"], dict(i["payload"]), i["priority"], i["attempts"], i["created_at"])
                for i in items]

    def _release_doubtful(self) -> None:
        """Give back the items of a failed claim still under the lease it wrote: no worker got them (a worker
        that claimed them since holds a lease of its own, which stays)."""
        with self._lock:
            doubtful, self._doubtful = self._doubtful, []
        if not doubtful:
            return
        try:
            with self.db.unit_of_work() as uow:
                for ids, lease_until in doubtful:
                    uow.queue.release_lease(ids, lease_until)
                uow.commit()
        except Exception:
            with self._lock:
                self._doubtful[:0] = doubtful
            raise

    def ack(self, uow: UnitOfWork, delivery: Delivery) -> None:
        uow.queue.ack(delivery.item_id)

    def retry(self, uow: UnitOfWork, delivery: Delivery, *, at: datetime, error: str) -> None:
        uow.queue.retry(delivery.item_id, available_at=at, error=error)

    def quarantine(self, delivery: Delivery, *, error: str) -> None:
        with self.db.unit_of_work() as uow:
            uow.queue.quarantine(delivery.item_id, error=error)
            uow.commit()

    def release(self, deliveries: list[Delivery], *, error: str | None = None) -> None:
        """After a batch: nothing to do (each item was acked, retried or quarantined in its transaction).
        With *error* (the batch's work could not be recorded): give the items back at once, instead of at
        the lease's end."""
        if error is None:
            return
        with self.db.unit_of_work() as uow:
            for delivery in deliveries:
                uow.queue.retry(delivery.item_id, available_at=self.clock.now(), error=error)
            uow.commit()

    def requeue(self, item_id: int) -> None:
        """Put a quarantined item back in its queue (an operator's decision)."""
        with self.db.unit_of_work() as uow:
            uow.queue.retry(item_id, available_at=self.clock.now(), error=None)
            uow.commit()

    def recover(self) -> int:
        """At start-up: every lease belongs to a process that is gone (one embedded hub per store: hub/app.py)."""
        with self.db.unit_of_work() as uow:
            released = uow.queue.release_all()
            uow.commit()
        return released

    def next_due(self, queue: str, *, at_least: int = 0) -> datetime | None:
        with self.db.reader() as uow:
            return uow.queue.next_available_at(queue, at_least)

    def notify(self, queue: str) -> None:
        """Something was committed to *queue*: wake one idle runner. Safe to call from any thread."""
        self._wakeups.wake(queue)

    def generation(self, queue: str) -> int:
        return self._wakeups.generation(queue)

    async def wait(self, queue: str, timeout: float, seen: int, *, reserved: bool = False) -> None:
        """Until woken, or *timeout* seconds; at once if something was published since *seen*."""
        await self._wakeups.wait(queue, timeout, seen, reserved=reserved)

    async def run(self, stop: asyncio.Event) -> None:
        """Nothing runs beside the runners: the queue is the store's table."""
        await stop.wait()

    def on_dead_letter(self, queue: str, hook: DeadLetterHook) -> None:
        """Nothing is dead-lettered here: an item that raised is quarantined by the runner itself."""
