"""The Federal Prosecutor's confirmation of a judicial embargo declared by another service (law Art. 11 al. 1).

An embargo binds only when declared inside the signed part (hub/intake/admission.py refuses an outer-only
one). A judicial embargo is the Federal Prosecutor's decision: declared by the registered federal-prosecutor
partner it stands confirmed at once (hub/embargo/sealing.py); declared by another service it is recorded as
declared by it, stays sealed to the holders and awaits the prosecutor's confirmation: a signed message from
that partner whose text quotes the statement below (the canonical form of hub/acts/statements.py, as a joint
decision's second signature comes, hub/embargo/decisions.py)."""

from __future__ import annotations

from store import UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.acts.statements import Statement, quoted
from hub.clock import Clock
from hub.errors import EmbargoError, StatementError
from .decisions import second_party
from .sealing import item_of

TITLE = "Passerelle judicial embargo confirmation"


def statement(uow: UnitOfWork, *, reference: str, hub: str) -> str:
    """The canonical text the Federal Prosecutor signs to confirm a judicial embargo; it binds the item by its
    content digest and names the service that declared it."""
    _message, item = item_of(uow, reference)
    if item.kind != "judicial":
        raise EmbargoError(f"{reference}: a {item.kind} embargo needs no confirmation by the Federal Prosecutor")
    return Statement.of(TITLE, ("hub", hub), ("reference", reference), ("embargo", item.kind),
                        ("item-digest", f"sha256:{item.content_digest}"), ("declared-by", item.declared_by or "-"),
                        ("confirmed", "yes")).text()


def statement_in(text: str) -> str | None:
    """A confirmation statement quoted in a signed message's text, from its title line to its confirmed line."""
    return quoted(text, TITLE, "confirmed")


def confirm_by_message(uow: UnitOfWork, clock: Clock, *, text: str, signer: str, evidence: str) -> str:
    """The confirmation arriving as a signed message through the gateway: its verified signature (by *signer*,
    a registered key) must be the registered federal-prosecutor partner's; returns the confirmed reference."""
    try:
        values = dict(Statement.parse(text, TITLE).fields)
    except StatementError as exc:
        raise EmbargoError(f"not a judicial embargo confirmation statement: {exc}") from exc
    message, item = item_of(uow, values.get("reference", ""))
    if (values.get("item-digest") != f"sha256:{item.content_digest}" or values.get("embargo") != item.kind
            or values.get("confirmed") != "yes"):
        raise EmbargoError("the statement does not describe this item (digest or kind differ)")
    if item.kind != "judicial":
        raise EmbargoError(f"{message.reference}: a {item.kind} embargo needs no confirmation")
    allowed = second_party(uow, message, "judicial")
    match = next(((name, fpr) for name, fpr in allowed if fpr == signer), None)
    if match is None:
        raise EmbargoError(f"signed by {signer}, which is not the Federal Prosecutor's registered key (law Art. 11)")
    if item.confirmed_at is not None:
        raise EmbargoError(f"the judicial embargo on {message.reference} is confirmed already")
    item.confirmed_at, item.confirmed_by = clock.now(), match[0]
    audit.record(uow, clock, Action.EMBARGO_CONFIRMED, actor=match[0], ref=message.reference, kind=item.kind,
                 declared_by=item.declared_by, by="signed message", evidence=evidence)
    return message.reference


def confirmation(kind: str, confirmed_by: str | None) -> str:
    """How a sealed item's declaration stands: 'confirmed' or 'unconfirmed' (judicial), '-' (no confirmation due)."""
    if kind != "judicial":
        return "-"
    return "confirmed" if confirmed_by else "unconfirmed"
