"""Every refusal reason, at SMTP time, with its code, enhanced code and words — and its record in the audit log."""

from __future__ import annotations

import re

import pytest

from gateway.capture import CaptureRelay
from hub.clock import SystemClock
from store import Partner
from tests.conftest import INTEROP
from tests.hub.rig import make_home, partner, new_message_id, signed
from tests.support import keys as testkeys
from tests.support import mail
from tests.support.hubrig import RunningHub

MAX_BYTES = 200_000


_mid = new_message_id


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp, max_message_bytes=MAX_BYTES, max_mime_depth=5)
    k = {
        "police": partner(module_tmp, "police"),
        "stranger": partner(module_tmp, "stranger"),
        "revoked": partner(module_tmp, "revoked"),
        "expired": testkeys.expired_key(module_tmp, "expired@partner.test"),
    }
    home.register(k["police"], "police-fed", "police")
    home.register(k["revoked"], "revoked-svc", "prisons")
    # A key registered while valid that has expired since: bind it directly, as registration would have.
    home.gpg.import_keys(k["expired"].public)
    info = home.gpg.key(k["expired"].fingerprint)
    db = home.db()
    with db.unit_of_work() as uow:
        now = SystemClock().now()
        uow.partners.add(Partner(name="expired-svc", kind="worship", email=k["expired"].email,
                                 fingerprint=info.fingerprint, key_created_at=info.created,
                                 key_expires_at=info.expires, key_revoked=False, created_at=now, updated_at=now))
        uow.commit()
    db.dispose()
    # Sign with the revoked partner's key while it is still valid, then import its revocation.
    revoked_mail = signed(k["revoked"], message_id=_mid())
    from click.testing import CliRunner

    from hub.cli.main import main

    revocation = module_tmp / "revoked.asc"
    revocation.write_bytes(testkeys.revoke(k["revoked"]))
    result = CliRunner().invoke(main, ["partner", "update-key", "revoked-svc", "--key", str(revocation),
                                       "--home", str(home.settings.home)])
    assert result.exit_code == 0 and "REVOKED" in result.output, result.output
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, k, hub, revoked_mail


def _refused(hub, raw: bytes, mail_from="police@partner.test", **kw) -> tuple[int, str]:
    code, text = hub.send(raw, mail_from=mail_from, **kw)
    assert code >= 400, f"accepted: {code} {text}"
    return code, text


def _last_refusal(home) -> dict:
    db = home.db()
    with db.unit_of_work() as uow:
        event = uow.audit.recent(action="intake.refused", limit=1)[0]
        detail = dict(event.detail)
    db.dispose()
    return detail


def test_unsigned(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, mail.unsigned_mail(sender=k["police"].email))
    assert (code, text[:5]) == (550, "5.7.1") and "not signed" in text
    assert _last_refusal(home)["reason"] == "unsigned"


def test_inline_pgp_says_use_pgp_mime(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, mail.inline_signed_mail(k["police"], message_id=_mid()))
    assert code == 550 and "PGP/MIME" in text


def test_bad_signature(rig):
    """One byte changed in the signed body after signing."""
    home, k, hub, _ = rig
    raw = signed(k["police"], message_id=_mid(), body="Original text of the request")
    tampered = raw.replace(b"Original text", b"Altered! text")
    assert tampered != raw
    code, text = _refused(hub, tampered)
    assert (code, text[:5]) == (550, "5.7.7") and "invalid" in text


def test_unknown_signer(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["stranger"], message_id=_mid()))
    assert code == 550 and "not registered" in text


def test_expired_key(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["expired"], message_id=_mid()))
    assert code == 550 and "expired" in text


def test_revoked_key(rig):
    home, k, hub, revoked_mail = rig
    code, text = _refused(hub, revoked_mail)
    assert code == 550 and "revoked" in text


def test_signer_not_matching_from(rig):
    """Police's key signing a message whose From is someone else."""
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["police"], sender="chief@partner.test", message_id=_mid()))
    assert code == 550 and "does not match the From" in text


def test_content_outside_the_signed_part(rig):
    """A signed message wrapped in multipart/mixed with an unsigned footer part."""
    home, k, hub, _ = rig
    original = signed(k["police"], message_id=_mid())
    head, _, body = original.partition(b"\r\n\r\n")
    ctype = re.search(rb"Content-Type: multipart/signed.*?(?=\r\n[^ \t]|\Z)", head, re.S).group(0)
    outer_head = head.replace(ctype, b'Content-Type: multipart/mixed; boundary="OUTER"')
    wrapped = (outer_head + b"\r\n\r\n--OUTER\r\n" + ctype + b"\r\n\r\n" + body +
               b"\r\n--OUTER\r\nContent-Type: text/plain\r\n\r\nUnsigned footer added on the way\r\n--OUTER--\r\n")
    code, text = _refused(hub, wrapped)
    assert code == 550 and "outside the signed part" in text


def test_eight_bit_data_in_signed_part(rig):
    """Raw 8-bit bytes without a transfer encoding inside the signed part: malformed (RFC 3156 wants 7-bit)."""
    home, k, hub, _ = rig
    raw = signed(k["police"], message_id=_mid(), body="plain ascii body here")
    raw = raw.replace(b"plain ascii body here", "plain \u00e9\u00e9 body here".encode("latin-1"))
    code, text = _refused(hub, raw)
    assert (code, text[:5]) == (550, "5.6.0") and "Malformed" in text


def test_encoded_newline_in_header(rig):
    """An encoded-word that decodes to CR/LF in a header is refused as malformed."""
    home, k, hub, _ = rig
    raw = signed(k["police"], message_id=_mid(), subject="=?utf-8?q?hello=0D=0ABcc=3A_x=40evil.test?=")
    code, text = _refused(hub, raw)
    assert code == 550 and "Malformed" in text


def test_mime_nesting_too_deep(rig):
    home, k, hub, _ = rig
    inner = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for level in range(8):
        inner = (f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode() + inner
                 + f"\r\n--b{level}--\r\n".encode())
    raw = (b"From: police@partner.test\r\nTo: hub@ocam.test\r\nMessage-ID: " + _mid().encode()
           + b"\r\nMIME-Version: 1.0\r\n" + inner)
    code, text = _refused(hub, raw)
    assert code == 550 and ("deeper than 5" in text or "not signed" in text)


def test_too_large_is_refused_with_the_limit(rig):
    home, k, hub, _ = rig
    raw = signed(k["police"], message_id=_mid(), body="x" * 70 + ("\n" + "y" * 70) * 3000)
    assert len(raw) > MAX_BYTES
    code, text = _refused(hub, raw)
    assert (code, text[:5]) == (552, "5.3.4") and str(MAX_BYTES) in text
    assert _last_refusal(home)["reason"] == "too_large"


def test_missing_message_id(rig):
    home, k, hub, _ = rig
    raw = signed(k["police"], message_id=_mid())
    raw = re.sub(rb"(?m)^Message-ID: [^\r\n]*\r\n", b"", raw, count=1)
    code, text = _refused(hub, raw)
    assert code == 550 and "Message-ID" in text


def test_replay_of_message_id_and_of_signature(rig):
    """The same message twice is refused; so is the same signed part under a new outer Message-ID."""
    home, k, hub, _ = rig
    mid = _mid()
    raw = signed(k["police"], message_id=mid)
    assert hub.send(raw)[0] == 250
    code, text = _refused(hub, raw)
    assert "Message-ID" in text and "Already accepted" in text
    code, text = _refused(hub, raw.replace(mid.encode(), _mid().encode(), 1))
    assert "signature" in text and "Already accepted" in text


def test_foreign_embargo_from_police_is_refused(rig):
    """Law Art. 12: only intelligence, customs or foreign affairs may declare a foreign embargo."""
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["police"], message_id=_mid(), keyword_lines={"Embargo": "foreign"}))
    assert code == 550 and "Art. 12" in text


def test_unknown_urgency_value_is_refused_not_guessed(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["police"], message_id=_mid(), keyword_lines={"Urgency": "ASAP"}))
    assert code == 550 and "Urgency" in text and "FLASH" in text


def test_rcpt_to_another_address(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["police"], message_id=_mid()), rcpt="someone@elsewhere.test")
    assert (code, text[:5]) == (550, "5.1.1")


def test_mail_before_starttls(rig):
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["police"], message_id=_mid()), starttls=False)
    assert code == 530 and "STARTTLS" in text


@pytest.mark.parametrize("sample, reason", [
    ("signed-inline/thunderbird.eml", "inline_pgp"),
    ("plain/thunderbird.eml", "unsigned"),
    ("signed-mime/thunderbird.eml", "unknown_signer"),
    ("encrypted-mime/thunderbird.eml", "undecryptable"),
    ("encrypted-inline/thunderbird.eml", "inline_pgp"),
])
def test_real_client_samples_get_the_right_reason(rig, sample, reason):
    """Thunderbird's real messages: inline, plain, signed by a stranger, encrypted to another key."""
    home, k, hub, _ = rig
    raw = (INTEROP / "mails" / sample).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    code, _text = _refused(hub, raw, mail_from="paz@nadir.org")
    assert code == 550
    assert _last_refusal(home)["reason"] == reason


def test_a_reply_by_shaped_like_a_date_that_is_none_is_refused_at_smtp_time(rig):
    """The due time is fixed with the acceptance (its event states it): a 13th month is refused, never a 250
    followed by no receipt."""
    home, k, hub, _ = rig
    code, text = _refused(hub, signed(k["police"], message_id=_mid(),
                                      keyword_lines={"Message-Kind": "request", "Reply-By": "2026-13-45"}))
    assert code == 550 and text.startswith("5.6.0") and "Reply-By" in text
