"""The outbox relay with a real node and store: what a row costs on its way to the broker, and where it goes when
the relay that was to publish it is gone."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import event

from hub.clock import SystemClock
from hub.settings import TransportSection
from hub.transport.amqp import AmqpTransport
from store import Database, upgrade
from tests.support.stores import fresh_url

CLAIM = "ORDER BY queue_item.priority DESC"  # the relay's claim of the most urgent ready rows


class _Rig:
    """A store, a transport over a fresh namespace, and the statements run against the store."""

    def __init__(self, tmp, rabbitmq, **settings) -> None:
        self.db = Database(fresh_url(tmp))
        upgrade(self.db.engine)
        self.statements: list[str] = []
        lock = threading.Lock()

        @event.listens_for(self.db.engine, "before_cursor_execute")
        def counted(_conn, _cursor, statement, *_args) -> None:
            with lock:
                self.statements.append(statement)

        self.settings = TransportSection(url=SecretStr(rabbitmq.url), namespace=f"relay-{uuid.uuid4().hex[:10]}",
                                         **settings)
        self.transport = AmqpTransport(self.db, SystemClock(), self.settings, stages=("intake",))

    def count(self, fragment: str) -> int:
        return sum(1 for s in list(self.statements) if fragment in s)

    def put(self, transport: AmqpTransport | None = None, n: int = 1) -> None:
        transport = transport or self.transport
        for i in range(n):
            with self.db.unit_of_work() as uow:
                transport.publish(uow, "intake", {"message": i}, priority=5)
                uow.commit()
            transport.notify("intake")

    def outbox(self) -> dict[str, int]:
        with self.db.reader() as uow:
            return {state: n for (_queue, state), n in uow.queue.depths().items()}

    async def until(self, condition, seconds: float = 10.0) -> None:
        for _ in range(int(seconds / 0.05)):
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("not within the time given")

    def run(self, scenario) -> None:
        async def main():
            stop = asyncio.Event()
            task = asyncio.create_task(self.transport.run(stop))
            try:
                await asyncio.wait_for(self.transport.connected.wait(), 30)
                await self.until(lambda: self.count(CLAIM) >= 1)  # the first round claims, and finds nothing
                await asyncio.sleep(0.3)  # its transactions end
                await scenario(asyncio.get_running_loop())
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)

        try:
            asyncio.run(main())
        finally:
            self.db.dispose()


def test_a_row_this_process_commits_is_published_without_a_claim(short_tmp, rabbitmq):
    """While the relay runs, the rows its process commits are written leased to it and handed over: no claim,
    no empty round after it, and the outbox is empty once the broker confirmed them."""
    rig = _Rig(short_tmp, rabbitmq, relay_poll_seconds=30.0)
    seen: dict[str, object] = {}

    async def scenario(loop):
        claims = rig.count(CLAIM)
        await loop.run_in_executor(None, rig.put)
        await rig.until(lambda: rig.transport.published == 1)
        await asyncio.sleep(0.6)  # past the settle
        seen.update(claims=rig.count(CLAIM) - claims, outbox=await loop.run_in_executor(None, rig.outbox))

    rig.run(scenario)
    assert rig.transport.published == 1
    assert seen == {"claims": 0, "outbox": {}}


def test_confirmed_rows_leave_the_outbox_together(short_tmp, rabbitmq):
    """Rows confirmed within `relay_settle_seconds` of each other are removed by one statement, not one each."""
    rig = _Rig(short_tmp, rabbitmq, relay_poll_seconds=30.0, relay_settle_seconds=1.0)
    seen: dict[str, object] = {}

    async def scenario(loop):
        await loop.run_in_executor(None, rig.put, None, 6)
        await rig.until(lambda: rig.transport.published == 6)
        deletes = rig.count("DELETE FROM queue_item")
        seen["before"] = (deletes, await loop.run_in_executor(None, rig.outbox))
        await rig.until(lambda: rig.count("DELETE FROM queue_item") > deletes, 5.0)
        await asyncio.sleep(0.2)
        seen["after"] = (rig.count("DELETE FROM queue_item") - deletes, await loop.run_in_executor(None, rig.outbox))

    rig.run(scenario)
    assert seen["before"][1] == {"leased": 6}, seen  # confirmed, not yet removed: leased, so nobody relays them
    assert seen["after"] == (1, {}), seen


def test_another_process_s_row_is_claimed_by_the_poll(short_tmp, rabbitmq):
    """A row committed by a process whose relay does not run (a command) is ready in the outbox: the running
    relay claims it at its next poll, though nothing wakes it."""
    rig = _Rig(short_tmp, rabbitmq, relay_poll_seconds=0.5)
    command = AmqpTransport(rig.db, SystemClock(), rig.settings, stages=("intake",))  # never run: no relay

    async def scenario(loop):
        await loop.run_in_executor(None, rig.put, command)
        assert (await loop.run_in_executor(None, rig.outbox)).get("ready") == 1
        await rig.until(lambda: rig.transport.published == 1, 5.0)

    rig.run(scenario)
    assert rig.transport.published == 1


def test_a_row_handed_over_but_not_published_is_ready_again_when_the_relay_stops(short_tmp, rabbitmq):
    """A row committed leased to this relay after its last round (the process stopping) goes back to ready when
    the relay ends, instead of waiting out its lease; one held past half its lease is left to the lease."""
    rig = _Rig(short_tmp, rabbitmq)
    rig.transport._relaying = True  # as while the relay ran: publish() writes the row leased and hands it over
    rig.put()
    assert rig.outbox() == {"leased": 1} and len(rig.transport._handed) == 1
    rig.transport._relaying = False
    rig.transport._end_of_relay()
    assert rig.outbox() == {"ready": 1} and rig.transport._handed == []

    rig.transport._relaying = True
    rig.put()
    rig.transport._relaying = False
    row = rig.transport._handed[0]
    row["lease_until"] -= timedelta(seconds=rig.settings.relay_lease_seconds * 0.6)  # as if held that long
    assert rig.transport._take_handed() == []  # not published by this relay: claimed once the lease ends
    rig.db.dispose()

