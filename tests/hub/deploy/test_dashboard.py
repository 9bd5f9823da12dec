"""The dashboard shows what expires: the keys line of the health panel (the certificate the gateway presents, the
keys expiring soon) and every registered key on the partners screen, SOON within 30 days."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from textual.widgets import DataTable

from gateway.capture import CaptureRelay
from hub.clock import FrozenClock
from tests.hub.deploy.support import holders
from tests.hub.rig import make_home
from tests.support.hubrig import RunningHub
from tui import Dashboard
from tui.widgets import HealthPanel


def test_keys_expiring_soon_show_on_the_health_panel_and_the_partners_screen(short_tmp):
    home = make_home(short_tmp)
    home.settings.hub.heartbeat_seconds = 0.2
    keys = holders(home, short_tmp, expire="20d")
    clock = FrozenClock(datetime.now(timezone.utc))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock):
        db = home.db()
        for _ in range(100):  # a beat that names the keys (bounded: 20 s)
            with db.reader() as uow:
                if any(b.component == "keys" for b in uow.heartbeats.all()):
                    break
            relay.wait_for(1, timeout=0.2)

        async def run() -> tuple[str, list[list[str]]]:
            app = Dashboard(db, refresh_seconds=0.2, clock=clock)
            async with app.run_test(size=(110, 34)) as pilot:
                await pilot.pause(0.6)
                health = str(app.query_one(HealthPanel).render())
                await pilot.press("p")
                await pilot.pause(0.3)
                table = app.query_one("#partner-table", DataTable)
                rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
                await pilot.press("q")
            return health, rows

        health, rows = asyncio.run(run())
        db.dispose()
    line = next(line for line in health.splitlines() if line.startswith("keys"))
    assert "DEGRADED" in line and "TLS 8" in line  # init's certificate: 825 days
    assert "police-fed 19 d" in line and "member a.peeters 19 d" in line and "recipient interior 19 d" in line
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"police-fed", "a.peeters", "interior", "director"}  # the director: made at init
    assert by_name["a.peeters"][1] == "member analyst" and by_name["interior"][1] == "recipient minister"
    assert all(by_name[n][3].startswith("SOON ") for n in ("police-fed", "a.peeters", "interior"))
    assert by_name["director"][1] == "member director" and not by_name["director"][3].startswith("SOON")
    assert by_name["interior"][2] == keys["minister"].fingerprint[-16:]
