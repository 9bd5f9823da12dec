"""The overview's rates and health with a real Textual pilot over a real store: numbers follow the rows,
a stale heartbeat reads NO HEARTBEAT, and no screen shows a message's bytes."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import insert, update

from store import AuditEvent, Heartbeat
from tests.tui.scene import CANARY, INTAKE, NOW, build, distributed
from textual.widgets import Sparkline, Static
from hub.clock import FrozenClock
from tui import Dashboard
from tui.rates import RateCounter, rates
from tui.queries import heartbeats
from tui.widgets import HealthPanel
from tui.widgets.health import judge


def _event(n: int, at, action: str) -> dict:
    return dict(at=at, actor="hub", action=action, message_ref=None, detail={}, seq=1_000_000 + n)  # after the scene's


def _figures(app, series: str) -> str:
    return str(app.query_one(f"#rate-{series} .rate-figures", Static).render())


async def _until(pilot, ready, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready(pilot.app):
        assert time.monotonic() < deadline, "the dashboard did not show it in time"
        await pilot.pause(0.05)


def test_rates_count_each_series_per_minute(tmp_path):
    """The scene's intake pattern comes back minute by minute; deferrals and quarantines land in their minute."""
    db = build(tmp_path)
    r = rates(db, NOW)
    db.dispose()
    assert r.counts["intake"] == INTAKE and r.counts["processed"] == INTAKE
    assert r.minutes[-1] == NOW.replace(second=0) and len(r.minutes) == 30
    assert r.total("sent") == sum(1 for m, c in enumerate(INTAKE) for k in range(c) if (m + k) % 3)
    assert r.counts["retries"][-10:-8] == (1, 1) and r.total("retries") == 2
    assert r.counts["quarantined"][-5] == 1 and r.total("quarantined") == 1


def test_longer_buckets_for_an_accelerated_clock(tmp_path):
    """The demo's clock runs fast: its "minutes" are longer, aligned on the bucket, and labelled so."""
    from tui.widgets.rates import span

    db = build(tmp_path)
    r = RateCounter(db, minutes=3, bucket=timedelta(minutes=10))(NOW)
    db.dispose()
    assert r.minutes[-1] == NOW.replace(minute=0, second=0)
    assert r.counts["intake"] == (sum(INTAKE[9:19]), sum(INTAKE[19:29]), INTAKE[29])
    assert (span(r.bucket), span(r.bucket * 3), span(timedelta(minutes=1440 * 30))) == ("10 min", "30 min", "30d")


def test_settled_minutes_are_counted_once_and_the_window_slides(tmp_path):
    """A counter re-reads only the last two minutes; when the clock moves on, new minutes are counted."""
    db = build(tmp_path)
    counter = RateCounter(db)
    assert counter(NOW).counts["intake"] == INTAKE
    with db.engine.begin() as c:
        c.execute(insert(AuditEvent), [_event(1, NOW - timedelta(minutes=1), "intake.accepted"),
                                       _event(2, NOW - timedelta(minutes=10), "intake.accepted")])
    again = counter(NOW).counts["intake"]
    later = counter(NOW + timedelta(minutes=2)).counts["intake"]
    db.dispose()
    assert again[-2] == INTAKE[-2] + 1  # the previous minute is still counted afresh
    assert again[-11] == INTAKE[-11]  # a settled minute is not (an event that late is not expected)
    assert later[:-2] == again[2:] and later[-2:] == (0, 0)


def test_rates_and_health_on_the_overview_follow_the_store(tmp_path):
    """Numbers next to the sparklines, health states in words with their age; rows added while the dashboard
    runs show at the next refresh: a new intake, a relay beat that comes back, a gateway beat going stale."""
    db = build(tmp_path)
    clock = FrozenClock(NOW)

    async def run() -> dict:
        app = Dashboard(db, refresh_seconds=0.1, clock=clock)
        seen = {}
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(pilot, lambda a: bool(a.query_one(HealthPanel).shown))
            seen["intake"] = _figures(app, "intake")
            seen["retries"] = _figures(app, "retries")
            seen["health"] = str(app.query_one(HealthPanel).render())
            with db.engine.begin() as c:
                c.execute(insert(AuditEvent), [_event(n, NOW, "intake.accepted") for n in range(3)])
                c.execute(update(Heartbeat).where(Heartbeat.component == "relay")
                          .values(beat_at=NOW, state="down", detail="back-off after 2 failure(s), next try in 40 s"))
            await _until(pilot, lambda a: _figures(a, "intake").startswith("   5/min"))
            seen["spark"] = list(app.query_one("#rate-intake Sparkline", Sparkline).data)
            seen["after"] = _figures(app, "intake")
            clock.set(NOW + timedelta(seconds=14))  # gateway beat 16 s old (over 3 x 5 s), relay 14 s (not)
            await _until(pilot, lambda a: "gateway   NO HEARTBEAT" in str(a.query_one(HealthPanel).render()))
            seen["stale"] = str(app.query_one(HealthPanel).render())
            await pilot.press("q")
        return seen

    seen = asyncio.run(run())
    db.dispose()
    assert seen["intake"] == f"   2/min now {sum(INTAKE):>6} in 30 min"
    assert seen["retries"] == "   0/min now      2 in 30 min"
    assert seen["health"].splitlines() == [
        "gateway   OK               2s  listening 127.0.0.1:2525, 2/64 sessions",
        "store     OK               2s  write round trip 3.1 ms",
        "gpg       DEGRADED         2s  hub key listed in 2400 ms",
        "relay     NO HEARTBEAT    75s  last said: ok, accepting"]
    assert seen["spark"][-1] == 5 and seen["spark"][:-1] == list(INTAKE[:-1])
    assert seen["after"] == f"   5/min now {sum(INTAKE) + 3:>6} in 30 min"
    stale = seen["stale"].splitlines()
    assert stale[0].startswith("gateway   NO HEARTBEAT    16s  last said: ok, listening")
    assert stale[3] == "relay     DOWN            14s  back-off after 2 failure(s), next try in 40 s"


def _lines(shown) -> list[str]:
    return [f"{s.component:<9} {s.state:<12} {s.age:>6}  {s.detail}" for s in shown]


def test_health_of_a_distributed_deployment_names_each_process_in_trouble(tmp_path):
    """Several processes: a killed worker is one line naming it and what it ran; per component, a process
    in trouble (a slow gpg) has a named line, the well ones share one line per state with their names; the
    leading scheduler and the one standing by read apart. When no live worker is left, the relay says so
    with the dead one's last word. Lines hold 80 columns up to the name of who is in trouble."""
    db = distributed(build(tmp_path))
    beats = heartbeats(db)
    db.dispose()
    lines = _lines(judge(beats, NOW))
    assert lines == [
        "process   NO HEARTBEAT    40s  worker@mx2:202: store, gpg, relay",
        "gateway   OK ×2            3s  gateway@mx1:101, gateway@mx2:102",
        "store     OK ×5            2s  gateway@mx1:101, gateway@mx2:102, scheduler@mx1:301, scheduler@mx2:302, "
        "worker@mx1:201",
        "gpg       DEGRADED         2s  gateway@mx2:102: hub key listed in 2400 ms",
        "gpg       OK ×4            2s  gateway@mx1:101, scheduler@mx1:301, scheduler@mx2:302, worker@mx1:201",
        "relay     OK               2s  worker@mx1:201: accepting",
        "scheduler OK               2s  scheduler@mx1:301: leading",
        "scheduler STANDBY          4s  scheduler@mx2:302: standing by, another leads"]
    # Who is in trouble shows within 80 columns (the panel has a margin of one each side; the rest is cut).
    assert all(line.index(": ") <= 78 for line in lines if "×" not in line)
    no_worker = _lines(judge([b for b in beats if b.process != "worker@mx1:201"], NOW))
    assert no_worker[0] == "process   NO HEARTBEAT    40s  worker@mx2:202: store, gpg, relay"
    assert no_worker[5] == "relay     NO HEARTBEAT    40s  worker@mx2:202: last said: ok, accepting"


def test_no_screen_shows_a_message_s_bytes(tmp_path):
    """Every tab, the traffic detail included: the canary held in the sealed bytes never appears."""
    db = build(tmp_path)

    async def run() -> str:
        app = Dashboard(db, refresh_seconds=0.2, clock=FrozenClock(NOW))
        screens = ""
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, lambda a: bool(a.query_one(HealthPanel).shown))
            for key in ("o", "d", "t", "p", "s"):
                await pilot.press(key)
                await pilot.pause(0.3)
                screens += app.export_screenshot()
            screens += str(app.query_one("#traffic-detail", Static).render())
            await pilot.press("q")
        return screens

    screens = asyncio.run(run())
    db.dispose()
    assert "PSR-2026-000006" in screens and "HEARTBEAT" in screens and "police-fed" in screens  # they drew
    assert CANARY not in screens
