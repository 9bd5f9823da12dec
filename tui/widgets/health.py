"""Health on the overview: gateway, store, gpg and relay as the hub last reported them, with their age.

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
    """What the officer sees for each component: the hub's word, unless its beat has gone stale."""
    by_name = {b.component: b for b in beats}
    shown = []
    for name in COMPONENTS:
        b = by_name.get(name)
        if b is None:
            shown.append(Shown(name, "NO HEARTBEAT", "never", "the hub has written none (is it running?)"))
            continue
        seconds = (now - b.beat_at).total_seconds()
        if seconds > STALE_AFTER * b.every_seconds:
            shown.append(Shown(name, "NO HEARTBEAT", age(seconds), f"last said: {b.state}, {b.detail}"))
        else:
            shown.append(Shown(name, b.state.upper(), age(seconds), b.detail))
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
