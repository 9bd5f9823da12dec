"""A member's act, signed (law Art. 9 §3 7°: by which person). The member is the one whose secret key is in their
own GnuPG home (an agent with a smartcard behind it works the same): a canonical statement of the act — what it
does, with its parameters, and when — is signed there by gpg, and `accept`, the one door of every such act,
verifies it against the registered member, refuses it if it is not fresh or was executed before, and has the
competence rule decide (hub/acts/competence.py) before the hub acts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from crypto import Gpg, GpgUnavailable
from store import Member, UnitOfWork

from hub.clock import Clock, brussels
from hub.errors import StatementError
from hub.settings import Settings

from .competence import authorise, refuse
from .statements import Statement, sign_with_home, verify

TITLE = "Passerelle act"
UNKNOWN = "unknown key holder"
OPTION = "--signer-home"
Value = str | int | Sequence[str] | None


@dataclass(frozen=True)
class SignedAct:
    member: Member
    act: str
    statement: str
    signature: str  # armoured, detached, over the statement's UTF-8 bytes

    def evidence(self) -> dict[str, str]:
        """What the audit event keeps, so that the act can be proven later and not only asserted."""
        return {"statement": self.statement, "signature": self.signature}


def _lines(subject: dict[str, Value]) -> list[tuple[str, str]]:
    """The act's parameters as statement lines, sorted by name (``key_sha256`` is ``key-sha256``); a list gives
    one line per value, in its order; an absent value (None, empty) gives none."""
    lines = []
    for key in sorted(subject):
        value = subject[key]
        values = [] if value is None else [str(value)] if isinstance(value, (str, int)) else [str(v) for v in value]
        lines += [(key.replace("_", "-"), v) for v in values if v != ""]
    return lines


def statement(*, hub: str, act: str, member: Member, at: datetime, **subject: Value) -> str:
    """The canonical text of an act (hub/acts/statements.py): every line is part of what is signed."""
    return Statement.of(TITLE, ("hub", hub), ("act", act), ("member", f"{member.name} {member.fingerprint}"),
                        ("date", at.isoformat()), *_lines(subject)).text()


@dataclass(frozen=True)
class MemberHome:
    """A member's own GnuPG home, through which their acts are signed: gpg runs there, so that no secret key enters
    the hub's process beyond what gpg-agent holds; the hub's keyring verifies what it signed."""

    path: Path
    hub_gpg: Gpg
    hub: str
    binary: str | None = None
    max_age_seconds: float = 300.0

    @classmethod
    def of(cls, path: Path, settings: Settings, hub_gpg: Gpg) -> "MemberHome":
        return cls(Path(path), hub_gpg, settings.hub.address, settings.crypto.gpg_binary,
                   settings.hub.act_max_age_seconds)

    def member(self, uow: UnitOfWork, *, act: str, ref: str | None = None) -> Member:
        """The registered member whose secret key the home holds; refused when none is, or several."""
        try:
            fingerprints = Gpg(self.path, binary=self.binary).secret_fingerprints()
        except GpgUnavailable as exc:
            raise refuse(actor=UNKNOWN, act=act, ref=ref, why=f"{self.path} cannot be read by gpg ({exc})") from exc
        members = [m for fpr in fingerprints if (m := uow.members.by_fingerprint(fpr)) is not None]
        if not members:
            raise refuse(actor=UNKNOWN, act=act, ref=ref,
                         why=f"{OPTION} {self.path} holds no registered member's secret key "
                             f"(it holds {', '.join(fingerprints) or 'none'})")
        if len(members) > 1:
            raise refuse(actor=", ".join(m.name for m in members), act=act, ref=ref,
                         why=f"{OPTION} {self.path} holds the keys of several members; use a home with yours alone")
        return members[0]

    def sign(self, uow: UnitOfWork, clock: Clock, act: str, *, ref: str | None = None, **subject: Value) -> SignedAct:
        """*act* with its parameters, signed in this home by its member, then accepted by the hub (`accept`)."""
        member = self.member(uow, act=act, ref=ref)
        text = statement(hub=self.hub, act=act, member=member, at=clock.now(), reference=ref, **subject)
        try:
            signature = sign_with_home(self.path, member.fingerprint, text, binary=self.binary)
        except StatementError as exc:
            raise refuse(actor=member.name, act=act, ref=ref, why=str(exc)) from exc
        return accept(uow, self.hub_gpg, clock, text=text, signature=signature, act=act, hub=self.hub,
                      max_age_seconds=self.max_age_seconds, ref=ref, **subject)


def accept(uow: UnitOfWork, hub_gpg: Gpg, clock: Clock, *, text: str, signature: bytes, act: str, hub: str,
           max_age_seconds: float, ref: str | None = None, **subject: Value) -> SignedAct:
    """The signed statement *text* of *act* with these parameters, once: it is a good signature by the registered
    member it names, it states exactly this act, it was made less than *max_age_seconds* ago, it was never executed
    before, and the member's role may do the act. Refused otherwise (AccessRefused, with the reason); the digest of
    an accepted statement is kept in *uow*, with the act."""
    try:
        parsed = Statement.parse(text, TITLE)
        name, _, fingerprint = parsed.one("member").rpartition(" ")
        at = datetime.fromisoformat(parsed.one("date"))
    except (StatementError, ValueError) as exc:
        raise refuse(actor=UNKNOWN, act=act, ref=ref, why=f"not the statement of an act ({exc})") from exc
    member = uow.members.by_fingerprint(fingerprint)
    if member is None or member.name != name:
        raise refuse(actor=UNKNOWN, act=act, ref=ref,
                     why=f"the statement names {name} with key {fingerprint}, who is no registered member")
    try:
        verify(hub_gpg, text, signature, [(member.name, member.fingerprint)], role="member")
    except StatementError as exc:
        raise refuse(actor=member.name, act=act, ref=ref, why=str(exc)) from exc
    expected = statement(hub=hub, act=act, member=member, at=at, reference=ref, **subject)
    if text != expected:
        stated = sorted(set(text.splitlines()) - set(expected.splitlines()))
        raise refuse(actor=member.name, act=act, ref=ref,
                     why=f"the statement does not state this act (it says {'; '.join(stated)[:200]!r})")
    age = (clock.now() - at).total_seconds()
    if abs(age) > max_age_seconds:
        when = "before the hub acted on it" if age > 0 else "ahead of the hub's clock"
        raise refuse(actor=member.name, act=act, ref=ref,
                     why=f"the statement is dated {brussels(at)}, more than {max_age_seconds:g} s {when} "
                         "(hub.act_max_age_seconds): sign the act again")
    digest = parsed.digest()
    done = uow.acts.executed(digest)
    if done is not None:
        raise refuse(actor=member.name, act=act, ref=ref,
                     why=f"this statement was executed already, on {brussels(done.at)}: a signed act counts once")
    authorise(member, act, ref=ref)
    uow.acts.add(digest=digest, act=act, member=member.name, at=clock.now())
    return SignedAct(member, act, text, signature.decode("ascii"))
