"""The `passerelle` command: the root group, the hub's own life (init, serve, store upgrade, tui, demo), and every
command group registered."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta
from pathlib import Path

import click

from crypto import CryptoError

from hub import home as home_mod
from hub.errors import HubError
from hub.ops import logs

from .common import fail, home_option, load_settings, scratch_option

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--log-format", type=click.Choice(logs.FORMATS), help="Log lines as text, or one JSON object per line "
                                                                    "(journald, ELK); default: the home's [log] format.")
def main(verbose: int, log_format: str | None) -> None:
    """Passerelle — the encrypted store-and-forward hub between OCAM and its support services."""
    logs.setup(max(logging.WARNING - 10 * verbose, logging.DEBUG), log_format)
    # python-gnupg logs user ids at DEBUG and a warning for every refused signature: the hub reports those itself.
    logging.getLogger("gnupg").setLevel(logging.ERROR)
    # aiosmtpd logs every SMTP command line at INFO; the hub logs each verdict itself.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


@main.command()
@home_option
@click.option("--domain", required=True, help="Mail domain of the hub; its address becomes hub@DOMAIN.")
@click.option("--address", help="The hub's address (default hub@DOMAIN); an imported key must carry it.")
@click.option("--hub-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Import this secret key (armoured) instead of generating one.")
@click.option("--store-url", envvar="PASSERELLE_STORE__URL",
              help="Database of the store (postgresql+psycopg://...); default HOME/passerelle.db (SQLite).")
def init(home: Path, domain: str, address: str | None, hub_key: Path | None, store_url: str | None) -> None:
    """Create the hub identity: OpenPGP key, TLS certificate, storage key, store and settings."""
    try:
        identity = home_mod.init(home, domain, address=address, hub_key=hub_key.read_bytes() if hub_key else None,
                                 store_url=store_url)
    except HubError as exc:
        fail(str(exc))
    click.echo(f"Initialised {identity.home}")
    click.echo(f"  hub address      {identity.address}")
    click.echo(f"  OpenPGP key      {identity.fingerprint}")
    click.echo(f"  TLS certificate  sha256 {identity.tls_fingerprint}")


@main.command()
@home_option
@click.option("--listen", help="HOST:PORT for SMTP (default from settings: 127.0.0.1:2525).")
@click.option("--relay", help="HOST:PORT of the relay (smart host) for outbound mail.")
@click.option("--role", type=click.Choice(["all", "gateway", "worker", "scheduler"]), default="all",
              show_default=True, help="gateway: SMTP intake; worker: intake stages and delivery; scheduler: "
                                      "deadlines and retries; all: everything in one process.")
@click.option("--metrics-listen", help="HOST:PORT of this process's Prometheus endpoint (default from settings: "
                                       "127.0.0.1:9464); an empty value: none.")
def serve(home: Path, listen: str | None, relay: str | None, role: str, metrics_listen: str | None) -> None:
    """Run the hub's processes of ROLE (SIGTERM/SIGINT stop it cleanly). Several gateways and workers may run on
    one home when `[transport] url` names RabbitMQ."""
    from hub.app import Hub

    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    settings = load_settings(home)
    try:
        hub = Hub(settings, role=role)
    except HubError as exc:  # e.g. a broken policy or routing rules file: the hub does not start
        fail(str(exc))

    def ready(host: str, port: int) -> None:
        logs.announce(f"serving SMTP on {host}:{port} (role {role})" if port else f"running (role {role})")

    try:
        metrics = settings.metrics.listen if metrics_listen is None else metrics_listen
        asyncio.run(hub.serve(listen=listen, relay=relay, ready=ready, metrics=metrics.strip() or None))
    except HubError as exc:
        fail(str(exc))
    finally:
        hub.close()


@main.group()
def store() -> None:
    """The database: migrations."""


@store.command("upgrade")
@home_option
def store_upgrade(home: Path) -> None:
    """Apply the migrations up to the head revision."""
    from store import Database, current_revision, upgrade

    settings = load_settings(home)
    db = Database(settings.database_url)
    upgrade(db.engine)
    click.echo(f"store at revision {current_revision(db.engine)}")
    db.dispose()


@main.command()
@home_option
@click.option("--refresh", default=1.0, show_default=True, help="Seconds between refreshes.")
def tui(home: Path, refresh: float) -> None:
    """The duty officer's dashboard (reads the store; run it beside `passerelle serve`)."""
    from store import Database
    from tui import Dashboard

    settings = load_settings(home)
    db = Database(settings.database_url)
    try:
        broker = None
        if settings.transport.enabled:  # the broker's queue depths beside the store's
            from hub.app import STAGES
            from hub.transport.depths import BrokerDepths

            broker = BrokerDepths(settings.transport, STAGES)
        Dashboard(db, refresh_seconds=refresh, broker=broker).run()
    finally:
        db.dispose()


def _register() -> None:
    from .audit import audit, witness
    from .bench import bench
    from .deployment import backup, restore, transport
    from .duty import duty
    from .embargo import embargo, export
    from .members import holders, member
    from .messages import messages
    from .partner import partner
    from .report import report
    from .recipient import recipient
    from .retention import retention
    from .send import send

    main.add_command(audit)
    main.add_command(duty)
    main.add_command(partner)
    main.add_command(report)
    main.add_command(send)
    main.add_command(recipient)
    main.add_command(messages)
    main.add_command(bench)
    main.add_command(member)
    main.add_command(holders)
    main.add_command(embargo)
    main.add_command(export)
    main.add_command(retention)
    main.add_command(transport)
    main.add_command(backup)
    main.add_command(restore)
    main.add_command(witness)


_register()


@main.command()
@click.option("--speed", default=1440.0, show_default=True,
              help="How much faster the hub's clock runs (1440: a FLASH day passes in a minute).")
@click.option("--screenshots", "shots", type=click.Path(file_okay=False, path_type=Path),
              help="No dashboard in front: let the demo run --after seconds, then write an SVG of every screen "
                   "(110x34) into this directory, as the README's.")
@click.option("--after", default=40.0, show_default=True, help="Seconds the demo runs before the screenshots.")
@scratch_option
def demo(speed: float, shots: Path | None, after: float, within: Path | None) -> None:
    """A fresh temporary hub with four simulated support services sending signed traffic over real SMTP
    (all urgencies, some embargoed, some forged or from unknown keys), answering some of OCAM's requests and
    letting others go overdue; a local relay captures what the hub sends; the dashboard is in front.
    Quit the dashboard (q) to stop everything and remove the temporary home; SIGTERM, SIGHUP (the terminal
    closing) and SIGINT do the same."""
    from tui import Dashboard

    from hub.tools import demo as demo_mod

    logging.getLogger().setLevel(logging.ERROR)  # the dashboard owns the terminal
    if shots is not None:
        from hub.tools.screenshots import take

        for path in take(shots, speed=speed, after_seconds=after, within=within):
            click.echo(str(path))
        return

    def dashboard(db, session) -> Dashboard:
        # Under the accelerated clock a rate "minute" is about one real second.
        bucket = timedelta(minutes=max(1, round(speed / 60)))
        return Dashboard(db, refresh_seconds=1.0, clock=session.clock, operator="demo-officer", rate_bucket=bucket,
                         clock_speed=speed)

    try:
        status = demo_mod.run(speed, dashboard, within=within)
    except (HubError, CryptoError) as exc:
        fail(f"the demo could not start: {exc} (gpg-agent needs a short path for its temporary home: "
             f"set TMPDIR to a short directory)")
    if status:
        sys.exit(status)
