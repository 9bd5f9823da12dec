"""A real `passerelle serve` process: kill -9 right after a 250 loses nothing; SIGTERM stops cleanly."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gateway.capture import CaptureRelay
from hub.settings import load
from tests.hub.rig import HUB, home_with_police, reference_in, use_embedded
from tests.support import mail, stores
from tests.support.hubrig import free_port, send_accepted, serve_process


def _serve(home, port: int, relay: str) -> subprocess.Popen:
    return serve_process(home.settings.home, port, relay)


def _send(port: int, raw: bytes, sender: str) -> str:
    return send_accepted(port, raw, sender, HUB)


def test_kill_9_after_250_then_restart_delivers_one_receipt(short_tmp):
    """kill -9 straight after the 250: on restart the message is there and gets exactly one receipt."""
    home, key = home_with_police(short_tmp)
    port, relay_port = free_port(), free_port()
    relay_address = f"127.0.0.1:{relay_port}"  # nothing listens yet: the receipt cannot leave before the kill
    process = _serve(home, port, relay_address)
    references = []
    try:
        for _ in range(3):
            references.append(reference_in(_send(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email)))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    with CaptureRelay(port=relay_port) as relay:
        process = _serve(home, port, relay_address)
        try:
            relay.wait_for(3, timeout=30)
            time.sleep(1.5)  # long enough for any duplicate to show up
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0].decode()
        assert process.returncode == 0, output
    got = sorted(c.message["X-Passerelle-Reference"] for c in relay.messages)
    assert got == sorted(references)
    assert "stopped" in output


def test_sigterm_while_clients_send_loses_nothing_accepted(short_tmp):
    """SIGTERM during a stream: every 250 given has its message stored and its receipt after restart."""
    home, key = home_with_police(short_tmp)
    port = free_port()
    with CaptureRelay() as relay:
        process = _serve(home, port, relay.address)
        accepted = []
        messages = [mail.signed_mail(key, body=uuid.uuid4().hex) for _ in range(6)]
        for i, raw in enumerate(messages):
            if i == 3:
                process.send_signal(signal.SIGTERM)
            try:
                accepted.append(reference_in(_send(port, raw, key.email)))
            except (OSError, smtplib.SMTPException, AssertionError):
                break
        assert process.wait(30) == 0
        process = _serve(home, port, relay.address)
        try:
            relay.wait_for(len(accepted), timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    got = {c.message["X-Passerelle-Reference"] for c in relay.messages}
    assert set(accepted) <= got and len(relay.messages) == len(got)


LOCK_SESSION = "passerelle leader embedded-hub"  # application_name of the lock's own connection (store.leader)


def _kill_the_lock_session_and_wait_until_taken_back(url: str, seconds: float = 20.0) -> None:
    engine = create_engine(url, poolclass=NullPool)
    holders = text("SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
                   "'advisory' AND l.granted AND a.application_name = :name AND a.datname = current_database()")
    try:
        # Autocommit: pg_stat_activity is a snapshot taken once per transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            before = c.execute(holders, {"name": LOCK_SESSION}).scalars().all()
            assert len(before) == 1, before
            assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before[0]}).scalar()
            deadline = time.monotonic() + seconds
            while (now := c.execute(holders, {"name": LOCK_SESSION}).scalars().all()) in ([], before):
                assert time.monotonic() < deadline, "the embedded hub did not take its lock back"
                time.sleep(0.2)
            assert len(now) == 1
    finally:
        engine.dispose()


def test_a_second_embedded_hub_on_the_same_store_refuses_to_start(short_tmp):
    """Two embedded hubs on one store would take back each other's work in hand at start-up: the second
    one refuses, says why in one line, and the first one goes on accepting mail. On PostgreSQL the lock
    lives as long as one session: killed (as a database restart would), it is taken back within seconds
    and a second hub is still refused."""
    home, key = home_with_police(short_tmp)
    use_embedded(home.settings.home)  # whatever PASSERELLE_TEST_TRANSPORT says: the guard is the embedded hub's
    assert not load(home.settings.home).transport.enabled
    port, relay_port = free_port(), free_port()
    first = _serve(home, port, f"127.0.0.1:{relay_port}")

    def refused() -> None:
        second = subprocess.run(
            [sys.executable, "-m", "hub", "serve", "--home", str(home.settings.home), "--listen",
             f"127.0.0.1:{free_port()}", "--relay", f"127.0.0.1:{relay_port}"],
            capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        said = [line for line in second.stderr.splitlines() if line and " INFO " not in line]  # the log aside
        assert len(said) == 1, second.stderr
        assert said[0].startswith("passerelle: another embedded hub is already serving this store")
        assert "[transport] url" in said[0]

    try:
        refused()
        assert reference_in(_send(port, mail.signed_mail(key, body=uuid.uuid4().hex), key.email))
        if stores.on_postgres():
            _kill_the_lock_session_and_wait_until_taken_back(home.settings.database_url)
            refused()
    finally:
        first.send_signal(signal.SIGTERM)
        output = first.communicate(timeout=30)[0].decode()
    assert first.returncode == 0, output
    # Once the first has stopped, a hub starts again on the store.
    again = _serve(home, port, f"127.0.0.1:{relay_port}")
    again.send_signal(signal.SIGTERM)
    again.communicate(timeout=30)
    assert again.returncode == 0
