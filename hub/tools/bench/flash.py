"""FLASH behind a ROUTINE backlog: how long a FLASH message waits for its receipt while N ROUTINE items queue."""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
import time
from email.parser import BytesHeaderParser
from pathlib import Path

from crypto import Gpg
from crypto.openpgp.gpg_process import stop_agent
from gateway.capture import CaptureRelay
from store import Database
from store.vocabulary import MessageState, ReceiptStatus

from hub.registry import partners
from hub.intake.admission import INTAKE_QUEUE
from ..director import DIRECTOR, director_home, init_with_director
from ..background import served
from .load import loopback_tls, pct, presign, reference_in, send, session, use_broker
from hub.clock import SystemClock
from hub.transport.priorities import priority_of
from hub.references import next_reference
from hub.settings import load
from hub.transport.embedded import EmbeddedTransport


def run_flash_bench(*, backlog: int, probes: int, amqp_url: str = "", workers: int = 1, store_url: str | None = None,
                    within: Path | None = None) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="pbflash", dir=within))
    try:
        return _run(tmp, backlog, probes, amqp_url, workers if amqp_url else 0, store_url)
    finally:
        for home in (tmp / "hub" / "gnupg", tmp / "partner", tmp / DIRECTOR):
            stop_agent(home)
        shutil.rmtree(tmp, ignore_errors=True)


def _fill(db: Database, partner_id: int, sender: str, count: int) -> None:
    """*count* accepted ROUTINE messages, each with its intake item: the work the pipeline really does for them."""
    clock = SystemClock()
    transport = EmbeddedTransport(db, clock)  # publish() writes the same row for both transports
    with db.unit_of_work() as uow:
        for n in range(count):
            now = clock.now()
            digest = hashlib.sha256(f"backlog {n}".encode()).hexdigest()
            message_id = uow.messages.insert(
                reference=next_reference(uow, now), direction="inbound", partner_id=partner_id,
                rfc_message_id=f"<backlog-{n}@bench.test>", signature_digest=digest, body_digest=digest, size=20_000,
                encrypted=False, signer_fingerprint=None, mail_from=sender, kind="spontaneous", urgency="ROUTINE",
                urgency_source="protected", embargo=None, classification=None, fields={}, links={}, received_at=now,
                due_at=None, state=MessageState.ACCEPTED, receipt_status=ReceiptStatus.PENDING, raw_blob_id=None)
            transport.publish(uow, INTAKE_QUEUE, {"message_id": message_id}, priority=priority_of("ROUTINE"))
        uow.commit()


def _run(tmp: Path, backlog: int, probes: int, amqp_url: str, workers: int, store_url: str | None) -> str:
    identity = init_with_director(tmp, store_url=store_url)
    if amqp_url:
        use_broker(tmp / "hub", amqp_url)
    settings = load(tmp / "hub")
    partner_gpg = Gpg(tmp / "partner")
    sender = "bench@police.test"
    fpr = partner_gpg.generate_key(f"Bench <{sender}>")
    db = Database(settings.database_url)
    with db.unit_of_work() as uow:
        hub_gpg = Gpg(settings.gnupg_home)
        partner = partners.add(uow, hub_gpg, SystemClock(), director_home(tmp, settings, hub_gpg), name="bench-police",
                               kind="police", email=sender, key_data=partner_gpg.export_public(fpr))
        uow.flush()
        partner_id = partner.id
        uow.commit()
    started = time.monotonic()
    _fill(db, partner_id, sender, backlog)
    fill_seconds = time.monotonic() - started
    flashes = presign(partner_gpg, fpr, sender, identity.address, probes, 20_000, urgency="FLASH")
    tls = loopback_tls()
    waits: list[float] = []
    refused: list[str] = []  # the replies of probes not accepted with a reference
    owed: list[str] = []  # the references of probes accepted whose receipt did not reach the relay in time
    answered: list[str] = []  # the references of probes whose receipt reached the relay, in order
    with CaptureRelay() as relay, served(settings.home, relay.address, workers) as (port, _cpu):
        relay.wait_for(min(100, backlog), timeout=300)  # the pipeline is busy with the backlog
        for raw in flashes:
            with session(port, timeout=60, tls=tls) as smtp:
                reply = send(smtp, sender, identity.address, raw, refused)
                t0 = time.monotonic()  # the 250, not the QUIT after it: the receipt's work starts before that
            reference = reference_in(reply or "")
            if reference is None:
                if reply is not None:  # a 250 without a reference
                    refused.append(reply)
                continue
            deadline = t0 + 120
            seen = 0
            found = None
            while found is None and time.monotonic() < deadline:
                captured = relay.wait_for(seen + 1, timeout=1.0)
                for c in captured[seen:]:
                    if _reference_header(c.data) == reference:
                        found = c.at - t0
                seen = len(captured)
            if found is not None:
                waits.append(found)
                answered.append(reference)
            else:
                owed.append(reference)
        done = len(relay.messages)
        owed_lines = [_owed(db, reference) for reference in owed]
        steps = _steps(db, answered, waits)
    db.dispose()
    deployment = (f"1 gateway + {workers} worker process(es), RabbitMQ (prefetch {settings.transport.prefetch} "
                  "per urgency queue)" if workers else "one embedded process (store queue, batch 8)")
    store = "SQLite in the home" if not store_url else "PostgreSQL (--store-url)"
    return "\n".join([
        f"deployment   {deployment}; store: {store}",
        f"backlog      {backlog} accepted ROUTINE messages queued for intake (filled in {fill_seconds:.1f} s); "
        f"{done} receipts out when the probes ended",
        f"FLASH        {probes} signed FLASH messages sent one after another while the backlog drains",
        f"250 -> receipt at the relay: p50 {1000 * pct(waits, 50):.0f} ms, p99 {1000 * pct(waits, 99):.0f} ms, "
        f"max {1000 * max(waits, default=float('nan')):.0f} ms over {len(waits)} probes"
        + (f"; {lost} accepted without a receipt within 120 s" if (lost := probes - len(refused) - len(waits)) else "")
        + (f"; {len(refused)} not accepted: " + "; ".join(sorted(set(refused)))[:300] if refused else ""),
        *steps,
        *owed_lines,
    ])


def _reference_header(data: bytes) -> str | None:
    """A captured mail's X-Passerelle-Reference, from its header alone: the probe loop shares the bench
    process's interpreter with the relay it measures, and parsing every ROUTINE receipt whole kept the relay
    waiting for it (the probes' p99 over 100 was 142-227 ms with whole parses, 75 ms without)."""
    return BytesHeaderParser().parsebytes(data).get("X-Passerelle-Reference")


STEPS = (("intake.accepted", "receipt.signed"), ("receipt.signed", "receipt.sent"))


def _steps(db: Database, references: list[str], waits: list[float]) -> list[str]:
    """Where the probes' time went, from their audit events (each stamped by the process that did the step):
    the acceptance (stamped before its commit and 250) to the intake's write (receipt signed), that to the
    relay's 250 recorded (receipt sent, after its commit); p50 and max of each, and the slowest probe's. The
    steps overlap the headline figure at both ends: it runs from the 250 to the relay's capture."""
    last = STEPS[-1][1]
    for _ in range(50):  # the relay's 250 is recorded after the capture that ended the probe: up to 5 s for it
        with db.reader() as uow:
            times = []
            for reference in references:
                at = {}
                for event in uow.audit.for_message(reference):
                    at.setdefault(event.action, event.at)
                times.append(at)
        if all(last in at for at in times):
            break
        time.sleep(0.1)
    spans = [[1000 * (at[b] - at[a]).total_seconds() if a in at and b in at else float("nan") for a, b in STEPS]
             for at in times]
    if not spans:
        return []
    lines = []
    for i, (a, b) in enumerate(STEPS):
        values = [s[i] for s in spans if not math.isnan(s[i])]
        lines.append(f"step         {a} -> {b}: p50 {pct(values, 50):.0f} ms, "
                     f"max {max(values, default=float('nan')):.0f} ms")
    slowest = max(range(len(waits)), key=waits.__getitem__)
    lines.append(f"slowest      {references[slowest]} {1000 * waits[slowest]:.0f} ms: "
                 + ", ".join(f"{b} +{spans[slowest][i]:.0f} ms" for i, (_a, b) in enumerate(STEPS)))
    return lines


def _owed(db: Database, reference: str) -> str:
    """Where a probe's receipt stands in the store (read while the hub still serves): what to look at first."""
    with db.reader() as uow:
        message = uow.messages.by_reference(reference)
        if message is None:
            return f"owed {reference}: no message row"
        mails = "; ".join(f"{m.purpose} {m.state} after {m.attempts} attempt(s) {m.last_error or ''}".strip()
                          for m in uow.outbound.for_message(message.id)) or "no outbound mail"
        actions = ", ".join(e.action for e in uow.audit.for_message(reference))
    return (f"owed {reference}: message {message.state}, receipt {message.receipt_status}; {mails}; "
            f"audit: {actions}")
