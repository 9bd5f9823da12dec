"""A member's act, signed: the member is the one whose secret key is in their own GnuPG home (an agent with a
smartcard behind it works the same); a canonical statement of the act is signed there and verified here against
the registered key before the hub acts (law Art. 9 §3 7°: by which person)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crypto import Gpg, GpgUnavailable
from store import Member, UnitOfWork

from hub.clock import Clock
from hub.errors import StatementError

from .competence import refuse
from .statements import Statement, sign_with_home, verify

TITLE = "Passerelle act"
UNKNOWN = "unknown key holder"


@dataclass(frozen=True)
class SignedAct:
    member: Member
    statement: str
    signature: str  # armoured, detached, over the statement's UTF-8 bytes

    def evidence(self) -> dict[str, str]:
        """What the audit event keeps, so that the act can be proven later and not only asserted."""
        return {"statement": self.statement, "signature": self.signature}


def statement(*, hub: str, act: str, member: Member, at: datetime, **subject: str) -> str:
    """The canonical text of an act (hub/acts/statements.py): every line is part of what is signed."""
    return Statement.of(TITLE, ("hub", hub), ("act", act), ("member", f"{member.name} {member.fingerprint}"),
                        ("date", at.isoformat()), *sorted(subject.items())).text()


def sign_act(uow: UnitOfWork, hub_gpg: Gpg, clock: Clock, *, signer_home: Path, act: str, hub: str,
             binary: str | None = None, ref: str | None = None, **subject: str) -> SignedAct:
    """The act signed by the registered member whose key is in *signer_home*, verified with the hub's keyring.

    Refused (recorded, AccessRefused) when the home holds no registered member's key, or several, or when the
    signature made there is not a good one by that member's registered key."""
    try:
        fingerprints = Gpg(signer_home, binary=binary).secret_fingerprints()
    except GpgUnavailable as exc:
        raise refuse(uow, clock, actor=UNKNOWN, act=act, ref=ref,
                     why=f"{signer_home} cannot be read by gpg ({exc})") from exc
    members = [m for fpr in fingerprints if (m := uow.members.by_fingerprint(fpr)) is not None]
    if not members:
        raise refuse(uow, clock, actor=UNKNOWN, act=act, ref=ref,
                     why=f"--signer-home {signer_home} holds no registered member's secret key "
                         f"(it holds {', '.join(fingerprints) or 'none'})")
    if len(members) > 1:
        raise refuse(uow, clock, actor=", ".join(m.name for m in members), act=act, ref=ref,
                     why=f"--signer-home {signer_home} holds the keys of several members; use a home with yours alone")
    member = members[0]
    text = statement(hub=hub, act=act, member=member, at=clock.now(), **({"reference": ref} if ref else {}), **subject)
    try:
        signature = sign_with_home(signer_home, member.fingerprint, text, binary=binary)
        verify(hub_gpg, text, signature, [(member.name, member.fingerprint)], role="member")
    except StatementError as exc:
        raise refuse(uow, clock, actor=member.name, act=act, ref=ref, why=str(exc)) from exc
    return SignedAct(member, text, signature.decode("ascii"))
