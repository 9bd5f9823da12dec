"""OCAM's requests end to end: encrypted out, acknowledged (success DSN / MDN), answered on time, late, or held."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from store import Deadline
from tests.hub.rig import Receipt, home_with_police, new_message_id, reference_in, signed
from tests.support import mail
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg as run_gpg
from tests.support.keys import revoke

# The hub's frozen clock runs a day ahead of the real time, on a whole hour: rows that the CLI and the
# relay write with the real clock must never lie in the hub's future, however long the suite runs
# (a fixed date went stale; an hour ahead was overtaken by a long run).
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _send(home, tmp, *, urgency="URGENT", body="Question", extra=()):
    path = tmp / f"{uuid.uuid4().hex}.txt"
    path.write_text(body, encoding="utf-8")
    return CliRunner().invoke(main, ["send", "request", "--to", "police-fed", "--urgency", urgency,
                                     "--subject", "Vérification d'identité", "--body", str(path),
                                     "--home", str(home.settings.home), *extra])


def _deadline(home, reference) -> Deadline:
    """The request's clock; the partner's acknowledgement comes after the relay has the mail, so wait for it."""
    import time

    db = home.db()
    for _ in range(100):
        with db.reader() as uow:
            message = uow.messages.by_reference(reference)
            deadline = uow.deadlines.for_message(message.id)
        if deadline is not None:
            break
        time.sleep(0.05)
    db.dispose()
    return deadline


def _mdn(key, original_id: str) -> bytes:
    entity = (
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nDisplayed.\r\n"
        "--r\r\nContent-Type: message/disposition-notification\r\n\r\n"
        f"Reporting-UA: police.test; mutt\r\nFinal-Recipient: rfc822;{key.email}\r\n"
        f"Original-Message-ID: {original_id}\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
        "--r--\r\n"
    ).encode()
    return mail.signed_entity_mail(key, entity, subject="Read: Passerelle", message_id=new_message_id())


def _partner_server(relay, hub) -> None:
    """The relay plays the partner's mail server: a success DSN (RFC 3464) for what asks for one, back to the hub."""
    relay.return_dsns(lambda raw: hub.send(raw, mail_from=""))


def test_request_goes_out_encrypted_and_a_final_response_stops_the_clock(short_tmp):
    """Out: only the partner can read it, signed by the hub, asking the relay for DSNs. The destination's success
    DSN starts the clock; the MDN is recorded; the response (In-Reply-To) is on time and the receipt says so."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    canary = f"CANARY{uuid.uuid4().hex}"
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        _partner_server(relay, hub)
        result = _send(home, short_tmp, body=f"Merci de vérifier {canary}.")
        assert result.exit_code == 0, result.output
        reference = reference_in(result.output)
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
        assert out.rcpt_tos == (key.email,) and canary.encode() not in out.data
        request_id = out.message["Message-ID"]
        run_gpg(key.home, "--import", data=home.gpg.export_public(home.fingerprint))
        status = run_gpg(key.home, "--status-fd", "1", "--decrypt", data=out.data)
        assert canary.encode() in status and f"Request-Ref: {reference}".encode() in status
        assert f"VALIDSIG {home.fingerprint}".encode() in status or b"GOODSIG" in status
        assert out.option("ENVID").startswith(reference + ".") and out.option("NOTIFY") == "SUCCESS,FAILURE"
        assert out.option("RET") == "HDRS"
        deadline = _deadline(home, reference)
        assert deadline.started_by == "dsn" and deadline.owed_by == "partner"
        assert deadline.due_at - deadline.started_at == timedelta(days=3)

        code, text = hub.send(_mdn(key, request_id))
        assert code == 250, text
        clock.advance(timedelta(days=2))
        code, text = hub.send(signed(key, headers={"In-Reply-To": request_id},
                                     keyword_lines={"Message-Kind": "response"}))
        assert code == 250, text
        receipts = relay.wait_for(2, timeout=20)
    receipt = Receipt.read(receipts[-1].data, home.gpg)
    assert receipt.fields["X-Passerelle-Answers"] == f"{reference}; status=on-time"
    deadline = _deadline(home, reference)
    assert deadline.state == "answered" and deadline.on_time is True
    shown = json.loads(CliRunner().invoke(main, ["messages", "show", reference, "--json",
                                                 "--home", str(home.settings.home)]).output)
    acks = [e["detail"]["source"] for e in shown["audit"] if e["action"] == "request.acknowledged"]
    assert acks == ["dsn", "mdn"]
    assert shown["deadline"]["started_by"] == "dsn" and shown["deadline"]["on_time"] is True
    assert shown["state"] == "sent" and shown["acknowledgement"]["state"] == "acknowledged"
    human = CliRunner().invoke(main, ["messages", "show", reference, "--home", str(home.settings.home)]).output
    assert "by a success DSN from the destination" in human and "(on time)" in human
    assert "AR Art. 11 §3: URGENT, 3 days" in human


def test_late_and_partial_responses(short_tmp):
    """A partial response keeps the clock running; a final one a second after the due time is late."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        _partner_server(relay, hub)
        reference = reference_in(_send(home, short_tmp, urgency="FLASH").output)
        hub.hub.transport.notify("outbound")
        relay.wait_for(1, timeout=20)
        due = _deadline(home, reference).due_at
        clock.set(due - timedelta(hours=1))
        code, _ = hub.send(signed(key, keyword_lines={"Message-Kind": "response", "Request-Ref": reference,
                                                      "Response-Status": "partial"}))
        assert code == 250
        relay.wait_for(2, timeout=20)
        assert _deadline(home, reference).state == "open"  # the partial receipt is out: processed, clock runs
        clock.set(due + timedelta(seconds=1))
        code, _ = hub.send(signed(key, keyword_lines={"Message-Kind": "response", "Request-Ref": reference}))
        assert code == 250
        receipts = relay.wait_for(3, timeout=20)
    deadline = _deadline(home, reference)
    assert deadline.state == "answered" and deadline.on_time is False
    answers = [Receipt.read(r.data, home.gpg).fields["X-Passerelle-Answers"] for r in receipts[1:]]
    assert answers == [f"{reference}; status=partial", f"{reference}; status=late; delay=1s"]


def test_response_to_an_unknown_request_is_accepted_and_flagged(short_tmp):
    home, key = home_with_police(short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, keyword_lines={"Message-Kind": "response", "Request-Ref": "PSR-2026-999999"}))
        assert code == 250, text
        (captured,) = relay.wait_for(1, timeout=20)
    receipt = Receipt.read(captured.data, home.gpg)
    assert receipt.fields["X-Passerelle-Answers"] == "none; status=unknown-request"


def test_request_to_a_revoked_key_is_held_never_sent_in_clear(short_tmp):
    home, key = home_with_police(short_tmp)
    revoked = short_tmp / "revoked.asc"
    revoked.write_bytes(revoke(key))
    assert CliRunner().invoke(main, ["partner", "update-key", "police-fed", "--key", str(revoked),
                                     "--home", str(home.settings.home)]).exit_code == 0
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        result = _send(home, short_tmp, body="must not leave")
        assert result.exit_code == 3 and "HELD" in result.output
        hub.hub.transport.notify("outbound")
        assert relay.wait_for(1, timeout=1.5) == []
    reference = reference_in(result.output)
    shown = json.loads(CliRunner().invoke(main, ["messages", "show", reference, "--json",
                                                 "--home", str(home.settings.home)]).output)
    assert shown["state"] == "held"
    assert "alert.request_held" in [e["action"] for e in shown["audit"]]


def test_judging_a_response_to_the_second():
    """Exactly at the due time is on time; one second later is late; only the party that owes stops the clock."""
    from hub.intake.responses import RequestOnFile, judge

    due = T0 + timedelta(days=1)
    request = RequestOnFile(1, "PSR-2026-000001", 7, "partner", 42, due, "open")
    assert judge(request, partner_id=42, received_at=due, status="final").status == "on-time"
    late = judge(request, partner_id=42, received_at=due + timedelta(seconds=1), status="final")
    assert (late.status, late.delay_seconds) == ("late", 1)
    assert judge(request, partner_id=42, received_at=due, status="partial").status == "partial"
    assert judge(request, partner_id=43, received_at=due, status="final").status == "not-owed"
    closed = RequestOnFile(1, "PSR-2026-000001", 7, "partner", 42, due, "answered")
    assert judge(closed, partner_id=42, received_at=due, status="final").status == "closed-request"


def test_response_while_the_hub_was_down_and_to_a_closed_request(short_tmp):
    """The hub stops; the due time passes; the response that arrives after the restart is late, by its
    receipt time. A second final response finds the request closed: accepted and flagged."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    attachment = short_tmp / "photo.jpg"
    attachment.write_bytes(b"\xff\xd8\xff binary")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        _partner_server(relay, hub)
        result = _send(home, short_tmp, extra=("--attach", str(attachment)))
        reference = reference_in(result.output)
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
        due = _deadline(home, reference).due_at
    assert b"photo.jpg" not in out.data  # even the attachment's name travels encrypted
    run_gpg(key.home, "--import", data=home.gpg.export_public(home.fingerprint))
    assert b'filename="photo.jpg"' in run_gpg(key.home, "--decrypt", data=out.data)
    clock.set(due + timedelta(hours=5))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        for _ in range(2):
            code, _ = hub.send(signed(key, keyword_lines={"Message-Kind": "response", "Request-Ref": reference}))
            assert code == 250
        receipts = relay.wait_for(2, timeout=20)
    answers = sorted(Receipt.read(r.data, home.gpg).fields["X-Passerelle-Answers"] for r in receipts)
    assert answers == [f"{reference}; status=closed-request", f"{reference}; status=late; delay=18000s"]


def test_held_request_is_released_when_the_partner_key_is_renewed(short_tmp):
    """The contact point's key expired: the request is held; `partner update-key` with the renewed key
    encrypts and queues it — nothing lost, nothing in clear."""
    import time

    from tests.hub.rig import make_home
    from tests.support.keys import make_key

    home = make_home(short_tmp)
    key = make_key(short_tmp, "police@partner.test", expire="seconds=3")
    home.register(key, "police-fed", "police")
    time.sleep(4)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        result = _send(home, short_tmp, body="held for a while")
        assert result.exit_code == 3 and "HELD" in result.output and "expired" in result.output
        reference = reference_in(result.output)
        run_gpg(key.home, "--quick-set-expire", key.fingerprint, "1y")
        listing = run_gpg(key.home, "--list-keys", "--with-colons", key.fingerprint).decode().splitlines()
        subkey = [line.split(":")[9] for line in listing if line.startswith("fpr:")][1]
        run_gpg(key.home, "--quick-set-expire", key.fingerprint, "1y", subkey)  # and its expired encryption subkey
        renewed = short_tmp / "renewed.asc"
        renewed.write_bytes(run_gpg(key.home, "--armor", "--export", key.fingerprint))
        updated = CliRunner().invoke(main, ["partner", "update-key", "police-fed", "--key", str(renewed),
                                            "--home", str(home.settings.home)])
        assert updated.exit_code == 0 and f"held request {reference} released" in updated.output
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
    assert out.rcpt_tos == (key.email,) and b"held for a while" not in out.data
    run_gpg(key.home, "--import", data=home.gpg.export_public(home.fingerprint))
    assert b"held for a while" in run_gpg(key.home, "--decrypt", data=out.data)
