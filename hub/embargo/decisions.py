"""Joint decisions on embargoed items, and what they allow the evaluation routing to do.

Law Art. 11 al. 3-5 (judicial: the director with the Federal Prosecutor) and Art. 12 al. 3-5 (foreign:
the director with the head of the providing service) decide whether, and how far, embargoed information
is integrated into an evaluation and to whom it goes. A decision is recorded only with both signatures
over the same canonical statement, each verified against a registered key. AR Art. 15: without the
originating service's consent the information goes only into the evaluation for the service that
provided it, and its origin is never revealed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from crypto import Gpg
from store import EmbargoDecision, Message, UnitOfWork
from store.vocabulary import Action, DecisionState

from hub import audit
from hub.acts.competence import authorise
from hub.acts.statements import Statement, quoted, verify
from hub.clock import Clock
from .sealing import item_of
from hub.errors import EmbargoError, StatementError

INTEGRATE = ("yes", "no", "protection")
CONSENT = ("yes", "no")
TITLE = "Passerelle joint embargo decision"
FEDERAL_PROSECUTOR = "federal-prosecutor"
ACT = "embargo.decide"


def statement(uow: UnitOfWork, *, reference: str, integrate: str, consent: str, recipients: list[str],
              hub: str) -> str:
    """The canonical text both parties sign; it binds the item by its content digest."""
    if integrate not in INTEGRATE:
        raise EmbargoError(f"--integrate: one of {', '.join(INTEGRATE)}")
    if consent not in CONSENT:
        raise EmbargoError(f"--consent: one of {', '.join(CONSENT)}")
    message, item = item_of(uow, reference)
    for name in recipients:
        if uow.partners.by_name(name) is None and uow.recipients.by_name(name) is None:
            raise EmbargoError(f"--recipients: {name!r} is neither a partner nor a registered recipient")
    return Statement.of(TITLE, ("hub", hub), ("reference", reference), ("embargo", item.kind),
                        ("item-digest", f"sha256:{item.content_digest}"), ("integrate", integrate),
                        ("consent", consent), ("recipients", ", ".join(sorted(set(recipients))) or "-")).text()


def second_party(uow: UnitOfWork, message: Message, kind: str) -> list[tuple[str, str]]:
    """Who may give the second signature, as (name, fingerprint): the Federal Prosecutor (judicial, law Art. 11
    al. 3), or the head of the providing service, registered as its own signer (foreign, law Art. 12 al. 3) — not
    the service's contact point. Refused, saying so, while the head is not registered."""
    if kind == "judicial":
        return [(p.name, p.fingerprint) for p in uow.partners.all() if p.kind == FEDERAL_PROSECUTOR]
    provider = message.partner
    if provider is None or provider.head_fingerprint is None:
        name = provider.name if provider is not None else "the providing service"
        raise EmbargoError(f"the head of service of {name} is not registered: the joint decision on a foreign item "
                           "is the director's and the head of the providing service's (law Art. 12 al. 3); register "
                           f"the head: passerelle partner set {name} --head-key FILE --head-email ADDRESS")
    # As the decision row names the second party (64 characters at most), "head of" the service.
    return [(f"head of {provider.name}"[:64], provider.head_fingerprint)]


def _parse(text: str) -> dict[str, str]:
    try:
        return dict(Statement.parse(text, TITLE).fields)
    except StatementError as exc:
        raise EmbargoError(f"not a joint embargo decision statement: {exc}") from exc


def _decision_for(uow: UnitOfWork, clock: Clock, text: str, actor: str):
    """The decision stated by *text* (created pending on first sight), its message and item."""
    values = _parse(text)
    message, item = item_of(uow, values.get("reference", ""))
    if values.get("item-digest") != f"sha256:{item.content_digest}" or values.get("embargo") != item.kind:
        raise EmbargoError("the statement does not describe this item (digest or kind differ)")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    decision = uow.embargo.decision_by_digest(digest)
    if decision is None:
        decision = uow.embargo.add_decision(EmbargoDecision(
            message_id=message.id, integrate=values["integrate"], consent=values["consent"],
            recipients=[r for r in values.get("recipients", "").split(", ") if r and r != "-"], statement=text,
            statement_digest=digest, state=DecisionState.PENDING, created_at=clock.now(), superseded=False))
        audit.record(uow, clock, Action.EMBARGO_DECISION_PROPOSED, actor=actor, ref=message.reference,
                     integrate=decision.integrate, consent=decision.consent, recipients=decision.recipients)
    if decision.state == DecisionState.RECORDED:
        raise EmbargoError(f"this decision on {message.reference} is recorded already")
    return decision, message, item


def _second_role(kind: str) -> str:
    return "Federal Prosecutor" if kind == "judicial" else "head of the providing service"


def _article(kind: str) -> str:
    """The article that makes the decision joint."""
    return "law Art. 11 al. 3" if kind == "judicial" else "law Art. 12 al. 3"


def _record_if_complete(uow: UnitOfWork, clock: Clock, decision: EmbargoDecision, message: Message) -> None:
    if not (decision.director_signature and decision.second_signature):
        return
    for older in uow.embargo.decisions(message.id, state=DecisionState.RECORDED):
        older.superseded = True
    decision.state, decision.decided_at = DecisionState.RECORDED, clock.now()
    audit.record(uow, clock, Action.EMBARGO_DECISION_RECORDED, ref=message.reference, integrate=decision.integrate,
                 consent=decision.consent, recipients=decision.recipients, director=decision.director_fingerprint,
                 second=decision.second_party)


def submit(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, text: str, director_signature: bytes,
           second_signature: bytes | None = None) -> EmbargoDecision:
    """OCAM's signature over the decision stated by *text* — the director's, or the deputy's (hub/acts/competence.py),
    verified against the registered members — and the second party's if given; it is recorded once it has both."""
    ocam = verify(gpg, text, director_signature, [(m.name, m.fingerprint) for m in uow.members.all()], role="member")
    member = uow.members.by_fingerprint(ocam.fingerprint)
    authorise(member, ACT, ref=_parse(text).get("reference"))
    decision, message, item = _decision_for(uow, clock, text, member.name)
    decision.director_signature = director_signature.decode("ascii")
    decision.director_fingerprint = ocam.fingerprint
    audit.record(uow, clock, Action.EMBARGO_DECISION_SIGNED, actor=member.name, ref=message.reference, role=member.role)
    if second_signature is not None:
        role = _second_role(item.kind)
        try:
            signer = verify(gpg, text, second_signature, second_party(uow, message, item.kind), role=role)
        except StatementError as exc:
            raise StatementError(f"{exc} (the decision is the director's and the {role}'s, {_article(item.kind)})") \
                from exc
        decision.second_signature, decision.second_fingerprint = second_signature.decode("ascii"), signer.fingerprint
        decision.second_party = signer.name
        audit.record(uow, clock, Action.EMBARGO_DECISION_SIGNED, actor=signer.name, ref=message.reference, role=role)
    _record_if_complete(uow, clock, decision, message)
    return decision


def statement_in(text: str) -> str | None:
    """A decision statement quoted in a signed message's text, from its title line to its recipients line."""
    return quoted(text, TITLE, "recipients")


def countersign_by_message(uow: UnitOfWork, clock: Clock, *, text: str, signer: str, evidence: str) -> EmbargoDecision:
    """The second party's signature arriving as a signed message through the gateway: the message's own
    verified signature (by *signer*, a registered key) covers the quoted statement; *evidence* names it."""
    decision, message, item = _decision_for(uow, clock, text, signer)
    role = _second_role(item.kind)
    allowed = second_party(uow, message, item.kind)
    match = next(((n, f) for n, f in allowed if f == signer), None)
    if match is None:
        raise EmbargoError(f"signed by {signer}, which is not the {role}'s registered key ({_article(item.kind)})")
    decision.second_signature, decision.second_fingerprint, decision.second_party = evidence, match[1], match[0]
    audit.record(uow, clock, Action.EMBARGO_DECISION_SIGNED, actor=match[0], ref=message.reference, role=role,
                 by="signed message", evidence=evidence)
    _record_if_complete(uow, clock, decision, message)
    return decision


@dataclass(frozen=True)
class Integration:
    """What an evaluation integrating an embargoed item may do, by the decision in force."""

    reference: str
    allowed: frozenset[str]  # who may receive the version with the information
    basis: str


def integration(uow: UnitOfWork, reference: str) -> Integration:
    message, item = item_of(uow, reference)
    decision = uow.embargo.recorded_decision(message.id)
    if decision is None:
        raise EmbargoError(f"{reference}: no joint decision is recorded (it needs the director's and the "
                           f"{'Federal Prosecutor' if item.kind == 'judicial' else 'providing service head'}'s "
                           "signatures: passerelle embargo decide)")
    if decision.integrate == "no":
        raise EmbargoError(f"{reference}: the joint decision is not to integrate it")
    provider = message.partner.name if message.partner else ""
    if decision.consent == "no":
        # AR Art. 15 al. 4: only the evaluation for the service that provided the information.
        return Integration(reference, frozenset({provider}), "AR Art. 15 al. 4 (no consent): providing service only")
    return Integration(reference, frozenset(decision.recipients), f"joint decision ({_article(item.kind)})")
