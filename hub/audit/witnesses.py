"""Witnesses outside OCAM (`[audit] witnesses`: registered partners or recipients by name): the hub mails each
the latest checkpoint with the consistency proof from the last one it cosigned (tlog-witness add-checkpoint,
signed by the hub and encrypted to the witness's key), and stores the cosigned checkpoints they send back.

A witness's cosigning key is its registered OpenPGP Ed25519 key, named by its address (crypto/tlog/keys.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime, make_msgid

from crypto import Gpg, KeyUnusable
from crypto.mime import compose
from crypto.errors import NoteError
from crypto.tlog import Checkpoint, CosignatureVerifier, Note, WitnessRequest, keys
from store import UnitOfWork
from store.vocabulary import Action

from hub import audit
from hub.clock import Clock
from hub.errors import LogError
from hub.outbound.outbox import OUTBOUND_QUEUE, OwnMail, mime_entity, queue_mail
from hub.settings import Settings
from hub.transport.priorities import priority_of

from .checkpoints import Issued, verifiers_of
from .proofs import Prover

log = logging.getLogger(__name__)

REQUEST_FILE = "checkpoint.tlog-witness"  # the attachment holding the add-checkpoint request


@dataclass(frozen=True)
class Witness:
    name: str  # as registered (partner or recipient)
    email: str  # its address, and its cosigning key's name
    fingerprint: str


def configured(uow: UnitOfWork, names: list[str]) -> list[Witness]:
    """The witnesses the settings name; LogError for a name registered as neither partner nor recipient."""
    found = []
    for name in names:
        who = uow.partners.by_name(name) or uow.recipients.by_name(name)
        if who is None:
            raise LogError(f"witness {name!r} is neither a registered partner nor a registered recipient")
        found.append(Witness(name, who.email, who.fingerprint))
    return found


def cosignature_keys(gpg: Gpg, witnesses: list[Witness]) -> dict[str, list[CosignatureVerifier]]:
    return {w.name: keys.cosignature_verifiers(gpg, w.fingerprint, w.email) for w in witnesses}


def request(uow: UnitOfWork, witness: Witness, issued: Issued) -> WitnessRequest:
    """The add-checkpoint request for *witness*: from the last checkpoint it cosigned (or none) to *issued*."""
    last = uow.log.last_cosigned(witness.name)
    if last is None or last.size > issued.size:
        return WitnessRequest(0, (), issued.note)
    old = uow.log.checkpoint(last.size)
    if old is None:
        raise LogError(f"the checkpoint of {last.size} that {witness.name} cosigned is no longer stored")
    return WitnessRequest(last.size, tuple(Prover(uow.log, issued).consistency(Issued.of_row(old))), issued.note)


class WitnessSender(OwnMail):
    """Mails the latest checkpoint to each witness every `audit.witness_every_seconds` (run by the checkpointer)."""

    @property
    def every(self) -> timedelta:
        return timedelta(seconds=self.settings.audit.witness_every_seconds)

    def due(self, uow: UnitOfWork, witness: Witness) -> bool:
        for event in uow.audit.recent(action=Action.WITNESS_REQUESTED, limit=200):
            if event.detail.get("witness") == witness.name:
                return self.clock.now() - event.at >= self.every
        return True

    def __call__(self, issued: Issued | None) -> list[str]:
        """Send *issued* to the witnesses it is due for; the names sent to."""
        if issued is None or not self.settings.audit.witnesses:
            return []
        with self.db.reader() as uow:
            due = [w for w in configured(uow, self.settings.audit.witnesses) if self.due(uow, w)]
        if not due:
            return []
        sent = []
        with self.db.unit_of_work() as uow:
            for witness in due:
                if self.send(uow, witness, issued):
                    sent.append(witness.name)
            uow.commit()
        if sent:
            self.transport.notify(OUTBOUND_QUEUE)
        return sent

    def send(self, uow: UnitOfWork, witness: Witness, issued: Issued) -> bool:
        body = request(uow, witness, issued)
        now = self.clock.now()
        hub = self.settings.hub
        message_id = make_msgid(idstring=f"witness-{issued.size}", domain=hub.domain)
        headers = [("From", f"OCAM Passerelle <{hub.address}>"), ("To", witness.email), ("Date", format_datetime(now)),
                   ("Message-ID", message_id), ("Subject", f"Passerelle audit log checkpoint {issued.size}")]
        text = (f"The audit log of {hub.address} holds {issued.size} events. Check the attached request with\n"
                f"  passerelle witness cosign THIS-MAIL.eml --hub-key HUB.asc --witness-home YOUR-GNUPG-HOME "
                f"--state STATE.json\nand send back what it writes (the cosigned checkpoint) to {hub.address}.\n")
        entity = mime_entity(f"witness-{issued.size}", [("X-Passerelle-Witness", "add-checkpoint")], headers[-1][1],
                             text, [(REQUEST_FILE, body.render().encode())], headers[:4])
        try:
            data = compose.encrypt_entity(self.gpg, entity, [witness.fingerprint], hub.key_fingerprint, headers)
        except KeyUnusable as exc:
            audit.record(uow, self.clock, Action.ALERT_WITNESS_UNREACHABLE, witness=witness.name, why=exc.reason)
            return False
        queue_mail(uow, transport=self.transport, key=self.storage_key, clock=self.clock, message_id=None,
                   purpose="witness", rfc_message_id=message_id, mail_from=hub.address, rcpt_to=witness.email,
                   data=data, priority=priority_of("ROUTINE"))
        audit.record(uow, self.clock, Action.WITNESS_REQUESTED, witness=witness.name, size=issued.size,
                     old=body.old_size)
        log.info("audit log: checkpoint %d sent to witness %s (from %d)", issued.size, witness.name, body.old_size)
        return True


@dataclass(frozen=True)
class Imported:
    witness: str
    size: int
    timestamp: int


def import_cosigned(uow: UnitOfWork, clock: Clock, settings: Settings, gpg: Gpg, text: str) -> list[Imported]:
    """Store the cosignatures of a cosigned checkpoint (a witness's answer). A checkpoint the hub signed whose
    root differs from the stored one of its size is a fork: ``alert.log_fork``, and LogError."""
    try:
        note = Note.parse(text)
        checkpoint = Checkpoint.of(note)
    except NoteError as exc:
        raise LogError(f"not a cosigned checkpoint: {exc}") from exc
    if not any(v.verifies(note) for v in verifiers_of(settings, gpg)):
        raise LogError("the checkpoint is not signed by this hub's key")
    stored = uow.log.checkpoint(checkpoint.size)
    if stored is None or bytes.fromhex(stored.root) != checkpoint.root:
        why = (f"a checkpoint of {checkpoint.size} events signed by the hub's key, with root {checkpoint.root.hex()}, "
               + ("is not in the store" if stored is None else f"while the store's has root {stored.root}"))
        audit.record(uow, clock, Action.LOG_FORK, why=why, size=checkpoint.size)
        raise LogError(f"fork: {why}")
    witnesses = configured(uow, settings.audit.witnesses)
    done = []
    for witness, verifiers in cosignature_keys(gpg, witnesses).items():
        for verifier in verifiers:
            timestamp = verifier.timestamp(note)
            if timestamp is None:
                continue
            if any(c.witness == witness for c in uow.log.cosignatures(checkpoint.size)):
                raise LogError(f"{witness}'s cosignature of checkpoint {checkpoint.size} is stored already")
            uow.log.add_cosignature(witness=witness, size=checkpoint.size, key_name=verifier.name,
                                    timestamp=timestamp, note=note.render(), received_at=clock.now())
            audit.record(uow, clock, Action.WITNESS_COSIGNED, witness=witness, size=checkpoint.size,
                         timestamp=timestamp)
            done.append(Imported(witness, checkpoint.size, timestamp))
    if not done:
        raise LogError("no good cosignature by a configured witness on that checkpoint")
    return done
