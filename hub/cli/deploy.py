"""`passerelle partner kit`, `passerelle tls` and `passerelle hub-key`: onboarding a contact point, the gateway's
certificate, the hub key's rotation. Each is an operator's act, recorded under ``actor`` ("operator" until the act
is signed: the domain functions take ``actor`` and ``signed``, the signed act's statement digest and signature)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
from pydantic import TypeAdapter, ValidationError

from hub.clock import brussels
from hub.errors import KeyRotationError, PartnerError, TlsError

from .common import command_clock, fail, home_option, load_settings, opened

RELOAD = ("the serving processes take it at SIGHUP (kill -HUP PID; systemctl reload passerelle-...) or at "
          "their restart")


@click.command("kit")
@home_option
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new (or empty) folder for the kit.")
@click.option("--host", help="The name the contact point connects by (default: the certificate's first name that "
                             "is not localhost).")
@click.option("--port", type=int, help="The port it connects to (default: that of [gateway] listen).")
@click.option("--kit-dir", default="~/.passerelle", show_default=True,
              help="Where the contact point will keep the kit: its settings name the certificate there.")
def kit(home: Path, name: str, out: Path, host: str | None, port: int | None, kit_dir: str) -> None:
    """Write what contact point NAME needs, nothing secret: the hub's public key and fingerprint, the certificate
    STARTTLS presents, mutt, neomutt, aerc and Thunderbird settings, a first test message."""
    from hub.deploy import kit as kit_mod

    with opened(home) as (settings, db, gpg, clock):
        try:
            made = kit_mod.write(settings, db, gpg, clock, partner=name, out=out, host=host, port=port,
                                 kit_dir=kit_dir)
        except (PartnerError, TlsError) as exc:
            fail(str(exc))
    click.echo(f"kit for {name} in {made.folder}: {', '.join(made.files)}")
    click.echo(f"  hub key          {made.hub_fingerprint}")
    if made.previous_fingerprint:
        click.echo(f"  previous key     {made.previous_fingerprint} (in the rotation's overlap)")
    click.echo(f"  certificate      sha256 {made.certificate.fingerprint}")
    click.echo(f"  connects to      {made.host}:{made.port} (STARTTLS)")
    click.echo("Give both fingerprints to the contact point by telephone; the files may travel by any channel.")


@click.group("tls")
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
def tls_install(home: Path, cert_file: Path, key_file: Path, chain_file: Path | None) -> None:
    """Install a certificate of the organisation's CA: checked (the key is the certificate's, valid now, names a
    host, for TLS servers, the chain in order), written 0600 as HOME/tls/cert.pem and key.pem, recorded."""
    from hub.deploy.tls import install

    with opened(home) as (settings, db, _gpg, clock):
        try:
            cert = install(settings, db, clock, cert_pem=cert_file.read_bytes(), key_pem=key_file.read_bytes(),
                           chain_pem=chain_file.read_bytes() if chain_file else None)
        except TlsError as exc:
            fail(f"certificate refused: {exc}")
    click.echo(f"installed {settings.tls_cert} and {settings.tls_key.name} (0600)")
    _show(cert)
    click.echo(f"The gateway presents it once reloaded: {RELOAD}. Give partners new kits (partner kit) if they "
               f"trusted the previous certificate itself.")


@click.group("hub-key")
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
def hub_key_rotate(home: Path, overlap: str) -> None:
    """A new hub key (Ed25519), announced to every partner, member and recipient in a message signed by the old
    key and carrying the new one (signed by itself); the old key is retired after the overlap."""
    from crypto import CryptoError, StorageKey

    from hub.deploy.rotation import rotate
    from hub.transport.embedded import EmbeddedTransport

    try:
        span = TypeAdapter(timedelta).validate_python(overlap)
    except ValidationError:
        fail(f"--overlap {overlap!r} is not an ISO 8601 duration (e.g. P30D)")
    with opened(home) as (settings, db, gpg, clock):
        try:
            done = rotate(settings, db, gpg, StorageKey.load(settings.storage_key_path), clock,
                          EmbeddedTransport(db, clock), overlap=span)
        except (KeyRotationError, CryptoError) as exc:
            fail(f"the hub's key was not rotated: {exc}")
    click.echo(f"new hub key      {done.new}")
    click.echo(f"previous key     {done.old}: mail encrypted to it accepted until {brussels(done.accepted_until)}, "
               f"then refused and the key retired")
    click.echo(f"announced to     {len(done.announced)} addressee(s)" + (f"; held for {len(done.held)}: " + ", ".join(
        f"{a} ({why})" for a, why in done.held) if done.held else ""))
    click.echo(f"[hub] key_fingerprint is now the new key; {RELOAD}.")
