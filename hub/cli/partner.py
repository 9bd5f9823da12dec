"""`passerelle partner`: register contact points, update their keys, list them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.registry import partners as partners_mod
from .common import acting, home_option, opened, signer_option
from hub.clock import brussels

key_option = click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="The contact point's public key (armoured or binary).")


@click.group()
def partner() -> None:
    """Support services' contact points and their bound keys (registered under the director's or the deputy's
    signature)."""


@partner.command("add")
@home_option
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(partners_mod.PARTNER_KINDS), help="Support service (law Art. 2).")
@click.option("--email", required=True, help="The contact point's address; must be in a user id of the key.")
@key_option
@click.option("--fingerprint", help="Expected primary fingerprint, checked against the key.")
@signer_option()
def partner_add(home: Path, name: str, kind: str, email: str, key_file: Path, fingerprint: str | None,
                signer_home: Path | None) -> None:
    """Register NAME and bind exactly the key in --key."""
    with acting(home, signer_home) as (_settings, db, gpg, clock, by), db.unit_of_work() as uow:
        p = partners_mod.add(uow, gpg, clock, by, name=name, kind=kind, email=email, key_data=key_file.read_bytes(),
                             fingerprint=fingerprint)
        uow.commit()
        click.echo(f"registered {p.name} ({p.kind}) <{p.email}>")
        click.echo(f"  primary fingerprint {p.fingerprint}")
        click.echo(f"  expires             {brussels(p.key_expires_at) if p.key_expires_at else 'never'}")


@partner.command("update-key")
@home_option
@click.argument("name")
@key_option
@signer_option()
def partner_update_key(home: Path, name: str, key_file: Path, signer_home: Path | None) -> None:
    """Import a newer copy of NAME's bound key (new expiry, subkeys, or its revocation)."""
    from crypto import StorageKey

    from hub.outbound.requests import release_held
    from hub.transport.embedded import EmbeddedTransport

    with acting(home, signer_home) as (settings, db, gpg, clock, by), db.unit_of_work() as uow:
        p = partners_mod.update_key(uow, gpg, clock, by, name=name, key_data=key_file.read_bytes())
        # Requests held for this partner's unusable key go out now that it has a usable one.
        released = [] if p.key_revoked else release_held(
            uow, settings=settings, gpg=gpg, key=StorageKey.load(settings.storage_key_path), clock=clock,
            transport=EmbeddedTransport(db, clock), partner_id=p.id)
        uow.commit()
        state = "REVOKED" if p.key_revoked else f"expires {brussels(p.key_expires_at) if p.key_expires_at else 'never'}"
        click.echo(f"updated key of {p.name}: {p.fingerprint} ({state})")
        for reference in released:
            click.echo(f"  held request {reference} released: encrypted and queued")


@partner.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def partner_list(home: Path, as_json: bool) -> None:
    """List the registered contact points."""
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        rows = [{"name": p.name, "kind": p.kind, "email": p.email, "fingerprint": p.fingerprint,
                 "key_expires_at": p.key_expires_at.isoformat() if p.key_expires_at else None,
                 "key_revoked": p.key_revoked} for p in uow.partners.all()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        status = "revoked" if r["key_revoked"] else (f"expires {r['key_expires_at'][:10]}" if r["key_expires_at"] else "no expiry")
        click.echo(f"{r['name']:<20} {r['kind']:<18} {r['email']:<32} {r['fingerprint']}  {status}")
