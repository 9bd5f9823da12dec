"""The RabbitMQ transport (aio-pika): the same queue rows as the embedded one, relayed to the broker.

publish() writes the row the embedded transport writes, in the caller's transaction (the outbox); a relay
task takes ready rows, most urgent first, publishes them persistent with publisher confirms, and removes a
row only once the broker confirmed it. A broker outage therefore never loses nor blocks an accepted
message: the rows wait and drain when it returns. Consumers hold a few messages per urgency queue (manual
ack); a stage's ack or retry is sent to the broker only after its transaction committed. A message
delivered ``delivery_limit`` times goes to the dead-letter queue, whose consumer puts it into the store's
quarantine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from store import Database, UnitOfWork
from store.vocabulary import Action, ItemState

from hub import audit
from hub.clock import Clock
from hub.settings import TransportSection
from .topology import Names, declare, envelope, read_envelope
from .protocol import DeadLetterHook, Delivery, StorePublisher, Wakeups

log = logging.getLogger(__name__)



class DeadLettered(Exception):
    """A message the broker gave up on after its delivery limit."""


class AmqpTransport(StorePublisher):
    """The distributed transport. ``await run(stop)`` keeps the broker session (relay and consumers) alive."""

    def __init__(self, db: Database, clock: Clock, settings: TransportSection, *, stages: tuple[str, ...],
                 consume: tuple[str, ...] = (), dead_letters: bool = False) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.names = Names(settings.namespace)
        self.stages = stages
        self.consume = consume
        self.dead_letters = dead_letters
        self.connected = asyncio.Event()
        self.published = 0
        self._wakeups = Wakeups()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay_wake: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._buffer: dict[str, list[Delivery]] = defaultdict(list)
        self._in_hand: dict[int, Any] = {}  # token -> aio-pika message, until acked, retried or released
        self._tokens = itertools.count(1)
        self._hooks: dict[str, DeadLetterHook] = {}
        self._url_index = 0
        self._expired_checked: datetime | None = None  # when the relay last released expired leases

    # -- the Transport protocol (called from worker threads) --------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._wakeups.bind(loop)

    def claim(self, queue: str, limit: int = 1, *, at_least: int = 0) -> list[Delivery]:
        """The most urgent of the messages this process holds for *queue*, of priority *at_least* or more, all of
        one priority (a FLASH item's batch holds no ROUTINE work)."""
        with self._lock:
            held = self._buffer[queue]
            if not held:
                return []
            held.sort(key=lambda d: (-d.priority, d.token))
            top = held[0].priority
            if top < at_least:
                return []
            wanted = sum(1 for d in held[:limit] if d.priority == top)  # sorted: they lead
            taken, self._buffer[queue] = held[:wanted], held[wanted:]
        return taken

    def ack(self, uow: UnitOfWork, delivery: Delivery) -> None:
        self._after_commit(uow, delivery)

    def retry(self, uow: UnitOfWork, delivery: Delivery, *, at: datetime, error: str) -> None:
        """Back into the outbox, due at *at*; the broker's copy is acked once this commits."""
        uow.queue.put(delivery.queue, delivery.payload, priority=delivery.priority, now=self.clock.now(),
                      available_at=at, attempts=delivery.attempts, last_error=error, created_at=delivery.created_at)
        self._after_commit(uow, delivery)

    def quarantine(self, delivery: Delivery, *, error: str) -> None:
        """Into the store's quarantine (what the dashboard and `messages list --quarantined` show)."""
        with self.db.unit_of_work() as uow:
            uow.queue.put(delivery.queue, delivery.payload, priority=delivery.priority, now=self.clock.now(),
                          state=ItemState.QUARANTINED, attempts=delivery.attempts, last_error=error,
                          created_at=delivery.created_at)
            self._after_commit(uow, delivery)
            uow.commit()

    def release(self, deliveries: list[Delivery], *, error: str | None = None) -> None:
        """Items a batch left unsettled go back to the broker after a short pause (each counts as a delivery)."""
        with self._lock:
            messages = [self._in_hand.pop(d.token) for d in deliveries if d.token in self._in_hand]
        if messages and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.call_later, self.settings.release_delay_seconds,
                                            self._settle_all, messages, "nack")

    def next_due(self, queue: str, *, at_least: int = 0) -> datetime | None:
        return None  # delayed items wait in the outbox; the relay publishes them when due

    def notify(self, queue: str) -> None:
        """Rows were committed to the outbox: wake the relay. Safe to call from any thread."""
        if self._loop is not None and self._relay_wake is not None:
            self._loop.call_soon_threadsafe(self._relay_wake.set)

    def generation(self, queue: str) -> int:
        return self._wakeups.generation(queue)

    async def wait(self, queue: str, timeout: float, seen: int, *, reserved: bool = False) -> None:
        await self._wakeups.wait(queue, timeout, seen, reserved=reserved)

    def recover(self) -> int:
        """Nothing to take back at start-up: the broker redelivers what a lost consumer held, and an outbox
        row leased by a process that is gone is relayed again once its lease ends."""
        return 0

    def on_dead_letter(self, queue: str, hook: DeadLetterHook) -> None:
        """What else to record when a message of *queue* is dead-lettered (e.g. the message's own state)."""
        self._hooks[queue] = hook

    # -- settling after commit ---------------------------------------------------------------------

    def _after_commit(self, uow: UnitOfWork, delivery: Delivery) -> None:
        pending = uow.__dict__.get("_amqp_settle")
        if pending is None:
            pending = uow.__dict__["_amqp_settle"] = []

            def committed(_session) -> None:
                with self._lock:
                    messages = [self._in_hand.pop(d.token) for d in pending if d.token in self._in_hand]
                if messages and self._loop is not None:
                    self._loop.call_soon_threadsafe(self._settle_all, messages, "ack")

            event.listen(uow.session, "after_commit", committed, once=True)
        pending.append(delivery)

    def _settle_all(self, messages: list[Any], how: str) -> None:
        for message in messages:
            asyncio.ensure_future(self._settle(message, how))

    @staticmethod
    async def _settle(message, how: str) -> None:
        try:
            if how == "ack":
                await message.ack()
            else:
                await message.nack(requeue=True)
        except Exception as exc:  # noqa: BLE001 - its channel is gone: the broker redelivers it (idempotent)
            log.debug("transport: %s of a message on a closed channel (%s); it will be redelivered", how, exc)

    # -- the broker session ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect (trying each URL in turn), declare, relay and consume; reconnect after any loss."""
        self.bind(asyncio.get_running_loop())
        self._relay_wake = asyncio.Event()
        while not stop.is_set():
            connection = await self._connect(stop)
            if connection is None:
                return
            try:
                await self._session(connection, stop)
            except Exception as exc:  # noqa: BLE001 - the session ends on any broker error; reconnect
                log.warning("transport: broker session ended (%s: %s); reconnecting", type(exc).__name__, exc)
            finally:
                self.connected.clear()
                self._drop_held()
                try:
                    await asyncio.wait_for(connection.close(), 5)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            await _sleep(stop, self.settings.reconnect_seconds)

    async def _connect(self, stop: asyncio.Event):
        import aio_pika

        urls = self.settings.urls()
        while not stop.is_set():
            url = urls[self._url_index % len(urls)]
            try:
                return await aio_pika.connect(url, timeout=5)
            except Exception as exc:  # noqa: BLE001 - unreachable: try the next node after a pause
                log.warning("transport: broker %d of %d unreachable (%s)", self._url_index % len(urls) + 1,
                            len(urls), type(exc).__name__)
                self._url_index += 1
                await _sleep(stop, self.settings.reconnect_seconds / max(len(urls), 1))
        return None

    async def _session(self, connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare(publisher, self.names, self.stages, self.settings.delivery_limit)
        exchange = await publisher.get_exchange(self.names.exchange, ensure=False)
        if self.consume or self.dead_letters:
            consumer = await connection.channel()
            await consumer.set_qos(prefetch_count=self.settings.prefetch)
            for stage in self.consume:
                for name in self.names.queues(stage):
                    queue = await consumer.get_queue(name, ensure=False)
                    await queue.consume(self._receiver(stage))
            if self.dead_letters:
                dead = await consumer.get_queue(self.names.dead_queue, ensure=False)
                await dead.consume(self._dead_letter)
        self.connected.set()
        log.info("transport: connected to the broker (%s)", ", ".join(self.consume) or "publishing only")
        relay = asyncio.create_task(self._relay(exchange, stop))
        watchers = [asyncio.create_task(lost.wait()), asyncio.create_task(stop.wait()), relay]
        try:
            await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set() and not lost.is_set() and not relay.done():
                # A clean stop: the relay ends its round (it looks at stop between rounds), so no outbox row
                # stays leased to a process that is gone; the next one would wait out the lease.
                await asyncio.wait({relay}, timeout=self.settings.relay_lease_seconds / 2)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        if relay.done() and not relay.cancelled() and relay.exception() is not None:
            raise relay.exception()  # type: ignore[misc]

    def _receiver(self, stage: str):
        async def receive(message) -> None:
            try:
                data = read_envelope(message.body)
            except ValueError as exc:
                log.error("transport: unreadable message on %s (%s); dead-lettered", stage, exc)
                await message.reject(requeue=False)
                return
            redelivered = int((message.headers or {}).get("x-delivery-count") or 0)
            token = next(self._tokens)
            delivery = Delivery(int(data["item"]), stage, dict(data["payload"]), int(data["priority"]),
                                int(data["attempts"]) + 1 + redelivered, data["created_at"], token=token)
            with self._lock:
                self._in_hand[token] = message
                self._buffer[stage].append(delivery)
            self._wakeups._wake(stage)
        return receive

    def _drop_held(self) -> None:
        """The connection is gone: what this process held is redelivered by the broker to someone."""
        with self._lock:
            self._buffer.clear()
            self._in_hand.clear()

    # -- the outbox relay ----------------------------------------------------------------------

    async def _relay(self, exchange, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        assert self._relay_wake is not None
        while not stop.is_set():
            self._relay_wake.clear()
            rows, due, more = await loop.run_in_executor(None, self._take_rows)
            if rows:
                await self._publish_rows(exchange, rows)
                if more:  # a stage had more ready rows than a round takes
                    continue
                # Every ready row was taken: the next round waits for a wake (a row this process committed since
                # sets it) or the poll, instead of a claim and a read that find nothing (two transactions a row).
                due = None
            timeout = self.settings.relay_poll_seconds
            if due is not None:
                timeout = min(timeout, max((due - self.clock.now()).total_seconds(), 0.01))
            waiter = asyncio.create_task(self._relay_wake.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def _publish_rows(self, exchange, rows: list[dict[str, Any]]) -> None:
        """Publish leased rows with confirms; the confirmed ones leave the outbox, the others are released."""
        import aio_pika

        loop = asyncio.get_running_loop()
        publishes = [
            exchange.publish(
                aio_pika.Message(envelope(item=r["id"], queue=r["queue"], payload=r["payload"],
                                          priority=r["priority"], attempts=r["attempts"] - 1,
                                          created_at=r["created_at"]),
                                 content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 message_id=f"{r['queue']}:{r['id']}", priority=r["priority"]),
                routing_key=self.names.queue(r["queue"], r["priority"]), mandatory=True)
            for r in rows
        ]
        results = await asyncio.gather(*publishes, return_exceptions=True)
        confirmed = [r["id"] for r, res in zip(rows, results) if not isinstance(res, BaseException)]
        refused = [r["id"] for r, res in zip(rows, results) if isinstance(res, BaseException)]
        await loop.run_in_executor(None, self._settle_rows, confirmed, refused)
        self.published += len(confirmed)
        if refused:
            error = next(res for res in results if isinstance(res, BaseException))
            raise ConnectionError(f"{len(refused)} publish(es) not confirmed: {type(error).__name__}: {error}")

    def _take_rows(self) -> tuple[list[dict[str, Any]], datetime | None, bool]:
        """Lease the most urgent ready rows of every stage, and whether a stage had more than a round takes; or
        the time the next one is due."""
        now = self.clock.now()
        lease = timedelta(seconds=self.settings.relay_lease_seconds)
        rows: list[dict[str, Any]] = []
        more = False
        with self.db.unit_of_work() as uow:
            # Rows of a relay that died before its confirms: their lease runs for relay_lease_seconds, so
            # looking for them a few times per lease is enough (not on every round, one per message).
            if self._expired_checked is None or (now - self._expired_checked) >= lease / 4:
                uow.queue.release_expired(now=now)
                self._expired_checked = now
            for stage in self.stages:
                taken = uow.queue.claim(stage, now=now, lease=lease, limit=self.settings.relay_batch)
                rows += taken
                more = more or len(taken) == self.settings.relay_batch
            uow.commit()
        if rows:
            rows.sort(key=lambda r: -r["priority"])
            return rows, None, more
        with self.db.reader() as uow:
            dues = [d for d in (uow.queue.next_available_at(s) for s in self.stages) if d is not None]
        return [], min(dues) if dues else None, False

    def _settle_rows(self, confirmed: list[int], refused: list[int]) -> None:
        with self.db.unit_of_work() as uow:
            uow.queue.done(confirmed)
            uow.queue.release(refused)
            uow.commit()

    # -- dead letters ------------------------------------------------------------------------------

    async def _dead_letter(self, message) -> None:
        loop = asyncio.get_running_loop()
        try:
            data = read_envelope(message.body)
            delivery = Delivery(int(data["item"]), str(data["queue"]), dict(data["payload"]), int(data["priority"]),
                                int(data["attempts"]), data["created_at"])
        except (ValueError, KeyError, TypeError) as exc:
            delivery = Delivery(0, "unknown", {"unreadable": True}, 0, 0, self.clock.now())
            log.error("transport: unreadable dead letter (%s); quarantined as such", exc)
        deaths = (message.headers or {}).get("x-death") or []
        reason = deaths[0].get("reason") if deaths and isinstance(deaths[0], dict) else None
        await loop.run_in_executor(None, self._quarantine_dead, delivery, str(reason or "delivery limit"))
        await message.ack()

    def _quarantine_dead(self, delivery: Delivery, reason: str) -> None:
        error = f"DeadLettered: {reason} after {self.settings.delivery_limit} deliveries"
        with self.db.unit_of_work() as uow:
            uow.queue.put(delivery.queue, delivery.payload, priority=delivery.priority, now=self.clock.now(),
                          state=ItemState.QUARANTINED, attempts=delivery.attempts, last_error=error,
                          created_at=delivery.created_at)
            audit.record(uow, self.clock, Action.TRANSPORT_DEAD_LETTERED, queue=delivery.queue, item=delivery.item_id,
                         reason=reason)
            uow.commit()
        log.error("transport: item %s of %s dead-lettered (%s); quarantined", delivery.item_id, delivery.queue, reason)
        hook = self._hooks.get(delivery.queue)
        if hook is not None:
            try:
                hook(delivery, DeadLettered(error))
            except Exception:  # noqa: BLE001 - the item is quarantined already; the hook only adds detail
                log.exception("transport: dead-letter hook of %s failed for item %s", delivery.queue,
                              delivery.item_id)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
