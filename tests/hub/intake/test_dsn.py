"""Delivery status notifications: real bounces parsed; one about a hub delivery is linked and alerts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto import Limits, Part
from crypto.mime import pgpmime
from gateway import Relay
from gateway.capture import CaptureRelay
from hub.intake import dsn
from hub.cli.main import main
from tests.conftest import INTEROP
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support.hubrig import RunningHub

BOUNCES = sorted((INTEROP / "mails" / "bounces").glob("*.eml"))


def _sample(path: Path) -> bytes:
    """A sample as an MTA sends it: CRLF line ends, and without the line of spaces one file starts with (a folded
    first line, which the gateway refuses as malformed)."""
    return path.read_bytes().lstrip().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _read(path: Path) -> Part:
    return pgpmime.read(_sample(path))


@pytest.mark.parametrize("path", [p for p in BOUNCES if dsn.is_dsn(_read(p))], ids=lambda p: p.name)
def test_real_rfc3464_bounces_are_parsed(path: Path):
    """Each real DSN yields the bounced message's Message-ID and a recipient with action and status code."""
    report = dsn.parse(_read(path), Limits())
    assert report is not None and report.original_message_id and report.original_message_id.startswith("<")
    assert report.recipients and report.recipients[0].action in ("failed", "delayed")
    assert report.recipients[0].status[:1] in ("4", "5") and "<" not in report.recipients[0].recipient


def _bounce(of_message_id: str, to: str, action="failed", status="5.1.1") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.partner.test\r\nTo: hub@ocam.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.partner.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.partner.test\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: hub@ocam.test\r\nMessage-ID: {of_message_id}\r\n"
        "--B--\r\n"
    ).encode()


def test_bounce_of_a_receipt_is_linked_and_raises_an_alert(short_tmp):
    home, key = home_with_police(short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key))
        reference = reference_in(text)
        (receipt,) = relay.wait_for(1, timeout=20)
        code, text = hub.send(_bounce(receipt.message["Message-ID"], key.email), mail_from="")
        assert code == 250 and reference in text, text
        unrelated = hub.send(_bounce("<not-ours@elsewhere.test>", key.email), mail_from="")
        assert unrelated[0] == 550 and "no message of this hub" in unrelated[1]
        spoofed = hub.send(_bounce(receipt.message["Message-ID"], key.email), mail_from="someone@partner.test")
        assert spoofed[0] == 550  # a report with a sender is ordinary mail: it must be signed
    shown = json.loads(CliRunner().invoke(main, ["messages", "show", reference, "--json",
                                                 "--home", str(home.settings.home)]).output)
    assert shown["receipt_status"] == "failed"
    bounced = [e for e in shown["audit"] if e["action"] == "alert.delivery_bounced"]
    assert bounced and bounced[0]["detail"]["status"] == "5.1.1" and bounced[0]["detail"]["authenticated"] is False


@pytest.mark.parametrize("path", sorted((INTEROP / "mails" / "not_bounces").glob("*")), ids=lambda p: p.name)
def test_messages_that_only_look_like_bounces_are_not_taken_for_reports(path: Path):
    assert not dsn.is_dsn(_read(path))


TEXT_BOUNCES = [p for p in BOUNCES if not dsn.is_dsn(_read(p))]


@pytest.mark.parametrize("path", TEXT_BOUNCES, ids=lambda p: p.name)
def test_free_text_bounces_yield_the_returned_message_id_when_they_quote_it(path: Path):
    """Bounces written for people (Gmail, qmail, Exim): the quoted Message-ID and a status, when present."""
    report = dsn.parse_text_bounce(_read(path))
    if path.name in ("tt_bounce_01.txt.eml", "tt_bounce_02.txt.eml"):  # they quote no Message-ID: unlinkable
        assert report is None
        return
    assert report is not None and report.original_message_id.startswith("<")
    assert report.recipients[0].action in ("failed", "delayed") and report.recipients[0].status[0] in "45"


def test_a_free_text_bounce_quoting_a_hub_message_is_linked(short_tmp):
    """Gmail's undeliverable notice rewritten to quote the hub's receipt: linked, receipt marked failed."""
    home, key = home_with_police(short_tmp)
    path = INTEROP / "mails" / "bounces" / "undeliverable_gmail.txt.eml"
    sample = _sample(path)
    original = dsn.parse_text_bounce(_read(path)).original_message_id.encode()
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key))
        reference = reference_in(text)
        (receipt,) = relay.wait_for(1, timeout=20)
        bounce = sample.replace(original, receipt.message["Message-ID"].encode()).replace(b"\r\n", b"\n")
        code, text = hub.send(bounce.replace(b"\n", b"\r\n"), mail_from="")
        assert code == 250 and reference in text, text
    shown = json.loads(CliRunner().invoke(main, ["messages", "show", reference, "--json",
                                                 "--home", str(home.settings.home)]).output)
    assert shown["receipt_status"] == "failed"
    assert [e["detail"]["format"] for e in shown["audit"] if e["action"] == "alert.delivery_bounced"] == ["text"]


def test_the_capture_relay_reports_success_as_the_destination_would():
    """Asked NOTIFY=SUCCESS, the capture relay hands back an RFC 3464 report: delivered, the ENVID it was given,
    the message's headers."""
    reports = []
    with CaptureRelay() as capture:
        capture.return_dsns(reports.append)
        host, port = capture.address.split(":")
        relay = Relay(host, int(port), timeout_seconds=5)
        relay.send("hub@ocam.test", "a@partner.test", b"Message-ID: <m1@ocam.test>\r\n\r\nx\r\n",
                   envelope_id="PSR-2026-000001.CD")
        relay.close()
    (raw,) = reports
    report = dsn.parse(pgpmime.read(raw), Limits())
    assert report.envelope_id == "PSR-2026-000001.CD" and report.original_message_id == "<m1@ocam.test>"
    assert [(r.recipient, r.action, r.status) for r in report.recipients] == [("a@partner.test", "delivered", "2.0.0")]
