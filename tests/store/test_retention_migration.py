"""Revision 0010 (retention): existing messages get their dates from their intake, blobs sealed before it stay
wrapped by the storage key (and erase like the others), down and up again; down is refused once a blob was
sealed under a period key, which nothing below 0010 could open."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import column, insert, inspect, table

from crypto import SealError, StorageKey
from hub import vault
from hub.clock import FrozenClock
from hub.retention import shred
from store import Database, current_revision, downgrade, ensure_head, upgrade
from store.base import UTCDateTime
from tests.support import stores

INTAKE = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def _message_0008(database: Database, key: StorageKey) -> bytes:
    """A message and its raw bytes as a hub at revision 0008 stored them; returns the bytes."""
    raw = b"From: police@partner.test\r\n\r\nRenseignement d'avant 0010\r\n"
    sealed = key.seal(raw, aad=b"message:PSR-2026-000001")
    blob = table("sealed_blob", column("id"), column("key_id"), column("wrapped_key"), column("nonce"),
                 column("ciphertext"), column("created_at", UTCDateTime()))
    message = table("message", *(column(c) for c in (
        "id", "reference", "direction", "rfc_message_id", "body_digest", "size", "encrypted", "mail_from", "kind",
        "urgency", "urgency_source", "fields", "links", "state", "receipt_status", "raw_blob_id")),
        column("received_at", UTCDateTime()))
    with database.engine.begin() as c:
        c.execute(insert(blob), dict(id=1, key_id=sealed.key_id, wrapped_key=sealed.wrapped_key, nonce=sealed.nonce,
                                     ciphertext=sealed.ciphertext, created_at=INTAKE))
        c.execute(insert(message), dict(
            id=1, reference="PSR-2026-000001", direction="inbound", rfc_message_id="<old@partner.test>",
            body_digest="0" * 64, size=len(raw), encrypted=False, mail_from="police@partner.test", kind="spontaneous",
            urgency="ROUTINE", urgency_source="default", fields="{}", links="{}", state="processed",
            receipt_status="sent", raw_blob_id=1, received_at=INTAKE))
    return raw


def test_existing_items_are_dated_from_their_intake_and_erase_like_the_others(tmp_path):
    database = Database(stores.fresh_url(tmp_path, "retention.db", migrated=False))
    key = StorageKey.generate()
    upgrade(database.engine, "0008")
    raw = _message_0008(database, key)
    upgrade(database.engine)
    with database.reader() as uow:
        item, message = uow.retention.item_of("PSR-2026-000001")
        assert (item.intake_at, item.review_at, item.end_at, item.state) == (
            INTAKE, INTAKE.replace(year=2056), INTAKE.replace(year=2076), "held")
        blob = uow.blobs.get(message.raw_blob_id)
        assert blob.period_id is None  # wrapped by the storage key directly, as before
        assert vault.unseal(key, blob, context="message:PSR-2026-000001") == raw

    with database.unit_of_work() as uow:  # an erasure destroys its wrapped key like any other's
        item, message = uow.retention.item_of("PSR-2026-000001")
        shredded = shred.erase(uow, FrozenClock(INTAKE.replace(year=2057)), item, message, by="director",
                               basis="AR Art. 5 §4")
        uow.commit()
    assert shredded.blobs == 1 and shredded.periods == frozenset()
    with database.reader() as uow:
        with pytest.raises(SealError):
            vault.unseal(key, uow.blobs.get(1), context="message:PSR-2026-000001")

    downgrade(database.engine, "0008")  # no blob under a period key yet: down is allowed
    assert "retention_item" not in inspect(database.engine).get_table_names()
    upgrade(database.engine)
    ensure_head(database.engine)
    database.dispose()


def test_down_is_refused_once_a_blob_is_sealed_under_a_period_key(tmp_path):
    database = Database(stores.fresh_url(tmp_path, "sealed.db", migrated=False))
    upgrade(database.engine)
    key = StorageKey.generate()
    with database.unit_of_work() as uow:
        blob_id = vault.seal(uow, key, b"after 0010", now=INTAKE, context="test")
        uow.commit()
    with pytest.raises(RuntimeError, match="downgrade refused"):
        downgrade(database.engine, "0008")
    assert current_revision(database.engine) == "0010"  # the steps above it went down; 0010 refused its own
    with database.reader() as uow:
        assert vault.unseal(key, uow.blobs.get(blob_id), context="test") == b"after 0010"
    database.dispose()
