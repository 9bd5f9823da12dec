"""`audit verify-receipt`: a receipt checked with the hub's public key alone — its PGP/MIME signature, its proof
(the intake event in a checkpoint the hub signed), and that the event says what the receipt says."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crypto import DecryptionFailed, Gpg, GpgUnavailable, MimeError
from crypto.mime import pgpmime
from crypto.errors import NoteError
from crypto.tlog import Checkpoint, EntryProof, verify_inclusion
from store.vocabulary import Action

from hub.errors import LogError

from .checklist import Checklist
from .checkpoints import ORIGIN_PATH
from .entries import Entry
from .keyring import Keyring
from .proofs import RECEIPT_FIELD


@dataclass
class ReceiptCheck(Checklist):
    proof: EntryProof | None = None


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(entity: bytes) -> dict[str, str]:
    """The disposition-notification fields of the signed multipart/report, unfolded."""
    report = email.message_from_bytes(entity, policy=email.policy.compat32)
    if report.get_content_type() != "multipart/report" or not report.is_multipart():
        raise LogError("the signed part is no multipart/report")
    for part in report.get_payload():
        if part.get_content_type() == "message/disposition-notification":
            fields: dict[str, str] = {}
            payload = part.get_payload()
            blocks = payload if isinstance(payload, list) else [email.message_from_string(payload)]
            for block in blocks:
                for name, value in block.items():
                    fields.setdefault(name, " ".join(str(value).split()))
            return fields
    raise LogError("the report carries no disposition notification")


def check_receipt(raw: bytes, ring: Keyring, hub: str, *, key_home: Path | None = None) -> ReceiptCheck:
    """Check *raw* against the hub key *hub* (primary fingerprint) held in *ring*. A receipt encrypted to the
    partner (signed, then encrypted: RFC 3156 §6.1) is opened first with the partner's own GnuPG home
    *key_home*: what it holds is the whole signed receipt, checked the same way."""
    result = ReceiptCheck()
    try:
        envelope = pgpmime.analyse(raw)
    except MimeError as exc:
        result.fail(f"not a PGP/MIME message: {exc.reason}")
        return result
    if envelope.kind == "encrypted" and key_home is not None:
        try:
            inner = Gpg(key_home).decrypt(envelope.ciphertext or b"").plaintext
        except (DecryptionFailed, GpgUnavailable) as exc:
            result.fail(f"the receipt cannot be decrypted with the keys of {key_home}: {exc}")
            return result
        opened = check_receipt(inner, ring, hub)
        opened.lines.insert(0, f"ok   decrypted with a key of {key_home}")
        return opened
    if envelope.kind != "signed" or envelope.signed is None:
        result.fail("the receipt is encrypted to you: give your own GnuPG home (--key-home DIR) to open it")
        return result
    why = ring.verify(envelope.signed.signed_bytes, envelope.signed.signature, hub)
    if why:
        result.fail(f"the receipt's signature: {why}")
        return result
    result.good(f"signed by the hub's key {hub}")
    try:
        fields = _fields(envelope.signed.signed_bytes)
        encoded = "".join(fields.get(RECEIPT_FIELD, "").split())
        if not encoded:
            result.fail(f"the receipt carries no proof ({RECEIPT_FIELD})")
            return result
        result.proof = proof = EntryProof.parse(base64.b64decode(encoded, validate=True).decode("utf-8"))
        checkpoint = Checkpoint.of(proof.note)
        entry = Entry.parse(proof.extra or b"")
    except (LogError, NoteError, binascii.Error, UnicodeDecodeError) as exc:
        result.fail(f"the receipt's proof cannot be read: {exc}")
        return result
    _proven(result, ring, hub, proof, checkpoint, entry)
    _says(result, fields, entry)
    return result


def _proven(result: ReceiptCheck, ring: Keyring, hub: str, proof: EntryProof, checkpoint: Checkpoint,
            entry: Entry) -> None:
    if not checkpoint.origin.endswith("/" + ORIGIN_PATH):
        result.fail(f"the checkpoint's origin {checkpoint.origin!r} is no Passerelle audit log")
    if any(v.verifies(proof.note) for v in ring.note_verifiers(hub, checkpoint.origin)):
        result.good(f"checkpoint {checkpoint.origin} of {checkpoint.size} events signed by the hub's key")
    else:
        result.fail("the checkpoint is not signed by the hub's key")
    if entry.index == proof.index and verify_inclusion(proof.index, checkpoint.size, entry.leaf, proof.path,
                                                       checkpoint.root):
        result.good(f"event {proof.index} is in that tree (inclusion proof of {len(proof.path)} hashes)")
    else:
        result.fail(f"event {proof.index} is not proven in that tree")


def _says(result: ReceiptCheck, fields: dict[str, str], entry: Entry) -> None:
    """The event is the receipt's intake, and states what the receipt states."""
    detail = entry.detail
    due = detail.get("due_at")
    expected = {
        "event": (Action.INTAKE_ACCEPTED, entry.action),
        "reference": (fields.get("X-Passerelle-Reference"), entry.reference),
        "digest": (fields.get("X-Passerelle-Digest"), f"sha256:{detail.get('digest')}"),
        "received-at": (fields.get("X-Passerelle-Received-At"), _utc(entry.at)),
        "due time": (fields.get("X-Passerelle-Due-At"), _utc(datetime.fromisoformat(due)) if due else "none"),
    }
    for name, (receipt, event) in expected.items():
        if receipt == event:
            result.good(f"{name}: {event}")
        else:
            result.fail(f"{name}: the receipt says {receipt!r}, its event {event!r}")
