"""A signature is accepted once, and only when it was made now: over SMTP, a replayed signature is refused
whatever bytes carry it (text-mode line ends, a malleated ECDSA value), and one dated ahead of the hub's
clock, older than the oldest accepted, or expired, is refused with its own reason."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock, SystemClock
from hub.settings import load
from tests.hub.rig import encrypted, make_home, new_message_id, partner, reference_in, signed
from tests.support import keys as testkeys
from tests.support import openpgp as o
from tests.support.hubrig import RunningHub

DAY = 86400
REPLAY = (550, "5.7.1 Already accepted: a message with this signature was received before")
BARE_CR = (550, "5.6.0 Malformed message: the message holds a CR that does not end a line (bare CR): send CRLF "
                "line ends")
TEXT = "Convoy leaves at 06:00\nSecond line\n"


def at(seconds_from_now: float) -> str:
    """A --faked-system-time for gpg: this many seconds from now (epoch seconds)."""
    return str(int(time.time() + seconds_from_now))


def signing_at(key: testkeys.TestKey, faked_time: str) -> testkeys.TestKey:
    return dataclasses.replace(key, faked_time=faked_time)


def count_messages(home) -> int:
    db = home.db()
    with db.reader() as uow:
        n = uow.messages.count()
    db.dispose()
    return n


def shown(home, reply: str) -> dict:
    out = CliRunner().invoke(main, ["messages", "show", reference_in(reply), "--json", "--home", str(home.settings.home)])
    return json.loads(out.output)


@pytest.fixture(scope="module")
def rig(module_tmp):
    """A running hub on the system clock; police (Ed25519, made now), customs (ECDSA P-256), an old partner
    (key made in 2019) and a partner whose key was made ten days ago."""
    home = make_home(module_tmp)
    k = {"police": partner(module_tmp, "police"), "customs": partner(module_tmp, "customs", algo="nistp256"),
         "old": partner(module_tmp, "old", faked_time="20190301T120000"),
         "week": partner(module_tmp, "week", faked_time=at(-10 * DAY))}
    for name, kind in (("police", "police"), ("customs", "customs"), ("old", "prisons"), ("week", "worship")):
        home.register(k[name], f"{name}-svc", kind)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        yield home, k, hub, relay


# -- replays --------------------------------------------------------------------------------------------------

def _with_message_id(raw: bytes, old: str, new: str) -> bytes:
    assert raw.count(old.encode()) == 1
    return raw.replace(old.encode(), new.encode())


TEXT_VARIANTS = {
    "the same bytes": lambda signed_part: signed_part,
    "an LF for a CRLF": lambda part: part.replace(b"06:00\r\n", b"06:00\n", 1),
    "a CR before a CRLF": lambda part: part.replace(b"06:00\r\n", b"06:00\r\r\n", 1),
    "three CRs before a CRLF": lambda part: part.replace(b"06:00\r\n", b"06:00\r\r\r\r\n", 1),
    "a CR before every CRLF of the text": lambda part: part.replace(b"06:00\r\nSecond line\r\n",
                                                                  b"06:00\r\r\nSecond line\r\r\n", 1),
    "a CR ending the signed part": lambda part: part.replace(b"Second line\r\n\r\n--", b"Second line\r\n\r\r\n--", 1),
}


def test_a_text_mode_signature_is_accepted_once_whatever_its_line_ends(rig):
    """A client's text-mode (0x01) signature: 250 once; the same signature with a new Message-ID and its
    signed text's line ends changed as text mode allows (gpg still calls it good:
    tests/crypto/openpgp/test_signature_identity.py) is refused every time: as a replay, or, where a CR does not
    end a line, by the reading itself (issue 13 item 11) before the signature is even checked."""
    home, k, hub, _relay = rig
    first_id = new_message_id()
    raw = signed(k["police"], body=TEXT, message_id=first_id, sign_options=("--textmode",))
    before = count_messages(home)
    code, text = hub.send(raw)
    assert code == 250, text
    for name, change in TEXT_VARIANTS.items():
        replayed = change(_with_message_id(raw, first_id, new_message_id()))
        assert replayed != raw and (name == "the same bytes" or len(replayed) != len(raw))
        assert hub.send(replayed) == (BARE_CR if b"\r\r" in replayed else REPLAY), name
    assert count_messages(home) == before + 1


def test_a_malleated_ecdsa_signature_is_the_same_signature(rig):
    """ECDSA values are malleable: (r, n - s) is another signature packet, good for gpg too. It signs the same
    statement, so it is the same signature to the hub: refused as a replay."""
    home, k, hub, _relay = rig
    first_id = new_message_id()
    raw = signed(k["customs"], message_id=first_id)
    code, text = hub.send(raw)
    assert code == 250, text
    armored = re.search(rb"-----BEGIN PGP SIGNATURE-----.*?-----END PGP SIGNATURE-----\r\n", raw, re.S).group(0)
    negated = o.with_s_negated(armored.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    assert o.dearmor(negated) != o.dearmor(armored.replace(b"\r\n", b"\n"))
    replayed = _with_message_id(raw, first_id, new_message_id()).replace(armored, negated)
    assert hub.send(replayed) == REPLAY


def test_a_signed_and_encrypted_message_is_accepted_once(rig):
    """Signed and encrypted in one OpenPGP message: the signature gpg reads while decrypting (its status
    gives no signature values) has the same identity on a second submission with a new Message-ID."""
    home, k, hub, _relay = rig
    first_id = new_message_id()
    raw = encrypted(k["police"], home.gpg.export_public(home.fingerprint), message_id=first_id)
    code, text = hub.send(raw)
    assert code == 250, text
    assert hub.send(_with_message_id(raw, first_id, new_message_id())) == REPLAY


# -- signature time ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ahead", [DAY, 3650 * DAY], ids=["a day", "ten years"])
def test_a_signature_from_the_future_is_refused(rig, ahead):
    """Dated a day or ten years ahead of the hub's clock (gpg itself calls it good): 550 with the date."""
    home, k, hub, _relay = rig
    before = count_messages(home)
    code, text = hub.send(signed(signing_at(k["police"], at(ahead)), message_id=new_message_id()))
    day = datetime.fromtimestamp(time.time() + ahead, timezone.utc).strftime("%Y-%m-%d")
    assert code == 550 and text.startswith(f"5.7.1 Signature is dated {day} "), text
    assert text.endswith("UTC, ahead of the hub's clock: check the sending computer's clock and sign again")
    assert count_messages(home) == before


def test_a_signature_within_the_clock_skew_is_accepted(rig):
    """Two minutes ahead (the sender's clock a little fast) is within the default 300 s."""
    _home, k, hub, _relay = rig
    code, text = hub.send(signed(signing_at(k["police"], at(120)), message_id=new_message_id()))
    assert code == 250, text


def test_a_2019_signature_gets_no_deadline_in_2026(rig):
    """A FLASH request signed in 2019 (by a key of 2019 still valid): refused as older than 7 days."""
    home, k, hub, _relay = rig
    before = count_messages(home)
    raw = signed(k["old"], message_id=new_message_id(), keyword_lines={"Urgency": "FLASH", "Message-Kind": "request"})
    code, text = hub.send(raw)
    assert code == 550, text
    assert re.fullmatch(r"5\.7\.1 Signature was made 2019-03-01 12:00:\d\d UTC, more than 7 days before it reached "
                        r"the hub: sign the message again", text), text
    assert count_messages(home) == before


def test_a_signature_dated_before_its_key_names_the_clock(rig):
    """A signature dated ten minutes before its key was made (a sending computer's clock set back): refused
    for the clock, not as "altered after signing", and nothing stored."""
    home, k, hub, _relay = rig
    before = count_messages(home)
    code, text = hub.send(signed(signing_at(k["old"], "20190301T115000"), message_id=new_message_id()))
    assert (code, text) == (550, "5.7.1 Signature is dated before its key was made (or the key ahead of the hub's "
                                 "clock): check the sending computer's clock and sign again")
    assert count_messages(home) == before


def test_signature_age_up_to_the_limit(rig):
    """Signed six days ago: accepted, its FLASH clock starting at receipt; eight days ago: refused."""
    home, k, hub, relay = rig
    fields = {"Urgency": "FLASH", "Message-Kind": "request"}
    code, text = hub.send(signed(signing_at(k["week"], at(-6 * DAY)), message_id=new_message_id(),
                                 keyword_lines=fields))
    assert code == 250, text
    for _ in range(200):
        message = shown(home, text)
        if message["due_at"]:
            break
        relay.wait_for(len(relay.messages) + 1, timeout=0.1)
    received = datetime.fromisoformat(message["received_at"])
    assert abs(received - SystemClock().now()) < timedelta(minutes=5)
    assert datetime.fromisoformat(message["due_at"]) == received.replace(microsecond=0) + timedelta(hours=24)
    code, text = hub.send(signed(signing_at(k["week"], at(-8 * DAY)), message_id=new_message_id()))
    assert code == 550 and "more than 7 days before it reached the hub" in text, text


def test_an_expired_signature_has_its_own_reason(rig):
    """A signature made three days ago that expired after one day: not "altered after signing"."""
    _home, k, hub, _relay = rig
    raw = signed(signing_at(k["week"], at(-3 * DAY)), message_id=new_message_id(),
                 sign_options=("--default-sig-expire", "1d"))
    assert hub.send(raw) == (550, "5.7.1 Signature has expired: sign the message again, without an expiry")


def test_the_window_is_set_and_judged_by_the_hubs_clock(short_tmp):
    """gateway.signature_clock_skew_seconds and gateway.max_signature_age are settings, and the hub's injected
    clock, not the machine's, judges: with the hub 20 days ahead and P30D, a signature made now is accepted,
    one made 15 days ago (35 by the hub) refused; with no skew allowed, one 5 s ahead of the hub refused."""
    home = make_home(short_tmp)
    home.settings.gateway.signature_clock_skew_seconds = 0
    home.settings.gateway.max_signature_age = timedelta(days=30)
    key = partner(short_tmp, "police", faked_time=at(-40 * DAY))
    home.register(key, "police-fed", "police")
    hub_now = SystemClock().now() + timedelta(days=20)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=FrozenClock(hub_now)) as hub:
        code, text = hub.send(signed(signing_at(key, at(0)), message_id=new_message_id()))
        assert code == 250, text
        code, text = hub.send(signed(signing_at(key, at(-15 * DAY)), message_id=new_message_id()))
        assert code == 550 and "more than 30 days before it reached the hub" in text, text
        code, text = hub.send(signed(signing_at(key, at(20 * DAY + 5)), message_id=new_message_id()))
        assert code == 550 and "ahead of the hub's clock" in text, text


def test_the_signature_window_settings_read_iso_durations(tmp_path, monkeypatch):
    """The limits come from the home's TOML and PASSERELLE_ variables; max_signature_age is an ISO 8601 duration."""
    (tmp_path / "passerelle.toml").write_text('[gateway]\nmax_signature_age = "PT36H"\n')
    assert load(tmp_path).gateway.max_signature_age == timedelta(hours=36)
    monkeypatch.setenv("PASSERELLE_GATEWAY__SIGNATURE_CLOCK_SKEW_SECONDS", "30")
    settings = load(tmp_path)
    assert settings.gateway.signature_clock_skew_seconds == 30
    assert load(tmp_path.parent / "elsewhere").gateway.max_signature_age == timedelta(days=7)
