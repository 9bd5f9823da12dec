"""`passerelle member` and `passerelle holders`: OCAM's members and the embargo holder lists."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.acts.statements import sign_with_home, signing_key
from hub.embargo import holders as holders_mod
from hub.embargo import resealing
from hub.registry import members as members_mod
from .common import MISSING_SIGNER, acting, fail, home_option, opened, signer_option
from hub.clock import brussels
from hub.registry.clearances import CLEARANCES


@click.group()
def member() -> None:
    """Members of OCAM (director, deputy, expert, analyst, staff) and their keys."""


@member.command("add")
@home_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r for r in members_mod.ROLES if r != members_mod.DIRECTOR]),
              help="The director is registered by `passerelle init --director`.")
@click.option("--email", required=True, help="The member's address; must be in a user id of the key.")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clearance", required=True, type=click.Choice(CLEARANCES, case_sensitive=False))
@signer_option()
def member_add(home: Path, name: str, role: str, email: str, key_file: Path, clearance: str,
               signer_home: Path | None) -> None:
    """Register NAME and bind exactly the key in --key (it must sign, for NAME's acts, and encrypt: embargoed items
    are sealed to it), under the director's or the deputy's signature; a deputy only under the director's."""
    with acting(home, signer_home) as (_settings, db, gpg, clock, by), db.unit_of_work() as uow:
        m = members_mod.add(uow, gpg, clock, by, name=name, role=role, email=email, key_data=key_file.read_bytes(),
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
    """The embargo holder lists; every change needs the director's (or the deputy's) signature (law Art. 11-12
    al. 2)."""


def _change(home: Path, action: str, kind: str, member_name: str, signer_home: Path | None,
            statement_out: Path | None, reseal_homes: tuple[Path, ...] = ()) -> None:
    with opened(home) as (settings, db, gpg, clock):
        with db.reader() as uow:
            change = holders_mod.propose(uow, kind=kind, action=action, member_name=member_name,
                                         hub=settings.hub.address, now=clock.now())
            keys = [m.fingerprint for m in uow.members.all()]
        text = change.statement()
        if statement_out is not None:
            statement_out.write_text(text, encoding="utf-8")
            reseal = " --reseal-home DIR (a remaining holder's own GnuPG home)" if action == "remove" else ""
            click.echo(f"statement written to {statement_out}; have the director (or the deputy) sign it (gpg --armor "
                       f"--detach-sign) and run: passerelle holders apply --statement {statement_out} "
                       f"--signature {statement_out}.asc{reseal}")
            return
        if signer_home is None:
            fail(f"{MISSING_SIGNER}; or write the statement for signing elsewhere with --statement-out FILE")
        binary = settings.crypto.gpg_binary
        signature = sign_with_home(signer_home, signing_key(signer_home, keys, binary=binary), text, binary=binary)
        _apply(settings, db, gpg, clock, text, signature, [signer_home, *reseal_homes])


def _apply(settings, db, gpg, clock, statement: str, signature: bytes, homes: list[Path]) -> None:
    """The change and, for a removal, the reseal of the kind's items the member's key opens: one act."""
    done = resealing.change(db, gpg, clock, statement=statement, signature=signature, hub=settings.hub.address,
                            homes=homes, binary=settings.crypto.gpg_binary)
    row = done.row
    click.echo(f"{row.kind} holders version {row.version} signed by {row.signed_by}: "
               f"{', '.join(h['name'] for h in row.holders)}")
    if row.change == "remove":
        click.echo(f"{len(done.resealed)} {row.kind} item(s) {row.subject}'s key opened were resealed to version "
                   f"{row.version} in the same act{': ' + ', '.join(done.resealed) if done.resealed else ''}")
    if done.left_out:
        click.echo(f"left out of the reseal (key expired or revoked): {', '.join(done.left_out)}", err=True)


kind_option = click.option("--kind", required=True, type=click.Choice(holders_mod.KINDS))
director_home_option = signer_option("The director's (or the deputy's) own GnuPG home, used to sign the change.")
statement_option = click.option("--statement-out", type=click.Path(dir_okay=False, path_type=Path),
                                help="Write the statement for signing elsewhere instead (then: holders apply).")
reseal_option = click.option(
    "--reseal-home", "reseal_homes", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A removal: the own GnuPG home of a remaining holder, through which the items the removed member's key "
         "opens are resealed in the same act (repeatable; with --signer-home the director's home serves first).")


@holders.command("add")
@home_option
@kind_option
@click.argument("member_name", metavar="MEMBER")
@director_home_option
@statement_option
def holders_add(home: Path, kind: str, member_name: str, signer_home: Path | None, statement_out: Path | None) -> None:
    """Designate MEMBER as a holder of KIND's embargoed items (signed by the director or the deputy)."""
    _change(home, "add", kind, member_name, signer_home, statement_out)


@holders.command("remove")
@home_option
@kind_option
@click.argument("member_name", metavar="MEMBER")
@director_home_option
@statement_option
@reseal_option
def holders_remove(home: Path, kind: str, member_name: str, signer_home: Path | None,
                   statement_out: Path | None, reseal_homes: tuple[Path, ...]) -> None:
    """Withdraw MEMBER from KIND's holders (signed by the director or the deputy). In the same act every item of KIND the
    member's key opens is resealed to the remaining holders, decrypted through the director's home (or
    --reseal-home); if one cannot be, nothing changes (law Art. 11-12 al. 2)."""
    _change(home, "remove", kind, member_name, signer_home, statement_out, reseal_homes)


@holders.command("apply")
@home_option
@click.option("--statement", "statement_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signature", "signature_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reseal_option
def holders_apply(home: Path, statement_file: Path, signature_file: Path, reseal_homes: tuple[Path, ...]) -> None:
    """Apply a change statement signed elsewhere by the director or the deputy (detached, armoured). A removal is applied
    only with --reseal-home of a remaining holder when an item is sealed to the member removed."""
    with opened(home) as (settings, db, gpg, clock):
        _apply(settings, db, gpg, clock, statement_file.read_text(encoding="utf-8"), signature_file.read_bytes(),
               list(reseal_homes))


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

