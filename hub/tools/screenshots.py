"""The README's screenshots: the demo left to run, then every screen of the dashboard exported as SVG, headless."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from tui import Dashboard

from .demo import Demo

SCREENS = (("overview", None), ("deadlines", "d"), ("traffic", "t"), ("partners", "p"), ("embargo", "e"),
           ("stuck", "s"))


def take(out: Path, *, speed: float, after_seconds: float, size: tuple[int, int] = (110, 34),
         within: Path | None = None) -> list[Path]:
    """Run the demo for *after_seconds*, then write OUT/dashboard-SCREEN.svg for each screen at *size*."""
    out.mkdir(parents=True, exist_ok=True)
    session = Demo(speed=speed, within=within)
    try:
        db = session.start()
        time.sleep(after_seconds)
        bucket = timedelta(minutes=max(1, round(speed / 60)))
        return asyncio.run(_export(Dashboard(db, refresh_seconds=3600, clock=session.clock, operator="demo-officer",
                                             rate_bucket=bucket, clock_speed=speed), out, size))
    finally:
        session.close()


async def _export(app: Dashboard, out: Path, size: tuple[int, int]) -> list[Path]:
    written = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause(2.0)  # the first refresh: every query of the store
        for name, key in SCREENS:
            if key:
                await pilot.press(key)
            await pilot.pause(0.5)
            path = out / f"dashboard-{name}.svg"
            path.write_text(app.export_screenshot(title=f"Passerelle demo: {name}"))
            written.append(path)
    return written
