"""A fixed store for the dashboard's snapshot and pilot tests: every row and time chosen, nothing random."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from store import (
    AuditEvent, Database, Deadline, EmbargoDecision, EmbargoItem, Heartbeat, HolderListVersion, Message, OutboundMail,
    Partner, QueueItem, SealedBlob, upgrade,
)

NOW = datetime(2026, 11, 23, 10, 0, 30, tzinfo=timezone.utc)  # 11:00:30 in Brussels
CANARY = "CANARY-BODY-7f3a"  # sealed bytes of every message: it must never reach the screen

# (reference, partner, urgency, kind, minutes ago)
MESSAGES = (
    ("PSR-2026-000001", 1, "FLASH", "request", 29),
    ("PSR-2026-000002", 2, "URGENT", "request", 20),
    ("PSR-2026-000003", 1, "ROUTINE", "request", 12),
    ("PSR-2026-000004", 2, "NON-URGENT", "spontaneous", 6),
    ("PSR-2026-000005", 1, "ROUTINE", "response", 2),
    ("PSR-2026-000006", 2, "FLASH", "request", 0),
)
# (message, due in) for the open clocks, OCAM owing the answer
DEADLINES = ((1, timedelta(hours=-3)), (2, timedelta(minutes=45)), (3, timedelta(days=9)), (6, timedelta(hours=23)))
# Beyond the six: an embargoed message from foreign-affairs (the longest partner name of the demo), and OCAM's
# request to it, its clock owed by the partner.
EMBARGOED, REQUEST = "PSR-2026-000007", "PSR-2026-000008"
# intake.accepted per minute, oldest first: the sparkline's shape
INTAKE = (0, 1, 0, 0, 2, 3, 1, 0, 0, 0, 1, 4, 6, 2, 0, 0, 1, 0, 0, 0, 2, 2, 1, 0, 0, 0, 5, 3, 1, 2)


def _events() -> list[dict]:
    events = []

    def add(at: datetime, action: str, ref: str | None = None, **detail) -> None:
        n = len(events)
        events.append(dict(at=at, actor="hub", action=action, message_ref=ref, detail=detail, seq=n))

    start = NOW.replace(second=0) - timedelta(minutes=len(INTAKE) - 1)
    for minute, count in enumerate(INTAKE):
        for k in range(count):
            at = start + timedelta(minutes=minute, seconds=5 + 10 * k)
            add(at, "intake.accepted", "PSR-2026-000001")
            add(at + timedelta(seconds=1), "receipt.signed", "PSR-2026-000001")
            if (minute + k) % 3:
                add(at + timedelta(seconds=2), "receipt.sent", "PSR-2026-000001")
    add(NOW - timedelta(minutes=9), "receipt.deferred", "PSR-2026-000003", code=451)
    add(NOW - timedelta(minutes=8), "receipt.deferred", "PSR-2026-000003", code=451)
    add(NOW - timedelta(minutes=4), "intake.quarantined", "PSR-2026-000004", error="MalformedMessage")
    add(NOW - timedelta(minutes=3), "alert.delivery_failed", "PSR-2026-000003", to="spoc@vsse.test",
        why="refused by the relay")
    add(NOW - timedelta(minutes=1), "intake.refused", None, code=550)
    return events


def build(directory: Path) -> Database:
    """A migrated SQLite store in *directory* holding the scene."""
    db = Database(f"sqlite:///{directory / 'scene.db'}")
    upgrade(db.engine)
    t0 = NOW - timedelta(days=400)
    with db.engine.begin() as c:
        c.execute(insert(Partner), [
            dict(name="police-fed", kind="police", email="spoc@police.test", fingerprint="A1" * 20,
                 key_created_at=t0, key_expires_at=None, key_revoked=False, created_at=t0, updated_at=t0),
            dict(name="vsse", kind="intelligence", email="spoc@vsse.test", fingerprint="B2" * 20,
                 key_created_at=t0, key_expires_at=NOW + timedelta(days=12), key_revoked=False, created_at=t0,
                 updated_at=t0),
            dict(name="foreign-affairs", kind="foreign-affairs", email="spoc@diplomatie.test", fingerprint="C3" * 20,
                 key_created_at=t0, key_expires_at=NOW + timedelta(days=400), key_revoked=False, created_at=t0,
                 updated_at=t0)])
        # The sealed bytes hold the canary in clear here on purpose: whatever leaks them would show it.
        c.execute(insert(SealedBlob), [dict(key_id="k", wrapped_key=b"w", nonce=b"n",
                                            ciphertext=f"Subject: {CANARY}\r\n\r\n{CANARY}".encode(), created_at=t0)])
        c.execute(insert(Message), [dict(
            reference=ref, direction="inbound", partner_id=partner, rfc_message_id=f"<{ref}@partner.test>",
            body_digest=f"{i:064x}", size=2000, encrypted=True, mail_from="spoc@x.test", kind=kind, urgency=urgency,
            urgency_source="protected", fields={}, links={}, received_at=NOW - timedelta(minutes=ago, seconds=10),
            state="processed", receipt_status="sent" if i % 2 else "queued", raw_blob_id=1)
            for i, (ref, partner, urgency, kind, ago) in enumerate(MESSAGES, start=1)])
        c.execute(insert(Message), [
            dict(reference=EMBARGOED, direction="inbound", partner_id=3, rfc_message_id=f"<{EMBARGOED}@partner.test>",
                 body_digest="7" * 64, size=3000, encrypted=True, mail_from="spoc@diplomatie.test", kind="spontaneous",
                 urgency="NON-URGENT", urgency_source="protected", embargo="foreign", fields={}, links={},
                 received_at=NOW - timedelta(minutes=15), state="processed", receipt_status="sent", raw_blob_id=None),
            dict(reference=REQUEST, direction="outbound", partner_id=3, rfc_message_id=f"<{REQUEST}@ocam.test>",
                 body_digest="8" * 64, size=1500, encrypted=True, mail_from="hub@ocam.test", kind="request",
                 urgency="URGENT", urgency_source="protected", embargo=None, fields={}, links={},
                 received_at=NOW - timedelta(hours=4), state="sent", receipt_status="none", raw_blob_id=1)])
        c.execute(insert(HolderListVersion), [dict(
            kind=kind, version=version, holders=[{"name": n, "fingerprint": f"{i:040X}"} for i, n in enumerate(names)],
            change="add", subject=added, statement="statement", signature="signature",
            signer_fingerprint="D4" * 20, signed_by="director", changed_at=NOW - timedelta(days=40 - version))
            for kind, version, added, names in (("judicial", 1, "director", ["director"]),
                                                ("foreign", 1, "director", ["director"]),
                                                ("foreign", 2, "analyst-lambert", ["analyst-lambert", "director"]))])
        c.execute(insert(EmbargoItem), [dict(
            message_id=7, kind="foreign", holder_version=2, holders=[{"name": "analyst-lambert"}, {"name": "director"}],
            ciphertext=CANARY.encode(), content_digest="9" * 64, sealed_at=NOW - timedelta(minutes=15),
            resealed_at=NOW - timedelta(minutes=5), resealed_by="director")])
        c.execute(insert(EmbargoDecision), [dict(
            message_id=7, integrate="yes", consent="no", recipients=[], statement="statement",
            statement_digest="a" * 64, director_signature="signature", director_fingerprint="D4" * 20,
            state="pending", created_at=NOW - timedelta(minutes=3), superseded=False)])
        c.execute(insert(Deadline), [dict(
            message_id=m, partner_id=MESSAGES[m - 1][1], owed_by="ocam", urgency=MESSAGES[m - 1][2],
            started_at=NOW - timedelta(minutes=MESSAGES[m - 1][4]), started_by="receipt", due_at=NOW + due,
            state="open", reminders_sent=0, next_action_at=NOW + due) for m, due in DEADLINES]
            + [dict(message_id=8, partner_id=3, owed_by="partner", urgency="URGENT", started_at=NOW - timedelta(hours=4),
                    started_by="relay", due_at=NOW + timedelta(days=2, hours=20), state="open", reminders_sent=0,
                    next_action_at=NOW + timedelta(days=1))])
        c.execute(insert(OutboundMail), [dict(
            message_id=3, purpose="receipt", rfc_message_id="<r3@ocam.test>", mail_from="", rcpt_to="spoc@vsse.test",
            priority=1, blob_id=1, state="failed", attempts=3, last_error="550 5.1.1 mailbox unavailable",
            created_at=NOW - timedelta(minutes=9))])
        c.execute(insert(QueueItem), [
            dict(queue="intake", payload={"version": 1, "message_id": 6}, priority=9, state="ready",
                 available_at=NOW, attempts=0, created_at=NOW),
            dict(queue="outbound", payload={"version": 1, "outbound_id": 1}, priority=1, state="leased",
                 available_at=NOW, lease_until=NOW + timedelta(minutes=1), attempts=1, created_at=NOW),
            dict(queue="intake", payload={"version": 1, "message_id": 4}, priority=0, state="quarantined",
                 available_at=NOW, attempts=3, last_error="MalformedMessage", created_at=NOW)])
        c.execute(insert(AuditEvent), _events())
        c.execute(insert(Heartbeat), [
            dict(component="gateway", state="ok", detail="listening 127.0.0.1:2525, 2/64 sessions",
                 beat_at=NOW - timedelta(seconds=2), every_seconds=5.0),
            dict(component="store", state="ok", detail="write round trip 3.1 ms", beat_at=NOW - timedelta(seconds=2),
                 every_seconds=5.0),
            dict(component="gpg", state="degraded", detail="hub key listed in 2400 ms",
                 beat_at=NOW - timedelta(seconds=2), every_seconds=5.0),
            dict(component="relay", state="ok", detail="accepting", beat_at=NOW - timedelta(seconds=75),
                 every_seconds=5.0)])
    return db


# A distributed deployment's beats: two gateways, two workers (worker@mx2 killed 40 s ago), two schedulers.
# (process, component, state, detail, seconds ago)
PROCESSES = ("gateway@mx1:101", "gateway@mx2:102", "worker@mx1:201", "worker@mx2:202", "scheduler@mx1:301",
             "scheduler@mx2:302")
DISTRIBUTED = (
    [("gateway@mx1:101", "gateway", "ok", "listening 0.0.0.0:2525, 3/64 sessions", 2),
     ("gateway@mx2:102", "gateway", "ok", "listening 0.0.0.0:2525, 1/64 sessions", 3)]
    + [(p, "store", "ok", "write round trip 2.8 ms", 40 if p == "worker@mx2:202" else 2) for p in PROCESSES]
    + [(p, "gpg", "degraded" if p == "gateway@mx2:102" else "ok",
        "hub key listed in 2400 ms" if p == "gateway@mx2:102" else "hub key listed in 9 ms",
        40 if p == "worker@mx2:202" else 2) for p in PROCESSES]
    + [("worker@mx1:201", "relay", "ok", "accepting", 2), ("worker@mx2:202", "relay", "ok", "accepting", 40),
       ("scheduler@mx1:301", "scheduler", "ok", "leading", 2),
       ("scheduler@mx2:302", "scheduler", "standby", "standing by, another leads", 4)])


def distributed(db: Database) -> Database:
    """The scene's heartbeats replaced by those of a distributed deployment (DISTRIBUTED)."""
    with db.engine.begin() as c:
        c.execute(Heartbeat.__table__.delete())
        c.execute(insert(Heartbeat), [dict(process=p, component=component, state=state, detail=detail,
                                           beat_at=NOW - timedelta(seconds=ago), every_seconds=5.0)
                                      for p, component, state, detail, ago in DISTRIBUTED])
    return db
