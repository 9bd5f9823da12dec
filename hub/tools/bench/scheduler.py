"""The scheduler benchmark: next-due lookup, a tick, and memory with many open clocks."""

from __future__ import annotations

import resource
import shutil
import statistics
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from crypto import Gpg, StorageKey
from crypto.openpgp.gpg_process import stop_agent
from store import Database, Deadline, Message, Partner
from store.vocabulary import DeadlineState, MessageState, ReceiptStatus

from hub import home as home_mod
from hub.clock import FrozenClock
from hub.deadlines.scheduler import Scheduler
from hub.settings import load
from hub.transport.embedded import EmbeddedTransport

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _fill(db: Database, count: int) -> None:
    with db.engine.begin() as c:
        c.execute(insert(Partner), [dict(name="bench", kind="police", email="bench@police.test", fingerprint="F" * 40,
                                         key_created_at=T0, key_expires_at=None, key_revoked=False, created_at=T0,
                                         updated_at=T0)])
        for start in range(0, count, 10_000):
            ids = range(start + 1, min(start + 10_000, count) + 1)
            c.execute(insert(Message), [dict(
                reference=f"PSR-2026-{n:06d}", direction="inbound", partner_id=1, rfc_message_id=f"<{n}@bench>",
                body_digest="", size=0, encrypted=False, mail_from="", kind="request", urgency="ROUTINE",
                urgency_source="default", fields={}, links={}, received_at=T0,
                state=MessageState.PROCESSED, receipt_status=ReceiptStatus.SENT) for n in ids])
            # Clocks spread over ten days, so that each minute has only a few actions due.
            c.execute(insert(Deadline), [dict(
                message_id=n, partner_id=1, owed_by="ocam", urgency="ROUTINE", started_at=T0, started_by="receipt",
                due_at=T0 + timedelta(days=10), state=DeadlineState.OPEN, reminders_sent=0,
                next_action_at=T0 + timedelta(seconds=n * 864_000 // count)) for n in ids])


def run_scheduler_bench(count: int, *, within: Path | None = None) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="pbs", dir=within))
    try:
        home_mod.init(tmp / "hub", "ocam.test")
        settings = load(tmp / "hub")
        db = Database(settings.database_url)
        started = time.perf_counter()
        _fill(db, count)
        fill_seconds = time.perf_counter() - started
        clock = FrozenClock(T0)
        scheduler = Scheduler(settings=settings, db=db, gpg=Gpg(settings.gnupg_home),
                              storage_key=StorageKey.load(settings.storage_key_path), clock=clock,
                              transport=EmbeddedTransport(db, clock))
        lookups = []
        for _ in range(1000):
            t = time.perf_counter()
            scheduler.next_wake()
            lookups.append(time.perf_counter() - t)
        scheduler.lifecycle.tick()  # the keys' check, done at T0: the ticks below time the clocks alone
        t = time.perf_counter()
        scheduler.tick()  # nothing due at T0
        idle = time.perf_counter() - t
        clock.set(T0 + timedelta(seconds=100 * 864_000 // count))  # ~100 clocks due
        t = time.perf_counter()
        scheduler.lifecycle.tick()  # due again after 10 minutes of the hub's clock: timed on its own
        keys_check = time.perf_counter() - t
        tracemalloc.start()
        t = time.perf_counter()
        handled = scheduler.tick()
        busy = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        db.dispose()
    finally:
        stop_agent(tmp / "hub" / "gnupg")
        shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda v: f"{v * 1000:.3f} ms"  # noqa: E731
    return "\n".join([
        f"open clocks   {count} (SQLite, WAL; filled in {fill_seconds:.1f} s)",
        f"next-due      median {ms(statistics.median(lookups))}, p99 {ms(sorted(lookups)[989])} over 1000 lookups "
        "(index ix_deadline_next_action)",
        f"idle tick     {ms(idle)} (nothing due)",
        f"keys check    {ms(keys_check)} (every registered key's expiry and the certificate's, every 10 min)",
        f"busy tick     {ms(busy)} for {handled} due clocks (OCAM-side alerts; a partner reminder adds one gpg "
        "encryption each)",
        f"memory        tick peak {peak / 1024:.0f} KiB traced; process max RSS {rss:.0f} MiB",
    ])
