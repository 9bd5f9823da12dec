"""`passerelle partner`: register contact points, update their keys, set how their receipts travel, list them,
write a contact point's kit."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.registry import partners as partners_mod
from hub.registry.clearances import CLEARANCES, SECRET
from .common import acting, fail, home_option, opened, signed_act, signer_option
from hub.clock import brussels
from hub.errors import TlsError

key_option = click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="The contact point's public key (armoured or binary).")


receipts_option = click.option(
    "--receipts", type=click.Choice(partners_mod.RECEIPTS),
    help="How its receipts travel: encrypted to its key (the default, AR Art. 11 §7), or signed only, for a system "
         "that must read them unencrypted.")

clearance_help = ("The contact point's security clearance: the classified evaluations it may receive (AR Art. 11 §8; "
                  "law of 11 December 1998).")


def _show_properties(p, gpg, clock) -> None:
    from hub.outbound.requests import key_problem

    problem = key_problem(gpg, p.fingerprint, clock.now()) if p.receipts == partners_mod.ENCRYPTED else None
    click.echo(f"  cleared             {p.clearance}")
    click.echo(f"  receipts            {p.receipts}"
               + (f" (its key is {problem}: they are held, never sent in clear)" if problem else ""))
    if p.kind in partners_mod.HEADED:
        click.echo("  head of service     " + (f"<{p.head_email}> key {p.head_fingerprint}" if p.head_fingerprint
                                              else "not registered: its foreign items' joint decisions wait for it"))
    click.echo("  clock starts        " + ("at the relay's 250 (the relay is its own server)" if p.relay_is_own_server
                                          else "at its MDN or a success DSN from its server"))


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
@receipts_option
@click.option("--relay-is-own-server", "relay_own", is_flag=True,
              help="The relay is this partner's own mail server: its 250 acknowledges OCAM's requests (AR Art. 11 §2).")
@click.option("--clearance", type=click.Choice(CLEARANCES, case_sensitive=False), default=SECRET, show_default=True,
              help=clearance_help)
@signer_option()
def partner_add(home: Path, name: str, kind: str, email: str, key_file: Path, fingerprint: str | None,
                receipts: str | None, relay_own: bool, clearance: str, signer_home: Path | None) -> None:
    """Register NAME and bind exactly the key in --key, as your signed act."""
    with acting(home, signer_home) as (_settings, db, gpg, clock, by), db.unit_of_work() as uow:
        p = partners_mod.add(uow, gpg, clock, by, name=name, kind=kind, email=email, key_data=key_file.read_bytes(),
                             fingerprint=fingerprint, receipts=receipts or partners_mod.ENCRYPTED,
                             relay_is_own_server=relay_own, clearance=clearance.upper())
        uow.commit()
        click.echo(f"registered {p.name} ({p.kind}) <{p.email}>")
        click.echo(f"  primary fingerprint {p.fingerprint}")
        click.echo(f"  expires             {brussels(p.key_expires_at) if p.key_expires_at else 'never'}")
        _show_properties(p, gpg, clock)


@partner.command("update-key")
@home_option
@click.argument("name")
@key_option
@signer_option()
def partner_update_key(home: Path, name: str, key_file: Path, signer_home: Path | None) -> None:
    """Import a newer copy of NAME's bound key (new expiry, subkeys, or its revocation), as your signed act."""
    with acting(home, signer_home) as (settings, db, gpg, clock, by), db.unit_of_work() as uow:
        p = partners_mod.update_key(uow, gpg, clock, by, name=name, key_data=key_file.read_bytes())
        released = ([], []) if p.key_revoked else _release(uow, settings, db, gpg, clock, p)
        uow.commit()
        state = "REVOKED" if p.key_revoked else f"expires {brussels(p.key_expires_at) if p.key_expires_at else 'never'}"
        click.echo(f"updated key of {p.name}: {p.fingerprint} ({state})")
        _show_released(*released)


def _release(uow, settings, db, gpg, clock, partner) -> tuple[list[str], list[str]]:
    """Requests and receipts held for this partner's unusable key go out now that they can: (requests, receipts)."""
    from crypto import StorageKey

    from hub.intake.receipt_envelope import release_held as release_receipts
    from hub.outbound.requests import release_held
    from hub.transport.embedded import EmbeddedTransport

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
@click.option("--clearance", type=click.Choice(CLEARANCES, case_sensitive=False), help=clearance_help)
@click.option("--head-key", "head_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The public key of the head of NAME's service (law Art. 12: intelligence, customs, foreign "
                   "affairs), who signs the joint decisions on its foreign items; with --head-email.")
@click.option("--head-email", "head_email", help="The head of service's address; must be in a user id of --head-key.")
@signer_option()
def partner_set(home: Path, name: str, receipts: str | None, relay_own: str | None, clearance: str | None,
                head_key: Path | None, head_email: str | None, signer_home: Path | None) -> None:
    """Change NAME's properties, as your signed act: how its receipts travel, whether the relay is its own server,
    its contact point's clearance, the head of its service."""
    if (head_key is None) != (head_email is None):
        fail("the head of service is registered with both --head-key and --head-email")
    if receipts is None and relay_own is None and clearance is None and head_key is None:
        fail("nothing to set: give --receipts, --relay-is-own-server, --clearance or --head-key with --head-email")
    with acting(home, signer_home) as (settings, db, gpg, clock, by), db.unit_of_work() as uow:
        p = partners_mod.set_properties(uow, gpg, clock, by, name=name, receipts=receipts,
                                        relay_is_own_server=None if relay_own is None else relay_own == "yes",
                                        clearance=clearance.upper() if clearance else None,
                                        head=(head_email, head_key.read_bytes()) if head_key and head_email else None)
        released = _release(uow, settings, db, gpg, clock, p) if receipts else ([], [])
        uow.commit()
        click.echo(f"{p.name}:")
        _show_properties(p, gpg, clock)
        _show_released(*released)


@partner.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def partner_list(home: Path, as_json: bool) -> None:
    """List the registered contact points."""
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        rows = [{"name": p.name, "kind": p.kind, "email": p.email, "fingerprint": p.fingerprint,
                 "key_expires_at": p.key_expires_at.isoformat() if p.key_expires_at else None,
                 "key_revoked": p.key_revoked, "receipts": p.receipts, "relay_is_own_server": p.relay_is_own_server,
                 "clearance": p.clearance, "head_email": p.head_email, "head_fingerprint": p.head_fingerprint}
                for p in uow.partners.all()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        status = "revoked" if r["key_revoked"] else (
            f"expires {brussels(r['key_expires_at'])}" if r["key_expires_at"] else "no expiry")
        click.echo(f"{r['name']:<20} {r['kind']:<18} {r['clearance']:<12} {r['email']:<32} {r['fingerprint']}  "
                   f"{status}")


@partner.command("kit")
@home_option
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new (or empty) folder for the kit.")
@click.option("--host", help="The name the contact point connects by (default: the certificate's first name that "
                             "is not localhost).")
@click.option("--port", type=int, help="The port it connects to (default: that of [gateway] listen).")
@click.option("--kit-dir", default="~/.passerelle", show_default=True,
              help="Where the contact point will keep the kit: its settings name the certificate there.")
@signer_option()
def kit(home: Path, name: str, out: Path, host: str | None, port: int | None, kit_dir: str,
        signer_home: Path | None) -> None:
    """Write what contact point NAME needs, nothing secret: the hub's public key and fingerprint, the certificate
    STARTTLS presents, mutt, neomutt, aerc and Thunderbird settings, a first test message; your signed act."""
    from hub.deploy import kit as kit_mod

    with acting(home, signer_home) as (settings, db, gpg, clock, by):
        actor, evidence = signed_act(db, clock, by, "partner.kit", partner=name)
        try:
            made = kit_mod.write(settings, db, gpg, clock, partner=name, out=out, host=host, port=port,
                                 kit_dir=kit_dir, actor=actor, signed=evidence)
        except TlsError as exc:
            fail(str(exc))
    click.echo(f"kit for {name} in {made.folder}: {', '.join(made.files)}")
    click.echo(f"  hub key          {made.hub_fingerprint}")
    if made.previous_fingerprint:
        click.echo(f"  previous key     {made.previous_fingerprint} (in the rotation's overlap)")
    click.echo(f"  certificate      sha256 {made.certificate.fingerprint}")
    click.echo(f"  connects to      {made.host}:{made.port} (STARTTLS)")
    click.echo("Give both fingerprints to the contact point by telephone; the files may travel by any channel.")
