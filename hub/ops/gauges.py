"""The store's state as gauges — work waiting per stage and urgency, open and overdue deadlines, holds, failed
deliveries, the audit log's newest event and newest signed checkpoint — each read through an index, never a scan of the audit
log."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from store import AuditEvent, Database, Deadline, LogCheckpoint, Message, OutboundMail, QueueItem, StoreUnavailable
from store.vocabulary import URGENCIES, DeadlineState, DeliveryState, ItemState, MessageState, Queue

from hub.clock import Clock
from hub.transport.priorities import PRIORITY

log = logging.getLogger(__name__)

_URGENCY_OF = {priority: urgency for urgency, priority in PRIORITY.items()}


@dataclass
class StoreState:
    """What one reading of the store found."""

    depth: dict[tuple[str, str], int] = field(default_factory=dict)  # (stage, urgency) -> items waiting
    oldest_waiting: dict[str, float] = field(default_factory=dict)  # stage -> seconds its oldest item has waited
    quarantined: dict[str, int] = field(default_factory=dict)  # stage -> items set aside
    open: dict[tuple[str, str], int] = field(default_factory=dict)  # (owed_by, urgency) -> open clocks
    overdue: dict[tuple[str, str], int] = field(default_factory=dict)  # (owed_by, urgency) -> past their due time
    held: int = 0  # requests held: their partner's key is missing, expired or revoked
    failed: int = 0  # deliveries given up on
    audit_age: float | None = None  # seconds since the audit log's newest event (None: no event yet)
    checkpoint_age: float | None = None  # seconds since the newest signed checkpoint was issued (None: none yet)
    unsigned_events: int = 0  # events appended after the newest checkpoint: not yet under a signed tree


def read(db: Database, now: datetime) -> StoreState:
    """One reading, in one read transaction. Every query starts from an index: messages by (state, received_at),
    mail by (state, due_at), deadlines by (state, next_action_at), the queue table by its claim index, the audit
    log by its primary key; each reads only the rows of work in hand (a backlog), never the history."""
    state = StoreState()
    with db.reader() as uow:
        s = uow.session
        for urgency, n in s.execute(
                select(Message.urgency, func.count())
                .where(Message.state == MessageState.ACCEPTED, Message.direction == "inbound")
                .group_by(Message.urgency)):
            state.depth[(Queue.INTAKE, urgency)] = n
        oldest = s.scalar(select(func.min(Message.received_at)).where(Message.state == MessageState.ACCEPTED,
                                                                      Message.direction == "inbound"))
        state.oldest_waiting[Queue.INTAKE] = _since(oldest, now)
        oldest = None
        for priority, n, due in s.execute(
                select(OutboundMail.priority, func.count(), func.min(OutboundMail.created_at))
                .where(OutboundMail.state == DeliveryState.PENDING).group_by(OutboundMail.priority)):
            urgency = _URGENCY_OF.get(priority, "ROUTINE")
            state.depth[(Queue.OUTBOUND, urgency)] = state.depth.get((Queue.OUTBOUND, urgency), 0) + n
            oldest = due if oldest is None or (due is not None and due < oldest) else oldest
        state.oldest_waiting[Queue.OUTBOUND] = _since(oldest, now)
        state.quarantined = dict(s.execute(select(QueueItem.queue, func.count()).where(
            QueueItem.state == ItemState.QUARANTINED).group_by(QueueItem.queue)).all())
        late = func.sum(case((Deadline.due_at < now, 1), else_=0))
        for owed_by, urgency, n, overdue in s.execute(
                select(Deadline.owed_by, Deadline.urgency, func.count(), late)
                .where(Deadline.state == DeadlineState.OPEN).group_by(Deadline.owed_by, Deadline.urgency)):
            state.open[(owed_by, urgency)] = n
            state.overdue[(owed_by, urgency)] = int(overdue or 0)
        state.held = s.scalar(select(func.count()).select_from(Message).where(Message.state == MessageState.HELD)) or 0
        state.failed = uow.outbound.count(state=DeliveryState.FAILED)
        newest = s.scalar(select(AuditEvent.at).order_by(AuditEvent.id.desc()).limit(1))
        state.audit_age = None if newest is None else max((now - newest).total_seconds(), 0.0)
        signed = s.execute(select(LogCheckpoint.size, LogCheckpoint.issued_at)
                           .order_by(LogCheckpoint.size.desc()).limit(1)).first()  # by its unique index
        state.checkpoint_age = None if signed is None else max((now - signed.issued_at).total_seconds(), 0.0)
        state.unsigned_events = max(uow.log.size() - (signed.size if signed else 0), 0)
    return state


def _since(moment: datetime | None, now: datetime) -> float:
    """Seconds from *moment* to now; 0 for nothing waiting."""
    return 0.0 if moment is None else max((now - moment).total_seconds(), 0.0)


class StoreGauges(Collector):
    """The store's gauges, from the one process that leads the scheduler (every other process exports none, so
    that a distributed deployment's several processes never report the same backlog twice); read at scrape
    time, and read again only once *every_seconds* have passed."""

    def __init__(self, db: Database, clock: Clock, *, leading: Callable[[], bool], every_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.leading = leading
        self.every_seconds = every_seconds
        self._last: tuple[float, list[GaugeMetricFamily]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.leading():
            return
        if self._last is None or time.monotonic() - self._last[0] >= self.every_seconds:
            self._last = (time.monotonic(), self._families())
        yield from self._last[1]

    def _families(self) -> list[GaugeMetricFamily]:
        started = time.perf_counter()
        readable = GaugeMetricFamily("passerelle_store_readable", "1 when the store's gauges could be read.")
        try:
            state = read(self.db, self.clock.now())
        except (StoreUnavailable, SQLAlchemyError) as exc:
            log.warning("metrics: the store's gauges could not be read (%s)", type(exc).__name__)
            readable.add_metric([], 0)
            return [readable]
        readable.add_metric([], 1)
        took = GaugeMetricFamily("passerelle_store_gauges_seconds", "How long the last reading of the store's "
                                                                    "gauges took.")
        took.add_metric([], time.perf_counter() - started)
        return [readable, took, *families(state)]


def families(state: StoreState) -> list[GaugeMetricFamily]:
    depth = GaugeMetricFamily("passerelle_queue_depth", "Items waiting for a stage, by urgency: intake (messages "
                              "accepted, not yet through the pipeline), outbound (mail not yet taken by the relay, "
                              "retries included).", labels=["stage", "urgency"])
    oldest = GaugeMetricFamily("passerelle_queue_oldest_seconds", "How long the oldest item of a stage has waited: "
                               "intake since its 250, outbound since it was queued, retries included (0: none).",
                               labels=["stage"])
    quarantined = GaugeMetricFamily("passerelle_queue_quarantined", "Items set aside after failing (`passerelle duty "
                                    "stuck`), by stage.", labels=["stage"])
    for stage in (Queue.INTAKE, Queue.OUTBOUND):
        for urgency in URGENCIES:
            depth.add_metric([stage, urgency], state.depth.get((stage, urgency), 0))
        oldest.add_metric([stage], state.oldest_waiting.get(stage, 0.0))
        quarantined.add_metric([stage], state.quarantined.get(stage, 0))
    opened = GaugeMetricFamily("passerelle_deadlines_open", "Open legal clocks (AR Art. 11 §3), by who owes the "
                               "answer and urgency.", labels=["owed_by", "urgency"])
    overdue = GaugeMetricFamily("passerelle_deadlines_overdue", "Open clocks past their due time.",
                                labels=["owed_by", "urgency"])
    for owed_by in ("ocam", "partner"):
        for urgency in URGENCIES:
            opened.add_metric([owed_by, urgency], state.open.get((owed_by, urgency), 0))
            overdue.add_metric([owed_by, urgency], state.overdue.get((owed_by, urgency), 0))
    held = GaugeMetricFamily("passerelle_requests_held", "OCAM requests held, never sent in clear: the partner's key "
                             "is missing, expired or revoked.", value=state.held)
    failed = GaugeMetricFamily("passerelle_deliveries_failed", "Deliveries given up on (refused for good, or older "
                               "than delivery.max_age), until retried.", value=state.failed)
    found = [depth, oldest, quarantined, opened, overdue, held, failed]
    if state.audit_age is not None:
        found.append(GaugeMetricFamily("passerelle_audit_newest_event_age_seconds", "Age of the audit log's newest "
                                       "event.", value=state.audit_age))
    if state.checkpoint_age is not None:
        found.append(GaugeMetricFamily("passerelle_audit_checkpoint_age_seconds", "Age of the audit log's newest "
                                       "signed checkpoint (issued at least once a second while events are appended).",
                                       value=state.checkpoint_age))
    found.append(GaugeMetricFamily("passerelle_audit_unsigned_events", "Audit events appended after the newest "
                                   "signed checkpoint: not yet under a signed tree.", value=state.unsigned_events))
    return found
