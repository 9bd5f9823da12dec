"""Due times from the injectable clock: each urgency window, read one way (AR Art. 11 §3), the law's and not a
setting; a member of the government's month (AR Art. 7); the one on-time rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.deadlines import windows
from hub.settings import DeadlinesSection
from tests.hub.rig import Receipt, make_home, partner, reference_in
from tests.support import mail
from tests.support.hubrig import RunningHub

# The night Brussels leaves summer time (Sunday 25 October 2026, 03:00 CEST -> 02:00 CET).
NOW = datetime(2026, 10, 24, 22, 30, 15, tzinfo=timezone.utc)
# The partners' keys are made, and sign, ten minutes before the hub's frozen clock (a signature far from the
# hub's clock is refused).
SIGNED = "20261024T222000"
UTC = timezone.utc


def _inbound(urgency: str, at: datetime, *, government=False, stated=True, reply_by=None, deadlines=None):
    return windows.inbound(kind="request", urgency=urgency, urgency_stated=stated, embargo=None, received_at=at,
                           government=government, reply_by=reply_by, deadlines=deadlines or DeadlinesSection())


@pytest.mark.parametrize("urgency, start, due", [
    # 24 heures: elapsed hours. Saturday 10:00 CEST -> Sunday 09:00 CET, 24 h later.
    ("FLASH", datetime(2026, 10, 24, 8, 0, tzinfo=UTC), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
    # 3 jours: calendar days in Brussels. Thursday 10:00 CEST -> Sunday 10:00 CET: 73 h.
    ("URGENT", datetime(2026, 10, 22, 8, 0, tzinfo=UTC), datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),
    # 10 jours across the end of October, 30 jours across the end of March (23 h day): the same wall time.
    ("ROUTINE", datetime(2026, 10, 20, 13, 0, tzinfo=UTC), datetime(2026, 10, 30, 14, 0, tzinfo=UTC)),
    ("NON-URGENT", datetime(2026, 3, 10, 9, 0, tzinfo=UTC), datetime(2026, 4, 9, 8, 0, tzinfo=UTC)),
    # A wall time the clocks pass twice (02:30 on 25 October) is the later one, CET; one they skip (02:30 on
    # 29 March) is read with the offset before the change: a maximal delay is never shortened.
    ("URGENT", datetime(2026, 10, 22, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ("URGENT", datetime(2026, 3, 26, 1, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
])
def test_hours_are_elapsed_and_days_are_brussels_calendar_days(urgency, start, due):
    """One reading of the AR's delays: "24 heures" elapsed, "N jours" the same Brussels wall time N days on."""
    assert _inbound(urgency, start).at == due


def test_due_times_are_whole_seconds_and_on_time_lasts_to_the_end_of_the_due_second():
    """The receipt states whole seconds; an answer 0.5 s after the due time is in the due second: on time."""
    due = _inbound("FLASH", NOW + timedelta(microseconds=700_000)).at
    assert due == NOW + timedelta(hours=24) and due.microsecond == 0
    assert windows.on_time(due, due) and windows.on_time(due + timedelta(milliseconds=500), due)
    assert not windows.on_time(due + timedelta(seconds=1), due)
    assert windows.overdue_from(due + timedelta(seconds=1)) == due  # an open clock is overdue from due + 1 s


@pytest.mark.parametrize("kind, embargo", [("spontaneous", None), ("response", None), ("request", "judicial"),
                                           ("request", "foreign")])
def test_no_clock_for_non_requests_and_embargoes(kind, embargo):
    """Only requests start a clock; embargoed information has none (AR Art. 11 §5)."""
    assert windows.inbound(kind=kind, urgency="FLASH", urgency_stated=True, embargo=embargo, received_at=NOW,
                           government=False, reply_by=None, deadlines=DeadlinesSection()) is None


def test_a_government_request_reconciles_its_month_its_urgency_and_its_reply_by():
    """AR Art. 7: its Reply-By, else the urgency it states (Art. 8), else one calendar month in Brussels (the
    31st gives the month's last day)."""
    month = _inbound("ROUTINE", NOW, government=True, stated=False)
    assert month.at == datetime(2026, 11, 24, 23, 30, 15, tzinfo=UTC) and month.delay == "P1M"  # CEST -> CET
    assert month.rule == "AR-7"
    assert _inbound("ROUTINE", datetime(2027, 1, 31, 10, 0, tzinfo=UTC), government=True, stated=False).at \
        == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
    flash = _inbound("FLASH", NOW, government=True)
    assert flash.at == NOW + timedelta(hours=24) and flash.basis == "AR Art. 8: FLASH, 24 h"
    named = _inbound("FLASH", NOW, government=True, reply_by=NOW + timedelta(days=40))
    assert named.at == NOW + timedelta(days=40) and named.field.endswith("rule=AR-7")


def test_the_windows_are_the_law_and_a_deviation_is_named():
    """Settings cannot change the law's delays; a shorter agreed window has a basis and states itself."""
    with pytest.raises(ValueError, match="not the law's 24 h"):
        DeadlinesSection(flash="PT1H")
    assert DeadlinesSection(flash="PT24H", urgent="P3D") == DeadlinesSection()  # what an earlier init wrote
    with pytest.raises(ValueError, match="longer than the law's 3 days"):
        DeadlinesSection(deviation_windows={"URGENT": "P5D"}, deviation_basis="x")
    with pytest.raises(ValueError, match="whole days"):
        DeadlinesSection(deviation_windows={"URGENT": "PT36H"}, deviation_basis="x")
    with pytest.raises(ValueError, match="needs deadlines.deviation_basis"):
        DeadlinesSection(deviation_windows={"URGENT": "P2D"})
    agreed = DeadlinesSection(deviation_windows={"urgent": "P2D"}, deviation_basis="Protocol OCAM-police 2027/1")
    due = _inbound("URGENT", NOW, deadlines=agreed)
    assert due.deviation == "Protocol OCAM-police 2027/1" and due.field == "P2D; rule=AR-11-3; deviation=yes; legal=P3D"


def test_a_free_window_in_the_environment_stops_the_commands(short_tmp):
    """PASSERELLE_DEADLINES__FLASH=PT1H once made receipts announce a one-hour legal due time: refused, in words."""
    home = make_home(short_tmp)
    environment = {**os.environ, "PASSERELLE_DEADLINES__FLASH": "PT1H"}
    done = subprocess.run([sys.executable, "-m", "hub", "messages", "list", "--home", str(home.settings.home)],
                          capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "deadlines.flash = 'PT1H' is not the law's 24 h" in done.stderr and "Traceback" not in done.stderr


def test_received_and_due_times_come_from_the_hub_clock(short_tmp):
    """Through SMTP with a frozen clock: received_at is the clock's instant, due_at the delay later, read in
    Brussels across the end of summer time; an agreed deviation is stated in the receipt as one."""
    home = make_home(short_tmp)
    home.settings.deadlines.deviation_windows = {"URGENT": timedelta(days=2)}
    home.settings.deadlines.deviation_basis = "Protocole OCAM-police du 2 janvier 2027"
    key = partner(short_tmp, "police", faked_time=SIGNED)
    home.register(key, "police-fed", "police")
    clock = FrozenClock(NOW)
    refs = {}
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        for urgency in ("FLASH", "URGENT", "NON-URGENT"):
            raw = mail.signed_mail(key, body=uuid.uuid4().hex,
                                   keyword_lines={"Urgency": urgency, "Message-Kind": "request"})
            code, text = hub.send(raw)
            assert code == 250, text
            refs[urgency] = reference_in(text)
        captured = relay.wait_for(3, timeout=20)
    # 22:30:15 UTC is 00:30:15 CEST on the 25th: 24 h later is 23:30:15 CET; 2 and 30 days keep 00:30:15.
    expected = {"FLASH": NOW + timedelta(hours=24), "URGENT": NOW + timedelta(days=2, hours=1),
                "NON-URGENT": NOW + timedelta(days=30, hours=1)}
    for urgency, ref in refs.items():
        shown = json.loads(CliRunner().invoke(main, ["messages", "show", ref, "--json",
                                                     "--home", str(home.settings.home)]).output)
        assert datetime.fromisoformat(shown["received_at"]) == NOW
        assert datetime.fromisoformat(shown["due_at"]) == expected[urgency]
    receipts = {r.fields["X-Passerelle-Reference"]: r for r in (Receipt.read(c.data, home.gpg) for c in captured)}
    urgent = receipts[refs["URGENT"]]
    assert urgent.fields["X-Passerelle-Delay"] == "P2D; rule=AR-11-3; deviation=yes; legal=P3D"
    assert "Dérogation au délai légal, base : Protocole OCAM-police du 2 janvier 2027" in urgent.text
    assert "2026-10-27 00:30:15 CET" in urgent.text
    assert receipts[refs["FLASH"]].fields["X-Passerelle-Delay"] == "PT24H; rule=AR-11-3"
    assert "Dérogation" not in receipts[refs["FLASH"]].text


def test_government_request_over_smtp_its_delay_stated_in_the_receipt(short_tmp):
    """A minister's office asks for an evaluation: a month; its Reply-By; its stated urgency; a Reply-By that has
    passed is refused at SMTP. The receipt says which delay it applied, and why."""
    home = make_home(short_tmp)
    key = partner(short_tmp, "cabinet", faked_time=SIGNED)
    home.register(key, "cabinet-interior", "government")
    clock = FrozenClock(NOW)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        plain = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={"Message-Kind": "request"}))
        named = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={
            "Message-Kind": "request", "Reply-By": "2026-11-02T18:00+01:00"}))
        flash = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={
            "Message-Kind": "request", "Urgency": "FLASH"}))
        bad = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={"Reply-By": "2026-13-45"}))
        passed = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={
            "Message-Kind": "request", "Reply-By": "2026-10-24T23:00+02:00"}))
        captured = relay.wait_for(3, timeout=20)
    assert bad[0] == 550 and "Reply-By" in bad[1]
    assert passed == (550, "5.6.0 Reply-By 2026-10-24T23:00+02:00 is not after the hub's receipt time "
                           "2026-10-24 22:30:15 UTC (AR Art. 7): name a time to come")
    refs = [reference_in(text) for _c, text in (plain, named, flash)]
    shown = [json.loads(CliRunner().invoke(main, ["messages", "show", ref, "--json",
                                                  "--home", str(home.settings.home)]).output) for ref in refs]
    assert datetime.fromisoformat(shown[0]["due_at"]) == datetime(2026, 11, 24, 23, 30, 15, tzinfo=UTC)
    assert datetime.fromisoformat(shown[1]["due_at"]) == datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    assert datetime.fromisoformat(shown[2]["due_at"]) == NOW + timedelta(hours=24)
    assert shown[1]["fields"]["reply-by"]["source"] == "protected"
    assert [s["deadline"]["basis"] for s in shown] == [
        "AR Art. 7: within the month of the request", "AR Art. 7: the delay the requester named (Reply-By)",
        "AR Art. 8: FLASH, 24 h"]
    receipts = {r.fields["X-Passerelle-Reference"]: r for r in (Receipt.read(c.data, home.gpg) for c in captured)}
    assert [receipts[ref].fields["X-Passerelle-Delay"] for ref in refs] == [
        "P1M; rule=AR-7", "until 2026-11-02T17:00:00Z; rule=AR-7", "PT24H; rule=AR-8"]
    assert "AR Art. 7: within the month of the request" in receipts[refs[0]].text
    refused = json.loads(CliRunner().invoke(main, ["messages", "list", "--refused", "--json",
                                                   "--home", str(home.settings.home)]).output)
    assert "reply_by_passed" in [r["reason"] for r in refused]
