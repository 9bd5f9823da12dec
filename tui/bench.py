"""The dashboard's refresh cost with a large store (measured, never asserted)."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from store import AuditEvent, Database, Deadline, Heartbeat, Message, Partner
from store.vocabulary import URGENCIES, Action, DeadlineState, HealthState, MessageState, ReceiptStatus

from hub.acts.duty import open_alerts, stuck
from .queries import heartbeats, open_deadlines, overview, partners, traffic
from .rates import RateCounter, rates

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def spacing(messages: int, burst: bool) -> timedelta:
    """One message a second; a burst puts them all in the dashboard's last half hour."""
    return timedelta(seconds=1800 / max(messages, 1)) if burst else timedelta(seconds=1)


def fill(db: Database, messages: int, deadlines: int, *, burst: bool = False) -> datetime:
    """Messages, their audit events (accepted, processed, receipt sent; a deferral every 50th, a quarantine
    every 1000th), open deadlines and heartbeats. Returns the time just after the last message."""
    urgencies = URGENCIES
    step = spacing(messages, burst)
    seq = 0  # the events' leaf indexes
    with db.engine.begin() as c:
        c.execute(insert(Partner), [dict(name=f"p{i}", kind="police", email=f"p{i}@x.test", fingerprint=f"{i:040X}",
                                         key_created_at=T0, key_expires_at=None, key_revoked=False, created_at=T0,
                                         updated_at=T0) for i in range(1, 21)])
        for start in range(0, messages, 10_000):
            batch = range(start + 1, min(start + 10_000, messages) + 1)
            c.execute(insert(Message), [dict(
                reference=f"PSR-2026-{n:06d}", direction="inbound", partner_id=n % 20 + 1, rfc_message_id=f"<{n}@b>",
                body_digest="", size=0, encrypted=False, mail_from="", kind="request", urgency=urgencies[n % 4],
                urgency_source="protected", fields={}, links={}, received_at=T0 + step * n,
                state=MessageState.PROCESSED, receipt_status=ReceiptStatus.SENT) for n in batch])
            events = []
            for n in batch:
                at = T0 + step * n
                actions = [Action.INTAKE_ACCEPTED, Action.DEADLINE_STARTED, Action.RECEIPT_SIGNED, Action.RECEIPT_SENT]
                actions += [Action.RECEIPT_DEFERRED] if n % 50 == 0 else []
                actions += [Action.DELIVERY_QUARANTINED] if n % 1000 == 0 else []
                events += [dict(at=at + timedelta(milliseconds=10 * i), actor="hub", action=action,
                                message_ref=f"PSR-2026-{n:06d}", detail={}, seq=seq + i)
                           for i, action in enumerate(actions)]
                seq += len(actions)
            c.execute(insert(AuditEvent), events)
        c.execute(insert(Deadline), [dict(
            message_id=n, partner_id=n % 20 + 1, owed_by="ocam", urgency=urgencies[n % 4], started_at=T0,
            started_by="receipt", due_at=T0 + timedelta(minutes=n), state=DeadlineState.OPEN, reminders_sent=0,
            next_action_at=T0 + timedelta(minutes=n)) for n in range(1, deadlines + 1)])
        end = T0 + step * (messages + 1)
        c.execute(insert(Heartbeat), [dict(component=name, state=HealthState.OK, detail="bench", beat_at=end,
                                           every_seconds=5.0) for name in ("gateway", "store", "gpg", "relay")])
    return end


def measure(db: Database, now: datetime, rounds: int = 20) -> dict[str, float]:
    """Median seconds of each query of one refresh, and of the whole refresh (the rates as the dashboard reads
    them, settled minutes remembered; "rates cold" is the first refresh's count of the whole window)."""
    counter = RateCounter(db)
    parts = {"overview": overview, "rates": lambda d: counter(now), "health": heartbeats,
             "deadlines": open_deadlines, "traffic": traffic, "partners": partners, "alerts": open_alerts,
             "stuck": stuck}
    times: dict[str, list[float]] = {name: [] for name in [*parts, "refresh"]}
    for _ in range(rounds):
        total = time.perf_counter()
        for name, query in parts.items():
            started = time.perf_counter()
            query(db)
            times[name].append(time.perf_counter() - started)
        times["refresh"].append(time.perf_counter() - total)
    times["rates cold"] = []
    for _ in range(3):
        started = time.perf_counter()
        rates(db, now)
        times["rates cold"].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}
