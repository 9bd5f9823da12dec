"""`passerelle transport`: declare the RabbitMQ exchanges and queues (idempotent), show their depths."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

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
