"""The dashboard with a real Textual pilot over a real store: queues, alerts, deadlines — never content."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from gateway.capture import CaptureRelay
from hub.acts.duty import open_alerts
from store import Database
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support import ocam
from tests.support.hubrig import RunningHub
from tests.support.waiting import until
from textual.widgets import DataTable, Static
from hub.clock import FrozenClock
from tui import Dashboard
from tui.timefmt import left
from tui.widgets import HealthPanel


def _rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _records(table: DataTable) -> list[dict[str, str]]:
    """Each row as {column label: cell}: what the screen shows, whichever columns its width keeps."""
    labels = [str(c.label) for c in table.ordered_columns]
    return [dict(zip(labels, row)) for row in _rows(table)]


def test_left_before_a_due_time():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    assert left(now + timedelta(hours=2, minutes=5), now) == "02:05:00"
    assert left(now + timedelta(days=3, hours=1), now) == "3d 01h"
    assert left(now - timedelta(seconds=1), now) == "OVERDUE 00:00:01"


def _wait_for_the_alert(home) -> None:
    """The relay's 554 comes before the hub records the failed delivery and raises its alert: wait for the alert."""
    db = Database(home.settings.database_url)
    try:
        assert until(lambda: open_alerts(db), bool)
    finally:
        db.dispose()


def test_dashboard_shows_queues_alerts_and_deadlines_but_no_content(short_tmp):
    home, key = home_with_police(short_tmp)
    canary = f"CANARY{uuid.uuid4().hex}"
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, body=f"Secret {canary}", subject=canary,
                                     keyword_lines={"Message-Kind": "request", "Urgency": "FLASH"}))
        reference = reference_in(text)
        relay.refuse(1)
        hub.send(signed(key, keyword_lines={"Message-Kind": "request", "Urgency": "ROUTINE"}))
        relay.wait_for(1, timeout=20)
        _wait_for_the_alert(home)
    db = Database(home.settings.database_url)
    later = datetime.now(timezone.utc) + timedelta(days=2)  # the FLASH request is overdue by then

    async def run() -> tuple:
        app = Dashboard(db, refresh_seconds=0.2, clock=FrozenClock(later))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            queues = _rows(app.query_one("#queues", DataTable))
            alerts = _rows(app.query_one("#alerts", DataTable))
            summary = str(app.query_one("#summary", Static).render())
            health = str(app.query_one(HealthPanel).render())
            intake = str(app.query_one("#rate-intake .rate-figures", Static).render())
            screen = app.export_screenshot()  # the overview: summary, rates, health, queues, alerts
            await pilot.press("d")
            await pilot.pause(0.3)
            deadlines = _records(app.query_one("#deadline-table", DataTable))
            screen += app.export_screenshot()
            await pilot.press("slash", *"flash", "enter")
            await pilot.pause(0.4)
            filtered = _records(app.query_one("#deadline-table", DataTable))
            await pilot.press("slash", *["backspace"] * 5, "enter")
            await pilot.press("t")
            await pilot.pause(0.2)
            traffic = _records(app.query_one("#traffic-table", DataTable))
            table = app.query_one("#traffic-table", DataTable)
            table.move_cursor(row=table.row_count - 1)
            await pilot.pause(0.4)
            detail = str(app.query_one("#traffic-detail", Static).render())
            screen += app.export_screenshot()
            await pilot.press("p")
            await pilot.pause(0.2)
            contacts = _records(app.query_one("#partner-table", DataTable))
            screen += app.export_screenshot()
            await pilot.press("q")
        return queues, alerts, summary, deadlines, screen, traffic, contacts, detail, filtered, health, intake

    queues, alerts, summary, deadlines, screen, traffic, contacts, detail, filtered, health, intake = asyncio.run(run())
    db.dispose()
    assert "messages 2" in summary and "FLASH 1" in summary and "failed 1" in summary
    assert any(row[1] == "delivery_failed" for row in alerts)
    assert deadlines[0]["reference"] == reference and deadlines[0]["left"].startswith("OVERDUE")
    assert [row["urgency"] for row in deadlines] == ["FLASH", "ROUTINE"]
    assert [row["urgency"] for row in filtered] == ["FLASH"]  # the filter by urgency
    # 80 columns: what the officer acts on stays (state, receipt, time), the absolute due time and the source go.
    assert list(deadlines[0]) == ["left", "reference", "partner", "owed by", "urgency"]
    assert list(traffic[0]) == ["reference", "dir", "partner", "urgency", "state", "receipt", "at"]
    assert [row["reference"] for row in traffic][-1] == reference and traffic[-1]["urgency"] == "FLASH"
    assert sorted(row["receipt"] for row in traffic) == ["failed", "sent"]
    assert contacts == [{"partner": "police-fed", "kind": "police", "expires": "never",
                         "last message": contacts[0]["last message"], "on time": "-"},
                        {"partner": "director", "kind": "member director", "expires": "never", "last message": "-",
                         "on time": "-"}]  # every registered key: the director's, made at init
    assert detail.startswith(reference) and "intake.accepted" in detail and "receipt" in detail
    # The hub's last beats (it stopped), two days old by the dashboard's clock; no rates in the last half hour.
    assert [line.split()[0] for line in health.splitlines()] == ["gateway", "store", "gpg", "relay", "keys",
                                                                  "scheduler"]
    assert all("NO HEARTBEAT" in line and "last said: down, hub stopped" in line for line in health.splitlines())
    assert intake.split() == ["0/min", "now", "0", "in", "30", "min"]
    assert canary not in screen and canary not in detail and canary not in health
    assert canary not in " ".join(map(str, queues + alerts + deadlines + traffic))


def test_actions_ask_first_and_are_signed_and_audited(short_tmp):
    """A refused receipt: 'n' changes nothing; on the dashboard of `passerelle tui --signer-home` (the staff member
    on duty's own home), acknowledging its alert and retrying the delivery are signed there and recorded under
    their name with the statement; the retried receipt then reaches the relay."""
    import json

    from click.testing import CliRunner

    from hub.cli.main import dashboard, main

    home, key = home_with_police(short_tmp)
    staff = home.member(ocam.person("staff"))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.refuse(1)
        reference = reference_in(hub.send(signed(key))[1])
        _wait_for_the_alert(home)

        async def run() -> tuple[int, int]:
            with dashboard(home.settings.home, 0.2, staff.home) as app:
                async with app.run_test(size=(100, 30)) as pilot:
                    await pilot.pause(0.6)
                    await pilot.press("s")
                    await pilot.pause(0.2)
                    alerts = app.query_one("#open-alerts", DataTable).row_count
                    await pilot.press("a", "n")  # declined: nothing happens
                    await pilot.pause(0.3)
                    await pilot.press("a", "y")
                    await pilot.pause(0.5)
                    left_alerts = app.query_one("#open-alerts", DataTable).row_count
                    await pilot.press("r", "y")
                    await pilot.pause(0.5)
                    await pilot.press("q")
                return alerts, left_alerts

        alerts, left_alerts = asyncio.run(run())
        hub.hub.transport.notify("outbound")
        assert relay.wait_for(1, timeout=20)
    assert (alerts, left_alerts) == (1, 0)
    shown = json.loads(CliRunner().invoke(main, ["messages", "show", reference, "--json",
                                                 "--home", str(home.settings.home)]).output)
    by_officer = [e for e in shown["audit"] if e["actor"] == staff.name]
    assert [e["action"] for e in by_officer] == ["operator.alert_acknowledged", "operator.delivery_retried"]
    for event, act in zip(by_officer, ("alert.acknowledge", "delivery.retry")):
        assert f"act: {act}\n" in event["detail"]["statement"]
        assert f"member: {staff.name} {staff.key.fingerprint}\n" in event["detail"]["statement"]
        assert "BEGIN PGP SIGNATURE" in event["detail"]["signature"]
    assert shown["receipt_status"] == "sent"


def test_the_command_palette_switches_screens(short_tmp):
    """ctrl+p, type a screen's name, enter: that screen is shown."""
    from textual.widgets import TabbedContent

    home, _key = home_with_police(short_tmp)
    db = Database(home.settings.database_url)

    async def run() -> list[str]:
        app = Dashboard(db, refresh_seconds=0.5)
        shown = []
        async with app.run_test(size=(80, 24)) as pilot:
            for name in ("embargo", "deadlines"):
                await pilot.press("ctrl+p")
                await pilot.pause(0.2)
                await pilot.press(*f"show {name}")
                await pilot.pause(0.5)
                await pilot.press("enter")
                await pilot.pause(0.3)
                shown.append(app.query_one(TabbedContent).active)
            await pilot.press("q")
        return shown

    assert asyncio.run(run()) == ["embargo", "deadlines"]
    db.dispose()


def test_without_signer_home_the_dashboard_shows_but_does_not_act(tmp_path):
    """`passerelle tui` without --signer-home: pressing a on an open alert asks nothing and records nothing; the
    dashboard says why (every act is signed by the member who does it)."""
    from tests.tui.scene import NOW, build

    db = build(tmp_path)

    async def run() -> tuple[int, int, str]:
        app = Dashboard(db, refresh_seconds=0.2, clock=FrozenClock(NOW))
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await pilot.pause(0.5)
            await pilot.press("s")
            await pilot.pause(0.2)
            before = app.query_one("#open-alerts", DataTable).row_count
            await pilot.press("a", "y")
            await pilot.pause(0.4)
            after = app.query_one("#open-alerts", DataTable).row_count
            said = " ".join(str(toast.render()) for toast in app.screen.query("Toast"))  # what the officer reads
            await pilot.press("q")
        return before, after, said

    before, after, said = asyncio.run(run())
    with db.reader() as uow:
        acknowledged = uow.audit.recent(action="operator.alert_acknowledged")
    db.dispose()
    assert before == after == 1 and acknowledged == []
    assert "Started without --signer-home" in said
