"""Hostile input through a real smtplib client against the real hub (issue 13, items 6-11): every crafted input
gets 250 or a permanent 5xx with its reason, never 451; the session goes on after each verdict; costly input is
refused by a limit before any signature check; the bounce branch keeps the same limits; the receipt quotes only
a valid msg-id; and every 250 is followed by its signed receipt."""

from __future__ import annotations

import re
import time

import pytest

from gateway.capture import CaptureRelay
from hub.intake.msgid import MAX_LENGTH
from tests.hub.rig import Receipt, encrypted, make_home, new_message_id, partner, reference_in, signed
from tests.support import mail
from tests.support.hubrig import RunningHub


@pytest.fixture(scope="module")
def rig(module_tmp):
    home = make_home(module_tmp)
    key = partner(module_tmp, "police")
    home.register(key, "police-fed", "police")
    government = partner(module_tmp, "minister")
    home.register(government, "minister-office", "government")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, key, government, hub, relay


def _refusals(home, reason: str) -> int:
    db = home.db()
    with db.unit_of_work() as uow:
        count = sum(1 for e in uow.audit.recent(action="intake.refused", limit=5000) if e.detail.get("reason") == reason)
    db.dispose()
    return count


def _session(hub, items: list[tuple[bytes, str]]) -> list[tuple[int, str]]:
    """Several transactions in ONE session (no RSET between them): the reply to each DATA."""
    out = []
    with hub.connect() as client:
        for raw, sender in items:
            code, text = client.mail(sender)
            assert code == 250, (code, text)  # the previous verdict, whatever it was, reset the session
            assert client.rcpt(hub.settings.hub.address)[0] == 250
            code, text = client.data(raw)
            out.append((code, text.decode()))
    return out


def _receipt_for(home, relay, message_id: str, timeout: float = 30) -> Receipt:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for captured in relay.messages:
            if captured.message.get("In-Reply-To") == message_id:
                return Receipt.read(captured.data, home.gpg)
        time.sleep(0.1)
    raise AssertionError(f"no receipt for {message_id}")


def _with_header(raw: bytes, line: bytes) -> bytes:
    """*raw* with one more outer header field (unsigned), before Content-Type."""
    return raw.replace(b"\r\nMIME-Version:", b"\r\n" + line + b"\r\nMIME-Version:", 1)


# -- item 8: input errors are 5xx with a reason, and the session goes on ------------------------------------

def _input_errors(key, government) -> list[tuple[bytes, str, str]]:
    """(message, sender, words of the refusal): each once got 451, or can raise in a reader of the bytes."""
    s = key.email
    return [
        (_with_header(signed(key, message_id=new_message_id()), "Urgency: FLASH\xe9".encode("latin-1")), s, "8-bit"),
        (_with_header(signed(key, message_id=new_message_id()), "X-Note: caf\u00e9".encode()), s, "8-bit"),
        (_with_header(signed(key, message_id=new_message_id()), b"Urgency: FL\x1bASH"), s, "Invalid Urgency"),
        (b"From: mailer@mx.test\r\nContent-Type: text/plain; charset=\xe9\xe9\r\n\r\nbounce\r\n", "<>", "8-bit"),
        (b"From: mailer@mx.test\r\nContent-Type: text/plain; charset=idna\r\nMessage-ID: <b1@mx.test>\r\n\r\n"
         b"\xff\xfe Message-ID: <x@y>\r\n", "<>", "no message of this hub"),
        (b"From: mailer@mx.test\r\nContent-Type: text/plain; charset=rot13\r\n\r\nMessage-ID: <r@ocam.test>\r\n", "<>",
         "no message of this hub"),
        (signed(government, message_id=new_message_id(), keyword_lines={
            "Message-Kind": "request", "Reply-By": "9999-12-31T23:59:59+00:00"}), government.email, "Invalid Reply-By"),
        (signed(government, message_id=new_message_id(), keyword_lines={
            "Message-Kind": "request", "Reply-By": "0001-01-01T00:00+01:00"}), government.email, "Invalid Reply-By"),
        (signed(government, message_id=new_message_id(), keyword_lines={
            "Message-Kind": "request", "Reply-By": "2026-12-01T12:00+25:00"}), government.email, "Invalid Reply-By"),
        (_signature_hash(signed(key, message_id=new_message_id()), 99), s, "hash algorithm 99"),
        (_signature_hash(signed(key, message_id=new_message_id()), 12), s, "hash algorithm 12"),
        (_signature_hash(signed(key, message_id=new_message_id()), 10), s, "micalg=pgp-sha256"),
        (signed(key, message_id=new_message_id(), digest="SHA512").replace(b"micalg=pgp-sha512", b"micalg=pgp-sha1"),
         s, "micalg=pgp-sha1"),
    ]


def _signature_hash(raw: bytes, hash_id: int) -> bytes:
    """*raw* with its signature packet's hash algorithm byte set to *hash_id* (armor re-made)."""
    from crypto.openpgp.packets import armor, dearmor

    found = re.search(rb"-----BEGIN PGP SIGNATURE-----.*?-----END PGP SIGNATURE-----\r\n", raw, re.S)
    binary = bytearray(dearmor(found.group(0)))
    assert binary[0] in (0x88, 0xC2)  # a signature packet with a one-octet length: its body starts at 2
    binary[2 + 3] = hash_id  # version, type, public-key algorithm, hash algorithm
    return raw.replace(found.group(0), armor(bytes(binary)).replace(b"\n", b"\r\n"))


def test_input_errors_are_permanent_refusals_and_the_session_goes_on(rig):
    """Each sample once answered 451 (UnicodeEncodeError, AttributeError, gpg silent on an unknown hash) or can
    raise in a reader; now each is a 5xx naming what is wrong, and in the same session the next MAIL is taken
    (no 503) and a good message is accepted."""
    home, key, government, hub, relay = rig
    cases = _input_errors(key, government)
    items = []
    for raw, sender, _words in cases:
        items += [(raw, sender), (signed(key, message_id=new_message_id()), key.email)]
    replies = _session(hub, items)
    for (raw, sender, words), (code, text), (good_code, good_text) in zip(cases, replies[::2], replies[1::2]):
        assert 500 <= code < 600 and words in text, (words, code, text)
        assert text.isascii() and "\r" not in text and "\n" not in text
        assert good_code == 250, good_text


@pytest.mark.parametrize("charset", ["idna", "rot13", "uu", "utf-7", "x-no-such-charset", "utf-8\\", "hz"])
def test_a_hostile_charset_is_read_without_raising(rig, charset):
    """The protected text part's charset names a codec that cannot decode (idna has no "replace"), no text
    codec (rot13, uu) or nothing: it is read as UTF-8 and the message accepted with its routing fields."""
    home, key, government, hub, relay = rig
    message_id = new_message_id()
    entity = (f"Content-Type: text/plain; charset=\"{charset}\"\r\n\r\nUrgency: FLASH\r\n\r\n"
              f"Text {message_id}\r\n").encode()
    code, text = hub.send(mail.signed_entity_mail(key, entity, message_id=message_id), mail_from=key.email)
    assert code == 250, text
    receipt = _receipt_for(home, relay, message_id)
    assert receipt.fields["X-Passerelle-Urgency"] == "FLASH; source=protected"


# -- item 9: the receipt quotes only a valid msg-id; every 250 gets its receipt ------------------------------

@pytest.mark.parametrize("field", [
    "{id}\r\n (a comment after it)", "(before) {id}", "  {id}  ", "{id} (one) (two)", "{id}\t(tab folded)",
])
def test_a_message_id_with_comments_is_accepted_and_the_receipt_quotes_the_msg_id_alone(rig, field):
    """A Message-ID folded with RFC 5322 comments around its msg-id once got 250 and never a receipt; now the
    receipt arrives, signed, and quotes <left@right> only (the comment text is not repeated inside it)."""
    home, key, government, hub, relay = rig
    message_id = new_message_id()
    raw = signed(key, message_id=field.format(id=message_id))
    code, text = hub.send(raw, mail_from=key.email)
    assert code == 250, text
    receipt = _receipt_for(home, relay, message_id)
    assert receipt.signature_status == "good" and receipt.fields["Original-Message-ID"] == message_id
    assert receipt.message["References"] == message_id and "comment" not in receipt.raw.decode("ascii", "replace")


@pytest.mark.parametrize("field", [
    "<a b@partner.test>", "<two@partner.test> <ids@partner.test>", "no-brackets@partner.test", "<@partner.test>",
    "<left@>", '<"quoted local"@partner.test>', "<a@b> (nested (comment))", "<a@b> trailing words",
    "<" + "x" * MAX_LENGTH + "@partner.test>", "<a@b>\r\n <c@d>", "<a\\@b@c>", "<a@b>>", "<<a@b>",
])
def test_a_message_id_that_is_not_one_msg_id_is_refused_at_smtp(rig, field):
    home, key, government, hub, relay = rig
    before = _refusals(home, "bad_message_id")
    code, text = hub.send(signed(key, message_id=field), mail_from=key.email)
    assert (code, text[:5]) == (550, "5.6.0") and "not one msg-id" in text, text
    assert _refusals(home, "bad_message_id") == before + 1


def test_every_250_of_a_mixed_stream_gets_its_receipt(rig):
    """Good, crafted and refused messages in one session: each 250 is followed by one signed receipt that names
    its reference and quotes its msg-id."""
    home, key, government, hub, relay = rig
    accepted = {}
    items = []
    for i in range(12):
        message_id = new_message_id()
        raw = signed(key, message_id=message_id if i % 3 else f"{message_id} (c{i})", keyword_lines={"Urgency": "URGENT"})
        if i % 4 == 1:
            raw = raw.replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\r\n")  # refused: bare CR
        items.append((raw, key.email))
        accepted[message_id] = None
    for (raw, _sender), message_id, (code, text) in zip(items, list(accepted), _session(hub, items)):
        if code == 250:
            accepted[message_id] = reference_in(text)
        else:
            assert code == 550 and "bare CR" in text
    for message_id, reference in accepted.items():
        if reference is not None:
            receipt = _receipt_for(home, relay, message_id)
            assert receipt.fields["X-Passerelle-Reference"] == reference and receipt.signature_status == "good"
    assert sum(r is not None for r in accepted.values()) == 9


# -- item 11: one reading: what two readers could read differently is refused ---------------------------------

def _ambiguous(key) -> list[tuple[bytes, str]]:
    raw = signed(key, message_id=new_message_id())
    ctype = re.search(rb'boundary="([^"]+)"', raw)
    b = ctype.group(1)
    return [
        # The sample: a bare CR in the header block; Python's email saw a text/plain message with unsigned text.
        (raw.replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\r\n"), "bare CR"),
        (raw.replace(b"\r\nTo: ", b"\rX-Hidden: 1\r\nTo: "), "bare CR"),
        (raw.replace(b"\r\n--" + b + b"\r\nContent-Type: application/pgp-signature",
                     b"\r--" + b + b"\r\nContent-Type: application/pgp-signature"), "bare CR"),
        (raw.replace(b"Subject: Test", b"Subject: Te\x00st"), "NUL"),
        (raw.replace(b'boundary="' + b + b'"', b'boundary="' + b + b'"; boundary="other"'), "two boundary"),
        (raw.replace(b'protocol="application/pgp-signature";', b'protocol="application/pgp-signature"; '
                     b'protocol="application/pgp-signature";'), "two protocol"),
        (raw + b"--" + b + b"\r\nContent-Type: text/plain\r\n\r\nUnsigned text after the end\r\n--" + b + b"--\r\n",
         "follows the closing"),
        (_with_header(raw, b"Content-Transfer-Encoding: base64"), "Content-Transfer-Encoding base64"),
        (_with_header(raw, b"Content-Transfer-Encoding: quoted-printable"), "never encoded"),
        (_with_header(raw, b"From: other@partner.test"), "more than one From"),
        (_with_header(raw, b"Message-ID: <second@partner.test>"), "more than one Message-ID"),
        (raw.replace(b"micalg=pgp-sha256", b"micalg=pgp-sha512"), "micalg=pgp-sha512"),
        (raw[: raw.rindex(b"--" + b + b"--")], "no closing boundary"),
    ]


def test_structures_two_readers_could_read_differently_are_refused(rig):
    home, key, government, hub, relay = rig
    cases = _ambiguous(key)
    for (raw, words), (code, text) in zip(cases, _session(hub, [(raw, key.email) for raw, _ in cases])):
        assert (code, text[:5]) == (550, "5.6.0") and words in text, (words, code, text)


def _armor(raw: bytes) -> bytes:
    return re.search(rb"-----BEGIN PGP (SIGNATURE|MESSAGE)-----.*?-----END PGP \1-----\r\n", raw, re.S).group(0)


def _armor_variants(armored: bytes) -> list[tuple[bytes, str]]:
    """(armor, words of the refusal): shapes gpg reads with "Good signature" and exit code 2, or as more than
    one signature, or not at all, while the in-process reading (or gpg's status alone) once said good."""
    lines = armored.split(b"\r\n")
    label = lines[0][len(b"-----BEGIN PGP "):-5]
    crc = next(i for i, line in enumerate(lines) if line.startswith(b"=") and len(line) == 5)
    return [
        (armored.replace(b"-----\r\n\r\n", b"-----\r\n", 1), "no blank line ends them"),
        (armored.replace(b"-----\r\n\r\n", b"-----\r\n\f\r\n", 1), "no blank line ends them"),
        (armored.replace(b"-----\r\n\r\n", b"-----\r\nComment:x\r\n\r\n", 1), "not \"Key: value\""),
        (armored.replace(lines[2], lines[2][:7] + b";" + lines[2][7:]), "not base64"),
        (armored.replace(lines[3], lines[3][:7] + b".." + lines[3][9:]), "not base64"),
        (armored + armored, "one armor block only"),
        (armored.replace(b"-----BEGIN PGP " + label + b"-----", b"-----BEGIN PGP " + label + b"-----x"), "no -----BEGIN"),
        (armored.replace(lines[crc] + b"\r\n", b""), "not padded") if not lines[crc - 1].endswith(b"=") else
        (armored.replace(lines[crc], lines[crc][:4]), "checksum"),
    ]


def test_an_armor_gpg_reads_with_a_complaint_is_refused_and_one_it_reads_alike_accepted(rig):
    """The fuzz harness (passerelle bench fuzz) found 250s for signatures whose armor gpg reads with "Good
    signature" and exit code 2 (a character skipped, the first line of base64 taken for an armor header, the END
    line read as data) or as two signatures: the signature and the encrypted part are read as gpg reads armor
    without complaint, or refused 5xx; armor gpg reads alike (CRLF, an armor header, other line widths) is accepted."""
    home, key, government, hub, relay = rig
    items, words = [], []
    for raw in (signed(key, message_id=new_message_id()),
                encrypted(key, home.gpg.export_public(home.fingerprint), message_id=new_message_id())):
        armored = _armor(raw)
        for variant, why in _armor_variants(armored):
            items.append((raw.replace(armored, variant), key.email))
            words.append(why)
    for why, (code, text) in zip(words, _session(hub, items)):
        assert (code, text[:5]) == (550, "5.6.0") and why in text, (why, code, text)
    raw = signed(key, message_id=new_message_id())
    armored = _armor(raw)
    data = b"".join(armored.split(b"\r\n")[2:-3])
    rewrapped = (b"-----BEGIN PGP SIGNATURE-----\r\nComment: one armor header\r\n\r\n"
                 + b"\r\n".join(data[i:i + 40] for i in range(0, len(data), 40)) + b"\r\n"
                 + b"\r\n".join(armored.split(b"\r\n")[-3:]))
    code, text = hub.send(raw.replace(armored, rewrapped), mail_from=key.email)
    assert code == 250, text


# -- items 6 and 10: costly input is refused by a limit, on every branch --------------------------------------

def _deep(levels: int) -> bytes:
    inner = b"Content-Type: text/plain\r\n\r\nMessage-ID: <r@ocam.test>\r\n"
    for level in range(levels):
        inner = (f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode() + inner
                 + f"\r\n--b{level}--\r\n".encode())
    return b"From: mailer@mx.test\r\nMessage-ID: <deep@mx.test>\r\nMIME-Version: 1.0\r\n" + inner


def _many_parts(count: int) -> bytes:
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(count))
    return (b"From: mailer@mx.test\r\nMessage-ID: <many@mx.test>\r\nContent-Type: multipart/report; "
            b"report-type=delivery-status; boundary=B\r\n\r\n" + parts + b"--B--\r\n")


def test_costly_input_is_refused_by_a_limit_before_any_signature_check(rig):
    """Header blocks without their empty line, a million fields, floods of short lines, folded giant fields, a
    part's own header bomb: each refused with the limit it broke, a few per session (the replies say which)."""
    home, key, government, hub, relay = rig
    good = signed(key, message_id=new_message_id())
    head, _, body = good.partition(b"\r\n\r\n")
    cases = [
        (b"a\r\n" * 1_000_000, "header section is larger than 262144 bytes"),  # 3 MB, no empty line
        (b"X-Flood: y\r\n" * 300_000 + b"\r\n" + body, "larger than 262144 bytes"),
        (head + b"\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(5_000)) + b"\r\n" + body, "more than 1000 fields"),
        (head + b"\r\nX-Long: " + b"x" * 70 + b"\r\n x" * 70_000 + b"\r\n\r\n" + body, "larger than 262144 bytes"),
        (head + b"\r\nX-Long: " + b"x\r\n x" * 2_000 + b"\r\n\r\n" + body, "longer than 4096 characters"),
        (good.replace(b"Content-Type: text/plain", b"X-Pad: p\r\n" * 40_000 + b"Content-Type: text/plain", 1),
         "larger than 262144 bytes"),
    ]
    for (raw, words), (code, text) in zip(cases, _session(hub, [(raw, key.email) for raw, _ in cases])):
        assert (code, text[:5]) == (550, "5.6.0") and words in text, (words, code, text)


def test_the_bounce_branch_keeps_every_limit(rig):
    """MAIL FROM:<> once skipped the MIME limits: 1,000-deep nesting raised RecursionError and got 451. Now depth,
    part count, header limits and a size of its own apply, each 5xx with its reason."""
    home, key, government, hub, relay = rig
    bounce = mail.unsigned_mail(sender="mailer-daemon@mx.test", body="Message-ID: <x@ocam.test>\n" * 3)
    cases = [
        (_deep(1000), "MIME nesting is deeper than 8 levels"),
        (_deep(9), "MIME nesting is deeper than 8 levels"),
        (_many_parts(500), "more than 64 MIME parts"),
        (b"a\r\n" * 1_000_000, "header section is larger than 262144 bytes"),
        (_with_header(bounce, b"X-Long: " + b"y\r\n y" * 2000), "longer than 4096 characters"),
        (bounce + (b"y" * 76 + b"\r\n") * 30_000, "up to 1048576 bytes"),
        (bounce.replace(b"To: hub", b"To: \rhub"), "bare CR"),
    ]
    replies = _session(hub, [(raw, "<>") for raw, _ in cases])
    for (raw, words), (code, text) in zip(cases, replies):
        assert code in (550, 552) and words in text, (words, code, text)
    assert _session(hub, [(_deep(3), "<>")])[0][0] == 550  # within the limits: read, and about no hub message


def test_a_thousand_bad_recipients_close_the_session_with_one_record(rig):
    """1,000 RCPTs to strangers once wrote 1,000 audit rows: the session is closed at gateway.max_session_errors
    (20) with 421, and that is recorded once."""
    home, key, government, hub, relay = rig
    before = _refusals(home, "no_such_recipient"), _refusals(home, "too_many_errors")
    with hub.connect() as client:
        client.mail(key.email)
        codes = []
        for i in range(1000):
            try:
                codes.append(client.rcpt(f"stranger{i}@elsewhere.test")[0])
            except Exception:  # smtplib: the server closed the connection
                break
    assert codes[:20] == [550] * 20 and codes[20:] in ([], [421])
    time.sleep(0.5)
    assert _refusals(home, "too_many_errors") == before[1] + 1
    assert _refusals(home, "no_such_recipient") - before[0] <= 20
