"""Embargoed intelligence sealed to its holders (law Art. 11 judicial, Art. 12 foreign; AR Art. 15).

At intake the content is encrypted to the OpenPGP keys of the current holders of its kind, never to the
hub, and no copy under the storage key is ever written: nothing the hub holds can open it. A holder
opens it locally with their own key, while on the kind's current list; each opening (and each refused
attempt) is an audit event. Resealing to a changed list is hub/embargo/resealing.py."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from crypto import DecryptionFailed, Gpg, KeyUnusable
from store import EmbargoItem, Member, Message, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import EmbargoError
from hub.retention.items import erased_sentence
from .holders import current

log = logging.getLogger(__name__)


class NoHolders(Exception):
    """Nobody can be sealed to: the kind's list is empty (or every holder's key is unusable)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Seal:
    kind: str
    version: int
    holders: list[dict]
    ciphertext: bytes
    digest: str
    declared_by: str = ""  # the partner that declared it (law Art. 11: a judicial one is the prosecutor's)
    confirmed: bool = True  # False: a judicial embargo awaiting the Federal Prosecutor (declarations.py)
    again: Callable[[UnitOfWork], "Seal"] | None = field(default=None, repr=False, compare=False)  # to the list now


def seal(gpg: Gpg, uow: UnitOfWork, kind: str, content: bytes, *, now: datetime, declared_by: str = "",
         by_prosecutor: bool = False) -> Seal:
    """Encrypt *content* to the current holders of *kind* (the hub's key is not among them), declared by the
    partner *declared_by*: a judicial embargo stands confirmed only when that is the Federal Prosecutor."""
    version, holders = current(uow, kind)
    sealed = seal_to(gpg, kind, version, holders, content, now=now)
    return replace(sealed, declared_by=declared_by, confirmed=kind != "judicial" or by_prosecutor,
                   again=lambda later: seal(gpg, later, kind, content, now=now, declared_by=declared_by,
                                            by_prosecutor=by_prosecutor))


def seal_to(gpg: Gpg, kind: str, version: int, holders: list[dict], content: bytes, *, now: datetime) -> Seal:
    """Encrypt *content* to *holders* (version *version* of *kind*'s list); a holder whose key is expired or
    revoked at *now* (the hub's clock) is left out, and the record says so."""
    usable = list(holders)
    try:
        ciphertext = _encrypt(gpg, content, usable)
    except KeyUnusable:  # a holder's key expired or was revoked since: seal to the others, say so in the record
        usable = [h for h in holders if (info := gpg.key(h["fingerprint"])) and not info.revoked
                  and not info.expired(now) and info.can_encrypt]
        ciphertext = _encrypt(gpg, content, usable)
    if not usable:
        raise NoHolders(kind)
    return Seal(kind, version, usable, ciphertext, hashlib.sha256(content).hexdigest())


def _encrypt(gpg: Gpg, content: bytes, holders: list[dict]) -> bytes:
    if not holders:
        return b""
    return gpg.encrypt(content, [h["fingerprint"] for h in holders])


def record(uow: UnitOfWork, clock: Clock, *, message_id: int, reference: str, sealed: Seal) -> None:
    """Keep the sealed item beside its message (metadata only in clear), in the accepting transaction. The
    lists are held until it commits; one that changed since the content was sealed (a removal in between)
    gets it sealed again to the list in force, so no item is ever kept sealed to a removed holder."""
    uow.holders.lock()
    if sealed.again is not None and current(uow, sealed.kind)[0] != sealed.version:
        log.info("embargo: the %s holder list changed while %s was sealed; sealing it to the list in force",
                 sealed.kind, reference)
        sealed = sealed.again(uow)
    now = clock.now()
    judicial = sealed.kind == "judicial"
    uow.embargo.add(EmbargoItem(message_id=message_id, kind=sealed.kind, holder_version=sealed.version,
                                holders=sealed.holders, ciphertext=sealed.ciphertext, content_digest=sealed.digest,
                                sealed_at=now, declared_by=sealed.declared_by or None,
                                confirmed_at=now if judicial and sealed.confirmed else None,
                                confirmed_by=sealed.declared_by if judicial and sealed.confirmed else None))
    audit.record(uow, clock, Action.EMBARGO_SEALED, ref=reference, kind=sealed.kind, holder_version=sealed.version,
                 holders=[h["name"] for h in sealed.holders], declared_by=sealed.declared_by,
                 **({"confirmed": sealed.confirmed} if judicial else {}))
    if not sealed.confirmed:
        # Law Art. 11: a judicial embargo is the Federal Prosecutor's; declared by another service it stays
        # sealed (never less protection) and awaits the prosecutor's confirmation (hub/embargo/declarations.py).
        audit.record(uow, clock, Action.ALERT_EMBARGO_UNCONFIRMED, actor=sealed.declared_by, ref=reference,
                     kind=sealed.kind, declared_by=sealed.declared_by,
                     why="a judicial embargo awaits the Federal Prosecutor's confirmation (law Art. 11)")


def item_of(uow: UnitOfWork, reference: str) -> tuple[Message, EmbargoItem]:
    message = uow.messages.by_reference(reference)
    item = uow.embargo.for_message(message.id) if message is not None else None
    if message is None or item is None:
        raise EmbargoError(f"{reference}: no sealed embargo item with that reference")
    return message, item


def _who(uow: UnitOfWork, gpg: Gpg) -> str:
    names = [m.name for fpr in gpg.secret_fingerprints() if (m := uow.members.by_fingerprint(fpr))]
    return ", ".join(names) or "unknown key holder"


def open_item(uow: UnitOfWork, clock: Clock, *, reference: str, key_home: Path, binary: str | None = None,
              purpose: str = Action.EMBARGO_OPENED, evidence: dict[str, str] | None = None) -> tuple[bytes, str]:
    """Decrypt an item with a holder's own GnuPG home; the opening is recorded (and committed by the
    caller) before the plaintext is handed out, with *evidence* (the holder's signed act, hub/acts/signed.py).
    Only a holder on the kind's current list may open it (law Art. 11-12 al. 2), whatever key they hold:
    anyone else's attempt is recorded and refused."""
    message, item = item_of(uow, reference)
    if not item.ciphertext:  # deleted by its erasure: the holders' keys have nothing left to open
        raise EmbargoError(erased_sentence(uow.retention.for_message(message.id), reference))
    gpg = Gpg(key_home, binary=binary)
    mine = set(gpg.secret_fingerprints())
    version, holders = current(uow, item.kind)
    holder = next((h for h in holders if h["fingerprint"] in mine), None)
    if holder is None:
        audit.record(uow, clock, Action.EMBARGO_OPEN_REFUSED, actor=_who(uow, gpg), ref=reference, kind=item.kind,
                     holder_version=version, why="not on the current holder list")
        raise EmbargoError(f"{reference}: no key in {key_home} belongs to a holder on the current {item.kind} "
                           f"list (version {version}: {', '.join(h['name'] for h in holders)}); only they may "
                           "open it. The attempt was recorded.")
    if holder["fingerprint"] not in {h["fingerprint"] for h in item.holders}:  # designated since, or left out
        audit.record(uow, clock, Action.EMBARGO_OPEN_REFUSED, actor=holder["name"], ref=reference, kind=item.kind,
                     holder_version=item.holder_version, why="not sealed to this holder's key")
        raise EmbargoError(f"{reference} is sealed to {', '.join(holder_names(item))} ({item.kind} list version "
                           f"{item.holder_version}), not to {holder['name']}'s key: a holder it is sealed to can "
                           "reseal it to the current list (passerelle embargo reseal). The attempt was recorded.")
    try:
        plaintext = gpg.decrypt(item.ciphertext).plaintext
    except DecryptionFailed as exc:
        audit.record(uow, clock, Action.EMBARGO_OPEN_REFUSED, actor=holder["name"], ref=reference, kind=item.kind,
                     why=f"decryption failed: {exc.reason}")
        raise EmbargoError(f"{reference}: decryption with {holder['name']}'s key failed ({exc.reason})") from exc
    if hashlib.sha256(plaintext).hexdigest() != item.content_digest:
        raise EmbargoError(f"{reference}: the opened content does not match its recorded digest")
    audit.record(uow, clock, purpose, actor=holder["name"], ref=reference, kind=item.kind,
                 holder_version=item.holder_version, **(evidence or {}))
    return plaintext, holder["name"]


def holder_names(item: EmbargoItem) -> list[str]:
    return [h["name"] for h in item.holders]


def members_of(uow: UnitOfWork, item: EmbargoItem) -> list[Member]:
    return [m for h in item.holders if (m := uow.members.by_name(h["name"]))]
