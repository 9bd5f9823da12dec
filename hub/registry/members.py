"""OCAM's members (law Art. 7 §1: the director, the deputy director, experts, analysts, administrative staff) and
their keys: the director registered when the hub is made, every other member under a signed act."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from crypto import Gpg, KeyInfo
from store import Member, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import PartnerError
from .partners import key_digest, only_key
from .clearances import TOP_SECRET, short_of_members

if TYPE_CHECKING:
    from hub.acts.signed import MemberHome

DIRECTOR, DEPUTY, EXPERT, ANALYST, STAFF = "director", "deputy", "expert", "analyst", "staff"
ROLES = (DIRECTOR, DEPUTY, EXPERT, ANALYST, STAFF)
ADD = "member.add"
DESIGNATE_DEPUTY = "member.designate-deputy"  # only the director designates the deputy


def _checked(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, name: str, role: str, email: str, key_data: bytes,
             clearance: str) -> KeyInfo:
    """The member's one key, once every rule of a registration holds; refusals say why."""
    if not name or len(name) > 64 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise PartnerError("a member's name is one line of printable text, 1 to 64 characters (it names them in "
                           "every act they sign)")
    if role not in ROLES:
        raise PartnerError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if (short := short_of_members(role, clearance)) is not None:
        raise PartnerError(short)
    if role in (DIRECTOR, DEPUTY) and (holder := uow.members.with_role(role)):
        raise PartnerError(f"a {role} is registered already ({holder[0].name}); OCAM has one (law Art. 7 §1)")
    info = only_key(uow, gpg, key_data)
    usable(info, email, clock.now())
    for clash, what in ((uow.members.by_name(name), "name"), (uow.members.by_email(email), "address"),
                        (uow.members.by_fingerprint(info.fingerprint), "key")):
        if clash is not None:
            raise PartnerError(f"member {clash.name!r} already has this {what}")
    return info


def usable(info: KeyInfo, email: str, now: datetime) -> None:
    """Refuse a member's key that cannot serve: revoked or expired, not carrying the address, unable to encrypt
    (embargoed items are sealed to it) or to sign (every act of the member is signed with it)."""
    if info.revoked or info.expired(now):
        raise PartnerError(f"key {info.fingerprint} is {'revoked' if info.revoked else 'expired'}")
    if email not in info.emails:
        raise PartnerError(f"no user id of key {info.fingerprint} contains {email} (it has: {', '.join(info.uids)})")
    if not info.can_encrypt:
        raise PartnerError(f"key {info.fingerprint} has no usable encryption key (embargoed items are sealed to it)")
    if not info.can_sign:
        raise PartnerError(f"key {info.fingerprint} cannot sign (every act of a member is signed with it)")


def check_director(gpg: Gpg, now: datetime, *, email: str, key_data: bytes) -> None:
    """The director's key as init is given it, checked before init writes anything (a refusal leaves no half-made
    home); registered by register_director once the store exists."""
    keys = gpg.inspect(key_data)
    if len(keys) != 1:
        raise PartnerError(f"the director's key file holds {len(keys) or 'no'} OpenPGP public keys; give exactly one")
    usable(keys[0], email.strip().lower(), now)


def _insert(uow: UnitOfWork, gpg: Gpg, clock: Clock, info: KeyInfo, *, name: str, role: str, email: str,
            key_data: bytes, clearance: str) -> Member:
    gpg.import_keys(key_data)
    return uow.members.add(Member(name=name, role=role, email=email, fingerprint=info.fingerprint,
                                  clearance=clearance, key_expires_at=info.expires, created_at=clock.now()))


def register_director(uow: UnitOfWork, gpg: Gpg, clock: Clock, *, name: str, email: str, key_data: bytes,
                      actor: str) -> Member:
    """The first member, when the hub is made (`passerelle init --director`): the director, cleared TOP-SECRET
    (law Art. 7 §3 4°). Every later member, partner and recipient is registered under a member's signature."""
    email = email.strip().lower()
    if uow.members.all():
        raise PartnerError("members are registered already: the director is registered when the hub is made")
    info = _checked(uow, gpg, clock, name=name, role=DIRECTOR, email=email, key_data=key_data, clearance=TOP_SECRET)
    member = _insert(uow, gpg, clock, info, name=name, role=DIRECTOR, email=email, key_data=key_data,
                     clearance=TOP_SECRET)
    audit.record(uow, clock, Action.MEMBER_ADDED, actor=actor, member=name, role=DIRECTOR, clearance=TOP_SECRET,
                 fingerprint=info.fingerprint, basis="the first member, registered when the hub was made (law Art. 7)")
    return member


def add(uow: UnitOfWork, gpg: Gpg, clock: Clock, by: MemberHome, *, name: str, role: str, email: str,
        key_data: bytes, clearance: str) -> Member:
    """Register a member and bind exactly the key given (it must sign and encrypt), as the act of the member whose
    home *by* is (the director or the deputy; a deputy only by the director). Refusals say why."""
    email = email.strip().lower()
    if role == DIRECTOR:
        raise PartnerError("the director is registered when the hub is made (passerelle init --director); "
                           "OCAM has one (law Art. 7 §1)")
    info = _checked(uow, gpg, clock, name=name, role=role, email=email, key_data=key_data, clearance=clearance)
    act = by.sign(uow, clock, DESIGNATE_DEPUTY if role == DEPUTY else ADD, name=name, role=role, email=email,
                  clearance=clearance, fingerprint=info.fingerprint, key_sha256=key_digest(key_data))
    member = _insert(uow, gpg, clock, info, name=name, role=role, email=email, key_data=key_data, clearance=clearance)
    audit.record(uow, clock, Action.MEMBER_ADDED, actor=act.member.name, member=name, role=role, clearance=clearance,
                 fingerprint=info.fingerprint, **act.evidence())
    return member


def director(uow: UnitOfWork) -> Member:
    found = uow.members.with_role(DIRECTOR)
    if not found:
        raise PartnerError("no director is registered (passerelle init --director NAME ...)")
    return found[0]


def directors(uow: UnitOfWork) -> list[Member]:
    """The director and, once designated, the deputy: who direct OCAM (law Art. 7 §1)."""
    return [*uow.members.with_role(DIRECTOR), *uow.members.with_role(DEPUTY)]
