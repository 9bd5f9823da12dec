"""The dashboard's refresh cost with a large store (measured, never asserted)."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from store import Database, Deadline, Message, Partner

from .queries import open_deadlines, overview, partners, traffic

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def fill(db: Database, messages: int, deadlines: int) -> None:
    urgencies = ("FLASH", "URGENT", "ROUTINE", "NON-URGENT")
    with db.engine.begin() as c:
        c.execute(insert(Partner), [dict(name=f"p{i}", kind="police", email=f"p{i}@x.test", fingerprint=f"{i:040X}",
                                         key_created_at=T0, key_expires_at=None, key_revoked=False, created_at=T0,
                                         updated_at=T0) for i in range(1, 21)])
        for start in range(0, messages, 10_000):
            c.execute(insert(Message), [dict(
                reference=f"PSR-2026-{n:06d}", direction="inbound", partner_id=n % 20 + 1, rfc_message_id=f"<{n}@b>",
                body_digest="", size=0, encrypted=False, mail_from="", kind="request", urgency=urgencies[n % 4],
                urgency_source="protected", fields={}, links={}, received_at=T0 + timedelta(seconds=n),
                state="processed", receipt_status="sent") for n in range(start + 1, min(start + 10_000, messages) + 1)])
        c.execute(insert(Deadline), [dict(
            message_id=n, partner_id=n % 20 + 1, owed_by="ocam", urgency=urgencies[n % 4], started_at=T0,
            started_by="receipt", due_at=T0 + timedelta(minutes=n), state="open", reminders_sent=0,
            next_action_at=T0 + timedelta(minutes=n)) for n in range(1, deadlines + 1)])


def measure(db: Database, rounds: int = 20) -> dict[str, float]:
    """Median seconds of each query of one refresh, and of the whole refresh."""
    parts = {"overview": overview, "deadlines": open_deadlines, "traffic": traffic, "partners": partners}
    times: dict[str, list[float]] = {name: [] for name in [*parts, "refresh"]}
    for _ in range(rounds):
        total = time.perf_counter()
        for name, query in parts.items():
            started = time.perf_counter()
            query(db)
            times[name].append(time.perf_counter() - started)
        times["refresh"].append(time.perf_counter() - total)
    return {name: statistics.median(values) for name, values in times.items()}
