"""Rates on the overview: one line per series, its sparkline and its numbers (readable without colour)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline, Static

from ..rates import SERIES, Rates


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
            row.query_one(".rate-figures", Static).update(
                f"{rates.now(name):>4}/min now {rates.total(name):>6} in {len(rates.minutes)} min")
