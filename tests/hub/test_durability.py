"""Nothing lost, nothing leaked: sealing at rest, relay outages, FLASH first, quarantine, idempotency."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

from click.testing import CliRunner

from crypto import StorageKey
from gateway import Relay
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import SystemClock
from hub.outbound.delivery import DeliveryHandler
from hub.intake.pipeline import ReceiptStage
from hub.outbound.outbox import OUTBOUND_QUEUE, queue_mail
from hub.transport.priorities import priority_of
from hub.transport.embedded import EmbeddedTransport
from hub.transport.protocol import Delivery
from tests.hub.rig import home_with_police, make_home, partner, reference_in
from tests.support import mail, postgres, stores
from tests.support.hubrig import RunningHub


def _unique() -> str:
    return f"CANARY{uuid.uuid4().hex.upper()}"


def _lock_store(url: str):
    """Another writer holds the store (SQLite: an exclusive lock; PostgreSQL: a lock on the message table)
    until the returned function releases it."""
    if url.startswith("postgresql"):
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        blocker = psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)
        blocker.execute("LOCK TABLE message IN ACCESS EXCLUSIVE MODE")
    else:
        import sqlite3

        blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        blocker.rollback()
        blocker.close()

    return release


def _wait(predicate, relay, timeout=20.0):
    for _ in range(int(timeout * 10)):
        if predicate():
            return True
        relay.wait_for(10**6, timeout=0.1)
    return predicate()


def _show(home, reference):
    result = CliRunner().invoke(main, ["messages", "show", reference, "--json", "--home", str(home.settings.home)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_no_plaintext_at_rest(short_tmp):
    """Unique strings of a signed and an encrypted body appear in no file under the home, after receipts."""
    home, key = home_with_police(short_tmp)
    canaries = [_unique(), _unique(), _unique()]
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        assert hub.send(mail.signed_mail(key, body=f"Intel {canaries[0]} end", subject=canaries[2]))[0] == 250
        hub_public = home.gpg.export_public(home.fingerprint)
        assert hub.send(mail.encrypted_mail(key, hub_public, body=f"Secret {canaries[1]} end"))[0] == 250
        relay.wait_for(2)
    files = [p for p in home.settings.home.rglob("*") if p.is_file()]
    if stores.on_postgres():  # the store's files are the server's: its data directory, WAL included
        files += [p for p in postgres.shared().data.rglob("*") if p.is_file()]
        assert any(p.parent.name == "pg_wal" for p in files)
    else:
        assert any(p.name == "passerelle.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for canary in canaries:
            assert canary.encode() not in data, f"{canary} in {path}"
            assert canary.encode("utf-16-le") not in data


def test_relay_outage_defers_then_delivers_once(short_tmp):
    """The relay answers 451 twice: the receipt is retried with back-off and delivered exactly once."""
    home, key = home_with_police(short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.defer(2)
        code, text = hub.send(mail.signed_mail(key, body=_unique()))
        assert code == 250
        reference = reference_in(text)
        assert _wait(lambda: len(relay.messages) == 1, relay)
        assert _wait(lambda: _show(home, reference)["receipt_status"] == "sent", relay)
        shown = _show(home, reference)
    assert relay.attempts == 3 and len(relay.messages) == 1
    assert shown["deliveries"][0]["attempts"] == 3
    assert [e["action"] for e in shown["audit"]].count("receipt.deferred") == 2


def test_relay_refusal_raises_an_alert(short_tmp):
    """A 5xx from the relay fails the receipt for good and records an alert for the duty officer."""
    home, key = home_with_police(short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.refuse(1)
        code, text = hub.send(mail.signed_mail(key, body=_unique()))
        reference = reference_in(text)
        assert _wait(lambda: _show(home, reference)["receipt_status"] == "failed", relay)
        shown = _show(home, reference)
    assert "alert.delivery_failed" in [e["action"] for e in shown["audit"]]
    assert shown["deliveries"][0]["last_error"].startswith("554")


def test_flash_receipt_overtakes_routine_backlog(short_tmp):
    """With the relay down, ROUTINE receipts queue up; when it returns the FLASH receipt goes first."""
    home = make_home(short_tmp)
    home.settings.delivery.workers = 1
    home.settings.delivery.retry_schedule_seconds = [1.0]
    key = partner(short_tmp, "police")
    home.register(key, "police-fed", "police")
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.defer(10**6)
        for _ in range(5):
            assert hub.send(mail.signed_mail(key, body=_unique(), keyword_lines={"Urgency": "ROUTINE"}))[0] == 250
        code, text = hub.send(mail.signed_mail(key, body=_unique(), keyword_lines={"Urgency": "FLASH"}))
        flash_ref = reference_in(text)
        assert _wait(lambda: relay.attempts >= 1, relay)  # the relay failed once: every receipt now waits for its return
        relay.defer(0)
        received = relay.wait_for(6, timeout=30)
    assert len(received) == 6
    assert received[0].message["X-Passerelle-Reference"] == flash_ref


def test_a_stage_that_raises_quarantines_the_message(short_tmp, monkeypatch):
    """A failing stage sets the message aside with its error; it stays listed, sealed, never dropped."""
    home, key = home_with_police(short_tmp)

    original = ReceiptStage.process

    def failing(self, ctx):
        if "QUARANTINE-ME" in ctx.original_message_id:
            raise RuntimeError("receipt composer broke")
        return original(self, ctx)

    monkeypatch.setattr(ReceiptStage, "process", failing)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(mail.signed_mail(key, body=_unique(), message_id="<QUARANTINE-ME@partner.test>"))
        assert code == 250
        reference = reference_in(text)
        assert hub.send(mail.signed_mail(key, body=_unique()))[0] == 250
        relay.wait_for(1)
        assert _wait(lambda: _show(home, reference)["state"] == "quarantined", relay)
    listed = json.loads(CliRunner().invoke(main, ["messages", "list", "--quarantined", "--json",
                                                  "--home", str(home.settings.home)]).output)
    assert [row["reference"] for row in listed] == [reference]
    assert "receipt composer broke" in listed[0]["error"]
    assert "intake.quarantined" in [e["action"] for e in _show(home, reference)["audit"]]


def _outbox(short_tmp):
    """A home with a partner, its store, a clock, an embedded transport and the storage key: to queue mail."""
    home, key = home_with_police(short_tmp)
    db = home.db()
    clock = SystemClock()
    return home, key, db, clock, EmbeddedTransport(db, clock), StorageKey.load(home.settings.storage_key_path)


def test_processing_twice_yields_one_receipt(short_tmp):
    """A redelivered intake item (as after a crash) produces no second receipt."""
    home, key = home_with_police(short_tmp)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        code, text = hub.send(mail.signed_mail(key, body=_unique()))
        reference = reference_in(text)
        relay.wait_for(1)
        db = home.db()
        with db.unit_of_work() as uow:
            message = uow.messages.by_reference(reference)
            hub.hub.transport.publish(uow, "intake", {"message_id": message.id}, priority=9)
            uow.commit()
        hub.hub.transport.notify("intake")
        relay.wait_for(2, timeout=3)
        with db.unit_of_work() as uow:
            assert uow.queue.depths().get(("intake", "ready"), 0) == 0
            assert len(uow.outbound.for_message(message.id)) == 1
        db.dispose()
    assert len(relay.messages) == 1


def test_flash_delivery_overtakes_a_thousand_routine_ones(short_tmp):
    """1,000 ROUTINE deliveries queued, then one FLASH: it leaves among the first, not after the backlog."""
    home, key, db, clock, transport, storage = _outbox(short_tmp)
    with db.unit_of_work() as uow:
        for n in range(1000):
            queue_mail(uow, transport=transport, key=storage, clock=clock, message_id=None, purpose="evaluation",
                       rfc_message_id=f"<routine-{n}@ocam.test>", mail_from="hub@ocam.test", rcpt_to=key.email,
                       data=f"Message-ID: <routine-{n}@ocam.test>\r\n\r\nx\r\n".encode(),
                       priority=priority_of("ROUTINE"))
        uow.commit()
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        relay.wait_for(40, timeout=30)  # the backlog is draining
        with db.unit_of_work() as uow:  # through the serving hub's transport, as a FLASH receipt or notice goes
            # (over RabbitMQ a row of another process is claimed at the relay's poll, transport.relay_poll_seconds)
            queue_mail(uow, transport=hub.hub.transport, key=storage, clock=clock, message_id=None,
                       purpose="evaluation",
                       rfc_message_id="<flash@ocam.test>", mail_from="hub@ocam.test", rcpt_to=key.email,
                       data=b"Message-ID: <flash@ocam.test>\r\n\r\nx\r\n", priority=priority_of("FLASH"))
            uow.commit()
        hub.hub.transport.notify("outbound")
        sent_before = len(relay.messages)
        for _ in range(300):
            ids = [c.message["Message-ID"] for c in relay.messages]
            if "<flash@ocam.test>" in ids:
                break
            relay.wait_for(len(ids) + 1, timeout=0.1)
    db.dispose()
    position = ids.index("<flash@ocam.test>")
    # At most one batch per delivery worker was in hand when it arrived.
    workers, batch = home.settings.delivery.workers, 8
    assert position - sent_before <= workers * batch, (position, sent_before)
    assert len(ids) < 1000


def test_gpg_failure_answers_4xx_so_the_client_retries(short_tmp):
    """gpg hangs: the gateway answers 451 4.7.0 after the time limit, never 250 and never 5xx."""
    home, key = home_with_police(short_tmp)
    fake = short_tmp / "gpg-hangs"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        hub.hub.gpg._engine.gpgbinary = str(fake)  # the engine fails after the hub started
        hub.hub.gpg._engine._timeout = 1.0
        code, text = hub.send(mail.signed_mail(key, body=_unique()))
    assert (code, text[:5]) == (451, "4.7.0"), text


def test_store_unavailable_answers_4xx_and_nothing_is_half_accepted(short_tmp):
    """The database is locked by another writer beyond the busy timeout: 451 4.3.0; once free, the same
    message is accepted."""
    home, key = home_with_police(short_tmp)
    home.settings.store.busy_timeout_seconds = 0.5
    raw = mail.signed_mail(key, body=_unique())
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        release = _lock_store(home.settings.database_url)
        try:
            code, text = hub.send(raw)
        finally:
            release()
        assert (code, text[:5]) == (451, "4.3.0"), text
        code, text = hub.send(raw)
        assert code == 250, text


def _one_delivery(db, transport, storage, clock, rcpt_to: str) -> tuple[int, Delivery]:
    """One evaluation mail queued and its outbound item claimed: its id and the delivery a worker is handed."""
    with db.unit_of_work() as uow:
        mail_id = queue_mail(uow, transport=transport, key=storage, clock=clock, message_id=None,
                             purpose="evaluation", rfc_message_id="<twice@ocam.test>", mail_from="hub@ocam.test",
                             rcpt_to=rcpt_to, data=b"Message-ID: <twice@ocam.test>\r\n\r\nx\r\n", priority=5)
        uow.commit()
    with db.unit_of_work() as uow:
        item_id = uow.queue.claim(OUTBOUND_QUEUE, now=clock.now(), lease=timedelta(minutes=5))[0]["id"]
        uow.commit()
    return mail_id, Delivery(item_id, OUTBOUND_QUEUE, {"outbound_id": mail_id}, 5, 1, clock.now())


def _delivery_handler(home, db, relay, storage, clock, transport) -> DeliveryHandler:
    host, port = relay.address.rsplit(":", 1)
    return DeliveryHandler(db=db, relay=Relay(host, int(port), starttls=False, timeout_seconds=10,
                                              local_hostname="ocam.test"),
                           storage_key=storage, clock=clock, transport=transport, policy=home.settings.delivery)


def test_two_copies_of_one_delivery_in_hand_send_it_once(short_tmp):
    """A broker can hand a process a second copy of a delivery (redelivered after a crash, or relayed twice
    from the outbox) while the first is in hand: both loaded as pending, one mail at the relay, both copies
    acknowledged, the mail recorded as sent once."""
    home, key, db, clock, transport, storage = _outbox(short_tmp)
    mail_id, copy = _one_delivery(db, transport, storage, clock, key.email)
    copies = [copy, copy]
    with CaptureRelay() as relay:
        handler = _delivery_handler(home, db, relay, storage, clock, transport)
        assert handler.handle(copies) == []
        time.sleep(0.5)  # a second copy would have reached the relay by now
        assert [c.message["Message-ID"] for c in relay.messages] == ["<twice@ocam.test>"]
    with db.reader() as uow:
        assert uow.outbound.state_of(mail_id) == "sent"
        assert not [n for (queue, _), n in uow.queue.depths().items() if queue == OUTBOUND_QUEUE]  # acknowledged
    db.dispose()


def test_a_sent_mail_recorded_by_two_workers_is_recorded_once(short_tmp):
    """Two worker processes both loaded one mail as pending (a redelivered copy); the second to record its relay's
    250 finds it sent already: one record stands, with one attempt and one audit event, and both copies are
    acknowledged."""
    home, key, db, clock, transport, storage = _outbox(short_tmp)
    mail_id, copy = _one_delivery(db, transport, storage, clock, key.email)
    with CaptureRelay() as relay:
        first = _delivery_handler(home, db, relay, storage, clock, transport)
        second = _delivery_handler(home, db, relay, storage, clock, transport)  # another process: its own hands
        jobs, failures = second._load([copy])  # loaded before the first records
        assert failures == [] and list(jobs) == [copy.item_id]
        assert first.handle([copy]) == []
        second._record_sent([(copy, jobs[copy.item_id], "sent", _accepted("250 2.0.0 queued again"))])
    with db.reader() as uow:
        mail_row = uow.outbound.get(mail_id)
        sent = [e for e in uow.audit.recent(limit=50) if e.action == "evaluation.sent"]
        assert (mail_row.state, mail_row.attempts) == ("sent", 1)
        assert len(sent) == 1 and "queued again" not in sent[0].detail["relay_reply"]
        assert not [n for (queue, _), n in uow.queue.depths().items() if queue == OUTBOUND_QUEUE]  # acknowledged
    db.dispose()


def _accepted(reply: str):
    from hub.outbound.delivery import _Accepted
    return _Accepted(reply)
