"""Snapshots (pytest-textual-snapshot) of every screen — overview, deadlines, traffic, partners, embargo, alerts &
quarantine — at 80x24 and at 110x34 (the README's size), from a fixed store and a frozen clock; and the health
panel of a distributed deployment. After an intended change of the screens: `pytest tests/tui --snapshot-update`,
then look at the SVGs under tests/tui/__snapshots__/ before committing them."""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable, Static

from tests.tui.scene import NOW, build, distributed
from hub.clock import FrozenClock
from tui import Dashboard
from tui.widgets import HealthPanel

SIZES = {"80x24": (80, 24), "110x34": (110, 34)}
# screen -> (its key, the tables it must show filled before the shot)
SCREENS = {"overview": (None, ("#queues", "#alerts")), "deadlines": ("d", ("#deadline-table",)),
           "traffic": ("t", ("#traffic-table",)), "partners": ("p", ("#partner-table",)),
           "embargo": ("e", ("#embargo-items", "#holder-lists", "#pending-decisions")),
           "stuck": ("s", ("#open-alerts", "#stuck-table"))}


@pytest.fixture
def scene(tmp_path):
    db = build(tmp_path)
    yield db
    db.dispose()


def _dashboard(db) -> Dashboard:
    return Dashboard(db, refresh_seconds=3600, clock=FrozenClock(NOW))  # one refresh: nothing moves during the shot


async def _until(pilot, ready, seconds: float = 10.0) -> None:
    """Let the refresh worker land (bounded); fail rather than photograph an empty screen. Then repaint the
    tables: a header drawn before its column took its rows' width is otherwise kept (seen under load)."""
    deadline = time.monotonic() + seconds
    while not ready(pilot.app):
        assert time.monotonic() < deadline, "the dashboard did not show the scene in time"
        await pilot.pause(0.05)
    for table in pilot.app.query(DataTable):
        # Textual keeps a header line rendered before its column took its rows' width (its render caches are
        # keyed by an update count the width change does not move): drop them, then paint again.
        table._clear_caches()
        table.refresh()
    await pilot.pause()
    await pilot.pause()


def _settled(table: DataTable) -> bool:
    """Its columns have taken their rows' widths (DataTable measures new rows when idle, after add_row)."""
    if table.row_count == 0:
        return False
    for i, column in enumerate(table.ordered_columns):
        widest = max(len(str(table.get_row_at(r)[i])) for r in range(table.row_count))
        if column.content_width < max(widest, len(str(column.label))):
            return False
    return True


def _overview_loaded(app) -> bool:
    queues = app.query_one("#queues", DataTable)
    return queues.row_count == 2 and _settled(queues) and bool(app.query_one(HealthPanel).shown)


def _shown(tables: tuple[str, ...]):
    def ready(app) -> bool:
        if not all(_settled(app.query_one(t, DataTable)) for t in tables):
            return False
        return "traffic-table" not in "".join(tables) or str(
            app.query_one("#traffic-detail", Static).render()).startswith("PSR-2026-000008")
    return ready


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_snapshot(scene, snap_compare, screen, size):
    key, tables = SCREENS[screen]

    async def run_before(pilot) -> None:
        await _until(pilot, _overview_loaded)
        if key:
            await pilot.press(key)
        await _until(pilot, _shown(tables))

    assert snap_compare(_dashboard(scene), terminal_size=SIZES[size], run_before=run_before)


def test_overview_distributed_snapshot(scene, snap_compare):
    """The health panel of a distributed deployment with a worker killed (tests.tui.scene.DISTRIBUTED)."""
    async def run_before(pilot) -> None:
        await _until(pilot, _overview_loaded)

    assert snap_compare(_dashboard(distributed(scene)), terminal_size=(80, 24), run_before=run_before)
