"""The audit log's benchmark: appends per second with a checkpoint every second, the proof of one receipt (size,
time), and `audit verify` over a log built directly in the store (bounded by --events)."""

from __future__ import annotations

import base64
import os
import platform
import random
import resource
import shutil
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import insert

from crypto.tlog import Signer
from store import AuditEvent, Database, upgrade
from store.vocabulary import Action

from hub import audit
from hub.audit.checkpoints import Checkpointer
from hub.audit.proofs import Prover
from hub.audit.verify import verify_log
from hub.clock import SystemClock
from .load import cpu_model

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
ORIGIN = "bench.test/passerelle/audit"
DETAIL = {"peer": "127.0.0.1:50000", "tls": True, "size": 20000, "encrypted": False, "signer": "F" * 40,
          "hash": "SHA512", "digest": "0" * 64, "urgency": "ROUTINE", "due_at": "2026-01-15T09:00:00+00:00"}


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return (f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 "
            f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")


def _appends(db: Database, checkpointer: Checkpointer, *, seconds: float, per_commit: int, threads: int) -> dict:
    """Writers appending *per_commit* intake-sized events per transaction for *seconds*, a checkpoint a second."""
    clock = SystemClock()
    stop = threading.Event()
    counts = [0] * threads
    issued: list[float] = []

    def writer(n: int) -> None:
        while not stop.is_set():
            with db.unit_of_work() as uow:
                for _ in range(per_commit):
                    audit.record(uow, clock, Action.INTAKE_ACCEPTED, actor="bench", ref="PSR-2026-000001", **DETAIL)
                uow.commit()
            counts[n] += per_commit

    def checkpoints() -> None:
        while not stop.wait(1.0):
            started = time.perf_counter()
            checkpointer.issue("periodic")
            issued.append(time.perf_counter() - started)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    ticker = threading.Thread(target=checkpoints)
    started = time.perf_counter()
    for t in [*workers, ticker]:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in [*workers, ticker]:
        t.join()
    elapsed = time.perf_counter() - started
    final = time.perf_counter()
    checkpointer.issue("periodic")
    return {"appends": sum(counts), "rate": sum(counts) / elapsed, "checkpoints": len(issued),
            "issue": issued, "last": time.perf_counter() - final}


def _proofs(db: Database, checkpointer: Checkpointer, samples: int) -> dict:
    """What a receipt costs: a proof of one event against the latest checkpoint, fresh tiles each time."""
    issued = checkpointer.issue("receipt")
    times, sizes, fields = [], [], []
    with db.reader() as uow:
        for index in random.Random(7).sample(range(issued.size), min(samples, issued.size)):
            started = time.perf_counter()
            text = Prover(uow.log, issued).events([index])[index].render()
            times.append(time.perf_counter() - started)
            sizes.append(len(text.encode()))
            fields.append(len(base64.b64encode(text.encode())))
    return {"size": issued.size, "times": times, "bytes": statistics.median(sizes), "field": statistics.median(fields)}


def _fill(db: Database, start: int, count: int) -> float:
    """*count* intake-sized events written directly (Core executemany), leaf indexes from *start*."""
    began = time.perf_counter()
    with db.engine.begin() as c:
        for first in range(start, start + count, 20_000):
            c.execute(insert(AuditEvent), [dict(
                at=T0 + timedelta(milliseconds=n), actor="bench", action=Action.INTAKE_ACCEPTED,
                message_ref=f"PSR-2026-{n % 1_000_000:06d}", detail=DETAIL, seq=n)
                for n in range(first, min(first + 20_000, start + count))])
    return time.perf_counter() - began


def run_log_bench(*, seconds: float, per_commit: int, threads: int, events: int, samples: int,
                  store_url: str | None) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="pbl"))
    try:
        url = store_url or f"sqlite:///{tmp / 'bench.db'}"
        db = Database(url)
        upgrade(db.engine)
        signer = Signer(ORIGIN, ed25519.Ed25519PrivateKey.generate())
        checkpointer = Checkpointer(db, SystemClock(), ORIGIN, signer)
        appended = _appends(db, checkpointer, seconds=seconds, per_commit=per_commit, threads=threads)
        proofs = _proofs(db, checkpointer, samples)
        have = appended["appends"]
        fill = _fill(db, have, max(events - have, 0))
        began = time.perf_counter()
        big = checkpointer.issue("operator")
        integrate = time.perf_counter() - began
        big_proofs = _proofs(db, checkpointer, samples)
        began = time.perf_counter()
        with db.reader() as uow:
            result = verify_log(uow, verifiers=[signer.verifier])
        verify = time.perf_counter() - began
        db.dispose()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store = "PostgreSQL" if url.startswith("postgresql") else "SQLite (WAL, synchronous=FULL)"
        return "\n".join([
            f"machine       {os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}; store {store}; "
            f"load {os.getloadavg()[0]:.1f}",
            f"appends       {appended['appends']} intake events in {seconds:.0f} s from {threads} writer thread(s), "
            f"{per_commit} per transaction: {appended['rate']:.0f} appends/s with a checkpoint every second",
            f"checkpoints   {appended['checkpoints']} issued meanwhile, each {_ms(appended['issue'])}",
            f"receipt proof at {proofs['size']} events: {proofs['bytes']:.0f} bytes (tlog-proof with the entry and the "
            f"checkpoint), {proofs['field']:.0f} in the receipt's field; {_ms(proofs['times'])} to make",
            f"receipt proof at {big_proofs['size']} events: {big_proofs['bytes']:.0f} bytes, {big_proofs['field']:.0f} "
            f"in the field; {_ms(big_proofs['times'])} to make",
            f"1st checkpoint over {big.size - appended['appends']} events written directly ({fill:.1f} s to write): "
            f"{integrate:.1f} s to hash them and fill the tiles",
            f"audit verify  {result.size} events: {verify:.1f} s ({result.size / verify:.0f} events/s), "
            f"{'intact' if result.ok else 'NOT intact'}; peak RSS {rss:.0f} MiB",
        ])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

