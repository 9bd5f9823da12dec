"""Rotating the hub's OpenPGP key: a new Ed25519 key, announced to everyone the hub writes to (signed by the old
key, the new key inside and signed by itself), an overlap during which mail encrypted to either key is accepted,
and the old key retired after it.

What "retired" means: mail encrypted only to it is refused (550 5.7.5, admission); the secret of its primary key
is deleted (`gpg --delete-secret-keys FPR!`), so it can sign nothing again; its encryption subkey's secret is
kept, because the messages stored encrypted to it (the partners' originals, `messages open`) are read with it;
its public key is kept, so the receipts and checkpoints it signed still verify (``hub.previous_keys``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crypto import Gpg, KeyUnusable, StorageKey
from store import Database
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import KeyRotationError
from hub.outbound.outbox import queue_mail
from hub.settings import SETTINGS_FILE, Settings
from hub.transport.priorities import priority_of
from hub.transport.protocol import Transport

from . import notices, settings_file

log = logging.getLogger(__name__)

ROTATED = Action.HUB_KEY_ROTATED
RETIRED = Action.HUB_KEY_RETIRED


@dataclass(frozen=True)
class Rotation:
    old: str
    new: str
    accepted_until: datetime
    announced: list[str] = field(default_factory=list)  # addresses the announcement is queued for
    held: list[tuple[str, str]] = field(default_factory=list)  # (address, why) it could not be encrypted to


def _addressees(db: Database) -> list[tuple[str, str, str]]:
    """(who, address, key) of everyone the hub writes to: partners (not revoked), members, recipients."""
    with db.reader() as uow:
        found = [(f"partner {p.name}", p.email, p.fingerprint) for p in uow.partners.all() if not p.key_revoked]
        found += [(f"member {m.name}", m.email, m.fingerprint) for m in uow.members.all()]
        found += [(f"recipient {r.name}", r.email, r.fingerprint) for r in uow.recipients.all()]
    return found


def rotate(settings: Settings, db: Database, gpg: Gpg, storage_key: StorageKey, clock: Clock,
           transport: Transport, *, overlap: timedelta, actor: str = "operator",
           signed: dict | None = None) -> Rotation:
    """Make the new key, queue its announcements, write ``[hub] key_fingerprint``, ``previous_keys`` and
    ``previous_key_accepted_until`` to the home's settings, and record ``hub.key_rotated`` (*actor*, and the
    operator's signed act when there is one: *signed*, its statement's digest and signature). A previous
    overlap still running ends now: its key is retired at the scheduler's next check."""
    hub = settings.hub
    old = hub.key_fingerprint
    if overlap < timedelta(0):
        raise KeyRotationError("the overlap is a duration of zero or more")
    if not old or not gpg.signs(old):
        raise KeyRotationError(f"the hub's key {old or '(none set)'} has no signing secret in {settings.gnupg_home}: "
                               f"the announcement must be signed by it")
    now = clock.now()
    until = now + overlap
    new = gpg.generate_key(f"Passerelle hub <{hub.address}>")
    new_public = gpg.export_public(new)
    mails, held = [], []
    for who, address, key in _addressees(db):
        try:
            mails.append((who, address, *notices.new_hub_key(
                gpg, hub_address=hub.address, old=old, new=new, new_public=new_public, accepted_until=until,
                domain=hub.domain, to=address, recipient_key=key, now=now)))
        except KeyUnusable as exc:
            held.append((address, exc.reason))
    path = settings.home / SETTINGS_FILE
    fields = {"key_fingerprint": new, "previous_keys": [*hub.previous_keys, old], "previous_key_accepted_until": until}
    before = settings_file.set_fields(path, "hub", fields)
    try:
        with db.unit_of_work() as uow:
            for who, address, message_id, data in mails:
                queue_mail(uow, transport=transport, key=storage_key, clock=clock, message_id=None,
                           purpose="hub-key", rfc_message_id=message_id, mail_from=hub.address, rcpt_to=address,
                           data=data, priority=priority_of("URGENT"))
            for address, why in held:
                audit.record(uow, clock, Action.ALERT_ANNOUNCEMENT_HELD, to=address, why=why, new=new)
            audit.record(uow, clock, ROTATED, actor=actor, old=old, new=new, accepted_until=until.isoformat(),
                         announced=len(mails), held=len(held), **(signed or {}))
            uow.commit()
    except BaseException:
        settings_file.restore(path, before)
        raise
    for name, value in fields.items():
        setattr(hub, name, value)
    log.info("hub key: rotated %s -> %s; mail to the old key accepted until %s; %d announcement(s), %d held",
             old, new, until.isoformat(), len(mails), len(held))
    return Rotation(old, new, until, [a for _w, a, _m, _d in mails], held)


def retire_due(settings: Settings, db: Database, gpg: Gpg, clock: Clock) -> int:
    """Retire every previous key whose overlap has ended and that can still sign: delete its primary's secret
    (its encryption subkey's stays, for the messages stored encrypted to it) and record ``hub.key_retired``."""
    hub = settings.hub
    retired = 0
    for old in hub.retired_keys(clock.now()):
        if not gpg.signs(old):
            continue
        gpg.forget_signing_secret(old)
        with db.unit_of_work() as uow:
            audit.record(uow, clock, RETIRED, key=old, current=hub.key_fingerprint,
                         kept="public key (old signatures verify), encryption subkey secret (stored messages open)")
            uow.commit()
        log.info("hub key: %s retired (its signing secret deleted)", old)
        retired += 1
    return retired
