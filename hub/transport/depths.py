"""The broker's queue depths for the dashboard: message counts of this hub's RabbitMQ queues.

The dashboard (tui) never imports the hub nor holds the broker's credentials in anything it shows: the
CLI hands it this callable, which asks RabbitMQ with a passive declare per queue (at most every few
seconds) and returns names and counts only."""

from __future__ import annotations

import asyncio
import logging
import time

from hub.settings import TransportSection
from .topology import Names

log = logging.getLogger(__name__)


class BrokerDepths:
    def __init__(self, section: TransportSection, stages: tuple[str, ...], *, every_seconds: float = 5.0,
                 timeout_seconds: float = 3.0) -> None:
        self._urls = section.urls()
        names = Names(section.namespace)
        self.queues = [q for stage in stages for q in names.queues(stage)] + [names.dead_queue]
        self.every_seconds = every_seconds
        self.timeout_seconds = timeout_seconds
        self._last: tuple[float, dict[str, int]] | None = None

    def __call__(self) -> dict[str, int]:
        """Queue name -> messages ready on the broker; {} when it cannot be reached (the dashboard says so)."""
        if self._last is not None and time.monotonic() - self._last[0] < self.every_seconds:
            return self._last[1]
        try:
            depths = asyncio.run(asyncio.wait_for(self._ask(), self.timeout_seconds))
        except Exception as exc:  # noqa: BLE001 - unreachable broker: shown as such, never raised into the UI
            log.debug("broker depths unavailable: %s", type(exc).__name__)
            depths = {}
        self._last = (time.monotonic(), depths)
        return depths

    async def _ask(self) -> dict[str, int]:
        import aio_pika

        for url in self._urls:
            try:
                connection = await aio_pika.connect(url, timeout=self.timeout_seconds)
            except Exception:  # noqa: BLE001 - try the next node of the cluster
                continue
            async with connection:
                depths = {}
                for name in self.queues:
                    channel = await connection.channel()
                    try:
                        queue = await channel.declare_queue(name, passive=True)
                        depths[name] = queue.declaration_result.message_count
                    except Exception:  # noqa: BLE001 - not declared yet (passerelle transport setup)
                        depths[name] = -1
                return depths
        return {}
