"""The dashboard shows the broker's queue depths in a distributed deployment (and says when it is unreachable)."""

from __future__ import annotations

import asyncio
import time
import uuid

from textual.widgets import DataTable

from gateway.capture import CaptureRelay
from hub.app import STAGES
from hub.transport.depths import BrokerDepths
from hub.settings import load
from store import Database
from tests.hub.rig import home_with_police, use_amqp
from tests.hub.transport.test_amqp_faults import Serve, _send
from tests.support import mail
from tests.support.rabbitmq import free_port
from tui import Dashboard


def _queue_rows(db, broker) -> list[list[str]]:
    async def run():
        app = Dashboard(db, refresh_seconds=0.3, broker=broker)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.query_one("#queues", DataTable)
            deadline = time.monotonic() + 20  # the first refresh waits for the broker (or its timeout)
            while not any(str(table.get_row_at(i)[0]).startswith("broker") for i in range(table.row_count)) \
                    and time.monotonic() < deadline:
                await pilot.pause(0.1)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            await pilot.press("q")
        return rows

    return asyncio.run(run())


def test_broker_depths_on_the_overview(short_tmp, rabbitmq):
    home, key = home_with_police(short_tmp)
    use_amqp(home.settings.home, rabbitmq.url)
    settings = load(home.settings.home)
    port = free_port()
    with CaptureRelay() as relay:
        gateway = Serve(home.settings.home, "gateway", relay.address, port=port).wait_ready()
        try:
            for _ in range(3):  # no worker runs: the items wait on the broker
                _send(port, mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={"Urgency": "FLASH"}),
                      key.email)
            depths = BrokerDepths(settings.transport, STAGES, every_seconds=0)
            deadline = time.monotonic() + 20
            while sum(n for n in depths().values() if n > 0) < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
            db = Database(settings.database_url)
            rows = _queue_rows(db, depths)
            db.dispose()
        finally:
            gateway.stop()
    broker_rows = {r[0]: r[1] for r in rows if r[0].startswith("broker ")}
    intake = {name: n for name, n in broker_rows.items() if ".intake." in name}
    assert sum(int(n) for n in intake.values()) == 3, broker_rows
    assert all(settings.transport.namespace in name for name in broker_rows)
    assert not any("@" in " ".join(r) or "amqp://" in " ".join(r) for r in rows)  # never the URL or credentials


def test_an_unreachable_broker_is_said(short_tmp):
    home, _key = home_with_police(short_tmp)
    use_amqp(home.settings.home, f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    settings = load(home.settings.home)
    db = Database(settings.database_url)
    rows = _queue_rows(db, BrokerDepths(settings.transport, STAGES, timeout_seconds=1))
    db.dispose()
    assert ["broker", "UNREACHABLE", "-", "-"] in rows
