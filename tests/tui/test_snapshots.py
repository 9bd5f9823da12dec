"""Snapshots (pytest-textual-snapshot) of the overview, deadlines and traffic screens at 80x24, from a fixed
store and a frozen clock. After an intended change of the screens: `pytest tests/tui --snapshot-update`,
then look at the SVGs under tests/tui/__snapshots__/ before committing them."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable, Static

from tests.tui.scene import NOW, build
from tui import Dashboard
from tui.widgets import HealthPanel


@pytest.fixture
def scene(tmp_path):
    db = build(tmp_path)
    yield db
    db.dispose()


def _dashboard(db) -> Dashboard:
    return Dashboard(db, refresh_seconds=3600, now=lambda: NOW)  # one refresh: nothing moves during the shot


async def _until(pilot, ready, seconds: float = 10.0) -> None:
    """Let the refresh worker land (bounded); fail rather than photograph an empty screen."""
    deadline = time.monotonic() + seconds
    while not ready(pilot.app):
        assert time.monotonic() < deadline, "the dashboard did not show the scene in time"
        await pilot.pause(0.05)


def _overview_loaded(app) -> bool:
    return app.query_one("#queues", DataTable).row_count == 2 and bool(app.query_one(HealthPanel).shown)


def test_overview_snapshot(scene, snap_compare):
    async def run_before(pilot) -> None:
        await _until(pilot, _overview_loaded)

    assert snap_compare(_dashboard(scene), terminal_size=(80, 24), run_before=run_before)


def test_deadlines_snapshot(scene, snap_compare):
    async def run_before(pilot) -> None:
        await _until(pilot, _overview_loaded)
        await pilot.press("d")
        await _until(pilot, lambda app: app.query_one("#deadline-table", DataTable).row_count == 4)

    assert snap_compare(_dashboard(scene), terminal_size=(80, 24), run_before=run_before)


def test_traffic_snapshot(scene, snap_compare):
    async def run_before(pilot) -> None:
        await _until(pilot, _overview_loaded)
        await pilot.press("t")
        await _until(pilot, lambda app: str(app.query_one("#traffic-detail", Static).render())
                     .startswith("PSR-2026-000006"))

    assert snap_compare(_dashboard(scene), terminal_size=(80, 24), run_before=run_before)
