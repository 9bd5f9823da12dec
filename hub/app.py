"""The composition root: builds the store, gpg, keys, transport, gateway and runners from settings."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from crypto import StorageKey
from crypto.mime import pgpmime
from gateway import IngressHandler, Limits, Relay, server_tls_context, start_server
from store import Database, LeaderLock, ensure_head

from . import home as home_mod
from hub.audit.checkpoints import Checkpointer
from hub.audit.witnesses import WitnessSender
from hub.intake.admission import INTAKE_QUEUE, Admission
from .clock import Clock, SystemClock
from hub.outbound.delivery import DeliveryHandler
from .errors import HubError
from .health import Beat, Heartbeats, gateway_beat, process_name
from hub.intake.pipeline import IntakeHandler
from .leadership import keep_holding, while_leading
from hub.ops.gauges import StoreGauges
from hub.ops.metrics import Endpoint, Metrics
from hub.outbound.outbox import OUTBOUND_QUEUE
from hub.evaluations.policy import Policy
from hub.inbound.rules import Rules
from .precedence import Precedence
from .runner import Runner
from hub.deadlines.scheduler import Scheduler
from hub.deploy.serving import Serving
from .settings import Settings, host_port
from hub.transport.embedded import EmbeddedTransport
from hub.transport.priorities import priority_of
from hub.transport.protocol import Transport

log = logging.getLogger(__name__)

# What a process does: `all` is the embedded deployment; the others split it across processes.
ROLES = ("all", "gateway", "worker", "scheduler")
STAGES = (INTAKE_QUEUE, OUTBOUND_QUEUE)
# Concurrent intake batches of a process (beside the FLASH one): one. A second batch in the same interpreter only
# overlaps the first's waits, and takes the next message alone while the first is in hand; one batcher takes what
# arrived meanwhile together, with one checkpoint and one commit. Measured (docs/scaling.md, 2026-12-04): a third
# of the receipt checkpoints, the workers' CPU per message 13-17 % lower. Behind a backlog (a claim came back
# full) one more drains it beside it, each batch full: the receipts keep up with a saturating load. More cores:
# more worker processes.
INTAKE_WORKERS = 1
INTAKE_BACKLOG_WORKERS = 1
# Each stage keeps one more worker for FLASH items alone: a FLASH message behind a backlog waits for no batch.
RESERVED_FOR = priority_of("FLASH")


def gateway_limits(s: Settings) -> Limits:
    """The SMTP server's limits from the settings (the hub's gateway, and the intake bench's gateway alone)."""
    return Limits(max_message_bytes=s.gateway.max_message_bytes, max_connections=s.gateway.max_connections,
                  timeout_seconds=s.gateway.data_timeout_seconds,
                  max_connections_per_client=s.gateway.max_connections_per_client,
                  tls_reserved_connections=s.gateway.tls_reserved_connections,
                  starttls_within_seconds=s.gateway.starttls_within_seconds,
                  max_session_errors=s.gateway.max_session_errors)


class _Pools:
    """A serving process's threads. The gateway's verdicts never wait behind the pipeline's work, nor the
    reverse; heartbeats have their own."""

    def __init__(self, s: Settings) -> None:
        self.gateway = ThreadPoolExecutor(max_workers=s.gateway.verify_threads, thread_name_prefix="gateway")
        # The stages' workers, each stage's reserved one, the scheduler and the checkpointer.
        self.pipeline = ThreadPoolExecutor(max_workers=INTAKE_WORKERS + INTAKE_BACKLOG_WORKERS + s.delivery.workers
                                           + len(STAGES) + 2,
                                           thread_name_prefix="pipeline")
        self.health = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")

    def shutdown(self) -> None:
        for pool in (self.gateway, self.health, self.pipeline):
            pool.shutdown(wait=True)


def make_transport(settings: Settings, db: Database, clock: Clock, role: str = "all") -> Transport:
    """The embedded transport, or RabbitMQ when `[transport] url` is set; a worker consumes, others only publish."""
    if not settings.transport.enabled:
        return EmbeddedTransport(db, clock)
    from hub.transport.amqp import AmqpTransport

    working = role in ("all", "worker")
    return AmqpTransport(db, clock, settings.transport, stages=STAGES, consume=STAGES if working else (),
                         dead_letters=working)


class Hub:
    """One embedded hub: everything the process needs, built once at start-up."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, role: str = "all") -> None:
        home_mod.require(settings)
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database_url, busy_timeout_seconds=settings.store.busy_timeout_seconds)
        ensure_head(self.db.engine)
        self.gpg = home_mod.open_gpg(settings)
        self.storage_key = StorageKey.load(settings.storage_key_path)
        self.transport = make_transport(settings, self.db, self.clock, role)
        # The Art. 10 distribution policy is validated at start-up: a broken file stops the hub, not a send.
        self.policy = Policy.load(Path(settings.hub.policy_file) if settings.hub.policy_file else None)
        # So are the routing rules of inbound messages to OCAM's people.
        self.inbound_rules = Rules.load(Path(settings.hub.inbound_rules_file) if settings.hub.inbound_rules_file
                                        else None)
        self.checkpointer = Checkpointer.of_hub(settings, self.db, self.gpg, self.clock)
        self.runners: list[Runner] = []
        # Its keys and certificate: read again on SIGHUP (hub-key rotate, tls install), shown in the heartbeats.
        self.serving = Serving(settings, self.db, self.gpg, self.clock, schedules=role in ("all", "scheduler"))
        self.scheduler_sleep = 5.0  # longest the scheduler sleeps between index lookups
        self.metrics = Metrics()
        self.metrics.live.verifications = self.gpg.verifications

    def reload(self) -> None:
        """SIGHUP: the hub's keys and certificate again (deploy/serving.py); the audit log's checkpoints are signed
        by the hub's key from then on, as its receipts are."""
        if "hub.key_fingerprint" in self.serving.reload():
            self.checkpointer.follow_key(self.settings, self.gpg)

    def admission(self) -> Admission:
        g = self.settings.gateway
        limits = pgpmime.Limits(max_depth=g.max_mime_depth, max_parts=g.max_mime_parts,
                                max_header_line=g.max_header_line, max_header_bytes=g.max_header_bytes,
                                max_header_fields=g.max_header_fields)
        return Admission(db=self.db, gpg=self.gpg, storage_key=self.storage_key, clock=self.clock,
                         limits=limits, transport=self.transport,
                         signature_skew=timedelta(seconds=g.signature_clock_skew_seconds),
                         max_signature_age=g.max_signature_age, max_notification_bytes=g.max_notification_bytes,
                         deadlines=self.settings.deadlines, hub=self.settings.hub)

    def relay(self, override: str | None = None) -> Relay:
        d = self.settings.delivery
        host, port = host_port(override or d.relay, 25)
        return Relay(host, port, starttls=d.relay_starttls, timeout_seconds=d.timeout_seconds,
                     local_hostname=self.settings.hub.domain)

    async def serve(self, *, listen: str | None = None, relay: str | None = None,
                    stop: asyncio.Event | None = None, ready: Callable[[str, int], None] | None = None,
                    install_signals: bool = True, metrics: str | None = None) -> None:
        """This process's role (gateway, intake and delivery, scheduler, or all) until SIGTERM/SIGINT (or *stop*);
        its Prometheus endpoint on *metrics* (HOST:PORT) when given."""
        loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        embedded = self._embedded_guard()
        endpoint = None
        try:
            endpoint = Endpoint(self.metrics, metrics) if metrics else None
            await self._serve(loop, stop, listen=listen, relay=relay, ready=ready, install_signals=install_signals,
                              embedded=embedded)
        finally:
            if endpoint is not None:
                endpoint.close()
            if embedded is not None:
                embedded.release()

    def _embedded_guard(self) -> LeaderLock | None:
        """One embedded hub (role all, no broker) per store: at start-up it takes back every item a previous
        run left in hand, which would steal the work of another one running on the same store."""
        if self.role != "all" or self.settings.transport.enabled:
            return None
        lock = LeaderLock(self.db, "embedded-hub")
        if not lock.try_acquire():
            raise HubError("another embedded hub is already serving this store; run one `passerelle serve` per "
                           "store, or set [transport] url (RabbitMQ) to run several processes on it")
        return lock

    async def _serve(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event, *, listen: str | None,
                     relay: str | None, ready: Callable[[str, int], None] | None, install_signals: bool,
                     embedded: LeaderLock | None = None) -> None:
        # Threads holding the store's write lock must get the GIL back quickly (default: 5 ms).
        sys.setswitchinterval(0.0005)
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        pools = _Pools(self.settings)
        transport_stop = asyncio.Event()  # set after the runners: their last acks reach the broker
        self.transport.bind(loop)
        transport = asyncio.create_task(self.transport.run(transport_stop), name="transport")
        if self.role == "all":
            recovered = await loop.run_in_executor(pools.pipeline, self.transport.recover)
            if recovered:
                log.info("serve: %d item(s) left in hand by a previous run are queued again", recovered)
        server, bound = (await self._gateway(pools.gateway, listen, relay)) if self.role in ("all", "gateway") \
            else (None, ("", 0))
        delivery = self._workers(pools, relay) if self.role in ("all", "worker") else None
        tasks = [asyncio.create_task(r.run(stop), name=f"runner-{r.queue}") for r in self.runners]
        leader = None
        if self.role in ("all", "scheduler"):
            leader, scheduler = self._scheduler(stop, pools)
            tasks += [scheduler, self._checkpoints(stop, pools)]
        if embedded is not None:  # taken back after a database restart, before a second hub could start
            tasks.append(asyncio.create_task(keep_holding(
                embedded, stop, pools.health, why="a second embedded hub may have started on this store and taken "
                "this one's work in hand"), name="embedded-hub"))
        tasks.append(self._heartbeats(stop, pools, server, delivery, leader, sole=embedded is not None))
        log.info("serve: role %s, transport %s", self.role, "RabbitMQ" if self.settings.transport.enabled
                 else "embedded")
        if ready is not None:
            ready(bound[0], bound[1])
        try:
            await stop.wait()
        finally:
            log.info("serve: stopping — no new connections; finishing what is in hand")
            if server is not None:
                server.close()
                await server.wait_closed()
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            transport_stop.set()
            await asyncio.gather(transport, return_exceptions=True)
            pools.shutdown()
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
            log.info("serve: stopped")

    def _workers(self, pools: _Pools, relay: str | None) -> DeliveryHandler:
        """The intake and delivery runners of a worker (or the embedded hub); dead letters go to quarantine."""
        s = self.settings
        intake = IntakeHandler(settings=s, db=self.db, gpg=self.gpg, storage_key=self.storage_key,
                               clock=self.clock, transport=self.transport, rules=self.inbound_rules,
                               checkpointer=self.checkpointer)
        delivery = DeliveryHandler(db=self.db, relay=self.relay(relay), storage_key=self.storage_key,
                                   clock=self.clock, transport=self.transport, policy=s.delivery,
                                   deadlines=s.deadlines, observe=self.metrics.delivered)
        self.metrics.live.relay_failures = lambda: delivery.gate.state()[0]
        # One for the process: a FLASH batch in either stage, the other batches give way, its writes go first.
        turns = Precedence(writes_first=self.db.writes_first)
        intake.precedence = delivery.precedence = turns
        self.runners = [Runner(intake, self.transport, pools.pipeline, self.clock, concurrency=INTAKE_WORKERS,
                               backlog=INTAKE_BACKLOG_WORKERS, reserve=RESERVED_FOR, precedence=turns),
                        Runner(delivery, self.transport, pools.pipeline, self.clock, concurrency=s.delivery.workers,
                               reserve=RESERVED_FOR, precedence=turns)]
        for handler in (intake, delivery):
            self.transport.on_dead_letter(handler.queue, handler.on_quarantine)
        return delivery

    def _scheduler(self, stop: asyncio.Event, pools: _Pools) -> tuple[LeaderLock, asyncio.Task]:
        """The scheduler, run only while this process holds its leadership: exactly one among the processes
        sharing the store."""
        self.scheduler = Scheduler(settings=self.settings, db=self.db, gpg=self.gpg, storage_key=self.storage_key,
                                   clock=self.clock, transport=self.transport)
        leader = LeaderLock(self.db, "scheduler")
        self.metrics.live.leading = lambda: leader.held
        self.metrics.watch(StoreGauges(self.db, self.clock, leading=lambda: leader.held,
                                       every_seconds=self.settings.metrics.store_every_seconds))
        task = asyncio.create_task(while_leading(
            leader, lambda lost: self.scheduler.run(lost, pools.pipeline, longest_sleep=self.scheduler_sleep), stop,
            pools.pipeline), name="scheduler")
        return leader, task

    def _checkpoints(self, stop: asyncio.Event, pools: _Pools) -> asyncio.Task:
        """The log's checkpoints every `audit.checkpoint_seconds` while it grows, by one process among those sharing
        the store (the leader of `checkpointer`)."""
        every = self.settings.audit.checkpoint_seconds
        witnesses = WitnessSender(settings=self.settings, db=self.db, gpg=self.gpg, storage_key=self.storage_key,
                                  clock=self.clock, transport=self.transport)
        return asyncio.create_task(while_leading(
            LeaderLock(self.db, "checkpointer"),
            lambda lost: self.checkpointer.run(lost, pools.pipeline, every_seconds=every, then=witnesses), stop,
            pools.pipeline), name="checkpointer")

    def _heartbeats(self, stop: asyncio.Event, pools: _Pools, server, delivery: DeliveryHandler | None,
                    leader: LeaderLock | None, *, sole: bool) -> asyncio.Task:
        """Heartbeats on their own thread (a hanging gpg probe never holds up the pipeline), under this process's
        name, for the components it runs; *sole*: the embedded hub, the only process on its store."""
        s = self.settings
        heartbeats = Heartbeats(
            db=self.db, clock=self.clock, gpg=self.gpg, hub_fingerprint=s.hub.key_fingerprint,
            every_seconds=s.hub.heartbeat_seconds, process=process_name(self.role),
            gate=delivery.gate if delivery is not None else None,
            leading=(lambda: leader.held) if leader is not None else None,
            retention=timedelta(seconds=s.hub.heartbeat_retention_seconds), sole=sole, extra=self.serving.beats)
        ingress = self._ingress if server is not None else None

        def gateway_now() -> Beat | None:
            return gateway_beat(server, ingress.active, ingress.limits.max_connections) if ingress else None

        return asyncio.create_task(heartbeats.run(stop, pools.health, gateway_now), name="heartbeats")

    async def _gateway(self, pool: ThreadPoolExecutor, listen: str | None, relay: str | None):
        s = self.settings
        admission = self.admission()
        handler = IngressHandler(
            admit=self.metrics.counting(admission), accepts_rcpt=s.hub.accepts, hub_address=s.hub.address,
            executor=pool, record_refusal=self.metrics.counting_refusals(admission.record_refusal),
            limits=gateway_limits(s),
        )
        host, port = host_port(listen or s.gateway.listen, 2525)
        tls = server_tls_context(str(s.tls_cert), str(s.tls_key))
        self.serving.presenting(tls)
        self._ingress = handler
        self.metrics.live.sessions = lambda: handler.active
        server = await start_server(handler, host, port, tls_context=tls, require_starttls=s.gateway.require_starttls,
                                    hostname=s.hub.domain)
        bound = server.sockets[0].getsockname()
        log.info("serve: SMTP on %s:%d (STARTTLS %s), relay %s", bound[0], bound[1],
                 "required" if s.gateway.require_starttls else "offered", relay or s.delivery.relay)
        return server, bound

    def close(self) -> None:
        self.db.dispose()
