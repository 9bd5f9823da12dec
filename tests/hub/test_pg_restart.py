"""PostgreSQL restarted under a stream: every message answered 250 is stored once and receipted once."""

from __future__ import annotations

import signal
import smtplib
import threading
import time
import uuid

import pytest

from gateway.capture import CaptureRelay
from store import Database, upgrade
from tests.hub.rig import HUB, make_home, partner, reference_in
from tests.support import mail
from tests.support.hubrig import client_tls, free_port, serve_process
from tests.support.postgres import PostgresServer

SENDERS = 4
PER_SENDER = 15
RESTART_AFTER = 12  # 250s before the restart


@pytest.fixture
def server():
    pg = PostgresServer().start()
    yield pg
    pg.stop()


def _send(port: int, raw: bytes, sender: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.starttls(context=client_tls())
        client.ehlo()
        client.mail(sender)
        client.rcpt(HUB)
        try:
            code, text = client.data(raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode()
        return code, text.decode()


def test_postgres_restart_mid_stream_loses_and_duplicates_nothing(short_tmp, server):
    """pg_ctl restart -m fast while four clients send: replies are 250 or 4xx only (4xx retried as an MTA
    would); every 250 has exactly one message row and exactly one receipt; the audit chain is intact."""
    url = server.create_database("restart")
    database = Database(url)
    upgrade(database.engine)
    database.dispose()
    home = make_home(short_tmp, store_url=url)
    key = partner(short_tmp, "police")
    home.register(key, "police-fed", "police")
    batches = [[mail.signed_mail(key, body=uuid.uuid4().hex) for _ in range(PER_SENDER)] for _ in range(SENDERS)]
    replies: list[tuple[int, str]] = []
    lock = threading.Lock()
    accepted = threading.Condition(lock)

    def sender(messages: list[bytes]) -> None:
        for raw in messages:
            for _attempt in range(60):  # an MTA retries a 4xx; bounded
                try:
                    code, text = _send(port, raw, key.email)
                except (OSError, smtplib.SMTPException) as exc:
                    code, text = 0, f"{type(exc).__name__}: {exc}"
                with accepted:
                    replies.append((code, text))
                    accepted.notify_all()
                if code == 250:
                    break
                time.sleep(0.2)

    port = free_port()
    with CaptureRelay() as relay:
        process = serve_process(home.settings.home, port, relay.address)
        try:
            threads = [threading.Thread(target=sender, args=(b,)) for b in batches]
            for t in threads:
                t.start()
            with accepted:
                assert accepted.wait_for(lambda: sum(c == 250 for c, _ in replies) >= RESTART_AFTER, timeout=60)
            server.restart()
            restarted_at = len(replies)
            for t in threads:
                t.join(120)
            assert not any(t.is_alive() for t in threads)
            references = [reference_in(text) for code, text in replies if code == 250]
            assert len(references) == SENDERS * PER_SENDER, replies
            assert len(replies) > restarted_at  # the stream went on across the restart
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _settled(url, len(references)):
                relay.wait_for(len(references), timeout=0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output[-3000:]
    assert not [r for r in replies if r[0] >= 500 or r[0] == 0], replies
    receipts = [c.message["X-Passerelle-Reference"] for c in relay.messages]
    assert sorted(receipts) == sorted(references), (len(receipts), len(references))
    database = Database(url)
    with database.reader() as uow:
        for reference in references:
            assert uow.messages.by_reference(reference) is not None
        assert uow.messages.count() == len(references)
        assert [e.seq for e in uow.log.stream()] == list(range(uow.log.size()))  # no index twice, none missing
    database.dispose()


def _settled(url: str, expected: int) -> bool:
    """Every receipt sent and nothing left in any queue."""
    database = Database(url)
    try:
        with database.reader() as uow:
            depths = uow.queue.depths()
            sent = [m for m in uow.messages.recent(limit=expected + 10) if m.receipt_status == "sent"]
        return not depths and len(sent) == expected
    finally:
        database.dispose()
