"""The RabbitMQ transport with a real node: intake end to end, idempotent redelivery, dead letters, setup."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from click.testing import CliRunner

from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.settings import load
from hub.transport.topology import Names, envelope
from tests.hub.rig import home_with_police, reference_in, signed, use_amqp
from tests.support.hubrig import RunningHub


@pytest.fixture
def amqp_home(short_tmp, rabbitmq):
    """A hub home with one contact point, its transport on the session's RabbitMQ node."""
    home, key = home_with_police(short_tmp)
    if not home.settings.transport.enabled:  # the embedded run of the suite: point this home at the node
        use_amqp(home.settings.home, rabbitmq.url)
        retry = home.settings.delivery.retry_schedule_seconds
        home.settings = load(home.settings.home)
        home.settings.delivery.retry_schedule_seconds = retry
    return home, key


def _poll(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _publish_raw(url: str, routing_key: str, exchange: str, body: bytes) -> None:
    async def run() -> None:
        import aio_pika

        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            ex = await channel.get_exchange(exchange)
            await ex.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                             routing_key=routing_key, mandatory=True)

    asyncio.run(run())


def _outbox_rows(home) -> int:
    db = home.db()
    try:
        with db.reader() as uow:
            return sum(n for (q, state), n in uow.queue.depths().items() if state in ("ready", "leased"))
    finally:
        db.dispose()


def test_signed_mail_in_over_smtp_gets_one_receipt_over_amqp(amqp_home, rabbitmq):
    """SMTP in -> store + outbox -> RabbitMQ -> intake -> RabbitMQ -> delivery: one signed receipt, outbox empty."""
    home, key = amqp_home
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        references = []
        for urgency in ("FLASH", "ROUTINE"):
            code, text = hub.send(signed(key, keyword_lines={"Urgency": urgency, "Message-Kind": "request"}),
                                  mail_from=key.email)
            assert code == 250, text
            references.append(reference_in(text))
        captured = relay.wait_for(2, timeout=30)
        assert sorted(c.message["X-Passerelle-Reference"] for c in captured) == sorted(references)
        _poll(lambda: _outbox_rows(home) == 0, 10, "the outbox to drain")
        assert hub.hub.transport.published >= 4  # two intake items, two receipts: through the broker


def test_redelivered_items_give_no_second_receipt(amqp_home, rabbitmq):
    """The same intake and outbound items delivered again (as after a crash before the ack): nothing happens twice."""
    home, key = amqp_home
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(signed(key, keyword_lines={"Urgency": "URGENT", "Message-Kind": "request"}),
                              mail_from=key.email)
        assert code == 250, text
        relay.wait_for(1, timeout=30)
        db = home.db()
        with db.reader() as uow:
            message = uow.messages.by_reference(reference_in(text))
            outbound = uow.outbound.for_message(message.id)[0]
        db.dispose()
        names = Names(home.settings.transport.namespace)
        runners = {r.queue: r for r in hub.hub.runners}
        before = {q: r.processed for q, r in runners.items()}
        for queue, payload, priority in (("intake", {"version": 1, "message_id": message.id}, 3),
                                         ("outbound", {"version": 1, "outbound_id": outbound.id}, 3)):
            body = envelope(item=999_000, queue=queue, payload=payload, priority=priority, attempts=0,
                            created_at=message.received_at)
            for _ in range(2):
                _publish_raw(rabbitmq.url, names.queue(queue, priority), names.exchange, body)
        _poll(lambda: all(runners[q].processed - before[q] >= 2 for q in runners), 20, "the copies to be handled")
        assert len(relay.messages) == 1
        db = home.db()
        with db.reader() as uow:
            assert len(uow.outbound.for_message(message.id)) == 1
            assert uow.deadlines.for_message(message.id) is not None  # one clock (a second insert would conflict)
            assert not uow.queue.quarantined()
        db.dispose()


def test_unreadable_message_is_dead_lettered_into_quarantine(amqp_home, rabbitmq):
    """A message no consumer can read goes to the dead-letter queue, whose consumer puts it into quarantine."""
    home, _key = amqp_home
    names = Names(home.settings.transport.namespace)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        _poll(hub.hub.transport.connected.is_set, 20, "the broker session")
        _publish_raw(rabbitmq.url, names.queue("intake", 9), names.exchange, b'{"version": 99}')
        db = home.db()

        def quarantined():
            with db.reader() as uow:
                return list(uow.queue.quarantined())

        _poll(lambda: quarantined(), 20, "the dead letter in quarantine")
        [item] = quarantined()
        assert item.last_error.startswith("DeadLettered")
        with db.reader() as uow:
            assert uow.audit.recent(action="transport.dead_lettered")
        db.dispose()


def test_transport_setup_is_idempotent(amqp_home):
    """`passerelle transport setup` declares the quorum queues; a second run succeeds and changes nothing."""
    home, _key = amqp_home
    runner = CliRunner()
    first = runner.invoke(main, ["transport", "setup", "--home", str(home.settings.home)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["transport", "setup", "--home", str(home.settings.home)])
    assert second.exit_code == 0, second.output
    assert first.output == second.output
    ns = home.settings.transport.namespace
    for name in (f"{ns}.intake.p9", f"{ns}.intake.p1", f"{ns}.outbound.p9", f"{ns}.dead"):
        assert name in first.output
    assert json.dumps(home.settings.transport.url.get_secret_value()) not in first.output
