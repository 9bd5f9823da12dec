"""FLASH waits for no batch at the relay: a delivery worker is kept for FLASH mail while the others are busy."""

from __future__ import annotations

from crypto import StorageKey
from gateway.capture import CaptureRelay
from hub.clock import SystemClock
from hub.outbound.outbox import OUTBOUND_QUEUE, queue_mail
from hub.transport.embedded import EmbeddedTransport
from hub.transport.priorities import priority_of
from tests.hub.rig import home_with_police
from tests.support.hubrig import RunningHub


def _queue(db, transport, storage, clock, rcpt: str, name: str, urgency: str) -> None:
    with db.unit_of_work() as uow:
        queue_mail(uow, transport=transport, key=storage, clock=clock, message_id=None, purpose="evaluation",
                   rfc_message_id=f"<{name}@ocam.test>", mail_from="hub@ocam.test", rcpt_to=rcpt,
                   data=f"Message-ID: <{name}@ocam.test>\r\n\r\nx\r\n".encode(), priority=priority_of(urgency))
        uow.commit()


def test_a_flash_mail_reaches_the_relay_while_every_delivery_worker_waits_on_it(short_tmp):
    """40 ROUTINE mails queued; the relay holds its replies, so each delivery worker stays in a send with the rest
    of its batch in hand. A FLASH mail queued then reaches the relay at once, before any of those ROUTINE mails."""
    home, key = home_with_police(short_tmp)
    workers = home.settings.delivery.workers
    home.settings.transport.prefetch = 8 * workers  # on RabbitMQ: enough ROUTINE mail in hand for every worker
    db = home.db()
    clock = SystemClock()
    transport, storage = EmbeddedTransport(db, clock), StorageKey.load(home.settings.storage_key_path)
    for n in range(40):
        _queue(db, transport, storage, clock, key.email, f"routine-{n}", "ROUTINE")
    with CaptureRelay() as relay:
        relay.hold()
        with RunningHub(home.settings, relay=relay.address) as hub:
            try:
                assert len(relay.wait_for(workers, timeout=30)) == workers  # each worker waits for its reply
                _queue(db, transport, storage, clock, key.email, "flash", "FLASH")
                hub.hub.transport.notify(OUTBOUND_QUEUE)
                at_the_relay = [c.message["Message-ID"] for c in relay.wait_for(workers + 1, timeout=10)]
            finally:
                relay.hold(False)
            everything = relay.wait_for(41, timeout=60)
    db.dispose()
    assert at_the_relay[workers:] == ["<flash@ocam.test>"], at_the_relay
    ids = [c.message["Message-ID"] for c in everything]
    assert len(set(ids)) == len(ids) == 41 and ids[workers] == "<flash@ocam.test>"  # every ROUTINE mail went out, once
