"""Resealing embargoed items to the current holders of their kind (law Art. 11-12 al. 2): one item at a
holder's request, and every item a removed member's key opens in the same transaction as the removal.

The hub holds no key that opens an item, so a reseal decrypts with a remaining holder's own GnuPG home
(the director's, who signs the removal and is always a holder, or one given with --reseal-home) and
re-encrypts with the hub's keyring to the new list's public keys; the old ciphertext is overwritten in
place, and nothing else of it is kept."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crypto import DecryptionFailed, Gpg
from store import Database, EmbargoItem, HolderListVersion, UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import EmbargoError
from . import holders as lists
from .holders import Change, current
from .sealing import NoHolders, Seal, holder_names, item_of, open_item, seal_to

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opener:
    """A remaining holder's own GnuPG home, through which items are decrypted to be resealed."""

    name: str
    fingerprint: str
    gpg: Gpg


@dataclass(frozen=True)
class Changed:
    row: HolderListVersion
    resealed: list[str]  # references of the items resealed in the same act
    left_out: list[str]  # holders of the new list whose key could not be sealed to (expired, revoked)


def reseal(uow: UnitOfWork, hub_gpg: Gpg, clock: Clock, *, reference: str, key_home: Path,
           binary: str | None = None, evidence: dict[str, str] | None = None) -> tuple[int, int]:
    """A current holder re-seals an item to the current list (new holders cannot see old items otherwise); the
    opening it needs is recorded with *evidence*, the holder's signed act."""
    uow.holders.lock()
    _message, item = item_of(uow, reference)
    version, holders = current(uow, item.kind)
    if version == item.holder_version:
        raise EmbargoError(f"{reference} is already sealed to the current {item.kind} list (version {version})")
    plaintext, who = open_item(uow, clock, reference=reference, key_home=key_home, binary=binary,
                               purpose=Action.EMBARGO_OPENED_FOR_RESEAL, evidence=evidence)
    previous = item.holder_version
    _replace(uow, clock, item, reference, seal_to(hub_gpg, item.kind, version, holders, plaintext, now=clock.now()),
             who, holders)
    return previous, version


def change(db: Database, hub_gpg: Gpg, clock: Clock, *, statement: str, signature: bytes, hub: str,
           homes: list[Path], binary: str | None = None) -> Changed:
    """Apply a holder-list change the director signed. A removal reseals, in the same transaction, every item
    of the kind the removed member's key opens to the remaining holders, decrypting through *homes*: if one
    cannot be resealed, the list does not change either.

    The decryption and re-encryption are done first, outside the transaction (the store's writers are not
    held while gpg works); inside it, under the lists' lock, what changed since (an item sealed meanwhile,
    or one whose ciphertext differs) is resealed again, and a failure there rolls everything back."""
    with db.reader() as uow:
        proposed, _check = lists.verify(uow, hub_gpg, statement=statement, signature=signature, hub=hub)
        openers = _openers(uow, proposed, homes, binary) if proposed.action == "remove" else []
        early = _prepare(uow, hub_gpg, proposed, openers, clock.now())
    with db.unit_of_work() as uow:
        uow.holders.lock()
        proposed, signer = lists.verify(uow, hub_gpg, statement=statement, signature=signature, hub=hub)
        resealed, left_out = (_reseal_removed(uow, hub_gpg, clock, proposed, openers, early)
                              if proposed.action == "remove" else ([], []))
        row = lists.record(uow, clock, proposed, signer, statement=statement, signature=signature)
        uow.commit()
    if resealed:
        log.info("embargo: %s removed from the %s list; resealed to version %d: %s",
                 proposed.member, proposed.kind, row.version, ", ".join(resealed))
        if not db.checkpoint():
            log.warning("embargo: readers kept the store's write-ahead log from being emptied after resealing %s; "
                        "the old ciphertexts leave it at the next checkpoint", ", ".join(resealed))
    return Changed(row, resealed, left_out)


def _reseal_removed(uow: UnitOfWork, hub_gpg: Gpg, clock: Clock, change: Change, openers: list[Opener],
                    early: dict[int, tuple[str, Seal, str]]) -> tuple[list[str], list[str]]:
    """Inside the removal's transaction: reseal every item the removed member's key opens, with its early seal
    when the ciphertext it replaces is still the one stored. (references resealed, holders left out)"""
    holders = _holders(change)
    resealed, left_out = [], set()
    for item_id in lists.sealed_to(uow, change.kind, change.member):
        item = uow.embargo.get(item_id)
        if item is None:  # erased meanwhile
            continue
        reference = uow.messages.reference_of(item.message_id) or "?"
        ready = early.get(item_id)
        if ready is None or ready[0] != _digest(item.ciphertext):
            ready = (_digest(item.ciphertext), *_resealed(item, reference, hub_gpg, change, openers, clock.now()))
        _, sealed, opener = ready
        audit.record(uow, clock, Action.EMBARGO_OPENED_FOR_RESEAL, actor=opener, ref=reference, kind=item.kind,
                     holder_version=item.holder_version)
        _replace(uow, clock, item, reference, sealed, opener, holders, because=f"holders.remove {change.member}")
        resealed.append(reference)
        left_out |= {h["name"] for h in holders} - set(holder_names(item))
    return resealed, sorted(left_out)


def _holders(change: Change) -> list[dict]:
    return [{"name": n, "fingerprint": f} for n, f in change.holders]


def _openers(uow: UnitOfWork, change: Change, homes: list[Path], binary: str | None) -> list[Opener]:
    """The homes given, each holding the key of a holder on the list after the change (never the removed
    member's: they read nothing more)."""
    removed = uow.members.by_name(change.member)
    remaining = dict(change.holders)  # name -> fingerprint
    openers = []
    for home in homes:
        gpg = Gpg(home, binary=binary)
        mine = set(gpg.secret_fingerprints())
        if removed is not None and removed.fingerprint in mine:
            raise EmbargoError(f"{home} holds {removed.name}'s key: the member removed cannot reseal; give the "
                               "GnuPG home of a remaining holder; nothing changed")
        found = [(name, fpr) for name, fpr in remaining.items() if fpr in mine]
        if not found:
            raise EmbargoError(f"{home} holds no key of a remaining {change.kind} holder "
                               f"({', '.join(remaining)}); nothing changed")
        openers += [Opener(name, fpr, gpg) for name, fpr in found]
    return openers


def _prepare(uow: UnitOfWork, hub_gpg: Gpg, change: Change, openers: list[Opener],
             now: datetime) -> dict[int, tuple[str, Seal, str]]:
    """The new seals, made ahead of the transaction: item id -> (digest of the ciphertext it replaces, seal,
    who opened it). An item that cannot be resealed here is left to the transaction, where it refuses the act."""
    if change.action != "remove":
        return {}
    ready = {}
    for item_id in lists.sealed_to(uow, change.kind, change.member):
        item = uow.embargo.get(item_id)
        if item is None:
            continue
        try:
            ready[item_id] = (_digest(item.ciphertext),
                              *_resealed(item, "", hub_gpg, change, openers, now))
        except EmbargoError:
            continue
        finally:
            uow.session.expunge(item)  # one ciphertext in memory at a time
    return ready


def _resealed(item: EmbargoItem, reference: str, hub_gpg: Gpg, change: Change, openers: list[Opener],
              now: datetime) -> tuple[Seal, str]:
    """Decrypt *item* through the first opener it is sealed to, and seal it to the list after *change*."""
    sealed_to = {h["fingerprint"] for h in item.holders}
    candidates = [o for o in openers if o.fingerprint in sealed_to]
    if not candidates:
        able = [n for n, f in change.holders if f in sealed_to]
        raise EmbargoError(f"{reference} is sealed to {', '.join(holder_names(item))} (list version "
                           f"{item.holder_version}): removing {change.member} reseals it in the same act, through "
                           "the own GnuPG home of a remaining holder it is sealed to"
                           + ("; none of the homes given holds one" if openers else "")
                           + (f": give --reseal-home DIR of {' or '.join(able)}" if able else
                              f": no remaining holder can open it, so {change.member} cannot be removed before it "
                              "is erased") + "; nothing changed")
    problems = []
    for opener in candidates:
        try:
            plaintext = opener.gpg.decrypt(item.ciphertext).plaintext
        except DecryptionFailed as exc:
            problems.append(f"{opener.name}'s key: {exc.reason}")
            continue
        if hashlib.sha256(plaintext).hexdigest() != item.content_digest:
            raise EmbargoError(f"{reference}: the opened content does not match its recorded digest; nothing changed")
        try:
            return seal_to(hub_gpg, change.kind, change.base_version + 1, _holders(change), plaintext, now=now), \
                opener.name
        except NoHolders:
            raise EmbargoError(f"{reference}: no remaining {change.kind} holder has a key it can be sealed to "
                               "(expired or revoked); nothing changed") from None
    raise EmbargoError(f"{reference} could not be opened to be resealed ({'; '.join(problems)}); nothing changed")


def _replace(uow: UnitOfWork, clock: Clock, item: EmbargoItem, reference: str, sealed: Seal, who: str,
             holders: list[dict], *, because: str | None = None) -> None:
    """Overwrite the item's ciphertext with its new seal (the old one is kept nowhere) and record it."""
    previous = item.holder_version
    uow.embargo.overwrite(item, ciphertext=sealed.ciphertext, holders=sealed.holders, holder_version=sealed.version,
                          resealed_at=clock.now(), resealed_by=who)
    left_out = sorted({h["name"] for h in holders} - {h["name"] for h in sealed.holders})
    detail = {"because": because} if because else {}
    audit.record(uow, clock, Action.EMBARGO_RESEALED, actor=who, ref=reference, kind=item.kind, from_version=previous,
                 to_version=sealed.version, holders=[h["name"] for h in sealed.holders],
                 **({"left_out": left_out} if left_out else {}), **detail)


def _digest(ciphertext: bytes) -> str:
    return hashlib.sha256(bytes(ciphertext)).hexdigest()
