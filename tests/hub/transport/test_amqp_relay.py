"""The outbox relay with a real node and store: a row published once confirmed, and no empty round after it."""

from __future__ import annotations

import asyncio
import threading
import uuid

from pydantic import SecretStr
from sqlalchemy import event

from hub.clock import SystemClock
from hub.settings import TransportSection
from hub.transport.amqp import AmqpTransport
from store import Database, upgrade
from tests.support.stores import fresh_url


def test_a_relayed_row_costs_one_claim_then_the_relay_waits_for_the_next(short_tmp, rabbitmq):
    """Once the row is confirmed and gone from the outbox, the relay waits for a wake (or its poll, long here)
    instead of claiming again at once and reading when the next row is due: two transactions per row saved."""
    db = Database(fresh_url(short_tmp))
    upgrade(db.engine)
    claims: list[str] = []
    lock = threading.Lock()

    @event.listens_for(db.engine, "before_cursor_execute")
    def counted(_conn, _cursor, statement, *_args) -> None:
        # The claim (most urgent ready rows) and the read of when the next row is due.
        if "ORDER BY queue_item.priority DESC" in statement or "min(queue_item.available_at)" in statement.lower():
            with lock:
                claims.append(statement.split(None, 1)[0])

    settings = TransportSection(url=SecretStr(rabbitmq.url), namespace=f"relay-{uuid.uuid4().hex[:10]}",
                                relay_poll_seconds=30.0)
    transport = AmqpTransport(db, SystemClock(), settings, stages=("intake",))

    def put_one() -> None:
        with db.unit_of_work() as uow:
            transport.publish(uow, "intake", {"message": 1}, priority=5)
            uow.commit()
        transport.notify("intake")

    def outbox() -> int:
        with db.reader() as uow:
            return sum(n for (_queue, state), n in uow.queue.depths().items() if state in ("ready", "leased"))

    async def scenario() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.create_task(transport.run(stop))
        try:
            await asyncio.wait_for(transport.connected.wait(), 30)
            await asyncio.sleep(0.5)  # the first round: nothing yet
            at_start = len(claims)
            await loop.run_in_executor(None, put_one)
            for _ in range(200):
                if transport.published == 1:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            return at_start, len(claims), await loop.run_in_executor(None, outbox)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    try:
        at_start, after, left = asyncio.run(scenario())
    finally:
        db.dispose()
    assert transport.published == 1 and left == 0
    assert after - at_start == 1, claims  # the round that took the row, and none after it
