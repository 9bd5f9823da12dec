"""`passerelle retention`: every held item with its review and end dates, early-review triggers and the director's
signed review decisions (law Art. 10/2; AR Art. 5)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import click

from hub.acts.statements import sign_with_home, signing_key
from hub.clock import BRUSSELS, brussels
from hub.registry.members import director
from hub.retention import review
from hub.retention.items import review_due
from .common import fail, home_option, opened

signer_option = click.option("--signer-home", type=click.Path(exists=True, file_okay=False, path_type=Path),
                             help="Your own GnuPG home, holding your member key: signs the statement.")
statement_option = click.option("--statement-out", type=click.Path(dir_okay=False, path_type=Path),
                                help="Write the statement for signing elsewhere instead (then: retention apply).")


@click.group()
def retention() -> None:
    """Review after 30 years, then every 5, erasure at 50 at the latest (law Art. 10/2; AR Art. 5)."""


def _moment(value: str) -> datetime:
    """YYYY-MM-DD (the start of that day in Brussels) or an ISO time (Brussels unless it names its zone)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--due-before {value!r}: give a date like 2056-01-31 or a time like 2056-01-31T12:00+01:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BRUSSELS)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@retention.command("list")
@home_option
@click.option("--due-before", help="Only items whose review (triggered or ordinary) or end comes before this: "
                                   "YYYY-MM-DD (Brussels) or an ISO time.")
@click.option("--limit", default=1000, show_default=True, help="At most this many items, the soonest due first.")
@click.option("--json", "as_json", is_flag=True, help="JSON (times in UTC).")
def retention_list(home: Path, due_before: str | None, limit: int, as_json: bool) -> None:
    """Held items by reference: intake, review due (a trigger brings it forward) and end (times in Brussels)."""
    before = _moment(due_before) if due_before else None
    with opened(home) as (_s, db, _g, _c), db.reader() as uow:
        rows = [{"reference": reference, "intake_at": _iso(item.intake_at), "review_due": _iso(review_due(item)),
                 "triggered": item.triggered_at is not None, "end_at": _iso(item.end_at)}
                for item, reference in uow.retention.held(due_before=before, limit=limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no held item is due" + (f" before {brussels(before)}" if before else ""))
    for r in rows:
        due = brussels(datetime.fromisoformat(r["review_due"])) if r["review_due"] else "none before the end"
        click.echo(f"{r['reference']:<16} intake {brussels(datetime.fromisoformat(r['intake_at']))}  "
                   f"review {due}{' (triggered)' if r['triggered'] else ''}  "
                   f"end {brussels(datetime.fromisoformat(r['end_at']))}")


def _act(home: Path, build: Callable, wanted: Callable, signer_home: Path | None, statement_out: Path | None) -> None:
    """Build the statement, then either write it out for signing elsewhere or sign it with *signer_home* and apply."""
    with opened(home) as (settings, db, gpg, clock):
        with db.reader() as uow:
            text = build(uow, settings.hub.address, clock.now())
            keys = wanted(uow)
        if statement_out is not None:
            statement_out.write_text(text, encoding="utf-8")
            click.echo(f"statement written to {statement_out}; have it signed (gpg --armor --detach-sign) and run: "
                       f"passerelle retention apply --statement {statement_out} --signature {statement_out}.asc")
            return
        if signer_home is None:
            fail("give --signer-home DIR (your own GnuPG home) or --statement-out FILE")
        binary = settings.crypto.gpg_binary
        signature = sign_with_home(signer_home, signing_key(signer_home, keys, binary=binary), text, binary=binary)
        _apply(db, gpg, clock, settings, text, signature)


def _apply(db, gpg, clock, settings, text: str, signature: bytes) -> None:
    with db.unit_of_work() as uow:
        done = review.apply(uow, gpg, clock, statement=text, signature=signature, hub=settings.hub.address)
        uow.commit()
    act, item, reference = done.act, done.item, done.reference
    if act.act == "trigger":
        click.echo(f"{reference}: early review triggered by {act.signed_by} ({act.ground}, AR Art. 5 §3 "
                   f"{review.GROUNDS[act.ground].split()[0]}); the director may now decide it: passerelle retention "
                   f"review {reference} --decision keep|erase")
    elif act.decision == "keep":
        click.echo(f"{reference}: kept by the director's decision ({act.signed_by}); next review "
                   f"{brussels(item.review_at) if item.review_at else 'none: only its end remains'}, "
                   f"end {brussels(item.end_at)}")
    else:
        complete = db.checkpoint()
        click.echo(f"{reference}: erased by the director's decision ({act.signed_by}); its content can no longer "
                   f"be opened by anyone, and the audit log keeps its reference and digests"
                   + ("" if complete else " (a reader kept the store's log from being truncated yet)"))


def _members(uow) -> list[str]:
    return [m.fingerprint for m in uow.members.all()]


@retention.command("trigger")
@home_option
@click.argument("reference")
@click.option("--ground", required=True, type=click.Choice(list(review.GROUNDS)),
              help="Which of AR Art. 5 §3's grounds: " + "; ".join(f"{k}: {v}" for k, v in review.GROUNDS.items()))
@click.option("--reason", required=True, help="What OCAM learned, in one line (kept with the signed statement).")
@signer_option
@statement_option
def retention_trigger(home: Path, reference: str, ground: str, reason: str, signer_home: Path | None,
                      statement_out: Path | None) -> None:
    """Record, signed by you (a member), that REFERENCE's review is brought forward (AR Art. 5 §3)."""
    _act(home, lambda uow, hub, now: review.trigger_statement(uow, reference=reference, ground=ground, reason=reason,
                                                              hub=hub, now=now),
         _members, signer_home, statement_out)


@retention.command("review")
@home_option
@click.argument("reference")
@click.option("--decision", required=True, type=click.Choice(review.DECISIONS),
              help="keep (the next review follows on its calendar) or erase (crypto-shredded now).")
@signer_option
@statement_option
def retention_review(home: Path, reference: str, decision: str, signer_home: Path | None,
                     statement_out: Path | None) -> None:
    """The director's signed decision on REFERENCE's due (or triggered) review (AR Art. 5 §4)."""
    _act(home, lambda uow, hub, now: review.review_statement(uow, reference=reference, decision=decision, hub=hub,
                                                             now=now),
         lambda uow: [director(uow).fingerprint], signer_home, statement_out)


@retention.command("apply")
@home_option
@click.option("--statement", "statement_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signature", "signature_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
def retention_apply(home: Path, statement_file: Path, signature_file: Path) -> None:
    """Apply a trigger or review statement signed elsewhere (detached, armoured)."""
    with opened(home) as (settings, db, gpg, clock):
        _apply(db, gpg, clock, settings, statement_file.read_text(encoding="utf-8"), signature_file.read_bytes())
