"""The intake stage that delivers an accepted message to OCAM's people (AR Art. 11; law Art. 6): a copy to each
member or desk the routing rules name, or for an embargoed item a notice to its holders; queued with the receipt."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crypto import DecryptionFailed, Gpg, KeyUnusable, MimeError, SealError, StorageKey
from crypto.errors import PacketError
from store import Database, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.embargo.sealing import members_of
from hub.outbound.outbox import OwnMail, queue_mail
from hub.outbound.requests import key_problem
from hub.registry.clearances import cleared
from hub.settings import Settings
from hub.transport.priorities import priority_of
from hub.transport.protocol import Transport
from hub.vault import unseal
from .copies import About, copy_mail, notice_mail
from .originals import Original, original
from .rules import HOLDER, Rules, Target

if TYPE_CHECKING:
    from hub.intake.pipeline import IntakeContext

log = logging.getLogger(__name__)

COPY, NOTICE = "copy", "notice"  # the outbound purposes


@dataclass(frozen=True)
class Prepared:
    """One person's copy (or notice) of a message, ready to queue; or why they get none."""

    target: Target
    purpose: str
    entitled: bool  # routed and cleared: competent for this message (law Art. 9 §3 5°)
    message_id: str | None = None
    data: bytes | None = None  # encrypted to the target's key; None: held, or withheld
    why: str | None = None


class CopyStage(OwnMail):
    name = "copies"
    description = "Encrypt a copy of the partner's original to each of OCAM's people the routing rules name; " \
                  "an embargoed item's holders get a notice without its content."

    def __init__(self, settings: Settings, db: Database, gpg: Gpg, storage_key: StorageKey, clock: Clock,
                 transport: Transport, rules: Rules) -> None:
        super().__init__(settings=settings, db=db, gpg=gpg, storage_key=storage_key, clock=clock, transport=transport)
        self.rules = rules

    def process(self, ctx: IntakeContext) -> None:
        if ctx.kind == "disposition":  # an MDN acknowledges the hub's mail: nothing for OCAM's people to read
            return
        sealed_to: tuple[int, int] | None = None  # an embargoed item's holder-list version and holder count
        with self.db.reader() as uow:  # reads only: the gpg work below runs outside any transaction
            if ctx.embargo:
                item = uow.embargo.for_message(ctx.message_id)
                if item is None:
                    return
                sealed_to = (item.holder_version, len(item.holders))
                targets = [Target(m.name, m.email, m.fingerprint, m.clearance, HOLDER,
                                  f"holder of the {ctx.embargo} list, version {item.holder_version} "
                                  "(law Art. 11-12 al. 2)") for m in members_of(uow, item)]
            else:
                targets, ctx.unrouted = self.rules.route(uow, partner=ctx.partner, partner_kind=ctx.partner_kind,
                                                         kind=ctx.kind, urgency=ctx.urgency)
            if not targets:
                return
            stored = uow.messages.sealed(ctx.message_id)
        about = About(ctx.reference, ctx.partner, ctx.partner_kind, ctx.kind, ctx.urgency, ctx.source("urgency"),
                      ctx.classification, ctx.received_at, ctx.due_at, stored.signer_fingerprint)
        if sealed_to is not None:
            ctx.copies = [self._notice(about, target, ctx.embargo, *sealed_to) for target in targets]
            return
        try:
            if stored.key_id is None:
                raise SealError("the message keeps no sealed bytes")
            raw = unseal(self.storage_key, stored, context=f"message:{ctx.reference}")
        except SealError as exc:
            found: Original | str = _unavailable(exc)
        else:
            found = self._original(raw, stored.encrypted)
        ctx.copies = [self._copy(about, target, found) for target in targets]

    def _original(self, raw: bytes, encrypted: bool) -> Original | str:
        """The partner's original, or why it cannot be had (its copies are then held: never a copy of less)."""
        try:
            return original(self.gpg, raw, encrypted=encrypted, limit=self.settings.gateway.max_message_bytes)
        except (DecryptionFailed, PacketError, MimeError) as exc:
            return _unavailable(exc)

    def _copy(self, about: About, target: Target, found: Original | str) -> Prepared:
        if not cleared(target.clearance, about.classification):
            return Prepared(target, COPY, False, why=f"clearance {target.clearance} below the message's "
                                                     f"classification {about.classification}")
        if isinstance(found, str):
            return Prepared(target, COPY, True, why=found)
        try:
            message_id, data = copy_mail(self.gpg, self.settings.hub, about, target, found, now=self.clock.now())
        except KeyUnusable as exc:  # never in clear: held, and the duty officer is told
            return Prepared(target, COPY, True, why=self._key_problem(target, exc))
        return Prepared(target, COPY, True, message_id, data)

    def _key_problem(self, target: Target, exc: KeyUnusable) -> str:
        """Why gpg would not encrypt to the target's key, in words (missing, revoked, expired since ...)."""
        return f"key {key_problem(self.gpg, target.fingerprint, self.clock.now()) or exc.reason}"

    def _notice(self, about: About, target: Target, embargo: str, version: int, holders: int) -> Prepared:
        try:
            message_id, data = notice_mail(self.gpg, self.settings.hub, about, target, embargo=embargo,
                                           version=version, holders=holders, now=self.clock.now())
        except KeyUnusable as exc:
            return Prepared(target, NOTICE, True, why=self._key_problem(target, exc))
        return Prepared(target, NOTICE, True, message_id, data)

    def record(self, uow: UnitOfWork, ctx: IntakeContext) -> None:
        """In the transaction that queues the receipt: who the message went to and why, each copy queued (once
        per recipient: the transaction also marks the message processed), each one held raising an alert."""
        uow.distributions.add_rows([dict(
            message_id=ctx.message_id, name=p.target.name, email=p.target.email, basis=p.target.basis,
            included=p.entitled, reason=p.why, decided_by="holder list" if p.target.role == HOLDER else "routing rules",
            checks={"as": p.target.role, "clearance": p.target.clearance,
                    "key": "ok" if p.data else p.why if p.entitled else "not tried",
                    "copy": p.purpose if p.data else "held" if p.entitled else "withheld"}) for p in ctx.copies]
            + [dict(message_id=ctx.message_id, name=u.name, email="", basis=u.basis, included=False, reason=u.why,
                    decided_by="routing rules", checks={"as": "unknown"}) for u in ctx.unrouted])
        for p in ctx.copies:
            t = p.target
            if p.data is not None and p.message_id is not None:
                queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock,
                           message_id=ctx.message_id, purpose=p.purpose, rfc_message_id=p.message_id,
                           mail_from=self.settings.hub.address, rcpt_to=t.email, data=p.data,
                           priority=priority_of(ctx.urgency), due_at=ctx.due_at)
                audit.record(uow, self.clock, f"{p.purpose}.queued", ref=ctx.reference, to=t.email, recipient=t.name,
                             role=t.role)
            elif p.entitled:
                audit.record(uow, self.clock, Action.ALERT_COPY_HELD, ref=ctx.reference, purpose=p.purpose, to=t.email,
                             recipient=t.name, why=p.why)
                log.warning("inbound: %s %s for %s held: %s", ctx.reference, p.purpose, t.name, p.why)
            else:
                audit.record(uow, self.clock, Action.COPY_WITHHELD, ref=ctx.reference, recipient=t.name, why=p.why)
        for u in ctx.unrouted:
            log.warning("inbound: %s routing names %s: %s", ctx.reference, u.name, u.why)
        if ctx.kind != "disposition" and not ctx.copies:
            audit.record(uow, self.clock, Action.INBOUND_UNROUTED, ref=ctx.reference,
                         why="no registered member or desk is routed this message (passerelle recipient add ... "
                             "--type ocam-duty)")
        elif ctx.copies and not any(p.entitled for p in ctx.copies):
            audit.record(uow, self.clock, Action.ALERT_INBOUND_WITHHELD, ref=ctx.reference,
                         why=f"nobody it is routed to is cleared for {ctx.classification}")


def _unavailable(exc: Exception) -> str:
    return f"the partner's original cannot be taken out of the stored message ({type(exc).__name__}: {exc})"
