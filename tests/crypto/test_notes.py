"""C2SP signed notes, checkpoints, cosignatures and proof texts: the published examples, and hostile input refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.errors import NoteError
from crypto.tlog import Checkpoint, Cosigner, EntryProof, Note, Signer, Verifier, WitnessRequest

# golang.org/x/mod/sumdb/note's package example (its signer key is published with it), and signed-note's own.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_NOTE = (PETER_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
              "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Zt"
             "g1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")


def test_published_notes_verify_and_signing_reproduces_them():
    peter = Verifier.from_vkey(PETER_VKEY)
    assert peter.vkey() == PETER_VKEY and peter.key_id.hex() == "c74f20a3"
    assert peter.verifies(Note.parse(PETER_NOTE))
    assert Verifier.from_vkey(SPEC_VKEY).verifies(Note.parse(SPEC_NOTE.encode()))
    signer = Signer("PeterNeumann", ed25519.Ed25519PrivateKey.from_private_bytes(PETER_SEED))
    assert signer.verifier == peter
    assert signer.sign(PETER_TEXT).render() == PETER_NOTE  # Ed25519 is deterministic (RFC 8032)


def test_an_altered_note_or_another_key_does_not_verify():
    peter = Verifier.from_vkey(PETER_VKEY)
    assert not peter.verifies(Note.parse(PETER_NOTE.replace("answer", "ANSWER")))
    assert not Verifier.from_vkey(SPEC_VKEY).verifies(Note.parse(PETER_NOTE))
    assert not Verifier("PeterNeumann2", peter.public).verifies(Note.parse(PETER_NOTE))
    with pytest.raises(NoteError):
        Verifier.from_vkey(PETER_VKEY.replace("c74f20a3", "c74f20a4"))


@pytest.mark.parametrize("bad", [
    "no blank line\n\u2014 x AAAAAAAA\n",
    "text\n\n\u2014 x AAAAAAAA",                      # no final newline
    "text\n\n- x AAAAAAAAAAAA\n",                    # a hyphen, not an em dash
    "text\n\n\u2014 x AA==\n",                         # too short for a key id and a signature
    "text\n\n\u2014 x not*base64\n",
    "te\x07xt\n\n\u2014 x AAAAAAAAAAAA\n",            # a control character
    "text\n\n\u2014 a+b AAAAAAAAAAAA\n",              # a plus in the name
    "text\n\n" + "\u2014 x AAAAAAAAAAAA\n" * 101,
])
def test_malformed_notes_are_refused(bad):
    with pytest.raises(NoteError):
        Note.parse(bad)


def test_a_checkpoint_round_trips_and_refuses_what_is_not_one():
    key = ed25519.Ed25519PrivateKey.generate()
    checkpoint = Checkpoint("ocam.test/passerelle/audit", 20852163, bytes(range(32)))
    note = Signer(checkpoint.origin, key).sign(checkpoint.text())
    again = Note.parse(note.render())
    assert Checkpoint.of(again) == checkpoint and Verifier(checkpoint.origin, key.public_key().public_bytes_raw()).verifies(again)
    for text in ("o\n012\nAAAA\n", "o\n12\nAAAA\n", "o\n12\n" + base64.b64encode(bytes(32)).decode() + "\next\n",
                 "o r\n12\n" + base64.b64encode(bytes(32)).decode() + "\n"):
        with pytest.raises(NoteError):
            Checkpoint.of(Signer("o", key).sign(text))


def test_a_cosignature_verifies_with_its_time_and_only_over_the_same_checkpoint():
    log_key, witness_key = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    note = Signer("ocam.test/passerelle/audit", log_key).sign(Checkpoint("ocam.test/passerelle/audit", 5, bytes(32)).text())
    witness = Cosigner("comite-r@comiter.test", witness_key)
    cosigned = Note.parse(note.adding(witness.cosign(note, 1679315147)).render())
    assert witness.verifier.timestamp(cosigned) == 1679315147
    assert witness.verifier.key_id != Verifier(witness.verifier.name, witness.verifier.public).key_id  # 0x04, not 0x01
    other = Signer("ocam.test/passerelle/audit", log_key).sign(Checkpoint("ocam.test/passerelle/audit", 5, bytes([1]) * 32).text())
    moved = Note(other.text, other.signatures + cosigned.signatures[1:])
    assert witness.verifier.timestamp(moved) is None


def test_proof_and_witness_texts_round_trip_and_refuse_garbage():
    key = ed25519.Ed25519PrivateKey.generate()
    note = Signer("o", key).sign(Checkpoint("o", 9, bytes(32)).text())
    proof = EntryProof(7, (bytes([1]) * 32, bytes([2]) * 32), note, extra=b'{"index":7}')
    text = proof.render()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ") and "\nindex 7\n" in text
    assert EntryProof.parse(text) == proof
    request = WitnessRequest(4, (bytes([3]) * 32,), note)
    assert WitnessRequest.parse(request.render()) == request
    for bad in (text.replace("index 7", "index 07"), text.replace("tlog-proof@v1", "tlog-proof@v2"),
                text.replace("\nindex", "\nindx")):
        with pytest.raises(NoteError):
            EntryProof.parse(bad)
    with pytest.raises(NoteError):
        WitnessRequest.parse("old 4\n" + "AAAA\n" + "\n" + note.render())
