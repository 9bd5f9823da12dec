"""The witness's side (`passerelle witness cosign`), with no hub home: the hub's public key (HUB.asc), the witness's
own GnuPG home and a state file. It checks the hub's checkpoint against the last one it cosigned (C2SP
tlog-witness: old size, consistency proof, same size same root) and answers with a timestamped cosignature
(tlog-cosignature v1), or refuses and says why — a fork among the reasons."""

from __future__ import annotations

import email
import email.policy
import json
import os
import quopri
from email.utils import format_datetime, localtime, make_msgid
from pathlib import Path

from crypto import DecryptionFailed, Gpg, MimeError
from crypto.mime import compose, pgpmime
from crypto.errors import NoteError
from crypto.tlog import Checkpoint, Cosigner, Note, WitnessRequest, keys, verify_consistency
from crypto.tlog.notes import b64, unb64

from hub.errors import LogError

from .checkpoints import ORIGIN_PATH
from .keyring import Keyring
from .witnesses import REQUEST_FILE

STATE_VERSION = 1


class Refused(LogError):
    """The witness does not cosign; *status* as tlog-witness would answer (400, 403, 409, 422)."""

    def __init__(self, status: int, why: str, *, fork: bool = False) -> None:
        super().__init__(why)
        self.status = status
        self.fork = fork


def _attachment(entity: bytes) -> bytes | None:
    message = email.message_from_bytes(entity, policy=email.policy.compat32)
    for part in message.walk():
        if part.get_filename() == REQUEST_FILE:
            return part.get_payload(decode=True)
    return None


def read_request(raw: bytes, ring: Keyring, hub: str, witness_gpg: Gpg) -> tuple[WitnessRequest, str]:
    """The request in *raw* (the hub's mail, or the request's text), and what became of the mail's signature."""
    if raw.startswith(b"old "):
        text, signature = raw, "no mail (the request's text alone)"
    else:
        try:
            envelope = pgpmime.analyse(raw)
            if envelope.kind == "encrypted":
                decrypted = witness_gpg.decrypt(envelope.ciphertext or b"")
                entity, check = decrypted.plaintext, decrypted.signature
                signature = ("signed by the hub's key" if check is not None and check.valid and
                             check.primary_fingerprint == hub else
                             "its signature is not checked in your home (the checkpoint's own is, below)")
            else:
                assert envelope.signed is not None
                entity = envelope.signed.signed_bytes
                why = ring.verify(entity, envelope.signed.signature, hub)
                if why:
                    raise Refused(403, f"the mail's signature: {why}")
                signature = "signed by the hub's key"
        except (MimeError, DecryptionFailed) as exc:
            raise Refused(400, f"not a request mail this witness can read: {exc}") from exc
        text = _attachment(entity)
        if text is None:
            raise Refused(400, f"the mail carries no {REQUEST_FILE}")
    try:
        return WitnessRequest.parse(text.decode("utf-8")), signature
    except (NoteError, UnicodeDecodeError) as exc:
        raise Refused(400, f"not an add-checkpoint request: {exc}") from exc


def load_state(path: Path) -> dict:
    if not path.exists():
        return {"version": STATE_VERSION, "logs": {}}
    state = json.loads(path.read_text())
    if state.get("version") != STATE_VERSION:
        raise LogError(f"{path}: not a witness state this tool writes")
    return state


def save_state(path: Path, state: dict) -> None:
    """Written whole, then renamed over the old one (0600): never half a state."""
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def cosign(request: WitnessRequest, ring: Keyring, hub: str, cosigner: Cosigner, state: dict,
           now: int) -> tuple[Note, dict]:
    """The cosigned checkpoint and the new state; Refused (and the state untouched) when it must not be."""
    try:
        checkpoint = Checkpoint.of(request.note)
    except NoteError as exc:
        raise Refused(400, f"not a checkpoint: {exc}") from exc
    if not checkpoint.origin.endswith("/" + ORIGIN_PATH):
        raise Refused(404, f"{checkpoint.origin!r} is no Passerelle audit log")
    if not any(v.verifies(request.note) for v in ring.note_verifiers(hub, checkpoint.origin)):
        raise Refused(403, "the checkpoint is not signed by the hub's key")
    if request.old_size > checkpoint.size:
        raise Refused(400, f"old size {request.old_size} is larger than the checkpoint's {checkpoint.size}")
    seen = state["logs"].get(checkpoint.origin)
    seen_size = seen["size"] if seen else 0
    if request.old_size != seen_size:
        raise Refused(409, f"this witness last cosigned {seen_size} events of {checkpoint.origin}, not "
                           f"{request.old_size}: ask again from {seen_size}")
    if seen is not None:
        seen_root = unb64(seen["root"])
        if checkpoint.size == seen_size and checkpoint.root != seen_root:
            raise Refused(409, f"FORK: two checkpoints of {seen_size} events with different roots (this witness "
                               f"cosigned {seen['root']}, now {b64(checkpoint.root)})", fork=True)
        if not verify_consistency(seen_size, checkpoint.size, seen_root, checkpoint.root, request.proof):
            raise Refused(422, f"FORK: the checkpoint of {checkpoint.size} events is not consistent with the one "
                               f"of {seen_size} this witness cosigned (the log was rewritten)", fork=True)
    elif request.proof:
        raise Refused(400, "a request from size 0 carries no proof")
    timestamp = now
    signed = request.note.adding(cosigner.cosign(request.note, timestamp))
    logs = dict(state["logs"])
    logs[checkpoint.origin] = {"size": checkpoint.size, "root": b64(checkpoint.root),
                               "checkpoint": request.note.render(), "cosigned_at": timestamp}
    return signed, {**state, "logs": logs}


def witness_cosigner(witness_home: Path, *, binary: str | None = None) -> tuple[Gpg, str, Cosigner]:
    """The witness's own key: the one secret key of its home, unprotected Ed25519, named by its address."""
    gpg = Gpg(witness_home, binary=binary)
    secrets = gpg.secret_fingerprints()
    if len(secrets) != 1:
        raise LogError(f"{witness_home} holds {len(secrets)} secret keys; the witness's home holds its own, one")
    info = gpg.key(secrets[0])
    if info is None or not info.emails:
        raise LogError("the witness's key carries no address to name its cosignatures by")
    cosigner = keys.cosigner(gpg, secrets[0], info.emails[0])
    if cosigner is None:
        raise LogError("the witness's key is not an unprotected Ed25519 signing key: it cannot cosign")
    return gpg, secrets[0], cosigner


def reply_mail(gpg: Gpg, fingerprint: str, sender: str, hub_address: str, note: Note) -> bytes:
    """The cosigned checkpoint as a mail to the hub, signed by the witness (nothing in it is secret)."""
    text = ("Cosigned checkpoint of the Passerelle audit log (c2sp.org/tlog-cosignature):\n\n" + note.render())
    body = quopri.encodestring(text.replace("\n", "\r\n").encode("utf-8")).decode("ascii")
    entity = ("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
              + body).encode("ascii")
    headers = [("From", sender), ("To", hub_address), ("Date", format_datetime(localtime())),
               ("Message-ID", make_msgid(domain=sender.rpartition("@")[2] or "witness.invalid")),
               ("Subject", f"Cosigned checkpoint {Checkpoint.of(note).size}")]
    return compose.sign_entity(gpg, entity, fingerprint, headers)


def extract_note(raw: bytes) -> str:
    """A cosigned checkpoint out of a file: the note itself, or a witness's reply mail (its text part)."""
    text = raw.decode("utf-8", "replace")
    if "\n\n\u2014 " not in text.replace("\r\n", "\n"):
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        decoded = [p.get_payload(decode=True) for p in message.walk() if p.get_content_type() == "text/plain"]
        text = "\n".join(d.decode("utf-8", "replace") for d in decoded if d)
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.endswith("/" + ORIGIN_PATH):
            end = i + 4
            while end < len(lines) and lines[end].startswith("\u2014 "):
                end += 1
            return "\n".join(lines[i:end]) + "\n"
    raise LogError("no checkpoint of a Passerelle audit log in that file")
