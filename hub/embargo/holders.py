"""Holder lists: the members the director designates to read embargoed intelligence of each kind
(law Art. 11 al. 2 judicial, Art. 12 al. 2 foreign). A change is applied only with the director's (or the
deputy's: hub/acts/competence.py) signature over a canonical statement of it; every version is kept with that
statement and signature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crypto import Gpg
from store import HolderListVersion, Member, UnitOfWork
from store.vocabulary import Action, EMBARGO_KINDS

from hub import audit
from hub.acts.competence import authorise
from hub.acts.statements import Signer, Statement, verify as verify_signed
from hub.clock import Clock
from hub.errors import EmbargoError, StatementError
from hub.registry.clearances import short_of_members
from hub.registry.members import DIRECTOR, director

KINDS = EMBARGO_KINDS
STATEMENT_TITLE = "Passerelle holder-list change"
ACT = "holders.change"


@dataclass(frozen=True)
class Change:
    kind: str
    action: str  # add | remove
    member: str
    base_version: int
    holders: tuple[tuple[str, str], ...]  # the resulting list: (name, fingerprint), sorted
    hub: str
    at: datetime

    def statement(self) -> str:
        """The canonical text the director signs: every line is part of what is decided."""
        return Statement.of(STATEMENT_TITLE, ("hub", self.hub), ("kind", self.kind), ("action", self.action),
                            ("member", self.member), ("base-version", str(self.base_version)),
                            ("new-version", str(self.base_version + 1)), ("date", self.at.isoformat()),
                            *(("holder", f"{name} {fpr}") for name, fpr in self.holders)).text()


def current(uow: UnitOfWork, kind: str) -> tuple[int, list[dict]]:
    """(version, holders) of a kind; (0, []) before the director designated anyone."""
    row = uow.holders.current(kind)
    return (row.version, list(row.holders)) if row else (0, [])


def propose(uow: UnitOfWork, *, kind: str, action: str, member_name: str, hub: str, now: datetime) -> Change:
    """The change as the director will sign it, computed from the current version."""
    if kind not in KINDS:
        raise EmbargoError(f"unknown embargo kind {kind!r}; one of: {', '.join(KINDS)}")
    member = uow.members.by_name(member_name)
    if member is None:
        raise EmbargoError(f"no member named {member_name!r}")
    version, holders = current(uow, kind)
    names = {h["name"]: h["fingerprint"] for h in holders}
    boss = director(uow)
    if version == 0:
        names[boss.name] = boss.fingerprint  # the director reads embargoed information by law (Art. 11-12 al. 1)
    if action == "add":
        if member.name in names and version > 0:
            raise EmbargoError(f"{member.name} is already a holder of the {kind} list (version {version})")
        if (short := short_of_members(member.role, member.clearance, name=member.name)) is not None:
            raise EmbargoError(f"{short}; a holder of embargoed information is one of them (law Art. 11-12 al. 2)")
        names[member.name] = member.fingerprint
    elif action == "remove":
        if member.name not in names:
            raise EmbargoError(f"{member.name} is not a holder of the {kind} list")
        if member.role == DIRECTOR:
            raise EmbargoError("the director reads embargoed information by law (Art. 11-12 al. 1); "
                               "the director cannot be removed")
        del names[member.name]
    else:
        raise EmbargoError(f"unknown action {action!r}")
    return Change(kind, action, member.name, version, tuple(sorted(names.items())), hub, now)


def verify(uow: UnitOfWork, gpg: Gpg, *, statement: str, signature: bytes, hub: str) -> tuple[Change, Signer]:
    """The change *statement* states, once the signature over it verifies as a member's whose role may change the
    lists (the director's or the deputy's).

    Refused when the signature is not a good one by a registered member's key (AccessRefused when that member may
    not change the lists), when the statement is for another hub, or when it was made against a version that is
    no longer the current one."""
    signer = verify_signed(gpg, statement, signature, [(m.name, m.fingerprint) for m in uow.members.all()],
                           role="member")
    change = _parse(statement)
    authorise(uow.members.by_fingerprint(signer.fingerprint), ACT)
    if change.hub != hub:
        raise EmbargoError(f"the statement is for hub {change.hub}, not {hub}")
    version, _holders = current(uow, change.kind)
    if change.base_version != version:
        raise EmbargoError(f"the statement changes version {change.base_version} of the {change.kind} list, "
                           f"but the current one is {version}; sign a new statement")
    expected = propose(uow, kind=change.kind, action=change.action, member_name=change.member, hub=hub,
                       now=change.at)
    if expected.holders != change.holders:
        raise EmbargoError("the statement's holders do not follow from the current list and the change; "
                           "nothing changed")
    return change, signer


def record(uow: UnitOfWork, clock: Clock, change: Change, signer: Signer, *, statement: str,
           signature: bytes) -> HolderListVersion:
    """Record the new version a verified statement makes. A removal is refused while an item of the kind is
    still sealed to the member removed: it is recorded only in the act that reseals them (resealing.change)."""
    uow.flush()  # the reseals of this act, if any, are what the check below reads
    if change.action == "remove" and (left := sealed_to(uow, change.kind, change.member)):
        refs = [uow.messages.reference_of(uow.embargo.get(i).message_id) or "?" for i in left[:5]]
        raise EmbargoError(f"{len(left)} {change.kind} item(s) are still sealed to {change.member} "
                           f"({', '.join(refs)}{', ...' if len(left) > 5 else ''}); a removal reseals them to "
                           "the remaining holders in the same act: give the GnuPG home of a remaining holder "
                           "(--reseal-home DIR); nothing changed")
    version = change.base_version + 1
    row = uow.holders.add(HolderListVersion(
        kind=change.kind, version=version, holders=[{"name": n, "fingerprint": f} for n, f in change.holders],
        change=change.action, subject=change.member, statement=statement, signature=signature.decode("ascii"),
        signer_fingerprint=signer.fingerprint, signed_by=signer.name, changed_at=clock.now(),
    ))
    audit.record(uow, clock, Action.HOLDERS_CHANGED, actor=signer.name, kind=change.kind, version=version,
                 change=change.action, member=change.member, holders=len(change.holders),
                 signer=signer.signing_fingerprint, statement=Statement.parse(statement, STATEMENT_TITLE).digest())
    return row


def apply(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, statement: str, signature: bytes, hub: str) -> HolderListVersion:
    """Verify the signature over *statement* and record the new version it states (an addition,
    or a removal of a member no item is sealed to; hub.embargo.resealing.change does every change)."""
    uow.holders.lock()
    change, signer = verify(uow, gpg, statement=statement, signature=signature, hub=hub)
    return record(uow, clock, change, signer, statement=statement, signature=signature)


def sealed_to(uow: UnitOfWork, kind: str, member_name: str) -> list[int]:
    """The items of *kind* whose ciphertext the member's key opens (sealed to their name or their key)."""
    member = uow.members.by_name(member_name)
    fingerprint = member.fingerprint if member is not None else None
    return [item_id for item_id, holders in uow.embargo.sealed_holders(kind)
            if any(h["name"] == member_name or h["fingerprint"] == fingerprint for h in holders)]


def _parse(text: str) -> Change:
    statement = Statement.parse(text, STATEMENT_TITLE)
    try:
        holders = tuple((name, fpr) for name, _, fpr in (v.rpartition(" ") for v in statement.values("holder")))
        change = Change(statement.one("kind"), statement.one("action"), statement.one("member"),
                        int(statement.one("base-version")), holders, statement.one("hub"),
                        datetime.fromisoformat(statement.one("date")))
        if int(statement.one("new-version")) != change.base_version + 1:
            raise ValueError
    except (StatementError, ValueError) as exc:
        raise EmbargoError("malformed holder-list change statement") from exc
    return change


def holder_members(uow: UnitOfWork, kind: str) -> list[Member]:
    """The current holders as registered members (a removed member's key stays in the history only)."""
    _version, holders = current(uow, kind)
    found = [uow.members.by_name(h["name"]) for h in holders]
    return [m for m in found if m is not None]
