"""`passerelle audit`: the audit log's Merkle tree — verify it, issue and export checkpoints, check a receipt
with the hub's public key alone, store witnesses' cosignatures; and `passerelle witness`, the witness's own tool
(no hub home: only the hub's public key and the witness's key)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import fail, home_option, opened

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def audit() -> None:
    """The audit log (law Art. 9 §3, 7°): a Merkle tree with signed checkpoints."""


def _given(paths: tuple[Path, ...]):
    """Checkpoints from files: a checkpoint note, or a witness's state file (the checkpoint it last cosigned)."""
    from crypto.errors import NoteError
    from crypto.tlog import Note
    from hub.audit.verify import Given

    found = []
    for path in paths:
        data = path.read_bytes()
        try:
            if data.lstrip().startswith(b"{"):
                for origin, log in json.loads(data)["logs"].items():
                    found.append(Given(f"the checkpoint in witness state {path.name} ({origin})",
                                       Note.parse(log["checkpoint"])))
            else:
                found.append(Given(f"checkpoint file {path.name}", Note.parse(data)))
        except (NoteError, ValueError, KeyError) as exc:
            fail(f"{path}: neither a checkpoint nor a witness's state ({exc})")
    return found


@audit.command("verify")
@home_option
@click.option("--checkpoint", "checkpoints", multiple=True, type=_file,
              help="A checkpoint kept earlier (a file from `audit checkpoint --out`, or a witness's state file); "
                   "repeatable.")
def audit_verify(home: Path, checkpoints: tuple[Path, ...]) -> None:
    """Recompute the tree from the events and check it against every checkpoint the hub signed, the ones given,
    and the witnesses' cosignatures: an edit, a deletion (the tail included) or a rewrite is named by the first
    index that differs, exit 1, and an alert."""
    from hub import audit as audit_log
    from hub.audit.checkpoints import verifiers_of
    from hub.audit.verify import verify_log
    from hub.audit.witnesses import configured, cosignature_keys
    from hub.errors import LogError
    from store.vocabulary import Action

    given = _given(checkpoints)
    with opened(home) as (settings, db, gpg, clock):
        with db.reader() as uow:
            try:
                witnesses = cosignature_keys(gpg, configured(uow, settings.audit.witnesses))
            except LogError as exc:
                fail(str(exc))
            result = verify_log(uow, verifiers=verifiers_of(settings, gpg), given=given, witnesses=witnesses)
        for line in result.checked:
            click.echo(f"ok      {line}")
        for finding in result.findings:
            click.echo(finding.line())
        click.echo(f"audit log: {result.size} events, root {result.root.hex()}")
        if result.ok:
            click.echo("audit log intact")
            return
        first = result.findings[0]
        with db.unit_of_work() as uow:
            forks = [f for f in result.findings if f.fork]
            audit_log.record(uow, clock, Action.LOG_FORK if forks else Action.LOG_INCONSISTENT, actor="operator",
                             why=(forks or [first])[0].line(), first_index=first.index,
                             findings=len(result.findings))
            uow.commit()
    raise SystemExit(1)


@audit.command("checkpoint")
@home_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the signed checkpoint here.")
def audit_checkpoint(home: Path, out: Path | None) -> None:
    """Issue a checkpoint now (stored, as every checkpoint the hub signs) and show it."""
    from hub.audit.checkpoints import Checkpointer
    from hub.errors import LogCorrupt, LogError

    with opened(home) as (settings, db, gpg, clock):
        checkpointer = Checkpointer.of_hub(settings, db, gpg, clock)
        try:
            issued = checkpointer.issue("operator")
        except LogCorrupt as exc:
            checkpointer.alert(str(exc), exc.index)
            fail(f"no checkpoint signed: {exc}")
        except LogError as exc:
            fail(str(exc))
    text = issued.note.render()
    if out is not None:
        out.write_text(text)
    click.echo(text, nl=False)


@audit.command("key")
@home_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the hub's public key here "
              "(HUB.asc), for partners, witnesses and committees.")
def audit_key(home: Path, out: Path | None) -> None:
    """The hub's public OpenPGP key and the note key derived from it (C2SP vkey) that checks its checkpoints."""
    from hub.audit.checkpoints import verifiers_of

    with opened(home) as (settings, _db, gpg, _clock):
        public = gpg.export_public(settings.hub.key_fingerprint)
        vkeys = [v.vkey() for v in verifiers_of(settings, gpg)]
    if out is not None:
        out.write_bytes(public)
        click.echo(f"public key written to {out}")
    click.echo(f"fingerprint  {settings.hub.key_fingerprint}")
    for vkey in vkeys or ["none: the hub's key is not Ed25519, it cannot sign checkpoints"]:
        click.echo(f"note key     {vkey}")


@audit.command("verify-receipt")
@click.argument("receipt", type=_file)
@click.option("--hub-key", required=True, type=_file, help="The hub's public key (HUB.asc); no hub home is used.")
@click.option("--key-home", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Your own GnuPG home, to open a receipt encrypted to you (the default way receipts travel).")
def audit_verify_receipt(receipt: Path, hub_key: Path, key_home: Path | None) -> None:
    """Check a receipt with the hub's public key alone: its signature, its proof (its intake event in a checkpoint
    the hub signed) and that the event says what the receipt says (reference, digest, received-at, due time)."""
    from hub.audit.keyring import Keyring
    from hub.audit.receipt_check import check_receipt
    from hub.errors import LogError

    with Keyring() as ring:
        try:
            hub = ring.add(hub_key.read_bytes())
        except LogError as exc:
            fail(f"{hub_key}: {exc}")
        result = check_receipt(receipt.read_bytes(), ring, hub, key_home=key_home)
    for line in result.lines:
        click.echo(line)
    click.echo("receipt verified" if result.ok else "receipt NOT verified")
    if not result.ok:
        raise SystemExit(1)


@audit.command("cosignature")
@home_option
@click.argument("files", nargs=-1, required=True, type=_file)
def audit_cosignature(home: Path, files: tuple[Path, ...]) -> None:
    """Store a witness's cosigned checkpoint (its reply mail, or the note `witness cosign` wrote); a checkpoint the
    hub signed that the store does not hold as it is raises `alert.log_fork`."""
    from hub.audit.witness_tool import extract_note
    from hub.audit.witnesses import import_cosigned
    from hub.errors import LogError

    bad = 0
    with opened(home) as (settings, db, gpg, clock):
        for path in files:
            with db.unit_of_work() as uow:
                try:
                    done = import_cosigned(uow, clock, settings, gpg, extract_note(path.read_bytes()))
                except LogError as exc:
                    click.echo(f"{path}: NOT stored — {exc}")
                    bad += 1
                    uow.commit()  # a fork's alert stays
                    continue
                uow.commit()
            for d in done:
                click.echo(f"{path}: {d.witness} cosigned checkpoint {d.size} at {d.timestamp}")
    if bad:
        raise SystemExit(1)


@click.group()
def witness() -> None:
    """Witness the hub's audit log from outside OCAM (C2SP tlog-witness semantics)."""


@witness.command("cosign")
@click.argument("request", type=_file)
@click.option("--hub-key", required=True, type=_file, help="The hub's public key (HUB.asc).")
@click.option("--witness-home", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Your own GnuPG home: decrypts the hub's mail, holds the key you cosign with.")
@click.option("--state", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Your state file: the last checkpoint you cosigned (created at the first cosignature).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the cosigned checkpoint here (default: standard output).")
@click.option("--reply-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write it as a mail to the hub, signed with your key, to send back.")
def witness_cosign(request: Path, hub_key: Path, witness_home: Path, state: Path, out: Path | None,
                   reply_out: Path | None) -> None:
    """Check the hub's checkpoint (in its mail, or the request's text) against the last one you cosigned, and
    cosign it; refuse, saying why, when it is not signed by the hub, not consistent with it, or a fork."""
    from crypto.tlog import Checkpoint
    from hub.audit import witness_tool as tool
    from hub.audit.keyring import Keyring
    from hub.clock import SystemClock
    from hub.errors import LogError

    with Keyring() as ring:
        try:
            hub = ring.add(hub_key.read_bytes())
            gpg, fingerprint, cosigner = tool.witness_cosigner(witness_home)
            body, mail = tool.read_request(request.read_bytes(), ring, hub, gpg)
            note, new_state = tool.cosign(body, ring, hub, cosigner, tool.load_state(state),
                                          int(SystemClock().now().timestamp()))
        except tool.Refused as exc:
            click.echo(f"witness: REFUSED ({exc.status}) — {exc}", err=True)
            raise SystemExit(3 if exc.fork else 1)
        except LogError as exc:
            fail(str(exc))
        tool.save_state(state, new_state)
        hub_address = (ring.emails(hub) or [""])[0]
    click.echo(f"witness: {mail}; checkpoint of {Checkpoint.of(note).size} events "
               f"cosigned by {cosigner.verifier.name}", err=True)
    if reply_out is not None:
        reply_out.write_bytes(tool.reply_mail(gpg, fingerprint, cosigner.verifier.name, hub_address, note))
    if out is not None:
        out.write_text(note.render())
    else:
        sys.stdout.write(note.render())
