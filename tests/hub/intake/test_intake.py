"""Intake end to end: real smtplib client with STARTTLS → gateway → admission → pipeline → signed receipt at the relay."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from gateway.capture import CaptureRelay
from tests.hub.rig import HUB, Receipt, make_home, partner, reference_in, encrypted, new_message_id, signed
from tests.support.hubrig import RunningHub

MAX_BYTES = 300_000


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp, max_message_bytes=MAX_BYTES, max_mime_depth=6)
    keys = {
        "police": partner(module_tmp, "police"),
        "intel": partner(module_tmp, "intel"),
        "customs": partner(module_tmp, "customs", algo="rsa3072"),
        "subkey": partner(module_tmp, "subkey", signing_subkey=True),
    }
    home.register(keys["police"], "police-fed", "police")
    home.register(keys["intel"], "vsse", "intelligence")
    home.register(keys["customs"], "customs", "customs")
    home.register(keys["subkey"], "dvz", "immigration")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, keys, relay, hub


_mid = new_message_id


def _receipt_for(relay, reference: str, hub_gpg, timeout: float = 20.0) -> Receipt:
    for _ in range(int(timeout * 10)):
        for captured in relay.messages:
            if captured.message.get("X-Passerelle-Reference") == reference:
                return Receipt.read(captured.data, hub_gpg)
        relay.wait_for(len(relay.messages) + 1, timeout=0.1)
    raise AssertionError(f"no receipt for {reference}")


_ref = reference_in


def test_signed_request_gets_signed_receipt_with_legal_due_time(rig):
    """A FLASH request (protected keyword lines) gets 250, then an RFC 8098 receipt signed by the hub, due in 24 h."""
    home, keys, relay, hub = rig
    mid = _mid()
    raw = signed(keys["police"], message_id=mid, body="Demande de renseignements",
                           keyword_lines={"Urgency": "FLASH", "Message-Kind": "request"})
    code, text = hub.send(raw, mail_from=keys["police"].email)
    assert code == 250, text
    reference = _ref(text)
    receipt = _receipt_for(relay, reference, home.gpg)
    assert receipt.signature_status == "good" and receipt.signer == home.fingerprint
    assert receipt.message["To"] == keys["police"].email
    assert receipt.fields["Original-Message-ID"] == mid
    assert receipt.fields["X-Passerelle-Reference"] == reference
    import hashlib

    assert receipt.fields["X-Passerelle-Digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert receipt.fields["X-Passerelle-Urgency"] == "FLASH; source=protected"
    received = receipt.fields["X-Passerelle-Received-At"]
    assert receipt.due_at() is not None
    from datetime import datetime

    assert receipt.due_at() - datetime.fromisoformat(received.replace("Z", "+00:00")) == timedelta(hours=24)
    assert "Accusé de réception" in receipt.text and "Ontvangstbevestiging" in receipt.text
    assert "Demande de renseignements" not in receipt.raw.decode("utf-8", "replace")


def test_missing_urgency_is_routine_and_said_so(rig):
    """No urgency anywhere: ROUTINE, 10 days, and the receipt says it was the default."""
    home, keys, relay, hub = rig
    raw = signed(keys["police"], message_id=_mid(), keyword_lines={"Message-Kind": "request"})
    code, text = hub.send(raw)
    assert code == 250, text
    receipt = _receipt_for(relay, _ref(text), home.gpg)
    assert receipt.fields["X-Passerelle-Urgency"] == "ROUTINE; source=default"
    received = receipt.fields["X-Passerelle-Received-At"]
    from datetime import datetime

    assert receipt.due_at() - datetime.fromisoformat(received.replace("Z", "+00:00")) == timedelta(days=10)


def test_outer_only_urgency_is_applied_but_marked_unprotected(rig):
    """An Urgency header outside the signature applies, and the receipt marks it unprotected."""
    home, keys, relay, hub = rig
    raw = signed(keys["police"], message_id=_mid(), headers={"Urgency": "URGENT", "Message-Kind": "request"})
    code, text = hub.send(raw)
    assert code == 250, text
    receipt = _receipt_for(relay, _ref(text), home.gpg)
    assert receipt.fields["X-Passerelle-Urgency"] == "URGENT; source=unprotected"
    assert "NON protégé" in receipt.text


def test_protected_header_wins_over_outer_and_conflict_is_recorded(rig):
    """RFC 9788 protected Urgency beats a disagreeing outer one; the conflict is in the receipt and the audit."""
    home, keys, relay, hub = rig
    raw = signed(keys["police"], message_id=_mid(), headers={"Urgency": "ROUTINE"},
                           protected={"Urgency": "URGENT", "Message-Kind": "request"})
    code, text = hub.send(raw)
    assert code == 250, text
    reference = _ref(text)
    receipt = _receipt_for(relay, reference, home.gpg)
    assert receipt.fields["X-Passerelle-Urgency"] == "URGENT; source=protected"
    assert receipt.fields["X-Passerelle-Conflict"].startswith("urgency; outer=ROUTINE; protected=URGENT")
    db = home.db()
    with db.unit_of_work() as uow:
        actions = [e.action for e in uow.audit.for_message(reference)]
    db.dispose()
    assert "intake.field_conflict" in actions


@pytest.mark.parametrize("variant", [
    {"crlf": False},
    {"qp": True, "body": "Crème brûlée — één"},
    {"mime_version": False},
    {"digest": "SHA512"},
    {"attachments": [("report.pdf", b"%PDF-1.4 binary \x00\x01\x02" * 50)]},
    {"subject": "=?utf-8?q?R=C3=A9sum=C3=A9?="},
])
def test_real_client_shapes_are_accepted(rig, variant):
    """LF-only, quoted-printable, no MIME-Version, SHA-512, attachments, encoded-word subjects: all verify."""
    home, keys, relay, hub = rig
    raw = signed(keys["police"], message_id=_mid(), **variant)
    if variant.get("crlf") is False:
        # A client's LF-only message file: its SMTP client turns line ends into CRLF on the wire (RFC 5321).
        assert b"\r" not in raw
        raw = raw.decode("ascii")
    code, text = hub.send(raw)
    assert code == 250, text


@pytest.mark.parametrize("who", ["customs", "subkey"])
def test_rsa_keys_and_signing_subkeys_are_bound_by_primary_fingerprint(rig, who):
    """An RSA-3072 key and a key that signs with a subkey are both recognised by their primary key."""
    home, keys, relay, hub = rig
    code, text = hub.send(signed(keys[who], message_id=_mid()))
    assert code == 250, text


@pytest.mark.parametrize("mode", ["combined", "encapsulated"])
def test_signed_and_encrypted_mail_is_accepted(rig, mode):
    """Encrypted to the hub, signed inside (combined or sign-then-encrypt): accepted, routing fields read inside."""
    home, keys, relay, hub = rig
    hub_public = home.gpg.export_public(home.fingerprint)
    raw = encrypted(keys["intel"], hub_public, mode=mode, message_id=_mid(),
                              keyword_lines={"Urgency": "FLASH", "Message-Kind": "request"})
    code, text = hub.send(raw)
    assert code == 250, text
    receipt = _receipt_for(relay, _ref(text), home.gpg)
    assert receipt.fields["X-Passerelle-Urgency"] == "FLASH; source=protected"


def test_messages_list_and_show(rig, capsys):
    """The CLI shows reference, partner, kind, urgency with source, due time, receipt status, audit trail."""
    from click.testing import CliRunner

    from hub.cli.main import main

    home, keys, relay, hub = rig
    code, text = hub.send(signed(keys["police"], message_id=_mid(),
                                           keyword_lines={"Urgency": "URGENT", "Message-Kind": "request"}))
    reference = _ref(text)
    _receipt_for(relay, reference, home.gpg)
    runner = CliRunner()
    for _ in range(50):  # the receipt's "sent" is recorded just after the relay's 250
        shown = json.loads(runner.invoke(main, ["messages", "show", reference, "--json",
                                                "--home", str(home.settings.home)]).output)
        if shown["receipt_status"] == "sent":
            break
        relay.wait_for(10_000, timeout=0.1)
    assert shown["partner"] == "police-fed" and shown["kind"] == "request"
    assert shown["urgency"] == "URGENT" and shown["urgency_source"] == "protected"
    assert shown["due_at"] and shown["receipt_status"] == "sent"
    actions = [e["action"] for e in shown["audit"]]
    assert actions[:1] == ["intake.accepted"] and "receipt.sent" in actions
    listed = json.loads(runner.invoke(main, ["messages", "list", "--json", "--home", str(home.settings.home)]).output)
    assert reference in [row["reference"] for row in listed]
    human = runner.invoke(main, ["messages", "show", reference, "--home", str(home.settings.home)]).output
    assert "CET" in human or "CEST" in human  # shown in Europe/Brussels


def test_ehlo_announces_size_and_starttls(rig):
    """EHLO offers STARTTLS before TLS and SIZE with the configured limit."""
    home, keys, relay, hub = rig
    with hub.connect(starttls=False) as client:
        assert client.has_extn("starttls")
    with hub.connect() as client:
        assert client.has_extn("size") and client.esmtp_features["size"] == str(MAX_BYTES)


def test_swaks_client_over_starttls(rig, short_tmp):
    """swaks, a real SMTP client, delivers a signed message over STARTTLS and gets the reference."""
    import shutil
    import subprocess

    if shutil.which("swaks") is None:
        pytest.fail("swaks is missing: `make test` installs it")
    home, keys, relay, hub = rig
    path = short_tmp / "msg.eml"
    path.write_bytes(signed(keys["police"], message_id=_mid()))
    result = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(hub.port), "--tls", "--from", keys["police"].email,
         "--to", HUB, "--data", f"@{path}", "--helo", "swaks.test", "--timeout", "30"],
        capture_output=True, text=True, timeout=60,
    )
    assert re.search(r"<~\s+250 2\.0\.0 Accepted as PSR-\d{4}-\d{6}", result.stdout), result.stdout[-2000:]


def test_connections_beyond_the_cap_get_421(short_tmp):
    """gateway.max_connections: one session too many is told to come back later, the others still work."""
    import smtplib

    from tests.hub.rig import home_with_police

    home, key = home_with_police(short_tmp)
    home.settings.gateway.max_connections = 2
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        first, second = hub.connect(), hub.connect()
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            hub.connect()
        assert refused.value.smtp_code == 421
        first.quit()
        second.quit()
        import time

        time.sleep(0.3)  # the server notices the closed sessions asynchronously
        code, text = hub.send(signed(key))
        assert code == 250, text
