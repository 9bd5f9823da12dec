"""Evaluations: the Art. 10 distribution checked recipient by recipient, then one encrypted copy each."""

from __future__ import annotations

import hashlib
from email.utils import make_msgid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from crypto import Gpg, KeyUnusable, StorageKey
from crypto.mime import compose
from store import Distribution, UnitOfWork
from store.vocabulary import Action, MessageState, ReceiptStatus

from hub import audit, vault
from hub.acts.competence import authorise
from hub.clock import Clock
from hub.deadlines import clocks, windows
from hub.embargo.decisions import Integration
from hub.outbound.outbox import mime_entity, queue_mail
from .policy import Policy, PolicyError
from hub.transport.priorities import priority_of
from hub.registry.partners import GOVERNMENT
from hub.registry.recipients import RECEIVE_EVALUATIONS
from hub.registry.clearances import cleared
from hub.references import next_reference
from hub.retention import items as retention
from hub.outbound.requests import content_digests, key_problem, outer_headers
from hub.settings import Settings
from hub.transport.protocol import Transport

if TYPE_CHECKING:
    from hub.acts.signed import MemberHome

# AR Art. 11 §6: every evaluation states the threat level.
THREAT_LEVELS = {1: "FAIBLE / LAAG", 2: "MOYEN / GEMIDDELD", 3: "GRAVE / ERNSTIG", 4: "TRÈS GRAVE / ZEER ERNSTIG"}


@dataclass
class Line:
    """One recipient of the distribution and the checks it passed or failed."""

    name: str
    email: str
    fingerprint: str
    basis: str
    clearance: str
    clearance_ok: bool
    key_problem: str | None
    excluded: str | None = None  # the reason of the member who left it out (--exclude)
    added: str | None = None  # the legal basis of a recipient added beyond the policy (--add-recipient)

    @property
    def problem(self) -> str | None:
        if not self.clearance_ok:
            return "clearance too low"
        return f"key {self.key_problem}" if self.key_problem else None


@dataclass
class Plan:
    lines: list[Line] = field(default_factory=list)

    @property
    def blockers(self) -> list[str]:
        return [f"{ln.name}: {ln.problem}" for ln in self.lines if ln.problem and not ln.excluded]

    @property
    def included(self) -> list[Line]:
        return [ln for ln in self.lines if not ln.excluded]


def parse_origin(value: str) -> tuple[str, str | None]:
    kind, _, name = value.partition(":")
    if kind == "own" and not name:
        return "own", None
    if kind in ("partner", "government") and name:
        return kind, name
    raise PolicyError(f"origin {value!r}: use own, partner:NAME or government:NAME")


def plan(uow: UnitOfWork, gpg: Gpg, policy: Policy, now: datetime, *, kind: str, origin: str,
         classification: str | None, additions: list[tuple[str, str]], exclusions: dict[str, str]) -> Plan:
    """Who receives it and why; checks each recipient's clearance and key. Nothing is narrowed silently."""
    origin_type, origin_name = parse_origin(origin)
    if origin_type == "partner" and uow.partners.by_name(origin_name or "") is None:
        raise PolicyError(f"origin: no partner named {origin_name!r}")
    result = Plan([Line(c.name, c.email, c.fingerprint, c.basis, c.clearance, cleared(c.clearance, classification),
                        key_problem(gpg, c.fingerprint, now))
                   for c in policy.resolve(uow, kind=kind, origin=origin_type, origin_name=origin_name)])
    for name, basis in additions:
        recipient = uow.recipients.by_name(name)
        if recipient is None:
            raise PolicyError(f"--add-recipient {name}: no such registered recipient")
        if recipient.type not in RECEIVE_EVALUATIONS:
            raise PolicyError(f"--add-recipient {name}: {name} is of type {recipient.type}, which receives no "
                              "evaluation; an evaluation goes to those law Art. 10 names, and to nobody else")
        if (there := next((ln for ln in result.lines if ln.name == name), None)) is not None:
            raise PolicyError(f"--add-recipient {name}: {name} receives this evaluation already ({there.basis}); "
                              "each recipient gets it once (law Art. 10)")
        if not basis.strip():
            raise PolicyError(f"--add-recipient {name}: its legal basis (--basis) is required")
        result.lines.append(Line(
            recipient.name, recipient.email, recipient.fingerprint, f"added beyond the policy: {basis}",
            recipient.clearance, cleared(recipient.clearance, classification),
            key_problem(gpg, recipient.fingerprint, now), added=basis))
    names = {ln.name for ln in result.lines}
    for name, reason in exclusions.items():
        if name not in names:
            raise PolicyError(f"--exclude {name}: not a recipient of this evaluation")
        if not reason.strip():
            raise PolicyError(f"--exclude {name}: the reason (--reason) is required and recorded")
        next(ln for ln in result.lines if ln.name == name).excluded = reason
    return result


def _close_request(uow: UnitOfWork, clock: Clock, request: str, kind: str, origin: str, message_id: int,
                   reference: str, now: datetime) -> None:
    """The evaluation asked for answers its request, and OCAM's clock stops by the one on-time rule: a punctual
    evaluation a support service asked for (law Art. 10 §3), the strategic evaluation a member of the
    government asked for (AR Art. 7; law Art. 8, 1°)."""
    origin_type, origin_name = parse_origin(origin)
    asked = uow.messages.by_reference(request)
    partner = uow.partners.by_name(origin_name or "")
    deadline = uow.deadlines.for_message(asked.id) if asked else None
    answers = {"partner": "punctual", "government": "strategic"}.get(origin_type)
    if (answers is None or asked is None or partner is None or asked.partner_id != partner.id
            or (partner.kind == GOVERNMENT) != (origin_type == "government")
            or deadline is None or deadline.owed_by != "ocam"):
        raise PolicyError(f"--request {request}: not a request of {origin_name or 'the origin'} that OCAM owes")
    if kind != answers:
        raise PolicyError(f"--request {request}: a request of {origin_name} is answered by a {answers} evaluation "
                          f"({'AR Art. 7' if answers == 'strategic' else 'law Art. 10 §3'})")
    on_time = clocks.close(uow, deadline_id=deadline.id, due_at=deadline.due_at, answered_at=now,
                           answer_message_id=message_id)
    if on_time is None:
        raise PolicyError(f"--request {request}: already answered")
    audit.record(uow, clock, Action.REQUEST_ANSWERED, ref=request, by=reference, on_time=on_time)


def _integrated(the_plan: Plan, integration: Integration | None, integrated_for: list[str] | None,
                body_without: str | None) -> set[str]:
    """Who gets the version with the embargoed information; refuses whatever the decision does not allow."""
    if integration is None:
        return set()
    allowed = integration.allowed
    refused = [n for n in integrated_for or [] if n not in allowed]
    if refused:
        raise PolicyError(f"not sent — {', '.join(refused)} may not receive the information of {integration.reference} "
                          f"({integration.basis}; allowed: {', '.join(sorted(allowed)) or 'nobody'})")
    wanted = set(integrated_for) if integrated_for else set(allowed)
    with_info = {ln.name for ln in the_plan.included if ln.name in wanted}
    if not with_info:
        raise PolicyError(f"not sent — nobody in this distribution may receive the information of "
                          f"{integration.reference} (allowed: {', '.join(sorted(allowed)) or 'nobody'})")
    others = [ln.name for ln in the_plan.included if ln.name not in with_info]
    if others and body_without is None:
        raise PolicyError(f"not sent — {', '.join(others)} may not receive the information of "
                          f"{integration.reference}: give the version without it (--without FILE) or exclude them")
    return with_info


def send(uow: UnitOfWork, *, settings: Settings, gpg: Gpg, key: StorageKey, clock: Clock, transport: Transport,
         by: MemberHome, the_plan: Plan, kind: str, origin: str, threat_level: int, urgency: str,
         classification: str | None, subject: str, body: str, attachments: list[tuple[str, bytes]],
         request: str | None = None, integration: Integration | None = None, body_without: str | None = None,
         integrated_for: list[str] | None = None) -> str:
    """Record the evaluation and its distribution, the signed act of the member whose home *by* is (a recipient
    added or left out by the director's or the deputy's only); queue one copy per included recipient, encrypted to
    it only.

    With *integration* (an embargoed item's joint decision), the version with the information (*body*) goes
    only to the recipients the decision allows; the others get *body_without* (AR Art. 15 al. 4-6)."""
    if the_plan.blockers:
        raise PolicyError("not sent — " + "; ".join(the_plan.blockers)
                          + " (fix it, or decide with --exclude NAME --reason TEXT)")
    if not the_plan.included:
        raise PolicyError("not sent: every recipient is excluded")
    with_info = _integrated(the_plan, integration, integrated_for, body_without)
    act = by.sign(uow, clock, "evaluation.send", kind=kind, origin=origin, threat_level=threat_level,
                  urgency=urgency, classification=classification, request=request,
                  recipient=[ln.name for ln in the_plan.included],
                  add_recipient=[f"{ln.name}: {ln.added}" for ln in the_plan.lines if ln.added],
                  exclude=[f"{ln.name}: {ln.excluded}" for ln in the_plan.lines if ln.excluded],
                  integrates=integration.reference if integration else None, integrated_for=sorted(with_info),
                  without_sha256=hashlib.sha256(body_without.encode("utf-8")).hexdigest() if body_without else None,
                  **content_digests(subject, body, attachments))
    if any(ln.added for ln in the_plan.lines):
        authorise(act.member, "evaluation.add-recipient")
    if any(ln.excluded for ln in the_plan.lines):
        authorise(act.member, "evaluation.exclude")
    actor = act.member.name
    now = clock.now()
    reference = next_reference(uow, now)
    fields = [("Message-Kind", "evaluation"), ("Evaluation-Kind", kind), ("Threat-Level",
              f"{threat_level} {THREAT_LEVELS[threat_level]}"), ("Urgency", urgency), ("Evaluation-Ref", reference)]
    if classification:
        fields.append(("Classification", classification))
    base_id = make_msgid(idstring=reference, domain=settings.hub.domain)
    outer_fields = [("From", f"OCAM Passerelle <{settings.hub.address}>"), ("Message-ID", base_id)]
    entity = mime_entity(reference, fields, subject, body, attachments, outer_fields)
    without = (mime_entity(reference, fields, subject, body_without, attachments, outer_fields)
               if integration is not None and body_without is not None else None)
    # The version integrating embargoed information is kept only inside its recipients' encrypted copies.
    kept = entity if integration is None else without
    blob_id = vault.seal(uow, key, kept, now=now, context=f"message:{reference}") if kept is not None else None
    message_id = uow.messages.insert(
        reference=reference, direction="outbound", partner_id=None, rfc_message_id=base_id, signature_digest=None,
        body_digest=hashlib.sha256(entity).hexdigest(), size=len(entity), encrypted=True,
        signer_fingerprint=settings.hub.key_fingerprint, mail_from=settings.hub.address, kind="evaluation",
        urgency=urgency, urgency_source="operator", embargo=None, classification=classification,
        fields={"threat-level": {"value": threat_level, "source": "operator"},
                "evaluation-kind": {"value": kind, "source": "operator"},
                "origin": {"value": origin, "source": "operator"}},
        links={}, received_at=now, due_at=None, state=MessageState.QUEUED, receipt_status=ReceiptStatus.NONE,
        raw_blob_id=blob_id,
    )
    retention.register(uow, message_id, now)
    audit.record(uow, clock, Action.EVALUATION_CREATED, actor=actor, ref=reference, kind=kind, origin=origin,
                 threat_level=threat_level, recipients=len(the_plan.included), **act.evidence())
    if integration is not None:
        audit.record(uow, clock, Action.EVALUATION_INTEGRATES_EMBARGO, actor=actor, ref=reference,
                     item=integration.reference, basis=integration.basis, to=sorted(with_info))
    if request is not None:
        _close_request(uow, clock, request, kind, origin, message_id, reference, now)
    for i, line in enumerate(the_plan.lines):
        uow.distributions.add(Distribution(
            message_id=message_id, name=line.name, email=line.email, basis=line.basis, included=not line.excluded,
            reason=line.excluded, decided_by=actor,
            checks={"clearance": line.clearance, "clearance_ok": line.clearance_ok, "key": line.key_problem or "ok",
                    **({"embargo": "integrated" if line.name in with_info else "without"} if integration else {})}))
        if line.excluded:
            audit.record(uow, clock, Action.EVALUATION_EXCLUDED, actor=actor, ref=reference, recipient=line.name,
                         reason=line.excluded)
            continue
        copy_id = make_msgid(idstring=f"{reference}.{i}", domain=settings.hub.domain)
        outer = outer_headers(settings, line.email, copy_id, reference, now)
        try:
            copy = entity if integration is None or line.name in with_info else without
            assert copy is not None
            data = compose.encrypt_entity(gpg, copy, [line.fingerprint], settings.hub.key_fingerprint, outer)
        except KeyUnusable as exc:  # checked in plan(); a key that changed since fails the whole send
            raise PolicyError(f"not sent — {line.name}: key {exc.reason}") from exc
        # Delivered within the delay of its urgency (AR Art. 8 and Art. 11 §5), tracked per recipient.
        queue_mail(uow, transport=transport, key=key, clock=clock, message_id=message_id, purpose="evaluation",
                   rfc_message_id=copy_id, mail_from=settings.hub.address, rcpt_to=line.email, data=data,
                   priority=priority_of(urgency),
                   # Embargoed information runs no transmission deadline (AR Art. 11 §5, last paragraph).
                   due_at=None if integration is not None else windows.delivery(urgency, now, settings.deadlines))
    return reference
