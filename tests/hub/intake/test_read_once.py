"""The message read once (issue 14): from the DATA to the receipt leaving, the raw bytes are read into their MIME
tree one time — by admission, whose reading the verdict, the headers, the store and the pipeline's stages all use;
a message the partner encrypted to the hub is read once more, its decrypted entity (another text). (Of the hub's
own receipt only the header section is read again, for the fields outside its encryption:
hub/intake/receipt_envelope.py; it is not the partner's message.)"""

from __future__ import annotations

import threading

import pytest

from crypto.mime import reader
from gateway.capture import CaptureRelay
from tests.hub.rig import encrypted, home_with_police, reference_in, signed
from tests.support.hubrig import RunningHub

FIELDS = {"Urgency": "FLASH", "Message-Kind": "request"}


@pytest.fixture
def whole_readings(monkeypatch):
    """Every reading of a whole message or entity into its MIME tree (the reader's depth 0), by its bytes."""
    seen: list[bytes] = []
    lock = threading.Lock()
    entity = reader._Reader.entity

    def counted(self, raw, depth, ancestors):
        if depth == 0:
            with lock:
                seen.append(raw)
        return entity(self, raw, depth, ancestors)

    monkeypatch.setattr(reader._Reader, "entity", counted)
    return seen


@pytest.mark.parametrize("how", ["signed", "encrypted"])
def test_from_data_to_receipt_the_message_is_read_once(short_tmp, whole_readings, how):
    home, key = home_with_police(short_tmp)
    raw = signed(key, keyword_lines=FIELDS) if how == "signed" else encrypted(
        key, home.gpg.export_public(home.fingerprint), keyword_lines=FIELDS)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(raw, mail_from=key.email)
        assert code == 250, text
        (receipt,) = relay.wait_for(1, timeout=30)
        assert receipt.message["X-Passerelle-Reference"] == reference_in(text)
    wire = raw if isinstance(raw, bytes) else raw.encode()
    outer = [r for r in whole_readings if r.rstrip(b"\r\n") == wire.replace(b"\r\n", b"\n").replace(
        b"\n", b"\r\n").rstrip(b"\r\n")]
    assert len(outer) == 1, f"the raw message was read {len(outer)} times"
    theirs = [r for r in whole_readings if not r.startswith(b"From: Passerelle <hub@")]  # not the hub's receipt
    assert len(theirs) == (1 if how == "signed" else 2), [r[:60] for r in theirs]
