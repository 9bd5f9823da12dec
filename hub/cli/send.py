"""`passerelle send`: OCAM's messages to the support services."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from .common import MISSING_SIGNER, acting, fail, home_option, opened, signer_option
from hub.clock import brussels
from hub.evaluations.policy import KINDS as EVALUATION_KINDS
from hub.intake.fields import CLASSIFICATIONS, URGENCIES


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
@click.option("--due", help="Answer due at this time (ISO 8601 with offset), in the future and within the "
              "urgency's legal window, instead of the whole window.")
@click.option("--immediate", is_flag=True, help="The director demands immediate communication (law Art. 6 §1 al. 2; "
              "FLASH): the director's own signed act, with --motivation.")
@click.option("--motivation", help="With --immediate: the director's motivation, signed, stated in the request and "
              "recorded.")
@signer_option()
def send_request(home: Path, partner: str, urgency: str, subject: str, body_file: Path, attach: tuple[Path, ...],
                 due: str | None, immediate: bool, motivation: str | None, signer_home: Path | None) -> None:
    """Sign a request, encrypt it to the contact point's key only, and queue it, as your signed act; the partner's
    clock starts at its acknowledgement (AR Art. 11 §2): the partner's signed MDN or a success DSN from its
    server, whichever comes first (the relay's 250 only for a partner whose own server the relay is)."""
    from crypto import StorageKey

    from hub.outbound.requests import Immediate
    from hub.outbound.requests import send_request as do_send
    from hub.transport.embedded import EmbeddedTransport

    if motivation is not None and not immediate:
        fail("--motivation goes with --immediate (law Art. 6 §1 al. 2)")
    if immediate and not (motivation or "").strip():
        fail("--immediate needs the director's --motivation (law Art. 6 §1 al. 2: \"le directeur motive sa demande\")")
    due_at = _due(due)
    with acting(home, signer_home) as (settings, db, gpg, clock, by), db.unit_of_work() as uow:
        sent = do_send(uow, settings=settings, gpg=gpg, key=StorageKey.load(settings.storage_key_path), clock=clock,
                       transport=EmbeddedTransport(db, clock), by=by, partner_name=partner, urgency=urgency.upper(),
                       subject=subject, body=body_file.read_text(encoding="utf-8"),
                       attachments=[(p.name, p.read_bytes()) for p in attach], due_at=due_at,
                       immediate=Immediate(motivation or "") if immediate else None)
        uow.commit()
    if sent.held:
        click.echo(f"{sent.reference} HELD: the key of {partner} is {sent.reason}; nothing was sent "
                   f"(update it with 'passerelle partner update-key'). An alert was raised.")
        raise SystemExit(3)
    click.echo(f"{sent.reference} queued for {partner} ({urgency.upper()}) at {brussels(clock.now())}")


@send.command("evaluation")
@home_option
@click.option("--kind", required=True, type=click.Choice(EVALUATION_KINDS))
@click.option("--origin", required=True, help="own, partner:NAME (asked by a support service) or government:NAME.")
@click.option("--threat-level", required=True, type=click.IntRange(1, 4),
              help="1 FAIBLE, 2 MOYEN, 3 GRAVE, 4 TRÈS GRAVE (AR Art. 11 §6).")
@click.option("--urgency", required=True, type=click.Choice(URGENCIES, case_sensitive=False))
@click.option("--classification", required=True,
              type=click.Choice(CLASSIFICATIONS, case_sensitive=False))
@click.option("--subject", required=True)
@click.option("--body", "body_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--attach", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--add-recipient", "added", multiple=True, help="A registered recipient beyond the policy (with --basis).")
@click.option("--basis", "bases", multiple=True, help="The legal basis of each --add-recipient, in order.")
@click.option("--exclude", "excluded", multiple=True, help="Leave out a recipient the policy names (with --reason).")
@click.option("--reason", "reasons", multiple=True, help="Why, for each --exclude, in order; recorded.")
@click.option("--request", "request", help="The request (PSR-…) of the service that asked for it: its clock stops.")
@click.option("--integrates", "integrates", help="An embargoed item (PSR-…) this evaluation integrates: the version "
              "with it goes only where its recorded joint decision allows (AR Art. 15).")
@click.option("--without", "without_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --integrates: the version without the embargoed information, for everyone else.")
@click.option("--integrated-for", "integrated_for", multiple=True,
              help="With --integrates: only these recipients get the version with it (each must be allowed).")
@click.option("--preview", is_flag=True, help="Show recipients, bases, clearance and key checks; send nothing.")
@signer_option("Your own GnuPG home, holding your member key: it names you and signs the act (not needed with "
               "--preview).")
def send_evaluation(home: Path, kind: str, origin: str, threat_level: int, urgency: str, classification: str,
                    subject: str, body_file: Path, attach: tuple[Path, ...], added: tuple[str, ...],
                    bases: tuple[str, ...], excluded: tuple[str, ...], reasons: tuple[str, ...], request: str | None,
                    integrates: str | None, without_file: Path | None, integrated_for: tuple[str, ...],
                    preview: bool, signer_home: Path | None) -> None:
    """Send an evaluation to exactly the recipients law Art. 10 lists for its kind and origin, each copy
    encrypted to its recipient only, as your signed act (--add-recipient and --exclude: the director's or the
    deputy's). Any failed check stops the send and names the recipient."""
    from crypto import StorageKey

    from hub.acts.signed import MemberHome
    from hub.evaluations import sending as evaluations
    from hub.embargo.decisions import integration as integration_of
    from hub.evaluations.policy import Policy, PolicyError
    from hub.transport.embedded import EmbeddedTransport

    if len(added) != len(bases) or len(excluded) != len(reasons):
        fail("give one --basis per --add-recipient and one --reason per --exclude")
    if signer_home is None and not preview:
        fail(MISSING_SIGNER)
    try:
        with opened(home) as (settings, db, gpg, clock):
            policy = Policy.load(Path(settings.hub.policy_file) if settings.hub.policy_file else None)
            with db.unit_of_work() as uow:
                the_plan = evaluations.plan(uow, gpg, policy, clock.now(), kind=kind, origin=origin,
                                            classification=classification.upper(), additions=list(zip(added, bases)),
                                            exclusions=dict(zip(excluded, reasons)))
                integration = integration_of(uow, integrates) if integrates else None
                _show_plan(the_plan, classification.upper(), threat_level)
                if preview:
                    return
                reference = evaluations.send(
                    uow, settings=settings, gpg=gpg, key=StorageKey.load(settings.storage_key_path), clock=clock,
                    transport=EmbeddedTransport(db, clock), by=MemberHome.of(signer_home, settings, gpg),
                    the_plan=the_plan, kind=kind, origin=origin, threat_level=threat_level, urgency=urgency.upper(),
                    classification=classification.upper(), subject=subject, body=body_file.read_text(encoding="utf-8"),
                    attachments=[(p.name, p.read_bytes()) for p in attach], request=request, integration=integration,
                    body_without=without_file.read_text(encoding="utf-8") if without_file else None,
                    integrated_for=list(integrated_for) or None)
                uow.commit()
    except PolicyError as exc:
        fail(str(exc))
    click.echo(f"{reference} queued for {len(the_plan.included)} recipient(s)")


def _show_plan(the_plan, classification: str, threat_level: int) -> None:
    from hub.evaluations.sending import THREAT_LEVELS

    click.echo(f"threat level {threat_level} {THREAT_LEVELS[threat_level]}; classification {classification}")
    for ln in the_plan.lines:
        status = f"EXCLUDED ({ln.excluded})" if ln.excluded else (ln.problem.upper() if ln.problem else "ok")
        click.echo(f"  {ln.name:<20} {ln.basis:<34} cleared {ln.clearance:<12} key {ln.key_problem or 'ok':<10} "
                   f"{status}")
