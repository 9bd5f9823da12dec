"""Heartbeats: every few seconds each serving process writes the health of the components it runs (gateway,
store, gpg, relay, scheduler) into the store, one row per component and process.

The dashboard runs in another process and reads them; a beat it finds older than a few intervals means
the hub (or that part of it) has stopped. Details are status lines — addresses, counts, latencies —
never a secret and never message content.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from crypto import Gpg, GpgUnavailable
from store import Database, StoreUnavailable
from store.vocabulary import DeliveryState, HealthState

from .clock import Clock
from hub.outbound.delivery import RelayGate

log = logging.getLogger(__name__)

SLOW_GPG_SECONDS = 2.0  # a key listing slower than this: gpg (or its agent) is struggling
SLOW_STORE_SECONDS = 1.0  # a heartbeat write slower than this: the store is struggling


@dataclass(frozen=True)
class Beat:
    component: str
    state: str  # ok | degraded | down | standby
    detail: str


def gateway_beat(server: asyncio.AbstractServer, active: int, max_connections: int) -> Beat:
    """Is the SMTP listener serving, and how many sessions are open (read on the event loop)."""
    if not server.is_serving() or not server.sockets:
        return Beat("gateway", HealthState.DOWN, "not listening")
    host, port = server.sockets[0].getsockname()[:2]
    state = HealthState.DEGRADED if active >= max_connections else HealthState.OK
    return Beat("gateway", state, f"listening {host}:{port}, {active}/{max_connections} sessions")


def gpg_beat(gpg: Gpg, fingerprint: str) -> Beat:
    """A cheap probe off the event loop: list the hub's own key, timed."""
    started = time.perf_counter()
    try:
        info = gpg.key(fingerprint) if fingerprint else None
    except GpgUnavailable as exc:
        return Beat("gpg", HealthState.DOWN, str(exc)[:120])
    ms = (time.perf_counter() - started) * 1000
    if info is None:
        return Beat("gpg", HealthState.DOWN, f"hub key not found ({ms:.0f} ms)")
    if info.revoked:
        return Beat("gpg", HealthState.DOWN, "hub key revoked")
    state = HealthState.DEGRADED if ms > SLOW_GPG_SECONDS * 1000 else HealthState.OK
    return Beat("gpg", state, f"hub key listed in {ms:.0f} ms")


def relay_beat(gate: RelayGate, now: datetime, failed_deliveries: int) -> Beat:
    """The relay as the delivery workers last found it: its back-off, its last error, failed deliveries."""
    failures, retry_at, error = gate.state()
    waiting = f", {failed_deliveries} failed deliveries" if failed_deliveries else ""
    why = f"; last: {error[:60]}" if error else ""
    if retry_at is not None and now < retry_at:
        wait = int((retry_at - now).total_seconds())
        return Beat("relay", HealthState.DOWN,
                    f"back-off after {failures} failure(s), next try in {wait} s{waiting}{why}")
    if failures:
        return Beat("relay", HealthState.DEGRADED, f"{failures} failure(s) in a row, probing{waiting}{why}")
    return Beat("relay", HealthState.OK, f"accepting{waiting}")


PROCESS_NAME_LENGTH = 80  # the column's width


def process_name(role: str, host: str | None = None, pid: int | None = None) -> str:
    """How a serving process signs its heartbeats: ROLE@HOST:PID (no address, no secret). A long host name
    is cut, never the role or the pid, so two processes of one host never share a name."""
    host = socket.gethostname() if host is None else host
    tail = f":{os.getpid() if pid is None else pid}"
    return f"{role}@{host[:max(PROCESS_NAME_LENGTH - len(role) - 1 - len(tail), 0)]}{tail}"


def scheduler_beat(leading: bool) -> Beat:
    """Exactly one scheduler leads among the processes of a store; the others stand by to take over."""
    if leading:
        return Beat("scheduler", HealthState.OK, "leading")
    return Beat("scheduler", HealthState.STANDBY, "standing by, another leads")


class Heartbeats:
    """Writes one beat per component this process runs; the store's own beat is the round trip of the
    previous write. Every serving process beats under its own name (``process``), so a deployment of
    several gateways, workers and schedulers shows each of them; rows that no process has rewritten for
    *retention* are pruned by whichever process beats.

    *sole*: this is the embedded hub, the only process serving its store (it holds the ``embedded-hub``
    lock). Its first beat removes every other process's rows (its own earlier runs, killed or stopped:
    they would otherwise stay on the dashboard as stale lines until the retention), and when it stops
    it says "hub stopped" for each component rather than going silent. Any other process removes its
    own rows when it stops cleanly, the others still speak for the deployment.
    """

    def __init__(self, *, db: Database, clock: Clock, gpg: Gpg, hub_fingerprint: str, every_seconds: float,
                 process: str = "", gate: RelayGate | None = None, leading: Callable[[], bool] | None = None,
                 retention: timedelta = timedelta(days=1), sole: bool = True,
                 extra: Callable[[], list[Beat]] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.gpg = gpg
        self.hub_fingerprint = hub_fingerprint
        self.gate = gate  # a worker's relay gate: the relay beat, if this process delivers
        self.leading = leading  # a scheduler's leadership: the scheduler beat, if this process schedules
        self.every_seconds = every_seconds
        self.process = process
        self.retention = retention
        self.sole = sole
        self.extra = extra  # more lines of this process (hub/deploy/serving.py: its certificate, the keys)
        self.components: tuple[str, ...] = ()  # what the last beat written covered (none yet: ())
        self._last = (clock.now(), time.monotonic())  # (clock time, real time) of the last beat, or of start
        self._round_trip: float | None = None

    def _store_beat(self) -> Beat:
        if self._round_trip is None:
            return Beat("store", HealthState.OK, "first beat")
        ms = self._round_trip * 1000
        state = HealthState.DEGRADED if self._round_trip > SLOW_STORE_SECONDS else HealthState.OK
        return Beat("store", state, f"write round trip {ms:.1f} ms")

    def beat(self, gateway: Beat | None) -> None:
        """Probe gpg, read the relay's state, write every beat in one transaction (in a worker thread)."""
        gpg = gpg_beat(self.gpg, self.hub_fingerprint)
        extra = self.extra() if self.extra is not None else []  # before the write: they may read or write the store
        now, real = self.clock.now(), time.monotonic()
        # The interval in the hub's clock time: an accelerated (demo) clock makes it longer, so that a
        # reader comparing beat_at with that clock does not find every beat stale.
        since_at, since_real = self._last
        elapsed = real - since_real
        speed = (now - since_at).total_seconds() / elapsed if elapsed > 0.002 else 1.0  # the gpg probe lasts longer
        every = self.every_seconds * max(1.0, speed)
        started = time.perf_counter()
        with self.db.unit_of_work() as uow:
            beats = [b for b in (gateway, self._store_beat(), gpg) if b is not None]
            if self.gate is not None:
                beats.append(relay_beat(self.gate, now, uow.outbound.count(state=DeliveryState.FAILED)))
            if self.leading is not None:
                beats.append(scheduler_beat(self.leading()))
            beats += extra
            for b in beats:
                uow.heartbeats.beat(b.component, process=self.process, state=b.state, detail=b.detail, at=now,
                                    every_seconds=every)
            if self.sole and not self.components:  # the first beat
                uow.heartbeats.forget_others(self.process)
            else:
                uow.heartbeats.prune(now - self.retention)
            uow.commit()
        self.components = tuple(b.component for b in beats)
        self._round_trip = time.perf_counter() - started
        self._last = (now, real)

    async def run(self, stop: asyncio.Event, executor: Executor, gateway: Callable[[], Beat | None]) -> None:
        """Beat until *stop*; a failed beat is logged and the next one tried (the dashboard sees the gap)."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await loop.run_in_executor(executor, self.beat, gateway())
            except StoreUnavailable as exc:
                log.warning("health: heartbeat not written, store unavailable: %s", exc)
            except Exception:  # the heartbeat's boundary: never stop the hub for it
                log.exception("health: heartbeat failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.every_seconds)
            except asyncio.TimeoutError:
                pass
        try:
            await loop.run_in_executor(executor, self.stopped)
        except Exception:  # the dashboard then sees the beats go stale instead
            log.exception("health: last heartbeat failed")

    def stopped(self) -> None:
        """The last beat: every component down because the hub stopped (not a silent gap), or, for one
        process among several, its rows removed."""
        now = self.clock.now()
        with self.db.unit_of_work() as uow:
            if not self.sole:
                uow.heartbeats.forget(self.process)
            else:
                for component in self.components or ("gateway", "store", "gpg", "relay", "scheduler"):
                    uow.heartbeats.beat(component, process=self.process, state=HealthState.DOWN, detail="hub stopped",
                                        at=now, every_seconds=self.every_seconds)
            uow.commit()
