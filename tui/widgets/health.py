"""Health on the overview: gateway, store, gpg, relay (and scheduler) as the hub's serving processes last
reported them, with their age.

A beat older than three of the writer's intervals means that process (or that part of it) has stopped: it
shows as NO HEARTBEAT whatever it said last. State is in words; colour only adds to it.

One process (the embedded hub): one line per component. Several (a distributed deployment): a process gone
silent is one line naming it and what it ran; per component, each process in trouble has a named line and
those that are well share one line per state ("OK ×3", then their names). So the panel stays a few lines
high and 80 columns wide however many processes run, and the alerts below it stay in view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from store.vocabulary import HealthState

from ..queries import Beat

COMPONENTS = ("gateway", "store", "gpg", "relay")
STALE_AFTER = 3  # intervals without a beat
STYLE = {"OK": "green", "DEGRADED": "yellow", "DOWN": "bold red", "NO HEARTBEAT": "bold red"}
# The states whose processes are summarised on one line per component (shown in capitals).
WELL = (HealthState.OK.upper(), HealthState.STANDBY.upper())
NAME_WIDTH = 9  # "scheduler"


@dataclass(frozen=True)
class Shown:
    component: str
    state: str  # OK | DEGRADED | DOWN | STANDBY | NO HEARTBEAT; "OK ×3" on a line for several processes
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


def _stale(b: Beat, now: datetime) -> bool:
    return (now - b.beat_at).total_seconds() > STALE_AFTER * b.every_seconds


def _one(name: str, b: Beat, now: datetime, who: str, speed: float) -> Shown:
    seconds = (now - b.beat_at).total_seconds() / speed
    if _stale(b, now):
        return Shown(name, "NO HEARTBEAT", age(seconds), f"{who}last said: {b.state}, {b.detail}")
    return Shown(name, b.state.upper(), age(seconds), f"{who}{b.detail}")


def judge(beats: list[Beat], now: datetime, *, speed: float = 1.0) -> list[Shown]:
    """What the officer sees: each process's word for each component, unless its beat has gone stale.

    One process (the embedded hub): one line per component, in a fixed order, as it has always been.
    Several (a distributed deployment), every line names its process, and:
    - a process whose every beat is stale (killed, or its host gone) is one line, "process", first, with
      the components it ran; the component lines leave it out, unless no live process runs that
      component any more: then the component shows that process's last word;
    - per component, each live process in trouble (degraded, down) has a line of its own, then those that
      are well share one line per state ("OK ×3" with their names and the age of the oldest beat; a lone
      one keeps its own detail), so the leading scheduler and the one standing by read apart.
    The scheduler (and any other component) comes after the four of the embedded hub.

    Ages are real time: with a clock running *speed* times faster (the demo's), a beat 2 hours old by that
    clock was written 5 seconds ago. Staleness is judged in the clock's own time, as the beats were written.
    """
    processes = {b.process for b in beats}
    several = len(processes) > 1

    def who(b: Beat) -> str:
        return f"{b.process}: " if several else ""

    by_name: dict[str, list[Beat]] = {}
    for b in beats:
        by_name.setdefault(b.component, []).append(b)
    order = COMPONENTS + tuple(sorted(set(by_name) - set(COMPONENTS)))
    silent = sorted(p for p in processes if all(_stale(b, now) for b in beats if b.process == p)) if several else []
    shown = []
    for process in silent:
        mine = [b for b in beats if b.process == process]
        newest = max(b.beat_at for b in mine)
        ran = ", ".join(name for name in order if any(b.component == name for b in mine))
        shown.append(Shown("process", "NO HEARTBEAT", age((now - newest).total_seconds() / speed),
                           f"{process}: {ran}"))
    for name in order:
        rows = sorted(by_name.get(name, []), key=lambda b: b.process)
        if not rows:
            shown.append(Shown(name, "NO HEARTBEAT", "never", "the hub has written none (is it running?)"))
            continue
        live = [b for b in rows if b.process not in silent]
        if not live:  # nobody runs it any more: the last word it had
            last = max(rows, key=lambda b: b.beat_at)
            shown.append(_one(name, last, now, who(last), speed))
            continue
        each = [(b, _one(name, b, now, who(b), speed)) for b in live]
        shown += [s for _, s in each if s.state not in WELL]
        for state in WELL:
            group = [(b, s) for b, s in each if s.state == state]
            if len(group) == 1:
                shown.append(group[0][1])
            elif group:
                oldest = max((now - b.beat_at).total_seconds() for b, _ in group) / speed
                shown.append(Shown(name, f"{state} ×{len(group)}", age(oldest), ", ".join(b.process for b, _ in group)))
    return shown


class HealthPanel(Static):
    """One line per component (or per process in trouble, or per state of the well ones): name, state, age
    of the last beat, the detail."""

    shown: reactive[tuple[Shown, ...]] = reactive(tuple, always_update=True)

    def watch_shown(self, shown: tuple[Shown, ...]) -> None:
        text = Text()
        for i, s in enumerate(shown):
            if i:
                text.append("\n")
            text.append(f"{s.component:<{NAME_WIDTH}} ")
            text.append(f"{s.state:<12}", style=STYLE.get(s.state.split(" ×")[0], ""))
            text.append(f" {s.age:>6}  {s.detail}")
        self.update(text)
