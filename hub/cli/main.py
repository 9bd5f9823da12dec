"""The `passerelle` command: the root group, the hub's own life (init, serve, store upgrade, tui, demo; its
certificate and key: tls, hub-key), and every command group registered. Each act on the certificate or the key
is the signed act of the director or the deputy (--signer-home), recorded under their name with its statement
and signature."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click
from pydantic import TypeAdapter, ValidationError

from crypto import CryptoError

from hub import home as home_mod
from hub.clock import brussels
from hub.errors import HubError, KeyRotationError, TlsError
from hub.ops import logs

from .common import acting, command_clock, fail, home_option, load_settings, opened, scratch_option, signed_act, signer_option

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
@click.option("--director", "director_name", required=True,
              help="The director's name: the first member, cleared TOP-SECRET (law Art. 7); every later member, "
                   "partner and recipient is registered under the director's (or the deputy's) signature.")
@click.option("--director-email", required=True, help="The director's address; must be in a user id of the key.")
@click.option("--director-key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The director's public key (it must sign and encrypt; the secret key stays in the director's "
                   "own GnuPG home).")
@click.option("--tls-name", "tls_names", multiple=True, metavar="HOST",
              help="A name partners connect to the hub by (repeatable): the self-signed certificate names it, "
                   "with the domain, localhost and 127.0.0.1. A certificate of your CA: `passerelle tls install`.")
def init(home: Path, domain: str, address: str | None, hub_key: Path | None, store_url: str | None,
         director_name: str, director_email: str, director_key: Path, tls_names: tuple[str, ...]) -> None:
    """Create the hub identity (OpenPGP key, TLS certificate, storage key, store and settings) and register its
    director."""
    try:
        identity = home_mod.init(home, domain, address=address, hub_key=hub_key.read_bytes() if hub_key else None,
                                 store_url=store_url,
                                 director=home_mod.Director(director_name, director_email, director_key.read_bytes()),
                                 tls_names=tls_names)
    except HubError as exc:
        fail(str(exc))
    click.echo(f"Initialised {identity.home}")
    click.echo(f"  hub address      {identity.address}")
    click.echo(f"  OpenPGP key      {identity.fingerprint}")
    click.echo(f"  TLS certificate  sha256 {identity.tls_fingerprint}")
    click.echo(f"  director         {director_name} <{director_email.strip().lower()}> key {identity.director}")
    click.echo(f"  TLS names        {', '.join(identity.tls_names)}")


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
@signer_option("Your own GnuPG home, holding your member key: signs the dashboard's acts (acknowledge, requeue, "
               "retry); gpg runs there, the dashboard holds no key. Without it the dashboard only shows.")
def tui(home: Path, refresh: float, signer_home: Path | None) -> None:
    """The duty officer's dashboard (reads the store; run it beside `passerelle serve`)."""
    with dashboard(home, refresh, signer_home) as app:
        app.run()


@contextmanager
def dashboard(home: Path, refresh: float, signer_home: Path | None):
    """The dashboard `passerelle tui` runs over the home's store, its acts signed in *signer_home* (or none)."""
    from hub.acts.signed import MemberHome
    from hub.home import open_gpg
    from store import Database
    from tui import Dashboard

    settings = load_settings(home)
    signer = MemberHome.of(signer_home, settings, open_gpg(settings)) if signer_home else None
    db = Database(settings.database_url)
    try:
        broker = None
        if settings.transport.enabled:  # the broker's queue depths beside the store's
            from hub.app import STAGES
            from hub.transport.depths import BrokerDepths

            broker = BrokerDepths(settings.transport, STAGES)
        yield Dashboard(db, refresh_seconds=refresh, broker=broker, signer=signer, clock=command_clock())
    finally:
        db.dispose()


RELOAD = ("the serving processes take it at SIGHUP (kill -HUP PID; systemctl reload passerelle-...) or at "
          "their restart")


@main.group("tls")
def tls() -> None:
    """The certificate the gateway presents on STARTTLS."""


def _show(cert) -> None:
    click.echo(f"  sha256     {cert.fingerprint}")
    click.echo(f"  names      {', '.join(cert.names)}")
    click.echo(f"  issuer     {cert.issuer}{' (self-signed)' if cert.self_signed else ''}")
    click.echo(f"  valid      {brussels(cert.not_before)} to {brussels(cert.not_after)}")


@tls.command("show")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (times in UTC).")
def tls_show(home: Path, as_json: bool) -> None:
    """The home's certificate: its names, issuer, validity and SHA-256 fingerprint."""
    from hub.deploy.tls import current

    settings = load_settings(home)
    try:
        cert = current(settings)
    except TlsError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"sha256": cert.fingerprint, "names": list(cert.names), "issuer": cert.issuer,
                               "not_before": cert.not_before.isoformat(), "not_after": cert.not_after.isoformat(),
                               "days_left": int(cert.days_left(command_clock().now()))}, indent=2))
        return
    click.echo(f"{settings.tls_cert}")
    _show(cert)


@tls.command("install")
@home_option
@click.option("--cert", "cert_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The server certificate (PEM; intermediates may follow it).")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Its private key (PEM, without a passphrase).")
@click.option("--chain", "chain_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The intermediate certificates (PEM), the certificate's issuer first.")
@signer_option()
def tls_install(home: Path, cert_file: Path, key_file: Path, chain_file: Path | None, signer_home: Path | None) -> None:
    """Install a certificate of the organisation's CA: checked (the key is the certificate's, valid now, names a
    host, for TLS servers, the chain in order), written 0600 as HOME/tls/cert.pem and key.pem; your signed act,
    recorded."""
    import hashlib

    from hub.deploy.tls import install

    with acting(home, signer_home) as (settings, db, _gpg, clock, by):
        actor, evidence = signed_act(db, clock, by, "tls.install",
                                     cert_sha256=hashlib.sha256(cert_file.read_bytes()).hexdigest())
        try:
            cert = install(settings, db, clock, cert_pem=cert_file.read_bytes(), key_pem=key_file.read_bytes(),
                           chain_pem=chain_file.read_bytes() if chain_file else None, actor=actor, signed=evidence)
        except TlsError as exc:
            fail(f"certificate refused: {exc}")
    click.echo(f"installed {settings.tls_cert} and {settings.tls_key.name} (0600)")
    _show(cert)
    click.echo(f"The gateway presents it once reloaded: {RELOAD}. Give partners new kits (partner kit) if they "
               f"trusted the previous certificate itself.")


@main.group("hub-key")
def hub_key() -> None:
    """The hub's own OpenPGP key: the current one, the earlier ones, rotation."""


@hub_key.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (times in UTC).")
def hub_key_list(home: Path, as_json: bool) -> None:
    """The hub's keys: the current one (it signs everything), the earlier ones (they verify what they signed)."""
    with opened(home) as (settings, _db, gpg, clock):
        hub = settings.hub
        retired = hub.retired_keys(clock.now())
        rows = [{"fingerprint": hub.key_fingerprint, "state": "current", "signs": gpg.signs(hub.key_fingerprint)}]
        for old in reversed(hub.previous_keys):
            until = hub.previous_key_accepted_until
            state = "retired" if old in retired or until is None else "accepted until " + (
                until.isoformat() if as_json else brussels(until))
            rows.append({"fingerprint": old, "state": state, "signs": gpg.signs(old)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['fingerprint']}  {r['state']}{'' if r['signs'] else ' (signing secret deleted)'}")


@hub_key.command("rotate")
@home_option
@click.option("--overlap", default="P30D", show_default=True,
              help="How long mail encrypted to the old key is still accepted (ISO 8601 duration).")
@signer_option()
def hub_key_rotate(home: Path, overlap: str, signer_home: Path | None) -> None:
    """A new hub key (Ed25519), announced to every partner, member and recipient in a message signed by the old
    key and carrying the new one (signed by itself); the old key is retired after the overlap."""
    from crypto import StorageKey

    from hub.deploy.rotation import rotate
    from hub.transport.embedded import EmbeddedTransport

    try:
        span = TypeAdapter(timedelta).validate_python(overlap)
    except ValidationError:
        fail(f"--overlap {overlap!r} is not an ISO 8601 duration (e.g. P30D)")
    with acting(home, signer_home) as (settings, db, gpg, clock, by):
        actor, evidence = signed_act(db, clock, by, "hub-key.rotate", overlap=overlap)
        try:
            done = rotate(settings, db, gpg, StorageKey.load(settings.storage_key_path), clock,
                          EmbeddedTransport(db, clock), overlap=span, actor=actor, signed=evidence)
        except (KeyRotationError, CryptoError) as exc:
            fail(f"the hub's key was not rotated: {exc}")
    click.echo(f"new hub key      {done.new}")
    click.echo(f"previous key     {done.old}: mail encrypted to it accepted until {brussels(done.accepted_until)}, "
               f"then refused and the key retired")
    click.echo(f"announced to     {len(done.announced)} addressee(s)" + (f"; held for {len(done.held)}: " + ", ".join(
        f"{a} ({why})" for a, why in done.held) if done.held else ""))
    click.echo(f"[hub] key_fingerprint is now the new key; {RELOAD}.")


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
    from crypto import Gpg
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
        return Dashboard(db, refresh_seconds=1.0, clock=session.clock, rate_bucket=bucket, clock_speed=speed,
                         signer=session.signer("duty-officer", Gpg(session.settings.gnupg_home)))

    try:
        status = demo_mod.run(speed, dashboard, within=within)
    except (HubError, CryptoError) as exc:
        fail(f"the demo could not start: {exc} (gpg-agent needs a short path for its temporary home: "
             f"set TMPDIR to a short directory)")
    if status:
        sys.exit(status)
