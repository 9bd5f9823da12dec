"""Registering recipients of evaluations (law Art. 10) with their key and security clearance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypto import Gpg
from store import Recipient, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import PartnerError
from .clearances import known
from .partners import PARTNER_KINDS, key_digest, only_key

if TYPE_CHECKING:
    from hub.acts.signed import MemberHome

# Law Art. 10: National Security Council members (§1 a), the Crisis Centre (d), the Federal Prosecutor and
# the College's member for terrorism (e), ministers (c, §2, §3), the security authority of Art. 15 of the
# law of 11 December 1998 (§2, §3), and other public authorities with a need to know (f).
RECIPIENT_TYPES = ("nsc-member", "crisis-centre", "federal-prosecutor", "college-pg-terrorism", "minister",
                   "security-authority", "public-authority", "ocam-duty")
# OCAM's own duty desk: reminders of the answers OCAM owes (AR Art. 11 §3) go to it; no policy group names it.
OCAM_DUTY = "ocam-duty"
# Who may receive an evaluation, by the policy or added by the director (law Art. 10): every type but OCAM's own desk.
RECEIVE_EVALUATIONS = tuple(t for t in RECIPIENT_TYPES if t != OCAM_DUTY)


def add(uow: UnitOfWork, gpg: Gpg, clock: Clock, by: MemberHome, *, name: str, type: str, email: str,
        key_data: bytes, clearance: str, oversees: list[str] | None = None, basis: str | None = None) -> Recipient:
    """Register a recipient and bind exactly the key given, as the signed act of the member whose home *by* is;
    refusals say why."""
    email = email.strip().lower()
    if type not in RECIPIENT_TYPES:
        raise PartnerError(f"unknown recipient type {type!r}; one of: {', '.join(RECIPIENT_TYPES)}")
    known(clearance)
    unknown = [kind for kind in oversees or [] if kind not in PARTNER_KINDS]
    if unknown:
        raise PartnerError(f"a minister oversees support services: unknown kind(s) {', '.join(unknown)}")
    if type == "public-authority" and not (basis or "").strip():
        raise PartnerError("a public authority needs its stated need to know (--basis), law Art. 10 §1 f)")
    info = only_key(uow, gpg, key_data)
    now = clock.now()
    if info.revoked or info.expired(now):
        raise PartnerError(f"key {info.fingerprint} is {'revoked' if info.revoked else 'expired'}")
    if email not in info.emails:
        raise PartnerError(f"no user id of key {info.fingerprint} contains {email}")
    if not info.can_encrypt:
        raise PartnerError(f"key {info.fingerprint} has no usable encryption key")
    if uow.recipients.by_name(name) or uow.recipients.by_email(email):
        raise PartnerError("a recipient with this name or address exists already")
    act = by.sign(uow, clock, "recipient.add", recipient=name, type=type, email=email, clearance=clearance,
                  fingerprint=info.fingerprint, key_sha256=key_digest(key_data), oversees=sorted(oversees or []),
                  basis=basis or "")
    gpg.import_keys(key_data)
    recipient = uow.recipients.add(Recipient(name=name, type=type, email=email, fingerprint=info.fingerprint,
                                             key_expires_at=info.expires, clearance=clearance, oversees=list(oversees or []), basis=basis,
                                             created_at=now))
    audit.record(uow, clock, Action.RECIPIENT_ADDED, actor=act.member.name, recipient=name, type=type,
                 clearance=clearance, fingerprint=info.fingerprint, **act.evidence())
    return recipient
