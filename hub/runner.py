"""The runner: the loop that claims items, hands them to a handler, and shunts what raised to quarantine."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from functools import partial
from typing import Callable, Protocol

from store import StoreUnavailable

from .clock import Clock
from .precedence import Precedence
from hub.transport.protocol import Delivery, Transport

log = logging.getLogger(__name__)


class Handler(Protocol):
    """Does a batch's work; acks or retries each item through the transport in its own last transaction.

    Returns the items whose processing raised, for the runner to quarantine; an exception out of
    ``handle`` itself means the whole batch failed.
    """

    queue: str

    def handle(self, deliveries: list[Delivery]) -> list[tuple[Delivery, Exception]]: ...

    def on_quarantine(self, delivery: Delivery, error: Exception) -> None: ...


class Runner:
    """Runs *concurrency* workers over one queue until *stop* is set; finishes the batch in hand first.

    A worker claims up to *batch* items at once (most urgent first): one claim, one read and one
    write transaction serve the whole batch. With *reserve* (a priority), one more worker is kept for the
    items of that priority or more: it claims only those, and only while no other worker is idle, so a FLASH
    item that arrives while the others have a batch or a claim in hand is taken at once rather than after
    one of those batches (a claim under way may have read the queue before the FLASH item was there; a worker
    that is idle takes it itself: every claim is most urgent first).

    With *backlog* workers more, those claim only while the last claim of any worker came back full (a backlog
    of at least *batch* items): at the rates the hub sees, *concurrency* workers take what arrived while their
    batch was in hand together; behind a backlog, the others drain it beside them, each batch full.
    """

    def __init__(self, handler: Handler, transport: Transport, executor: Executor, clock: Clock, *,
                 concurrency: int = 1, batch: int = 8, idle_seconds: float = 1.0, reserve: int | None = None,
                 precedence: Precedence | None = None, backlog: int = 0) -> None:
        self.handler = handler
        self.transport = transport
        self.executor = executor
        self.clock = clock
        self.concurrency = concurrency
        self.batch = batch
        self.reserve = reserve
        self.idle_seconds = idle_seconds
        self.precedence = precedence  # shared by the process's runners: the other batches give way to urgent ones
        self.processed = 0
        self.quarantined = 0
        self._idle_workers = 0  # workers not kept for the most urgent items, waiting for items
        self.backlog = backlog
        self._backlogged = asyncio.Event()  # the last claim came back full: the backlog workers claim too

    @property
    def queue(self) -> str:
        return self.handler.queue

    async def run(self, stop: asyncio.Event) -> None:
        workers = [self._worker(stop) for _ in range(self.concurrency)]
        workers += [self._worker(stop, behind_backlog=True) for _ in range(self.backlog)]
        if self.reserve is not None:
            workers.append(self._worker(stop, self.reserve))
        await asyncio.gather(*workers)

    async def _worker(self, stop: asyncio.Event, at_least: int | None = None, *, behind_backlog: bool = False) -> None:
        """Claim, handle, repeat; *at_least*: the reserved worker, which claims only items of that priority or more;
        *behind_backlog*: a worker that claims only while the last claim came back full."""
        loop = asyncio.get_running_loop()
        claim = partial(self.transport.claim, self.queue, self.batch, at_least=at_least or 0)
        kept = at_least is not None
        if kept and self.precedence is not None:  # the reserved worker claims only urgent items: writes first
            claim = partial(self._first, claim)
        while not stop.is_set():
            seen = self.transport.generation(self.queue)
            if kept and self._idle_workers:  # an idle worker takes the most urgent items itself
                await self._idle(stop, seen, at_least, until_due=False)
                continue
            if behind_backlog and not self._backlogged.is_set():  # not counted idle: it takes no FLASH item
                await self._until_backlog(stop)
                continue
            try:
                batch = await loop.run_in_executor(self.executor, claim)
            except Exception:
                log.exception("runner %s: cannot claim; retrying shortly", self.queue)
                await self._sleep(stop, self.idle_seconds)
                continue
            if not kept:
                if len(batch) >= self.batch:
                    self._backlogged.set()
                else:
                    self._backlogged.clear()
            if not batch:
                await (self._idle(stop, seen, at_least) if kept else self._idle_free(stop, seen))
                continue
            failures = await loop.run_in_executor(self.executor, self._handle_in_turn, batch)
            if failures is None:  # the store is unavailable: give the batch back once it returns
                await self._give_back(stop, batch)
                continue
            self.processed += len(batch) - len(failures)
            for delivery, error in failures:
                self.quarantined += 1
                log.error("runner %s: item %s raised %s; quarantined", self.queue, delivery.item_id,
                          type(error).__name__, exc_info=error)
                await loop.run_in_executor(self.executor, self._shunt, delivery, error)
            self.transport.release(batch)  # whatever is neither acked, retried nor quarantined goes back

    def _first(self, claim: Callable[[], list[Delivery]]) -> list[Delivery]:
        with self.precedence.first():
            return claim()

    def _handle_in_turn(self, batch: list[Delivery]) -> list[tuple[Delivery, Exception]] | None:
        """An urgent batch (of the reserved priority) is counted while in hand; any other gives way to it."""
        if self.precedence is None or self.reserve is None:
            return self._handle(batch)
        turn = self.precedence.urgent() if batch[0].priority >= self.reserve else self.precedence.giving_way()
        with turn:
            return self._handle(batch)

    def _handle(self, batch: list[Delivery]) -> list[tuple[Delivery, Exception]] | None:
        """The runner boundary: a batch that raises is retried item by item, so one bad item is isolated.
        None: the store is unavailable (nothing is quarantined for that)."""
        try:
            return self.handler.handle(batch)
        except StoreUnavailable:
            log.warning("runner %s: store unavailable; %d item(s) given back when it returns", self.queue, len(batch))
            return None
        except Exception as error:
            if len(batch) == 1:
                return [(batch[0], error)]
        failures: list[tuple[Delivery, Exception]] = []
        for delivery in batch:
            outcome = self._handle([delivery])
            if outcome is None:
                return None
            failures.extend(outcome)
        return failures

    async def _give_back(self, stop: asyncio.Event, batch: list[Delivery], *, tries: int = 120) -> None:
        """Release the batch's leases as soon as the store answers again (bounded: past that the leases
        expire on their own), so its items are processed again now rather than at the lease's end."""
        loop = asyncio.get_running_loop()
        for _ in range(tries):
            try:
                await loop.run_in_executor(self.executor, lambda: self.transport.release(batch, error="store unavailable"))
                return
            except Exception:
                await self._sleep(stop, self.idle_seconds / 2)
                if stop.is_set():
                    return
        log.error("runner %s: could not give back %d item(s); they return when their lease ends",
                  self.queue, len(batch))

    def _shunt(self, delivery: Delivery, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"[:500]
        try:
            self.transport.quarantine(delivery, error=text)
            self.handler.on_quarantine(delivery, error)
        except Exception:
            log.exception("runner %s: could not quarantine item %s; its lease will expire and it returns",
                          self.queue, delivery.item_id)

    async def _idle_free(self, stop: asyncio.Event, seen: int) -> None:
        """A worker not kept, idle: counted, so that the reserved worker leaves the most urgent items to it."""
        self._idle_workers += 1
        try:
            await self._idle(stop, seen, None)
        finally:
            self._idle_workers -= 1

    async def _idle(self, stop: asyncio.Event, seen: int, at_least: int | None, *, until_due: bool = True) -> None:
        """Until woken, *stop*, idle_seconds, or (*until_due*) the next item's due time."""
        loop = asyncio.get_running_loop()
        timeout = self.idle_seconds
        try:
            due = await loop.run_in_executor(self.executor, partial(self.transport.next_due, self.queue,
                                                                    at_least=at_least or 0)) if until_due else None
        except Exception:
            due = None
        if due is not None:
            timeout = min(timeout, max((due - self.clock.now()).total_seconds(), 0.01))
        await self._until(stop, self.transport.wait(self.queue, timeout, seen, reserved=at_least is not None))

    async def _until_backlog(self, stop: asyncio.Event) -> None:
        await self._until(stop, self._backlogged.wait())

    @staticmethod
    async def _until(stop: asyncio.Event, event) -> None:
        """Until *event* (an awaitable) is done or *stop* is set, whichever comes first; the other is cancelled."""
        waiter, stopper = asyncio.ensure_future(event), asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass
