"""`passerelle witness`: the witness's own tool — no hub home, only the hub's public key and the witness's key."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import fail

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


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
