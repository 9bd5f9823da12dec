"""Retention's signed acts: a member records an early-review trigger (AR Art. 5 §3); the director decides a due
review, keep or erase (AR Art. 5 §4). Each is a statement signed with the signer's own key, verified against the
registered member before anything changes, and kept with its signature; a statement counts once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crypto import Gpg
from store import Message, RetentionAct, RetentionItem, UnitOfWork
from store.vocabulary import Action, MessageState, RetentionState

from hub import audit
from hub.acts.competence import authorise
from hub.acts.statements import Statement, one_line, verify
from hub.clock import Clock, brussels
from hub.errors import RetentionError, StatementError
from . import dates, shred
from .items import is_due, review_due

TRIGGER = "Passerelle retention trigger"
REVIEW = "Passerelle retention review"
# AR Art. 5 §3: the need to keep is examined before the 30 years are over when...
GROUNDS = {
    "unfounded": "1° OCAM learns that the recording was manifestly unfounded",
    "person-deceased": "2° the person it concerns has died since it was recorded",
    "leader-deceased": "3° a leading member or ideological referent of the group it concerns has died since",
    "group-dissolved": "4° OCAM learns that the group it concerns was dissolved since",
    "state-changed": "5° the State it is linked to has changed significantly in its institutions since",
}
DECISIONS = ("keep", "erase")


@dataclass(frozen=True)
class Applied:
    """A recorded act, the item it acted on (as it now stands) and its reference."""

    act: RetentionAct
    item: RetentionItem
    reference: str


def _held(uow: UnitOfWork, reference: str, *, for_update: bool = False) -> tuple[RetentionItem, Message]:
    found = uow.retention.item_of(reference, for_update=for_update)
    if found is None:
        raise RetentionError(f"{reference}: no message with that reference is held")
    item, message = found
    if item.state == RetentionState.ERASED:
        raise RetentionError(f"{reference} was erased on {brussels(item.erased_at)} ({item.erased_by}); "
                             "nothing is left to review")
    return item, message


def _head(hub: str, message: Message, item: RetentionItem) -> list[tuple[str, str]]:
    return [("hub", hub), ("reference", message.reference), ("content-digest", f"sha256:{message.body_digest}"),
            ("intake", item.intake_at.isoformat())]


def trigger_statement(uow: UnitOfWork, *, reference: str, ground: str, reason: str, hub: str, now: datetime) -> str:
    """The text a member signs to bring a review forward (AR Art. 5 §3), on one of the article's grounds."""
    if ground not in GROUNDS:
        raise RetentionError(f"unknown ground {ground!r}; one of: {', '.join(GROUNDS)} (AR Art. 5 §3, 1°-5°)")
    item, message = _held(uow, reference)
    return Statement.of(TRIGGER, *_head(hub, message, item), ("ground", ground), ("reason", one_line("reason", reason)),
                        ("date", now.isoformat())).text()


def review_statement(uow: UnitOfWork, *, reference: str, decision: str, hub: str, now: datetime) -> str:
    """The text the director signs to decide a review; only a review that is due (or triggered) can be decided."""
    if decision not in DECISIONS:
        raise RetentionError(f"unknown decision {decision!r}; one of: {', '.join(DECISIONS)}")
    item, message = _held(uow, reference)
    _require_due(item, message, now)
    return Statement.of(REVIEW, *_head(hub, message, item), ("review-due", review_due(item).isoformat()),
                        ("decision", decision), ("date", now.isoformat())).text()


def _require_due(item: RetentionItem, message: Message, now: datetime) -> None:
    if is_due(item, now):
        return
    due = review_due(item)
    when = (f"its review falls due on {brussels(due)}" if due is not None
            else "no review remains before its end")
    raise RetentionError(f"{message.reference} is not due for review: {when} (AR Art. 5 §1-2), it ends on "
                         f"{brussels(item.end_at)}, and no early review was triggered (AR Art. 5 §3: "
                         "passerelle retention trigger)")


def apply(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, statement: str, signature: bytes, hub: str) -> Applied:
    """Verify and record a trigger or a review decision; the caller commits."""
    title = statement.split("\n", 1)[0]
    if title not in (TRIGGER, REVIEW):
        raise RetentionError(f"not a retention statement (its first line is {title[:40]!r})")
    try:
        parsed = Statement.parse(statement, title)
        reference, stated_hub = parsed.one("reference"), parsed.one("hub")
    except StatementError as exc:
        raise RetentionError(f"malformed retention statement: {exc}") from exc
    if stated_hub != hub:
        raise RetentionError(f"the statement is for hub {stated_hub}, not {hub}")
    signer = verify(gpg, statement, signature, [(m.name, m.fingerprint) for m in uow.members.all()], role="member")
    # a trigger by those who read the information, a decision by the director alone (hub/acts/competence.py)
    authorise(uow.members.by_fingerprint(signer.fingerprint), "retention.trigger" if title == TRIGGER
              else "retention.review", ref=reference)
    recorded = uow.retention.act_by_digest(parsed.digest())
    if recorded is not None:
        raise RetentionError(f"this statement was recorded already, on {brussels(recorded.at)}: a signed act "
                             "counts once; sign a new one")
    item, message = _held(uow, reference, for_update=True)
    if parsed.one("content-digest") != f"sha256:{message.body_digest}" or \
            parsed.one("intake") != item.intake_at.isoformat():
        raise RetentionError(f"the statement does not describe {reference} (its digest or intake differ)")
    act = RetentionAct(item_id=item.id, statement=statement, statement_digest=parsed.digest(),
                       signature=signature.decode("ascii"), signer_fingerprint=signer.fingerprint,
                       signed_by=signer.name, at=clock.now())
    if title == TRIGGER:
        _trigger(uow, clock, item, message, act, parsed, signer.signing_fingerprint)
    else:
        _decide(uow, clock, item, message, act, parsed, signer.signing_fingerprint)
    return Applied(act, item, reference)


def _trigger(uow: UnitOfWork, clock: Clock, item: RetentionItem, message: Message, act: RetentionAct,
             parsed: Statement, key: str) -> None:
    ground = parsed.one("ground")
    if ground not in GROUNDS:
        raise RetentionError(f"unknown ground {ground!r} (AR Art. 5 §3 knows: {', '.join(GROUNDS)})")
    act.act, act.ground = "trigger", ground
    if item.triggered_at is None:
        item.triggered_at = act.at
    uow.retention.add_act(act)
    audit.record(uow, clock, Action.RETENTION_TRIGGERED, actor=act.signed_by, ref=message.reference, ground=ground,
                 basis="AR Art. 5 §3", statement=act.statement_digest, signer=key)


def _decide(uow: UnitOfWork, clock: Clock, item: RetentionItem, message: Message, act: RetentionAct,
            parsed: Statement, key: str) -> None:
    decision = parsed.one("decision")
    if decision not in DECISIONS:
        raise RetentionError(f"unknown decision {decision!r}")
    now = clock.now()
    _require_due(item, message, now)
    due = review_due(item)
    if parsed.one("review-due") != due.isoformat():
        raise RetentionError(f"the statement decides the review of {message.reference} due on "
                             f"{parsed.one('review-due')}, but the review due now is the one of {brussels(due)}; "
                             "sign a new statement")
    # An accepted message: its receipt is still to be sealed, after the erasure.
    if decision == "erase" and message.state == MessageState.ACCEPTED:
        raise RetentionError(f"{message.reference} is still being processed after its intake; decide its erasure "
                             "once it is")
    act.act, act.decision, act.review_due = "review", decision, due
    uow.retention.add_act(act)
    audit.record(uow, clock, Action.RETENTION_REVIEWED, actor=act.signed_by, ref=message.reference, decision=decision,
                 review_due=due.isoformat(), triggered=item.triggered_at is not None, basis="AR Art. 5 §4",
                 statement=act.statement_digest, signer=key)
    if decision == "erase":
        shred.erase(uow, clock, item, message, by=act.signed_by, basis="AR Art. 5 §4: the director's decision",
                    statement_digest=act.statement_digest)
    else:
        item.triggered_at, item.review_at = None, dates.next_review(item.intake_at, now)
