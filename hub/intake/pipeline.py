"""The intake pipeline: what happens to an accepted message after its 250 — deadline, receipt, copies to OCAM."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from typing import TYPE_CHECKING

from crypto import Gpg, StorageKey
from crypto.mime import compose
from store import Database
from store.vocabulary import Action, MessageState, ReceiptStatus

from hub import audit, precedence
from . import receipt_envelope, receipts
from hub.audit.checkpoints import Checkpointer, Pending
from hub.audit.proofs import Prover
from hub.clock import Clock
from hub.deadlines import clocks, windows
from hub.deadlines.windows import reply_by
from hub.errors import LogCorrupt, NoLogKey
from hub.outbound.outbox import OUTBOUND_QUEUE, queue_mail
from hub.registry.partners import GOVERNMENT
from hub.transport.priorities import priority_of
from .responses import Answer, RequestOnFile, find_request, judge
from hub.inbound.rules import Rules
from hub.inbound.stage import CopyStage
from hub.settings import Settings
from .admission import INTAKE_QUEUE
from hub.transport.protocol import Delivery, Transport

if TYPE_CHECKING:
    from sqlalchemy import Row

log = logging.getLogger(__name__)


# The pipeline is data: the stages an accepted message goes through, in order.
PIPELINE = ("deadline", "link", "receipt", "copies")


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
    copies: list = field(default_factory=list)  # hub.inbound.stage.Prepared: OCAM's people and their copies
    unrouted: list = field(default_factory=list)  # hub.inbound.rules.Unresolved: names the rules give in vain
    accepted: dict | None = None  # the detail of its intake.accepted event (the 250)
    accepted_event: Row | None = None  # that event as stored (its leaf index: .seq)
    log_proof: str | None = None  # that event's inclusion in a signed checkpoint (C2SP tlog-proof)
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
        # The acknowledgement's time is the acceptance's: the due time was fixed with it, in its event (admission).
        accepted = ctx.accepted or {}
        fixed = accepted if "due_at" in accepted and (accepted["due_at"] is None or "due_basis" in accepted) else None
        if fixed is not None:
            ctx.due = windows.Due.from_record(fixed)
        else:  # accepted before the due time went into the event
            ctx.due = windows.inbound(kind=ctx.kind, urgency=ctx.urgency,
                                      urgency_stated=ctx.source("urgency") != "default", embargo=ctx.embargo,
                                      received_at=ctx.received_at, government=ctx.partner_kind == GOVERNMENT,
                                      reply_by=reply_by(ctx.value("reply-by")), deadlines=self.windows)
        detail = {"due_at": ctx.due_at.isoformat() if ctx.due else None, "urgency": ctx.urgency}
        if ctx.due:
            detail |= {"basis": ctx.due.basis, "deviation": ctx.due.deviation}
        ctx.events.append((Action.DEADLINE_STARTED if ctx.due else Action.DEADLINE_NONE, detail))


class LinkStage:
    name = "link"
    description = "Link a response to its request; a final one from the party that owes it stops the clock."

    def process(self, ctx: IntakeContext) -> None:
        if ctx.kind == "disposition":
            # An MDN: if it acknowledges one of OCAM's requests, it may start that request's clock.
            ctx.events.append((Action.MDN_RECEIVED, {"for": ctx.request.reference if ctx.request else None}))
            return
        if ctx.kind != "response":
            return
        ctx.answer = judge(ctx.request, partner_id=ctx.partner_id, received_at=ctx.received_at,
                           status=ctx.value("response-status") or "final")
        a = ctx.answer
        detail = {"request": a.request, "status": a.status, "delay_seconds": a.delay_seconds}
        linked = a.request and a.status != "unknown-request"
        ctx.events.append((Action.RESPONSE_LINKED if linked else Action.RESPONSE_FLAGGED, detail))


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
            sealed_to=ctx.sealed_to, log_proof=ctx.log_proof,
            due_basis=ctx.due.basis if ctx.due else None, delay=ctx.due.field if ctx.due else None,
            deviation=ctx.due.deviation if ctx.due else None,
        )
        entity = receipts.report_entity(facts, self.settings.hub.domain)
        ctx.receipt_id, headers = receipts.headers(facts, self.clock.now(), self.settings.hub.domain)
        signed = compose.sign_entity(self.gpg, entity, self.settings.hub.key_fingerprint, headers)
        ctx.receipt, ctx.receipt_held = receipt_envelope.wrap(self.gpg, signed, mode=ctx.partner_receipts,
                                                              fingerprint=ctx.partner_fingerprint, now=self.clock.now())
        ctx.events.append((Action.RECEIPT_SIGNED, {"receipt_id": ctx.receipt_id, "travels": ctx.partner_receipts}))
        if ctx.receipt_held:
            # Never in clear: it waits for a usable key (partner update-key) or signed-only receipts (partner set).
            ctx.events.append((Action.ALERT_RECEIPT_HELD, {"to": ctx.partner_email, "why": ctx.receipt_held}))


class IntakeHandler:
    """Runs PIPELINE on a batch of accepted messages and records the outcome in one transaction."""

    queue = INTAKE_QUEUE

    def __init__(self, *, settings: Settings, db: Database, gpg: Gpg, storage_key: StorageKey, clock: Clock,
                 transport: Transport, rules: Rules, checkpointer: Checkpointer) -> None:
        self.db = db
        self.checkpointer = checkpointer
        self.clock = clock
        self.transport = transport
        self.storage_key = storage_key
        self.settings = settings
        self.copies = CopyStage(settings, db, gpg, storage_key, clock, transport, rules)
        stages = (DeadlineStage(settings), LinkStage(), ReceiptStage(settings, gpg, clock), self.copies)
        self.stages = {stage.name: stage for stage in stages}
        self.precedence = precedence.NONE  # the serving process's: this batch's items give way to a FLASH batch
        assert tuple(self.stages) == PIPELINE

    def handle(self, deliveries: list[Delivery]) -> list[tuple[Delivery, Exception]]:
        """Process a batch; returns the items whose stages raised (the runner quarantines them)."""
        contexts = self._load(deliveries)
        checkpoint = self._prove(contexts)
        ready: list[tuple[Delivery, IntakeContext]] = []
        failures: list[tuple[Delivery, Exception]] = []
        for delivery in deliveries:
            ctx = contexts.get(int(delivery.payload["message_id"]))
            if ctx is None:
                continue
            self.precedence.pause_point()
            try:
                for name in PIPELINE:
                    self.stages[name].process(ctx)
            except Exception as error:  # noqa: BLE001 - handed to the runner boundary, which quarantines
                failures.append((delivery, error))
            else:
                ready.append((delivery, ctx))
        failed = {id(d) for d, _ in failures}
        done = [d for d in deliveries if id(d) not in failed]
        self.precedence.pause_point()  # before the write lock, which a FLASH batch would wait for
        try:
            self._apply(ready, done, checkpoint)
        except LogCorrupt as exc:  # its checkpoint would contradict one stored: nothing of the batch is recorded
            self.checkpointer.alert(str(exc), exc.index)
            raise
        if ready:
            self.transport.notify(OUTBOUND_QUEUE)
        return failures

    def _load(self, deliveries: list[Delivery]) -> dict[int, IntakeContext]:
        """Snapshots of the messages still to process (a redelivered, processed one is left out)."""
        ids = [int(d.payload["message_id"]) for d in deliveries]
        with self.db.reader() as uow:
            contexts = {}
            for row in uow.messages.intake_snapshots(ids):
                if row.state == MessageState.PROCESSED:
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
            by_reference = {c.reference: c for c in contexts.values()}
            for reference, event in uow.log.entries_of(Action.INTAKE_ACCEPTED, list(by_reference)).items():
                by_reference[reference].accepted, by_reference[reference].accepted_event = json.loads(event.detail), event
            return contexts

    def _prove(self, contexts: dict[int, IntakeContext]) -> Pending | None:
        """Each receipt's proof: its intake event in a checkpoint that covers it — the latest, or one signed now
        rather than the next second's, then stored with the receipts (returned, for ``_apply``). Without a key
        that can sign checkpoints, no proof."""
        wanted = [c for c in contexts.values() if c.kind != "disposition" and c.accepted_event is not None]
        if not wanted:
            return None
        try:
            checkpoint = self.checkpointer.covering(max(c.accepted_event.seq for c in wanted))
            with self.db.reader() as uow:
                proofs = Prover(uow.log, checkpoint, self.checkpointer.cache).of_rows([c.accepted_event for c in wanted])
        except NoLogKey:
            return None
        except LogCorrupt as exc:  # no receipt proves a log that no longer holds: they wait in quarantine
            self.checkpointer.alert(str(exc), exc.index)
            raise
        for ctx in wanted:
            ctx.log_proof = proofs[ctx.accepted_event.seq].render()
        return checkpoint if isinstance(checkpoint, Pending) else None

    def _apply(self, ready: list[tuple[Delivery, IntakeContext]], done: list[Delivery],
               checkpoint: Pending | None = None) -> None:
        """One transaction: each processed message's state, receipt, events, the checkpoint their receipts
        carry; every finished item acked."""
        with self.db.unit_of_work() as uow:
            for delivery, ctx in list(ready):
                if uow.messages.state_of(ctx.message_id) != MessageState.ACCEPTED:
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
                receipt = ((ReceiptStatus.HELD if ctx.receipt_held else ReceiptStatus.QUEUED) if ctx.receipt
                           else ReceiptStatus.NONE)
                uow.messages.update(ctx.message_id, due_at=ctx.due_at, state=MessageState.PROCESSED,
                                    receipt_status=receipt)
                for action, detail in ctx.events:
                    audit.record(uow, self.clock, action, ref=ctx.reference, **detail)
                if ctx.receipt is not None and ctx.receipt_id is not None:
                    queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock,
                               message_id=ctx.message_id, purpose="receipt", rfc_message_id=ctx.receipt_id,
                               mail_from="", rcpt_to=ctx.partner_email, data=ctx.receipt,
                               priority=priority_of(ctx.urgency), held=ctx.receipt_held is not None)
                self.copies.record(uow, ctx)
            for delivery in done:
                self.transport.ack(uow, delivery)
            if checkpoint is not None:
                self.checkpointer.persist(uow, checkpoint)
            uow.commit()
        if checkpoint is not None:
            self.checkpointer.committed(checkpoint)
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
                uow.messages.update(message.id, state=MessageState.QUARANTINED)
            audit.record(uow, self.clock, Action.INTAKE_QUARANTINED, ref=message.reference if message else None,
                         error=type(error).__name__, item=delivery.item_id)
            uow.commit()
