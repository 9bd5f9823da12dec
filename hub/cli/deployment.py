"""Running a deployment: `passerelle transport` (declare the RabbitMQ exchanges and queues, idempotent; show
their depths), `passerelle backup` and `passerelle restore` (the hub's store, keys and settings, encrypted to a
backup key)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from hub.acts.duty import local_actor
from hub.clock import SystemClock, brussels
from hub.errors import BackupError, HomeError

from .common import fail, home_option, load_settings


@click.group()
def transport() -> None:
    """The RabbitMQ transport (`[transport] url`)."""


@transport.command("setup")
@home_option
def transport_setup(home: Path) -> None:
    """Declare the exchanges, quorum queues and dead-letter queue; running it again changes nothing."""
    from hub.app import STAGES
    from hub.transport.topology import Names, declare

    settings = load_settings(home)
    t = settings.transport
    if not t.enabled:
        fail("no [transport] url: this hub uses the embedded transport")

    async def run() -> list[tuple[str, int]]:
        import aio_pika

        last: Exception | None = None
        for url in t.urls():
            try:
                connection = await aio_pika.connect(url, timeout=10)
            except Exception as exc:  # noqa: BLE001 - try the next node
                last = exc
                continue
            async with connection:
                channel = await connection.channel()
                names = await declare(channel, Names(t.namespace), STAGES, t.delivery_limit)
                depths = []
                for name in names:
                    queue = await channel.declare_queue(name, passive=True)
                    depths.append((name, queue.declaration_result.message_count))
                return depths
        raise click.ClickException(f"no broker reachable ({type(last).__name__})")

    for name, depth in asyncio.run(run()):
        click.echo(f"{name:<40} quorum  {depth} message(s)")



@click.command()
@home_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The archive to write (refused if it exists); mode 0600.")
@click.option("--to", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The backup key's public key (KEYFILE.asc): the archive is encrypted to it alone.")
def backup(home: Path, out: Path, key_file: Path) -> None:
    """A consistent snapshot of the store, the home's keys (GnuPG home, storage key, TLS key) and settings, as one
    archive encrypted to the backup key; the hub may go on serving meanwhile. Recorded in the audit log."""
    from hub.ops.backup import backup as make

    settings = load_settings(home)
    try:
        made = make(settings, out.expanduser().resolve(), key_file, clock=SystemClock(), actor=local_actor())
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"backup written to {made.path} ({made.size} bytes, mode 0600)")
    click.echo(f"  encrypted to  {made.key.fingerprint} {made.key.user_id}")
    click.echo(f"  store         {made.store}, revision {made.revision}; {made.members} members")
    click.echo(f"  restore with  passerelle restore {made.path} --home NEWDIR --key-home DIR")


@click.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--home", "home", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The new home (a directory that does not exist, or an empty one).")
@click.option("--key-home", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The GnuPG home holding the backup key's secret.")
@click.option("--store-url", help="An empty database for the store (postgresql+psycopg://...); default: SQLite in "
                                  "the new home, whatever store the backup came from.")
def restore(archive: Path, home: Path, key_home: Path, store_url: str | None) -> None:
    """ARCHIVE into a new home: keys, settings and store; work it had not finished is queued again. Then
    `passerelle audit verify --home NEWDIR` and `passerelle serve --home NEWDIR`."""
    from hub.ops.restore import restore as bring_back
    from store import head_revision

    try:
        done = bring_back(archive, home, key_home, clock=SystemClock(), actor=local_actor(), store_url=store_url)
    except (BackupError, HomeError) as exc:
        fail(str(exc))
    m = done.manifest
    click.echo(f"restored {archive} into {done.home}")
    click.echo(f"  backup of     {m['hub']}, made {brussels(m['made_at'])}")
    head = head_revision()
    click.echo(f"  store         {done.store}, revision {m['revision']}"
               + ("" if m["revision"] == head else f", upgraded to {head}"))
    click.echo(f"  queued again  {done.requeued.get('intake', 0)} message(s) for intake, "
               f"{done.requeued.get('outbound', 0)} mail(s) for the relay")
    click.echo(f"  next          passerelle audit verify --home {done.home}; passerelle serve --home {done.home}")
