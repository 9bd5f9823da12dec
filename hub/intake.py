"""The intake pipeline: what happens to an accepted message after its 250 — deadline, then receipt."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from crypto import Gpg, StorageKey, compose
from store import Database

from . import audit, receipts
from .clock import Clock
from .deadlines import due_at
from .outbox import OUTBOUND_QUEUE, queue_mail
from .priorities import priority_of
from .settings import Settings
from .admission import INTAKE_QUEUE
from .transport import Delivery, Transport

log = logging.getLogger(__name__)


# The pipeline is data: the stages an accepted message goes through, in order.
PIPELINE = ("deadline", "receipt")


@dataclass
class IntakeContext:
    """A snapshot of one accepted message, and what the stages decide for it."""

    message_id: int
    reference: str
    partner: str
    partner_email: str
    original_message_id: str
    digest: str
    received_at: datetime
    kind: str
    urgency: str
    embargo: str | None
    classification: str | None
    fields: dict
    due_at: datetime | None = None
    receipt_id: str | None = None
    receipt: bytes | None = None
    events: list[tuple[str, dict]] = field(default_factory=list)

    def source(self, name: str) -> str:
        return (self.fields.get(name) or {}).get("source", "default")


class DeadlineStage:
    name = "deadline"
    description = "Start the legal response clock of a request at its acknowledgement (AR Art. 11 §2-3)."

    def __init__(self, settings: Settings) -> None:
        self.windows = settings.deadlines

    def process(self, ctx: IntakeContext) -> None:
        # The receipt is composed in this same run; its time is the acknowledgement's.
        ctx.due_at = due_at(kind=ctx.kind, urgency=ctx.urgency, embargo=ctx.embargo,
                            acknowledged_at=ctx.received_at, windows=self.windows)
        ctx.events.append(("deadline.started" if ctx.due_at else "deadline.none",
                           {"due_at": ctx.due_at.isoformat() if ctx.due_at else None, "urgency": ctx.urgency}))


class ReceiptStage:
    name = "receipt"
    description = "Compose the RFC 8098 acknowledgement and sign it with the hub's key."

    def __init__(self, settings: Settings, gpg: Gpg, clock: Clock) -> None:
        self.settings = settings
        self.gpg = gpg
        self.clock = clock

    def process(self, ctx: IntakeContext) -> None:
        conflicts = tuple((name, f.get("outer"), f.get("protected")) for name, f in ctx.fields.items()
                          if f.get("outer") is not None and f.get("protected") is not None
                          and f.get("outer") != f.get("protected"))
        facts = receipts.ReceiptFacts(
            reference=ctx.reference, original_message_id=ctx.original_message_id, digest_sha256=ctx.digest,
            received_at=ctx.received_at, kind=ctx.kind, kind_source=ctx.source("message-kind"),
            urgency=ctx.urgency, urgency_source=ctx.source("urgency"), due_at=ctx.due_at, embargo=ctx.embargo,
            classification=ctx.classification, conflicts=conflicts, partner_email=ctx.partner_email,
            hub_address=self.settings.hub.address,
        )
        entity = receipts.report_entity(facts, self.settings.hub.domain)
        ctx.receipt_id, headers = receipts.headers(facts, self.clock.now(), self.settings.hub.domain)
        ctx.receipt = compose.sign_entity(self.gpg, entity, self.settings.hub.key_fingerprint, headers)
        ctx.events.append(("receipt.signed", {"receipt_id": ctx.receipt_id}))


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
        stages = (DeadlineStage(settings), ReceiptStage(settings, gpg, clock))
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
            for message in uow.messages.many(ids):
                if message.state == "processed":
                    continue
                partner = message.partner
                assert partner is not None
                contexts[message.id] = IntakeContext(
                    message_id=message.id, reference=message.reference, partner=partner.name,
                    partner_email=partner.email, original_message_id=message.rfc_message_id,
                    digest=message.body_digest, received_at=message.received_at, kind=message.kind,
                    urgency=message.urgency, embargo=message.embargo, classification=message.classification,
                    fields=dict(message.fields or {}),
                )
            return contexts

    def _apply(self, ready: list[tuple[Delivery, IntakeContext]], done: list[Delivery]) -> None:
        """One transaction: each processed message's state, receipt, events; every finished item acked."""
        with self.db.unit_of_work() as uow:
            for _delivery, ctx in ready:
                assert ctx.receipt is not None and ctx.receipt_id is not None
                # Only this worker holds the item's lease, and _load saw the message unprocessed.
                uow.messages.update(ctx.message_id, due_at=ctx.due_at, state="processed", receipt_status="queued")
                queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock,
                           message_id=ctx.message_id, purpose="receipt", rfc_message_id=ctx.receipt_id,
                           mail_from="", rcpt_to=ctx.partner_email, data=ctx.receipt,
                           priority=priority_of(ctx.urgency))
                for action, detail in ctx.events:
                    audit.record(uow, self.clock, action, ref=ctx.reference, **detail)
            for delivery in done:
                self.transport.ack(uow, delivery)
            uow.commit()
        for _delivery, ctx in ready:
            log.info("intake: %s processed (due %s), receipt queued", ctx.reference, ctx.due_at)

    def on_quarantine(self, delivery: Delivery, error: Exception) -> None:
        with self.db.unit_of_work() as uow:
            message = uow.messages.get(int(delivery.payload.get("message_id", 0)))
            if message is not None:
                uow.messages.update(message.id, state="quarantined")
            audit.record(uow, self.clock, "intake.quarantined", ref=message.reference if message else None,
                         error=type(error).__name__, item=delivery.item_id)
            uow.commit()
