"""The canonical leaf entry of an event (hub/audit/entries.py): the documented JSON, byte for byte, from the
event as stored; the detail is stored canonically, so a detail written otherwise is an edit."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from hub.audit.entries import Entry, canonical, leaf_of_row, of_row
from hub.errors import LogError
from tests.support import stores

AT = datetime(2026, 11, 22, 10, 0, 0, 1234, tzinfo=timezone.utc)



def test_an_entry_is_the_documented_json_of_the_event_as_stored(db):
    detail = {"b": "é — ü", "a": [1, {"z": None, "y": True}], "n": 3}
    with db.unit_of_work() as uow:
        uow.audit.append(at=AT, actor="police-fed", action="intake.accepted", message_ref="PSR-2026-000001",
                         detail=detail)
        uow.audit.append(at=AT, actor='a "quoted" actor', action="hub.initialised")
        uow.commit()
    with db.reader() as uow:
        first, second = uow.log.entries(0, 2)
    assert of_row(first) == canonical({"action": "intake.accepted", "actor": "police-fed",
                                       "at": "2026-11-22T10:00:00.001234Z", "detail": detail, "index": 0,
                                       "reference": "PSR-2026-000001"})
    assert of_row(first).decode() == ('{"action":"intake.accepted","actor":"police-fed","at":"2026-11-22T10:00:00'
                                      '.001234Z","detail":{"a":[1,{"y":true,"z":null}],"b":"é — ü","n":3},"index":0,'
                                      '"reference":"PSR-2026-000001"}')
    assert leaf_of_row(second) == hashlib.sha256(b"\x00" + of_row(second)).digest()
    back = Entry.parse(of_row(second))
    assert (back.index, back.actor, back.reference, back.detail, back.at) == (1, 'a "quoted" actor', None, {}, AT)


def test_a_detail_stored_otherwise_is_no_entry_of_the_log(db):
    with db.unit_of_work() as uow:
        uow.audit.append(at=AT, actor="a", action="x", detail={"k": 1})
        uow.commit()
    with db.reader() as uow:
        before = leaf_of_row(uow.log.entries(0, 1)[0])
    with db.engine.begin() as c:  # the same meaning, other bytes: written by hand, not by the store
        statement = "UPDATE audit_event SET detail = {} WHERE seq = 0"
        c.execute(text(statement.format("CAST('{ \"k\": 1 }' AS JSON)" if stores.on_postgres() else "'{ \"k\": 1 }'")))
    with db.reader() as uow:
        row = uow.log.entries(0, 1)[0]
    assert leaf_of_row(row) != before
    with pytest.raises(LogError):
        Entry.parse(of_row(row))
    assert json.loads(row.detail) == {"k": 1}
