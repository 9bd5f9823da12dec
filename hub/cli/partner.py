"""`passerelle partner`: register contact points, update their keys, list them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.registry import partners as partners_mod
from .common import fail, home_option, load_settings
from hub.clock import SystemClock, brussels
from hub.errors import PartnerError

key_option = click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="The contact point's public key (armoured or binary).")


receipts_option = click.option(
    "--receipts", type=click.Choice(partners_mod.RECEIPTS),
    help="How its receipts travel: encrypted to its key (the default, AR Art. 11 §7), or signed only, for a system "
         "that must read them unencrypted.")


def _show_properties(p, gpg) -> None:
    from hub.outbound.requests import key_problem

    problem = key_problem(gpg, p.fingerprint, SystemClock().now()) if p.receipts == partners_mod.ENCRYPTED else None
    click.echo(f"  receipts            {p.receipts}"
               + (f" (its key is {problem}: they are held, never sent in clear)" if problem else ""))
    click.echo("  clock starts        " + ("at the relay's 250 (the relay is its own server)" if p.relay_is_own_server
                                          else "at its MDN or a success DSN from its server"))


def _open(home: Path):
    from hub.home import open_gpg
    from store import Database

    settings = load_settings(home)
    return Database(settings.database_url), open_gpg(settings)


@click.group()
def partner() -> None:
    """Support services' contact points and their bound keys."""


@partner.command("add")
@home_option
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(partners_mod.PARTNER_KINDS), help="Support service (law Art. 2).")
@click.option("--email", required=True, help="The contact point's address; must be in a user id of the key.")
@key_option
@click.option("--fingerprint", help="Expected primary fingerprint, checked against the key.")
@receipts_option
@click.option("--relay-is-own-server", "relay_own", is_flag=True,
              help="The relay is this partner's own mail server: its 250 acknowledges OCAM's requests (AR Art. 11 §2).")
def partner_add(home: Path, name: str, kind: str, email: str, key_file: Path, fingerprint: str | None,
                receipts: str | None, relay_own: bool) -> None:
    """Register NAME and bind exactly the key in --key."""
    db, gpg = _open(home)
    try:
        with db.unit_of_work() as uow:
            p = partners_mod.add(uow, gpg, SystemClock(), name=name, kind=kind, email=email,
                                 key_data=key_file.read_bytes(), fingerprint=fingerprint,
                                 receipts=receipts or partners_mod.ENCRYPTED, relay_is_own_server=relay_own)
            uow.commit()
            click.echo(f"registered {p.name} ({p.kind}) <{p.email}>")
            click.echo(f"  primary fingerprint {p.fingerprint}")
            click.echo(f"  expires             {brussels(p.key_expires_at) if p.key_expires_at else 'never'}")
            _show_properties(p, gpg)
    except PartnerError as exc:
        fail(str(exc))
    finally:
        db.dispose()


@partner.command("update-key")
@home_option
@click.argument("name")
@key_option
def partner_update_key(home: Path, name: str, key_file: Path) -> None:
    """Import a newer copy of NAME's bound key (new expiry, subkeys, or its revocation)."""
    db, gpg = _open(home)
    try:
        with db.unit_of_work() as uow:
            p = partners_mod.update_key(uow, gpg, SystemClock(), name=name, key_data=key_file.read_bytes())
            released = ([], []) if p.key_revoked else _release(uow, db, gpg, home, p)
            uow.commit()
            state = "REVOKED" if p.key_revoked else f"expires {brussels(p.key_expires_at) if p.key_expires_at else 'never'}"
            click.echo(f"updated key of {p.name}: {p.fingerprint} ({state})")
            _show_released(*released)
    except PartnerError as exc:
        fail(str(exc))
    finally:
        db.dispose()


def _release(uow, db, gpg, home: Path, partner) -> tuple[list[str], list[str]]:
    """Requests and receipts held for this partner's unusable key go out now that they can: (requests, receipts)."""
    from crypto import StorageKey

    from hub.intake.receipt_envelope import release_held as release_receipts
    from hub.outbound.requests import release_held
    from hub.transport.embedded import EmbeddedTransport

    settings = load_settings(home)
    clock = SystemClock()
    key, transport = StorageKey.load(settings.storage_key_path), EmbeddedTransport(db, clock)
    return (release_held(uow, settings=settings, gpg=gpg, key=key, clock=clock, transport=transport,
                         partner_id=partner.id),
            release_receipts(uow, gpg=gpg, key=key, clock=clock, transport=transport, partner=partner))


def _show_released(requests: list[str], receipts: list[str]) -> None:
    for reference in requests:
        click.echo(f"  held request {reference} released: encrypted and queued")
    for reference in receipts:
        click.echo(f"  held receipt of {reference} released and queued")


@partner.command("set")
@home_option
@click.argument("name")
@receipts_option
@click.option("--relay-is-own-server", "relay_own", type=click.Choice(["yes", "no"]),
              help="yes: the relay is NAME's own mail server, its 250 acknowledges OCAM's requests (AR Art. 11 §2).")
def partner_set(home: Path, name: str, receipts: str | None, relay_own: str | None) -> None:
    """Change NAME's properties: how its receipts travel, whether the relay is its own server (recorded)."""
    if receipts is None and relay_own is None:
        fail("nothing to set: give --receipts or --relay-is-own-server")
    db, gpg = _open(home)
    try:
        with db.unit_of_work() as uow:
            p = partners_mod.set_properties(uow, SystemClock(), name=name, receipts=receipts,
                                            relay_is_own_server=None if relay_own is None else relay_own == "yes")
            released = _release(uow, db, gpg, home, p) if receipts else ([], [])
            uow.commit()
            click.echo(f"{p.name}:")
            _show_properties(p, gpg)
            _show_released(*released)
    except PartnerError as exc:
        fail(str(exc))
    finally:
        db.dispose()


@partner.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def partner_list(home: Path, as_json: bool) -> None:
    """List the registered contact points."""
    db, _gpg = _open(home)
    try:
        with db.reader() as uow:
            rows = [{
                "name": p.name, "kind": p.kind, "email": p.email, "fingerprint": p.fingerprint,
                "key_expires_at": p.key_expires_at.isoformat() if p.key_expires_at else None,
                "key_revoked": p.key_revoked, "receipts": p.receipts, "relay_is_own_server": p.relay_is_own_server,
            } for p in uow.partners.all()]
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        status = "revoked" if r["key_revoked"] else (
            f"expires {brussels(r['key_expires_at'])}" if r["key_expires_at"] else "no expiry")
        click.echo(f"{r['name']:<20} {r['kind']:<18} {r['email']:<32} {r['fingerprint']}  {status}")
