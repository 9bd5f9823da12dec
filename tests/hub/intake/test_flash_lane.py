"""FLASH waits for no intake batch: an intake worker is kept for FLASH messages while the others are busy."""

from __future__ import annotations

import threading
import uuid

from gateway.capture import CaptureRelay
from hub.app import INTAKE_WORKERS
from hub.intake.pipeline import ReceiptStage
from tests.hub.rig import home_with_police, reference_in
from tests.support import mail
from tests.support.hubrig import RunningHub


def test_a_flash_message_gets_its_receipt_while_every_intake_worker_is_busy(short_tmp, monkeypatch):
    """Each intake worker is held in a ROUTINE message's receipt stage (a slow backlog); a FLASH message accepted
    then has its receipt at the relay before any of them, while they are still held; then they all go out."""
    home, key = home_with_police(short_tmp)
    held, go = threading.Semaphore(0), threading.Event()
    original = ReceiptStage.process

    def slow(self, ctx):
        if ctx.urgency == "ROUTINE":
            held.release()
            go.wait(60)
        return original(self, ctx)

    monkeypatch.setattr(ReceiptStage, "process", slow)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        try:
            for _ in range(INTAKE_WORKERS):  # one at a time: each one is taken by a worker of its own
                assert hub.send(mail.signed_mail(key, body=uuid.uuid4().hex))[0] == 250
                assert held.acquire(timeout=30)
            code, text = hub.send(mail.signed_mail(key, body=uuid.uuid4().hex, keyword_lines={"Urgency": "FLASH"}))
            assert code == 250, text
            first = relay.wait_for(1, timeout=20)
            references = [c.message["X-Passerelle-Reference"] for c in first]
            assert references == [reference_in(text)]
        finally:
            go.set()
        everything = relay.wait_for(INTAKE_WORKERS + 1, timeout=60)
    assert len(everything) == INTAKE_WORKERS + 1  # the ROUTINE messages' receipts went out after it
