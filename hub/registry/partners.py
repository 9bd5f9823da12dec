"""Registering support services' contact points and binding exactly one OpenPGP key to each."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from crypto import Gpg, KeyInfo
from store import Partner, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import PartnerError
from .clearances import SECRET, known

if TYPE_CHECKING:
    from hub.acts.signed import MemberHome

# Support services of law Art. 2, 2°, and the Federal Prosecutor (law Art. 11).
PARTNER_KINDS = (
    "intelligence", "police", "customs", "mobility", "immigration", "foreign-affairs", "crisis-centre",
    "prisons", "worship", "treasury", "designated", "federal-prosecutor", "government",
)
# The services whose head communicates foreign embargoed information and decides jointly with the director (law
# Art. 12 al. 1, 3): the intelligence and security services, Customs and Excise, Foreign Affairs; a foreign
# embargo comes from them only.
HEADED = ("intelligence", "customs", "foreign-affairs")
# A member of the government asking OCAM for an evaluation (AR Art. 7): one month unless the request says.
GOVERNMENT = "government"
# How a partner's receipts travel (AR Art. 11 §7): encrypted to its key (the default), or signed only, for a
# partner whose system must read them unencrypted.
ENCRYPTED, SIGNED = "encrypted", "signed"
RECEIPTS = (ENCRYPTED, SIGNED)


def key_digest(key_data: bytes) -> str:
    """The SHA-256 of a key file as given: what a registration's signed statement binds, beside its fingerprint."""
    return hashlib.sha256(key_data).hexdigest()


def _normal_fingerprint(value: str) -> str:
    return re.sub(r"\s+", "", value).upper().removeprefix("0X")


def only_key(uow: UnitOfWork, gpg: Gpg, key_data: bytes) -> KeyInfo:
    """The one key of key_data, for a partner, a member or a recipient: none of its primary key and subkeys
    may be held by another key of the hub's keyring. A (sub)key belongs to one registered key only, or a
    subkey bound under a second primary (without its owner's back-signature) would move its owner's
    signatures to the thief's registration."""
    keys = gpg.inspect(key_data)
    if not keys:
        raise PartnerError("the key file holds no OpenPGP public key")
    if len(keys) > 1:
        raise PartnerError(f"the key file holds {len(keys)} keys; give exactly one")
    info = keys[0]
    mine = {info.fingerprint, *info.subkeys}
    for other in gpg.holding(sorted(mine)):
        shared = sorted(mine & {other.fingerprint, *other.subkeys})
        if other.fingerprint != info.fingerprint and shared:
            what = "primary key" if shared[0] == info.fingerprint else "subkey"
            raise PartnerError(f"{what} {shared[0]} of this key already belongs to {_holder(uow, gpg, other)}: "
                               "a (sub)key may belong to one registered key only")
    if (headed := uow.partners.by_head_fingerprint(info.fingerprint)) is not None:
        raise PartnerError(f"key {info.fingerprint} is registered to the head of service of partner {headed.name!r}: "
                           "a key belongs to one registered holder, and the head signs as the head (law Art. 12 al. 3)")
    return info


def registered_to(uow: UnitOfWork, fingerprint: str) -> str | None:
    """Whom the hub registered a primary key to, in words: a partner, its head of service, a member, a recipient."""
    if (headed := uow.partners.by_head_fingerprint(fingerprint)) is not None:
        return f"the head of service of partner {headed.name!r} (key {fingerprint})"
    for registry, what in ((uow.partners, "partner"), (uow.members, "member"), (uow.recipients, "recipient")):
        found = registry.by_fingerprint(fingerprint)
        if found is not None:
            return f"{what} {found.name!r} (key {fingerprint})"
    return None


def _holder(uow: UnitOfWork, gpg: Gpg, key: KeyInfo) -> str:
    """Who the hub knows a key of its keyring as, in words."""
    if (holder := registered_to(uow, key.fingerprint)) is not None:
        return holder
    if gpg.has_secret(key.fingerprint):
        return f"the hub's own key {key.fingerprint}"
    return f"key {key.fingerprint} of the hub's keyring, registered to nobody"


def add(uow: UnitOfWork, gpg: Gpg, clock: Clock, by: MemberHome, *, name: str, kind: str, email: str,
        key_data: bytes, fingerprint: str | None = None, receipts: str = ENCRYPTED,
        relay_is_own_server: bool = False, clearance: str = SECRET) -> Partner:
    """Register *name* with its contact address, its contact point's security clearance (what classified
    evaluations it may receive, AR Art. 11 §8) and the one key in *key_data*, as the signed act of the member whose
    home *by* is; its receipts travel encrypted to that key unless *receipts* is "signed" (AR Art. 11 §7)."""
    email = email.strip().lower()
    if kind not in PARTNER_KINDS:
        raise PartnerError(f"unknown kind {kind!r}; one of: {', '.join(PARTNER_KINDS)}")
    if receipts not in RECEIPTS:
        raise PartnerError(f"receipts travel {' or '.join(RECEIPTS)}, not {receipts!r}")
    known(clearance)
    info = only_key(uow, gpg, key_data)
    if fingerprint and _normal_fingerprint(fingerprint) != info.fingerprint:
        raise PartnerError(f"fingerprint mismatch: the key is {info.fingerprint}, not {_normal_fingerprint(fingerprint)}")
    now = clock.now()
    if info.revoked:
        raise PartnerError(f"key {info.fingerprint} is revoked")
    if info.expired(now):
        raise PartnerError(f"key {info.fingerprint} expired on {info.expires:%Y-%m-%d}")
    if email not in info.emails:
        raise PartnerError(f"no user id of key {info.fingerprint} contains {email} (it has: {', '.join(info.uids)})")
    if not info.can_sign:
        raise PartnerError(f"key {info.fingerprint} has no usable signing key")
    for clash, what in ((uow.partners.by_name(name), "name"), (uow.partners.by_email(email), "address"),
                        (uow.partners.by_fingerprint(info.fingerprint), "key")):
        if clash is not None:
            raise PartnerError(f"partner {clash.name!r} already has this {what}")
    act = by.sign(uow, clock, "partner.add", partner=name, kind=kind, email=email, fingerprint=info.fingerprint,
                  key_sha256=key_digest(key_data), receipts=receipts, relay=_own(relay_is_own_server),
                  clearance=clearance)
    gpg.import_keys(key_data)
    partner = uow.partners.add(Partner(
        name=name, kind=kind, email=email, fingerprint=info.fingerprint, key_created_at=info.created,
        key_expires_at=info.expires, key_revoked=False, created_at=now, updated_at=now, receipts=receipts,
        relay_is_own_server=relay_is_own_server, clearance=clearance,
    ))
    audit.record(uow, clock, Action.PARTNER_ADDED, actor=act.member.name, partner=name, kind=kind, email=email,
                 fingerprint=info.fingerprint, receipts=receipts, relay_is_own_server=relay_is_own_server,
                 clearance=clearance, **act.evidence())
    return partner


def _own(relay_is_own_server: bool | None) -> str | None:
    """How a signed statement names whether the relay is the partner's own server."""
    return None if relay_is_own_server is None else ("partner's own server" if relay_is_own_server else "not the partner's")


def set_properties(uow: UnitOfWork, gpg: Gpg, clock: Clock, by: MemberHome, *, name: str,
                   receipts: str | None = None, relay_is_own_server: bool | None = None, clearance: str | None = None,
                   head: tuple[str, bytes] | None = None) -> Partner:
    """Change how *name*'s receipts travel (AR Art. 11 §7), whether the relay is its own mail server, whose 250
    then acknowledges OCAM's requests (AR Art. 11 §2), its contact point's clearance (AR Art. 11 §8), and the head
    of the service, *head* (address, key file), its own signer of joint decisions (law Art. 12 al. 3), as the
    signed act of the member whose home *by* is; recorded."""
    partner = uow.partners.by_name(name)
    if partner is None:
        raise PartnerError(f"no partner named {name!r}")
    head_info = _head_key(uow, gpg, clock, partner, *head) if head is not None else None
    if receipts is not None and receipts not in RECEIPTS:
        raise PartnerError(f"receipts travel {' or '.join(RECEIPTS)}, not {receipts!r}")
    if clearance is not None:
        known(clearance)
    changed = {}
    if clearance is not None and clearance != partner.clearance:
        changed["clearance"] = clearance
    if receipts is not None and receipts != partner.receipts:
        changed["receipts"] = receipts
    if relay_is_own_server is not None and relay_is_own_server != partner.relay_is_own_server:
        changed["relay_is_own_server"] = relay_is_own_server
    if head_info is not None:
        changed["head_email"], changed["head_fingerprint"] = head[0].strip().lower(), head_info.fingerprint
    if changed:
        act = by.sign(uow, clock, "partner.set", partner=name, receipts=changed.get("receipts"),
                      relay=_own(changed.get("relay_is_own_server")), clearance=changed.get("clearance"),
                      head_email=changed.get("head_email"), head_fingerprint=changed.get("head_fingerprint"),
                      head_key_sha256=key_digest(head[1]) if head is not None else None)
        if head is not None:
            gpg.import_keys(head[1])
        for field, value in changed.items():
            setattr(partner, field, value)
        partner.updated_at = clock.now()
        audit.record(uow, clock, Action.PARTNER_CHANGED, actor=act.member.name, partner=name, **changed,
                     **act.evidence())
    return partner


def _head_key(uow: UnitOfWork, gpg: Gpg, clock: Clock, partner: Partner, email: str, key_data: bytes) -> KeyInfo:
    """The one key of the head of *partner*'s service, once every rule holds: a service of law Art. 12, a key
    that signs (the joint decisions), carries the address, and is registered to nobody else — not even to the
    service's contact point: the head signs as the head (law Art. 12 al. 3)."""
    if partner.kind not in HEADED:
        raise PartnerError(f"{partner.name} is a {partner.kind} service: the head of service who decides jointly is "
                           f"that of the services law Art. 12 al. 1 names ({', '.join(HEADED)})")
    email = email.strip().lower()
    info = only_key(uow, gpg, key_data)
    if (holder := registered_to(uow, info.fingerprint)) is not None:
        raise PartnerError(f"key {info.fingerprint} is registered to {holder}: a key belongs to one registered "
                           "holder, and the head of service signs with a key of their own (law Art. 12 al. 3)")
    if info.revoked or info.expired(clock.now()):
        raise PartnerError(f"key {info.fingerprint} is {'revoked' if info.revoked else 'expired'}")
    if email not in info.emails:
        raise PartnerError(f"no user id of key {info.fingerprint} contains {email} (it has: {', '.join(info.uids)})")
    if not info.can_sign:
        raise PartnerError(f"key {info.fingerprint} has no usable signing key (the head signs joint decisions)")
    return info


def update_key(uow: UnitOfWork, gpg: Gpg, clock: Clock, by: MemberHome, *, name: str, key_data: bytes) -> Partner:
    """Import a newer copy of the bound key (expiry, subkeys, revocation), as the signed act of the member whose
    home *by* is; refuse any other primary key."""
    partner = uow.partners.by_name(name)
    if partner is None:
        raise PartnerError(f"no partner named {name!r}")
    info = only_key(uow, gpg, key_data)
    if info.fingerprint != partner.fingerprint:
        raise PartnerError(f"this is key {info.fingerprint}, but {name} is bound to {partner.fingerprint}; "
                           "a different key needs a new registration")
    act = by.sign(uow, clock, "partner.update-key", partner=name, fingerprint=partner.fingerprint,
                  key_sha256=key_digest(key_data))
    gpg.import_keys(key_data)
    merged = gpg.key(partner.fingerprint) or info
    partner.key_expires_at = merged.expires
    partner.key_revoked = merged.revoked
    partner.updated_at = clock.now()
    audit.record(uow, clock, Action.PARTNER_KEY_UPDATED, actor=act.member.name, partner=name,
                 fingerprint=partner.fingerprint, expires=merged.expires.isoformat() if merged.expires else None,
                 revoked=merged.revoked, **act.evidence())
    return partner
