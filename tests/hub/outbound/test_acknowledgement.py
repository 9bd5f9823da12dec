"""Who starts the partner's clock (AR Art. 11 §2): the partner's side — its signed MDN or a success DSN from its
server, whichever comes first — never OCAM's own relay, unless the relay is the partner's own server."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone


from gateway.capture import CaptureRelay
from hub.clock import FrozenClock
from tests.hub.deadlines.test_scheduler import _hub_parts
from tests.hub.outbound.test_requests import _mdn
from tests.hub.rig import cli, home_with_police, reference_in
from tests.support.hubrig import RunningHub
from tests.support.stores import on_postgres

# The hub's frozen clock runs a day ahead of the real time (see tests/hub/deadlines/test_scheduler.py).
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)



def _send(home, tmp, urgency="URGENT"):
    body = tmp / f"{uuid.uuid4().hex}.txt"
    body.write_text("Question")
    result = cli(home, "send", "request", "--to", "police-fed", "--urgency", urgency, "--subject", "Q",
                  "--body", str(body))
    assert result.exit_code == 0, result.output
    return reference_in(result.output)


def _shown(home, reference) -> dict:
    return json.loads(cli(home, "messages", "show", reference, "--json").output)


def _until(predicate, relay, seconds=10.0):
    """Wait for what the hub does after the relay's 250 (bounded)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        relay.wait_for(10_000, timeout=0.05)
    return predicate()


def test_the_relay_alone_starts_no_clock_and_an_unacknowledged_request_alerts(short_tmp):
    """The relay took it (250) and asked for DSNs; nobody acknowledged: no clock, "not acknowledged" in
    `messages show` and the report, and an alert once deadlines.acknowledgement_alert_after has passed."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        reference = _send(home, short_tmp)
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
        assert _until(lambda: _shown(home, reference)["state"] == "sent", relay)
    assert out.option("NOTIFY") == "SUCCESS,FAILURE" and out.option("RET") == "HDRS"
    shown = _shown(home, reference)
    assert shown["deadline"] is None and shown["due_at"] is None
    assert shown["acknowledgement"]["state"] == "not acknowledged" and shown["acknowledgement"]["dsn"] == "requested"
    human = cli(home, "messages", "show", reference).output
    assert "not started: not acknowledged by police-fed's side" in human and "a DSN was requested" in human
    report = json.loads(cli(home, "report", "deadlines", "--format", "json").output)
    assert [(r["partner"], r["direction"], r["requests"], r["not_acknowledged"]) for r in report] == [
        ("police-fed", "from OCAM", 0, 1)]
    db, scheduler = _hub_parts(home, clock)
    assert scheduler.next_wake() == T0 + timedelta(hours=1)
    clock.set(T0 + timedelta(minutes=59))
    scheduler.tick()
    assert "alert.request_unacknowledged" not in [e["action"] for e in _shown(home, reference)["audit"]]
    clock.set(T0 + timedelta(hours=1))
    scheduler.tick()
    scheduler.tick()
    db.dispose()
    alerts = [e for e in _shown(home, reference)["audit"] if e["action"] == "alert.request_unacknowledged"]
    assert len(alerts) == 1 and alerts[0]["detail"]["dsn"] == "requested"
    assert "AR Art. 11 §2" in alerts[0]["detail"]["why"]
    listed = cli(home, "duty", "alerts", "--json").output
    assert "alert.request_unacknowledged" in listed


def test_a_success_dsn_with_the_envid_starts_the_clock_and_a_forged_one_does_not(short_tmp):
    """A DSN is unsigned: one that does not quote the copy's ENVID (only the mail path saw it) starts nothing;
    the destination's own success report starts the clock at its arrival, and a later MDN is only recorded."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        reference = _send(home, short_tmp)
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
        genuine = out.success_dsn()
        forged = genuine.replace(out.option("ENVID").encode(), f"{reference}.{'0' * 32}".encode())
        clock.advance(timedelta(minutes=5))
        code, text = hub.send(forged, mail_from="")
        assert code == 250 and reference in text, text  # recorded, as every report about a hub copy
        assert _shown(home, reference)["deadline"] is None
        clock.advance(timedelta(minutes=5))
        code, text = hub.send(genuine, mail_from="")
        assert code == 250, text
        clock.advance(timedelta(minutes=5))
        assert hub.send(_mdn(key, out.message["Message-ID"]))[0] == 250
        assert _until(lambda: len([e for e in _shown(home, reference)["audit"]
                                   if e["action"] == "request.acknowledged"]) == 2, relay)
    shown = _shown(home, reference)
    assert "request.dsn_unmatched" in [e["action"] for e in shown["audit"]]
    deadline = shown["deadline"]
    assert deadline["started_by"] == "dsn" and datetime.fromisoformat(deadline["started_at"]) == T0 + timedelta(minutes=10)
    assert datetime.fromisoformat(deadline["due_at"]) - datetime.fromisoformat(deadline["started_at"]) \
        >= timedelta(days=3) - timedelta(hours=1)
    assert [e["detail"]["source"] for e in shown["audit"] if e["action"] == "request.acknowledged"] == ["dsn", "mdn"]
    assert "by a success DSN from the destination" in cli(home, "messages", "show", reference).output
    (row,) = json.loads(cli(home, "report", "deadlines", "--format", "json").output)
    assert (row["direction"], row["started_by"], row["not_acknowledged"]) == ("from OCAM", {"dsn": 1}, 0)
    assert "clocks started by dsn 1" in cli(home, "report", "deadlines").output


def test_the_partners_mdn_starts_the_clock_when_it_comes_first(short_tmp):
    """The partner's signed MDN before any DSN: its arrival starts the clock (AR Art. 11 §2, "accusé de
    réception"); no unacknowledged alert follows."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        reference = _send(home, short_tmp, urgency="FLASH")
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
        clock.advance(timedelta(minutes=20))
        assert hub.send(_mdn(key, out.message["Message-ID"]))[0] == 250
        assert _until(lambda: _shown(home, reference)["deadline"] is not None, relay)
    deadline = _shown(home, reference)["deadline"]
    assert deadline["started_by"] == "mdn" and datetime.fromisoformat(deadline["due_at"]) == \
        T0 + timedelta(minutes=20, hours=24)
    db, scheduler = _hub_parts(home, clock)
    clock.set(T0 + timedelta(hours=2))
    scheduler.tick()
    db.dispose()
    assert "alert.request_unacknowledged" not in [e["action"] for e in _shown(home, reference)["audit"]]


def test_a_relay_that_is_the_partners_own_server_acknowledges_with_its_250(short_tmp):
    """`partner set --relay-is-own-server yes`: the configuration states the relay is police's server, so its
    250 starts the clock; `messages show` says so."""
    home, key = home_with_police(short_tmp)
    result = cli(home, "partner", "set", "police-fed", "--relay-is-own-server", "yes")
    assert result.exit_code == 0 and "at the relay's 250" in result.output, result.output
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        reference = _send(home, short_tmp)
        hub.hub.transport.notify("outbound")
        relay.wait_for(1, timeout=20)
        assert _until(lambda: _shown(home, reference)["deadline"] is not None, relay)
    shown = _shown(home, reference)
    assert shown["deadline"]["started_by"] == "relay"
    assert "by the relay, the partner's own server" in cli(home, "messages", "show", reference).output
    listed = json.loads(cli(home, "partner", "list", "--json").output)
    assert listed[0]["relay_is_own_server"] is True
    (row,) = json.loads(cli(home, "report", "deadlines", "--format", "json").output)
    assert row["started_by"] == {"relay": 1}


def test_a_relay_without_dsn_is_asked_for_none(short_tmp):
    """A relay that does not offer DSN gets no DSN parameters (RFC 3461 §4): only the partner's MDN can then
    acknowledge the request, and `messages show` says so."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    with CaptureRelay(offer_dsn=False) as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        reference = _send(home, short_tmp)
        hub.hub.transport.notify("outbound")
        (out,) = relay.wait_for(1, timeout=20)
        assert _until(lambda: _shown(home, reference)["state"] == "sent", relay)
    assert out.mail_options == () and out.rcpt_options == ()
    shown = _shown(home, reference)
    assert shown["acknowledgement"]["dsn"] == "not offered"
    sent = [e["detail"] for e in shown["audit"] if e["action"] == "request.sent"]
    assert sent and sent[0]["dsn"] == "not offered by the relay"
    assert "the relay offered no DSN" in cli(home, "messages", "show", reference).output


def test_a_dsn_read_before_the_relays_250_is_recorded_still_ends_the_wait(short_tmp):
    """The relay returned the success DSN before the hub recorded the relay's 250 (on PostgreSQL the two commit
    concurrently): the DSN's transaction read the copy while no acknowledgement was awaited, the 250's then set
    one. Once both commit the clock runs and no "not acknowledged" alert is due (it once was: a second step
    at the first scheduler tick)."""
    from hub.deadlines import clocks
    from store import Database

    home, _key = home_with_police(short_tmp)
    reference = _send(home, short_tmp)
    clock = FrozenClock(T0)
    db = Database(home.settings.database_url)
    with db.reader() as uow:
        message_id = uow.messages.by_reference(reference).id
        (mail_id,) = [m.id for m in uow.outbound.for_message(message_id) if m.purpose == "request"]
    deadlines = home.settings.deadlines
    with db.unit_of_work() as dsn:
        copy = dsn.outbound.get(mail_id)  # the DSN's transaction reads the copy (and holds it, as admission does)
        assert copy.acknowledge_by is None
        if on_postgres():  # the 250's transaction commits meanwhile (SQLite's write lock would make it wait)
            with db.unit_of_work() as relay:
                clocks.relay_accepted(relay, deadlines=deadlines, clock=clock, message=relay.messages.get(message_id),
                                      mail_id=mail_id, at=clock.now())
                relay.commit()
            with db.reader() as uow:
                assert uow.outbound.get(mail_id).acknowledge_by is not None
        assert clocks.acknowledged(dsn, deadlines=deadlines, clock=clock, message=dsn.messages.get(message_id),
                                   at=clock.now(), source="dsn")
        dsn.commit()
    with db.reader() as uow:
        assert uow.deadlines.for_message(message_id) is not None
        assert uow.outbound.get(mail_id).acknowledge_by is None
    db.dispose()
