"""OCAM's requests within the law's delays (AR Art. 11 §3, law Art. 6 §1 al. 2): a due time in the future and
within its urgency's window, a demand for immediate communication with the director's motivation, and a due
time years in the past that does not flood the audit log."""

from __future__ import annotations

import email
import json
import uuid
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from tests.hub.deadlines.test_scheduler import _hub_parts
from tests.hub.rig import home_with_police, reference_in
from tests.support.hubrig import RunningHub
from tests.support.keys import gpg as run_gpg

# The hub's frozen clock runs a day ahead of the real time (see tests/hub/deadlines/test_scheduler.py); the CLI
# that sends requests uses the real one.
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _cli(home, *args):
    return CliRunner().invoke(main, [*args, "--home", str(home.settings.home)])


def _request(home, tmp, urgency, *extra, body="Question"):
    path = tmp / f"{uuid.uuid4().hex}.txt"
    path.write_text(body)
    return _cli(home, "send", "request", "--to", "police-fed", "--urgency", urgency, "--subject", "Q",
                "--body", str(path), *extra)


def _shown(home, reference) -> dict:
    return json.loads(_cli(home, "messages", "show", reference, "--json").output)


def _in(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) + delta).isoformat(timespec="seconds")


def _acknowledged(home, tmp, clock, *requests):
    """Deliver the queued requests to a relay that returns the destination's success DSN (at the hub's T0)."""
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        relay.return_dsns(lambda raw: hub.send(raw, mail_from=""))
        hub.hub.transport.notify("outbound")
        captured = relay.wait_for(len(requests), timeout=20)
        for _ in range(200):
            if all(_shown(home, r)["deadline"] for r in requests):
                break
            relay.wait_for(10_000, timeout=0.05)
    return captured


def test_a_due_time_in_the_past_or_beyond_its_window_is_refused(short_tmp):
    """--due must lie in the future (one in the past once wrote 2,528 skipped reminders in a tick) and within its
    urgency's window (a FLASH request is answered within 24 h, not 90 days); nothing is recorded."""
    home, _key = home_with_police(short_tmp)
    past = _request(home, short_tmp, "URGENT", "--due", _in(-timedelta(days=7)))
    assert past.exit_code == 2 and "is not in the future" in past.output, past.output
    far = _request(home, short_tmp, "FLASH", "--due", _in(timedelta(days=90)))
    assert far.exit_code == 2 and "lies beyond the FLASH window (AR Art. 11 §3: FLASH, 24 h" in far.output
    assert "choose the urgency whose window holds it" in far.output
    assert json.loads(_cli(home, "messages", "list", "--json").output) == []


def test_a_named_due_time_within_the_window_is_the_clocks_and_one_overtaken_gives_way(short_tmp):
    """An URGENT request due in two days: its clock, started by the acknowledgement, is due then. One due in two
    hours, acknowledged only after that time: a clock never starts overdue, the window from the acknowledgement
    applies — and `messages show` states which rule set each."""
    home, _key = home_with_police(short_tmp)
    named = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    kept = reference_in(_request(home, short_tmp, "URGENT", "--due", named.isoformat()).output)
    overtaken = reference_in(_request(home, short_tmp, "URGENT", "--due", _in(timedelta(hours=2))).output)
    _acknowledged(home, short_tmp, FrozenClock(T0), kept, overtaken)
    first, second = _shown(home, kept)["deadline"], _shown(home, overtaken)["deadline"]
    assert datetime.fromisoformat(first["due_at"]) == named
    assert first["basis"] == "AR Art. 11 §3: URGENT, due time named by OCAM"
    assert datetime.fromisoformat(second["started_at"]) == T0 and second["basis"] == "AR Art. 11 §3: URGENT, 3 days"


def test_immediate_communication_records_the_directors_motivation(short_tmp):
    """Law Art. 6 §1 al. 2: FLASH, with the director's motivation — recorded in the audit log and stated in the
    request the partner decrypts; without a motivation, or not FLASH, refused."""
    home, key = home_with_police(short_tmp)
    bare = _request(home, short_tmp, "FLASH", "--immediate")
    assert bare.exit_code == 2 and "--immediate needs the director's --motivation" in bare.output
    urgent = _request(home, short_tmp, "URGENT", "--immediate", "--motivation", "Danger concret")
    assert urgent.exit_code == 2 and "is FLASH" in urgent.output
    alone = _request(home, short_tmp, "FLASH", "--motivation", "Danger concret")
    assert alone.exit_code == 2 and "goes with --immediate" in alone.output
    motivation = "Menace concrète et imminente contre une personne protégée (réunion de ce soir)"
    result = _request(home, short_tmp, "FLASH", "--immediate", "--motivation", motivation)
    assert result.exit_code == 0, result.output
    reference = reference_in(result.output)
    (out,) = _acknowledged(home, short_tmp, FrozenClock(T0), reference)
    shown = _shown(home, reference)
    immediate = [e for e in shown["audit"] if e["action"] == "request.immediate"]
    assert len(immediate) == 1 and immediate[0]["detail"]["motivation"] == motivation
    assert immediate[0]["detail"]["basis"] == "law Art. 6 §1 al. 2" and immediate[0]["detail"]["signed"] is False
    assert shown["deadline"]["basis"] == "law Art. 6 §1 al. 2: FLASH, 24 h"
    assert motivation.encode() not in out.data
    entity = email.message_from_bytes(run_gpg(key.home, "--decrypt", "--skip-verify", data=out.data))
    text = next(p for p in entity.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    text = text.replace("\r\n", "\n")
    assert text.startswith("Urgency: FLASH\n") and "Immediate: law Art. 6 §1 al. 2\n" in text
    assert f"Communication immédiate exigée (loi du 10.07.2006, art. 6 §1 al. 2). Motivation :\n{motivation}" in text


def test_a_due_time_years_in_the_past_writes_one_record_not_thousands(short_tmp):
    """The hub's clock jumps seven years past a FLASH request's due time: one tick escalates once, sends one
    overdue reminder, and records the 2,500-odd steps it passed as one event."""
    home, _key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    reference = reference_in(_request(home, short_tmp, "FLASH").output)
    _acknowledged(home, short_tmp, clock, reference)
    db, scheduler = _hub_parts(home, clock)
    clock.set(T0 + timedelta(days=7 * 365, hours=5))
    assert scheduler.tick() == 1 and scheduler.tick() == 0
    db.dispose()
    actions = [e["action"] for e in _shown(home, reference)["audit"]]
    assert actions.count("reminder.skipped") == 1 and actions.count("alert.overdue") == 1
    assert actions.count("reminder.queued") == 1
    (skipped,) = [e["detail"] for e in _shown(home, reference)["audit"] if e["action"] == "reminder.skipped"]
    assert skipped["steps"] == 2 + 7 * 365 - 1 and skipped["first"] == 0
