"""Receipts carry their proof: each verifies with the hub's public key alone (no home), and fails when one of its
fields, its proof or its checkpoint is altered — also when the altered receipt is signed again with the hub's key."""

from __future__ import annotations

import base64
import email
import re
import textwrap
from dataclasses import replace

import pytest

from crypto.mime import compose, pgpmime
from crypto.tlog import Checkpoint, EntryProof, Note
from tests.hub.audit.rig import cli

FIELD = "X-Passerelle-Log-Proof"


def _verify(tmp_path, raw: bytes, hub_key, *more: str) -> tuple[int, str]:
    path = tmp_path / "receipt.eml"
    path.write_bytes(raw)
    result = cli("audit", "verify-receipt", str(path), "--hub-key", str(hub_key), *more)
    return result.exit_code, result.output


def test_a_receipt_as_it_travelled_verifies_with_the_partners_own_home(logged, tmp_path):
    """Receipts travel encrypted to the contact point (AR Art. 11 §7): the tool opens one with the partner's own
    GnuPG home, and without it says what to give."""
    for raw in logged.travelled.values():
        assert b"multipart/encrypted" in raw
        code, output = _verify(tmp_path, raw, logged.hub_key, "--key-home", str(logged.police.home))
        assert code == 0 and output.rstrip().endswith("receipt verified"), output
        code, output = _verify(tmp_path, raw, logged.hub_key)
        assert code == 1 and "--key-home" in output, output


def test_every_receipt_verifies_with_the_hub_key_alone(logged, tmp_path):
    """And the checkpoint each carries is one the hub stored (with the receipt, in the same transaction)."""
    db = logged.home.db()
    with db.reader() as uow:
        stored = {c.size: c.root for c in uow.log.checkpoints()}
    db.dispose()
    for reference, raw in logged.receipts.items():
        code, output = _verify(tmp_path, raw, logged.hub_key)
        assert code == 0, output
        assert f"ok   reference: {reference}" in output and "ok   event: intake.accepted" in output
        assert re.search(r"ok   event \d+ is in that tree \(inclusion proof of \d+ hashes\)", output)
        assert "receipt verified" in output
        carried = Checkpoint.of(_proof_of(pgpmime.analyse(raw).signed.signed_bytes).note)
        assert stored.get(carried.size) == carried.root.hex()


def test_a_receipt_checked_against_another_key_fails(logged, tmp_path):
    raw = next(iter(logged.receipts.values()))
    code, output = _verify(tmp_path, raw, logged.root / "witness.asc")
    assert code == 1 and "BAD  the receipt's signature: signature" in output


def _proof_of(entity: bytes) -> EntryProof:
    fields = email.message_from_bytes(entity).get_payload()[1].get_payload()[0]
    return EntryProof.parse(base64.b64decode("".join(fields[FIELD].split())).decode())


def _with_proof(entity: bytes, proof: EntryProof) -> bytes:
    encoded = base64.b64encode(proof.render().encode()).decode()
    folded = f"{FIELD}: " + "\r\n ".join(textwrap.wrap(encoded, 76))
    return re.sub(rb"X-Passerelle-Log-Proof: [^\r]*(\r\n [^\r]*)*", folded.encode(), entity)


def _resigned(logged, raw: bytes, alter) -> bytes:
    """*raw*'s report altered by *alter*, signed again by the hub's key (as its operator could)."""
    entity = pgpmime.analyse(raw).signed.signed_bytes
    message = email.message_from_bytes(raw)
    headers = [(k, " ".join(v.split())) for k, v in message.items()
               if k.lower() not in ("mime-version", "content-type", "content-transfer-encoding")]
    return compose.sign_entity(logged.home.gpg, alter(entity), logged.home.fingerprint, headers)


def _field(name: str, value: str):
    return lambda entity: re.sub(rf"{name}: [^\r]*".encode(), f"{name}: {value}".encode(), entity, count=1)


def _proof(change):
    return lambda entity: _with_proof(entity, change(_proof_of(entity)))


def _other_root(proof: EntryProof) -> EntryProof:
    c = Checkpoint.of(proof.note)
    note = Note(replace(c, root=bytes(32)).text(), proof.note.signatures)
    return replace(proof, note=note)


def _bent_path(proof: EntryProof) -> EntryProof:
    return replace(proof, path=(bytes(32),) + proof.path[1:]) if proof.path else replace(proof, path=(bytes(32),))


def _other_entry(proof: EntryProof) -> EntryProof:
    return replace(proof, extra=proof.extra.replace(b'"urgency":"', b'"urgency":"X'))


@pytest.mark.parametrize("alter, says", [
    (_field("X-Passerelle-Reference", "PSR-2026-999999"), "BAD  reference: the receipt says 'PSR-2026-999999'"),
    (_field("X-Passerelle-Digest", "sha256:" + "0" * 64), "BAD  digest: the receipt says"),
    (_field("X-Passerelle-Received-At", "2026-01-01T00:00:00Z"), "BAD  received-at: the receipt says"),
    (_field("X-Passerelle-Due-At", "2099-01-01T00:00:00Z"), "BAD  due time: the receipt says"),
    (_proof(_bent_path), "BAD  event"),
    (_proof(_other_entry), "is not proven in that tree"),
    (_proof(_other_root), "BAD  the checkpoint is not signed by the hub's key"),
    (_proof(lambda p: replace(p, index=p.index + 1)), "is not proven in that tree"),
], ids=["reference", "digest", "received-at", "due", "path", "entry", "checkpoint", "index"])
def test_an_altered_receipt_fails_even_signed_again_by_the_hub(logged, tmp_path, alter, says):
    raw = list(logged.receipts.values())[1]
    code, output = _verify(tmp_path, _resigned(logged, raw, alter), logged.hub_key)
    assert code == 1 and says in output, output
    assert "ok   signed by the hub's key" in output  # the signature is good: the proof is what fails
    entity = pgpmime.analyse(raw).signed.signed_bytes
    tampered = raw.replace(entity, alter(entity))  # the same change without signing again
    code, output = _verify(tmp_path, tampered, logged.hub_key)
    assert code == 1 and "BAD  the receipt's signature" in output, output
