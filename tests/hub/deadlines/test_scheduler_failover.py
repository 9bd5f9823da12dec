"""Exactly one active scheduler among `serve --role scheduler` processes; when it is killed -9, another
takes over within seconds (leadership in the store: an flock on SQLite, an advisory lock on PostgreSQL)."""

from __future__ import annotations

import time

from gateway.capture import CaptureRelay
from tests.hub.rig import home_with_police
from tests.hub.transport.test_amqp_faults import Serve

ACQUIRED = "leader scheduler: acquired"


def _wait_for(process: Serve, text: str, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if text in process.text():
            return time.monotonic() - start
        assert process.process.poll() is None, process.text()[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"{process.role}: no {text!r} within {seconds} s:\n{process.text()[-3000:]}")


def test_killing_the_active_scheduler_hands_over_within_seconds(short_tmp):
    home, _key = home_with_police(short_tmp)
    with CaptureRelay() as relay:
        first = Serve(home.settings.home, "scheduler", relay.address).wait_ready(connected=False)
        second = None
        try:
            _wait_for(first, ACQUIRED, 30)
            second = Serve(home.settings.home, "scheduler", relay.address).wait_ready(connected=False)
            time.sleep(5)  # two retry periods: the second must stay a follower while the first lives
            assert ACQUIRED not in second.text()
            first.kill9()
            took = _wait_for(second, ACQUIRED, 20)
            assert took < 10, took
        finally:
            for process in (first, second):
                if process is not None:
                    process.stop()
