"""Due times from the injectable clock: each urgency window to the second (AR Art. 11 §3)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.deadlines.windows import due_at
from hub.settings import DeadlinesSection
from tests.hub.rig import make_home, partner, reference_in
from tests.support import mail
from tests.support.hubrig import RunningHub

# The night Brussels leaves summer time: calendar windows are counted in UTC, not wall-clock hours.
NOW = datetime(2026, 10, 24, 22, 30, 15, tzinfo=timezone.utc)
# The partners' keys are made, and sign, ten minutes before the hub's frozen clock (a signature far from the
# hub's clock is refused).
SIGNED = "20261024T222000"


@pytest.mark.parametrize("urgency, window", [
    ("FLASH", timedelta(hours=24)), ("URGENT", timedelta(days=3)),
    ("ROUTINE", timedelta(days=10)), ("NON-URGENT", timedelta(days=30)),
])
def test_due_time_of_a_request_is_its_window(urgency, window):
    assert due_at(kind="request", urgency=urgency, embargo=None, acknowledged_at=NOW,
                  windows=DeadlinesSection()) == NOW + window


@pytest.mark.parametrize("kind, embargo", [("spontaneous", None), ("response", None), ("request", "judicial"),
                                           ("request", "foreign")])
def test_no_clock_for_non_requests_and_embargoes(kind, embargo):
    """Only requests start a clock; embargoed information has none (AR Art. 11 §5)."""
    assert due_at(kind=kind, urgency="FLASH", embargo=embargo, acknowledged_at=NOW, windows=DeadlinesSection()) is None


def test_received_and_due_times_come_from_the_hub_clock(short_tmp):
    """Through SMTP with a frozen clock: received_at is the clock's instant, due_at exactly the window later."""
    home = make_home(short_tmp)
    home.settings.deadlines.urgent = timedelta(days=2, hours=6)  # windows are settings
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
        relay.wait_for(3, timeout=20)
    expected = {"FLASH": timedelta(hours=24), "URGENT": timedelta(days=2, hours=6), "NON-URGENT": timedelta(days=30)}
    for urgency, ref in refs.items():
        shown = json.loads(CliRunner().invoke(main, ["messages", "show", ref, "--json",
                                                     "--home", str(home.settings.home)]).output)
        assert datetime.fromisoformat(shown["received_at"]) == NOW
        assert datetime.fromisoformat(shown["due_at"]) == NOW + expected[urgency]


def test_one_calendar_month_for_a_government_request():
    """AR Art. 7: one month, in Brussels calendar terms; the 31st gives the month's last day."""
    from hub.deadlines.windows import add_month

    jan31 = datetime(2027, 1, 31, 10, 0, tzinfo=timezone.utc)
    assert add_month(jan31) == datetime(2027, 2, 28, 10, 0, tzinfo=timezone.utc)
    assert due_at(kind="request", urgency="ROUTINE", embargo=None, acknowledged_at=NOW, windows=DeadlinesSection(),
                  government=True) == datetime(2026, 11, 24, 23, 30, 15, tzinfo=timezone.utc)  # CEST -> CET


def test_government_request_over_smtp_with_and_without_reply_by(short_tmp):
    """A minister's office asks for an evaluation: one month; with a protected Reply-By, that time."""
    from tests.hub.rig import partner

    home = make_home(short_tmp)
    key = partner(short_tmp, "cabinet", faked_time=SIGNED)
    home.register(key, "cabinet-interior", "government")
    clock = FrozenClock(NOW)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        plain = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={"Message-Kind": "request"}))
        named = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={
            "Message-Kind": "request", "Reply-By": "2026-11-02T18:00+01:00"}))
        bad = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={"Reply-By": "2026-13-45"}))
        relay.wait_for(2, timeout=20)
    assert bad[0] == 550 and "Reply-By" in bad[1]
    shown = [json.loads(CliRunner().invoke(main, ["messages", "show", reference_in(text), "--json",
                                                  "--home", str(home.settings.home)]).output) for _c, text in (plain, named)]
    assert datetime.fromisoformat(shown[0]["due_at"]) == datetime(2026, 11, 24, 23, 30, 15, tzinfo=timezone.utc)
    assert datetime.fromisoformat(shown[1]["due_at"]) == datetime(2026, 11, 2, 17, 0, tzinfo=timezone.utc)
    assert shown[1]["fields"]["reply-by"]["source"] == "protected"
