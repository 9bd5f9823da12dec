"""RabbitMQ names and declarations: one durable quorum queue per stage and urgency class, and the dead letters.

Quorum queues (RabbitMQ 3.10) have no priorities, so urgency is a queue of its own: a consumer holds at
most ``prefetch`` messages of each class and the runner takes the most urgent one in hand first, so a FLASH
item waits behind at most one item's processing per worker, whatever the ROUTINE backlog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .priorities import PRIORITY

ENVELOPE_VERSION = 1

# The urgency classes, most urgent first: one queue each per stage.
CLASSES: tuple[int, ...] = tuple(sorted(set(PRIORITY.values()), reverse=True))


def class_of(priority: int) -> int:
    """The queue class of a priority: the highest class not above it (the lowest class otherwise)."""
    for value in CLASSES:
        if priority >= value:
            return value
    return CLASSES[-1]


@dataclass(frozen=True)
class Names:
    """Every name a hub's *namespace* uses on the broker."""

    namespace: str

    @property
    def exchange(self) -> str:
        return self.namespace

    @property
    def dead_exchange(self) -> str:
        return f"{self.namespace}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.namespace}.dead"

    def queue(self, stage: str, priority: int) -> str:
        return f"{self.namespace}.{stage}.p{class_of(priority)}"

    def queues(self, stage: str) -> list[str]:
        return [self.queue(stage, c) for c in CLASSES]


def stage_arguments(names: Names, delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": names.dead_exchange,
        # At-least-once dead-lettering: a message leaves the queue only once the dead-letter queue has it.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare(channel, names: Names, stages: tuple[str, ...], delivery_limit: int) -> list[str]:
    """Declare the exchanges, queues and bindings (idempotent); returns the queue names."""
    import aio_pika

    dead_exchange = await channel.declare_exchange(names.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(names.dead_queue, durable=True, arguments={"x-queue-type": "quorum"})
    await dead.bind(dead_exchange)
    exchange = await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    declared = [names.dead_queue]
    for stage in stages:
        for name in names.queues(stage):
            queue = await channel.declare_queue(name, durable=True, arguments=stage_arguments(names, delivery_limit))
            await queue.bind(exchange, routing_key=name)
            declared.append(name)
    return declared


def envelope(*, item: int, queue: str, payload: dict[str, Any], priority: int, attempts: int,
             created_at: datetime) -> bytes:
    """The message body: identifiers only, versioned JSON (never content, never pickle)."""
    return json.dumps({"version": ENVELOPE_VERSION, "item": item, "queue": queue, "payload": payload,
                       "priority": priority, "attempts": attempts, "created_at": created_at.isoformat()},
                      separators=(",", ":")).encode()


def read_envelope(body: bytes) -> dict[str, Any]:
    """The fields of an envelope; ValueError when it is not one this version understands."""
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("version") != ENVELOPE_VERSION:
        raise ValueError("unknown envelope version")
    for name in ("item", "queue", "payload", "priority", "attempts", "created_at"):
        if name not in data:
            raise ValueError(f"envelope without {name}")
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    return data
