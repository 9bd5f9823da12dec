"""The intake pipeline: what happens to an accepted message after its 250 — deadline, then receipt."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from crypto import Gpg, StorageKey, compose
from store import Database

from hub import audit
from . import receipt_envelope, receipts
from hub.clock import Clock
from hub.deadlines import clocks, windows
from .fields import reply_by
from hub.outbound.outbox import OUTBOUND_QUEUE, queue_mail
from hub.registry.partners import GOVERNMENT
from hub.transport.priorities import priority_of
from .responses import Answer, RequestOnFile, find_request, judge
from hub.settings import Settings
from .admission import INTAKE_QUEUE
from hub.transport.protocol import Delivery, Transport

log = logging.getLogger(__name__)


# The pipeline is data: the stages an accepted message goes through, in order.
PIPELINE = ("deadline", "link", "receipt")


@dataclass
class IntakeContext:
    """A snapshot of one accepted message, and what the stages decide for it."""

    message_id: int
    reference: str
    partner_id: int
    partner: str
    partner_kind: str
    partner_email: str
    partner_fingerprint: str
    partner_receipts: str  # encrypted | signed (AR Art. 11 §7)
    original_message_id: str
    digest: str
    received_at: datetime
    kind: str
    urgency: str
    embargo: str | None
    classification: str | None
    fields: dict
    links: dict = field(default_factory=dict)
    request: RequestOnFile | None = None  # for a response: the request it points at, as loaded
    answer: Answer | None = None
    due: windows.Due | None = None
    receipt_id: str | None = None
    receipt: bytes | None = None
    receipt_held: str | None = None  # why the receipt waits (the partner's key cannot be encrypted to)
    sealed_to: int | None = None  # embargo: holders the content is sealed to
    events: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def due_at(self) -> datetime | None:
        return self.due.at if self.due else None

    def source(self, name: str) -> str:
        return (self.fields.get(name) or {}).get("source", "default")

    def value(self, name: str) -> str | None:
        return (self.fields.get(name) or {}).get("value")


class DeadlineStage:
    name = "deadline"
    description = "Start the legal response clock of a request at its acknowledgement (AR Art. 11 §2-3)."

    def __init__(self, settings: Settings) -> None:
        self.windows = settings.deadlines

    def process(self, ctx: IntakeContext) -> None:
        # The receipt is composed in this same run; its time is the acknowledgement's.
        ctx.due = windows.inbound(kind=ctx.kind, urgency=ctx.urgency, urgency_stated=ctx.source("urgency") != "default",
                                  embargo=ctx.embargo, received_at=ctx.received_at, government=ctx.partner_kind == GOVERNMENT,
                                  reply_by=reply_by(ctx.value("reply-by")), deadlines=self.windows)
        detail = {"due_at": ctx.due_at.isoformat() if ctx.due else None, "urgency": ctx.urgency}
        if ctx.due:
            detail |= {"basis": ctx.due.basis, "deviation": ctx.due.deviation}
        ctx.events.append(("deadline.started" if ctx.due else "deadline.none", detail))


class LinkStage:
    name = "link"
    description = "Link a response to its request; a final one from the party that owes it stops the clock."

    def process(self, ctx: IntakeContext) -> None:
        if ctx.kind == "disposition":
            # An MDN: if it acknowledges one of OCAM's requests, it may start that request's clock.
            ctx.events.append(("mdn.received", {"for": ctx.request.reference if ctx.request else None}))
            return
        if ctx.kind != "response":
            return
        ctx.answer = judge(ctx.request, partner_id=ctx.partner_id, received_at=ctx.received_at,
                           status=ctx.value("response-status") or "final")
        a = ctx.answer
        detail = {"request": a.request, "status": a.status, "delay_seconds": a.delay_seconds}
        ctx.events.append(("response.linked" if a.request and a.status != "unknown-request" else "response.flagged",
                           detail))


class ReceiptStage:
    name = "receipt"
    description = "Compose the RFC 8098 acknowledgement and sign it with the hub's key."

    def __init__(self, settings: Settings, gpg: Gpg, clock: Clock) -> None:
        self.settings = settings
        self.gpg = gpg
        self.clock = clock

    def process(self, ctx: IntakeContext) -> None:
        if ctx.kind == "disposition":  # no receipt for a receipt (RFC 3834: no automatic reply to one)
            return
        conflicts = tuple((name, f.get("outer"), f.get("protected")) for name, f in ctx.fields.items()
                          if f.get("outer") is not None and f.get("protected") is not None
                          and f.get("outer") != f.get("protected"))
        facts = receipts.ReceiptFacts(
            reference=ctx.reference, original_message_id=ctx.original_message_id, digest_sha256=ctx.digest,
            received_at=ctx.received_at, kind=ctx.kind, kind_source=ctx.source("message-kind"),
            urgency=ctx.urgency, urgency_source=ctx.source("urgency"), due_at=ctx.due_at, embargo=ctx.embargo,
            classification=ctx.classification, conflicts=conflicts, partner_email=ctx.partner_email,
            hub_address=self.settings.hub.address,
            answers=(ctx.answer.request, ctx.answer.status, ctx.answer.delay_seconds) if ctx.answer else None,
            sealed_to=ctx.sealed_to,
            due_basis=ctx.due.basis if ctx.due else None, delay=ctx.due.field if ctx.due else None,
            deviation=ctx.due.deviation if ctx.due else None,
        )
        entity = receipts.report_entity(facts, self.settings.hub.domain)
        ctx.receipt_id, headers = receipts.headers(facts, self.clock.now(), self.settings.hub.domain)
        signed = compose.sign_entity(self.gpg, entity, self.settings.hub.key_fingerprint, headers)
        ctx.receipt, ctx.receipt_held = receipt_envelope.wrap(self.gpg, signed, mode=ctx.partner_receipts,
                                                              fingerprint=ctx.partner_fingerprint, now=self.clock.now())
        ctx.events.append(("receipt.signed", {"receipt_id": ctx.receipt_id, "travels": ctx.partner_receipts}))
        if ctx.receipt_held:
            # Never in clear: it waits for a usable key (partner update-key) or signed-only receipts (partner set).
            ctx.events.append(("alert.receipt_held", {"to": ctx.partner_email, "why": ctx.receipt_held}))


class IntakeHandler:
    """Runs PIPELINE on a batch of accepted messages and records the outcome in one transaction."""

    queue = INTAKE_QUEUE

    def __init__(self, *, settings: Settings, db: Database, gpg: Gpg, storage_key: StorageKey, clock: Clock,
                 transport: Transport) -> None:
        self.db = db
        self.clock = clock
        self.transport = transport
        self.storage_key = storage_key
        self.settings = settings
        stages = (DeadlineStage(settings), LinkStage(), ReceiptStage(settings, gpg, clock))
        self.stages = {stage.name: stage for stage in stages}
        assert tuple(self.stages) == PIPELINE

    def handle(self, deliveries: list[Delivery]) -> list[tuple[Delivery, Exception]]:
        """Process a batch; returns the items whose stages raised (the runner quarantines them)."""
        contexts = self._load(deliveries)
        ready: list[tuple[Delivery, IntakeContext]] = []
        failures: list[tuple[Delivery, Exception]] = []
        for delivery in deliveries:
            ctx = contexts.get(int(delivery.payload["message_id"]))
            if ctx is None:
                continue
            try:
                for name in PIPELINE:
                    self.stages[name].process(ctx)
            except Exception as error:  # noqa: BLE001 - handed to the runner boundary, which quarantines
                failures.append((delivery, error))
            else:
                ready.append((delivery, ctx))
        failed = {id(d) for d, _ in failures}
        done = [d for d in deliveries if id(d) not in failed]
        self._apply(ready, done)
        if ready:
            self.transport.notify(OUTBOUND_QUEUE)
        return failures

    def _load(self, deliveries: list[Delivery]) -> dict[int, IntakeContext]:
        """Snapshots of the messages still to process (a redelivered, processed one is left out)."""
        ids = [int(d.payload["message_id"]) for d in deliveries]
        with self.db.reader() as uow:
            contexts = {}
            for row in uow.messages.intake_snapshots(ids):
                if row.state == "processed":
                    continue
                ctx = contexts[row.id] = IntakeContext(
                    message_id=row.id, reference=row.reference, partner_id=row.partner_id, partner=row.partner_name,
                    partner_kind=row.partner_kind, partner_email=row.partner_email,
                    partner_fingerprint=row.partner_fingerprint, partner_receipts=row.partner_receipts,
                    original_message_id=row.rfc_message_id, digest=row.body_digest, received_at=row.received_at,
                    kind=row.kind, urgency=row.urgency, embargo=row.embargo, classification=row.classification,
                    fields=dict(row.fields or {}), links=dict(row.links or {}),
                )
                if ctx.embargo:
                    item = uow.embargo.for_message(row.id)
                    ctx.sealed_to = len(item.holders) if item is not None else 0
                if ctx.kind == "response":
                    ctx.request = find_request(uow, request_ref=ctx.value("request-ref"), links=ctx.links)
                elif ctx.kind == "disposition":
                    ctx.request = find_request(uow, request_ref=None, links={"in_reply_to": [ctx.links["mdn_for"]]})
            return contexts

    def _apply(self, ready: list[tuple[Delivery, IntakeContext]], done: list[Delivery]) -> None:
        """One transaction: each processed message's state, receipt, events; every finished item acked."""
        with self.db.unit_of_work() as uow:
            for delivery, ctx in list(ready):
                if uow.messages.state_of(ctx.message_id) != "accepted":
                    # A copy of this item was processed meanwhile (a broker redelivered it while the first
                    # was in hand): the first one's outcome stands; this one is only acknowledged.
                    ready.remove((delivery, ctx))
                    continue
                if not self._clock(uow, ctx):
                    # Its request's clock was stopped since it was loaded: judge it again (the receipt it
                    # was given would say the wrong thing), so neither ack it nor record it.
                    self.transport.retry(uow, delivery, at=self.clock.now(), error="request answered meanwhile")
                    done = [d for d in done if d is not delivery]
                    ready.remove((delivery, ctx))
                    continue
                uow.messages.update(ctx.message_id, due_at=ctx.due_at, state="processed",
                                    receipt_status=("held" if ctx.receipt_held else "queued") if ctx.receipt else "none")
                for action, detail in ctx.events:
                    audit.record(uow, self.clock, action, ref=ctx.reference, **detail)
                if ctx.receipt is None or ctx.receipt_id is None:
                    continue
                queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock,
                           message_id=ctx.message_id, purpose="receipt", rfc_message_id=ctx.receipt_id,
                           mail_from="", rcpt_to=ctx.partner_email, data=ctx.receipt,
                           priority=priority_of(ctx.urgency), held=ctx.receipt_held is not None)
            for delivery in done:
                self.transport.ack(uow, delivery)
            uow.commit()
        for _delivery, ctx in ready:
            log.info("intake: %s processed (due %s), receipt queued", ctx.reference, ctx.due_at)

    def _clock(self, uow, ctx: IntakeContext) -> bool:
        """Start the clock of a request (owed by OCAM), or stop the one a final response answers.

        False when the response's request was answered after this response was loaded.
        """
        d = self.settings.deadlines
        if ctx.due is not None:
            clocks.start(uow, d, message_id=ctx.message_id, partner_id=ctx.partner_id, owed_by="ocam",
                         urgency=ctx.urgency, started_at=ctx.received_at, started_by="receipt", due=ctx.due)
        r = ctx.request
        if ctx.kind == "disposition" and r is not None:
            request = uow.messages.get(r.message_id)
            if request is not None and request.direction == "outbound" and request.kind == "request":
                clocks.acknowledged(uow, deadlines=d, clock=self.clock, message=request, at=ctx.received_at,
                                    source="mdn")
        a = ctx.answer
        if a is not None and a.stops_clock and a.deadline_id is not None and r is not None and r.due_at is not None:
            return clocks.close(uow, deadline_id=a.deadline_id, due_at=r.due_at, answered_at=ctx.received_at,
                                answer_message_id=ctx.message_id) is not None
        return True

    def on_quarantine(self, delivery: Delivery, error: Exception) -> None:
        with self.db.unit_of_work() as uow:
            message = uow.messages.get(int(delivery.payload.get("message_id", 0)))
            if message is not None:
                uow.messages.update(message.id, state="quarantined")
            audit.record(uow, self.clock, "intake.quarantined", ref=message.reference if message else None,
                         error=type(error).__name__, item=delivery.item_id)
            uow.commit()
