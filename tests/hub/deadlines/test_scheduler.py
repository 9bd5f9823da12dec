"""Reminders and escalation by time travel: fractions of the window, due time, overdue, daily; restarts."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from crypto import StorageKey
from gateway.capture import CaptureRelay
from hub.cli.main import main
from hub.clock import FrozenClock
from hub.deadlines.schedule import catch_up, steps
from hub.deadlines.scheduler import Scheduler
from hub.retention.dates import end as retention_end
from hub.transport.embedded import EmbeddedTransport
from tests.hub.rig import home_with_police, reference_in, signed
from tests.support.hubrig import RunningHub

# The hub's frozen clock runs a day ahead of the real time, on a whole hour: rows that the CLI and the
# relay write with the real clock must never lie in the hub's future, however long the suite runs
# (a fixed date went stale; an hour ahead was overtaken by a long run).
T0 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
DAY = timedelta(days=1)


def test_steps_of_a_clock():
    """50% and 90% of the window, the due time, escalation one second later, then daily."""
    due = T0 + timedelta(days=10)
    at = [steps(T0, due, [0.5, 0.9], DAY, n) for n in range(6)]
    assert [(s.kind, s.at - T0) for s in at] == [
        ("reminder", timedelta(days=5)), ("reminder", timedelta(days=9)), ("due", timedelta(days=10)),
        ("escalation", timedelta(days=10, seconds=1)), ("overdue-reminder", timedelta(days=11, seconds=1)),
        ("overdue-reminder", timedelta(days=12, seconds=1)),
    ]


def test_catch_up_after_downtime_sends_the_latest_and_never_drops_an_escalation():
    due = T0 + timedelta(days=10)
    perform, skipped, n = catch_up(T0, due, [0.5, 0.9], DAY, 0, T0 + timedelta(days=9, hours=1))
    assert [s.kind for s in perform] == ["reminder"] and perform[0].index == 1 and skipped.count == 1 and n == 2
    perform, skipped, n = catch_up(T0, due, [0.5, 0.9], DAY, 2, T0 + timedelta(days=12, hours=1))
    assert [s.kind for s in perform] == ["escalation", "overdue-reminder"] and n == 6
    assert (skipped.count, skipped.first.kind, skipped.last.index) == (2, "due", 4)
    assert catch_up(T0, due, [0.5, 0.9], DAY, 6, T0 + timedelta(days=12, hours=1)) == ([], None, 6)


def test_catch_up_counts_years_of_missed_steps_without_walking_them():
    """A due time seven years ago: the steps passed are counted, not walked; one escalation, one reminder."""
    due = T0 + timedelta(days=10)
    now = T0 + timedelta(days=10 + 7 * 365, hours=3)
    perform, skipped, n = catch_up(T0, due, [0.5, 0.9], DAY, 0, now)
    assert [s.kind for s in perform] == ["escalation", "overdue-reminder"]
    assert n == 4 + 7 * 365 and skipped.count == n - 2  # four fixed steps, then one a day
    assert perform[-1].at <= now < perform[-1].at + DAY


def _hub_parts(home, clock):
    from store import Database
    from crypto import Gpg

    db = Database(home.settings.database_url)
    return db, Scheduler(settings=home.settings, db=db, gpg=Gpg(home.settings.gnupg_home),
                         storage_key=StorageKey.load(home.settings.storage_key_path), clock=clock,
                         transport=EmbeddedTransport(db, clock))


def _actions(home, reference):
    result = CliRunner().invoke(main, ["messages", "show", reference, "--json", "--home", str(home.settings.home)])
    return [e["action"] for e in json.loads(result.output)["audit"]]


def _send_delivered(home, short_tmp, hub, relay, urgency):
    """Send an OCAM request to police through a running hub; return once its clock started: the relay plays
    the partner's server, whose success DSN (RFC 3464) comes back to the hub over SMTP."""
    relay.return_dsns(lambda raw: hub.send(raw, mail_from=""))
    body = short_tmp / f"{uuid.uuid4().hex}.txt"
    body.write_text("Question")
    result = CliRunner().invoke(main, ["send", "request", "--to", "police-fed", "--urgency", urgency,
                                       "--subject", "Q", "--body", str(body), "--home", str(home.settings.home)])
    reference = reference_in(result.output)
    hub.hub.transport.notify("outbound")
    relay.wait_for(1, timeout=20)
    for _ in range(100):
        if "deadline.started" in _actions(home, reference):
            break
        relay.wait_for(2, timeout=0.05)
    return reference


def _request(home, short_tmp, clock, urgency="FLASH"):
    """An OCAM request to police, delivered (a success DSN) at T0: the partner's clock runs."""
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        return _send_delivered(home, short_tmp, hub, relay, urgency)


def test_partner_reminders_escalation_and_restart(short_tmp):
    """A FLASH request owed by police: reminders at 12 h and 21.6 h and at 24 h, an overdue alert at +1 s,
    a daily reminder after — each once, across a 'restart' (a new scheduler) and repeated ticks."""
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    reference = _request(home, short_tmp, clock)
    db, scheduler = _hub_parts(home, clock)
    assert scheduler.next_wake() == T0 + timedelta(hours=12)
    assert scheduler.tick() == 0
    clock.set(T0 + timedelta(hours=12))
    assert scheduler.tick() == 1 and scheduler.tick() == 0
    clock.set(T0 + timedelta(hours=23))  # 90% passed at 21h36
    db.dispose()
    db, scheduler = _hub_parts(home, clock)  # a restart: nothing sent twice
    assert scheduler.tick() == 1
    clock.set(T0 + DAY)
    scheduler.tick()
    clock.set(T0 + DAY + timedelta(seconds=1))
    scheduler.tick()
    clock.set(T0 + 2 * DAY + timedelta(seconds=1))
    scheduler.tick()
    scheduler.tick()
    actions = _actions(home, reference)
    assert actions.count("reminder.queued") == 4  # 50%, 90%, due, one daily
    assert actions.count("alert.overdue") == 1
    with db.reader() as uow:
        message = uow.messages.by_reference(reference)
        purposes = sorted(o.purpose for o in uow.outbound.for_message(message.id))
    db.dispose()
    assert purposes == ["reminder-0", "reminder-1", "reminder-2", "reminder-4", "request"]


def test_answered_clock_gets_no_more_reminders(short_tmp):
    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    reference = _request(home, short_tmp, clock)
    clock.set(T0 + timedelta(hours=2))
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        code, _ = hub.send(signed(key, keyword_lines={"Message-Kind": "response", "Request-Ref": reference}))
        assert code == 250
        relay.wait_for(1, timeout=20)
    db, scheduler = _hub_parts(home, clock)
    clock.set(T0 + 3 * DAY)
    # No clock action left: the next wake is the messages' retention end, 50 years on (law Art. 10/2).
    assert scheduler.tick() == 0 and scheduler.next_wake() > retention_end(T0 - DAY)
    db.dispose()
    assert "reminder.queued" not in _actions(home, reference)


def test_ocam_owed_request_reminds_the_duty_desk_and_escalates(short_tmp):
    """A request to OCAM left unanswered: the duty desk gets signed, encrypted reminders (and the duty officer
    an alert each time), then the overdue alert."""
    from hub.vault import unseal
    from tests.support.keys import gpg as run_gpg
    from tests.support.keys import make_key

    home, key = home_with_police(short_tmp)
    desk = make_key(short_tmp, "duty@ocam.test", name="Duty desk")
    (short_tmp / "desk.asc").write_bytes(desk.public)
    added = CliRunner().invoke(main, ["recipient", "add", "duty-desk", "--type", "ocam-duty", "--email", desk.email,
                                      "--key", str(short_tmp / "desk.asc"), "--clearance", "SECRET",
                                      "--home", str(home.settings.home)])
    assert added.exit_code == 0, added.output
    clock = FrozenClock(T0)
    with CaptureRelay() as relay, RunningHub(home.settings, relay=relay.address, clock=clock) as hub:
        code, text = hub.send(signed(key, keyword_lines={"Message-Kind": "request", "Urgency": "URGENT"}))
        reference = reference_in(text)
        relay.wait_for(1, timeout=20)
    db, scheduler = _hub_parts(home, clock)
    clock.set(T0 + timedelta(days=2))  # past 50% of 3 days
    scheduler.tick()
    clock.set(T0 + timedelta(days=3, seconds=1))
    scheduler.tick()
    with db.reader() as uow:
        message = uow.messages.by_reference(reference)
        reminders = [o for o in uow.outbound.for_message(message.id) if o.purpose.startswith("reminder")]
        data = unseal(StorageKey.load(home.settings.storage_key_path), reminders[0].blob,
                      context=f"outbound:{reminders[0].rfc_message_id}")
    db.dispose()
    assert [r.rcpt_to for r in reminders] == [desk.email]
    assert f"Request-Ref: {reference}".encode() in run_gpg(desk.home, "--decrypt", "--skip-verify", data=data)
    actions = _actions(home, reference)
    assert "alert.overdue" in actions and "alert.ocam_reminder" in actions and "reminder.queued" in actions


def test_next_wake_is_an_index_lookup_with_many_open_clocks(short_tmp):
    """10,000 open clocks: the next-due query uses the (state, next_action_at) index, not a scan."""
    from sqlalchemy import insert

    from store import Database, Deadline, Message

    home, key = home_with_police(short_tmp)
    db = Database(home.settings.database_url)
    with db.engine.begin() as c:
        c.execute(insert(Message), [dict(
            reference=f"PSR-2026-{n:06d}", direction="inbound", partner_id=1, rfc_message_id=f"<{n}@x>",
            body_digest="", size=0, encrypted=False, mail_from="", kind="request", urgency="FLASH",
            urgency_source="default", fields={}, links={}, received_at=T0, state="processed",
            receipt_status="sent") for n in range(1, 10_001)])
        c.execute(insert(Deadline), [dict(
            message_id=n, partner_id=1, owed_by="ocam", urgency="FLASH", started_at=T0, started_by="receipt",
            due_at=T0 + DAY, state="open", reminders_sent=0, next_action_at=T0 + timedelta(seconds=n))
            for n in range(1, 10_001)])
    query = ("SELECT next_action_at FROM deadline WHERE state = 'open' AND next_action_at IS NOT NULL"
             " ORDER BY next_action_at LIMIT 1")
    with db.engine.connect() as c:
        if db.dialect == "postgresql":  # the planner's statistics first, as autovacuum would gather them
            c.exec_driver_sql("ANALYZE deadline")
            plan = c.exec_driver_sql(f"EXPLAIN {query}").fetchall()
        else:
            plan = c.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").fetchall()
    _db, scheduler = _hub_parts(home, FrozenClock(T0))
    assert scheduler.next_wake() == T0 + timedelta(seconds=1)
    _db.dispose()
    db.dispose()
    assert any("ix_deadline_next_action" in str(row) for row in plan), plan
    assert not any("SCAN" in str(row) and "USING" not in str(row) for row in plan), plan  # SQLite
    assert not any("Seq Scan" in str(row) for row in plan), plan  # PostgreSQL


def test_serve_runs_the_scheduler_reminder_reaches_the_partner_encrypted(short_tmp):
    """Over real SMTP: the running hub sends the 50% reminder, encrypted to the partner and signed by the hub,
    then escalates when the request is overdue."""
    from tests.support.keys import gpg as run_gpg

    home, key = home_with_police(short_tmp)
    clock = FrozenClock(T0)
    with CaptureRelay() as relay:
        hub = RunningHub(home.settings, relay=relay.address, clock=clock)
        hub.hub.scheduler_sleep = 0.1
        with hub:
            reference = _send_delivered(home, short_tmp, hub, relay, "URGENT")
            clock.set(T0 + timedelta(days=1, hours=13))  # past 50% of 3 days
            reminders = relay.wait_for(2, timeout=20)
            assert len(reminders) == 2
            clock.set(T0 + timedelta(days=3, seconds=2))
            for _ in range(100):
                if "alert.overdue" in _actions(home, reference):
                    break
                relay.wait_for(10, timeout=0.05)
    reminder = reminders[1]
    assert reminder.rcpt_tos == (key.email,) and b"Request-Ref" not in reminder.data
    run_gpg(key.home, "--import", data=home.gpg.export_public(home.fingerprint))
    plain = run_gpg(key.home, "--status-fd", "1", "--decrypt", data=reminder.data)
    assert f"Request-Ref: {reference}".encode() in plain and b"GOODSIG" in plain
    assert "alert.overdue" in _actions(home, reference)
