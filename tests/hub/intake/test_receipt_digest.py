"""The receipt says what its SHA-256 covers, in French, Dutch and English: the bytes of DATA as received, after
dot-unstuffing — a partner can check it against the message its client sent."""

from __future__ import annotations

import hashlib

from gateway.capture import CaptureRelay
from tests.hub.rig import Receipt, home_with_police, reference_in, signed
from tests.support.hubrig import RunningHub


def test_the_receipt_digest_is_over_the_message_as_sent_and_says_so(short_tmp):
    """Lines starting with a dot travel doubled on the wire (RFC 5321 §4.5.2); the digest is over the message
    with its single dots, as the client composed it."""
    home, police = home_with_police(short_tmp)
    raw = signed(police, body=".a line starting with a dot\n..and one with two\n.\nend\n")
    assert raw.endswith(b"\r\n") and b"\r\n..and" in raw
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(raw, mail_from=police.email)
        assert code == 250, text
        reference = reference_in(text)
        (captured,) = relay.wait_for(1)
    receipt = Receipt.read(captured.data, home.gpg)
    digest = hashlib.sha256(raw).hexdigest()
    assert receipt.fields["X-Passerelle-Reference"] == reference
    assert receipt.fields["X-Passerelle-Digest"] == f"sha256:{digest}"
    lines = receipt.text.splitlines()
    at = lines.index(f"SHA-256: {digest}")
    assert lines[at - 3].startswith("[FR] Empreinte SHA-256 du message tel que reçu : les octets transmis en DATA")
    assert lines[at - 2].startswith("[NL] SHA-256 van het bericht zoals ontvangen: de bytes verzonden in DATA")
    assert lines[at - 1] == ("[EN] SHA-256 of the message as received: the bytes sent in DATA, after dot-unstuffing "
                             "(RFC 5321 §4.5.2).")
