"""The duty officer's dashboard: queues, alerts and deadlines, refreshed every second from the store."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Header, Input, Static, TabbedContent, TabPane

from hub.acts import duty
from hub.acts.duty import Alert, Stuck
from hub.acts.signed import MemberHome
from hub.clock import Clock, SystemClock
from hub.errors import AccessRefused, NotActionable
from store import Database
from store.vocabulary import ALERT_PREFIX, URGENCIES, ItemState

from . import columns
from .confirm import Confirm
from .embargo_view import EmbargoState, embargo_state
from .queries import (
    OpenDeadline, Overview, PartnerHealth, Traffic, detail, heartbeats, open_deadlines, overview, partners, traffic,
)
from .rates import RateCounter
from .timefmt import brussels, left
from .widgets import HealthPanel, RatesPanel
from .widgets.health import judge


# Colour adds to the words, never replaces them (OVERDUE is written out): readable without colour.
URGENCY_STYLE = dict(zip(URGENCIES, ("bold red", "yellow", "", "dim")))  # most urgent first
# The screens: their tab, with the key that shows it underlined (the footer keeps room for the acts).
SCREENS = (("overview", "[u]O[/u]verview"), ("deadlines", "[u]D[/u]eadlines"), ("traffic", "[u]T[/u]raffic"),
           ("partners", "[u]P[/u]artners"), ("embargo", "[u]E[/u]mbargo"), ("stuck", "Alert[u]s[/u] & quarantine"))


def _closeness(due: datetime, now: datetime) -> str:
    seconds = (due - now).total_seconds()
    if seconds < 0:
        return "bold white on red"
    if seconds < 3600:
        return "bold red"
    if seconds < 6 * 3600:
        return "yellow"
    return ""


class _Screens(TabbedContent):
    """The tabs, telling the dashboard when the terminal's width changed (the app's own Resize stops there)."""

    def on_resize(self) -> None:
        self.app.refit()


class Dashboard(App):
    """`passerelle tui`: reads the store (never secrets, never message content); its acts are signed in the member's
    own GnuPG home (*signer*: gpg runs there, no secret key enters this process)."""

    CSS_PATH = "dashboard.tcss"
    TITLE = "Passerelle"
    # The screens' keys are underlined in their tabs; the footer shows quitting and the acts, at 80 columns too.
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("o", "show('overview')", "Overview", show=False),
                Binding("d", "show('deadlines')", "Deadlines", show=False),
                Binding("t", "show('traffic')", "Traffic", show=False),
                Binding("p", "show('partners')", "Partners", show=False),
                Binding("e", "show('embargo')", "Embargo", show=False),
                Binding("s", "show('stuck')", "Alerts"),
                Binding("a", "acknowledge", "Ack alert"), Binding("r", "retry", "Retry/requeue"),
                Binding("slash", "filter", "Filter", show=False)]

    def __init__(self, db: Database, *, refresh_seconds: float = 1.0, clock: Clock | None = None,
                 signer: MemberHome | None = None, rate_bucket: timedelta = timedelta(minutes=1), broker=None,
                 clock_speed: float = 1.0) -> None:
        super().__init__()
        self.clock_speed = clock_speed  # how much faster than real time *clock* runs (the demo's): health ages
        self._width = 0  # the terminal width the tables' columns were laid out for
        self.broker = broker  # a callable giving the broker's queue depths (distributed deployment), or None
        self.signer = signer  # the member's own GnuPG home that signs the acts; None: the dashboard only shows
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.clock = clock or SystemClock()  # the hub's injected clock: what is shown, and the acts' times
        self._now = self.clock.now
        self.rates = RateCounter(db, bucket=rate_bucket)  # remembers settled minutes between refreshes

    def compose(self) -> ComposeResult:
        yield Header()  # times are shown in Europe/Brussels in the tables, not the machine's zone
        titles = dict(SCREENS)
        with _Screens(initial="overview"):
            with TabPane(titles["overview"], id="overview"):
                with Vertical():
                    yield Static(id="summary")
                    yield RatesPanel(id="rates")
                    yield HealthPanel(id="health")
                    yield DataTable(id="queues", cursor_type="row")
                    yield DataTable(id="alerts", cursor_type="row")
            with TabPane(titles["deadlines"], id="deadlines"):
                with Vertical():
                    yield Input(placeholder="filter: partner, OCAM/partner, urgency, reference  (/ to type, esc)",
                                id="deadline-filter")
                    yield DataTable(id="deadline-table", cursor_type="row")
            with TabPane(titles["traffic"], id="traffic"):
                with Vertical():
                    yield DataTable(id="traffic-table", cursor_type="row")
                    yield Static("select a message for its receipt, deliveries and audit trail", id="traffic-detail")
            with TabPane(titles["partners"], id="partners"):
                yield DataTable(id="partner-table", cursor_type="row")
            with TabPane(titles["embargo"], id="embargo"):
                with Vertical():
                    yield Static("sealed to their holders: metadata only; the hub cannot open them", id="embargo-note")
                    yield DataTable(id="embargo-items", cursor_type="row")
                    yield DataTable(id="holder-lists", cursor_type="row")
                    yield DataTable(id="pending-decisions", cursor_type="row")
            with TabPane(titles["stuck"], id="stuck"):
                with Vertical():
                    yield DataTable(id="open-alerts", cursor_type="row")
                    yield DataTable(id="stuck-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self._lay_out_columns()
        self.refresh_data()
        self.set_interval(self.refresh_seconds, self.refresh_data)

    def refit(self) -> None:
        """The terminal was resized: the tables' columns for its width, and their rows again if they changed."""
        if self._lay_out_columns():
            self.refresh_data()

    def _lay_out_columns(self) -> bool:
        """Each table's columns for the terminal's width (tui/columns.py); True when they changed."""
        width = self.size.width
        if self._width and all(columns.shown(t, width) == columns.shown(t, self._width) for t in columns.TABLES):
            self._width = width
            return False
        self._width = width
        for table_id in columns.TABLES:
            table = self.query_one(f"#{table_id}", DataTable)
            table.clear(columns=True)
            table.add_columns(*columns.labels(table_id, width))
        return True

    @property
    def _narrow(self) -> bool:
        return self._width < columns.MEDIUM

    SCREENS_BY_NAME = (("overview", "Overview", "queues, rates, health, alerts"),
                       ("deadlines", "Deadlines", "open clocks, overdue first"),
                       ("traffic", "Traffic", "recent messages and their detail"),
                       ("partners", "Partners and keys", "contact points, key expiry, on-time rate"),
                       ("embargo", "Embargo", "sealed items, holder lists, pending decisions"),
                       ("stuck", "Alerts and quarantine", "acknowledge, retry, requeue"))

    def get_system_commands(self, screen):
        """The command palette (ctrl+p) switches screens too, besides Textual's own commands."""
        yield from super().get_system_commands(screen)
        for tab, title, help_text in self.SCREENS_BY_NAME:
            yield SystemCommand(f"Show {title}", help_text, lambda tab=tab: self.action_show(tab))

    def action_show(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_filter(self) -> None:
        self.action_show("deadlines")
        self.query_one("#deadline-filter", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "deadline-filter":
            self.refresh_data()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#deadline-table", DataTable).focus()

    @work(thread=True, exclusive=True, group="refresh")
    def refresh_data(self) -> None:
        """Reads run in a worker thread; the widgets are updated on the app's own thread."""
        now = self._now()
        data = overview(self.db), open_deadlines(self.db), traffic(self.db), partners(self.db)
        self._broker_depths = self.broker() if self.broker is not None else None
        pending = duty.open_alerts(self.db), duty.stuck(self.db)
        sealed = embargo_state(self.db)
        rates, health = self.rates(now), tuple(judge(heartbeats(self.db), now, speed=self.clock_speed))
        self.call_from_thread(self._show_safely, self._show_overview, rates, health)
        self.call_from_thread(self._show_safely, self._show, *data)
        self.call_from_thread(self._show_safely, self._show_stuck, *pending)
        self.call_from_thread(self._show_safely, self._show_embargo, sealed)

    def _broker_rows(self) -> list[tuple[str, str, str, str]]:
        """The broker's queues under the store's (outbox) rows: messages waiting on RabbitMQ."""
        depths = getattr(self, "_broker_depths", None)
        if depths is None:
            return []
        if not depths:
            return [("broker", "UNREACHABLE", "-", "-")]
        return [(f"broker {name}", "not declared" if n < 0 else str(n), "-", "-") for name, n in sorted(depths.items())]

    def _show_embargo(self, state: EmbargoState) -> None:
        name = 12 if self._narrow else 20
        self._refill(self.query_one("#embargo-items", DataTable),
                     [(i.reference, i.kind, columns.cut(i.partner, name), brussels(i.received_at),
                       f"v{i.holder_version}, {i.holders} holder(s)" + (", resealed" if i.resealed_at else ""),
                       i.decision, i.confirmation) for i in state.items], [i.reference for i in state.items])
        self._refill(self.query_one("#holder-lists", DataTable),
                     [(v.kind, str(v.version), v.change, v.member, v.signed_by, brussels(v.changed_at),
                       ", ".join(v.holders)) for v in state.lists])
        self._refill(self.query_one("#pending-decisions", DataTable),
                     [(p.reference, p.integrate, p.consent, "signed" if p.has_director else "WAITING",
                       "signed" if p.has_second else "WAITING", brussels(p.created_at)) for p in state.pending])

    def _show_safely(self, show, *data) -> None:
        """Show fresh data, unless the dashboard is closing and its widgets are already gone."""
        try:
            show(*data)
        except NoMatches:
            pass

    def _show_overview(self, rates, health) -> None:
        self.query_one(RatesPanel).rates = rates
        self.query_one(HealthPanel).shown = health

    def _show_stuck(self, alerts: list[Alert], items: list[Stuck]) -> None:
        about, where = (22, 26) if self._narrow else (40, 40)
        self._refill(self.query_one("#open-alerts", DataTable),
                     [(brussels(a.at), a.action.removeprefix(ALERT_PREFIX), a.reference or "-",
                       columns.cut(str(a.detail.get("to") or a.detail.get("partner") or a.detail.get("why") or ""),
                                   about)) for a in alerts],
                     [str(a.event_id) for a in alerts])
        self._refill(self.query_one("#stuck-table", DataTable),
                     [(i.what, str(i.id), columns.cut(i.where, where), i.why) for i in items],
                     [f"{i.what}:{i.id}" for i in items])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "traffic-table" and event.row_key is not None:
            self._load_detail(event.row_key.value)

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(self, reference: str) -> None:
        text = detail(self.db, reference)
        self.call_from_thread(self._show_safely, lambda: self.query_one("#traffic-detail", Static).update(text))

    def _refill(self, table: DataTable, rows: list[tuple], keys: list[str | None] | None = None) -> None:
        """Replace a table's rows with the cells of the columns its width shows, keeping the officer's selected
        row where it was."""
        shown = columns.shown(table.id, self._width)
        row = table.cursor_row
        table.clear()
        for i, cells in enumerate(rows):
            table.add_row(*(cells[c] for c in shown), key=keys[i] if keys else None)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1), animate=False)

    def _selected(self, table_id: str) -> tuple[str, tuple] | None:
        """The selected row's key and the cells it shows, or None when the table is empty."""
        table = self.query_one(table_id, DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value, tuple(str(cell) for cell in table.get_row(key))

    UNSIGNED = "Started without --signer-home, the dashboard only shows: every act is signed by the member who does it"

    def action_acknowledge(self) -> None:
        selected = self._selected("#open-alerts")
        if selected is None:
            self.notify("No open alert to acknowledge.", severity="information")
            return
        key, (when, what, reference, *_about) = selected
        if self.signer is None:
            self.notify(self.UNSIGNED, severity="warning")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._act(duty.acknowledge_alert, int(key))

        self.push_screen(Confirm(f"Acknowledge alert {key} ({what}, {reference}, {when})? It is signed with your key "
                                 "and recorded under your name."), done)

    def action_retry(self) -> None:
        selected = self._selected("#stuck-table")
        if selected is None:
            self.notify("Nothing quarantined and no failed delivery: nothing to retry.", severity="information")
            return
        key, (_what, _id, where, *_why) = selected
        what, _, item_id = key.partition(":")
        if self.signer is None:
            self.notify(self.UNSIGNED, severity="warning")
            return

        def done(yes: bool | None) -> None:
            if not yes:
                return
            self._act(duty.requeue if what == duty.QUARANTINED else duty.retry_delivery, int(item_id))

        question = (f"Put quarantined item {item_id} ({where}) back in its queue?" if what == duty.QUARANTINED
                    else f"Retry failed delivery {item_id} ({where})?")
        self.push_screen(Confirm(f"{question} It is signed with your key and recorded under your name."), done)

    @work(thread=True, group="act")
    def _act(self, act, target: int) -> None:
        """One of the duty officer's acts (hub/acts/duty.py, as the CLI's), signed in the member's home, off the app's
        thread; then a refresh."""
        try:
            act(self.db, self.clock, target, self.signer)
        except NotActionable as exc:
            self.call_from_thread(self.notify, str(exc), severity="warning")
        except AccessRefused as exc:  # recorded by the act (access.refused)
            self.call_from_thread(self.notify, str(exc), severity="error")
        self.call_from_thread(self.refresh_data)

    def _show(self, ov: Overview, deadlines: list[OpenDeadline], messages: list[Traffic],
              contacts: list[PartnerHealth]) -> None:
        now = self._now()
        urgency = "  ".join(f"{u} {ov.by_urgency[u]}" for u in (*URGENCIES, *sorted(set(ov.by_urgency) - set(URGENCIES)))
                            if u in ov.by_urgency)
        self.query_one("#summary", Static).update(
            f"{brussels(now)} Brussels   messages {ov.messages} (refused {ov.refused})   alerts {len(ov.alerts)}\n"
            f"deliveries pending {ov.pending_deliveries}, failed {ov.failed_deliveries}   {urgency}")
        self._refill(self.query_one("#queues", DataTable),
                     [(name, *(str(states.get(s, 0)) for s in ItemState))
                      for name, states in sorted(ov.queues.items())] + self._broker_rows())
        self._refill(self.query_one("#alerts", DataTable),
                     [(brussels(at), action.removeprefix(ALERT_PREFIX), ref or "-") for at, action, ref in ov.alerts])
        wanted = self.query_one("#deadline-filter", Input).value.strip().lower()
        deadlines = [d for d in deadlines if not wanted or wanted in
                     f"{d.partner} {'ocam' if d.owed_by == 'ocam' else 'partner'} {d.urgency} {d.reference}".lower()]
        self._refill(self.query_one("#deadline-table", DataTable),
                     [(Text(left(d.due_at, now), style=_closeness(d.due_at, now), justify="left"), brussels(d.due_at),
                       d.reference, columns.cut(d.partner, 16), "OCAM" if d.owed_by == "ocam" else "partner",
                       Text(d.urgency, style=URGENCY_STYLE.get(d.urgency, ""), justify="left")) for d in deadlines])
        name, at = (12, "time") if self._narrow else (15, "minutes")
        if self._width >= columns.WIDE:
            name, at = 20, "seconds"
        self._refill(self.query_one("#traffic-table", DataTable),
                     [(m.reference, "in" if m.direction == "inbound" else "out", columns.cut(m.partner or "-", name),
                       m.kind, m.urgency, m.urgency_source, m.embargo or "-", m.state, m.receipt,
                       brussels(m.received_at, at)) for m in messages], [m.reference for m in messages])
        self._refill(self.query_one("#partner-table", DataTable), [self._partner_row(p, now) for p in contacts])

    @staticmethod
    def _partner_row(p: PartnerHealth, now: datetime) -> tuple:
        expiry = "REVOKED" if p.key_revoked else (brussels(p.key_expires_at, "date") if p.key_expires_at else "never")
        if p.key_expires_at and not p.key_revoked and (p.key_expires_at - now).days < 30:
            expiry = f"SOON {expiry}"
        rate = f"{100 * p.on_time // p.answered}% of {p.answered}" if p.answered else "-"
        return (columns.cut(p.name, 16), p.kind, p.fingerprint[-16:], expiry,
                brussels(p.last_message_at, "minutes") if p.last_message_at else "-", rate)
