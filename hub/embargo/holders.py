"""Holder lists: the members the director designates to read embargoed intelligence of each kind
(law Art. 11 al. 2 judicial, Art. 12 al. 2 foreign). A change is applied only with the director's
signature over a canonical statement of it; every version is kept with that statement and signature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crypto import Gpg
from store import HolderListVersion, Member, UnitOfWork

from hub import audit
from hub.acts.statements import Statement, verify
from hub.clock import Clock
from hub.errors import EmbargoError, StatementError
from hub.registry.members import DIRECTOR, director

KINDS = ("judicial", "foreign")
STATEMENT_TITLE = "Passerelle holder-list change"


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


def apply(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, statement: str, signature: bytes, hub: str) -> HolderListVersion:
    """Verify the director's signature over *statement* and record the new version it states.

    Refused when the signature is not a good one by the registered director's key, when the statement is
    for another hub, or when it was made against a version that is no longer the current one."""
    boss = director(uow)
    signer = verify(gpg, statement, signature, [(boss.name, boss.fingerprint)], role="director")
    change = _parse(statement)
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
    row = uow.holders.add(HolderListVersion(
        kind=change.kind, version=version + 1, holders=[{"name": n, "fingerprint": f} for n, f in change.holders],
        change=change.action, subject=change.member, statement=statement, signature=signature.decode("ascii"),
        signer_fingerprint=signer.fingerprint, signed_by=signer.name, changed_at=clock.now(),
    ))
    audit.record(uow, clock, "holders.changed", actor=boss.name, kind=change.kind, version=version + 1,
                 change=change.action, member=change.member, holders=len(change.holders),
                 signer=signer.signing_fingerprint)
    return row


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
