"""The transport between stages, as every implementation offers it: publish inside the caller's transaction,
claim, ack, retry, quarantine; and what the implementations share (the publish into the store, wake-ups).

The embedded implementation (embedded.py) is backed by the store's queue table, so a publish commits
atomically with the state it follows from; the broker-backed one (amqp.py) relays the same rows (a
transactional outbox). Payloads are JSON with a "version" field, identifiers only.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol

from store import UnitOfWork

from hub.clock import Clock

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class Delivery:
    """One claimed item: its queue, payload and how many times it was claimed."""

    item_id: int
    queue: str
    payload: dict[str, Any]
    priority: int
    attempts: int
    created_at: datetime
    token: Any = field(default=None, compare=False, repr=False)  # the broker's handle, if any


DeadLetterHook = Callable[[Delivery, Exception], None]


class Transport(Protocol):
    """What every transport between stages does, and all that the hub asks of one (hub/app.py).

    Within a unit of work: ``publish`` an item (it travels once the caller commits), ``ack`` or ``retry``
    one in hand. Around the runners: ``claim`` items (most urgent first; ``at_least``: only those of that
    priority or more), ``release`` a batch, ``quarantine`` one that raised, ``wait`` for new ones
    (``generation``/``notify`` wake an idle runner; ``reserved``: the worker kept for the most urgent items).
    Around the process: ``bind`` to its event loop, ``recover`` at start-up what a previous run of the process
    left in hand, ``run`` the transport's own work until stopped, and ``on_dead_letter`` to be told of an item
    given up on.
    """

    def publish(self, uow: UnitOfWork, queue: str, payload: dict[str, Any], *, priority: int,
                available_at: datetime | None = None) -> None: ...
    def claim(self, queue: str, limit: int = 1, *, at_least: int = 0) -> list[Delivery]: ...
    def ack(self, uow: UnitOfWork, delivery: Delivery) -> None: ...
    def retry(self, uow: UnitOfWork, delivery: Delivery, *, at: datetime, error: str) -> None: ...
    def quarantine(self, delivery: Delivery, *, error: str) -> None: ...
    def release(self, deliveries: list[Delivery], *, error: str | None = None) -> None: ...
    def next_due(self, queue: str, *, at_least: int = 0) -> datetime | None: ...
    def generation(self, queue: str) -> int: ...
    async def wait(self, queue: str, timeout: float, seen: int, *, reserved: bool = False) -> None: ...
    def notify(self, queue: str) -> None: ...
    def bind(self, loop: asyncio.AbstractEventLoop) -> None: ...
    def recover(self) -> int: ...
    async def run(self, stop: asyncio.Event) -> None: ...
    def on_dead_letter(self, queue: str, hook: DeadLetterHook) -> None: ...


class Wakeups:
    """Wake-ups of idle runners: one new item wakes one idle worker, not all of them.

    A worker notes the generation before it claims; if anything arrived since, it claims again at once.
    A worker kept for the most urgent items (``reserved``) is woken when no other worker is idle to take
    what arrived: it claims only the items it is kept for, and the busy workers take the rest after their
    batch.
    """

    def __init__(self) -> None:
        self._generations: dict[str, int] = defaultdict(int)
        self._waiters: dict[str, deque[asyncio.Future[None]]] = defaultdict(deque)
        self._reserved: dict[str, deque[asyncio.Future[None]]] = defaultdict(deque)
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop whose runners wait for new items."""
        self._loop = loop

    def wake(self, queue: str) -> None:
        """Safe to call from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake, queue)

    def generation(self, queue: str) -> int:
        return self._generations[queue]

    def _wake(self, queue: str) -> None:
        self._generations[queue] += 1
        waiters = self._waiters[queue]
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        reserved = self._reserved[queue]
        while reserved:
            waiter = reserved.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, queue: str, timeout: float, seen: int, *, reserved: bool = False) -> None:
        """Until woken, or *timeout* seconds; at once if something arrived since *seen*."""
        if self._generations[queue] != seen:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = (self._reserved if reserved else self._waiters)[queue]
        waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout=max(timeout, 0.0))
        except asyncio.TimeoutError:
            pass
        finally:
            if waiter in waiters:
                waiters.remove(waiter)


class StorePublisher:
    """``publish`` of both transports: the item goes into the store's queue table, in the caller's transaction
    (the embedded transport's queue; RabbitMQ's transactional outbox, relayed to the broker after commit)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def publish(self, uow: UnitOfWork, queue: str, payload: dict[str, Any], *, priority: int,
                available_at: datetime | None = None) -> None:
        self._put(uow, queue, payload, priority=priority, available_at=available_at)

    def _put(self, uow: UnitOfWork, queue: str, payload: dict[str, Any], *, priority: int,
             available_at: datetime | None = None, **row: Any) -> dict[str, Any]:
        return uow.queue.put(queue, {"version": PAYLOAD_VERSION, **payload}, priority=priority, now=self.clock.now(),
                             available_at=available_at, **row)
