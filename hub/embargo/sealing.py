"""Embargoed intelligence sealed to its holders (law Art. 11 judicial, Art. 12 foreign; AR Art. 15).

At intake the content is encrypted to the OpenPGP keys of the current holders of its kind, never to the
hub, and no copy under the storage key is ever written: nothing the hub holds can open it. A holder
opens it locally with their own key; each opening (and each refused attempt) is an audit event."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crypto import DecryptionFailed, Gpg, KeyUnusable
from store import EmbargoItem, Member, Message, UnitOfWork

from hub import audit
from hub.clock import Clock
from hub.errors import EmbargoError
from hub.retention.items import erased_sentence
from .holders import current


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


def seal(gpg: Gpg, uow: UnitOfWork, kind: str, content: bytes, *, now: datetime) -> Seal:
    """Encrypt *content* to the current holders of *kind* (the hub's key is not among them); a holder whose key
    is expired or revoked at *now* (the hub's clock) is left out, and the record says so."""
    version, holders = current(uow, kind)
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
    """Keep the sealed item beside its message (metadata only in clear), in the accepting transaction."""
    uow.embargo.add(EmbargoItem(message_id=message_id, kind=sealed.kind, holder_version=sealed.version,
                                holders=sealed.holders, ciphertext=sealed.ciphertext, content_digest=sealed.digest,
                                sealed_at=clock.now()))
    audit.record(uow, clock, "embargo.sealed", ref=reference, kind=sealed.kind, holder_version=sealed.version,
                 holders=[h["name"] for h in sealed.holders])


def item_of(uow: UnitOfWork, reference: str) -> tuple[Message, EmbargoItem]:
    message = uow.messages.by_reference(reference)
    item = uow.embargo.for_message(message.id) if message is not None else None
    if message is None or item is None:
        raise EmbargoError(f"{reference}: no sealed embargo item with that reference")
    return message, item


def _holder_in(key_home: Path, item: EmbargoItem, binary: str) -> tuple[Gpg, dict | None]:
    gpg = Gpg(key_home, binary=binary)
    mine = set(gpg.secret_fingerprints())
    return gpg, next((h for h in item.holders if h["fingerprint"] in mine), None)


def _who(uow: UnitOfWork, gpg: Gpg) -> str:
    names = [m.name for fpr in gpg.secret_fingerprints() if (m := uow.members.by_fingerprint(fpr))]
    return ", ".join(names) or "unknown key holder"


def open_item(uow: UnitOfWork, clock: Clock, *, reference: str, key_home: Path, binary: str = "gpg",
              purpose: str = "embargo.opened") -> tuple[bytes, str]:
    """Decrypt an item with a holder's own GnuPG home; the opening is recorded (and committed by the
    caller) before the plaintext is handed out. A non-holder's attempt is recorded and refused."""
    message, item = item_of(uow, reference)
    if not item.ciphertext:  # deleted by its erasure: the holders' keys have nothing left to open
        raise EmbargoError(erased_sentence(uow.retention.for_message(message.id), reference))
    gpg, holder = _holder_in(key_home, item, binary)
    if holder is None:
        who = _who(uow, gpg)
        audit.record(uow, clock, "embargo.open_refused", actor=who, ref=reference, kind=item.kind,
                     holder_version=item.holder_version, why="not a holder of this item")
        raise EmbargoError(f"{reference} is sealed to the {len(item.holders)} holder(s) of {item.kind} list version "
                           f"{item.holder_version}; no key in {key_home} is one of them. The attempt was recorded.")
    try:
        plaintext = gpg.decrypt(item.ciphertext).plaintext
    except DecryptionFailed as exc:
        audit.record(uow, clock, "embargo.open_refused", actor=holder["name"], ref=reference, kind=item.kind,
                     why=f"decryption failed: {exc.reason}")
        raise EmbargoError(f"{reference}: decryption with {holder['name']}'s key failed ({exc.reason})") from exc
    if hashlib.sha256(plaintext).hexdigest() != item.content_digest:
        raise EmbargoError(f"{reference}: the opened content does not match its recorded digest")
    audit.record(uow, clock, purpose, actor=holder["name"], ref=reference, kind=item.kind,
                 holder_version=item.holder_version)
    return plaintext, holder["name"]


def reseal(uow: UnitOfWork, hub_gpg: Gpg, clock: Clock, *, reference: str, key_home: Path,
           binary: str = "gpg") -> tuple[int, int]:
    """A current holder re-seals an item to the current list (new holders cannot see old items otherwise)."""
    _message, item = item_of(uow, reference)
    version, holders = current(uow, item.kind)
    if version == item.holder_version:
        raise EmbargoError(f"{reference} is already sealed to the current {item.kind} list (version {version})")
    plaintext, who = open_item(uow, clock, reference=reference, key_home=key_home, binary=binary,
                               purpose="embargo.opened_for_reseal")
    if who not in {h["name"] for h in holders}:
        raise EmbargoError(f"{who} is no longer a holder of the {item.kind} list; only a current holder may reseal")
    sealed = seal(hub_gpg, uow, item.kind, plaintext, now=clock.now())
    previous = item.holder_version
    item.ciphertext, item.holders, item.holder_version = sealed.ciphertext, sealed.holders, sealed.version
    item.resealed_at, item.resealed_by = clock.now(), who
    audit.record(uow, clock, "embargo.resealed", actor=who, ref=reference, kind=item.kind, from_version=previous,
                 to_version=sealed.version, holders=[h["name"] for h in sealed.holders])
    return previous, sealed.version


def holder_names(item: EmbargoItem) -> list[str]:
    return [h["name"] for h in item.holders]


def members_of(uow: UnitOfWork, item: EmbargoItem) -> list[Member]:
    return [m for h in item.holders if (m := uow.members.by_name(h["name"]))]
