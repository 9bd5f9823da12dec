"""`passerelle messages`: list, show and open messages, their receipts, copies and audit trail."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from store import Message
from store.vocabulary import Action, DeadlineState, DeliveryState, MessageState, RetentionState

from .common import MISSING_SIGNER, acting, fail, home_option, load_settings, signer_option
from hub.clock import brussels
from hub.retention.items import review_due


# A message comes in from a partner, or goes out to one (an OCAM request, an evaluation).
DIRECTION = {"inbound": "in", "outbound": "out"}
TOWARDS = {"inbound": "from", "outbound": "to"}
from hub.deadlines.clocks import STARTED_BY


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def summary(m: Message) -> dict:
    return {
        "reference": m.reference, "partner": m.partner.name if m.partner else None, "direction": m.direction,
        "kind": m.kind, "urgency": m.urgency, "urgency_source": m.urgency_source, "embargo": m.embargo,
        "classification": m.classification, "received_at": _iso(m.received_at), "due_at": _iso(m.due_at),
        "verdict": "accepted", "state": m.state, "receipt_status": m.receipt_status,
    }


def _deadline(d) -> dict | None:
    if d is None:
        return None
    return {"owed_by": d.owed_by, "started_at": _iso(d.started_at), "started_by": d.started_by,
            "due_at": _iso(d.due_at), "basis": d.basis, "state": d.state, "answered_at": _iso(d.answered_at),
            "on_time": d.on_time, "reminders_sent": d.reminders_sent, "escalated_at": _iso(d.escalated_at)}


def _acknowledgement(m: Message, deadline, mails) -> dict | None:
    """For OCAM's request: whether the partner's side acknowledged it, which starts its clock (AR Art. 11 §2)."""
    if m.direction != "outbound" or m.kind != "request":
        return None
    copy = next((o for o in mails if o.purpose == "request"), None)
    return {"state": "acknowledged" if deadline is not None else "not acknowledged",
            "by": deadline.started_by if deadline is not None else None,
            "dsn": (None if copy is None or copy.state != DeliveryState.SENT
                    else "requested" if copy.envelope_id else "not offered"),
            "alert_at": _iso(copy.acknowledge_by) if copy is not None else None}


def _message(uow, reference: str) -> Message:
    """The message with that reference, or a clear error (exit 2)."""
    message = uow.messages.by_reference(reference)
    if message is None:
        fail(f"no message {reference}")
    return message


def _db(home: Path):
    from store import Database

    return Database(load_settings(home).database_url)


@click.group()
def messages() -> None:
    """Messages through the hub."""


@messages.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--quarantined", is_flag=True, help="Only messages whose processing failed and were set aside.")
@click.option("--refused", is_flag=True, help="Refusals given at SMTP time (from the audit log).")
@click.option("--limit", default=100, show_default=True)
def messages_list(home: Path, as_json: bool, quarantined: bool, refused: bool, limit: int) -> None:
    """List recent messages, newest first (times in Europe/Brussels; with --json in UTC)."""
    db = _db(home)
    try:
        with db.reader() as uow:
            if refused:
                rows = [{"at": _iso(e.at), "from": e.actor, **e.detail}
                        for e in uow.audit.recent(action=Action.INTAKE_REFUSED, limit=limit)]
            else:
                found = uow.messages.recent(limit=limit, state=MessageState.QUARANTINED if quarantined else None)
                rows = [summary(m) for m in found]
                if quarantined:
                    errors = {i.payload.get("message_id"): i.last_error for i in uow.queue.quarantined()}
                    for row, m in zip(rows, found):
                        row["error"] = errors.get(m.id)
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no refusal recorded" if refused else "nothing quarantined" if quarantined else "no message yet")
        return
    if refused:
        click.echo(f"{'refused at (Brussels)':<23}  {'code':<4} {'reason':<24} {'from':<32} peer")
        for r in rows:
            click.echo(f"{brussels(r['at']):<23}  {r.get('code')} {r.get('reason'):<24} {r['from']:<32} "
                       f"{r.get('peer', '')}")
        return
    click.echo(f"{'reference':<16} dir {'partner':<16} {'kind':<12} {'urgency':<10} {'source':<11} {'embargo':<9} "
               f"{'state':<11} {'receipt':<7} due (Brussels)")
    for r in rows:
        due = brussels(r["due_at"])
        click.echo(f"{r['reference']:<16} {DIRECTION[r['direction']]:<3} {r['partner'] or '-':<16} {r['kind']:<12} "
                   f"{r['urgency']:<10} {r['urgency_source']:<11} {r['embargo'] or '-':<9} {r['state']:<11} "
                   f"{r['receipt_status']:<7} {due}" + (f"  error: {r.get('error')}" if quarantined else ""))


@messages.command("why")
@home_option
@click.argument("reference")
@click.argument("recipient")
def messages_why(home: Path, reference: str, recipient: str) -> None:
    """Why RECIPIENT received evaluation REFERENCE (or a copy of inbound message REFERENCE), or did not: legal
    basis or routing rule, checks, decision."""
    db = _db(home)
    try:
        with db.reader() as uow:
            m = _message(uow, reference)
            entry = uow.distributions.find(m.id, recipient)
            delivery = next((o for o in uow.outbound.for_message(m.id) if entry and o.rcpt_to == entry.email), None)
            if m.direction == "inbound":
                click.echo(_why_copy(reference, recipient, entry, delivery))
                return
            if entry is None:
                click.echo(f"{recipient} did not receive {reference}: the distribution of its kind and origin "
                           "(law Art. 10) does not name it, and it was not added.")
                return
            if entry.included:
                click.echo(f"{recipient} received {reference} under {entry.basis}; cleared "
                           f"{entry.checks.get('clearance')}, key {entry.checks.get('key')}; delivery "
                           f"{delivery.state if delivery else 'unknown'}.")
            else:
                click.echo(f"{recipient} did not receive {reference}: excluded by {entry.decided_by} — "
                           f"{entry.reason} (its basis would have been {entry.basis}).")
    finally:
        db.dispose()


def _retention(item) -> dict | None:
    if item is None:
        return None
    return {"state": item.state, "intake_at": _iso(item.intake_at), "review_due": _iso(review_due(item)),
            "triggered_at": _iso(item.triggered_at), "end_at": _iso(item.end_at), "erased_at": _iso(item.erased_at),
            "erased_by": item.erased_by}


def _why_copy(reference: str, name: str, entry, delivery) -> str:
    """Why one of OCAM's people received a copy (or a notice) of an inbound message, or did not."""
    if entry is None:
        return (f"{name} received no copy of {reference}: no routing rule names it (hub/inbound/rules.toml, or "
                "hub.inbound_rules_file), and it holds no embargo list it is sealed to.")
    what = "a notice of" if entry.checks.get("as") == "holder" else "a copy of"
    if not entry.included:
        return f"{name} received no copy of {reference}: {entry.reason} (named under {entry.basis})."
    if delivery is None:
        return f"{name} is routed {reference} under {entry.basis}, but its copy is held: {entry.reason}."
    return f"{name} received {what} {reference} under {entry.basis}; delivery {delivery.state}."


@messages.command("open")
@home_option
@click.argument("reference")
@signer_option()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the message here (created with mode 0600, never overwritten). Without it the message goes "
                   "to standard output, which must then be a pipe or a file, not a terminal.")
def messages_open(home: Path, reference: str, signer_home: Path | None, out: Path | None) -> None:
    """Read a stored message as a member: the partner's original, its signature checkable with the partner's key.

    The director and the deputy open every message that is not embargoed, other members those routed to them;
    the opening is recorded with your name before the content is written; a refusal is recorded too."""
    from crypto import StorageKey
    from hub.inbound.reading import open_message

    if signer_home is None:
        fail(MISSING_SIGNER)
    if out is None and sys.stdout.isatty():
        fail("the message is not written to a terminal (it is the partner's content, control characters and all): "
             "give --out FILE, or pipe it (… | less, > FILE)")
    fd = None
    if out is not None:
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fail(f"{out} exists; the opened message is never written over a file")
    try:
        with acting(home, signer_home) as (settings, db, gpg, clock, by), db.unit_of_work() as uow:
            content, who = open_message(uow, settings, gpg, StorageKey.load(settings.storage_key_path), clock,
                                        reference=reference, by=by)
            uow.commit()  # the opening is recorded before any write (a refusal is recorded by `acting`)
    except BaseException:
        if fd is not None:
            os.close(fd)
            out.unlink()
        raise
    if fd is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    click.echo(f"{reference} opened by {who}; written to {out}", err=True)


@messages.command("show")
@home_option
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def messages_show(home: Path, reference: str, as_json: bool) -> None:
    """Show one message: fields and their sources, times, receipt, deliveries, routing, retention, audit trail
    (its content: `messages open`)."""
    db = _db(home)
    try:
        with db.reader() as uow:
            m = _message(uow, reference)
            mails, deadline = uow.outbound.for_message(m.id), uow.deadlines.for_message(m.id)
            data = summary(m) | {
                "message_id": m.rfc_message_id, "size": m.size, "sha256": m.body_digest, "encrypted": m.encrypted,
                "signer": m.signer_fingerprint, "fields": m.fields,
                "deliveries": [{"purpose": o.purpose, "to": o.rcpt_to, "state": o.state, "attempts": o.attempts,
                                "sent_at": _iso(o.sent_at), "last_error": o.last_error}
                               for o in mails],
                "audit": [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}
                          for e in uow.audit.for_message(reference)],
                "deadline": _deadline(deadline),
                "acknowledgement": _acknowledgement(m, deadline, mails),
                "retention": _retention(uow.retention.for_message(m.id)),
                "routing": [{"name": d.name, "as": d.checks.get("as"), "basis": d.basis, "included": d.included,
                             "reason": d.reason} for d in uow.distributions.for_message(m.id)]
                if m.direction == "inbound" else [],
            }
            times = {"received_at": brussels(m.received_at), "due_at": brussels(m.due_at)}
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{data['reference']}  {data['direction']} {TOWARDS[data['direction']]} {data['partner'] or '-'}")
    click.echo(f"  Message-ID     {data['message_id']}")
    click.echo(f"  kind           {data['kind']} ({data['fields'].get('message-kind', {}).get('source', '-')})")
    click.echo(f"  urgency        {data['urgency']} ({data['urgency_source']})")
    click.echo(f"  embargo        {data['embargo'] or '-'}")
    click.echo(f"  classification {data['classification'] or '-'}")
    click.echo(f"  {'received' if data['direction'] == 'inbound' else 'queued':<14} {times['received_at']}")
    click.echo(f"  due            {times['due_at']}")
    click.echo(f"  state          {data['state']}, receipt {data['receipt_status']}")
    click.echo(f"  sha256         {data['sha256']} ({data['size']} bytes, {'encrypted' if data['encrypted'] else 'signed'})")
    for name, f in data["fields"].items():
        if f.get("outer") is not None and f.get("protected") is not None and f["outer"] != f["protected"]:
            click.echo(f"  CONFLICT       {name}: outer {f['outer']!r} vs protected {f['protected']!r} (protected applied)")
    dl, ack = data["deadline"], data["acknowledgement"]
    if ack is not None and dl is None:
        dsn = {"requested": "a DSN was requested", "not offered": "the relay offered no DSN"}.get(ack["dsn"] or "")
        click.echo(f"  clock          not started: not acknowledged by {data['partner']}'s side (no MDN, no success "
                   f"DSN{'; ' + dsn if dsn else ''}; AR Art. 11 §2)")
    if dl:
        owed = "OCAM" if dl["owed_by"] == "ocam" else data["partner"]
        started_by = STARTED_BY.get(dl["started_by"], dl["started_by"])
        click.echo(f"  clock          owed by {owed}, started {brussels(dl['started_at'])} by {started_by}, "
                   f"due {brussels(dl['due_at'])}")
        if dl["basis"]:
            click.echo(f"  delay          {dl['basis']}")
        if dl["state"] == DeadlineState.ANSWERED:
            click.echo(f"  answered       {brussels(dl['answered_at'])} "
                       f"({'on time' if dl['on_time'] else 'LATE'})")
        else:
            click.echo(f"  open           {dl['reminders_sent']} reminder step(s) done"
                       + (f", escalated {brussels(dl['escalated_at'])}" if dl["escalated_at"] else ""))
    kept = data["retention"]
    if kept and kept["state"] == RetentionState.ERASED:
        click.echo(f"  retention      content ERASED {brussels(kept['erased_at'])} ({kept['erased_by']})")
    elif kept:
        review = brussels(kept["review_due"]) if kept["review_due"] else "none before the end"
        click.echo(f"  retention      review {review}{' (triggered)' if kept['triggered_at'] else ''}, "
                   f"end {brussels(kept['end_at'])}")
    for r in data["routing"]:
        state = "routed" if r["included"] and not r["reason"] else "HELD" if r["included"] else "not sent"
        click.echo(f"  {state:<14} {r['name']} ({r['as']}) under {r['basis']}"
                   + (f" — {r['reason']}" if r["reason"] else ""))
    for d in data["deliveries"]:
        click.echo(f"  {d['purpose']:<14} to {d['to']}: {d['state']} after {d['attempts']} attempt(s)"
                   + (f" — {d['last_error']}" if d["last_error"] else ""))
    click.echo("  audit trail (a member's signed act: its statement and signature in --json, `audit list`):")
    for e in data["audit"]:
        signed = "  signed act" if "signature" in e["detail"] else ""
        click.echo(f"    {brussels(e['at'])}  {e['action']:<22} {e['actor']}{signed}")
