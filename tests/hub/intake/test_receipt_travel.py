"""Receipts travel encrypted (AR Art. 11 §7, "sécurisé et crypté"): signed by the hub and encrypted to the contact
point's key by default; signed only for a partner registered so; held, never in clear, when the key cannot be
encrypted to, and released once it can."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from crypto.mime import pgpmime
from gateway.capture import CaptureRelay
from hub.cli.main import main
from tests.hub.rig import Receipt, make_home, partner, reference_in, signed
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg as run_gpg
from tests.support.keys import make_key

FIELDS = {"Urgency": "FLASH", "Message-Kind": "request", "Classification": "SECRET"}


def _cli(home, *args):
    return CliRunner().invoke(main, [*args, "--home", str(home.settings.home)])


def _register(home, tmp, key, name):
    path = tmp / f"{name}.asc"
    path.write_bytes(key.public)
    result = _cli(home, "partner", "add", name, "--kind", "police", "--email", key.email, "--key", str(path))
    assert result.exit_code == 0, result.output
    return result.output


def _receipt_of(relay, reference, count):
    for captured in relay.wait_for(count, timeout=20):
        if captured.message["X-Passerelle-Reference"] == reference:
            return captured
    raise AssertionError(f"no receipt for {reference}")


def test_receipts_are_encrypted_by_default_and_signed_only_when_the_partner_takes_them_so(short_tmp):
    """By default the receipt is multipart/encrypted to the contact point alone: nothing of what it states is in
    clear (digest, urgency, classification, due time). `partner set --receipts signed`: signed, readable."""
    home = make_home(short_tmp)
    key = partner(short_tmp, "police")
    assert "receipts            encrypted" in _register(home, short_tmp, key, "police-fed")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, keyword_lines=FIELDS))
        assert code == 250, text
        first = _receipt_of(relay, reference_in(text), 1)
        changed = _cli(home, "partner", "set", "police-fed", "--receipts", "signed")
        assert changed.exit_code == 0 and "receipts            signed" in changed.output, changed.output
        code, text = hub.send(signed(key, keyword_lines=FIELDS))
        second = _receipt_of(relay, reference_in(text), 2)
    assert pgpmime.analyse(first.data).kind == "encrypted" and first.rcpt_tos == (key.email,)
    for clear in (b"X-Passerelle-Digest", b"SHA-256", b"FLASH", b"SECRET", b"X-Passerelle-Due-At", b"disposition"):
        assert clear not in first.data, clear
    receipt = Receipt.read(first.data, home.gpg)  # decrypted with police's own key, then the hub's signature
    assert receipt.encrypted and receipt.signature_status == "good" and receipt.signer == home.fingerprint
    assert receipt.fields["X-Passerelle-Urgency"] == "FLASH; source=protected"
    assert first.message["In-Reply-To"] and first.message["Auto-Submitted"] == "auto-replied"
    assert pgpmime.analyse(second.data).kind == "signed" and b"X-Passerelle-Digest" in second.data
    assert not Receipt.read(second.data, home.gpg).encrypted
    events = [e["action"] for e in json.loads(_cli(home, "messages", "show", reference_in(text), "--json").output)
              ["audit"]]
    assert "receipt.signed" in events


def test_a_key_that_cannot_encrypt_holds_the_receipt_until_it_can(short_tmp):
    """A contact point's key without an encryption subkey: its receipt is held with an alert, never sent in clear;
    `partner update-key` with an encryption subkey releases it, encrypted. Another partner opts for signed-only
    receipts instead (`partner set --receipts signed`): its held receipt leaves signed."""
    home = make_home(short_tmp)
    police = make_key(short_tmp, "police@partner.test", name="Police", encryption=False)
    customs = make_key(short_tmp, "customs@partner.test", name="Customs", encryption=False)
    shown = _register(home, short_tmp, police, "police-fed")
    assert "without a usable encryption subkey: they are held, never sent in clear" in shown
    _register(home, short_tmp, customs, "customs")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        held = [reference_in(hub.send(signed(k, keyword_lines=FIELDS))[1]) for k in (police, customs)]
        hub.hub.transport.notify("outbound")
        assert relay.wait_for(1, timeout=2) == []
        for reference in held:
            message = json.loads(_cli(home, "messages", "show", reference, "--json").output)
            assert message["receipt_status"] == "held"
            alert = [e for e in message["audit"] if e["action"] == "alert.receipt_held"]
            assert alert and "without a usable encryption subkey" in alert[0]["detail"]["why"]
        assert "receipt_held" in _cli(home, "duty", "alerts").output
        run_gpg(police.home, "--quick-add-key", police.fingerprint, "cv25519", "encr", "0")
        renewed = short_tmp / "police-renewed.asc"
        renewed.write_bytes(run_gpg(police.home, "--armor", "--export", police.fingerprint))
        updated = _cli(home, "partner", "update-key", "police-fed", "--key", str(renewed))
        assert updated.exit_code == 0 and f"held receipt of {held[0]} released" in updated.output, updated.output
        opted = _cli(home, "partner", "set", "customs", "--receipts", "signed")
        assert opted.exit_code == 0 and f"held receipt of {held[1]} released" in opted.output, opted.output
        hub.hub.transport.notify("outbound")
        out = {c.message["X-Passerelle-Reference"]: c for c in relay.wait_for(2, timeout=20)}
    assert pgpmime.analyse(out[held[0]].data).kind == "encrypted"
    assert Receipt.read(out[held[0]].data, home.gpg).fields["X-Passerelle-Reference"] == held[0]
    assert pgpmime.analyse(out[held[1]].data).kind == "signed"
    assert Receipt.read(out[held[1]].data, home.gpg).signature_status == "good"
    for reference in held:
        message = json.loads(_cli(home, "messages", "show", reference, "--json").output)
        assert message["receipt_status"] == "sent"
        assert "receipt.released" in [e["action"] for e in message["audit"]]


def test_a_partner_registered_for_signed_receipts(short_tmp):
    """`partner add --receipts signed`, for a system that must read them unencrypted: recorded and shown."""
    home = make_home(short_tmp)
    key = partner(short_tmp, "system")
    path = short_tmp / "system.asc"
    path.write_bytes(key.public)
    result = _cli(home, "partner", "add", "system-fed", "--kind", "police", "--email", key.email, "--key", str(path),
                  "--receipts", "signed")
    assert result.exit_code == 0 and "receipts            signed" in result.output, result.output
    listed = json.loads(_cli(home, "partner", "list", "--json").output)
    assert listed[0]["receipts"] == "signed"
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, keyword_lines=FIELDS, body=f"system {uuid.uuid4().hex}"))
        captured = _receipt_of(relay, reference_in(text), 1)
    assert pgpmime.analyse(captured.data).kind == "signed"
