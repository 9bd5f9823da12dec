"""The RabbitMQ transport (aio-pika): the same queue rows as the embedded one, relayed to the broker.

publish() writes the row the embedded transport writes, in the caller's transaction (the outbox); a relay
task publishes rows, most urgent first, persistent with publisher confirms, and removes a row only once the
broker confirmed it. The rows this process commits while its relay runs are written leased to that relay and
handed to it in memory (no claim of its own); the relay claims ready rows (another process's, a retry falling
due, a lease run out) at its start and at least every ``relay_poll_seconds``, and removes confirmed rows a
round of confirms at a time. A broker outage therefore never loses nor blocks an accepted message: the rows
wait and drain when it returns. Consumers hold a few messages per urgency queue (manual ack); a stage's ack
or retry is sent to the broker only after its transaction committed. A message delivered ``delivery_limit``
times goes to the dead-letter queue, whose consumer puts it into the store's quarantine.
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
        self._relaying = False  # this process's relay runs: the rows it commits are handed to it
        self._handed: list[dict[str, Any]] = []  # committed, leased to this relay, not yet published
        self._confirmed: list[int] = []  # confirmed by the broker, not yet removed from the outbox

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

    def publish(self, uow: UnitOfWork, queue: str, payload: dict[str, Any], *, priority: int,
                available_at: datetime | None = None) -> None:
        """Into the outbox, in the caller's transaction. While this process's relay runs, a row due now is
        written leased to it and handed over once the transaction commits: the relay publishes it without a
        claim (a transaction per round saved). Should the process stop first, the row returns when its lease
        ends and any relay takes it, as a row of a relay that died."""
        now = self.clock.now()
        if not self._relaying or (available_at is not None and available_at > now):
            self._put(uow, queue, payload, priority=priority, available_at=available_at)
            return
        row = self._put(uow, queue, payload, priority=priority, attempts=1,
                        lease_until=now + timedelta(seconds=self.settings.relay_lease_seconds))
        self._on_commit(uow, "_amqp_handed", self._hand_over).append(row)

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
        """Rows were committed to the outbox: wake the relay (the rows handed to it). Safe to call from any
        thread. Rows written ready (another process's, or this one's while its relay was down) are claimed at
        the relay's start and at least every ``relay_poll_seconds``."""
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
        self._on_commit(uow, "_amqp_settle", self._acked).append(delivery)

    def _acked(self, settled: list[Delivery]) -> None:
        with self._lock:
            messages = [self._in_hand.pop(d.token) for d in settled if d.token in self._in_hand]
        if messages and self._loop is not None:
            self._loop.call_soon_threadsafe(self._settle_all, messages, "ack")

    def _hand_over(self, rows: list[dict[str, Any]]) -> None:
        """Rows leased to this relay are committed: it publishes them at its next round (woken now)."""
        with self._lock:
            self._handed.extend(rows)
        self.notify("")

    @staticmethod
    def _on_commit(uow: UnitOfWork, key: str, then) -> list:
        """The list *then* is handed once *uow*'s transaction commits (dropped if it rolls back); a later
        transaction of the same unit of work gets a list of its own."""
        pending = uow.__dict__.get(key)
        if pending is None:
            pending = uow.__dict__[key] = []

            def committed(_session) -> None:
                uow.__dict__.pop(key, None)
                event.remove(uow.session, "after_rollback", rolled_back)
                then(pending)

            def rolled_back(_session) -> None:
                uow.__dict__.pop(key, None)
                event.remove(uow.session, "after_commit", committed)

            event.listen(uow.session, "after_commit", committed, once=True)
            event.listen(uow.session, "after_rollback", rolled_back, once=True)
        return pending

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
        """Rounds until *stop*: the rows handed over since the last one, and the outbox's ready rows when its claim
        is due (at the start, then at most every ``relay_poll_seconds`` or when a retry falls due, at once while
        a stage has more than a round takes); confirmed rows are removed ``relay_settle_seconds`` after the first
        of them, together."""
        loop = asyncio.get_running_loop()
        assert self._relay_wake is not None
        poll, settle = self.settings.relay_poll_seconds, self.settings.relay_settle_seconds
        next_claim, settle_at = loop.time(), None  # the first round claims: an earlier life's rows, others'
        self._relaying = True
        try:
            while not stop.is_set():
                self._relay_wake.clear()
                rows, more = self._take_handed(), False
                if loop.time() >= next_claim:
                    claimed, due, more = await loop.run_in_executor(None, self._take_rows)
                    rows += claimed
                    wait = poll if due is None else min(poll, max((due - self.clock.now()).total_seconds(), 0.01))
                    next_claim = loop.time() + (0.0 if more else wait)
                if rows:
                    rows.sort(key=lambda r: -r["priority"])
                    await self._publish_rows(exchange, rows)
                    settle_at = settle_at or loop.time() + settle
                full = len(self._confirmed) >= self.settings.relay_batch
                if settle_at is not None and (full or loop.time() >= settle_at):
                    await loop.run_in_executor(None, self._settle_confirmed)
                    settle_at = None
                if more or self._handed:
                    continue
                timeout = max(min(next_claim, settle_at or next_claim) - loop.time(), 0.0)
                waiter = asyncio.create_task(self._relay_wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
        finally:
            self._relaying = False
            await loop.run_in_executor(None, self._end_of_relay)

    def _take_handed(self) -> list[dict[str, Any]]:
        """The rows handed over that have half their lease left. One held longer (the broker away) is left to its
        lease: once that ends any relay claims it, and this one does not publish it as late as another might."""
        margin = timedelta(seconds=self.settings.relay_lease_seconds / 2)
        now = self.clock.now()
        with self._lock:
            handed, self._handed = self._handed, []
        kept = [r for r in handed if r["lease_until"] - now > margin]
        if len(kept) < len(handed):
            log.info("transport: %d outbox row(s) held past half their lease; relayed once it ends",
                     len(handed) - len(kept))
        return kept

    def _settle_confirmed(self) -> None:
        """Remove the confirmed rows from the outbox (kept for the next try if the store refuses)."""
        with self._lock:
            ids, self._confirmed = self._confirmed, []
        if not ids:
            return
        try:
            self._settle_rows(ids, [])
        except Exception:
            with self._lock:
                self._confirmed[:0] = ids
            raise

    def _end_of_relay(self) -> None:
        """The relay stops: its confirmed rows leave the outbox, the rows handed to it and not published go back
        to ready (no lease to wait out for the next relay)."""
        with self._lock:
            handed, self._handed = self._handed, []
            confirmed, self._confirmed = self._confirmed, []
        if not handed and not confirmed:
            return
        try:
            self._settle_rows(confirmed, [r["id"] for r in handed])
        except Exception as exc:  # noqa: BLE001 - they stay leased: relayed again once their lease ends
            log.warning("transport: %d confirmed and %d unpublished outbox row(s) left leased (%s: %s)",
                        len(confirmed), len(handed), type(exc).__name__, exc)

    async def _publish_rows(self, exchange, rows: list[dict[str, Any]]) -> None:
        """Publish leased rows with confirms; the confirmed ones are to leave the outbox, the others are released."""
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
        with self._lock:
            self._confirmed += confirmed
        self.published += len(confirmed)
        if refused:
            await loop.run_in_executor(None, self._settle_rows, [], refused)
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
