"""Health on the overview: gateway, store, gpg, relay (and scheduler) as the hub's processes last reported
them, with their age.

A beat older than three of the hub's intervals means the hub, or that part of it, has stopped: it shows
as NO HEARTBEAT whatever it said last. State is in words; colour only adds to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ..queries import Beat

COMPONENTS = ("gateway", "store", "gpg", "relay")
STALE_AFTER = 3  # intervals without a beat
STYLE = {"OK": "green", "DEGRADED": "yellow", "DOWN": "bold red", "NO HEARTBEAT": "bold red"}


@dataclass(frozen=True)
class Shown:
    component: str
    state: str  # OK | DEGRADED | DOWN | NO HEARTBEAT
    age: str
    detail: str


def age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def judge(beats: list[Beat], now: datetime) -> list[Shown]:
    """What the officer sees for each component: the hub's word, unless its beat has gone stale.

    One line per component when one process runs it (the embedded hub). When several processes run it
    (a distributed deployment), those that are fresh and OK share one line naming them, and each other
    one (degraded, down or silent) gets a line of its own, its detail prefixed with the process's name:
    the panel stays short when all is well and singles out what is not. The scheduler shows only when
    a scheduler process has beaten.
    """
    by_name: dict[str, list[Beat]] = {}
    for b in beats:
        by_name.setdefault(b.component, []).append(b)
    shown = []
    for name in COMPONENTS + tuple(sorted(set(by_name) - set(COMPONENTS))):
        rows = sorted(by_name.get(name, []), key=lambda b: b.process)
        if not rows:
            shown.append(Shown(name, "NO HEARTBEAT", "never", "the hub has written none (is it running?)"))
            continue
        well: list[tuple[Beat, float]] = []
        for b in rows:
            who = f"{b.process}: " if len(rows) > 1 else ""
            seconds = (now - b.beat_at).total_seconds()
            if seconds > STALE_AFTER * b.every_seconds:
                shown.append(Shown(name, "NO HEARTBEAT", age(seconds), f"{who}last said: {b.state}, {b.detail}"))
            elif len(rows) > 1 and b.state == "ok":
                well.append((b, seconds))
            else:
                shown.append(Shown(name, b.state.upper(), age(seconds), f"{who}{b.detail}"))
        if well:
            names = ", ".join(b.process for b, _ in well)
            count = f"{len(well)} process{'es' if len(well) > 1 else ''}"
            shown.append(Shown(name, "OK", age(max(s for _, s in well)), f"{count}: {names}"))
    return shown


class HealthPanel(Static):
    """One line per component: name, state, age of its last beat, the hub's detail."""

    shown: reactive[tuple[Shown, ...]] = reactive(tuple, always_update=True)

    def watch_shown(self, shown: tuple[Shown, ...]) -> None:
        text = Text()
        for i, s in enumerate(shown):
            if i:
                text.append("\n")
            text.append(f"{s.component:<8} ")
            text.append(f"{s.state:<12}", style=STYLE.get(s.state, ""))
            text.append(f" {s.age:>6}  {s.detail}")
        self.update(text)
