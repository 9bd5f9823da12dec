"""The scheduler: wakes at the next clock action (an index lookup), sends reminders, escalates the overdue, runs
retention's automatic part (erasure at 50 years), and the keys' and certificate's (expiry warnings, a rotated
hub key retired)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from crypto import Gpg, KeyUnusable, StorageKey
from sqlalchemy import update
from store import Database, Deadline
from store.vocabulary import Action, DeadlineState

from hub import audit
from hub.clock import Clock
from hub.outbound.outbox import OwnMail, queue_mail
from hub.transport.priorities import priority_of
from hub.registry.recipients import OCAM_DUTY
from hub.retention.sweep import RetentionSweep
from hub.deploy.lifecycle import Lifecycle
from . import clocks, windows
from .reminders import reminder
from .schedule import Skipped, Step, catch_up, steps
from hub.settings import Settings
from hub.transport.protocol import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Due:
    deadline_id: int
    message_id: int
    reference: str
    owed_by: str
    urgency: str
    partner: str
    email: str
    fingerprint: str
    due_at: datetime
    done: int
    perform: list[Step]
    skipped: Skipped | None
    next_index: int
    next_at: datetime
    targets: list[tuple[str, str]]  # (address, key) of whoever owes the answer


class Scheduler(OwnMail):
    """Acts on open clocks whose next action has come; safe to run again after any crash."""

    def __init__(self, *, settings: Settings, db: Database, gpg: Gpg, storage_key: StorageKey, clock: Clock,
                 transport: Transport, batch: int = 100) -> None:
        super().__init__(settings=settings, db=db, gpg=gpg, storage_key=storage_key, clock=clock, transport=transport)
        self.batch = batch
        self.retention = RetentionSweep(db=db, clock=clock, storage_key=storage_key, batch=batch)
        # Keys and the certificate: expiry warnings, the hub's previous key retired after its overlap.
        self.lifecycle = Lifecycle(settings=settings, db=db, gpg=gpg, storage_key=storage_key, clock=clock,
                                   transport=transport)

    def next_wake(self) -> datetime | None:
        with self.db.reader() as uow:
            delivery = uow.outbound.next_due()
            times = [t for t in (uow.deadlines.next_action_at(), delivery + windows.LATE if delivery else None,
                                 uow.outbound.next_acknowledgement(), uow.retention.next_end()) if t is not None]
        return min(times) if times else None

    def tick(self) -> int:
        """Perform every action due now (in batches); returns how many clocks and items were handled."""
        now = self.clock.now()
        handled = (self._late_deliveries(now) + self._unacknowledged(now) + self.retention.tick()
                   + self.lifecycle.tick())
        while True:
            due = self._due(self.clock.now())
            if not due:
                return handled
            mails = {d.deadline_id: self._compose(d) for d in due}  # gpg work outside the write transaction
            self._record(due, mails)
            handled += len(due)
            if len(due) < self.batch:
                return handled

    def _late_deliveries(self, now: datetime) -> int:
        """Deliveries not made within their delay: one alert each for the duty officer."""
        with self.db.unit_of_work() as uow:
            late = uow.outbound.overdue(windows.overdue_from(now))
            for mail in late:
                uow.outbound.update(mail.id, on_time=False)
                reference = uow.messages.reference_of(mail.message_id) if mail.message_id else None
                audit.record(uow, self.clock, Action.ALERT_DELIVERY_OVERDUE, ref=reference, purpose=mail.purpose,
                             to=mail.rcpt_to, due_at=mail.due_at.isoformat(), attempts=mail.attempts)
            if late:
                uow.commit()
        return len(late)

    def _unacknowledged(self, now: datetime) -> int:
        """OCAM's requests nobody on the partner's side acknowledged in time: an alert each (AR Art. 11 §2)."""
        with self.db.unit_of_work() as uow:
            count = clocks.unacknowledged(uow, self.clock, now)
            if count:
                uow.commit()
        return count

    def _due(self, now: datetime) -> list[_Due]:
        d = self.settings.deadlines
        with self.db.reader() as uow:
            rows = uow.deadlines.due_for_action(now, limit=self.batch)
            duty = [(r.email, r.fingerprint) for r in uow.recipients.of_type(OCAM_DUTY)] if rows else []
            found = []
            for row, reference, partner in rows:
                perform, skipped, n = catch_up(row.started_at, row.due_at, d.reminder_fractions,
                                               d.overdue_reminder_every, row.reminders_sent, now)
                found.append(_Due(row.id, row.message_id, reference, row.owed_by, row.urgency, partner.name,
                                  partner.email, partner.fingerprint, row.due_at, row.reminders_sent, perform,
                                  skipped, n, steps(row.started_at, row.due_at, d.reminder_fractions,
                                                    d.overdue_reminder_every, n).at,
                                  [(partner.email, partner.fingerprint)] if row.owed_by == "partner" else duty))
            return found

    def _compose(self, due: _Due) -> list[tuple[Step, str, str | None, bytes | str]]:
        """Reminder mails to whoever owes the answer: the partner, or OCAM's duty desk for OCAM's own clocks."""
        s = self.settings
        out: list[tuple[Step, str, str | None, bytes | str]] = []
        for step in due.perform:
            if step.kind == "escalation":
                continue
            for address, fingerprint in due.targets:
                try:
                    message_id, data = reminder(
                        self.gpg, hub_address=s.hub.address, hub_fingerprint=s.hub.key_fingerprint,
                        domain=s.hub.domain, to=address, recipient_key=fingerprint, request=due.reference,
                        kind=step.kind, due_at=due.due_at, now=self.clock.now(), step=step.index)
                    out.append((step, address, message_id, data))
                except KeyUnusable as exc:
                    out.append((step, address, None, exc.reason))
        return out

    def _record(self, due: list[_Due], mails: dict) -> None:
        with self.db.unit_of_work() as uow:
            for d in due:
                escalates = any(s.kind == "escalation" for s in d.perform)
                values = {"reminders_sent": d.next_index, "next_action_at": d.next_at}
                if escalates:
                    values["escalated_at"] = self.clock.now()
                # Guarded: a clock answered meanwhile, or already advanced by another scheduler, is left alone.
                moved = uow.session.execute(
                    update(Deadline).where(Deadline.id == d.deadline_id, Deadline.state == DeadlineState.OPEN,
                                           Deadline.reminders_sent == d.done).values(**values)
                ).rowcount
                if not moved:
                    continue
                self._events(uow, d, mails.get(d.deadline_id, []))
            uow.commit()
        self.transport.notify("outbound")

    def _events(self, uow, d: _Due, mails: list) -> None:
        if d.skipped is not None:  # one record, however many steps passed (a due time years ago)
            s = d.skipped
            audit.record(uow, self.clock, Action.REMINDER_SKIPPED, ref=d.reference, steps=s.count, first=s.first.index,
                         last=s.last.index, first_due=s.first.at.isoformat(), last_due=s.last.at.isoformat())
        for step in d.perform:
            if step.kind == "escalation":
                audit.record(uow, self.clock, Action.ALERT_OVERDUE, ref=d.reference, owed_by=d.owed_by,
                             partner=d.partner, due_at=d.due_at.isoformat())
            elif d.owed_by == "ocam":
                audit.record(uow, self.clock, Action.ALERT_OCAM_REMINDER, ref=d.reference, kind=step.kind,
                             partner=d.partner, due_at=d.due_at.isoformat(), duty_desks=len(d.targets))
        for step, address, message_id, data in mails:
            if message_id is None:
                audit.record(uow, self.clock, Action.ALERT_REMINDER_HELD, ref=d.reference, to=address, why=data)
                continue
            queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock,
                       message_id=d.message_id, purpose=f"reminder-{step.index}", rfc_message_id=message_id,
                       mail_from=self.settings.hub.address, rcpt_to=address, data=data,
                       priority=priority_of(d.urgency))
            audit.record(uow, self.clock, Action.REMINDER_QUEUED, ref=d.reference, kind=step.kind, step=step.index,
                         to=address)

    async def run(self, stop: asyncio.Event, executor: Executor, *, longest_sleep: float = 60.0) -> None:
        """Sleep until the next action (or a minute), act, repeat; a restart catches up on what passed."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await loop.run_in_executor(executor, self.tick)
                wake = await loop.run_in_executor(executor, self.next_wake)
            except Exception:  # the scheduler's boundary: log, keep the clocks, try again shortly
                log.exception("scheduler: tick failed; retrying")
                wake = None
            delay = longest_sleep if wake is None else (wake - self.clock.now()).total_seconds()
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(max(delay, 0.05), longest_sleep))
            except asyncio.TimeoutError:
                pass
