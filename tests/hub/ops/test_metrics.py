"""The Prometheus endpoint of a real `passerelle serve`, scraped over HTTP after real SMTP traffic: verdicts by
reason, receipts and their latency, signature paths, the store's gauges from the one process leading the
scheduler; the sample alerting rules name metrics a scrape has."""

from __future__ import annotations

import re
import shutil
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.capture import CaptureRelay
from tests.hub.ops.serving import Served, until, value
from tests.hub.rig import HUB, home_with_police, partner, reference_in, signed, use_amqp
from tests.support import mail
from tests.support.hubrig import client_tls

RULES = Path(__file__).resolve().parents[3] / "docs" / "prometheus" / "passerelle-rules.yml"


def _send(port: int, raw: bytes, sender: str, rcpt: str = HUB) -> tuple[int, str]:
    """One STARTTLS transaction; the reply to DATA, or to the RCPT that was refused."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=client_tls())
        client.ehlo()
        client.mail(sender)
        code, text = client.rcpt(rcpt)
        if code >= 400:
            return code, text.decode()
        try:
            code, text = client.data(raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode()
        return code, text.decode()


def test_scrape_after_smtp_traffic(short_tmp):
    """Two messages accepted (one a FLASH request whose 1-second window runs out), one unsigned, one from an
    unknown key, one to an unknown address: the scrape counts each verdict by reason, both receipts and their
    latency, who checked each signature, and the store's open and overdue deadlines and empty queues."""
    home, police = home_with_police(short_tmp)
    stranger = partner(short_tmp, "stranger")
    with CaptureRelay() as relay:
        # An agreed deviation (the only way a window differs from the law's: hub/deadlines/windows.py).
        served = Served(home.settings.home, relay.address, PASSERELLE_DEADLINES__DEVIATION_WINDOWS='{"FLASH": "PT1S"}',
                        PASSERELLE_DEADLINES__DEVIATION_BASIS="test: a FLASH window of one second",
                        PASSERELLE_METRICS__STORE_EVERY_SECONDS="0.1").wait_ready()
        try:
            first = _send(served.port, signed(police), police.email)
            request = _send(served.port, signed(police, keyword_lines={"Urgency": "FLASH", "Message-Kind": "request"}),
                            police.email)
            assert first[0] == request[0] == 250 and reference_in(request[1])
            assert _send(served.port, mail.unsigned_mail(sender=police.email), police.email)[0] == 550
            assert _send(served.port, signed(stranger), stranger.email)[0] == 550
            assert _send(served.port, signed(police), police.email, rcpt="someone@ocam.test")[0] == 550
            relay.wait_for(2)
            samples = until(served.scrape, lambda s: value(s, "passerelle_receipt_latency_seconds_count") == 2
                            and value(s, "passerelle_deadlines_overdue", owed_by="ocam", urgency="FLASH") == 1
                            and value(s, "passerelle_queue_depth", stage="outbound", urgency="FLASH") == 0)
        finally:
            served.stop()
    assert value(samples, "passerelle_intake_accepted_total", reply="accepted") == 2
    assert value(samples, "passerelle_intake_refused_total", reason="unsigned", code="550") == 1
    assert value(samples, "passerelle_intake_refused_total", reason="unknown_signer", code="550") == 1
    assert value(samples, "passerelle_intake_refused_total", reason="no_such_recipient", code="550") == 1
    assert value(samples, "passerelle_deliveries_total", purpose="receipt", outcome="sent") == 2
    assert value(samples, "passerelle_receipt_latency_seconds_count") == 2
    assert 0 < value(samples, "passerelle_receipt_latency_seconds_sum") < 60
    assert value(samples, "passerelle_receipt_latency_seconds_bucket", le="+Inf") == 2
    # The two good signatures were checked in process; the unknown key's went to gpg, which refused it.
    assert value(samples, "passerelle_signature_verifications_total", path="in_process") == 2
    assert value(samples, "passerelle_signature_verifications_total", path="gpg") == 1
    assert value(samples, "passerelle_deadlines_open", owed_by="ocam", urgency="FLASH") == 1
    assert value(samples, "passerelle_deadlines_open", owed_by="ocam", urgency="ROUTINE") == 0
    assert value(samples, "passerelle_deadlines_overdue", owed_by="ocam", urgency="FLASH") == 1
    for stage in ("intake", "outbound"):
        for urgency in ("FLASH", "URGENT", "ROUTINE", "NON-URGENT"):
            assert value(samples, "passerelle_queue_depth", stage=stage, urgency=urgency) == 0
        assert value(samples, "passerelle_queue_oldest_seconds", stage=stage) == 0
    assert value(samples, "passerelle_requests_held") == 0
    assert value(samples, "passerelle_deliveries_failed") == 0
    assert value(samples, "passerelle_scheduler_leading") == 1
    assert value(samples, "passerelle_relay_failures") == 0
    assert value(samples, "passerelle_store_readable") == 1
    assert 0 <= value(samples, "passerelle_audit_newest_event_age_seconds") < 60
    assert 0 <= value(samples, "passerelle_audit_checkpoint_age_seconds") < 60  # the receipts' checkpoints at least
    assert value(samples, "passerelle_audit_unsigned_events") >= 0
    # The rules' metric names are in this scrape (a histogram or counter by its sample names).
    names = {name for name, _ in samples}
    rules = yaml.safe_load(RULES.read_text())
    used = {m for group in rules["groups"] for rule in group["rules"]
            for m in re.findall(r"passerelle_[a-z_]+", rule["expr"])}
    assert used and used <= names, used - names


def test_stuck_outbound_queue_shows(short_tmp):
    """The relay does not answer: the receipt waits in the outbound queue, the relay's failures and the oldest
    item's wait grow, a retry is counted — what the sample rule for a stuck outbound queue watches."""
    home, police = home_with_police(short_tmp)
    with CaptureRelay() as relay:
        dead = relay.address
    served = Served(home.settings.home, dead, PASSERELLE_METRICS__STORE_EVERY_SECONDS="0.1",
                    PASSERELLE_DELIVERY__RETRY_SCHEDULE_SECONDS="[3600]").wait_ready()
    try:
        assert _send(served.port, signed(police), police.email)[0] == 250
        samples = until(served.scrape, lambda s: (value(s, "passerelle_queue_oldest_seconds", stage="outbound") or 0)
                        >= 1 and value(s, "passerelle_relay_failures") == 1)
    finally:
        served.stop()
    assert value(samples, "passerelle_queue_depth", stage="outbound", urgency="ROUTINE") == 1
    assert value(samples, "passerelle_deliveries_total", purpose="receipt", outcome="deferred") == 1
    assert value(samples, "passerelle_relay_failures") == 1
    assert value(samples, "passerelle_queue_oldest_seconds", stage="outbound") >= 1
    assert value(samples, "passerelle_receipt_latency_seconds_count") == 0


def test_distributed_processes_each_count_their_own(short_tmp, rabbitmq):
    """A gateway, a worker and a scheduler on one store and broker: the gateway counts the 250, the worker the
    receipt and its latency, and only the process leading the scheduler exports the store's gauges."""
    home, police = home_with_police(short_tmp)
    use_amqp(home.settings.home, rabbitmq.url)
    with CaptureRelay() as relay:
        processes = [Served(home.settings.home, relay.address, role="gateway"),
                     Served(home.settings.home, relay.address, role="worker", smtp=False),
                     Served(home.settings.home, relay.address, role="scheduler", smtp=False,
                            PASSERELLE_METRICS__STORE_EVERY_SECONDS="0.1")]
        try:
            gateway, worker, scheduler = (p.wait_ready() for p in processes)
            assert _send(gateway.port, signed(police), police.email)[0] == 250
            relay.wait_for(1)
            at_worker = until(worker.scrape, lambda s: value(s, "passerelle_receipt_latency_seconds_count") == 1)
            at_gateway, at_scheduler = gateway.scrape(), until(
                scheduler.scrape, lambda s: value(s, "passerelle_scheduler_leading") == 1)
        finally:
            for p in processes:
                p.stop()
    assert value(at_gateway, "passerelle_intake_accepted_total", reply="accepted") == 1
    assert value(at_gateway, "passerelle_smtp_sessions") is not None
    assert value(at_worker, "passerelle_deliveries_total", purpose="receipt", outcome="sent") == 1
    assert value(at_worker, "passerelle_intake_accepted_total", reply="accepted") is None
    store_gauge = ("passerelle_queue_depth", {"stage": "intake", "urgency": "ROUTINE"})
    assert value(at_gateway, store_gauge[0], **store_gauge[1]) is None
    assert value(at_worker, store_gauge[0], **store_gauge[1]) is None
    assert value(at_scheduler, store_gauge[0], **store_gauge[1]) == 0
    assert value(at_scheduler, "passerelle_deadlines_open", owed_by="ocam", urgency="ROUTINE") == 0


def test_a_metrics_port_in_use_stops_serve_with_the_reason(short_tmp):
    """Two processes on one metrics port: the second says which port, and how to give it another."""
    home, _ = home_with_police(short_tmp)
    with CaptureRelay() as relay:
        first = Served(home.settings.home, relay.address).wait_ready()
        try:
            second = subprocess.run(
                [sys.executable, "-m", "hub", "serve", "--home", str(home.settings.home), "--role", "scheduler", "--relay",
                 relay.address, "--metrics-listen", f"127.0.0.1:{first.metrics_port}"],
                capture_output=True, text=True, timeout=60)
        finally:
            first.stop()
    assert second.returncode == 2
    assert f"passerelle: metrics: cannot listen on 127.0.0.1:{first.metrics_port}" in second.stderr
    assert "--metrics-listen" in second.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_rules_pass_promtool():
    """Prometheus's own checker reads the sample rules, and its rule tests (docs/prometheus/passerelle-rules.test.yml)
    see the FLASH and stuck-queue alerts fire when they should, across a change of the leading process."""
    for command in (["check", "rules", RULES.name], ["test", "rules", "passerelle-rules.test.yml"]):
        result = subprocess.run(["promtool", *command], capture_output=True, text=True, timeout=60, cwd=RULES.parent)
        assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_the_checkpoint_gauges_count_the_events_no_signed_tree_holds_yet(tmp_path):
    """Six events under a checkpoint, four after it: four unsigned, and the checkpoint's age by the given clock."""
    from datetime import timedelta

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from crypto.tlog import Signer
    from hub import audit
    from hub.audit.checkpoints import Checkpointer
    from hub.clock import FrozenClock, SystemClock
    from hub.ops.gauges import read
    from store import Database, upgrade
    from tests.support import stores

    database = Database(stores.fresh_url(tmp_path, "gauges.db"))
    if not stores.on_postgres():
        upgrade(database.engine)
    clock = SystemClock()
    origin = "ocam.test/passerelle/audit"
    before = read(database, clock.now())
    assert before.checkpoint_age is None and before.unsigned_events == 0

    def append(count: int) -> None:
        with database.unit_of_work() as uow:
            for i in range(count):
                audit.record(uow, clock, "test.appended", i=i)
            uow.commit()

    append(6)
    issued_at = clock.now()
    Checkpointer(database, FrozenClock(issued_at), origin, Signer(origin, ed25519.Ed25519PrivateKey.generate())
                 ).issue("periodic")
    append(4)
    state = read(database, issued_at + timedelta(seconds=90))
    database.dispose()
    assert state.unsigned_events == 4 and 89.9 <= state.checkpoint_age <= 90.1
