"""Store: migrations walk, UTC times, queue order, the audit log's leaf indexes, counters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import column, insert, inspect, table, text

from store import Database, current_revision, downgrade, ensure_head, head_revision, upgrade
from store.base import UTCDateTime
from store.errors import SchemaOutOfDate
from tests.support import stores

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)



def test_migrations_walk_down_and_up(tmp_path):
    """Every revision goes down to nothing and back up to head."""
    database = Database(stores.fresh_url(tmp_path, "walk.db", migrated=False))
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()
    assert "message" in inspect(database.engine).get_table_names()
    downgrade(database.engine, "base")
    assert current_revision(database.engine) is None
    assert "message" not in inspect(database.engine).get_table_names()
    upgrade(database.engine)
    ensure_head(database.engine)
    database.dispose()


def test_out_of_date_schema_is_refused(tmp_path):
    """A database not at head is refused with a clear instruction."""
    database = Database(stores.fresh_url(tmp_path, "empty.db", migrated=False))
    with pytest.raises(SchemaOutOfDate, match="passerelle store upgrade"):
        ensure_head(database.engine)
    database.dispose()


@stores.only_sqlite
def test_sqlite_runs_in_wal_with_full_sync(db):
    """Durability before 250: WAL journal and synchronous=FULL."""
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_times_come_back_utc_aware(db):
    """A time stored from Brussels comes back as the same instant in UTC."""
    from zoneinfo import ZoneInfo

    local = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))
    with db.unit_of_work() as uow:
        uow.audit.append(at=local, actor="t", action="x")
        uow.commit()
    with db.unit_of_work() as uow:
        event = uow.audit.recent()[0]
    assert event.at.tzinfo is not None
    assert event.at == local
    assert event.at.utcoffset() == timedelta(0)


def test_naive_time_is_refused(db):
    """Naive datetimes never reach the database."""
    with db.unit_of_work() as uow:
        with pytest.raises(Exception, match="naive"):
            uow.audit.append(at=datetime(2026, 1, 1), actor="t", action="x")


def test_queue_claims_most_urgent_first_then_oldest(db):
    """Priority beats age; equal priority goes in order; future items wait."""
    with db.unit_of_work() as uow:
        uow.queue.put("q", {"n": 1}, priority=3, now=T0)
        uow.queue.put("q", {"n": 2}, priority=9, now=T0 + timedelta(seconds=1))
        uow.queue.put("q", {"n": 3}, priority=3, now=T0 + timedelta(seconds=2))
        uow.queue.put("q", {"n": 4}, priority=9, now=T0, available_at=T0 + timedelta(hours=1))
        uow.commit()
    order = []
    for _ in range(4):
        with db.unit_of_work() as uow:
            claimed = uow.queue.claim("q", now=T0 + timedelta(minutes=1), lease=timedelta(minutes=5))
            if not claimed:
                break
            item = claimed[0]
            order.append(item["payload"]["n"])
            uow.queue.ack(item["id"])
            uow.commit()
    assert order == [2, 1, 3]


def test_expired_lease_returns_the_item(db):
    """An item whose worker died is claimed again after its lease."""
    with db.unit_of_work() as uow:
        uow.queue.put("q", {"n": 1}, priority=1, now=T0)
        uow.commit()
    with db.unit_of_work() as uow:
        assert len(uow.queue.claim("q", now=T0, lease=timedelta(seconds=30))) == 1
        uow.commit()
    with db.unit_of_work() as uow:
        assert uow.queue.claim("q", now=T0, lease=timedelta(seconds=30)) == []
        assert uow.queue.release_expired(now=T0 + timedelta(minutes=1)) == 1
        (item,) = uow.queue.claim("q", now=T0 + timedelta(minutes=1), lease=timedelta(seconds=30))
        assert item["attempts"] == 2


def test_a_batch_claim_takes_the_most_urgent_items(db):
    """Claiming several at once keeps the priority order and leases each once."""
    with db.unit_of_work() as uow:
        for n, priority in enumerate([1, 9, 3, 9, 1]):
            uow.queue.put("q", {"n": n}, priority=priority, now=T0 + timedelta(seconds=n))
        uow.commit()
    with db.unit_of_work() as uow:
        batch = uow.queue.claim("q", now=T0 + timedelta(minutes=1), lease=timedelta(minutes=5), limit=3)
        uow.commit()
    assert [i["payload"]["n"] for i in batch] == [1, 3, 2]
    with db.unit_of_work() as uow:
        rest = uow.queue.claim("q", now=T0 + timedelta(minutes=1), lease=timedelta(minutes=5), limit=10)
    assert [i["payload"]["n"] for i in rest] == [0, 4]


def test_a_batch_of_one_priority_and_a_claim_of_the_most_urgent_only(db):
    """A batch of one priority holds no less urgent item; a claim *at_least* a priority (the worker kept for FLASH)
    takes none below it, and leaves the others ready."""
    with db.unit_of_work() as uow:
        for n, priority in enumerate([3, 9, 3, 9, 6]):
            uow.queue.put("q", {"n": n}, priority=priority, now=T0 + timedelta(seconds=n))
        uow.commit()
    now, lease = T0 + timedelta(minutes=1), timedelta(minutes=5)
    with db.unit_of_work() as uow:
        flash = uow.queue.claim("q", now=now, lease=lease, limit=8, one_priority=True)
        uow.commit()
    assert [i["payload"]["n"] for i in flash] == [1, 3]
    with db.unit_of_work() as uow:
        assert not uow.queue.any_ready("q", now=now, at_least=9)
        assert uow.queue.claim("q", now=now, lease=lease, limit=8, at_least=9) == []
        assert uow.queue.any_ready("q", now=now, at_least=6)
        urgent = uow.queue.claim("q", now=now, lease=lease, limit=8, one_priority=True)
        uow.commit()
    assert [i["payload"]["n"] for i in urgent] == [4]
    with db.unit_of_work() as uow:
        assert [i["payload"]["n"] for i in uow.queue.claim("q", now=now, lease=lease, limit=8)] == [0, 2]


def test_audit_events_take_the_next_leaf_index_across_transactions(db):
    """Each event gets the next leaf index, 0, 1, 2, ...; a transaction rolled back leaves no gap."""
    with db.unit_of_work() as uow:
        for i in range(3):
            uow.audit.append(at=T0, actor="a", action="step", detail={"i": i})
        uow.commit()
    with db.unit_of_work() as uow:
        uow.audit.append(at=T0, actor="a", action="rolled-back")
        uow.flush()  # written, index 3 taken, then rolled back
    with db.unit_of_work() as uow:
        uow.audit.append(at=T0, actor="a", action="step")
        uow.commit()
    with db.reader() as uow:
        assert uow.log.size() == 4
        assert [(e.seq, e.action) for e in uow.log.entries(0, 10)] == [(0, "step"), (1, "step"), (2, "step"), (3, "step")]


def test_the_chain_becomes_leaf_indexes_and_comes_back_on_the_way_down(tmp_path):
    """0009 numbers the chained events 0.. in their order and drops the chain; down again, the chain is
    computed anew over the same events, as the chain's code computed it."""
    import hashlib
    import json

    database = Database(stores.fresh_url(tmp_path, "chain.db", migrated=False))
    upgrade(database.engine, "0008")
    events = table("audit_event", column("id"), column("at", UTCDateTime()), column("actor"), column("action"),
                   column("message_ref"), column("detail"), column("prev_digest"), column("digest"))

    def digest(prev, at, actor, action, ref, detail):
        return hashlib.sha256(json.dumps([prev, at.isoformat(), actor, action, ref, detail], sort_keys=True,
                                         separators=(",", ":"), default=str).encode()).hexdigest()
    rows, prev = [], "0" * 64
    for i in range(7):
        at = T0 + timedelta(seconds=i)
        d = digest(prev, at, f"a{i}", "step", None, {"i": i, "s": "é"})
        rows.append(dict(id=10 + i * 3, at=at, actor=f"a{i}", action="step", message_ref=None,
                         detail=json.dumps({"i": i, "s": "é"}), prev_digest=prev, digest=d))
        prev = d
    with database.engine.begin() as c:
        c.execute(insert(events), rows)
    upgrade(database.engine)
    with database.reader() as uow:
        assert [(e.seq, e.actor, e.detail) for e in uow.log.entries(0, 100)] == [
            (i, f"a{i}", f'{{"i":{i},"s":"é"}}') for i in range(7)]  # the detail written again canonically
    downgrade(database.engine, "0008")
    with database.engine.connect() as c:
        back = c.execute(text("SELECT prev_digest, digest FROM audit_event ORDER BY id")).all()
    assert [tuple(r) for r in back] == [(r["prev_digest"], r["digest"]) for r in rows]
    upgrade(database.engine)
    ensure_head(database.engine)
    database.dispose()


def test_counters_are_monotonic(db):
    """References never repeat."""
    values = []
    for _ in range(3):
        with db.unit_of_work() as uow:
            values.append(uow.counters.next("PSR-2026"))
            uow.commit()
    assert values == [1, 2, 3]


def test_audit_events_of_a_transaction_are_written_in_order_at_commit(db):
    """250 events appended in one transaction: all there after commit, ids in leaf order, indexes 0..250;
    none of them when the transaction is not committed."""
    with db.unit_of_work() as uow:
        for i in range(250):
            uow.audit.append(at=T0, actor=f"a{i}", action="test.many", message_ref="PSR-X", detail={"i": i, "s": "é"})
    with db.unit_of_work() as uow:
        assert uow.audit.for_message("PSR-X") == []
        for i in range(250):
            uow.audit.append(at=T0, actor=f"a{i}", action="test.many", message_ref="PSR-X", detail={"i": i, "s": "é"})
        assert len(uow.audit.for_message("PSR-X")) == 250  # a read in the same transaction sees them
        uow.audit.append(at=T0, actor="last", action="test.many", message_ref="PSR-X")
        uow.commit()
    with db.reader() as uow:
        events = uow.audit.for_message("PSR-X")
        assert [e.actor for e in events] == [f"a{i}" for i in range(250)] + ["last"]
        assert [e.id for e in events] == sorted(e.id for e in events)
        assert events[7].detail == {"i": 7, "s": "é"} and events[7].at == T0
        assert [e.seq for e in events] == list(range(251))


def test_queue_puts_and_acks_of_a_transaction_are_written_at_commit_in_order(db):
    """Items put in one transaction are claimed in put order (same priority), an ack removes its item,
    nothing is written without commit, and a read in the transaction sees its own puts."""
    from datetime import timedelta

    with db.unit_of_work() as uow:
        for i in range(5):
            uow.queue.put("q", {"version": 1, "n": i}, priority=1, now=T0)
    with db.unit_of_work() as uow:
        assert uow.queue.next_available_at("q") is None  # the uncommitted puts are gone
        for i in range(150):
            uow.queue.put("q", {"version": 1, "n": i}, priority=1, now=T0)
        assert uow.queue.next_available_at("q") == T0
        uow.commit()
    with db.unit_of_work() as uow:
        first = uow.queue.claim("q", now=T0, lease=timedelta(minutes=5), limit=3)
        uow.commit()
    assert [item["payload"]["n"] for item in first] == [0, 1, 2]
    with db.unit_of_work() as uow:
        for item in first:
            uow.queue.ack(item["id"])
        uow.queue.put("q", {"version": 1, "n": "urgent"}, priority=9, now=T0)
        uow.commit()
    with db.unit_of_work() as uow:
        nxt = uow.queue.claim("q", now=T0, lease=timedelta(minutes=5), limit=2)
        assert [item["payload"]["n"] for item in nxt] == ["urgent", 3]
        assert sum(uow.queue.depths().values()) == 148


def _message(uow, n: int, *, rfc: str, digest: str) -> int:
    return uow.messages.insert(
        reference=f"PSR-2026-{n:06d}", direction="inbound", partner_id=None, rfc_message_id=rfc,
        signature_digest=digest, body_digest="0" * 64, size=1, encrypted=False, signer_fingerprint=None,
        mail_from="", kind="request", urgency="URGENT", urgency_source="protected", embargo=None,
        classification=None, fields={}, links={}, received_at=T0, due_at=None, state="accepted",
        receipt_status="pending", raw_blob_id=None)


def test_replay_check_names_the_message_id_first_then_the_signature(db):
    """One lookup answers both replay questions; a Message-ID match wins over a signature match."""
    with db.unit_of_work() as uow:
        _message(uow, 1, rfc="<a@p.test>", digest="d1")
        _message(uow, 2, rfc="<b@p.test>", digest="d2")
        uow.commit()
    with db.reader() as uow:
        assert uow.messages.replayed("<a@p.test>", "new") == "message-id"
        assert uow.messages.replayed("<new@p.test>", "d2") == "signature"
        assert uow.messages.replayed("<a@p.test>", "d2") == "message-id"
        assert uow.messages.replayed("<new@p.test>", "new") is None


def test_clocks_started_in_a_transaction_are_written_at_commit_and_seen_before(db):
    """Three clocks started in one transaction: a lookup in it sees them, a rollback drops them, a commit keeps them."""
    from store import Partner

    with db.unit_of_work() as uow:
        partner = uow.partners.add(Partner(name="p", kind="police", email="p@p.test", fingerprint="F" * 40,
                                           key_created_at=T0, key_expires_at=None, key_revoked=False,
                                           clearance="SECRET", created_at=T0, updated_at=T0))
        uow.flush()
        partner_id = partner.id
        uow.commit()
    row = dict(partner_id=partner_id, owed_by="ocam", urgency="URGENT", started_at=T0, started_by="receipt",
               due_at=T0 + timedelta(days=3), state="open", reminders_sent=0, next_action_at=T0 + timedelta(days=1))
    for commit in (False, True):
        with db.unit_of_work() as uow:
            ids = [_message(uow, 10 + i + 10 * commit, rfc=f"<{i}-{commit}@p.test>", digest=f"{i}-{commit}")
                   for i in range(3)]
            for message_id in ids:
                uow.deadlines.add(message_id=message_id, **row)
            assert uow.deadlines.for_message(ids[1]).due_at == T0 + timedelta(days=3)
            if commit:
                uow.commit()
    with db.reader() as uow:
        assert [uow.deadlines.for_message(i) is not None for i in ids] == [True, True, True]
        assert uow.deadlines.next_action_at() == T0 + timedelta(days=1)


def test_heartbeats_keep_their_rows_across_the_per_process_key(tmp_path):
    """0008 keys heartbeats by (component, process): the embedded hub's rows survive the upgrade under the
    process name `all`; down again, each component keeps its latest row."""
    database = Database(stores.fresh_url(tmp_path, "beats.db", migrated=False))
    upgrade(database.engine, "0007")
    t0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    heartbeat_0007 = table("heartbeat", column("component"), column("state"), column("detail"),
                           column("beat_at", UTCDateTime()), column("every_seconds"))
    with database.engine.begin() as c:
        c.execute(insert(heartbeat_0007), [dict(component=component, state="ok", detail=f"{component} before",
                                                beat_at=t0, every_seconds=5.0)
                                           for component in ("gateway", "store", "gpg", "relay")])
    upgrade(database.engine)
    with database.reader() as uow:
        rows = {(b.component, b.process): (b.detail, b.beat_at) for b in uow.heartbeats.all()}
    assert rows == {(c, "all"): (f"{c} before", t0) for c in ("gateway", "store", "gpg", "relay")}
    with database.unit_of_work() as uow:  # a second process beats for the store, later
        uow.heartbeats.beat("store", process="worker@h:2", state="ok", detail="store after",
                            at=t0 + timedelta(seconds=5), every_seconds=5.0)
        uow.heartbeats.beat("gpg", process="worker@h:2", state="ok", detail="gpg older",
                            at=t0 - timedelta(seconds=5), every_seconds=5.0)
        uow.commit()
    downgrade(database.engine, "0007")
    with database.engine.connect() as c:
        left = dict(c.execute(text("SELECT component, detail FROM heartbeat")).all())
    assert left == {"gateway": "gateway before", "store": "store after", "gpg": "gpg before",
                    "relay": "relay before"}
    upgrade(database.engine)
    ensure_head(database.engine)
    database.dispose()
