"""The outbound SMTP client: relay replies classified, sessions reused and recovered."""

from __future__ import annotations

import pytest

from gateway import Relay, RelayPermanent, RelayTemporary
from gateway.capture import CaptureRelay

MAIL = b"Subject: x\r\n\r\nhello\r\n"


def _relay(capture: CaptureRelay) -> Relay:
    host, port = capture.address.split(":")
    return Relay(host, int(port), timeout_seconds=5)


def test_deferral_after_data_is_temporary_and_the_session_is_reused():
    """A 451 after DATA raises RelayTemporary; the next try on the same session succeeds."""
    with CaptureRelay() as capture:
        relay = _relay(capture)
        capture.defer(1)
        with pytest.raises(RelayTemporary) as info:
            relay.send("", "a@partner.test", MAIL)
        assert info.value.code == 451
        assert "captured" in relay.send("", "a@partner.test", MAIL)
        assert len(capture.messages) == 1 and capture.attempts == 2
        relay.close()


def test_refusal_is_permanent():
    with CaptureRelay() as capture:
        relay = _relay(capture)
        capture.refuse(1)
        with pytest.raises(RelayPermanent) as info:
            relay.send("", "a@partner.test", MAIL)
        assert info.value.code == 554


def test_no_relay_is_temporary_and_a_restarted_relay_is_found_again():
    """Connection refused is temporary; after the relay returns, a new session is opened."""
    with CaptureRelay() as capture:
        address = capture.address
        relay = _relay(capture)
        relay.send("", "a@partner.test", MAIL)
    with pytest.raises(RelayTemporary) as info:
        relay.send("", "a@partner.test", MAIL)
    assert info.value.code is None
    host, port = address.split(":")
    with CaptureRelay(port=int(port)) as capture:
        relay.send("", "a@partner.test", MAIL)
        assert len(capture.messages) == 1


def test_a_session_the_relay_dropped_is_replaced_without_deferring_the_mail():
    """The relay restarts between two mails: the second goes out on a new session, not as a 4xx deferral."""
    with CaptureRelay() as capture:
        address = capture.address
        relay = _relay(capture)
        relay.send("", "a@partner.test", MAIL)
    host, port = address.split(":")
    with CaptureRelay(port=int(port)) as capture:
        assert "captured" in relay.send("", "a@partner.test", MAIL)
        assert len(capture.messages) == 1 and capture.attempts == 1
        relay.close()


def test_a_kept_session_answered_421_is_replaced_and_the_mail_sent_once():
    """A relay that answers 421 (idle timeout) to MAIL on a kept session: a new session carries the mail, once."""
    from aiosmtpd.controller import Controller

    from gateway.capture import _free_port

    class TimesOut:
        def __init__(self) -> None:
            self.sessions: set[int] = set()
            self.received: list[bytes] = []

        async def handle_MAIL(self, server, session, envelope, address, options):
            if id(session) in self.sessions:  # this session was used before: it has "timed out"
                return "421 4.4.2 idle timeout"
            self.sessions.add(id(session))
            envelope.mail_from = address
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            self.received.append(envelope.original_content)
            return "250 2.0.0 queued"

    handler = TimesOut()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port("127.0.0.1"))
    controller.start()
    try:
        relay = Relay("127.0.0.1", controller.port, timeout_seconds=5)
        relay.send("", "a@partner.test", MAIL)
        assert "queued" in relay.send("", "a@partner.test", MAIL)
        assert len(handler.received) == 2 and len(handler.sessions) == 2
        relay.close()
    finally:
        controller.stop()


def test_dsn_is_asked_only_of_a_relay_that_offers_it():
    """With an ENVID and a relay offering DSN (RFC 3461): RET=HDRS, the ENVID as xtext, NOTIFY=SUCCESS,FAILURE; a
    relay that does not offer it gets no parameter (it would refuse them); without an ENVID, none either."""
    from gateway.outbound import xtext

    with CaptureRelay() as capture:
        relay = _relay(capture)
        relay.send("hub@ocam.test", "a@partner.test", MAIL, envelope_id="PSR-2026-000001.AB+=C")
        assert relay.offers_dsn()
        relay.send("hub@ocam.test", "a@partner.test", MAIL)
        asked, plain = capture.messages
        relay.close()
    assert asked.option("ENVID") == "PSR-2026-000001.AB+=C" and asked.option("RET") == "HDRS"
    assert asked.option("NOTIFY") == "SUCCESS,FAILURE" and (plain.mail_options, plain.rcpt_options) == ((), ())
    assert xtext("a+b=c é") == "a+2Bb+3Dc+20+E9"
    with CaptureRelay(offer_dsn=False) as capture:
        relay = _relay(capture)
        relay.send("hub@ocam.test", "a@partner.test", MAIL, envelope_id="PSR-2026-000001.AB")
        assert not relay.offers_dsn()
        (captured,) = capture.messages
        relay.close()
    assert (captured.mail_options, captured.rcpt_options) == ((), ())

