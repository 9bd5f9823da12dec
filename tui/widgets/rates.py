"""Rates on the overview: one line per series, its sparkline and its numbers (readable without colour)."""

from __future__ import annotations

from datetime import timedelta

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline, Static

from ..rates import SERIES, Rates


def span(d: timedelta) -> str:
    """'min' for a minute, else the shortest of '24 min', '2h', '3d'."""
    minutes = int(d.total_seconds() // 60)
    if minutes <= 1:
        return "min"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes} min"


class RatesPanel(Vertical):
    """Per-minute counts of the last half hour: intake, processed, sent, retries, quarantined."""

    rates: reactive[Rates | None] = reactive(None, always_update=True)

    def compose(self) -> ComposeResult:
        for name, meaning in SERIES:
            row = Horizontal(classes="rate", id=f"rate-{name}")
            row.tooltip = meaning
            with row:
                yield Label(name, classes="rate-name")
                yield Sparkline([0], classes="rate-spark")
                yield Static("", classes="rate-figures")

    def watch_rates(self, rates: Rates | None) -> None:
        if rates is None:
            return
        for name, _ in SERIES:
            row = self.query_one(f"#rate-{name}")
            row.query_one(Sparkline).data = list(rates.counts[name])
            per, window = span(rates.bucket), span(rates.bucket * len(rates.minutes))
            row.query_one(".rate-figures", Static).update(
                f"{rates.now(name):>4}/{per} now {rates.total(name):>6} in {window}")
