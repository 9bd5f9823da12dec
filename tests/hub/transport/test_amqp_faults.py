"""Faults with several `passerelle serve` processes on RabbitMQ: kill -9 a worker or a gateway, stop the broker
for 30 s, kill a node of a three-node cluster. Afterwards every message answered 250 has exactly one receipt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from gateway.capture import CaptureRelay
from tests.hub.rig import HUB, home_with_police, reference_in, use_amqp
from tests.support import mail
from tests.support.hubrig import send_accepted
from tests.support.rabbitmq import Broker, free_port

OUTAGE_SECONDS = float(os.environ.get("PASSERELLE_TEST_OUTAGE_SECONDS", "30"))


class Serve:
    """One `passerelle serve --role ROLE` process; its log in the home."""

    def __init__(self, home: Path, role: str, relay: str, *, port: int = 0) -> None:
        self.role = role
        self.port = port
        self.log = home / f"serve-{role}-{uuid.uuid4().hex[:6]}.log"
        env = {**os.environ, "PASSERELLE_DELIVERY__RETRY_SCHEDULE_SECONDS": "[0.5]",
               "PASSERELLE_TRANSPORT__RELAY_LEASE_SECONDS": "3"}
        args = [sys.executable, "-m", "hub", "serve", "--home", str(home), "--role", role, "--relay", relay]
        if port:
            args += ["--listen", f"127.0.0.1:{port}"]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, *, connected: bool = True, timeout: float = 30.0) -> "Serve":
        want = "transport: connected to the broker" if connected else "passerelle: "
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.role} exited:\n{self.text()[-3000:]}")
            if want in self.text():
                return self
            time.sleep(0.05)
        raise AssertionError(f"{self.role} not ready:\n{self.text()[-3000:]}")

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _send(port: int, raw: bytes, sender: str) -> str:
    return reference_in(send_accepted(port, raw, sender, HUB))


def _one_receipt_each(relay: CaptureRelay, accepted: list[str], timeout: float = 90.0, *,
                      in_flight: int = 0) -> None:
    """Every accepted message has its receipt. SMTP hands a mail over at least once: a process killed
    between the relay's 250 and the commit recording it leaves that mail to be sent again, so up to
    *in_flight* receipts (the killed process's sends in progress) may reach the relay twice — as the very
    same receipt (one Message-ID, identical bytes), which mail clients deduplicate. Anything else twice is a
    bug: a second receipt composed for one message would carry another Message-ID."""
    deadline = time.monotonic() + timeout
    missing = set(accepted)
    while missing and time.monotonic() < deadline:
        relay.wait_for(len(relay.messages) + 1, timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))
        missing = set(accepted) - {c.message["X-Passerelle-Reference"] for c in relay.messages}
    assert not missing, f"{len(missing)} accepted message(s) without a receipt"
    copies: dict[str, set[tuple[str, bytes]]] = {}
    for c in relay.messages:
        copies.setdefault(c.message["X-Passerelle-Reference"], set()).add((c.message["Message-ID"], c.data))
    assert all(len(v) == 1 for v in copies.values()), {r: len(v) for r, v in copies.items() if len(v) > 1}
    got = Counter(c.message["X-Passerelle-Reference"] for c in relay.messages)
    repeated = {r: n for r, n in got.items() if n > 1}
    assert len(repeated) <= in_flight and all(n == 2 for n in repeated.values()), repeated
    assert set(got) == set(accepted)


def _home(short_tmp, url: str):
    home, key = home_with_police(short_tmp)
    use_amqp(home.settings.home, url)
    return home, key


def test_kill_9_worker_mid_stream_one_receipt_each(short_tmp, rabbitmq, processes):
    """A gateway and two workers; one worker is killed -9 mid-stream: every 250 gets its one receipt (at most
    the victim's in-flight sends repeated, byte for byte)."""
    home, key = _home(short_tmp, rabbitmq.url)
    port = free_port()
    with CaptureRelay() as relay:
        processes.append(Serve(home.settings.home, "gateway", relay.address, port=port).wait_ready())
        victim = Serve(home.settings.home, "worker", relay.address).wait_ready()
        processes += [victim, Serve(home.settings.home, "worker", relay.address).wait_ready()]
        raws = [mail.signed_mail(key, body=uuid.uuid4().hex) for _ in range(40)]
        accepted: list[str] = []
        lock = threading.Lock()

        def client(chunk: list[bytes]) -> None:
            for raw in chunk:
                reference = _send(port, raw, key.email)
                with lock:
                    accepted.append(reference)

        threads = [threading.Thread(target=client, args=(raws[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        relay.wait_for(8, timeout=60)
        victim.kill9()
        for t in threads:
            t.join(120)
        assert len(accepted) == len(raws)
        # The victim's delivery workers may each have had a receipt handed over and not yet recorded.
        _one_receipt_each(relay, accepted, in_flight=home.settings.delivery.workers)


def test_kill_9_gateway_after_250_one_receipt_each(short_tmp, rabbitmq, processes):
    """A gateway killed -9 straight after its 250s: its outbox rows are relayed by another process."""
    home, key = _home(short_tmp, rabbitmq.url)
    port = free_port()
    with CaptureRelay() as relay:
        gateway = Serve(home.settings.home, "gateway", relay.address, port=port).wait_ready(connected=False)
        accepted = [_send(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email) for _ in range(5)]
        gateway.kill9()
        processes.append(Serve(home.settings.home, "worker", relay.address).wait_ready())
        _one_receipt_each(relay, accepted)


def test_broker_stopped_30s_intake_keeps_answering_then_drains(short_tmp, processes):
    """RabbitMQ stopped for 30 s during a stream: intake answers 250 throughout; after it returns, one receipt each."""
    with Broker() as broker:
        home, key = _home(short_tmp, broker.url)
        port = free_port()
        with CaptureRelay() as relay:
            processes.append(Serve(home.settings.home, "gateway", relay.address, port=port).wait_ready())
            processes.append(Serve(home.settings.home, "worker", relay.address).wait_ready())
            accepted = [_send(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email) for _ in range(5)]
            relay.wait_for(1, timeout=30)
            broker.nodes[0].stop()
            during = []
            until = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < until:
                t0 = time.monotonic()
                during.append(_send(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email))
                assert time.monotonic() - t0 < 5, "intake blocked by the broker outage"
                time.sleep(0.5)  # a steady stream, not synchronisation
            broker.nodes[0].start()
            accepted += during
            _one_receipt_each(relay, accepted, timeout=120)
        assert len(during) >= OUTAGE_SECONDS  # about two a second were accepted while the broker was down


def test_cluster_node_killed_during_stream_nothing_lost(short_tmp, processes):
    """A three-node cluster (quorum queues on every node); the node the processes use is killed -9 mid-stream."""
    with Broker(size=3) as broker:
        home, key = _home(short_tmp, broker.url)
        port = free_port()
        with CaptureRelay() as relay:
            processes.append(Serve(home.settings.home, "gateway", relay.address, port=port).wait_ready())
            processes.append(Serve(home.settings.home, "worker", relay.address).wait_ready())
            accepted = []
            for i in range(30):
                if i == 10:
                    broker.nodes[0].kill()
                accepted.append(_send(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email))
            _one_receipt_each(relay, accepted, timeout=120)
