"""Heartbeats: a running hub writes the health of its gateway, store, gpg and relay; the relay's back-off shows."""

from __future__ import annotations

import time

from gateway.capture import CaptureRelay
from tests.hub.rig import home_with_police, signed
from tests.support.hubrig import RunningHub


def _beats(db) -> dict[str, tuple[str, str]]:
    with db.reader() as uow:
        return {b.component: (b.state, b.detail) for b in uow.heartbeats.all()}


def _until(db, condition, seconds: float = 20.0) -> dict[str, tuple[str, str]]:
    """Poll the heartbeats until *condition* holds (bounded in time); return the last ones read."""
    deadline = time.monotonic() + seconds
    beats = _beats(db)
    while not condition(beats) and time.monotonic() < deadline:
        time.sleep(0.05)
        beats = _beats(db)
    return beats


def test_heartbeats_of_a_running_hub_and_the_relay_back_off(short_tmp):
    """Up: gateway listening, store round trip, gpg key listed, relay accepting. A deferral closes the relay
    gate: the relay beat says down with its back-off and last error. Stopping the hub: every beat says so."""
    home, key = home_with_police(short_tmp)
    home.settings.hub.heartbeat_seconds = 0.1
    home.settings.delivery.retry_schedule_seconds = [3600]
    db = home.db()
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        up = _until(db, lambda b: len(b) == 4 and b["store"][1].startswith("write round trip"))
        assert up["gateway"] == ("ok", f"listening 127.0.0.1:{hub.port}, 0/64 sessions")
        assert up["store"][0] == "ok" and up["store"][1].endswith(" ms")
        assert up["gpg"][0] == "ok" and up["gpg"][1].startswith("hub key listed in ")
        assert up["relay"] == ("ok", "accepting")
        relay.defer(1)
        code, _ = hub.send(signed(key))
        assert code == 250
        down = _until(db, lambda b: b["relay"][0] == "down")
        with db.reader() as uow:
            every = {b.component: b.every_seconds for b in uow.heartbeats.all()}
    stopped = _beats(db)
    db.dispose()
    state, detail = down["relay"]
    assert state == "down", down
    assert detail.startswith("back-off after 1 failure(s), next try in ") and "451" in detail
    assert set(every.values()) and min(every.values()) >= 0.1
    assert stopped == {c: ("down", "hub stopped") for c in ("gateway", "store", "gpg", "relay")}
