"""`passerelle embargo` (sealed items: list, open, reseal, joint decisions, judicial confirmations) and `passerelle export oversight`."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from store.vocabulary import DecisionState

from hub.embargo import sealing as embargo_mod
from hub.embargo import decisions, declarations, resealing
from .common import acting, fail, home_option, opened, signer_option, write_private
from hub.clock import brussels
from hub.acts.statements import sign_with_home, signing_key

holder_home_option = signer_option("Your own GnuPG home, holding your member key: it names you, signs the act and "
                                   "decrypts the item (the key never leaves it).")


@click.group()
def embargo() -> None:
    """Embargoed items sealed to their holders (law Art. 11-12): metadata, opening, resealing, decisions."""


@embargo.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True)
def embargo_list(home: Path, as_json: bool) -> None:
    """Sealed items, metadata only: sender, times, kind, digest, holder-list version, decision, and whether a
    judicial embargo is confirmed by the Federal Prosecutor (law Art. 11)."""
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        rows = []
        for item, message in uow.embargo.items():
            decision = uow.embargo.recorded_decision(message.id)
            pending = [d for d in uow.embargo.decisions(message.id, state=DecisionState.PENDING)]
            rows.append({"reference": message.reference, "kind": item.kind,
                         "partner": message.partner.name if message.partner else None,
                         "received_at": message.received_at.isoformat(), "digest": item.content_digest,
                         "holder_version": item.holder_version, "holders": embargo_mod.holder_names(item),
                         "decision": ({"integrate": decision.integrate, "consent": decision.consent,
                                       "recipients": decision.recipients} if decision else None),
                         "pending_decisions": len(pending), "declared_by": item.declared_by,
                         "confirmation": declarations.confirmation(item.kind, item.confirmed_by),
                         "confirmed_by": item.confirmed_by,
                         "confirmed_at": item.confirmed_at.isoformat() if item.confirmed_at else None})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        d = r["decision"]
        click.echo(f"{r['reference']}  {r['kind']:<9} {r['partner'] or '-':<14} "
                   f"{brussels(r['received_at'])}  v{r['holder_version']} "
                   f"({len(r['holders'])} holders)  decision: "
                   f"{'integrate=' + d['integrate'] + ' consent=' + d['consent'] if d else 'none'}"
                   f"{'  pending: ' + str(r['pending_decisions']) if r['pending_decisions'] else ''}"
                   f"{_confirmation(r)}")


def _confirmation(row: dict) -> str:
    if row["confirmation"] == "unconfirmed":
        return f"  UNCONFIRMED: declared by {row['declared_by'] or '-'}, awaits the Federal Prosecutor (law Art. 11)"
    if row["confirmation"] == "confirmed":
        return f"  confirmed by {row['confirmed_by']}"
    return ""


@embargo.command("open")
@home_option
@click.argument("reference")
@holder_home_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the content here (mode 0600) "
              "instead of standard output.")
def embargo_open(home: Path, reference: str, signer_home: Path | None, out: Path | None) -> None:
    """Decrypt an item locally with your own key; the opening is recorded before the content is shown."""
    with acting(home, signer_home) as (settings, db, _gpg, clock, by):
        with db.unit_of_work() as uow:
            act = by.sign(uow, clock, "embargo.open", ref=reference)
            try:
                plaintext, who = embargo_mod.open_item(uow, clock, reference=reference, key_home=signer_home,
                                                       binary=settings.crypto.gpg_binary, evidence=act.evidence())
            finally:
                uow.commit()  # the opening, or the refused attempt, is recorded either way
        if out is not None:
            write_private(out, plaintext)
            click.echo(f"{reference} opened by {who}; written to {out}", err=True)
        else:
            sys.stdout.buffer.write(plaintext)
            sys.stdout.flush()


@embargo.command("reseal")
@home_option
@click.argument("reference")
@holder_home_option
def embargo_reseal(home: Path, reference: str, signer_home: Path | None) -> None:
    """As a current holder, re-seal an item to the current holder list (after it changed)."""
    with acting(home, signer_home) as (settings, db, gpg, clock, by):
        with db.unit_of_work() as uow:
            act = by.sign(uow, clock, "embargo.reseal", ref=reference)
            previous, now_version = resealing.reseal(uow, gpg, clock, reference=reference, key_home=signer_home,
                                                     binary=settings.crypto.gpg_binary, evidence=act.evidence())
            uow.commit()
        db.checkpoint()  # the old ciphertext leaves the write-ahead log too (SQLite)
    click.echo(f"{reference} resealed from holder list version {previous} to {now_version}")


def _recipients(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


decision_options = [
    click.option("--integrate", required=True, type=click.Choice(decisions.INTEGRATE),
                 help="yes, no, or protection (indispensable to protect people: integrated, Art. 11-12 al. 4)."),
    click.option("--consent", required=True, type=click.Choice(decisions.CONSENT),
                 help="The originating service's consent (AR Art. 15)."),
    click.option("--recipients", default="", help="Comma-separated partners/recipients the evaluation may go to."),
]


def _with_decision_options(f):
    for option in reversed(decision_options):
        f = option(f)
    return f


@embargo.command("statement")
@home_option
@click.argument("reference")
@_with_decision_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def embargo_statement(home: Path, reference: str, integrate: str, consent: str, recipients: str, out: Path) -> None:
    """Write the canonical decision text, for the second party to sign (gpg --armor --detach-sign)."""
    with opened(home) as (settings, db, _g, _c), db.reader() as uow:
        text = decisions.statement(uow, reference=reference, integrate=integrate, consent=consent,
                                   recipients=_recipients(recipients), hub=settings.hub.address)
    out.write_text(text, encoding="utf-8")
    click.echo(f"decision statement written to {out}")


@embargo.command("confirmation")
@home_option
@click.argument("reference")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def embargo_confirmation(home: Path, reference: str, out: Path) -> None:
    """Write the statement by which the Federal Prosecutor confirms a judicial embargo another service declared
    (law Art. 11): it confirms it by sending the hub a message it signs, whose text quotes the statement."""
    with opened(home) as (settings, db, _g, _c), db.reader() as uow:
        text = declarations.statement(uow, reference=reference, hub=settings.hub.address)
    out.write_text(text, encoding="utf-8")
    click.echo(f"confirmation statement written to {out}")


@embargo.command("decide")
@home_option
@click.argument("reference")
@_with_decision_options
@signer_option("The director's (or the deputy's) own GnuPG home: signs the decision for OCAM.")
@click.option("--second-signature", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The Federal Prosecutor's (judicial) or providing service head's (foreign) detached signature "
                   "over the statement (see 'embargo statement').")
def embargo_decide(home: Path, reference: str, integrate: str, consent: str, recipients: str,
                   signer_home: Path | None, second_signature: Path | None) -> None:
    """Record a joint decision once both signatures verify (law Art. 11-12 al. 3-5, AR Art. 15).

    With OCAM's signature only it stays pending, and nothing it would allow is allowed."""
    with acting(home, signer_home) as (settings, db, gpg, clock, _by):
        with db.reader() as uow:
            text = decisions.statement(uow, reference=reference, integrate=integrate, consent=consent,
                                       recipients=_recipients(recipients), hub=settings.hub.address)
            keys = [m.fingerprint for m in uow.members.all()]
        binary = settings.crypto.gpg_binary
        director_sig = sign_with_home(signer_home, signing_key(signer_home, keys, binary=binary), text, binary=binary)
        with db.unit_of_work() as uow:
            decision = decisions.submit(uow, gpg, clock, text=text, director_signature=director_sig,
                                        second_signature=second_signature.read_bytes() if second_signature else None)
            uow.commit()
            state = decision.state
    if state != DecisionState.RECORDED:
        click.echo(f"{reference}: decision NOT recorded — it has one signature of two; it waits for the second "
                   "party's signature", err=True)
        raise SystemExit(3)
    click.echo(f"{reference}: joint decision recorded (integrate={integrate}, consent={consent}, "
               f"recipients={', '.join(_recipients(recipients)) or '-'})")


@click.group()
def export() -> None:
    """Exports on explicit command only (the hub is not interconnected, law Art. 9 §3)."""


@export.command("oversight")
@home_option
@click.option("--committee", required=True, type=click.Choice(["P", "R"]), help="Comité P or Comité R.")
@click.option("--since", help="Events from this date (YYYY-MM-DD, Brussels) on (default: all); holder lists are "
                              "always whole.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The JSON file; the "
              "CSV goes beside it, each with a .asc signature by the hub.")
@signer_option("The director's (or the deputy's) own GnuPG home: signs the export's act.")
def export_oversight(home: Path, committee: str, since: str | None, out: Path, signer_home: Path | None) -> None:
    """Every event of the period with its proof in a checkpoint signed now, the cosigned checkpoints, the holder
    lists with the director's signatures and every access to embargoed items; signed by the hub, the export the
    signed act of the director or the deputy."""
    from hub.audit.checkpoints import Checkpointer
    from hub.clock import BRUSSELS
    from hub.embargo import oversight
    from hub.errors import LogCorrupt, LogError

    start = None
    if since:
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=BRUSSELS).astimezone(timezone.utc)
        except ValueError:
            fail(f"--since {since!r}: give a date like 2026-01-31")
    with acting(home, signer_home) as (settings, db, gpg, clock, by):
        checkpointer = Checkpointer.of_hub(settings, db, gpg, clock)
        try:
            issued = checkpointer.issue("oversight")
            with db.unit_of_work() as uow:
                written = oversight.write(uow, gpg, clock, settings, issued, by, committee=committee, since=start,
                                          out=out)
                uow.commit()
        except LogCorrupt as exc:  # the log no longer holds what was signed, or cosigned: nothing goes out
            checkpointer.alert(str(exc), exc.index)
            fail(f"no export: {exc}")
        except LogError as exc:
            fail(f"no export: {exc}")
    for path in written:
        click.echo(str(path))
    click.echo(f"verify with: passerelle export verify {out} --hub-key HUB.asc")


@export.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--hub-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The hub's public key (HUB.asc), obtained from OCAM; without it, the key the export embeds is "
                   "used, and only the export's consistency with itself is proven.")
def export_verify(files: tuple[Path, ...], hub_key: Path | None) -> None:
    """Check an oversight export without any hub home: its signature, every event's proof in the hub's
    checkpoint, that no event of the period is missing, the witnesses' cosignatures and the director's
    signatures over the holder lists (a CSV: its signature)."""
    from hub.audit.keyring import Keyring
    from hub.embargo.oversight_check import ExportCheck, check_export, hub_key_of
    from hub.errors import LogError

    bad = 0
    with Keyring() as ring:
        try:
            given = ring.add(hub_key.read_bytes()) if hub_key is not None else None
        except LogError as exc:
            fail(f"{hub_key}: {exc}")
        hub = given
        for path in sorted(files, key=lambda p: p.suffix == ".csv"):  # a JSON first: a CSV may use its key
            result = ExportCheck()
            signature = path.with_name(path.name + ".asc")
            data = path.read_bytes()
            if path.suffix != ".csv":
                hub = hub_key_of(ring, data, given, result)
                if hub is not None:
                    check_export(data, signature.read_bytes() if signature.exists() else None, ring, hub, result)
            elif hub is None:
                result.fail("a CSV alone: give --hub-key, or its JSON with it")
            else:
                why = ring.verify(data, signature.read_bytes(), hub) if signature.exists() else "no .asc file beside it"
                if why:
                    result.fail(f"the file's signature: {why}")
                else:
                    result.good(f"signed by the hub's key {hub}")
            click.echo(f"{path}:")
            for line in result.lines:
                click.echo(f"  {line}")
            click.echo(f"  {'verified' if result.ok else 'NOT verified'}"
                       + (" (self-consistency only)" if given is None and result.ok else ""))
            bad += not result.ok
    if bad:
        raise SystemExit(1)
