"""OCAM's members and their keys: who may be designated to hold embargoed intelligence."""

from __future__ import annotations

from crypto import Gpg
from store import Member, UnitOfWork

from hub import audit
from hub.clock import Clock
from hub.errors import PartnerError
from .partners import only_key
from .recipients import CLEARANCES

ROLES = ("director", "deputy", "expert", "analyst", "staff")
DIRECTOR = "director"


def add(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, name: str, role: str, email: str, key_data: bytes,
        clearance: str) -> Member:
    """Register a member and bind exactly the key given (it must sign and encrypt); refusals say why."""
    email = email.strip().lower()
    if role not in ROLES:
        raise PartnerError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if clearance not in CLEARANCES:
        raise PartnerError(f"unknown clearance {clearance!r}; one of: {', '.join(CLEARANCES)}")
    if role == DIRECTOR and uow.members.with_role(DIRECTOR):
        raise PartnerError(f"a director is registered already ({uow.members.with_role(DIRECTOR)[0].name})")
    info = only_key(uow, gpg, key_data)
    now = clock.now()
    if info.revoked or info.expired(now):
        raise PartnerError(f"key {info.fingerprint} is {'revoked' if info.revoked else 'expired'}")
    if email not in info.emails:
        raise PartnerError(f"no user id of key {info.fingerprint} contains {email} (it has: {', '.join(info.uids)})")
    if not info.can_encrypt:
        raise PartnerError(f"key {info.fingerprint} has no usable encryption key (embargoed items are sealed to it)")
    if role == DIRECTOR and not info.can_sign:
        raise PartnerError(f"key {info.fingerprint} cannot sign (the director signs holder lists and decisions)")
    for clash, what in ((uow.members.by_name(name), "name"), (uow.members.by_email(email), "address"),
                        (uow.members.by_fingerprint(info.fingerprint), "key")):
        if clash is not None:
            raise PartnerError(f"member {clash.name!r} already has this {what}")
    gpg.import_keys(key_data)
    member = uow.members.add(Member(name=name, role=role, email=email, fingerprint=info.fingerprint,
                                    clearance=clearance, key_expires_at=info.expires, created_at=now))
    audit.record(uow, clock, "member.added", actor="operator", member=name, role=role, clearance=clearance,
                 fingerprint=info.fingerprint)
    return member


def director(uow: UnitOfWork) -> Member:
    found = uow.members.with_role(DIRECTOR)
    if not found:
        raise PartnerError("no director is registered (passerelle member add NAME --role director ...)")
    return found[0]
