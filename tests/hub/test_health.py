"""Heartbeats: a running hub writes the health of its gateway, store, gpg, relay and scheduler; the relay's
back-off shows; each process beats under its own name, prunes the long gone and leaves cleanly."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from gateway.capture import CaptureRelay
from hub.clock import FrozenClock, SystemClock
from hub.health import Heartbeats, process_name
from store import LeaderLock
from tests.hub.rig import home_with_police, signed
from tests.support.hubrig import RunningHub
from tests.support.waiting import until

ALL = ("gateway", "store", "gpg", "relay", "scheduler", "keys")


def _rows(db) -> dict[tuple[str, str], tuple[str, str]]:
    with db.reader() as uow:
        return {(b.process, b.component): (b.state, b.detail) for b in uow.heartbeats.all()}


def _of(db, process: str) -> dict[str, tuple[str, str]]:
    """One process's beats by component."""
    return {component: said for (p, component), said in _rows(db).items() if p == process}


def test_heartbeats_of_a_running_hub_and_the_relay_back_off(short_tmp):
    """Up: gateway listening, store round trip, gpg key listed, relay accepting, scheduler leading. The
    embedded hub is the only process on its store: the rows an earlier run left (killed, or from before the
    per-process key) are gone, and when it stops every beat says so. (With a broker, PASSERELLE_TEST_TRANSPORT
    =amqp, it is one process among possibly several: it leaves the others' rows and takes its own away.) A
    deferral closes the relay gate: the relay beat says down with its back-off and last error."""
    home, key = home_with_police(short_tmp)
    home.settings.hub.heartbeat_seconds = 0.1
    home.settings.delivery.retry_schedule_seconds = [3600]
    db = home.db()
    earlier = SystemClock().now() - timedelta(minutes=5)
    left = {(p, c) for p in ("all@old-host:4242", "all") for c in ("gateway", "store", "gpg", "relay")}
    with db.unit_of_work() as uow:  # an embedded hub killed earlier, and rows migrated from 0007
        for process, component in left:
            uow.heartbeats.beat(component, process=process, state="ok", detail="before", at=earlier, every_seconds=5.0)
        uow.commit()
    me = f"all@{socket.gethostname()}:{os.getpid()}"  # the background hub runs in this process
    embedded = not home.settings.transport.enabled
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address) as hub:
        up = until(lambda: _of(db, me), lambda b: set(b) == set(ALL) and b["scheduler"] == ("ok", "leading")
                    and b["store"][1].startswith("write round trip"))
        assert set(_rows(db)) == {(me, c) for c in ALL} | (set() if embedded else left)
        assert up["gateway"] == ("ok", f"listening 127.0.0.1:{hub.port}, 0/64 sessions")
        assert up["store"][0] == "ok" and up["store"][1].endswith(" ms")
        assert up["gpg"][0] == "ok" and up["gpg"][1].startswith("hub key listed in ")
        assert up["relay"] == ("ok", "accepting")
        assert up["scheduler"] == ("ok", "leading")
        relay.defer(1)
        code, _ = hub.send(signed(key))
        assert code == 250
        down = until(lambda: _of(db, me), lambda b: b["relay"][0] == "down")
        with db.reader() as uow:
            every = {b.component: b.every_seconds for b in uow.heartbeats.all() if b.process == me}
    stopped = _rows(db)
    db.dispose()
    state, detail = down["relay"]
    assert state == "down", down
    assert detail.startswith("back-off after 1 failure(s), next try in ") and "451" in detail
    assert set(every.values()) and min(every.values()) >= 0.1
    if embedded:
        assert stopped == {(me, c): ("down", "hub stopped") for c in ALL}
    else:
        assert set(stopped) == left


def test_one_process_among_several_prunes_the_long_gone_and_takes_its_rows_away(short_tmp):
    """A scheduler process of a distributed deployment: store, gpg and scheduler under its own name,
    "standby" while another holds the leadership and "leading" once it has it; a row nobody rewrote for
    longer than the retention is pruned, a younger stale one stays (it shows as NO HEARTBEAT); stopping
    cleanly removes its own rows only."""
    home, _key = home_with_police(short_tmp)
    db = home.db()
    clock = FrozenClock(SystemClock().now())
    with db.unit_of_work() as uow:
        for process, ago in (("worker@gone:1", timedelta(days=1, seconds=1)), ("worker@dead:2", timedelta(hours=23))):
            uow.heartbeats.beat("relay", process=process, state="ok", detail="accepting", at=clock.now() - ago,
                                every_seconds=5.0)
        uow.commit()
    other, mine = LeaderLock(db, "scheduler"), LeaderLock(db, "scheduler")
    assert other.try_acquire() and not mine.try_acquire()
    name = process_name("scheduler")
    heartbeats = Heartbeats(db=db, clock=clock, gpg=home.gpg, hub_fingerprint=home.fingerprint, every_seconds=5.0,
                            process=name, leading=lambda: mine.held, retention=timedelta(days=1), sole=False)
    try:
        heartbeats.beat(None)
        rows = _rows(db)
        assert set(rows) == {(name, "store"), (name, "gpg"), (name, "scheduler"), ("worker@dead:2", "relay")}
        assert rows[(name, "scheduler")] == ("standby", "standing by, another leads")
        assert rows[(name, "store")] == ("ok", "first beat") and rows[(name, "gpg")][0] == "ok"
        other.release()
        assert mine.try_acquire()
        clock.advance(timedelta(seconds=5))
        heartbeats.beat(None)
        assert _rows(db)[(name, "scheduler")] == ("ok", "leading")
        heartbeats.stopped()
        assert set(_rows(db)) == {("worker@dead:2", "relay")}
    finally:
        mine.release()
        other.release()
        db.dispose()


def test_a_process_name_is_role_host_and_pid_whatever_the_host_name():
    assert process_name("worker", "mail-1", 4242) == "worker@mail-1:4242"
    long = process_name("scheduler", "h" * 100, 4194304)
    assert len(long) == 80 and long.startswith("scheduler@hhh") and long.endswith("h:4194304")
