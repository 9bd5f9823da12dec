"""`passerelle send`: OCAM's messages to the support services."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from .cli import fail, home_option, load_settings
from .clock import SystemClock, brussels
from .errors import PartnerError
from .fields import URGENCIES


@click.group()
def send() -> None:
    """Send signed, encrypted messages through the relay (a running `passerelle serve` delivers them)."""


def _due(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--due: {value!r} is not an ISO 8601 time (e.g. 2026-12-01T12:00:00+01:00)")
    if moment.tzinfo is None:
        fail("--due needs a UTC offset (e.g. +01:00 for Brussels in winter)")
    return moment.astimezone(timezone.utc)


@send.command("request")
@home_option
@click.option("--to", "partner", required=True, help="The partner (support service) that owes the answer.")
@click.option("--urgency", required=True, type=click.Choice(URGENCIES, case_sensitive=False))
@click.option("--subject", required=True, help="Subject (sent only inside the encryption).")
@click.option("--body", "body_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--attach", "attach", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--due", help="Answer due at this time (ISO 8601 with offset) instead of the urgency's window.")
def send_request(home: Path, partner: str, urgency: str, subject: str, body_file: Path, attach: tuple[Path, ...],
                 due: str | None) -> None:
    """Sign a request, encrypt it to the contact point's key only, and queue it; the clock starts at its
    acknowledgement (the partner's mail server accepting it, or the partner's MDN, whichever comes first)."""
    from crypto import Gpg, StorageKey
    from store import Database

    from .requests_out import send_request as do_send
    from .transport import EmbeddedTransport

    settings = load_settings(home)
    db = Database(settings.database_url)
    clock = SystemClock()
    try:
        with db.unit_of_work() as uow:
            sent = do_send(uow, settings=settings, gpg=Gpg(settings.gnupg_home, binary=settings.crypto.gpg_binary),
                           key=StorageKey.load(settings.storage_key_path), clock=clock,
                           transport=EmbeddedTransport(db, clock), partner_name=partner, urgency=urgency.upper(),
                           subject=subject, body=body_file.read_text(encoding="utf-8"),
                           attachments=[(p.name, p.read_bytes()) for p in attach], due_at=_due(due))
            uow.commit()
    except PartnerError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    if sent.held:
        click.echo(f"{sent.reference} HELD: the key of {partner} is {sent.reason}; nothing was sent "
                   f"(update it with 'passerelle partner update-key'). An alert was raised.")
        raise SystemExit(3)
    click.echo(f"{sent.reference} queued for {partner} ({urgency.upper()}) at {brussels(clock.now())}")
