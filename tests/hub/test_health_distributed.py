"""Heartbeats of a distributed deployment: every `serve --role` process beats for the components it runs,
under its own name; the dashboard shows each; a process killed -9 goes stale while the others stay fresh;
one stopped cleanly takes its rows away; a second scheduler stands by."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from gateway.capture import CaptureRelay
from tests.hub.rig import home_with_police, use_amqp
from tests.hub.transport.test_amqp_faults import Serve
from tests.support.rabbitmq import free_port
from tui.queries import heartbeats
from tui.widgets.health import judge

EVERY = 0.3  # seconds between beats (a beat older than 3 of them is stale)


def _rows(db) -> dict[tuple[str, str], tuple[str, str, datetime]]:
    with db.reader() as uow:
        return {(b.process, b.component): (b.state, b.detail, b.beat_at) for b in uow.heartbeats.all()}


def _until(db, condition, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    rows = _rows(db)
    while not condition(rows):
        assert time.monotonic() < deadline, f"not within {seconds} s: {sorted(rows)}"
        time.sleep(0.1)
        rows = _rows(db)
    return rows


def _by_process(rows) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for process, component in rows:
        out.setdefault(process, set()).add(component)
    return out


def test_each_process_beats_and_a_killed_one_goes_stale(short_tmp, rabbitmq, processes, monkeypatch):
    home, _key = home_with_police(short_tmp)
    use_amqp(home.settings.home, rabbitmq.url)
    monkeypatch.setenv("PASSERELLE_HUB__HEARTBEAT_SECONDS", str(EVERY))
    db = home.db()
    with CaptureRelay() as relay:
        gateway = Serve(home.settings.home, "gateway", relay.address, port=free_port()).wait_ready()
        worker = Serve(home.settings.home, "worker", relay.address).wait_ready()
        scheduler = Serve(home.settings.home, "scheduler", relay.address).wait_ready(connected=False)
        processes += [gateway, worker, scheduler]
        pids = {"gateway": gateway.process.pid, "worker": worker.process.pid, "scheduler": scheduler.process.pid}

        def everyone(rows) -> bool:
            seen = _by_process(rows)
            return len(seen) == 3 and any(rows.get((p, "scheduler"), ("",))[0] == "ok"
                                          and "leading" == rows[(p, "scheduler")][1] for p in seen)

        rows = _until(db, everyone)
        seen = _by_process(rows)
        name = {role: next(p for p in seen if p.startswith(f"{role}@") and p.endswith(f":{pid}"))
                for role, pid in pids.items()}
        assert seen[name["gateway"]] == {"gateway", "store", "gpg", "keys"}  # keys: the certificate it presents
        assert seen[name["worker"]] == {"store", "gpg", "relay"}
        assert seen[name["scheduler"]] == {"store", "gpg", "scheduler", "keys"}  # keys: those expiring soon
        assert rows[(name["worker"], "relay")][:2] == ("ok", "accepting")

        # A second scheduler stands by while the first one leads.
        standby = Serve(home.settings.home, "scheduler", relay.address).wait_ready(connected=False)
        processes.append(standby)
        rows = _until(db, lambda rows: any(p.endswith(f":{standby.process.pid}") for p, _ in rows))
        name["standby"] = next(p for p, _ in rows if p.endswith(f":{standby.process.pid}"))
        assert rows[(name["standby"], "scheduler")][:2] == ("standby", "standing by, another leads")

        # The dashboard: the well processes of a component on one line, with their names.
        lines = judge(heartbeats(db), datetime.now(timezone.utc))
        everyone_by_name = ", ".join(sorted(name.values()))
        assert [(s.state, s.detail) for s in lines if s.component == "store"] == [("OK ×4", everyone_by_name)]
        assert [(s.state, s.detail) for s in lines if s.component == "scheduler"] == \
            [("OK", f"{name['scheduler']}: leading"), ("STANDBY", f"{name['standby']}: standing by, another leads")]
        assert not [s for s in lines if s.component == "process"]

        worker.kill9()

        def stale_and_fresh():
            rows = _rows(db)
            now = datetime.now(timezone.utc)
            fresh = {p for (p, _), (_, _, at) in rows.items() if (now - at).total_seconds() <= 3 * EVERY}
            if fresh != {name["gateway"], name["scheduler"], name["standby"]}:
                return None
            lines = judge(heartbeats(db), now)
            return lines if [s.component for s in lines].count("process") == 1 else None

        deadline = time.monotonic() + 20
        while (lines := stale_and_fresh()) is None:
            assert time.monotonic() < deadline, (_rows(db), judge(heartbeats(db), datetime.now(timezone.utc)))
            time.sleep(0.1)
        assert set(_by_process(_rows(db))[name["worker"]]) == {"store", "gpg", "relay"}  # stale, not gone
        # One line for the killed worker; the others still OK; the relay has no live worker any more.
        assert [(s.component, s.state, s.detail) for s in lines if s.state == "NO HEARTBEAT"] == [
            ("process", "NO HEARTBEAT", f"{name['worker']}: store, gpg, relay"),
            ("relay", "NO HEARTBEAT", f"{name['worker']}: last said: ok, accepting")]
        assert [(s.state, s.detail) for s in lines if s.component == "store"] == \
            [("OK ×3", ", ".join(sorted((name["gateway"], name["scheduler"], name["standby"]))))]

        gateway.stop()  # a clean stop: its rows go, the dashboard no longer lists it
        rows = _rows(db)
        assert not any(p == name["gateway"] for p, _ in rows)
        assert [s.state for s in judge(heartbeats(db), datetime.now(timezone.utc)) if s.component == "gateway"] \
            == ["NO HEARTBEAT"]
    db.dispose()

