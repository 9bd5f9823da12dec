"""The dashboard at the terminal's width and the officer's acts named: columns follow a resize, a confirmation
names what the selected row shows, an act on an empty list says so, health ages read in real time under the
demo's accelerated clock."""

from __future__ import annotations

import asyncio
import time

from textual.widgets import DataTable

from hub.clock import FrozenClock
from store import Database, upgrade
from tests.tui.scene import NOW, build
from tui import Dashboard
from tui.confirm import Confirm
from tui.queries import heartbeats
from tui.widgets import HealthPanel
from tui.widgets.health import judge


async def _until(pilot, ready, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready(pilot.app):
        assert time.monotonic() < deadline, "the dashboard did not show it in time"
        await pilot.pause(0.05)


def _labels(app, table: str) -> list[str]:
    return [str(c.label) for c in app.query_one(table, DataTable).ordered_columns]


def _question(app) -> str | None:
    return app.screen.question if isinstance(app.screen, Confirm) else None


def test_columns_follow_the_terminal_width(tmp_path):
    """80 columns: the essential columns; 130: every one; back to 80: the essential ones again, rows refilled."""
    db = build(tmp_path)

    async def run() -> list[tuple[list[str], list[str], int]]:
        app = Dashboard(db, refresh_seconds=3600, clock=FrozenClock(NOW))
        seen = []
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(pilot, lambda a: a.query_one("#traffic-table", DataTable).row_count == 8)
            for size in ((80, 24), (130, 40), (80, 24)):
                await pilot.resize_terminal(*size)
                await _until(pilot, lambda a: a.query_one("#traffic-table", DataTable).row_count == 8
                             and len(_labels(a, "#traffic-table")) == (10 if size[0] == 130 else 7))
                seen.append((_labels(app, "#traffic-table"), _labels(app, "#deadline-table"),
                             app.query_one("#deadline-table", DataTable).row_count))
        return seen

    narrow, wide, again = asyncio.run(run())
    db.dispose()
    assert narrow[0] == ["reference", "dir", "partner", "urgency", "state", "receipt", "at"]
    assert narrow[1] == ["left", "reference", "partner", "owed by", "urgency"]
    assert wide[0] == ["reference", "dir", "partner", "kind", "urgency", "source", "embargo", "state", "receipt", "at"]
    assert wide[1] == ["left", "due (Brussels)", "reference", "partner", "owed by", "urgency"]
    assert again == narrow and narrow[2] == wide[2] == 5


def test_confirmations_name_the_selected_row(tmp_path):
    db = build(tmp_path)

    async def run() -> list[str | None]:
        app = Dashboard(db, refresh_seconds=3600, clock=FrozenClock(NOW))
        asked = []
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(pilot, lambda a: a.query_one("#stuck-table", DataTable).row_count == 2
                         and a.query_one("#open-alerts", DataTable).row_count == 1)
            await pilot.press("s", "r")
            await pilot.pause(0.1)
            asked.append(_question(app))
            await pilot.press("n")
            app.query_one("#stuck-table", DataTable).move_cursor(row=1)
            await pilot.press("r")
            await pilot.pause(0.1)
            asked.append(_question(app))
            await pilot.press("n", "a")
            await pilot.pause(0.1)
            asked.append(_question(app))
            await pilot.press("n")
        return asked

    requeue, retry, acknowledge = asyncio.run(run())
    db.dispose()
    assert requeue == "Put quarantined item 3 (intake) back in its queue? It is recorded under your name."
    assert retry == "Retry failed delivery 1 (receipt to spoc@vsse.test)? It is recorded under your name."
    assert acknowledge.startswith("Acknowledge alert ") and acknowledge.endswith(
        " (delivery_failed, PSR-2026-000003, 23/11 10:57:30)? It is recorded under your name.")


def test_an_act_on_an_empty_list_says_so(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(db.engine)

    async def run() -> tuple[list[str], object]:
        app = Dashboard(db, refresh_seconds=3600, clock=FrozenClock(NOW))
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(pilot, lambda a: bool(a.query_one(HealthPanel).shown))
            await pilot.press("s", "a", "r")
            await pilot.pause(0.2)
            said = [n.message for n in app._notifications]
            return said, app.screen

    said, screen = asyncio.run(run())
    db.dispose()
    assert said == ["No open alert to acknowledge.", "Nothing quarantined and no failed delivery: nothing to retry."]
    assert not isinstance(screen, Confirm)


def test_health_ages_in_real_time_under_an_accelerated_clock(tmp_path):
    """The demo's clock runs 1440 times faster: a beat written 2 seconds ago is 48 minutes old by that clock and
    was written with a 5 s interval scaled alike; the panel says 2s, and stale only past three real intervals."""
    db = build(tmp_path)
    beats = heartbeats(db)
    db.dispose()
    speed = 1440.0
    fast = [type(b)(b.component, b.state, b.detail, NOW - (NOW - b.beat_at) * speed, b.every_seconds * speed,
                    b.process) for b in beats]
    shown = {s.component: (s.state, s.age) for s in judge(fast, NOW, speed=speed)}
    assert shown["gateway"] == ("OK", "2s") and shown["relay"] == ("NO HEARTBEAT", "75s")
    assert {s.component: s.age for s in judge(fast, NOW)}["gateway"] == "48m00s"  # the demo's time, as before
