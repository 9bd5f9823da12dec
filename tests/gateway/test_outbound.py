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
