"""Outbound delivery: hand each queued mail to the relay; back off on 4xx, alert on 5xx or old age."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from crypto import SealError, StorageKey
from gateway import Relay, RelayPermanent, RelayTemporary
from store import Database, StoreUnavailable
from store.vocabulary import Action, DeliveryState, MessageState, ReceiptStatus

from hub import audit, precedence
from hub.clock import Clock
from .outbox import OUTBOUND_QUEUE
from hub.deadlines import clocks, windows
from hub.settings import DeadlinesSection, DeliverySection
from hub.transport.protocol import Delivery, Transport
from hub.vault import unseal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    mail_id: int
    message_id: int | None
    purpose: str
    reference: str | None
    mail_from: str
    rcpt_to: str
    data: bytes
    attempts: int
    created_at: datetime
    due_at: datetime | None = None
    received_at: datetime | None = None  # its message's (a receipt: the 250 its latency counts from)
    envelope_id: str | None = None


@dataclass(frozen=True)
class _Accepted:
    """The relay took a mail: its reply, and for a copy that asked for DSNs whether the relay offered them."""

    reply: str
    dsn: bool | None = None


def next_attempt(schedule: list[float], attempts: int, now: datetime) -> datetime:
    """When to try again after *attempts* failed tries: the schedule's step, the last one repeating."""
    step = schedule[min(max(attempts - 1, 0), len(schedule) - 1)] if schedule else 300.0
    return now + timedelta(seconds=step)


class RelayGate:
    """The relay's own back-off: while it is failing, every delivery waits for the same next probe time.

    Items deferred during an outage share one retry time, so when the relay returns the queue's
    priority order decides what goes first: FLASH before a ROUTINE backlog.
    """

    def __init__(self, schedule: list[float]) -> None:
        self.schedule = schedule
        self.failures = 0
        self.retry_at: datetime | None = None
        self.last_error: str | None = None  # the relay's last reply or connection error (for the heartbeat)
        self._lock = threading.Lock()

    def closed_until(self, now: datetime) -> datetime | None:
        with self._lock:
            return self.retry_at if self.retry_at is not None and now < self.retry_at else None

    def failed(self, now: datetime, error: str | None = None) -> datetime:
        with self._lock:
            self.last_error = error
            if self.retry_at is None or now >= self.retry_at:
                self.failures += 1
                self.retry_at = next_attempt(self.schedule, self.failures, now)
            return self.retry_at

    def succeeded(self) -> None:
        with self._lock:
            self.failures, self.retry_at, self.last_error = 0, None, None

    def state(self) -> tuple[int, datetime | None, str | None]:
        """(failures in a row, next probe time, last error), read together."""
        with self._lock:
            return self.failures, self.retry_at, self.last_error


class DeliveryHandler:
    """Sends queued mail; the SMTP exchanges happen outside any transaction."""

    queue = OUTBOUND_QUEUE

    def __init__(self, *, db: Database, relay: Relay, storage_key: StorageKey, clock: Clock, transport: Transport,
                 policy: DeliverySection, deadlines: DeadlinesSection | None = None,
                 observe: Callable[[str, str, timedelta | None], None] | None = None) -> None:
        self.deadlines = deadlines or DeadlinesSection()
        # Told of every attempt once recorded: (purpose, sent | deferred | failed, a receipt's time since its 250).
        self.observe = observe
        self.precedence = precedence.NONE  # the serving process's: this batch's mails give way to a FLASH batch
        self.db = db
        self.relay = relay
        self.storage_key = storage_key
        self.clock = clock
        self.transport = transport
        self.policy = policy
        self.gate = RelayGate(policy.retry_schedule_seconds)
        # Mails this process's delivery workers have in hand or have sent (the most recent ones). A broker
        # may hand a worker a second copy of an item (redelivery after a crash, the outbox relayed twice)
        # while another worker of this process still has the first in hand, or after it sent it but
        # before this batch was loaded: that copy is only acknowledged, never sent again.
        self._taken: OrderedDict[int, None] = OrderedDict()
        self._taken_lock = threading.Lock()

    TAKEN_KEPT = 10_000

    def _take(self, mail_id: int) -> bool:
        with self._taken_lock:
            if mail_id in self._taken:
                return False
            self._taken[mail_id] = None
            while len(self._taken) > self.TAKEN_KEPT:
                self._taken.popitem(last=False)
            return True

    def _give_back(self, mail_id: int) -> None:
        with self._taken_lock:
            self._taken.pop(mail_id, None)

    def handle(self, deliveries: list[Delivery]) -> list[tuple[Delivery, Exception]]:
        """Send a batch one by one on this worker's relay session, recording each mail's outcome as it goes."""
        jobs, failures = self._load(deliveries)
        outcomes: list[tuple[Delivery, _Job | None, str, object]] = []
        for delivery in deliveries:
            if any(d is delivery for d, _ in failures):
                continue
            job = jobs.get(delivery.item_id)
            if job is None:  # gone, or already sent or failed: nothing to do
                outcomes.append((delivery, None, "done", None))
                continue
            closed_until = self.gate.closed_until(self.clock.now())
            if closed_until is not None:  # the relay is known to be down: no attempt spent, wait for its probe
                outcomes.append((delivery, job, "gated", closed_until))
                continue
            if not self._take(job.mail_id):  # a copy another worker of this process has in hand, or sent
                outcomes.append((delivery, None, "done", None))
                continue
            self.precedence.pause_point()
            try:
                text = self.relay.send(job.mail_from, job.rcpt_to, job.data, envelope_id=job.envelope_id)
                reply = _Accepted(text, self.relay.offers_dsn() if job.envelope_id is not None else None)
            except RelayTemporary as exc:
                outcome: tuple[Delivery, _Job | None, str, object] = (delivery, job, "deferred", exc)
            except RelayPermanent as exc:
                self.gate.succeeded()  # the relay answered: it is up, it refused this one
                outcome = (delivery, job, "refused", exc)
            else:
                self.gate.succeeded()
                outcome = (delivery, job, "sent", reply)
            # Recorded at once: a crash between the relay's answer and this commit is the only window in
            # which a mail can go out twice; it must not span the rest of the batch.
            recorded = False
            try:
                self._record_sent([outcome])
                recorded = True
                if self.observe is not None:
                    self._observe(job, outcome[2])
            finally:
                if not (recorded and outcome[2] == "sent"):  # its next attempt may be sent by any worker
                    self._give_back(job.mail_id)
        self._record_sent(outcomes)
        return failures

    def _observe(self, job: _Job, outcome: str) -> None:
        now = self.clock.now()
        if outcome != "sent":
            outcome = "failed" if self._gives_up(job, outcome == "refused", now) else "deferred"
        latency = now - job.received_at if outcome == "sent" and job.received_at is not None else None
        self.observe(job.purpose, outcome, latency)

    def _gives_up(self, job: _Job, permanent: bool, now: datetime) -> bool:
        """A refusal for good, or a mail older than delivery.max_age: no further attempt."""
        return permanent or now - job.created_at >= self.policy.max_age

    def _record_sent(self, outcomes: list[tuple[Delivery, _Job | None, str, object]], *, tries: int = 60,
                     pause_seconds: float = 0.5) -> None:
        """Record the outcomes; when mail already left, wait out a store outage (bounded) rather than hand the
        items back to be sent a second time."""
        for attempt in range(tries):
            try:
                return self._record(outcomes)
            except StoreUnavailable:
                if attempt == tries - 1 or not any(outcome == "sent" for _, _, outcome, _ in outcomes):
                    raise
                log.warning("delivery: store unavailable while recording %d sent mail(s); retrying", len(outcomes))
                time.sleep(pause_seconds)

    def _load(self, deliveries: list[Delivery]) -> tuple[dict[int, _Job], list[tuple[Delivery, Exception]]]:
        jobs: dict[int, _Job] = {}
        failures: list[tuple[Delivery, Exception]] = []
        with self.db.reader() as uow:
            mails = uow.outbound.jobs([int(d.payload["outbound_id"]) for d in deliveries])
        for delivery in deliveries:
            mail = mails.get(int(delivery.payload["outbound_id"]))
            if mail is None or mail.state != DeliveryState.PENDING:
                continue
            try:
                data = unseal(self.storage_key, mail, context=f"outbound:{mail.rfc_message_id}")
            except SealError as error:
                failures.append((delivery, error))
                continue
            jobs[delivery.item_id] = _Job(mail.id, mail.message_id, mail.purpose, mail.reference, mail.mail_from,
                                          mail.rcpt_to, data, mail.attempts, mail.created_at, mail.due_at,
                                          mail.received_at, mail.envelope_id)
        return jobs, failures

    def _record(self, outcomes: list[tuple[Delivery, _Job | None, str, object]]) -> None:
        """Record outcomes in a transaction the process's other writers may share (group commit): a mail
        that left is recorded as soon as the next commit, without a commit of its own."""
        if not outcomes:
            return

        def write(uow) -> None:
            for delivery, job, outcome, value in outcomes:
                if job is None:
                    self.transport.ack(uow, delivery)  # nothing to do
                elif outcome == "sent":
                    self._sent(uow, delivery, job, value)
                elif uow.outbound.state_of(job.mail_id) != DeliveryState.PENDING:
                    self.transport.ack(uow, delivery)  # a redelivered copy recorded it first
                elif outcome == "gated":
                    self.transport.retry(uow, delivery, at=value, error="relay unavailable")
                else:
                    self._failed(uow, delivery, job, value, permanent=outcome == "refused")

        self.db.group.run(lambda uow: None, write)

    def _sent(self, uow, delivery: Delivery, job: _Job, accepted: "_Accepted") -> None:
        now = self.clock.now()
        reply, dsn = accepted.reply, accepted.dsn
        values = {"state": DeliveryState.SENT, "sent_at": now, "attempts": job.attempts + 1, "last_error": None}
        on_time = None
        if job.due_at is not None:
            on_time = windows.on_time(now, job.due_at)
            values["on_time"] = on_time
        if dsn is False:  # the relay offers no DSN: no report will quote the ENVID, only an MDN acknowledges
            values["envelope_id"] = None
        if not uow.outbound.update_pending(job.mail_id, **values):
            self.transport.ack(uow, delivery)  # a redelivered copy recorded it first: its record stands
            return
        self._mark_message(uow, job, ReceiptStatus.SENT)
        audit.record(uow, self.clock, f"{job.purpose}.sent", ref=job.reference, to=job.rcpt_to,
                     attempts=job.attempts + 1, relay_reply=reply[:200], on_time=on_time,
                     **({} if dsn is None else {"dsn": "requested" if dsn else "not offered by the relay"}))
        if job.purpose == "request" and job.message_id is not None:
            uow.messages.update(job.message_id, state=MessageState.SENT)
            message = uow.messages.get(job.message_id)
            clocks.relay_accepted(uow, deadlines=self.deadlines, clock=self.clock, message=message,
                                  mail_id=job.mail_id, at=now)
        self.transport.ack(uow, delivery)
        log.info("delivery: %s %s sent to %s", job.reference, job.purpose, job.rcpt_to)

    def _failed(self, uow, delivery: Delivery, job: _Job, exc: RelayTemporary | RelayPermanent, *,
                permanent: bool) -> None:
        now = self.clock.now()
        attempts = job.attempts + 1
        give_up = self._gives_up(job, permanent, now)
        error = str(exc)[:500]
        if give_up:
            uow.outbound.update(job.mail_id, state=DeliveryState.FAILED, attempts=attempts, last_error=error)
            self._mark_message(uow, job, ReceiptStatus.FAILED)
            audit.record(uow, self.clock, Action.ALERT_DELIVERY_FAILED, ref=job.reference, purpose=job.purpose,
                         to=job.rcpt_to, code=exc.code, attempts=attempts,
                         why="refused by the relay" if permanent else "retry schedule exhausted")
            self.transport.ack(uow, delivery)
        else:
            retry_at = self.gate.failed(now, error)
            uow.outbound.update(job.mail_id, attempts=attempts, last_error=error, next_attempt_at=retry_at)
            audit.record(uow, self.clock, f"{job.purpose}.deferred", ref=job.reference, to=job.rcpt_to,
                         code=exc.code, attempts=attempts, next_attempt_at=retry_at.isoformat())
            self.transport.retry(uow, delivery, at=retry_at, error=error)
        log.warning("delivery: %s %s to %s %s: %s", job.reference, job.purpose, job.rcpt_to,
                    "failed for good" if give_up else "deferred", exc)

    @staticmethod
    def _mark_message(uow, job: _Job, status: ReceiptStatus) -> None:
        if job.purpose == "receipt" and job.message_id is not None:
            uow.messages.update(job.message_id, receipt_status=status)

    def on_quarantine(self, delivery: Delivery, error: Exception) -> None:
        with self.db.unit_of_work() as uow:
            audit.record(uow, self.clock, Action.DELIVERY_QUARANTINED, error=type(error).__name__,
                         item=delivery.item_id, outbound_id=delivery.payload.get("outbound_id"))
            uow.commit()
