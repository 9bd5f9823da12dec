"""`passerelle member` and `passerelle holders`: OCAM's members and the embargo holder lists."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.embargo import holders as holders_mod
from hub.registry import members as members_mod
from .common import fail, home_option, opened
from hub.clock import brussels
from hub.errors import EmbargoError
from hub.registry.recipients import CLEARANCES


@click.group()
def member() -> None:
    """Members of OCAM (director, deputy, expert, analyst, staff) and their keys."""


@member.command("add")
@home_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(members_mod.ROLES))
@click.option("--email", required=True, help="The member's address; must be in a user id of the key.")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clearance", required=True, type=click.Choice(CLEARANCES, case_sensitive=False))
def member_add(home: Path, name: str, role: str, email: str, key_file: Path, clearance: str) -> None:
    """Register NAME and bind exactly the key in --key (it must encrypt: embargoed items are sealed to it)."""
    with opened(home) as (_settings, db, gpg, clock), db.unit_of_work() as uow:
        m = members_mod.add(uow, gpg, clock, name=name, role=role, email=email, key_data=key_file.read_bytes(),
                            clearance=clearance.upper())
        uow.commit()
        click.echo(f"registered {m.name} ({m.role}, cleared {m.clearance}) <{m.email}> key {m.fingerprint}")


def _member_row(uow, m) -> dict:
    holds = [kind for kind in holders_mod.KINDS
             if m.name in {h["name"] for h in holders_mod.current(uow, kind)[1]}]
    return {"name": m.name, "role": m.role, "email": m.email, "fingerprint": m.fingerprint,
            "clearance": m.clearance, "key_expires_at": m.key_expires_at.isoformat() if m.key_expires_at else None,
            "holds": holds}


@member.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True)
def member_list(home: Path, as_json: bool) -> None:
    """All members, their role, clearance, key and the embargo lists they hold."""
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        rows = [_member_row(uow, m) for m in uow.members.all()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']:<16} {r['role']:<9} {r['clearance']:<12} {r['fingerprint']}  "
                   f"holds: {', '.join(r['holds']) or '-'}")


@member.command("show")
@home_option
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def member_show(home: Path, name: str, as_json: bool) -> None:
    """One member."""
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        m = uow.members.by_name(name)
        if m is None:
            fail(f"no member named {name!r}")
        row = _member_row(uow, m)
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    for key, value in row.items():
        if key == "key_expires_at":
            key, value = "key expires", brussels(value) if value else "never"
        click.echo(f"  {key:<15} {', '.join(value) if isinstance(value, list) else value}")


@click.group()
def holders() -> None:
    """The embargo holder lists; every change needs the director's signature (law Art. 11-12 al. 2)."""


def _change(home: Path, action: str, kind: str, member_name: str, signer_home: Path | None,
            statement_out: Path | None) -> None:
    with opened(home) as (settings, db, gpg, clock):
        with db.reader() as uow:
            change = holders_mod.propose(uow, kind=kind, action=action, member_name=member_name,
                                         hub=settings.hub.address, now=clock.now())
            boss = members_mod.director(uow)
        text = change.statement()
        if statement_out is not None:
            statement_out.write_text(text, encoding="utf-8")
            click.echo(f"statement written to {statement_out}; have the director sign it (gpg --armor "
                       f"--detach-sign) and run: passerelle holders apply --statement {statement_out} "
                       f"--signature {statement_out}.asc")
            return
        if signer_home is None:
            fail("give --signer-home DIR (the director's own GnuPG home) or --statement-out FILE")
        signature = holders_mod.sign_with_home(signer_home, _signing_key(signer_home, boss.fingerprint), text,
                                               binary=settings.crypto.gpg_binary)
        with db.unit_of_work() as uow:
            row = holders_mod.apply(uow, gpg, clock, statement=text, signature=signature, hub=settings.hub.address)
            uow.commit()
            click.echo(f"{kind} holders version {row.version} signed by {row.signed_by}: "
                       f"{', '.join(h['name'] for h in row.holders)}")


def _signing_key(signer_home: Path, director_fpr: str) -> str:
    """The director's key if that home holds it, else its own first key (the hub then refuses the signature)."""
    from crypto import Gpg

    mine = Gpg(signer_home).secret_fingerprints()
    if not mine:
        raise EmbargoError(f"the GnuPG home {signer_home} holds no secret key")
    return director_fpr if director_fpr in mine else mine[0]


kind_option = click.option("--kind", required=True, type=click.Choice(holders_mod.KINDS))
signer_option = click.option("--signer-home", type=click.Path(exists=True, file_okay=False, path_type=Path),
                             help="The director's own GnuPG home, used to sign the change.")
statement_option = click.option("--statement-out", type=click.Path(dir_okay=False, path_type=Path),
                                help="Write the statement for signing elsewhere instead (then: holders apply).")


@holders.command("add")
@home_option
@kind_option
@click.argument("member_name", metavar="MEMBER")
@signer_option
@statement_option
def holders_add(home: Path, kind: str, member_name: str, signer_home: Path | None, statement_out: Path | None) -> None:
    """Designate MEMBER as a holder of KIND's embargoed items (signed by the director)."""
    _change(home, "add", kind, member_name, signer_home, statement_out)


@holders.command("remove")
@home_option
@kind_option
@click.argument("member_name", metavar="MEMBER")
@signer_option
@statement_option
def holders_remove(home: Path, kind: str, member_name: str, signer_home: Path | None,
                   statement_out: Path | None) -> None:
    """Withdraw MEMBER from KIND's holders (signed by the director); items sealed before stay sealed to
    the old list until a current holder reseals them."""
    _change(home, "remove", kind, member_name, signer_home, statement_out)


@holders.command("apply")
@home_option
@click.option("--statement", "statement_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signature", "signature_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def holders_apply(home: Path, statement_file: Path, signature_file: Path) -> None:
    """Apply a change statement signed elsewhere by the director (detached, armoured)."""
    with opened(home) as (settings, db, gpg, clock), db.unit_of_work() as uow:
        row = holders_mod.apply(uow, gpg, clock, statement=statement_file.read_text(encoding="utf-8"),
                                signature=signature_file.read_bytes(), hub=settings.hub.address)
        uow.commit()
        click.echo(f"{row.kind} holders version {row.version} signed by {row.signed_by}: "
                   f"{', '.join(h['name'] for h in row.holders)}")


@holders.command("list")
@home_option
@click.option("--history", is_flag=True, help="Every version, not only the current one.")
@click.option("--json", "as_json", is_flag=True)
def holders_list(home: Path, history: bool, as_json: bool) -> None:
    """The current holder lists (or their whole signed history)."""
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        rows = uow.holders.history() if history else [r for k in holders_mod.KINDS if (r := uow.holders.current(k))]
        data = [{"kind": r.kind, "version": r.version, "holders": [h["name"] for h in r.holders], "change": r.change,
                 "member": r.subject, "signed_by": r.signed_by, "signer_fingerprint": r.signer_fingerprint,
                 "changed_at": r.changed_at.isoformat()} for r in rows]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if not data:
        click.echo("no holder list yet: the director designates holders with 'passerelle holders add'")
    for r in data:
        click.echo(f"{r['kind']:<9} v{r['version']:<3} {r['change']:<6} {r['member']:<14} by {r['signed_by']:<12} "
                   f"{brussels(r['changed_at'])}  holders: {', '.join(r['holders'])}")

